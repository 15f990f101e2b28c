/* Element-wise activation as a layer of its own (conv and dense layers can
 * also apply one themselves, which saves a pass over memory). */
#include "layer.h"
#include "kernels/kernels.h"

#include <stdio.h>

#define NAME "activation"

/* The kind's params: the public constructor takes the function alone. */
typedef struct act_params {
    uint32_t struct_size;
    int32_t function; /* enum cnn_activation */
} act_params;

static void act_defaults(void *params)
{
    act_params *p = params;
    p->struct_size = sizeof *p;
    p->function = CNN_ACT_IDENTITY;
}

static int32_t fn_of(const cnn_layer *l)
{
    return ((const act_params *)l->params)->function;
}

int32_t cnn_activation_function(const cnn_layer *l)
{
    return fn_of(l);
}

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

static void act_forward(cnn_layer *l, int n, const float *x, float *y, const cnn_layer_ctx *ctx)
{
    (void)ctx;
    cnn_k_act_fwd(fn_of(l), (size_t)n * (size_t)cnn_shape_numel3(l->in), x, y);
}

static void act_backward(cnn_layer *l, int n, const float *x, const float *y, float *dy,
                         float *dx, const cnn_layer_ctx *ctx)
{
    (void)x;
    (void)ctx;
    if (dx)
        cnn_k_act_bwd(fn_of(l), (size_t)n * (size_t)cnn_shape_numel3(l->in), y, dy, dx);
}

static int64_t act_flops(const cnn_layer *l)
{
    return cnn_shape_numel3(l->in);
}

static void act_describe(const cnn_layer *l, char *buf, size_t size)
{
    snprintf(buf, size, NAME " %s", cnn_act_name(fn_of(l)));
}

/* Descriptor: the function (1 x u32). */
static void act_encode(const cnn_layer *l, cnn_enc *e)
{
    cnn_enc_act(e, "function", fn_of(l));
}

static void act_decode(cnn_dec *d, void *params)
{
    act_params *p = params;
    p->struct_size = sizeof *p;
    p->function = cnn_dec_act(d, "function");
}

static cnn_status act_validate(const void *params)
{
    const act_params *p = params;
    if (p->function < CNN_ACT_IDENTITY || p->function > CNN_ACT_RELU)
        return cnn_fail(CNN_EINVAL, NAME ": unknown activation %d", p->function);
    return CNN_OK;
}

const cnn_layer_ops cnn_activation_ops = {
    .kind = CNN_LAYER_ACTIVATION,
    .name = NAME,
    .const_name = "CNN_LAYER_ACTIVATION",
    .file_code = 5,
    .params_size = sizeof(act_params),
    .params_min_size = sizeof(act_params),
    .defaults = act_defaults,
    .input_form = CNN_INPUT_ANY,
    .validate = act_validate,
    .out_shape = act_out_shape,
    .bind = act_bind,
    .forward = act_forward,
    .backward = act_backward,
    .flops = act_flops,
    .describe = act_describe,
    .encode = act_encode,
    .decode = act_decode,
};

cnn_status cnn_activation_create(int32_t activation, cnn_layer **out)
{
    act_params p = {sizeof p, activation};
    return cnn_layer_create(&cnn_activation_ops, "cnn_activation_create", &p, 0, out);
}
