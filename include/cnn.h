/**
 * @file cnn.h
 * @brief libcnn: convolutional neural networks in plain C.
 *
 * This header is the whole public interface of libcnn and its reference
 * manual.  Link with `pkg-config --cflags --libs cnn`.
 *
 * @section rules Rules every function follows
 *
 * - **Handles.** Every object is an opaque handle (cnn_tensor, cnn_layer,
 *   cnn_net, cnn_optimizer, cnn_dataset).  `cnn_*_create` and `cnn_*_load`
 *   functions hand back an owned handle through an out-parameter; free it
 *   with the matching `cnn_*_destroy`, which accepts NULL.  On failure the
 *   out-parameter is set to NULL (when the out-pointer itself is not NULL).
 * - **Ownership.** Getters return borrowed pointers that stay valid as long
 *   as the handle they came from.  The library never keeps a pointer to a
 *   caller's buffer after a call returns, except cnn_tensor_wrap(), which
 *   says so.
 * - **Errors.** Every fallible function returns a ::cnn_status: #CNN_OK (0)
 *   or a negative code whose value never changes meaning.  A message that
 *   says what went wrong and where is kept for the calling thread
 *   (cnn_last_error()) and, for calls on a network, in the network as well
 *   (cnn_net_errmsg()).  The library never prints, exits or aborts.
 * - **Parameters.** Parameter structs belong to the caller.  Fill one with
 *   its `cnn_*_params_init` function, then change the fields you need.  The
 *   first field, `struct_size`, lets later versions append fields without
 *   breaking callers compiled against this header: the init functions are
 *   inline and pass the caller's `sizeof`, so a newer library never writes
 *   past an older caller's struct, and the library reads only the first
 *   `struct_size` bytes of a struct, taking defaults for fields the caller's
 *   version did not have.
 * - **Threads.** The library has no mutable global state (see
 *   cnn_test_fail_alloc_after() for the one test-only exception).  Distinct
 *   handles may be used from different threads at the same time; one handle
 *   must be used by one thread at a time.  Datasets are the exception: they
 *   never change after creation, so any number of threads may read one
 *   dataset at once (and destroy derived datasets independently).  A trained
 *   network used only for
 *   inference (cnn_net_predict() and friends) still mutates its workspace, so
 *   give each thread its own copy (cnn_net_clone()).
 * - **Determinism.** Given the same seed, build and thread count, training
 *   produces bit-identical weights.  No call reads the clock for randomness.
 * - **Instruction set.** Some kernels pick a SIMD path (AVX2 + FMA on
 *   x86-64) at run time and fall back to plain C on CPUs without it.  The
 *   environment variable `CNN_ISA=generic` forces the plain-C paths on any
 *   CPU; it is read once, on the first call that needs it, and any other
 *   value (or none) means the best path the CPU has.  The two paths round
 *   differently, so "same build" in the determinism rule includes the same
 *   CNN_ISA.  The BLAS library's own dispatch is not affected.
 *
 * @section layout Data layout
 * Tensors hold float32 values in row-major NCHW order: a batch of N images
 * of C channels, H rows and W columns.  Fully connected layers see each image
 * as a flat vector of C*H*W values in that order.
 */
#ifndef CNN_H
#define CNN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @cond INTERNAL */
#if defined(_WIN32) && defined(CNN_BUILDING_LIBRARY)
#  define CNN_API __declspec(dllexport)
#elif defined(_WIN32)
#  define CNN_API __declspec(dllimport)
#elif defined(CNN_BUILDING_LIBRARY) && defined(__GNUC__)
#  define CNN_API __attribute__((visibility("default")))
#else
#  define CNN_API
#endif
/** @endcond */

/* ------------------------------------------------------------------------ */
/** @name Version */
/** @{ */

/** Major version: changes only with an incompatible ABI (the soname). */
#define CNN_VERSION_MAJOR 1
/** Minor version: additions that keep the ABI. */
#define CNN_VERSION_MINOR 2
/** Patch version: fixes only. */
#define CNN_VERSION_PATCH 0

/**
 * The library's version at run time, as MAJOR*10000 + MINOR*100 + PATCH.
 * Compare with the CNN_VERSION_* macros to detect a header/library mismatch.
 * @since 0.1
 */
CNN_API uint32_t cnn_version(void);

/**
 * The library's version as a static string such as "0.1.0"; never NULL.
 * @since 0.1
 */
CNN_API const char *cnn_version_string(void);
/** @} */

/* ------------------------------------------------------------------------ */
/** @name Instruction-set paths */
/** @{ */

/**
 * The instruction-set paths of libcnn's own kernels (the convolutions and
 * the small-batch dense layers).  Values are pinned.  @since 1.1
 *
 * One library binary carries all of them and picks one at run time, the
 * first time a kernel runs: the best the CPU supports, or a lower one named
 * by the environment variable `CNN_ISA` ("avx2" or "generic"; a path the CPU
 * lacks is never taken, and any other value means the best).
 *
 * Numerics: with the same inputs, seed, thread count and path, every result
 * is bit-identical from run to run.  Different paths may differ by rounding
 * only: each output is the same sum taken in the same order, but the SIMD
 * paths fuse each multiply-add (one rounding) where the generic path rounds
 * twice, and block sizes that depend on the vector width can regroup sums.
 * Matrix products left to the BLAS follow the BLAS's own rules.
 */
typedef enum cnn_isa_path {
    CNN_ISA_GENERIC = 0, /**< portable C */
    CNN_ISA_AVX2 = 1,    /**< x86-64 AVX2 + FMA, 8-float vectors */
    CNN_ISA_AVX512 = 2   /**< x86-64 AVX-512 F/BW/VL/DQ, 16-float vectors */
} cnn_isa_path;

/**
 * The path the kernels use in this process (a #cnn_isa_path value).  Fixed
 * after the first call (or the first kernel run); thread-safe.
 * @since 1.1
 */
CNN_API int32_t cnn_isa(void);

/**
 * The best path this CPU supports, whatever `CNN_ISA` says.
 * @since 1.1
 */
CNN_API int32_t cnn_isa_best(void);

/**
 * The name of a path: "generic", "avx2" or "avx512" (the spelling `CNN_ISA`
 * takes); a static string, never NULL; "unknown" for other values.
 * @since 1.1
 */
CNN_API const char *cnn_isa_name(int32_t isa);
/** @} */

/* ------------------------------------------------------------------------ */
/** @name Status codes and messages */
/** @{ */

/** Result of every fallible call: #CNN_OK or one of the negative codes. */
typedef int32_t cnn_status;

/** Status codes.  Values are pinned: they never change meaning. */
enum cnn_status_code {
    CNN_OK = 0,          /**< success */
    CNN_EINVAL = -1,     /**< invalid argument: NULL, zero/negative size, out of range */
    CNN_ESHAPE = -2,     /**< tensor or layer shapes do not fit together */
    CNN_ENOMEM = -3,     /**< memory allocation failed */
    CNN_EIO = -4,        /**< a file could not be opened, read or written */
    CNN_EFORMAT = -5,    /**< malformed, truncated or corrupt file or buffer */
    CNN_EVERSION = -6,   /**< a file of a format version this library does not know */
    CNN_ECANCELED = -7,  /**< a callback returned non-zero and stopped the work */
    CNN_ESTATE = -8,     /**< the call is not valid in the handle's current state */
    CNN_ECHECKSUM = -9,  /**< stored checksum does not match the contents */
    /** training produced a non-finite cost or parameter (learning rate too
     *  high, or bad data); the message names the epoch and step.  @since 1.0 */
    CNN_EDIVERGED = -10,
    /** the input is valid but uses something this library cannot represent
     *  (an ONNX op or attribute), or the feature was not built in (ONNX
     *  without protobuf-c); the message says which.  @since 1.2 */
    CNN_ENOTSUP = -11
};

/**
 * A static, human-readable description of a status code ("shape mismatch").
 * Never NULL; unknown codes give "unknown status".
 * @since 0.1
 */
CNN_API const char *cnn_status_string(cnn_status status);

/**
 * The symbolic name of a status code ("CNN_ESHAPE"), for bindings that
 * cannot see this header's enums.  Never NULL; unknown codes give "CNN_E?".
 * @since 0.1
 */
CNN_API const char *cnn_status_name(cnn_status status);

/**
 * The detailed message of the most recent failed call made by this thread,
 * e.g. "conv2d: input 20x12x12 but kernel 13x13 needs at least 13x13".
 * Successful calls do not clear it.  Never NULL ("" when nothing failed yet).
 * The pointer is valid until this thread's next failing call.
 *
 * Bindings whose calls may move between OS threads (Go) should read the
 * message in the same native call that failed, or use cnn_net_errmsg().
 * @since 0.1
 */
CNN_API const char *cnn_last_error(void);

/**
 * Looks up a public constant of this header by name ("CNN_ACT_RELU",
 * "CNN_EINVAL", "CNN_MAX_RANK", "CNN_VERSION_MAJOR", ...), for FFI callers
 * that cannot see macros and enums, or that want to check the values they
 * pinned.
 * @param name  the constant's name as spelled in this header
 * @param value receives its value
 * @return #CNN_OK, #CNN_EINVAL (NULL argument or unknown name)
 * @since 0.1
 */
CNN_API cnn_status cnn_constant(const char *name, int64_t *value);

/**
 * Number of constants cnn_constant() knows.
 * @since 0.1
 */
CNN_API int32_t cnn_constant_count(void);

/**
 * Name of constant @p index (0 to cnn_constant_count() - 1), a static string;
 * NULL if @p index is out of range.  With cnn_constant() this enumerates
 * every public constant.
 * @param index position in the library's table
 * @since 0.1
 */
CNN_API const char *cnn_constant_name(int32_t index);

/**
 * Frees memory that the library allocated for the caller (cnn_net_save_buffer()).
 * NULL is fine.
 * @since 0.1
 */
CNN_API void cnn_free(void *ptr);
/** @} */

/* ------------------------------------------------------------------------ */
/** @name Tensors */
/** @{ */

/** An n-dimensional array of float32 (rank 1 to 4), row-major, NCHW. */
typedef struct cnn_tensor cnn_tensor;

/** Largest rank a tensor may have. */
#define CNN_MAX_RANK 4

/**
 * Creates a zero-filled tensor.
 * @param ndim  rank, 1 to #CNN_MAX_RANK
 * @param shape ndim sizes, each >= 1 (copied)
 * @param out   receives the new tensor; free with cnn_tensor_destroy()
 * @return #CNN_OK, #CNN_EINVAL (NULL pointer, bad rank or size, element count
 *         overflow), #CNN_ENOMEM
 * @since 0.1
 */
