/* Pooling layer: max (routes the gradient to the first maximum of each
 * window), average, or L2 (sqrt of the sum of squares).  No parameters. */
#include "layer.h"
#include "kernels/kernels.h"

#include <string.h>

#define NAME "pool2d"

static void geometry(const cnn_layer *l, cnn_pool_geom *g)
{
    const cnn_pool2d_params *p = &l->p.pool;
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
    const cnn_pool2d_params *p = &l->p.pool;
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

static void pool_init(cnn_layer *l, cnn_rng *rng)
{
    (void)l;
    (void)rng;
}

static cnn_status pool_reserve(cnn_layer *l, int n)
{
    if (l->p.pool.mode != CNN_POOL_MAX)
        return CNN_OK;
    cnn_pool_geom g;
    geometry(l, &g);
    size_t outputs = (size_t)n * g.c * g.out_h * g.out_w;
    return cnn_aux_grow((void **)&l->aux.argmax, &l->aux.argmax_len, outputs, sizeof(int32_t), NAME);
}

static void pool_forward(cnn_layer *l, int n, const float *x, float *y, int32_t mode,
                         float *scratch, cnn_rng *rng)
{
    (void)mode;
    (void)scratch;
    (void)rng;
    cnn_pool_geom g;
    geometry(l, &g);
    cnn_k_pool2d_fwd(&g, l->p.pool.mode, n, x, y, l->aux.argmax);
}

static void pool_backward(cnn_layer *l, int n, const float *x, const float *y, float *dy,
                          float *dx, float *scratch)
{
    (void)scratch;
    if (!dx)
        return;
    cnn_pool_geom g;
    geometry(l, &g);
    cnn_k_pool2d_bwd(&g, l->p.pool.mode, n, x, y, dy, l->aux.argmax, dx);
}

const cnn_layer_ops cnn_pool2d_ops = {
    .kind = CNN_LAYER_POOL2D,
    .name = NAME,
    .out_shape = pool_out_shape,
    .bind = pool_bind,
    .init_params = pool_init,
    .scratch_floats = NULL,
    .reserve = pool_reserve,
    .forward = pool_forward,
    .backward = pool_backward,
    .free_aux = NULL,
};

cnn_status cnn_pool2d_params_init(cnn_pool2d_params *p, int32_t mode, int32_t window_h,
                                  int32_t window_w)
{
    if (!p)
        return cnn_fail(CNN_EINVAL, "cnn_pool2d_params_init: params is NULL");
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->mode = mode;
    p->window_h = p->stride_h = window_h;
    p->window_w = p->stride_w = window_w;
    return CNN_OK;
}

cnn_status cnn_pool2d_create(const cnn_pool2d_params *p, cnn_layer **out)
{
    if (out)
        *out = NULL;
    if (!p || !out)
        return cnn_fail(CNN_EINVAL, "cnn_pool2d_create: NULL argument");
    if (p->struct_size < sizeof *p)
        return cnn_fail(CNN_EINVAL, "cnn_pool2d_create: struct_size %u, expected %zu",
                        (unsigned)p->struct_size, sizeof *p);
    if (p->mode != CNN_POOL_MAX && p->mode != CNN_POOL_AVG && p->mode != CNN_POOL_L2)
        return cnn_fail(CNN_EINVAL, NAME ": unknown pooling mode %d", p->mode);
    if (p->window_h < 1 || p->window_w < 1 || p->window_h > 65535 || p->window_w > 65535)
        return cnn_fail(CNN_EINVAL, NAME ": window %dx%d, each side must be 1..65535", p->window_h,
                        p->window_w);
    if (p->stride_h < 1 || p->stride_w < 1 || p->stride_h > 65535 || p->stride_w > 65535)
        return cnn_fail(CNN_EINVAL, NAME ": stride %dx%d, each must be 1..65535", p->stride_h,
                        p->stride_w);
    cnn_layer *l;
    cnn_status st = cnn_layer_alloc(&cnn_pool2d_ops, &l);
    if (st != CNN_OK)
        return st;
    l->p.pool = *p;
    l->p.pool.struct_size = sizeof *p;
    return cnn_layer_finish_create(l, 0, 0, out);
}
