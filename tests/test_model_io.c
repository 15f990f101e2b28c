/* Model save/load: round trips of every layer kind and option (file and
 * buffer, predictions bit for bit), the golden version-1 file, atomic
 * replacement, failed saves, and the errors a reader must give. */
#include "testfs.h"
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ---- helpers ------------------------------------------------------------ */

/* Fills every parameter from the test generator, so results do not depend
 * on the library's initialisation and the softmax is not all zeros. */
static void fill_params(cnn_net *net, uint64_t seed, float range)
{
    test_rng r;
    test_rng_seed(&r, seed);
    test_fill_uniform(&r, cnn_net_params(net), (size_t)cnn_net_param_count(net), -range, range);
}

/* Takes &l: the call that fills l is another argument, and C leaves the
 * order in which arguments are evaluated unspecified. */
static void add(cnn_net *net, cnn_status st, cnn_layer **l)
{
    ck_assert_ok(st);
    ck_assert_ok(cnn_net_add(net, *l));
}

/* Sample networks covering every kind and every option value. */
#define N_VARIANTS 5
static cnn_net *make_net(int variant)
{
    cnn_net *net = NULL;
    cnn_layer *l = NULL;
    cnn_conv2d_params cp;
    cnn_pool2d_params pp;
    cnn_dense_params dp;
    cnn_softmax_params sp;
    switch (variant) {
    case 0: /* conv + fused max pool, avg pool, tanh, dense with dropout, softmax */
        ck_assert_ok(cnn_net_create(1, 12, 12, 7, &net));
        cnn_conv2d_params_init(&cp, 3, 3, 3);
        cp.pad_h = cp.pad_w = 1;
        cp.activation = CNN_ACT_RELU;
        cp.pool = CNN_POOL_MAX;
        cp.init = CNN_INIT_HE;
        cp.seed = 99;
        add(net, cnn_conv2d_create(&cp, &l), &l);
        cnn_pool2d_params_init(&pp, CNN_POOL_AVG, 2, 2);
        pp.stride_h = pp.stride_w = 1;
        add(net, cnn_pool2d_create(&pp, &l), &l);
        add(net, cnn_activation_create(CNN_ACT_TANH, &l), &l);
        cnn_dense_params_init(&dp, 7);
        dp.activation = CNN_ACT_RELU;
        dp.dropout = 0.25f;
        dp.init = CNN_INIT_GLOROT;
        add(net, cnn_dense_create(&dp, &l), &l);
        cnn_softmax_params_init(&sp, 4);
        sp.dropout = 0.5f;
        sp.init = CNN_INIT_NETWORK3;
        sp.seed = 12345678901234ull;
        add(net, cnn_softmax_create(&sp, &l), &l);
        break;
    case 1: /* strided conv, conv + fused L2 and avg pools, L2/max pooling, every activation */
        ck_assert_ok(cnn_net_create(2, 17, 15, UINT64_MAX, &net));
        cnn_conv2d_params_init(&cp, 4, 3, 2);
        cp.stride_h = 2;
        cp.stride_w = 1;
        cp.activation = CNN_ACT_IDENTITY;
        cp.init = CNN_INIT_ZERO;
        add(net, cnn_conv2d_create(&cp, &l), &l);
        cnn_conv2d_params_init(&cp, 2, 2, 2);
        cp.in_channels = 4;
        cp.pool = CNN_POOL_L2;
        cp.pool_h = 1;
        cp.pool_w = 2;
        cp.activation = CNN_ACT_SIGMOID;
        add(net, cnn_conv2d_create(&cp, &l), &l);
        cnn_conv2d_params_init(&cp, 2, 1, 1);
        cp.pool = CNN_POOL_AVG;
        cp.activation = CNN_ACT_TANH;
        cp.init = CNN_INIT_GLOROT;
        add(net, cnn_conv2d_create(&cp, &l), &l);
        cnn_pool2d_params_init(&pp, CNN_POOL_L2, 1, 1);
        add(net, cnn_pool2d_create(&pp, &l), &l);
        cnn_pool2d_params_init(&pp, CNN_POOL_MAX, 2, 1);
        pp.stride_h = 1;
        pp.stride_w = 2;
        add(net, cnn_pool2d_create(&pp, &l), &l);
        add(net, cnn_activation_create(CNN_ACT_SIGMOID, &l), &l);
        add(net, cnn_activation_create(CNN_ACT_IDENTITY, &l), &l);
        add(net, cnn_activation_create(CNN_ACT_RELU, &l), &l);
        cnn_dense_params_init(&dp, 5);
        dp.activation = CNN_ACT_SIGMOID;
        dp.init = CNN_INIT_ZERO;
        add(net, cnn_dense_create(&dp, &l), &l);
        cnn_dense_params_init(&dp, 6);
        dp.activation = CNN_ACT_IDENTITY;
        dp.init = CNN_INIT_HE;
        dp.dropout = 0.999f;
        add(net, cnn_dense_create(&dp, &l), &l);
        cnn_softmax_params_init(&sp, 2);
        sp.init = CNN_INIT_GLOROT;
        add(net, cnn_softmax_create(&sp, &l), &l);
        break;
    case 2: /* no softmax at the end: ends in a dense tanh layer */
        ck_assert_ok(cnn_net_create(3, 4, 5, 0, &net));
        cnn_dense_params_init(&dp, 3);
        dp.activation = CNN_ACT_TANH;
        dp.in_features = 60;
        add(net, cnn_dense_create(&dp, &l), &l);
        break;
    case 3: /* parameterless layers only */
        ck_assert_ok(cnn_net_create(1, 6, 6, 3, &net));
        cnn_pool2d_params_init(&pp, CNN_POOL_MAX, 3, 3);
        add(net, cnn_pool2d_create(&pp, &l), &l);
        add(net, cnn_activation_create(CNN_ACT_SIGMOID, &l), &l);
        break;
    case 4: /* the golden network (see golden_net below for its shape) */
    default: {
        ck_assert_ok(cnn_net_create(1, 8, 8, 42, &net));
        cnn_conv2d_params_init(&cp, 2, 3, 3);
        cp.activation = CNN_ACT_RELU;
        add(net, cnn_conv2d_create(&cp, &l), &l);
        cnn_pool2d_params_init(&pp, CNN_POOL_MAX, 2, 2);
        add(net, cnn_pool2d_create(&pp, &l), &l);
        add(net, cnn_activation_create(CNN_ACT_TANH, &l), &l);
        cnn_dense_params_init(&dp, 4);
        dp.activation = CNN_ACT_IDENTITY;
        dp.dropout = 0.25f;
        dp.init = CNN_INIT_GLOROT;
        add(net, cnn_dense_create(&dp, &l), &l);
        cnn_softmax_params_init(&sp, 3);
        sp.init = CNN_INIT_HE;
        add(net, cnn_softmax_create(&sp, &l), &l);
        break;
    }
    }
    /* Wide weights for the golden net, so its examples get different labels. */
    fill_params(net, 1000 + (uint64_t)variant, variant == 4 ? 1.0f : 0.5f);
    return net;
}

