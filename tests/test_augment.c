/* cnn_dataset_augment: geometry checked on images whose result is known
 * exactly (90-degree rotations, integer and half-pixel shifts, the
 * identity), stateless per-(seed, pass, example) randomness, elastic
 * distortion, bounds, every invalid parameter, view lifetimes, and a
 * training run resumed from a checkpoint ending bit-identical. */
#include "testutil.h"

#include "core.h"
#include "data/dataset.h"
#include "kernels/kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testfs.h"

/* ---- helpers ------------------------------------------------------------- */

typedef struct sample {
    int64_t n;
    int c, h, w;
    uint8_t *px, *lb;
} sample;

/* Random pixels in 1..255 (no zeros, so lost pixels show) and labels. */
static sample make_sample(int64_t n, int c, int h, int w, uint64_t seed)
{
    sample s = {n, c, h, w, malloc((size_t)n * c * h * w), malloc((size_t)n)};
    test_rng r;
    test_rng_seed(&r, seed);
    for (int64_t i = 0; i < n * c * h * w; i++)
        s.px[i] = (uint8_t)(1 + test_rng_uniform(&r) * 255);
    for (int64_t i = 0; i < n; i++)
        s.lb[i] = (uint8_t)(test_rng_uniform(&r) * 10);
    return s;
}

static void free_sample(sample *s)
{
    free(s->px);
    free(s->lb);
}

static cnn_dataset *dataset_of(const sample *s)
{
    cnn_dataset *ds = NULL;
    ck_assert_ok(cnn_dataset_create(s->n, s->c, s->h, s->w, s->px, s->lb, &ds));
    return ds;
}

static cnn_augment_params identity(void)
{
    cnn_augment_params p;
    ck_assert_ok(cnn_augment_params_init(&p));
    return p;
}

static cnn_dataset *augment(const cnn_dataset *ds, const cnn_augment_params *p)
{
    cnn_dataset *out = NULL;
    ck_assert_ok(cnn_dataset_augment(ds, p, &out));
    ck_assert_ptr_nonnull(out);
    return out;
}

/* All examples of ds as floats, read through gather with `pass`. */
static float *read_all(const cnn_dataset *ds, uint64_t pass, int32_t *labels)
{
    int64_t n = cnn_dataset_count(ds), size = cnn_dataset_example_size(ds);
    float *x = malloc((size_t)(n * size) * sizeof *x);
    cnn_dataset_gather(ds, NULL, 0, (int)n, x, labels, pass);
    return x;
}

/* Example `e` of ds (pass 0), as floats, through the public cnn_dataset_get. */
static float *get_one(const cnn_dataset *ds, int64_t e)
{
    float *x = malloc((size_t)cnn_dataset_example_size(ds) * sizeof *x);
    ck_assert_ok(cnn_dataset_get(ds, e, x, NULL));
    return x;
}

/* Bytes of an image read back as floats; asserts every value is byte/256. */
static void to_bytes(const float *x, size_t n, uint8_t *out)
{
    for (size_t k = 0; k < n; k++) {
        float v = x[k] * 256.0f;
        ck_assert_msg(v >= 0 && v <= 255 && v == (float)(int)v, "value %g at %zu", (double)x[k], k);
        out[k] = (uint8_t)v;
    }
}

/* ---- the identity -------------------------------------------------------- */

START_TEST(params_init_is_the_identity)
{
    cnn_augment_params p = identity();
    ck_assert_uint_eq(p.struct_size, sizeof p);
    ck_assert(p.probability == 1.0f);
    ck_assert(p.rotate_min == 0.0f && p.rotate_max == 0.0f);
    ck_assert(p.scale_min == 1.0f && p.scale_max == 1.0f);
    ck_assert(p.shift_x_min == 0.0f && p.shift_x_max == 0.0f);
    ck_assert(p.shift_y_min == 0.0f && p.shift_y_max == 0.0f);
    ck_assert(p.shear_min == 0.0f && p.shear_max == 0.0f);
    ck_assert(p.elastic_alpha == 0.0f && p.elastic_sigma == 4.0f);
    ck_assert_uint_eq(p.seed, 0);
    ck_assert_status(cnn_augment_params_init(NULL), CNN_EINVAL);
}
END_TEST

