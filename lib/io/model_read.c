/* Loading a network from the model format of docs/format.md.
 *
 * The input is hostile until proven otherwise.  The order of work is:
 *   1. magic, version, declared size: tells "not a model" and "too new"
 *      apart from "damaged";
 *   2. CRC over everything before the trailer: nothing beyond the header
 *      is trusted before it matches;
 *   3. a validation pass over every record that allocates nothing: each
 *      length, count and dimension is checked against the bytes left and
 *      the documented limits, and each parameter count against what the
 *      descriptor implies, so what step 4 allocates is bounded by the
 *      file's own size;
 *   4. a build pass through the public constructors and cnn_net_add(), so
 *      the library's own validation runs on what the file describes, then
 *      the parameters are copied in bit for bit. */
#include "io/file_io.h"
#include "io/model_format.h"
#include "net/net.h"

#include <stdio.h>
#include <string.h>

#define WHO "cnn_net_load"

/* A read cursor; every get is preceded by a need() for its bytes. */
typedef struct rbuf {
    const uint8_t *base;
    size_t size; /* bytes that may be read (the CRC trailer excluded) */
    size_t pos;
} rbuf;

static cnn_status need(const rbuf *r, size_t n, const char *what)
{
    if (r->size - r->pos < n)
        return cnn_fail(CNN_EFORMAT, WHO ": truncated at offset %zu: %s needs %zu bytes, %zu left",
                        r->pos, what, n, r->size - r->pos);
    return CNN_OK;
}

static uint32_t g32(rbuf *r)
{
    uint32_t v = cnnm_get_u32(r->base + r->pos);
    r->pos += 4;
    return v;
}

static uint64_t g64(rbuf *r)
{
    uint64_t v = cnnm_get_u64(r->base + r->pos);
    r->pos += 8;
    return v;
}

/* What one layer record says, decoded and range-checked. */
typedef struct layer_rec {
    size_t offset;     /* of the record, for messages */
    uint32_t kind;     /* format code */
    int32_t lib_kind;  /* enum cnn_layer_kind */
    union {
        cnn_conv2d_params conv;
        cnn_pool2d_params pool;
        cnn_dense_params dense;
        cnn_softmax_params softmax;
        int32_t activation;
    } p;
    uint64_t n_weights, n_biases;
    size_t params_at;  /* offset of the first parameter */
} layer_rec;

/* Decodes fields of one descriptor, remembering the first problem. */
typedef struct dec {
    rbuf *r;
    uint32_t layer;
    cnn_status st;
} dec;

static int32_t num(dec *d, const char *name, uint32_t lo, uint32_t hi)
{
    size_t at = d->r->pos;
    uint32_t v = g32(d->r);
    if (d->st == CNN_OK && (v < lo || v > hi))
        d->st = cnn_fail(CNN_EFORMAT, WHO ": layer %u: %s = %u at offset %zu is outside %u..%u",
                         d->layer, name, v, at, lo, hi);
    return (int32_t)(v <= hi ? v : 0);
}

static int32_t enum_code(dec *d, const char *name, const cnnm_code *t, size_t n)
{
    size_t at = d->r->pos;
    uint32_t v = g32(d->r);
    int32_t lib = 0;
    if (!cnnm_to_lib(t, n, v, &lib) && d->st == CNN_OK)
        d->st = cnn_fail(CNN_EFORMAT, WHO ": layer %u: unknown %s code %u at offset %zu", d->layer,
                         name, v, at);
    return lib;
}

static float dropout(dec *d)
{
    size_t at = d->r->pos;
    float p = cnnm_bits_float(g32(d->r));
    /* Written as a negated range test so that NaN is refused too. */
    if (!(p >= 0.0f && p < 1.0f) && d->st == CNN_OK)
        d->st = cnn_fail(CNN_EFORMAT, WHO ": layer %u: dropout %g at offset %zu is outside [0, 1)",
                         d->layer, (double)p, at);
    return p;
}

