/* Batch normalisation and global average pooling (issue 10).
 *
 * Gradients against central finite differences in training mode (batch
 * statistics), for spatial and flat inputs and inside a network; inference
 * against a hand computation from the running statistics; the running
 * statistics after one training forward against their closed form;
 * determinism (two runs, one and two threads); the running statistics as
 * layer state through model files, clone and checkpoint resume; parameter
 * and descriptor validation. */
#include "testfs.h"
#include "testutil.h"

#include "layers/layer.h"
#include "net/net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define STEP 5e-3
#define TOLERANCE 1e-2
#define MAX_CHECKED 60

/* ---- finite differences on a standalone layer ----------------------------- */

typedef struct vec_err {
    double diff2, sum2;
} vec_err;

static void err_add(vec_err *e, double analytic, double numeric)
{
    e->diff2 += (analytic - numeric) * (analytic - numeric);
    e->sum2 += (fabs(analytic) + fabs(numeric)) * (fabs(analytic) + fabs(numeric));
}

static void expect_small(const char *what, const vec_err *e)
{
    double rel = e->sum2 > 0 ? sqrt(e->diff2 / e->sum2) : 0.0;
    test_note_grad_error(what, rel);
    ck_assert_msg(e->sum2 > 0, "%s: gradient identically zero, nothing was checked", what);
    ck_assert_msg(rel < TOLERANCE, "%s: relative gradient error %.3e", what, rel);
}

typedef struct layer_case {
    cnn_layer *layer;
    cnn_tensor *x, *y, *r, *dx;
} layer_case;

/* J = sum(r .* y) after a training forward. */
static double weighted_sum(const layer_case *c)
{
    ck_assert_ok(cnn_layer_forward(c->layer, c->x, c->y, CNN_MODE_TRAIN));
    double j = 0;
    for (int64_t i = 0; i < c->y->numel; i++)
        j += (double)c->y->data[i] * c->r->data[i];
    return j;
}

static void check_array(const char *what, layer_case *c, float *values, const float *analytic_src,
                        int64_t count)
{
    float *analytic = malloc((size_t)count * sizeof *analytic);
    memcpy(analytic, analytic_src, (size_t)count * sizeof *analytic);
    vec_err e = {0};
    int64_t stride = count > MAX_CHECKED ? count / MAX_CHECKED : 1;
    for (int64_t i = 0; i < count; i += stride) {
        float saved = values[i];
        values[i] = saved + (float)STEP;
        double plus = weighted_sum(c);
        values[i] = saved - (float)STEP;
        double minus = weighted_sum(c);
        values[i] = saved;
        err_add(&e, analytic[i], (plus - minus) / (2 * STEP));
    }
    free(analytic);
    expect_small(what, &e);
}

/* Checks dx and, when the layer has them, dgamma and dbeta. */
static void check_layer(const char *what, cnn_layer *layer, const int64_t *xshape, int32_t xrank)
{
    test_rng rng;
    test_rng_seed(&rng, 42);
    layer_case c = {.layer = layer};
    ck_assert_ok(cnn_tensor_create(xrank, xshape, &c.x));
    ck_assert_ok(cnn_tensor_create(xrank, xshape, &c.dx));
    ck_assert_ok(cnn_tensor_create(xrank, xshape, &c.y));
    ck_assert_ok(cnn_tensor_create(xrank, xshape, &c.r));
    test_fill_uniform(&rng, c.x->data, (size_t)c.x->numel, -2.0f, 2.0f);
    if (cnn_layer_kind(layer) == CNN_LAYER_GLOBAL_AVG_POOL) {
        int64_t ys[2] = {xshape[0], xshape[1]};
        cnn_tensor_destroy(c.y);
        cnn_tensor_destroy(c.r);
        ck_assert_ok(cnn_tensor_create(2, ys, &c.y));
        ck_assert_ok(cnn_tensor_create(2, ys, &c.r));
    }
    test_fill_uniform(&rng, c.r->data, (size_t)c.r->numel, -1.0f, 1.0f);

    /* The first forward binds the layer; then give gamma and beta values
     * away from their 1 / 0 start so every path is exercised. */
    weighted_sum(&c);
    cnn_tensor *w = cnn_layer_param(layer, CNN_PARAM_WEIGHTS);
    cnn_tensor *b = cnn_layer_param(layer, CNN_PARAM_BIASES);
    if (w) {
        test_fill_uniform(&rng, w->data, (size_t)w->numel, 0.5f, 1.5f);
        test_fill_uniform(&rng, b->data, (size_t)b->numel, -0.5f, 0.5f);
    }
    weighted_sum(&c);
    ck_assert_ok(cnn_layer_backward(layer, c.x, c.y, c.r, c.dx));

    char name[160];
    snprintf(name, sizeof name, "%s: input", what);
    check_array(name, &c, c.x->data, c.dx->data, c.x->numel);
    if (w) {
        weighted_sum(&c);
        ck_assert_ok(cnn_layer_backward(layer, c.x, c.y, c.r, NULL));
        cnn_tensor *dw = cnn_layer_param(layer, CNN_PARAM_GRAD_WEIGHTS);
        cnn_tensor *db = cnn_layer_param(layer, CNN_PARAM_GRAD_BIASES);
        snprintf(name, sizeof name, "%s: gamma", what);
        check_array(name, &c, w->data, dw->data, w->numel);
        snprintf(name, sizeof name, "%s: beta", what);
        check_array(name, &c, b->data, db->data, b->numel);
    }
    cnn_tensor_destroy(c.x);
    cnn_tensor_destroy(c.dx);
    cnn_tensor_destroy(c.y);
    cnn_tensor_destroy(c.r);
    cnn_layer_destroy(layer);
}

