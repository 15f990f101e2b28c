/* libcnn's own convolutions: the three passes as tiles of the register-
 * blocked microkernels of ukr.h, with no BLAS call and, except where the
 * forward pass judges an im2col copy cheaper, no im2col matrix.
 *
 * A tile has rows (broadcast operand) and vectors (loaded operand).  Each
 * pass picks the orientation that fills the vectors:
 * - forward, by positions: rows = output channels (weights broadcast in
 *   their stored layout), vectors = output positions of one image read from
 *   its im2col copy; the tile is y itself (NCHW), bias added on the store;
 * - forward, by channels (direct): rows = positions along one output row,
 *   broadcast straight from the (padded) image, vectors = output channels
 *   of the weights packed K x out_c; the tile is stored transposed.
 *   The cheaper of the two, by a count of vector operations (fwd_cost), runs;
 * - backward data: rows = im2col rows k = (c, i, j), broadcast from the
 *   weights in place; vectors = output positions of dy; the tiles make one
 *   image's dcol matrix, which col2im turns into dx (scattering each tile
 *   straight into dx was measured slower: 21% of W2's step against 4%; at
 *   stride 1 the SIMD paths build dx row by row, col2im_rows.c);
 * - backward weights, by channels (direct): rows = kernel columns j of one
 *   (c, i), broadcast from the (padded) image; vectors = output channels of
 *   dy transposed; the nest runs over output positions, image by image, and
 *   the tile accumulates into dW^T;
 * - backward weights, by dot products: dy rows against im2col rows, both
 *   as vectors along the positions (ukr.h's dot tiles), for layers with few
 *   output channels and many positions.  bwdw_cost picks the form.
 * Padding is handled by a zero-bordered copy of the image (col2im handles
 * it for dx), so the microkernels never test bounds.
 *
 * Every output element is a sum in a fixed order (ukr.h), so the result
 * depends only on the inputs, n and the ISA path. */
#include "kernels/kernels.h"
#include "kernels/ukr.h"

#include <math.h>
#include <string.h>

/* bwd_weights transposes dy for this many floats' worth of images at a
 * time (at least one image); keeps its scratch bounded at any batch. */
#define DIRECT_CHUNK_FLOATS ((size_t)64 * 1024)

static size_t round_up(size_t v, size_t m)
{
    return (v + m - 1) / m * m;
}

/* ---- tiling ------------------------------------------------------------ */

/* `cols` columns in vectors of `lanes`, grouped into the fewest blocks of at
 * most `most` vectors (the path's plan_nv), sizes balanced: block b starts
 * at vector *v0 and has the returned number of vectors. */
typedef struct col_plan {
    int vectors, blocks;
} col_plan;

static col_plan plan_cols(int cols, int lanes, int most)
{
    col_plan c;
    c.vectors = (cols + lanes - 1) / lanes;
    c.blocks = (c.vectors + most - 1) / most;
    return c;
}

static int col_block(const col_plan *c, int b, int *v0)
{
    const int base = c->vectors / c->blocks, extra = c->vectors % c->blocks;
    *v0 = b * base + (b < extra ? b : extra);
    return base + (b < extra);
}

/* `rows` rows in the fewest tiles of at most `most`, balanced: tile t starts
 * at row *r0 and has the returned number of rows. */
static int row_tiles(int rows, int most)
{
    return (rows + most - 1) / most;
}

static int row_tile(int rows, int tiles, int t, int *r0)
{
    const int base = rows / tiles, extra = rows % tiles;
    *r0 = t * base + (t < extra ? t : extra);
    return base + (t < extra);
}

/* ---- padding ----------------------------------------------------------- */

static int padded_h(const cnn_conv_geom *g)
{
    return g->in_h + 2 * g->pad_h;
}

static int padded_w(const cnn_conv_geom *g)
{
    return g->in_w + 2 * g->pad_w;
}

static bool has_pad(const cnn_conv_geom *g)
{
    return g->pad_h > 0 || g->pad_w > 0;
}

/* Floats of one padded image (0 without padding: the image is used as is). */
static size_t padded_floats(const cnn_conv_geom *g)
{
    return has_pad(g) ? (size_t)g->in_c * (size_t)padded_h(g) * (size_t)padded_w(g) : 0;
}