#define DIM(name, lo) num(&d, name, (lo), CNNM_MAX_DIM)
#define FEAT(name) num(&d, name, 1, CNNM_MAX_FEATURES)

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

/* Decodes a descriptor whose bytes are known to be present, and the
 * parameter counts it implies.  Products of at most four values below 2^16
 * (or two below 2^24) plus one more fit in 64 bits, so nothing overflows. */
static cnn_status read_desc(rbuf *r, uint32_t index, layer_rec *rec, uint64_t *nw, uint64_t *nb)
{
    dec d = {r, index, CNN_OK};
    *nw = *nb = 0;
    switch (rec->kind) {
    case CNNM_KIND_CONV2D: {
        cnn_conv2d_params *p = &rec->p.conv;
        cnn_conv2d_params_init(p, 1, 1, 1);
        p->in_channels = DIM("in_channels", 1);
        p->out_channels = DIM("out_channels", 1);
        p->kernel_h = DIM("kernel_h", 1);
        p->kernel_w = DIM("kernel_w", 1);
        p->stride_h = DIM("stride_h", 1);
        p->stride_w = DIM("stride_w", 1);
        p->pad_h = DIM("pad_h", 0);
        p->pad_w = DIM("pad_w", 0);
        p->activation = enum_code(&d, "activation", CNNM_TABLE(cnnm_act_codes));
        p->pool = enum_code(&d, "pool", CNNM_TABLE(cnnm_pool_codes));
        p->pool_h = DIM("pool_h", 0);
        p->pool_w = DIM("pool_w", 0);
        p->init = enum_code(&d, "init", CNNM_TABLE(cnnm_init_codes));
        p->seed = g64(r);
        *nw = (uint64_t)p->out_channels * (uint64_t)p->in_channels * (uint64_t)p->kernel_h *
              (uint64_t)p->kernel_w;
        *nb = (uint64_t)p->out_channels;
        break;
    }
    case CNNM_KIND_POOL2D: {
        cnn_pool2d_params *p = &rec->p.pool;
        cnn_pool2d_params_init(p, CNN_POOL_MAX, 1, 1);
        p->mode = enum_code(&d, "mode", CNNM_TABLE(cnnm_pool_codes));
        p->window_h = DIM("window_h", 1);
        p->window_w = DIM("window_w", 1);
        p->stride_h = DIM("stride_h", 1);
        p->stride_w = DIM("stride_w", 1);
        break;
    }
    case CNNM_KIND_DENSE: {
        cnn_dense_params *p = &rec->p.dense;
        cnn_dense_params_init(p, 1);
        p->in_features = FEAT("in_features");
        p->out_features = FEAT("out_features");
        p->activation = enum_code(&d, "activation", CNNM_TABLE(cnnm_act_codes));
        p->dropout = dropout(&d);
        p->init = enum_code(&d, "init", CNNM_TABLE(cnnm_init_codes));
        p->seed = g64(r);
        *nw = (uint64_t)p->out_features * (uint64_t)p->in_features;
        *nb = (uint64_t)p->out_features;
        break;
    }
    case CNNM_KIND_SOFTMAX: {
        cnn_softmax_params *p = &rec->p.softmax;
        cnn_softmax_params_init(p, 2);
        p->in_features = FEAT("in_features");
        p->classes = FEAT("classes");
        p->dropout = dropout(&d);
        p->init = enum_code(&d, "init", CNNM_TABLE(cnnm_init_codes));
        p->seed = g64(r);
        *nw = (uint64_t)p->classes * (uint64_t)p->in_features;
        *nb = (uint64_t)p->classes;
        break;
    }
    case CNNM_KIND_ACTIVATION:
        rec->p.activation = enum_code(&d, "function", CNNM_TABLE(cnnm_act_codes));
        break;
    }
    return d.st;
}

/* Decodes and checks one layer record at r->pos and skips its parameters.
 * Allocates nothing. */
