import Tensor
import XCTest
@testable import NN
import TestSupport

/// Forward passes against naive reference implementations written index by index.
final class ReferenceTests: XCTestCase {
    func testConvolutionMatchesDirectLoopsWithPyTorchWeightLayout() {
        let cin = 2, cout = 3, n = 2, h = 6, w = 5, k = 3, stride = 2, pad = 1
        let conv = Conv2d(cin, cout, kernel: k, stride: stride, padding: pad)
        let harness = LayerHarness(conv, seed: 3)
        let x = randomTensor(Shape(cin, n, h, w), seed: 4)
        let y = conv.forward(x, harness.replica.view, .testing())
        let weight = harness.replica.parameters.array, bias = Array(weight[(cout * cin * k * k)...])
        let oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1
        XCTAssertEqual(y.shape, Shape(cout, n, oh, ow))
        var expected = [Float](repeating: 0, count: cout * n * oh * ow)
        for o in 0..<cout { for b in 0..<n { for yy in 0..<oh { for xx in 0..<ow {
            var s = bias[o]
            for c in 0..<cin { for i in 0..<k { for j in 0..<k {
                let iy = yy * stride - pad + i, ix = xx * stride - pad + j
                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                // weight[o][c][i][j] (PyTorch [out, in, kh, kw]); x in [C, N, H, W]
                s += weight[((o * cin + c) * k + i) * k + j] * x[((c * n + b) * h + iy) * w + ix]
            } } }
            expected[((o * n + b) * oh + yy) * ow + xx] = s
        } } } }
        assertClose(y.array, expected, relative: 1e-5, absolute: 1e-5)
    }

    /// Output, input gradient and weight gradient against direct loops, on shapes that take each
    /// GEMM arrangement: size-preserving and strided, channel counts off multiples of 16, batch 1
    /// and batches split over groups, chunks inside images, a first layer's few patch rows.
    func testConvolutionGradientsMatchDirectLoops() {
        // (in, out, kernel, stride, padding, input N, H, W, column budget)
        let cases: [(Int, Int, Int, Int, Int, Int, Int, Int, Int)] = [
            (5, 7, 3, 1, 1, 1, 9, 11, 1 << 20), (5, 7, 3, 1, 1, 3, 6, 5, 200), (4, 18, 3, 2, 1, 2, 7, 9, 1 << 20),
            (17, 3, 3, 2, 1, 5, 5, 4, 300), (1, 6, 3, 1, 1, 2, 5, 5, 1 << 20), (6, 5, 1, 2, 0, 3, 5, 7, 1 << 20),
            // Stride 2 on the phases: odd sizes, batch 1, chunks inside images, other kernels.
            (3, 5, 3, 2, 1, 1, 7, 5, 1 << 20), (5, 6, 1, 2, 0, 1, 9, 7, 1 << 20), (17, 19, 3, 2, 1, 3, 8, 6, 700),
            (18, 20, 1, 2, 0, 5, 6, 6, 100), (2, 3, 2, 2, 1, 2, 5, 5, 1 << 20), (3, 4, 4, 2, 2, 2, 7, 6, 1 << 20),
            (4, 5, 3, 2, 2, 1, 5, 7, 1 << 20), (3, 4, 3, 2, 1, 2, 5, 37, 1 << 20), (2, 3, 1, 2, 0, 2, 4, 33, 1 << 20),
            // Size-preserving 5×5: shifts of two lines and columns, images smaller than the window.
            (3, 4, 5, 1, 2, 2, 6, 7, 150), (2, 3, 5, 1, 2, 3, 3, 2, 1 << 20),
        ]
        for (cin, cout, k, stride, pad, n, h, w, budget) in cases {
            let conv = Conv2d(cin, cout, kernel: k, stride: stride, padding: pad, bias: false)
            conv.columnBudget = budget
            let harness = LayerHarness(conv, seed: 6)
            let x = randomTensor(Shape(cin, n, h, w), seed: 7)
            let y = conv.forward(x, harness.replica.view, .testing())
            let oh = y.shape.h, ow = y.shape.w
            let dy = randomTensor(y.shape, seed: 8)
            let dx = conv.backward(dy, harness.replica.view, .testing()).array
            let weight = harness.replica.parameters.array, xa = x.array, dya = dy.array
            var expectedY = [Float](repeating: 0, count: y.count), expectedDx = [Float](repeating: 0, count: x.count)
            var expectedDw = [Float](repeating: 0, count: weight.count)
            for o in 0..<cout { for b in 0..<n { for yy in 0..<oh { for xx in 0..<ow {
                let out = ((o * n + b) * oh + yy) * ow + xx
                for c in 0..<cin { for i in 0..<k { for j in 0..<k {
                    let iy = yy * stride - pad + i, ix = xx * stride - pad + j
                    guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                    let wi = ((o * cin + c) * k + i) * k + j, xi = ((c * n + b) * h + iy) * w + ix
                    expectedY[out] += weight[wi] * xa[xi]
                    expectedDx[xi] += weight[wi] * dya[out]
                    expectedDw[wi] += xa[xi] * dya[out]
                } } }
            } } } }
            let name = "\(cin)→\(cout) k\(k) s\(stride) N\(n) \(h)×\(w)"
            assertClose(y.array, expectedY, relative: 1e-4, absolute: 1e-5, "output \(name)")
            assertClose(dx, expectedDx, relative: 1e-4, absolute: 1e-5, "input gradient \(name)")
            assertClose(harness.replica.gradients.array, expectedDw, relative: 1e-4, absolute: 1e-4,
                        "weight gradient \(name)")
        }
    }

