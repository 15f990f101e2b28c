/* One panel of a line plot: a data range mapped onto a rectangle of a
 * canvas, with grid, tick labels and series drawn as polylines. */
#ifndef CNN_MNIST_PLOT_PANEL_H
#define CNN_MNIST_PLOT_PANEL_H

#include <stdint.h>

#include "canvas.h"
#include "series.h"

typedef struct plot_panel {
    int32_t left, top, right, bottom; /* the plotting area, in pixels */
    double xlo, xhi, xstep;           /* x range and tick spacing */
    double ylo, yhi, ystep;           /* y range and tick spacing (linear axis) */
    int ylog;                         /* y on a log10 axis (ylo > 0): ticks 1, 2, 5 x 10^k */
} plot_panel;

/* A "nice" tick step (1, 2 or 5 times a power of ten) giving at most
 * max_ticks intervals over span (> 0). */
double plot_tick_step(double span, int max_ticks);

/* Sets a linear y axis over lo..hi (finite, lo <= hi), rounded out to whole
 * ticks and at least min_span tall. */
void plot_panel_linear_y(plot_panel *p, double lo, double hi, double min_span);

/* Pixel position of a data value; clamped far outside the canvas so that
 * huge values cannot overflow the drawing arithmetic. */
int32_t plot_panel_px(const plot_panel *p, double x);
int32_t plot_panel_py(const plot_panel *p, double y);

/* Grid lines, the frame, and tick labels on both axes (font scale 2). */
void plot_panel_axes(canvas *c, const plot_panel *p);

/* The points of s with finite x and y (times y_scale), y >= y_min, joined
 * by lines; a skipped point breaks the line.  marker: half-size of a square
 * drawn on each point (0: none). */
void plot_panel_series(canvas *c, const plot_panel *p, const series *s, double y_scale,
                       double y_min, rgb colour, int32_t marker);

/* A dashed vertical line at data x across the panel. */
void plot_panel_vmark(canvas *c, const plot_panel *p, double x, rgb colour);

#endif
