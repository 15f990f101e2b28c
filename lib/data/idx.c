/* IDX file loading (the MNIST distribution format), raw or gzip.
 *
 * Format: a big-endian 32-bit magic 0x0000TTDD (TT = element type, 0x08 for
 * unsigned bytes; DD = number of dimensions), DD big-endian 32-bit sizes,
 * then the elements.  Images are 0x00000803 (N, H, W), labels 0x00000801 (N).
 *
 * The files may come from anywhere, so every header field is checked
 * before anything is allocated, against these limits:
 *   - every dimension >= 1;
 *   - N (examples) <= 2^28 (268 million; MNIST has 60,000);
 *   - H and W <= CNN_MAX_DIM, and H*W <= CNN_MAX_EXAMPLE (CNN_DATA_MAX_EXAMPLE_SIZE);
 *   - N*H*W <= 2^34 bytes (16 GiB) and must fit size_t.
 * Only regular files are read (a FIFO, /dev/zero or a terminal could block
 * or never end; they are refused with CNN_EIO, opened O_NONBLOCK so that a
 * FIFO without a writer does not block the open).  Raw files must be
 * exactly header + data bytes long (fstat), so a short or padded file is
 * CNN_EFORMAT before any allocation.  For gzip the decompressed size is
 * unknown up front, but it cannot exceed 1032 times the file's size
 * (deflate's densest code): a header claiming more is CNN_EFORMAT before
 * anything is inflated.  Otherwise the buffer starts at 1 MiB (or the
 * claimed size, if smaller) and doubles, never beyond the claim, only as
 * data actually arrives, so a hostile file costs at most twice what it
 * really decompresses to, and inflating stops at the claimed size (plus at
 * most 1 MiB to tell trailing data from a damaged stream, see
 * src_expect_end).  After the data the stream must end: trailing bytes, in
 * the file or in the decompressed stream, are CNN_EFORMAT, as is a gzip
 * stream that is corrupt, fails its CRC or stops early.  Concatenated gzip
 * members (which gzip itself produces for `cat a.gz b.gz`) are accepted.
 *
 * zlib's allocations go through cnn_alloc, so failure injection covers them. */
#include "dataset.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define IDX_MAX_COUNT ((uint32_t)1 << 28)
#define IDX_MAX_SIDE ((uint32_t)CNN_MAX_DIM) /* the library's (cnn.h) */
#define IDX_MAX_TOTAL ((uint64_t)1 << 34)
#define IDX_IN_CHUNK ((size_t)1 << 16)   /* compressed input buffer */
#define IDX_FIRST_ALLOC ((size_t)1 << 20) /* first data buffer for gzip input */
/* Deflate's densest code is 2 bits (a 1-bit length code for 258 bytes and a
 * 1-bit distance code) per 258 bytes: no gzip file of C bytes inflates to
 * more than 1032 * C bytes. */
#define IDX_GZ_MAX_RATIO 1032u
/* Decompressed bytes inflated past the declared end looking for the CRC
 * (src_expect_end). */
#define IDX_DRAIN_LIMIT ((uint64_t)1 << 20)

#define IDX_IMAGES_MAGIC 0x00000803u
#define IDX_LABELS_MAGIC 0x00000801u

/* One input file: raw bytes or an inflating gzip stream, read through the
 * same calls.  Raw bytes already pulled into `in` while sniffing the format
 * are served first. */
typedef struct idx_src {
    const char *path;
    FILE *f;
    int64_t file_size; /* bytes (fstat; only regular files are read) */
    unsigned char *in; /* IDX_IN_CHUNK bytes */
    bool gz;
    bool z_ready;      /* inflateInit2 succeeded: inflateEnd needed */
    bool member_done;  /* inflate reached the end of a gzip member */
    z_stream z;        /* next_in/avail_in also track `in` for raw files */
} idx_src;

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    return cnn_alloc_array(items, size);
}

static void z_free(voidpf opaque, voidpf ptr)
{
    (void)opaque;
    cnn_dealloc(ptr);
}

static cnn_status io_fail(const idx_src *s, const char *what, int err)
{
    char buf[128];
    if (strerror_r(err, buf, sizeof buf) != 0)
        snprintf(buf, sizeof buf, "error %d", err);
    return cnn_fail(CNN_EIO, "idx: %s: %s: %s", s->path, what, buf);
}

