/* Optimizers beyond plain SGD (issue 10): Nesterov momentum, Adam and
 * AdamW against closed forms computed here in double, the learning-rate
 * setter, the schedules against their formulas, checkpoint resume with
 * Adam state and a schedule (bit-identical to an uninterrupted run), and a
 * version-1 checkpoint (tests/data/ckpt-v1.cnnc, written by the code before
 * format version 2) that still resumes. */
#include "testfs.h"
#include "testutil.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POISON_OPT ((cnn_optimizer *)(uintptr_t)0x1)
#define V1_PATH CNN_TEST_SRCDIR "/data/ckpt-v1.cnnc"

/* 1x2x2 -> dense 3 -> softmax 2: 4*3+3 + 3*2+2 = 23 parameters. */
static cnn_net *tiny_net(uint64_t seed)
{
    cnn_net *net = NULL;
    ck_assert_ok(cnn_net_create(1, 2, 2, seed, &net));
    cnn_dense_params dp;
    ck_assert_ok(cnn_dense_params_init(&dp, 3));
    cnn_layer *l = NULL;
    ck_assert_ok(cnn_dense_create(&dp, &l));
    ck_assert_ok(cnn_net_add(net, l));
    cnn_softmax_params sp;
    ck_assert_ok(cnn_softmax_params_init(&sp, 2));
    ck_assert_ok(cnn_softmax_create(&sp, &l));
    ck_assert_ok(cnn_net_add(net, l));
    return net;
}

/* is_weight[i] for the flat buffer. */
static void weight_mask(cnn_net *net, int *mask)
{
    const float *base = cnn_net_params(net);
    memset(mask, 0, (size_t)cnn_net_param_count(net) * sizeof *mask);
    for (int32_t i = 0; i < cnn_net_layer_count(net); i++) {
        cnn_tensor *w = cnn_layer_param(cnn_net_layer(net, i), CNN_PARAM_WEIGHTS);
        if (!w)
            continue;
        int64_t off = cnn_tensor_data(w) - base;
        for (int64_t k = 0; k < cnn_tensor_numel(w); k++)
            mask[off + k] = 1;
    }
}

/* The hand-set gradient of step s. */
static void set_grads(cnn_net *net, int step)
{
    test_rng r;
    test_rng_seed(&r, 100 + (uint64_t)step);
    test_fill_uniform(&r, cnn_net_grads(net), (size_t)cnn_net_param_count(net), -1.0f, 1.0f);
}

enum { NP = 23, STEPS = 5 };

static void expect_close(const float *got, const double *want, int n, double tol)
{
    for (int i = 0; i < n; i++)
        ck_assert_msg(fabs((double)got[i] - want[i]) <= tol * fmax(1.0, fabs(want[i])),
                      "parameter %d: %.9g, closed form %.9g", i, (double)got[i], want[i]);
}

/* ---- SGD: classical and Nesterov ----------------------------------------- */

static cnn_optimizer *make_sgd(float eta, float mu, float l2, int nesterov)
{
    cnn_sgd_params p;
    ck_assert_ok(cnn_sgd_params_init(&p, eta));
    p.momentum = mu;
    p.l2 = l2;
    p.l2_batches = 2;
    p.nesterov = nesterov;
    cnn_optimizer *opt = NULL;
    ck_assert_ok(cnn_sgd_create(&p, &opt));
    return opt;
}

/* PyTorch's formulation in double: buf = mu*buf + g'; step = buf (classical)
 * or g' + mu*buf (Nesterov); W -= eta*step; g' = g + lambda/B*W on weights. */
static void sgd_reference(cnn_net *net, const int *is_w, int nesterov, double *w)
{
    const double eta = 0.1, mu = 0.9, wd = 0.5 / 2;
    double buf[NP] = {0};
    for (int i = 0; i < NP; i++)
        w[i] = cnn_net_params(net)[i];
    for (int s = 0; s < STEPS; s++) {
        set_grads(net, s);
        for (int i = 0; i < NP; i++) {
            double g = cnn_net_grads(net)[i] + (is_w[i] ? wd * w[i] : 0.0);
            buf[i] = mu * buf[i] + g;
            w[i] -= eta * (nesterov ? g + mu * buf[i] : buf[i]);
        }
    }
}

