/* Saving a network in the model format of docs/format.md (model_format.h).
 *
 * The whole file is built in memory first: the format ends in a CRC over
 * everything before it, and building first means a file on disk is touched
 * only once every check has passed.  cnn_net_save() then replaces the
 * target atomically (temporary file in the same directory, fsync, rename,
 * fsync of the directory), so a reader sees the old file or the new one,
 * never a mixture, and a failed save leaves the old file as it was. */
#include "io/file_io.h"
#include "io/model_format.h"
#include "net/net.h"

#include <stdio.h>
#include <string.h>
#include <zlib.h>

_Static_assert(sizeof(float) == 4, "the format stores IEEE-754 binary32");

uint32_t cnnm_crc32(const uint8_t *data, size_t size)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    /* zlib takes uInt lengths: feed large buffers in pieces. */
    while (size > 0) {
        uInt chunk = size > (size_t)1 << 30 ? (uInt)1 << 30 : (uInt)size;
        crc = crc32(crc, data, chunk);
        data += chunk;
        size -= chunk;
    }
    return (uint32_t)crc;
}

/* ---- encoding ---------------------------------------------------------- */

/* A write cursor into a buffer already sized exactly for the file. */
typedef struct wbuf {
    uint8_t *p;
} wbuf;

static void w32(wbuf *w, uint32_t v)
{
    cnnm_put_u32(w->p, v);
    w->p += 4;
}

static void w64(wbuf *w, uint64_t v)
{
    cnnm_put_u64(w->p, v);
    w->p += 8;
}

/* The network is const in the public API, but its error message is
 * bookkeeping that every call on a network updates ("for calls on a
 * network, in the network as well"); networks are always heap objects, so
 * writing to it is well defined. */
static cnn_status save_fail(const cnn_net *net, cnn_status st, const char *fmt, ...)
    CNN_PRINTF(3, 4);
static cnn_status save_fail(const cnn_net *net, cnn_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cnn_vfail(st, fmt, ap);
    va_end(ap);
    return cnn_net_keep_error((cnn_net *)net, st);
}

/* Descriptor length of a layer kind (format code), 0 for unknown kinds. */
static uint32_t desc_len(uint32_t kind)
{
    switch (kind) {
    case CNNM_KIND_CONV2D: return CNNM_DESC_CONV2D;
    case CNNM_KIND_POOL2D: return CNNM_DESC_POOL2D;
    case CNNM_KIND_DENSE: return CNNM_DESC_DENSE;
    case CNNM_KIND_SOFTMAX: return CNNM_DESC_SOFTMAX;
    case CNNM_KIND_ACTIVATION: return CNNM_DESC_ACTIVATION;
    }
    return 0;
}

/* Checks a creation parameter against the format's range before writing
 * it, so the writer never produces a file the reader would refuse. */
typedef struct field_check {
    const cnn_net *net;
    int32_t layer;
    const char *kind;
    cnn_status st;
} field_check;

static uint32_t field(field_check *fc, const char *name, int64_t v, int64_t lo, int64_t hi)
{
    if (fc->st == CNN_OK && (v < lo || v > hi))
        fc->st = save_fail(fc->net, CNN_EINVAL,
                           "cnn_net_save: layer %d (%s): %s = %lld is outside the format's "
                           "range %lld..%lld",
                           (int)fc->layer, fc->kind, name, (long long)v, (long long)lo,
                           (long long)hi);
    return (uint32_t)v;
}

static uint32_t code(field_check *fc, const char *name, const cnnm_code *t, size_t n, int32_t v)
{
    uint32_t c = 0;
    if (fc->st == CNN_OK && !cnnm_to_file(t, n, v, &c))
        fc->st = save_fail(fc->net, CNN_EINVAL,
                           "cnn_net_save: layer %d (%s): %s = %d has no code in the format",
                           (int)fc->layer, fc->kind, name, (int)v);
    return c;
}

static uint32_t dropout_bits(field_check *fc, float d)
{
    if (fc->st == CNN_OK && !(d >= 0.0f && d < 1.0f))
        fc->st = save_fail(fc->net, CNN_EINVAL,
                           "cnn_net_save: layer %d (%s): dropout %g is outside [0, 1)",
                           (int)fc->layer, fc->kind, (double)d);
    return cnnm_float_bits(d);
}

#define DIM(name, v, lo) field(&fc, name, (v), (lo), CNNM_MAX_DIM)
#define FEAT(name, v) field(&fc, name, (v), 1, CNNM_MAX_FEATURES)