/* A batch of n inputs for net, from the test generator. */
static cnn_tensor *make_input(cnn_net *net, int n, uint64_t seed)
{
    int32_t s[3];
    ck_assert_ok(cnn_net_input_shape(net, s));
    int64_t shape[4] = {n, s[0], s[1], s[2]};
    cnn_tensor *x = NULL;
    ck_assert_ok(cnn_tensor_create(4, shape, &x));
    test_rng r;
    test_rng_seed(&r, seed);
    test_fill_uniform(&r, cnn_tensor_data(x), (size_t)cnn_tensor_numel(x), 0.0f, 1.0f);
    return x;
}

/* Inference output of net on x (caller frees). */
static float *infer(cnn_net *net, const cnn_tensor *x, int64_t *count)
{
    int32_t o[3];
    ck_assert_ok(cnn_net_output_shape(net, o));
    int64_t shape[2] = {cnn_tensor_dim(x, 0), (int64_t)o[0] * o[1] * o[2]};
    cnn_tensor *y = NULL;
    ck_assert_ok(cnn_tensor_create(2, shape, &y));
    ck_assert_ok(cnn_net_forward(net, x, CNN_MODE_INFER, y));
    *count = cnn_tensor_numel(y);
    float *out = malloc((size_t)*count * sizeof *out);
    ck_assert_ptr_nonnull(out);
    ck_assert_ok(cnn_tensor_copy_out(y, out, *count));
    cnn_tensor_destroy(y);
    return out;
}

/* Asserts a and b are the same network: same saved bytes (every stored
 * field and parameter), same parameters bit for bit, same outputs and
 * predictions bit for bit. */
static void assert_same_net(cnn_net *a, cnn_net *b)
{
    ck_assert_int_eq(cnn_net_layer_count(a), cnn_net_layer_count(b));
    ck_assert_int_eq(cnn_net_param_count(a), cnn_net_param_count(b));
    for (int32_t i = 0; i < cnn_net_layer_count(a); i++)
        ck_assert_int_eq(cnn_layer_kind(cnn_net_layer(a, i)), cnn_layer_kind(cnn_net_layer(b, i)));
    int32_t sa[3], sb[3];
    ck_assert_ok(cnn_net_input_shape(a, sa));
    ck_assert_ok(cnn_net_input_shape(b, sb));
    ck_assert_mem_eq(sa, sb, sizeof sa);
    ck_assert_ok(cnn_net_output_shape(a, sa));
    ck_assert_ok(cnn_net_output_shape(b, sb));
    ck_assert_mem_eq(sa, sb, sizeof sa);
    if (cnn_net_param_count(a) > 0)
        ck_assert(memcmp(cnn_net_params(a), cnn_net_params(b),
                         (size_t)cnn_net_param_count(a) * sizeof(float)) == 0);
    void *ba = NULL, *bb = NULL;
    size_t na = 0, nb = 0;
    ck_assert_ok(cnn_net_save_buffer(a, &ba, &na));
    ck_assert_ok(cnn_net_save_buffer(b, &bb, &nb));
    ck_assert_uint_eq(na, nb);
    ck_assert(memcmp(ba, bb, na) == 0);
    cnn_free(ba);
    cnn_free(bb);
    if (cnn_net_layer_count(a) == 0)
        return;
    cnn_tensor *x = make_input(a, 5, 77);
    int64_t ca, cb;
    float *ya = infer(a, x, &ca);
    float *yb = infer(b, x, &cb);
    ck_assert_int_eq(ca, cb);
    ck_assert(memcmp(ya, yb, (size_t)ca * sizeof(float)) == 0);
    int32_t la[5], lb[5];
    ck_assert_ok(cnn_net_predict(a, x, la));
    ck_assert_ok(cnn_net_predict(b, x, lb));
    ck_assert_mem_eq(la, lb, sizeof la);
    free(ya);
    free(yb);
    cnn_tensor_destroy(x);
}

