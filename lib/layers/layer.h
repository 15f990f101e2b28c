/* Layer internals: the cnn_layer struct and the table of operations that
 * each layer kind provides.
 *
 * A kind is one file (conv2d.c, pool2d.c, dense.c, softmax.c,
 * activation.c, batchnorm.c, ...) that defines one `const cnn_layer_ops`
 * and registers it in registry.c.  Everything specific to the kind lives in
 * that table: validation of its creation parameters, shape inference,
 * parameter layout and init, forward and backward, its record in model
 * files, its one-line summary, and what it costs.  The network, the
 * training loop, the model reader and writer, the checkpoint code and
 * cnn_constant() never ask which kind a layer is.
 *
 * A layer is either standalone (it owns its parameter, gradient and state
 * storage and its scratch) or belongs to a network (its w/b/dw/db/state
 * point into the network's flat buffers and the network lends it scratch).
 * Layer code validates nothing at run time: the public entry points check
 * shapes once, then call the infallible forward/backward below. */
#ifndef CNN_LAYER_H
#define CNN_LAYER_H

#include "core.h"
#include "pool.h"

#include <string.h>

/* What one forward or backward call needs besides its data, passed as an
 * argument rather than stored in the layer (so a layer holds no borrowed
 * pointers between calls). */
typedef struct cnn_sgd_fused {
    float eta;   /* learning rate */
    float decay; /* weight factor: w = decay*w - eta*dw */
} cnn_sgd_fused;

typedef struct cnn_layer_ctx {
    int32_t mode;             /* CNN_MODE_INFER or CNN_MODE_TRAIN */
    cnn_pool *pool;           /* workers the layer may split one call over, or NULL */
    cnn_rng *rng;             /* dropout and other training-time draws */
    float *scratch;           /* ops->scratch_floats(l, n) floats (a part's, for *_part) */
    /* backward only, and only for kinds with fuses_sgd: when non-NULL the
     * layer applies plain SGD to its weights (not its biases) while it
     * computes their gradient, and does not store dw.  The optimizer sets
     * it and knows those weights are then up to date. */
    const cnn_sgd_fused *sgd;
} cnn_layer_ctx;

/* How a standalone layer reads a batch tensor as N examples of (C, H, W). */
enum cnn_input_form {
    CNN_INPUT_SPATIAL = 0, /* rank 4 (N, C, H, W) required */
    CNN_INPUT_ANY = 1,     /* rank 4 kept spatial, any other rank flattened */
    CNN_INPUT_FLAT = 2     /* everything after the batch axis is one feature vector */
};

/* Model-file descriptor codecs (lib/layers/desc.c).  A kind's encode writes
 * its creation parameters through a cnn_enc, which checks each against the
 * range the reader will accept, so the writer never produces a file the
 * reader refuses.  A cnn_enc with p == NULL only counts bytes.  decode reads
 * them back through a cnn_dec, which checks bounds and ranges.  Both record
 * the first problem in st and carry on harmlessly. */
typedef struct cnn_enc {
    uint8_t *p;        /* where the next field goes; NULL = measure only */
    size_t len;        /* bytes written (or measured) so far */
    const char *kind;  /* for messages */
    int32_t layer;     /* index, for messages */
    cnn_status st;
} cnn_enc;

typedef struct cnn_dec {
    const uint8_t *p;  /* the descriptor */
    size_t len, pos;   /* its length and the read position */
    size_t offset;     /* of the descriptor in the file, for messages */
    uint32_t layer;    /* index, for messages */
    uint32_t version;  /* format version of the file */
    cnn_status st;
} cnn_dec;

