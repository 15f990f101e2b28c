/* Element-wise activations, their derivatives (taken from the outputs, so
 * the pre-activations need not be kept) and per-channel biases.  The switch on
 * the activation sits outside the loops so each loop is a plain,
 * vectorisable pass. */
#include "kernels/kernels.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* y = f(z): identity, 1/(1+e^-z), tanh z or max(0, z). */
void cnn_k_act_fwd(int act, size_t count, const float *z, float *y)
{
    switch (act) {
    case CNN_K_ACT_SIGMOID:
        /* For z very negative expf(-z) overflows to inf and y becomes 0: right. */
        for (size_t i = 0; i < count; i++)
            y[i] = 1.0f / (1.0f + expf(-z[i]));
        break;
    case CNN_K_ACT_TANH:
        for (size_t i = 0; i < count; i++)
            y[i] = tanhf(z[i]);
        break;
    case CNN_K_ACT_RELU:
        for (size_t i = 0; i < count; i++)
            y[i] = z[i] > 0.0f ? z[i] : 0.0f;
        break;
    case CNN_K_ACT_IDENTITY:
    default:
        if (y != z)
            memcpy(y, z, count * sizeof *y);
        break;
    }
}

/* dz = dy * f'(z) with f' from y: y(1-y), 1-y^2, [y > 0] or 1. */
void cnn_k_act_bwd(int act, size_t count, const float *y, const float *dy, float *dz)
{
    switch (act) {
    case CNN_K_ACT_SIGMOID:
        for (size_t i = 0; i < count; i++)
            dz[i] = dy[i] * y[i] * (1.0f - y[i]);
        break;
    case CNN_K_ACT_TANH:
        for (size_t i = 0; i < count; i++)
            dz[i] = dy[i] * (1.0f - y[i] * y[i]);
        break;
    case CNN_K_ACT_RELU:
        /* dz = dy where y > 0, else exactly +0 (whatever dy is there): the
         * comparison widened to a bit mask and ANDed with dy.  The select it
         * replaces compiled to a branch that mispredicted on about half the
         * units (4.5% of W3's training step); this has none and vectorises. */
        for (size_t i = 0; i < count; i++) {
            uint32_t u;
            memcpy(&u, dy + i, sizeof u);
            u &= 0u - (uint32_t)(y[i] > 0.0f);
            memcpy(dz + i, &u, sizeof u);
        }
        break;
    case CNN_K_ACT_IDENTITY:
    default:
        if (dz != dy)
            memcpy(dz, dy, count * sizeof *dz);
        break;
    }
}

/* y[n][c][p] += b[c]. */
void cnn_k_bias_add(int n, int c, size_t plane, const float *b, float *y)
{
    for (int i = 0; i < n; i++) {
        for (int ch = 0; ch < c; ch++) {
            const float bc = b[ch];
            for (size_t p = 0; p < plane; p++)
                y[p] += bc;
            y += plane;
        }
    }
}

void cnn_k_bias_act(int act, int c, size_t plane, const float *b, float *y)
{
    if (act != CNN_K_ACT_RELU && act != CNN_K_ACT_IDENTITY) {
        cnn_k_bias_add(1, c, plane, b, y);
        cnn_k_act_fwd(act, (size_t)c * plane, y, y);
        return;
    }
    const bool relu = act == CNN_K_ACT_RELU;
    for (int ch = 0; ch < c; ch++, y += plane) {
        const float bc = b[ch];
        if (relu) {
            for (size_t p = 0; p < plane; p++) {
                const float z = y[p] + bc;
                y[p] = z > 0.0f ? z : 0.0f;
            }
        } else {
            for (size_t p = 0; p < plane; p++)
                y[p] += bc;
        }
    }
}

/* db[c] = sum_{n,p} dy[n][c][p]. */
void cnn_k_bias_grad(int n, int c, size_t plane, const float *dy, float *db)
{
    /* Summed in double: a conv bias collects n*out_h*out_w terms (thousands).
     * Eight partial sums (element k of a plane goes to sum k % 8, added
     * pairwise at the end), not one: a single chain of additions waits on
     * the adder's latency at every term and took 2.2% of W2's training step;
     * the compiler packs these into vector additions.  The order is fixed
     * by the shapes alone, so the result stays deterministic. */
    for (int ch = 0; ch < c; ch++) {
        double s[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
        for (int i = 0; i < n; i++) {
            const float *p = dy + ((size_t)i * (size_t)c + (size_t)ch) * plane;
            size_t k = 0;
            for (; k + 8 <= plane; k += 8)
                for (int u = 0; u < 8; u++)
                    s[u] += (double)p[k + u];
            for (int u = 0; k < plane; k++, u++)
                s[u] += (double)p[k];
        }
        db[ch] = (float)(((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])));
    }
}
