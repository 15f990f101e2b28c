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

/* gcc turns the short stride-1 row copies below back into memcpy calls,
 * whose call overhead dominated for rows of 8 to 24 floats: keep the loops. */
#if defined(__GNUC__) && !defined(__clang__)
#  define CNN_KEEP_LOOPS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#  define CNN_KEEP_LOOPS
#endif

/* col[(c*k_h+i)*k_w+j][oy*out_w+ox] = x[c][oy*s_h+i-p_h][ox*s_w+j-p_w], 0 outside;
 * col rows are ldc floats apart (ldc >= out_h*out_w). */
CNN_KEEP_LOOPS void cnn_k_im2col_ld(const cnn_conv_geom *g, const float *restrict x, float *restrict col,
                     size_t ldc)
{
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
