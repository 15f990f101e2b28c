/* The three benchmarked networks, built as network3.py builds them, and
 * their FLOP counts.
 *
 * FLOP formula (documented in docs/performance.md as well).  Every layer is
 * one GEMM per image of shape (M x K) * (K x N):
 *   conv  (C_in -> C_out, k x k, output H x W):  M = C_out, N = H*W, K = C_in*k*k
 *   dense / softmax (in -> out):                 M = out,   N = 1,   K = in
 * Forward costs 2*M*N*K; backward-weights costs the same; backward-data
 * costs the same for every layer but the first, whose input gradient nobody
 * needs (libcnn and PyTorch both skip it).  So per image
 *   inference = sum_l 2 M N K
 *   training  = 3 * inference - 2 M N K of layer 1.
 * Pooling, activations, softmax, dropout and the SGD update are left out:
 * they are O(size) not O(size * K), well under 2% here.
 *   W1: 784*100 + 100*10                          fwd 0.159 MFLOP, train 0.320
 *   W2: conv1 20*576*25, conv2 40*64*500, 640*100,
 *       100*10                                    fwd 3.266 MFLOP, train 9.222
 *   W3: W2's convs, 640*1000, 1000*1000, 1000*10  fwd 6.436 MFLOP, train 18.732
 * (The "9.8 MFLOP" for W2 is 3 * forward, i.e. it also counts the
 * first layer's backward-data, 0.576 MFLOP that no one computes.) */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MNK(m, n, k) (2.0 * (double)(m) * (double)(n) * (double)(k))

/* Per-image forward GEMM FLOPs of each layer, first layer first. */
static const double w1_layers[] = {MNK(100, 1, 784), MNK(10, 1, 100)};
static const double w2_layers[] = {MNK(20, 24 * 24, 25), MNK(40, 8 * 8, 20 * 25),
                                   MNK(100, 1, 640), MNK(10, 1, 100)};
static const double w3_layers[] = {MNK(20, 24 * 24, 25), MNK(40, 8 * 8, 20 * 25),
                                   MNK(1000, 1, 640), MNK(1000, 1, 1000), MNK(10, 1, 1000)};

static bench_net_info infos[] = {
    {"W1", "FC 784-100 sigmoid, softmax 10", 0.1f, 0, 0},
    {"W2", "conv20 5x5+maxpool2, conv40 5x5+maxpool2, FC 100, softmax 10, ReLU", 0.03f, 0, 0},
    {"W3", "W2 convs, FC 1000, FC 1000, softmax 10, ReLU, dropout 0.5 on FC/softmax inputs",
     0.03f, 0, 0},
};

static void fill_flops(bench_net_info *info, const double *layers, int n)
{
    double fwd = 0;
    for (int i = 0; i < n; i++)
        fwd += layers[i];
    info->fwd_flop = fwd;
    info->train_flop = 3.0 * fwd - layers[0];
}

const bench_net_info *bench_net_find(const char *name)
{
    /* Filled lazily so the tables above stay the one source of the numbers. */
    if (infos[0].fwd_flop == 0) {
        fill_flops(&infos[0], w1_layers, (int)(sizeof w1_layers / sizeof w1_layers[0]));
        fill_flops(&infos[1], w2_layers, (int)(sizeof w2_layers / sizeof w2_layers[0]));
        fill_flops(&infos[2], w3_layers, (int)(sizeof w3_layers / sizeof w3_layers[0]));
    }
    for (size_t i = 0; i < sizeof infos / sizeof infos[0]; i++)
        if (strcmp(infos[i].name, name) == 0)
            return &infos[i];
    return NULL;
}

static void add(cnn_net *net, cnn_layer *layer, const char *what)
{
    cnn_status st = cnn_net_add(net, layer);
    if (st != CNN_OK) {
        cnn_layer_destroy(layer);
        bench_die(what, st);
    }
}

/* network3's ConvPoolLayer: 5x5 valid convolution, fused 2x2 max pooling,
 * bias, ReLU; weights N(0, 1/n_out) with n_out = maps*25/4 (the library's
 * CNN_INIT_NETWORK3 does exactly that for fused pooling). */
static void add_convpool(cnn_net *net, int maps)
{
    cnn_conv2d_params p;
    cnn_layer *l = NULL;
    cnn_conv2d_params_init(&p, maps, 5, 5);
    p.activation = CNN_ACT_RELU;
    p.pool = CNN_POOL_MAX;
    p.pool_h = 2;
    p.pool_w = 2;
    p.init = CNN_INIT_NETWORK3;
    cnn_status st = cnn_conv2d_create(&p, &l);
    if (st != CNN_OK)
        bench_die("cnn_conv2d_create", st);
    add(net, l, "cnn_net_add(conv2d)");
}

static void add_dense(cnn_net *net, int out, int activation, float dropout)
{
    cnn_dense_params p;
    cnn_layer *l = NULL;
    cnn_dense_params_init(&p, out);
    p.activation = activation;
    p.dropout = dropout;
    p.init = CNN_INIT_NETWORK3;
    cnn_status st = cnn_dense_create(&p, &l);
    if (st != CNN_OK)
        bench_die("cnn_dense_create", st);
    add(net, l, "cnn_net_add(dense)");
}

/* Softmax starts at zero in network3 (the params default). */
static void add_softmax(cnn_net *net, float dropout)
{
    cnn_softmax_params p;
    cnn_layer *l = NULL;
    cnn_softmax_params_init(&p, 10);
    p.dropout = dropout;
    cnn_status st = cnn_softmax_create(&p, &l);
    if (st != CNN_OK)
        bench_die("cnn_softmax_create", st);
    add(net, l, "cnn_net_add(softmax)");
}

cnn_net *bench_net_build(const bench_net_info *info, uint64_t seed)
{
    cnn_net *net = NULL;
    cnn_status st = cnn_net_create(1, 28, 28, seed, &net);
    if (st != CNN_OK)
        bench_die("cnn_net_create", st);
    if (strcmp(info->name, "W1") == 0) {
        add_dense(net, 100, CNN_ACT_SIGMOID, 0.0f);
        add_softmax(net, 0.0f);
    } else if (strcmp(info->name, "W2") == 0) {
        add_convpool(net, 20);
        add_convpool(net, 40);
        add_dense(net, 100, CNN_ACT_RELU, 0.0f);
        add_softmax(net, 0.0f);
    } else { /* W3 */
        add_convpool(net, 20);
        add_convpool(net, 40);
        add_dense(net, 1000, CNN_ACT_RELU, 0.5f);
        add_dense(net, 1000, CNN_ACT_RELU, 0.5f);
        add_softmax(net, 0.5f);
    }
    return net;
}
