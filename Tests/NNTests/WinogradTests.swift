import CWinograd
import Tensor
import XCTest
@testable import NN
import TestSupport

/// Our Winograd F(4×4, 3×3) kernels (`OurWinograd`, `CWinograd`) on odd shapes: bit for bit the
/// same operations done one at a time in Swift (`winogradReference`), and within the algorithm's
/// own rounding bound of exact sums in Double (`winogradMagnitudes`); and the rule that says where
/// they run.
final class WinogradTests: XCTestCase {
    override func setUpWithError() throws {
        guard lsgd_winograd_supported() != 0 else { throw XCTSkip("this CPU has no AVX2 and FMA") }
    }

    /// (in, out, images of the group, images of the batch, H, W): channels off the kernels' blocks
    /// of 8 and 6 (and of the weight transform's lanes of 8), sizes off the 4×4 tiles, 1×1 images,
    /// a group inside a larger batch, and more tiles than one block holds (the last two: 20 tiles
    /// in blocks of 16, 128 in blocks of 64), where the weight gradient's sums go on from block
    /// to block.
    static let shapes: [(Int, Int, Int, Int, Int, Int)] = [
        (16, 16, 2, 5, 12, 12), (3, 5, 3, 3, 7, 5), (7, 9, 2, 4, 9, 13), (5, 3, 1, 1, 1, 1), (64, 64, 3, 4, 7, 7),
        (1, 1, 1, 2, 6, 4), (17, 13, 9, 10, 8, 8), (11, 10, 5, 6, 9, 14), (64, 64, 5, 6, 8, 8), (16, 16, 8, 9, 16, 16),
    ]

