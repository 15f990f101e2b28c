/* The public ONNX entry points: argument checks, files and buffers around
 * export.c and import.c.  Files are written atomically and read through
 * the same helpers as model files (io/file_io.h). */
#include "onnx/onnx.h"
#include "io/file_io.h"
#include "net/net.h"

static cnn_status net_fail(const cnn_net *net, cnn_status st)
{
    /* As for cnn_net_save: the message is bookkeeping kept in the network. */
    return cnn_net_keep_error((cnn_net *)net, st);
}

cnn_status cnn_net_export_onnx_buffer(const cnn_net *net, void **data, size_t *size)
{
    static const char who[] = "cnn_net_export_onnx_buffer";
    if (data)
        *data = NULL;
    if (size)
        *size = 0;
    if (!net)
        return cnn_fail(CNN_EINVAL, "%s: net is NULL", who);
    if (!data || !size)
        return net_fail(net, cnn_fail(CNN_EINVAL, "%s: %s is NULL", who, !data ? "data" : "size"));
    uint8_t *buf;
    cnn_status st = cnn_onnx_export(net, who, &buf, size);
    if (st != CNN_OK)
        return net_fail(net, st);
    *data = buf;
    return CNN_OK;
}

cnn_status cnn_net_export_onnx(const cnn_net *net, const char *path)
{
    static const char who[] = "cnn_net_export_onnx";
    if (!net)
        return cnn_fail(CNN_EINVAL, "%s: net is NULL", who);
    if (!path || !path[0])
        return net_fail(net, cnn_fail(CNN_EINVAL, "%s: path is %s", who, !path ? "NULL" : "empty"));
    uint8_t *buf;
    size_t size;
    cnn_status st = cnn_onnx_export(net, who, &buf, &size);
    if (st != CNN_OK)
        return net_fail(net, st);
    st = cnn_io_replace_file(who, path, buf, size);
    cnn_dealloc(buf);
    return st == CNN_OK ? st : net_fail(net, st);
}

cnn_status cnn_net_import_onnx_buffer(const void *data, size_t size, cnn_net **out)
{
    static const char who[] = "cnn_net_import_onnx_buffer";
    if (out)
        *out = NULL;
    if (!out)
        return cnn_fail(CNN_EINVAL, "%s: out is NULL", who);
    if (!data || size == 0)
        return cnn_fail(CNN_EINVAL, "%s: %s", who, !data ? "data is NULL" : "size is 0");
    return cnn_onnx_import(who, data, size, out);
}

cnn_status cnn_net_import_onnx(const char *path, cnn_net **out)
{
    static const char who[] = "cnn_net_import_onnx";
    if (out)
        *out = NULL;
    if (!out)
        return cnn_fail(CNN_EINVAL, "%s: out is NULL", who);
    if (!path || !path[0])
        return cnn_fail(CNN_EINVAL, "%s: path is %s", who, !path ? "NULL" : "empty");
    uint8_t *buf = NULL;
    size_t size = 0;
    cnn_status st = cnn_io_read_file(who, "ONNX model", path, CNN_ONNX_MAX_BYTES, &buf, &size);
    if (st != CNN_OK)
        return st;
    st = cnn_onnx_import(who, buf, size, out);
    cnn_dealloc(buf);
    return st;
}
