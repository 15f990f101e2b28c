/* Convolution layer, optionally with fused pooling as in network3's
 * ConvPoolLayer: y = act(pool(conv(x)) + b).  Without pooling:
 * y = act(conv(x) + b).  Weights are (out, in, kh, kw), cross-correlation
 * (no kernel flip: only a display matter, see docs/design.md). */
#include "layer.h"
#include "kernels/kernels.h"

#include <string.h>

#define NAME "conv2d"

static int conv_dim(int in, int pad, int k, int stride)
{
    return (in + 2 * pad - k) / stride + 1;
}

static void geometry(const cnn_layer *l, cnn_conv_geom *g)
{
    const cnn_conv2d_params *p = &l->p.conv;
    g->in_c = l->in[0];
    g->in_h = l->in[1];
    g->in_w = l->in[2];
    g->out_c = p->out_channels;
    g->k_h = p->kernel_h;
    g->k_w = p->kernel_w;
    g->stride_h = p->stride_h;
    g->stride_w = p->stride_w;
    g->pad_h = p->pad_h;
    g->pad_w = p->pad_w;
    g->out_h = conv_dim(g->in_h, g->pad_h, g->k_h, g->stride_h);
    g->out_w = conv_dim(g->in_w, g->pad_w, g->k_w, g->stride_w);
}

static void pool_geometry(const cnn_layer *l, const cnn_conv_geom *g, cnn_pool_geom *pg)
{
    const cnn_conv2d_params *p = &l->p.conv;
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
    return l->p.conv.pool != CNN_POOL_NONE;
}

static cnn_status conv_out_shape(const cnn_layer *l, const int32_t in[3], int32_t out[3])
{
    const cnn_conv2d_params *p = &l->p.conv;
    if (p->in_channels && in[0] != p->in_channels)
        return cnn_fail(CNN_ESHAPE, NAME ": input %dx%dx%d but the layer expects %d input maps",
                        in[0], in[1], in[2], p->in_channels);
    /* 64-bit: cnn_layer_output_shape() accepts any int32 input size, and
     * in + 2*pad would overflow int near INT32_MAX. */
    int64_t padded_h = (int64_t)in[1] + 2 * (int64_t)p->pad_h;
    int64_t padded_w = (int64_t)in[2] + 2 * (int64_t)p->pad_w;
    if (padded_h < p->kernel_h || padded_w < p->kernel_w)
        return cnn_fail(CNN_ESHAPE,
                        NAME ": input %dx%dx%d (padding %dx%d) but kernel %dx%d needs at least %dx%d",
                        in[0], in[1], in[2], p->pad_h, p->pad_w, p->kernel_h, p->kernel_w,
                        p->kernel_h, p->kernel_w);
    int64_t oh64 = (padded_h - p->kernel_h) / p->stride_h + 1;
    int64_t ow64 = (padded_w - p->kernel_w) / p->stride_w + 1;
    if (oh64 > INT32_MAX || ow64 > INT32_MAX)
        return cnn_fail(CNN_ESHAPE, NAME ": input %dx%dx%d (padding %dx%d) gives maps too large",
                        in[0], in[1], in[2], p->pad_h, p->pad_w);
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
    cnn_conv2d_params *p = &l->p.conv;
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
    const cnn_conv2d_params *p = &l->p.conv;
    int64_t k = (int64_t)p->kernel_h * p->kernel_w;
    int64_t pool_area = fused_pool(l) ? (int64_t)p->pool_h * p->pool_w : 1;
    int64_t fan_out = p->out_channels * k;
    /* network3: n_out = maps * kh * kw / pool area (integer division there). */
    int64_t n3 = fan_out / pool_area;
    cnn_init_fill(rng, p->init, l->w, l->n_weights, l->b, l->n_biases, p->in_channels * k, fan_out,
                  n3 > 0 ? n3 : 1);
}

