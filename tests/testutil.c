#include "testutil.h"

#include "kernels/kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void test_rng_seed(test_rng *r, uint64_t seed) { r->state = seed * 2654435761u + 0x9e3779b97f4a7c15ull; }

double test_rng_uniform(test_rng *r)
{
    /* splitmix64 step */
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

void test_fill_uniform(test_rng *r, float *x, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * (float)test_rng_uniform(r);
}

double test_max_rel_err(const float *a, const float *b, size_t n, double floor)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double scale = fmax(fmax(fabs(a[i]), fabs(b[i])), floor);
        double e = fabs((double)a[i] - (double)b[i]) / scale;
        if (e > worst || isnan(e))
            worst = isnan(e) ? INFINITY : e;
    }
    return worst;
}

double test_max_abs_err(const float *a, const float *b, size_t n)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]);
        if (e > worst || isnan(e))
            worst = isnan(e) ? INFINITY : e;
    }
    return worst;
}

/* CNN_ISA names a path above this CPU's best: the run would silently test
 * the best path again, so it is reported as skipped (exit 77) instead. */
static bool isa_unavailable(void)
{
    const char *v = getenv("CNN_ISA");
    if (!v)
        return false;
    for (int isa = CNN_K_ISA_GENERIC; isa <= CNN_K_ISA_AVX512; isa++)
        if (strcmp(v, cnn_k_isa_name(isa)) == 0)
            return isa > cnn_k_isa_best();
    return false;
}

int test_run_suite(Suite *s)
{
    if (isa_unavailable()) {
        printf("SKIPPED: CNN_ISA=%s but this CPU's best path is %s\n", getenv("CNN_ISA"),
               cnn_k_isa_name(cnn_k_isa_best()));
        srunner_free(srunner_create(s)); /* frees the suite */
        return 77;
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

static double worst_grad_err = 0.0;
static char worst_grad_what[128] = "";
static int grad_note_registered = 0;

static void print_worst_grad(void)
{
    if (worst_grad_what[0])
        printf("largest relative gradient error: %.3e (%s)\n", worst_grad_err, worst_grad_what);
}

void test_note_grad_error(const char *what, double rel_err)
{
    if (!grad_note_registered) {
        atexit(print_worst_grad);
        grad_note_registered = 1;
    }
    if (rel_err >= worst_grad_err) {
        worst_grad_err = rel_err;
        snprintf(worst_grad_what, sizeof worst_grad_what, "%s", what);
    }
}

cnn_dataset *test_make_striped_dataset(int64_t count, int32_t c, int32_t h, int32_t w, int classes,
                                       uint64_t seed)
{
    int64_t per = (int64_t)c * h * w;
    uint8_t *px = malloc((size_t)(count * per)), *lb = malloc((size_t)count);
    ck_assert(px && lb);
    test_rng r;
    test_rng_seed(&r, seed);
    for (int64_t i = 0; i < count; i++) {
        int label = (int)(i % classes);
        lb[i] = (uint8_t)label;
        for (int64_t k = 0; k < per; k++) {
            int row = (int)((k / w) % h);
            int hot = row * classes / h == label;
            px[i * per + k] = (uint8_t)(test_rng_uniform(&r) * 100.0 + (hot ? 150 : 0));
        }
    }
    cnn_dataset *ds = NULL;
    cnn_status st = cnn_dataset_create(count, c, h, w, px, lb, &ds);
    free(px);
    free(lb);
    ck_assert_msg(st == CNN_OK, "cnn_dataset_create: %s", cnn_last_error());
    return ds;
}