START_TEST(sgd_nesterov_and_classical_match_closed_form)
{
    double want[2][NP];
    float got[2][NP];
    int is_w[NP];
    for (int nest = 0; nest < 2; nest++) {
        cnn_net *net = tiny_net(3);
        ck_assert_int_eq(cnn_net_param_count(net), NP);
        weight_mask(net, is_w);
        sgd_reference(net, is_w, nest, want[nest]);
        cnn_optimizer *opt = make_sgd(0.1f, 0.9f, 0.5f, nest);
        for (int s = 0; s < STEPS; s++) {
            set_grads(net, s);
            ck_assert_ok(cnn_optimizer_step(opt, net));
        }
        memcpy(got[nest], cnn_net_params(net), sizeof got[nest]);
        expect_close(got[nest], want[nest], NP, 1e-5);
        cnn_optimizer_destroy(opt);
        cnn_net_destroy(net);
    }
    /* The two differ, by more than rounding. */
    double diff = 0;
    for (int i = 0; i < NP; i++)
        diff = fmax(diff, fabs((double)got[0][i] - got[1][i]));
    ck_assert_msg(diff > 1e-2, "Nesterov and classical differ by only %g", diff);
    /* Nesterov needs momentum. */
    cnn_sgd_params p;
    ck_assert_ok(cnn_sgd_params_init(&p, 0.1f));
    p.nesterov = 1;
    cnn_optimizer *o = POISON_OPT;
    ck_assert_status(cnn_sgd_create(&p, &o), CNN_EINVAL);
    ck_assert_ptr_null(o);
    ck_assert(strstr(cnn_last_error(), "Nesterov") != NULL);
}
END_TEST

/* A caller built before the nesterov field (struct_size 24) gets classical. */
START_TEST(sgd_old_struct_size)
{
    cnn_sgd_params p;
    ck_assert_ok(cnn_sgd_params_init(&p, 0.1f));
    p.momentum = 0.5f;
    p.struct_size = (uint32_t)offsetof(cnn_sgd_params, nesterov);
    p.nesterov = 77; /* not read */
    cnn_optimizer *opt = NULL;
    ck_assert_ok(cnn_sgd_create(&p, &opt));
    cnn_optimizer_destroy(opt);
}
END_TEST

/* ---- Adam / AdamW ---------------------------------------------------------- */

static void adam_reference(cnn_net *net, int decoupled, double lr, double wd, double *w)
{
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    double m[NP] = {0}, v[NP] = {0};
    for (int i = 0; i < NP; i++)
        w[i] = cnn_net_params(net)[i];
    for (int s = 0; s < STEPS; s++) {
        set_grads(net, s);
        double t = s + 1;
        for (int i = 0; i < NP; i++) {
            double g = cnn_net_grads(net)[i];
            if (decoupled)
                w[i] *= 1.0 - lr * wd;
            else
                g += wd * w[i];
            m[i] = b1 * m[i] + (1 - b1) * g;
            v[i] = b2 * v[i] + (1 - b2) * g * g;
            double mhat = m[i] / (1 - pow(b1, t)), vhat = v[i] / (1 - pow(b2, t));
            w[i] -= lr * mhat / (sqrt(vhat) + eps);
        }
    }
}

START_TEST(adam_and_adamw_match_closed_form)
{
    float finals[3][NP];
    const float wds[3] = {0.0f, 0.3f, 0.3f};
    const int dec[3] = {0, 0, 1};
    for (int k = 0; k < 3; k++) {
        cnn_net *net = tiny_net(4);
        double want[NP];
        adam_reference(net, dec[k], 0.01, wds[k], want);
        cnn_adam_params p;
        ck_assert_ok(cnn_adam_params_init(&p, 0.01f));
        ck_assert(p.beta1 == 0.9f && p.beta2 == 0.999f && p.epsilon == 1e-8f);
        ck_assert(p.weight_decay == 0.0f && p.decoupled == 0);
        p.weight_decay = wds[k];
        p.decoupled = dec[k];
        cnn_optimizer *opt = NULL;
        ck_assert_ok(cnn_adam_create(&p, &opt));
        for (int s = 0; s < STEPS; s++) {
            set_grads(net, s);
            ck_assert_ok(cnn_optimizer_step(opt, net));
        }
        expect_close(cnn_net_params(net), want, NP, 2e-6);
        memcpy(finals[k], cnn_net_params(net), sizeof finals[k]);
        cnn_optimizer_destroy(opt);
        cnn_net_destroy(net);
    }
    /* Adam's L2 and AdamW's decoupled decay give different weights. */
    ck_assert(memcmp(finals[1], finals[2], sizeof finals[1]) != 0);
    ck_assert(memcmp(finals[0], finals[1], sizeof finals[1]) != 0);
}
END_TEST

