/* Element-wise activation as a layer of its own (conv and dense layers can
 * also apply one themselves, which saves a pass over memory). */
#include "layer.h"
#include "kernels/kernels.h"

#define NAME "activation"

static cnn_status act_out_shape(const cnn_layer *l, const int32_t in[3], int32_t out[3])
{
    (void)l;
    out[0] = in[0];
    out[1] = in[1];
    out[2] = in[2];
    return CNN_OK;
}

static cnn_status act_bind(cnn_layer *l, const int32_t in[3])
{
    (void)in;
    l->bound = true;
    return CNN_OK;
}

static void act_init(cnn_layer *l, cnn_rng *rng)
{
    (void)l;
    (void)rng;
}

static cnn_status act_reserve(cnn_layer *l, int n)
{
    (void)l;
    (void)n;
    return CNN_OK;
}

static void act_forward(cnn_layer *l, int n, const float *x, float *y, int32_t mode,
                        float *scratch, cnn_rng *rng)
{
    (void)mode;
    (void)scratch;
    (void)rng;
    cnn_k_act_fwd(l->p.activation, (size_t)n * (size_t)cnn_shape_numel3(l->in), x, y);
}

static void act_backward(cnn_layer *l, int n, const float *x, const float *y, float *dy,
                         float *dx, float *scratch)
{
    (void)x;
    (void)scratch;
    if (dx)
        cnn_k_act_bwd(l->p.activation, (size_t)n * (size_t)cnn_shape_numel3(l->in), y, dy, dx);
}

const cnn_layer_ops cnn_activation_ops = {
    .kind = CNN_LAYER_ACTIVATION,
    .name = NAME,
    .out_shape = act_out_shape,
    .bind = act_bind,
    .init_params = act_init,
    .scratch_floats = NULL,
    .reserve = act_reserve,
    .forward = act_forward,
    .backward = act_backward,
    .free_aux = NULL,
};

cnn_status cnn_activation_create(int32_t activation, cnn_layer **out)
{
    if (out)
        *out = NULL;
    if (!out)
        return cnn_fail(CNN_EINVAL, "cnn_activation_create: out is NULL");
    if (activation < CNN_ACT_IDENTITY || activation > CNN_ACT_RELU)
        return cnn_fail(CNN_EINVAL, NAME ": unknown activation %d", activation);
    cnn_layer *l;
    cnn_status st = cnn_layer_alloc(&cnn_activation_ops, &l);
    if (st != CNN_OK)
        return st;
    l->p.activation = activation;
    return cnn_layer_finish_create(l, 0, 0, out);
}
