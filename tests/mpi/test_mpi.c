/* libcnn-mpi's tests, run under mpirun -np 2 and -np 3 (run_mpi_tests.sh).
 * Each check is decided on every rank and summed on all of them; rank 0
 * prints "ok"/"FAIL" per check and ends with "N passed, N failed".
 *
 *   identical:    after training (every optimizer kind, batch norm too)
 *                 every rank holds rank 0's model, bit for bit
 *   reproducible: the same rank count and seed twice give the same bits
 *   one-vs-many:  N ranks at B/N each match one process at B (cnn_train)
 *                 within TOL: they differ only in summation order
 *   dropout:      ranks draw different dropout masks (and, as a control,
 *                 the same gradients without dropout)
 *   agreement:    a rank with other settings fails every rank, no hang
 *   cancel:       rank 0's progress callback stops every rank
 *   checkpoint:   only rank 0 writes the checkpoint
 *   gather:       cnn_mpi_gather and cnn_mpi_sum */
#include "mpi_testkit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* After 3 epochs over 61 examples.  Measured here: the largest relative
 * difference is 1e-6 to 3e-5 (float sums taken in another order); 1e-4
 * leaves room for other CPUs' rounding.  Weighting both pieces of a 7-example
 * batch by 1/2 instead of 3/7 and 4/7 gives 1.5: a wrong reduction fails. */
#define TOL 1e-4

static cnn_mpi_context *ctx;
static int rank, size, passed, failed;

/* Every rank's verdict counts: the check passes only if it passed on all. */
static void verdict(const char *name, int ok, const char *detail)
{
    double bad = 0.0;
    KIT_CHECK(cnn_mpi_sum(ctx, ok ? 0.0 : 1.0, &bad));
    if (!ok)
        fprintf(stderr, "rank %d: %s: %s\n", rank, name, detail ? detail : "failed");
    if (bad == 0.0)
        passed++;
    else
        failed++;
    if (rank == 0)
        printf("%s %s (np %d)\n", bad == 0.0 ? "ok  " : "FAIL", name, size);
    fflush(stdout);
}

static void params_for(cnn_train_params *tp, int epochs, int batch)
{
    KIT_CHECK(cnn_train_params_init(tp, epochs));
    tp->batch_size = batch;
    tp->shuffle = 1;
    tp->seed = 7;
    tp->progress_every = 0;
}

/* Trains a fresh net of `kind` with optimizer `ok` over MPI; returns it. */
static cnn_net *train_mpi(int kind, int opt_kind, const cnn_dataset *ds, int epochs, int batch,
                          cnn_status *st)
{
    cnn_net *net = kit_net(kind, 11);
    cnn_optimizer *opt = kit_optimizer(opt_kind);
    cnn_train_params tp;
    params_for(&tp, epochs, batch);
    *st = cnn_mpi_train(ctx, net, opt, ds, &tp, NULL);
    if (*st != CNN_OK)
        fprintf(stderr, "rank %d: cnn_mpi_train: %s\n", rank, cnn_mpi_errmsg(ctx));
    cnn_optimizer_destroy(opt);
    return net;
}

static int same_model(cnn_net *net)
{
    void *buf = NULL;
    size_t len = 0;
    KIT_CHECK(cnn_net_save_buffer(net, &buf, &len));
    /* compared as floats: pad the bytes to whole floats */
    int64_t nf = (int64_t)((len + 3) / 4);
    float *f = calloc((size_t)nf + 1, sizeof *f);
    memcpy(f, buf, len);
    int64_t lens = nf, len_sum_ok = 1;
    double total = 0.0;
    KIT_CHECK(cnn_mpi_sum(ctx, (double)lens, &total));
    len_sum_ok = total == (double)lens * size; /* same length everywhere first */
    int same = len_sum_ok && kit_same_on_all_ranks(ctx, f, nf);
    free(f);
    cnn_free(buf);
    return same;
}

static void test_identical(const cnn_dataset *ds)
{
    for (int kind = KIT_NET_CONV; kind <= KIT_NET_BATCHNORM; kind++)
        for (int o = 0; o < KIT_OPT_COUNT; o++) {
            cnn_status st;
            cnn_net *net = train_mpi(kind, o, ds, 3, 10, &st);
            cnn_net *fresh = kit_net(kind, 11);
            /* training must have moved the weights, or equality says nothing */
            int moved = memcmp(cnn_net_params(net), cnn_net_params(fresh),
                               (size_t)cnn_net_param_count(net) * sizeof(float)) != 0;
            int same = same_model(net);
            char name[96];
            snprintf(name, sizeof name, "identical weights across ranks: %s net, %s",
                     kind == KIT_NET_CONV ? "conv" : kind == KIT_NET_DROPOUT ? "dropout" :
                     "batchnorm", kit_opt_names[o]);
            verdict(name, st == CNN_OK && moved && same,
                    st != CNN_OK ? "training failed" : !moved ? "weights did not move" :
                    "ranks differ");
            cnn_net_destroy(fresh);
            cnn_net_destroy(net);
        }
}

