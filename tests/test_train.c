/* The training loop: validation, callbacks and cancellation, best-epoch
 * bookkeeping, determinism, and equivalence with hand-made training steps. */
#include "testutil.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum { COUNT = 23, BATCH = 5, C = 1, H = 6, W = 6, CLASSES = 3 };

/* 1x6x6 -> conv 2 3x3 max pool 2 (2x2x2) -> dense 5 sigmoid (dropout) -> softmax 3 */
static cnn_net *make_net(uint64_t seed, float dropout, int softmax_last)
{
    cnn_net *net = NULL;
    ck_assert_ok(cnn_net_create(C, H, W, seed, &net));
    cnn_conv2d_params cp;
    ck_assert_ok(cnn_conv2d_params_init(&cp, 2, 3, 3));
    cp.pool = CNN_POOL_MAX;
    cnn_layer *l = NULL;
    ck_assert_ok(cnn_conv2d_create(&cp, &l));
    ck_assert_ok(cnn_net_add(net, l));
    cnn_dense_params dp;
    ck_assert_ok(cnn_dense_params_init(&dp, softmax_last ? 5 : CLASSES));
    dp.dropout = dropout;
    ck_assert_ok(cnn_dense_create(&dp, &l));
    ck_assert_ok(cnn_net_add(net, l));
    if (softmax_last) {
        cnn_softmax_params sp;
        ck_assert_ok(cnn_softmax_params_init(&sp, CLASSES));
        sp.dropout = dropout;
        sp.init = CNN_INIT_GLOROT;
        ck_assert_ok(cnn_softmax_create(&sp, &l));
        ck_assert_ok(cnn_net_add(net, l));
    }
    return net;
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
    return opt;
}

static size_t param_bytes(const cnn_net *net)
{
    return (size_t)cnn_net_param_count(net) * sizeof(float);
}

/* ---- validation ---------------------------------------------------------- */

START_TEST(params_init_defaults)
{
    cnn_train_params p;
    memset(&p, 0xee, sizeof p);
    ck_assert_ok(cnn_train_params_init(&p, 7));
    ck_assert_uint_eq(p.struct_size, sizeof p);
    ck_assert_int_eq(p.epochs, 7);
    ck_assert_int_eq(p.batch_size, 10);
    ck_assert_int_eq(p.shuffle, 0);
    ck_assert_uint_eq(p.seed, 0);
    ck_assert_ptr_null(p.validation);
    ck_assert_ptr_null(p.test);
    ck_assert_int_eq(p.eval_batch_size, 1000);
    ck_assert_int_eq(p.progress_every, 100);
    ck_assert(p.on_progress == NULL && p.on_epoch == NULL && p.user == NULL);
    ck_assert_status(cnn_train_params_init(NULL, 1), CNN_EINVAL);
}
END_TEST