/* A fresh private directory for file tests (removed by rm_tree). */
static void make_dir(char *dir, size_t len)
{
    const char *base = getenv("TMPDIR");
    snprintf(dir, len, "%s/cnn-model-io-XXXXXX", base && base[0] ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void fix_crc(uint8_t *buf, size_t size)
{
    test_put32(buf + size - 4, (uint32_t)crc32(crc32(0, Z_NULL, 0), buf, (uInt)(size - 4)));
}

/* Saves net into a malloc'd copy (so tests can edit it). */
static uint8_t *save_copy(cnn_net *net, size_t *size)
{
    void *data = NULL;
    ck_assert_ok(cnn_net_save_buffer(net, &data, size));
    uint8_t *copy = malloc(*size);
    memcpy(copy, data, *size);
    cnn_free(data);
    return copy;
}

/* ---- round trips -------------------------------------------------------- */

START_TEST(roundtrip_buffer)
{
    cnn_net *net = make_net(_i);
    void *data = NULL;
    size_t size = 0;
    ck_assert_ok(cnn_net_save_buffer(net, &data, &size));
    ck_assert_uint_gt(size, 60);
    ck_assert(memcmp(data, "CNNMODEL", 8) == 0);
    cnn_net *back = NULL;
    ck_assert_ok(cnn_net_load_buffer(data, size, &back));
    assert_same_net(net, back);
    cnn_free(data);
    cnn_net_destroy(back);
    cnn_net_destroy(net);
}
END_TEST

START_TEST(roundtrip_file)
{
    char dir[4096], path[4200];
    make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/net.cnnm", dir);
    cnn_net *net = make_net(_i);
    ck_assert_ok(cnn_net_save(net, path));
    cnn_net *back = NULL;
    ck_assert_ok(cnn_net_load(path, &back));
    assert_same_net(net, back);
    /* The file holds exactly what save_buffer gives. */
    size_t fsize, bsize;
    uint8_t *f = test_read_file(path, &fsize);
    uint8_t *b = save_copy(net, &bsize);
    ck_assert_uint_eq(fsize, bsize);
    ck_assert(memcmp(f, b, fsize) == 0);
    ck_assert_int_eq(test_dir_entries(dir), 1);
    free(f);
    free(b);
    cnn_net_destroy(back);
    cnn_net_destroy(net);
    test_rm_tree(dir);
}
END_TEST

/* Special finite values (signed zero, subnormal, largest) and a net with no
 * layers survive exactly; NaN and infinity mean a diverged net, which is
 * refused (CNN_EDIVERGED) rather than written over a good file. */
START_TEST(roundtrip_special_values)
{
    cnn_net *net = make_net(0);
    float *p = cnn_net_params(net);
    const uint32_t nonfinite[] = {0x7fc00001u, 0xffbfffffu, 0x7f800000u, 0xff800000u};
    void *data = NULL;
    size_t size = 0;
    for (size_t i = 0; i < sizeof nonfinite / sizeof nonfinite[0]; i++) {
        float keep = p[3];
        memcpy(&p[3], &nonfinite[i], 4);
        ck_assert_status(cnn_net_save_buffer(net, &data, &size), CNN_EDIVERGED);
        ck_assert_ptr_null(data);
        p[3] = keep;
    }
    uint32_t bits[] = {0x80000000u, 0x00000001u, 0x7f7fffffu, 0x80800000u};
    for (size_t i = 0; i < sizeof bits / sizeof bits[0]; i++)
        memcpy(&p[i], &bits[i], 4);
    ck_assert_ok(cnn_net_save_buffer(net, &data, &size));
    cnn_net *back = NULL;
    ck_assert_ok(cnn_net_load_buffer(data, size, &back));
    ck_assert(memcmp(cnn_net_params(net), cnn_net_params(back),
                     (size_t)cnn_net_param_count(net) * 4) == 0);
    cnn_free(data);
    cnn_net_destroy(back);
    cnn_net_destroy(net);

    ck_assert_ok(cnn_net_create(3, 65535, 1, 5, &net));
    ck_assert_ok(cnn_net_save_buffer(net, &data, &size));
    ck_assert_uint_eq(size, 60);
    ck_assert_ok(cnn_net_load_buffer(data, size, &back));
    assert_same_net(net, back);
    cnn_free(data);
    cnn_net_destroy(back);
    cnn_net_destroy(net);
}
END_TEST

/* A loaded network trains on like the original (same seed, same weights). */
START_TEST(roundtrip_then_train)
{
    cnn_net *a = make_net(0);
    void *data = NULL;
    size_t size = 0;
    ck_assert_ok(cnn_net_save_buffer(a, &data, &size));
    cnn_net *b = NULL;
    ck_assert_ok(cnn_net_load_buffer(data, size, &b));
    cnn_free(data);
    cnn_sgd_params sp;
    cnn_sgd_params_init(&sp, 0.1f);
    cnn_optimizer *oa = NULL, *ob = NULL;
    ck_assert_ok(cnn_sgd_create(&sp, &oa));
    ck_assert_ok(cnn_sgd_create(&sp, &ob));
    cnn_tensor *x = make_input(a, 4, 5);
    int32_t labels[4] = {0, 1, 2, 3};
    double ca, cb;
    ck_assert_ok(cnn_train_step(a, oa, x, labels, &ca));
    ck_assert_ok(cnn_train_step(b, ob, x, labels, &cb));
    ck_assert(ca == cb);
    ck_assert(memcmp(cnn_net_params(a), cnn_net_params(b),
                     (size_t)cnn_net_param_count(a) * 4) == 0);
    cnn_tensor_destroy(x);
    cnn_optimizer_destroy(oa);
    cnn_optimizer_destroy(ob);
    cnn_net_destroy(a);
    cnn_net_destroy(b);
}
END_TEST

/* ---- golden file --------------------------------------------------------- */

#define GOLDEN_PATH CNN_TEST_SRCDIR "/data/model-v1.cnnm"
#define GOLDEN_N 4
/* Expected output of the golden file on make_input(net, GOLDEN_N, 2024):
 * labels, and probabilities as float bit patterns (from golden_write). */
static const int32_t golden_labels[GOLDEN_N] = {1, 1, 0, 1};
static const uint32_t golden_probs[GOLDEN_N * 3] = {
    0x3ecaa626u, /* 0.395798862 */
    0x3efadfbfu, /* 0.489988297 */
    0x3de9e86eu, /* 0.114212856 */
    0x3eb43edau, /* 0.352042019 */
    0x3ee14472u, /* 0.439975321 */
    0x3e54f966u, /* 0.20798263 */
    0x3ec26f67u, /* 0.379756182 */
    0x3eaadcbfu, /* 0.333715409 */
    0x3e92b3d9u, /* 0.286528379 */
    0x3eab1bdau, /* 0.334196866 */
    0x3f0170e2u, /* 0.505628705 */
    0x3e2404c6u, /* 0.160174459 */
};

/* Run only with CNN_WRITE_GOLDEN=path set (then it is the only test):
 * writes the golden file and prints the constants above.  Used once, when
 * the format was created; never rewrite the file for a later version. */
START_TEST(golden_write)
{
    const char *path = getenv("CNN_WRITE_GOLDEN");
    cnn_net *net = make_net(4);
    ck_assert_ok(cnn_net_save(net, path));
    cnn_tensor *x = make_input(net, GOLDEN_N, 2024);
    int64_t n;
    float *y = infer(net, x, &n);
    int32_t labels[GOLDEN_N];
    ck_assert_ok(cnn_net_predict(net, x, labels));
    printf("#define GOLDEN_LABELS");
    for (int i = 0; i < GOLDEN_N; i++)
        printf(" %d,", (int)labels[i]);
    printf("\n#define GOLDEN_PROBS");
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &y[i], 4);
        printf(" 0x%08xu, /* %.9g */", u, (double)y[i]);
    }
    printf("\n");
    fflush(stdout);
    free(y);
    cnn_tensor_destroy(x);
    cnn_net_destroy(net);
}
END_TEST