static size_t conv_scratch(const cnn_layer *l, int n)
{
    cnn_conv_geom g;
    geometry(l, &g);
    return cnn_k_conv2d_scratch_floats(&g, n);
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
    cnn_layer_aux *a = &l->aux;
    cnn_status st = cnn_aux_grow((void **)&a->conv_out, &a->conv_out_len, conv_elems,
                                 sizeof(float), NAME);
    if (st == CNN_OK)
        st = cnn_aux_grow((void **)&a->dconv, &a->dconv_len, conv_elems, sizeof(float), NAME);
    if (st == CNN_OK && l->p.conv.pool == CNN_POOL_MAX)
        st = cnn_aux_grow((void **)&a->argmax, &a->argmax_len, pooled, sizeof(int32_t), NAME);
    if (st == CNN_OK && l->p.conv.pool == CNN_POOL_L2)
        st = cnn_aux_grow((void **)&a->pre, &a->pre_len, pooled, sizeof(float), NAME);
    return st;
}

/* Forward for images [a, b) of a batch of n: every buffer is offset to
 * image a, so parts run concurrently on disjoint memory. */
static void conv_forward_part(cnn_layer *l, int n, int a, int b, const float *x, float *y,
                              int32_t mode, float *scratch)
{
    (void)n;
    const cnn_conv2d_params *p = &l->p.conv;
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
    float *conv_out = l->aux.conv_out + (size_t)a * c_img;
    int32_t *argmax = l->aux.argmax ? l->aux.argmax + (size_t)a * p_img : NULL;
    y += (size_t)a * p_img;
    cnn_k_conv2d_fwd(&g, nb, x, l->w, NULL, conv_out, scratch);
    cnn_k_pool2d_fwd(&pg, p->pool, nb, conv_out, y, argmax);
    if (mode == CNN_MODE_TRAIN && p->pool == CNN_POOL_L2)
        memcpy(l->aux.pre + (size_t)a * p_img, y, (size_t)nb * p_img * sizeof(float));
    cnn_k_bias_add(nb, pg.c, plane, l->b, y);
    cnn_k_act_fwd(p->activation, (size_t)nb * p_img, y, y);
}

static void conv_forward(cnn_layer *l, int n, const float *x, float *y, int32_t mode,
                         float *scratch, cnn_rng *rng)
{
    (void)rng;
    conv_forward_part(l, n, 0, n, x, y, mode, scratch);
}

/* Backward for images [a, b): activation and pooling backward and dx for
 * those images, and their weight gradient into dw (write). */
static void conv_backward_part(cnn_layer *l, int n, int a, int b, const float *x,
                               const float *y, float *dy, float *dx, float *scratch, float *dw)
{
    (void)n;
    const cnn_conv2d_params *p = &l->p.conv;
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
    float *dconv = l->aux.dconv + (size_t)a * c_img;
    cnn_k_act_bwd(p->activation, (size_t)nb * p_img, y, dy, dy);
    cnn_k_pool2d_bwd(&pg, p->pool, nb, l->aux.conv_out + (size_t)a * c_img,
                     l->aux.pre ? l->aux.pre + (size_t)a * p_img : NULL, dy,
                     l->aux.argmax ? l->aux.argmax + (size_t)a * p_img : NULL, dconv);
    cnn_k_conv2d_bwd_weights(&g, nb, x, dconv, dw, NULL, scratch);
    if (dx)
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
                          float *dx, float *scratch)
{
    conv_backward_part(l, n, 0, n, x, y, dy, dx, scratch, l->dw);
    const float *parts[1] = {l->dw};
    conv_backward_finish(l, n, dy, parts, 1);
}

const cnn_layer_ops cnn_conv2d_ops = {
    .kind = CNN_LAYER_CONV2D,
    .name = NAME,
    .out_shape = conv_out_shape,
    .bind = conv_bind,
    .init_params = conv_init,
    .scratch_floats = conv_scratch,
    .reserve = conv_reserve,
    .forward = conv_forward,
    .backward = conv_backward,
    .free_aux = NULL,
    .forward_part = conv_forward_part,
    .backward_part = conv_backward_part,
    .backward_finish = conv_backward_finish,
};

