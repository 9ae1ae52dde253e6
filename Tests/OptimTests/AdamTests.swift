import Foundation
import Tensor
import XCTest
@testable import Optim
import TestSupport

/// PyTorch's Adam / AdamW (amsgrad and maximize off) in Double, written as the papers do, with
/// m̂ and v̂: the reference `Optimizer`'s float arithmetic in PyTorch's order must come close to.
/// `clip` > 0 clips each gradient first as `clip_grad_norm_` does: g·min(1, c / (‖g‖ + 10⁻⁶)).
struct ReferenceAdam {
    var m: [Double], v: [Double]
    var t = 0
    let beta1: Double, beta2: Double, epsilon: Double, weightDecay: Double, decoupled: Bool
    var clip: Double = 0

    init(count: Int, config c: OptimizerConfig) {
        m = Array(repeating: 0, count: count)
        v = m
        beta1 = Double(c.beta1)
        beta2 = Double(c.beta2)
        epsilon = Double(c.epsilon)
        weightDecay = Double(c.weightDecay)
        decoupled = c.kind == .adamw
        clip = Double(c.gradClip ?? 0)
    }

    mutating func step(_ w: inout [Double], _ gradient: [Double], lr: Double) {
        t += 1
        var grad = gradient
        if clip > 0 {
            let norm = grad.map { $0 * $0 }.reduce(0, +).squareRoot()
            let factor = min(1, clip / (norm + 1e-6))
            grad = grad.map { $0 * factor }
        }
        if decoupled { w = w.map { $0 * (1 - lr * weightDecay) } }
        let g = decoupled ? grad : zip(grad, w).map { $0 + weightDecay * $1 }
        for i in w.indices {
            m[i] = beta1 * m[i] + (1 - beta1) * g[i]
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
            let mHat = m[i] / (1 - pow(beta1, Double(t))), vHat = v[i] / (1 - pow(beta2, Double(t)))
            w[i] -= lr * mHat / (vHat.squareRoot() + epsilon)
        }
    }
}

func adamConfig(_ kind: OptimizerKind, weightDecay: Float = 0, clip: Float? = nil) -> OptimizerConfig {
    var c = OptimizerConfig()
    c.kind = kind
    c.weightDecay = weightDecay
    c.gradClip = clip
    return c
}

/// One step of `opt` on a copy of `g`, kept alive through the step; checks the gradient is only read.
func adamStep(_ opt: Optimizer, _ w: FloatBuffer, _ g: [Float], _ state: OptimizerState, lr: Float,
              divisor: Float = 1, scale: Float = 1, file: StaticString = #filePath, line: UInt = #line) {
    let grad = FloatBuffer(g)
    withExtendedLifetime(grad) {
        opt.step(parameters: w.pointer, gradients: grad.pointer, state: state, learningRate: lr,
                 gradientDivisor: divisor, parameterScale: scale)
    }
    XCTAssertEqual(grad.array, g, "the step must only read the gradients", file: file, line: line)
}

func oneSlotLayout(_ count: Int) -> ParameterLayout {
    var l = ParameterLayout()
    l.append(name: "p.weight", shape: [count], role: .linearWeight)
    return l
}

final class AdamTests: XCTestCase {
    private let w0: [Float] = [0.5, -1.25, 2, 0.03, -0.7]
    private let grads: [[Float]] = [[0.2, -0.1, 0.4, -0.05, 1.5], [-0.3, 0.25, 0.1, 0.02, 1.2], [0.6, -0.4, -0.2, 0.01, -0.9]]
    private let rates: [Float] = [0.1, 0.05, 0.02]

