/* Layers on their own (no network): constructor validation, parameter
 * defaults, output shapes, parameter views, and forward/backward of every
 * kind against naive double-precision loops written here. */
#include "testutil.h"

#include "core.h" /* cnn_rng: dense_dropout_exact_mask reproduces the mask */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

/* Float sums of up to a few hundred terms of magnitude <= 1 (a weight
 * gradient sums over the batch and every output position), compared
 * relative to max(|a|, |b|, FLOOR).  libcnn's own convolution kernels sum
 * each output in one sequential chain (ukr.h), whose rounding error grows
 * faster with the term count than the BLAS's blocked sums: 2.1e-5 was seen
 * on the padded, strided tanh case with n = 7, so the bound is 5e-5; an
 * indexing mistake gives errors of order 1. */
#define TOL 5e-5
#define FLOOR 1e-2

/* ---- small helpers ------------------------------------------------------- */

static cnn_tensor *tensor4(int64_t n, int64_t c, int64_t h, int64_t w)
{
    const int64_t shape[4] = {n, c, h, w};
    cnn_tensor *t = NULL;
    ck_assert_ok(cnn_tensor_create(4, shape, &t));
    return t;
}

static cnn_tensor *tensor2(int64_t n, int64_t k)
{
    const int64_t shape[2] = {n, k};
    cnn_tensor *t = NULL;
    ck_assert_ok(cnn_tensor_create(2, shape, &t));
    return t;
}

static void fill(cnn_tensor *t, uint64_t seed, float lo, float hi)
{
    test_rng r;
    test_rng_seed(&r, seed);
    test_fill_uniform(&r, cnn_tensor_data(t), (size_t)cnn_tensor_numel(t), lo, hi);
}

static double *dalloc(size_t n)
{
    double *p = calloc(n ? n : 1, sizeof *p);
    ck_assert_ptr_nonnull(p);
    return p;
}

/* Largest relative error of float results against double references. */
static double rel_err(const float *got, const double *want, size_t n, double floor)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double scale = fmax(fmax(fabs(got[i]), fabs(want[i])), floor);
        double e = fabs((double)got[i] - want[i]) / scale;
        if (!(e <= worst))
            worst = isnan(e) ? INFINITY : e;
    }
    return worst;
}

#define ASSERT_CLOSE(got, want, n, what)                                                 \
    do {                                                                                 \
        double e_ = rel_err((got), (want), (size_t)(n), FLOOR);                         \
        ck_assert_msg(e_ < TOL, "%s: relative error %.3g (tolerance %.1g)", (what), e_, TOL); \
    } while (0)

static double act_f(int act, double z)
{
    switch (act) {
    case CNN_ACT_SIGMOID:
        return 1.0 / (1.0 + exp(-z));
    case CNN_ACT_TANH:
        return tanh(z);
    case CNN_ACT_RELU:
        return z > 0.0 ? z : 0.0;
    default:
        return z;
    }
}

/* f'(z) from y = f(z). */
static double act_d(int act, double y)
{
    switch (act) {
    case CNN_ACT_SIGMOID:
        return y * (1.0 - y);
    case CNN_ACT_TANH:
        return 1.0 - y * y;
    case CNN_ACT_RELU:
        return y > 0.0 ? 1.0 : 0.0;
    default:
        return 1.0;
    }
}

static const char *act_name(int act)
{
    static const char *names[] = {"identity", "sigmoid", "tanh", "relu"};
    return names[act];
}

/* ---- naive convolution (+ fused pooling) --------------------------------- */

typedef struct conv_case {
    int n, c, h, w;      /* input */
    int o, kh, kw;       /* filters */
    int sh, sw, ph, pw;  /* stride, padding */
    int act, pool, poolh, poolw;
} conv_case;

static int conv_oh(const conv_case *k) { return (k->h + 2 * k->ph - k->kh) / k->sh + 1; }
static int conv_ow(const conv_case *k) { return (k->w + 2 * k->pw - k->kw) / k->sw + 1; }
static int out_h(const conv_case *k) { return k->pool ? conv_oh(k) / k->poolh : conv_oh(k); }
static int out_w(const conv_case *k) { return k->pool ? conv_ow(k) / k->poolw : conv_ow(k); }

static double xpad(const conv_case *k, const float *x, int n, int c, int iy, int ix)
{
    if (iy < 0 || iy >= k->h || ix < 0 || ix >= k->w)
        return 0.0;
    return x[(((size_t)n * k->c + c) * k->h + iy) * k->w + ix];
}

/* conv (no bias): n x o x oh x ow */
static double *naive_conv(const conv_case *k, const float *x, const float *w)
{
    int oh = conv_oh(k), ow = conv_ow(k);
    double *z = dalloc((size_t)k->n * k->o * oh * ow);
    for (int n = 0; n < k->n; n++)
        for (int o = 0; o < k->o; o++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    double s = 0.0;
                    for (int c = 0; c < k->c; c++)
                        for (int i = 0; i < k->kh; i++)
                            for (int j = 0; j < k->kw; j++)
                                s += (double)w[((o * k->c + c) * k->kh + i) * k->kw + j] *
                                     xpad(k, x, n, c, oy * k->sh + i - k->ph, ox * k->sw + j - k->pw);
                    z[(((size_t)n * k->o + o) * oh + oy) * ow + ox] = s;
                }
    return z;
}

/* Naive pooling of planes x planes of (h, w) with window (wh, ww) and stride (sh, sw). */
static double *naive_pool(int mode, int planes, int h, int w, int wh, int ww, int sh, int sw,
                          const double *x, int *poh, int *pow_)
{
    int oh = (h - wh) / sh + 1, ow = (w - ww) / sw + 1;
    double *y = dalloc((size_t)planes * oh * ow);
    for (int p = 0; p < planes; p++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                double best = -INFINITY, sum = 0.0, sq = 0.0;
                for (int i = 0; i < wh; i++)
                    for (int j = 0; j < ww; j++) {
                        double v = x[((size_t)p * h + oy * sh + i) * w + ox * sw + j];
                        best = v > best ? v : best;
                        sum += v;
                        sq += v * v;
                    }
                y[((size_t)p * oh + oy) * ow + ox] =
                    mode == CNN_POOL_MAX ? best : mode == CNN_POOL_AVG ? sum / (wh * ww) : sqrt(sq);
            }
    *poh = oh;
    *pow_ = ow;
    return y;
}

/* Gradient of naive_pool w.r.t. x given dy (max: to the first maximum). */
static double *naive_pool_bwd(int mode, int planes, int h, int w, int wh, int ww, int sh, int sw,
                              const double *x, const double *y, const double *dy)
{
    int oh = (h - wh) / sh + 1, ow = (w - ww) / sw + 1;
    double *dx = dalloc((size_t)planes * h * w);
    for (int p = 0; p < planes; p++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                size_t oi = ((size_t)p * oh + oy) * ow + ox;
                size_t first = 0;
                double best = -INFINITY;
                for (int i = 0; i < wh; i++)
                    for (int j = 0; j < ww; j++) {
                        size_t xi = ((size_t)p * h + oy * sh + i) * w + ox * sw + j;
                        if (mode == CNN_POOL_MAX) {
                            if (x[xi] > best) {
                                best = x[xi];
                                first = xi;
                            }
                        } else if (mode == CNN_POOL_AVG) {
                            dx[xi] += dy[oi] / (wh * ww);
                        } else {
                            dx[xi] += y[oi] != 0.0 ? dy[oi] * x[xi] / y[oi] : 0.0;
                        }
                    }
                if (mode == CNN_POOL_MAX)
                    dx[first] += dy[oi];
            }
    return dx;
}

typedef struct conv_ref {
    double *y;   /* n x o x OH x OW */
    double *dw, *db, *dx;
} conv_ref;

static void conv_ref_free(conv_ref *r)
{
    free(r->y);
    free(r->dw);
    free(r->db);
    free(r->dx);
}

/* Forward and, if dy != NULL, backward of act(pool(conv(x)) + b). */
static conv_ref naive_conv_layer(const conv_case *k, const float *x, const float *w,
                                 const float *b, const float *dy)
{
    conv_ref r = {0};
    int oh = conv_oh(k), ow = conv_ow(k);
    size_t planes = (size_t)k->n * k->o;
    double *z = naive_conv(k, x, w);
    double *pooled = z;
    int ph = oh, pw = ow;
    if (k->pool)
        pooled = naive_pool(k->pool, (int)planes, oh, ow, k->poolh, k->poolw, k->poolh, k->poolw, z,
                            &ph, &pw);
    size_t plane = (size_t)ph * pw, count = planes * plane;
    r.y = dalloc(count);
    for (size_t i = 0; i < count; i++)
        r.y[i] = act_f(k->act, pooled[i] + b[(i / plane) % k->o]);
    if (dy) {
        double *dpre = dalloc(count);
        r.db = dalloc((size_t)k->o);
        for (size_t i = 0; i < count; i++) {
            dpre[i] = dy[i] * act_d(k->act, r.y[i]);
            r.db[(i / plane) % k->o] += dpre[i];
        }
        double *dz = dpre;
        if (k->pool)
            dz = naive_pool_bwd(k->pool, (int)planes, oh, ow, k->poolh, k->poolw, k->poolh,
                                k->poolw, z, pooled, dpre);
        r.dw = dalloc((size_t)k->o * k->c * k->kh * k->kw);
        r.dx = dalloc((size_t)k->n * k->c * k->h * k->w);
        for (int n = 0; n < k->n; n++)
            for (int o = 0; o < k->o; o++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++) {
                        double g = dz[(((size_t)n * k->o + o) * oh + oy) * ow + ox];
                        for (int c = 0; c < k->c; c++)
                            for (int i = 0; i < k->kh; i++)
                                for (int j = 0; j < k->kw; j++) {
                                    int iy = oy * k->sh + i - k->ph, ix = ox * k->sw + j - k->pw;
                                    size_t wi = ((size_t)(o * k->c + c) * k->kh + i) * k->kw + j;
                                    r.dw[wi] += g * xpad(k, x, n, c, iy, ix);
                                    if (iy >= 0 && iy < k->h && ix >= 0 && ix < k->w)
                                        r.dx[(((size_t)n * k->c + c) * k->h + iy) * k->w + ix] +=
                                            g * w[wi];
                                }
                    }
        if (dz != dpre)
            free(dz);
        free(dpre);
    }
    if (pooled != z)
        free(pooled);
    free(z);
    return r;
}

