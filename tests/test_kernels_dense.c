/* Fully connected kernels against naive loops in double: forward with and
 * without bias and with alpha != 1 (dropout's inference scaling), backward
 * to the data and to the weights/biases, batches 1 and 7, odd sizes. */
#include "testutil.h"

#include "kernels/kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tolerance: outputs are float sums of at most 784 products (or n = 7 for the
 * weight gradient).  Errors grow like sqrt(terms) * 2^-24 ~ 2e-6 relative
 * to sum|terms|, and the worst case 784 * 2^-24 = 4.7e-5 is still below 1e-4. */
#define RTOL 1e-4

/* (in, out) pairs: degenerate, odd, and network3's 100 -> 10 and 784 -> 30;
 * the last ones exercise every block remainder of the small-batch kernels
 * (in % 8, in % 24, in % 32 and out % 4 all non-zero). */
static const int dims[][2] = {{1, 1}, {13, 5}, {3, 17}, {100, 10}, {784, 30}, {59, 7}, {1000, 3}};
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

/* Every kernel over batch sizes either side of CNN_K_DENSE_SMALL_N (the
 * small-batch kernels for n <= 16, BLAS above), all block remainders.
 * _i = dims index. */
static const int batches[] = {1, 2, 3, 4, 5, 6, 10, 13, 16, 17, 20};
#define NBATCHES ((int)(sizeof batches / sizeof batches[0]))

START_TEST(test_dense_batches)
{
    const int in = dims[_i][0], out = dims[_i][1];
    for (int bi = 0; bi < NBATCHES; bi++) {
        const int n = batches[bi];
        test_rng r;
        test_rng_seed(&r, 5000 + (unsigned)(_i * 100 + bi));
        float *x = random_floats(&r, (size_t)n * in), *w = random_floats(&r, (size_t)out * in);
        float *b = random_floats(&r, (size_t)out), *dz = random_floats(&r, (size_t)n * out);
        float *y = nan_floats((size_t)n * out), *dx = nan_floats((size_t)n * in);
        float *dw = nan_floats((size_t)out * in), *db = nan_floats((size_t)out);
        cnn_k_dense_fwd(n, in, out, x, w, b, 0.75f, y);
        cnn_k_dense_bwd_data(n, in, out, dz, w, dx);
        cnn_k_dense_bwd_weights(n, in, out, x, dz, dw, db);
        for (int s = 0; s < n; s++)
            for (int o = 0; o < out; o++) {
                double sum = 0.0, mag = 0.0;
                for (int k = 0; k < in; k++) {
                    double t = (double)x[(size_t)s * in + k] * w[(size_t)o * in + k];
                    sum += t;
                    mag += fabs(t);
                }
                check_one("dense_fwd", in, out, n, (size_t)s * out + o, y[(size_t)s * out + o],
                          0.75 * sum + b[o], 0.75 * mag + fabs(b[o]));
            }
        for (int s = 0; s < n; s++)
            for (int k = 0; k < in; k++) {
                double sum = 0.0, mag = 0.0;
                for (int o = 0; o < out; o++) {
                    double t = (double)dz[(size_t)s * out + o] * w[(size_t)o * in + k];
                    sum += t;
                    mag += fabs(t);
                }
                check_one("dense_bwd_data", in, out, n, (size_t)s * in + k,
                          dx[(size_t)s * in + k], sum, mag);
            }
        for (int o = 0; o < out; o++) {
            double bsum = 0.0, bmag = 0.0;
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
            for (int s = 0; s < n; s++) {
                bsum += dz[(size_t)s * out + o];
                bmag += fabs(dz[(size_t)s * out + o]);
            }
            check_one("dense_bwd_weights db", in, out, n, (size_t)o, db[o], bsum, bmag);
        }
        free(x);
        free(w);
        free(b);
        free(dz);
        free(y);
        free(dx);
        free(dw);
        free(db);
    }
}
END_TEST

/* The fused weight-gradient + SGD kernel: bit-identical to the gradient
 * followed by cnn_k_sgd_update (momentum 0), weights and bias gradient, at every
 * batch size.  _i = dims index. */
