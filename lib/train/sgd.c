/* Stochastic gradient descent with optional (classical or Nesterov) momentum
 * and network3's L2, and what every optimizer kind shares (destroy, the
 * learning-rate setter, cnn_optimizer_step's dispatch):
 * the cost gains 0.5*lambda*sum(W^2)/B over weights (not biases), so each
 * step shrinks weights by the factor 1 - eta*lambda/B before the gradient
 * step.  The update is one fused pass per layer region of the flat buffer. */
#include "net/net.h"
#include "optimizer.h"
#include "kernels/kernels.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

/* cnn_sgd_params before nesterov: callers built against that header. */
#define SGD_PARAMS_MIN_SIZE offsetof(cnn_sgd_params, nesterov)

cnn_status cnn_sgd_params_init_sized(cnn_sgd_params *p, size_t struct_size, float learning_rate)
{
    cnn_sgd_params d;
    memset(&d, 0, sizeof d);
    d.learning_rate = learning_rate;
    return cnn_params_copy_out("cnn_sgd_params_init", p, struct_size, &d, sizeof d,
                               SGD_PARAMS_MIN_SIZE);
}

cnn_status cnn_sgd_create(const cnn_sgd_params *caller, cnn_optimizer **out)
{
    if (out)
        *out = NULL;
    if (!caller || !out)
        return cnn_fail(CNN_EINVAL, "cnn_sgd_create: NULL argument");
    if (caller->struct_size < SGD_PARAMS_MIN_SIZE)
        return cnn_fail(CNN_EINVAL, "cnn_sgd_create: struct_size %u, expected at least %zu",
                        (unsigned)caller->struct_size, SGD_PARAMS_MIN_SIZE);
    cnn_sgd_params q;
    cnn_sgd_params_init(&q, caller->learning_rate);
    memcpy(&q, caller, SGD_PARAMS_MIN_SIZE);
    if (caller->struct_size >= offsetof(cnn_sgd_params, nesterov) + sizeof q.nesterov)
        q.nesterov = caller->nesterov;
    q.struct_size = sizeof q;
    const cnn_sgd_params *p = &q;
    if (!(p->learning_rate > 0.0f) || !isfinite(p->learning_rate))
        return cnn_fail(CNN_EINVAL, "sgd: learning rate %g, must be a finite number > 0",
                        (double)p->learning_rate);
    if (!(p->momentum >= 0.0f && p->momentum < 1.0f))
        return cnn_fail(CNN_EINVAL, "sgd: momentum %g outside [0, 1)", (double)p->momentum);
    if (!(p->l2 >= 0.0f) || !isfinite(p->l2))
        return cnn_fail(CNN_EINVAL, "sgd: l2 %g, must be a finite number >= 0", (double)p->l2);
    if (p->l2_batches < 0)
        return cnn_fail(CNN_EINVAL, "sgd: l2_batches %lld, must be >= 0", (long long)p->l2_batches);
    if (p->nesterov && p->momentum == 0.0f)
        return cnn_fail(CNN_EINVAL, "sgd: Nesterov momentum needs momentum > 0 (momentum is 0)");
    cnn_optimizer *opt = cnn_alloc_zeroed(1, sizeof *opt);
    if (!opt)
        return cnn_fail(CNN_ENOMEM, "cnn_sgd_create: out of memory");
    opt->kind = CNN_OPT_KIND_SGD;
    opt->p = q;
    opt->p.nesterov = q.nesterov != 0;
    opt->lr = q.learning_rate;
    *out = opt;
    return CNN_OK;
}

void cnn_optimizer_destroy(cnn_optimizer *opt)
{
    if (!opt)
        return;
    cnn_dealloc(opt->velocity);
    cnn_dealloc(opt->second);
    cnn_dealloc(opt);
}

cnn_status cnn_optimizer_set_learning_rate(cnn_optimizer *opt, float learning_rate)
{
    if (!opt)
        return cnn_fail(CNN_EINVAL, "cnn_optimizer_set_learning_rate: optimizer is NULL");
    if (!(learning_rate > 0.0f) || !isfinite(learning_rate))
        return cnn_fail(CNN_EINVAL, "cnn_optimizer_set_learning_rate: learning rate %g, must be "
                        "a finite number > 0", (double)learning_rate);
    opt->lr = learning_rate;
    return CNN_OK;
}

float cnn_optimizer_learning_rate(const cnn_optimizer *opt)
{
    return opt ? opt->lr : 0.0f;
}

int32_t cnn_optimizer_state_buffers(const cnn_optimizer *opt)
{
    if (opt->kind == CNN_OPT_KIND_ADAM)
        return 2;
    return opt->p.momentum > 0.0f ? 1 : 0;
}

/* network3's L2 factor on weights: 1 - eta*lambda/B. */
static float weight_decay_of(const cnn_optimizer *opt)
{
    const cnn_sgd_params *p = &opt->p;
    int64_t batches = p->l2_batches ? p->l2_batches
                                    : (opt->batches_override ? opt->batches_override : 1);
    return 1.0f - (float)((double)opt->lr * p->l2 / (double)batches);
}

/* The update w = decay*w - eta*dw (with momentum, through v).  With
 * fused_done, the weights of layers whose kind fused the update into
 * backward (cnn_net_backward_fused) are already up to date and skipped. */
