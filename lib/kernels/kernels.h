/* The numeric kernels: pure functions of plain pointers and sizes.
 *
 * Rules for everything declared here:
 * - no handles, no allocation, no error paths: callers have validated all
 *   shapes and provided all scratch memory;
 * - all arrays are float32, row-major; images are NCHW;
 * - "write" outputs are overwritten, "accumulate" outputs are added to;
 * - gemm.c is the one file that calls CBLAS.
 *
 * Each kernel has a naive reference loop in tests/ that it must match. */
#ifndef CNN_KERNELS_H
#define CNN_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* gcc turns short row copies and fills (8 to 28 floats, as in im2col and
 * the shifted-column copy) back into memcpy/memset calls, whose call
 * overhead dominates at those lengths: functions marked so keep the loops. */
#if defined(__GNUC__) && !defined(__clang__)
#  define CNN_KEEP_LOOPS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#  define CNN_KEEP_LOOPS
#endif

/* ---- instruction set (isa.c) ------------------------------------------
 * The kernels with run-time dispatch (the convolution microkernels, ukr.h,
 * and the small-batch dense kernels, dense_simd.h) take the path
 * cnn_k_isa() names.  It is chosen on first use: the best the CPU
 * supports, or a lower one that the environment variable CNN_ISA names
 * ("avx2", "generic").  GEMM is the BLAS library's business and is not
 * affected.  The values are those of the public enum cnn_isa. */
enum { CNN_K_ISA_GENERIC = 0, CNN_K_ISA_AVX2 = 1, CNN_K_ISA_AVX512 = 2 };
int cnn_k_isa(void);
/* The best path this CPU can run (ignores CNN_ISA). */
int cnn_k_isa_best(void);
/* Tests: switch every dispatched kernel to `isa` (any path up to the best
 * the CPU supports; false and nothing changed otherwise), or with isa < 0
 * back to what the environment chooses.  Not meant to race with running
 * kernels. */
bool cnn_k_isa_set(int isa);
const char *cnn_k_isa_name(int isa); /* "generic", "avx2", "avx512" */

/* ---- matrix multiply (gemm.c) -----------------------------------------
 * C = alpha * op(A) * op(B) + beta * C, row-major; op(X) = X or X^T.
 * op(A) is M x K, op(B) is K x N, C is M x N. */
void cnn_k_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
                const float *a, int lda, const float *b, int ldb, float beta,
                float *c, int ldc);
/* Sets the BLAS library's own thread count (1 when we parallelise ourselves). */
void cnn_k_gemm_set_threads(int threads);

/* ---- geometry of a 2-D convolution ------------------------------------- */
typedef struct cnn_conv_geom {
    int in_c, in_h, in_w;     /* input image */
    int out_c, out_h, out_w;  /* output image: out_h = (in_h + 2 pad_h - k_h) / stride_h + 1 */
    int k_h, k_w;
    int stride_h, stride_w;
    int pad_h, pad_w;
} cnn_conv_geom;

/* Rows of the im2col matrix: in_c * k_h * k_w; columns: out_h * out_w. */
size_t cnn_k_im2col_rows(const cnn_conv_geom *g);
size_t cnn_k_im2col_cols(const cnn_conv_geom *g);

/* ---- im2col.c ----------------------------------------------------------
 * im2col writes col[(c*k_h + i)*k_w + j][oy*out_w + ox] = x[c][oy*s_h+i-p_h][ox*s_w+j-p_w]
 * (0 outside the image) for one image x (in_c x in_h x in_w).
 * col2im accumulates the transpose into dx (one image). */
void cnn_k_im2col(const cnn_conv_geom *g, const float *x, float *col);
void cnn_k_col2im(const cnn_conv_geom *g, const float *col, float *dx);
/* The same with col rows ldc floats apart (ldc >= out_h*out_w): one image's
 * columns inside a wider matrix, as the batched convolution uses. */
void cnn_k_im2col_ld(const cnn_conv_geom *g, const float *x, float *col, size_t ldc);
void cnn_k_col2im_ld(const cnn_conv_geom *g, const float *col, float *dx, size_t ldc);
/* col2im built row by row in registers (col2im_rows.c), for stride 1 on a
 * SIMD path: cnn_k_col2im_rows_ok() says whether it applies (to g, on the
 * active path), and only then may cnn_k_col2im_rows() be called.  It writes
 * channels [c0, c1) of one image's dx (the whole image: dx points at
 * channel 0) from col, whose first row is channel c0's (c0, 0, 0) and whose
 * rows are ldc floats apart.  The result is that of zeroing those channels
 * and calling cnn_k_col2im_ld, bit for bit (up to a NaN's payload). */
