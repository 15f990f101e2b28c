/* col2im for stride-1 convolutions, built one dx row at a time in
 * registers (the SIMD paths' form of cnn_k_col2im_ld).
 *
 * The scatter form (im2col.c) zeroes dx and then adds every col row into
 * it: k_h*k_w read-modify-write passes over each dx row, whose stores the
 * next j's loads overlap by all but one float (store-forwarding stalls),
 * about 5% of W2's training step.  Here each dx row segment of one vector
 * is a register sum over the (i, j) terms that reach it,
 *
 *   dx[c][y][x] = sum over i, then j, of col[(c,i,j)][(y+p_h-i)*out_w + x+p_w-j]
 *
 * (terms outside the col matrix skipped), loaded with lane masks, then
 * stored once: no zeroing pass, no overlap.  The terms are added in the
 * scatter form's order (i, then j, ascending, starting from +0), and a lane
 * a term does not reach adds +0, which changes no partial sum (it is never
 * -0, being +0 plus terms), so the result is bit for bit the scatter
 * form's.  Several channels go at once, because each lane's sum is one
 * dependent chain of additions and a single chain would wait on the adder's
 * latency. */
#include "kernels/kernels.h"

#include <stdint.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_COL2IM_ROWS 1

/* Lanes [lo, hi) of the vector of dx columns x0.. that term (i, j) reaches:
 * 0 <= x + p_w - j < out_w and x < in_w. */
static inline void term_lanes(const cnn_conv_geom *g, int x0, int j, int lanes, int *lo, int *hi)
{
    int l = j - g->pad_w - x0, h = g->out_w + j - g->pad_w - x0;
    if (l < 0)
        l = 0;
    if (h > lanes)
        h = lanes;
    if (h > g->in_w - x0)
        h = g->in_w - x0;
    *lo = l;
    *hi = h;
}

/* The address of lane 0 of a term's load: may lie before the col row (the
 * masked-off lanes below `lo` are never read), so it is formed as an
 * integer rather than by pointer arithmetic that would leave the array. */
static inline const float *lane0(const float *row, ptrdiff_t off)
{
    return (const float *)((uintptr_t)row + (uintptr_t)(off * (ptrdiff_t)sizeof(float)));
}

#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#define T256 __attribute__((target("avx2,fma")))

/* Kernel widths the row form takes (its masks live on the stack); wider
 * kernels, which no CNN uses, take the scatter form. */
#define ROWS_MAX_KW 64

/* One row's terms for NQ channels c0.. at once: the loop over (i, j) with
 * the accumulators a0..a7 (those past NQ unused, removed by the compiler)
 * named, not an array, so that they stay in registers.  The lane masks
 * depend on j and the vector's columns only, so the driver makes them once
 * per vector (masks[j] for the terms jlo <= j < jhi that reach it), and
 * the address of term (i, j+1) is that of (i, j) plus ldc - 1 floats.
 * LOAD(m, addr) and ADD come from the path. */
#define ROW_TERMS(NQ, MASK_T, LOAD, ADD)                                                 \
    const int k_h = g->k_h, k_w = g->k_w, out_h = g->out_h, out_w = g->out_w;            \
    const ptrdiff_t cs = (ptrdiff_t)((size_t)k_h * k_w * ldc * sizeof(float));           \
    const uintptr_t jstep = (uintptr_t)((ldc - 1) * sizeof(float));                      \
    for (int i = 0; i < k_h; i++) {                                                      \
        const int oy = y + g->pad_h - i;                                                 \
        if (oy < 0 || oy >= out_h)                                                       \
            continue;                                                                    \
        const float *row = col + ((size_t)c0 * k_h * k_w + (size_t)i * k_w + jlo) * ldc; \
        uintptr_t p = (uintptr_t)lane0(row, (ptrdiff_t)oy * out_w + x0 + g->pad_w - jlo); \
        for (int j = jlo; j < jhi; j++, p += jstep) {                                    \
            const MASK_T m = masks[j];                                                   \
            a0 = ADD(a0, LOAD(m, p));                                                    \
            if (NQ > 1) {                                                                \
                a1 = ADD(a1, LOAD(m, p + 1 * cs));                                       \
                a2 = ADD(a2, LOAD(m, p + 2 * cs));                                       \
                a3 = ADD(a3, LOAD(m, p + 3 * cs));                                       \
            }                                                                            \
            if (NQ > 4) {                                                                \
                a4 = ADD(a4, LOAD(m, p + 4 * cs));                                       \
                a5 = ADD(a5, LOAD(m, p + 5 * cs));                                       \
                a6 = ADD(a6, LOAD(m, p + 6 * cs));                                       \
                a7 = ADD(a7, LOAD(m, p + 7 * cs));                                       \
            }                                                                            \
        }                                                                                \
    }

/* One path's kernels: rows_<P>_<NQ> writes NQ (1, 4 or 8) channels c0..
 * of dx row y, columns x0..x0+LANES-1; col2im_rows_<P> runs them over the
 * vectors of a row, the rows and the channels (nch of them). */
