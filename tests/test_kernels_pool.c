/* Pooling kernels (MAX, AVG, L2) against naive loops in double, on tiled,
 * overlapping (stride < window) and non-tiling geometries, batches 1 and 7. */
#include "testutil.h"

#include "kernels/kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tolerance: a pooled value or an input gradient is a float sum of at most a
 * few dozen terms (window area, or overlapping windows), so the float error
 * is around 1e-6 relative to sum|terms|; 1e-4 leaves a wide margin while any
 * routing mistake gives errors of order 1. */
#define RTOL 1e-4

typedef struct pool_case {
    int c, in_h, in_w, win_h, win_w, s_h, s_w;
} pool_case;

static const pool_case cases[] = {
    {2, 24, 24, 2, 2, 2, 2}, /* network3: 2x2 tiles */
    {3, 7, 7, 3, 3, 2, 2},   /* overlapping windows */
    {1, 5, 7, 2, 2, 2, 2},   /* does not tile: last row/column dropped */
    {2, 6, 9, 2, 3, 1, 2},   /* non-square window, overlap in one axis only */
    {1, 4, 5, 1, 1, 1, 1},   /* 1x1: identity */
    {2, 5, 4, 5, 4, 1, 1},   /* window = image */
    {1, 8, 8, 3, 2, 3, 3},   /* stride > window: gaps between windows */
    {2, 10, 13, 2, 2, 2, 2}, /* 2x2 with 6 outputs a row: a 4-wide block and a tail */
    {1, 6, 42, 2, 2, 2, 2},  /* 2x2 with 21 outputs a row: a 16-wide AVX-512 block and a tail */
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))
static const int modes[] = {CNN_K_POOL_MAX, CNN_K_POOL_AVG, CNN_K_POOL_L2};
static const char *mode_names[] = {"max", "avg", "l2"};

static cnn_pool_geom make_geom(const pool_case *pc)
{
    cnn_pool_geom g = {0};
    g.c = pc->c;
    g.in_h = pc->in_h;
    g.in_w = pc->in_w;
    g.win_h = pc->win_h;
    g.win_w = pc->win_w;
    g.stride_h = pc->s_h;
    g.stride_w = pc->s_w;
    g.out_h = (pc->in_h - pc->win_h) / pc->s_h + 1;
    g.out_w = (pc->in_w - pc->win_w) / pc->s_w + 1;
    return g;
}

static void *xalloc(size_t n, size_t size)
{
    void *p = malloc((n ? n : 1) * size);
    ck_assert_ptr_nonnull(p);
    return p;
}

static float *nan_floats(size_t n)
{
    float *p = xalloc(n, sizeof(float));
    for (size_t i = 0; i < n; i++)
        p[i] = NAN;
    return p;
}

static size_t in_size(const cnn_pool_geom *g, int n) { return (size_t)n * g->c * g->in_h * g->in_w; }
static size_t out_size(const cnn_pool_geom *g, int n) { return (size_t)n * g->c * g->out_h * g->out_w; }

/* Naive forward for one output: value, and for MAX the first maximum's
 * in-plane index (scan in row-major order, strict '>'). */
static double naive_pool(const cnn_pool_geom *g, int mode, const float *plane, int oy, int ox,
                         int *arg)
{
    double best = -INFINITY, sum = 0.0, sq = 0.0;
    *arg = -1;
    for (int i = 0; i < g->win_h; i++)
        for (int j = 0; j < g->win_w; j++) {
            int iy = oy * g->stride_h + i, ix = ox * g->stride_w + j;
            double v = plane[iy * g->in_w + ix];
            if (v > best) {
                best = v;
                *arg = iy * g->in_w + ix;
            }
            sum += v;
            sq += v * v;
        }
    if (mode == CNN_K_POOL_MAX)
        return best;
    if (mode == CNN_K_POOL_AVG)
        return sum / (g->win_h * g->win_w);
    return sqrt(sq);
}