static cnn_status read_layer(rbuf *r, uint32_t index, layer_rec *rec)
{
    memset(rec, 0, sizeof *rec);
    rec->offset = r->pos;
    cnn_status st = need(r, CNNM_LAYER_HEAD_LEN, "layer header");
    if (st != CNN_OK)
        return st;
    rec->kind = g32(r);
    if (!cnnm_to_lib(CNNM_TABLE(cnnm_kind_codes), rec->kind, &rec->lib_kind))
        return cnn_fail(CNN_EFORMAT, WHO ": layer %u at offset %zu: unknown layer kind code %u",
                        index, rec->offset, rec->kind);
    uint32_t len = g32(r);
    /* Version 1 fixes each kind's descriptor length; a later version that
     * appends fields will also raise the version number. */
    if (len != desc_len(rec->kind))
        return cnn_fail(CNN_EFORMAT,
                        WHO ": layer %u at offset %zu: descriptor length %u, kind %u needs %u",
                        index, rec->offset, len, rec->kind, desc_len(rec->kind));
    if ((st = need(r, (size_t)len + CNNM_LAYER_COUNTS_LEN, "layer descriptor")) != CNN_OK)
        return st;
    uint64_t nw, nb;
    if ((st = read_desc(r, index, rec, &nw, &nb)) != CNN_OK)
        return st;
    size_t counts_at = r->pos;
    rec->n_weights = g64(r);
    rec->n_biases = g64(r);
    if (rec->n_weights != nw || rec->n_biases != nb)
        return cnn_fail(CNN_EFORMAT,
                        WHO ": layer %u: parameter counts %llu + %llu at offset %zu, the "
                        "descriptor implies %llu + %llu",
                        index, (unsigned long long)rec->n_weights,
                        (unsigned long long)rec->n_biases, counts_at, (unsigned long long)nw,
                        (unsigned long long)nb);
    /* The counts come from products that can reach 2^64 - 2^50: compare
     * each against the bytes left without adding them first. */
    size_t left = (r->size - r->pos) / 4;
    if (nw > left || nb > left - nw)
        return cnn_fail(CNN_EFORMAT,
                        WHO ": layer %u: %llu parameters at offset %zu but only %zu bytes left",
                        index, (unsigned long long)(nw + nb), r->pos, r->size - r->pos);
    rec->params_at = r->pos;
    r->pos += (size_t)(nw + nb) * 4u;
    return CNN_OK;
}

/* The network record (after magic, version, size and its length). */
typedef struct net_rec {
    int32_t in[3];
    uint32_t n_layers;
    uint64_t seed;
    uint64_t n_params;
} net_rec;

