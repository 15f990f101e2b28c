/* Pooling backward.  dx is zeroed and then accumulated into, because
 * overlapping windows (stride < window) send several gradients to one input. */
#include "kernels/kernels.h"

#include <string.h>

/* MAX: dx[argmax] += dy (the forward's first maximum takes all of it). */
static void unpool_max(const cnn_pool_geom *g, size_t planes, const float *dy,
                       const int32_t *argmax, float *dx)
{
    const size_t in_plane = (size_t)g->in_h * (size_t)g->in_w;
    const size_t out_plane = (size_t)g->out_h * (size_t)g->out_w;
    for (size_t pl = 0; pl < planes; pl++) {
        float *dxp = dx + pl * in_plane;
        for (size_t k = 0; k < out_plane; k++)
            dxp[argmax[k]] += dy[k];
        dy += out_plane;
        argmax += out_plane;
    }
}

/* AVG: each window element gets dy / area.
 * L2:  y = sqrt(sum x^2) so dy/dx = x / y; windows with y == 0 give 0. */
static void unpool_sum(const cnn_pool_geom *g, int l2, size_t planes, const float *x,
                       const float *y, const float *dy, float *dx)
{
    const size_t in_plane = (size_t)g->in_h * (size_t)g->in_w;
    const float inv_area = 1.0f / (float)(g->win_h * g->win_w);
    for (size_t pl = 0; pl < planes; pl++) {
        float *dxp = dx + pl * in_plane;
        const float *xp = l2 ? x + pl * in_plane : NULL;
        for (int oy = 0; oy < g->out_h; oy++) {
            for (int ox = 0; ox < g->out_w; ox++) {
                const size_t off = (size_t)(oy * g->stride_h) * (size_t)g->in_w +
                                   (size_t)(ox * g->stride_w);
                float *d0 = dxp + off;
                const float gy = *dy++;
                if (l2) {
                    const float yv = *y++;
                    if (yv == 0.0f)
                        continue; /* every x in the window is 0: gradient 0 */
                    const float f = gy / yv;
                    const float *x0 = xp + off;
                    for (int i = 0; i < g->win_h; i++) {
                        const size_t r = (size_t)i * (size_t)g->in_w;
                        for (int j = 0; j < g->win_w; j++)
                            d0[r + (size_t)j] += f * x0[r + (size_t)j];
                    }
                } else {
                    const float f = gy * inv_area;
                    for (int i = 0; i < g->win_h; i++) {
                        const size_t r = (size_t)i * (size_t)g->in_w;
                        for (int j = 0; j < g->win_w; j++)
                            d0[r + (size_t)j] += f;
                    }
                }
            }
        }
    }
}

/* dx (write) = adjoint of the pooling map applied to dy. */
void cnn_k_pool2d_bwd(const cnn_pool_geom *g, int mode, int n, const float *x, const float *y,
                      const float *dy, const int32_t *argmax, float *dx)
{
    const size_t planes = (size_t)n * (size_t)g->c;
    memset(dx, 0, planes * (size_t)g->in_h * (size_t)g->in_w * sizeof *dx);
    switch (mode) {
    case CNN_K_POOL_MAX:
        unpool_max(g, planes, dy, argmax, dx);
        break;
    case CNN_K_POOL_AVG:
        unpool_sum(g, 0, planes, NULL, NULL, dy, dx);
        break;
    case CNN_K_POOL_L2:
        unpool_sum(g, 1, planes, x, y, dy, dx);
        break;
    default:
        break; /* callers validate the mode */
    }
}
