/* An 8-bit greyscale raster with the few drawing operations the pictures
 * need: filled rectangles, lines, and text in a built-in 3x5 pixel font. */
#ifndef CNN_MNIST_CANVAS_H
#define CNN_MNIST_CANVAS_H

#include <stdint.h>

typedef struct canvas {
    int32_t w, h;
    uint8_t *px; /* h rows of w bytes, 0 = black, 255 = white */
} canvas;

/* Allocates a w x h canvas filled with `grey`; -1 if out of memory or the
 * size is unreasonable. */
int canvas_init(canvas *c, int32_t w, int32_t h, uint8_t grey);
void canvas_free(canvas *c);

/* Drawing clips to the canvas. */
void canvas_rect(canvas *c, int32_t x, int32_t y, int32_t w, int32_t h, uint8_t grey);
void canvas_line(canvas *c, int32_t x0, int32_t y0, int32_t x1, int32_t y1, uint8_t grey);

/* Glyphs are 3x5 cells scaled by `scale`, advancing 4*scale per character;
 * letters are drawn upper-case, unknown characters as blanks. */
#define FONT_W 3
#define FONT_H 5
void canvas_text(canvas *c, int32_t x, int32_t y, const char *s, int32_t scale, uint8_t grey);
/* Width in pixels of `s` drawn at `scale`. */
int32_t canvas_text_width(const char *s, int32_t scale);

#endif
