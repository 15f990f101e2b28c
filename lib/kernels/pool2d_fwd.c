/* Pooling forward.  Each mode has its own loop nest (the switch sits outside
 * the loops), windows may overlap (stride < window) and windows that would
 * run past the edge do not exist (out = (in - win) / stride + 1). */
#include "kernels/kernels.h"

#include <math.h>

/* MAX: y = max of the window; argmax = iy*in_w+ix of its first maximum
 * (row-major scan, strict '>' so ties keep the earliest). */
static void pool_max(const cnn_pool_geom *g, size_t planes, const float *x, float *y,
                     int32_t *argmax)
{
    const size_t in_plane = (size_t)g->in_h * (size_t)g->in_w;
    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * in_plane;
        for (int oy = 0; oy < g->out_h; oy++) {
            for (int ox = 0; ox < g->out_w; ox++) {
                const int y0 = oy * g->stride_h, x0 = ox * g->stride_w;
                int best_idx = y0 * g->in_w + x0;
                float best = xp[best_idx];
                for (int i = 0; i < g->win_h; i++) {
                    const int row = (y0 + i) * g->in_w;
                    for (int j = 0; j < g->win_w; j++) {
                        const float v = xp[row + x0 + j];
                        if (v > best) {
                            best = v;
                            best_idx = row + x0 + j;
                        }
                    }
                }
                *y++ = best;
                if (argmax)
                    *argmax++ = (int32_t)best_idx;
            }
        }
    }
}

/* One output of a 2x2, stride-2 MAX window: the same result and tie rule
 * as pool_max.  Each row's pair is reduced with ties to the left (a over b,
 * c over d); the lower pair then wins only if strictly greater: that is
 * pool_max's row-major scan with strict '>'. */
static inline void max_2x2_one(const float *r0, const float *r1, int ox, int row0, int in_w,
                               float *y, int32_t *argmax)
{
    const float a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], d = r1[2 * ox + 1];
    const int right0 = b > a, right1 = d > c;
    const float m0 = right0 ? b : a, m1 = right1 ? d : c;
    const int lower = m1 > m0;
    y[ox] = lower ? m1 : m0;
    if (argmax)
        argmax[ox] = row0 + 2 * ox + (lower ? in_w + right1 : right0);
}

#if defined(__SSE2__)
#include <emmintrin.h>
/* a ? b : c per lane, a being an all-ones / all-zeros compare mask. */
static inline __m128 select_ps(__m128 mask, __m128 b, __m128 c)
{
    return _mm_or_ps(_mm_and_ps(mask, b), _mm_andnot_ps(mask, c));
}
static inline __m128i select_epi32(__m128i mask, __m128i b, __m128i c)
{
    return _mm_or_si128(_mm_and_si128(mask, b), _mm_andnot_si128(mask, c));
}
#endif

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_AVX512_ROWS 1
/* The four elements of 16 2x2 stride-2 windows from rows r0 and r1 (32
 * floats each; lanes outside the masks lo/hi of the two halves are not
 * read): a, b the upper left and right, c, d the lower ones. */
typedef struct windows_16 {
    __m512 a, b, c, d;
} windows_16;

__attribute__((target("avx512f"))) static inline windows_16
load_windows_16(const float *r0, const float *r1, __mmask16 lo, __mmask16 hi)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const __m512 p0 = _mm512_maskz_loadu_ps(lo, r0), p1 = _mm512_maskz_loadu_ps(hi, r0 + 16);
    const __m512 q0 = _mm512_maskz_loadu_ps(lo, r1), q1 = _mm512_maskz_loadu_ps(hi, r1 + 16);
    const windows_16 w = {_mm512_permutex2var_ps(p0, even, p1), _mm512_permutex2var_ps(p0, odd, p1),
                          _mm512_permutex2var_ps(q0, even, q1), _mm512_permutex2var_ps(q0, odd, q1)};
    return w;
}

