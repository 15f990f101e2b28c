/* IDX loading: raw and gzip round trips, and every malformed-file path by
 * its exact status.  Files are written to a fresh directory under /tmp. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include "testutil.h"

#include "core.h"
#include "data/dataset.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static char tmpdir[64];
static int used; /* entries of tpath's table, reset for every test */

static void setup(void)
{
    used = 0;
    strcpy(tmpdir, "/tmp/cnn_test_idx_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
    DIR *d = opendir(tmpdir);
    if (!d)
        return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
        if (rmdir(path) != 0)
            unlink(path);
    }
    closedir(d);
    rmdir(tmpdir);
}

/* ---- building files ------------------------------------------------------ */

typedef struct buf {
    uint8_t *p;
    size_t n;
} buf;

static void put32(buf *b, uint32_t v)
{
    b->p[b->n++] = (uint8_t)(v >> 24);
    b->p[b->n++] = (uint8_t)(v >> 16);
    b->p[b->n++] = (uint8_t)(v >> 8);
    b->p[b->n++] = (uint8_t)v;
}

/* An IDX file: magic, ndim dims, then `n` data bytes from `data` (which may
 * differ from what the dims claim, to make malformed files). */
static buf idx_file(uint32_t magic, int ndim, const uint32_t *dims, const uint8_t *data, size_t n)
{
    buf b = {malloc(4 + 4 * (size_t)ndim + n + 1), 0};
    ck_assert_ptr_nonnull(b.p);
    put32(&b, magic);
    for (int d = 0; d < ndim; d++)
        put32(&b, dims[d]);
    if (n)
        memcpy(b.p + b.n, data, n);
    b.n += n;
    return b;
}

static const char *tpath(const char *name)
{
    /* One buffer per distinct name, so a returned path stays valid (and
     * keeps naming its file) for the whole test. */
    static char path[64][256];
    char want[256];
    snprintf(want, sizeof want, "%s/%s", tmpdir, name);
    for (int i = 0; i < used; i++)
        if (strcmp(path[i], want) == 0)
            return path[i];
    ck_assert_int_lt(used, 64);
    strcpy(path[used], want);
    return path[used++];
}

