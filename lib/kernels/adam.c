/* The Adam / AdamW parameter update, one fused pass over a flat buffer. */
#include "kernels/kernels.h"

#include <math.h>

/* p *= keep (AdamW's 1 - lr*wd; 1 otherwise);  g' = g + l2*p (Adam's wd; 0 otherwise)
 * m = b1*m + (1-b1)*g';  v = b2*v + (1-b2)*g'^2
 * p -= step_size * m / (sqrt(v)/bc2_sqrt + eps),
 * step_size = lr/(1 - b1^t), bc2_sqrt = sqrt(1 - b2^t). */
void cnn_k_adam_update(size_t count, float *p, const float *g, float *m, float *v,
                       float step_size, float beta1, float beta2, float eps, float bc2_sqrt,
                       float l2, float keep)
{
    const float c1 = 1.0f - beta1, c2 = 1.0f - beta2;
    for (size_t i = 0; i < count; i++) {
        float w = p[i] * keep;
        const float gi = g[i] + l2 * w;
        const float mi = beta1 * m[i] + c1 * gi;
        const float vi = beta2 * v[i] + c2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w -= step_size * mi / (sqrtf(vi) / bc2_sqrt + eps);
        p[i] = w;
    }
}
