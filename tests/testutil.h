/* Helpers shared by the Check suites: deterministic random data, tolerant
 * comparisons and a status assertion that prints the library's message. */
#ifndef CNN_TESTUTIL_H
#define CNN_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "cnn.h"

/* Fails the test with the library's message unless `expr` returns `want`. */
#define ck_assert_status(expr, want)                                              \
    do {                                                                          \
        cnn_status ck_st_ = (expr);                                               \
        ck_assert_msg(ck_st_ == (want), "%s returned %s (%d), want %s: %s", #expr, \
                      cnn_status_name(ck_st_), (int)ck_st_, cnn_status_name(want), \
                      cnn_last_error());                                          \
    } while (0)
#define ck_assert_ok(expr) ck_assert_status((expr), CNN_OK)

/* A tiny deterministic generator for test data (independent of the library's). */
typedef struct test_rng {
    uint64_t state;
} test_rng;
void test_rng_seed(test_rng *r, uint64_t seed);
double test_rng_uniform(test_rng *r);            /* [0, 1) */
void test_fill_uniform(test_rng *r, float *x, size_t n, float lo, float hi);

/* Largest |a-b| / max(|a|, |b|, floor) over n elements. */
double test_max_rel_err(const float *a, const float *b, size_t n, double floor);
/* Largest |a-b|. */
double test_max_abs_err(const float *a, const float *b, size_t n);

/* A learnable synthetic dataset: class k images are brighter in the k-th
 * band of rows (bands = classes), plus uniform noise. */
cnn_dataset *test_make_striped_dataset(int64_t count, int32_t c, int32_t h, int32_t w, int classes,
                                       uint64_t seed);

/* Runs a suite and returns the number of failures (for main()). */
int test_run_suite(Suite *s);

/* Records the largest relative gradient error seen by a gradcheck test, and
 * prints it at exit so the figure can be quoted. */
void test_note_grad_error(const char *what, double rel_err);

#endif
