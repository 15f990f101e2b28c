/* Fully connected layer y = act(W x + b), W (out, in), with network3-style
 * dropout on its input.  The affine part (with dropout) is shared with the
 * softmax layer. */
#include "layer.h"
#include "kernels/kernels.h"

#include <math.h>
#include <string.h>

#define NAME "dense"

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

/* Whether this call is split over l->pool. */
static bool affine_splits(const cnn_layer *l, int n, int in, int out)
{
    return l->pool && n <= CNN_K_DENSE_SMALL_N &&
           (int64_t)n * in * out >= AFFINE_SPLIT_MIN_MACS;
}

static void affine_run(const cnn_layer *l, affine_job *j)
{
    j->threads = cnn_pool_threads(l->pool);
    cnn_pool_run(l->pool, affine_part, j);
}

/* y = alpha * x W^T + b, split over the workers where that pays. */
static void affine_fwd(cnn_layer *l, int n, int in, int out, const float *x, float alpha,
                       float *y)
{
    if (!affine_splits(l, n, in, out)) {
        cnn_k_dense_fwd(n, in, out, x, l->w, l->b, alpha, y);
        return;
    }
    affine_job j = {.kind = JOB_FWD, .n = n, .in = in, .out = out, .x = x, .w = l->w,
                    .b = l->b, .alpha = alpha, .y = y};
    affine_run(l, &j);
}

cnn_status cnn_affine_reserve(cnn_layer *l, int n, int in, float dropout)
{
    if (dropout <= 0.0f)
        return CNN_OK;
    size_t count = (size_t)n * (size_t)in;
    cnn_status st = cnn_aux_grow((void **)&l->aux.mask, &l->aux.mask_len, count, 1, l->ops->name);
    if (st == CNN_OK)
        st = cnn_aux_grow((void **)&l->aux.pre, &l->aux.pre_len, count, sizeof(float), l->ops->name);
    return st;
}

/* Training: each input is kept with probability 1-p (a fresh mask per
 * example) and not rescaled; inference: the weighted input is scaled by 1-p,
 * which matches the training expectation.  This is network3's form. */
void cnn_affine_forward(cnn_layer *l, int n, int in, int out, float dropout, const float *x,
                        float *y, int32_t mode, cnn_rng *rng)
{
    if (dropout <= 0.0f) {
        affine_fwd(l, n, in, out, x, 1.0f, y);
        return;
    }
    if (mode != CNN_MODE_TRAIN) {
        affine_fwd(l, n, in, out, x, 1.0f - dropout, y);
        return;
    }
    size_t count = (size_t)n * (size_t)in;
    uint8_t *mask = l->aux.mask;
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
    cnn_k_dropout_apply(count, x, mask, l->aux.pre);
    affine_fwd(l, n, in, out, l->aux.pre, 1.0f, y);
}

void cnn_affine_backward(cnn_layer *l, int n, int in, int out, float dropout, const float *x,
                         const float *dz, float *dx)
{
    const float *seen = dropout > 0.0f ? l->aux.pre : x; /* the input the weights saw */
    if (affine_splits(l, n, in, out)) {
        affine_job j = {.n = n, .in = in, .out = out, .x = seen, .dz = dz, .w = l->w,
                        .dx = dx, .dw = l->dw, .eta = l->fuse_eta, .decay = l->fuse_decay};
        /* dx first: it needs the weights from before this step's update. */
        if (dx) {
            j.kind = JOB_DX;
            affine_run(l, &j);
            if (dropout > 0.0f)
                cnn_k_dropout_apply((size_t)n * (size_t)in, dx, l->aux.mask, dx);
        }
        j.kind = l->fuse_sgd ? JOB_SGD : JOB_DW;
        affine_run(l, &j);
        if (l->db)
            cnn_k_dense_bias_grad(n, out, dz, l->db);
        l->sgd_applied = l->fuse_sgd;
        return;
    }
    if (l->fuse_sgd) {
        /* dx first: it needs the weights from before this step's update. */
        if (dx) {
            cnn_k_dense_bwd_data(n, in, out, dz, l->w, dx);
            if (dropout > 0.0f)
                cnn_k_dropout_apply((size_t)n * (size_t)in, dx, l->aux.mask, dx);
        }
        cnn_k_dense_bwd_weights_sgd(n, in, out, seen, dz, l->dw, l->w, l->db, l->fuse_eta,
                                    l->fuse_decay);
        l->sgd_applied = true;
        return;
    }
    cnn_k_dense_bwd_weights(n, in, out, seen, dz, l->dw, l->db);
    if (!dx)
        return;
    cnn_k_dense_bwd_data(n, in, out, dz, l->w, dx);
    if (dropout > 0.0f)
        cnn_k_dropout_apply((size_t)n * (size_t)in, dx, l->aux.mask, dx);
}

