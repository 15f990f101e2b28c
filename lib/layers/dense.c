/* Fully connected layer y = act(W x + b), W (out, in), with network3-style
 * dropout on its input.  The affine part (with dropout) is shared with the
 * softmax layer. */
#include "layer.h"
#include "kernels/kernels.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define NAME "dense"

static void dense_defaults(void *params);

/* ---- the affine part, shared with softmax.c ------------------------------ */

/* Splitting one small-batch affine call over the network's workers.  Each
 * part owns a slice of outputs (forward, weight update) or of input
 * features (dx), so parts write disjoint memory and every element is summed
 * exactly as on one thread: results do not depend on the thread count.
 * Worth it only where the work dwarfs a job hand-off (a few microseconds):
 * W1's 784x100 layer at batch 10 is ~0.8 M multiply-adds, ~25 us. */
#define AFFINE_SPLIT_MIN_MACS (1 << 18)

enum { JOB_FWD, JOB_DX, JOB_DW, JOB_SGD };

typedef struct affine_job {
    int kind, n, in, out, threads;
    const float *x, *b, *dz;
    float *w, *y, *dx, *dw;
    float alpha, eta, decay;
} affine_job;

/* Part t of T of `units` units of `unit` elements, as [*lo, *hi) clipped to total. */
static void slice(int total, int unit, int t, int threads, int *lo, int *hi)
{
    const int units = (total + unit - 1) / unit;
    *lo = (int)((int64_t)units * t / threads) * unit;
    *hi = (int)((int64_t)units * (t + 1) / threads) * unit;
    if (*hi > total)
        *hi = total;
}

static void affine_part(void *ctx, int t)
{
    const affine_job *j = ctx;
    int lo, hi;
    switch (j->kind) {
    case JOB_FWD: /* the forward kernel's blocks are 3 outputs */
        slice(j->out, 3, t, j->threads, &lo, &hi);
        if (lo < hi)
            cnn_k_dense_fwd_rows(j->n, j->in, j->out, j->x, j->w, j->b, j->alpha, j->y, lo, hi);
        break;
    case JOB_DX: /* 24 input features per block */
        slice(j->in, 24, t, j->threads, &lo, &hi);
        if (lo < hi)
            cnn_k_dense_bwd_data_cols(j->n, j->in, j->out, j->dz, j->w, j->dx, lo, hi);
        break;
    case JOB_DW: /* 4 weight rows per block */
        slice(j->out, 4, t, j->threads, &lo, &hi);
        if (lo < hi)
            cnn_k_dense_bwd_weights_rows(j->n, j->in, j->out, j->x, j->dz, j->dw, lo, hi);
        break;
    default:
        slice(j->out, 4, t, j->threads, &lo, &hi);
        if (lo < hi)
            cnn_k_dense_sgd_rows(j->n, j->in, j->out, j->x, j->dz, j->w, j->eta, j->decay, lo, hi);
        break;
    }
}

/* Aux slots of dense and softmax layers. */
enum { AUX_MASK, AUX_PRE };

/* Whether this call is split over ctx->pool. */
static bool affine_splits(const cnn_layer_ctx *ctx, int n, int in, int out)
{
    return ctx->pool && n <= CNN_K_DENSE_SMALL_N &&
           (int64_t)n * in * out >= AFFINE_SPLIT_MIN_MACS;
}

bool cnn_affine_uses_workers(const cnn_layer *l)
{
    /* Small layers never pay for a job hand-off at any batch size. */
    return l->n_weights >= 16384;
}

static void affine_run(const cnn_layer_ctx *ctx, affine_job *j)
{
    j->threads = cnn_pool_threads(ctx->pool);
    cnn_pool_run(ctx->pool, affine_part, j);
}

/* y = alpha * x W^T + b, split over the workers where that pays. */
static void affine_fwd(cnn_layer *l, int n, int in, int out, const float *x, float alpha,
                       float *y, const cnn_layer_ctx *ctx)
{
    if (!affine_splits(ctx, n, in, out)) {
        cnn_k_dense_fwd(n, in, out, x, l->w, l->b, alpha, y);
        return;
    }
    affine_job j = {.kind = JOB_FWD, .n = n, .in = in, .out = out, .x = x, .w = l->w,
                    .b = l->b, .alpha = alpha, .y = y};
    affine_run(ctx, &j);
}