static cnn_layer *make_conv(const conv_case *k, uint64_t seed)
{
    cnn_conv2d_params p;
    ck_assert_ok(cnn_conv2d_params_init(&p, k->o, k->kh, k->kw));
    p.in_channels = k->c;
    p.stride_h = k->sh;
    p.stride_w = k->sw;
    p.pad_h = k->ph;
    p.pad_w = k->pw;
    p.activation = k->act;
    p.pool = k->pool;
    p.pool_h = k->poolh;
    p.pool_w = k->poolw;
    p.seed = seed;
    cnn_layer *l = NULL;
    ck_assert_ok(cnn_conv2d_create(&p, &l));
    ck_assert_ptr_nonnull(l);
    /* Random weights and biases through the views. */
    fill(cnn_layer_param(l, CNN_PARAM_WEIGHTS), seed + 1, -0.5f, 0.5f);
    fill(cnn_layer_param(l, CNN_PARAM_BIASES), seed + 2, -0.5f, 0.5f);
    return l;
}

/* Runs one conv case forward (train mode) and backward and compares all. */
static void check_conv_case(const conv_case *k, const char *what)
{
    cnn_layer *l = make_conv(k, 7);
    cnn_tensor *x = tensor4(k->n, k->c, k->h, k->w);
    fill(x, 11, -1.0f, 1.0f);
    int oh = out_h(k), ow = out_w(k);
    int32_t in3[3] = {k->c, k->h, k->w}, out3[3];
    ck_assert_ok(cnn_layer_output_shape(l, in3, out3));
    ck_assert_int_eq(out3[0], k->o);
    ck_assert_int_eq(out3[1], oh);
    ck_assert_int_eq(out3[2], ow);
    cnn_tensor *y = tensor4(k->n, k->o, oh, ow);
    cnn_tensor *dy = tensor4(k->n, k->o, oh, ow);
    cnn_tensor *dx = tensor4(k->n, k->c, k->h, k->w);
    fill(dy, 13, -1.0f, 1.0f);

    const float *w = cnn_tensor_data(cnn_layer_param(l, CNN_PARAM_WEIGHTS));
    const float *b = cnn_tensor_data(cnn_layer_param(l, CNN_PARAM_BIASES));
    conv_ref r = naive_conv_layer(k, cnn_tensor_data(x), w, b, cnn_tensor_data(dy));
    size_t ny = (size_t)cnn_tensor_numel(y);

    /* Inference and training give the same outputs. */
    ck_assert_ok(cnn_layer_forward(l, x, y, CNN_MODE_INFER));
    ASSERT_CLOSE(cnn_tensor_data(y), r.y, ny, what);
    ck_assert_ok(cnn_layer_forward(l, x, y, CNN_MODE_TRAIN));
    ASSERT_CLOSE(cnn_tensor_data(y), r.y, ny, what);

    float *dy_before = malloc(ny * sizeof *dy_before);
    memcpy(dy_before, cnn_tensor_data(dy), ny * sizeof *dy_before);
    ck_assert_ok(cnn_layer_backward(l, x, y, dy, dx));
    /* The caller's dy is const. */
    ck_assert_int_eq(memcmp(dy_before, cnn_tensor_data(dy), ny * sizeof *dy_before), 0);
    free(dy_before);

    cnn_tensor *gw = cnn_layer_param(l, CNN_PARAM_GRAD_WEIGHTS);
    cnn_tensor *gb = cnn_layer_param(l, CNN_PARAM_GRAD_BIASES);
    ASSERT_CLOSE(cnn_tensor_data(gw), r.dw, cnn_tensor_numel(gw), what);
    ASSERT_CLOSE(cnn_tensor_data(gb), r.db, cnn_tensor_numel(gb), what);
    ASSERT_CLOSE(cnn_tensor_data(dx), r.dx, cnn_tensor_numel(dx), what);

    /* Backward without dx still gives the parameter gradients. */
    memset(cnn_tensor_data(gw), 0, (size_t)cnn_tensor_numel(gw) * sizeof(float));
    ck_assert_ok(cnn_layer_backward(l, x, y, dy, NULL));
    ASSERT_CLOSE(cnn_tensor_data(gw), r.dw, cnn_tensor_numel(gw), what);

    conv_ref_free(&r);
    cnn_tensor_destroy(x);
    cnn_tensor_destroy(y);
    cnn_tensor_destroy(dy);
    cnn_tensor_destroy(dx);
    cnn_layer_destroy(l);
}

/* ---- defaults and validation --------------------------------------------- */

START_TEST(params_init_defaults)
{
    cnn_conv2d_params c;
    memset(&c, 0xab, sizeof c);
    ck_assert_ok(cnn_conv2d_params_init(&c, 20, 5, 3));
    ck_assert_uint_eq(c.struct_size, sizeof c);
    {
        /* An older caller's smaller struct: init writes none of the bytes
         * after it. */
        unsigned char raw[sizeof(cnn_conv2d_params) + 8];
        memset(raw, 0xAB, sizeof raw);
        const size_t old = offsetof(cnn_conv2d_params, padding);
        ck_assert_ok(cnn_conv2d_params_init_sized((cnn_conv2d_params *)(void *)raw, old, 8, 3, 3));
        for (size_t i = old; i < sizeof raw; i++)
            ck_assert_uint_eq(raw[i], 0xAB);
        uint32_t size;
        memcpy(&size, raw, sizeof size);
        ck_assert_uint_eq(size, old);
        ck_assert_status(cnn_conv2d_params_init_sized((cnn_conv2d_params *)(void *)raw, old - 1,
                                                      8, 3, 3), CNN_EINVAL);
    }
    ck_assert_int_eq(c.in_channels, 0);
    ck_assert_int_eq(c.out_channels, 20);
    ck_assert_int_eq(c.kernel_h, 5);
    ck_assert_int_eq(c.kernel_w, 3);
    ck_assert_int_eq(c.stride_h, 1);
    ck_assert_int_eq(c.stride_w, 1);
    ck_assert_int_eq(c.pad_h, 0);
    ck_assert_int_eq(c.pad_w, 0);
    ck_assert_int_eq(c.activation, CNN_ACT_SIGMOID);
    ck_assert_int_eq(c.pool, CNN_POOL_NONE);
    ck_assert_int_eq(c.pool_h, 2);
    ck_assert_int_eq(c.pool_w, 2);
    ck_assert_int_eq(c.init, CNN_INIT_NETWORK3);
    ck_assert_uint_eq(c.seed, 0);

    cnn_pool2d_params p;
    memset(&p, 0xab, sizeof p);
    ck_assert_ok(cnn_pool2d_params_init(&p, CNN_POOL_AVG, 3, 2));
    ck_assert_uint_eq(p.struct_size, sizeof p);
    ck_assert_int_eq(p.mode, CNN_POOL_AVG);
    ck_assert_int_eq(p.window_h, 3);
    ck_assert_int_eq(p.window_w, 2);
    ck_assert_int_eq(p.stride_h, 3);
    ck_assert_int_eq(p.stride_w, 2);

    cnn_dense_params d;
    memset(&d, 0xab, sizeof d);
    ck_assert_ok(cnn_dense_params_init(&d, 100));
    ck_assert_uint_eq(d.struct_size, sizeof d);
    ck_assert_int_eq(d.in_features, 0);
    ck_assert_int_eq(d.out_features, 100);
    ck_assert_int_eq(d.activation, CNN_ACT_SIGMOID);
    ck_assert(d.dropout == 0.0f);
    ck_assert_int_eq(d.init, CNN_INIT_NETWORK3);
    ck_assert_uint_eq(d.seed, 0);

    cnn_softmax_params s;
    memset(&s, 0xab, sizeof s);
    ck_assert_ok(cnn_softmax_params_init(&s, 10));
    ck_assert_uint_eq(s.struct_size, sizeof s);
    ck_assert_int_eq(s.in_features, 0);
    ck_assert_int_eq(s.classes, 10);
    ck_assert(s.dropout == 0.0f);
    ck_assert_int_eq(s.init, CNN_INIT_ZERO);
    ck_assert_uint_eq(s.seed, 0);

    ck_assert_status(cnn_conv2d_params_init(NULL, 1, 1, 1), CNN_EINVAL);
    ck_assert_status(cnn_pool2d_params_init(NULL, CNN_POOL_MAX, 2, 2), CNN_EINVAL);
    ck_assert_status(cnn_dense_params_init(NULL, 1), CNN_EINVAL);
    ck_assert_status(cnn_softmax_params_init(NULL, 2), CNN_EINVAL);
}
END_TEST

#define POISON_LAYER ((cnn_layer *)(uintptr_t)0x1)

/* Expects create(&p) to fail with `want` and leave NULL in out. */
#define EXPECT_CREATE_FAILS(create, params, want)    \
    do {                                             \
        cnn_layer *l_ = POISON_LAYER;                \
        ck_assert_status(create(&(params), &l_), (want)); \
        ck_assert_ptr_null(l_);                      \
    } while (0)

