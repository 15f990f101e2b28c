/* Checkpoints of cnn_train() (checkpoint.h; docs/format.md, "Checkpoint
 * format").
 *
 * Writing: the model bytes come from cnn_net_save_buffer(), so a
 * checkpoint's network is exactly a model file; the training state follows,
 * then a CRC over the whole file; the file is replaced atomically.
 *
 * Reading treats the file as hostile, in the model reader's order: magic
 * and version first (to tell "not a checkpoint" and "too new" from
 * "damaged"), then the declared size, then the CRC, and only then any other
 * field.  Every count is checked against the bytes actually present before
 * anything is allocated, the embedded model goes through the model loader
 * with all its checks, and the example order must be a permutation, since
 * the training loop indexes the dataset with it. */
#include "io/checkpoint.h"
#include "io/file_io.h"
#include "io/model_format.h"
#include "net/net.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Largest checkpoint the reader accepts: the largest model, its momentum,
 * and an order of 2^32 - 1 examples. */
#define CNNC_MAX_FILE_SIZE (3 * CNNM_MAX_FILE_SIZE + ((uint64_t)4 << 32))
#define CNNC_MIN_SIZE (CNNC_OFF_MODEL + CNNM_MIN_SIZE + CNNC_STATE_LEN_V1 + CNNC_CRC_LEN)

static uint64_t double_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double bits_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* ---- writing ------------------------------------------------------------- */

typedef struct wcur {
    uint8_t *p;
} wcur;

static void w32(wcur *w, uint32_t v)
{
    cnnm_put_u32(w->p, v);
    w->p += 4;
}

static void w64(wcur *w, uint64_t v)
{
    cnnm_put_u64(w->p, v);
    w->p += 8;
}

static void wrng(wcur *w, const cnn_rng *rng)
{
    for (int i = 0; i < 4; i++)
        w64(w, rng->s[i]);
}

cnn_status cnn_ckpt_save(const char *who, const cnn_net *net, const cnn_ckpt *c, const char *path)
{
    if (c->epoch < 1 || c->batch_size < 1 || c->count < 1 || c->n_params != net->n_params ||
        (c->velocity_len != 0 && c->velocity_len != c->n_params &&
         c->velocity_len != 2 * c->n_params) ||
        (c->order_len != 0 && c->order_len != c->count) || c->best_epoch < 0 ||
        c->best_epoch > c->epoch)
        return cnn_fail(CNN_EINVAL, "%s: inconsistent training state for checkpoint '%s'", who,
                        path);
    if ((uint64_t)c->order_len > UINT32_MAX)
        return cnn_fail(CNN_EINVAL, "%s: checkpoint '%s': %lld examples, the format stores at "
                        "most %lu", who, path, (long long)c->order_len, (unsigned long)UINT32_MAX);
    void *model = NULL;
    size_t model_len = 0;
    cnn_status st = cnn_net_save_buffer(net, &model, &model_len);
    if (st != CNN_OK)
        return st;
    /* Every term is bounded (model < 2^34, velocity < 2^34, order < 2^34),
     * so the sum cannot overflow 64 bits. */
    uint64_t total = (uint64_t)CNNC_OFF_MODEL + model_len + CNNC_STATE_LEN_V2 +
                     4u * (uint64_t)c->velocity_len + 4u * (uint64_t)c->order_len + CNNC_CRC_LEN;
    uint8_t *buf = total <= SIZE_MAX ? cnn_alloc((size_t)total) : NULL;
    if (!buf) {
        cnn_free(model);
        return cnn_fail(CNN_ENOMEM, "%s: cannot allocate %llu bytes for checkpoint '%s'", who,
                        (unsigned long long)total, path);
    }
    size_t size = (size_t)total;
    wcur w = {buf};
    memcpy(w.p, CNNC_MAGIC, CNNC_MAGIC_LEN); /* the string's NUL is the 8th byte */
    w.p += CNNC_MAGIC_LEN;
    w32(&w, CNNC_VERSION);
    w64(&w, total);
    w32(&w, CNNC_STATE_LEN_V2);
    w64(&w, (uint64_t)model_len);
    memcpy(w.p, model, model_len);
    w.p += model_len;
    cnn_free(model);

    w32(&w, (uint32_t)c->epoch);
    w32(&w, (uint32_t)c->batch_size);
    w32(&w, c->shuffle ? 1u : 0u);
    w32(&w, c->opt_kind);
    w64(&w, c->seed);
    w64(&w, (uint64_t)c->count);
    w64(&w, (uint64_t)c->n_params);
    w32(&w, cnnm_float_bits(c->learning_rate));
    w32(&w, cnnm_float_bits(c->momentum));
    w32(&w, cnnm_float_bits(c->l2));
    w32(&w, (uint32_t)c->best_epoch);
    w64(&w, (uint64_t)c->l2_batches);
    wrng(&w, &c->shuffle_rng);
    wrng(&w, &c->dropout_rng);
    w64(&w, double_bits(c->best_validation_accuracy));
    w64(&w, double_bits(c->test_accuracy_at_best));
    w64(&w, double_bits(c->final_train_cost));
    w64(&w, (uint64_t)c->velocity_len);
    w64(&w, (uint64_t)c->order_len);
    /* version 2 */
    w32(&w, c->opt_flag ? 1u : 0u);
    w32(&w, cnnm_float_bits(c->beta1));
    w32(&w, cnnm_float_bits(c->beta2));
    w32(&w, cnnm_float_bits(c->epsilon));
    w32(&w, cnnm_float_bits(c->current_lr));
    w32(&w, (uint32_t)c->schedule);
    w32(&w, cnnm_float_bits(c->schedule_gamma));
    w32(&w, (uint32_t)c->schedule_step);
    w32(&w, c->schedule_step_epochs ? 1u : 0u);
    w32(&w, cnnm_float_bits(c->warmup_fraction));
    w32(&w, cnnm_float_bits(c->initial_lr_fraction));
    w32(&w, cnnm_float_bits(c->final_lr_fraction));
    w64(&w, (uint64_t)c->opt_steps);
    w32(&w, (uint32_t)c->run_epochs);
    w32(&w, 0u); /* reserved */
    for (int64_t i = 0; i < c->velocity_len; i++)
        w32(&w, cnnm_float_bits(c->velocity[i]));
    for (int64_t i = 0; i < c->order_len; i++)
        w32(&w, (uint32_t)c->order[i]);
    w32(&w, cnnm_crc32(buf, size - CNNC_CRC_LEN));

    st = cnn_io_replace_file(who, path, buf, size);
    cnn_dealloc(buf);
    return st;
}