START_TEST(test_dense_sgd_fused)
{
    const int in = dims[_i][0], out = dims[_i][1];
    const float eta = 0.03f, decay = 1.0f - 0.03f * 0.1f / 50.0f;
    for (int bi = 0; bi < NBATCHES; bi++) {
        const int n = batches[bi];
        test_rng r;
        test_rng_seed(&r, 6000 + (unsigned)(_i * 100 + bi));
        float *x = random_floats(&r, (size_t)n * in), *dz = random_floats(&r, (size_t)n * out);
        float *w1 = random_floats(&r, (size_t)out * in);
        float *w2 = malloc((size_t)out * in * sizeof *w2), *dw = nan_floats((size_t)out * in);
        float *dw2 = nan_floats((size_t)out * in);
        float *db1 = nan_floats((size_t)out), *db2 = nan_floats((size_t)out);
        ck_assert_ptr_nonnull(w2);
        memcpy(w2, w1, (size_t)out * in * sizeof *w2);
        cnn_k_dense_bwd_weights(n, in, out, x, dz, dw, db1);
        cnn_k_sgd_update((size_t)out * in, w1, dw, NULL, eta, 0.0f, decay);
        cnn_k_dense_bwd_weights_sgd(n, in, out, x, dz, dw2, w2, db2, eta, decay);
        ck_assert_msg(memcmp(w1, w2, (size_t)out * in * sizeof *w1) == 0,
                      "fused SGD differs from the two-pass update, in=%d out=%d n=%d", in, out, n);
        ck_assert(memcmp(db1, db2, (size_t)out * sizeof *db1) == 0);
        free(x);
        free(dz);
        free(w1);
        free(w2);
        free(dw);
        free(dw2);
        free(db1);
        free(db2);
    }
}
END_TEST

/* cnn_train_step fuses the plain-SGD update into the dense and softmax
 * layers' backward pass: parameters must come out bit-identical to forward +
 * cnn_net_backward + cnn_optimizer_step (the fused layers' weight gradients
 * are not stored, by design).  _i: 0 plain, 1 with
 * dropout and L2, 2 batch 20 (the BLAS path). */
static cnn_net *small_net(float dropout)
{
    cnn_net *net;
    ck_assert_int_eq(cnn_net_create(1, 6, 9, 42, &net), CNN_OK);
    cnn_dense_params d;
    cnn_dense_params_init(&d, 37);
    d.dropout = dropout;
    cnn_layer *l;
    ck_assert_int_eq(cnn_dense_create(&d, &l), CNN_OK);
    ck_assert_int_eq(cnn_net_add(net, l), CNN_OK);
    cnn_softmax_params sp;
    cnn_softmax_params_init(&sp, 10);
    sp.dropout = dropout;
    ck_assert_int_eq(cnn_softmax_create(&sp, &l), CNN_OK);
    ck_assert_int_eq(cnn_net_add(net, l), CNN_OK);
    return net;
}

START_TEST(test_train_step_fused)
{
    const int n = _i == 2 ? 20 : 10;
    const float dropout = _i == 1 ? 0.5f : 0.0f;
    cnn_net *a = small_net(dropout), *b = small_net(dropout);
    cnn_sgd_params sp;
    cnn_sgd_params_init(&sp, 0.1f);
    sp.l2 = _i == 1 ? 0.1f : 0.0f;
    sp.l2_batches = 100;
    cnn_optimizer *oa, *ob;
    ck_assert_int_eq(cnn_sgd_create(&sp, &oa), CNN_OK);
    ck_assert_int_eq(cnn_sgd_create(&sp, &ob), CNN_OK);
    test_rng r;
    test_rng_seed(&r, 7000 + (unsigned)_i);
    float *x = random_floats(&r, (size_t)n * 54);
    int32_t labels[20];
    for (int i = 0; i < n; i++)
        labels[i] = (int32_t)((i * 7) % 10);
    int64_t shape[4] = {n, 1, 6, 9};
    cnn_tensor *t;
    ck_assert_int_eq(cnn_tensor_wrap(4, shape, x, &t), CNN_OK);
    for (int step = 0; step < 3; step++) {
        double ca, cb;
        ck_assert_int_eq(cnn_train_step(a, oa, t, labels, &ca), CNN_OK);
        ck_assert_int_eq(cnn_net_forward(b, t, CNN_MODE_TRAIN, NULL), CNN_OK);
        ck_assert_int_eq(cnn_net_backward(b, labels, &cb), CNN_OK);
        ck_assert_int_eq(cnn_optimizer_step(ob, b), CNN_OK);
        ck_assert(ca == cb);
        const size_t np = (size_t)cnn_net_param_count(a);
        ck_assert(memcmp(cnn_net_params(a), cnn_net_params(b), np * sizeof(float)) == 0);
    }
    cnn_tensor_destroy(t);
    free(x);
    cnn_optimizer_destroy(oa);
    cnn_optimizer_destroy(ob);
    cnn_net_destroy(a);
    cnn_net_destroy(b);
}
END_TEST

