/* Convolution layer, optionally with fused pooling as in network3's
 * ConvPoolLayer: y = act(pool(conv(x)) + b).  Without pooling:
 * y = act(conv(x) + b).  Weights are (out, in, kh, kw), cross-correlation
 * (no kernel flip: only a display matter, see docs/design.md). */
#include "layer.h"
#include "kernels/kernels.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define NAME "conv2d"

/* Version 0.1's struct ended before `padding`. */
#define PARAMS_V1_SIZE offsetof(cnn_conv2d_params, padding)

static void conv_defaults(void *params);

/* Per-batch buffers (l->aux slots). */
enum { AUX_CONV_OUT, AUX_DCONV, AUX_ARGMAX, AUX_PRE };

static const cnn_conv2d_params *P(const cnn_layer *l)
{
    return l->params;
}

/* Padding actually applied: "same" resolves from the kernel size. */
static int pad_of(const cnn_conv2d_params *p, bool rows)
{
    if (p->padding == CNN_PAD_SAME)
        return ((rows ? p->kernel_h : p->kernel_w) - 1) / 2;
    return rows ? p->pad_h : p->pad_w;
}

static int conv_dim(int in, int pad, int k, int stride)
{
    return (in + 2 * pad - k) / stride + 1;
}

static void geometry(const cnn_layer *l, cnn_conv_geom *g)
{
    const cnn_conv2d_params *p = P(l);
    g->in_c = l->in[0];
    g->in_h = l->in[1];
    g->in_w = l->in[2];
    g->out_c = p->out_channels;
    g->k_h = p->kernel_h;
    g->k_w = p->kernel_w;
    g->stride_h = p->stride_h;
    g->stride_w = p->stride_w;
    g->pad_h = pad_of(p, true);
    g->pad_w = pad_of(p, false);
    g->out_h = conv_dim(g->in_h, g->pad_h, g->k_h, g->stride_h);
    g->out_w = conv_dim(g->in_w, g->pad_w, g->k_w, g->stride_w);
}

static void pool_geometry(const cnn_layer *l, const cnn_conv_geom *g, cnn_pool_geom *pg)
{
    const cnn_conv2d_params *p = P(l);
    pg->c = g->out_c;
    pg->in_h = g->out_h;
    pg->in_w = g->out_w;
    pg->win_h = pg->stride_h = p->pool_h;
    pg->win_w = pg->stride_w = p->pool_w;
    pg->out_h = g->out_h / p->pool_h;
    pg->out_w = g->out_w / p->pool_w;
}

static bool fused_pool(const cnn_layer *l)
{
    return P(l)->pool != CNN_POOL_NONE;
}

