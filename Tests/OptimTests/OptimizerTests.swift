import Tensor
import XCTest
@testable import Optim
import TestSupport

/// PyTorch's `torch.optim.SGD` step (dampening 0), in Double: the reference the Goyal et al. form
/// must equal when momentum correction is on.
private struct PyTorchSGD {
    var v: [Double]?
    let momentum: Double, weightDecay: Double, nesterov: Bool

    mutating func step(_ w: inout [Double], _ grad: [Double], lr: Double) {
        let g = zip(grad, w).map { $0 + weightDecay * $1 }
        let buf = v.map { zip($0, g).map { momentum * $0 + $1 } } ?? g
        v = buf
        for i in w.indices { w[i] -= lr * (nesterov ? g[i] + momentum * buf[i] : buf[i]) }
    }
}

/// The Goyal et al. form without momentum correction, in Double.
private struct UncorrectedSGD {
    var u: [Double]
    let momentum: Double, weightDecay: Double, nesterov: Bool

    mutating func step(_ w: inout [Double], _ grad: [Double], lr: Double) {
        let g = zip(grad, w).map { $0 + weightDecay * $1 }
        for i in w.indices {
            u[i] = momentum * u[i] + lr * g[i]
            w[i] -= nesterov ? momentum * u[i] + lr * g[i] : u[i]
        }
    }
}

final class OptimizerTests: XCTestCase {
    private func layout(_ shapes: [[Int]]) -> ParameterLayout {
        var l = ParameterLayout()
        for (i, s) in shapes.enumerated() { l.append(name: "p\(i).weight", shape: s, role: .linearWeight) }
        return l
    }

    private func config(_ kind: OptimizerKind = .sgd, momentum: Float = 0.9, nesterov: Bool = true,
                        weightDecay: Float = 1e-4, correction: Bool = true) -> OptimizerConfig {
        var c = OptimizerConfig()
        c.kind = kind
        c.momentum = momentum
        c.nesterov = nesterov
        c.weightDecay = weightDecay
        c.momentumCorrection = correction
        return c
    }

    /// Steps `optimizer` once on copies of `w` and `g` and returns the new parameters.
    private func step(_ optimizer: Optimizer, _ w: FloatBuffer, _ g: [Float], _ state: OptimizerState, lr: Float) {
        let grad = FloatBuffer(g)
        optimizer.step(parameters: w.pointer, gradients: grad.pointer, state: state, learningRate: lr)
        XCTAssertEqual(grad.array, g, "step must not change the gradients")
    }

    // Warm-up, a plateau, two ×0.1 decays and a jump back up: every kind of lr change.
    private let lrSequence: [Float] = [0.1, 0.2, 0.3, 0.4, 0.4, 0.4, 0.04, 0.04, 0.004, 0.004, 0.05, 0.05]

    private func randomProblem(count: Int, steps: Int, seed: UInt64) -> ([Float], [[Float]]) {
        var rng = RandomGenerator(seed: seed)
        let w = (0..<count).map { _ in rng.nextNormal() }
        let grads = (0..<steps).map { _ in (0..<count).map { _ in rng.nextNormal() } }
        return (w, grads)
    }

    func testHandComputedNesterovStepsWithMomentumCorrection() {
        // w = 1, grad = 0.5, λ = 0.1, β = 0.9. Step 1 (lr 0.1): g = 0.6, u = 0.06,
        // w = 1 − (0.054 + 0.06) = 0.886. Step 2 (lr 0.2, c = 2): g = 0.5886,
        // u = 0.9·2·0.06 + 0.11772 = 0.22572, w = 0.886 − (0.203148 + 0.11772) = 0.565132.
        let opt = Optimizer(layout: layout([[1]]), config: config(weightDecay: 0.1))
        let state = OptimizerState(count: 1)
        let w = FloatBuffer([1])
        step(opt, w, [0.5], state, lr: 0.1)
        assertClose(w[0], 0.886, relative: 1e-6)
        assertClose(state.momentum[0], 0.06, relative: 1e-6)
        XCTAssertEqual(state.previousLearningRate, 0.1)
        step(opt, w, [0.5], state, lr: 0.2)
        assertClose(state.momentum[0], 0.22572, relative: 1e-6)
        assertClose(w[0], 0.565132, relative: 1e-6)
        XCTAssertEqual(state.previousLearningRate, 0.2)
    }

