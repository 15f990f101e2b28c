/* Whole-file reading and atomic replacement (file_io.h), shared by the
 * model format and checkpoints. */
#include "io/file_io.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
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

/* What a file that is not a regular file is, for messages. */
static const char *file_kind(mode_t mode)
{
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    return "not a regular file";
}

/* Reads a regular file by its size: the size is checked against `limit`
 * before anything is allocated, exactly that many bytes are read, and a
 * file that is shorter or longer than fstat said by the end (it changed
 * while being read) is refused, so the cost never exceeds the limit. */
static cnn_status read_all(int fd, const char *who, const char *what, const char *path,
                           uint64_t limit, uint8_t **out, size_t *out_size)
{
    char why[128];
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return cnn_fail(CNN_EIO, "%s: cannot stat '%s': %s", who, path,
                        cnn_io_errno_text(errno, why, sizeof why));
    if (!S_ISREG(sb.st_mode))
        return cnn_fail(CNN_EIO, "%s: '%s' is %s, not a regular file", who, path,
                        file_kind(sb.st_mode));
    if (limit > SIZE_MAX - 1)
        limit = SIZE_MAX - 1;
    if (sb.st_size < 0 || (uint64_t)sb.st_size > limit)
        return cnn_fail(CNN_EFORMAT, "%s: '%s' is %lld bytes, more than a %s may be (%llu)", who,
                        path, (long long)sb.st_size, what, (unsigned long long)limit);
    size_t size = (size_t)sb.st_size;
    /* One byte more, to see that the file ends where fstat said. */
    uint8_t *buf = cnn_alloc(size + 1);
    if (!buf)
        return cnn_fail(CNN_ENOMEM, "%s: cannot allocate %zu bytes for '%s'", who, size + 1, path);
    size_t len = 0;
    while (len < size + 1) {
        size_t want = size + 1 - len > (size_t)1 << 30 ? (size_t)1 << 30 : size + 1 - len;
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
    if (len != size) {
        cnn_dealloc(buf);
        return cnn_fail(CNN_EIO, "%s: '%s' changed size while being read (%zu bytes, %s%zu)", who,
                        path, size, len > size ? "then more than " : "then ", len);
    }
    *out = buf;
    *out_size = size;
    return CNN_OK;
}

cnn_status cnn_io_read_file(const char *who, const char *what, const char *path, uint64_t limit,
                            uint8_t **out, size_t *out_size)
{
    char why[128];
    int fd;
    /* O_NONBLOCK: opening a FIFO that has no writer would otherwise block
     * forever (read_all refuses anything but a regular file, for which the
     * flag changes nothing).  O_NOCTTY: a terminal never becomes ours. */
    do
        fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return cnn_fail(CNN_EIO, "%s: cannot open '%s': %s", who, path,
                        cnn_io_errno_text(errno, why, sizeof why));
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

/* Temporary files are "<path>.tmp.<pid>.XXXXXX": the pid of the writer
 * lets a later save tell a leftover of a dead process (killed during its
 * fsync, say) from the file a live one is still writing. */
#define TMP_INFIX ".tmp."
/* ".tmp." + up to 20 digits + ".XXXXXX" + NUL, and "./" */
#define TMP_NAME_EXTRA (sizeof TMP_INFIX + 20 + 8 + 2)

/* True when name is "<base>.tmp.<pid>.XXXXXX" (6 characters from mkstemp);
 * *pid receives the pid. */
static bool parse_tmp_name(const char *name, const char *base, size_t base_len, long *pid)
{
    if (strncmp(name, base, base_len) != 0 || strncmp(name + base_len, TMP_INFIX, 5) != 0)
        return false;
    const char *p = name + base_len + 5;
    long v = 0;
    const char *digits = p;
    while (*p >= '0' && *p <= '9' && p - digits < 10)
        v = v * 10 + (*p++ - '0');
    if (p == digits || *p != '.' || strlen(p + 1) != 6 || v <= 0)
        return false;
    *pid = v;
    return true;
}

/* Removes temporary files of `path` left by processes that no longer exist
 * (kill(pid, 0) says ESRCH).  Those of live processes, another thread of
 * this one included, are kept.  Best effort: nothing here is an error. */
static void remove_stale_tmp(const char *path, char *dir_buf)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t base_len = strlen(base);
    if (!slash)
        strcpy(dir_buf, ".");
    else if (slash == path)
        strcpy(dir_buf, "/");
    else {
        memcpy(dir_buf, path, (size_t)(slash - path));
        dir_buf[slash - path] = '\0';
    }
    DIR *d = opendir(dir_buf);
    if (!d)
        return;
    size_t dir_len = strlen(dir_buf);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        long pid;
        if (!parse_tmp_name(e->d_name, base, base_len, &pid) || (pid_t)pid == getpid())
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* alive, or not ours to judge (EPERM: alive) */
        /* dir_buf has room for "<dir>/<name>": the name is as long as the
         * temporary names the caller sized it for. */
        if (dir_len + 1 + strlen(e->d_name) + 1 > strlen(path) + TMP_NAME_EXTRA)
            continue;
        size_t n = dir_len;
        dir_buf[n] = '/';
        strcpy(dir_buf + n + 1, e->d_name);
        (void)unlink(dir_buf);
        dir_buf[n] = '\0';
    }
    closedir(d);
}

cnn_status cnn_io_replace_file(const char *who, const char *path, const uint8_t *buf, size_t size)
{
    char why[128];
    struct stat sb;
    /* A new file gets the usual 0644; a replaced one keeps its mode (mkstemp
     * would otherwise leave 0600). */
    mode_t mode = 0644;
    if (stat(path, &sb) == 0) {
        if (!S_ISREG(sb.st_mode))
            return cnn_fail(CNN_EIO, "%s: '%s' exists and is %s, not a regular file", who, path,
                            file_kind(sb.st_mode));
        mode = sb.st_mode & 07777;
    }
    size_t len = strlen(path);
    /* Room for "<path>.tmp.<pid>.XXXXXX", and for "./<name>" of the same
     * length when remove_stale_tmp builds names in this buffer. */
    char *tmp = cnn_alloc(len + TMP_NAME_EXTRA);
    if (!tmp)
        return cnn_fail(CNN_ENOMEM, "%s: out of memory for the temporary name", who);
    remove_stale_tmp(path, tmp);
    snprintf(tmp, len + TMP_NAME_EXTRA, "%s" TMP_INFIX "%ld.XXXXXX", path, (long)getpid());

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