CNN_API cnn_status cnn_tensor_create(int32_t ndim, const int64_t *shape, cnn_tensor **out);

/**
 * Creates a tensor that uses the caller's memory without copying it.
 * The tensor borrows @p data: the caller must keep it alive, and not free it,
 * until the tensor is destroyed.  Destroying the tensor does not free @p data.
 * @param ndim  rank, 1 to #CNN_MAX_RANK
 * @param shape ndim sizes, each >= 1 (copied)
 * @param data at least product(shape) floats, suitably aligned for float
 * @param out  receives the new tensor; free with cnn_tensor_destroy()
 * @return #CNN_OK, #CNN_EINVAL, #CNN_ENOMEM
 * @since 0.1
 */
CNN_API cnn_status cnn_tensor_wrap(int32_t ndim, const int64_t *shape, float *data,
                                   cnn_tensor **out);

/**
 * Destroys a tensor made by cnn_tensor_create() or cnn_tensor_wrap().
 * NULL is fine.  Tensors returned by getters (cnn_layer_param()) belong to
 * their layer and must not be destroyed.
 * @since 0.1
 */
CNN_API void cnn_tensor_destroy(cnn_tensor *t);

/** The tensor's rank, or 0 if @p t is NULL. @since 0.1 */
CNN_API int32_t cnn_tensor_ndim(const cnn_tensor *t);

/** The size of axis @p axis, or 0 if @p t is NULL or the axis is out of range. @since 0.1 */
CNN_API int64_t cnn_tensor_dim(const cnn_tensor *t, int32_t axis);

/** The number of elements, or 0 if @p t is NULL. @since 0.1 */
CNN_API int64_t cnn_tensor_numel(const cnn_tensor *t);

/**
 * The tensor's elements (borrowed, numel floats), or NULL if @p t is NULL.
 * Valid until the tensor is destroyed or reshaped to a larger size.
 * @since 0.1
 */
CNN_API float *cnn_tensor_data(cnn_tensor *t);

/**
 * Changes the shape, keeping the element count and the data.
 * @return #CNN_OK, #CNN_EINVAL (bad rank or sizes), #CNN_ESHAPE (element
 *         count differs)
 * @since 0.1
 */
CNN_API cnn_status cnn_tensor_reshape(cnn_tensor *t, int32_t ndim, const int64_t *shape);

/**
 * Copies @p count floats from @p src into the tensor.
 * @return #CNN_OK, #CNN_EINVAL (NULL), #CNN_ESHAPE (count != numel)
 * @since 0.1
 */
CNN_API cnn_status cnn_tensor_copy_in(cnn_tensor *t, const float *src, int64_t count);

/**
 * Copies the tensor's @p count elements into @p dst.
 * @return #CNN_OK, #CNN_EINVAL (NULL), #CNN_ESHAPE (count != numel)
 * @since 0.1
 */
CNN_API cnn_status cnn_tensor_copy_out(const cnn_tensor *t, float *dst, int64_t count);
/** @} */

/* ------------------------------------------------------------------------ */
/** @name Limits
 * One set of bounds, shared by the network builder, the model writer and the
 * model reader: whatever cnn_net_create() and cnn_net_add() accept can be
 * saved, and whatever is saved loads again.  A builder call that would cross
 * one returns #CNN_EINVAL or #CNN_ESHAPE with a message naming the limit. */
/** @{ */
#define CNN_MAX_DIM 65535          /**< channels, rows, columns, kernel, stride, padding, window */
#define CNN_MAX_LAYERS 1024        /**< layers in one network */
#define CNN_MAX_THREADS 256        /**< cnn_net_set_threads() */
#define CNN_MAX_FEATURES 16777216  /**< dense and softmax inputs and outputs (2^24) */
#define CNN_MAX_EXAMPLE 16777216   /**< elements per example of the input and of every layer's
                                        output, a convolution's before fused pooling (2^24) */
#define CNN_MAX_PARAMS 2147483648LL /**< trainable parameters plus state in a network (2^31) */
#define CNN_MAX_UNFOLD 2147483647LL /**< a convolution's unfolded input (C*kh*kw*oh*ow) per example */
/** @} */

/* ------------------------------------------------------------------------ */
/** @name Layers */
/** @{ */

/** One layer: convolution, pooling, dense, softmax, activation, batch normalisation or
 *  global average pooling. */
typedef struct cnn_layer cnn_layer;

/** Layer kinds, as returned by cnn_layer_kind(). Values are pinned. */
enum cnn_layer_kind {
    CNN_LAYER_CONV2D = 1,     /**< convolution, optionally with fused pooling */
    CNN_LAYER_POOL2D = 2,     /**< pooling */
    CNN_LAYER_DENSE = 3,      /**< fully connected */
    CNN_LAYER_SOFTMAX = 4,    /**< fully connected + softmax, log-likelihood cost */
    CNN_LAYER_ACTIVATION = 5, /**< element-wise activation */
    CNN_LAYER_BATCHNORM = 6,  /**< batch normalisation @since 1.0 */
    CNN_LAYER_GLOBAL_AVG_POOL = 7 /**< mean over each channel's plane @since 1.0 */
};

/** Activation functions. Values are pinned. */
enum cnn_activation {
    CNN_ACT_IDENTITY = 0, /**< f(z) = z */
    CNN_ACT_SIGMOID = 1,  /**< f(z) = 1 / (1 + exp(-z)) */
    CNN_ACT_TANH = 2,     /**< f(z) = tanh(z) */
    CNN_ACT_RELU = 3      /**< f(z) = max(0, z); its gradient is taken as 1 where z > 0, else 0 */
};

/** Pooling modes. Values are pinned. */
enum cnn_pool_mode {
    CNN_POOL_NONE = 0, /**< no pooling (only meaningful for fused pooling in conv2d) */
    CNN_POOL_MAX = 1,  /**< maximum of the window; backward routes the gradient to the first maximum */
    CNN_POOL_AVG = 2,  /**< mean of the window */
    CNN_POOL_L2 = 3    /**< sqrt of the sum of squares of the window */
};

/** Weight initialisation schemes. Values are pinned. */
enum cnn_init {
    /** network3.py: conv and dense weights N(0, 1/n_out), biases N(0, 1);
     *  softmax weights and biases 0.  For conv, n_out = out_channels*kh*kw
     *  divided by the fused pooling window's area. */
    CNN_INIT_NETWORK3 = 0,
    CNN_INIT_HE = 1,      /**< weights N(0, 2/fan_in), biases 0 */
    CNN_INIT_GLOROT = 2,  /**< weights U(+-sqrt(6/(fan_in+fan_out))), biases 0 */
    CNN_INIT_ZERO = 3     /**< weights and biases 0 */
};

/** Forward-pass modes. */
enum cnn_mode {
    CNN_MODE_INFER = 0, /**< inference: no dropout masks, dropout layers scale their input by 1-p */
    CNN_MODE_TRAIN = 1  /**< training: fresh dropout masks, remembers what backward needs */
};

/** Which parameter tensor cnn_layer_param() returns. */
enum cnn_param_kind {
    CNN_PARAM_WEIGHTS = 0,      /**< conv (out, in, kh, kw); dense/softmax (out, in) */
    CNN_PARAM_BIASES = 1,       /**< (out) */
    CNN_PARAM_GRAD_WEIGHTS = 2, /**< gradient of the cost w.r.t. the weights, same shape */
    CNN_PARAM_GRAD_BIASES = 3   /**< gradient of the cost w.r.t. the biases, same shape */
};

/** Parameters of a convolution layer. Fill with cnn_conv2d_params_init(). */
typedef struct cnn_conv2d_params {
    uint32_t struct_size;  /**< sizeof(cnn_conv2d_params), set by the init function */
    int32_t in_channels;   /**< input feature maps; 0 = take them from the network (default) */
    int32_t out_channels;  /**< output feature maps (filters), >= 1 */
    int32_t kernel_h;      /**< filter rows, >= 1 */
    int32_t kernel_w;      /**< filter columns, >= 1 */
    int32_t stride_h;      /**< default 1 */
    int32_t stride_w;      /**< default 1 */
    int32_t pad_h;         /**< zero rows added above and below; default 0 ("valid") */
    int32_t pad_w;         /**< zero columns added left and right; default 0 */
    int32_t activation;    /**< ::cnn_activation; default #CNN_ACT_SIGMOID (network3's default) */
    int32_t pool;          /**< fused pooling, ::cnn_pool_mode; default #CNN_POOL_NONE */
    int32_t pool_h;        /**< fused pooling window rows (= stride); default 2 */
    int32_t pool_w;        /**< fused pooling window columns (= stride); default 2 */
    int32_t init;          /**< ::cnn_init; default #CNN_INIT_NETWORK3 */
    uint64_t seed;         /**< seed for a standalone layer's initial weights; default 0.
                                cnn_net_add() redraws weights from the network's seed. */
    int32_t padding;       /**< ::cnn_padding; #CNN_PAD_SAME ignores pad_h/pad_w. @since 1.0 */
} cnn_conv2d_params;

/** How a convolution pads its input. Values are pinned. */
enum cnn_padding {
    CNN_PAD_EXPLICIT = 0, /**< pad_h and pad_w as given (default) */
    /** "same": pad (kernel-1)/2 on each side, so the output has ceil(in/stride)
     *  rows and columns; the kernel's sides must be odd. */
    CNN_PAD_SAME = 1
};

/**
 * Fills @p p with defaults and the required fields.
 * With fused pooling (p->pool != #CNN_POOL_NONE) the layer computes, like
 * network3's ConvPoolLayer, activation(pool(conv(x)) + bias).
 * @return #CNN_OK, #CNN_EINVAL if @p p is NULL.  Sizes are checked by
 *         cnn_conv2d_create(), not here.
 * @since 0.1
 */
CNN_API cnn_status cnn_conv2d_params_init_sized(cnn_conv2d_params *p, size_t struct_size, int32_t out_channels, int32_t kernel_h, int32_t kernel_w);
/** cnn_conv2d_params_init_sized() with the caller's own sizeof: the library
 *  writes no byte past the struct this caller was compiled with.  (FFI
 *  callers, which cannot use an inline function, call the _sized form.) */
