/* Softmax output layer: forward, log-likelihood cost, the two backward forms
 * and argmax classification.  All row-wise over an n x k matrix. */
#include "kernels/kernels.h"

#include <float.h>
#include <math.h>

/* y[i][j] = exp(z[i][j] - m_i) / sum_l exp(z[i][l] - m_i), m_i = max_l z[i][l]. */
void cnn_k_softmax_fwd(int n, int k, const float *z, float *y)
{
    for (int i = 0; i < n; i++) {
        const float *zi = z + (size_t)i * (size_t)k;
        float *yi = y + (size_t)i * (size_t)k;
        /* Subtracting the max makes every exponent <= 0: no overflow, and the
         * largest term is exactly 1 so the sum is >= 1 (no division by 0). */
        float m = zi[0];
        for (int j = 1; j < k; j++)
            m = zi[j] > m ? zi[j] : m;
        double s = 0.0;
        for (int j = 0; j < k; j++) {
            yi[j] = expf(zi[j] - m); /* elementwise: safe when y == z */
            s += yi[j];
        }
        const float inv = (float)(1.0 / s);
        for (int j = 0; j < k; j++)
            yi[j] *= inv;
    }
}

/* sum_i -log(max(y[i][label_i], FLT_MIN)). */
double cnn_k_nll_sum(int n, int k, const float *y, const int32_t *labels)
{
    /* FLT_MIN caps a single example's cost at -log(FLT_MIN) ~ 87.3 when its
     * probability underflowed to 0, instead of returning infinity. */
    double s = 0.0;
    for (int i = 0; i < n; i++) {
        float p = y[(size_t)i * (size_t)k + (size_t)labels[i]];
        s -= log(p > FLT_MIN ? (double)p : (double)FLT_MIN);
    }
    return s;
}

/* sum_i logsumexp(z_i) - z_i[label_i], in double: m + log(sum_j exp(z_ij - m)) - z_label. */
double cnn_k_ce_logits_sum(int n, int k, const float *z, const int32_t *labels)
{
    double s = 0.0;
    for (int i = 0; i < n; i++) {
        const float *zi = z + (size_t)i * (size_t)k;
        double m = zi[0];
        for (int j = 1; j < k; j++)
            m = zi[j] > m ? zi[j] : m;
        double e = 0.0;
        for (int j = 0; j < k; j++)
            e += exp((double)zi[j] - m);
        s += m + log(e) - (double)zi[labels[i]];
    }
    return s;
}

/* dz = scale * (y - onehot(label)). */
void cnn_k_softmax_nll_bwd(int n, int k, const float *y, const int32_t *labels, float scale,
                           float *dz)
{
    const size_t total = (size_t)n * (size_t)k;
    for (size_t t = 0; t < total; t++)
        dz[t] = scale * y[t];
    for (int i = 0; i < n; i++)
        dz[(size_t)i * (size_t)k + (size_t)labels[i]] -= scale;
}

/* dz[i][j] = y[i][j] * (dy[i][j] - sum_l dy[i][l] y[i][l]): the softmax Jacobian
 * (diag(y) - y y^T) applied to dy. */
void cnn_k_softmax_bwd(int n, int k, const float *y, const float *dy, float *dz)
{
    for (int i = 0; i < n; i++) {
        const size_t r = (size_t)i * (size_t)k;
        double dot = 0.0;
        for (int j = 0; j < k; j++)
            dot += (double)dy[r + (size_t)j] * (double)y[r + (size_t)j];
        const float d = (float)dot;
        for (int j = 0; j < k; j++)
            dz[r + (size_t)j] = y[r + (size_t)j] * (dy[r + (size_t)j] - d);
    }
}

/* labels[i] = the smallest j with y[i][j] = max_l y[i][l]. */
void cnn_k_argmax_rows(int n, int k, const float *y, int32_t *labels)
{
    for (int i = 0; i < n; i++) {
        const float *yi = y + (size_t)i * (size_t)k;
        int best = 0;
        for (int j = 1; j < k; j++)
            if (yi[j] > yi[best]) /* strict: ties keep the lowest index */
                best = j;
        labels[i] = (int32_t)best;
    }
}
