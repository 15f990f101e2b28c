/* Pooling layer: max (routes the gradient to the first maximum of each
 * window), average, or L2 (sqrt of the sum of squares).  No parameters. */
#include "layer.h"
#include "kernels/kernels.h"

#include <stdio.h>
#include <string.h>

#define NAME "pool2d"

static void pool_defaults(void *params);

enum { AUX_ARGMAX };

static const cnn_pool2d_params *P(const cnn_layer *l)
{
    return l->params;
}

static void geometry(const cnn_layer *l, cnn_pool_geom *g)
{
    const cnn_pool2d_params *p = P(l);
    g->c = l->in[0];
    g->in_h = l->in[1];
    g->in_w = l->in[2];
    g->win_h = p->window_h;
    g->win_w = p->window_w;
    g->stride_h = p->stride_h;
    g->stride_w = p->stride_w;
    g->out_h = (g->in_h - g->win_h) / g->stride_h + 1;
    g->out_w = (g->in_w - g->win_w) / g->stride_w + 1;
}

static cnn_status pool_out_shape(const cnn_layer *l, const int32_t in[3], int32_t out[3])
{
    const cnn_pool2d_params *p = P(l);
    if (in[1] < p->window_h || in[2] < p->window_w)
        return cnn_fail(CNN_ESHAPE, NAME ": input %dx%dx%d is smaller than the %dx%d window",
                        in[0], in[1], in[2], p->window_h, p->window_w);
    out[0] = in[0];
    out[1] = (in[1] - p->window_h) / p->stride_h + 1;
    out[2] = (in[2] - p->window_w) / p->stride_w + 1;
    return CNN_OK;
}

static cnn_status pool_bind(cnn_layer *l, const int32_t in[3])
{
    l->in[0] = in[0];
    l->bound = true;
    return CNN_OK;
}

static cnn_status pool_reserve(cnn_layer *l, int n)
{
    if (P(l)->mode != CNN_POOL_MAX)
        return CNN_OK;
    cnn_pool_geom g;
    geometry(l, &g);
    size_t outputs = (size_t)n * g.c * g.out_h * g.out_w;
    return cnn_aux_reserve(l, AUX_ARGMAX, outputs, sizeof(int32_t));
}

static void pool_forward(cnn_layer *l, int n, const float *x, float *y, const cnn_layer_ctx *ctx)
{
    cnn_pool_geom g;
    geometry(l, &g);
    /* argmax serves the backward pass only: inference skips writing it */
    cnn_k_pool2d_fwd(&g, P(l)->mode, n, x, y,
                     ctx->mode == CNN_MODE_TRAIN ? l->aux.buf[AUX_ARGMAX] : NULL);
}

static void pool_backward(cnn_layer *l, int n, const float *x, const float *y, float *dy,
                          float *dx, const cnn_layer_ctx *ctx)
{
    (void)ctx;
    if (!dx)
        return;
    cnn_pool_geom g;
    geometry(l, &g);
    cnn_k_pool2d_bwd(&g, P(l)->mode, n, x, y, dy, l->aux.buf[AUX_ARGMAX], dx);
}

static int64_t pool_flops(const cnn_layer *l)
{
    cnn_pool_geom g;
    geometry(l, &g);
    return (int64_t)g.c * g.out_h * g.out_w * g.win_h * g.win_w;
}

static void pool_describe(const cnn_layer *l, char *buf, size_t size)
{
    const cnn_pool2d_params *p = P(l);
    snprintf(buf, size, NAME " %s %dx%d, stride %dx%d", cnn_pool_name(p->mode), p->window_h,
             p->window_w, p->stride_h, p->stride_w);
}

