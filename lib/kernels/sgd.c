/* The SGD parameter update, fused into one pass over a flat buffer.
 * decay = 1 - eta*lambda/B for weights (network3's L2 term) and 1 for biases. */
#include "kernels/kernels.h"

/* momentum == 0: p = decay*p - eta*g.
 * otherwise:     v = momentum*v - eta*g - (1-decay)*p;  p += v. */
void cnn_k_sgd_update(size_t count, float *p, const float *g, float *v, float eta,
                      float momentum, float decay)
{
    if (momentum == 0.0f) {
        /* v is not touched (and may be NULL). */
        for (size_t i = 0; i < count; i++)
            p[i] = decay * p[i] - eta * g[i];
        return;
    }
    /* 1 - decay is exact in float for decay in [0.5, 2] (Sterbenz), so the
     * weight-decay coefficient loses nothing beyond the caller's rounding of decay. */
    const float wd = 1.0f - decay;
    for (size_t i = 0; i < count; i++) {
        const float vi = momentum * v[i] - eta * g[i] - wd * p[i];
        v[i] = vi;
        p[i] += vi;
    }
}

/* Nesterov: d = -eta*g - (1-decay)*p;  v = momentum*v + d;  p += momentum*v + d. */
void cnn_k_sgd_nesterov_update(size_t count, float *p, const float *g, float *v, float eta,
                               float momentum, float decay)
{
    const float wd = 1.0f - decay;
    for (size_t i = 0; i < count; i++) {
        const float d = -eta * g[i] - wd * p[i];
        const float vi = momentum * v[i] + d;
        v[i] = vi;
        p[i] += momentum * vi + d;
    }
}
