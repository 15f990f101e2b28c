/* The ONNX functions of a library built without protobuf-c (meson option
 * onnx, or protoc-c / libprotobuf-c / onnx.proto missing): they exist, so
 * the ABI is the same in every build, and say why they cannot work. */
#include "core.h"

#define WHY "libcnn was built without ONNX support (needs protobuf-c and onnx.proto: meson -Donnx=enabled)"

static cnn_status unsupported(const char *who)
{
    return cnn_fail(CNN_ENOTSUP, "%s: %s", who, WHY);
}

cnn_status cnn_net_export_onnx(const cnn_net *net, const char *path)
{
    (void)net;
    (void)path;
    return unsupported("cnn_net_export_onnx");
}

cnn_status cnn_net_export_onnx_buffer(const cnn_net *net, void **data, size_t *size)
{
    (void)net;
    if (data)
        *data = NULL;
    if (size)
        *size = 0;
    return unsupported("cnn_net_export_onnx_buffer");
}

cnn_status cnn_net_import_onnx(const char *path, cnn_net **out)
{
    (void)path;
    if (out)
        *out = NULL;
    return unsupported("cnn_net_import_onnx");
}

cnn_status cnn_net_import_onnx_buffer(const void *data, size_t size, cnn_net **out)
{
    (void)data;
    (void)size;
    if (out)
        *out = NULL;
    return unsupported("cnn_net_import_onnx_buffer");
}
