import CDNNL
import Tensor
import XCTest
@testable import NN
import TestSupport

/// `Conv2d` on oneDNN (`use(.onednn)`) against loops in Double, against our own kernels and
/// against finite differences, on odd shapes (batches that split unevenly into the four image
/// groups, channel counts off oneDNN's blocks of 16, strides 1 and 2, padding 0 and 1); and its
/// bits against other thread counts and against itself.
final class OneDNNConvolutionTests: XCTestCase {
    override func setUp() { BLAS.setThreads(1) }

    /// (in, out, stride, padding, N, H, W): N = 1, 3, 5, 6 give 1, 3, 4 and 4 groups of unequal
    /// sizes; N = 33 groups of 8, 8, 8 and 9 images, which take oneDNN's Winograd kernels where
    /// the process has them (stride 1, outputs of at least 7×7), and N = 32 on 2×2 images the
    /// direct ones (Winograd's weight gradient there is far outside the bound below). Ours (AVX2)
    /// take the stride-1, padding-1 groups of at least 16 tiles: 20→16 on 16×13 (one image, 16
    /// tiles), 48→40 on 7×7 in its groups of 4 images but not of 3 (N = 14), and 16→32 at N = 33.
    static let shapes: [(Int, Int, Int, Int, Int, Int, Int)] = [
        (16, 16, 1, 1, 1, 5, 5), (17, 19, 2, 1, 3, 7, 6), (16, 32, 1, 0, 5, 6, 7), (32, 24, 2, 1, 6, 9, 9),
        (20, 16, 1, 1, 3, 16, 13), (16, 16, 2, 0, 5, 8, 8), (48, 40, 1, 1, 14, 7, 7), (16, 32, 1, 1, 33, 8, 7),
        (32, 16, 1, 0, 33, 9, 9), (16, 16, 1, 1, 32, 2, 2),
    ]

    func oneDNNConv(_ cin: Int, _ cout: Int, stride: Int, padding: Int, bias: Bool) throws -> Conv2d {
        let conv = Conv2d(cin, cout, kernel: 3, stride: stride, padding: padding, bias: bias)
        try conv.use(.onednn)
        XCTAssertEqual(conv.backend, .onednn)
        return conv
    }

    /// y, dx and the parameter gradients (weights then bias) of one forward and backward.
    func pass(_ conv: Conv2d, _ harness: LayerHarness, x: Tensor, dy seed: UInt64, threads: Int = 1)
        -> (y: [Float], dx: [Float], grads: [Float]) {
        let context = StepContext.testing(threads: threads)
        harness.replica.gradients.zero()
        let y = conv.forward(x, harness.replica.view, context).array
        let dy = randomTensor(conv.outputShape(for: x.shape), seed: seed)
        let dx = conv.backward(dy, harness.replica.view, context).array
        return (y, dx, harness.replica.gradients.array)
    }

