// Our Winograd F(4×4, 3×3) kernels (Sources/CWinograd) against oneDNN's direct convolutions,
// forward, backward-data and backward-weights, one thread, per shape and group size (images per call, as the
// product's fixed image groups call them), in alternating rounds so that both see the same
// machine load; the best round of each. oneDNN runs on its own formats (no reorders), ours on our
// [C, N, H, W] tensors, so the ratio understates ours inside the product, which also saves
// oneDNN's copies into and out of its blocked layouts. Each case first checks ours against
// oneDNN's output (largest difference relative to the largest output, or weight gradient).
//
// Built and run by Benchmarks/winograd_compare.sh.
#include "CWinograd.h"
#include <dnnl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(x)                                                                                                       \
    do {                                                                                                               \
        dnnl_status_t s_ = (x);                                                                                        \
        if (s_ != dnnl_success) {                                                                                      \
            fprintf(stderr, "winograd_compare: %s failed (%d)\n", #x, (int)s_);                                       \
            exit(1);                                                                                                   \
        }                                                                                                              \
    } while (0)

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/// The passes: forward (x → y), backward-data (dy → dx), backward-weights (x, dy → dW).
enum { FORWARD, BACKWARD_DATA, BACKWARD_WEIGHTS };
static const char *pass_names[] = {"forward", "backward-data", "backward-weights"};

/// One oneDNN direct convolution (3×3, stride 1, padding 1) on `n` images, one pass, with its
/// memories in the formats it chose: forward (x, weights, y), backward-data (dy, weights, dx),
/// backward-weights (x, dy, dW).
typedef struct {
    dnnl_primitive_t primitive;
    dnnl_memory_t memories[3];
    dnnl_exec_arg_t args[3];
} Direct;

static Direct direct(dnnl_engine_t engine, int n, int channels, int size, int pass) {
    dnnl_dims_t xd = {n, channels, size, size}, wd = {channels, channels, 3, 3};
    dnnl_memory_desc_t xa, wa, ya;
    CHECK(dnnl_memory_desc_init_by_tag(&xa, 4, xd, dnnl_f32, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&wa, 4, wd, dnnl_f32, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&ya, 4, xd, dnnl_f32, dnnl_format_tag_any));
    dnnl_dims_t one = {1, 1};
    dnnl_convolution_desc_t fd, bd;
    CHECK(dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct, &xa, &wa, NULL, &ya,
                                             one, one, one));
    dnnl_primitive_desc_t fpd, pd;
    CHECK(dnnl_primitive_desc_create(&fpd, &fd, NULL, engine, NULL));
    pd = fpd;
    if (pass == BACKWARD_DATA) {
        CHECK(dnnl_convolution_backward_data_desc_init(&bd, dnnl_convolution_direct, &xa, &wa, &ya, one, one, one));
        CHECK(dnnl_primitive_desc_create(&pd, &bd, NULL, engine, fpd));
    } else if (pass == BACKWARD_WEIGHTS) {
        CHECK(dnnl_convolution_backward_weights_desc_init(&bd, dnnl_convolution_direct, &xa, &wa, NULL, &ya, one, one,
                                                          one));
        CHECK(dnnl_primitive_desc_create(&pd, &bd, NULL, engine, fpd));
    }
    Direct d;
    CHECK(dnnl_primitive_create(&d.primitive, pd));
    static const int kinds[3][3] = {{DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST},
                                    {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC},
                                    {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS}};
    static const dnnl_query_t queries[3][3] = {{dnnl_query_src_md, dnnl_query_weights_md, dnnl_query_dst_md},
                                               {dnnl_query_diff_dst_md, dnnl_query_weights_md, dnnl_query_diff_src_md},
                                               {dnnl_query_src_md, dnnl_query_diff_dst_md, dnnl_query_diff_weights_md}};
    for (int i = 0; i < 3; i++) {
        CHECK(dnnl_memory_create(&d.memories[i], dnnl_primitive_desc_query_md(pd, queries[pass][i], 0), engine,
                                 DNNL_MEMORY_ALLOCATE));
        d.args[i].arg = kinds[pass][i];
        d.args[i].memory = d.memories[i];
    }
    return d;
}

