import Comm
import Optim
import Tensor
import TestSupport
import XCTest
@testable import Algorithms

/// Streaming DiLoCo's lines of `syncs.jsonl`: one per fragment synchronization, by hand; P = 1
/// against plain DiLoCo's lines; each fragment's statistics against the definitions restricted
/// to its coordinates, with overlap (the weights as sent).
final class StreamingSyncRecordTests: XCTestCase {
    /// K workers of `count` weights and one BatchNorm value each, driven as the trainer drives a
    /// strategy (its fusion of the plan applied to the local moves), with a record.
    final class Run {
        let w: WorkerBuffers
        let others: [FloatBuffer]
        let comm: InProcessCommunicator
        let strategy: SyncStrategy
        let recorder: SyncRecorder
        init(workers: Int, count: Int, strategy: SyncStrategy, values: (Int, Int) -> Float = { _, _ in 0 }) {
            w = WorkerBuffers(workers: workers, count: count, values: values)
            others = (0..<workers).flatMap { _ in [FloatBuffer(count: count), FloatBuffer(count: 1), FloatBuffer(count: count)] }
            comm = InProcessCommunicator(workers: workers, threads: 1)
            self.strategy = strategy
            strategy.prepare(localWorkers: workers)
            recorder = SyncRecorder(workers: workers, localWorkers: 0..<workers, count: count, stepsPerEpoch: 4,
                                    groupSizes: strategy.averagingGroupSizes,
                                    mostRecords: (strategy as? StreamingDiLoCo)?.fragments.mostSynchronizations(inIterations: 5))
        }
        var workers: WorkerSet {
            let k = w.buffers.count
            return WorkerSet(parameters: w.pointers, gradients: (0..<k).map { others[3 * $0].pointer },
                             state: (0..<k).map { others[3 * $0 + 1].pointer }, momentum: (0..<k).map { others[3 * $0 + 2].pointer },
                             parameterCount: w.count, stateCount: 1)
        }
        /// Iteration `t`: `move` is each worker's local step, applied before the fusion's scale.
        func step(_ t: Int, move: (_ worker: Int, _ index: Int) -> Float = { _, _ in 0 }) throws {
            let plan = strategy.plan(step: t, workers: comm.workers)
            let fusion = SyncFusion(plan: plan, workers: comm.workers)
            let c = SyncContext(step: t, learningRate: 0.1, workers: workers, communicator: comm, fusion: fusion, recorder: recorder)
            recorder.beginIteration(step: t, plan: plan, workers: workers, communicator: comm)
            try strategy.afterBackward(c)
            for k in w.buffers.indices {
                for i in 0..<w.count { w.buffers[k][i] = (w.buffers[k][i] + move(k, i)) * fusion.parameterScale }
            }
            try strategy.afterStep(c)
            recorder.endIteration(c)
        }
    }

    func streaming(layers: [Range<Int>], fragments: Int, period: Int, overlap: Int = 0, mix: Float = 0.5,
                   outer: OuterOptimizerKind = .nesterov) -> StreamingDiLoCo {
        var c = AlgorithmConfig.settings(.diloco, localSteps: period)
        c.outerOptimizer = outer
        return StreamingDiLoCo(fragments: StreamingFragments(layers: layers, fragments: fragments, period: period),
                               overlap: overlap, mix: mix, outer: c.dilocoOuterOptimizer, rate: OuterLearningRate(base: c.resolvedOuterLr))
    }