    /// Every output against the exact sum of its products (in Double). Any order of float32
    /// additions and FMAs of n products p_i is within (n + 1)·u·Σ|p_i| of it (u = 2⁻²⁴: one rounding
    /// per product and per add, Higham's γ_n bound); the weight gradient adds up to 3 more for
    /// the groups' partial sums. A wrong index or a missing term is off by about one |p_i|, far
    /// outside. The bias gradient is ours (`Vector.sum`), checked the same way.
    func testMatchesExactSumsWithinFloat32Rounding() throws {
        for (cin, cout, s, p, n, h, w) in Self.shapes {
            let conv = try oneDNNConv(cin, cout, stride: s, padding: p, bias: true)
            let harness = LayerHarness(conv, seed: 6)
            let x = randomTensor(Shape(cin, n, h, w), seed: 7)
            let got = pass(conv, harness, x: x, dy: 8)
            let dy = randomTensor(conv.outputShape(for: x.shape), seed: 8)
            let exact = ExactConvolution(weights: harness.replica.parameters.array, x: x, dy: dy, cout: cout, stride: s,
                                         padding: p)
            let name = "\(cin)→\(cout) s\(s) p\(p) N\(n) \(h)×\(w)"
            if let bounds = ourWinogradBounds(conv, harness, x: x, dy: dy, exact: exact) {
                // Our Winograd kernels: the algorithm's own bound (`winogradMagnitudes`), C + 21 roundings deep.
                assertWithinRounding(got.y, bounds.y, terms: cin + 21, "output \(name)")
                assertWithinRounding(got.dx, bounds.dx, terms: cout + 20, "input gradient \(name)")
            } else {
                assertWithinRounding(got.y, exact.y, terms: cin * 9 + 1, "output \(name)")
                assertWithinRounding(got.dx, exact.dx, terms: cout * 9, "input gradient \(name)")
            }
            let positions = n * exact.oh * exact.ow
            assertWithinRounding(Array(got.grads.prefix(exact.dw.count)), weightGradientBounds(x: x, dy: dy, exact: exact, stride: s, padding: p),
                                 terms: 0, "weight gradient \(name)")
            assertWithinRounding(Array(got.grads.suffix(cout)), exact.db, terms: positions, "bias gradient \(name)")
        }
    }

    /// Where our Winograd kernels compute `conv` on x, the exact y and dx with Winograd's
    /// magnitudes (`winogradMagnitudes`, plus |bias| for y) in place of the direct sum's.
    func ourWinogradBounds(_ conv: Conv2d, _ harness: LayerHarness, x: Tensor, dy: Tensor, exact: ExactConvolution)
        -> (y: [(value: Double, magnitude: Double)], dx: [(value: Double, magnitude: Double)])? {
        let s = x.shape, cout = dy.shape.c
        guard WinogradKernels.available == .ours, conv.usesWinograd(input: s) else { return nil }
        let parameters = harness.replica.parameters.array, weights = Array(parameters.prefix(cout * s.c * 9))
        let bias = conv.hasBias ? Array(parameters.suffix(cout)) : [Float](repeating: 0, count: cout)
        let yMagnitudes = winogradMagnitudes(x: x.array, channels: s.c, images: s.n, height: s.h, width: s.w,
                                             weights: weights, outChannels: cout)
        let dxMagnitudes = winogradMagnitudes(x: dy.array, channels: cout, images: s.n, height: s.h, width: s.w,
                                              weights: weights, outChannels: s.c, transposed: true)
        let plane = s.n * s.h * s.w
        let y = exact.y.indices.map { (value: exact.y[$0].value, magnitude: yMagnitudes[$0] + abs(Double(bias[$0 / plane]))) }
        let dx = exact.dx.indices.map { (value: exact.dx[$0].value, magnitude: dxMagnitudes[$0]) }
        return (y, dx)
    }

    /// The exact weight gradient of a oneDNN layer with each image group's rounding bound folded
    /// into the magnitude (for `terms: 0`): for the groups our Winograd kernels take, theirs
    /// (`winogradWeightGradientMagnitudes`, T + 22 roundings deep for T tiles), else the direct
    /// sum's over the whole batch's positions (as deep as any order of oneDNN's sums, Winograd's
    /// on AVX-512 included, needs); plus 3 for the groups' sum.
    func weightGradientBounds(x: Tensor, dy: Tensor, exact: ExactConvolution, stride: Int, padding: Int)
        -> [(value: Double, magnitude: Double)] {
        let s = x.shape, cout = dy.shape.c, (oh, ow) = (dy.shape.h, dy.shape.w)
        var magnitudes = [Double](repeating: 0, count: exact.dw.count)
        for g in 0..<Conv2d.groupCount(batch: s.n) {
            let images = Conv2d.groupImages(g, batch: s.n)
            func slice(_ t: Tensor) -> Tensor {
                let plane = t.shape.h * t.shape.w, a = t.array
                return Tensor(Shape(t.shape.c, images.count, t.shape.h, t.shape.w), values: (0..<t.shape.c).flatMap { c in
                    a[(c * s.n + images.lowerBound) * plane..<(c * s.n + images.upperBound) * plane]
                })
            }
            let (gx, gdy) = (slice(x), slice(dy))
            if WinogradKernels.available == .ours,
               WinogradKernels.ours.takes(stride: stride, padding: padding, outputHeight: oh, outputWidth: ow, images: images.count) {
                let tiles = images.count * ((oh + 3) / 4) * ((ow + 3) / 4)
                let m = winogradWeightGradientMagnitudes(x: gx.array, channels: s.c, images: images.count, height: s.h,
                                                         width: s.w, dy: gdy.array, outChannels: cout)
                for i in magnitudes.indices { magnitudes[i] += Double(tiles + 22 + 4) * m[i] }
            } else {
                let direct = ExactConvolution(weights: [Float](repeating: 0, count: exact.dw.count + cout), x: gx, dy: gdy,
                                              cout: cout, stride: stride, padding: padding)
                for i in magnitudes.indices { magnitudes[i] += Double(s.n * oh * ow + 4) * direct.dw[i].magnitude }
            }
        }
        return zip(exact.dw, magnitudes).map { (value: $0.value, magnitude: $1) }
    }

