/* Checkpoint and resume (cnn_train_params::checkpoint_path / resume_path):
 * a resumed run ends bit-identical to an uninterrupted one, also after the
 * training process was killed with SIGKILL in the middle of an epoch; every
 * damaged or mismatched checkpoint is refused with its exact status and
 * changes nothing; a failed write keeps the previous checkpoint. */
#include "testfs.h"
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "io/checkpoint.h" /* for the figures test: writes a W2-sized state directly */

enum { COUNT = 23, BATCH = 5, C = 1, H = 6, W = 6, CLASSES = 3, EPOCHS = 4 };
#define SEED 77u
#define NET_SEED 5u
#define ETA 0.5f
#define MU 0.6f
#define L2 0.2f
#define DROPOUT 0.3f

/* Offsets of the format (docs/format.md, "Checkpoint format"). */
enum { OFF_VERSION = 8, OFF_SIZE = 12, OFF_STATE_LEN = 20, OFF_MODEL_LEN = 24, OFF_MODEL = 32,
       STATE_LEN = 232, STATE_LEN_V1 = 168 };

/* ---- helpers ------------------------------------------------------------- */

/* 1x6x6 -> conv 2 3x3 + max pool 2 -> dense `hidden` (dropout) -> softmax 3 (dropout) */
static cnn_net *make_net_with(uint64_t seed, int hidden, float dropout, int extra_layer)
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
    ck_assert_ok(cnn_dense_params_init(&dp, hidden));
    dp.dropout = dropout;
    ck_assert_ok(cnn_dense_create(&dp, &l));
    ck_assert_ok(cnn_net_add(net, l));
    if (extra_layer) {
        ck_assert_ok(cnn_activation_create(CNN_ACT_TANH, &l));
        ck_assert_ok(cnn_net_add(net, l));
    }
    cnn_softmax_params sp;
    ck_assert_ok(cnn_softmax_params_init(&sp, CLASSES));
    sp.dropout = dropout;
    sp.init = CNN_INIT_GLOROT;
    ck_assert_ok(cnn_softmax_create(&sp, &l));
    ck_assert_ok(cnn_net_add(net, l));
    return net;
}

static cnn_net *make_net(void)
{
    return make_net_with(NET_SEED, 5, DROPOUT, 0);
}

/* Same architecture, parameters overwritten: a resume must restore them all. */
static cnn_net *make_scrambled_net(void)
{
    cnn_net *net = make_net();
    float *p = cnn_net_params(net);
    for (int64_t i = 0; i < cnn_net_param_count(net); i++)
        p[i] = 0.25f * (float)(i % 7) - 0.5f;
    return net;
}

static cnn_optimizer *make_sgd_with(float eta, float mu, float l2)
{
    cnn_sgd_params p;
    ck_assert_ok(cnn_sgd_params_init(&p, eta));
    p.momentum = mu;
    p.l2 = l2;
    cnn_optimizer *opt = NULL;
    ck_assert_ok(cnn_sgd_create(&p, &opt));
    return opt;
}

static cnn_optimizer *make_sgd(void)
{
    return make_sgd_with(ETA, MU, L2);
}

/* The data every test trains on. */
typedef struct sets {
    cnn_dataset *train, *validation, *test;
} sets;

static sets make_sets(void)
{
    sets s = {test_make_striped_dataset(COUNT, C, H, W, CLASSES, 1),
              test_make_striped_dataset(9, C, H, W, CLASSES, 2),
              test_make_striped_dataset(7, C, H, W, CLASSES, 3)};
    return s;
}

static void free_sets(sets *s)
{
    cnn_dataset_destroy(s->train);
    cnn_dataset_destroy(s->validation);
    cnn_dataset_destroy(s->test);
}

static cnn_train_params params_for(const sets *s, int32_t epochs)
{
    cnn_train_params p;
    ck_assert_ok(cnn_train_params_init(&p, epochs));
    p.batch_size = BATCH;
    p.shuffle = 1;
    p.seed = SEED;
    p.validation = s->validation;
    p.test = s->test;
    p.eval_batch_size = 4;
    return p;
}

static cnn_train_result result_init(void)
{
    cnn_train_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    return r;
}

static size_t param_bytes(const cnn_net *net)
{
    return (size_t)cnn_net_param_count(net) * sizeof(float);
}

static float *copy_params(cnn_net *net)
{
    float *p = malloc(param_bytes(net));
    ck_assert_ptr_nonnull(p);
    memcpy(p, cnn_net_params(net), param_bytes(net));
    return p;
}

/* Weights (and result) of EPOCHS uninterrupted epochs. */
static float *train_straight(const sets *s, cnn_train_result *r)
{
    cnn_net *net = make_net();
    cnn_optimizer *opt = make_sgd();
    cnn_train_params p = params_for(s, EPOCHS);
    *r = result_init();
    ck_assert_ok(cnn_train(net, opt, s->train, &p, r));
    float *w = copy_params(net);
    cnn_optimizer_destroy(opt);
    cnn_net_destroy(net);
    return w;
}

static void assert_same_result(const cnn_train_result *a, const cnn_train_result *b)
{
    ck_assert_int_eq(a->epochs_run, b->epochs_run);
    ck_assert_int_eq(a->best_epoch, b->best_epoch);
    ck_assert(a->best_validation_accuracy == b->best_validation_accuracy);
    ck_assert(a->test_accuracy_at_best == b->test_accuracy_at_best);
    ck_assert(memcmp(&a->final_train_cost, &b->final_train_cost, sizeof(double)) == 0);
}

