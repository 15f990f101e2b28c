/* --plot: the training history of a run in two panels over one epoch axis.
 * Top: the training cost, both per stretch between progress reports (so a
 * one-epoch run still shows how it learned) and per epoch.  Bottom:
 * validation and test accuracy after each epoch.  The best-validation epoch
 * is marked in both, and its figures are written above them. */
#include "pictures.h"

#include <math.h>
#include <stdio.h>

#include "canvas.h"
#include "plot_panel.h"
#include "pngout.h"

#define PLOT_W 800
#define PLOT_H 632
#define LEFT 72
#define RIGHT 24
#define TEXT 2 /* font scale */
#define LINE_H 16

/* Okabe-Ito colours: told apart by colour-blind readers too. */
#define C_COST RGB(0, 114, 178)
#define C_STEPS RGB(120, 175, 222)
#define C_VALID RGB(213, 94, 0)
#define C_TEST RGB(0, 158, 115)
#define C_OTHERS GREY(190)
#define C_TEXT GREY(0)
#define C_BEST GREY(80)

static int fail(char *err, size_t es, const char *msg, const char *path)
{
    snprintf(err, es, "%s '%s'", msg, path);
    return -1;
}

/* The epochs the history covers: from the start of the first epoch logged
 * to the end of the last. */
static int x_range(const epoch_log *log, double *lo, double *hi)
{
    double elo = INFINITY, ehi = -INFINITY, slo = INFINITY, shi = -INFINITY;
    int32_t epochs = series_widen_x(&log->cost, &elo, &ehi);
    int32_t steps = series_widen_x(&log->steps, &slo, &shi);
    if (epochs == 0 && steps == 0)
        return -1;
    *lo = fmin(epochs ? elo - 1.0 : INFINITY, steps ? floor(slo) : INFINITY);
    *hi = fmax(epochs ? ehi : -INFINITY, steps ? ceil(shi) : -INFINITY);
    if (*hi <= *lo)
        *hi = *lo + 1.0;
    return 0;
}

/* The smallest positive finite y of s, or *lo if smaller. */
static void widen_positive(const series *s, double *lo)
{
    for (int32_t i = 0; i < s->count; i++)
        if (s->y[i] > 0.0 && s->y[i] < *lo)
            *lo = s->y[i];
}

/* Cost on a log axis when it spans more than a decade (it falls fast early
 * and slowly later), else linear from 0.  The cost is a negative
 * log-likelihood, never below 0; a stretch's mean is a difference of two
 * running sums and can round to 0 or just below, so such points are left
 * off a log axis rather than forcing a linear one. */
static void cost_axis(plot_panel *p, const epoch_log *log)
{
    double lo = INFINITY, hi = -INFINITY, pos = INFINITY;
    series_widen_y(&log->cost, &lo, &hi);
    series_widen_y(&log->steps, &lo, &hi);
    widen_positive(&log->cost, &pos);
    widen_positive(&log->steps, &pos);
    if (!(hi >= lo)) { /* nothing finite: an empty axis */
        lo = 0.0;
        hi = 1.0;
    }
    if (hi > 0.0 && pos < hi && hi / pos > 10.0) {
        p->ylog = 1;
        p->ylo = pow(10.0, floor(log10(pos)));
        p->yhi = pow(10.0, ceil(log10(hi)));
        return;
    }
    plot_panel_linear_y(p, fmin(lo, 0.0), hi, 1e-3);
}

/* Accuracy in percent over every net's figures, at least 1 point tall and
 * not past 100 by more than a tick. */
static void accuracy_axis(plot_panel *p, const epoch_log *logs, int32_t nets)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int32_t m = 0; m < nets; m++)
        for (int32_t k = 0; k < 2; k++) {
            const series *s = k == 0 ? &logs[m].validation : &logs[m].test;
            for (int32_t i = 0; i < s->count; i++)
                if (s->y[i] >= 0.0 && isfinite(s->y[i])) {
                    lo = fmin(lo, 100.0 * s->y[i]);
                    hi = fmax(hi, 100.0 * s->y[i]);
                }
        }
    if (!(hi >= lo)) {
        lo = 0.0;
        hi = 100.0;
    }
    plot_panel_linear_y(p, lo, hi, 1.0);
    if (p->yhi > 100.0 && p->ylo < 100.0 - p->ystep)
        p->yhi = ceil(100.0 / p->ystep) * p->ystep;
}