START_TEST(golden_v1)
{
    cnn_net *net = NULL;
    ck_assert_ok(cnn_net_load(GOLDEN_PATH, &net));
    int32_t in[3], out[3];
    ck_assert_ok(cnn_net_input_shape(net, in));
    ck_assert_ok(cnn_net_output_shape(net, out));
    ck_assert_int_eq(in[0], 1);
    ck_assert_int_eq(in[1], 8);
    ck_assert_int_eq(in[2], 8);
    ck_assert_int_eq(out[0], 3);
    ck_assert_int_eq(cnn_net_layer_count(net), 5);
    ck_assert_int_eq(cnn_net_param_count(net), 20 + 76 + 15);
    cnn_tensor *x = make_input(net, GOLDEN_N, 2024);
    int32_t labels[GOLDEN_N];
    ck_assert_ok(cnn_net_predict(net, x, labels));
    ck_assert_mem_eq(labels, golden_labels, sizeof labels);
    int64_t n;
    float *y = infer(net, x, &n);
    ck_assert_int_eq(n, GOLDEN_N * 3);
    /* Bit for bit on the build that wrote it; another BLAS or compiler may
     * round differently, hence the tolerance. */
    for (int64_t i = 0; i < n; i++) {
        float want;
        memcpy(&want, &golden_probs[i], 4);
        ck_assert_msg(fabsf(y[i] - want) <= 1e-6f, "prob %d: %.9g, want %.9g", (int)i,
                      (double)y[i], (double)want);
    }
    /* The writer still produces the very same bytes. */
    size_t fsize, bsize;
    uint8_t *f = test_read_file(GOLDEN_PATH, &fsize);
    uint8_t *b = save_copy(net, &bsize);
    ck_assert_uint_eq(fsize, bsize);
    ck_assert(memcmp(f, b, fsize) == 0);
    free(f);
    free(b);
    free(y);
    cnn_tensor_destroy(x);
    cnn_net_destroy(net);
}
END_TEST