/* ---- reading ------------------------------------------------------------- */

/* Where the parts of a checked file lie. */
typedef struct layout {
    uint32_t version, state_len;
    size_t model_at, model_len;
    size_t state_at;
    size_t velocity_at, order_at;
} layout;

static cnn_status bad(const char *who, const char *fmt, ...) CNN_PRINTF(2, 3);
static cnn_status bad(const char *who, const char *fmt, ...)
{
    char msg[CNN_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cnn_fail(CNN_EFORMAT, "%s: %s", who, msg);
}

/* Magic, version, size, CRC and the fixed lengths; allocates nothing. */
static cnn_status check_frame(const char *who, const uint8_t *d, size_t size, layout *lay)
{
    if (size < CNNC_MAGIC_LEN || memcmp(d, CNNC_MAGIC, CNNC_MAGIC_LEN) != 0) {
        bool model = size >= CNNM_MAGIC_LEN && memcmp(d, CNNM_MAGIC, CNNM_MAGIC_LEN) == 0;
        return bad(who, "not a libcnn checkpoint: bad magic at offset 0%s",
                   model ? " (this is a model file; checkpoints are written by cnn_train)" : "");
    }
    if (size < CNNC_OFF_VERSION + 4)
        return bad(who, "truncated at offset %zu: no format version", size);
    uint32_t version = cnnm_get_u32(d + CNNC_OFF_VERSION);
    if (version > CNNC_VERSION)
        return cnn_fail(CNN_EVERSION,
                        "%s: checkpoint format version %u is newer than this library reads (%u); "
                        "upgrade libcnn",
                        who, version, CNNC_VERSION);
    if (version == 0)
        return bad(who, "checkpoint format version 0 at offset %d is invalid", CNNC_OFF_VERSION);
    if (size < CNNC_MIN_SIZE)
        return bad(who, "truncated: %zu bytes, a checkpoint has at least %u", size,
                   (unsigned)CNNC_MIN_SIZE);
    uint64_t declared = cnnm_get_u64(d + CNNC_OFF_FILE_SIZE);
    if (declared != size)
        return bad(who, "%s: the header at offset %d says %llu bytes, got %zu",
                   declared > size ? "truncated" : "trailing data", CNNC_OFF_FILE_SIZE,
                   (unsigned long long)declared, size);
    uint32_t stored = cnnm_get_u32(d + size - CNNC_CRC_LEN);
    uint32_t actual = cnnm_crc32(d, size - CNNC_CRC_LEN);
    if (stored != actual)
        return cnn_fail(CNN_ECHECKSUM,
                        "%s: checkpoint checksum mismatch: CRC-32 at offset %zu is 0x%08x, "
                        "contents give 0x%08x",
                        who, size - CNNC_CRC_LEN, stored, actual);
    uint32_t state_len = cnnm_get_u32(d + CNNC_OFF_STATE_LEN);
    uint32_t want_len = version == 1 ? CNNC_STATE_LEN_V1 : CNNC_STATE_LEN_V2;
    if (state_len != want_len)
        return bad(who, "state record length %u at offset %d, version %u has %u", state_len,
                   CNNC_OFF_STATE_LEN, version, want_len);
    if (size < CNNC_MIN_SIZE + (state_len - CNNC_STATE_LEN_V1))
        return bad(who, "truncated: %zu bytes, a version %u checkpoint has at least %u", size,
                   version, (unsigned)(CNNC_MIN_SIZE + (state_len - CNNC_STATE_LEN_V1)));
    uint64_t model_len = cnnm_get_u64(d + CNNC_OFF_MODEL_LEN);
    size_t room = size - (CNNC_OFF_MODEL + state_len + CNNC_CRC_LEN);
    if (model_len < CNNM_MIN_SIZE || model_len > room)
        return bad(who, "model length %llu at offset %d: %zu bytes are available, a model has "
                   "at least %u", (unsigned long long)model_len, CNNC_OFF_MODEL_LEN, room,
                   (unsigned)CNNM_MIN_SIZE);
    lay->model_at = CNNC_OFF_MODEL;
    lay->model_len = (size_t)model_len;
    lay->state_at = CNNC_OFF_MODEL + (size_t)model_len;
    lay->velocity_at = lay->state_at + state_len;
    lay->version = version;
    lay->state_len = state_len;
    return CNN_OK;
}

static cnn_rng get_rng(const uint8_t *p)
{
    cnn_rng r;
    for (int i = 0; i < 4; i++)
        r.s[i] = cnnm_get_u64(p + 8 * i);
    return r;
}

/* Decodes and range-checks the state record; allocates nothing.  Offsets
 * in messages are from the start of the file. */
static cnn_status read_state(const char *who, const uint8_t *d, size_t size, layout *lay,
                             cnn_ckpt *c)
{
    const uint8_t *s = d + lay->state_at;
    size_t at = lay->state_at;
    uint32_t epoch = cnnm_get_u32(s + 0), batch = cnnm_get_u32(s + 4);
    uint32_t shuffle = cnnm_get_u32(s + 8), opt = cnnm_get_u32(s + 12);
    uint64_t count = cnnm_get_u64(s + 24), n_params = cnnm_get_u64(s + 32);
    uint32_t best = cnnm_get_u32(s + 52);
    uint64_t l2_batches = cnnm_get_u64(s + 56);
    if (epoch < 1 || epoch > INT32_MAX)
        return bad(who, "epoch %u at offset %zu is outside 1..%d", epoch, at, INT32_MAX);
    if (batch < 1 || batch > INT32_MAX)
        return bad(who, "batch size %u at offset %zu is outside 1..%d", batch, at + 4, INT32_MAX);
    if (shuffle > 1)
        return bad(who, "shuffle flag %u at offset %zu is not 0 or 1", shuffle, at + 8);
    if (opt != CNNC_OPT_SGD && !(opt == CNNC_OPT_ADAM && lay->version >= 2))
        return bad(who, "unknown optimizer kind code %u at offset %zu", opt, at + 12);
    if (count < 1 || count > UINT32_MAX)
        return bad(who, "%llu training examples at offset %zu, outside 1..%lu",
                   (unsigned long long)count, at + 24, (unsigned long)UINT32_MAX);
    if (n_params > CNNM_MAX_PARAMS)
        return bad(who, "%llu parameters at offset %zu, the limit is %llu",
                   (unsigned long long)n_params, at + 32, (unsigned long long)CNNM_MAX_PARAMS);
    float lr = cnnm_bits_float(cnnm_get_u32(s + 40));
    float mu = cnnm_bits_float(cnnm_get_u32(s + 44));
    float l2 = cnnm_bits_float(cnnm_get_u32(s + 48));
    if (!(lr > 0.0f) || !isfinite(lr) || !(mu >= 0.0f && mu < 1.0f) || !(l2 >= 0.0f) ||
        !isfinite(l2) || (opt == CNNC_OPT_ADAM && mu != 0.0f))
        return bad(who, "%s parameters at offset %zu out of range (rate %g, momentum %g, "
                   "%s %g)", opt == CNNC_OPT_ADAM ? "Adam" : "SGD", at + 40, (double)lr,
                   (double)mu, opt == CNNC_OPT_ADAM ? "weight decay" : "l2", (double)l2);
    /* Version 1: SGD, classical momentum, no schedule, the creation rate. */
    uint32_t flag = 0, sched = 0, sched_step = 1, sched_epochs = 0;
    float beta1 = 0.0f, beta2 = 0.0f, eps = 0.0f, cur = lr;
    float gamma = 0.1f, warm = 0.3f, init_frac = 0.04f, final_frac = 0.0f;
    uint64_t steps = 0;
    uint32_t run_epochs = 0;
    if (lay->version >= 2) {
        const uint8_t *e = s + CNNC_STATE_LEN_V1;
        size_t eat = at + CNNC_STATE_LEN_V1;
        flag = cnnm_get_u32(e + 0);
        beta1 = cnnm_bits_float(cnnm_get_u32(e + 4));
        beta2 = cnnm_bits_float(cnnm_get_u32(e + 8));
        eps = cnnm_bits_float(cnnm_get_u32(e + 12));
        cur = cnnm_bits_float(cnnm_get_u32(e + 16));
        sched = cnnm_get_u32(e + 20);
        gamma = cnnm_bits_float(cnnm_get_u32(e + 24));
        sched_step = cnnm_get_u32(e + 28);
        sched_epochs = cnnm_get_u32(e + 32);
        warm = cnnm_bits_float(cnnm_get_u32(e + 36));
        init_frac = cnnm_bits_float(cnnm_get_u32(e + 40));
        final_frac = cnnm_bits_float(cnnm_get_u32(e + 44));
        steps = cnnm_get_u64(e + 48);
        run_epochs = cnnm_get_u32(e + 56);
        if (run_epochs < epoch || run_epochs > INT32_MAX || cnnm_get_u32(e + 60) != 0)
            return bad(who, "run length %u epochs at offset %zu is before epoch %u or its "
                       "reserved word is not zero", run_epochs, eat + 56, epoch);
        if (flag > 1)
            return bad(who, "optimizer flag %u at offset %zu is not 0 or 1", flag, eat);
        if (opt == CNNC_OPT_SGD && flag && mu == 0.0f)
            return bad(who, "Nesterov flag at offset %zu with momentum 0", eat);
        if (opt == CNNC_OPT_ADAM &&
            (!(beta1 >= 0.0f && beta1 < 1.0f) || !(beta2 >= 0.0f && beta2 < 1.0f) ||
             !(eps > 0.0f) || !isfinite(eps)))
            return bad(who, "Adam parameters at offset %zu out of range (beta1 %g, beta2 %g, "
                       "epsilon %g)", eat + 4, (double)beta1, (double)beta2, (double)eps);
        if (opt == CNNC_OPT_SGD && (beta1 != 0.0f || beta2 != 0.0f || eps != 0.0f))
            return bad(who, "Adam fields at offset %zu are not zero for SGD", eat + 4);
        if (!(cur > 0.0f) || !isfinite(cur))
            return bad(who, "current learning rate %g at offset %zu, must be finite and > 0",
                       (double)cur, eat + 16);
        if (sched > 3 || sched_step < 1 || sched_step > INT32_MAX || sched_epochs > 1 ||
            !isfinite(gamma) || !isfinite(warm) || !isfinite(init_frac) || !isfinite(final_frac))
            return bad(who, "schedule settings at offset %zu out of range (schedule %u, step %u, "
                       "epochs flag %u)", eat + 20, sched, sched_step, sched_epochs);
        if (steps > INT64_MAX)
            return bad(who, "step count %llu at offset %zu is too large",
                       (unsigned long long)steps, eat + 48);
    }
    if (best > epoch)
        return bad(who, "best epoch %u at offset %zu is after the last epoch %u", best, at + 52,
                   epoch);
    if (l2_batches > INT64_MAX)
        return bad(who, "l2_batches %llu at offset %zu is too large",
                   (unsigned long long)l2_batches, at + 56);
    c->shuffle_rng = get_rng(s + 64);
    c->dropout_rng = get_rng(s + 96);
    for (int k = 0; k < 2; k++) {
        const cnn_rng *r = k ? &c->dropout_rng : &c->shuffle_rng;
        if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0)
            return bad(who, "the %s generator's state at offset %zu is all zero",
                       k ? "dropout" : "shuffling", at + (k ? 96 : 64));
    }
    double best_val = bits_double(cnnm_get_u64(s + 128));
    double test_best = bits_double(cnnm_get_u64(s + 136));
    if (!(best_val >= -1.0 && best_val <= 1.0) || !(test_best >= -1.0 && test_best <= 1.0))
        return bad(who, "accuracies at offset %zu are outside [-1, 1] (%g, %g)", at + 128,
                   best_val, test_best);
    uint64_t v = cnnm_get_u64(s + 152), k = cnnm_get_u64(s + 160);
    const uint64_t buffers = opt == CNNC_OPT_ADAM ? 2 : 1;
    if (v != 0 && v != buffers * n_params)
        return bad(who, "optimizer state count %llu at offset %zu is neither 0 nor %llu x the "
                   "parameter count %llu", (unsigned long long)v, at + 152,
                   (unsigned long long)buffers, (unsigned long long)n_params);
    if (opt == CNNC_OPT_SGD && (v != 0) != (mu > 0.0f))
        return bad(who, "momentum count %llu at offset %zu does not fit momentum %g",
                   (unsigned long long)v, at + 152, (double)mu);
    if (k != (shuffle ? count : 0))
        return bad(who, "order count %llu at offset %zu, expected %llu", (unsigned long long)k,
                   at + 160, (unsigned long long)(shuffle ? count : 0));
    /* v <= 2^32 and k < 2^32, so 4v + 4k fits in 64 bits. */
    uint64_t left = size - CNNC_CRC_LEN - lay->velocity_at;
    if (4u * v + 4u * k != left)
        return bad(who, "momentum and order need %llu bytes after offset %zu, the file has %llu",
                   (unsigned long long)(4u * v + 4u * k), lay->velocity_at,
                   (unsigned long long)left);
    lay->order_at = lay->velocity_at + (size_t)(4u * v);

    c->epoch = (int32_t)epoch;
    c->batch_size = (int32_t)batch;
    c->shuffle = (int32_t)shuffle;
    c->seed = cnnm_get_u64(s + 16);
    c->count = (int64_t)count;
    c->n_params = (int64_t)n_params;
    c->opt_kind = opt;
    c->learning_rate = lr;
    c->momentum = mu;
    c->l2 = l2;
    c->l2_batches = (int64_t)l2_batches;
    c->best_epoch = (int32_t)best;
    c->best_validation_accuracy = best_val;
    c->test_accuracy_at_best = test_best;
    c->final_train_cost = bits_double(cnnm_get_u64(s + 144));
    c->velocity_len = (int64_t)v;
    c->order_len = (int64_t)k;
    c->opt_flag = (int32_t)flag;
    c->beta1 = beta1;
    c->beta2 = beta2;
    c->epsilon = eps;
    c->current_lr = cur;
    c->opt_steps = (int64_t)steps;
    c->run_epochs = (int32_t)run_epochs;
    c->schedule = (int32_t)sched;
    c->schedule_step = (int32_t)sched_step;
    c->schedule_step_epochs = (int32_t)sched_epochs;
    c->schedule_gamma = gamma;
    c->warmup_fraction = warm;
    c->initial_lr_fraction = init_frac;
    c->final_lr_fraction = final_frac;
    return CNN_OK;
}

