/* Every backward pass against central finite differences.
 *
 * Layers are checked standalone with the scalar J = sum(r .* y) for a fixed
 * random r (so dy = r); whole networks with J = mean negative
 * log-likelihood.  Kernels run in float32, so differences are taken with a
 * step of 1e-2 on smooth activations (truncation error O(h^2) ~ 1e-4) and J
 * is accumulated in double.  The error measure is the vector relative error
 * |a - n| / (|a| + |n|) over all checked entries, which is not fooled by
 * individual near-zero gradients; it must stay below 1e-2.
 *
 * Kinks (ReLU at 0, ties in max pooling) make finite differences
 * meaningless at a measure-zero set of points.  Max pooling is checked on
 * inputs whose values are all at least 2.5 steps apart (a shuffled ramp), so
 * no perturbation changes a window's maximum; ReLU with pre-activations kept
 * away from 0. */
#include "testutil.h"

#include "net/net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STEP 1e-3
#define TOLERANCE 1e-2
#define MAX_CHECKED 60 /* entries per array, spread evenly, to keep runtime small */

typedef struct vec_err {
    double diff2, sum2;
} vec_err;

static void err_add(vec_err *e, double analytic, double numeric)
{
    e->diff2 += (analytic - numeric) * (analytic - numeric);
    e->sum2 += (fabs(analytic) + fabs(numeric)) * (fabs(analytic) + fabs(numeric));
}

static double err_value(const vec_err *e)
{
    return e->sum2 > 0 ? sqrt(e->diff2 / e->sum2) : 0.0;
}

static void expect_small(const char *what, const vec_err *e)
{
    double rel = err_value(e);
    test_note_grad_error(what, rel);
    ck_assert_msg(e->sum2 > 0, "%s: gradient identically zero, nothing was checked", what);
    ck_assert_msg(rel < TOLERANCE, "%s: relative gradient error %.3e", what, rel);
}

/* ---- standalone layers ---------------------------------------------------- */

typedef struct layer_case {
    cnn_layer *layer;
    cnn_tensor *x, *y, *r, *dx;
} layer_case;

static double weighted_sum(const layer_case *c)
{
    ck_assert_ok(cnn_layer_forward(c->layer, c->x, c->y, CNN_MODE_TRAIN));
    double j = 0;
    for (int64_t i = 0; i < c->y->numel; i++)
        j += (double)c->y->data[i] * c->r->data[i];
    return j;
}

/* Checks d J / d values[i] for evenly spread i against analytic[i]. */
static void check_array(const char *what, layer_case *c, float *values, const float *analytic_src,
                        int64_t count, uint64_t reseed)
{
    float *analytic = malloc((size_t)count * sizeof *analytic);
    memcpy(analytic, analytic_src, (size_t)count * sizeof *analytic);
    vec_err e = {0};
    int64_t stride = count > MAX_CHECKED ? count / MAX_CHECKED : 1;
    for (int64_t i = 0; i < count; i += stride) {
        float saved = values[i];
        values[i] = saved + (float)STEP;
        cnn_rng_seed_stream(&c->layer->rng, reseed, 1);
        double plus = weighted_sum(c);
        values[i] = saved - (float)STEP;
        cnn_rng_seed_stream(&c->layer->rng, reseed, 1);
        double minus = weighted_sum(c);
        values[i] = saved;
        err_add(&e, analytic[i], (plus - minus) / (2 * STEP));
    }
    free(analytic);
    expect_small(what, &e);
}

static void shuffled_ramp(test_rng *rng, float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)(-1.0 + 2.5 * STEP * (double)i);
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(test_rng_uniform(rng) * (double)(i + 1));
        float t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
}