static void test_reproducible(const cnn_dataset *ds)
{
    cnn_status s1, s2;
    cnn_net *a = train_mpi(KIT_NET_DROPOUT, KIT_OPT_MOMENTUM, ds, 3, 10, &s1);
    cnn_net *b = train_mpi(KIT_NET_DROPOUT, KIT_OPT_MOMENTUM, ds, 3, 10, &s2);
    int same = memcmp(cnn_net_params(a), cnn_net_params(b),
                      (size_t)cnn_net_param_count(a) * sizeof(float)) == 0;
    verdict("same rank count and seed reproduce the weights bit for bit",
            s1 == CNN_OK && s2 == CNN_OK && same, "the two runs differ");
    cnn_net_destroy(a);
    cnn_net_destroy(b);
}

static double max_rel(const float *a, const float *b, int64_t n)
{
    double worst = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double m = fmax(fmax(fabs(a[i]), fabs(b[i])), 1e-3);
        double e = fabs((double)a[i] - b[i]) / m;
        if (!(e <= worst)) /* NaN counts as worst */
            worst = isnan(e) ? INFINITY : e;
    }
    return worst;
}

static void test_one_vs_many(const cnn_dataset *ds)
{
    /* No dropout (masks differ by design) and no batch norm (each piece is
     * normalised with its own statistics, so the functions differ). */
    const int kind = KIT_NET_CONV;
    for (int o = 0; o < KIT_OPT_COUNT; o++) {
            const int batch = 3 * size + 1; /* uneven pieces, and a short last batch */
            cnn_status st;
            cnn_net *many = train_mpi(kind, o, ds, 3, batch, &st);
            cnn_net *one = kit_net(kind, 11);
            cnn_optimizer *opt = kit_optimizer(o);
            cnn_train_params tp;
            params_for(&tp, 3, batch);
            cnn_status st1 = cnn_train(one, opt, ds, &tp, NULL);
            double err = max_rel(cnn_net_params(one), cnn_net_params(many),
                                 cnn_net_param_count(one));
            char name[128], detail[64];
            snprintf(name, sizeof name, "%d ranks at batch %d/%d match 1 process at %d: conv net, "
                     "%s (max rel diff %.2g <= %g)", size, batch, size, batch, kit_opt_names[o],
                     err, TOL);
            snprintf(detail, sizeof detail, "max relative difference %.3g", err);
            verdict(name, st == CNN_OK && st1 == CNN_OK && err <= TOL, detail);
            cnn_optimizer_destroy(opt);
            cnn_net_destroy(one);
            cnn_net_destroy(many);
        }
}

/* Wraps libcnn-mpi's reduction to look at each rank's own gradients (before
 * they are combined) of the first step. */
typedef struct spy {
    cnn_shard_params inner;
    float *first;       /* the first call's local gradients */
    int64_t n;
} spy;

static int32_t spy_reduce(float *v, int64_t n, double *cost, int32_t local, int32_t global,
                          void *user)
{
    spy *s = user;
    if (!s->first && cost) {
        s->first = malloc((size_t)n * sizeof *v);
        memcpy(s->first, v, (size_t)n * sizeof *v);
        s->n = n;
    }
    return s->inner.reduce(v, n, cost, local, global, s->inner.user);
}

/* 1 if the first step's local gradients are the same on every rank. */
static int local_grads_agree(int kind, const cnn_dataset *same_examples)
{
    cnn_net *net = kit_net(kind, 11);
    cnn_optimizer *opt = kit_optimizer(KIT_OPT_SGD);
    spy s = {0};
    KIT_CHECK(cnn_shard_params_init(&s.inner, 0, 1));
    if (cnn_mpi_shard_params(ctx, &s.inner) != CNN_OK)
        KIT_CHECK(CNN_EINVAL);
    cnn_shard_params sh = s.inner;
    sh.reduce = spy_reduce;
    sh.user = &s;
    cnn_train_params tp;
    params_for(&tp, 1, 5 * size);
    KIT_CHECK(cnn_train_sharded(net, opt, same_examples, &tp, &sh, NULL));
    int agree = kit_same_on_all_ranks(ctx, s.first, s.n);
    free(s.first);
    cnn_optimizer_destroy(opt);
    cnn_net_destroy(net);
    return agree;
}

static void test_dropout(void)
{
    cnn_dataset *same = kit_dataset(10 * size, 3, true);
    int without = local_grads_agree(KIT_NET_CONV, same);
    verdict("control: identical examples without dropout give identical local gradients",
            without, "they differ");
    int with = local_grads_agree(KIT_NET_DROPOUT, same);
    verdict("dropout masks differ across ranks (local gradients of identical examples differ)",
            !with, "masks repeat across ranks");
    cnn_dataset_destroy(same);
}

