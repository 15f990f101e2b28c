/* Loading a network from the model format of docs/format.md.
 *
 * The input is hostile until proven otherwise.  The order of work is:
 *   1. magic, version, declared size: tells "not a model" and "too new"
 *      apart from "damaged";
 *   2. CRC over everything before the trailer: nothing beyond the header
 *      is trusted before it matches;
 *   3. a decoding pass: each record's kind is looked up in the registry of
 *      layer kinds, which decodes its own descriptor and validates it as
 *      its public constructor would; the layer is made and bound to the
 *      shape before it (which allocates no parameters), and its parameter
 *      counts are compared with the file's and with the bytes left, so
 *      what step 5 allocates is bounded by the file's own size;
 *   4. the resource limits (cnn_load_limits): parameter bytes, workspace
 *      and work per example, computed from the decoded layers before any
 *      of it is allocated or run;
 *   5. a build pass through cnn_net_add(), so the library's own checks run
 *      on what the file describes, then the parameters and state are
 *      copied in bit for bit.
 * Nothing here knows one layer kind from another. */
#include "io/file_io.h"
#include "io/model_format.h"
#include "net/net.h"

#include <stddef.h>
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

/* The network record (after magic, version, size and its length). */
typedef struct net_rec {
    uint32_t version;
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
    nr->version = version;
    uint32_t net_len = g32(r);
    if (net_len != CNNM_NET_LEN_V1)
        return cnn_fail(CNN_EFORMAT, WHO ": network record length %u at offset %d, version %u "
                        "has %u", net_len, CNNM_OFF_NET_LEN, version, CNNM_NET_LEN_V1);
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

/* One decoded layer record. */
typedef struct layer_rec {
    size_t offset;             /* of the record, for messages */
    cnn_layer *layer;          /* made and bound, not yet in a network */
    int32_t out[3];            /* its output shape */
    uint64_t n_weights, n_biases, n_state;
    size_t params_at;          /* offset of the first parameter */
} layer_rec;

/* Re-reports the library's message for a layer the file describes, as a
 * format error (the file asked for something the library refuses), except
 * for running out of memory, which is not the file's fault. */
static cnn_status layer_refused(cnn_status st, uint32_t index, size_t offset)
{
    char msg[CNN_ERRMSG_MAX];
    snprintf(msg, sizeof msg, "%s", cnn_errmsg_current());
    return cnn_fail(st == CNN_ENOMEM ? CNN_ENOMEM : CNN_EFORMAT,
                    WHO ": layer %u (record at offset %zu) is invalid: %s", index, offset, msg);
}

/* Decodes the record at r->pos for input shape `in` into rec (its layer
 * made and bound), and skips its parameters. */
static cnn_status read_layer(rbuf *r, uint32_t version, uint32_t index, const int32_t in[3],
                             layer_rec *rec)
{
    memset(rec, 0, sizeof *rec);
    rec->offset = r->pos;
    cnn_status st = need(r, CNNM_LAYER_HEAD_LEN, "layer header");
    if (st != CNN_OK)
        return st;
    uint32_t code = g32(r);
    const cnn_layer_ops *ops = cnn_layer_kind_by_code(code);
    if (!ops)
        return cnn_fail(CNN_EFORMAT, WHO ": layer %u at offset %zu: unknown layer kind code %u",
                        index, rec->offset, code);
    uint32_t len = g32(r);
    if ((st = need(r, (size_t)len + CNNM_LAYER_COUNTS_LEN(version), "layer descriptor")) != CNN_OK)
        return st;
    cnn_params_buf params;
    if (ops->params_size > sizeof params)
        return cnn_fail(CNN_EFORMAT, WHO ": layer %u: kind %s is too large to decode", index,
                        ops->name);
    cnn_dec d = {.p = r->base + r->pos, .len = len, .offset = r->pos, .layer = index,
                 .version = version, .st = CNN_OK};
    ops->decode(&d, &params);
    if (d.st != CNN_OK)
        return d.st;
    if (d.pos != len)
        return cnn_fail(CNN_EFORMAT, WHO ": layer %u at offset %zu: descriptor length %u, kind "
                        "%s needs %zu", index, rec->offset, len, ops->name, d.pos);
    r->pos += len;
    if ((st = ops->validate(&params)) != CNN_OK)
        return layer_refused(st, index, rec->offset);
    cnn_layer *l;
    if ((st = cnn_layer_make(ops, &params, &l)) != CNN_OK)
        return st;
    rec->layer = l;
    st = ops->out_shape(l, in, rec->out);
    if (st == CNN_OK && cnn_shape_numel3(rec->out) > CNN_MAX_EXAMPLE)
        st = cnn_fail(CNN_ESHAPE, "output %dx%dx%d has more than %d elements per example",
                      rec->out[0], rec->out[1], rec->out[2], CNN_MAX_EXAMPLE);
    if (st == CNN_OK)
        st = ops->bind(l, in); /* sizes only: allocates nothing */
    if (st != CNN_OK)
        return layer_refused(st, index, rec->offset);
    memcpy(l->in, in, sizeof l->in);

    size_t counts_at = r->pos;
    rec->n_weights = g64(r);
    rec->n_biases = g64(r);
    rec->n_state = version >= 2 ? g64(r) : 0;
    if (rec->n_weights != (uint64_t)l->n_weights || rec->n_biases != (uint64_t)l->n_biases ||
        rec->n_state != (uint64_t)l->n_state)
        return cnn_fail(CNN_EFORMAT,
                        WHO ": layer %u: parameter counts %llu + %llu + %llu at offset %zu, the "
                        "descriptor implies %lld + %lld + %lld",
                        index, (unsigned long long)rec->n_weights,
                        (unsigned long long)rec->n_biases, (unsigned long long)rec->n_state,
                        counts_at, (long long)l->n_weights, (long long)l->n_biases,
                        (long long)l->n_state);
    /* The counts fit in int32 each (bind refuses more); compare each against
     * the bytes left without adding them first. */
    size_t left = (r->size - r->pos) / 4;
    uint64_t nw = rec->n_weights, nb = rec->n_biases, ns = rec->n_state;
    if (nw > left || nb > left - nw || ns > left - nw - nb)
        return cnn_fail(CNN_EFORMAT,
                        WHO ": layer %u: %llu parameters at offset %zu but only %zu bytes left",
                        index, (unsigned long long)(nw + nb + ns), r->pos, r->size - r->pos);
    rec->params_at = r->pos;
    r->pos += (size_t)(nw + nb + ns) * 4u;
    return CNN_OK;
}

static void free_recs(layer_rec *recs, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        cnn_layer_free(recs[i].layer);
    cnn_dealloc(recs);
}

/* Pass 3: every record decoded and checked; recs[i].layer made, unattached. */
static cnn_status decode_layers(rbuf r, const net_rec *nr, layer_rec *recs)
{
    uint64_t total = 0;
    const int32_t *in = nr->in;
    for (uint32_t i = 0; i < nr->n_layers; i++) {
        cnn_status st = read_layer(&r, nr->version, i, in, &recs[i]);
        if (st != CNN_OK)
            return st;
        if (i > 0 && recs[i - 1].layer->ops->is_output)
            return cnn_fail(CNN_EFORMAT, WHO ": layer %u (record at offset %zu) follows the "
                            "%s output layer", i, recs[i].offset, recs[i - 1].layer->ops->name);
        total += recs[i].n_weights + recs[i].n_biases + recs[i].n_state; /* bounded by the file */
        in = recs[i].out;
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

/* Pass 4: what running the network would cost, against the caller's limits. */
static cnn_status check_costs(const net_rec *nr, const layer_rec *recs,
                              const cnn_load_limits *lim)
{
    cnn_net_costs c = {0};
    cnn_net_costs_add_input(&c, nr->in);
    for (uint32_t i = 0; i < nr->n_layers; i++)
        cnn_net_costs_add(&c, recs[i].layer, recs[i].out);
    cnn_status st = cnn_net_costs_check(&c, lim);
    if (st != CNN_OK) {
        char msg[CNN_ERRMSG_MAX];
        snprintf(msg, sizeof msg, "%s", cnn_errmsg_current());
        return cnn_fail(st, WHO ": %s", msg);
    }
    return CNN_OK;
}

/* Pass 5: builds the network through cnn_net_add() and copies the
 * parameters and state in.  Takes the layers out of recs. */
static cnn_status build(rbuf r, const net_rec *nr, layer_rec *recs, const cnn_load_limits *lim,
                        cnn_net **out)
{
    cnn_net *net = NULL;
    cnn_status st = cnn_net_create(nr->in[0], nr->in[1], nr->in[2], nr->seed, &net);
    if (st != CNN_OK)
        return st == CNN_ENOMEM ? st : cnn_fail(CNN_EFORMAT, WHO ": %s", cnn_errmsg_current());
    if ((st = cnn_net_set_limits(net, lim)) != CNN_OK) {
        cnn_net_destroy(net);
        return st;
    }
    for (uint32_t i = 0; i < nr->n_layers && st == CNN_OK; i++) {
        st = cnn_net_add(net, recs[i].layer);
        if (st == CNN_OK)
            recs[i].layer = NULL; /* the network owns it now */
        else
            st = layer_refused(st, i, recs[i].offset);
    }
    if (st != CNN_OK) {
        cnn_net_destroy(net);
        return st;
    }
    /* Weights, biases, then state of each layer, wherever the network keeps them. */
    for (uint32_t i = 0; i < nr->n_layers; i++) {
        cnn_layer *l = net->layers[i];
        const uint8_t *src = r.base + recs[i].params_at;
        for (int64_t j = 0; j < l->n_weights; j++, src += 4)
            l->w[j] = cnnm_bits_float(cnnm_get_u32(src));
        for (int64_t j = 0; j < l->n_biases; j++, src += 4)
            l->b[j] = cnnm_bits_float(cnnm_get_u32(src));
        for (int64_t j = 0; j < l->n_state; j++, src += 4)
            l->state[j] = cnnm_bits_float(cnnm_get_u32(src));
    }
    *out = net;
    return CNN_OK;
}

/* Limits from the caller's struct: the fields its struct_size covers,
 * defaults for the rest. */
static cnn_status read_limits(const cnn_load_limits *given, cnn_load_limits *lim)
{
    cnn_load_limits_init(lim, sizeof *lim);
    if (!given)
        return CNN_OK;
    if (given->struct_size < offsetof(cnn_load_limits, max_param_bytes) + sizeof(int64_t))
        return cnn_fail(CNN_EINVAL, WHO ": limits struct_size %u is too small (use "
                        "cnn_load_limits_init)", (unsigned)given->struct_size);
    size_t n = given->struct_size < sizeof *lim ? given->struct_size : sizeof *lim;
    memcpy(lim, given, n);
    lim->struct_size = sizeof *lim;
    return cnn_load_limits_check(lim, WHO);
}

cnn_status cnn_net_load_buffer_limited(const void *data, size_t size,
                                       const cnn_load_limits *limits, cnn_net **out)
{
    if (out)
        *out = NULL;
    if (!out)
        return cnn_fail(CNN_EINVAL, WHO "_buffer: out is NULL");
    if (!data)
        return cnn_fail(CNN_EINVAL, WHO "_buffer: data is NULL");
    cnn_load_limits lim;
    cnn_status st = read_limits(limits, &lim);
    if (st != CNN_OK)
        return st;
    rbuf r = {0};
    net_rec nr = {0};
    if ((st = read_header(data, size, &r, &nr)) != CNN_OK)
        return st;
    layer_rec *recs = cnn_alloc_zeroed(nr.n_layers ? nr.n_layers : 1, sizeof *recs);
    if (!recs)
        return cnn_fail(CNN_ENOMEM, WHO ": out of memory for %u layer records", nr.n_layers);
    st = decode_layers(r, &nr, recs);
    if (st == CNN_OK)
        st = check_costs(&nr, recs, &lim);
    if (st == CNN_OK)
        st = build(r, &nr, recs, &lim, out);
    free_recs(recs, nr.n_layers);
    return st;
}

cnn_status cnn_net_load_buffer(const void *data, size_t size, cnn_net **out)
{
    return cnn_net_load_buffer_limited(data, size, NULL, out);
}

/* ---- from a file -------------------------------------------------------- */

cnn_status cnn_net_load(const char *path, cnn_net **out)
{
    return cnn_net_load_limited(path, NULL, out);
}

cnn_status cnn_net_load_limited(const char *path, const cnn_load_limits *limits, cnn_net **out)
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
    st = cnn_net_load_buffer_limited(buf, size, limits, out);
    cnn_dealloc(buf);
    if (st != CNN_OK) {
        /* Name the file: the buffer loader's message knows only offsets. */
        char msg[CNN_ERRMSG_MAX];
        snprintf(msg, sizeof msg, "%s", cnn_errmsg_current());
        cnn_fail(st, "%s (file '%s')", msg, path);
    }
    return st;
}