    /// Output (with bias), input gradient and weight gradient: the reference's bits
    /// (`winogradReference`, `winogradReferenceWeightGradient`), and within (C + 21)·u of
    /// Winograd's magnitudes (plus |bias|) of the exact convolution, where a wrong index or a lost
    /// term is off by about a product (the weight gradient within (T + 22)·u of its magnitudes, T
    /// tiles); images of the batch outside the group are left as they were.
    func testMatchesTheReferenceBitwiseAndExactSumsWithinWinogradsRoundingBound() {
        for (cin, cout, group, batch, h, w) in Self.shapes {
            var rng = RandomGenerator(seed: UInt64(cin * 100 + cout))
            let first = batch - group
            let x = (0..<cin * batch * h * w).map { _ in rng.nextNormal() }
            let dy = (0..<cout * batch * h * w).map { _ in rng.nextNormal() }
            let weights = (0..<cout * cin * 9).map { _ in 0.3 * rng.nextNormal() }
            let bias = (0..<cout).map { _ in rng.nextNormal() }
            let name = "\(cin)→\(cout), images \(first)..<\(batch), \(h)×\(w)"
            let kernels = OurWinograd(inChannels: cin, outChannels: cout)
            let work = FloatBuffer(count: OurWinograd.workFloats(inChannels: cin, outChannels: cout, images: group,
                                                                 height: h, width: w))
            let image = h * w, sentinel: Float = 1e30
            var y = [Float](repeating: sentinel, count: cout * batch * image)
            var dx = [Float](repeating: sentinel, count: cin * batch * image)
            var dw = [Float](repeating: sentinel, count: cout * cin * 9)
            weights.withUnsafeBufferPointer { kernels.transform($0.baseAddress!, backward: false) }
            weights.withUnsafeBufferPointer { kernels.transform($0.baseAddress!, backward: true) }
            x.withUnsafeBufferPointer { xp in
                bias.withUnsafeBufferPointer { bp in
                    y.withUnsafeMutableBufferPointer { yp in
                        kernels.forward(xp.baseAddress! + first * image, into: yp.baseAddress! + first * image,
                                        bias: bp.baseAddress!, images: group, height: h, width: w,
                                        channelStride: batch * image, work: work.pointer)
                    }
                }
            }
            dy.withUnsafeBufferPointer { dp in
                dx.withUnsafeMutableBufferPointer { xp in
                    kernels.inputGradient(dp.baseAddress! + first * image, into: xp.baseAddress! + first * image,
                                          images: group, height: h, width: w, channelStride: batch * image,
                                          work: work.pointer)
                }
            }
            x.withUnsafeBufferPointer { xp in
                dy.withUnsafeBufferPointer { dp in
                    kernels.weightGradient(xp.baseAddress! + first * image, dp.baseAddress! + first * image, into: &dw,
                                           images: group, height: h, width: w, channelStride: batch * image,
                                           work: work.pointer)
                }
            }
            // The group's images alone, [C][group][H][W], for the references.
            func slice(_ a: [Float], _ channels: Int) -> [Float] {
                (0..<channels).flatMap { c in a[(c * batch + first) * image..<(c * batch + batch) * image] }
            }
            let yMagnitudes = winogradMagnitudes(x: slice(x, cin), channels: cin, images: group, height: h, width: w,
                                                 weights: weights, outChannels: cout)
            let dxMagnitudes = winogradMagnitudes(x: slice(dy, cout), channels: cout, images: group, height: h, width: w,
                                                  weights: weights, outChannels: cin, transposed: true)
            let exact = ExactConvolution(weights: weights + bias, x: Tensor(Shape(cin, group, h, w), values: slice(x, cin)),
                                         dy: Tensor(Shape(cout, group, h, w), values: slice(dy, cout)), cout: cout,
                                         stride: 1, padding: 1)
            let reference = winogradReference(x: slice(x, cin), channels: cin, images: group, height: h, width: w,
                                              weights: weights, outChannels: cout, bias: bias)
            let referenceDx = winogradReference(x: slice(dy, cout), channels: cout, images: group, height: h, width: w,
                                                weights: weights, outChannels: cin, transposed: true)
            assertSameBits(slice(y, cout), reference, "output \(name)")
            assertSameBits(slice(dx, cin), referenceDx, "input gradient \(name)")
            assertSameBits(dw, winogradReferenceWeightGradient(x: slice(x, cin), channels: cin, images: group, height: h,
                                                               width: w, dy: slice(dy, cout), outChannels: cout),
                           "weight gradient \(name)")
            let u = 0x1p-24
            var worst = 0.0
            for o in 0..<cout {
                for i in 0..<group * image {
                    let at = o * group * image + i, got = Double(y[(o * batch + first) * image + i])
                    let bound = Double(cin + 22) * u * (yMagnitudes[at] + abs(Double(bias[o])))
                    worst = max(worst, abs(got - exact.y[at].value) / bound)
                }
            }
            XCTAssertLessThanOrEqual(worst, 1, "output \(name): \(worst)× the bound")
            worst = 0
            for c in 0..<cin {
                for i in 0..<group * image {
                    let at = c * group * image + i, got = Double(dx[(c * batch + first) * image + i])
                    worst = max(worst, abs(got - exact.dx[at].value) / max(Double(cout + 21) * u * dxMagnitudes[at], .leastNormalMagnitude))
                }
            }
            XCTAssertLessThanOrEqual(worst, 1, "input gradient \(name): \(worst)× the bound")
            let dwMagnitudes = winogradWeightGradientMagnitudes(x: slice(x, cin), channels: cin, images: group, height: h,
                                                                width: w, dy: slice(dy, cout), outChannels: cout)
            let tiles = group * ((h + 3) / 4) * ((w + 3) / 4)
            worst = 0
            for i in dw.indices {
                let bound = max(Double(tiles + 22) * u * dwMagnitudes[i], .leastNormalMagnitude)
                worst = max(worst, abs(Double(dw[i]) - exact.dw[i].value) / bound)
            }
            XCTAssertLessThanOrEqual(worst, 1, "weight gradient \(name): \(worst)× the bound")
            for o in 0..<cout { XCTAssertTrue(y[o * batch * image..<(o * batch + first) * image].allSatisfy { $0 == sentinel }, name) }
            for c in 0..<cin { XCTAssertTrue(dx[c * batch * image..<(c * batch + first) * image].allSatisfy { $0 == sentinel }, name) }
        }
    }

    /// The bound still catches a wrong sum: a convolution missing one tap (the centre of one
    /// kernel) lies outside it at most outputs of that channel (all but those whose input there is
    /// near zero).
    func testTheBoundSeparatesRoundingFromAWrongSum() {
        let (cin, cout, n, h, w) = (16, 16, 2, 8, 8)
        var rng = RandomGenerator(seed: 5)
        let x = (0..<cin * n * h * w).map { _ in rng.nextNormal() }
        var weights = (0..<cout * cin * 9).map { _ in 0.3 * rng.nextNormal() }
        let magnitudes = winogradMagnitudes(x: x, channels: cin, images: n, height: h, width: w, weights: weights, outChannels: cout)
        func convolution(_ weights: [Float]) -> [Double] {
            ExactConvolution(weights: weights + [Float](repeating: 0, count: cout), x: Tensor(Shape(cin, n, h, w), values: x),
                             dy: Tensor(Shape(cout, n, h, w), values: [Float](repeating: 0, count: cout * n * h * w)),
                             cout: cout, stride: 1, padding: 1).y.map(\.value)
        }
        let exact = convolution(weights)
        weights[4] = 0
        let wrong = convolution(weights)
        let u = 0x1p-24
        let outside = (0..<n * h * w).filter { abs(wrong[$0] - exact[$0]) > Double(cin + 21) * u * magnitudes[$0] }
        XCTAssertGreaterThan(outside.count, n * h * w * 3 / 4, "a lost tap is caught at most outputs of channel 0")
    }

