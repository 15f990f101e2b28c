/* What cnn-mnist prints while training: a live progress bar on a terminal,
 * one line per epoch, optional CSV, and network3-style summaries. */
#ifndef CNN_MNIST_REPORT_H
#define CNN_MNIST_REPORT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cnn.h"
#include "series.h"

/* The history of one net's training, for --plot.  Epoch figures have the
 * epoch number as x (a resumed run starts past 1); accuracies are
 * fractions, -1 where the set is missing. */
typedef struct epoch_log {
    series cost;          /* mean training cost of each epoch */
    series validation;
    series test;
    /* Within epochs: x = epoch - 1 + batch / batches, y = the mean cost of
     * the batches since the previous point (cnn_progress gives the running
     * mean of the epoch so far; the difference of two running sums
     * isolates the latest stretch, which shows the noise the epoch mean
     * hides).  A stretch spans whole progress reports, at least 1/100 of
     * an epoch. */
    series steps;
    int64_t step_batches; /* batches per stretch (the longest seen) */
    int32_t best_epoch;   /* of the best validation accuracy; 0: none */
    double best_validation;
    double test_at_best;
    /* The previous point's progress report, to difference against. */
    int32_t prev_epoch;
    int64_t prev_batch;
    double prev_cost;
} epoch_log;

typedef struct report {
    int tty;                   /* stdout is a terminal: draw the bar */
    int quiet;                 /* only summaries */
    FILE *csv;                 /* NULL: no CSV */
    double csv_t0;             /* monotonic seconds when the CSV was opened */
    int32_t member;            /* 1-based net of an ensemble */
    int32_t members;
    epoch_log *log;            /* where epoch figures go; may be NULL */
    volatile sig_atomic_t *stop; /* non-zero: ask the library to cancel */
    int bar_drawn;             /* a bar is on the current line */
    int log_failed;            /* out of memory for the history */
} report;

/* Opens the CSV file and writes its header.  -1 with a message on failure. */
int report_open_csv(report *r, const char *path, char *err, size_t err_size);
void report_close(report *r);

/* cnn_train callbacks; `user` is the report. */
int32_t report_on_progress(const cnn_progress *p, void *user);
int32_t report_on_epoch(const cnn_epoch_report *e, void *user);

/* Removes a half-drawn bar so the next line starts clean. */
void report_clear_bar(report *r);

/* Frees the history. */
void epoch_log_free(epoch_log *log);

/* A percentage for humans: 0.98765 -> "98.77%", negative -> "n/a". */
const char *report_pct(double fraction, char buf[16]);

#endif