static void check_layer(const char *what, cnn_layer *layer, const int64_t *xshape, int32_t xrank,
                        float lo, float hi)
{
    test_rng rng;
    test_rng_seed(&rng, 42);
    layer_case c = {.layer = layer};
    ck_assert_ok(cnn_tensor_create(xrank, xshape, &c.x));
    ck_assert_ok(cnn_tensor_create(xrank, xshape, &c.dx));
    test_fill_uniform(&rng, c.x->data, (size_t)c.x->numel, lo, hi);
    if (lo == hi) /* distinct values: a shuffled ramp from -1 with spacing 2.5 steps */
        shuffled_ramp(&rng, c.x->data, c.x->numel);
    if (lo > 0) /* keep ReLU inputs away from its kink: random signs, |x| >= lo */
        for (int64_t i = 0; i < c.x->numel; i++)
            if (test_rng_uniform(&rng) < 0.5)
                c.x->data[i] = -c.x->data[i];

    int32_t in[3] = {(int32_t)xshape[1], xrank == 4 ? (int32_t)xshape[2] : 1,
                     xrank == 4 ? (int32_t)xshape[3] : 1};
    if (xrank == 2)
        in[0] = (int32_t)xshape[1];
    int32_t out[3];
    ck_assert_ok(cnn_layer_output_shape(layer, in, out));
    int64_t yshape[2] = {xshape[0], (int64_t)out[0] * out[1] * out[2]};
    ck_assert_ok(cnn_tensor_create(2, yshape, &c.y));
    ck_assert_ok(cnn_tensor_create(2, yshape, &c.r));
    test_fill_uniform(&rng, c.r->data, (size_t)c.r->numel, -1.0f, 1.0f);

    /* Analytic gradients with a fixed dropout mask (reseeded generator). */
    const uint64_t mask_seed = 7;
    cnn_rng_seed_stream(&layer->rng, mask_seed, 1);
    weighted_sum(&c);
    ck_assert_ok(cnn_layer_backward(layer, c.x, c.y, c.r, c.dx));

    char name[160];
    snprintf(name, sizeof name, "%s: input", what);
    check_array(name, &c, c.x->data, c.dx->data, c.x->numel, mask_seed);
    cnn_tensor *w = cnn_layer_param(layer, CNN_PARAM_WEIGHTS);
    if (w) {
        /* Recompute the analytic parameter gradients at the unperturbed point. */
        cnn_rng_seed_stream(&layer->rng, mask_seed, 1);
        weighted_sum(&c);
        ck_assert_ok(cnn_layer_backward(layer, c.x, c.y, c.r, NULL));
        cnn_tensor *dw = cnn_layer_param(layer, CNN_PARAM_GRAD_WEIGHTS);
        cnn_tensor *b = cnn_layer_param(layer, CNN_PARAM_BIASES);
        cnn_tensor *db = cnn_layer_param(layer, CNN_PARAM_GRAD_BIASES);
        snprintf(name, sizeof name, "%s: weights", what);
        check_array(name, &c, w->data, dw->data, w->numel, mask_seed);
        snprintf(name, sizeof name, "%s: biases", what);
        check_array(name, &c, b->data, db->data, b->numel, mask_seed);
    }
    cnn_tensor_destroy(c.x);
    cnn_tensor_destroy(c.dx);
    cnn_tensor_destroy(c.y);
    cnn_tensor_destroy(c.r);
    cnn_layer_destroy(layer);
}

static cnn_layer *conv(int in_c, int out_c, int kh, int kw, int stride, int pad, int act, int pool)
{
    cnn_conv2d_params p;
    cnn_conv2d_params_init(&p, out_c, kh, kw);
    p.in_channels = in_c;
    p.stride_h = p.stride_w = stride;
    p.pad_h = p.pad_w = pad;
    p.activation = act;
    p.pool = pool;
    p.init = CNN_INIT_HE;
    p.seed = 3;
    cnn_layer *l;
    ck_assert_ok(cnn_conv2d_create(&p, &l));
    /* Non-zero biases so every path is exercised. */
    cnn_tensor *b = cnn_layer_param(l, CNN_PARAM_BIASES);
    for (int64_t i = 0; i < b->numel; i++)
        b->data[i] = 0.1f * (float)(i % 5) - 0.2f;
    return l;
}

START_TEST(conv_plain)
{
    int64_t xs[4] = {3, 2, 7, 6};
    check_layer("conv2d 3x3 sigmoid", conv(2, 3, 3, 3, 1, 0, CNN_ACT_SIGMOID, CNN_POOL_NONE), xs, 4,
                -1, 1);
}
END_TEST

START_TEST(conv_stride_pad)
{
    int64_t xs[4] = {2, 3, 8, 7};
    check_layer("conv2d 3x2 stride 2 pad 1 tanh",
                conv(3, 4, 3, 2, 2, 1, CNN_ACT_TANH, CNN_POOL_NONE), xs, 4, -1, 1);
}
END_TEST

