/* Networks: construction and shape checking, the flat parameter layout,
 * seeded initialisation, forward/backward/predict/evaluate and their error
 * paths, cloning, workspace regrowth and dropout at inference. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POISON_NET ((cnn_net *)(uintptr_t)0x1)

/* ---- builders ------------------------------------------------------------ */

static cnn_layer *conv(int32_t maps, int32_t k, int32_t pool, int32_t act, int32_t init)
{
    cnn_conv2d_params p;
    ck_assert_ok(cnn_conv2d_params_init(&p, maps, k, k));
    p.pool = pool;
    p.activation = act;
    p.init = init;
    cnn_layer *l = NULL;
    ck_assert_ok(cnn_conv2d_create(&p, &l));
    return l;
}

static cnn_layer *dense(int32_t out, int32_t act, float dropout, int32_t init)
{
    cnn_dense_params p;
    ck_assert_ok(cnn_dense_params_init(&p, out));
    p.activation = act;
    p.dropout = dropout;
    p.init = init;
    cnn_layer *l = NULL;
    ck_assert_ok(cnn_dense_create(&p, &l));
    return l;
}

static cnn_layer *softmax(int32_t classes, float dropout, int32_t init)
{
    cnn_softmax_params p;
    ck_assert_ok(cnn_softmax_params_init(&p, classes));
    p.dropout = dropout;
    p.init = init;
    cnn_layer *l = NULL;
    ck_assert_ok(cnn_softmax_create(&p, &l));
    return l;
}

static void add(cnn_net *net, cnn_layer *l)
{
    ck_assert_ok(cnn_net_add(net, l));
}

/* The chapter network: 1x28x28 -> conv20 5x5 max pool 2 -> conv40 5x5 max
 * pool 2 -> dense `hidden` -> softmax 10. */
static cnn_net *chapter_net(uint64_t seed, int32_t hidden, int32_t init)
{
    cnn_net *net = NULL;
    ck_assert_ok(cnn_net_create(1, 28, 28, seed, &net));
    add(net, conv(20, 5, CNN_POOL_MAX, CNN_ACT_SIGMOID, init));
    add(net, conv(40, 5, CNN_POOL_MAX, CNN_ACT_SIGMOID, init));
    add(net, dense(hidden, CNN_ACT_SIGMOID, 0.0f, init));
    add(net, softmax(10, 0.0f, init == CNN_INIT_NETWORK3 ? CNN_INIT_ZERO : init));
    return net;
}

/* A small network for fast tests: 2x8x8 -> conv 3 3x3 max pool 2 (3x3x3)
 * -> dense 6 tanh -> softmax 4, softmax weights randomised. */
static cnn_net *small_net(uint64_t seed)
{
    cnn_net *net = NULL;
    ck_assert_ok(cnn_net_create(2, 8, 8, seed, &net));
    add(net, conv(3, 3, CNN_POOL_MAX, CNN_ACT_RELU, CNN_INIT_NETWORK3));
    add(net, dense(6, CNN_ACT_TANH, 0.0f, CNN_INIT_NETWORK3));
    add(net, softmax(4, 0.0f, CNN_INIT_GLOROT));
    return net;
}

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

static void fill(float *x, size_t n, uint64_t seed, float lo, float hi)
{
    test_rng r;
    test_rng_seed(&r, seed);
    test_fill_uniform(&r, x, n, lo, hi);
}

static cnn_dataset *make_dataset(int64_t count, int32_t c, int32_t h, int32_t w, int classes,
                                 uint64_t seed)
{
    size_t size = (size_t)count * (size_t)(c * h * w);
    uint8_t *px = malloc(size), *lb = malloc((size_t)count);
    ck_assert(px && lb);
    test_rng r;
    test_rng_seed(&r, seed);
    for (size_t i = 0; i < size; i++)
        px[i] = (uint8_t)(test_rng_uniform(&r) * 256.0);
    for (int64_t i = 0; i < count; i++)
        lb[i] = (uint8_t)(i % classes);
    cnn_dataset *ds = NULL;
    ck_assert_ok(cnn_dataset_create(count, c, h, w, px, lb, &ds));
    free(px);
    free(lb);
    return ds;
}

static void stats(const float *x, int64_t n, double *mean, double *sd)
{
    double s = 0.0, s2 = 0.0;
    for (int64_t i = 0; i < n; i++) {
        s += x[i];
        s2 += (double)x[i] * x[i];
    }
    *mean = s / (double)n;
    *sd = sqrt(fmax(s2 / (double)n - *mean * *mean, 0.0));
}

/* ---- creation and adding ------------------------------------------------- */

START_TEST(create_errors)
{
    cnn_net *net = POISON_NET;
    ck_assert_status(cnn_net_create(0, 28, 28, 0, &net), CNN_EINVAL);
    ck_assert_ptr_null(net);
    net = POISON_NET;
    ck_assert_status(cnn_net_create(1, -1, 28, 0, &net), CNN_EINVAL);
    ck_assert_ptr_null(net);
    net = POISON_NET;
    ck_assert_status(cnn_net_create(1, 28, 0, 0, &net), CNN_EINVAL);
    ck_assert_ptr_null(net);
    ck_assert_status(cnn_net_create(1, 28, 28, 0, NULL), CNN_EINVAL);

    ck_assert_ok(cnn_net_create(3, 4, 5, 0, &net));
    int32_t shape[3];
    ck_assert_ok(cnn_net_input_shape(net, shape));
    ck_assert(shape[0] == 3 && shape[1] == 4 && shape[2] == 5);
    /* Empty network: output shape = input shape, no parameters. */
    ck_assert_ok(cnn_net_output_shape(net, shape));
    ck_assert(shape[0] == 3 && shape[1] == 4 && shape[2] == 5);
    ck_assert_int_eq(cnn_net_layer_count(net), 0);
    ck_assert_int_eq(cnn_net_param_count(net), 0);
    ck_assert_ptr_null(cnn_net_layer(net, 0));
    ck_assert_str_eq(cnn_net_errmsg(net), "");
    ck_assert_status(cnn_net_input_shape(net, NULL), CNN_EINVAL);
    ck_assert_status(cnn_net_output_shape(net, NULL), CNN_EINVAL);
    ck_assert_status(cnn_net_input_shape(NULL, shape), CNN_EINVAL);
    ck_assert_status(cnn_net_output_shape(NULL, shape), CNN_EINVAL);
    ck_assert_status(cnn_net_set_threads(net, 0), CNN_EINVAL);
    ck_assert_status(cnn_net_set_threads(net, 257), CNN_EINVAL);
    ck_assert_status(cnn_net_set_threads(NULL, 1), CNN_EINVAL);
    ck_assert_ok(cnn_net_set_threads(net, 2));
    cnn_net_destroy(net);

    cnn_net_destroy(NULL);
    ck_assert_int_eq(cnn_net_layer_count(NULL), 0);
    ck_assert_int_eq(cnn_net_param_count(NULL), 0);
    ck_assert_ptr_null(cnn_net_layer(NULL, 0));
    ck_assert_ptr_null(cnn_net_params(NULL));
    ck_assert_ptr_null(cnn_net_grads(NULL));
    ck_assert_ptr_nonnull(cnn_net_errmsg(NULL));
}
END_TEST