static inline cnn_status cnn_conv2d_params_init(cnn_conv2d_params *p, int32_t out_channels, int32_t kernel_h, int32_t kernel_w)
{
    return cnn_conv2d_params_init_sized(p, sizeof *p, out_channels, kernel_h, kernel_w);
}

/**
 * Creates a convolution layer.  Weights are drawn from p->seed if
 * p->in_channels is known, otherwise when the layer is added to a network.
 * @return #CNN_OK, #CNN_EINVAL (NULL, sizes < 1, negative padding, unknown
 *         activation/pool/init, struct_size too small), #CNN_ENOMEM
 * @since 0.1
 */
CNN_API cnn_status cnn_conv2d_create(const cnn_conv2d_params *p, cnn_layer **out);

/** Parameters of a pooling layer. Fill with cnn_pool2d_params_init(). */
typedef struct cnn_pool2d_params {
    uint32_t struct_size; /**< sizeof(cnn_pool2d_params) */
    int32_t mode;         /**< ::cnn_pool_mode except #CNN_POOL_NONE */
    int32_t window_h;     /**< window rows, >= 1 */
    int32_t window_w;     /**< window columns, >= 1 */
    int32_t stride_h;     /**< default = window_h */
    int32_t stride_w;     /**< default = window_w */
} cnn_pool2d_params;

/** Fills @p p: given mode and window, stride = window. @return #CNN_OK, #CNN_EINVAL. @since 0.1 */
CNN_API cnn_status cnn_pool2d_params_init_sized(cnn_pool2d_params *p, size_t struct_size, int32_t mode, int32_t window_h, int32_t window_w);
/** cnn_pool2d_params_init_sized() with the caller's own sizeof: the library
 *  writes no byte past the struct this caller was compiled with.  (FFI
 *  callers, which cannot use an inline function, call the _sized form.) */
static inline cnn_status cnn_pool2d_params_init(cnn_pool2d_params *p, int32_t mode, int32_t window_h, int32_t window_w)
{
    return cnn_pool2d_params_init_sized(p, sizeof *p, mode, window_h, window_w);
}

/**
 * Creates a pooling layer (no parameters).  Windows that would run past the
 * input's edge are dropped (output = floor((in - window) / stride) + 1).
 * @return #CNN_OK, #CNN_EINVAL, #CNN_ENOMEM
 * @since 0.1
 */
CNN_API cnn_status cnn_pool2d_create(const cnn_pool2d_params *p, cnn_layer **out);

/** Parameters of a fully connected layer. Fill with cnn_dense_params_init(). */
typedef struct cnn_dense_params {
    uint32_t struct_size; /**< sizeof(cnn_dense_params) */
    int32_t in_features;  /**< inputs per example; 0 = take from the network (default) */
    int32_t out_features; /**< neurons, >= 1 */
    int32_t activation;   /**< ::cnn_activation; default #CNN_ACT_SIGMOID */
    float dropout;        /**< probability p in [0, 1) of dropping each input during
                               training (network3 style: kept inputs are not rescaled;
                               at inference the weighted input is scaled by 1-p);
                               default 0 */
    int32_t init;         /**< ::cnn_init; default #CNN_INIT_NETWORK3 */
    uint64_t seed;        /**< seed for a standalone layer's weights; default 0 */
} cnn_dense_params;

/** Fills @p p with defaults and the neuron count. @return #CNN_OK, #CNN_EINVAL. @since 0.1 */
CNN_API cnn_status cnn_dense_params_init_sized(cnn_dense_params *p, size_t struct_size, int32_t out_features);
/** cnn_dense_params_init_sized() with the caller's own sizeof: the library
 *  writes no byte past the struct this caller was compiled with.  (FFI
 *  callers, which cannot use an inline function, call the _sized form.) */
static inline cnn_status cnn_dense_params_init(cnn_dense_params *p, int32_t out_features)
{
    return cnn_dense_params_init_sized(p, sizeof *p, out_features);
}

/**
 * Creates a fully connected layer y = activation(W x + b), W of shape (out, in).
 * @return #CNN_OK, #CNN_EINVAL (NULL, sizes, dropout outside [0,1), unknown
 *         activation/init), #CNN_ENOMEM
 * @since 0.1
 */
CNN_API cnn_status cnn_dense_create(const cnn_dense_params *p, cnn_layer **out);

/** Parameters of a softmax output layer. Fill with cnn_softmax_params_init(). */
typedef struct cnn_softmax_params {
    uint32_t struct_size; /**< sizeof(cnn_softmax_params) */
    int32_t in_features;  /**< 0 = take from the network (default) */
    int32_t classes;      /**< output classes, >= 2 */
    float dropout;        /**< as in ::cnn_dense_params; default 0 */
    int32_t init;         /**< ::cnn_init; default #CNN_INIT_ZERO (network3 starts softmax at 0) */
    uint64_t seed;        /**< seed for a standalone layer's weights; default 0 */
} cnn_softmax_params;

/** Fills @p p with defaults and the class count. @return #CNN_OK, #CNN_EINVAL. @since 0.1 */
CNN_API cnn_status cnn_softmax_params_init_sized(cnn_softmax_params *p, size_t struct_size, int32_t classes);
/** cnn_softmax_params_init_sized() with the caller's own sizeof: the library
 *  writes no byte past the struct this caller was compiled with.  (FFI
 *  callers, which cannot use an inline function, call the _sized form.) */
static inline cnn_status cnn_softmax_params_init(cnn_softmax_params *p, int32_t classes)
{
    return cnn_softmax_params_init_sized(p, sizeof *p, classes);
}

/**
 * Creates a softmax output layer: y = softmax(W x + b).  In a network its
 * cost is the mean negative log-likelihood of the true labels over the batch.
 * It must be the last layer of a network.
 * @return #CNN_OK, #CNN_EINVAL, #CNN_ENOMEM
 * @since 0.1
 */
CNN_API cnn_status cnn_softmax_create(const cnn_softmax_params *p, cnn_layer **out);

/**
 * Creates an element-wise activation layer (no parameters).
 * @param activation ::cnn_activation
 * @param out        receives the new layer; free with cnn_layer_destroy()
 *                   unless it is added to a network
 * @return #CNN_OK, #CNN_EINVAL, #CNN_ENOMEM
 * @since 0.1
 */
CNN_API cnn_status cnn_activation_create(int32_t activation, cnn_layer **out);

/** Parameters of a batch normalisation layer. Fill with cnn_batchnorm_params_init(). */
typedef struct cnn_batchnorm_params {
    uint32_t struct_size; /**< sizeof(cnn_batchnorm_params) */
    float momentum;       /**< in [0, 1]: running = (1-momentum)*running + momentum*batch
                               (PyTorch's convention); default 0.1 */
    float epsilon;        /**< added to the variance, > 0 and finite; default 1e-5 */
    int32_t channels;     /**< channels (features of a flat input); 0 = take from the
                               network (default) */
} cnn_batchnorm_params;

/** Fills @p p with defaults (momentum 0.1, epsilon 1e-5, channels 0). @return #CNN_OK, #CNN_EINVAL. @since 1.0 */
CNN_API cnn_status cnn_batchnorm_params_init_sized(cnn_batchnorm_params *p, size_t struct_size);
/** cnn_batchnorm_params_init_sized() with the caller's own sizeof: the library
 *  writes no byte past the struct this caller was compiled with.  (FFI
 *  callers, which cannot use an inline function, call the _sized form.) */
static inline cnn_status cnn_batchnorm_params_init(cnn_batchnorm_params *p)
{
    return cnn_batchnorm_params_init_sized(p, sizeof *p);
}

/**
 * Creates a batch normalisation layer: y = gamma * (x - mean) / sqrt(var + eps) + beta
 * per channel.  A (C, H, W) input with H*W > 1 is normalised per channel over
 * the batch and the plane; a flat input (C, 1, 1) or (N, F) per feature over
 * the batch.  gamma is the layer's weight tensor (C, starts at 1), beta its
 * bias (C, starts at 0).  #CNN_MODE_TRAIN normalises with the batch's mean
 * and biased variance and updates the running mean and variance (the
 * variance with the unbiased estimate); #CNN_MODE_INFER uses the running
 * statistics (mean 0 and variance 1 at first).  The running statistics are
 * the layer's state: saved in model files (format version 2) and
 * checkpoints, copied by cnn_net_clone(), not trained by the optimizer.
 * @return #CNN_OK, #CNN_EINVAL (NULL, momentum outside [0, 1], epsilon not
 *         > 0 and finite, channels < 0), #CNN_ENOMEM
 * @since 1.0
 */
CNN_API cnn_status cnn_batchnorm_create(const cnn_batchnorm_params *p, cnn_layer **out);

/**
 * Creates a global average pooling layer: (C, H, W) -> (C, 1, 1), the mean
 * of each channel's plane.  No parameters.
 * @return #CNN_OK, #CNN_EINVAL, #CNN_ENOMEM
 * @since 1.0
 */
CNN_API cnn_status cnn_global_avg_pool_create(cnn_layer **out);

/**
 * Destroys a layer that does not belong to a network.  NULL is fine.  A layer
 * added to a network belongs to it: destroying it here does nothing, the
 * network frees it (so do not call this on a layer whose network has already
 * been destroyed: the pointer is gone).
 * @since 0.1
 */
CNN_API void cnn_layer_destroy(cnn_layer *layer);

/** The layer's ::cnn_layer_kind, or 0 if @p layer is NULL. @since 0.1 */
CNN_API int32_t cnn_layer_kind(const cnn_layer *layer);

/**
 * The layer's output shape (C, H, W) per example for an input of shape
 * (in[0], in[1], in[2]); dense and softmax give (features, 1, 1).
 * @return #CNN_OK, #CNN_EINVAL (NULL), #CNN_ESHAPE (the input does not fit:
 *         the message names the layer and both shapes)
 * @since 0.1
 */
CNN_API cnn_status cnn_layer_output_shape(const cnn_layer *layer, const int32_t in[3],
                                          int32_t out[3]);

/**
 * Number of trainable parameters (weights + biases); 0 for pooling and
 * activation layers and for layers whose input size is not yet known.
 * @since 0.1
 */
CNN_API int64_t cnn_layer_param_count(const cnn_layer *layer);

/**
 * A borrowed view of one of the layer's parameter tensors (see
 * ::cnn_param_kind), or NULL if the layer has none (pooling, activation, or
 * input size not yet known).  Writing through cnn_tensor_data() changes the
 * layer.  Valid until the layer (or the network owning it) is destroyed; do
 * not destroy it.
 * @since 0.1
 */
