/* Element-wise and row-wise kernels against naive references in double:
 * activations (forward and backward), biases, softmax (with large inputs),
 * negative log-likelihood and its gradient, argmax, dropout and SGD. */
#include "testutil.h"

#include "kernels/kernels.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Tolerances.  RTOL_SUM (1e-4) is for float sums, compared against
 * sum|terms| as in the other kernel suites; the sums here have at most a few
 * hundred terms, whose worst-case rounding (terms * 2^-24) stays below it.
 * RTOL_ELEM (1e-5) is for single expressions (expf, tanhf, a product or
 * two): those are within a few ulps (2^-24 ~ 6e-8 each) of the exact value,
 * so 1e-5 is loose yet still catches any wrong formula. */
#define RTOL_SUM 1e-4
#define RTOL_ELEM 1e-5

static float *xalloc(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    return p;
}

static float *random_floats(test_rng *r, size_t n, float lo, float hi)
{
    float *p = xalloc(n);
    test_fill_uniform(r, p, n, lo, hi);
    return p;
}

static const int acts[] = {CNN_K_ACT_IDENTITY, CNN_K_ACT_SIGMOID, CNN_K_ACT_TANH, CNN_K_ACT_RELU};
static const char *act_names[] = {"identity", "sigmoid", "tanh", "relu"};

static double act_ref(int act, double z)
{
    switch (act) {
    case CNN_K_ACT_SIGMOID:
        return 1.0 / (1.0 + exp(-z));
    case CNN_K_ACT_TANH:
        return tanh(z);
    case CNN_K_ACT_RELU:
        return z > 0 ? z : 0.0;
    default:
        return z;
    }
}

/* ---- activations ----------------------------------------------------------- */

/* _i = activation * 2 + (in place ? 1 : 0) */
START_TEST(test_act_fwd)
{
    const int ai = _i / 2, in_place = _i & 1, act = acts[ai];
    const size_t count = 1001; /* odd: catches vector-remainder mistakes */
    test_rng r;
    test_rng_seed(&r, 5000 + (unsigned)_i);
    /* [-20, 20]: well into sigmoid's and tanh's saturation */
    float *z = random_floats(&r, count, -20.0f, 20.0f);
    z[0] = 0.0f;
    z[1] = -100.0f; /* expf(100) overflows: sigmoid must still give 0 */
    z[2] = 100.0f;
    float *z0 = xalloc(count);
    for (size_t i = 0; i < count; i++)
        z0[i] = z[i];
    float *y = in_place ? z : xalloc(count);
    cnn_k_act_fwd(act, count, z, y);
    for (size_t i = 0; i < count; i++) {
        double want = act_ref(act, z0[i]);
        ck_assert_msg(fabs(y[i] - want) <= RTOL_ELEM * fabs(want) + 1e-30,
                      "%s(%g) = %.9g, want %.9g", act_names[ai], (double)z0[i], (double)y[i],
                      want);
    }
    if (!in_place) {
        for (size_t i = 0; i < count; i++)
            ck_assert(z[i] == z0[i] || (isnan(z[i]) && isnan(z0[i])));
        free(y);
    }
    free(z);
    free(z0);
}
END_TEST

