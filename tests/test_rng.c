/* The internal random generator (cnn_rng_*): reproducibility, stream
 * independence, ranges and distributions within statistical tolerances. */
#include "testutil.h"

#include "core.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DRAWS 100000

START_TEST(same_seed_same_stream)
{
    cnn_rng a, b;
    cnn_rng_seed(&a, 1234);
    cnn_rng_seed(&b, 1234);
    for (int i = 0; i < 1000; i++)
        ck_assert_uint_eq(cnn_rng_next(&a), cnn_rng_next(&b));
    cnn_rng_seed_stream(&a, 77, 5);
    cnn_rng_seed_stream(&b, 77, 5);
    for (int i = 0; i < 1000; i++)
        ck_assert_uint_eq(cnn_rng_next(&a), cnn_rng_next(&b));
    /* Fills are reproducible too. */
    float fa[257], fb[257];
    cnn_rng_seed(&a, 9);
    cnn_rng_seed(&b, 9);
    cnn_rng_normal_fill(&a, fa, 257, 0.5);
    cnn_rng_normal_fill(&b, fb, 257, 0.5);
    ck_assert_int_eq(memcmp(fa, fb, sizeof fa), 0);
    cnn_rng_uniform_fill(&a, fa, 257, 2.0);
    cnn_rng_uniform_fill(&b, fb, 257, 2.0);
    ck_assert_int_eq(memcmp(fa, fb, sizeof fa), 0);
}
END_TEST

/* Number of equal values at equal positions in the first n draws. */
static int coincidences(cnn_rng *a, cnn_rng *b, int n)
{
    int same = 0;
    for (int i = 0; i < n; i++)
        same += cnn_rng_next(a) == cnn_rng_next(b);
    return same;
}

START_TEST(different_seeds_and_streams_differ)
{
    cnn_rng a, b;
    /* Neighbouring seeds, including 0. */
    for (uint64_t s = 0; s < 8; s++) {
        cnn_rng_seed(&a, s);
        cnn_rng_seed(&b, s + 1);
        ck_assert_int_eq(coincidences(&a, &b, 1000), 0);
    }
    /* Neighbouring streams of one seed, and stream 0 vs the plain seed. */
    for (uint64_t st = 0; st < 8; st++) {
        cnn_rng_seed_stream(&a, 42, st);
        cnn_rng_seed_stream(&b, 42, st + 1);
        ck_assert_int_eq(coincidences(&a, &b, 1000), 0);
        cnn_rng_seed_stream(&a, 42, st);
        cnn_rng_seed_stream(&b, 43, st);
        ck_assert_int_eq(coincidences(&a, &b, 1000), 0);
    }
    cnn_rng_seed_stream(&a, 42, 0);
    cnn_rng_seed(&b, 42);
    ck_assert_int_eq(coincidences(&a, &b, 1000), 0);
}
END_TEST

START_TEST(state_never_all_zero)
{
    cnn_rng r;
    for (uint64_t s = 0; s < 64; s++) {
        cnn_rng_seed(&r, s);
        ck_assert(r.s[0] | r.s[1] | r.s[2] | r.s[3]);
        uint64_t first = cnn_rng_next(&r);
        int repeats = 0;
        for (int i = 0; i < 100; i++)
            repeats += cnn_rng_next(&r) == first;
        ck_assert_int_lt(repeats, 2);
    }
}
END_TEST

START_TEST(uniform_in_unit_interval)
{
    cnn_rng r;
    cnn_rng_seed(&r, 2024);
    double sum = 0.0, sum_sq = 0.0;
    int buckets[10] = {0};
    for (int i = 0; i < DRAWS; i++) {
        float u = cnn_rng_uniform(&r);
        double d = cnn_rng_uniform_double(&r);
        if (!(u >= 0.0f && u < 1.0f) || !(d >= 0.0 && d < 1.0))
            ck_abort_msg("uniform gave %.9g, uniform_double %.17g", (double)u, d);
        sum += u;
        sum_sq += (double)u * u;
        buckets[(int)(u * 10.0f)]++;
    }
    double mean = sum / DRAWS, var = sum_sq / DRAWS - mean * mean;
    /* mean 1/2 (sd of the mean 0.29/sqrt(1e5) ~ 9e-4), variance 1/12. */
    ck_assert_msg(fabs(mean - 0.5) < 0.005, "mean %g", mean);
    ck_assert_msg(fabs(var - 1.0 / 12.0) < 0.003, "variance %g", var);
    /* Each decile holds 10000 +- ~95 (1 sd): allow about 6 sd. */
    for (int k = 0; k < 10; k++)
        ck_assert_msg(abs(buckets[k] - DRAWS / 10) < 600, "decile %d has %d", k, buckets[k]);
}
END_TEST

