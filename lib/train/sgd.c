/* Stochastic gradient descent with optional momentum and network3's L2:
 * the cost gains 0.5*lambda*sum(W^2)/B over weights (not biases), so each
 * step shrinks weights by the factor 1 - eta*lambda/B before the gradient
 * step.  The update is one fused pass per layer region of the flat buffer. */
#include "net/net.h"
#include "optimizer.h"
#include "kernels/kernels.h"

#include <math.h>
#include <string.h>

cnn_status cnn_sgd_params_init_sized(cnn_sgd_params *p, size_t struct_size, float learning_rate)
{
    cnn_sgd_params d;
    memset(&d, 0, sizeof d);
    d.learning_rate = learning_rate;
    return cnn_params_copy_out("cnn_sgd_params_init", p, struct_size, &d, sizeof d, sizeof d);
}

cnn_status cnn_sgd_create(const cnn_sgd_params *p, cnn_optimizer **out)
{
    if (out)
        *out = NULL;
    if (!p || !out)
        return cnn_fail(CNN_EINVAL, "cnn_sgd_create: NULL argument");
    if (p->struct_size < sizeof *p)
        return cnn_fail(CNN_EINVAL, "cnn_sgd_create: struct_size %u, expected %zu",
                        (unsigned)p->struct_size, sizeof *p);
    if (!(p->learning_rate > 0.0f) || !isfinite(p->learning_rate))
        return cnn_fail(CNN_EINVAL, "sgd: learning rate %g, must be a finite number > 0",
                        (double)p->learning_rate);
    if (!(p->momentum >= 0.0f && p->momentum < 1.0f))
        return cnn_fail(CNN_EINVAL, "sgd: momentum %g outside [0, 1)", (double)p->momentum);
    if (!(p->l2 >= 0.0f) || !isfinite(p->l2))
        return cnn_fail(CNN_EINVAL, "sgd: l2 %g, must be a finite number >= 0", (double)p->l2);
    if (p->l2_batches < 0)
        return cnn_fail(CNN_EINVAL, "sgd: l2_batches %lld, must be >= 0", (long long)p->l2_batches);
    cnn_optimizer *opt = cnn_alloc_zeroed(1, sizeof *opt);
    if (!opt)
        return cnn_fail(CNN_ENOMEM, "cnn_sgd_create: out of memory");
    opt->p = *p;
    opt->p.struct_size = sizeof *p;
    *out = opt;
    return CNN_OK;
}

void cnn_optimizer_destroy(cnn_optimizer *opt)
{
    if (!opt)
        return;
    cnn_dealloc(opt->velocity);
    cnn_dealloc(opt);
}

/* network3's L2 factor on weights: 1 - eta*lambda/B. */
static float weight_decay_of(const cnn_optimizer *opt)
{
    const cnn_sgd_params *p = &opt->p;
    int64_t batches = p->l2_batches ? p->l2_batches
                                    : (opt->batches_override ? opt->batches_override : 1);
    return 1.0f - (float)((double)p->learning_rate * p->l2 / (double)batches);
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
    if (p->momentum > 0.0f && !opt->velocity) {
        opt->velocity = cnn_alloc_zeroed(net->n_params ? (size_t)net->n_params : 1, sizeof(float));
        if (!opt->velocity)
            return cnn_net_fail(net, CNN_ENOMEM, "cnn_optimizer_step: out of memory for momentum");
        opt->velocity_len = net->n_params;
    }
    opt->n_params = net->n_params;
    const float weight_decay = weight_decay_of(opt);
    int64_t offset = 0;
    for (int32_t i = 0; i < net->n_layers; i++) {
        cnn_layer *l = net->layers[i];
        float *v = opt->velocity ? opt->velocity + offset : NULL;
        if (!(fused_done && l->ops->fuses_sgd))
            cnn_k_sgd_update((size_t)l->n_weights, net->params + offset, net->grads + offset, v,
                             p->learning_rate, p->momentum, weight_decay);
        offset += l->n_weights;
        cnn_k_sgd_update((size_t)l->n_biases, net->params + offset, net->grads + offset,
                         v ? v + l->n_weights : NULL, p->learning_rate, p->momentum, 1.0f);
        offset += l->n_biases;
    }
    return CNN_OK;
}

cnn_status cnn_optimizer_step(cnn_optimizer *opt, cnn_net *net)
{
    if (!opt || !net)
        return cnn_fail(CNN_EINVAL, "cnn_optimizer_step: %s is NULL", opt ? "network" : "optimizer");
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
    const bool fuse = opt->p.momentum == 0.0f;
    const cnn_sgd_fused sgd = {.eta = opt->p.learning_rate, .decay = weight_decay_of(opt)};
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
    cnn_status st = cnn_net_forward(net, x, CNN_MODE_TRAIN, NULL);
    if (st == CNN_OK)
        st = cnn_optimizer_backward_step(opt, net, labels, cost);
    return st;
}
