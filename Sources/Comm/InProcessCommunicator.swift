import Dispatch
import Foundation
import Tensor

/// The in-process backend: one process holds all K workers and reduces their flat buffers
/// directly in memory, so a study simulates K
/// machines exactly on one box and, with the fixed reduction order of `GroupReduction`, is
/// bitwise reproducible whatever the thread count.
///
/// - Mean and sum reduce each group's buffers left to right in `Float` (worker g·G first); the
///   mean then divides by `Float(G)`.
/// - `startAllReduceMean` runs the reduction on a background queue; requests complete in the
///   order they were started. The caller must neither read nor write the buffers until the
///   request's `test()` returned true or `wait()` returned.
/// - `counters` count every call, including trivial ones (G = 1 or K = 1): one round and
///   4·count payload bytes per collective call; `barrier()` counts nothing. The network model
///   gives a single participant zero time, so trivial calls cost nothing in modelled seconds.
///
/// Every public method may be called from any thread.
public final class InProcessCommunicator: Communicator, @unchecked Sendable {
    public let workers: Int
    public var localWorkers: Range<Int> { 0..<workers }
    public let processRank = 0
    public let processCount = 1

    private let pool: ThreadPool
    /// Serial, so non-blocking reductions finish in the order they were started.
    private let background = DispatchQueue(label: "Comm.InProcessCommunicator.background")
    /// Guards `totals`, which the calling thread and callers on other threads update.
    private let lock = NSLock()
    private var totals = CommCounters()

    /// Makes a communicator for `workers` in-process workers whose collectives use `threads`
    /// threads. Both must be at least 1 (programmer error otherwise).
    public init(workers: Int, threads: Int) {
        precondition(workers >= 1, "InProcessCommunicator needs at least one worker, got \(workers)")
        precondition(threads >= 1, "InProcessCommunicator needs at least one thread, got \(threads)")
        self.workers = workers
        self.pool = ThreadPool(threads: threads)
    }

    public var counters: CommCounters {
        lock.lock()
        defer { lock.unlock() }
        return totals
    }

    public func allReduceMean(_ buffers: [UnsafeMutablePointer<Float>], count: Int, groupSize: Int) throws {
        try validate(buffers, count: count, groupSize: groupSize, call: "allReduceMean")
        record(count: count)
        GroupReduction.allReduce(buffers, count: count, groupSize: groupSize, operation: .mean, pool: pool)
    }

    public func allReduceSum(_ buffers: [UnsafeMutablePointer<Float>], count: Int, groupSize: Int) throws {
        try validate(buffers, count: count, groupSize: groupSize, call: "allReduceSum")
        record(count: count)
        GroupReduction.allReduce(buffers, count: count, groupSize: groupSize, operation: .sum, pool: pool)
    }

    public func broadcast(_ buffers: [UnsafeMutablePointer<Float>], count: Int, root: Int) throws {
        try validate(buffers, count: count, groupSize: workers, call: "broadcast")
        guard (0..<workers).contains(root) else {
            throw CommError("broadcast: root \(root) is not a worker; expected 0 ..< \(workers).")
        }
        record(count: count)
        GroupReduction.broadcast(buffers, count: count, root: root, pool: pool)
    }

    /// All workers live in this process, so they are always at the barrier together.
    public func barrier() throws {}

    /// One process: its own values.
    public func gatherIntegers(_ values: [Int]) throws -> [[Int]] { [values] }

    public func startAllReduceMean(_ buffers: [UnsafeMutablePointer<Float>], count: Int) throws -> CommRequest {
        try validate(buffers, count: count, groupSize: workers, call: "startAllReduceMean")
        record(count: count)
        let request = InProcessRequest()
        // The caller promises not to touch the buffers until the request completes.
        let work = UncheckedSendable((buffers, count, workers, pool))
        background.async(group: request.group) {
            let (buffers, count, groupSize, pool) = work.value
            GroupReduction.allReduce(buffers, count: count, groupSize: groupSize, operation: .mean, pool: pool)
        }
        return request
    }

    /// Every worker's slot is in this process already: only counted.
    public func exchangeEncoded(_ slots: UnsafeMutableRawPointer, slotBytes: Int, encodedBytes: Int, groupSize: Int,
                                traffic: EncodedTraffic) throws {
        guard groupSize >= 1, groupSize <= workers, workers % groupSize == 0, encodedBytes >= 0, slotBytes >= encodedBytes else {
            throw CommError("exchangeEncoded: group size \(groupSize) must divide the \(workers) workers and each slot (\(slotBytes) bytes) hold its payload (\(encodedBytes) bytes).")
        }
        record(bytes: encodedBytes)
    }

    private func record(count: Int) { record(bytes: MemoryLayout<Float>.size * count) }

    private func record(bytes: Int) {
        lock.lock()
        totals.rounds += 1
        totals.bytes += bytes
        lock.unlock()
    }

    private func validate(_ buffers: [UnsafeMutablePointer<Float>], count: Int, groupSize: Int, call: String) throws {
        guard buffers.count == workers else {
            throw CommError("\(call): got \(buffers.count) buffers but the communicator has \(workers) workers; pass one buffer per worker, in worker order.")
        }
        guard count >= 0 else {
            throw CommError("\(call): count \(count) is negative; expected the number of floats in each buffer.")
        }
        guard groupSize >= 1, groupSize <= workers, workers % groupSize == 0 else {
            throw CommError("\(call): group size \(groupSize) does not divide the \(workers) workers; expected a divisor of \(workers) that is at least 1.")
        }
    }
}