/* ---- the plain-C and SIMD paths --------------------------------------------
 * The small-batch kernels dispatch at run time (dense_simd.h); on an AVX2
 * machine the plain-C fallbacks run only when CNN_ISA=generic selects them
 * (tests/meson.build runs this suite both ways).  test_isa_environment
 * checks that the variable really selects the path, so the second run is
 * not silently a copy of the first; test_dense_isa_paths runs every
 * dispatched kernel on both paths in one process and compares the results
 * against each other and against double-precision sums. */
START_TEST(test_isa_environment)
{
    const char *v = getenv("CNN_ISA");
    int want = cnn_k_isa_best();
    for (int isa = CNN_K_ISA_GENERIC; v && isa < cnn_k_isa_best(); isa++)
        if (strcmp(v, cnn_k_isa_name(isa)) == 0)
            want = isa;
    ck_assert_msg(cnn_k_isa() == want, "CNN_ISA=%s: kernels use %s, want %s", v ? v : "(unset)",
                  cnn_k_isa_name(cnn_k_isa()), cnn_k_isa_name(want));
    ck_assert(cnn_k_isa_set(CNN_K_ISA_GENERIC));
    ck_assert_int_eq(cnn_k_isa(), CNN_K_ISA_GENERIC);
    ck_assert(cnn_k_isa_set(cnn_k_isa_best()));
    ck_assert_int_eq(cnn_k_isa(), cnn_k_isa_best());
    ck_assert(!cnn_k_isa_set(cnn_k_isa_best() + 1)); /* beyond the CPU: refused */
    ck_assert_int_eq(cnn_k_isa(), cnn_k_isa_best());
    ck_assert_int_eq(cnn_isa(), cnn_k_isa());
    ck_assert_int_eq(cnn_isa_best(), cnn_k_isa_best());
    ck_assert_str_eq(cnn_isa_name(CNN_ISA_AVX512), "avx512");
    ck_assert_str_eq(cnn_isa_name(CNN_ISA_AVX2), "avx2");
    ck_assert_str_eq(cnn_isa_name(CNN_ISA_GENERIC), "generic");
    ck_assert_str_eq(cnn_isa_name(7), "unknown");
    ck_assert_str_eq(cnn_isa_name(-1), "unknown");
    ck_assert(cnn_k_isa_set(-1));
    ck_assert_int_eq(cnn_k_isa(), want);
}
END_TEST

typedef struct dense_outs {
    float *y, *dx, *dw, *w; /* forward, data gradient, weight gradient, SGD-updated W */
} dense_outs;

/* Every dispatched kernel under `isa`, the SGD update and dx on slices
 * (two threads' worth of rows and columns) as well as whole. */
static dense_outs run_dense_kernels(int isa, int n, int in, int out, const float *x,
                                    const float *w, const float *b, const float *dz, float eta,
                                    float decay)
{
    ck_assert(cnn_k_isa_set(isa));
    dense_outs o = {nan_floats((size_t)n * out), nan_floats((size_t)n * in),
                    nan_floats((size_t)out * in), malloc((size_t)out * in * sizeof(float))};
    ck_assert_ptr_nonnull(o.w);
    memcpy(o.w, w, (size_t)out * in * sizeof(float));
    cnn_k_dense_fwd_small(n, in, out, x, w, b, 0.75f, o.y);
    cnn_k_dense_bwd_data_cols(n, in, out, dz, w, o.dx, 0, in / 2);
    cnn_k_dense_bwd_data_cols(n, in, out, dz, w, o.dx, in / 2, in);
    cnn_k_dense_bwd_weights_small(n, in, out, x, dz, o.dw);
    cnn_k_dense_sgd_rows(n, in, out, x, dz, o.w, eta, decay, 0, out / 2);
    cnn_k_dense_sgd_rows(n, in, out, x, dz, o.w, eta, decay, out / 2, out);
    ck_assert(cnn_k_isa_set(-1));
    return o;
}