START_TEST(adam_validation)
{
    cnn_adam_params ok, p;
    ck_assert_ok(cnn_adam_params_init(&ok, 0.001f));
    cnn_optimizer *o = POISON_OPT;
    ck_assert_status(cnn_adam_create(NULL, &o), CNN_EINVAL);
    ck_assert_ptr_null(o);
    ck_assert_status(cnn_adam_params_init(NULL, 1.0f), CNN_EINVAL);
#define BAD(edit, word)                                                  \
    do {                                                                 \
        p = ok;                                                          \
        edit;                                                            \
        o = POISON_OPT;                                                  \
        ck_assert_status(cnn_adam_create(&p, &o), CNN_EINVAL);           \
        ck_assert_ptr_null(o);                                           \
        ck_assert_msg(strstr(cnn_last_error(), word), "%s", cnn_last_error()); \
    } while (0)
    BAD(p.struct_size = 8, "struct_size");
    BAD(p.learning_rate = 0, "learning rate");
    BAD(p.learning_rate = NAN, "learning rate");
    BAD(p.beta1 = 1.0f, "beta1");
    BAD(p.beta2 = -0.1f, "beta2");
    BAD(p.epsilon = 0.0f, "epsilon");
    BAD(p.weight_decay = -1.0f, "weight decay");
    BAD(p.weight_decay = INFINITY, "weight decay");
#undef BAD
    /* A network of another size is refused, as for SGD. */
    cnn_optimizer *opt = NULL;
    ck_assert_ok(cnn_adam_create(&ok, &opt));
    cnn_net *a = tiny_net(1), *b = NULL;
    ck_assert_ok(cnn_net_create(1, 2, 3, 1, &b));
    cnn_dense_params dp;
    cnn_dense_params_init(&dp, 3);
    cnn_layer *l;
    ck_assert_ok(cnn_dense_create(&dp, &l));
    ck_assert_ok(cnn_net_add(b, l));
    ck_assert_ok(cnn_optimizer_step(opt, a));
    ck_assert_status(cnn_optimizer_step(opt, b), CNN_ESHAPE);
    cnn_net_destroy(a);
    cnn_net_destroy(b);
    cnn_optimizer_destroy(opt);
}
END_TEST

/* ---- learning-rate setter ------------------------------------------------ */

START_TEST(learning_rate_setter)
{
    cnn_optimizer *opt = make_sgd(0.5f, 0.0f, 0.0f, 0);
    ck_assert(cnn_optimizer_learning_rate(opt) == 0.5f);
    ck_assert(cnn_optimizer_learning_rate(NULL) == 0.0f);
    ck_assert_status(cnn_optimizer_set_learning_rate(opt, 0.0f), CNN_EINVAL);
    ck_assert_status(cnn_optimizer_set_learning_rate(opt, NAN), CNN_EINVAL);
    ck_assert_status(cnn_optimizer_set_learning_rate(NULL, 1.0f), CNN_EINVAL);
    ck_assert(cnn_optimizer_learning_rate(opt) == 0.5f);
    ck_assert_ok(cnn_optimizer_set_learning_rate(opt, 0.25f));
    ck_assert(cnn_optimizer_learning_rate(opt) == 0.25f);
    /* The step uses it: W - 0.25*g exactly (plain SGD, no L2). */
    cnn_net *net = tiny_net(2);
    float before[NP];
    memcpy(before, cnn_net_params(net), sizeof before);
    set_grads(net, 0);
    ck_assert_ok(cnn_optimizer_step(opt, net));
    for (int i = 0; i < NP; i++)
        ck_assert(cnn_net_params(net)[i] == before[i] - 0.25f * cnn_net_grads(net)[i]);
    cnn_net_destroy(net);
    cnn_optimizer_destroy(opt);
}
END_TEST