/* _i = (case * 3 + mode) * 2 + (batch 7 ? 1 : 0) */
START_TEST(test_pool_fwd_bwd)
{
    const int gi = _i / 6, mi = (_i / 2) % 3, n = (_i & 1) ? 7 : 1, mode = modes[mi];
    cnn_pool_geom g = make_geom(&cases[gi]);
    test_rng r;
    test_rng_seed(&r, 1000 + (unsigned)_i);
    const size_t nin = in_size(&g, n), nout = out_size(&g, n);
    const size_t in_plane = (size_t)g.in_h * g.in_w, out_plane = (size_t)g.out_h * g.out_w;
    float *x = xalloc(nin, sizeof(float));
    /* all negative for MAX in half the runs: a max that starts from 0 fails */
    test_fill_uniform(&r, x, nin, (n == 7 && mode == CNN_K_POOL_MAX) ? -2.0f : -1.0f,
                      (n == 7 && mode == CNN_K_POOL_MAX) ? -0.5f : 1.0f);
    float *y = nan_floats(nout), *dx = nan_floats(nin);
    float *dy = xalloc(nout, sizeof(float));
    test_fill_uniform(&r, dy, nout, -1.0f, 1.0f);
    int32_t *argmax = mode == CNN_K_POOL_MAX ? xalloc(nout, sizeof(int32_t)) : NULL;
    double *want_dx = calloc(nin, sizeof(double)), *mag_dx = calloc(nin, sizeof(double));
    ck_assert_ptr_nonnull(want_dx);
    ck_assert_ptr_nonnull(mag_dx);

    cnn_k_pool2d_fwd(&g, mode, n, x, y, argmax);

    for (size_t p = 0; p < (size_t)n * g.c; p++) {
        const float *xp = x + p * in_plane;
        for (int oy = 0; oy < g.out_h; oy++)
            for (int ox = 0; ox < g.out_w; ox++) {
                size_t o = p * out_plane + (size_t)oy * g.out_w + ox;
                int arg;
                double want = naive_pool(&g, mode, xp, oy, ox, &arg);
                /* window terms are |x| <= 2 or x^2, so RTOL relative to the window is ample */
                ck_assert_msg(fabs(y[o] - want) <= RTOL * (fabs(want) + 1e-6),
                              "%s case %d n=%d: y[%zu] = %.9g, want %.9g", mode_names[mi], gi, n,
                              o, (double)y[o], want);
                if (argmax)
                    ck_assert_int_eq(argmax[o], arg);
                /* naive adjoint, scattered per window */
                double d = dy[o];
                for (int i = 0; i < g.win_h; i++)
                    for (int j = 0; j < g.win_w; j++) {
                        int idx = (oy * g.stride_h + i) * g.in_w + ox * g.stride_w + j;
                        double t;
                        if (mode == CNN_K_POOL_MAX)
                            t = idx == arg ? d : 0.0;
                        else if (mode == CNN_K_POOL_AVG)
                            t = d / (g.win_h * g.win_w);
                        else
                            t = want == 0.0 ? 0.0 : d * xp[idx] / want;
                        want_dx[p * in_plane + (size_t)idx] += t;
                        mag_dx[p * in_plane + (size_t)idx] += fabs(t);
                    }
            }
    }

    cnn_k_pool2d_bwd(&g, mode, n, x, y, dy, argmax, dx);
    for (size_t i = 0; i < nin; i++)
        ck_assert_msg(fabs(dx[i] - want_dx[i]) <= RTOL * mag_dx[i] + 1e-30,
                      "%s case %d n=%d: dx[%zu] = %.9g, want %.9g", mode_names[mi], gi, n, i,
                      (double)dx[i], want_dx[i]);
    free(x);
    free(y);
    free(dx);
    free(dy);
    free(argmax);
    free(want_dx);
    free(mag_dx);
}
END_TEST

