/* The limits of cnn.h are shared by the builder and the loader: a network
 * that can be built can be saved and loads again (issue 16, item 1); the
 * load limits bound what a small file can cost (item 4); a diverging run
 * stops with CNN_EDIVERGED and is not saved (item 3); and the summary. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

static cnn_layer *act(void)
{
    cnn_layer *l = NULL;
    ck_assert_ok(cnn_activation_create(CNN_ACT_RELU, &l));
    return l;
}

static cnn_layer *conv(int maps, int k)
{
    cnn_conv2d_params p;
    ck_assert_ok(cnn_conv2d_params_init(&p, maps, k, k));
    cnn_layer *l = NULL;
    ck_assert_ok(cnn_conv2d_create(&p, &l));
    return l;
}

/* Adds l; on failure the layer comes back to the caller, who frees it. */
static cnn_status add(cnn_net *net, cnn_layer *l)
{
    cnn_status st = cnn_net_add(net, l);
    if (st != CNN_OK)
        cnn_layer_destroy(l);
    return st;
}

/* Whatever was built saves and loads again (with the same limits), with
 * the same architecture and bit-identical parameters. */
static void expect_round_trip(cnn_net *net, const cnn_load_limits *lim)
{
    void *buf = NULL;
    size_t size = 0;
    ck_assert_ok(cnn_net_save_buffer(net, &buf, &size));
    cnn_net *back = NULL;
    cnn_status st = cnn_net_load_buffer_limited(buf, size, lim, &back);
    ck_assert_msg(st == CNN_OK, "saved but not loaded: %s", cnn_last_error());
    ck_assert_int_eq(cnn_net_layer_count(back), cnn_net_layer_count(net));
    ck_assert_int_eq(cnn_net_param_count(back), cnn_net_param_count(net));
    if (cnn_net_param_count(net) > 0)
        ck_assert(memcmp(cnn_net_params(back), cnn_net_params(net),
                         (size_t)cnn_net_param_count(net) * sizeof(float)) == 0);
    cnn_net_destroy(back);
    cnn_free(buf);
}

START_TEST(oversized_input_refused_at_create)
{
    cnn_net *net = (cnn_net *)1;
    ck_assert_status(cnn_net_create(1, 8192, 8192, 0, &net), CNN_EINVAL);
    ck_assert_ptr_null(net);
    ck_assert_ptr_nonnull(strstr(cnn_last_error(), "16777216"));
    /* Exactly the limit builds, and round-trips. */
    ck_assert_ok(cnn_net_create(1, 4096, 4096, 0, &net));
    ck_assert_ok(add(net, act()));
    expect_round_trip(net, NULL);
    cnn_net_destroy(net);
}
END_TEST

/* The two networks of the issue that saved but did not load. */
START_TEST(issue_cases_refused_at_add)
{
    cnn_net *net = NULL;
    ck_assert_ok(cnn_net_create(1, 4096, 4096, 0, &net));
    ck_assert_int_ne(add(net, conv(1, 12)), CNN_OK);
    ck_assert_int_eq(cnn_net_layer_count(net), 0);
    expect_round_trip(net, NULL);
    cnn_net_destroy(net);

    ck_assert_ok(cnn_net_create(1, 28, 28, 0, &net));
    ck_assert_status(add(net, conv(30000, 5)), CNN_ESHAPE);
    ck_assert_ptr_nonnull(strstr(cnn_net_errmsg(net), "16777216"));
    cnn_net_destroy(net);
}
END_TEST

/* Property: networks near every limit either fail to build or round-trip. */
START_TEST(near_every_limit)
{
    static const struct {
        int c, h, w;   /* input */
        int maps, k;   /* a conv (maps 0: an activation instead) */
        int layers;    /* how many such layers */
    } cases[] = {
        {1, 4096, 4096, 0, 0, 1},       /* input at CNN_MAX_EXAMPLE */
        {1, 4096, 4097, 0, 0, 1},       /* one past it */
        {1, 1024, 1024, 16, 1, 1},      /* conv output exactly 2^24 */
        {1, 1024, 1024, 17, 1, 1},      /* one map past it */
        {1, 2, 2, 0, 0, CNN_MAX_LAYERS},     /* the layer count limit */
        {1, 2, 2, 0, 0, CNN_MAX_LAYERS + 1}, /* one past it */
        {65535, 1, 1, 1, 1, 1},         /* largest dimension */
        {1, 65535, 1, 2, 1, 1},
        {3, 300, 300, 100, 11, 1},      /* a large unfold */
        {1, 2048, 2048, 4, 11, 1},      /* workspace past the default limit */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cnn_net *net = NULL;
        cnn_status st = cnn_net_create(cases[i].c, cases[i].h, cases[i].w, 1, &net);
        for (int j = 0; st == CNN_OK && j < cases[i].layers; j++)
            st = add(net, cases[i].maps ? conv(cases[i].maps, cases[i].k) : act());
        if (net)
            expect_round_trip(net, NULL); /* what was built, whole or not */
        cnn_net_destroy(net);
        /* Cases past a limit must have failed somewhere. */
        if (i == 1 || i == 3 || i == 5 || i == 9)
            ck_assert_msg(st != CNN_OK, "case %zu built past a limit", i);
        else
            ck_assert_msg(st == CNN_OK, "case %zu: %s", i, cnn_last_error());
    }
}
END_TEST

