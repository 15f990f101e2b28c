/* cnn-bench: training and inference throughput of Nielsen's chapter-6
 * networks through libcnn's public API, with the sgemm peak of the same
 * BLAS for scale.  See docs/performance.md for how to run it and read it.
 *
 *   cnn-bench [--quick] [--nets W1,W2,W3] [--threads 1,2] [--reps N]
 *             [--seconds S] [--warmup S] [--train-batches 10,64]
 *             [--infer-batches 1,10,1000] [--phases train,infer]
 *             [--data DIR] [--synthetic]
 *             [--images N] [--peak-n N] [--no-peak] [--json FILE]
 */
#include "bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifndef CNN_BENCH_SRCROOT
#define CNN_BENCH_SRCROOT "."
#endif

typedef struct options {
    const char *nets[BENCH_MAX_LIST];
    int n_nets;
    int threads[BENCH_MAX_LIST], n_threads;
    int train_b[BENCH_MAX_LIST], n_train_b;
    int infer_b[BENCH_MAX_LIST], n_infer_b;
    int phases;            /* bit 0: train, bit 1: infer */
    bench_budget budget;
    const char *data_dir;  /* NULL: data/mnist under cwd, then the source root */
    int synthetic;
    int64_t images;
    int peak_n;
    const char *json;
} options;

static void usage(FILE *f)
{
    fputs("usage: cnn-bench [options]\n"
          "  --quick               3 reps x 0.1 s per row, 1024^3 peak: a smoke test\n"
          "  --nets W1,W2,W3       networks to run (default all three)\n"
          "  --threads 1,2         thread counts, cnn_net_set_threads (default 1,2)\n"
          "  --reps N              timed repetitions per row, median reported (default 5)\n"
          "  --seconds S           timed seconds per row, split over the reps (default 2)\n"
          "  --warmup S            untimed seconds before each row (default 0.5)\n"
          "  --train-batches LIST  mini-batch sizes for training (default 10,64)\n"
          "  --infer-batches LIST  batch sizes for inference (default 1,10,1000)\n"
          "  --phases LIST         train, infer or both (default train,infer)\n"
          "  --data DIR            MNIST directory (default data/mnist)\n"
          "  --synthetic           use synthetic images even if MNIST is present\n"
          "  --images N            images cycled through (default 10000)\n"
          "  --peak-n N            sgemm size for the peak (default 2048); 0 skips it\n"
          "  --json FILE           also write the results as JSON\n",
          f);
}

static void bad(const char *opt, const char *val)
{
    fprintf(stderr, "cnn-bench: bad value '%s' for %s\n", val ? val : "(missing)", opt);
    usage(stderr);
    exit(2);
}

/* Parses "1,2,10" into at most BENCH_MAX_LIST positive ints. */
static int parse_ints(const char *opt, const char *s, int *out)
{
    int n = 0;
    if (!s)
        bad(opt, s);
    const char *p = s;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 1000000 || n == BENCH_MAX_LIST || (*end && *end != ','))
            bad(opt, s);
        out[n++] = (int)v;
        p = *end ? end + 1 : end;
    }
    if (n == 0)
        bad(opt, s);
    return n;
}

static double parse_double(const char *opt, const char *s, double lo)
{
    char *end;
    double v = s ? strtod(s, &end) : NAN;
    if (!s || *end || !(v >= lo) || v > 1e6)
        bad(opt, s);
    return v;
}

static void parse_nets(options *o, const char *s)
{
    static char buf[256];
    if (!s || strlen(s) >= sizeof buf)
        bad("--nets", s);
    strcpy(buf, s);
    o->n_nets = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (!bench_net_find(tok) || o->n_nets == BENCH_MAX_LIST)
            bad("--nets", s);
        o->nets[o->n_nets++] = tok;
    }
    if (o->n_nets == 0)
        bad("--nets", s);
}