    /// With a constant gradient, m̂ = g and v̂ = g² at every step, so each step moves w by
    /// lr·g/(|g| + ε): lr in the gradient's direction. w = 1, grad 0.5, rates 0.1, 0.2, 0.05:
    /// 0.9, 0.7, 0.65 (ε = 10⁻⁸ shifts each by 2·10⁻⁹). AdamW with λ = 0.1 first decays:
    /// w = 1·(1 − 0.01) − 0.1 = 0.89. Adam with λ = 0.1 steps on g = 0.6: again w = 0.9.
    func testHandComputedStepsWithAConstantGradient() {
        let opt = Optimizer(layout: oneSlotLayout(1), config: adamConfig(.adam))
        let state = OptimizerState(count: 1, kind: .adam)
        let w = FloatBuffer([1])
        for (lr, expected) in zip([Float(0.1), 0.2, 0.05], [Float(0.9), 0.7, 0.65]) {
            adamStep(opt, w, [0.5], state, lr: lr)
            assertClose(w[0], expected, relative: 1e-6, absolute: 0)
        }
        XCTAssertEqual(state.stepCount, 3)
        // m₃ = 0.5·(1 − 0.9³) = 0.1355; v₃ = 0.25·(1 − β₂³) = 7.49241·10⁻⁴ with β₂ the float
        // 0.999, which is 0.99900001287 (the exact 0.999 would give 7.4925·10⁻⁴).
        assertClose(state.momentum[0], 0.1355, relative: 1e-6, absolute: 0)
        assertClose(state.secondMoment![0], 7.492406e-4, relative: 1e-6, absolute: 0)

        let decoupled = Optimizer(layout: oneSlotLayout(1), config: adamConfig(.adamw, weightDecay: 0.1))
        let wd = FloatBuffer([1])
        adamStep(decoupled, wd, [0.5], OptimizerState(count: 1, kind: .adamw), lr: 0.1)
        assertClose(wd[0], 0.89, relative: 1e-6, absolute: 0)
        let coupled = Optimizer(layout: oneSlotLayout(1), config: adamConfig(.adam, weightDecay: 0.1))
        let wc = FloatBuffer([1]), cState = OptimizerState(count: 1, kind: .adam)
        adamStep(coupled, wc, [0.5], cState, lr: 0.1)
        assertClose(wc[0], 0.9, relative: 1e-6, absolute: 0)
        assertClose(cState.momentum[0], 0.06, relative: 1e-6, absolute: 0)  // (1 − β₁)·(0.5 + 0.1·1)
    }

    /// Three steps at changing rates on 5 weights: w, m and v as the Double reference has them,
    /// for Adam and AdamW, with and without weight decay.
    func testThreeStepsMatchTheDoubleReference() {
        for kind in [OptimizerKind.adam, .adamw] {
            for decay in [Float(0), 0.05] {
                let c = adamConfig(kind, weightDecay: decay)
                let opt = Optimizer(layout: oneSlotLayout(5), config: c)
                let state = OptimizerState(count: 5, kind: kind)
                var reference = ReferenceAdam(count: 5, config: c)
                let w = FloatBuffer(w0)
                var expected = w0.map(Double.init)
                for (g, lr) in zip(grads, rates) {
                    adamStep(opt, w, g, state, lr: lr)
                    reference.step(&expected, g.map(Double.init), lr: Double(lr))
                    let what = "\(kind) λ=\(decay) t=\(reference.t)"
                    assertClose(w.array, expected.map { Float($0) }, relative: 1e-6, absolute: 1e-7, what)
                    assertClose(state.momentum.array, reference.m.map { Float($0) }, relative: 1e-6, absolute: 1e-9, what)
                    assertClose(state.secondMoment!.array, reference.v.map { Float($0) }, relative: 1e-6, absolute: 1e-12, what)
                    XCTAssertEqual(state.stepCount, reference.t)
                }
                XCTAssertNotEqual(w.array, w0)
            }
        }
        // The decay matters, and in a different way for each kind.
        func final(_ kind: OptimizerKind, _ decay: Float) -> [Float] {
            let opt = Optimizer(layout: oneSlotLayout(5), config: adamConfig(kind, weightDecay: decay))
            let state = OptimizerState(count: 5, kind: kind), w = FloatBuffer(w0)
            for (g, lr) in zip(grads, rates) { adamStep(opt, w, g, state, lr: lr) }
            return w.array
        }
        XCTAssertNotEqual(final(.adam, 0.05), final(.adam, 0))
        XCTAssertNotEqual(final(.adamw, 0.05), final(.adam, 0.05))
        XCTAssertEqual(final(.adamw, 0), final(.adam, 0), "without decay the two are one update")
    }

