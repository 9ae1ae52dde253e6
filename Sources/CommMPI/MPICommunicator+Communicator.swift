import CMPI
import Comm
import Tensor

extension MPICommunicator {
    public func allReduceMean(_ buffers: [UnsafeMutablePointer<Float>], count: Int, groupSize: Int) throws {
        try allReduce(buffers, count: count, groupSize: groupSize, mean: true, call: "allReduceMean")
    }

    public func allReduceSum(_ buffers: [UnsafeMutablePointer<Float>], count: Int, groupSize: Int) throws {
        try allReduce(buffers, count: count, groupSize: groupSize, mean: false, call: "allReduceSum")
    }

    public func broadcast(_ buffers: [UnsafeMutablePointer<Float>], count: Int, root: Int) throws {
        try validate(buffers, count: count, groupSize: workers, call: "broadcast")
        guard (0..<workers).contains(root) else {
            throw CommError("broadcast: root \(root) is not a worker; expected 0 ..< \(workers).")
        }
        record(count: count)
        let rootRank = root / workersPerRank
        let source = processRank == rootRank ? root - localWorkers.lowerBound : 0
        if processCount > 1 && count > 0 {
            func call() -> String { "MPI_Bcast (broadcast of \(count) floats from worker \(root))" }
            try watchdog.guarding(call()) {
                try mpiCheck(MPI_Bcast(buffers[source], Int32(count), cmpi_float(), Int32(rootRank), world), call())
            }
        }
        LocalReduction.copy(from: source, buffers, count: count)
    }

    public func barrier() throws {
        try checkNotFinalized("barrier")
        try watchdog.guarding("MPI_Barrier") { try mpiCheck(MPI_Barrier(world), "MPI_Barrier") }
    }

    public func gatherIntegers(_ values: [Int]) throws -> [[Int]] {
        try checkNotFinalized("gatherIntegers")
        guard processCount > 1, !values.isEmpty else { return Array(repeating: values, count: processCount) }
        let mine = values.map(Int64.init)
        var all = [Int64](repeating: 0, count: mine.count * processCount)
        let n = Int32(mine.count)
        try watchdog.guarding("MPI_Allgather (\(n) integers)") {
            try mpiCheck(MPI_Allgather(mine, n, cmpi_int64(), &all, n, cmpi_int64(), world), "MPI_Allgather (\(n) integers)")
        }
        return (0..<processCount).map { r in all[(r * mine.count)..<((r + 1) * mine.count)].map(Int.init) }
    }

    /// `MPI_Allgather` in place over the group's ranks, each contributing its workers' W slots
    /// (nothing to send when the group lives in this rank). Every rank then holds the group's
    /// payloads and reduces them itself (`CompressedReduction`), so the result is the in-process
    /// one bitwise, whatever `reduction` says.
    public func exchangeEncoded(_ slots: UnsafeMutableRawPointer, slotBytes: Int, encodedBytes: Int, groupSize: Int,
                                traffic: EncodedTraffic) throws {
        try validate(nil, count: 0, groupSize: groupSize, call: "exchangeEncoded")
        guard encodedBytes >= 0, slotBytes >= encodedBytes, workersPerRank * slotBytes <= Int(Int32.max) else {
            throw CommError("exchangeEncoded: \(workersPerRank) payloads of \(slotBytes) bytes per rank are out of range; expected at most \(Int32.max) bytes per rank (MPI counts are 32-bit).")
        }
        record(bytes: encodedBytes)
        guard groupSize > workersPerRank, slotBytes > 0 else { return }
        let comm = try groupCommunicator(groupSize: groupSize)
        let first = localWorkers.lowerBound / groupSize * groupSize
        let n = Int32(workersPerRank * slotBytes)
        func name() -> String { "MPI_Allgather (compressed payloads of \(encodedBytes) bytes over groups of \(groupSize) workers)" }
        try watchdog.guarding(name()) {
            try mpiCheck(MPI_Allgather(cmpi_in_place(), 0, cmpi_datatype_null(), slots + first * slotBytes, n, cmpi_byte(), comm), name())
        }
    }

    public func startAllReduceMean(_ buffers: [UnsafeMutablePointer<Float>], count: Int) throws -> CommRequest {
        try validate(buffers, count: count, groupSize: workers, call: "startAllReduceMean")
        record(count: count)
        if let ordered, processCount > 1 { return try startOrderedMean(buffers, count: count, blocking: ordered) }
        let prescale = processCount > 1 ? LocalReduction.exactPrescale(workers) : nil
        let divisor: Float? = prescale == nil ? Float(workers) : nil
        LocalReduction.sumIntoFirst(buffers, count: count, divisor: prescale)
        if processCount == 1 || count == 0 {
            return MPIRequest { LocalReduction.finish(buffers, count: count, divisor: divisor) }
        }
        var handle: MPI_Request? = nil
        try mpiCheck(MPI_Iallreduce(cmpi_in_place(), buffers[0], Int32(count), cmpi_float(), cmpi_sum(), world, &handle),
                     "MPI_Iallreduce (non-blocking mean of \(count) floats)")
        guard let handle else { throw CommError("MPI_Iallreduce returned no request.") }
        // The caller promises not to touch the buffers until the request completes.
        let request = MPIRequest(handle: handle, watchdog: watchdog) {
            LocalReduction.finish(buffers, count: count, divisor: divisor)
        }
        if progress == .helperThread {
            progressQueue.async { request.progressUntilDone() }
        }
        return request
    }

