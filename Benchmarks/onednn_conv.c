// oneDNN (Debian libdnnl-dev 2.6.3, C API) fp32 convolutions of our models' layer shapes: forward
// (training), backward-weights (+ bias) and backward-data, timed per layer beside our im2col +
// OpenBLAS `Conv2d` (Benchmarks/onednn_compare.sh alternates this with `localsgd bench --layers`).
//
//   cc -O2 -fopenmp Benchmarks/onednn_conv.c -ldnnl -lm -lpthread -o /tmp/onednn_conv
//   onednn_conv [--models resnet20,cnn] [--batch 32] [--threads 1] [--repeats 10] [--layout cnhw|nchw]
//   onednn_conv --check          forward, backward-data and backward-weights against naive loops
//   onednn_conv --determinism    bits of 1-thread against 2-thread results, run against run, and
//                                4 image groups on one thread each, in turn against on 2 threads
//
// Three ways of running each layer, all timed as forward + backward-weights (+ bias) + backward-data
// (backward-data skipped for a first layer, as ours does), ms per layer, median of --repeats:
//   any    every primitive on memory in the format it prefers (format_tag::any); no reorders.
//          The compute alone: what a network kept in oneDNN's blocked layouts end to end would pay.
//   plain  our tensors ([C, N, H, W] activations, or NCHW with --layout nchw; OIHW weights) at the
//          boundary, every reorder a drop-in replacement of Conv2d would pay counted: x, W, dy in,
//          y, dx out, dW and db added into the plain gradients (a reorder with a sum post-op).
//   direct the primitives created on plain NCHW / OIHW themselves (oneDNN 2.6.3 runs its im2col +
//          GEMM `gemm:jit` there). On our [C, N, H, W] it has only reference loops (`ref:any`,
//          200–1000× slower), so direct always uses NCHW.
// One JSON object per distinct layer shape on stdout, with the layers of that shape and the
// implementations oneDNN chose. Wall time (CLOCK_MONOTONIC) and process CPU time both.
//
// Threads: Debian builds oneDNN with the OpenMP runtime (DNNL_CPU_RUNTIME = OMP, libgomp), so the
// thread count is omp_set_num_threads(), read when a primitive is created.
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <oneapi/dnnl/dnnl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(call)                                                                         \
    do {                                                                                    \
        dnnl_status_t s_ = (call);                                                          \
        if (s_ != dnnl_success) {                                                           \
            fprintf(stderr, "onednn_conv: %s failed (status %d) at line %d\n", #call, s_, __LINE__); \
            exit(2);                                                                        \
        }                                                                                   \
    } while (0)

// One convolution layer of our models (input 1×28×28 as `localsgd bench` uses), named as ours.
typedef struct {
    const char *name;
    int cin, cout, h, w, k, stride, pad, bias, dx;
} Layer;

// resnet20 with projection shortcuts (bench's default, --shortcut b): conv3×3 no bias; the first
// layer computes no input gradient.
static int resnet20_layers(Layer *out) {
    int n = 0;
    out[n++] = (Layer){"conv1", 1, 16, 28, 28, 3, 1, 1, 0, 0};
    static char names[64][40];
    int cin = 16, h = 28, stages[3] = {16, 32, 64};
    for (int s = 0; s < 3; s++) {
        for (int b = 0; b < 3; b++) {
            int stride = (b == 0 && s > 0) ? 2 : 1, cout = stages[s];
            snprintf(names[n], 40, "layer%d.%d.conv1", s + 1, b);
            out[n] = (Layer){names[n], cin, cout, h, h, 3, stride, 1, 0, 1}; n++;
            int oh = (h + 2 - 3) / stride + 1;
            snprintf(names[n], 40, "layer%d.%d.conv2", s + 1, b);
            out[n] = (Layer){names[n], cout, cout, oh, oh, 3, 1, 1, 0, 1}; n++;
            if (stride != 1 || cin != cout) {
                snprintf(names[n], 40, "layer%d.%d.downsample.0", s + 1, b);
                out[n] = (Layer){names[n], cin, cout, h, h, 1, stride, 0, 0, 1}; n++;
            }
            cin = cout; h = oh;
        }
    }
    return n;
}

// cnn: conv3×3 with bias, 1→32 on 28×28, then 32→64 on 14×14.
static int cnn_layers(Layer *out) {
    out[0] = (Layer){"conv1", 1, 32, 28, 28, 3, 1, 1, 1, 0};
    out[1] = (Layer){"conv2", 32, 64, 14, 14, 3, 1, 1, 1, 1};
    return 2;
}

static int out_size(const Layer *l) { return (l->h + 2 * l->pad - l->k) / l->stride + 1; }

static double flops(const Layer *l, int n) {
    int o = out_size(l);
    return 2.0 * n * l->cout * o * o * l->cin * l->k * l->k * (l->dx ? 3 : 2);
}

static double now(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, n, sizeof *v, compare_doubles);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static unsigned long long rng_state = 88172645463325252ULL;
static float uniform(void) {  // xorshift64, in [-1, 1)
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) * (1.0 / (1 << 23)) - 1.0);
}