START_TEST(conv_fused_pools)
{
    int64_t xs[4] = {2, 2, 9, 9};
    check_layer("conv2d + fused max pool", conv(2, 3, 3, 3, 1, 0, CNN_ACT_SIGMOID, CNN_POOL_MAX),
                xs, 4, -1, 1);
    /* runs of 4 channels x 5 columns: the gradients summed over the windows'
     * maxima only (conv2d_pooled.c), a 7x6 output whose last row no window
     * covers */
    int64_t xs_runs[4] = {2, 4, 9, 10};
    check_layer("conv2d + fused max pool, pooled gradients",
                conv(4, 3, 3, 5, 1, 0, CNN_ACT_SIGMOID, CNN_POOL_MAX), xs_runs, 4, -1, 1);
    check_layer("conv2d + fused avg pool", conv(2, 3, 3, 3, 1, 0, CNN_ACT_TANH, CNN_POOL_AVG), xs, 4,
                -1, 1);
    check_layer("conv2d + fused L2 pool", conv(2, 3, 3, 3, 1, 0, CNN_ACT_IDENTITY, CNN_POOL_L2), xs,
                4, -1, 1);
}
END_TEST

START_TEST(conv_relu)
{
    /* ReLU away from its kink: pre-activations far from 0 need the bias to
     * dominate, so use identity-like small weights and large biases. */
    cnn_layer *l = conv(1, 2, 2, 2, 1, 0, CNN_ACT_RELU, CNN_POOL_NONE);
    cnn_tensor *b = cnn_layer_param(l, CNN_PARAM_BIASES);
    b->data[0] = 3.0f;  /* always active */
    b->data[1] = -3.0f; /* always inactive: gradient 0 through it */
    cnn_tensor *w = cnn_layer_param(l, CNN_PARAM_WEIGHTS);
    for (int64_t i = 0; i < w->numel; i++)
        w->data[i] *= 0.3f;
    int64_t xs[4] = {2, 1, 5, 5};
    check_layer("conv2d relu", l, xs, 4, -1, 1);
}
END_TEST

static cnn_layer *pool(int mode, int win, int stride)
{
    cnn_pool2d_params p;
    cnn_pool2d_params_init(&p, mode, win, win);
    p.stride_h = p.stride_w = stride;
    cnn_layer *l;
    ck_assert_ok(cnn_pool2d_create(&p, &l));
    return l;
}

START_TEST(pools)
{
    int64_t xs[4] = {2, 3, 7, 7};
    check_layer("pool max 2/2", pool(CNN_POOL_MAX, 2, 2), xs, 4, 0, 0);
    check_layer("pool max 3/2 overlapping", pool(CNN_POOL_MAX, 3, 2), xs, 4, 0, 0);
    check_layer("pool avg 3/2", pool(CNN_POOL_AVG, 3, 2), xs, 4, -1, 1);
    check_layer("pool L2 2/2", pool(CNN_POOL_L2, 2, 2), xs, 4, -1, 1);
}
END_TEST

static cnn_layer *dense(int in, int out, int act, float dropout)
{
    cnn_dense_params p;
    cnn_dense_params_init(&p, out);
    p.in_features = in;
    p.activation = act;
    p.dropout = dropout;
    p.seed = 5;
    cnn_layer *l;
    ck_assert_ok(cnn_dense_create(&p, &l));
    return l;
}

START_TEST(dense_layers)
{
    int64_t xs[2] = {7, 13};
    check_layer("dense sigmoid", dense(13, 5, CNN_ACT_SIGMOID, 0), xs, 2, -1, 1);
    check_layer("dense tanh", dense(13, 5, CNN_ACT_TANH, 0), xs, 2, -1, 1);
    check_layer("dense identity", dense(13, 5, CNN_ACT_IDENTITY, 0), xs, 2, -1, 1);
    check_layer("dense sigmoid dropout 0.5 (fixed mask)", dense(13, 5, CNN_ACT_SIGMOID, 0.5f), xs, 2,
                -1, 1);
    int64_t x1[2] = {1, 13};
    check_layer("dense batch 1", dense(13, 4, CNN_ACT_SIGMOID, 0), x1, 2, -1, 1);
}
END_TEST

START_TEST(dense_relu)
{
    cnn_layer *l = dense(6, 4, CNN_ACT_RELU, 0);
    cnn_tensor *b = cnn_layer_param(l, CNN_PARAM_BIASES);
    b->data[0] = 4.0f;
    b->data[1] = -4.0f;
    b->data[2] = 4.0f;
    b->data[3] = 4.0f;
    int64_t xs[2] = {3, 6};
    check_layer("dense relu", l, xs, 2, -1, 1);
}
END_TEST