START_TEST(add_shape_mismatch)
{
    cnn_net *net = NULL;
    ck_assert_ok(cnn_net_create(1, 28, 28, 1, &net));
    add(net, conv(20, 5, CNN_POOL_MAX, CNN_ACT_SIGMOID, CNN_INIT_NETWORK3));
    int64_t params_before = cnn_net_param_count(net);
    float *params_ptr = cnn_net_params(net);

    /* 13x13 kernel on 20x12x12 maps. */
    cnn_layer *big = conv(8, 13, CNN_POOL_NONE, CNN_ACT_SIGMOID, CNN_INIT_NETWORK3);
    ck_assert_status(cnn_net_add(net, big), CNN_ESHAPE);
    const char *msg = cnn_net_errmsg(net);
    const char *needles[] = {"layer 1", "20x12x12", "13x13", "conv2d"};
    for (int i = 0; i < 4; i++)
        ck_assert_msg(strstr(msg, needles[i]) != NULL, "message lacks \"%s\": %s", needles[i], msg);
    ck_assert_str_eq(cnn_last_error(), msg);
    /* The network is unchanged ... */
    ck_assert_int_eq(cnn_net_layer_count(net), 1);
    ck_assert_int_eq(cnn_net_param_count(net), params_before);
    ck_assert_ptr_eq(cnn_net_params(net), params_ptr);
    int32_t shape[3];
    ck_assert_ok(cnn_net_output_shape(net, shape));
    ck_assert(shape[0] == 20 && shape[1] == 12 && shape[2] == 12);
    /* ... and the caller still owns the layer: destroying it frees it (ASan
     * would report a leak otherwise) and the network never touches it again. */
    cnn_layer_destroy(big);

    /* A dense layer with a fixed input size that does not match. */
    cnn_dense_params dp;
    ck_assert_ok(cnn_dense_params_init(&dp, 10));
    dp.in_features = 100;
    cnn_layer *d = NULL;
    ck_assert_ok(cnn_dense_create(&dp, &d));
    ck_assert_status(cnn_net_add(net, d), CNN_ESHAPE);
    msg = cnn_net_errmsg(net);
    const char *needles2[] = {"layer 1", "20x12x12", "2880", "100", "dense"};
    for (int i = 0; i < 5; i++)
        ck_assert_msg(strstr(msg, needles2[i]) != NULL, "message lacks \"%s\": %s", needles2[i], msg);
    /* The caller may still use it standalone, then destroy it. */
    cnn_tensor *x = tensor2(2, 100), *y = tensor2(2, 10);
    ck_assert_ok(cnn_layer_forward(d, x, y, CNN_MODE_INFER));
    cnn_tensor_destroy(x);
    cnn_tensor_destroy(y);
    cnn_layer_destroy(d);

    /* Conv with a fixed channel count that does not match. */
    cnn_conv2d_params cp;
    ck_assert_ok(cnn_conv2d_params_init(&cp, 4, 3, 3));
    cp.in_channels = 3;
    cnn_layer *c3 = NULL;
    ck_assert_ok(cnn_conv2d_create(&cp, &c3));
    ck_assert_status(cnn_net_add(net, c3), CNN_ESHAPE);
    ck_assert_msg(strstr(cnn_net_errmsg(net), "layer 1") != NULL, "%s", cnn_net_errmsg(net));
    cnn_layer_destroy(c3);

    /* Still works afterwards. */
    add(net, softmax(10, 0.0f, CNN_INIT_ZERO));
    ck_assert_int_eq(cnn_net_layer_count(net), 2);
    cnn_net_destroy(net);
}
END_TEST

START_TEST(add_invalid)
{
    cnn_net *net = NULL, *other = NULL;
    ck_assert_ok(cnn_net_create(1, 6, 6, 1, &net));
    ck_assert_ok(cnn_net_create(1, 6, 6, 1, &other));
    cnn_layer *c = conv(2, 3, CNN_POOL_NONE, CNN_ACT_RELU, CNN_INIT_HE);
    ck_assert_status(cnn_net_add(NULL, c), CNN_EINVAL);
    ck_assert_status(cnn_net_add(net, NULL), CNN_EINVAL);
    add(net, c);
    /* The same layer twice, or in another network. */
    ck_assert_status(cnn_net_add(net, c), CNN_EINVAL);
    ck_assert_status(cnn_net_add(other, c), CNN_EINVAL);
    ck_assert_int_eq(cnn_net_layer_count(net), 1);
    ck_assert_int_eq(cnn_net_layer_count(other), 0);
    add(net, softmax(3, 0.0f, CNN_INIT_ZERO));
    /* Nothing may follow a softmax. */
    cnn_layer *after[3] = {dense(4, CNN_ACT_RELU, 0.0f, CNN_INIT_HE), softmax(3, 0.0f, CNN_INIT_ZERO),
                           NULL};
    ck_assert_ok(cnn_activation_create(CNN_ACT_TANH, &after[2]));
    for (int i = 0; i < 3; i++) {
        ck_assert_status(cnn_net_add(net, after[i]), CNN_EINVAL);
        ck_assert_msg(strstr(cnn_net_errmsg(net), "softmax") != NULL, "%s", cnn_net_errmsg(net));
        ck_assert_int_eq(cnn_net_layer_count(net), 2);
        cnn_layer_destroy(after[i]); /* still the caller's */
    }
    cnn_net_destroy(net);
    cnn_net_destroy(other);
}
END_TEST

START_TEST(add_out_of_memory_returns_layer_intact)
{
    /* cnn_net_add makes four allocations; fail each in turn.  The network
     * stays as it was and the layer goes back to the caller still unbound,
     * usable standalone with any channel count. */
    for (int64_t k = 0; k < 4; k++) {
        cnn_net *net = NULL;
        ck_assert_ok(cnn_net_create(1, 6, 6, 1, &net));
        cnn_layer *c = conv(2, 3, CNN_POOL_NONE, CNN_ACT_RELU, CNN_INIT_HE);
        cnn_test_fail_alloc_after(k);
        cnn_status st = cnn_net_add(net, c);
        cnn_test_fail_alloc_after(-1);
        ck_assert_msg(st == CNN_ENOMEM, "allocation %lld failing: %s", (long long)k,
                      cnn_status_name(st));
        ck_assert_int_eq(cnn_net_layer_count(net), 0);
        ck_assert_int_eq(cnn_net_param_count(net), 0);
        ck_assert_int_eq(cnn_layer_param_count(c), 0);
        ck_assert_ptr_null(cnn_layer_param(c, CNN_PARAM_WEIGHTS));
        cnn_tensor *x = tensor4(2, 3, 5, 5), *y = tensor4(2, 2, 3, 3);
        ck_assert_ok(cnn_layer_forward(c, x, y, CNN_MODE_INFER));
        ck_assert_int_eq(cnn_layer_param_count(c), 2 * 3 * 9 + 2);
        cnn_tensor_destroy(x);
        cnn_tensor_destroy(y);
        cnn_layer_destroy(c);
        /* The network still takes a layer afterwards. */
        add(net, conv(2, 3, CNN_POOL_NONE, CNN_ACT_RELU, CNN_INIT_HE));
        ck_assert_int_eq(cnn_net_param_count(net), 2 * 9 + 2);
        cnn_net_destroy(net);
    }
}
END_TEST

