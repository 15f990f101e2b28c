/* --errors: the misclassified test digits, each in a framed cell with its
 * true label (top right, blue) and the prediction (bottom right,
 * vermillion) inside the frame, so that no label can be read as a
 * neighbour's; a legend above says which is which. */
#include "pictures.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "canvas.h"
#include "pngout.h"

#define MAX_ERRORS_DRAWN 400
#define MARGIN 12
#define DIGIT_SCALE 2 /* a 28x28 digit becomes 56x56 */
#define LABEL_SCALE 3 /* 9x15 pixel labels */
#define TEXT 2        /* font scale of the header */
#define LINE_H 16
#define PAD 3         /* inside a cell's frame */
#define GAP 8         /* between cells */
#define C_TEXT GREY(0)
#define C_FRAME GREY(170)
#define C_TRUE RGB(0, 114, 178)
#define C_PRED RGB(213, 94, 0)

static int fail(char *err, size_t es, const char *msg, const char *path)
{
    snprintf(err, es, "%s '%s'", msg, path);
    return -1;
}

typedef struct cell_layout {
    int32_t dig_w, dig_h; /* the digit, in pixels */
    int32_t w, h;         /* the frame around digit and labels */
    int32_t cols, rows;
    int32_t top;          /* y of the first row */
} cell_layout;

static cell_layout layout(const int32_t shape[3], int32_t n)
{
    cell_layout l;
    l.dig_w = shape[2] * DIGIT_SCALE;
    l.dig_h = shape[1] * DIGIT_SCALE;
    int32_t lab_w = FONT_W * LABEL_SCALE, lab_h = FONT_H * LABEL_SCALE;
    l.w = 1 + PAD + l.dig_w + PAD + lab_w + PAD + 1;
    /* Tall enough that the two labels never touch, even for tiny images. */
    int32_t inner = l.dig_h > 2 * lab_h + PAD ? l.dig_h : 2 * lab_h + PAD;
    l.h = 1 + PAD + inner + PAD + 1;
    /* The chapter's 33 errors sit in rows of 8; wider rows for many. */
    l.cols = n <= 40 ? (n < 8 ? (n > 0 ? n : 1) : 8) : 16;
    l.rows = n > 0 ? (n + l.cols - 1) / l.cols : 0;
    l.top = MARGIN + 2 * LINE_H + 4;
    return l;
}

/* The header: what is shown, and the legend in the labels' colours. */
static void draw_header(canvas *c, int32_t n, int64_t wrong, int64_t count)
{
    char buf[128];
    if (wrong == 0)
        snprintf(buf, sizeof buf, "NO MISCLASSIFIED DIGITS AMONG %lld TEST IMAGES",
                 (long long)count);
    else if (n < wrong)
        snprintf(buf, sizeof buf, "THE FIRST %d OF %lld MISCLASSIFIED TEST DIGITS (OF %lld)",
                 (int)n, (long long)wrong, (long long)count);
    else
        snprintf(buf, sizeof buf, "%lld MISCLASSIFIED TEST DIGITS (OF %lld)", (long long)wrong,
                 (long long)count);
    canvas_text(c, MARGIN, MARGIN, buf, TEXT, C_TEXT);
    if (wrong == 0)
        return;
    const char *t = "TOP RIGHT: TRUE LABEL", *p = "BOTTOM RIGHT: PREDICTED";
    canvas_text(c, MARGIN, MARGIN + LINE_H, t, TEXT, C_TRUE);
    canvas_text(c, MARGIN + canvas_text_width(t, TEXT) + 24, MARGIN + LINE_H, p, TEXT, C_PRED);
}

static int32_t header_width(int64_t wrong, int64_t count)
{
    char buf[128];
    snprintf(buf, sizeof buf, "THE FIRST 400 OF %lld MISCLASSIFIED TEST DIGITS (OF %lld)",
             (long long)wrong, (long long)count);
    int32_t a = canvas_text_width(buf, TEXT);
    int32_t b = canvas_text_width("TOP RIGHT: TRUE LABEL", TEXT) + 24 +
                canvas_text_width("BOTTOM RIGHT: PREDICTED", TEXT);
    return a > b ? a : b;
}

