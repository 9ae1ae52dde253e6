import CMPI
import Comm
import CommMPI
import Foundation
import Tensor

/// Runs every collective of `MPICommunicator` on deterministic data and compares each rank's
/// buffers with what `InProcessCommunicator` gives for the same K buffers, built whole in every
/// process. Rank 0 prints one line per check; the worst difference over all ranks decides.
///
/// Tolerances: a group inside one process must match bitwise (same arithmetic), and so must
/// every group with `--reduction ordered`. With `fast`, a group of G workers spread over ranks is
/// summed by MPI in another order, which moves a sum by at most (G−1)·ε·Σ|w| ≤ (G−1)·G·ε for
/// values in [−1, 1], and a mean by at most (G−1)·ε plus one rounding of the division: G·ε.
///
/// Besides values in [−1, 1], every group size is checked on order-sensitive values (1e8, 1,
/// −1e8, …: `orderSensitive`), where another order of the same sum gives another result.
final class CheckRunner {
    let comm: MPICommunicator
    let count: Int
    private(set) var failures = 0
    /// A twin of every call, so the counters can be compared at the end.
    private let reference: InProcessCommunicator

    init(comm: MPICommunicator, count: Int) {
        self.comm = comm
        self.count = count
        reference = InProcessCommunicator(workers: comm.workers, threads: 1)
    }

    /// Worker `w`'s element `i`: a hash of both, uniform in [−1, 1) with a full significand, so
    /// the order of a sum shows in its rounding.
    static func value(worker w: Int, index i: Int, salt: Int) -> Float {
        var x = UInt64(truncatingIfNeeded: w &* 1_000_003 &+ i) &* 0x9E37_79B9_7F4A_7C15
            ^ UInt64(truncatingIfNeeded: salt) &* 0xBF58_476D_1CE4_E5B9
        x ^= x >> 31
        x = x &* 0x94D0_49BB_1331_11EB
        x ^= x >> 29
        return Float(Int64(bitPattern: x >> 40) - (1 << 23)) / Float(1 << 23)
    }

    func runAll() throws {
        let k = comm.workers, w = comm.workersPerRank
        let groupSizes = (1...k).filter { k % $0 == 0 && (w % $0 == 0 || $0 % w == 0) }
        for g in groupSizes {
            try check("mean G=\(g)", groupSize: g, tolerance: tolerance(g, mean: true)) {
                try $0.allReduceMean($1, count: self.count, groupSize: g)
            }
            try check("sum G=\(g)", groupSize: g, tolerance: tolerance(g, mean: false)) {
                try $0.allReduceSum($1, count: self.count, groupSize: g)
            }
            try checkOrderSensitive(groupSize: g)
        }
        if let g = groupSizes.last(where: { $0 > w && $0 < k }) {  // a split communicator again, from the cache
            try check("mean G=\(g) again", groupSize: g, tolerance: tolerance(g, mean: true)) {
                try $0.allReduceMean($1, count: self.count, groupSize: g)
            }
        }
        for root in Set([0, k / 2, k - 1]).sorted() {
            try check("broadcast root=\(root)", groupSize: 1, tolerance: 0) {
                try $0.broadcast($1, count: self.count, root: root)
            }
        }
        try check("nonblocking mean, computing meanwhile", groupSize: k, tolerance: tolerance(k, mean: true)) {
            let request = try $0.startAllReduceMean($1, count: self.count)
            try Self.computeWhilePolling(request)
        }
        try check("nonblocking mean, wait at once", groupSize: k, tolerance: tolerance(k, mean: true)) {
            try $0.startAllReduceMean($1, count: self.count).wait()
        }
        try check("nonblocking mean, order-sensitive values", groupSize: k,
                  tolerance: tolerance(k, mean: true) * Self.orderSensitiveMagnitude, values: Self.orderSensitive) {
            let request = try $0.startAllReduceMean($1, count: self.count)
            try Self.computeWhilePolling(request)
        }
        try comm.barrier()
        try checkRejectsUnevenGroup()
        try checkCounters()
        let node = comm.nodeLocalGroupSize
        let valid = k % node == 0 && (node % w == 0) && MPICommunicator.launchedRanks == comm.processCount
        report("nodeLocalGroupSize \(node) is a group, launchedRanks \(MPICommunicator.launchedRanks ?? -1)", difference: valid ? 0 : 1, tolerance: 0)
    }