static void moments(const float *x, size_t n, double *mean, double *var)
{
    double s = 0.0, s2 = 0.0;
    for (size_t i = 0; i < n; i++) {
        s += x[i];
        s2 += (double)x[i] * x[i];
    }
    *mean = s / (double)n;
    *var = s2 / (double)n - *mean * *mean;
}

START_TEST(normal_fill_moments)
{
    float *x = malloc(DRAWS * sizeof *x);
    ck_assert_ptr_nonnull(x);
    cnn_rng r;
    const double sigmas[] = {1.0, 0.1, 3.0};
    for (size_t k = 0; k < 3; k++) {
        double sigma = sigmas[k];
        cnn_rng_seed(&r, 100 + k);
        cnn_rng_normal_fill(&r, x, DRAWS, sigma);
        double mean, var;
        moments(x, DRAWS, &mean, &var);
        /* sd of the mean: sigma/316; sd of the variance: sigma^2*sqrt(2/1e5) = 0.0045 sigma^2. */
        ck_assert_msg(fabs(mean) < 0.02 * sigma, "sigma %g: mean %g", sigma, mean);
        ck_assert_msg(fabs(var / (sigma * sigma) - 1.0) < 0.03, "sigma %g: variance %g", sigma,
                      var);
        /* Tails: P(|z| > 2) = 4.55%, P(|z| > 3) = 0.27%. */
        int beyond2 = 0, beyond3 = 0;
        for (int i = 0; i < DRAWS; i++) {
            if (!isfinite(x[i]))
                ck_abort_msg("element %d is %g", i, (double)x[i]);
            beyond2 += fabs(x[i]) > 2.0 * sigma;
            beyond3 += fabs(x[i]) > 3.0 * sigma;
        }
        ck_assert_msg(beyond2 > 4000 && beyond2 < 5100, "beyond 2 sd: %d", beyond2);
        ck_assert_msg(beyond3 > 170 && beyond3 < 380, "beyond 3 sd: %d", beyond3);
    }
    /* Odd length: the last element is filled too. */
    for (int i = 0; i < 7; i++)
        x[i] = NAN;
    cnn_rng_normal_fill(&r, x, 7, 1.0);
    for (int i = 0; i < 7; i++)
        ck_assert(isfinite(x[i]));
    free(x);
}
END_TEST

START_TEST(normal_scalar_moments)
{
    cnn_rng r;
    cnn_rng_seed(&r, 5);
    double s = 0.0, s2 = 0.0;
    for (int i = 0; i < DRAWS; i++) {
        double z = cnn_rng_normal(&r);
        if (!isfinite(z))
            ck_abort_msg("draw %d is %g", i, z);
        s += z;
        s2 += z * z;
    }
    double mean = s / DRAWS, var = s2 / DRAWS - mean * mean;
    ck_assert_msg(fabs(mean) < 0.02, "mean %g", mean);
    ck_assert_msg(fabs(var - 1.0) < 0.03, "variance %g", var);
}
END_TEST

START_TEST(uniform_fill_range)
{
    float *x = malloc(DRAWS * sizeof *x);
    ck_assert_ptr_nonnull(x);
    cnn_rng r;
    cnn_rng_seed(&r, 8);
    const double limit = 0.25;
    cnn_rng_uniform_fill(&r, x, DRAWS, limit);
    float lo = x[0], hi = x[0];
    for (int i = 0; i < DRAWS; i++) {
        if (!(fabs(x[i]) <= limit))
            ck_abort_msg("%g outside +-%g", (double)x[i], limit);
        lo = fminf(lo, x[i]);
        hi = fmaxf(hi, x[i]);
    }
    /* Covers the range, symmetric, variance limit^2/3. */
    ck_assert(lo < -0.99 * limit && hi > 0.99 * limit);
    double mean, var;
    moments(x, DRAWS, &mean, &var);
    ck_assert_msg(fabs(mean) < 0.01 * limit, "mean %g", mean);
    ck_assert_msg(fabs(var / (limit * limit / 3.0) - 1.0) < 0.03, "variance %g", var);
    free(x);
}
END_TEST