/* The model, momentum and order; allocates them into c. */
static cnn_status read_payload(const char *who, const uint8_t *d, const layout *lay,
                               const cnn_load_limits *limits, cnn_ckpt *c)
{
    cnn_status st = cnn_net_load_buffer_limited(d + lay->model_at, lay->model_len, limits,
                                                &c->model);
    if (st != CNN_OK) {
        char msg[CNN_ERRMSG_MAX];
        snprintf(msg, sizeof msg, "%s", cnn_errmsg_current());
        return cnn_fail(st, "%s: the model at offset %zu: %s", who, lay->model_at, msg);
    }
    if (c->model->n_params != c->n_params)
        return bad(who, "the state record says %lld parameters, the model has %lld",
                   (long long)c->n_params, (long long)c->model->n_params);
    if (c->velocity_len > 0) {
        c->velocity = cnn_alloc_array((size_t)c->velocity_len, sizeof *c->velocity);
        if (!c->velocity)
            return cnn_fail(CNN_ENOMEM, "%s: out of memory for %lld momentum values", who,
                            (long long)c->velocity_len);
        const uint8_t *p = d + lay->velocity_at;
        for (int64_t i = 0; i < c->velocity_len; i++, p += 4)
            c->velocity[i] = cnnm_bits_float(cnnm_get_u32(p));
    }
    if (c->order_len > 0) {
        size_t n = (size_t)c->order_len;
        c->order = cnn_alloc_array(n, sizeof *c->order);
        uint8_t *seen = cnn_alloc_zeroed(n / 8 + 1, 1);
        if (!c->order || !seen) {
            cnn_dealloc(seen);
            return cnn_fail(CNN_ENOMEM, "%s: out of memory for an order of %zu examples", who, n);
        }
        const uint8_t *p = d + lay->order_at;
        for (size_t i = 0; i < n; i++, p += 4) {
            uint32_t x = cnnm_get_u32(p);
            if (x >= n || (seen[x / 8] >> (x % 8) & 1u)) {
                cnn_dealloc(seen);
                return bad(who, "the example order is not a permutation: entry %zu at offset %zu "
                           "is %u", i, lay->order_at + 4 * i, x);
            }
            seen[x / 8] |= (uint8_t)(1u << (x % 8));
            c->order[i] = x;
        }
        cnn_dealloc(seen);
    }
    return CNN_OK;
}