/* Ties: a constant window's first element is the max and alone gets dy. */
START_TEST(test_pool_max_ties)
{
    cnn_pool_geom g = make_geom(&cases[1]); /* 3x3 windows, stride 2, overlapping */
    const size_t nin = in_size(&g, 1), nout = out_size(&g, 1);
    float *x = xalloc(nin, sizeof(float)), *y = xalloc(nout, sizeof(float));
    float *dy = xalloc(nout, sizeof(float)), *dx = xalloc(nin, sizeof(float));
    int32_t *argmax = xalloc(nout, sizeof(int32_t));
    for (size_t i = 0; i < nin; i++)
        x[i] = 0.25f;
    for (size_t i = 0; i < nout; i++)
        dy[i] = 1.0f;
    cnn_k_pool2d_fwd(&g, CNN_K_POOL_MAX, 1, x, y, argmax);
    for (int c = 0; c < g.c; c++)
        for (int oy = 0; oy < g.out_h; oy++)
            for (int ox = 0; ox < g.out_w; ox++) {
                size_t o = ((size_t)c * g.out_h + oy) * g.out_w + ox;
                ck_assert_float_eq(y[o], 0.25f);
                ck_assert_int_eq(argmax[o], oy * g.stride_h * g.in_w + ox * g.stride_w);
            }
    cnn_k_pool2d_bwd(&g, CNN_K_POOL_MAX, 1, NULL, NULL, dy, argmax, dx);
    /* window corners get 1, every other pixel 0 */
    for (int c = 0; c < g.c; c++)
        for (int iy = 0; iy < g.in_h; iy++)
            for (int ix = 0; ix < g.in_w; ix++) {
                int corner = iy % g.stride_h == 0 && iy / g.stride_h < g.out_h &&
                             ix % g.stride_w == 0 && ix / g.stride_w < g.out_w;
                ck_assert_float_eq(dx[((size_t)c * g.in_h + iy) * g.in_w + ix],
                                   corner ? 1.0f : 0.0f);
            }
    free(x);
    free(y);
    free(dy);
    free(dx);
    free(argmax);
}
END_TEST

/* L2 over an all-zero window: y = 0 and the gradient is 0, not NaN. */
START_TEST(test_pool_l2_zero_window)
{
    cnn_pool_geom g = make_geom(&cases[2]); /* 5x7, 2x2 windows */
    const size_t nin = in_size(&g, 1), nout = out_size(&g, 1);
    float *x = calloc(nin, sizeof(float)), *y = xalloc(nout, sizeof(float));
    float *dy = xalloc(nout, sizeof(float)), *dx = nan_floats(nin);
    ck_assert_ptr_nonnull(x);
    x[1] = 3.0f; /* first window: (0, 3, 0, 4) -> y = 5 */
    x[g.in_w + 1] = 4.0f;
    for (size_t i = 0; i < nout; i++)
        dy[i] = 2.0f;
    cnn_k_pool2d_fwd(&g, CNN_K_POOL_L2, 1, x, y, NULL);
    ck_assert_float_eq_tol(y[0], 5.0f, 1e-6f);
    for (size_t i = 1; i < nout; i++)
        ck_assert_float_eq(y[i], 0.0f);
    cnn_k_pool2d_bwd(&g, CNN_K_POOL_L2, 1, x, y, dy, NULL, dx);
    for (size_t i = 0; i < nin; i++) {
        float want = i == 1 ? 2.0f * 3.0f / 5.0f : i == (size_t)g.in_w + 1 ? 2.0f * 4.0f / 5.0f : 0.0f;
        ck_assert_float_eq_tol(dx[i], want, 1e-6f);
    }
    free(x);
    free(y);
    free(dy);
    free(dx);
}
END_TEST

/* The 2x2 stride-2 max fast path keeps the first-maximum rule on ties:
 * values drawn from {-1, 0, 1} make most windows tie. */
