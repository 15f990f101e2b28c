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

static inline __attribute__((always_inline)) T256 void body256(const cnn_k_ukr_job *j,
                                                                const int mr, const int nv)
{
    __m256 acc[CNN_K_UKR_MAX_MR][CNN_K_UKR_MAX_NV];
#pragma GCC unroll 16
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            acc[r][v] = _mm256_setzero_ps();
    const float *b = j->b;
    const ptrdiff_t ar = j->a_row, a3 = j->a3, ldb = j->ldb;
    for (int i1 = 0; i1 < j->n1; i1++) {
        for (int i2 = 0; i2 < j->n2; i2++) {
            const float *a = j->a + i1 * j->a1 + i2 * j->a2;
            for (int i3 = 0; i3 < j->n3; i3++, a += a3, b += ldb) {
                __m256 bv[CNN_K_UKR_MAX_NV];
#pragma GCC unroll 4
                for (int v = 0; v < nv; v++)
                    bv[v] = _mm256_loadu_ps(b + 8 * v);
#pragma GCC unroll 16
                for (int r = 0; r < mr; r++) {
                    const __m256 av = _mm256_set1_ps(a[r * ar]);
#pragma GCC unroll 4
                    for (int v = 0; v < nv; v++)
                        acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);
                }
            }
        }
    }
    if (j->overwrite) {
#pragma GCC unroll 16
        for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                _mm256_storeu_ps(j->t + r * j->ldt + 8 * v, acc[r][v]);
        return;
    }
#pragma GCC unroll 16
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) {
            float *t = j->t + r * j->ldt + 8 * v;
            _mm256_storeu_ps(t, _mm256_add_ps(_mm256_loadu_ps(t), acc[r][v]));
        }
}


/* 8 x 8 blocks in registers (the classic unpack / shuffle / permute
 * sequence), the edges by the portable loop. */
static inline __attribute__((always_inline)) T256 void transpose8x8(const float *src, ptrdiff_t lds,
                                                                  float *dst, ptrdiff_t ldd)
{
    __m256 r0 = _mm256_loadu_ps(src + 0 * lds), r1 = _mm256_loadu_ps(src + 1 * lds);
    __m256 r2 = _mm256_loadu_ps(src + 2 * lds), r3 = _mm256_loadu_ps(src + 3 * lds);
    __m256 r4 = _mm256_loadu_ps(src + 4 * lds), r5 = _mm256_loadu_ps(src + 5 * lds);
    __m256 r6 = _mm256_loadu_ps(src + 6 * lds), r7 = _mm256_loadu_ps(src + 7 * lds);
    const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    const __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r0 = _mm256_permute2f128_ps(u0, u4, 0x20);
    r1 = _mm256_permute2f128_ps(u1, u5, 0x20);
    r2 = _mm256_permute2f128_ps(u2, u6, 0x20);
    r3 = _mm256_permute2f128_ps(u3, u7, 0x20);
    r4 = _mm256_permute2f128_ps(u0, u4, 0x31);
    r5 = _mm256_permute2f128_ps(u1, u5, 0x31);
    r6 = _mm256_permute2f128_ps(u2, u6, 0x31);
    r7 = _mm256_permute2f128_ps(u3, u7, 0x31);
    _mm256_storeu_ps(dst + 0 * ldd, r0);
    _mm256_storeu_ps(dst + 1 * ldd, r1);
    _mm256_storeu_ps(dst + 2 * ldd, r2);
    _mm256_storeu_ps(dst + 3 * ldd, r3);
    _mm256_storeu_ps(dst + 4 * ldd, r4);
    _mm256_storeu_ps(dst + 5 * ldd, r5);
    _mm256_storeu_ps(dst + 6 * ldd, r6);
    _mm256_storeu_ps(dst + 7 * ldd, r7);
}

static T256 void transpose_simd(int rows, int cols, const float *src, ptrdiff_t lds, float *dst,
                             ptrdiff_t ldd)
{
    const int rf = rows / 8 * 8, cf = cols / 8 * 8;
    for (int r = 0; r < rf; r += 8)
        for (int c = 0; c < cf; c += 8)
            transpose8x8(src + r * lds + c, lds, dst + c * ldd + r, ldd);
    if (cf < cols)
        cnn_k_transpose_generic(rf, cols - cf, src + cf, lds, dst + cf * ldd, ldd);
    if (rf < rows)
        cnn_k_transpose_generic(rows - rf, cols, src + rf * lds, lds, dst + rf, ldd);
}

/* Dot tiles (ukr.h): mr x nc vector accumulators of lane-wise partial sums. */
static inline __attribute__((always_inline)) T256 void dotbody(const cnn_k_dot_job *j,
                                                              const int mr, const int nc)
{
    __m256 acc[CNN_K_DOT_MAX_MR][CNN_K_DOT_MAX_NC];
#pragma GCC unroll 4
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 6
        for (int c = 0; c < nc; c++)
            acc[r][c] = _mm256_setzero_ps();
    const float *a = j->a, *b = j->b;
    for (int st = 0; st < j->steps; st++, a += 8, b += 8) {
        __m256 av[CNN_K_DOT_MAX_MR];
#pragma GCC unroll 4
        for (int r = 0; r < mr; r++)
            av[r] = _mm256_loadu_ps(a + r * j->a_row);
#pragma GCC unroll 6
        for (int c = 0; c < nc; c++) {
            const __m256 bv = _mm256_loadu_ps(b + c * j->b_row);
#pragma GCC unroll 4
            for (int r = 0; r < mr; r++)
                acc[r][c] = _mm256_fmadd_ps(av[r], bv, acc[r][c]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 6
        for (int c = 0; c < nc; c++) {
            float *t = j->t + r * j->ldt + c * 8;
            _mm256_storeu_ps(t, j->overwrite ? acc[r][c] : _mm256_add_ps(_mm256_loadu_ps(t), acc[r][c]));
        }
}

#define DOT(MR, NC) \
    static T256 void dot_##MR##_##NC(const cnn_k_dot_job *j) { dotbody(j, MR, NC); }
DOT(1, 1) DOT(1, 2) DOT(1, 3) DOT(1, 4) DOT(2, 1) DOT(2, 2) DOT(2, 3) DOT(2, 4) DOT(3, 1) DOT(3, 2) DOT(3, 3) DOT(3, 4)

#define K(MR, NV) \
    static T256 void k256_##MR##_##NV(const cnn_k_ukr_job *j) { body256(j, MR, NV); }
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
