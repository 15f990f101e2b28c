/* The portable microkernels (ukr.h): plain C, 8 lanes per "vector".
 *
 * They define the arithmetic the SIMD paths must match up to rounding, and
 * run wherever the CPU has neither AVX2 nor AVX-512 (or CNN_ISA=generic
 * asks for them).  The tile shape is a compile-time constant in each
 * instance so that the compiler can keep the accumulators in registers
 * and vectorise the lane loop for the baseline ISA (SSE2 on x86-64). */
#include "kernels/kernels.h"
#include "kernels/ukr.h"

#define GEN_LANES 8
#define GEN_MAX_MR 4

static inline __attribute__((always_inline)) void generic_body(const cnn_k_ukr_job *j,
                                                                const int mr, const int nv)
{
    float acc[GEN_MAX_MR][CNN_K_UKR_MAX_NV * GEN_LANES] = {{0}};
    const int width = nv * GEN_LANES;
    const ptrdiff_t b2 = j->b2 ? j->b2 : j->n3 * j->ldb, b1 = j->b1 ? j->b1 : j->n2 * b2;
    for (int i1 = 0; i1 < j->n1; i1++) {
        for (int i2 = 0; i2 < j->n2; i2++) {
            const float *a = j->a + i1 * j->a1 + i2 * j->a2;
            const float *b = j->b + i1 * b1 + i2 * b2;
            for (int i3 = 0; i3 < j->n3; i3++, a += j->a3, b += j->ldb) {
                for (int r = 0; r < mr; r++) {
                    const float ar = a[r * j->a_row];
                    for (int l = 0; l < width; l++)
                        acc[r][l] += ar * b[l];
                }
            }
        }
    }
    for (int r = 0; r < mr; r++)
        for (int l = 0; l < width; l++)
            j->t[r * j->ldt + l] = j->overwrite ? acc[r][l] : j->t[r * j->ldt + l] + acc[r][l];
}

#define GEN(MR, NV) \
    static void gen_##MR##_##NV(const cnn_k_ukr_job *j) { generic_body(j, MR, NV); }
#define GEN_NV(NV) GEN(1, NV) GEN(2, NV) GEN(3, NV) GEN(4, NV)
GEN_NV(1)
GEN_NV(2)
GEN_NV(3)
GEN_NV(4)
#define GEN_ROW(NV) {NULL, gen_1_##NV, gen_2_##NV, gen_3_##NV, gen_4_##NV}

static inline __attribute__((always_inline)) void generic_dot(const cnn_k_dot_job *j,
                                                               const int mr, const int nc)
{
    float acc[2][4][GEN_LANES] = {{{0}}};
    for (int st = 0; st < j->steps; st++)
        for (int r = 0; r < mr; r++) {
            const float *a = j->a + r * j->a_row + st * GEN_LANES;
            for (int c = 0; c < nc; c++) {
                const float *b = j->b + c * j->b_row + st * GEN_LANES;
                for (int l = 0; l < GEN_LANES; l++)
                    acc[r][c][l] += a[l] * b[l];
            }
        }
    for (int r = 0; r < mr; r++)
        for (int c = 0; c < nc; c++) {
            float *t = j->t + r * j->ldt + c * GEN_LANES;
            for (int l = 0; l < GEN_LANES; l++)
                t[l] = j->overwrite ? acc[r][c][l] : t[l] + acc[r][c][l];
        }
}

#define GDOT(MR, NC) \
    static void gdot_##MR##_##NC(const cnn_k_dot_job *j) { generic_dot(j, MR, NC); }
GDOT(1, 1) GDOT(1, 2) GDOT(1, 3) GDOT(1, 4)
GDOT(2, 1) GDOT(2, 2) GDOT(2, 3) GDOT(2, 4)

/* In 8 x 8 blocks, so that both the reads and the writes stay within a few
 * cache lines at a time. */
void cnn_k_transpose_generic(int rows, int cols, const float *src, ptrdiff_t lds, float *dst,
                             ptrdiff_t ldd)
{
    for (int r0 = 0; r0 < rows; r0 += 8)
        for (int c0 = 0; c0 < cols; c0 += 8) {
            const int r1 = r0 + 8 < rows ? r0 + 8 : rows, c1 = c0 + 8 < cols ? c0 + 8 : cols;
            for (int r = r0; r < r1; r++)
                for (int c = c0; c < c1; c++)
                    dst[c * ldd + r] = src[r * lds + c];
        }
}

static const cnn_k_ukr_set generic_set = {
    .isa = CNN_K_ISA_GENERIC,
    .lanes = GEN_LANES,
    .max_mr = {0, GEN_MAX_MR, GEN_MAX_MR, GEN_MAX_MR, GEN_MAX_MR},
    .plan_nv = 4,
    .fn = {{NULL}, GEN_ROW(1), GEN_ROW(2), GEN_ROW(3), GEN_ROW(4)},
    .transpose = cnn_k_transpose_generic,
    .dot_mr = 2,
    .dot_nc = 4,
    .dot = {{NULL},
            {NULL, gdot_1_1, gdot_1_2, gdot_1_3, gdot_1_4},
            {NULL, gdot_2_1, gdot_2_2, gdot_2_3, gdot_2_4}},
};

const cnn_k_ukr_set *cnn_k_ukr_generic(void)
{
    return &generic_set;
}

const cnn_k_ukr_set *cnn_k_ukr_active(void)
{
    const cnn_k_ukr_set *s = NULL;
    switch (cnn_k_isa()) {
    case CNN_K_ISA_AVX512: s = cnn_k_ukr_avx512(); break;
    case CNN_K_ISA_AVX2: s = cnn_k_ukr_avx2(); break;
    default: break;
    }
    return s ? s : &generic_set;
}