/* _i = activation * 2 + (dz aliases dy ? 1 : 0).  dz = dy * f'(z), f' from y. */
START_TEST(test_act_bwd)
{
    const int ai = _i / 2, in_place = _i & 1, act = acts[ai];
    const size_t count = 1001;
    test_rng r;
    test_rng_seed(&r, 6000 + (unsigned)_i);
    float *z = random_floats(&r, count, -4.0f, 4.0f);
    z[0] = 0.0f; /* relu: y = 0 has derivative 0 */
    float *y = xalloc(count);
    cnn_k_act_fwd(act, count, z, y);
    float *dy = random_floats(&r, count, -1.0f, 1.0f);
    float *dy0 = xalloc(count);
    for (size_t i = 0; i < count; i++)
        dy0[i] = dy[i];
    float *dz = in_place ? dy : xalloc(count);
    cnn_k_act_bwd(act, count, y, dy, dz);
    for (size_t i = 0; i < count; i++) {
        double yy = y[i], d;
        switch (act) {
        case CNN_K_ACT_SIGMOID:
            d = yy * (1.0 - yy);
            break;
        case CNN_K_ACT_TANH:
            d = 1.0 - yy * yy;
            break;
        case CNN_K_ACT_RELU:
            d = yy > 0.0 ? 1.0 : 0.0;
            break;
        default:
            d = 1.0;
        }
        double want = dy0[i] * d;
        /* 1 - y*y loses up to 2^-24 absolute when |y| is near 1, so allow
         * that much (times |dy|) on top of the relative error */
        double tol = RTOL_ELEM * fabs(want) + 2e-7 * fabs(dy0[i]) + 1e-30;
        ck_assert_msg(fabs(dz[i] - want) <= tol, "%s' at y=%.9g: dz = %.9g, want %.9g",
                      act_names[ai], yy, (double)dz[i], want);
    }
    if (!in_place)
        free(dz);
    free(z);
    free(y);
    free(dy);
    free(dy0);
}
END_TEST

/* The network3 derivative convention: the derivative of ReLU at 0 is 0, so a
 * unit exactly at 0 passes no gradient; positive outputs pass it unchanged. */
START_TEST(test_act_relu_exact)
{
    float y[4] = {0.0f, 1e-30f, 2.0f, 0.0f}, dy[4] = {1, 2, 3, 4}, dz[4];
    cnn_k_act_bwd(CNN_K_ACT_RELU, 4, y, dy, dz);
    ck_assert_float_eq(dz[0], 0.0f);
    ck_assert_float_eq(dz[1], 2.0f);
    ck_assert_float_eq(dz[2], 3.0f);
    ck_assert_float_eq(dz[3], 0.0f);
}
END_TEST

/* ---- biases ------------------------------------------------------------------ */

/* _i = 0: n = 1, 1 = n = 7 */
START_TEST(test_bias_add_grad)
{
    const int n = _i ? 7 : 1, c = 5;
    const size_t plane = 13 * 11;
    const size_t total = (size_t)n * c * plane;
    test_rng r;
    test_rng_seed(&r, 7000 + (unsigned)_i);
    float *y = random_floats(&r, total, -1.0f, 1.0f), *y0 = xalloc(total);
    float *b = random_floats(&r, (size_t)c, -1.0f, 1.0f);
    for (size_t i = 0; i < total; i++)
        y0[i] = y[i];
    cnn_k_bias_add(n, c, plane, b, y);
    for (int s = 0; s < n; s++)
        for (int ch = 0; ch < c; ch++)
            for (size_t p = 0; p < plane; p++) {
                size_t at = ((size_t)s * c + ch) * plane + p;
                ck_assert_float_eq(y[at], y0[at] + b[ch]); /* one float add: exact */
            }

    float db[5] = {NAN, NAN, NAN, NAN, NAN};
    cnn_k_bias_grad(n, c, plane, y0, db);
    for (int ch = 0; ch < c; ch++) {
        double sum = 0.0, mag = 0.0;
        for (int s = 0; s < n; s++)
            for (size_t p = 0; p < plane; p++) {
                sum += y0[((size_t)s * c + ch) * plane + p];
                mag += fabs(y0[((size_t)s * c + ch) * plane + p]);
            }
        ck_assert_double_le(fabs(db[ch] - sum), RTOL_SUM * mag);
    }
    free(y);
    free(y0);
    free(b);
}
END_TEST

/* ---- softmax and its cost ------------------------------------------------ */