bool cnn_k_col2im_rows_ok(const cnn_conv_geom *g);
void cnn_k_col2im_rows(const cnn_conv_geom *g, int c0, int c1, const float *col, float *dx,
                       size_t ldc);

/* ---- conv2d_fwd.c ------------------------------------------------------
 * y[n][o] = sum_c,i,j w[o][c][i][j] * x[n][c][..] + b[o]   (cross-correlation)
 * x: n x in_c x in_h x in_w, w: out_c x in_c x k_h x k_w, b: out_c or NULL,
 * y (write): n x out_c x out_h x out_w.
 * Pointwise (1x1) convolutions run the im2col + GEMM path, every other shape
 * libcnn's own kernels (see the _gemm and _direct forms below).  The GEMM
 * path processes the batch in chunks of cnn_k_conv2d_chunk(g, n) images,
 * one GEMM per chunk over a K x chunk*P col matrix (P = out_h*out_w), sized
 * so its scratch stays bounded whatever n is.
 * scratch: at least cnn_k_conv2d_scratch_floats(g, n) floats. */
size_t cnn_k_conv2d_scratch_floats(const cnn_conv_geom *g, int n);
int cnn_k_conv2d_chunk(const cnn_conv_geom *g, int n);
/* 1x1 kernel, stride 1, no padding: im2col is the identity. */
int cnn_k_conv2d_is_pointwise(const cnn_conv_geom *g);
/* Chunk layout <-> NCHW for nc images: yc is out_c x nc*P with image i in
 * columns [i*P, (i+1)*P).  unchunk: y (write) = yc + b[o] (b may be NULL);
 * tochunk: yc (write) = y. */
void cnn_k_conv2d_unchunk(const cnn_conv_geom *g, int nc, const float *yc, const float *b,
                          float *y);
void cnn_k_conv2d_tochunk(const cnn_conv_geom *g, int nc, const float *y, float *yc);
void cnn_k_conv2d_fwd(const cnn_conv_geom *g, int n, const float *x, const float *w,
                      const float *b, float *y, float *scratch);
/* cnn_k_conv2d_fwd with a hook called as done(ctx, i, yi) as soon as image
 * i's output yi is complete, while it is still in cache: a fused pooling
 * layer pools each image there instead of re-reading the whole batch's
 * output from memory afterwards.  Image i's output goes to y + i*y_step
 * (y_step 0: every image reuses one buffer, for callers that consume each
 * image in the hook).  Same sums, so the same bits, as cnn_k_conv2d_fwd. */
typedef struct cnn_k_image_hook {
    void (*done)(void *ctx, int i, const float *yi);
    void *ctx;
} cnn_k_image_hook;
void cnn_k_conv2d_fwd_each(const cnn_conv_geom *g, int n, const float *x, const float *w,
                           const float *b, float *y, size_t y_step, float *scratch,
                           const cnn_k_image_hook *hook);

/* The two implementations behind the three conv2d functions, public for the
 * tests; the dispatchers run the GEMM path for pointwise convolutions only.
 * - gemm (conv2d_fwd.c, conv2d_bwd.c): im2col + cnn_k_gemm, chunked;
 *   scratch cnn_k_conv2d_gemm_scratch_floats;
 * - direct (conv2d_direct.c): libcnn's own microkernels (ukr.h) on the
 *   active ISA path, any kernel size, stride and padding; scratch
 *   cnn_k_conv2d_direct_scratch_floats (sized for every path).
 * cnn_k_conv2d_scratch_floats covers both.  The _bwd_weights forms write dw
 * only (no bias gradient). */
size_t cnn_k_conv2d_gemm_scratch_floats(const cnn_conv_geom *g, int n);
size_t cnn_k_conv2d_direct_scratch_floats(const cnn_conv_geom *g, int n);
void cnn_k_conv2d_gemm_fwd(const cnn_conv_geom *g, int n, const float *x, const float *w,
                           const float *b, float *y, float *scratch);
void cnn_k_conv2d_gemm_bwd_data(const cnn_conv_geom *g, int n, const float *dy, const float *w,
                                float *dx, float *scratch);
