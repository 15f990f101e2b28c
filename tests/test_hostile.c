/* Hostile input: a valid model (and a valid IDX pair) damaged in every way
 * a single byte can be damaged: truncated at every offset, every byte
 * xor 0xFF and every byte +1.  Each case must load correctly or fail with
 * an error status; none may crash, hang or leak (the sanitizer build runs
 * this too).  Model cases are tried twice: as damaged, where the CRC
 * catches them, and with the CRC (and declared size) repaired, so that the
 * parser behind the CRC meets every damaged field too.  The number of
 * cases is printed so it can be quoted. */
#include "testfs.h"
#include "testutil.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static long n_cases, n_loaded, n_refused;

/* Counters are per test (with CK_FORK=no the tests share a process). */
static void reset_counts(void)
{
    n_cases = n_loaded = n_refused = 0;
}

static uint8_t *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 16);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static void write_all(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, size, f), size);
    ck_assert_int_eq(fclose(f), 0);
}

static bool is_error(cnn_status st)
{
    return st == CNN_EFORMAT || st == CNN_EVERSION || st == CNN_ECHECKSUM || st == CNN_ENOMEM ||
           st == CNN_EIO;
}

/* ---- model ------------------------------------------------------------- */

#define MODEL_PATH CNN_TEST_SRCDIR "/data/model-v1.cnnm"

/* Makes a damaged image self-consistent again: declared size and CRC. */
static void repair(uint8_t *buf, size_t size)
{
    if (size < 24)
        return;
    test_put32(buf + 12, (uint32_t)size);
    test_put32(buf + 16, 0);
    test_put32(buf + size - 4, (uint32_t)crc32(crc32(0, Z_NULL, 0), buf, (uInt)(size - 4)));
}

/* Loads one damaged image.  Success is acceptable only if the result is
 * exactly what the bytes say (saving it again gives the same bytes) and
 * the network runs. */
static void try_model(const uint8_t *buf, size_t size)
{
    cnn_net *net = (cnn_net *)1;
    cnn_status st = cnn_net_load_buffer(buf, size, &net);
    n_cases++;
    if (st != CNN_OK) {
        ck_assert_msg(is_error(st), "status %s: %s", cnn_status_name(st), cnn_last_error());
        ck_assert_ptr_null(net);
        ck_assert_msg(cnn_last_error()[0] != '\0', "no message");
        n_refused++;
        return;
    }
    n_loaded++;
    void *again = NULL;
    size_t again_size = 0;
    ck_assert_ok(cnn_net_save_buffer(net, &again, &again_size));
    ck_assert_uint_eq(again_size, size);
    ck_assert_msg(memcmp(again, buf, size) == 0, "loaded network saves differently");
    cnn_free(again);
    /* Run it: a loaded network must be usable, whatever its weights. */
    int32_t s[3];
    ck_assert_ok(cnn_net_input_shape(net, s));
    int64_t shape[4] = {2, s[0], s[1], s[2]};
    cnn_tensor *x = NULL;
    ck_assert_ok(cnn_tensor_create(4, shape, &x));
    int32_t labels[2];
    cnn_status ps = cnn_net_predict(net, x, labels);
    ck_assert_msg(ps == CNN_OK || ps == CNN_ESTATE || ps == CNN_ENOMEM, "predict: %s",
                  cnn_last_error());
    cnn_tensor_destroy(x);
    cnn_net_destroy(net);
}

START_TEST(model_truncated)
{
    size_t size;
    uint8_t *good = read_all(MODEL_PATH, &size);
    uint8_t *b = malloc(size);
    reset_counts();
    for (size_t len = 0; len < size; len++) {
        memcpy(b, good, len);
        try_model(b, len); /* as cut */
        if (len >= 28) {   /* cut, then made consistent again */
            repair(b, len);
            try_model(b, len);
        }
    }
    ck_assert_int_eq(n_loaded, 0);
    printf("model truncation: %ld cases (%zu bytes), all refused\n", n_cases, size);
    free(b);
    free(good);
}
END_TEST