#define DEF_ROWS(P, NQ, TARGET, V, LANES, MASK_T, MASK, LOAD, ADD, ZERO, STORE)            \
    static TARGET void rows_##P##_##NQ(const cnn_conv_geom *g, const float *col,           \
                                       size_t ldc, float *dx, int c0, int y, int x0,       \
                                       const MASK_T *masks, int jlo, int jhi)              \
    {                                                                                      \
        V a0 = ZERO(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;      \
        ROW_TERMS(NQ, MASK_T, LOAD, ADD)                                                   \
        const int w = g->in_w - x0 < (LANES) ? g->in_w - x0 : (LANES);                     \
        const MASK_T st = MASK(0, w);                                                      \
        const size_t plane = (size_t)g->in_h * g->in_w;                                    \
        float *d = dx + (size_t)c0 * plane + (size_t)y * g->in_w + x0;                     \
        const V acc[8] = {a0, a1, a2, a3, a4, a5, a6, a7};                                 \
        for (int q = 0; q < NQ; q++)                                                       \
            STORE(d + (size_t)q * plane, st, acc[q]);                                      \
    }

#define DEF_PATH(P, TARGET, V, LANES, MASK_T, MASK, LOAD, ADD, ZERO, STORE)                \
    DEF_ROWS(P, 8, TARGET, V, LANES, MASK_T, MASK, LOAD, ADD, ZERO, STORE)                 \
    DEF_ROWS(P, 4, TARGET, V, LANES, MASK_T, MASK, LOAD, ADD, ZERO, STORE)                 \
    DEF_ROWS(P, 1, TARGET, V, LANES, MASK_T, MASK, LOAD, ADD, ZERO, STORE)                 \
    static TARGET void col2im_rows_##P(const cnn_conv_geom *g, int nch, const float *col,  \
                                       float *dx, size_t ldc)                              \
    {                                                                                      \
        MASK_T masks[ROWS_MAX_KW];                                                         \
        for (int x0 = 0; x0 < g->in_w; x0 += (LANES)) {                                    \
            int jlo = g->k_w, jhi = 0;                                                     \
            for (int j = 0; j < g->k_w; j++) {                                             \
                int lo, hi;                                                                \
                term_lanes(g, x0, j, (LANES), &lo, &hi);                                   \
                masks[j] = MASK(lo < hi ? lo : 0, lo < hi ? hi : 0);                       \
                if (lo < hi) {                                                             \
                    jlo = j < jlo ? j : jlo;                                               \
                    jhi = j + 1;                                                           \
                }                                                                          \
            }                                                                              \
            if (jhi == 0)                                                                  \
                jlo = 0; /* (no term reaches these columns: zeros) */                      \
            for (int y = 0; y < g->in_h; y++) {                                            \
                int c = 0;                                                                 \
                for (; c + 8 <= nch; c += 8)                                               \
                    rows_##P##_8(g, col, ldc, dx, c, y, x0, masks, jlo, jhi);              \
                for (; c + 4 <= nch; c += 4)                                               \
                    rows_##P##_4(g, col, ldc, dx, c, y, x0, masks, jlo, jhi);              \
                for (; c < nch; c++)                                                       \
                    rows_##P##_1(g, col, ldc, dx, c, y, x0, masks, jlo, jhi);              \
            }                                                                              \
        }                                                                                  \
    }

/* AVX-512: 16 lanes, masks in mask registers. */
#define MASK512(lo, hi) ((__mmask16)(((1u << (hi)) - 1u) & ~((1u << (lo)) - 1u)))
#define LOAD512(m, p) _mm512_maskz_loadu_ps(m, (const float *)(p))
#define STORE512(p, m, v) _mm512_mask_storeu_ps(p, m, v)
DEF_PATH(avx512, T512, __m512, 16, __mmask16, MASK512, LOAD512, _mm512_add_ps,
         _mm512_setzero_ps, STORE512)

/* AVX2: 8 lanes, masks as vectors (maskload reads only the set lanes). */
static T256 __m256i lane_mask_256(int lo, int hi)
{
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i ge_lo = _mm256_cmpgt_epi32(idx, _mm256_set1_epi32(lo - 1));
    const __m256i lt_hi = _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), idx);
    return _mm256_and_si256(ge_lo, lt_hi);
}
#define LOAD256(m, p) _mm256_maskload_ps((const float *)(p), m)
#define STORE256(p, m, v) _mm256_maskstore_ps(p, m, v)
DEF_PATH(avx2, T256, __m256, 8, __m256i, lane_mask_256, LOAD256, _mm256_add_ps,
         _mm256_setzero_ps, STORE256)
#endif

bool cnn_k_col2im_rows_ok(const cnn_conv_geom *g)
{
#if HAVE_COL2IM_ROWS
    return g->stride_h == 1 && g->stride_w == 1 && g->k_w <= ROWS_MAX_KW &&
           cnn_k_isa() >= CNN_K_ISA_AVX2;
#else
    (void)g;
    return false;
#endif
}

void cnn_k_col2im_rows(const cnn_conv_geom *g, int c0, int c1, const float *col, float *dx,
                       size_t ldc)
{
    dx += (size_t)c0 * g->in_h * g->in_w;
#if HAVE_COL2IM_ROWS
    if (cnn_k_isa() >= CNN_K_ISA_AVX512)
        col2im_rows_avx512(g, c1 - c0, col, dx, ldc);
    else
        col2im_rows_avx2(g, c1 - c0, col, dx, ldc);
#else
    (void)c1, (void)col, (void)dx, (void)ldc;
#endif
}
