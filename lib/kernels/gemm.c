/* The one door to CBLAS.  Every matrix product in the library goes through
 * cnn_k_gemm so that swapping the BLAS (OpenBLAS, BLIS) or adding our own
 * small-matrix path later touches only this file. */
#include "kernels/kernels.h"

/* BLIS's cblas.h carries the whole of blis.h, including static helpers that
 * a file using only cblas_sgemm never calls: silence just that warning. */
#if defined(__GNUC__)
#  pragma GCC diagnostic push
#  pragma GCC diagnostic ignored "-Wunused-function"
#endif
#include <cblas.h>
#if defined(__GNUC__)
#  pragma GCC diagnostic pop
#endif
#include <stdint.h>
#include <string.h>

#if defined(CNN_BLAS_BLIS)
/* Declared here rather than pulling in the whole of blis.h; dim_t is a 64-bit
 * signed integer in every BLIS build for LP64 targets. */
void bli_thread_set_num_threads(int64_t value);
int64_t bli_thread_get_num_threads(void);
#elif defined(CNN_BLAS_OPENBLAS)
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
#endif

/* C = alpha * op(A) * op(B) + beta * C (row-major); beta == 0 never reads C. */
void cnn_k_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
                const float *a, int lda, const float *b, int ldb, float beta,
                float *c, int ldc)
{
    /* An empty product touches nothing; calling BLAS with m or n zero would
     * also trip its leading-dimension checks, which print. */
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) {
        /* No terms: C = beta * C, with beta == 0 writing zeros (as BLAS does). */
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                c[(size_t)i * (size_t)ldc + (size_t)j] =
                    beta == 0.0f ? 0.0f : beta * c[(size_t)i * (size_t)ldc + (size_t)j];
        return;
    }
#if defined(CNN_BLAS_OPENBLAS)
    /* OpenBLAS implements beta == 0 as a separate scaling pass over C
     * (sgemm_beta, 8 % of W2's training step in the profile) and skips that
     * pass only for beta == 1: zeroing C with memset and accumulating onto
     * it is cheaper. */
    if (beta == 0.0f) {
        if (ldc == n)
            memset(c, 0, (size_t)m * (size_t)n * sizeof *c);
        else
            for (int i = 0; i < m; i++)
                memset(c + (size_t)i * (size_t)ldc, 0, (size_t)n * sizeof *c);
        beta = 1.0f;
    }
#endif
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb,
                beta, c, ldc);
}

/* Sets the BLAS library's own thread pool size (process-wide in both BLASes).
 * The current value is read first and the setter called only on a change:
 * OpenBLAS's setter is not free (it may resize its thread buffers), and
 * callers run this before every forward pass. */
void cnn_k_gemm_set_threads(int threads)
{
    if (threads < 1)
        threads = 1;
#if defined(CNN_BLAS_BLIS)
    if (bli_thread_get_num_threads() != (int64_t)threads)
        bli_thread_set_num_threads((int64_t)threads);
#elif defined(CNN_BLAS_OPENBLAS)
    if (openblas_get_num_threads() != threads)
        openblas_set_num_threads(threads);
#else
    (void)threads;
#endif
}
