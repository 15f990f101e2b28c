/* Datasets in memory: creation, accessors, slices, batches, gather, and the
 * shared-storage lifetime rules (run under ASan to see no use-after-free). */
#include "testutil.h"

#include "core.h"
#include "data/dataset.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* count images of c*h*w bytes where pixel k of image i is (i*31 + k*7) & 255,
 * labels i % 10. */
static void make_data(int64_t count, int64_t size, uint8_t **px, uint8_t **lb)
{
    *px = malloc((size_t)(count * size));
    *lb = malloc((size_t)count);
    ck_assert(*px && *lb);
    for (int64_t i = 0; i < count; i++) {
        for (int64_t k = 0; k < size; k++)
            (*px)[i * size + k] = (uint8_t)((i * 31 + k * 7) & 255);
        (*lb)[i] = (uint8_t)(i % 10);
    }
}

static cnn_dataset *make_ds(int64_t count, int32_t c, int32_t h, int32_t w)
{
    uint8_t *px, *lb;
    make_data(count, (int64_t)c * h * w, &px, &lb);
    cnn_dataset *ds = NULL;
    ck_assert_ok(cnn_dataset_create(count, c, h, w, px, lb, &ds));
    free(px);
    free(lb);
    return ds;
}

/* Pixel k of example i of make_data, as the library must read it. */
static float want_pixel(int64_t i, int64_t k) { return (float)((i * 31 + k * 7) & 255) / 256.0f; }

static void check_example(const cnn_dataset *ds, int64_t index, int64_t original)
{
    int64_t size = cnn_dataset_example_size(ds);
    float *x = malloc((size_t)size * sizeof *x);
    int32_t label = -1;
    ck_assert_ok(cnn_dataset_get(ds, index, x, &label));
    ck_assert_int_eq(label, original % 10);
    for (int64_t k = 0; k < size; k++)
        ck_assert_msg(x[k] == want_pixel(original, k), "example %lld pixel %lld: %g",
                      (long long)index, (long long)k, (double)x[k]);
    free(x);
}

START_TEST(create_and_read)
{
    cnn_dataset *ds = make_ds(12, 2, 3, 5);
    ck_assert_int_eq(cnn_dataset_count(ds), 12);
    int32_t shape[3];
    ck_assert_ok(cnn_dataset_shape(ds, shape));
    ck_assert_int_eq(shape[0], 2);
    ck_assert_int_eq(shape[1], 3);
    ck_assert_int_eq(shape[2], 5);
    ck_assert_int_eq(cnn_dataset_example_size(ds), 30);
    ck_assert_int_eq(cnn_dataset_classes(ds), 10);
    for (int64_t i = 0; i < 12; i++)
        check_example(ds, i, i);
    /* Either output of get may be NULL. */
    int32_t label;
    ck_assert_ok(cnn_dataset_get(ds, 3, NULL, &label));
    ck_assert_int_eq(label, 3);
    float x[30];
    ck_assert_ok(cnn_dataset_get(ds, 3, x, NULL));
    ck_assert(x[1] == want_pixel(3, 1));
    cnn_dataset_destroy(ds);
}
END_TEST

START_TEST(scaling_is_byte_over_256)
{
    uint8_t px[256], lb[1] = {0};
    for (int i = 0; i < 256; i++)
        px[i] = (uint8_t)i;
    cnn_dataset *ds;
    ck_assert_ok(cnn_dataset_create(1, 1, 16, 16, px, lb, &ds));
    float x[256];
    ck_assert_ok(cnn_dataset_get(ds, 0, x, NULL));
    for (int i = 0; i < 256; i++)
        ck_assert(x[i] == (float)i / 256.0f); /* exact, not approximately */
    ck_assert(x[255] < 1.0f);
    ck_assert_int_eq(cnn_dataset_classes(ds), 1);
    cnn_dataset_destroy(ds);
}
END_TEST

START_TEST(create_copies_input)
{
    uint8_t px[4] = {10, 20, 30, 40}, lb[1] = {7};
    cnn_dataset *ds;
    ck_assert_ok(cnn_dataset_create(1, 1, 2, 2, px, lb, &ds));
    px[0] = 99;
    lb[0] = 1;
    float x[4];
    int32_t label;
    ck_assert_ok(cnn_dataset_get(ds, 0, x, &label));
    ck_assert(x[0] == 10.0f / 256.0f);
    ck_assert_int_eq(label, 7);
    ck_assert_int_eq(cnn_dataset_classes(ds), 8);
    cnn_dataset_destroy(ds);
}
END_TEST

