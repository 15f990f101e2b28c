/* Tensors: creation, wrapping, accessors, reshape, copies and every error
 * path by its exact status. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A pointer value that no call may leave in an out-parameter on failure. */
#define POISON ((cnn_tensor *)(uintptr_t)0x1)

START_TEST(create_ranks_1_to_4)
{
    const int64_t shape[4] = {2, 3, 4, 5};
    int64_t want_numel = 1;
    for (int32_t rank = 1; rank <= CNN_MAX_RANK; rank++) {
        want_numel *= shape[rank - 1];
        cnn_tensor *t = POISON;
        ck_assert_ok(cnn_tensor_create(rank, shape, &t));
        ck_assert_ptr_nonnull(t);
        ck_assert_ptr_ne(t, POISON);
        ck_assert_int_eq(cnn_tensor_ndim(t), rank);
        for (int32_t a = 0; a < rank; a++)
            ck_assert_int_eq(cnn_tensor_dim(t, a), shape[a]);
        ck_assert_int_eq(cnn_tensor_dim(t, rank), 0);
        ck_assert_int_eq(cnn_tensor_dim(t, -1), 0);
        ck_assert_int_eq(cnn_tensor_numel(t), want_numel);
        float *d = cnn_tensor_data(t);
        ck_assert_ptr_nonnull(d);
        for (int64_t i = 0; i < want_numel; i++)
            ck_assert_msg(d[i] == 0.0f, "element %lld not zero", (long long)i);
        /* Writable over its whole length (ASan checks the bounds). */
        for (int64_t i = 0; i < want_numel; i++)
            d[i] = (float)i;
        cnn_tensor_destroy(t);
    }
}
END_TEST

START_TEST(create_copies_shape)
{
    int64_t shape[2] = {3, 4};
    cnn_tensor *t = NULL;
    ck_assert_ok(cnn_tensor_create(2, shape, &t));
    shape[0] = 100;
    ck_assert_int_eq(cnn_tensor_dim(t, 0), 3);
    ck_assert_int_eq(cnn_tensor_numel(t), 12);
    cnn_tensor_destroy(t);
}
END_TEST

START_TEST(null_handles)
{
    cnn_tensor_destroy(NULL);
    ck_assert_int_eq(cnn_tensor_ndim(NULL), 0);
    ck_assert_int_eq(cnn_tensor_dim(NULL, 0), 0);
    ck_assert_int_eq(cnn_tensor_numel(NULL), 0);
    ck_assert_ptr_null(cnn_tensor_data(NULL));
    const int64_t shape[1] = {3};
    float buf[3] = {0};
    ck_assert_status(cnn_tensor_reshape(NULL, 1, shape), CNN_EINVAL);
    ck_assert_status(cnn_tensor_copy_in(NULL, buf, 3), CNN_EINVAL);
    ck_assert_status(cnn_tensor_copy_out(NULL, buf, 3), CNN_EINVAL);
}
END_TEST

START_TEST(create_errors)
{
    const int64_t ok_shape[5] = {2, 2, 2, 2, 2};
    cnn_tensor *t = POISON;
    /* rank 0 and 5, negative rank */
    ck_assert_status(cnn_tensor_create(0, ok_shape, &t), CNN_EINVAL);
    ck_assert_ptr_null(t);
    t = POISON;
    ck_assert_status(cnn_tensor_create(5, ok_shape, &t), CNN_EINVAL);
    ck_assert_ptr_null(t);
    t = POISON;
    ck_assert_status(cnn_tensor_create(-1, ok_shape, &t), CNN_EINVAL);
    ck_assert_ptr_null(t);
    /* NULL shape, NULL out */
    t = POISON;
    ck_assert_status(cnn_tensor_create(2, NULL, &t), CNN_EINVAL);
    ck_assert_ptr_null(t);
    ck_assert_status(cnn_tensor_create(2, ok_shape, NULL), CNN_EINVAL);
    /* zero and negative dimensions, in every position */
    for (int pos = 0; pos < 4; pos++) {
        int64_t shape[4] = {2, 3, 4, 5};
        shape[pos] = 0;
        t = POISON;
        ck_assert_status(cnn_tensor_create(4, shape, &t), CNN_EINVAL);
        ck_assert_ptr_null(t);
        shape[pos] = -3;
        t = POISON;
        ck_assert_status(cnn_tensor_create(4, shape, &t), CNN_EINVAL);
        ck_assert_ptr_null(t);
    }
    /* element count overflow: 2^40 x 2^40 and friends */
    const int64_t huge[2] = {(int64_t)1 << 40, (int64_t)1 << 40};
    t = POISON;
    ck_assert_status(cnn_tensor_create(2, huge, &t), CNN_EINVAL);
    ck_assert_ptr_null(t);
    const int64_t huge4[4] = {(int64_t)1 << 20, (int64_t)1 << 20, (int64_t)1 << 20, 2};
    ck_assert_status(cnn_tensor_create(4, huge4, &t), CNN_EINVAL);
    const int64_t max1[1] = {INT64_MAX};
    ck_assert_status(cnn_tensor_create(1, max1, &t), CNN_EINVAL);
    const int64_t wrap[2] = {(int64_t)1 << 32, (int64_t)1 << 32}; /* product wraps to 0 in 64 bits */
    ck_assert_status(cnn_tensor_create(2, wrap, &t), CNN_EINVAL);
    ck_assert_ptr_null(t);
}
END_TEST