static void make_dir(char *dir, size_t len)
{
    const char *base = getenv("TMPDIR");
    snprintf(dir, len, "%s/cnn-ckpt-XXXXXX", base && base[0] ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

/* Recomputes the trailing CRC after a deliberate edit. */
static void fix_crc(uint8_t *buf, size_t size)
{
    test_put32(buf + size - 4, (uint32_t)crc32(0L, buf, (uInt)(size - 4)));
}

/* A checkpoint after `epochs` epochs of the standard run, written to path. */
static void write_checkpoint(const sets *s, const char *path, int32_t epochs)
{
    cnn_net *net = make_net();
    cnn_optimizer *opt = make_sgd();
    cnn_train_params p = params_for(s, epochs);
    p.checkpoint_path = path;
    cnn_train_result r = result_init();
    ck_assert_ok(cnn_train(net, opt, s->train, &p, &r));
    ck_assert_int_eq(r.epochs_run, epochs);
    cnn_optimizer_destroy(opt);
    cnn_net_destroy(net);
}

/* Resumes from path with the standard settings to EPOCHS on (net, opt). */
static cnn_status resume_on(const sets *s, cnn_net *net, cnn_optimizer *opt, const char *path,
                            cnn_train_result *r)
{
    cnn_train_params p = params_for(s, EPOCHS);
    p.resume_path = path;
    *r = result_init();
    return cnn_train(net, opt, s->train, &p, r);
}

/* Expects resuming from `path` to fail with `want`, leave the network's
 * parameters alone, and (for cnn_checkpoint_info) the same status unless
 * the file itself is fine. */
static void expect_refused(const sets *s, const char *path, cnn_status want, const char *word)
{
    cnn_net *net = make_net();
    cnn_optimizer *opt = make_sgd();
    float *before = copy_params(net);
    cnn_train_result r;
    ck_assert_status(resume_on(s, net, opt, path, &r), want);
    ck_assert_str_eq(cnn_net_errmsg(net), cnn_last_error());
    if (word)
        ck_assert_msg(strstr(cnn_last_error(), word) != NULL, "'%s' not in: %s", word,
                      cnn_last_error());
    ck_assert(memcmp(before, cnn_net_params(net), param_bytes(net)) == 0);
    free(before);
    cnn_optimizer_destroy(opt);
    cnn_net_destroy(net);
}

/* ---- (a) resume is bit-identical ----------------------------------------- */

typedef struct epochs_seen {
    int32_t first, calls;
} epochs_seen;

static int32_t note_epoch(const cnn_epoch_report *rep, void *user)
{
    epochs_seen *e = user;
    if (e->calls++ == 0)
        e->first = rep->epoch;
    return 0;
}

/* Train `split` epochs with a checkpoint, resume into a scrambled network
 * and a fresh optimizer up to EPOCHS: the same weights, bit for bit, as the
 * uninterrupted run, the same bookkeeping, and the same final checkpoint. */
START_TEST(resume_is_bit_identical)
{
    int32_t split = 1 + _i; /* 1, 2, 3 */
    sets s = make_sets();
    char dir[4096], path[4200], straight_path[4200];
    make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/run.ckpt", dir);
    snprintf(straight_path, sizeof straight_path, "%s/straight.ckpt", dir);

    cnn_net *a = make_net();
    cnn_optimizer *oa = make_sgd();
    cnn_train_params p = params_for(&s, EPOCHS);
    p.checkpoint_path = straight_path;
    p.checkpoint_every = 3; /* written after epochs 3 and 4 (the last) */
    cnn_train_result ra = result_init();
    ck_assert_ok(cnn_train(a, oa, s.train, &p, &ra));
    ck_assert_int_eq(ra.epochs_run, EPOCHS);
    ck_assert_int_gt(ra.best_epoch, 0);

    write_checkpoint(&s, path, split);
    int32_t epoch = -1;
    ck_assert_ok(cnn_checkpoint_info(path, &epoch));
    ck_assert_int_eq(epoch, split);

    cnn_net *b = make_scrambled_net();
    cnn_optimizer *ob = make_sgd();
    p = params_for(&s, EPOCHS);
    p.resume_path = path;
    p.checkpoint_path = path; /* continue writing to the same file */
    epochs_seen seen = {0, 0};
    p.on_epoch = note_epoch;
    p.user = &seen;
    cnn_train_result rb = result_init();
    ck_assert_ok(cnn_train(b, ob, s.train, &p, &rb));
    ck_assert_int_eq(seen.calls, EPOCHS - split);
    ck_assert_int_eq(seen.first, split + 1);
    ck_assert(memcmp(cnn_net_params(a), cnn_net_params(b), param_bytes(a)) == 0);
    assert_same_result(&ra, &rb);

    /* Both runs end in the same state, so in the same bytes. */
    size_t na, nb;
    uint8_t *fa = test_read_file(straight_path, &na), *fb = test_read_file(path, &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert(memcmp(fa, fb, na) == 0);
    ck_assert_ok(cnn_checkpoint_info(path, &epoch));
    ck_assert_int_eq(epoch, EPOCHS);
    ck_assert_int_eq(test_dir_entries(dir), 2);
    free(fa);
    free(fb);
    cnn_optimizer_destroy(oa);
    cnn_optimizer_destroy(ob);
    cnn_net_destroy(a);
    cnn_net_destroy(b);
    free_sets(&s);
    test_rm_tree(dir);
}
END_TEST

/* A checkpoint of the last epoch: resuming trains nothing and yields the
 * final weights; asking for one epoch more trains just that one; momentum
 * 0 and no shuffling are stored (and resumed) as well. */
START_TEST(resume_at_the_end_and_variants)
{
    sets s = make_sets();
    char dir[4096], path[4200];
    make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/run.ckpt", dir);
    cnn_train_result ra;
    float *straight = train_straight(&s, &ra);

    write_checkpoint(&s, path, EPOCHS);
    cnn_net *b = make_scrambled_net();
    cnn_optimizer *ob = make_sgd();
    cnn_train_params p = params_for(&s, EPOCHS);
    p.resume_path = path;
    epochs_seen seen = {0, 0};
    p.on_epoch = note_epoch;
    p.user = &seen;
    cnn_train_result rb = result_init();
    ck_assert_ok(cnn_train(b, ob, s.train, &p, &rb));
    ck_assert_int_eq(seen.calls, 0);
    ck_assert(memcmp(straight, cnn_net_params(b), param_bytes(b)) == 0);
    assert_same_result(&ra, &rb);
    /* One more epoch on top of it equals five straight epochs. */
    cnn_net *c = make_scrambled_net();
    cnn_optimizer *oc = make_sgd();
    p = params_for(&s, EPOCHS + 1);
    p.resume_path = path;
    ck_assert_ok(cnn_train(c, oc, s.train, &p, &rb));
    ck_assert_int_eq(rb.epochs_run, EPOCHS + 1);
    cnn_net *d = make_net();
    cnn_optimizer *od = make_sgd();
    p.resume_path = NULL;
    ck_assert_ok(cnn_train(d, od, s.train, &p, NULL));
    ck_assert(memcmp(cnn_net_params(c), cnn_net_params(d), param_bytes(c)) == 0);
    cnn_optimizer_destroy(od);
    cnn_net_destroy(d);

    /* No momentum (no velocity stored), stored order (no order stored),
     * no dropout, checkpoint every 2. */
    for (int variant = 0; variant < 2; variant++) {
        cnn_net *x = make_net_with(NET_SEED, 5, variant ? 0.0f : DROPOUT, 0);
        cnn_optimizer *ox = make_sgd_with(ETA, 0.0f, variant ? 0.0f : L2);
        p = params_for(&s, EPOCHS);
        p.shuffle = variant;
        ck_assert_ok(cnn_train(x, ox, s.train, &p, NULL));
        cnn_net *y = make_net_with(NET_SEED, 5, variant ? 0.0f : DROPOUT, 0);
        cnn_optimizer *oy = make_sgd_with(ETA, 0.0f, variant ? 0.0f : L2);
        p.epochs = 2;
        p.checkpoint_path = path;
        p.checkpoint_every = 2;
        ck_assert_ok(cnn_train(y, oy, s.train, &p, NULL));
        cnn_net_destroy(y);
        cnn_optimizer_destroy(oy);
        y = make_net_with(NET_SEED, 5, variant ? 0.0f : DROPOUT, 0);
        float *w = cnn_net_params(y);
        w[0] += 1.0f;
        oy = make_sgd_with(ETA, 0.0f, variant ? 0.0f : L2);
        p.epochs = EPOCHS;
        p.checkpoint_path = NULL;
        p.resume_path = path;
        ck_assert_ok(cnn_train(y, oy, s.train, &p, NULL));
        ck_assert(memcmp(cnn_net_params(x), cnn_net_params(y), param_bytes(x)) == 0);
        size_t n;
        uint8_t *f = test_read_file(path, &n);
        size_t state = OFF_MODEL + (size_t)test_get64(f + OFF_MODEL_LEN);
        ck_assert_uint_eq(test_get64(f + state + 152), 0); /* no velocity */
        ck_assert_uint_eq(test_get64(f + state + 160), variant ? COUNT : 0);
        free(f);
        cnn_net_destroy(x);
        cnn_net_destroy(y);
        cnn_optimizer_destroy(ox);
        cnn_optimizer_destroy(oy);
    }
    free(straight);
    cnn_optimizer_destroy(ob);
    cnn_optimizer_destroy(oc);
    cnn_net_destroy(b);
    cnn_net_destroy(c);
    free_sets(&s);
    test_rm_tree(dir);
}
END_TEST

/* ---- (b) killed in the middle of an epoch -------------------------------- */

static int32_t kill_in_epoch_3(const cnn_progress *pr, void *user)
{
    (void)user;
    if (pr->epoch == 3 && pr->batch == 2)
        raise(SIGKILL);
    return 0;
}

START_TEST(resume_after_sigkill)
{
    sets s = make_sets();
    char dir[4096], path[4200];
    make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/run.ckpt", dir);
    cnn_train_result ra;
    float *straight = train_straight(&s, &ra);

    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        cnn_net *net = make_net();
        cnn_optimizer *opt = make_sgd();
        cnn_train_params p = params_for(&s, EPOCHS);
        p.checkpoint_path = path;
        p.checkpoint_every = 1;
        p.progress_every = 1;
        p.on_progress = kill_in_epoch_3;
        cnn_train(net, opt, s.train, &p, NULL);
        _exit(0); /* not reached when the kill works */
    }
    int wstatus = 0;
    ck_assert_int_eq(waitpid(pid, &wstatus, 0), pid);
    ck_assert_msg(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL,
                  "the child was not killed (status 0x%x)", (unsigned)wstatus);

    /* The last complete checkpoint is epoch 2's, and nothing else is there. */
    int32_t epoch = 0;
    ck_assert_ok(cnn_checkpoint_info(path, &epoch));
    ck_assert_int_eq(epoch, 2);
    ck_assert_int_eq(test_dir_entries(dir), 1);

    cnn_net *b = make_scrambled_net();
    cnn_optimizer *ob = make_sgd();
    cnn_train_result rb;
    ck_assert_ok(resume_on(&s, b, ob, path, &rb));
    ck_assert(memcmp(straight, cnn_net_params(b), param_bytes(b)) == 0);
    assert_same_result(&ra, &rb);
    free(straight);
    cnn_optimizer_destroy(ob);
    cnn_net_destroy(b);
    free_sets(&s);
    test_rm_tree(dir);
}
END_TEST

/* ---- layout ----------------------------------------------------------------- */

/* The file is what docs/format.md says: header fields, the embedded model
 * exactly as cnn_net_save_buffer() writes the trained network, the state
 * record, momentum, order, CRC. */
START_TEST(layout_matches_the_spec)
{
    sets s = make_sets();
    char dir[4096], path[4200];
    make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/run.ckpt", dir);
    cnn_net *net = make_net();
    cnn_optimizer *opt = make_sgd();
    cnn_train_params p = params_for(&s, 2);
    p.checkpoint_path = path;
    cnn_train_result r = result_init();
    ck_assert_ok(cnn_train(net, opt, s.train, &p, &r));
    void *model = NULL;
    size_t model_len = 0;
    ck_assert_ok(cnn_net_save_buffer(net, &model, &model_len));

    size_t n;
    uint8_t *f = test_read_file(path, &n);
    int64_t np = cnn_net_param_count(net);
    ck_assert(memcmp(f, "CNNCKPT\0", 8) == 0);
    ck_assert_uint_eq(test_get32(f + OFF_VERSION), 2);
    ck_assert_uint_eq(test_get64(f + OFF_SIZE), n);
    ck_assert_uint_eq(test_get32(f + OFF_STATE_LEN), STATE_LEN);
    ck_assert_uint_eq(test_get64(f + OFF_MODEL_LEN), model_len);
    ck_assert_uint_eq(n, OFF_MODEL + model_len + STATE_LEN + 4 * (size_t)np + 4 * COUNT + 4);
    ck_assert(memcmp(f + OFF_MODEL, model, model_len) == 0);
    const uint8_t *st = f + OFF_MODEL + model_len;
    ck_assert_uint_eq(test_get32(st + 0), 2);       /* epoch */
    ck_assert_uint_eq(test_get32(st + 4), BATCH);
    ck_assert_uint_eq(test_get32(st + 8), 1);       /* shuffle */
    ck_assert_uint_eq(test_get32(st + 12), 1);      /* SGD */
    ck_assert_uint_eq(test_get64(st + 16), SEED);
    ck_assert_uint_eq(test_get64(st + 24), COUNT);
    ck_assert_uint_eq(test_get64(st + 32), (uint64_t)np);
    float eta;
    uint32_t bits = test_get32(st + 40);
    memcpy(&eta, &bits, 4);
    ck_assert(eta == ETA);
    ck_assert_uint_eq(test_get32(st + 52), (uint32_t)r.best_epoch);
    double best;
    uint64_t b64 = test_get64(st + 128);
    memcpy(&best, &b64, 8);
    ck_assert(best == r.best_validation_accuracy);
    ck_assert_uint_eq(test_get64(st + 152), (uint64_t)np);
    ck_assert_uint_eq(test_get64(st + 160), COUNT);
    /* The order is a permutation of 0..COUNT-1. */
    int seen[COUNT] = {0};
    const uint8_t *order = st + STATE_LEN + 4 * np;
    for (int i = 0; i < COUNT; i++) {
        uint32_t x = test_get32(order + 4 * i);
        ck_assert_uint_lt(x, COUNT);
        ck_assert_int_eq(seen[x]++, 0);
    }
    ck_assert_uint_eq(test_get32(f + n - 4), (uint32_t)crc32(0L, f, (uInt)(n - 4)));
    free(f);
    cnn_free(model);
    cnn_optimizer_destroy(opt);
    cnn_net_destroy(net);
    free_sets(&s);
    test_rm_tree(dir);
}
END_TEST

/* cnn.h: "shuffle: reshuffle the training set every epoch".  Tests that only
 * compare runs with different seeds pass if the set is shuffled once, before
 * epoch 1.  Here the order each epoch trained in is read from the checkpoint
 * written after it (docs/format.md: the K u32 before the CRC, "the order
 * ... after the last epoch's shuffle"), parsed from the specification rather
 * than through the library's reader.  Every order must be a permutation of
 * 0..COUNT-1 and each must differ from the one before it (the chance that a
 * fair shuffle of 23 examples repeats is 1/23!, about 4e-23); the first must
 * also differ from the stored order. */
enum { SHUFFLE_EPOCHS = 4 };

typedef struct order_log {
    const char *path;
    int epochs;
    uint32_t order[SHUFFLE_EPOCHS][COUNT];
} order_log;

static int32_t record_order(const cnn_epoch_report *rep, void *user)
{
    order_log *log = user;
    size_t n;
    uint8_t *f = test_read_file(log->path, &n);
    ck_assert_uint_ge(n, (size_t)OFF_MODEL + STATE_LEN + 4 * COUNT + 4);
    ck_assert_uint_eq(test_get64(f + OFF_SIZE), n);
    ck_assert_uint_eq(test_get32(f + n - 4), (uint32_t)crc32(0L, f, (uInt)(n - 4)));
    const uint8_t *st = f + OFF_MODEL + test_get64(f + OFF_MODEL_LEN);
    ck_assert_uint_eq(test_get32(st + 0), (uint32_t)rep->epoch); /* epochs completed */
    ck_assert_uint_eq(test_get32(st + 8), 1);                    /* shuffle */
    ck_assert_uint_eq(test_get64(st + 160), COUNT);              /* K */
    ck_assert_int_lt(log->epochs, SHUFFLE_EPOCHS);
    ck_assert_int_eq(rep->epoch, log->epochs + 1);
    const uint8_t *order = f + n - 4 - 4 * COUNT;
    int seen[COUNT] = {0};
    for (int i = 0; i < COUNT; i++) {
        uint32_t x = test_get32(order + 4 * i);
        ck_assert_msg(x < COUNT, "epoch %d: order[%d] = %u", rep->epoch, i, x);
        ck_assert_msg(seen[x]++ == 0, "epoch %d: example %u twice in the order", rep->epoch, x);
        log->order[log->epochs][i] = x;
    }
    log->epochs++;
    free(f);
    return 0;
}

START_TEST(shuffle_every_epoch)
{
    sets s = make_sets();
    char dir[4096], path[4200];
    make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/run.ckpt", dir);
    cnn_net *net = make_net();
    cnn_optimizer *opt = make_sgd();
    cnn_train_params p = params_for(&s, SHUFFLE_EPOCHS);
    p.checkpoint_path = path;
    p.checkpoint_every = 1;
    order_log log = {.path = path, .epochs = 0};
    p.on_epoch = record_order;
    p.user = &log;
    cnn_train_result r = result_init();
    ck_assert_ok(cnn_train(net, opt, s.train, &p, &r));
    ck_assert_int_eq(log.epochs, SHUFFLE_EPOCHS);
    int identity = 1;
    for (int i = 0; i < COUNT; i++)
        identity &= log.order[0][i] == (uint32_t)i;
    ck_assert_msg(!identity, "epoch 1 trained in the stored order");
    for (int e = 1; e < SHUFFLE_EPOCHS; e++)
        ck_assert_msg(memcmp(log.order[e], log.order[e - 1], sizeof log.order[e]) != 0,
                      "epoch %d trained in the same order as epoch %d: not reshuffled", e + 1, e);
    cnn_optimizer_destroy(opt);
    cnn_net_destroy(net);
    free_sets(&s);
    test_rm_tree(dir);
}
END_TEST

/* ---- (c) errors ----------------------------------------------------------- */

START_TEST(argument_and_file_errors)
{
    sets s = make_sets();
    char dir[4096], path[4200];
    make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/missing.ckpt", dir);
    cnn_net *net = make_net();
    cnn_optimizer *opt = make_sgd();
    cnn_train_params p = params_for(&s, 2);
    p.checkpoint_path = "";
    ck_assert_status(cnn_train(net, opt, s.train, &p, NULL), CNN_EINVAL);
    p = params_for(&s, 2);
    p.resume_path = "";
    ck_assert_status(cnn_train(net, opt, s.train, &p, NULL), CNN_EINVAL);
    p = params_for(&s, 2);
    p.checkpoint_path = path;
    p.checkpoint_every = 0;
    ck_assert_status(cnn_train(net, opt, s.train, &p, NULL), CNN_EINVAL);
    ck_assert_ptr_nonnull(strstr(cnn_net_errmsg(net), "checkpoint_every"));
    p.checkpoint_every = -3;
    ck_assert_status(cnn_train(net, opt, s.train, &p, NULL), CNN_EINVAL);
    ck_assert_int_eq(test_dir_entries(dir), 0);
    int32_t epoch = 7;
    ck_assert_status(cnn_checkpoint_info(NULL, &epoch), CNN_EINVAL);
    ck_assert_int_eq(epoch, 0);
    ck_assert_status(cnn_checkpoint_info("", &epoch), CNN_EINVAL);
    ck_assert_status(cnn_checkpoint_info(path, NULL), CNN_EINVAL);

    /* Missing, a directory, unwritable (a directory that does not exist). */
    expect_refused(&s, path, CNN_EIO, "missing.ckpt");
    ck_assert_status(cnn_checkpoint_info(path, &epoch), CNN_EIO);
    expect_refused(&s, dir, CNN_EIO, "directory");
    snprintf(path, sizeof path, "%s/no/such/dir.ckpt", dir);
    p = params_for(&s, 1);
    p.checkpoint_path = path;
    ck_assert_status(cnn_train(net, opt, s.train, &p, NULL), CNN_EIO);
    ck_assert_ptr_nonnull(strstr(cnn_net_errmsg(net), "no/such"));
    /* A model file is not a checkpoint. */
    snprintf(path, sizeof path, "%s/model.cnnm", dir);
    ck_assert_ok(cnn_net_save(net, path));
    expect_refused(&s, path, CNN_EFORMAT, "model file");
    ck_assert_status(cnn_checkpoint_info(path, &epoch), CNN_EFORMAT);
    cnn_optimizer_destroy(opt);
    cnn_net_destroy(net);
    free_sets(&s);
    test_rm_tree(dir);
}
END_TEST

/* Truncated at every offset: CNN_EFORMAT from both readers, and the net
 * untouched (expect_refused). */
START_TEST(truncated_at_every_offset)
{
    sets s = make_sets();
    char dir[4096], path[4200], cut[4200];
    make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/run.ckpt", dir);
    snprintf(cut, sizeof cut, "%s/cut.ckpt", dir);
    write_checkpoint(&s, path, 2);
    size_t n;
    uint8_t *f = test_read_file(path, &n);
    for (size_t len = 0; len < n; len++) {
        test_write_file(cut, f, len);
        expect_refused(&s, cut, CNN_EFORMAT, NULL);
        int32_t epoch = 0;
        ck_assert_status(cnn_checkpoint_info(cut, &epoch), CNN_EFORMAT);
    }
    /* One byte too many. */
    uint8_t *longer = malloc(n + 1);
    memcpy(longer, f, n);
    longer[n] = 0;
    test_write_file(cut, longer, n + 1);
    expect_refused(&s, cut, CNN_EFORMAT, "trailing");
    printf("checkpoint of %zu bytes: all %zu truncations refused with CNN_EFORMAT\n", n, n);
    free(longer);
    free(f);
    free_sets(&s);
    test_rm_tree(dir);
}
END_TEST

/* Every byte flipped in turn: magic -> EFORMAT, version -> EVERSION or
 * EFORMAT, declared size -> EFORMAT, anything else -> ECHECKSUM (CRC-32
 * catches every error burst of up to 32 bits). */
START_TEST(byte_flips)
{
    sets s = make_sets();
    char dir[4096], path[4200], bad[4200];
    make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/run.ckpt", dir);
    snprintf(bad, sizeof bad, "%s/bad.ckpt", dir);
    write_checkpoint(&s, path, 2);
    size_t n;
    uint8_t *f = test_read_file(path, &n);
    int counts[3] = {0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < 2; k++) {
            uint8_t mask = k ? 0xff : (uint8_t)(1u << (i % 8));
            f[i] ^= mask;
            test_write_file(bad, f, n);
            cnn_status want = i < OFF_VERSION ? CNN_EFORMAT
                            : i < OFF_SIZE ? (test_get32(f + OFF_VERSION) == 0 ? CNN_EFORMAT : CNN_EVERSION)
                            : i < OFF_SIZE + 8 ? CNN_EFORMAT
                                               : CNN_ECHECKSUM;
            int32_t epoch = 0;
            ck_assert_status(cnn_checkpoint_info(bad, &epoch), want);
            /* Training needs a network: do it for a sample (it is slower). */
            if (i % 13 == 0 || i < OFF_STATE_LEN)
                expect_refused(&s, bad, want, NULL);
            counts[want == CNN_ECHECKSUM ? 0 : want == CNN_EFORMAT ? 1 : 2]++;
            f[i] ^= mask;
        }
    }
    printf("byte flips: %d CNN_ECHECKSUM, %d CNN_EFORMAT, %d CNN_EVERSION\n", counts[0],
           counts[1], counts[2]);
    free(f);
    free_sets(&s);
    test_rm_tree(dir);
}
END_TEST

/* Files with a valid CRC whose contents are wrong: a newer version, and
 * every field the reader range-checks. */
START_TEST(crafted_files)
{
    sets s = make_sets();
    char dir[4096], path[4200], bad[4200];
    make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/run.ckpt", dir);
    snprintf(bad, sizeof bad, "%s/bad.ckpt", dir);
    write_checkpoint(&s, path, 2);
    size_t n;
    uint8_t *orig = test_read_file(path, &n);
    uint8_t *f = malloc(n);
    size_t model_len = (size_t)test_get64(orig + OFF_MODEL_LEN);
    size_t st = OFF_MODEL + model_len;
    uint64_t np = test_get64(orig + st + 32);
    size_t order_at = st + STATE_LEN + 4 * (size_t)np;

    struct edit {
        size_t at;
        int width; /* 4 or 8 */
        uint64_t value;
        cnn_status want;
        const char *word;
    } edits[] = {
        {OFF_VERSION, 4, 3, CNN_EVERSION, "newer"},
        {OFF_VERSION, 4, 1, CNN_EFORMAT, "version 1 has 168"},
        {OFF_VERSION, 4, 0xffffffffu, CNN_EVERSION, "newer"},
        {OFF_VERSION, 4, 0, CNN_EFORMAT, "version 0"},
        {OFF_STATE_LEN, 4, STATE_LEN + 8, CNN_EFORMAT, "state record length"},
        {OFF_MODEL_LEN, 8, model_len + 4, CNN_EFORMAT, NULL},
        {OFF_MODEL_LEN, 8, n, CNN_EFORMAT, "model length"},
        {OFF_MODEL_LEN, 8, 10, CNN_EFORMAT, "model length"},
        {OFF_MODEL + 8, 4, 9, CNN_EVERSION, "model"},         /* the model's own version */
        {st + 0, 4, 0, CNN_EFORMAT, "epoch"},
        {st + 4, 4, 0, CNN_EFORMAT, "batch size"},
        {st + 8, 4, 2, CNN_EFORMAT, "shuffle"},
        {st + 12, 4, 7, CNN_EFORMAT, "optimizer kind"},
        {st + 24, 4, 0, CNN_EFORMAT, "training examples"},
        {st + 32, 8, np + 1, CNN_EFORMAT, "state count"},
        {st + 44, 4, 0x3f800000u, CNN_EFORMAT, "SGD"},       /* momentum 1.0 */
        {st + 52, 4, 3, CNN_EFORMAT, "best epoch"},
        {st + 64, 8, 0, CNN_EFORMAT, NULL},                   /* with the next three: all zero */
        {st + 128, 8, 0x4000000000000000u, CNN_EFORMAT, "accuracies"}, /* 2.0 */
        {st + 152, 8, np - 1, CNN_EFORMAT, "state count"},
        {st + 152, 8, 0, CNN_EFORMAT, "momentum count"},
        {st + 160, 8, COUNT - 1, CNN_EFORMAT, "order count"},
        {st + 12, 4, 2, CNN_EFORMAT, "Adam parameters"},      /* Adam with SGD's momentum */
        {st + 168, 4, 2, CNN_EFORMAT, "optimizer flag"},
        {st + 172, 4, 0x3f000000u, CNN_EFORMAT, "not zero for SGD"}, /* beta1 0.5 */
        {st + 184, 4, 0, CNN_EFORMAT, "current learning rate"},
        {st + 188, 4, 4, CNN_EFORMAT, "schedule"},
        {st + 196, 4, 0, CNN_EFORMAT, "schedule"},
        {order_at, 4, test_get32(orig + order_at + 4), CNN_EFORMAT, "permutation"},
        {order_at + 8, 4, COUNT, CNN_EFORMAT, "permutation"},
    };
    for (size_t e = 0; e < sizeof edits / sizeof edits[0]; e++) {
        memcpy(f, orig, n);
        if (edits[e].width == 4)
            test_put32(f + edits[e].at, (uint32_t)edits[e].value);
        else
            test_put64(f + edits[e].at, edits[e].value);
        if (edits[e].at == st + 64) /* the whole shuffling generator zero */
            memset(f + st + 64, 0, 32);
        if (edits[e].at == OFF_MODEL + 8) /* keep the embedded model's CRC right */
            test_put32(f + OFF_MODEL + model_len - 4,
                  (uint32_t)crc32(0L, f + OFF_MODEL, (uInt)(model_len - 4)));
        fix_crc(f, n);
        test_write_file(bad, f, n);
        expect_refused(&s, bad, edits[e].want, edits[e].word);
    }
    /* The embedded model damaged under a correct outer CRC: its own CRC. */
    memcpy(f, orig, n);
    f[OFF_MODEL + 40] ^= 1;
    fix_crc(f, n);
    test_write_file(bad, f, n);
    expect_refused(&s, bad, CNN_ECHECKSUM, "model");
    free(f);
    free(orig);
    free_sets(&s);
    test_rm_tree(dir);
}
END_TEST

/* A checkpoint of another network or another run is refused, and every
 * refusal leaves network, optimizer and generators as they were: the same
 * objects then resume correctly. */
START_TEST(mismatches)
{
    sets s = make_sets();
    char dir[4096], path[4200];
    make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/run.ckpt", dir);
    write_checkpoint(&s, path, 2);
    cnn_train_result ra;
    float *straight = train_straight(&s, &ra);

    /* Architecture: CNN_ESHAPE. */
    struct { int hidden; float dropout; int extra; const char *word; } archs[] = {
        {6, DROPOUT, 0, "'dense 5, sigmoid, dropout 0.3' there, 'dense 6, sigmoid, dropout 0.3' here"},
        {5, 0.5f, 0, "dropout"},
        {5, DROPOUT, 1, "layers"},
    };
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++) {
        cnn_net *net = make_net_with(NET_SEED, archs[i].hidden, archs[i].dropout, archs[i].extra);
        cnn_optimizer *opt = make_sgd();
        float *before = copy_params(net);
        cnn_train_result r;
        ck_assert_status(resume_on(&s, net, opt, path, &r), CNN_ESHAPE);
        ck_assert_msg(strstr(cnn_net_errmsg(net), archs[i].word) != NULL, "%s",
                      cnn_net_errmsg(net));
        ck_assert(memcmp(before, cnn_net_params(net), param_bytes(net)) == 0);
        free(before);
        cnn_optimizer_destroy(opt);
        cnn_net_destroy(net);
    }
    /* A different input shape. */
    {
        cnn_net *net = NULL;
        ck_assert_ok(cnn_net_create(C, H + 1, W, 1, &net));
        cnn_softmax_params sp;
        cnn_softmax_params_init(&sp, CLASSES);
        cnn_layer *l;
        ck_assert_ok(cnn_softmax_create(&sp, &l));
        ck_assert_ok(cnn_net_add(net, l));
        cnn_optimizer *opt = make_sgd();
        cnn_dataset *other = NULL;
        uint8_t px[2 * (H + 1) * W] = {0}, lb[2] = {0, 2};
        ck_assert_ok(cnn_dataset_create(2, C, H + 1, W, px, lb, &other));
        cnn_train_params p;
        cnn_train_params_init(&p, EPOCHS);
        p.batch_size = BATCH;
        p.shuffle = 1;
        p.seed = SEED;
        p.resume_path = path;
        ck_assert_status(cnn_train(net, opt, other, &p, NULL), CNN_ESHAPE);
        ck_assert_ptr_nonnull(strstr(cnn_net_errmsg(net), "inputs"));
        cnn_dataset_destroy(other);
        cnn_optimizer_destroy(opt);
        cnn_net_destroy(net);
    }

    /* Settings and optimizer: CNN_EINVAL, on one network and optimizer
     * that afterwards resume correctly. */
    cnn_net *net = make_scrambled_net();
    cnn_optimizer *opt = make_sgd();
    float *before = copy_params(net);
    cnn_dataset *fewer = NULL;
    ck_assert_ok(cnn_dataset_slice(s.train, 0, COUNT - 1, &fewer));
    for (int k = 0; k < 7; k++) {
        cnn_train_params p = params_for(&s, EPOCHS);
        p.resume_path = path;
        const cnn_dataset *train = s.train;
        const char *word = NULL;
        switch (k) {
        case 0: p.batch_size = BATCH - 1; word = "batch size 5"; break;
        case 1: p.seed = SEED + 1; word = "seed 77"; break;
        case 2: train = fewer; word = "23 training examples"; break;
        case 3: p.shuffle = 0; word = "shuffl"; break;
        case 4: p.epochs = 1; word = "epoch 2"; break;
        case 5: p.batch_size = 1000; word = "batch size"; break;
        case 6: p.seed = 0; word = "seed"; break;
        }
        ck_assert_status(cnn_train(net, opt, train, &p, NULL), CNN_EINVAL);
        ck_assert_msg(strstr(cnn_net_errmsg(net), word) != NULL, "%s", cnn_net_errmsg(net));
        ck_assert(memcmp(before, cnn_net_params(net), param_bytes(net)) == 0);
    }
    struct { float eta, mu, l2; const char *word; } opts[] = {
        {ETA * 2, MU, L2, "learning rate"}, {ETA, 0.5f, L2, "momentum"},
        {ETA, 0.0f, L2, "momentum"}, {ETA, MU, 0.0f, "l2"},
    };
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        cnn_optimizer *o = make_sgd_with(opts[i].eta, opts[i].mu, opts[i].l2);
        cnn_train_result r;
        ck_assert_status(resume_on(&s, net, o, path, &r), CNN_EINVAL);
        ck_assert_msg(strstr(cnn_net_errmsg(net), opts[i].word) != NULL, "%s",
                      cnn_net_errmsg(net));
        cnn_optimizer_destroy(o);
    }
    /* The refused calls changed nothing: the same objects resume exactly. */
    cnn_train_result rb;
    ck_assert_ok(resume_on(&s, net, opt, path, &rb));
    ck_assert(memcmp(straight, cnn_net_params(net), param_bytes(net)) == 0);
    assert_same_result(&ra, &rb);
    cnn_dataset_destroy(fewer);
    free(before);
    free(straight);
    cnn_optimizer_destroy(opt);
    cnn_net_destroy(net);
    free_sets(&s);
    test_rm_tree(dir);
}
END_TEST