/* ---- atomic saving --------------------------------------------------------- */

START_TEST(save_replaces_atomically)
{
    char dir[4096], path[4200];
    make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/net.cnnm", dir);
    cnn_net *a = make_net(0), *b = make_net(1);
    ck_assert_ok(cnn_net_save(a, path));
    ck_assert_int_eq(chmod(path, 0640), 0);
    ck_assert_ok(cnn_net_save(b, path));
    cnn_net *back = NULL;
    ck_assert_ok(cnn_net_load(path, &back));
    assert_same_net(b, back);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0640); /* the replaced file's mode is kept */
    ck_assert_int_eq(test_dir_entries(dir), 1);   /* no temporary file left */
    cnn_net_destroy(back);
    cnn_net_destroy(a);
    cnn_net_destroy(b);
    test_rm_tree(dir);
}
END_TEST

/* A save that fails part way (the write hits RLIMIT_FSIZE, which stops
 * root as well) leaves the old file byte for byte and no temporary file. */
START_TEST(failed_save_keeps_old_file)
{
    char dir[4096], path[4200];
    make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/net.cnnm", dir);
    cnn_net *a = make_net(4), *b = make_net(0);
    ck_assert_ok(cnn_net_save(a, path));
    size_t old_size, new_size;
    uint8_t *old = test_read_file(path, &old_size);
    free(save_copy(b, &new_size));
    ck_assert_uint_gt(new_size, 600);

    signal(SIGXFSZ, SIG_IGN);
    struct rlimit saved, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &saved), 0);
    lim = saved;
    lim.rlim_cur = 100;
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    cnn_status st = cnn_net_save(b, path);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &saved), 0);
    ck_assert_int_eq(st, CNN_EIO);
    ck_assert_ptr_nonnull(strstr(cnn_last_error(), "write"));
    ck_assert_str_eq(cnn_net_errmsg(b), cnn_last_error());

    /* Out of memory while encoding fails before any file is touched. */
    cnn_test_fail_alloc_after(0);
    st = cnn_net_save(b, path);
    cnn_test_fail_alloc_after(-1);
    ck_assert_int_eq(st, CNN_ENOMEM);

    size_t now_size;
    uint8_t *now = test_read_file(path, &now_size);
    ck_assert_uint_eq(now_size, old_size);
    ck_assert(memcmp(now, old, old_size) == 0);
    ck_assert_int_eq(test_dir_entries(dir), 1);
    free(old);
    free(now);
    cnn_net_destroy(a);
    cnn_net_destroy(b);
    test_rm_tree(dir);
}
END_TEST

START_TEST(save_path_errors)
{
    char dir[4096], path[4200];
    make_dir(dir, sizeof dir);
    cnn_net *net = make_net(3);
    ck_assert_status(cnn_net_save(NULL, "x.cnnm"), CNN_EINVAL);
    ck_assert_status(cnn_net_save(net, NULL), CNN_EINVAL);
    ck_assert_status(cnn_net_save(net, ""), CNN_EINVAL);
    ck_assert_str_eq(cnn_net_errmsg(net), cnn_last_error());
    /* A directory that does not exist (root can write anywhere, so this is
     * the portable "cannot create" case), and one under /proc. */
    snprintf(path, sizeof path, "%s/missing/net.cnnm", dir);
    ck_assert_status(cnn_net_save(net, path), CNN_EIO);
    ck_assert_ptr_nonnull(strstr(cnn_last_error(), "missing"));
    ck_assert_status(cnn_net_save(net, "/proc/cnn-model-io-test.cnnm"), CNN_EIO);
    /* The path is a directory, or a FIFO: refused, nothing created. */
    snprintf(path, sizeof path, "%s/sub", dir);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    ck_assert_status(cnn_net_save(net, path), CNN_EIO);
    ck_assert_int_eq(test_dir_entries(path), 0);
    snprintf(path, sizeof path, "%s/fifo", dir);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    ck_assert_status(cnn_net_save(net, path), CNN_EIO);
    ck_assert_int_eq(test_dir_entries(dir), 2);
    /* save_buffer's arguments. */
    void *data = (void *)1;
    size_t size = 1;
    ck_assert_status(cnn_net_save_buffer(NULL, &data, &size), CNN_EINVAL);
    ck_assert_ptr_null(data);
    ck_assert_uint_eq(size, 0);
    ck_assert_status(cnn_net_save_buffer(net, NULL, &size), CNN_EINVAL);
    ck_assert_status(cnn_net_save_buffer(net, &data, NULL), CNN_EINVAL);
    cnn_free(NULL);
    cnn_net_destroy(net);
    test_rm_tree(dir);
}
END_TEST

