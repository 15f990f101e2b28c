/* Reading an ONNX model into a network: the model and graph checks, the
 * constants, the input, the chain walk, and the helpers the op handlers
 * (import_ops.c) read attributes and tensors with.  Every count and size
 * from the file is checked before it is used to allocate or index. */
#include "onnx/import.h"
#include "io/model_format.h"
#include "layers/layer.h"
#include "net/net.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cnn_status imp_refuse(imp *m, cnn_status st, const char *fmt, ...)
{
    char why[CNN_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    const char *name = m->n && m->n->name ? m->n->name : "";
    const char *op = m->n && m->n->op_type ? m->n->op_type : "";
    return cnn_fail(st, "onnx: node %zu '%.64s' (%.32s): %s", m->ni, name, op, why);
}

/* ---- attributes ----------------------------------------------------------- */

const Onnx__AttributeProto *imp_attr(const imp *m, const char *name)
{
    for (size_t i = 0; i < m->n->n_attribute; i++) {
        const Onnx__AttributeProto *a = m->n->attribute[i];
        if (a->name && strcmp(a->name, name) == 0)
            return a;
    }
    return NULL;
}

cnn_status imp_attrs_known(imp *m, const char *const *known)
{
    for (size_t i = 0; i < m->n->n_attribute; i++) {
        const char *name = m->n->attribute[i]->name ? m->n->attribute[i]->name : "";
        size_t k = 0;
        while (known[k] && strcmp(known[k], name) != 0)
            k++;
        if (!known[k])
            return imp_refuse(m, CNN_ENOTSUP, "attribute '%.64s' not supported", name);
    }
    return CNN_OK;
}

/* An attribute's type: the field when set, else guessed from what it holds
 * (IR versions before 3 may leave it out). */
static bool is_type(const Onnx__AttributeProto *a, Onnx__AttributeProto__AttributeType t,
                    bool held)
{
    return a->has_type ? a->type == t : held;
}

cnn_status imp_attr_int(imp *m, const char *name, int64_t def, int64_t *out)
{
    const Onnx__AttributeProto *a = imp_attr(m, name);
    *out = def;
    if (!a)
        return CNN_OK;
    if (!is_type(a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT, a->has_i))
        return imp_refuse(m, CNN_EFORMAT, "attribute '%s' is not an integer", name);
    *out = a->i;
    return CNN_OK;
}

cnn_status imp_attr_float(imp *m, const char *name, float def, float *out)
{
    const Onnx__AttributeProto *a = imp_attr(m, name);
    *out = def;
    if (!a)
        return CNN_OK;
    if (!is_type(a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, a->has_f))
        return imp_refuse(m, CNN_EFORMAT, "attribute '%s' is not a float", name);
    *out = a->f;
    return CNN_OK;
}

cnn_status imp_attr_ints(imp *m, const char *name, size_t count, int64_t *out, bool *found)
{
    const Onnx__AttributeProto *a = imp_attr(m, name);
    *found = a != NULL;
    if (!a)
        return CNN_OK;
    if (!is_type(a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS, a->n_ints > 0))
        return imp_refuse(m, CNN_EFORMAT, "attribute '%s' is not a list of integers", name);
    if (a->n_ints != count)
        return imp_refuse(m, CNN_ENOTSUP, "attribute '%s' has %zu values, expected %zu (2-D "
                          "only)", name, a->n_ints, count);
    memcpy(out, a->ints, count * sizeof *out);
    return CNN_OK;
}

/* ---- constants ------------------------------------------------------------ */

static const Onnx__TensorProto *find_const(const imp *m, const char *name)
{
    for (size_t i = 0; i < m->n_consts; i++)
        if (strcmp(m->consts[i].name, name) == 0)
            return m->consts[i].t;
    return NULL;
}

cnn_status imp_input_const(imp *m, size_t k, const Onnx__TensorProto **out)
{
    *out = NULL;
    if (k >= m->n->n_input || !m->n->input[k][0])
        return CNN_OK;
    *out = find_const(m, m->n->input[k]);
    if (!*out)
        return imp_refuse(m, CNN_ENOTSUP, "input %zu '%.64s' is not a constant (libcnn imports "
                          "a chain whose weights are initializers)", k, m->n->input[k]);
    return CNN_OK;
}

static const char *type_name(int32_t t)
{
    static const char *const names[] = {
        "undefined", "float32", "uint8", "int8", "uint16", "int16", "int32", "int64",
        "string", "bool", "float16", "float64", "uint32", "uint64", "complex64",
        "complex128", "bfloat16"};
    return t >= 0 && t < (int32_t)(sizeof names / sizeof names[0]) ? names[t] : "unknown";
}

/* dims and element count of t, and where its elements are: raw_data
 * (elem bytes each, little-endian) or the typed field of n_typed values. */
static cnn_status tensor_shape(imp *m, const Onnx__TensorProto *t, int32_t type, size_t elem,
                               size_t n_typed, int64_t dims[IMP_MAX_RANK], size_t *ndims,
                               size_t *count)
{
    const char *name = t->name ? t->name : "";
    int32_t have = t->has_data_type ? t->data_type : 0;
    if (have != type)
        return imp_refuse(m, CNN_ENOTSUP, "tensor '%.64s' is %s, not %s", name, type_name(have),
                          type_name(type));
    if (t->n_external_data || (t->has_data_location &&
                               t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL))
        return imp_refuse(m, CNN_ENOTSUP, "tensor '%.64s' has external data (not supported)",
                          name);
    if (t->segment)
        return imp_refuse(m, CNN_ENOTSUP, "tensor '%.64s' is segmented (not supported)", name);
    if (t->n_dims > IMP_MAX_RANK)
        return imp_refuse(m, CNN_ENOTSUP, "tensor '%.64s' has rank %zu", name, t->n_dims);
    uint64_t n = 1;
    for (size_t i = 0; i < t->n_dims; i++) {
        if (t->dims[i] < 0 || t->dims[i] > CNN_MAX_PARAMS)
            return imp_refuse(m, CNN_EFORMAT, "tensor '%.64s' has dimension %lld", name,
                              (long long)t->dims[i]);
        n *= (uint64_t)t->dims[i];
        if (n > CNN_MAX_PARAMS)
            return imp_refuse(m, CNN_ENOTSUP, "tensor '%.64s' has more than %lld elements", name,
                              (long long)CNN_MAX_PARAMS);
        dims[i] = t->dims[i];
    }
    *ndims = t->n_dims;
    *count = (size_t)n;
    const bool raw = t->has_raw_data && t->raw_data.len > 0;
    if (raw ? t->raw_data.len != n * elem || n_typed : n_typed != n)
        return imp_refuse(m, CNN_EFORMAT, "tensor '%.64s' holds %zu %s, its dims say %zu", name,
                          raw ? t->raw_data.len : n_typed, raw ? "bytes" : "values",
                          (size_t)(raw ? n * elem : n));
    return CNN_OK;
}

cnn_status imp_floats(imp *m, const Onnx__TensorProto *t, int64_t dims[IMP_MAX_RANK],
                      size_t *ndims, float **out)
{
    size_t count = 0;
    *out = NULL;
    cnn_status st = tensor_shape(m, t, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 4, t->n_float_data,
                                 dims, ndims, &count);
    if (st != CNN_OK)
        return st;
    float *v = cnn_alloc_array(count ? count : 1, sizeof *v);
    if (!v)
        return imp_refuse(m, CNN_ENOMEM, "out of memory for %zu weights", count);
    for (size_t i = 0; i < count; i++)
        v[i] = t->n_float_data ? t->float_data[i]
                               : cnnm_bits_float(cnnm_get_u32(t->raw_data.data + 4 * i));
    *out = v;
    return CNN_OK;
}

cnn_status imp_int64s(imp *m, const Onnx__TensorProto *t, size_t max, int64_t *out,
                      size_t *count)
{
    int64_t dims[IMP_MAX_RANK];
    size_t ndims = 0;
    *count = 0;
    cnn_status st = tensor_shape(m, t, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 8, t->n_int64_data,
                                 dims, &ndims, count);
    if (st != CNN_OK)
        return st;
    if (*count > max)
        return imp_refuse(m, CNN_ENOTSUP, "tensor '%.64s' has %zu values, at most %zu expected",
                          t->name ? t->name : "", *count, max);
    for (size_t i = 0; i < *count; i++)
        out[i] = t->n_int64_data ? t->int64_data[i]
                                 : (int64_t)cnnm_get_u64(t->raw_data.data + 8 * i);
    return CNN_OK;
}

/* ---- building the network -------------------------------------------------- */

cnn_status imp_add(imp *m, cnn_layer *layer, float *w, float *b, const float *state)
{
    cnn_status st = cnn_net_add(m->net, layer);
    if (st != CNN_OK) {
        cnn_layer_destroy(layer);
        cnn_dealloc(w);
        cnn_dealloc(b);
        return imp_refuse(m, st, "%s", cnn_net_errmsg(m->net));
    }
    if (w)
        memcpy(layer->w, w, (size_t)layer->n_weights * sizeof *w);
    if (b)
        memcpy(layer->b, b, (size_t)layer->n_biases * sizeof *b);
    else if (layer->n_biases)
        memset(layer->b, 0, (size_t)layer->n_biases * sizeof *layer->b);
    if (state)
        memcpy(layer->state, state, (size_t)layer->n_state * sizeof *state);
    cnn_dealloc(w);
    cnn_dealloc(b);
    memcpy(m->shape, m->net->shapes[m->net->n_layers - 1], sizeof m->shape);
    if (layer->ops->is_output)
        m->ended = true;
    return CNN_OK;
}

/* The layer index in a libcnn node name "layer<K>_<Op>", or -1. */
static long layer_tag(const Onnx__NodeProto *n)
{
    const char *s = n && n->name ? n->name : "";
    if (strncmp(s, "layer", 5) != 0)
        return -1;
    char *end;
    long k = strtol(s + 5, &end, 10);
    return end != s + 5 && *end == '_' && k >= 0 ? k : -1;
}

bool imp_same_layer(const imp *m)
{
    return !m->libcnn || layer_tag(m->n) == layer_tag(m->p.n);
}

bool imp_libcnn_layer(const imp *m)
{
    return m->libcnn && layer_tag(m->n) >= 0;
}

cnn_status imp_flush(imp *m)
{
    imp_pending *p = &m->p;
    cnn_layer *layer = NULL;
    cnn_status st = CNN_OK;
    if (p->kind == PEND_NONE)
        return CNN_OK;
    if (p->kind == PEND_CONV) {
        p->conv.activation = p->act;
        st = cnn_conv2d_create(&p->conv, &layer);
    } else {
        cnn_dense_params d;
        cnn_dense_params_init(&d, p->out_features);
        d.in_features = p->in_features;
        d.activation = p->act;
        d.dropout = p->dropout;
        st = cnn_dense_create(&d, &layer);
    }
    float *w = p->w, *b = p->b;
    /* Messages name the node that opened the layer. */
    const size_t ni = m->ni;
    const Onnx__NodeProto *n = m->n;
    m->ni = p->ni;
    m->n = p->n;
    memset(p, 0, sizeof *p);
    if (st != CNN_OK) {
        cnn_dealloc(w);
        cnn_dealloc(b);
        st = imp_refuse(m, st, "%s", cnn_last_error());
    } else {
        st = imp_add(m, layer, w, b, NULL);
    }
    if (st == CNN_OK) {
        m->ni = ni;
        m->n = n;
    }
    return st;
}

/* ---- the model, its input and the walk -------------------------------------- */

static cnn_status check_model(imp *m, const Onnx__ModelProto *model)
{
    m->opset = -1;
    for (size_t i = 0; i < model->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = model->opset_import[i];
        if (!o->domain || !o->domain[0] || strcmp(o->domain, "ai.onnx") == 0)
            m->opset = o->has_version ? o->version : 0;
    }
    if (m->opset == -1 && model->n_opset_import == 0)
        m->opset = 1; /* IR version 1 had no opset_import */
    if (m->opset < CNN_ONNX_OPSET_MIN || m->opset > CNN_ONNX_OPSET_MAX)
        return cnn_fail(CNN_ENOTSUP, "onnx: opset %lld of the default domain not supported "
                        "(%d to %d are)", (long long)m->opset, CNN_ONNX_OPSET_MIN,
                        CNN_ONNX_OPSET_MAX);
    if (!model->graph)
        return cnn_fail(CNN_EFORMAT, "onnx: the model has no graph");
    m->g = model->graph;
    m->libcnn = model->producer_name && strcmp(model->producer_name, "libcnn") == 0;
    /* Names are looked up linearly: bounding the counts bounds the time. */
    if (m->g->n_node > IMP_MAX_NODES || m->g->n_initializer > IMP_MAX_CONSTS ||
        m->g->n_input > IMP_MAX_CONSTS)
        return cnn_fail(CNN_ENOTSUP, "onnx: %zu nodes, %zu initializers and %zu inputs, more "
                        "than %d each", m->g->n_node, m->g->n_initializer, m->g->n_input,
                        IMP_MAX_NODES);
    if (m->g->n_sparse_initializer)
        return cnn_fail(CNN_ENOTSUP, "onnx: sparse initializers not supported");
    return CNN_OK;
}

/* Initializers and Constant nodes' values, by name. */
static cnn_status collect_consts(imp *m)
{
    const Onnx__GraphProto *g = m->g;
    m->consts = cnn_alloc_array(g->n_initializer + g->n_node + 1, sizeof *m->consts);
    if (!m->consts)
        return cnn_fail(CNN_ENOMEM, "onnx: out of memory");
    for (size_t i = 0; i < g->n_initializer; i++) {
        if (!g->initializer[i]->name || !g->initializer[i]->name[0])
            return cnn_fail(CNN_EFORMAT, "onnx: initializer %zu has no name", i);
        m->consts[m->n_consts++] = (imp_const){g->initializer[i]->name, g->initializer[i]};
    }
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *n = g->node[i];
        if (!n->op_type || strcmp(n->op_type, "Constant") != 0)
            continue;
        m->ni = i;
        m->n = n;
        const Onnx__AttributeProto *a = imp_attr(m, "value");
        if (n->n_attribute != 1 || !a || !a->t)
            return imp_refuse(m, CNN_ENOTSUP, "only a Constant with one tensor 'value' is "
                              "supported");
        if (n->n_output != 1 || !n->output[0][0])
            return imp_refuse(m, CNN_EFORMAT, "a Constant needs one named output");
        m->consts[m->n_consts++] = (imp_const){n->output[0], a->t};
    }
    return CNN_OK;
}