START_TEST(conv_validation)
{
    cnn_conv2d_params ok, p;
    ck_assert_ok(cnn_conv2d_params_init(&ok, 4, 3, 3));
    cnn_layer *l = NULL;
    ck_assert_ok(cnn_conv2d_create(&ok, &l));
    ck_assert_int_eq(cnn_layer_kind(l), CNN_LAYER_CONV2D);
    cnn_layer_destroy(l);

    ck_assert_status(cnn_conv2d_create(NULL, &l), CNN_EINVAL);
    ck_assert_ptr_null(l);
    ck_assert_status(cnn_conv2d_create(&ok, NULL), CNN_EINVAL);

    /* A struct shorter than version 0.1's is refused; 0.1's own size (no
     * `padding`) is an older caller: accepted, the missing field defaulted. */
    p = ok; p.struct_size = offsetof(cnn_conv2d_params, padding) - 1;
    EXPECT_CREATE_FAILS(cnn_conv2d_create, p, CNN_EINVAL);
    {
        cnn_conv2d_params old = ok;
        old.struct_size = offsetof(cnn_conv2d_params, padding);
        old.padding = 12345; /* beyond the old caller's struct: never read */
        cnn_layer *l_old = NULL;
        ck_assert_ok(cnn_conv2d_create(&old, &l_old));
        cnn_layer_destroy(l_old);
    }
    p = ok; p.struct_size = 0; EXPECT_CREATE_FAILS(cnn_conv2d_create, p, CNN_EINVAL);
    p = ok; p.out_channels = 0; EXPECT_CREATE_FAILS(cnn_conv2d_create, p, CNN_EINVAL);
    p = ok; p.out_channels = -4; EXPECT_CREATE_FAILS(cnn_conv2d_create, p, CNN_EINVAL);
    p = ok; p.in_channels = -1; EXPECT_CREATE_FAILS(cnn_conv2d_create, p, CNN_EINVAL);
    p = ok; p.kernel_h = 0; EXPECT_CREATE_FAILS(cnn_conv2d_create, p, CNN_EINVAL);
    p = ok; p.kernel_w = -3; EXPECT_CREATE_FAILS(cnn_conv2d_create, p, CNN_EINVAL);
    p = ok; p.stride_h = 0; EXPECT_CREATE_FAILS(cnn_conv2d_create, p, CNN_EINVAL);
    p = ok; p.stride_w = -1; EXPECT_CREATE_FAILS(cnn_conv2d_create, p, CNN_EINVAL);
    p = ok; p.pad_h = -1; EXPECT_CREATE_FAILS(cnn_conv2d_create, p, CNN_EINVAL);
    p = ok; p.pad_w = -2; EXPECT_CREATE_FAILS(cnn_conv2d_create, p, CNN_EINVAL);
    p = ok; p.activation = 4; EXPECT_CREATE_FAILS(cnn_conv2d_create, p, CNN_EINVAL);
    p = ok; p.activation = -1; EXPECT_CREATE_FAILS(cnn_conv2d_create, p, CNN_EINVAL);
    p = ok; p.pool = 4; EXPECT_CREATE_FAILS(cnn_conv2d_create, p, CNN_EINVAL);
    p = ok; p.pool = -1; EXPECT_CREATE_FAILS(cnn_conv2d_create, p, CNN_EINVAL);
    p = ok; p.pool = CNN_POOL_MAX; p.pool_h = 0; EXPECT_CREATE_FAILS(cnn_conv2d_create, p, CNN_EINVAL);
    p = ok; p.pool = CNN_POOL_AVG; p.pool_w = -2; EXPECT_CREATE_FAILS(cnn_conv2d_create, p, CNN_EINVAL);
    p = ok; p.init = 4; EXPECT_CREATE_FAILS(cnn_conv2d_create, p, CNN_EINVAL);
    p = ok; p.init = -1; EXPECT_CREATE_FAILS(cnn_conv2d_create, p, CNN_EINVAL);

    /* Larger struct_size (a newer caller) is fine; padding 0 and every
     * known activation / pool / init are fine. */
    for (int a = CNN_ACT_IDENTITY; a <= CNN_ACT_RELU; a++)
        for (int pm = CNN_POOL_NONE; pm <= CNN_POOL_L2; pm++)
            for (int in = CNN_INIT_NETWORK3; in <= CNN_INIT_ZERO; in++) {
                p = ok;
                p.activation = a;
                p.pool = pm;
                p.init = in;
                p.in_channels = 2;
                ck_assert_ok(cnn_conv2d_create(&p, &l));
                cnn_layer_destroy(l);
            }
}
END_TEST

START_TEST(pool_validation)
{
    cnn_pool2d_params ok, p;
    ck_assert_ok(cnn_pool2d_params_init(&ok, CNN_POOL_MAX, 2, 2));
    cnn_layer *l = NULL;
    for (int m = CNN_POOL_MAX; m <= CNN_POOL_L2; m++) {
        p = ok;
        p.mode = m;
        ck_assert_ok(cnn_pool2d_create(&p, &l));
        ck_assert_int_eq(cnn_layer_kind(l), CNN_LAYER_POOL2D);
        ck_assert_int_eq(cnn_layer_param_count(l), 0);
        ck_assert_ptr_null(cnn_layer_param(l, CNN_PARAM_WEIGHTS));
        ck_assert_ptr_null(cnn_layer_param(l, CNN_PARAM_BIASES));
        cnn_layer_destroy(l);
    }
    ck_assert_status(cnn_pool2d_create(NULL, &l), CNN_EINVAL);
    ck_assert_ptr_null(l);
    ck_assert_status(cnn_pool2d_create(&ok, NULL), CNN_EINVAL);
    p = ok; p.struct_size = sizeof p - 1; EXPECT_CREATE_FAILS(cnn_pool2d_create, p, CNN_EINVAL);
    p = ok; p.mode = CNN_POOL_NONE; EXPECT_CREATE_FAILS(cnn_pool2d_create, p, CNN_EINVAL);
    p = ok; p.mode = 4; EXPECT_CREATE_FAILS(cnn_pool2d_create, p, CNN_EINVAL);
    p = ok; p.mode = -1; EXPECT_CREATE_FAILS(cnn_pool2d_create, p, CNN_EINVAL);
    p = ok; p.window_h = 0; EXPECT_CREATE_FAILS(cnn_pool2d_create, p, CNN_EINVAL);
    p = ok; p.window_w = -2; EXPECT_CREATE_FAILS(cnn_pool2d_create, p, CNN_EINVAL);
    p = ok; p.stride_h = 0; EXPECT_CREATE_FAILS(cnn_pool2d_create, p, CNN_EINVAL);
    p = ok; p.stride_w = -1; EXPECT_CREATE_FAILS(cnn_pool2d_create, p, CNN_EINVAL);
}
END_TEST

START_TEST(dense_validation)
{
    cnn_dense_params ok, p;
    ck_assert_ok(cnn_dense_params_init(&ok, 8));
    cnn_layer *l = NULL;
    ck_assert_ok(cnn_dense_create(&ok, &l));
    ck_assert_int_eq(cnn_layer_kind(l), CNN_LAYER_DENSE);
    cnn_layer_destroy(l);
    ck_assert_status(cnn_dense_create(NULL, &l), CNN_EINVAL);
    ck_assert_ptr_null(l);
    ck_assert_status(cnn_dense_create(&ok, NULL), CNN_EINVAL);
    p = ok; p.struct_size = sizeof p - 1; EXPECT_CREATE_FAILS(cnn_dense_create, p, CNN_EINVAL);
    p = ok; p.out_features = 0; EXPECT_CREATE_FAILS(cnn_dense_create, p, CNN_EINVAL);
    p = ok; p.out_features = -5; EXPECT_CREATE_FAILS(cnn_dense_create, p, CNN_EINVAL);
    p = ok; p.in_features = -1; EXPECT_CREATE_FAILS(cnn_dense_create, p, CNN_EINVAL);
    p = ok; p.dropout = -0.1f; EXPECT_CREATE_FAILS(cnn_dense_create, p, CNN_EINVAL);
    p = ok; p.dropout = 1.0f; EXPECT_CREATE_FAILS(cnn_dense_create, p, CNN_EINVAL);
    p = ok; p.dropout = NAN; EXPECT_CREATE_FAILS(cnn_dense_create, p, CNN_EINVAL);
    p = ok; p.dropout = INFINITY; EXPECT_CREATE_FAILS(cnn_dense_create, p, CNN_EINVAL);
    p = ok; p.activation = 4; EXPECT_CREATE_FAILS(cnn_dense_create, p, CNN_EINVAL);
    p = ok; p.activation = -1; EXPECT_CREATE_FAILS(cnn_dense_create, p, CNN_EINVAL);
    p = ok; p.init = 4; EXPECT_CREATE_FAILS(cnn_dense_create, p, CNN_EINVAL);
    p = ok; p.init = -1; EXPECT_CREATE_FAILS(cnn_dense_create, p, CNN_EINVAL);
    /* Edges that are allowed. */
    p = ok; p.dropout = 0.999f; p.in_features = 3;
    ck_assert_ok(cnn_dense_create(&p, &l));
    ck_assert_int_eq(cnn_layer_param_count(l), 3 * 8 + 8);
    cnn_layer_destroy(l);
}
END_TEST

START_TEST(softmax_validation)
{
    cnn_softmax_params ok, p;
    ck_assert_ok(cnn_softmax_params_init(&ok, 10));
    cnn_layer *l = NULL;
    ck_assert_ok(cnn_softmax_create(&ok, &l));
    ck_assert_int_eq(cnn_layer_kind(l), CNN_LAYER_SOFTMAX);
    cnn_layer_destroy(l);
    ck_assert_status(cnn_softmax_create(NULL, &l), CNN_EINVAL);
    ck_assert_ptr_null(l);
    ck_assert_status(cnn_softmax_create(&ok, NULL), CNN_EINVAL);
    p = ok; p.struct_size = sizeof p - 1; EXPECT_CREATE_FAILS(cnn_softmax_create, p, CNN_EINVAL);
    p = ok; p.classes = 1; EXPECT_CREATE_FAILS(cnn_softmax_create, p, CNN_EINVAL);
    p = ok; p.classes = 0; EXPECT_CREATE_FAILS(cnn_softmax_create, p, CNN_EINVAL);
    p = ok; p.classes = -3; EXPECT_CREATE_FAILS(cnn_softmax_create, p, CNN_EINVAL);
    p = ok; p.in_features = -1; EXPECT_CREATE_FAILS(cnn_softmax_create, p, CNN_EINVAL);
    p = ok; p.dropout = -0.1f; EXPECT_CREATE_FAILS(cnn_softmax_create, p, CNN_EINVAL);
    p = ok; p.dropout = 1.0f; EXPECT_CREATE_FAILS(cnn_softmax_create, p, CNN_EINVAL);
    p = ok; p.dropout = NAN; EXPECT_CREATE_FAILS(cnn_softmax_create, p, CNN_EINVAL);
    p = ok; p.init = 4; EXPECT_CREATE_FAILS(cnn_softmax_create, p, CNN_EINVAL);
    p = ok; p.init = -1; EXPECT_CREATE_FAILS(cnn_softmax_create, p, CNN_EINVAL);
    p = ok; p.classes = 2;
    ck_assert_ok(cnn_softmax_create(&p, &l));
    cnn_layer_destroy(l);
}
END_TEST

START_TEST(activation_validation)
{
    cnn_layer *l = POISON_LAYER;
    for (int a = CNN_ACT_IDENTITY; a <= CNN_ACT_RELU; a++) {
        ck_assert_ok(cnn_activation_create(a, &l));
        ck_assert_int_eq(cnn_layer_kind(l), CNN_LAYER_ACTIVATION);
        ck_assert_int_eq(cnn_layer_param_count(l), 0);
        ck_assert_ptr_null(cnn_layer_param(l, CNN_PARAM_WEIGHTS));
        cnn_layer_destroy(l);
    }
    l = POISON_LAYER;
    ck_assert_status(cnn_activation_create(4, &l), CNN_EINVAL);
    ck_assert_ptr_null(l);
    l = POISON_LAYER;
    ck_assert_status(cnn_activation_create(-1, &l), CNN_EINVAL);
    ck_assert_ptr_null(l);
    ck_assert_status(cnn_activation_create(CNN_ACT_RELU, NULL), CNN_EINVAL);
    cnn_layer_destroy(NULL);
    ck_assert_int_eq(cnn_layer_kind(NULL), 0);
    ck_assert_int_eq(cnn_layer_param_count(NULL), 0);
    ck_assert_ptr_null(cnn_layer_param(NULL, CNN_PARAM_WEIGHTS));
}
END_TEST

/* ---- output shapes ------------------------------------------------------- */

