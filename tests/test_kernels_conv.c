/* im2col, col2im and the convolution kernels against naive loops written
 * straight from the definitions, in double, over a table of geometries
 * (odd sizes, stride > 1, padding, non-square kernels, 1x1 kernels) and
 * batches of 1 and 7.
 *
 * Every convolution test runs each implementation (the dispatcher, the
 * im2col + BLAS path, libcnn's own kernels, and both orientations of their
 * forward pass) on every ISA path this CPU has, switching with
 * cnn_k_isa_set; a path the CPU lacks is printed as skipped. */
#include "testutil.h"

#include "kernels/kernels.h"
#include "kernels/ukr.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tolerance.  Every output is a float sum of up to a few thousand products
 * (bwd_weights with n = 7 on a 24x24 output sums 4032).  We compare
 * |got - want| with RTOL * sum|terms|, which does not suffer when the sum
 * cancels.  Rounding errors of a float sum of T terms behave like a random
 * walk, about sqrt(T) * 2^-24 ~ 4e-6 relative for T = 4032 (and BLAS sums in
 * blocks, which is better still), so 1e-4 has a wide margin; an indexing
 * mistake gives errors of order 1. */
#define RTOL 1e-4

typedef struct geom_case {
    int in_c, in_h, in_w, out_c, k_h, k_w, s_h, s_w, p_h, p_w;
} geom_case;

static const geom_case cases[] = {
    {1, 5, 5, 1, 3, 3, 1, 1, 0, 0},     /* plain 3x3 */
    {3, 9, 7, 4, 2, 3, 2, 1, 1, 0},     /* non-square kernel, stride and pad in one axis */
    {2, 8, 8, 3, 3, 3, 2, 2, 1, 1},     /* stride 2, pad 1 */
    {1, 28, 28, 20, 5, 5, 1, 1, 0, 0},  /* network3 layer 1 */
    {20, 12, 12, 40, 5, 5, 1, 1, 0, 0}, /* network3 layer 2 (K = 500) */
    {2, 7, 6, 3, 1, 1, 1, 1, 0, 0},     /* 1x1, stride 1: im2col skipped */
    {3, 6, 5, 2, 1, 1, 2, 2, 0, 0},     /* 1x1 with stride: im2col needed */
    {2, 5, 4, 2, 5, 4, 1, 1, 0, 0},     /* kernel covers the image: 1x1 output */
    {2, 4, 5, 3, 3, 2, 3, 2, 2, 1},     /* stride 3 does not tile the padded input */
    {1, 3, 3, 2, 2, 2, 1, 1, 2, 2},     /* pad >= kernel: some windows all padding */
    {2, 6, 9, 2, 1, 3, 1, 3, 0, 1},     /* 1x3 kernel, stride 3 across */
    {4, 12, 12, 4, 5, 5, 1, 1, 0, 0},   /* batch 7 splits into chunks of 4 + 3 images */
    {3, 10, 11, 5, 3, 3, 1, 2, 1, 1},   /* padded, strided, several images per chunk */
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

static cnn_conv_geom make_geom(const geom_case *c)
{
    cnn_conv_geom g = {0};
    g.in_c = c->in_c;
    g.in_h = c->in_h;
    g.in_w = c->in_w;
    g.out_c = c->out_c;
    g.k_h = c->k_h;
    g.k_w = c->k_w;
    g.stride_h = c->s_h;
    g.stride_w = c->s_w;
    g.pad_h = c->p_h;
    g.pad_w = c->p_w;
    g.out_h = (c->in_h + 2 * c->p_h - c->k_h) / c->s_h + 1;
    g.out_w = (c->in_w + 2 * c->p_w - c->k_w) / c->s_w + 1;
    return g;
}

static float *xalloc(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    return p;
}

static double *dalloc(size_t n)
{
    double *p = calloc(n ? n : 1, sizeof *p);
    ck_assert_ptr_nonnull(p);
    return p;
}

static float *random_floats(test_rng *r, size_t n)
{
    float *p = xalloc(n);
    test_fill_uniform(r, p, n, -1.0f, 1.0f);
    return p;
}

/* Fills with NaN: a "write" output must not depend on what was there. */
static float *nan_floats(size_t n)
{
    float *p = xalloc(n);
    for (size_t i = 0; i < n; i++)
        p[i] = NAN;
    return p;
}

static void check_close(const char *what, int gi, int n, const float *got, const double *want,
                        const double *mag, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        double err = fabs((double)got[i] - want[i]);
        ck_assert_msg(err <= RTOL * mag[i] + 1e-30,
                      "%s, case %d, n=%d: element %zu = %.9g, want %.9g (sum|terms| %.3g)",
                      what, gi, n, i, (double)got[i], want[i], mag[i]);
    }
}

/* Sizes of one image in, one image out, and the weights. */
static size_t x_img(const cnn_conv_geom *g) { return (size_t)g->in_c * g->in_h * g->in_w; }
static size_t y_img(const cnn_conv_geom *g) { return (size_t)g->out_c * g->out_h * g->out_w; }
static size_t w_size(const cnn_conv_geom *g) { return (size_t)g->out_c * g->in_c * g->k_h * g->k_w; }

/* x[c][iy][ix] or 0 outside the image. */
static double pix(const cnn_conv_geom *g, const float *x, int c, int iy, int ix)
{
    if (iy < 0 || iy >= g->in_h || ix < 0 || ix >= g->in_w)
        return 0.0;
    return x[((size_t)c * g->in_h + iy) * g->in_w + ix];
}

