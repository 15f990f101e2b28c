/* One handler per ONNX op the importer maps (docs/onnx.md has the table).
 * Each reads the current node (m->n), checks every attribute it does not
 * support away, and either completes the pending layer, opens a new one,
 * adds a layer, or only changes the chain's rank.
 *
 * The folds into one libcnn layer are exact, never approximations:
 * - conv2d computes act(pool(conv(x)) + b).  A per-channel bias commutes
 *   with max and average pooling (pool(z + b) = pool(z) + b), so a Conv
 *   with its bias followed by MaxPool or AveragePool folds; with LpPool it
 *   does not, and is refused.  A monotone activation (ReLU, sigmoid, tanh)
 *   commutes with max pooling, so Conv, Relu, MaxPool folds too.
 * - dense computes act(alpha * x W^T + b) with alpha = 1 - dropout, which
 *   is Gemm's alpha; softmax is the same affine part then softmax. */
#include "onnx/import.h"
#include "layers/layer.h"

#include <math.h>
#include <string.h>

static int32_t features(const imp *m)
{
    return m->shape[0] * m->shape[1] * m->shape[2];
}

static cnn_status need_rank(imp *m, int rank)
{
    if (m->rank == rank)
        return CNN_OK;
    return imp_refuse(m, CNN_ENOTSUP, "needs a rank-%d input, '%.64s' has rank %d", rank,
                      m->cur, m->rank);
}

/* No output but the first may be used (masks, indices, training stats). */
static cnn_status one_output(imp *m)
{
    for (size_t k = 1; k < m->n->n_output; k++)
        if (m->n->output[k][0])
            return imp_refuse(m, CNN_ENOTSUP, "output %zu '%.64s' not supported", k,
                              m->n->output[k]);
    return CNN_OK;
}

/* auto_pad: NOTSET and VALID are explicit padding; SAME_* only where it
 * is symmetric ("same" below). */
static cnn_status auto_pad(imp *m, bool *same)
{
    const Onnx__AttributeProto *a = imp_attr(m, "auto_pad");
    *same = false;
    if (!a)
        return CNN_OK;
    const size_t len = a->has_s ? a->s.len : 0;
    const char *s = len ? (const char *)a->s.data : "";
    if ((len == 6 && memcmp(s, "NOTSET", 6) == 0) || (len == 5 && memcmp(s, "VALID", 5) == 0) ||
        len == 0)
        return CNN_OK;
    if ((len == 10 && memcmp(s, "SAME_UPPER", 10) == 0) ||
        (len == 10 && memcmp(s, "SAME_LOWER", 10) == 0)) {
        *same = true;
        return CNN_OK;
    }
    return imp_refuse(m, CNN_ENOTSUP, "auto_pad '%.*s' not supported", (int)(len > 32 ? 32 : len),
                      s);
}

static cnn_status ones(imp *m, const char *name)
{
    int64_t d[2];
    bool found;
    cnn_status st = imp_attr_ints(m, name, 2, d, &found);
    if (st == CNN_OK && found && (d[0] != 1 || d[1] != 1))
        st = imp_refuse(m, CNN_ENOTSUP, "%s %lldx%lld not supported", name, (long long)d[0],
                        (long long)d[1]);
    return st;
}

static bool dim_ok(int64_t v)
{
    return v >= 1 && v <= CNN_MAX_DIM;
}

/* ---- Conv ------------------------------------------------------------------ */