static cnn_layer *make_bn(int32_t channels, float momentum)
{
    cnn_batchnorm_params p;
    ck_assert_ok(cnn_batchnorm_params_init(&p));
    p.channels = channels;
    p.momentum = momentum;
    cnn_layer *l = NULL;
    ck_assert_ok(cnn_batchnorm_create(&p, &l));
    return l;
}

START_TEST(gradcheck_bn_spatial)
{
    int64_t xs[4] = {3, 2, 3, 4}; /* statistics over 3*12 values per channel */
    check_layer("batchnorm spatial", make_bn(0, 0.1f), xs, 4);
    int64_t one[4] = {1, 3, 2, 2}; /* a batch of one: over the plane only */
    check_layer("batchnorm spatial batch 1", make_bn(3, 0.1f), one, 4);
}
END_TEST

START_TEST(gradcheck_bn_flat)
{
    int64_t xs[2] = {6, 5}; /* per feature over 6 examples */
    check_layer("batchnorm flat", make_bn(0, 0.1f), xs, 2);
    int64_t flat4[4] = {4, 3, 1, 1}; /* (N, C, 1, 1) is flat too */
    check_layer("batchnorm flat rank 4", make_bn(3, 0.5f), flat4, 4);
}
END_TEST

START_TEST(gradcheck_gap)
{
    int64_t xs[4] = {2, 3, 4, 5};
    cnn_layer *l = NULL;
    ck_assert_ok(cnn_global_avg_pool_create(&l));
    check_layer("global_avg_pool", l, xs, 4);
}
END_TEST

/* ---- forward values -------------------------------------------------------- */

/* Per-channel mean and biased variance, in double, of x (n x c x plane). */
static void stats(const float *x, int n, int c, int plane, double *mean, double *var)
{
    for (int ch = 0; ch < c; ch++) {
        double s = 0, q = 0;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < plane; k++)
                s += x[((size_t)i * c + ch) * plane + k];
        mean[ch] = s / (n * plane);
        for (int i = 0; i < n; i++)
            for (int k = 0; k < plane; k++) {
                double d = x[((size_t)i * c + ch) * plane + k] - mean[ch];
                q += d * d;
            }
        var[ch] = q / (n * plane);
    }
}

START_TEST(inference_uses_running_stats)
{
    enum { N = 2, C = 3, H = 2, W = 2, PLANE = H * W };
    cnn_layer *l = make_bn(C, 0.1f);
    ck_assert_int_eq(cnn_layer_kind(l), CNN_LAYER_BATCHNORM);
    ck_assert_int_eq(cnn_layer_param_count(l), 2 * C);
    ck_assert_int_eq(l->n_state, 2 * C);
    /* Initial state: mean 0, variance 1; gamma 1, beta 0. */
    for (int ch = 0; ch < C; ch++) {
        ck_assert(l->state[ch] == 0.0f && l->state[C + ch] == 1.0f);
        ck_assert(l->w[ch] == 1.0f && l->b[ch] == 0.0f);
    }
    const float rm[C] = {0.5f, -1.0f, 2.0f}, rv[C] = {4.0f, 0.25f, 1.5f};
    const float g[C] = {1.5f, -0.5f, 2.0f}, be[C] = {0.1f, 0.2f, -0.3f};
    for (int ch = 0; ch < C; ch++) {
        l->state[ch] = rm[ch];
        l->state[C + ch] = rv[ch];
        l->w[ch] = g[ch];
        l->b[ch] = be[ch];
    }
    int64_t xs[4] = {N, C, H, W};
    cnn_tensor *x, *y;
    ck_assert_ok(cnn_tensor_create(4, xs, &x));
    ck_assert_ok(cnn_tensor_create(4, xs, &y));
    test_rng rng;
    test_rng_seed(&rng, 5);
    test_fill_uniform(&rng, x->data, (size_t)x->numel, -3, 3);
    ck_assert_ok(cnn_layer_forward(l, x, y, CNN_MODE_INFER));
    for (int i = 0; i < N; i++)
        for (int ch = 0; ch < C; ch++)
            for (int k = 0; k < PLANE; k++) {
                size_t at = ((size_t)i * C + ch) * PLANE + k;
                double want = g[ch] * (x->data[at] - rm[ch]) / sqrt(rv[ch] + 1e-5) + be[ch];
                ck_assert_msg(fabs(y->data[at] - want) < 1e-5 * (1 + fabs(want)),
                              "y[%zu] = %.8g, want %.8g", at, (double)y->data[at], want);
            }
    /* Inference leaves the running statistics alone. */
    for (int ch = 0; ch < C; ch++)
        ck_assert(l->state[ch] == rm[ch] && l->state[C + ch] == rv[ch]);
    /* Backward needs a training forward. */
    ck_assert_status(cnn_layer_backward(l, x, y, y, NULL), CNN_ESTATE);
    cnn_tensor_destroy(x);
    cnn_tensor_destroy(y);
    cnn_layer_destroy(l);
}
END_TEST

