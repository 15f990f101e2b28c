/* Running a network: forward, backward from labels, prediction and
 * evaluation over datasets.  Shapes are validated here, once per call; the
 * layers and kernels below run unchecked. */
#include "net.h"
#include "data/dataset.h"
#include "kernels/kernels.h"

#include <string.h>

/* ---- splitting a layer's batch over the pool ------------------------------ */

typedef struct part_job {
    cnn_net *net;
    cnn_layer *l;
    int n;
    const float *x, *y;
    float *out;      /* forward: y; backward: dy */
    float *dx;
    int32_t mode;
} part_job;

/* The context of one call on part t: its own slice of scratch, no workers
 * (the part already is one). */
static cnn_layer_ctx part_ctx(const part_job *j, int t)
{
    return (cnn_layer_ctx){.mode = j->mode, .rng = &j->net->rng,
                           .scratch = j->net->scratch + (size_t)t * j->net->scratch_part};
}

/* Images [a, b) of part t of T: contiguous, in order, sizes differing by at most one. */
static void part_range(int n, int t, int threads, int *a, int *b)
{
    *a = (int)((int64_t)n * t / threads);
    *b = (int)((int64_t)n * (t + 1) / threads);
}

static void forward_part_job(void *arg, int t)
{
    part_job *j = arg;
    int a, b;
    part_range(j->n, t, j->net->ws_threads, &a, &b);
    cnn_layer_ctx ctx = part_ctx(j, t);
    if (a < b)
        j->l->ops->forward_part(j->l, j->n, a, b, j->x, j->out, &ctx);
}

static void backward_part_job(void *arg, int t)
{
    part_job *j = arg;
    int a, b;
    part_range(j->n, t, j->net->ws_threads, &a, &b);
    float *dw = j->net->tgrads + (size_t)t * j->net->tgrad_stride;
    cnn_layer_ctx ctx = part_ctx(j, t);
    if (a < b)
        j->l->ops->backward_part(j->l, j->n, a, b, j->x, j->y, j->out, j->dx, &ctx, dw);
    else
        memset(dw, 0, (size_t)j->l->n_weights * sizeof *dw);
}

/* Whether layer l runs split over the pool for a batch of n. */
static bool split(const cnn_net *net, const cnn_layer *l, int n)
{
    return net->pool && net->ws_threads > 1 && n > 1 && l->ops->forward_part;
}

float *cnn_net_output(cnn_net *net)
{
    return net->acts[net->n_layers - 1];
}

/* Inference runs large batches through the leading layers this many images
 * (per thread) at a time, so that each layer's output is still in cache
 * when the next layer reads it: whole-batch layers streamed W2's first
 * activations (46 MB at batch 1000) through memory and back (W2, batch
 * 1000, 1 thread: 24.1k -> 31.3k images/s).  It stops at the first layer
 * with more than INFER_CHUNK_MAX_WEIGHTS weights (a wide dense layer), which
 * with the layers after it runs on the whole batch: re-reading a large W
 * once per chunk cost more than the cache saved (W3: 15.0k -> 13.7k with
 * every layer chunked, 20.2k with this rule).  The output layer is never
 * chunked either: it keeps the batch's logits for the cost, which the
 * caller reads after the forward pass.  Training cannot chunk: the
 * backward pass needs the whole batch's activations. */
#define INFER_CHUNK_PER_THREAD 32
#define INFER_CHUNK_MAX_WEIGHTS ((int64_t)64 * 1024)

/* Per-image floats of layer i's input. */
static size_t layer_in_floats(const cnn_net *net, int32_t i)
{
    return i == 0 ? (size_t)cnn_net_input_size(net)
                  : (size_t)cnn_shape_numel3(net->shapes[i - 1]);
}

/* Layers [l0, l1) over images [a, a + n) of the batch. */
static void forward_images(cnn_net *net, int32_t l0, int32_t l1, int a, int n, int32_t mode)
{
    const float *x = (l0 == 0 ? net->input : net->acts[l0 - 1]) +
                     (size_t)a * layer_in_floats(net, l0);
    /* Layers without parts may split themselves over the workers. */
    const cnn_layer_ctx ctx = {.mode = mode, .pool = net->pool, .rng = &net->rng,
                               .scratch = net->scratch};
    for (int32_t i = l0; i < l1; i++) {
        cnn_layer *l = net->layers[i];
        float *out = net->acts[i] + (size_t)a * layer_in_floats(net, i + 1);
        if (split(net, l, n)) {
            part_job j = {.net = net, .l = l, .n = n, .x = x, .out = out, .mode = mode};
            cnn_pool_run(net->pool, forward_part_job, &j);
        } else {
            l->ops->forward(l, n, x, out, &ctx);
        }
        x = out;
    }
}