void cnn_k_conv2d_gemm_bwd_weights(const cnn_conv_geom *g, int n, const float *x,
                                   const float *dy, float *dw, float *scratch);
void cnn_k_conv2d_direct_fwd(const cnn_conv_geom *g, int n, const float *x, const float *w,
                             const float *b, float *y, float *scratch);
void cnn_k_conv2d_direct_bwd_data(const cnn_conv_geom *g, int n, const float *dy,
                                  const float *w, float *dx, float *scratch);
void cnn_k_conv2d_direct_bwd_weights(const cnn_conv_geom *g, int n, const float *x,
                                     const float *dy, float *dw, float *scratch);
/* Whether the direct forward takes the by-channels (no im2col) orientation
 * for this shape on the active path, rather than by positions; and the
 * direct forward in a given orientation (the two sum in different blocks,
 * so they may differ by rounding; the choice depends only on the shape and
 * the path, so results stay deterministic). */
/* xp (write) = one image x with a zero border of pad_h rows and pad_w
 * columns: in_c x (in_h + 2 pad_h) x (in_w + 2 pad_w) floats. */
void cnn_k_conv2d_pad_image(const cnn_conv_geom *g, const float *x, float *xp);
bool cnn_k_conv2d_direct_fwd_by_channels(const cnn_conv_geom *g);
/* Likewise for bwd_weights: by dot products (dy rows against im2col rows)
 * or by channels (from dy transposed); by_dot is ignored where the dot
 * form's partial sums would not fit its scratch. */
bool cnn_k_conv2d_direct_bwd_weights_by_dot(const cnn_conv_geom *g);
void cnn_k_conv2d_direct_bwd_weights_as(const cnn_conv_geom *g, int n, const float *x,
                                        const float *dy, float *dw, float *scratch, bool by_dot);
void cnn_k_conv2d_direct_fwd_as(const cnn_conv_geom *g, int n, const float *x, const float *w,
                                const float *b, float *y, float *scratch, bool by_channels);
/* cnn_k_conv2d_direct_fwd_as with cnn_k_conv2d_fwd_each's y_step and hook
 * (hook may be NULL). */
void cnn_k_conv2d_direct_fwd_each(const cnn_conv_geom *g, int n, const float *x, const float *w,
                                  const float *b, float *y, size_t y_step, float *scratch,
                                  bool by_channels, const cnn_k_image_hook *hook);

/* ---- conv2d_bwd.c ------------------------------------------------------
 * bwd_data:    dx (write) = gradient w.r.t. x given dy (n x out_c x out_h x out_w).
 * bwd_weights: dw (write) = sum over the batch of dy (x) x-patches;
 *              db (write, may be NULL) = sum over batch and positions of dy.
 * scratch: as for the forward. */
void cnn_k_conv2d_bwd_data(const cnn_conv_geom *g, int n, const float *dy, const float *w,
                           float *dx, float *scratch);
void cnn_k_conv2d_bwd_weights(const cnn_conv_geom *g, int n, const float *x, const float *dy,
                              float *dw, float *db, float *scratch);

/* ---- geometry of pooling ------------------------------------------------ */
typedef struct cnn_pool_geom {
    int c, in_h, in_w;        /* input image */
    int out_h, out_w;         /* (in - win) / stride + 1 */
    int win_h, win_w;
    int stride_h, stride_w;
} cnn_pool_geom;

/* Pooling modes (same values as enum cnn_pool_mode). */
enum { CNN_K_POOL_MAX = 1, CNN_K_POOL_AVG = 2, CNN_K_POOL_L2 = 3 };

/* ---- conv2d_pooled.c ---------------------------------------------------
 * The weight gradient of a convolution g whose output went through MAX
 * pooling pg with windows that do not overlap, from the pooled gradient
 * dyp (n x out_c x pg->out_h x pg->out_w) and the forward's argmax (the
 * index of each window's maximum in its conv output plane): the conv
 * output's gradient is dyp at those indices and 0 elsewhere, so only those
 * terms are summed.  dw (write): out_c x K.  _ok says whether pg has such
 * windows (stride = window, area >= 2) over g's output.
 * scratch: at least cnn_k_conv2d_pooled_scratch_floats(g) floats. */
