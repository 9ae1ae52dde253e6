import XCTest
import Comm
import Optim
import Tensor
@testable import Algorithms

/// DiLoCo's outer step against its formulas written out by hand (PyTorch's SGD semantics), its
/// outer learning-rate schedule, and its settings.
final class DiLoCoOuterStepTests: XCTestCase {
    /// One worker, H = 2, random inner moves: after every outer step the weights are, bit for bit,
    /// u ← μ·u + Δ, x₀ ← x₀ − η·(μ·u + Δ) (nesterov) or x₀ ← x₀ − η·u (sgd), Δ = x₀ − x̄, whatever
    /// the inner rate; between outer steps nothing happens.
    func testOuterStepIsPyTorchSGDOnThePseudoGradient() throws {
        let n = 131
        for (kind, eta, mu) in [(OuterOptimizerKind.nesterov, Float(0.7), Float(0.9)), (.sgd, 0.5, 0.5), (.sgd, 1.3, 0)] {
            var c = AlgorithmConfig()
            c.kind = .diloco
            c.localSteps = 2
            c.outerOptimizer = kind
            c.outerLr = eta
            c.outerMomentum = mu
            let s = try c.makeStrategy(workers: 1, parameterCount: n, stepsPerEpoch: 4)
            var rng = RandomGenerator(seed: 3)
            let weights = FloatBuffer((0..<n).map { _ in rng.nextNormal() })
            let other = [FloatBuffer(count: n), FloatBuffer(count: n), FloatBuffer(count: n)]
            let workers = WorkerSet(parameters: [weights.pointer], gradients: [other[0].pointer], state: [other[1].pointer],
                                    momentum: [other[2].pointer], parameterCount: n, stateCount: n)
            let comm = InProcessCommunicator(workers: 1, threads: 1)
            var x0 = weights.array, u = [Float](repeating: 0, count: n)
            for (t, gamma) in [Float(0.1), 0.1, 0.03, 0.03, 0.5, 0.5, 0.001, 0.001].enumerated() {
                let context = SyncContext(step: t, learningRate: gamma, workers: workers, communicator: comm)
                try s.afterBackward(context)
                for i in 0..<n { weights[i] += gamma * rng.nextNormal() }
                let average = weights.array
                try s.afterStep(context)
                guard t % 2 == 1 else {
                    XCTAssertEqual(weights.array.map(\.bitPattern), average.map(\.bitPattern), "no outer step at \(t)")
                    continue
                }
                for i in 0..<n {
                    let delta = x0[i] - average[i]
                    u[i] = mu * u[i] + delta
                    x0[i] -= eta * (kind == .nesterov ? mu * u[i] + delta : u[i])
                }
                XCTAssertEqual(weights.array.map(\.bitPattern), x0.map(\.bitPattern), "\(kind) η \(eta) μ \(mu), step \(t)")
            }
            XCTAssertEqual(s.saveState().buffers["outer.u"]?.map(\.bitPattern), u.map(\.bitPattern), "outer momentum")
        }
    }

    /// Outer Adam: x₀ ← x₀ − η·m̂/(√v̂ + ε) on Δ (bias-corrected moments), against a Double
    /// reference; its second moment and step count are in the strategy's state.
    func testOuterAdamIsAdamOnThePseudoGradient() throws {
        let n = 7
        var c = AlgorithmConfig()
        c.kind = .diloco
        c.localSteps = 1
        c.outerOptimizer = .adam
        c.outerLr = 0.01
        let s = try c.makeStrategy(workers: 1, parameterCount: n, stepsPerEpoch: 4)
        var rng = RandomGenerator(seed: 9)
        let weights = FloatBuffer((0..<n).map { _ in rng.nextNormal() })
        let other = [FloatBuffer(count: n), FloatBuffer(count: n), FloatBuffer(count: n)]
        let workers = WorkerSet(parameters: [weights.pointer], gradients: [other[0].pointer], state: [other[1].pointer],
                                momentum: [other[2].pointer], parameterCount: n, stateCount: n)
        let comm = InProcessCommunicator(workers: 1, threads: 1)
        var x0 = weights.array.map(Double.init), m = [Double](repeating: 0, count: n), v = m
        for t in 1...4 {
            let context = SyncContext(step: t - 1, learningRate: 0.1, workers: workers, communicator: comm)
            try s.afterBackward(context)
            for i in 0..<n { weights[i] += 0.05 * rng.nextNormal() }
            let average = weights.array.map(Double.init)
            try s.afterStep(context)
            for i in 0..<n {
                let delta = x0[i] - average[i]
                m[i] = 0.9 * m[i] + 0.1 * delta
                v[i] = 0.999 * v[i] + 0.001 * delta * delta
                let mHat = m[i] / (1 - pow(0.9, Double(t))), vHat = v[i] / (1 - pow(0.999, Double(t)))
                x0[i] -= 0.01 * mHat / (vHat.squareRoot() + 1e-8)
            }
            for i in 0..<n { XCTAssertEqual(Double(weights[i]), x0[i], accuracy: 2e-6, "step \(t), weight \(i)") }
        }
        let state = s.saveState()
        XCTAssertEqual(state.counters?["outer.t"], 4)
        XCTAssertEqual(state.buffers["outer.v"]?.count, n)
        var missing = state
        missing.counters = nil
        XCTAssertThrowsError(try s.restoreState(missing)) {
            XCTAssertEqual("\($0)", "checkpoint has no outer Adam second moment of 7 values and step count")
        }
    }

