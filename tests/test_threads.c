/* The thread-safety contract of cnn.h, exercised: distinct handles used
 * concurrently give the same results as one thread using them in turn, and
 * one dataset may be read by many threads at once.  Built into the
 * ThreadSanitizer run as well (scripts/test-tsan). */
#include "testutil.h"

#include <pthread.h>
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

int main(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("contract");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, concurrent_training_matches_sequential);
    tcase_add_test(tc, clones_predict_concurrently);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