    func assertWithinRounding(_ got: [Float], _ exact: [(value: Double, magnitude: Double)], terms: Int, _ what: String,
                              file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, exact.count, what, file: file, line: line)
        let u = 0x1p-24, bound = Double(terms + 1) * u
        var worst = 0.0, at = 0
        for (i, (g, e)) in zip(got, exact).enumerated() {
            let excess = abs(Double(g) - e.value) / max(e.magnitude * bound, Double.leastNormalMagnitude)
            if !(excess <= worst) { worst = excess; at = i }
        }
        XCTAssertLessThanOrEqual(worst, 1, "\(what): [\(at)] \(got[at]) vs exact \(exact[at].value), \(worst)× the bound",
                                 file: file, line: line)
    }

    /// Against our im2col + sgemm kernels on the same parameters and data: each is within the
    /// rounding bound above of the exact sums, so they are within twice it of each other.
    func testMatchesOurConvolution() throws {
        for (cin, cout, s, p, n, h, w) in Self.shapes {
            let ours = Conv2d(cin, cout, kernel: 3, stride: s, padding: p, bias: true)
            let theirs = try oneDNNConv(cin, cout, stride: s, padding: p, bias: true)
            let a = LayerHarness(ours, seed: 3), b = LayerHarness(theirs, seed: 3)
            let x = randomTensor(Shape(cin, n, h, w), seed: 4)
            let expected = pass(ours, a, x: x, dy: 5), got = pass(theirs, b, x: x, dy: 5)
            let dy = randomTensor(ours.outputShape(for: x.shape), seed: 5)
            let exact = ExactConvolution(weights: a.replica.parameters.array, x: x, dy: dy, cout: cout, stride: s, padding: p)
            let name = "\(cin)→\(cout) s\(s) p\(p) N\(n) \(h)×\(w)"
            let positions = n * exact.oh * exact.ow
            func magnitudes(_ e: [(value: Double, magnitude: Double)]) -> [(value: Double, magnitude: Double)] {
                e.map { (0, 2 * $0.magnitude) }
            }
            /// Each side's bound in one at the direct sum's depth: ours, and our Winograd kernels' (`winograd`, at their depth).
            func magnitudes(_ e: [(value: Double, magnitude: Double)], _ winograd: [(value: Double, magnitude: Double)],
                            depth: Int, directDepth: Int) -> [(value: Double, magnitude: Double)] {
                zip(e, winograd).map { (0, $0.magnitude + $1.magnitude * Double(depth + 1) / Double(directDepth + 1)) }
            }
            func difference(_ a: [Float], _ b: [Float]) -> [Float] { zip(a, b).map { $0 - $1 } }
            if let bounds = ourWinogradBounds(theirs, b, x: x, dy: dy, exact: exact) {
                assertWithinRounding(difference(got.y, expected.y), magnitudes(exact.y, bounds.y, depth: cin + 21, directDepth: cin * 9 + 1),
                                     terms: cin * 9 + 1, "output \(name)")
                assertWithinRounding(difference(got.dx, expected.dx), magnitudes(exact.dx, bounds.dx, depth: cout + 20, directDepth: cout * 9),
                                     terms: cout * 9, "input gradient \(name)")
            } else {
                assertWithinRounding(difference(got.y, expected.y), magnitudes(exact.y), terms: cin * 9 + 1, "output \(name)")
                assertWithinRounding(difference(got.dx, expected.dx), magnitudes(exact.dx), terms: cout * 9, "input gradient \(name)")
            }
            // Both sides' bounds folded into the magnitudes (`terms: 0`): ours at the direct sum's
            // depth, the oneDNN layer's weight gradient at its groups' (`weightGradientBounds`).
            let direct = (exact.dw + exact.db).map { Double(positions + 4) * $0.magnitude }
            let layer = weightGradientBounds(x: x, dy: dy, exact: exact, stride: s, padding: p).map(\.magnitude)
                + exact.db.map { Double(positions + 4) * $0.magnitude }
            assertWithinRounding(difference(got.grads, expected.grads), zip(direct, layer).map { (0, $0 + $1) }, terms: 0,
                                 "parameter gradients \(name)")
            XCTAssertNotEqual(got.dx, expected.dx, "\(name): oneDNN's input gradient is bitwise ours; is it running at all?")
        }
    }

    /// Central differences of Σ y·r (float32, the shared checker's tolerances). A convolution is
    /// linear in each weight and input, so a difference quotient is its derivative for any step but
    /// for rounding; the step is large (0.25) because Winograd kernels (ours take the first shape)
    /// round y about ten times as much as a direct sum, which divided by the default 0.01 over
    /// 4,352 outputs exceeds the tolerance.
    func testGradientsMatchFiniteDifferences() throws {
        checkLayerGradients(try oneDNNConv(16, 17, stride: 1, padding: 1, bias: true), input: Shape(16, 1, 16, 16), epsilon: 0.25)
        checkLayerGradients(try oneDNNConv(17, 16, stride: 2, padding: 1, bias: false), input: Shape(17, 5, 5, 5), epsilon: 0.25)
    }

    /// Output, input gradient and parameter gradients bitwise equal on 1, 2, 3 and 4 threads,
    /// and in a second layer built the same way; the weight gradient is oneDNN's reduction over
    /// the batch, which its own threads would split by their count.
    func testBitsDoNotDependOnThreadsOrInstance() throws {
        for (cin, cout, s, p, n, h, w) in Self.shapes where n > 1 {
            let x = randomTensor(Shape(cin, n, h, w), seed: 11)
            func run(threads: Int) throws -> [Float] {
                let conv = try oneDNNConv(cin, cout, stride: s, padding: p, bias: true)
                let r = pass(conv, LayerHarness(conv, seed: 12), x: x, dy: 13, threads: threads)
                return r.y + r.dx + r.grads
            }
            let one = try run(threads: 1)
            for threads in [1, 2, 3, 4] {
                let other = try run(threads: threads)
                XCTAssertEqual(zip(one, other).filter { $0.bitPattern != $1.bitPattern }.count, 0,
                               "\(cin)→\(cout) s\(s) N\(n): 1 thread against \(threads)")
            }
        }
    }

    /// On every test shape, a layer's output, input gradient and parameter gradients are bitwise
    /// the same with `set(true)` and `set(false)` (a static toggle of `OneDNNConvolution`, read
    /// when a shape's primitives are made); `check` sees each layer after its pass, with its input shape.
    func assertBitsIndependentOf(_ set: (Bool) -> Void, seed: UInt64,
                                 check: (Conv2d, Bool, Shape, String) -> Void = { _, _, _, _ in }) throws {
        defer { set(true) }
        for (cin, cout, s, p, n, h, w) in Self.shapes {
            let name = "\(cin)→\(cout) s\(s) N\(n) \(h)×\(w)"
            let x = randomTensor(Shape(cin, n, h, w), seed: seed)
            func run(_ on: Bool) throws -> [Float] {
                set(on)
                let conv = try oneDNNConv(cin, cout, stride: s, padding: p, bias: true)
                let r = pass(conv, LayerHarness(conv, seed: seed + 1), x: x, dy: seed + 2, threads: 2)
                check(conv, on, x.shape, name)
                return r.y + r.dx + r.grads
            }
            let on = try run(true), off = try run(false)
            XCTAssertEqual(zip(on, off).filter { $0.bitPattern != $1.bitPattern }.count, 0, name)
        }
    }

    /// Our copies into and out of oneDNN's channel-blocked layouts give the bits of oneDNN's own
    /// reorders: output, input gradient and parameter gradients, on every test shape (channel
    /// counts off the blocks of 8 and 16 included, whose padding the copies zero).
    func testOurChannelBlockCopiesGiveTheBitsOfOneDNNsReorders() throws {
        try assertBitsIndependentOf({ OneDNNConvolution.copiesChannelBlocks = $0 }, seed: 51)
    }

    /// The groups' weight gradients summed in oneDNN's blocked format and reordered into ours
    /// once give the bits of reordering each and summing ours: the same floats added in the same
    /// order. Every test shape whose weight gradients oneDNN computes sums blocked (one format for
    /// all its group sizes), so the two paths really differ; where ours compute some group's (AVX2),
    /// every group puts its own into ours.
    func testBlockedWeightGradientSumsGiveTheBitsOfPerGroupReorders() throws {
        try assertBitsIndependentOf({ OneDNNConvolution.sumsBlockedPartials = $0 }, seed: 61) { conv, blocked, shape, name in
            let ours = WinogradKernels.available == .ours && conv.usesWinograd(input: shape)
            XCTAssertEqual(conv.oneDNNBlockedSums, blocked && !ours ? 1 : 0, "\(name): path")
        }
    }

    /// The layouts our copies take: nChw16c and nChw8c with channels padded to the block; not
    /// plain layouts or other blockings, which oneDNN's reorders keep.
    func testChannelBlocksRecognisesOnlyChannelBlockedLayouts() throws {
        func md(_ tag: dnnl_format_tag_t, _ dims: [Int] = [3, 17, 5, 4]) throws -> dnnl_memory_desc_t {
            try OneDNN.descriptor(dims, tag)
        }
        let sixteen = try XCTUnwrap(ChannelBlocks(try md(dnnl_aBcd16b), batch: 7))
        XCTAssertEqual([sixteen.images, sixteen.channels, sixteen.block, sixteen.plane, sixteen.channelStride], [3, 17, 16, 20, 140])
        XCTAssertEqual(ChannelBlocks(try md(dnnl_aBcd8b), batch: 3)?.block, 8)
        XCTAssertNil(ChannelBlocks(try md(dnnl_abcd), batch: 3))
        XCTAssertNil(ChannelBlocks(try md(dnnl_aBcd4b), batch: 3))
        XCTAssertNil(ChannelBlocks(try md(dnnl_ABcd16b16a), batch: 3))
        XCTAssertNil(ChannelBlocks(try OneDNN.descriptor([3, 17, 5, 4], strides: [20, 60, 4, 1]), batch: 3))
    }

    /// One layer through training steps of two batch sizes and evaluations of a third: each
    /// shape keeps its own primitives, and a step repeated later gives the bits it gave first.
    func testShapesAlternateWithoutChangingResults() throws {
        let conv = try oneDNNConv(16, 16, stride: 1, padding: 1, bias: false)
        let harness = LayerHarness(conv, seed: 21)
        let small = randomTensor(Shape(16, 5, 6, 6), seed: 22), large = randomTensor(Shape(16, 8, 6, 6), seed: 23)
        let first = pass(conv, harness, x: small, dy: 24, threads: 2)
        _ = pass(conv, harness, x: large, dy: 25, threads: 2)
        _ = conv.forward(randomTensor(Shape(16, 3, 6, 6), seed: 26), harness.replica.view, .testing(false, threads: 2))
        let again = pass(conv, harness, x: small, dy: 24, threads: 2)
        XCTAssertEqual(first.y, again.y)
        XCTAssertEqual(first.dx, again.dx)
        XCTAssertEqual(first.grads, again.grads)
    }

    /// `ModelKind.hasConvolutions` (which decides whether two configs' backends are compared)
    /// says of every model what building it shows.
    func testEveryModelSaysWhetherItHasConvolutionsAsItsNetworkShows() throws {
        for kind in ModelKind.allCases {
            let spec = kind.isLanguageModel ? ModelSpec(kind: kind, channels: 1, height: 1, width: 8, classes: 16)
                                            : ModelSpec(kind: kind, channels: 3, height: 32, width: 32, classes: 10)
            let convolutions = try Network(spec).leafLayers(batch: 1).contains { $0.layer is Conv2d }
            XCTAssertEqual(kind.hasConvolutions, convolutions, kind.rawValue)
        }
    }

    /// The instruction set a run records is a family `DNNL_MAX_CPU_ISA` accepts, without the
    /// extensions float32 convolutions do not use.
    func testTheRecordedInstructionSetIsAFamilyOfFloatKernels() {
        XCTAssertTrue(["AVX512_CORE", "AVX512_MIC", "AVX2", "AVX", "SSE41"].contains(ConvBackend.onednnInstructionSet),
                      ConvBackend.onednnInstructionSet)
    }

    /// Winograd kernels run where `WinogradKernels.takes` says, for the process's kernels: oneDNN's
    /// at stride 1 on outputs of at least 7×7 and groups of at least 8 images; ours at stride 1 and
    /// padding 1 on outputs of at least 4×4; either for all three passes; the direct kernels
    /// elsewhere. The test shapes above include groups of each kind.
    func testWinogradRunsOnlyWhereItPays() throws {
        // (stride, padding, N, H = W): N = 32 gives groups of 8, N = 16 groups of 4.
        for (stride, padding, n, size) in [(1, 1, 32, 9), (2, 1, 32, 16), (1, 1, 16, 9), (1, 1, 32, 6), (1, 1, 8, 3), (1, 0, 32, 9)] {
            let conv = try oneDNNConv(16, 32, stride: stride, padding: padding, bias: false)
            _ = pass(conv, LayerHarness(conv, seed: 31), x: randomTensor(Shape(16, n, size, size), seed: 32), dy: 33)
            let names = conv.oneDNNImplementations.flatMap { $0.components(separatedBy: " / ") }
            XCTAssertEqual(names.count, 3)
            let out = (size + 2 * padding - 3) / stride + 1
            let kernels = WinogradKernels.available
            let takes = kernels?.takes(stride: stride, padding: padding, outputHeight: out, outputWidth: out, images: n / 4) == true
            XCTAssertEqual(names.filter { $0.contains("wino") }.count, takes ? 3 : 0, "stride \(stride), N \(n), \(size)×\(size): \(names)")
            XCTAssertEqual(names.filter { $0.hasPrefix("ours:") }.count, takes && kernels == .ours ? 3 : 0, "\(names)")
            XCTAssertEqual(conv.usesWinograd(input: Shape(16, n, size, size)), takes)
        }
        if getenv(WinogradKernels.variable).map({ String(cString: $0) }) != "0" {
            if ConvBackend.onednnInstructionSet == "AVX512_CORE" {
                XCTAssertEqual(WinogradKernels.available, .onednn, "oneDNN 2.6 has Winograd kernels on AVX512_CORE")
                XCTAssertTrue(ConvBackend.onednnKernels.hasSuffix(", Winograd at stride 1"), ConvBackend.onednnKernels)
            } else if ConvBackend.onednnInstructionSet == "AVX2" {
                XCTAssertEqual(WinogradKernels.available, .ours, "oneDNN 2.6 has none on AVX2; ours run there")
                XCTAssertTrue(ConvBackend.onednnKernels.hasSuffix(", our Winograd at stride 1"), ConvBackend.onednnKernels)
            }
        } else {
            XCTAssertNil(WinogradKernels.available)
        }
    }

    /// oneDNN takes the 3×3 convolutions with at least 16 input channels; 1-channel first
    /// layers, 1×1 shortcuts and other kernels stay ours; `.blas` keeps them all ours.
    func testWhichLayersOneDNNTakes() throws {
        let spec = ModelSpec(kind: .resnet20, shortcut: .b, channels: 1, height: 8, width: 8, classes: 10, convBackend: .onednn)
        let convs = try Network(spec).leafLayers(batch: 1).compactMap { leaf in (leaf.layer as? Conv2d).map { (leaf.name, $0) } }
        let onednn = convs.filter { $0.1.backend == .onednn }.map(\.0)
        XCTAssertEqual(convs.count, 21)
        XCTAssertEqual(onednn.count, 18)
        XCTAssertFalse(onednn.contains("conv1"))
        XCTAssertFalse(onednn.contains { $0.hasSuffix("downsample.0") })
        XCTAssertTrue(try Network(ModelSpec(kind: .resnet20, channels: 1, height: 8, width: 8, classes: 10)).usesOneDNN,
                      "oneDNN unless asked")
        let ours = try Network(ModelSpec(kind: .resnet20, channels: 1, height: 8, width: 8, classes: 10, convBackend: .blas))
        XCTAssertTrue(ours.leafLayers(batch: 1).allSatisfy { ($0.layer as? Conv2d)?.backend ?? .blas == .blas })
        XCTAssertFalse(ours.usesOneDNN)
        XCTAssertFalse(try Network(ModelSpec(kind: .mlp, channels: 1, height: 8, width: 8, classes: 10)).usesOneDNN,
                       "no convolution oneDNN takes")
    }

    /// The fixed image groups of a batch: min(4, N) groups of whole images, in order, covering the
    /// batch, sizes apart by at most one.
    func testImageGroupsTileTheBatch() {
        for n in 1...70 {
            let groups = (0..<min(Conv2d.groups, n)).map { Conv2d.groupImages($0, batch: n) }
            XCTAssertEqual(groups.first?.lowerBound, 0, "N \(n)")
            XCTAssertEqual(groups.last?.upperBound, n, "N \(n)")
            XCTAssertTrue(zip(groups, groups.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound }, "N \(n)")
            let sizes = groups.map(\.count)
            XCTAssertLessThanOrEqual(sizes.max()! - sizes.min()!, 1, "N \(n)")
            XCTAssertGreaterThan(sizes.min()!, 0, "N \(n)")
        }
    }

    /// A run records Winograd only where one of its convolutions takes it, checked for each
    /// kernels' rule whatever the process has (and for none): oneDNN's at stride 1 on outputs of at
    /// least 7×7 and a group of at least 8 images (N = 29 has groups of 7, 7, 7 and 8; N = 28 of
    /// 7), so resnet20 on 28×28 images at batch 32, not at 16; ours at stride 1 and padding 1 on
    /// outputs of at least 4×4, so resnet20 at any batch, but not on 3×3 outputs.
    func testWinogradIsRecordedOnlyWhereAConvolutionTakesIt() throws {
        let stride1 = try oneDNNConv(16, 16, stride: 1, padding: 1, bias: false)
        let resnet = try Network(ModelSpec(kind: .resnet20, channels: 1, height: 28, width: 28, classes: 10))
        for kernels in [WinogradKernels.onednn, .ours, nil] {
            let onednn = kernels == .onednn, some = kernels != nil
            XCTAssertEqual(stride1.usesWinograd(input: Shape(16, 29, 7, 7), kernels: kernels), some)
            XCTAssertEqual(stride1.usesWinograd(input: Shape(16, 28, 7, 7), kernels: kernels), some && !onednn)
            XCTAssertEqual(stride1.usesWinograd(input: Shape(16, 64, 6, 6), kernels: kernels), some && !onednn)
            XCTAssertFalse(stride1.usesWinograd(input: Shape(16, 64, 3, 3), kernels: kernels))
            XCTAssertFalse(try oneDNNConv(16, 16, stride: 2, padding: 1, bias: false)
                .usesWinograd(input: Shape(16, 64, 28, 28), kernels: kernels))
            XCTAssertEqual(try oneDNNConv(16, 16, stride: 1, padding: 0, bias: false)
                .usesWinograd(input: Shape(16, 64, 28, 28), kernels: kernels), onednn, "ours only at padding 1")
            XCTAssertFalse(Conv2d(16, 16, kernel: 3, padding: 1).usesWinograd(input: Shape(16, 64, 28, 28), kernels: kernels),
                           "the blas backend's")
            XCTAssertEqual(resnet.usesWinograd(batches: [32], kernels: kernels), some)
            XCTAssertEqual(resnet.usesWinograd(batches: [16], kernels: kernels), some && !onednn)
            XCTAssertEqual(resnet.usesWinograd(batches: [16, 256], kernels: kernels), some, "evaluation batches count")
            XCTAssertFalse(try Network(ModelSpec(kind: .resnet20, channels: 1, height: 28, width: 28, classes: 10,
                                                 convBackend: .blas)).usesWinograd(batches: [32], kernels: kernels))
        }
        XCTAssertEqual(resnet.usesWinograd(batches: [32]), WinogradKernels.available != nil, "this process")
    }
}

