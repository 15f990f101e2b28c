/* SGD: parameter validation and the update rule, element by element, with
 * and without momentum and network3's L2 term (weights only). */
#include "testutil.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define POISON_OPT ((cnn_optimizer *)(uintptr_t)0x1)

/* 1x2x2 -> dense 3 sigmoid -> softmax 2: 4*3+3 + 3*2+2 = 23 parameters. */
static cnn_net *tiny_net(uint64_t seed, int32_t hidden)
{
    cnn_net *net = NULL;
    ck_assert_ok(cnn_net_create(1, 2, 2, seed, &net));
    cnn_dense_params dp;
    ck_assert_ok(cnn_dense_params_init(&dp, hidden));
    cnn_layer *d = NULL;
    ck_assert_ok(cnn_dense_create(&dp, &d));
    ck_assert_ok(cnn_net_add(net, d));
    cnn_softmax_params sp;
    ck_assert_ok(cnn_softmax_params_init(&sp, 2));
    cnn_layer *s = NULL;
    ck_assert_ok(cnn_softmax_create(&sp, &s));
    ck_assert_ok(cnn_net_add(net, s));
    return net;
}

/* is_weight[i] = 1 where parameter i is a weight (from the layer views). */
static int *weight_mask(cnn_net *net)
{
    int64_t n = cnn_net_param_count(net);
    int *mask = calloc((size_t)n, sizeof *mask);
    ck_assert_ptr_nonnull(mask);
    const float *base = cnn_net_params(net);
    int64_t marked = 0;
    for (int32_t i = 0; i < cnn_net_layer_count(net); i++) {
        cnn_tensor *w = cnn_layer_param(cnn_net_layer(net, i), CNN_PARAM_WEIGHTS);
        if (!w)
            continue;
        int64_t off = cnn_tensor_data(w) - base;
        for (int64_t k = 0; k < cnn_tensor_numel(w); k++)
            mask[off + k] = 1;
        marked += cnn_tensor_numel(w);
    }
    ck_assert_int_eq(marked, 4 * 3 + 3 * 2);
    return mask;
}

static void fill(float *x, size_t n, uint64_t seed, float lo, float hi)
{
    test_rng r;
    test_rng_seed(&r, seed);
    test_fill_uniform(&r, x, n, lo, hi);
}

static cnn_optimizer *make_sgd(float eta, float mu, float l2, int64_t batches)
{
    cnn_sgd_params p;
    ck_assert_ok(cnn_sgd_params_init(&p, eta));
    p.momentum = mu;
    p.l2 = l2;
    p.l2_batches = batches;
    cnn_optimizer *opt = NULL;
    ck_assert_ok(cnn_sgd_create(&p, &opt));
    ck_assert_ptr_nonnull(opt);
    return opt;
}

START_TEST(params_init_defaults)
{
    cnn_sgd_params p;
    memset(&p, 0xcd, sizeof p);
    ck_assert_ok(cnn_sgd_params_init(&p, 0.03f));
    ck_assert_uint_eq(p.struct_size, sizeof p);
    ck_assert(p.learning_rate == 0.03f);
    ck_assert(p.momentum == 0.0f);
    ck_assert(p.l2 == 0.0f);
    ck_assert_int_eq(p.l2_batches, 0);
    ck_assert_status(cnn_sgd_params_init(NULL, 0.1f), CNN_EINVAL);
}
END_TEST

#define EXPECT_SGD_FAILS(params)                                  \
    do {                                                          \
        cnn_optimizer *o_ = POISON_OPT;                           \
        ck_assert_status(cnn_sgd_create(&(params), &o_), CNN_EINVAL); \
        ck_assert_ptr_null(o_);                                   \
    } while (0)

