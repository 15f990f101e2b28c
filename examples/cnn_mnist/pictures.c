/* Draws the three pictures onto a canvas and writes them as PNG. */
#include "pictures.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "canvas.h"
#include "pngout.h"

#define WHITE 255
#define BLACK 0
#define MARGIN 8

static int fail(char *err, size_t es, const char *msg, const char *path)
{
    snprintf(err, es, "%s '%s'", msg, path);
    return -1;
}

/* ---- filters ------------------------------------------------------------ */

int picture_filters(cnn_net *net, const char *path, char *err, size_t es)
{
    cnn_layer *first = cnn_net_layer(net, 0);
    cnn_tensor *w = cnn_layer_param(first, CNN_PARAM_WEIGHTS);
    int32_t kind = cnn_layer_kind(first);
    int32_t in[3] = {0, 0, 0};
    int64_t n, bh, bw, stride;
    int32_t scale;

    if (w == NULL || cnn_net_input_shape(net, in) != CNN_OK)
        return fail(err, es, "the first layer has no weights to draw in", path);
    if (kind == CNN_LAYER_CONV2D && cnn_tensor_ndim(w) == 4) {
        /* (out, in, kh, kw): draw input channel 0 of each filter. */
        n = cnn_tensor_dim(w, 0);
        bh = cnn_tensor_dim(w, 2);
        bw = cnn_tensor_dim(w, 3);
        stride = cnn_tensor_dim(w, 1) * bh * bw;
        scale = 8;
    } else if ((kind == CNN_LAYER_DENSE || kind == CNN_LAYER_SOFTMAX) && in[0] == 1 &&
               cnn_tensor_dim(w, 1) == (int64_t)in[1] * in[2]) {
        n = cnn_tensor_dim(w, 0);
        bh = in[1];
        bw = in[2];
        stride = bh * bw;
        scale = 2;
    } else {
        return fail(err, es, "the first layer's weights cannot be drawn as images in", path);
    }
    if (n < 1 || bh < 1 || bw < 1 || bh > 64 || bw > 64)
        return fail(err, es, "unexpected filter shape for", path);

    const float *d = cnn_tensor_data(w);
    float lo = INFINITY, hi = -INFINITY;
    for (int64_t f = 0; f < n; f++)
        for (int64_t i = 0; i < bh * bw; i++) {
            float v = d[f * stride + i];
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
    float span = hi > lo ? hi - lo : 1.0f;

    /* The chapter shows its 20 filters as 4 rows of 5: aim for that 4:5 shape. */
    int32_t cols = (int32_t)ceil(sqrt((double)n * 1.25));
    int32_t rows = (int32_t)((n + cols - 1) / cols);
    int32_t gap = 4, cell_w = (int32_t)bw * scale, cell_h = (int32_t)bh * scale;
    canvas c;
    if (canvas_init(&c, 2 * MARGIN + cols * cell_w + (cols - 1) * gap,
                    2 * MARGIN + rows * cell_h + (rows - 1) * gap, WHITE) != 0)
        return fail(err, es, "out of memory drawing", path);
    for (int64_t f = 0; f < n; f++) {
        int32_t x0 = MARGIN + (int32_t)(f % cols) * (cell_w + gap);
        int32_t y0 = MARGIN + (int32_t)(f / cols) * (cell_h + gap);
        for (int64_t i = 0; i < bh; i++)
            for (int64_t j = 0; j < bw; j++) {
                float v = d[f * stride + i * bw + j];
                /* darker = larger weight */
                uint8_t g = (uint8_t)lrintf(255.0f * (hi - v) / span);
                canvas_rect(&c, x0 + (int32_t)j * scale, y0 + (int32_t)i * scale, scale, scale, g);
            }
    }
    int rc = pngout_write(path, &c, err, es);
    canvas_free(&c);
    return rc;
}

/* ---- misclassified digits ----------------------------------------------- */

#define MAX_ERRORS_DRAWN 400
#define DIGIT_SCALE 2
#define LABEL_SCALE 2

int picture_errors(const cnn_dataset *test, const int32_t *predicted, const char *path,
                   int32_t *drawn, int64_t *total, char *err, size_t es)
{
    int32_t shape[3];
    int64_t count = cnn_dataset_count(test);
    *drawn = 0;
    if (cnn_dataset_shape(test, shape) != CNN_OK || shape[0] != 1)
        return fail(err, es, "the test set cannot be drawn in", path);

    int64_t wrong = 0;
    for (int64_t i = 0; i < count; i++) {
        int32_t label;
        if (cnn_dataset_get(test, i, NULL, &label) == CNN_OK && label != predicted[i])
            wrong++;
    }
    *total = wrong;
    int32_t n = wrong > MAX_ERRORS_DRAWN ? MAX_ERRORS_DRAWN : (int32_t)wrong;

    int32_t dig_w = shape[2] * DIGIT_SCALE, dig_h = shape[1] * DIGIT_SCALE;
    int32_t lab_w = FONT_W * LABEL_SCALE, lab_h = FONT_H * LABEL_SCALE;
    int32_t cell_w = dig_w + 3 + lab_w, cell_h = dig_h, gap = 12;
    /* The chapter's 33 errors sit in rows of 8; wider rows for many. */
    int32_t cols = n <= 40 ? (n < 8 ? (n > 0 ? n : 1) : 8) : 20;
    int32_t rows = n > 0 ? (n + cols - 1) / cols : 1;
    canvas c;
    if (canvas_init(&c, 2 * MARGIN + cols * cell_w + (cols - 1) * gap,
                    2 * MARGIN + rows * cell_h + (rows - 1) * gap, WHITE) != 0)
        return fail(err, es, "out of memory drawing", path);

    float *pix = malloc((size_t)shape[1] * (size_t)shape[2] * sizeof *pix);
    if (pix == NULL) {
        canvas_free(&c);
        return fail(err, es, "out of memory drawing", path);
    }
    int32_t k = 0;
    for (int64_t i = 0; i < count && k < n; i++) {
        int32_t label;
        if (cnn_dataset_get(test, i, pix, &label) != CNN_OK || label == predicted[i])
            continue;
        int32_t x0 = MARGIN + (k % cols) * (cell_w + gap);
        int32_t y0 = MARGIN + (k / cols) * (cell_h + gap);
        for (int32_t y = 0; y < shape[1]; y++)
            for (int32_t x = 0; x < shape[2]; x++) {
                /* pixels are byte/256: ink becomes black on white */
                float v = pix[y * shape[2] + x] * 256.0f;
                int g = 255 - (int)lrintf(v > 255.0f ? 255.0f : v);
                canvas_rect(&c, x0 + x * DIGIT_SCALE, y0 + y * DIGIT_SCALE, DIGIT_SCALE,
                            DIGIT_SCALE, (uint8_t)g);
            }
        char t[12], p[12];
        snprintf(t, sizeof t, "%d", (int)label);
        snprintf(p, sizeof p, "%d", (int)predicted[i]);
        canvas_text(&c, x0 + dig_w + 3, y0, t, LABEL_SCALE, BLACK);
        canvas_text(&c, x0 + dig_w + 3, y0 + cell_h - lab_h, p, LABEL_SCALE, BLACK);
        k++;
    }
    free(pix);
    int rc = pngout_write(path, &c, err, es);
    canvas_free(&c);
    if (rc == 0)
        *drawn = k;
    return rc;
}

/* ---- accuracy plot ------------------------------------------------------ */

#define PLOT_W 640
#define PLOT_H 400
#define PLOT_LEFT 56
#define PLOT_RIGHT 20
#define PLOT_TOP 30
#define PLOT_BOTTOM 40

/* A "nice" tick step (1, 2 or 5 times a power of ten) giving at most
 * max_ticks intervals over span. */
static double tick_step(double span, int max_ticks)
{
    static const double mult[3] = {1.0, 2.0, 5.0};
    double base = pow(10.0, floor(log10(span / max_ticks)));
    for (int i = 0; i < 3; i++)
        if (span / (base * mult[i]) <= max_ticks)
            return base * mult[i];
    return base * 10.0; /* base <= span/max_ticks < 10*base, so this fits */
}

int picture_plot(const epoch_log *logs, int32_t nets, const char *path, char *err, size_t es)
{
    int32_t epochs = 0;
    double lo = INFINITY, hi = -INFINITY;
    for (int32_t m = 0; m < nets; m++) {
        if (logs[m].count > epochs)
            epochs = logs[m].count;
        for (int32_t e = 0; e < logs[m].count; e++) {
            double v = 100.0 * logs[m].validation[e];
            if (v >= 0.0) {
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
        }
    }
    if (epochs == 0 || !(hi >= lo))
        return fail(err, es, "no validation accuracies to plot in", path);

    /* y range: the data rounded out to whole ticks, at least 1% tall. */
    if (hi - lo < 1.0) {
        double mid = 0.5 * (hi + lo);
        lo = mid - 0.5;
        hi = mid + 0.5;
    }
    double ystep = tick_step(hi - lo, 8);
    lo = floor(lo / ystep) * ystep;
    hi = ceil(hi / ystep) * ystep;
    if (hi > 100.0 && lo < 100.0 - ystep)
        hi = ceil(100.0 / ystep) * ystep;
    double xspan = epochs > 1 ? epochs - 1 : 1;
    double xstep = tick_step(xspan, 10);
    if (xstep < 1.0)
        xstep = 1.0;

    canvas c;
    if (canvas_init(&c, PLOT_W, PLOT_H, WHITE) != 0)
        return fail(err, es, "out of memory drawing", path);
    int32_t x0 = PLOT_LEFT, x1 = PLOT_W - PLOT_RIGHT, y0 = PLOT_TOP, y1 = PLOT_H - PLOT_BOTTOM;
#define PX(e) (x0 + (int32_t)lrint((double)((e) - 1) / xspan * (x1 - x0)))
#define PY(v) (y1 - (int32_t)lrint(((v) - lo) / (hi - lo) * (y1 - y0)))

    char buf[32];
    for (double v = lo; v <= hi + 1e-9; v += ystep) {
        int32_t y = PY(v);
        canvas_line(&c, x0, y, x1, y, 225);
        snprintf(buf, sizeof buf, ystep < 0.1 ? "%.2f" : ystep < 1.0 ? "%.1f" : "%.0f", v);
        canvas_text(&c, x0 - 6 - canvas_text_width(buf, 2), y - FONT_H, buf, 2, BLACK);
    }
    for (double e = 1; e <= epochs + 1e-9; e += xstep) {
        int32_t x = PX(e);
        canvas_line(&c, x, y1, x, y1 + 4, BLACK);
        snprintf(buf, sizeof buf, "%.0f", e);
        canvas_text(&c, x - canvas_text_width(buf, 2) / 2, y1 + 8, buf, 2, BLACK);
    }
    canvas_line(&c, x0, y0, x0, y1, BLACK);
    canvas_line(&c, x0, y1, x1, y1, BLACK);
    const char *title = "VALIDATION ACCURACY (%) PER EPOCH";
    canvas_text(&c, (PLOT_W - canvas_text_width(title, 2)) / 2, 8, title, 2, BLACK);
    canvas_text(&c, (x0 + x1 - canvas_text_width("EPOCH", 2)) / 2, PLOT_H - 14, "EPOCH", 2, BLACK);

    /* Later nets first so the first one's black curve ends up on top. */
    for (int32_t m = nets - 1; m >= 0; m--) {
        uint8_t g = m == 0 ? BLACK : 150;
        int32_t px = 0, py = 0, have_prev = 0;
        for (int32_t e = 0; e < logs[m].count; e++) {
            double v = 100.0 * logs[m].validation[e];
            if (v < 0.0)
                continue;
            int32_t x = PX(e + 1), y = PY(v);
            if (have_prev)
                canvas_line(&c, px, py, x, y, g);
            have_prev = 1;
            canvas_rect(&c, x - 2, y - 2, 5, 5, g);
            px = x;
            py = y;
        }
    }
#undef PX
#undef PY
    int rc = pngout_write(path, &c, err, es);
    canvas_free(&c);
    return rc;
}
