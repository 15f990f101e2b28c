/* Pooling backward.  dx is zeroed and then accumulated into, because
 * overlapping windows (stride < window) send several gradients to one input. */
#include "kernels/kernels.h"

#include <string.h>

/* MAX: dx[argmax] += dy (the forward's first maximum takes all of it). */
static void unpool_max(const cnn_pool_geom *g, size_t planes, const float *dy,
                       const int32_t *argmax, float *dx)
{
    const size_t in_plane = (size_t)g->in_h * (size_t)g->in_w;
    const size_t out_plane = (size_t)g->out_h * (size_t)g->out_w;
    for (size_t pl = 0; pl < planes; pl++) {
        float *dxp = dx + pl * in_plane;
        for (size_t k = 0; k < out_plane; k++)
            dxp[argmax[k]] += dy[k];
        dy += out_plane;
        argmax += out_plane;
    }
}

/* AVG: each window element gets dy / area.
 * L2:  y = sqrt(sum x^2) so dy/dx = x / y; windows with y == 0 give 0. */
static void unpool_sum(const cnn_pool_geom *g, int l2, size_t planes, const float *x,
                       const float *y, const float *dy, float *dx)
{
    const size_t in_plane = (size_t)g->in_h * (size_t)g->in_w;
    const float inv_area = 1.0f / (float)(g->win_h * g->win_w);
    for (size_t pl = 0; pl < planes; pl++) {
        float *dxp = dx + pl * in_plane;
        const float *xp = l2 ? x + pl * in_plane : NULL;
        for (int oy = 0; oy < g->out_h; oy++) {
            for (int ox = 0; ox < g->out_w; ox++) {
                const size_t off = (size_t)(oy * g->stride_h) * (size_t)g->in_w +
                                   (size_t)(ox * g->stride_w);
                float *d0 = dxp + off;
                const float gy = *dy++;
                if (l2) {
                    const float yv = *y++;
                    if (yv == 0.0f)
                        continue; /* every x in the window is 0: gradient 0 */
                    const float f = gy / yv;
                    const float *x0 = xp + off;
                    for (int i = 0; i < g->win_h; i++) {
                        const size_t r = (size_t)i * (size_t)g->in_w;
                        for (int j = 0; j < g->win_w; j++)
                            d0[r + (size_t)j] += f * x0[r + (size_t)j];
                    }
                } else {
                    const float f = gy * inv_area;
                    for (int i = 0; i < g->win_h; i++) {
                        const size_t r = (size_t)i * (size_t)g->in_w;
                        for (int j = 0; j < g->win_w; j++)
                            d0[r + (size_t)j] += f;
                    }
                }
            }
        }
    }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_UNPOOL_AVX512 1
/* MAX, 2x2 windows at stride 2, AVX-512: every element of dx written once,
 * 16 windows a step, instead of zeroing dx and then scattering (together
 * 4.7% of W2's training step).  The window element that argmax names gets
 * 0 + dy, the others +0: exactly what the zero-and-add form leaves (its
 * one addition per element turns a -0 gradient into +0, and so does the
 * addition here).  Rows and columns no window covers (odd sizes) get +0. */
__attribute__((target("avx512f"))) static void unpool_max_2x2_avx512(const cnn_pool_geom *g,
                                                                   size_t planes,
                                                                   const float *dy,
                                                                   const int32_t *argmax,
                                                                   float *dx)
{
    const int in_h = g->in_h, in_w = g->in_w, out_h = g->out_h, out_w = g->out_w;
    const size_t in_plane = (size_t)in_h * (size_t)in_w;
    /* result lanes 2m and 2m+1 take window m's left and right element */
    const __m512i lo_idx = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22,
                                             7, 23);
    const __m512i hi_idx = _mm512_add_epi32(lo_idx, _mm512_set1_epi32(8));
    const __m512i twice = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                            28, 30);
    const __m512i one = _mm512_set1_epi32(1), below = _mm512_set1_epi32(in_w);
    const __m512i below_right = _mm512_set1_epi32(in_w + 1);
    const __m512 zero = _mm512_setzero_ps();
    const int covered_w = 2 * out_w;
    for (size_t pl = 0; pl < planes; pl++, dy += (size_t)out_h * out_w,
                argmax += (size_t)out_h * out_w, dx += in_plane) {
        for (int oy = 0; oy < out_h; oy++) {
            const int row0 = 2 * oy * in_w;
            float *r0 = dx + row0, *r1 = r0 + in_w;
            for (int ox = 0; ox < out_w; ox += 16) {
                const int nv = out_w - ox < 16 ? out_w - ox : 16;
                const __mmask16 m = (__mmask16)((1u << nv) - 1u);
                const __mmask16 lo = (__mmask16)(nv >= 8 ? 0xFFFFu : (1u << (2 * nv)) - 1u);
                const __mmask16 hi = (__mmask16)(nv > 8 ? (1u << (2 * (nv - 8))) - 1u : 0u);
                const size_t k = (size_t)oy * out_w + ox;
                const __m512 d = _mm512_add_ps(zero, _mm512_maskz_loadu_ps(m, dy + k));
                /* the argmax's place in its window: 0, 1, in_w or in_w + 1 */
                const __m512i at = _mm512_sub_epi32(
                    _mm512_maskz_loadu_epi32(m, argmax + k),
                    _mm512_add_epi32(_mm512_set1_epi32(row0 + 2 * ox), twice));
                const __m512 tl = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(at, _mm512_setzero_si512()), d);
                const __m512 tr = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(at, one), d);
                const __m512 bl = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(at, below), d);
                const __m512 br = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(at, below_right), d);
                _mm512_mask_storeu_ps(r0 + 2 * ox, lo, _mm512_permutex2var_ps(tl, lo_idx, tr));
                _mm512_mask_storeu_ps(r0 + 2 * ox + 16, hi, _mm512_permutex2var_ps(tl, hi_idx, tr));
                _mm512_mask_storeu_ps(r1 + 2 * ox, lo, _mm512_permutex2var_ps(bl, lo_idx, br));
                _mm512_mask_storeu_ps(r1 + 2 * ox + 16, hi, _mm512_permutex2var_ps(bl, hi_idx, br));
            }
            for (int x = covered_w; x < in_w; x++)
                r0[x] = r1[x] = 0.0f;
        }
        for (size_t e = (size_t)2 * out_h * in_w; e < in_plane; e++)
            dx[e] = 0.0f;
    }
}
#endif

/* dx (write) = adjoint of the pooling map applied to dy. */
void cnn_k_pool2d_bwd(const cnn_pool_geom *g, int mode, int n, const float *x, const float *y,
                      const float *dy, const int32_t *argmax, float *dx)
{
    const size_t planes = (size_t)n * (size_t)g->c;
#if HAVE_UNPOOL_AVX512
    if (mode == CNN_K_POOL_MAX && g->win_h == 2 && g->win_w == 2 && g->stride_h == 2 &&
        g->stride_w == 2 && g->out_w > 0 && cnn_k_isa() >= CNN_K_ISA_AVX512) {
        unpool_max_2x2_avx512(g, planes, dy, argmax, dx);
        return;
    }
#endif
    memset(dx, 0, planes * (size_t)g->in_h * (size_t)g->in_w * sizeof *dx);
    switch (mode) {
    case CNN_K_POOL_MAX:
        unpool_max(g, planes, dy, argmax, dx);
        break;
    case CNN_K_POOL_AVG:
        unpool_sum(g, 0, planes, NULL, NULL, dy, dx);
        break;
    case CNN_K_POOL_L2:
        unpool_sum(g, 1, planes, x, y, dy, dx);
        break;
    default:
        break; /* callers validate the mode */
    }
}