static dnnl_engine_t engine;
static dnnl_stream_t stream;
static dnnl_format_tag_t activation_tag = dnnl_bacd;  // [C, N, H, W]: our Tensor's layout

// ---- memories and primitives -------------------------------------------------------------

static dnnl_memory_desc_t md_tag(int nd, const dnnl_dims_t dims, dnnl_format_tag_t tag) {
    dnnl_memory_desc_t md;
    CHECK(dnnl_memory_desc_init_by_tag(&md, nd, dims, dnnl_f32, tag));
    return md;
}

static dnnl_memory_t memory(const dnnl_memory_desc_t *md) {
    dnnl_memory_t m;
    CHECK(dnnl_memory_create(&m, md, engine, DNNL_MEMORY_ALLOCATE));
    return m;
}

static float *data(dnnl_memory_t m) {
    void *p;
    CHECK(dnnl_memory_get_data_handle(m, &p));
    return p;
}

static size_t count(dnnl_memory_t m) {
    const dnnl_memory_desc_t *md;
    CHECK(dnnl_memory_get_memory_desc(m, &md));
    return dnnl_memory_desc_get_size(md) / sizeof(float);
}

static void fill_random(dnnl_memory_t m) {
    float *p = data(m);
    for (size_t i = 0, n = count(m); i < n; i++) p[i] = uniform();
}

static const dnnl_memory_desc_t *query_md(const_dnnl_primitive_desc_t pd, dnnl_query_t what) {
    return dnnl_primitive_desc_query_md(pd, what, 0);
}

static const char *impl(const_dnnl_primitive_desc_t pd) {
    const char *s = "?";
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &s);
    return s;
}

static void run(dnnl_primitive_t p, int nargs, const dnnl_exec_arg_t *args) {
    CHECK(dnnl_primitive_execute(p, stream, nargs, args));
}

// A reorder from one layout to another; with `accumulate`, it adds into the destination (sum post-op).
typedef struct { dnnl_primitive_t p; dnnl_memory_t from, to; } Reorder;

static Reorder reorder(dnnl_memory_t from, dnnl_memory_t to, int accumulate) {
    const dnnl_memory_desc_t *a, *b;
    CHECK(dnnl_memory_get_memory_desc(from, &a));
    CHECK(dnnl_memory_get_memory_desc(to, &b));
    dnnl_primitive_attr_t attr = NULL;
    if (accumulate) {
        dnnl_post_ops_t ops;
        CHECK(dnnl_post_ops_create(&ops));
        CHECK(dnnl_post_ops_append_sum(ops, 1.0f));
        CHECK(dnnl_primitive_attr_create(&attr));
        CHECK(dnnl_primitive_attr_set_post_ops(attr, ops));
        dnnl_post_ops_destroy(ops);
    }
    dnnl_primitive_desc_t pd;
    CHECK(dnnl_reorder_primitive_desc_create(&pd, a, engine, b, engine, attr));
    Reorder r = {NULL, from, to};
    CHECK(dnnl_primitive_create(&r.p, pd));
    dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return r;
}

static void run_reorder(Reorder r) {
    if (!r.p) return;
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, r.from}, {DNNL_ARG_TO, r.to}};
    run(r.p, 2, args);
}