void cnn_enc_u32(cnn_enc *e, const char *name, int64_t v, int64_t lo, int64_t hi);
void cnn_enc_u64(cnn_enc *e, uint64_t v);
void cnn_enc_f32(cnn_enc *e, float v);
/* Library enum value -> file code (tables in io/model_format.h). */
void cnn_enc_act(cnn_enc *e, const char *name, int32_t v);
void cnn_enc_pool(cnn_enc *e, const char *name, int32_t v);
void cnn_enc_init(cnn_enc *e, const char *name, int32_t v);
int32_t cnn_dec_u32(cnn_dec *d, const char *name, uint32_t lo, uint32_t hi);
uint64_t cnn_dec_u64(cnn_dec *d, const char *name);
float cnn_dec_f32(cnn_dec *d, const char *name);
/* A float in [lo, hi) (NaN refused). */
float cnn_dec_f32_range(cnn_dec *d, const char *name, float lo, float hi);
int32_t cnn_dec_act(cnn_dec *d, const char *name);
int32_t cnn_dec_pool(cnn_dec *d, const char *name);
int32_t cnn_dec_init(cnn_dec *d, const char *name);

typedef struct cnn_layer_ops {
    int32_t kind;            /* enum cnn_layer_kind, as cnn_layer_kind() returns */
    const char *name;        /* "conv2d", ... for messages and summaries */
    const char *const_name;  /* "CNN_LAYER_CONV2D": cnn_constant() lists it */
    uint32_t file_code;      /* the kind's code in model files (docs/format.md), never reused */
    size_t params_size;      /* sizeof the kind's public params struct (struct_size first) */
    size_t params_min_size;  /* its first published size: older callers pass at least this */
    void (*defaults)(void *params); /* fills a complete params struct with the defaults */
    int32_t input_form;      /* enum cnn_input_form */
    bool is_output;          /* ends a network and defines its cost (loss below) */
    bool fuses_sgd;          /* backward honours ctx->sgd */

    /* Creation: checks a params struct the caller filled (struct_size
     * already checked); CNN_EINVAL with a message. */
    cnn_status (*validate)(const void *params);
    /* The input size fixed at creation (in_channels / in_features), or 0
     * when the network supplies it. */
    int32_t (*preset_input)(const void *params);

    /* Output shape for input `in`, or CNN_ESHAPE with a message naming both. */
    cnn_status (*out_shape)(const cnn_layer *l, const int32_t in[3], int32_t out[3]);
    /* Fixes the input size from `in`; sets n_weights, n_biases, n_state and
     * the weight tensor shape.  Called once. */
    cnn_status (*bind)(cnn_layer *l, const int32_t in[3]);
    /* Draws initial parameters into w / b and resets state. */
    void (*init_params)(cnn_layer *l, cnn_rng *rng);
    /* Floats of scratch for a batch of n (NULL: none). */
    size_t (*scratch_floats)(const cnn_layer *l, int n);
    /* Sizes the layer's per-batch buffers (l->aux) for n (NULL: none). */
    cnn_status (*reserve)(cnn_layer *l, int n);
    /* y = layer(x) for a batch of n; CNN_MODE_TRAIN records what backward
     * needs. */
    void (*forward)(cnn_layer *l, int n, const float *x, float *y, const cnn_layer_ctx *ctx);
    /* Given x, y of the last training forward and dy (which backward may
     * overwrite), writes dw/db and, if dx != NULL, dx. */
    void (*backward)(cnn_layer *l, int n, const float *x, const float *y, float *dy, float *dx,
                     const cnn_layer_ctx *ctx);
    /* Optional, for a network's worker threads (NULL: the layer runs whole
     * on one thread, possibly splitting itself over ctx->pool).
     * forward_part does forward's work for images [a, b) of a batch of n
     * (x, y point at the whole batch); parts touch disjoint memory, each
     * with its own ctx->scratch (scratch_floats(l, m) for m images).
     * backward_part does backward's work for images [a, b), writing that
     * part's weight gradient into dw_part (n_weights floats); backward_finish
     * then writes l->dw as the sum of the parts in part order (fixed, hence
     * deterministic for a given thread count) and the bias gradient. */
    void (*forward_part)(cnn_layer *l, int n, int a, int b, const float *x, float *y,
                         const cnn_layer_ctx *ctx);
    void (*backward_part)(cnn_layer *l, int n, int a, int b, const float *x, const float *y,
                          float *dy, float *dx, const cnn_layer_ctx *ctx, float *dw_part);
    void (*backward_finish)(cnn_layer *l, int n, const float *dy, const float *const *dw_parts,
                            int parts);
    /* Whether the layer can use a network's workers at all (NULL: only if
     * forward_part is set).  Decides whether a network starts threads. */
    bool (*uses_workers)(const cnn_layer *l);

    /* Output layers (is_output): from the training forward's output y and
     * the labels, the summed cost over the batch and dz, the gradient of
     * the mean cost w.r.t. the layer's pre-activation (n x classes). */
    double (*loss)(const cnn_layer *l, int n, const float *y, const int32_t *labels, float *dz);
    /* Output layers, optional: the summed cost of the last forward (either
     * mode) without the gradient; NULL = cnn_k_nll_sum of y. */
    double (*cost)(const cnn_layer *l, int n, const float *y, const int32_t *labels);
    /* Output layers: backward from dz (as loss wrote it) instead of dy. */
    void (*backward_dz)(cnn_layer *l, int n, const float *x, const float *dz, float *dx,
                        const cnn_layer_ctx *ctx);

    /* Multiply-adds (or comparable element operations) per example. */
    int64_t (*flops)(const cnn_layer *l);
    /* One line without a newline, e.g. "conv2d 20 maps 5x5, stride 1, pad 0,
     * relu, max pool 2x2": every field that changes what the layer
     * computes, none that only changes its initial weights (checkpoint
     * resume compares these lines). */
    void (*describe)(const cnn_layer *l, char *buf, size_t size);
    /* The model-file descriptor: encode writes the creation parameters;
     * decode reads them into a params struct of params_size bytes. */
    void (*encode)(const cnn_layer *l, cnn_enc *e);
    void (*decode)(cnn_dec *d, void *params);
} cnn_layer_ops;