/* Refills `in` once.  *eof is set when no bytes remain in the file. */
static cnn_status fill(idx_src *s, bool *eof)
{
    size_t keep = s->z.avail_in;
    if (keep && s->z.next_in != s->in)
        memmove(s->in, s->z.next_in, keep);
    size_t got = fread(s->in + keep, 1, IDX_IN_CHUNK - keep, s->f);
    if (got == 0 && ferror(s->f))
        return io_fail(s, "read failed", errno);
    s->z.next_in = s->in;
    s->z.avail_in = (uInt)(keep + got);
    *eof = got == 0;
    return CNN_OK;
}

static void src_close(idx_src *s)
{
    if (s->z_ready)
        inflateEnd(&s->z);
    if (s->f)
        fclose(s->f);
    cnn_dealloc(s->in);
    s->f = NULL;
    s->in = NULL;
    s->z_ready = false;
}

static cnn_status src_open(idx_src *s, const char *path)
{
    memset(s, 0, sizeof *s);
    s->path = path;
    s->file_size = -1;
    /* O_NONBLOCK: a FIFO without a writer must not block the open (it is
     * refused below; for a regular file the flag changes nothing). */
    int fd;
    do
        fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return io_fail(s, "cannot open", errno);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return io_fail(s, "cannot stat", err);
    }
    /* Only regular files: their size bounds what reading them costs.  A
     * FIFO, /dev/zero or a terminal could block or never end. */
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        if (S_ISDIR(st.st_mode))
            return io_fail(s, "cannot read", EISDIR);
        return cnn_fail(CNN_EIO, "idx: %s: not a regular file (%s)", path,
                        S_ISFIFO(st.st_mode)  ? "a FIFO"
                        : S_ISCHR(st.st_mode) ? "a character device"
                        : S_ISBLK(st.st_mode) ? "a block device"
                        : S_ISSOCK(st.st_mode) ? "a socket"
                                               : "of an unknown kind");
    }
    s->file_size = (int64_t)st.st_size;
    s->f = fdopen(fd, "rb");
    if (!s->f) {
        int err = errno;
        close(fd);
        return io_fail(s, "cannot open", err);
    }
    s->in = cnn_alloc(IDX_IN_CHUNK);
    if (!s->in)
        return cnn_fail(CNN_ENOMEM, "idx: %s: out of memory for the read buffer", path);

    /* Sniff the gzip signature.  A raw IDX file starts 00 00, never 1f 8b. */
    bool eof;
    cnn_status rc = fill(s, &eof);
    if (rc != CNN_OK)
        return rc;
    if (s->z.avail_in >= 2 && s->in[0] == 0x1f && s->in[1] == 0x8b) {
        s->gz = true;
        s->z.zalloc = z_alloc;
        s->z.zfree = z_free;
        int zr = inflateInit2(&s->z, 16 + MAX_WBITS); /* 16: gzip wrapper only */
        if (zr == Z_MEM_ERROR)
            return cnn_fail(CNN_ENOMEM, "idx: %s: out of memory for zlib", path);
        if (zr != Z_OK)
            return cnn_fail(CNN_EFORMAT, "idx: %s: zlib cannot start (%d)", path, zr);
        s->z_ready = true;
    }
    return CNN_OK;
}

