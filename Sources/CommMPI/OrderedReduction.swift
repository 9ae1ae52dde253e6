import CMPI
import Comm
import Foundation
import Tensor

/// The ordered all-reduce of `ReductionMode.ordered`: the sum or mean of a group of G workers
/// spread over the P ≥ 2 ranks of `comm` (W consecutive workers each, so G = P·W), in exactly
/// the in-process arithmetic (`GroupReduction` in Comm): element `i` is
/// `((w₀[i] + w₁[i]) + …) + w_{G−1}[i]` in `Float`, left to right in worker order, and the mean
/// divides by `Float(G)` in the same expression as the last addend. The result is therefore
/// bitwise the in-process one for any P and W.
///
/// A pipelined chain over the ranks in rank order (which is worker order: group communicators
/// are split with the world rank as key), one chunk of `chunkFloats` at a time so that all
/// ranks work at once on different chunks:
/// - rank 0 folds its workers into its first buffer (w₀ + w₁ + …) and sends the partial sum on;
/// - rank r receives the partial sum of every worker before its own and adds its workers one by
///   one (summing them among themselves first would be another order), then sends it on;
/// - the last rank adds its workers, the last one fused with the division for a mean;
/// then the last rank broadcasts the result. Each rank's first buffer carries the partial sums
/// and the result, so besides two chunks to receive into nothing is allocated.
///
/// Cost: the chain cannot add anything before the partial sum arrives, so its latency grows
/// with P; the bytes moved per rank are about the buffer twice (received, sent on; then the
/// broadcast), where a ring all-reduce moves 2(P−1)/P of it. Measured in docs/MPI.md.
final class OrderedReduction {
    /// Floats per chunk (1 MiB, as the fast path's calls): the chain fills after P − 1 chunks,
    /// and a chunk stays in L2 between arriving, being added to and being sent on.
    static let chunkFloats = 1 << 18
    /// Floats per cache block of the additions (32 KB, the L1 data cache).
    static let blockSize = 8192

    /// How a wait for a message or a broadcast completes.
    enum Completion {
        /// `MPI_Wait` / `MPI_Bcast` on the calling thread, each under the watchdog if there is one.
        case blocking(CollectiveWatchdog?)
        /// `MPI_Test` with growing sleeps (20 µs to 1 ms), for the progress queue: no core is
        /// burnt spinning while the caller's thread trains (PLATFORM.md).
        case polling
    }

    private let completion: Completion
    /// Partial sums of the rank before arrive here: two chunks, so one can arrive while the
    /// other is added.
    private let scratch = [FloatBuffer(count: chunkFloats), FloatBuffer(count: chunkFloats)]
    /// The chain's sends of one call, completed before the broadcast writes the buffer.
    private var sends: [MPI_Request?] = []

    init(completion: Completion) {
        self.completion = completion
    }