static cnn_status conv_out_shape(const cnn_layer *l, const int32_t in[3], int32_t out[3])
{
    const cnn_conv2d_params *p = P(l);
    if (p->in_channels && in[0] != p->in_channels)
        return cnn_fail(CNN_ESHAPE, NAME ": input %dx%dx%d but the layer expects %d input maps",
                        in[0], in[1], in[2], p->in_channels);
    /* 64-bit: cnn_layer_output_shape() accepts any int32 input size, and
     * in + 2*pad would overflow int near INT32_MAX. */
    const int pad_h = pad_of(p, true), pad_w = pad_of(p, false);
    int64_t padded_h = (int64_t)in[1] + 2 * (int64_t)pad_h;
    int64_t padded_w = (int64_t)in[2] + 2 * (int64_t)pad_w;
    if (padded_h < p->kernel_h || padded_w < p->kernel_w)
        return cnn_fail(CNN_ESHAPE,
                        NAME ": input %dx%dx%d (padding %dx%d) but kernel %dx%d needs at least %dx%d",
                        in[0], in[1], in[2], pad_h, pad_w, p->kernel_h, p->kernel_w,
                        p->kernel_h, p->kernel_w);
    int64_t oh64 = (padded_h - p->kernel_h) / p->stride_h + 1;
    int64_t ow64 = (padded_w - p->kernel_w) / p->stride_w + 1;
    /* The limits every network shares (cnn.h): the maps before pooling
     * count as an example's elements, and the unfolded input (im2col) is
     * indexed with 32-bit ints by the kernels.  Each product is checked
     * before it feeds a larger one, so none overflows 64 bits. */
    const int64_t patch = (int64_t)in[0] * p->kernel_h * p->kernel_w;
    if (oh64 * ow64 > CNN_MAX_EXAMPLE || oh64 * ow64 * p->out_channels > CNN_MAX_EXAMPLE)
        return cnn_fail(CNN_ESHAPE, NAME ": input %dx%dx%d gives %d maps of %lldx%lld, more than "
                        "%d elements per example", in[0], in[1], in[2], p->out_channels,
                        (long long)oh64, (long long)ow64, CNN_MAX_EXAMPLE);
    if (patch > CNN_MAX_UNFOLD || patch * oh64 * ow64 > CNN_MAX_UNFOLD)
        return cnn_fail(CNN_ESHAPE, NAME ": input %dx%dx%d by kernel %dx%d unfolds to more than "
                        "%lld values per example", in[0], in[1], in[2], p->kernel_h, p->kernel_w,
                        (long long)CNN_MAX_UNFOLD);
    int oh = (int)oh64;
    int ow = (int)ow64;
    if (p->pool != CNN_POOL_NONE) {
        if (oh < p->pool_h || ow < p->pool_w)
            return cnn_fail(CNN_ESHAPE,
                            NAME ": input %dx%dx%d gives %dx%d maps, smaller than the %dx%d pooling window",
                            in[0], in[1], in[2], oh, ow, p->pool_h, p->pool_w);
        oh /= p->pool_h;
        ow /= p->pool_w;
    }
    out[0] = p->out_channels;
    out[1] = oh;
    out[2] = ow;
    return CNN_OK;
}

static cnn_status conv_bind(cnn_layer *l, const int32_t in[3])
{
    cnn_conv2d_params *p = l->params;
    if (p->in_channels && in[0] != p->in_channels)
        return cnn_fail(CNN_ESHAPE, NAME ": input has %d maps, layer expects %d", in[0],
                        p->in_channels);
    int64_t nw = (int64_t)p->out_channels * in[0] * p->kernel_h * p->kernel_w;
    if (nw > INT32_MAX)
        return cnn_fail(CNN_EINVAL, NAME ": %lld weights is too many", (long long)nw);
    p->in_channels = in[0];
    l->n_weights = nw;
    l->n_biases = p->out_channels;
    l->w_ndim = 4;
    l->w_shape[0] = p->out_channels;
    l->w_shape[1] = in[0];
    l->w_shape[2] = p->kernel_h;
    l->w_shape[3] = p->kernel_w;
    l->in[0] = in[0];
    l->bound = true;
    return CNN_OK;
}

static void conv_init(cnn_layer *l, cnn_rng *rng)
{
    const cnn_conv2d_params *p = P(l);
    int64_t k = (int64_t)p->kernel_h * p->kernel_w;
    int64_t pool_area = fused_pool(l) ? (int64_t)p->pool_h * p->pool_w : 1;
    int64_t fan_out = p->out_channels * k;
    /* network3: n_out = maps * kh * kw / pool area (integer division there). */
    int64_t n3 = fan_out / pool_area;
    cnn_init_fill(rng, p->init, l->w, l->n_weights, l->b, l->n_biases, p->in_channels * k, fan_out,
                  n3 > 0 ? n3 : 1);
}

/* MAX pooling (geometry pg) whose windows do not overlap: the weight
 * gradient and (at stride 1) the input gradient can sum only the windows'
 * maxima (conv2d_pooled.c) instead of unpooling. */
static bool pooled_grad(const cnn_layer *l, const cnn_conv_geom *g, const cnn_pool_geom *pg)
{
    return P(l)->pool == CNN_POOL_MAX && cnn_k_conv2d_pooled_bwd_weights_ok(g, pg);
}