// The memory a primitive wants for `want`: `plain` itself when the layouts agree (no reorder), or
// a new memory and a reorder from (into, when `out`) `plain`.
static dnnl_memory_t adapt(dnnl_memory_t plain, const dnnl_memory_desc_t *want, int out, int accumulate, Reorder *r) {
    const dnnl_memory_desc_t *have;
    CHECK(dnnl_memory_get_memory_desc(plain, &have));
    r->p = NULL;
    if (dnnl_memory_desc_equal(have, want) && !accumulate) return plain;
    dnnl_memory_t m = memory(want);
    *r = out ? reorder(m, plain, accumulate) : reorder(plain, m, 0);
    return m;
}

// `plain` when a primitive wants its layout, else a memory of the layout it wants (filled with
// random values: ANY never converts between the two).
static dnnl_memory_t own(dnnl_memory_t plain, const dnnl_memory_desc_t *want) {
    const dnnl_memory_desc_t *have;
    CHECK(dnnl_memory_get_memory_desc(plain, &have));
    if (dnnl_memory_desc_equal(have, want)) return plain;
    dnnl_memory_t m = memory(want);
    fill_random(m);
    return m;
}

// ---- one layer in one mode ------------------------------------------------------------------

enum Mode { ANY, PLAIN, DIRECT };

typedef struct {
    dnnl_primitive_t fwd, bww, bwd;
    dnnl_memory_t x, w, b, y, dy, dw, db, dx;         // plain memories (the user's)
    dnnl_memory_t fx, fw, fy, wx, wdy, wdw, wdb, ddy, dw_d, ddx;  // what the primitives run on
    Reorder r[10];
    dnnl_format_tag_t tag;                           // layout of the plain activations
    char impls[256];
} Conv;

static void conv_descs(const Layer *l, int n, dnnl_memory_desc_t *x, dnnl_memory_desc_t *w, dnnl_memory_desc_t *b,
                       dnnl_memory_desc_t *y, dnnl_format_tag_t act, dnnl_format_tag_t wei) {
    int o = out_size(l);
    dnnl_dims_t xd = {n, l->cin, l->h, l->w}, wd = {l->cout, l->cin, l->k, l->k}, yd = {n, l->cout, o, o},
                bd = {l->cout};
    *x = md_tag(4, xd, act);
    *w = md_tag(4, wd, wei);
    *y = md_tag(4, yd, act);
    *b = md_tag(1, bd, dnnl_a);
}