    func testCorrectedUpdateEqualsPyTorchSGDOverChangingLearningRates() {
        // Tolerance: relative 2e-5 + absolute 1e-6 per element after every step; Float32
        // rounding over 12 steps of O(1) values stays near 1e-6.
        for nesterov in [true, false] {
            let n = 37
            let (w0, grads) = randomProblem(count: n, steps: lrSequence.count, seed: 11)
            let opt = Optimizer(layout: layout([[5, 3], [22]]), config: config(nesterov: nesterov, weightDecay: 0.05))
            let state = OptimizerState(count: n)
            let w = FloatBuffer(w0)
            var reference = PyTorchSGD(v: nil, momentum: 0.9, weightDecay: 0.05, nesterov: nesterov)
            var wRef = w0.map(Double.init)
            for (t, lr) in lrSequence.enumerated() {
                step(opt, w, grads[t], state, lr: lr)
                reference.step(&wRef, grads[t].map(Double.init), lr: Double(lr))
                assertClose(w.array, wRef.map { Float($0) }, relative: 2e-5, absolute: 1e-6,
                            "nesterov \(nesterov), step \(t)")
                // The buffer is lr·v (OptimizerState's documented relation to PyTorch).
                assertClose(state.momentum.array, reference.v!.map { Float(Double(lr) * $0) },
                            relative: 2e-5, absolute: 1e-6, "buffer, nesterov \(nesterov), step \(t)")
            }
        }
    }

    func testUncorrectedUpdateMatchesGoyalFormAndLeavesPyTorchWhenLearningRateChanges() {
        let n = 20
        let (w0, grads) = randomProblem(count: n, steps: lrSequence.count, seed: 12)
        let opt = Optimizer(layout: layout([[n]]), config: config(weightDecay: 0.05, correction: false))
        let state = OptimizerState(count: n)
        let w = FloatBuffer(w0)
        var pytorch = PyTorchSGD(v: nil, momentum: 0.9, weightDecay: 0.05, nesterov: true)
        var goyal = UncorrectedSGD(u: .init(repeating: 0, count: n), momentum: 0.9, weightDecay: 0.05, nesterov: true)
        var wPy = w0.map(Double.init), wGoyal = wPy
        for (t, lr) in lrSequence.enumerated() {
            step(opt, w, grads[t], state, lr: lr)
            pytorch.step(&wPy, grads[t].map(Double.init), lr: Double(lr))
            goyal.step(&wGoyal, grads[t].map(Double.init), lr: Double(lr))
            // Same formula as the uncorrected reference at every step (relative 2e-5 + 1e-6).
            assertClose(w.array, wGoyal.map { Float($0) }, relative: 2e-5, absolute: 1e-6, "step \(t)")
            let gap = zip(w.array, wPy).map { abs(Double($0) - $1) }.max()!
            if t == 0 {
                XCTAssertLessThan(gap, 1e-5, "before any lr change the forms agree")
            } else {
                XCTAssertGreaterThan(gap, 1e-3, "after the lr changes at step 1 the forms differ (step \(t))")
            }
        }
    }

    func testZeroPreviousLearningRateMeansNoCorrection() {
        // u = 0.9·1·u + lr·g when the previous lr was 0, instead of dividing by zero.
        let opt = Optimizer(layout: layout([[1]]), config: config(nesterov: false, weightDecay: 0))
        let state = OptimizerState(count: 1)
        state.momentum[0] = 2
        state.previousLearningRate = 0
        let w = FloatBuffer([1])
        step(opt, w, [1], state, lr: 0.5)
        assertClose(state.momentum[0], 0.9 * 2 + 0.5, relative: 1e-6)
        assertClose(w[0], 1 - 2.3, relative: 1e-6)
    }

    func testZeroMomentumIsPlainSGDWithWeightDecay() {
        for nesterov in [true, false] {
            let opt = Optimizer(layout: layout([[3]]), config: config(momentum: 0, nesterov: nesterov, weightDecay: 0.5))
            let state = OptimizerState(count: 3)
            let w = FloatBuffer([1, -2, 4])
            step(opt, w, [0.5, 0.5, -1], state, lr: 0.1)
            // w − 0.1·(g + 0.5·w)
            assertClose(w.array, [1 - 0.1, -2 + 0.05, 4 - 0.1], relative: 1e-6, absolute: 1e-7)
            step(opt, w, [0, 0, 0], state, lr: 0.3)
            assertClose(w.array, [0.9 * 0.85, -1.95 * 0.85, 3.9 * 0.85], relative: 1e-6, absolute: 1e-7)
        }
    }

    func testResetForgetsMomentumAndPreviousLearningRate() {
        let state = OptimizerState(count: 4)
        state.momentum[2] = 3
        state.previousLearningRate = 0.1
        state.reset()
        XCTAssertEqual(state.momentum.array, [0, 0, 0, 0])
        XCTAssertNil(state.previousLearningRate)
    }

