// Winograd F(4×4, 3×3) convolutions (Lavin & Gray, "Fast Algorithms for Convolutional Neural
// Networks", CVPR 2016), 3×3 kernels at stride 1 with padding 1, on AVX2 + FMA. The arithmetic
// is written out in AVX2 and FMA intrinsics and every sum runs in a fixed order, so the results
// are the same bits on any CPU that runs them and any thread count.
//
// Layouts are ours: a tensor [C, N, H, W] (channel after channel, each the batch's images), of
// which the functions see a group of `images` images through a pointer to the group's first
// image of channel 0 and the floats between two channels (`channelStride`, N·H·W).
#ifndef LOCALSGD_CWINOGRAD_H
#define LOCALSGD_CWINOGRAD_H

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when this CPU runs the kernels (AVX2 and FMA), else 0.
int lsgd_winograd_supported(void);

/// Floats of `u` for `lsgd_winograd_weights`: 36 · inChannels · outChannels.
long lsgd_winograd_weight_floats(int inChannels, int outChannels);

/// The weights w [outChannels, inChannels, 3, 3] transformed (G w Gᵀ), u [36][inChannels][outChannels].
/// With `transposed` 1, the weights of the backward-data convolution instead: each kernel turned by
/// 180° and the channels' roles swapped, u [36][outChannels][inChannels], so that
/// `lsgd_winograd_convolution` of dy with them is dx.
void lsgd_winograd_weights(const float *w, int outChannels, int inChannels, int transposed, float *u);

/// Floats of work space (32-byte aligned) that `lsgd_winograd_convolution` needs.
long lsgd_winograd_work_floats(int inChannels, int outChannels, int images, int height, int width);

/// y [outChannels][images][height][width] = the 3×3, stride-1, padding-1 convolution of
/// x [inChannels][images][height][width] with the transformed weights u of
/// `lsgd_winograd_weights` (the output has the input's size), plus bias [outChannels] when not
/// NULL. x and y are seen with their channel strides (floats); work is 32-byte aligned and holds
/// `lsgd_winograd_work_floats`. Only on a CPU where `lsgd_winograd_supported()`.
void lsgd_winograd_convolution(const float *x, long xChannelStride, int inChannels, int images, int height, int width,
                               const float *u, int outChannels, const float *bias,
                               float *y, long yChannelStride, float *work);

/// Floats of work space (32-byte aligned) that `lsgd_winograd_weight_gradient` needs.
long lsgd_winograd_weight_gradient_work_floats(int inChannels, int outChannels, int images, int height, int width);

/// dw [outChannels][inChannels][3][3] (written, not added) = the weight gradient of the 3×3,
/// stride-1, padding-1 convolution of x [inChannels][images][height][width] whose output has the
/// gradient dy [outChannels][images][height][width]: dw[k][c][a][b] = Σ_{n,h,w} dy[k][n][h][w] ·
/// x[c][n][h + a − 1][w + b − 1], by Winograd F(4×4, 3×3) (the forward's adjoint). Strides and
/// work as `lsgd_winograd_convolution`'s (`lsgd_winograd_weight_gradient_work_floats`).
void lsgd_winograd_weight_gradient(const float *x, long xChannelStride, int inChannels, int images, int height,
                                   int width, const float *dy, long dyChannelStride, int outChannels, float *dw,
                                   float *work);

#ifdef __cplusplus
}
#endif

#endif
