/* The model file format, version 1 (docs/format.md is the specification;
 * keep the two in step).  Shared by model_write.c and model_read.c.
 *
 * Why codes are mapped here rather than written as the library's enum
 * values: the file format is a contract with files already on disk, the
 * enums are a contract with C callers.  Mapping explicitly means neither can
 * drift silently when the other changes, and a reader rejects any code it
 * does not know instead of handing it on. */
#ifndef CNN_IO_MODEL_FORMAT_H
#define CNN_IO_MODEL_FORMAT_H

#include "core.h"

#include <stdint.h>
#include <string.h>

#define CNNM_MAGIC "CNNMODEL"
#define CNNM_MAGIC_LEN 8
#define CNNM_VERSION 2u                 /* newest written and read; version 1 is read too */

/* Fixed offsets of the header.  Magic and version stay where they are in
 * every future version, so any reader can tell "not a model" from "newer". */
#define CNNM_OFF_VERSION 8
#define CNNM_OFF_FILE_SIZE 12
#define CNNM_OFF_NET_LEN 20
#define CNNM_OFF_NET 24
#define CNNM_NET_LEN_V1 32u             /* in_c, in_h, in_w, layers, seed, n_params */
#define CNNM_HEADER_LEN (CNNM_OFF_NET + CNNM_NET_LEN_V1)
#define CNNM_LAYER_HEAD_LEN 8u          /* kind code, descriptor length */
/* n_weights, n_biases; version 2 adds n_state (non-trainable values such as
 * batch norm's running statistics, stored after the biases). */
#define CNNM_LAYER_COUNTS_LEN(version) ((version) >= 2 ? 24u : 16u)
#define CNNM_CRC_LEN 4u
#define CNNM_MIN_SIZE (CNNM_HEADER_LEN + CNNM_CRC_LEN)

/* Documented limits (docs/format.md, "Limits"): the library's own (cnn.h),
 * so that what can be built can be saved and loaded.  They are checked
 * before anything is allocated, so a hostile file cannot make the reader ask
 * for more memory than its own size in parameters plus bounded bookkeeping. */
#define CNNM_MAX_LAYERS ((uint32_t)CNN_MAX_LAYERS)
#define CNNM_MAX_DIM ((uint32_t)CNN_MAX_DIM)
#define CNNM_MAX_FEATURES ((uint32_t)CNN_MAX_FEATURES)
#define CNNM_MAX_EXAMPLE ((uint64_t)CNN_MAX_EXAMPLE)
#define CNNM_MAX_PARAMS ((uint64_t)CNN_MAX_PARAMS)
/* Largest file cnn_net_load() reads: every parameter plus generous room for
 * the records of the maximum layer count. */
#define CNNM_MAX_FILE_SIZE (CNNM_MAX_PARAMS * 4u + ((uint64_t)1 << 20))

/* Layer kind codes live in each kind's ops (file_code); lib/layers/registry.c
 * maps them back. */

/* One table per enumeration: {library value, file code}.  The reader and
 * writer both go through cnnm_map(), so a value missing from a table is an
 * error on both sides. */
typedef struct cnnm_code {
    int32_t lib;
    uint32_t file;
} cnnm_code;

static const cnnm_code cnnm_act_codes[] = {
    {CNN_ACT_IDENTITY, 0}, {CNN_ACT_SIGMOID, 1}, {CNN_ACT_TANH, 2}, {CNN_ACT_RELU, 3},
};
static const cnnm_code cnnm_pool_codes[] = {
    {CNN_POOL_NONE, 0}, {CNN_POOL_MAX, 1}, {CNN_POOL_AVG, 2}, {CNN_POOL_L2, 3},
};
static const cnnm_code cnnm_init_codes[] = {
    {CNN_INIT_NETWORK3, 0}, {CNN_INIT_HE, 1}, {CNN_INIT_GLOROT, 2}, {CNN_INIT_ZERO, 3},
};
#define CNNM_TABLE(t) (t), (sizeof(t) / sizeof((t)[0]))

/* Library value -> file code; false if the value is not in the table. */
static inline bool cnnm_to_file(const cnnm_code *t, size_t n, int32_t lib, uint32_t *file)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].lib == lib) {
            *file = t[i].file;
            return true;
        }
    return false;
}

/* File code -> library value; false if the code is unknown. */
static inline bool cnnm_to_lib(const cnnm_code *t, size_t n, uint32_t file, int32_t *lib)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].file == file) {
            *lib = t[i].lib;
            return true;
        }
    return false;
}

/* Little-endian fixed-width fields, byte by byte, whatever the host order. */
static inline void cnnm_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline void cnnm_put_u64(uint8_t *p, uint64_t v)
{
    cnnm_put_u32(p, (uint32_t)v);
    cnnm_put_u32(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t cnnm_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t cnnm_get_u64(const uint8_t *p)
{
    return (uint64_t)cnnm_get_u32(p) | (uint64_t)cnnm_get_u32(p + 4) << 32;
}

/* IEEE-754 binary32 bits; memcpy keeps NaN payloads and signed zeros exact. */
static inline uint32_t cnnm_float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float cnnm_bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* zlib's crc32 over a buffer of any size (zlib takes 32-bit lengths). */
uint32_t cnnm_crc32(const uint8_t *data, size_t size);

#endif /* CNN_IO_MODEL_FORMAT_H */