/// `plain` (layout `tag`: NCHW or OIHW) into `memory`'s format, or back (`into` 0).
static void reorder(dnnl_engine_t engine, dnnl_stream_t stream, dnnl_memory_t memory, float *plain, int into,
                    dnnl_format_tag_t tag) {
    const dnnl_memory_desc_t *md;
    CHECK(dnnl_memory_get_memory_desc(memory, &md));
    dnnl_memory_desc_t pmd;
    CHECK(dnnl_memory_desc_init_by_tag(&pmd, 4, md->dims, dnnl_f32, tag));
    dnnl_memory_t p;
    CHECK(dnnl_memory_create(&p, &pmd, engine, plain));
    dnnl_primitive_desc_t rpd;
    CHECK(dnnl_reorder_primitive_desc_create(&rpd, into ? &pmd : md, engine, into ? md : &pmd, engine, NULL));
    dnnl_primitive_t r;
    CHECK(dnnl_primitive_create(&r, rpd));
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, into ? p : memory}, {DNNL_ARG_TO, into ? memory : p}};
    CHECK(dnnl_primitive_execute(r, stream, 2, args));
    CHECK(dnnl_stream_wait(stream));
    dnnl_primitive_destroy(r);
    dnnl_primitive_desc_destroy(rpd);
    dnnl_memory_destroy(p);
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 7;
    const char *only = argc > 2 ? argv[2] : NULL; // one pass's name, or all
    if (!lsgd_winograd_supported()) {
        fprintf(stderr, "winograd_compare: this CPU has no AVX2 and FMA\n");
        return 1;
    }
    // (channels, size): resnet20's stages on 28×28 images, and small outputs.
    const int shapes[][2] = {{16, 28}, {32, 14}, {64, 7}, {64, 6}, {128, 5}, {128, 4}};
    const int groups[] = {1, 2, 8, 32};
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    printf("| pass | channels | output | images | tiles | ours ms | oneDNN direct ms | oneDNN / ours | max diff |\n");
    printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (unsigned s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        for (unsigned g = 0; g < sizeof groups / sizeof groups[0]; g++) {
            for (int pass = 0; pass < 3; pass++) {
                if (only && strcmp(only, pass_names[pass]) != 0) continue;
                int c = shapes[s][0], size = shapes[s][1], n = groups[g];
                long plane = (long)n * size * size, count = c * plane, weights = (long)c * c * 9;
                float *x = aligned_alloc(64, sizeof(float) * count), *y = aligned_alloc(64, sizeof(float) * count);
                float *nchw = malloc(sizeof(float) * count), *w = malloc(sizeof(float) * weights);
                float *dw = malloc(sizeof(float) * weights), *dyNchw = malloc(sizeof(float) * count);
                float *u = aligned_alloc(64, sizeof(float) * lsgd_winograd_weight_floats(c, c));
                long floats = pass == BACKWARD_WEIGHTS ? lsgd_winograd_weight_gradient_work_floats(c, c, n, size, size)
                                                       : lsgd_winograd_work_floats(c, c, n, size, size);
                float *scratch = aligned_alloc(64, sizeof(float) * ((floats + 15) / 16 * 16));
                srand(s * 100 + g);
                for (long i = 0; i < count; i++) x[i] = rand() / (float)RAND_MAX - 0.5f;
                for (long i = 0; i < count; i++) y[i] = rand() / (float)RAND_MAX - 0.5f;
                for (long i = 0; i < weights; i++) w[i] = (rand() / (float)RAND_MAX - 0.5f) * 0.2f;
                // ours on [C, N, H, W]; oneDNN on NCHW: the same images.
                for (int ch = 0; ch < c; ch++)
                    for (int im = 0; im < n; im++) {
                        long ours = ((long)ch * n + im) * size * size, theirs = ((long)im * c + ch) * size * size;
                        memcpy(nchw + theirs, x + ours, sizeof(float) * size * size);
                        memcpy(dyNchw + theirs, y + ours, sizeof(float) * size * size);
                    }
                Direct d = direct(engine, n, c, size, pass);
                reorder(engine, stream, d.memories[0], nchw, 1, dnnl_nchw);
                if (pass == BACKWARD_WEIGHTS)
                    reorder(engine, stream, d.memories[1], dyNchw, 1, dnnl_nchw);
                else
                    reorder(engine, stream, d.memories[1], w, 1, dnnl_oihw);
                lsgd_winograd_weights(w, c, c, pass == BACKWARD_DATA, u);
#define OURS()                                                                                                         \
    (pass == BACKWARD_WEIGHTS ? lsgd_winograd_weight_gradient(x, plane, c, n, size, size, y, plane, c, dw, scratch)   \
                              : lsgd_winograd_convolution(x, plane, c, n, size, size, u, c, NULL, y, plane, scratch))
                OURS();
                CHECK(dnnl_primitive_execute(d.primitive, stream, 3, d.args));
                CHECK(dnnl_stream_wait(stream));
                double diff = 0, largest = 0;
                if (pass == BACKWARD_WEIGHTS) {
                    reorder(engine, stream, d.memories[2], w, 0, dnnl_oihw);
                    for (long i = 0; i < weights; i++) {
                        diff = fmax(diff, fabs((double)dw[i] - w[i]));
                        largest = fmax(largest, fabs((double)w[i]));
                    }
                } else {
                    reorder(engine, stream, d.memories[2], nchw, 0, dnnl_nchw);
                    for (int ch = 0; ch < c; ch++)
                        for (int im = 0; im < n; im++)
                            for (int p = 0; p < size * size; p++) {
                                double a = y[((long)ch * n + im) * size * size + p];
                                double b = nchw[((long)im * c + ch) * size * size + p];
                                diff = fmax(diff, fabs(a - b));
                                largest = fmax(largest, fabs(b));
                            }
                }
                int repeats = (int)(2e7 / ((double)count * c * 18)) + 3;
                double ours = 1e9, theirs = 1e9;
                // Round -1 warms caches and pages up and is not counted.
                for (int r = -1; r < rounds; r++) {
                    double t = now();
                    for (int i = 0; i < repeats; i++) OURS();
                    if (r >= 0) ours = fmin(ours, (now() - t) / repeats);
                    t = now();
                    for (int i = 0; i < repeats; i++) CHECK(dnnl_primitive_execute(d.primitive, stream, 3, d.args));
                    CHECK(dnnl_stream_wait(stream));
                    if (r >= 0) theirs = fmin(theirs, (now() - t) / repeats);
                }
                int tiles = n * ((size + 3) / 4) * ((size + 3) / 4);
                printf("| %s | %d | %d×%d | %d | %d | %.3f | %.3f | %.2f | %.1e |\n", pass_names[pass], c, size, size, n,
                       tiles, ours * 1e3, theirs * 1e3, theirs / ours, diff / largest);
                fflush(stdout);
                for (int i = 0; i < 3; i++) dnnl_memory_destroy(d.memories[i]);
                dnnl_primitive_destroy(d.primitive);
                free(x), free(y), free(nchw), free(dyNchw), free(w), free(dw), free(u), free(scratch);
            }
        }
    }
    return 0;
}