START_TEST(create_rejects_bad_arguments)
{
    uint8_t px[4] = {0}, lb[1] = {0};
    cnn_dataset *ds = (cnn_dataset *)px; /* must be reset to NULL */
    ck_assert_status(cnn_dataset_create(1, 1, 2, 2, NULL, lb, &ds), CNN_EINVAL);
    ck_assert_ptr_null(ds);
    ck_assert_status(cnn_dataset_create(1, 1, 2, 2, px, NULL, &ds), CNN_EINVAL);
    ck_assert_status(cnn_dataset_create(1, 1, 2, 2, px, lb, NULL), CNN_EINVAL);
    ck_assert_status(cnn_dataset_create(0, 1, 2, 2, px, lb, &ds), CNN_EINVAL);
    ck_assert_status(cnn_dataset_create(-1, 1, 2, 2, px, lb, &ds), CNN_EINVAL);
    ck_assert_status(cnn_dataset_create(1, 0, 2, 2, px, lb, &ds), CNN_EINVAL);
    ck_assert_status(cnn_dataset_create(1, 1, -2, 2, px, lb, &ds), CNN_EINVAL);
    ck_assert_status(cnn_dataset_create(1, 1, 2, 0, px, lb, &ds), CNN_EINVAL);
    /* Image too large, and count * size overflowing, fail before reading. */
    ck_assert_status(cnn_dataset_create(1, 65536, 65536, 65536, px, lb, &ds), CNN_EINVAL);
    ck_assert_status(cnn_dataset_create(INT64_MAX, 1, 4096, 4096, px, lb, &ds), CNN_EINVAL);
    ck_assert_ptr_null(ds);
    ck_assert(strstr(cnn_last_error(), "dataset_create") != NULL);
}
END_TEST

START_TEST(null_handles)
{
    cnn_dataset_destroy(NULL);
    ck_assert_int_eq(cnn_dataset_count(NULL), 0);
    int32_t shape[3];
    ck_assert_status(cnn_dataset_shape(NULL, shape), CNN_EINVAL);
    cnn_dataset *ds = make_ds(3, 1, 2, 2);
    ck_assert_status(cnn_dataset_shape(ds, NULL), CNN_EINVAL);
    cnn_dataset *out = ds;
    ck_assert_status(cnn_dataset_slice(NULL, 0, 1, &out), CNN_EINVAL);
    ck_assert_ptr_null(out);
    ck_assert_status(cnn_dataset_slice(ds, 0, 1, NULL), CNN_EINVAL);
    ck_assert_status(cnn_dataset_expand(NULL, 1, &out), CNN_EINVAL);
    ck_assert_status(cnn_dataset_expand(ds, 1, NULL), CNN_EINVAL);
    float x[4];
    ck_assert_status(cnn_dataset_get(NULL, 0, x, NULL), CNN_EINVAL);
    ck_assert_status(cnn_dataset_batch(NULL, 0, 1, NULL, NULL), CNN_EINVAL);
    ck_assert_status(cnn_dataset_batch(ds, 0, 1, NULL, NULL), CNN_EINVAL);
    cnn_dataset_destroy(ds);
}
END_TEST

START_TEST(get_bounds)
{
    cnn_dataset *ds = make_ds(5, 1, 2, 2);
    float x[4];
    ck_assert_ok(cnn_dataset_get(ds, 4, x, NULL));
    ck_assert_status(cnn_dataset_get(ds, 5, x, NULL), CNN_EINVAL);
    ck_assert_status(cnn_dataset_get(ds, -1, x, NULL), CNN_EINVAL);
    ck_assert_status(cnn_dataset_get(ds, INT64_MAX, x, NULL), CNN_EINVAL);
    ck_assert_status(cnn_dataset_get(ds, INT64_MIN, x, NULL), CNN_EINVAL);
    cnn_dataset_destroy(ds);
}
END_TEST

START_TEST(slice_semantics)
{
    cnn_dataset *ds = make_ds(20, 1, 3, 4);
    cnn_dataset *a, *b;
    ck_assert_ok(cnn_dataset_slice(ds, 5, 10, &a));
    ck_assert_int_eq(cnn_dataset_count(a), 10);
    int32_t shape[3];
    ck_assert_ok(cnn_dataset_shape(a, shape));
    ck_assert_int_eq(shape[1] * shape[2], 12);
    for (int64_t i = 0; i < 10; i++)
        check_example(a, i, 5 + i);
    /* A slice of a slice is relative to the slice. */
    ck_assert_ok(cnn_dataset_slice(a, 2, 3, &b));
    for (int64_t i = 0; i < 3; i++)
        check_example(b, i, 7 + i);
    /* Classes are those of the view: labels 7, 8, 9 -> 10; 5 alone -> 6. */
    ck_assert_int_eq(cnn_dataset_classes(b), 10);
    cnn_dataset *one;
    ck_assert_ok(cnn_dataset_slice(ds, 5, 1, &one));
    ck_assert_int_eq(cnn_dataset_classes(one), 6);
    cnn_dataset_destroy(one);
    /* The whole set is a valid slice. */
    ck_assert_ok(cnn_dataset_slice(ds, 0, 20, &one));
    check_example(one, 19, 19);
    cnn_dataset_destroy(one);
    cnn_dataset_destroy(b);
    cnn_dataset_destroy(a);
    cnn_dataset_destroy(ds);
}
END_TEST