START_TEST(softmax_layer)
{
    cnn_softmax_params p;
    cnn_softmax_params_init(&p, 4);
    p.in_features = 9;
    p.init = CNN_INIT_GLOROT;
    p.dropout = 0.25f;
    cnn_layer *l;
    ck_assert_ok(cnn_softmax_create(&p, &l));
    int64_t xs[2] = {5, 9};
    check_layer("softmax dropout 0.25 (fixed mask)", l, xs, 2, -1, 1);
}
END_TEST

START_TEST(activation_layers)
{
    int64_t xs[4] = {2, 3, 4, 5};
    for (int act = CNN_ACT_IDENTITY; act <= CNN_ACT_TANH; act++) {
        cnn_layer *l;
        ck_assert_ok(cnn_activation_create(act, &l));
        char name[64];
        snprintf(name, sizeof name, "activation %d", act);
        check_layer(name, l, xs, 4, -2, 2);
    }
    cnn_layer *relu;
    ck_assert_ok(cnn_activation_create(CNN_ACT_RELU, &relu));
    check_layer("activation relu", relu, xs, 4, 0.1f, 1);
}
END_TEST

/* ---- whole networks --------------------------------------------------------- */

static double net_cost(cnn_net *net, const cnn_tensor *x, const int32_t *labels, cnn_tensor *y,
                       uint64_t mask_seed)
{
    cnn_net_seed_dropout(net, mask_seed);
    ck_assert_ok(cnn_net_forward(net, x, CNN_MODE_TRAIN, y));
    int64_t n = y->shape[0], k = y->numel / n;
    double j = 0;
    for (int64_t i = 0; i < n; i++)
        j -= log((double)y->data[i * k + labels[i]]);
    return j / (double)n;
}

static void check_net(const char *what, cnn_net *net, int n, float dropout_seed_used)
{
    (void)dropout_seed_used;
    int32_t in[3], out[3];
    cnn_net_input_shape(net, in);
    cnn_net_output_shape(net, out);
    int64_t xs[4] = {n, in[0], in[1], in[2]};
    int64_t ys[2] = {n, out[0]};
    cnn_tensor *x, *y;
    ck_assert_ok(cnn_tensor_create(4, xs, &x));
    ck_assert_ok(cnn_tensor_create(2, ys, &y));
    test_rng rng;
    test_rng_seed(&rng, 99);
    test_fill_uniform(&rng, x->data, (size_t)x->numel, 0, 1);
    int32_t *labels = malloc((size_t)n * sizeof *labels);
    for (int i = 0; i < n; i++)
        labels[i] = (i * 7 + 3) % out[0];
    /* network3 starts softmax at zero; give it random weights so every
     * gradient upstream of it is non-zero. */
    float *params = cnn_net_params(net);
    cnn_layer *last = cnn_net_layer(net, cnn_net_layer_count(net) - 1);
    test_fill_uniform(&rng, cnn_layer_param(last, CNN_PARAM_WEIGHTS)->data,
                      (size_t)cnn_layer_param(last, CNN_PARAM_WEIGHTS)->numel, -0.5f, 0.5f);

    const uint64_t mask_seed = 11;
    double cost;
    cnn_net_seed_dropout(net, mask_seed);
    ck_assert_ok(cnn_net_forward(net, x, CNN_MODE_TRAIN, NULL));
    ck_assert_ok(cnn_net_backward(net, labels, &cost));
    ck_assert_msg(fabs(cost - net_cost(net, x, labels, y, mask_seed)) < 1e-5,
                  "backward's cost differs from the forward's");
    /* net_cost above ran a forward; redo forward+backward for clean grads. */
    cnn_net_seed_dropout(net, mask_seed);
    ck_assert_ok(cnn_net_forward(net, x, CNN_MODE_TRAIN, NULL));
    ck_assert_ok(cnn_net_backward(net, labels, NULL));
    int64_t count = cnn_net_param_count(net);
    float *analytic = malloc((size_t)count * sizeof *analytic);
    memcpy(analytic, cnn_net_grads(net), (size_t)count * sizeof *analytic);

    int64_t offset = 0;
    for (int32_t li = 0; li < cnn_net_layer_count(net); li++) {
        cnn_layer *l = cnn_net_layer(net, li);
        int64_t np = cnn_layer_param_count(l);
        if (np == 0)
            continue;
        vec_err e = {0};
        int64_t stride = np > MAX_CHECKED ? np / MAX_CHECKED : 1;
        for (int64_t i = 0; i < np; i += stride) {
            float *p = &params[offset + i];
            float saved = *p;
            *p = saved + (float)STEP;
            double plus = net_cost(net, x, labels, y, mask_seed);
            *p = saved - (float)STEP;
            double minus = net_cost(net, x, labels, y, mask_seed);
            *p = saved;
            err_add(&e, analytic[offset + i], (plus - minus) / (2 * STEP));
        }
        char name[160];
        snprintf(name, sizeof name, "%s: layer %d parameters", what, (int)li);
        expect_small(name, &e);
        offset += np;
    }
    free(analytic);
    free(labels);
    cnn_tensor_destroy(x);
    cnn_tensor_destroy(y);
}

