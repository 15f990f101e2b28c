/* Which instruction set the run-time dispatched kernels use (the
 * convolution microkernels, ukr.h, and the small-batch dense kernels,
 * dense_simd.h).
 *
 * Chosen once, on first use: the best the CPU supports (AVX-512 F/BW/VL/DQ,
 * else AVX2 + FMA, on x86-64; else plain C), unless the environment
 * variable CNN_ISA names a lower path: "avx2" or "generic" (a path above
 * the CPU's best is not taken; the best is used).  That makes the
 * fallbacks testable on a better machine (tests/meson.build runs the kernel
 * suites again under each lower path) and lets a user rule the SIMD kernels
 * out when chasing a numerical difference.  Any other value, or none, means
 * the best.  Later changes to the environment are not seen. */
#include "kernels/kernels.h"
#include "cnn.h"
#include "kernels/dense_simd.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_int isa_chosen = -1; /* -1: not read yet */

int cnn_k_isa_best(void)
{
#if CNN_K_HAVE_AVX2_PATH
    /* libgcc's and compiler-rt's checks include the operating system's
     * support (XGETBV) for the wider register state. */
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        return CNN_K_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return CNN_K_ISA_AVX2;
#endif
    return CNN_K_ISA_GENERIC;
}

/* The path a CNN_ISA value names, or -1 for none. */
static int isa_by_name(const char *v)
{
    static const char *const names[] = {"generic", "avx2", "avx512"};
    for (int i = 0; v && i < (int)(sizeof names / sizeof names[0]); i++)
        if (strcmp(v, names[i]) == 0)
            return i;
    return -1;
}

static int isa_from_environment(void)
{
    const int best = cnn_k_isa_best();
    const int asked = isa_by_name(getenv("CNN_ISA"));
    return asked >= 0 && asked < best ? asked : best;
}

int cnn_k_isa(void)
{
    int isa = atomic_load_explicit(&isa_chosen, memory_order_relaxed);
    if (isa < 0) {
        /* Racing first calls compute the same value; any store wins. */
        isa = isa_from_environment();
        atomic_store_explicit(&isa_chosen, isa, memory_order_relaxed);
    }
    return isa;
}

bool cnn_k_isa_set(int isa)
{
    if (isa < 0) {
        atomic_store_explicit(&isa_chosen, isa_from_environment(), memory_order_relaxed);
        return true;
    }
    if (isa > cnn_k_isa_best())
        return false;
    atomic_store_explicit(&isa_chosen, isa, memory_order_relaxed);
    return true;
}

/* ---- the public face (cnn.h) ---- */

int32_t cnn_isa(void)
{
    return cnn_k_isa();
}

int32_t cnn_isa_best(void)
{
    return cnn_k_isa_best();
}

const char *cnn_isa_name(int32_t isa)
{
    return isa >= CNN_K_ISA_GENERIC && isa <= CNN_K_ISA_AVX512 ? cnn_k_isa_name(isa) : "unknown";
}

const char *cnn_k_isa_name(int isa)
{
    return isa == CNN_K_ISA_AVX512 ? "avx512" : isa == CNN_K_ISA_AVX2 ? "avx2" : "generic";
}