/* ---- implementations and ISA paths ---------------------------------------- */

enum { IMPL_DISPATCH, IMPL_GEMM, IMPL_DIRECT, IMPL_DIRECT_POSITIONS, IMPL_DIRECT_CHANNELS,
       IMPL_COUNT };
static const char *const impl_names[IMPL_COUNT] = {"dispatch", "gemm", "direct",
                                                   "direct by positions", "direct by channels"};

/* The ISA paths, lowest first; each test runs those up to the CPU's best. */
static const int isas[] = {CNN_K_ISA_GENERIC, CNN_K_ISA_AVX2, CNN_K_ISA_AVX512};
#define NISAS ((int)(sizeof isas / sizeof isas[0]))

static bool isa_runs(int isa)
{
    return isa <= cnn_k_isa_best();
}

/* Prints each path the CPU lacks once per process. */
static void report_skipped_isas(void)
{
    static bool done = false;
    if (done)
        return;
    done = true;
    for (int k = 0; k < NISAS; k++)
        if (!isa_runs(isas[k]))
            printf("test_kernels_conv: %s path SKIPPED (this CPU lacks it)\n",
                   cnn_k_isa_name(isas[k]));
}

static void conv_fwd_impl(int impl, const cnn_conv_geom *g, int n, const float *x,
                          const float *w, const float *b, float *y, float *scratch)
{
    switch (impl) {
    case IMPL_GEMM: cnn_k_conv2d_gemm_fwd(g, n, x, w, b, y, scratch); break;
    case IMPL_DIRECT: cnn_k_conv2d_direct_fwd(g, n, x, w, b, y, scratch); break;
    case IMPL_DIRECT_POSITIONS: cnn_k_conv2d_direct_fwd_as(g, n, x, w, b, y, scratch, false); break;
    case IMPL_DIRECT_CHANNELS: cnn_k_conv2d_direct_fwd_as(g, n, x, w, b, y, scratch, true); break;
    default: cnn_k_conv2d_fwd(g, n, x, w, b, y, scratch); break;
    }
}

/* The backward passes have one direct form each: the last two rows of the
 * forward's table map to the plain direct kernels. */
static void conv_bwd_data_impl(int impl, const cnn_conv_geom *g, int n, const float *dy,
                               const float *w, float *dx, float *scratch)
{
    if (impl == IMPL_GEMM)
        cnn_k_conv2d_gemm_bwd_data(g, n, dy, w, dx, scratch);
    else if (impl == IMPL_DISPATCH)
        cnn_k_conv2d_bwd_data(g, n, dy, w, dx, scratch);
    else
        cnn_k_conv2d_direct_bwd_data(g, n, dy, w, dx, scratch);
}

/* For bwd_weights the last two rows are its two direct forms. */
static const char *const bwdw_impl_names[IMPL_COUNT] = {"dispatch", "gemm", "direct",
                                                        "direct by dot products",
                                                        "direct by channels"};

static void conv_bwd_weights_impl(int impl, const cnn_conv_geom *g, int n, const float *x,
                                  const float *dy, float *dw, float *db, float *scratch)
{
    if (impl == IMPL_DISPATCH) {
        cnn_k_conv2d_bwd_weights(g, n, x, dy, dw, db, scratch);
        return;
    }
    if (impl == IMPL_GEMM)
        cnn_k_conv2d_gemm_bwd_weights(g, n, x, dy, dw, scratch);
    else if (impl == IMPL_DIRECT)
        cnn_k_conv2d_direct_bwd_weights(g, n, x, dy, dw, scratch);
    else
        cnn_k_conv2d_direct_bwd_weights_as(g, n, x, dy, dw, scratch,
                                           impl == IMPL_DIRECT_POSITIONS);
    if (db)
        cnn_k_bias_grad(n, g->out_c, (size_t)g->out_h * g->out_w, dy, db);
}

/* ---- im2col / col2im ------------------------------------------------------ */

START_TEST(test_im2col)
{
    cnn_conv_geom g = make_geom(&cases[_i]);
    test_rng r;
    test_rng_seed(&r, 100 + (unsigned)_i);
    const size_t rows = cnn_k_im2col_rows(&g), cols = cnn_k_im2col_cols(&g);
    ck_assert_uint_eq(rows, (size_t)g.in_c * g.k_h * g.k_w);
    ck_assert_uint_eq(cols, (size_t)g.out_h * g.out_w);
    float *x = random_floats(&r, x_img(&g));
    float *col = nan_floats(rows * cols);
    cnn_k_im2col(&g, x, col);
    for (int c = 0; c < g.in_c; c++)
        for (int i = 0; i < g.k_h; i++)
            for (int j = 0; j < g.k_w; j++)
                for (int oy = 0; oy < g.out_h; oy++)
                    for (int ox = 0; ox < g.out_w; ox++) {
                        size_t row = ((size_t)c * g.k_h + i) * g.k_w + j;
                        float got = col[row * cols + (size_t)oy * g.out_w + ox];
                        double want = pix(&g, x, c, oy * g.stride_h + i - g.pad_h,
                                          ox * g.stride_w + j - g.pad_w);
                        /* a copy: exact */
                        ck_assert_msg((double)got == want, "case %d: col[%zu][%d,%d] = %g, want %g",
                                      _i, row, oy, ox, (double)got, want);
                    }
    free(x);
    free(col);
}
END_TEST

