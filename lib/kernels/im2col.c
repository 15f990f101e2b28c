/* Unfolding of image patches into columns (and back) so that a convolution
 * becomes one matrix product.  The loops are organised row by row of the col
 * matrix: for a fixed (c, i, j) and output row oy, the valid output columns
 * form one contiguous range [ox_lo, ox_hi), so the inner loop is a plain
 * strided copy with no bounds test per element.  The _ld forms write one
 * image's columns into a wider matrix (the batched convolution's K x N*P). */
#include "kernels/kernels.h"

#include <string.h>

size_t cnn_k_im2col_rows(const cnn_conv_geom *g)
{
    return (size_t)g->in_c * (size_t)g->k_h * (size_t)g->k_w;
}

size_t cnn_k_im2col_cols(const cnn_conv_geom *g)
{
    return (size_t)g->out_h * (size_t)g->out_w;
}

/* The output columns ox with 0 <= ox*stride + off < in_w, i.e. the ones whose
 * input column lies inside the image, as the half-open range [*lo, *hi). */
static void valid_range(int off, int stride, int in_w, int out_w, int *lo, int *hi)
{
    /* smallest ox with ox*stride + off >= 0 */
    int l = off >= 0 ? 0 : (-off + stride - 1) / stride;
    /* smallest ox with ox*stride + off >= in_w */
    int h = in_w - off <= 0 ? 0 : (in_w - off + stride - 1) / stride;
    if (l > out_w)
        l = out_w;
    if (h > out_w)
        h = out_w;
    if (h < l)
        h = l;
    *lo = l;
    *hi = h;
}

/* Stride 1, no padding (every convolution of the chapter-6 nets): each
 * output row oy of col row (c, i, j) is the out_w floats of input row oy+i
 * starting at column j, with no zeros to write.  The generic loop below paid
 * about 3 ns per row for its run-time trip count and range setup; here the
 * row copy has a compile-time width W for the common widths (8: conv 2 of
 * W2/W3, 24: conv 1), which gcc turns into a few vector moves. */
static int plain_geom(const cnn_conv_geom *g)
{
    return g->stride_h == 1 && g->stride_w == 1 && g->pad_h == 0 && g->pad_w == 0;
}

#define DEF_IM2COL_PLAIN(W)                                                              \
    static void im2col_plain_##W(const cnn_conv_geom *g, const float *restrict x,        \
                                 float *restrict col, size_t ldc)                       \
    {                                                                                    \
        const size_t in_w = (size_t)g->in_w, plane = (size_t)g->in_h * in_w;             \
        for (int c = 0; c < g->in_c; c++)                                                \
            for (int i = 0; i < g->k_h; i++)                                             \
                for (int j = 0; j < g->k_w; j++, col += ldc) {                           \
                    const float *src = x + (size_t)c * plane + (size_t)i * in_w + (size_t)j; \
                    float *dst = col;                                                    \
                    for (int oy = 0; oy < g->out_h; oy++, src += in_w, dst += (W))       \
                        memcpy(dst, src, (W) * sizeof(float));                           \
                }                                                                        \
    }                                                                                    \
    static void col2im_plain_##W(const cnn_conv_geom *g, const float *restrict col,      \
                                 float *restrict dx, size_t ldc)                        \
    {                                                                                    \
        const size_t in_w = (size_t)g->in_w, plane = (size_t)g->in_h * in_w;             \
        for (int c = 0; c < g->in_c; c++)                                                \
            for (int i = 0; i < g->k_h; i++)                                             \
                for (int j = 0; j < g->k_w; j++, col += ldc) {                           \
                    float *dst = dx + (size_t)c * plane + (size_t)i * in_w + (size_t)j;  \
                    const float *src = col;                                              \
                    for (int oy = 0; oy < g->out_h; oy++, dst += in_w, src += (W))       \
                        for (int ox = 0; ox < (W); ox++)                                 \
                            dst[ox] += src[ox];                                          \
                }                                                                        \
    }

DEF_IM2COL_PLAIN(8)
DEF_IM2COL_PLAIN(24)

/* col[(c*k_h+i)*k_w+j][oy*out_w+ox] = x[c][oy*s_h+i-p_h][ox*s_w+j-p_w], 0 outside;
 * col rows are ldc floats apart (ldc >= out_h*out_w). */