    /// Replaces every one of `buffers` (this rank's workers of the group, in worker order) by the
    /// group's sum, or by the sum divided by `divisor` (G) when one is given. Collective over
    /// `comm`; `name` describes the call for errors and the watchdog.
    func allReduce(_ buffers: [UnsafeMutablePointer<Float>], count: Int, comm: MPI_Comm, divisor: Float?,
                   name: () -> String) throws {
        var rank: Int32 = 0, size: Int32 = 0
        try mpiCheck(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank (\(name()))")
        try mpiCheck(MPI_Comm_size(comm, &size), "MPI_Comm_size (\(name()))")
        precondition(size >= 2 && !buffers.isEmpty, "OrderedReduction spans at least two ranks with a buffer each")
        guard count > 0 else { return }
        try chain(buffers, count: count, rank: rank, size: size, comm: comm, divisor: divisor, name: name)
        try broadcast(buffers[0], count: count, root: size - 1, comm: comm, name: name)
        LocalReduction.copy(from: 0, buffers, count: count)
    }

    /// The reduction along the ranks; leaves the result in the last rank's first buffer.
    private func chain(_ b: [UnsafeMutablePointer<Float>], count: Int, rank: Int32, size: Int32, comm: MPI_Comm,
                       divisor: Float?, name: () -> String) throws {
        let chunks = (count + Self.chunkFloats - 1) / Self.chunkFloats
        let isLast = rank == size - 1
        var receives: [MPI_Request?] = [nil, nil]
        func receive(_ c: Int) throws {
            let n = min(Self.chunkFloats, count - c * Self.chunkFloats)
            try mpiCheck(MPI_Irecv(scratch[c % 2].pointer, Int32(n), cmpi_float(), rank - 1, 0, comm, &receives[c % 2]),
                         "MPI_Irecv (\(name()))")
        }
        if rank > 0 { for c in 0..<min(2, chunks) { try receive(c) } }
        sends.removeAll(keepingCapacity: true)
        for c in 0..<chunks {
            let offset = c * Self.chunkFloats, n = min(Self.chunkFloats, count - offset)
            if rank == 0 {
                Self.fold(b, offset: offset, count: n)
            } else {
                try wait(&receives[c % 2], name)
                Self.add(UnsafePointer(scratch[c % 2].pointer), into: b, offset: offset, count: n,
                         divisor: isLast ? divisor : nil)
                if c + 2 < chunks { try receive(c + 2) }
            }
            guard !isLast else { continue }
            var request: MPI_Request? = nil
            try mpiCheck(MPI_Isend(b[0] + offset, Int32(n), cmpi_float(), rank + 1, 0, comm, &request),
                         "MPI_Isend (\(name()))")
            sends.append(request)
        }
        for i in sends.indices { try wait(&sends[i], name) }
    }

    /// The last rank's result to every rank of `comm`, one chunk per call.
    private func broadcast(_ p: UnsafeMutablePointer<Float>, count: Int, root: Int32, comm: MPI_Comm,
                           name: () -> String) throws {
        var offset = 0
        while offset < count {
            let n = Int32(min(Self.chunkFloats, count - offset))
            switch completion {
            case .blocking(let watchdog):
                try watchdog.guarding(name()) {
                    try mpiCheck(MPI_Bcast(p + offset, n, cmpi_float(), root, comm), "MPI_Bcast (\(name()))")
                }
            case .polling:
                var request: MPI_Request? = nil
                try mpiCheck(MPI_Ibcast(p + offset, n, cmpi_float(), root, comm, &request), "MPI_Ibcast (\(name()))")
                try wait(&request, name)
            }
            offset += Int(n)
        }
    }

    private func wait(_ request: inout MPI_Request?, _ name: () -> String) throws {
        switch completion {
        case .blocking(let watchdog):
            try watchdog.guarding(name()) {
                try mpiCheck(MPI_Wait(&request, cmpi_status_ignore()), "MPI_Wait (\(name()))")
            }
        case .polling:
            var pause: UInt32 = 20, done: Int32 = 0
            while true {
                try mpiCheck(MPI_Test(&request, &done, cmpi_status_ignore()), "MPI_Test (\(name()))")
                if done != 0 { return }
                usleep(pause)
                pause = min(pause * 2, 1000)
            }
        }
    }

    /// b₀ ← ((b₀ + b₁) + …) + b_{W−1} over `count` floats at `offset` (rank 0's part: it starts the sum).
    static func fold(_ b: [UnsafeMutablePointer<Float>], offset: Int, count: Int) {
        guard b.count > 1 else { return }
        forEachBlock(count: count) { lo, n in
            let acc = b[0] + offset + lo
            for w in 1..<b.count {
                let x = UnsafePointer(b[w] + offset + lo)
                for i in 0..<n { acc[i] += x[i] }
            }
        }
    }

    /// b₀ ← ((s + b₀) + b₁) + … + b_{W−1} over `count` floats at `offset`, where `s` holds the
    /// partial sum of the workers before this rank's; with a divisor the last addend and the
    /// division are one expression, `(acc + last) / divisor`, as in `GroupReduction`.
    static func add(_ s: UnsafePointer<Float>, into b: [UnsafeMutablePointer<Float>], offset: Int, count: Int,
                    divisor: Float?) {
        let last = b.count - 1
        forEachBlock(count: count) { lo, n in
            let acc = b[0] + offset + lo, partial = s + lo
            if last == 0 {  // b₀ is both the first and the last addend
                if let d = divisor { for i in 0..<n { acc[i] = (partial[i] + acc[i]) / d } }
                else { for i in 0..<n { acc[i] = partial[i] + acc[i] } }
                return
            }
            for i in 0..<n { acc[i] = partial[i] + acc[i] }
            for w in 1..<last {
                let x = UnsafePointer(b[w] + offset + lo)
                for i in 0..<n { acc[i] += x[i] }
            }
            let x = UnsafePointer(b[last] + offset + lo)
            if let d = divisor { for i in 0..<n { acc[i] = (acc[i] + x[i]) / d } }
            else { for i in 0..<n { acc[i] += x[i] } }
        }
    }

    private static func forEachBlock(count: Int, _ body: (_ offset: Int, _ count: Int) -> Void) {
        var offset = 0
        while offset < count {
            let n = min(blockSize, count - offset)
            body(offset, n)
            offset += n
        }
    }
}
