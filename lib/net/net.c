/* Network construction: the layer stack, shape checking as layers are
 * added, the flat parameter/gradient buffers and the batch workspace. */
#include "net.h"
#include "kernels/kernels.h"

#include <stdio.h>
#include <string.h>

/* Dropout masks draw from a stream apart from every layer's weight stream. */
#define DROPOUT_STREAM UINT64_C(0xd209d209)

cnn_status cnn_net_fail(cnn_net *net, cnn_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cnn_vfail(status, fmt, ap);
    va_end(ap);
    return cnn_net_keep_error(net, status);
}

cnn_status cnn_net_keep_error(cnn_net *net, cnn_status status)
{
    if (net && status != CNN_OK)
        snprintf(net->errmsg, sizeof net->errmsg, "%s", cnn_errmsg_current());
    return status;
}

const char *cnn_net_errmsg(const cnn_net *net)
{
    return net ? net->errmsg : "cnn_net_errmsg: network is NULL";
}

int64_t cnn_net_input_size(const cnn_net *net)
{
    return cnn_shape_numel3(net->in);
}

void cnn_net_seed_dropout(cnn_net *net, uint64_t seed)
{
    cnn_rng_seed_stream(&net->rng, seed, DROPOUT_STREAM);
}

cnn_status cnn_net_create(int32_t c, int32_t h, int32_t w, uint64_t seed, cnn_net **out)
{
    if (out)
        *out = NULL;
    if (!out)
        return cnn_fail(CNN_EINVAL, "cnn_net_create: out is NULL");
    if (c < 1 || h < 1 || w < 1 || c > CNN_MAX_DIM || h > CNN_MAX_DIM || w > CNN_MAX_DIM)
        return cnn_fail(CNN_EINVAL, "cnn_net_create: input %dx%dx%d, each dimension must be 1..%d",
                        c, h, w, CNN_MAX_DIM);
    if ((int64_t)c * h * w > CNN_MAX_EXAMPLE)
        return cnn_fail(CNN_EINVAL, "cnn_net_create: input %dx%dx%d has more than %d elements",
                        c, h, w, CNN_MAX_EXAMPLE);
    cnn_net *net = cnn_alloc_zeroed(1, sizeof *net);
    if (!net)
        return cnn_fail(CNN_ENOMEM, "cnn_net_create: out of memory");
    net->in[0] = c;
    net->in[1] = h;
    net->in[2] = w;
    net->seed = seed;
    net->threads = 1;
    cnn_load_limits_init(&net->limits, sizeof net->limits);
    cnn_net_costs_add_input(&net->costs, net->in);
    cnn_net_seed_dropout(net, seed);
    *out = net;
    return CNN_OK;
}

/* Frees the batch workspace; the next forward sizes it again. */
static void free_workspace(cnn_net *net)
{
    cnn_dealloc(net->input);
    if (net->acts)
        for (int32_t i = 0; i < net->n_layers; i++)
            cnn_dealloc(net->acts[i]);
    cnn_dealloc(net->acts);
    cnn_dealloc(net->grad_a);
    cnn_dealloc(net->grad_b);
    cnn_dealloc(net->scratch);
    cnn_dealloc(net->tgrads);
    net->tgrads = NULL;
    net->tgrad_stride = 0;
    net->scratch_part = 0;
    net->ws_threads = 0;
    net->input = NULL;
    net->acts = NULL;
    net->grad_a = net->grad_b = NULL;
    net->scratch = NULL;
    net->scratch_len = 0;
    net->capacity = 0;
    net->trained = false;
}

void cnn_net_destroy(cnn_net *net)
{
    if (!net)
        return;
    free_workspace(net);
    cnn_pool_destroy(net->pool);
    for (int32_t i = 0; i < net->n_layers; i++)
        cnn_layer_free(net->layers[i]);
    cnn_dealloc(net->layers);
    cnn_dealloc(net->shapes);
    cnn_dealloc(net->params);
    cnn_dealloc(net->grads);
    cnn_dealloc(net->state);
    cnn_dealloc(net);
}