START_TEST(slice_bounds)
{
    cnn_dataset *ds = make_ds(10, 1, 2, 2);
    cnn_dataset *s = (cnn_dataset *)ds;
    ck_assert_status(cnn_dataset_slice(ds, 0, 0, &s), CNN_EINVAL);
    ck_assert_ptr_null(s);
    ck_assert_status(cnn_dataset_slice(ds, -1, 2, &s), CNN_EINVAL);
    ck_assert_status(cnn_dataset_slice(ds, 0, 11, &s), CNN_EINVAL);
    ck_assert_status(cnn_dataset_slice(ds, 9, 2, &s), CNN_EINVAL);
    ck_assert_status(cnn_dataset_slice(ds, 10, 1, &s), CNN_EINVAL);
    ck_assert_status(cnn_dataset_slice(ds, 0, -5, &s), CNN_EINVAL);
    /* Sums that would overflow int64 must not wrap into range. */
    ck_assert_status(cnn_dataset_slice(ds, INT64_MAX, 1, &s), CNN_EINVAL);
    ck_assert_status(cnn_dataset_slice(ds, 5, INT64_MAX, &s), CNN_EINVAL);
    ck_assert_status(cnn_dataset_slice(ds, INT64_MIN, 5, &s), CNN_EINVAL);
    ck_assert(strstr(cnn_last_error(), "dataset_slice") != NULL);
    ck_assert_ok(cnn_dataset_slice(ds, 9, 1, &s));
    cnn_dataset_destroy(s);
    cnn_dataset_destroy(ds);
}
END_TEST

START_TEST(parent_destroyed_first)
{
    /* The slice and the slice of the slice outlive their parents. */
    cnn_dataset *ds = make_ds(50, 1, 4, 4);
    cnn_dataset *a, *b;
    ck_assert_ok(cnn_dataset_slice(ds, 10, 30, &a));
    cnn_dataset_destroy(ds);
    ck_assert_ok(cnn_dataset_slice(a, 5, 5, &b));
    cnn_dataset_destroy(a);
    for (int64_t i = 0; i < 5; i++)
        check_example(b, i, 15 + i);
    cnn_dataset_destroy(b);
}
END_TEST

START_TEST(batch_into_tensor)
{
    cnn_dataset *ds = make_ds(10, 2, 3, 3);
    float data[4 * 18];
    cnn_tensor t = {.ndim = 4, .shape = {4, 2, 3, 3}, .numel = 4 * 18, .data = data};
    int32_t labels[4];
    ck_assert_ok(cnn_dataset_batch(ds, 6, 4, &t, labels));
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(labels[i], (6 + i) % 10);
        for (int k = 0; k < 18; k++)
            ck_assert(data[i * 18 + k] == want_pixel(6 + i, k));
    }
    /* Any shape with dim 0 = count and the right element count works. */
    cnn_tensor flat = {.ndim = 2, .shape = {4, 18}, .numel = 4 * 18, .data = data};
    ck_assert_ok(cnn_dataset_batch(ds, 0, 4, &flat, NULL));
    ck_assert(data[18] == want_pixel(1, 0));

    /* Wrong dim 0 or wrong size: ESHAPE.  Bad range: EINVAL. */
    cnn_tensor wrong0 = {.ndim = 2, .shape = {2, 36}, .numel = 72, .data = data};
    ck_assert_status(cnn_dataset_batch(ds, 0, 4, &wrong0, NULL), CNN_ESHAPE);
    cnn_tensor small = {.ndim = 2, .shape = {4, 17}, .numel = 68, .data = data};
    ck_assert_status(cnn_dataset_batch(ds, 0, 4, &small, NULL), CNN_ESHAPE);
    ck_assert(strstr(cnn_last_error(), "dataset_batch") != NULL);
    ck_assert_status(cnn_dataset_batch(ds, 7, 4, &t, NULL), CNN_EINVAL);
    ck_assert_status(cnn_dataset_batch(ds, -1, 4, &t, NULL), CNN_EINVAL);
    ck_assert_status(cnn_dataset_batch(ds, 0, 0, &t, NULL), CNN_EINVAL);
    ck_assert_status(cnn_dataset_batch(ds, 2, INT64_MAX, &t, NULL), CNN_EINVAL);
    cnn_dataset_destroy(ds);
}
END_TEST

