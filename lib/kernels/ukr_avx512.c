/* The AVX-512 microkernels (ukr.h): 16-float vectors, 32 registers.
 *
 * Built with a function-level target attribute, not a compiler flag, so
 * the library stays a baseline x86-64 binary; cnn_k_isa() only selects
 * this path on a CPU that reports AVX-512 F, BW, VL and DQ.
 * Row limits keep mr * nv accumulators + nv B vectors + one broadcast
 * within the 32 registers: 14, 14, 8, 6 rows for 1 to 4 vectors. */
#include "kernels/kernels.h"
#include "kernels/ukr.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))

#define UKR_TARGET T512
#define UKR_V __m512
#define UKR_LANES 16
#define UKR_ZERO() _mm512_setzero_ps()
#define UKR_LOAD(p) _mm512_loadu_ps(p)
#define UKR_STORE(p, v) _mm512_storeu_ps(p, v)
#define UKR_SET1(x) _mm512_set1_ps(x)
#define UKR_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define UKR_ADD(a, b) _mm512_add_ps(a, b)
#include "kernels/ukr_simd.inc"

#define DOT(MR, NC) \
    static T512 void dot_##MR##_##NC(const cnn_k_dot_job *j) { ukr_dot_body(j, MR, NC); }
DOT(1, 1) DOT(1, 2) DOT(1, 3) DOT(1, 4) DOT(1, 5) DOT(1, 6) DOT(2, 1) DOT(2, 2) DOT(2, 3) DOT(2, 4) DOT(2, 5) DOT(2, 6) DOT(3, 1) DOT(3, 2) DOT(3, 3) DOT(3, 4) DOT(3, 5) DOT(3, 6) DOT(4, 1) DOT(4, 2) DOT(4, 3) DOT(4, 4) DOT(4, 5) DOT(4, 6)

#define K(MR, NV) \
    static T512 void k512_##MR##_##NV(const cnn_k_ukr_job *j) { ukr_body(j, MR, NV); }
#define K6(NV) K(1, NV) K(2, NV) K(3, NV) K(4, NV) K(5, NV) K(6, NV)
#define K8(NV) K6(NV) K(7, NV) K(8, NV)
#define K14(NV) K8(NV) K(9, NV) K(10, NV) K(11, NV) K(12, NV) K(13, NV) K(14, NV)
K14(1)
K14(2)
K8(3)
K6(4)
#define R6(NV) k512_1_##NV, k512_2_##NV, k512_3_##NV, k512_4_##NV, k512_5_##NV, k512_6_##NV
#define R8(NV) R6(NV), k512_7_##NV, k512_8_##NV
#define R14(NV) R8(NV), k512_9_##NV, k512_10_##NV, k512_11_##NV, k512_12_##NV, k512_13_##NV, \
                k512_14_##NV

static const cnn_k_ukr_set avx512_set = {
    .isa = CNN_K_ISA_AVX512,
    .lanes = 16,
    .max_mr = {0, 14, 14, 8, 6},
    .plan_nv = 4,
    .fn = {{NULL}, {NULL, R14(1)}, {NULL, R14(2)}, {NULL, R8(3)}, {NULL, R6(4)}},
    .transpose = transpose_simd,
    .dot_mr = 4,
    .dot_nc = 6,
    .dot = {{NULL},
            {NULL, dot_1_1, dot_1_2, dot_1_3, dot_1_4, dot_1_5, dot_1_6},
            {NULL, dot_2_1, dot_2_2, dot_2_3, dot_2_4, dot_2_5, dot_2_6},
            {NULL, dot_3_1, dot_3_2, dot_3_3, dot_3_4, dot_3_5, dot_3_6},
            {NULL, dot_4_1, dot_4_2, dot_4_3, dot_4_4, dot_4_5, dot_4_6}},
};

const cnn_k_ukr_set *cnn_k_ukr_avx512(void)
{
    return &avx512_set;
}

#else

const cnn_k_ukr_set *cnn_k_ukr_avx512(void)
{
    return NULL;
}

#endif