/* Draws layer `index`'s weights from its own stream of the network's seed. */
static void init_layer(cnn_net *net, int32_t index)
{
    cnn_layer *l = net->layers[index];
    if (l->n_weights + l->n_biases + l->n_state == 0 || !l->ops->init_params)
        return;
    cnn_rng rng;
    cnn_rng_seed_stream(&rng, net->seed, (uint64_t)index);
    l->ops->init_params(l, &rng);
}

static const int32_t *current_shape(const cnn_net *net)
{
    return net->n_layers ? net->shapes[net->n_layers - 1] : net->in;
}

cnn_status cnn_net_add(cnn_net *net, cnn_layer *layer)
{
    if (!net || !layer)
        return cnn_fail(CNN_EINVAL, "cnn_net_add: %s is NULL", net ? "layer" : "network");
    int32_t index = net->n_layers;
    if (layer->owner)
        return cnn_net_fail(net, CNN_EINVAL, "cnn_net_add: layer %d (%s) already belongs to a network",
                            index, layer->ops->name);
    if (index > 0 && net->layers[index - 1]->ops->is_output)
        return cnn_net_fail(net, CNN_EINVAL,
                            "cnn_net_add: layer %d (%s) cannot follow the %s output layer",
                            index, layer->ops->name, net->layers[index - 1]->ops->name);
    if (index >= CNN_MAX_LAYERS)
        return cnn_net_fail(net, CNN_EINVAL, "cnn_net_add: at most %d layers", CNN_MAX_LAYERS);

    int32_t in[3], out[3];
    memcpy(in, current_shape(net), sizeof in); /* net->shapes is replaced below */
    cnn_status st = layer->ops->out_shape(layer, in, out);
    if (st != CNN_OK) {
        /* Copy the layer's message first: cnn_net_fail() formats into the
         * same thread buffer, and overlapping vsnprintf is undefined. */
        char why[CNN_ERRMSG_MAX];
        snprintf(why, sizeof why, "%s", cnn_errmsg_current());
        return cnn_net_fail(net, st, "cnn_net_add: layer %d (%s) does not fit the output of %s "
                            "(%dx%dx%d): %s", index, layer->ops->name,
                            index ? net->layers[index - 1]->ops->name : "the input", in[0], in[1],
                            in[2], why);
    }
    if (cnn_shape_numel3(out) > CNN_MAX_EXAMPLE)
        return cnn_net_fail(net, CNN_ESHAPE, "cnn_net_add: layer %d (%s) output %dx%dx%d has more "
                            "than %d elements per example", index, layer->ops->name, out[0],
                            out[1], out[2], CNN_MAX_EXAMPLE);
    /* On a later failure an unbound layer must go back to the caller
     * unbound: bound without storage, a standalone forward would use NULL
     * weights. */
    bool was_bound = layer->bound;
    cnn_layer unbound = *layer;
    /* bind fills in the params struct too (in_features, ...). */
    cnn_params_buf params_before;
    if (!was_bound && layer->ops->params_size > sizeof params_before)
        return cnn_net_fail(net, CNN_EINVAL, "cnn_net_add: layer %d (%s): params too large",
                            index, layer->ops->name);
    if (!was_bound)
        memcpy(&params_before, layer->params, layer->ops->params_size);
#define RESTORE_UNBOUND()                                                         \
    do {                                                                          \
        if (!was_bound) {                                                         \
            *layer = unbound;                                                     \
            memcpy(layer->params, &params_before, layer->ops->params_size);        \
        }                                                                         \
    } while (0)
    if (!was_bound) {
        st = layer->ops->bind(layer, in);
        if (st != CNN_OK) {
            RESTORE_UNBOUND();
            return cnn_net_keep_error(net, st);
        }
    }

    /* What the network would cost with this layer, against its limits
     * (the model reader checks the same sums before it builds). */
    memcpy(layer->in, in, sizeof layer->in);
    cnn_net_costs costs = net->costs;
    cnn_net_costs_add(&costs, layer, out);
    if ((st = cnn_net_costs_check(&costs, &net->limits)) != CNN_OK) {
        char why[CNN_ERRMSG_MAX];
        snprintf(why, sizeof why, "%s", cnn_errmsg_current());
        RESTORE_UNBOUND();
        return cnn_net_fail(net, st, "cnn_net_add: layer %d (%s): %s (cnn_net_set_limits "
                            "raises them)", index, layer->ops->name, why);
    }

    /* Grow every array first so that a failure leaves the network unchanged. */
    int64_t layer_params = layer->n_weights + layer->n_biases;
    int64_t total = net->n_params + layer_params;
    int64_t total_state = net->n_state + layer->n_state;
    if (total + total_state > CNN_MAX_PARAMS) {
        RESTORE_UNBOUND();
        return cnn_net_fail(net, CNN_EINVAL, "cnn_net_add: layer %d (%s) brings the network to "
                            "%lld parameters, more than %lld", index, layer->ops->name,
                            (long long)(total + total_state), (long long)CNN_MAX_PARAMS);
    }
    float *params = cnn_alloc_zeroed(total ? (size_t)total : 1, sizeof(float));
    float *grads = cnn_alloc_zeroed(total ? (size_t)total : 1, sizeof(float));
    float *state = cnn_alloc_zeroed(total_state ? (size_t)total_state : 1, sizeof(float));
    cnn_layer **layers = cnn_alloc_array((size_t)index + 1, sizeof *layers);
    int32_t(*shapes)[3] = cnn_alloc_array((size_t)index + 1, sizeof *shapes);
    if (!params || !grads || !state || !layers || !shapes) {
        cnn_dealloc(params);
        cnn_dealloc(grads);
        cnn_dealloc(state);
        cnn_dealloc(layers);
        cnn_dealloc(shapes);
        RESTORE_UNBOUND();
        return cnn_net_fail(net, CNN_ENOMEM, "cnn_net_add: out of memory for layer %d (%s)",
                            index, layer->ops->name);
    }
    free_workspace(net);
    if (net->n_params)
        memcpy(params, net->params, (size_t)net->n_params * sizeof(float));
    if (net->n_state)
        memcpy(state, net->state, (size_t)net->n_state * sizeof(float));
    if (index) {
        memcpy(layers, net->layers, (size_t)index * sizeof *layers);
        memcpy(shapes, net->shapes, (size_t)index * sizeof *shapes);
    }
    layers[index] = layer;
    memcpy(shapes[index], out, sizeof out);
    cnn_dealloc(net->params);
    cnn_dealloc(net->grads);
    cnn_dealloc(net->state);
    cnn_dealloc(net->layers);
    cnn_dealloc(net->shapes);
    net->params = params;
    net->grads = grads;
    net->state = state;
    net->n_state = total_state;
    net->layers = layers;
    net->shapes = shapes;
    net->n_layers = index + 1;
    net->n_params = total;
    net->costs = costs;

    /* Re-point every layer into the new buffers. */
    int64_t offset = 0, state_offset = 0;
    for (int32_t i = 0; i < net->n_layers; i++) {
        cnn_layer *l = net->layers[i];
        cnn_layer_set_storage(l, params + offset, grads + offset, state + state_offset);
        offset += l->n_weights + l->n_biases;
        state_offset += l->n_state;
    }
    layer->owner = net;
    memcpy(layer->in, in, sizeof layer->in);
    layer->trained = false;
    cnn_dealloc(layer->own_storage);
    layer->own_storage = NULL;
    cnn_dealloc(layer->own_scratch);
    layer->own_scratch = NULL;
    layer->own_scratch_len = 0;
    init_layer(net, index);
    return CNN_OK;
#undef RESTORE_UNBOUND
}