/* Row-wise softmax in double, stabilised the same way. */
static void softmax_ref(int n, int k, const float *z, double *y)
{
    for (int i = 0; i < n; i++) {
        const float *zi = z + (size_t)i * k;
        double m = zi[0], s = 0.0;
        for (int j = 1; j < k; j++)
            m = fmax(m, zi[j]);
        for (int j = 0; j < k; j++)
            s += exp((double)zi[j] - m);
        for (int j = 0; j < k; j++)
            y[(size_t)i * k + j] = exp((double)zi[j] - m) / s;
    }
}

static void check_softmax(int n, int k, const float *z, int in_place)
{
    float *zc = xalloc((size_t)n * k);
    double *want = malloc((size_t)n * k * sizeof *want);
    ck_assert_ptr_nonnull(want);
    for (size_t i = 0; i < (size_t)n * k; i++)
        zc[i] = z[i];
    softmax_ref(n, k, z, want);
    float *y = in_place ? zc : xalloc((size_t)n * k);
    cnn_k_softmax_fwd(n, k, zc, y);
    for (int i = 0; i < n; i++) {
        double rowsum = 0.0;
        for (int j = 0; j < k; j++) {
            double got = y[(size_t)i * k + j], w = want[(size_t)i * k + j];
            ck_assert_msg(isfinite(got), "softmax row %d col %d not finite", i, j);
            ck_assert_msg(fabs(got - w) <= RTOL_ELEM * w + 1e-30,
                          "softmax n=%d k=%d [%d][%d] = %.9g, want %.9g", n, k, i, j, got, w);
            rowsum += got;
        }
        ck_assert_double_le(fabs(rowsum - 1.0), RTOL_ELEM);
    }
    if (!in_place)
        free(y);
    free(zc);
    free(want);
}

/* _i = 0..3: (n, k) in {(1,1), (1,10), (7,10), (7,3)}, odd _i in place */
/* cnn_k_bias_act in one pass gives the bits of bias_add then act_fwd, for
 * every activation, on values that include NaN, infinities and signed zeros. */
START_TEST(test_bias_act_same_bits)
{
    static const float special[] = {0.0f, -0.0f, NAN, INFINITY, -INFINITY, 1e-40f, -3.5f, 2.25f};
    const int act = _i, c = 3;
    const size_t plane = 37, n = (size_t)c * plane;
    float b[3] = {0.5f, -0.0f, -2.25f};
    float *fused = malloc(n * sizeof *fused), *split = malloc(n * sizeof *split);
    ck_assert_ptr_nonnull(fused);
    ck_assert_ptr_nonnull(split);
    for (size_t i = 0; i < n; i++)
        fused[i] = split[i] = i % 3 == 0 ? special[(i / 3) % 8] : (float)((int)(i * 7 % 11) - 5) / 4.0f;
    cnn_k_bias_act(act, c, plane, b, fused);
    cnn_k_bias_add(1, c, plane, b, split);
    cnn_k_act_fwd(act, n, split, split);
    ck_assert_msg(memcmp(fused, split, n * sizeof *fused) == 0, "activation %d: fused bias+act differs",
                  act);
    free(fused);
    free(split);
}
END_TEST

START_TEST(test_softmax_fwd_random)
{
    static const int nk[][2] = {{1, 1}, {1, 10}, {7, 10}, {7, 3}};
    const int n = nk[_i][0], k = nk[_i][1];
    test_rng r;
    test_rng_seed(&r, 8000 + (unsigned)_i);
    float *z = random_floats(&r, (size_t)n * k, -8.0f, 8.0f);
    check_softmax(n, k, z, _i & 1);
    free(z);
}
END_TEST

