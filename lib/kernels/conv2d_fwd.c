/* Convolution forward as im2col + GEMM over a chunk of images at a time:
 * for a chunk of nc images,
 *   Y_c (out_c x nc*P) = W (out_c x K) * col_c (K x nc*P),
 * K = in_c*k_h*k_w, P = out_h*out_w, image i of the chunk owning columns
 * [i*P, (i+1)*P).  One GEMM per chunk instead of one per image: the small
 * per-image products (out_c of 20 or 40) spent much of their time in BLAS
 * call and packing overhead.  Y_c is then copied into NCHW order with the
 * bias added on the way (rows of P contiguous floats, a cheap pass).
 * Chunks are sized so the scratch (col_c and Y_c) stays near
 * CNN_K_CONV_CHUNK_FLOATS, which keeps it cache-resident at training batch
 * sizes and bounded at large inference batches. */
#include "kernels/kernels.h"

#include <string.h>

/* This file is the im2col + BLAS path, which now runs only the pointwise
 * (1x1) convolutions, where im2col is the identity and the product is a
 * plain GEMM, the BLAS's strength; every other shape runs libcnn's own
 * kernels (conv2d_direct.c).  Both paths are public to the tests, which
 * check each against the same reference on every shape.
 *
 * Target scratch per chunk, in floats (128 KiB).  Measured on the MNIST
 * nets (Zen, OpenBLAS 0.3.21, CPU time per image, best of 4-5 interleaved
 * runs), W2 training at batch 10: chunks of 32K floats 4419 img/s, 64K 4351,
 * 256K 3907, 1M 3779: the GEMMs gain nothing from wider matrices here and
 * lose once col_c leaves L1/L2.  With this target both W2 convolutions run
 * one image per chunk (see the nc == 1 shortcuts); layers with small images
 * still get several per GEMM, and the scratch stays bounded at any batch. */
#define CNN_K_CONV_CHUNK_FLOATS ((size_t)32 * 1024)

/* True when im2col is the identity (1x1 kernel, stride 1, no padding): the
 * image itself is then the col matrix and the copy is skipped. */
int cnn_k_conv2d_is_pointwise(const cnn_conv_geom *g)
{
    return g->k_h == 1 && g->k_w == 1 && g->stride_h == 1 && g->stride_w == 1 &&
           g->pad_h == 0 && g->pad_w == 0;
}

/* Images per chunk for a batch of n: as many as fit the target (at least
 * one), then evened out over the chunks so the last one is not a sliver. */
int cnn_k_conv2d_chunk(const cnn_conv_geom *g, int n)
{
    const size_t per = (cnn_k_im2col_rows(g) + (size_t)g->out_c) * cnn_k_im2col_cols(g);
    size_t max = per ? CNN_K_CONV_CHUNK_FLOATS / per : (size_t)n;
    if (max < 1)
        max = 1;
    if (n <= 1 || (size_t)n <= max)
        return n > 1 ? n : 1;
    const size_t chunks = ((size_t)n + max - 1) / max;
    return (int)(((size_t)n + chunks - 1) / chunks);
}

/* col_c (K x nc*P) and Y_c / dY_c (out_c x nc*P) for one chunk. */
size_t cnn_k_conv2d_gemm_scratch_floats(const cnn_conv_geom *g, int n)
{
    const size_t nc = (size_t)cnn_k_conv2d_chunk(g, n);
    return nc * (cnn_k_im2col_rows(g) + (size_t)g->out_c) * cnn_k_im2col_cols(g);
}

/* Enough for whichever path cnn_k_conv2d_fwd and the backward passes take. */
size_t cnn_k_conv2d_scratch_floats(const cnn_conv_geom *g, int n)
{
    const size_t a = cnn_k_conv2d_gemm_scratch_floats(g, n);
    const size_t b = cnn_k_conv2d_direct_scratch_floats(g, n);
    return a > b ? a : b;
}

void cnn_k_conv2d_fwd(const cnn_conv_geom *g, int n, const float *x, const float *w,
                      const float *b, float *y, float *scratch)
{
    if (cnn_k_conv2d_is_pointwise(g))
        cnn_k_conv2d_gemm_fwd(g, n, x, w, b, y, scratch);
    else
        cnn_k_conv2d_direct_fwd(g, n, x, w, b, y, scratch);
}

