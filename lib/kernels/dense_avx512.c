/* The small-batch dense kernels (dense_simd.h) on the AVX-512 path: the
 * AVX2 kernels' pass structure with 16-float vectors, native lane masks for
 * the tails, and the larger register blocks that 32 registers allow.
 *
 * Same contracts as the AVX2 forms in dense_fwd.c and dense_bwd.c: each
 * output element is summed in a fixed order (so results are deterministic
 * on this path), dx and the slices of W/dW may be computed in any split
 * with bit-identical results, and the fused SGD update does exactly the
 * arithmetic of cnn_k_sgd_update on the gradient it would have stored. */
#include "kernels/kernels.h"
#include "kernels/dense_simd.h"

#if CNN_K_HAVE_AVX2_PATH

#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#define INLINE static inline __attribute__((always_inline))

/* Lanes [0, r) of a vector, r in 1..16. */
INLINE T512 __mmask16 tail16(int r)
{
    return (__mmask16)((1u << r) - 1u);
}

/* ---- forward: y[i][o] = alpha * dot(x_i, w_o) + b[o] --------------------- */

/* RO x RI dot products of length in (RO outputs, RI rows), each an
 * accumulator summed along k in 16-float steps, then reduced. */
INLINE T512 void fwd_block(int RO, int RI, int in, int out, const float *x, const float *w,
                            int i0, int o0, const float *b, float alpha, float *y)
{
    __m512 acc[4][5];
    for (int r = 0; r < RO; r++)
        for (int q = 0; q < RI; q++)
            acc[r][q] = _mm512_setzero_ps();
    const float *wr[4], *xr[5];
    for (int r = 0; r < RO; r++)
        wr[r] = w + (size_t)(o0 + r) * (size_t)in;
    for (int q = 0; q < RI; q++)
        xr[q] = x + (size_t)(i0 + q) * (size_t)in;
    int k = 0;
    for (; k + 16 <= in; k += 16) {
        __m512 wv[4];
        for (int r = 0; r < RO; r++)
            wv[r] = _mm512_loadu_ps(wr[r] + k);
        for (int q = 0; q < RI; q++) {
            const __m512 xv = _mm512_loadu_ps(xr[q] + k);
            for (int r = 0; r < RO; r++)
                acc[r][q] = _mm512_fmadd_ps(wv[r], xv, acc[r][q]);
        }
    }
    if (k < in) {
        const __mmask16 m = tail16(in - k);
        __m512 wv[4];
        for (int r = 0; r < RO; r++)
            wv[r] = _mm512_maskz_loadu_ps(m, wr[r] + k);
        for (int q = 0; q < RI; q++) {
            const __m512 xv = _mm512_maskz_loadu_ps(m, xr[q] + k);
            for (int r = 0; r < RO; r++)
                acc[r][q] = _mm512_fmadd_ps(wv[r], xv, acc[r][q]);
        }
    }
    for (int q = 0; q < RI; q++)
        for (int r = 0; r < RO; r++) {
            const float bo = b ? b[o0 + r] : 0.0f;
            y[(size_t)(i0 + q) * (size_t)out + (size_t)(o0 + r)] =
                alpha * _mm512_reduce_add_ps(acc[r][q]) + bo;
        }
}

#define FWD_CASE(RO, RI) fwd_block(RO, RI, in, out, x, w, i0, o0, b, alpha, y)
#define FWD_RI(RO)                                      \
    switch (ri) {                                       \
    case 5: FWD_CASE(RO, 5); break;                     \
    case 4: FWD_CASE(RO, 4); break;                     \
    case 3: FWD_CASE(RO, 3); break;                     \
    case 2: FWD_CASE(RO, 2); break;                     \
    default: FWD_CASE(RO, 1); break;                    \
    }