/* ---- (d) a failed write ---------------------------------------------------- */

/* The write of epoch 3's checkpoint hits RLIMIT_FSIZE (which stops root as
 * well): training stops with CNN_EIO after that epoch, the checkpoint of
 * epoch 2 is byte for byte intact, no temporary file is left, and it still
 * resumes to the same weights. */
START_TEST(failed_write_keeps_previous_checkpoint)
{
    sets s = make_sets();
    char dir[4096], path[4200];
    make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/run.ckpt", dir);
    write_checkpoint(&s, path, 2);
    size_t old_n;
    uint8_t *old = test_read_file(path, &old_n);

    cnn_net *net = make_scrambled_net();
    cnn_optimizer *opt = make_sgd();
    cnn_train_params p = params_for(&s, EPOCHS);
    p.resume_path = path;
    p.checkpoint_path = path;
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit saved, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &saved), 0);
    lim = saved;
    lim.rlim_cur = 100;
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    cnn_train_result r = result_init();
    cnn_status st = cnn_train(net, opt, s.train, &p, &r);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &saved), 0);
    ck_assert_int_eq(st, CNN_EIO);
    ck_assert_msg(strstr(cnn_net_errmsg(net), "write") != NULL, "%s", cnn_net_errmsg(net));
    ck_assert_ptr_nonnull(strstr(cnn_net_errmsg(net), "run.ckpt"));
    ck_assert_int_eq(r.epochs_run, 3); /* the epoch was trained, its checkpoint failed */

    /* Every allocation of the resume and of the write can fail: each
     * failure is CNN_ENOMEM and leaves epoch 2's file as it was. */
    p.epochs = 3;
    int64_t k = 0;
    for (;; k++) {
        cnn_net *n2 = make_scrambled_net();
        cnn_optimizer *o2 = make_sgd();
        cnn_test_fail_alloc_after(k);
        st = cnn_train(n2, o2, s.train, &p, NULL);
        cnn_test_fail_alloc_after(-1);
        cnn_optimizer_destroy(o2);
        cnn_net_destroy(n2);
        ck_assert_msg(st == CNN_OK || st == CNN_ENOMEM, "%s", cnn_last_error());
        if (st == CNN_OK)
            break;
        size_t cur_n;
        uint8_t *cur = test_read_file(path, &cur_n);
        ck_assert(cur_n == old_n && memcmp(cur, old, old_n) == 0);
        free(cur);
        ck_assert_int_eq(test_dir_entries(dir), 1);
        ck_assert_msg(k < 10000, "no run completed");
    }
    ck_assert_int_gt(k, 5);
    printf("resume + epoch + checkpoint: each of its %lld allocations failed cleanly\n",
           (long long)k);
    test_write_file(path, old, old_n); /* the successful run wrote epoch 3 */

    size_t now_n;
    uint8_t *now = test_read_file(path, &now_n);
    ck_assert_uint_eq(now_n, old_n);
    ck_assert(memcmp(now, old, old_n) == 0);
    ck_assert_int_eq(test_dir_entries(dir), 1);

    cnn_train_result ra, rb;
    float *straight = train_straight(&s, &ra);
    cnn_net *b = make_scrambled_net();
    cnn_optimizer *ob = make_sgd();
    ck_assert_ok(resume_on(&s, b, ob, path, &rb));
    ck_assert(memcmp(straight, cnn_net_params(b), param_bytes(b)) == 0);
    free(straight);
    free(old);
    free(now);
    cnn_optimizer_destroy(ob);
    cnn_net_destroy(b);
    cnn_optimizer_destroy(opt);
    cnn_net_destroy(net);
    free_sets(&s);
    test_rm_tree(dir);
}
END_TEST

