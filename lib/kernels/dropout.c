/* Dropout: applying a precomputed keep-mask (the mask is drawn by the layer,
 * which owns the random generator; kernels stay pure). */
#include "kernels/kernels.h"

/* y = x * mask, mask[i] in {0, 1}. */
void cnn_k_dropout_apply(size_t count, const float *x, const uint8_t *mask, float *y)
{
    /* A select rather than a multiply, so a dropped unit is exactly 0 even if
     * x is inf or NaN there. */
    for (size_t i = 0; i < count; i++)
        y[i] = mask[i] ? x[i] : 0.0f;
}