static void add_conv(cnn_net *net, int maps, int act, int pool_mode)
{
    cnn_conv2d_params p;
    cnn_conv2d_params_init(&p, maps, 5, 5);
    p.activation = act;
    p.pool = pool_mode;
    cnn_layer *l;
    ck_assert_ok(cnn_conv2d_create(&p, &l));
    ck_assert_ok(cnn_net_add(net, l));
}

static void add_dense(cnn_net *net, int n, int act, float dropout)
{
    cnn_dense_params p;
    cnn_dense_params_init(&p, n);
    p.activation = act;
    p.dropout = dropout;
    cnn_layer *l;
    ck_assert_ok(cnn_dense_create(&p, &l));
    ck_assert_ok(cnn_net_add(net, l));
}

static void add_softmax(cnn_net *net, int classes, float dropout)
{
    cnn_softmax_params p;
    cnn_softmax_params_init(&p, classes);
    p.dropout = dropout;
    cnn_layer *l;
    ck_assert_ok(cnn_softmax_create(&p, &l));
    ck_assert_ok(cnn_net_add(net, l));
}

START_TEST(chapter_network_sigmoid)
{
    /* The chapter's shape, scaled down: conv -> pool -> conv -> pool -> dense -> softmax. */
    cnn_net *net;
    ck_assert_ok(cnn_net_create(1, 16, 16, 1, &net));
    add_conv(net, 3, CNN_ACT_SIGMOID, CNN_POOL_MAX); /* 3x6x6 */
    cnn_pool2d_params pp;
    cnn_conv2d_params cp;
    cnn_conv2d_params_init(&cp, 4, 3, 3);
    cp.activation = CNN_ACT_TANH;
    cnn_layer *l;
    ck_assert_ok(cnn_conv2d_create(&cp, &l));
    ck_assert_ok(cnn_net_add(net, l)); /* 4x4x4 */
    cnn_pool2d_params_init(&pp, CNN_POOL_MAX, 2, 2);
    ck_assert_ok(cnn_pool2d_create(&pp, &l));
    ck_assert_ok(cnn_net_add(net, l)); /* 4x2x2 */
    add_dense(net, 7, CNN_ACT_SIGMOID, 0);
    add_softmax(net, 5, 0);
    check_net("conv-pool-conv-pool-dense-softmax", net, 3, 0);
    cnn_net_destroy(net);
}
END_TEST

START_TEST(chapter_network_dropout)
{
    /* Row 10's structure in miniature: dropout on the inputs of both dense
     * layers and of the softmax, masks fixed by reseeding. */
    cnn_net *net;
    ck_assert_ok(cnn_net_create(1, 12, 12, 2, &net));
    add_conv(net, 2, CNN_ACT_TANH, CNN_POOL_AVG); /* 2x4x4 */
    add_dense(net, 9, CNN_ACT_SIGMOID, 0.5f);
    add_dense(net, 8, CNN_ACT_TANH, 0.5f);
    add_softmax(net, 4, 0.5f);
    check_net("conv-dense-dense-softmax with dropout 0.5", net, 4, 1);
    cnn_net_destroy(net);
}
END_TEST

static Suite *gradcheck_suite(void)
{
    Suite *s = suite_create("gradcheck");
    TCase *layers = tcase_create("layers");
    tcase_add_test(layers, conv_plain);
    tcase_add_test(layers, conv_stride_pad);
    tcase_add_test(layers, conv_fused_pools);
    tcase_add_test(layers, conv_relu);
    tcase_add_test(layers, pools);
    tcase_add_test(layers, dense_layers);
    tcase_add_test(layers, dense_relu);
    tcase_add_test(layers, softmax_layer);
    tcase_add_test(layers, activation_layers);
    suite_add_tcase(s, layers);
    TCase *nets = tcase_create("networks");
    tcase_add_test(nets, chapter_network_sigmoid);
    tcase_add_test(nets, chapter_network_dropout);
    suite_add_tcase(s, nets);
    return s;
}

int main(void)
{
    return test_run_suite(gradcheck_suite());
}