/* Inputs around +-1000 would overflow exp() without the max subtracted. */
START_TEST(test_softmax_fwd_large)
{
    const float z[] = {
        1000.0f, 999.0f,  998.0f,  -1000.0f, /* large positive: exp(1000) = inf */
        -1000.0f, -999.0f, -1001.0f, -998.0f, /* large negative: all exp() underflow */
        1000.0f, 1000.0f, 1000.0f, 1000.0f,   /* equal: exactly uniform */
        88.0f,   89.0f,   -88.0f,  0.0f,      /* around expf's overflow threshold */
    };
    check_softmax(4, 4, z, 0);
    check_softmax(4, 4, z, 1);
    float y[4];
    cnn_k_softmax_fwd(1, 4, z + 8, y);
    for (int j = 0; j < 4; j++)
        ck_assert_float_eq(y[j], 0.25f);
}
END_TEST

START_TEST(test_nll_sum)
{
    const int n = 7, k = 10;
    test_rng r;
    test_rng_seed(&r, 9000);
    float *z = random_floats(&r, (size_t)n * k, -5.0f, 5.0f);
    float *y = xalloc((size_t)n * k);
    int32_t labels[7];
    cnn_k_softmax_fwd(n, k, z, y);
    double want = 0.0;
    for (int i = 0; i < n; i++) {
        labels[i] = (int32_t)(test_rng_uniform(&r) * k);
        want -= log((double)y[(size_t)i * k + labels[i]]);
    }
    /* the sum is done in double by both: only log's rounding differs */
    ck_assert_double_le(fabs(cnn_k_nll_sum(n, k, y, labels) - want), 1e-12 * fabs(want));

    /* a probability that underflowed to 0 costs -log(FLT_MIN), not infinity */
    float y0[3] = {0.0f, 1.0f, 0.0f};
    int32_t lab0[1] = {0};
    double c0 = cnn_k_nll_sum(1, 3, y0, lab0);
    ck_assert(isfinite(c0));
    ck_assert_double_eq_tol(c0, -log((double)FLT_MIN), 1e-9);
    int32_t lab1[1] = {1};
    ck_assert_double_eq(cnn_k_nll_sum(1, 3, y0, lab1), 0.0);
    free(z);
    free(y);
}
END_TEST

START_TEST(test_softmax_nll_bwd)
{
    const int n = 7, k = 10;
    const float scale = 1.0f / 7.0f; /* the mean over the batch */
    test_rng r;
    test_rng_seed(&r, 9100);
    float *z = random_floats(&r, (size_t)n * k, -5.0f, 5.0f);
    float *y = xalloc((size_t)n * k), *dz = xalloc((size_t)n * k);
    int32_t labels[7];
    cnn_k_softmax_fwd(n, k, z, y);
    for (int i = 0; i < n; i++)
        labels[i] = (int32_t)(test_rng_uniform(&r) * k);
    cnn_k_softmax_nll_bwd(n, k, y, labels, scale, dz);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++) {
            double want = scale * ((double)y[(size_t)i * k + j] - (j == labels[i] ? 1.0 : 0.0));
            /* |scale*y| and |scale| <= 1/7: a couple of roundings of that size */
            ck_assert_double_le(fabs(dz[(size_t)i * k + j] - want), 1e-7);
        }

    /* Consistency: the general backward with the cost's own gradient
     * dy_j = -[j = label] / y_label gives the same as the fused form. */
    float *dy = xalloc((size_t)n * k), *dz2 = xalloc((size_t)n * k);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++)
            dy[(size_t)i * k + j] = j == labels[i] ? -scale / y[(size_t)i * k + j] : 0.0f;
    cnn_k_softmax_bwd(n, k, y, dy, dz2);
    ck_assert_double_le(test_max_abs_err(dz, dz2, (size_t)n * k), 1e-6);
    free(z);
    free(y);
    free(dz);
    free(dy);
    free(dz2);
}
END_TEST

