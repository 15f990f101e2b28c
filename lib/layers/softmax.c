/* Softmax output layer: y = softmax(W x + b), with network3-style dropout
 * on its input.  Inside a network its cost is the mean negative
 * log-likelihood, whose gradient w.r.t. z the network computes directly
 * (y - onehot) / N; standalone, backward takes dcost/dy. */
#include "layer.h"
#include "kernels/kernels.h"

#include <stdio.h>
#include <string.h>

#define NAME "softmax"

static void softmax_defaults(void *params);

static const cnn_softmax_params *P(const cnn_layer *l)
{
    return l->params;
}

static cnn_status softmax_out_shape(const cnn_layer *l, const int32_t in[3], int32_t out[3])
{
    int64_t features = cnn_shape_numel3(in);
    if (P(l)->in_features && features != P(l)->in_features)
        return cnn_fail(CNN_ESHAPE, NAME ": input %dx%dx%d has %lld features, layer expects %d",
                        in[0], in[1], in[2], (long long)features, P(l)->in_features);
    if (features > CNN_MAX_FEATURES)
        return cnn_fail(CNN_ESHAPE, NAME ": input %dx%dx%d has %lld features, more than %d",
                        in[0], in[1], in[2], (long long)features, CNN_MAX_FEATURES);
    out[0] = P(l)->classes;
    out[1] = out[2] = 1;
    return CNN_OK;
}

static cnn_status softmax_bind(cnn_layer *l, const int32_t in[3])
{
    cnn_softmax_params *p = l->params;
    int64_t features = cnn_shape_numel3(in);
    int64_t nw = features * p->classes;
    if (features > CNN_MAX_FEATURES || nw > INT32_MAX)
        return cnn_fail(CNN_EINVAL, NAME ": %lld x %d weights is too many", (long long)features,
                        p->classes);
    p->in_features = (int32_t)features;
    l->n_weights = nw;
    l->n_biases = p->classes;
    l->w_ndim = 2;
    l->w_shape[0] = p->classes;
    l->w_shape[1] = features;
    l->bound = true;
    return CNN_OK;
}

static void softmax_init(cnn_layer *l, cnn_rng *rng)
{
    const cnn_softmax_params *p = P(l);
    /* network3 starts its softmax layer at zero, so "as network3" means zero. */
    int32_t scheme = p->init == CNN_INIT_NETWORK3 ? CNN_INIT_ZERO : p->init;
    cnn_init_fill(rng, scheme, l->w, l->n_weights, l->b, l->n_biases, p->in_features, p->classes,
                  p->classes);
}

static size_t softmax_scratch(const cnn_layer *l, int n)
{
    /* Standalone backward needs room for dz. */
    return (size_t)n * (size_t)P(l)->classes;
}

static cnn_status softmax_reserve(cnn_layer *l, int n)
{
    return cnn_affine_reserve(l, n, P(l)->in_features, P(l)->dropout);
}

static void softmax_forward(cnn_layer *l, int n, const float *x, float *y,
                            const cnn_layer_ctx *ctx)
{
    const cnn_softmax_params *p = P(l);
    cnn_affine_forward(l, n, p->in_features, p->classes, p->dropout, x, y, ctx);
    cnn_k_softmax_fwd(n, p->classes, y, y);
}

static void softmax_backward(cnn_layer *l, int n, const float *x, const float *y, float *dy,
                             float *dx, const cnn_layer_ctx *ctx)
{
    const cnn_softmax_params *p = P(l);
    cnn_k_softmax_bwd(n, p->classes, y, dy, ctx->scratch);
    cnn_affine_backward(l, n, p->in_features, p->classes, p->dropout, x, ctx->scratch, dx, ctx);
}

/* The mean negative log-likelihood: its gradient w.r.t. z is (y - onehot)/n. */
static double softmax_loss(const cnn_layer *l, int n, const float *y, const int32_t *labels,
                           float *dz)
{
    const int classes = P(l)->classes;
    cnn_k_softmax_nll_bwd(n, classes, y, labels, 1.0f / (float)n, dz);
    return cnn_k_nll_sum(n, classes, y, labels);
}

static void softmax_backward_dz(cnn_layer *l, int n, const float *x, const float *dz, float *dx,
                                const cnn_layer_ctx *ctx)
{
    const cnn_softmax_params *p = P(l);
    cnn_affine_backward(l, n, p->in_features, p->classes, p->dropout, x, dz, dx, ctx);
}