START_TEST(chapter_network_shapes)
{
    cnn_net *net = chapter_net(0, 100, CNN_INIT_NETWORK3);
    ck_assert_int_eq(cnn_net_layer_count(net), 4);
    const int32_t want[4][3] = {{20, 12, 12}, {40, 4, 4}, {100, 1, 1}, {10, 1, 1}};
    int32_t in[3] = {1, 28, 28}, out[3];
    for (int i = 0; i < 4; i++) {
        cnn_layer *l = cnn_net_layer(net, i);
        ck_assert_ok(cnn_layer_output_shape(l, in, out));
        ck_assert_msg(out[0] == want[i][0] && out[1] == want[i][1] && out[2] == want[i][2],
                      "layer %d: %dx%dx%d", i, out[0], out[1], out[2]);
        memcpy(in, out, sizeof in);
    }
    ck_assert_ok(cnn_net_output_shape(net, out));
    ck_assert(out[0] == 10 && out[1] == 1 && out[2] == 1);
    ck_assert_int_eq(cnn_layer_kind(cnn_net_layer(net, 0)), CNN_LAYER_CONV2D);
    ck_assert_int_eq(cnn_layer_kind(cnn_net_layer(net, 2)), CNN_LAYER_DENSE);
    ck_assert_int_eq(cnn_layer_kind(cnn_net_layer(net, 3)), CNN_LAYER_SOFTMAX);
    ck_assert_ptr_null(cnn_net_layer(net, 4));
    ck_assert_ptr_null(cnn_net_layer(net, -1));
    const int64_t want_params = (20 * 25 + 20) + (40 * 20 * 25 + 40) + (640 * 100 + 100) +
                                (100 * 10 + 10);
    ck_assert_int_eq(cnn_net_param_count(net), want_params);
    const int64_t per_layer[4] = {20 * 25 + 20, 40 * 20 * 25 + 40, 640 * 100 + 100, 100 * 10 + 10};
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(cnn_layer_param_count(cnn_net_layer(net, i)), per_layer[i]);
    cnn_net_destroy(net);
}
END_TEST

START_TEST(flat_buffer_layout)
{
    cnn_net *net = NULL;
    ck_assert_ok(cnn_net_create(1, 12, 12, 3, &net));
    add(net, conv(4, 3, CNN_POOL_MAX, CNN_ACT_RELU, CNN_INIT_NETWORK3));
    cnn_pool2d_params pp;
    ck_assert_ok(cnn_pool2d_params_init(&pp, CNN_POOL_AVG, 1, 1));
    cnn_layer *pool = NULL;
    ck_assert_ok(cnn_pool2d_create(&pp, &pool));
    add(net, pool); /* no parameters: occupies nothing */
    add(net, dense(7, CNN_ACT_SIGMOID, 0.0f, CNN_INIT_NETWORK3));
    cnn_layer *act = NULL;
    ck_assert_ok(cnn_activation_create(CNN_ACT_TANH, &act));
    add(net, act);
    add(net, softmax(3, 0.0f, CNN_INIT_GLOROT));

    float *params = cnn_net_params(net), *grads = cnn_net_grads(net);
    ck_assert_ptr_nonnull(params);
    ck_assert_ptr_nonnull(grads);
    int64_t offset = 0;
    for (int32_t i = 0; i < cnn_net_layer_count(net); i++) {
        cnn_layer *l = cnn_net_layer(net, i);
        cnn_tensor *w = cnn_layer_param(l, CNN_PARAM_WEIGHTS);
        if (cnn_layer_param_count(l) == 0) {
            ck_assert_ptr_null(w);
            continue;
        }
        cnn_tensor *b = cnn_layer_param(l, CNN_PARAM_BIASES);
        cnn_tensor *gw = cnn_layer_param(l, CNN_PARAM_GRAD_WEIGHTS);
        cnn_tensor *gb = cnn_layer_param(l, CNN_PARAM_GRAD_BIASES);
        ck_assert_ptr_eq(cnn_tensor_data(w), params + offset);
        ck_assert_ptr_eq(cnn_tensor_data(gw), grads + offset);
        offset += cnn_tensor_numel(w);
        ck_assert_ptr_eq(cnn_tensor_data(b), params + offset);
        ck_assert_ptr_eq(cnn_tensor_data(gb), grads + offset);
        offset += cnn_tensor_numel(b);
        ck_assert_int_eq(cnn_tensor_numel(w) + cnn_tensor_numel(b), cnn_layer_param_count(l));
    }
    ck_assert_int_eq(offset, cnn_net_param_count(net));
    ck_assert_int_eq(offset, (4 * 9 + 4) + (7 * 100 + 7) + (3 * 7 + 3));
    /* Shapes of the views inside the network. */
    cnn_tensor *cw = cnn_layer_param(cnn_net_layer(net, 0), CNN_PARAM_WEIGHTS);
    ck_assert_int_eq(cnn_tensor_ndim(cw), 4);
    ck_assert(cnn_tensor_dim(cw, 0) == 4 && cnn_tensor_dim(cw, 1) == 1 && cnn_tensor_dim(cw, 2) == 3 &&
              cnn_tensor_dim(cw, 3) == 3);
    cnn_tensor *dw = cnn_layer_param(cnn_net_layer(net, 2), CNN_PARAM_WEIGHTS);
    ck_assert(cnn_tensor_ndim(dw) == 2 && cnn_tensor_dim(dw, 0) == 7 && cnn_tensor_dim(dw, 1) == 100);

    /* Writing the flat buffer is seen through the views and vice versa. */
    params[0] = 123.0f;
    ck_assert(cnn_tensor_data(cw)[0] == 123.0f);
    cnn_tensor_data(dw)[5] = -7.0f;
    ck_assert(params[4 * 9 + 4 + 5] == -7.0f);
    cnn_net_destroy(net);
}
END_TEST

/* ---- initialisation ------------------------------------------------------ */

START_TEST(weights_depend_on_seed_and_index)
{
    cnn_net *a = chapter_net(42, 100, CNN_INIT_NETWORK3);
    cnn_net *b = chapter_net(42, 30, CNN_INIT_NETWORK3); /* different later layers */
    cnn_net *c = chapter_net(43, 100, CNN_INIT_NETWORK3);
    /* First two layers have the same shapes in a and b. */
    int64_t shared = cnn_layer_param_count(cnn_net_layer(a, 0)) +
                     cnn_layer_param_count(cnn_net_layer(a, 1));
    ck_assert_int_eq(memcmp(cnn_net_params(a), cnn_net_params(b), (size_t)shared * sizeof(float)), 0);
    ck_assert_int_ne(memcmp(cnn_net_params(a), cnn_net_params(c), (size_t)shared * sizeof(float)), 0);
    /* A network with only the first layer has the same first weights too. */
    cnn_net *d = NULL;
    ck_assert_ok(cnn_net_create(1, 28, 28, 42, &d));
    add(d, conv(20, 5, CNN_POOL_MAX, CNN_ACT_SIGMOID, CNN_INIT_NETWORK3));
    ck_assert_int_eq(memcmp(cnn_net_params(a), cnn_net_params(d), 520 * sizeof(float)), 0);
    /* Different layer indices draw different streams: two identical dense
     * layers in a row do not get identical weights. */
    cnn_net *e = NULL;
    ck_assert_ok(cnn_net_create(8, 1, 1, 42, &e));
    add(e, dense(8, CNN_ACT_SIGMOID, 0.0f, CNN_INIT_NETWORK3));
    add(e, dense(8, CNN_ACT_SIGMOID, 0.0f, CNN_INIT_NETWORK3));
    ck_assert_int_ne(memcmp(cnn_net_params(e), cnn_net_params(e) + 72, 72 * sizeof(float)), 0);
    cnn_net_destroy(a);
    cnn_net_destroy(b);
    cnn_net_destroy(c);
    cnn_net_destroy(d);
    cnn_net_destroy(e);
}
END_TEST

START_TEST(init_weights_equals_create)
{
    cnn_net *a = chapter_net(1, 100, CNN_INIT_NETWORK3);
    cnn_net *b = chapter_net(99, 100, CNN_INIT_NETWORK3);
    size_t bytes = (size_t)cnn_net_param_count(a) * sizeof(float);
    ck_assert_int_ne(memcmp(cnn_net_params(a), cnn_net_params(b), bytes), 0);
    ck_assert_ok(cnn_net_init_weights(a, 99));
    ck_assert_int_eq(memcmp(cnn_net_params(a), cnn_net_params(b), bytes), 0);
    /* Redrawing after changing the weights restores them exactly. */
    memset(cnn_net_params(a), 0, bytes);
    ck_assert_ok(cnn_net_init_weights(a, 99));
    ck_assert_int_eq(memcmp(cnn_net_params(a), cnn_net_params(b), bytes), 0);
    ck_assert_status(cnn_net_init_weights(NULL, 1), CNN_EINVAL);
    cnn_net_destroy(a);
    cnn_net_destroy(b);
}
END_TEST

