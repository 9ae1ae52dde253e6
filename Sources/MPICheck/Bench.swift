import CMPI
import Comm
import CommMPI
import Foundation
import Tensor

/// Times `MPICommunicator.allReduceMean` / `allReduceSum`, with the fast and with the ordered
/// reduction (`ReductionMode`), against a raw in-place `MPI_Allreduce` (and the raw call plus
/// the scaling pass any mean needs, before the call for a power-of-two K as the wrapper does,
/// after it otherwise) on the same buffer, alternating the variants within every repeat so that
/// machine noise hits all alike.
/// Each timed call starts after a barrier with the buffer just read by this rank (as after a
/// backward pass), and the variants run in a fresh seeded order each repeat (the same on every
/// rank) so that none always follows the same other; a repeat's time is the slowest rank's.
/// Prints the median of each variant and, for a machine shared with other work, the fastest.
/// The compressed variants are `--compress`'s whole reduction (`PayloadCompressor.allReduce`:
/// encode, in-place `MPI_Allgather` of the encoded payloads, decode and reduce on every rank).
enum Bench {
    static func run(comm: MPICommunicator, bytes: Int, repeats: Int) throws {
        guard comm.workersPerRank == 1 else {
            throw CheckError("--bench compares against one raw MPI_Allreduce per rank; use --workers-per-rank 1.")
        }
        guard comm.reduction == .fast else {
            throw CheckError("--bench times both reductions itself; leave out --reduction.")
        }
        // A second communicator (its own duplicate of MPI_COMM_WORLD), released by MPI_Finalize.
        let ordered = try MPICommunicator(workersPerRank: 1, reduction: .ordered)
        let count = bytes / MemoryLayout<Float>.size
        let buffer = FloatBuffer(count: count)  // zeros: sums stay finite however often they run
        let p = buffer.pointer
        let divisor = Float(comm.workers)
        let powerOfTwo = divisor.exactReciprocal != nil
        // Compressed means (--compress): encode, MPI_Allgather of the encoded payloads, decode and
        // reduce on every rank; on random values, since top-k's selection depends on them.
        let compressed = FloatBuffer(count: count)
        var rng = RandomGenerator(seed: 7)
        for i in 0..<count { compressed.pointer[i] = rng.nextNormal() }
        let compressors = try [PayloadCodec(kind: .fp16), PayloadCodec(kind: .int8), PayloadCodec(kind: .topk, ratio: 0.01)].map {
            PayloadCompressor(codec: $0, errorFeedback: false, count: count, workers: comm.workers, localWorkers: comm.localWorkers,
                              streams: [])
        }
        let q = compressed.pointer
        func compressedMean(_ c: PayloadCompressor) throws {
            try c.allReduce([q], groupSize: comm.workers, stream: .gradients, communicator: comm)
        }
        let variants: [(String, () throws -> Void)] = [
            ("raw", { try raw(p, count) }),
            ("mean", { try comm.allReduceMean([p], count: count) }),
            ("raw+scale", {  // the least any mean costs: the scaling pass where the wrapper puts it
                if powerOfTwo { for i in 0..<count { p[i] *= 1 / divisor } }
                try raw(p, count)
                if !powerOfTwo { for i in 0..<count { p[i] /= divisor } }
            }),
            ("sum", { try comm.allReduceSum([p], count: count) }),
            ("ordered-sum", { try ordered.allReduceSum([p], count: count) }),
            ("ordered-mean", { try ordered.allReduceMean([p], count: count) }),
            ("fp16", { try compressedMean(compressors[0]) }),
            ("int8", { try compressedMean(compressors[1]) }),
            ("topk-0.01", { try compressedMean(compressors[2]) }),
        ]
        for (_, call) in variants { try call() }  // warm-up: page faults, shared-memory set-up
        var seconds = [[Double]](repeating: [], count: variants.count)
        var sink: Float = 0
        var order = RandomGenerator(seed: 2024)
        for _ in 0..<repeats {
            var pending = Array(variants.indices)
            while !pending.isEmpty {
                let v = pending.remove(at: order.nextInt(below: pending.count))
                let call = variants[v].1
                for i in 0..<count { sink += p[i] }
                try check(MPI_Barrier(cmpi_comm_world()), "MPI_Barrier")
                let start = DispatchTime.now().uptimeNanoseconds
                try call()
                var t = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                try check(MPI_Allreduce(cmpi_in_place(), &t, 1, cmpi_double(), cmpi_max(), cmpi_comm_world()), "MPI_Allreduce")
                seconds[v].append(t)
            }
        }
        let medians = seconds.map { $0.sorted()[$0.count / 2] }
        let fastest = seconds.map { $0.min() ?? .nan }
        let wait = try overlap(comm: comm, buffer: p, count: count, blocking: medians[1], repeats: repeats)
        let orderedWait = try overlap(comm: ordered, buffer: p, count: count, blocking: medians[5], repeats: repeats)
        guard comm.processRank == 0, sink.isFinite else { return }
        let ms = { (v: Int) in String(format: "%.4f", medians[v] * 1e3) }
        let ratio = { (a: Int, b: Int) in String(format: "%.3f", medians[a] / medians[b]) }
        print("bench bytes=\(count * 4) ranks=\(comm.processCount) repeats=\(repeats) median ms: raw=\(ms(0)) mean=\(ms(1)) raw+scale=\(ms(2)) sum=\(ms(3)) ordered-sum=\(ms(4)) ordered-mean=\(ms(5))")
        print("fastest ms: " + zip(variants, fastest).map { "\($0.0)=\(String(format: "%.4f", $1 * 1e3))" }.joined(separator: " "))
        print("ratio mean/raw=\(ratio(1, 0)) mean/(raw+scale)=\(ratio(1, 2)) sum/raw=\(ratio(3, 0)) ordered-sum/raw=\(ratio(4, 0)) ordered-mean/raw=\(ratio(5, 0)) ordered-sum/sum=\(ratio(4, 3))")
        print("compressed median ms: fp16=\(ms(6)) int8=\(ms(7)) topk-0.01=\(ms(8)) ratio fp16/raw=\(ratio(6, 0)) int8/raw=\(ratio(7, 0)) topk/raw=\(ratio(8, 0)) (encoded bytes per rank: fp16 \(compressors[0].codec.encodedBytes(count)), int8 \(compressors[1].codec.encodedBytes(count)), topk \(compressors[2].codec.encodedBytes(count)))")
        print("overlap: startAllReduceMean, compute 2×\(ms(1)) ms, wait() took \(String(format: "%.4f", wait * 1e3)) ms (progress: \(comm.progress))")
        print("overlap ordered: startAllReduceMean, compute 2×\(ms(5)) ms, wait() took \(String(format: "%.4f", orderedWait * 1e3)) ms")
    }