static Conv make_conv(const Layer *l, int n, enum Mode mode) {
    Conv c;
    memset(&c, 0, sizeof c);
    dnnl_memory_desc_t x, w, b, y;
    // DIRECT runs on NCHW: on our [C, N, H, W] oneDNN 2.6.3 has only its reference loops (`ref:any`,
    // 200–1000× slower), so that is not worth timing. PLAIN and ANY let each primitive choose.
    c.tag = mode == DIRECT ? dnnl_nchw : activation_tag;
    dnnl_format_tag_t act = mode == DIRECT ? dnnl_nchw : dnnl_format_tag_any,
                      wei = mode == DIRECT ? dnnl_oihw : dnnl_format_tag_any;
    conv_descs(l, n, &x, &w, &b, &y, act, wei);
    dnnl_dims_t strides = {l->stride, l->stride}, pad = {l->pad, l->pad};
    dnnl_convolution_desc_t fd, wd, dd;
    CHECK(dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct, &x, &w,
                                             l->bias ? &b : NULL, &y, strides, pad, pad));
    CHECK(dnnl_convolution_backward_weights_desc_init(&wd, dnnl_convolution_direct, &x, &w, l->bias ? &b : NULL, &y,
                                                      strides, pad, pad));
    CHECK(dnnl_convolution_backward_data_desc_init(&dd, dnnl_convolution_direct, &x, &w, &y, strides, pad, pad));
    dnnl_primitive_desc_t fpd, wpd, dpd = NULL;
    CHECK(dnnl_primitive_desc_create(&fpd, &fd, NULL, engine, NULL));
    CHECK(dnnl_primitive_desc_create(&wpd, &wd, NULL, engine, fpd));
    if (l->dx) CHECK(dnnl_primitive_desc_create(&dpd, &dd, NULL, engine, fpd));
    CHECK(dnnl_primitive_create(&c.fwd, fpd));
    CHECK(dnnl_primitive_create(&c.bww, wpd));
    if (l->dx) CHECK(dnnl_primitive_create(&c.bwd, dpd));
    snprintf(c.impls, sizeof c.impls, "%s / %s / %s", impl(fpd), impl(wpd), l->dx ? impl(dpd) : "-");

    // The user's memories: plain layouts (ANY: the forward's formats, so no reorder ever happens).
    dnnl_memory_desc_t px, pw, pb, py;
    conv_descs(l, n, &px, &pw, &pb, &py, c.tag, dnnl_oihw);
    if (mode == ANY) {
        px = *query_md(fpd, dnnl_query_src_md); pw = *query_md(fpd, dnnl_query_weights_md);
        py = *query_md(fpd, dnnl_query_dst_md);
    }
    c.x = memory(&px); c.w = memory(&pw); c.y = memory(&py); c.dy = memory(&py);
    c.dw = memory(&pw); c.dx = memory(&px);
    if (l->bias) { c.b = memory(&pb); c.db = memory(&pb); fill_random(c.b); }
    fill_random(c.x); fill_random(c.w); fill_random(c.dy);
    memset(data(c.dw), 0, count(c.dw) * sizeof(float));
    if (l->bias) memset(data(c.db), 0, count(c.db) * sizeof(float));

    if (mode == ANY) {
        // Each primitive on memories of its own formats; no reorders are run (nor counted).
        c.fx = c.x; c.fw = c.w; c.fy = c.y;
        c.wx = own(c.x, query_md(wpd, dnnl_query_src_md));
        c.wdy = own(c.dy, query_md(wpd, dnnl_query_diff_dst_md));
        c.wdw = own(c.dw, query_md(wpd, dnnl_query_diff_weights_md));
        c.wdb = c.db;
        if (l->dx) {
            c.ddy = own(c.dy, query_md(dpd, dnnl_query_diff_dst_md));
            c.dw_d = own(c.w, query_md(dpd, dnnl_query_weights_md));
            c.ddx = own(c.dx, query_md(dpd, dnnl_query_diff_src_md));
        }
    } else {
        // Forward: x, W in; y out. Backward-weights: x (the forward's copy when the formats agree),
        // dy in; dW, db added into the plain gradients. Backward-data: dy (ditto), W in; dx out.
        int k = 0;
        c.fx = adapt(c.x, query_md(fpd, dnnl_query_src_md), 0, 0, &c.r[k++]);
        c.fw = adapt(c.w, query_md(fpd, dnnl_query_weights_md), 0, 0, &c.r[k++]);
        c.fy = adapt(c.y, query_md(fpd, dnnl_query_dst_md), 1, 0, &c.r[k++]);
        const dnnl_memory_desc_t *fxmd;
        CHECK(dnnl_memory_get_memory_desc(c.fx, &fxmd));
        if (dnnl_memory_desc_equal(fxmd, query_md(wpd, dnnl_query_src_md))) { c.wx = c.fx; c.r[k++].p = NULL; }
        else c.wx = adapt(c.x, query_md(wpd, dnnl_query_src_md), 0, 0, &c.r[k++]);
        c.wdy = adapt(c.dy, query_md(wpd, dnnl_query_diff_dst_md), 0, 0, &c.r[k++]);
        // Backward adds into the gradients, as ours: the dW reorder sums (or, without any
        // reorder, the primitive writes into a scratch copy that is summed in).
        c.wdw = adapt(c.dw, query_md(wpd, dnnl_query_diff_weights_md), 1, 1, &c.r[k++]);
        if (l->bias) c.wdb = adapt(c.db, dnnl_primitive_desc_query_md(wpd, dnnl_query_diff_weights_md, 1), 1, 1, &c.r[k++]);
        else c.r[k++].p = NULL;
        if (l->dx) {
            const dnnl_memory_desc_t *wdymd;
            CHECK(dnnl_memory_get_memory_desc(c.wdy, &wdymd));
            if (dnnl_memory_desc_equal(wdymd, query_md(dpd, dnnl_query_diff_dst_md))) { c.ddy = c.wdy; c.r[k++].p = NULL; }
            else c.ddy = adapt(c.dy, query_md(dpd, dnnl_query_diff_dst_md), 0, 0, &c.r[k++]);
            c.dw_d = adapt(c.w, query_md(dpd, dnnl_query_weights_md), 0, 0, &c.r[k++]);
            c.ddx = adapt(c.dx, query_md(dpd, dnnl_query_diff_src_md), 1, 0, &c.r[k++]);
        }
    }
    dnnl_primitive_desc_destroy(fpd);
    dnnl_primitive_desc_destroy(wpd);
    if (dpd) dnnl_primitive_desc_destroy(dpd);
    return c;
}