/* Truncation again, but each cut image sits in a heap buffer of exactly its
 * own length (model_truncated cuts inside a full-size buffer, where reading
 * past the cut stays inside the allocation and no sanitizer can see it), and
 * the refusal's message is checked, not just its status.  At every length L
 * of the reference model: the raw cut, and the cut with the declared size
 * and the CRC over its first L - 4 bytes fixed up, so the reader gets past
 * those checks and meets a layer record that ends early at E = L - 4.  Where
 * E falls inside a layer's header, descriptor or parameter counts, the
 * refusal must be CNN_EFORMAT "truncated at offset X" with X between the
 * record's start and E; inside the parameters, CNN_EFORMAT naming an offset.
 * A reader whose bounds check leaves out the 16 count bytes reads up to 12
 * bytes past the buffer (ASan: heap-buffer-overflow) or the CRC as counts
 * (the wrong message). */

/* Layer records of a model image (docs/format.md), from a valid file. */
typedef struct layer_span {
    size_t start, counts_end, end; /* header at start; parameters [counts_end, end) */
} layer_span;

static int model_layers(const uint8_t *b, size_t size, layer_span *sp, int max)
{
    const int n = (int)test_get32(b + 36);
    ck_assert_int_le(n, max);
    size_t pos = 56;
    for (int i = 0; i < n; i++) {
        const size_t len = test_get32(b + pos + 4);
        sp[i].start = pos;
        sp[i].counts_end = pos + 8 + len + 16;
        ck_assert_uint_le(sp[i].counts_end, size - 4);
        const uint64_t np = test_get64(b + pos + 8 + len) + test_get64(b + pos + 8 + len + 8);
        sp[i].end = sp[i].counts_end + 4 * (size_t)np;
        pos = sp[i].end;
    }
    ck_assert_uint_eq(pos, size - 4);
    return n;
}

/* Loads the first len bytes of `image` from an exact-size heap copy. */
static cnn_status load_exact(const uint8_t *image, size_t len, bool fix)
{
    uint8_t *b = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(b);
    memcpy(b, image, len);
    if (fix) {
        test_put64(b + 12, (uint64_t)len);
        test_put32(b + len - 4, (uint32_t)crc32(crc32(0, Z_NULL, 0), b, (uInt)(len - 4)));
    }
    cnn_net *net = (cnn_net *)1;
    cnn_status st = cnn_net_load_buffer(b, len, &net);
    free(b);
    ck_assert_ptr_null(net);
    return st;
}

START_TEST(model_truncated_exact_size)
{
    size_t size;
    uint8_t *good = read_all(MODEL_PATH, &size);
    layer_span sp[16];
    const int n_layers = model_layers(good, size, sp, 16);
    long in_counts = 0, in_params = 0, cases = 0;
    for (size_t len = 1; len < size; len++) {
        cnn_status st = load_exact(good, len, false);
        cases++;
        ck_assert_msg(st == CNN_EFORMAT, "cut at %zu: %s: %s", len, cnn_status_name(st),
                      cnn_last_error());
        ck_assert_msg(len < 8 || strstr(cnn_last_error(), "truncated") != NULL,
                      "cut at %zu: %s", len, cnn_last_error());
        if (len < 24)
            continue;
        st = load_exact(good, len, true);
        cases++;
        ck_assert_msg(st == CNN_EFORMAT, "cut at %zu, size and CRC fixed: %s: %s", len,
                      cnn_status_name(st), cnn_last_error());
        const char *msg = cnn_last_error();
        if (len < 60) { /* shorter than the fixed header and the CRC */
            ck_assert_msg(strstr(msg, "truncated") != NULL, "cut at %zu: %s", len, msg);
            continue;
        }
        const size_t e = len - 4; /* where the records end now */
        int i = 0;
        while (i < n_layers && e >= sp[i].end)
            i++;
        ck_assert_int_lt(i, n_layers); /* e < size - 4 = end of the last layer */
        if (e < sp[i].counts_end) {
            /* Inside the header, descriptor or counts of layer i. */
            in_counts += e >= sp[i].counts_end - 16;
            const char *at = strstr(msg, "truncated at offset ");
            ck_assert_msg(at != NULL, "cut at %zu (layer %d record at %zu, counts end at %zu): %s",
                          len, i, sp[i].start, sp[i].counts_end, msg);
            unsigned long long x = strtoull(at + strlen("truncated at offset "), NULL, 10);
            ck_assert_msg(x >= sp[i].start && x <= e, "cut at %zu (layer %d at %zu): %s", len, i,
                          sp[i].start, msg);
        } else {
            /* Inside layer i's parameters. */
            in_params++;
            ck_assert_msg(strstr(msg, "offset") != NULL, "cut at %zu: %s", len, msg);
        }
    }
    /* Every count byte of every layer was a cut point (the reference model
     * has all five layer kinds). */
    ck_assert_int_eq(n_layers, 5);
    ck_assert_int_eq(in_counts, 16 * n_layers);
    ck_assert_int_gt(in_params, 0);
    printf("model truncation, exact-size buffers: %ld cases (%zu bytes), %ld cut in layer "
           "counts, all refused\n", cases, size, in_counts);
    free(good);
}
END_TEST

