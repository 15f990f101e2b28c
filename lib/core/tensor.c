/* Tensors: float32 arrays of rank 1-4 with an owned or borrowed buffer. */
#include "core.h"

#include <stdio.h>
#include <string.h>

cnn_status cnn_shape_check(const char *who, int32_t ndim, const int64_t *shape, int64_t *numel)
{
    if (ndim < 1 || ndim > CNN_MAX_RANK)
        return cnn_fail(CNN_EINVAL, "%s: rank %d outside 1..%d", who, (int)ndim, CNN_MAX_RANK);
    if (!shape)
        return cnn_fail(CNN_EINVAL, "%s: shape is NULL", who);
    int64_t total = 1;
    for (int32_t i = 0; i < ndim; i++) {
        if (shape[i] < 1)
            return cnn_fail(CNN_EINVAL, "%s: dimension %d is %lld, must be >= 1", who, (int)i,
                            (long long)shape[i]);
        /* Keep byte counts representable: numel * sizeof(float) <= INT64_MAX. */
        if (total > (INT64_MAX / 4) / shape[i])
            return cnn_fail(CNN_EINVAL, "%s: element count overflows", who);
        total *= shape[i];
    }
    *numel = total;
    return CNN_OK;
}

static cnn_status tensor_new(const char *who, int32_t ndim, const int64_t *shape, float *data,
                             cnn_tensor **out)
{
    if (!out)
        return cnn_fail(CNN_EINVAL, "%s: out is NULL", who);
    *out = NULL;
    int64_t numel;
    cnn_status st = cnn_shape_check(who, ndim, shape, &numel);
    if (st != CNN_OK)
        return st;
    if ((uint64_t)numel > SIZE_MAX / sizeof(float))
        return cnn_fail(CNN_EINVAL, "%s: tensor too large", who);
    cnn_tensor *t = cnn_alloc_zeroed(1, sizeof *t);
    if (!t)
        return cnn_fail(CNN_ENOMEM, "%s: out of memory for the tensor header", who);
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->numel = numel;
    if (data) {
        t->data = data;
        t->owns_data = false;
    } else {
        t->data = cnn_alloc_zeroed((size_t)numel, sizeof(float));
        if (!t->data) {
            cnn_dealloc(t);
            return cnn_fail(CNN_ENOMEM, "%s: out of memory for %lld floats", who, (long long)numel);
        }
        t->owns_data = true;
    }
    *out = t;
    return CNN_OK;
}

cnn_status cnn_tensor_create(int32_t ndim, const int64_t *shape, cnn_tensor **out)
{
    return tensor_new("cnn_tensor_create", ndim, shape, NULL, out);
}

cnn_status cnn_tensor_wrap(int32_t ndim, const int64_t *shape, float *data, cnn_tensor **out)
{
    if (!data) {
        if (out)
            *out = NULL;
        return cnn_fail(CNN_EINVAL, "cnn_tensor_wrap: data is NULL");
    }
    return tensor_new("cnn_tensor_wrap", ndim, shape, data, out);
}

void cnn_tensor_destroy(cnn_tensor *t)
{
    if (!t || t->is_view)
        return;
    if (t->owns_data)
        cnn_dealloc(t->data);
    cnn_dealloc(t);
}

int32_t cnn_tensor_ndim(const cnn_tensor *t)
{
    return t ? t->ndim : 0;
}

int64_t cnn_tensor_dim(const cnn_tensor *t, int32_t axis)
{
    if (!t || axis < 0 || axis >= t->ndim)
        return 0;
    return t->shape[axis];
}

int64_t cnn_tensor_numel(const cnn_tensor *t)
{
    return t ? t->numel : 0;
}

float *cnn_tensor_data(cnn_tensor *t)
{
    return t ? t->data : NULL;
}

cnn_status cnn_tensor_reshape(cnn_tensor *t, int32_t ndim, const int64_t *shape)
{
    if (!t)
        return cnn_fail(CNN_EINVAL, "cnn_tensor_reshape: tensor is NULL");
    int64_t numel;
    cnn_status st = cnn_shape_check("cnn_tensor_reshape", ndim, shape, &numel);
    if (st != CNN_OK)
        return st;
    if (numel != t->numel) {
        char buf[64];
        return cnn_fail(CNN_ESHAPE, "cnn_tensor_reshape: %lld elements cannot become %lld (tensor %s)",
                        (long long)t->numel, (long long)numel, cnn_shape_str(t, buf, sizeof buf));
    }
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    return CNN_OK;
}

cnn_status cnn_tensor_copy_in(cnn_tensor *t, const float *src, int64_t count)
{
    if (!t || !src)
        return cnn_fail(CNN_EINVAL, "cnn_tensor_copy_in: %s is NULL", t ? "src" : "tensor");
    if (count != t->numel)
        return cnn_fail(CNN_ESHAPE, "cnn_tensor_copy_in: %lld values for a tensor of %lld",
                        (long long)count, (long long)t->numel);
    memcpy(t->data, src, (size_t)count * sizeof(float));
    return CNN_OK;
}

cnn_status cnn_tensor_copy_out(const cnn_tensor *t, float *dst, int64_t count)
{
    if (!t || !dst)
        return cnn_fail(CNN_EINVAL, "cnn_tensor_copy_out: %s is NULL", t ? "dst" : "tensor");
    if (count != t->numel)
        return cnn_fail(CNN_ESHAPE, "cnn_tensor_copy_out: room for %lld values, tensor has %lld",
                        (long long)count, (long long)t->numel);
    memcpy(dst, t->data, (size_t)count * sizeof(float));
    return CNN_OK;
}

void cnn_tensor_view_set(cnn_tensor *view, float *data, int32_t ndim, const int64_t *shape)
{
    view->ndim = ndim;
    view->numel = 1;
    for (int32_t i = 0; i < ndim; i++) {
        view->shape[i] = shape[i];
        view->numel *= shape[i];
    }
    view->data = data;
    view->owns_data = false;
    view->is_view = true;
}

const char *cnn_shape_str(const cnn_tensor *t, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int32_t i = 0; i < t->ndim && used < size; i++) {
        int w = snprintf(buf + used, size - used, i ? "x%lld" : "%lld", (long long)t->shape[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    return buf;
}