static cnn_status op_conv(imp *m)
{
    static const char *const known[] = {"kernel_shape", "strides", "pads", "dilations", "group",
                                        "auto_pad", NULL};
    cnn_status st = imp_flush(m);
    if (st == CNN_OK)
        st = imp_attrs_known(m, known);
    if (st == CNN_OK)
        st = need_rank(m, 4);
    int64_t group, k[2], s[2] = {1, 1}, pads[4] = {0, 0, 0, 0}, wd[IMP_MAX_RANK], bd[IMP_MAX_RANK];
    bool has_k, has_s, has_p, same;
    if (st == CNN_OK)
        st = imp_attr_int(m, "group", 1, &group);
    if (st == CNN_OK && group != 1)
        st = imp_refuse(m, CNN_ENOTSUP, "group %lld not supported (grouped and depthwise "
                        "convolutions are not)", (long long)group);
    if (st == CNN_OK)
        st = ones(m, "dilations");
    if (st == CNN_OK)
        st = imp_attr_ints(m, "kernel_shape", 2, k, &has_k);
    if (st == CNN_OK)
        st = imp_attr_ints(m, "strides", 2, s, &has_s);
    if (st == CNN_OK)
        st = imp_attr_ints(m, "pads", 4, pads, &has_p);
    if (st == CNN_OK)
        st = auto_pad(m, &same);
    const Onnx__TensorProto *wt = NULL, *bt = NULL;
    if (st == CNN_OK)
        st = imp_input_const(m, 1, &wt);
    if (st == CNN_OK)
        st = imp_input_const(m, 2, &bt);
    if (st == CNN_OK && !wt)
        st = imp_refuse(m, CNN_EFORMAT, "no weights");
    if (st != CNN_OK)
        return st;
    float *w = NULL, *b = NULL;
    size_t wn, bn = 0;
    if ((st = imp_floats(m, wt, wd, &wn, &w)) != CNN_OK)
        return st;
    if (bt && (st = imp_floats(m, bt, bd, &bn, &b)) != CNN_OK)
        goto fail;
    if (wn != 4 || !dim_ok(wd[0]) || !dim_ok(wd[2]) || !dim_ok(wd[3])) {
        st = imp_refuse(m, CNN_ENOTSUP, "weights must be (M, C, kH, kW)");
        goto fail;
    }
    if (wd[1] != m->shape[0]) {
        st = imp_refuse(m, CNN_ENOTSUP, "weights expect %lld input channels, the input has %d",
                   (long long)wd[1], m->shape[0]);
        goto fail;
    }
    if (has_k && (k[0] != wd[2] || k[1] != wd[3])) {
        st = imp_refuse(m, CNN_EFORMAT, "kernel_shape %lldx%lld but weights %lldx%lld",
                   (long long)k[0], (long long)k[1], (long long)wd[2], (long long)wd[3]);
        goto fail;
    }
    if (bt && (bn != 1 || bd[0] != wd[0])) {
        st = imp_refuse(m, CNN_EFORMAT, "bias must have %lld values", (long long)wd[0]);
        goto fail;
    }
    if (!dim_ok(s[0]) || !dim_ok(s[1])) {
        st = imp_refuse(m, CNN_ENOTSUP, "strides %lldx%lld not supported", (long long)s[0], (long long)s[1]);
        goto fail;
    }
    if (same) {
        if (has_p || s[0] != 1 || s[1] != 1 || wd[2] % 2 == 0 || wd[3] % 2 == 0) {
            st = imp_refuse(m, CNN_ENOTSUP, "auto_pad SAME only with stride 1 and odd kernels");
            goto fail;
        }
        pads[0] = pads[2] = (wd[2] - 1) / 2;
        pads[1] = pads[3] = (wd[3] - 1) / 2;
    }
    if (pads[0] != pads[2] || pads[1] != pads[3]) {
        st = imp_refuse(m, CNN_ENOTSUP, "asymmetric pads %lld,%lld,%lld,%lld not supported", (long long)pads[0],
                   (long long)pads[1], (long long)pads[2], (long long)pads[3]);
        goto fail;
    }
    if (pads[0] < 0 || pads[1] < 0 || pads[0] > CNN_MAX_DIM || pads[1] > CNN_MAX_DIM) {
        st = imp_refuse(m, CNN_ENOTSUP, "pads %lldx%lld not supported", (long long)pads[0], (long long)pads[1]);
        goto fail;
    }
    imp_pending *p = &m->p;
    p->kind = PEND_CONV;
    p->ni = m->ni;
    p->n = m->n;
    cnn_conv2d_params_init(&p->conv, (int32_t)wd[0], (int32_t)wd[2], (int32_t)wd[3]);
    p->conv.in_channels = (int32_t)wd[1];
    p->conv.stride_h = (int32_t)s[0];
    p->conv.stride_w = (int32_t)s[1];
    p->conv.pad_h = (int32_t)pads[0];
    p->conv.pad_w = (int32_t)pads[1];
    p->act = CNN_ACT_IDENTITY;
    p->w = w;
    p->b = b;
    return CNN_OK;
fail:
    cnn_dealloc(w);
    cnn_dealloc(b);
    return st;
}