cnn_status cnn_affine_reserve(cnn_layer *l, int n, int in, float dropout)
{
    if (dropout <= 0.0f)
        return CNN_OK;
    size_t count = (size_t)n * (size_t)in;
    cnn_status st = cnn_aux_reserve(l, AUX_MASK, count, 1);
    if (st == CNN_OK)
        st = cnn_aux_reserve(l, AUX_PRE, count, sizeof(float));
    return st;
}

/* Training: each input is kept with probability 1-p (a fresh mask per
 * example) and not rescaled; inference: the weighted input is scaled by 1-p,
 * which matches the training expectation.  This is network3's form. */
void cnn_affine_forward(cnn_layer *l, int n, int in, int out, float dropout, const float *x,
                        float *y, const cnn_layer_ctx *ctx)
{
    if (dropout <= 0.0f) {
        affine_fwd(l, n, in, out, x, 1.0f, y, ctx);
        return;
    }
    if (ctx->mode != CNN_MODE_TRAIN) {
        affine_fwd(l, n, in, out, x, 1.0f - dropout, y, ctx);
        return;
    }
    cnn_rng *rng = ctx->rng;
    size_t count = (size_t)n * (size_t)in;
    uint8_t *mask = l->aux.buf[AUX_MASK];
    float *pre = l->aux.buf[AUX_PRE];
    /* Keep when a uniform 24-bit draw u satisfies u / 2^24 >= p, the same
     * test and probability as cnn_rng_uniform(rng) >= p, but each 64-bit
     * draw serves two elements (its top and next 24 bits): half the
     * generator calls.  Deterministic: the stream is consumed in order. */
    const double t = ceil((double)dropout * 16777216.0);
    const uint32_t keep_from = (uint32_t)t; /* <= 2^24 since p < 1 */
    size_t i = 0;
    for (; i + 2 <= count; i += 2) {
        const uint64_t r = cnn_rng_next(rng);
        mask[i] = (uint32_t)(r >> 40) >= keep_from;
        mask[i + 1] = (uint32_t)((r >> 16) & 0xFFFFFFu) >= keep_from;
    }
    if (i < count)
        mask[i] = (uint32_t)(cnn_rng_next(rng) >> 40) >= keep_from;
    cnn_k_dropout_apply(count, x, mask, pre);
    affine_fwd(l, n, in, out, pre, 1.0f, y, ctx);
}

void cnn_affine_backward(cnn_layer *l, int n, int in, int out, float dropout, const float *x,
                         const float *dz, float *dx, const cnn_layer_ctx *ctx)
{
    const uint8_t *mask = l->aux.buf[AUX_MASK];
    const float *seen = dropout > 0.0f ? l->aux.buf[AUX_PRE] : x; /* the input the weights saw */
    const cnn_sgd_fused *sgd = ctx->sgd;
    if (affine_splits(ctx, n, in, out)) {
        affine_job j = {.n = n, .in = in, .out = out, .x = seen, .dz = dz, .w = l->w,
                        .dx = dx, .dw = l->dw, .eta = sgd ? sgd->eta : 0.0f,
                        .decay = sgd ? sgd->decay : 1.0f};
        /* dx first: it needs the weights from before this step's update. */
        if (dx) {
            j.kind = JOB_DX;
            affine_run(ctx, &j);
            if (dropout > 0.0f)
                cnn_k_dropout_apply((size_t)n * (size_t)in, dx, mask, dx);
        }
        j.kind = sgd ? JOB_SGD : JOB_DW;
        affine_run(ctx, &j);
        if (l->db)
            cnn_k_dense_bias_grad(n, out, dz, l->db);
        return;
    }
    if (sgd) {
        /* dx first: it needs the weights from before this step's update. */
        if (dx) {
            cnn_k_dense_bwd_data(n, in, out, dz, l->w, dx);
            if (dropout > 0.0f)
                cnn_k_dropout_apply((size_t)n * (size_t)in, dx, mask, dx);
        }
        cnn_k_dense_bwd_weights_sgd(n, in, out, seen, dz, l->dw, l->w, l->db, sgd->eta,
                                    sgd->decay);
        return;
    }
    cnn_k_dense_bwd_weights(n, in, out, seen, dz, l->dw, l->db);
    if (!dx)
        return;
    cnn_k_dense_bwd_data(n, in, out, dz, l->w, dx);
    if (dropout > 0.0f)
        cnn_k_dropout_apply((size_t)n * (size_t)in, dx, mask, dx);
}