    /// Outer SGD at rate 1 without momentum is plain averaging: the weights after each outer step
    /// are the average itself, not x₀ − (x₀ − x̄) rounded.
    func testOuterSGDAtRateOneIsTheAverage() throws {
        var c = AlgorithmConfig()
        c.kind = .diloco
        c.outerOptimizer = .sgd
        let s = try c.makeStrategy(workers: 1, parameterCount: 3, stepsPerEpoch: 1)
        // x₀ = 1e8, x̄ = 3: x₀ − (x₀ − x̄) rounds to 0 in Float, the average is 3.
        let weights = FloatBuffer([1e8, -7, 0.1])
        let other = [FloatBuffer(count: 3), FloatBuffer(count: 3), FloatBuffer(count: 3)]
        let workers = WorkerSet(parameters: [weights.pointer], gradients: [other[0].pointer], state: [other[1].pointer],
                                momentum: [other[2].pointer], parameterCount: 3, stateCount: 3)
        let context = SyncContext(step: 0, learningRate: 0.1, workers: workers, communicator: InProcessCommunicator(workers: 1, threads: 1))
        try s.afterBackward(context)
        weights[0] = 3; weights[1] = 5; weights[2] = 0.30000001
        try s.afterStep(context)
        XCTAssertEqual(weights.array, [3, 5, 0.30000001])
        XCTAssertNotEqual(Float(1e8) - (Float(1e8) - 3), 3, "the rounding the assignment avoids")
    }

    /// The cosine outer rate: η·(1 + cos(π·(t+1)/T))/2 after iteration t of T, 0 at the last.
    func testOuterCosineSchedule() {
        let r = OuterLearningRate(base: 0.7, schedule: .cosine, totalSteps: 8)
        for t in 0..<8 {
            XCTAssertEqual(Double(r.rate(at: t)), 0.7 * (1 + cos(Double.pi * Double(t + 1) / 8)) / 2, accuracy: 1e-7, "step \(t)")
        }
        XCTAssertEqual(r.rate(at: 3), 0.35, accuracy: 1e-7, "half-way")
        XCTAssertEqual(r.rate(at: 7), 0, accuracy: 1e-7)
        XCTAssertEqual(OuterLearningRate(base: 0.7).rate(at: 1000), 0.7)
    }

    /// Defaults by outer optimizer, and the errors.
    func testSettings() throws {
        var c = AlgorithmConfig()
        c.kind = .diloco
        XCTAssertEqual(c.outerOptimizer, .nesterov)
        XCTAssertEqual(c.resolvedOuterLr, 0.7)
        XCTAssertEqual(c.dilocoOuterOptimizer.momentum, 0.9)
        XCTAssertTrue(c.dilocoOuterOptimizer.nesterov)
        XCTAssertEqual(c.dilocoOuterOptimizer.momentumForm, .pytorch)
        XCTAssertEqual(c.dilocoOuterOptimizer.weightDecay, 0)
        c.outerOptimizer = .sgd
        XCTAssertEqual(c.resolvedOuterLr, 1)
        XCTAssertEqual(c.dilocoOuterOptimizer.momentum, 0)
        XCTAssertFalse(c.dilocoOuterOptimizer.nesterov)
        c.outerLrSchedule = .cosine
        XCTAssertThrowsError(try c.makeStrategy(workers: 2, parameterCount: 3, stepsPerEpoch: 1)) {
            XCTAssertEqual("\($0)", "--outer-lr-schedule cosine needs the run's length in iterations")
        }
        XCTAssertNoThrow(try c.makeStrategy(workers: 2, parameterCount: 3, stepsPerEpoch: 1, totalSteps: 10))
        c.outerLr = 0
        XCTAssertThrowsError(try c.makeStrategy(workers: 2, parameterCount: 3, stepsPerEpoch: 1, totalSteps: 10)) {
            XCTAssertEqual("\($0)", "outer_lr must be positive, got 0.0")
        }
    }
}