/* One training forward from the initial state: running mean = m * batch
 * mean, running variance = (1-m) + m * unbiased batch variance; the output
 * has per-channel mean 0 and biased variance var/(var+eps). */
static void check_one_training_forward(int32_t rank, const int64_t *xs, int n, int c, int plane)
{
    const float m = 0.1f;
    cnn_layer *l = make_bn(0, m);
    cnn_tensor *x, *y;
    ck_assert_ok(cnn_tensor_create(rank, xs, &x));
    ck_assert_ok(cnn_tensor_create(rank, xs, &y));
    test_rng rng;
    test_rng_seed(&rng, 17);
    test_fill_uniform(&rng, x->data, (size_t)x->numel, -1, 3);
    ck_assert_ok(cnn_layer_forward(l, x, y, CNN_MODE_TRAIN));
    ck_assert_int_eq(l->n_state, 2 * c);
    double *mean = malloc(sizeof(double) * (size_t)c), *var = malloc(sizeof(double) * (size_t)c);
    double *ym = malloc(sizeof(double) * (size_t)c), *yv = malloc(sizeof(double) * (size_t)c);
    stats(x->data, n, c, plane, mean, var);
    stats(y->data, n, c, plane, ym, yv);
    const double count = (double)n * plane;
    for (int ch = 0; ch < c; ch++) {
        double want_mean = (double)m * mean[ch];
        double want_var = (1.0 - (double)m) * 1.0 + (double)m * var[ch] * count / (count - 1);
        ck_assert_msg(fabs(l->state[ch] - want_mean) < 1e-6, "running mean %d: %.9g, want %.9g",
                      ch, (double)l->state[ch], want_mean);
        ck_assert_msg(fabs(l->state[c + ch] - want_var) < 1e-6 * want_var,
                      "running var %d: %.9g, want %.9g", ch, (double)l->state[c + ch], want_var);
        ck_assert_msg(fabs(ym[ch]) < 1e-6, "output mean %d: %g", ch, ym[ch]);
        ck_assert_msg(fabs(yv[ch] - var[ch] / (var[ch] + 1e-5)) < 1e-5, "output var %d: %g", ch,
                      yv[ch]);
    }
    free(mean);
    free(var);
    free(ym);
    free(yv);
    cnn_tensor_destroy(x);
    cnn_tensor_destroy(y);
    cnn_layer_destroy(l);
}

START_TEST(running_stats_closed_form)
{
    int64_t spatial[4] = {4, 3, 5, 2};
    check_one_training_forward(4, spatial, 4, 3, 10);
    int64_t flat[2] = {7, 6};
    check_one_training_forward(2, flat, 7, 6, 1);
}
END_TEST

START_TEST(gap_values_and_summaries)
{
    cnn_layer *l = NULL;
    ck_assert_ok(cnn_global_avg_pool_create(&l));
    ck_assert_int_eq(cnn_layer_kind(l), CNN_LAYER_GLOBAL_AVG_POOL);
    int32_t in[3] = {4, 3, 5}, out[3];
    ck_assert_ok(cnn_layer_output_shape(l, in, out));
    ck_assert(out[0] == 4 && out[1] == 1 && out[2] == 1);
    int64_t xs[4] = {2, 4, 3, 5}, ys[2] = {2, 4};
    cnn_tensor *x, *y;
    ck_assert_ok(cnn_tensor_create(4, xs, &x));
    ck_assert_ok(cnn_tensor_create(2, ys, &y));
    for (int64_t i = 0; i < x->numel; i++)
        x->data[i] = (float)(i % 15) - (float)(i / 15);
    ck_assert_ok(cnn_layer_forward(l, x, y, CNN_MODE_INFER));
    for (int p = 0; p < 8; p++) /* plane p holds (k - p) for k = 0..14: mean 7 - p */
        ck_assert_msg(fabs(y->data[p] - (7.0f - (float)p)) < 1e-5, "plane %d: %g", p,
                      (double)y->data[p]);
    char buf[128];
    ck_assert_ok(cnn_layer_summary(l, buf, sizeof buf));
    ck_assert_str_eq(buf, "global_avg_pool");
    cnn_layer *bn = make_bn(0, 0.1f);
    ck_assert_ok(cnn_layer_summary(bn, buf, sizeof buf));
    ck_assert_str_eq(buf, "batchnorm momentum 0.1, eps 1e-05");
    int64_t v = 0;
    ck_assert_ok(cnn_constant("CNN_LAYER_BATCHNORM", &v));
    ck_assert_int_eq(v, 6);
    ck_assert_ok(cnn_constant("CNN_LAYER_GLOBAL_AVG_POOL", &v));
    ck_assert_int_eq(v, 7);
    cnn_layer_destroy(bn);
    cnn_tensor_destroy(x);
    cnn_tensor_destroy(y);
    cnn_layer_destroy(l);
}
END_TEST

