import CMPI
import Comm
import Dispatch
import Foundation

/// The Open MPI backend of `Communicator` (a thin wrapper over MPI calls on the
/// flat buffers, with no extra copies), for `mpirun -np P localsgd train --backend mpi`.
///
/// Each of the P ranks holds `workersPerRank` W consecutive workers, rank r the workers
/// r·W ..< (r+1)·W, so K = P·W. Collectives with `reduction` `.fast` (see
/// `MPICommunicator+Communicator.swift`; `.ordered` is described below):
/// - W = 1: `MPI_Allreduce(MPI_IN_PLACE, …)` straight on the caller's buffer; the mean then
///   divides by `Float(G)` in place.
/// - W > 1: the local buffers are summed into the first in worker order, that buffer is
///   all-reduced across ranks, divided, and copied back into the others.
/// - A mean over a power-of-two G across ranks multiplies each rank's part by 1/G *before* the
///   all-reduce instead of dividing after: the same numbers (scaling by 2⁻ᵏ commutes with every
///   rounding, barring results below Float's normal range, ~1e-38), but the pass runs on data
///   still in this core's cache (1 MB on 2 ranks: +19 % over a bare `MPI_Allreduce` instead of
///   +53 % for dividing the result, measured in C next to each other).
/// - Groups of G consecutive workers (hierarchical local SGD): G ≤ W with W % G = 0 reduces
///   inside the process only, bitwise as `InProcessCommunicator` does; G a multiple of W uses a
///   communicator from `MPI_Comm_split` (color r·W / G), made on first use and cached per G.
///   Any other G is a thrown `CommError`.
///
/// Agreement with `InProcessCommunicator` (`reduction`): groups inside one process are bitwise
/// equal either way. Across ranks, `.fast` (the default) lets MPI add in its own order (e.g.
/// (w₀+w₁)+(w₂+w₃)), so results differ from the in-process left-to-right sum by rounding only,
/// at most about (K−1)·ε·Σ|wₖ[i]| per element (bitwise for two ranks of one worker: a + b = b + a).
/// `.ordered` replaces `MPI_Allreduce` by `OrderedReduction`, a chain over the ranks that adds in
/// worker order, and is bitwise equal for every layout; its non-blocking mean runs that chain
/// on the progress queue over a communicator of its own.
///
/// Non-blocking: `startAllReduceMean` uses `MPI_Iallreduce` (`.fast`); with `MPI_THREAD_MULTIPLE` granted
/// (`progress == .helperThread`) a background queue polls it to completion, otherwise the caller
/// must call `test()` every few tens of milliseconds or `wait()` (`progress == .callerPolls`).
///
/// Rank failure (measured with Open MPI 4.1.4, 2–4 ranks on one host): when a rank exits
/// non-zero, exits without `MPI_Finalize`, or is killed by a signal, mpirun aborts the whole
/// job within about 1.5 s and exits non-zero, so no watchdog is needed for that. A rank that
/// stays alive but stops calling collectives makes the others wait forever; pass
/// `collectiveTimeout` to abort the job instead (`CollectiveWatchdog`).
///
/// Threads: MPI requires every rank to make the same collective calls in the same order, so call
/// the collectives from one thread at a time; `counters` may be read from any thread.
public final class MPICommunicator: Communicator, @unchecked Sendable {
    /// Who drives a non-blocking all-reduce to completion.
    public enum Progress: Sendable {
        /// A background queue polls `MPI_Test` (needs `MPI_THREAD_MULTIPLE`).
        case helperThread
        /// The caller's `test()` / `wait()` calls are the only progress.
        case callerPolls
    }

    public let workers: Int
    public let workersPerRank: Int
    public let localWorkers: Range<Int>
    public let processRank: Int
    public let processCount: Int
    /// The thread support MPI granted (`MPI_THREAD_SINGLE` 0 … `MPI_THREAD_MULTIPLE` 3).
    public let threadSupport: Int32
    public let progress: Progress
    /// The order of additions across ranks (see above).
    public let reduction: ReductionMode
    /// Workers per shared-memory node (ranks of `MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)` × W)
    /// when every node holds the same number of consecutive, aligned ranks, so that it is a valid
    /// `groupSize` (the default grouping of hierarchical local SGD); W otherwise.
    public let nodeLocalGroupSize: Int