    /// A sum of K gradients with `gradientDivisor: K` steps bitwise as the mean of a separate
    /// pass, K = 4 (a product) and 3 (a division), with and without clipping.
    func testGradientDivisorStepsBitwiseAsTheMean() {
        for kind in [OptimizerKind.adam, .adamw] {
            for k in [Float(4), 3] {
                for clip in [nil, Float(0.3)] {
                    let opt = Optimizer(layout: oneSlotLayout(5), config: adamConfig(kind, weightDecay: 0.01, clip: clip))
                    let viaMean = FloatBuffer(w0), viaSum = FloatBuffer(w0)
                    let meanState = OptimizerState(count: 5, kind: kind), sumState = OptimizerState(count: 5, kind: kind)
                    for (g, lr) in zip(grads, rates) {
                        let sum = g.map { $0 * k * 1.37 }
                        adamStep(opt, viaMean, sum.map { $0 / k }, meanState, lr: lr)
                        adamStep(opt, viaSum, sum, sumState, lr: lr, divisor: k)
                    }
                    let what = "\(kind) K=\(k) clip \(String(describing: clip))"
                    XCTAssertEqual(viaSum.array, viaMean.array, what)
                    XCTAssertEqual(sumState.momentum.array, meanState.momentum.array, what)
                    XCTAssertEqual(sumState.secondMoment!.array, meanState.secondMoment!.array, what)
                }
            }
        }
    }

    /// `parameterScale` equals scaling the new weights in a pass of their own, bitwise.
    func testParameterScaleEqualsScalingTheNewWeights() {
        for kind in [OptimizerKind.adam, .adamw] {
            let opt = Optimizer(layout: oneSlotLayout(5), config: adamConfig(kind, weightDecay: 0.02))
            let fused = FloatBuffer(w0), separate = FloatBuffer(w0)
            let fusedState = OptimizerState(count: 5, kind: kind), separateState = OptimizerState(count: 5, kind: kind)
            for (t, (g, lr)) in zip(grads, rates).enumerated() {
                let scale: Float = t == 1 ? 0.25 : 1
                adamStep(opt, fused, g, fusedState, lr: lr, scale: scale)
                adamStep(opt, separate, g, separateState, lr: lr)
                for i in 0..<5 { separate.pointer[i] *= scale }
            }
            XCTAssertEqual(fused.array, separate.array, "\(kind)")
            XCTAssertEqual(fusedState.secondMoment!.array, separateState.secondMoment!.array, "\(kind)")
        }
    }

    /// Adam's state: a second moment only for the adaptive kinds; `reset` clears everything,
    /// `resetMoments` (the `--momentum-sync reset` policy) keeps the previous learning rate, and
    /// the step after it is a first step again (bias correction from t = 1).
    func testStateAllocatesAndResets() {
        XCTAssertNil(OptimizerState(count: 3).secondMoment)
        XCTAssertNil(OptimizerState(count: 3, kind: .lars).secondMoment)
        XCTAssertEqual(OptimizerState(count: 3, kind: .adamw).secondMoment?.array, [0, 0, 0])
        let opt = Optimizer(layout: oneSlotLayout(1), config: adamConfig(.adam))
        let state = OptimizerState(count: 1, kind: .adam)
        let w = FloatBuffer([1])
        adamStep(opt, w, [0.5], state, lr: 0.1)
        adamStep(opt, w, [-2], state, lr: 0.1)
        state.resetMoments()
        XCTAssertEqual(state.momentum.array, [0])
        XCTAssertEqual(state.secondMoment!.array, [0])
        XCTAssertEqual(state.stepCount, 0)
        XCTAssertEqual(state.previousLearningRate, 0.1)
        let before = w[0]
        adamStep(opt, w, [0.5], state, lr: 0.1)
        assertClose(w[0], before - 0.1, relative: 1e-6, absolute: 0)  // a first step: lr·sign(g)
        state.reset()
        XCTAssertEqual(state.stepCount, 0)
        XCTAssertNil(state.previousLearningRate)
        XCTAssertEqual(state.secondMoment!.array, [0])
    }
}
