/* Status codes, their names and descriptions, the per-thread last-error
 * message and the version functions. */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static const struct {
    cnn_status code;
    int32_t value;
    const char *name;
    const char *text;
} statuses[] = {
    {CNN_OK, 0, "CNN_OK", "success"},
    {CNN_EINVAL, -1, "CNN_EINVAL", "invalid argument"},
    {CNN_ESHAPE, -2, "CNN_ESHAPE", "shape mismatch"},
    {CNN_ENOMEM, -3, "CNN_ENOMEM", "out of memory"},
    {CNN_EIO, -4, "CNN_EIO", "input/output error"},
    {CNN_EFORMAT, -5, "CNN_EFORMAT", "malformed or corrupt data"},
    {CNN_EVERSION, -6, "CNN_EVERSION", "unsupported format version"},
    {CNN_ECANCELED, -7, "CNN_ECANCELED", "canceled by callback"},
    {CNN_ESTATE, -8, "CNN_ESTATE", "operation not valid in the current state"},
    {CNN_ECHECKSUM, -9, "CNN_ECHECKSUM", "checksum mismatch"},
    {CNN_EDIVERGED, -10, "CNN_EDIVERGED", "training diverged"},
    {CNN_ENOTSUP, -11, "CNN_ENOTSUP", "not supported"},
};
#define N_STATUSES (sizeof statuses / sizeof statuses[0])

START_TEST(pinned_values)
{
    for (size_t i = 0; i < N_STATUSES; i++)
        ck_assert_int_eq(statuses[i].code, statuses[i].value);
}
END_TEST

START_TEST(names)
{
    for (size_t i = 0; i < N_STATUSES; i++) {
        const char *name = cnn_status_name(statuses[i].code);
        ck_assert_ptr_nonnull(name);
        ck_assert_str_eq(name, statuses[i].name);
    }
}
END_TEST

START_TEST(strings)
{
    for (size_t i = 0; i < N_STATUSES; i++) {
        const char *text = cnn_status_string(statuses[i].code);
        ck_assert_ptr_nonnull(text);
        ck_assert_str_eq(text, statuses[i].text);
    }
}
END_TEST

START_TEST(strings_are_distinct)
{
    for (size_t i = 0; i < N_STATUSES; i++)
        for (size_t j = i + 1; j < N_STATUSES; j++) {
            ck_assert_str_ne(cnn_status_string(statuses[i].code),
                             cnn_status_string(statuses[j].code));
            ck_assert_str_ne(cnn_status_name(statuses[i].code), cnn_status_name(statuses[j].code));
        }
}
END_TEST

START_TEST(unknown_codes)
{
    const cnn_status unknown[] = {1, -12, -13, 42, -1000, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        ck_assert_str_eq(cnn_status_string(unknown[i]), "unknown status");
        ck_assert_str_eq(cnn_status_name(unknown[i]), "CNN_E?");
    }
}
END_TEST

START_TEST(version_matches_header)
{
    uint32_t want = CNN_VERSION_MAJOR * 10000u + CNN_VERSION_MINOR * 100u + CNN_VERSION_PATCH;
    ck_assert_uint_eq(cnn_version(), want);
    char buf[64];
    snprintf(buf, sizeof buf, "%d.%d.%d", CNN_VERSION_MAJOR, CNN_VERSION_MINOR, CNN_VERSION_PATCH);
    ck_assert_ptr_nonnull(cnn_version_string());
    ck_assert_str_eq(cnn_version_string(), buf);
    /* Static: the same pointer every time. */
    ck_assert_ptr_eq(cnn_version_string(), cnn_version_string());
}
END_TEST

START_TEST(last_error_initially_empty)
{
    /* Each test runs in a fresh process (CK_FORK), so nothing failed yet. */
    const char *msg = cnn_last_error();
    ck_assert_ptr_nonnull(msg);
    ck_assert_str_eq(msg, "");
}
END_TEST