static cnn_status read_header(const uint8_t *data, size_t size, rbuf *r, net_rec *nr)
{
    if (size < CNNM_MAGIC_LEN || memcmp(data, CNNM_MAGIC, CNNM_MAGIC_LEN) != 0)
        return cnn_fail(CNN_EFORMAT, WHO ": not a libcnn model: bad magic at offset 0");
    if (size < CNNM_OFF_VERSION + 4)
        return cnn_fail(CNN_EFORMAT, WHO ": truncated at offset %zu: no format version", size);
    uint32_t version = cnnm_get_u32(data + CNNM_OFF_VERSION);
    if (version > CNNM_VERSION)
        return cnn_fail(CNN_EVERSION,
                        WHO ": format version %u is newer than this library reads (%u); "
                        "upgrade libcnn",
                        version, CNNM_VERSION);
    if (version == 0)
        return cnn_fail(CNN_EFORMAT, WHO ": format version 0 at offset %d is invalid",
                        CNNM_OFF_VERSION);
    if (size < CNNM_MIN_SIZE)
        return cnn_fail(CNN_EFORMAT, WHO ": truncated: %zu bytes, a model has at least %u", size,
                        (unsigned)CNNM_MIN_SIZE);
    uint64_t declared = cnnm_get_u64(data + CNNM_OFF_FILE_SIZE);
    if (declared != size)
        return cnn_fail(CNN_EFORMAT, WHO ": %s: the header at offset %d says %llu bytes, got %zu",
                        declared > size ? "truncated" : "trailing data", CNNM_OFF_FILE_SIZE,
                        (unsigned long long)declared, size);
    /* Nothing past the fixed header is believed before the CRC matches. */
    uint32_t stored = cnnm_get_u32(data + size - CNNM_CRC_LEN);
    uint32_t actual = cnnm_crc32(data, size - CNNM_CRC_LEN);
    if (stored != actual)
        return cnn_fail(CNN_ECHECKSUM,
                        WHO ": checksum mismatch: CRC-32 at offset %zu is 0x%08x, contents give 0x%08x",
                        size - CNNM_CRC_LEN, stored, actual);

    r->base = data;
    r->size = size - CNNM_CRC_LEN;
    r->pos = CNNM_OFF_NET_LEN;
    uint32_t net_len = g32(r);
    if (net_len != CNNM_NET_LEN_V1)
        return cnn_fail(CNN_EFORMAT, WHO ": network record length %u at offset %d, version 1 has %u",
                        net_len, CNNM_OFF_NET_LEN, CNNM_NET_LEN_V1);
    static const char *const dim_names[3] = {"input channels", "input height", "input width"};
    for (int k = 0; k < 3; k++) {
        size_t at = r->pos;
        uint32_t v = g32(r);
        if (v < 1 || v > CNNM_MAX_DIM)
            return cnn_fail(CNN_EFORMAT, WHO ": %s = %u at offset %zu is outside 1..%u",
                            dim_names[k], v, at, CNNM_MAX_DIM);
        nr->in[k] = (int32_t)v;
    }
    uint64_t in_size = (uint64_t)nr->in[0] * (uint64_t)nr->in[1] * (uint64_t)nr->in[2];
    if (in_size > CNNM_MAX_EXAMPLE)
        return cnn_fail(CNN_EFORMAT, WHO ": input %dx%dx%d has more than %llu elements",
                        nr->in[0], nr->in[1], nr->in[2], (unsigned long long)CNNM_MAX_EXAMPLE);
    size_t at = r->pos;
    nr->n_layers = g32(r);
    if (nr->n_layers > CNNM_MAX_LAYERS)
        return cnn_fail(CNN_EFORMAT, WHO ": %u layers at offset %zu, the limit is %u",
                        nr->n_layers, at, CNNM_MAX_LAYERS);
    nr->seed = g64(r);
    at = r->pos;
    nr->n_params = g64(r);
    if (nr->n_params > CNNM_MAX_PARAMS)
        return cnn_fail(CNN_EFORMAT, WHO ": %llu parameters at offset %zu, the limit is %llu",
                        (unsigned long long)nr->n_params, at,
                        (unsigned long long)CNNM_MAX_PARAMS);
    return CNN_OK;
}

/* Pass 3: every record checked, nothing allocated. */
static cnn_status validate_layers(rbuf r, const net_rec *nr)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < nr->n_layers; i++) {
        layer_rec rec;
        cnn_status st = read_layer(&r, i, &rec);
        if (st != CNN_OK)
            return st;
        total += rec.n_weights + rec.n_biases; /* both bounded by the file size */
    }
    if (r.pos != r.size)
        return cnn_fail(CNN_EFORMAT, WHO ": %zu unexpected bytes at offset %zu after the last layer",
                        r.size - r.pos, r.pos);
    if (total != nr->n_params)
        return cnn_fail(CNN_EFORMAT,
                        WHO ": the header says %llu parameters, the layers hold %llu",
                        (unsigned long long)nr->n_params, (unsigned long long)total);
    return CNN_OK;
}

/* Re-reports the library's message for a layer the file describes, as a
 * format error (the file asked for something the library refuses), except
 * for running out of memory, which is not the file's fault. */
static cnn_status layer_refused(cnn_status st, uint32_t index, const layer_rec *rec)
{
    char msg[CNN_ERRMSG_MAX];
    snprintf(msg, sizeof msg, "%s", cnn_errmsg_current());
    return cnn_fail(st == CNN_ENOMEM ? CNN_ENOMEM : CNN_EFORMAT,
                    WHO ": layer %u (record at offset %zu) is invalid: %s", index, rec->offset, msg);
}