void cnn_net_forward_input(cnn_net *net, int n, int32_t mode)
{
    /* The library splits batches itself; BLAS stays at one thread (a
     * process-wide setting, see cnn_net_set_threads). */
    cnn_k_gemm_set_threads(1);
    const int threads = net->pool && net->ws_threads > 1 ? net->ws_threads : 1;
    const int chunk = INFER_CHUNK_PER_THREAD * threads;
    int32_t lead = 0; /* the leading layers that run chunked */
    while (mode == CNN_MODE_INFER && n > chunk && lead < net->n_layers &&
           net->layers[lead]->n_weights <= INFER_CHUNK_MAX_WEIGHTS &&
           !net->layers[lead]->ops->is_output)
        lead++;
    if (lead > 0) {
        /* even chunks, in batch order: the split depends on n and threads only */
        const int chunks = (n + chunk - 1) / chunk;
        for (int c = 0; c < chunks; c++) {
            const int a = (int)((int64_t)n * c / chunks), b = (int)((int64_t)n * (c + 1) / chunks);
            forward_images(net, 0, lead, a, b - a, mode);
        }
    }
    forward_images(net, lead, net->n_layers, 0, n, mode);
    net->trained = (mode == CNN_MODE_TRAIN);
    net->last_n = n;
}

/* Checks a batch tensor against the network's input; returns N. */
static cnn_status check_input(cnn_net *net, const char *who, const cnn_tensor *x, int *n)
{
    if (!x)
        return cnn_net_fail(net, CNN_EINVAL, "%s: input tensor is NULL", who);
    if (net->n_layers == 0)
        return cnn_net_fail(net, CNN_ESTATE, "%s: the network has no layers", who);
    int64_t per = cnn_net_input_size(net);
    if (x->ndim < 2 || x->shape[0] < 1 || x->shape[0] > INT32_MAX ||
        x->numel != x->shape[0] * per) {
        char buf[64];
        return cnn_net_fail(net, CNN_ESHAPE, "%s: input %s does not hold N examples of %dx%dx%d",
                            who, cnn_shape_str(x, buf, sizeof buf), net->in[0], net->in[1],
                            net->in[2]);
    }
    *n = (int)x->shape[0];
    return CNN_OK;
}

cnn_status cnn_net_forward(cnn_net *net, const cnn_tensor *x, int32_t mode, cnn_tensor *y)
{
    if (!net)
        return cnn_fail(CNN_EINVAL, "cnn_net_forward: network is NULL");
    if (mode != CNN_MODE_INFER && mode != CNN_MODE_TRAIN)
        return cnn_net_fail(net, CNN_EINVAL, "cnn_net_forward: unknown mode %d", (int)mode);
    int n = 0;
    cnn_status st = check_input(net, "cnn_net_forward", x, &n);
    if (st != CNN_OK)
        return st;
    int64_t out_per = cnn_shape_numel3(net->shapes[net->n_layers - 1]);
    if (y && (y->shape[0] != n || y->numel != (int64_t)n * out_per))
        return cnn_net_fail(net, CNN_ESHAPE, "cnn_net_forward: output tensor has %lld elements, "
                            "expected %d x %lld", (long long)y->numel, n, (long long)out_per);
    if ((st = cnn_net_reserve(net, n)) != CNN_OK)
        return st;
    memcpy(net->input, x->data, (size_t)x->numel * sizeof(float));
    cnn_net_forward_input(net, n, mode);
    if (y)
        memcpy(y->data, cnn_net_output(net), (size_t)y->numel * sizeof(float));
    return CNN_OK;
}

cnn_status cnn_net_backward(cnn_net *net, const int32_t *labels, double *cost)
{
    return cnn_net_backward_fused(net, labels, cost, NULL);
}

