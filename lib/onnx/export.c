/* Writing a network as an ONNX model (opset 13).
 *
 * The graph is a chain: one tensor flows from "input" to "output", and each
 * layer appends the nodes that compute exactly what its inference forward
 * computes.  Each kind has one emitter in the table at the end; a kind
 * without one is refused by name rather than written wrongly.  Spatial
 * layers want a rank-4 tensor (N, C, H, W) and dense layers a rank-2 one
 * (N, F): the builder tracks the rank and inserts Flatten or Reshape where
 * the chain changes between them, which is how libcnn itself reads a
 * (C, H, W) example as C*H*W features. */
#include "onnx/onnx.h"
#include "io/model_format.h"
#include "layers/layer.h"
#include "net/net.h"

#include <stdio.h>
#include <string.h>

/* Nodes and initializers per layer at most: Reshape or Flatten, Conv,
 * pool, Add, activation; weights, biases, two statistics, a shape. */
#define MAX_PER_LAYER 6
#define MAX_ATTRS 6

typedef struct gb {
    cnn_arena *a;
    Onnx__NodeProto **nodes;
    size_t n_nodes, cap;
    Onnx__TensorProto **inits;
    size_t n_inits;
    const char *cur;  /* the tensor the chain has reached */
    int rank;         /* its rank: 4 (N, C, H, W) or 2 (N, F) */
    int32_t shape[3]; /* its libcnn shape (C, H, W); (F, 1, 1) when rank 2 */
    int32_t layer;    /* the layer being written, for names */
    bool oom;
} gb;

static void *alloc(gb *g, size_t count, size_t size)
{
    void *p = cnn_arena_alloc(g->a, count, size);
    if (!p)
        g->oom = true;
    return p;
}

static char *str(gb *g, const char *s)
{
    char *p = cnn_arena_strdup(g->a, s);
    if (!p)
        g->oom = true;
    return p;
}

/* Appends node `op` with inputs in[0..n_in) (in[0] NULL = the current
 * tensor) and one output, which becomes the current tensor. */
static Onnx__NodeProto *node(gb *g, const char *op, const char *const *in, size_t n_in)
{
    Onnx__NodeProto *n = alloc(g, 1, sizeof *n);
    char **ins = alloc(g, n_in, sizeof *ins);
    char **outs = alloc(g, 1, sizeof *outs);
    Onnx__AttributeProto **attrs = alloc(g, MAX_ATTRS, sizeof *attrs);
    if (g->oom || g->n_nodes == g->cap)
        return NULL;
    onnx__node_proto__init(n);
    for (size_t i = 0; i < n_in; i++)
        ins[i] = i == 0 && !in[0] ? (char *)g->cur : str(g, in[i]);
    char name[96];
    snprintf(name, sizeof name, "layer%d_%s", (int)g->layer, op);
    outs[0] = str(g, name);
    n->name = str(g, name);
    n->op_type = str(g, op);
    n->input = ins;
    n->n_input = n_in;
    n->output = outs;
    n->n_output = 1;
    n->attribute = attrs;
    g->nodes[g->n_nodes++] = n;
    g->cur = outs[0];
    return n;
}

static Onnx__AttributeProto *attr(gb *g, Onnx__NodeProto *n, const char *name,
                                  Onnx__AttributeProto__AttributeType type)
{
    Onnx__AttributeProto *a = alloc(g, 1, sizeof *a);
    if (!a || !n || n->n_attribute == MAX_ATTRS)
        return NULL;
    onnx__attribute_proto__init(a);
    a->name = str(g, name);
    a->has_type = true;
    a->type = type;
    n->attribute[n->n_attribute++] = a;
    return a;
}

