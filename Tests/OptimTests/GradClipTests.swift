import Tensor
import XCTest
@testable import Optim
import TestSupport

/// Gradient clipping by global L2 norm (`OptimizerConfig.gradClip`), PyTorch's
/// `clip_grad_norm_`: g·min(1, c / (‖g‖ + 10⁻⁶)) of the divided gradient, before any kind's update.
final class GradClipTests: XCTestCase {
    /// Plain SGD with lr 1 and no momentum or decay: w ← w − g, so the step is the gradient.
    private func plainSGD(clip: Float?) -> OptimizerConfig {
        var c = OptimizerConfig()
        c.momentum = 0
        c.nesterov = false
        c.weightDecay = 0
        c.gradClip = clip
        return c
    }

    private let w0: [Float] = [1, -2, 0.5, 3, 0.25]
    /// ‖g‖ = √(9 + 16 + 0 + 0 + 0) = 5.
    private let g: [Float] = [3, 4, 0, 0, 0]

    func testTheFactorIsClipOverNormPlusEpsilon() {
        let opt = Optimizer(layout: oneSlotLayout(5), config: plainSGD(clip: 1))
        let grad = FloatBuffer(g)
        let factor = withExtendedLifetime(grad) { opt.clipFactor(ScaledGradient(values: grad.pointer, factor: 1)) }
        assertClose(factor ?? .nan, 1 / (5 + 1e-6), relative: 1e-7, absolute: 0)  // 0.19999996
        let below = Optimizer(layout: oneSlotLayout(5), config: plainSGD(clip: 5.1))
        XCTAssertNil(withExtendedLifetime(grad) { below.clipFactor(ScaledGradient(values: grad.pointer, factor: 1)) })
        let off = Optimizer(layout: oneSlotLayout(5), config: plainSGD(clip: 0))
        XCTAssertNil(withExtendedLifetime(grad) { off.clipFactor(ScaledGradient(values: grad.pointer, factor: 1)) })
    }

    /// Above the threshold the step is g·c/(‖g‖ + 10⁻⁶): [3, 4]·2/5 = [1.2, 1.6], of norm 2.
    /// Below it, or with c = 0, the step is bitwise the unclipped one.
    func testSGDClipsAboveTheThresholdOnly() {
        func stepped(_ clip: Float?, divisor: Float = 1, gradient: [Float]? = nil) -> [Float] {
            let w = FloatBuffer(w0)
            adamStep(Optimizer(layout: oneSlotLayout(5), config: plainSGD(clip: clip)), w, gradient ?? g,
                     OptimizerState(count: 5), lr: 1, divisor: divisor)
            return w.array
        }
        let clipped = stepped(2)
        assertClose(clipped, [1 - 1.2, -2 - 1.6, 0.5, 3, 0.25], relative: 1e-6, absolute: 1e-7)
        let unclipped = stepped(nil)
        XCTAssertEqual(unclipped, [-2, -6, 0.5, 3, 0.25])
        XCTAssertEqual(stepped(5.5), unclipped, "norm below the threshold")
        XCTAssertEqual(stepped(0), unclipped, "0 is off")
        // The norm is the divided gradient's: a sum of 4 with norm 20 is a mean of norm 5.
        let sum = g.map { $0 * 4 }
        XCTAssertEqual(stepped(5.5, divisor: 4, gradient: sum), unclipped, "mean's norm 5 is below 5.5")
        XCTAssertEqual(stepped(2, divisor: 4, gradient: sum), clipped)
        XCTAssertEqual(stepped(2, divisor: 3, gradient: g.map { $0 * 3 }), clipped, "3·g / 3 is g exactly here")
    }

    /// AdamW over three steps, the gradient's norm above the threshold at the first and third
    /// (1.61, 1.48) and below it at the second (0.42): as the Double reference clipping each
    /// gradient first; and different from not clipping.
    func testAdamWClipsAsTheReference() {
        let grads: [[Float]] = [[0.8, -0.6, 0.4, 0, 1.2], [0.1, 0.2, -0.3, 0.1, 0.15], [-1, 0.2, 0.8, 0.6, -0.4]]
        let rates: [Float] = [0.1, 0.05, 0.02]
        for divisor in [Float(1), 3] {
            let c = adamConfig(.adamw, weightDecay: 0.01, clip: 0.5)
            let opt = Optimizer(layout: oneSlotLayout(5), config: c)
            let state = OptimizerState(count: 5, kind: .adamw)
            var reference = ReferenceAdam(count: 5, config: c)
            let w = FloatBuffer(w0), free = FloatBuffer(w0)
            let freeState = OptimizerState(count: 5, kind: .adamw)
            let unclipped = Optimizer(layout: oneSlotLayout(5), config: adamConfig(.adamw, weightDecay: 0.01))
            var expected = w0.map(Double.init)
            for (g, lr) in zip(grads, rates) {
                adamStep(opt, w, g.map { $0 * divisor }, state, lr: lr, divisor: divisor)
                adamStep(unclipped, free, g, freeState, lr: lr)
                reference.step(&expected, g.map { Double($0 * divisor / divisor) }, lr: Double(lr))
                assertClose(w.array, expected.map { Float($0) }, relative: 1e-5, absolute: 1e-7, "divisor \(divisor) t=\(reference.t)")
                assertClose(state.secondMoment!.array, reference.v.map { Float($0) }, relative: 1e-5, absolute: 1e-12)
            }
            XCTAssertGreaterThan(zip(w.array, free.array).map { abs($0 - $1) }.max()!, 1e-4, "clipping changed the run")
        }
    }

    /// LARS clips the whole divided gradient first, then takes its per-slot norms: bitwise LARS
    /// without clipping on the gradient times the factor.
    func testLARSClipsBeforeItsNorms() throws {
        var l = ParameterLayout()
        l.append(name: "a.weight", shape: [3], role: .linearWeight)
        l.append(name: "b.weight", shape: [2], role: .linearWeight)
        var c = OptimizerConfig()
        c.kind = .lars
        c.gradClip = 1
        let clipping = Optimizer(layout: l, config: c)
        c.gradClip = nil
        let plain = Optimizer(layout: l, config: c)
        let sum = FloatBuffer(g.map { $0 * 4 })
        let factor = withExtendedLifetime(sum) { clipping.clipFactor(ScaledGradient(values: sum.pointer, factor: 0.25)) }
        let f = try XCTUnwrap(factor)
        let viaClip = FloatBuffer(w0), viaFactor = FloatBuffer(w0)
        let s1 = OptimizerState(count: 5), s2 = OptimizerState(count: 5)
        withExtendedLifetime(sum) {
            clipping.step(parameters: viaClip.pointer, gradients: sum.pointer, state: s1, learningRate: 0.1, gradientDivisor: 4)
        }
        let scaled = FloatBuffer(g.map { $0 * f })
        withExtendedLifetime(scaled) {
            plain.step(parameters: viaFactor.pointer, gradients: scaled.pointer, state: s2, learningRate: 0.1)
        }
        XCTAssertEqual(viaClip.array, viaFactor.array)
        XCTAssertEqual(s1.momentum.array, s2.momentum.array)
        XCTAssertNotEqual(viaClip.array, w0)
    }
}