// Reorder slots of PLAIN: 0 x→fx, 1 W→fw, 2 fy→y, 3 x→wx, 4 dy→wdy, 5 wdw+→dW, 6 wdb+→db,
// 7 dy→ddy, 8 W→dw_d, 9 ddx→dx.
static void run_layer(Conv *c, const Layer *l) {
    run_reorder(c->r[0]); run_reorder(c->r[1]);
    {
        dnnl_exec_arg_t a[4] = {{DNNL_ARG_SRC, c->fx}, {DNNL_ARG_WEIGHTS, c->fw}, {DNNL_ARG_DST, c->fy},
                                {DNNL_ARG_BIAS, c->b}};
        run(c->fwd, l->bias ? 4 : 3, a);
    }
    run_reorder(c->r[2]);
    run_reorder(c->r[3]); run_reorder(c->r[4]);
    {
        dnnl_exec_arg_t a[4] = {{DNNL_ARG_SRC, c->wx}, {DNNL_ARG_DIFF_DST, c->wdy}, {DNNL_ARG_DIFF_WEIGHTS, c->wdw},
                                {DNNL_ARG_DIFF_BIAS, c->wdb}};
        run(c->bww, l->bias ? 4 : 3, a);
    }
    run_reorder(c->r[5]); run_reorder(c->r[6]);
    if (l->dx) {
        run_reorder(c->r[7]); run_reorder(c->r[8]);
        dnnl_exec_arg_t a[3] = {{DNNL_ARG_DIFF_DST, c->ddy}, {DNNL_ARG_WEIGHTS, c->dw_d}, {DNNL_ARG_DIFF_SRC, c->ddx}};
        run(c->bwd, 3, a);
        run_reorder(c->r[9]);
    }
    CHECK(dnnl_stream_wait(stream));
}

static void time_layer(const Layer *l, int n, enum Mode mode, int repeats, double *wall_ms, double *cpu_ms,
                       char *impls, size_t impls_size) {
    Conv c = make_conv(l, n, mode);
    snprintf(impls, impls_size, "%s", c.impls);
    double wall[1000], cpu[1000];
    run_layer(&c, l);  // warm-up: first touches of the memories and the scratchpad
    for (int i = 0; i < repeats; i++) {
        double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
        run_layer(&c, l);
        cpu[i] = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
        wall[i] = now(CLOCK_MONOTONIC) - w0;
    }
    *wall_ms = 1e3 * median(wall, repeats);
    *cpu_ms = 1e3 * median(cpu, repeats);
    // Primitives and memories are leaked on purpose: a benchmark process of a few hundred MB.
}

// ---- naive reference (plain NCHW-indexed through strides) -------------------------------------

// Element (n, c, h, w) of a plain [C, N, H, W] or NCHW buffer.
static dnnl_format_tag_t checked_tag;
static size_t at(int n, int c, int h, int w, int N, int C, int H, int W) {
    return checked_tag == dnnl_bacd ? (((size_t)c * N + n) * H + h) * W + w : (((size_t)n * C + c) * H + h) * W + w;
}

