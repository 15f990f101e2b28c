/* Convolution backward as GEMM + col2im (data) and im2col + GEMM (weights),
 * one image at a time, mirroring conv2d_fwd.c:
 *   dcol_n (K x P)   = W^T (K x out_c) * dY_n (out_c x P);  dx_n = col2im(dcol_n)
 *   dW (out_c x K)  += dY_n (out_c x P) * col_n^T (P x K) */
#include "kernels/kernels.h"

#include <string.h>

/* See conv2d_fwd.c: a 1x1 kernel at stride 1 without padding needs no im2col. */
static int is_pointwise(const cnn_conv_geom *g)
{
    return g->k_h == 1 && g->k_w == 1 && g->stride_h == 1 && g->stride_w == 1 &&
           g->pad_h == 0 && g->pad_w == 0;
}

/* dx[n] = col2im(W^T * dy[n]): the adjoint of the forward map x -> W * im2col(x). */
void cnn_k_conv2d_bwd_data(const cnn_conv_geom *g, int n, const float *dy, const float *w,
                           float *dx, float *scratch)
{
    const int kk = (int)cnn_k_im2col_rows(g);
    const int p = (int)cnn_k_im2col_cols(g);
    const size_t x_img = (size_t)g->in_c * (size_t)g->in_h * (size_t)g->in_w;
    const size_t y_img = (size_t)g->out_c * (size_t)p;
    const int direct = is_pointwise(g);

    for (int i = 0; i < n; i++) {
        const float *dyi = dy + (size_t)i * y_img;
        float *dxi = dx + (size_t)i * x_img;
        if (direct) {
            /* col2im is the identity: the product lands in dx directly. */
            cnn_k_gemm(1, 0, kk, p, g->out_c, 1.0f, w, kk, dyi, p, 0.0f, dxi, p);
            continue;
        }
        cnn_k_gemm(1, 0, kk, p, g->out_c, 1.0f, w, kk, dyi, p, 0.0f, scratch, p);
        /* col2im accumulates (overlapping windows add up), so start from zero. */
        memset(dxi, 0, x_img * sizeof *dxi);
        cnn_k_col2im(g, scratch, dxi);
    }
}

/* dw = sum_n dy[n] * im2col(x[n])^T;  db[o] = sum_{n,oy,ox} dy[n][o][oy][ox]. */
void cnn_k_conv2d_bwd_weights(const cnn_conv_geom *g, int n, const float *x, const float *dy,
                              float *dw, float *db, float *scratch)
{
    const int kk = (int)cnn_k_im2col_rows(g);
    const int p = (int)cnn_k_im2col_cols(g);
    const size_t x_img = (size_t)g->in_c * (size_t)g->in_h * (size_t)g->in_w;
    const size_t y_img = (size_t)g->out_c * (size_t)p;
    const int direct = is_pointwise(g);

    if (n <= 0) {
        /* "write" semantics even for an empty batch: the gradient is zero. */
        memset(dw, 0, (size_t)g->out_c * (size_t)kk * sizeof *dw);
    }
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * x_img;
        const float *col = xi;
        if (!direct) {
            cnn_k_im2col(g, xi, scratch);
            col = scratch;
        }
        /* beta = 0 for the first image overwrites dw; later images add to it. */
        cnn_k_gemm(0, 1, g->out_c, kk, p, 1.0f, dy + (size_t)i * y_img, p, col, p,
                   i == 0 ? 0.0f : 1.0f, dw, kk);
    }
    if (db)
        cnn_k_bias_grad(n, g->out_c, (size_t)p, dy, db);
}
