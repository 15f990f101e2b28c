/* Bounded cost for hostile files (issue 16, section 4) and the atomic
 * replace path's temporary files (section 5):
 *   - a gzip IDX file whose header claims more than any gzip file of its
 *     size can hold is refused before anything is inflated;
 *   - a gzip IDX file that keeps inflating past its declared size stops
 *     soon after it, and a damaged stream is reported as corrupt (zlib's
 *     message), not as trailing data;
 *   - FIFOs and character devices (/dev/zero) are refused by every reader
 *     (IDX, model, checkpoint) promptly, naming the path: they could block
 *     or never end.  alarm() turns a hang into a failure (SIGALRM);
 *   - a failed replace leaves no temporary file; temporary files of dead
 *     processes are removed by the next save of the same path, those of
 *     live processes are kept.
 * Nothing here asserts a time: the bounds are on work, checked through
 * the messages (which say where the reader stopped). */
#define _DEFAULT_SOURCE /* mkdtemp */
#include "testfs.h"
#include "testutil.h"

#include "core.h"
#include "io/file_io.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

static char tmpdir[64];

static void setup(void)
{
    strcpy(tmpdir, "/tmp/cnn_test_hostile_io_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
    test_rm_tree(tmpdir);
}

static const char *tpath(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", tmpdir, name);
    return buf;
}

/* ---- IDX files ------------------------------------------------------------ */

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Writes a gzip file holding an IDX header (magic, ndim dims) followed by
 * `data` bytes, `data` bytes of zeros when data is NULL, compressed as a
 * stream so that gigabyte-sized bombs cost only their compressed size. */
static void write_gz_idx(const char *path, uint32_t magic, int ndim, const uint32_t *dims,
                         const uint8_t *data, uint64_t n)
{
    uint8_t hdr[16];
    be32(hdr, magic);
    for (int d = 0; d < ndim; d++)
        be32(hdr + 4 + 4 * d, dims[d]);
    gzFile g = gzopen(path, "wb9");
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(gzwrite(g, hdr, (unsigned)(4 + 4 * ndim)), 4 + 4 * ndim);
    static uint8_t zeros[1 << 16];
    for (uint64_t done = 0; done < n;) {
        unsigned chunk = n - done < sizeof zeros ? (unsigned)(n - done) : (unsigned)sizeof zeros;
        ck_assert_int_eq(gzwrite(g, data ? data + done : zeros, chunk), (int)chunk);
        done += chunk;
    }
    ck_assert_int_eq(gzclose(g), Z_OK);
}

static void write_raw_idx(const char *path, uint32_t magic, int ndim, const uint32_t *dims,
                          const uint8_t *data, size_t n)
{
    uint8_t *b = malloc(16 + n);
    be32(b, magic);
    for (int d = 0; d < ndim; d++)
        be32(b + 4 + 4 * d, dims[d]);
    memcpy(b + 4 + 4 * ndim, data, n);
    test_write_file(path, b, (size_t)(4 + 4 * ndim) + n);
    free(b);
}

static void expect_idx_fail(const char *ip, const char *lp, cnn_status want, const char *text)
{
    cnn_dataset *ds = (cnn_dataset *)&ds;
    cnn_status st = cnn_dataset_load_idx(ip, lp, &ds);
    ck_assert_msg(st == want, "load(%s, %s) gave %s, want %s: %s", ip, lp, cnn_status_name(st),
                  cnn_status_name(want), cnn_last_error());
    ck_assert_ptr_null(ds);
    ck_assert_msg(strstr(cnn_last_error(), text) != NULL, "message '%s' lacks '%s'",
                  cnn_last_error(), text);
}

/* A small gzip file whose header claims gigabytes: before the fix it was
 * inflated (and its buffer doubled) until the data ran out, ~1000 times
 * the file's size; now the claim is refused from the file size alone. */
START_TEST(gzip_bomb_claim_refused_up_front)
{
    char ip[128], lp[128];
    /* 2^28 images of 8x8 = 16 GiB declared; 8 MiB of zeros present
     * (about 8 KiB compressed). */
    uint32_t idims[3] = {1u << 28, 8, 8}, ldims[1] = {1u << 28};
    write_gz_idx(tpath(ip, sizeof ip, "img.gz"), 0x00000803, 3, idims, NULL, 8u << 20);
    write_gz_idx(tpath(lp, sizeof lp, "lab.gz"), 0x00000801, 1, ldims, NULL, 1u << 20);
    expect_idx_fail(ip, lp, CNN_EFORMAT, "more than a gzip file of");
    ck_assert_ptr_nonnull(strstr(cnn_last_error(), ip));
    /* The same for a labels file: checked with its header, before the
     * counts are compared and before any data of either file is read. */
    uint32_t small[3] = {10, 1, 1};
    write_gz_idx(ip, 0x00000803, 3, small, NULL, 10);
    expect_idx_fail(ip, lp, CNN_EFORMAT, "more than a gzip file of");
    ck_assert_ptr_nonnull(strstr(cnn_last_error(), lp));
}
END_TEST

/* A header declaring 10 images followed by 64 MiB of zeros: inflating
 * stops soon after the declared end, with a trailing-data message that
 * says where it stopped. */
START_TEST(gzip_bomb_after_data_stops_early)
{
    char ip[128], lp[128];
    uint32_t idims[3] = {10, 28, 28}, ldims[1] = {10};
    uint8_t labels[10] = {0};
    write_gz_idx(tpath(ip, sizeof ip, "img.gz"), 0x00000803, 3, idims, NULL,
                 10 * 784 + (64u << 20));
    write_raw_idx(tpath(lp, sizeof lp, "lab"), 0x00000801, 1, ldims, labels, 10);
    expect_idx_fail(ip, lp, CNN_EFORMAT, "trailing data after the decompressed contents");
    ck_assert_ptr_nonnull(strstr(cnn_last_error(), "stopped there"));
    /* A little trailing data is measured exactly. */
    write_gz_idx(ip, 0x00000803, 3, idims, NULL, 10 * 784 + 5000);
    expect_idx_fail(ip, lp, CNN_EFORMAT, "(5000 bytes more than the header declares)");
}
END_TEST

/* Every byte of a gzip stream's deflate body and trailer flipped in turn:
 * the load fails with CNN_EFORMAT, never reported as "trailing data" (a
 * damaged stream can inflate to more than was compressed; zlib's CRC says
 * it is corrupt). */
START_TEST(gzip_flipped_byte_is_corrupt_not_trailing)
{
    char ip[128], lp[128], zp[128];
    enum { NI = 40 };
    static uint8_t px[NI * 784];
    uint8_t labels[NI];
    for (size_t i = 0; i < sizeof px; i++) /* compressible, but not trivially */
        px[i] = (uint8_t)((i % 784) < 392 ? (i * 7) % 13 : 0);
    for (int i = 0; i < NI; i++)
        labels[i] = (uint8_t)(i % 10);
    uint32_t idims[3] = {NI, 28, 28}, ldims[1] = {NI};
    write_gz_idx(tpath(zp, sizeof zp, "good.gz"), 0x00000803, 3, idims, px, sizeof px);
    write_raw_idx(tpath(lp, sizeof lp, "lab"), 0x00000801, 1, ldims, labels, NI);
    size_t n;
    uint8_t *z = test_read_file(zp, &n);
    tpath(ip, sizeof ip, "bad.gz");
    int corrupt = 0, loaded = 0;
    for (size_t at = 10; at < n; at++) {
        for (int bit = 0; bit < 8; bit++) {
            z[at] ^= (uint8_t)(1u << bit);
            test_write_file(ip, z, n);
            cnn_dataset *ds = NULL;
            cnn_status st = cnn_dataset_load_idx(ip, lp, &ds);
            z[at] ^= (uint8_t)(1u << bit);
            if (st == CNN_OK) {
                /* Only a bit deflate ignores (the final byte's padding, a
                 * header flag zlib skips) may load, and then unchanged. */
                float got[784];
                ck_assert_int_eq(cnn_dataset_count(ds), NI);
                for (int i = 0; i < NI; i++) {
                    ck_assert_ok(cnn_dataset_get(ds, i, got, NULL));
                    for (int k = 0; k < 784; k++)
                        ck_assert(got[k] == (float)px[i * 784 + k] / 256.0f);
                }
                cnn_dataset_destroy(ds);
                loaded++;
                continue;
            }
            ck_assert_msg(st == CNN_EFORMAT, "byte %zu bit %d: %s: %s", at, bit,
                          cnn_status_name(st), cnn_last_error());
            ck_assert_msg(strstr(cnn_last_error(), "trailing") == NULL,
                          "byte %zu bit %d: %s", at, bit, cnn_last_error());
            corrupt += strstr(cnn_last_error(), "corrupt gzip stream") != NULL;
        }
    }
    printf("gzip flips: %zu cases, %d reported as corrupt gzip streams, %d loaded unchanged\n",
           (n - 10) * 8, corrupt, loaded);
    ck_assert_int_gt(corrupt, 0);
    free(z);
}
END_TEST

/* ---- FIFOs and devices ---------------------------------------------------- */

/* A FIFO with no writer: opening it for reading used to block forever. */
START_TEST(fifo_refused_by_every_reader)
{
    char fifo[128], lp[128], dir[128], path[256];
    uint8_t labels[1] = {0};
    uint32_t ldims[1] = {1};
    ck_assert_int_eq(mkfifo(tpath(fifo, sizeof fifo, "fifo"), 0600), 0);
    write_raw_idx(tpath(lp, sizeof lp, "lab"), 0x00000801, 1, ldims, labels, 1);
    alarm(30);
    expect_idx_fail(fifo, lp, CNN_EIO, "not a regular file (a FIFO)");
    ck_assert_ptr_nonnull(strstr(cnn_last_error(), fifo));
    char ip[128];
    uint32_t idims[3] = {1, 1, 1};
    write_raw_idx(tpath(ip, sizeof ip, "img"), 0x00000803, 3, idims, labels, 1);
    expect_idx_fail(ip, fifo, CNN_EIO, "not a regular file (a FIFO)");

    /* --data DIR: a FIFO under the standard name. */
    ck_assert_int_eq(mkdir(tpath(dir, sizeof dir, "mnist"), 0700), 0);
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte", dir);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte", dir);
    write_raw_idx(path, 0x00000801, 1, ldims, labels, 1);
    cnn_dataset *ds = (cnn_dataset *)&ds;
    ck_assert_status(cnn_dataset_load_mnist(dir, CNN_MNIST_TEST, &ds), CNN_EIO);
    ck_assert_ptr_null(ds);
    ck_assert_ptr_nonnull(strstr(cnn_last_error(), "not a regular file"));

    /* --load and --resume. */
    cnn_net *net = (cnn_net *)&net;
    ck_assert_status(cnn_net_load(fifo, &net), CNN_EIO);
    ck_assert_ptr_null(net);
    ck_assert_ptr_nonnull(strstr(cnn_last_error(), "is a FIFO, not a regular file"));
    ck_assert_ptr_nonnull(strstr(cnn_last_error(), fifo));
    int32_t epoch = -1;
    ck_assert_status(cnn_checkpoint_info(fifo, &epoch), CNN_EIO);
    ck_assert_ptr_nonnull(strstr(cnn_last_error(), "is a FIFO, not a regular file"));
    alarm(0);
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte", dir);
    unlink(path);
    rmdir(dir);
}
END_TEST