START_TEST(validation_errors)
{
    cnn_net *net = make_net(1, 0.0f, 1);
    cnn_optimizer *opt = make_sgd(0.1f, 0.0f, 0.0f, 0);
    cnn_dataset *ds = test_make_striped_dataset(COUNT, C, H, W, CLASSES, 1);
    cnn_train_params p, q;
    ck_assert_ok(cnn_train_params_init(&p, 1));
    p.batch_size = BATCH;
    cnn_train_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    float *before = malloc(param_bytes(net));
    memcpy(before, cnn_net_params(net), param_bytes(net));

    ck_assert_status(cnn_train(NULL, opt, ds, &p, &r), CNN_EINVAL);
    ck_assert_status(cnn_train(net, NULL, ds, &p, &r), CNN_EINVAL);
    ck_assert_status(cnn_train(net, opt, NULL, &p, &r), CNN_EINVAL);
    ck_assert_status(cnn_train(net, opt, ds, NULL, &r), CNN_EINVAL);
    /* Below the size of the first published cnn_train_params (72 bytes on
     * LP64: everything before checkpoint_path). */
    q = p; q.struct_size = (uint32_t)offsetof(cnn_train_params, checkpoint_path) - 1;
    ck_assert_status(cnn_train(net, opt, ds, &q, &r), CNN_EINVAL);
    q = p; q.epochs = 0;
    ck_assert_status(cnn_train(net, opt, ds, &q, &r), CNN_EINVAL);
    ck_assert_msg(strstr(cnn_net_errmsg(net), "epochs") != NULL, "%s", cnn_net_errmsg(net));
    q = p; q.epochs = -2;
    ck_assert_status(cnn_train(net, opt, ds, &q, &r), CNN_EINVAL);
    q = p; q.batch_size = 0;
    ck_assert_status(cnn_train(net, opt, ds, &q, &r), CNN_EINVAL);
    q = p; q.batch_size = -1;
    ck_assert_status(cnn_train(net, opt, ds, &q, &r), CNN_EINVAL);
    q = p; q.eval_batch_size = 0;
    ck_assert_status(cnn_train(net, opt, ds, &q, &r), CNN_EINVAL);
    q = p; q.progress_every = -1;
    ck_assert_status(cnn_train(net, opt, ds, &q, &r), CNN_EINVAL);
    cnn_train_result small = r;
    small.struct_size = sizeof small - 1;
    ck_assert_status(cnn_train(net, opt, ds, &p, &small), CNN_EINVAL);

    /* Dataset shapes that differ from the network's input, as training,
     * validation or test set. */
    cnn_dataset *wrong = test_make_striped_dataset(COUNT, C, H, W + 1, CLASSES, 2);
    ck_assert_status(cnn_train(net, opt, wrong, &p, &r), CNN_ESHAPE);
    ck_assert_msg(strstr(cnn_net_errmsg(net), "1x6x7") != NULL, "%s", cnn_net_errmsg(net));
    q = p; q.validation = wrong;
    ck_assert_status(cnn_train(net, opt, ds, &q, &r), CNN_ESHAPE);
    q = p; q.test = wrong;
    ck_assert_status(cnn_train(net, opt, ds, &q, &r), CNN_ESHAPE);
    /* Labels beyond the classes. */
    cnn_dataset *five = test_make_striped_dataset(COUNT, C, H, W, 5, 3);
    ck_assert_status(cnn_train(net, opt, five, &p, &r), CNN_ESHAPE);
    q = p; q.test = five;
    ck_assert_status(cnn_train(net, opt, ds, &q, &r), CNN_ESHAPE);
    q = p; q.validation = five;
    ck_assert_status(cnn_train(net, opt, ds, &q, &r), CNN_ESHAPE);

    /* Nothing was trained by any of these. */
    ck_assert_int_eq(memcmp(before, cnn_net_params(net), param_bytes(net)), 0);
    /* A result of NULL is fine. */
    ck_assert_ok(cnn_train(net, opt, ds, &p, NULL));
    ck_assert_int_ne(memcmp(before, cnn_net_params(net), param_bytes(net)), 0);

    /* A network that does not end in softmax, and one with no layers. */
    cnn_net *nosm = make_net(1, 0.0f, 0);
    ck_assert_status(cnn_train(nosm, opt, ds, &p, &r), CNN_ESTATE);
    ck_assert_msg(strstr(cnn_net_errmsg(nosm), "softmax") != NULL, "%s", cnn_net_errmsg(nosm));
    cnn_net *empty = NULL;
    ck_assert_ok(cnn_net_create(C, H, W, 1, &empty));
    ck_assert_status(cnn_train(empty, opt, ds, &p, &r), CNN_ESTATE);

    free(before);
    cnn_net_destroy(nosm);
    cnn_net_destroy(empty);
    cnn_dataset_destroy(wrong);
    cnn_dataset_destroy(five);
    cnn_dataset_destroy(ds);
    cnn_optimizer_destroy(opt);
    cnn_net_destroy(net);
}
END_TEST

/* ---- callbacks ----------------------------------------------------------- */

typedef struct progress_log {
    int calls;
    int cancel_at;          /* cancel on this call (1-based); 0 = never */
    int32_t epoch[64];
    int64_t batch[64];
    int bad;                /* first problem seen, as a message index */
    char why[128];
} progress_log;

static int32_t on_progress(const cnn_progress *pr, void *user)
{
    progress_log *log = user;
    int i = log->calls++;
    if (i < 64) {
        log->epoch[i] = pr->epoch;
        log->batch[i] = pr->batch;
    }
    if (!log->bad) {
        const int64_t batches = (COUNT + BATCH - 1) / BATCH;
        if (pr->struct_size != sizeof *pr)
            log->bad = 1;
        else if (pr->epochs != 3 || pr->epoch < 1 || pr->epoch > pr->epochs)
            log->bad = 2;
        else if (pr->batches != batches || pr->batch < 1 || pr->batch > pr->batches)
            log->bad = 3;
        else if (!(pr->cost > 0.0) || !isfinite(pr->cost))
            log->bad = 4;
        else if (!(pr->seconds >= 0.0) || !isfinite(pr->seconds))
            log->bad = 5;
    }
    return log->cancel_at && log->calls == log->cancel_at;
}

