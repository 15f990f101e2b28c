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
