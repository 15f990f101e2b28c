/* ONNX internals shared by export.c, import.c, import_ops.c, wire.c and
 * api.c.  Only compiled when the build generated onnx.pb-c.h (meson option
 * onnx); stub.c stands in otherwise.
 *
 * Why one directory and not a to_onnx/from_onnx hook per layer kind: the
 * layer files must build without protobuf-c, and the mapping is not per
 * kind in either direction.  Export writes a conv2d as up to four nodes
 * (Conv, pool, Add, activation); import folds runs of nodes (Conv, Relu,
 * MaxPool; Gemm, Softmax) into one layer, which needs a view of the node
 * sequence that no single kind has.  export.c keeps a small table with one
 * emitter per kind, so a new kind without an entry is refused by name. */
#ifndef CNN_ONNX_H
#define CNN_ONNX_H

#include "core.h"
#include "onnx.pb-c.h"

#include <stddef.h>
#include <stdint.h>

/* The opset export writes and the range import accepts (the ops used mean
 * the same throughout; Softmax's axis change at 13 does not matter for the
 * rank-2 inputs import allows). */
#define CNN_ONNX_OPSET 13
#define CNN_ONNX_OPSET_MIN 7
#define CNN_ONNX_OPSET_MAX 21
#define CNN_ONNX_IR_VERSION 7

/* Hostile-input bounds: protobuf's own 2 GiB message limit, nesting of
 * sub-messages (a real model needs about 6), and what unpacking may
 * allocate per byte of input (protobuf-c allocates at most a few times the
 * input; a varint-packed repeated field of N one-byte values becomes N
 * 8-byte integers). */
#define CNN_ONNX_MAX_BYTES ((uint64_t)2 << 30)
#define CNN_ONNX_MAX_DEPTH 24
#define CNN_ONNX_ALLOC_FACTOR 24

/* ---- arena (arena.c): everything export builds is freed in one go ---- */
typedef struct cnn_arena cnn_arena;
cnn_arena *cnn_arena_create(void);
void cnn_arena_destroy(cnn_arena *a); /* NULL is fine */
/* Zeroed memory that lives as long as the arena; NULL when out of memory. */
void *cnn_arena_alloc(cnn_arena *a, size_t count, size_t size);
char *cnn_arena_strdup(cnn_arena *a, const char *s);
/* printf into arena memory. */
char *cnn_arena_printf(cnn_arena *a, const char *fmt, ...) CNN_PRINTF(2, 3);

/* ---- wire.c: unpacking untrusted bytes ---------------------------------- */
/* Checks the protobuf wire format of data against the ModelProto schema
 * (every field well formed, nesting at most CNN_ONNX_MAX_DEPTH) and only
 * then unpacks it with an allocator capped at CNN_ONNX_ALLOC_FACTOR times
 * the size.  CNN_EFORMAT or CNN_ENOMEM with a message starting with who.
 * Free *out with onnx__model_proto__free_unpacked(*out, NULL). */
cnn_status cnn_onnx_unpack(const char *who, const uint8_t *data, size_t size,
                           Onnx__ModelProto **out);

/* ---- export.c / import.c ------------------------------------------------ */
/* The model as bytes (cnn_alloc'd, the caller frees with cnn_dealloc). */
cnn_status cnn_onnx_export(const cnn_net *net, const char *who, uint8_t **out, size_t *size);
cnn_status cnn_onnx_import(const char *who, const uint8_t *data, size_t size, cnn_net **out);

#endif /* CNN_ONNX_H */