/* ---- pooling ----------------------------------------------------------------- */

static cnn_status op_pool(imp *m, int32_t mode)
{
    static const char *const known[] = {"kernel_shape", "strides", "pads", "auto_pad",
                                        "ceil_mode", "dilations", "storage_order",
                                        "count_include_pad", "p", NULL};
    cnn_status st = imp_attrs_known(m, known);
    int64_t k[2], s[2] = {1, 1}, pads[4] = {0, 0, 0, 0}, ceil_mode, order, p = 2;
    bool has_k, found, same;
    if (st == CNN_OK)
        st = need_rank(m, 4);
    if (st == CNN_OK)
        st = one_output(m);
    if (st == CNN_OK)
        st = imp_attr_ints(m, "kernel_shape", 2, k, &has_k);
    if (st == CNN_OK && !has_k)
        st = imp_refuse(m, CNN_EFORMAT, "no kernel_shape");
    if (st == CNN_OK)
        st = imp_attr_ints(m, "strides", 2, s, &found);
    if (st == CNN_OK)
        st = imp_attr_ints(m, "pads", 4, pads, &found);
    if (st == CNN_OK)
        st = auto_pad(m, &same);
    if (st == CNN_OK)
        st = ones(m, "dilations");
    if (st == CNN_OK)
        st = imp_attr_int(m, "ceil_mode", 0, &ceil_mode);
    if (st == CNN_OK)
        st = imp_attr_int(m, "storage_order", 0, &order);
    if (st == CNN_OK && mode == CNN_POOL_L2)
        st = imp_attr_int(m, "p", 2, &p);
    if (st != CNN_OK)
        return st;
    if (p != 2)
        return imp_refuse(m, CNN_ENOTSUP, "p %lld not supported (L2 pooling is p = 2)",
                          (long long)p);
    if (same || pads[0] || pads[1] || pads[2] || pads[3])
        return imp_refuse(m, CNN_ENOTSUP, "padded pooling not supported");
    if (!dim_ok(k[0]) || !dim_ok(k[1]) || !dim_ok(s[0]) || !dim_ok(s[1]))
        return imp_refuse(m, CNN_ENOTSUP, "kernel %lldx%lld, strides %lldx%lld not supported",
                          (long long)k[0], (long long)k[1], (long long)s[0], (long long)s[1]);
    if (order != 0)
        return imp_refuse(m, CNN_ENOTSUP, "storage_order %lld not supported", (long long)order);
    imp_pending *pd = &m->p;
    /* The pool's input: the pending conv's output if there is one. */
    if (ceil_mode) {
        /* ceil_mode changes nothing where every window fits exactly. */
        int64_t h = m->shape[1], w = m->shape[2];
        if (pd->kind == PEND_CONV) {
            h = (h + 2 * pd->conv.pad_h - pd->conv.kernel_h) / pd->conv.stride_h + 1;
            w = (w + 2 * pd->conv.pad_w - pd->conv.kernel_w) / pd->conv.stride_w + 1;
        }
        if (h < k[0] || w < k[1] || (h - k[0]) % s[0] || (w - k[1]) % s[1])
            return imp_refuse(m, CNN_ENOTSUP, "ceil_mode 1 not supported where a window "
                              "overhangs the %lldx%lld input", (long long)h, (long long)w);
    }
    const bool fusable = pd->kind == PEND_CONV && pd->conv.pool == CNN_POOL_NONE &&
                         k[0] == s[0] && k[1] == s[1] && imp_same_layer(m);
    if (fusable && pd->b && mode == CNN_POOL_L2 && !pd->act_before_pool)
        return imp_refuse(m, CNN_ENOTSUP, "an L2 pool (LpPool) after a bias: libcnn's conv2d "
                          "adds its bias after pooling, and an L2 pool does not commute with "
                          "a bias");
    if (fusable && (pd->act == CNN_ACT_IDENTITY || mode == CNN_POOL_MAX)) {
        pd->conv.pool = mode;
        pd->conv.pool_h = (int32_t)k[0];
        pd->conv.pool_w = (int32_t)k[1];
        return CNN_OK;
    }
    if ((st = imp_flush(m)) != CNN_OK)
        return st;
    cnn_pool2d_params pp;
    cnn_pool2d_params_init(&pp, mode, (int32_t)k[0], (int32_t)k[1]);
    pp.stride_h = (int32_t)s[0];
    pp.stride_w = (int32_t)s[1];
    cnn_layer *l;
    if ((st = cnn_pool2d_create(&pp, &l)) != CNN_OK)
        return imp_refuse(m, st, "%s", cnn_last_error());
    return imp_add(m, l, NULL, NULL, NULL);
}