/* Per-batch buffers a layer keeps between forward and backward, in slots
 * whose meaning each kind names for itself.  Each grows (never shrinks) to
 * the largest batch seen, so steady-state training does not allocate. */
#define CNN_AUX_SLOTS 6
typedef struct cnn_layer_aux {
    void *buf[CNN_AUX_SLOTS];
    size_t len[CNN_AUX_SLOTS]; /* elements */
} cnn_layer_aux;

/* Grows slot `slot` of l->aux to at least `need` elements of `elem` bytes
 * (contents lost). */
cnn_status cnn_aux_reserve(cnn_layer *l, int slot, size_t need, size_t elem);
/* Grows *buf to at least `need` elements of `elem` bytes (contents lost). */
cnn_status cnn_aux_grow(void **buf, size_t *len, size_t need, size_t elem, const char *who);

struct cnn_layer {
    const cnn_layer_ops *ops;
    cnn_net *owner;        /* NULL while standalone */
    void *params;          /* the kind's params struct (ops->params_size bytes), input size
                              filled in by bind */

    uint64_t seed;         /* standalone weights and dropout masks come from this */
    bool bound;            /* input size known, parameter sizes fixed */
    int32_t in[3];         /* input shape (C, H, W) once known */
    int64_t n_weights, n_biases;
    int64_t n_state;       /* non-trainable values saved with the model (running statistics) */
    int32_t w_ndim;
    int64_t w_shape[4];

    float *w, *b, *dw, *db;        /* current parameter storage */
    float *state;                  /* n_state floats */
    float *own_storage;            /* standalone: weights, biases, grads, state in one block */

    cnn_tensor view_w, view_b, view_dw, view_db; /* handed out by cnn_layer_param() */

    cnn_layer_aux aux;

    /* Standalone use only: scratch and dropout generator. */
    float *own_scratch;
    size_t own_scratch_len;
    cnn_rng rng;

    /* Guards backward: set by a training forward, cleared by anything that
     * invalidates what it stored. */
    bool trained;
    int last_n;
    int32_t last_in[3];            /* input shape of the last forward */
};

/* Room for any kind's params struct on the stack (the registry's kinds are
 * checked against it: cnn_layer_make refuses a larger params_size). */