/* (kernels.h) Without padding it writes nothing: callers use x as is. */
void cnn_k_conv2d_pad_image(const cnn_conv_geom *g, const float *restrict x, float *restrict xp)
{
    const int hp = padded_h(g), wp = padded_w(g);
    memset(xp, 0, padded_floats(g) * sizeof *xp);
    for (int c = 0; c < g->in_c; c++)
        for (int y = 0; y < g->in_h; y++)
            memcpy(xp + ((size_t)c * hp + (size_t)(y + g->pad_h)) * wp + g->pad_w,
                   x + ((size_t)c * g->in_h + (size_t)y) * g->in_w, (size_t)g->in_w * sizeof *x);
}

/* ---- scratch ----------------------------------------------------------- */

static size_t kdim(const cnn_conv_geom *g)
{
    return (size_t)g->in_c * (size_t)g->k_h * (size_t)g->k_w;
}

static size_t pdim(const cnn_conv_geom *g)
{
    return (size_t)g->out_h * (size_t)g->out_w;
}

/* ---- shifted columns -------------------------------------------------
 * At stride 1, the im2col row of (c, i, j) is the output positions' input
 * pixels x[c][oy + i][ox + j]: rows i.. of the image shifted left by j
 * columns, cut to out_w.  So one copy per (c, j) of the whole (padded)
 * image shifted by j and cut to out_w columns, S[c][j] (hp x out_w), holds
 * every row i of the im2col matrix at once: row (c, i, j) is the P floats
 * at S[c][j] + i*out_w.  The microkernel's nested B strides (ukr.h) walk
 * (c, i, j) over these in im2col's own order, so the sums, and the bits,
 * are those of the im2col form, from a copy about k_h times smaller (W2's
 * conv 2: 38 KiB, inside L1, against 125 KiB). */
static bool shifted_fits(const cnn_conv_geom *g)
{
    return g->stride_h == 1 && g->stride_w == 1;
}

/* Floats of the shifted copy: in_c*k_w blocks of hp x out_w, and the
 * padded tail of the last row's read (ppad - P floats, zeroed). */
static size_t shifted_floats(const cnn_conv_geom *g, size_t ppad)
{
    return (size_t)g->in_c * g->k_w * padded_h(g) * g->out_w + (ppad - pdim(g));
}

/* Images whose transposed dy (and padded copy) bwd_weights holds at once. */
static int bwdw_chunk(const cnn_conv_geom *g, int n)
{
    const size_t per = pdim(g) * round_up((size_t)g->out_c, CNN_K_UKR_MAX_LANES) +
                       padded_floats(g);
    size_t c = per ? DIRECT_CHUNK_FLOATS / per : (size_t)n;
    if (c < 1)
        c = 1;
    return (size_t)n < c ? (n > 1 ? n : 1) : (int)c;
}

/* The dot form of bwd_weights keeps out_c x K vectors of partial sums:
 * only where they stay small (early layers: few channels, small kernels). */
#define DOT_PARTIALS_MAX_FLOATS ((size_t)64 * 1024)

static bool bwdw_dot_fits(const cnn_conv_geom *g)
{
    return (size_t)g->out_c * kdim(g) * CNN_K_UKR_MAX_LANES <= DOT_PARTIALS_MAX_FLOATS;
}

/* Sized with the widest path's lanes, so that it holds for every path. */
size_t cnn_k_conv2d_direct_scratch_floats(const cnn_conv_geom *g, int n)
{
    const size_t lanes = CNN_K_UKR_MAX_LANES, k = kdim(g), p = pdim(g);
    const size_t ppad = round_up(p, lanes), opad = round_up((size_t)g->out_c, lanes);
    const size_t pad = padded_floats(g);
    const size_t fwd_pos = k * ppad > shifted_floats(g, ppad) ? k * ppad : shifted_floats(g, ppad);
    const size_t fwd_chan = k * opad + pad;
    const size_t bwd_data = (k + (size_t)g->out_c) * ppad;
    const size_t bwd_w = k * opad + (size_t)bwdw_chunk(g, n) * (p * opad + pad);
    const size_t bwd_w_dot = bwdw_dot_fits(g) ? (k + (size_t)g->out_c) * ppad +
                                                    (size_t)g->out_c * k * lanes
                                              : 0;
    size_t most = fwd_pos > fwd_chan ? fwd_pos : fwd_chan;
    if (bwd_data > most)
        most = bwd_data;
    if (bwd_w_dot > most)
        most = bwd_w_dot;
    return bwd_w > most ? bwd_w : most;
}

/* ---- forward ----------------------------------------------------------- */

