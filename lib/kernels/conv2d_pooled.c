/* The weight gradient of a convolution followed by MAX pooling whose
 * windows do not overlap (stride = window), summed over the pooled outputs
 * instead of every conv output.
 *
 * Backward through such pooling leaves the conv output's gradient equal to
 * the pooled gradient at each window's argmax and zero everywhere else, so
 * the dense weight gradient dW[o][k] = sum over positions p of
 * dconv[o][p] * col[k][p] has only one nonzero term per window:
 *
 *   dW[o][k] = sum over images, then pooled outputs q (in order), of
 *              dyp[o][q] * colT[argmax[o][q]][k]
 *
 * a 1/area of the dense sum's multiply-adds (a quarter for 2x2 windows).
 * The K inputs of position p are read straight from a channels-last copy
 * of the (padded) image, xh[y][x][c]: for each kernel row i they are one
 * run of k_w*in_c contiguous floats, xh[oy*s_h + i][ox*s_w ..][..], so each
 * term is a few vector loads and fused multiply-adds along that run, every
 * lane used whatever the channel count (the dense form by channels fills
 * 40 of 48 lanes on W2's conv 2), the whole copy in L1 (W2's conv 2:
 * 11.5 KiB), and the zeros of the unpooled gradient never multiplied.  No
 * unpooled gradient is needed at all: a layer that passes no gradient on
 * (the first) skips unpooling.  dW is accumulated in run order (o, i, j, c),
 * each run padded to whole vectors, and reordered to (o, c, i, j) once at
 * the end.
 *
 * Each dW element is a sum in a fixed order (images, then q), with one
 * fused multiply-add per term on the SIMD paths and a multiply and an add
 * on the portable one: deterministic on a path, paths differing by
 * rounding (and the dense form's order differs too). */
#include "kernels/kernels.h"
#include "kernels/ukr.h"

#include <string.h>

/* Each run of k_w*in_c floats is padded to whole vectors of this many
 * floats (the widest path's), so the scratch does not depend on the path. */
#define RUN_LANES 16

/* Shorter runs leave most lanes empty (W2's conv 1: 5 floats, one input
 * channel), where the dense form with its dot tiles is faster (measured:
 * 15% of W2's training step this way against 5% dense). */
#define POOLED_MIN_RUN 16

static size_t run_len(const cnn_conv_geom *g)
{
    return (size_t)g->k_w * (size_t)g->in_c;
}

static size_t run_pad(const cnn_conv_geom *g)
{
    return (run_len(g) + RUN_LANES - 1) / RUN_LANES * RUN_LANES;
}

static int padded_w(const cnn_conv_geom *g)
{
    return g->in_w + 2 * g->pad_w;
}

static int padded_h(const cnn_conv_geom *g)
{
    return g->in_h + 2 * g->pad_h;
}

bool cnn_k_conv2d_pooled_bwd_weights_ok(const cnn_conv_geom *g, const cnn_pool_geom *pg)
{
    /* windows that tile without overlap, of 2 or more outputs (a 1x1
     * window leaves nothing to skip), and runs long enough to fill vectors */
    return pg->stride_h == pg->win_h && pg->stride_w == pg->win_w &&
           pg->win_h * pg->win_w >= 2 && pg->in_h == g->out_h && pg->in_w == g->out_w &&
           pg->c == g->out_c && run_len(g) >= POOLED_MIN_RUN;
}

/* Floats of: the padded CHW image, its channels-last copy, dW in run order
 * (out_c x k_h x run_pad), the per-term offsets of one image and the offset
 * of each conv output position (int32, counted as floats: same size). */
static size_t xh_floats(const cnn_conv_geom *g)
{
    return (size_t)g->in_c * padded_h(g) * padded_w(g);
}

size_t cnn_k_conv2d_pooled_scratch_floats(const cnn_conv_geom *g)
{
    const size_t p = (size_t)g->out_h * (size_t)g->out_w;
    return 2 * xh_floats(g) + (size_t)g->out_c * g->k_h * run_pad(g) + (size_t)g->out_c * p + p;
}

/* xh (write) = the image x with its zero border, channels last. */
static void to_channels_last(const cnn_conv_geom *g, const float *restrict x,
                             float *restrict chw, float *restrict xh)
{
    const int hp = padded_h(g), wp = padded_w(g);
    const float *src = x;
    if (g->pad_h > 0 || g->pad_w > 0) {
        memset(chw, 0, xh_floats(g) * sizeof *chw);
        for (int c = 0; c < g->in_c; c++)
            for (int y = 0; y < g->in_h; y++)
                memcpy(chw + ((size_t)c * hp + (size_t)(y + g->pad_h)) * wp + g->pad_w,
                       x + ((size_t)c * g->in_h + (size_t)y) * g->in_w,
                       (size_t)g->in_w * sizeof *x);
        src = chw;
    }
    if (g->in_c == 1) {
        memcpy(xh, src, xh_floats(g) * sizeof *xh);
        return;
    }
    /* xh[pixel][c] = src[c][pixel] */
    cnn_k_ukr_active()->transpose(g->in_c, hp * wp, src, (ptrdiff_t)hp * wp, xh, g->in_c);
}