START_TEST(progress_callback)
{
    cnn_net *net = make_net(2, 0.0f, 1);
    cnn_optimizer *opt = make_sgd(0.1f, 0.0f, 0.0f, 0);
    cnn_dataset *ds = test_make_striped_dataset(COUNT, C, H, W, CLASSES, 4);
    cnn_train_params p;
    ck_assert_ok(cnn_train_params_init(&p, 3));
    p.batch_size = BATCH;
    p.progress_every = 2;
    p.on_progress = on_progress;
    progress_log log;
    memset(&log, 0, sizeof log);
    p.user = &log;
    cnn_train_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    ck_assert_ok(cnn_train(net, opt, ds, &p, &r));
    ck_assert_msg(log.bad == 0, "bad progress field, check %d", log.bad);
    /* 5 batches per epoch, every 2 and at the end: batches 2, 4, 5. */
    ck_assert_int_eq(log.calls, 9);
    const int64_t want_batch[3] = {2, 4, 5};
    for (int i = 0; i < 9; i++) {
        ck_assert_int_eq(log.epoch[i], i / 3 + 1);
        ck_assert_int_eq(log.batch[i], want_batch[i % 3]);
    }
    ck_assert_int_eq(r.epochs_run, 3);
    ck_assert(r.final_train_cost > 0.0 && isfinite(r.final_train_cost));
    ck_assert(r.seconds >= 0.0);

    /* progress_every 0: never called. */
    memset(&log, 0, sizeof log);
    p.progress_every = 0;
    ck_assert_ok(cnn_train(net, opt, ds, &p, &r));
    ck_assert_int_eq(log.calls, 0);

    /* Cancel on the 5th call (epoch 2, batch 4): one epoch completed. */
    memset(&log, 0, sizeof log);
    p.progress_every = 2;
    log.cancel_at = 5;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    ck_assert_status(cnn_train(net, opt, ds, &p, &r), CNN_ECANCELED);
    ck_assert_int_eq(log.calls, 5);
    ck_assert_int_eq(r.epochs_run, 1);
    ck_assert_msg(strstr(cnn_net_errmsg(net), "cancel") != NULL, "%s", cnn_net_errmsg(net));

    /* Cancel on the very first call: nothing completed. */
    memset(&log, 0, sizeof log);
    log.cancel_at = 1;
    r.epochs_run = 99;
    ck_assert_status(cnn_train(net, opt, ds, &p, &r), CNN_ECANCELED);
    ck_assert_int_eq(r.epochs_run, 0);
    ck_assert_int_eq(log.calls, 1);

    cnn_dataset_destroy(ds);
    cnn_optimizer_destroy(opt);
    cnn_net_destroy(net);
}
END_TEST

typedef struct epoch_log {
    int calls;
    int cancel_after;       /* cancel at this epoch; 0 = never */
    cnn_epoch_report rep[16];
} epoch_log;

static int32_t on_epoch(const cnn_epoch_report *rep, void *user)
{
    epoch_log *log = user;
    if (log->calls < 16)
        log->rep[log->calls] = *rep;
    log->calls++;
    return log->cancel_after && rep->epoch == log->cancel_after;
}

static void check_best_rule(const epoch_log *log, int epochs, const cnn_train_result *r)
{
    /* Recompute network3's rule from the reports: best validation accuracy,
     * ties to the later epoch, and the test accuracy of that epoch. */
    int best = 0;
    double best_val = -1.0, test_at = -1.0;
    for (int e = 0; e < epochs; e++) {
        const cnn_epoch_report *rep = &log->rep[e];
        ck_assert_uint_eq(rep->struct_size, sizeof *rep);
        ck_assert_int_eq(rep->epoch, e + 1);
        ck_assert(rep->validation_accuracy >= 0.0 && rep->validation_accuracy <= 1.0);
        ck_assert(rep->test_accuracy >= 0.0 && rep->test_accuracy <= 1.0);
        ck_assert(rep->train_cost > 0.0 && isfinite(rep->train_cost));
        ck_assert(rep->seconds >= 0.0 && rep->images_per_second >= 0.0);
        if (rep->validation_accuracy >= best_val) {
            best_val = rep->validation_accuracy;
            best = e + 1;
            test_at = rep->test_accuracy;
        }
        /* The running figures in each report follow the same rule. */
        ck_assert_int_eq(rep->best_epoch, best);
        ck_assert(rep->best_validation_accuracy == best_val);
        ck_assert(rep->test_accuracy_at_best == test_at);
    }
    ck_assert_int_eq(r->best_epoch, best);
    ck_assert(r->best_validation_accuracy == best_val);
    ck_assert(r->test_accuracy_at_best == test_at);
    ck_assert(r->final_train_cost == log->rep[epochs - 1].train_cost);
}