/* Vector operations (multiply-adds, copies, scalar stores) of one image's
 * forward pass in each orientation; the direct one pays a scalar transposed
 * store per output, the positional one an im2col copy. */
static size_t fwd_cost(const cnn_conv_geom *g, int lanes, bool by_channels)
{
    const size_t k = kdim(g), p = pdim(g), o = (size_t)g->out_c, l = (size_t)lanes;
    if (by_channels)
        return p * ((o + l - 1) / l) * k + 2 * o * p;
    const size_t copy = shifted_fits(g) ? shifted_floats(g, p) : k * p;
    return o * ((p + l - 1) / l) * k + 2 * copy / l + o * p / l;
}

bool cnn_k_conv2d_direct_fwd_by_channels(const cnn_conv_geom *g)
{
    const int lanes = cnn_k_ukr_active()->lanes;
    return fwd_cost(g, lanes, true) < fwd_cost(g, lanes, false);
}

/* dst[ox] = src[ox] for ox < W: short copies kept as inline vector moves
 * for the common widths (a memcpy call per row cost more than the copy). */
#define DEF_COPY_ROW(W)                                                         \
    static inline void copy_row_##W(float *restrict dst, const float *restrict src) \
    {                                                                           \
        for (int ox = 0; ox < (W); ox++)                                        \
            dst[ox] = src[ox];                                                  \
    }
DEF_COPY_ROW(8)
DEF_COPY_ROW(24)

/* S[c][j][r][ox] = x[c][r - pad_h][ox + j - pad_w] (0 outside the image),
 * r < hp, ox < out_w. */
CNN_KEEP_LOOPS static void shift_columns(const cnn_conv_geom *g, const float *restrict x, float *restrict s)
{
    const int hp = padded_h(g), ow = g->out_w, in_w = g->in_w;
    const size_t plane = (size_t)g->in_h * in_w;
    if (!has_pad(g) && (ow == 8 || ow == 24)) {
        /* every row whole (in_w >= out_w + j): plain copies, no tests */
        for (int c = 0; c < g->in_c; c++)
            for (int j = 0; j < g->k_w; j++) {
                const float *src = x + (size_t)c * plane + j;
                if (ow == 8)
                    for (int r = 0; r < hp; r++, s += 8, src += in_w)
                        copy_row_8(s, src);
                else
                    for (int r = 0; r < hp; r++, s += 24, src += in_w)
                        copy_row_24(s, src);
            }
        return;
    }
    for (int c = 0; c < g->in_c; c++) {
        for (int j = 0; j < g->k_w; j++) {
            const int off = j - g->pad_w;
            /* output columns whose input column ox + off is inside the image */
            const int lo = off < 0 ? -off : 0;
            const int hi = in_w - off < ow ? in_w - off : ow;
            const bool whole = lo == 0 && hi == ow;
            for (int r = 0; r < hp; r++, s += ow) {
                const int iy = r - g->pad_h;
                if (iy < 0 || iy >= g->in_h) {
                    for (int ox = 0; ox < ow; ox++)
                        s[ox] = 0.0f;
                    continue;
                }
                /* input column of ox is ox + off: kept as an index, since a
                 * pointer to the row's column off < 0 would point outside it */
                const float *row = x + (size_t)c * plane + (size_t)iy * in_w;
                if (whole && ow == 8) {
                    copy_row_8(s, row + off);
                } else if (whole && ow == 24) {
                    copy_row_24(s, row + off);
                } else {
                    for (int ox = 0; ox < lo; ox++)
                        s[ox] = 0.0f;
                    for (int ox = lo; ox < hi; ox++)
                        s[ox] = row[ox + off];
                    for (int ox = hi; ox < ow; ox++)
                        s[ox] = 0.0f;
                }
            }
        }
    }
}

/* One image, by positions: y = W * col + b, col the im2col matrix (K x
 * ppad, tail columns zero), read from the shifted copy at stride 1 and
 * from an im2col copy otherwise (`buf` holds either).  Full-width tiles are
 * stored straight into y (rows of y are P floats apart); a block that runs
 * past P goes through a tile on the stack.  (Splitting K into blocks to
 * keep col's rows in L1 was tried and measured no faster: W2's second
 * layer ran 135 GFLOP/s either way.) */
