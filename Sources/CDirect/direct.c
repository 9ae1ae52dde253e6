// Direct 3×3 convolutions for inputs of few channels (CDirect.h). The group's input is first
// copied with a zero border (one row above and below, one column left, and zeros to the right
// up to whole vectors), so that every tap of every output vector is one unaligned load.
//
// Forward: vectors run over 8 output columns of one row; four output channels and two vectors
// at a time (eight accumulators), the channels' planes written in order. Weight gradient: for four output channels, one input channel and one
// kernel row at a time, twelve accumulators (4 channels × the kernel row's 3 taps) run over every
// output vector of the group, then each is reduced across its lanes in a fixed order.
#include "CDirect.h"

#include <immintrin.h>
#include <string.h>

#define TARGET __attribute__((target("avx2,fma")))
#define INLINE static inline __attribute__((always_inline))
/// The most input channels the kernels take (CDirect.h).
#define DIRECT_MAX_CHANNELS 4

int lsgd_direct_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/// A padded row: the output's vectors (8 columns each) and the left and right border columns.
static long padded_width(int width) { return (long)((width + 7) / 8) * 8 + 2; }

long lsgd_direct_work_floats(int inChannels, int images, int height, int width) {
    return (long)inChannels * images * (height + 2) * padded_width(width);
}

/// x's group into xp [C][images][height + 2][padded_width], zero outside the image.
static void pad_input(const float *x, long xChannelStride, int inChannels, int images, int height, int width,
                      float *xp) {
    long wp = padded_width(width), plane = (long)(height + 2) * wp;
    memset(xp, 0, sizeof(float) * (size_t)(inChannels * images) * (size_t)plane);
    for (int c = 0; c < inChannels; c++)
        for (int n = 0; n < images; n++)
            for (int h = 0; h < height; h++)
                memcpy(xp + ((long)c * images + n) * plane + (h + 1) * wp + 1,
                       x + c * xChannelStride + ((long)n * height + h) * width, sizeof(float) * (size_t)width);
}

/// Lanes below `count` set (a mask for maskload / maskstore).
TARGET INLINE __m256i lanes_below(int count) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/// Stores an output vector at y + at (at: the offset in the group's plane of one channel).
TARGET INLINE void store_output(float *y, long at, long end, __m256 value) {
    if (at + 8 <= end) {
        // A row's last vector spills into the next row, whose first vector, stored later by this
        // same loop, overwrites the spill (masked stores are slow on AMD's cores).
        _mm256_storeu_ps(y + at, value);
    } else {
        // The group's end: nothing after it overwrites a spill (another group's images, written
        // by another thread, or the tensor's end).
        _mm256_maskstore_ps(y + at, lanes_below((int)(end - at)), value);
    }
}

/// Output channels o0..<o0 + NJ at NV consecutive vectors of one row (xv: the first vector's
/// first tap in the padded input; y at channel o0, `at` the first vector's offset): NJ · NV
/// independent accumulators (8 keep both FMA units busy through the FMA's latency), each tap's
/// input vectors loaded once for the NJ channels, each weight broadcast once for the NV vectors.
/// `wb` holds the block's weights as [c][kh·3 + kw][j].
TARGET INLINE void forward_vectors(const float *xv, long channelPlane, long wp, int inChannels, const float *wb,
                                   const float *bias, float *y, long yChannelStride, long at, long end, const int NJ,
                                   const int NV) {
    __m256 acc[4][2];
    for (int j = 0; j < NJ; j++)
        for (int i = 0; i < NV; i++) acc[j][i] = bias ? _mm256_set1_ps(bias[j]) : _mm256_setzero_ps();
    for (int c = 0; c < inChannels; c++) {
        const float *xc = xv + c * channelPlane, *wc = wb + c * 9 * NJ;
        for (int k = 0; k < 9; k++) {
            __m256 t[2];
            for (int i = 0; i < NV; i++) t[i] = _mm256_loadu_ps(xc + (k / 3) * wp + k % 3 + 8 * i);
            for (int j = 0; j < NJ; j++) {
                __m256 wk = _mm256_set1_ps(wc[k * NJ + j]);
                for (int i = 0; i < NV; i++) acc[j][i] = _mm256_fmadd_ps(t[i], wk, acc[j][i]);
            }
        }
    }
    for (int j = 0; j < NJ; j++)
        for (int i = 0; i < NV; i++) store_output(y + j * yChannelStride, at + 8 * i, end, acc[j][i]);
}

/// Output channels o0..<o0 + NJ over the whole group, their weights gathered first.
TARGET INLINE void forward_channels(const float *xp, long plane, long wp, int inChannels, int images, int height,
                                    int width, const float *w, int o0, const float *bias, float *y,
                                    long yChannelStride, const int NJ) {
    float wb[DIRECT_MAX_CHANNELS * 9 * 4];
    for (int c = 0; c < inChannels; c++)
        for (int k = 0; k < 9; k++)
            for (int j = 0; j < NJ; j++) wb[(c * 9 + k) * NJ + j] = w[((o0 + j) * inChannels + c) * 9 + k];
    const float *b = bias ? bias + o0 : 0;
    float *yo = y + o0 * yChannelStride;
    long channelPlane = images * plane, end = (long)images * height * width;
    int vectors = (width + 7) / 8;
    for (int n = 0; n < images; n++) {
        for (int h = 0; h < height; h++) {
            const float *xr = xp + n * plane + h * wp;
            long at = ((long)n * height + h) * width;
            int v = 0;
            for (; v + 2 <= vectors; v += 2)
                forward_vectors(xr + 8 * v, channelPlane, wp, inChannels, wb, b, yo, yChannelStride, at + 8 * v, end, NJ, 2);
            for (; v < vectors; v++)
                forward_vectors(xr + 8 * v, channelPlane, wp, inChannels, wb, b, yo, yChannelStride, at + 8 * v, end, NJ, 1);
        }
    }
}