START_TEST(model_flipped)
{
    size_t size;
    uint8_t *good = read_all(MODEL_PATH, &size);
    uint8_t *b = malloc(size);
    long raw_loaded = 0;
    reset_counts();
    for (int op = 0; op < 2; op++) {
        for (size_t i = 0; i < size; i++) {
            memcpy(b, good, size);
            b[i] = op == 0 ? (uint8_t)(b[i] ^ 0xFF) : (uint8_t)(b[i] + 1);
            long loaded = n_loaded;
            try_model(b, size);
            raw_loaded += n_loaded - loaded;
            if (i < size - 4) { /* the CRC itself needs no repair case */
                repair(b, size);
                /* Repairing the size field undoes damage to it. */
                if (memcmp(b, good, size) != 0)
                    try_model(b, size);
            }
        }
    }
    /* A CRC-32 catches every single-byte change. */
    ck_assert_int_eq(raw_loaded, 0);
    printf("model flips (xor 0xFF, +1; raw and CRC-repaired): %ld cases, %ld loaded as "
           "different valid networks, %ld refused\n",
           n_cases, n_loaded, n_refused);
    free(b);
    free(good);
}
END_TEST

/* ---- IDX ----------------------------------------------------------------- */

#define IDX_N 3
#define IDX_H 4
#define IDX_W 5

static size_t make_images(uint8_t *b)
{
    const uint8_t head[16] = {0, 0, 8, 3, 0, 0, 0, IDX_N, 0, 0, 0, IDX_H, 0, 0, 0, IDX_W};
    memcpy(b, head, sizeof head);
    for (int i = 0; i < IDX_N * IDX_H * IDX_W; i++)
        b[16 + i] = (uint8_t)(i * 37);
    return 16 + IDX_N * IDX_H * IDX_W;
}

static size_t make_labels(uint8_t *b)
{
    const uint8_t head[8] = {0, 0, 8, 1, 0, 0, 0, IDX_N};
    memcpy(b, head, sizeof head);
    for (int i = 0; i < IDX_N; i++)
        b[8 + i] = (uint8_t)(i + 7);
    return 8 + IDX_N;
}