/* Small files that would cost gigabytes are refused by the default load
 * limits before anything is allocated; raising the limits accepts them. */
START_TEST(load_limits_bound_cost)
{
    cnn_load_limits big;
    ck_assert_ok(cnn_load_limits_init(&big, sizeof big));
    ck_assert_int_eq(big.max_workspace_bytes, (int64_t)1 << 30);
    big.max_workspace_bytes = (int64_t)1 << 40;
    big.max_flops = (int64_t)1 << 50;

    /* 40 activation layers on 4096x4096 (the issue's 1,180-byte model). */
    cnn_net *net = NULL;
    ck_assert_ok(cnn_net_create(1, 4096, 4096, 0, &net));
    ck_assert_status(cnn_net_set_limits(net, &big), CNN_OK);
    for (int i = 0; i < 40; i++)
        ck_assert_ok(add(net, act()));
    void *buf = NULL;
    size_t size = 0;
    ck_assert_ok(cnn_net_save_buffer(net, &buf, &size));
    ck_assert_uint_lt(size, 2048);
    cnn_net *back = (cnn_net *)1;
    ck_assert_status(cnn_net_load_buffer(buf, size, &back), CNN_EINVAL);
    ck_assert_ptr_null(back);
    ck_assert_ptr_nonnull(strstr(cnn_last_error(), "workspace"));
    ck_assert_ok(cnn_net_load_buffer_limited(buf, size, &big, &back));
    cnn_net_destroy(back);
    cnn_free(buf);
    cnn_net_destroy(net);

    /* An 11x11 conv on 4096x4096 (the 632-byte model): 8 GB of scratch. */
    ck_assert_ok(cnn_net_create(1, 4096, 4096, 0, &net));
    ck_assert_int_ne(add(net, conv(1, 11)), CNN_OK); /* the builder refuses too */
    ck_assert_ok(cnn_net_set_limits(net, &big));
    ck_assert_ok(add(net, conv(1, 11)));
    ck_assert_ok(cnn_net_save_buffer(net, &buf, &size));
    ck_assert_status(cnn_net_load_buffer(buf, size, &back), CNN_EINVAL);
    ck_assert_ptr_nonnull(strstr(cnn_last_error(), "cnn_load_limits"));
    ck_assert_ok(cnn_net_load_buffer_limited(buf, size, &big, &back));
    cnn_load_limits got;
    ck_assert_ok(cnn_load_limits_init(&got, sizeof got));
    ck_assert_ok(cnn_net_get_limits(back, &got));
    ck_assert_int_eq(got.max_workspace_bytes, big.max_workspace_bytes);
    cnn_net_destroy(back);
    cnn_free(buf);
    cnn_net_destroy(net);

    /* Bad limits. */
    cnn_load_limits bad = big;
    bad.max_flops = 0;
    ck_assert_status(cnn_net_load_buffer_limited("x", 1, &bad, &back), CNN_EINVAL);
    ck_assert_status(cnn_load_limits_init(&bad, 4), CNN_EINVAL);
}
END_TEST

static cnn_net *tiny_classifier(void)
{
    cnn_net *net = NULL;
    ck_assert_ok(cnn_net_create(1, 8, 8, 3, &net));
    cnn_dense_params d;
    ck_assert_ok(cnn_dense_params_init(&d, 16));
    cnn_layer *l = NULL;
    ck_assert_ok(cnn_dense_create(&d, &l));
    ck_assert_ok(cnn_net_add(net, l));
    cnn_softmax_params s;
    ck_assert_ok(cnn_softmax_params_init(&s, 4));
    ck_assert_ok(cnn_softmax_create(&s, &l));
    ck_assert_ok(cnn_net_add(net, l));
    return net;
}

/* eta 1e30: the trainer stops with CNN_EDIVERGED naming epoch and step, and
 * the diverged network cannot be saved over a good file. */
