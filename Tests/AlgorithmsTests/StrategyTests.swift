import Comm
import Tensor
import TestSupport
import XCTest
@testable import Algorithms

/// Strategies on hand-made buffers: what each does at which iteration, against hand-computed values.
final class StrategyTests: XCTestCase {
    /// K workers with 2 parameters, 1 state value and 2 momentum values each; worker k holds k+1 everywhere.
    final class Fixture {
        let k: Int
        let parameters: [FloatBuffer], gradients: [FloatBuffer], state: [FloatBuffer], momentum: [FloatBuffer]
        let comm: InProcessCommunicator
        init(workers: Int) {
            k = workers
            parameters = (0..<workers).map { FloatBuffer([Float($0 + 1), Float(10 * ($0 + 1))]) }
            gradients = (0..<workers).map { FloatBuffer([Float($0), 0]) }
            state = (0..<workers).map { FloatBuffer([Float($0 + 1)]) }
            momentum = (0..<workers).map { FloatBuffer([Float($0 + 1), 1]) }
            comm = InProcessCommunicator(workers: workers, threads: 1)
        }
        var workers: WorkerSet {
            WorkerSet(parameters: parameters.map(\.pointer), gradients: gradients.map(\.pointer),
                      state: state.map(\.pointer), momentum: momentum.map(\.pointer), parameterCount: 2, stateCount: 1)
        }
        func context(_ step: Int, lr: Float = 0.1) -> SyncContext {
            SyncContext(step: step, learningRate: lr, workers: workers, communicator: comm)
        }
        func run(_ s: SyncStrategy, steps: Range<Int>, lr: Float = 0.1) throws {
            for t in steps { try s.afterBackward(context(t, lr: lr)); try s.afterStep(context(t, lr: lr)) }
        }
    }

    func testMinibatchAveragesGradientsEveryStep() throws {
        let f = Fixture(workers: 4)
        let s = MinibatchSGD()
        XCTAssertEqual(s.plan(step: 0, workers: 4), .reduceGradients)
        var c = f.context(0)
        c.fusion = SyncFusion(plan: s.plan(step: 0, workers: 4), workers: 4)
        XCTAssertEqual(c.fusion.gradientDivisor, 4)
        try s.afterBackward(c)
        // The sum travels; the optimizer divides by K in its own pass.
        for g in f.gradients { XCTAssertEqual(g.array, [6, 0]) }
        XCTAssertEqual(PostLocalSGD(switchStep: 1, averaging: PeriodicAveraging(levels: [.init(groupSize: 4, period: 2)]))
            .plan(step: 1, workers: 4), .averageWeights(groupSize: 4, global: true), "the local phase averages weights, not gradients")
        XCTAssertEqual(f.parameters[3].array, [4, 40], "weights untouched")
        XCTAssertEqual(s.syncs, 1)
        // Without the fusion the strategy takes the mean itself.
        let g = Fixture(workers: 4)
        try s.afterBackward(g.context(0))
        for b in g.gradients { XCTAssertEqual(b.array, [1.5, 0]) }
    }

    func testLocalAveragesWeightsOnlyEveryHSteps() throws {
        let f = Fixture(workers: 4)
        let s = PeriodicAveraging(levels: [.init(groupSize: 4, period: 3)])
        try f.run(s, steps: 0..<2)
        XCTAssertEqual(f.parameters[0].array, [1, 10])
        try f.run(s, steps: 2..<3)
        for p in f.parameters { XCTAssertEqual(p.array, [2.5, 25]) }
        for st in f.state { XCTAssertEqual(st.array, [2.5], "BatchNorm statistics averaged by default") }
        XCTAssertEqual(f.momentum[3].array, [4, 1], "momentum stays local by default")
        XCTAssertEqual(s.syncs, 1)
        XCTAssertEqual(s.lastGlobalAverageStep, 2)
    }