START_TEST(epoch_callback_and_best_epoch)
{
    cnn_net *net = make_net(3, 0.0f, 1);
    cnn_optimizer *opt = make_sgd(0.5f, 0.0f, 0.0f, 0);
    cnn_dataset *ds = test_make_striped_dataset(COUNT, C, H, W, CLASSES, 5);
    cnn_dataset *val = test_make_striped_dataset(12, C, H, W, CLASSES, 6);
    cnn_dataset *test = test_make_striped_dataset(9, C, H, W, CLASSES, 7);
    cnn_train_params p;
    ck_assert_ok(cnn_train_params_init(&p, 6));
    p.batch_size = BATCH;
    p.eval_batch_size = 4;
    p.validation = val;
    p.test = test;
    p.on_epoch = on_epoch;
    epoch_log log;
    memset(&log, 0, sizeof log);
    p.user = &log;
    cnn_train_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    ck_assert_ok(cnn_train(net, opt, ds, &p, &r));
    ck_assert_int_eq(log.calls, 6);
    ck_assert_int_eq(r.epochs_run, 6);
    for (int e = 0; e < 6; e++)
        ck_assert_int_eq(log.rep[e].epochs, 6);
    check_best_rule(&log, 6, &r);
    /* The reported accuracies are what cnn_net_evaluate gives now (after
     * the last epoch). */
    double acc;
    ck_assert_ok(cnn_net_evaluate(net, val, 100, &acc, NULL));
    ck_assert(acc == log.rep[5].validation_accuracy);
    ck_assert_ok(cnn_net_evaluate(net, test, 100, &acc, NULL));
    ck_assert(acc == log.rep[5].test_accuracy);

    /* Cancel after epoch 2. */
    memset(&log, 0, sizeof log);
    log.cancel_after = 2;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    ck_assert_status(cnn_train(net, opt, ds, &p, &r), CNN_ECANCELED);
    ck_assert_int_eq(log.calls, 2);
    ck_assert_int_eq(r.epochs_run, 2);
    check_best_rule(&log, 2, &r);

    /* Without validation and test sets. */
    memset(&log, 0, sizeof log);
    p.validation = NULL;
    p.test = NULL;
    p.epochs = 2;
    ck_assert_ok(cnn_train(net, opt, ds, &p, &r));
    ck_assert_int_eq(log.calls, 2);
    for (int e = 0; e < 2; e++) {
        ck_assert(log.rep[e].validation_accuracy == -1.0);
        ck_assert(log.rep[e].test_accuracy == -1.0);
        ck_assert_int_eq(log.rep[e].best_epoch, 0);
        ck_assert(log.rep[e].best_validation_accuracy == -1.0);
        ck_assert(log.rep[e].test_accuracy_at_best == -1.0);
    }
    ck_assert_int_eq(r.best_epoch, 0);
    ck_assert(r.best_validation_accuracy == -1.0);
    ck_assert(r.test_accuracy_at_best == -1.0);

    cnn_dataset_destroy(ds);
    cnn_dataset_destroy(val);
    cnn_dataset_destroy(test);
    cnn_optimizer_destroy(opt);
    cnn_net_destroy(net);
}
END_TEST

START_TEST(best_epoch_ties_go_later)
{
    /* A learning rate so small that nothing changes: every epoch has the
     * same validation accuracy, and the best epoch is the last one. */
    cnn_net *net = make_net(4, 0.0f, 1);
    cnn_optimizer *opt = make_sgd(1e-30f, 0.0f, 0.0f, 0);
    cnn_dataset *ds = test_make_striped_dataset(COUNT, C, H, W, CLASSES, 8);
    cnn_train_params p;
    ck_assert_ok(cnn_train_params_init(&p, 4));
    p.batch_size = BATCH;
    p.validation = ds;
    p.test = ds;
    p.on_epoch = on_epoch;
    epoch_log log;
    memset(&log, 0, sizeof log);
    p.user = &log;
    cnn_train_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    ck_assert_ok(cnn_train(net, opt, ds, &p, &r));
    for (int e = 1; e < 4; e++)
        ck_assert(log.rep[e].validation_accuracy == log.rep[0].validation_accuracy);
    ck_assert_int_eq(r.best_epoch, 4);
    for (int e = 0; e < 4; e++)
        ck_assert_int_eq(log.rep[e].best_epoch, e + 1);
    check_best_rule(&log, 4, &r);
    cnn_dataset_destroy(ds);
    cnn_optimizer_destroy(opt);
    cnn_net_destroy(net);
}
END_TEST