START_TEST(sgd_create_validation)
{
    cnn_sgd_params ok, p;
    ck_assert_ok(cnn_sgd_params_init(&ok, 0.1f));
    cnn_optimizer *opt = POISON_OPT;
    ck_assert_status(cnn_sgd_create(NULL, &opt), CNN_EINVAL);
    ck_assert_ptr_null(opt);
    ck_assert_status(cnn_sgd_create(&ok, NULL), CNN_EINVAL);
    p = ok; p.struct_size = offsetof(cnn_sgd_params, nesterov) - 1; EXPECT_SGD_FAILS(p);
    p = ok; p.nesterov = 1; EXPECT_SGD_FAILS(p); /* Nesterov without momentum */
    p = ok; p.learning_rate = 0.0f; EXPECT_SGD_FAILS(p);
    p = ok; p.learning_rate = -0.1f; EXPECT_SGD_FAILS(p);
    p = ok; p.learning_rate = NAN; EXPECT_SGD_FAILS(p);
    p = ok; p.learning_rate = INFINITY; EXPECT_SGD_FAILS(p);
    p = ok; p.momentum = 1.0f; EXPECT_SGD_FAILS(p);
    p = ok; p.momentum = 1.5f; EXPECT_SGD_FAILS(p);
    p = ok; p.momentum = -0.1f; EXPECT_SGD_FAILS(p);
    p = ok; p.momentum = NAN; EXPECT_SGD_FAILS(p);
    p = ok; p.l2 = -0.1f; EXPECT_SGD_FAILS(p);
    p = ok; p.l2 = NAN; EXPECT_SGD_FAILS(p);
    p = ok; p.l2 = INFINITY; EXPECT_SGD_FAILS(p);
    p = ok; p.l2_batches = -1; EXPECT_SGD_FAILS(p);
    /* Edges that are allowed. */
    p = ok; p.momentum = 0.999f; p.l2 = 0.0f; p.l2_batches = 5000;
    ck_assert_ok(cnn_sgd_create(&p, &opt));
    cnn_optimizer_destroy(opt);
    p = ok; p.learning_rate = 1e-30f; p.l2 = 100.0f;
    ck_assert_ok(cnn_sgd_create(&p, &opt));
    cnn_optimizer_destroy(opt);
    cnn_optimizer_destroy(NULL);
}
END_TEST

START_TEST(step_errors)
{
    cnn_net *net = tiny_net(1, 3);
    cnn_optimizer *opt = make_sgd(0.1f, 0.0f, 0.0f, 0);
    ck_assert_status(cnn_optimizer_step(NULL, net), CNN_EINVAL);
    ck_assert_status(cnn_optimizer_step(opt, NULL), CNN_EINVAL);
    const int64_t xs[4] = {1, 1, 2, 2};
    cnn_tensor *x = NULL;
    ck_assert_ok(cnn_tensor_create(4, xs, &x));
    const int32_t labels[1] = {1}, bad[1] = {2};
    ck_assert_status(cnn_train_step(NULL, opt, x, labels, NULL), CNN_EINVAL);
    ck_assert_status(cnn_train_step(net, NULL, x, labels, NULL), CNN_EINVAL);
    ck_assert_status(cnn_train_step(net, opt, NULL, labels, NULL), CNN_EINVAL);
    ck_assert_status(cnn_train_step(net, opt, x, NULL, NULL), CNN_EINVAL);
    /* A label out of range fails before any update. */
    float *before = malloc(23 * sizeof *before);
    memcpy(before, cnn_net_params(net), 23 * sizeof *before);
    ck_assert_status(cnn_train_step(net, opt, x, bad, NULL), CNN_EINVAL);
    ck_assert_int_eq(memcmp(before, cnn_net_params(net), 23 * sizeof *before), 0);
    double cost = -1.0;
    ck_assert_ok(cnn_train_step(net, opt, x, labels, &cost));
    ck_assert_msg(fabs(cost - log(2.0)) < 1e-6, "zero softmax gives cost ln 2, got %g", cost);
    ck_assert_int_ne(memcmp(before, cnn_net_params(net), 23 * sizeof *before), 0);
    free(before);
    cnn_tensor_destroy(x);
    cnn_optimizer_destroy(opt);
    cnn_net_destroy(net);
}
END_TEST