static void parse_args(options *o, int argc, char **argv)
{
    o->nets[0] = "W1", o->nets[1] = "W2", o->nets[2] = "W3", o->n_nets = 3;
    o->threads[0] = 1, o->threads[1] = 2, o->n_threads = 2;
    o->train_b[0] = 10, o->train_b[1] = 64, o->n_train_b = 2;
    o->infer_b[0] = 1, o->infer_b[1] = 10, o->infer_b[2] = 1000, o->n_infer_b = 3;
    o->phases = 3;
    o->budget.reps = 5, o->budget.seconds = 2.0, o->budget.warmup = 0.5;
    o->images = 10000;
    o->peak_n = 2048;
    /* --quick first, so explicit options after or before it still win. */
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--quick") == 0) {
            o->budget.reps = 3;
            o->budget.seconds = 0.3;
            o->budget.warmup = 0.1;
            o->peak_n = 1024;
        }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0)
            continue;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--synthetic") == 0) {
            o->synthetic = 1;
            continue;
        } else if (strcmp(a, "--nets") == 0) {
            parse_nets(o, v);
        } else if (strcmp(a, "--threads") == 0) {
            o->n_threads = parse_ints(a, v, o->threads);
        } else if (strcmp(a, "--train-batches") == 0) {
            o->n_train_b = parse_ints(a, v, o->train_b);
        } else if (strcmp(a, "--infer-batches") == 0) {
            o->n_infer_b = parse_ints(a, v, o->infer_b);
        } else if (strcmp(a, "--phases") == 0) {
            if (!v)
                bad(a, v);
            o->phases = (strstr(v, "train") ? 1 : 0) | (strstr(v, "infer") ? 2 : 0);
            if (!o->phases)
                bad(a, v);
        } else if (strcmp(a, "--reps") == 0) {
            o->budget.reps = (int)parse_double(a, v, 1);
            if (o->budget.reps > BENCH_MAX_REPS)
                bad(a, v);
        } else if (strcmp(a, "--seconds") == 0) {
            o->budget.seconds = parse_double(a, v, 0.001);
        } else if (strcmp(a, "--warmup") == 0) {
            o->budget.warmup = parse_double(a, v, 0);
        } else if (strcmp(a, "--images") == 0) {
            o->images = (int64_t)parse_double(a, v, 1);
        } else if (strcmp(a, "--peak-n") == 0) {
            o->peak_n = (int)parse_double(a, v, 0);
        } else if (strcmp(a, "--data") == 0) {
            if (!v)
                bad(a, v);
            o->data_dir = v;
        } else if (strcmp(a, "--json") == 0) {
            if (!v)
                bad(a, v);
            o->json = v;
        } else {
            fprintf(stderr, "cnn-bench: unknown option '%s'\n", a);
            usage(stderr);
            exit(2);
        }
        i++; /* every remaining option took a value */
    }
}

/* Synthetic pixels and labels from a hash of the index, so pytorch_ref.py
 * makes exactly the same bytes (numpy, same uint32 arithmetic) without
 * shipping a file.  Pixel values do not change GEMM speed; they keep the
 * ReLU/pooling branches as busy as on real data or busier. */
static uint32_t mix(uint32_t x)
{
    x *= 0x9E3779B1u;
    x ^= x >> 15;
    x *= 0x85EBCA77u;
    x ^= x >> 13;
    return x;
}

static cnn_dataset *make_synthetic(int64_t count)
{
    size_t npix = (size_t)count * 784;
    uint8_t *pix = malloc(npix), *lab = malloc((size_t)count);
    if (!pix || !lab) {
        fprintf(stderr, "cnn-bench: out of memory for synthetic data\n");
        exit(1);
    }
    for (size_t i = 0; i < npix; i++)
        pix[i] = (uint8_t)(mix((uint32_t)i) >> 24);
    for (int64_t i = 0; i < count; i++)
        lab[i] = (uint8_t)((mix((uint32_t)i ^ 0x00ABCDEFu) >> 24) % 10);
    cnn_dataset *ds = NULL;
    cnn_status st = cnn_dataset_create(count, 1, 28, 28, pix, lab, &ds);
    if (st != CNN_OK)
        bench_die("cnn_dataset_create", st);
    free(pix);
    free(lab);
    return ds;
}