START_TEST(last_error_set_by_failures)
{
    cnn_tensor *t = (cnn_tensor *)&t; /* must be overwritten with NULL */
    int64_t shape[2] = {3, 0};
    ck_assert_status(cnn_tensor_create(2, shape, &t), CNN_EINVAL);
    ck_assert_ptr_null(t);
    const char *msg = cnn_last_error();
    ck_assert_ptr_nonnull(msg);
    ck_assert_msg(strlen(msg) > 0, "no message after a failure");
    ck_assert_msg(strstr(msg, "cnn_tensor_create") != NULL, "message: %s", msg);
    char first[512];
    snprintf(first, sizeof first, "%s", msg);

    /* A success does not clear it. */
    shape[1] = 4;
    ck_assert_ok(cnn_tensor_create(2, shape, &t));
    ck_assert_str_eq(cnn_last_error(), first);

    /* A different failure replaces it. */
    ck_assert_status(cnn_tensor_copy_in(t, NULL, 12), CNN_EINVAL);
    ck_assert_str_ne(cnn_last_error(), first);
    ck_assert_msg(strstr(cnn_last_error(), "copy_in") != NULL, "message: %s", cnn_last_error());
    ck_assert_status(cnn_tensor_copy_in(t, (const float *)shape, 5), CNN_ESHAPE);
    ck_assert_msg(strstr(cnn_last_error(), "5") != NULL, "message: %s", cnn_last_error());
    cnn_tensor_destroy(t);

    cnn_layer *l = NULL;
    ck_assert_status(cnn_activation_create(99, &l), CNN_EINVAL);
    ck_assert_msg(strstr(cnn_last_error(), "99") != NULL, "message: %s", cnn_last_error());
}
END_TEST

static void *fail_in_thread(void *arg)
{
    char *out = arg;
    cnn_layer *l = NULL;
    /* A fresh thread starts with an empty message of its own. */
    snprintf(out, 256, "%s|", cnn_last_error());
    cnn_activation_create(77, &l);
    snprintf(out + strlen(out), 256 - strlen(out), "%s", cnn_last_error());
    return NULL;
}

START_TEST(last_error_is_per_thread)
{
    cnn_layer *l = NULL;
    ck_assert_status(cnn_activation_create(55, &l), CNN_EINVAL);
    char mine[512], theirs[512] = "";
    snprintf(mine, sizeof mine, "%s", cnn_last_error());
    ck_assert_msg(strstr(mine, "55") != NULL, "%s", mine);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, fail_in_thread, theirs), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_msg(theirs[0] == '|', "thread started with \"%s\"", theirs);
    ck_assert_msg(strstr(theirs, "77") != NULL, "thread saw \"%s\"", theirs);
    ck_assert_str_eq(cnn_last_error(), mine);
}
END_TEST

START_TEST(free_null)
{
    cnn_free(NULL);
    ck_assert_str_eq(cnn_status_name(CNN_OK), "CNN_OK");
}
END_TEST

/* Every constant of cnn.h is reachable through cnn_constant() with the
 * header's value, and the library's table lists nothing else. */