static void expect_shape(cnn_layer *l, int c, int h, int w, int oc, int oh, int ow)
{
    int32_t in[3] = {c, h, w}, out[3] = {-1, -1, -1};
    ck_assert_ok(cnn_layer_output_shape(l, in, out));
    ck_assert_msg(out[0] == oc && out[1] == oh && out[2] == ow, "%dx%dx%d -> %dx%dx%d, want %dx%dx%d",
                  c, h, w, out[0], out[1], out[2], oc, oh, ow);
}

static void expect_shape_error(cnn_layer *l, int c, int h, int w, const char *needle1,
                               const char *needle2)
{
    int32_t in[3] = {c, h, w}, out[3];
    ck_assert_status(cnn_layer_output_shape(l, in, out), CNN_ESHAPE);
    const char *msg = cnn_last_error();
    ck_assert_msg(strstr(msg, needle1) != NULL, "message lacks \"%s\": %s", needle1, msg);
    ck_assert_msg(strstr(msg, needle2) != NULL, "message lacks \"%s\": %s", needle2, msg);
}

START_TEST(output_shapes)
{
    cnn_conv2d_params cp;
    cnn_layer *l;
    ck_assert_ok(cnn_conv2d_params_init(&cp, 20, 5, 5));
    ck_assert_ok(cnn_conv2d_create(&cp, &l));
    expect_shape(l, 1, 28, 28, 20, 24, 24);
    expect_shape(l, 3, 5, 9, 20, 1, 5);
    expect_shape_error(l, 1, 4, 28, "kernel", "1x4x28");
    expect_shape_error(l, 1, 28, 4, "kernel", "5x5");
    cnn_layer_destroy(l);

    cp.pool = CNN_POOL_MAX;
    ck_assert_ok(cnn_conv2d_create(&cp, &l));
    expect_shape(l, 1, 28, 28, 20, 12, 12);
    expect_shape(l, 1, 29, 30, 20, 12, 13); /* 25x26 conv maps, floor(/2) */
    expect_shape_error(l, 1, 5, 5, "pool", "1x5x5");
    cnn_layer_destroy(l);

    ck_assert_ok(cnn_conv2d_params_init(&cp, 6, 3, 5));
    cp.stride_h = 2;
    cp.stride_w = 3;
    cp.pad_h = 1;
    cp.pad_w = 2;
    cp.in_channels = 3;
    ck_assert_ok(cnn_conv2d_create(&cp, &l));
    expect_shape(l, 3, 10, 11, 6, 5, 4); /* (10+2-3)/2+1 = 5, (11+4-5)/3+1 = 4 */
    expect_shape(l, 3, 1, 1, 6, 1, 1);   /* padding makes room for the kernel */
    expect_shape_error(l, 2, 10, 11, "2x10x11", "3");
    cnn_layer_destroy(l);

    /* Sizes near INT32_MAX: no overflow (UBSan would see one), and ESHAPE
     * past the shared per-example limit (cnn.h, CNN_MAX_EXAMPLE) rather than
     * a shape no network could hold. */
    ck_assert_ok(cnn_conv2d_params_init(&cp, 1, 3, 3));
    ck_assert_ok(cnn_conv2d_create(&cp, &l));
    expect_shape(l, 1, CNN_MAX_EXAMPLE + 2, 3, 1, CNN_MAX_EXAMPLE, 1);
    expect_shape_error(l, 1, INT32_MAX, 3, "more than", "16777216");
    cnn_layer_destroy(l);
    cp.pad_h = cp.pad_w = 2;
    ck_assert_ok(cnn_conv2d_create(&cp, &l));
    expect_shape_error(l, 1, INT32_MAX, 3, "more than", "2147483649x5");
    cnn_layer_destroy(l);

    cnn_pool2d_params pp;
    ck_assert_ok(cnn_pool2d_params_init(&pp, CNN_POOL_MAX, 2, 2));
    ck_assert_ok(cnn_pool2d_create(&pp, &l));
    expect_shape(l, 20, 24, 24, 20, 12, 12);
    expect_shape(l, 4, 5, 3, 4, 2, 1);
    expect_shape_error(l, 4, 1, 5, "window", "4x1x5");
    cnn_layer_destroy(l);
    ck_assert_ok(cnn_pool2d_params_init(&pp, CNN_POOL_AVG, 3, 3));
    pp.stride_h = 2;
    pp.stride_w = 1;
    ck_assert_ok(cnn_pool2d_create(&pp, &l));
    expect_shape(l, 2, 7, 7, 2, 3, 5);
    expect_shape(l, 2, 8, 3, 2, 3, 1);
    cnn_layer_destroy(l);

    cnn_dense_params dp;
    ck_assert_ok(cnn_dense_params_init(&dp, 100));
    ck_assert_ok(cnn_dense_create(&dp, &l));
    expect_shape(l, 40, 4, 4, 100, 1, 1);
    expect_shape(l, 7, 1, 1, 100, 1, 1);
    cnn_layer_destroy(l);
    dp.in_features = 640;
    ck_assert_ok(cnn_dense_create(&dp, &l));
    expect_shape(l, 40, 4, 4, 100, 1, 1);
    expect_shape_error(l, 40, 4, 5, "800", "640");
    cnn_layer_destroy(l);

    cnn_softmax_params sp;
    ck_assert_ok(cnn_softmax_params_init(&sp, 10));
    sp.in_features = 100;
    ck_assert_ok(cnn_softmax_create(&sp, &l));
    expect_shape(l, 100, 1, 1, 10, 1, 1);
    expect_shape(l, 1, 10, 10, 10, 1, 1);
    expect_shape_error(l, 99, 1, 1, "99", "100");
    cnn_layer_destroy(l);

    ck_assert_ok(cnn_activation_create(CNN_ACT_TANH, &l));
    expect_shape(l, 3, 4, 5, 3, 4, 5);
    expect_shape(l, 1, 1, 1, 1, 1, 1);
    /* Bad arguments are EINVAL, not ESHAPE. */
    int32_t in[3] = {1, 2, 3}, out[3];
    ck_assert_status(cnn_layer_output_shape(NULL, in, out), CNN_EINVAL);
    ck_assert_status(cnn_layer_output_shape(l, NULL, out), CNN_EINVAL);
    ck_assert_status(cnn_layer_output_shape(l, in, NULL), CNN_EINVAL);
    in[1] = 0;
    ck_assert_status(cnn_layer_output_shape(l, in, out), CNN_EINVAL);
    in[1] = -2;
    ck_assert_status(cnn_layer_output_shape(l, in, out), CNN_EINVAL);
    cnn_layer_destroy(l);
}
END_TEST

/* ---- parameter views ----------------------------------------------------- */

START_TEST(param_views)
{
    cnn_conv2d_params cp;
    cnn_layer *l;
    ck_assert_ok(cnn_conv2d_params_init(&cp, 4, 3, 2));
    /* Input size unknown: no parameters yet. */
    ck_assert_ok(cnn_conv2d_create(&cp, &l));
    ck_assert_int_eq(cnn_layer_param_count(l), 0);
    ck_assert_ptr_null(cnn_layer_param(l, CNN_PARAM_WEIGHTS));
    ck_assert_ptr_null(cnn_layer_param(l, CNN_PARAM_GRAD_BIASES));
    /* A forward binds it. */
    cnn_tensor *x = tensor4(2, 3, 5, 5), *y = tensor4(2, 4, 3, 4);
    fill(x, 1, 0.0f, 1.0f);
    ck_assert_ok(cnn_layer_forward(l, x, y, CNN_MODE_INFER));
    ck_assert_int_eq(cnn_layer_param_count(l), 4 * 3 * 3 * 2 + 4);
    cnn_tensor *w = cnn_layer_param(l, CNN_PARAM_WEIGHTS);
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(cnn_tensor_ndim(w), 4);
    ck_assert_int_eq(cnn_tensor_dim(w, 0), 4);
    ck_assert_int_eq(cnn_tensor_dim(w, 1), 3);
    ck_assert_int_eq(cnn_tensor_dim(w, 2), 3);
    ck_assert_int_eq(cnn_tensor_dim(w, 3), 2);
    for (int k = CNN_PARAM_BIASES; k <= CNN_PARAM_GRAD_BIASES; k += 2) {
        cnn_tensor *b = cnn_layer_param(l, k);
        ck_assert_ptr_nonnull(b);
        ck_assert_int_eq(cnn_tensor_ndim(b), 1);
        ck_assert_int_eq(cnn_tensor_dim(b, 0), 4);
    }
    cnn_tensor *gw = cnn_layer_param(l, CNN_PARAM_GRAD_WEIGHTS);
    ck_assert_int_eq(cnn_tensor_ndim(gw), 4);
    ck_assert_int_eq(cnn_tensor_numel(gw), 72);
    ck_assert_ptr_ne(cnn_tensor_data(gw), cnn_tensor_data(w));
    ck_assert_ptr_null(cnn_layer_param(l, 4));
    ck_assert_ptr_null(cnn_layer_param(l, -1));
    /* Same view each time; destroying a view does nothing. */
    ck_assert_ptr_eq(cnn_layer_param(l, CNN_PARAM_WEIGHTS), w);
    cnn_tensor_destroy(w);
    ck_assert_int_eq(cnn_tensor_numel(cnn_layer_param(l, CNN_PARAM_WEIGHTS)), 72);

    /* Writes through the views change the outputs. */
    float before[96];
    ck_assert_ok(cnn_tensor_copy_out(y, before, 96));
    memset(cnn_tensor_data(w), 0, 72 * sizeof(float));
    cnn_tensor *b = cnn_layer_param(l, CNN_PARAM_BIASES);
    const float bias[4] = {-1.0f, 0.0f, 0.5f, 2.0f};
    ck_assert_ok(cnn_tensor_copy_in(b, bias, 4));
    ck_assert_ok(cnn_layer_forward(l, x, y, CNN_MODE_INFER));
    const float *yd = cnn_tensor_data(y);
    for (int n = 0; n < 2; n++)
        for (int o = 0; o < 4; o++)
            for (int p = 0; p < 12; p++)
                ck_assert_float_eq_tol(yd[(n * 4 + o) * 12 + p], (float)act_f(CNN_ACT_SIGMOID, bias[o]),
                                       1e-6f);
    ck_assert_int_ne(memcmp(before, yd, sizeof before), 0);
    cnn_tensor_destroy(x);
    cnn_tensor_destroy(y);
    cnn_layer_destroy(l);

    /* Dense (out, in) and bias (out). */
    cnn_dense_params dp;
    ck_assert_ok(cnn_dense_params_init(&dp, 5));
    dp.in_features = 7;
    ck_assert_ok(cnn_dense_create(&dp, &l));
    w = cnn_layer_param(l, CNN_PARAM_WEIGHTS);
    ck_assert_int_eq(cnn_tensor_ndim(w), 2);
    ck_assert_int_eq(cnn_tensor_dim(w, 0), 5);
    ck_assert_int_eq(cnn_tensor_dim(w, 1), 7);
    ck_assert_int_eq(cnn_tensor_dim(cnn_layer_param(l, CNN_PARAM_BIASES), 0), 5);
    ck_assert_int_eq(cnn_layer_param_count(l), 40);
    cnn_layer_destroy(l);

    cnn_softmax_params sp;
    ck_assert_ok(cnn_softmax_params_init(&sp, 3));
    sp.in_features = 6;
    ck_assert_ok(cnn_softmax_create(&sp, &l));
    w = cnn_layer_param(l, CNN_PARAM_WEIGHTS);
    ck_assert_int_eq(cnn_tensor_dim(w, 0), 3);
    ck_assert_int_eq(cnn_tensor_dim(w, 1), 6);
    ck_assert_int_eq(cnn_tensor_dim(cnn_layer_param(l, CNN_PARAM_GRAD_BIASES), 0), 3);
    /* Default init for softmax: zero. */
    for (int i = 0; i < 18; i++)
        ck_assert(cnn_tensor_data(w)[i] == 0.0f);
    for (int i = 0; i < 3; i++)
        ck_assert(cnn_tensor_data(cnn_layer_param(l, CNN_PARAM_BIASES))[i] == 0.0f);
    cnn_layer_destroy(l);
}
END_TEST