/* ---- the sums ------------------------------------------------------------
 * For one kernel row i and vectors [v0, v0+NV) of its run:
 *   d[v] += sum over q of g[q] * LOAD(xh + off[q] + (v0+v)*L)
 * the last vector of the run loaded under `tail` (its lanes past the run
 * are zero); accumulators a0..a7 in registers (those past NV removed). */
#define TERM(NV, v, a, FMA, LOAD, LOADT)                                                  \
    if (NV > v)                                                                          \
        a = FMA(gv, v == NV - 1 ? LOADT(src + v * L, tail) : LOAD(src + v * L), a)

#define DEF_BLOCK(P, NV, TARGET, V, MASK_T, LOAD, LOADT, STORE, FMA, SET1)               \
    static TARGET void block_##P##_##NV(int nq, const float *g, const int32_t *off,      \
                                        const float *xh, MASK_T tail, float *d)          \
    {                                                                                    \
        V a0 = LOAD(d), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;   \
        if (NV > 1) a1 = LOAD(d + 1 * L);                                                \
        if (NV > 2) a2 = LOAD(d + 2 * L);                                                \
        if (NV > 3) a3 = LOAD(d + 3 * L);                                                \
        if (NV > 4) a4 = LOAD(d + 4 * L);                                                \
        if (NV > 5) a5 = LOAD(d + 5 * L);                                                \
        if (NV > 6) a6 = LOAD(d + 6 * L);                                                \
        if (NV > 7) a7 = LOAD(d + 7 * L);                                                \
        for (int q = 0; q < nq; q++) {                                                   \
            const float *src = xh + off[q];                                              \
            const V gv = SET1(g[q]);                                                     \
            TERM(NV, 0, a0, FMA, LOAD, LOADT);                                                                 \
            TERM(NV, 1, a1, FMA, LOAD, LOADT);                                                                 \
            TERM(NV, 2, a2, FMA, LOAD, LOADT);                                                                 \
            TERM(NV, 3, a3, FMA, LOAD, LOADT);                                                                 \
            TERM(NV, 4, a4, FMA, LOAD, LOADT);                                                                 \
            TERM(NV, 5, a5, FMA, LOAD, LOADT);                                                                 \
            TERM(NV, 6, a6, FMA, LOAD, LOADT);                                                                 \
            TERM(NV, 7, a7, FMA, LOAD, LOADT);                                                                 \
        }                                                                                \
        const V acc[8] = {a0, a1, a2, a3, a4, a5, a6, a7};                               \
        for (int v = 0; v < NV; v++)                                                     \
            STORE(d + v * L, acc[v]);                                                    \
    }

/* One image: per kernel row i, per block of up to 8 vectors of the run,
 * each output channel's pooled terms in order.  off[o*nq + q] is the
 * channels-last offset of term (o, q)'s window at kernel row 0. */
