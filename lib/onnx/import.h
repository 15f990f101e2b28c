/* The importer's state, shared by import.c (the chain walk, tensors,
 * attributes, building the network) and import_ops.c (one handler per
 * ONNX op).
 *
 * Import walks the graph's nodes in order as a chain: each node takes the
 * tensor the previous one produced, and every other input is a constant
 * (an initializer or a Constant node).  Conv and Gemm/MatMul open a
 * pending layer that the nodes after them may complete (bias Add, pool,
 * activation, Softmax) as long as the result is exactly what one libcnn
 * layer computes; anything else closes it and becomes a layer of its own
 * or is refused. */
#ifndef CNN_ONNX_IMPORT_H
#define CNN_ONNX_IMPORT_H

#include "onnx/onnx.h"

#include <stdbool.h>

/* Bounds on a graph (hostile input): nodes and constants looked up by
 * name, and the rank of a constant tensor. */
#define IMP_MAX_NODES 8192
#define IMP_MAX_CONSTS 8192
#define IMP_MAX_RANK 8

enum { PEND_NONE, PEND_CONV, PEND_AFFINE };

typedef struct imp_pending {
    int kind;
    cnn_conv2d_params conv;
    int32_t in_features, out_features;
    float dropout;
    float *w, *b;      /* cnn_alloc'd, libcnn layout; b NULL = no bias yet */
    int32_t act;       /* CNN_ACT_IDENTITY = none yet */
    bool act_before_pool;
    size_t ni;         /* the node that opened it, for messages */
    const Onnx__NodeProto *n;
} imp_pending;

typedef struct imp_const {
    const char *name;
    const Onnx__TensorProto *t;
} imp_const;

typedef struct imp {
    const char *who;
    const Onnx__GraphProto *g;
    int64_t opset;
    imp_const *consts;
    size_t n_consts;
    cnn_net *net;
    const char *cur;   /* the tensor the chain has reached */
    int rank;          /* its rank: 4 or 2 */
    int32_t shape[3];  /* its libcnn shape; (F, 1, 1) when rank 2 */
    imp_pending p;
    bool ended;        /* a softmax output layer was added */
    bool libcnn;       /* written by libcnn: node names carry layer indices */
    size_t ni;         /* the node being read, for messages */
    const Onnx__NodeProto *n;
} imp;

/* CNN_ENOTSUP (or st) "onnx: node I 'NAME' (OP): why". */
cnn_status imp_refuse(imp *m, cnn_status st, const char *fmt, ...) CNN_PRINTF(3, 4);

/* Attributes of the current node; each checks the attribute's type. */
const Onnx__AttributeProto *imp_attr(const imp *m, const char *name);
cnn_status imp_attr_int(imp *m, const char *name, int64_t def, int64_t *out);
cnn_status imp_attr_float(imp *m, const char *name, float def, float *out);
/* An INTS attribute of exactly `count` values (absent: *found = false). */
cnn_status imp_attr_ints(imp *m, const char *name, size_t count, int64_t *out, bool *found);
/* CNN_ENOTSUP naming the first attribute not in the NULL-terminated list. */
cnn_status imp_attrs_known(imp *m, const char *const *known);

/* Input k of the current node as a constant, or NULL if it is absent
 * ("" or past the end); refuses a non-constant. */
cnn_status imp_input_const(imp *m, size_t k, const Onnx__TensorProto **out);
/* A float32 constant as a cnn_alloc'd array with its dims. */
cnn_status imp_floats(imp *m, const Onnx__TensorProto *t, int64_t dims[IMP_MAX_RANK],
                      size_t *ndims, float **out);
/* An int64 constant of at most `max` values. */
cnn_status imp_int64s(imp *m, const Onnx__TensorProto *t, size_t max, int64_t *out,
                      size_t *count);

/* Whether the current node may complete the pending layer: always, except
 * in a libcnn export, whose node names ("layer3_Relu") say which layer
 * each node belongs to; keeping those boundaries makes a re-export of an
 * import byte-identical (an activation layer stays a layer). */
bool imp_same_layer(const imp *m);
/* Whether the current node is a layer of its own in a libcnn export. */
bool imp_libcnn_layer(const imp *m);
/* Closes the pending layer (if any) into the network. */
cnn_status imp_flush(imp *m);
/* Adds a layer the importer created, then copies w, b, state (NULL: keep
 * zeros / the kind's init) into the network's storage.  Frees w, b. */
cnn_status imp_add(imp *m, cnn_layer *layer, float *w, float *b, const float *state);

/* The op table (import_ops.c): handles the current node; the walk then
 * moves the chain to its first output. */
cnn_status imp_node(imp *m);

#endif /* CNN_ONNX_IMPORT_H */