static size_t conv_scratch(const cnn_layer *l, int n)
{
    cnn_conv_geom g;
    cnn_pool_geom pg;
    geometry(l, &g);
    size_t most = cnn_k_conv2d_scratch_floats(&g, n);
    if (!fused_pool(l))
        return most;
    pool_geometry(l, &g, &pg);
    if (pooled_grad(l, &g, &pg)) {
        const size_t wgrad = cnn_k_conv2d_pooled_scratch_floats(&g);
        const size_t dgrad = cnn_k_conv2d_pooled_bwd_data_ok(&g, &pg)
                                 ? cnn_k_conv2d_pooled_bwd_data_scratch_floats(&g)
                                 : 0;
        most = wgrad > most ? wgrad : most;
        most = dgrad > most ? dgrad : most;
    }
    return most;
}

static cnn_status conv_reserve(cnn_layer *l, int n)
{
    if (!fused_pool(l))
        return CNN_OK;
    cnn_conv_geom g;
    cnn_pool_geom pg;
    geometry(l, &g);
    pool_geometry(l, &g, &pg);
    size_t conv_elems = (size_t)n * g.out_c * g.out_h * g.out_w;
    size_t pooled = (size_t)n * pg.c * pg.out_h * pg.out_w;
    cnn_status st = cnn_aux_reserve(l, AUX_CONV_OUT, conv_elems, sizeof(float));
    if (st == CNN_OK)
        st = cnn_aux_reserve(l, AUX_DCONV, conv_elems, sizeof(float));
    if (st == CNN_OK && P(l)->pool == CNN_POOL_MAX)
        st = cnn_aux_reserve(l, AUX_ARGMAX, pooled, sizeof(int32_t));
    if (st == CNN_OK && P(l)->pool == CNN_POOL_L2)
        st = cnn_aux_reserve(l, AUX_PRE, pooled, sizeof(float));
    return st;
}

/* What follows one image's convolution inside its loop (conv_forward_part):
 * its pooling, then bias and activation on the pooled planes. */
typedef struct pool_job {
    const cnn_pool_geom *pg;
    const cnn_conv2d_params *p;
    const float *bias;
    float *y;          /* pooled output of the part's first image */
    int32_t *argmax;   /* likewise, or NULL */
    float *pre;        /* L2 pooling in training: the pooled values kept, else NULL */
} pool_job;

static void pool_image(void *ctx, int i, const float *conv_i)
{
    const pool_job *j = ctx;
    const size_t plane = (size_t)j->pg->out_h * j->pg->out_w, p_img = (size_t)j->pg->c * plane;
    const size_t off = (size_t)i * p_img;
    float *y = j->y + off;
    cnn_k_pool2d_fwd(j->pg, j->p->pool, 1, conv_i, y, j->argmax ? j->argmax + off : NULL);
    if (j->pre)
        memcpy(j->pre + off, y, p_img * sizeof(float));
    cnn_k_bias_act(j->p->activation, j->pg->c, plane, j->bias, y);
}

/* Forward for images [a, b) of a batch of n: every buffer is offset to
 * image a, so parts run concurrently on disjoint memory. */