START_TEST(test_col2im)
{
    cnn_conv_geom g = make_geom(&cases[_i]);
    test_rng r;
    test_rng_seed(&r, 200 + (unsigned)_i);
    const size_t rows = cnn_k_im2col_rows(&g), cols = cnn_k_im2col_cols(&g);
    float *col = random_floats(&r, rows * cols);
    float *dx = random_floats(&r, x_img(&g)); /* col2im accumulates onto this */
    double *want = dalloc(x_img(&g)), *mag = dalloc(x_img(&g));
    for (size_t i = 0; i < x_img(&g); i++) {
        want[i] = dx[i];
        mag[i] = fabs(dx[i]);
    }
    /* naive scatter: the transpose of im2col */
    for (int c = 0; c < g.in_c; c++)
        for (int i = 0; i < g.k_h; i++)
            for (int j = 0; j < g.k_w; j++)
                for (int oy = 0; oy < g.out_h; oy++)
                    for (int ox = 0; ox < g.out_w; ox++) {
                        int iy = oy * g.stride_h + i - g.pad_h, ix = ox * g.stride_w + j - g.pad_w;
                        if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w)
                            continue;
                        size_t row = ((size_t)c * g.k_h + i) * g.k_w + j;
                        double v = col[row * cols + (size_t)oy * g.out_w + ox];
                        size_t at = ((size_t)c * g.in_h + iy) * g.in_w + ix;
                        want[at] += v;
                        mag[at] += fabs(v);
                    }
    cnn_k_col2im(&g, col, dx);
    check_close("col2im", _i, 1, dx, want, mag, x_img(&g));
    free(col);
    free(dx);
    free(want);
    free(mag);
}
END_TEST

/* col2im by rows (the SIMD paths at stride 1) against zeroing dx and the
 * scatter form: bit for bit, on every path the CPU has, with col rows
 * wider than the positions (ldc), special values among the terms (NaN,
 * infinities, signed zeros: a wrong lane mask or order shows in the bits;
 * only a NaN's payload may differ)
 * and, besides the table, geometries wider than one vector and channel
 * counts that exercise every channel group (8, 4 and single). */
static const geom_case rows_cases[] = {
    {13, 9, 30, 1, 3, 3, 1, 1, 1, 1},  /* 30 wide: two AVX-512 vectors, four AVX2 */
    {5, 6, 17, 1, 2, 4, 1, 1, 0, 3},   /* pad_w > k_w - 1: edge terms masked off */
    {9, 4, 40, 1, 1, 7, 1, 1, 0, 0},   /* one kernel row, long rows */
    {2, 2, 70, 1, 1, 65, 1, 1, 0, 0},  /* wider than the row form takes: scatter form */
    {2, 3, 9, 1, 1, 3, 1, 1, 0, 8},    /* pad_w 8 > k_w: every term masked at one edge or the other */
};
#define NROWS_CASES ((int)(sizeof rows_cases / sizeof rows_cases[0]))

START_TEST(test_col2im_rows)
{
    const geom_case *gc = _i < NCASES ? &cases[_i] : &rows_cases[_i - NCASES];
    cnn_conv_geom g = make_geom(gc);
    test_rng r;
    test_rng_seed(&r, 250 + (unsigned)_i);
    const size_t rows = cnn_k_im2col_rows(&g), cols = cnn_k_im2col_cols(&g), ldc = cols + 5;
    float *col = random_floats(&r, rows * ldc);
    static const float special[] = {NAN, INFINITY, -INFINITY, -0.0f, 0.0f};
    for (size_t k = 0; k < rows * ldc; k += 7)
        col[k] = special[(k / 7) % 5];
    float *want = xalloc(x_img(&g)), *got = xalloc(x_img(&g));
    bool ran = false;
    for (int k = 0; k < NISAS && isa_runs(isas[k]); k++) {
        ck_assert(cnn_k_isa_set(isas[k]));
        memset(want, 0, x_img(&g) * sizeof *want);
        cnn_k_col2im_ld(&g, col, want, ldc);
        for (size_t e = 0; e < x_img(&g); e++)
            got[e] = NAN;
        const bool done = cnn_k_col2im_rows_ok(&g);
        /* offered exactly where promised: stride 1, kernels up to 64
         * columns, on a SIMD path */
        ck_assert_int_eq(done, g.stride_h == 1 && g.stride_w == 1 && g.k_w <= 64 &&
                                   isas[k] != CNN_K_ISA_GENERIC);
        if (!done)
            continue;
        /* in two slabs of channels, as the backward pass calls it */
        const int half = g.in_c / 2;
        const size_t half_rows = (size_t)half * g.k_h * g.k_w;
        cnn_k_col2im_rows(&g, 0, half, col, got, ldc);
        cnn_k_col2im_rows(&g, half, g.in_c, col + half_rows * ldc, got, ldc);
        ran = true;
        /* the same bits, except that which NaN (payload, sign) a sum of
         * NaNs keeps depends on the operand order the compiler picks */
        for (size_t e = 0; e < x_img(&g); e++)
            ck_assert_msg(memcmp(&got[e], &want[e], sizeof *got) == 0 ||
                              (isnan(got[e]) && isnan(want[e])),
                          "case %d on %s: dx[%zu] = %a by rows, %a by the scatter form", _i,
                          cnn_k_isa_name(isas[k]), e, (double)got[e], (double)want[e]);
    }
    ck_assert(cnn_k_isa_set(-1));
    if (!ran && g.stride_h == 1 && g.stride_w == 1 && g.k_w <= 64)
        printf("test_col2im_rows case %d: no SIMD path on this CPU, SKIPPED\n", _i);
    free(col);
    free(want);
    free(got);
}
END_TEST

