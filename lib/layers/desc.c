/* Encoding and decoding layer descriptors of the model format
 * (docs/format.md).  Each kind's encode/decode is a list of calls to these,
 * in field order; the range checks live here once, so that the writer
 * refuses exactly what the reader would. */
#include "layer.h"
#include "io/model_format.h"

#include <stdio.h>

static void enc_fail(cnn_enc *e, const char *fmt, ...) CNN_PRINTF(2, 3);
static void enc_fail(cnn_enc *e, const char *fmt, ...)
{
    if (e->st != CNN_OK)
        return;
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    e->st = cnn_fail(CNN_EINVAL, "cnn_net_save: layer %d (%s): %s", (int)e->layer, e->kind, what);
}

static void put32(cnn_enc *e, uint32_t v)
{
    if (e->p)
        cnnm_put_u32(e->p + e->len, v);
    e->len += 4;
}

void cnn_enc_u32(cnn_enc *e, const char *name, int64_t v, int64_t lo, int64_t hi)
{
    if (v < lo || v > hi)
        enc_fail(e, "%s = %lld is outside the format's range %lld..%lld", name, (long long)v,
                 (long long)lo, (long long)hi);
    put32(e, (uint32_t)v);
}

void cnn_enc_u64(cnn_enc *e, uint64_t v)
{
    if (e->p)
        cnnm_put_u64(e->p + e->len, v);
    e->len += 8;
}

void cnn_enc_f32(cnn_enc *e, float v)
{
    put32(e, cnnm_float_bits(v));
}

static void enc_code(cnn_enc *e, const char *name, const cnnm_code *t, size_t n, int32_t v)
{
    uint32_t c = 0;
    if (!cnnm_to_file(t, n, v, &c))
        enc_fail(e, "%s = %d has no code in the format", name, (int)v);
    put32(e, c);
}

void cnn_enc_act(cnn_enc *e, const char *name, int32_t v)
{
    enc_code(e, name, CNNM_TABLE(cnnm_act_codes), v);
}

void cnn_enc_pool(cnn_enc *e, const char *name, int32_t v)
{
    enc_code(e, name, CNNM_TABLE(cnnm_pool_codes), v);
}

void cnn_enc_init(cnn_enc *e, const char *name, int32_t v)
{
    enc_code(e, name, CNNM_TABLE(cnnm_init_codes), v);
}

/* ---- decoding ----------------------------------------------------------- */

/* Whether n more bytes are there; records "truncated" once if not. */
static bool have(cnn_dec *d, size_t n, const char *name)
{
    if (d->len - d->pos >= n)
        return true;
    if (d->st == CNN_OK)
        d->st = cnn_fail(CNN_EFORMAT, "cnn_net_load: layer %u: descriptor of %zu bytes at offset "
                         "%zu ends before %s", d->layer, d->len, d->offset, name);
    d->pos = d->len;
    return false;
}

static uint32_t get32(cnn_dec *d, const char *name, size_t *at)
{
    *at = d->offset + d->pos;
    if (!have(d, 4, name))
        return 0;
    uint32_t v = cnnm_get_u32(d->p + d->pos);
    d->pos += 4;
    return v;
}

int32_t cnn_dec_u32(cnn_dec *d, const char *name, uint32_t lo, uint32_t hi)
{
    size_t at;
    uint32_t v = get32(d, name, &at);
    if (d->st == CNN_OK && (v < lo || v > hi))
        d->st = cnn_fail(CNN_EFORMAT, "cnn_net_load: layer %u: %s = %u at offset %zu is outside "
                         "%u..%u", d->layer, name, v, at, lo, hi);
    return (int32_t)(v >= lo && v <= hi ? v : lo);
}

uint64_t cnn_dec_u64(cnn_dec *d, const char *name)
{
    if (!have(d, 8, name))
        return 0;
    uint64_t v = cnnm_get_u64(d->p + d->pos);
    d->pos += 8;
    return v;
}

float cnn_dec_f32(cnn_dec *d, const char *name)
{
    size_t at;
    return cnnm_bits_float(get32(d, name, &at));
}

float cnn_dec_f32_range(cnn_dec *d, const char *name, float lo, float hi)
{
    size_t at;
    float v = cnnm_bits_float(get32(d, name, &at));
    /* A negated range test, so that NaN is refused too. */
    if (!(v >= lo && v < hi) && d->st == CNN_OK)
        d->st = cnn_fail(CNN_EFORMAT, "cnn_net_load: layer %u: %s %g at offset %zu is outside "
                         "[%g, %g)", d->layer, name, (double)v, at, (double)lo, (double)hi);
    return v >= lo && v < hi ? v : lo;
}

static int32_t dec_code(cnn_dec *d, const char *name, const cnnm_code *t, size_t n)
{
    size_t at;
    uint32_t v = get32(d, name, &at);
    int32_t lib = 0;
    if (!cnnm_to_lib(t, n, v, &lib) && d->st == CNN_OK)
        d->st = cnn_fail(CNN_EFORMAT, "cnn_net_load: layer %u: unknown %s code %u at offset %zu",
                         d->layer, name, v, at);
    return lib;
}

int32_t cnn_dec_act(cnn_dec *d, const char *name)
{
    return dec_code(d, name, CNNM_TABLE(cnnm_act_codes));
}

int32_t cnn_dec_pool(cnn_dec *d, const char *name)
{
    return dec_code(d, name, CNNM_TABLE(cnnm_pool_codes));
}

int32_t cnn_dec_init(cnn_dec *d, const char *name)
{
    return dec_code(d, name, CNNM_TABLE(cnnm_init_codes));
}
