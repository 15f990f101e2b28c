/* Whole-file reading and atomic replacement (file_io.h), shared by the
 * model format and checkpoints. */
#include "io/file_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *cnn_io_errno_text(int err, char *buf, size_t len)
{
    /* strerror is not thread-safe; the POSIX strerror_r fills our buffer. */
    if (strerror_r(err, buf, len) != 0)
        snprintf(buf, len, "error %d", err);
    return buf;
}

/* ---- reading ------------------------------------------------------------ */

/* Reads the whole of fd, at most `limit` bytes.  Grows the buffer by
 * doubling so that files whose size fstat cannot tell (pipes) work as well;
 * a regular file is read with one allocation. */
static cnn_status read_all(int fd, const char *who, const char *what, const char *path,
                           uint64_t limit, uint8_t **out, size_t *out_size)
{
    char why[128];
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return cnn_fail(CNN_EIO, "%s: cannot stat '%s': %s", who, path,
                        cnn_io_errno_text(errno, why, sizeof why));
    if (S_ISDIR(sb.st_mode))
        return cnn_fail(CNN_EIO, "%s: '%s' is a directory", who, path);
    if (limit > SIZE_MAX - 1)
        limit = SIZE_MAX - 1;
    if (S_ISREG(sb.st_mode) && (uint64_t)sb.st_size > limit)
        return cnn_fail(CNN_EFORMAT, "%s: '%s' is %lld bytes, more than a %s may be (%llu)", who,
                        path, (long long)sb.st_size, what, (unsigned long long)limit);
    /* One byte more than expected, to see end-of-file without a regrow. */
    size_t cap = S_ISREG(sb.st_mode) ? (size_t)sb.st_size + 1 : 65536;
    uint8_t *buf = cnn_alloc(cap);
    size_t len = 0;
    for (;;) {
        if (!buf)
            return cnn_fail(CNN_ENOMEM, "%s: cannot allocate %zu bytes for '%s'", who, cap, path);
        if (len == cap) {
            if (cap > limit) {
                cnn_dealloc(buf);
                return cnn_fail(CNN_EFORMAT, "%s: '%s' is larger than a %s may be (%llu bytes)",
                                who, path, what, (unsigned long long)limit);
            }
            size_t ncap = cap > limit / 2 ? (size_t)limit + 1 : cap * 2;
            uint8_t *nbuf = cnn_alloc(ncap);
            if (nbuf)
                memcpy(nbuf, buf, len);
            cnn_dealloc(buf);
            buf = nbuf;
            cap = ncap;
            continue;
        }
        size_t want = cap - len > (size_t)1 << 30 ? (size_t)1 << 30 : cap - len;
        ssize_t n = read(fd, buf + len, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;
            cnn_dealloc(buf);
            return cnn_fail(CNN_EIO, "%s: cannot read '%s': %s", who, path,
                            cnn_io_errno_text(err, why, sizeof why));
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    *out = buf;
    *out_size = len;
    return CNN_OK;
}

cnn_status cnn_io_read_file(const char *who, const char *what, const char *path, uint64_t limit,
                            uint8_t **out, size_t *out_size)
{
    char why[128];
    int fd;
    do
        fd = open(path, O_RDONLY);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return cnn_fail(CNN_EIO, "%s: cannot open '%s': %s", who, path,
                        cnn_io_errno_text(errno, why, sizeof why));
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    cnn_status st = read_all(fd, who, what, path, limit, out, out_size);
    close(fd);
    return st;
}

/* ---- atomic replacement of a file --------------------------------------- */

/* Writes all of buf, retrying short writes and interruptions. */
static int write_all(int fd, const uint8_t *buf, size_t size)
{
    while (size > 0) {
        size_t chunk = size > (size_t)1 << 30 ? (size_t)1 << 30 : size;
        ssize_t n = write(fd, buf, chunk);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0) { /* cannot happen for regular files; avoid spinning */
            errno = EIO;
            return -1;
        }
        buf += n;
        size -= (size_t)n;
    }
    return 0;
}

/* Makes the rename itself durable.  A failure to open the directory (no
 * read permission) is tolerated: the data is in place and there is no
 * other way to sync it; file systems that cannot sync directories say
 * EINVAL, also tolerated. */
static int sync_dir(const char *path, char *dir_buf)
{
    strcpy(dir_buf, path);
    char *slash = strrchr(dir_buf, '/');
    if (!slash)
        strcpy(dir_buf, ".");
    else if (slash == dir_buf)
        dir_buf[1] = '\0'; /* "/name" lives in "/" */
    else
        *slash = '\0';
    int fd = open(dir_buf, O_RDONLY);
    if (fd < 0)
        return 0;
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    if (rc != 0 && err != EINVAL) {
        errno = err;
        return -1;
    }
    return 0;
}

static const char tmp_suffix[] = ".tmp.XXXXXX";

cnn_status cnn_io_replace_file(const char *who, const char *path, const uint8_t *buf, size_t size)
{
    char why[128];
    struct stat sb;
    /* A new file gets the usual 0644; a replaced one keeps its mode (mkstemp
     * would otherwise leave 0600). */
    mode_t mode = 0644;
    if (stat(path, &sb) == 0) {
        if (!S_ISREG(sb.st_mode))
            return cnn_fail(CNN_EIO, "%s: '%s' exists and is not a regular file", who, path);
        mode = sb.st_mode & 07777;
    }
    size_t len = strlen(path);
    char *tmp = cnn_alloc(len + sizeof tmp_suffix);
    if (!tmp)
        return cnn_fail(CNN_ENOMEM, "%s: out of memory for the temporary name", who);
    memcpy(tmp, path, len);
    memcpy(tmp + len, tmp_suffix, sizeof tmp_suffix);

    int fd = mkstemp(tmp);
    if (fd < 0) {
        cnn_status st = cnn_fail(CNN_EIO, "%s: cannot create temporary file '%s': %s", who, tmp,
                                 cnn_io_errno_text(errno, why, sizeof why));
        cnn_dealloc(tmp);
        return st;
    }
    /* Not inherited by children a caller's other thread might spawn. */
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);

    const char *step = NULL;
    if (write_all(fd, buf, size) != 0)
        step = "write";
    else if (fchmod(fd, mode) != 0)
        step = "chmod";
    else if (fsync(fd) != 0)
        step = "fsync";
    int err = errno;
    /* close() can report a delayed write error (NFS): it counts. */
    if (close(fd) != 0 && !step) {
        step = "close";
        err = errno;
    }
    if (!step && rename(tmp, path) != 0) {
        step = "rename";
        err = errno;
    }
    if (step) {
        unlink(tmp);
        cnn_status st = cnn_fail(CNN_EIO, "%s: %s of '%s' (for '%s') failed: %s", who, step, tmp,
                                 path, cnn_io_errno_text(err, why, sizeof why));
        cnn_dealloc(tmp);
        return st;
    }
    /* The temporary name has room for the directory part of path. */
    cnn_status st = CNN_OK;
    if (sync_dir(path, tmp) != 0)
        st = cnn_fail(CNN_EIO, "%s: '%s' was replaced, but syncing its directory failed: %s", who,
                      path, cnn_io_errno_text(errno, why, sizeof why));
    cnn_dealloc(tmp);
    return st;
}