START_TEST(standalone_seed)
{
    cnn_dense_params dp;
    ck_assert_ok(cnn_dense_params_init(&dp, 16));
    dp.in_features = 32;
    dp.seed = 5;
    cnn_layer *a, *b, *c;
    ck_assert_ok(cnn_dense_create(&dp, &a));
    ck_assert_ok(cnn_dense_create(&dp, &b));
    dp.seed = 6;
    ck_assert_ok(cnn_dense_create(&dp, &c));
    size_t bytes = 16 * 32 * sizeof(float);
    const float *wa = cnn_tensor_data(cnn_layer_param(a, CNN_PARAM_WEIGHTS));
    ck_assert_int_eq(memcmp(wa, cnn_tensor_data(cnn_layer_param(b, CNN_PARAM_WEIGHTS)), bytes), 0);
    ck_assert_int_ne(memcmp(wa, cnn_tensor_data(cnn_layer_param(c, CNN_PARAM_WEIGHTS)), bytes), 0);
    /* network3 init: not all zero, std about sqrt(1/16). */
    double s2 = 0.0;
    for (int i = 0; i < 512; i++)
        s2 += (double)wa[i] * wa[i];
    ck_assert_msg(fabs(sqrt(s2 / 512) - 0.25) < 0.05, "std %g", sqrt(s2 / 512));
    cnn_layer_destroy(a);
    cnn_layer_destroy(b);
    cnn_layer_destroy(c);
}
END_TEST

/* ---- convolution --------------------------------------------------------- */

START_TEST(conv_forward_backward)
{
    for (int act = CNN_ACT_IDENTITY; act <= CNN_ACT_RELU; act++) {
        /* plain valid convolution, batch 1 and 7 */
        conv_case k = {.n = 1, .c = 2, .h = 7, .w = 6, .o = 3, .kh = 3, .kw = 2, .sh = 1, .sw = 1,
                       .act = act};
        char what[96];
        snprintf(what, sizeof what, "conv %s n=1", act_name(act));
        check_conv_case(&k, what);
        k.n = 7;
        snprintf(what, sizeof what, "conv %s n=7", act_name(act));
        check_conv_case(&k, what);
        /* padding and stride */
        conv_case ps = {.n = 7, .c = 3, .h = 9, .w = 8, .o = 4, .kh = 3, .kw = 4, .sh = 2, .sw = 3,
                        .ph = 1, .pw = 2, .act = act};
        snprintf(what, sizeof what, "conv pad+stride %s n=7", act_name(act));
        check_conv_case(&ps, what);
        ps.n = 1;
        snprintf(what, sizeof what, "conv pad+stride %s n=1", act_name(act));
        check_conv_case(&ps, what);
    }
}
END_TEST

START_TEST(conv_fused_pooling)
{
    static const char *pools[] = {"", "max", "avg", "l2"};
    for (int pool = CNN_POOL_MAX; pool <= CNN_POOL_L2; pool++)
        for (int act = CNN_ACT_IDENTITY; act <= CNN_ACT_RELU; act++)
            for (int n = 1; n <= 7; n += 6) {
                char what[96];
                /* 2x2 pooling of 6x5 maps (odd width: last column dropped) */
                conv_case k = {.n = n, .c = 2, .h = 8, .w = 7, .o = 3, .kh = 3, .kw = 3, .sh = 1,
                               .sw = 1, .act = act, .pool = pool, .poolh = 2, .poolw = 2};
                snprintf(what, sizeof what, "conv+%s pool %s n=%d", pools[pool], act_name(act), n);
                check_conv_case(&k, what);
                /* non-square pooling window with padding and stride */
                conv_case q = {.n = n, .c = 1, .h = 9, .w = 10, .o = 2, .kh = 2, .kw = 3, .sh = 1,
                               .sw = 2, .ph = 1, .pw = 1, .act = act, .pool = pool, .poolh = 3,
                               .poolw = 2};
                snprintf(what, sizeof what, "conv pad/stride+%s pool 3x2 %s n=%d", pools[pool],
                         act_name(act), n);
                check_conv_case(&q, what);
            }
}
END_TEST

START_TEST(conv_batch_sizes_mixed)
{
    /* A layer used with batch 7, then 1, then 3 (buffers regrow/shrink use). */
    conv_case k = {.c = 2, .h = 6, .w = 6, .o = 3, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
                   .act = CNN_ACT_TANH, .pool = CNN_POOL_MAX, .poolh = 2, .poolw = 2};
    cnn_layer *l = make_conv(&k, 3);
    const float *w = cnn_tensor_data(cnn_layer_param(l, CNN_PARAM_WEIGHTS));
    const float *b = cnn_tensor_data(cnn_layer_param(l, CNN_PARAM_BIASES));
    const int sizes[] = {7, 1, 3, 9};
    for (int s = 0; s < 4; s++) {
        k.n = sizes[s];
        cnn_tensor *x = tensor4(k.n, 2, 6, 6), *y = tensor4(k.n, 3, 2, 2);
        fill(x, 100 + (uint64_t)s, -1.0f, 1.0f);
        ck_assert_ok(cnn_layer_forward(l, x, y, CNN_MODE_TRAIN));
        conv_ref r = naive_conv_layer(&k, cnn_tensor_data(x), w, b, NULL);
        ASSERT_CLOSE(cnn_tensor_data(y), r.y, cnn_tensor_numel(y), "conv batch regrowth");
        conv_ref_free(&r);
        cnn_tensor_destroy(x);
        cnn_tensor_destroy(y);
    }
    cnn_layer_destroy(l);
}
END_TEST

/* ---- pooling layer ------------------------------------------------------- */

static void check_pool_case(int mode, int n, int c, int h, int w, int wh, int ww, int sh, int sw)
{
    cnn_pool2d_params p;
    ck_assert_ok(cnn_pool2d_params_init(&p, mode, wh, ww));
    p.stride_h = sh;
    p.stride_w = sw;
    cnn_layer *l;
    ck_assert_ok(cnn_pool2d_create(&p, &l));
    int oh = (h - wh) / sh + 1, ow = (w - ww) / sw + 1;
    cnn_tensor *x = tensor4(n, c, h, w), *y = tensor4(n, c, oh, ow), *dy = tensor4(n, c, oh, ow),
               *dx = tensor4(n, c, h, w);
    fill(x, (uint64_t)(mode * 100 + n), -1.0f, 1.0f);
    fill(dy, 77, -1.0f, 1.0f);
    size_t nx = (size_t)cnn_tensor_numel(x), ny = (size_t)cnn_tensor_numel(y);
    double *xd = dalloc(nx), *dyd = dalloc(ny);
    for (size_t i = 0; i < nx; i++)
        xd[i] = cnn_tensor_data(x)[i];
    for (size_t i = 0; i < ny; i++)
        dyd[i] = cnn_tensor_data(dy)[i];
    int rh, rw;
    double *ry = naive_pool(mode, n * c, h, w, wh, ww, sh, sw, xd, &rh, &rw);
    ck_assert_int_eq(rh, oh);
    ck_assert_int_eq(rw, ow);
    double *rdx = naive_pool_bwd(mode, n * c, h, w, wh, ww, sh, sw, xd, ry, dyd);
    char what[96];
    snprintf(what, sizeof what, "pool mode %d n=%d %dx%d window %dx%d stride %dx%d", mode, n, h, w,
             wh, ww, sh, sw);
    ck_assert_ok(cnn_layer_forward(l, x, y, CNN_MODE_TRAIN));
    ASSERT_CLOSE(cnn_tensor_data(y), ry, ny, what);
    ck_assert_ok(cnn_layer_backward(l, x, y, dy, dx));
    ASSERT_CLOSE(cnn_tensor_data(dx), rdx, nx, what);
    free(xd);
    free(dyd);
    free(ry);
    free(rdx);
    cnn_tensor_destroy(x);
    cnn_tensor_destroy(y);
    cnn_tensor_destroy(dy);
    cnn_tensor_destroy(dx);
    cnn_layer_destroy(l);
}

START_TEST(pool_forward_backward)
{
    for (int mode = CNN_POOL_MAX; mode <= CNN_POOL_L2; mode++)
        for (int n = 1; n <= 7; n += 6) {
            check_pool_case(mode, n, 3, 6, 6, 2, 2, 2, 2);
            check_pool_case(mode, n, 2, 7, 9, 2, 3, 2, 3);  /* edge windows dropped */
            check_pool_case(mode, n, 2, 7, 7, 3, 3, 2, 2);  /* overlapping windows */
            check_pool_case(mode, n, 1, 5, 8, 3, 2, 1, 1);  /* stride 1 */
        }
}
END_TEST

START_TEST(pool_max_ties_first)
{
    cnn_pool2d_params p;
    ck_assert_ok(cnn_pool2d_params_init(&p, CNN_POOL_MAX, 2, 2));
    cnn_layer *l;
    ck_assert_ok(cnn_pool2d_create(&p, &l));
    cnn_tensor *x = tensor4(1, 1, 2, 2), *y = tensor4(1, 1, 1, 1), *dy = tensor4(1, 1, 1, 1),
               *dx = tensor4(1, 1, 2, 2);
    const float xs[4] = {0.5f, 3.0f, 3.0f, 3.0f};
    ck_assert_ok(cnn_tensor_copy_in(x, xs, 4));
    cnn_tensor_data(dy)[0] = 2.0f;
    ck_assert_ok(cnn_layer_forward(l, x, y, CNN_MODE_TRAIN));
    ck_assert(cnn_tensor_data(y)[0] == 3.0f);
    ck_assert_ok(cnn_layer_backward(l, x, y, dy, dx));
    const float want[4] = {0.0f, 2.0f, 0.0f, 0.0f};
    for (int i = 0; i < 4; i++)
        ck_assert_msg(cnn_tensor_data(dx)[i] == want[i], "dx[%d] = %g", i,
                      (double)cnn_tensor_data(dx)[i]);
    cnn_tensor_destroy(x);
    cnn_tensor_destroy(y);
    cnn_tensor_destroy(dy);
    cnn_tensor_destroy(dx);
    cnn_layer_destroy(l);
}
END_TEST