static void attr_ints(gb *g, Onnx__NodeProto *n, const char *name, const int64_t *v, size_t count)
{
    Onnx__AttributeProto *a = attr(g, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t *ints = alloc(g, count, sizeof *ints);
    if (!a || !ints)
        return;
    memcpy(ints, v, count * sizeof *ints);
    a->ints = ints;
    a->n_ints = count;
}

static void attr_int(gb *g, Onnx__NodeProto *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = attr(g, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a) {
        a->has_i = true;
        a->i = v;
    }
}

static void attr_float(gb *g, Onnx__NodeProto *n, const char *name, float v)
{
    Onnx__AttributeProto *a = attr(g, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a) {
        a->has_f = true;
        a->f = v;
    }
}

static Onnx__TensorProto *tensor(gb *g, const char *what, int32_t type, const int64_t *dims,
                                 size_t ndims, size_t bytes)
{
    Onnx__TensorProto *t = alloc(g, 1, sizeof *t);
    int64_t *d = alloc(g, ndims, sizeof *d);
    uint8_t *raw = alloc(g, bytes, 1);
    if (g->oom)
        return NULL;
    onnx__tensor_proto__init(t);
    char name[96];
    snprintf(name, sizeof name, "layer%d_%s", (int)g->layer, what);
    t->name = str(g, name);
    memcpy(d, dims, ndims * sizeof *d);
    t->dims = d;
    t->n_dims = ndims;
    t->has_data_type = true;
    t->data_type = type;
    t->has_raw_data = true;
    t->raw_data.data = raw;
    t->raw_data.len = bytes;
    g->inits[g->n_inits++] = t;
    return t;
}

/* A float32 initializer; raw_data is little-endian whatever the host. */
static const char *init_f32(gb *g, const char *what, const int64_t *dims, size_t ndims,
                            const float *v)
{
    int64_t count = 1;
    for (size_t i = 0; i < ndims; i++)
        count *= dims[i];
    Onnx__TensorProto *t = tensor(g, what, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, dims, ndims,
                                  (size_t)count * 4);
    if (!t)
        return "";
    for (int64_t i = 0; i < count; i++)
        cnnm_put_u32(t->raw_data.data + 4 * i, cnnm_float_bits(v[i]));
    return t->name;
}

static const char *init_i64(gb *g, const char *what, const int64_t *v, int64_t count)
{
    Onnx__TensorProto *t = tensor(g, what, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, &count, 1,
                                  (size_t)count * 8);
    if (!t)
        return "";
    for (int64_t i = 0; i < count; i++)
        cnnm_put_u64(t->raw_data.data + 8 * i, (uint64_t)v[i]);
    return t->name;
}

/* ---- shape changes between spatial and dense layers --------------------- */

static void to_spatial(gb *g)
{
    if (g->rank == 4)
        return;
    const int64_t shape[4] = {-1, g->shape[0], g->shape[1], g->shape[2]};
    const char *in[2] = {NULL, init_i64(g, "shape", shape, 4)};
    node(g, "Reshape", in, 2);
    g->rank = 4;
}

static void to_flat(gb *g)
{
    if (g->rank == 2)
        return;
    const char *in[1] = {NULL};
    attr_int(g, node(g, "Flatten", in, 1), "axis", 1);
    g->rank = 2;
}

static void activation(gb *g, int32_t act)
{
    static const char *const ops[] = {
        [CNN_ACT_SIGMOID] = "Sigmoid", [CNN_ACT_TANH] = "Tanh", [CNN_ACT_RELU] = "Relu"};
    const char *in[1] = {NULL};
    if (act != CNN_ACT_IDENTITY)
        node(g, ops[act], in, 1);
}

/* MaxPool, AveragePool or LpPool (p = 2), no padding, floor. */
static void pool(gb *g, int32_t mode, int32_t win_h, int32_t win_w, int32_t st_h, int32_t st_w)
{
    static const char *const ops[] = {
        [CNN_POOL_MAX] = "MaxPool", [CNN_POOL_AVG] = "AveragePool", [CNN_POOL_L2] = "LpPool"};
    const char *in[1] = {NULL};
    Onnx__NodeProto *n = node(g, ops[mode], in, 1);
    const int64_t k[2] = {win_h, win_w}, s[2] = {st_h, st_w};
    attr_ints(g, n, "kernel_shape", k, 2);
    attr_ints(g, n, "strides", s, 2);
    if (mode == CNN_POOL_L2)
        attr_int(g, n, "p", 2);
}

/* ---- one emitter per kind ------------------------------------------------ */

/* network3's ConvPoolLayer order, node for node: Conv (no bias), pool, Add
 * of the bias per channel, activation.  Without pooling the bias goes into
 * the Conv. */
static void emit_conv2d(gb *g, const cnn_layer *l)
{
    const cnn_conv2d_params *p = l->params;
    to_spatial(g);
    const int64_t pad_h = p->padding == CNN_PAD_SAME ? (p->kernel_h - 1) / 2 : p->pad_h;
    const int64_t pad_w = p->padding == CNN_PAD_SAME ? (p->kernel_w - 1) / 2 : p->pad_w;
    const bool pooled = p->pool != CNN_POOL_NONE;
    const int64_t c = p->out_channels;
    const char *in[3] = {NULL, init_f32(g, "W", l->w_shape, 4, l->w), NULL};
    if (!pooled)
        in[2] = init_f32(g, "B", &c, 1, l->b);
    Onnx__NodeProto *n = node(g, "Conv", in, pooled ? 2 : 3);
    const int64_t k[2] = {p->kernel_h, p->kernel_w}, s[2] = {p->stride_h, p->stride_w};
    const int64_t pads[4] = {pad_h, pad_w, pad_h, pad_w}, ones[2] = {1, 1};
    attr_ints(g, n, "kernel_shape", k, 2);
    attr_ints(g, n, "strides", s, 2);
    attr_ints(g, n, "pads", pads, 4);
    attr_ints(g, n, "dilations", ones, 2);
    attr_int(g, n, "group", 1);
    if (pooled) {
        pool(g, p->pool, p->pool_h, p->pool_w, p->pool_h, p->pool_w);
        const int64_t bdims[3] = {c, 1, 1};
        const char *add[2] = {NULL, init_f32(g, "B", bdims, 3, l->b)};
        node(g, "Add", add, 2);
    }
    activation(g, p->activation);
}

static void emit_pool2d(gb *g, const cnn_layer *l)
{
    const cnn_pool2d_params *p = l->params;
    to_spatial(g);
    pool(g, p->mode, p->window_h, p->window_w, p->stride_h, p->stride_w);
}

/* Gemm computes alpha*x*W^T + b: alpha = 1-p is network3's inference-time
 * dropout, exactly where libcnn applies it (to the product, before the
 * bias). */
static void affine(gb *g, const cnn_layer *l, float dropout)
{
    to_flat(g);
    const char *in[3] = {NULL, init_f32(g, "W", l->w_shape, 2, l->w),
                         init_f32(g, "B", &l->w_shape[0], 1, l->b)};
    Onnx__NodeProto *n = node(g, "Gemm", in, 3);
    attr_int(g, n, "transB", 1);
    if (dropout > 0.0f)
        attr_float(g, n, "alpha", 1.0f - dropout);
}

static void emit_dense(gb *g, const cnn_layer *l)
{
    const cnn_dense_params *p = l->params;
    affine(g, l, p->dropout);
    activation(g, p->activation);
}

static void emit_softmax(gb *g, const cnn_layer *l)
{
    const cnn_softmax_params *p = l->params;
    affine(g, l, p->dropout);
    const char *in[1] = {NULL};
    attr_int(g, node(g, "Softmax", in, 1), "axis", 1);
}

static void emit_activation(gb *g, const cnn_layer *l)
{
    const int32_t act = cnn_activation_function(l);
    const char *in[1] = {NULL};
    if (act == CNN_ACT_IDENTITY)
        node(g, "Identity", in, 1);
    else
        activation(g, act);
}

/* Inference form: the running statistics.  ONNX's momentum weighs the old
 * running value, libcnn's (PyTorch's) the new batch: m_onnx = 1 - m. */
static void emit_batchnorm(gb *g, const cnn_layer *l)
{
    const cnn_batchnorm_params *p = l->params;
    const int64_t c = p->channels;
    const char *in[5] = {NULL, init_f32(g, "scale", &c, 1, l->w), init_f32(g, "B", &c, 1, l->b),
                         init_f32(g, "mean", &c, 1, l->state),
                         init_f32(g, "var", &c, 1, l->state + c)};
    Onnx__NodeProto *n = node(g, "BatchNormalization", in, 5);
    attr_float(g, n, "epsilon", p->epsilon);
    attr_float(g, n, "momentum", 1.0f - p->momentum);
}

static void emit_gap(gb *g, const cnn_layer *l)
{
    (void)l;
    to_spatial(g);
    const char *in[1] = {NULL};
    node(g, "GlobalAveragePool", in, 1);
}

static const struct {
    int32_t kind;
    void (*emit)(gb *g, const cnn_layer *l);
} emitters[] = {
    {CNN_LAYER_CONV2D, emit_conv2d},       {CNN_LAYER_POOL2D, emit_pool2d},
    {CNN_LAYER_DENSE, emit_dense},         {CNN_LAYER_SOFTMAX, emit_softmax},
    {CNN_LAYER_ACTIVATION, emit_activation}, {CNN_LAYER_BATCHNORM, emit_batchnorm},
    {CNN_LAYER_GLOBAL_AVG_POOL, emit_gap},
};

/* ---- the model ----------------------------------------------------------- */

/* A float32 tensor type (N, dims...) with a symbolic batch dimension. */
static Onnx__ValueInfoProto *value_info(gb *g, const char *name, const int32_t *dims, int rank)
{
    Onnx__ValueInfoProto *v = alloc(g, 1, sizeof *v);
    Onnx__TypeProto *t = alloc(g, 1, sizeof *t);
    Onnx__TypeProto__Tensor *tt = alloc(g, 1, sizeof *tt);
    Onnx__TensorShapeProto *s = alloc(g, 1, sizeof *s);
    Onnx__TensorShapeProto__Dimension **d = alloc(g, (size_t)rank, sizeof *d);
    if (g->oom)
        return NULL;
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(t);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(s);
    for (int i = 0; i < rank; i++) {
        d[i] = alloc(g, 1, sizeof *d[i]);
        if (!d[i])
            return NULL;
        onnx__tensor_shape_proto__dimension__init(d[i]);
        if (i == 0) {
            d[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d[i]->dim_param = str(g, "N");
        } else {
            d[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d[i]->dim_value = dims[i - 1];
        }
    }
    s->dim = d;
    s->n_dim = (size_t)rank;
    tt->has_elem_type = true;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = s;
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->tensor_type = tt;
    v->name = str(g, name);
    v->type = t;
    return v;
}

static cnn_status build(gb *g, const cnn_net *net, const char *who, Onnx__ModelProto *m)
{
    g->cap = (size_t)net->n_layers * MAX_PER_LAYER;
    g->nodes = alloc(g, g->cap, sizeof *g->nodes);
    g->inits = alloc(g, g->cap, sizeof *g->inits);
    g->cur = "input";
    g->rank = 4;
    memcpy(g->shape, net->in, sizeof g->shape);
    for (int32_t i = 0; i < net->n_layers && !g->oom; i++) {
        const cnn_layer *l = net->layers[i];
        size_t k = 0;
        while (k < sizeof emitters / sizeof emitters[0] && emitters[k].kind != l->ops->kind)
            k++;
        if (k == sizeof emitters / sizeof emitters[0])
            return cnn_fail(CNN_ENOTSUP, "%s: layer %d: no ONNX form for a %s layer", who, (int)i,
                            l->ops->name);
        g->layer = i;
        emitters[k].emit(g, l);
        memcpy(g->shape, net->shapes[i], sizeof g->shape);
    }
    if (g->oom)
        return cnn_fail(CNN_ENOMEM, "%s: out of memory building the ONNX graph", who);
    /* The last node's output is the graph's output. */
    Onnx__NodeProto *last = g->nodes[g->n_nodes - 1];
    last->output[0] = str(g, "output");

    Onnx__GraphProto *graph = alloc(g, 1, sizeof *graph);
    Onnx__OperatorSetIdProto *opset = alloc(g, 1, sizeof *opset);
    Onnx__OperatorSetIdProto **opsets = alloc(g, 1, sizeof *opsets);
    Onnx__ValueInfoProto **ins = alloc(g, 1, sizeof *ins);
    Onnx__ValueInfoProto **outs = alloc(g, 1, sizeof *outs);
    if (g->oom)
        return cnn_fail(CNN_ENOMEM, "%s: out of memory building the ONNX graph", who);
    ins[0] = value_info(g, "input", net->in, 4);
    outs[0] = value_info(g, "output", g->shape, g->rank == 4 ? 4 : 2);
    if (g->oom)
        return cnn_fail(CNN_ENOMEM, "%s: out of memory building the ONNX graph", who);
    onnx__graph_proto__init(graph);
    graph->name = str(g, "libcnn");
    graph->node = g->nodes;
    graph->n_node = g->n_nodes;
    graph->initializer = g->inits;
    graph->n_initializer = g->n_inits;
    graph->input = ins;
    graph->n_input = 1;
    graph->output = outs;
    graph->n_output = 1;
    onnx__operator_set_id_proto__init(opset);
    opset->domain = str(g, "");
    opset->has_version = true;
    opset->version = CNN_ONNX_OPSET;
    opsets[0] = opset;
    m->has_ir_version = true;
    m->ir_version = CNN_ONNX_IR_VERSION;
    m->opset_import = opsets;
    m->n_opset_import = 1;
    m->producer_name = str(g, "libcnn");
    m->producer_version = str(g, cnn_version_string());
    m->graph = graph;
    return g->oom ? cnn_fail(CNN_ENOMEM, "%s: out of memory building the ONNX graph", who)
                  : CNN_OK;
}

cnn_status cnn_onnx_export(const cnn_net *net, const char *who, uint8_t **out, size_t *size)
{
    *out = NULL;
    *size = 0;
    if (net->n_layers < 1)
        return cnn_fail(CNN_EINVAL, "%s: the network has no layers", who);
    gb g = {.a = cnn_arena_create()};
    if (!g.a)
        return cnn_fail(CNN_ENOMEM, "%s: out of memory", who);
    Onnx__ModelProto m;
    onnx__model_proto__init(&m);
    cnn_status st = build(&g, net, who, &m);
    if (st == CNN_OK) {
        size_t n = onnx__model_proto__get_packed_size(&m);
        uint8_t *buf = n <= CNN_ONNX_MAX_BYTES ? cnn_alloc(n ? n : 1) : NULL;
        if (n > CNN_ONNX_MAX_BYTES)
            st = cnn_fail(CNN_EINVAL, "%s: the model would be %zu bytes, more than ONNX's 2 GiB",
                          who, n);
        else if (!buf)
            st = cnn_fail(CNN_ENOMEM, "%s: out of memory for %zu bytes", who, n);
        else {
            onnx__model_proto__pack(&m, buf);
            *out = buf;
            *size = n;
        }
    }
    cnn_arena_destroy(g.a);
    return st;
}
