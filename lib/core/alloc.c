/* Every allocation in the library goes through here, for two reasons:
 * buffers are 64-byte aligned (whole cache lines, full-width SIMD loads),
 * and tests can make the N-th allocation fail to prove that every caller
 * handles CNN_ENOMEM without leaking or crashing. */
#include "core.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define CNN_ALIGNMENT 64

/* Failure injection: -1 = off; otherwise the number of allocations still
 * allowed to succeed.  Atomic so that a test hook cannot tear, but the hook
 * is documented as single-threaded test use only. */
static _Atomic int64_t allocs_left = -1;

void cnn_test_fail_alloc_after(int64_t n)
{
    atomic_store(&allocs_left, n < 0 ? -1 : n);
}

static bool injected_failure(void)
{
    int64_t left = atomic_load(&allocs_left);
    if (left < 0)
        return false;
    if (left == 0)
        return true;
    atomic_fetch_sub(&allocs_left, 1);
    return false;
}

bool cnn_mul_overflows(size_t a, size_t b, size_t *product)
{
    if (a != 0 && b > SIZE_MAX / a)
        return true;
    *product = a * b;
    return false;
}

void *cnn_alloc(size_t size)
{
    if (injected_failure())
        return NULL;
    if (size == 0)
        size = 1;
    /* aligned_alloc wants a multiple of the alignment. */
    size_t rounded = (size + CNN_ALIGNMENT - 1) & ~(size_t)(CNN_ALIGNMENT - 1);
    if (rounded < size)
        return NULL;
    return aligned_alloc(CNN_ALIGNMENT, rounded);
}

void *cnn_alloc_array(size_t count, size_t size)
{
    size_t total;
    if (cnn_mul_overflows(count, size, &total))
        return NULL;
    return cnn_alloc(total);
}

void *cnn_alloc_zeroed(size_t count, size_t size)
{
    size_t total;
    if (cnn_mul_overflows(count, size, &total))
        return NULL;
    void *p = cnn_alloc(total);
    if (p)
        memset(p, 0, total);
    return p;
}

void cnn_dealloc(void *ptr)
{
    free(ptr);
}

void cnn_free(void *ptr)
{
    cnn_dealloc(ptr);
}

cnn_status cnn_params_copy_out(const char *who, void *dst, size_t dst_size, void *full,
                               size_t full_size, size_t min_size)
{
    if (!dst)
        return cnn_fail(CNN_EINVAL, "%s: params is NULL", who);
    if (dst_size < min_size)
        return cnn_fail(CNN_EINVAL, "%s: struct_size %zu, at least %zu expected", who, dst_size,
                        min_size);
    const size_t n = dst_size < full_size ? dst_size : full_size;
    const uint32_t size = (uint32_t)n;
    memcpy(full, &size, sizeof size);
    memcpy(dst, full, n);
    return CNN_OK;
}