START_TEST(network3_init_statistics)
{
    cnn_net *net = chapter_net(7, 100, CNN_INIT_NETWORK3);
    double mean, sd;
    /* conv1: 500 weights, n_out = 20*25/4 = 125. */
    cnn_layer *c1 = cnn_net_layer(net, 0);
    cnn_tensor *w = cnn_layer_param(c1, CNN_PARAM_WEIGHTS);
    stats(cnn_tensor_data(w), cnn_tensor_numel(w), &mean, &sd);
    ck_assert_msg(fabs(sd / sqrt(1.0 / 125.0) - 1.0) < 0.15, "conv1 weight sd %g", sd);
    ck_assert_msg(fabs(mean) < 0.02, "conv1 weight mean %g", mean);
    /* conv2: 20000 weights, n_out = 40*25/4 = 250. */
    w = cnn_layer_param(cnn_net_layer(net, 1), CNN_PARAM_WEIGHTS);
    stats(cnn_tensor_data(w), cnn_tensor_numel(w), &mean, &sd);
    ck_assert_msg(fabs(sd / sqrt(1.0 / 250.0) - 1.0) < 0.05, "conv2 weight sd %g", sd);
    /* dense: 64000 weights, n_out = 100. */
    w = cnn_layer_param(cnn_net_layer(net, 2), CNN_PARAM_WEIGHTS);
    stats(cnn_tensor_data(w), cnn_tensor_numel(w), &mean, &sd);
    ck_assert_msg(fabs(sd / 0.1 - 1.0) < 0.05, "dense weight sd %g", sd);
    /* Biases N(0, 1): 20 + 40 + 100 of them together. */
    float biases[160];
    memcpy(biases, cnn_tensor_data(cnn_layer_param(c1, CNN_PARAM_BIASES)), 20 * sizeof(float));
    memcpy(biases + 20, cnn_tensor_data(cnn_layer_param(cnn_net_layer(net, 1), CNN_PARAM_BIASES)),
           40 * sizeof(float));
    memcpy(biases + 60, cnn_tensor_data(cnn_layer_param(cnn_net_layer(net, 2), CNN_PARAM_BIASES)),
           100 * sizeof(float));
    stats(biases, 160, &mean, &sd);
    ck_assert_msg(fabs(sd - 1.0) < 0.25, "bias sd %g", sd);
    ck_assert_msg(fabs(mean) < 0.35, "bias mean %g", mean);
    /* Softmax starts at zero. */
    cnn_layer *sm = cnn_net_layer(net, 3);
    for (int k = CNN_PARAM_WEIGHTS; k <= CNN_PARAM_BIASES; k++) {
        cnn_tensor *t = cnn_layer_param(sm, k);
        for (int64_t i = 0; i < cnn_tensor_numel(t); i++)
            ck_assert(cnn_tensor_data(t)[i] == 0.0f);
    }
    /* A softmax asked for network3 init also starts at zero. */
    cnn_net *n2 = NULL;
    ck_assert_ok(cnn_net_create(5, 1, 1, 3, &n2));
    add(n2, softmax(4, 0.0f, CNN_INIT_NETWORK3));
    for (int i = 0; i < 24; i++)
        ck_assert(cnn_net_params(n2)[i] == 0.0f);
    cnn_net_destroy(n2);
    cnn_net_destroy(net);
}
END_TEST

START_TEST(he_glorot_zero_init)
{
    /* He: N(0, 2/fan_in), biases 0. */
    cnn_net *net = chapter_net(5, 100, CNN_INIT_HE);
    double mean, sd;
    const double fan_in[3] = {25.0, 500.0, 640.0};
    for (int i = 0; i < 3; i++) {
        cnn_layer *l = cnn_net_layer(net, i);
        cnn_tensor *w = cnn_layer_param(l, CNN_PARAM_WEIGHTS), *b = cnn_layer_param(l, CNN_PARAM_BIASES);
        stats(cnn_tensor_data(w), cnn_tensor_numel(w), &mean, &sd);
        ck_assert_msg(fabs(sd / sqrt(2.0 / fan_in[i]) - 1.0) < 0.15, "He layer %d sd %g", i, sd);
        for (int64_t k = 0; k < cnn_tensor_numel(b); k++)
            ck_assert(cnn_tensor_data(b)[k] == 0.0f);
    }
    cnn_net_destroy(net);

    /* Glorot: U(+-sqrt(6/(fan_in+fan_out))), biases 0; fan_out of a conv is
     * maps*kh*kw. */
    net = chapter_net(5, 100, CNN_INIT_GLOROT);
    const double fo[4] = {20.0 * 25, 40.0 * 25, 100.0, 10.0};
    const double fi[4] = {25.0, 500.0, 640.0, 100.0};
    for (int i = 0; i < 4; i++) {
        cnn_layer *l = cnn_net_layer(net, i);
        cnn_tensor *w = cnn_layer_param(l, CNN_PARAM_WEIGHTS), *b = cnn_layer_param(l, CNN_PARAM_BIASES);
        double limit = sqrt(6.0 / (fi[i] + fo[i]));
        const float *wd = cnn_tensor_data(w);
        int64_t n = cnn_tensor_numel(w);
        float lo = wd[0], hi = wd[0];
        for (int64_t k = 0; k < n; k++) {
            if (!(fabs(wd[k]) <= limit * (1.0 + 1e-6)))
                ck_abort_msg("Glorot layer %d weight %g beyond %g", i, (double)wd[k], limit);
            lo = fminf(lo, wd[k]);
            hi = fmaxf(hi, wd[k]);
        }
        /* Spread over the range (>= 500 samples in every layer). */
        ck_assert_msg(lo < -0.9 * limit && hi > 0.9 * limit, "Glorot layer %d range [%g, %g], limit %g",
                      i, (double)lo, (double)hi, limit);
        stats(wd, n, &mean, &sd);
        ck_assert_msg(fabs(sd / (limit / sqrt(3.0)) - 1.0) < 0.1, "Glorot layer %d sd %g", i, sd);
        for (int64_t k = 0; k < cnn_tensor_numel(b); k++)
            ck_assert(cnn_tensor_data(b)[k] == 0.0f);
    }
    cnn_net_destroy(net);

    net = chapter_net(5, 20, CNN_INIT_ZERO);
    for (int64_t k = 0; k < cnn_net_param_count(net); k++)
        ck_assert(cnn_net_params(net)[k] == 0.0f);
    cnn_net_destroy(net);
}
END_TEST

/* ---- running ------------------------------------------------------------- */