static void test_agreement(const cnn_dataset *ds)
{
    cnn_net *net = kit_net(KIT_NET_CONV, 11);
    cnn_optimizer *opt = kit_optimizer(KIT_OPT_SGD);
    cnn_train_params tp;
    params_for(&tp, rank == size - 1 ? 3 : 2, 10);
    cnn_status st = cnn_mpi_train(ctx, net, opt, ds, &tp, NULL);
    const char *msg = cnn_mpi_errmsg(ctx);
    int ok = st == CNN_EINVAL && (rank != size - 1 || strstr(msg, "epochs"));
    verdict("a rank with other settings fails every rank with CNN_EINVAL (no hang)", ok, msg);
    cnn_optimizer_destroy(opt);
    cnn_net_destroy(net);
}

static int32_t cancel_at_first(const cnn_progress *p, void *user)
{
    (void)p;
    (*(int *)user)++;
    return 1;
}

static void test_cancel(const cnn_dataset *ds)
{
    cnn_net *net = kit_net(KIT_NET_CONV, 11);
    cnn_optimizer *opt = kit_optimizer(KIT_OPT_SGD);
    cnn_train_params tp;
    params_for(&tp, 2, 10);
    int calls = 0;
    tp.progress_every = 2;
    tp.on_progress = cancel_at_first;
    tp.user = &calls;
    cnn_status st = cnn_mpi_train(ctx, net, opt, ds, &tp, NULL);
    /* rank 0's callback ran once; the others' never did (rank 0 only) */
    int ok = st == CNN_ECANCELED && calls == (rank == 0 ? 1 : 0);
    verdict("rank 0's progress callback cancels every rank at the same step", ok,
            cnn_mpi_errmsg(ctx));
    cnn_optimizer_destroy(opt);
    cnn_net_destroy(net);
}

static void test_checkpoint(const cnn_dataset *ds, const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/ckpt-rank%d.cnn", dir, rank);
    unlink(path);
    cnn_net *net = kit_net(KIT_NET_CONV, 11);
    cnn_optimizer *opt = kit_optimizer(KIT_OPT_MOMENTUM);
    cnn_train_params tp;
    params_for(&tp, 2, 10);
    tp.checkpoint_path = path;
    cnn_status st = cnn_mpi_train(ctx, net, opt, ds, &tp, NULL);
    int exists = access(path, F_OK) == 0;
    int32_t epoch = 0;
    int ok = st == CNN_OK && (rank == 0 ? exists && cnn_checkpoint_info(path, &epoch) == CNN_OK &&
                              epoch == 2 : !exists);
    verdict("only rank 0 writes the checkpoint", ok, "a checkpoint is missing or extra");
    unlink(path);
    cnn_optimizer_destroy(opt);
    cnn_net_destroy(net);
}

static void test_gather(void)
{
    float mine[2] = {(float)rank, (float)(rank * 2)};
    float *all = rank == 0 ? calloc((size_t)size * 2, sizeof *all) : NULL;
    cnn_status st = cnn_mpi_gather(ctx, mine, 2, all);
    int ok = st == CNN_OK;
    for (int r = 0; rank == 0 && r < size; r++)
        ok = ok && all[2 * r] == (float)r && all[2 * r + 1] == (float)(2 * r);
    free(all);
    double s = 0.0;
    ok = ok && cnn_mpi_sum(ctx, rank + 1.0, &s) == CNN_OK && s == size * (size + 1) / 2.0;
    ok = ok && cnn_mpi_gather(ctx, NULL, 2, NULL) == CNN_EINVAL;
    verdict("cnn_mpi_gather in rank order, cnn_mpi_sum, NULL refused", ok, "wrong values");
}

int main(int argc, char **argv)
{
    if (cnn_mpi_context_create(&argc, &argv, &ctx) != CNN_OK) {
        fprintf(stderr, "cnn_mpi_context_create: %s\n", cnn_mpi_errmsg(NULL));
        return 2;
    }
    rank = cnn_mpi_rank(ctx);
    size = cnn_mpi_size(ctx);
    const char *dir = argc > 1 ? argv[1] : ".";
    cnn_dataset *ds = kit_dataset(61, 1, false);
    test_identical(ds);
    test_reproducible(ds);
    test_one_vs_many(ds);
    test_dropout();
    test_agreement(ds);
    test_cancel(ds);
    test_checkpoint(ds, dir);
    test_gather();
    cnn_dataset_destroy(ds);
    if (rank == 0)
        printf("%d passed, %d failed\n", passed, failed);
    cnn_mpi_context_destroy(ctx);
    return failed ? 1 : 0;
}