/* _i = 0: n = 1, 1: n = 7.  dz = J^T dy with J = diag(y) - y y^T per row. */
START_TEST(test_softmax_bwd)
{
    const int n = _i ? 7 : 1, k = 10;
    test_rng r;
    test_rng_seed(&r, 9200 + (unsigned)_i);
    float *z = random_floats(&r, (size_t)n * k, -3.0f, 3.0f);
    float *y = xalloc((size_t)n * k), *dz = xalloc((size_t)n * k);
    float *dy = random_floats(&r, (size_t)n * k, -1.0f, 1.0f);
    cnn_k_softmax_fwd(n, k, z, y);
    cnn_k_softmax_bwd(n, k, y, dy, dz);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++) {
            double sum = 0.0, mag = 0.0;
            for (int l = 0; l < k; l++) {
                double yj = y[(size_t)i * k + j], yl = y[(size_t)i * k + l];
                double t = yj * ((j == l ? 1.0 : 0.0) - yl) * dy[(size_t)i * k + l];
                sum += t;
                mag += fabs(t);
            }
            ck_assert_msg(fabs(dz[(size_t)i * k + j] - sum) <= RTOL_SUM * mag + 1e-30,
                          "softmax_bwd [%d][%d] = %.9g, want %.9g", i, j,
                          (double)dz[(size_t)i * k + j], sum);
        }
    free(z);
    free(y);
    free(dz);
    free(dy);
}
END_TEST

START_TEST(test_argmax_rows)
{
    const float y[] = {
        0.1f, 0.3f, 0.3f, 0.2f,  /* tie: lowest index (1) wins */
        0.5f, 0.5f, 0.5f, 0.5f,  /* all equal: 0 */
        -3.0f, -2.0f, -1.0f, -4.0f, /* all negative: 2 */
        0.0f, 0.0f, 0.0f, 1.0f,  /* last: 3 */
    };
    int32_t labels[4] = {-1, -1, -1, -1};
    cnn_k_argmax_rows(4, 4, y, labels);
    ck_assert_int_eq(labels[0], 1);
    ck_assert_int_eq(labels[1], 0);
    ck_assert_int_eq(labels[2], 2);
    ck_assert_int_eq(labels[3], 3);

    /* random rows against a naive scan; a single column is always 0 */
    const int n = 7, k = 10;
    test_rng r;
    test_rng_seed(&r, 9300);
    float *x = random_floats(&r, (size_t)n * k, -1.0f, 1.0f);
    int32_t got[7];
    cnn_k_argmax_rows(n, k, x, got);
    for (int i = 0; i < n; i++) {
        int best = 0;
        for (int j = 1; j < k; j++)
            if (x[(size_t)i * k + j] > x[(size_t)i * k + best])
                best = j;
        ck_assert_int_eq(got[i], best);
    }
    cnn_k_argmax_rows(n, 1, x, got);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(got[i], 0);
    free(x);
}
END_TEST

/* ---- dropout ------------------------------------------------------------------- */

START_TEST(test_dropout_apply)
{
    const size_t count = 257;
    test_rng r;
    test_rng_seed(&r, 9400);
    float *x = random_floats(&r, count, -1.0f, 1.0f), *x0 = xalloc(count), *y = xalloc(count);
    uint8_t *mask = malloc(count);
    ck_assert_ptr_nonnull(mask);
    for (size_t i = 0; i < count; i++) {
        mask[i] = test_rng_uniform(&r) < 0.5 ? 1 : 0;
        x0[i] = x[i];
    }
    cnn_k_dropout_apply(count, x, mask, y);
    for (size_t i = 0; i < count; i++) {
        ck_assert_float_eq(y[i], mask[i] ? x0[i] : 0.0f);
        ck_assert_float_eq(x[i], x0[i]); /* input untouched */
    }
    cnn_k_dropout_apply(count, x, mask, x); /* in place */
    for (size_t i = 0; i < count; i++)
        ck_assert_float_eq(x[i], y[i]);
    /* a dropped inf or NaN is exactly +0; a kept one, and a kept -0, pass
     * bit for bit; any nonzero mask byte keeps */
    const float special[4] = {INFINITY, NAN, -INFINITY, -0.0f};
    for (int k = 0; k < 4; k++)
        for (int keep = 0; keep < 3; keep++) {
            const uint8_t m = (uint8_t)(keep == 2 ? 0x80 : keep);
            float out;
            cnn_k_dropout_apply(1, &special[k], &m, &out);
            const float want = m ? special[k] : 0.0f;
            ck_assert_int_eq(memcmp(&out, &want, sizeof out), 0);
        }
    free(x);
    free(x0);
    free(y);
    free(mask);
}
END_TEST

