/* The machine's practical single-precision peak: a large square
 * cblas_sgemm timed with the BLAS the library itself links (chosen by the
 * same meson option), at a given BLAS thread count.  This is the ceiling
 * any GEMM-based convolution could reach, so "fraction of peak" says how
 * much of the time the networks spend outside large, efficient GEMMs. */
#include "bench.h"

/* BLIS's cblas.h carries static helpers this file never calls (as in
 * lib/kernels/gemm.c): silence only that warning, only for the header. */
#if defined(__GNUC__)
#  pragma GCC diagnostic push
#  pragma GCC diagnostic ignored "-Wunused-function"
#endif
#include <cblas.h>
#if defined(__GNUC__)
#  pragma GCC diagnostic pop
#endif
#include <stdlib.h>

#if defined(CNN_BLAS_BLIS)
/* As in lib/kernels/gemm.c: declared here instead of including blis.h. */
void bli_thread_set_num_threads(int64_t value);
int64_t bli_thread_get_num_threads(void);
static void set_threads(int t) { bli_thread_set_num_threads(t); }
static int get_threads(void) { return (int)bli_thread_get_num_threads(); }
const char *bench_blas_name(void) { return "blis"; }
#elif defined(CNN_BLAS_OPENBLAS)
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
static void set_threads(int t) { openblas_set_num_threads(t); }
static int get_threads(void) { return openblas_get_num_threads(); }
const char *bench_blas_name(void) { return "openblas"; }
#else
static void set_threads(int t) { (void)t; }
static int get_threads(void) { return 1; }
const char *bench_blas_name(void) { return "cblas"; }
#endif

void bench_measure_peak(int n, int threads, int reps, bench_peak *out)
{
    size_t nn = (size_t)n * (size_t)n;
    float *a = malloc(nn * sizeof *a), *b = malloc(nn * sizeof *b), *c = malloc(nn * sizeof *c);
    if (!a || !b || !c) {
        fprintf(stderr, "cnn-bench: out of memory for the %dx%d sgemm\n", n, n);
        exit(1);
    }
    /* Values in [-1, 1): no denormals, no overflow over n terms. */
    uint32_t s = 1;
    for (size_t i = 0; i < nn; i++) {
        s = s * 1664525u + 1013904223u;
        a[i] = (float)(s >> 8) / 8388608.0f - 1.0f;
        s = s * 1664525u + 1013904223u;
        b[i] = (float)(s >> 8) / 8388608.0f - 1.0f;
    }
    if (reps > BENCH_MAX_REPS)
        reps = BENCH_MAX_REPS;
    int saved = get_threads();
    set_threads(threads);
    double flop = 2.0 * (double)n * (double)n * (double)n, g[BENCH_MAX_REPS];
    /* One untimed call: thread pool start-up and page faults on c. */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    for (int r = 0; r < reps; r++) {
        double t0 = bench_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f,
                    c, n);
        g[r] = flop / (bench_now() - t0) * 1e-9;
    }
    set_threads(saved);
    out->threads = threads;
    out->n = n;
    /* Best, not median: on a shared machine noise only ever slows a call
     * down, and a ceiling should not be lowered by someone else's build. */
    bench_median(g, reps); /* sorts */
    out->gflops = g[reps - 1];
    free(a);
    free(b);
    free(c);
}
