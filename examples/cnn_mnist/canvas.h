/* An RGB raster with the few drawing operations the pictures need: filled
 * and outlined rectangles, lines, and text in a built-in 3x5 pixel font. */
#ifndef CNN_MNIST_CANVAS_H
#define CNN_MNIST_CANVAS_H

#include <stdint.h>

/* A colour as 0xRRGGBB. */
typedef uint32_t rgb;
#define RGB(r, g, b) ((rgb)(((uint32_t)(r) << 16) | ((uint32_t)(g) << 8) | (uint32_t)(b)))
#define GREY(v) RGB((v), (v), (v))

typedef struct canvas {
    int32_t w, h;
    uint8_t *px; /* h rows of w pixels, 3 bytes each (R, G, B) */
} canvas;

/* Allocates a w x h canvas filled with `fill`; -1 if out of memory or the
 * size is unreasonable. */
int canvas_init(canvas *c, int32_t w, int32_t h, rgb fill);
void canvas_free(canvas *c);

/* Drawing clips to the canvas. */
void canvas_rect(canvas *c, int32_t x, int32_t y, int32_t w, int32_t h, rgb colour);
/* The 1-pixel outline of the rectangle canvas_rect would fill. */
void canvas_frame(canvas *c, int32_t x, int32_t y, int32_t w, int32_t h, rgb colour);
void canvas_line(canvas *c, int32_t x0, int32_t y0, int32_t x1, int32_t y1, rgb colour);

/* Glyphs are 3x5 cells scaled by `scale`, advancing 4*scale per character;
 * letters are drawn upper-case, unknown characters as blanks. */
#define FONT_W 3
#define FONT_H 5
void canvas_text(canvas *c, int32_t x, int32_t y, const char *s, int32_t scale, rgb colour);
/* Width in pixels of `s` drawn at `scale`. */
int32_t canvas_text_width(const char *s, int32_t scale);

#endif