static cnn_status op_maxpool(imp *m)
{
    return op_pool(m, CNN_POOL_MAX);
}

static cnn_status op_avgpool(imp *m)
{
    return op_pool(m, CNN_POOL_AVG);
}

static cnn_status op_lppool(imp *m)
{
    return op_pool(m, CNN_POOL_L2);
}

static cnn_status op_gap(imp *m)
{
    static const char *const known[] = {NULL};
    cnn_status st = imp_flush(m);
    if (st == CNN_OK)
        st = imp_attrs_known(m, known);
    if (st == CNN_OK)
        st = need_rank(m, 4);
    cnn_layer *l;
    if (st == CNN_OK && (st = cnn_global_avg_pool_create(&l)) == CNN_OK)
        st = imp_add(m, l, NULL, NULL, NULL);
    return st;
}

/* ---- activations ----------------------------------------------------------------- */

static cnn_status activation(imp *m, int32_t act)
{
    static const char *const known[] = {NULL};
    cnn_status st = imp_attrs_known(m, known);
    if (st != CNN_OK)
        return st;
    imp_pending *p = &m->p;
    if (p->kind != PEND_NONE && p->act == CNN_ACT_IDENTITY && imp_same_layer(m)) {
        p->act = act;
        p->act_before_pool = p->kind == PEND_CONV && p->conv.pool == CNN_POOL_NONE;
        return CNN_OK;
    }
    cnn_layer *l;
    if ((st = imp_flush(m)) == CNN_OK && (st = cnn_activation_create(act, &l)) == CNN_OK)
        st = imp_add(m, l, NULL, NULL, NULL);
    return st;
}

static cnn_status op_relu(imp *m)
{
    return activation(m, CNN_ACT_RELU);
}

static cnn_status op_sigmoid(imp *m)
{
    return activation(m, CNN_ACT_SIGMOID);
}

static cnn_status op_tanh(imp *m)
{
    return activation(m, CNN_ACT_TANH);
}

/* ---- bias Add -------------------------------------------------------------------- */

/* A bias for a pending layer with `count` outputs: a constant of that many
 * values laid out along the channel (or feature) axis only. */
static cnn_status op_add(imp *m)
{
    static const char *const known[] = {NULL};
    cnn_status st = imp_attrs_known(m, known);
    imp_pending *p = &m->p;
    const int32_t count = p->kind == PEND_CONV ? p->conv.out_channels : p->out_features;
    /* A skip connection (an Add of two computed tensors) is refused by
     * imp_input_const, which says so. */
    const Onnx__TensorProto *bt = NULL;
    if (st == CNN_OK)
        st = imp_input_const(m, 1, &bt);
    if (st == CNN_OK && (p->kind == PEND_NONE || p->b || p->act != CNN_ACT_IDENTITY ||
                         m->n->n_input != 2 || !bt || !imp_same_layer(m)))
        st = imp_refuse(m, CNN_ENOTSUP, "Add is supported only as the bias of a Conv (before "
                        "or after its pool) or of a MatMul, before any activation");
    if (st != CNN_OK)
        return st;
    int64_t d[IMP_MAX_RANK];
    size_t nd;
    float *b;
    if ((st = imp_floats(m, bt, d, &nd, &b)) != CNN_OK)
        return st;
    /* (count), (count, 1, 1), (1, count, 1, 1) for a conv; (count), (1, count) for dense. */
    size_t axis = p->kind == PEND_CONV ? (nd >= 3 ? nd - 3 : nd) : nd - 1;
    bool ok = nd >= 1 && nd <= 4 && (p->kind == PEND_CONV ? (nd == 1 || nd >= 3) : nd <= 2);
    if (p->kind == PEND_CONV && nd == 1)
        axis = 0;
    for (size_t i = 0; ok && i < nd; i++)
        ok = d[i] == (i == axis ? count : 1);
    if (!ok) {
        cnn_dealloc(b);
        return imp_refuse(m, CNN_ENOTSUP, "the added constant is not a bias of %d %s", count,
                          p->kind == PEND_CONV ? "channels" : "features");
    }
    p->b = b;
    return CNN_OK;
}

