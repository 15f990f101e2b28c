/* Convolution forward as im2col + GEMM, one image at a time: for image n,
 * Y_n (out_c x P) = W (out_c x K) * col_n (K x P), K = in_c*k_h*k_w,
 * P = out_h*out_w.  Per-image GEMMs keep the scratch small (K x P floats)
 * and write Y_n in NCHW order directly, with no transpose afterwards. */
#include "kernels/kernels.h"

/* True when im2col is the identity (1x1 kernel, stride 1, no padding): the
 * image itself is then the col matrix and the copy is skipped. */
static int is_pointwise(const cnn_conv_geom *g)
{
    return g->k_h == 1 && g->k_w == 1 && g->stride_h == 1 && g->stride_w == 1 &&
           g->pad_h == 0 && g->pad_w == 0;
}

/* One image's col matrix: K x P floats. */
size_t cnn_k_conv2d_scratch_floats(const cnn_conv_geom *g, int n)
{
    (void)n; /* per-image for now; a batched variant would scale with n */
    return cnn_k_im2col_rows(g) * cnn_k_im2col_cols(g);
}

/* y[n][o] = sum_{c,i,j} w[o][c][i][j] * x[n][c][oy*s_h+i-p_h][ox*s_w+j-p_w] + b[o]. */
void cnn_k_conv2d_fwd(const cnn_conv_geom *g, int n, const float *x, const float *w,
                      const float *b, float *y, float *scratch)
{
    const int kk = (int)cnn_k_im2col_rows(g);
    const int p = (int)cnn_k_im2col_cols(g);
    const size_t x_img = (size_t)g->in_c * (size_t)g->in_h * (size_t)g->in_w;
    const size_t y_img = (size_t)g->out_c * (size_t)p;
    const int direct = is_pointwise(g);

    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * x_img;
        float *yi = y + (size_t)i * y_img;
        const float *col = xi;
        if (!direct) {
            cnn_k_im2col(g, xi, scratch);
            col = scratch;
        }
        cnn_k_gemm(0, 0, g->out_c, p, kk, 1.0f, w, kk, col, p, 0.0f, yi, p);
        if (b) /* while Y_n is still in cache */
            cnn_k_bias_add(1, g->out_c, (size_t)p, b, yi);
    }
}