/* The identity (and elastic with alpha = 0) reproduces the source bit for
 * bit, on a plain dataset and on an expansion (whose shifts the augmenter
 * folds into its sampling), in every pass. */
START_TEST(identity_is_bit_exact)
{
    sample s = make_sample(6, 2, 7, 9, 1);
    cnn_dataset *ds = dataset_of(&s), *ex = NULL;
    ck_assert_ok(cnn_dataset_expand(ds, 3, &ex));
    for (int variant = 0; variant < 2; variant++) {
        cnn_augment_params p = identity();
        p.seed = 99;
        if (variant == 1)
            p.elastic_alpha = 0.0f, p.elastic_sigma = 2.5f;
        const cnn_dataset *srcs[2] = {ds, ex};
        for (int k = 0; k < 2; k++) {
            cnn_dataset *au = augment(srcs[k], &p);
            int64_t n = cnn_dataset_count(au), size = cnn_dataset_example_size(au);
            ck_assert_int_eq(n, cnn_dataset_count(srcs[k]));
            float *want = read_all(srcs[k], 0, NULL);
            for (uint64_t pass = 0; pass < 3; pass++) {
                float *got = read_all(au, pass, NULL);
                ck_assert(memcmp(got, want, (size_t)(n * size) * sizeof *got) == 0);
                free(got);
            }
            float *one = get_one(au, n - 1);
            ck_assert(memcmp(one, want + (n - 1) * size, (size_t)size * sizeof *one) == 0);
            free(one);
            free(want);
            cnn_dataset_destroy(au);
        }
    }
    cnn_dataset_destroy(ex);
    cnn_dataset_destroy(ds);
    free_sample(&s);
}
END_TEST

/* Probability 0 never transforms, whatever the ranges. */
START_TEST(probability_zero_is_the_identity)
{
    sample s = make_sample(10, 1, 8, 8, 2);
    cnn_dataset *ds = dataset_of(&s);
    cnn_augment_params p = identity();
    p.probability = 0.0f;
    p.rotate_min = -30, p.rotate_max = 30, p.elastic_alpha = 5;
    cnn_dataset *au = augment(ds, &p);
    float *want = read_all(ds, 0, NULL), *got = read_all(au, 7, NULL);
    ck_assert(memcmp(got, want, 10 * 64 * sizeof *got) == 0);
    free(want);
    free(got);
    cnn_dataset_destroy(au);
    cnn_dataset_destroy(ds);
    free_sample(&s);
}
END_TEST

/* With probability 0.5, some examples are transformed and some are not. */
START_TEST(probability_half_mixes)
{
    sample s = make_sample(64, 1, 6, 6, 3);
    cnn_dataset *ds = dataset_of(&s);
    cnn_augment_params p = identity();
    p.probability = 0.5f;
    p.shift_x_min = p.shift_x_max = 1.0f;
    cnn_dataset *au = augment(ds, &p);
    float *want = read_all(ds, 0, NULL), *got = read_all(au, 1, NULL);
    int same = 0;
    for (int e = 0; e < 64; e++)
        same += memcmp(got + e * 36, want + e * 36, 36 * sizeof *got) == 0;
    ck_assert_int_gt(same, 10);
    ck_assert_int_lt(same, 54);
    free(want);
    free(got);
    cnn_dataset_destroy(au);
    cnn_dataset_destroy(ds);
    free_sample(&s);
}
END_TEST

/* ---- exact geometry ------------------------------------------------------ */

/* out[i][j] of a square n x n plane rotated by quarter turns q
 * counterclockwise (numpy's rot90(a, q)). */
static uint8_t rot90_at(const uint8_t *in, int n, int q, int i, int j)
{
    switch (((q % 4) + 4) % 4) {
    case 0: return in[i * n + j];
    case 1: return in[j * n + (n - 1 - i)];
    case 2: return in[(n - 1 - i) * n + (n - 1 - j)];
    default: return in[(n - 1 - j) * n + i];
    }
}

