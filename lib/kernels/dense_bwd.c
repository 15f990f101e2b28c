/* Fully connected backward: two GEMMs and a column sum. */
#include "kernels/kernels.h"

#include <string.h>

/* dx = dz * W   (dz: n x out, W: out x in, dx: n x in). */
void cnn_k_dense_bwd_data(int n, int in, int out, const float *dz, const float *w, float *dx)
{
    cnn_k_gemm(0, 0, n, in, out, 1.0f, dz, out, w, in, 0.0f, dx, in);
}

/* dw = dz^T * x (out x in);  db[o] = sum_i dz[i][o]. */
void cnn_k_dense_bwd_weights(int n, int in, int out, const float *x, const float *dz,
                             float *dw, float *db)
{
    cnn_k_gemm(1, 0, out, in, n, 1.0f, dz, out, x, in, 0.0f, dw, in);
    if (!db)
        return;
    /* Row by row, so the inner loop runs along contiguous memory and
     * vectorises; the summation order (i ascending) is fixed, hence deterministic. */
    memset(db, 0, (size_t)out * sizeof *db);
    for (int i = 0; i < n; i++) {
        const float *row = dz + (size_t)i * (size_t)out;
        for (int o = 0; o < out; o++)
            db[o] += row[o];
    }
}