    /// At an averaging step of groups of a power of two the trainer's fusion has the optimizer
    /// scale the weights by 1/G and the strategy sums them; elsewhere, or when the driver did not
    /// scale, it takes the mean itself. Both give the group mean.
    func testAveragingStepsAskForPrescaledWeightsAndSumThem() throws {
        let s = PeriodicAveraging(levels: [.init(groupSize: 2, period: 2), .init(groupSize: 4, period: 4)])
        XCTAssertEqual((0..<4).map { s.plan(step: $0, workers: 4) },
                       [.none, .averageWeights(groupSize: 2, global: false), .none, .averageWeights(groupSize: 4, global: true)])
        XCTAssertEqual((0..<8).map { SyncFusion(plan: s.plan(step: $0, workers: 4), workers: 4).parameterScale },
                       [1, 0.5, 1, 0.25, 1, 0.5, 1, 0.25])
        let lone = PeriodicAveraging(levels: [.init(groupSize: 1, period: 4)])
        XCTAssertEqual(SyncFusion(plan: lone.plan(step: 3, workers: 1), workers: 1), SyncFusion(), "a lone worker never averages")
        XCTAssertEqual(SyncFusion(plan: .averageWeights(groupSize: 3, global: true), workers: 3).parameterScale, 1,
                       "1/3 is not exact: the all-reduce divides")

        let scaled = Fixture(workers: 4)
        for p in scaled.parameters { for i in 0..<2 { p.pointer[i] *= 0.25 } }  // what the optimizer did
        var c = scaled.context(3)
        c.fusion = SyncFusion(plan: s.plan(step: 3, workers: 4), workers: 4)
        try s.afterStep(c)
        for p in scaled.parameters { XCTAssertEqual(p.array, [2.5, 25]) }
        let unscaled = Fixture(workers: 4)
        try s.afterStep(unscaled.context(3))
        for p in unscaled.parameters { XCTAssertEqual(p.array, [2.5, 25]) }
        XCTAssertEqual(PostLocalSGD(switchStep: 4, averaging: s).plan(step: 3, workers: 4), .reduceGradients,
                       "minibatch phase: no weight averaging")
    }

    func testSyncPolicies() throws {
        let f = Fixture(workers: 2)
        try PeriodicAveraging(levels: [.init(groupSize: 2, period: 1)], batchNormSync: .first, momentumSync: .average)
            .afterStep(f.context(0))
        XCTAssertEqual(f.state.map(\.array), [[1], [1]])
        XCTAssertEqual(f.momentum.map(\.array), [[1.5, 1], [1.5, 1]])
        let g = Fixture(workers: 2)
        try PeriodicAveraging(levels: [.init(groupSize: 2, period: 1)], batchNormSync: .local, momentumSync: .reset)
            .afterStep(g.context(0))
        XCTAssertEqual(g.state.map(\.array), [[1], [2]])
        XCTAssertEqual(g.momentum.map(\.array), [[0, 0], [0, 0]])
    }

    func testHierarchyPicksTheWidestDueLevel() throws {
        let f = Fixture(workers: 4)
        let s = PeriodicAveraging(levels: [.init(groupSize: 2, period: 2), .init(groupSize: 4, period: 6)])
        try f.run(s, steps: 0..<2) // t = 2: groups
        XCTAssertEqual(f.parameters.map { $0[0] }, [1.5, 1.5, 3.5, 3.5])
        try f.run(s, steps: 2..<6) // t = 4: groups again (no change), t = 6: all
        XCTAssertEqual(f.parameters.map { $0[0] }, [2.5, 2.5, 2.5, 2.5])
        XCTAssertEqual(s.syncs, 3)
        XCTAssertEqual(s.lastGlobalAverageStep, 5)
    }

    func testConfigBuildsHierarchyLevels() throws {
        var c = AlgorithmConfig.settings(.hierarchical, localSteps: 2, groupSize: [2, 4], globalEvery: [3, 5])
        XCTAssertEqual(c.levels(workers: 8), [.init(groupSize: 2, period: 2), .init(groupSize: 4, period: 6),
                                             .init(groupSize: 8, period: 30)])
        c.groupSize = [3]
        XCTAssertThrowsError(try c.validate(workers: 8)) { XCTAssertTrue("\($0)".contains("group_size 3")) }
    }

    func testPostLocalSwitchesAtTheGivenIteration() throws {
        let f = Fixture(workers: 2)
        let s = PostLocalSGD(switchStep: 2, averaging: PeriodicAveraging(levels: [.init(groupSize: 2, period: 2)], firstStep: 2))
        try f.run(s, steps: 0..<2)
        XCTAssertEqual(s.minibatch.syncs, 2)
        XCTAssertEqual(f.parameters[1].array, [2, 20], "minibatch phase leaves weights to the optimizer")
        try f.run(s, steps: 2..<3)
        XCTAssertEqual(s.averaging.syncs, 0, "periods count from the switch: first average at iteration 3")
        try f.run(s, steps: 3..<4)
        XCTAssertEqual(s.averaging.syncs, 1)
        XCTAssertEqual(s.syncs, 3)
    }

