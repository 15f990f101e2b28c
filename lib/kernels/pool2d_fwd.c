/* Pooling forward.  Each mode has its own loop nest (the switch sits outside
 * the loops), windows may overlap (stride < window) and windows that would
 * run past the edge do not exist (out = (in - win) / stride + 1). */
#include "kernels/kernels.h"

#include <math.h>

/* MAX: y = max of the window; argmax = iy*in_w+ix of its first maximum
 * (row-major scan, strict '>' so ties keep the earliest). */
static void pool_max(const cnn_pool_geom *g, size_t planes, const float *x, float *y,
                     int32_t *argmax)
{
    const size_t in_plane = (size_t)g->in_h * (size_t)g->in_w;
    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * in_plane;
        for (int oy = 0; oy < g->out_h; oy++) {
            for (int ox = 0; ox < g->out_w; ox++) {
                const int y0 = oy * g->stride_h, x0 = ox * g->stride_w;
                int best_idx = y0 * g->in_w + x0;
                float best = xp[best_idx];
                for (int i = 0; i < g->win_h; i++) {
                    const int row = (y0 + i) * g->in_w;
                    for (int j = 0; j < g->win_w; j++) {
                        const float v = xp[row + x0 + j];
                        if (v > best) {
                            best = v;
                            best_idx = row + x0 + j;
                        }
                    }
                }
                *y++ = best;
                if (argmax)
                    *argmax++ = (int32_t)best_idx;
            }
        }
    }
}

/* MAX with a 2x2 window at stride 2 (every MNIST net): the same result and
 * tie rule as pool_max, written as straight-line compares that gcc turns
 * into selects, with no inner window loops. */
static void pool_max_2x2(const cnn_pool_geom *g, size_t planes, const float *restrict x,
                         float *restrict y, int32_t *restrict argmax)
{
    const int in_w = g->in_w, out_h = g->out_h, out_w = g->out_w;
    const size_t in_plane = (size_t)g->in_h * (size_t)in_w;
    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * in_plane;
        for (int oy = 0; oy < out_h; oy++) {
            const int row0 = 2 * oy * in_w;
            const float *r0 = xp + row0, *r1 = r0 + in_w;
            for (int ox = 0; ox < out_w; ox++) {
                const float a = r0[2 * ox], b = r0[2 * ox + 1];
                const float c = r1[2 * ox], d = r1[2 * ox + 1];
                const int base = row0 + 2 * ox;
                float m = a;
                int idx = base;
                if (b > m) {
                    m = b;
                    idx = base + 1;
                }
                if (c > m) {
                    m = c;
                    idx = base + in_w;
                }
                if (d > m) {
                    m = d;
                    idx = base + in_w + 1;
                }
                y[ox] = m;
                if (argmax)
                    argmax[ox] = (int32_t)idx;
            }
            y += out_w;
            if (argmax)
                argmax += out_w;
        }
    }
}

/* AVG: y = (sum of the window) / (win_h*win_w).  L2: y = sqrt(sum of squares). */
static void pool_sum(const cnn_pool_geom *g, int l2, size_t planes, const float *x, float *y)
{
    const size_t in_plane = (size_t)g->in_h * (size_t)g->in_w;
    const float inv_area = 1.0f / (float)(g->win_h * g->win_w);
    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * in_plane;
        for (int oy = 0; oy < g->out_h; oy++) {
            for (int ox = 0; ox < g->out_w; ox++) {
                const float *w0 = xp + (size_t)(oy * g->stride_h) * (size_t)g->in_w +
                                  (size_t)(ox * g->stride_w);
                float s = 0.0f;
                for (int i = 0; i < g->win_h; i++) {
                    const float *row = w0 + (size_t)i * (size_t)g->in_w;
                    if (l2) {
                        for (int j = 0; j < g->win_w; j++)
                            s += row[j] * row[j];
                    } else {
                        for (int j = 0; j < g->win_w; j++)
                            s += row[j];
                    }
                }
                *y++ = l2 ? sqrtf(s) : s * inv_area;
            }
        }
    }
}

/* y[n][c][oy][ox] = pool over x[n][c][oy*s_h .. +win_h)[ox*s_w .. +win_w). */
void cnn_k_pool2d_fwd(const cnn_pool_geom *g, int mode, int n, const float *x, float *y,
                      int32_t *argmax)
{
    const size_t planes = (size_t)n * (size_t)g->c;
    switch (mode) {
    case CNN_K_POOL_MAX:
        if (g->win_h == 2 && g->win_w == 2 && g->stride_h == 2 && g->stride_w == 2)
            pool_max_2x2(g, planes, x, y, argmax);
        else
            pool_max(g, planes, x, y, argmax);
        break;
    case CNN_K_POOL_AVG:
        pool_sum(g, 0, planes, x, y);
        break;
    case CNN_K_POOL_L2:
        pool_sum(g, 1, planes, x, y);
        break;
    default:
        break; /* callers validate the mode */
    }
}
