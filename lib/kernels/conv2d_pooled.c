/* The gradients of a convolution followed by MAX pooling whose windows do
 * not overlap (stride = window), summed over the windows' maxima instead
 * of every conv output.
 *
 * Backward through such pooling leaves the conv output's gradient equal to
 * the pooled gradient at each window's argmax and zero everywhere else: one
 * nonzero term per window, a 1/area of the dense sums' multiply-adds (a
 * quarter for 2x2 windows), and no unpooled gradient to write or read.
 *
 * Both gradients work on runs: for kernel row i, the k_w*in_c inputs
 * (j, c) of one output position, contiguous in a channels-last image
 * xh[y][x][c] (each run padded to whole vectors, rpad floats):
 *
 * - weights: dW[o][i][run] = sum over images, then pooled outputs q (in
 *   order), of dyp[o][q] * (the run of row i at o's argmax for q), read
 *   straight from a channels-last copy of the image in L1 (W2's conv 2:
 *   11.5 KiB); every lane used whatever the channel count (the dense form
 *   by channels fills 40 of 48 lanes there).
 * - data (stride 1): for each conv output position p, the runs
 *   dcolT[p][i] = sum over the channels o whose window maximum is p (o
 *   ascending) of dyp[o][q] * W[o][i][run] (the weights reordered to runs
 *   once per call); then each input pixel's channels are the sum, over
 *   (i, j) ascending, of the dcolT pieces that reach it, and the
 *   channels-last result is transposed into dx.
 *
 * Both are sums of "g times a vector at an offset" over a list of terms
 * (run_block below), so one set of SIMD kernels serves them; each element
 * is a sum in a fixed order, one fused multiply-add per term on the SIMD
 * paths and a multiply and an add on the portable one: deterministic on a
 * path, paths differing by rounding (and the dense forms' order differs
 * too). */
#include "kernels/kernels.h"
#include "kernels/ukr.h"

#include <stdint.h>
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

static size_t xh_floats(const cnn_conv_geom *g)
{
    return (size_t)g->in_c * padded_h(g) * padded_w(g);
}

bool cnn_k_conv2d_pooled_bwd_weights_ok(const cnn_conv_geom *g, const cnn_pool_geom *pg)
{
    /* windows that tile without overlap, of 2 or more outputs (a 1x1
     * window leaves nothing to skip), and runs long enough to fill vectors */
    const size_t p = (size_t)g->out_h * g->out_w;
    return pg->stride_h == pg->win_h && pg->stride_w == pg->win_w &&
           pg->win_h * pg->win_w >= 2 && pg->in_h == g->out_h && pg->in_w == g->out_w &&
           pg->c == g->out_c && run_len(g) >= POOLED_MIN_RUN &&
           /* the term offsets are int32: into the padded image and dcolT */
           xh_floats(g) <= INT32_MAX && p * g->k_h * run_pad(g) <= INT32_MAX;
}

/* Floats of: the padded CHW image, its channels-last copy, dW in run order
 * (out_c x k_h x run_pad), the per-term offsets of one image and the offset
 * of each conv output position (int32, counted as floats: same size). */
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
        cnn_k_conv2d_pad_image(g, x, chw);
        src = chw;
    }
    if (g->in_c == 1) {
        memcpy(xh, src, xh_floats(g) * sizeof *xh);
        return;
    }
    /* xh[pixel][c] = src[c][pixel] */
    cnn_k_ukr_active()->transpose(g->in_c, hp * wp, src, (ptrdiff_t)hp * wp, xh, g->in_c);
}

/* ---- run sums -----------------------------------------------------------
 * One call of a path's block[NV]:
 *   d[e] += sum over t < nt (in order) of g[t] * src[off[t] + e]
 * for e < (NV-1)*L + left (the last vector's lanes past `left` load as
 * zero), NV vectors of the path's L lanes in registers.  d must have room
 * for NV whole vectors, and its lanes past `left` stay as they were plus
 * zero.  Callers order their blocks as they like; the terms of one element
 * are always summed in list order, so results are deterministic. */
