/* Public-header check, compiled as C99 -pedantic -Werror (and, through
 * header_cxx.cpp, as C++).  Three things are proved here:
 *   1. cnn.h is valid in both languages with every warning an error;
 *   2. every function it declares is exported by the shared library (the
 *      table below takes each address, so a missing symbol fails the link);
 *   3. the parameter structs keep the LP64 layout the bindings hardcode
 *      (Python ctypes, Rust #[repr(C)]); a change here is an ABI break.
 * Keep this file valid C and C++ at once. */
#include <cnn.h>

#include <stdio.h>
#include <string.h>

typedef void (*cnn_any_fn)(void);

/* Casting to void (*)(void) is the one function-pointer cast that neither
 * C nor C++ compilers warn about. */
#define CNN_FN(name) (cnn_any_fn) & name

static const cnn_any_fn every_function[] = {
    CNN_FN(cnn_version), CNN_FN(cnn_version_string), CNN_FN(cnn_status_string),
    CNN_FN(cnn_status_name), CNN_FN(cnn_last_error), CNN_FN(cnn_free),
    CNN_FN(cnn_constant), CNN_FN(cnn_constant_count), CNN_FN(cnn_constant_name),
    CNN_FN(cnn_tensor_create), CNN_FN(cnn_tensor_wrap), CNN_FN(cnn_tensor_destroy),
    CNN_FN(cnn_tensor_ndim), CNN_FN(cnn_tensor_dim), CNN_FN(cnn_tensor_numel),
    CNN_FN(cnn_tensor_data), CNN_FN(cnn_tensor_reshape), CNN_FN(cnn_tensor_copy_in),
    CNN_FN(cnn_tensor_copy_out), CNN_FN(cnn_conv2d_params_init), CNN_FN(cnn_conv2d_create),
    CNN_FN(cnn_pool2d_params_init), CNN_FN(cnn_pool2d_create), CNN_FN(cnn_dense_params_init),
    CNN_FN(cnn_dense_create), CNN_FN(cnn_softmax_params_init), CNN_FN(cnn_softmax_create),
    CNN_FN(cnn_activation_create), CNN_FN(cnn_batchnorm_params_init),
    CNN_FN(cnn_batchnorm_create), CNN_FN(cnn_global_avg_pool_create),
    CNN_FN(cnn_layer_destroy), CNN_FN(cnn_layer_kind),
    CNN_FN(cnn_layer_output_shape), CNN_FN(cnn_layer_param_count), CNN_FN(cnn_layer_param),
    CNN_FN(cnn_layer_forward), CNN_FN(cnn_layer_backward), CNN_FN(cnn_dataset_load_idx),
    CNN_FN(cnn_dataset_load_mnist), CNN_FN(cnn_dataset_create), CNN_FN(cnn_dataset_destroy),
    CNN_FN(cnn_dataset_count), CNN_FN(cnn_dataset_shape), CNN_FN(cnn_dataset_slice),
    CNN_FN(cnn_dataset_expand), CNN_FN(cnn_dataset_get), CNN_FN(cnn_dataset_batch),
    CNN_FN(cnn_augment_params_init), CNN_FN(cnn_dataset_augment),
    CNN_FN(cnn_net_create), CNN_FN(cnn_net_destroy), CNN_FN(cnn_net_add),
    CNN_FN(cnn_net_init_weights), CNN_FN(cnn_net_clone), CNN_FN(cnn_net_layer_count),
    CNN_FN(cnn_net_layer), CNN_FN(cnn_net_input_shape), CNN_FN(cnn_net_output_shape),
    CNN_FN(cnn_net_param_count), CNN_FN(cnn_net_params), CNN_FN(cnn_net_grads),
    CNN_FN(cnn_net_set_threads), CNN_FN(cnn_net_forward), CNN_FN(cnn_net_backward),
    CNN_FN(cnn_net_predict), CNN_FN(cnn_net_predict_dataset), CNN_FN(cnn_net_evaluate),
    CNN_FN(cnn_net_errmsg), CNN_FN(cnn_net_save), CNN_FN(cnn_net_load),
    CNN_FN(cnn_net_save_buffer), CNN_FN(cnn_net_load_buffer), CNN_FN(cnn_sgd_params_init),
    CNN_FN(cnn_sgd_create), CNN_FN(cnn_optimizer_destroy), CNN_FN(cnn_optimizer_step),
    CNN_FN(cnn_train_step), CNN_FN(cnn_train_params_init), CNN_FN(cnn_train),
    CNN_FN(cnn_train_sharded), CNN_FN(cnn_shard_params_init_sized), CNN_FN(cnn_shard_params_init),
    CNN_FN(cnn_checkpoint_info), CNN_FN(cnn_adam_params_init_sized), CNN_FN(cnn_adam_create),
    CNN_FN(cnn_optimizer_set_learning_rate), CNN_FN(cnn_optimizer_learning_rate),
    CNN_FN(cnn_schedule_rate),
    CNN_FN(cnn_conv2d_params_init_sized), CNN_FN(cnn_pool2d_params_init_sized),
    CNN_FN(cnn_dense_params_init_sized), CNN_FN(cnn_softmax_params_init_sized),
    CNN_FN(cnn_sgd_params_init_sized), CNN_FN(cnn_train_params_init_sized),
    CNN_FN(cnn_augment_params_init_sized), CNN_FN(cnn_batchnorm_params_init_sized),
    CNN_FN(cnn_load_limits_init),
    CNN_FN(cnn_net_load_limited), CNN_FN(cnn_net_load_buffer_limited),
    CNN_FN(cnn_net_set_limits), CNN_FN(cnn_net_get_limits), CNN_FN(cnn_net_summary),
    CNN_FN(cnn_layer_summary),
    CNN_FN(cnn_net_export_onnx), CNN_FN(cnn_net_export_onnx_buffer),
    CNN_FN(cnn_net_import_onnx), CNN_FN(cnn_net_import_onnx_buffer),
    CNN_FN(cnn_test_fail_alloc_after),
};

