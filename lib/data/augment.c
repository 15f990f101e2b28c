/* On-the-fly augmentation: random affine maps and elastic distortion.
 *
 * Stateless randomness.  Example i's transform in pass p comes from a
 * generator seeded from (seed, p, i) alone, so a batch's images do not
 * depend on which examples were read before, on thread count, or on
 * whether training was resumed from a checkpoint.
 *
 * Memory.  A dataset is shared read-only by any number of threads, so the
 * view keeps no scratch.  The affine path needs none: the kernel samples
 * the stored bytes directly, with expand's 1-pixel shift folded into the
 * map as a translation plus a window of valid source pixels.  The elastic
 * path needs its displacement field (2*h*w floats); gather cannot fail, so
 * rather than allocate per call it lives on the stack, and
 * cnn_dataset_augment refuses elastic distortion for images wider or
 * higher than CNN_AUGMENT_MAX_ELASTIC_SIDE (64: 32 KiB of field), which
 * covers MNIST (28) and CIFAR (32). */
#include "dataset.h"

#include <math.h>
#include <string.h>

#include "kernels/kernels.h"

#define PI 3.14159265358979323846
#define SIDE CNN_AUGMENT_MAX_ELASTIC_SIDE
#define MAX_RADIUS (3 * SIDE) /* ceil(3 sigma) for the largest sigma */

cnn_status cnn_augment_params_init_sized(cnn_augment_params *p, size_t struct_size)
{
    cnn_augment_params d;
    memset(&d, 0, sizeof d);
    d.probability = 1.0f;
    d.scale_min = d.scale_max = 1.0f;
    d.elastic_sigma = 4.0f;
    return cnn_params_copy_out("cnn_augment_params_init", p, struct_size, &d, sizeof d, sizeof d);
}

/* Checks one [min, max] range; `lo`/`hi` bound both ends (inclusive), and
 * `open` makes the bounds exclusive. */
static cnn_status check_range(const char *name, float min, float max, double lo, double hi,
                              bool open, double out[2])
{
    if (!isfinite(min) || !isfinite(max))
        return cnn_fail(CNN_EINVAL, "dataset_augment: %s range [%g, %g] is not finite", name,
                        (double)min, (double)max);
    if (min > max)
        return cnn_fail(CNN_EINVAL, "dataset_augment: %s range [%g, %g] has min > max", name,
                        (double)min, (double)max);
    bool bad = open ? !(min > lo && max < hi) : !(min >= lo && max <= hi);
    if (bad)
        return cnn_fail(CNN_EINVAL, "dataset_augment: %s range [%g, %g] is outside %s%g, %g%s",
                        name, (double)min, (double)max, open ? "(" : "[", lo, hi,
                        open ? ")" : "]");
    out[0] = min;
    out[1] = max;
    return CNN_OK;
}

cnn_status cnn_aug_configure(const cnn_augment_params *p, int32_t h, int32_t w, cnn_aug_cfg *cfg)
{
    if (p->struct_size < sizeof *p)
        return cnn_fail(CNN_EINVAL, "dataset_augment: struct_size %u, expected %zu (use "
                        "cnn_augment_params_init)", (unsigned)p->struct_size, sizeof *p);
    memset(cfg, 0, sizeof *cfg);
    const double big = 1e6; /* far beyond any image: the result is just zeros */
    double prob[2] = {0, 0}, alpha[2] = {0, 0}, sigma[2] = {0, 0};
    cnn_status st;
    if ((st = check_range("probability", p->probability, p->probability, 0, 1, false, prob)) ||
        (st = check_range("rotate", p->rotate_min, p->rotate_max, -big, big, false, cfg->rotate)) ||
        (st = check_range("scale", p->scale_min, p->scale_max, 0, big, true, cfg->scale)) ||
        (st = check_range("shift_x", p->shift_x_min, p->shift_x_max, -big, big, false,
                          cfg->shift_x)) ||
        (st = check_range("shift_y", p->shift_y_min, p->shift_y_max, -big, big, false,
                          cfg->shift_y)) ||
        (st = check_range("shear", p->shear_min, p->shear_max, -90, 90, true, cfg->shear)) ||
        (st = check_range("elastic_alpha", p->elastic_alpha, p->elastic_alpha, 0, big, false,
                          alpha)) ||
        (st = check_range("elastic_sigma", p->elastic_sigma, p->elastic_sigma, 0, SIDE, false,
                          sigma)))
        return st;
    if (alpha[0] > 0 && (h > SIDE || w > SIDE))
        return cnn_fail(CNN_EINVAL, "dataset_augment: elastic distortion needs images of at most "
                        "%dx%d, not %dx%d", SIDE, SIDE, (int)h, (int)w);
    cfg->probability = prob[0];
    cfg->alpha = (float)alpha[0];
    cfg->sigma = (float)sigma[0];
    cfg->seed = p->seed;
    return CNN_OK;
}

/* sin and cos of an angle in degrees, exact at multiples of 90: the angle
 * is reduced to [-45, 45] and the quadrant applied by swapping signs. */