    /// K = 2, three layers of one weight, P = 2 (fragment 0: weights 0 and 2; fragment 1: weight
    /// 1, t₁ = 1), H = 2, outer Nesterov (η = 0.7, μ = 0.9), everything from 0.
    func testFragmentLinesByHand() throws {
        let s = streaming(layers: [0..<1, 1..<2, 2..<3], fragments: 2, period: 2)
        let run = Run(workers: 2, count: 3, strategy: s)
        let moves: [[Float]] = [[3, 1, 0], [0, 3, 4]]
        try run.step(0) { k, i in moves[k][i] }
        try run.step(1)
        try run.step(2)
        let r = try run.recorder.collect(run.comm)
        XCTAssertEqual(r.map(\.step), [0, 1, 2])
        XCTAssertEqual(r.map(\.fragment), [1, 0, 1])
        // Fragment 1 after t = 1 (its first period is t₁ = 1 long): the workers sent 1 and 3,
        // x̄ = 2 and x₀ = 0, so Δ = −2, both 1 from x̄, both moved the same way; the outer
        // momentum is Δ; one float travelled.
        XCTAssertEqual(r[0], SyncRecord(step: 0, epoch: 0.25, kind: .outer, level: 2, global: true, bytes: 4, effectiveH: 1,
                                        pseudoGradientNorm: 2, consensusDistance: 1, updateCosine: 1, outerMomentumNorm: 2,
                                        fragment: 1, workers: 2))
        // Fragment 0 after t = 2: (3, 0) and (0, 4), x̄ = (1.5, 2), x₀ = 0; its two floats and
        // BatchNorm's one travelled.
        XCTAssertEqual(r[1], SyncRecord(step: 1, epoch: 0.5, kind: .outer, level: 2, global: true, bytes: 4 * 2 + 4, effectiveH: 2,
                                        pseudoGradientNorm: 2.5, consensusDistance: 2.5, updateCosine: 0, outerMomentumNorm: 2.5,
                                        fragment: 0, workers: 2))
        // One round of the two fragments moved what one DiLoCo synchronization moves: 3 weights + 1.
        XCTAssertEqual(r[0].bytes + r[1].bytes, 4 * 3 + 4)
        // Fragment 1 again after t = 3: every worker holds the new x₀, so nothing moved; the
        // momentum decayed to μ·Δ.
        XCTAssertEqual(r[2].effectiveH, 2)
        XCTAssertEqual(r[2].pseudoGradientNorm, 0)
        XCTAssertEqual(r[2].consensusDistance, 0)
        XCTAssertNil(r[2].updateCosine)
        XCTAssertEqual(r[2].outerMomentumNorm!, 1.8, accuracy: 1e-6)
    }

    /// P = 1 without overlap is DiLoCo, and so are its lines, but for `fragment` (0 here, null
    /// there): K = 4 (DiLoCo's average fused into the local step: weights scaled by 1/4, summed)
    /// and K = 3, outer Nesterov and Adam, 12 iterations of seeded moves.
    func testOneFragmentGivesDiLoCosLines() throws {
        for (workers, outer) in [(4, OuterOptimizerKind.nesterov), (3, .nesterov), (4, .adam)] {
            var c = AlgorithmConfig.settings(.diloco, localSteps: 3)
            c.outerOptimizer = outer
            let diloco = try c.makeStrategy(workers: workers, parameterCount: 9, stepsPerEpoch: 4)
            var lines: [[SyncRecord]] = []
            for s in [diloco, streaming(layers: [0..<4, 4..<9], fragments: 1, period: 3, outer: outer)] {
                let run = Run(workers: workers, count: 9, strategy: s) { _, i in Float(i) / 8 }
                var rng = RandomGenerator(seed: 5)
                let moves = (0..<12).map { _ in (0..<workers).map { _ in (0..<9).map { _ in 0.1 * rng.nextNormal() } } }
                for t in 0..<12 { try run.step(t) { k, i in moves[t][k][i] } }
                lines.append(try run.recorder.collect(run.comm))
            }
            XCTAssertEqual(lines[1].map(\.fragment), [0, 0, 0, 0], "K \(workers), \(outer)")
            XCTAssertEqual(lines[0].map(\.kind), [.outer, .outer, .outer, .outer])
            XCTAssertEqual(lines[1].map { var r = $0; r.fragment = nil; return r }, lines[0], "K \(workers), \(outer)")
            XCTAssertTrue(lines[0].allSatisfy { ($0.consensusDistance > 0) && ($0.pseudoGradientNorm ?? 0) > 0 })
        }
    }