/* Reads up to n bytes; *got < n only at the end of the (decompressed) data. */
static cnn_status src_read(idx_src *s, unsigned char *buf, size_t n, size_t *got)
{
    *got = 0;
    if (!s->gz) {
        size_t take = s->z.avail_in < n ? s->z.avail_in : n;
        memcpy(buf, s->z.next_in, take);
        s->z.next_in += take;
        s->z.avail_in -= (uInt)take;
        size_t r = take < n ? fread(buf + take, 1, n - take, s->f) : 0;
        if (take + r < n && ferror(s->f))
            return io_fail(s, "read failed", errno);
        *got = take + r;
        return CNN_OK;
    }
    while (*got < n) {
        bool eof = false;
        if (s->z.avail_in < 2) { /* 2: enough to recognise a next member */
            cnn_status rc = fill(s, &eof);
            if (rc != CNN_OK)
                return rc;
        }
        if (s->member_done) {
            if (s->z.avail_in == 0)
                break; /* clean end of the last member */
            if (s->z.avail_in < 2 || s->z.next_in[0] != 0x1f || s->z.next_in[1] != 0x8b)
                return cnn_fail(CNN_EFORMAT, "idx: %s: trailing data after the gzip stream",
                                s->path);
            inflateReset(&s->z);
            s->member_done = false;
        }
        if (s->z.avail_in == 0 && eof)
            return cnn_fail(CNN_EFORMAT, "idx: %s: truncated gzip stream", s->path);
        size_t want = n - *got;
        s->z.next_out = buf + *got;
        s->z.avail_out = (uInt)(want > (1u << 30) ? (1u << 30) : want);
        uInt before = s->z.avail_out;
        int zr = inflate(&s->z, Z_NO_FLUSH);
        *got += before - s->z.avail_out;
        if (zr == Z_STREAM_END)
            s->member_done = true;
        else if (zr == Z_MEM_ERROR)
            return cnn_fail(CNN_ENOMEM, "idx: %s: out of memory in zlib", s->path);
        else if (zr != Z_OK && zr != Z_BUF_ERROR) /* BUF_ERROR: needs more input */
            return cnn_fail(CNN_EFORMAT, "idx: %s: corrupt gzip stream: %s", s->path,
                            s->z.msg ? s->z.msg : "invalid data");
    }
    return CNN_OK;
}

/* After the data: nothing may follow, and a gzip stream must be complete
 * (reading on makes zlib check the CRC and length trailer).
 *
 * Decompressed bytes beyond what the header declares are either trailing
 * data or the sign of a damaged stream (a flipped bit can make inflate
 * produce more than was compressed).  zlib only tells the two apart at the
 * member's CRC, so up to IDX_DRAIN_LIMIT more bytes are inflated, and
 * thrown away, looking for it: a damaged stream is then reported as
 * corrupt, and a bomb that keeps going costs at most that much more. */