/* The layouts the bindings rely on, for LP64 targets (x86_64, aarch64). */
struct layout {
    const char *name;
    size_t size, expected;
};

static int check_layouts(void)
{
    const struct layout layouts[] = {
        {"cnn_conv2d_params", sizeof(cnn_conv2d_params), 72},
        {"cnn_pool2d_params", sizeof(cnn_pool2d_params), 24},
        {"cnn_dense_params", sizeof(cnn_dense_params), 32},
        {"cnn_softmax_params", sizeof(cnn_softmax_params), 32},
        {"cnn_batchnorm_params", sizeof(cnn_batchnorm_params), 16},
        {"cnn_sgd_params", sizeof(cnn_sgd_params), 32},
        {"cnn_progress", sizeof(cnn_progress), 48},
        {"cnn_epoch_report", sizeof(cnn_epoch_report), 80},
        {"cnn_train_params", sizeof(cnn_train_params), 120},
        {"cnn_adam_params", sizeof(cnn_adam_params), 28},
        {"cnn_train_result", sizeof(cnn_train_result), 48},
        {"cnn_augment_params", sizeof(cnn_augment_params), 64},
        {"cnn_shard_params", sizeof(cnn_shard_params), 32},
    };
    int bad = 0;
    size_t i;
    if (sizeof(void *) != 8)
        return 0; /* the table is for LP64 only */
    for (i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
        if (layouts[i].size != layouts[i].expected) {
            printf("FAIL: sizeof(%s) = %u, bindings expect %u\n", layouts[i].name,
                   (unsigned)layouts[i].size, (unsigned)layouts[i].expected);
            bad++;
        }
    }
    return bad;
}

int main(void)
{
    int bad = check_layouts();
    size_t i, n = sizeof every_function / sizeof every_function[0];
    char expect[32];
    const cnn_status codes[] = {CNN_OK, CNN_EINVAL, CNN_ESHAPE, CNN_ENOMEM, CNN_EIO,
                                CNN_EFORMAT, CNN_EVERSION, CNN_ECANCELED, CNN_ESTATE,
                                CNN_ECHECKSUM};

    for (i = 0; i < n; i++) {
        if (every_function[i] == NULL)
            bad++;
    }
    /* Header and library must agree on the version. */
    if (cnn_version() != CNN_VERSION_MAJOR * 10000u + CNN_VERSION_MINOR * 100u + CNN_VERSION_PATCH) {
        printf("FAIL: cnn_version() %u differs from the header\n", (unsigned)cnn_version());
        bad++;
    }
    sprintf(expect, "%d.%d.%d", CNN_VERSION_MAJOR, CNN_VERSION_MINOR, CNN_VERSION_PATCH);
    if (strcmp(cnn_version_string(), expect) != 0) {
        printf("FAIL: cnn_version_string() \"%s\" != \"%s\"\n", cnn_version_string(), expect);
        bad++;
    }
    /* Bindings map statuses by name: every pinned code must have one. */
    for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        if (strncmp(cnn_status_name(codes[i]), "CNN_", 4) != 0 ||
            strcmp(cnn_status_name(codes[i]), "CNN_E?") == 0) {
            printf("FAIL: status %d has no name\n", (int)codes[i]);
            bad++;
        }
    }
    printf("%u functions linked, %s\n", (unsigned)n, bad ? "FAILED" : "ok");
    return bad ? 1 : 0;
}