/* One legend entry at (*x, y): a colour swatch (a dashed bar for the
 * best-epoch mark) and its text; advances *x. */
static void legend_entry(canvas *c, int32_t *x, int32_t y, rgb colour, const char *text)
{
    if (colour == C_BEST)
        for (int32_t i = 0; i < 14; i += 6)
            canvas_rect(c, *x + i, y + 4, 3, 2, colour);
    else
        canvas_rect(c, *x, y + 1, 14, 8, colour);
    canvas_text(c, *x + 20, y, text, TEXT, C_TEXT);
    *x += 20 + canvas_text_width(text, TEXT) + 18;
}

/* A panel's title at its top left, two lines above the plotting area (the
 * legend takes the line between). */
static void panel_title(canvas *c, const plot_panel *p, const char *text)
{
    canvas_text(c, p->left, p->top - 2 * LINE_H, text, TEXT, C_TEXT);
}

/* A note inside the panel, near its lower left corner, where the curves
 * (falling cost, rising accuracy) leave room. */
static void panel_note(canvas *c, const plot_panel *p, int32_t line, const char *text)
{
    canvas_text(c, p->left + 10, p->bottom - 10 - (line + 1) * LINE_H, text, TEXT, C_TEXT);
}

static void draw_cost(canvas *c, const plot_panel *p, const epoch_log *log, int32_t nets)
{
    char buf[96];
    plot_panel_axes(c, p);
    panel_title(c, p, p->ylog ? "TRAINING COST (LOG SCALE)" : "TRAINING COST");
    plot_panel_series(c, p, &log->steps, 1.0, -INFINITY, C_STEPS, 0);
    plot_panel_series(c, p, &log->cost, 1.0, -INFINITY, C_COST, 2);
    int32_t x = p->left, y = p->top - LINE_H;
    if (log->step_batches > 0)
        snprintf(buf, sizeof buf, "EACH %lld BATCH%s", (long long)log->step_batches,
                 log->step_batches == 1 ? "" : "ES");
    else
        snprintf(buf, sizeof buf, "WITHIN EPOCHS");
    if (log->steps.count > 0)
        legend_entry(c, &x, y, C_STEPS, buf);
    legend_entry(c, &x, y, C_COST, "EPOCH MEAN");
    if (nets > 1)
        canvas_text(c, x, y, "(NET 1)", TEXT, C_TEXT);
    double lo = INFINITY, hi = -INFINITY;
    if (series_widen_y(&log->cost, &lo, &hi) + series_widen_y(&log->steps, &lo, &hi) == 0)
        panel_note(c, p, 0, "NO FINITE COST TO PLOT");
    else if (log->steps.count == 0)
        panel_note(c, p, 0, "NO PROGRESS REPORTS WITHIN EPOCHS");
}

static void draw_accuracy(canvas *c, const plot_panel *p, const epoch_log *logs, int32_t nets)
{
    char others[48];
    plot_panel_axes(c, p);
    panel_title(c, p, nets > 1 ? "ACCURACY (%) AFTER EACH EPOCH; NET 1 IN COLOUR"
                               : "ACCURACY (%) AFTER EACH EPOCH");
    /* Later nets first and pale, so net 1's curves stay on top. */
    for (int32_t m = nets - 1; m >= 1; m--)
        plot_panel_series(c, p, &logs[m].validation, 100.0, 0.0, C_OTHERS, 1);
    plot_panel_series(c, p, &logs[0].test, 100.0, 0.0, C_TEST, 2);
    plot_panel_series(c, p, &logs[0].validation, 100.0, 0.0, C_VALID, 2);
    int32_t x = p->left, y = p->top - LINE_H;
    legend_entry(c, &x, y, C_VALID, "VALIDATION");
    legend_entry(c, &x, y, C_TEST, "TEST");
    if (nets > 1) {
        if (nets == 2)
            snprintf(others, sizeof others, "NET 2 VALIDATION");
        else
            snprintf(others, sizeof others, "NETS 2-%d VALIDATION", (int)nets);
        legend_entry(c, &x, y, C_OTHERS, others);
    }
    legend_entry(c, &x, y, C_BEST, "BEST VALIDATION EPOCH");
    if (logs[0].validation.count == 1) {
        panel_note(c, p, 1, "ONE EPOCH: ACCURACY IS MEASURED AT ITS END;");
        panel_note(c, p, 0, "THE COST ABOVE SHOWS THE PROGRESS WITHIN IT");
    }
}

