/* libFuzzer harness for cnn_dataset_load_idx().
 *
 * Input layout: byte 0 = flags (bit 0: gzip the images part here, bit 1:
 * gzip the labels part), bytes 1-2 = labels part length L (little-endian,
 * clipped to what is left), then L bytes of labels file, then the images
 * file.  Compressing inside the harness lets mutations of the IDX content
 * reach the loader through a valid gzip stream; inputs that are gzip
 * already (see the corpus) exercise the decompressor with damaged streams.
 * The two parts are written to memory files and loaded by path. */
#define _GNU_SOURCE
#include "cnn.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

/* A memory file holding data (gzipped first if asked); its path in *path. */
static int mem_file(const char *name, const uint8_t *data, size_t size, int gz, char *path,
                    size_t path_len)
{
    int fd = memfd_create(name, 0);
    if (fd < 0)
        return -1;
    const uint8_t *out = data;
    uint8_t *packed = NULL;
    size_t out_len = size;
    if (gz) {
        uLong cap = compressBound((uLong)size) + 32;
        packed = malloc(cap);
        z_stream z;
        memset(&z, 0, sizeof z);
        if (!packed || deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            free(packed);
            close(fd);
            return -1;
        }
        z.next_in = (Bytef *)data;
        z.avail_in = (uInt)size;
        z.next_out = packed;
        z.avail_out = (uInt)cap;
        int rc = deflate(&z, Z_FINISH);
        out_len = z.total_out;
        deflateEnd(&z);
        if (rc != Z_STREAM_END) {
            free(packed);
            close(fd);
            return -1;
        }
        out = packed;
    }
    size_t done = 0;
    while (done < out_len) {
        ssize_t n = write(fd, out + done, out_len - done);
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    free(packed);
    snprintf(path, path_len, "/proc/self/fd/%d", fd);
    return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3 || size > (1u << 20))
        return 0;
    unsigned flags = data[0];
    size_t lab_len = (size_t)data[1] | (size_t)data[2] << 8;
    data += 3;
    size -= 3;
    if (lab_len > size)
        lab_len = size;
    char img_path[64], lab_path[64];
    int lfd = mem_file("labels", data, lab_len, flags & 2, lab_path, sizeof lab_path);
    int ifd = mem_file("images", data + lab_len, size - lab_len, flags & 1, img_path,
                       sizeof img_path);
    if (lfd >= 0 && ifd >= 0) {
        cnn_dataset *ds = NULL;
        cnn_status st = cnn_dataset_load_idx(img_path, lab_path, &ds);
        if (st == CNN_OK) {
            /* Whatever loaded must be readable end to end. */
            int32_t s[3];
            if (cnn_dataset_shape(ds, s) != CNN_OK)
                __builtin_trap();
            int64_t n = cnn_dataset_count(ds);
            size_t elems = (size_t)s[0] * (size_t)s[1] * (size_t)s[2];
            float *px = malloc(elems * sizeof *px);
            for (int64_t i = 0; px && i < n; i++) {
                int32_t label;
                if (cnn_dataset_get(ds, i, px, &label) != CNN_OK || label < 0 || label > 255)
                    __builtin_trap();
            }
            free(px);
            cnn_dataset_destroy(ds);
        } else if (ds != NULL || cnn_last_error()[0] == '\0') {
            __builtin_trap();
        }
    }
    if (lfd >= 0)
        close(lfd);
    if (ifd >= 0)
        close(ifd);
    return 0;
}
