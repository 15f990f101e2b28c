/* The layer kinds this library knows: the one list that the model reader
 * (by file code), cnn_constant() (by name) and anything else that must
 * enumerate kinds go through.  Adding a kind is its own file plus one line
 * here. */
#include "layer.h"

extern const cnn_layer_ops cnn_conv2d_ops;
extern const cnn_layer_ops cnn_pool2d_ops;
extern const cnn_layer_ops cnn_dense_ops;
extern const cnn_layer_ops cnn_softmax_ops;
extern const cnn_layer_ops cnn_activation_ops;
extern const cnn_layer_ops cnn_batchnorm_ops;
extern const cnn_layer_ops cnn_global_avg_pool_ops;

const cnn_layer_ops *const cnn_layer_kinds[] = {
    &cnn_conv2d_ops,
    &cnn_pool2d_ops,
    &cnn_dense_ops,
    &cnn_softmax_ops,
    &cnn_activation_ops,
    &cnn_batchnorm_ops,
    &cnn_global_avg_pool_ops,
};

const int32_t cnn_layer_kind_count = (int32_t)(sizeof cnn_layer_kinds / sizeof cnn_layer_kinds[0]);

const cnn_layer_ops *cnn_layer_kind_by_code(uint32_t file_code)
{
    for (int32_t i = 0; i < cnn_layer_kind_count; i++)
        if (cnn_layer_kinds[i]->file_code == file_code)
            return cnn_layer_kinds[i];
    return NULL;
}
