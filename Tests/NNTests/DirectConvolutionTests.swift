import CDirect
import Tensor
import XCTest
@testable import NN
import TestSupport

/// Our direct 3×3 kernels for inputs of few channels (`DirectConvolution`, `CDirect`) on odd
/// shapes: bit for bit the same operations done one at a time in Swift, within the float32
/// summation bound of exact sums in Double, and in a `Conv2d` against im2col + GEMM.
final class DirectConvolutionTests: XCTestCase {
    override func setUpWithError() throws {
        guard DirectConvolution.supported else { throw XCTSkip("this CPU has no AVX2 and FMA") }
    }

    /// (in, out, images of the group, images of the batch, H, W): widths below, at and off the
    /// vectors of 8, output channels off the blocks of 4, 1×1 images, a group inside a batch.
    static let shapes: [(Int, Int, Int, Int, Int, Int)] = [
        (1, 32, 3, 5, 28, 28), (3, 16, 2, 2, 8, 8), (3, 5, 2, 3, 7, 9), (2, 6, 1, 1, 1, 1), (1, 4, 2, 4, 5, 17),
        (4, 7, 3, 3, 6, 16), (1, 1, 1, 2, 3, 2),
    ]

    /// x at image row `row`, column `col` of channel c, image n (of the batch), 0 outside the image.
    private func tap(_ x: [Float], c: Int, n: Int, row: Int, col: Int, batch: Int, h: Int, w: Int) -> Float {
        guard row >= 0, row < h, col >= 0, col < w else { return 0 }
        return x[((c * batch + n) * h + row) * w + col]
    }