    /// A duplicate of `MPI_COMM_WORLD` with `MPI_ERRORS_RETURN`, so our traffic never matches
    /// anyone else's.
    let world: MPI_Comm
    let watchdog: CollectiveWatchdog?
    /// `.ordered`: the blocking collectives' reduction, on the calling thread.
    let ordered: OrderedReduction?
    /// `.ordered` with a progress thread: a duplicate of `world` and a reduction of their own for
    /// non-blocking means, so the chain's messages never meet those of a blocking call.
    let orderedBackground: (comm: MPI_Comm, reduction: OrderedReduction)?
    /// Serial, so requests are polled in the order they were started.
    let progressQueue = DispatchQueue(label: "CommMPI.MPICommunicator.progress")
    /// Guards `totals`, `groupCommunicators` and `isFinalized`.
    private let lock = NSLock()
    private var totals = CommCounters()
    private var groupCommunicators: [Int: MPI_Comm] = [:]
    private var isFinalized = false

    /// Starts MPI if needed (asking for `MPI_THREAD_MULTIPLE`) and makes a communicator over all
    /// ranks with `workersPerRank` workers each. Collective: every rank must call it.
    ///
    /// `reduction` chooses how sums across ranks are ordered. `collectiveTimeout` (seconds), if
    /// given, aborts the MPI job when one blocking call waits longer; `onTimeout` then receives
    /// the sentence to show the user first.
    public init(workersPerRank: Int, reduction: ReductionMode = .fast, collectiveTimeout: Double? = nil,
                onTimeout: (@Sendable (String) -> Void)? = nil) throws {
        guard workersPerRank >= 1 else {
            throw CommError("MPICommunicator: workers per rank is \(workersPerRank); expected at least 1.")
        }
        if let collectiveTimeout, !(collectiveTimeout > 0) {
            throw CommError("MPICommunicator: collective timeout is \(collectiveTimeout) s; expected a positive number of seconds.")
        }
        // Start-up waits for every rank too (MPI_Init_thread's exchange, the splits below): a
        // rank that hangs before training must not hang the others there either.
        let watchdog = collectiveTimeout.map {
            CollectiveWatchdog(timeout: $0, rank: MPIEnvironment.launchedRank ?? 0, report: onTimeout)
        }
        threadSupport = try watchdog.guarding("MPI_Init_thread (start-up, waiting for every rank)") { try MPIEnvironment.initialize() }
        watchdog?.markStarted()
        progress = threadSupport == cmpi_thread_multiple() ? .helperThread : .callerPolls
        try mpiCheck(cmpi_set_errors_return(cmpi_comm_world()), "MPI_Comm_set_errhandler(MPI_COMM_WORLD)")
        var duplicate: MPI_Comm? = nil
        try watchdog.guarding("MPI_Comm_dup(MPI_COMM_WORLD)") { try mpiCheck(MPI_Comm_dup(cmpi_comm_world(), &duplicate), "MPI_Comm_dup(MPI_COMM_WORLD)") }
        guard let duplicate else { throw CommError("MPI_Comm_dup(MPI_COMM_WORLD) returned no communicator.") }
        world = duplicate
        try mpiCheck(cmpi_set_errors_return(world), "MPI_Comm_set_errhandler")
        var rank: Int32 = 0, size: Int32 = 0
        try mpiCheck(MPI_Comm_rank(world, &rank), "MPI_Comm_rank")
        try mpiCheck(MPI_Comm_size(world, &size), "MPI_Comm_size")
        processRank = Int(rank)
        processCount = Int(size)
        self.workersPerRank = workersPerRank
        workers = processCount * workersPerRank
        localWorkers = (processRank * workersPerRank)..<((processRank + 1) * workersPerRank)
        let worldCopy = duplicate
        let nodeRanks = try watchdog.guarding("MPI_Comm_split_type (start-up, the ranks of each node)") {
            try Self.nodeLocalRanks(world: worldCopy, rank: rank)
        }
        nodeLocalGroupSize = nodeRanks * workersPerRank
        self.watchdog = watchdog
        self.reduction = reduction
        ordered = reduction == .ordered ? OrderedReduction(completion: .blocking(watchdog)) : nil
        if reduction == .ordered && processCount > 1 && progress == .helperThread {
            var background: MPI_Comm? = nil
            try mpiCheck(MPI_Comm_dup(world, &background), "MPI_Comm_dup (ordered non-blocking means)")
            guard let background else { throw CommError("MPI_Comm_dup (ordered non-blocking means) returned no communicator.") }
            try mpiCheck(cmpi_set_errors_return(background), "MPI_Comm_set_errhandler")
            orderedBackground = (background, OrderedReduction(completion: .polling))
        } else {
            orderedBackground = nil
        }
    }

    /// True when mpirun (or another PMI/PMIx launcher) started this process, judged by the
    /// environment variables it sets (`OMPI_COMM_WORLD_SIZE`, `PMIX_RANK`, `PMI_RANK`).
    public static var isLaunchedByMPIRun: Bool { MPIEnvironment.isLaunchedByMPIRun }

