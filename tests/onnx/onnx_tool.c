/* The C side of the ONNX tests (tests/onnx/run.sh), through the public API
 * only:
 *
 *   onnx_tool nets DIR [MNIST_DIR]   trains one small net per layer kind,
 *       pooling mode and activation (tiny, about a second each), exports
 *       DIR/<name>.onnx, and writes DIR/images.f32 (the 1,000 inputs:
 *       MNIST's first test images, or synthetic ones when MNIST_DIR has no
 *       MNIST, which it says) and DIR/<name>.libcnn.f32 (libcnn's outputs);
 *   onnx_tool import MODEL IMAGES OUT   imports MODEL, runs it on IMAGES,
 *       writes the outputs to OUT;
 *   onnx_tool roundtrip MODEL   imports MODEL, exports it again and checks
 *       the bytes are the same;
 *   onnx_tool compare A B   A and B hold 1,000 rows of outputs: the
 *       largest absolute difference must be <= 1e-5 and each row's argmax
 *       the same;
 *   onnx_tool refuse MODEL TEXT   import must fail with a message that
 *       contains TEXT.
 * Files of floats are raw little-endian float32 (x86). */
#include <cnn.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMAGES 1000
#define TOL 1e-5

static int die(const char *what, cnn_status st)
{
    fprintf(stderr, "onnx_tool: %s: %s (%s)\n", what, cnn_last_error(), cnn_status_name(st));
    return 1;
}

static float *read_floats(const char *path, size_t *count)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    float *v = malloc(n > 0 ? (size_t)n : 1);
    if (!v || fread(v, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "onnx_tool: cannot read %s\n", path);
        free(v);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *count = (size_t)n / sizeof(float);
    return v;
}

static int write_floats(const char *path, const float *v, size_t count)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(v, sizeof *v, count, f) != count || fclose(f) != 0) {
        perror(path);
        return 1;
    }
    return 0;
}

/* Runs net on the images (n x in floats); the outputs go to path. */
static int run_net(cnn_net *net, const float *images, size_t n, const char *path)
{
    int32_t in[3], out[3];
    cnn_net_input_shape(net, in);
    cnn_net_output_shape(net, out);
    const int64_t xs[4] = {(int64_t)n, in[0], in[1], in[2]};
    const int64_t ys[2] = {(int64_t)n, (int64_t)out[0] * out[1] * out[2]};
    cnn_tensor *x = NULL, *y = NULL;
    cnn_status st;
    if ((st = cnn_tensor_create(4, xs, &x)) != CNN_OK ||
        (st = cnn_tensor_copy_in(x, images, (int64_t)n * in[0] * in[1] * in[2])) != CNN_OK ||
        (st = cnn_tensor_create(2, ys, &y)) != CNN_OK ||
        (st = cnn_net_forward(net, x, CNN_MODE_INFER, y)) != CNN_OK) {
        cnn_tensor_destroy(x);
        cnn_tensor_destroy(y);
        return die("forward", st);
    }
    int rc = write_floats(path, cnn_tensor_data(y), (size_t)(ys[0] * ys[1]));
    cnn_tensor_destroy(x);
    cnn_tensor_destroy(y);
    return rc;
}

/* ---- the nets ------------------------------------------------------------- */

typedef struct spec {
    int kind;        /* CNN_LAYER_* */
    int a, b, c, d;  /* per kind, see add() */
    float dropout;
} spec;

/* conv2d: a maps, b kernel, c activation, d pool mode (pool 2x2), b < 0:
 * kernel -b with "same" padding and stride 2; pool2d: a mode, b window, c
 * stride; dense: a neurons, c activation; softmax: a classes; activation:
 * a function; batchnorm, gap: nothing. */