T512 void cnn_k_dense_fwd_avx512(int n, int in, int out, const float *x, const float *w,
                                 const float *b, float alpha, float *y, int o_begin, int o_end)
{
    /* Outputs in blocks of 4 (4 W rows stay in L1 while every x row passes
     * over them); rows in ceil(n/5) blocks of near-equal size (10 = 5+5). */
    const int nblk = (n + 4) / 5;
    for (int o0 = o_begin; o0 < o_end; o0 += 4) {
        const int ro = o_end - o0 < 4 ? o_end - o0 : 4;
        for (int bi = 0, i0 = 0; bi < nblk; bi++) {
            const int ri = (n - i0) / (nblk - bi) + ((n - i0) % (nblk - bi) != 0);
            switch (ro) {
            case 4: FWD_RI(4); break;
            case 3: FWD_RI(3); break;
            case 2: FWD_RI(2); break;
            default: FWD_RI(1); break;
            }
            i0 += ri;
        }
    }
}

/* ---- backward data: dx[i][k] = sum over o of dz[i][o] * w[o][k] ---------- */

/* dx rows i0..i0+RI-1, columns k0..k0+16*NV-1 (the last vector masked by m),
 * RI x NV accumulators summed over o ascending. */
INLINE T512 void bwd_data_block(int RI, int NV, __mmask16 m, int in, int out, const float *dz,
                                 const float *w, int i0, int k0, float *dx)
{
    __m512 acc[5][4];
    for (int q = 0; q < RI; q++)
        for (int v = 0; v < NV; v++)
            acc[q][v] = _mm512_setzero_ps();
    for (int o = 0; o < out; o++) {
        const float *wo = w + (size_t)o * (size_t)in + (size_t)k0;
        __m512 wv[4];
        for (int v = 0; v < NV; v++)
            wv[v] = v == NV - 1 ? _mm512_maskz_loadu_ps(m, wo + 16 * v)
                                : _mm512_loadu_ps(wo + 16 * v);
        for (int q = 0; q < RI; q++) {
            const __m512 d = _mm512_set1_ps(dz[(size_t)(i0 + q) * (size_t)out + (size_t)o]);
            for (int v = 0; v < NV; v++)
                acc[q][v] = _mm512_fmadd_ps(d, wv[v], acc[q][v]);
        }
    }
    for (int q = 0; q < RI; q++) {
        float *dst = dx + (size_t)(i0 + q) * (size_t)in + (size_t)k0;
        for (int v = 0; v < NV; v++) {
            if (v == NV - 1)
                _mm512_mask_storeu_ps(dst + 16 * v, m, acc[q][v]);
            else
                _mm512_storeu_ps(dst + 16 * v, acc[q][v]);
        }
    }
}

#define BWD_DATA_RI(NV, M)                                                      \
    for (int i0 = 0, bi = 0; bi < nblk; bi++) {                                 \
        const int ri = (n - i0) / (nblk - bi) + ((n - i0) % (nblk - bi) != 0); \
        switch (ri) {                                                           \
        case 5: bwd_data_block(5, NV, M, in, out, dz, w, i0, k0, dx); break;    \
        case 4: bwd_data_block(4, NV, M, in, out, dz, w, i0, k0, dx); break;    \
        case 3: bwd_data_block(3, NV, M, in, out, dz, w, i0, k0, dx); break;    \
        case 2: bwd_data_block(2, NV, M, in, out, dz, w, i0, k0, dx); break;    \
        default: bwd_data_block(1, NV, M, in, out, dz, w, i0, k0, dx); break;   \
        }                                                                       \
        i0 += ri;                                                               \
    }

T512 void cnn_k_dense_bwd_data_avx512(int n, int in, int out, const float *dz, const float *w,
                                      float *dx, int k_begin, int k_end)
{
    const int nblk = (n + 4) / 5;
    const __mmask16 full = (__mmask16)0xFFFF;
    int k0 = k_begin;
    /* columns 64 at a time (20 accumulators at 5 rows), then 16 (masked) */
    for (; k0 + 64 <= k_end; k0 += 64)
        BWD_DATA_RI(4, full)
    for (; k0 < k_end; k0 += 16) {
        const __mmask16 m = tail16(k_end - k0 < 16 ? k_end - k0 : 16);
        BWD_DATA_RI(1, m)
    }
}

