/* Fully connected backward: dx = dz W, dW = dz^T x, db = column sums of dz.
 * Large batches are GEMMs; small ones (n <= CNN_K_DENSE_SMALL_N) stream W
 * (and dW) once with the kernels below (see dense_simd.h). */
#include "kernels/kernels.h"
#include "kernels/dense_simd.h"

#include <string.h>

#if CNN_K_HAVE_AVX2_PATH
/* dx rows i0..i0+RI-1, columns k0..k0+8*NV-1 (the last vector masked by m
 * when MASK): RI x NV accumulators summed over o ascending, one W strip
 * (out rows of 8*NV floats) read per row block. */
CNN_K_AVX2 static inline __attribute__((always_inline)) void
bwd_data_block(int RI, int NV, int MASK, __m256i m, int in, int out, const float *dz,
               const float *w, int i0, int k0, float *dx)
{
    __m256 acc[4][3];
    for (int q = 0; q < RI; q++)
        for (int v = 0; v < NV; v++)
            acc[q][v] = _mm256_setzero_ps();
    for (int o = 0; o < out; o++) {
        const float *wo = w + (size_t)o * (size_t)in + (size_t)k0;
        __m256 wv[3];
        for (int v = 0; v < NV; v++)
            wv[v] = (MASK && v == NV - 1) ? _mm256_maskload_ps(wo + 8 * v, m)
                                          : _mm256_loadu_ps(wo + 8 * v);
        for (int q = 0; q < RI; q++) {
            const __m256 d = _mm256_broadcast_ss(dz + (size_t)(i0 + q) * (size_t)out + (size_t)o);
            for (int v = 0; v < NV; v++)
                acc[q][v] = _mm256_fmadd_ps(d, wv[v], acc[q][v]);
        }
    }
    for (int q = 0; q < RI; q++) {
        float *dst = dx + (size_t)(i0 + q) * (size_t)in + (size_t)k0;
        for (int v = 0; v < NV; v++) {
            if (MASK && v == NV - 1)
                _mm256_maskstore_ps(dst + 8 * v, m, acc[q][v]);
            else
                _mm256_storeu_ps(dst + 8 * v, acc[q][v]);
        }
    }
}

CNN_K_AVX2 static void bwd_data_small_avx2(int n, int in, int out, const float *dz,
                                           const float *w, float *dx, int k_begin, int k_end)
{
    const __m256i full = _mm256_set1_epi32(-1);
    int k0 = k_begin;
    for (; k0 + 24 <= k_end; k0 += 24)
        for (int i0 = 0; i0 < n; i0 += 4) {
            switch (n - i0 < 4 ? n - i0 : 4) {
            case 4: bwd_data_block(4, 3, 0, full, in, out, dz, w, i0, k0, dx); break;
            case 3: bwd_data_block(3, 3, 0, full, in, out, dz, w, i0, k0, dx); break;
            case 2: bwd_data_block(2, 3, 0, full, in, out, dz, w, i0, k0, dx); break;
            default: bwd_data_block(1, 3, 0, full, in, out, dz, w, i0, k0, dx); break;
            }
        }
    for (; k0 < k_end; k0 += 8) {
        const __m256i m = cnn_k_tail_mask(k_end - k0 < 8 ? k_end - k0 : 8);
        for (int i0 = 0; i0 < n; i0 += 4) {
            switch (n - i0 < 4 ? n - i0 : 4) {
            case 4: bwd_data_block(4, 1, 1, m, in, out, dz, w, i0, k0, dx); break;
            case 3: bwd_data_block(3, 1, 1, m, in, out, dz, w, i0, k0, dx); break;
            case 2: bwd_data_block(2, 1, 1, m, in, out, dz, w, i0, k0, dx); break;
            default: bwd_data_block(1, 1, 1, m, in, out, dz, w, i0, k0, dx); break;
            }
        }
    }
}

/* dW rows o0..o0+RO-1, columns k0..k0+8*NV-1: sum over i ascending of
 * dz[i][o] x[i][k], stored into dw when STORE == 1; with SGD == 1 also applied
 * to w as w = decay*w - eta*g, the same operations cnn_k_sgd_update does on
 * the stored gradient, so the fused update is bit-identical to the two passes. */
