/* Writes a canvas as an 8-bit RGB PNG through libpng. */
#ifndef CNN_MNIST_PNGOUT_H
#define CNN_MNIST_PNGOUT_H

#include <stddef.h>

#include "canvas.h"

/* Writes `c` to `path` via a temporary file renamed into place, so a failed
 * write never leaves a half picture.  -1 with a one-line message on failure. */
int pngout_write(const char *path, const canvas *c, char *err, size_t err_size);

#endif