START_TEST(divergence_is_caught)
{
    cnn_dataset *ds = test_make_striped_dataset(200, 1, 8, 8, 4, 5);
    cnn_net *net = tiny_classifier();
    void *good = NULL;
    size_t good_size = 0;
    ck_assert_ok(cnn_net_save_buffer(net, &good, &good_size));
    cnn_sgd_params sp;
    ck_assert_ok(cnn_sgd_params_init(&sp, 1e30f));
    cnn_optimizer *opt = NULL;
    ck_assert_ok(cnn_sgd_create(&sp, &opt));
    cnn_train_params tp;
    ck_assert_ok(cnn_train_params_init(&tp, 2));
    cnn_train_result r = {.struct_size = sizeof r};
    ck_assert_status(cnn_train(net, opt, ds, &tp, &r), CNN_EDIVERGED);
    ck_assert_ptr_nonnull(strstr(cnn_net_errmsg(net), "diverged in epoch 1"));
    void *bad = NULL;
    size_t bad_size = 0;
    ck_assert_status(cnn_net_save_buffer(net, &bad, &bad_size), CNN_EDIVERGED);
    ck_assert_ptr_null(bad);
    ck_assert_ptr_nonnull(strstr(cnn_net_errmsg(net), "diverged"));
    cnn_free(good);
    cnn_optimizer_destroy(opt);
    cnn_net_destroy(net);

    /* The step API checks too: cost every step, parameters after it. */
    net = tiny_classifier();
    ck_assert_ok(cnn_sgd_create(&sp, &opt));
    int64_t shape[4] = {20, 1, 8, 8};
    cnn_tensor *x = NULL;
    ck_assert_ok(cnn_tensor_create(4, shape, &x));
    int32_t labels[20];
    ck_assert_ok(cnn_dataset_batch(ds, 0, 20, x, labels));
    cnn_status st = CNN_OK;
    for (int i = 0; i < 5 && st == CNN_OK; i++)
        st = cnn_train_step(net, opt, x, labels, NULL);
    ck_assert_status(st, CNN_EDIVERGED);
    ck_assert_ptr_nonnull(strstr(cnn_net_errmsg(net), "cnn_train_step: diverged"));
    cnn_tensor_destroy(x);
    cnn_optimizer_destroy(opt);
    cnn_net_destroy(net);
    cnn_dataset_destroy(ds);
}
END_TEST

START_TEST(summary)
{
    cnn_net *net = NULL;
    ck_assert_ok(cnn_net_create(1, 28, 28, 0, &net));
    cnn_conv2d_params cp;
    ck_assert_ok(cnn_conv2d_params_init(&cp, 20, 5, 5));
    cp.activation = CNN_ACT_RELU;
    cp.pool = CNN_POOL_MAX;
    cp.padding = CNN_PAD_SAME;
    cnn_layer *l = NULL;
    ck_assert_ok(cnn_conv2d_create(&cp, &l));
    ck_assert_ok(cnn_net_add(net, l));
    size_t need = 0;
    ck_assert_ok(cnn_net_summary(net, NULL, 0, &need));
    ck_assert_uint_gt(need, 20);
    char *text = malloc(need);
    ck_assert_ok(cnn_net_summary(net, text, need, NULL));
    ck_assert_ptr_nonnull(strstr(text, "input 1x28x28, 1 layers, 520 parameters\n"));
    /* "same": 5x5 pads 2, so 28x28 stays 28x28 before the 2x2 pool. */
    ck_assert_ptr_nonnull(strstr(text, "conv2d 20 maps 5x5, stride 1x1, pad 2x2, relu, max pool "
                                       "2x2 -> 20x14x14, 520 parameters\n"));
    ck_assert_uint_eq(strlen(text) + 1, need);
    char small[8];
    ck_assert_status(cnn_net_summary(net, small, sizeof small, NULL), CNN_EINVAL);
    ck_assert_uint_eq(strlen(small), sizeof small - 1);
    char line[128];
    ck_assert_ok(cnn_layer_summary(l, line, sizeof line));
    ck_assert_str_eq(line, "conv2d 20 maps 5x5, stride 1x1, pad 2x2, relu, max pool 2x2");
    free(text);
    cnn_net_destroy(net);
    /* Even kernels have no centre: "same" refuses them. */
    ck_assert_ok(cnn_conv2d_params_init(&cp, 2, 4, 3));
    cp.padding = CNN_PAD_SAME;
    ck_assert_status(cnn_conv2d_create(&cp, &l), CNN_EINVAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("limits");
    TCase *tc = tcase_create("limits");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, oversized_input_refused_at_create);
    tcase_add_test(tc, issue_cases_refused_at_add);
    tcase_add_test(tc, near_every_limit);
    tcase_add_test(tc, load_limits_bound_cost);
    tcase_add_test(tc, divergence_is_caught);
    tcase_add_test(tc, summary);
    suite_add_tcase(s, tc);
    return test_run_suite(s) ? 1 : 0;
}
