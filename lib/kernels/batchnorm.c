/* Batch normalisation kernels.  Data is n x c x plane (plane = H*W, 1 for
 * flat inputs); each channel's statistics run over its n*plane values.
 * Sums are accumulated in double in a fixed order (example by example,
 * then along the plane), so results depend only on the data. */
#include "kernels/kernels.h"

#include <math.h>

void cnn_k_bn_stats(int n, int c, size_t plane, const float *x, float *mean, float *var)
{
    const double count = (double)n * (double)plane;
    for (int ch = 0; ch < c; ch++) {
        double s = 0.0;
        for (int i = 0; i < n; i++) {
            const float *p = x + ((size_t)i * (size_t)c + (size_t)ch) * plane;
            for (size_t k = 0; k < plane; k++)
                s += (double)p[k];
        }
        const double m = s / count;
        double q = 0.0;
        for (int i = 0; i < n; i++) {
            const float *p = x + ((size_t)i * (size_t)c + (size_t)ch) * plane;
            for (size_t k = 0; k < plane; k++) {
                const double d = (double)p[k] - m;
                q += d * d;
            }
        }
        mean[ch] = (float)m;
        var[ch] = (float)(q / count);
    }
}

void cnn_k_bn_fwd_train(int n, int c, size_t plane, const float *x, const float *gamma,
                        const float *beta, const float *mean, const float *var, float eps,
                        float *xhat, float *inv_std, float *y)
{
    for (int ch = 0; ch < c; ch++)
        inv_std[ch] = (float)(1.0 / sqrt((double)var[ch] + (double)eps));
    for (int i = 0; i < n; i++) {
        for (int ch = 0; ch < c; ch++) {
            const size_t off = ((size_t)i * (size_t)c + (size_t)ch) * plane;
            const float m = mean[ch], s = inv_std[ch], g = gamma[ch], b = beta[ch];
            for (size_t k = 0; k < plane; k++) {
                const float h = (x[off + k] - m) * s;
                xhat[off + k] = h;
                y[off + k] = g * h + b;
            }
        }
    }
}

void cnn_k_bn_fwd_infer(int n, int c, size_t plane, const float *x, const float *gamma,
                        const float *beta, const float *mean, const float *var, float eps,
                        float *y)
{
    for (int i = 0; i < n; i++) {
        for (int ch = 0; ch < c; ch++) {
            const size_t off = ((size_t)i * (size_t)c + (size_t)ch) * plane;
            const float s = (float)(1.0 / sqrt((double)var[ch] + (double)eps));
            const float m = mean[ch], g = gamma[ch], b = beta[ch];
            for (size_t k = 0; k < plane; k++)
                y[off + k] = g * ((x[off + k] - m) * s) + b;
        }
    }
}

void cnn_k_bn_running_update(int c, size_t count, float momentum, const float *mean,
                             const float *var, float *run_mean, float *run_var)
{
    /* The running variance takes the unbiased estimate (as PyTorch does);
     * with one value per channel there is none, and the biased one (0) is
     * used. */
    const double unbias = count > 1 ? (double)count / (double)(count - 1) : 1.0;
    const double m = (double)momentum;
    for (int ch = 0; ch < c; ch++) {
        run_mean[ch] = (float)((1.0 - m) * (double)run_mean[ch] + m * (double)mean[ch]);
        run_var[ch] = (float)((1.0 - m) * (double)run_var[ch] + m * (double)var[ch] * unbias);
    }
}

void cnn_k_bn_bwd(int n, int c, size_t plane, const float *xhat, const float *inv_std,
                  const float *gamma, const float *dy, float *dgamma, float *dbeta, float *dx)
{
    const double count = (double)n * (double)plane;
    for (int ch = 0; ch < c; ch++) {
        double sb = 0.0, sg = 0.0;
        for (int i = 0; i < n; i++) {
            const size_t off = ((size_t)i * (size_t)c + (size_t)ch) * plane;
            for (size_t k = 0; k < plane; k++) {
                sb += (double)dy[off + k];
                sg += (double)dy[off + k] * (double)xhat[off + k];
            }
        }
        dgamma[ch] = (float)sg;
        dbeta[ch] = (float)sb;
        if (!dx)
            continue;
        /* dx = gamma * inv_std / M * (M dy - sum dy - xhat * sum(dy xhat)) */
        const float f = (float)((double)gamma[ch] * (double)inv_std[ch] / count);
        const float mb = (float)sb, mg = (float)sg, cm = (float)count;
        for (int i = 0; i < n; i++) {
            const size_t off = ((size_t)i * (size_t)c + (size_t)ch) * plane;
            for (size_t k = 0; k < plane; k++)
                dx[off + k] = f * (cm * dy[off + k] - mb - xhat[off + k] * mg);
        }
    }
}