static cnn_status add(cnn_net *net, const spec *s)
{
    cnn_layer *l = NULL;
    cnn_status st = CNN_EINVAL;
    switch (s->kind) {
    case CNN_LAYER_CONV2D: {
        cnn_conv2d_params p;
        cnn_conv2d_params_init(&p, s->a, abs(s->b), abs(s->b));
        p.activation = s->c;
        p.pool = s->d;
        p.init = CNN_INIT_HE;
        if (s->b < 0) {
            p.padding = CNN_PAD_SAME;
            p.stride_h = p.stride_w = 2;
        }
        st = cnn_conv2d_create(&p, &l);
        break;
    }
    case CNN_LAYER_POOL2D: {
        cnn_pool2d_params p;
        cnn_pool2d_params_init(&p, s->a, s->b, s->b);
        p.stride_h = p.stride_w = s->c;
        st = cnn_pool2d_create(&p, &l);
        break;
    }
    case CNN_LAYER_DENSE: {
        cnn_dense_params p;
        cnn_dense_params_init(&p, s->a);
        p.activation = s->c;
        p.dropout = s->dropout;
        p.init = CNN_INIT_HE;
        st = cnn_dense_create(&p, &l);
        break;
    }
    case CNN_LAYER_SOFTMAX: {
        cnn_softmax_params p;
        cnn_softmax_params_init(&p, s->a);
        p.dropout = s->dropout;
        st = cnn_softmax_create(&p, &l);
        break;
    }
    case CNN_LAYER_ACTIVATION:
        st = cnn_activation_create(s->a, &l);
        break;
    case CNN_LAYER_BATCHNORM: {
        cnn_batchnorm_params p;
        cnn_batchnorm_params_init(&p);
        st = cnn_batchnorm_create(&p, &l);
        break;
    }
    case CNN_LAYER_GLOBAL_AVG_POOL:
        st = cnn_global_avg_pool_create(&l);
        break;
    }
    if (st == CNN_OK && (st = cnn_net_add(net, l)) != CNN_OK)
        cnn_layer_destroy(l);
    return st;
}

#define CONV(maps, k, act, pool) {CNN_LAYER_CONV2D, maps, k, act, pool, 0}
#define POOL(mode, win, stride) {CNN_LAYER_POOL2D, mode, win, stride, 0, 0}
#define DENSE(n, act, drop) {CNN_LAYER_DENSE, n, 0, act, 0, drop}
#define SOFTMAX(n, drop) {CNN_LAYER_SOFTMAX, n, 0, 0, 0, drop}
#define ACT(f) {CNN_LAYER_ACTIVATION, f, 0, 0, 0, 0}
#define BN {CNN_LAYER_BATCHNORM, 0, 0, 0, 0, 0}
#define GAP {CNN_LAYER_GLOBAL_AVG_POOL, 0, 0, 0, 0, 0}
#define END {0, 0, 0, 0, 0, 0}

static const struct {
    const char *name;
    spec layers[8];
} nets[] = {
    /* network3's order with each pooling mode and activation */
    {"conv_max_relu", {CONV(6, 5, CNN_ACT_RELU, CNN_POOL_MAX), DENSE(30, CNN_ACT_SIGMOID, 0.5f),
                       SOFTMAX(10, 0.5f), END}},
    {"conv_avg_tanh", {CONV(6, 5, CNN_ACT_TANH, CNN_POOL_AVG), SOFTMAX(10, 0), END}},
    {"conv_l2_sigmoid", {CONV(6, 5, CNN_ACT_SIGMOID, CNN_POOL_L2), SOFTMAX(10, 0), END}},
    /* no fused pool, "same" padding, stride 2, then pooling layers */
    {"conv_same_pools", {CONV(4, -3, CNN_ACT_RELU, CNN_POOL_NONE), POOL(CNN_POOL_MAX, 2, 2),
                         POOL(CNN_POOL_AVG, 2, 1), POOL(CNN_POOL_L2, 2, 1),
                         DENSE(20, CNN_ACT_TANH, 0.25f), SOFTMAX(10, 0), END}},
    /* activation layers of every function, dense without activation */
    {"activations", {DENSE(40, CNN_ACT_IDENTITY, 0), ACT(CNN_ACT_TANH), ACT(CNN_ACT_SIGMOID),
                     ACT(CNN_ACT_RELU), ACT(CNN_ACT_IDENTITY), SOFTMAX(10, 0), END}},
    /* batch norm on maps and on features */
    {"batchnorm", {CONV(8, 3, CNN_ACT_IDENTITY, CNN_POOL_NONE), BN, ACT(CNN_ACT_RELU),
                   POOL(CNN_POOL_MAX, 2, 2), DENSE(16, CNN_ACT_IDENTITY, 0), BN, SOFTMAX(10, 0),
                   END}},
    /* global average pooling */
    {"gap", {CONV(12, 3, CNN_ACT_RELU, CNN_POOL_NONE), GAP, SOFTMAX(10, 0), END}},
    /* a dense output read as maps again (Reshape), a net without softmax */
    {"dense_conv_logits", {DENSE(36, CNN_ACT_RELU, 0), CONV(5, 1, CNN_ACT_SIGMOID, CNN_POOL_NONE),
                           DENSE(10, CNN_ACT_IDENTITY, 0), END}},
};
#define N_NETS (sizeof nets / sizeof nets[0])