/* ---- the dense layer ------------------------------------------------------ */

static const cnn_dense_params *P(const cnn_layer *l)
{
    return l->params;
}

static cnn_status dense_out_shape(const cnn_layer *l, const int32_t in[3], int32_t out[3])
{
    int64_t features = cnn_shape_numel3(in);
    if (P(l)->in_features && features != P(l)->in_features)
        return cnn_fail(CNN_ESHAPE, NAME ": input %dx%dx%d has %lld features, layer expects %d",
                        in[0], in[1], in[2], (long long)features, P(l)->in_features);
    if (features > CNN_MAX_FEATURES)
        return cnn_fail(CNN_ESHAPE, NAME ": input %dx%dx%d has %lld features, more than %d",
                        in[0], in[1], in[2], (long long)features, CNN_MAX_FEATURES);
    out[0] = P(l)->out_features;
    out[1] = out[2] = 1;
    return CNN_OK;
}

static cnn_status dense_bind(cnn_layer *l, const int32_t in[3])
{
    cnn_dense_params *p = l->params;
    int64_t features = cnn_shape_numel3(in);
    int64_t nw = features * p->out_features;
    if (features > CNN_MAX_FEATURES || nw > INT32_MAX)
        return cnn_fail(CNN_EINVAL, NAME ": %lld x %d weights is too many", (long long)features,
                        p->out_features);
    p->in_features = (int32_t)features;
    l->n_weights = nw;
    l->n_biases = p->out_features;
    l->w_ndim = 2;
    l->w_shape[0] = p->out_features;
    l->w_shape[1] = features;
    l->bound = true;
    return CNN_OK;
}

static void dense_init(cnn_layer *l, cnn_rng *rng)
{
    const cnn_dense_params *p = P(l);
    cnn_init_fill(rng, p->init, l->w, l->n_weights, l->b, l->n_biases, p->in_features,
                  p->out_features, p->out_features);
}

static cnn_status dense_reserve(cnn_layer *l, int n)
{
    return cnn_affine_reserve(l, n, P(l)->in_features, P(l)->dropout);
}

static void dense_forward(cnn_layer *l, int n, const float *x, float *y, const cnn_layer_ctx *ctx)
{
    const cnn_dense_params *p = P(l);
    cnn_affine_forward(l, n, p->in_features, p->out_features, p->dropout, x, y, ctx);
    cnn_k_act_fwd(p->activation, (size_t)n * p->out_features, y, y);
}

static void dense_backward(cnn_layer *l, int n, const float *x, const float *y, float *dy,
                           float *dx, const cnn_layer_ctx *ctx)
{
    const cnn_dense_params *p = P(l);
    cnn_k_act_bwd(p->activation, (size_t)n * p->out_features, y, dy, dy);
    cnn_affine_backward(l, n, p->in_features, p->out_features, p->dropout, x, dy, dx, ctx);
}

static int64_t dense_flops(const cnn_layer *l)
{
    return l->n_weights + 2 * l->n_biases;
}

static void dense_describe(const cnn_layer *l, char *buf, size_t size)
{
    const cnn_dense_params *p = P(l);
    snprintf(buf, size, NAME " %d, %s, dropout %g", p->out_features, cnn_act_name(p->activation),
             (double)p->dropout);
}

/* Descriptor: in_features, out_features, activation, dropout (f32), init,
 * then the u64 seed. */