/* ---- load errors --------------------------------------------------------- */

START_TEST(load_argument_and_path_errors)
{
    cnn_net *net = (cnn_net *)1;
    ck_assert_status(cnn_net_load(NULL, &net), CNN_EINVAL);
    ck_assert_ptr_null(net);
    ck_assert_status(cnn_net_load("x", NULL), CNN_EINVAL);
    ck_assert_status(cnn_net_load("", &net), CNN_EINVAL);
    ck_assert_status(cnn_net_load_buffer(NULL, 10, &net), CNN_EINVAL);
    ck_assert_status(cnn_net_load_buffer("x", 1, NULL), CNN_EINVAL);
    ck_assert_status(cnn_net_load("/nonexistent/dir/net.cnnm", &net), CNN_EIO);
    ck_assert_ptr_nonnull(strstr(cnn_last_error(), "/nonexistent/dir/net.cnnm"));
    ck_assert_status(cnn_net_load("/", &net), CNN_EIO);
    ck_assert_status(cnn_net_load("/dev/null", &net), CNN_EIO); /* not a regular file */
    ck_assert_ptr_null(net);
    char dir[4096], path[4200];
    make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/empty", dir);
    test_write_file(path, "", 0);
    ck_assert_status(cnn_net_load(path, &net), CNN_EFORMAT);
    ck_assert_ptr_nonnull(strstr(cnn_last_error(), path));
    test_rm_tree(dir);
}
END_TEST

/* Loads buf (after fixing its CRC if asked) and expects status `want`
 * with `needle` in the message. */
static void expect_load(uint8_t *buf, size_t size, int fix, cnn_status want, const char *needle)
{
    if (fix)
        fix_crc(buf, size);
    cnn_net *net = (cnn_net *)1;
    ck_assert_status(cnn_net_load_buffer(buf, size, &net), want);
    ck_assert_ptr_null(net);
    ck_assert_msg(strstr(cnn_last_error(), needle) != NULL, "message '%s' lacks '%s'",
                  cnn_last_error(), needle);
}