    func testLinearMatchesWeightTimesInputPlusBias() {
        let layer = Linear(3, 2)
        let harness = LayerHarness(layer, seed: 5)
        let x = Tensor(Shape(3, 2), values: [1, 2, 3, 4, 5, 6]) // [in, N]: sample 0 = (1, 3, 5)
        let p = harness.replica.parameters.array // W [2, 3] then b [2]
        let y = layer.forward(x, harness.replica.view, .testing())
        let expected: [Float] = [
            p[0] * 1 + p[1] * 3 + p[2] * 5 + p[6], p[0] * 2 + p[1] * 4 + p[2] * 6 + p[6],
            p[3] * 1 + p[4] * 3 + p[5] * 5 + p[7], p[3] * 2 + p[4] * 4 + p[5] * 6 + p[7],
        ]
        assertClose(y.array, expected, relative: 1e-6)
    }

    func testFlattenUsesPyTorchFeatureOrder() {
        // x [C=2, N=2, H=1, W=2]; PyTorch flattens sample n as (c0w0, c0w1, c1w0, c1w1).
        let x = Tensor(Shape(2, 2, 1, 2), values: [0, 1, 10, 11, 100, 101, 110, 111])
        let y = Flatten().forward(x, LayerHarness(Flatten()).replica.view, .testing())
        XCTAssertEqual(y.shape, Shape(4, 2))
        // [features, N]: feature f of sample n at f·N + n
        XCTAssertEqual(y.array, [0, 10, 1, 11, 100, 110, 101, 111])
    }

    /// Flatten's tiled transpose on shapes larger than a tile, on 1 and 2 threads, and its
    /// backward as the inverse permutation.
    func testFlattenOrderOnTiledShapes() {
        for threads in [1, 2] {
            let s = Shape(3, 10, 3, 5), hw = 15
            let flatten = Flatten()
            let x = Tensor(s, values: (0..<s.count).map { Float($0) })
            let view = LayerHarness(Flatten()).replica.view
            let y = flatten.forward(x, view, .testing(threads: threads)).array
            for c in 0..<3 { for n in 0..<10 { for p in 0..<hw {
                XCTAssertEqual(y[(c * hw + p) * 10 + n], x[(c * 10 + n) * hw + p])
            } } }
            XCTAssertEqual(flatten.backward(Tensor(Shape(45, 10), values: y), view, .testing(threads: threads)).array,
                           x.array)
        }
    }

