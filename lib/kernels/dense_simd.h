/* Shared by dense_fwd.c and dense_bwd.c: the small-batch dense kernels.
 *
 * At training batch sizes (n <= CNN_K_DENSE_SMALL_N) a dense layer is a
 * skinny product whose cost is moving W (out x in), not arithmetic: OpenBLAS
 * packs all of W on every call, and with beta = 0 zeroes C in a pass of its
 * own.  The kernels here make one pass over W serve all n rows instead.
 * Where the CPU has AVX-512 (checked at run time; the library is built
 * for baseline x86-64) they use 16-float vectors (dense_avx512.c), where it
 * has AVX2 and FMA 8-float vectors, both with fused multiply-adds;
 * elsewhere, or when CNN_ISA names a lower path (cnn_k_isa(), isa.c),
 * plain loops.  Each output element is summed in a fixed order
 * (ascending index), so results are deterministic on a given machine. */
#ifndef CNN_DENSE_SIMD_H
#define CNN_DENSE_SIMD_H

#include "kernels/kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#  define CNN_K_HAVE_AVX2_PATH 1
#  include <immintrin.h>
#  define CNN_K_AVX2 __attribute__((target("avx2,fma")))
/* True when the AVX2/FMA kernels are to run: the CPU has them and CNN_ISA
 * does not rule them out (kernels.h, cnn_k_isa()). */
static inline int cnn_k_cpu_avx2(void)
{
    return cnn_k_isa() >= CNN_K_ISA_AVX2; /* the AVX-512 path includes AVX2 */
}
/* True when the AVX-512 kernels are to run (dense_avx512.c). */
static inline int cnn_k_cpu_avx512(void)
{
    return cnn_k_isa() >= CNN_K_ISA_AVX512;
}
/* The AVX-512 forms of the small-batch kernels, same arguments and
 * contracts as the AVX2 ones in dense_fwd.c and dense_bwd.c. */
void cnn_k_dense_fwd_avx512(int n, int in, int out, const float *x, const float *w,
                            const float *b, float alpha, float *y, int o_begin, int o_end);
void cnn_k_dense_bwd_data_avx512(int n, int in, int out, const float *dz, const float *w,
                                 float *dx, int k_begin, int k_end);
void cnn_k_dense_bwd_w_store_avx512(int n, int in, int out, const float *x, const float *dz,
                                    float *dw, int o_begin, int o_end);
void cnn_k_dense_bwd_w_sgd_avx512(int n, int in, int out, const float *x, const float *dz,
                                  float *w, float eta, float decay, int o_begin, int o_end);
/* Lane mask for the first r (1..8) floats of a vector. */
CNN_K_AVX2 static inline __m256i cnn_k_tail_mask(int r)
{
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(r), lanes);
}
/* Sum of the 8 lanes, in a fixed order. */
CNN_K_AVX2 static inline float cnn_k_hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#else
#  define CNN_K_HAVE_AVX2_PATH 0
#endif

#endif /* CNN_DENSE_SIMD_H */
