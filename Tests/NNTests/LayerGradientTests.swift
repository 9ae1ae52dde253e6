import Tensor
import XCTest
@testable import NN
import TestSupport

/// Finite-difference checks of every layer's backward pass.
final class LayerGradientTests: XCTestCase {

    func testConvolution3x3Padding1() {
        checkLayerGradients(Conv2d(2, 3, kernel: 3, padding: 1), input: Shape(2, 2, 5, 4))
    }

    func testConvolutionStride2Padding1NoBias() {
        checkLayerGradients(Conv2d(3, 2, kernel: 3, stride: 2, padding: 1, bias: false),
                            input: Shape(3, 2, 7, 6))
    }

    func testConvolutionPointwiseAndStridedPointwise() {
        checkLayerGradients(Conv2d(3, 4, kernel: 1), input: Shape(3, 2, 3, 3))
        checkLayerGradients(Conv2d(3, 4, kernel: 1, stride: 2, bias: false), input: Shape(3, 2, 5, 5))
    }

    func testConvolution5x5Stride3Padding2() {
        checkLayerGradients(Conv2d(2, 2, kernel: 5, stride: 3, padding: 2), input: Shape(2, 1, 8, 7))
    }

    func testLinear() {
        checkLayerGradients(Linear(6, 4), input: Shape(6, 3))
    }

    func testBatchNormTraining() {
        checkLayerGradients(BatchNorm(3), input: Shape(3, 4, 2, 3), epsilon: 1e-2, relative: 3e-2, absolute: 3e-3)
    }

    func testBatchNorm1d() {
        checkLayerGradients(BatchNorm(5), input: Shape(5, 6), relative: 3e-2, absolute: 3e-3)
    }

    func testBatchNormEvaluationIsAffine() {
        checkLayerGradients(BatchNorm(3), input: Shape(3, 2, 2, 2), training: false)
    }

    func testBatchNormWithFusedReLU() {
        checkLayerGradients(BatchNorm(3, relu: true), input: Shape(3, 4, 3, 3), epsilon: 1e-3, relative: 3e-2,
                            absolute: 3e-3)
        checkLayerGradients(BatchNorm(3, relu: true), input: Shape(3, 2, 2, 2), training: false, epsilon: 1e-3)
    }

    /// BatchNorm(relu: true) is BatchNorm then ReLU, forward and backward, in both modes.
    func testFusedReLUEqualsBatchNormThenReLU() {
        for training in [true, false] {
            let fused = BatchNorm(4, relu: true), plain = BatchNorm(4), relu = ReLU()
            let a = LayerHarness(fused, seed: 9), b = LayerHarness(plain, seed: 9)
            let x = randomTensor(Shape(4, 3, 5, 7), seed: 10), dy = randomTensor(Shape(4, 3, 5, 7), seed: 11)
            let ya = fused.forward(x, a.replica.view, .testing(training)).array
            let yb = relu.forward(plain.forward(x, b.replica.view, .testing(training)), b.replica.view, .testing(training))
            assertClose(ya, yb.array, relative: 1e-6, absolute: 1e-7, "forward")
            let dxa = fused.backward(dy, a.replica.view, .testing(training)).array
            let dxb = plain.backward(relu.backward(dy, b.replica.view, .testing(training)), b.replica.view,
                                     .testing(training)).array
            assertClose(dxa, dxb, relative: 1e-5, absolute: 1e-6, "input gradient")
            assertClose(a.replica.gradients.array, b.replica.gradients.array, relative: 1e-5, absolute: 1e-6, "γ, β")
            XCTAssertEqual(a.replica.state.array, b.replica.state.array, "running statistics")
        }
    }

    func testReLU() {
        checkLayerGradients(ReLU(), input: Shape(3, 2, 3, 3), epsilon: 1e-2, distinctInput: true)
    }

    func testMaxPool() {
        checkLayerGradients(MaxPool2d(kernel: 2), input: Shape(2, 2, 4, 5), epsilon: 1e-2, distinctInput: true)
        checkLayerGradients(MaxPool2d(kernel: 3, stride: 2, padding: 1), input: Shape(2, 2, 5, 5), epsilon: 1e-2,
                            distinctInput: true)
    }

    /// The 2×2 fast path (images stacked per channel) against the general path on the same
    /// windows: an extra, never-reached column makes the width odd, which forces the general path.
    func testMaxPool2x2FastPathEqualsGeneralPath() {
        let fast = MaxPool2d(kernel: 2), general = MaxPool2d(kernel: 2)
        let view = LayerHarness(ReLU()).replica.view
        let x = randomTensor(Shape(2, 3, 4, 6), seed: 30)
        // Odd width: one extra column the windows never reach; the general path runs.
        let wide = Tensor(Shape(2, 3, 4, 7))
        for plane in 0..<6 { for row in 0..<4 { for col in 0..<6 {
            wide[(plane * 4 + row) * 7 + col] = x[(plane * 4 + row) * 6 + col]
        } } }
        XCTAssertEqual(fast.forward(x, view, .testing()).array, general.forward(wide, view, .testing()).array)
        let dy = randomTensor(Shape(2, 3, 2, 3), seed: 31)
        let dxFast = fast.backward(dy, view, .testing()).array, dxGeneral = general.backward(dy, view, .testing()).array
        for plane in 0..<6 { for row in 0..<4 { for col in 0..<6 {
            XCTAssertEqual(dxFast[(plane * 4 + row) * 6 + col], dxGeneral[(plane * 4 + row) * 7 + col])
        } } }
    }

