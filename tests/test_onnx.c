/* ONNX export and import in-process (the end-to-end checks against ONNX
 * Runtime and PyTorch are tests/onnx/run.sh):
 * - the round trip of a net with every parametrised kind is exact: same
 *   parameters and batch-norm statistics, bit-identical outputs, and the
 *   same bytes when exported again;
 * - hostile files: a valid export truncated at every offset, every byte
 *   xor 0xFF and every byte +1, and a deeply nested message, each import
 *   cleanly or fail with an error status (the sanitizer build runs this);
 * - argument errors; and, in a library built without ONNX, CNN_ENOTSUP
 *   from every function, which is then all this suite checks. */
#include "testutil.h"
#include "net/net.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool have_onnx(void)
{
    void *data = NULL;
    size_t size = 0;
    cnn_net *net = NULL;
    ck_assert_ok(cnn_net_create(1, 4, 4, 1, &net));
    cnn_layer *l;
    ck_assert_ok(cnn_activation_create(CNN_ACT_RELU, &l));
    ck_assert_ok(cnn_net_add(net, l));
    cnn_status st = cnn_net_export_onnx_buffer(net, &data, &size);
    cnn_free(data);
    cnn_net_destroy(net);
    if (st == CNN_ENOTSUP)
        ck_assert_ptr_nonnull(strstr(cnn_last_error(), "without ONNX"));
    else
        ck_assert_int_eq(st, CNN_OK);
    return st == CNN_OK;
}

/* st is the status of the call that made *l (evaluated before add runs). */
static void add(cnn_net *net, cnn_status st, cnn_layer **l)
{
    ck_assert_ok(st);
    ck_assert_ok(cnn_net_add(net, *l));
}

/* conv (max pool, relu), batch norm, conv (L2 pool), dense with dropout,
 * softmax with dropout; trained a little so that every parameter and
 * statistic is its own value. */
static cnn_net *make_net(void)
{
    cnn_net *net;
    cnn_layer *l;
    ck_assert_ok(cnn_net_create(1, 12, 12, 3, &net));
    cnn_conv2d_params c;
    cnn_conv2d_params_init(&c, 4, 3, 3);
    c.activation = CNN_ACT_RELU;
    c.pool = CNN_POOL_MAX;
    c.init = CNN_INIT_HE;
    add(net, cnn_conv2d_create(&c, &l), &l);
    cnn_batchnorm_params b;
    cnn_batchnorm_params_init(&b);
    add(net, cnn_batchnorm_create(&b, &l), &l);
    cnn_conv2d_params_init(&c, 3, 2, 2);
    c.activation = CNN_ACT_TANH;
    c.pool = CNN_POOL_L2;
    c.padding = CNN_PAD_EXPLICIT;
    c.pad_h = c.pad_w = 1;
    add(net, cnn_conv2d_create(&c, &l), &l);
    cnn_dense_params d;
    cnn_dense_params_init(&d, 8);
    d.dropout = 0.5f;
    add(net, cnn_dense_create(&d, &l), &l);
    cnn_softmax_params s;
    cnn_softmax_params_init(&s, 3);
    s.dropout = 0.25f;
    add(net, cnn_softmax_create(&s, &l), &l);
    cnn_dataset *ds = test_make_striped_dataset(60, 1, 12, 12, 3, 9);
    cnn_optimizer *opt;
    cnn_sgd_params sp;
    cnn_sgd_params_init(&sp, 0.1f);
    ck_assert_ok(cnn_sgd_create(&sp, &opt));
    cnn_train_params tp;
    cnn_train_params_init(&tp, 1);
    ck_assert_ok(cnn_train(net, opt, ds, &tp, NULL));
    cnn_optimizer_destroy(opt);
    cnn_dataset_destroy(ds);
    return net;
}

