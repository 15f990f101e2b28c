/* Times one row: a fresh network, its thread count set, a warm-up (which
 * also makes the library size its workspace for this batch), then `reps`
 * repetitions of whole steps until each repetition's share of the budget
 * has passed.  Each repetition gives images/s; the row reports their
 * median, min and max, so one noisy slice of a shared machine does not
 * move the figure. */
#include "bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* User + system CPU time of the whole process: divided by wall time it shows
 * how many cores a row really kept busy (a "1 thread" row near 2.0 would
 * mean the BLAS ran its own threads behind the library's back). */
double bench_cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

long bench_max_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss; /* KiB on Linux */
}

/* The 1-minute load average, or -1 where /proc is missing: recorded at the
 * start and end of a run because on a shared 2-core machine someone else's
 * build is the biggest source of error, and the figures should say so. */
double bench_loadavg(void)
{
    double v = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void bench_die(const char *what, cnn_status st)
{
    fprintf(stderr, "cnn-bench: %s failed: %s (%s)\n", what, cnn_status_name(st),
            cnn_last_error());
    exit(1);
}

/* What one step needs.  Batches are built in the timed loop with
 * cnn_dataset_batch, as cnn_train does, walking the data set in order and
 * wrapping around: the byte-to-float copy is part of real training. */
typedef struct step_ctx {
    cnn_net *net;
    cnn_optimizer *opt;        /* NULL for inference */
    const cnn_dataset *ds;
    int64_t count, pos;
    int batch;
    cnn_tensor *x;
    int32_t *labels;           /* true labels (training) */
    int32_t *pred;             /* predicted labels (inference) */
    double cost;
} step_ctx;

static void step(step_ctx *c)
{
    if (c->pos + c->batch > c->count)
        c->pos = 0;
    cnn_status st = cnn_dataset_batch(c->ds, c->pos, c->batch, c->x, c->labels);
    if (st != CNN_OK)
        bench_die("cnn_dataset_batch", st);
    c->pos += c->batch;
    if (c->opt) {
        st = cnn_train_step(c->net, c->opt, c->x, c->labels, &c->cost);
        if (st != CNN_OK)
            bench_die("cnn_train_step", st);
    } else {
        st = cnn_net_predict(c->net, c->x, c->pred);
        if (st != CNN_OK)
            bench_die("cnn_net_predict", st);
    }
}

/* Runs whole steps until `seconds` have passed (at least `min_steps`);
 * returns images per wall second and stores images per CPU second (user +
 * system, every thread of the process) in *per_cpu.  On a shared machine the
 * wall figure drops when others take the core; for a 1-thread row the CPU
 * figure does not, so it is the steadier measure of the code itself. */
static double run_for(step_ctx *c, double seconds, int min_steps, double *per_cpu)
{
    double c0 = bench_cpu_seconds(), t0 = bench_now(), t;
    long steps = 0;
    do {
        step(c);
        steps++;
        t = bench_now();
    } while (t - t0 < seconds || steps < min_steps);
    double images = (double)steps * c->batch, cpu = bench_cpu_seconds() - c0;
    if (per_cpu)
        *per_cpu = cpu > 0 ? images / cpu : NAN;
    return images / (t - t0);
}

void bench_run_row(const bench_net_info *info, const cnn_dataset *ds, const bench_budget *b,
                   bench_row *row)
{
    step_ctx c;
    memset(&c, 0, sizeof c);
    c.ds = ds;
    c.count = cnn_dataset_count(ds);
    c.batch = row->batch;
    c.cost = NAN;
    if (c.batch > c.count) {
        fprintf(stderr, "cnn-bench: batch %d larger than the data set (%lld)\n", c.batch,
                (long long)c.count);
        exit(1);
    }

    /* Same seed for every row, so every row starts from the same weights. */
    c.net = bench_net_build(info, 12345);
    cnn_status st = cnn_net_set_threads(c.net, row->threads);
    if (st != CNN_OK)
        bench_die("cnn_net_set_threads", st);
    int train = strcmp(row->phase, "train") == 0;
    if (train) {
        cnn_sgd_params sp;
        cnn_sgd_params_init(&sp, info->eta);
        st = cnn_sgd_create(&sp, &c.opt);
        if (st != CNN_OK)
            bench_die("cnn_sgd_create", st);
    }
    int64_t shape[4] = {c.batch, 1, 28, 28};
    st = cnn_tensor_create(4, shape, &c.x);
    if (st != CNN_OK)
        bench_die("cnn_tensor_create", st);
    c.labels = malloc(sizeof(int32_t) * (size_t)c.batch);
    c.pred = malloc(sizeof(int32_t) * (size_t)c.batch);
    if (!c.labels || !c.pred) {
        fprintf(stderr, "cnn-bench: out of memory\n");
        exit(1);
    }

    run_for(&c, b->warmup, 3, NULL);

    double cpu0 = bench_cpu_seconds(), wall0 = bench_now(), per_cpu[BENCH_MAX_REPS];
    for (int r = 0; r < b->reps; r++)
        row->samples[r] = run_for(&c, b->seconds / b->reps, 1, &per_cpu[r]);
    row->cpu = (bench_cpu_seconds() - cpu0) / (bench_now() - wall0);
    row->reps = b->reps;
    row->cpu_median = bench_median(per_cpu, b->reps);

    double sorted[BENCH_MAX_REPS];
    memcpy(sorted, row->samples, sizeof(double) * (size_t)b->reps);
    row->median = bench_median(sorted, b->reps);
    row->min = sorted[0];
    row->max = sorted[b->reps - 1];
    row->flop_per_image = train ? info->train_flop : info->fwd_flop;
    row->gflops = row->median * row->flop_per_image * 1e-9;
    row->cost = train ? c.cost : NAN;
    row->max_rss_kib = bench_max_rss_kib();

    free(c.labels);
    free(c.pred);
    cnn_tensor_destroy(c.x);
    cnn_optimizer_destroy(c.opt);
    cnn_net_destroy(c.net);
}