static void dense_encode(const cnn_layer *l, cnn_enc *e)
{
    const cnn_dense_params *p = P(l);
    cnn_enc_u32(e, "in_features", p->in_features, 1, CNN_MAX_FEATURES);
    cnn_enc_u32(e, "out_features", p->out_features, 1, CNN_MAX_FEATURES);
    cnn_enc_act(e, "activation", p->activation);
    cnn_enc_f32(e, p->dropout);
    cnn_enc_init(e, "init", p->init);
    cnn_enc_u64(e, p->seed);
}

static void dense_decode(cnn_dec *d, void *params)
{
    cnn_dense_params *p = params;
    cnn_dense_params_init(p, 1);
    p->in_features = cnn_dec_u32(d, "in_features", 1, CNN_MAX_FEATURES);
    p->out_features = cnn_dec_u32(d, "out_features", 1, CNN_MAX_FEATURES);
    p->activation = cnn_dec_act(d, "activation");
    p->dropout = cnn_dec_f32_range(d, "dropout", 0.0f, 1.0f);
    p->init = cnn_dec_init(d, "init");
    p->seed = cnn_dec_u64(d, "seed");
}

static cnn_status dense_validate(const void *params)
{
    const cnn_dense_params *p = params;
    if (p->out_features < 1 || p->in_features < 0 || p->out_features > CNN_MAX_FEATURES ||
        p->in_features > CNN_MAX_FEATURES)
        return cnn_fail(CNN_EINVAL, NAME ": in %d / out %d features (out 1..%d, in 0..%d)",
                        p->in_features, p->out_features, CNN_MAX_FEATURES, CNN_MAX_FEATURES);
    if (!(p->dropout >= 0.0f && p->dropout < 1.0f))
        return cnn_fail(CNN_EINVAL, NAME ": dropout %g outside [0, 1)", (double)p->dropout);
    if (p->activation < CNN_ACT_IDENTITY || p->activation > CNN_ACT_RELU)
        return cnn_fail(CNN_EINVAL, NAME ": unknown activation %d", p->activation);
    if (p->init < CNN_INIT_NETWORK3 || p->init > CNN_INIT_ZERO)
        return cnn_fail(CNN_EINVAL, NAME ": unknown init scheme %d", p->init);
    return CNN_OK;
}

static int32_t dense_preset_input(const void *params)
{
    return ((const cnn_dense_params *)params)->in_features;
}

const cnn_layer_ops cnn_dense_ops = {
    .kind = CNN_LAYER_DENSE,
    .name = NAME,
    .const_name = "CNN_LAYER_DENSE",
    .file_code = 3,
    .params_size = sizeof(cnn_dense_params),
    .params_min_size = sizeof(cnn_dense_params),
    .defaults = dense_defaults,
    .input_form = CNN_INPUT_FLAT,
    .fuses_sgd = true,
    .validate = dense_validate,
    .preset_input = dense_preset_input,
    .out_shape = dense_out_shape,
    .bind = dense_bind,
    .init_params = dense_init,
    .reserve = dense_reserve,
    .forward = dense_forward,
    .backward = dense_backward,
    .uses_workers = cnn_affine_uses_workers,
    .flops = dense_flops,
    .describe = dense_describe,
    .encode = dense_encode,
    .decode = dense_decode,
};

static void dense_defaults(void *params)
{
    cnn_dense_params *p = params;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->out_features = 1;
    p->activation = CNN_ACT_SIGMOID;
    p->dropout = 0.0f;
    p->init = CNN_INIT_NETWORK3;
}

cnn_status cnn_dense_params_init_sized(cnn_dense_params *p, size_t struct_size, int32_t out_features)
{
    cnn_dense_params d;
    dense_defaults(&d);
    d.out_features = out_features;
    return cnn_params_copy_out("cnn_dense_params_init", p, struct_size, &d, sizeof d, sizeof d);
}

cnn_status cnn_dense_create(const cnn_dense_params *p, cnn_layer **out)
{
    return cnn_layer_create(&cnn_dense_ops, "cnn_dense_create", p, p ? p->seed : 0, out);
}