/* Descriptor: mode, window_h, window_w, stride_h, stride_w (5 x u32). */
static void pool_encode(const cnn_layer *l, cnn_enc *e)
{
    const cnn_pool2d_params *p = P(l);
    cnn_enc_pool(e, "mode", p->mode);
    cnn_enc_u32(e, "window_h", p->window_h, 1, CNN_MAX_DIM);
    cnn_enc_u32(e, "window_w", p->window_w, 1, CNN_MAX_DIM);
    cnn_enc_u32(e, "stride_h", p->stride_h, 1, CNN_MAX_DIM);
    cnn_enc_u32(e, "stride_w", p->stride_w, 1, CNN_MAX_DIM);
}

static void pool_decode(cnn_dec *d, void *params)
{
    cnn_pool2d_params *p = params;
    cnn_pool2d_params_init(p, CNN_POOL_MAX, 1, 1);
    p->mode = cnn_dec_pool(d, "mode");
    p->window_h = cnn_dec_u32(d, "window_h", 1, CNN_MAX_DIM);
    p->window_w = cnn_dec_u32(d, "window_w", 1, CNN_MAX_DIM);
    p->stride_h = cnn_dec_u32(d, "stride_h", 1, CNN_MAX_DIM);
    p->stride_w = cnn_dec_u32(d, "stride_w", 1, CNN_MAX_DIM);
}

static cnn_status pool_validate(const void *params)
{
    const cnn_pool2d_params *p = params;
    if (p->mode != CNN_POOL_MAX && p->mode != CNN_POOL_AVG && p->mode != CNN_POOL_L2)
        return cnn_fail(CNN_EINVAL, NAME ": unknown pooling mode %d", p->mode);
    if (p->window_h < 1 || p->window_w < 1 || p->window_h > CNN_MAX_DIM ||
        p->window_w > CNN_MAX_DIM)
        return cnn_fail(CNN_EINVAL, NAME ": window %dx%d, each side must be 1..%d", p->window_h,
                        p->window_w, CNN_MAX_DIM);
    if (p->stride_h < 1 || p->stride_w < 1 || p->stride_h > CNN_MAX_DIM ||
        p->stride_w > CNN_MAX_DIM)
        return cnn_fail(CNN_EINVAL, NAME ": stride %dx%d, each must be 1..%d", p->stride_h,
                        p->stride_w, CNN_MAX_DIM);
    return CNN_OK;
}

const cnn_layer_ops cnn_pool2d_ops = {
    .kind = CNN_LAYER_POOL2D,
    .name = NAME,
    .const_name = "CNN_LAYER_POOL2D",
    .file_code = 2,
    .params_size = sizeof(cnn_pool2d_params),
    .params_min_size = sizeof(cnn_pool2d_params),
    .defaults = pool_defaults,
    .input_form = CNN_INPUT_SPATIAL,
    .validate = pool_validate,
    .out_shape = pool_out_shape,
    .bind = pool_bind,
    .reserve = pool_reserve,
    .forward = pool_forward,
    .backward = pool_backward,
    .flops = pool_flops,
    .describe = pool_describe,
    .encode = pool_encode,
    .decode = pool_decode,
};

static void pool_defaults(void *params)
{
    cnn_pool2d_params *p = params;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->mode = CNN_POOL_MAX;
    p->window_h = p->stride_h = 2;
    p->window_w = p->stride_w = 2;
}

cnn_status cnn_pool2d_params_init_sized(cnn_pool2d_params *p, size_t struct_size, int32_t mode,
                                        int32_t window_h, int32_t window_w)
{
    cnn_pool2d_params d;
    pool_defaults(&d);
    d.mode = mode;
    d.window_h = d.stride_h = window_h;
    d.window_w = d.stride_w = window_w;
    return cnn_params_copy_out("cnn_pool_params_init", p, struct_size, &d, sizeof d, sizeof d);
}

cnn_status cnn_pool2d_create(const cnn_pool2d_params *p, cnn_layer **out)
{
    return cnn_layer_create(&cnn_pool2d_ops, "cnn_pool2d_create", p, 0, out);
}