/* ---- Gemm, MatMul, Softmax ----------------------------------------------------------- */

/* w (rows x cols) transposed in place through a copy. */
static cnn_status transpose(imp *m, float **w, int64_t rows, int64_t cols)
{
    float *t = cnn_alloc_array((size_t)(rows * cols), sizeof *t);
    if (!t)
        return imp_refuse(m, CNN_ENOMEM, "out of memory");
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            t[c * rows + r] = (*w)[r * cols + c];
    cnn_dealloc(*w);
    *w = t;
    return CNN_OK;
}

/* Opens a pending dense layer from weights stored (in, out) when !trans_b
 * or (out, in) when trans_b. */
static cnn_status open_affine(imp *m, const Onnx__TensorProto *wt, bool trans_b, float alpha,
                              const Onnx__TensorProto *bt)
{
    int64_t wd[IMP_MAX_RANK], bd[IMP_MAX_RANK];
    size_t wn, bn;
    float *w = NULL, *b = NULL;
    cnn_status st = imp_floats(m, wt, wd, &wn, &w);
    if (st != CNN_OK)
        return st;
    const int64_t in = trans_b ? wd[1] : wd[0], out = trans_b ? wd[0] : wd[1];
    if (wn != 2 || in != features(m) || out < 1 || out > CNN_MAX_FEATURES) {
        cnn_dealloc(w);
        return imp_refuse(m, CNN_ENOTSUP, "weights must be a matrix taking the %d input "
                          "features", features(m));
    }
    if (!trans_b && (st = transpose(m, &w, wd[0], wd[1])) != CNN_OK) {
        cnn_dealloc(w);
        return st;
    }
    if (bt) {
        if ((st = imp_floats(m, bt, bd, &bn, &b)) != CNN_OK) {
            cnn_dealloc(w);
            return st;
        }
        if (!((bn == 1 && bd[0] == out) || (bn == 2 && bd[0] == 1 && bd[1] == out))) {
            cnn_dealloc(w);
            cnn_dealloc(b);
            return imp_refuse(m, CNN_ENOTSUP, "bias must have %lld values", (long long)out);
        }
    }
    imp_pending *p = &m->p;
    p->kind = PEND_AFFINE;
    p->ni = m->ni;
    p->n = m->n;
    p->in_features = (int32_t)in;
    p->out_features = (int32_t)out;
    p->dropout = 1.0f - alpha;
    p->act = CNN_ACT_IDENTITY;
    p->w = w;
    p->b = b;
    return CNN_OK;
}

static cnn_status op_gemm(imp *m)
{
    static const char *const known[] = {"alpha", "beta", "transA", "transB", NULL};
    cnn_status st = imp_flush(m);
    if (st == CNN_OK)
        st = imp_attrs_known(m, known);
    if (st == CNN_OK)
        st = need_rank(m, 2);
    int64_t ta, tb;
    float alpha, beta;
    if (st == CNN_OK)
        st = imp_attr_int(m, "transA", 0, &ta);
    if (st == CNN_OK)
        st = imp_attr_int(m, "transB", 0, &tb);
    if (st == CNN_OK)
        st = imp_attr_float(m, "alpha", 1.0f, &alpha);
    if (st == CNN_OK)
        st = imp_attr_float(m, "beta", 1.0f, &beta);
    const Onnx__TensorProto *wt = NULL, *bt = NULL;
    if (st == CNN_OK)
        st = imp_input_const(m, 1, &wt);
    if (st == CNN_OK)
        st = imp_input_const(m, 2, &bt);
    if (st != CNN_OK)
        return st;
    if (!wt)
        return imp_refuse(m, CNN_EFORMAT, "no weights");
    if (ta != 0 || (tb != 0 && tb != 1))
        return imp_refuse(m, CNN_ENOTSUP, "transA %lld, transB %lld not supported",
                          (long long)ta, (long long)tb);
    /* alpha = 1 - dropout, dropout in [0, 1) (network3's inference scaling). */
    if (!(alpha > 0.0f && alpha <= 1.0f))
        return imp_refuse(m, CNN_ENOTSUP, "alpha %g not supported (libcnn's is 1 - dropout, "
                          "in (0, 1])", (double)alpha);
    if (bt && beta != 1.0f)
        return imp_refuse(m, CNN_ENOTSUP, "beta %g not supported", (double)beta);
    return open_affine(m, wt, tb == 1, alpha, bt);
}

