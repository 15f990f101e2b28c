/* Unit tests of cnn-mnist's pictures (examples/cnn_mnist/pic_*.c, canvas.c,
 * plot_panel.c, series.c): odd histories and weights that the command line
 * cannot produce (NaN and infinite costs, costs over 600 decades, no
 * history at all) give a picture or a clear error, never a crash; and the
 * sizes the issue asked for (upscaled filters, 2x digits, RGB) hold.
 * Linked with those sources by examples/meson.build (they need libpng). */
#include "testutil.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <png.h>

#include "canvas.h"
#include "pictures.h"
#include "testfs.h"

static char dir[256];

static void make_dir(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/cnn-pictures-XXXXXX", base && base[0] ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(void)
{
    test_rm_tree(dir);
}

static const char *out(const char *name)
{
    static char path[320];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

typedef struct png_head {
    uint32_t w, h;
    int colour; /* 2: RGB */
} png_head;

/* Width, height and colour type from the IHDR chunk (big-endian). */
static png_head read_head(const char *path)
{
    size_t n = 0;
    uint8_t *b = test_read_file(path, &n);
    ck_assert_uint_ge(n, 26);
    ck_assert_int_eq(memcmp(b + 1, "PNG", 3), 0);
    png_head h = {(uint32_t)b[16] << 24 | (uint32_t)b[17] << 16 | (uint32_t)b[18] << 8 | b[19],
                  (uint32_t)b[20] << 24 | (uint32_t)b[21] << 16 | (uint32_t)b[22] << 8 | b[23],
                  b[25]};
    free(b);
    return h;
}

/* The longest run of black pixels in any row (horizontal) or column of
 * the RGB picture at path: the size of a solid black block, which glyphs
 * (at most 9 pixels) and frames (grey) never reach. */
static int32_t longest_black_run(const char *path, int vertical)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    ck_assert_int_ne(png_image_begin_read_from_file(&img, path), 0);
    img.format = PNG_FORMAT_RGB;
    uint8_t *px = malloc(PNG_IMAGE_SIZE(img));
    ck_assert_ptr_nonnull(px);
    ck_assert_int_ne(png_image_finish_read(&img, NULL, px, 0, NULL), 0);
    int32_t w = (int32_t)img.width, h = (int32_t)img.height, best = 0;
    int32_t outer = vertical ? w : h, inner = vertical ? h : w;
    for (int32_t i = 0; i < outer; i++) {
        int32_t run = 0;
        for (int32_t j = 0; j < inner; j++) {
            size_t at = vertical ? (size_t)j * (size_t)w + (size_t)i : (size_t)i * (size_t)w + (size_t)j;
            const uint8_t *p = px + 3 * at;
            run = p[0] == 0 && p[1] == 0 && p[2] == 0 ? run + 1 : 0;
            best = run > best ? run : best;
        }
    }
    free(px);
    return best;
}

/* ---- canvas ---------------------------------------------------------------- */

static rgb pixel(const canvas *c, int32_t x, int32_t y)
{
    const uint8_t *p = c->px + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
    return RGB(p[0], p[1], p[2]);
}

START_TEST(canvas_sizes)
{
    canvas c;
    ck_assert_int_eq(canvas_init(&c, 0, 5, GREY(255)), -1);
    ck_assert_int_eq(canvas_init(&c, 5, -1, GREY(255)), -1);
    ck_assert_int_eq(canvas_init(&c, 16385, 5, GREY(255)), -1);
    ck_assert_int_eq(canvas_init(&c, 3, 2, RGB(1, 2, 3)), 0);
    ck_assert_uint_eq(pixel(&c, 2, 1), RGB(1, 2, 3));
    canvas_free(&c);
}
END_TEST

START_TEST(canvas_clips)
{
    canvas c;
    ck_assert_int_eq(canvas_init(&c, 4, 4, GREY(255)), 0);
    /* x + w past INT32_MAX must clip, not wrap to a negative width. */
    canvas_rect(&c, 2, 2, INT32_MAX, INT32_MAX, GREY(0));
    ck_assert_uint_eq(pixel(&c, 3, 3), GREY(0));
    ck_assert_uint_eq(pixel(&c, 1, 1), GREY(255));
    canvas_rect(&c, -INT32_MAX, -5, INT32_MAX, 7, RGB(9, 9, 9)); /* ends at x = 0 */
    ck_assert_uint_eq(pixel(&c, 0, 0), GREY(255));
    canvas_line(&c, -100000, -100000, 100000, 100000, RGB(7, 7, 7));
    ck_assert_uint_eq(pixel(&c, 1, 1), RGB(7, 7, 7));
    canvas_frame(&c, 0, 0, 4, 4, RGB(5, 5, 5));
    ck_assert_uint_eq(pixel(&c, 0, 3), RGB(5, 5, 5));
    ck_assert_uint_eq(pixel(&c, 2, 1), GREY(255));
    canvas_free(&c);
}
END_TEST

START_TEST(text_scales)
{
    canvas c;
    ck_assert_int_eq(canvas_text_width("10", 3), (2 * (FONT_W + 1) - 1) * 3);
    ck_assert_int_eq(canvas_text_width("", 3), 0);
    ck_assert_int_eq(canvas_init(&c, 20, 20, GREY(255)), 0);
    canvas_text(&c, 0, 0, "7", 3, GREY(0));
    /* "7" at scale 3: a 9x15 glyph whose top row is full. */
    for (int32_t x = 0; x < 9; x++)
        ck_assert_uint_eq(pixel(&c, x, 0), GREY(0));
    for (int32_t y = 0; y < 20; y++)
        for (int32_t x = 0; x < 20; x++)
            if (x >= 9 || y >= 15)
                ck_assert_uint_eq(pixel(&c, x, y), GREY(255));
    canvas_free(&c);
}
END_TEST

/* ---- the plot -------------------------------------------------------------- */

static void push(series *s, double x, double y)
{
    ck_assert_int_eq(series_push(s, x, y), 0);
}

static void free_log(epoch_log *log)
{
    series_free(&log->cost);
    series_free(&log->validation);
    series_free(&log->test);
    series_free(&log->steps);
}

static void plot_ok(const epoch_log *logs, int32_t nets, const char *name)
{
    char err[256] = "";
    ck_assert_msg(picture_plot(logs, nets, out(name), err, sizeof err) == 0, "%s", err);
    png_head h = read_head(out(name));
    ck_assert_int_eq(h.colour, 2);
    ck_assert_uint_ge(h.w, 640);
    ck_assert_uint_ge(h.h, 480);
}

START_TEST(plot_one_epoch)
{
    epoch_log log = {0};
    for (int i = 1; i <= 10; i++)
        push(&log.steps, i / 10.0, 2.3 / i);
    push(&log.cost, 1, 0.9);
    push(&log.validation, 1, 0.91);
    push(&log.test, 1, 0.9);
    log.best_epoch = 1;
    log.best_validation = 0.91;
    log.test_at_best = 0.9;
    log.step_batches = 100;
    plot_ok(&log, 1, "one.png");
    free_log(&log);
}
END_TEST

START_TEST(plot_nonfinite)
{
    /* NaN and infinite costs and accuracies, accuracies of -1 (no set), a
     * best epoch with NaN figures: left off, not drawn across the picture. */
    epoch_log log = {0};
    push(&log.steps, 0.5, NAN);
    push(&log.steps, 1.0, INFINITY);
    push(&log.cost, 1, NAN);
    push(&log.cost, 2, -INFINITY);
    push(&log.validation, 1, NAN);
    push(&log.validation, 2, -1.0);
    push(&log.test, 1, INFINITY);
    push(&log.test, 2, 0.5);
    log.best_epoch = 2;
    log.best_validation = NAN;
    log.test_at_best = NAN;
    plot_ok(&log, 1, "nan.png");
    free_log(&log);
}
END_TEST

START_TEST(plot_extreme_costs)
{
    /* 600 decades of cost on a log axis; then all-zero costs (linear). */
    epoch_log log[2];
    memset(log, 0, sizeof log);
    push(&log[0].cost, 1, 1e300);
    push(&log[0].cost, 2, 1e-300);
    push(&log[0].steps, 1.5, 0.0); /* rounds to 0: left off the log axis */
    push(&log[0].steps, 1.7, -1e-17);
    push(&log[0].validation, 1, 0.5);
    push(&log[0].validation, 2, 1.0);
    push(&log[1].cost, 100000, 0.0); /* a resumed run deep into its epochs */
    push(&log[1].validation, 100000, 1.0);
    plot_ok(log, 1, "extreme.png");
    plot_ok(&log[1], 1, "zero.png");
    plot_ok(log, 2, "ensemble.png");
    free_log(&log[0]);
    free_log(&log[1]);
}
END_TEST

START_TEST(plot_no_history)
{
    epoch_log log = {0};
    char err[256] = "";
    ck_assert_int_eq(picture_plot(&log, 1, out("none.png"), err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "no training history to plot"));
    ck_assert_int_eq(access(out("none.png"), F_OK), -1);
    ck_assert_int_eq(picture_plot(&log, 0, out("none.png"), err, sizeof err), -1);
}
END_TEST

/* ---- errors ------------------------------------------------------------------ */

/* n blank images but for full ink on row 14 and column 14 of each. */
static cnn_dataset *digits(int64_t n, int32_t c, const uint8_t *labels)
{
    uint8_t *px = calloc((size_t)n * (size_t)c * 28 * 28, 1);
    ck_assert_ptr_nonnull(px);
    for (int64_t k = 0; k < n * c; k++)
        for (int i = 0; i < 28; i++)
            px[k * 784 + 14 * 28 + i] = px[k * 784 + i * 28 + 14] = 255;
    cnn_dataset *ds = NULL;
    ck_assert_ok(cnn_dataset_create(n, c, 28, 28, px, labels, &ds));
    free(px);
    return ds;
}

START_TEST(errors_cells)
{
    const uint8_t labels[3] = {1, 2, 3};
    const int32_t pred[3] = {1, 5, 7}, right[3] = {1, 2, 3};
    cnn_dataset *ds = digits(3, 1, labels);
    char err[256] = "";
    int32_t drawn = -1;
    int64_t total = -1;
    ck_assert_msg(picture_errors(ds, pred, out("e.png"), &drawn, &total, err, sizeof err) == 0,
                  "%s", err);
    ck_assert_int_eq(drawn, 2);
    ck_assert_int_eq(total, 2);
    png_head h = read_head(out("e.png"));
    ck_assert_int_eq(h.colour, 2);
    ck_assert_uint_ge(h.w, 2 * 56);
    ck_assert_uint_ge(h.h, 56);
    /* The inked row and column of the 28x28 digit: drawn at 2x. */
    ck_assert_int_eq(longest_black_run(out("e.png"), 0), 56);
    ck_assert_int_eq(longest_black_run(out("e.png"), 1), 56);
    ck_assert_msg(picture_errors(ds, right, out("e0.png"), &drawn, &total, err, sizeof err) == 0,
                  "%s", err);
    ck_assert_int_eq(drawn, 0);
    ck_assert_int_eq(total, 0);
    cnn_dataset_destroy(ds);

    /* Colour images cannot be drawn as grey digits: an error, no file. */
    uint8_t l3[1] = {0};
    int32_t p3[1] = {1};
    ds = digits(1, 3, l3);
    ck_assert_int_eq(picture_errors(ds, p3, out("e3.png"), &drawn, &total, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "cannot be drawn"));
    ck_assert_int_eq(access(out("e3.png"), F_OK), -1);
    cnn_dataset_destroy(ds);
}
END_TEST

/* ---- filters -------------------------------------------------------------- */

static cnn_net *conv_net(int32_t maps, int32_t k)
{
    cnn_net *net = NULL;
    cnn_conv2d_params p;
    cnn_layer *l = NULL;
    ck_assert_ok(cnn_net_create(1, 28, 28, 1, &net));
    ck_assert_ok(cnn_conv2d_params_init(&p, maps, k, k));
    ck_assert_ok(cnn_conv2d_create(&p, &l));
    ck_assert_ok(cnn_net_add(net, l));
    return net;
}

static float *first_weights(cnn_net *net)
{
    return cnn_tensor_data(cnn_layer_param(cnn_net_layer(net, 0), CNN_PARAM_WEIGHTS));
}

START_TEST(filters_upscaled)
{
    cnn_net *net = conv_net(20, 5);
    float *w = first_weights(net);
    char err[256] = "";
    int64_t bad = -1;
    /* Filter 0 all at the largest weight (a black tile), the rest lower. */
    for (int i = 0; i < 20 * 25; i++)
        w[i] = i < 25 ? 1.0f : 0.1f * (float)(i % 7);
    ck_assert_msg(picture_filters(net, out("f.png"), &bad, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(bad, 0);
    /* 20 tiles in rows of 5, each 5x5 weights upscaled to 48 pixels or more:
     * the black tile is a solid square that large. */
    png_head h = read_head(out("f.png"));
    ck_assert_int_eq(h.colour, 2);
    ck_assert_uint_ge(h.w, 5 * 48);
    ck_assert_uint_ge(h.h, 4 * 48);
    ck_assert_int_ge(longest_black_run(out("f.png"), 0), 48);
    ck_assert_int_ge(longest_black_run(out("f.png"), 1), 48);
    cnn_net_destroy(net);
}
END_TEST

START_TEST(filters_odd_weights)
{
    cnn_net *net = conv_net(4, 3);
    float *w = first_weights(net);
    char err[256] = "";
    int64_t bad = -1;
    w[0] = NAN;
    w[1] = INFINITY;
    w[2] = FLT_MAX;
    w[3] = -FLT_MAX;
    ck_assert_msg(picture_filters(net, out("odd.png"), &bad, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(bad, 2);
    /* Every weight NaN: still a picture (red tiles, "no finite weights"). */
    for (int i = 0; i < 4 * 9; i++)
        w[i] = NAN;
    ck_assert_msg(picture_filters(net, out("nan.png"), &bad, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(bad, 36);
    /* All equal: one grey, no division by a zero span. */
    for (int i = 0; i < 4 * 9; i++)
        w[i] = 0.5f;
    ck_assert_msg(picture_filters(net, out("flat.png"), &bad, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(bad, 0);
    cnn_net_destroy(net);
}
END_TEST

START_TEST(filters_not_images)
{
    cnn_net *net = NULL;
    cnn_pool2d_params p;
    cnn_layer *l = NULL;
    ck_assert_ok(cnn_net_create(1, 28, 28, 1, &net));
    ck_assert_ok(cnn_pool2d_params_init(&p, CNN_POOL_MAX, 2, 2));
    ck_assert_ok(cnn_pool2d_create(&p, &l));
    ck_assert_ok(cnn_net_add(net, l));
    char err[256] = "";
    int64_t bad = -1;
    ck_assert_int_eq(picture_filters(net, out("pool.png"), &bad, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "cannot be drawn as images"));
    cnn_net_destroy(net);
}
END_TEST

static Suite *pictures_suite(void)
{
    Suite *s = suite_create("pictures");
    TCase *tc = tcase_create("canvas");
    tcase_add_test(tc, canvas_sizes);
    tcase_add_test(tc, canvas_clips);
    tcase_add_test(tc, text_scales);
    suite_add_tcase(s, tc);
    tc = tcase_create("files");
    tcase_add_checked_fixture(tc, make_dir, remove_dir);
    tcase_add_test(tc, plot_one_epoch);
    tcase_add_test(tc, plot_nonfinite);
    tcase_add_test(tc, plot_extreme_costs);
    tcase_add_test(tc, plot_no_history);
    tcase_add_test(tc, errors_cells);
    tcase_add_test(tc, filters_upscaled);
    tcase_add_test(tc, filters_odd_weights);
    tcase_add_test(tc, filters_not_images);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(pictures_suite()) == 0 ? 0 : 1;
}
