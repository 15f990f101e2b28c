/* Layer internals: the cnn_layer struct and the operations table each layer
 * kind (conv2d.c, pool2d.c, dense.c, softmax.c, activation.c) provides.
 *
 * A layer is either standalone (it owns its parameter and gradient storage
 * and its scratch) or belongs to a network (its w/b/dw/db point into the
 * network's flat buffers and the network lends it scratch).  Layer code
 * validates nothing at run time: cnn_layer_forward()/cnn_net_forward() check
 * shapes once, then call the infallible forward/backward below. */
#ifndef CNN_LAYER_H
#define CNN_LAYER_H

#include "core.h"
#include "pool.h"

typedef struct cnn_layer_ops {
    int32_t kind;          /* enum cnn_layer_kind */
    const char *name;      /* "conv2d", ... for messages */
    /* Output shape for input `in`, or CNN_ESHAPE with a message naming both. */
    cnn_status (*out_shape)(const cnn_layer *l, const int32_t in[3], int32_t out[3]);
    /* Fixes the input size (in_channels / in_features) from `in`; sets
     * n_weights / n_biases and the parameter tensor shapes.  Called once. */
    cnn_status (*bind)(cnn_layer *l, const int32_t in[3]);
    /* Draws initial parameters into l->w / l->b. */
    void (*init_params)(cnn_layer *l, cnn_rng *rng);
    /* Floats of shared scratch the layer needs for a batch of n (im2col). */
    size_t (*scratch_floats)(const cnn_layer *l, int n);
    /* Sizes the layer's own per-batch buffers (argmax, masks, ...) for n. */
    cnn_status (*reserve)(cnn_layer *l, int n);
    /* y = layer(x) for a batch of n; mode CNN_MODE_TRAIN records what
     * backward needs and draws dropout masks from `rng`. */
    void (*forward)(cnn_layer *l, int n, const float *x, float *y, int32_t mode,
                    float *scratch, cnn_rng *rng);
    /* Given x, y of the last training forward and dy (which backward may
     * overwrite), writes dw/db and, if dx != NULL, dx. */
    void (*backward)(cnn_layer *l, int n, const float *x, const float *y, float *dy,
                     float *dx, float *scratch);
    /* Frees the kind's per-batch buffers. */
    void (*free_aux)(cnn_layer *l);
    /* Optional, for a network's worker threads (NULL: the layer runs whole on
     * one thread).  forward_part does forward's work for images [a, b) of a
     * batch of n (x, y point at the whole batch); the parts of one batch
     * touch disjoint memory, each with its own scratch (scratch_floats(l, m)
     * for a part of m images).  backward_part does backward's work for
     * images [a, b), writing that part's weight gradient into dw_part
     * (n_weights floats) instead of l->dw; backward_finish then writes l->dw
     * as the sum of the parts' dw_part in part order (fixed, hence
     * deterministic for a given thread count) and the bias gradient. */
    void (*forward_part)(cnn_layer *l, int n, int a, int b, const float *x, float *y,
                         int32_t mode, float *scratch);
    void (*backward_part)(cnn_layer *l, int n, int a, int b, const float *x, const float *y,
                          float *dy, float *dx, float *scratch, float *dw_part);
    void (*backward_finish)(cnn_layer *l, int n, const float *dy, const float *const *dw_parts,
                            int parts);
} cnn_layer_ops;

/* Per-batch buffers a layer keeps between forward and backward; each grows
 * (never shrinks) to the largest batch seen, so steady-state training does
 * not allocate.  *_len are element counts. */
typedef struct cnn_layer_aux {
    float *pre;            /* conv+L2 pool: pooled values; dense/softmax+dropout: masked input */
    size_t pre_len;
    int32_t *argmax;       /* max pooling: argmax per output */
    size_t argmax_len;
    uint8_t *mask;         /* dropout: keep mask per input */
    size_t mask_len;
    float *conv_out;       /* conv with fused pooling: convolution output before pooling */
    size_t conv_out_len;
    float *dconv;          /* conv with fused pooling: gradient w.r.t. conv_out */
    size_t dconv_len;
} cnn_layer_aux;

/* Grows *buf to at least `need` elements of `elem` bytes (contents lost). */
cnn_status cnn_aux_grow(void **buf, size_t *len, size_t need, size_t elem, const char *who);
/* Frees every aux buffer. */
void cnn_aux_free(cnn_layer_aux *aux);