/* ---- params compatibility ------------------------------------------------- */

/* A caller built against the first cnn_train_params (no checkpoint fields)
 * passes struct_size 72: the fields beyond it are not read. */
START_TEST(old_struct_size_ignores_new_fields)
{
    sets s = make_sets();
    cnn_train_result ra;
    float *straight = train_straight(&s, &ra);
    cnn_net *net = make_net();
    cnn_optimizer *opt = make_sgd();
    cnn_train_params p = params_for(&s, EPOCHS);
    p.struct_size = (uint32_t)offsetof(cnn_train_params, checkpoint_path);
    ck_assert_uint_eq(p.struct_size, 72);
    p.checkpoint_path = "/nonexistent/dir/x.ckpt"; /* would fail if it were read */
    p.resume_path = "/nonexistent/x.ckpt";
    p.checkpoint_every = -5;
    ck_assert_ok(cnn_train(net, opt, s.train, &p, NULL));
    ck_assert(memcmp(straight, cnn_net_params(net), param_bytes(net)) == 0);
    /* Cut inside resume_path: checkpoint_path is taken, the rest is not. */
    p.struct_size = (uint32_t)offsetof(cnn_train_params, resume_path) + 4;
    p.checkpoint_path = "";
    ck_assert_status(cnn_train(net, opt, s.train, &p, NULL), CNN_EINVAL);
    ck_assert_ptr_nonnull(strstr(cnn_net_errmsg(net), "checkpoint_path"));
    cnn_train_params d;
    ck_assert_ok(cnn_train_params_init(&d, 3));
    ck_assert_ptr_null(d.checkpoint_path);
    ck_assert_ptr_null(d.resume_path);
    ck_assert_int_eq(d.checkpoint_every, 1);
    free(straight);
    cnn_optimizer_destroy(opt);
    cnn_net_destroy(net);
    free_sets(&s);
}
END_TEST