bool cnn_k_conv2d_pooled_bwd_weights_ok(const cnn_conv_geom *g, const cnn_pool_geom *pg);
size_t cnn_k_conv2d_pooled_scratch_floats(const cnn_conv_geom *g);
void cnn_k_conv2d_pooled_bwd_weights(const cnn_conv_geom *g, const cnn_pool_geom *pg, int n,
                                     const float *x, const float *dyp, const int32_t *argmax,
                                     float *dw, float *scratch);
/* dx (write, n x in_c x in_h x in_w) through the same pooling, for stride-1
 * convolutions (_data_ok), with weights w, from the pooled gradient and
 * argmax as above.  scratch: cnn_k_conv2d_pooled_bwd_data_scratch_floats(g). */
bool cnn_k_conv2d_pooled_bwd_data_ok(const cnn_conv_geom *g, const cnn_pool_geom *pg);
size_t cnn_k_conv2d_pooled_bwd_data_scratch_floats(const cnn_conv_geom *g);
void cnn_k_conv2d_pooled_bwd_data(const cnn_conv_geom *g, const cnn_pool_geom *pg, int n,
                                  const float *dyp, const int32_t *argmax, const float *w,
                                  float *dx, float *scratch);

/* ---- pool2d_fwd.c ------------------------------------------------------
 * y (write): n x c x out_h x out_w.
 * argmax (write, only for MAX, may be NULL otherwise): for each output, the
 * index within its input image plane (iy*in_w + ix) of the first maximum. */
void cnn_k_pool2d_fwd(const cnn_pool_geom *g, int mode, int n, const float *x, float *y,
                      int32_t *argmax);

/* ---- pool2d_bwd.c ------------------------------------------------------
 * dx (write): n x c x in_h x in_w.
 * MAX routes dy to argmax; AVG spreads dy/(win_h*win_w); L2 gives dy*x/y
 * (0 where y == 0).  x and y are needed for L2 only (may be NULL otherwise). */
void cnn_k_pool2d_bwd(const cnn_pool_geom *g, int mode, int n, const float *x, const float *y,
                      const float *dy, const int32_t *argmax, float *dx);

/* ---- dense_fwd.c -------------------------------------------------------
 * y (write) = alpha * x * W^T + b: x n x in, W out x in, b out (may be NULL),
 * y n x out.  alpha is 1 normally, 1-p at inference behind dropout. */
void cnn_k_dense_fwd(int n, int in, int out, const float *x, const float *w, const float *b,
                     float alpha, float *y);

/* ---- dense_bwd.c -------------------------------------------------------
 * bwd_data:    dx (write) = dz * W          (n x in)
 * bwd_weights: dw (write) = dz^T * x        (out x in)
 *              db (write, may be NULL) = column sums of dz (out) */
void cnn_k_dense_bwd_data(int n, int in, int out, const float *dz, const float *w, float *dx);
void cnn_k_dense_bwd_weights(int n, int in, int out, const float *x, const float *dz,
                             float *dw, float *db);

/* Small batches (n <= CNN_K_DENSE_SMALL_N, which the three functions above
 * route here): one pass over W (and dW) serves all n rows instead of a GEMM
 * that packs W on every call.  AVX2/FMA where the CPU has it (run-time
 * check), plain loops otherwise; sums in a fixed order.  The _small forms
 * take any n >= 1 (the tests call them directly). */
#define CNN_K_DENSE_SMALL_N 16
void cnn_k_dense_fwd_small(int n, int in, int out, const float *x, const float *w,
                           const float *b, float alpha, float *y);
void cnn_k_dense_bwd_data_small(int n, int in, int out, const float *dz, const float *w,
                                float *dx);
void cnn_k_dense_bwd_weights_small(int n, int in, int out, const float *x, const float *dz,
                                   float *dw);
/* Weight gradient fused with plain SGD (no momentum): g = dz^T x as
 * cnn_k_dense_bwd_weights, db likewise, and w = decay*w - eta*g, the same
 * arithmetic as cnn_k_sgd_update (momentum 0), hence bit-identical to the two
 * calls; for n <= CNN_K_DENSE_SMALL_N in one pass over W, without storing g
 * (writing all of dW every step cost ~10% of W1's training step).  dw (out
 * x in) is scratch for larger batches; afterwards its content is unspecified. */
void cnn_k_dense_bwd_weights_sgd(int n, int in, int out, const float *x, const float *dz,
                                 float *dw, float *w, float *db, float eta, float decay);

