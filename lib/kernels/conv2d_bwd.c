/* Convolution backward: the dispatch (own kernels, conv2d_direct.c, except
 * for pointwise convolutions) and the im2col + BLAS path, chunked like
 * conv2d_fwd.c: for a chunk of nc images
 * with dY_c (out_c x nc*P) gathered from NCHW dy,
 *   dcol_c (K x nc*P) = W^T (K x out_c) * dY_c;   dx_i = col2im(dcol_c, image i)
 *   dW (out_c x K)   += dY_c * col_c^T             (one GEMM, inner size nc*P)
 * (With one image per chunk, dY_c is that image's NCHW block: no copy.)
 * Chunks are taken in batch order and dW is accumulated by BLAS with beta = 1
 * chunk after chunk, so the result depends only on n (deterministic). */
#include "kernels/kernels.h"

#include <string.h>

/* dx[n] = col2im(W^T * dy[n]): the adjoint of the forward map x -> W * im2col(x). */
void cnn_k_conv2d_bwd_data(const cnn_conv_geom *g, int n, const float *dy, const float *w,
                           float *dx, float *scratch)
{
    if (cnn_k_conv2d_is_pointwise(g))
        cnn_k_conv2d_gemm_bwd_data(g, n, dy, w, dx, scratch);
    else
        cnn_k_conv2d_direct_bwd_data(g, n, dy, w, dx, scratch);
}

void cnn_k_conv2d_bwd_weights(const cnn_conv_geom *g, int n, const float *x, const float *dy,
                              float *dw, float *db, float *scratch)
{
    if (cnn_k_conv2d_is_pointwise(g))
        cnn_k_conv2d_gemm_bwd_weights(g, n, x, dy, dw, scratch);
    else
        cnn_k_conv2d_direct_bwd_weights(g, n, x, dy, dw, scratch);
    if (db)
        cnn_k_bias_grad(n, g->out_c, cnn_k_im2col_cols(g), dy, db);
}

void cnn_k_conv2d_gemm_bwd_data(const cnn_conv_geom *g, int n, const float *dy, const float *w,
                                float *dx, float *scratch)
{
    const int kk = (int)cnn_k_im2col_rows(g);
    const size_t p = cnn_k_im2col_cols(g);
    const size_t x_img = (size_t)g->in_c * (size_t)g->in_h * (size_t)g->in_w;
    const size_t y_img = (size_t)g->out_c * p;

    if (cnn_k_conv2d_is_pointwise(g)) {
        /* col2im is the identity: the product lands in dx directly. */
        for (int i = 0; i < n; i++)
            cnn_k_gemm(1, 0, kk, (int)p, g->out_c, 1.0f, w, kk, dy + (size_t)i * y_img, (int)p,
                       0.0f, dx + (size_t)i * x_img, (int)p);
        return;
    }
    const int chunk = cnn_k_conv2d_chunk(g, n);
    /* col2im accumulates (overlapping windows add up), so start from zero. */
    memset(dx, 0, (size_t)n * x_img * sizeof *dx);
    for (int i0 = 0; i0 < n; i0 += chunk) {
        const int nc = n - i0 < chunk ? n - i0 : chunk;
        const size_t ld = (size_t)nc * p;
        float *dcol = scratch;
        const float *dyc = dy + (size_t)i0 * y_img; /* nc == 1: already laid out */
        if (nc > 1) {
            float *t = scratch + (size_t)kk * ld;
            cnn_k_conv2d_tochunk(g, nc, dyc, t);
            dyc = t;
        }
        cnn_k_gemm(1, 0, kk, (int)ld, g->out_c, 1.0f, w, kk, dyc, (int)ld, 0.0f, dcol, (int)ld);
        for (int i = 0; i < nc; i++)
            cnn_k_col2im_ld(g, dcol + (size_t)i * p, dx + (size_t)(i0 + i) * x_img, ld);
    }
}

/* dw = sum_n dy[n] * im2col(x[n])^T. */
void cnn_k_conv2d_gemm_bwd_weights(const cnn_conv_geom *g, int n, const float *x,
                                   const float *dy, float *dw, float *scratch)
{
    const int kk = (int)cnn_k_im2col_rows(g);
    const size_t p = cnn_k_im2col_cols(g);
    const size_t x_img = (size_t)g->in_c * (size_t)g->in_h * (size_t)g->in_w;
    const size_t y_img = (size_t)g->out_c * p;

    if (n <= 0) {
        /* "write" semantics even for an empty batch: the gradient is zero. */
        memset(dw, 0, (size_t)g->out_c * (size_t)kk * sizeof *dw);
    }
    if (cnn_k_conv2d_is_pointwise(g)) {
        for (int i = 0; i < n; i++)
            cnn_k_gemm(0, 1, g->out_c, kk, (int)p, 1.0f, dy + (size_t)i * y_img, (int)p,
                       x + (size_t)i * x_img, (int)p, i == 0 ? 0.0f : 1.0f, dw, kk);
    } else {
        const int chunk = cnn_k_conv2d_chunk(g, n);
        for (int i0 = 0; i0 < n; i0 += chunk) {
            const int nc = n - i0 < chunk ? n - i0 : chunk;
            const size_t ld = (size_t)nc * p;
            float *col = scratch;
            const float *dyc = dy + (size_t)i0 * y_img; /* nc == 1: already laid out */
            for (int i = 0; i < nc; i++)
                cnn_k_im2col_ld(g, x + (size_t)(i0 + i) * x_img, col + (size_t)i * p, ld);
            if (nc > 1) {
                float *t = scratch + (size_t)kk * ld;
                cnn_k_conv2d_tochunk(g, nc, dyc, t);
                dyc = t;
            }
            /* beta = 0 for the first chunk overwrites dw; later chunks add to it. */
            cnn_k_gemm(0, 1, g->out_c, kk, (int)ld, 1.0f, dyc, (int)ld, col, (int)ld,
                       i0 == 0 ? 0.0f : 1.0f, dw, kk);
        }
    }
}