START_TEST(test_max_2x2_ties)
{
    static const int which[] = {0, 2, NCASES - 1};
    cnn_pool_geom g = make_geom(&cases[which[_i]]);
    const int n = 3;
    test_rng r;
    test_rng_seed(&r, 4242 + (unsigned)_i);
    const size_t nin = in_size(&g, n), nout = out_size(&g, n);
    const size_t in_plane = (size_t)g.in_h * g.in_w, out_plane = (size_t)g.out_h * g.out_w;
    float *x = xalloc(nin, sizeof(float));
    test_fill_uniform(&r, x, nin, -1.5f, 1.5f);
    for (size_t i = 0; i < nin; i++)
        x[i] = roundf(x[i]);
    float *y = nan_floats(nout);
    int32_t *argmax = xalloc(nout, sizeof(int32_t));
    cnn_k_pool2d_fwd(&g, CNN_K_POOL_MAX, n, x, y, argmax);
    for (size_t p = 0; p < (size_t)n * g.c; p++)
        for (int oy = 0; oy < g.out_h; oy++)
            for (int ox = 0; ox < g.out_w; ox++) {
                size_t o = p * out_plane + (size_t)oy * g.out_w + ox;
                int arg;
                double want = naive_pool(&g, CNN_K_POOL_MAX, x + p * in_plane, oy, ox, &arg);
                ck_assert_msg((double)y[o] == want, "y[%zu] = %g, want %g", o, (double)y[o], want);
                ck_assert_msg(argmax[o] == arg, "argmax[%zu] = %d, want %d", o, (int)argmax[o], arg);
            }
    free(x);
    free(y);
    free(argmax);
}
END_TEST

/* n images for g drawn from {+0, -0, 1, -1, NaN, 2}: ties, signed zeros
 * and NaNs in most windows. */
static float *special_input(const cnn_pool_geom *g, int n, unsigned seed)
{
    static const float special[] = {0.0f, -0.0f, 1.0f, -1.0f, NAN, 2.0f};
    test_rng r;
    test_rng_seed(&r, seed);
    const size_t nin = in_size(g, n);
    float *x = xalloc(nin, sizeof(float));
    test_fill_uniform(&r, x, nin, 0.0f, 6.0f);
    for (size_t i = 0; i < nin; i++)
        x[i] = special[(int)x[i] % 6];
    return x;
}

/* Inference pools MAX without argmax through its own loop: it must give the
 * same bits as the argmax form, also on ties, signed zeros and NaNs. */
START_TEST(test_max_without_argmax_same_bits)
{
    cnn_pool_geom g = make_geom(&cases[_i]);
    const int n = 3;
    const size_t nout = out_size(&g, n);
    float *x = special_input(&g, n, 777 + (unsigned)_i);
    float *with = nan_floats(nout), *without = nan_floats(nout);
    int32_t *argmax = xalloc(nout, sizeof(int32_t));
    cnn_k_pool2d_fwd(&g, CNN_K_POOL_MAX, n, x, with, argmax);
    cnn_k_pool2d_fwd(&g, CNN_K_POOL_MAX, n, x, without, NULL);
    ck_assert_msg(memcmp(with, without, nout * sizeof(float)) == 0,
                  "case %d: MAX without argmax differs from MAX with argmax", (int)_i);
    free(x);
    free(with);
    free(without);
    free(argmax);
}
END_TEST

/* Switches the kernels to `isa` for the path-by-path tests below; false,
 * with a SKIPPED line naming the test, where the CPU lacks that path. */
static bool use_isa(int isa, const char *test)
{
    if (cnn_k_isa_set(isa))
        return true;
    printf("%s: %s path SKIPPED (this CPU lacks it)\n", test, cnn_k_isa_name(isa));
    return false;
}

/* MAX forward with argmax (training) on every path the CPU has gives the
 * generic path's values and indices, on ties, signed zeros and NaNs. */
START_TEST(test_max_fwd_argmax_same_every_path)
{
    cnn_pool_geom g = make_geom(&cases[_i]);
    const int n = 3;
    const size_t nout = out_size(&g, n);
    float *x = special_input(&g, n, 999 + (unsigned)_i);
    float *want = nan_floats(nout), *got = nan_floats(nout);
    int32_t *want_arg = xalloc(nout, sizeof(int32_t)), *got_arg = xalloc(nout, sizeof(int32_t));
    ck_assert(cnn_k_isa_set(CNN_K_ISA_GENERIC));
    cnn_k_pool2d_fwd(&g, CNN_K_POOL_MAX, n, x, want, want_arg);
    for (int isa = CNN_K_ISA_AVX2; isa <= CNN_K_ISA_AVX512; isa++) {
        if (!use_isa(isa, "test_max_fwd_argmax_same_every_path"))
            continue;
        for (size_t i = 0; i < nout; i++) {
            got[i] = NAN;
            got_arg[i] = -1;
        }
        cnn_k_pool2d_fwd(&g, CNN_K_POOL_MAX, n, x, got, got_arg);
        ck_assert_msg(memcmp(got, want, nout * sizeof(float)) == 0,
                      "case %d on %s: MAX values differ from the generic path", (int)_i,
                      cnn_k_isa_name(isa));
        ck_assert_msg(memcmp(got_arg, want_arg, nout * sizeof(int32_t)) == 0,
                      "case %d on %s: argmax differs from the generic path", (int)_i,
                      cnn_k_isa_name(isa));
    }
    ck_assert(cnn_k_isa_set(-1));
    free(x);
    free(want);
    free(got);
    free(want_arg);
    free(got_arg);
}
END_TEST

