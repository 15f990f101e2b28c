/* Batch normalisation: per channel (spatial input) or per feature (flat
 * input), y = gamma * (x - mean) / sqrt(var + eps) + beta.  gamma is the
 * weight tensor, beta the bias; the running mean and variance are the
 * layer's state (state[0..C) the mean, state[C..2C) the variance).
 *
 * Training uses the batch's statistics (biased variance) and updates the
 * running ones (unbiased variance, PyTorch's momentum convention);
 * inference uses the running ones.  The layer runs whole on one thread, its
 * sums in double in a fixed order, so results do not depend on the thread
 * count. */
#include "layer.h"
#include "kernels/kernels.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define NAME "batchnorm"

/* xhat (n x C x plane), inverse std (C), batch mean and variance (2C). */
enum { AUX_XHAT, AUX_INV_STD, AUX_STATS };

static const cnn_batchnorm_params *P(const cnn_layer *l)
{
    return l->params;
}

static size_t plane_of(const cnn_layer *l)
{
    return (size_t)l->in[1] * (size_t)l->in[2];
}

static cnn_status bn_out_shape(const cnn_layer *l, const int32_t in[3], int32_t out[3])
{
    const int32_t c = P(l)->channels;
    if (c && in[0] != c)
        return cnn_fail(CNN_ESHAPE, NAME ": input %dx%dx%d has %d channels, layer expects %d",
                        in[0], in[1], in[2], in[0], c);
    if (in[0] > CNN_MAX_FEATURES)
        return cnn_fail(CNN_ESHAPE, NAME ": input %dx%dx%d has more than %d channels", in[0],
                        in[1], in[2], CNN_MAX_FEATURES);
    memcpy(out, in, 3 * sizeof *out);
    return CNN_OK;
}

static cnn_status bn_bind(cnn_layer *l, const int32_t in[3])
{
    cnn_batchnorm_params *p = l->params;
    if (in[0] < 1 || in[0] > CNN_MAX_FEATURES)
        return cnn_fail(CNN_EINVAL, NAME ": %d channels, must be 1..%d", in[0], CNN_MAX_FEATURES);
    p->channels = in[0];
    l->in[0] = in[0];
    l->n_weights = p->channels;
    l->n_biases = p->channels;
    l->n_state = 2 * (int64_t)p->channels;
    l->w_ndim = 1;
    l->w_shape[0] = p->channels;
    l->bound = true;
    return CNN_OK;
}

/* gamma 1, beta 0, running mean 0, running variance 1 (draws nothing). */
static void bn_init(cnn_layer *l, cnn_rng *rng)
{
    (void)rng;
    const int64_t c = P(l)->channels;
    for (int64_t i = 0; i < c; i++) {
        l->w[i] = 1.0f;
        l->b[i] = 0.0f;
        l->state[i] = 0.0f;
        l->state[c + i] = 1.0f;
    }
}

static cnn_status bn_reserve(cnn_layer *l, int n)
{
    const size_t c = (size_t)P(l)->channels;
    cnn_status st = cnn_aux_reserve(l, AUX_XHAT, (size_t)n * (size_t)cnn_shape_numel3(l->in),
                                    sizeof(float));
    if (st == CNN_OK)
        st = cnn_aux_reserve(l, AUX_INV_STD, c, sizeof(float));
    if (st == CNN_OK)
        st = cnn_aux_reserve(l, AUX_STATS, 2 * c, sizeof(float));
    return st;
}

static void bn_forward(cnn_layer *l, int n, const float *x, float *y, const cnn_layer_ctx *ctx)
{
    const cnn_batchnorm_params *p = P(l);
    const int c = p->channels;
    const size_t plane = plane_of(l);
    float *run_mean = l->state, *run_var = l->state + c;
    if (ctx->mode != CNN_MODE_TRAIN) {
        cnn_k_bn_fwd_infer(n, c, plane, x, l->w, l->b, run_mean, run_var, p->epsilon, y);
        return;
    }
    float *mean = l->aux.buf[AUX_STATS], *var = mean + c;
    cnn_k_bn_stats(n, c, plane, x, mean, var);
    cnn_k_bn_fwd_train(n, c, plane, x, l->w, l->b, mean, var, p->epsilon, l->aux.buf[AUX_XHAT],
                       l->aux.buf[AUX_INV_STD], y);
    cnn_k_bn_running_update(c, (size_t)n * plane, p->momentum, mean, var, run_mean, run_var);
}

static void bn_backward(cnn_layer *l, int n, const float *x, const float *y, float *dy,
                        float *dx, const cnn_layer_ctx *ctx)
{
    (void)x;
    (void)y;
    (void)ctx;
    cnn_k_bn_bwd(n, P(l)->channels, plane_of(l), l->aux.buf[AUX_XHAT], l->aux.buf[AUX_INV_STD],
                 l->w, dy, l->dw, l->db, dx);
}

