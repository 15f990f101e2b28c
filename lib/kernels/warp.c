/* Geometric warps for data augmentation: bilinear resampling of a byte
 * image through an affine map (optionally after a per-pixel displacement),
 * and the separable Gaussian that smooths an elastic displacement field.
 * Pure functions: no allocation, no errors; callers give all scratch. */
#include "kernels.h"

#include <math.h>

/* Byte (r, col) of a plane, or 0 outside the window [r0,r1) x [c0,c1). */
static inline float pixel(const uint8_t *src, int w, const int win[4], int r, int col)
{
    if (r < win[0] || r >= win[1] || col < win[2] || col >= win[3])
        return 0.0f;
    return (float)src[r * w + col];
}

void cnn_k_warp_bilinear_u8(const uint8_t *src, int h, int w, const int win[4], const float m[6],
                            const float *dx, const float *dy, float scale, float *out)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const int i = y * w + x;
            float u = (float)x, v = (float)y;
            if (dx) {
                u += dx[i];
                v += dy[i];
            }
            const float sx = m[0] * u + m[1] * v + m[2];
            const float sy = m[3] * u + m[4] * v + m[5];
            /* Written so that NaN, infinities and huge values all land
             * here, before any float-to-int conversion. */
            if (!(sx > -1.0f && sx < (float)w && sy > -1.0f && sy < (float)h)) {
                out[i] = 0.0f;
                continue;
            }
            const float fx = floorf(sx), fy = floorf(sy);
            const int x0 = (int)fx, y0 = (int)fy;
            const float ax = sx - fx, ay = sy - fy;
            /* With ax = ay = 0 this is exactly p00: the other terms are
             * products with 0 and 1 - 0 = 1, so integer positions copy. */
            const float top = (1.0f - ax) * pixel(src, w, win, y0, x0) +
                              ax * pixel(src, w, win, y0, x0 + 1);
            const float bot = (1.0f - ax) * pixel(src, w, win, y0 + 1, x0) +
                              ax * pixel(src, w, win, y0 + 1, x0 + 1);
            out[i] = ((1.0f - ay) * top + ay * bot) * scale;
        }
}

int cnn_k_gauss_taps(float sigma, int max_radius, float *taps)
{
    int radius = (int)ceilf(3.0f * sigma);
    if (radius > max_radius)
        radius = max_radius;
    if (radius <= 0 || !(sigma > 0.0f)) {
        taps[0] = 1.0f;
        return 0;
    }
    double sum = 0.0;
    const double k = -0.5 / ((double)sigma * sigma);
    for (int j = -radius; j <= radius; j++)
        sum += exp(k * j * j);
    for (int j = -radius; j <= radius; j++)
        taps[j + radius] = (float)(exp(k * j * j) / sum);
    return radius;
}

/* out[i] = sum_j taps[j + r] * in[i + j] over 0 <= i + j < n (zero outside). */
static void blur_line(const float *in, int n, const float *taps, int r, float *out, int stride)
{
    for (int i = 0; i < n; i++) {
        int lo = i - r < 0 ? -i : -r;
        int hi = i + r >= n ? n - 1 - i : r;
        float acc = 0.0f;
        for (int j = lo; j <= hi; j++)
            acc += taps[j + r] * in[i + j];
        out[(long)i * stride] = acc;
    }
}

void cnn_k_blur_sep(float *img, int h, int w, const float *taps, int radius, float *tmp)
{
    if (radius == 0)
        return;
    for (int y = 0; y < h; y++) {
        float *row = img + (long)y * w;
        for (int x = 0; x < w; x++)
            tmp[x] = row[x];
        blur_line(tmp, w, taps, radius, row, 1);
    }
    for (int x = 0; x < w; x++) {
        for (int y = 0; y < h; y++)
            tmp[y] = img[(long)y * w + x];
        blur_line(tmp, h, taps, radius, img + x, w);
    }
}