    /// Each shape with its group at the end of the batch and at its start (outputs after the
    /// group must stay untouched too).
    func testMatchesTheReferenceBitwiseAndExactSumsWithinTheBound() {
        let u = Double(Float.ulpOfOne) / 2
        for (cin, cout, group, batch, h, w) in Self.shapes {
            for first in Set([batch - group, 0]).sorted() {
                var rng = RandomGenerator(seed: UInt64(cin * 1000 + cout * 10 + w))
                let image = h * w
                let x = (0..<cin * batch * image).map { _ in rng.nextNormal() }
                let dy = (0..<cout * batch * image).map { _ in rng.nextNormal() }
                let weights = (0..<cout * cin * 9).map { _ in 0.3 * rng.nextNormal() }
                let bias = (0..<cout).map { _ in rng.nextNormal() }
                let name = "\(cin)→\(cout), images \(first)..<\(first + group) of \(batch), \(h)×\(w)"
                let work = FloatBuffer(count: lsgd_direct_work_floats(Int32(cin), Int32(group), Int32(h), Int32(w)))
                let sentinel: Float = 1e30
                var y = [Float](repeating: sentinel, count: cout * batch * image)
                var dw = [Float](repeating: sentinel, count: cout * cin * 9)
                x.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer { yp in
                        lsgd_direct_forward(xp.baseAddress! + first * image, batch * image, Int32(cin), Int32(group), Int32(h),
                                            Int32(w), weights, Int32(cout), bias, yp.baseAddress! + first * image,
                                            batch * image, work.pointer)
                    }
                    dy.withUnsafeBufferPointer { dp in
                        lsgd_direct_weight_gradient(xp.baseAddress! + first * image, batch * image,
                                                    dp.baseAddress! + first * image, batch * image, Int32(cin), Int32(group),
                                                    Int32(h), Int32(w), Int32(cout), &dw, work.pointer)
                    }
                }
                // Forward: bias, then c, kh, kw, each an FMA (the border's zeros included).
                for o in 0..<cout {
                    for n in 0..<batch {
                        for row in 0..<h {
                            for col in 0..<w {
                                let got = y[((o * batch + n) * h + row) * w + col]
                                guard (first..<(first + group)).contains(n) else {
                                    XCTAssertEqual(got, sentinel, "\(name): outside the group")
                                    continue
                                }
                                var s = bias[o], exact = Double(bias[o]), magnitude = Double(abs(bias[o]))
                                for c in 0..<cin {
                                    for kh in 0..<3 {
                                        for kw in 0..<3 {
                                            let v = tap(x, c: c, n: n, row: row + kh - 1, col: col + kw - 1, batch: batch, h: h, w: w)
                                            let wt = weights[(o * cin + c) * 9 + kh * 3 + kw]
                                            s = s.addingProduct(v, wt)
                                            exact += Double(v) * Double(wt)
                                            magnitude += abs(Double(v) * Double(wt))
                                        }
                                    }
                                }
                                XCTAssertEqual(got.bitPattern, s.bitPattern, "\(name): y[\(o), \(n), \(row), \(col)]")
                                XCTAssertLessThanOrEqual(abs(Double(got) - exact), Double(9 * cin + 1) * u * magnitude, name)
                            }
                        }
                    }
                }
                // Weight gradient: 8 lanes over the columns 8v + l, rows and images in order, then
                // ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)).
                let vectors = (w + 7) / 8
                for o in 0..<cout {
                    for c in 0..<cin {
                        for k in 0..<9 {
                            let (kh, kw) = (k / 3, k % 3)
                            var lanes = [Float](repeating: 0, count: 8)
                            var exact = 0.0, magnitude = 0.0
                            for n in first..<(first + group) {
                                for row in 0..<h {
                                    for v in 0..<vectors {
                                        for l in 0..<8 {
                                            let col = 8 * v + l
                                            let g = col < w ? dy[((o * batch + n) * h + row) * w + col] : 0
                                            let xv = tap(x, c: c, n: n, row: row + kh - 1, col: col + kw - 1, batch: batch, h: h, w: w)
                                            lanes[l] = lanes[l].addingProduct(g, xv)
                                            exact += Double(g) * Double(xv)
                                            magnitude += abs(Double(g) * Double(xv))
                                        }
                                    }
                                }
                            }
                            let s = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
                            let got = dw[(o * cin + c) * 9 + k]
                            XCTAssertEqual(got.bitPattern, s.bitPattern, "\(name): dw[\(o), \(c), \(k)]")
                            let depth = Double(group * h * vectors + 3)
                            XCTAssertLessThanOrEqual(abs(Double(got) - exact), depth * u * magnitude, "\(name): dw[\(o), \(c), \(k)]")
                        }
                    }
                }
            }
        }
    }

    /// Taken where oneDNN's kernels run on AVX2 or later; a `DNNL_MAX_CPU_ISA` below it stands
    /// for an older CPU and keeps im2col (run this suite with `DNNL_MAX_CPU_ISA=SSE41` to see it).
    func testTheRuleFollowsOneDNNsInstructionSet() throws {
        let conv = Conv2d(1, 8, kernel: 3, padding: 1)
        try conv.use(.onednn)
        XCTAssertEqual(conv.usesDirectKernels, OneDNN.runsAVX2, "oneDNN on \(OneDNN.instructionSet)")
    }

    /// A network whose only convolution runs the direct kernels still depends on oneDNN's
    /// instruction set (they run only from AVX2 on), so its run records it (`usesOneDNN`).
    func testANetworkOfDirectKernelsOnlyDependsOnOneDNNsInstructionSet() throws {
        let conv = Conv2d(1, 4, kernel: 3, padding: 1)
        let net = Network(root: Sequential([("conv", conv), ("", Flatten()), ("fc", Linear(4 * 5 * 5, 3, classifier: true))]),
                          inputChannels: 1, inputHeight: 5, inputWidth: 5, classes: 3)
        XCTAssertFalse(net.usesOneDNN, "im2col + GEMM")
        try conv.use(.onednn)
        XCTAssertEqual(net.usesOneDNN, OneDNN.runsAVX2)
    }

    /// An empty group: no output written, a weight gradient of zeros (written, not added).
    func testAnEmptyGroupWritesZeroGradients() {
        var dw = [Float](repeating: 7, count: 2 * 3 * 9), y: [Float] = [7]
        let x: [Float] = [1], dy: [Float] = [1], w = [Float](repeating: 1, count: 2 * 3 * 9)
        var work: [Float] = [0]
        lsgd_direct_weight_gradient(x, 1, dy, 1, 3, 0, 4, 4, 2, &dw, &work)
        XCTAssertEqual(dw, [Float](repeating: 0, count: 2 * 3 * 9))
        lsgd_direct_forward(x, 1, 3, 2, 0, 4, w, 2, nil, &y, 1, &work)
        XCTAssertEqual(y, [7])
    }

    /// In a `Conv2d` (`conv_backend = onednn`, 1 and 3 input channels, with and without bias): the
    /// same output and weight gradient as im2col + GEMM (`blas`) within float32's summation bound,
    /// the input gradient, where asked for, from the im2col path; the same bits on 1, 2 and 3
    /// threads.
    func testAsALayerAgreesWithIm2colAndIsThreadIndependent() throws {
        guard OneDNN.runsAVX2 else { throw XCTSkip("DNNL_MAX_CPU_ISA below AVX2 stands for an older CPU: no direct kernels") }
        for (cin, cout, bias, n, h, w) in [(1, 32, true, 9, 28, 28), (3, 16, false, 5, 11, 13)] {
            let direct = Conv2d(cin, cout, kernel: 3, padding: 1, bias: bias)
            let im2col = Conv2d(cin, cout, kernel: 3, padding: 1, bias: bias)
            try direct.use(.onednn)
            XCTAssertTrue(direct.usesDirectKernels)
            XCTAssertFalse(im2col.usesDirectKernels)
            var layout = ParameterLayout(), state = ParameterLayout()
            direct.register(prefix: "", parameters: &layout, state: &state)
            var other = ParameterLayout(), otherState = ParameterLayout()
            im2col.register(prefix: "", parameters: &other, state: &otherState)
            var rng = RandomGenerator(seed: 5)
            let parameters = FloatBuffer(count: layout.count), stateBuffer = FloatBuffer(count: 1)
            for i in 0..<layout.count { parameters[i] = 0.3 * rng.nextNormal() }
            let x = randomTensor(Shape(cin, n, h, w), seed: 6)
            let dy = randomTensor(Shape(cout, n, h, w), seed: 7)
            func pass(_ layer: Conv2d, threads: Int, inputGradient: Bool) -> (y: [Float], dw: [Float], dx: [Float]) {
                layer.needsInputGradient = inputGradient
                let gradients = FloatBuffer(count: layout.count)
                let view = ReplicaView(parameters: parameters.pointer, gradients: gradients.pointer, state: stateBuffer.pointer)
                let context = StepContext(mode: .training, workspace: Workspace(threads: threads))
                let y = layer.forward(x, view, context).array
                let dx = layer.backward(dy, view, context).array
                return (y, gradients.array, inputGradient ? dx : [])
            }
            let reference = pass(im2col, threads: 1, inputGradient: true)
            let one = pass(direct, threads: 1, inputGradient: false)
            for threads in [2, 3] {
                let again = pass(direct, threads: threads, inputGradient: false)
                XCTAssertEqual(again.y, one.y, "\(threads) threads")
                XCTAssertEqual(again.dw, one.dw, "\(threads) threads")
            }
            assertClose(one.y, reference.y, relative: 1e-5, absolute: 1e-5, "forward \(cin)→\(cout)")
            assertClose(one.dw, reference.dw, relative: 1e-4, absolute: 1e-3, "weight gradient \(cin)→\(cout)")
            XCTAssertNotEqual(one.dw, reference.dw, "another summation order: if every bit agrees, the direct kernel did not run")
            let withInput = pass(direct, threads: 2, inputGradient: true)
            XCTAssertEqual(withInput.y, one.y)
            XCTAssertEqual(withInput.dx, reference.dx, "the input gradient comes from the im2col path")
            assertClose(withInput.dw, reference.dw, relative: 1e-4, absolute: 1e-3, "weight gradient with the input's")

            let blas = Conv2d(cin, cout, kernel: 3, padding: 1, bias: bias)
            try blas.use(.blas)
            XCTAssertFalse(blas.usesDirectKernels, "conv_backend = blas keeps im2col + GEMM")
        }
        let strided = Conv2d(1, 8, kernel: 3, stride: 2, padding: 1)
        try strided.use(.onednn)
        XCTAssertFalse(strided.usesDirectKernels, "stride 2 is not taken")
        let wide = Conv2d(5, 8, kernel: 3, padding: 1)
        try wide.use(.onednn)
        XCTAssertFalse(wide.usesDirectKernels, "5 input channels are not taken")
    }
}
