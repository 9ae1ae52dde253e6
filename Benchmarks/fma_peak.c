// FP32 FMA peak of one core: independent AVX-512 (or AVX2) FMA chains, no memory traffic.
// Build: clang -O2 -march=native Benchmarks/fma_peak.c -o /tmp/fma_peak; prints GFLOP/s of the best of 5 runs.
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(void) {
#if defined(__AVX512F__)
    typedef __m512 V;
    enum { LANES = 16 };
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#define ADD _mm512_add_ps
#define RED(v) _mm512_reduce_add_ps(v)
#else
    typedef __m256 V;
    enum { LANES = 8 };
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
#define ADD _mm256_add_ps
    float tmp[8];
#define RED(v) (_mm256_storeu_ps(tmp, v), tmp[0])
#endif
    // 12 independent accumulators cover 2 FMA ports × 4-cycle latency with room to spare.
    const long iterations = 50000000;
    double best = 0, sink = 0;
    for (int run = 0; run < 5; run++) {
        V a = SET1(0.999999f), b = SET1(1e-7f);
        V c0 = SET1(0), c1 = SET1(1), c2 = SET1(2), c3 = SET1(3), c4 = SET1(4), c5 = SET1(5);
        V c6 = SET1(6), c7 = SET1(7), c8 = SET1(8), c9 = SET1(9), c10 = SET1(10), c11 = SET1(11);
        double t0 = now();
        for (long i = 0; i < iterations; i++) {
            c0 = FMA(c0, a, b); c1 = FMA(c1, a, b); c2 = FMA(c2, a, b); c3 = FMA(c3, a, b);
            c4 = FMA(c4, a, b); c5 = FMA(c5, a, b); c6 = FMA(c6, a, b); c7 = FMA(c7, a, b);
            c8 = FMA(c8, a, b); c9 = FMA(c9, a, b); c10 = FMA(c10, a, b); c11 = FMA(c11, a, b);
            __asm__ volatile("" : "+v"(c0), "+v"(c1), "+v"(c2), "+v"(c3), "+v"(c4), "+v"(c5));
        }
        double t = now() - t0;
        V s = ADD(ADD(ADD(c0, c1), ADD(c2, c3)), ADD(ADD(c4, c5), ADD(c6, c7)));
        s = ADD(s, ADD(ADD(c8, c9), ADD(c10, c11)));
        sink += RED(s);
        double gflops = 2.0 * 12 * LANES * iterations / t / 1e9;
        if (gflops > best) best = gflops;
    }
    printf("%.1f\n", best);
    return sink == 42.0;  // keeps the result alive
}
