/* The chapter's experiments as data, and one builder for all of them.
 *
 * Facts (architectures, epochs, eta, lambda, reported accuracies) are from
 * chapter 6 of Michael Nielsen's "Neural Networks and Deep Learning" and its
 * program network3.py (github.com/mnielsen/neural-networks-and-deep-learning),
 * as summarised in NIELSEN.md.  Every conv layer is 5x5, stride 1, "valid",
 * with fused 2x2 max pooling (network3's ConvPoolLayer); the first has 20
 * maps, the second 40.  Weights use network3's initialisation (the library's
 * default, CNN_INIT_NETWORK3). */
#include "experiments.h"
#include "options.h"

#include <stdio.h>
#include <string.h>

#define SIG CNN_ACT_SIGMOID
#define TANH CNN_ACT_TANH
#define RELU CNN_ACT_RELU

#define N3 CNN_INIT_NETWORK3
#define HE CNN_INIT_HE

/* Recipes beyond the chapter.  Their hyperparameters were chosen on the
 * validation split (the last 10,000 training images), never on the test set:
 * docs/results.md, "Beyond the chapter", has the runs.
 * arch, optimizer, weight decay, schedule, warm-up, batch,
 * rotate, shift, scale, shear, elastic alpha, elastic sigma */
static const recipe modern_recipe = {
    ARCH_MODERN, OPTIMIZER_ADAMW, 5e-4f, CNN_SCHEDULE_ONECYCLE, 0.25f, 64,
    8.0f, 2.0f, 0.08f, 8.0f, 0.0f, 0.0f};
static const recipe deep_recipe = {
    ARCH_DEEP, OPTIMIZER_ADAMW, 5e-4f, CNN_SCHEDULE_ONECYCLE, 0.2f, 64,
    10.0f, 2.5f, 0.1f, 10.0f, 0.0f, 0.0f};
static const recipe best_recipe = {
    ARCH_MODERN, OPTIMIZER_ADAMW, 5e-4f, CNN_SCHEDULE_ONECYCLE, 0.2f, 64,
    10.0f, 2.5f, 0.1f, 10.0f, 0.0f, 0.0f};

/* name, row, reported, summary,
 * convs, fcs, units, activation, dropout, init, epochs, eta, lambda, expanded, ensemble */
