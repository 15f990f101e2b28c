/* --filters: the first layer's weights as a grid of upscaled grey tiles,
 * darker = larger weight on one scale for the whole picture, with a ramp
 * below that says which weights black and white stand for. */
#include "pictures.h"

#include <math.h>
#include <stdio.h>

#include "canvas.h"
#include "pngout.h"

#define MARGIN 12
#define GAP 6         /* between tiles */
#define MIN_TILE 48   /* pixels: a 5x5 filter becomes 50x50 */
#define TEXT 2        /* font scale */
#define LINE_H 16
#define RAMP_W 256
#define RAMP_H 16
#define C_TEXT GREY(0)
#define C_FRAME GREY(150)
#define C_BAD RGB(213, 94, 0) /* non-finite weights */

/* Which weights to draw, and how. */
typedef struct filter_view {
    const float *data;
    int64_t n;        /* tiles */
    int64_t bh, bw;   /* tile size in weights */
    int64_t stride;   /* floats from one tile to the next */
    int64_t channels; /* input channels of a conv filter (channel 0 drawn) */
    int dense;        /* a fully connected layer: a tile per neuron */
    int32_t scale;    /* pixels per weight */
    double lo, hi;    /* range of the finite weights drawn */
    int64_t bad;      /* non-finite weights */
} filter_view;

static int fail(char *err, size_t es, const char *msg, const char *path)
{
    snprintf(err, es, "%s '%s'", msg, path);
    return -1;
}

/* Conv filters (out, in, kh, kw) as drawn: input channel 0 of each, as
 * stored (cross-correlation order; Theano's would be rotated); a first
 * dense layer on 1-channel images as one image-sized tile per neuron. */
static int view_layer(cnn_net *net, filter_view *v)
{
    cnn_layer *first = cnn_net_layer(net, 0);
    cnn_tensor *w = cnn_layer_param(first, CNN_PARAM_WEIGHTS);
    int32_t kind = cnn_layer_kind(first), in[3] = {0, 0, 0};
    if (w == NULL || cnn_net_input_shape(net, in) != CNN_OK)
        return -1;
    v->data = cnn_tensor_data(w);
    v->n = cnn_tensor_dim(w, 0);
    if (kind == CNN_LAYER_CONV2D && cnn_tensor_ndim(w) == 4) {
        v->channels = cnn_tensor_dim(w, 1);
        v->bh = cnn_tensor_dim(w, 2);
        v->bw = cnn_tensor_dim(w, 3);
        v->stride = v->channels * v->bh * v->bw;
        return 0;
    }
    if ((kind == CNN_LAYER_DENSE || kind == CNN_LAYER_SOFTMAX) && in[0] == 1 &&
        cnn_tensor_ndim(w) == 2 && cnn_tensor_dim(w, 1) == (int64_t)in[1] * in[2]) {
        v->channels = 1;
        v->dense = 1;
        v->bh = in[1];
        v->bw = in[2];
        v->stride = v->bh * v->bw;
        return 0;
    }
    return -1;
}

/* The range of the finite weights drawn; NaN and infinities (a diverged
 * net) are counted and drawn in their own colour instead. */
static void weight_range(filter_view *v)
{
    v->lo = INFINITY;
    v->hi = -INFINITY;
    v->bad = 0;
    for (int64_t f = 0; f < v->n; f++)
        for (int64_t i = 0; i < v->bh * v->bw; i++) {
            double x = v->data[f * v->stride + i];
            if (!isfinite(x)) {
                v->bad++;
                continue;
            }
            v->lo = fmin(v->lo, x);
            v->hi = fmax(v->hi, x);
        }
}

/* White at the smallest weight, black at the largest; in double, so that
 * weights near FLT_MAX cannot overflow the span. */
static rgb shade(const filter_view *v, double x)
{
    if (!isfinite(x))
        return C_BAD;
    if (!(v->hi > v->lo))
        return GREY(128);
    double f = (v->hi - x) / (v->hi - v->lo);
    return GREY((uint8_t)lrint(255.0 * fmin(fmax(f, 0.0), 1.0)));
}

static void draw_tile(canvas *c, const filter_view *v, int64_t f, int32_t x0, int32_t y0)
{
    const float *d = v->data + f * v->stride;
    for (int64_t i = 0; i < v->bh; i++)
        for (int64_t j = 0; j < v->bw; j++)
            canvas_rect(c, x0 + (int32_t)j * v->scale, y0 + (int32_t)i * v->scale, v->scale,
                        v->scale, shade(v, d[i * v->bw + j]));
    /* A frame just outside, so that a tile of small weights does not melt
     * into the white page. */
    canvas_frame(c, x0 - 1, y0 - 1, (int32_t)v->bw * v->scale + 2, (int32_t)v->bh * v->scale + 2,
                 C_FRAME);
}

/* The scale: a ramp from the smallest weight (white) to the largest
 * (black) with both values under its ends and 0 marked where it falls
 * inside. */