START_TEST(constants_by_name)
{
    static const struct {
        const char *name;
        int64_t value;
    } want[] = {
        {"CNN_VERSION_MAJOR", CNN_VERSION_MAJOR},
        {"CNN_VERSION_MINOR", CNN_VERSION_MINOR},
        {"CNN_VERSION_PATCH", CNN_VERSION_PATCH},
        {"CNN_MAX_RANK", CNN_MAX_RANK},
        {"CNN_OK", CNN_OK},
        {"CNN_EINVAL", CNN_EINVAL},
        {"CNN_ESHAPE", CNN_ESHAPE},
        {"CNN_ENOMEM", CNN_ENOMEM},
        {"CNN_EIO", CNN_EIO},
        {"CNN_EFORMAT", CNN_EFORMAT},
        {"CNN_EVERSION", CNN_EVERSION},
        {"CNN_ECANCELED", CNN_ECANCELED},
        {"CNN_ESTATE", CNN_ESTATE},
        {"CNN_ECHECKSUM", CNN_ECHECKSUM},
        {"CNN_EDIVERGED", CNN_EDIVERGED},
        {"CNN_ENOTSUP", CNN_ENOTSUP},
        {"CNN_MAX_DIM", CNN_MAX_DIM},
        {"CNN_MAX_LAYERS", CNN_MAX_LAYERS},
        {"CNN_MAX_THREADS", CNN_MAX_THREADS},
        {"CNN_MAX_FEATURES", CNN_MAX_FEATURES},
        {"CNN_MAX_EXAMPLE", CNN_MAX_EXAMPLE},
        {"CNN_MAX_PARAMS", CNN_MAX_PARAMS},
        {"CNN_MAX_UNFOLD", CNN_MAX_UNFOLD},
        {"CNN_PAD_EXPLICIT", CNN_PAD_EXPLICIT},
        {"CNN_PAD_SAME", CNN_PAD_SAME},
        {"CNN_LAYER_CONV2D", CNN_LAYER_CONV2D},
        {"CNN_LAYER_POOL2D", CNN_LAYER_POOL2D},
        {"CNN_LAYER_DENSE", CNN_LAYER_DENSE},
        {"CNN_LAYER_SOFTMAX", CNN_LAYER_SOFTMAX},
        {"CNN_LAYER_ACTIVATION", CNN_LAYER_ACTIVATION},
        {"CNN_LAYER_BATCHNORM", CNN_LAYER_BATCHNORM},
        {"CNN_LAYER_GLOBAL_AVG_POOL", CNN_LAYER_GLOBAL_AVG_POOL},
        {"CNN_ACT_IDENTITY", CNN_ACT_IDENTITY},
        {"CNN_ACT_SIGMOID", CNN_ACT_SIGMOID},
        {"CNN_ACT_TANH", CNN_ACT_TANH},
        {"CNN_ACT_RELU", CNN_ACT_RELU},
        {"CNN_POOL_NONE", CNN_POOL_NONE},
        {"CNN_POOL_MAX", CNN_POOL_MAX},
        {"CNN_POOL_AVG", CNN_POOL_AVG},
        {"CNN_POOL_L2", CNN_POOL_L2},
        {"CNN_INIT_NETWORK3", CNN_INIT_NETWORK3},
        {"CNN_INIT_HE", CNN_INIT_HE},
        {"CNN_INIT_GLOROT", CNN_INIT_GLOROT},
        {"CNN_INIT_ZERO", CNN_INIT_ZERO},
        {"CNN_MODE_INFER", CNN_MODE_INFER},
        {"CNN_MODE_TRAIN", CNN_MODE_TRAIN},
        {"CNN_PARAM_WEIGHTS", CNN_PARAM_WEIGHTS},
        {"CNN_PARAM_BIASES", CNN_PARAM_BIASES},
        {"CNN_PARAM_GRAD_WEIGHTS", CNN_PARAM_GRAD_WEIGHTS},
        {"CNN_PARAM_GRAD_BIASES", CNN_PARAM_GRAD_BIASES},
        {"CNN_MNIST_TRAIN", CNN_MNIST_TRAIN},
        {"CNN_MNIST_TEST", CNN_MNIST_TEST},
        {"CNN_AUGMENT_MAX_ELASTIC_SIDE", CNN_AUGMENT_MAX_ELASTIC_SIDE},
        {"CNN_ISA_GENERIC", CNN_ISA_GENERIC},
        {"CNN_ISA_AVX2", CNN_ISA_AVX2},
        {"CNN_ISA_AVX512", CNN_ISA_AVX512},
    };
    size_t n = sizeof want / sizeof want[0];
    for (size_t i = 0; i < n; i++) {
        int64_t got = -12345;
        ck_assert_ok(cnn_constant(want[i].name, &got));
        ck_assert_msg(got == want[i].value, "%s = %lld, header says %lld", want[i].name,
                      (long long)got, (long long)want[i].value);
    }
    ck_assert_int_eq(cnn_constant_count(), (int32_t)n);
    for (int32_t i = 0; i < cnn_constant_count(); i++)
        ck_assert_ptr_nonnull(cnn_constant_name(i));
    ck_assert_ptr_null(cnn_constant_name(-1));
    ck_assert_ptr_null(cnn_constant_name(cnn_constant_count()));
    int64_t v;
    ck_assert_status(cnn_constant("CNN_NO_SUCH_THING", &v), CNN_EINVAL);
    ck_assert_status(cnn_constant(NULL, &v), CNN_EINVAL);
    ck_assert_status(cnn_constant("CNN_OK", NULL), CNN_EINVAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("status");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, pinned_values);
    tcase_add_test(tc, names);
    tcase_add_test(tc, strings);
    tcase_add_test(tc, strings_are_distinct);
    tcase_add_test(tc, unknown_codes);
    tcase_add_test(tc, version_matches_header);
    tcase_add_test(tc, last_error_initially_empty);
    tcase_add_test(tc, last_error_set_by_failures);
    tcase_add_test(tc, last_error_is_per_thread);
    tcase_add_test(tc, free_null);
    tcase_add_test(tc, constants_by_name);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