/* ---- sgd ------------------------------------------------------------------------- */

/* _i: bit 0 = momentum 0.9 (else 0), bit 1 = decay 1 - 0.1*0.5/10 (else 1).
 * Five steps with fresh gradients, against the formulas in double. */
START_TEST(test_sgd_update)
{
    const size_t count = 37;
    const float eta = 0.1f, lambda_over_b = 0.5f / 10.0f;
    const float momentum = (_i & 1) ? 0.9f : 0.0f;
    const float decay = (_i & 2) ? 1.0f - eta * lambda_over_b : 1.0f;
    test_rng r;
    test_rng_seed(&r, 9500 + (unsigned)_i);
    float *p = random_floats(&r, count, -1.0f, 1.0f);
    float *v = momentum != 0.0f ? xalloc(count) : NULL; /* without momentum v may be NULL */
    double *pd = malloc(count * sizeof *pd), *vd = calloc(count, sizeof *vd);
    ck_assert_ptr_nonnull(pd);
    ck_assert_ptr_nonnull(vd);
    for (size_t i = 0; i < count; i++) {
        pd[i] = p[i];
        if (v)
            v[i] = 0.0f;
    }
    for (int step = 0; step < 5; step++) {
        float *g = random_floats(&r, count, -1.0f, 1.0f);
        cnn_k_sgd_update(count, p, g, v, eta, momentum, decay);
        for (size_t i = 0; i < count; i++) {
            if (momentum == 0.0f) {
                pd[i] = (double)decay * pd[i] - (double)eta * g[i];
            } else {
                vd[i] = (double)momentum * vd[i] - (double)eta * g[i] -
                        (1.0 - (double)decay) * pd[i];
                pd[i] += vd[i];
            }
        }
        /* a handful of float operations per step on values of order 1:
         * absolute error a few 1e-7 after five steps */
        for (size_t i = 0; i < count; i++) {
            ck_assert_msg(fabs(p[i] - pd[i]) <= 2e-6, "step %d: p[%zu] = %.9g, want %.9g", step,
                          i, (double)p[i], pd[i]);
            if (v)
                ck_assert_msg(fabs(v[i] - vd[i]) <= 2e-6, "step %d: v[%zu] = %.9g, want %.9g",
                              step, i, (double)v[i], vd[i]);
        }
        free(g);
    }
    free(p);
    free(v);
    free(pd);
    free(vd);
}
END_TEST

/* Hand-worked values, so the formula itself (not just its implementation)
 * is pinned: p = 1, g = 1, eta = 0.5, decay = 0.75.
 * No momentum: p = 0.75*1 - 0.5*1 = 0.25.
 * Momentum 0.5, v = 0.5: v = 0.25 - 0.5 - 0.25*1 = -0.5; p = 1 - 0.5 = 0.5. */
START_TEST(test_sgd_hand_values)
{
    float p = 1.0f, g = 1.0f, v = 0.5f;
    cnn_k_sgd_update(1, &p, &g, NULL, 0.5f, 0.0f, 0.75f);
    ck_assert_float_eq(p, 0.25f);
    p = 1.0f;
    cnn_k_sgd_update(1, &p, &g, &v, 0.5f, 0.5f, 0.75f);
    ck_assert_float_eq(v, -0.5f);
    ck_assert_float_eq(p, 0.5f);
}
END_TEST

/* ReLU backward: dz = dy where y > 0 and exactly +0 elsewhere, whatever dy
 * is there (inf, NaN); a NaN y counts as not > 0.  In place too. */