START_TEST(explicit_rotation_of_one_image)
{
    /* Hand-written answer for 90 degrees, so rot90_at is checked too: the
     * right column (3, 6, 9) moves to the top row. */
    const uint8_t img[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, lb[1] = {0};
    const uint8_t want[9] = {3, 6, 9, 2, 5, 8, 1, 4, 7};
    uint8_t ref[9], got[9];
    for (int k = 0; k < 9; k++)
        ref[k] = rot90_at(img, 3, 1, k / 3, k % 3);
    ck_assert_mem_eq(ref, want, 9);
    cnn_dataset *ds = NULL;
    ck_assert_ok(cnn_dataset_create(1, 1, 3, 3, img, lb, &ds));
    cnn_augment_params p = identity();
    p.rotate_min = p.rotate_max = 90.0f;
    cnn_dataset *au = augment(ds, &p);
    float x[9];
    ck_assert_ok(cnn_dataset_get(au, 0, x, NULL));
    to_bytes(x, 9, got);
    ck_assert_mem_eq(got, want, 9);
    cnn_dataset_destroy(au);
    cnn_dataset_destroy(ds);
}
END_TEST

/* Rotations by multiples of 90 degrees (-270 .. 450) of asymmetric images
 * of odd and even sides and two channels are exact permutations. */
START_TEST(quarter_turns_are_exact)
{
    const int sides[2] = {5, 6};
    for (int si = 0; si < 2; si++) {
        int n = sides[si];
        sample s = make_sample(4, 2, n, n, 10 + (uint64_t)n);
        cnn_dataset *ds = dataset_of(&s);
        for (int q = -3; q <= 5; q++) {
            cnn_augment_params p = identity();
            p.rotate_min = p.rotate_max = 90.0f * (float)q;
            p.seed = (uint64_t)q;
            cnn_dataset *au = augment(ds, &p);
            float *got = read_all(au, (uint64_t)(q + 3), NULL);
            uint8_t *bytes = malloc((size_t)(4 * 2 * n * n));
            to_bytes(got, (size_t)(4 * 2 * n * n), bytes);
            for (int e = 0; e < 4; e++)
                for (int ch = 0; ch < 2; ch++) {
                    const uint8_t *in = s.px + (e * 2 + ch) * n * n;
                    const uint8_t *out = bytes + (e * 2 + ch) * n * n;
                    for (int i = 0; i < n; i++)
                        for (int j = 0; j < n; j++)
                            ck_assert_msg(out[i * n + j] == rot90_at(in, n, q, i, j),
                                          "n %d q %d example %d channel %d at (%d, %d)", n, q,
                                          e, ch, i, j);
                }
            free(bytes);
            free(got);
            cnn_dataset_destroy(au);
        }
        cnn_dataset_destroy(ds);
        free_sample(&s);
    }
}
END_TEST

/* A pure integer shift moves every pixel and zero-fills the vacated edge. */
START_TEST(integer_shift_is_exact)
{
    sample s = make_sample(3, 1, 7, 8, 4);
    cnn_dataset *ds = dataset_of(&s);
    const int shifts[][2] = {{2, -1}, {-3, 0}, {0, 4}, {8, 0}, {-1, -7}};
    for (size_t t = 0; t < sizeof shifts / sizeof shifts[0]; t++) {
        int sx = shifts[t][0], sy = shifts[t][1];
        cnn_augment_params p = identity();
        p.shift_x_min = p.shift_x_max = (float)sx;
        p.shift_y_min = p.shift_y_max = (float)sy;
        cnn_dataset *au = augment(ds, &p);
        float *got = read_all(au, 4, NULL);
        for (int e = 0; e < 3; e++)
            for (int y = 0; y < 7; y++)
                for (int x = 0; x < 8; x++) {
                    int ys = y - sy, xs = x - sx;
                    float want = ys >= 0 && ys < 7 && xs >= 0 && xs < 8
                                     ? s.px[(e * 7 + ys) * 8 + xs] / 256.0f
                                     : 0.0f;
                    ck_assert_msg(got[(e * 7 + y) * 8 + x] == want, "shift (%d, %d) at (%d, %d)",
                                  sx, sy, x, y);
                }
        free(got);
        cnn_dataset_destroy(au);
    }
    cnn_dataset_destroy(ds);
    free_sample(&s);
}
END_TEST

/* Half a pixel right: each value is the exact mean of two neighbours
 * (bilinear weights 1/2), the left one 0 at the edge. */
START_TEST(half_pixel_shift_is_bilinear)
{
    sample s = make_sample(2, 1, 4, 5, 5);
    cnn_dataset *ds = dataset_of(&s);
    cnn_augment_params p = identity();
    p.shift_x_min = p.shift_x_max = 0.5f;
    cnn_dataset *au = augment(ds, &p);
    float *got = read_all(au, 0, NULL);
    for (int e = 0; e < 2; e++)
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 5; x++) {
                const uint8_t *row = s.px + (e * 4 + y) * 5;
                float left = x > 0 ? row[x - 1] : 0.0f;
                float want = (0.5f * left + 0.5f * row[x]) / 256.0f;
                ck_assert_msg(got[(e * 4 + y) * 5 + x] == want, "at (%d, %d)", x, y);
            }
    free(got);
    cnn_dataset_destroy(au);
    cnn_dataset_destroy(ds);
    free_sample(&s);
}
END_TEST