CNN_K_AVX2 static inline __attribute__((always_inline)) void
bwd_w_block(int RO, int NV, int MASK, int SGD, int STORE, __m256i m, int n, int in, int out,
            const float *x, const float *dz, int o0, int k0, float *dw, float *w, float eta,
            float decay)
{
    __m256 acc[4][3];
    for (int r = 0; r < RO; r++)
        for (int v = 0; v < NV; v++)
            acc[r][v] = _mm256_setzero_ps();
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * (size_t)in + (size_t)k0;
        __m256 xv[3];
        for (int v = 0; v < NV; v++)
            xv[v] = (MASK && v == NV - 1) ? _mm256_maskload_ps(xi + 8 * v, m)
                                          : _mm256_loadu_ps(xi + 8 * v);
        for (int r = 0; r < RO; r++) {
            const __m256 d = _mm256_broadcast_ss(dz + (size_t)i * (size_t)out + (size_t)(o0 + r));
            for (int v = 0; v < NV; v++)
                acc[r][v] = _mm256_fmadd_ps(d, xv[v], acc[r][v]);
        }
    }
    const __m256 ve = _mm256_set1_ps(eta), vd = _mm256_set1_ps(decay);
    for (int r = 0; r < RO; r++) {
        const size_t at = (size_t)(o0 + r) * (size_t)in + (size_t)k0;
        for (int v = 0; v < NV; v++) {
            const int masked = MASK && v == NV - 1;
            const __m256 g = acc[r][v];
            if (STORE) {
                if (masked)
                    _mm256_maskstore_ps(dw + at + 8 * v, m, g);
                else
                    _mm256_storeu_ps(dw + at + 8 * v, g);
            }
            if (SGD) {
                float *dst = w + at + 8 * v;
                const __m256 p = masked ? _mm256_maskload_ps(dst, m) : _mm256_loadu_ps(dst);
                const __m256 nw = _mm256_sub_ps(_mm256_mul_ps(vd, p), _mm256_mul_ps(ve, g));
                if (masked)
                    _mm256_maskstore_ps(dst, m, nw);
                else
                    _mm256_storeu_ps(dst, nw);
            }
        }
    }
}

/* One block of RO (<= 4) rows of dW (and W) across all columns, 24 at a time (12
 * accumulators), left to right:
 * W and dW are streamed row by row (prefetch-friendly), x (n x in, in L1/L2)
 * is re-read for every block. */
#define BWD_W_ROWS(RO)                                                                   \
    do {                                                                                 \
        int k0 = 0;                                                                      \
        for (; k0 + 24 <= in; k0 += 24)                                                  \
            bwd_w_block(RO, 3, 0, SGD, STORE, full, n, in, out, x, dz, o0, k0, dw, w, eta, decay); \
        for (; k0 < in; k0 += 8) {                                                       \
            const __m256i m = cnn_k_tail_mask(in - k0 < 8 ? in - k0 : 8);               \
            bwd_w_block(RO, 1, 1, SGD, STORE, m, n, in, out, x, dz, o0, k0, dw, w, eta, decay);  \
        }                                                                                \
    } while (0)

/* SGD and STORE are compile-time constants in each of the instances below. */
CNN_K_AVX2 static inline __attribute__((always_inline)) void
bwd_w_small_avx2(int SGD, int STORE, int n, int in, int out, const float *x, const float *dz,
                 float *dw, float *w, float eta, float decay, int o_begin, int o_end)
{
    const __m256i full = _mm256_set1_epi32(-1);
    int o0 = o_begin;
    for (; o0 + 4 <= o_end; o0 += 4)
        BWD_W_ROWS(4);
    switch (o_end - o0) {
    case 3: BWD_W_ROWS(3); break;
    case 2: BWD_W_ROWS(2); break;
    case 1: BWD_W_ROWS(1); break;
    default: break;
    }
}

CNN_K_AVX2 static void bwd_w_store_avx2(int n, int in, int out, const float *x, const float *dz,
                                        float *dw, int o_begin, int o_end)
{
    bwd_w_small_avx2(0, 1, n, in, out, x, dz, dw, NULL, 0.0f, 1.0f, o_begin, o_end);
}

CNN_K_AVX2 static void bwd_w_sgd_avx2(int n, int in, int out, const float *x, const float *dz,
                                      float *w, float eta, float decay, int o_begin, int o_end)
{
    bwd_w_small_avx2(1, 0, n, in, out, x, dz, NULL, w, eta, decay, o_begin, o_end);
}
#endif

/* Plain loops for CPUs without AVX2/FMA, same summation order. */
static void bwd_data_small_plain(int n, int in, int out, const float *dz, const float *w,
                                 float *dx, int k_begin, int k_end)
{
    for (int i = 0; i < n; i++)
        memset(dx + (size_t)i * (size_t)in + (size_t)k_begin, 0,
               (size_t)(k_end - k_begin) * sizeof *dx);
    for (int o = 0; o < out; o++) {
        const float *wo = w + (size_t)o * (size_t)in;
        for (int i = 0; i < n; i++) {
            const float d = dz[(size_t)i * (size_t)out + (size_t)o];
            float *dxi = dx + (size_t)i * (size_t)in;
            for (int k = k_begin; k < k_end; k++)
                dxi[k] += d * wo[k];
        }
    }
}

static void bwd_w_small_plain(int n, int in, int out, const float *x, const float *dz,
                              float *dw, float *w, float eta, float decay, int o_begin,
                              int o_end)
{
    for (int o = o_begin; o < o_end; o++) {
        const size_t row = (size_t)o * (size_t)in;
        for (int k = 0; k < in; k++) {
            float g = 0.0f;
            for (int i = 0; i < n; i++)
                g += dz[(size_t)i * (size_t)out + (size_t)o] * x[(size_t)i * (size_t)in + (size_t)k];
            if (dw)
                dw[row + (size_t)k] = g;
            if (w)
                w[row + (size_t)k] = decay * w[row + (size_t)k] - eta * g;
        }
    }
}