cnn_status cnn_conv2d_params_init(cnn_conv2d_params *p, int32_t out_channels, int32_t kernel_h,
                                  int32_t kernel_w)
{
    if (!p)
        return cnn_fail(CNN_EINVAL, "cnn_conv2d_params_init: params is NULL");
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->out_channels = out_channels;
    p->kernel_h = kernel_h;
    p->kernel_w = kernel_w;
    p->stride_h = p->stride_w = 1;
    p->activation = CNN_ACT_SIGMOID;
    p->pool = CNN_POOL_NONE;
    p->pool_h = p->pool_w = 2;
    p->init = CNN_INIT_NETWORK3;
    return CNN_OK;
}

/* Sizes are capped so every derived product fits comfortably in int. */
#define CNN_MAX_DIM 65535

cnn_status cnn_conv2d_create(const cnn_conv2d_params *p, cnn_layer **out)
{
    if (out)
        *out = NULL;
    if (!p || !out)
        return cnn_fail(CNN_EINVAL, "cnn_conv2d_create: NULL argument");
    if (p->struct_size < sizeof *p)
        return cnn_fail(CNN_EINVAL, "cnn_conv2d_create: struct_size %u, expected %zu (use "
                        "cnn_conv2d_params_init)", (unsigned)p->struct_size, sizeof *p);
    if (p->in_channels < 0 || p->in_channels > CNN_MAX_DIM || p->out_channels < 1 ||
        p->out_channels > CNN_MAX_DIM)
        return cnn_fail(CNN_EINVAL, "conv2d: channels in %d / out %d outside 1..%d (in 0 = inferred)",
                        p->in_channels, p->out_channels, CNN_MAX_DIM);
    if (p->kernel_h < 1 || p->kernel_w < 1 || p->kernel_h > CNN_MAX_DIM || p->kernel_w > CNN_MAX_DIM)
        return cnn_fail(CNN_EINVAL, "conv2d: kernel %dx%d, each side must be 1..%d", p->kernel_h,
                        p->kernel_w, CNN_MAX_DIM);
    if (p->stride_h < 1 || p->stride_w < 1 || p->stride_h > CNN_MAX_DIM || p->stride_w > CNN_MAX_DIM)
        return cnn_fail(CNN_EINVAL, "conv2d: stride %dx%d, each must be 1..%d", p->stride_h,
                        p->stride_w, CNN_MAX_DIM);
    if (p->pad_h < 0 || p->pad_w < 0 || p->pad_h > CNN_MAX_DIM || p->pad_w > CNN_MAX_DIM)
        return cnn_fail(CNN_EINVAL, "conv2d: padding %dx%d, each must be 0..%d", p->pad_h,
                        p->pad_w, CNN_MAX_DIM);
    if (p->activation < CNN_ACT_IDENTITY || p->activation > CNN_ACT_RELU)
        return cnn_fail(CNN_EINVAL, "conv2d: unknown activation %d", p->activation);
    if (p->pool < CNN_POOL_NONE || p->pool > CNN_POOL_L2)
        return cnn_fail(CNN_EINVAL, "conv2d: unknown pooling mode %d", p->pool);
    if (p->pool != CNN_POOL_NONE &&
        (p->pool_h < 1 || p->pool_w < 1 || p->pool_h > CNN_MAX_DIM || p->pool_w > CNN_MAX_DIM))
        return cnn_fail(CNN_EINVAL, "conv2d: pooling window %dx%d, each side must be 1..%d",
                        p->pool_h, p->pool_w, CNN_MAX_DIM);
    if (p->init < CNN_INIT_NETWORK3 || p->init > CNN_INIT_ZERO)
        return cnn_fail(CNN_EINVAL, "conv2d: unknown init scheme %d", p->init);
    cnn_layer *l;
    cnn_status st = cnn_layer_alloc(&cnn_conv2d_ops, &l);
    if (st != CNN_OK)
        return st;
    l->p.conv = *p;
    l->p.conv.struct_size = sizeof *p;
    return cnn_layer_finish_create(l, p->seed, p->in_channels, out);
}
