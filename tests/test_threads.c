/* The thread-safety contract of cnn.h, exercised: distinct handles used
 * concurrently give the same results as one thread using them in turn, and
 * one dataset may be read by many threads at once.  Built into the
 * ThreadSanitizer run as well (scripts/test-tsan). */
#include "testutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4
#define EXAMPLES 64

typedef struct job {
    const cnn_dataset *data; /* shared by every thread */
    uint64_t seed;
    float checksum[2];       /* first and last parameter after training */
    int32_t predictions[EXAMPLES];
    cnn_status status;
} job;

static cnn_status build(uint64_t seed, cnn_net **out)
{
    cnn_net *net;
    cnn_status st = cnn_net_create(1, 8, 8, seed, &net);
    cnn_layer *l = NULL;
    cnn_conv2d_params cp;
    cnn_conv2d_params_init(&cp, 3, 3, 3);
    cp.activation = CNN_ACT_RELU;
    cp.pool = CNN_POOL_MAX;
    if (st == CNN_OK && (st = cnn_conv2d_create(&cp, &l)) == CNN_OK && (st = cnn_net_add(net, l)) != CNN_OK)
        cnn_layer_destroy(l);
    cnn_dense_params dp;
    cnn_dense_params_init(&dp, 8);
    dp.dropout = 0.25f;
    if (st == CNN_OK && (st = cnn_dense_create(&dp, &l)) == CNN_OK && (st = cnn_net_add(net, l)) != CNN_OK)
        cnn_layer_destroy(l);
    cnn_softmax_params sp;
    cnn_softmax_params_init(&sp, 4);
    if (st == CNN_OK && (st = cnn_softmax_create(&sp, &l)) == CNN_OK && (st = cnn_net_add(net, l)) != CNN_OK)
        cnn_layer_destroy(l);
    if (st != CNN_OK) {
        cnn_net_destroy(net);
        return st;
    }
    *out = net;
    return CNN_OK;
}

static void *train_job(void *arg)
{
    job *j = arg;
    cnn_net *net = NULL;
    cnn_optimizer *opt = NULL;
    cnn_sgd_params op;
    cnn_sgd_params_init(&op, 0.1f);
    op.momentum = 0.9f;
    cnn_train_params tp;
    cnn_train_params_init(&tp, 2);
    tp.batch_size = 8;
    tp.shuffle = 1;
    tp.seed = j->seed;
    tp.validation = j->data;
    j->status = build(j->seed, &net);
    if (j->status == CNN_OK)
        j->status = cnn_sgd_create(&op, &opt);
    if (j->status == CNN_OK)
        j->status = cnn_train(net, opt, j->data, &tp, NULL);
    if (j->status == CNN_OK)
        j->status = cnn_net_predict_dataset(net, j->data, 16, j->predictions);
    if (j->status == CNN_OK) {
        j->checksum[0] = cnn_net_params(net)[0];
        j->checksum[1] = cnn_net_params(net)[cnn_net_param_count(net) - 1];
    }
    cnn_optimizer_destroy(opt);
    cnn_net_destroy(net);
    return NULL;
}

static cnn_dataset *make_data(void)
{
    static uint8_t pixels[EXAMPLES * 64], labels[EXAMPLES];
    for (int i = 0; i < EXAMPLES; i++) {
        labels[i] = (uint8_t)(i % 4);
        for (int p = 0; p < 64; p++)
            pixels[i * 64 + p] = (uint8_t)((p * 31 + i * 17 + labels[i] * 60) & 0xff);
    }
    cnn_dataset *ds;
    ck_assert_ok(cnn_dataset_create(EXAMPLES, 1, 8, 8, pixels, labels, &ds));
    return ds;
}

START_TEST(concurrent_training_matches_sequential)
{
    cnn_dataset *data = make_data();
    job sequential[THREADS], concurrent[THREADS];
    for (int i = 0; i < THREADS; i++) {
        sequential[i] = (job){.data = data, .seed = 100 + (uint64_t)i};
        concurrent[i] = sequential[i];
        train_job(&sequential[i]);
        ck_assert_ok(sequential[i].status);
    }
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, train_job, &concurrent[i]), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < THREADS; i++) {
        ck_assert_ok(concurrent[i].status);
        ck_assert_mem_eq(concurrent[i].checksum, sequential[i].checksum, sizeof(float) * 2);
        ck_assert_mem_eq(concurrent[i].predictions, sequential[i].predictions,
                         sizeof(int32_t) * EXAMPLES);
    }
    /* Different seeds really trained different networks. */
    ck_assert(memcmp(sequential[0].checksum, sequential[1].checksum, sizeof(float) * 2) != 0);
    cnn_dataset_destroy(data);
}
END_TEST

typedef struct predict_job {
    cnn_net *net; /* a clone per thread: predicting mutates the workspace */
    const cnn_dataset *data;
    int32_t labels[EXAMPLES];
    cnn_status status;
} predict_job;

static void *predict(void *arg)
{
    predict_job *j = arg;
    j->status = cnn_net_predict_dataset(j->net, j->data, 7, j->labels);
    return NULL;
}