START_TEST(wrap_does_not_copy_or_free)
{
    /* malloc'd so that ASan would report a free of it by the library as a
     * double free when we free it below. */
    float *buf = malloc(6 * sizeof *buf);
    ck_assert_ptr_nonnull(buf);
    for (int i = 0; i < 6; i++)
        buf[i] = (float)i + 0.5f;
    const int64_t shape[2] = {2, 3};
    cnn_tensor *t = POISON;
    ck_assert_ok(cnn_tensor_wrap(2, shape, buf, &t));
    ck_assert_ptr_eq(cnn_tensor_data(t), buf);
    ck_assert_int_eq(cnn_tensor_numel(t), 6);
    /* Writes by the caller are seen by the tensor and vice versa. */
    buf[4] = 42.0f;
    float out[6];
    ck_assert_ok(cnn_tensor_copy_out(t, out, 6));
    ck_assert(out[4] == 42.0f);
    const float in[6] = {9, 8, 7, 6, 5, 4};
    ck_assert_ok(cnn_tensor_copy_in(t, in, 6));
    ck_assert(buf[0] == 9.0f && buf[5] == 4.0f);
    /* Reshape keeps the caller's buffer. */
    const int64_t flat[1] = {6};
    ck_assert_ok(cnn_tensor_reshape(t, 1, flat));
    ck_assert_ptr_eq(cnn_tensor_data(t), buf);
    cnn_tensor_destroy(t);
    /* Still ours and intact. */
    ck_assert(buf[0] == 9.0f && buf[5] == 4.0f);
    free(buf);
}
END_TEST

START_TEST(wrap_errors)
{
    float buf[8];
    const int64_t shape[2] = {2, 4};
    const int64_t bad[2] = {2, 0};
    cnn_tensor *t = POISON;
    ck_assert_status(cnn_tensor_wrap(2, shape, NULL, &t), CNN_EINVAL);
    ck_assert_ptr_null(t);
    t = POISON;
    ck_assert_status(cnn_tensor_wrap(2, NULL, buf, &t), CNN_EINVAL);
    ck_assert_ptr_null(t);
    ck_assert_status(cnn_tensor_wrap(2, shape, buf, NULL), CNN_EINVAL);
    t = POISON;
    ck_assert_status(cnn_tensor_wrap(0, shape, buf, &t), CNN_EINVAL);
    ck_assert_ptr_null(t);
    t = POISON;
    ck_assert_status(cnn_tensor_wrap(5, shape, buf, &t), CNN_EINVAL);
    ck_assert_ptr_null(t);
    t = POISON;
    ck_assert_status(cnn_tensor_wrap(2, bad, buf, &t), CNN_EINVAL);
    ck_assert_ptr_null(t);
    const int64_t huge[2] = {(int64_t)1 << 40, (int64_t)1 << 40};
    ck_assert_status(cnn_tensor_wrap(2, huge, buf, &t), CNN_EINVAL);
    ck_assert_ptr_null(t);
}
END_TEST

