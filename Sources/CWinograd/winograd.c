// Winograd F(4×4, 3×3) convolutions on AVX2 + FMA (CWinograd.h). Each 4×4 output tile comes from
// a 6×6 input tile d: Y = Aᵀ [Σ_c (G g Gᵀ) ⊙ (Bᵀ d B)] A (Lavin & Gray 2016, eq. 10), with the
// matrices of points 0, ±1, ±2, ∞. The sum over input channels is, for each of the 36 positions
// ξ of the transformed tile, a matrix product M[ξ] = U[ξ]ᵀ V[ξ] (outChannels × tiles), which the
// kernels below compute in blocks of tiles small enough to stay in the L2 cache.
//
// Vectors run over 8 tiles. The input transform loads each tile's six rows as vectors (lanes =
// columns), transforms the columns, transposes 8 tiles' rows so that lanes become tiles, then
// transforms the rows; the output transform does the reverse. Every sum has a fixed order: the
// channels in order, each product an FMA, so results do not depend on the blocking.
#include "CWinograd.h"

#include <immintrin.h>
#include <string.h>

#define TARGET __attribute__((target("avx2,fma")))
/// Floats between two positions' slices of V and of M beyond the slice itself: 64 bytes, so
/// that the 36 slices do not fall on the same cache sets (a slice is often a multiple of 4 KiB).
#define SLICE_PAD 16

int lsgd_winograd_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

long lsgd_winograd_weight_floats(int inChannels, int outChannels) { return 36L * inChannels * outChannels; }

static const float G[6][3] = {
    {1.0f / 4, 0, 0}, {-1.0f / 6, -1.0f / 6, -1.0f / 6}, {-1.0f / 6, 1.0f / 6, -1.0f / 6},
    {1.0f / 24, 1.0f / 12, 1.0f / 6}, {1.0f / 24, -1.0f / 12, 1.0f / 6}, {0, 0, 1},
};

/// G g Gᵀ of one kernel g (g[a][b] at src[a·3 + b], or at src[(2 − a)·3 + (2 − b)] when
/// `flip`), into u[ξ · stride]. Products and sums as `transform_kernels8`'s, lane for lane.
static void transform_kernel(const float *src, int flip, float *u, long stride) {
    float g[3][3], t[6][3];
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) g[a][b] = flip ? src[(2 - a) * 3 + (2 - b)] : src[a * 3 + b];
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 3; j++) t[i][j] = G[i][0] * g[0][j] + G[i][1] * g[1][j] + G[i][2] * g[2][j];
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++) u[(i * 6 + j) * stride] = t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2];
}

/// `transform_kernel` of 8 kernels, the l-th at src + l · step, into lanes u[ξ · stride + l].
TARGET static void transform_kernels8(const float *src, long step, int flip, float *u, long stride) {
    __m256 g[3][3], t[6][3];
    for (int a = 0; a < 3; a++) {
        for (int b = 0; b < 3; b++) {
            int at = flip ? (2 - a) * 3 + (2 - b) : a * 3 + b;
            float lanes[8];
            for (int l = 0; l < 8; l++) lanes[l] = src[l * step + at];
            g[a][b] = _mm256_loadu_ps(lanes);
        }
    }
    for (int i = 0; i < 6; i++) {
        __m256 g0 = _mm256_set1_ps(G[i][0]), g1 = _mm256_set1_ps(G[i][1]), g2 = _mm256_set1_ps(G[i][2]);
        for (int j = 0; j < 3; j++)
            t[i][j] = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(g0, g[0][j]), _mm256_mul_ps(g1, g[1][j])),
                                    _mm256_mul_ps(g2, g[2][j]));
    }
    for (int j = 0; j < 6; j++) {
        __m256 g0 = _mm256_set1_ps(G[j][0]), g1 = _mm256_set1_ps(G[j][1]), g2 = _mm256_set1_ps(G[j][2]);
        for (int i = 0; i < 6; i++)
            _mm256_storeu_ps(u + (i * 6 + j) * stride,
                             _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(t[i][0], g0), _mm256_mul_ps(t[i][1], g1)),
                                           _mm256_mul_ps(t[i][2], g2)));
    }
}

