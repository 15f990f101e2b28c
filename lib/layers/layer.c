/* What every layer kind shares: allocation, parameter storage and views,
 * initialisation schemes, and the standalone (no network) public API. */
#include "layer.h"
#include "kernels/kernels.h"

#include <math.h>
#include <string.h>

int64_t cnn_shape_numel3(const int32_t s[3])
{
    return (int64_t)s[0] * s[1] * s[2];
}

cnn_status cnn_layer_make(const cnn_layer_ops *ops, const void *params, cnn_layer **out)
{
    cnn_layer *l = cnn_alloc_zeroed(1, sizeof *l);
    void *copy = cnn_alloc(ops->params_size);
    if (!l || !copy) {
        cnn_dealloc(l);
        cnn_dealloc(copy);
        return cnn_fail(CNN_ENOMEM, "%s: out of memory for the layer", ops->name);
    }
    memcpy(copy, params, ops->params_size);
    uint32_t size = (uint32_t)ops->params_size;
    memcpy(copy, &size, sizeof size); /* struct_size: the library's own now */
    l->ops = ops;
    l->params = copy;
    *out = l;
    return CNN_OK;
}

cnn_status cnn_layer_create(const cnn_layer_ops *ops, const char *who, const void *params,
                            uint64_t seed, cnn_layer **out)
{
    if (out)
        *out = NULL;
    if (!params || !out)
        return cnn_fail(CNN_EINVAL, "%s: NULL argument", who);
    uint32_t size = cnn_params_struct_size(params);
    if (size < ops->params_min_size)
        return cnn_fail(CNN_EINVAL, "%s: struct_size %u, expected at least %zu (use the "
                        "params_init function)", who, (unsigned)size, ops->params_min_size);
    /* The caller's fields over the defaults: an older caller's struct is
     * shorter, and nothing past its struct_size is read. */
    cnn_params_buf full;
    if (ops->params_size > sizeof full)
        return cnn_fail(CNN_EINVAL, "%s: params too large", who);
    ops->defaults(&full);
    memcpy(&full, params, size < ops->params_size ? size : ops->params_size);
    params = &full;
    cnn_status st = ops->validate(params);
    if (st != CNN_OK)
        return st;
    cnn_layer *l = NULL;
    if ((st = cnn_layer_make(ops, params, &l)) != CNN_OK)
        return st;
    l->seed = seed;
    /* Dropout masks of a standalone layer use a stream apart from its weights. */
    cnn_rng_seed_stream(&l->rng, seed, 1);
    int32_t in_size = ops->preset_input ? ops->preset_input(params) : 0;
    if (in_size > 0) {
        int32_t in[3] = {in_size, 1, 1};
        st = ops->bind(l, in);
        if (st == CNN_OK)
            st = cnn_layer_alloc_own_params(l, seed);
        if (st != CNN_OK) {
            cnn_layer_free(l);
            return st;
        }
    }
    *out = l;
    return CNN_OK;
}

cnn_status cnn_aux_grow(void **buf, size_t *len, size_t need, size_t elem, const char *who)
{
    if (need <= *len && *buf)
        return CNN_OK;
    void *fresh = cnn_alloc_array(need ? need : 1, elem);
    if (!fresh)
        return cnn_fail(CNN_ENOMEM, "%s: out of memory for %zu work values", who, need);
    cnn_dealloc(*buf);
    *buf = fresh;
    *len = need;
    return CNN_OK;
}

cnn_status cnn_aux_reserve(cnn_layer *l, int slot, size_t need, size_t elem)
{
    return cnn_aux_grow(&l->aux.buf[slot], &l->aux.len[slot], need, elem, l->ops->name);
}

static void aux_free(cnn_layer_aux *aux)
{
    for (int i = 0; i < CNN_AUX_SLOTS; i++)
        cnn_dealloc(aux->buf[i]);
    memset(aux, 0, sizeof *aux);
}

void cnn_layer_refresh_views(cnn_layer *l)
{
    int64_t bshape[1] = {l->n_biases};
    if (l->n_weights > 0 && l->w) {
        cnn_tensor_view_set(&l->view_w, l->w, l->w_ndim, l->w_shape);
        cnn_tensor_view_set(&l->view_dw, l->dw, l->w_ndim, l->w_shape);
    }
    if (l->n_biases > 0 && l->b) {
        cnn_tensor_view_set(&l->view_b, l->b, 1, bshape);
        cnn_tensor_view_set(&l->view_db, l->db, 1, bshape);
    }
}