static cnn_status op_matmul(imp *m)
{
    static const char *const known[] = {NULL};
    cnn_status st = imp_flush(m);
    if (st == CNN_OK)
        st = imp_attrs_known(m, known);
    if (st == CNN_OK)
        st = need_rank(m, 2);
    const Onnx__TensorProto *wt = NULL;
    if (st == CNN_OK)
        st = imp_input_const(m, 1, &wt);
    if (st == CNN_OK && (!wt || m->n->n_input != 2))
        st = imp_refuse(m, CNN_EFORMAT, "needs two inputs");
    return st == CNN_OK ? open_affine(m, wt, false, 1.0f, NULL) : st;
}

/* Softmax (or LogSoftmax: libcnn's output is then the probabilities, the
 * exponential of the model's) over the features of a pending affine part:
 * they become one softmax layer, which ends the network. */
static cnn_status op_softmax(imp *m)
{
    static const char *const known[] = {"axis", NULL};
    cnn_status st = imp_attrs_known(m, known);
    int64_t axis;
    if (st == CNN_OK)
        st = imp_attr_int(m, "axis", m->opset >= 13 ? -1 : 1, &axis);
    if (st == CNN_OK)
        st = need_rank(m, 2);
    if (st != CNN_OK)
        return st;
    if (axis != 1 && axis != -1)
        return imp_refuse(m, CNN_ENOTSUP, "axis %lld not supported", (long long)axis);
    imp_pending *p = &m->p;
    if (p->kind != PEND_AFFINE || p->act != CNN_ACT_IDENTITY)
        return imp_refuse(m, CNN_ENOTSUP, "must follow a Gemm or MatMul (+ Add) directly: "
                          "libcnn's softmax layer includes its affine part");
    cnn_softmax_params sp;
    cnn_softmax_params_init(&sp, p->out_features);
    sp.in_features = p->in_features;
    sp.dropout = p->dropout;
    float *w = p->w, *b = p->b;
    memset(p, 0, sizeof *p);
    cnn_layer *l;
    if ((st = cnn_softmax_create(&sp, &l)) != CNN_OK) {
        cnn_dealloc(w);
        cnn_dealloc(b);
        return imp_refuse(m, st, "%s", cnn_last_error());
    }
    return imp_add(m, l, w, b, NULL);
}

/* ---- BatchNormalization ---------------------------------------------------------------- */