/* ---- dense and softmax --------------------------------------------------- */

typedef struct affine_ref {
    double *y, *dw, *db, *dx;
} affine_ref;

static void affine_ref_free(affine_ref *r)
{
    free(r->y);
    free(r->dw);
    free(r->db);
    free(r->dx);
}

/* softmax != 0: y = softmax(Wx + b) and dz = y * (dy - <dy, y>);
 * otherwise y = act(Wx + b) and dz = dy * act'(y). */
static affine_ref naive_affine(int n, int in, int out, int act, int softmax, const float *x,
                               const float *w, const float *b, const float *dy)
{
    affine_ref r = {0};
    r.y = dalloc((size_t)n * out);
    for (int i = 0; i < n; i++) {
        double *yi = r.y + (size_t)i * out;
        for (int o = 0; o < out; o++) {
            double s = b[o];
            for (int k = 0; k < in; k++)
                s += (double)w[(size_t)o * in + k] * x[(size_t)i * in + k];
            yi[o] = softmax ? s : act_f(act, s);
        }
        if (softmax) {
            double m = yi[0], sum = 0.0;
            for (int o = 1; o < out; o++)
                m = yi[o] > m ? yi[o] : m;
            for (int o = 0; o < out; o++)
                sum += (yi[o] = exp(yi[o] - m));
            for (int o = 0; o < out; o++)
                yi[o] /= sum;
        }
    }
    if (!dy)
        return r;
    double *dz = dalloc((size_t)n * out);
    for (int i = 0; i < n; i++) {
        const double *yi = r.y + (size_t)i * out;
        const float *dyi = dy + (size_t)i * out;
        double dot = 0.0;
        for (int o = 0; o < out; o++)
            dot += dyi[o] * yi[o];
        for (int o = 0; o < out; o++)
            dz[(size_t)i * out + o] = softmax ? yi[o] * (dyi[o] - dot) : dyi[o] * act_d(act, yi[o]);
    }
    r.dw = dalloc((size_t)out * in);
    r.db = dalloc((size_t)out);
    r.dx = dalloc((size_t)n * in);
    for (int i = 0; i < n; i++)
        for (int o = 0; o < out; o++) {
            double g = dz[(size_t)i * out + o];
            r.db[o] += g;
            for (int k = 0; k < in; k++) {
                r.dw[(size_t)o * in + k] += g * x[(size_t)i * in + k];
                r.dx[(size_t)i * in + k] += g * w[(size_t)o * in + k];
            }
        }
    free(dz);
    return r;
}

/* x of rank 2 (n, in) or rank 4 (n, in/4, 2, 2) */
static void check_affine_case(int softmax, int act, int n, int in, int out, int rank4)
{
    cnn_layer *l;
    if (softmax) {
        cnn_softmax_params p;
        ck_assert_ok(cnn_softmax_params_init(&p, out));
        ck_assert_ok(cnn_softmax_create(&p, &l));
    } else {
        cnn_dense_params p;
        ck_assert_ok(cnn_dense_params_init(&p, out));
        p.activation = act;
        ck_assert_ok(cnn_dense_create(&p, &l));
    }
    cnn_tensor *x = rank4 ? tensor4(n, in / 4, 2, 2) : tensor2(n, in);
    cnn_tensor *y = tensor2(n, out), *dy = tensor2(n, out);
    cnn_tensor *dx = rank4 ? tensor4(n, in / 4, 2, 2) : tensor2(n, in);
    fill(x, 5, -1.0f, 1.0f);
    fill(dy, 6, -1.0f, 1.0f);
    /* The first forward binds in_features; then set weights and run again. */
    ck_assert_ok(cnn_layer_forward(l, x, y, CNN_MODE_INFER));
    ck_assert_int_eq(cnn_layer_param_count(l), (int64_t)in * out + out);
    fill(cnn_layer_param(l, CNN_PARAM_WEIGHTS), 8, -0.5f, 0.5f);
    fill(cnn_layer_param(l, CNN_PARAM_BIASES), 9, -0.5f, 0.5f);
    affine_ref r = naive_affine(n, in, out, act, softmax, cnn_tensor_data(x),
                                cnn_tensor_data(cnn_layer_param(l, CNN_PARAM_WEIGHTS)),
                                cnn_tensor_data(cnn_layer_param(l, CNN_PARAM_BIASES)),
                                cnn_tensor_data(dy));
    char what[96];
    snprintf(what, sizeof what, "%s %s n=%d %d->%d rank %d", softmax ? "softmax" : "dense",
             softmax ? "" : act_name(act), n, in, out, rank4 ? 4 : 2);
    ck_assert_ok(cnn_layer_forward(l, x, y, CNN_MODE_INFER));
    ASSERT_CLOSE(cnn_tensor_data(y), r.y, n * out, what);
    ck_assert_ok(cnn_layer_forward(l, x, y, CNN_MODE_TRAIN));
    ASSERT_CLOSE(cnn_tensor_data(y), r.y, n * out, what);
    if (softmax)
        for (int i = 0; i < n; i++) {
            double s = 0.0;
            for (int o = 0; o < out; o++)
                s += cnn_tensor_data(y)[i * out + o];
            ck_assert_msg(fabs(s - 1.0) < 1e-5, "row %d sums to %.9g", i, s);
        }
    ck_assert_ok(cnn_layer_backward(l, x, y, dy, dx));
    ASSERT_CLOSE(cnn_tensor_data(cnn_layer_param(l, CNN_PARAM_GRAD_WEIGHTS)), r.dw, in * out, what);
    ASSERT_CLOSE(cnn_tensor_data(cnn_layer_param(l, CNN_PARAM_GRAD_BIASES)), r.db, out, what);
    ASSERT_CLOSE(cnn_tensor_data(dx), r.dx, n * in, what);
    affine_ref_free(&r);
    cnn_tensor_destroy(x);
    cnn_tensor_destroy(y);
    cnn_tensor_destroy(dy);
    cnn_tensor_destroy(dx);
    cnn_layer_destroy(l);
}

START_TEST(dense_forward_backward)
{
    for (int act = CNN_ACT_IDENTITY; act <= CNN_ACT_RELU; act++)
        for (int n = 1; n <= 7; n += 6) {
            check_affine_case(0, act, n, 12, 5, 0);
            check_affine_case(0, act, n, 20, 9, 1);
        }
}
END_TEST

START_TEST(softmax_forward_backward)
{
    for (int n = 1; n <= 7; n += 6) {
        check_affine_case(1, 0, n, 12, 10, 0);
        check_affine_case(1, 0, n, 8, 2, 1);
    }
}
END_TEST

START_TEST(dense_dropout)
{
    /* W = I, b = 0, identity: training output is x with some inputs zeroed
     * (kept ones unscaled), about p of them; inference scales by 1-p. */
    enum { N = 50, K = 40 };
    const float p = 0.3f;
    cnn_dense_params dp;
    ck_assert_ok(cnn_dense_params_init(&dp, K));
    dp.in_features = K;
    dp.activation = CNN_ACT_IDENTITY;
    dp.dropout = p;
    cnn_layer *l;
    ck_assert_ok(cnn_dense_create(&dp, &l));
    float *w = cnn_tensor_data(cnn_layer_param(l, CNN_PARAM_WEIGHTS));
    memset(w, 0, K * K * sizeof *w);
    for (int i = 0; i < K; i++)
        w[i * K + i] = 1.0f;
    memset(cnn_tensor_data(cnn_layer_param(l, CNN_PARAM_BIASES)), 0, K * sizeof(float));
    cnn_tensor *x = tensor2(N, K), *y = tensor2(N, K), *dy = tensor2(N, K), *dx = tensor2(N, K);
    fill(x, 1, 0.5f, 1.5f);
    const float *xd = cnn_tensor_data(x), *yd = cnn_tensor_data(y);
    ck_assert_ok(cnn_layer_forward(l, x, y, CNN_MODE_INFER));
    for (int i = 0; i < N * K; i++)
        ck_assert_float_eq_tol(yd[i], (1.0f - p) * xd[i], 1e-6f);
    ck_assert_ok(cnn_layer_forward(l, x, y, CNN_MODE_TRAIN));
    int dropped = 0;
    for (int i = 0; i < N * K; i++) {
        if (yd[i] == 0.0f)
            dropped++;
        else
            ck_assert_float_eq_tol(yd[i], xd[i], 1e-6f);
    }
    /* 2000 inputs, p = 0.3: 600 +- 20.5 (1 sd). */
    ck_assert_msg(dropped > 480 && dropped < 720, "%d of %d dropped", dropped, N * K);
    /* Backward: the input gradient is zero exactly where the input was dropped. */
    for (int i = 0; i < N * K; i++)
        cnn_tensor_data(dy)[i] = 1.0f;
    ck_assert_ok(cnn_layer_backward(l, x, y, dy, dx));
    for (int i = 0; i < N * K; i++)
        ck_assert_float_eq_tol(cnn_tensor_data(dx)[i], yd[i] == 0.0f ? 0.0f : 1.0f, 1e-6f);
    /* A second training forward draws a different mask. */
    float *first = malloc(N * K * sizeof *first);
    memcpy(first, yd, N * K * sizeof *first);
    ck_assert_ok(cnn_layer_forward(l, x, y, CNN_MODE_TRAIN));
    ck_assert_int_ne(memcmp(first, yd, N * K * sizeof *first), 0);
    free(first);
    cnn_tensor_destroy(x);
    cnn_tensor_destroy(y);
    cnn_tensor_destroy(dy);
    cnn_tensor_destroy(dx);
    cnn_layer_destroy(l);
}
END_TEST

/* Bounds [lo, hi] for X ~ Binomial(n, q) with P(X < lo) <= tail and
 * P(X > hi) <= tail, from the exact probabilities (summed in log space). */