/* The one graph input that is not a constant: float32 (N, C, H, W) or
 * (N, F), fixed except N. */
static cnn_status read_input(imp *m, int32_t in[3])
{
    const Onnx__ValueInfoProto *v = NULL;
    for (size_t i = 0; i < m->g->n_input; i++) {
        const Onnx__ValueInfoProto *x = m->g->input[i];
        if (!x->name || find_const(m, x->name))
            continue;
        if (v)
            return cnn_fail(CNN_ENOTSUP, "onnx: graph inputs '%.64s' and '%.64s': libcnn nets "
                            "have one input", v->name, x->name);
        v = x;
    }
    if (!v)
        return cnn_fail(CNN_EFORMAT, "onnx: the graph has no input");
    const Onnx__TypeProto *t = v->type;
    if (!t || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !t->tensor_type)
        return cnn_fail(CNN_ENOTSUP, "onnx: input '%.64s' is not a tensor", v->name);
    const int32_t et = t->tensor_type->has_elem_type ? t->tensor_type->elem_type : 0;
    if (et != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
        return cnn_fail(CNN_ENOTSUP, "onnx: input '%.64s' is %s, not float32", v->name,
                        type_name(et));
    const Onnx__TensorShapeProto *s = t->tensor_type->shape;
    if (!s || (s->n_dim != 4 && s->n_dim != 2))
        return cnn_fail(CNN_ENOTSUP, "onnx: input '%.64s' must have rank 4 (N, C, H, W) or 2 "
                        "(N, F), not %s", v->name, s ? "another rank" : "an unknown shape");
    in[1] = in[2] = 1;
    for (size_t i = 1; i < s->n_dim; i++) {
        const Onnx__TensorShapeProto__Dimension *d = s->dim[i];
        if (d->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE)
            return cnn_fail(CNN_ENOTSUP, "onnx: input '%.64s': dynamic dimension '%.32s' at "
                            "axis %zu: libcnn needs fixed sizes except the batch", v->name,
                            d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM
                                && d->dim_param ? d->dim_param : "?", i);
        if (d->dim_value < 1 || d->dim_value > CNN_MAX_DIM)
            return cnn_fail(CNN_ENOTSUP, "onnx: input '%.64s': dimension %lld at axis %zu "
                            "outside 1..%d", v->name, (long long)d->dim_value, i, CNN_MAX_DIM);
        in[i - 1] = (int32_t)d->dim_value;
    }
    m->cur = v->name;
    m->rank = (int)s->n_dim;
    memcpy(m->shape, in, sizeof m->shape);
    return CNN_OK;
}

static cnn_status walk(imp *m)
{
    for (size_t i = 0; i < m->g->n_node; i++) {
        const Onnx__NodeProto *n = m->g->node[i];
        m->ni = i;
        m->n = n;
        if (!n->op_type)
            return imp_refuse(m, CNN_EFORMAT, "no op_type");
        if (strcmp(n->op_type, "Constant") == 0)
            continue;
        if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx") != 0)
            return imp_refuse(m, CNN_ENOTSUP, "domain '%.64s' not supported", n->domain);
        if (n->n_input < 1 || strcmp(n->input[0], m->cur) != 0)
            return imp_refuse(m, CNN_ENOTSUP, "does not take '%.64s', the output of the node "
                              "before it: libcnn imports a chain of layers", m->cur);
        for (size_t k = 1; k < n->n_input; k++)
            if (strcmp(n->input[k], m->cur) == 0)
                return imp_refuse(m, CNN_ENOTSUP, "uses '%.64s' twice", m->cur);
        if (n->n_output < 1 || !n->output[0][0])
            return imp_refuse(m, CNN_EFORMAT, "has no output");
        if (m->ended)
            return imp_refuse(m, CNN_ENOTSUP, "follows the softmax output layer");
        cnn_status st = imp_node(m);
        if (st != CNN_OK)
            return st;
        m->cur = n->output[0];
    }
    m->n = NULL;
    cnn_status st = imp_flush(m);
    if (st != CNN_OK)
        return st;
    if (m->net->n_layers == 0)
        return cnn_fail(CNN_ENOTSUP, "onnx: the graph has no node that makes a libcnn layer");
    if (m->g->n_output != 1 || !m->g->output[0]->name ||
        strcmp(m->g->output[0]->name, m->cur) != 0)
        return cnn_fail(CNN_ENOTSUP, "onnx: the graph must have one output, '%.64s' (the end of "
                        "the chain); it has %zu", m->cur, m->g->n_output);
    return CNN_OK;
}

cnn_status cnn_onnx_import(const char *who, const uint8_t *data, size_t size, cnn_net **out)
{
    Onnx__ModelProto *model = NULL;
    cnn_status st = cnn_onnx_unpack(who, data, size, &model);
    if (st != CNN_OK)
        return st;
    imp m = {.who = who};
    int32_t in[3];
    if ((st = check_model(&m, model)) == CNN_OK && (st = collect_consts(&m)) == CNN_OK &&
        (st = read_input(&m, in)) == CNN_OK &&
        (st = cnn_net_create(in[0], in[1], in[2], 0, &m.net)) == CNN_OK)
        st = walk(&m);
    /* Close a pending layer's buffers on failure (imp_flush owns them on success). */
    cnn_dealloc(m.p.w);
    cnn_dealloc(m.p.b);
    if (st != CNN_OK) {
        /* The message names the node; keep it but say who failed. */
        char why[CNN_ERRMSG_MAX];
        snprintf(why, sizeof why, "%s", cnn_errmsg_current());
        if (strncmp(why, who, strlen(who)) != 0)
            cnn_fail(st, "%s: %s", who, why);
        cnn_net_destroy(m.net);
    } else {
        *out = m.net;
    }
    cnn_dealloc(m.consts);
    onnx__model_proto__free_unpacked(model, NULL);
    return st;
}