typedef void (*run_block_fn)(int nt, const float *g, const int32_t *off, const float *src,
                             int left, bool fresh, float *d);

typedef struct run_kernels {
    int lanes;
    run_block_fn block[9]; /* block[NV], 1 <= NV <= 8 */
} run_kernels;

#define TERM(NV, v, a, FMA, LOAD, LOADT)                                                  \
    if (NV > v)                                                                          \
        a = FMA(gv, v == NV - 1 ? LOADT(p + v * L, tail) : LOAD(p + v * L), a)

#define DEF_BLOCK(P, NV, TARGET, V, MASK_T, TAILMASK, LOAD, LOADT, STORE, FMA, SET1, ZERO)     \
    static TARGET void block_##P##_##NV(int nt, const float *g, const int32_t *off,      \
                                        const float *src, int left, bool fresh, float *d) \
    {                                                                                    \
        const MASK_T tail = TAILMASK(left);                                              \
        V a0 = ZERO(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;    \
        if (!fresh) {                                                                    \
            a0 = LOAD(d);                                                                \
            if (NV > 1) a1 = LOAD(d + 1 * L);                                            \
            if (NV > 2) a2 = LOAD(d + 2 * L);                                            \
            if (NV > 3) a3 = LOAD(d + 3 * L);                                            \
            if (NV > 4) a4 = LOAD(d + 4 * L);                                            \
            if (NV > 5) a5 = LOAD(d + 5 * L);                                            \
            if (NV > 6) a6 = LOAD(d + 6 * L);                                            \
            if (NV > 7) a7 = LOAD(d + 7 * L);                                            \
        }                                                                                \
        for (int t = 0; t < nt; t++) {                                                   \
            const float *p = src + off[t];                                               \
            const V gv = SET1(g[t]);                                                     \
            TERM(NV, 0, a0, FMA, LOAD, LOADT);                                           \
            TERM(NV, 1, a1, FMA, LOAD, LOADT);                                           \
            TERM(NV, 2, a2, FMA, LOAD, LOADT);                                           \
            TERM(NV, 3, a3, FMA, LOAD, LOADT);                                           \
            TERM(NV, 4, a4, FMA, LOAD, LOADT);                                           \
            TERM(NV, 5, a5, FMA, LOAD, LOADT);                                           \
            TERM(NV, 6, a6, FMA, LOAD, LOADT);                                           \
            TERM(NV, 7, a7, FMA, LOAD, LOADT);                                           \
        }                                                                                \
        const V acc[8] = {a0, a1, a2, a3, a4, a5, a6, a7};                               \
        for (int v = 0; v < NV; v++)                                                     \
            STORE(d + v * L, acc[v]);                                                    \
    }

#define DEF_KERNELS(P, TARGET, V, MASK_T, TAILMASK, LOAD, LOADT, STORE, FMA, SET1, ZERO)       \
    DEF_BLOCK(P, 1, TARGET, V, MASK_T, TAILMASK, LOAD, LOADT, STORE, FMA, SET1, ZERO)    \
    DEF_BLOCK(P, 2, TARGET, V, MASK_T, TAILMASK, LOAD, LOADT, STORE, FMA, SET1, ZERO)    \
    DEF_BLOCK(P, 3, TARGET, V, MASK_T, TAILMASK, LOAD, LOADT, STORE, FMA, SET1, ZERO)    \
    DEF_BLOCK(P, 4, TARGET, V, MASK_T, TAILMASK, LOAD, LOADT, STORE, FMA, SET1, ZERO)    \
    DEF_BLOCK(P, 5, TARGET, V, MASK_T, TAILMASK, LOAD, LOADT, STORE, FMA, SET1, ZERO)    \
    DEF_BLOCK(P, 6, TARGET, V, MASK_T, TAILMASK, LOAD, LOADT, STORE, FMA, SET1, ZERO)    \
    DEF_BLOCK(P, 7, TARGET, V, MASK_T, TAILMASK, LOAD, LOADT, STORE, FMA, SET1, ZERO)    \
    DEF_BLOCK(P, 8, TARGET, V, MASK_T, TAILMASK, LOAD, LOADT, STORE, FMA, SET1, ZERO)    \
    static const run_kernels kernels_##P = {                                             \
        L, {NULL, block_##P##_1, block_##P##_2, block_##P##_3, block_##P##_4,            \
            block_##P##_5, block_##P##_6, block_##P##_7, block_##P##_8}};

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_POOLED_SIMD 1
#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#define T256 __attribute__((target("avx2,fma")))

#define L 16
#define TAIL512(n) ((__mmask16)((1u << (n)) - 1u))
#define LOADT512(p, m) _mm512_maskz_loadu_ps(m, p)
DEF_KERNELS(avx512, T512, __m512, __mmask16, TAIL512, _mm512_loadu_ps, LOADT512,
            _mm512_storeu_ps, _mm512_fmadd_ps, _mm512_set1_ps, _mm512_setzero_ps)
#undef L

#define L 8
static T256 __m256i tail_256(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
#define LOADT256(p, m) _mm256_maskload_ps(p, m)
DEF_KERNELS(avx2, T256, __m256, __m256i, tail_256, _mm256_loadu_ps, LOADT256,
            _mm256_storeu_ps, _mm256_fmadd_ps, _mm256_set1_ps, _mm256_setzero_ps)
#undef L
#endif

/* Portable: a multiply and an add per term, in the same order, on 8-float
 * "vectors" in memory. */
#define GENERIC_LANES 8
#define DEF_GENERIC(NV)                                                                  \
    static void block_generic_##NV(int nt, const float *g, const int32_t *off,           \
                                   const float *src, int left, bool fresh, float *d)     \
    {                                                                                    \
        const int count = (NV - 1) * GENERIC_LANES + left;                               \
        for (int e = 0; fresh && e < NV * GENERIC_LANES; e++)                            \
            d[e] = 0.0f;                                                                 \
        for (int t = 0; t < nt; t++) {                                                   \
            const float gv = g[t], *p = src + off[t];                                    \
            for (int e = 0; e < count; e++)                                              \
                d[e] += gv * p[e];                                                       \
        }                                                                                \
    }
DEF_GENERIC(1)
DEF_GENERIC(2)
DEF_GENERIC(3)
DEF_GENERIC(4)
DEF_GENERIC(5)
DEF_GENERIC(6)
DEF_GENERIC(7)
DEF_GENERIC(8)
static const run_kernels kernels_generic = {
    GENERIC_LANES, {NULL, block_generic_1, block_generic_2, block_generic_3, block_generic_4,
                    block_generic_5, block_generic_6, block_generic_7, block_generic_8}};

static const run_kernels *active_kernels(void)
{
#if HAVE_POOLED_SIMD
    if (cnn_k_isa() >= CNN_K_ISA_AVX512)
        return &kernels_avx512;
    if (cnn_k_isa() >= CNN_K_ISA_AVX2)
        return &kernels_avx2;
#endif
    return &kernels_generic;
}

/* d[e] (+)= sum over t of g[t] * src[off[t] + e] for e < len, as blocks of
 * up to 8 vectors (d has room for len rounded up to whole vectors); fresh:
 * the sums start from zero and d is only written. */
static void run_sums(const run_kernels *k, int nt, const float *g, const int32_t *off,
                     const float *src, int len, bool fresh, float *d)
{
    const int lanes = k->lanes, nvr = (len + lanes - 1) / lanes;
    for (int v0 = 0; v0 < nvr; v0 += 8) {
        const int nv = nvr - v0 < 8 ? nvr - v0 : 8;
        const int left = len - (v0 + nv - 1) * lanes;
        k->block[nv](nt, g, off, src + (size_t)v0 * lanes, left > lanes ? lanes : left, fresh,
                     d + (size_t)v0 * lanes);
    }
}

/* ---- weights in run order ------------------------------------------------
 * runs[o][i][j*in_c + c] (rows of run_pad floats per i) <-> w[o][c][i][j];
 * the inner loops walk pointers (an index product per element cost more
 * than the copy). */
static void runs_to_weights(const cnn_conv_geom *g, const float *runs, float *w)
{
    const size_t rpad = run_pad(g), kk = (size_t)g->k_h * g->k_w;
    for (int o = 0; o < g->out_c; o++)
        for (int i = 0; i < g->k_h; i++) {
            const float *src = runs + ((size_t)o * g->k_h + i) * rpad;
            float *dst = w + (size_t)o * g->in_c * kk + (size_t)i * g->k_w;
            for (int j = 0; j < g->k_w; j++, dst++)
                for (int c = 0; c < g->in_c; c++)
                    dst[(size_t)c * kk] = *src++;
        }
}

static void weights_to_runs(const cnn_conv_geom *g, const float *w, float *runs)
{
    const size_t rpad = run_pad(g), kk = (size_t)g->k_h * g->k_w, run = run_len(g);
    for (int o = 0; o < g->out_c; o++)
        for (int i = 0; i < g->k_h; i++) {
            float *dst = runs + ((size_t)o * g->k_h + i) * rpad;
            const float *src = w + (size_t)o * g->in_c * kk + (size_t)i * g->k_w;
            for (int j = 0; j < g->k_w; j++, src++)
                for (int c = 0; c < g->in_c; c++)
                    *dst++ = src[(size_t)c * kk];
            for (size_t e = run; e < rpad; e++)
                *dst++ = 0.0f;
        }
}

/* ---- weights -------------------------------------------------------------- */

void cnn_k_conv2d_pooled_bwd_weights(const cnn_conv_geom *g, const cnn_pool_geom *pg, int n,
                                     const float *x, const float *dyp, const int32_t *argmax,
                                     float *dw, float *scratch)
{
    const size_t x_img = (size_t)g->in_c * g->in_h * g->in_w, rpad = run_pad(g);
    const int per_o = pg->out_h * pg->out_w, nq = per_o * g->out_c, run = (int)run_len(g);
    const size_t row_step = (size_t)padded_w(g) * g->in_c;
    float *chw = scratch, *xh = chw + xh_floats(g), *dwr = xh + xh_floats(g);
    int32_t *off = (int32_t *)(dwr + (size_t)g->out_c * g->k_h * rpad);
    int32_t *pos_off = off + (size_t)g->out_c * g->out_h * g->out_w;
    const int wp = padded_w(g);
    const run_kernels *k = active_kernels();
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
        for (int r = 0; r < g->k_h; r++)
            for (int o = 0; o < g->out_c; o++)
                run_sums(k, per_o, gi + (size_t)o * per_o, off + (size_t)o * per_o,
                         xh + (size_t)r * row_step, run, false,
                         dwr + ((size_t)o * g->k_h + r) * rpad);
    }
    runs_to_weights(g, dwr, dw);
}

/* ---- data ----------------------------------------------------------------- */

bool cnn_k_conv2d_pooled_bwd_data_ok(const cnn_conv_geom *g, const cnn_pool_geom *pg)
{
    return cnn_k_conv2d_pooled_bwd_weights_ok(g, pg) && g->stride_h == 1 && g->stride_w == 1;
}

/* Channels of one pixel of the channels-last dx, padded to whole vectors. */
static size_t cpad_of(const cnn_conv_geom *g)
{
    return ((size_t)g->in_c + RUN_LANES - 1) / RUN_LANES * RUN_LANES;
}

/* The scratch of bwd_data, in order: W in runs (out_c x k_h x rpad), dcolT
 * (P x k_h*rpad), dx channels-last (pixels x cpad), ones (k_h*k_w), then
 * int32s (counted as floats): the terms of one image by position (g as
 * floats, and offsets: 2 x out_c*P), the position starts (P + 1), and each
 * pixel's dcolT pieces (starts: pixels + 1, offsets: P*k_h*k_w). */
size_t cnn_k_conv2d_pooled_bwd_data_scratch_floats(const cnn_conv_geom *g)
{
    const size_t p = (size_t)g->out_h * g->out_w, kk = (size_t)g->k_h * g->k_w;
    const size_t pix = (size_t)g->in_h * g->in_w, ldt = (size_t)g->k_h * run_pad(g);
    return (size_t)g->out_c * ldt + p * ldt + pix * cpad_of(g) + kk + 2 * (size_t)g->out_c * p +
           (p + 1) + (pix + 1) + p * kk;
}

void cnn_k_conv2d_pooled_bwd_data(const cnn_conv_geom *g, const cnn_pool_geom *pg, int n,
                                  const float *dyp, const int32_t *argmax, const float *w,
                                  float *dx, float *scratch)
{
    const size_t rpad = run_pad(g), ldt = (size_t)g->k_h * rpad, cpad = cpad_of(g);
    const int p = g->out_h * g->out_w, kk = g->k_h * g->k_w, pix = g->in_h * g->in_w;
    const int per_o = pg->out_h * pg->out_w, nq = per_o * g->out_c, run = (int)run_len(g);
    float *wr = scratch, *dcolt = wr + (size_t)g->out_c * ldt, *dxh = dcolt + (size_t)p * ldt;
    float *ones = dxh + (size_t)pix * cpad, *tg = ones + kk;
    int32_t *toff = (int32_t *)(tg + nq), *pstart = toff + nq, *xstart = pstart + p + 1;
    int32_t *xoff = xstart + pix + 1;
    const run_kernels *k = active_kernels();
    weights_to_runs(g, w, wr);
    /* Each input pixel's pieces: (i, j) ascending, the dcolT run piece of
     * position (y + p_h - i, x + p_w - j) where that position exists. */
    int at = 0;
    for (int y = 0; y < g->in_h; y++)
        for (int x = 0; x < g->in_w; x++) {
            xstart[y * g->in_w + x] = at;
            for (int i = 0; i < g->k_h; i++) {
                const int oy = y + g->pad_h - i;
                if (oy < 0 || oy >= g->out_h)
                    continue;
                for (int j = 0; j < g->k_w; j++) {
                    const int ox = x + g->pad_w - j;
                    if (ox >= 0 && ox < g->out_w)
                        xoff[at++] = (int32_t)((size_t)(oy * g->out_w + ox) * ldt +
                                               (size_t)i * rpad + (size_t)j * g->in_c);
                }
            }
        }
    xstart[pix] = at;
    for (int e = 0; e < kk; e++)
        ones[e] = 1.0f; /* 1 * v + a is v + a, exactly */
    for (int img = 0; img < n; img++) {
        const float *gi = dyp + (size_t)img * nq;
        const int32_t *ai = argmax + (size_t)img * nq;
        /* the terms by position, o ascending within each */
        memset(pstart, 0, (size_t)(p + 1) * sizeof *pstart);
        for (int t = 0; t < nq; t++)
            pstart[ai[t] + 1]++;
        for (int q = 0; q < p; q++)
            pstart[q + 1] += pstart[q];
        for (int o = 0, t = 0; o < g->out_c; o++) /* o ascending */
            for (int q = 0; q < per_o; q++, t++) {
                const int32_t slot = pstart[ai[t]]++;
                tg[slot] = gi[t];
                toff[slot] = (int32_t)((size_t)o * ldt);
            }
        for (int q = p; q > 0; q--) /* back to the starts */
            pstart[q] = pstart[q - 1];
        pstart[0] = 0;
        for (int q = 0; q < p; q++) {
            const int s0 = pstart[q], cnt = pstart[q + 1] - s0;
            for (int i = 0; i < g->k_h; i++) /* (cnt 0: zeros) */
                run_sums(k, cnt, tg + s0, toff + s0, wr + (size_t)i * rpad, run, true,
                         dcolt + (size_t)q * ldt + (size_t)i * rpad);
        }
        for (int e = 0; e < pix; e++)
            run_sums(k, xstart[e + 1] - xstart[e], ones, xoff + xstart[e], dcolt, g->in_c, true,
                     dxh + (size_t)e * cpad);
        /* dx[c][pixel] = dxh[pixel][c] */
        cnn_k_ukr_active()->transpose(pix, g->in_c, dxh, (ptrdiff_t)cpad,
                                      dx + (size_t)img * g->in_c * pix, pix);
    }
}