static void free_outs(dense_outs *o)
{
    free(o->y);
    free(o->dx);
    free(o->dw);
    free(o->w);
}

/* _i = dims index; batches 1..16 (every block remainder of every path). */
START_TEST(test_dense_isa_paths)
{
    const int in = dims[_i][0], out = dims[_i][1];
    const float eta = 0.03f, decay = 0.75f; /* decay far from 1: a dropped term shows */
    if (_i == 0)
        for (int isa = cnn_k_isa_best() + 1; isa <= CNN_K_ISA_AVX512; isa++)
            printf("test_dense_isa_paths: %s path SKIPPED (this CPU lacks it)\n",
                   cnn_k_isa_name(isa));
    for (int n = 1; n <= CNN_K_DENSE_SMALL_N; n++) {
        test_rng r;
        test_rng_seed(&r, 8000 + (unsigned)(_i * 100 + n));
        float *x = random_floats(&r, (size_t)n * in), *w = random_floats(&r, (size_t)out * in);
        float *b = random_floats(&r, (size_t)out), *dz = random_floats(&r, (size_t)n * out);
        /* every path this CPU has, each against the double-precision sums */
        for (int isa = CNN_K_ISA_GENERIC; isa <= cnn_k_isa_best(); isa++) {
            dense_outs outs = run_dense_kernels(isa, n, in, out, x, w, b, dz, eta, decay);
            const dense_outs *o = &outs;
            const char *path = cnn_k_isa_name(isa);
            char what[64];
            for (int i = 0; i < n; i++)
                for (int j = 0; j < out; j++) {
                    double sum = 0.0, mag = 0.0;
                    for (int k = 0; k < in; k++) {
                        double t = (double)x[(size_t)i * in + k] * w[(size_t)j * in + k];
                        sum += t;
                        mag += fabs(t);
                    }
                    snprintf(what, sizeof what, "%s fwd", path);
                    check_one(what, in, out, n, (size_t)i * out + j, o->y[(size_t)i * out + j],
                              0.75 * sum + b[j], 0.75 * mag + fabs(b[j]));
                }
            for (int i = 0; i < n; i++)
                for (int k = 0; k < in; k++) {
                    double sum = 0.0, mag = 0.0;
                    for (int j = 0; j < out; j++) {
                        double t = (double)dz[(size_t)i * out + j] * w[(size_t)j * in + k];
                        sum += t;
                        mag += fabs(t);
                    }
                    snprintf(what, sizeof what, "%s bwd_data", path);
                    check_one(what, in, out, n, (size_t)i * in + k, o->dx[(size_t)i * in + k],
                              sum, mag);
                }
            for (int j = 0; j < out; j++)
                for (int k = 0; k < in; k++) {
                    double sum = 0.0, mag = 0.0;
                    for (int i = 0; i < n; i++) {
                        double t = (double)dz[(size_t)i * out + j] * x[(size_t)i * in + k];
                        sum += t;
                        mag += fabs(t);
                    }
                    const size_t at = (size_t)j * in + k;
                    snprintf(what, sizeof what, "%s bwd_weights", path);
                    check_one(what, in, out, n, at, o->dw[at], sum, mag);
                    snprintf(what, sizeof what, "%s sgd", path);
                    check_one(what, in, out, n, at, o->w[at],
                              (double)decay * w[at] - (double)eta * sum,
                              fabs((double)decay * w[at]) + eta * mag);
                }
            free_outs(&outs);
        }
        free(x);
        free(w);
        free(b);
        free(dz);
    }
}
END_TEST

static Suite *dense_suite(void)
{
    Suite *s = suite_create("kernels_dense");
    TCase *tc = tcase_create("dense");
    tcase_add_loop_test(tc, test_dense_fwd, 0, NDIMS * 8);
    tcase_add_loop_test(tc, test_dense_bwd_data, 0, NDIMS * 2);
    tcase_add_loop_test(tc, test_dense_bwd_weights, 0, NDIMS * 4);
    tcase_add_loop_test(tc, test_dense_batches, 0, NDIMS);
    tcase_add_loop_test(tc, test_dense_sgd_fused, 0, NDIMS);
    tcase_add_loop_test(tc, test_train_step_fused, 0, 3);
    tcase_add_test(tc, test_isa_environment);
    tcase_add_loop_test(tc, test_dense_isa_paths, 0, NDIMS);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run_suite(dense_suite());
}