START_TEST(plain_step_with_l2)
{
    const float eta = 0.1f, lambda = 0.5f;
    const int64_t B = 4;
    cnn_net *net = tiny_net(2, 3);
    int64_t n = cnn_net_param_count(net);
    ck_assert_int_eq(n, 23);
    int *is_w = weight_mask(net);
    float *p = cnn_net_params(net), *g = cnn_net_grads(net);
    fill(p, (size_t)n, 1, -1.0f, 1.0f);
    fill(g, (size_t)n, 2, -1.0f, 1.0f);
    float p0[23], g0[23];
    memcpy(p0, p, sizeof p0);
    memcpy(g0, g, sizeof g0);
    cnn_optimizer *opt = make_sgd(eta, 0.0f, lambda, B);
    ck_assert_ok(cnn_optimizer_step(opt, net));
    for (int64_t i = 0; i < n; i++) {
        double decay = is_w[i] ? 1.0 - (double)eta * lambda / (double)B : 1.0;
        double want = decay * p0[i] - (double)eta * g0[i];
        ck_assert_msg(fabs(p[i] - want) < 1e-6, "param %lld (%s): %.9g, want %.9g", (long long)i,
                      is_w[i] ? "weight" : "bias", (double)p[i], want);
    }
    /* Gradients are not modified by the step. */
    ck_assert_int_eq(memcmp(g, g0, sizeof g0), 0);
    cnn_optimizer_destroy(opt);

    /* Without L2 the step is exactly p - eta g for every parameter. */
    memcpy(p, p0, sizeof p0);
    opt = make_sgd(eta, 0.0f, 0.0f, 0);
    ck_assert_ok(cnn_optimizer_step(opt, net));
    for (int64_t i = 0; i < n; i++) {
        double want = (double)p0[i] - (double)eta * g0[i];
        ck_assert_msg(fabs(p[i] - want) < 1e-6, "param %lld: %.9g, want %.9g", (long long)i,
                      (double)p[i], want);
    }
    cnn_optimizer_destroy(opt);
    free(is_w);
    cnn_net_destroy(net);
}
END_TEST

START_TEST(l2_batches_zero_means_one)
{
    const float eta = 0.2f, lambda = 0.25f;
    cnn_net *net = tiny_net(3, 3);
    int *is_w = weight_mask(net);
    float *p = cnn_net_params(net), *g = cnn_net_grads(net);
    fill(p, 23, 3, -1.0f, 1.0f);
    memset(g, 0, 23 * sizeof *g); /* pure decay */
    float p0[23];
    memcpy(p0, p, sizeof p0);
    cnn_optimizer *opt = make_sgd(eta, 0.0f, lambda, 0);
    ck_assert_ok(cnn_optimizer_step(opt, net));
    for (int i = 0; i < 23; i++) {
        double want = is_w[i] ? (1.0 - (double)eta * lambda) * p0[i] : p0[i];
        ck_assert_msg(fabs(p[i] - want) < 1e-6, "param %d: %.9g, want %.9g (B = 1)", i, (double)p[i],
                      want);
    }
    free(is_w);
    cnn_optimizer_destroy(opt);
    cnn_net_destroy(net);
}
END_TEST

START_TEST(momentum_two_steps)
{
    const float eta = 0.05f, mu = 0.9f, lambda = 2.0f;
    const int64_t B = 10;
    cnn_net *net = tiny_net(4, 3);
    int *is_w = weight_mask(net);
    float *p = cnn_net_params(net), *g = cnn_net_grads(net);
    fill(p, 23, 5, -1.0f, 1.0f);
    double w[23], v[23] = {0};
    for (int i = 0; i < 23; i++)
        w[i] = p[i];
    cnn_optimizer *opt = make_sgd(eta, mu, lambda, B);
    for (int step = 0; step < 2; step++) {
        fill(g, 23, 10 + (uint64_t)step, -1.0f, 1.0f);
        for (int i = 0; i < 23; i++) {
            double wd = is_w[i] ? (double)eta * lambda / (double)B : 0.0;
            v[i] = mu * v[i] - (double)eta * g[i] - wd * w[i];
            w[i] += v[i];
        }
        ck_assert_ok(cnn_optimizer_step(opt, net));
        for (int i = 0; i < 23; i++)
            ck_assert_msg(fabs(p[i] - w[i]) < 2e-6, "step %d param %d (%s): %.9g, want %.9g", step + 1,
                          i, is_w[i] ? "weight" : "bias", (double)p[i], w[i]);
    }
    /* The second step differs from a momentum-free one: the velocity was kept. */
    double plain = 0.0;
    for (int i = 0; i < 23; i++)
        plain = fmax(plain, fabs(v[i] - (-(double)eta * g[i])));
    ck_assert(plain > 1e-3);
    free(is_w);
    cnn_optimizer_destroy(opt);
    cnn_net_destroy(net);
}
END_TEST