cnn_status cnn_net_init_weights(cnn_net *net, uint64_t seed)
{
    if (!net)
        return cnn_fail(CNN_EINVAL, "cnn_net_init_weights: network is NULL");
    net->seed = seed;
    cnn_net_seed_dropout(net, seed);
    for (int32_t i = 0; i < net->n_layers; i++)
        init_layer(net, i);
    return CNN_OK;
}

int32_t cnn_net_layer_count(const cnn_net *net)
{
    return net ? net->n_layers : 0;
}

cnn_layer *cnn_net_layer(cnn_net *net, int32_t index)
{
    if (!net || index < 0 || index >= net->n_layers)
        return NULL;
    return net->layers[index];
}

cnn_status cnn_net_input_shape(const cnn_net *net, int32_t shape[3])
{
    if (!net || !shape)
        return cnn_fail(CNN_EINVAL, "cnn_net_input_shape: NULL argument");
    memcpy(shape, net->in, 3 * sizeof *shape);
    return CNN_OK;
}

cnn_status cnn_net_output_shape(const cnn_net *net, int32_t shape[3])
{
    if (!net || !shape)
        return cnn_fail(CNN_EINVAL, "cnn_net_output_shape: NULL argument");
    memcpy(shape, current_shape(net), 3 * sizeof *shape);
    return CNN_OK;
}