static const experiment table[] = {
    /* Not in the chapter: row 6's network with He initialisation and a
     * larger eta converges in fewer epochs (network3's N(0,1) biases leave
     * many ReLU units dead at the start), reaching >= 98.5% in 3-4 epochs. */
    {"quick", "", "-",
     "row 6's network, He init, eta 0.05, 4 epochs (not in the chapter)",
     2, 1, 100, RELU, 0.0f, CNN_INIT_HE, 4, 0.05f, 0.1f, 0, 1, NULL},
    {"fc", "1", "97.80%",
     "FC 784->100 sigmoid -> softmax, 50k",
     0, 1, 100, SIG, 0.0f, N3, 60, 0.1f, 0.0f, 0, 1, NULL},
    {"conv", "2", "98.78%",
     "conv20+pool -> FC 2880->100 -> softmax, sigmoid, 50k",
     1, 1, 100, SIG, 0.0f, N3, 60, 0.1f, 0.0f, 0, 1, NULL},
    {"conv-nofc", "3", "not given",
     "conv20+pool -> softmax 2880->10, sigmoid, 50k (exercise)",
     1, 0, 0, SIG, 0.0f, N3, 60, 0.1f, 0.0f, 0, 1, NULL},
    {"conv2", "4", "99.06%",
     "conv20+pool -> conv40+pool -> FC 640->100 -> softmax, sigmoid, 50k",
     2, 1, 100, SIG, 0.0f, N3, 60, 0.1f, 0.0f, 0, 1, NULL},
    {"conv2-tanh", "5", "~ row 4",
     "row 4 with tanh, 50k",
     2, 1, 100, TANH, 0.0f, N3, 60, 0.1f, 0.0f, 0, 1, NULL},
    {"conv2-relu", "6", "99.23%",
     "row 4 with ReLU, lambda 0.1, 50k",
     2, 1, 100, RELU, 0.0f, N3, 60, 0.03f, 0.1f, 0, 1, NULL},
    {"expanded", "7", "99.37%",
     "row 6 on the 250k expanded set",
     2, 1, 100, RELU, 0.0f, N3, 60, 0.03f, 0.1f, 1, 1, NULL},
    {"expanded-fc300", "8a", "99.46%",
     "row 7 with FC 300",
     2, 1, 300, RELU, 0.0f, N3, 60, 0.03f, 0.1f, 1, 1, NULL},
    {"expanded-fc1000", "8b", "99.43%",
     "row 7 with FC 1000",
     2, 1, 1000, RELU, 0.0f, N3, 60, 0.03f, 0.1f, 1, 1, NULL},
    {"expanded-2fc100", "9a", "99.43%",
     "row 7 with two FC layers of 100",
     2, 2, 100, RELU, 0.0f, N3, 60, 0.03f, 0.1f, 1, 1, NULL},
    {"expanded-2fc300", "9b", "99.48%",
     "row 7 with two FC layers of 300",
     2, 2, 300, RELU, 0.0f, N3, 60, 0.03f, 0.1f, 1, 1, NULL},
    {"expanded-2fc1000", "9c", "99.47%",
     "row 7 with two FC layers of 1000",
     2, 2, 1000, RELU, 0.0f, N3, 60, 0.03f, 0.1f, 1, 1, NULL},
    {"dropout", "10", "99.60%",
     "two FC 1000 ReLU, dropout 0.5 into FC/softmax, lambda 0, 250k expanded",
     2, 2, 1000, RELU, 0.5f, N3, 40, 0.03f, 0.0f, 1, 1, NULL},
    {"ensemble", "11", "99.67%",
     "plurality vote of 5 nets of row 10",
     2, 2, 1000, RELU, 0.5f, N3, 40, 0.03f, 0.0f, 1, 5, NULL},
    {"modern", "", "-",
     "conv32(5x5 same)+pool+BN -> conv64(5x5)+pool+BN -> FC 256+BN -> softmax; AdamW, "
     "one-cycle, batch 64, random affine (rot 8, shift 2, scale 0.08, shear 8)",
     0, 0, 256, RELU, 0.25f, HE, 8, 3e-3f, 0.0f, 0, 1, &modern_recipe},
    {"best", "", "-",
     "modern's network, dropout 0.3, 40 epochs; AdamW, one-cycle, batch 64, random affine "
     "(rot 10, shift 2.5, scale 0.1, shear 10)",
     0, 0, 256, RELU, 0.3f, HE, 40, 3e-3f, 0.0f, 0, 1, &best_recipe},
    {"deep", "", "-",
     "candidate: 3x3 conv pairs 32@28x28, 64@14x14 + BN, FC 256+BN, dropout 0.3; best's training",
     0, 0, 256, RELU, 0.3f, HE, 40, 3e-3f, 0.0f, 0, 1, &deep_recipe},
    {"best-ensemble", "", "-",
     "plurality vote of 5 nets of `best`",
     0, 0, 256, RELU, 0.3f, HE, 40, 3e-3f, 0.0f, 0, 5, &best_recipe},
};

#define N_EXPERIMENTS (sizeof table / sizeof table[0])

const experiment *experiment_find(const char *name)
{
    for (size_t i = 0; i < N_EXPERIMENTS; i++)
        if (strcmp(table[i].name, name) == 0 || (table[i].row[0] && strcmp(table[i].row, name) == 0))
            return &table[i];
    /* "8" and "9" name the first variant ("8a", "9a") of their row. */
    size_t n = strlen(name);
    for (size_t i = 0; n > 0 && i < N_EXPERIMENTS; i++) {
        const char *row = table[i].row;
        if (strlen(row) == n + 1 && strncmp(row, name, n) == 0 && row[n] == 'a')
            return &table[i];
    }
    return NULL;
}

const experiment *experiment_default(void) { return &table[0]; }