void lsgd_winograd_weights(const float *w, int outChannels, int inChannels, int transposed, float *u) {
    // The convolution these weights are for reads `rows` channels and writes `cols`; u is
    // [36][rows][cols], and the kernel of (row, col) is w[k][c] with k = col, c = row (forward)
    // or k = row, c = col (transposed, turned by 180°).
    int rows = transposed ? outChannels : inChannels, cols = transposed ? inChannels : outChannels;
    long stride = (long)rows * cols, step = transposed ? 9 : (long)inChannels * 9;
    // Blocks of 8 columns, row after row: the kernels read are near the previous ones.
    int col = 0;
    for (; col + 8 <= cols; col += 8)
        for (int row = 0; row < rows; row++)
            transform_kernels8(w + (transposed ? (long)row * inChannels * 9 : (long)row * 9) + col * step, step, transposed,
                               u + (long)row * cols + col, stride);
    for (; col < cols; col++)
        for (int row = 0; row < rows; row++)
            transform_kernel(w + (transposed ? (long)row * inChannels * 9 : (long)row * 9) + col * step, transposed,
                             u + (long)row * cols + col, stride);
}

/// Tiles per block: a multiple of 16 (the matrix kernel's width), as many as keep V and M of a
/// block near 300 KB (L2 is 512 KB on the machines measured), at most 64.
static int block_tiles(int inChannels, int outChannels) {
    int n = 300000 / (36 * (inChannels + outChannels) * 4 * 16);
    return 16 * (n < 1 ? 1 : n > 4 ? 4 : n);
}

/// Tiles down and across, and the padded input plane (a border of one zero, widened to whole tiles).
typedef struct {
    int th, tw, hp, wp;
    long plane;
} Tiling;

static Tiling tiling(int height, int width) {
    Tiling t;
    t.th = (height + 3) / 4;
    t.tw = (width + 3) / 4;
    t.hp = 4 * t.th + 2;
    t.wp = 4 * t.tw + 2;
    t.plane = (long)t.hp * t.wp;
    return t;
}

static long round8(long floats) { return (floats + 7) / 8 * 8; }

long lsgd_winograd_work_floats(int inChannels, int outChannels, int images, int height, int width) {
    Tiling t = tiling(height, width);
    long tb = block_tiles(inChannels, outChannels);
    // The padded input (+ 8 floats that the last row's 8-wide loads may read), V, M.
    return round8((long)inChannels * images * t.plane + 8) + 36 * ((long)inChannels * tb + SLICE_PAD)
           + 36 * ((long)outChannels * tb + SLICE_PAD);
}

/// Bᵀ of six values (a column or row of a 6×6 tile), each a vector of 8 tiles.
TARGET static inline void input_transform6(__m256 d0, __m256 d1, __m256 d2, __m256 d3, __m256 d4, __m256 d5,
                                           __m256 *t) {
    const __m256 four = _mm256_set1_ps(4.0f), five = _mm256_set1_ps(5.0f), two = _mm256_set1_ps(2.0f);
    t[0] = _mm256_fmadd_ps(four, d0, _mm256_fnmadd_ps(five, d2, d4));
    __m256 a = _mm256_add_ps(d3, d4), b = _mm256_add_ps(d1, d2);
    t[1] = _mm256_fnmadd_ps(four, b, a);
    a = _mm256_sub_ps(d4, d3);
    b = _mm256_sub_ps(d1, d2);
    t[2] = _mm256_fmadd_ps(four, b, a);
    a = _mm256_sub_ps(d4, d2);
    b = _mm256_sub_ps(d3, d1);
    t[3] = _mm256_fmadd_ps(two, b, a);
    t[4] = _mm256_fnmadd_ps(two, b, a);
    t[5] = _mm256_fmadd_ps(four, d1, _mm256_fnmadd_ps(five, d3, d5));
}

/// Aᵀ of six values: four outputs.
TARGET static inline void output_transform6(__m256 m0, __m256 m1, __m256 m2, __m256 m3, __m256 m4, __m256 m5,
                                            __m256 *o) {
    __m256 s12 = _mm256_add_ps(m1, m2), d12 = _mm256_sub_ps(m1, m2);
    __m256 s34 = _mm256_add_ps(m3, m4), d34 = _mm256_sub_ps(m3, m4);
    o[0] = _mm256_add_ps(_mm256_add_ps(m0, s12), s34);
    o[1] = _mm256_fmadd_ps(_mm256_set1_ps(2.0f), d34, d12);
    o[2] = _mm256_fmadd_ps(_mm256_set1_ps(4.0f), s34, s12);
    o[3] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8.0f), d34, d12), m5);
}

