/* The AVX2 + FMA microkernels (ukr.h): 8-float vectors, 16 registers.
 *
 * Built with a function-level target attribute, not a compiler flag, so
 * the library stays a baseline x86-64 binary; cnn_k_isa() only selects
 * this path on a CPU that reports AVX2 and FMA.
 * Row limits keep mr * nv accumulators + nv B vectors + one broadcast
 * within the 16 registers: 12, 6, 4, 2 rows for 1 to 4 vectors. */
#include "kernels/kernels.h"
#include "kernels/ukr.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define T256 __attribute__((target("avx2,fma")))

#define UKR_TARGET T256
#define UKR_V __m256
#define UKR_LANES 8
#define UKR_ZERO() _mm256_setzero_ps()
#define UKR_LOAD(p) _mm256_loadu_ps(p)
#define UKR_STORE(p, v) _mm256_storeu_ps(p, v)
#define UKR_SET1(x) _mm256_set1_ps(x)
#define UKR_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define UKR_ADD(a, b) _mm256_add_ps(a, b)
#include "kernels/ukr_simd.inc"

#define DOT(MR, NC) \
    static T256 void dot_##MR##_##NC(const cnn_k_dot_job *j) { ukr_dot_body(j, MR, NC); }
DOT(1, 1) DOT(1, 2) DOT(1, 3) DOT(1, 4) DOT(2, 1) DOT(2, 2) DOT(2, 3) DOT(2, 4) DOT(3, 1) DOT(3, 2) DOT(3, 3) DOT(3, 4)

#define K(MR, NV) \
    static T256 void k256_##MR##_##NV(const cnn_k_ukr_job *j) { ukr_body(j, MR, NV); }
#define K6(NV) K(1, NV) K(2, NV) K(3, NV) K(4, NV) K(5, NV) K(6, NV)
#define K12(NV) K6(NV) K(7, NV) K(8, NV) K(9, NV) K(10, NV) K(11, NV) K(12, NV)
K12(1)
K6(2)
K(1, 3) K(2, 3) K(3, 3) K(4, 3)
K(1, 4) K(2, 4)
#define R6(NV) k256_1_##NV, k256_2_##NV, k256_3_##NV, k256_4_##NV, k256_5_##NV, k256_6_##NV
#define R12(NV) R6(NV), k256_7_##NV, k256_8_##NV, k256_9_##NV, k256_10_##NV, k256_11_##NV, \
                k256_12_##NV

static const cnn_k_ukr_set avx2_set = {
    .isa = CNN_K_ISA_AVX2,
    .lanes = 8,
    .max_mr = {0, 12, 6, 4, 2},
    /* 3 vectors (12 accumulators at 4 rows): W2's convolutions on this path
     * (Xeon, CNN_ISA=avx2, batch 10) ran backward-data at 84 GFLOP/s against
     * 60 with 4 vectors (2 rows) and 81 with 2 (6 rows); the others alike. */
    .plan_nv = 3,
    .fn = {{NULL},
           {NULL, R12(1)},
           {NULL, R6(2)},
           {NULL, k256_1_3, k256_2_3, k256_3_3, k256_4_3},
           {NULL, k256_1_4, k256_2_4}},
    .transpose = transpose_simd,
    .dot_mr = 3,
    .dot_nc = 4,
    .dot = {{NULL},
            {NULL, dot_1_1, dot_1_2, dot_1_3, dot_1_4},
            {NULL, dot_2_1, dot_2_2, dot_2_3, dot_2_4},
            {NULL, dot_3_1, dot_3_2, dot_3_3, dot_3_4}},
};

const cnn_k_ukr_set *cnn_k_ukr_avx2(void)
{
    return &avx2_set;
}

#else

const cnn_k_ukr_set *cnn_k_ukr_avx2(void)
{
    return NULL;
}

#endif
