/* Global average pooling: (C, H, W) -> (C, 1, 1), the mean of each
 * channel's plane.  No parameters; average pooling with one window the
 * size of the plane, so it runs on the pooling kernels. */
#include "layer.h"
#include "kernels/kernels.h"

#include <stdio.h>

#define NAME "global_avg_pool"

/* The kind's params: none beyond the size. */
typedef struct gap_params {
    uint32_t struct_size;
} gap_params;

static void gap_defaults(void *params)
{
    gap_params *p = params;
    p->struct_size = sizeof *p;
}

static void geometry(const cnn_layer *l, cnn_pool_geom *g)
{
    g->c = l->in[0];
    g->in_h = g->win_h = g->stride_h = l->in[1];
    g->in_w = g->win_w = g->stride_w = l->in[2];
    g->out_h = g->out_w = 1;
}

static cnn_status gap_out_shape(const cnn_layer *l, const int32_t in[3], int32_t out[3])
{
    (void)l;
    out[0] = in[0];
    out[1] = out[2] = 1;
    return CNN_OK;
}

static cnn_status gap_bind(cnn_layer *l, const int32_t in[3])
{
    l->in[0] = in[0];
    l->bound = true;
    return CNN_OK;
}

static void gap_forward(cnn_layer *l, int n, const float *x, float *y, const cnn_layer_ctx *ctx)
{
    (void)ctx;
    cnn_pool_geom g;
    geometry(l, &g);
    cnn_k_pool2d_fwd(&g, CNN_K_POOL_AVG, n, x, y, NULL);
}

static void gap_backward(cnn_layer *l, int n, const float *x, const float *y, float *dy,
                         float *dx, const cnn_layer_ctx *ctx)
{
    (void)ctx;
    if (!dx)
        return;
    cnn_pool_geom g;
    geometry(l, &g);
    cnn_k_pool2d_bwd(&g, CNN_K_POOL_AVG, n, x, y, dy, NULL, dx);
}

static int64_t gap_flops(const cnn_layer *l)
{
    return cnn_shape_numel3(l->in);
}

static void gap_describe(const cnn_layer *l, char *buf, size_t size)
{
    (void)l;
    snprintf(buf, size, NAME);
}

/* Descriptor: empty. */
static void gap_encode(const cnn_layer *l, cnn_enc *e)
{
    (void)l;
    (void)e;
}

static void gap_decode(cnn_dec *d, void *params)
{
    (void)d;
    gap_defaults(params);
}

static cnn_status gap_validate(const void *params)
{
    (void)params;
    return CNN_OK;
}

const cnn_layer_ops cnn_global_avg_pool_ops = {
    .kind = CNN_LAYER_GLOBAL_AVG_POOL,
    .name = NAME,
    .const_name = "CNN_LAYER_GLOBAL_AVG_POOL",
    .file_code = 7,
    .params_size = sizeof(gap_params),
    .params_min_size = sizeof(gap_params),
    .defaults = gap_defaults,
    .input_form = CNN_INPUT_SPATIAL,
    .validate = gap_validate,
    .out_shape = gap_out_shape,
    .bind = gap_bind,
    .forward = gap_forward,
    .backward = gap_backward,
    .flops = gap_flops,
    .describe = gap_describe,
    .encode = gap_encode,
    .decode = gap_decode,
};

cnn_status cnn_global_avg_pool_create(cnn_layer **out)
{
    gap_params p = {sizeof p};
    return cnn_layer_create(&cnn_global_avg_pool_ops, "cnn_global_avg_pool_create", &p, 0, out);
}