static void sincos_deg(double deg, double *s, double *c)
{
    double q = nearbyint(deg / 90.0);
    double r = (deg - 90.0 * q) * (PI / 180.0);
    double rs = sin(r), rc = cos(r);
    int k = (int)fmod(q, 4.0);
    if (k < 0)
        k += 4;
    switch (k) {
    case 0: *s = rs;  *c = rc;  break;
    case 1: *s = rc;  *c = -rs; break;
    case 2: *s = -rs; *c = -rc; break;
    default: *s = -rc; *c = rs; break;
    }
}

static double draw(cnn_rng *rng, const double range[2])
{
    /* Always one draw, so the stream's layout does not depend on which
     * ranges are fixed; min == max gives min exactly. */
    double u = cnn_rng_uniform_double(rng);
    return range[0] + (range[1] - range[0]) * u;
}

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The elastic displacement (dx, dy) for one example, h, w <= SIDE. */
static void elastic_field(const cnn_aug_cfg *cfg, cnn_rng *rng, int h, int w, float *dx, float *dy)
{
    const int n = h * w;
    for (int i = 0; i < n; i++)
        dx[i] = 2.0f * cnn_rng_uniform(rng) - 1.0f;
    for (int i = 0; i < n; i++)
        dy[i] = 2.0f * cnn_rng_uniform(rng) - 1.0f;
    float taps[2 * MAX_RADIUS + 1], tmp[SIDE];
    int r = cnn_k_gauss_taps(cfg->sigma, MAX_RADIUS, taps);
    cnn_k_blur_sep(dx, h, w, taps, r, tmp);
    cnn_k_blur_sep(dy, h, w, taps, r, tmp);
    for (int i = 0; i < n; i++) {
        dx[i] *= cfg->alpha;
        dy[i] *= cfg->alpha;
    }
}

static void warp_planes(const uint8_t *img, int32_t c, int32_t h, int32_t w, const int win[4],
                        const float m[6], const float *dx, const float *dy, float *out)
{
    const int64_t plane = (int64_t)h * w;
    for (int32_t ch = 0; ch < c; ch++)
        cnn_k_warp_bilinear_u8(img + ch * plane, h, w, win, m, dx, dy, 1.0f / 256.0f,
                               out + ch * plane);
}

/* The field's 32 KiB of stack only on this path (kept out of line so that
 * affine-only reads do not reserve it). */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void warp_elastic(const cnn_aug_cfg *cfg, cnn_rng *rng, const uint8_t *img, int32_t c,
                         int32_t h, int32_t w, const int win[4], const float m[6], float *out)
{
    float field[2][SIDE * SIDE];
    elastic_field(cfg, rng, h, w, field[0], field[1]);
    warp_planes(img, c, h, w, win, m, field[0], field[1], out);
}

bool cnn_aug_example(const cnn_aug_cfg *cfg, uint64_t pass, int64_t key, const uint8_t *img,
                     int xf, int32_t c, int32_t h, int32_t w, float *out)
{
    cnn_rng rng;
    cnn_rng_seed_stream(&rng, mix64(cfg->seed ^ mix64(pass + 0x9e3779b97f4a7c15ull)),
                        (uint64_t)key);
    if (!(cnn_rng_uniform_double(&rng) < cfg->probability))
        return false;
    double rot = draw(&rng, cfg->rotate), scale = draw(&rng, cfg->scale);
    double tx = draw(&rng, cfg->shift_x), ty = draw(&rng, cfg->shift_y);
    double shear = draw(&rng, cfg->shear);

    /* A = R(rot) * [[1, t], [0, 1]] * scale; source = c + A^-1 (q - c - shift). */
    double s, co, t = tan(shear * (PI / 180.0));
    sincos_deg(rot, &s, &co);
    double a00 = co * scale, a01 = (co * t + s) * scale;
    double a10 = -s * scale, a11 = (co - s * t) * scale;
    double det = a00 * a11 - a01 * a10; /* = scale^2 > 0 */
    double i00 = a11 / det, i01 = -a01 / det, i10 = -a10 / det, i11 = a00 / det;
    double cx = (w - 1) * 0.5, cy = (h - 1) * 0.5;
    double m2 = cx - i00 * (cx + tx) - i01 * (cy + ty);
    double m5 = cy - i10 * (cx + tx) - i11 * (cy + ty);

    /* Expand's 1-pixel shift: sampling the shifted image is sampling the
     * stored one one pixel over, minus the row or column shifted out. */
    int win[4] = {0, h, 0, w};
    switch (xf) {
    case CNN_XFORM_DOWN:  m5 -= 1.0; win[1] = h - 1; break;
    case CNN_XFORM_UP:    m5 += 1.0; win[0] = 1;     break;
    case CNN_XFORM_RIGHT: m2 -= 1.0; win[3] = w - 1; break;
    case CNN_XFORM_LEFT:  m2 += 1.0; win[2] = 1;     break;
    default: break;
    }
    const float m[6] = {(float)i00, (float)i01, (float)m2, (float)i10, (float)i11, (float)m5};
    if (cfg->alpha > 0.0f)
        warp_elastic(cfg, &rng, img, c, h, w, win, m, out);
    else
        warp_planes(img, c, h, w, win, m, NULL, NULL, out);
    return true;
}