static double check_layer(const Layer *l, int N, enum Mode mode, double *err_fwd, double *err_dw, double *err_dx) {
    // ANY runs the primitives of PLAIN without its boundary reorders, so checking PLAIN and DIRECT covers all.
    Conv c = make_conv(l, N, mode);
    checked_tag = c.tag;
    run_layer(&c, l);
    int O = out_size(l), K = l->k;
    const float *x = data(c.x), *w = data(c.w), *y = data(c.y), *dy = data(c.dy), *dw = data(c.dw), *dx = data(c.dx);
    const float *b = l->bias ? data(c.b) : NULL, *db = l->bias ? data(c.db) : NULL;
    double ef = 0, ew = 0, ed = 0, scale = 0;
    double *dxr = calloc((size_t)N * l->cin * l->h * l->w, sizeof(double));
    for (int o = 0; o < l->cout; o++) {
        double bsum = 0;
        for (int n = 0; n < N; n++) for (int i = 0; i < O; i++) for (int j = 0; j < O; j++)
            bsum += dy[at(n, o, i, j, N, l->cout, O, O)];
        if (b) ew = fmax(ew, fabs(bsum - db[o]));
        for (int ci = 0; ci < l->cin; ci++) for (int p = 0; p < K; p++) for (int q = 0; q < K; q++) {
            double g = 0;
            for (int n = 0; n < N; n++) for (int i = 0; i < O; i++) for (int j = 0; j < O; j++) {
                int hi = i * l->stride - l->pad + p, wi = j * l->stride - l->pad + q;
                if (hi < 0 || hi >= l->h || wi < 0 || wi >= l->w) continue;
                double d = dy[at(n, o, i, j, N, l->cout, O, O)];
                g += x[at(n, ci, hi, wi, N, l->cin, l->h, l->w)] * d;
                dxr[at(n, ci, hi, wi, N, l->cin, l->h, l->w)] += w[((o * l->cin + ci) * K + p) * K + q] * d;
            }
            ew = fmax(ew, fabs(g - dw[((o * l->cin + ci) * K + p) * K + q]));
        }
    }
    for (int n = 0; n < N; n++) for (int o = 0; o < l->cout; o++) for (int i = 0; i < O; i++) for (int j = 0; j < O; j++) {
        double s = b ? b[o] : 0;
        for (int ci = 0; ci < l->cin; ci++) for (int p = 0; p < K; p++) for (int q = 0; q < K; q++) {
            int hi = i * l->stride - l->pad + p, wi = j * l->stride - l->pad + q;
            if (hi < 0 || hi >= l->h || wi < 0 || wi >= l->w) continue;
            s += x[at(n, ci, hi, wi, N, l->cin, l->h, l->w)] * w[((o * l->cin + ci) * K + p) * K + q];
        }
        ef = fmax(ef, fabs(s - y[at(n, o, i, j, N, l->cout, O, O)]));
        scale = fmax(scale, fabs(s));
    }
    if (l->dx) for (size_t i = 0, m = (size_t)N * l->cin * l->h * l->w; i < m; i++) ed = fmax(ed, fabs(dxr[i] - dx[i]));
    free(dxr);
    *err_fwd = ef; *err_dw = ew; *err_dx = ed;
    return scale;
}

// ---- determinism: 1 thread against 2, and a run against itself ----------------------------------

typedef struct { size_t differ, total; double max_abs; } Diff;

static Diff diff(dnnl_memory_t a, dnnl_memory_t b) {
    Diff d = {0, count(a), 0};
    const float *p = data(a), *q = data(b);
    for (size_t i = 0; i < d.total; i++) {
        if (memcmp(p + i, q + i, sizeof(float))) d.differ++;
        d.max_abs = fmax(d.max_abs, fabs((double)p[i] - q[i]));
    }
    return d;
}

// Runs the layer (PLAIN, same random data: the generator is reseeded) with `threads` threads.
static Conv run_with_threads(const Layer *l, int n, int threads) {
    omp_set_num_threads(threads);
    rng_state = 88172645463325252ULL;
    Conv c = make_conv(l, n, PLAIN);
    run_layer(&c, l);
    return c;
}

static void print_diff(const char *what, Diff d) {
    printf("  %-3s %9zu of %9zu differ, max |Δ| %.3g;", what, d.differ, d.total, d.max_abs);
}