void experiment_list(FILE *out)
{
    fprintf(out, "%-18s %-4s %-10s %-6s %-5s %-6s %s\n", "name", "row", "reported", "epochs",
            "eta", "lambda", "network and data");
    for (size_t i = 0; i < N_EXPERIMENTS; i++) {
        const experiment *e = &table[i];
        fprintf(out, "%-18s %-4s %-10s %-6d %-5g %-6g %s\n", e->name, e->row[0] ? e->row : "-",
                e->reported, (int)e->epochs, (double)e->eta, (double)e->lambda, e->summary);
    }
    fprintf(out, "(run with no name: %s; a row number also works as a name, e.g. 6 or 8b)\n",
            experiment_default()->name);
}

/* Appends `layer` to `net`, destroying it if the network refuses it (on
 * failure the caller still owns the layer). */
static cnn_status add_layer(cnn_net *net, cnn_layer *layer)
{
    cnn_status st = cnn_net_add(net, layer);
    if (st != CNN_OK)
        cnn_layer_destroy(layer);
    return st;
}

/* batch norm -> ReLU after the layer last added. */
static cnn_status add_bn_relu(cnn_net *net)
{
    cnn_batchnorm_params b;
    cnn_layer *l = NULL;
    cnn_status st = cnn_batchnorm_params_init(&b);
    if (st == CNN_OK)
        st = cnn_batchnorm_create(&b, &l);
    if (st == CNN_OK)
        st = add_layer(net, l);
    if (st == CNN_OK)
        st = cnn_activation_create(CNN_ACT_RELU, &l);
    if (st == CNN_OK)
        st = add_layer(net, l);
    return st;
}

/* conv (identity, optional fused 2x2 max pool) -> batch norm -> ReLU. */
static cnn_status add_conv_bn(cnn_net *net, int32_t maps, int32_t k, int32_t padding, int pool,
                              int32_t init)
{
    cnn_conv2d_params p;
    cnn_layer *l = NULL;
    cnn_status st = cnn_conv2d_params_init(&p, maps, k, k);
    p.activation = CNN_ACT_IDENTITY;
    p.padding = padding;
    p.pool = pool ? CNN_POOL_MAX : CNN_POOL_NONE;
    p.init = init;
    if (st == CNN_OK)
        st = cnn_conv2d_create(&p, &l);
    if (st == CNN_OK)
        st = add_layer(net, l);
    return st == CNN_OK ? add_bn_relu(net) : st;
}

/* FC (identity) -> batch norm -> ReLU -> softmax with dropout on its input. */
static cnn_status add_head(cnn_net *net, const experiment *e, int32_t init)
{
    cnn_dense_params d;
    cnn_softmax_params s;
    cnn_layer *l = NULL;
    cnn_status st = cnn_dense_params_init(&d, e->fc_units);
    d.activation = CNN_ACT_IDENTITY;
    d.init = init;
    if (st == CNN_OK)
        st = cnn_dense_create(&d, &l);
    if (st == CNN_OK)
        st = add_layer(net, l);
    if (st == CNN_OK)
        st = add_bn_relu(net);
    if (st == CNN_OK)
        st = cnn_softmax_params_init(&s, 10);
    s.dropout = e->dropout;
    if (st == CNN_OK)
        st = cnn_softmax_create(&s, &l);
    if (st == CNN_OK)
        st = add_layer(net, l);
    return st;
}

static cnn_status build_recipe(const experiment *e, int32_t init, cnn_net *net)
{
    cnn_status st;
    if (e->recipe->arch == ARCH_DEEP) {
        /* Two 3x3 pairs: 32 maps at 28x28, 64 at 14x14. */
        st = add_conv_bn(net, 32, 3, CNN_PAD_SAME, 0, init);             /* 32x28x28 */
        if (st == CNN_OK)
            st = add_conv_bn(net, 32, 3, CNN_PAD_SAME, 1, init);         /* 32x14x14 */
        if (st == CNN_OK)
            st = add_conv_bn(net, 64, 3, CNN_PAD_SAME, 0, init);         /* 64x14x14 */
        if (st == CNN_OK)
            st = add_conv_bn(net, 64, 3, CNN_PAD_SAME, 1, init);         /* 64x7x7 */
        return st == CNN_OK ? add_head(net, e, init) : st;
    }
    st = add_conv_bn(net, 32, 5, CNN_PAD_SAME, 1, init); /* 32x14x14 */
    if (st == CNN_OK)
        st = add_conv_bn(net, 64, 5, CNN_PAD_EXPLICIT, 1, init);    /* 64x5x5 */
    return st == CNN_OK ? add_head(net, e, init) : st;
}

