import Comm
import Optim
import Tensor
import TestSupport
import XCTest
@testable import Algorithms

/// The record of synchronizations: its statistics against a direct Double computation, and the
/// records of small runs on hand-made buffers against values worked out by hand.
final class SyncRecordTests: XCTestCase {
    /// K workers of `count` parameters and one BatchNorm value, driven as the trainer drives a strategy.
    final class Run {
        let parameters: [FloatBuffer], gradients: [FloatBuffer], state: [FloatBuffer], momentum: [FloatBuffer]
        let comm: InProcessCommunicator
        let recorder: SyncRecorder
        let strategy: SyncStrategy
        /// `--compress`: payloads travel through it.
        var compression: PayloadCompressor?
        init(workers: Int, count: Int, strategy: SyncStrategy, stepsPerEpoch: Int = 8) {
            parameters = (0..<workers).map { _ in FloatBuffer(count: count) }
            gradients = (0..<workers).map { _ in FloatBuffer(count: count) }
            state = (0..<workers).map { _ in FloatBuffer(count: 1) }
            momentum = (0..<workers).map { _ in FloatBuffer(count: count) }
            comm = InProcessCommunicator(workers: workers, threads: 1)
            self.strategy = strategy
            recorder = SyncRecorder(workers: workers, localWorkers: 0..<workers, count: count, stepsPerEpoch: stepsPerEpoch,
                                    groupSizes: strategy.averagingGroupSizes)
        }
        /// The communicator of P present workers (`--faults`), by P, as the trainer keeps them.
        var subsets: [Int: InProcessCommunicator] = [:]
        var workers: WorkerSet { workers(Array(parameters.indices)) }
        func workers(_ present: [Int]) -> WorkerSet {
            WorkerSet(parameters: present.map { parameters[$0].pointer }, gradients: present.map { gradients[$0].pointer },
                      state: present.map { state[$0].pointer }, momentum: present.map { momentum[$0].pointer },
                      parameterCount: parameters[0].count, stateCount: 1)
        }
        /// One iteration: `local` stands for the workers' steps (no fusion: weights arrive unscaled).
        /// With `present`, only those workers take part, as under `--faults`: the strategy sees a
        /// world of P on a communicator of P.
        func step(_ t: Int, present: [Int]? = nil, local: () -> Void = {}) throws {
            let comm = present.map { p in subsets[p.count] ?? InProcessCommunicator(workers: p.count, threads: 1) } ?? self.comm
            if let present { subsets[present.count] = comm }
            let workers = present.map { self.workers($0) } ?? self.workers
            let plan = strategy.plan(step: t, workers: comm.workers)
            let c = SyncContext(step: t, learningRate: 0.1, workers: workers, communicator: comm,
                                fusion: plan == .reduceGradients && compression == nil ? SyncFusion(plan: plan, workers: comm.workers) : SyncFusion(),
                                compression: compression, recorder: recorder)
            recorder.beginIteration(step: t, plan: plan, workers: workers, communicator: comm, present: present)
            try strategy.afterBackward(c)
            local()
            try strategy.afterStep(c)
            recorder.endIteration(c)
        }
        func set(_ k: Int, _ values: [Float]) { parameters[k].load(values) }
    }

    func testTwoWorkersAveragingByHand() throws {
        let run = Run(workers: 2, count: 2, strategy: PeriodicAveraging(levels: [.init(groupSize: 2, period: 2)]))
        try run.step(0)  // anchor: both at (0, 0)
        try run.step(1) { run.set(0, [3, 0]); run.set(1, [0, 4]) }
        try run.step(2)
        try run.step(3) { run.set(0, [2.5, 3]); run.set(1, [2.5, 3]) }
        let records = try run.recorder.collect(run.comm)
        XCTAssertEqual(records.map(\.step), [1, 3])
        // x̄ = (1.5, 2): each worker is 2.5 from it and from the anchor; u = (3, 0), (0, 4) are orthogonal.
        XCTAssertEqual(records[0], SyncRecord(step: 1, epoch: 0.25, kind: .weights, level: 2, global: true, bytes: 4 * 2 + 4 * 1,
                                              effectiveH: 2, pseudoGradientNorm: 2.5, consensusDistance: 2.5, updateCosine: 0, workers: 2))
        // Both moved by (1, 1) from the new anchor (1.5, 2): no disagreement, cosine 1, ‖ū‖ = √2.
        XCTAssertEqual(records[1].effectiveH, 2)
        XCTAssertEqual(records[1].consensusDistance, 0)
        XCTAssertEqual(records[1].updateCosine!, 1, accuracy: 1e-15)
        XCTAssertEqual(records[1].pseudoGradientNorm!, 2.0.squareRoot(), accuracy: 1e-15)
        XCTAssertEqual(try run.recorder.collect(run.comm), [], "collected records are forgotten")
    }