    /// The number of ranks mpirun started (`OMPI_COMM_WORLD_SIZE`, else `PMI_SIZE`), readable
    /// before MPI starts, e.g. to choose `workersPerRank`; nil outside mpirun.
    public static var launchedRanks: Int? { MPIEnvironment.launchedRanks }

    public var counters: CommCounters {
        lock.lock()
        defer { lock.unlock() }
        return totals
    }

    /// Frees this communicator's MPI communicators and calls `MPI_Finalize` unless already done.
    /// Collective: every rank must call it, with no request in flight. Later calls do nothing;
    /// collectives afterwards throw.
    public func finalize() throws {
        progressQueue.sync {}  // a request still being polled finishes first (it completes once every rank started it)
        lock.lock()
        defer { lock.unlock() }
        if isFinalized { return }
        isFinalized = true
        for size in groupCommunicators.keys.sorted() {
            var comm = groupCommunicators[size]
            try mpiCheck(MPI_Comm_free(&comm), "MPI_Comm_free (groups of \(size))")
        }
        groupCommunicators = [:]
        if let background = orderedBackground?.comm {
            var comm: MPI_Comm? = background
            try mpiCheck(MPI_Comm_free(&comm), "MPI_Comm_free (ordered non-blocking means)")
        }
        var comm: MPI_Comm? = world
        try mpiCheck(MPI_Comm_free(&comm), "MPI_Comm_free")
        try MPIEnvironment.finalize()
    }

    /// The communicator over the ranks of this rank's group of `groupSize` workers (a multiple
    /// of W): the world itself, or a split made on first use and kept. Collective on first use.
    func groupCommunicator(groupSize: Int) throws -> MPI_Comm {
        if groupSize == workers { return world }
        lock.lock()
        defer { lock.unlock() }
        if let comm = groupCommunicators[groupSize] { return comm }
        var comm: MPI_Comm? = nil
        let color = Int32(processRank * workersPerRank / groupSize)
        try mpiCheck(MPI_Comm_split(world, color, Int32(processRank), &comm), "MPI_Comm_split (groups of \(groupSize) workers)")
        guard let comm else { throw CommError("MPI_Comm_split (groups of \(groupSize) workers) returned no communicator.") }
        try mpiCheck(cmpi_set_errors_return(comm), "MPI_Comm_set_errhandler")
        groupCommunicators[groupSize] = comm
        return comm
    }

    /// Counts one collective of `count` floats, as the in-process backend does.
    func record(count: Int) { record(bytes: MemoryLayout<Float>.size * count) }

    /// Counts one collective of `bytes` payload bytes per worker.
    func record(bytes: Int) {
        lock.lock()
        totals.rounds += 1
        totals.bytes += bytes
        lock.unlock()
    }

    /// Throws unless the communicator is still usable.
    func checkNotFinalized(_ call: String) throws {
        lock.lock()
        defer { lock.unlock() }
        if isFinalized {
            throw CommError("\(call): the MPI communicator was finalized; make collective calls before finalize().")
        }
    }

    /// Ranks on this rank's node if all nodes hold equally many consecutive ranks starting at a
    /// multiple of that number (mpirun's default by-slot mapping), else 1. Collective.
    private static func nodeLocalRanks(world: MPI_Comm, rank: Int32) throws -> Int {
        var node: MPI_Comm? = nil
        try mpiCheck(MPI_Comm_split_type(world, cmpi_comm_type_shared(), rank, cmpi_info_null(), &node),
                     "MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)")
        defer { _ = MPI_Comm_free(&node) }  // freeing a private split cannot fail in a way we could act on
        var localRank: Int32 = 0, localSize: Int32 = 0
        try mpiCheck(MPI_Comm_rank(node, &localRank), "MPI_Comm_rank (node)")
        try mpiCheck(MPI_Comm_size(node, &localSize), "MPI_Comm_size (node)")
        // The node's ranks are consecutive iff rank − localRank is the same for all of them.
        let base = rank - localRank
        var nodeExtremes: [Int32] = [base, -base]
        try mpiCheck(MPI_Allreduce(cmpi_in_place(), &nodeExtremes, 2, cmpi_int(), cmpi_max(), node), "MPI_Allreduce (node layout)")
        let usable: Int32 = nodeExtremes[0] == -nodeExtremes[1] && base % localSize == 0 ? 0 : 1
        var worldExtremes: [Int32] = [localSize, -localSize, usable]
        try mpiCheck(MPI_Allreduce(cmpi_in_place(), &worldExtremes, 3, cmpi_int(), cmpi_max(), world), "MPI_Allreduce (node sizes)")
        let uniform = worldExtremes[0] == -worldExtremes[1] && worldExtremes[2] == 0
        return uniform ? Int(localSize) : 1
    }
}
