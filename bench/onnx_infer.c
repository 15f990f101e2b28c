/* onnx-infer: inference throughput of an ONNX model imported into libcnn,
 * the libcnn side of docs/performance.md's "imported PyTorch W2 against
 * ONNX Runtime" rows (bench/ort/ort_ref.mjs is the other side: same model
 * file, same MNIST images / 256, same step = one forward of a batch plus
 * the argmax of each row, same median-of-reps timing).
 *
 *   onnx-infer MODEL [--batches 1,1000] [--threads 1] [--reps 5]
 *              [--seconds 2] [--warmup 0.5] [--data data/mnist]
 *
 * Prints one line per batch size: images/s (median, min, max of reps). */
#include <cnn.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_BATCHES 8
#define MAX_REPS 32
#define IMAGES 10000

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* User + system CPU seconds of the process: on a shared machine the
 * images per CPU second compare better than per wall second. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void die(const char *what)
{
    fprintf(stderr, "onnx-infer: %s: %s\n", what, cnn_last_error());
    exit(1);
}

typedef struct run {
    cnn_net *net;
    const float *xs;
    int count, batch, pos, classes;
    cnn_tensor *x, *y;
    long sink;
} run;

/* One step: a forward of the next batch and each row's argmax. */
static void step(run *r)
{
    if (r->pos + r->batch > r->count)
        r->pos = 0;
    if (cnn_tensor_copy_in(r->x, r->xs + (size_t)r->pos * 784, (int64_t)r->batch * 784) ||
        cnn_net_forward(r->net, r->x, CNN_MODE_INFER, r->y))
        die("forward");
    r->pos += r->batch;
    const float *y = cnn_tensor_data(r->y);
    for (int i = 0; i < r->batch; i++) {
        int best = 0;
        for (int k = 1; k < r->classes; k++)
            if (y[i * r->classes + k] > y[i * r->classes + best])
                best = k;
        r->sink += best;
    }
}

/* Images per wall second over at least `seconds` (and 3 steps); images
 * per CPU second into *per_cpu. */
static double run_for(run *r, double seconds, double *per_cpu)
{
    double t0 = now(), c0 = cpu_now(), t;
    long steps = 0;
    do {
        step(r);
        steps++;
        t = now();
    } while (t - t0 < seconds || steps < 3);
    *per_cpu = (double)steps * r->batch / (cpu_now() - c0);
    return (double)steps * r->batch / (t - t0);
}

int main(int argc, char **argv)
{
    const char *model = NULL, *data = "data/mnist";
    int batches[MAX_BATCHES] = {1, 1000}, n_batches = 2, threads = 1, reps = 5;
    double seconds = 2.0, warmup = 0.5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--batches") == 0 && v) {
            n_batches = 0;
            for (char *s = argv[++i]; *s && n_batches < MAX_BATCHES; s += *s == ',')
                batches[n_batches++] = (int)strtol(s, &s, 10);
        } else if (strcmp(a, "--threads") == 0 && v) {
            threads = atoi(argv[++i]);
        } else if (strcmp(a, "--reps") == 0 && v) {
            reps = atoi(argv[++i]);
        } else if (strcmp(a, "--seconds") == 0 && v) {
            seconds = atof(argv[++i]);
        } else if (strcmp(a, "--warmup") == 0 && v) {
            warmup = atof(argv[++i]);
        } else if (strcmp(a, "--data") == 0 && v) {
            data = argv[++i];
        } else if (a[0] != '-' && !model) {
            model = a;
        } else {
            fprintf(stderr, "usage: onnx-infer MODEL [--batches 1,1000] [--threads 1] "
                            "[--reps 5] [--seconds 2] [--warmup 0.5] [--data DIR]\n");
            return 2;
        }
    }
    if (!model || reps < 1 || reps > MAX_REPS || threads < 1 || seconds <= 0)
        return fprintf(stderr, "onnx-infer: need MODEL, 1..%d reps, threads >= 1\n", MAX_REPS), 2;
    run r = {0};
    if (cnn_net_import_onnx(model, &r.net) || cnn_net_set_threads(r.net, threads))
        die(model);
    cnn_dataset *ds = NULL;
    if (cnn_dataset_load_mnist(data, CNN_MNIST_TRAIN, &ds))
        die(data);
    float *xs = malloc((size_t)IMAGES * 784 * sizeof *xs);
    for (int i = 0; xs && i < IMAGES; i++)
        if (cnn_dataset_get(ds, i, xs + (size_t)i * 784, NULL))
            die("images");
    cnn_dataset_destroy(ds);
    int32_t out[3];
    cnn_net_output_shape(r.net, out);
    r.xs = xs;
    r.count = IMAGES;
    r.classes = out[0] * out[1] * out[2];
    printf("onnx-infer: %s in libcnn %s (%s path), %d thread%s, MNIST, %d reps x %.2f s, "
           "warm-up %.2f s\n", model, cnn_version_string(), cnn_isa_name(cnn_isa()), threads,
           threads > 1 ? "s" : "", reps, seconds / reps, warmup);
    for (int b = 0; b < n_batches; b++) {
        r.batch = batches[b];
        if (r.batch < 1 || r.batch > IMAGES)
            return fprintf(stderr, "onnx-infer: batch %d outside 1..%d\n", r.batch, IMAGES), 2;
        const int64_t xshape[4] = {r.batch, 1, 28, 28}, yshape[2] = {r.batch, r.classes};
        if (cnn_tensor_create(4, xshape, &r.x) || cnn_tensor_create(2, yshape, &r.y))
            die("tensor");
        double s[MAX_REPS], c[MAX_REPS];
        run_for(&r, warmup, c);
        for (int k = 0; k < reps; k++)
            s[k] = run_for(&r, seconds / reps, &c[k]);
        qsort(s, (size_t)reps, sizeof *s, cmp);
        qsort(c, (size_t)reps, sizeof *c, cmp);
        printf("batch %5d: %10.1f img/s (min %.1f, max %.1f), %.1f us/image; %.1f img/cpu-s\n",
               r.batch, s[reps / 2], s[0], s[reps - 1], 1e6 / s[reps / 2], c[reps / 2]);
        cnn_tensor_destroy(r.x);
        cnn_tensor_destroy(r.y);
    }
    free(xs);
    cnn_net_destroy(r.net);
    return r.sink == -1; /* keeps the argmax live */
}