static void conv_forward_part(cnn_layer *l, int n, int a, int b, const float *x, float *y,
                              const cnn_layer_ctx *ctx)
{
    (void)n;
    float *scratch = ctx->scratch;
    float *const aux_conv = l->aux.buf[AUX_CONV_OUT], *const aux_pre = l->aux.buf[AUX_PRE];
    int32_t *const aux_argmax = l->aux.buf[AUX_ARGMAX];
    const cnn_conv2d_params *p = P(l);
    cnn_conv_geom g;
    geometry(l, &g);
    const int nb = b - a;
    const size_t x_img = (size_t)g.in_c * g.in_h * g.in_w;
    const size_t c_img = (size_t)g.out_c * g.out_h * g.out_w;
    x += (size_t)a * x_img;
    if (!fused_pool(l)) {
        y += (size_t)a * c_img;
        cnn_k_conv2d_fwd(&g, nb, x, l->w, l->b, y, scratch);
        cnn_k_act_fwd(p->activation, (size_t)nb * c_img, y, y);
        return;
    }
    cnn_pool_geom pg;
    pool_geometry(l, &g, &pg);
    const size_t plane = (size_t)pg.out_h * pg.out_w, p_img = (size_t)pg.c * plane;
    float *conv_out = aux_conv + (size_t)a * c_img;
    /* argmax serves the backward pass only: inference skips writing it */
    int32_t *argmax = aux_argmax && ctx->mode == CNN_MODE_TRAIN ? aux_argmax + (size_t)a * p_img
                                                                : NULL;
    y += (size_t)a * p_img;
    /* Each image is pooled as soon as its convolution is done, while its
     * output is in cache.  Inference keeps nothing for a backward pass, so
     * every image's convolution reuses the first slot. */
    float *pre = ctx->mode == CNN_MODE_TRAIN && p->pool == CNN_POOL_L2 ? aux_pre + (size_t)a * p_img
                                                                       : NULL;
    pool_job job = {&pg, p, l->b, y, argmax, pre};
    const cnn_k_image_hook hook = {pool_image, &job};
    const size_t step = ctx->mode == CNN_MODE_TRAIN ? c_img : 0;
    cnn_k_conv2d_fwd_each(&g, nb, x, l->w, NULL, conv_out, step, scratch, &hook);
}

static void conv_forward(cnn_layer *l, int n, const float *x, float *y, const cnn_layer_ctx *ctx)
{
    conv_forward_part(l, n, 0, n, x, y, ctx);
}

/* Backward for images [a, b): activation and pooling backward and dx for
 * those images, and their weight gradient into dw (write). */
static void conv_backward_part(cnn_layer *l, int n, int a, int b, const float *x,
                               const float *y, float *dy, float *dx, const cnn_layer_ctx *ctx,
                               float *dw)
{
    (void)n;
    float *scratch = ctx->scratch;
    float *const aux_conv = l->aux.buf[AUX_CONV_OUT], *const aux_pre = l->aux.buf[AUX_PRE];
    float *const aux_dconv = l->aux.buf[AUX_DCONV];
    int32_t *const aux_argmax = l->aux.buf[AUX_ARGMAX];
    const cnn_conv2d_params *p = P(l);
    cnn_conv_geom g;
    geometry(l, &g);
    const int nb = b - a;
    const size_t x_img = (size_t)g.in_c * g.in_h * g.in_w;
    const size_t c_img = (size_t)g.out_c * g.out_h * g.out_w;
    x += (size_t)a * x_img;
    if (dx)
        dx += (size_t)a * x_img;
    if (!fused_pool(l)) {
        y += (size_t)a * c_img;
        dy += (size_t)a * c_img;
        cnn_k_act_bwd(p->activation, (size_t)nb * c_img, y, dy, dy);
        cnn_k_conv2d_bwd_weights(&g, nb, x, dy, dw, NULL, scratch);
        if (dx)
            cnn_k_conv2d_bwd_data(&g, nb, dy, l->w, dx, scratch);
        return;
    }
    cnn_pool_geom pg;
    pool_geometry(l, &g, &pg);
    const size_t plane = (size_t)pg.out_h * pg.out_w, p_img = (size_t)pg.c * plane;
    y += (size_t)a * p_img;
    dy += (size_t)a * p_img;
    float *dconv = aux_dconv + (size_t)a * c_img;
    cnn_k_act_bwd(p->activation, (size_t)nb * p_img, y, dy, dy);
    const int32_t *argmax = aux_argmax ? aux_argmax + (size_t)a * p_img : NULL;
    /* Each gradient sums the windows' maxima where it can; the unpooled
     * gradient is made only for a gradient that takes the dense form. */
    const bool sparse_dw = argmax && pooled_grad(l, &g, &pg);
    const bool sparse_dx = sparse_dw && dx && cnn_k_conv2d_pooled_bwd_data_ok(&g, &pg);
    const bool dense_dx = dx && !sparse_dx;
    if (!sparse_dw || dense_dx)
        cnn_k_pool2d_bwd(&pg, p->pool, nb, aux_conv + (size_t)a * c_img,
                         aux_pre ? aux_pre + (size_t)a * p_img : NULL, dy, argmax, dconv);
    if (sparse_dw)
        cnn_k_conv2d_pooled_bwd_weights(&g, &pg, nb, x, dy, argmax, dw, scratch);
    else
        cnn_k_conv2d_bwd_weights(&g, nb, x, dconv, dw, NULL, scratch);
    if (sparse_dx)
        cnn_k_conv2d_pooled_bwd_data(&g, &pg, nb, dy, argmax, l->w, dx, scratch);
    else if (dense_dx)
        cnn_k_conv2d_bwd_data(&g, nb, dconv, l->w, dx, scratch);
}