/* ---- schedules ---------------------------------------------------------- */

START_TEST(schedule_rates_follow_the_formulas)
{
    cnn_train_params p;
    ck_assert_ok(cnn_train_params_init(&p, 4));
    ck_assert_int_eq(p.schedule, CNN_SCHEDULE_CONSTANT);
    const float r0 = 0.2f;
    const int64_t T = 100, per = 25;
    const double pi = 3.14159265358979323846;
    ck_assert(cnn_schedule_rate(&p, r0, 37, T, per) == r0);
    ck_assert(cnn_schedule_rate(&p, r0, T, T, per) == 0.0f);
    ck_assert(cnn_schedule_rate(NULL, r0, 0, T, per) == 0.0f);

    p.schedule = CNN_SCHEDULE_STEP;
    p.schedule_gamma = 0.5f;
    p.schedule_step = 30;
    const int64_t ts[] = {0, 29, 30, 59, 60, 99};
    for (size_t k = 0; k < sizeof ts / sizeof ts[0]; k++)
        ck_assert(cnn_schedule_rate(&p, r0, ts[k], T, per) ==
                  (float)(0.2f * pow(0.5, (double)(ts[k] / 30))));
    p.schedule_step_epochs = 1;
    p.schedule_step = 2; /* every 2 epochs of 25 steps */
    ck_assert(cnn_schedule_rate(&p, r0, 49, T, per) == r0);
    ck_assert(cnn_schedule_rate(&p, r0, 50, T, per) == (float)(0.2f * 0.5));

    p.schedule = CNN_SCHEDULE_COSINE;
    p.final_lr_fraction = 0.1f;
    for (int64_t t = 0; t < T; t += 7) {
        double f = 0.1f * (double)r0;
        double want = f + ((double)r0 - f) * 0.5 * (1 + cos(pi * (double)t / (double)T));
        ck_assert(cnn_schedule_rate(&p, r0, t, T, per) == (float)want);
    }
    ck_assert(cnn_schedule_rate(&p, r0, 0, T, per) == r0);

    p.schedule = CNN_SCHEDULE_ONECYCLE;
    p.warmup_fraction = 0.3f;
    p.initial_lr_fraction = 0.04f;
    p.final_lr_fraction = 0.0f;
    double w = 0.3f * 100.0;
    ck_assert(cnn_schedule_rate(&p, r0, 0, T, per) == (float)(0.2f * (double)0.04f));
    ck_assert(cnn_schedule_rate(&p, r0, 15, T, per) ==
              (float)(0.2f * (0.04f + (1 - (double)0.04f) * 15 / w)));
    ck_assert(cnn_schedule_rate(&p, r0, 31, T, per) ==
              (float)((double)r0 * 0.5 * (1 + cos(pi * (31 - w) / (100 - w)))));
    ck_assert(cnn_schedule_rate(&p, r0, 65, T, per) ==
              (float)((double)r0 * 0.5 * (1 + cos(pi * (65 - w) / (100 - w)))));
    ck_assert(cnn_schedule_rate(&p, r0, 99, T, per) < 0.001f);
}
END_TEST

/* ---- training with schedules and checkpoints ----------------------------- */

enum { COUNT = 23, BATCH = 5, C = 1, H = 6, W = 6, CLASSES = 3, EPOCHS = 4 };