static void forward(cnn_net *net, const float *x, int n, float *y, int k)
{
    const int64_t xs[4] = {n, 1, 12, 12}, ys[2] = {n, k};
    cnn_tensor *tx, *ty;
    ck_assert_ok(cnn_tensor_create(4, xs, &tx));
    ck_assert_ok(cnn_tensor_create(2, ys, &ty));
    ck_assert_ok(cnn_tensor_copy_in(tx, x, (int64_t)n * 144));
    ck_assert_ok(cnn_net_forward(net, tx, CNN_MODE_INFER, ty));
    ck_assert_ok(cnn_tensor_copy_out(ty, y, (int64_t)n * k));
    cnn_tensor_destroy(tx);
    cnn_tensor_destroy(ty);
}

START_TEST(round_trip)
{
    if (!have_onnx())
        return;
    cnn_net *net = make_net(), *back = NULL;
    void *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    ck_assert_ok(cnn_net_export_onnx_buffer(net, &a, &na));
    ck_assert_ok(cnn_net_import_onnx_buffer(a, na, &back));
    ck_assert_int_eq(cnn_net_layer_count(back), cnn_net_layer_count(net));
    ck_assert_int_eq(cnn_net_param_count(back), cnn_net_param_count(net));
    ck_assert_int_eq(back->n_state, net->n_state);
    ck_assert_int_eq(memcmp(cnn_net_params(back), cnn_net_params(net),
                            (size_t)cnn_net_param_count(net) * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(back->state, net->state, (size_t)net->n_state * sizeof(float)), 0);
    for (int32_t i = 0; i < cnn_net_layer_count(net); i++) {
        char sa[256], sb[256];
        ck_assert_ok(cnn_layer_summary(cnn_net_layer(net, i), sa, sizeof sa));
        ck_assert_ok(cnn_layer_summary(cnn_net_layer(back, i), sb, sizeof sb));
        ck_assert_str_eq(sa, sb);
    }
    float x[5 * 144], ya[15], yb[15];
    test_rng r;
    test_rng_seed(&r, 4);
    test_fill_uniform(&r, x, 5 * 144, 0.0f, 1.0f);
    forward(net, x, 5, ya, 3);
    forward(back, x, 5, yb, 3);
    ck_assert_int_eq(memcmp(ya, yb, sizeof ya), 0);
    ck_assert_ok(cnn_net_export_onnx_buffer(back, &b, &nb));
    ck_assert_uint_eq(na, nb);
    ck_assert_int_eq(memcmp(a, b, na), 0);
    /* and through files: the export is atomic like cnn_net_save */
    char path[] = "/tmp/cnn-onnx-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_ok(cnn_net_export_onnx(net, path));
    cnn_net *from_file = NULL;
    ck_assert_ok(cnn_net_import_onnx(path, &from_file));
    ck_assert_int_eq(memcmp(cnn_net_params(from_file), cnn_net_params(net),
                            (size_t)cnn_net_param_count(net) * sizeof(float)), 0);
    unlink(path);
    cnn_net_destroy(from_file);
    cnn_free(a);
    cnn_free(b);
    cnn_net_destroy(back);
    cnn_net_destroy(net);
}
END_TEST

static long n_cases, n_loaded;

/* One damaged buffer: loads (and then runs) or fails with a message. */
static void try_import(const uint8_t *buf, size_t size)
{
    cnn_net *net = NULL;
    cnn_status st = cnn_net_import_onnx_buffer(buf, size, &net);
    n_cases++;
    if (st == CNN_OK) {
        n_loaded++;
        ck_assert_ptr_nonnull(net);
        int32_t in[3];
        ck_assert_ok(cnn_net_input_shape(net, in));
        cnn_net_destroy(net);
        return;
    }
    ck_assert_ptr_null(net);
    ck_assert_msg(st == CNN_EFORMAT || st == CNN_ENOTSUP || st == CNN_EINVAL || st == CNN_ESHAPE,
                  "status %s: %s", cnn_status_name(st), cnn_last_error());
    ck_assert_msg(cnn_last_error()[0] != 0, "no message");
}

START_TEST(hostile)
{
    if (!have_onnx())
        return;
    cnn_net *net = make_net();
    uint8_t *a = NULL;
    size_t n = 0;
    ck_assert_ok(cnn_net_export_onnx_buffer(net, (void **)&a, &n));
    cnn_net_destroy(net);
    uint8_t *buf = malloc(n);
    n_cases = n_loaded = 0;
    for (size_t len = 1; len < n; len++) {
        memcpy(buf, a, len); /* a heap copy of exactly len bytes, for ASan */
        uint8_t *exact = malloc(len);
        memcpy(exact, a, len);
        try_import(exact, len);
        free(exact);
    }
    for (size_t i = 0; i < n; i++) {
        for (int how = 0; how < 2; how++) {
            memcpy(buf, a, n);
            buf[i] = how ? (uint8_t)(buf[i] + 1) : (uint8_t)(buf[i] ^ 0xff);
            try_import(buf, n);
        }
    }
    printf("test_onnx: %ld damaged exports (%zu bytes each at most): %ld imported, %ld refused\n",
           n_cases, n, n_loaded, n_cases - n_loaded);
    free(buf);
    cnn_free(a);
}
END_TEST

/* Field 7 of ModelProto (graph) holding field 1 (node) holding field 5
 * (attribute) holding field 6 (g) ... nested far deeper than any model. */
START_TEST(deep_nesting)
{
    if (!have_onnx())
        return;
    enum { LEVELS = 3000 };
    static const uint8_t tags[3] = {0x0a, 0x2a, 0x32}; /* node, attribute, g */
    uint8_t *buf = malloc(LEVELS * 6 + 16);
    /* Built from the inside out: each level is tag, varint length, body. */
    size_t len = 0, cap = LEVELS * 6 + 16;
    size_t at = cap;
    for (int lv = LEVELS - 1; lv >= 0; lv--) {
        uint8_t hdr[6];
        size_t h = 0;
        hdr[h++] = lv == 0 ? 0x3a : tags[(lv - 1) % 3];
        size_t v = len;
        do {
            hdr[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
            v >>= 7;
        } while (v);
        at -= h;
        memcpy(buf + at, hdr, h);
        len += h;
    }
    cnn_net *net = NULL;
    ck_assert_status(cnn_net_import_onnx_buffer(buf + at, len, &net), CNN_EFORMAT);
    ck_assert_ptr_nonnull(strstr(cnn_last_error(), "nested too deeply"));
    free(buf);
}
END_TEST

START_TEST(arguments)
{
    cnn_net *net = NULL;
    void *data = (void *)1;
    size_t size = 1;
    const uint8_t byte = 0;
    cnn_status want = have_onnx() ? CNN_EINVAL : CNN_ENOTSUP;
    ck_assert_status(cnn_net_export_onnx(NULL, "x.onnx"), want);
    ck_assert_status(cnn_net_export_onnx_buffer(NULL, &data, &size), want);
    ck_assert_ptr_null(data);
    ck_assert_uint_eq(size, 0);
    ck_assert_status(cnn_net_import_onnx(NULL, &net), want);
    ck_assert_status(cnn_net_import_onnx("x.onnx", NULL), want);
    ck_assert_status(cnn_net_import_onnx_buffer(NULL, 4, &net), want);
    ck_assert_status(cnn_net_import_onnx_buffer(&byte, 0, &net), want);
    ck_assert_ptr_null(net);
    if (want == CNN_ENOTSUP)
        return;
    /* Not protobuf, a directory, an empty network. */
    ck_assert_status(cnn_net_import_onnx_buffer("\xff\xff\xff", 3, &net), CNN_EFORMAT);
    ck_assert_status(cnn_net_import_onnx("/", &net), CNN_EIO);
    ck_assert_ok(cnn_net_create(1, 4, 4, 0, &net));
    ck_assert_status(cnn_net_export_onnx_buffer(net, &data, &size), CNN_EINVAL);
    ck_assert_ptr_nonnull(strstr(cnn_net_errmsg(net), "no layers"));
    cnn_net_destroy(net);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("onnx");
    TCase *tc = tcase_create("onnx");
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, hostile);
    tcase_add_test(tc, deep_nesting);
    tcase_add_test(tc, arguments);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