    func tolerance(_ g: Int, mean: Bool) -> Float {
        if g <= comm.workersPerRank || comm.reduction == .ordered { return 0 }
        return mean ? Float(g) * .ulpOfOne : Float((g - 1) * g) * .ulpOfOne
    }

    /// Runs `operation` on this rank's buffers through MPI and on all K buffers in process.
    /// (Plain loops over pointers: the tests run this tool from a debug build.)
    func check(_ name: String, groupSize: Int, tolerance: Float,
               values: (_ worker: Int, _ index: Int, _ salt: Int) -> Float = CheckRunner.value,
               _ operation: (Communicator, [UnsafeMutablePointer<Float>]) throws -> Void) throws {
        let salt = failures &+ name.utf8.reduce(0) { $0 &* 31 &+ Int($1) }
        let all = (0..<comm.workers).map { w -> FloatBuffer in
            let buffer = FloatBuffer(count: count), p = buffer.pointer
            var i = 0
            while i < count { p[i] = values(w, i, salt); i += 1 }
            return buffer
        }
        let local = comm.localWorkers.map { all[$0].copy() }
        try operation(comm, local.map(\.pointer))
        try operation(reference, all.map(\.pointer))
        var worst: Float = 0
        for (buffer, w) in zip(local, comm.localWorkers) {
            worst = max(worst, Self.difference(buffer.pointer, all[w].pointer, count: count))
        }
        report(name, difference: try maximumOverRanks(worst), tolerance: tolerance)
    }

    /// The largest |a[i] − b[i]|; infinity if any value of `a` is not finite, and the smallest
    /// positive Float where the values are equal but their bits are not (+0 and −0).
    static func difference(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var worst: Float = 0, i = 0
        while i < count {
            if !a[i].isFinite { return .infinity }
            let d = abs(a[i] - b[i])
            if d > worst { worst = d }
            if d == 0 && a[i].bitPattern != b[i].bitPattern { worst = max(worst, .leastNonzeroMagnitude) }
            i += 1
        }
        return worst
    }

    /// Does 2 ms slices of arithmetic until the request completes, calling `test()` between them.
    static func computeWhilePolling(_ request: CommRequest) throws {
        var scratch = [Float](repeating: 1, count: 1 << 14)
        var slices = 0
        while try !request.test() {
            let end = DispatchTime.now().uptimeNanoseconds + 2_000_000
            while DispatchTime.now().uptimeNanoseconds < end {
                for i in scratch.indices { scratch[i] = scratch[i] * 0.999 + 0.001 }
            }
            slices += 1
            if slices > 30_000 { throw CheckError("the non-blocking mean did not complete within a minute.") }
        }
        try request.wait()  // completed: must return at once
    }

    private func checkRejectsUnevenGroup() throws {
        let buffers = comm.localWorkers.map { _ in FloatBuffer(count: 4) }
        let k = comm.workers, w = comm.workersPerRank
        // Not a divisor of K, or a divisor that would cut a rank's workers unevenly.
        let bad = [0, k + 1] + (1...k).filter { k % $0 == 0 && w % $0 != 0 && $0 % w != 0 }
        var rejected = 0
        for g in bad {
            do { try comm.allReduceMean(buffers.map(\.pointer), count: 4, groupSize: g) } catch is CommError { rejected += 1 }
        }
        report("rejects bad group sizes \(bad)", difference: rejected == bad.count ? 0 : 1, tolerance: 0)
    }

    private func checkCounters() throws {
        let same = comm.counters == reference.counters
        report("counters \(comm.counters.rounds) rounds \(comm.counters.bytes) bytes", difference: same ? 0 : 1, tolerance: 0)
    }

    /// The largest of every rank's `value` (all ranks must call it).
    private func maximumOverRanks(_ value: Float) throws -> Float {
        var v = value
        let rc = MPI_Allreduce(cmpi_in_place(), &v, 1, cmpi_float(), cmpi_max(), cmpi_comm_world())
        guard rc == MPI_SUCCESS else { throw CheckError("MPI_Allreduce of the check results failed with code \(rc).") }
        return v
    }

    func report(_ name: String, difference: Float, tolerance: Float) {
        let ok = difference <= tolerance
        if !ok { failures += 1 }
        if comm.processRank == 0 {
            print(ok ? "ok \(name) \(difference)" : "FAIL \(name) \(difference) > tolerance \(tolerance)")
        }
    }
}
