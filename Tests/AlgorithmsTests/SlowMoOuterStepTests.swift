import XCTest
import Comm
import Optim
import Tensor
@testable import Algorithms

/// SlowMo's outer step as an ordinary `Optimizer` step gives bitwise the anchor and weights of the
/// formula it replaced, and the strategy state keeps its counters as exact integers.
final class SlowMoOuterStepTests: XCTestCase {
    /// The outer step as SlowMo wrote it before it became an `Optimizer` step (the reference).
    static func referenceStep(x0: inout [Float], u: inout [Float], average: [Float], gamma: Float,
                              alpha: Float, beta: Float, nesterov: Bool) {
        let alphaGamma = alpha * gamma
        for i in 0..<x0.count {
            let d = (x0[i] - average[i]) / gamma
            u[i] = beta * u[i] + d
            x0[i] -= alphaGamma * (nesterov ? beta * u[i] + d : u[i])
        }
    }

    /// One worker (the average is its weights) for several global averages: between them the
    /// weights move randomly, the learning rate changes (including a power of two); anchor, slow
    /// momentum and weights match the reference bit for bit, heavy ball and Nesterov.
    func testOuterOptimizerStepIsBitwiseTheSlowMomentumFormula() throws {
        let n = 257
        for nesterov in [false, true] {
            for (alpha, beta) in [(Float(1), Float(0.5)), (0.7, 0.9), (1.3, 0)] {
                var rng = RandomGenerator(seed: nesterov ? 11 : 7)
                let weights = FloatBuffer((0..<n).map { _ in rng.nextNormal() })
                let other = [FloatBuffer(count: n), FloatBuffer(count: n), FloatBuffer(count: n)]
                let workers = WorkerSet(parameters: [weights.pointer], gradients: [other[0].pointer], state: [other[1].pointer],
                                        momentum: [other[2].pointer], parameterCount: n, stateCount: n)
                let comm = InProcessCommunicator(workers: 1, threads: 1)
                let inner = PostLocalSGD(switchStep: 0, averaging: PeriodicAveraging(levels: [.init(groupSize: 1, period: 2)]))
                let s = SlowMo(inner: inner, parameterCount: n, slowLearningRate: alpha, slowMomentum: beta, nesterov: nesterov)
                var x0 = weights.array, u = [Float](repeating: 0, count: n)
                let rates: [Float] = [0.1, 0.1, 0.25, 0.25, 0.037, 0.037, 0.5, 0.5, 0.0123, 0.0123, 3, 3]
                for (t, gamma) in rates.enumerated() {
                    let c = SyncContext(step: t, learningRate: gamma, workers: workers, communicator: comm)
                    try s.afterBackward(c)
                    for i in 0..<n { weights[i] += gamma * rng.nextNormal() }  // as if by the inner optimizer
                    let average = weights.array
                    try s.afterStep(c)
                    if t % 2 == 1 {
                        Self.referenceStep(x0: &x0, u: &u, average: average, gamma: gamma, alpha: alpha, beta: beta,
                                           nesterov: nesterov)
                        XCTAssertEqual(weights.array.map(\.bitPattern), x0.map(\.bitPattern), "weights, step \(t)")
                    } else {
                        XCTAssertEqual(weights.array.map(\.bitPattern), average.map(\.bitPattern), "no outer step at \(t)")
                    }
                }
                let state = s.saveState()
                XCTAssertEqual(state.buffers["slowmo.u"]!.map(\.bitPattern), u.map(\.bitPattern), "slow momentum")
                XCTAssertEqual(state.buffers["slowmo.x0"]!.map(\.bitPattern), x0.map(\.bitPattern), "anchor")
            }
        }
    }

    /// The study's settings map onto the outer optimizer config and back.
    func testSlowMoSettingsAreTheOuterOptimizerConfig() throws {
        var c = AlgorithmConfig.settings(.local, slowmoMomentum: 0.5)
        XCTAssertEqual(c.slowmoOuterOptimizer, AlgorithmConfig.outerOptimizer(momentum: 0.5, nesterov: false))
        c.slowmoMomentum = 0.9
        c.slowmoNesterov = true
        XCTAssertEqual(c.slowmoOuterOptimizer.momentum, 0.9)
        XCTAssertTrue(c.slowmoOuterOptimizer.nesterov)
        XCTAssertEqual(c.slowmoOuterOptimizer.weightDecay, 0)
        XCTAssertEqual(c.slowmoOuterOptimizer.momentumForm, .pytorch)
        c.kind = .slowmo
        let s = try XCTUnwrap(try c.makeStrategy(workers: 2, parameterCount: 3, stepsPerEpoch: 1) as? SlowMo)
        XCTAssertEqual(s.outer.config, c.slowmoOuterOptimizer)
    }

    /// Counters are integers: a step past 2^24 survives a save and restore exactly, and the Float
    /// buffer older checkpoints used is still read.
    func testLastGlobalAverageStepIsAnExactInteger() throws {
        let big = (1 << 24) + 1
        let s = PeriodicAveraging(levels: [.init(groupSize: 1, period: 1)])
        let workers = WorkerSet(parameters: [FloatBuffer(count: 1).pointer], gradients: [FloatBuffer(count: 1).pointer],
                                state: [FloatBuffer(count: 1).pointer], momentum: [FloatBuffer(count: 1).pointer],
                                parameterCount: 1, stateCount: 1)
        try s.afterStep(SyncContext(step: big, learningRate: 0.1, workers: workers,
                                    communicator: InProcessCommunicator(workers: 1, threads: 1)))
        let saved = s.saveState()
        XCTAssertEqual(saved.lastGlobalAverageStep, big)
        XCTAssertTrue(saved.buffers.isEmpty)
        let decoded = try JSONDecoder().decode(StrategyState.self, from: JSONEncoder().encode(saved))
        let restored = PeriodicAveraging(levels: [.init(groupSize: 1, period: 1)])
        try restored.restoreState(decoded)
        XCTAssertEqual(restored.lastGlobalAverageStep, big)

        let old = #"{"syncs": 3, "gradientReductions": 0, "buffers": {"lastGlobalAverageStep": [40]}}"#
        let legacy = PeriodicAveraging(levels: [.init(groupSize: 1, period: 1)])
        try legacy.restoreState(JSONDecoder().decode(StrategyState.self, from: Data(old.utf8)))
        XCTAssertEqual(legacy.lastGlobalAverageStep, 40)
        XCTAssertEqual(legacy.syncs, 3)
    }
}
