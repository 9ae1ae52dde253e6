import CDirect

/// Direct 3×3 convolutions at stride 1 with padding 1 of inputs with at most `maxInChannels`
/// channels — a network's first layer, where im2col + GEMM multiplies with a reduction of only
/// 9·C and runs at a quarter of the GEMM's rate — forward and weight gradient, on AVX2 + FMA
/// (`CDirect`: each sum in a fixed order, the same bits on every CPU that runs them and any
/// thread count). `Conv2d` takes them with `conv_backend = onednn` where the CPU has AVX2 and FMA
/// (every machine of ours) and oneDNN's kernels run on AVX2 or later (`DNNL_MAX_CPU_ISA` below
/// it stands for an older CPU, as for our Winograd kernels, so that it reproduces such a CPU's
/// runs); `blas` keeps im2col + GEMM, and with it the bits of runs recorded with it. A layer that
/// must compute its input gradient keeps im2col + GEMM for its backward.
enum DirectConvolution {
    /// 1 for grey images, 3 for colour ones; 4 for an alpha channel.
    static let maxInChannels = 4

    /// Whether the CPU runs the kernels (AVX2 and FMA).
    static let supported = lsgd_direct_supported() != 0

    /// Whether a convolution of this shape takes the direct kernels in this process.
    static func takes(inChannels: Int, geometry: ConvGeometry) -> Bool {
        supported && OneDNN.runsAVX2 && inChannels <= maxInChannels && geometry.kernelH == 3 && geometry.kernelW == 3
            && geometry.stride == 1 && geometry.padding == 1
    }
}
