/* Resource limits: what a network costs to hold and to run, and the bounds a
 * caller sets on it.  The builder (cnn_net_add) and the model reader use
 * the same arithmetic and the same defaults, so a network built with the
 * defaults saves and loads with them, while a small hostile file cannot
 * make the reader allocate gigabytes or run for minutes. */
#include "net.h"

#include <string.h>

#define DEFAULT_PARAM_BYTES ((int64_t)2 << 30)     /* 2 GiB of parameters and state */
#define DEFAULT_WORKSPACE_BYTES ((int64_t)1 << 30) /* 1 GiB per example */
#define DEFAULT_FLOPS ((int64_t)100000000000)      /* 1e11 per example */

cnn_status cnn_load_limits_init(cnn_load_limits *lim, size_t struct_size)
{
    if (!lim)
        return cnn_fail(CNN_EINVAL, "cnn_load_limits_init: limits is NULL");
    if (struct_size < offsetof(cnn_load_limits, max_flops) + sizeof lim->max_flops)
        return cnn_fail(CNN_EINVAL, "cnn_load_limits_init: struct_size %zu is too small",
                        struct_size);
    cnn_load_limits d = {.struct_size = (uint32_t)sizeof d,
                         .max_param_bytes = DEFAULT_PARAM_BYTES,
                         .max_workspace_bytes = DEFAULT_WORKSPACE_BYTES,
                         .max_flops = DEFAULT_FLOPS};
    /* Only as many bytes as the caller's struct holds. */
    size_t n = struct_size < sizeof d ? struct_size : sizeof d;
    memcpy(lim, &d, n);
    lim->struct_size = (uint32_t)n;
    return CNN_OK;
}

cnn_status cnn_load_limits_check(const cnn_load_limits *lim, const char *who)
{
    if (lim->max_param_bytes < 1 || lim->max_workspace_bytes < 1 || lim->max_flops < 1)
        return cnn_fail(CNN_EINVAL, "%s: limits must be >= 1 (parameter bytes %lld, workspace "
                        "bytes %lld, flops %lld)", who, (long long)lim->max_param_bytes,
                        (long long)lim->max_workspace_bytes, (long long)lim->max_flops);
    return CNN_OK;
}

void cnn_net_costs_add_input(cnn_net_costs *c, const int32_t in[3])
{
    c->workspace_bytes += 4 * cnn_shape_numel3(in);
}

/* Per example: the layer's output, the two gradient buffers it may need
 * (an upper bound: they are sized by the largest layer), and its scratch.
 * Every term is below 2^31 * 4, and at most CNN_MAX_LAYERS of them add up,
 * so nothing overflows. */
void cnn_net_costs_add(cnn_net_costs *c, const cnn_layer *l, const int32_t out[3])
{
    int64_t scratch = l->ops->scratch_floats ? (int64_t)l->ops->scratch_floats(l, 1) : 0;
    c->workspace_bytes += 4 * (3 * cnn_shape_numel3(out) + scratch);
    c->flops += l->ops->flops ? l->ops->flops(l) : cnn_shape_numel3(out);
    c->param_bytes += 4 * (l->n_weights + l->n_biases + l->n_state);
}

cnn_status cnn_net_costs_check(const cnn_net_costs *c, const cnn_load_limits *lim)
{
    if (c->param_bytes > lim->max_param_bytes)
        return cnn_fail(CNN_EINVAL, "%lld bytes of parameters exceed the limit of %lld "
                        "(cnn_load_limits.max_param_bytes)", (long long)c->param_bytes,
                        (long long)lim->max_param_bytes);
    if (c->workspace_bytes > lim->max_workspace_bytes)
        return cnn_fail(CNN_EINVAL, "%lld bytes of workspace per example exceed the limit of %lld "
                        "(cnn_load_limits.max_workspace_bytes)", (long long)c->workspace_bytes,
                        (long long)lim->max_workspace_bytes);
    if (c->flops > lim->max_flops)
        return cnn_fail(CNN_EINVAL, "%lld operations per example exceed the limit of %lld "
                        "(cnn_load_limits.max_flops)", (long long)c->flops,
                        (long long)lim->max_flops);
    return CNN_OK;
}

cnn_status cnn_net_set_limits(cnn_net *net, const cnn_load_limits *limits)
{
    if (!net)
        return cnn_fail(CNN_EINVAL, "cnn_net_set_limits: network is NULL");
    cnn_load_limits lim;
    cnn_load_limits_init(&lim, sizeof lim);
    if (limits) {
        if (limits->struct_size < offsetof(cnn_load_limits, max_flops) + sizeof lim.max_flops)
            return cnn_net_fail(net, CNN_EINVAL, "cnn_net_set_limits: struct_size %u is too "
                                "small (use cnn_load_limits_init)", (unsigned)limits->struct_size);
        memcpy(&lim, limits, limits->struct_size < sizeof lim ? limits->struct_size : sizeof lim);
        lim.struct_size = sizeof lim;
    }
    cnn_status st = cnn_load_limits_check(&lim, "cnn_net_set_limits");
    if (st != CNN_OK)
        return cnn_net_keep_error(net, st);
    net->limits = lim;
    return CNN_OK;
}

cnn_status cnn_net_get_limits(const cnn_net *net, cnn_load_limits *limits)
{
    if (!net || !limits)
        return cnn_fail(CNN_EINVAL, "cnn_net_get_limits: NULL argument");
    size_t n = limits->struct_size < sizeof net->limits ? limits->struct_size : sizeof net->limits;
    if (n < offsetof(cnn_load_limits, max_flops) + sizeof limits->max_flops)
        return cnn_fail(CNN_EINVAL, "cnn_net_get_limits: struct_size %u is too small (use "
                        "cnn_load_limits_init)", (unsigned)limits->struct_size);
    memcpy(limits, &net->limits, n);
    limits->struct_size = (uint32_t)n;
    return CNN_OK;
}