/* MAX backward on every path the CPU has (the AVX-512 path writes 2x2
 * windows whole instead of zeroing and scattering) gives the bits of the
 * generic path, with -0, NaN and infinities among the gradients (the
 * zero-and-add form turns -0 into +0) and the uncovered edge of odd sizes. */
START_TEST(test_max_bwd_same_bits_every_path)
{
    static const float special[] = {-0.0f, 0.0f, 1.0f, -1.0f, NAN, INFINITY};
    cnn_pool_geom g = make_geom(&cases[_i]);
    const int n = 3;
    test_rng r;
    test_rng_seed(&r, 888 + (unsigned)_i);
    const size_t nin = in_size(&g, n), nout = out_size(&g, n);
    float *x = xalloc(nin, sizeof(float)), *y = xalloc(nout, sizeof(float));
    float *dy = xalloc(nout, sizeof(float));
    test_fill_uniform(&r, x, nin, -1.0f, 1.0f);
    test_fill_uniform(&r, dy, nout, 0.0f, 6.0f);
    for (size_t i = 0; i < nout; i++)
        dy[i] = i % 3 ? special[(int)dy[i] % 6] : dy[i] - 3.0f;
    int32_t *argmax = xalloc(nout, sizeof(int32_t));
    cnn_k_pool2d_fwd(&g, CNN_K_POOL_MAX, n, x, y, argmax);
    float *want = nan_floats(nin), *got = nan_floats(nin);
    ck_assert(cnn_k_isa_set(CNN_K_ISA_GENERIC));
    cnn_k_pool2d_bwd(&g, CNN_K_POOL_MAX, n, NULL, NULL, dy, argmax, want);
    for (int isa = CNN_K_ISA_AVX2; isa <= CNN_K_ISA_AVX512; isa++) {
        if (!use_isa(isa, "test_max_bwd_same_bits_every_path"))
            continue;
        for (size_t i = 0; i < nin; i++)
            got[i] = NAN;
        cnn_k_pool2d_bwd(&g, CNN_K_POOL_MAX, n, NULL, NULL, dy, argmax, got);
        for (size_t i = 0; i < nin; i++)
            ck_assert_msg(memcmp(&got[i], &want[i], sizeof(float)) == 0 ||
                              (isnan(got[i]) && isnan(want[i])),
                          "case %d on %s: dx[%zu] = %a, generic path %a", (int)_i,
                          cnn_k_isa_name(isa), i, (double)got[i], (double)want[i]);
    }
    ck_assert(cnn_k_isa_set(-1));
    free(x);
    free(y);
    free(dy);
    free(argmax);
    free(want);
    free(got);
}
END_TEST

static Suite *pool_suite(void)
{
    Suite *s = suite_create("kernels_pool");
    TCase *tc = tcase_create("pool");
    tcase_add_loop_test(tc, test_pool_fwd_bwd, 0, NCASES * 3 * 2);
    tcase_add_loop_test(tc, test_max_2x2_ties, 0, 3);
    tcase_add_loop_test(tc, test_max_without_argmax_same_bits, 0, NCASES);
    tcase_add_loop_test(tc, test_max_bwd_same_bits_every_path, 0, NCASES);
    tcase_add_loop_test(tc, test_max_fwd_argmax_same_every_path, 0, NCASES);
    tcase_add_test(tc, test_pool_max_ties);
    tcase_add_test(tc, test_pool_l2_zero_window);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(pool_suite());
}
