/* The peak of libcnn's own microkernel (lib/kernels/ukr.h): its largest
 * register tile on operands that stay in L1, repeated, on `threads`
 * threads at once.  Beside the sgemm peak (peak.c) it is the other ceiling
 * the "%peak" column may use: the report takes the better of the two.
 *
 * The microkernel sources are compiled into cnn-bench itself (they are
 * internal to the library); the path is the one the library reports with
 * cnn_isa(), so both run the same instructions. */
#include "bench.h"

#include "kernels/kernels.h"
#include "kernels/ukr.h"

#include <pthread.h>
#include <stdlib.h>

/* The microkernel sources ask which path is active; the library decides. */
int cnn_k_isa(void)
{
    return cnn_isa();
}

#define UKR_STEPS 256 /* B rows per call: 256 x (nv x lanes) floats, in L1 */
#define UKR_CALLS 4000

typedef struct ukr_worker {
    pthread_t thread;
    const cnn_k_ukr_set *set;
    int mr, nv;
} ukr_worker;

static void *ukr_loop(void *arg)
{
    const ukr_worker *w = arg;
    const int lanes = w->set->lanes;
    float *a = calloc((size_t)UKR_STEPS * CNN_K_UKR_MAX_MR, sizeof *a);
    float *b = calloc((size_t)UKR_STEPS * CNN_K_UKR_MAX_NV * CNN_K_UKR_MAX_LANES, sizeof *b);
    float t[CNN_K_UKR_TILE_FLOATS] = {0};
    if (!a || !b) {
        free(a);
        free(b);
        return NULL;
    }
    for (int i = 0; i < UKR_STEPS * CNN_K_UKR_MAX_MR; i++)
        a[i] = 1e-3f * (float)(i % 7);
    const cnn_k_ukr_job job = {.a = a, .a_row = 1, .n1 = 1, .n2 = 1, .n3 = UKR_STEPS,
                               .a3 = CNN_K_UKR_MAX_MR, .b = b, .ldb = w->nv * lanes,
                               .t = t, .ldt = w->nv * lanes, .overwrite = 1};
    for (int c = 0; c < UKR_CALLS; c++)
        w->set->fn[w->nv][w->mr](&job);
    free(a);
    free(b);
    return NULL;
}

void bench_measure_ukr_peak(int threads, int reps, bench_peak *out)
{
    const cnn_k_ukr_set *set = cnn_k_ukr_active();
    /* The tile with the most accumulators, and of those the widest (fewer
     * broadcasts per multiply-add): the best ratio of arithmetic to loads. */
    int best_nv = 1;
    for (int nv = 1; nv <= CNN_K_UKR_MAX_NV; nv++)
        if (nv * set->max_mr[nv] >= best_nv * set->max_mr[best_nv])
            best_nv = nv;
    ukr_worker w[BENCH_MAX_LIST > 64 ? BENCH_MAX_LIST : 64];
    if (threads < 1)
        threads = 1;
    if (threads > (int)(sizeof w / sizeof w[0]))
        threads = (int)(sizeof w / sizeof w[0]);
    if (reps > BENCH_MAX_REPS)
        reps = BENCH_MAX_REPS;
    double g[BENCH_MAX_REPS];
    const double flop = 2.0 * set->max_mr[best_nv] * best_nv * set->lanes * UKR_STEPS *
                        (double)UKR_CALLS * threads;
    for (int r = 0; r <= reps; r++) { /* rep 0 is a warm-up */
        double t0 = bench_now();
        int started = 0;
        for (int i = 0; i < threads; i++) {
            w[i] = (ukr_worker){.set = set, .mr = set->max_mr[best_nv], .nv = best_nv};
            if (pthread_create(&w[i].thread, NULL, ukr_loop, &w[i]) != 0)
                break;
            started++;
        }
        for (int i = 0; i < started; i++)
            pthread_join(w[i].thread, NULL);
        if (r > 0)
            g[r - 1] = flop * started / threads / (bench_now() - t0) * 1e-9;
    }
    out->threads = threads;
    out->n = set->max_mr[best_nv] * 100 + best_nv; /* the tile, mr x nv */
    bench_median(g, reps);                          /* sorts: best is last */
    out->gflops = g[reps - 1];
}