void cnn_k_conv2d_fwd_each(const cnn_conv_geom *g, int n, const float *x, const float *w,
                           const float *b, float *y, size_t y_step, float *scratch,
                           const cnn_k_image_hook *hook)
{
    if (!cnn_k_conv2d_is_pointwise(g)) {
        cnn_k_conv2d_direct_fwd_each(g, n, x, w, b, y, y_step, scratch,
                                     cnn_k_conv2d_direct_fwd_by_channels(g), hook);
        return;
    }
    /* Pointwise: one GEMM per image already, so image by image costs nothing. */
    const size_t x_img = (size_t)g->in_c * g->in_h * g->in_w;
    for (int i = 0; i < n; i++) {
        float *yi = y + i * y_step;
        cnn_k_conv2d_gemm_fwd(g, 1, x + i * x_img, w, b, yi, scratch);
        if (hook)
            hook->done(hook->ctx, i, yi);
    }
}

/* y[n][o] = sum_{c,i,j} w[o][c][i][j] * x[n][c][oy*s_h+i-p_h][ox*s_w+j-p_w] + b[o]. */
void cnn_k_conv2d_gemm_fwd(const cnn_conv_geom *g, int n, const float *x, const float *w,
                           const float *b, float *y, float *scratch)
{
    const int kk = (int)cnn_k_im2col_rows(g);
    const size_t p = cnn_k_im2col_cols(g);
    const size_t x_img = (size_t)g->in_c * (size_t)g->in_h * (size_t)g->in_w;
    const size_t y_img = (size_t)g->out_c * p;

    if (cnn_k_conv2d_is_pointwise(g)) {
        /* The image is its own col matrix: one GEMM per image straight into y. */
        for (int i = 0; i < n; i++) {
            float *yi = y + (size_t)i * y_img;
            cnn_k_gemm(0, 0, g->out_c, (int)p, kk, 1.0f, w, kk, x + (size_t)i * x_img, (int)p,
                       0.0f, yi, (int)p);
            if (b)
                cnn_k_bias_add(1, g->out_c, p, b, yi);
        }
        return;
    }
    const int chunk = cnn_k_conv2d_chunk(g, n);
    for (int i0 = 0; i0 < n; i0 += chunk) {
        const int nc = n - i0 < chunk ? n - i0 : chunk;
        const size_t ld = (size_t)nc * p;
        float *col = scratch, *yc = scratch + (size_t)kk * ld;
        float *yi = y + (size_t)i0 * y_img;
        for (int i = 0; i < nc; i++)
            cnn_k_im2col_ld(g, x + (size_t)(i0 + i) * x_img, col + (size_t)i * p, ld);
        if (nc == 1) {
            /* one image: the chunk layout is its NCHW block, no copy needed */
            cnn_k_gemm(0, 0, g->out_c, (int)ld, kk, 1.0f, w, kk, col, (int)ld, 0.0f, yi, (int)ld);
            if (b)
                cnn_k_bias_add(1, g->out_c, p, b, yi);
            continue;
        }
        cnn_k_gemm(0, 0, g->out_c, (int)ld, kk, 1.0f, w, kk, col, (int)ld, 0.0f, yc, (int)ld);
        cnn_k_conv2d_unchunk(g, nc, yc, b, yi);
    }
}

/* y[i][o][p] = yc[o][i*P + p] (+ b[o]): chunk layout back to NCHW. */
void cnn_k_conv2d_unchunk(const cnn_conv_geom *g, int nc, const float *restrict yc,
                          const float *restrict b, float *restrict y)
{
    const size_t p = cnn_k_im2col_cols(g), ld = (size_t)nc * p;
    for (int i = 0; i < nc; i++) {
        for (int o = 0; o < g->out_c; o++) {
            const float *src = yc + (size_t)o * ld + (size_t)i * p;
            float *dst = y + ((size_t)i * (size_t)g->out_c + (size_t)o) * p;
            const float bo = b ? b[o] : 0.0f;
            for (size_t k = 0; k < p; k++)
                dst[k] = src[k] + bo;
        }
    }
}

/* yc[o][i*P + p] = y[i][o][p]: NCHW into the chunk layout (for dY). */
void cnn_k_conv2d_tochunk(const cnn_conv_geom *g, int nc, const float *restrict y,
                          float *restrict yc)
{
    const size_t p = cnn_k_im2col_cols(g), ld = (size_t)nc * p;
    for (int i = 0; i < nc; i++)
        for (int o = 0; o < g->out_c; o++)
            memcpy(yc + (size_t)o * ld + (size_t)i * p,
                   y + ((size_t)i * (size_t)g->out_c + (size_t)o) * p, p * sizeof *yc);
}