void cnn_layer_set_storage(cnn_layer *l, float *params, float *grads, float *state)
{
    l->w = params;
    l->b = params ? params + l->n_weights : NULL;
    l->dw = grads;
    l->db = grads ? grads + l->n_weights : NULL;
    l->state = l->n_state ? state : NULL;
    cnn_layer_refresh_views(l);
}

cnn_status cnn_layer_alloc_own_params(cnn_layer *l, uint64_t seed)
{
    int64_t count = l->n_weights + l->n_biases;
    if (count + l->n_state == 0)
        return CNN_OK;
    float *block = cnn_alloc_zeroed((size_t)(count * 2 + l->n_state), sizeof(float));
    if (!block)
        return cnn_fail(CNN_ENOMEM, "%s: out of memory for %lld parameters", l->ops->name,
                        (long long)count);
    cnn_dealloc(l->own_storage);
    l->own_storage = block;
    cnn_layer_set_storage(l, block, block + count, block + 2 * count);
    cnn_rng rng;
    cnn_rng_seed(&rng, seed);
    l->ops->init_params(l, &rng);
    return CNN_OK;
}

void cnn_init_fill(cnn_rng *rng, int32_t scheme, float *w, int64_t n_w, float *b, int64_t n_b,
                   int64_t fan_in, int64_t fan_out, int64_t fan_out_network3)
{
    switch (scheme) {
    case CNN_INIT_NETWORK3:
        cnn_rng_normal_fill(rng, w, (size_t)n_w, sqrt(1.0 / (double)fan_out_network3));
        cnn_rng_normal_fill(rng, b, (size_t)n_b, 1.0);
        break;
    case CNN_INIT_HE:
        cnn_rng_normal_fill(rng, w, (size_t)n_w, sqrt(2.0 / (double)fan_in));
        memset(b, 0, (size_t)n_b * sizeof *b);
        break;
    case CNN_INIT_GLOROT:
        cnn_rng_uniform_fill(rng, w, (size_t)n_w, sqrt(6.0 / (double)(fan_in + fan_out)));
        memset(b, 0, (size_t)n_b * sizeof *b);
        break;
    default: /* CNN_INIT_ZERO */
        memset(w, 0, (size_t)n_w * sizeof *w);
        memset(b, 0, (size_t)n_b * sizeof *b);
        break;
    }
}

void cnn_layer_free(cnn_layer *l)
{
    if (!l)
        return;
    aux_free(&l->aux);
    cnn_dealloc(l->params);
    cnn_dealloc(l->own_storage);
    cnn_dealloc(l->own_scratch);
    cnn_dealloc(l);
}

bool cnn_layer_uses_workers(const cnn_layer *l)
{
    return l->ops->uses_workers ? l->ops->uses_workers(l) : l->ops->forward_part != NULL;
}

void cnn_layer_describe(const cnn_layer *l, char *buf, size_t size)
{
    l->ops->describe(l, buf, size);
}

const char *cnn_act_name(int32_t act)
{
    static const char *const names[] = {"identity", "sigmoid", "tanh", "relu"};
    return act >= 0 && act < 4 ? names[act] : "?";
}

const char *cnn_pool_name(int32_t mode)
{
    static const char *const names[] = {"none", "max", "avg", "l2"};
    return mode >= 0 && mode < 4 ? names[mode] : "?";
}

/* ---- public API ---------------------------------------------------------- */

void cnn_layer_destroy(cnn_layer *layer)
{
    if (!layer || layer->owner)
        return; /* a network's layer is freed by the network */
    cnn_layer_free(layer);
}

int32_t cnn_layer_kind(const cnn_layer *layer)
{
    return layer ? layer->ops->kind : 0;
}

cnn_status cnn_layer_output_shape(const cnn_layer *layer, const int32_t in[3], int32_t out[3])
{
    if (!layer || !in || !out)
        return cnn_fail(CNN_EINVAL, "cnn_layer_output_shape: NULL argument");
    for (int i = 0; i < 3; i++)
        if (in[i] < 1)
            return cnn_fail(CNN_EINVAL, "cnn_layer_output_shape: input dimension %d is %d", i,
                            (int)in[i]);
    return layer->ops->out_shape(layer, in, out);
}