/* A few hundred SGD steps, so weights and batch-norm statistics are not
 * their initial values. */
static cnn_status train(cnn_net *net, const cnn_dataset *ds)
{
    cnn_layer *last = cnn_net_layer(net, cnn_net_layer_count(net) - 1);
    if (cnn_layer_kind(last) != CNN_LAYER_SOFTMAX)
        return CNN_OK; /* no cost to train on: the initial weights */
    cnn_sgd_params sp;
    cnn_sgd_params_init(&sp, 0.05f);
    cnn_optimizer *opt = NULL;
    cnn_status st = cnn_sgd_create(&sp, &opt);
    cnn_train_params tp;
    cnn_train_params_init(&tp, 1);
    tp.batch_size = 10;
    if (st == CNN_OK)
        st = cnn_train(net, opt, ds, &tp, NULL);
    cnn_optimizer_destroy(opt);
    return st;
}

/* MNIST (its first 2,000 training and 1,000 test images) or synthetic data
 * of the same shape: random strokes, labelled by where they are. */
static cnn_status data(const char *dir, cnn_dataset **train_ds, float *images)
{
    cnn_dataset *tr = NULL, *te = NULL;
    cnn_status st = CNN_EIO;
    if (dir && (st = cnn_dataset_load_mnist(dir, CNN_MNIST_TRAIN, &tr)) == CNN_OK &&
        (st = cnn_dataset_load_mnist(dir, CNN_MNIST_TEST, &te)) == CNN_OK) {
        cnn_dataset *part = NULL;
        st = cnn_dataset_slice(tr, 0, 2000, &part);
        for (int64_t i = 0; st == CNN_OK && i < IMAGES; i++)
            st = cnn_dataset_get(te, i, images + i * 784, NULL);
        cnn_dataset_destroy(tr);
        cnn_dataset_destroy(te);
        *train_ds = part;
        printf("data: MNIST (%s)\n", dir);
        return st;
    }
    cnn_dataset_destroy(tr);
    printf("data: synthetic (no MNIST in %s)\n", dir ? dir : "(none)");
    const int64_t n = 2000 + IMAGES;
    uint8_t *pix = calloc((size_t)n, 784), *lab = calloc((size_t)n, 1);
    uint32_t x = 12345;
    for (int64_t i = 0; pix && lab && i < n; i++) {
        lab[i] = (uint8_t)(i % 10);
        for (int k = 0; k < 120; k++) {
            x = x * 1664525u + 1013904223u;
            int r = 2 + (int)(lab[i] * 2 + (x >> 28) % 6), c = 2 + (int)((x >> 20) % 24);
            pix[i * 784 + r * 28 + c] = (uint8_t)(128 + (x >> 25));
        }
    }
    st = pix && lab ? cnn_dataset_create(2000, 1, 28, 28, pix, lab, train_ds) : CNN_ENOMEM;
    for (int64_t i = 0; st == CNN_OK && i < IMAGES * 784; i++)
        images[i] = pix[2000 * 784 + i] / 256.0f;
    free(pix);
    free(lab);
    return st;
}

static int make_nets(const char *dir, const char *mnist)
{
    float *images = malloc(IMAGES * 784 * sizeof *images);
    cnn_dataset *ds = NULL;
    cnn_status st = images ? data(mnist, &ds, images) : CNN_ENOMEM;
    char path[4096];
    snprintf(path, sizeof path, "%s/images.f32", dir);
    if (st != CNN_OK || write_floats(path, images, IMAGES * 784)) {
        free(images);
        return die("data", st);
    }
    int rc = 0;
    for (size_t i = 0; i < N_NETS && rc == 0; i++) {
        cnn_net *net = NULL;
        st = cnn_net_create(1, 28, 28, 7 + i, &net);
        for (const spec *s = nets[i].layers; st == CNN_OK && s->kind; s++)
            st = add(net, s);
        if (st == CNN_OK)
            st = train(net, ds);
        snprintf(path, sizeof path, "%s/%s.onnx", dir, nets[i].name);
        if (st == CNN_OK)
            st = cnn_net_export_onnx(net, path);
        if (st != CNN_OK)
            rc = die(nets[i].name, st);
        snprintf(path, sizeof path, "%s/%s.libcnn.f32", dir, nets[i].name);
        if (rc == 0)
            rc = run_net(net, images, IMAGES, path);
        if (rc == 0)
            printf("%s\n", nets[i].name);
        cnn_net_destroy(net);
    }
    cnn_dataset_destroy(ds);
    free(images);
    return rc;
}

