/* Whole-file reading and atomic replacement, shared by the model format
 * (model_read.c, model_write.c) and checkpoints (checkpoint.c).
 *
 * `who` is the public function a message is reported for ("cnn_net_save",
 * "cnn_train"): every message starts with it and names the path. */
#ifndef CNN_IO_FILE_IO_H
#define CNN_IO_FILE_IO_H

#include "core.h"

#include <stddef.h>
#include <stdint.h>

/* strerror_r into buf (strerror is not thread-safe); returns buf. */
const char *cnn_io_errno_text(int err, char *buf, size_t len);

/* Reads the whole file at path into a buffer from cnn_alloc (the caller
 * frees it with cnn_dealloc).  Only regular files are read, by their size:
 * a directory, FIFO, device or socket is refused with CNN_EIO without
 * reading (opened O_NONBLOCK, so a FIFO without a writer does not block),
 * and a file larger than `limit` bytes is refused with CNN_EFORMAT ("more
 * than a <what> may be") before anything is allocated.  A file whose size
 * changes while it is read is CNN_EIO.  Errors: CNN_EIO (cannot open, stat
 * or read; not a regular file), CNN_EFORMAT, CNN_ENOMEM. */
cnn_status cnn_io_read_file(const char *who, const char *what, const char *path, uint64_t limit,
                            uint8_t **out, size_t *out_size);

/* Writes buf to a temporary file "<path>.tmp.<pid>.XXXXXX" in the same
 * directory, fsyncs and closes it, renames it over path and fsyncs the
 * directory.  A reader sees the old file or the new one, never a mixture;
 * on any failure before the rename (a full disk, EFBIG from RLIMIT_FSIZE
 * when the caller ignores SIGXFSZ) the temporary file is removed and path
 * is untouched.  Temporary files of the same path left by processes that
 * no longer exist (kill(pid, 0) fails with ESRCH: killed during a write or
 * fsync) are removed first; those of live processes are kept.  An existing
 * file keeps its permission bits, a new one gets 0644; a path that exists
 * and is not a regular file is refused.  Errors: CNN_EIO, CNN_ENOMEM. */
cnn_status cnn_io_replace_file(const char *who, const char *path, const uint8_t *buf,
                               size_t size);

#endif /* CNN_IO_FILE_IO_H */