/* ---- determinism --------------------------------------------------------- */

static float *train_copy(uint64_t net_seed, uint64_t train_seed, int shuffle, float dropout)
{
    cnn_net *net = make_net(net_seed, dropout, 1);
    cnn_optimizer *opt = make_sgd(0.3f, 0.5f, 0.1f, 0);
    cnn_dataset *ds = test_make_striped_dataset(COUNT, C, H, W, CLASSES, 9);
    cnn_train_params p;
    ck_assert_ok(cnn_train_params_init(&p, 2));
    p.batch_size = BATCH;
    p.shuffle = shuffle;
    p.seed = train_seed;
    ck_assert_ok(cnn_train(net, opt, ds, &p, NULL));
    float *copy = malloc(param_bytes(net));
    memcpy(copy, cnn_net_params(net), param_bytes(net));
    cnn_dataset_destroy(ds);
    cnn_optimizer_destroy(opt);
    cnn_net_destroy(net);
    return copy;
}

START_TEST(determinism)
{
    cnn_net *probe = make_net(1, 0.0f, 1);
    size_t bytes = param_bytes(probe);
    cnn_net_destroy(probe);
    float *a = train_copy(10, 77, 1, 0.3f);
    float *b = train_copy(10, 77, 1, 0.3f);
    float *c = train_copy(10, 78, 1, 0.3f);
    ck_assert_int_eq(memcmp(a, b, bytes), 0);
    ck_assert_int_ne(memcmp(a, c, bytes), 0);
    /* Shuffle alone (no dropout) and dropout alone (no shuffle) each make
     * the seed matter. */
    float *d = train_copy(10, 77, 1, 0.0f), *e = train_copy(10, 78, 1, 0.0f);
    ck_assert_int_ne(memcmp(d, e, bytes), 0);
    float *f = train_copy(10, 77, 0, 0.3f), *g = train_copy(10, 78, 0, 0.3f);
    ck_assert_int_ne(memcmp(f, g, bytes), 0);
    /* Neither: the training seed changes nothing. */
    float *h = train_copy(10, 77, 0, 0.0f), *i = train_copy(10, 78, 0, 0.0f);
    ck_assert_int_eq(memcmp(h, i, bytes), 0);
    free(a);
    free(b);
    free(c);
    free(d);
    free(e);
    free(f);
    free(g);
    free(h);
    free(i);
}
END_TEST

/* Trains a copy of `net` by hand with cnn_train_step over the batches in
 * stored order; returns the mean cost of the last epoch. */
static double manual_epochs(cnn_net *net, cnn_optimizer *opt, const cnn_dataset *ds, int epochs,
                            int batch)
{
    int64_t count = cnn_dataset_count(ds);
    double mean = 0.0;
    for (int e = 0; e < epochs; e++) {
        double sum = 0.0;
        int batches = 0;
        for (int64_t start = 0; start < count; start += batch) {
            int n = (int)(count - start < batch ? count - start : batch);
            const int64_t shape[4] = {n, C, H, W};
            cnn_tensor *x = NULL;
            ck_assert_ok(cnn_tensor_create(4, shape, &x));
            int32_t labels[COUNT];
            ck_assert_ok(cnn_dataset_batch(ds, start, n, x, labels));
            double cost = 0.0;
            ck_assert_ok(cnn_train_step(net, opt, x, labels, &cost));
            sum += cost;
            batches++;
            cnn_tensor_destroy(x);
        }
        mean = sum / batches;
    }
    return mean;
}