int64_t cnn_layer_param_count(const cnn_layer *layer)
{
    if (!layer || !layer->bound)
        return 0;
    return layer->n_weights + layer->n_biases;
}

cnn_tensor *cnn_layer_param(cnn_layer *layer, int32_t which)
{
    if (!layer || !layer->bound || !layer->w)
        return NULL;
    switch (which) {
    case CNN_PARAM_WEIGHTS:
        return layer->n_weights ? &layer->view_w : NULL;
    case CNN_PARAM_BIASES:
        return layer->n_biases ? &layer->view_b : NULL;
    case CNN_PARAM_GRAD_WEIGHTS:
        return layer->n_weights ? &layer->view_dw : NULL;
    case CNN_PARAM_GRAD_BIASES:
        return layer->n_biases ? &layer->view_db : NULL;
    default:
        return NULL;
    }
}

/* Reads a batch tensor as N examples of shape (C, H, W).  Conv, pool and
 * activation layers need rank 4 for their spatial sense (activation accepts
 * anything); dense and softmax flatten every axis after the first. */
static cnn_status batch_shape(const cnn_layer *l, const cnn_tensor *x, int *n, int32_t in[3])
{
    const int form = l->ops->input_form;
    if (x->ndim < 2)
        return cnn_fail(CNN_ESHAPE, "%s: input must have a batch axis and at least one more "
                        "(rank %d given)", l->ops->name, (int)x->ndim);
    if (x->shape[0] > INT32_MAX)
        return cnn_fail(CNN_ESHAPE, "%s: batch of %lld is too large", l->ops->name,
                        (long long)x->shape[0]);
    *n = (int)x->shape[0];
    int64_t per = x->numel / x->shape[0];
    if (form == CNN_INPUT_SPATIAL && x->ndim != 4)
        return cnn_fail(CNN_ESHAPE, "%s: input must be (N, C, H, W), rank %d given",
                        l->ops->name, (int)x->ndim);
    if (form != CNN_INPUT_FLAT && x->ndim == 4) {
        for (int i = 0; i < 3; i++) {
            if (x->shape[i + 1] > INT32_MAX)
                return cnn_fail(CNN_ESHAPE, "%s: input dimension too large", l->ops->name);
            in[i] = (int32_t)x->shape[i + 1];
        }
        return CNN_OK;
    }
    if (per > INT32_MAX)
        return cnn_fail(CNN_ESHAPE, "%s: %lld inputs per example is too many", l->ops->name,
                        (long long)per);
    in[0] = (int32_t)per;
    in[1] = 1;
    in[2] = 1;
    return CNN_OK;
}

static cnn_status check_batch_like(const cnn_layer *l, const char *what, const cnn_tensor *t,
                                   int n, int64_t per)
{
    if (!t)
        return cnn_fail(CNN_EINVAL, "%s: %s is NULL", l->ops->name, what);
    if (t->shape[0] != n || t->numel != (int64_t)n * per)
        return cnn_fail(CNN_ESHAPE, "%s: %s has %lld elements with dim0 %lld, expected %d x %lld",
                        l->ops->name, what, (long long)t->numel, (long long)t->shape[0], n,
                        (long long)per);
    return CNN_OK;
}

static cnn_status ensure_own_scratch(cnn_layer *l, int n)
{
    size_t need = l->ops->scratch_floats ? l->ops->scratch_floats(l, n) : 0;
    void *buf = l->own_scratch;
    cnn_status st = cnn_aux_grow(&buf, &l->own_scratch_len, need, sizeof(float), l->ops->name);
    l->own_scratch = buf;
    return st;
}