/* Writes one layer's descriptor (the bytes after kind and length). */
static cnn_status write_desc(const cnn_net *net, int32_t i, const cnn_layer *l, wbuf *w)
{
    field_check fc = {net, i, l->ops->name, CNN_OK};
    switch (l->ops->kind) {
    case CNN_LAYER_CONV2D: {
        const cnn_conv2d_params *p = &l->p.conv;
        w32(w, DIM("in_channels", p->in_channels, 1));
        w32(w, DIM("out_channels", p->out_channels, 1));
        w32(w, DIM("kernel_h", p->kernel_h, 1));
        w32(w, DIM("kernel_w", p->kernel_w, 1));
        w32(w, DIM("stride_h", p->stride_h, 1));
        w32(w, DIM("stride_w", p->stride_w, 1));
        w32(w, DIM("pad_h", p->pad_h, 0));
        w32(w, DIM("pad_w", p->pad_w, 0));
        w32(w, code(&fc, "activation", CNNM_TABLE(cnnm_act_codes), p->activation));
        w32(w, code(&fc, "pool", CNNM_TABLE(cnnm_pool_codes), p->pool));
        w32(w, DIM("pool_h", p->pool_h, 0));
        w32(w, DIM("pool_w", p->pool_w, 0));
        w32(w, code(&fc, "init", CNNM_TABLE(cnnm_init_codes), p->init));
        w64(w, p->seed);
        break;
    }
    case CNN_LAYER_POOL2D: {
        const cnn_pool2d_params *p = &l->p.pool;
        w32(w, code(&fc, "mode", CNNM_TABLE(cnnm_pool_codes), p->mode));
        w32(w, DIM("window_h", p->window_h, 1));
        w32(w, DIM("window_w", p->window_w, 1));
        w32(w, DIM("stride_h", p->stride_h, 1));
        w32(w, DIM("stride_w", p->stride_w, 1));
        break;
    }
    case CNN_LAYER_DENSE: {
        const cnn_dense_params *p = &l->p.dense;
        w32(w, FEAT("in_features", p->in_features));
        w32(w, FEAT("out_features", p->out_features));
        w32(w, code(&fc, "activation", CNNM_TABLE(cnnm_act_codes), p->activation));
        w32(w, dropout_bits(&fc, p->dropout));
        w32(w, code(&fc, "init", CNNM_TABLE(cnnm_init_codes), p->init));
        w64(w, p->seed);
        break;
    }
    case CNN_LAYER_SOFTMAX: {
        const cnn_softmax_params *p = &l->p.softmax;
        w32(w, FEAT("in_features", p->in_features));
        w32(w, FEAT("classes", p->classes));
        w32(w, dropout_bits(&fc, p->dropout));
        w32(w, code(&fc, "init", CNNM_TABLE(cnnm_init_codes), p->init));
        w64(w, p->seed);
        break;
    }
    case CNN_LAYER_ACTIVATION:
        w32(w, code(&fc, "function", CNNM_TABLE(cnnm_act_codes), l->p.activation));
        break;
    }
    return fc.st;
}

/* Bytes of the whole file, with every limit checked; 0 after a failure. */
static cnn_status file_size(const cnn_net *net, size_t *size)
{
    if (net->n_layers < 0 || (uint32_t)net->n_layers > CNNM_MAX_LAYERS)
        return save_fail(net, CNN_EINVAL, "cnn_net_save: %d layers, the format allows at most %u",
                         (int)net->n_layers, CNNM_MAX_LAYERS);
    uint64_t total = CNNM_HEADER_LEN + CNNM_CRC_LEN;
    uint64_t params = 0;
    for (int32_t i = 0; i < net->n_layers; i++) {
        const cnn_layer *l = net->layers[i];
        uint32_t kind = 0;
        if (!cnnm_to_file(CNNM_TABLE(cnnm_kind_codes), l->ops->kind, &kind))
            return save_fail(net, CNN_EINVAL, "cnn_net_save: layer %d has kind %d, unknown to the format",
                             (int)i, (int)l->ops->kind);
        if (l->n_weights < 0 || l->n_biases < 0)
            return save_fail(net, CNN_EINVAL, "cnn_net_save: layer %d has a negative parameter count",
                             (int)i);
        /* Each count is below 2^63; checking after every addition keeps
         * the running sum below 2^32 * 2 and far from overflow. */
        params += (uint64_t)l->n_weights;
        if (params > CNNM_MAX_PARAMS)
            break;
        params += (uint64_t)l->n_biases;
        if (params > CNNM_MAX_PARAMS)
            break;
        total += CNNM_LAYER_HEAD_LEN + desc_len(kind) + CNNM_LAYER_COUNTS_LEN;
    }
    if (params > CNNM_MAX_PARAMS)
        return save_fail(net, CNN_EINVAL,
                         "cnn_net_save: more than %llu parameters, the format's limit",
                         (unsigned long long)CNNM_MAX_PARAMS);
    total += params * 4u;
    if (total > SIZE_MAX)
        return save_fail(net, CNN_ENOMEM, "cnn_net_save: %llu bytes do not fit in memory",
                         (unsigned long long)total);
    *size = (size_t)total;
    return CNN_OK;
}