START_TEST(stored_order_equals_manual_steps)
{
    cnn_dataset *ds = test_make_striped_dataset(COUNT, C, H, W, CLASSES, 10);
    cnn_net *a = make_net(11, 0.0f, 1), *b = NULL;
    ck_assert_ok(cnn_net_clone(a, &b));
    /* Explicit B, momentum and L2: the loop must do exactly the steps. */
    cnn_optimizer *oa = make_sgd(0.2f, 0.6f, 0.3f, 7), *ob = make_sgd(0.2f, 0.6f, 0.3f, 7);
    cnn_train_params p;
    ck_assert_ok(cnn_train_params_init(&p, 2));
    p.batch_size = BATCH; /* 23 = 4 x 5 + 3: a partial last batch */
    p.validation = ds;    /* evaluation between epochs must not disturb anything */
    cnn_train_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    ck_assert_ok(cnn_train(a, oa, ds, &p, &r));
    double cost = manual_epochs(b, ob, ds, 2, BATCH);
    ck_assert_int_eq(memcmp(cnn_net_params(a), cnn_net_params(b), param_bytes(a)), 0);
    ck_assert_msg(fabs(r.final_train_cost - cost) < 1e-12, "final cost %.17g, manual %.17g",
                  r.final_train_cost, cost);
    cnn_optimizer_destroy(oa);
    cnn_optimizer_destroy(ob);
    cnn_net_destroy(a);
    cnn_net_destroy(b);
    cnn_dataset_destroy(ds);
}
END_TEST

START_TEST(l2_default_batches)
{
    /* l2_batches 0 in cnn_train means B = floor(23 / 5) = 4. */
    cnn_dataset *ds = test_make_striped_dataset(COUNT, C, H, W, CLASSES, 12);
    cnn_net *a = make_net(13, 0.0f, 1), *b = NULL, *c = NULL;
    ck_assert_ok(cnn_net_clone(a, &b));
    ck_assert_ok(cnn_net_clone(a, &c));
    cnn_optimizer *oa = make_sgd(0.2f, 0.0f, 2.0f, 0);
    cnn_optimizer *ob = make_sgd(0.2f, 0.0f, 2.0f, COUNT / BATCH);
    cnn_optimizer *oc = make_sgd(0.2f, 0.0f, 2.0f, 1);
    cnn_train_params p;
    ck_assert_ok(cnn_train_params_init(&p, 2));
    p.batch_size = BATCH;
    ck_assert_ok(cnn_train(a, oa, ds, &p, NULL));
    manual_epochs(b, ob, ds, 2, BATCH);
    manual_epochs(c, oc, ds, 2, BATCH);
    ck_assert_int_eq(memcmp(cnn_net_params(a), cnn_net_params(b), param_bytes(a)), 0);
    ck_assert_int_ne(memcmp(cnn_net_params(a), cnn_net_params(c), param_bytes(a)), 0);
    /* After cnn_train, a bare step with l2_batches 0 uses B = 1 again. */
    cnn_net *d = NULL, *e = NULL;
    ck_assert_ok(cnn_net_clone(a, &d));
    ck_assert_ok(cnn_net_clone(a, &e));
    cnn_optimizer *o1 = make_sgd(0.2f, 0.0f, 2.0f, 1);
    manual_epochs(d, oa, ds, 1, BATCH);
    manual_epochs(e, o1, ds, 1, BATCH);
    ck_assert_int_eq(memcmp(cnn_net_params(d), cnn_net_params(e), param_bytes(d)), 0);
    /* Batch larger than the set: B = 1 (at least one). */
    cnn_net *f = NULL, *g = NULL;
    ck_assert_ok(cnn_net_clone(a, &f));
    ck_assert_ok(cnn_net_clone(a, &g));
    p.batch_size = 100;
    p.epochs = 1;
    ck_assert_ok(cnn_train(f, oa, ds, &p, NULL));
    manual_epochs(g, o1, ds, 1, COUNT);
    ck_assert_int_eq(memcmp(cnn_net_params(f), cnn_net_params(g), param_bytes(f)), 0);

    cnn_optimizer_destroy(oa);
    cnn_optimizer_destroy(ob);
    cnn_optimizer_destroy(oc);
    cnn_optimizer_destroy(o1);
    cnn_net_destroy(a);
    cnn_net_destroy(b);
    cnn_net_destroy(c);
    cnn_net_destroy(d);
    cnn_net_destroy(e);
    cnn_net_destroy(f);
    cnn_net_destroy(g);
    cnn_dataset_destroy(ds);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("train");
    tcase_add_test(tc, params_init_defaults);
    tcase_add_test(tc, validation_errors);
    tcase_add_test(tc, progress_callback);
    tcase_add_test(tc, epoch_callback_and_best_epoch);
    tcase_add_test(tc, best_epoch_ties_go_later);
    tcase_add_test(tc, determinism);
    tcase_add_test(tc, stored_order_equals_manual_steps);
    tcase_add_test(tc, l2_default_batches);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