/* 16 outputs of 2x2 stride-2 MAX windows (masks as load_windows_16). */
__attribute__((target("avx512f"))) static inline __m512 max_2x2_16(const float *r0,
                                                                   const float *r1,
                                                                   __mmask16 lo, __mmask16 hi)
{
    const windows_16 w = load_windows_16(r0, r1, lo, hi);
    return _mm512_max_ps(_mm512_max_ps(w.d, w.c), _mm512_max_ps(w.b, w.a));
}

/* 2x2 stride-2 MAX pooling without argmax of `planes` planes, 16 outputs
 * a step, on the AVX-512 path (inference; the caller checks cnn_k_isa()).
 * The lanes are reduced as in the SSE2 loop below: max(b, a) per row pair,
 * then max(lower, upper), so the bits are the same on every path.  One call
 * does every plane: per row, the setup cost more than the row's work. */
__attribute__((target("avx512f"))) static void max_2x2_avx512(const cnn_pool_geom *g,
                                                             size_t planes, const float *x,
                                                             float *y)
{
    const int in_w = g->in_w, out_h = g->out_h, out_w = g->out_w;
    const size_t in_plane = (size_t)g->in_h * (size_t)in_w;
    /* the last step of a row covers `left` outputs: 2*left input floats */
    const int left = out_w % 16 ? out_w % 16 : 16;
    const __mmask16 lo = (__mmask16)(left >= 8 ? 0xFFFFu : (1u << (2 * left)) - 1u);
    const __mmask16 hi = (__mmask16)(left > 8 ? (1u << (2 * (left - 8))) - 1u : 0u);
    const __mmask16 out_mask = (__mmask16)((1u << left) - 1u);
    const int full = out_w - left; /* outputs before the last step */
    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * in_plane;
        for (int oy = 0; oy < out_h; oy++, y += out_w) {
            const float *r0 = xp + (size_t)2 * oy * in_w, *r1 = r0 + in_w;
            int ox = 0;
            for (; ox < full; ox += 16) {
                _mm512_storeu_ps(y + ox, max_2x2_16(r0 + 2 * ox, r1 + 2 * ox, 0xFFFF, 0xFFFF));
            }
            _mm512_mask_storeu_ps(y + ox, out_mask, max_2x2_16(r0 + 2 * ox, r1 + 2 * ox, lo, hi));
        }
    }
}
#endif

#if defined(HAVE_AVX512_ROWS)
/* 2x2 stride-2 MAX pooling with argmax (training), 16 outputs a step on
 * the AVX-512 path: the compares and selects of the SSE2 loop below, lane
 * for lane (strict '>' on ordered compares, so ties and NaNs resolve as in
 * max_2x2_one), hence the same values and indices on every path. */
__attribute__((target("avx512f"))) static void max_2x2_argmax_avx512(const cnn_pool_geom *g,
                                                                   size_t planes,
                                                                   const float *x, float *y,
                                                                   int32_t *argmax)
{
    const int in_w = g->in_w, out_h = g->out_h, out_w = g->out_w;
    const size_t in_plane = (size_t)g->in_h * (size_t)in_w;
    const __m512i twice = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                            28, 30);
    const __m512i one = _mm512_set1_epi32(1), down = _mm512_set1_epi32(in_w);
    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * in_plane;
        for (int oy = 0; oy < out_h; oy++, y += out_w, argmax += out_w) {
            const int row0 = 2 * oy * in_w;
            const float *r0 = xp + row0, *r1 = r0 + in_w;
            for (int ox = 0; ox < out_w; ox += 16) {
                const int nv = out_w - ox < 16 ? out_w - ox : 16;
                const __mmask16 m = (__mmask16)((1u << nv) - 1u);
                const __mmask16 lo = (__mmask16)(nv >= 8 ? 0xFFFFu : (1u << (2 * nv)) - 1u);
                const __mmask16 hi = (__mmask16)(nv > 8 ? (1u << (2 * (nv - 8))) - 1u : 0u);
                const windows_16 w = load_windows_16(r0 + 2 * ox, r1 + 2 * ox, lo, hi);
                const __mmask16 right0 = _mm512_cmp_ps_mask(w.b, w.a, _CMP_GT_OQ);
                const __mmask16 right1 = _mm512_cmp_ps_mask(w.d, w.c, _CMP_GT_OQ);
                const __m512 m0 = _mm512_mask_blend_ps(right0, w.a, w.b);
                const __m512 m1 = _mm512_mask_blend_ps(right1, w.c, w.d);
                const __mmask16 lower = _mm512_cmp_ps_mask(m1, m0, _CMP_GT_OQ);
                _mm512_mask_storeu_ps(y + ox, m, _mm512_mask_blend_ps(lower, m0, m1));
                const __m512i base = _mm512_add_epi32(_mm512_set1_epi32(row0 + 2 * ox), twice);
                const __m512i off0 = _mm512_maskz_mov_epi32(right0, one);
                const __m512i off1 = _mm512_mask_add_epi32(down, right1, down, one);
                const __m512i off = _mm512_mask_blend_epi32(lower, off0, off1);
                _mm512_mask_storeu_epi32(argmax + ox, m, _mm512_add_epi32(base, off));
            }
        }
    }
}
#endif