static cnn_status create_layer(const layer_rec *rec, cnn_layer **out)
{
    switch (rec->kind) {
    case CNNM_KIND_CONV2D: return cnn_conv2d_create(&rec->p.conv, out);
    case CNNM_KIND_POOL2D: return cnn_pool2d_create(&rec->p.pool, out);
    case CNNM_KIND_DENSE: return cnn_dense_create(&rec->p.dense, out);
    case CNNM_KIND_SOFTMAX: return cnn_softmax_create(&rec->p.softmax, out);
    case CNNM_KIND_ACTIVATION: return cnn_activation_create(rec->p.activation, out);
    }
    return cnn_fail(CNN_EFORMAT, WHO ": unknown layer kind code %u", rec->kind);
}

/* The unfolded input of one example (im2col) is indexed with 32-bit ints
 * by the kernels; refuse geometry that would overflow them. */
static cnn_status check_output(const layer_rec *rec, uint32_t index, const int32_t in[3],
                               const int32_t out[3])
{
    uint64_t n = (uint64_t)out[0] * (uint64_t)out[1] * (uint64_t)out[2];
    if (out[0] < 1 || out[1] < 1 || out[2] < 1 || n > CNNM_MAX_EXAMPLE)
        return cnn_fail(CNN_EFORMAT,
                        WHO ": layer %u (record at offset %zu): output %dx%dx%d is outside the "
                        "limit of %llu elements",
                        index, rec->offset, out[0], out[1], out[2],
                        (unsigned long long)CNNM_MAX_EXAMPLE);
    if (rec->kind == CNNM_KIND_CONV2D) {
        const cnn_conv2d_params *p = &rec->p.conv;
        /* Rows and columns of the convolution before any fused pooling;
         * the layer accepted the shape, so the numerators are >= 0.  Each
         * product is checked before it feeds a larger one, so none of them
         * can overflow 64 bits. */
        uint64_t oh = (uint64_t)(in[1] + 2 * p->pad_h - p->kernel_h) / (uint64_t)p->stride_h + 1;
        uint64_t ow = (uint64_t)(in[2] + 2 * p->pad_w - p->kernel_w) / (uint64_t)p->stride_w + 1;
        uint64_t patch = (uint64_t)in[0] * (uint64_t)p->kernel_h * (uint64_t)p->kernel_w;
        bool ok = oh * ow <= CNNM_MAX_EXAMPLE &&
                  oh * ow * (uint64_t)p->out_channels <= CNNM_MAX_EXAMPLE &&
                  patch <= INT32_MAX && patch * oh * ow <= INT32_MAX;
        if (!ok)
            return cnn_fail(CNN_EFORMAT,
                            WHO ": layer %u (record at offset %zu): convolution of %dx%dx%d by "
                            "%dx%d is too large",
                            index, rec->offset, in[0], in[1], in[2], p->kernel_h, p->kernel_w);
    }
    return CNN_OK;
}

/* Pass 4: builds the network through the public API and copies the
 * parameters in. */