CNN_KEEP_LOOPS void cnn_k_im2col_ld(const cnn_conv_geom *g, const float *restrict x, float *restrict col,
                     size_t ldc)
{
    if (plain_geom(g) && g->out_w == 8) {
        im2col_plain_8(g, x, col, ldc);
        return;
    }
    if (plain_geom(g) && g->out_w == 24) {
        im2col_plain_24(g, x, col, ldc);
        return;
    }
    const int out_w = g->out_w, sw = g->stride_w;
    const size_t plane = (size_t)g->in_h * (size_t)g->in_w;
    for (int c = 0; c < g->in_c; c++) {
        const float *xc = x + (size_t)c * plane;
        for (int i = 0; i < g->k_h; i++) {
            for (int j = 0; j < g->k_w; j++) {
                const int off_w = j - g->pad_w;
                int lo, hi;
                valid_range(off_w, sw, g->in_w, out_w, &lo, &hi);
                for (int oy = 0; oy < g->out_h; oy++) {
                    const int iy = oy * g->stride_h + i - g->pad_h;
                    float *dst = col + (size_t)oy * (size_t)out_w;
                    if (iy < 0 || iy >= g->in_h) {
                        memset(dst, 0, (size_t)out_w * sizeof *dst);
                        continue;
                    }
                    /* input column of ox is ox*sw + off_w: kept as an index, since
                     * a pointer to row - pad would point outside the array */
                    const float *src = xc + (size_t)iy * (size_t)g->in_w;
                    for (int ox = 0; ox < lo; ox++)
                        dst[ox] = 0.0f;
                    if (sw == 1) {
                        for (int ox = lo; ox < hi; ox++)
                            dst[ox] = src[ox + off_w];
                    } else {
                        for (int ox = lo; ox < hi; ox++)
                            dst[ox] = src[ox * sw + off_w];
                    }
                    for (int ox = hi; ox < out_w; ox++)
                        dst[ox] = 0.0f;
                }
                col += ldc;
            }
        }
    }
}

void cnn_k_im2col(const cnn_conv_geom *g, const float *x, float *col)
{
    cnn_k_im2col_ld(g, x, col, cnn_k_im2col_cols(g));
}

/* dx[c][oy*s_h+i-p_h][ox*s_w+j-p_w] += col[(c*k_h+i)*k_w+j][oy*out_w+ox] (inside only);
 * col rows are ldc floats apart. */
void cnn_k_col2im_ld(const cnn_conv_geom *g, const float *restrict col, float *restrict dx,
                     size_t ldc)
{
    if (plain_geom(g) && g->out_w == 8) {
        col2im_plain_8(g, col, dx, ldc);
        return;
    }
    if (plain_geom(g) && g->out_w == 24) {
        col2im_plain_24(g, col, dx, ldc);
        return;
    }
    const int out_w = g->out_w, sw = g->stride_w;
    const size_t plane = (size_t)g->in_h * (size_t)g->in_w;
    for (int c = 0; c < g->in_c; c++) {
        float *dxc = dx + (size_t)c * plane;
        for (int i = 0; i < g->k_h; i++) {
            for (int j = 0; j < g->k_w; j++) {
                const int off_w = j - g->pad_w;
                int lo, hi;
                valid_range(off_w, sw, g->in_w, out_w, &lo, &hi);
                for (int oy = 0; oy < g->out_h; oy++) {
                    const int iy = oy * g->stride_h + i - g->pad_h;
                    if (iy < 0 || iy >= g->in_h)
                        continue;
                    const float *src = col + (size_t)oy * (size_t)out_w;
                    float *dst = dxc + (size_t)iy * (size_t)g->in_w;
                    if (sw == 1) {
                        for (int ox = lo; ox < hi; ox++)
                            dst[ox + off_w] += src[ox];
                    } else {
                        for (int ox = lo; ox < hi; ox++)
                            dst[ox * sw + off_w] += src[ox];
                    }
                }
                col += ldc;
            }
        }
    }
}

void cnn_k_col2im(const cnn_conv_geom *g, const float *col, float *dx)
{
    cnn_k_col2im_ld(g, col, dx, cnn_k_im2col_cols(g));
}