START_TEST(forward_errors)
{
    cnn_net *net = NULL;
    ck_assert_ok(cnn_net_create(2, 8, 8, 1, &net));
    cnn_tensor *x = tensor4(3, 2, 8, 8), *y = tensor2(3, 4);
    int32_t labels[3];
    /* No layers yet. */
    ck_assert_status(cnn_net_forward(net, x, CNN_MODE_INFER, NULL), CNN_ESTATE);
    ck_assert_msg(strlen(cnn_net_errmsg(net)) > 0, "no message");
    ck_assert_status(cnn_net_predict(net, x, labels), CNN_ESTATE);
    cnn_dataset *ds = make_dataset(5, 2, 8, 8, 4, 1);
    double acc = -1.0;
    ck_assert_status(cnn_net_evaluate(net, ds, 10, &acc, NULL), CNN_ESTATE);
    cnn_net_destroy(net);

    net = small_net(1);
    ck_assert_status(cnn_net_forward(NULL, x, CNN_MODE_INFER, y), CNN_EINVAL);
    ck_assert_status(cnn_net_forward(net, NULL, CNN_MODE_INFER, y), CNN_EINVAL);
    ck_assert_status(cnn_net_forward(net, x, 7, y), CNN_EINVAL);
    /* Wrong input shapes. */
    cnn_tensor *bad1 = tensor4(3, 1, 8, 8), *bad2 = tensor4(3, 2, 8, 9);
    const int64_t s1[1] = {128};
    cnn_tensor *rank1 = NULL;
    ck_assert_ok(cnn_tensor_create(1, s1, &rank1));
    ck_assert_status(cnn_net_forward(net, bad1, CNN_MODE_INFER, NULL), CNN_ESHAPE);
    ck_assert_msg(strstr(cnn_net_errmsg(net), "2x8x8") != NULL, "%s", cnn_net_errmsg(net));
    ck_assert_status(cnn_net_forward(net, bad2, CNN_MODE_INFER, NULL), CNN_ESHAPE);
    ck_assert_status(cnn_net_forward(net, rank1, CNN_MODE_INFER, NULL), CNN_ESHAPE);
    /* Any shape with dim 0 = N and the right count is accepted. */
    cnn_tensor *flat = tensor2(3, 128);
    ck_assert_ok(cnn_net_forward(net, flat, CNN_MODE_INFER, y));
    /* Output tensor of the wrong size or batch. */
    cnn_tensor *y5 = tensor2(3, 5), *y2 = tensor2(2, 4), *y4 = tensor4(3, 4, 1, 1);
    ck_assert_status(cnn_net_forward(net, x, CNN_MODE_INFER, y5), CNN_ESHAPE);
    ck_assert_status(cnn_net_forward(net, x, CNN_MODE_INFER, y2), CNN_ESHAPE);
    ck_assert_ok(cnn_net_forward(net, x, CNN_MODE_INFER, y4));
    /* predict / evaluate arguments. */
    ck_assert_status(cnn_net_predict(NULL, x, labels), CNN_EINVAL);
    ck_assert_status(cnn_net_predict(net, x, NULL), CNN_EINVAL);
    ck_assert_status(cnn_net_predict(net, NULL, labels), CNN_EINVAL);
    ck_assert_status(cnn_net_predict(net, bad1, labels), CNN_ESHAPE);
    ck_assert_status(cnn_net_evaluate(NULL, ds, 10, &acc, NULL), CNN_EINVAL);
    ck_assert_status(cnn_net_evaluate(net, NULL, 10, &acc, NULL), CNN_EINVAL);
    ck_assert_status(cnn_net_evaluate(net, ds, 0, &acc, NULL), CNN_EINVAL);
    ck_assert_status(cnn_net_evaluate(net, ds, -3, &acc, NULL), CNN_EINVAL);
    cnn_dataset *wrong = make_dataset(5, 1, 8, 8, 4, 2);
    ck_assert_status(cnn_net_evaluate(net, wrong, 10, &acc, NULL), CNN_ESHAPE);
    cnn_dataset *many = make_dataset(5, 2, 8, 8, 6, 3); /* labels up to 5, 4 classes */
    ck_assert_status(cnn_net_evaluate(net, many, 10, &acc, NULL), CNN_ESHAPE);
    int32_t ds_labels[5];
    ck_assert_status(cnn_net_predict_dataset(net, NULL, 2, ds_labels), CNN_EINVAL);
    ck_assert_status(cnn_net_predict_dataset(net, ds, 2, NULL), CNN_EINVAL);
    ck_assert_status(cnn_net_predict_dataset(net, ds, 0, ds_labels), CNN_EINVAL);
    ck_assert_status(cnn_net_predict_dataset(net, wrong, 2, ds_labels), CNN_ESHAPE);
    ck_assert_status(cnn_net_predict_dataset(NULL, ds, 2, ds_labels), CNN_EINVAL);
    /* And the good calls work. */
    ck_assert_ok(cnn_net_evaluate(net, ds, 2, &acc, NULL));
    ck_assert(acc >= 0.0 && acc <= 1.0);
    ck_assert_ok(cnn_net_predict_dataset(net, ds, 2, ds_labels));

    cnn_dataset_destroy(ds);
    cnn_dataset_destroy(wrong);
    cnn_dataset_destroy(many);
    cnn_tensor_destroy(x);
    cnn_tensor_destroy(y);
    cnn_tensor_destroy(bad1);
    cnn_tensor_destroy(bad2);
    cnn_tensor_destroy(rank1);
    cnn_tensor_destroy(flat);
    cnn_tensor_destroy(y5);
    cnn_tensor_destroy(y2);
    cnn_tensor_destroy(y4);
    cnn_net_destroy(net);
}
END_TEST

START_TEST(backward_errors)
{
    cnn_net *net = small_net(2);
    cnn_tensor *x = tensor4(3, 2, 8, 8);
    fill(cnn_tensor_data(x), 384, 1, 0.0f, 1.0f);
    int32_t labels[3] = {0, 3, 1};
    double cost = -1.0;
    ck_assert_status(cnn_net_backward(NULL, labels, &cost), CNN_EINVAL);
    /* No forward at all, then only an inference forward. */
    ck_assert_status(cnn_net_backward(net, labels, &cost), CNN_ESTATE);
    ck_assert_ok(cnn_net_forward(net, x, CNN_MODE_INFER, NULL));
    ck_assert_status(cnn_net_backward(net, labels, &cost), CNN_ESTATE);
    ck_assert_msg(strstr(cnn_net_errmsg(net), "CNN_MODE_TRAIN") != NULL, "%s", cnn_net_errmsg(net));
    ck_assert_ok(cnn_net_forward(net, x, CNN_MODE_TRAIN, NULL));
    ck_assert_status(cnn_net_backward(net, NULL, &cost), CNN_EINVAL);
    /* Labels out of range. */
    int32_t high[3] = {0, 4, 1}, negative[3] = {0, -1, 1};
    ck_assert_status(cnn_net_backward(net, high, &cost), CNN_EINVAL);
    ck_assert_msg(strstr(cnn_net_errmsg(net), "4") != NULL, "%s", cnn_net_errmsg(net));
    ck_assert_status(cnn_net_backward(net, negative, &cost), CNN_EINVAL);
    ck_assert_ok(cnn_net_backward(net, labels, &cost));
    ck_assert(cost > 0.0 && isfinite(cost));
    ck_assert_ok(cnn_net_backward(net, labels, NULL));
    /* An evaluation in between is an inference forward: no backward after it. */
    cnn_dataset *ds = make_dataset(4, 2, 8, 8, 4, 1);
    ck_assert_ok(cnn_net_forward(net, x, CNN_MODE_TRAIN, NULL));
    ck_assert_ok(cnn_net_evaluate(net, ds, 2, NULL, NULL));
    ck_assert_status(cnn_net_backward(net, labels, &cost), CNN_ESTATE);
    cnn_dataset_destroy(ds);
    cnn_net_destroy(net);

    /* A network that does not end in softmax. */
    ck_assert_ok(cnn_net_create(2, 8, 8, 1, &net));
    add(net, dense(4, CNN_ACT_SIGMOID, 0.0f, CNN_INIT_NETWORK3));
    ck_assert_ok(cnn_net_forward(net, x, CNN_MODE_TRAIN, NULL));
    ck_assert_status(cnn_net_backward(net, labels, &cost), CNN_ESTATE);
    ck_assert_msg(strstr(cnn_net_errmsg(net), "softmax") != NULL, "%s", cnn_net_errmsg(net));
    cnn_net_destroy(net);
    cnn_tensor_destroy(x);
}
END_TEST