// The integration that would keep results independent of the thread count: the batch in 4 fixed
// groups of images, as our Conv2d splits it, each run by oneDNN on one thread. Here the 4 groups run
// one after the other, then on 2 threads at once (groups 0, 2 and 1, 3); their outputs must agree bitwise.
typedef struct { Conv *c; const Layer *l; int first; } GroupJob;

static void *run_groups(void *arg) {
    GroupJob *j = arg;
    omp_set_num_threads(1);  // an OpenMP setting of each thread: a new pthread would get all cores
    for (int g = j->first; g < 4; g += 2) run_layer(&j->c[g], j->l);
    return NULL;
}

static void groups_on_threads(const Layer *l, int n) {
    Conv c[4];
    float *saved[4][3];
    omp_set_num_threads(1);
    for (int g = 0; g < 4; g++) {
        c[g] = make_conv(l, n / 4, PLAIN);
        run_layer(&c[g], l);
        dnnl_memory_t out[3] = {c[g].y, c[g].dw, c[g].dx};
        for (int k = 0; k < 3; k++) {
            saved[g][k] = malloc(count(out[k]) * sizeof(float));
            memcpy(saved[g][k], data(out[k]), count(out[k]) * sizeof(float));
        }
        memset(data(c[g].dw), 0, count(c[g].dw) * sizeof(float));  // backward adds into dW
    }
    pthread_t t[2];
    GroupJob jobs[2] = {{c, l, 0}, {c, l, 1}};
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, run_groups, &jobs[i]);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    size_t differ = 0, total = 0;
    for (int g = 0; g < 4; g++) {
        dnnl_memory_t out[3] = {c[g].y, c[g].dw, c[g].dx};
        for (int k = 0; k < 3; k++) {
            for (size_t i = 0, m = count(out[k]); i < m; i++) differ += memcmp(saved[g][k] + i, data(out[k]) + i, 4) != 0;
            total += count(out[k]);
            free(saved[g][k]);
        }
    }
    printf("  4 groups of %d, 1 oneDNN thread each, in turn vs on 2 threads: %zu of %zu values differ\n", n / 4,
           differ, total);
}

static void determinism(const Layer *layers, int count_, int n) {
    // No primitive cache: each run creates its primitives for the thread count it has.
    CHECK(dnnl_set_primitive_cache_capacity(0));
    for (int i = 0; i < count_; i++) {
        const Layer *l = &layers[i];
        Conv a = run_with_threads(l, n, 1), a2 = run_with_threads(l, n, 1), b = run_with_threads(l, n, 2),
             b2 = run_with_threads(l, n, 2);
        printf("%-24s %2d→%-2d k%d s%d %2dx%-2d batch %d\n  1t vs 1t:", l->name, l->cin, l->cout, l->k, l->stride,
               l->h, l->w, n);
        print_diff("y", diff(a.y, a2.y)); print_diff("dW", diff(a.dw, a2.dw));
        if (l->dx) print_diff("dx", diff(a.dx, a2.dx));
        printf("\n  2t vs 2t:");
        print_diff("y", diff(b.y, b2.y)); print_diff("dW", diff(b.dw, b2.dw));
        if (l->dx) print_diff("dx", diff(b.dx, b2.dx));
        printf("\n  1t vs 2t:");
        print_diff("y", diff(a.y, b.y)); print_diff("dW", diff(a.dw, b.dw));
        if (l->dx) print_diff("dx", diff(a.dx, b.dx));
        printf("\n  impl 1t: %s\n  impl 2t: %s\n", a.impls, b.impls);
        if (n % 4 == 0) groups_on_threads(l, n);
        fflush(stdout);
    }
}

// ---- main --------------------------------------------------------------------------------------