/* The weight and (stride 1) data gradients through non-overlapping MAX
 * pooling, summed over the windows' maxima only (conv2d_pooled.c), against
 * the dense sums of the unpooled gradient in double, on every path the CPU
 * has: square and
 * non-square windows, conv outputs the windows do not cover to the edge,
 * padding, stride, one input channel and runs (k_w * in_c floats) longer
 * than one block of 8 vectors. */
typedef struct pooled_case {
    geom_case conv;
    int win_h, win_w;
} pooled_case;

static const pooled_case pooled_cases[] = {
    {{20, 12, 12, 40, 5, 5, 1, 1, 0, 0}, 2, 2}, /* W2 conv 2 */
    {{6, 9, 10, 4, 3, 3, 1, 1, 1, 1}, 2, 3},    /* padded, 9x10 output: edges uncovered */
    {{8, 11, 13, 3, 3, 2, 2, 3, 0, 1}, 3, 2},   /* strided both ways */
    {{45, 6, 7, 2, 3, 3, 1, 1, 1, 1}, 2, 2},    /* 135-float runs: 9 vectors, two blocks */
    {{4, 8, 8, 3, 3, 4, 1, 1, 0, 0}, 2, 2},     /* 16-float runs: the shortest taken */
};
#define NPOOLED ((int)(sizeof pooled_cases / sizeof pooled_cases[0]))

START_TEST(test_conv_pooled_bwd_weights)
{
    const pooled_case *pc = &pooled_cases[_i];
    const cnn_conv_geom g = make_geom(&pc->conv);
    cnn_pool_geom pg = {.c = g.out_c, .in_h = g.out_h, .in_w = g.out_w, .win_h = pc->win_h,
                        .win_w = pc->win_w, .stride_h = pc->win_h, .stride_w = pc->win_w};
    pg.out_h = g.out_h / pg.win_h;
    pg.out_w = g.out_w / pg.win_w;
    ck_assert(cnn_k_conv2d_pooled_bwd_weights_ok(&g, &pg));
    if (_i == 0) { /* where it is not offered: overlap, 1x1, short runs */
        cnn_pool_geom overlap = pg, one = pg;
        overlap.stride_w = 1;
        one.win_h = one.win_w = one.stride_h = one.stride_w = 1;
        cnn_conv_geom short_run = g;
        short_run.in_c = 3; /* 15 floats */
        ck_assert(!cnn_k_conv2d_pooled_bwd_weights_ok(&g, &overlap));
        ck_assert(!cnn_k_conv2d_pooled_bwd_weights_ok(&g, &one));
        ck_assert(!cnn_k_conv2d_pooled_bwd_weights_ok(&short_run, &pg));
        /* a padded image past int32 offsets (16 x 24001 x 24001 floats;
         * stride 8000 leaves a 4x4 output) */
        const geom_case huge_c = {16, 1, 1, 1, 1, 1, 8000, 8000, 12000, 12000};
        const cnn_conv_geom huge = make_geom(&huge_c);
        const cnn_pool_geom huge_pg = {.c = 1, .in_h = 4, .in_w = 4, .out_h = 2, .out_w = 2,
                                       .win_h = 2, .win_w = 2, .stride_h = 2, .stride_w = 2};
        ck_assert_int_eq(huge.out_h * huge.out_w, 16);
        ck_assert(!cnn_k_conv2d_pooled_bwd_weights_ok(&huge, &huge_pg));
    }
    const int n = 3;
    test_rng r;
    test_rng_seed(&r, 300 + (unsigned)_i);
    const size_t nout = (size_t)n * g.out_c * pg.out_h * pg.out_w;
    float *x = random_floats(&r, (size_t)n * x_img(&g));
    float *conv = random_floats(&r, (size_t)n * y_img(&g)); /* stands for the conv output */
    float *pooled = xalloc(nout), *dyp = random_floats(&r, nout);
    int32_t *argmax = malloc(nout * sizeof *argmax);
    ck_assert_ptr_nonnull(argmax);
    cnn_k_pool2d_fwd(&pg, CNN_K_POOL_MAX, n, conv, pooled, argmax);
    /* dense reference: dconv = dyp at each argmax, then the plain sum */
    double *dconv = dalloc((size_t)n * y_img(&g));
    const size_t plane = (size_t)g.out_h * g.out_w, pplane = (size_t)pg.out_h * pg.out_w;
    for (size_t t = 0; t < nout; t++)
        dconv[t / pplane * plane + (size_t)argmax[t]] += dyp[t];
    /* the dense sums of both gradients over every conv output position,
     * in one pass: dW += d * x and dx += d * w for each term inside the
     * image (outside it, x is padding and the terms vanish) */
    const bool data = cnn_k_conv2d_pooled_bwd_data_ok(&g, &pg);
    ck_assert_int_eq(data, g.stride_h == 1 && g.stride_w == 1);
    float *w = random_floats(&r, w_size(&g));
    double *want = dalloc(w_size(&g)), *mag = dalloc(w_size(&g));
    double *want_dx = dalloc((size_t)n * x_img(&g)), *mag_dx = dalloc((size_t)n * x_img(&g));
    for (int s = 0; s < n; s++)
        for (int o = 0; o < g.out_c; o++)
            for (int oy = 0; oy < g.out_h; oy++)
                for (int ox = 0; ox < g.out_w; ox++) {
                    const double d = dconv[((size_t)s * g.out_c + o) * plane +
                                           (size_t)oy * g.out_w + ox];
                    for (int c = 0; c < g.in_c; c++)
                        for (int i = 0; i < g.k_h; i++)
                            for (int j = 0; j < g.k_w; j++) {
                                const int iy = oy * g.stride_h + i - g.pad_h;
                                const int ix = ox * g.stride_w + j - g.pad_w;
                                if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w)
                                    continue;
                                const size_t wa = (((size_t)o * g.in_c + c) * g.k_h + i) * g.k_w + j;
                                const size_t xa = (((size_t)s * g.in_c + c) * g.in_h + iy) *
                                                      g.in_w + ix;
                                const double tw = d * x[xa], tx = d * w[wa];
                                want[wa] += tw;
                                mag[wa] += fabs(tw);
                                want_dx[xa] += tx;
                                mag_dx[xa] += fabs(tx);
                            }
                }
    float *dx = xalloc((size_t)n * x_img(&g));
    float *dw = xalloc(w_size(&g));
    const size_t sw = cnn_k_conv2d_pooled_scratch_floats(&g);
    const size_t sd = data ? cnn_k_conv2d_pooled_bwd_data_scratch_floats(&g) : 0;
    float *scratch = xalloc(sw > sd ? sw : sd);
    report_skipped_isas();
    for (int k = 0; k < NISAS && isa_runs(isas[k]); k++) {
        ck_assert(cnn_k_isa_set(isas[k]));
        char what[96];
        snprintf(what, sizeof what, "conv2d_pooled_bwd_weights on %s", cnn_k_isa_name(isas[k]));
        for (size_t e = 0; e < w_size(&g); e++)
            dw[e] = NAN;
        cnn_k_conv2d_pooled_bwd_weights(&g, &pg, n, x, dyp, argmax, dw, scratch);
        check_close(what, _i, n, dw, want, mag, w_size(&g));
        if (!data)
            continue;
        snprintf(what, sizeof what, "conv2d_pooled_bwd_data on %s", cnn_k_isa_name(isas[k]));
        for (size_t e = 0; e < (size_t)n * x_img(&g); e++)
            dx[e] = NAN;
        cnn_k_conv2d_pooled_bwd_data(&g, &pg, n, dyp, argmax, w, dx, scratch);
        check_close(what, _i, n, dx, want_dx, mag_dx, (size_t)n * x_img(&g));
    }
    ck_assert(cnn_k_isa_set(-1));
    free(x);
    free(conv);
    free(pooled);
    free(dyp);
    free(argmax);
    free(dconv);
    free(want);
    free(mag);
    free(dw);
    free(dx);
    free(w);
    free(want_dx);
    free(mag_dx);
    free(scratch);
}
END_TEST