CNN_API cnn_tensor *cnn_layer_param(cnn_layer *layer, int32_t which);

/**
 * Runs the layer forward on a batch.
 * @param layer the layer
 * @param x    input, shape (N, C, H, W) for conv/pool/activation; dense and
 *             softmax accept any rank >= 2 with dim 0 = N
 * @param y    output, dim 0 = N and numel = N * output size (any rank)
 * @param mode ::cnn_mode; #CNN_MODE_TRAIN remembers what cnn_layer_backward()
 *             needs and draws dropout masks from the layer's own generator
 * @return #CNN_OK, #CNN_EINVAL, #CNN_ESHAPE, #CNN_ENOMEM (first use of a
 *         larger batch), #CNN_ESTATE (input size unknown and not inferable)
 * @since 0.1
 */
CNN_API cnn_status cnn_layer_forward(cnn_layer *layer, const cnn_tensor *x, cnn_tensor *y,
                                     int32_t mode);

/**
 * Back-propagates through the layer after a #CNN_MODE_TRAIN forward with the
 * same @p x and @p y.  Writes the parameter gradients for this batch (the sum
 * over the batch of each example's gradient; see #CNN_PARAM_GRAD_WEIGHTS)
 * and, if @p dx is not NULL, the gradient w.r.t. the input.  For a softmax
 * layer @p dy is the gradient w.r.t. the output probabilities.
 * @return #CNN_OK, #CNN_EINVAL, #CNN_ESHAPE, #CNN_ESTATE (no matching
 *         training forward)
 * @since 0.1
 */
CNN_API cnn_status cnn_layer_backward(cnn_layer *layer, const cnn_tensor *x,
                                      const cnn_tensor *y, const cnn_tensor *dy,
                                      cnn_tensor *dx);

/**
 * Writes the layer's one-line summary ("conv2d 20 maps 5x5, stride 1x1, pad
 * 0x0, relu, max pool 2x2") into @p buf, NUL-terminated and cut to @p size.
 * @return #CNN_OK, #CNN_EINVAL (NULL argument or size 0)
 * @since 1.0
 */
CNN_API cnn_status cnn_layer_summary(const cnn_layer *layer, char *buf, size_t size);
/** @} */

/* ------------------------------------------------------------------------ */
/** @name Datasets */
/** @{ */

/** Labelled images stored as bytes; pixels read as byte / 256 (network3's scaling). */
typedef struct cnn_dataset cnn_dataset;

/** Which MNIST file pair cnn_dataset_load_mnist() reads. */
enum cnn_mnist_split {
    CNN_MNIST_TRAIN = 0, /**< train-images-idx3-ubyte + train-labels-idx1-ubyte (60,000) */
    CNN_MNIST_TEST = 1   /**< t10k-images-idx3-ubyte + t10k-labels-idx1-ubyte (10,000) */
};

/**
 * Loads an IDX image file (magic 0x00000803, unsigned bytes, N x H x W) and
 * an IDX label file (magic 0x00000801, N bytes).  Each may be raw or
 * gzip-compressed; the format is detected from the content, not the name.
 * Magic numbers, dimensions, counts and file sizes are all checked.
 * The resulting images have 1 channel.
 *
 * Only regular files are read: a FIFO or device is #CNN_EIO, without
 * blocking.  Limits: 1 <= N <= 2^28; H, W <= 65535 and H*W <= 2^24; at most
 * 2^34 bytes of pixels.  A raw file must be exactly header + data long.  A
 * gzip file's header may not claim more than 1032 times the file's size
 * (deflate's maximum ratio), the buffer grows only as data actually
 * arrives, and inflating stops soon after the claimed size, so a tiny
 * hostile file cannot make the library allocate or inflate what its header
 * claims.  Concatenated gzip members are accepted; any byte after the data
 * is an error.
 * @return #CNN_OK, #CNN_EINVAL (NULL), #CNN_EIO (cannot open or read; not a
 *         regular file),
 *         #CNN_EFORMAT (bad magic, zero or oversized dimensions, truncated,
 *         trailing data, image and label counts differ, corrupt gzip),
 *         #CNN_ENOMEM
 * @since 0.1
 */
CNN_API cnn_status cnn_dataset_load_idx(const char *images_path, const char *labels_path,
                                        cnn_dataset **out);

/**
 * Loads one MNIST split from directory @p dir, using the standard file names
 * with or without a ".gz" suffix (the uncompressed file is tried first).
 * @param dir   directory holding the MNIST files
 * @param split ::cnn_mnist_split
 * @param out   receives the new dataset; free with cnn_dataset_destroy()
 * @return as cnn_dataset_load_idx(); #CNN_EIO names the files tried
 * @since 0.1
 */
CNN_API cnn_status cnn_dataset_load_mnist(const char *dir, int32_t split, cnn_dataset **out);

/**
 * Creates a dataset by copying @p count images of c*h*w bytes each (NCHW)
 * and @p count labels (0 to 255).  c*h*w is at most 2^24.
 * @return #CNN_OK, #CNN_EINVAL (NULL, sizes < 1 or too large, count*size
 *         overflows), #CNN_ENOMEM
 * @since 0.1
 */
CNN_API cnn_status cnn_dataset_create(int64_t count, int32_t c, int32_t h, int32_t w,
                                      const uint8_t *pixels, const uint8_t *labels,
                                      cnn_dataset **out);

/** Destroys a dataset; NULL is fine.  Slices and expansions made from it stay valid. @since 0.1 */
CNN_API void cnn_dataset_destroy(cnn_dataset *ds);

/** Number of examples, or 0 if @p ds is NULL. @since 0.1 */
CNN_API int64_t cnn_dataset_count(const cnn_dataset *ds);

/** Writes the image shape (C, H, W) to @p shape. @return #CNN_OK, #CNN_EINVAL. @since 0.1 */
CNN_API cnn_status cnn_dataset_shape(const cnn_dataset *ds, int32_t shape[3]);

/**
 * A new dataset of examples [start, start + count) of @p ds, sharing its
 * storage (no pixels are copied).  Example: MNIST's training set is
 * slice(train, 0, 50000) and its validation set slice(train, 50000, 10000).
 * @return #CNN_OK, #CNN_EINVAL (NULL, range outside the dataset, count < 1),
 *         #CNN_ENOMEM
 * @since 0.1
 */
CNN_API cnn_status cnn_dataset_slice(const cnn_dataset *ds, int64_t start, int64_t count,
                                     cnn_dataset **out);

/**
 * The expanded training set of network3's expand_mnist.py: for each example
 * in order, the image itself and four copies shifted one pixel down, up,
 * right and left (the vacated row or column is 0), 5 x count examples in
 * all, then shuffled once with @p seed.  The shifted images are produced on
 * the fly when read, so the expansion costs 5 bytes per example, not 5
 * images.  (Expanding a set that is itself an expansion first copies its
 * images, since two shifts do not combine into one.)  The shuffle is one
 * Fisher-Yates pass driven by the library's generator seeded with @p seed.
 * @return #CNN_OK, #CNN_EINVAL (NULL, more than INT32_MAX/5 examples),
 *         #CNN_ENOMEM
 * @since 0.1
 */
CNN_API cnn_status cnn_dataset_expand(const cnn_dataset *ds, uint64_t seed, cnn_dataset **out);

/**
 * Copies example @p index into @p pixels (c*h*w floats, byte / 256) and its
 * label into @p label.  Either output may be NULL.
 * @return #CNN_OK, #CNN_EINVAL (NULL dataset, index out of range)
 * @since 0.1
 */
CNN_API cnn_status cnn_dataset_get(const cnn_dataset *ds, int64_t index, float *pixels,
                                   int32_t *label);

/**
 * Copies examples [start, start + count) into a batch tensor of shape
 * (count, C, H, W) (or any shape with that element count and dim 0 = count)
 * and their labels into @p labels (count entries; may be NULL).
 * @return #CNN_OK, #CNN_EINVAL, #CNN_ESHAPE
 * @since 0.1
 */
CNN_API cnn_status cnn_dataset_batch(const cnn_dataset *ds, int64_t start, int64_t count,
                                     cnn_tensor *x, int32_t *labels);

/** Largest image height and width for elastic distortion (see cnn_augment_params). */
#define CNN_AUGMENT_MAX_ELASTIC_SIDE 64

/**
 * Random geometric augmentation, drawn per example and per pass.  Fill with
 * cnn_augment_params_init(), which gives the identity (every range [0, 0],
 * scale [1, 1], elastic off), then widen the ranges you want.  Each value is
 * drawn uniformly from [min, max]; min == max fixes it exactly.
 *
 * For an output pixel q, the source point is p = c + A^-1 (q' - c - t), where
 * c is the image centre ((w-1)/2, (h-1)/2), t = (shift_x, shift_y),
 * A = R(rotate) * [[1, tan(shear)], [0, 1]] * scale, R(a) = [[cos a, sin a],
 * [-sin a, cos a]] in (x right, y down) coordinates, and q' = q + d(q) with
 * d the elastic displacement (0 when off).  The value is the bilinear
 * interpolation of the source image at p, with 0 outside the image.
 */
typedef struct cnn_augment_params {
    uint32_t struct_size;  /**< sizeof(cnn_augment_params), set by the init function */
    float probability;     /**< chance in [0, 1] that an example is transformed at all
                                (otherwise it is read unchanged); default 1 */
    float rotate_min;      /**< rotation in degrees, counterclockwise as displayed; default 0 */
    float rotate_max;      /**< default 0; rotate_min <= rotate_max */
    float scale_min;       /**< zoom factor, > 0 (2 doubles the size); default 1 */
    float scale_max;       /**< default 1; scale_min <= scale_max */
    float shift_x_min;     /**< shift in pixels, positive = right; default 0 */
    float shift_x_max;     /**< default 0 */
    float shift_y_min;     /**< shift in pixels, positive = down; default 0 */
    float shift_y_max;     /**< default 0 */
    float shear_min;       /**< horizontal shear angle in degrees, in (-90, 90); default 0 */
    float shear_max;       /**< default 0 */
    float elastic_alpha;   /**< Simard et al. (2003) elastic distortion: a field of
                                uniform [-1, 1] values per pixel and axis, smoothed by a
                                Gaussian of std elastic_sigma (truncated at 3 sigma,
                                zero outside the image), scaled by elastic_alpha pixels.
                                0 (default) turns it off; >= 0 */
    float elastic_sigma;   /**< in [0, CNN_AUGMENT_MAX_ELASTIC_SIDE]; default 4 */
    uint64_t seed;         /**< seeds the draws; default 0 */
} cnn_augment_params;