int64_t cnn_net_param_count(const cnn_net *net)
{
    return net ? net->n_params : 0;
}

float *cnn_net_params(cnn_net *net)
{
    return net ? net->params : NULL;
}

float *cnn_net_grads(cnn_net *net)
{
    return net ? net->grads : NULL;
}

cnn_status cnn_net_set_threads(cnn_net *net, int32_t threads)
{
    if (!net)
        return cnn_fail(CNN_EINVAL, "cnn_net_set_threads: network is NULL");
    if (threads < 1 || threads > CNN_MAX_THREADS)
        return cnn_net_fail(net, CNN_EINVAL, "cnn_net_set_threads: %d threads, must be 1..%d",
                            (int)threads, CNN_MAX_THREADS);
    net->threads = threads;
    return CNN_OK;
}

cnn_status cnn_net_reserve(cnn_net *net, int n)
{
    const int threads = net->threads;
    if (n <= net->capacity && net->ws_threads == threads)
        return CNN_OK;
    if (n < net->capacity)
        n = net->capacity; /* a thread-count change keeps the capacity */
    free_workspace(net);
    /* Worker threads only where some layer can use them: conv layers (split
     * by images) and dense/softmax layers of 16k weights or more (split by
     * rows at small batch sizes, see dense.c). */
    bool splits = false;
    for (int32_t i = 0; i < net->n_layers; i++)
        splits = splits || cnn_layer_uses_workers(net->layers[i]);
    const int pool_threads = splits ? threads : 1;
    if (net->pool && cnn_pool_threads(net->pool) != pool_threads) {
        cnn_pool_destroy(net->pool);
        net->pool = NULL;
    }
    if (pool_threads > 1 && !net->pool && cnn_pool_create(pool_threads, &net->pool) != CNN_OK)
        return cnn_net_keep_error(net, CNN_ENOMEM);
    /* Per-thread scratch for the split layers: a part holds at most
     * ceil(n / threads) images, and a layer's need for m images is taken at
     * its largest over m <= that (chunking makes it non-monotonic). */
    const int part = threads > 1 ? (n + threads - 1) / threads : 0;
    size_t scratch_part = 0, tgrad = 0;
    for (int32_t i = 0; threads > 1 && i < net->n_layers; i++) {
        cnn_layer *l = net->layers[i];
        if (!l->ops->forward_part)
            continue;
        for (int m = 1; l->ops->scratch_floats && m <= part; m++) {
            size_t need = l->ops->scratch_floats(l, m);
            if (need > scratch_part)
                scratch_part = need;
        }
        if ((size_t)l->n_weights > tgrad)
            tgrad = (size_t)l->n_weights;
    }
    /* Each worker's slice starts on a 64-byte boundary: the kernels' vector
     * loads run measurably slower across cache lines (W2's second
     * convolution: 135 against 151 GFLOP/s). */
    scratch_part = (scratch_part + 15) / 16 * 16;
    int64_t largest = cnn_net_input_size(net);
    size_t scratch = scratch_part * (size_t)threads;
    net->acts = cnn_alloc_zeroed((size_t)net->n_layers, sizeof *net->acts);
    net->input = cnn_alloc_array((size_t)n * (size_t)cnn_net_input_size(net), sizeof(float));
    bool ok = net->acts && net->input;
    for (int32_t i = 0; ok && i < net->n_layers; i++) {
        cnn_layer *l = net->layers[i];
        int64_t size = cnn_shape_numel3(net->shapes[i]);
        if (size > largest)
            largest = size;
        net->acts[i] = cnn_alloc_array((size_t)n * (size_t)size, sizeof(float));
        ok = net->acts[i] != NULL;
        if (ok && l->ops->scratch_floats) {
            size_t need = l->ops->scratch_floats(l, n);
            if (need > scratch)
                scratch = need;
        }
        if (ok && l->ops->reserve && l->ops->reserve(l, n) != CNN_OK)
            ok = false;
    }
    if (ok) {
        net->grad_a = cnn_alloc_array((size_t)n * (size_t)largest, sizeof(float));
        net->grad_b = cnn_alloc_array((size_t)n * (size_t)largest, sizeof(float));
        net->scratch = cnn_alloc_array(scratch ? scratch : 1, sizeof(float));
        ok = net->grad_a && net->grad_b && net->scratch;
        if (ok && tgrad) {
            net->tgrads = cnn_alloc_array((size_t)threads * tgrad, sizeof(float));
            ok = net->tgrads != NULL;
        }
    }
    if (!ok) {
        free_workspace(net);
        return cnn_net_fail(net, CNN_ENOMEM, "network: out of memory for the workspace of a "
                            "batch of %d", n);
    }
    net->scratch_len = scratch;
    net->scratch_part = scratch_part;
    net->tgrad_stride = tgrad;
    net->ws_threads = threads;
    net->capacity = n;
    return CNN_OK;
}