static void binomial_bounds(int n, double q, double tail, int *lo, int *hi)
{
    double cdf = 0.0;
    *lo = 0;
    for (int k = 0; k <= n; k++) {
        double lp = lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0) + k * log(q) +
                    (n - k) * log1p(-q);
        cdf += exp(lp);
        if (cdf > tail) {
            *lo = k; /* P(X < k) <= tail */
            break;
        }
    }
    double sf = 0.0;
    *hi = n;
    for (int k = n; k >= 0; k--) {
        double lp = lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0) + k * log(q) +
                    (n - k) * log1p(-q);
        sf += exp(lp);
        if (sf > tail) {
            *hi = k; /* P(X > k) <= tail */
            break;
        }
    }
}

/* A standalone dense layer with W = I, b = 0 and identity activation, so a
 * training forward returns its input with the dropped entries zeroed. */
static cnn_layer *identity_dropout_layer(int k, float p, uint64_t seed)
{
    cnn_dense_params dp;
    ck_assert_ok(cnn_dense_params_init(&dp, k));
    dp.in_features = k;
    dp.activation = CNN_ACT_IDENTITY;
    dp.dropout = p;
    dp.seed = seed;
    cnn_layer *l;
    ck_assert_ok(cnn_dense_create(&dp, &l));
    float *w = cnn_tensor_data(cnn_layer_param(l, CNN_PARAM_WEIGHTS));
    memset(w, 0, (size_t)k * (size_t)k * sizeof *w);
    for (int i = 0; i < k; i++)
        w[(size_t)i * (size_t)k + (size_t)i] = 1.0f;
    memset(cnn_tensor_data(cnn_layer_param(l, CNN_PARAM_BIASES)), 0, (size_t)k * sizeof(float));
    return l;
}

/* Dropout decisions are independent: the two elements that share a 64-bit
 * draw (2i, 2i+1) must not be tied together.  dense_dropout only counts the
 * dropped inputs, which a mask giving both elements the same 24 bits passes.
 * p = 0.5, 2,000 inputs = 1,000 pairs: each pair differs with probability
 * 1/2 if independent (0 if both use the same bits, 1 if complementary), and
 * the four (kept, dropped) combinations have probability 1/4 each.  Bounds
 * are binomial tails of 1e-9, so no seed can make this flake. */
START_TEST(dense_dropout_independent_pairs)
{
    enum { N = 50, K = 40, PAIRS = N * K / 2 };
    cnn_layer *l = identity_dropout_layer(K, 0.5f, 31);
    cnn_tensor *x = tensor2(N, K), *y = tensor2(N, K);
    fill(x, 3, 0.5f, 1.5f);
    const float *xd = cnn_tensor_data(x), *yd = cnn_tensor_data(y);
    int lo2, hi2, lo4, hi4, lo_drop, hi_drop;
    binomial_bounds(PAIRS, 0.5, 1e-9, &lo2, &hi2);
    binomial_bounds(PAIRS, 0.25, 1e-9, &lo4, &hi4);
    binomial_bounds(2 * PAIRS, 0.5, 1e-9, &lo_drop, &hi_drop);
    /* Sanity of the bounds themselves: 500 +- ~6 sd. */
    ck_assert_int_gt(lo2, 400);
    ck_assert_int_lt(hi2, 600);
    for (int round = 0; round < 3; round++) { /* three masks from the same generator */
        ck_assert_ok(cnn_layer_forward(l, x, y, CNN_MODE_TRAIN));
        int differ = 0, dropped = 0, combo[4] = {0, 0, 0, 0};
        for (int i = 0; i < PAIRS; i++) {
            int d0 = yd[2 * i] == 0.0f, d1 = yd[2 * i + 1] == 0.0f;
            if (!d0)
                ck_assert_float_eq(yd[2 * i], xd[2 * i]);
            if (!d1)
                ck_assert_float_eq(yd[2 * i + 1], xd[2 * i + 1]);
            differ += d0 != d1;
            dropped += d0 + d1;
            combo[d0 * 2 + d1]++;
        }
        ck_assert_msg(dropped >= lo_drop && dropped <= hi_drop, "round %d: %d of %d dropped",
                      round, dropped, 2 * PAIRS);
        ck_assert_msg(differ >= lo2 && differ <= hi2,
                      "round %d: %d of %d pairs (2i, 2i+1) differ, want %d..%d: the two "
                      "elements of one draw are not independent",
                      round, differ, PAIRS, lo2, hi2);
        for (int c = 0; c < 4; c++)
            ck_assert_msg(combo[c] >= lo4 && combo[c] <= hi4,
                          "round %d: %d pairs (dropped %d, dropped %d), want %d..%d", round,
                          combo[c], c >> 1, c & 1, lo4, hi4);
    }
    cnn_tensor_destroy(x);
    cnn_tensor_destroy(y);
    cnn_layer_destroy(l);
}
END_TEST

/* The exact mask for a fixed seed, against the rule in cnn_affine_forward
 * (lib/layers/dense.c): a standalone layer draws masks from its own
 * generator, seeded as stream 1 of its seed; each 64-bit draw r serves two
 * consecutive inputs (flattened over the batch), u = r >> 40 for the first
 * and u = (r >> 16) & 0xFFFFFF for the second, an odd last input takes
 * r >> 40 of a draw of its own, and an input is kept when
 * u >= ceil(p * 2^24).  Successive training forwards continue the stream.
 * _i = 0: p = 0.5, 50 x 40 (even); 1: p = 0.3, 3 x 7 (odd count). */
START_TEST(dense_dropout_exact_mask)
{
    const int n = _i == 0 ? 50 : 3, k = _i == 0 ? 40 : 7;
    const float p = _i == 0 ? 0.5f : 0.3f;
    const uint64_t seed = _i == 0 ? 1234 : 987654321;
    cnn_layer *l = identity_dropout_layer(k, p, seed);
    cnn_tensor *x = tensor2(n, k), *y = tensor2(n, k);
    fill(x, 5, 0.5f, 1.5f);
    const float *xd = cnn_tensor_data(x), *yd = cnn_tensor_data(y);
    const size_t count = (size_t)n * (size_t)k;
    const uint32_t keep_from = (uint32_t)ceil((double)p * 16777216.0);
    cnn_rng rng;
    cnn_rng_seed_stream(&rng, seed, 1);
    unsigned char *want = malloc(count);
    ck_assert_ptr_nonnull(want);
    for (int round = 0; round < 3; round++) {
        size_t i = 0;
        for (; i + 2 <= count; i += 2) {
            const uint64_t r = cnn_rng_next(&rng);
            want[i] = (uint32_t)(r >> 40) >= keep_from;
            want[i + 1] = (uint32_t)((r >> 16) & 0xFFFFFFu) >= keep_from;
        }
        if (i < count)
            want[i] = (uint32_t)(cnn_rng_next(&rng) >> 40) >= keep_from;
        ck_assert_ok(cnn_layer_forward(l, x, y, CNN_MODE_TRAIN));
        size_t kept = 0;
        for (i = 0; i < count; i++) {
            ck_assert_msg(yd[i] == (want[i] ? xd[i] : 0.0f),
                          "round %d, input %zu: got %g, the rule says %s (x = %g)", round, i,
                          (double)yd[i], want[i] ? "kept" : "dropped", (double)xd[i]);
            kept += want[i];
        }
        /* The reference itself is not degenerate. */
        ck_assert_uint_gt(kept, 0);
        ck_assert_uint_lt(kept, count);
    }
    free(want);
    cnn_tensor_destroy(x);
    cnn_tensor_destroy(y);
    cnn_layer_destroy(l);
}
END_TEST

/* ---- activation layer ---------------------------------------------------- */

START_TEST(activation_forward_backward)
{
    for (int act = CNN_ACT_IDENTITY; act <= CNN_ACT_RELU; act++)
        for (int n = 1; n <= 7; n += 6)
            for (int rank4 = 0; rank4 <= 1; rank4++) {
                cnn_layer *l;
                ck_assert_ok(cnn_activation_create(act, &l));
                cnn_tensor *x = rank4 ? tensor4(n, 2, 3, 4) : tensor2(n, 24);
                cnn_tensor *y = rank4 ? tensor4(n, 2, 3, 4) : tensor2(n, 24);
                cnn_tensor *dy = tensor2(n, 24), *dx = tensor2(n, 24);
                fill(x, 3, -3.0f, 3.0f);
                fill(dy, 4, -1.0f, 1.0f);
                size_t count = (size_t)n * 24;
                double *ry = dalloc(count), *rdx = dalloc(count);
                for (size_t i = 0; i < count; i++) {
                    ry[i] = act_f(act, cnn_tensor_data(x)[i]);
                    rdx[i] = cnn_tensor_data(dy)[i] * act_d(act, ry[i]);
                }
                char what[64];
                snprintf(what, sizeof what, "activation %s n=%d", act_name(act), n);
                ck_assert_ok(cnn_layer_forward(l, x, y, CNN_MODE_TRAIN));
                ASSERT_CLOSE(cnn_tensor_data(y), ry, count, what);
                ck_assert_ok(cnn_layer_backward(l, x, y, dy, dx));
                ASSERT_CLOSE(cnn_tensor_data(dx), rdx, count, what);
                free(ry);
                free(rdx);
                cnn_tensor_destroy(x);
                cnn_tensor_destroy(y);
                cnn_tensor_destroy(dy);
                cnn_tensor_destroy(dx);
                cnn_layer_destroy(l);
            }
}
END_TEST

/* ---- state and argument errors ------------------------------------------- */