static void fwd_by_positions(const cnn_k_ukr_set *s, const cnn_conv_geom *g, const float *x,
                             const float *w, const float *b, float *y, float *buf)
{
    const int k = (int)kdim(g), p = (int)pdim(g), ppad = (int)round_up(pdim(g), s->lanes);
    float tile[CNN_K_UKR_TILE_FLOATS];
    /* B(c, i, j) in im2col order: flat rows of the im2col copy, or nested
     * over the shifted copy */
    const bool shifted = shifted_fits(g);
    const int hp = padded_h(g);
    cnn_k_ukr_job nest = {.n1 = 1, .n2 = 1, .n3 = k, .a3 = 1, .ldb = ppad};
    if (shifted) {
        shift_columns(g, x, buf);
        nest = (cnn_k_ukr_job){.n1 = g->in_c, .a1 = (ptrdiff_t)g->k_h * g->k_w,
                               .n2 = g->k_h, .a2 = g->k_w, .n3 = g->k_w, .a3 = 1,
                               .b1 = (ptrdiff_t)g->k_w * hp * g->out_w, .b2 = g->out_w,
                               .ldb = (ptrdiff_t)hp * g->out_w};
    } else {
        cnn_k_im2col_ld(g, x, buf, (size_t)ppad);
    }
    const col_plan cp = plan_cols(p, s->lanes, s->plan_nv);
    for (int cb = 0; cb < cp.blocks; cb++) {
        int v0;
        const int nv = col_block(&cp, cb, &v0), width = nv * s->lanes, p0 = v0 * s->lanes;
        const int cnt = p - p0 < width ? p - p0 : width;
        const int tiles = row_tiles(g->out_c, s->max_mr[nv]);
        for (int t = 0; t < tiles; t++) {
            int o0;
            const int mr = row_tile(g->out_c, tiles, t, &o0);
            const bool direct = cnt == width;
            float *dst = direct ? y + (size_t)o0 * p + p0 : tile;
            const int ldd = direct ? p : width;
            cnn_k_ukr_job job = nest;
            job.a = w + (size_t)o0 * k;
            job.a_row = k;
            job.b = buf + p0;
            job.t = dst;
            job.ldt = ldd;
            job.overwrite = 1;
            s->fn[nv][mr](&job);
            if (direct && !b)
                continue;
            for (int r = 0; r < mr; r++) {
                const float bo = b ? b[o0 + r] : 0.0f;
                float *out = y + (size_t)(o0 + r) * p + p0;
                const float *src = dst + (size_t)r * ldd;
                for (int l = 0; l < cnt; l++)
                    out[l] = src[l] + bo;
            }
        }
    }
}

/* W^T packed for the direct forward: wt[k][o] = w[o][k], opad columns,
 * zero beyond out_c. */
static void pack_wt(const cnn_conv_geom *g, const float *restrict w, int opad,
                    float *restrict wt)
{
    const size_t k = kdim(g);
    for (size_t kk = 0; kk < k; kk++) {
        float *row = wt + kk * (size_t)opad;
        for (int o = 0; o < g->out_c; o++)
            row[o] = w[(size_t)o * k + kk];
        for (int o = g->out_c; o < opad; o++)
            row[o] = 0.0f;
    }
}

/* One image, by channels: rows are positions ox0.. of output row oy, read
 * from the (padded) image src; wt as pack_wt. */
static void fwd_by_channels(const cnn_k_ukr_set *s, const cnn_conv_geom *g, const float *src,
                            const float *wt, int opad, const float *b, float *y)
{
    const int hp = padded_h(g), wp = padded_w(g), p = (int)pdim(g);
    float tile[CNN_K_UKR_TILE_FLOATS];
    const col_plan cp = plan_cols(g->out_c, s->lanes, s->plan_nv);
    for (int cb = 0; cb < cp.blocks; cb++) {
        int v0;
        const int nv = col_block(&cp, cb, &v0), width = nv * s->lanes, o0 = v0 * s->lanes;
        const int cnt = g->out_c - o0 < width ? g->out_c - o0 : width;
        const int tiles = row_tiles(g->out_w, s->max_mr[nv]);
        for (int oy = 0; oy < g->out_h; oy++) {
            for (int t = 0; t < tiles; t++) {
                int ox0;
                const int mr = row_tile(g->out_w, tiles, t, &ox0);
                const cnn_k_ukr_job job = {
                    .a = src + (size_t)oy * g->stride_h * wp + (size_t)ox0 * g->stride_w,
                    .a_row = g->stride_w,
                    .n1 = g->in_c, .a1 = (ptrdiff_t)hp * wp,
                    .n2 = g->k_h, .a2 = wp,
                    .n3 = g->k_w, .a3 = 1,
                    .b = wt + o0, .ldb = opad, .t = tile, .ldt = width, .overwrite = 1};
                s->fn[nv][mr](&job);
                float *dst = y + (size_t)oy * g->out_w + ox0;
                for (int o = 0; o < cnt; o++) {
                    const float bo = b ? b[o0 + o] : 0.0f;
                    for (int r = 0; r < mr; r++)
                        dst[(size_t)(o0 + o) * p + r] = tile[(size_t)r * width + o] + bo;
                }
            }
        }
    }
}