/** Fills @p p with the identity augmentation described above. @return #CNN_OK, #CNN_EINVAL (NULL). @since 0.1 */
CNN_API cnn_status cnn_augment_params_init_sized(cnn_augment_params *p, size_t struct_size);
/** cnn_augment_params_init_sized() with the caller's own sizeof. */
static inline cnn_status cnn_augment_params_init(cnn_augment_params *p)
{
    return cnn_augment_params_init_sized(p, sizeof *p);
}

/**
 * A new dataset with the same examples as @p ds, each transformed when read
 * by a random affine map (and optional elastic distortion) described by
 * @p p, sharing @p ds's storage: nothing is copied or stored per example.
 *
 * Transforms are stateless: example i's transform is a function of (seed,
 * pass, i) only, so results do not depend on thread count or read order and
 * training resumed from a checkpoint sees the same images.  cnn_train()
 * reads its training set with pass = the epoch number (1, 2, ...), so each
 * epoch sees fresh transforms; cnn_dataset_get(), cnn_dataset_batch() and
 * evaluation (cnn_net_evaluate() and friends) read pass 0, a fixed
 * transform per example.  Evaluate on the unaugmented dataset.
 *
 * Pixels stay in [0, 1).  A slice of the result transforms each example as
 * the result does.  Augmenting sits after cnn_dataset_expand(): expand
 * first, then augment (expanding an augmented dataset is refused).
 * @p p is read during the call only; the result is independent of @p ds,
 * which may be destroyed first.  Free the result with cnn_dataset_destroy().
 * @return #CNN_OK, #CNN_EINVAL (NULL argument; struct_size too small; a
 *         value not finite or of magnitude above 10^6; min > max; probability outside [0, 1];
 *         scale <= 0; |shear| >= 90; elastic_alpha < 0; elastic_sigma
 *         outside [0, #CNN_AUGMENT_MAX_ELASTIC_SIDE]; elastic distortion on
 *         images higher or wider than #CNN_AUGMENT_MAX_ELASTIC_SIDE;
 *         @p ds already augmented), #CNN_ENOMEM
 * @since 0.1
 */
CNN_API cnn_status cnn_dataset_augment(const cnn_dataset *ds, const cnn_augment_params *p,
                                       cnn_dataset **out);
/** @} */

/* ------------------------------------------------------------------------ */
/** @name Networks */
/** @{ */

/** An ordered stack of layers, its parameters, and its workspace. */
typedef struct cnn_net cnn_net;

/**
 * Creates an empty network for inputs of shape (c, h, w).
 * @param c    input channels, >= 1
 * @param h    input rows, >= 1
 * @param w    input columns, >= 1
 * @param seed seeds the network's random generator: weights of each added
 *             layer are drawn from a stream derived from (seed, layer index),
 *             so they do not depend on what other layers exist
 * @param out  receives the new network; free with cnn_net_destroy()
 * @return #CNN_OK, #CNN_EINVAL (NULL, sizes < 1), #CNN_ENOMEM
 * @since 0.1
 */
CNN_API cnn_status cnn_net_create(int32_t c, int32_t h, int32_t w, uint64_t seed, cnn_net **out);

/** Destroys the network and every layer it owns. NULL is fine. @since 0.1 */
CNN_API void cnn_net_destroy(cnn_net *net);

/**
 * Appends a layer.  Its input size (in_channels / in_features) is taken from
 * the network or checked against it, and its weights are drawn from the
 * network's generator (set custom weights after adding).  On success the
 * network owns the layer; on failure the caller still does.
 * @return #CNN_OK, #CNN_EINVAL (NULL, layer already in a network, layer after
 *         a softmax), #CNN_ESHAPE (the layer does not fit the current output
 *         shape: the message names the layer's position, kind and both shapes),
 *         #CNN_ENOMEM
 * @since 0.1
 */
CNN_API cnn_status cnn_net_add(cnn_net *net, cnn_layer *layer);

/**
 * Redraws every layer's weights as if the network had been created with @p seed.
 * @return #CNN_OK, #CNN_EINVAL
 * @since 0.1
 */
CNN_API cnn_status cnn_net_init_weights(cnn_net *net, uint64_t seed);

/**
 * A deep copy: same layers, weights and settings, its own workspace.
 * @return #CNN_OK, #CNN_EINVAL, #CNN_ENOMEM
 * @since 0.1
 */
CNN_API cnn_status cnn_net_clone(const cnn_net *net, cnn_net **out);

/** Number of layers, or 0 if @p net is NULL. @since 0.1 */
CNN_API int32_t cnn_net_layer_count(const cnn_net *net);

/** Layer @p index (borrowed), or NULL if out of range. @since 0.1 */
CNN_API cnn_layer *cnn_net_layer(cnn_net *net, int32_t index);

/** Writes the input shape (C, H, W). @return #CNN_OK, #CNN_EINVAL. @since 0.1 */
CNN_API cnn_status cnn_net_input_shape(const cnn_net *net, int32_t shape[3]);

/** Writes the current output shape (C, H, W). @return #CNN_OK, #CNN_EINVAL. @since 0.1 */
CNN_API cnn_status cnn_net_output_shape(const cnn_net *net, int32_t shape[3]);

/** Total trainable parameters, or 0 if @p net is NULL. @since 0.1 */
CNN_API int64_t cnn_net_param_count(const cnn_net *net);

/**
 * All parameters in one flat buffer (borrowed, cnn_net_param_count() floats):
 * each layer's weights then biases, layers in order.  Writable.  Valid until
 * the next cnn_net_add() or cnn_net_destroy().
 * @since 0.1
 */
CNN_API float *cnn_net_params(cnn_net *net);

/**
 * The gradients of the last cnn_net_backward(), laid out like cnn_net_params()
 * (borrowed, same validity).  cnn_train_step() and cnn_train() may leave
 * them unspecified (see cnn_train_step()).
 * @since 0.1
 */
CNN_API float *cnn_net_grads(cnn_net *net);

/**
 * Sets how many threads the network may use (default 1).  With n > 1 a
 * network with convolution layers, or with dense/softmax layers of 16,384
 * weights or more, starts n - 1 worker threads of its own (at its next
 * forward pass; they live until the thread count changes or the network is
 * destroyed).  Convolution layers split each batch's images over them and
 * the calling thread, forward and backward, and sum the weight gradients
 * over the parts in a fixed order, so results are deterministic for a given
 * thread count (and differ from other counts only by rounding).  Large
 * dense and softmax layers split batches of up to 16 by output (and input)
 * features, which gives the same bits at every thread count; the other
 * layers run on the calling thread.  Workers spin for about 0.1 ms before
 * sleeping, so more threads than free cores wastes CPU.  Every forward pass
 * sets the BLAS library to one thread: that setting is process-wide in
 * OpenBLAS and BLIS and so also applies to other BLAS users in the process
 * (see docs/design.md, Threads).
 * @param net     the network
 * @param threads 1 to 256
 * @return #CNN_OK, #CNN_EINVAL (threads < 1 or > 256)
 * @since 0.1
 */
CNN_API cnn_status cnn_net_set_threads(cnn_net *net, int32_t threads);

/**
 * Runs the network forward on a batch.
 * @param net  the network
 * @param x    (N, C, H, W) matching the input shape (any shape with dim 0 = N
 *             and the right element count is accepted)
 * @param mode ::cnn_mode
 * @param y    if not NULL, receives the last layer's output (N x output size)
 * @return #CNN_OK, #CNN_EINVAL, #CNN_ESHAPE, #CNN_ESTATE (no layers),
 *         #CNN_ENOMEM (first use of a larger batch)
 * @since 0.1
 */
CNN_API cnn_status cnn_net_forward(cnn_net *net, const cnn_tensor *x, int32_t mode,
                                   cnn_tensor *y);

/**
 * After a #CNN_MODE_TRAIN forward, computes the gradients of the mean
 * negative log-likelihood of @p labels over the batch into cnn_net_grads().
 * The network must end in a softmax layer.  L2 regularisation is the
 * optimizer's business, not included here.
 * @param net    the network
 * @param labels N class indices
 * @param cost   if not NULL, receives the batch's mean negative log-likelihood
 * @return #CNN_OK, #CNN_EINVAL (NULL, label out of range), #CNN_ESTATE (no
 *         training forward, or no softmax at the end)
 * @since 0.1
 */
CNN_API cnn_status cnn_net_backward(cnn_net *net, const int32_t *labels, double *cost);

/**
 * Classifies a batch: labels[i] = argmax of the output for example i (the
 * lowest index wins ties).
 * @return as cnn_net_forward()
 * @since 0.1
 */
CNN_API cnn_status cnn_net_predict(cnn_net *net, const cnn_tensor *x, int32_t *labels);

/**
 * Classifies every example of a dataset in batches of @p batch.
 * @param net    the network
 * @param ds     the examples to classify
 * @param batch  examples per forward pass, >= 1
 * @param labels receives cnn_dataset_count(ds) predicted labels
 * @return #CNN_OK, #CNN_EINVAL, #CNN_ESHAPE, #CNN_ENOMEM
 * @since 0.1
 */
CNN_API cnn_status cnn_net_predict_dataset(cnn_net *net, const cnn_dataset *ds, int32_t batch,
                                           int32_t *labels);

/**
 * Accuracy (fraction correct) and mean negative log-likelihood over a
 * dataset, in inference mode, in batches of @p batch.  Either output may be NULL.
 * @return #CNN_OK, #CNN_EINVAL, #CNN_ESHAPE, #CNN_ENOMEM
 * @since 0.1
 */
CNN_API cnn_status cnn_net_evaluate(cnn_net *net, const cnn_dataset *ds, int32_t batch,
                                    double *accuracy, double *cost);

/**
 * The message of the last failed call on this network ("" if none).  Never
 * NULL; valid until the next call on the network.
 * @since 0.1
 */
CNN_API const char *cnn_net_errmsg(const cnn_net *net);

/**
 * Saves architecture and weights to @p path in libcnn's model format
 * (docs/format.md).  The file is written to a temporary name in the same
 * directory, flushed and renamed, so an existing file is replaced whole or
 * not at all.
 * @return #CNN_OK, #CNN_EINVAL, #CNN_EIO, #CNN_ENOMEM
 * @since 0.1
 */
CNN_API cnn_status cnn_net_save(const cnn_net *net, const char *path);