START_TEST(backward_softmax_only)
{
    /* One softmax layer: dW = sum_i (y_i - e_label_i) x_i^T / N, cost = mean -log y. */
    enum { N = 5, IN = 6, K = 4 };
    cnn_net *net = NULL;
    ck_assert_ok(cnn_net_create(1, 2, 3, 1, &net));
    add(net, softmax(K, 0.0f, CNN_INIT_GLOROT));
    float *p = cnn_net_params(net);
    fill(p, K * IN + K, 9, -1.0f, 1.0f);
    cnn_tensor *x = tensor4(N, 1, 2, 3), *y = tensor2(N, K);
    fill(cnn_tensor_data(x), N * IN, 10, -1.0f, 1.0f);
    const int32_t labels[N] = {0, 3, 2, 2, 1};
    ck_assert_ok(cnn_net_forward(net, x, CNN_MODE_TRAIN, y));
    double cost = 0.0;
    ck_assert_ok(cnn_net_backward(net, labels, &cost));
    const float *xd = cnn_tensor_data(x), *g = cnn_net_grads(net);
    double want_cost = 0.0, dw[K * IN] = {0}, db[K] = {0};
    for (int i = 0; i < N; i++) {
        double z[K], m = -INFINITY, s = 0.0;
        for (int k = 0; k < K; k++) {
            z[k] = p[K * IN + k];
            for (int j = 0; j < IN; j++)
                z[k] += (double)p[k * IN + j] * xd[i * IN + j];
            m = fmax(m, z[k]);
        }
        for (int k = 0; k < K; k++)
            s += exp(z[k] - m);
        for (int k = 0; k < K; k++) {
            double yk = exp(z[k] - m) / s;
            ck_assert_float_eq_tol(cnn_tensor_data(y)[i * K + k], (float)yk, 1e-6f);
            double dz = (yk - (k == labels[i])) / N;
            db[k] += dz;
            for (int j = 0; j < IN; j++)
                dw[k * IN + j] += dz * xd[i * IN + j];
            if (k == labels[i])
                want_cost -= log(yk) / N;
        }
    }
    ck_assert_msg(fabs(cost - want_cost) < 1e-5, "cost %.9g, want %.9g", cost, want_cost);
    for (int k = 0; k < K * IN; k++)
        ck_assert_msg(fabs(g[k] - dw[k]) < 1e-6, "dW[%d] %.9g want %.9g", k, (double)g[k], dw[k]);
    for (int k = 0; k < K; k++)
        ck_assert_msg(fabs(g[K * IN + k] - db[k]) < 1e-6, "db[%d] %.9g want %.9g", k,
                      (double)g[K * IN + k], db[k]);
    cnn_tensor_destroy(x);
    cnn_tensor_destroy(y);
    cnn_net_destroy(net);
}
END_TEST

START_TEST(predict_ties_lowest_index)
{
    /* The chapter network starts with a zero softmax: all outputs are 0.1,
     * a ten-way tie, so every prediction is class 0. */
    cnn_net *net = chapter_net(3, 20, CNN_INIT_NETWORK3);
    cnn_tensor *x = tensor4(4, 1, 28, 28);
    fill(cnn_tensor_data(x), 4 * 784, 2, 0.0f, 1.0f);
    int32_t labels[4] = {-1, -1, -1, -1};
    ck_assert_ok(cnn_net_predict(net, x, labels));
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(labels[i], 0);
    /* Biases making classes 3 and 7 tie for the maximum: 3 wins. */
    cnn_tensor *b = cnn_layer_param(cnn_net_layer(net, 3), CNN_PARAM_BIASES);
    cnn_tensor_data(b)[3] = 2.0f;
    cnn_tensor_data(b)[7] = 2.0f;
    ck_assert_ok(cnn_net_predict(net, x, labels));
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(labels[i], 3);
    /* And a strict maximum wins wherever it is. */
    cnn_tensor_data(b)[9] = 2.5f;
    ck_assert_ok(cnn_net_predict(net, x, labels));
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(labels[i], 9);
    cnn_tensor_destroy(x);
    cnn_net_destroy(net);
}
END_TEST

START_TEST(predict_matches_forward_argmax)
{
    cnn_net *net = small_net(4);
    cnn_tensor *x = tensor4(9, 2, 8, 8), *y = tensor2(9, 4);
    fill(cnn_tensor_data(x), 9 * 128, 3, 0.0f, 1.0f);
    int32_t labels[9];
    ck_assert_ok(cnn_net_forward(net, x, CNN_MODE_INFER, y));
    ck_assert_ok(cnn_net_predict(net, x, labels));
    for (int i = 0; i < 9; i++) {
        const float *yi = cnn_tensor_data(y) + i * 4;
        int best = 0;
        for (int k = 1; k < 4; k++)
            if (yi[k] > yi[best])
                best = k;
        ck_assert_int_eq(labels[i], best);
    }
    cnn_tensor_destroy(x);
    cnn_tensor_destroy(y);
    cnn_net_destroy(net);
}
END_TEST

START_TEST(evaluate_counts)
{
    /* Accuracy and cost over a dataset equal what per-batch predict and a
     * naive NLL give, for batch sizes that do and do not divide the count. */
    cnn_net *net = small_net(5);
    cnn_dataset *ds = make_dataset(11, 2, 8, 8, 4, 7);
    int32_t pred[11], truth[11];
    cnn_tensor *x = tensor4(11, 2, 8, 8), *y = tensor2(11, 4);
    ck_assert_ok(cnn_dataset_batch(ds, 0, 11, x, truth));
    ck_assert_ok(cnn_net_forward(net, x, CNN_MODE_INFER, y));
    ck_assert_ok(cnn_net_predict(net, x, pred));
    int correct = 0;
    double nll = 0.0;
    for (int i = 0; i < 11; i++) {
        correct += pred[i] == truth[i];
        nll -= log(cnn_tensor_data(y)[i * 4 + truth[i]]);
    }
    const int32_t batches[] = {1, 4, 11, 1000};
    for (int b = 0; b < 4; b++) {
        double acc = -1.0, cost = -1.0;
        ck_assert_ok(cnn_net_evaluate(net, ds, batches[b], &acc, &cost));
        ck_assert_msg(fabs(acc - correct / 11.0) < 1e-12, "batch %d: accuracy %g, want %g",
                      batches[b], acc, correct / 11.0);
        ck_assert_msg(fabs(cost - nll / 11.0) < 1e-5, "batch %d: cost %g, want %g", batches[b], cost,
                      nll / 11.0);
        int32_t labels[11];
        ck_assert_ok(cnn_net_predict_dataset(net, ds, batches[b], labels));
        ck_assert_int_eq(memcmp(labels, pred, sizeof labels), 0);
    }
    ck_assert_ok(cnn_net_evaluate(net, ds, 3, NULL, NULL));
    cnn_tensor_destroy(x);
    cnn_tensor_destroy(y);
    cnn_dataset_destroy(ds);
    cnn_net_destroy(net);
}
END_TEST