struct cnn_layer {
    const cnn_layer_ops *ops;
    cnn_net *owner;        /* NULL while standalone */
    union {
        cnn_conv2d_params conv;
        cnn_pool2d_params pool;
        cnn_dense_params dense;
        cnn_softmax_params softmax;
        int32_t activation;
    } p;                   /* the creation parameters (input size filled in by bind) */

    uint64_t seed;         /* standalone weights and dropout masks come from this */
    bool bound;            /* input size known, parameter sizes fixed */
    int32_t in[3];         /* input shape (C, H, W) once bound to a network;
                              conv/pool/activation standalone layers accept any H, W */
    int64_t n_weights, n_biases;
    int32_t w_ndim;
    int64_t w_shape[4];

    float *w, *b, *dw, *db;        /* current parameter storage */
    float *own_storage;            /* standalone: weights, biases, grads in one block */

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
    /* Plain SGD fused into backward (cnn_net_backward_sgd, used by
     * cnn_train_step and cnn_train): while fuse_sgd is set, dense and softmax layers apply
     * w = fuse_decay*w - fuse_eta*dw as they compute dw (not storing dw)
     * and set sgd_applied, so cnn_optimizer_step skips those weights. */
    bool fuse_sgd, sgd_applied;
    float fuse_eta, fuse_decay;
    /* Workers a dense or softmax layer may split one call over (by output
     * rows or input columns): set by the network around each forward and
     * backward when it has them; NULL for standalone calls. */
    cnn_pool *pool;
    int32_t last_in[3];            /* input shape of the last forward */
};

/* Constructors' shared part: allocates a zeroed layer of `ops`. */
cnn_status cnn_layer_alloc(const cnn_layer_ops *ops, cnn_layer **out);
/* Constructors' common ending: seeds the layer and, when the input size is
 * already known (in > 0), binds it and draws its standalone weights.  On
 * failure frees the layer.  Stores the layer in *out on success. */
cnn_status cnn_layer_finish_create(cnn_layer *l, uint64_t seed, int32_t in_size, cnn_layer **out);
/* Allocates the standalone parameter block for a bound layer and points
 * w/b/dw/db and the views into it; draws weights from `seed` with the init. */
cnn_status cnn_layer_alloc_own_params(cnn_layer *l, uint64_t seed);
/* Points w/b/dw/db (and views) at external storage (a network's buffers). */
void cnn_layer_set_storage(cnn_layer *l, float *params, float *grads);
/* Refreshes the four parameter views from w/b/dw/db and the shapes. */
void cnn_layer_refresh_views(cnn_layer *l);
/* Frees the layer and everything it owns. */
void cnn_layer_free(cnn_layer *l);
/* Elements per example of the layer's output for input `in`. */
int64_t cnn_shape_numel3(const int32_t s[3]);

/* Draws weights/biases by scheme (enum cnn_init).  fan_out_network3 is
 * network3's n_out (for conv: maps*kh*kw / pool area). */
void cnn_init_fill(cnn_rng *rng, int32_t scheme, float *w, int64_t n_w, float *b, int64_t n_b,
                   int64_t fan_in, int64_t fan_out, int64_t fan_out_network3);

/* Shared by dense.c and softmax.c: the affine part y = alpha*(x.mask) W^T + b
 * with dropout handled (training: fresh mask into aux, masked input kept;
 * inference: alpha = 1-p). */
void cnn_affine_forward(cnn_layer *l, int n, int in, int out, float dropout, const float *x,
                        float *y, int32_t mode, cnn_rng *rng);
/* Backward of the affine part from dz (n x out): dw, db and, if dx, dx. */
void cnn_affine_backward(cnn_layer *l, int n, int in, int out, float dropout, const float *x,
                         const float *dz, float *dx);
/* Reserves the dropout buffers of an affine layer for n examples. */
cnn_status cnn_affine_reserve(cnn_layer *l, int n, int in, float dropout);
/* Network path for the output layer: dz = dcost/dz already computed. */
void cnn_softmax_backward_dz(cnn_layer *l, int n, const float *x, const float *dz, float *dx);

/* Kind tables, one per file. */
extern const cnn_layer_ops cnn_conv2d_ops;
extern const cnn_layer_ops cnn_pool2d_ops;
extern const cnn_layer_ops cnn_dense_ops;
extern const cnn_layer_ops cnn_softmax_ops;
extern const cnn_layer_ops cnn_activation_ops;

#endif /* CNN_LAYER_H */