static cnn_status op_batchnorm(imp *m)
{
    static const char *const known[] = {"epsilon", "momentum", "training_mode", "spatial", NULL};
    cnn_status st = imp_flush(m);
    int64_t training, spatial;
    float eps, momentum;
    if (st == CNN_OK)
        st = imp_attrs_known(m, known);
    if (st == CNN_OK)
        st = one_output(m);
    if (st == CNN_OK)
        st = imp_attr_int(m, "training_mode", 0, &training);
    if (st == CNN_OK)
        st = imp_attr_int(m, "spatial", 1, &spatial);
    if (st == CNN_OK)
        st = imp_attr_float(m, "epsilon", 1e-5f, &eps);
    if (st == CNN_OK)
        st = imp_attr_float(m, "momentum", 0.9f, &momentum);
    if (st != CNN_OK)
        return st;
    if (training != 0 || spatial != 1)
        return imp_refuse(m, CNN_ENOTSUP, "training_mode %lld / spatial %lld not supported",
                          (long long)training, (long long)spatial);
    if (!(momentum >= 0.0f && momentum <= 1.0f))
        return imp_refuse(m, CNN_ENOTSUP, "momentum %g not supported", (double)momentum);
    if (m->n->n_input != 5)
        return imp_refuse(m, CNN_EFORMAT, "needs 5 inputs, has %zu", m->n->n_input);
    const int32_t c = m->shape[0];
    float *v[4] = {NULL, NULL, NULL, NULL};
    for (size_t k = 0; k < 4 && st == CNN_OK; k++) {
        const Onnx__TensorProto *t;
        int64_t d[IMP_MAX_RANK];
        size_t nd;
        if ((st = imp_input_const(m, k + 1, &t)) == CNN_OK && !t)
            st = imp_refuse(m, CNN_EFORMAT, "input %zu missing", k + 1);
        if (st == CNN_OK)
            st = imp_floats(m, t, d, &nd, &v[k]);
        if (st == CNN_OK && (nd != 1 || d[0] != c))
            st = imp_refuse(m, CNN_ENOTSUP, "input %zu must have %d values (one per channel)",
                            k + 1, c);
    }
    cnn_layer *l = NULL;
    float *state = NULL;
    if (st == CNN_OK) {
        cnn_batchnorm_params bp;
        cnn_batchnorm_params_init(&bp);
        bp.channels = c;
        bp.epsilon = eps;
        bp.momentum = 1.0f - momentum; /* ONNX weighs the old value, libcnn the new */
        st = cnn_batchnorm_create(&bp, &l);
        if (st != CNN_OK)
            st = imp_refuse(m, st, "%s", cnn_last_error());
    }
    if (st == CNN_OK && !(state = cnn_alloc_array(2 * (size_t)c, sizeof *state))) {
        cnn_layer_destroy(l);
        st = imp_refuse(m, CNN_ENOMEM, "out of memory");
    }
    if (st == CNN_OK) {
        memcpy(state, v[2], (size_t)c * sizeof *state);
        memcpy(state + c, v[3], (size_t)c * sizeof *state);
        st = imp_add(m, l, v[0], v[1], state);
        v[0] = v[1] = NULL;
    }
    for (size_t k = 0; k < 4; k++)
        cnn_dealloc(v[k]);
    cnn_dealloc(state);
    return st;
}

/* ---- shape ops and no-ops ---------------------------------------------------------------- */

static cnn_status op_flatten(imp *m)
{
    static const char *const known[] = {"axis", NULL};
    cnn_status st = imp_attrs_known(m, known);
    int64_t axis;
    if (st == CNN_OK)
        st = imp_attr_int(m, "axis", 1, &axis);
    if (st != CNN_OK)
        return st;
    if (axis != 1 && !(m->rank == 4 && axis == -3) && !(m->rank == 2 && axis == -1))
        return imp_refuse(m, CNN_ENOTSUP, "axis %lld not supported (only 1: keep the batch)",
                          (long long)axis);
    if ((st = imp_flush(m)) == CNN_OK)
        m->rank = 2;
    return st;
}

/* Reshape to (N, features) or back to the (N, C, H, W) libcnn already has:
 * libcnn's layers read an example as C*H*W features in the same order. */
static cnn_status op_reshape(imp *m)
{
    static const char *const known[] = {"allowzero", NULL};
    cnn_status st = imp_attrs_known(m, known);
    const Onnx__TensorProto *t = NULL;
    int64_t shape[4], allowzero;
    size_t n = 0;
    if (st == CNN_OK)
        st = imp_attr_int(m, "allowzero", 0, &allowzero);
    if (st == CNN_OK)
        st = imp_input_const(m, 1, &t);
    if (st == CNN_OK && !t)
        st = imp_refuse(m, CNN_ENOTSUP, "needs a constant shape");
    if (st == CNN_OK)
        st = imp_int64s(m, t, 4, shape, &n);
    if (st == CNN_OK)
        st = imp_flush(m);
    if (st != CNN_OK)
        return st;
    const bool batch = n >= 2 && (shape[0] == -1 || (shape[0] == 0 && !allowzero));
    if (batch && n == 2 && (shape[1] == features(m) || (shape[1] == -1 && shape[0] == 0))) {
        m->rank = 2;
        return CNN_OK;
    }
    if (batch && n == 4 && shape[1] == m->shape[0] && shape[2] == m->shape[1] &&
        shape[3] == m->shape[2]) {
        m->rank = 4;
        return CNN_OK;
    }
    return imp_refuse(m, CNN_ENOTSUP, "only (-1, %d) or (-1, %d, %d, %d) supported: libcnn's "
                      "tensor is %dx%dx%d per example", features(m), m->shape[0], m->shape[1],
                      m->shape[2], m->shape[0], m->shape[1], m->shape[2]);
}

