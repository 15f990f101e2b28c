/* cnn_dataset_expand: every expanded example must be exactly one source
 * image moved one pixel (or not at all) with a zero edge, each (source,
 * transform) pair exactly once, in a seed-determined order. */
#include "testutil.h"

#include "core.h"
#include "data/dataset.h"

#include <stdlib.h>
#include <string.h>

/* Reference shift, one pixel at a time, written independently of the
 * library's row-wise code: 1 down, 2 up, 3 right, 4 left, 0 none. */
static void naive_shift(const uint8_t *in, int c, int h, int w, int xf, uint8_t *out)
{
    for (int ch = 0; ch < c; ch++)
        for (int r = 0; r < h; r++)
            for (int col = 0; col < w; col++) {
                int sr = r - (xf == 1) + (xf == 2);
                int sc = col - (xf == 3) + (xf == 4);
                int inside = sr >= 0 && sr < h && sc >= 0 && sc < w;
                out[(ch * h + r) * w + col] = inside ? in[(ch * h + sr) * w + sc] : 0;
            }
}

/* A record is one example as bytes: label, then its pixels.  Multisets of
 * records are compared by sorting. */
static size_t rec_size;

static int rec_cmp(const void *a, const void *b) { return memcmp(a, b, rec_size); }

/* All records of a dataset, read through cnn_dataset_get and converted back
 * to bytes (checking that every value is an exact byte / 256). */
static uint8_t *records_of(const cnn_dataset *ds, int64_t *count)
{
    int32_t shape[3];
    ck_assert_ok(cnn_dataset_shape(ds, shape));
    size_t size = (size_t)shape[0] * shape[1] * shape[2];
    rec_size = size + 1;
    *count = cnn_dataset_count(ds);
    uint8_t *rec = malloc((size_t)*count * rec_size);
    float *x = malloc(size * sizeof *x);
    for (int64_t e = 0; e < *count; e++) {
        int32_t label;
        ck_assert_ok(cnn_dataset_get(ds, e, x, &label));
        uint8_t *r = rec + e * rec_size;
        r[0] = (uint8_t)label;
        for (size_t k = 0; k < size; k++) {
            float v = x[k] * 256.0f;
            ck_assert_msg(v >= 0 && v <= 255 && v == (float)(int)v, "value %g", (double)x[k]);
            r[1 + k] = (uint8_t)v;
        }
    }
    free(x);
    return rec;
}

typedef struct sample {
    int64_t n;
    int c, h, w;
    uint8_t *px, *lb;
} sample;

/* Random pixels in 1..255: with no zeros, every shift differs from the
 * image, and random content makes all 5n records distinct. */
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

/* Records for sources [first, first+count) under every transform sequence
 * of length `depth` (1: the 5 shifts; 2: the 25 pairs). */
static uint8_t *expected_records(const sample *s, int64_t first, int64_t count, int depth,
                                 int64_t *total)
{
    size_t size = (size_t)s->c * s->h * s->w;
    int per = depth == 1 ? 5 : 25;
    *total = count * per;
    rec_size = size + 1;
    uint8_t *rec = malloc((size_t)*total * rec_size);
    uint8_t *tmp = malloc(size);
    for (int64_t i = 0; i < count; i++) {
        const uint8_t *img = s->px + (first + i) * size;
        for (int t = 0; t < per; t++) {
            uint8_t *r = rec + (i * per + t) * rec_size;
            r[0] = s->lb[first + i];
            if (depth == 1) {
                naive_shift(img, s->c, s->h, s->w, t, r + 1);
            } else {
                naive_shift(img, s->c, s->h, s->w, t / 5, tmp);
                naive_shift(tmp, s->c, s->h, s->w, t % 5, r + 1);
            }
        }
    }
    free(tmp);
    return rec;
}

static void assert_same_multiset(uint8_t *got, int64_t ngot, uint8_t *want, int64_t nwant)
{
    ck_assert_int_eq(ngot, nwant);
    qsort(got, (size_t)ngot, rec_size, rec_cmp);
    qsort(want, (size_t)nwant, rec_size, rec_cmp);
    for (int64_t i = 0; i < ngot; i++)
        ck_assert_msg(memcmp(got + i * rec_size, want + i * rec_size, rec_size) == 0,
                      "sorted record %lld differs", (long long)i);
}

static cnn_dataset *dataset_of(const sample *s)
{
    cnn_dataset *ds;
    ck_assert_ok(cnn_dataset_create(s->n, s->c, s->h, s->w, s->px, s->lb, &ds));
    return ds;
}