    /// K = 3, P = 2 over layers of 3, 1 and 3 weights, H = 4, τ = 1, α = 0.25, outer Nesterov,
    /// 12 iterations: each line's statistics are the definitions over its fragment's coordinates,
    /// from the weights as sent at its iteration (before the mix τ later) and x₀,p before the
    /// outer step, written out on arrays. Sums in Double in another order: 1e-12 relative; the
    /// cosine's identity takes Σu as K·(x̄ − x₀) with x̄ in Float: 1e-5.
    func testFragmentStatisticsAreTheDefinitionsOnItsCoordinates() throws {
        let layers = [0..<3, 3..<4, 4..<7]
        let f = StreamingFragments(layers: layers, fragments: 2, period: 4)
        let run = Run(workers: 3, count: 7, strategy: streaming(layers: layers, fragments: 2, period: 4, overlap: 1, mix: 0.25)) { k, i in
            Float(k) - Float(i) / 4
        }
        var x = run.w.arrays, x0 = x[0], u = [Float](repeating: 0, count: 7)
        var inFlight: [(p: Int, after: Int, values: [Float])] = []
        var expected: [SyncRecord] = []
        var rng = RandomGenerator(seed: 2)
        for step in 0..<12 {
            let moves = (0..<3).map { _ in (0..<7).map { _ in 0.01 * rng.nextNormal() } }
            try run.step(step) { k, i in moves[k][i] }
            for k in 0..<3 { for i in 0..<7 { x[k][i] += moves[k][i] } }
            for job in inFlight where job.after == step {
                for i in f.ranges[job.p].joined() { for k in 0..<3 { x[k][i] = 0.25 * x[k][i] + 0.75 * job.values[i] } }
            }
            inFlight.removeAll { $0.after == step }
            for p in 0..<2 where f.synchronizes(p, afterStep: step) {
                let coordinates = Array(f.ranges[p].joined())
                let mean = coordinates.map { (x[0][$0] + x[1][$0] + x[2][$0]) / 3 }
                func d2(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) }
                let xs = (0..<3).map { k in coordinates.map { Double(x[k][$0]) } }, m = mean.map(Double.init)
                let a = coordinates.map { Double(x0[$0]) }
                let updates = xs.map { zip($0, a).map(-) }
                var dots = 0.0, norms = 0.0
                for j in 0..<3 { for k in 0..<3 where j != k {
                    dots += zip(updates[j], updates[k]).map(*).reduce(0, +)
                    norms += d2(updates[j], a.map { _ in 0 }).squareRoot() * d2(updates[k], a.map { _ in 0 }).squareRoot()
                } }
                for (n, i) in coordinates.enumerated() {
                    let delta = x0[i] - mean[n]
                    u[i] = 0.9 * u[i] + delta
                    x0[i] -= 0.7 * (0.9 * u[i] + delta)
                }
                inFlight.append((p, step + 1, x0))
                expected.append(SyncRecord(step: step, epoch: Double(step + 1) / 4, kind: .outer, level: 3, global: true,
                                           bytes: 4 * coordinates.count + (p == 0 ? 4 : 0), effectiveH: step < 4 ? step + 1 : 4,
                                           pseudoGradientNorm: d2(a, m).squareRoot(),
                                           consensusDistance: (xs.map { d2($0, m) }.reduce(0, +) / 3).squareRoot(),
                                           updateCosine: dots / norms,
                                           outerMomentumNorm: coordinates.map { Double(u[$0]) * Double(u[$0]) }.reduce(0, +).squareRoot(),
                                           fragment: p, workers: 3))
            }
        }
        let got = try run.recorder.collect(run.comm)
        XCTAssertEqual(got.map(\.step), [1, 3, 5, 7, 9, 11], "fragment 1 (t₁ = 2) after t = 2, 6, 10; fragment 0 after 4, 8, 12")
        XCTAssertEqual(got.map(\.effectiveH), [2, 4, 4, 4, 4, 4])
        XCTAssertEqual(got.count, expected.count)
        for (g, e) in zip(got, expected) {
            let what = "step \(g.step)"
            XCTAssertEqual([g.step, g.level, g.bytes, g.effectiveH, g.fragment, g.workers], [e.step, e.level, e.bytes, e.effectiveH, e.fragment, e.workers], what)
            XCTAssertEqual(g.kind, e.kind)
            XCTAssertEqual(g.pseudoGradientNorm!, e.pseudoGradientNorm!, accuracy: 1e-12 * e.pseudoGradientNorm!, what)
            XCTAssertEqual(g.consensusDistance, e.consensusDistance, accuracy: 1e-12 * e.consensusDistance, what)
            XCTAssertEqual(g.outerMomentumNorm!, e.outerMomentumNorm!, accuracy: 1e-12 * e.outerMomentumNorm!, what)
            XCTAssertEqual(g.updateCosine!, e.updateCosine!, accuracy: 1e-5, what)
        }
    }

    /// With P > H several fragments synchronize after one iteration: a line each, in fragment
    /// order, the bytes of BatchNorm's average in fragment 0's only.
    func testFragmentsOfOneIterationEachGetALine() throws {
        let s = streaming(layers: [0..<1, 1..<2, 2..<3, 3..<4], fragments: 4, period: 2)
        XCTAssertEqual(s.fragments.offsets, [0, 0, 1, 1])
        XCTAssertEqual(s.fragments.mostSynchronizations(inIterations: 5), 12, "each of the 4 at most 3 times in 5 iterations")
        let run = Run(workers: 2, count: 4, strategy: s)
        for t in 0..<4 { try run.step(t) { k, i in Float(k * 4 + i) } }
        let r = try run.recorder.collect(run.comm)
        XCTAssertEqual(r.map(\.step), [0, 0, 1, 1, 2, 2, 3, 3])
        XCTAssertEqual(r.map(\.fragment), [2, 3, 0, 1, 2, 3, 0, 1])
        XCTAssertEqual(r.map(\.bytes), [4, 4, 8, 4, 4, 4, 8, 4])
        XCTAssertEqual(r.map(\.effectiveH), [1, 1, 2, 2, 2, 2, 2, 2])
    }
}