/* Dropout at inference is the identity (ONNX's and PyTorch's are inverted
 * dropout, scaled at training time). */
static cnn_status op_dropout(imp *m)
{
    static const char *const known[] = {"ratio", "seed", "is_test", NULL};
    cnn_status st = imp_attrs_known(m, known);
    if (st == CNN_OK)
        st = one_output(m);
    const Onnx__TensorProto *t = NULL;
    if (st == CNN_OK)
        st = imp_input_const(m, 2, &t);
    if (st == CNN_OK && t) {
        /* training_mode is a bool tensor: accept only a constant false. */
        const bool raw = t->has_raw_data && t->raw_data.len == 1;
        if ((t->has_data_type && t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__BOOL) ||
            !(raw ? t->raw_data.data[0] == 0 : t->n_int32_data == 1 && t->int32_data[0] == 0))
            st = imp_refuse(m, CNN_ENOTSUP, "training_mode must be a constant false");
    }
    return st;
}

/* A no-op, except that libcnn writes an identity activation layer as
 * Identity: it stays a layer, so a re-export is the same. */
/* Pad by zero everywhere (PyTorch writes one before AveragePool at opset
 * 11) is the identity; any real padding is refused. */
static cnn_status op_pad(imp *m)
{
    static const char *const known[] = {"mode", "pads", "value", NULL};
    cnn_status st = imp_attrs_known(m, known);
    int64_t pads[8] = {0};
    size_t n = 0;
    const Onnx__AttributeProto *a = st == CNN_OK ? imp_attr(m, "pads") : NULL;
    const Onnx__TensorProto *t = NULL;
    if (a) { /* before opset 11: an attribute */
        n = a->n_ints <= 8 ? a->n_ints : 0;
        if (a->n_ints > 8)
            st = imp_refuse(m, CNN_ENOTSUP, "%zu pads", a->n_ints);
        else
            memcpy(pads, a->ints, n * sizeof *pads);
    } else if (st == CNN_OK && (st = imp_input_const(m, 1, &t)) == CNN_OK && t) {
        st = imp_int64s(m, t, 8, pads, &n);
    }
    if (st == CNN_OK && m->n->n_input > 3)
        st = imp_refuse(m, CNN_ENOTSUP, "axes not supported");
    for (size_t i = 0; st == CNN_OK && i < n; i++)
        if (pads[i] != 0)
            st = imp_refuse(m, CNN_ENOTSUP, "non-zero padding not supported");
    return st;
}

static cnn_status op_identity(imp *m)
{
    static const char *const known[] = {NULL};
    cnn_status st = imp_attrs_known(m, known);
    cnn_layer *l;
    if (st == CNN_OK && imp_libcnn_layer(m) && (st = imp_flush(m)) == CNN_OK &&
        (st = cnn_activation_create(CNN_ACT_IDENTITY, &l)) == CNN_OK)
        st = imp_add(m, l, NULL, NULL, NULL);
    return st;
}

static const struct {
    const char *op;
    cnn_status (*fn)(imp *m);
} ops[] = {
    {"Conv", op_conv},
    {"MaxPool", op_maxpool},
    {"AveragePool", op_avgpool},
    {"LpPool", op_lppool},
    {"GlobalAveragePool", op_gap},
    {"Relu", op_relu},
    {"Sigmoid", op_sigmoid},
    {"Tanh", op_tanh},
    {"Add", op_add},
    {"Gemm", op_gemm},
    {"MatMul", op_matmul},
    {"Softmax", op_softmax},
    {"LogSoftmax", op_softmax},
    {"BatchNormalization", op_batchnorm},
    {"Flatten", op_flatten},
    {"Reshape", op_reshape},
    {"Dropout", op_dropout},
    {"Pad", op_pad},
    {"Identity", op_identity},
};

cnn_status imp_node(imp *m)
{
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(ops[i].op, m->n->op_type) == 0)
            return ops[i].fn(m);
    return imp_refuse(m, CNN_ENOTSUP, "op '%.64s' not supported", m->n->op_type);
}