void cnn_k_conv2d_direct_fwd(const cnn_conv_geom *g, int n, const float *x, const float *w,
                             const float *b, float *y, float *scratch)
{
    cnn_k_conv2d_direct_fwd_as(g, n, x, w, b, y, scratch, cnn_k_conv2d_direct_fwd_by_channels(g));
}

void cnn_k_conv2d_direct_fwd_as(const cnn_conv_geom *g, int n, const float *x, const float *w,
                                const float *b, float *y, float *scratch, bool by_channels)
{
    cnn_k_conv2d_direct_fwd_each(g, n, x, w, b, y, (size_t)g->out_c * pdim(g), scratch,
                                 by_channels, NULL);
}

void cnn_k_conv2d_direct_fwd_each(const cnn_conv_geom *g, int n, const float *x, const float *w,
                                  const float *b, float *y, size_t y_step, float *scratch,
                                  bool by_channels, const cnn_k_image_hook *hook)
{
    const cnn_k_ukr_set *s = cnn_k_ukr_active();
    const size_t x_img = (size_t)g->in_c * g->in_h * g->in_w;
    if (!by_channels) {
        /* neither copy writes the tail columns (im2col) or the tail past
         * the last row (shifted): zero them once */
        const size_t ppad = round_up(pdim(g), s->lanes), k = kdim(g);
        if (shifted_fits(g)) {
            const size_t end = shifted_floats(g, ppad);
            memset(scratch + end - (ppad - pdim(g)), 0, (ppad - pdim(g)) * sizeof *scratch);
        } else {
            for (size_t r = 0; r < k; r++)
                memset(scratch + r * ppad + pdim(g), 0, (ppad - pdim(g)) * sizeof *scratch);
        }
        for (int i = 0; i < n; i++) {
            float *yi = y + i * y_step;
            fwd_by_positions(s, g, x + i * x_img, w, b, yi, scratch);
            if (hook)
                hook->done(hook->ctx, i, yi);
        }
        return;
    }
    const int opad = (int)round_up((size_t)g->out_c, s->lanes);
    float *wt = scratch, *xp = scratch + kdim(g) * (size_t)opad;
    pack_wt(g, w, opad, wt);
    for (int i = 0; i < n; i++) {
        const float *src = x + i * x_img;
        float *yi = y + i * y_step;
        if (has_pad(g)) {
            cnn_k_conv2d_pad_image(g, src, xp);
            src = xp;
        }
        fwd_by_channels(s, g, src, wt, opad, b, yi);
        if (hook)
            hook->done(hook->ctx, i, yi);
    }
}

/* ---- backward data ----------------------------------------------------- */

/* dcol rows made and turned into dx at once, at most (a slab of whole
 * channels, at least one): the col2im by rows then reads them from L1. */
#define BWD_DATA_SLAB_FLOATS ((size_t)16 * 1024)

/* Per image: dcol (K x ldc) = W^T * dy by tiles (rows k, vectors of output
 * positions, weights broadcast in place), then col2im into dx.  ldc: P
 * rounded up to the lanes; dy is read in place when P is a multiple of the
 * lanes, else copied into rows of ldc floats with zero tails.  Where the
 * col2im by rows applies (stride 1, SIMD), dcol is made a slab of input
 * channels at a time and each slab turned into dx while it is in cache.
 * Every dcol element is the same sum whatever the slab (ukr.h), so the
 * slabs change no bits. */
