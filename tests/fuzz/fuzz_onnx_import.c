/* libFuzzer harness for cnn_net_import_onnx_buffer().
 *
 * Whatever imports must export, and that export must import again and
 * export to exactly the same bytes (a libcnn export is the canonical form
 * of a network); small networks must also run forward.  Seeds:
 * tests/fuzz/corpus/onnx (libcnn exports of small nets, and PyTorch-style
 * graphs built with onnx.helper). */
#include "cnn.h"
#include "small_net.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void run(cnn_net *net)
{
    int32_t s[3];
    cnn_net_input_shape(net, s);
    const int64_t shape[4] = {2, s[0], s[1], s[2]};
    cnn_tensor *x = NULL;
    if (cnn_tensor_create(4, shape, &x) != CNN_OK)
        return;
    float *d = cnn_tensor_data(x);
    for (int64_t i = 0; i < cnn_tensor_numel(x); i++)
        d[i] = (float)(i % 7) * 0.125f;
    int32_t labels[2];
    cnn_status st = cnn_net_predict(net, x, labels);
    if (st != CNN_OK && st != CNN_ENOMEM)
        __builtin_trap();
    cnn_tensor_destroy(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cnn_net *net = NULL;
    if (cnn_net_import_onnx_buffer(data, size, &net) != CNN_OK) {
        if (net)
            __builtin_trap();
        return 0;
    }
    void *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    cnn_net *back = NULL;
    if (cnn_net_export_onnx_buffer(net, &a, &na) != CNN_OK ||
        cnn_net_import_onnx_buffer(a, na, &back) != CNN_OK ||
        cnn_net_export_onnx_buffer(back, &b, &nb) != CNN_OK || na != nb || memcmp(a, b, na) != 0)
        __builtin_trap();
    if (small_enough(net))
        run(net);
    cnn_free(a);
    cnn_free(b);
    cnn_net_destroy(back);
    cnn_net_destroy(net);
    return 0;
}
