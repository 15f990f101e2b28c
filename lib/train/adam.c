/* Adam and AdamW (Kingma & Ba; Loshchilov & Hutter) with bias correction,
 * following PyTorch's torch.optim.Adam / AdamW (foreach=False) step by step:
 * the weight decay (L2 added to the gradient for Adam, decoupled
 * multiplication for AdamW) applies to every parameter, biases included,
 * as PyTorch does by default.  The update is one pass over the flat
 * parameter buffer (cnn_k_adam_update). */
#include "net/net.h"
#include "optimizer.h"
#include "kernels/kernels.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

cnn_status cnn_adam_params_init_sized(cnn_adam_params *p, size_t struct_size, float learning_rate)
{
    cnn_adam_params d;
    memset(&d, 0, sizeof d);
    d.learning_rate = learning_rate;
    d.beta1 = 0.9f;
    d.beta2 = 0.999f;
    d.epsilon = 1e-8f;
    return cnn_params_copy_out("cnn_adam_params_init", p, struct_size, &d, sizeof d, sizeof d);
}

cnn_status cnn_adam_create(const cnn_adam_params *p, cnn_optimizer **out)
{
    if (out)
        *out = NULL;
    if (!p || !out)
        return cnn_fail(CNN_EINVAL, "cnn_adam_create: %s is NULL", p ? "out" : "params");
    if (p->struct_size < sizeof *p)
        return cnn_fail(CNN_EINVAL, "cnn_adam_create: struct_size %u, expected %zu",
                        (unsigned)p->struct_size, sizeof *p);
    if (!(p->learning_rate > 0.0f) || !isfinite(p->learning_rate))
        return cnn_fail(CNN_EINVAL, "adam: learning rate %g, must be a finite number > 0",
                        (double)p->learning_rate);
    if (!(p->beta1 >= 0.0f && p->beta1 < 1.0f))
        return cnn_fail(CNN_EINVAL, "adam: beta1 %g outside [0, 1)", (double)p->beta1);
    if (!(p->beta2 >= 0.0f && p->beta2 < 1.0f))
        return cnn_fail(CNN_EINVAL, "adam: beta2 %g outside [0, 1)", (double)p->beta2);
    if (!(p->epsilon > 0.0f) || !isfinite(p->epsilon))
        return cnn_fail(CNN_EINVAL, "adam: epsilon %g, must be a finite number > 0",
                        (double)p->epsilon);
    if (!(p->weight_decay >= 0.0f) || !isfinite(p->weight_decay))
        return cnn_fail(CNN_EINVAL, "adam: weight decay %g, must be a finite number >= 0",
                        (double)p->weight_decay);
    cnn_optimizer *opt = cnn_alloc_zeroed(1, sizeof *opt);
    if (!opt)
        return cnn_fail(CNN_ENOMEM, "cnn_adam_create: out of memory");
    opt->kind = CNN_OPT_KIND_ADAM;
    opt->a = *p;
    opt->a.struct_size = sizeof *p;
    opt->a.decoupled = p->decoupled != 0;
    opt->lr = p->learning_rate;
    *out = opt;
    return CNN_OK;
}

cnn_status cnn_adam_update(cnn_optimizer *opt, cnn_net *net)
{
    const cnn_adam_params *a = &opt->a;
    if (!opt->velocity) {
        size_t n = net->n_params ? (size_t)net->n_params : 1;
        float *m = cnn_alloc_zeroed(n, sizeof(float)), *v = cnn_alloc_zeroed(n, sizeof(float));
        if (!m || !v) {
            cnn_dealloc(m);
            cnn_dealloc(v);
            return cnn_net_fail(net, CNN_ENOMEM, "cnn_optimizer_step: out of memory for Adam's "
                                "moments (%lld parameters)", (long long)net->n_params);
        }
        opt->velocity = m;
        opt->second = v;
        opt->velocity_len = net->n_params;
    }
    opt->n_params = net->n_params;
    const double t = (double)(opt->steps + 1);
    const double bc1 = 1.0 - pow((double)a->beta1, t);
    const double bc2 = 1.0 - pow((double)a->beta2, t);
    const float step_size = (float)((double)opt->lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    const float l2 = a->decoupled ? 0.0f : a->weight_decay;
    const float keep = a->decoupled ? (float)(1.0 - (double)opt->lr * a->weight_decay) : 1.0f;
    cnn_k_adam_update((size_t)net->n_params, net->params, net->grads, opt->velocity, opt->second,
                      step_size, a->beta1, a->beta2, a->epsilon, bc2_sqrt, l2, keep);
    opt->steps++;
    return CNN_OK;
}
