/* Unpacking an untrusted ONNX file.
 *
 * protobuf-c's unpacker recurses once per nested message and has no depth
 * limit, and ONNX's schema is recursive (a node's attribute holds a graph
 * whose nodes hold attributes ...): a few kilobytes of nested headers would
 * exhaust the stack.  So the bytes are first walked against the schema's
 * own descriptors, which checks that every field is well formed and bounds
 * the nesting, and only then handed to protobuf-c, with an allocator that
 * refuses to go past a fixed multiple of the input size. */
#include "onnx/onnx.h"

#include <stdlib.h>

typedef struct scan {
    const char *who;
    cnn_status st;
} scan;

static bool bad(scan *s, const char *what, size_t at)
{
    if (s->st == CNN_OK)
        s->st = cnn_fail(CNN_EFORMAT, "%s: not a valid ONNX protobuf: %s at byte %zu", s->who,
                         what, at);
    return false;
}

/* A base-128 varint of at most 10 bytes. */
static bool varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 70 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        if (shift == 63 && b > 1)
            return false;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

static bool walk(scan *s, const uint8_t *base, const uint8_t *p, const uint8_t *end,
                 const ProtobufCMessageDescriptor *desc, int depth)
{
    while (p < end) {
        uint64_t tag, v;
        if (!varint(&p, end, &tag))
            return bad(s, "truncated field tag", (size_t)(p - base));
        const uint64_t number = tag >> 3;
        if (number == 0 || number > 536870911u)
            return bad(s, "field number out of range", (size_t)(p - base));
        switch (tag & 7) {
        case 0:
            if (!varint(&p, end, &v))
                return bad(s, "truncated varint", (size_t)(p - base));
            break;
        case 1:
            if (end - p < 8)
                return bad(s, "truncated 64-bit field", (size_t)(p - base));
            p += 8;
            break;
        case 5:
            if (end - p < 4)
                return bad(s, "truncated 32-bit field", (size_t)(p - base));
            p += 4;
            break;
        case 2: {
            if (!varint(&p, end, &v) || v > (uint64_t)(end - p))
                return bad(s, "length past the end", (size_t)(p - base));
            const ProtobufCFieldDescriptor *f =
                protobuf_c_message_descriptor_get_field(desc, (unsigned)number);
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                if (depth >= CNN_ONNX_MAX_DEPTH)
                    return bad(s, "messages nested too deeply", (size_t)(p - base));
                if (!walk(s, base, p, p + v, f->descriptor, depth + 1))
                    return false;
            }
            p += v;
            break;
        }
        default: /* groups (3, 4) are not in this schema; 6 and 7 do not exist */
            return bad(s, "unsupported wire type", (size_t)(p - base));
        }
    }
    return true;
}

typedef struct budget {
    size_t left;
} budget;

static void *capped_alloc(void *data, size_t size)
{
    budget *b = data;
    if (size > b->left)
        return NULL;
    b->left -= size;
    return malloc(size);
}

static void capped_free(void *data, void *ptr)
{
    (void)data;
    free(ptr);
}

cnn_status cnn_onnx_unpack(const char *who, const uint8_t *data, size_t size,
                           Onnx__ModelProto **out)
{
    *out = NULL;
    if (size > CNN_ONNX_MAX_BYTES)
        return cnn_fail(CNN_EFORMAT, "%s: %zu bytes, more than an ONNX model may be (%llu)", who,
                        size, (unsigned long long)CNN_ONNX_MAX_BYTES);
    scan s = {who, CNN_OK};
    if (!walk(&s, data, data, data + size, &onnx__model_proto__descriptor, 0))
        return s.st;
    budget b = {size * CNN_ONNX_ALLOC_FACTOR + ((size_t)1 << 20)};
    ProtobufCAllocator alloc = {capped_alloc, capped_free, &b};
    Onnx__ModelProto *m = onnx__model_proto__unpack(&alloc, size, data);
    if (!m) {
        if (b.left < ((size_t)1 << 20))
            return cnn_fail(CNN_ENOMEM, "%s: unpacking the ONNX model needs too much memory", who);
        return cnn_fail(CNN_EFORMAT, "%s: not a valid ONNX protobuf (protobuf-c refused it: a "
                        "field of the wrong type or a bad string)", who);
    }
    *out = m;
    return CNN_OK;
}
