/* Which instruction set the run-time dispatched kernels (dense_simd.h) use.
 *
 * Chosen once, on first use: the best the CPU supports (AVX2 + FMA on x86-64
 * where present, else plain C), unless the environment variable CNN_ISA is
 * "generic", which forces the plain-C paths on any CPU.  That makes the
 * fallbacks testable on an AVX2 machine (tests/meson.build runs the kernel
 * suites a second time under CNN_ISA=generic) and lets a user rule the SIMD
 * kernels out when chasing a numerical difference.  Any other value, or
 * none, means the default.  Later changes to the environment are not seen. */
#include "kernels/kernels.h"
#include "kernels/dense_simd.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_int isa_chosen = -1; /* -1: not read yet */

int cnn_k_isa_best(void)
{
#if CNN_K_HAVE_AVX2_PATH
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return CNN_K_ISA_AVX2;
#endif
    return CNN_K_ISA_GENERIC;
}

static int isa_from_environment(void)
{
    const char *v = getenv("CNN_ISA");
    if (v && strcmp(v, "generic") == 0)
        return CNN_K_ISA_GENERIC;
    return cnn_k_isa_best();
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
    if (isa != CNN_K_ISA_GENERIC && isa != cnn_k_isa_best())
        return false;
    atomic_store_explicit(&isa_chosen, isa, memory_order_relaxed);
    return true;
}

const char *cnn_k_isa_name(int isa)
{
    return isa == CNN_K_ISA_AVX2 ? "avx2" : "generic";
}
