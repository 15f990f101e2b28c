/* End to end: small convolutional networks actually learn.  A synthetic
 * four-class image task always runs; a few hundred real MNIST digits run
 * when the files are present (data/mnist, or $CNN_MNIST_DIR). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SIDE = 12, CLASSES = 4 };

/* One 12x12 image of class `label` at a random position with noise:
 * 0 horizontal bar, 1 vertical bar, 2 diagonal, 3 square blob. */
static void draw(test_rng *r, int label, uint8_t *img)
{
    for (int i = 0; i < SIDE * SIDE; i++)
        img[i] = (uint8_t)(test_rng_uniform(r) * 60.0);
#define PUT(y, x) img[(y) * SIDE + (x)] = (uint8_t)(190 + test_rng_uniform(r) * 60.0)
    int a = 1 + (int)(test_rng_uniform(r) * (SIDE - 7)); /* 1 .. 5 */
    int b = 1 + (int)(test_rng_uniform(r) * (SIDE - 7));
    int c = 1 + (int)(test_rng_uniform(r) * (SIDE - 2)); /* 1 .. 10 */
    switch (label) {
    case 0:
        for (int k = 0; k < 6; k++)
            PUT(c, a + k);
        break;
    case 1:
        for (int k = 0; k < 6; k++)
            PUT(a + k, c);
        break;
    case 2:
        for (int k = 0; k < 6; k++)
            PUT(a + k, b + k);
        break;
    default:
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 3; x++)
                PUT(a + y, b + x);
        break;
    }
#undef PUT
}

static cnn_dataset *synthetic(int64_t count, uint64_t seed)
{
    uint8_t *px = malloc((size_t)count * SIDE * SIDE), *lb = malloc((size_t)count);
    ck_assert(px && lb);
    test_rng r;
    test_rng_seed(&r, seed);
    for (int64_t i = 0; i < count; i++) {
        lb[i] = (uint8_t)(test_rng_uniform(&r) * CLASSES);
        draw(&r, lb[i], px + i * SIDE * SIDE);
    }
    cnn_dataset *ds = NULL;
    ck_assert_ok(cnn_dataset_create(count, 1, SIDE, SIDE, px, lb, &ds));
    free(px);
    free(lb);
    return ds;
}

static void add_conv(cnn_net *net, int maps, int k)
{
    cnn_conv2d_params p;
    ck_assert_ok(cnn_conv2d_params_init(&p, maps, k, k));
    p.pool = CNN_POOL_MAX;
    p.activation = CNN_ACT_RELU;
    p.init = CNN_INIT_HE;
    cnn_layer *l = NULL;
    ck_assert_ok(cnn_conv2d_create(&p, &l));
    ck_assert_ok(cnn_net_add(net, l));
}

static void add_dense_softmax(cnn_net *net, int hidden, int classes)
{
    cnn_dense_params d;
    ck_assert_ok(cnn_dense_params_init(&d, hidden));
    d.activation = CNN_ACT_RELU;
    d.init = CNN_INIT_HE;
    cnn_layer *l = NULL;
    ck_assert_ok(cnn_dense_create(&d, &l));
    ck_assert_ok(cnn_net_add(net, l));
    cnn_softmax_params s;
    ck_assert_ok(cnn_softmax_params_init(&s, classes));
    ck_assert_ok(cnn_softmax_create(&s, &l));
    ck_assert_ok(cnn_net_add(net, l));
}