/// R output channels × 16 tiles of M[ξ] = Σ_c U[ξ][c][k] V[ξ][c][t], the channels in order.
/// u at U[ξ][0][k0] (row stride `outChannels`), v at V[ξ][0][t0], m at M[ξ][k0][t0]; V and M rows
/// are `tb` floats apart.
#define MATRIX_KERNEL(R)                                                                                               \
    TARGET static void matrix_kernel_##R(const float *restrict u, const float *restrict v, float *restrict m,      \
                                         int inChannels, int outChannels, long tb) {                               \
        __m256 a0[R], a1[R];                                                                                       \
        for (int r = 0; r < R; r++) a0[r] = a1[r] = _mm256_setzero_ps();                                          \
        for (int c = 0; c < inChannels; c++, v += tb, u += outChannels) {                                          \
            __m256 v0 = _mm256_load_ps(v), v1 = _mm256_load_ps(v + 8);                                            \
            for (int r = 0; r < R; r++) {                                                                          \
                __m256 b = _mm256_broadcast_ss(u + r);                                                             \
                a0[r] = _mm256_fmadd_ps(b, v0, a0[r]);                                                             \
                a1[r] = _mm256_fmadd_ps(b, v1, a1[r]);                                                             \
            }                                                                                                      \
        }                                                                                                          \
        for (int r = 0; r < R; r++) {                                                                              \
            _mm256_store_ps(m + r * tb, a0[r]);                                                                    \
            _mm256_store_ps(m + r * tb + 8, a1[r]);                                                                \
        }                                                                                                          \
    }
MATRIX_KERNEL(6)
MATRIX_KERNEL(4)
MATRIX_KERNEL(2)
MATRIX_KERNEL(1)

/// The 36 products of the first `used` tiles (a multiple of 16) of a block of `tb`.
static void multiply(const float *u, const float *v, float *m, int inChannels, int outChannels, long tb, long used) {
    for (int xi = 0; xi < 36; xi++) {
        const float *ux = u + (long)xi * inChannels * outChannels, *vx = v + xi * ((long)inChannels * tb + SLICE_PAD);
        float *mx = m + xi * ((long)outChannels * tb + SLICE_PAD);
        for (long t = 0; t < used; t += 16) {
            int k = 0;
            for (; k + 6 <= outChannels; k += 6) matrix_kernel_6(ux + k, vx + t, mx + k * tb + t, inChannels, outChannels, tb);
            for (; k + 4 <= outChannels; k += 4) matrix_kernel_4(ux + k, vx + t, mx + k * tb + t, inChannels, outChannels, tb);
            for (; k + 2 <= outChannels; k += 2) matrix_kernel_2(ux + k, vx + t, mx + k * tb + t, inChannels, outChannels, tb);
            for (; k < outChannels; k++) matrix_kernel_1(ux + k, vx + t, mx + k * tb + t, inChannels, outChannels, tb);
        }
    }
}

