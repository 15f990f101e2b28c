/* Plot panels: axis ranges, ticks and polylines for the --plot picture. */
#include "plot_panel.h"

#include <math.h>
#include <stdio.h>

#define LABEL_SCALE 2
#define GRID GREY(225)
#define AXIS GREY(0)
#define INSET 8
#define FAR 100000 /* pixels: far outside any canvas, still safe to add to */

double plot_tick_step(double span, int max_ticks)
{
    static const double mult[3] = {1.0, 2.0, 5.0};
    double base = pow(10.0, floor(log10(span / max_ticks)));
    for (int i = 0; i < 3; i++)
        if (span / (base * mult[i]) <= max_ticks)
            return base * mult[i];
    return base * 10.0; /* base <= span/max_ticks < 10*base, so this fits */
}

void plot_panel_linear_y(plot_panel *p, double lo, double hi, double min_span)
{
    if (hi - lo < min_span) {
        double mid = 0.5 * (hi + lo);
        lo = mid - 0.5 * min_span;
        hi = mid + 0.5 * min_span;
    }
    p->ylog = 0;
    p->ystep = plot_tick_step(hi - lo, 6);
    p->ylo = floor(lo / p->ystep) * p->ystep;
    p->yhi = ceil(hi / p->ystep) * p->ystep;
}

static int32_t clamp_px(double v)
{
    if (!(v > -FAR)) /* also NaN */
        return -FAR;
    return v < FAR ? (int32_t)lrint(v) : FAR;
}

/* The data range maps onto the area less INSET pixels on each side, so
 * that markers on the first and last points are not cut by the frame. */
int32_t plot_panel_px(const plot_panel *p, double x)
{
    return clamp_px(p->left + INSET +
                    (x - p->xlo) / (p->xhi - p->xlo) * (p->right - p->left - 2 * INSET));
}

int32_t plot_panel_py(const plot_panel *p, double y)
{
    double f = p->ylog ? (log10(y) - log10(p->ylo)) / (log10(p->yhi) - log10(p->ylo))
                       : (y - p->ylo) / (p->yhi - p->ylo);
    return clamp_px(p->bottom - INSET - f * (p->bottom - p->top - 2 * INSET));
}

/* Enough decimals to tell the ticks of `step` apart; -1 (exponent form)
 * past 6. */
static int decimals(double step)
{
    int d = (int)ceil(-log10(step) - 1e-9);
    return d < 0 ? 0 : d > 6 ? -1 : d;
}

/* A tick label: fixed decimals (prec) for everyday numbers; exponent form
 * where fixed would be too long to fit left of the axis.  prec < 0 asks
 * for the exponent form. */
static void tick_text(char buf[32], double v, int prec)
{
    if (prec < 0 || fabs(v) >= 1e6)
        snprintf(buf, 32, "%.3g", v);
    else
        snprintf(buf, 32, "%.*f", prec, v);
}

static void y_label(canvas *c, const plot_panel *p, double v, int prec)
{
    char buf[32];
    int32_t y = plot_panel_py(p, v);
    tick_text(buf, v, prec);
    canvas_line(c, p->left, y, p->right, y, GRID);
    canvas_text(c, p->left - 6 - canvas_text_width(buf, LABEL_SCALE), y - FONT_H, buf,
                LABEL_SCALE, AXIS);
}

/* Log axis: 1, 2 and 5 times each power of ten in range; only the powers
 * when the range spans more decades, and only every few of them when it
 * spans very many, so that labels do not collide. */
static void log_labels(canvas *c, const plot_panel *p)
{
    static const double mult[3] = {1.0, 2.0, 5.0};
    int k0 = (int)floor(log10(p->ylo)), k1 = (int)ceil(log10(p->yhi));
    int dense = k1 - k0 <= 3, every = k1 - k0 > 8 ? (k1 - k0 + 7) / 8 : 1;
    for (int k = k0; k <= k1; k += every)
        for (int i = 0; i < (dense ? 3 : 1); i++) {
            double v = mult[i] * pow(10.0, k);
            if (v >= p->ylo * (1 - 1e-9) && v <= p->yhi * (1 + 1e-9))
                y_label(c, p, v, k < -6 ? -1 : k < 0 ? -k : 0);
        }
}

void plot_panel_axes(canvas *c, const plot_panel *p)
{
    if (p->ylog) {
        log_labels(c, p);
    } else {
        int prec = decimals(p->ystep);
        /* Counting ticks rather than adding steps keeps rounding from
         * dropping the last one. */
        long n = lrint((p->yhi - p->ylo) / p->ystep);
        for (long i = 0; i <= n; i++)
            y_label(c, p, p->ylo + (double)i * p->ystep, prec);
    }
    int xprec = decimals(p->xstep);
    long first = lrint(ceil(p->xlo / p->xstep - 1e-9)), last = lrint(floor(p->xhi / p->xstep + 1e-9));
    for (long i = first; i <= last; i++) {
        char buf[32];
        double v = (double)i * p->xstep;
        int32_t x = plot_panel_px(p, v);
        tick_text(buf, v, xprec);
        canvas_line(c, x, p->bottom, x, p->bottom + 4, AXIS);
        canvas_text(c, x - canvas_text_width(buf, LABEL_SCALE) / 2, p->bottom + 8, buf,
                    LABEL_SCALE, AXIS);
    }
    canvas_frame(c, p->left, p->top, p->right - p->left + 1, p->bottom - p->top + 1, AXIS);
}

void plot_panel_series(canvas *c, const plot_panel *p, const series *s, double y_scale,
                       double y_min, rgb colour, int32_t marker)
{
    int have_prev = 0;
    int32_t px = 0, py = 0;
    for (int32_t i = 0; i < s->count; i++) {
        double y = s->y[i] * y_scale;
        if (!isfinite(s->x[i]) || !isfinite(y) || y < y_min || (p->ylog && !(y > 0.0))) {
            have_prev = 0;
            continue;
        }
        int32_t x = plot_panel_px(p, s->x[i]), yy = plot_panel_py(p, y);
        if (have_prev)
            canvas_line(c, px, py, x, yy, colour);
        if (marker > 0)
            canvas_rect(c, x - marker, yy - marker, 2 * marker + 1, 2 * marker + 1, colour);
        have_prev = 1;
        px = x;
        py = yy;
    }
}

void plot_panel_vmark(canvas *c, const plot_panel *p, double x, rgb colour)
{
    int32_t px = plot_panel_px(p, x);
    for (int32_t y = p->top; y <= p->bottom; y += 6)
        canvas_line(c, px, y, px, y + 2 < p->bottom ? y + 2 : p->bottom, colour);
}