int main(int argc, char **argv) {
    const char *models = "resnet20,cnn";
    int batch = 32, threads = 1, repeats = 10, check = 0, det = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--models") && i + 1 < argc) models = argv[++i];
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--repeats") && i + 1 < argc) repeats = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--layout") && i + 1 < argc) {
            const char *s = argv[++i];
            if (!strcmp(s, "cnhw")) activation_tag = dnnl_bacd;
            else if (!strcmp(s, "nchw")) activation_tag = dnnl_nchw;
            else { fprintf(stderr, "onednn_conv: --layout is cnhw (ours) or nchw, got '%s'\n", s); return 1; }
        }
        else if (!strcmp(argv[i], "--check")) check = 1;
        else if (!strcmp(argv[i], "--determinism")) det = 1;
        else {
            fprintf(stderr, "usage: onednn_conv [--models resnet20,cnn] [--batch N] [--threads T] [--repeats R] "
                            "[--layout cnhw|nchw] [--check | --determinism]\n");
            return 1;
        }
    }
    if (batch < 1 || threads < 1 || repeats < 1 || repeats > 1000) {
        fprintf(stderr, "onednn_conv: --batch and --threads must be at least 1, --repeats 1 to 1000\n");
        return 1;
    }
    omp_set_num_threads(threads);
    CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    const dnnl_version_t *v = dnnl_version();

    char list[256];
    snprintf(list, sizeof list, "%s", models);
    for (char *model = strtok(list, ","); model; model = strtok(NULL, ",")) {
        Layer layers[64];
        int nl;
        if (!strcmp(model, "resnet20")) nl = resnet20_layers(layers);
        else if (!strcmp(model, "cnn")) nl = cnn_layers(layers);
        else { fprintf(stderr, "onednn_conv: unknown model '%s' (resnet20, cnn)\n", model); return 1; }
        if (det) { determinism(layers, nl, batch); continue; }
        if (check) {
            for (int i = 0; i < nl; i++) for (int m = PLAIN; m <= DIRECT; m++) {
                double ef, ew, ed, scale = check_layer(&layers[i], 2, m, &ef, &ew, &ed);
                printf("check %-8s %-22s %-6s batch 2: max |y − naive| %.2e (|y| ≤ %4.1f), |dW − naive| %.2e, "
                       "|dx − naive| %.2e\n", model, layers[i].name, m == PLAIN ? "plain" : "direct", ef, scale, ew, ed);
            }
            continue;
        }
        // One object per distinct shape (the later layers of a shape reuse its times).
        for (int i = 0; i < nl; i++) {
            const Layer *l = &layers[i];
            int seen = 0;
            for (int j = 0; j < i; j++)
                seen |= !memcmp(&layers[j].cin, &l->cin, sizeof *l - offsetof(Layer, cin));
            if (seen) continue;
            char names[1024] = "";
            for (int j = i; j < nl; j++)
                if (!memcmp(&layers[j].cin, &l->cin, sizeof *l - offsetof(Layer, cin)))
                    snprintf(names + strlen(names), sizeof names - strlen(names), "%s\"%s\"", *names ? "," : "",
                             layers[j].name);
            double t[3][2];
            char impls[3][256];
            for (int m = 0; m < 3; m++) time_layer(l, batch, m, repeats, &t[m][0], &t[m][1], impls[m], sizeof impls[m]);
            printf("{\"model\":\"%s\",\"batch\":%d,\"threads\":%d,\"layers\":[%s],"
                   "\"shape\":\"%d→%d k%d s%d %dx%d%s\",\"flops\":%.0f,"
                   "\"any_ms\":%.4f,\"any_cpu_ms\":%.4f,\"plain_ms\":%.4f,\"plain_cpu_ms\":%.4f,"
                   "\"direct_ms\":%.4f,\"direct_cpu_ms\":%.4f,"
                   "\"impl_any\":\"%s\",\"impl_plain\":\"%s\",\"impl_direct\":\"%s\",\"onednn\":\"%d.%d.%d\","
                   "\"layout\":\"%s\"}\n",
                   model, batch, threads, names, l->cin, l->cout, l->k, l->stride, l->h, l->w, l->bias ? " +b" : "",
                   flops(l, batch), t[0][0], t[0][1], t[1][0], t[1][1], t[2][0], t[2][1], impls[0], impls[1], impls[2],
                   v->major, v->minor, v->patch, activation_tag == dnnl_bacd ? "cnhw" : "nchw");
            fflush(stdout);
        }
    }
    return 0;
}