/* One digit (pixels are byte/256: ink becomes black on white) with its
 * frame and labels. */
static void draw_cell(canvas *c, const cell_layout *l, int32_t x0, int32_t y0,
                      const int32_t shape[3], const float *pix, int32_t label, int32_t pred)
{
    char t[16], p[16];
    canvas_frame(c, x0, y0, l->w, l->h, C_FRAME);
    int32_t dx = x0 + 1 + PAD, dy = y0 + (l->h - l->dig_h) / 2;
    for (int32_t y = 0; y < shape[1]; y++)
        for (int32_t x = 0; x < shape[2]; x++) {
            float v = pix[y * shape[2] + x] * 256.0f;
            v = v > 255.0f ? 255.0f : v > 0.0f ? v : 0.0f; /* also NaN -> 0 */
            canvas_rect(c, dx + x * DIGIT_SCALE, dy + y * DIGIT_SCALE, DIGIT_SCALE, DIGIT_SCALE,
                        GREY(255 - (int)lrintf(v)));
        }
    snprintf(t, sizeof t, "%d", (int)label);
    snprintf(p, sizeof p, "%d", (int)pred);
    int32_t right = x0 + l->w - 1 - PAD;
    canvas_text(c, right - canvas_text_width(t, LABEL_SCALE), y0 + 1 + PAD, t, LABEL_SCALE,
                C_TRUE);
    canvas_text(c, right - canvas_text_width(p, LABEL_SCALE),
                y0 + l->h - 1 - PAD - FONT_H * LABEL_SCALE, p, LABEL_SCALE, C_PRED);
}

static int64_t count_wrong(const cnn_dataset *test, const int32_t *predicted)
{
    int64_t wrong = 0, count = cnn_dataset_count(test);
    for (int64_t i = 0; i < count; i++) {
        int32_t label;
        if (cnn_dataset_get(test, i, NULL, &label) == CNN_OK && label != predicted[i])
            wrong++;
    }
    return wrong;
}

int picture_errors(const cnn_dataset *test, const int32_t *predicted, const char *path,
                   int32_t *drawn, int64_t *total, char *err, size_t es)
{
    int32_t shape[3];
    int64_t count = cnn_dataset_count(test);
    *drawn = 0;
    if (cnn_dataset_shape(test, shape) != CNN_OK || shape[0] != 1 || shape[1] < 1 ||
        shape[2] < 1 || shape[1] > 256 || shape[2] > 256)
        return fail(err, es, "the test set cannot be drawn in", path);
    int64_t wrong = count_wrong(test, predicted);
    *total = wrong;
    int32_t n = wrong > MAX_ERRORS_DRAWN ? MAX_ERRORS_DRAWN : (int32_t)wrong;
    cell_layout l = layout(shape, n);
    int32_t grid_w = l.cols * l.w + (l.cols - 1) * GAP;
    int32_t head_w = header_width(wrong, count);
    int32_t width = 2 * MARGIN + (grid_w > head_w ? grid_w : head_w);
    int32_t height = l.rows > 0 ? l.top + l.rows * l.h + (l.rows - 1) * GAP + MARGIN
                                : 2 * MARGIN + FONT_H * TEXT; /* the header's one line */

    canvas c;
    if (canvas_init(&c, width, height, GREY(255)) != 0)
        return fail(err, es, "out of memory drawing", path);
    float *pix = malloc((size_t)shape[1] * (size_t)shape[2] * sizeof *pix);
    if (pix == NULL) {
        canvas_free(&c);
        return fail(err, es, "out of memory drawing", path);
    }
    draw_header(&c, n, wrong, count);
    int32_t k = 0;
    for (int64_t i = 0; i < count && k < n; i++) {
        int32_t label;
        if (cnn_dataset_get(test, i, pix, &label) != CNN_OK || label == predicted[i])
            continue;
        draw_cell(&c, &l, MARGIN + (k % l.cols) * (l.w + GAP), l.top + (k / l.cols) * (l.h + GAP),
                  shape, pix, label, predicted[i]);
        k++;
    }
    free(pix);
    int rc = pngout_write(path, &c, err, es);
    canvas_free(&c);
    if (rc == 0)
        *drawn = k;
    return rc;
}