cnn_status cnn_net_backward_fused(cnn_net *net, const int32_t *labels, double *cost,
                                  const cnn_sgd_fused *sgd)
{
    if (!net)
        return cnn_fail(CNN_EINVAL, "cnn_net_backward: network is NULL");
    if (!labels)
        return cnn_net_fail(net, CNN_EINVAL, "cnn_net_backward: labels is NULL");
    if (!net->trained)
        return cnn_net_fail(net, CNN_ESTATE, "cnn_net_backward: needs a CNN_MODE_TRAIN forward first");
    cnn_layer *last = net->layers[net->n_layers - 1];
    if (!last->ops->is_output)
        return cnn_net_fail(net, CNN_ESTATE, "cnn_net_backward: the last layer is %s, not an "
                            "output layer (softmax)", last->ops->name);
    int n = net->last_n;
    int classes = (int)cnn_shape_numel3(net->shapes[net->n_layers - 1]);
    for (int i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= classes)
            return cnn_net_fail(net, CNN_EINVAL, "cnn_net_backward: label %d of example %d "
                                "outside 0..%d", (int)labels[i], i, classes - 1);

    /* dz of the mean cost; then back through the stack, ping-ponging
     * between two gradient buffers.  The first layer's input gradient is
     * never needed, so it is not computed. */
    float *grad = net->grad_a, *spare = net->grad_b;
    double sum = last->ops->loss(last, n, cnn_net_output(net), labels, grad);
    if (cost)
        *cost = sum / n;
    cnn_layer_ctx ctx = {.mode = CNN_MODE_TRAIN, .pool = net->pool, .rng = &net->rng,
                         .scratch = net->scratch};
    for (int32_t i = net->n_layers - 1; i >= 0; i--) {
        cnn_layer *l = net->layers[i];
        const float *x = i ? net->acts[i - 1] : net->input;
        float *dx = i ? spare : NULL;
        ctx.sgd = l->ops->fuses_sgd ? sgd : NULL;
        if (i == net->n_layers - 1) {
            l->ops->backward_dz(l, n, x, grad, dx, &ctx);
        } else if (split(net, l, n) && l->ops->backward_part) {
            part_job j = {.net = net, .l = l, .n = n, .x = x, .y = net->acts[i], .out = grad,
                          .dx = dx, .mode = CNN_MODE_TRAIN};
            cnn_pool_run(net->pool, backward_part_job, &j);
            const float *parts[CNN_MAX_THREADS];
            for (int t = 0; t < net->ws_threads; t++)
                parts[t] = net->tgrads + (size_t)t * net->tgrad_stride;
            l->ops->backward_finish(l, n, grad, parts, net->ws_threads);
        } else {
            l->ops->backward(l, n, x, net->acts[i], grad, dx, &ctx);
        }
        float *t = grad;
        grad = spare;
        spare = t;
    }
    return CNN_OK;
}

cnn_status cnn_net_predict(cnn_net *net, const cnn_tensor *x, int32_t *labels)
{
    if (!net)
        return cnn_fail(CNN_EINVAL, "cnn_net_predict: network is NULL");
    if (!labels)
        return cnn_net_fail(net, CNN_EINVAL, "cnn_net_predict: labels is NULL");
    cnn_status st = cnn_net_forward(net, x, CNN_MODE_INFER, NULL);
    if (st != CNN_OK)
        return st;
    int classes = (int)cnn_shape_numel3(net->shapes[net->n_layers - 1]);
    cnn_k_argmax_rows(net->last_n, classes, cnn_net_output(net), labels);
    return CNN_OK;
}

/* Validates a dataset against the network for evaluation-style calls. */
static cnn_status check_dataset(cnn_net *net, const char *who, const cnn_dataset *ds, int32_t batch)
{
    if (!ds)
        return cnn_net_fail(net, CNN_EINVAL, "%s: dataset is NULL", who);
    if (net->n_layers == 0)
        return cnn_net_fail(net, CNN_ESTATE, "%s: the network has no layers", who);
    if (batch < 1)
        return cnn_net_fail(net, CNN_EINVAL, "%s: batch size %d, must be >= 1", who, (int)batch);
    int32_t shape[3];
    cnn_dataset_shape(ds, shape);
    if (memcmp(shape, net->in, sizeof shape) != 0)
        return cnn_net_fail(net, CNN_ESHAPE, "%s: dataset images are %dx%dx%d, network input is "
                            "%dx%dx%d", who, shape[0], shape[1], shape[2], net->in[0], net->in[1],
                            net->in[2]);
    return CNN_OK;
}

/* Runs inference over a dataset in batches, calling `visit` per batch. */
typedef void (*batch_visitor)(cnn_net *net, int n, const int32_t *truth, int64_t first, void *ctx);