START_TEST(params_validated)
{
    cnn_batchnorm_params p;
    cnn_layer *l = NULL;
    ck_assert_status(cnn_batchnorm_params_init(NULL), CNN_EINVAL);
    ck_assert_ok(cnn_batchnorm_params_init(&p));
    ck_assert(p.momentum == 0.1f && p.epsilon == 1e-5f && p.channels == 0);
    ck_assert_int_eq(p.struct_size, sizeof p);
    const float bad_m[] = {-0.01f, 1.01f, NAN};
    for (size_t i = 0; i < sizeof bad_m / sizeof bad_m[0]; i++) {
        cnn_batchnorm_params_init(&p);
        p.momentum = bad_m[i];
        ck_assert_status(cnn_batchnorm_create(&p, &l), CNN_EINVAL);
        ck_assert_ptr_null(l);
    }
    const float bad_e[] = {0.0f, -1e-5f, INFINITY, NAN};
    for (size_t i = 0; i < sizeof bad_e / sizeof bad_e[0]; i++) {
        cnn_batchnorm_params_init(&p);
        p.epsilon = bad_e[i];
        ck_assert_status(cnn_batchnorm_create(&p, &l), CNN_EINVAL);
    }
    cnn_batchnorm_params_init(&p);
    p.channels = -1;
    ck_assert_status(cnn_batchnorm_create(&p, &l), CNN_EINVAL);
    p.channels = 0;
    p.struct_size = 8;
    ck_assert_status(cnn_batchnorm_create(&p, &l), CNN_EINVAL);
    ck_assert_status(cnn_batchnorm_create(NULL, &l), CNN_EINVAL);
    ck_assert_status(cnn_global_avg_pool_create(NULL), CNN_EINVAL);
    /* momentum 0 and 1 are fine. */
    cnn_batchnorm_params_init(&p);
    p.momentum = 1.0f;
    ck_assert_ok(cnn_batchnorm_create(&p, &l));
    cnn_layer_destroy(l);
    /* A preset channel count must match the network. */
    cnn_net *net = NULL;
    ck_assert_ok(cnn_net_create(2, 4, 4, 1, &net));
    l = make_bn(3, 0.1f);
    ck_assert_status(cnn_net_add(net, l), CNN_ESHAPE);
    cnn_layer_destroy(l);
    l = make_bn(2, 0.1f);
    ck_assert_ok(cnn_net_add(net, l));
    ck_assert_int_eq(cnn_net_param_count(net), 4);
    cnn_net_destroy(net);
}
END_TEST

/* ---- in a network ------------------------------------------------------------ */

enum { NC = 1, NH = 6, NW = 6, CLASSES = 3, BATCH = 8 };

/* 1x6x6 -> conv 4 3x3 (identity) -> batchnorm -> relu -> gap -> dense 5 ->
 * batchnorm (flat) -> softmax 3 */
static cnn_net *make_net(uint64_t seed)
{
    cnn_net *net = NULL;
    ck_assert_ok(cnn_net_create(NC, NH, NW, seed, &net));
    cnn_conv2d_params cp;
    ck_assert_ok(cnn_conv2d_params_init(&cp, 4, 3, 3));
    cp.activation = CNN_ACT_IDENTITY;
    cp.init = CNN_INIT_HE;
    cnn_layer *l = NULL;
    ck_assert_ok(cnn_conv2d_create(&cp, &l));
    ck_assert_ok(cnn_net_add(net, l));
    ck_assert_ok(cnn_net_add(net, make_bn(0, 0.1f)));
    ck_assert_ok(cnn_activation_create(CNN_ACT_RELU, &l));
    ck_assert_ok(cnn_net_add(net, l));
    ck_assert_ok(cnn_global_avg_pool_create(&l));
    ck_assert_ok(cnn_net_add(net, l));
    cnn_dense_params dp;
    ck_assert_ok(cnn_dense_params_init(&dp, 5));
    dp.activation = CNN_ACT_IDENTITY;
    dp.init = CNN_INIT_GLOROT;
    ck_assert_ok(cnn_dense_create(&dp, &l));
    ck_assert_ok(cnn_net_add(net, l));
    ck_assert_ok(cnn_net_add(net, make_bn(0, 0.2f)));
    cnn_softmax_params sp;
    ck_assert_ok(cnn_softmax_params_init(&sp, CLASSES));
    sp.init = CNN_INIT_GLOROT;
    ck_assert_ok(cnn_softmax_create(&sp, &l));
    ck_assert_ok(cnn_net_add(net, l));
    ck_assert_int_eq(net->n_state, 2 * 4 + 2 * 5);
    return net;
}