/* The first `count` images of MNIST's training file, or NULL if absent. */
static cnn_dataset *load_mnist(const options *o)
{
    const char *dirs[2] = {o->data_dir ? o->data_dir : "data/mnist",
                           o->data_dir ? NULL : CNN_BENCH_SRCROOT "/data/mnist"};
    for (int i = 0; i < 2 && dirs[i]; i++) {
        cnn_dataset *all = NULL, *part = NULL;
        cnn_status st = cnn_dataset_load_mnist(dirs[i], CNN_MNIST_TRAIN, &all);
        if (st != CNN_OK)
            continue;
        int64_t n = cnn_dataset_count(all) < o->images ? cnn_dataset_count(all) : o->images;
        st = cnn_dataset_slice(all, 0, n, &part);
        cnn_dataset_destroy(all); /* slices stay valid */
        if (st != CNN_OK)
            bench_die("cnn_dataset_slice", st);
        return part;
    }
    if (o->data_dir) {
        fprintf(stderr, "cnn-bench: no MNIST in %s: %s\n", o->data_dir, cnn_last_error());
        exit(1);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    options o;
    memset(&o, 0, sizeof o);
    parse_args(&o, argc, argv);
    if (cnn_version() / 100 != CNN_VERSION_MAJOR * 100 + CNN_VERSION_MINOR)
        fprintf(stderr, "cnn-bench: warning: header %d.%d but library %s\n", CNN_VERSION_MAJOR,
                CNN_VERSION_MINOR, cnn_version_string());

    double load_start = bench_loadavg();
    cnn_dataset *ds = o.synthetic ? NULL : load_mnist(&o);
    const char *data = ds ? "mnist" : "synthetic";
    if (!ds)
        ds = make_synthetic(o.images);

    /* The peak first, on an idle process; each thread count once. */
    bench_peak peaks[BENCH_MAX_LIST];
    int n_peaks = 0;
    bench_peak ukr_peaks[BENCH_MAX_LIST];
    for (int i = 0; o.peak_n > 0 && i < o.n_threads; i++) {
        bench_measure_peak(o.peak_n, o.threads[i], o.budget.reps, &peaks[n_peaks]);
        bench_measure_ukr_peak(o.threads[i], o.budget.reps, &ukr_peaks[n_peaks++]);
    }

    bench_meta meta = {data, cnn_dataset_count(ds), &o.budget, peaks, n_peaks,
                       ukr_peaks, n_peaks, load_start, -1};
    bench_table_header(stdout, &meta);
    for (int n = 0; n < o.n_nets; n++) {
        const bench_net_info *in = bench_net_find(o.nets[n]);
        printf("# %s: %s; %.3f MFLOP/image training, %.3f inference\n", in->name, in->desc,
               in->train_flop * 1e-6, in->fwd_flop * 1e-6);
    }
    bench_table_columns(stdout);

    int max_rows = o.n_nets * (o.n_train_b + o.n_infer_b) * o.n_threads;
    bench_row *rows = calloc((size_t)max_rows, sizeof *rows);
    if (!rows)
        return 1;
    int n_rows = 0;
    for (int n = 0; n < o.n_nets; n++) {
        const bench_net_info *in = bench_net_find(o.nets[n]);
        for (int phase = 0; phase < 2; phase++) {
            if (!(o.phases & (1 << phase)))
                continue;
            int nb = phase == 0 ? o.n_train_b : o.n_infer_b;
            const int *bs = phase == 0 ? o.train_b : o.infer_b;
            for (int b = 0; b < nb; b++)
                for (int t = 0; t < o.n_threads; t++) {
                    bench_row *r = &rows[n_rows++];
                    r->net = in->name;
                    r->phase = phase == 0 ? "train" : "infer";
                    r->batch = bs[b];
                    r->threads = o.threads[t];
                    r->variant = "default";
                    r->peak_fraction = -1;
                    bench_run_row(in, ds, &o.budget, r);
                    /* the machine's measured peak: the better of the
                     * BLAS's sgemm and libcnn's own microkernel */
                    for (int p = 0; p < n_peaks; p++)
                        if (peaks[p].threads == r->threads) {
                            double best = peaks[p].gflops > ukr_peaks[p].gflops
                                              ? peaks[p].gflops : ukr_peaks[p].gflops;
                            r->peak_fraction = r->gflops / best;
                        }
                    bench_table_row(stdout, r);
                }
        }
    }
    long rss = bench_max_rss_kib();
    meta.load_end = bench_loadavg();
    printf("peak RSS: %.1f MiB | load average %.2f at start, %.2f at end\n",
           (double)rss / 1024.0, meta.load_start, meta.load_end);

    int rc = 0;
    if (o.json && bench_write_json(o.json, &meta, rows, n_rows, rss) != 0)
        rc = 1;
    free(rows);
    cnn_dataset_destroy(ds);
    return rc;
}