cnn_status cnn_layer_forward(cnn_layer *layer, const cnn_tensor *x, cnn_tensor *y, int32_t mode)
{
    if (!layer || !x || !y)
        return cnn_fail(CNN_EINVAL, "cnn_layer_forward: NULL argument");
    if (mode != CNN_MODE_INFER && mode != CNN_MODE_TRAIN)
        return cnn_fail(CNN_EINVAL, "cnn_layer_forward: unknown mode %d", (int)mode);
    if (layer->owner)
        return cnn_fail(CNN_ESTATE, "%s: layer belongs to a network; use cnn_net_forward",
                        layer->ops->name);
    int n;
    int32_t in[3], out[3];
    cnn_status st = batch_shape(layer, x, &n, in);
    if (st != CNN_OK)
        return st;
    st = layer->ops->out_shape(layer, in, out);
    if (st != CNN_OK)
        return st;
    st = check_batch_like(layer, "output", y, n, cnn_shape_numel3(out));
    if (st != CNN_OK)
        return st;
    if (!layer->bound) {
        /* First use: the input fixes in_channels / in_features. */
        st = layer->ops->bind(layer, in);
        if (st == CNN_OK)
            st = cnn_layer_alloc_own_params(layer, layer->seed);
        if (st != CNN_OK)
            return st;
    }
    memcpy(layer->in, in, sizeof layer->in);
    layer->trained = false;
    st = layer->ops->reserve ? layer->ops->reserve(layer, n) : CNN_OK;
    if (st == CNN_OK)
        st = ensure_own_scratch(layer, n);
    if (st != CNN_OK)
        return st;
    cnn_layer_ctx ctx = {.mode = mode, .rng = &layer->rng, .scratch = layer->own_scratch};
    layer->ops->forward(layer, n, x->data, y->data, &ctx);
    layer->trained = (mode == CNN_MODE_TRAIN);
    layer->last_n = n;
    memcpy(layer->last_in, in, sizeof layer->last_in);
    return CNN_OK;
}

cnn_status cnn_layer_backward(cnn_layer *layer, const cnn_tensor *x, const cnn_tensor *y,
                              const cnn_tensor *dy, cnn_tensor *dx)
{
    if (!layer || !x || !y || !dy)
        return cnn_fail(CNN_EINVAL, "cnn_layer_backward: NULL argument");
    if (layer->owner)
        return cnn_fail(CNN_ESTATE, "%s: layer belongs to a network; use cnn_net_backward",
                        layer->ops->name);
    if (!layer->trained)
        return cnn_fail(CNN_ESTATE, "%s: backward needs a CNN_MODE_TRAIN forward first",
                        layer->ops->name);
    int n;
    int32_t in[3], out[3];
    cnn_status st = batch_shape(layer, x, &n, in);
    if (st != CNN_OK)
        return st;
    if (n != layer->last_n || memcmp(in, layer->last_in, sizeof in) != 0)
        return cnn_fail(CNN_ESTATE, "%s: input differs from the last training forward's",
                        layer->ops->name);
    st = layer->ops->out_shape(layer, in, out);
    if (st != CNN_OK)
        return st;
    int64_t out_per = cnn_shape_numel3(out);
    if ((st = check_batch_like(layer, "output", y, n, out_per)) != CNN_OK ||
        (st = check_batch_like(layer, "output gradient", dy, n, out_per)) != CNN_OK)
        return st;
    if (dx && (st = check_batch_like(layer, "input gradient", dx, n, cnn_shape_numel3(in))) != CNN_OK)
        return st;
    /* Layer backward may overwrite dy; the caller's tensor is const. */
    float *dy_copy = cnn_alloc_array((size_t)dy->numel, sizeof(float));
    if (!dy_copy)
        return cnn_fail(CNN_ENOMEM, "%s: out of memory for the gradient copy", layer->ops->name);
    memcpy(dy_copy, dy->data, (size_t)dy->numel * sizeof(float));
    cnn_layer_ctx ctx = {.mode = CNN_MODE_TRAIN, .rng = &layer->rng,
                         .scratch = layer->own_scratch};
    layer->ops->backward(layer, n, x->data, y->data, dy_copy, dx ? dx->data : NULL, &ctx);
    cnn_dealloc(dy_copy);
    return CNN_OK;
}

cnn_status cnn_layer_summary(const cnn_layer *layer, char *buf, size_t size)
{
    if (!layer || !buf || size == 0)
        return cnn_fail(CNN_EINVAL, "cnn_layer_summary: %s", !layer ? "layer is NULL"
                        : !buf ? "buf is NULL" : "size is 0");
    cnn_layer_describe(layer, buf, size);
    return CNN_OK;
}
