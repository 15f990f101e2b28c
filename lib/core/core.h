/* Internal utilities shared by every part of the library: allocation (with
 * the test hook for failure injection), error reporting, the random
 * generator and the tensor struct.  Nothing here is exported. */
#ifndef CNN_CORE_H
#define CNN_CORE_H

#include "cnn.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#  define CNN_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#else
#  define CNN_PRINTF(fmt_idx, arg_idx)
#endif

/* ---- allocation ------------------------------------------------------
 * Every allocation in the library goes through these so that
 * cnn_test_fail_alloc_after() can make any of them fail.  Sizes are
 * checked for overflow: cnn_alloc_array(n, size) fails if n*size overflows. */
void *cnn_alloc(size_t size);                     /* uninitialised, 64-byte aligned */
void *cnn_alloc_zeroed(size_t count, size_t size); /* zeroed, 64-byte aligned */
void *cnn_alloc_array(size_t count, size_t size);  /* uninitialised, 64-byte aligned */
void cnn_dealloc(void *ptr);                       /* NULL is fine */
/* Returns true if a*b overflows size_t; otherwise stores the product. */
bool cnn_mul_overflows(size_t a, size_t b, size_t *product);

/* ---- parameter structs ---------------------------------------------------
 * Every params struct starts with uint32_t struct_size.  The init functions
 * fill a complete default struct, then copy the first struct_size bytes of
 * it to the caller (the caller's own sizeof): defaults, full. */
cnn_status cnn_params_copy_out(const char *who, void *dst, size_t dst_size, void *full,
                               size_t full_size, size_t min_size);

/* ---- errors -----------------------------------------------------------
 * cnn_fail() formats a message into the calling thread's last-error buffer
 * and returns `status`, so callers write `return cnn_fail(CNN_EINVAL, ...)`.
 * cnn_fail_net() does the same and copies the message into the network. */
#define CNN_ERRMSG_MAX 256
cnn_status cnn_fail(cnn_status status, const char *fmt, ...) CNN_PRINTF(2, 3);
cnn_status cnn_vfail(cnn_status status, const char *fmt, va_list ap);
/* The thread's current message buffer (for code that re-reports it). */
const char *cnn_errmsg_current(void);

/* ---- random numbers ---------------------------------------------------
 * xoshiro256** seeded through splitmix64: small state, fast, good quality,
 * and identical on every platform.  State lives in handles, never globally. */
typedef struct cnn_rng {
    uint64_t s[4];
} cnn_rng;

void cnn_rng_seed(cnn_rng *rng, uint64_t seed);
/* Seeds a stream from (seed, stream id) so streams are independent. */
void cnn_rng_seed_stream(cnn_rng *rng, uint64_t seed, uint64_t stream);
uint64_t cnn_rng_next(cnn_rng *rng);
/* Uniform in [0, 1) with 24 random bits (exactly representable as float). */
float cnn_rng_uniform(cnn_rng *rng);
/* Uniform in [0, 1) with 53 random bits. */
double cnn_rng_uniform_double(cnn_rng *rng);
/* Standard normal (Box-Muller, both values used: state cached in rng-free way
 * by drawing pairs; call cnn_rng_normal_fill for arrays). */
double cnn_rng_normal(cnn_rng *rng);
/* Fills n floats with N(0, sigma^2). */
void cnn_rng_normal_fill(cnn_rng *rng, float *dst, size_t n, double sigma);
/* Fills n floats with U(-limit, limit). */
void cnn_rng_uniform_fill(cnn_rng *rng, float *dst, size_t n, double limit);
/* Uniform integer in [0, bound), bound >= 1, without modulo bias. */
uint64_t cnn_rng_below(cnn_rng *rng, uint64_t bound);
/* Fisher-Yates shuffle of n int64 indices. */
void cnn_rng_shuffle_i64(cnn_rng *rng, int64_t *idx, int64_t n);

/* ---- tensors ----------------------------------------------------------- */
struct cnn_tensor {
    int32_t ndim;
    int64_t shape[CNN_MAX_RANK];
    int64_t numel;
    float *data;
    bool owns_data;   /* false for cnn_tensor_wrap() and layer parameter views */
    bool is_view;     /* true for views handed out by getters: destroy ignores them */
};

/* Validates (ndim, shape) and computes the element count; reports errors
 * with `who` as the message prefix. */
cnn_status cnn_shape_check(const char *who, int32_t ndim, const int64_t *shape, int64_t *numel);
/* Points a view tensor at external memory (used for layer parameter views). */
void cnn_tensor_view_set(cnn_tensor *view, float *data, int32_t ndim, const int64_t *shape);
/* Formats a tensor shape as "2x3x4" into buf (for messages). */
const char *cnn_shape_str(const cnn_tensor *t, char *buf, size_t size);

/* ---- time -------------------------------------------------------------- */
/* Monotonic seconds, for throughput figures only (never for seeding). */
double cnn_now_seconds(void);

#endif /* CNN_CORE_H */