/* ---- backward weights: dW[o][k] = sum over i of dz[i][o] x[i][k] ---------- */

/* dW rows o0..o0+RO-1, columns k0..k0+16*NV-1: summed over i ascending,
 * stored into dw (STORE) and/or applied to w as w = decay*w - eta*g (SGD). */
INLINE T512 void bwd_w_block(int RO, int NV, int SGD, int STORE, __mmask16 m, int n, int in,
                              int out, const float *x, const float *dz, int o0, int k0,
                              float *dw, float *w, float eta, float decay)
{
    __m512 acc[4][4];
    for (int r = 0; r < RO; r++)
        for (int v = 0; v < NV; v++)
            acc[r][v] = _mm512_setzero_ps();
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * (size_t)in + (size_t)k0;
        __m512 xv[4];
        for (int v = 0; v < NV; v++)
            xv[v] = v == NV - 1 ? _mm512_maskz_loadu_ps(m, xi + 16 * v)
                                : _mm512_loadu_ps(xi + 16 * v);
        for (int r = 0; r < RO; r++) {
            const __m512 d = _mm512_set1_ps(dz[(size_t)i * (size_t)out + (size_t)(o0 + r)]);
            for (int v = 0; v < NV; v++)
                acc[r][v] = _mm512_fmadd_ps(d, xv[v], acc[r][v]);
        }
    }
    const __m512 ve = _mm512_set1_ps(eta), vd = _mm512_set1_ps(decay);
    for (int r = 0; r < RO; r++) {
        const size_t at = (size_t)(o0 + r) * (size_t)in + (size_t)k0;
        for (int v = 0; v < NV; v++) {
            const __mmask16 mv = v == NV - 1 ? m : (__mmask16)0xFFFF;
            const __m512 g = acc[r][v];
            if (STORE)
                _mm512_mask_storeu_ps(dw + at + 16 * v, mv, g);
            if (SGD) {
                float *dst = w + at + 16 * v;
                const __m512 p = _mm512_maskz_loadu_ps(mv, dst);
                /* decay*w - eta*g, two roundings as in cnn_k_sgd_update */
                const __m512 nw = _mm512_sub_ps(_mm512_mul_ps(vd, p), _mm512_mul_ps(ve, g));
                _mm512_mask_storeu_ps(dst, mv, nw);
            }
        }
    }
}

/* One block of RO rows of dW (and W) across all columns, 64 at a time. */
#define BWD_W_ROWS(RO)                                                                   \
    do {                                                                                 \
        int k0 = 0;                                                                      \
        for (; k0 + 64 <= in; k0 += 64)                                                  \
            bwd_w_block(RO, 4, SGD, STORE, full, n, in, out, x, dz, o0, k0, dw, w, eta,   \
                        decay);                                                          \
        for (; k0 < in; k0 += 16)                                                        \
            bwd_w_block(RO, 1, SGD, STORE, tail16(in - k0 < 16 ? in - k0 : 16), n, in,   \
                        out, x, dz, o0, k0, dw, w, eta, decay);                          \
    } while (0)

INLINE T512 void bwd_w_rows(int SGD, int STORE, int n, int in, int out, const float *x,
                             const float *dz, float *dw, float *w, float eta, float decay,
                             int o_begin, int o_end)
{
    const __mmask16 full = (__mmask16)0xFFFF;
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

T512 void cnn_k_dense_bwd_w_store_avx512(int n, int in, int out, const float *x,
                                         const float *dz, float *dw, int o_begin, int o_end)
{
    bwd_w_rows(0, 1, n, in, out, x, dz, dw, NULL, 0.0f, 1.0f, o_begin, o_end);
}

T512 void cnn_k_dense_bwd_w_sgd_avx512(int n, int in, int out, const float *x, const float *dz,
                                       float *w, float eta, float decay, int o_begin,
                                       int o_end)
{
    bwd_w_rows(1, 0, n, in, out, x, dz, NULL, w, eta, decay, o_begin, o_end);
}

#endif /* CNN_K_HAVE_AVX2_PATH */