START_TEST(gather_with_and_without_indices)
{
    cnn_dataset *ds = make_ds(30, 1, 5, 3);
    cnn_dataset *sl;
    ck_assert_ok(cnn_dataset_slice(ds, 10, 20, &sl));
    float x[6 * 15];
    int32_t labels[6];

    /* Without indices: examples start .. start+n-1 of the view. */
    cnn_dataset_gather(sl, NULL, 3, 6, x, labels, 0);
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(labels[i], (13 + i) % 10);
        for (int k = 0; k < 15; k++)
            ck_assert(x[i * 15 + k] == want_pixel(13 + i, k));
    }
    /* With indices: example i is indices[start + i]. */
    int64_t idx[9] = {-1, -1, 19, 0, 7, 7, 12, 3, -1};
    cnn_dataset_gather(sl, idx, 2, 6, x, NULL, 0);
    for (int i = 0; i < 6; i++)
        for (int k = 0; k < 15; k++)
            ck_assert(x[i * 15 + k] == want_pixel(10 + idx[2 + i], k));
    cnn_dataset_gather(sl, idx, 2, 6, x, labels, 0);
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(labels[i], (10 + idx[2 + i]) % 10);
    /* n = 0 touches nothing. */
    cnn_dataset_gather(sl, NULL, 0, 0, NULL, NULL, 0);
    cnn_dataset_destroy(sl);
    cnn_dataset_destroy(ds);
}
END_TEST

START_TEST(alloc_failure_cleans_up)
{
    uint8_t *px, *lb;
    make_data(8, 12, &px, &lb);
    /* Fail each allocation of create, slice and expand in turn: every
     * failure must be ENOMEM with out = NULL, and LSan must see no leak. */
    int seen_ok = 0;
    for (int64_t n = 0; n < 40 && !seen_ok; n++) {
        cnn_dataset *ds = NULL, *sl = NULL, *ex = NULL, *ex2 = NULL;
        cnn_test_fail_alloc_after(n);
        cnn_status st = cnn_dataset_create(8, 1, 3, 4, px, lb, &ds);
        if (st == CNN_OK)
            st = cnn_dataset_slice(ds, 1, 6, &sl);
        if (st == CNN_OK)
            st = cnn_dataset_expand(sl, 9, &ex);
        if (st == CNN_OK)
            st = cnn_dataset_expand(ex, 9, &ex2); /* materialising path */
        cnn_test_fail_alloc_after(-1);
        if (st == CNN_OK) {
            seen_ok = 1;
            ck_assert_int_eq(cnn_dataset_count(ex2), 6 * 25);
        } else {
            ck_assert_int_eq(st, CNN_ENOMEM);
            ck_assert_msg(!ds || !sl || !ex || !ex2, "failure left all handles set");
        }
        cnn_dataset_destroy(ex2);
        cnn_dataset_destroy(ex);
        cnn_dataset_destroy(sl);
        cnn_dataset_destroy(ds);
    }
    ck_assert(seen_ok);
    free(px);
    free(lb);
}
END_TEST

/* Two threads destroying handles that share storage at the same time: the
 * atomic reference count must free the storage exactly once. */
struct destroy_job {
    cnn_dataset **handles;
    int n;
};

static void *destroy_all(void *arg)
{
    struct destroy_job *job = arg;
    for (int i = 0; i < job->n; i++)
        cnn_dataset_destroy(job->handles[i]);
    return NULL;
}

START_TEST(concurrent_destroy)
{
    enum { N = 2000 };
    for (int round = 0; round < 5; round++) {
        cnn_dataset *ds = make_ds(16, 1, 2, 2);
        static cnn_dataset *h[2][N];
        for (int t = 0; t < 2; t++)
            for (int i = 0; i < N; i++)
                ck_assert_ok(cnn_dataset_slice(ds, i % 16, 1, &h[t][i]));
        cnn_dataset_destroy(ds);
        struct destroy_job jobs[2] = {{h[0], N}, {h[1], N}};
        pthread_t th;
        ck_assert_int_eq(pthread_create(&th, NULL, destroy_all, &jobs[0]), 0);
        destroy_all(&jobs[1]);
        ck_assert_int_eq(pthread_join(th, NULL), 0);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dataset");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, create_and_read);
    tcase_add_test(tc, scaling_is_byte_over_256);
    tcase_add_test(tc, create_copies_input);
    tcase_add_test(tc, create_rejects_bad_arguments);
    tcase_add_test(tc, null_handles);
    tcase_add_test(tc, get_bounds);
    tcase_add_test(tc, slice_semantics);
    tcase_add_test(tc, slice_bounds);
    tcase_add_test(tc, parent_destroyed_first);
    tcase_add_test(tc, batch_into_tensor);
    tcase_add_test(tc, gather_with_and_without_indices);
    tcase_add_test(tc, alloc_failure_cleans_up);
    tcase_add_test(tc, concurrent_destroy);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
