/* Dropout: applying a precomputed keep-mask (the mask is drawn by the layer,
 * which owns the random generator; kernels stay pure). */
#include "kernels/kernels.h"

#include <string.h>

/* y = x * mask, mask[i] in {0, 1}.  A dropped unit is exactly +0 even if x
 * is inf or NaN there, so the mask selects bits rather than multiplying: the
 * keep bit widened to all-ones (or zero) and ANDed with x.  A select per
 * element compiled to a branch that mispredicted on every other unit of a
 * random mask (7% of W3's training step); this form has no branch and the
 * compiler vectorises it. */
void cnn_k_dropout_apply(size_t count, const float *x, const uint8_t *mask, float *y)
{
    for (size_t i = 0; i < count; i++) {
        uint32_t u;
        memcpy(&u, x + i, sizeof u);
        u &= 0u - (uint32_t)(mask[i] != 0);
        memcpy(y + i, &u, sizeof u);
    }
}