/* On an expansion, the transform applies to the shifted image, including
 * its cleared row or column: augment(expand(ds))[e] = rot90(expand(ds)[e])
 * and shift(expand(ds)[e]). */
START_TEST(transforms_compose_with_expand)
{
    const int n = 6;
    sample s = make_sample(5, 1, n, n, 6);
    cnn_dataset *ds = dataset_of(&s), *ex = NULL;
    ck_assert_ok(cnn_dataset_expand(ds, 11, &ex));
    int64_t count = cnn_dataset_count(ex);
    uint8_t *plain = malloc((size_t)(count * n * n));
    float *f = read_all(ex, 0, NULL);
    to_bytes(f, (size_t)(count * n * n), plain);
    free(f);
    for (int variant = 0; variant < 2; variant++) {
        cnn_augment_params p = identity();
        if (variant == 0)
            p.rotate_min = p.rotate_max = 90.0f;
        else
            p.shift_x_min = p.shift_x_max = -2.0f, p.shift_y_min = p.shift_y_max = 1.0f;
        cnn_dataset *au = augment(ex, &p);
        float *got = read_all(au, 2, NULL);
        for (int64_t e = 0; e < count; e++) {
            const uint8_t *in = plain + e * n * n;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++) {
                    float want;
                    if (variant == 0) {
                        want = rot90_at(in, n, 1, i, j) / 256.0f;
                    } else {
                        int ys = i - 1, xs = j + 2;
                        want = ys >= 0 && ys < n && xs < n ? in[ys * n + xs] / 256.0f : 0.0f;
                    }
                    ck_assert_msg(got[e * n * n + i * n + j] == want,
                                  "variant %d example %lld at (%d, %d)", variant, (long long)e,
                                  i, j);
                }
        }
        free(got);
        cnn_dataset_destroy(au);
    }
    free(plain);
    cnn_dataset_destroy(ex);
    cnn_dataset_destroy(ds);
    free_sample(&s);
}
END_TEST

/* ---- randomness ---------------------------------------------------------- */

static cnn_augment_params random_params(uint64_t seed, float alpha)
{
    cnn_augment_params p = identity();
    p.rotate_min = -20, p.rotate_max = 25;
    p.scale_min = 0.8f, p.scale_max = 1.2f;
    p.shift_x_min = -2, p.shift_x_max = 2;
    p.shift_y_min = -1.5f, p.shift_y_max = 2.5f;
    p.shear_min = -15, p.shear_max = 15;
    p.elastic_alpha = alpha;
    p.elastic_sigma = 3.0f;
    p.seed = seed;
    return p;
}

/* Same (seed, pass) gives the same batches whatever the read order and
 * batch split; another pass or seed gives different images; labels never
 * change. */