cnn_status cnn_net_clone(const cnn_net *net, cnn_net **out)
{
    if (out)
        *out = NULL;
    if (!net || !out)
        return cnn_fail(CNN_EINVAL, "cnn_net_clone: NULL argument");
    cnn_net *copy;
    cnn_status st = cnn_net_create(net->in[0], net->in[1], net->in[2], net->seed, &copy);
    if (st == CNN_OK)
        copy->limits = net->limits;
    for (int32_t i = 0; st == CNN_OK && i < net->n_layers; i++) {
        const cnn_layer *src = net->layers[i];
        cnn_layer *l;
        st = cnn_layer_make(src->ops, src->params, &l);
        if (st == CNN_OK) {
            st = cnn_net_add(copy, l);
            if (st != CNN_OK)
                cnn_layer_destroy(l);
        }
    }
    if (st != CNN_OK) {
        cnn_net_destroy(copy);
        return st;
    }
    if (net->n_params)
        memcpy(copy->params, net->params, (size_t)net->n_params * sizeof(float));
    if (net->n_state)
        memcpy(copy->state, net->state, (size_t)net->n_state * sizeof(float));
    copy->threads = net->threads;
    copy->limits = net->limits;
    copy->rng = net->rng;
    *out = copy;
    return CNN_OK;
}

cnn_status cnn_net_summary(const cnn_net *net, char *buf, size_t size, size_t *needed)
{
    if (needed)
        *needed = 0;
    if (!net)
        return cnn_fail(CNN_EINVAL, "cnn_net_summary: network is NULL");
    if (!buf && size > 0)
        return cnn_fail(CNN_EINVAL, "cnn_net_summary: buf is NULL but size is %zu", size);
    /* Measured and written in one pass: each line is formatted, then copied
     * as far as it fits. */
    size_t total = 0;
    char line[CNN_ERRMSG_MAX + 96];
    for (int32_t i = -1; i < net->n_layers; i++) {
        if (i < 0) {
            snprintf(line, sizeof line, "input %dx%dx%d, %d layers, %lld parameters\n",
                     net->in[0], net->in[1], net->in[2], (int)net->n_layers,
                     (long long)net->n_params);
        } else {
            const cnn_layer *l = net->layers[i];
            char what[CNN_ERRMSG_MAX];
            cnn_layer_describe(l, what, sizeof what);
            const int32_t *o = net->shapes[i];
            snprintf(line, sizeof line, "%3d  %s -> %dx%dx%d, %lld parameters\n", (int)i, what,
                     o[0], o[1], o[2], (long long)(l->n_weights + l->n_biases));
        }
        size_t len = strlen(line);
        if (total < size) {
            size_t room = size - total - 1;
            memcpy(buf + total, line, len < room ? len : room);
        }
        total += len;
    }
    if (size > 0)
        buf[total < size ? total : size - 1] = '\0';
    if (needed)
        *needed = total + 1;
    if (total + 1 > size && buf)
        return cnn_net_fail((cnn_net *)net, CNN_EINVAL, "cnn_net_summary: needs %zu bytes, %zu "
                            "given", total + 1, size);
    return CNN_OK;
}