    func testSlowMoUpdateMatchesHandComputation() throws {
        let f = Fixture(workers: 2)
        let inner = PostLocalSGD(switchStep: 0, averaging: PeriodicAveraging(levels: [.init(groupSize: 2, period: 1)]))
        let s = SlowMo(inner: inner, parameterCount: 2, slowLearningRate: 2, slowMomentum: 0.5)
        try s.afterBackward(f.context(0, lr: 0.1)) // anchor x₀ = worker 0's weights (1, 10)
        // Workers moved (as if by their optimizers) before the average:
        f.parameters[0][0] = 2; f.parameters[1][0] = 4
        try s.afterStep(f.context(0, lr: 0.1))
        // x̄₀ = 3; d = (1 − 3)/0.1 = −20; u = −20; x = 1 − 2·0.1·(−20) = 5
        // x̄₁ = (10 + 20)/2 = 15; d = (10 − 15)/0.1 = −50; u = −50; x = 10 + 10 = 20
        for p in f.parameters { assertClose(p.array, [5, 20], relative: 1e-5) }
        f.parameters[0][0] = 5; f.parameters[1][0] = 7
        f.parameters[0][1] = 20; f.parameters[1][1] = 20
        try s.afterStep(f.context(1, lr: 0.1))
        // x̄ = 6; d = (5 − 6)/0.1 = −10; u = 0.5·(−20) − 10 = −20; x = 5 − 0.2·(−20) = 9
        // second coordinate: d = 0, u = −25, x = 20 + 5 = 25
        for p in f.parameters { assertClose(p.array, [9, 25], relative: 1e-5) }
        let saved = s.saveState()
        XCTAssertEqual(saved.buffers["slowmo.u"]!, [-20, -25])
        let other = SlowMo(inner: PostLocalSGD(switchStep: 0, averaging: PeriodicAveraging(levels: [.init(groupSize: 2, period: 1)])),
                           parameterCount: 2, slowLearningRate: 2, slowMomentum: 0.5)
        try other.restoreState(saved)
        XCTAssertEqual(other.saveState(), saved)
        XCTAssertThrowsError(try SlowMo(inner: inner, parameterCount: 3, slowLearningRate: 1, slowMomentum: 0.5).restoreState(saved))
    }

    /// One worker: SlowMo is Lookahead (Zhang et al. 2019). Every H steps x ← x₀ + α(x − x₀)
    /// with β = 0; with β > 0 the slow momentum acts on the lone worker's pseudo-gradient.
    func testSlowMoWithOneWorkerIsLookahead() throws {
        var config = AlgorithmConfig.settings(.slowmo, localSteps: 2, slowmoLr: 0.5, slowmoMomentum: 0)
        let f = Fixture(workers: 1)  // x = (1, 10)
        let s = try config.makeStrategy(workers: 1, parameterCount: 2, stepsPerEpoch: 1)
        try s.afterBackward(f.context(0))  // anchor x₀ = (1, 10)
        f.parameters[0][0] = 2  // as if by the optimizer
        try s.afterStep(f.context(0))
        XCTAssertEqual(f.parameters[0].array, [2, 10], "no slow step before H steps")
        try s.afterBackward(f.context(1))
        f.parameters[0][0] = 3; f.parameters[0][1] = 14
        try s.afterStep(f.context(1))
        // x ← x₀ + 0.5·(x − x₀) = (1 + 1, 10 + 2)
        assertClose(f.parameters[0].array, [2, 12], relative: 1e-6)
        XCTAssertEqual(s.syncs, 0, "nothing to communicate")
        XCTAssertEqual(f.comm.counters.bytes, 0)

        config.slowmoMomentum = 0.5
        config.slowmoLr = 1
        let g = Fixture(workers: 1)
        let m = try config.makeStrategy(workers: 1, parameterCount: 2, stepsPerEpoch: 1)
        for (t, x) in [(0, Float(3)), (1, 5), (2, 6), (3, 4)] {
            try m.afterBackward(g.context(t, lr: 0.1))
            g.parameters[0][0] = x
            try m.afterStep(g.context(t, lr: 0.1))
            if t == 1 {
                // d = (1 − 5)/0.1 = −40, u = −40, x₀ = 1 − 0.1·(−40) = 5
                assertClose(g.parameters[0].array, [5, 10], relative: 1e-6)
            }
        }
        // d = (5 − 4)/0.1 = 10, u = 0.5·(−40) + 10 = −10, x₀ = 5 − 0.1·(−10) = 6
        assertClose(g.parameters[0].array, [6, 10], relative: 1e-6)
    }

    /// One worker: the averaging points of local SGD still come, with the mean of one replica
    /// being itself: weights untouched, nothing sent, momentum reset if the policy says so.
    func testALoneWorkerKeepsItsWeightsAndAppliesTheMomentumPolicy() throws {
        let f = Fixture(workers: 1)
        let s = PeriodicAveraging(levels: [.init(groupSize: 1, period: 2)], momentumSync: .reset)
        try f.run(s, steps: 0..<1)
        XCTAssertEqual(f.momentum[0].array, [1, 1], "not an averaging step")
        try f.run(s, steps: 1..<2)
        XCTAssertEqual(f.momentum[0].array, [0, 0])
        XCTAssertEqual(f.parameters[0].array, [1, 10])
        XCTAssertEqual(s.lastGlobalAverageStep, 1)
        XCTAssertEqual(s.syncs, 0)
        XCTAssertEqual(f.comm.counters.bytes, 0)
    }
}