/**
 * Loads a network saved by cnn_net_save().  Only a regular file is read,
 * by its size (checked against the format's limit before reading); a
 * directory, FIFO or device (/dev/zero) is #CNN_EIO without reading or
 * blocking.
 * @return #CNN_OK, #CNN_EINVAL, #CNN_EIO, #CNN_EFORMAT, #CNN_EVERSION (newer
 *         format), #CNN_ECHECKSUM, #CNN_ENOMEM
 * @since 0.1
 */
CNN_API cnn_status cnn_net_load(const char *path, cnn_net **out);

/**
 * Saves to a buffer the library allocates: free it with cnn_free().
 * @return #CNN_OK, #CNN_EINVAL, #CNN_ENOMEM
 * @since 0.1
 */
CNN_API cnn_status cnn_net_save_buffer(const cnn_net *net, void **data, size_t *size);

/**
 * Loads from a buffer of @p size bytes (not kept after the call).
 * @return as cnn_net_load() except #CNN_EIO
 * @since 0.1
 */
CNN_API cnn_status cnn_net_load_buffer(const void *data, size_t size, cnn_net **out);

/**
 * Bounds on what a network may cost, checked by the model reader before it
 * allocates or runs anything, and by cnn_net_add() as a network grows (so a
 * network built within a set of limits saves and loads within them).
 * Fill with cnn_load_limits_init(); raise a field to accept larger models.
 * The figures are per example and estimates of the same arithmetic on both
 * sides: workspace counts each layer's output three times (activation and
 * two gradient buffers) plus its scratch, in bytes; operations count
 * multiply-adds and element operations.
 * @since 1.0
 */
typedef struct cnn_load_limits {
    uint32_t struct_size;        /**< set by cnn_load_limits_init() */
    int64_t max_param_bytes;     /**< parameters and state, 4 bytes each; default 2 GiB */
    int64_t max_workspace_bytes; /**< per example; default 1 GiB */
    int64_t max_flops;           /**< operations per example; default 1e11 */
} cnn_load_limits;

/**
 * Fills @p limits with the defaults above, writing at most @p struct_size
 * bytes (pass sizeof *limits: a caller compiled against an older, smaller
 * struct is safe).
 * @return #CNN_OK, #CNN_EINVAL (NULL, or struct_size smaller than the first
 *         published struct)
 * @since 1.0
 */
CNN_API cnn_status cnn_load_limits_init(cnn_load_limits *limits, size_t struct_size);

/**
 * cnn_net_load() with caller-chosen limits (NULL: the defaults).  The
 * network returned keeps them (see cnn_net_set_limits()).
 * @return as cnn_net_load(); #CNN_EINVAL also when the model crosses a limit
 *         (the message names it) or a limit is < 1
 * @since 1.0
 */
CNN_API cnn_status cnn_net_load_limited(const char *path, const cnn_load_limits *limits,
                                        cnn_net **out);

/** cnn_net_load_buffer() with caller-chosen limits (NULL: the defaults). @since 1.0 */
CNN_API cnn_status cnn_net_load_buffer_limited(const void *data, size_t size,
                                               const cnn_load_limits *limits, cnn_net **out);

/**
 * Sets the limits cnn_net_add() enforces on this network (NULL: the
 * defaults).  Layers already added stay.  A network built past the defaults
 * loads again only through cnn_net_load_limited() with limits as high.
 * @return #CNN_OK, #CNN_EINVAL (NULL network, struct_size too small, a limit < 1)
 * @since 1.0
 */
CNN_API cnn_status cnn_net_set_limits(cnn_net *net, const cnn_load_limits *limits);

/**
 * Copies the network's limits into @p limits (up to its struct_size, which
 * the caller sets, e.g. with cnn_load_limits_init()).
 * @return #CNN_OK, #CNN_EINVAL
 * @since 1.0
 */
CNN_API cnn_status cnn_net_get_limits(const cnn_net *net, cnn_load_limits *limits);

/**
 * Writes a human-readable summary of the network into @p buf: one line for
 * the input, then one line per layer with what it computes, its output shape
 * and its parameter count, each ending in a newline, the whole
 * NUL-terminated.  @p buf may be NULL with @p size 0 to ask for the size.
 * @param net    the network (not changed, but its error message is)
 * @param buf    where the text goes, or NULL with @p size 0
 * @param size   bytes at @p buf
 * @param needed if not NULL, receives the bytes needed including the NUL
 * @return #CNN_OK, #CNN_EINVAL (NULL network; NULL buf with size > 0; buf too
 *         small: it then holds as much as fits, NUL-terminated)
 * @since 1.0
 */
CNN_API cnn_status cnn_net_summary(const cnn_net *net, char *buf, size_t size, size_t *needed);
/** @} */

/* ------------------------------------------------------------------------ */
/** @name ONNX export and import (docs/onnx.md)
 * ONNX is the exchange format other runtimes read (ONNX Runtime, TensorRT,
 * OpenVINO, browsers) and PyTorch writes.  These functions exist in every
 * build; a library built without protobuf-c (meson option onnx) returns
 * #CNN_ENOTSUP from each, with a message saying so. */
/** @{ */

/**
 * Writes the network as an ONNX model (opset 13, IR version 7) to @p path,
 * atomically as cnn_net_save() does.  The graph's input "input" is float32
 * NCHW with a dynamic batch dimension; its output "output" holds what
 * cnn_net_forward() gives in #CNN_MODE_INFER (probabilities for a softmax
 * net).  Dropout is folded in its inference form (the weighted input scaled
 * by 1-p, as network3 does); a conv2d layer's fused pooling keeps its
 * order: Conv, pool, bias Add, activation.  producer_name is "libcnn",
 * producer_version cnn_version_string().
 * @return #CNN_OK, #CNN_EINVAL (NULL, or a network without layers),
 *         #CNN_EIO, #CNN_ENOMEM, #CNN_ENOTSUP (built without ONNX)
 * @since 1.2
 */
CNN_API cnn_status cnn_net_export_onnx(const cnn_net *net, const char *path);

/**
 * cnn_net_export_onnx() to a buffer the library allocates: free it with
 * cnn_free().
 * @return as cnn_net_export_onnx() except #CNN_EIO
 * @since 1.2
 */
CNN_API cnn_status cnn_net_export_onnx_buffer(const cnn_net *net, void **data, size_t *size);

/**
 * Reads an ONNX model into a new network ready for inference and further
 * training: a chain of the ops in docs/onnx.md (Conv, MaxPool, AveragePool,
 * LpPool p=2, GlobalAveragePool, BatchNormalization, Relu, Sigmoid, Tanh,
 * Flatten, Reshape, Gemm, MatMul+Add, Softmax, LogSoftmax, Dropout,
 * zero Pad, Identity), float32, with a fixed input C, H and W.  Anything libcnn
 * cannot represent is refused, never approximated; the message names the
 * node, its op and why ("onnx: node 7 'Conv_7': dilations 2x2 not
 * supported").  A trailing Softmax or LogSoftmax becomes a softmax layer
 * (outputs are then probabilities).  The file is untrusted input: its
 * size, protobuf nesting, tensor sizes and the network's costs
 * (cnn_load_limits defaults) are checked before anything is allocated.
 * @param path the file; only a regular file is read
 * @param out  receives the network (owned by the caller)
 * @return #CNN_OK, #CNN_EINVAL, #CNN_EIO, #CNN_EFORMAT (not a valid ONNX
 *         protobuf, or inconsistent), #CNN_ENOTSUP (an op, attribute, type
 *         or shape libcnn cannot represent, or built without ONNX),
 *         #CNN_ENOMEM
 * @since 1.2
 */
CNN_API cnn_status cnn_net_import_onnx(const char *path, cnn_net **out);

/**
 * cnn_net_import_onnx() from @p size bytes at @p data (not kept after the
 * call).
 * @return as cnn_net_import_onnx() except #CNN_EIO
 * @since 1.2
 */
CNN_API cnn_status cnn_net_import_onnx_buffer(const void *data, size_t size, cnn_net **out);
/** @} */

/* ------------------------------------------------------------------------ */
/** @name Optimizer */
/** @{ */

/** Updates a network's parameters from its gradients. */
typedef struct cnn_optimizer cnn_optimizer;

/** Parameters of stochastic gradient descent. Fill with cnn_sgd_params_init(). */
typedef struct cnn_sgd_params {
    uint32_t struct_size;   /**< sizeof(cnn_sgd_params) */
    float learning_rate;    /**< eta > 0 */
    float momentum;         /**< mu in [0, 1); default 0 (network3: none) */
    float l2;               /**< lambda >= 0; default 0.  network3's form: the cost gains
                                 0.5*lambda*sum(W^2)/B over weights (not biases), so each
                                 step subtracts eta*lambda/B*W, B = l2_batches */
    int64_t l2_batches;     /**< B, mini-batches per epoch; 0 (default) = let cnn_train()
                                 set floor(training examples / batch size); a bare
                                 cnn_optimizer_step() treats 0 as 1 */
    /** Non-zero: Nesterov momentum (needs momentum > 0); default 0 (classical).
     *  With g' = g + lambda/B*W (biases: g' = g):
     *  classical  v = mu*v - eta*g';  W += v
     *  Nesterov   v = mu*v - eta*g';  W += mu*v - eta*g'
     *  At a constant eta this is PyTorch's SGD (buf = mu*buf + g'; W -= eta*buf,
     *  or W -= eta*(g' + mu*buf) with nesterov) with v = -eta*buf; when eta
     *  changes (cnn_optimizer_set_learning_rate(), schedules) the velocity
     *  keeps the earlier rates' steps, as in Sutskever et al.  A caller
     *  whose struct_size ends before this field gets 0.  @since 1.0 */
    int32_t nesterov;
} cnn_sgd_params;

/** Fills @p p with defaults and the learning rate. @return #CNN_OK, #CNN_EINVAL. @since 0.1 */
CNN_API cnn_status cnn_sgd_params_init_sized(cnn_sgd_params *p, size_t struct_size, float learning_rate);
/** cnn_sgd_params_init_sized() with the caller's own sizeof: the library
 *  writes no byte past the struct this caller was compiled with.  (FFI
 *  callers, which cannot use an inline function, call the _sized form.) */
static inline cnn_status cnn_sgd_params_init(cnn_sgd_params *p, float learning_rate)
{
    return cnn_sgd_params_init_sized(p, sizeof *p, learning_rate);
}