START_TEST(clone_is_deep)
{
    cnn_net *net = small_net(6), *copy = POISON_NET;
    ck_assert_status(cnn_net_clone(NULL, &copy), CNN_EINVAL);
    ck_assert_ptr_null(copy);
    ck_assert_status(cnn_net_clone(net, NULL), CNN_EINVAL);
    ck_assert_ok(cnn_net_clone(net, &copy));
    ck_assert_ptr_ne(copy, net);
    ck_assert_int_eq(cnn_net_layer_count(copy), cnn_net_layer_count(net));
    ck_assert_int_eq(cnn_net_param_count(copy), cnn_net_param_count(net));
    ck_assert_ptr_ne(cnn_net_params(copy), cnn_net_params(net));
    size_t bytes = (size_t)cnn_net_param_count(net) * sizeof(float);
    ck_assert_int_eq(memcmp(cnn_net_params(copy), cnn_net_params(net), bytes), 0);
    for (int32_t i = 0; i < cnn_net_layer_count(net); i++) {
        ck_assert_ptr_ne(cnn_net_layer(copy, i), cnn_net_layer(net, i));
        ck_assert_int_eq(cnn_layer_kind(cnn_net_layer(copy, i)), cnn_layer_kind(cnn_net_layer(net, i)));
    }
    cnn_tensor *x = tensor4(5, 2, 8, 8), *ya = tensor2(5, 4), *yb = tensor2(5, 4);
    fill(cnn_tensor_data(x), 5 * 128, 4, 0.0f, 1.0f);
    ck_assert_ok(cnn_net_forward(net, x, CNN_MODE_INFER, ya));
    ck_assert_ok(cnn_net_forward(copy, x, CNN_MODE_INFER, yb));
    ck_assert_int_eq(memcmp(cnn_tensor_data(ya), cnn_tensor_data(yb), 20 * sizeof(float)), 0);
    /* Changing the copy leaves the original alone, and the other way round. */
    float *pc = cnn_net_params(copy);
    for (int64_t i = 0; i < cnn_net_param_count(copy); i++)
        pc[i] *= 0.5f;
    float before[20];
    memcpy(before, cnn_tensor_data(ya), sizeof before);
    ck_assert_ok(cnn_net_forward(net, x, CNN_MODE_INFER, ya));
    ck_assert_int_eq(memcmp(before, cnn_tensor_data(ya), sizeof before), 0);
    ck_assert_ok(cnn_net_forward(copy, x, CNN_MODE_INFER, yb));
    ck_assert_int_ne(memcmp(cnn_tensor_data(ya), cnn_tensor_data(yb), sizeof before), 0);
    /* Training the original does not move the copy. */
    float *snapshot = malloc(bytes);
    memcpy(snapshot, pc, bytes);
    cnn_sgd_params sp;
    ck_assert_ok(cnn_sgd_params_init(&sp, 0.5f));
    cnn_optimizer *opt = NULL;
    ck_assert_ok(cnn_sgd_create(&sp, &opt));
    const int32_t labels[5] = {0, 1, 2, 3, 0};
    ck_assert_ok(cnn_train_step(net, opt, x, labels, NULL));
    ck_assert_int_eq(memcmp(snapshot, pc, bytes), 0);
    free(snapshot);
    cnn_optimizer_destroy(opt);
    /* The copy's layers are its own (ASan: no double free on destroy). */
    cnn_net_destroy(net);
    ck_assert_ok(cnn_net_forward(copy, x, CNN_MODE_INFER, yb));
    cnn_net_destroy(copy);
    cnn_tensor_destroy(x);
    cnn_tensor_destroy(ya);
    cnn_tensor_destroy(yb);
}
END_TEST

START_TEST(errmsg_holds_last_failure)
{
    cnn_net *net = small_net(7);
    ck_assert_str_eq(cnn_net_errmsg(net), "");
    cnn_tensor *bad = tensor4(1, 3, 8, 8);
    ck_assert_status(cnn_net_forward(net, bad, CNN_MODE_INFER, NULL), CNN_ESHAPE);
    char first[512];
    snprintf(first, sizeof first, "%s", cnn_net_errmsg(net));
    ck_assert_msg(strlen(first) > 0 && strstr(first, "cnn_net_forward") != NULL, "%s", first);
    /* A failure elsewhere (another handle) does not change this network's. */
    cnn_tensor *t = NULL;
    const int64_t zero[1] = {0};
    ck_assert_status(cnn_tensor_create(1, zero, &t), CNN_EINVAL);
    ck_assert_str_eq(cnn_net_errmsg(net), first);
    ck_assert_str_ne(cnn_last_error(), first);
    /* A later failure on the network replaces it. */
    ck_assert_status(cnn_net_set_threads(net, 0), CNN_EINVAL);
    ck_assert_str_ne(cnn_net_errmsg(net), first);
    ck_assert_msg(strstr(cnn_net_errmsg(net), "threads") != NULL, "%s", cnn_net_errmsg(net));
    ck_assert_str_eq(cnn_net_errmsg(net), cnn_last_error());
    const int32_t labels[1] = {0};
    ck_assert_status(cnn_net_backward(net, labels, NULL), CNN_ESTATE);
    ck_assert_msg(strstr(cnn_net_errmsg(net), "cnn_net_backward") != NULL, "%s", cnn_net_errmsg(net));
    cnn_tensor_destroy(bad);
    cnn_net_destroy(net);
}
END_TEST

START_TEST(batch_regrowth)
{
    /* Reference: each example alone.  Then batches of 1, 7, 3 (growing and
     * then reusing the workspace) must give the same per-example outputs. */
    enum { TOTAL = 11 };
    cnn_net *net = small_net(8);
    cnn_tensor *all = tensor4(TOTAL, 2, 8, 8);
    fill(cnn_tensor_data(all), TOTAL * 128, 5, 0.0f, 1.0f);
    float ref[TOTAL * 4];
    cnn_net *fresh = NULL;
    ck_assert_ok(cnn_net_clone(net, &fresh));
    for (int i = 0; i < TOTAL; i++) {
        cnn_tensor *xi = NULL, *yi = NULL;
        const int64_t xs[4] = {1, 2, 8, 8}, ys[2] = {1, 4};
        ck_assert_ok(cnn_tensor_wrap(4, xs, cnn_tensor_data(all) + i * 128, &xi));
        ck_assert_ok(cnn_tensor_wrap(2, ys, ref + i * 4, &yi));
        ck_assert_ok(cnn_net_forward(fresh, xi, CNN_MODE_INFER, yi));
        cnn_tensor_destroy(xi);
        cnn_tensor_destroy(yi);
    }
    cnn_net_destroy(fresh);
    const int sizes[3] = {1, 7, 3};
    int start = 0;
    float got[TOTAL * 4];
    for (int s = 0; s < 3; s++) {
        cnn_tensor *xb = NULL, *yb = NULL;
        const int64_t xs[4] = {sizes[s], 2, 8, 8}, ys[2] = {sizes[s], 4};
        ck_assert_ok(cnn_tensor_wrap(4, xs, cnn_tensor_data(all) + start * 128, &xb));
        ck_assert_ok(cnn_tensor_wrap(2, ys, got + start * 4, &yb));
        ck_assert_ok(cnn_net_forward(net, xb, s == 1 ? CNN_MODE_TRAIN : CNN_MODE_INFER, yb));
        cnn_tensor_destroy(xb);
        cnn_tensor_destroy(yb);
        start += sizes[s];
    }
    ck_assert_int_eq(start, TOTAL);
    double e = test_max_rel_err(got, ref, TOTAL * 4, 1e-3);
    ck_assert_msg(e < 1e-5, "batched outputs differ from one-at-a-time by %g", e);
    /* Then a batch of all 11 (another regrowth) and back to 2. */
    cnn_tensor *y = tensor2(TOTAL, 4);
    ck_assert_ok(cnn_net_forward(net, all, CNN_MODE_INFER, y));
    e = test_max_rel_err(cnn_tensor_data(y), ref, TOTAL * 4, 1e-3);
    ck_assert_msg(e < 1e-5, "batch of 11 differs by %g", e);
    cnn_tensor *x2 = NULL, *y2 = tensor2(2, 4);
    const int64_t xs2[4] = {2, 2, 8, 8};
    ck_assert_ok(cnn_tensor_wrap(4, xs2, cnn_tensor_data(all) + 9 * 128, &x2));
    ck_assert_ok(cnn_net_forward(net, x2, CNN_MODE_INFER, y2));
    e = test_max_rel_err(cnn_tensor_data(y2), ref + 9 * 4, 8, 1e-3);
    ck_assert_msg(e < 1e-5, "batch of 2 after 11 differs by %g", e);
    cnn_tensor_destroy(x2);
    cnn_tensor_destroy(y2);
    cnn_tensor_destroy(y);
    cnn_tensor_destroy(all);
    cnn_net_destroy(net);
}
END_TEST