START_TEST(clones_predict_concurrently)
{
    cnn_dataset *data = make_data();
    cnn_net *net;
    ck_assert_ok(build(5, &net));
    cnn_layer *last = cnn_net_layer(net, 2);
    cnn_tensor *w = cnn_layer_param(last, CNN_PARAM_WEIGHTS);
    float *wd = cnn_tensor_data(w);
    for (int64_t i = 0; i < cnn_tensor_numel(w); i++)
        wd[i] = (float)((i * 7) % 11) / 11.0f - 0.5f;
    int32_t want[EXAMPLES];
    ck_assert_ok(cnn_net_predict_dataset(net, data, 64, want));
    predict_job jobs[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        jobs[i] = (predict_job){.data = data};
        ck_assert_ok(cnn_net_clone(net, &jobs[i].net));
        ck_assert_int_eq(pthread_create(&t[i], NULL, predict, &jobs[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        ck_assert_ok(jobs[i].status);
        ck_assert_mem_eq(jobs[i].labels, want, sizeof want);
        cnn_net_destroy(jobs[i].net);
    }
    cnn_net_destroy(net);
    cnn_dataset_destroy(data);
}
END_TEST

/* A network's own workers split large dense layers by output rows (and
 * input columns for dx) at small batch sizes: every element is computed as
 * on one thread, so training with 1, 2 or 3 threads must give bit-identical
 * parameters.  784 -> 100 -> 10 at batch 10 is large enough to split.
 * _i: 0 plain SGD (the fused update), 1 momentum (gradient, then update),
 * 2 dropout on both layers with L2. */
/* 784 -> dense 100 -> softmax 10, both with the given input dropout. */
static cnn_net *dense_net(float dropout)
{
    cnn_net *net;
    ck_assert_ok(cnn_net_create(1, 28, 28, 11, &net));
    cnn_dense_params dp;
    cnn_dense_params_init(&dp, 100);
    dp.dropout = dropout;
    cnn_layer *l;
    ck_assert_ok(cnn_dense_create(&dp, &l));
    ck_assert_ok(cnn_net_add(net, l));
    cnn_softmax_params sp;
    cnn_softmax_params_init(&sp, 10);
    sp.dropout = dropout;
    ck_assert_ok(cnn_softmax_create(&sp, &l));
    ck_assert_ok(cnn_net_add(net, l));
    return net;
}

static float *train_dense(int threads, int variant, int64_t *count)
{
    cnn_net *net = dense_net(variant == 2 ? 0.5f : 0.0f);
    ck_assert_ok(cnn_net_set_threads(net, threads));
    cnn_sgd_params op;
    cnn_sgd_params_init(&op, 0.1f);
    op.momentum = variant == 1 ? 0.9f : 0.0f;
    op.l2 = variant == 2 ? 5.0f : 0.0f;
    op.l2_batches = 100;
    cnn_optimizer *opt;
    ck_assert_ok(cnn_sgd_create(&op, &opt));
    int64_t shape[4] = {10, 1, 28, 28};
    cnn_tensor *x;
    ck_assert_ok(cnn_tensor_create(4, shape, &x));
    float *xd = cnn_tensor_data(x);
    int32_t labels[10];
    for (int step = 0; step < 4; step++) {
        for (int64_t k = 0; k < 10 * 784; k++)
            xd[k] = (float)((k * 37 + step * 11) % 101) / 101.0f;
        for (int i = 0; i < 10; i++)
            labels[i] = (i * 3 + step) % 10;
        ck_assert_ok(cnn_train_step(net, opt, x, labels, NULL));
    }
    *count = cnn_net_param_count(net);
    float *params = malloc((size_t)*count * sizeof *params);
    ck_assert_ptr_nonnull(params);
    memcpy(params, cnn_net_params(net), (size_t)*count * sizeof *params);
    cnn_tensor_destroy(x);
    cnn_optimizer_destroy(opt);
    cnn_net_destroy(net);
    return params;
}

START_TEST(dense_split_matches_one_thread)
{
    int64_t n1, n;
    float *one = train_dense(1, _i, &n1);
    for (int threads = 2; threads <= 3; threads++) {
        float *p = train_dense(threads, _i, &n);
        ck_assert_int_eq(n, n1);
        for (int64_t k = 0; k < n; k++)
            ck_assert_msg(p[k] == one[k], "%d threads: parameter %lld = %.9g, 1 thread %.9g",
                          threads, (long long)k, (double)p[k], (double)one[k]);
        free(p);
    }
    /* Training moved the weights: the comparison is not of two inits. */
    cnn_net *init = dense_net(0.0f);
    const float *w0 = cnn_net_params(init);
    int64_t moved = 0;
    for (int64_t k = 0; k < 784 * 100; k++)
        moved += w0[k] != one[k];
    ck_assert_msg(moved > 784 * 50, "only %lld weights changed", (long long)moved);
    cnn_net_destroy(init);
    free(one);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("contract");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, concurrent_training_matches_sequential);
    tcase_add_test(tc, clones_predict_concurrently);
    tcase_add_loop_test(tc, dense_split_matches_one_thread, 0, 3);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