/* dw = the parts' gradients summed in part order; db from the whole dy
 * (which the parts have taken through the activation's derivative). */
static void conv_backward_finish(cnn_layer *l, int n, const float *dy,
                                 const float *const *dw_parts, int parts)
{
    cnn_conv_geom g;
    geometry(l, &g);
    const size_t count = (size_t)l->n_weights;
    if (dw_parts[0] != l->dw)
        memcpy(l->dw, dw_parts[0], count * sizeof(float));
    for (int t = 1; t < parts; t++) {
        const float *src = dw_parts[t];
        for (size_t k = 0; k < count; k++)
            l->dw[k] += src[k];
    }
    if (fused_pool(l)) {
        cnn_pool_geom pg;
        pool_geometry(l, &g, &pg);
        cnn_k_bias_grad(n, pg.c, (size_t)pg.out_h * pg.out_w, dy, l->db);
    } else {
        cnn_k_bias_grad(n, g.out_c, (size_t)g.out_h * g.out_w, dy, l->db);
    }
}

static void conv_backward(cnn_layer *l, int n, const float *x, const float *y, float *dy,
                          float *dx, const cnn_layer_ctx *ctx)
{
    conv_backward_part(l, n, 0, n, x, y, dy, dx, ctx, l->dw);
    const float *parts[1] = {l->dw};
    conv_backward_finish(l, n, dy, parts, 1);
}

static int64_t conv_flops(const cnn_layer *l)
{
    cnn_conv_geom g;
    geometry(l, &g);
    return (int64_t)g.out_c * g.out_h * g.out_w * g.in_c * g.k_h * g.k_w +
           (int64_t)g.out_c * g.out_h * g.out_w; /* pooling, bias, activation */
}

static void conv_describe(const cnn_layer *l, char *buf, size_t size)
{
    const cnn_conv2d_params *p = P(l);
    int at = snprintf(buf, size, NAME " %d maps %dx%d, stride %dx%d, pad %dx%d, %s",
                      p->out_channels, p->kernel_h, p->kernel_w, p->stride_h, p->stride_w,
                      pad_of(p, true), pad_of(p, false), cnn_act_name(p->activation));
    if (p->pool != CNN_POOL_NONE && at > 0 && (size_t)at < size)
        snprintf(buf + at, size - (size_t)at, ", %s pool %dx%d", cnn_pool_name(p->pool), p->pool_h,
                 p->pool_w);
}

/* Descriptor (format v1 and later): 13 x u32 then the u64 seed; "same"
 * padding is stored as the padding it resolves to. */