START_TEST(dropout_inference_formula)
{
    /* 1x4x4 -> dense 10 sigmoid (dropout 0.5) -> softmax 3 (dropout 0.2):
     * inference y = softmax(0.8 W2 h + b2), h = sigmoid(0.5 W1 x + b1). */
    enum { N = 3, IN = 16, H = 10, K = 3 };
    cnn_net *net = NULL;
    ck_assert_ok(cnn_net_create(1, 4, 4, 11, &net));
    add(net, dense(H, CNN_ACT_SIGMOID, 0.5f, CNN_INIT_NETWORK3));
    add(net, softmax(K, 0.2f, CNN_INIT_GLOROT));
    const float *p = cnn_net_params(net);
    const float *w1 = p, *b1 = p + H * IN, *w2 = b1 + H, *b2 = w2 + K * H;
    cnn_tensor *x = tensor4(N, 1, 4, 4), *y = tensor2(N, K);
    fill(cnn_tensor_data(x), N * IN, 6, 0.0f, 1.0f);
    const float *xd = cnn_tensor_data(x);
    ck_assert_ok(cnn_net_forward(net, x, CNN_MODE_INFER, y));
    for (int i = 0; i < N; i++) {
        double h[H], z[K], m = -INFINITY, s = 0.0;
        for (int j = 0; j < H; j++) {
            double a = 0.0;
            for (int k = 0; k < IN; k++)
                a += (double)w1[j * IN + k] * xd[i * IN + k];
            h[j] = 1.0 / (1.0 + exp(-(0.5 * a + b1[j])));
        }
        for (int c = 0; c < K; c++) {
            double a = 0.0;
            for (int j = 0; j < H; j++)
                a += (double)w2[c * H + j] * h[j];
            z[c] = (1.0 - 0.2f) * a + b2[c];
            m = fmax(m, z[c]);
        }
        for (int c = 0; c < K; c++)
            s += exp(z[c] - m);
        for (int c = 0; c < K; c++) {
            double want = exp(z[c] - m) / s;
            ck_assert_msg(fabs(cnn_tensor_data(y)[i * K + c] - want) < 1e-5,
                          "example %d class %d: %.7g want %.7g", i, c,
                          (double)cnn_tensor_data(y)[i * K + c], want);
        }
    }
    /* Inference is deterministic; training (fresh masks) is not the same. */
    float first[N * K], again[N * K];
    memcpy(first, cnn_tensor_data(y), sizeof first);
    ck_assert_ok(cnn_net_forward(net, x, CNN_MODE_INFER, y));
    ck_assert_int_eq(memcmp(first, cnn_tensor_data(y), sizeof first), 0);
    ck_assert_ok(cnn_net_forward(net, x, CNN_MODE_TRAIN, y));
    memcpy(again, cnn_tensor_data(y), sizeof again);
    ck_assert_int_ne(memcmp(first, again, sizeof first), 0);
    cnn_tensor_destroy(x);
    cnn_tensor_destroy(y);
    cnn_net_destroy(net);
}
END_TEST

/* Inference of a large batch runs the leading layers a chunk of images at
 * a time (32 per thread) and the layers from the first wide one on over the
 * whole batch (net_run.c): every image's output must be what it is alone,
 * up to the dense kernels' rounding, for batches that do and do not divide
 * into chunks, with one and two threads, with and without a wide layer. */
START_TEST(chunked_inference_matches_per_image)
{
    const int wide = _i & 1, threads = (_i & 2) ? 2 : 1;
    cnn_net *net = NULL;
    ck_assert_ok(cnn_net_create(2, 8, 8, 5, &net));
    add(net, conv(3, 3, CNN_POOL_MAX, CNN_ACT_RELU, CNN_INIT_NETWORK3));
    /* 27 x 3000 weights: past the chunked prefix's limit of 64K */
    add(net, dense(wide ? 3000 : 6, CNN_ACT_TANH, 0.0f, CNN_INIT_NETWORK3));
    add(net, softmax(4, 0.0f, CNN_INIT_GLOROT));
    ck_assert_ok(cnn_net_set_threads(net, threads));
    const int sizes[] = {97, 64, 65, 33};
    for (size_t q = 0; q < sizeof sizes / sizeof sizes[0]; q++) {
        const int n = sizes[q];
        cnn_tensor *x = tensor4(n, 2, 8, 8), *y = tensor2(n, 4);
        fill(cnn_tensor_data(x), (size_t)n * 128, 70 + q, -1.0f, 1.0f);
        ck_assert_ok(cnn_net_forward(net, x, CNN_MODE_INFER, y));
        for (int i = 0; i < n; i++) {
            cnn_tensor *x1 = tensor4(1, 2, 8, 8), *y1 = tensor2(1, 4);
            memcpy(cnn_tensor_data(x1), cnn_tensor_data(x) + (size_t)i * 128, 128 * sizeof(float));
            ck_assert_ok(cnn_net_forward(net, x1, CNN_MODE_INFER, y1));
            for (int k = 0; k < 4; k++) {
                const float a = cnn_tensor_data(y)[(size_t)i * 4 + k], b = cnn_tensor_data(y1)[k];
                ck_assert_msg(fabsf(a - b) <= 1e-5f,
                              "n=%d image %d class %d: %.9g in the batch, %.9g alone", n, i, k,
                              (double)a, (double)b);
            }
            cnn_tensor_destroy(x1);
            cnn_tensor_destroy(y1);
        }
        cnn_tensor_destroy(x);
        cnn_tensor_destroy(y);
    }
    /* The cost and accuracy of a large evaluation batch: the cost comes from
     * the output layer's kept logits, which must hold the whole batch. */
    cnn_dataset *ds = make_dataset(97, 2, 8, 8, 4, 31);
    double acc_big = -1, cost_big = -1, acc_one = -1, cost_one = -1;
    ck_assert_ok(cnn_net_evaluate(net, ds, 97, &acc_big, &cost_big));
    ck_assert_ok(cnn_net_evaluate(net, ds, 1, &acc_one, &cost_one));
    ck_assert(isfinite(cost_big));
    ck_assert_double_eq(acc_big, acc_one);
    ck_assert_msg(fabs(cost_big - cost_one) <= 1e-5 * (1.0 + fabs(cost_one)),
                  "cost %.9g at batch 97, %.9g image by image", cost_big, cost_one);
    cnn_dataset_destroy(ds);
    cnn_net_destroy(net);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("net");
    TCase *tc = tcase_create("net");
    tcase_add_test(tc, create_errors);
    tcase_add_test(tc, add_shape_mismatch);
    tcase_add_test(tc, add_invalid);
    tcase_add_test(tc, add_out_of_memory_returns_layer_intact);
    tcase_add_test(tc, chapter_network_shapes);
    tcase_add_test(tc, flat_buffer_layout);
    tcase_add_test(tc, weights_depend_on_seed_and_index);
    tcase_add_test(tc, init_weights_equals_create);
    tcase_add_test(tc, network3_init_statistics);
    tcase_add_test(tc, he_glorot_zero_init);
    tcase_add_test(tc, forward_errors);
    tcase_add_test(tc, backward_errors);
    tcase_add_test(tc, backward_softmax_only);
    tcase_add_test(tc, predict_ties_lowest_index);
    tcase_add_test(tc, predict_matches_forward_argmax);
    tcase_add_test(tc, evaluate_counts);
    tcase_add_test(tc, clone_is_deep);
    tcase_add_test(tc, errmsg_holds_last_failure);
    tcase_add_test(tc, batch_regrowth);
    tcase_add_test(tc, dropout_inference_formula);
    tcase_add_loop_test(tc, chunked_inference_matches_per_image, 0, 4);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