typedef struct batch {
    cnn_tensor *x;
    int32_t labels[BATCH];
} batch;

static batch make_batch(uint64_t seed)
{
    batch b;
    int64_t xs[4] = {BATCH, NC, NH, NW};
    ck_assert_ok(cnn_tensor_create(4, xs, &b.x));
    test_rng rng;
    test_rng_seed(&rng, seed);
    test_fill_uniform(&rng, b.x->data, (size_t)b.x->numel, 0, 1);
    for (int i = 0; i < BATCH; i++)
        b.labels[i] = (i * 5 + 1) % CLASSES;
    return b;
}

static cnn_optimizer *make_sgd(float momentum)
{
    cnn_sgd_params p;
    ck_assert_ok(cnn_sgd_params_init(&p, 0.1f));
    p.momentum = momentum;
    p.l2 = 0.01f;
    cnn_optimizer *opt = NULL;
    ck_assert_ok(cnn_sgd_create(&p, &opt));
    return opt;
}

/* `steps` training steps with the given thread count. */
static cnn_net *trained_net(int32_t threads, int steps)
{
    cnn_net *net = make_net(3);
    ck_assert_ok(cnn_net_set_threads(net, threads));
    cnn_optimizer *opt = make_sgd(0.9f);
    for (int s = 0; s < steps; s++) {
        batch b = make_batch(100 + (uint64_t)s);
        double cost;
        ck_assert_ok(cnn_train_step(net, opt, b.x, b.labels, &cost));
        ck_assert(isfinite(cost));
        cnn_tensor_destroy(b.x);
    }
    cnn_optimizer_destroy(opt);
    return net;
}

static void assert_same_net_at(cnn_net *a, cnn_net *b, int line)
{
    ck_assert_int_eq(cnn_net_param_count(a), cnn_net_param_count(b));
    int64_t first = -1;
    for (int64_t i = 0; i < cnn_net_param_count(a) && first < 0; i++)
        if (memcmp(&cnn_net_params(a)[i], &cnn_net_params(b)[i], sizeof(float)) != 0)
            first = i;
    ck_assert_msg(first < 0, "line %d: parameter %lld differs: %.9g vs %.9g", line,
                  (long long)first, first < 0 ? 0.0 : (double)cnn_net_params(a)[first],
                  first < 0 ? 0.0 : (double)cnn_net_params(b)[first]);
    ck_assert_int_eq(a->n_state, b->n_state);
    ck_assert_msg(memcmp(a->state, b->state, (size_t)a->n_state * sizeof(float)) == 0,
                  "line %d: state differs", line);
}
#define assert_same_net(a, b) assert_same_net_at((a), (b), __LINE__)

/* Inference outputs of a and b on the same batch are bit-identical. */
static void assert_same_predictions(cnn_net *a, cnn_net *b)
{
    batch in = make_batch(999);
    int64_t ys[2] = {BATCH, CLASSES};
    cnn_tensor *ya, *yb;
    ck_assert_ok(cnn_tensor_create(2, ys, &ya));
    ck_assert_ok(cnn_tensor_create(2, ys, &yb));
    ck_assert_ok(cnn_net_forward(a, in.x, CNN_MODE_INFER, ya));
    ck_assert_ok(cnn_net_forward(b, in.x, CNN_MODE_INFER, yb));
    ck_assert(memcmp(ya->data, yb->data, sizeof(float) * BATCH * CLASSES) == 0);
    cnn_tensor_destroy(ya);
    cnn_tensor_destroy(yb);
    cnn_tensor_destroy(in.x);
}