    func testGradientReductionByHand() throws {
        let run = Run(workers: 2, count: 2, strategy: MinibatchSGD())
        run.gradients[0].load([1, 0])
        run.gradients[1].load([0, 1])
        try run.step(0)
        let r = try XCTUnwrap(try run.recorder.collect(run.comm).first)
        // ḡ = (0.5, 0.5): ‖ḡ‖ = √0.5, each gradient √0.5 from it, the two orthogonal.
        XCTAssertEqual(r, SyncRecord(step: 0, epoch: 0.125, kind: .gradients, level: 2, global: true, bytes: 8, effectiveH: 1,
                                     pseudoGradientNorm: 0.5.squareRoot(), consensusDistance: 0.5.squareRoot(), updateCosine: 0, workers: 2))
    }

    func testDiLoCoRecordsItsOuterStep() throws {
        let inner = PostLocalSGD(switchStep: 0, averaging: PeriodicAveraging(levels: [.init(groupSize: 2, period: 2)]))
        let outer = OuterOptimization(inner: inner, parameterCount: 2, outer: AlgorithmConfig.outerOptimizer(momentum: 0.9, nesterov: true),
                                      pseudoGradient: .difference, rate: .schedule(OuterLearningRate(base: 0.7)), stateKey: "outer")
        let run = Run(workers: 2, count: 2, strategy: outer)
        try run.step(0)
        try run.step(1) { run.set(0, [3, 0]); run.set(1, [0, 4]) }
        let r = try XCTUnwrap(try run.recorder.collect(run.comm).first)
        XCTAssertEqual(r.kind, .outer)
        // Δ = x₀ − x̄ = −(1.5, 2); the first momentum is Δ itself.
        XCTAssertEqual(r.pseudoGradientNorm, 2.5)
        XCTAssertEqual(r.outerMomentumNorm, 2.5)
        // The next anchor is the outer step's result, x₀ − 0.7·(0.9·Δ + Δ) = 1.33·(1.5, 2), where
        // every worker now is: a worker that stays there has moved by nothing.
        try run.step(2)
        try run.step(3)
        let next = try XCTUnwrap(try run.recorder.collect(run.comm).first)
        XCTAssertEqual(next.pseudoGradientNorm, 0)
        XCTAssertEqual(next.consensusDistance, 0)
        XCTAssertNil(next.updateCosine, "no worker moved")
    }

    /// With --compress the pseudo-gradients travel encoded, and the record is that of the plain
    /// path: the workers' weights before, the decoded mean after, the outer step's momentum
    /// (fp16 carries these values exactly, so the numbers are the plain path's).
    func testCompressedDiLoCoRecordsItsOuterStepLikeThePlainOne() throws {
        let inner = PostLocalSGD(switchStep: 0, averaging: PeriodicAveraging(levels: [.init(groupSize: 2, period: 2)]))
        let outer = OuterOptimization(inner: inner, parameterCount: 2, outer: AlgorithmConfig.outerOptimizer(momentum: 0.9, nesterov: true),
                                      pseudoGradient: .difference, rate: .schedule(OuterLearningRate(base: 0.7)), stateKey: "outer")
        let run = Run(workers: 2, count: 2, strategy: outer)
        run.compression = PayloadCompressor(codec: try PayloadCodec(kind: .fp16), errorFeedback: false, count: 2, workers: 2,
                                            localWorkers: 0..<2, streams: [.pseudoGradient])
        try run.step(0)
        try run.step(1) { run.set(0, [3, 0]); run.set(1, [0, 4]) }
        let r = try XCTUnwrap(try run.recorder.collect(run.comm).first)
        XCTAssertEqual(r.kind, .outer)
        XCTAssertEqual(r.pseudoGradientNorm, 2.5)
        XCTAssertEqual(r.outerMomentumNorm, 2.5)
        XCTAssertEqual(r.consensusDistance, 2.5, "each worker 2.5 from x̄ = (1.5, 2)")
        XCTAssertEqual(r.codecError, 0)
    }

