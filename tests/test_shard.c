/* cnn_train_sharded without MPI: N threads of one process play N ranks,
 * joined by an in-process reduction (a barrier and a sum in rank order), so
 * the core's half of data-parallel training is tested wherever Check runs.
 * libcnn-mpi's own tests (tests/mpi) run the same contract over mpirun. */
#include "testutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_RANKS = 4, COUNT = 61, H = 8 };

/* 1x8x8 -> conv 3 3x3 + max pool 2 -> dense 8 ReLU -> softmax 4 (Glorot) */
static cnn_net *make_net(float dropout)
{
    cnn_net *net = NULL;
    cnn_layer *l = NULL;
    ck_assert_ok(cnn_net_create(1, H, H, 5, &net));
    cnn_conv2d_params cp;
    ck_assert_ok(cnn_conv2d_params_init(&cp, 3, 3, 3));
    cp.pool = CNN_POOL_MAX;
    cp.activation = CNN_ACT_RELU;
    ck_assert_ok(cnn_conv2d_create(&cp, &l));
    ck_assert_ok(cnn_net_add(net, l));
    cnn_dense_params dp;
    ck_assert_ok(cnn_dense_params_init(&dp, 8));
    dp.activation = CNN_ACT_RELU;
    dp.dropout = dropout;
    ck_assert_ok(cnn_dense_create(&dp, &l));
    ck_assert_ok(cnn_net_add(net, l));
    cnn_softmax_params sp;
    ck_assert_ok(cnn_softmax_params_init(&sp, 4));
    sp.init = CNN_INIT_GLOROT;
    ck_assert_ok(cnn_softmax_create(&sp, &l));
    ck_assert_ok(cnn_net_add(net, l));
    return net;
}

static cnn_optimizer *make_opt(int adam)
{
    cnn_optimizer *opt = NULL;
    if (adam) {
        cnn_adam_params a;
        ck_assert_ok(cnn_adam_params_init(&a, 0.01f));
        ck_assert_ok(cnn_adam_create(&a, &opt));
    } else {
        cnn_sgd_params p;
        ck_assert_ok(cnn_sgd_params_init(&p, 0.1f));
        p.momentum = 0.9f;
        p.l2 = 0.1f;
        ck_assert_ok(cnn_sgd_create(&p, &opt));
    }
    return opt;
}

static void params_for(cnn_train_params *tp, int32_t batch)
{
    ck_assert_ok(cnn_train_params_init(tp, 3));
    tp->batch_size = batch;
    tp->shuffle = 1;
    tp->seed = 9;
    tp->progress_every = 0;
}

/* ---- the in-process "ranks" ------------------------------------------------ */

typedef struct team {
    int n;
    pthread_barrier_t barrier;
    float *values[MAX_RANKS];
    double *costs[MAX_RANKS];
    int32_t locals[MAX_RANKS];
    float *sum;
    int64_t sum_len;
    double cost;
    int calls[MAX_RANKS];
} team;

typedef struct player {
    team *t;
    int rank;
    cnn_net *net;
    cnn_optimizer *opt;
    const cnn_dataset *ds;
    int32_t batch;
    cnn_status st;
} player;

/* The cnn_reduce_fn contract: every rank ends with sum_r local_r/global *
 * values_r, added in rank order by rank 0, copied by all. */