START_TEST(gradcheck_network)
{
    cnn_net *net = make_net(7);
    batch b = make_batch(1);
    ck_assert_ok(cnn_net_forward(net, b.x, CNN_MODE_TRAIN, NULL));
    double cost;
    ck_assert_ok(cnn_net_backward(net, b.labels, &cost));
    int64_t count = cnn_net_param_count(net);
    float *analytic = malloc((size_t)count * sizeof *analytic);
    memcpy(analytic, cnn_net_grads(net), (size_t)count * sizeof *analytic);
    float *params = cnn_net_params(net);
    int64_t ys[2] = {BATCH, CLASSES};
    cnn_tensor *y;
    ck_assert_ok(cnn_tensor_create(2, ys, &y));
    int64_t offset = 0;
    for (int32_t li = 0; li < cnn_net_layer_count(net); li++) {
        int64_t np = cnn_layer_param_count(cnn_net_layer(net, li));
        if (np == 0)
            continue;
        vec_err e = {0};
        for (int64_t i = 0; i < np; i++) {
            float *p = &params[offset + i], saved = *p;
            double j[2];
            for (int s = 0; s < 2; s++) {
                *p = saved + (s ? -1.0f : 1.0f) * (float)STEP;
                ck_assert_ok(cnn_net_forward(net, b.x, CNN_MODE_TRAIN, y));
                j[s] = 0;
                for (int k = 0; k < BATCH; k++)
                    j[s] -= log((double)y->data[k * CLASSES + b.labels[k]]);
                j[s] /= BATCH;
            }
            *p = saved;
            err_add(&e, analytic[offset + i], (j[0] - j[1]) / (2 * STEP));
        }
        char name[64];
        snprintf(name, sizeof name, "network with batchnorm: layer %d", (int)li);
        expect_small(name, &e);
        offset += np;
    }
    free(analytic);
    cnn_tensor_destroy(y);
    cnn_tensor_destroy(b.x);
    cnn_net_destroy(net);
}
END_TEST

START_TEST(deterministic_across_runs_and_threads)
{
    cnn_net *a = trained_net(1, 6), *b = trained_net(1, 6);
    assert_same_net(a, b);
    /* The running statistics moved. */
    ck_assert(a->state[0] != 0.0f && a->state[4] != 1.0f);
    cnn_net *c = trained_net(2, 6), *d = trained_net(2, 6);
    assert_same_net(c, d);
    /* Across thread counts the conv layer's weight gradient is a sum of
     * per-thread parts, so trained weights differ in the last bits; batch
     * norm itself runs whole on one thread.  One forward and backward from
     * the same weights: the outputs, the running statistics and every
     * gradient downstream of the conv layer's weights are bit-identical. */
    cnn_net *one = make_net(3), *two = make_net(3);
    ck_assert_ok(cnn_net_set_threads(two, 2));
    batch in = make_batch(5);
    int64_t ys[2] = {BATCH, CLASSES};
    cnn_tensor *y1, *y2;
    ck_assert_ok(cnn_tensor_create(2, ys, &y1));
    ck_assert_ok(cnn_tensor_create(2, ys, &y2));
    ck_assert_ok(cnn_net_forward(one, in.x, CNN_MODE_TRAIN, y1));
    ck_assert_ok(cnn_net_forward(two, in.x, CNN_MODE_TRAIN, y2));
    ck_assert(memcmp(y1->data, y2->data, sizeof(float) * BATCH * CLASSES) == 0);
    ck_assert(memcmp(one->state, two->state, (size_t)one->n_state * sizeof(float)) == 0);
    ck_assert_ok(cnn_net_backward(one, in.labels, NULL));
    ck_assert_ok(cnn_net_backward(two, in.labels, NULL));
    int64_t conv_w = cnn_layer_param(cnn_net_layer(one, 0), CNN_PARAM_WEIGHTS)->numel;
    ck_assert(memcmp(cnn_net_grads(one) + conv_w, cnn_net_grads(two) + conv_w,
                     (size_t)(cnn_net_param_count(one) - conv_w) * sizeof(float)) == 0);
    /* ... and the trained networks agree closely. */
    ck_assert_msg(test_max_rel_err(cnn_net_params(a), cnn_net_params(c),
                                   (size_t)cnn_net_param_count(a), 1e-3) < 1e-3,
                  "1 and 2 threads: parameters differ by more than rounding");
    ck_assert(test_max_rel_err(a->state, c->state, (size_t)a->n_state, 1e-3) < 1e-3);
    cnn_tensor_destroy(y1);
    cnn_tensor_destroy(y2);
    cnn_tensor_destroy(in.x);
    cnn_net_destroy(one);
    cnn_net_destroy(two);
    cnn_net_destroy(a);
    cnn_net_destroy(b);
    cnn_net_destroy(c);
    cnn_net_destroy(d);
}
END_TEST

/* gamma and beta are trained (plain SGD, where other kinds fuse the
 * update into backward, and with momentum); the state is not a parameter. */