    /// `--faults`: K = 3, worker 1 away for iterations 2 and 3 and back (at the present workers'
    /// mean, as the trainer starts a joiner) from 4. The average after 3 is over workers 0 and 2
    /// only (its level and `workers` 2, global); worker 1's weights, left at (1, 1), enter no sum.
    func testFaultsRecordOverThePresentWorkersByHand() throws {
        let run = Run(workers: 3, count: 2, strategy: PeriodicAveraging(levels: [.init(groupSize: 3, period: 2)]))
        try run.step(0)
        try run.step(1) { run.set(0, [3, 0]); run.set(1, [0, 3]); run.set(2, [0, 0]) }
        try run.step(2, present: [0, 2])
        try run.step(3, present: [0, 2]) { run.set(0, [3, 1]); run.set(1, [9, 9]); run.set(2, [1, 3]) }
        run.set(1, [2, 2])
        try run.step(4)
        try run.step(5) { run.set(0, [3, 2]); run.set(1, [2, 3]); run.set(2, [1, 1]) }
        let r = try run.recorder.collect(run.comm)
        XCTAssertEqual(r.map(\.step), [1, 3, 5])
        // x̄ = (1, 1): squared distances 5, 5, 2; u = (3, 0), (0, 3), (0, 0): orthogonal.
        XCTAssertEqual(r[0], SyncRecord(step: 1, epoch: 0.25, kind: .weights, level: 3, global: true, bytes: 4 * 2 + 4 * 1,
                                        effectiveH: 2, pseudoGradientNorm: 2.0.squareRoot(), consensusDistance: 2,
                                        updateCosine: 0, workers: 3))
        // Over workers 0 and 2 from the anchor (1, 1): x̄ = (2, 2), u = (2, 0), (0, 2).
        XCTAssertEqual(r[1], SyncRecord(step: 3, epoch: 0.5, kind: .weights, level: 2, global: true, bytes: 4 * 2 + 4 * 1,
                                        effectiveH: 2, pseudoGradientNorm: 2.0.squareRoot(), consensusDistance: 2.0.squareRoot(),
                                        updateCosine: 0, workers: 2))
        // All three again, from the anchor (2, 2) the two present set: u = (1, 0), (0, 1), (−1, −1),
        // x̄ = (2, 2); Σ_{j≠k} u_j·u_k = −4, Σ_{j≠k} ‖u_j‖‖u_k‖ = 2 + 4√2.
        XCTAssertEqual(r[2].level, 3)
        XCTAssertEqual(r[2].workers, 3)
        XCTAssertEqual(r[2].effectiveH, 2)
        XCTAssertEqual(r[2].pseudoGradientNorm, 0)
        XCTAssertEqual(r[2].consensusDistance, (4.0 / 3).squareRoot(), accuracy: 1e-15)
        XCTAssertEqual(r[2].updateCosine!, -4 / (2 + 4 * 2.0.squareRoot()), accuracy: 1e-15)
    }

    /// `--faults` under minibatch SGD: the gradients of the P = 2 present workers, summed and
    /// divided by 2 (not K = 3); the absent worker's gradient enters nothing.
    func testFaultsGradientReductionOverThePresentWorkers() throws {
        let run = Run(workers: 3, count: 2, strategy: MinibatchSGD())
        run.gradients[0].load([1, 0])
        run.gradients[1].load([5, 5])
        run.gradients[2].load([0, 1])
        try run.step(0, present: [0, 2])
        let r = try XCTUnwrap(try run.recorder.collect(run.comm).first)
        XCTAssertEqual(r, SyncRecord(step: 0, epoch: 0.125, kind: .gradients, level: 2, global: true, bytes: 8, effectiveH: 1,
                                     pseudoGradientNorm: 0.5.squareRoot(), consensusDistance: 0.5.squareRoot(), updateCosine: 0,
                                     workers: 2))
    }

    /// A global average also averages every group, so it renews the groups' anchors and H.
    func testHierarchicalLevelsCountFromTheLastAverageCoveringThem() throws {
        let run = Run(workers: 4, count: 3, strategy: PeriodicAveraging(levels: [.init(groupSize: 2, period: 2), .init(groupSize: 4, period: 4)]))
        for t in 0..<8 { try run.step(t) }
        let records = try run.recorder.collect(run.comm)
        XCTAssertEqual(records.map(\.step), [1, 3, 5, 7])
        XCTAssertEqual(records.map(\.level), [2, 4, 2, 4])
        XCTAssertEqual(records.map(\.global), [false, true, false, true])
        XCTAssertEqual(records.map(\.effectiveH), [2, 4, 2, 4])
    }