START_TEST(load_format_errors)
{
    cnn_net *net = make_net(4);
    size_t size;
    uint8_t *good = save_copy(net, &size);
    uint8_t *b = malloc(size + 8);
#define FRESH() memcpy(b, good, size)

    FRESH(); b[0] = 'X';
    expect_load(b, size, 0, CNN_EFORMAT, "magic");
    expect_load(b, 5, 0, CNN_EFORMAT, "magic");
    FRESH(); test_put32(b + 8, 3);
    expect_load(b, size, 0, CNN_EVERSION, "version 3 is newer");
    FRESH(); test_put32(b + 8, 0xffffffffu);
    expect_load(b, 12, 0, CNN_EVERSION, "newer");
    FRESH(); test_put32(b + 8, 0);
    expect_load(b, size, 1, CNN_EFORMAT, "version 0");
    FRESH();
    expect_load(b, 10, 0, CNN_EFORMAT, "truncated");
    expect_load(b, 59, 0, CNN_EFORMAT, "truncated");
    expect_load(b, size - 1, 0, CNN_EFORMAT, "truncated");
    b[size] = 0;
    expect_load(b, size + 1, 0, CNN_EFORMAT, "trailing");
    FRESH(); b[size - 1] ^= 1;
    expect_load(b, size, 0, CNN_ECHECKSUM, "checksum");
    FRESH(); b[100] ^= 0x10;
    expect_load(b, size, 0, CNN_ECHECKSUM, "checksum");

    /* Damage with a valid CRC, so the parser itself must catch it. */
    FRESH(); test_put32(b + 20, 40);
    expect_load(b, size, 1, CNN_EFORMAT, "network record length");
    FRESH(); test_put32(b + 24, 0);
    expect_load(b, size, 1, CNN_EFORMAT, "input channels");
    FRESH(); test_put32(b + 28, 70000);
    expect_load(b, size, 1, CNN_EFORMAT, "input height");
    FRESH(); test_put32(b + 36, 1025);
    expect_load(b, size, 1, CNN_EFORMAT, "1025 layers");
    FRESH(); test_put32(b + 36, 6);
    expect_load(b, size, 1, CNN_EFORMAT, "truncated at offset");
    FRESH(); test_put32(b + 36, 4);
    expect_load(b, size, 1, CNN_EFORMAT, "unexpected bytes");
    FRESH(); test_put64(b + 48, 1ull << 40);
    expect_load(b, size, 1, CNN_EFORMAT, "parameters");
    FRESH(); test_put64(b + 48, 110);
    expect_load(b, size, 1, CNN_EFORMAT, "the layers hold 111");
    /* First layer: conv record at 56 (kind, length, 13 u32 + u64, counts). */
    ck_assert_uint_eq(test_get32(b + 56), 1);
    FRESH(); test_put32(b + 56, 9);
    expect_load(b, size, 1, CNN_EFORMAT, "unknown layer kind code 9");
    FRESH(); test_put32(b + 60, 64);
    expect_load(b, size, 1, CNN_EFORMAT, "descriptor length 64");
    FRESH(); test_put32(b + 64, 2); /* in_channels 2: does not fit the 1-channel input */
    expect_load(b, size, 1, CNN_EFORMAT, "expects 2 input maps");
    FRESH(); test_put64(b + 124, 17); /* weight count unlike what the descriptor implies */
    expect_load(b, size, 1, CNN_EFORMAT, "parameter counts");
    FRESH(); test_put32(b + 68, 0); /* out_channels 0 */
    expect_load(b, size, 1, CNN_EFORMAT, "out_channels = 0");
    FRESH(); test_put32(b + 72, 65536); /* kernel_h */
    expect_load(b, size, 1, CNN_EFORMAT, "kernel_h = 65536");
    FRESH(); test_put32(b + 96, 4); /* activation */
    expect_load(b, size, 1, CNN_EFORMAT, "unknown activation code 4");
    FRESH(); test_put32(b + 100, 7); /* pool */
    expect_load(b, size, 1, CNN_EFORMAT, "unknown pool code 7");
    FRESH(); test_put32(b + 112, 4); /* init */
    expect_load(b, size, 1, CNN_EFORMAT, "unknown init code 4");
    FRESH(); test_put32(b + 72, 9); /* kernel 9x3 does not fit 8x8: the library says so */
    test_put32(b + 124, 2 * 9 * 3);
    test_put64(b + 48, 111 + 2 * 9 * 3 - 18);
    {
        /* Keep the byte count consistent: grow the weights by 36 floats. */
        size_t extra = (2 * 9 * 3 - 18) * 4;
        uint8_t *big = calloc(1, size + extra);
        size_t cut = 140 + 18 * 4;
        memcpy(big, b, cut);
        memcpy(big + cut + extra, b + cut, size - cut);
        test_put64(big + 12, size + extra);
        expect_load(big, size + extra, 1, CNN_EFORMAT, "layer 0");
        free(big);
    }
    /* Dense record: after conv (8+60+16+80), pool (8+20+16), activation
     * (8+4+16); its dropout is the 4th u32 of the descriptor. */
    size_t dense = 56 + 164 + 44 + 28;
    ck_assert_uint_eq(test_get32(b + dense), 3);
    FRESH(); test_put32(b + dense + 8 + 12, 0x3f800000u); /* 1.0 */
    expect_load(b, size, 1, CNN_EFORMAT, "dropout");
    FRESH(); test_put32(b + dense + 8 + 12, 0x7fc00000u); /* NaN */
    expect_load(b, size, 1, CNN_EFORMAT, "dropout");
    FRESH(); test_put32(b + dense + 8, 17); /* in_features 17: the input has 18 */
    expect_load(b, size, 1, CNN_EFORMAT, "layer expects 17");
    /* Softmax turned into a second dense layer after which nothing is
     * wrong, and a dense layer turned into a softmax: softmax not last. */
    size_t soft = dense + 8 + 28 + 16 + 76 * 4;
    ck_assert_uint_eq(test_get32(b + soft), 4);
    FRESH(); test_put32(b + dense, 4); test_put32(b + dense + 4, 24);
    {
        /* Rewrite the dense record as softmax: same counts, 24-byte
         * descriptor (in, classes, dropout, init, seed), 4 bytes shorter. */
        uint8_t *s = malloc(size);
        size_t at = dense + 8;
        memcpy(s, b, at);
        test_put32(s + at, 18); test_put32(s + at + 4, 4); test_put32(s + at + 8, 0); test_put32(s + at + 12, 0);
        test_put64(s + at + 16, 0);
        memcpy(s + at + 24, b + at + 28, size - at - 28);
        test_put64(s + 12, size - 4);
        expect_load(s, size - 4, 1, CNN_EFORMAT, "softmax");
        free(s);
    }
    free(b);
    free(good);
    cnn_net_destroy(net);
#undef FRESH
}
END_TEST