START_TEST(optimizer_trains_gamma_and_beta)
{
    for (int with_momentum = 0; with_momentum < 2; with_momentum++) {
        cnn_net *net = make_net(3);
        cnn_layer *bn = cnn_net_layer(net, 1);
        ck_assert_int_eq(cnn_layer_kind(bn), CNN_LAYER_BATCHNORM);
        float *gamma = cnn_layer_param(bn, CNN_PARAM_WEIGHTS)->data;
        float *beta = cnn_layer_param(bn, CNN_PARAM_BIASES)->data;
        ck_assert(gamma[0] == 1.0f && beta[0] == 0.0f);
        cnn_optimizer *opt = make_sgd(with_momentum ? 0.9f : 0.0f);
        batch b = make_batch(3);
        ck_assert_ok(cnn_train_step(net, opt, b.x, b.labels, NULL));
        int changed = 0;
        for (int ch = 0; ch < 4; ch++)
            changed += (gamma[ch] != 1.0f) + (beta[ch] != 0.0f);
        ck_assert_int_gt(changed, 4);
        ck_assert_int_eq(cnn_net_param_count(net), net->n_params);
        cnn_tensor_destroy(b.x);
        cnn_optimizer_destroy(opt);
        cnn_net_destroy(net);
    }
}
END_TEST

START_TEST(save_load_and_clone_keep_state)
{
    cnn_net *net = trained_net(1, 4);
    void *buf = NULL;
    size_t size = 0;
    ck_assert_ok(cnn_net_save_buffer(net, &buf, &size));
    ck_assert_uint_eq(test_get32((const uint8_t *)buf + 8), 2); /* state: format version 2 */
    cnn_net *back = NULL;
    ck_assert_ok(cnn_net_load_buffer(buf, size, &back));
    assert_same_net(net, back);
    assert_same_predictions(net, back);
    char sa[2048], sb[2048];
    for (int32_t i = 0; i < cnn_net_layer_count(net); i++) {
        ck_assert_ok(cnn_layer_summary(cnn_net_layer(net, i), sa, sizeof sa));
        ck_assert_ok(cnn_layer_summary(cnn_net_layer(back, i), sb, sizeof sb));
        ck_assert_str_eq(sa, sb);
        ck_assert_int_eq(cnn_layer_kind(cnn_net_layer(net, i)),
                         cnn_layer_kind(cnn_net_layer(back, i)));
    }
    ck_assert_str_eq(sa, "softmax 3 classes, dropout 0");
    ck_assert_ok(cnn_layer_summary(cnn_net_layer(back, 5), sb, sizeof sb));
    ck_assert_str_eq(sb, "batchnorm momentum 0.2, eps 1e-05");
    /* Saving the loaded network gives the same bytes. */
    void *buf2 = NULL;
    size_t size2 = 0;
    ck_assert_ok(cnn_net_save_buffer(back, &buf2, &size2));
    ck_assert_uint_eq(size, size2);
    ck_assert(memcmp(buf, buf2, size) == 0);
    cnn_free(buf2);

    cnn_net *copy = NULL;
    ck_assert_ok(cnn_net_clone(net, &copy));
    assert_same_net(net, copy);
    assert_same_predictions(net, copy);
    /* The clone's state is its own. */
    copy->state[0] += 1.0f;
    ck_assert(copy->state[0] != net->state[0]);
    cnn_net_destroy(copy);
    cnn_net_destroy(back);
    cnn_net_destroy(net);
    cnn_free(buf);
}
END_TEST

/* Offset of the first descriptor of `kind` in a model file (walking the
 * layer records of format version 2: kind, length, descriptor, counts
 * (3 x u64), values). */
static size_t descriptor_at(const uint8_t *d, uint32_t kind)
{
    size_t at = 56;
    uint32_t layers = test_get32(d + 36);
    for (uint32_t i = 0; i < layers; i++) {
        uint32_t k = test_get32(d + at), len = test_get32(d + at + 4);
        if (k == kind)
            return at + 8;
        size_t counts = at + 8 + len;
        uint64_t values = test_get64(d + counts) + test_get64(d + counts + 8) +
                          test_get64(d + counts + 16);
        at = counts + 24 + 4 * values;
    }
    ck_abort_msg("no layer of kind %u", kind);
    return 0;
}

static void put_float(uint8_t *p, float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    test_put32(p, u);
}