static cnn_status build(rbuf r, const net_rec *nr, cnn_net **out)
{
    cnn_net *net = NULL;
    cnn_status st = cnn_net_create(nr->in[0], nr->in[1], nr->in[2], nr->seed, &net);
    if (st != CNN_OK)
        return st == CNN_ENOMEM ? st : cnn_fail(CNN_EFORMAT, WHO ": %s", cnn_errmsg_current());
    for (uint32_t i = 0; i < nr->n_layers && st == CNN_OK; i++) {
        layer_rec rec;
        read_layer(&r, i, &rec); /* validated in pass 3 */
        int32_t shape[3], next[3];
        cnn_layer *layer = NULL;
        st = cnn_net_output_shape(net, shape);
        if (st == CNN_OK)
            st = create_layer(&rec, &layer);
        if (st == CNN_OK)
            st = cnn_layer_output_shape(layer, shape, next);
        if (st != CNN_OK) {
            st = layer_refused(st, i, &rec);
        } else if ((st = check_output(&rec, i, shape, next)) == CNN_OK) {
            st = cnn_net_add(net, layer);
            if (st != CNN_OK)
                st = layer_refused(st, i, &rec);
            else
                layer = NULL; /* the network owns it now */
        }
        cnn_layer_destroy(layer);
        if (st != CNN_OK)
            break;
        /* The library's own count must agree with the one checked against
         * the file, or the copy below would run past either buffer. */
        const cnn_layer *l = net->layers[i];
        if ((uint64_t)l->n_weights != rec.n_weights || (uint64_t)l->n_biases != rec.n_biases)
            st = cnn_fail(CNN_EFORMAT,
                          WHO ": layer %u (record at offset %zu): the file holds %llu + %llu "
                          "parameters, the layer has %lld + %lld",
                          i, rec.offset, (unsigned long long)rec.n_weights,
                          (unsigned long long)rec.n_biases, (long long)l->n_weights,
                          (long long)l->n_biases);
    }
    if (st == CNN_OK && (uint64_t)cnn_net_param_count(net) != nr->n_params)
        st = cnn_fail(CNN_EFORMAT, WHO ": the network has %lld parameters, the file %llu",
                      (long long)cnn_net_param_count(net), (unsigned long long)nr->n_params);
    if (st != CNN_OK) {
        cnn_net_destroy(net);
        return st;
    }
    /* Weights then biases of each layer, wherever the network keeps them. */
    r.pos = CNNM_HEADER_LEN;
    for (uint32_t i = 0; i < nr->n_layers; i++) {
        layer_rec rec;
        read_layer(&r, i, &rec);
        cnn_layer *l = net->layers[i];
        const uint8_t *src = r.base + rec.params_at;
        for (uint64_t j = 0; j < rec.n_weights; j++, src += 4)
            l->w[j] = cnnm_bits_float(cnnm_get_u32(src));
        for (uint64_t j = 0; j < rec.n_biases; j++, src += 4)
            l->b[j] = cnnm_bits_float(cnnm_get_u32(src));
    }
    *out = net;
    return CNN_OK;
}

cnn_status cnn_net_load_buffer(const void *data, size_t size, cnn_net **out)
{
    if (out)
        *out = NULL;
    if (!out)
        return cnn_fail(CNN_EINVAL, WHO "_buffer: out is NULL");
    if (!data)
        return cnn_fail(CNN_EINVAL, WHO "_buffer: data is NULL");
    rbuf r = {0};
    net_rec nr = {0};
    cnn_status st = read_header(data, size, &r, &nr);
    if (st == CNN_OK)
        st = validate_layers(r, &nr);
    if (st == CNN_OK)
        st = build(r, &nr, out);
    return st;
}

/* ---- from a file -------------------------------------------------------- */

cnn_status cnn_net_load(const char *path, cnn_net **out)
{
    if (out)
        *out = NULL;
    if (!out)
        return cnn_fail(CNN_EINVAL, WHO ": out is NULL");
    if (!path || !path[0])
        return cnn_fail(CNN_EINVAL, WHO ": path is %s", !path ? "NULL" : "empty");
    uint8_t *buf = NULL;
    size_t size = 0;
    cnn_status st = cnn_io_read_file(WHO, "model", path, CNNM_MAX_FILE_SIZE, &buf, &size);
    if (st != CNN_OK)
        return st;
    st = cnn_net_load_buffer(buf, size, out);
    cnn_dealloc(buf);
    if (st != CNN_OK) {
        /* Name the file: the buffer loader's message knows only offsets. */
        char msg[CNN_ERRMSG_MAX];
        snprintf(msg, sizeof msg, "%s", cnn_errmsg_current());
        cnn_fail(st, "%s (file '%s')", msg, path);
    }
    return st;
}