static cnn_status sgd_update(cnn_optimizer *opt, cnn_net *net, bool fused_done)
{
    const cnn_sgd_params *p = &opt->p;
    if (opt->n_params && opt->n_params != net->n_params)
        return cnn_net_fail(net, CNN_ESHAPE, "cnn_optimizer_step: optimizer was used with a "
                            "network of %lld parameters, this one has %lld",
                            (long long)opt->n_params, (long long)net->n_params);
    if (opt->kind == CNN_OPT_KIND_ADAM)
        return cnn_adam_update(opt, net);
    if (p->momentum > 0.0f && !opt->velocity) {
        opt->velocity = cnn_alloc_zeroed(net->n_params ? (size_t)net->n_params : 1, sizeof(float));
        if (!opt->velocity)
            return cnn_net_fail(net, CNN_ENOMEM, "cnn_optimizer_step: out of memory for momentum");
        opt->velocity_len = net->n_params;
    }
    opt->n_params = net->n_params;
    const float weight_decay = weight_decay_of(opt), eta = opt->lr;
    int64_t offset = 0;
    for (int32_t i = 0; i < net->n_layers; i++) {
        cnn_layer *l = net->layers[i];
        float *v = opt->velocity ? opt->velocity + offset : NULL;
        float *w = net->params + offset;
        const float *gw = net->grads + offset;
        float *b = w + l->n_weights;
        const float *gb = gw + l->n_weights;
        if (p->nesterov) {
            cnn_k_sgd_nesterov_update((size_t)l->n_weights, w, gw, v, eta, p->momentum,
                                      weight_decay);
            cnn_k_sgd_nesterov_update((size_t)l->n_biases, b, gb, v + l->n_weights, eta,
                                      p->momentum, 1.0f);
        } else {
            if (!(fused_done && l->ops->fuses_sgd))
                cnn_k_sgd_update((size_t)l->n_weights, w, gw, v, eta, p->momentum, weight_decay);
            cnn_k_sgd_update((size_t)l->n_biases, b, gb, v ? v + l->n_weights : NULL, eta,
                             p->momentum, 1.0f);
        }
        offset += l->n_weights + l->n_biases;
    }
    opt->steps++;
    return CNN_OK;
}

/* CNN_EDIVERGED if the step left a parameter NaN or infinite (one
 * vectorised pass over them, about 1% of a W3 step; see finite.c).
 * cnn_train checks once per epoch instead, and the cost of every step. */
static cnn_status check_finite(cnn_net *net, const char *who)
{
    const size_t i = cnn_k_find_non_finite(net->params, (size_t)net->n_params);
    if (i < (size_t)net->n_params)
        return cnn_net_fail(net, CNN_EDIVERGED, "%s: diverged: parameter %lld is %g after "
                            "the step (try a smaller learning rate)", who, (long long)i,
                            (double)net->params[i]);
    return CNN_OK;
}

cnn_status cnn_optimizer_step(cnn_optimizer *opt, cnn_net *net)
{
    if (!opt || !net)
        return cnn_fail(CNN_EINVAL, "cnn_optimizer_step: %s is NULL", opt ? "network" : "optimizer");
    cnn_status st = sgd_update(opt, net, false);
    return st == CNN_OK ? check_finite(net, "cnn_optimizer_step") : st;
}

cnn_status cnn_optimizer_update(cnn_optimizer *opt, cnn_net *net)
{
    return sgd_update(opt, net, false);
}

cnn_status cnn_optimizer_backward_step(cnn_optimizer *opt, cnn_net *net,
                                       const int32_t *labels, double *cost)
{
    if (opt->n_params && opt->n_params != net->n_params)
        return sgd_update(opt, net, false); /* reports the mismatch */
    /* Plain SGD: layers that can apply the update to their weights while
     * computing the gradient do (one pass over W instead of three, and no
     * store of dW); the parameters are bit-identical to the separate passes. */
    const bool fuse = opt->kind == CNN_OPT_KIND_SGD && opt->p.momentum == 0.0f;
    const cnn_sgd_fused sgd = {.eta = opt->lr, .decay = weight_decay_of(opt)};
    cnn_status st = cnn_net_backward_fused(net, labels, cost, fuse ? &sgd : NULL);
    if (st == CNN_OK)
        st = sgd_update(opt, net, fuse);
    return st;
}

cnn_status cnn_train_step(cnn_net *net, cnn_optimizer *opt, const cnn_tensor *x,
                          const int32_t *labels, double *cost)
{
    if (!net || !opt)
        return cnn_fail(CNN_EINVAL, "cnn_train_step: %s is NULL", net ? "optimizer" : "network");
    double c = 0.0;
    cnn_status st = cnn_net_forward(net, x, CNN_MODE_TRAIN, NULL);
    if (st == CNN_OK)
        st = cnn_optimizer_backward_step(opt, net, labels, &c);
    if (cost)
        *cost = c;
    if (st == CNN_OK && !isfinite(c))
        st = cnn_net_fail(net, CNN_EDIVERGED, "cnn_train_step: diverged: the cost is %g (try a "
                          "smaller learning rate)", c);
    return st == CNN_OK ? check_finite(net, "cnn_train_step") : st;
}
