import Tensor
import XCTest
@testable import Optim
import TestSupport

final class LARSTests: XCTestCase {
    /// LARS with trust 0.02, ε = 1e-8, λ = 0.1, Nesterov β = 0.9 on the given slot shapes.
    private func optimizer(_ shapes: [[Int]], clip: Bool = true) -> Optimizer {
        var layout = ParameterLayout()
        for (i, s) in shapes.enumerated() { layout.append(name: "layer\(i).weight", shape: s, role: .linearWeight) }
        var c = OptimizerConfig()
        c.kind = .lars
        c.weightDecay = 0.1
        c.larsClip = clip
        return Optimizer(layout: layout, config: c)
    }

    private func run(_ opt: Optimizer, w: [Float], g: [Float], lr: Float) -> (w: [Float], u: [Float]) {
        let params = FloatBuffer(w), grads = FloatBuffer(g)
        let state = OptimizerState(count: w.count)
        opt.step(parameters: params.pointer, gradients: grads.pointer, state: state, learningRate: lr)
        XCTAssertEqual(grads.array, g, "LARS must not change the gradients")
        return (params.array, state.momentum.array)
    }

    func testClippedTwoSlotStepAgainstHandComputedNumbers() {
        // Slot 0: w = [3, 4] (p = 5), grad = [0.6, 0.8] (q = 1):
        //   local = 0.02·5 / (1 + 0.1·5 + 1e-8) = 0.0666…, / lr 0.1 = 0.666… < 1 → kept;
        //   g = ([0.6, 0.8] + 0.1·[3, 4])·2/3 = [0.6, 0.8]; u = 0.1·g = [0.06, 0.08];
        //   w −= 0.9·u + 0.1·g = 1.9·[0.06, 0.08] → [2.886, 3.848].
        // Slot 1: w = [2, 0] (p = 2), grad = [0.01, 0] (q = 0.01):
        //   local = 0.04 / (0.01 + 0.2) = 0.1905, / lr = 1.905 → clipped to 1;
        //   g = [0.01 + 0.2, 0] = [0.21, 0]; u = [0.021, 0]; w −= 1.9·u → [1.9601, 0].
        let r = run(optimizer([[2], [2]]), w: [3, 4, 2, 0], g: [0.6, 0.8, 0.01, 0], lr: 0.1)
        // Tolerance: relative 1e-5 + absolute 1e-6 (Float32 rounding of a few operations).
        assertClose(r.u, [0.06, 0.08, 0.021, 0], relative: 1e-5, absolute: 1e-6)
        assertClose(r.w, [2.886, 3.848, 1.9601, 0], relative: 1e-5, absolute: 1e-6)
    }

    func testUnclippedLocalRateScalesTheGradientDirectly() {
        // Slot 0 as above without clipping: g = [0.9, 1.2]·0.0666… = [0.06, 0.08];
        //   u = 0.1·g = [0.006, 0.008]; w −= 1.9·u → [2.9886, 3.9848].
        // Slot 1: local = 0.04 / 0.21 = 0.190476 is used as is: g = [0.21, 0]·0.190476 = [0.04, 0];
        //   u = [0.004, 0]; w −= 1.9·u → [1.9924, 0].
        let r = run(optimizer([[2], [2]], clip: false), w: [3, 4, 2, 0], g: [0.6, 0.8, 0.01, 0], lr: 0.1)
        assertClose(r.u, [0.006, 0.008, 0.004, 0], relative: 1e-5, absolute: 1e-6)
        assertClose(r.w, [2.9886, 3.9848, 1.9924, 0], relative: 1e-5, absolute: 1e-6)
    }

    func testSlotsWithZeroWeightsOrZeroGradientKeepPlainWeightDecayGradient() {
        // Slot 0: grad zero → g = λ·w = [0.1, 0.1]; u = [0.01, 0.01]; w −= 1.9·u → [0.981, 0.981].
        // Slot 1: weights zero → g = grad = [0.5, −0.5]; w = −1.9·0.1·g = [−0.095, 0.095].
        let r = run(optimizer([[2], [2]]), w: [1, 1, 0, 0], g: [0, 0, 0.5, -0.5], lr: 0.1)
        assertClose(r.w, [0.981, 0.981, -0.095, 0.095], relative: 1e-5, absolute: 1e-6)
    }

    func testLocalRateOfALargeSlotUsesItsNorms() {
        // 1000 elements (exercises the SIMD reductions): w = 0.5 everywhere (p = 0.5·√1000),
        // grad = 2 everywhere (q = 2·√1000); local = 0.02·p / (q + 0.1·p) = 0.01 / 2.05.
        let opt = optimizer([[10, 100]])
        let w = [Float](repeating: 0.5, count: 1000), g = [Float](repeating: 2, count: 1000)
        let rate = w.withUnsafeBufferPointer { pw in g.withUnsafeBufferPointer { pg in
            opt.larsLocalRate(w: pw.baseAddress!, grad: pg.baseAddress!, count: 1000, learningRate: 0.001)
        } }
        // local / lr = 4.878 → clipped to 1; with lr = 1 the rate is local itself.
        XCTAssertEqual(rate, 1)
        let unclipped = w.withUnsafeBufferPointer { pw in g.withUnsafeBufferPointer { pg in
            opt.larsLocalRate(w: pw.baseAddress!, grad: pg.baseAddress!, count: 1000, learningRate: 1)
        } }
        assertClose(unclipped, 0.01 / 2.05, relative: 1e-5)
    }
}
