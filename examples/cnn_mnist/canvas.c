/* RGB raster and a hand-made 3x5 bitmap font (digits, A-Z and a few
 * signs): enough for labels on digit pictures and plot axes without
 * depending on a font library. */
#include "canvas.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define BYTES_PER_PIXEL 3

static void set_pixel(uint8_t *p, rgb colour)
{
    p[0] = (uint8_t)(colour >> 16);
    p[1] = (uint8_t)(colour >> 8);
    p[2] = (uint8_t)colour;
}

int canvas_init(canvas *c, int32_t w, int32_t h, rgb fill)
{
    c->w = c->h = 0;
    c->px = NULL;
    /* 16k x 16k is far beyond any picture here; refuse rather than thrash. */
    if (w < 1 || h < 1 || w > 16384 || h > 16384)
        return -1;
    c->px = malloc((size_t)w * (size_t)h * BYTES_PER_PIXEL);
    if (c->px == NULL)
        return -1;
    c->w = w;
    c->h = h;
    canvas_rect(c, 0, 0, w, h, fill);
    return 0;
}

void canvas_free(canvas *c)
{
    free(c->px);
    c->px = NULL;
    c->w = c->h = 0;
}

static void put(canvas *c, int32_t x, int32_t y, rgb colour)
{
    if (x >= 0 && y >= 0 && x < c->w && y < c->h)
        set_pixel(c->px + ((size_t)y * (size_t)c->w + (size_t)x) * BYTES_PER_PIXEL, colour);
}

void canvas_rect(canvas *c, int32_t x, int32_t y, int32_t w, int32_t h, rgb colour)
{
    /* Clip in 64 bits: x + w may not fit in 32 when a caller's sizes are odd. */
    int64_t x0 = x < 0 ? 0 : x, y0 = y < 0 ? 0 : y;
    int64_t x1 = (int64_t)x + w > c->w ? c->w : (int64_t)x + w;
    int64_t y1 = (int64_t)y + h > c->h ? c->h : (int64_t)y + h;
    for (int64_t j = y0; j < y1; j++)
        for (int64_t i = x0; i < x1; i++)
            set_pixel(c->px + ((size_t)j * (size_t)c->w + (size_t)i) * BYTES_PER_PIXEL, colour);
}

void canvas_frame(canvas *c, int32_t x, int32_t y, int32_t w, int32_t h, rgb colour)
{
    if (w < 1 || h < 1)
        return;
    canvas_rect(c, x, y, w, 1, colour);
    canvas_rect(c, x, y + h - 1, w, 1, colour);
    canvas_rect(c, x, y, 1, h, colour);
    canvas_rect(c, x + w - 1, y, 1, h, colour);
}

void canvas_line(canvas *c, int32_t x0, int32_t y0, int32_t x1, int32_t y1, rgb colour)
{
    /* Bresenham, all octants. */
    int32_t dx = abs(x1 - x0), sx = x0 < x1 ? 1 : -1;
    int32_t dy = -abs(y1 - y0), sy = y0 < y1 ? 1 : -1;
    int32_t e = dx + dy;
    for (;;) {
        put(c, x0, y0, colour);
        if (x0 == x1 && y0 == y1)
            break;
        int32_t e2 = 2 * e;
        if (e2 >= dy) {
            e += dy;
            x0 += sx;
        }
        if (e2 <= dx) {
            e += dx;
            y0 += sy;
        }
    }
}

/* Each glyph: 5 rows, 3 bits per row, bit 2 = left column. */
static const uint8_t *glyph(int ch)
{
    static const uint8_t digits[10][FONT_H] = {
        {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 3, 1, 7}, {5, 5, 7, 1, 1},
        {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 2, 2}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7},
    };
    static const uint8_t letters[26][FONT_H] = {
        {2, 5, 7, 5, 5}, {6, 5, 6, 5, 6}, {3, 4, 4, 4, 3}, {6, 5, 5, 5, 6}, {7, 4, 6, 4, 7},
        {7, 4, 6, 4, 4}, {3, 4, 5, 5, 3}, {5, 5, 7, 5, 5}, {7, 2, 2, 2, 7}, {1, 1, 1, 5, 2},
        {5, 5, 6, 5, 5}, {4, 4, 4, 4, 7}, {5, 7, 7, 5, 5}, {6, 5, 5, 5, 5}, {2, 5, 5, 5, 2},
        {6, 5, 6, 4, 4}, {2, 5, 5, 6, 3}, {6, 5, 6, 5, 5}, {3, 4, 2, 1, 6}, {7, 2, 2, 2, 2},
        {5, 5, 5, 5, 7}, {5, 5, 5, 5, 2}, {5, 5, 7, 7, 5}, {5, 5, 2, 5, 5}, {5, 5, 2, 2, 2},
        {7, 1, 2, 4, 7},
    };
    static const uint8_t dot[FONT_H] = {0, 0, 0, 0, 2};
    static const uint8_t pct[FONT_H] = {5, 1, 2, 4, 5};
    static const uint8_t minus[FONT_H] = {0, 0, 7, 0, 0};
    static const uint8_t colon[FONT_H] = {0, 2, 0, 2, 0};
    static const uint8_t slash[FONT_H] = {1, 1, 2, 4, 4};
    static const uint8_t lpar[FONT_H] = {1, 2, 2, 2, 1};
    static const uint8_t rpar[FONT_H] = {4, 2, 2, 2, 4};
    static const uint8_t plus[FONT_H] = {0, 2, 7, 2, 0};
    static const uint8_t comma[FONT_H] = {0, 0, 0, 2, 4};
    static const uint8_t equals[FONT_H] = {0, 7, 0, 7, 0};
    static const uint8_t semicolon[FONT_H] = {0, 2, 0, 2, 4};
    if (ch >= '0' && ch <= '9')
        return digits[ch - '0'];
    ch = toupper(ch);
    if (ch >= 'A' && ch <= 'Z')
        return letters[ch - 'A'];
    switch (ch) {
    case '.': return dot;
    case '%': return pct;
    case '-': return minus;
    case ':': return colon;
    case '/': return slash;
    case '(': return lpar;
    case ')': return rpar;
    case '+': return plus;
    case ',': return comma;
    case '=': return equals;
    case ';': return semicolon;
    default: return NULL;
    }
}

void canvas_text(canvas *c, int32_t x, int32_t y, const char *s, int32_t scale, rgb colour)
{
    for (; *s; s++, x += (FONT_W + 1) * scale) {
        const uint8_t *g = glyph((unsigned char)*s);
        if (g == NULL)
            continue;
        for (int32_t row = 0; row < FONT_H; row++)
            for (int32_t col = 0; col < FONT_W; col++)
                if (g[row] & (4 >> col))
                    canvas_rect(c, x + col * scale, y + row * scale, scale, scale, colour);
    }
}

int32_t canvas_text_width(const char *s, int32_t scale)
{
    int32_t n = (int32_t)strlen(s);
    return n == 0 ? 0 : (n * (FONT_W + 1) - 1) * scale;
}