void cnn_k_conv2d_direct_bwd_data(const cnn_conv_geom *g, int n, const float *dy, const float *w,
                                  float *dx, float *scratch)
{
    const cnn_k_ukr_set *s = cnn_k_ukr_active();
    const int k = (int)kdim(g), p = (int)pdim(g), kc = g->k_h * g->k_w;
    const size_t x_img = (size_t)g->in_c * g->in_h * g->in_w, y_img = (size_t)g->out_c * p;
    const int ldc = (int)round_up((size_t)p, s->lanes);
    const bool copy_dy = ldc != p, by_rows = cnn_k_col2im_rows_ok(g);
    int slab = g->in_c;
    if (by_rows) {
        const size_t fit = BWD_DATA_SLAB_FLOATS / ((size_t)kc * (size_t)ldc);
        slab = fit < 1 ? 1 : fit < (size_t)g->in_c ? (int)fit : g->in_c;
        if (slab >= 4 && slab < g->in_c)
            slab -= slab % 4; /* whole groups of the col2im's 4 or 8 channels */
    }
    float *dcol = scratch, *dyp = scratch + (size_t)k * ldc;
    if (copy_dy)
        memset(dyp, 0, (size_t)g->out_c * ldc * sizeof *dyp);
    const col_plan cp = plan_cols(p, s->lanes, s->plan_nv);
    for (int i = 0; i < n; i++) {
        const float *dyi = dy + i * y_img;
        float *dxi = dx + i * x_img;
        if (copy_dy) {
            for (int o = 0; o < g->out_c; o++)
                memcpy(dyp + (size_t)o * ldc, dyi + (size_t)o * p, (size_t)p * sizeof *dyp);
            dyi = dyp;
        }
        for (int c0 = 0; c0 < g->in_c; c0 += slab) {
            const int c1 = g->in_c - c0 < slab ? g->in_c : c0 + slab;
            const int rows = (c1 - c0) * kc, kbase = c0 * kc;
            for (int cb = 0; cb < cp.blocks; cb++) {
                int v0;
                const int nv = col_block(&cp, cb, &v0), p0 = v0 * s->lanes;
                const int tiles = row_tiles(rows, s->max_mr[nv]);
                for (int t = 0; t < tiles; t++) {
                    int k0;
                    const int mr = row_tile(rows, tiles, t, &k0);
                    const cnn_k_ukr_job job = {
                        .a = w + kbase + k0, .a_row = 1, .n1 = 1, .n2 = 1, .n3 = g->out_c,
                        .a3 = k, .b = dyi + p0, .ldb = ldc,
                        .t = dcol + (size_t)k0 * ldc + p0, .ldt = ldc, .overwrite = 1};
                    s->fn[nv][mr](&job);
                }
            }
            if (by_rows)
                cnn_k_col2im_rows(g, c0, c1, dcol, dxi, (size_t)ldc);
        }
        if (!by_rows) {
            memset(dxi, 0, x_img * sizeof *dxi);
            cnn_k_col2im_ld(g, dcol, dxi, (size_t)ldc);
        }
    }
}

/* ---- backward weights -------------------------------------------------- */

/* By channels: dW^T tiles of kernel columns j by output-channel vectors,
 * from the (padded) image and dy transposed (P x opad per image). */
