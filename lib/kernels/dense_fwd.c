/* Fully connected forward: y = alpha * x W^T + b.  Large batches are one
 * GEMM; small ones (n <= CNN_K_DENSE_SMALL_N) stream W once (dense_simd.h). */
#include "kernels/kernels.h"
#include "kernels/dense_simd.h"

#include <string.h>

#if CNN_K_HAVE_AVX2_PATH
/* y[i][o] for rows i0..i0+RI-1 and outputs o0..o0+RO-1: RO x RI dot products
 * of length in, held in RO*RI vector accumulators (at most 12 of the 16 ymm
 * registers), each W and x vector loaded once per 8 columns. */
CNN_K_AVX2 static inline __attribute__((always_inline)) void
fwd_block(int RO, int RI, int in, int out, const float *x, const float *w, int i0, int o0,
          const float *b, float alpha, float *y)
{
    __m256 acc[3][4];
    for (int r = 0; r < RO; r++)
        for (int q = 0; q < RI; q++)
            acc[r][q] = _mm256_setzero_ps();
    const float *wr[3], *xr[4];
    for (int r = 0; r < RO; r++)
        wr[r] = w + (size_t)(o0 + r) * (size_t)in;
    for (int q = 0; q < RI; q++)
        xr[q] = x + (size_t)(i0 + q) * (size_t)in;
    int k = 0;
    for (; k + 8 <= in; k += 8) {
        __m256 wv[3];
        for (int r = 0; r < RO; r++)
            wv[r] = _mm256_loadu_ps(wr[r] + k);
        for (int q = 0; q < RI; q++) {
            const __m256 xv = _mm256_loadu_ps(xr[q] + k);
            for (int r = 0; r < RO; r++)
                acc[r][q] = _mm256_fmadd_ps(wv[r], xv, acc[r][q]);
        }
    }
    if (k < in) {
        const __m256i m = cnn_k_tail_mask(in - k);
        __m256 wv[3];
        for (int r = 0; r < RO; r++)
            wv[r] = _mm256_maskload_ps(wr[r] + k, m);
        for (int q = 0; q < RI; q++) {
            const __m256 xv = _mm256_maskload_ps(xr[q] + k, m);
            for (int r = 0; r < RO; r++)
                acc[r][q] = _mm256_fmadd_ps(wv[r], xv, acc[r][q]);
        }
    }
    for (int q = 0; q < RI; q++)
        for (int r = 0; r < RO; r++) {
            const float bo = b ? b[o0 + r] : 0.0f;
            y[(size_t)(i0 + q) * (size_t)out + (size_t)(o0 + r)] = alpha * cnn_k_hsum(acc[r][q]) + bo;
        }
}

#define FWD_CASE(RO, RI) fwd_block(RO, RI, in, out, x, w, i0, o0, b, alpha, y)

CNN_K_AVX2 static void fwd_small_avx2(int n, int in, int out, const float *x, const float *w,
                                      const float *b, float alpha, float *y, int o_begin,
                                      int o_end)
{
    /* Outputs in blocks of 3 (3 W rows, 12 KiB at in = 1000, stay in L1
     * while every x row passes over them); rows in ceil(n/4) blocks of
     * near-equal size (10 = 4+3+3), so no block is a lone row that would
     * spend a W load per FMA. */
    const int nblk = (n + 3) / 4;
    for (int o0 = o_begin; o0 < o_end; o0 += 3) {
        const int ro = o_end - o0 < 3 ? o_end - o0 : 3;
        for (int bi = 0, i0 = 0; bi < nblk; bi++) {
            const int ri = (n - i0) / (nblk - bi) + ((n - i0) % (nblk - bi) != 0);
            switch (ro * 8 + ri) {
            case 3 * 8 + 4: FWD_CASE(3, 4); break;
            case 3 * 8 + 3: FWD_CASE(3, 3); break;
            case 3 * 8 + 2: FWD_CASE(3, 2); break;
            case 3 * 8 + 1: FWD_CASE(3, 1); break;
            case 2 * 8 + 4: FWD_CASE(2, 4); break;
            case 2 * 8 + 3: FWD_CASE(2, 3); break;
            case 2 * 8 + 2: FWD_CASE(2, 2); break;
            case 2 * 8 + 1: FWD_CASE(2, 1); break;
            case 1 * 8 + 4: FWD_CASE(1, 4); break;
            case 1 * 8 + 3: FWD_CASE(1, 3); break;
            case 1 * 8 + 2: FWD_CASE(1, 2); break;
            default: FWD_CASE(1, 1); break;
            }
            i0 += ri;
        }
    }
}
#endif

/* Plain loops with the same pass structure, for CPUs without AVX2/FMA. */
static void fwd_small_plain(int n, int in, int out, const float *x, const float *w,
                            const float *b, float alpha, float *y, int o_begin, int o_end)
{
    for (int o = o_begin; o < o_end; o++) {
        const float *wo = w + (size_t)o * (size_t)in;
        for (int i = 0; i < n; i++) {
            const float *xi = x + (size_t)i * (size_t)in;
            float s = 0.0f;
            for (int k = 0; k < in; k++)
                s += wo[k] * xi[k];
            y[(size_t)i * (size_t)out + (size_t)o] = alpha * s + (b ? b[o] : 0.0f);
        }
    }
}

void cnn_k_dense_fwd_rows(int n, int in, int out, const float *x, const float *w,
                          const float *b, float alpha, float *y, int o_begin, int o_end)
{
#if CNN_K_HAVE_AVX2_PATH
    if (cnn_k_cpu_avx512()) {
        cnn_k_dense_fwd_avx512(n, in, out, x, w, b, alpha, y, o_begin, o_end);
        return;
    }
    if (cnn_k_cpu_avx2()) {
        fwd_small_avx2(n, in, out, x, w, b, alpha, y, o_begin, o_end);
        return;
    }
#endif
    fwd_small_plain(n, in, out, x, w, b, alpha, y, o_begin, o_end);
}

void cnn_k_dense_fwd_small(int n, int in, int out, const float *x, const float *w,
                           const float *b, float alpha, float *y)
{
    cnn_k_dense_fwd_rows(n, in, out, x, w, b, alpha, y, 0, out);
}

/* y = alpha * x * W^T + b   (x: n x in, W: out x in, y: n x out). */
void cnn_k_dense_fwd(int n, int in, int out, const float *x, const float *w, const float *b,
                     float alpha, float *y)
{
    if (n <= CNN_K_DENSE_SMALL_N && in > 0) {
        cnn_k_dense_fwd_small(n, in, out, x, w, b, alpha, y);
        return;
    }
    float beta = 0.0f;
    if (b) {
        /* Seed every row with the bias and let the GEMM add onto it (beta = 1):
         * one pass over y instead of a GEMM pass plus a bias pass. */
        for (int i = 0; i < n; i++)
            memcpy(y + (size_t)i * (size_t)out, b, (size_t)out * sizeof *y);
        beta = 1.0f;
    }
    cnn_k_gemm(0, 1, n, out, in, alpha, x, in, w, in, beta, y, out);
}