/* MAX with a 2x2 window at stride 2 (every MNIST net), four outputs at a
 * time with SSE2 (part of every x86-64 CPU) as max_2x2_one does one.  The
 * scalar compare-and-branch form mispredicted on about every other window
 * of conv outputs and took 19% of W2's inference. */
static void pool_max_2x2(const cnn_pool_geom *g, size_t planes, const float *restrict x,
                         float *restrict y, int32_t *restrict argmax)
{
    const int in_w = g->in_w, out_h = g->out_h, out_w = g->out_w;
    const size_t in_plane = (size_t)g->in_h * (size_t)in_w;
#if defined(HAVE_AVX512_ROWS)
    if (out_w > 0 && cnn_k_isa() >= CNN_K_ISA_AVX512) {
        if (argmax)
            max_2x2_argmax_avx512(g, planes, x, y, argmax);
        else
            max_2x2_avx512(g, planes, x, y);
        return;
    }
#endif
    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * in_plane;
        for (int oy = 0; oy < out_h; oy++) {
            const int row0 = 2 * oy * in_w;
            const float *r0 = xp + row0, *r1 = r0 + in_w;
            int ox = 0;
#if defined(__SSE2__)
            const __m128i one = _mm_set1_epi32(1), down = _mm_set1_epi32(in_w);
            if (!argmax) {
                /* max_ps(b, a) is b > a ? b : a, lane by lane (NaN: a), which
                 * is the select below: the same bits without the masks */
                for (; ox + 4 <= out_w; ox += 4) {
                    const __m128 p0 = _mm_loadu_ps(r0 + 2 * ox), p1 = _mm_loadu_ps(r0 + 2 * ox + 4);
                    const __m128 q0 = _mm_loadu_ps(r1 + 2 * ox), q1 = _mm_loadu_ps(r1 + 2 * ox + 4);
                    const __m128 m0 = _mm_max_ps(_mm_shuffle_ps(p0, p1, _MM_SHUFFLE(3, 1, 3, 1)),
                                                 _mm_shuffle_ps(p0, p1, _MM_SHUFFLE(2, 0, 2, 0)));
                    const __m128 m1 = _mm_max_ps(_mm_shuffle_ps(q0, q1, _MM_SHUFFLE(3, 1, 3, 1)),
                                                 _mm_shuffle_ps(q0, q1, _MM_SHUFFLE(2, 0, 2, 0)));
                    _mm_storeu_ps(y + ox, _mm_max_ps(m1, m0));
                }
            }
            for (; ox + 4 <= out_w; ox += 4) {
                const __m128 p0 = _mm_loadu_ps(r0 + 2 * ox), p1 = _mm_loadu_ps(r0 + 2 * ox + 4);
                const __m128 q0 = _mm_loadu_ps(r1 + 2 * ox), q1 = _mm_loadu_ps(r1 + 2 * ox + 4);
                const __m128 a = _mm_shuffle_ps(p0, p1, _MM_SHUFFLE(2, 0, 2, 0));
                const __m128 b = _mm_shuffle_ps(p0, p1, _MM_SHUFFLE(3, 1, 3, 1));
                const __m128 c = _mm_shuffle_ps(q0, q1, _MM_SHUFFLE(2, 0, 2, 0));
                const __m128 d = _mm_shuffle_ps(q0, q1, _MM_SHUFFLE(3, 1, 3, 1));
                const __m128 right0 = _mm_cmpgt_ps(b, a), right1 = _mm_cmpgt_ps(d, c);
                const __m128 m0 = select_ps(right0, b, a), m1 = select_ps(right1, d, c);
                const __m128 lower = _mm_cmpgt_ps(m1, m0);
                _mm_storeu_ps(y + ox, select_ps(lower, m1, m0));
                if (argmax) {
                    const __m128i base = _mm_add_epi32(
                        _mm_set1_epi32(row0 + 2 * ox), _mm_setr_epi32(0, 2, 4, 6));
                    const __m128i off0 = _mm_and_si128(_mm_castps_si128(right0), one);
                    const __m128i off1 =
                        _mm_add_epi32(down, _mm_and_si128(_mm_castps_si128(right1), one));
                    const __m128i off = select_epi32(_mm_castps_si128(lower), off1, off0);
                    _mm_storeu_si128((__m128i *)(argmax + ox), _mm_add_epi32(base, off));
                }
            }
#endif
            for (; ox < out_w; ox++)
                max_2x2_one(r0, r1, ox, row0, in_w, y, argmax);
            y += out_w;
            if (argmax)
                argmax += out_w;
        }
    }
}

