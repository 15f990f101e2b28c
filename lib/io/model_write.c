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
#include "layers/layer.h"

#include <math.h>
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

/* The version a network needs: 1 (read by every libcnn) unless some layer
 * keeps state, which only version 2 records. */
static uint32_t version_for(const cnn_net *net)
{
    return net->n_state > 0 ? 2u : 1u;
}

/* A layer's descriptor, through its kind's encoder; with e->p NULL only
 * measured and checked. */
static cnn_status encode_desc(const cnn_net *net, int32_t i, uint8_t *p, size_t *len)
{
    const cnn_layer *l = net->layers[i];
    cnn_enc e = {.p = p, .kind = l->ops->name, .layer = i, .st = CNN_OK};
    l->ops->encode(l, &e);
    *len = e.len;
    return e.st == CNN_OK ? CNN_OK : cnn_net_keep_error((cnn_net *)net, e.st);
}

/* Bytes of the whole file, with every limit checked. */
static cnn_status file_size(const cnn_net *net, size_t *size)
{
    if (net->n_layers < 0 || (uint32_t)net->n_layers > CNNM_MAX_LAYERS)
        return save_fail(net, CNN_EINVAL, "cnn_net_save: %d layers, the format allows at most %u",
                         (int)net->n_layers, CNNM_MAX_LAYERS);
    const uint32_t version = version_for(net);
    /* A non-finite value means training diverged: such a model predicts
     * nothing, and saving it would overwrite a good file with a useless one. */
    for (int32_t i = 0; i < net->n_layers; i++) {
        const cnn_layer *l = net->layers[i];
        const float *parts[3] = {l->w, l->b, l->state};
        const int64_t counts[3] = {l->n_weights, l->n_biases, l->n_state};
        static const char *const names[3] = {"weight", "bias", "state value"};
        for (int k = 0; k < 3; k++)
            for (int64_t j = 0; j < counts[k]; j++)
                if (!isfinite(parts[k][j]))
                    return save_fail(net, CNN_EDIVERGED, "cnn_net_save: layer %d (%s): %s %lld "
                                     "is %g; refusing to save a diverged network", (int)i,
                                     l->ops->name, names[k], (long long)j, (double)parts[k][j]);
    }
    uint64_t total = CNNM_HEADER_LEN + CNNM_CRC_LEN;
    uint64_t values = 0;
    for (int32_t i = 0; i < net->n_layers; i++) {
        const cnn_layer *l = net->layers[i];
        size_t desc = 0;
        cnn_status st = encode_desc(net, i, NULL, &desc);
        if (st != CNN_OK)
            return st;
        /* Each count is below 2^31 (the builder's limit): no overflow. */
        values += (uint64_t)l->n_weights + (uint64_t)l->n_biases + (uint64_t)l->n_state;
        total += CNNM_LAYER_HEAD_LEN + desc + CNNM_LAYER_COUNTS_LEN(version);
    }
    if (values > CNNM_MAX_PARAMS)
        return save_fail(net, CNN_EINVAL,
                         "cnn_net_save: more than %llu parameters, the format's limit",
                         (unsigned long long)CNNM_MAX_PARAMS);
    total += values * 4u;
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

    const uint32_t version = version_for(net);
    wbuf w = {buf};
    memcpy(w.p, CNNM_MAGIC, CNNM_MAGIC_LEN);
    w.p += CNNM_MAGIC_LEN;
    w32(&w, version);
    w64(&w, (uint64_t)size);
    w32(&w, CNNM_NET_LEN_V1);
    w32(&w, (uint32_t)net->in[0]);
    w32(&w, (uint32_t)net->in[1]);
    w32(&w, (uint32_t)net->in[2]);
    w32(&w, (uint32_t)net->n_layers);
    w64(&w, net->seed);
    w64(&w, (uint64_t)(net->n_params + net->n_state));

    for (int32_t i = 0; i < net->n_layers; i++) {
        const cnn_layer *l = net->layers[i];
        size_t desc = 0;
        encode_desc(net, i, NULL, &desc); /* checked by file_size */
        w32(&w, l->ops->file_code);
        w32(&w, (uint32_t)desc);
        encode_desc(net, i, w.p, &desc);
        w.p += desc;
        w64(&w, (uint64_t)l->n_weights);
        w64(&w, (uint64_t)l->n_biases);
        if (version >= 2)
            w64(&w, (uint64_t)l->n_state);
        for (int64_t j = 0; j < l->n_weights; j++)
            w32(&w, cnnm_float_bits(l->w[j]));
        for (int64_t j = 0; j < l->n_biases; j++)
            w32(&w, cnnm_float_bits(l->b[j]));
        for (int64_t j = 0; j < l->n_state; j++)
            w32(&w, cnnm_float_bits(l->state[j]));
    }
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
