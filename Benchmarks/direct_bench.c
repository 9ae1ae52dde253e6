// Our direct 3×3 first-layer kernels (Sources/CDirect) on one group of images, one thread:
// GFLOP/s of lsgd_direct_forward and lsgd_direct_weight_gradient, 400 calls a round, 5 rounds
// (take the best). Build and run from the repository root:
//   cc -O2 -ffp-contract=off -ISources/CDirect/include Benchmarks/direct_bench.c Sources/CDirect/direct.c \
//      -o /tmp/direct_bench && /tmp/direct_bench IN OUT IMAGES H W
// e.g. 1 32 8 28 28 (the cnn's conv1, a group of batch 32) or 3 16 8 32 32 (resnet20's, CIFAR).
#include "CDirect.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s IN OUT IMAGES H W (IN at most 4)\n", argv[0]);
        return 2;
    }
    int c = atoi(argv[1]), o = atoi(argv[2]), n = atoi(argv[3]), h = atoi(argv[4]), w = atoi(argv[5]);
    if (c < 1 || c > 4 || o < 1 || n < 1 || h < 1 || w < 1) {
        fprintf(stderr, "direct_bench: IN must be 1 to 4 and OUT, IMAGES, H, W positive\n");
        return 2;
    }
    if (!lsgd_direct_supported()) {
        fprintf(stderr, "direct_bench: this CPU has no AVX2 and FMA\n");
        return 1;
    }
    long plane = (long)n * h * w, calls = 400;
    float *x = malloc(sizeof(float) * c * plane), *y = malloc(sizeof(float) * o * plane);
    float *dy = malloc(sizeof(float) * o * plane), *wt = malloc(sizeof(float) * o * c * 9);
    float *bias = malloc(sizeof(float) * o), *dw = malloc(sizeof(float) * o * c * 9);
    float *work = malloc(sizeof(float) * lsgd_direct_work_floats(c, n, h, w));
    for (long i = 0; i < c * plane; i++) x[i] = rand() / (float)RAND_MAX;
    for (long i = 0; i < o * plane; i++) dy[i] = rand() / (float)RAND_MAX;
    for (int i = 0; i < o * c * 9; i++) wt[i] = 0.1f;
    for (int i = 0; i < o; i++) bias[i] = 0.1f;
    double flops = 2.0 * o * c * 9 * plane;
    for (int round = 0; round < 5; round++) {
        double t0 = now();
        for (long i = 0; i < calls; i++) lsgd_direct_forward(x, plane, c, n, h, w, wt, o, bias, y, plane, work);
        double t1 = now();
        for (long i = 0; i < calls; i++) lsgd_direct_weight_gradient(x, plane, dy, plane, c, n, h, w, o, dw, work);
        double t2 = now();
        printf("forward %.3f ms %.1f GFLOP/s   weight gradient %.3f ms %.1f GFLOP/s\n", (t1 - t0) / calls * 1e3,
               flops * calls / (t1 - t0) / 1e9, (t2 - t1) / calls * 1e3, flops * calls / (t2 - t1) / 1e9);
    }
    return 0;
}
