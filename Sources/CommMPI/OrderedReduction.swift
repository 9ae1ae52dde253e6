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
/// Two pipelined chains of messages, one chunk of `chunkFloats` at a time, so that all ranks
/// work at once on different chunks. Partial sums travel in rank order (which is worker order:
/// group communicators are split with the world rank as key):
/// - rank 0 folds its workers into its first buffer (w₀ + w₁ + …) and sends the partial sum on;
/// - rank r receives the partial sum of every worker before its own and adds its workers one by
///   one (summing them among themselves first would be another order), then sends it on;
/// - the last rank adds its workers, the last one fused with the division for a mean.
/// Results travel from the last rank to rank 0, then 1, …, P−2, each chunk as soon as it is
/// finished, so on a full-duplex link the results flow back while partial sums flow forward.
/// Each rank's first buffer carries its partial sums and then the result, so besides two chunks
/// to receive partial sums into nothing is allocated per call.
///
/// Cost: the chain cannot add anything before the partial sum arrives, so its latency grows
/// with P; the busiest link carries the buffer twice (partial sums and results), as a ring
/// all-reduce's 2(P−1)/P does for large P. Measured in docs/MPI.md.
final class OrderedReduction {
    /// Floats per chunk (1 MiB, as the fast path's calls): the chain fills after P − 1 chunks,
    /// and a chunk stays in L2 between arriving, being added to and being sent on.
    static let chunkFloats = 1 << 18
    static let partialTag: Int32 = 0
    static let resultTag: Int32 = 1

    /// How a wait for a message completes.
    enum Completion {
        /// `MPI_Wait` on the calling thread, under the watchdog if there is one.
        case blocking(CollectiveWatchdog?)
        /// `MPI_Test` with growing sleeps (20 µs to 1 ms), for the progress queue: no core is
        /// burnt spinning while the caller's thread trains.
        case polling
    }

    private let completion: Completion
    /// Partial sums of the rank before arrive here: two chunks, so one can arrive while the
    /// other is added.
    private let scratch = [FloatBuffer(count: chunkFloats), FloatBuffer(count: chunkFloats)]
    /// Per chunk of one call: the partial sum sent on, the result received, the result sent on.
    private var partialSends: [MPI_Request?] = []
    private var resultReceives: [MPI_Request?] = []
    private var resultSends: [MPI_Request?] = []

    init(completion: Completion) {
        self.completion = completion
    }

    /// One call's place in the chains.
    struct Pass {
        let rank: Int32, size: Int32, count: Int, comm: MPI_Comm
        var chunks: Int { (count + OrderedReduction.chunkFloats - 1) / OrderedReduction.chunkFloats }
        var isLast: Bool { rank == size - 1 }
        /// Results go P−1 → 0 → 1 → … → P−2.
        var resultSource: Int32 { rank == 0 ? size - 1 : rank - 1 }
        var resultTarget: Int32? { isLast ? 0 : rank + 1 < size - 1 ? rank + 1 : nil }
        func offset(_ c: Int) -> Int { c * OrderedReduction.chunkFloats }
        func length(_ c: Int) -> Int32 { Int32(min(OrderedReduction.chunkFloats, count - offset(c))) }
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
        let pass = Pass(rank: rank, size: size, count: count, comm: comm)
        partialSends = [MPI_Request?](repeating: nil, count: pass.chunks)
        resultReceives = partialSends
        resultSends = partialSends
        try run(pass, buffers, divisor: divisor, name: name)
        LocalReduction.copy(from: 0, buffers, count: count)
    }

    /// Both chains, chunk by chunk; returns with the result in `b[0]` and every request complete.
    private func run(_ p: Pass, _ b: [UnsafeMutablePointer<Float>], divisor: Float?, name: () -> String) throws {
        var partials: [MPI_Request?] = [nil, nil]
        func receivePartial(_ c: Int) throws {
            try mpiCheck(MPI_Irecv(scratch[c % 2].pointer, p.length(c), cmpi_float(), p.rank - 1, Self.partialTag,
                                   p.comm, &partials[c % 2]), "MPI_Irecv (\(name()))")
        }
        if p.rank > 0 { for c in 0..<min(2, p.chunks) { try receivePartial(c) } }
        var forwarded = 0
        for c in 0..<p.chunks {
            let chunk = b[0] + p.offset(c), n = Int(p.length(c))
            if p.rank == 0 {
                Self.fold(b, offset: p.offset(c), count: n)
            } else {
                try wait(&partials[c % 2], name)
                Self.add(UnsafePointer(scratch[c % 2].pointer), into: b, offset: p.offset(c), count: n,
                         divisor: p.isLast ? divisor : nil)
                if c + 2 < p.chunks { try receivePartial(c + 2) }
            }
            if p.isLast {
                try send(chunk, p.length(c), to: 0, tag: Self.resultTag, p, &resultSends[c], name)
                continue
            }
            try send(chunk, p.length(c), to: p.rank + 1, tag: Self.partialTag, p, &partialSends[c], name)
            if c > 0 { try receiveResult(c - 1, p, b[0], name) }
            forwarded = try forwardResults(from: forwarded, upTo: c, p, b[0], waiting: false, name)
        }
        if !p.isLast {
            try receiveResult(p.chunks - 1, p, b[0], name)
            _ = try forwardResults(from: forwarded, upTo: p.chunks, p, b[0], waiting: true, name)
        }
        for c in 0..<p.chunks where resultSends[c] != nil { try wait(&resultSends[c], name) }
    }

    /// Once chunk `c`'s partial sum has left, its place in `result` may receive the result.
    private func receiveResult(_ c: Int, _ p: Pass, _ result: UnsafeMutablePointer<Float>, _ name: () -> String) throws {
        try wait(&partialSends[c], name)
        try mpiCheck(MPI_Irecv(result + p.offset(c), p.length(c), cmpi_float(), p.resultSource, Self.resultTag,
                               p.comm, &resultReceives[c]), "MPI_Irecv (\(name()))")
    }

    /// Sends on (to the next rank of the result chain, if any) the results of chunks `from`…
    /// that have arrived, in order, up to but excluding `end`; with `waiting` all of them.
    /// Returns the first chunk not yet handled.
    private func forwardResults(from first: Int, upTo end: Int, _ p: Pass, _ result: UnsafeMutablePointer<Float>,
                                waiting: Bool, _ name: () -> String) throws -> Int {
        var c = first
        while c < end {
            if waiting {
                try wait(&resultReceives[c], name)
            } else {
                var done: Int32 = 0
                try mpiCheck(MPI_Test(&resultReceives[c], &done, cmpi_status_ignore()), "MPI_Test (\(name()))")
                if done == 0 { break }
            }
            if let target = p.resultTarget {
                try send(result + p.offset(c), p.length(c), to: target, tag: Self.resultTag, p, &resultSends[c], name)
            }
            c += 1
        }
        return c
    }

    private func send(_ values: UnsafeMutablePointer<Float>, _ n: Int32, to target: Int32, tag: Int32, _ p: Pass,
                      _ request: inout MPI_Request?, _ name: () -> String) throws {
        try mpiCheck(MPI_Isend(values, n, cmpi_float(), target, tag, p.comm, &request), "MPI_Isend (\(name()))")
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
}