/**
 * Creates an SGD optimizer: v = mu*v - eta*(g + lambda/B * W); W += v
 * (biases get no L2 term); Nesterov as cnn_sgd_params::nesterov says.
 * @return #CNN_OK, #CNN_EINVAL (NULL, eta <= 0 or not finite, momentum
 *         outside [0,1), l2 < 0, l2_batches < 0, nesterov with momentum 0),
 *         #CNN_ENOMEM
 * @since 0.1
 */
CNN_API cnn_status cnn_sgd_create(const cnn_sgd_params *p, cnn_optimizer **out);

/** Parameters of Adam and AdamW. Fill with cnn_adam_params_init(). @since 1.0 */
typedef struct cnn_adam_params {
    uint32_t struct_size;   /**< sizeof(cnn_adam_params) */
    float learning_rate;    /**< lr > 0 */
    float beta1;            /**< in [0, 1); default 0.9 */
    float beta2;            /**< in [0, 1); default 0.999 */
    float epsilon;          /**< > 0; default 1e-8 */
    float weight_decay;     /**< wd >= 0; default 0.  Applies to every parameter,
                                 biases included (PyTorch's default) */
    int32_t decoupled;      /**< 0 (default): Adam, wd*W is added to the gradient
                                 (PyTorch Adam); non-zero: AdamW, W *= 1 - lr*wd
                                 before the Adam step (PyTorch AdamW) */
} cnn_adam_params;

/** Fills @p p (@p struct_size bytes of it) with the defaults above and the
 *  learning rate.  @return #CNN_OK, #CNN_EINVAL. @since 1.0 */
CNN_API cnn_status cnn_adam_params_init_sized(cnn_adam_params *p, size_t struct_size,
                                              float learning_rate);
/** cnn_adam_params_init_sized() with the caller's own sizeof.  (FFI callers
 *  call the _sized form.) */
static inline cnn_status cnn_adam_params_init(cnn_adam_params *p, float learning_rate)
{
    return cnn_adam_params_init_sized(p, sizeof *p, learning_rate);
}

/**
 * Creates an Adam (or AdamW) optimizer with bias correction.  At step t
 * (1, 2, ... counted by the optimizer), for each parameter W with gradient g:
 *   AdamW: W = W*(1 - lr*wd);  Adam: g = g + wd*W
 *   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g*g
 *   W = W - (lr/(1-b1^t)) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
 * in float, the two corrections computed in double and rounded (PyTorch's
 * order of operations).  m and v start at 0 and are sized on the first step.
 * @return #CNN_OK, #CNN_EINVAL (NULL, struct_size too small, lr <= 0 or not
 *         finite, a beta outside [0,1), eps <= 0, wd < 0 or not finite),
 *         #CNN_ENOMEM
 * @since 1.0
 */
CNN_API cnn_status cnn_adam_create(const cnn_adam_params *p, cnn_optimizer **out);

/**
 * Sets the learning rate used by the following steps (eta of SGD, lr of
 * Adam); the rate given at creation stays the one cnn_train()'s schedules
 * start from and checkpoints compare.
 * @return #CNN_OK, #CNN_EINVAL (NULL, rate <= 0 or not finite)
 * @since 1.0
 */
CNN_API cnn_status cnn_optimizer_set_learning_rate(cnn_optimizer *opt, float learning_rate);

/** The learning rate the next step uses; 0 for NULL. @since 1.0 */
CNN_API float cnn_optimizer_learning_rate(const cnn_optimizer *opt);

/** Destroys an optimizer; NULL is fine. @since 0.1 */
CNN_API void cnn_optimizer_destroy(cnn_optimizer *opt);

/**
 * Applies one update to @p net's parameters from cnn_net_grads().
 * Momentum state is sized on first use for this network.
 * @return #CNN_OK, #CNN_EINVAL, #CNN_ENOMEM, #CNN_ESHAPE (used with a network
 *         of a different parameter count than before), #CNN_EDIVERGED (the
 *         update left a parameter NaN or infinite; the message names it)
 * @since 0.1
 */
CNN_API cnn_status cnn_optimizer_step(cnn_optimizer *opt, cnn_net *net);

/**
 * One training step on a batch: forward (training mode), backward, update.
 * The parameters come out exactly as from cnn_net_forward(),
 * cnn_net_backward() and cnn_optimizer_step() in turn.  With plain SGD
 * (momentum 0) dense and softmax layers apply the update while computing
 * their weight gradient and do not store it, so cnn_net_grads() is left
 * unspecified for their weights; call the three functions yourself where
 * the gradients are wanted.
 * @param net    the network
 * @param opt    the optimizer that applies the update
 * @param x      input batch, as for cnn_net_forward()
 * @param labels N class indices
 * @param cost if not NULL, receives the batch's mean negative log-likelihood
 * @return as cnn_net_forward(), cnn_net_backward() and cnn_optimizer_step();
 *         #CNN_EDIVERGED also when the cost is not finite
 * @since 0.1
 */
CNN_API cnn_status cnn_train_step(cnn_net *net, cnn_optimizer *opt, const cnn_tensor *x,
                                  const int32_t *labels, double *cost);
/** @} */

/* ------------------------------------------------------------------------ */
/** @name Training loop */
/** @{ */

/** Progress inside an epoch, passed to ::cnn_progress_fn. */
typedef struct cnn_progress {
    uint32_t struct_size;     /**< sizeof(cnn_progress) */
    int32_t epoch;            /**< 1-based */
    int32_t epochs;           /**< total epochs requested */
    int64_t batch;            /**< mini-batches done in this epoch */
    int64_t batches;          /**< mini-batches per epoch */
    double cost;              /**< mean training cost so far this epoch */
    double seconds;           /**< seconds since the epoch started */
} cnn_progress;

/** End-of-epoch figures, passed to ::cnn_epoch_fn. */
typedef struct cnn_epoch_report {
    uint32_t struct_size;        /**< sizeof(cnn_epoch_report) */
    int32_t epoch;               /**< 1-based */
    int32_t epochs;              /**< total epochs requested */
    double train_cost;           /**< mean negative log-likelihood over the epoch's batches */
    double validation_accuracy;  /**< -1 without a validation set */
    double test_accuracy;        /**< -1 without a test set */
    double seconds;              /**< training time of this epoch (evaluation excluded) */
    double images_per_second;    /**< training throughput of this epoch */
    int32_t best_epoch;          /**< epoch of best validation accuracy so far (0 if none) */
    double best_validation_accuracy; /**< -1 without a validation set */
    double test_accuracy_at_best;    /**< test accuracy at best_epoch; -1 if unknown */
} cnn_epoch_report;

/** Called every cnn_train_params::progress_every batches, on the thread that
 *  called cnn_train() (whatever cnn_net_set_threads() says); return non-zero
 *  to cancel. */
typedef int32_t (*cnn_progress_fn)(const cnn_progress *progress, void *user);

/** Called after each epoch, on the thread that called cnn_train(); return
 *  non-zero to cancel. */
typedef int32_t (*cnn_epoch_fn)(const cnn_epoch_report *report, void *user);

/** Parameters of cnn_train(). Fill with cnn_train_params_init(). */
typedef struct cnn_train_params {
    uint32_t struct_size;            /**< sizeof(cnn_train_params) */
    int32_t epochs;                  /**< >= 1 */
    int32_t batch_size;              /**< >= 1; default 10 (network3) */
    int32_t shuffle;                 /**< non-zero: reshuffle the training set every epoch;
                                          default 0 (network3: stored order) */
    uint64_t seed;                   /**< seeds shuffling and dropout masks; default 0 */
    const cnn_dataset *validation;   /**< evaluated after each epoch; may be NULL */
    const cnn_dataset *test;         /**< evaluated after each epoch; may be NULL */
    int32_t eval_batch_size;         /**< batch size for evaluation; default 1000 */
    int32_t progress_every;          /**< batches between progress calls; default 100 */
    cnn_progress_fn on_progress;     /**< may be NULL */
    cnn_epoch_fn on_epoch;           /**< may be NULL */
    void *user;                      /**< passed to both callbacks */
    /** Checkpoint file written during training (docs/format.md, "Checkpoint
     *  format"); NULL (default) = none.  Written after every
     *  checkpoint_every-th epoch and after the last one, once the epoch's
     *  evaluation is done and before ::cnn_epoch_fn is called; each write
     *  replaces the file atomically, as cnn_net_save() does.  A failed write
     *  stops training with its status (#CNN_EIO, #CNN_ENOMEM, #CNN_EINVAL)
     *  and leaves the previous checkpoint as it was.  @since 0.1 */
    const char *checkpoint_path;
    /** Checkpoint written by an earlier run to continue from; NULL (default)
     *  = start afresh.  Before anything is trained the file is read and must
     *  match this call: the network's architecture (#CNN_ESHAPE otherwise),
     *  the optimizer's kind and parameters, the schedule settings,
     *  batch_size, shuffle, seed and
     *  the training set's size (#CNN_EINVAL otherwise, the message says
     *  what differs), and its epoch may not exceed @c epochs (#CNN_EINVAL).
     *  Then the network's parameters, the optimizer's state (momentum, Adam's
     *  moments and step count, current learning rate), the
     *  shuffling and dropout generators, the example order and the
     *  best-validation bookkeeping are restored, and training continues
     *  with the next epoch up to @c epochs in total: the weights come out
     *  bit-identical to those of an uninterrupted run with the same
     *  settings (same build and thread count).  A file that cannot be read
     *  gives #CNN_EIO, a damaged one #CNN_EFORMAT or #CNN_ECHECKSUM, a
     *  newer format #CNN_EVERSION; on any error nothing is changed.  May
     *  equal checkpoint_path.  @since 0.1 */
    const char *resume_path;
    /** Epochs between checkpoints, >= 1; default 1.  Used only with
     *  checkpoint_path.  @since 0.1 */
    int32_t checkpoint_every;
    /** Learning-rate schedule, an ::cnn_schedule value; default #CNN_SCHEDULE_CONSTANT
     *  (the optimizer's rate is left alone).  Otherwise before step t (0-based,
     *  counted over the whole run, epochs before a resume included; T = epochs
     *  * ceil(examples / batch_size) steps in all) cnn_train() sets the rate
     *  with cnn_optimizer_set_learning_rate() to r(t), computed in double
     *  from the optimizer's creation rate r0 and rounded to float, and leaves
     *  the last one set:
     *  - #CNN_SCHEDULE_STEP:   r0 * gamma^floor(t / schedule_step) (or of the
     *    0-based epoch with schedule_step_epochs)
     *  - #CNN_SCHEDULE_COSINE: f + (r0 - f) * (1 + cos(pi*t/T)) / 2,
     *    f = final_lr_fraction * r0
     *  - #CNN_SCHEDULE_ONECYCLE: with w = warmup_fraction * T, for t < w
     *    r0 * (i + (1 - i) * t/w), i = initial_lr_fraction; then
     *    f + (r0 - f) * (1 + cos(pi*(t - w)/(T - w))) / 2 (r0 is the peak).
     *  Checkpoints store these fields and a resume must match them.  A caller
     *  whose struct_size ends before a field gets its default.  @since 1.0 */
    int32_t schedule;
    float schedule_gamma;          /**< step: factor, in (0, 1]; default 0.1 */
    int32_t schedule_step;         /**< step: steps (or epochs) between factors, >= 1;
                                        default 1 */
    int32_t schedule_step_epochs;  /**< step: non-zero = schedule_step counts epochs;
                                        default 0 */
    float warmup_fraction;         /**< onecycle: share of T warming up, in [0, 1);
                                        default 0.3 (PyTorch's pct_start) */
    float initial_lr_fraction;     /**< onecycle: start rate / r0, in (0, 1]; default
                                        0.04 (PyTorch's div_factor 25) */
    float final_lr_fraction;       /**< cosine, onecycle: end rate / r0, in [0, 1];
                                        default 0 */
} cnn_train_params;