static void conv_encode(const cnn_layer *l, cnn_enc *e)
{
    const cnn_conv2d_params *p = P(l);
    cnn_enc_u32(e, "in_channels", p->in_channels, 1, CNN_MAX_DIM);
    cnn_enc_u32(e, "out_channels", p->out_channels, 1, CNN_MAX_DIM);
    cnn_enc_u32(e, "kernel_h", p->kernel_h, 1, CNN_MAX_DIM);
    cnn_enc_u32(e, "kernel_w", p->kernel_w, 1, CNN_MAX_DIM);
    cnn_enc_u32(e, "stride_h", p->stride_h, 1, CNN_MAX_DIM);
    cnn_enc_u32(e, "stride_w", p->stride_w, 1, CNN_MAX_DIM);
    cnn_enc_u32(e, "pad_h", pad_of(p, true), 0, CNN_MAX_DIM);
    cnn_enc_u32(e, "pad_w", pad_of(p, false), 0, CNN_MAX_DIM);
    cnn_enc_act(e, "activation", p->activation);
    cnn_enc_pool(e, "pool", p->pool);
    cnn_enc_u32(e, "pool_h", p->pool_h, 0, CNN_MAX_DIM);
    cnn_enc_u32(e, "pool_w", p->pool_w, 0, CNN_MAX_DIM);
    cnn_enc_init(e, "init", p->init);
    cnn_enc_u64(e, p->seed);
}

static void conv_decode(cnn_dec *d, void *params)
{
    cnn_conv2d_params *p = params;
    cnn_conv2d_params_init(p, 1, 1, 1);
    p->in_channels = cnn_dec_u32(d, "in_channels", 1, CNN_MAX_DIM);
    p->out_channels = cnn_dec_u32(d, "out_channels", 1, CNN_MAX_DIM);
    p->kernel_h = cnn_dec_u32(d, "kernel_h", 1, CNN_MAX_DIM);
    p->kernel_w = cnn_dec_u32(d, "kernel_w", 1, CNN_MAX_DIM);
    p->stride_h = cnn_dec_u32(d, "stride_h", 1, CNN_MAX_DIM);
    p->stride_w = cnn_dec_u32(d, "stride_w", 1, CNN_MAX_DIM);
    p->pad_h = cnn_dec_u32(d, "pad_h", 0, CNN_MAX_DIM);
    p->pad_w = cnn_dec_u32(d, "pad_w", 0, CNN_MAX_DIM);
    p->activation = cnn_dec_act(d, "activation");
    p->pool = cnn_dec_pool(d, "pool");
    p->pool_h = cnn_dec_u32(d, "pool_h", 0, CNN_MAX_DIM);
    p->pool_w = cnn_dec_u32(d, "pool_w", 0, CNN_MAX_DIM);
    p->init = cnn_dec_init(d, "init");
    p->seed = cnn_dec_u64(d, "seed");
}

static cnn_status conv_validate(const void *params)
{
    const cnn_conv2d_params *p = params;
    if (p->in_channels < 0 || p->in_channels > CNN_MAX_DIM || p->out_channels < 1 ||
        p->out_channels > CNN_MAX_DIM)
        return cnn_fail(CNN_EINVAL, NAME ": channels in %d / out %d outside 1..%d (in 0 = inferred)",
                        p->in_channels, p->out_channels, CNN_MAX_DIM);
    if (p->kernel_h < 1 || p->kernel_w < 1 || p->kernel_h > CNN_MAX_DIM || p->kernel_w > CNN_MAX_DIM)
        return cnn_fail(CNN_EINVAL, NAME ": kernel %dx%d, each side must be 1..%d", p->kernel_h,
                        p->kernel_w, CNN_MAX_DIM);
    if (p->stride_h < 1 || p->stride_w < 1 || p->stride_h > CNN_MAX_DIM || p->stride_w > CNN_MAX_DIM)
        return cnn_fail(CNN_EINVAL, NAME ": stride %dx%d, each must be 1..%d", p->stride_h,
                        p->stride_w, CNN_MAX_DIM);
    if (p->padding != CNN_PAD_EXPLICIT && p->padding != CNN_PAD_SAME)
        return cnn_fail(CNN_EINVAL, NAME ": unknown padding mode %d", p->padding);
    if (p->padding == CNN_PAD_SAME && (p->kernel_h % 2 == 0 || p->kernel_w % 2 == 0))
        return cnn_fail(CNN_EINVAL, NAME ": \"same\" padding needs odd kernel sides, not %dx%d",
                        p->kernel_h, p->kernel_w);
    if (p->padding == CNN_PAD_EXPLICIT &&
        (p->pad_h < 0 || p->pad_w < 0 || p->pad_h > CNN_MAX_DIM || p->pad_w > CNN_MAX_DIM))
        return cnn_fail(CNN_EINVAL, NAME ": padding %dx%d, each must be 0..%d", p->pad_h,
                        p->pad_w, CNN_MAX_DIM);
    if (p->activation < CNN_ACT_IDENTITY || p->activation > CNN_ACT_RELU)
        return cnn_fail(CNN_EINVAL, NAME ": unknown activation %d", p->activation);
    if (p->pool < CNN_POOL_NONE || p->pool > CNN_POOL_L2)
        return cnn_fail(CNN_EINVAL, NAME ": unknown pooling mode %d", p->pool);
    if (p->pool != CNN_POOL_NONE &&
        (p->pool_h < 1 || p->pool_w < 1 || p->pool_h > CNN_MAX_DIM || p->pool_w > CNN_MAX_DIM))
        return cnn_fail(CNN_EINVAL, NAME ": pooling window %dx%d, each side must be 1..%d",
                        p->pool_h, p->pool_w, CNN_MAX_DIM);
    if (p->pool == CNN_POOL_NONE && (p->pool_h < 0 || p->pool_w < 0 ||
                                     p->pool_h > CNN_MAX_DIM || p->pool_w > CNN_MAX_DIM))
        return cnn_fail(CNN_EINVAL, NAME ": pooling window %dx%d, each side must be 0..%d",
                        p->pool_h, p->pool_w, CNN_MAX_DIM);
    if (p->init < CNN_INIT_NETWORK3 || p->init > CNN_INIT_ZERO)
        return cnn_fail(CNN_EINVAL, NAME ": unknown init scheme %d", p->init);
    return CNN_OK;
}