/* /dev/zero never ends: it used to be read up to the size limit (8.4 GB
 * for a model).  Refused without reading. */
START_TEST(endless_device_refused)
{
    if (access("/dev/zero", R_OK) != 0)
        return;
    char lp[128];
    uint8_t labels[1] = {0};
    uint32_t ldims[1] = {1};
    write_raw_idx(tpath(lp, sizeof lp, "lab"), 0x00000801, 1, ldims, labels, 1);
    alarm(30);
    cnn_net *net = (cnn_net *)&net;
    ck_assert_status(cnn_net_load("/dev/zero", &net), CNN_EIO);
    ck_assert_ptr_null(net);
    ck_assert_ptr_nonnull(strstr(cnn_last_error(), "'/dev/zero' is a character device"));
    int32_t epoch = -1;
    ck_assert_status(cnn_checkpoint_info("/dev/zero", &epoch), CNN_EIO);
    expect_idx_fail("/dev/zero", lp, CNN_EIO, "/dev/zero: not a regular file (a character device)");
    uint8_t *buf = NULL;
    size_t size = 0;
    ck_assert_status(cnn_io_read_file("test", "thing", "/dev/zero", UINT64_MAX, &buf, &size),
                     CNN_EIO);
    ck_assert_ptr_null(buf);
    alarm(0);
}
END_TEST