    func testBatchNormRunningStatisticsFollowPyTorch() {
        let bn = BatchNorm(1, momentum: 0.1)
        let harness = LayerHarness(bn)
        harness.replica.parameters[0] = 1
        harness.replica.parameters[1] = 0
        let x = Tensor(Shape(1, 4), values: [1, 2, 3, 6])   // mean 3, biased var 3.5, unbiased 14/3
        let y = bn.forward(x, harness.replica.view, .testing())
        assertClose(harness.replica.state.array, [0.9 * 0 + 0.1 * 3, 0.9 * 1 + 0.1 * 14 / 3], relative: 1e-6)
        let inv = 1 / (3.5 + 1e-5 as Float).squareRoot()
        assertClose(y.array, [-2 * inv, -1 * inv, 0, 3 * inv], relative: 1e-5)
        let z = bn.forward(x, harness.replica.view, .testing(false))
        let runInv = 1 / (0.9 + 0.1 * 14 / 3 + 1e-5 as Float).squareRoot()
        assertClose(z.array, [1, 2, 3, 6].map { ($0 - 0.3) * runInv }, relative: 1e-5)
    }

    func testCrossEntropyValueAccuracyAndGradient() {
        // logits [classes=3, N=2]: sample 0 = (1, 2, 3), sample 1 = (0, 0, 0)
        let logits = Tensor(Shape(3, 2), values: [1, 0, 2, 0, 3, 0])
        let labels: [Int32] = [2, 1]
        let grad = Tensor(Shape(0, 0))
        let result = labels.withUnsafeBufferPointer {
            SoftmaxCrossEntropy.evaluate(logits: logits, labels: $0.baseAddress!, gradient: grad)
        }
        let lse0 = log(exp(1.0) + exp(2.0) + exp(3.0))
        let expectedLoss = ((lse0 - 3) + log(3.0)) / 2
        assertClose(result.loss, Float(expectedLoss), relative: 1e-6)
        XCTAssertEqual(result.correct, 1)
        let p0: [Double] = [1.0, 2.0, 3.0].map { exp($0 - lse0) }
        let third: Double = 1.0 / 3
        let expectedDouble: [Double] = [p0[0] / 2, third / 2, p0[1] / 2, (third - 1) / 2, (p0[2] - 1) / 2, third / 2]
        let expectedGrad = expectedDouble.map { Float($0) }
        assertClose(grad.array, expectedGrad, relative: 1e-5, absolute: 1e-7)
    }

    func testMaxAndAveragePoolValues() {
        let x = Tensor(Shape(1, 1, 2, 4), values: [1, 5, 2, 0, 3, 4, 8, 7])
        let harness = LayerHarness(ReLU())
        XCTAssertEqual(MaxPool2d(kernel: 2).forward(x, harness.replica.view, .testing()).array, [5, 8])
        XCTAssertEqual(AvgPool2d(kernel: 2).forward(x, harness.replica.view, .testing()).array, [3.25, 4.25])
        XCTAssertEqual(GlobalAveragePool().forward(x, harness.replica.view, .testing()).array, [30.0 / 8])
    }
}

final class GEMMTests: XCTestCase {
    /// gemmNN against a naive product, on shapes that take its split path (n mod 16 in 1…8,
    /// k ≥ 32, small) and ones that do not, with beta 0 and 1 and leading dimensions above n.
    func testGemmNNMatchesNaiveProduct() {
        var g = RandomGenerator(seed: 40)
        for (m, n, k) in [(4, 21, 40), (16, 8, 100), (3, 17, 31), (5, 40, 64), (2, 3, 70), (64, 392, 32)] {
            let lda = k + 1, ldb = n + 2, ldc = n + 3
            let a = (0..<(m * lda)).map { _ in g.nextNormal() }, b = (0..<(k * ldb)).map { _ in g.nextNormal() }
            for beta: Float in [0, 1] {
                var c = (0..<(m * ldc)).map { _ in g.nextNormal() }
                var expected = c
                for i in 0..<m { for j in 0..<n {
                    var s: Float = 0
                    for p in 0..<k { s += a[i * lda + p] * b[p * ldb + j] }
                    expected[i * ldc + j] = s + beta * c[i * ldc + j]
                } }
                a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
                    gemmNN(m: m, n: n, k: k, a: pa.baseAddress!, lda: lda, b: pb.baseAddress!, ldb: ldb, beta: beta,
                           c: pc.baseAddress!, ldc: ldc)
                } } }
                assertClose(c, expected, relative: 1e-4, absolute: 1e-4, "\(m)×\(n)×\(k) beta \(beta)")
            }
        }
    }
}