START_TEST(stateless_and_seeded)
{
    const float alpha = _i ? 6.0f : 0.0f;
    sample s = make_sample(20, 1, 12, 12, 7);
    cnn_dataset *ds = dataset_of(&s);
    cnn_augment_params p = random_params(5, alpha);
    cnn_dataset *a = augment(ds, &p), *b = augment(ds, &p);
    p.seed = 6;
    cnn_dataset *c = augment(ds, &p);
    const size_t size = 144, bytes = 20 * size * sizeof(float);
    int32_t la[20], lb[20];
    float *a3 = read_all(a, 3, la), *b3 = read_all(b, 3, lb), *a4 = read_all(a, 4, NULL);
    float *c3 = read_all(c, 3, NULL);
    ck_assert(memcmp(a3, b3, bytes) == 0);
    ck_assert_mem_eq(la, lb, sizeof la);
    for (int e = 0; e < 20; e++) {
        ck_assert_int_eq(la[e], s.lb[e]);
        ck_assert(memcmp(a3 + e * size, a4 + e * size, size * sizeof(float)) != 0);
        ck_assert(memcmp(a3 + e * size, c3 + e * size, size * sizeof(float)) != 0);
    }
    /* Reversed order, in batches of 3, through an index array. */
    int64_t idx[20];
    for (int e = 0; e < 20; e++)
        idx[e] = 19 - e;
    float *rev = malloc(bytes);
    for (int start = 0; start < 20; start += 3)
        cnn_dataset_gather(b, idx, start, start + 3 <= 20 ? 3 : 20 - start, rev + start * size,
                           NULL, 3);
    for (int e = 0; e < 20; e++)
        ck_assert(memcmp(rev + e * size, a3 + (19 - e) * size, size * sizeof(float)) == 0);
    /* The public readers use pass 0. */
    float *a0 = read_all(a, 0, NULL), *one = get_one(a, 13);
    ck_assert(memcmp(one, a0 + 13 * size, size * sizeof(float)) == 0);
    cnn_tensor *t = NULL;
    const int64_t shape[4] = {20, 1, 12, 12};
    ck_assert_ok(cnn_tensor_create(4, shape, &t));
    ck_assert_ok(cnn_dataset_batch(a, 0, 20, t, NULL));
    ck_assert(memcmp(cnn_tensor_data(t), a0, bytes) == 0);
    cnn_tensor_destroy(t);
    free(a0);
    free(one);
    free(rev);
    free(a3);
    free(b3);
    free(a4);
    free(c3);
    cnn_dataset_destroy(a);
    cnn_dataset_destroy(b);
    cnn_dataset_destroy(c);
    cnn_dataset_destroy(ds);
    free_sample(&s);
}
END_TEST

/* Values stay in [0, 1) under wide random transforms, elastic included. */
START_TEST(values_stay_in_range)
{
    sample s = make_sample(30, 3, 16, 13, 8);
    for (int64_t i = 0; i < 30 * 3 * 16 * 13; i += 7)
        s.px[i] = 255;
    cnn_dataset *ds = dataset_of(&s);
    cnn_augment_params p = random_params(9, 30.0f);
    p.rotate_min = -180, p.rotate_max = 180, p.scale_min = 0.3f, p.scale_max = 3.0f;
    p.shear_min = -60, p.shear_max = 60, p.elastic_sigma = 1.0f;
    cnn_dataset *au = augment(ds, &p);
    const size_t total = 30 * 3 * 16 * 13;
    for (uint64_t pass = 0; pass < 4; pass++) {
        float *x = read_all(au, pass, NULL);
        size_t nonzero = 0;
        for (size_t k = 0; k < total; k++) {
            ck_assert_msg(x[k] >= 0.0f && x[k] < 1.0f, "value %g", (double)x[k]);
            nonzero += x[k] > 0.0f;
        }
        ck_assert_uint_gt(nonzero, total / 10);
        free(x);
    }
    cnn_dataset_destroy(au);
    cnn_dataset_destroy(ds);
    free_sample(&s);
}
END_TEST

/* Elastic distortion: moves pixels, keeps a constant image constant in its
 * interior when the field is small, and its largest allowed image works. */