/* The chunking the batched kernels rely on: every image in some chunk, the
 * scratch they ask for bounded, and the W2 layers one image per chunk. */
START_TEST(test_conv_chunk)
{
    for (int gi = 0; gi < NCASES; gi++) {
        cnn_conv_geom g = make_geom(&cases[gi]);
        const size_t per = (cnn_k_im2col_rows(&g) + (size_t)g.out_c) * cnn_k_im2col_cols(&g);
        for (int n = 1; n <= 1000; n += (n < 20 ? 1 : 97)) {
            int c = cnn_k_conv2d_chunk(&g, n);
            ck_assert_int_ge(c, 1);
            ck_assert_int_le(c, n);
            ck_assert_uint_eq(cnn_k_conv2d_gemm_scratch_floats(&g, n), (size_t)c * per);
            ck_assert_uint_ge(cnn_k_conv2d_scratch_floats(&g, n), (size_t)c * per);
            ck_assert_uint_ge(cnn_k_conv2d_scratch_floats(&g, n),
                              cnn_k_conv2d_direct_scratch_floats(&g, n));
            if (c > 1)
                ck_assert_uint_le((size_t)c * per, (size_t)32 * 1024);
        }
    }
    cnn_conv_geom w2 = make_geom(&cases[4]);
    ck_assert_int_eq(cnn_k_conv2d_chunk(&w2, 10), 1);
    cnn_conv_geom mid = make_geom(&cases[11]);
    ck_assert_int_eq(cnn_k_conv2d_chunk(&mid, 7), 4);
}
END_TEST

/* ---- forward ----------------------------------------------------------- */