/* ---- the other commands ----------------------------------------------------- */

static int import_run(const char *model, const char *images_path, const char *out)
{
    cnn_net *net = NULL;
    cnn_status st = cnn_net_import_onnx(model, &net);
    if (st != CNN_OK)
        return die(model, st);
    size_t count;
    float *images = read_floats(images_path, &count);
    int32_t in[3];
    cnn_net_input_shape(net, in);
    const size_t per = (size_t)in[0] * in[1] * in[2];
    int rc = images && count % per == 0 ? run_net(net, images, count / per, out) : 1;
    free(images);
    cnn_net_destroy(net);
    return rc;
}

static int roundtrip(const char *model)
{
    size_t n;
    FILE *f = fopen(model, "rb");
    if (!f)
        return perror(model), 1;
    fseek(f, 0, SEEK_END);
    n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *a = malloc(n);
    size_t got = a ? fread(a, 1, n, f) : 0;
    fclose(f);
    cnn_net *net = NULL;
    void *b = NULL;
    size_t bn = 0;
    cnn_status st = got == n ? cnn_net_import_onnx_buffer(a, n, &net) : CNN_EIO;
    if (st == CNN_OK)
        st = cnn_net_export_onnx_buffer(net, &b, &bn);
    int rc = st != CNN_OK ? die(model, st) : 0;
    if (rc == 0 && (bn != n || memcmp(a, b, n) != 0)) {
        fprintf(stderr, "onnx_tool: %s: exported again, %zu bytes differ from the %zu read\n",
                model, bn, n);
        rc = 1;
    }
    cnn_free(b);
    free(a);
    cnn_net_destroy(net);
    return rc;
}

static int compare(const char *pa, const char *pb)
{
    size_t na, nb;
    float *a = read_floats(pa, &na), *b = read_floats(pb, &nb);
    int rc = 1;
    if (a && b && na == nb && na % IMAGES == 0 && na > 0) {
        const size_t k = na / IMAGES;
        double worst = 0;
        size_t differ = 0;
        for (size_t i = 0; i < IMAGES; i++) {
            size_t ia = 0, ib = 0;
            for (size_t j = 0; j < k; j++) {
                const double d = fabs((double)a[i * k + j] - (double)b[i * k + j]);
                if (!(d <= worst))
                    worst = d; /* NaN sticks */
                if (a[i * k + j] > a[i * k + ia])
                    ia = j;
                if (b[i * k + j] > b[i * k + ib])
                    ib = j;
            }
            differ += ia != ib;
        }
        printf("max |diff| %.3g over %d x %zu outputs, argmax differs on %zu\n", worst, IMAGES,
               k, differ);
        rc = worst <= TOL && differ == 0 ? 0 : 1;
    } else if (a && b) {
        fprintf(stderr, "onnx_tool: %s has %zu floats, %s %zu\n", pa, na, pb, nb);
    }
    free(a);
    free(b);
    return rc;
}

static int refuse(const char *model, const char *text)
{
    cnn_net *net = NULL;
    cnn_status st = cnn_net_import_onnx(model, &net);
    if (st == CNN_OK) {
        cnn_net_destroy(net);
        fprintf(stderr, "onnx_tool: %s was imported, expected a refusal\n", model);
        return 1;
    }
    printf("%s: %s\n", cnn_status_name(st), cnn_last_error());
    if (!strstr(cnn_last_error(), text)) {
        fprintf(stderr, "onnx_tool: the message lacks \"%s\"\n", text);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    if (strcmp(cmd, "nets") == 0 && (argc == 3 || argc == 4))
        return make_nets(argv[2], argc == 4 ? argv[3] : NULL);
    if (strcmp(cmd, "import") == 0 && argc == 5)
        return import_run(argv[2], argv[3], argv[4]);
    if (strcmp(cmd, "roundtrip") == 0 && argc == 3)
        return roundtrip(argv[2]);
    if (strcmp(cmd, "compare") == 0 && argc == 4)
        return compare(argv[2], argv[3]);
    if (strcmp(cmd, "refuse") == 0 && argc == 4)
        return refuse(argv[2], argv[3]);
    fprintf(stderr, "usage: onnx_tool nets DIR [MNIST_DIR] | import MODEL IMAGES OUT | "
                    "roundtrip MODEL | compare A B | refuse MODEL TEXT\n");
    return 2;
}