/* Builds the complete file image; the caller frees *out with cnn_dealloc. */
static cnn_status encode(const cnn_net *net, uint8_t **out, size_t *out_size)
{
    size_t size = 0;
    cnn_status st = file_size(net, &size);
    if (st != CNN_OK)
        return st;
    for (int k = 0; k < 3; k++)
        if (net->in[k] < 1 || (uint32_t)net->in[k] > CNNM_MAX_DIM)
            return save_fail(net, CNN_EINVAL,
                             "cnn_net_save: input dimension %d is %d, the format allows 1..%u", k,
                             (int)net->in[k], CNNM_MAX_DIM);
    uint8_t *buf = cnn_alloc(size);
    if (!buf)
        return save_fail(net, CNN_ENOMEM, "cnn_net_save: cannot allocate %zu bytes", size);

    wbuf w = {buf};
    memcpy(w.p, CNNM_MAGIC, CNNM_MAGIC_LEN);
    w.p += CNNM_MAGIC_LEN;
    w32(&w, CNNM_VERSION);
    w64(&w, (uint64_t)size);
    w32(&w, CNNM_NET_LEN_V1);
    w32(&w, (uint32_t)net->in[0]);
    w32(&w, (uint32_t)net->in[1]);
    w32(&w, (uint32_t)net->in[2]);
    w32(&w, (uint32_t)net->n_layers);
    w64(&w, net->seed);
    uint8_t *n_params_at = w.p; /* filled in once the layers are counted */
    w64(&w, 0);

    uint64_t n_params = 0;
    for (int32_t i = 0; i < net->n_layers && st == CNN_OK; i++) {
        const cnn_layer *l = net->layers[i];
        uint32_t kind = 0;
        cnnm_to_file(CNNM_TABLE(cnnm_kind_codes), l->ops->kind, &kind); /* checked above */
        w32(&w, kind);
        w32(&w, desc_len(kind));
        st = write_desc(net, i, l, &w);
        w64(&w, (uint64_t)l->n_weights);
        w64(&w, (uint64_t)l->n_biases);
        for (int64_t j = 0; j < l->n_weights; j++)
            w32(&w, cnnm_float_bits(l->w[j]));
        for (int64_t j = 0; j < l->n_biases; j++)
            w32(&w, cnnm_float_bits(l->b[j]));
        n_params += (uint64_t)(l->n_weights + l->n_biases);
    }
    if (st != CNN_OK) {
        cnn_dealloc(buf);
        return st;
    }
    cnnm_put_u64(n_params_at, n_params);
    w32(&w, cnnm_crc32(buf, size - CNNM_CRC_LEN));
    *out = buf;
    *out_size = size;
    return CNN_OK;
}

cnn_status cnn_net_save_buffer(const cnn_net *net, void **data, size_t *size)
{
    if (data)
        *data = NULL;
    if (size)
        *size = 0;
    if (!net)
        return cnn_fail(CNN_EINVAL, "cnn_net_save_buffer: net is NULL");
    if (!data || !size)
        return save_fail(net, CNN_EINVAL, "cnn_net_save_buffer: %s is NULL", !data ? "data" : "size");
    uint8_t *buf = NULL;
    size_t n = 0;
    cnn_status st = encode(net, &buf, &n);
    if (st != CNN_OK)
        return st;
    *data = buf;
    *size = n;
    return CNN_OK;
}

cnn_status cnn_net_save(const cnn_net *net, const char *path)
{
    if (!net)
        return cnn_fail(CNN_EINVAL, "cnn_net_save: net is NULL");
    if (!path || !path[0])
        return save_fail(net, CNN_EINVAL, "cnn_net_save: path is %s", !path ? "NULL" : "empty");
    uint8_t *buf = NULL;
    size_t size = 0;
    cnn_status st = encode(net, &buf, &size);
    if (st != CNN_OK)
        return st;
    st = cnn_io_replace_file("cnn_net_save", path, buf, size);
    cnn_dealloc(buf);
    return st == CNN_OK ? st : cnn_net_keep_error((cnn_net *)net, st);
}
