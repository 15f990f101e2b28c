/* Progress and epoch reporting.  The bar is redrawn in place with '\r' and
 * padded to a fixed width instead of using terminal escape codes, so it
 * works on any terminal; when stdout is a file or pipe only whole lines are
 * written, which keeps logs readable. */
#include "report.h"

#include <time.h>

#include <stdlib.h>
#include <string.h>

#define BAR_CELLS 30
#define LINE_WIDTH 79

const char *report_pct(double fraction, char buf[16])
{
    if (fraction < 0.0)
        snprintf(buf, 16, "n/a");
    else
        snprintf(buf, 16, "%.2f%%", 100.0 * fraction);
    return buf;
}

/* Seconds on the monotonic clock. */
static double mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int report_open_csv(report *r, const char *path, char *err, size_t es)
{
    r->csv_t0 = mono_seconds();
    r->csv = fopen(path, "w");
    if (r->csv == NULL) {
        snprintf(err, es, "cannot write CSV file '%s'", path);
        return -1;
    }
    fprintf(r->csv, "net,epoch,train_cost,validation_accuracy,test_accuracy,seconds,"
                    "images_per_second,best_epoch,best_validation_accuracy,test_accuracy_at_best,"
                    "wall_seconds\n");
    return 0;
}

void report_close(report *r)
{
    if (r->csv != NULL)
        fclose(r->csv);
    r->csv = NULL;
}

void report_clear_bar(report *r)
{
    if (r->bar_drawn) {
        printf("\r%*s\r", LINE_WIDTH, "");
        fflush(stdout);
        r->bar_drawn = 0;
    }
}

static void format_duration(double s, char buf[32])
{
    long t = s < 0 ? 0 : (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, 32, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, 32, "%ld:%02ld", t / 60, t % 60);
}

/* At most this many cost points per epoch: a point per progress report
 * of a small run would be single batches, too noisy to read. */
#define STRETCHES_PER_EPOCH 100

/* The mean cost of the batches since the previous point of the same epoch,
 * from the two running means. */
static void log_progress(report *r, const cnn_progress *p)
{
    epoch_log *log = r->log;
    if (log == NULL || r->log_failed || p->batches < 1 || p->batch < 1)
        return;
    if (p->epoch != log->prev_epoch || p->batch <= log->prev_batch) {
        log->prev_batch = 0; /* a new epoch: its running mean starts afresh */
        log->prev_cost = 0.0;
        log->prev_epoch = p->epoch;
    }
    int64_t n = p->batch - log->prev_batch;
    if (n * STRETCHES_PER_EPOCH < p->batches && p->batch < p->batches)
        return; /* too short a stretch yet: wait for the next report */
    double stretch = (p->cost * (double)p->batch - log->prev_cost * (double)log->prev_batch) /
                     (double)n;
    double x = (double)(p->epoch - 1) + (double)p->batch / (double)p->batches;
    if (series_push(&log->steps, x, stretch) != 0) {
        r->log_failed = 1;
        return;
    }
    log->step_batches = n > log->step_batches ? n : log->step_batches;
    log->prev_epoch = p->epoch;
    log->prev_batch = p->batch;
    log->prev_cost = p->cost;
}

int32_t report_on_progress(const cnn_progress *p, void *user)
{
    report *r = user;
    log_progress(r, p);
    if (r->tty && !r->quiet && p->batches > 0) {
        double frac = (double)p->batch / (double)p->batches;
        int filled = (int)(frac * BAR_CELLS);
        char bar[BAR_CELLS + 1];
        for (int i = 0; i < BAR_CELLS; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[BAR_CELLS] = '\0';
        /* ETA from this epoch's pace so far. */
        char eta[32] = "?";
        if (p->batch >= p->batches)
            snprintf(eta, sizeof eta, "0:00, evaluating");
        else if (p->batch > 0)
            format_duration(p->seconds * (double)(p->batches - p->batch) / (double)p->batch, eta);
        char net[32] = "";
        if (r->members > 1)
            snprintf(net, sizeof net, "net %d/%d ", (int)r->member, (int)r->members);
        char line[160];
        snprintf(line, sizeof line, "%sepoch %d/%d [%s] %3.0f%% cost %.4f ETA %s", net,
                 (int)p->epoch, (int)p->epochs, bar, 100.0 * frac, p->cost, eta);
        printf("\r%-*.*s", LINE_WIDTH, LINE_WIDTH, line);
        fflush(stdout);
        r->bar_drawn = 1;
    }
    return r->stop != NULL && *r->stop ? 1 : 0;
}

static void log_epoch(report *r, const cnn_epoch_report *e)
{
    epoch_log *log = r->log;
    if (log == NULL || r->log_failed)
        return;
    double x = e->epoch;
    if (series_push(&log->cost, x, e->train_cost) != 0 ||
        series_push(&log->validation, x, e->validation_accuracy) != 0 ||
        series_push(&log->test, x, e->test_accuracy) != 0) {
        r->log_failed = 1;
        return;
    }
    log->best_epoch = e->best_epoch;
    log->best_validation = e->best_validation_accuracy;
    log->test_at_best = e->test_accuracy_at_best;
}

int32_t report_on_epoch(const cnn_epoch_report *e, void *user)
{
    report *r = user;
    char v[16], t[16];
    log_epoch(r, e);
    report_clear_bar(r);
    if (!r->quiet) {
        char net[32] = "";
        if (r->members > 1)
            snprintf(net, sizeof net, "net %d/%d ", (int)r->member, (int)r->members);
        printf("%sepoch %3d/%d  cost %.4f  validation %s  test %s  %.1f s  %.0f img/s\n", net,
               (int)e->epoch, (int)e->epochs, e->train_cost, report_pct(e->validation_accuracy, v),
               report_pct(e->test_accuracy, t), e->seconds, e->images_per_second);
        fflush(stdout);
    }
    if (r->csv != NULL) {
        /* wall_seconds: since the CSV was opened (right after the data were
         * loaded), evaluation included: what "time to 99%" is read from. */
        fprintf(r->csv, "%d,%d,%.6f,%.4f,%.4f,%.3f,%.1f,%d,%.4f,%.4f,%.1f\n", (int)r->member,
                (int)e->epoch, e->train_cost, e->validation_accuracy, e->test_accuracy, e->seconds,
                e->images_per_second, (int)e->best_epoch, e->best_validation_accuracy,
                e->test_accuracy_at_best, mono_seconds() - r->csv_t0);
        fflush(r->csv);
    }
    return r->stop != NULL && *r->stop ? 1 : 0;
}

void epoch_log_free(epoch_log *log)
{
    series_free(&log->cost);
    series_free(&log->validation);
    series_free(&log->test);
    series_free(&log->steps);
    memset(log, 0, sizeof *log);
}