static int32_t team_reduce(float *values, int64_t n, double *cost, int32_t local, int32_t global,
                           void *user)
{
    player *p = user;
    team *t = p->t;
    t->values[p->rank] = values;
    t->costs[p->rank] = cost;
    t->locals[p->rank] = local;
    t->calls[p->rank]++;
    pthread_barrier_wait(&t->barrier);
    if (p->rank == 0) {
        if (n > t->sum_len) {
            free(t->sum);
            t->sum = malloc((size_t)n * sizeof *t->sum);
            t->sum_len = n;
        }
        for (int64_t i = 0; i < n; i++) {
            float s = 0.0f;
            for (int r = 0; r < t->n; r++)
                s += (float)((double)t->locals[r] / global) * t->values[r][i];
            t->sum[i] = s;
        }
        t->cost = 0.0;
        for (int r = 0; cost && r < t->n; r++)
            t->cost += *t->costs[r] * ((double)t->locals[r] / global);
    }
    pthread_barrier_wait(&t->barrier);
    memcpy(values, t->sum, (size_t)n * sizeof *values);
    if (cost)
        *cost = t->cost;
    pthread_barrier_wait(&t->barrier); /* nobody refills sum before all copied */
    return 0;
}

static void *play(void *arg)
{
    player *p = arg;
    cnn_shard_params sh;
    cnn_shard_params_init(&sh, p->rank, p->t->n);
    sh.reduce = team_reduce;
    sh.user = p;
    cnn_train_params tp;
    params_for(&tp, p->batch);
    p->st = cnn_train_sharded(p->net, p->opt, p->ds, &tp, &sh, NULL);
    return NULL;
}

/* Trains n copies as n ranks; players[r].net holds rank r's result. */
static void run_team(team *t, player *players, int n, int adam, float dropout,
                     const cnn_dataset *ds, int32_t batch)
{
    memset(t, 0, sizeof *t);
    t->n = n;
    ck_assert_int_eq(pthread_barrier_init(&t->barrier, NULL, (unsigned)n), 0);
    pthread_t th[MAX_RANKS];
    for (int r = 0; r < n; r++) {
        players[r] = (player){.t = t, .rank = r, .net = make_net(dropout), .opt = make_opt(adam),
                              .ds = ds, .batch = batch};
        ck_assert_int_eq(pthread_create(&th[r], NULL, play, &players[r]), 0);
    }
    for (int r = 0; r < n; r++)
        pthread_join(th[r], NULL);
    pthread_barrier_destroy(&t->barrier);
    free(t->sum);
    for (int r = 0; r < n; r++)
        ck_assert_msg(players[r].st == CNN_OK, "rank %d: %s", r,
                      cnn_net_errmsg(players[r].net));
}

static void free_team(player *players, int n)
{
    for (int r = 0; r < n; r++) {
        cnn_net_destroy(players[r].net);
        cnn_optimizer_destroy(players[r].opt);
    }
}

/* ---- tests ------------------------------------------------------------------ */

START_TEST(ranks_hold_identical_weights)
{
    cnn_dataset *ds = test_make_striped_dataset(COUNT, 1, H, H, 4, 3);
    for (int n = 2; n <= 3; n++) {
        team t;
        player p[MAX_RANKS];
        run_team(&t, p, n, 0, 0.5f, ds, 10);
        /* 61 examples in batches of 10: 7 steps an epoch, 3 epochs */
        ck_assert_int_eq(t.calls[0], 21);
        size_t bytes = (size_t)cnn_net_param_count(p[0].net) * sizeof(float);
        for (int r = 1; r < n; r++)
            ck_assert_msg(memcmp(cnn_net_params(p[0].net), cnn_net_params(p[r].net), bytes) == 0,
                          "rank %d of %d differs from rank 0", r, n);
        free_team(p, n);
    }
    cnn_dataset_destroy(ds);
}
END_TEST

/* N ranks at B/N match one process at B: the pieces' mean gradients weighted
 * by their share are the batch's mean gradient, up to summation order. */