START_TEST(learns_synthetic_shapes)
{
    cnn_dataset *train = synthetic(400, 1), *held_out = synthetic(200, 2);
    cnn_net *net = NULL;
    /* 1x12x12 -> conv 4 3x3 + max pool 2 (4x5x5) -> dense 16 relu -> softmax 4 */
    ck_assert_ok(cnn_net_create(1, SIDE, SIDE, 3, &net));
    add_conv(net, 4, 3);
    add_dense_softmax(net, 16, CLASSES);
    cnn_sgd_params sp;
    ck_assert_ok(cnn_sgd_params_init(&sp, 0.05f));
    sp.momentum = 0.9f;
    cnn_optimizer *opt = NULL;
    ck_assert_ok(cnn_sgd_create(&sp, &opt));

    double before = -1.0;
    ck_assert_ok(cnn_net_evaluate(net, held_out, 100, &before, NULL));
    cnn_train_params tp;
    ck_assert_ok(cnn_train_params_init(&tp, 15));
    tp.batch_size = 10;
    tp.shuffle = 1;
    tp.seed = 4;
    tp.test = held_out;
    cnn_train_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    ck_assert_ok(cnn_train(net, opt, train, &tp, &r));
    double acc = -1.0, cost = -1.0;
    ck_assert_ok(cnn_net_evaluate(net, held_out, 100, &acc, &cost));
    printf("synthetic shapes: held-out accuracy %.3f (%.3f before training), cost %.4f, "
           "final training cost %.4f\n", acc, before, cost, r.final_train_cost);
    ck_assert_msg(acc >= 0.90, "held-out accuracy %.3f < 0.90", acc);
    ck_assert(r.final_train_cost < 0.5);
    cnn_optimizer_destroy(opt);
    cnn_net_destroy(net);
    cnn_dataset_destroy(train);
    cnn_dataset_destroy(held_out);
}
END_TEST

static const char *mnist_dir(char *buf, size_t size)
{
    const char *env = getenv("CNN_MNIST_DIR");
    if (env && *env)
        return env;
    snprintf(buf, size, "%s/../data/mnist", CNN_TEST_SRCDIR);
    return buf;
}

START_TEST(learns_real_mnist_digits)
{
    char buf[4096];
    const char *dir = mnist_dir(buf, sizeof buf);
    cnn_dataset *all_train = NULL, *all_test = NULL;
    cnn_status st = cnn_dataset_load_mnist(dir, CNN_MNIST_TRAIN, &all_train);
    if (st == CNN_OK)
        st = cnn_dataset_load_mnist(dir, CNN_MNIST_TEST, &all_test);
    if (st == CNN_EIO) {
        printf("MNIST not found in %s (%s): skipping the real-digit check\n", dir, cnn_last_error());
        cnn_dataset_destroy(all_train);
        return;
    }
    ck_assert_ok(st); /* present but unreadable is a failure */
    cnn_dataset *train = NULL, *test = NULL;
    ck_assert_ok(cnn_dataset_slice(all_train, 0, 1000, &train));
    ck_assert_ok(cnn_dataset_slice(all_test, 0, 500, &test));
    cnn_dataset_destroy(all_train);
    cnn_dataset_destroy(all_test);

    /* 1x28x28 -> conv 8 5x5 + max pool 2 (8x12x12) -> dense 32 relu -> softmax 10 */
    cnn_net *net = NULL;
    ck_assert_ok(cnn_net_create(1, 28, 28, 5, &net));
    add_conv(net, 8, 5);
    add_dense_softmax(net, 32, 10);
    cnn_sgd_params sp;
    ck_assert_ok(cnn_sgd_params_init(&sp, 0.1f));
    sp.momentum = 0.5f;
    cnn_optimizer *opt = NULL;
    ck_assert_ok(cnn_sgd_create(&sp, &opt));
    cnn_train_params tp;
    ck_assert_ok(cnn_train_params_init(&tp, 2));
    tp.batch_size = 10;
    tp.shuffle = 1;
    tp.seed = 6;
    ck_assert_ok(cnn_train(net, opt, train, &tp, NULL));
    double acc = -1.0;
    ck_assert_ok(cnn_net_evaluate(net, test, 250, &acc, NULL));
    printf("MNIST: 1000 digits x 2 epochs -> %.3f on 500 test digits\n", acc);
    ck_assert_msg(acc >= 0.80, "MNIST test accuracy %.3f < 0.80", acc);
    cnn_optimizer_destroy(opt);
    cnn_net_destroy(net);
    cnn_dataset_destroy(train);
    cnn_dataset_destroy(test);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("learning");
    TCase *tc = tcase_create("learning");
    tcase_add_test(tc, learns_synthetic_shapes);
    tcase_add_test(tc, learns_real_mnist_digits);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
