/* Network internals: the layer stack, the flat parameter and gradient
 * buffers, and the workspace sized once per batch capacity.
 *
 * Memory plan (why it looks like this):
 * - params/grads: every layer's weights then biases, layers in order, in one
 *   block each, so the optimizer is one fused loop and bindings get a single
 *   zero-copy view.  Layers point into them.
 * - acts[i]: output of layer i for `capacity` examples; input is a copy of
 *   the caller's batch (the library never keeps caller pointers).
 * - grad_a/grad_b: ping-pong buffers for the gradient flowing backwards,
 *   each as large as the largest activation.
 * - scratch: shared by all layers (im2col), as large as the largest need;
 *   with threads > 1, one slice of scratch_part floats per thread for the
 *   layers that split the batch (forward_part), and tgrads: one partial
 *   weight gradient per thread (the largest such layer's n_weights each).
 * All of it is allocated when the batch capacity (or the thread count)
 * changes, never per batch. */
#ifndef CNN_NET_H
#define CNN_NET_H

#include "core.h"
#include "layers/layer.h"

/* What a network costs per example and in parameters (limits.c). */
typedef struct cnn_net_costs {
    int64_t param_bytes;
    int64_t workspace_bytes; /* per example */
    int64_t flops;           /* per example */
} cnn_net_costs;

void cnn_net_costs_add_input(cnn_net_costs *c, const int32_t in[3]);
/* Adds a bound layer with output shape `out`. */
void cnn_net_costs_add(cnn_net_costs *c, const cnn_layer *l, const int32_t out[3]);
/* CNN_EINVAL with a message naming the limit crossed. */
cnn_status cnn_net_costs_check(const cnn_net_costs *c, const cnn_load_limits *lim);
cnn_status cnn_load_limits_check(const cnn_load_limits *lim, const char *who);

struct cnn_net {
    int32_t in[3];
    uint64_t seed;

    cnn_layer **layers;
    int32_t n_layers;
    int32_t cap_layers;
    int32_t (*shapes)[3];   /* shapes[i] = output shape of layer i */

    float *params;
    float *grads;
    int64_t n_params;
    float *state;           /* every layer's non-trainable state, layers in order */
    int64_t n_state;

    int capacity;           /* batch size the workspace is sized for */
    float *input;           /* capacity x in-size */
    float **acts;           /* n_layers buffers, capacity x out-size each */
    float *grad_a, *grad_b; /* capacity x largest layer size */
    float *scratch;
    size_t scratch_len;
    size_t scratch_part;    /* threads > 1: floats of scratch per thread */
    float *tgrads;          /* threads > 1: threads x tgrad_stride floats */
    size_t tgrad_stride;
    int ws_threads;         /* thread count the workspace was sized for */
    cnn_pool *pool;         /* threads > 1: created with the workspace */

    cnn_load_limits limits; /* cnn_net_add refuses layers that would cross them */
    cnn_net_costs costs;    /* of the layers so far */

    cnn_rng rng;            /* dropout masks */
    int32_t threads;

    bool trained;           /* last forward was CNN_MODE_TRAIN */
    int last_n;

    char errmsg[CNN_ERRMSG_MAX];
};

/* Reports an error on the network: formats the thread's message, copies it
 * into net->errmsg, returns status. */
cnn_status cnn_net_fail(cnn_net *net, cnn_status status, const char *fmt, ...) CNN_PRINTF(3, 4);
/* Copies the thread's current message into the network (after a callee failed). */
cnn_status cnn_net_keep_error(cnn_net *net, cnn_status status);
/* Sizes the workspace for batches of up to n; no-op if already large enough. */
cnn_status cnn_net_reserve(cnn_net *net, int n);
/* Elements per example of the network's input. */
int64_t cnn_net_input_size(const cnn_net *net);
/* cnn_net_backward; with sgd != NULL, the layers whose kind can (ops->fuses_sgd)
 * apply the plain-SGD weight update w = decay*w - eta*dw in the same pass
 * and do not store dw.  The caller (the optimizer) then skips those
 * weights; the parameters come out bit-identical to the separate passes. */
cnn_status cnn_net_backward_fused(cnn_net *net, const int32_t *labels, double *cost,
                                  const cnn_sgd_fused *sgd);
/* Runs forward on n examples already copied into net->input. */
void cnn_net_forward_input(cnn_net *net, int n, int32_t mode);
/* The last layer's output buffer. */
float *cnn_net_output(cnn_net *net);
/* Seeds the dropout generator (cnn_train does this from its seed). */
void cnn_net_seed_dropout(cnn_net *net, uint64_t seed);

#endif /* CNN_NET_H */