    /// Starts a non-blocking mean, computes (without calling `test()`) for twice the time of a
    /// blocking one, then waits: a wait near zero means the all-reduce progressed in the
    /// background. Returns the median wait in seconds (the slowest rank's).
    static func overlap(comm: MPICommunicator, buffer p: UnsafeMutablePointer<Float>, count: Int,
                        blocking: Double, repeats: Int) throws -> Double {
        var waits: [Double] = []
        var scratch = [Float](repeating: 1, count: 1 << 12)
        for _ in 0..<repeats {
            try check(MPI_Barrier(cmpi_comm_world()), "MPI_Barrier")
            let request = try comm.startAllReduceMean([p], count: count)
            let end = DispatchTime.now().uptimeNanoseconds + UInt64(2 * blocking * 1e9)
            while DispatchTime.now().uptimeNanoseconds < end {
                for i in scratch.indices { scratch[i] = scratch[i] * 0.999 + 0.001 }
            }
            let start = DispatchTime.now().uptimeNanoseconds
            try request.wait()
            var t = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            try check(MPI_Allreduce(cmpi_in_place(), &t, 1, cmpi_double(), cmpi_max(), cmpi_comm_world()), "MPI_Allreduce")
            waits.append(t)
        }
        return scratch[0].isFinite ? waits.sorted()[waits.count / 2] : .nan
    }

    private static func raw(_ p: UnsafeMutablePointer<Float>, _ count: Int) throws {
        try check(MPI_Allreduce(cmpi_in_place(), p, Int32(count), cmpi_float(), cmpi_sum(), cmpi_comm_world()), "MPI_Allreduce")
    }

    private static func check(_ rc: Int32, _ call: String) throws {
        guard rc == MPI_SUCCESS else { throw CheckError("\(call) failed with MPI error code \(rc).") }
    }
}