/* _i = case * 4 + (batch 7 ? 2 : 0) + (bias ? 1 : 0) */
START_TEST(test_conv_fwd)
{
    const int gi = _i / 4, n = (_i & 2) ? 7 : 1, with_bias = _i & 1;
    cnn_conv_geom g = make_geom(&cases[gi]);
    test_rng r;
    test_rng_seed(&r, 300 + (unsigned)_i);
    float *x = random_floats(&r, (size_t)n * x_img(&g));
    float *w = random_floats(&r, w_size(&g));
    float *b = with_bias ? random_floats(&r, (size_t)g.out_c) : NULL;
    float *y = nan_floats((size_t)n * y_img(&g));
    float *scratch = nan_floats(cnn_k_conv2d_scratch_floats(&g, n));
    double *want = dalloc((size_t)n * y_img(&g)), *mag = dalloc((size_t)n * y_img(&g));

    for (int s = 0; s < n; s++)
        for (int o = 0; o < g.out_c; o++)
            for (int oy = 0; oy < g.out_h; oy++)
                for (int ox = 0; ox < g.out_w; ox++) {
                    double sum = b ? b[o] : 0.0, m = b ? fabs(b[o]) : 0.0;
                    for (int c = 0; c < g.in_c; c++)
                        for (int i = 0; i < g.k_h; i++)
                            for (int j = 0; j < g.k_w; j++) {
                                double t = w[(((size_t)o * g.in_c + c) * g.k_h + i) * g.k_w + j] *
                                           pix(&g, x + (size_t)s * x_img(&g), c,
                                               oy * g.stride_h + i - g.pad_h,
                                               ox * g.stride_w + j - g.pad_w);
                                sum += t;
                                m += fabs(t);
                            }
                    size_t at = (((size_t)s * g.out_c + o) * g.out_h + oy) * g.out_w + ox;
                    want[at] = sum;
                    mag[at] = m;
                }
    report_skipped_isas();
    for (int k = 0; k < NISAS && isa_runs(isas[k]); k++) {
        ck_assert(cnn_k_isa_set(isas[k]));
        for (int impl = 0; impl < IMPL_COUNT; impl++) {
            char what[96];
            snprintf(what, sizeof what, "conv2d_fwd %s on %s", impl_names[impl],
                     cnn_k_isa_name(isas[k]));
            for (size_t e = 0; e < (size_t)n * y_img(&g); e++)
                y[e] = NAN;
            conv_fwd_impl(impl, &g, n, x, w, b, y, scratch);
            check_close(what, gi, n, y, want, mag, (size_t)n * y_img(&g));
        }
    }
    ck_assert(cnn_k_isa_set(-1));
    free(x);
    free(w);
    free(b);
    free(y);
    free(scratch);
    free(want);
    free(mag);
}
END_TEST

/* ---- backward ------------------------------------------------------------ */

/* _i = case * 2 + (batch 7 ? 1 : 0).  dx = adjoint of x -> conv(x, w). */
START_TEST(test_conv_bwd_data)
{
    const int gi = _i / 2, n = (_i & 1) ? 7 : 1;
    cnn_conv_geom g = make_geom(&cases[gi]);
    test_rng r;
    test_rng_seed(&r, 400 + (unsigned)_i);
    float *dy = random_floats(&r, (size_t)n * y_img(&g));
    float *w = random_floats(&r, w_size(&g));
    float *dx = nan_floats((size_t)n * x_img(&g));
    float *scratch = nan_floats(cnn_k_conv2d_scratch_floats(&g, n));
    double *want = dalloc((size_t)n * x_img(&g)), *mag = dalloc((size_t)n * x_img(&g));

    /* every (output, tap) pair sends w * dy back to the input pixel it read */
    for (int s = 0; s < n; s++)
        for (int o = 0; o < g.out_c; o++)
            for (int oy = 0; oy < g.out_h; oy++)
                for (int ox = 0; ox < g.out_w; ox++) {
                    double d = dy[(((size_t)s * g.out_c + o) * g.out_h + oy) * g.out_w + ox];
                    for (int c = 0; c < g.in_c; c++)
                        for (int i = 0; i < g.k_h; i++)
                            for (int j = 0; j < g.k_w; j++) {
                                int iy = oy * g.stride_h + i - g.pad_h;
                                int ix = ox * g.stride_w + j - g.pad_w;
                                if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w)
                                    continue;
                                double t = d * w[(((size_t)o * g.in_c + c) * g.k_h + i) * g.k_w + j];
                                size_t at = (((size_t)s * g.in_c + c) * g.in_h + iy) * g.in_w + ix;
                                want[at] += t;
                                mag[at] += fabs(t);
                            }
                }
    report_skipped_isas();
    for (int k = 0; k < NISAS && isa_runs(isas[k]); k++) {
        ck_assert(cnn_k_isa_set(isas[k]));
        for (int impl = 0; impl <= IMPL_DIRECT; impl++) {
            char what[96];
            snprintf(what, sizeof what, "conv2d_bwd_data %s on %s", impl_names[impl],
                     cnn_k_isa_name(isas[k]));
            for (size_t e = 0; e < (size_t)n * x_img(&g); e++)
                dx[e] = NAN;
            conv_bwd_data_impl(impl, &g, n, dy, w, dx, scratch);
            check_close(what, gi, n, dx, want, mag, (size_t)n * x_img(&g));
        }
    }
    ck_assert(cnn_k_isa_set(-1));
    free(dy);
    free(w);
    free(dx);
    free(scratch);
    free(want);
    free(mag);
}
END_TEST