START_TEST(momentum_state_size_mismatch)
{
    cnn_net *a = tiny_net(5, 3), *b = tiny_net(5, 4); /* 23 vs 30 parameters */
    ck_assert_int_ne(cnn_net_param_count(a), cnn_net_param_count(b));
    cnn_optimizer *opt = make_sgd(0.1f, 0.5f, 0.0f, 0);
    ck_assert_ok(cnn_optimizer_step(opt, a));
    float before[30];
    memcpy(before, cnn_net_params(b), sizeof before);
    ck_assert_status(cnn_optimizer_step(opt, b), CNN_ESHAPE);
    ck_assert_msg(strlen(cnn_net_errmsg(b)) > 0, "the network keeps the message");
    ck_assert_int_eq(memcmp(before, cnn_net_params(b), sizeof before), 0);
    /* Still fine with the first network, or another of the same size. */
    ck_assert_ok(cnn_optimizer_step(opt, a));
    cnn_net *c = tiny_net(6, 3);
    ck_assert_ok(cnn_optimizer_step(opt, c));
    cnn_optimizer_destroy(opt);
    /* Without momentum too: an optimizer belongs to the network it first
     * stepped (its size), as cnn.h says. */
    opt = make_sgd(0.1f, 0.0f, 0.0f, 0);
    ck_assert_ok(cnn_optimizer_step(opt, a));
    ck_assert_status(cnn_optimizer_step(opt, b), CNN_ESHAPE);
    cnn_optimizer_destroy(opt);
    cnn_net_destroy(a);
    cnn_net_destroy(b);
    cnn_net_destroy(c);
}
END_TEST

START_TEST(train_step_is_forward_backward_step)
{
    cnn_net *a = tiny_net(7, 3), *b = NULL;
    /* Non-zero softmax weights so that every gradient is non-trivial. */
    fill(cnn_net_params(a), 23, 8, -1.0f, 1.0f);
    ck_assert_ok(cnn_net_clone(a, &b));
    cnn_optimizer *oa = make_sgd(0.3f, 0.5f, 0.1f, 3), *ob = make_sgd(0.3f, 0.5f, 0.1f, 3);
    const int64_t xs[4] = {3, 1, 2, 2};
    cnn_tensor *x = NULL;
    ck_assert_ok(cnn_tensor_create(4, xs, &x));
    fill(cnn_tensor_data(x), 12, 9, 0.0f, 1.0f);
    const int32_t labels[3] = {1, 0, 1};
    for (int step = 0; step < 3; step++) {
        double ca = 0.0, cb = 0.0;
        ck_assert_ok(cnn_train_step(a, oa, x, labels, &ca));
        ck_assert_ok(cnn_net_forward(b, x, CNN_MODE_TRAIN, NULL));
        ck_assert_ok(cnn_net_backward(b, labels, &cb));
        ck_assert_ok(cnn_optimizer_step(ob, b));
        ck_assert(ca == cb);
        ck_assert_int_eq(memcmp(cnn_net_params(a), cnn_net_params(b), 23 * sizeof(float)), 0);
    }
    cnn_tensor_destroy(x);
    cnn_optimizer_destroy(oa);
    cnn_optimizer_destroy(ob);
    cnn_net_destroy(a);
    cnn_net_destroy(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("optimizer");
    TCase *tc = tcase_create("sgd");
    tcase_add_test(tc, params_init_defaults);
    tcase_add_test(tc, sgd_create_validation);
    tcase_add_test(tc, step_errors);
    tcase_add_test(tc, plain_step_with_l2);
    tcase_add_test(tc, l2_batches_zero_means_one);
    tcase_add_test(tc, momentum_two_steps);
    tcase_add_test(tc, momentum_state_size_mismatch);
    tcase_add_test(tc, train_step_is_forward_backward_step);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