static int32_t conv_preset_input(const void *params)
{
    return ((const cnn_conv2d_params *)params)->in_channels;
}

const cnn_layer_ops cnn_conv2d_ops = {
    .kind = CNN_LAYER_CONV2D,
    .name = NAME,
    .const_name = "CNN_LAYER_CONV2D",
    .file_code = 1,
    .params_size = sizeof(cnn_conv2d_params),
    .params_min_size = PARAMS_V1_SIZE,
    .defaults = conv_defaults,
    .input_form = CNN_INPUT_SPATIAL,
    .validate = conv_validate,
    .preset_input = conv_preset_input,
    .out_shape = conv_out_shape,
    .bind = conv_bind,
    .init_params = conv_init,
    .scratch_floats = conv_scratch,
    .reserve = conv_reserve,
    .forward = conv_forward,
    .backward = conv_backward,
    .forward_part = conv_forward_part,
    .backward_part = conv_backward_part,
    .backward_finish = conv_backward_finish,
    .flops = conv_flops,
    .describe = conv_describe,
    .encode = conv_encode,
    .decode = conv_decode,
};

static void conv_defaults(void *params)
{
    cnn_conv2d_params *p = params;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->out_channels = 1;
    p->kernel_h = p->kernel_w = 1;
    p->stride_h = p->stride_w = 1;
    p->activation = CNN_ACT_SIGMOID;
    p->pool = CNN_POOL_NONE;
    p->pool_h = p->pool_w = 2;
    p->init = CNN_INIT_NETWORK3;
    p->padding = CNN_PAD_EXPLICIT;
}

cnn_status cnn_conv2d_params_init_sized(cnn_conv2d_params *p, size_t struct_size,
                                        int32_t out_channels, int32_t kernel_h, int32_t kernel_w)
{
    cnn_conv2d_params d;
    conv_defaults(&d);
    d.out_channels = out_channels;
    d.kernel_h = kernel_h;
    d.kernel_w = kernel_w;
    return cnn_params_copy_out("cnn_conv2d_params_init", p, struct_size, &d, sizeof d,
                               PARAMS_V1_SIZE);
}

cnn_status cnn_conv2d_create(const cnn_conv2d_params *p, cnn_layer **out)
{
    return cnn_layer_create(&cnn_conv2d_ops, "cnn_conv2d_create", p, p ? p->seed : 0, out);
}