    /// The weight transform, in lanes of 8 kernels and one kernel at a time (the 9th column of 9
    /// input and 11 output channels, either way round), gives the reference's bits.
    func testWeightTransformsGiveTheReferencesBits() {
        let (cin, cout) = (9, 11)
        var rng = RandomGenerator(seed: 8)
        let weights = (0..<cout * cin * 9).map { _ in rng.nextNormal() }
        for transposed in [false, true] {
            var u = [Float](repeating: .nan, count: 36 * cin * cout)
            lsgd_winograd_weights(weights, Int32(cout), Int32(cin), transposed ? 1 : 0, &u)
            let reference = winogradReferenceWeights(weights, outChannels: cout, inChannels: cin, transposed: transposed)
            assertSameBits(u, reference, "weights, transposed \(transposed)")
        }
    }

    /// Where ours run: stride 1, padding 1, outputs of at least 4×4, at least 16 tiles of 4×4 in
    /// the group, covering at most twice the outputs; and where oneDNN's do (stride 1, outputs ≥
    /// 7×7, groups ≥ 8 images).
    func testWhereEachWinogradRuns() {
        let ours = WinogradKernels.ours, onednn = WinogradKernels.onednn
        XCTAssertTrue(ours.takes(stride: 1, padding: 1, outputHeight: 4, outputWidth: 4, images: 16), "16 tiles")
        XCTAssertFalse(ours.takes(stride: 1, padding: 1, outputHeight: 4, outputWidth: 4, images: 15), "15 tiles")
        XCTAssertTrue(ours.takes(stride: 1, padding: 1, outputHeight: 7, outputWidth: 7, images: 4), "16 tiles")
        XCTAssertFalse(ours.takes(stride: 1, padding: 1, outputHeight: 7, outputWidth: 7, images: 2), "8 tiles")
        XCTAssertTrue(ours.takes(stride: 1, padding: 1, outputHeight: 6, outputWidth: 6, images: 8), "1.8× the outputs")
        XCTAssertFalse(ours.takes(stride: 1, padding: 1, outputHeight: 5, outputWidth: 5, images: 32), "2.6× the outputs")
        XCTAssertTrue(ours.takes(stride: 1, padding: 1, outputHeight: 5, outputWidth: 8, images: 8), "1.6× the outputs")
        XCTAssertTrue(ours.takes(stride: 1, padding: 1, outputHeight: 28, outputWidth: 28, images: 1))
        XCTAssertFalse(ours.takes(stride: 1, padding: 1, outputHeight: 3, outputWidth: 9, images: 8))
        XCTAssertFalse(ours.takes(stride: 1, padding: 0, outputHeight: 8, outputWidth: 8, images: 8))
        XCTAssertFalse(ours.takes(stride: 2, padding: 1, outputHeight: 14, outputWidth: 14, images: 8))
        XCTAssertTrue(onednn.takes(stride: 1, padding: 0, outputHeight: 7, outputWidth: 9, images: 8))
        XCTAssertFalse(onednn.takes(stride: 1, padding: 1, outputHeight: 6, outputWidth: 9, images: 8))
        XCTAssertFalse(onednn.takes(stride: 1, padding: 1, outputHeight: 7, outputWidth: 7, images: 7))
        XCTAssertFalse(onednn.takes(stride: 2, padding: 1, outputHeight: 14, outputWidth: 14, images: 32))
    }
}

/// Fails with the first position where `got` and `expected` differ in their bits.
func assertSameBits(_ got: [Float], _ expected: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(got.count, expected.count, what, file: file, line: line)
    if let i = got.indices.first(where: { $0 < expected.count && got[$0].bitPattern != expected[$0].bitPattern }) {
        XCTFail("\(what): [\(i)] \(got[i]) is not the reference's \(expected[i])", file: file, line: line)
    }
}