START_TEST(test_relu_bwd_special)
{
    const float y[8] = {1.0f, -1.0f, 0.0f, -0.0f, NAN, 2.0f, 3.0f, -INFINITY};
    const float dy[8] = {NAN, NAN, INFINITY, -5.0f, 7.0f, -0.0f, INFINITY, 1.0f};
    const float want[8] = {NAN, 0.0f, 0.0f, 0.0f, 0.0f, -0.0f, INFINITY, 0.0f};
    float dz[8], inplace[8];
    memcpy(inplace, dy, sizeof inplace);
    cnn_k_act_bwd(CNN_K_ACT_RELU, 8, y, dy, dz);
    cnn_k_act_bwd(CNN_K_ACT_RELU, 8, y, inplace, inplace);
    for (int i = 0; i < 8; i++) {
        ck_assert_msg(memcmp(&dz[i], &want[i], sizeof dz[i]) == 0, "element %d: %g, want %g", i,
                      (double)dz[i], (double)want[i]);
        ck_assert_int_eq(memcmp(&inplace[i], &want[i], sizeof dz[i]), 0);
    }
}
END_TEST

/* cnn_k_find_non_finite: the first NaN or infinity, wherever it falls
 * relative to the scan's 4096-float blocks; huge and subnormal finite values
 * are not flagged. */
START_TEST(test_find_non_finite)
{
    const size_t n = 3 * 4096 + 17;
    float *p = malloc(n * sizeof *p);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (i % 3 == 0) ? FLT_MAX : (i % 3 == 1) ? -1e-40f : (float)i;
    ck_assert_uint_eq(cnn_k_find_non_finite(p, n), n);
    ck_assert_uint_eq(cnn_k_find_non_finite(p, 0), 0);
    const size_t at[] = {0, 1, 4095, 4096, 4097, 8191, 2 * 4096 + 5, n - 1};
    const float bad[] = {NAN, INFINITY, -INFINITY, -NAN};
    for (size_t a = 0; a < sizeof at / sizeof at[0]; a++)
        for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
            const float keep = p[at[a]];
            p[at[a]] = bad[b];
            ck_assert_uint_eq(cnn_k_find_non_finite(p, n), at[a]);
            ck_assert_uint_eq(cnn_k_find_non_finite(p, at[a]), at[a]); /* not within range */
            if (at[a] + 1 < n) { /* a later one does not hide the first */
                p[n - 1] = NAN;
                ck_assert_uint_eq(cnn_k_find_non_finite(p, n), at[a]);
                p[n - 1] = (float)(n - 1);
            }
            p[at[a]] = keep;
        }
    free(p);
}
END_TEST

static Suite *misc_suite(void)
{
    Suite *s = suite_create("kernels_misc");
    TCase *tc = tcase_create("misc");
    tcase_add_loop_test(tc, test_act_fwd, 0, 8);
    tcase_add_loop_test(tc, test_act_bwd, 0, 8);
    tcase_add_test(tc, test_act_relu_exact);
    tcase_add_loop_test(tc, test_bias_add_grad, 0, 2);
    tcase_add_loop_test(tc, test_bias_act_same_bits, 0, 4);
    tcase_add_loop_test(tc, test_softmax_fwd_random, 0, 4);
    tcase_add_test(tc, test_softmax_fwd_large);
    tcase_add_test(tc, test_nll_sum);
    tcase_add_test(tc, test_softmax_nll_bwd);
    tcase_add_loop_test(tc, test_softmax_bwd, 0, 2);
    tcase_add_test(tc, test_argmax_rows);
    tcase_add_test(tc, test_dropout_apply);
    tcase_add_test(tc, test_find_non_finite);
    tcase_add_test(tc, test_relu_bwd_special);
    tcase_add_loop_test(tc, test_sgd_update, 0, 4);
    tcase_add_test(tc, test_sgd_hand_values);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(misc_suite());
}