/* The small-batch kernels on a slice, for splitting one layer over threads:
 * output features [o_begin, o_end) of y, of dW or of the update of W, or
 * input features [k_begin, k_end) of dx.  Every element is computed exactly
 * as by the whole-matrix call, so any split gives bit-identical results. */
void cnn_k_dense_fwd_rows(int n, int in, int out, const float *x, const float *w,
                          const float *b, float alpha, float *y, int o_begin, int o_end);
void cnn_k_dense_bwd_data_cols(int n, int in, int out, const float *dz, const float *w,
                               float *dx, int k_begin, int k_end);
void cnn_k_dense_bwd_weights_rows(int n, int in, int out, const float *x, const float *dz,
                                  float *dw, int o_begin, int o_end);
/* w = decay*w - eta*(dz^T x) on rows [o_begin, o_end); nothing else written. */
void cnn_k_dense_sgd_rows(int n, int in, int out, const float *x, const float *dz, float *w,
                          float eta, float decay, int o_begin, int o_end);
/* db (write) = column sums of dz (n x out), rows in order. */
void cnn_k_dense_bias_grad(int n, int out, const float *dz, float *db);

/* ---- activation.c ------------------------------------------------------
 * Activation modes (same values as enum cnn_activation). */
enum { CNN_K_ACT_IDENTITY = 0, CNN_K_ACT_SIGMOID = 1, CNN_K_ACT_TANH = 2, CNN_K_ACT_RELU = 3 };
/* y (write) = f(z); y may equal z (in place). */
void cnn_k_act_fwd(int act, size_t count, const float *z, float *y);
/* dz (write) = dy * f'(z), computed from the outputs y = f(z):
 * sigmoid y(1-y), tanh 1-y^2, relu (y > 0), identity 1.  dz may equal dy. */
void cnn_k_act_bwd(int act, size_t count, const float *y, const float *dy, float *dz);
/* y[n][c][p] += b[c] for an n x c x plane array (plane = h*w). */
void cnn_k_bias_add(int n, int c, size_t plane, const float *b, float *y);
/* y[c][p] = f(y[c][p] + b[c]) for one c x plane image, in one pass where f
 * is ReLU or the identity: the same arithmetic as cnn_k_bias_add then
 * cnn_k_act_fwd, so the same bits. */
void cnn_k_bias_act(int act, int c, size_t plane, const float *b, float *y);
/* db (write)[c] = sum over n and plane of dy[n][c][p]. */
void cnn_k_bias_grad(int n, int c, size_t plane, const float *dy, float *db);

/* ---- softmax.c ---------------------------------------------------------
 * Row-wise softmax of z (n x k) into y (write; may equal z), numerically
 * stable (max subtracted). */
void cnn_k_softmax_fwd(int n, int k, const float *z, float *y);
/* Sum over rows of -log(max(y[i][label[i]], tiny)). */
double cnn_k_nll_sum(int n, int k, const float *y, const int32_t *labels);
/* sum_i -log softmax(z_i)[label_i] = logsumexp(z_i) - z_i[label_i], from the
 * logits z (n x k), in double: exact where the probability underflows. */
double cnn_k_ce_logits_sum(int n, int k, const float *z, const int32_t *labels);
/* dz (write) = scale * (y - onehot(labels)): gradient of scale * sum NLL. */
void cnn_k_softmax_nll_bwd(int n, int k, const float *y, const int32_t *labels, float scale,
                           float *dz);
/* dz (write) = y * (dy - sum_j dy_j y_j) per row: backward through softmax
 * for a general upstream gradient dy.  dz may not alias y or dy. */
void cnn_k_softmax_bwd(int n, int k, const float *y, const float *dy, float *dz);
/* labels[i] = argmax_j y[i][j], lowest index on ties. */
void cnn_k_argmax_rows(int n, int k, const float *y, int32_t *labels);

/* ---- finite.c ----------------------------------------------------------
 * Index of the first NaN or infinity in p[0, n), or n when all are finite. */
size_t cnn_k_find_non_finite(const float *p, size_t n);

/* ---- dropout.c ---------------------------------------------------------
 * y (write) = x * mask (mask entries 0 or 1, bytes); y may equal x. */
void cnn_k_dropout_apply(size_t count, const float *x, const uint8_t *mask, float *y);

/* ---- sgd.c ---------------------------------------------------------------
 * One SGD step over a flat buffer:
 *   decay = 1 for biases, 1 - eta*lambda/B for weights (callers pass it);
 *   momentum == 0: p = decay*p - eta*g              (v unused, may be NULL)
 *   otherwise:     v = momentum*v - eta*g - (1-decay)*p;  p += v
 * Kept here so the update is one fused pass. */