    func testMaxPoolWithFusedReLU() {
        checkLayerGradients(MaxPool2d(kernel: 2, relu: true), input: Shape(2, 2, 4, 6), epsilon: 1e-2, distinctInput: true)
        checkLayerGradients(MaxPool2d(kernel: 3, stride: 2, padding: 1, relu: true), input: Shape(2, 2, 5, 5),
                            epsilon: 1e-2, distinctInput: true)
    }

    /// MaxPool2d(relu: true) is ReLU then max-pool, forward and backward, including all-negative
    /// windows and ties (the fast 2×2 path and the general one).
    func testFusedReLUPoolEqualsReLUThenPool() {
        for (kernel, stride, padding) in [(2, 2, 0), (3, 2, 1)] {
            let fused = MaxPool2d(kernel: kernel, stride: stride, padding: padding, relu: true)
            let pool = MaxPool2d(kernel: kernel, stride: stride, padding: padding), relu = ReLU()
            let view = LayerHarness(relu).replica.view
            let shape = Shape(2, 3, 6, 8)
            // Rounded values give ties; a negative offset gives all-negative windows.
            let x = Tensor(shape, values: randomTensor(shape, seed: 20).array.map { ($0 * 2).rounded() / 2 - 0.5 })
            let dy = randomTensor(fused.outputShape(for: shape), seed: 21)
            let ya = fused.forward(x, view, .testing()).array
            let yb = pool.forward(relu.forward(x, view, .testing()), view, .testing()).array
            XCTAssertEqual(ya, yb)
            let dxa = fused.backward(dy, view, .testing()).array
            let dxb = relu.backward(pool.backward(dy, view, .testing()), view, .testing()).array
            XCTAssertEqual(dxa, dxb)
        }
    }

    func testAveragePools() {
        checkLayerGradients(AvgPool2d(kernel: 2), input: Shape(2, 2, 4, 4))
        checkLayerGradients(AvgPool2d(kernel: 3, stride: 2, padding: 1), input: Shape(2, 1, 5, 5))
        checkLayerGradients(GlobalAveragePool(), input: Shape(3, 2, 3, 2))
    }

    func testFlatten() {
        checkLayerGradients(Flatten(), input: Shape(2, 3, 2, 2))
    }

    func testBasicBlockIdentityZeroPadAndProjection() {
        func block(_ cin: Int, _ cout: Int, _ stride: Int, _ shortcut: Shortcut) -> ResidualBlock {
            ResidualBlock(body: Sequential([
                ("conv1", Conv2d(cin, cout, kernel: 3, stride: stride, padding: 1, bias: false)),
                ("bn1", BatchNorm(cout)), ("", ReLU()),
                ("conv2", Conv2d(cout, cout, kernel: 3, padding: 1, bias: false)), ("bn2", BatchNorm(cout)),
            ]), shortcut: shortcut)
        }
        let tolerance: (Float, Float) = (4e-2, 5e-3)
        checkLayerGradients(block(2, 2, 1, .identity), input: Shape(2, 3, 4, 4), epsilon: 1e-3,
                            relative: tolerance.0, absolute: tolerance.1)
        checkLayerGradients(block(2, 4, 2, .zeroPad(stride: 2, outChannels: 4)), input: Shape(2, 3, 5, 5), epsilon: 1e-3,
                            relative: tolerance.0, absolute: tolerance.1)
        let projection = Sequential([("0", Conv2d(2, 4, kernel: 1, stride: 2, bias: false)),
                                     ("1", BatchNorm(4))])
        checkLayerGradients(block(2, 4, 2, .projection(projection)), input: Shape(2, 3, 4, 4), epsilon: 1e-3,
                            relative: tolerance.0, absolute: tolerance.1)
    }