static cnn_net *train_net(void)
{
    cnn_net *net = NULL;
    ck_assert_ok(cnn_net_create(C, H, W, 5, &net));
    cnn_conv2d_params cp;
    ck_assert_ok(cnn_conv2d_params_init(&cp, 2, 3, 3));
    cp.pool = CNN_POOL_MAX;
    cnn_layer *l = NULL;
    ck_assert_ok(cnn_conv2d_create(&cp, &l));
    ck_assert_ok(cnn_net_add(net, l));
    cnn_dense_params dp;
    ck_assert_ok(cnn_dense_params_init(&dp, 5));
    dp.dropout = 0.3f;
    ck_assert_ok(cnn_dense_create(&dp, &l));
    ck_assert_ok(cnn_net_add(net, l));
    cnn_softmax_params sp;
    ck_assert_ok(cnn_softmax_params_init(&sp, CLASSES));
    sp.dropout = 0.3f;
    sp.init = CNN_INIT_GLOROT;
    ck_assert_ok(cnn_softmax_create(&sp, &l));
    ck_assert_ok(cnn_net_add(net, l));
    return net;
}

static cnn_optimizer *make_adamw(void)
{
    cnn_adam_params p;
    ck_assert_ok(cnn_adam_params_init(&p, 0.02f));
    p.weight_decay = 0.01f;
    p.decoupled = 1;
    cnn_optimizer *opt = NULL;
    ck_assert_ok(cnn_adam_create(&p, &opt));
    return opt;
}

static cnn_train_params onecycle_params(const cnn_dataset *validation, int32_t epochs)
{
    cnn_train_params p;
    ck_assert_ok(cnn_train_params_init(&p, epochs));
    p.batch_size = BATCH;
    p.shuffle = 1;
    p.seed = 77;
    p.validation = validation;
    p.eval_batch_size = 4;
    p.schedule = CNN_SCHEDULE_ONECYCLE;
    p.warmup_fraction = 0.25f;
    p.final_lr_fraction = 0.01f;
    return p;
}

static cnn_train_result result_init(void)
{
    cnn_train_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    return r;
}