START_TEST(backward_before_forward)
{
    cnn_dense_params dp;
    ck_assert_ok(cnn_dense_params_init(&dp, 3));
    dp.in_features = 4;
    cnn_layer *l;
    ck_assert_ok(cnn_dense_create(&dp, &l));
    cnn_tensor *x = tensor2(2, 4), *y = tensor2(2, 3), *dy = tensor2(2, 3), *dx = tensor2(2, 4);
    ck_assert_status(cnn_layer_backward(l, x, y, dy, dx), CNN_ESTATE);
    /* An inference forward does not enable backward. */
    ck_assert_ok(cnn_layer_forward(l, x, y, CNN_MODE_INFER));
    ck_assert_status(cnn_layer_backward(l, x, y, dy, dx), CNN_ESTATE);
    ck_assert_ok(cnn_layer_forward(l, x, y, CNN_MODE_TRAIN));
    ck_assert_ok(cnn_layer_backward(l, x, y, dy, dx));
    /* A different batch than the training forward's. */
    cnn_tensor *x3 = tensor2(3, 4), *y3 = tensor2(3, 3), *dy3 = tensor2(3, 3);
    ck_assert_status(cnn_layer_backward(l, x3, y3, dy3, NULL), CNN_ESTATE);
    /* Wrongly sized gradients. */
    ck_assert_status(cnn_layer_backward(l, x, y, dy3, NULL), CNN_ESHAPE);
    ck_assert_status(cnn_layer_backward(l, x, y, dy, x3), CNN_ESHAPE);
    ck_assert_status(cnn_layer_backward(NULL, x, y, dy, dx), CNN_EINVAL);
    ck_assert_status(cnn_layer_backward(l, NULL, y, dy, dx), CNN_EINVAL);
    ck_assert_status(cnn_layer_backward(l, x, NULL, dy, dx), CNN_EINVAL);
    ck_assert_status(cnn_layer_backward(l, x, y, NULL, dx), CNN_EINVAL);
    cnn_tensor_destroy(x3);
    cnn_tensor_destroy(y3);
    cnn_tensor_destroy(dy3);

    /* Every kind refuses backward before a training forward. */
    cnn_layer *kinds[4];
    cnn_conv2d_params cp;
    ck_assert_ok(cnn_conv2d_params_init(&cp, 2, 2, 2));
    cp.in_channels = 1;
    ck_assert_ok(cnn_conv2d_create(&cp, &kinds[0]));
    cnn_pool2d_params pp;
    ck_assert_ok(cnn_pool2d_params_init(&pp, CNN_POOL_MAX, 2, 2));
    ck_assert_ok(cnn_pool2d_create(&pp, &kinds[1]));
    cnn_softmax_params sp;
    ck_assert_ok(cnn_softmax_params_init(&sp, 2));
    ck_assert_ok(cnn_softmax_create(&sp, &kinds[2]));
    ck_assert_ok(cnn_activation_create(CNN_ACT_RELU, &kinds[3]));
    cnn_tensor *img = tensor4(1, 1, 3, 3), *out = tensor4(1, 2, 2, 2), *pout = tensor4(1, 1, 1, 1),
               *s_out = tensor2(1, 2);
    ck_assert_status(cnn_layer_backward(kinds[0], img, out, out, NULL), CNN_ESTATE);
    ck_assert_status(cnn_layer_backward(kinds[1], img, pout, pout, img), CNN_ESTATE);
    ck_assert_status(cnn_layer_backward(kinds[2], img, s_out, s_out, img), CNN_ESTATE);
    ck_assert_status(cnn_layer_backward(kinds[3], img, img, img, img), CNN_ESTATE);
    for (int i = 0; i < 4; i++)
        cnn_layer_destroy(kinds[i]);
    cnn_tensor_destroy(img);
    cnn_tensor_destroy(out);
    cnn_tensor_destroy(pout);
    cnn_tensor_destroy(s_out);
    cnn_tensor_destroy(x);
    cnn_tensor_destroy(y);
    cnn_tensor_destroy(dy);
    cnn_tensor_destroy(dx);
    cnn_layer_destroy(l);
}
END_TEST

START_TEST(forward_argument_errors)
{
    cnn_conv2d_params cp;
    ck_assert_ok(cnn_conv2d_params_init(&cp, 2, 3, 3));
    cp.in_channels = 1;
    cnn_layer *l;
    ck_assert_ok(cnn_conv2d_create(&cp, &l));
    cnn_tensor *x = tensor4(2, 1, 5, 5), *y = tensor4(2, 2, 3, 3);
    ck_assert_status(cnn_layer_forward(NULL, x, y, CNN_MODE_INFER), CNN_EINVAL);
    ck_assert_status(cnn_layer_forward(l, NULL, y, CNN_MODE_INFER), CNN_EINVAL);
    ck_assert_status(cnn_layer_forward(l, x, NULL, CNN_MODE_INFER), CNN_EINVAL);
    ck_assert_status(cnn_layer_forward(l, x, y, 2), CNN_EINVAL);
    ck_assert_status(cnn_layer_forward(l, x, y, -1), CNN_EINVAL);
    /* Output of the wrong size or batch. */
    cnn_tensor *bad_y = tensor4(2, 2, 3, 2), *bad_n = tensor4(1, 2, 3, 3);
    ck_assert_status(cnn_layer_forward(l, x, bad_y, CNN_MODE_INFER), CNN_ESHAPE);
    ck_assert_status(cnn_layer_forward(l, x, bad_n, CNN_MODE_INFER), CNN_ESHAPE);
    /* Wrong channels, image too small for the kernel, input not rank 4. */
    cnn_tensor *x2c = tensor4(2, 2, 5, 5), *small = tensor4(2, 1, 2, 5), *flat = tensor2(2, 25);
    ck_assert_status(cnn_layer_forward(l, x2c, y, CNN_MODE_INFER), CNN_ESHAPE);
    ck_assert_status(cnn_layer_forward(l, small, y, CNN_MODE_INFER), CNN_ESHAPE);
    ck_assert_msg(strstr(cnn_last_error(), "kernel") != NULL, "message: %s", cnn_last_error());
    ck_assert_status(cnn_layer_forward(l, flat, y, CNN_MODE_INFER), CNN_ESHAPE);
    ck_assert_ok(cnn_layer_forward(l, x, y, CNN_MODE_INFER));
    cnn_tensor_destroy(bad_y);
    cnn_tensor_destroy(bad_n);
    cnn_tensor_destroy(x2c);
    cnn_tensor_destroy(small);
    cnn_tensor_destroy(flat);
    cnn_tensor_destroy(x);
    cnn_tensor_destroy(y);
    cnn_layer_destroy(l);

    /* Dense bound to 6 features refuses 8. */
    cnn_dense_params dp;
    ck_assert_ok(cnn_dense_params_init(&dp, 3));
    dp.in_features = 6;
    ck_assert_ok(cnn_dense_create(&dp, &l));
    x = tensor2(4, 8);
    y = tensor2(4, 3);
    ck_assert_status(cnn_layer_forward(l, x, y, CNN_MODE_INFER), CNN_ESHAPE);
    cnn_tensor_destroy(x);
    x = tensor4(4, 6, 1, 1);
    ck_assert_ok(cnn_layer_forward(l, x, y, CNN_MODE_INFER));
    cnn_tensor_destroy(x);
    cnn_tensor_destroy(y);
    cnn_layer_destroy(l);
}
END_TEST

START_TEST(owned_layer_destroy_is_noop)
{
    cnn_net *net;
    ck_assert_ok(cnn_net_create(1, 6, 6, 1, &net));
    cnn_conv2d_params cp;
    ck_assert_ok(cnn_conv2d_params_init(&cp, 2, 3, 3));
    cnn_layer *conv;
    ck_assert_ok(cnn_conv2d_create(&cp, &conv));
    ck_assert_ok(cnn_net_add(net, conv));
    cnn_softmax_params sp;
    ck_assert_ok(cnn_softmax_params_init(&sp, 3));
    cnn_layer *sm;
    ck_assert_ok(cnn_softmax_create(&sp, &sm));
    ck_assert_ok(cnn_net_add(net, sm));
    /* Both belong to the network now: destroying them does nothing ... */
    cnn_layer_destroy(conv);
    cnn_layer_destroy(sm);
    /* ... so they are still usable through the network ... */
    ck_assert_ptr_eq(cnn_net_layer(net, 0), conv);
    ck_assert_int_eq(cnn_layer_kind(conv), CNN_LAYER_CONV2D);
    ck_assert_int_eq(cnn_layer_param_count(conv), 2 * 9 + 2);
    ck_assert_ptr_eq(cnn_tensor_data(cnn_layer_param(conv, CNN_PARAM_WEIGHTS)), cnn_net_params(net));
    cnn_tensor *x = tensor4(2, 1, 6, 6), *y = tensor2(2, 3);
    fill(x, 1, 0.0f, 1.0f);
    ck_assert_ok(cnn_net_forward(net, x, CNN_MODE_INFER, y));
    /* ... and standalone forward/backward on an owned layer is refused. */
    cnn_tensor *cy = tensor4(2, 2, 4, 4);
    ck_assert_status(cnn_layer_forward(conv, x, cy, CNN_MODE_INFER), CNN_ESTATE);
    ck_assert_status(cnn_layer_backward(conv, x, cy, cy, NULL), CNN_ESTATE);
    cnn_tensor_destroy(x);
    cnn_tensor_destroy(y);
    cnn_tensor_destroy(cy);
    /* The network frees them once (ASan reports a double free otherwise). */
    cnn_net_destroy(net);
}
END_TEST

START_TEST(used_standalone_then_added)
{
    /* A layer used standalone first (bound, own storage, own buffers) can
     * then join a network, which takes over its storage. */
    cnn_dense_params dp;
    ck_assert_ok(cnn_dense_params_init(&dp, 4));
    cnn_layer *d;
    ck_assert_ok(cnn_dense_create(&dp, &d));
    cnn_tensor *x = tensor2(3, 12), *y = tensor2(3, 4), *dy = tensor2(3, 4);
    fill(x, 2, 0.0f, 1.0f);
    ck_assert_ok(cnn_layer_forward(d, x, y, CNN_MODE_TRAIN));
    ck_assert_ok(cnn_layer_backward(d, x, y, dy, NULL));
    cnn_net *net;
    ck_assert_ok(cnn_net_create(3, 2, 2, 9, &net));
    ck_assert_ok(cnn_net_add(net, d));
    ck_assert_ptr_eq(cnn_tensor_data(cnn_layer_param(d, CNN_PARAM_WEIGHTS)), cnn_net_params(net));
    ck_assert_ok(cnn_net_forward(net, x, CNN_MODE_INFER, y));
    cnn_layer_destroy(d); /* no-op */
    cnn_net_destroy(net);
    cnn_tensor_destroy(x);
    cnn_tensor_destroy(y);
    cnn_tensor_destroy(dy);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("layers");
    TCase *tc = tcase_create("layers");
    tcase_add_test(tc, params_init_defaults);
    tcase_add_test(tc, conv_validation);
    tcase_add_test(tc, pool_validation);
    tcase_add_test(tc, dense_validation);
    tcase_add_test(tc, softmax_validation);
    tcase_add_test(tc, activation_validation);
    tcase_add_test(tc, output_shapes);
    tcase_add_test(tc, param_views);
    tcase_add_test(tc, standalone_seed);
    tcase_add_test(tc, conv_forward_backward);
    tcase_add_test(tc, conv_fused_pooling);
    tcase_add_test(tc, conv_batch_sizes_mixed);
    tcase_add_test(tc, pool_forward_backward);
    tcase_add_test(tc, pool_max_ties_first);
    tcase_add_test(tc, dense_forward_backward);
    tcase_add_test(tc, softmax_forward_backward);
    tcase_add_test(tc, dense_dropout);
    tcase_add_test(tc, dense_dropout_independent_pairs);
    tcase_add_loop_test(tc, dense_dropout_exact_mask, 0, 2);
    tcase_add_test(tc, activation_forward_backward);
    tcase_add_test(tc, backward_before_forward);
    tcase_add_test(tc, forward_argument_errors);
    tcase_add_test(tc, owned_layer_destroy_is_noop);
    tcase_add_test(tc, used_standalone_then_added);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
