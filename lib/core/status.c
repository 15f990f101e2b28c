/* Status codes, their names and messages (one table generates all three),
 * the per-thread last-error message, and the version. */
#include "core.h"

#include <stdio.h>
#include <string.h>

/* X(code, value, description): the single source of truth. */
#define CNN_STATUS_TABLE(X)                                                 \
    X(CNN_OK, 0, "success")                                                 \
    X(CNN_EINVAL, -1, "invalid argument")                                   \
    X(CNN_ESHAPE, -2, "shape mismatch")                                     \
    X(CNN_ENOMEM, -3, "out of memory")                                      \
    X(CNN_EIO, -4, "input/output error")                                    \
    X(CNN_EFORMAT, -5, "malformed or corrupt data")                         \
    X(CNN_EVERSION, -6, "unsupported format version")                       \
    X(CNN_ECANCELED, -7, "canceled by callback")                            \
    X(CNN_ESTATE, -8, "operation not valid in the current state")           \
    X(CNN_ECHECKSUM, -9, "checksum mismatch")                               \
    X(CNN_EDIVERGED, -10, "training diverged")                             \
    X(CNN_ENOTSUP, -11, "not supported")

/* The header's enum must agree with the table. */
#define CNN_CHECK_VALUE(code, value, text) _Static_assert(code == value, #code " changed value");
CNN_STATUS_TABLE(CNN_CHECK_VALUE)

const char *cnn_status_string(cnn_status status)
{
    switch (status) {
#define CNN_CASE_TEXT(code, value, text) \
    case value:                          \
        return text;
        CNN_STATUS_TABLE(CNN_CASE_TEXT)
    }
    return "unknown status";
}

const char *cnn_status_name(cnn_status status)
{
    switch (status) {
#define CNN_CASE_NAME(code, value, text) \
    case value:                          \
        return #code;
        CNN_STATUS_TABLE(CNN_CASE_NAME)
    }
    return "CNN_E?";
}

/* Thread-local so concurrent users of distinct handles never see each
 * other's messages; networks keep a copy of their own as well. */
static _Thread_local char last_error[CNN_ERRMSG_MAX];

cnn_status cnn_vfail(cnn_status status, const char *fmt, va_list ap)
{
    /* Format into a local buffer first: callers often wrap the previous
     * message (cnn_errmsg_current()) in a new one, and vsnprintf must not
     * read the buffer it is writing. */
    char message[CNN_ERRMSG_MAX];
    vsnprintf(message, sizeof message, fmt, ap);
    memcpy(last_error, message, sizeof message);
    return status;
}

cnn_status cnn_fail(cnn_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cnn_vfail(status, fmt, ap);
    va_end(ap);
    return status;
}

const char *cnn_errmsg_current(void)
{
    return last_error;
}

const char *cnn_last_error(void)
{
    return last_error;
}

uint32_t cnn_version(void)
{
    return CNN_VERSION_MAJOR * 10000u + CNN_VERSION_MINOR * 100u + CNN_VERSION_PATCH;
}

#define CNN_STR2(x) #x
#define CNN_STR(x) CNN_STR2(x)

const char *cnn_version_string(void)
{
    return CNN_STR(CNN_VERSION_MAJOR) "." CNN_STR(CNN_VERSION_MINOR) "." CNN_STR(CNN_VERSION_PATCH);
}