cnn_status experiment_build(const experiment *e, int32_t init, uint64_t seed, cnn_net **out)
{
    static const int32_t maps[2] = {20, 40};
    cnn_net *net = NULL;
    *out = NULL;
    cnn_status st = cnn_net_create(1, 28, 28, seed, &net);
    if (st == CNN_OK && e->recipe) {
        st = build_recipe(e, init >= 0 ? init : e->init, net);
        if (st != CNN_OK) {
            cnn_net_destroy(net);
            return st;
        }
        *out = net;
        return CNN_OK;
    }
    for (int32_t i = 0; st == CNN_OK && i < e->convs; i++) {
        cnn_conv2d_params p;
        cnn_layer *l = NULL;
        st = cnn_conv2d_params_init(&p, maps[i], 5, 5);
        p.activation = e->activation;
        p.pool = CNN_POOL_MAX;
        p.pool_h = p.pool_w = 2;
        p.init = init >= 0 ? init : e->init;
        if (st == CNN_OK)
            st = cnn_conv2d_create(&p, &l);
        if (st == CNN_OK)
            st = add_layer(net, l);
    }
    for (int32_t i = 0; st == CNN_OK && i < e->fcs; i++) {
        cnn_dense_params p;
        cnn_layer *l = NULL;
        st = cnn_dense_params_init(&p, e->fc_units);
        p.activation = e->activation;
        p.dropout = e->dropout;
        p.init = init >= 0 ? init : e->init;
        if (st == CNN_OK)
            st = cnn_dense_create(&p, &l);
        if (st == CNN_OK)
            st = add_layer(net, l);
    }
    if (st == CNN_OK) {
        cnn_softmax_params p;
        cnn_layer *l = NULL;
        st = cnn_softmax_params_init(&p, 10);
        p.dropout = e->dropout;
        if (st == CNN_OK)
            st = cnn_softmax_create(&p, &l);
        if (st == CNN_OK)
            st = add_layer(net, l);
    }
    if (st != CNN_OK) {
        cnn_net_destroy(net);
        return st;
    }
    *out = net;
    return CNN_OK;
}

static const char *kind_name(int32_t kind)
{
    switch (kind) {
    case CNN_LAYER_CONV2D: return "conv";
    case CNN_LAYER_POOL2D: return "pool";
    case CNN_LAYER_DENSE: return "fc";
    case CNN_LAYER_SOFTMAX: return "softmax";
    case CNN_LAYER_ACTIVATION: return "act";
    case CNN_LAYER_BATCHNORM: return "bn";
    case CNN_LAYER_GLOBAL_AVG_POOL: return "gap";
    default: return "?";
    }
}

void experiment_describe_net(cnn_net *net, char *buf, size_t size)
{
    int32_t in[3] = {0, 0, 0};
    size_t used = 0;
    buf[0] = '\0';
    if (cnn_net_input_shape(net, in) != CNN_OK)
        return;
    used += (size_t)snprintf(buf, size, "%dx%dx%d", (int)in[0], (int)in[1], (int)in[2]);
    for (int32_t i = 0; i < cnn_net_layer_count(net) && used < size; i++) {
        cnn_layer *l = cnn_net_layer(net, i);
        int32_t out[3] = {0, 0, 0};
        int32_t kind = cnn_layer_kind(l);
        if (cnn_layer_output_shape(l, in, out) != CNN_OK)
            break;
        if (out[1] == 1 && out[2] == 1)
            used += (size_t)snprintf(buf + used, size - used, " -> %s %d", kind_name(kind),
                                     (int)out[0]);
        else
            used += (size_t)snprintf(buf + used, size - used, " -> %s %dx%dx%d", kind_name(kind),
                                     (int)out[0], (int)out[1], (int)out[2]);
        memcpy(in, out, sizeof in);
    }
}