static const char *write_raw(const char *name, const void *data, size_t n)
{
    const char *path = tpath(name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

static const char *write_gz(const char *name, const void *data, size_t n)
{
    const char *path = tpath(name);
    gzFile g = gzopen(path, "wb");
    ck_assert_ptr_nonnull(g);
    if (n)
        ck_assert_int_eq(gzwrite(g, data, (unsigned)n), (int)n);
    ck_assert_int_eq(gzclose(g), Z_OK);
    return path;
}

static buf read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf b = {malloc((size_t)n + 64), (size_t)n};
    ck_assert_uint_eq(fread(b.p, 1, b.n, f), b.n);
    fclose(f);
    return b;
}

/* The standard sample: N images of H x W with pseudo-random pixels. */
enum { N = 7, H = 5, W = 6 };
static uint8_t pixels[N * H * W], labels[N];

static void make_sample(void)
{
    test_rng r;
    test_rng_seed(&r, 42);
    for (size_t i = 0; i < sizeof pixels; i++)
        pixels[i] = (uint8_t)(test_rng_uniform(&r) * 256);
    for (int i = 0; i < N; i++)
        labels[i] = (uint8_t)(test_rng_uniform(&r) * 10);
}

static buf sample_images(void)
{
    make_sample();
    uint32_t dims[3] = {N, H, W};
    return idx_file(0x00000803, 3, dims, pixels, sizeof pixels);
}

static buf sample_labels(void)
{
    make_sample();
    uint32_t dims[1] = {N};
    return idx_file(0x00000801, 1, dims, labels, sizeof labels);
}

/* Loads and checks that the result is exactly the sample. */
static void expect_sample(const char *ipath, const char *lpath)
{
    cnn_dataset *ds = NULL;
    ck_assert_ok(cnn_dataset_load_idx(ipath, lpath, &ds));
    ck_assert_int_eq(cnn_dataset_count(ds), N);
    int32_t shape[3];
    ck_assert_ok(cnn_dataset_shape(ds, shape));
    ck_assert_int_eq(shape[0], 1);
    ck_assert_int_eq(shape[1], H);
    ck_assert_int_eq(shape[2], W);
    for (int i = 0; i < N; i++) {
        float x[H * W];
        int32_t label;
        ck_assert_ok(cnn_dataset_get(ds, i, x, &label));
        ck_assert_int_eq(label, labels[i]);
        for (int k = 0; k < H * W; k++)
            ck_assert(x[k] == pixels[i * H * W + k] / 256.0f);
    }
    cnn_dataset_destroy(ds);
}

/* Loads and expects `want`, NULL output, and a message naming `path`. */
static void expect_fail(const char *ipath, const char *lpath, cnn_status want, const char *path)
{
    cnn_dataset *ds = (cnn_dataset *)&ds;
    cnn_status st = cnn_dataset_load_idx(ipath, lpath, &ds);
    ck_assert_msg(st == want, "load(%s, %s) gave %s, want %s: %s", ipath, lpath,
                  cnn_status_name(st), cnn_status_name(want), cnn_last_error());
    ck_assert_ptr_null(ds);
    if (path)
        ck_assert_msg(strstr(cnn_last_error(), path) != NULL, "message '%s' does not name %s",
                      cnn_last_error(), path);
}

/* ---- round trips ----------------------------------------------------------- */

START_TEST(raw_round_trip)
{
    buf im = sample_images(), lb = sample_labels();
    const char *ip = write_raw("img", im.p, im.n);
    const char *lp = write_raw("lab", lb.p, lb.n);
    expect_sample(ip, lp);
    free(im.p);
    free(lb.p);
}
END_TEST

START_TEST(gzip_round_trip)
{
    buf im = sample_images(), lb = sample_labels();
    const char *ipz = write_gz("img.gz", im.p, im.n);
    const char *lpz = write_gz("lab.gz", lb.p, lb.n);
    const char *ip = write_raw("img", im.p, im.n);
    const char *lp = write_raw("lab", lb.p, lb.n);
    expect_sample(ipz, lpz);
    expect_sample(ipz, lp); /* mixed: detected per file */
    expect_sample(ip, lpz);
    /* Detection is by content: a gzip file without .gz in its name works. */
    buf z = read_all(ipz);
    const char *noext = write_raw("img-noext", z.p, z.n);
    expect_sample(noext, lp);
    free(z.p);
    free(im.p);
    free(lb.p);
}
END_TEST

START_TEST(gzip_concatenated_members)
{
    /* `cat a.gz b.gz` is a valid gzip file of the concatenated contents. */
    buf im = sample_images(), lb = sample_labels();
    write_gz("a.gz", im.p, 20);
    write_gz("b.gz", im.p + 20, im.n - 20);
    buf a = read_all(tpath("a.gz")), b = read_all(tpath("b.gz"));
    uint8_t *cat = malloc(a.n + b.n);
    memcpy(cat, a.p, a.n);
    memcpy(cat + a.n, b.p, b.n);
    const char *ip = write_raw("cat.gz", cat, a.n + b.n);
    const char *lp = write_raw("lab", lb.p, lb.n);
    expect_sample(ip, lp);
    free(cat);
    free(a.p);
    free(b.p);
    free(im.p);
    free(lb.p);
}
END_TEST

/* Big enough that the gzip reader's buffer has to grow past 1 MiB. */
START_TEST(gzip_large_grows_buffer)
{
    enum { BN = 3000, BS = 28 * 28 };
    uint8_t *px = malloc((size_t)BN * BS), lab[BN];
    for (size_t i = 0; i < (size_t)BN * BS; i++)
        px[i] = (uint8_t)(i * 2654435761u >> 13);
    for (int i = 0; i < BN; i++)
        lab[i] = (uint8_t)(i % 10);
    uint32_t idims[3] = {BN, 28, 28}, ldims[1] = {BN};
    buf im = idx_file(0x00000803, 3, idims, px, (size_t)BN * BS);
    buf lb = idx_file(0x00000801, 1, ldims, lab, BN);
    const char *ip = write_gz("big.gz", im.p, im.n);
    const char *lp = write_gz("lab.gz", lb.p, lb.n);
    cnn_dataset *ds;
    ck_assert_ok(cnn_dataset_load_idx(ip, lp, &ds));
    ck_assert_int_eq(cnn_dataset_count(ds), BN);
    float x[BS];
    int32_t label;
    for (int i = 0; i < BN; i += 997) {
        ck_assert_ok(cnn_dataset_get(ds, i, x, &label));
        ck_assert_int_eq(label, i % 10);
        for (int k = 0; k < BS; k++)
            ck_assert(x[k] == px[(size_t)i * BS + k] / 256.0f);
    }
    cnn_dataset_destroy(ds);
    free(px);
    free(im.p);
    free(lb.p);
}
END_TEST

/* A FIFO has no size that bounds what reading it costs (and without a
 * writer, opening it would block forever): refused, naming it, without
 * blocking.  test_hostile_io covers the other non-regular files. */
START_TEST(fifo_refused)
{
    buf lb = sample_labels();
    const char *fifo = tpath("fifo");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    const char *lp = write_raw("lab", lb.p, lb.n);
    alarm(20); /* a hang fails the test (SIGALRM) instead of stalling the suite */
    expect_fail(fifo, lp, CNN_EIO, fifo);
    ck_assert_ptr_nonnull(strstr(cnn_last_error(), "not a regular file (a FIFO)"));
    alarm(0);
    free(lb.p);
}
END_TEST

/* ---- malformed files ---------------------------------------------------------- */

/* Writes `b` raw and gzipped as the images (or labels) file next to a good
 * partner and expects EFORMAT from both. */
static void expect_format_both(buf b, int as_labels)
{
    buf im = sample_images(), lb = sample_labels();
    const char *good = as_labels ? write_raw("good", im.p, im.n) : write_raw("good", lb.p, lb.n);
    const char *bad = write_raw("bad", b.p, b.n);
    const char *badz = write_gz("bad.gz", b.p, b.n);
    if (as_labels) {
        expect_fail(good, bad, CNN_EFORMAT, bad);
        expect_fail(good, badz, CNN_EFORMAT, badz);
    } else {
        expect_fail(bad, good, CNN_EFORMAT, bad);
        expect_fail(badz, good, CNN_EFORMAT, badz);
    }
    free(im.p);
    free(lb.p);
}

START_TEST(bad_magic)
{
    make_sample();
    uint32_t dims[3] = {N, H, W};
    const uint32_t bad_images[] = {0x00000801, 0x00000804, 0x00000903, 0x00000d03,
                                   0x12340803, 0x03080000, 0xffffffff};
    for (size_t i = 0; i < sizeof bad_images / sizeof *bad_images; i++) {
        buf b = idx_file(bad_images[i], 3, dims, pixels, sizeof pixels);
        expect_format_both(b, 0);
        free(b.p);
    }
    const uint32_t bad_labels[] = {0x00000803, 0x00000802, 0x00000901, 0x01000801};
    for (size_t i = 0; i < sizeof bad_labels / sizeof *bad_labels; i++) {
        buf b = idx_file(bad_labels[i], 1, dims, labels, sizeof labels);
        expect_format_both(b, 1);
        free(b.p);
    }
}
END_TEST

START_TEST(truncated)
{
    buf im = sample_images(), lb = sample_labels();
    const size_t cuts[] = {0, 1, 3, 4, 5, 8, 12, 15, 16, 17, 100, im.n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        buf b = {im.p, cuts[i]};
        expect_format_both(b, 0);
    }
    const size_t lcuts[] = {0, 2, 4, 7, 8, lb.n - 1};
    for (size_t i = 0; i < sizeof lcuts / sizeof *lcuts; i++) {
        buf b = {lb.p, lcuts[i]};
        expect_format_both(b, 1);
    }
    free(im.p);
    free(lb.p);
}
END_TEST

START_TEST(trailing_data)
{
    buf im = sample_images(), lb = sample_labels();
    im.p[im.n] = 0;
    buf b = {im.p, im.n + 1};
    expect_format_both(b, 0);
    lb.p[lb.n] = 7;
    buf c = {lb.p, lb.n + 1};
    expect_format_both(c, 1);
    ck_assert(strstr(cnn_last_error(), "trailing") != NULL);
    free(im.p);
    free(lb.p);
}
END_TEST

START_TEST(trailing_bytes_after_gzip_stream)
{
    buf im = sample_images(), lb = sample_labels();
    const char *lp = write_raw("lab", lb.p, lb.n);
    write_gz("img.gz", im.p, im.n);
    buf z = read_all(tpath("img.gz"));
    /* One byte, some bytes, a lone gzip magic byte, bytes that are not a
     * gzip member. */
    const char *tails[] = {"\0", "garbage", "\x1f", "\x1f\x8a"};
    const size_t lens[] = {1, 7, 1, 2};
    for (int t = 0; t < 4; t++) {
        memcpy(z.p + z.n, tails[t], lens[t]);
        const char *ip = write_raw("img-tail.gz", z.p, z.n + lens[t]);
        expect_fail(ip, lp, CNN_EFORMAT, ip);
    }
    free(z.p);
    free(im.p);
    free(lb.p);
}
END_TEST

START_TEST(truncated_gzip_file)
{
    buf im = sample_images(), lb = sample_labels();
    const char *lp = write_raw("lab", lb.p, lb.n);
    write_gz("img.gz", im.p, im.n);
    buf z = read_all(tpath("img.gz"));
    /* Inside the gzip header, the deflate data, the CRC, the length. */
    const size_t cuts[] = {2, 5, 10, 12, z.n / 2, z.n - 9, z.n - 8, z.n - 5, z.n - 4, z.n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        const char *ip = write_raw("cut.gz", z.p, cuts[i]);
        expect_fail(ip, lp, CNN_EFORMAT, ip);
    }
    free(z.p);
    free(im.p);
    free(lb.p);
}
END_TEST

START_TEST(corrupt_gzip)
{
    buf im = sample_images(), lb = sample_labels();
    const char *lp = write_raw("lab", lb.p, lb.n);
    write_gz("img.gz", im.p, im.n);
    buf z = read_all(tpath("img.gz"));
    /* Method byte, reserved flag bits, deflate body bytes, CRC, length. */
    const size_t at[] = {2, 3, 10, 11, z.n / 2, z.n - 8, z.n - 5, z.n - 4, z.n - 1};
    for (size_t i = 0; i < sizeof at / sizeof *at; i++) {
        uint8_t saved = z.p[at[i]];
        z.p[at[i]] ^= at[i] == 3 ? 0xe0 : 0x55;
        const char *ip = write_raw("bad.gz", z.p, z.n);
        expect_fail(ip, lp, CNN_EFORMAT, ip);
        z.p[at[i]] = saved;
    }
    /* The same on a file large enough that the data ends in an earlier
     * inflate call than the CRC and length trailer. */
    enum { BN = 1500 };
    uint8_t *px = malloc((size_t)BN * 784), lab[BN] = {0};
    for (size_t i = 0; i < (size_t)BN * 784; i++)
        px[i] = (uint8_t)(i * 2654435761u >> 11);
    uint32_t idims[3] = {BN, 28, 28}, ldims[1] = {BN};
    buf bim = idx_file(0x00000803, 3, idims, px, (size_t)BN * 784);
    buf blb = idx_file(0x00000801, 1, ldims, lab, BN);
    const char *blp = write_raw("blab", blb.p, blb.n);
    write_gz("big.gz", bim.p, bim.n);
    buf bz = read_all(tpath("big.gz"));
    const size_t bat[] = {bz.n - 8, bz.n - 5, bz.n - 4, bz.n - 1};
    for (size_t i = 0; i < sizeof bat / sizeof *bat; i++) {
        uint8_t saved = bz.p[bat[i]];
        bz.p[bat[i]] ^= 0x55;
        const char *ip = write_raw("bigbad.gz", bz.p, bz.n);
        expect_fail(ip, blp, CNN_EFORMAT, ip);
        bz.p[bat[i]] = saved;
        ip = write_raw("bigcut.gz", bz.p, bat[i]);
        expect_fail(ip, blp, CNN_EFORMAT, ip);
    }
    free(px);
    free(bim.p);
    free(blb.p);
    free(bz.p);
    /* Random bytes after a gzip signature. */
    uint8_t junk[64] = {0x1f, 0x8b};
    for (int i = 2; i < 64; i++)
        junk[i] = (uint8_t)(i * 37 + 11);
    const char *ip = write_raw("junk.gz", junk, sizeof junk);
    expect_fail(ip, lp, CNN_EFORMAT, ip);
    free(z.p);
    free(im.p);
    free(lb.p);
}
END_TEST

START_TEST(count_mismatch)
{
    buf im = sample_images();
    uint32_t ldims[1] = {N - 1};
    buf lb = idx_file(0x00000801, 1, ldims, labels, N - 1);
    const char *ip = write_raw("img", im.p, im.n);
    const char *lp = write_raw("lab", lb.p, lb.n);
    expect_fail(ip, lp, CNN_EFORMAT, ip);
    ck_assert(strstr(cnn_last_error(), lp) != NULL);
    const char *lpz = write_gz("lab.gz", lb.p, lb.n);
    expect_fail(ip, lpz, CNN_EFORMAT, lpz);
    free(im.p);
    free(lb.p);
}
END_TEST

START_TEST(zero_dimensions)
{
    make_sample();
    const uint32_t dims[][3] = {{0, H, W}, {N, 0, W}, {N, H, 0}, {0, 0, 0}};
    for (int i = 0; i < 4; i++) {
        buf b = idx_file(0x00000803, 3, dims[i], NULL, 0);
        expect_format_both(b, 0);
        free(b.p);
    }
    uint32_t zero[1] = {0};
    buf b = idx_file(0x00000801, 1, zero, NULL, 0);
    expect_format_both(b, 1);
    free(b.p);
}
END_TEST

START_TEST(huge_claims_in_tiny_files)
{
    make_sample();
    /* Each claims far more than the 100 bytes that follow: over the count
     * limit, over the side limit, over the pixels-per-image limit, over the
     * total limit, and (the last two) within every limit but absent. */
    const uint32_t dims[][3] = {
        {(1u << 28) + 1, 1, 1}, {1, 65536, 1}, {1, 1, 0xffffffffu}, {1, 5000, 5000},
        {1u << 28, 28, 28},     {0xffffffffu, 0xffffffffu, 0xffffffffu},
        {1000000, 100, 100},    {1u << 28, 8, 8},
    };
    for (size_t i = 0; i < sizeof dims / sizeof *dims; i++) {
        buf b = idx_file(0x00000803, 3, dims[i], pixels, 100);
        expect_format_both(b, 0);
        free(b.p);
    }
    uint32_t many[1] = {0xffffffffu};
    buf b = idx_file(0x00000801, 1, many, labels, N);
    expect_format_both(b, 1);
    free(b.p);
}
END_TEST

START_TEST(missing_or_unreadable)
{
    buf im = sample_images(), lb = sample_labels();
    const char *ip = write_raw("img", im.p, im.n);
    const char *lp = write_raw("lab", lb.p, lb.n);
    const char *none = tpath("no-such-file");
    expect_fail(none, lp, CNN_EIO, none);
    expect_fail(ip, none, CNN_EIO, none);
    expect_fail(tmpdir, lp, CNN_EIO, tmpdir); /* a directory */
    /* A file that opens but cannot be read: offset 0 of /proc/self/mem is
     * unmapped, so read() fails with EIO. */
    if (access("/proc/self/mem", R_OK) == 0)
        expect_fail("/proc/self/mem", lp, CNN_EIO, "/proc/self/mem");
    /* An empty file exists but has no header. */
    const char *empty = write_raw("empty", "", 0);
    expect_fail(empty, lp, CNN_EFORMAT, empty);
    free(im.p);
    free(lb.p);
}
END_TEST

START_TEST(null_arguments)
{
    buf im = sample_images(), lb = sample_labels();
    const char *ip = write_raw("img", im.p, im.n);
    const char *lp = write_raw("lab", lb.p, lb.n);
    cnn_dataset *ds = (cnn_dataset *)&ds;
    ck_assert_status(cnn_dataset_load_idx(NULL, lp, &ds), CNN_EINVAL);
    ck_assert_ptr_null(ds);
    ck_assert_status(cnn_dataset_load_idx(ip, NULL, &ds), CNN_EINVAL);
    ck_assert_status(cnn_dataset_load_idx(ip, lp, NULL), CNN_EINVAL);
    ck_assert_status(cnn_dataset_load_mnist(NULL, CNN_MNIST_TRAIN, &ds), CNN_EINVAL);
    ck_assert_status(cnn_dataset_load_mnist(tmpdir, CNN_MNIST_TRAIN, NULL), CNN_EINVAL);
    ck_assert_status(cnn_dataset_load_mnist(tmpdir, 2, &ds), CNN_EINVAL);
    ck_assert_status(cnn_dataset_load_mnist(tmpdir, -1, &ds), CNN_EINVAL);
    free(im.p);
    free(lb.p);
}
END_TEST

START_TEST(load_mnist_names)
{
    buf im = sample_images(), lb = sample_labels();
    /* train: images gzipped, labels raw; test: the other way round. */
    write_gz("train-images-idx3-ubyte.gz", im.p, im.n);
    write_raw("train-labels-idx1-ubyte", lb.p, lb.n);
    cnn_dataset *ds = (cnn_dataset *)&ds;
    ck_assert_status(cnn_dataset_load_mnist(tmpdir, CNN_MNIST_TEST, &ds), CNN_EIO);
    ck_assert_ptr_null(ds);
    ck_assert_msg(strstr(cnn_last_error(), "t10k-images-idx3-ubyte") != NULL &&
                      strstr(cnn_last_error(), "t10k-images-idx3-ubyte.gz") != NULL,
                  "message does not name both files: %s", cnn_last_error());
    write_raw("t10k-images-idx3-ubyte", im.p, im.n);
    ck_assert_status(cnn_dataset_load_mnist(tmpdir, CNN_MNIST_TEST, &ds), CNN_EIO);
    ck_assert(strstr(cnn_last_error(), "t10k-labels-idx1-ubyte") != NULL);
    write_gz("t10k-labels-idx1-ubyte.gz", lb.p, lb.n);

    for (int split = 0; split < 2; split++) {
        ck_assert_ok(cnn_dataset_load_mnist(tmpdir, split, &ds));
        ck_assert_int_eq(cnn_dataset_count(ds), N);
        int32_t label;
        ck_assert_ok(cnn_dataset_get(ds, N - 1, NULL, &label));
        ck_assert_int_eq(label, labels[N - 1]);
        cnn_dataset_destroy(ds);
    }
    /* The uncompressed file wins when both exist: make the .gz one bad. */
    write_raw("t10k-labels-idx1-ubyte.gz", "bad", 3);
    ck_assert_status(cnn_dataset_load_mnist(tmpdir, CNN_MNIST_TEST, &ds), CNN_EFORMAT);
    write_raw("t10k-labels-idx1-ubyte", lb.p, lb.n);
    ck_assert_ok(cnn_dataset_load_mnist(tmpdir, CNN_MNIST_TEST, &ds));
    cnn_dataset_destroy(ds);
    /* A directory that does not exist. */
    ck_assert_status(cnn_dataset_load_mnist("/nonexistent/cnn-mnist", CNN_MNIST_TRAIN, &ds),
                     CNN_EIO);
    ck_assert(strstr(cnn_last_error(), "/nonexistent/cnn-mnist/train-images-idx3-ubyte") != NULL);
    free(im.p);
    free(lb.p);
}
END_TEST

START_TEST(alloc_failure_cleans_up)
{
    buf im = sample_images(), lb = sample_labels();
    /* A gzip file big enough that its buffer grows past 1 MiB. */
    enum { BN = 1500 };
    uint8_t *px = calloc((size_t)BN * 28 * 28, 1), lab[BN] = {0};
    uint32_t idims[3] = {BN, 28, 28}, ldims[1] = {BN};
    buf bim = idx_file(0x00000803, 3, idims, px, (size_t)BN * 28 * 28);
    buf blb = idx_file(0x00000801, 1, ldims, lab, BN);
    const char *paths[3][2] = {
        {write_raw("img", im.p, im.n), write_raw("lab", lb.p, lb.n)},
        {write_gz("img.gz", im.p, im.n), write_gz("lab.gz", lb.p, lb.n)},
        {write_gz("big.gz", bim.p, bim.n), write_gz("blab.gz", blb.p, blb.n)},
    };
    write_raw("train-images-idx3-ubyte", im.p, im.n);
    write_gz("train-labels-idx1-ubyte.gz", lb.p, lb.n);
    for (int kind = 0; kind < 4; kind++) {
        int ok = 0;
        for (int64_t n = 0; n < 100 && !ok; n++) {
            cnn_dataset *ds = (cnn_dataset *)&ds;
            cnn_test_fail_alloc_after(n);
            cnn_status st = kind < 3
                                ? cnn_dataset_load_idx(paths[kind][0], paths[kind][1], &ds)
                                : cnn_dataset_load_mnist(tmpdir, CNN_MNIST_TRAIN, &ds);
            cnn_test_fail_alloc_after(-1);
            if (st == CNN_OK) {
                ok = 1;
                cnn_dataset_destroy(ds);
            } else {
                ck_assert_msg(st == CNN_ENOMEM, "after %lld allocations: %s", (long long)n,
                              cnn_last_error());
                ck_assert_ptr_null(ds);
            }
        }
        ck_assert(ok);
    }
    free(px);
    free(bim.p);
    free(blb.p);
    free(im.p);
    free(lb.p);
}
END_TEST

/* Real MNIST, if the fetch script has put it in data/mnist; skipped if not. */
START_TEST(real_mnist_if_present)
{
    /* CNN_TEST_MNIST_DIR overrides the location (and lets the skip path be
     * exercised by pointing it somewhere empty). */
    const char *dir = getenv("CNN_TEST_MNIST_DIR");
    if (!dir || !*dir)
        dir = CNN_TEST_SRCDIR "/../data/mnist";
    char probe[512];
    snprintf(probe, sizeof probe, "%s/train-labels-idx1-ubyte", dir);
    struct stat st;
    char probegz[520];
    snprintf(probegz, sizeof probegz, "%s.gz", probe);
    if (stat(probe, &st) != 0 && stat(probegz, &st) != 0) {
        printf("test_idx: SKIP real MNIST check: no data in %s\n", dir);
        return;
    }
    cnn_dataset *train, *test;
    ck_assert_ok(cnn_dataset_load_mnist(dir, CNN_MNIST_TRAIN, &train));
    ck_assert_ok(cnn_dataset_load_mnist(dir, CNN_MNIST_TEST, &test));
    ck_assert_int_eq(cnn_dataset_count(train), 60000);
    ck_assert_int_eq(cnn_dataset_count(test), 10000);
    int32_t shape[3], label;
    ck_assert_ok(cnn_dataset_shape(train, shape));
    ck_assert_int_eq(shape[1], 28);
    ck_assert_int_eq(shape[2], 28);
    ck_assert_ok(cnn_dataset_get(train, 0, NULL, &label));
    ck_assert_int_eq(label, 5); /* the well-known first training label */
    ck_assert_ok(cnn_dataset_get(test, 0, NULL, &label));
    ck_assert_int_eq(label, 7);
    ck_assert_int_eq(cnn_dataset_classes(train), 10);
    cnn_dataset_destroy(train);
    cnn_dataset_destroy(test);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("idx");
    TCase *tc = tcase_create("load");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, raw_round_trip);
    tcase_add_test(tc, gzip_round_trip);
    tcase_add_test(tc, gzip_concatenated_members);
    tcase_add_test(tc, gzip_large_grows_buffer);
    tcase_add_test(tc, fifo_refused);
    tcase_add_test(tc, bad_magic);
    tcase_add_test(tc, truncated);
    tcase_add_test(tc, trailing_data);
    tcase_add_test(tc, trailing_bytes_after_gzip_stream);
    tcase_add_test(tc, truncated_gzip_file);
    tcase_add_test(tc, corrupt_gzip);
    tcase_add_test(tc, count_mismatch);
    tcase_add_test(tc, zero_dimensions);
    tcase_add_test(tc, huge_claims_in_tiny_files);
    tcase_add_test(tc, missing_or_unreadable);
    tcase_add_test(tc, null_arguments);
    tcase_add_test(tc, load_mnist_names);
    tcase_add_test(tc, alloc_failure_cleans_up);
    tcase_add_test(tc, real_mnist_if_present);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