/** Learning-rate schedules of cnn_train_params::schedule; values pinned. @since 1.0 */
enum cnn_schedule {
    CNN_SCHEDULE_CONSTANT = 0, /**< the optimizer's rate, untouched */
    CNN_SCHEDULE_STEP = 1,     /**< times gamma every schedule_step steps or epochs */
    CNN_SCHEDULE_COSINE = 2,   /**< cosine from the rate down to a floor over the run */
    CNN_SCHEDULE_ONECYCLE = 3  /**< linear warm-up to the rate, then cosine down */
};

/**
 * The rate cnn_train() sets before step @p t of @p total with schedule
 * settings @p p (cnn_train_params::schedule and the fields after it) and
 * creation rate @p base, @p steps_per_epoch steps in an epoch.
 * @return the rate; 0 for a NULL @p p, an unknown schedule or t outside
 *         [0, total)
 * @since 1.0
 */
CNN_API float cnn_schedule_rate(const cnn_train_params *p, float base, int64_t t, int64_t total,
                                int64_t steps_per_epoch);

/** Summary of a cnn_train() run. */
typedef struct cnn_train_result {
    uint32_t struct_size;            /**< set by the caller to sizeof(cnn_train_result) */
    int32_t epochs_run;              /**< epochs completed, counting those completed before a
                                          resumed checkpoint (cnn_train_params::resume_path) */
    int32_t best_epoch;              /**< epoch of best validation accuracy, ties to the later
                                          epoch (network3); 0 without a validation set */
    double best_validation_accuracy; /**< -1 without a validation set */
    double test_accuracy_at_best;    /**< test accuracy at best_epoch; -1 without one */
    double final_train_cost;         /**< last epoch's mean training cost */
    double seconds;                  /**< training + evaluation time */
} cnn_train_result;

/** Fills @p p with defaults and the epoch count. @return #CNN_OK, #CNN_EINVAL. @since 0.1 */
CNN_API cnn_status cnn_train_params_init_sized(cnn_train_params *p, size_t struct_size, int32_t epochs);
/** cnn_train_params_init_sized() with the caller's own sizeof: the library
 *  writes no byte past the struct this caller was compiled with.  (FFI
 *  callers, which cannot use an inline function, call the _sized form.) */
static inline cnn_status cnn_train_params_init(cnn_train_params *p, int32_t epochs)
{
    return cnn_train_params_init_sized(p, sizeof *p, epochs);
}

/**
 * Trains @p net with mini-batch SGD on @p train: batches of batch_size in
 * stored (or shuffled) order, a final partial batch included; evaluates the
 * validation and test sets after every epoch and tracks the best-validation
 * epoch.  If the optimizer's l2_batches is 0, B = floor(count / batch_size)
 * (at least 1) is used for this run.
 * @param net    the network to train
 * @param opt    the optimizer that applies each update
 * @param train  the training set
 * @param p      options, filled by cnn_train_params_init()
 * @param result may be NULL; otherwise result->struct_size must be set
 * With cnn_train_params::checkpoint_path set, the training state is saved
 * after epochs; with cnn_train_params::resume_path set, a saved state is
 * restored first and training continues from the epoch after it.
 * @return #CNN_OK, #CNN_EINVAL, #CNN_ESHAPE (dataset shape differs from the
 *         network's input, label outside the classes, or the checkpoint to
 *         resume holds another architecture), #CNN_ENOMEM,
 *         #CNN_ECANCELED (a callback returned non-zero; result holds the
 *         epochs completed so far), and for checkpoints #CNN_EIO,
 *         #CNN_EFORMAT, #CNN_ECHECKSUM, #CNN_EVERSION (see
 *         cnn_train_params::resume_path and cnn_train_params::checkpoint_path)
 * @since 0.1
 */
CNN_API cnn_status cnn_train(cnn_net *net, cnn_optimizer *opt, const cnn_dataset *train,
                             const cnn_train_params *p, cnn_train_result *result);

/**
 * Gradient reduction across the processes of a sharded run (cnn_train_sharded()).
 * Every process calls it at the same point with its own @p values (n
 * floats) and @p cost (its mean cost, or NULL); on return every process
 * must hold, bit for bit the same on all of them,
 *   values[i] = sum over processes r of (local_r / global) * values_r[i]
 * and likewise *cost, where local_r is process r's @p local_examples and
 * @p global_examples is their sum.  For gradients that is the gradient of
 * the global mini-batch's mean cost.  Return 0, or non-zero to stop
 * training (cnn_train_sharded() then returns #CNN_ECANCELED).
 * libcnn-mpi (cnn_mpi.h) supplies one built on MPI; the core library has
 * no transport of its own.  @since 1.2
 */
typedef int32_t (*cnn_reduce_fn)(float *values, int64_t n, double *cost, int32_t local_examples,
                                 int32_t global_examples, void *user);

/** How cnn_train_sharded() splits each global mini-batch.  Fill with
 *  cnn_shard_params_init().  @since 1.2 */
typedef struct cnn_shard_params {
    uint32_t struct_size;   /**< sizeof(cnn_shard_params) */
    int32_t rank;           /**< this process's piece, 0 <= rank < count */
    int32_t count;          /**< pieces (processes), >= 1 */
    cnn_reduce_fn reduce;   /**< required when count > 1; NULL with count 1 = no reduction */
    void *user;             /**< passed to @c reduce */
} cnn_shard_params;

/** Fills @p p with rank and count, no reduction. @return #CNN_OK, #CNN_EINVAL. @since 1.2 */
CNN_API cnn_status cnn_shard_params_init_sized(cnn_shard_params *p, size_t struct_size,
                                               int32_t rank, int32_t count);
/** cnn_shard_params_init_sized() with the caller's own sizeof.  @since 1.2 */
static inline cnn_status cnn_shard_params_init(cnn_shard_params *p, int32_t rank, int32_t count)
{
    return cnn_shard_params_init_sized(p, sizeof *p, rank, count);
}

/**
 * cnn_train() for one of @c count processes that train one network
 * together (synchronous data-parallel SGD).  Each global mini-batch of
 * cnn_train_params::batch_size examples (in the order the seed alone
 * decides, the same on every process) is cut into @c count contiguous,
 * near-equal pieces; this process runs forward and backward on piece
 * @c rank only (possibly empty in a short final batch), then calls
 * @c reduce on the gradients and the cost, and applies the optimizer's
 * update (any kind) to the reduced gradients, so every process that starts
 * from the same weights keeps the same weights after every step.
 * Differences from cnn_train():
 * - the fused plain-SGD update of dense layers is off (the gradients must
 *   exist to be reduced); the result is the same arithmetic;
 * - dropout masks come from a stream of (seed, rank, epoch), reseeded at
 *   each epoch start, so processes never share masks and a resumed run
 *   needs no per-process state from the checkpoint; augmentation depends on
 *   the example and the epoch, as in cnn_train(), so it differs across
 *   processes because their examples do;
 * - batch-normalisation running statistics are averaged over the
 *   processes (@c reduce with equal weights) at the end of every epoch,
 *   before evaluation and checkpoint; within a step each process normalises
 *   with its own piece's statistics (no synchronised batch norm);
 * - each process evaluates the validation and test sets itself.
 * All processes must pass the same network, optimizer, training set and
 * params, except that a checkpoint should be written by one of them
 * (cnn_train_params::checkpoint_path NULL elsewhere); all may resume from
 * the same file.  The same count and seed give bit-identical weights;
 * another count differs by summation order (and by dropout masks).
 * With @p shard NULL this is cnn_train().
 * @return as cnn_train(); also #CNN_EINVAL for a bad @p shard and
 *         #CNN_ECANCELED when @c reduce returns non-zero.  An error on one
 *         process leaves the others waiting inside @c reduce: a caller
 *         whose transport cannot time out should end the job (MPI_Abort).
 * @since 1.2
 */
CNN_API cnn_status cnn_train_sharded(cnn_net *net, cnn_optimizer *opt, const cnn_dataset *train,
                                     const cnn_train_params *p, const cnn_shard_params *shard,
                                     cnn_train_result *result);

/**
 * Reads a checkpoint written by cnn_train() and tells the last epoch it
 * holds, without building anything (the whole file is read and its
 * checksum verified).
 * @param path  the checkpoint file
 * @param epoch receives the number of epochs completed when it was written
 * @return #CNN_OK, #CNN_EINVAL (NULL or empty argument), #CNN_EIO,
 *         #CNN_EFORMAT, #CNN_ECHECKSUM, #CNN_EVERSION, #CNN_ENOMEM
 * @since 0.1
 */
CNN_API cnn_status cnn_checkpoint_info(const char *path, int32_t *epoch);
/** @} */

/* ------------------------------------------------------------------------ */
/** @name Testing hooks */
/** @{ */

/**
 * Test hook: makes the library's allocations fail after @p n more succeed
 * (n < 0 turns failure injection off, the default).  Process-wide: use only
 * in single-threaded tests.
 * @since 0.1
 */
CNN_API void cnn_test_fail_alloc_after(int64_t n);
/** @} */

#ifdef __cplusplus
}
#endif

#endif /* CNN_H */