#define DEF_ACCUM(P, TARGET, V, MASK_T, TAILMASK, LOAD, LOADT, STORE, FMA, SET1)         \
    DEF_BLOCK(P, 1, TARGET, V, MASK_T, LOAD, LOADT, STORE, FMA, SET1)                    \
    DEF_BLOCK(P, 2, TARGET, V, MASK_T, LOAD, LOADT, STORE, FMA, SET1)                    \
    DEF_BLOCK(P, 3, TARGET, V, MASK_T, LOAD, LOADT, STORE, FMA, SET1)                    \
    DEF_BLOCK(P, 4, TARGET, V, MASK_T, LOAD, LOADT, STORE, FMA, SET1)                    \
    DEF_BLOCK(P, 5, TARGET, V, MASK_T, LOAD, LOADT, STORE, FMA, SET1)                    \
    DEF_BLOCK(P, 6, TARGET, V, MASK_T, LOAD, LOADT, STORE, FMA, SET1)                    \
    DEF_BLOCK(P, 7, TARGET, V, MASK_T, LOAD, LOADT, STORE, FMA, SET1)                    \
    DEF_BLOCK(P, 8, TARGET, V, MASK_T, LOAD, LOADT, STORE, FMA, SET1)                    \
    static TARGET void accum_##P(const cnn_conv_geom *g, int nq, const float *gy,        \
                                 const int32_t *off, const float *xh, float *dwr)        \
    {                                                                                    \
        static void (*const blocks[9])(int, const float *, const int32_t *, const float *, \
                                       MASK_T, float *) = {                              \
            NULL, block_##P##_1, block_##P##_2, block_##P##_3, block_##P##_4,            \
            block_##P##_5, block_##P##_6, block_##P##_7, block_##P##_8};                 \
        const int run = (int)run_len(g), rpad = (int)run_pad(g), nvr = (run + L - 1) / L; \
        const size_t row_step = (size_t)padded_w(g) * g->in_c, per_o = (size_t)g->k_h * rpad; \
        for (int i = 0; i < g->k_h; i++)                                                 \
            for (int v0 = 0; v0 < nvr; v0 += 8) {                                        \
                const int nv = nvr - v0 < 8 ? nvr - v0 : 8;                              \
                const int left = run - (v0 + nv - 1) * L; /* floats in the last vector */ \
                const MASK_T tail = TAILMASK(left > L ? L : left);                       \
                const float *xi = xh + (size_t)i * row_step + (size_t)v0 * L;            \
                for (int o = 0; o < g->out_c; o++)                                       \
                    blocks[nv](nq, gy + (size_t)o * nq, off + (size_t)o * nq, xi, tail,  \
                               dwr + o * per_o + (size_t)i * rpad + (size_t)v0 * L);     \
            }                                                                            \
    }

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_POOLED_SIMD 1
#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#define T256 __attribute__((target("avx2,fma")))

#define L 16
#define TAIL512(n) ((__mmask16)((1u << (n)) - 1u))
#define LOADT512(p, m) _mm512_maskz_loadu_ps(m, p)
DEF_ACCUM(avx512, T512, __m512, __mmask16, TAIL512, _mm512_loadu_ps, LOADT512,
          _mm512_storeu_ps, _mm512_fmadd_ps, _mm512_set1_ps)
#undef L

#define L 8
static T256 __m256i tail_256(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
#define LOADT256(p, m) _mm256_maskload_ps(p, m)
DEF_ACCUM(avx2, T256, __m256, __m256i, tail_256, _mm256_loadu_ps, LOADT256, _mm256_storeu_ps,
          _mm256_fmadd_ps, _mm256_set1_ps)
#undef L
#endif

/* Portable: a multiply and an add per term, in the same order. */
static void accum_generic(const cnn_conv_geom *g, int nq, const float *gy, const int32_t *off,
                          const float *xh, float *dwr)
{
    const size_t run = run_len(g), rpad = run_pad(g), row_step = (size_t)padded_w(g) * g->in_c;
    for (int o = 0; o < g->out_c; o++)
        for (int i = 0; i < g->k_h; i++) {
            float *d = dwr + ((size_t)o * g->k_h + i) * rpad;
            for (int q = 0; q < nq; q++) {
                const float gv = gy[(size_t)o * nq + q];
                const float *src = xh + off[(size_t)o * nq + q] + (size_t)i * row_step;
                for (size_t e = 0; e < run; e++)
                    d[e] += gv * src[e];
            }
        }
}

void cnn_k_conv2d_pooled_bwd_weights(const cnn_conv_geom *g, const cnn_pool_geom *pg, int n,
                                     const float *x, const float *dyp, const int32_t *argmax,
                                     float *dw, float *scratch)
{
    const size_t x_img = (size_t)g->in_c * g->in_h * g->in_w, rpad = run_pad(g);
    const int per_o = pg->out_h * pg->out_w, nq = per_o * g->out_c;
    float *chw = scratch, *xh = chw + xh_floats(g), *dwr = xh + xh_floats(g);
    int32_t *off = (int32_t *)(dwr + (size_t)g->out_c * g->k_h * rpad);
    int32_t *pos_off = off + (size_t)g->out_c * g->out_h * g->out_w;
    const int isa = cnn_k_isa(), wp = padded_w(g);
    memset(dwr, 0, (size_t)g->out_c * g->k_h * rpad * sizeof *dwr);
    /* conv output position (oy, ox) reads kernel row 0 of its inputs from
     * xh[oy*s_h][ox*s_w][0] */
    for (int oy = 0; oy < g->out_h; oy++)
        for (int ox = 0; ox < g->out_w; ox++)
            pos_off[oy * g->out_w + ox] =
                (int32_t)(((size_t)oy * g->stride_h * wp + (size_t)ox * g->stride_w) * g->in_c);
    for (int i = 0; i < n; i++) {
        to_channels_last(g, x + (size_t)i * x_img, chw, xh);
        /* term (o, q): its window's maximum is at conv output argmax */
        const int32_t *ai = argmax + (size_t)i * nq;
        for (int t = 0; t < nq; t++)
            off[t] = pos_off[ai[t]];
        const float *gi = dyp + (size_t)i * nq;
#if HAVE_POOLED_SIMD
        if (isa >= CNN_K_ISA_AVX512) {
            accum_avx512(g, per_o, gi, off, xh, dwr);
            continue;
        }
        if (isa >= CNN_K_ISA_AVX2) {
            accum_avx2(g, per_o, gi, off, xh, dwr);
            continue;
        }
#endif
        accum_generic(g, per_o, gi, off, xh, dwr);
    }
    (void)isa;
    /* dw[o][c][i][j] = dwr[o][i][j*in_c + c] */
    for (int o = 0; o < g->out_c; o++)
        for (int c = 0; c < g->in_c; c++)
            for (int i = 0; i < g->k_h; i++)
                for (int j = 0; j < g->k_w; j++)
                    dw[(((size_t)o * g->in_c + c) * g->k_h + i) * g->k_w + j] =
                        dwr[((size_t)o * g->k_h + i) * rpad + (size_t)j * g->in_c + c];
}
