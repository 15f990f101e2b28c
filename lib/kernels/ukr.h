/* The register-blocked microkernels under libcnn's own convolutions.
 *
 * One microkernel computes a tile T of mr rows by nv vectors (nv * lanes
 * floats) as a sum of rank-1 updates, walking a three-deep loop nest:
 *
 *   T[r][l] += sum over i1 < n1, i2 < n2, i3 < n3 of
 *              A(r; i1, i2, i3) * B[step][l]
 *   A(r; i1, i2, i3) = a[r*a_row + i1*a1 + i2*a2 + i3*a3]
 *   B(i1, i2, i3)    = b + i1*b1 + i2*b2 + i3*ldb
 * where b1 = 0 and b2 = 0 stand for the rows following on linearly
 * (b2 = n3*ldb, b1 = n2*b2: B[step], step = (i1*n2 + i2)*n3 + i3).  The
 * nested form lets a stride-1 convolution read its B rows from a copy of
 * the image shifted by columns only (conv2d_direct.c, "shifted columns").
 *
 * The A elements are broadcast, the B rows loaded as vectors: mr * nv
 * accumulators stay in registers for the whole nest, and the tile is added
 * to T once at the end (or stored over it, with `overwrite`).  The strided A and the nest are what let the
 * convolutions read the image itself (a window of rows and columns) where
 * a GEMM would first copy it into an im2col matrix, and read the weights
 * in their stored layout.  B rows must hold nv * lanes readable floats.
 *
 * Each element of T is summed in nest order (i1, i2, i3 ascending) with one
 * fused multiply-add per term, starting from zero, and then added to T (or
 * stored): the result depends on the inputs and the ISA path only, never on
 * the tile shape chosen.  Callers that split a sum over several calls (to
 * keep operands in cache) fix the split from the problem's shape and the
 * path alone, so results stay deterministic.  Paths differ only by rounding
 * (FMA on the SIMD paths, separate multiply and add where the portable
 * path's compiler does not contract).
 *
 * Paths (chosen at run time, see cnn_k_isa() in kernels.h):
 * - generic: portable C, 8 "lanes" per vector, mr <= 4;
 * - avx2:    AVX2 + FMA, 8 lanes, 16 registers (mr * nv + nv + 1 <= 16);
 * - avx512:  AVX-512 F, 16 lanes, 32 registers (mr * nv + nv + 1 <= 32). */
#ifndef CNN_UKR_H
#define CNN_UKR_H

#include <stddef.h>

#define CNN_K_UKR_MAX_NV 4     /* vectors per tile row, every path */
#define CNN_K_UKR_MAX_MR 14    /* rows per tile, the largest of any path */
#define CNN_K_UKR_MAX_LANES 16 /* floats per vector, the widest path */
/* Floats of the largest tile of any path (for tile buffers on the stack). */
#define CNN_K_UKR_TILE_FLOATS (CNN_K_UKR_MAX_MR * CNN_K_UKR_MAX_NV * CNN_K_UKR_MAX_LANES)

typedef struct cnn_k_ukr_job {
    const float *a;      /* A(0; 0, 0, 0) */
    ptrdiff_t a_row;     /* floats from one row's A element to the next row's */
    int n1, n2, n3;      /* loop counts, each >= 1 */
    ptrdiff_t a1, a2, a3; /* A strides of the three loops, in floats */
    const float *b;      /* B(0, 0, 0): nv * lanes floats */
    ptrdiff_t ldb;       /* floats from one B row to the next (innermost loop) */
    ptrdiff_t b1, b2;    /* B strides of the outer two loops; 0: linear (above) */
    float *t;            /* T[0][0] */
    ptrdiff_t ldt;       /* floats from one T row to the next */
    int overwrite;       /* nonzero: T = the sum (T is not read); 0: T += the sum */
} cnn_k_ukr_job;

typedef void (*cnn_k_ukr_fn)(const cnn_k_ukr_job *job);

/* Dot tiles, for products whose inner dimension is long and contiguous in
 * both operands (a weight gradient: dy rows against im2col rows).  One call
 * adds, lane by lane, mr x nc vectors of partial sums:
 *
 *   T[r][c][l] (+)= sum over s < steps of A[r][s*lanes + l] * B[c][s*lanes + l]
 *
 * rows of A at a + r*a_row, rows of B at b + c*b_row, partial-sum vector
 * (r, c) at t + r*ldt + c*lanes.  The caller reduces the lanes at the end,
 * in a fixed order, so the result stays deterministic on a path. */
typedef struct cnn_k_dot_job {
    const float *a;
    ptrdiff_t a_row;
    const float *b;
    ptrdiff_t b_row;
    int steps;     /* vectors along each row, >= 1 */
    float *t;
    ptrdiff_t ldt; /* floats from one T row to the next (>= nc * lanes) */
    int overwrite; /* nonzero: T = the sums (T is not read); 0: T += the sums */
} cnn_k_dot_job;

typedef void (*cnn_k_dot_fn)(const cnn_k_dot_job *job);
#define CNN_K_DOT_MAX_MR 4
#define CNN_K_DOT_MAX_NC 6

/* dst[c][r] = src[r][c] for r < rows, c < cols (rows lds, dst rows ldd
 * floats apart): the layout changes the tiles need (dy by channels). */
typedef void (*cnn_k_transpose_fn)(int rows, int cols, const float *src, ptrdiff_t lds,
                                   float *dst, ptrdiff_t ldd);

/* The microkernels of one path.  fn[nv][mr] runs a tile of mr rows and nv
 * vectors, for 1 <= nv <= CNN_K_UKR_MAX_NV and 1 <= mr <= max_mr[nv]. */
typedef struct cnn_k_ukr_set {
    int isa;   /* CNN_K_ISA_* */
    int lanes; /* floats per vector */
    int max_mr[CNN_K_UKR_MAX_NV + 1];
    /* The widest tile (in vectors) the drivers plan with: past it, rows
     * shrink faster than vectors grow (AVX2's 16 registers allow 4 vectors
     * only at 2 rows, which is bound by its loads). */
    int plan_nv;
    cnn_k_ukr_fn fn[CNN_K_UKR_MAX_NV + 1][CNN_K_UKR_MAX_MR + 1];
    cnn_k_transpose_fn transpose;
    /* dot[mr][nc] for 1 <= mr <= dot_mr, 1 <= nc <= dot_nc */
    int dot_mr, dot_nc;
    cnn_k_dot_fn dot[CNN_K_DOT_MAX_MR + 1][CNN_K_DOT_MAX_NC + 1];
} cnn_k_ukr_set;

/* The portable transpose (the generic path's; the SIMD ones use it for the
 * edges that do not fill their blocks). */
void cnn_k_transpose_generic(int rows, int cols, const float *src, ptrdiff_t lds, float *dst,
                             ptrdiff_t ldd);

/* The set of the active path (cnn_k_isa()). */
const cnn_k_ukr_set *cnn_k_ukr_active(void);

/* Per-path sets; the SIMD ones return NULL where the build cannot make
 * them (not x86-64, or a compiler without the target attribute). */
const cnn_k_ukr_set *cnn_k_ukr_generic(void);
const cnn_k_ukr_set *cnn_k_ukr_avx2(void);
const cnn_k_ukr_set *cnn_k_ukr_avx512(void);

#endif /* CNN_UKR_H */