static int64_t softmax_flops(const cnn_layer *l)
{
    return l->n_weights + 4 * l->n_biases;
}

static void softmax_describe(const cnn_layer *l, char *buf, size_t size)
{
    snprintf(buf, size, NAME " %d classes, dropout %g", P(l)->classes, (double)P(l)->dropout);
}

/* Descriptor: in_features, classes, dropout (f32), init, then the u64 seed. */
static void softmax_encode(const cnn_layer *l, cnn_enc *e)
{
    const cnn_softmax_params *p = P(l);
    cnn_enc_u32(e, "in_features", p->in_features, 1, CNN_MAX_FEATURES);
    cnn_enc_u32(e, "classes", p->classes, 2, CNN_MAX_FEATURES);
    cnn_enc_f32(e, p->dropout);
    cnn_enc_init(e, "init", p->init);
    cnn_enc_u64(e, p->seed);
}

static void softmax_decode(cnn_dec *d, void *params)
{
    cnn_softmax_params *p = params;
    cnn_softmax_params_init(p, 2);
    p->in_features = cnn_dec_u32(d, "in_features", 1, CNN_MAX_FEATURES);
    p->classes = cnn_dec_u32(d, "classes", 2, CNN_MAX_FEATURES);
    p->dropout = cnn_dec_f32_range(d, "dropout", 0.0f, 1.0f);
    p->init = cnn_dec_init(d, "init");
    p->seed = cnn_dec_u64(d, "seed");
}

static cnn_status softmax_validate(const void *params)
{
    const cnn_softmax_params *p = params;
    if (p->classes < 2 || p->in_features < 0 || p->classes > CNN_MAX_FEATURES ||
        p->in_features > CNN_MAX_FEATURES)
        return cnn_fail(CNN_EINVAL, NAME ": %d classes (need 2..%d), in %d features",
                        p->classes, CNN_MAX_FEATURES, p->in_features);
    if (!(p->dropout >= 0.0f && p->dropout < 1.0f))
        return cnn_fail(CNN_EINVAL, NAME ": dropout %g outside [0, 1)", (double)p->dropout);
    if (p->init < CNN_INIT_NETWORK3 || p->init > CNN_INIT_ZERO)
        return cnn_fail(CNN_EINVAL, NAME ": unknown init scheme %d", p->init);
    return CNN_OK;
}

static int32_t softmax_preset_input(const void *params)
{
    return ((const cnn_softmax_params *)params)->in_features;
}

const cnn_layer_ops cnn_softmax_ops = {
    .kind = CNN_LAYER_SOFTMAX,
    .name = NAME,
    .const_name = "CNN_LAYER_SOFTMAX",
    .file_code = 4,
    .params_size = sizeof(cnn_softmax_params),
    .params_min_size = sizeof(cnn_softmax_params),
    .defaults = softmax_defaults,
    .input_form = CNN_INPUT_FLAT,
    .is_output = true,
    .fuses_sgd = true,
    .validate = softmax_validate,
    .preset_input = softmax_preset_input,
    .out_shape = softmax_out_shape,
    .bind = softmax_bind,
    .init_params = softmax_init,
    .scratch_floats = softmax_scratch,
    .reserve = softmax_reserve,
    .forward = softmax_forward,
    .backward = softmax_backward,
    .uses_workers = cnn_affine_uses_workers,
    .loss = softmax_loss,
    .backward_dz = softmax_backward_dz,
    .flops = softmax_flops,
    .describe = softmax_describe,
    .encode = softmax_encode,
    .decode = softmax_decode,
};

static void softmax_defaults(void *params)
{
    cnn_softmax_params *p = params;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->classes = 2;
    p->init = CNN_INIT_ZERO;
}

cnn_status cnn_softmax_params_init_sized(cnn_softmax_params *p, size_t struct_size, int32_t classes)
{
    cnn_softmax_params d;
    softmax_defaults(&d);
    d.classes = classes;
    return cnn_params_copy_out("cnn_softmax_params_init", p, struct_size, &d, sizeof d, sizeof d);
}

cnn_status cnn_softmax_create(const cnn_softmax_params *p, cnn_layer **out)
{
    return cnn_layer_create(&cnn_softmax_ops, "cnn_softmax_create", p, p ? p->seed : 0, out);
}
