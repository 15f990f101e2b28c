/* See mpi_testkit.h. */
#include "mpi_testkit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kit_check(cnn_status st, const char *what, const char *file, int line)
{
    if (st == CNN_OK)
        return;
    fprintf(stderr, "%s:%d: %s: %s (%s)\n", file, line, what, cnn_status_name(st),
            cnn_last_error());
    exit(2);
}

/* splitmix64: test data independent of the library's generator. */
static uint64_t mix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

cnn_dataset *kit_dataset(int64_t count, uint64_t seed, bool identical)
{
    uint8_t *px = malloc((size_t)count * 64), *lb = malloc((size_t)count);
    if (!px || !lb) {
        fprintf(stderr, "kit_dataset: out of memory\n");
        exit(2);
    }
    for (int64_t i = 0; i < count; i++) {
        uint64_t x = seed + (identical ? 0 : (uint64_t)i);
        int label = identical ? 0 : (int)(i % 4);
        lb[i] = (uint8_t)label;
        for (int k = 0; k < 64; k++) /* class k: rows 2k, 2k+1 brighter, plus noise */
            px[i * 64 + k] = (uint8_t)(mix(&x) % 100 + ((k / 8) / 2 == label ? 150 : 0));
    }
    cnn_dataset *ds = NULL;
    KIT_CHECK(cnn_dataset_create(count, 1, 8, 8, px, lb, &ds));
    free(px);
    free(lb);
    return ds;
}

/* The layer by address: it is read after the create call has set it. */
static void add(cnn_net *net, cnn_status st, cnn_layer **l)
{
    KIT_CHECK(st);
    KIT_CHECK(cnn_net_add(net, *l));
}

cnn_net *kit_net(int kind, uint64_t seed)
{
    cnn_net *net = NULL;
    cnn_layer *l = NULL;
    KIT_CHECK(cnn_net_create(1, 8, 8, seed, &net));
    cnn_conv2d_params c;
    KIT_CHECK(cnn_conv2d_params_init(&c, 4, 3, 3));
    c.activation = CNN_ACT_RELU;
    c.pool = CNN_POOL_MAX;
    add(net, cnn_conv2d_create(&c, &l), &l);
    if (kind == KIT_NET_BATCHNORM) {
        cnn_batchnorm_params b;
        KIT_CHECK(cnn_batchnorm_params_init(&b));
        add(net, cnn_batchnorm_create(&b, &l), &l);
    }
    cnn_dense_params d;
    KIT_CHECK(cnn_dense_params_init(&d, 16));
    d.activation = CNN_ACT_RELU;
    d.dropout = kind == KIT_NET_DROPOUT ? 0.5f : 0.0f;
    add(net, cnn_dense_create(&d, &l), &l);
    cnn_softmax_params s;
    KIT_CHECK(cnn_softmax_params_init(&s, 4));
    s.init = CNN_INIT_NETWORK3; /* not zero: every weight moves from the first step */
    add(net, cnn_softmax_create(&s, &l), &l);
    return net;
}

const char *const kit_opt_names[KIT_OPT_COUNT] = {"sgd", "sgd+momentum", "sgd+nesterov", "adam"};

cnn_optimizer *kit_optimizer(int kind)
{
    cnn_optimizer *opt = NULL;
    if (kind == KIT_OPT_ADAM) {
        cnn_adam_params a;
        KIT_CHECK(cnn_adam_params_init(&a, 0.003f));
        KIT_CHECK(cnn_adam_create(&a, &opt));
        return opt;
    }
    cnn_sgd_params p;
    KIT_CHECK(cnn_sgd_params_init(&p, 0.05f));
    p.l2 = 0.1f;
    p.momentum = kind == KIT_OPT_SGD ? 0.0f : 0.9f;
    p.nesterov = kind == KIT_OPT_NESTEROV;
    KIT_CHECK(cnn_sgd_create(&p, &opt));
    return opt;
}

bool kit_same_on_all_ranks(cnn_mpi_context *ctx, const float *v, int64_t n)
{
    const int size = cnn_mpi_size(ctx), rank = cnn_mpi_rank(ctx);
    float *all = rank == 0 ? malloc((size_t)(n * size + 1) * sizeof *all) : NULL;
    if (rank == 0 && !all)
        KIT_CHECK(CNN_ENOMEM);
    cnn_status st = cnn_mpi_gather(ctx, v, n, all);
    if (st != CNN_OK) {
        fprintf(stderr, "cnn_mpi_gather: %s\n", cnn_mpi_errmsg(ctx));
        exit(2);
    }
    double same = 1.0;
    for (int r = 1; rank == 0 && r < size; r++)
        if (memcmp(all, all + (size_t)r * n, (size_t)n * sizeof *all) != 0)
            same = 0.0;
    free(all);
    /* rank 0's verdict to all: a sum of 1.0 (rank 0) and zeros */
    double total = 0.0;
    KIT_CHECK(cnn_mpi_sum(ctx, rank == 0 ? same : 0.0, &total));
    return total == 1.0;
}