static cnn_status src_expect_end(idx_src *s)
{
    unsigned char extra[4096];
    size_t got;
    cnn_status rc = src_read(s, extra, 1, &got);
    if (rc != CNN_OK)
        return rc;
    if (got == 0)
        return CNN_OK;
    if (!s->gz)
        return cnn_fail(CNN_EFORMAT, "idx: %s: trailing data after the contents", s->path);
    uint64_t more = got;
    while (more <= IDX_DRAIN_LIMIT) {
        rc = src_read(s, extra, sizeof extra, &got);
        if (rc != CNN_OK)
            return rc; /* corrupt gzip stream (zlib's message), or EIO/ENOMEM */
        more += got;
        if (got < sizeof extra)
            return cnn_fail(CNN_EFORMAT,
                            "idx: %s: trailing data after the decompressed contents (%llu "
                            "bytes more than the header declares)",
                            s->path, (unsigned long long)more);
    }
    return cnn_fail(CNN_EFORMAT,
                    "idx: %s: trailing data after the decompressed contents (more than %llu "
                    "bytes beyond what the header declares; stopped there)",
                    s->path, (unsigned long long)IDX_DRAIN_LIMIT);
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads and checks the header of an IDX file of unsigned bytes with
 * `ndim` dimensions; on success *data_bytes is the product of the dims. */
static cnn_status read_header(idx_src *s, uint32_t ndim, uint32_t *dims, uint64_t *data_bytes)
{
    unsigned char hdr[4 + 4 * 3];
    size_t len = 4 + 4 * (size_t)ndim, got;
    cnn_status rc = src_read(s, hdr, len, &got);
    if (rc != CNN_OK)
        return rc;
    if (got < len)
        return cnn_fail(CNN_EFORMAT, "idx: %s: truncated header (%zu of %zu bytes)", s->path,
                        got, len);
    uint32_t magic = be32(hdr);
    if (magic >> 16 != 0)
        return cnn_fail(CNN_EFORMAT, "idx: %s: not an IDX file (magic 0x%08x)", s->path,
                        (unsigned)magic);
    if ((magic >> 8 & 0xff) != 0x08)
        return cnn_fail(CNN_EFORMAT, "idx: %s: element type 0x%02x, want 0x08 (unsigned byte)",
                        s->path, (unsigned)(magic >> 8 & 0xff));
    if ((magic & 0xff) != ndim)
        return cnn_fail(CNN_EFORMAT, "idx: %s: %u dimensions, want %u (magic 0x%08x)", s->path,
                        (unsigned)(magic & 0xff), (unsigned)ndim, (unsigned)magic);

    uint64_t total = 1;
    for (uint32_t d = 0; d < ndim; d++) {
        dims[d] = be32(hdr + 4 + 4 * d);
        uint32_t limit = d == 0 ? IDX_MAX_COUNT : IDX_MAX_SIDE;
        if (dims[d] == 0 || dims[d] > limit)
            return cnn_fail(CNN_EFORMAT, "idx: %s: dimension %u is %u, allowed 1 to %u", s->path,
                            (unsigned)d, (unsigned)dims[d], (unsigned)limit);
        total *= dims[d]; /* <= 2^28 * 2^16 * 2^16: no overflow in 64 bits */
    }
    if (ndim == 3 && (uint64_t)dims[1] * dims[2] > (uint64_t)CNN_DATA_MAX_EXAMPLE_SIZE)
        return cnn_fail(CNN_EFORMAT, "idx: %s: images of %ux%u exceed %lld pixels", s->path,
                        (unsigned)dims[1], (unsigned)dims[2],
                        (long long)CNN_DATA_MAX_EXAMPLE_SIZE);
    if (total > IDX_MAX_TOTAL || total > SIZE_MAX)
        return cnn_fail(CNN_EFORMAT, "idx: %s: %llu data bytes exceed the limit of %llu",
                        s->path, (unsigned long long)total,
                        (unsigned long long)IDX_MAX_TOTAL);
    /* A gzip file cannot inflate to more than IDX_GZ_MAX_RATIO times its
     * size: a header claiming more (a bomb's) is refused before any data is
     * inflated or allocated. */
    if (s->gz && len + total > (uint64_t)s->file_size * IDX_GZ_MAX_RATIO)
        return cnn_fail(CNN_EFORMAT,
                        "idx: %s: header declares %llu bytes, more than a gzip file of %lld "
                        "bytes can hold (at most %llu)",
                        s->path, (unsigned long long)(len + total), (long long)s->file_size,
                        (unsigned long long)s->file_size * IDX_GZ_MAX_RATIO);
    /* A raw file's size is known: check it before allocating. */
    if (!s->gz) {
        uint64_t want = len + total;
        if ((uint64_t)s->file_size < want)
            return cnn_fail(CNN_EFORMAT, "idx: %s: truncated: %lld bytes, header claims %llu",
                            s->path, (long long)s->file_size, (unsigned long long)want);
        if ((uint64_t)s->file_size > want)
            return cnn_fail(CNN_EFORMAT,
                            "idx: %s: trailing data: %lld bytes, header claims %llu", s->path,
                            (long long)s->file_size, (unsigned long long)want);
    }
    *data_bytes = total;
    return CNN_OK;
}

/* Reads exactly `total` data bytes and checks that the input ends there.
 * The buffer grows with the data that arrives (see the top of the file). */
static cnn_status read_data(idx_src *s, size_t total, uint8_t **out)
{
    *out = NULL;
    bool sized = !s->gz && s->file_size >= 0;
    size_t cap = sized || total < IDX_FIRST_ALLOC ? total : IDX_FIRST_ALLOC;
    uint8_t *buf = cnn_alloc(cap);
    if (!buf)
        return cnn_fail(CNN_ENOMEM, "idx: %s: out of memory for %zu bytes", s->path, cap);
    size_t have = 0;
    cnn_status rc;
    for (;;) {
        size_t got;
        rc = src_read(s, buf + have, cap - have, &got);
        if (rc != CNN_OK)
            goto fail;
        have += got;
        if (have < cap) {
            rc = cnn_fail(CNN_EFORMAT, "idx: %s: truncated: %zu of %zu data bytes", s->path,
                          have, total);
            goto fail;
        }
        if (have == total)
            break;
        size_t next = cap > total / 2 ? total : cap * 2;
        uint8_t *bigger = cnn_alloc(next);
        if (!bigger) {
            rc = cnn_fail(CNN_ENOMEM, "idx: %s: out of memory for %zu bytes", s->path, next);
            goto fail;
        }
        memcpy(bigger, buf, have);
        cnn_dealloc(buf);
        buf = bigger;
        cap = next;
    }
    rc = src_expect_end(s);
    if (rc != CNN_OK)
        goto fail;
    *out = buf;
    return CNN_OK;
fail:
    cnn_dealloc(buf);
    return rc;
}

cnn_status cnn_dataset_load_idx(const char *images_path, const char *labels_path,
                                cnn_dataset **out)
{
    if (out)
        *out = NULL;
    if (!images_path || !labels_path || !out)
        return cnn_fail(CNN_EINVAL, "idx: %s is NULL",
                        !images_path ? "images_path" : !labels_path ? "labels_path" : "out");

    idx_src img, lab;
    uint32_t idims[3] = {0}, ldims[1] = {0};
    uint64_t ibytes = 0, lbytes = 0;
    uint8_t *pixels = NULL, *labels = NULL;
    memset(&lab, 0, sizeof lab);

    /* Both headers first, so a count mismatch costs no data reading. */
    cnn_status rc = src_open(&img, images_path);
    if (rc == CNN_OK)
        rc = read_header(&img, 3, idims, &ibytes);
    if (rc == CNN_OK)
        rc = src_open(&lab, labels_path);
    if (rc == CNN_OK)
        rc = read_header(&lab, 1, ldims, &lbytes);
    if (rc == CNN_OK && idims[0] != ldims[0])
        rc = cnn_fail(CNN_EFORMAT, "idx: %s has %u images but %s has %u labels", images_path,
                      (unsigned)idims[0], labels_path, (unsigned)ldims[0]);
    if (rc == CNN_OK)
        rc = read_data(&lab, (size_t)lbytes, &labels);
    if (rc == CNN_OK)
        rc = read_data(&img, (size_t)ibytes, &pixels);
    src_close(&img);
    src_close(&lab);
    if (rc != CNN_OK) {
        cnn_dealloc(pixels);
        cnn_dealloc(labels);
        return rc;
    }
    return cnn_dataset_adopt((int64_t)idims[0], 1, (int32_t)idims[1], (int32_t)idims[2],
                             &pixels, &labels, out);
}

/* "<dir>/<base>" if it exists, else "<dir>/<base>.gz"; *path from
 * cnn_alloc.  Nothing is opened here (a FIFO would block the open);
 * cnn_dataset_load_idx opens and checks the file chosen. */
static cnn_status pick_file(const char *dir, const char *base, char **path)
{
    size_t len = strlen(dir) + 1 + strlen(base) + 4; /* '/', ".gz", NUL */
    char *p = cnn_alloc(len);
    if (!p)
        return cnn_fail(CNN_ENOMEM, "idx: out of memory for a file name");
    snprintf(p, len, "%s/%s", dir, base);
    struct stat sb;
    if (stat(p, &sb) != 0) {
        int err = errno;
        strcat(p, ".gz");
        if (stat(p, &sb) != 0) {
            char msg[128];
            if (strerror_r(err, msg, sizeof msg) != 0)
                snprintf(msg, sizeof msg, "error %d", err);
            cnn_status rc = cnn_fail(CNN_EIO, "idx: cannot open %s/%s or %s: %s", dir, base,
                                     p, msg);
            cnn_dealloc(p);
            return rc;
        }
    }
    *path = p;
    return CNN_OK;
}

cnn_status cnn_dataset_load_mnist(const char *dir, int32_t split, cnn_dataset **out)
{
    if (out)
        *out = NULL;
    if (!dir || !out)
        return cnn_fail(CNN_EINVAL, "idx: load_mnist: %s is NULL", !dir ? "dir" : "out");
    if (split != CNN_MNIST_TRAIN && split != CNN_MNIST_TEST)
        return cnn_fail(CNN_EINVAL, "idx: load_mnist: split %d is neither CNN_MNIST_TRAIN nor "
                        "CNN_MNIST_TEST", (int)split);
    const char *prefix = split == CNN_MNIST_TRAIN ? "train" : "t10k";
    char ibase[32], lbase[32];
    snprintf(ibase, sizeof ibase, "%s-images-idx3-ubyte", prefix);
    snprintf(lbase, sizeof lbase, "%s-labels-idx1-ubyte", prefix);

    char *ipath = NULL, *lpath = NULL;
    cnn_status rc = pick_file(dir, ibase, &ipath);
    if (rc == CNN_OK)
        rc = pick_file(dir, lbase, &lpath);
    if (rc == CNN_OK)
        rc = cnn_dataset_load_idx(ipath, lpath, out);
    cnn_dealloc(ipath);
    cnn_dealloc(lpath);
    return rc;
}
