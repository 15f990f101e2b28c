/* cnn_k_gemm against a naive triple loop in double, for every transpose
 * combination, odd sizes, padded leading dimensions and several alpha/beta. */
#include "testutil.h"

#include "kernels/kernels.h"

#include <math.h>
#include <stdlib.h>

/* Tolerance: each C entry is a float sum of k products.  Whatever order the
 * BLAS sums in, the error is at most about (k+1)*2^-24 times the sum of the
 * terms' magnitudes, so we compare |got - want| against RTOL * sum|terms|
 * (not against |want|, which can cancel to near 0).  The largest k here is
 * 300: worst-case bound 1.8e-5, comfortably below 1e-4. */
#define RTOL 1e-4

static float *xalloc(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    return p;
}

/* Element (r, c) of op(X) for a row-major X with leading dimension ld. */
static double at(const float *x, int ld, int trans, int r, int c)
{
    return trans ? x[(size_t)c * (size_t)ld + (size_t)r] : x[(size_t)r * (size_t)ld + (size_t)c];
}

/* Runs one case and checks every C entry, including that the padding
 * columns of C (between n and ldc) are left alone. */
static void check_gemm(int ta, int tb, int m, int n, int k, float alpha, float beta,
                       unsigned seed)
{
    test_rng r;
    test_rng_seed(&r, seed);
    /* stored shapes: A is m x k (or k x m if transposed), padded by 3 columns */
    const int a_rows = ta ? k : m, a_cols = ta ? m : k;
    const int b_rows = tb ? n : k, b_cols = tb ? k : n;
    const int lda = a_cols + 3, ldb = b_cols + 2, ldc = n + 1;
    float *a = xalloc((size_t)a_rows * (size_t)lda);
    float *b = xalloc((size_t)b_rows * (size_t)ldb);
    float *c = xalloc((size_t)m * (size_t)ldc);
    float *c0 = xalloc((size_t)m * (size_t)ldc);
    test_fill_uniform(&r, a, (size_t)a_rows * (size_t)lda, -1.0f, 1.0f);
    test_fill_uniform(&r, b, (size_t)b_rows * (size_t)ldb, -1.0f, 1.0f);
    test_fill_uniform(&r, c0, (size_t)m * (size_t)ldc, -1.0f, 1.0f);
    for (size_t i = 0; i < (size_t)m * (size_t)ldc; i++)
        c[i] = c0[i];
    if (beta == 0.0f) /* beta = 0 must not read C: garbage there must not leak */
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                c[(size_t)i * (size_t)ldc + (size_t)j] = NAN;

    cnn_k_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            double s = 0.0, mag = 0.0;
            for (int l = 0; l < k; l++) {
                double t = at(a, lda, ta, i, l) * at(b, ldb, tb, l, j);
                s += t;
                mag += fabs(t);
            }
            double cij0 = c0[(size_t)i * (size_t)ldc + (size_t)j];
            double bc = beta == 0.0f ? 0.0 : (double)beta * cij0;
            double want = (double)alpha * s + bc;
            double scale = fabs((double)alpha) * mag + fabs(bc) + 1e-30;
            double got = c[(size_t)i * (size_t)ldc + (size_t)j];
            ck_assert_msg(fabs(got - want) <= RTOL * scale,
                          "gemm ta=%d tb=%d %dx%dx%d alpha=%g beta=%g: C[%d][%d] = %.9g, want %.9g",
                          ta, tb, m, n, k, (double)alpha, (double)beta, i, j, got, want);
        }
        /* padding columns are not part of C */
        for (int j = n; j < ldc; j++)
            ck_assert(c[(size_t)i * (size_t)ldc + (size_t)j] ==
                      c0[(size_t)i * (size_t)ldc + (size_t)j]);
    }
    free(a);
    free(b);
    free(c);
    free(c0);
}

static const int sizes[][3] = {
    {1, 1, 1}, {7, 5, 3}, {1, 9, 4}, {6, 1, 11}, {33, 17, 29}, {20, 576, 25}, {10, 30, 300},
};
static const float scalars[][2] = {{1.0f, 0.0f}, {0.5f, -2.0f}, {-1.5f, 1.0f}};

/* One test per transpose combination (loop index _i = ta*2 + tb). */
START_TEST(test_gemm_all_sizes)
{
    const int ta = _i >> 1, tb = _i & 1;
    unsigned seed = 1;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (size_t ab = 0; ab < sizeof scalars / sizeof scalars[0]; ab++)
            check_gemm(ta, tb, sizes[s][0], sizes[s][1], sizes[s][2], scalars[ab][0],
                       scalars[ab][1], seed++);
}
END_TEST

/* k = 0: the product is empty, so C = beta*C (zeros when beta = 0). */
START_TEST(test_gemm_empty_k)
{
    float a[1] = {1.0f}, b[1] = {1.0f};
    float c[6] = {1, 2, 3, 4, 5, 6};
    cnn_k_gemm(0, 0, 2, 3, 0, 1.0f, a, 1, b, 3, 2.0f, c, 3);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(c[i], 2.0f * (float)(i + 1));
    cnn_k_gemm(1, 1, 2, 3, 0, 1.0f, a, 2, b, 1, 0.0f, c, 3);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(c[i], 0.0f);
}
END_TEST

/* m = 0 or n = 0: nothing is touched. */
START_TEST(test_gemm_empty_mn)
{
    float a[4] = {1, 2, 3, 4}, b[4] = {1, 2, 3, 4}, c[4] = {7, 7, 7, 7};
    cnn_k_gemm(0, 0, 0, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2);
    cnn_k_gemm(0, 0, 2, 0, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2);
    for (int i = 0; i < 4; i++)
        ck_assert_float_eq(c[i], 7.0f);
}
END_TEST

/* The BLAS thread count changes how work is split, not the answer. */
START_TEST(test_gemm_threads)
{
    const int m = 130, n = 120, k = 110;
    test_rng r;
    test_rng_seed(&r, 99);
    float *a = xalloc((size_t)m * k), *b = xalloc((size_t)k * n);
    float *c1 = xalloc((size_t)m * n), *c2 = xalloc((size_t)m * n);
    test_fill_uniform(&r, a, (size_t)m * k, -1.0f, 1.0f);
    test_fill_uniform(&r, b, (size_t)k * n, -1.0f, 1.0f);
    cnn_k_gemm_set_threads(1);
    cnn_k_gemm(0, 0, m, n, k, 1.0f, a, k, b, n, 0.0f, c1, n);
    cnn_k_gemm_set_threads(2);
    cnn_k_gemm(0, 0, m, n, k, 1.0f, a, k, b, n, 0.0f, c2, n);
    cnn_k_gemm_set_threads(0); /* out-of-range counts are clamped to 1 */
    cnn_k_gemm_set_threads(1);
    /* terms are products of values in [-1, 1], so sum|terms| <= k */
    ck_assert_double_le(test_max_abs_err(c1, c2, (size_t)m * n), RTOL * k);
    free(a);
    free(b);
    free(c1);
    free(c2);
}
END_TEST

static Suite *gemm_suite(void)
{
    Suite *s = suite_create("kernels_gemm");
    TCase *tc = tcase_create("gemm");
    tcase_add_loop_test(tc, test_gemm_all_sizes, 0, 4);
    tcase_add_test(tc, test_gemm_empty_k);
    tcase_add_test(tc, test_gemm_empty_mn);
    tcase_add_test(tc, test_gemm_threads);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(gemm_suite());
}