/* ---- figures -------------------------------------------------------------- */

/* Size and write time of a checkpoint of docs/performance.md's W2 (conv 20
 * 5x5 + pool 2, conv 40 5x5 + pool 2, FC 100, softmax 10) with momentum and
 * a shuffled 50,000-example order, written through the library's writer. */
START_TEST(figures_w2)
{
    cnn_net *net = NULL;
    ck_assert_ok(cnn_net_create(1, 28, 28, 1, &net));
    int maps[2] = {20, 40};
    for (int i = 0; i < 2; i++) {
        cnn_conv2d_params cp;
        cnn_conv2d_params_init(&cp, maps[i], 5, 5);
        cp.pool = CNN_POOL_MAX;
        cp.activation = CNN_ACT_RELU;
        cnn_layer *l;
        ck_assert_ok(cnn_conv2d_create(&cp, &l));
        ck_assert_ok(cnn_net_add(net, l));
    }
    cnn_dense_params dp;
    cnn_dense_params_init(&dp, 100);
    dp.activation = CNN_ACT_RELU;
    cnn_layer *l;
    ck_assert_ok(cnn_dense_create(&dp, &l));
    ck_assert_ok(cnn_net_add(net, l));
    cnn_softmax_params sp;
    cnn_softmax_params_init(&sp, 10);
    ck_assert_ok(cnn_softmax_create(&sp, &l));
    ck_assert_ok(cnn_net_add(net, l));
    int64_t np = cnn_net_param_count(net);
    enum { N = 50000 };
    float *vel = calloc((size_t)np, sizeof *vel);
    int64_t *order = malloc(N * sizeof *order);
    for (int64_t i = 0; i < N; i++)
        order[i] = N - 1 - i;
    cnn_ckpt c = {.epoch = 1, .batch_size = 10, .shuffle = 1, .seed = 1, .count = N,
                  .n_params = np, .opt_kind = CNNC_OPT_SGD, .learning_rate = 0.03f,
                  .momentum = 0.9f, .current_lr = 0.03f, .schedule_step = 1, .run_epochs = 1,
                  .shuffle_rng = {{1, 2, 3, 4}}, .dropout_rng = {{5, 6, 7, 8}},
                  .best_validation_accuracy = -1, .test_accuracy_at_best = -1,
                  .velocity = vel, .velocity_len = np, .order = order, .order_len = N};
    char dir[4096], path[4200];
    make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/w2.ckpt", dir);
    enum { REPS = 5 };
    double best = 1e9;
    for (int r = 0; r < REPS; r++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        ck_assert_ok(cnn_ckpt_save("test", net, &c, path));
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        if (s < best)
            best = s;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cnn_ckpt back;
    ck_assert_ok(cnn_ckpt_load("test", path, NULL, &back));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double load = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    ck_assert_int_eq(back.order_len, N);
    ck_assert_int_eq(back.order[0], N - 1);
    cnn_ckpt_free(&back);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    printf("W2 checkpoint (%lld parameters, momentum, 50000-example order): %lld bytes, "
           "written in %.1f ms (best of %d, fsync included), read back in %.1f ms\n",
           (long long)np, (long long)sb.st_size, best * 1e3, REPS, load * 1e3);
    free(vel);
    free(order);
    cnn_net_destroy(net);
    test_rm_tree(dir);
}
END_TEST

static Suite *checkpoint_suite(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("resume");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, resume_is_bit_identical, 0, 3);
    tcase_add_test(tc, resume_at_the_end_and_variants);
    tcase_add_test(tc, resume_after_sigkill);
    tcase_add_test(tc, layout_matches_the_spec);
    tcase_add_test(tc, shuffle_every_epoch);
    tcase_add_test(tc, old_struct_size_ignores_new_fields);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, argument_and_file_errors);
    tcase_add_test(tc, truncated_at_every_offset);
    tcase_add_test(tc, byte_flips);
    tcase_add_test(tc, crafted_files);
    tcase_add_test(tc, mismatches);
    tcase_add_test(tc, failed_write_keeps_previous_checkpoint);
    suite_add_tcase(s, tc);
    tc = tcase_create("figures");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, figures_w2);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(checkpoint_suite());
}