START_TEST(below_bounds_and_uniformity)
{
    cnn_rng r;
    cnn_rng_seed(&r, 31337);
    /* bound 1 always gives 0. */
    for (int i = 0; i < 100; i++)
        ck_assert_uint_eq(cnn_rng_below(&r, 1), 0);
    /* Small bounds: every value hit, roughly equally. */
    const uint64_t bounds[] = {2, 3, 7, 10};
    for (size_t k = 0; k < 4; k++) {
        uint64_t b = bounds[k];
        int counts[10] = {0};
        for (int i = 0; i < DRAWS; i++) {
            uint64_t v = cnn_rng_below(&r, b);
            if (v >= b)
                ck_abort_msg("below(%llu) gave %llu", (unsigned long long)b, (unsigned long long)v);
            counts[v]++;
        }
        double expect = (double)DRAWS / (double)b;
        for (uint64_t v = 0; v < b; v++)
            ck_assert_msg(fabs(counts[v] - expect) < 6.0 * sqrt(expect),
                          "below(%llu): value %llu drawn %d times, expected ~%.0f",
                          (unsigned long long)b, (unsigned long long)v, counts[v], expect);
    }
    /* Huge bounds stay in range; a bound just above 2^63 exercises the
     * rejection path (about half the raw values are rejected). */
    const uint64_t big[] = {UINT64_MAX, ((uint64_t)1 << 63) + 1, ((uint64_t)1 << 40) + 7};
    for (size_t k = 0; k < 3; k++) {
        int upper_half = 0;
        for (int i = 0; i < 2000; i++) {
            uint64_t v = cnn_rng_below(&r, big[k]);
            ck_assert(v < big[k]);
            upper_half += v >= big[k] / 2;
        }
        ck_assert_msg(upper_half > 850 && upper_half < 1150, "bound %llu: %d in upper half",
                      (unsigned long long)big[k], upper_half);
    }
}
END_TEST

START_TEST(shuffle_is_permutation)
{
    enum { N = 1000 };
    int64_t idx[N];
    for (int i = 0; i < N; i++)
        idx[i] = i;
    cnn_rng r;
    cnn_rng_seed(&r, 11);
    cnn_rng_shuffle_i64(&r, idx, N);
    int seen[N] = {0};
    int fixed = 0;
    for (int i = 0; i < N; i++) {
        ck_assert(idx[i] >= 0 && idx[i] < N);
        seen[idx[i]]++;
        fixed += idx[i] == i;
    }
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(seen[i], 1);
    /* A random permutation has ~1 fixed point; the identity has 1000. */
    ck_assert_int_lt(fixed, 10);

    /* Same seed, same permutation; another seed, another. */
    int64_t a[N], b[N];
    for (int i = 0; i < N; i++)
        a[i] = b[i] = i;
    cnn_rng_seed(&r, 11);
    cnn_rng_shuffle_i64(&r, a, N);
    ck_assert_int_eq(memcmp(a, idx, sizeof a), 0);
    cnn_rng_seed(&r, 12);
    cnn_rng_shuffle_i64(&r, b, N);
    ck_assert_int_ne(memcmp(a, b, sizeof a), 0);

    /* Degenerate sizes are fine. */
    int64_t one[1] = {5};
    cnn_rng_shuffle_i64(&r, one, 1);
    ck_assert_int_eq(one[0], 5);
    cnn_rng_shuffle_i64(&r, one, 0);
    ck_assert_int_eq(one[0], 5);
}
END_TEST

START_TEST(shuffle_positions_uniform)
{
    /* Where element 0 of 5 lands, over many shuffles: each slot ~1/5. */
    cnn_rng r;
    cnn_rng_seed(&r, 99);
    int where[5] = {0};
    const int trials = 50000;
    for (int t = 0; t < trials; t++) {
        int64_t v[5] = {0, 1, 2, 3, 4};
        cnn_rng_shuffle_i64(&r, v, 5);
        for (int i = 0; i < 5; i++)
            if (v[i] == 0)
                where[i]++;
    }
    for (int i = 0; i < 5; i++)
        ck_assert_msg(abs(where[i] - trials / 5) < 600, "slot %d: %d", i, where[i]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rng");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, same_seed_same_stream);
    tcase_add_test(tc, different_seeds_and_streams_differ);
    tcase_add_test(tc, state_never_all_zero);
    tcase_add_test(tc, uniform_in_unit_interval);
    tcase_add_test(tc, normal_fill_moments);
    tcase_add_test(tc, normal_scalar_moments);
    tcase_add_test(tc, uniform_fill_range);
    tcase_add_test(tc, below_bounds_and_uniformity);
    tcase_add_test(tc, shuffle_is_permutation);
    tcase_add_test(tc, shuffle_positions_uniform);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