static void bwd_weights_by_channels(const cnn_k_ukr_set *s, const cnn_conv_geom *g, int n,
                                    const float *x, const float *dy, float *dw, float *scratch)
{
    const size_t k = kdim(g), p = pdim(g), pad = padded_floats(g);
    const size_t x_img = (size_t)g->in_c * g->in_h * g->in_w, y_img = (size_t)g->out_c * p;
    const int opad = (int)round_up((size_t)g->out_c, s->lanes);
    const int hp = padded_h(g), wp = padded_w(g), chunk = bwdw_chunk(g, n);
    float *dwt = scratch;                      /* dW^T: k x opad */
    float *dyt = dwt + k * (size_t)opad;       /* chunk x p x opad */
    float *xp = dyt + (size_t)chunk * p * opad; /* chunk padded images */
    memset(dwt, 0, k * (size_t)opad * sizeof *dwt);
    /* The transposes write columns [0, out_c) of dy^T only: the padding
     * columns are zeroed here, once for the whole call. */
    if (opad > g->out_c)
        for (size_t q = 0; q < (size_t)chunk * p; q++)
            memset(dyt + q * opad + g->out_c, 0, (size_t)(opad - g->out_c) * sizeof *dyt);
    const col_plan cp = plan_cols(g->out_c, s->lanes, s->plan_nv);
    for (int i0 = 0; i0 < n; i0 += chunk) {
        const int nc = n - i0 < chunk ? n - i0 : chunk;
        for (int i = 0; i < nc; i++) {
            const float *dyi = dy + (size_t)(i0 + i) * y_img;
            float *t = dyt + (size_t)i * p * opad;
            s->transpose(g->out_c, (int)p, dyi, (ptrdiff_t)p, t, opad);
            if (pad)
                cnn_k_conv2d_pad_image(g, x + (size_t)(i0 + i) * x_img, xp + (size_t)i * pad);
        }
        /* One image at a time through every tile, so that its dy^T (P x
         * opad floats) stays in L1 while all K rows read it; a tile spanning
         * the chunk streamed it from L2 once per (c, i) and ran ~25% slower
         * on W2's second layer. */
        for (int i = 0; i < nc; i++) {
        const float *src = pad ? xp + (size_t)i * pad : x + (size_t)(i0 + i) * x_img;
        const float *dyti = dyt + (size_t)i * p * opad;
        for (int cb = 0; cb < cp.blocks; cb++) {
            int v0;
            const int nv = col_block(&cp, cb, &v0), o0 = v0 * s->lanes;
            const int tiles = row_tiles(g->k_w, s->max_mr[nv]);
            for (int c = 0; c < g->in_c; c++) {
                for (int ki = 0; ki < g->k_h; ki++) {
                    for (int t = 0; t < tiles; t++) {
                        int j0;
                        const int mr = row_tile(g->k_w, tiles, t, &j0);
                        const size_t row = ((size_t)c * g->k_h + ki) * g->k_w + j0;
                        const cnn_k_ukr_job job = {
                            .a = src + ((size_t)c * hp + ki) * wp + j0, .a_row = 1,
                            .n1 = 1, .a1 = 0,
                            .n2 = g->out_h, .a2 = (ptrdiff_t)g->stride_h * wp,
                            .n3 = g->out_w, .a3 = g->stride_w,
                            .b = dyti + o0, .ldb = opad,
                            .t = dwt + row * opad + o0, .ldt = opad};
                        s->fn[nv][mr](&job);
                    }
                }
            }
        }
        }
    }
    for (int o = 0; o < g->out_c; o++)
        for (size_t kk = 0; kk < k; kk++)
            dw[(size_t)o * k + kk] = dwt[kk * opad + o];
}

/* By dot products: dW[o][k] = sum over images and positions of
 * dy[o][p] * col[k][p], both rows read as vectors along p (dy in place, col
 * the image's im2col copy), as lane-wise partial sums reduced at the end.
 * Positions are taken in chunks of rows of dy and col of up to 128 KiB: a
 * call's fixed cost (loading and storing its partial sums) outweighs
 * keeping the rows in L1 (W2's first layer, AVX-512, batch 10: chunks of
 * 24 KiB ran 8.5 us an image, 48 KiB 7.5, 128 KiB, i.e. whole rows, 7.1).
 * Wins where out_c is small next to the vector width and P is large (a
 * first layer): no lanes idle, no transpose. */
#define DOT_CHUNK_BYTES (128 * 1024)