    /// Mean or sum over groups of `groupSize` consecutive workers (see the type's comment).
    private func allReduce(_ buffers: [UnsafeMutablePointer<Float>], count: Int, groupSize: Int, mean: Bool, call: String) throws {
        try validate(buffers, count: count, groupSize: groupSize, call: call)
        record(count: count)
        let divisor: Float? = mean ? Float(groupSize) : nil
        if groupSize <= workersPerRank {
            LocalReduction.allReduce(buffers, count: count, groupSize: groupSize, divisor: divisor)
            return
        }
        let comm = try groupCommunicator(groupSize: groupSize)
        if let ordered {
            func name() -> String { "ordered all-reduce (\(call) of \(count) floats over groups of \(groupSize) workers)" }
            return try ordered.allReduce(buffers, count: count, comm: comm, divisor: divisor, name: name)
        }
        // A power-of-two mean scales each rank's part before the call (exact, so every order of
        // summation gives the in-process result); any other divides the result after it.
        let prescale = mean ? LocalReduction.exactPrescale(groupSize) : nil
        let postDivisor = prescale == nil ? divisor : nil
        if buffers.count > 1 {
            // The local sum leaves buffer 0 in cache block by block; scale it there.
            LocalReduction.sumIntoFirst(buffers, count: count, divisor: prescale)
        }
        // One call per chunk (see `chunkFloats`); a mean scales the chunk while it is in cache.
        var offset = 0
        while offset < count {
            let n = min(Self.chunkFloats, count - offset)
            let part = buffers[0] + offset
            if buffers.count == 1, let prescale { LocalReduction.divide(part, count: n, by: prescale) }
            // Built only for an error or the watchdog: this path is timed against a bare MPI_Allreduce.
            func name() -> String { "MPI_Allreduce (\(call) of \(count) floats over groups of \(groupSize) workers)" }
            try watchdog.guarding(name()) {
                try mpiCheck(MPI_Allreduce(cmpi_in_place(), part, Int32(n), cmpi_float(), cmpi_sum(), comm), name())
            }
            if let postDivisor { LocalReduction.divide(part, count: n, by: postDivisor) }
            offset += n
        }
        LocalReduction.copy(from: 0, buffers, count: count)
    }

    /// `startAllReduceMean` in worker order: the chain runs on the progress queue over its own
    /// communicator, or (without `MPI_THREAD_MULTIPLE`) at once on this thread.
    private func startOrderedMean(_ buffers: [UnsafeMutablePointer<Float>], count: Int,
                                  blocking: OrderedReduction) throws -> CommRequest {
        let divisor = Float(workers)
        @Sendable func name() -> String { "ordered non-blocking mean of \(count) floats" }
        guard let background = orderedBackground else {
            try blocking.allReduce(buffers, count: count, comm: world, divisor: divisor, name: name)
            return MPIRequest(completed: {})
        }
        // The caller promises not to touch the buffers until the request completes.
        let work = UncheckedSendable((buffers, background))
        return OrderedRequest(queue: progressQueue, watchdog: watchdog, name: name()) {
            let (buffers, background) = work.value
            try background.reduction.allReduce(buffers, count: count, comm: background.comm, divisor: divisor, name: name)
        }
    }

    /// Floats per blocking all-reduce call (1 MiB, which L2 holds). Measured with
    /// `localsgd-mpi-check --bench` on 2 ranks of one node (Open MPI 4.1, shared memory): up to
    /// 16 MB the chunked calls take as long as one call; at 64 MB they take 0.63× as long as one
    /// call, whose buffer no longer fits any cache between its reduction stages.
    static let chunkFloats = 1 << 18

    private func validate(_ buffers: [UnsafeMutablePointer<Float>]?, count: Int, groupSize: Int, call: String) throws {
        try checkNotFinalized(call)
        if let buffers, buffers.count != workersPerRank {
            throw CommError("\(call): got \(buffers.count) buffers but this rank holds \(workersPerRank) workers (\(localWorkers)); pass one buffer per local worker, in worker order.")
        }
        guard count >= 0, count <= Int(Int32.max) else {
            throw CommError("\(call): count \(count) is out of range; expected the number of floats in each buffer, 0 ... \(Int32.max) (MPI counts are 32-bit).")
        }
        guard groupSize >= 1, groupSize <= workers, workers % groupSize == 0 else {
            throw CommError("\(call): group size \(groupSize) does not divide the \(workers) workers; expected a divisor of \(workers) that is at least 1.")
        }
        guard workersPerRank % groupSize == 0 || groupSize % workersPerRank == 0 else {
            throw CommError("\(call): group size \(groupSize) would split the \(workersPerRank) workers of a rank unevenly; with \(workersPerRank) workers per rank, use a divisor or a multiple of \(workersPerRank).")
        }
    }
}