static void make_dir(char *dir, size_t len)
{
    const char *base = getenv("TMPDIR");
    snprintf(dir, len, "%s/cnn-adam-XXXXXX", base && base[0] ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static int32_t stop_after_2(const cnn_epoch_report *rep, void *user)
{
    (void)user;
    return rep->epoch == 2;
}

START_TEST(adam_schedule_resume_is_bit_identical)
{
    cnn_dataset *train = test_make_striped_dataset(COUNT, C, H, W, CLASSES, 1);
    cnn_dataset *val = test_make_striped_dataset(9, C, H, W, CLASSES, 2);
    char dir[4096], path[4200];
    make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/run.ckpt", dir);

    /* Uninterrupted. */
    cnn_net *a = train_net();
    cnn_optimizer *oa = make_adamw();
    cnn_train_params pa = onecycle_params(val, EPOCHS);
    cnn_train_result ra = result_init();
    ck_assert_ok(cnn_train(a, oa, train, &pa, &ra));
    /* The last rate set is the schedule's for the last step. */
    int64_t batches = (COUNT + BATCH - 1) / BATCH;
    ck_assert(cnn_optimizer_learning_rate(oa) ==
              cnn_schedule_rate(&pa, 0.02f, EPOCHS * batches - 1, EPOCHS * batches, batches));

    /* The same run stopped after two epochs (the checkpoint is written
     * before the epoch callback cancels), then a fresh net and optimizer resume. */
    cnn_net *b = train_net();
    cnn_optimizer *ob = make_adamw();
    cnn_train_params pb = onecycle_params(val, EPOCHS);
    pb.checkpoint_path = path;
    pb.on_epoch = stop_after_2;
    cnn_train_result rb = result_init();
    ck_assert_status(cnn_train(b, ob, train, &pb, &rb), CNN_ECANCELED);
    cnn_optimizer_destroy(ob);
    cnn_net_destroy(b);

    /* A mismatched schedule or optimizer is refused. */
    cnn_net *c = train_net();
    cnn_optimizer *oc = make_adamw();
    cnn_train_params pc = onecycle_params(val, EPOCHS);
    pc.resume_path = path;
    pc.warmup_fraction = 0.3f;
    cnn_train_result rc = result_init();
    ck_assert_status(cnn_train(c, oc, train, &pc, &rc), CNN_EINVAL);
    ck_assert(strstr(cnn_last_error(), "warmup_fraction") != NULL);
    pc = onecycle_params(val, EPOCHS);
    pc.resume_path = path;
    pc.schedule = CNN_SCHEDULE_COSINE;
    ck_assert_status(cnn_train(c, oc, train, &pc, &rc), CNN_EINVAL);
    ck_assert(strstr(cnn_last_error(), "schedule") != NULL);
    pc = onecycle_params(val, EPOCHS + 1); /* the one cycle spans the run */
    pc.resume_path = path;
    ck_assert_status(cnn_train(c, oc, train, &pc, &rc), CNN_EINVAL);
    ck_assert(strstr(cnn_last_error(), "4-epoch run") != NULL);
    cnn_optimizer *sgd = make_sgd(0.02f, 0.0f, 0.0f, 0);
    pc = onecycle_params(val, EPOCHS);
    pc.resume_path = path;
    ck_assert_status(cnn_train(c, sgd, train, &pc, &rc), CNN_EINVAL);
    ck_assert(strstr(cnn_last_error(), "Adam") != NULL);
    cnn_optimizer_destroy(sgd);
    cnn_adam_params ap;
    cnn_adam_params_init(&ap, 0.02f);
    ap.weight_decay = 0.01f; /* Adam, not AdamW */
    cnn_optimizer *adam = NULL;
    ck_assert_ok(cnn_adam_create(&ap, &adam));
    ck_assert_status(cnn_train(c, adam, train, &pc, &rc), CNN_EINVAL);
    ck_assert(strstr(cnn_last_error(), "AdamW") != NULL);
    cnn_optimizer_destroy(adam);

    /* The right settings resume to the same weights, bit for bit. */
    rc = result_init();
    ck_assert_ok(cnn_train(c, oc, train, &pc, &rc));
    ck_assert_int_eq(rc.epochs_run, EPOCHS);
    ck_assert(memcmp(cnn_net_params(a), cnn_net_params(c),
                     (size_t)cnn_net_param_count(a) * sizeof(float)) == 0);
    ck_assert(memcmp(&ra.final_train_cost, &rc.final_train_cost, sizeof(double)) == 0);
    ck_assert(cnn_optimizer_learning_rate(oa) == cnn_optimizer_learning_rate(oc));
    cnn_optimizer_destroy(oc);
    cnn_net_destroy(c);
    cnn_optimizer_destroy(oa);
    cnn_net_destroy(a);
    cnn_dataset_destroy(train);
    cnn_dataset_destroy(val);
    test_rm_tree(dir);
}
END_TEST

/* tests/data/ckpt-v1.cnnc: test_checkpoint's standard run (SGD eta 0.5,
 * momentum 0.6, l2 0.2; batch 5, shuffled, seed 77; validation and test
 * sets) after 2 of 4 epochs, written by the version-1 writer.  It resumes,
 * and ends where an uninterrupted run of this build does, up to rounding:
 * its first two epochs ran on the im2col + BLAS convolution of 1.0, this
 * build's on libcnn's own kernels, which round differently (bit-identical
 * resumption within one build is test_checkpoint's business). */
START_TEST(v1_checkpoint_resumes)
{
    cnn_dataset *train = test_make_striped_dataset(COUNT, C, H, W, CLASSES, 1);
    cnn_dataset *val = test_make_striped_dataset(9, C, H, W, CLASSES, 2);
    cnn_dataset *tst = test_make_striped_dataset(7, C, H, W, CLASSES, 3);
    int32_t epoch = 0;
    ck_assert_ok(cnn_checkpoint_info(V1_PATH, &epoch));
    ck_assert_int_eq(epoch, 2);
    cnn_net *nets[2];
    cnn_train_result rs[2];
    for (int k = 0; k < 2; k++) {
        nets[k] = train_net();
        cnn_optimizer *opt = make_sgd(0.5f, 0.6f, 0.2f, 0);
        cnn_train_params p;
        ck_assert_ok(cnn_train_params_init(&p, EPOCHS));
        p.batch_size = BATCH;
        p.shuffle = 1;
        p.seed = 77;
        p.validation = val;
        p.test = tst;
        p.eval_batch_size = 4;
        /* make_sgd sets l2_batches 2; the v1 run had 0 */
        cnn_optimizer_destroy(opt);
        cnn_sgd_params sp;
        cnn_sgd_params_init(&sp, 0.5f);
        sp.momentum = 0.6f;
        sp.l2 = 0.2f;
        ck_assert_ok(cnn_sgd_create(&sp, &opt));
        if (k == 1)
            p.resume_path = V1_PATH;
        rs[k] = result_init();
        ck_assert_ok(cnn_train(nets[k], opt, train, &p, &rs[k]));
        ck_assert_int_eq(rs[k].epochs_run, EPOCHS);
        cnn_optimizer_destroy(opt);
    }
    {
        const float *a = cnn_net_params(nets[0]), *b = cnn_net_params(nets[1]);
        for (int64_t i = 0; i < cnn_net_param_count(nets[0]); i++)
            ck_assert_msg(fabsf(a[i] - b[i]) <= 1e-4f * (1.0f + fabsf(a[i])),
                          "parameter %lld: resumed %.9g, uninterrupted %.9g", (long long)i,
                          (double)b[i], (double)a[i]);
    }
    ck_assert_int_eq(rs[0].best_epoch, rs[1].best_epoch);
    /* A v1 checkpoint cannot resume Nesterov: it was classical. */
    cnn_sgd_params sp;
    cnn_sgd_params_init(&sp, 0.5f);
    sp.momentum = 0.6f;
    sp.l2 = 0.2f;
    sp.nesterov = 1;
    cnn_optimizer *opt = NULL;
    ck_assert_ok(cnn_sgd_create(&sp, &opt));
    cnn_train_params p;
    ck_assert_ok(cnn_train_params_init(&p, EPOCHS));
    p.batch_size = BATCH;
    p.shuffle = 1;
    p.seed = 77;
    p.resume_path = V1_PATH;
    cnn_train_result r = result_init();
    ck_assert_status(cnn_train(nets[0], opt, train, &p, &r), CNN_EINVAL);
    ck_assert(strstr(cnn_last_error(), "Nesterov") != NULL);
    cnn_optimizer_destroy(opt);
    cnn_net_destroy(nets[0]);
    cnn_net_destroy(nets[1]);
    cnn_dataset_destroy(train);
    cnn_dataset_destroy(val);
    cnn_dataset_destroy(tst);
}
END_TEST

START_TEST(schedule_params_validation)
{
    cnn_dataset *train = test_make_striped_dataset(COUNT, C, H, W, CLASSES, 1);
    cnn_net *net = train_net();
    cnn_optimizer *opt = make_sgd(0.1f, 0.0f, 0.0f, 0);
    cnn_train_params p;
    cnn_train_result r = result_init();
#define BAD(edit, word)                                                   \
    do {                                                                  \
        ck_assert_ok(cnn_train_params_init(&p, 1));                       \
        edit;                                                             \
        ck_assert_status(cnn_train(net, opt, train, &p, &r), CNN_EINVAL); \
        ck_assert_msg(strstr(cnn_last_error(), word), "%s", cnn_last_error()); \
    } while (0)
    BAD(p.schedule = 4, "schedule");
    BAD((p.schedule = CNN_SCHEDULE_STEP, p.schedule_gamma = 0.0f), "gamma");
    BAD((p.schedule = CNN_SCHEDULE_STEP, p.schedule_step = 0), "schedule_step");
    BAD((p.schedule = CNN_SCHEDULE_COSINE, p.final_lr_fraction = 1.5f), "final_lr_fraction");
    BAD((p.schedule = CNN_SCHEDULE_ONECYCLE, p.warmup_fraction = 1.0f), "warmup_fraction");
    BAD((p.schedule = CNN_SCHEDULE_ONECYCLE, p.initial_lr_fraction = 0.0f), "initial_lr_fraction");
#undef BAD
    /* A step schedule with plain SGD: the rate at the end is r0 * gamma^k. */
    ck_assert_ok(cnn_train_params_init(&p, 2));
    p.batch_size = BATCH;
    p.schedule = CNN_SCHEDULE_STEP;
    p.schedule_step = 1;
    p.schedule_step_epochs = 1;
    p.schedule_gamma = 0.5f;
    ck_assert_ok(cnn_train(net, opt, train, &p, &r));
    ck_assert(cnn_optimizer_learning_rate(opt) == 0.05f);
    cnn_optimizer_destroy(opt);
    cnn_net_destroy(net);
    cnn_dataset_destroy(train);
}
END_TEST

/* ---- cost ------------------------------------------------------------------ */

/* 1x1x2 input -> softmax 3 with hand-set weights: the logits of x = (0.5, 0)
 * are (100, 0, -30), so an example labelled 1 or 2 costs logsumexp - z_label
 * (about 100 and 130: its probability underflows in float, where the old
 * clamped -log(max(p, FLT_MIN)) reported 87.3). */
START_TEST(exact_cross_entropy_from_logits)
{
    cnn_net *net = NULL;
    ck_assert_ok(cnn_net_create(1, 1, 2, 1, &net));
    cnn_softmax_params sp;
    ck_assert_ok(cnn_softmax_params_init(&sp, 3));
    cnn_layer *l = NULL;
    ck_assert_ok(cnn_softmax_create(&sp, &l));
    ck_assert_ok(cnn_net_add(net, l));
    float *w = cnn_net_params(net); /* W (3 x 2) then b (3) */
    const float wv[9] = {200, 7, 0, -3, -60, 1, 0, 0, 0};
    memcpy(w, wv, sizeof wv);
    const double z[3] = {100, 0, -30};
    const double lse = 100 + log1p(exp(-100.0) + exp(-130.0));
    const int32_t labels[4] = {1, 2, 0, 1};
    double want = 0;
    for (int i = 0; i < 4; i++)
        want += lse - z[labels[i]];
    want /= 4;

    int64_t shape[4] = {4, 1, 1, 2};
    cnn_tensor *x = NULL;
    ck_assert_ok(cnn_tensor_create(4, shape, &x));
    float *xd = cnn_tensor_data(x);
    for (int i = 0; i < 4; i++) {
        xd[2 * i] = 0.5f;
        xd[2 * i + 1] = 0.0f;
    }
    double cost = 0;
    ck_assert_ok(cnn_net_forward(net, x, CNN_MODE_TRAIN, NULL));
    ck_assert_ok(cnn_net_backward(net, labels, &cost));
    ck_assert_msg(fabs(cost - want) <= 1e-12 * want, "cost %.17g, closed form %.17g", cost, want);
    ck_assert(cost > 87.4 * 3 / 4); /* beyond what the clamp could report */

    /* cnn_net_evaluate: the same cost (pixels are byte/256: 128 -> 0.5). */
    uint8_t px[8] = {128, 0, 128, 0, 128, 0, 128, 0}, lb[4] = {1, 2, 0, 1};
    cnn_dataset *ds = NULL;
    ck_assert_ok(cnn_dataset_create(4, 1, 1, 2, px, lb, &ds));
    double acc = -1, ecost = 0;
    ck_assert_ok(cnn_net_evaluate(net, ds, 3, &acc, &ecost));
    ck_assert(acc == 0.25);
    ck_assert_msg(fabs(ecost - want) <= 1e-12 * want, "evaluate %.17g, closed form %.17g", ecost,
                  want);
    cnn_dataset_destroy(ds);
    cnn_tensor_destroy(x);
    cnn_net_destroy(net);
}
END_TEST

static Suite *adam_suite(void)
{
    Suite *s = suite_create("optimizers");
    TCase *tc = tcase_create("update");
    tcase_add_test(tc, sgd_nesterov_and_classical_match_closed_form);
    tcase_add_test(tc, sgd_old_struct_size);
    tcase_add_test(tc, adam_and_adamw_match_closed_form);
    tcase_add_test(tc, adam_validation);
    tcase_add_test(tc, learning_rate_setter);
    suite_add_tcase(s, tc);
    tc = tcase_create("schedules");
    tcase_add_test(tc, schedule_rates_follow_the_formulas);
    tcase_add_test(tc, schedule_params_validation);
    tcase_add_test(tc, adam_schedule_resume_is_bit_identical);
    tcase_add_test(tc, v1_checkpoint_resumes);
    suite_add_tcase(s, tc);
    tc = tcase_create("cost");
    tcase_add_test(tc, exact_cross_entropy_from_logits);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(adam_suite());
}
