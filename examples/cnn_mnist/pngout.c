/* RGB PNG output with libpng, 8 bits a channel.  libpng reports errors by
 * longjmp, so everything that must be cleaned up afterwards is set up
 * before setjmp and not modified after it. */
#include "pngout.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int write_file(FILE *fp, const canvas *c)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    if (png == NULL)
        return -1;
    png_infop info = png_create_info_struct(png);
    if (info == NULL) {
        png_destroy_write_struct(&png, NULL);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)c->w, (png_uint_32)c->h, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int32_t y = 0; y < c->h; y++)
        png_write_row(png, c->px + (size_t)y * (size_t)c->w * 3);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

int pngout_write(const char *path, const canvas *c, char *err, size_t es)
{
    size_t n = strlen(path) + 5;
    char *tmp = malloc(n);
    if (tmp == NULL) {
        snprintf(err, es, "out of memory writing '%s'", path);
        return -1;
    }
    snprintf(tmp, n, "%s.tmp", path);
    FILE *fp = fopen(tmp, "wb");
    if (fp == NULL) {
        snprintf(err, es, "cannot write picture '%s'", path);
        free(tmp);
        return -1;
    }
    int rc = write_file(fp, c);
    if (fclose(fp) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1;
    if (rc != 0) {
        remove(tmp);
        snprintf(err, es, "cannot write picture '%s'", path);
    }
    free(tmp);
    return rc;
}