/* AVG: y = (sum of the window) / (win_h*win_w).  L2: y = sqrt(sum of squares). */
static void pool_sum(const cnn_pool_geom *g, int l2, size_t planes, const float *x, float *y)
{
    const size_t in_plane = (size_t)g->in_h * (size_t)g->in_w;
    const float inv_area = 1.0f / (float)(g->win_h * g->win_w);
    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * in_plane;
        for (int oy = 0; oy < g->out_h; oy++) {
            for (int ox = 0; ox < g->out_w; ox++) {
                const float *w0 = xp + (size_t)(oy * g->stride_h) * (size_t)g->in_w +
                                  (size_t)(ox * g->stride_w);
                float s = 0.0f;
                for (int i = 0; i < g->win_h; i++) {
                    const float *row = w0 + (size_t)i * (size_t)g->in_w;
                    if (l2) {
                        for (int j = 0; j < g->win_w; j++)
                            s += row[j] * row[j];
                    } else {
                        for (int j = 0; j < g->win_w; j++)
                            s += row[j];
                    }
                }
                *y++ = l2 ? sqrtf(s) : s * inv_area;
            }
        }
    }
}

/* y[n][c][oy][ox] = pool over x[n][c][oy*s_h .. +win_h)[ox*s_w .. +win_w). */
void cnn_k_pool2d_fwd(const cnn_pool_geom *g, int mode, int n, const float *x, float *y,
                      int32_t *argmax)
{
    const size_t planes = (size_t)n * (size_t)g->c;
    switch (mode) {
    case CNN_K_POOL_MAX:
        if (g->win_h == 2 && g->win_w == 2 && g->stride_h == 2 && g->stride_w == 2)
            pool_max_2x2(g, planes, x, y, argmax);
        else
            pool_max(g, planes, x, y, argmax);
        break;
    case CNN_K_POOL_AVG:
        pool_sum(g, 0, planes, x, y);
        break;
    case CNN_K_POOL_L2:
        pool_sum(g, 1, planes, x, y);
        break;
    default:
        break; /* callers validate the mode */
    }
}