void cnn_ckpt_free(cnn_ckpt *c)
{
    cnn_net_destroy(c->model);
    cnn_dealloc(c->velocity);
    cnn_dealloc(c->order);
    memset(c, 0, sizeof *c);
}

/* Re-reports the current message with the file named at the end. */
static cnn_status name_file(cnn_status st, const char *path)
{
    char msg[CNN_ERRMSG_MAX];
    snprintf(msg, sizeof msg, "%s", cnn_errmsg_current());
    return cnn_fail(st, "%s (checkpoint '%s')", msg, path);
}

/* Reads the file and checks everything up to the state record. */
static cnn_status read_checked(const char *who, const char *path, uint8_t **buf, size_t *size,
                               layout *lay, cnn_ckpt *c)
{
    cnn_status st = cnn_io_read_file(who, "checkpoint", path, CNNC_MAX_FILE_SIZE, buf, size);
    if (st != CNN_OK)
        return st; /* the message names the file */
    st = check_frame(who, *buf, *size, lay);
    if (st == CNN_OK)
        st = read_state(who, *buf, *size, lay, c);
    return st;
}

cnn_status cnn_ckpt_load(const char *who, const char *path, const cnn_load_limits *limits,
                         cnn_ckpt *c)
{
    memset(c, 0, sizeof *c);
    uint8_t *buf = NULL;
    size_t size = 0;
    layout lay = {0};
    cnn_status st = read_checked(who, path, &buf, &size, &lay, c);
    if (st == CNN_OK)
        st = read_payload(who, buf, &lay, limits, c);
    if (st != CNN_OK && buf)
        st = name_file(st, path);
    cnn_dealloc(buf);
    if (st != CNN_OK)
        cnn_ckpt_free(c);
    return st;
}

cnn_status cnn_checkpoint_info(const char *path, int32_t *epoch)
{
    static const char who[] = "cnn_checkpoint_info";
    if (epoch)
        *epoch = 0;
    if (!path || !path[0] || !epoch)
        return cnn_fail(CNN_EINVAL, "%s: %s", who,
                        !path ? "path is NULL" : !path[0] ? "path is empty" : "epoch is NULL");
    uint8_t *buf = NULL;
    size_t size = 0;
    layout lay = {0};
    cnn_ckpt c;
    memset(&c, 0, sizeof c);
    cnn_status st = read_checked(who, path, &buf, &size, &lay, &c);
    if (st != CNN_OK && buf)
        st = name_file(st, path);
    cnn_dealloc(buf);
    if (st == CNN_OK)
        *epoch = c.epoch;
    return st;
}