    /// A block whose body ends with a BatchNorm without ReLU adds the shortcut and applies the
    /// ReLU inside that BatchNorm's pass (and its gradient in one pass): bitwise the output, input
    /// gradient and parameter gradients of the body, shortcut, add, ReLU and their backward run
    /// one after the other, on odd sizes (the SIMD loops' tails), identity and projection, 1 and 3 threads.
    func testFusedBlockEndGivesTheBitsOfSeparatePasses() {
        for (cin, cout, stride, threads) in [(3, 3, 1, 1), (3, 5, 2, 1), (3, 3, 1, 3), (2, 4, 2, 3)] {
            let body = Sequential([
                ("conv1", Conv2d(cin, cout, kernel: 3, stride: stride, padding: 1, bias: false)),
                ("bn1", BatchNorm(cout, relu: true)),
                ("conv2", Conv2d(cout, cout, kernel: 3, padding: 1, bias: false)), ("bn2", BatchNorm(cout)),
            ])
            let projection = Sequential([("0", Conv2d(cin, cout, kernel: 1, stride: stride, bias: false)),
                                         ("1", BatchNorm(cout))])
            let block = ResidualBlock(body: body, shortcut: cin == cout && stride == 1 ? .identity : .projection(projection))
            let harness = LayerHarness(block, seed: 41)
            let x = randomTensor(Shape(cin, 3, 7, 5), seed: 42)
            let context = StepContext.testing(threads: threads)
            let r = harness.replica.view
            let dy = randomTensor(block.outputShape(for: x.shape), seed: 43)

            harness.replica.gradients.zero()
            let y = block.forward(x, r, context).array
            let dx = block.backward(dy, r, context).array
            let grads = harness.replica.gradients.array

            harness.replica.gradients.zero()
            let a = body.forward(x, r, context).array
            let s = cin == cout && stride == 1 ? x.array : projection.forward(x, r, context).array
            let expectedY = zip(a, s).map { max($0 + $1, 0) }
            let masked = Tensor(dy.shape, values: zip(dy.array, expectedY).map { $1 > 0 ? $0 : 0 })
            let dBody = body.backward(masked, r, context).array
            let dShortcut = cin == cout && stride == 1 ? masked.array : projection.backward(masked, r, context).array
            let name = "\(cin)→\(cout) stride \(stride), \(threads) threads"
            func differing(_ a: [Float], _ b: [Float]) -> Int {
                a.count == b.count ? zip(a, b).filter { $0.bitPattern != $1.bitPattern }.count : max(a.count, b.count)
            }
            XCTAssertEqual(differing(y, expectedY), 0, "output, \(name)")
            XCTAssertEqual(differing(dx, zip(dBody, dShortcut).map { $0 + $1 }), 0, "input gradient, \(name)")
            XCTAssertEqual(differing(grads, harness.replica.gradients.array), 0, "parameter gradients, \(name)")
            XCTAssertTrue(y.contains(0) && y.contains { $0 > 0 }, "\(name): the ReLU masks some outputs and not others")
        }
    }
}

/// The chunked im2col paths against one chunk per batch, and their gradients when chunks split images.
final class ConvolutionChunkTests: XCTestCase {

    func conv(_ cin: Int, _ cout: Int, kernel: Int, stride: Int, padding: Int, budget: Int) -> Conv2d {
        let c = Conv2d(cin, cout, kernel: kernel, stride: stride, padding: padding)
        c.columnBudget = budget
        return c
    }

    func testChunksSplittingImagesGiveTheSameOutputAndGradients() {
        // (kernel, stride, padding, input): size-preserving 3×3 and 5×5 (on images smaller than the
        // kernel reach), strided 3×3, strided pointwise.
        let cases: [(Int, Int, Int, Shape)] = [(3, 1, 1, Shape(3, 3, 5, 4)), (5, 1, 2, Shape(2, 3, 2, 3)),
                                               (3, 2, 1, Shape(2, 3, 7, 6)), (1, 2, 0, Shape(3, 2, 5, 5))]
        for (k, s, p, shape) in cases {
            let whole = conv(shape.c, 4, kernel: k, stride: s, padding: p, budget: 1 << 30)
            // One output line per chunk: every chunk boundary, including inside images.
            let lines = conv(shape.c, 4, kernel: k, stride: s, padding: p, budget: 1)
            let a = LayerHarness(whole, seed: 3), b = LayerHarness(lines, seed: 3)
            let x = randomTensor(shape, seed: 4)
            let ya = whole.forward(x, a.replica.view, .testing()).array
            let yb = lines.forward(x, b.replica.view, .testing()).array
            assertClose(yb, ya, relative: 1e-5, absolute: 1e-6, "forward k\(k) s\(s)")
            let dy = randomTensor(whole.outputShape(for: shape), seed: 5)
            let dxa = whole.backward(dy, a.replica.view, .testing()).array
            let dxb = lines.backward(dy, b.replica.view, .testing()).array
            assertClose(dxb, dxa, relative: 1e-5, absolute: 1e-5, "input gradient k\(k) s\(s)")
            assertClose(b.replica.gradients.array, a.replica.gradients.array, relative: 1e-5, absolute: 1e-5,
                        "weight gradient k\(k) s\(s)")
            checkLayerGradients(conv(shape.c, 3, kernel: k, stride: s, padding: p, budget: 1), input: shape)
        }
    }
}