/* A regular file is read by its size, checked before reading: one larger
 * than the limit (sparse, so it costs nothing) is refused unread. */
START_TEST(regular_file_size_checked_first)
{
    char p[128];
    FILE *f = fopen(tpath(p, sizeof p, "big"), "wb");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    ck_assert_int_eq(truncate(p, (off_t)1 << 40), 0); /* 1 TiB, sparse */
    uint8_t *buf = NULL;
    size_t size = 0;
    ck_assert_status(cnn_io_read_file("test", "thing", p, (uint64_t)1 << 20, &buf, &size),
                     CNN_EFORMAT);
    ck_assert_ptr_nonnull(strstr(cnn_last_error(), "more than a thing may be (1048576)"));
    ck_assert_int_eq(truncate(p, 5), 0);
    ck_assert_ok(cnn_io_read_file("test", "thing", p, 5, &buf, &size));
    ck_assert_uint_eq(size, 5);
    cnn_dealloc(buf);
}
END_TEST

/* ---- the replace path's temporary files ----------------------------------- */

/* A pid that no longer exists: a child that has exited and been reaped. */
static pid_t dead_pid(void)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(0);
    ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
    ck_assert_int_eq(kill(pid, 0), -1);
    return pid;
}

/* A write that fails (RLIMIT_FSIZE with SIGXFSZ ignored: write() returns
 * EFBIG) leaves no temporary file, and the message names it with the
 * writer's pid.  Run in a child: the limit and the signal are per process. */