    /// `combine` against the definitions computed directly in Double: K = 4 random vectors of 7
    /// floats, groups of 2 and of 4, anchors of their own.
    func testStatisticsAgainstADirectComputation() throws {
        var rng = RandomGenerator(seed: 7)
        let k = 4, n = 7
        let x = (0..<k).map { _ in (0..<n).map { _ in Float(rng.nextNormal()) } }
        for g in [2, 4] {
            let anchors = (0..<(k / g)).map { _ in (0..<n).map { _ in Float(rng.nextNormal()) } }
            // The mean as the all-reduce leaves it: Float.
            let means = (0..<(k / g)).map { j in (0..<n).map { i in (0..<g).map { x[j * g + $0][i] }.reduce(0, +) / Float(g) } }
            func d2(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).map { Double($0) - Double($1) }.map { $0 * $0 }.reduce(0, +) }
            var partials: [SyncStatistics.Partial] = []
            for w in 0..<k {
                let (xs, m, a) = (FloatBuffer(x[w]), FloatBuffer(means[w / g]), FloatBuffer(anchors[w / g]))
                partials.append(.init(distanceToMean: SyncStatistics.squaredDistance(xs.pointer, m.pointer, count: n),
                                      update: SyncStatistics.squaredDistance(xs.pointer, a.pointer, count: n),
                                      groupMeanUpdate: SyncStatistics.squaredDistance(m.pointer, a.pointer, count: n)))
                XCTAssertEqual(partials[w].distanceToMean, d2(x[w], means[w / g]), accuracy: 1e-13)
            }
            let s = SyncStatistics.combine(partials, groupSize: g)
            let consensus = ((0..<k).map { d2(x[$0], means[$0 / g]) }.reduce(0, +) / Double(k)).squareRoot()
            let anchorDistance = ((0..<(k / g)).map { d2(anchors[$0], means[$0]) }.reduce(0, +) / Double(k / g)).squareRoot()
            var cosine = 0.0
            for j in 0..<(k / g) {
                let u = (0..<g).map { m in zip(x[j * g + m], anchors[j]).map { Double($0) - Double($1) } }
                var dots = 0.0, norms = 0.0
                for a in 0..<g { for b in 0..<g where a != b {
                    dots += zip(u[a], u[b]).map(*).reduce(0, +)
                    norms += u[a].map { $0 * $0 }.reduce(0, +).squareRoot() * u[b].map { $0 * $0 }.reduce(0, +).squareRoot()
                } }
                cosine += dots / norms / Double(k / g)
            }
            XCTAssertEqual(s.consensusDistance, consensus, accuracy: 1e-12)
            XCTAssertEqual(s.anchorDistance!, anchorDistance, accuracy: 1e-12)
            // The identity takes Σu as G·(x̄ − a) with x̄ rounded to Float: equal to Float rounding.
            XCTAssertEqual(s.updateCosine!, cosine, accuracy: 1e-5, "G = \(g)")
        }
    }

    func testLinesHaveEveryFieldAndNullsForAbsentValues() throws {
        let r = SyncRecord(step: 3, epoch: 0.5, kind: .weights, level: 4, global: true, bytes: 40, effectiveH: 4,
                           pseudoGradientNorm: 1.5, consensusDistance: 0.25, updateCosine: nil)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: JSONEncoder().encode(r)) as? [String: Any])
        XCTAssertEqual(Set(object.keys), ["step", "epoch", "kind", "level", "global", "bytes", "effective_h", "pseudo_gradient_norm",
                                          "consensus_distance", "update_cosine", "outer_momentum_norm", "codec_error", "fragment", "workers"])
        XCTAssertTrue(object["update_cosine"] is NSNull && object["codec_error"] is NSNull && object["fragment"] is NSNull)
        XCTAssertEqual(try JSONDecoder().decode(SyncRecord.self, from: JSONEncoder().encode(r)), r)
        // A line written before `fragment` and `workers` existed still reads, without them.
        let old = #"{"step":3,"epoch":0.5,"kind":"weights","level":4,"global":true,"bytes":40,"effective_h":4,"pseudo_gradient_norm":1.5,"consensus_distance":0.25,"update_cosine":null,"outer_momentum_norm":null,"codec_error":null}"#
        XCTAssertEqual(try JSONDecoder().decode(SyncRecord.self, from: Data(old.utf8)), r)
    }
}