typedef union cnn_params_buf {
    max_align_t align;
    unsigned char bytes[512];
} cnn_params_buf;

/* Creates a layer of `ops` from a params struct already validated: copies
 * it, and does not bind (so it allocates no parameters).  Used by the
 * public constructors (through cnn_layer_create), the model reader and
 * clone. */
cnn_status cnn_layer_make(const cnn_layer_ops *ops, const void *params, cnn_layer **out);
/* The public constructors' body: checks struct_size and the params
 * (ops->validate), makes the layer and, when the input size is preset,
 * binds it and draws its standalone weights from `seed`. */
cnn_status cnn_layer_create(const cnn_layer_ops *ops, const char *who, const void *params,
                            uint64_t seed, cnn_layer **out);
/* A params struct's struct_size field (every params struct starts with it). */
static inline uint32_t cnn_params_struct_size(const void *params)
{
    uint32_t s;
    memcpy(&s, params, sizeof s);
    return s;
}
/* Allocates the standalone parameter block for a bound layer and points
 * w/b/dw/db/state and the views into it; draws weights from `seed`. */
cnn_status cnn_layer_alloc_own_params(cnn_layer *l, uint64_t seed);
/* Points w/b/dw/db (and views) at external storage (a network's buffers);
 * state at `state`. */
void cnn_layer_set_storage(cnn_layer *l, float *params, float *grads, float *state);
/* Refreshes the four parameter views from w/b/dw/db and the shapes. */
void cnn_layer_refresh_views(cnn_layer *l);
/* Frees the layer and everything it owns. */
void cnn_layer_free(cnn_layer *l);
/* Elements per example of a (C, H, W) shape. */
int64_t cnn_shape_numel3(const int32_t s[3]);
/* Whether the layer can use a network's workers. */
bool cnn_layer_uses_workers(const cnn_layer *l);
/* The layer's one-line summary into buf (see ops->describe). */
void cnn_layer_describe(const cnn_layer *l, char *buf, size_t size);

/* Draws weights/biases by scheme (enum cnn_init).  fan_out_network3 is
 * network3's n_out (for conv: maps*kh*kw / pool area). */
void cnn_init_fill(cnn_rng *rng, int32_t scheme, float *w, int64_t n_w, float *b, int64_t n_b,
                   int64_t fan_in, int64_t fan_out, int64_t fan_out_network3);
/* An activation layer's function (enum cnn_activation), for the ONNX
 * writer: that kind's params struct is private to activation.c. */
int32_t cnn_activation_function(const cnn_layer *l);

/* "relu", "sigmoid", ... and "max", "avg", "l2" for summaries. */
const char *cnn_act_name(int32_t act);
const char *cnn_pool_name(int32_t mode);

/* Shared by dense.c and softmax.c: the affine part y = alpha*(x.mask) W^T + b
 * with dropout handled (training: fresh mask into aux, masked input kept;
 * inference: alpha = 1-p). */
void cnn_affine_forward(cnn_layer *l, int n, int in, int out, float dropout, const float *x,
                        float *y, const cnn_layer_ctx *ctx);
/* Backward of the affine part from dz (n x out): dw (or the fused update),
 * db and, if dx, dx. */
void cnn_affine_backward(cnn_layer *l, int n, int in, int out, float dropout, const float *x,
                         const float *dz, float *dx, const cnn_layer_ctx *ctx);
/* Reserves the dropout buffers of an affine layer for n examples. */
cnn_status cnn_affine_reserve(cnn_layer *l, int n, int in, float dropout);
/* Whether an affine layer of n_weights is worth splitting over workers. */
bool cnn_affine_uses_workers(const cnn_layer *l);

/* ---- the registry (registry.c) ----------------------------------------- */

/* Every kind, in a fixed order. */
extern const cnn_layer_ops *const cnn_layer_kinds[];
extern const int32_t cnn_layer_kind_count;
/* The kind with this model-file code, or NULL. */
const cnn_layer_ops *cnn_layer_kind_by_code(uint32_t file_code);

#endif /* CNN_LAYER_H */