START_TEST(failed_write_leaves_no_tmp)
{
    char p[128];
    tpath(p, sizeof p, "net.cnnm");
    test_write_file(p, "old", 3);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {4096, 4096};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(10);
        size_t n = 1 << 20;
        uint8_t *buf = calloc(n, 1);
        cnn_status st = cnn_io_replace_file("test", p, buf, n);
        free(buf);
        char want[64];
        snprintf(want, sizeof want, ".tmp.%ld.", (long)getpid());
        if (st != CNN_EIO)
            _exit(11);
        if (strstr(cnn_last_error(), "write of") == NULL ||
            strstr(cnn_last_error(), strerror(EFBIG)) == NULL)
            _exit(12);
        if (strstr(cnn_last_error(), want) == NULL)
            _exit(13);
        _exit(0);
    }
    int ws;
    ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
    ck_assert_msg(WIFEXITED(ws), "child killed by signal %d", WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
    ck_assert_int_eq(WEXITSTATUS(ws), 0);
    ck_assert_int_eq(test_dir_entries(tmpdir), 1); /* only net.cnnm */
    size_t n;
    uint8_t *old = test_read_file(p, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(memcmp(old, "old", 3), 0);
    free(old);
}
END_TEST

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* A process killed during its fsync leaves "<path>.tmp.<pid>.XXXXXX": the
 * next save of the same path removes it.  Temporary files of live
 * processes, of other paths, and names that are not ours stay. */
START_TEST(stale_tmp_of_dead_process_removed)
{
    char p[128], stale[256], stale2[256], live[256], other[256], odd[256], old_style[256];
    tpath(p, sizeof p, "s.ckpt");
    pid_t dead = dead_pid();
    snprintf(stale, sizeof stale, "%s.tmp.%ld.AbC123", p, (long)dead);
    snprintf(stale2, sizeof stale2, "%s.tmp.%ld.zzzzzz", p, (long)dead);
    snprintf(live, sizeof live, "%s.tmp.%ld.AbC123", p, (long)getppid());
    snprintf(other, sizeof other, "%s/t.ckpt.tmp.%ld.AbC123", tmpdir, (long)dead);
    snprintf(odd, sizeof odd, "%s.tmp.%ld.toolong7", p, (long)dead);
    snprintf(old_style, sizeof old_style, "%s.tmp.AbC123", p);
    const char *keep[] = {live, other, odd, old_style};
    test_write_file(stale, "x", 1);
    test_write_file(stale2, "x", 1);
    for (size_t i = 0; i < 4; i++)
        test_write_file(keep[i], "x", 1);
    ck_assert_ok(cnn_io_replace_file("test", p, (const uint8_t *)"new", 3));
    ck_assert_msg(!exists(stale), "%s is still there", stale);
    ck_assert_msg(!exists(stale2), "%s is still there", stale2);
    for (size_t i = 0; i < 4; i++)
        ck_assert_msg(exists(keep[i]), "%s was removed", keep[i]);
    ck_assert_int_eq(test_dir_entries(tmpdir), 5);
    /* A relative path (no directory part) works the same. */
    char cwd[4096];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(tmpdir), 0);
    test_write_file(stale, "x", 1);
    ck_assert_ok(cnn_io_replace_file("test", "s.ckpt", (const uint8_t *)"new", 3));
    ck_assert_int_eq(chdir(cwd), 0);
    ck_assert_msg(!exists(stale), "%s is still there", stale);
    ck_assert_int_eq(test_dir_entries(tmpdir), 5);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hostile_io");
    TCase *tc = tcase_create("files");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, gzip_bomb_claim_refused_up_front);
    tcase_add_test(tc, gzip_bomb_after_data_stops_early);
    tcase_add_test(tc, gzip_flipped_byte_is_corrupt_not_trailing);
    tcase_add_test(tc, fifo_refused_by_every_reader);
    tcase_add_test(tc, endless_device_refused);
    tcase_add_test(tc, regular_file_size_checked_first);
    tcase_add_test(tc, failed_write_leaves_no_tmp);
    tcase_add_test(tc, stale_tmp_of_dead_process_removed);
    suite_add_tcase(s, tc);
    return test_run_suite(s) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