static void draw_ramp(canvas *c, const filter_view *v, int32_t x0, int32_t y0)
{
    char lo[32], hi[32];
    canvas_text(c, x0, y0, "SCALE: DARKER = LARGER WEIGHT", TEXT, C_TEXT);
    y0 += LINE_H;
    if (!(v->hi >= v->lo)) {
        canvas_text(c, x0, y0, "NO FINITE WEIGHTS", TEXT, C_TEXT);
        return;
    }
    for (int32_t i = 0; i < RAMP_W; i++)
        canvas_rect(c, x0 + i, y0, 1, RAMP_H, GREY(255 - i));
    canvas_frame(c, x0 - 1, y0 - 1, RAMP_W + 2, RAMP_H + 2, C_FRAME);
    snprintf(lo, sizeof lo, "%.3g", v->lo);
    snprintf(hi, sizeof hi, "%+.3g", v->hi);
    if (v->lo > 0)
        snprintf(lo, sizeof lo, "%+.3g", v->lo);
    int32_t ty = y0 + RAMP_H + 6;
    canvas_text(c, x0, ty, lo, TEXT, C_TEXT);
    canvas_text(c, x0 + RAMP_W - canvas_text_width(hi, TEXT), ty, hi, TEXT, C_TEXT);
    if (v->lo < 0.0 && v->hi > 0.0) {
        int32_t zx = x0 + (int32_t)lrint(-v->lo / (v->hi - v->lo) * (RAMP_W - 1));
        canvas_rect(c, zx, y0 + RAMP_H, 1, 5, C_TEXT);
        int32_t lx = zx - canvas_text_width("0", TEXT) / 2;
        /* Only where it does not run into the end labels. */
        if (lx > x0 + canvas_text_width(lo, TEXT) + 6 &&
            lx + 8 < x0 + RAMP_W - canvas_text_width(hi, TEXT))
            canvas_text(c, lx, ty, "0", TEXT, C_TEXT);
    }
}

int picture_filters(cnn_net *net, const char *path, int64_t *nonfinite, char *err, size_t es)
{
    filter_view v = {0};
    *nonfinite = 0;
    if (view_layer(net, &v) != 0)
        return fail(err, es, "the first layer's weights cannot be drawn as images in", path);
    if (v.n < 1 || v.n > 4096 || v.bh < 1 || v.bw < 1 || v.bh > 64 || v.bw > 64)
        return fail(err, es, "unexpected filter shape for", path);
    weight_range(&v);
    *nonfinite = v.bad;
    int64_t big = v.bh > v.bw ? v.bh : v.bw;
    v.scale = (int32_t)((MIN_TILE + big - 1) / big);

    /* The chapter shows its 20 filters as 4 rows of 5: aim for that 4:5 shape. */
    int32_t cols = (int32_t)ceil(sqrt((double)v.n * 1.25));
    int32_t rows = (int32_t)((v.n + cols - 1) / cols);
    int32_t tw = (int32_t)v.bw * v.scale, th = (int32_t)v.bh * v.scale;
    int32_t grid_w = cols * tw + (cols - 1) * GAP, grid_h = rows * th + (rows - 1) * GAP;
    char title[128], note[96];
    if (v.dense)
        snprintf(title, sizeof title, "FIRST LAYER: WEIGHTS OF %lld NEURONS AS %lldX%lld IMAGES",
                 (long long)v.n, (long long)v.bh, (long long)v.bw);
    else if (v.channels > 1)
        snprintf(title, sizeof title, "FIRST LAYER: %lld FILTERS %lldX%lld (INPUT CHANNEL 1 OF %lld)",
                 (long long)v.n, (long long)v.bh, (long long)v.bw, (long long)v.channels);
    else
        snprintf(title, sizeof title, "FIRST LAYER: %lld FILTERS %lldX%lld", (long long)v.n, (long long)v.bh,
                 (long long)v.bw);
    snprintf(note, sizeof note, "%lld WEIGHTS NOT FINITE (RED)", (long long)v.bad);
    int32_t text_w = canvas_text_width(title, TEXT);
    if (canvas_text_width("SCALE: DARKER = LARGER WEIGHT", TEXT) > text_w)
        text_w = canvas_text_width("SCALE: DARKER = LARGER WEIGHT", TEXT);
    if (v.bad > 0 && canvas_text_width(note, TEXT) > text_w)
        text_w = canvas_text_width(note, TEXT);
    if (text_w < RAMP_W)
        text_w = RAMP_W;
    int32_t width = 2 * MARGIN + (grid_w > text_w ? grid_w : text_w);
    int32_t ramp_y = MARGIN + LINE_H + grid_h + 2 * MARGIN;
    int32_t height = ramp_y + 2 * LINE_H + RAMP_H + 8 + (v.bad > 0 ? LINE_H : 0) + MARGIN;

    canvas c;
    if (canvas_init(&c, width, height, GREY(255)) != 0)
        return fail(err, es, "out of memory drawing", path);
    canvas_text(&c, MARGIN, MARGIN, title, TEXT, C_TEXT);
    for (int64_t f = 0; f < v.n; f++)
        draw_tile(&c, &v, f, MARGIN + (int32_t)(f % cols) * (tw + GAP),
                  MARGIN + LINE_H + (int32_t)(f / cols) * (th + GAP));
    draw_ramp(&c, &v, MARGIN, ramp_y);
    if (v.bad > 0)
        canvas_text(&c, MARGIN, height - MARGIN - FONT_H * TEXT, note, TEXT, C_BAD);
    int rc = pngout_write(path, &c, err, es);
    canvas_free(&c);
    return rc;
}