static cnn_status run_dataset(cnn_net *net, const char *who, const cnn_dataset *ds, int32_t batch,
                              batch_visitor visit, void *ctx)
{
    cnn_status st = check_dataset(net, who, ds, batch);
    if (st != CNN_OK)
        return st;
    int64_t count = cnn_dataset_count(ds);
    if (batch > count)
        batch = (int32_t)count;
    if ((st = cnn_net_reserve(net, batch)) != CNN_OK)
        return st;
    int32_t *truth = cnn_alloc_array((size_t)batch, sizeof *truth);
    if (!truth)
        return cnn_net_fail(net, CNN_ENOMEM, "%s: out of memory for labels", who);
    for (int64_t start = 0; start < count; start += batch) {
        int n = (int)(count - start < batch ? count - start : batch);
        cnn_dataset_gather(ds, NULL, start, n, net->input, truth, 0);
        cnn_net_forward_input(net, n, CNN_MODE_INFER);
        visit(net, n, truth, start, ctx);
    }
    cnn_dealloc(truth);
    return CNN_OK;
}

typedef struct eval_ctx {
    int64_t correct;
    double nll;
    int32_t *scratch_labels; /* batch-sized */
    bool bad_label;
} eval_ctx;

static void eval_visit(cnn_net *net, int n, const int32_t *truth, int64_t first, void *p)
{
    (void)first;
    eval_ctx *ctx = p;
    int classes = (int)cnn_shape_numel3(net->shapes[net->n_layers - 1]);
    const float *y = cnn_net_output(net);
    cnn_k_argmax_rows(n, classes, y, ctx->scratch_labels);
    for (int i = 0; i < n; i++) {
        ctx->correct += ctx->scratch_labels[i] == truth[i];
        if (truth[i] >= classes)
            ctx->bad_label = true;
    }
    const cnn_layer *last = net->layers[net->n_layers - 1];
    if (!ctx->bad_label)
        ctx->nll += last->ops->cost ? last->ops->cost(last, n, y, truth)
                                    : cnn_k_nll_sum(n, classes, y, truth);
}

cnn_status cnn_net_evaluate(cnn_net *net, const cnn_dataset *ds, int32_t batch, double *accuracy,
                            double *cost)
{
    if (!net)
        return cnn_fail(CNN_EINVAL, "cnn_net_evaluate: network is NULL");
    eval_ctx ctx = {0};
    int32_t b = batch;
    if (ds && b > cnn_dataset_count(ds))
        b = (int32_t)cnn_dataset_count(ds);
    ctx.scratch_labels = cnn_alloc_array(b > 0 ? (size_t)b : 1, sizeof(int32_t));
    if (!ctx.scratch_labels)
        return cnn_net_fail(net, CNN_ENOMEM, "cnn_net_evaluate: out of memory");
    cnn_status st = run_dataset(net, "cnn_net_evaluate", ds, batch, eval_visit, &ctx);
    cnn_dealloc(ctx.scratch_labels);
    if (st != CNN_OK)
        return st;
    if (ctx.bad_label)
        return cnn_net_fail(net, CNN_ESHAPE, "cnn_net_evaluate: dataset has labels beyond the "
                            "network's %d classes", (int)cnn_shape_numel3(net->shapes[net->n_layers - 1]));
    int64_t count = cnn_dataset_count(ds);
    if (accuracy)
        *accuracy = (double)ctx.correct / (double)count;
    if (cost)
        *cost = ctx.nll / (double)count;
    return CNN_OK;
}

static void predict_visit(cnn_net *net, int n, const int32_t *truth, int64_t first, void *p)
{
    (void)truth;
    int32_t *labels = p;
    int classes = (int)cnn_shape_numel3(net->shapes[net->n_layers - 1]);
    cnn_k_argmax_rows(n, classes, cnn_net_output(net), labels + first);
}

cnn_status cnn_net_predict_dataset(cnn_net *net, const cnn_dataset *ds, int32_t batch,
                                   int32_t *labels)
{
    if (!net)
        return cnn_fail(CNN_EINVAL, "cnn_net_predict_dataset: network is NULL");
    if (!labels)
        return cnn_net_fail(net, CNN_EINVAL, "cnn_net_predict_dataset: labels is NULL");
    return run_dataset(net, "cnn_net_predict_dataset", ds, batch, predict_visit, labels);
}