/// A convolution's outputs and gradients as exact sums (Double), each with the sum of its terms'
/// magnitudes, from x [C, N, H, W], weights [out, in, 3, 3] then bias [out], and dy.
struct ExactConvolution {
    var y: [(value: Double, magnitude: Double)] = [], dx: [(value: Double, magnitude: Double)] = []
    var dw: [(value: Double, magnitude: Double)] = [], db: [(value: Double, magnitude: Double)] = []
    let oh: Int, ow: Int

    init(weights: [Float], x: Tensor, dy: Tensor, cout: Int, stride: Int, padding: Int) {
        let s = x.shape, cin = s.c, n = s.n, k = 3
        oh = dy.shape.h
        ow = dy.shape.w
        let bias = weights.suffix(cout).map(Double.init), xa = x.array.map(Double.init), dya = dy.array.map(Double.init)
        let zero = (value: 0.0, magnitude: 0.0)
        y = [(value: Double, magnitude: Double)](repeating: zero, count: dy.count)
        dx = [(value: Double, magnitude: Double)](repeating: zero, count: x.count)
        dw = [(value: Double, magnitude: Double)](repeating: zero, count: cout * cin * 9)
        db = [(value: Double, magnitude: Double)](repeating: zero, count: cout)
        func add(_ t: inout (value: Double, magnitude: Double), _ v: Double) { t.value += v; t.magnitude += abs(v) }
        for o in 0..<cout { for b in 0..<n { for yy in 0..<oh { for xx in 0..<ow {
            let out = ((o * n + b) * oh + yy) * ow + xx
            add(&y[out], bias[o])
            add(&db[o], dya[out])
            for c in 0..<cin { for i in 0..<k { for j in 0..<k {
                let iy = yy * stride - padding + i, ix = xx * stride - padding + j
                guard iy >= 0, iy < s.h, ix >= 0, ix < s.w else { continue }
                let wi = ((o * cin + c) * k + i) * k + j, xi = ((c * n + b) * s.h + iy) * s.w + ix
                let weight = Double(weights[wi])
                add(&y[out], weight * xa[xi])
                add(&dx[xi], weight * dya[out])
                add(&dw[wi], xa[xi] * dya[out])
            } } }
        } } } }
    }
}