START_TEST(explicit_shifts_of_one_image)
{
    /* Hand-written answers, so the reference shift is checked too. */
    const uint8_t img[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, lb[1] = {3};
    const uint8_t want[5][9] = {
        {1, 2, 3, 4, 5, 6, 7, 8, 9}, /* identity */
        {0, 0, 0, 1, 2, 3, 4, 5, 6}, /* down */
        {4, 5, 6, 7, 8, 9, 0, 0, 0}, /* up */
        {0, 1, 2, 0, 4, 5, 0, 7, 8}, /* right */
        {2, 3, 0, 5, 6, 0, 8, 9, 0}, /* left */
    };
    for (int t = 0; t < 5; t++) {
        uint8_t out[9];
        naive_shift(img, 1, 3, 3, t, out);
        ck_assert_mem_eq(out, want[t], 9);
    }
    cnn_dataset *ds, *ex;
    ck_assert_ok(cnn_dataset_create(1, 1, 3, 3, img, lb, &ds));
    ck_assert_ok(cnn_dataset_expand(ds, 0, &ex));
    ck_assert_int_eq(cnn_dataset_count(ex), 5);
    int seen[5] = {0};
    for (int e = 0; e < 5; e++) {
        float x[9];
        int32_t label;
        ck_assert_ok(cnn_dataset_get(ex, e, x, &label));
        ck_assert_int_eq(label, 3);
        for (int t = 0; t < 5; t++) {
            int same = 1;
            for (int k = 0; k < 9; k++)
                same &= x[k] == want[t][k] / 256.0f;
            seen[t] += same;
        }
    }
    for (int t = 0; t < 5; t++)
        ck_assert_int_eq(seen[t], 1);
    cnn_dataset_destroy(ex);
    cnn_dataset_destroy(ds);
}
END_TEST

/* Every (source, transform) pair exactly once, for several shapes. */
static void check_expansion(int64_t n, int c, int h, int w, uint64_t seed)
{
    sample s = make_sample(n, c, h, w, seed);
    cnn_dataset *ds = dataset_of(&s), *ex;
    ck_assert_ok(cnn_dataset_expand(ds, seed, &ex));
    ck_assert_int_eq(cnn_dataset_count(ex), 5 * n);
    ck_assert_int_eq(cnn_dataset_classes(ex), cnn_dataset_classes(ds));
    int32_t shape[3];
    ck_assert_ok(cnn_dataset_shape(ex, shape));
    ck_assert(shape[0] == c && shape[1] == h && shape[2] == w);
    int64_t ng, nw;
    uint8_t *got = records_of(ex, &ng);
    uint8_t *want = expected_records(&s, 0, n, 1, &nw);
    if (h > 1 && w > 1) {
        /* All expected records distinct, so equal multisets mean each
         * (source, transform) pair appears exactly once. */
        qsort(want, (size_t)nw, rec_size, rec_cmp);
        for (int64_t i = 1; i < nw; i++)
            ck_assert(memcmp(want + (i - 1) * rec_size, want + i * rec_size, rec_size) != 0);
    }
    assert_same_multiset(got, ng, want, nw);
    free(got);
    free(want);
    cnn_dataset_destroy(ex);
    cnn_dataset_destroy(ds);
    free(s.px);
    free(s.lb);
}

START_TEST(every_pair_exactly_once)
{
    check_expansion(40, 1, 6, 7, 1);   /* not square: catches h/w mix-ups */
    check_expansion(25, 3, 5, 4, 2);   /* channels shift together */
    check_expansion(10, 1, 28, 28, 3); /* MNIST-sized */
    check_expansion(6, 1, 1, 5, 4);    /* one row: down/up give zeros */
    check_expansion(6, 2, 4, 1, 5);    /* one column: right/left give zeros */
    check_expansion(3, 1, 1, 1, 6);
}
END_TEST

START_TEST(order_is_documented)
{
    /* identity, down, up, right, left per example, then one Fisher-Yates
     * pass from the end with the library's generator seeded by `seed`. */
    sample s = make_sample(30, 1, 4, 5, 7);
    cnn_dataset *ds = dataset_of(&s), *ex;
    const uint64_t seed = 0x5eed;
    ck_assert_ok(cnn_dataset_expand(ds, seed, &ex));
    int64_t total = 150, order[150];
    for (int64_t i = 0; i < total; i++)
        order[i] = i; /* source i / 5, transform i % 5 */
    cnn_rng rng;
    cnn_rng_seed(&rng, seed);
    for (int64_t i = total - 1; i > 0; i--) {
        int64_t j = (int64_t)cnn_rng_below(&rng, (uint64_t)i + 1);
        int64_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int64_t e = 0; e < total; e++) {
        uint8_t want[20];
        float x[20];
        int32_t label;
        naive_shift(s.px + order[e] / 5 * 20, 1, 4, 5, (int)(order[e] % 5), want);
        ck_assert_ok(cnn_dataset_get(ex, e, x, &label));
        ck_assert_int_eq(label, s.lb[order[e] / 5]);
        for (int k = 0; k < 20; k++)
            ck_assert(x[k] == want[k] / 256.0f);
    }
    cnn_dataset_destroy(ex);
    cnn_dataset_destroy(ds);
    free(s.px);
    free(s.lb);
}
END_TEST

static int same_sequence(const cnn_dataset *a, const cnn_dataset *b)
{
    int64_t na, nb;
    uint8_t *ra = records_of(a, &na);
    uint8_t *rb = records_of(b, &nb);
    int same = na == nb && memcmp(ra, rb, (size_t)na * rec_size) == 0;
    free(ra);
    free(rb);
    return same;
}

START_TEST(seed_determines_order)
{
    sample s = make_sample(40, 1, 5, 5, 11);
    cnn_dataset *ds = dataset_of(&s), *a, *b, *c;
    ck_assert_ok(cnn_dataset_expand(ds, 99, &a));
    ck_assert_ok(cnn_dataset_expand(ds, 99, &b));
    ck_assert_ok(cnn_dataset_expand(ds, 100, &c));
    ck_assert(same_sequence(a, b));
    ck_assert(!same_sequence(a, c));
    cnn_dataset_destroy(a);
    cnn_dataset_destroy(b);
    cnn_dataset_destroy(c);
    cnn_dataset_destroy(ds);
    free(s.px);
    free(s.lb);
}
END_TEST

START_TEST(expand_a_slice)
{
    sample s = make_sample(50, 1, 4, 6, 21);
    cnn_dataset *ds = dataset_of(&s), *sl, *ex;
    ck_assert_ok(cnn_dataset_slice(ds, 10, 20, &sl));
    ck_assert_ok(cnn_dataset_expand(sl, 3, &ex));
    /* Only the slice's sources, all of them; parents may go first. */
    cnn_dataset_destroy(ds);
    cnn_dataset_destroy(sl);
    int64_t ng, nw;
    uint8_t *got = records_of(ex, &ng);
    uint8_t *want = expected_records(&s, 10, 20, 1, &nw);
    assert_same_multiset(got, ng, want, nw);
    free(got);
    free(want);
    /* A slice of the expansion reads the same examples. */
    cnn_dataset *tail;
    ck_assert_ok(cnn_dataset_slice(ex, 90, 10, &tail));
    float a[24], b[24];
    for (int i = 0; i < 10; i++) {
        ck_assert_ok(cnn_dataset_get(ex, 90 + i, a, NULL));
        ck_assert_ok(cnn_dataset_get(tail, i, b, NULL));
        ck_assert_mem_eq(a, b, sizeof a);
    }
    cnn_dataset_destroy(ex);
    cnn_dataset_destroy(tail);
    free(s.px);
    free(s.lb);
}
END_TEST

START_TEST(expand_an_expansion)
{
    /* Shifted examples are copied into plain storage first, so the second
     * expansion holds every pair of shifts applied in sequence. */
    sample s = make_sample(12, 2, 4, 5, 31);
    cnn_dataset *ds = dataset_of(&s), *ex, *ex2;
    ck_assert_ok(cnn_dataset_expand(ds, 1, &ex));
    cnn_dataset_destroy(ds);
    ck_assert_ok(cnn_dataset_expand(ex, 2, &ex2));
    cnn_dataset_destroy(ex);
    ck_assert_int_eq(cnn_dataset_count(ex2), 25 * 12);
    int64_t ng, nw;
    uint8_t *got = records_of(ex2, &ng);
    uint8_t *want = expected_records(&s, 0, 12, 2, &nw);
    assert_same_multiset(got, ng, want, nw);
    free(got);
    free(want);
    cnn_dataset_destroy(ex2);

    /* A slice of an expansion: its (shifted) images are what gets expanded. */
    ds = dataset_of(&s);
    ck_assert_ok(cnn_dataset_expand(ds, 1, &ex));
    cnn_dataset *part;
    ck_assert_ok(cnn_dataset_slice(ex, 7, 9, &part));
    ck_assert_ok(cnn_dataset_expand(part, 5, &ex2));
    ck_assert_int_eq(cnn_dataset_count(ex2), 45);
    uint8_t *base = records_of(part, &ng);
    got = records_of(ex2, &ng);
    /* Expected: the naive shifts of part's 9 images. */
    sample ps = {9, 2, 4, 5, malloc(9 * 40), malloc(9)};
    for (int i = 0; i < 9; i++) {
        ps.lb[i] = base[i * rec_size];
        memcpy(ps.px + i * 40, base + i * rec_size + 1, 40);
    }
    want = expected_records(&ps, 0, 9, 1, &nw);
    assert_same_multiset(got, ng, want, nw);
    free(base);
    free(got);
    free(want);
    free(ps.px);
    free(ps.lb);
    cnn_dataset_destroy(ex2);
    cnn_dataset_destroy(part);
    cnn_dataset_destroy(ex);
    cnn_dataset_destroy(ds);
    free(s.px);
    free(s.lb);
}
END_TEST

START_TEST(expand_identity_only_slice)
{
    /* A slice of an expansion that holds only an unshifted image needs no
     * copy: its expansion refers to the original storage directly. */
    sample s = make_sample(1, 1, 3, 4, 51);
    cnn_dataset *ds = dataset_of(&s), *ex, *one, *ex2;
    ck_assert_ok(cnn_dataset_expand(ds, 77, &ex));
    int64_t id = -1;
    for (int64_t e = 0; e < 5; e++) {
        float x[12];
        ck_assert_ok(cnn_dataset_get(ex, e, x, NULL));
        int same = 1;
        for (int k = 0; k < 12; k++)
            same &= x[k] == s.px[k] / 256.0f;
        if (same)
            id = e;
    }
    ck_assert_int_ge(id, 0);
    ck_assert_ok(cnn_dataset_slice(ex, id, 1, &one));
    cnn_dataset_destroy(ex);
    cnn_dataset_destroy(ds);
    ck_assert_ok(cnn_dataset_expand(one, 3, &ex2));
    int64_t ng, nw;
    uint8_t *got = records_of(ex2, &ng);
    uint8_t *want = expected_records(&s, 0, 1, 1, &nw);
    assert_same_multiset(got, ng, want, nw);
    free(got);
    free(want);
    cnn_dataset_destroy(ex2);
    cnn_dataset_destroy(one);
    free(s.px);
    free(s.lb);
}
END_TEST

START_TEST(gather_matches_get)
{
    sample s = make_sample(20, 1, 6, 6, 41);
    cnn_dataset *ds = dataset_of(&s), *ex;
    ck_assert_ok(cnn_dataset_expand(ds, 8, &ex));
    int64_t idx[100];
    for (int i = 0; i < 100; i++)
        idx[i] = (i * 37) % 100;
    float xs[50 * 36], one[36];
    int32_t labels[50];
    cnn_dataset_gather(ex, idx, 25, 50, xs, labels, 0);
    for (int i = 0; i < 50; i++) {
        int32_t label;
        ck_assert_ok(cnn_dataset_get(ex, idx[25 + i], one, &label));
        ck_assert_int_eq(labels[i], label);
        ck_assert_mem_eq(xs + i * 36, one, sizeof one);
    }
    cnn_dataset_gather(ex, NULL, 60, 40, xs, labels, 0);
    for (int i = 0; i < 40; i++) {
        int32_t label;
        ck_assert_ok(cnn_dataset_get(ex, 60 + i, one, &label));
        ck_assert_int_eq(labels[i], label);
        ck_assert_mem_eq(xs + i * 36, one, sizeof one);
    }
    /* And through a batch tensor. */
    cnn_tensor t = {.ndim = 4, .shape = {40, 1, 6, 6}, .numel = 40 * 36, .data = xs};
    float copy[40 * 36];
    memcpy(copy, xs, sizeof copy);
    memset(xs, 0, sizeof copy);
    ck_assert_ok(cnn_dataset_batch(ex, 60, 40, &t, NULL));
    ck_assert_mem_eq(xs, copy, sizeof copy);
    cnn_dataset_destroy(ex);
    cnn_dataset_destroy(ds);
    free(s.px);
    free(s.lb);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("expand");
    TCase *tc = tcase_create("expand");
    tcase_add_test(tc, explicit_shifts_of_one_image);
    tcase_add_test(tc, every_pair_exactly_once);
    tcase_add_test(tc, order_is_documented);
    tcase_add_test(tc, seed_determines_order);
    tcase_add_test(tc, expand_a_slice);
    tcase_add_test(tc, expand_an_expansion);
    tcase_add_test(tc, expand_identity_only_slice);
    tcase_add_test(tc, gather_matches_get);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