/// 8 vectors r[0..7] (row l = tile l, lanes = columns) transposed: c[b] has column b of the 8 tiles.
TARGET static inline void transpose8x6(const __m256 *r, __m256 *c) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    c[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    c[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    c[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    c[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    c[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    c[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
}

/// Bᵀ d B of 8 tiles of one channel (their top-left corners at `corner[0..7]` in the padded
/// plane xc) into V[ξ][c][lanes].
TARGET static void transform_inputs(const float *xc, const long *corner, long wp, float *v, long slice) {
    __m256 rows[6][8];
    for (int l = 0; l < 8; l++) {
        const float *p = xc + corner[l];
        __m256 t[6];
        input_transform6(_mm256_loadu_ps(p), _mm256_loadu_ps(p + wp), _mm256_loadu_ps(p + 2 * wp),
                         _mm256_loadu_ps(p + 3 * wp), _mm256_loadu_ps(p + 4 * wp), _mm256_loadu_ps(p + 5 * wp), t);
        for (int a = 0; a < 6; a++) rows[a][l] = t[a];
    }
    for (int a = 0; a < 6; a++) {
        __m256 c[6], t[6];
        transpose8x6(rows[a], c);
        input_transform6(c[0], c[1], c[2], c[3], c[4], c[5], t);
        for (int b = 0; b < 6; b++) _mm256_store_ps(v + (a * 6 + b) * slice, t[b]);
    }
}

/// Aᵀ m A (+ *bias when not NULL) of 8 tiles of one output channel (m at M[0][k][lanes]) into y: tile l's
/// outputs start at out[l] (row `row[l]`, column `col[l]` of its image); `count` tiles are real.
TARGET static void transform_outputs(const float *m, long slice, const float *bias, float *yk, const long *out,
                                     const int *row, const int *col, int count, int height, int width) {
    __m256 t[4][6];
    for (int b = 0; b < 6; b++) {
        __m256 o[4];
        output_transform6(_mm256_load_ps(m + b * slice), _mm256_load_ps(m + (6 + b) * slice),
                          _mm256_load_ps(m + (12 + b) * slice), _mm256_load_ps(m + (18 + b) * slice),
                          _mm256_load_ps(m + (24 + b) * slice), _mm256_load_ps(m + (30 + b) * slice), o);
        for (int a = 0; a < 4; a++) t[a][b] = o[a];
    }
    for (int a = 0; a < 4; a++) {
        __m256 o[4];
        output_transform6(t[a][0], t[a][1], t[a][2], t[a][3], t[a][4], t[a][5], o);
        if (bias)
            for (int b = 0; b < 4; b++) o[b] = _mm256_add_ps(o[b], _mm256_set1_ps(*bias));
        // 4 columns × 8 tiles into 8 tiles' rows of 4: lanes 0–3 of q[l] are tile l's, 4–7 tile l + 4's.
        __m256 u0 = _mm256_unpacklo_ps(o[0], o[1]), u1 = _mm256_unpackhi_ps(o[0], o[1]);
        __m256 u2 = _mm256_unpacklo_ps(o[2], o[3]), u3 = _mm256_unpackhi_ps(o[2], o[3]);
        __m256 q[4] = {_mm256_shuffle_ps(u0, u2, 0x44), _mm256_shuffle_ps(u0, u2, 0xEE),
                       _mm256_shuffle_ps(u1, u3, 0x44), _mm256_shuffle_ps(u1, u3, 0xEE)};
        for (int l = 0; l < count; l++) {
            if (row[l] + a >= height) continue;
            __m128 r = l < 4 ? _mm256_castps256_ps128(q[l]) : _mm256_extractf128_ps(q[l - 4], 1);
            float *dst = yk + out[l] + (long)a * width;
            if (col[l] + 4 <= width) {
                _mm_storeu_ps(dst, r);
            } else {
                float four[4];
                _mm_storeu_ps(four, r);
                for (int b = 0; col[l] + b < width; b++) dst[b] = four[b];
            }
        }
    }
}

/// The group's input with a border of zeros, widened to whole tiles: [C][images][hp][wp] (+ 8
/// zeros that the last row's 8-wide loads may read).
static void pad_input(const float *x, long xChannelStride, int inChannels, int images, int height, int width, Tiling g,
                      float *padded) {
    const long image = (long)height * width;
    memset(padded, 0, sizeof(float) * round8((long)inChannels * images * g.plane + 8));
    for (int c = 0; c < inChannels; c++) {
        for (int n = 0; n < images; n++) {
            const float *src = x + c * xChannelStride + n * image;
            float *dst = padded + ((long)c * images + n) * g.plane + g.wp + 1;
            for (int h = 0; h < height; h++) memcpy(dst + (long)h * g.wp, src + (long)h * width, sizeof(float) * width);
        }
    }
}

/// Where the tiles t0 .. t0 + tb − 1 of a block are (`count` real ones; lanes past the last
/// repeat the block's first): the top-left corner of each one's 6×6 input tile in the padded
/// image plane, the row and column of its 4×4 outputs in its image, and their offset.
typedef struct {
    long corner[64], out[64];
    int row[64], col[64];
} Block;

static void place_block(Tiling g, int height, int width, long t0, int count, long tb, Block *b) {
    const long image = (long)height * width;
    for (int l = 0; l < tb; l++) {
        long t = t0 + (l < count ? l : 0);
        long n = t / (g.th * g.tw), r = t % (g.th * g.tw);
        int i = (int)(r / g.tw), j = (int)(r % g.tw);
        b->corner[l] = n * g.plane + 4L * i * g.wp + 4 * j;
        b->row[l] = 4 * i;
        b->col[l] = 4 * j;
        b->out[l] = n * image + 4L * i * width + 4 * j;
    }
}

TARGET void lsgd_winograd_convolution(const float *x, long xChannelStride, int inChannels, int images, int height,
                                      int width, const float *u, int outChannels, const float *bias, float *y,
                                      long yChannelStride, float *work) {
    const Tiling g = tiling(height, width);
    const long tb = block_tiles(inChannels, outChannels);
    float *padded = work;
    float *v = padded + round8((long)inChannels * images * g.plane + 8);
    float *m = v + 36 * ((long)inChannels * tb + SLICE_PAD);
    const long vSlice = (long)inChannels * tb + SLICE_PAD, mSlice = (long)outChannels * tb + SLICE_PAD;

    pad_input(x, xChannelStride, inChannels, images, height, width, g, padded);

    const long tiles = (long)images * g.th * g.tw;
    Block b;
    for (long t0 = 0; t0 < tiles; t0 += tb) {
        int count = tiles - t0 < tb ? (int)(tiles - t0) : (int)tb;
        place_block(g, height, width, t0, count, tb, &b); // the repeated lanes' outputs are dropped
        for (int c = 0; c < inChannels; c++) {
            const float *xc = padded + (long)c * images * g.plane;
            for (int l = 0; l < (count + 15) / 16 * 16; l += 8)
                transform_inputs(xc, b.corner + l, g.wp, v + c * tb + l, vSlice);
        }
        multiply(u, v, m, inChannels, outChannels, tb, (count + 15) / 16 * 16);
        for (int k = 0; k < outChannels; k++) {
            for (int l = 0; l < count; l += 8) {
                int n = count - l < 8 ? count - l : 8;
                transform_outputs(m + k * tb + l, mSlice, bias ? bias + k : NULL, y + k * yChannelStride, b.out + l,
                                  b.row + l, b.col + l, n, height, width);
            }
        }
    }
}

// The weight gradient, the forward's adjoint in U = G g Gᵀ: per tile t, dU = (A dy_t Aᵀ) ⊙ (Bᵀ d_t B)
// (Lavin & Gray 2016, sec. 4, with the output gradient in place of the kernel), summed over the
// group's tiles, then dg = Gᵀ dU G. For each position ξ the sum is a matrix product
// dU[ξ] = Σ_t W[ξ][k][t] Vᵀ[ξ][t][c] (outChannels × inChannels), accumulated block of tiles after
// block in registers loaded from and stored to dU, one fused multiply-add per tile in tile order:
// the same floats whatever the blocking.

static long round16(long n) { return (n + 15) / 16 * 16; }

long lsgd_winograd_weight_gradient_work_floats(int inChannels, int outChannels, int images, int height, int width) {
    Tiling t = tiling(height, width);
    long tb = block_tiles(inChannels, outChannels), cp = round16(inChannels);
    // The padded input, Vᵀ (rows of cp channels), W, dU.
    return round8((long)inChannels * images * t.plane + 8) + 36 * (tb * cp + SLICE_PAD)
           + 36 * ((long)outChannels * tb + SLICE_PAD) + 36L * outChannels * cp;
}

/// A of four values (a row or column of a 4×4 tile of dy), each a vector of 8 tiles: six.
TARGET static inline void gradient_transform4(__m256 o0, __m256 o1, __m256 o2, __m256 o3, __m256 *t) {
    __m256 e = _mm256_add_ps(o0, o2), f = _mm256_add_ps(o1, o3);
    __m256 e4 = _mm256_fmadd_ps(_mm256_set1_ps(4.0f), o2, o0);
    __m256 f8 = _mm256_fmadd_ps(_mm256_set1_ps(2.0f), o1, _mm256_mul_ps(_mm256_set1_ps(8.0f), o3));
    t[0] = o0;
    t[1] = _mm256_add_ps(e, f);
    t[2] = _mm256_sub_ps(e, f);
    t[3] = _mm256_add_ps(e4, f8);
    t[4] = _mm256_sub_ps(e4, f8);
    t[5] = o3;
}

/// A dy Aᵀ of 8 tiles of one output channel's gradient (tile l's 4×4 starts at dyk + out[l], row
/// `row[l]`, column `col[l]` of its image; zeros past the image) into W[ξ][k][lanes]: the rows
/// first, then the columns.
TARGET static void transform_gradients(const float *dyk, const long *out, const int *row, const int *col, int height,
                                       int width, float *w, long slice) {
    __m256 r[4][6];
    for (int a = 0; a < 4; a++) {
        __m128 p[8];
        for (int l = 0; l < 8; l++) {
            const float *src = dyk + out[l] + (long)a * width;
            if (row[l] + a >= height) {
                p[l] = _mm_setzero_ps();
            } else if (col[l] + 4 <= width) {
                p[l] = _mm_loadu_ps(src);
            } else {
                float four[4] = {0, 0, 0, 0};
                for (int b = 0; col[l] + b < width; b++) four[b] = src[b];
                p[l] = _mm_loadu_ps(four);
            }
        }
        // Row a of 8 tiles into its 4 columns, lanes = tiles (lanes 0–3 from p[0..3], 4–7 from p[4..7]).
        __m256 x0 = _mm256_insertf128_ps(_mm256_castps128_ps256(p[0]), p[4], 1);
        __m256 x1 = _mm256_insertf128_ps(_mm256_castps128_ps256(p[1]), p[5], 1);
        __m256 x2 = _mm256_insertf128_ps(_mm256_castps128_ps256(p[2]), p[6], 1);
        __m256 x3 = _mm256_insertf128_ps(_mm256_castps128_ps256(p[3]), p[7], 1);
        __m256 t0 = _mm256_unpacklo_ps(x0, x1), t1 = _mm256_unpackhi_ps(x0, x1);
        __m256 t2 = _mm256_unpacklo_ps(x2, x3), t3 = _mm256_unpackhi_ps(x2, x3);
        gradient_transform4(_mm256_shuffle_ps(t0, t2, 0x44), _mm256_shuffle_ps(t0, t2, 0xEE),
                            _mm256_shuffle_ps(t1, t3, 0x44), _mm256_shuffle_ps(t1, t3, 0xEE), r[a]);
    }
    for (int j = 0; j < 6; j++) {
        __m256 o[6];
        gradient_transform4(r[0][j], r[1][j], r[2][j], r[3][j], o);
        for (int i = 0; i < 6; i++) _mm256_store_ps(w + (i * 6 + j) * slice, o[i]);
    }
}

/// R output channels × 16 input channels of dU[ξ] += Σ_t W[ξ][k][t] Vᵀ[ξ][t][c] over `count`
/// tiles in order. w at W[ξ][k0][0] (rows `tb` apart), v at Vᵀ[ξ][0][c0] (rows `cp` apart), du at
/// dU[ξ][k0][c0] (rows `cp` apart).
#define GRADIENT_KERNEL(R)                                                                                             \
    TARGET static void gradient_kernel_##R(const float *restrict w, const float *restrict v, float *restrict du,   \
                                           long count, long tb, long cp) {                                         \
        __m256 a0[R], a1[R];                                                                                       \
        for (int r = 0; r < R; r++) {                                                                              \
            a0[r] = _mm256_load_ps(du + r * cp);                                                                   \
            a1[r] = _mm256_load_ps(du + r * cp + 8);                                                               \
        }                                                                                                          \
        for (long t = 0; t < count; t++, v += cp) {                                                                \
            __m256 v0 = _mm256_load_ps(v), v1 = _mm256_load_ps(v + 8);                                             \
            for (int r = 0; r < R; r++) {                                                                          \
                __m256 b = _mm256_broadcast_ss(w + r * tb + t);                                                    \
                a0[r] = _mm256_fmadd_ps(b, v0, a0[r]);                                                             \
                a1[r] = _mm256_fmadd_ps(b, v1, a1[r]);                                                             \
            }                                                                                                      \
        }                                                                                                          \
        for (int r = 0; r < R; r++) {                                                                              \
            _mm256_store_ps(du + r * cp, a0[r]);                                                                   \
            _mm256_store_ps(du + r * cp + 8, a1[r]);                                                               \
        }                                                                                                          \
    }
GRADIENT_KERNEL(6)
GRADIENT_KERNEL(4)
GRADIENT_KERNEL(2)
GRADIENT_KERNEL(1)

/// The 36 products of a block's first `count` tiles, added into dU [36][outChannels][cp].
static void gradient_multiply(const float *w, long wSlice, const float *v, long vSlice, float *du, int outChannels,
                              long cp, long tb, long count) {
    for (int xi = 0; xi < 36; xi++) {
        const float *wx = w + xi * wSlice, *vx = v + xi * vSlice;
        float *dx = du + xi * outChannels * cp;
        for (long c = 0; c < cp; c += 16) {
            int k = 0;
            for (; k + 6 <= outChannels; k += 6) gradient_kernel_6(wx + k * tb, vx + c, dx + k * cp + c, count, tb, cp);
            for (; k + 4 <= outChannels; k += 4) gradient_kernel_4(wx + k * tb, vx + c, dx + k * cp + c, count, tb, cp);
            for (; k + 2 <= outChannels; k += 2) gradient_kernel_2(wx + k * tb, vx + c, dx + k * cp + c, count, tb, cp);
            for (; k < outChannels; k++) gradient_kernel_1(wx + k * tb, vx + c, dx + k * cp + c, count, tb, cp);
        }
    }
}

/// Gᵀ dU G of 8 kernels (k, c0..c0+7) in lanes (du at dU[0][k][c0], positions `slice` apart) into
/// dw[(k, c)][3][3] for the first `count` (dw at the first's): products, then sums in order.
TARGET static void transform_weight_gradients(const float *du, long slice, float *dw, int count) {
    __m256 t[3][6];
    for (int j = 0; j < 6; j++) {
        for (int a = 0; a < 3; a++) {
            __m256 s = _mm256_mul_ps(_mm256_set1_ps(G[0][a]), _mm256_load_ps(du + j * slice));
            for (int i = 1; i < 6; i++)
                s = _mm256_add_ps(s, _mm256_mul_ps(_mm256_set1_ps(G[i][a]), _mm256_load_ps(du + (i * 6 + j) * slice)));
            t[a][j] = s;
        }
    }
    for (int a = 0; a < 3; a++) {
        for (int b = 0; b < 3; b++) {
            __m256 s = _mm256_mul_ps(t[a][0], _mm256_set1_ps(G[0][b]));
            for (int j = 1; j < 6; j++) s = _mm256_add_ps(s, _mm256_mul_ps(t[a][j], _mm256_set1_ps(G[j][b])));
            float lanes[8];
            _mm256_storeu_ps(lanes, s);
            for (int l = 0; l < count; l++) dw[l * 9 + a * 3 + b] = lanes[l];
        }
    }
}

TARGET void lsgd_winograd_weight_gradient(const float *x, long xChannelStride, int inChannels, int images, int height,
                                          int width, const float *dy, long dyChannelStride, int outChannels, float *dw,
                                          float *work) {
    const Tiling g = tiling(height, width);
    const long tb = block_tiles(inChannels, outChannels), cp = round16(inChannels);
    const long vSlice = tb * cp + SLICE_PAD, wSlice = (long)outChannels * tb + SLICE_PAD, duSlice = outChannels * cp;
    float *padded = work;
    float *vt = padded + round8((long)inChannels * images * g.plane + 8);
    float *w = vt + 36 * vSlice;
    float *du = w + 36 * wSlice;

    pad_input(x, xChannelStride, inChannels, images, height, width, g, padded);
    memset(du, 0, sizeof(float) * 36 * duSlice);

    const long tiles = (long)images * g.th * g.tw, channel = (long)images * g.plane;
    Block b;
    for (long t0 = 0; t0 < tiles; t0 += tb) {
        int count = tiles - t0 < tb ? (int)(tiles - t0) : (int)tb;
        place_block(g, height, width, t0, count, tb, &b); // the products never read the repeated lanes
        // Vᵀ: each tile, 8 channels at a time in lanes (channels past the last repeat it; their
        // columns of dU are never read).
        for (int l = 0; l < count; l++) {
            for (long c0 = 0; c0 < cp; c0 += 8) {
                long at[8];
                for (int q = 0; q < 8; q++) at[q] = (c0 + q < inChannels ? c0 + q : inChannels - 1) * channel + b.corner[l];
                transform_inputs(padded, at, g.wp, vt + l * cp + c0, vSlice);
            }
        }
        for (int k = 0; k < outChannels; k++)
            for (int l = 0; l < count; l += 8)
                transform_gradients(dy + k * dyChannelStride, b.out + l, b.row + l, b.col + l, height, width,
                                    w + k * tb + l, wSlice);
        gradient_multiply(w, wSlice, vt, vSlice, du, outChannels, cp, tb, count);
    }
    for (int k = 0; k < outChannels; k++)
        for (int c0 = 0; c0 < inChannels; c0 += 8)
            transform_weight_gradients(du + k * cp + c0, duSlice, dw + ((long)k * inChannels + c0) * 9,
                                       inChannels - c0 < 8 ? inChannels - c0 : 8);
}
