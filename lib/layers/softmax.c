/* Softmax output layer: y = softmax(W x + b), with network3-style dropout
 * on its input.  Inside a network its cost is the mean negative
 * log-likelihood, whose gradient w.r.t. z the network computes directly
 * (y - onehot) / N; standalone, backward takes dcost/dy. */
#include "layer.h"
#include "kernels/kernels.h"

#include <string.h>

#define NAME "softmax"

static cnn_status softmax_out_shape(const cnn_layer *l, const int32_t in[3], int32_t out[3])
{
    int64_t features = cnn_shape_numel3(in);
    if (l->p.softmax.in_features && features != l->p.softmax.in_features)
        return cnn_fail(CNN_ESHAPE, NAME ": input %dx%dx%d has %lld features, layer expects %d",
                        in[0], in[1], in[2], (long long)features, l->p.softmax.in_features);
    out[0] = l->p.softmax.classes;
    out[1] = out[2] = 1;
    return CNN_OK;
}

static cnn_status softmax_bind(cnn_layer *l, const int32_t in[3])
{
    cnn_softmax_params *p = &l->p.softmax;
    int64_t features = cnn_shape_numel3(in);
    int64_t nw = features * p->classes;
    if (features > INT32_MAX || nw > INT32_MAX)
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
    const cnn_softmax_params *p = &l->p.softmax;
    /* network3 starts its softmax layer at zero, so "as network3" means zero. */
    int32_t scheme = p->init == CNN_INIT_NETWORK3 ? CNN_INIT_ZERO : p->init;
    cnn_init_fill(rng, scheme, l->w, l->n_weights, l->b, l->n_biases, p->in_features, p->classes,
                  p->classes);
}

static size_t softmax_scratch(const cnn_layer *l, int n)
{
    /* Standalone backward needs room for dz. */
    return (size_t)n * (size_t)l->p.softmax.classes;
}

static cnn_status softmax_reserve(cnn_layer *l, int n)
{
    return cnn_affine_reserve(l, n, l->p.softmax.in_features, l->p.softmax.dropout);
}

static void softmax_forward(cnn_layer *l, int n, const float *x, float *y, int32_t mode,
                            float *scratch, cnn_rng *rng)
{
    (void)scratch;
    const cnn_softmax_params *p = &l->p.softmax;
    cnn_affine_forward(l, n, p->in_features, p->classes, p->dropout, x, y, mode, rng);
    cnn_k_softmax_fwd(n, p->classes, y, y);
}

static void softmax_backward(cnn_layer *l, int n, const float *x, const float *y, float *dy,
                             float *dx, float *scratch)
{
    const cnn_softmax_params *p = &l->p.softmax;
    cnn_k_softmax_bwd(n, p->classes, y, dy, scratch);
    cnn_affine_backward(l, n, p->in_features, p->classes, p->dropout, x, scratch, dx);
}

void cnn_softmax_backward_dz(cnn_layer *l, int n, const float *x, const float *dz, float *dx)
{
    const cnn_softmax_params *p = &l->p.softmax;
    cnn_affine_backward(l, n, p->in_features, p->classes, p->dropout, x, dz, dx);
}

const cnn_layer_ops cnn_softmax_ops = {
    .kind = CNN_LAYER_SOFTMAX,
    .name = NAME,
    .out_shape = softmax_out_shape,
    .bind = softmax_bind,
    .init_params = softmax_init,
    .scratch_floats = softmax_scratch,
    .reserve = softmax_reserve,
    .forward = softmax_forward,
    .backward = softmax_backward,
    .free_aux = NULL,
};

cnn_status cnn_softmax_params_init(cnn_softmax_params *p, int32_t classes)
{
    if (!p)
        return cnn_fail(CNN_EINVAL, "cnn_softmax_params_init: params is NULL");
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->classes = classes;
    p->init = CNN_INIT_ZERO;
    return CNN_OK;
}

cnn_status cnn_softmax_create(const cnn_softmax_params *p, cnn_layer **out)
{
    if (out)
        *out = NULL;
    if (!p || !out)
        return cnn_fail(CNN_EINVAL, "cnn_softmax_create: NULL argument");
    if (p->struct_size < sizeof *p)
        return cnn_fail(CNN_EINVAL, "cnn_softmax_create: struct_size %u, expected %zu",
                        (unsigned)p->struct_size, sizeof *p);
    if (p->classes < 2 || p->in_features < 0)
        return cnn_fail(CNN_EINVAL, NAME ": %d classes (need >= 2), in %d features",
                        p->classes, p->in_features);
    if (!(p->dropout >= 0.0f && p->dropout < 1.0f))
        return cnn_fail(CNN_EINVAL, NAME ": dropout %g outside [0, 1)", (double)p->dropout);
    if (p->init < CNN_INIT_NETWORK3 || p->init > CNN_INIT_ZERO)
        return cnn_fail(CNN_EINVAL, NAME ": unknown init scheme %d", p->init);
    cnn_layer *l;
    cnn_status st = cnn_layer_alloc(&cnn_softmax_ops, &l);
    if (st != CNN_OK)
        return st;
    l->p.softmax = *p;
    l->p.softmax.struct_size = sizeof *p;
    return cnn_layer_finish_create(l, p->seed, p->in_features, out);
}