START_TEST(reshape)
{
    const int64_t shape[4] = {2, 3, 4, 5};
    cnn_tensor *t = NULL;
    ck_assert_ok(cnn_tensor_create(4, shape, &t));
    float *d = cnn_tensor_data(t);
    for (int i = 0; i < 120; i++)
        d[i] = (float)i;
    const int64_t s2[2] = {2, 60};
    ck_assert_ok(cnn_tensor_reshape(t, 2, s2));
    ck_assert_int_eq(cnn_tensor_ndim(t), 2);
    ck_assert_int_eq(cnn_tensor_dim(t, 0), 2);
    ck_assert_int_eq(cnn_tensor_dim(t, 1), 60);
    ck_assert_int_eq(cnn_tensor_dim(t, 2), 0);
    ck_assert_int_eq(cnn_tensor_numel(t), 120);
    ck_assert_ptr_eq(cnn_tensor_data(t), d);
    for (int i = 0; i < 120; i++)
        ck_assert(d[i] == (float)i);

    /* Errors leave the tensor unchanged. */
    const int64_t wrong_count[2] = {2, 61};
    ck_assert_status(cnn_tensor_reshape(t, 2, wrong_count), CNN_ESHAPE);
    const int64_t zero[2] = {0, 60};
    ck_assert_status(cnn_tensor_reshape(t, 2, zero), CNN_EINVAL);
    const int64_t neg[2] = {-2, -60};
    ck_assert_status(cnn_tensor_reshape(t, 2, neg), CNN_EINVAL);
    ck_assert_status(cnn_tensor_reshape(t, 0, s2), CNN_EINVAL);
    ck_assert_status(cnn_tensor_reshape(t, 5, shape), CNN_EINVAL);
    ck_assert_status(cnn_tensor_reshape(t, 2, NULL), CNN_EINVAL);
    const int64_t huge[2] = {(int64_t)1 << 40, (int64_t)1 << 40};
    ck_assert_status(cnn_tensor_reshape(t, 2, huge), CNN_EINVAL);
    ck_assert_int_eq(cnn_tensor_ndim(t), 2);
    ck_assert_int_eq(cnn_tensor_dim(t, 1), 60);
    ck_assert_int_eq(cnn_tensor_numel(t), 120);

    const int64_t s1[1] = {120};
    ck_assert_ok(cnn_tensor_reshape(t, 1, s1));
    ck_assert_int_eq(cnn_tensor_ndim(t), 1);
    ck_assert_ok(cnn_tensor_reshape(t, 4, shape));
    ck_assert_int_eq(cnn_tensor_dim(t, 3), 5);
    cnn_tensor_destroy(t);
}
END_TEST

START_TEST(copy_in_out)
{
    const int64_t shape[3] = {2, 2, 3};
    cnn_tensor *t = NULL;
    ck_assert_ok(cnn_tensor_create(3, shape, &t));
    float src[12], dst[12];
    for (int i = 0; i < 12; i++) {
        src[i] = (float)(i * i) - 3.25f;
        dst[i] = NAN;
    }
    ck_assert_ok(cnn_tensor_copy_in(t, src, 12));
    for (int i = 0; i < 12; i++)
        ck_assert(cnn_tensor_data(t)[i] == src[i]);
    ck_assert_ok(cnn_tensor_copy_out(t, dst, 12));
    ck_assert_int_eq(memcmp(src, dst, sizeof src), 0);

    /* Count mismatches and NULLs, with the tensor untouched. */
    float other[13];
    for (int i = 0; i < 13; i++)
        other[i] = 99.0f;
    ck_assert_status(cnn_tensor_copy_in(t, other, 11), CNN_ESHAPE);
    ck_assert_status(cnn_tensor_copy_in(t, other, 13), CNN_ESHAPE);
    ck_assert_status(cnn_tensor_copy_in(t, other, 0), CNN_ESHAPE);
    ck_assert_status(cnn_tensor_copy_in(t, other, -12), CNN_ESHAPE);
    ck_assert_status(cnn_tensor_copy_in(t, NULL, 12), CNN_EINVAL);
    for (int i = 0; i < 12; i++)
        ck_assert(cnn_tensor_data(t)[i] == src[i]);
    ck_assert_status(cnn_tensor_copy_out(t, other, 11), CNN_ESHAPE);
    ck_assert_status(cnn_tensor_copy_out(t, other, 13), CNN_ESHAPE);
    ck_assert_status(cnn_tensor_copy_out(t, NULL, 12), CNN_EINVAL);
    for (int i = 0; i < 13; i++)
        ck_assert(other[i] == 99.0f);
    cnn_tensor_destroy(t);
}
END_TEST

START_TEST(many_tensors_independent)
{
    cnn_tensor *ts[8];
    for (int k = 0; k < 8; k++) {
        const int64_t shape[1] = {k + 1};
        ck_assert_ok(cnn_tensor_create(1, shape, &ts[k]));
        for (int i = 0; i <= k; i++)
            cnn_tensor_data(ts[k])[i] = (float)k;
    }
    for (int k = 0; k < 8; k++) {
        ck_assert_int_eq(cnn_tensor_numel(ts[k]), k + 1);
        for (int i = 0; i <= k; i++)
            ck_assert(cnn_tensor_data(ts[k])[i] == (float)k);
        cnn_tensor_destroy(ts[k]);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tensor");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, create_ranks_1_to_4);
    tcase_add_test(tc, create_copies_shape);
    tcase_add_test(tc, null_handles);
    tcase_add_test(tc, create_errors);
    tcase_add_test(tc, wrap_does_not_copy_or_free);
    tcase_add_test(tc, wrap_errors);
    tcase_add_test(tc, reshape);
    tcase_add_test(tc, copy_in_out);
    tcase_add_test(tc, many_tensors_independent);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