START_TEST(elastic_distortion)
{
    sample s = make_sample(4, 1, 10, 10, 9);
    cnn_dataset *ds = dataset_of(&s);
    cnn_augment_params p = identity();
    p.elastic_alpha = 3.0f;
    p.elastic_sigma = 2.0f;
    cnn_dataset *au = augment(ds, &p);
    float *want = read_all(ds, 0, NULL), *got = read_all(au, 1, NULL);
    for (int e = 0; e < 4; e++)
        ck_assert(memcmp(got + e * 100, want + e * 100, 100 * sizeof(float)) != 0);
    free(want);
    free(got);
    cnn_dataset_destroy(au);
    cnn_dataset_destroy(ds);

    /* A constant image under a field of at most 0.3 pixels: pixels at
     * least one pixel from the edge keep their value (up to rounding). */
    uint8_t flat[100], lb[1] = {1};
    memset(flat, 200, sizeof flat);
    ck_assert_ok(cnn_dataset_create(1, 1, 10, 10, flat, lb, &ds));
    p.elastic_alpha = 0.3f;
    au = augment(ds, &p);
    float x[100];
    ck_assert_ok(cnn_dataset_get(au, 0, x, NULL));
    for (int y = 1; y < 9; y++)
        for (int c = 1; c < 9; c++)
            ck_assert_msg(fabsf(x[y * 10 + c] - 200.0f / 256.0f) < 1e-5f, "(%d, %d): %g", y, c,
                          (double)x[y * 10 + c]);
    cnn_dataset_destroy(au);
    cnn_dataset_destroy(ds);

    /* The largest image elastic distortion accepts, with the largest sigma. */
    const int side = CNN_AUGMENT_MAX_ELASTIC_SIDE;
    sample big = make_sample(2, 2, side, side, 10);
    ds = dataset_of(&big);
    p.elastic_alpha = 8.0f;
    p.elastic_sigma = (float)side;
    au = augment(ds, &p);
    float *bx = read_all(au, 1, NULL);
    for (int k = 0; k < 2 * 2 * side * side; k++)
        ck_assert(bx[k] >= 0.0f && bx[k] < 1.0f);
    free(bx);
    cnn_dataset_destroy(au);
    cnn_dataset_destroy(ds);
    free_sample(&big);
    free_sample(&s);
}
END_TEST

/* The separable blur equals a direct 2-D convolution with the outer
 * product of the taps (zero outside), and taps are normalised. */
START_TEST(blur_kernel_matches_naive)
{
    float taps[2 * 10 + 1];
    int r = cnn_k_gauss_taps(1.5f, 10, taps);
    ck_assert_int_eq(r, 5);
    double sum = 0;
    for (int j = 0; j <= 2 * r; j++) {
        sum += taps[j];
        ck_assert(taps[j] == taps[2 * r - j]);
    }
    ck_assert(fabs(sum - 1.0) < 1e-6);
    ck_assert_int_eq(cnn_k_gauss_taps(0.0f, 10, taps), 0);
    ck_assert(taps[0] == 1.0f);
    ck_assert_int_eq(cnn_k_gauss_taps(100.0f, 7, taps), 7);

    r = cnn_k_gauss_taps(1.5f, 10, taps);
    enum { H = 7, W = 9 };
    float img[H * W], want[H * W], tmp[W];
    test_rng rng;
    test_rng_seed(&rng, 12);
    test_fill_uniform(&rng, img, H * W, -1.0f, 1.0f);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double acc = 0;
            for (int i = -r; i <= r; i++)
                for (int j = -r; j <= r; j++)
                    if (y + i >= 0 && y + i < H && x + j >= 0 && x + j < W)
                        acc += (double)taps[i + r] * taps[j + r] * img[(y + i) * W + x + j];
            want[y * W + x] = (float)acc;
        }
    cnn_k_blur_sep(img, H, W, taps, r, tmp);
    ck_assert(test_max_abs_err(img, want, H * W) < 1e-5);
}
END_TEST

/* ---- errors and lifetimes ------------------------------------------------ */

static void expect_invalid(const cnn_dataset *ds, const cnn_augment_params *p, const char *what)
{
    cnn_dataset *out = (cnn_dataset *)1;
    cnn_status st = cnn_dataset_augment(ds, p, &out);
    ck_assert_msg(st == CNN_EINVAL, "%s: got %s", what, cnn_status_name(st));
    ck_assert_ptr_null(out);
    ck_assert_msg(strstr(cnn_last_error(), "dataset_augment") != NULL, "%s: message '%s'", what,
                  cnn_last_error());
}