void cnn_k_dense_bwd_data_cols(int n, int in, int out, const float *dz, const float *w,
                               float *dx, int k_begin, int k_end)
{
#if CNN_K_HAVE_AVX2_PATH
    if (cnn_k_cpu_avx512()) {
        cnn_k_dense_bwd_data_avx512(n, in, out, dz, w, dx, k_begin, k_end);
        return;
    }
    if (cnn_k_cpu_avx2()) {
        bwd_data_small_avx2(n, in, out, dz, w, dx, k_begin, k_end);
        return;
    }
#endif
    bwd_data_small_plain(n, in, out, dz, w, dx, k_begin, k_end);
}

void cnn_k_dense_bwd_data_small(int n, int in, int out, const float *dz, const float *w,
                                float *dx)
{
    cnn_k_dense_bwd_data_cols(n, in, out, dz, w, dx, 0, in);
}

/* db[o] = sum_i dz[i][o], rows in order (deterministic), vectorised along o. */
void cnn_k_dense_bias_grad(int n, int out, const float *dz, float *db)
{
    memset(db, 0, (size_t)out * sizeof *db);
    for (int i = 0; i < n; i++) {
        const float *row = dz + (size_t)i * (size_t)out;
        for (int o = 0; o < out; o++)
            db[o] += row[o];
    }
}

void cnn_k_dense_bwd_weights_rows(int n, int in, int out, const float *x, const float *dz,
                                  float *dw, int o_begin, int o_end)
{
#if CNN_K_HAVE_AVX2_PATH
    if (cnn_k_cpu_avx512()) {
        cnn_k_dense_bwd_w_store_avx512(n, in, out, x, dz, dw, o_begin, o_end);
        return;
    }
    if (cnn_k_cpu_avx2()) {
        bwd_w_store_avx2(n, in, out, x, dz, dw, o_begin, o_end);
        return;
    }
#endif
    bwd_w_small_plain(n, in, out, x, dz, dw, NULL, 0.0f, 1.0f, o_begin, o_end);
}

void cnn_k_dense_bwd_weights_small(int n, int in, int out, const float *x, const float *dz,
                                   float *dw)
{
    cnn_k_dense_bwd_weights_rows(n, in, out, x, dz, dw, 0, out);
}

void cnn_k_dense_sgd_rows(int n, int in, int out, const float *x, const float *dz, float *w,
                          float eta, float decay, int o_begin, int o_end)
{
#if CNN_K_HAVE_AVX2_PATH
    if (cnn_k_cpu_avx512()) {
        cnn_k_dense_bwd_w_sgd_avx512(n, in, out, x, dz, w, eta, decay, o_begin, o_end);
        return;
    }
    if (cnn_k_cpu_avx2()) {
        bwd_w_sgd_avx2(n, in, out, x, dz, w, eta, decay, o_begin, o_end);
        return;
    }
#endif
    bwd_w_small_plain(n, in, out, x, dz, NULL, w, eta, decay, o_begin, o_end);
}

void cnn_k_dense_bwd_weights_sgd(int n, int in, int out, const float *x, const float *dz,
                                 float *dw, float *w, float *db, float eta, float decay)
{
    if (n >= 1 && n <= CNN_K_DENSE_SMALL_N) {
        cnn_k_dense_sgd_rows(n, in, out, x, dz, w, eta, decay, 0, out);
        if (db)
            cnn_k_dense_bias_grad(n, out, dz, db);
        return;
    }
    /* Other batch sizes: the two passes (BLAS gradient, then the update). */
    cnn_k_dense_bwd_weights(n, in, out, x, dz, dw, db);
    cnn_k_sgd_update((size_t)out * (size_t)in, w, dw, NULL, eta, 0.0f, decay);
}

/* dx = dz * W   (dz: n x out, W: out x in, dx: n x in). */
void cnn_k_dense_bwd_data(int n, int in, int out, const float *dz, const float *w, float *dx)
{
    if (n <= CNN_K_DENSE_SMALL_N && out > 0) {
        cnn_k_dense_bwd_data_small(n, in, out, dz, w, dx);
        return;
    }
    cnn_k_gemm(0, 0, n, in, out, 1.0f, dz, out, w, in, 0.0f, dx, in);
}

/* dw = dz^T * x (out x in);  db[o] = sum_i dz[i][o]. */
void cnn_k_dense_bwd_weights(int n, int in, int out, const float *x, const float *dz,
                             float *dw, float *db)
{
    if (n >= 1 && n <= CNN_K_DENSE_SMALL_N)
        cnn_k_dense_bwd_weights_small(n, in, out, x, dz, dw);
    else
        cnn_k_gemm(1, 0, out, in, n, 1.0f, dz, out, x, in, 0.0f, dw, in);
    if (db)
        cnn_k_dense_bias_grad(n, out, dz, db);
}