TARGET void lsgd_direct_forward(const float *x, long xChannelStride, int inChannels, int images, int height, int width,
                                const float *w, int outChannels, const float *bias, float *y, long yChannelStride,
                                float *work) {
    if (images <= 0 || height <= 0 || width <= 0) return;
    pad_input(x, xChannelStride, inChannels, images, height, width, work);
    long wp = padded_width(width), plane = (long)(height + 2) * wp;
    int o = 0;
    for (; o + 4 <= outChannels; o += 4)
        forward_channels(work, plane, wp, inChannels, images, height, width, w, o, bias, y, yChannelStride, 4);
    for (; o < outChannels; o++)
        forward_channels(work, plane, wp, inChannels, images, height, width, w, o, bias, y, yChannelStride, 1);
}

/// ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)).
TARGET INLINE float lane_sum(__m256 a) {
    float l[8];
    _mm256_storeu_ps(l, a);
    return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

/// acc[j][kw] += dy · x of one output vector: taps at xv (padded row h + kh, column 8v), dy of
/// channel o0 + j at dv + j · dyChannelStride; `tail` the lanes of dy to keep (8: all).
TARGET INLINE void gradient_vector(const float *xv, const float *dv, long dyChannelStride, __m256 acc[4][3], int tail,
                                   const int NJ) {
    __m256 x0 = _mm256_loadu_ps(xv), x1 = _mm256_loadu_ps(xv + 1), x2 = _mm256_loadu_ps(xv + 2);
    for (int j = 0; j < NJ; j++) {
        __m256 g = tail == 8 ? _mm256_loadu_ps(dv + j * dyChannelStride)
                             : _mm256_maskload_ps(dv + j * dyChannelStride, lanes_below(tail));
        acc[j][0] = _mm256_fmadd_ps(g, x0, acc[j][0]);
        acc[j][1] = _mm256_fmadd_ps(g, x1, acc[j][1]);
        acc[j][2] = _mm256_fmadd_ps(g, x2, acc[j][2]);
    }
}

/// dw of output channels o0..<o0 + NJ, input channel c, kernel row kh (its three taps). The last
/// vector of each row (dy masked past the row's end) is its own call, so the loop over the
/// others keeps its 12 accumulators, 3 taps and dy in the 16 registers.
TARGET INLINE void gradient_row(const float *xp, long plane, long wp, const float *dy, long dyChannelStride,
                                int inChannels, int images, int height, int width, int o0, int c, int kh, float *dw,
                                const int NJ) {
    __m256 acc[4][3];
    for (int j = 0; j < NJ; j++)
        for (int kw = 0; kw < 3; kw++) acc[j][kw] = _mm256_setzero_ps();
    int vectors = (width + 7) / 8, last = width - 8 * (vectors - 1);
    for (int n = 0; n < images; n++) {
        for (int h = 0; h < height; h++) {
            const float *xr = xp + ((long)c * images + n) * plane + (h + kh) * wp;
            const float *dyr = dy + (o0 * dyChannelStride) + ((long)n * height + h) * width;
            for (int v = 0; v < vectors - 1; v++) gradient_vector(xr + 8 * v, dyr + 8 * v, dyChannelStride, acc, 8, NJ);
            gradient_vector(xr + 8 * (vectors - 1), dyr + 8 * (vectors - 1), dyChannelStride, acc, last, NJ);
        }
    }
    for (int j = 0; j < NJ; j++)
        for (int kw = 0; kw < 3; kw++) dw[((o0 + j) * inChannels + c) * 9 + kh * 3 + kw] = lane_sum(acc[j][kw]);
}

TARGET void lsgd_direct_weight_gradient(const float *x, long xChannelStride, const float *dy, long dyChannelStride,
                                        int inChannels, int images, int height, int width, int outChannels, float *dw,
                                        float *work) {
    if (images <= 0 || height <= 0 || width <= 0) {
        memset(dw, 0, sizeof(float) * (size_t)outChannels * (size_t)inChannels * 9);
        return;
    }
    pad_input(x, xChannelStride, inChannels, images, height, width, work);
    long wp = padded_width(width), plane = (long)(height + 2) * wp;
    int o = 0;
    for (; o + 4 <= outChannels; o += 4)
        for (int c = 0; c < inChannels; c++)
            for (int kh = 0; kh < 3; kh++)
                gradient_row(work, plane, wp, dy, dyChannelStride, inChannels, images, height, width, o, c, kh, dw, 4);
    for (; o < outChannels; o++)
        for (int c = 0; c < inChannels; c++)
            for (int kh = 0; kh < 3; kh++)
                gradient_row(work, plane, wp, dy, dyChannelStride, inChannels, images, height, width, o, c, kh, dw, 1);
}
