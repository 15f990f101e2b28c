/* Fully connected kernels against naive loops in double: forward with and
 * without bias and with alpha != 1 (dropout's inference scaling), backward
 * to the data and to the weights/biases, batches 1 and 7, odd sizes. */
#include "testutil.h"

#include "kernels/kernels.h"

#include <math.h>
#include <stdlib.h>

/* Tolerance: outputs are float sums of at most 784 products (or n = 7 for the
 * weight gradient).  Errors grow like sqrt(terms) * 2^-24 ~ 2e-6 relative
 * to sum|terms|, and the worst case 784 * 2^-24 = 4.7e-5 is still below 1e-4. */
#define RTOL 1e-4

/* (in, out) pairs: degenerate, odd, and network3's 100 -> 10 and 784 -> 30. */
static const int dims[][2] = {{1, 1}, {13, 5}, {3, 17}, {100, 10}, {784, 30}};
#define NDIMS ((int)(sizeof dims / sizeof dims[0]))

static float *random_floats(test_rng *r, size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    test_fill_uniform(r, p, n, -1.0f, 1.0f);
    return p;
}

static float *nan_floats(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++)
        p[i] = NAN;
    return p;
}

static void check_one(const char *what, int in, int out, int n, size_t idx, double got,
                      double want, double mag)
{
    ck_assert_msg(fabs(got - want) <= RTOL * mag + 1e-30,
                  "%s in=%d out=%d n=%d: element %zu = %.9g, want %.9g", what, in, out, n, idx,
                  got, want);
}

/* _i = dims * 8 + (batch 7 ? 4 : 0) + (bias ? 2 : 0) + (alpha 0.5 ? 1 : 0). */
START_TEST(test_dense_fwd)
{
    const int di = _i / 8, n = (_i & 4) ? 7 : 1, with_bias = _i & 2;
    const int in = dims[di][0], out = dims[di][1];
    const float alpha = (_i & 1) ? 0.5f : 1.0f; /* 0.5: inference behind p = 0.5 dropout */
    test_rng r;
    test_rng_seed(&r, 2000 + (unsigned)_i);
    float *x = random_floats(&r, (size_t)n * in), *w = random_floats(&r, (size_t)out * in);
    float *b = with_bias ? random_floats(&r, (size_t)out) : NULL;
    float *y = nan_floats((size_t)n * out);
    cnn_k_dense_fwd(n, in, out, x, w, b, alpha, y);
    for (int s = 0; s < n; s++)
        for (int o = 0; o < out; o++) {
            double sum = 0.0, mag = 0.0;
            for (int k = 0; k < in; k++) {
                double t = (double)x[(size_t)s * in + k] * w[(size_t)o * in + k];
                sum += t;
                mag += fabs(t);
            }
            /* the bias is not scaled by alpha */
            double want = alpha * sum + (b ? b[o] : 0.0);
            mag = alpha * mag + (b ? fabs(b[o]) : 0.0);
            check_one("dense_fwd", in, out, n, (size_t)s * out + o, y[(size_t)s * out + o], want,
                      mag);
        }
    free(x);
    free(w);
    free(b);
    free(y);
}
END_TEST

/* _i = dims * 2 + (batch 7 ? 1 : 0).  dx[s][k] = sum_o dz[s][o] w[o][k]. */
START_TEST(test_dense_bwd_data)
{
    const int di = _i / 2, n = (_i & 1) ? 7 : 1;
    const int in = dims[di][0], out = dims[di][1];
    test_rng r;
    test_rng_seed(&r, 3000 + (unsigned)_i);
    float *dz = random_floats(&r, (size_t)n * out), *w = random_floats(&r, (size_t)out * in);
    float *dx = nan_floats((size_t)n * in);
    cnn_k_dense_bwd_data(n, in, out, dz, w, dx);
    for (int s = 0; s < n; s++)
        for (int k = 0; k < in; k++) {
            double sum = 0.0, mag = 0.0;
            for (int o = 0; o < out; o++) {
                double t = (double)dz[(size_t)s * out + o] * w[(size_t)o * in + k];
                sum += t;
                mag += fabs(t);
            }
            check_one("dense_bwd_data", in, out, n, (size_t)s * in + k, dx[(size_t)s * in + k],
                      sum, mag);
        }
    free(dz);
    free(w);
    free(dx);
}
END_TEST

/* _i = dims * 4 + (batch 7 ? 2 : 0) + (db ? 1 : 0).
 * dw[o][k] = sum_s dz[s][o] x[s][k];  db[o] = sum_s dz[s][o]. */
START_TEST(test_dense_bwd_weights)
{
    const int di = _i / 4, n = (_i & 2) ? 7 : 1, with_db = _i & 1;
    const int in = dims[di][0], out = dims[di][1];
    test_rng r;
    test_rng_seed(&r, 4000 + (unsigned)_i);
    float *x = random_floats(&r, (size_t)n * in), *dz = random_floats(&r, (size_t)n * out);
    float *dw = nan_floats((size_t)out * in);
    float *db = with_db ? nan_floats((size_t)out) : NULL;
    cnn_k_dense_bwd_weights(n, in, out, x, dz, dw, db);
    for (int o = 0; o < out; o++) {
        for (int k = 0; k < in; k++) {
            double sum = 0.0, mag = 0.0;
            for (int s = 0; s < n; s++) {
                double t = (double)dz[(size_t)s * out + o] * x[(size_t)s * in + k];
                sum += t;
                mag += fabs(t);
            }
            check_one("dense_bwd_weights dw", in, out, n, (size_t)o * in + k,
                      dw[(size_t)o * in + k], sum, mag);
        }
        if (db) {
            double sum = 0.0, mag = 0.0;
            for (int s = 0; s < n; s++) {
                sum += dz[(size_t)s * out + o];
                mag += fabs(dz[(size_t)s * out + o]);
            }
            check_one("dense_bwd_weights db", in, out, n, (size_t)o, db[o], sum, mag);
        }
    }
    free(x);
    free(dz);
    free(dw);
    free(db);
}
END_TEST

static Suite *dense_suite(void)
{
    Suite *s = suite_create("kernels_dense");
    TCase *tc = tcase_create("dense");
    tcase_add_loop_test(tc, test_dense_fwd, 0, NDIMS * 8);
    tcase_add_loop_test(tc, test_dense_bwd_data, 0, NDIMS * 2);
    tcase_add_loop_test(tc, test_dense_bwd_weights, 0, NDIMS * 4);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(dense_suite());
}