/* _i = case * 4 + (batch 7 ? 2 : 0) + (db requested ? 1 : 0). */
START_TEST(test_conv_bwd_weights)
{
    const int gi = _i / 4, n = (_i & 2) ? 7 : 1, with_db = _i & 1;
    cnn_conv_geom g = make_geom(&cases[gi]);
    test_rng r;
    test_rng_seed(&r, 500 + (unsigned)_i);
    float *x = random_floats(&r, (size_t)n * x_img(&g));
    float *dy = random_floats(&r, (size_t)n * y_img(&g));
    float *dw = nan_floats(w_size(&g));
    float *db = with_db ? nan_floats((size_t)g.out_c) : NULL;
    float *scratch = nan_floats(cnn_k_conv2d_scratch_floats(&g, n));
    double *want = dalloc(w_size(&g)), *mag = dalloc(w_size(&g));
    double *want_b = dalloc((size_t)g.out_c), *mag_b = dalloc((size_t)g.out_c);

    for (int s = 0; s < n; s++)
        for (int o = 0; o < g.out_c; o++)
            for (int oy = 0; oy < g.out_h; oy++)
                for (int ox = 0; ox < g.out_w; ox++) {
                    double d = dy[(((size_t)s * g.out_c + o) * g.out_h + oy) * g.out_w + ox];
                    want_b[o] += d;
                    mag_b[o] += fabs(d);
                    for (int c = 0; c < g.in_c; c++)
                        for (int i = 0; i < g.k_h; i++)
                            for (int j = 0; j < g.k_w; j++) {
                                double t = d * pix(&g, x + (size_t)s * x_img(&g), c,
                                                   oy * g.stride_h + i - g.pad_h,
                                                   ox * g.stride_w + j - g.pad_w);
                                size_t at = (((size_t)o * g.in_c + c) * g.k_h + i) * g.k_w + j;
                                want[at] += t;
                                mag[at] += fabs(t);
                            }
                }
    report_skipped_isas();
    for (int k = 0; k < NISAS && isa_runs(isas[k]); k++) {
        ck_assert(cnn_k_isa_set(isas[k]));
        for (int impl = 0; impl < IMPL_COUNT; impl++) {
            char what[96];
            snprintf(what, sizeof what, "conv2d_bwd_weights %s on %s", bwdw_impl_names[impl],
                     cnn_k_isa_name(isas[k]));
            for (size_t e = 0; e < w_size(&g); e++)
                dw[e] = NAN;
            for (int e = 0; db && e < g.out_c; e++)
                db[e] = NAN;
            conv_bwd_weights_impl(impl, &g, n, x, dy, dw, db, scratch);
            check_close(what, gi, n, dw, want, mag, w_size(&g));
            if (db)
                check_close(what, gi, n, db, want_b, mag_b, (size_t)g.out_c);
        }
    }
    ck_assert(cnn_k_isa_set(-1));
    free(x);
    free(dy);
    free(dw);
    free(db);
    free(scratch);
    free(want);
    free(mag);
    free(want_b);
    free(mag_b);
}
END_TEST

/* The three kernels fit together: <conv(x), dy> = <x, bwd_data(dy)> and
 * = <w, bwd_weights(x, dy)> (no bias), which pins down the transposes. */
START_TEST(test_conv_adjoint_identity)
{
    const int n = 3;
    cnn_conv_geom g = make_geom(&cases[_i]);
    test_rng r;
    test_rng_seed(&r, 600 + (unsigned)_i);
    float *x = random_floats(&r, (size_t)n * x_img(&g));
    float *w = random_floats(&r, w_size(&g));
    float *dy = random_floats(&r, (size_t)n * y_img(&g));
    float *y = xalloc((size_t)n * y_img(&g)), *dx = xalloc((size_t)n * x_img(&g));
    float *dw = xalloc(w_size(&g));
    float *scratch = xalloc(cnn_k_conv2d_scratch_floats(&g, n));
    cnn_k_conv2d_fwd(&g, n, x, w, NULL, y, scratch);
    cnn_k_conv2d_bwd_data(&g, n, dy, w, dx, scratch);
    cnn_k_conv2d_bwd_weights(&g, n, x, dy, dw, NULL, scratch);
    double a = 0, b = 0, c = 0, ma = 0, mb = 0, mc = 0;
    for (size_t i = 0; i < (size_t)n * y_img(&g); i++) {
        a += (double)y[i] * dy[i];
        ma += fabs((double)y[i] * dy[i]);
    }
    for (size_t i = 0; i < (size_t)n * x_img(&g); i++) {
        b += (double)x[i] * dx[i];
        mb += fabs((double)x[i] * dx[i]);
    }
    for (size_t i = 0; i < w_size(&g); i++) {
        c += (double)w[i] * dw[i];
        mc += fabs((double)w[i] * dw[i]);
    }
    /* |y|, |dx| and |dw| entries each carry their own ~RTOL error */
    ck_assert_double_le(fabs(a - b), RTOL * (ma + mb));
    ck_assert_double_le(fabs(a - c), RTOL * (ma + mc));
    free(x);
    free(w);
    free(dy);
    free(y);
    free(dx);
    free(dw);
    free(scratch);
}
END_TEST

/* ---- the network's own threads -------------------------------------------
 * With cnn_net_set_threads(n > 1) the convolution layers split each batch
 * over the network's worker threads (forward_part / backward_part), each
 * with its own scratch and partial weight gradient, summed in a fixed order.
 * Same seed and thread count: bit-identical weights; other thread counts:
 * the same up to rounding.  _i: 0 pooled convs (max, then L2), 1 unpooled. */
/* The networks of the thread test, by kind: 0 no pooling; 1 fused MAX and
 * L2 pooling (dense gradients: runs of 6 floats); 2 a second convolution
 * with fused MAX pooling whose runs hold 16 floats, so its weight and input
 * gradients take the pooled forms (conv2d_pooled.c) in every part. */