/* Dimensions that are each legal but whose product would need far more
 * memory than the file holds are refused before anything is allocated. */
START_TEST(load_huge_claims)
{
    cnn_net *net = make_net(4);
    size_t size;
    uint8_t *b = save_copy(net, &size);
    /* conv with 65535 maps: legal, but its weights are not in the file */
    test_put32(b + 68, 65535);
    test_put64(b + 124, UINT64_MAX - 1000); /* counts that wrap if added */
    test_put64(b + 132, 65535);
    expect_load(b, size, 1, CNN_EFORMAT, "parameter counts");
    uint64_t nw = 65535ull * test_get32(b + 64) * test_get32(b + 72) * test_get32(b + 76);
    test_put64(b + 124, nw);
    expect_load(b, size, 1, CNN_EFORMAT, "bytes left");
    /* 65535 x 65535 kernels on the 8x8 input: refused by the layer's own
     * shape check, before any count is believed. */
    test_put32(b + 72, 65535);
    test_put32(b + 76, 65535);
    expect_load(b, size, 1, CNN_EFORMAT, "kernel 65535x65535");
    free(b);
    /* A big input with a padded conv: accepted counts, too large output. */
    b = save_copy(net, &size);
    test_put32(b + 28, 65535);
    test_put32(b + 32, 65535);
    expect_load(b, size, 1, CNN_EFORMAT, "input 1x65535x65535");
    free(b);
    cnn_net_destroy(net);
}
END_TEST

/* Every allocation of save and load may fail: each must say CNN_ENOMEM
 * and leak nothing (leaks show under the sanitizer build). */
START_TEST(alloc_failures)
{
    char dir[4096], path[4200];
    make_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/net.cnnm", dir);
    cnn_net *net = make_net(0);
    ck_assert_ok(cnn_net_save(net, path));
    int done = 0;
    for (int64_t n = 0; !done; n++) {
        ck_assert_int_lt(n, 10000);
        void *data = NULL;
        size_t size = 0;
        cnn_net *back = NULL;
        cnn_test_fail_alloc_after(n);
        cnn_status s1 = cnn_net_save_buffer(net, &data, &size);
        cnn_test_fail_alloc_after(n);
        cnn_status s2 = cnn_net_save(net, path);
        cnn_test_fail_alloc_after(n);
        cnn_status s3 = cnn_net_load(path, &back);
        cnn_test_fail_alloc_after(-1);
        ck_assert(s1 == CNN_OK || s1 == CNN_ENOMEM);
        ck_assert(s2 == CNN_OK || s2 == CNN_ENOMEM);
        ck_assert_msg(s3 == CNN_OK || s3 == CNN_ENOMEM, "load with %d allocations: %s", (int)n,
                      cnn_last_error());
        ck_assert((s3 == CNN_OK) == (back != NULL));
        if (s1 == CNN_OK && data) {
            cnn_net *b2 = NULL;
            cnn_test_fail_alloc_after(n);
            cnn_status s4 = cnn_net_load_buffer(data, size, &b2);
            cnn_test_fail_alloc_after(-1);
            ck_assert(s4 == CNN_OK || s4 == CNN_ENOMEM);
            done = s4 == CNN_OK && s2 == CNN_OK && s3 == CNN_OK;
            cnn_net_destroy(b2);
        }
        cnn_free(data);
        cnn_net_destroy(back);
    }
    /* The file on disk is whole after all those failed saves. */
    cnn_net *back = NULL;
    ck_assert_ok(cnn_net_load(path, &back));
    assert_same_net(net, back);
    ck_assert_int_eq(test_dir_entries(dir), 1);
    cnn_net_destroy(back);
    cnn_net_destroy(net);
    test_rm_tree(dir);
}
END_TEST

static Suite *model_io_suite(void)
{
    Suite *s = suite_create("model_io");
    TCase *tc = tcase_create("roundtrip");
    tcase_add_loop_test(tc, roundtrip_buffer, 0, N_VARIANTS);
    tcase_add_loop_test(tc, roundtrip_file, 0, N_VARIANTS);
    tcase_add_test(tc, roundtrip_special_values);
    tcase_add_test(tc, roundtrip_then_train);
    tcase_add_test(tc, golden_v1);
    suite_add_tcase(s, tc);
    tc = tcase_create("files");
    tcase_add_test(tc, save_replaces_atomically);
    tcase_add_test(tc, failed_save_keeps_old_file);
    tcase_add_test(tc, save_path_errors);
    tcase_add_test(tc, load_argument_and_path_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, load_format_errors);
    tcase_add_test(tc, load_huge_claims);
    tcase_add_test(tc, alloc_failures);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    const char *golden = getenv("CNN_WRITE_GOLDEN");
    if (golden && golden[0]) {
        Suite *s = suite_create("golden_write");
        TCase *tc = tcase_create("golden_write");
        tcase_add_test(tc, golden_write);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
    }
    return test_run_suite(model_io_suite());
}