START_TEST(ranks_match_one_process)
{
    cnn_dataset *ds = test_make_striped_dataset(COUNT, 1, H, H, 4, 3);
    for (int adam = 0; adam <= 1; adam++) {
        const int n = 3;
        team t;
        player p[MAX_RANKS];
        run_team(&t, p, n, adam, 0.0f, ds, 7); /* pieces 2, 2, 3; last batch of 5 */
        cnn_net *one = make_net(0.0f);
        cnn_optimizer *opt = make_opt(adam);
        cnn_train_params tp;
        params_for(&tp, 7);
        ck_assert_ok(cnn_train(one, opt, ds, &tp, NULL));
        double err = test_max_rel_err(cnn_net_params(one), cnn_net_params(p[0].net),
                                      (size_t)cnn_net_param_count(one), 1e-3);
        ck_assert_msg(err <= 1e-4, "%s: 3 ranks vs 1 process: relative difference %g",
                      adam ? "adam" : "sgd", err);
        /* and training did something: not the initial weights */
        cnn_net *fresh = make_net(0.0f);
        ck_assert(test_max_abs_err(cnn_net_params(fresh), cnn_net_params(one),
                                   (size_t)cnn_net_param_count(one)) > 1e-3);
        cnn_net_destroy(fresh);
        cnn_net_destroy(one);
        cnn_optimizer_destroy(opt);
        free_team(p, n);
    }
    cnn_dataset_destroy(ds);
}
END_TEST

/* More ranks than examples in a batch: the empty pieces still take part. */
START_TEST(empty_pieces_take_part)
{
    cnn_dataset *ds = test_make_striped_dataset(COUNT, 1, H, H, 4, 3);
    team t;
    player p[MAX_RANKS];
    run_team(&t, p, 4, 0, 0.0f, ds, 3); /* pieces 0, 1, 1, 1 */
    ck_assert_int_eq(t.calls[0], 3 * 21);
    ck_assert_int_eq(t.calls[0], t.calls[3]);
    size_t bytes = (size_t)cnn_net_param_count(p[0].net) * sizeof(float);
    ck_assert(memcmp(cnn_net_params(p[0].net), cnn_net_params(p[3].net), bytes) == 0);
    free_team(p, 4);
    cnn_dataset_destroy(ds);
}
END_TEST

static int32_t failing_reduce(float *v, int64_t n, double *cost, int32_t l, int32_t g, void *u)
{
    (void)v, (void)n, (void)cost, (void)l, (void)g, (void)u;
    return 7;
}

START_TEST(bad_shards_refused)
{
    cnn_dataset *ds = test_make_striped_dataset(COUNT, 1, H, H, 4, 3);
    cnn_net *net = make_net(0.0f);
    cnn_optimizer *opt = make_opt(0);
    cnn_train_params tp;
    params_for(&tp, 10);
    cnn_shard_params sh;
    const int32_t bad[][2] = {{0, 0}, {-1, 2}, {2, 2}, {1, 2} /* count 2, no reduce */};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_ok(cnn_shard_params_init(&sh, bad[i][0], bad[i][1]));
        ck_assert_status(cnn_train_sharded(net, opt, ds, &tp, &sh, NULL), CNN_EINVAL);
    }
    ck_assert_ok(cnn_shard_params_init(&sh, 0, 2));
    sh.struct_size = 4;
    ck_assert_status(cnn_train_sharded(net, opt, ds, &tp, &sh, NULL), CNN_EINVAL);
    ck_assert_ok(cnn_shard_params_init(&sh, 0, 2));
    sh.reduce = failing_reduce;
    ck_assert_status(cnn_train_sharded(net, opt, ds, &tp, &sh, NULL), CNN_ECANCELED);
    ck_assert_msg(strstr(cnn_net_errmsg(net), "returned 7") != NULL, "%s", cnn_net_errmsg(net));
    /* one shard, no reduction: trains */
    ck_assert_ok(cnn_shard_params_init(&sh, 0, 1));
    ck_assert_ok(cnn_train_sharded(net, opt, ds, &tp, &sh, NULL));
    cnn_net_destroy(net);
    cnn_optimizer_destroy(opt);
    cnn_dataset_destroy(ds);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("shard");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, ranks_hold_identical_weights);
    tcase_add_test(tc, ranks_match_one_process);
    tcase_add_test(tc, empty_pieces_take_part);
    tcase_add_test(tc, bad_shards_refused);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