static void bwd_weights_by_dot(const cnn_k_ukr_set *s, const cnn_conv_geom *g, int n,
                               const float *x, const float *dy, float *dw, float *scratch)
{
    const int lanes = s->lanes, k = (int)kdim(g), p = (int)pdim(g);
    const int ppad = (int)round_up((size_t)p, lanes), vsteps = ppad / lanes;
    const size_t x_img = (size_t)g->in_c * g->in_h * g->in_w, y_img = (size_t)g->out_c * p;
    const bool copy_dy = ppad != p;
    float *col = scratch, *dyp = col + (size_t)k * ppad;
    float *tv = dyp + (size_t)g->out_c * ppad; /* out_c x K vectors of partial sums */
    /* im2col and the dy copies write columns [0, P) only: zero the tails once */
    for (int r = 0; r < k && copy_dy; r++)
        memset(col + (size_t)r * ppad + p, 0, (size_t)(ppad - p) * sizeof *col);
    for (int o = 0; o < g->out_c && copy_dy; o++)
        memset(dyp + (size_t)o * ppad + p, 0, (size_t)(ppad - p) * sizeof *dyp);
    int chunk = DOT_CHUNK_BYTES / ((g->out_c + k) * lanes * (int)sizeof(float));
    if (chunk < 4)
        chunk = 4;
    /* B rows from the shifted copy (as the forward pass reads them) where a
     * tile of k_w columns (j) of one (c, i) lies at a fixed stride in it and
     * the rows need no zero tail; else from an im2col copy.  The same
     * values either way, so the same sums. */
    const bool shifted = shifted_fits(g) && ppad == p && g->k_w <= s->dot_nc;
    const ptrdiff_t sj = (ptrdiff_t)padded_h(g) * g->out_w; /* S[c][j] to S[c][j+1] */
    const int otiles = row_tiles(g->out_c, s->dot_mr);
    const int ktiles = shifted ? g->in_c * g->k_h : row_tiles(k, s->dot_nc);
    for (int i = 0; i < n; i++) {
        if (shifted)
            shift_columns(g, x + i * x_img, col);
        else
            cnn_k_im2col_ld(g, x + i * x_img, col, (size_t)ppad);
        const float *dyi = dy + i * y_img;
        if (copy_dy) {
            for (int o = 0; o < g->out_c; o++)
                memcpy(dyp + (size_t)o * ppad, dyi + (size_t)o * p, (size_t)p * sizeof *dyp);
            dyi = dyp;
        }
        for (int s0 = 0; s0 < vsteps; s0 += chunk) {
            const int steps = vsteps - s0 < chunk ? vsteps - s0 : chunk;
            for (int ot = 0; ot < otiles; ot++) {
                int o0;
                const int mr = row_tile(g->out_c, otiles, ot, &o0);
                for (int kt = 0; kt < ktiles; kt++) {
                    int k0, nc;
                    const float *b;
                    if (shifted) { /* (c, i) = (kt / k_h, kt % k_h), every j */
                        k0 = kt * g->k_w;
                        nc = g->k_w;
                        b = col + (size_t)(kt / g->k_h) * g->k_w * sj +
                            (size_t)(kt % g->k_h) * g->out_w;
                    } else {
                        nc = row_tile(k, ktiles, kt, &k0);
                        b = col + (size_t)k0 * ppad;
                    }
                    const cnn_k_dot_job job = {
                        .a = dyi + (size_t)o0 * ppad + (size_t)s0 * lanes, .a_row = ppad,
                        .b = b + (size_t)s0 * lanes, .b_row = shifted ? sj : ppad,
                        .steps = steps,
                        .t = tv + ((size_t)o0 * k + k0) * lanes, .ldt = (ptrdiff_t)k * lanes,
                        .overwrite = i == 0 && s0 == 0};
                    s->dot[mr][nc](&job);
                }
            }
        }
    }
    const size_t count = (size_t)g->out_c * k;
    for (size_t e = 0; e < count; e++) {
        float sum = 0.0f;
        for (int l = 0; n > 0 && l < lanes; l++)
            sum += tv[e * lanes + l];
        dw[e] = sum;
    }
}

/* Multiply-adds (in vector FMAs) plus the layout work of each form, per
 * image; the transposes cost about three FMA slots a float (measured on
 * W2's first layer), the im2col copy about half of one. */
static double bwdw_cost(const cnn_conv_geom *g, int lanes, bool by_dot)
{
    const double k = (double)kdim(g), p = (double)pdim(g), o = g->out_c, l = lanes;
    if (by_dot)
        return o * k * ceil(p / l) * 1.3 + k * p * 0.5;
    return p * ceil(o / l) * k + 3.0 * o * p;
}

bool cnn_k_conv2d_direct_bwd_weights_by_dot(const cnn_conv_geom *g)
{
    const int lanes = cnn_k_ukr_active()->lanes;
    return bwdw_dot_fits(g) && bwdw_cost(g, lanes, true) < bwdw_cost(g, lanes, false);
}

void cnn_k_conv2d_direct_bwd_weights_as(const cnn_conv_geom *g, int n, const float *x,
                                        const float *dy, float *dw, float *scratch, bool by_dot)
{
    const cnn_k_ukr_set *s = cnn_k_ukr_active();
    if (by_dot && bwdw_dot_fits(g))
        bwd_weights_by_dot(s, g, n, x, dy, dw, scratch);
    else
        bwd_weights_by_channels(s, g, n, x, dy, dw, scratch);
}

void cnn_k_conv2d_direct_bwd_weights(const cnn_conv_geom *g, int n, const float *x,
                                     const float *dy, float *dw, float *scratch)
{
    cnn_k_conv2d_direct_bwd_weights_as(g, n, x, dy, dw, scratch,
                                       cnn_k_conv2d_direct_bwd_weights_by_dot(g));
}
