// Direct 3×3 convolutions at stride 1 with padding 1 for inputs of few channels (a network's
// first layer: 1 channel for Fashion-MNIST, 3 for CIFAR), where im2col + GEMM has a reduction of
// only 9·C and runs far below the GEMM's rate. Forward and weight gradient (a first layer needs
// no input gradient), on AVX2 + FMA, each sum in a fixed order, so the results are the same bits
// on any CPU that runs them and any thread count.
//
// Layouts are ours: a tensor [C, N, H, W] (channel after channel, each the batch's images), of
// which the functions see a group of `images` images through a pointer to the group's first
// image of channel 0 and the floats between two channels (the channel stride, N·H·W).
#ifndef LOCALSGD_CDIRECT_H
#define LOCALSGD_CDIRECT_H

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when this CPU runs the kernels (AVX2 and FMA), else 0.
int lsgd_direct_supported(void);

/// Both functions take at most 4 input channels (`inChannels` 1–4).

/// Floats of work space that both functions need for a group: the input with its zero border,
/// [inChannels][images][height + 2][8·⌈width / 8⌉ + 2].
long lsgd_direct_work_floats(int inChannels, int images, int height, int width);

/// y [outChannels][images][height][width] = bias[o] (0 without a bias) + Σ_c Σ_kh Σ_kw
/// w[o][c][kh][kw] · x[c][n][h + kh − 1][w + kw − 1] (zero outside the image), each output's sum
/// in that order (c, then kh, then kw), each term an FMA, the zeros of the border included.
/// w is [outChannels][inChannels][3][3]; x and y are seen with their channel strides (floats).
/// Only on a CPU where `lsgd_direct_supported()`.
void lsgd_direct_forward(const float *x, long xChannelStride, int inChannels, int images, int height, int width,
                         const float *w, int outChannels, const float *bias, float *y, long yChannelStride,
                         float *work);

/// dw [outChannels][inChannels][3][3] = Σ_n Σ_h Σ_w dy[o][n][h][w] · x[c][n][h + kh − 1][w + kw − 1]
/// over the group's images (written, not added; zeros for an empty group or image). Each sum runs
/// in 8 lanes: lane l takes the output columns 8v + l of every row (rows in order, images in
/// order, v in order; dy is 0 in the columns past the row's end), each term an FMA, and the lanes
/// are added as ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)). Only where
/// `lsgd_direct_supported()`.
void lsgd_direct_weight_gradient(const float *x, long xChannelStride, const float *dy, long dyChannelStride,
                                 int inChannels, int images, int height, int width, int outChannels, float *dw,
                                 float *work);

#ifdef __cplusplus
}
#endif

#endif