START_TEST(invalid_params)
{
    sample s = make_sample(2, 1, 8, 8, 11);
    cnn_dataset *ds = dataset_of(&s), *out = NULL;
    cnn_augment_params p = identity();
    ck_assert_status(cnn_dataset_augment(NULL, &p, &out), CNN_EINVAL);
    ck_assert_ptr_null(out);
    expect_invalid(ds, NULL, "NULL params");
    ck_assert_status(cnn_dataset_augment(ds, &p, NULL), CNN_EINVAL);

#define BAD(field_assign, what)        \
    do {                               \
        p = identity();                \
        field_assign;                  \
        expect_invalid(ds, &p, what);  \
    } while (0)
    BAD(p.struct_size = sizeof p - 8, "struct_size");
    BAD(p.rotate_max = NAN, "NaN rotation");
    BAD(p.rotate_min = -INFINITY, "infinite rotation");
    BAD(p.rotate_min = 10, "rotate min > max");
    BAD(p.scale_min = 0, "scale 0");
    BAD((p.scale_min = -2, p.scale_max = -1), "negative scale");
    BAD(p.scale_max = NAN, "NaN scale");
    BAD(p.scale_min = 1.5f, "scale min > max");
    BAD(p.shift_x_min = NAN, "NaN shift x");
    BAD(p.shift_y_min = 1, "shift y min > max");
    BAD(p.shear_max = 90, "shear 90");
    BAD(p.shear_min = -95, "shear -95");
    BAD(p.probability = -0.1f, "probability < 0");
    BAD(p.probability = 1.01f, "probability > 1");
    BAD(p.probability = NAN, "NaN probability");
    BAD(p.elastic_alpha = -1, "negative alpha");
    BAD(p.elastic_alpha = INFINITY, "infinite alpha");
    BAD(p.elastic_sigma = -0.5f, "negative sigma");
    BAD(p.elastic_sigma = NAN, "NaN sigma");
    BAD(p.elastic_sigma = CNN_AUGMENT_MAX_ELASTIC_SIDE + 1, "sigma too large");
#undef BAD

    /* Elastic needs small images; affine alone does not. */
    sample big = make_sample(1, 1, 4, CNN_AUGMENT_MAX_ELASTIC_SIDE + 1, 12);
    cnn_dataset *wide = dataset_of(&big);
    p = identity();
    p.rotate_max = 10;
    out = augment(wide, &p);
    cnn_dataset_destroy(out);
    p.elastic_alpha = 1;
    expect_invalid(wide, &p, "elastic on a wide image");
    cnn_dataset_destroy(wide);
    free_sample(&big);

    /* No augmenting twice, and no expanding an augmented set. */
    p = identity();
    cnn_dataset *au = augment(ds, &p), *sl = NULL;
    expect_invalid(au, &p, "augmenting twice");
    ck_assert_ok(cnn_dataset_slice(au, 1, 1, &sl));
    expect_invalid(sl, &p, "augmenting a slice of an augmented set");
    ck_assert_status(cnn_dataset_expand(au, 1, &out), CNN_EINVAL);
    ck_assert_ptr_null(out);
    ck_assert_ptr_nonnull(strstr(cnn_last_error(), "augmented"));
    cnn_dataset_destroy(sl);
    cnn_dataset_destroy(au);
    cnn_dataset_destroy(ds);
    free_sample(&s);
}
END_TEST

/* An augmented view outlives its parent; a slice of it transforms each
 * example as it does; augmenting a slice keeps working after both go. */
START_TEST(views_outlive_parents)
{
    sample s = make_sample(12, 1, 9, 9, 13);
    cnn_dataset *ds = dataset_of(&s);
    cnn_augment_params p = random_params(21, 2.0f);
    cnn_dataset *au = augment(ds, &p), *sl = NULL, *sl2 = NULL;
    float *want = read_all(au, 5, NULL);
    ck_assert_ok(cnn_dataset_slice(au, 4, 6, &sl));
    ck_assert_ok(cnn_dataset_slice(ds, 4, 6, &sl2));
    cnn_dataset *au2 = augment(sl2, &p);
    cnn_dataset_destroy(ds);
    cnn_dataset_destroy(sl2);
    float *again = read_all(au, 5, NULL), *part = read_all(sl, 5, NULL);
    float *part2 = read_all(au2, 5, NULL);
    ck_assert(memcmp(again, want, 12 * 81 * sizeof(float)) == 0);
    ck_assert(memcmp(part, want + 4 * 81, 6 * 81 * sizeof(float)) == 0);
    ck_assert(memcmp(part2, want + 4 * 81, 6 * 81 * sizeof(float)) == 0);
    cnn_dataset_destroy(au);
    float *still = read_all(sl, 5, NULL);
    ck_assert(memcmp(still, part, 6 * 81 * sizeof(float)) == 0);
    cnn_dataset_destroy(sl);
    cnn_dataset_destroy(au2);
    free(want);
    free(again);
    free(part);
    free(part2);
    free(still);
    free_sample(&s);
}
END_TEST

