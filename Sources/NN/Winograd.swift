import CWinograd
import Foundation
import Tensor

/// Which Winograd F(4×4, 3×3) kernels (Lavin & Gray 2016) compute the stride-1 3×3 convolutions
/// that oneDNN takes (`OneDNNConvolution.takes`): oneDNN's own, on AVX512_CORE, or ours
/// (`CWinograd`, AVX2 + FMA intrinsics) where oneDNN has none. Either way all three passes:
/// forward, backward-data and backward-weights. Results depend on which (recorded with the
/// instruction set in config.json: AVX2 with Winograd means ours), never on the threads.
public enum WinogradKernels: Sendable {
    case onednn, ours

    /// The environment variable that turns both off (`0`), to resume a run made with the direct
    /// kernels on a machine that has Winograd ones.
    public static let variable = "LOCALSGD_ONEDNN_WINOGRAD"

    /// This process's: oneDNN's where it has them, else ours where the CPU runs them and oneDNN's
    /// own kernels run on AVX2 or later (`DNNL_MAX_CPU_ISA` below it stands for an older CPU),
    /// else none; none when `LOCALSGD_ONEDNN_WINOGRAD=0`.
    public static let available: WinogradKernels? = {
        if ProcessInfo.processInfo.environment[variable] == "0" { return nil }
        if OneDNN.hasWinograd { return .onednn }
        return lsgd_winograd_supported() != 0 && OneDNN.runsAVX2 ? .ours : nil
    }()

    /// Whether these kernels compute a group of `images` images of a convolution oneDNN takes, at
    /// `stride`, `padding`, with outputs `outputHeight` × `outputWidth`: a function of the shapes
    /// alone, so results stay thread-independent (Benchmarks/README.md, "Winograd convolutions").
    /// - oneDNN's: stride 1, outputs of at least 7×7 and at least 8 images. There they are as fast
    ///   as the direct ones or faster (up to 1.7× on 7×7 backward-weights); on smaller outputs most
    ///   of their 4×4 tiles are padding, and on fewer images their transforms dominate: 1.2–3×
    ///   slower steps (resnet18-small's 4×4 and 2×2 stages, resnet20 at batch ≤ 8) and weight
    ///   gradients well outside float32's summation bound.
    /// - ours: stride 1, padding 1, outputs of at least 4×4 (one whole tile), at least 16 tiles in
    ///   the group (images × ⌈H/4⌉ × ⌈W/4⌉; their products take 16 tiles at a time, so fewer are
    ///   partly padding) and tiles covering at most twice the outputs (5×5 outputs take 8×8 of
    ///   tiles). There they are 1.05–3× oneDNN's direct kernels per pass, 1.2–1.9× on resnet20's
    ///   shapes (backward-weights 1.1–1.75×); elsewhere 0.2–1.1× (Benchmarks/README.md, "Our
    ///   Winograd kernels on AVX2", "Our Winograd weight gradient on AVX2").
    public func takes(stride: Int, padding: Int, outputHeight: Int, outputWidth: Int, images: Int) -> Bool {
        switch self {
        case .onednn:
            return stride == 1 && min(outputHeight, outputWidth) >= 7 && images >= 8
        case .ours:
            let down = (outputHeight + 3) / 4, across = (outputWidth + 3) / 4
            return stride == 1 && padding == 1 && min(outputHeight, outputWidth) >= 4 && images * down * across >= 16
                && 16 * down * across <= 2 * outputHeight * outputWidth
        }
    }
}

/// Our Winograd kernels for one `OneDNNConvolution` layer (3×3, stride 1, padding 1): the weights
/// transformed for forward and for backward-data, remade before each pass from the replica's
/// weights, and the calls on one group of images (the weight gradient needs no transformed
/// weights). The same floats through the same operations on
/// every CPU with AVX2 and FMA, in any build (`CWinograd`).
final class OurWinograd {
    let inChannels: Int, outChannels: Int
    /// U = G w Gᵀ, [36][in][out], and the backward-data one, [36][out][in].
    private let forwardWeights: FloatBuffer, backwardWeights: FloatBuffer

    init(inChannels: Int, outChannels: Int) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        let floats = lsgd_winograd_weight_floats(Int32(inChannels), Int32(outChannels))
        forwardWeights = FloatBuffer(count: floats)
        backwardWeights = FloatBuffer(count: floats)
    }

    /// Floats of lane scratch a group of `images` images of height × width needs (any pass).
    static func workFloats(inChannels: Int, outChannels: Int, images: Int, height: Int, width: Int) -> Int {
        let (c, k, n, h, w) = (Int32(inChannels), Int32(outChannels), Int32(images), Int32(height), Int32(width))
        return max(lsgd_winograd_work_floats(c, k, n, h, w), lsgd_winograd_work_floats(k, c, n, h, w),
                   lsgd_winograd_weight_gradient_work_floats(c, k, n, h, w))
    }

    /// The forward (`backward` false) or backward-data weights from w [out, in, 3, 3].
    func transform(_ weights: UnsafePointer<Float>, backward: Bool) {
        lsgd_winograd_weights(weights, Int32(outChannels), Int32(inChannels), backward ? 1 : 0,
                              backward ? backwardWeights.pointer : forwardWeights.pointer)
    }

    /// y [out][images][h][w] of x [in][images][h][w] (+ bias [out]); the tensors' channels are
    /// `channelStride` floats apart (N·H·W of the batch). `work`: `workFloats`, 64-byte aligned.
    func forward(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?,
                 images: Int, height: Int, width: Int, channelStride: Int, work: UnsafeMutablePointer<Float>) {
        lsgd_winograd_convolution(x, channelStride, Int32(inChannels), Int32(images), Int32(height), Int32(width),
                                  forwardWeights.pointer, Int32(outChannels), bias, y, channelStride, work)
    }

    /// dx [in][images][h][w] of dy [out][images][h][w] (written, not added), as `forward`.
    func inputGradient(_ dy: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>,
                       images: Int, height: Int, width: Int, channelStride: Int, work: UnsafeMutablePointer<Float>) {
        lsgd_winograd_convolution(dy, channelStride, Int32(outChannels), Int32(images), Int32(height), Int32(width),
                                  backwardWeights.pointer, Int32(inChannels), nil, dx, channelStride, work)
    }

    /// The group's weight gradient dw [out][in][3][3] (written, not added) of x [in][images][h][w]
    /// and dy [out][images][h][w], as `forward` sees them.
    func weightGradient(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, into dw: UnsafeMutablePointer<Float>,
                        images: Int, height: Int, width: Int, channelStride: Int, work: UnsafeMutablePointer<Float>) {
        lsgd_winograd_weight_gradient(x, channelStride, Int32(inChannels), Int32(images), Int32(height), Int32(width),
                                      dy, channelStride, Int32(outChannels), dw, work)
    }
}