static cnn_net *thread_net(int kind)
{
    cnn_net *net;
    ck_assert_int_eq(cnn_net_create(2, 12, 11, 9, &net), CNN_OK);
    cnn_layer *l;
    cnn_conv2d_params cp;
    cnn_conv2d_params_init(&cp, 4, 3, 3);
    cp.activation = CNN_ACT_RELU;
    cp.pool = kind == 1 ? CNN_POOL_MAX : CNN_POOL_NONE;
    ck_assert_int_eq(cnn_conv2d_create(&cp, &l), CNN_OK);
    ck_assert_int_eq(cnn_net_add(net, l), CNN_OK);
    if (kind == 2)
        cnn_conv2d_params_init(&cp, 5, 3, 4); /* 4 channels x 4 columns a run */
    else
        cnn_conv2d_params_init(&cp, 5, 2, 2);
    cp.activation = CNN_ACT_TANH;
    cp.pool = kind == 1 ? CNN_POOL_L2 : kind == 2 ? CNN_POOL_MAX : CNN_POOL_NONE;
    ck_assert_int_eq(cnn_conv2d_create(&cp, &l), CNN_OK);
    ck_assert_int_eq(cnn_net_add(net, l), CNN_OK);
    cnn_dense_params dp;
    cnn_dense_params_init(&dp, 12);
    dp.dropout = 0.2f;
    ck_assert_int_eq(cnn_dense_create(&dp, &l), CNN_OK);
    ck_assert_int_eq(cnn_net_add(net, l), CNN_OK);
    cnn_softmax_params sp;
    cnn_softmax_params_init(&sp, 3);
    ck_assert_int_eq(cnn_softmax_create(&sp, &l), CNN_OK);
    ck_assert_int_eq(cnn_net_add(net, l), CNN_OK);
    return net;
}

/* Trains a fresh network for 4 steps (batches of 7, then 3, then 7, then 1)
 * with `threads`, then predicts a batch of 9; returns the parameters. */
static float *train_with_threads(int kind, int threads, int32_t predicted[9])
{
    cnn_net *net = thread_net(kind);
    ck_assert_int_eq(cnn_net_set_threads(net, threads), CNN_OK);
    cnn_sgd_params sp;
    cnn_sgd_params_init(&sp, 0.05f);
    sp.momentum = kind == 1 ? 0.0f : 0.5f;
    cnn_optimizer *opt;
    ck_assert_int_eq(cnn_sgd_create(&sp, &opt), CNN_OK);
    test_rng r;
    test_rng_seed(&r, 77);
    float *x = random_floats(&r, (size_t)9 * 2 * 12 * 11);
    int32_t labels[9] = {0, 1, 2, 2, 1, 0, 1, 2, 0};
    const int batches[4] = {7, 3, 7, 1};
    for (int s = 0; s < 4; s++) {
        int64_t shape[4] = {batches[s], 2, 12, 11};
        cnn_tensor *t;
        ck_assert_int_eq(cnn_tensor_wrap(4, shape, x, &t), CNN_OK);
        ck_assert_int_eq(cnn_train_step(net, opt, t, labels, NULL), CNN_OK);
        cnn_tensor_destroy(t);
    }
    int64_t shape[4] = {9, 2, 12, 11};
    cnn_tensor *t;
    ck_assert_int_eq(cnn_tensor_wrap(4, shape, x, &t), CNN_OK);
    ck_assert_int_eq(cnn_net_predict(net, t, predicted), CNN_OK);
    cnn_tensor_destroy(t);
    const size_t np = (size_t)cnn_net_param_count(net);
    float *params = malloc(np * sizeof *params);
    ck_assert_ptr_nonnull(params);
    memcpy(params, cnn_net_params(net), np * sizeof *params);
    free(x);
    cnn_optimizer_destroy(opt);
    cnn_net_destroy(net);
    return params;
}

START_TEST(test_net_threads_deterministic)
{
    const int kind = _i == 0 ? 1 : _i == 1 ? 0 : 2;
    cnn_net *probe = thread_net(kind);
    const size_t np = (size_t)cnn_net_param_count(probe);
    cnn_net_destroy(probe);
    int32_t p1[9], pa[9], pb[9];
    float *one = train_with_threads(kind, 1, p1);
    for (int threads = 2; threads <= 5; threads += 3) {
        float *a = train_with_threads(kind, threads, pa);
        float *b = train_with_threads(kind, threads, pb);
        ck_assert_msg(memcmp(a, b, np * sizeof *a) == 0,
                      "%d threads: two runs with the same seed differ", threads);
        ck_assert(memcmp(pa, pb, sizeof pa) == 0);
        for (size_t k = 0; k < np; k++)
            ck_assert_msg(fabsf(a[k] - one[k]) <= 1e-4f * (1.0f + fabsf(one[k])),
                          "%d threads: parameter %zu = %.9g, 1 thread %.9g", threads, k,
                          (double)a[k], (double)one[k]);
        free(a);
        free(b);
    }
    free(one);
}
END_TEST

static Suite *conv_suite(void)
{
    Suite *s = suite_create("kernels_conv");
    TCase *tc = tcase_create("conv");
    tcase_add_loop_test(tc, test_im2col, 0, NCASES);
    tcase_add_loop_test(tc, test_col2im, 0, NCASES);
    tcase_add_loop_test(tc, test_col2im_rows, 0, NCASES + NROWS_CASES);
    tcase_add_loop_test(tc, test_conv_pooled_bwd_weights, 0, NPOOLED);
    tcase_add_test(tc, test_conv_chunk);
    tcase_add_loop_test(tc, test_conv_fwd, 0, NCASES * 4);
    tcase_add_loop_test(tc, test_conv_bwd_data, 0, NCASES * 2);
    tcase_add_loop_test(tc, test_conv_bwd_weights, 0, NCASES * 4);
    tcase_add_loop_test(tc, test_conv_adjoint_identity, 0, NCASES);
    tcase_add_loop_test(tc, test_net_threads_deterministic, 0, 3);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(conv_suite());
}