    /// A sum of K gradients with `gradientDivisor: K` steps bitwise as the mean of a separate
    /// pass (`Float` division, as the in-process all-reduce divides), for SGD, Nesterov and
    /// LARS, K a power of two or not.
    func testGradientDivisorStepsBitwiseAsTheMean() {
        let l = layout([[3, 5], [7], [2, 2, 3]])
        for kind in [OptimizerKind.sgd, .lars] {
            for nesterov in [true, false] {
                for k in [1, 2, 3, 4, 6] {
                    let (w0, grads) = randomProblem(count: l.count, steps: 3, seed: UInt64(10 * k + 1))
                    let sums = grads.map { g in g.map { $0 * Float(k) * 1.37 } }
                    let opt = Optimizer(layout: l, config: config(kind, nesterov: nesterov))
                    let viaMean = FloatBuffer(w0), viaSum = FloatBuffer(w0)
                    let meanState = OptimizerState(count: l.count), sumState = OptimizerState(count: l.count)
                    for (t, sum) in sums.enumerated() {
                        let lr = lrSequence[t]
                        let mean = FloatBuffer(sum.map { $0 / Float(k) })
                        opt.step(parameters: viaMean.pointer, gradients: mean.pointer, state: meanState, learningRate: lr)
                        let summed = FloatBuffer(sum)
                        opt.step(parameters: viaSum.pointer, gradients: summed.pointer, state: sumState,
                                 learningRate: lr, gradientDivisor: Float(k))
                        withExtendedLifetime((mean, summed)) {}
                    }
                    XCTAssertEqual(viaSum.array, viaMean.array, "\(kind) nesterov \(nesterov) K=\(k)")
                    XCTAssertEqual(sumState.momentum.array, meanState.momentum.array, "\(kind) nesterov \(nesterov) K=\(k)")
                }
            }
        }
    }

    /// `parameterScale` equals scaling the new weights in a pass of their own, bitwise.
    func testParameterScaleEqualsScalingTheNewWeights() {
        let l = layout([[4, 3], [5]])
        for kind in [OptimizerKind.sgd, .lars] {
            for nesterov in [true, false] {
                let (w0, grads) = randomProblem(count: l.count, steps: 2, seed: 7)
                let opt = Optimizer(layout: l, config: config(kind, nesterov: nesterov))
                let fused = FloatBuffer(w0), separate = FloatBuffer(w0)
                let fusedState = OptimizerState(count: l.count), separateState = OptimizerState(count: l.count)
                for (t, g) in grads.enumerated() {
                    let scale: Float = t == 1 ? 0.125 : 1
                    let g1 = FloatBuffer(g), g2 = FloatBuffer(g)
                    opt.step(parameters: fused.pointer, gradients: g1.pointer, state: fusedState,
                             learningRate: lrSequence[t], parameterScale: scale)
                    opt.step(parameters: separate.pointer, gradients: g2.pointer, state: separateState,
                             learningRate: lrSequence[t])
                    withExtendedLifetime((g1, g2)) {}
                    for i in 0..<l.count { separate.pointer[i] *= scale }
                }
                XCTAssertEqual(fused.array, separate.array, "\(kind) nesterov \(nesterov)")
                XCTAssertNotEqual(fused.array, w0)
            }
        }
    }

    /// The `.pytorch` form is PyTorch's SGD written out: u ← β·u + g, w ← w − lr·u (or
    /// w − lr·(β·u + g)), g = grad + λ·w, bitwise; the learning rate stays out of the buffer.
    func testPyTorchFormIsTheTextbookUpdateBitwise() {
        let l = layout([[6, 5], [3]])
        for nesterov in [true, false] {
            for decay in [Float(0), 1e-3] {
                let (w0, grads) = randomProblem(count: l.count, steps: 5, seed: 23)
                var c = config(.sgd, momentum: 0.7, nesterov: nesterov, weightDecay: decay)
                c.momentumForm = .pytorch
                let opt = Optimizer(layout: l, config: c)
                let w = FloatBuffer(w0), state = OptimizerState(count: l.count)
                var rw = w0, ru = [Float](repeating: 0, count: l.count)
                for (t, g) in grads.enumerated() {
                    let lr = lrSequence[t]
                    step(opt, w, g, state, lr: lr)
                    for i in 0..<l.count {
                        let gi = decay == 0 ? g[i] : g[i] + decay * rw[i]
                        ru[i] = 0.7 * ru[i] + gi
                        rw[i] -= lr * (nesterov ? 0.7 * ru[i] + gi : ru[i])
                    }
                }
                XCTAssertEqual(w.array.map(\.bitPattern), rw.map(\.bitPattern), "nesterov \(nesterov) decay \(decay)")
                XCTAssertEqual(state.momentum.array.map(\.bitPattern), ru.map(\.bitPattern))
            }
        }
    }
}