/* ---- the dense layer ------------------------------------------------------ */

static cnn_status dense_out_shape(const cnn_layer *l, const int32_t in[3], int32_t out[3])
{
    int64_t features = cnn_shape_numel3(in);
    if (l->p.dense.in_features && features != l->p.dense.in_features)
        return cnn_fail(CNN_ESHAPE, NAME ": input %dx%dx%d has %lld features, layer expects %d",
                        in[0], in[1], in[2], (long long)features, l->p.dense.in_features);
    out[0] = l->p.dense.out_features;
    out[1] = out[2] = 1;
    return CNN_OK;
}

static cnn_status dense_bind(cnn_layer *l, const int32_t in[3])
{
    cnn_dense_params *p = &l->p.dense;
    int64_t features = cnn_shape_numel3(in);
    int64_t nw = features * p->out_features;
    if (features > INT32_MAX || nw > INT32_MAX)
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
    const cnn_dense_params *p = &l->p.dense;
    cnn_init_fill(rng, p->init, l->w, l->n_weights, l->b, l->n_biases, p->in_features,
                  p->out_features, p->out_features);
}

static cnn_status dense_reserve(cnn_layer *l, int n)
{
    return cnn_affine_reserve(l, n, l->p.dense.in_features, l->p.dense.dropout);
}

static void dense_forward(cnn_layer *l, int n, const float *x, float *y, int32_t mode,
                          float *scratch, cnn_rng *rng)
{
    (void)scratch;
    const cnn_dense_params *p = &l->p.dense;
    cnn_affine_forward(l, n, p->in_features, p->out_features, p->dropout, x, y, mode, rng);
    cnn_k_act_fwd(p->activation, (size_t)n * p->out_features, y, y);
}

static void dense_backward(cnn_layer *l, int n, const float *x, const float *y, float *dy,
                           float *dx, float *scratch)
{
    (void)scratch;
    const cnn_dense_params *p = &l->p.dense;
    cnn_k_act_bwd(p->activation, (size_t)n * p->out_features, y, dy, dy);
    cnn_affine_backward(l, n, p->in_features, p->out_features, p->dropout, x, dy, dx);
}

const cnn_layer_ops cnn_dense_ops = {
    .kind = CNN_LAYER_DENSE,
    .name = NAME,
    .out_shape = dense_out_shape,
    .bind = dense_bind,
    .init_params = dense_init,
    .scratch_floats = NULL,
    .reserve = dense_reserve,
    .forward = dense_forward,
    .backward = dense_backward,
    .free_aux = NULL,
};

cnn_status cnn_dense_params_init(cnn_dense_params *p, int32_t out_features)
{
    if (!p)
        return cnn_fail(CNN_EINVAL, "cnn_dense_params_init: params is NULL");
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->out_features = out_features;
    p->activation = CNN_ACT_SIGMOID;
    p->dropout = 0.0f;
    p->init = CNN_INIT_NETWORK3;
    return CNN_OK;
}

cnn_status cnn_dense_create(const cnn_dense_params *p, cnn_layer **out)
{
    if (out)
        *out = NULL;
    if (!p || !out)
        return cnn_fail(CNN_EINVAL, "cnn_dense_create: NULL argument");
    if (p->struct_size < sizeof *p)
        return cnn_fail(CNN_EINVAL, "cnn_dense_create: struct_size %u, expected %zu",
                        (unsigned)p->struct_size, sizeof *p);
    if (p->out_features < 1 || p->in_features < 0)
        return cnn_fail(CNN_EINVAL, NAME ": in %d / out %d features (out >= 1, in >= 0)",
                        p->in_features, p->out_features);
    if (!(p->dropout >= 0.0f && p->dropout < 1.0f))
        return cnn_fail(CNN_EINVAL, NAME ": dropout %g outside [0, 1)", (double)p->dropout);
    if (p->activation < CNN_ACT_IDENTITY || p->activation > CNN_ACT_RELU)
        return cnn_fail(CNN_EINVAL, NAME ": unknown activation %d", p->activation);
    if (p->init < CNN_INIT_NETWORK3 || p->init > CNN_INIT_ZERO)
        return cnn_fail(CNN_EINVAL, NAME ": unknown init scheme %d", p->init);
    cnn_layer *l;
    cnn_status st = cnn_layer_alloc(&cnn_dense_ops, &l);
    if (st != CNN_OK)
        return st;
    l->p.dense = *p;
    l->p.dense.struct_size = sizeof *p;
    return cnn_layer_finish_create(l, p->seed, p->in_features, out);
}
