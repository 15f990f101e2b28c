/* Shared declarations of cnn-bench.  The program is split by concern so each
 * file stays small: nets.c builds the networks and knows their FLOP counts,
 * runner.c times one row, peak.c measures the sgemm peak, report.c prints
 * the table and the JSON, main.c parses options and walks the rows. */
#ifndef CNN_BENCH_H
#define CNN_BENCH_H

#include <cnn.h>

#include <stdint.h>
#include <stdio.h>

#define BENCH_MAX_REPS 64
#define BENCH_MAX_LIST 8

/* ---- networks (nets.c) ------------------------------------------------ */

/* One benchmarked network: its name, the learning rate network3 used for it
 * and the per-image FLOP counts derived from its GEMM shapes. */
typedef struct bench_net_info {
    const char *name;        /* "W1", "W2", "W3" */
    const char *desc;        /* one line for the table header */
    float eta;               /* SGD learning rate */
    double fwd_flop;         /* per image, forward GEMMs */
    double train_flop;       /* per image, forward + backward-data + backward-weights */
} bench_net_info;

/* The info for "W1".."W3", or NULL for an unknown name. */
const bench_net_info *bench_net_find(const char *name);
/* Builds the network exactly as network3 does (see nets.c).  Exits with a
 * message on failure: a benchmark that cannot build its subject is useless. */
cnn_net *bench_net_build(const bench_net_info *info, uint64_t seed);

/* ---- one timed row (runner.c) ----------------------------------------- */

typedef struct bench_row {
    const char *net;
    const char *phase;       /* "train" or "infer" */
    int batch;
    int threads;
    const char *variant;     /* "default" (PyTorch also has "channels_last") */
    int reps;
    double samples[BENCH_MAX_REPS]; /* images/s of each repetition */
    double median, min, max; /* images/s */
    double flop_per_image;   /* the FLOPs one image costs in this phase */
    double gflops;           /* median * flop_per_image / 1e9 */
    double peak_fraction;    /* gflops / sgemm peak at this thread count; <0 unknown */
    double cpu;              /* (user + sys CPU seconds) / wall seconds while timed */
    double cpu_median;       /* median images per CPU-second (user + sys) */
    double cost;             /* last training cost (sanity: NaN means divergence) */
    long max_rss_kib;        /* process peak RSS after this row */
} bench_row;

typedef struct bench_budget {
    int reps;                /* timed repetitions; the median is reported */
    double seconds;          /* timed seconds per row, split over the reps */
    double warmup;           /* untimed seconds before the reps */
} bench_budget;

/* Runs one row: builds a fresh network, sets its thread count, warms up,
 * then times `reps` repetitions on consecutive batches of `ds`. */
void bench_run_row(const bench_net_info *info, const cnn_dataset *ds, const bench_budget *b,
                   bench_row *row);

/* ---- sgemm peak (peak.c) ---------------------------------------------- */

typedef struct bench_peak {
    int threads;
    int n;                   /* square size */
    double gflops;           /* best of the repetitions */
} bench_peak;

/* Times cblas_sgemm on n x n x n with `threads` BLAS threads, then restores
 * the BLAS thread count it found (the library manages its own). */
void bench_measure_peak(int n, int threads, int reps, bench_peak *out);
/* A short name of the BLAS the bench and library link ("openblas", "blis"). */
const char *bench_blas_name(void);

/* ---- own microkernel peak (ukr_peak.c) -------------------------------- */

/* Times libcnn's microkernel on the active ISA path (its largest tile, L1
 * operands) on `threads` threads at once; out->n holds the tile as
 * mr * 100 + nv.  Best of `reps`. */
void bench_measure_ukr_peak(int threads, int reps, bench_peak *out);

/* ---- output (report.c) ------------------------------------------------ */

typedef struct bench_meta {
    const char *data;        /* "mnist" or "synthetic" */
    int64_t images;          /* images cycled through */
    const bench_budget *budget;
    const bench_peak *peaks;
    int n_peaks;
    const bench_peak *ukr_peaks; /* own microkernel, same thread counts */
    int n_ukr_peaks;
    double load_start, load_end; /* 1-minute load average around the run */
} bench_meta;

void bench_table_header(FILE *f, const bench_meta *m);
/* The CPU's model name (/proc/cpuinfo), "unknown" where not found. */
const char *bench_cpu_model(void);
void bench_table_columns(FILE *f);
void bench_table_row(FILE *f, const bench_row *r);
/* Writes the whole run as JSON (format shared with pytorch_ref.py). */
int bench_write_json(const char *path, const bench_meta *m, const bench_row *rows, int n_rows,
                     long max_rss_kib);

/* ---- small helpers (runner.c) ----------------------------------------- */

double bench_now(void);
double bench_cpu_seconds(void);
long bench_max_rss_kib(void);
double bench_loadavg(void);
double bench_median(double *v, int n); /* sorts v */
/* Prints "what: message" with the library's last error and exits. */
void bench_die(const char *what, cnn_status st);

#endif /* CNN_BENCH_H */