/* ---- training ------------------------------------------------------------ */

static cnn_net *small_net(void)
{
    cnn_net *net = NULL;
    ck_assert_ok(cnn_net_create(1, 8, 8, 3, &net));
    cnn_conv2d_params cp;
    ck_assert_ok(cnn_conv2d_params_init(&cp, 2, 3, 3));
    cp.pool = CNN_POOL_MAX;
    cnn_layer *l = NULL;
    ck_assert_ok(cnn_conv2d_create(&cp, &l));
    ck_assert_ok(cnn_net_add(net, l));
    cnn_softmax_params sp;
    ck_assert_ok(cnn_softmax_params_init(&sp, 3));
    ck_assert_ok(cnn_softmax_create(&sp, &l));
    ck_assert_ok(cnn_net_add(net, l));
    return net;
}

static void train_on(cnn_net *net, const cnn_dataset *train, int32_t epochs, const char *ckpt,
                     const char *resume)
{
    cnn_sgd_params sp;
    ck_assert_ok(cnn_sgd_params_init(&sp, 0.5f));
    cnn_optimizer *opt = NULL;
    ck_assert_ok(cnn_sgd_create(&sp, &opt));
    cnn_train_params p;
    ck_assert_ok(cnn_train_params_init(&p, epochs));
    p.batch_size = 4;
    p.shuffle = 1;
    p.seed = 8;
    p.checkpoint_path = ckpt;
    p.resume_path = resume;
    ck_assert_ok(cnn_train(net, opt, train, &p, NULL));
    cnn_optimizer_destroy(opt);
}

/* Training on an augmented set resumed from a checkpoint after epoch 1
 * ends bit-identical to an uninterrupted run, and differs from training
 * on the plain set (so the augmentation reached the batches). */
START_TEST(training_resumes_bit_identically)
{
    cnn_dataset *ds = test_make_striped_dataset(18, 1, 8, 8, 3, 4);
    cnn_augment_params p = random_params(31, 1.5f);
    cnn_dataset *au = augment(ds, &p);
    char dir[4096], path[4200];
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/cnn-aug-XXXXXX", base && base[0] ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/run.ckpt", dir);

    cnn_net *a = small_net(), *b = small_net(), *c = small_net();
    train_on(a, au, 3, NULL, NULL);
    train_on(b, au, 1, path, NULL);
    train_on(b, au, 3, NULL, path);
    train_on(c, ds, 3, NULL, NULL);
    size_t bytes = (size_t)cnn_net_param_count(a) * sizeof(float);
    ck_assert(memcmp(cnn_net_params(a), cnn_net_params(b), bytes) == 0);
    ck_assert(memcmp(cnn_net_params(a), cnn_net_params(c), bytes) != 0);
    cnn_net_destroy(a);
    cnn_net_destroy(b);
    cnn_net_destroy(c);
    cnn_dataset_destroy(au);
    cnn_dataset_destroy(ds);
    test_rm_tree(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("augment");
    TCase *tc = tcase_create("augment");
    tcase_add_test(tc, params_init_is_the_identity);
    tcase_add_test(tc, identity_is_bit_exact);
    tcase_add_test(tc, probability_zero_is_the_identity);
    tcase_add_test(tc, probability_half_mixes);
    tcase_add_test(tc, explicit_rotation_of_one_image);
    tcase_add_test(tc, quarter_turns_are_exact);
    tcase_add_test(tc, integer_shift_is_exact);
    tcase_add_test(tc, half_pixel_shift_is_bilinear);
    tcase_add_test(tc, transforms_compose_with_expand);
    tcase_add_loop_test(tc, stateless_and_seeded, 0, 2);
    tcase_add_test(tc, values_stay_in_range);
    tcase_add_test(tc, elastic_distortion);
    tcase_add_test(tc, blur_kernel_matches_naive);
    tcase_add_test(tc, invalid_params);
    tcase_add_test(tc, views_outlive_parents);
    tcase_add_test(tc, training_resumes_bit_identically);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