/* Whether net 1 has a best-validation epoch to mark and report. */
static int has_best(const epoch_log *log)
{
    return log->best_epoch > 0 && log->best_validation >= 0.0 && isfinite(log->best_validation);
}

/* The best-validation epoch: a dashed line through both panels and a ring
 * round its validation point (the line alone hides in the frame when the
 * best epoch is the last). */
static void mark_best(canvas *c, const plot_panel *cost, const plot_panel *acc,
                      const epoch_log *log)
{
    plot_panel_vmark(c, cost, log->best_epoch, C_BEST);
    plot_panel_vmark(c, acc, log->best_epoch, C_BEST);
    int32_t x = plot_panel_px(acc, log->best_epoch);
    int32_t y = plot_panel_py(acc, 100.0 * log->best_validation);
    canvas_frame(c, x - 6, y - 6, 13, 13, C_BEST);
    canvas_frame(c, x - 7, y - 7, 15, 15, C_BEST);
}

/* The headline above the panels: net 1's best validation epoch. */
static void draw_summary(canvas *c, const epoch_log *log, int32_t nets, int32_t y)
{
    char buf[160];
    if (has_best(log)) {
        int n = snprintf(buf, sizeof buf, "%sBEST VALIDATION %.2f%% AT EPOCH %d",
                         nets > 1 ? "NET 1: " : "", 100.0 * log->best_validation,
                         (int)log->best_epoch);
        if (log->test_at_best >= 0.0 && isfinite(log->test_at_best) && n > 0 && (size_t)n < sizeof buf)
            snprintf(buf + n, sizeof buf - (size_t)n, "; TEST THERE %.2f%%",
                     100.0 * log->test_at_best);
    } else {
        snprintf(buf, sizeof buf, "NO VALIDATION ACCURACY: NO BEST EPOCH");
    }
    canvas_text(c, (PLOT_W - canvas_text_width(buf, TEXT)) / 2, y, buf, TEXT, C_TEXT);
}

int picture_plot(const epoch_log *logs, int32_t nets, const char *path, char *err, size_t es)
{
    plot_panel cost = {.left = LEFT, .right = PLOT_W - RIGHT, .top = 90, .bottom = 290};
    plot_panel acc = {.left = LEFT, .right = PLOT_W - RIGHT, .top = 364, .bottom = 580};
    if (nets < 1 || x_range(&logs[0], &cost.xlo, &cost.xhi) != 0)
        return fail(err, es, "no training history to plot in", path);
    cost.xstep = plot_tick_step(cost.xhi - cost.xlo, 10);
    if (cost.xhi - cost.xlo >= 2.0 && cost.xstep < 1.0)
        cost.xstep = 1.0; /* whole epochs once there are several */
    acc.xlo = cost.xlo;
    acc.xhi = cost.xhi;
    acc.xstep = cost.xstep;
    cost_axis(&cost, &logs[0]);
    accuracy_axis(&acc, logs, nets);

    canvas c;
    if (canvas_init(&c, PLOT_W, PLOT_H, GREY(255)) != 0)
        return fail(err, es, "out of memory drawing", path);
    const char *title = "TRAINING HISTORY";
    canvas_text(&c, (PLOT_W - canvas_text_width(title, TEXT)) / 2, 10, title, TEXT, C_TEXT);
    draw_summary(&c, &logs[0], nets, 30);
    draw_cost(&c, &cost, &logs[0], nets);
    draw_accuracy(&c, &acc, logs, nets);
    if (has_best(&logs[0]))
        mark_best(&c, &cost, &acc, &logs[0]);
    const char *xlabel = "EPOCH";
    canvas_text(&c, (acc.left + acc.right - canvas_text_width(xlabel, TEXT)) / 2, PLOT_H - 18,
                xlabel, TEXT, C_TEXT);
    int rc = pngout_write(path, &c, err, es);
    canvas_free(&c);
    return rc;
}