/* gzip (not zlib) framing, as gzip(1) writes it. */
static size_t gzip_bytes(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    ck_assert_int_eq(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t len = z.total_out;
    deflateEnd(&z);
    return len;
}

typedef struct idx_env {
    char dir[256], img[300], lab[300];
} idx_env;

static void try_idx(const idx_env *e, const uint8_t *img, size_t ni, const uint8_t *lab, size_t nl)
{
    write_all(e->img, img, ni);
    write_all(e->lab, lab, nl);
    cnn_dataset *ds = (cnn_dataset *)1;
    cnn_status st = cnn_dataset_load_idx(e->img, e->lab, &ds);
    n_cases++;
    if (st != CNN_OK) {
        ck_assert_msg(is_error(st), "status %s: %s", cnn_status_name(st), cnn_last_error());
        ck_assert_ptr_null(ds);
        n_refused++;
        return;
    }
    n_loaded++;
    /* Whatever loaded must be readable end to end. */
    int32_t s[3];
    ck_assert_ok(cnn_dataset_shape(ds, s));
    int64_t count = cnn_dataset_count(ds);
    ck_assert_int_ge(count, 1);
    float *px = malloc((size_t)s[0] * (size_t)s[1] * (size_t)s[2] * sizeof *px);
    for (int64_t i = 0; i < count; i++) {
        int32_t label;
        ck_assert_ok(cnn_dataset_get(ds, i, px, &label));
        ck_assert_int_ge(label, 0);
    }
    free(px);
    cnn_dataset_destroy(ds);
}

/* Every truncation and flip of `victim` (images or labels, raw or gzip)
 * with the other file intact. */
static void damage_idx(const idx_env *e, bool images, bool gz)
{
    uint8_t img[256], lab[64], zimg[512], zlab[256], work[512];
    size_t ni = make_images(img), nl = make_labels(lab);
    const uint8_t *other;
    size_t victim_len, other_len;
    const uint8_t *victim;
    if (gz) {
        size_t zi = gzip_bytes(img, ni, zimg, sizeof zimg);
        size_t zl = gzip_bytes(lab, nl, zlab, sizeof zlab);
        victim = images ? zimg : zlab;
        victim_len = images ? zi : zl;
        other = images ? zlab : zimg;
        other_len = images ? zl : zi;
    } else {
        victim = images ? img : lab;
        victim_len = images ? ni : nl;
        other = images ? lab : img;
        other_len = images ? nl : ni;
    }
    long loaded = n_loaded;
    for (size_t len = 0; len < victim_len; len++) {
        memcpy(work, victim, len);
        if (images)
            try_idx(e, work, len, other, other_len);
        else
            try_idx(e, other, other_len, work, len);
    }
    ck_assert_int_eq(n_loaded, loaded); /* no prefix of a valid file is valid */
    for (int op = 0; op < 2; op++)
        for (size_t i = 0; i < victim_len; i++) {
            memcpy(work, victim, victim_len);
            work[i] = op == 0 ? (uint8_t)(work[i] ^ 0xFF) : (uint8_t)(work[i] + 1);
            if (images)
                try_idx(e, work, victim_len, other, other_len);
            else
                try_idx(e, other, other_len, work, victim_len);
        }
}

START_TEST(idx_damaged)
{
    idx_env e;
    reset_counts();
    const char *base = getenv("TMPDIR");
    snprintf(e.dir, sizeof e.dir, "%s/cnn-hostile-XXXXXX", base && base[0] ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(e.dir));
    snprintf(e.img, sizeof e.img, "%s/images", e.dir);
    snprintf(e.lab, sizeof e.lab, "%s/labels", e.dir);
    /* The undamaged pair loads, raw and compressed. */
    uint8_t img[256], lab[64], zimg[512], zlab[256];
    size_t ni = make_images(img), nl = make_labels(lab);
    try_idx(&e, img, ni, lab, nl);
    size_t zi = gzip_bytes(img, ni, zimg, sizeof zimg);
    size_t zl = gzip_bytes(lab, nl, zlab, sizeof zlab);
    try_idx(&e, zimg, zi, zlab, zl);
    ck_assert_int_eq(n_loaded, 2);
    for (int gz = 0; gz < 2; gz++)
        for (int images = 0; images < 2; images++)
            damage_idx(&e, images, gz);
    printf("IDX truncations and flips (images/labels, raw/gzip): %ld cases, %ld loaded, "
           "%ld refused\n",
           n_cases, n_loaded, n_refused);
    unlink(e.img);
    unlink(e.lab);
    rmdir(e.dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hostile");
    TCase *tc = tcase_create("model");
    tcase_add_test(tc, model_truncated);
    tcase_add_test(tc, model_truncated_exact_size);
    tcase_add_test(tc, model_flipped);
    suite_add_tcase(s, tc);
    tc = tcase_create("idx");
    tcase_add_test(tc, idx_damaged);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