static int64_t bn_flops(const cnn_layer *l)
{
    return 2 * cnn_shape_numel3(l->in);
}

static void bn_describe(const cnn_layer *l, char *buf, size_t size)
{
    const cnn_batchnorm_params *p = P(l);
    snprintf(buf, size, NAME " momentum %g, eps %g", (double)p->momentum, (double)p->epsilon);
}

static bool momentum_ok(float m)
{
    return m >= 0.0f && m <= 1.0f; /* NaN fails */
}

static bool epsilon_ok(float e)
{
    return e > 0.0f && isfinite(e);
}

static void bn_defaults(void *params)
{
    cnn_batchnorm_params *p = params;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->momentum = 0.1f;
    p->epsilon = 1e-5f;
    p->channels = 0;
}

/* Descriptor: momentum (f32), epsilon (f32), channels (u32). */
static void bn_encode(const cnn_layer *l, cnn_enc *e)
{
    const cnn_batchnorm_params *p = P(l);
    cnn_enc_f32(e, p->momentum);
    cnn_enc_f32(e, p->epsilon);
    cnn_enc_u32(e, "channels", p->channels, 1, CNN_MAX_FEATURES);
}

static void bn_decode(cnn_dec *d, void *params)
{
    cnn_batchnorm_params *p = params;
    bn_defaults(p);
    size_t at = d->offset + d->pos;
    float m = cnn_dec_f32(d, "momentum");
    if (d->st == CNN_OK && !momentum_ok(m))
        d->st = cnn_fail(CNN_EFORMAT, "cnn_net_load: layer %u: momentum %g at offset %zu is "
                         "outside [0, 1]", d->layer, (double)m, at);
    at = d->offset + d->pos;
    float eps = cnn_dec_f32(d, "epsilon");
    if (d->st == CNN_OK && !epsilon_ok(eps))
        d->st = cnn_fail(CNN_EFORMAT, "cnn_net_load: layer %u: epsilon %g at offset %zu is not "
                         "positive and finite", d->layer, (double)eps, at);
    if (momentum_ok(m))
        p->momentum = m;
    if (epsilon_ok(eps))
        p->epsilon = eps;
    p->channels = cnn_dec_u32(d, "channels", 1, CNN_MAX_FEATURES);
}

static cnn_status bn_validate(const void *params)
{
    const cnn_batchnorm_params *p = params;
    if (!momentum_ok(p->momentum))
        return cnn_fail(CNN_EINVAL, NAME ": momentum %g outside [0, 1]", (double)p->momentum);
    if (!epsilon_ok(p->epsilon))
        return cnn_fail(CNN_EINVAL, NAME ": epsilon %g must be positive and finite",
                        (double)p->epsilon);
    if (p->channels < 0 || p->channels > CNN_MAX_FEATURES)
        return cnn_fail(CNN_EINVAL, NAME ": channels %d, must be 0..%d", p->channels,
                        CNN_MAX_FEATURES);
    return CNN_OK;
}

static int32_t bn_preset_input(const void *params)
{
    return ((const cnn_batchnorm_params *)params)->channels;
}

const cnn_layer_ops cnn_batchnorm_ops = {
    .kind = CNN_LAYER_BATCHNORM,
    .name = NAME,
    .const_name = "CNN_LAYER_BATCHNORM",
    .file_code = 6,
    .params_size = sizeof(cnn_batchnorm_params),
    .params_min_size = sizeof(cnn_batchnorm_params),
    .defaults = bn_defaults,
    .input_form = CNN_INPUT_ANY,
    .validate = bn_validate,
    .preset_input = bn_preset_input,
    .out_shape = bn_out_shape,
    .bind = bn_bind,
    .init_params = bn_init,
    .reserve = bn_reserve,
    .forward = bn_forward,
    .backward = bn_backward,
    .flops = bn_flops,
    .describe = bn_describe,
    .encode = bn_encode,
    .decode = bn_decode,
};

cnn_status cnn_batchnorm_params_init_sized(cnn_batchnorm_params *p, size_t struct_size)
{
    cnn_batchnorm_params d;
    bn_defaults(&d);
    return cnn_params_copy_out("cnn_batchnorm_params_init", p, struct_size, &d, sizeof d,
                               sizeof d);
}

cnn_status cnn_batchnorm_create(const cnn_batchnorm_params *p, cnn_layer **out)
{
    return cnn_layer_create(&cnn_batchnorm_ops, "cnn_batchnorm_create", p, 0, out);
}