START_TEST(descriptor_ranges_checked)
{
    cnn_net *net = make_net(3);
    void *buf = NULL;
    size_t size = 0;
    ck_assert_ok(cnn_net_save_buffer(net, &buf, &size));
    uint8_t *d = buf;
    size_t at = descriptor_at(d, 6);
    ck_assert_uint_eq(test_get32(d + at - 4), 12); /* momentum, epsilon, channels */
    ck_assert_uint_eq(test_get32(d + at + 8), 4);
    ck_assert_uint_eq(test_get32(d + descriptor_at(d, 7) - 4), 0);
    const struct {
        size_t off;
        float v;
    } bad[] = {{0, -0.5f}, {0, 1.5f}, {0, NAN}, {4, 0.0f}, {4, -1.0f}, {4, INFINITY}};
    uint8_t *copy = malloc(size);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(copy, d, size);
        put_float(copy + at + bad[i].off, bad[i].v);
        test_put32(copy + size - 4, (uint32_t)crc32(0L, copy, (uInt)(size - 4)));
        cnn_net *back = NULL;
        ck_assert_status(cnn_net_load_buffer(copy, size, &back), CNN_EFORMAT);
        ck_assert_ptr_null(back);
        ck_assert_msg(strstr(cnn_last_error(), bad[i].off ? "epsilon" : "momentum") != NULL,
                      "%s", cnn_last_error());
    }
    /* Momentum 1 is in range. */
    memcpy(copy, d, size);
    put_float(copy + at, 1.0f);
    test_put32(copy + size - 4, (uint32_t)crc32(0L, copy, (uInt)(size - 4)));
    cnn_net *back = NULL;
    ck_assert_ok(cnn_net_load_buffer(copy, size, &back));
    cnn_net_destroy(back);
    free(copy);
    cnn_free(buf);
    cnn_net_destroy(net);
}
END_TEST

/* ---- checkpoint resume ---------------------------------------------------------- */

enum { COUNT = 21, EPOCHS = 3 };

static cnn_train_params train_params(cnn_dataset *val, int32_t epochs)
{
    cnn_train_params p;
    ck_assert_ok(cnn_train_params_init(&p, epochs));
    p.batch_size = 4;
    p.shuffle = 1;
    p.seed = 11;
    p.validation = val;
    p.eval_batch_size = 5;
    return p;
}

START_TEST(checkpoint_resume_bit_identical)
{
    cnn_dataset *train = test_make_striped_dataset(COUNT, NC, NH, NW, CLASSES, 1);
    cnn_dataset *val = test_make_striped_dataset(9, NC, NH, NW, CLASSES, 2);
    char dir[4096], path[4200];
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/cnn-bn-XXXXXX", base && base[0] ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/run.ckpt", dir);

    cnn_net *a = make_net(5);
    cnn_optimizer *oa = make_sgd(0.5f);
    cnn_train_params p = train_params(val, EPOCHS);
    cnn_train_result ra = {.struct_size = sizeof ra};
    ck_assert_ok(cnn_train(a, oa, train, &p, &ra));

    cnn_net *b = make_net(5);
    cnn_optimizer *ob = make_sgd(0.5f);
    p = train_params(val, 1);
    p.checkpoint_path = path;
    cnn_train_result rb = {.struct_size = sizeof rb};
    ck_assert_ok(cnn_train(b, ob, train, &p, &rb));
    cnn_optimizer_destroy(ob);
    cnn_net_destroy(b);

    /* Resume into a network whose parameters and state are scrambled. */
    cnn_net *c = make_net(6);
    for (int64_t i = 0; i < c->n_state; i++)
        c->state[i] = 0.5f + (float)i;
    cnn_optimizer *oc = make_sgd(0.5f);
    p = train_params(val, EPOCHS);
    p.resume_path = path;
    cnn_train_result rc = {.struct_size = sizeof rc};
    ck_assert_ok(cnn_train(c, oc, train, &p, &rc));
    ck_assert_int_eq(rc.epochs_run, ra.epochs_run);
    assert_same_net(a, c);
    ck_assert(memcmp(&ra.final_train_cost, &rc.final_train_cost, sizeof(double)) == 0);
    ck_assert(ra.best_validation_accuracy == rc.best_validation_accuracy);

    cnn_optimizer_destroy(oa);
    cnn_optimizer_destroy(oc);
    cnn_net_destroy(a);
    cnn_net_destroy(c);
    cnn_dataset_destroy(train);
    cnn_dataset_destroy(val);
    test_rm_tree(dir);
}
END_TEST

static Suite *batchnorm_suite(void)
{
    Suite *s = suite_create("batchnorm");
    TCase *grad = tcase_create("gradients");
    tcase_add_test(grad, gradcheck_bn_spatial);
    tcase_add_test(grad, gradcheck_bn_flat);
    tcase_add_test(grad, gradcheck_gap);
    tcase_add_test(grad, gradcheck_network);
    suite_add_tcase(s, grad);
    TCase *values = tcase_create("values");
    tcase_add_test(values, inference_uses_running_stats);
    tcase_add_test(values, running_stats_closed_form);
    tcase_add_test(values, gap_values_and_summaries);
    tcase_add_test(values, params_validated);
    suite_add_tcase(s, values);
    TCase *net = tcase_create("network");
    tcase_add_test(net, deterministic_across_runs_and_threads);
    tcase_add_test(net, optimizer_trains_gamma_and_beta);
    tcase_add_test(net, save_load_and_clone_keep_state);
    tcase_add_test(net, descriptor_ranges_checked);
    tcase_add_test(net, checkpoint_resume_bit_identical);
    suite_add_tcase(s, net);
    return s;
}

int main(void)
{
    return test_run_suite(batchnorm_suite());
}