void cnn_k_sgd_update(size_t count, float *p, const float *g, float *v, float eta,
                      float momentum, float decay);
/* Nesterov momentum (momentum > 0), same decay:
 *   d = -eta*g - (1-decay)*p;  v = momentum*v + d;  p += momentum*v + d */
void cnn_k_sgd_nesterov_update(size_t count, float *p, const float *g, float *v, float eta,
                               float momentum, float decay);

/* ---- adam.c --------------------------------------------------------------
 * One Adam step over a flat buffer (m, v: the moments, read and written):
 *   p *= keep;  g' = g + l2*p;  m = b1*m + (1-b1)*g';  v = b2*v + (1-b2)*g'^2
 *   p -= step_size * m / (sqrt(v)/bc2_sqrt + eps)
 * Adam: keep 1, l2 = wd; AdamW: keep = 1 - lr*wd, l2 0;
 * step_size = lr/(1-b1^t), bc2_sqrt = sqrt(1-b2^t). */
void cnn_k_adam_update(size_t count, float *p, const float *g, float *m, float *v,
                       float step_size, float beta1, float beta2, float eps, float bc2_sqrt,
                       float l2, float keep);

/* ---- batchnorm.c --------------------------------------------------------
 * Data is n x c x plane, statistics per channel over n*plane values,
 * accumulated in double in a fixed order.
 * stats: mean and biased variance (write, c each).
 * fwd_train: inv_std = 1/sqrt(var+eps), xhat = (x-mean)*inv_std,
 *   y = gamma*xhat + beta (all write).
 * fwd_infer: y (write) from the given (running) mean and variance.
 * running_update: run = (1-momentum)*run + momentum*batch, the variance
 *   taking the unbiased estimate (count/(count-1) times the biased one;
 *   count = n*plane; the biased one when count is 1).
 * bwd: dgamma = sum dy*xhat, dbeta = sum dy (write); if dx is not NULL,
 *   dx (write) = gamma*inv_std/M * (M dy - dbeta - xhat*dgamma), M = n*plane.
 *   dx may alias dy. */
void cnn_k_bn_stats(int n, int c, size_t plane, const float *x, float *mean, float *var);
void cnn_k_bn_fwd_train(int n, int c, size_t plane, const float *x, const float *gamma,
                        const float *beta, const float *mean, const float *var, float eps,
                        float *xhat, float *inv_std, float *y);
void cnn_k_bn_fwd_infer(int n, int c, size_t plane, const float *x, const float *gamma,
                        const float *beta, const float *mean, const float *var, float eps,
                        float *y);
void cnn_k_bn_running_update(int c, size_t count, float momentum, const float *mean,
                             const float *var, float *run_mean, float *run_var);
void cnn_k_bn_bwd(int n, int c, size_t plane, const float *xhat, const float *inv_std,
                  const float *gamma, const float *dy, float *dgamma, float *dbeta, float *dx);

/* ---- warp.c ------------------------------------------------------------
 * Bilinear resampling of one h x w byte plane for data augmentation.  For
 * each output pixel (x, y): u = x + dx[y*w+x], v = y + dy[y*w+x] (dx and
 * dy both NULL: no displacement), source point sx = m[0]u + m[1]v + m[2],
 * sy = m[3]u + m[4]v + m[5]; out = scale * bilinear(src at (sx, sy)),
 * where source pixels outside rows [win[0], win[1]) x columns
 * [win[2], win[3]) (and outside the plane) read as 0.  Integer source
 * points copy the byte exactly (times scale). */
void cnn_k_warp_bilinear_u8(const uint8_t *src, int h, int w, const int win[4], const float m[6],
                            const float *dx, const float *dy, float scale, float *out);
/* Normalised Gaussian taps[0 .. 2r] of std sigma, truncated at
 * r = min(ceil(3 sigma), max_radius); returns r (0, taps = {1}, when
 * sigma <= 0). */
int cnn_k_gauss_taps(float sigma, int max_radius, float *taps);
/* In-place separable smoothing of an h x w image by taps of radius r
 * (zero outside the image); tmp holds max(h, w) floats. */
void cnn_k_blur_sep(float *img, int h, int w, const float *taps, int radius, float *tmp);

#endif /* CNN_KERNELS_H */
