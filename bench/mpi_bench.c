/* cnn-bench-mpi: data-parallel training throughput of W2/W3 (bench/nets.c)
 * over MPI, and the cost of one gradient reduction.  Run it under mpirun at
 * several rank counts and compare:
 *
 *   mpirun -np 1 cnn-bench-mpi [--nets W2,W3] [--batch 10] [--images N]
 *   mpirun -np 2 cnn-bench-mpi ...
 *
 * Each row trains one epoch of N images (MNIST's first N training images
 * when data/mnist exists, else synthetic ones) at global batch B with
 * cnn_mpi_train, one thread per rank, after an untimed warm-up epoch of 200
 * images, and reports images/s in all and per rank (wall time of the epoch,
 * no evaluation), then the mean time of 20 reductions of the net's gradient
 * vector (the ring reduce-scatter + allgather alone).  Rank 0 prints. */
#include "bench.h"

#include <cnn_mpi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static cnn_dataset *synthetic(int64_t n)
{
    uint8_t *px = malloc((size_t)n * 784), *lb = malloc((size_t)n);
    if (!px || !lb)
        bench_die("malloc", CNN_ENOMEM);
    uint64_t x = 1;
    for (int64_t i = 0; i < n * 784; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        px[i] = (uint8_t)(x >> 56);
    }
    for (int64_t i = 0; i < n; i++)
        lb[i] = (uint8_t)(i % 10);
    cnn_dataset *ds = NULL;
    cnn_status st = cnn_dataset_create(n, 1, 28, 28, px, lb, &ds);
    free(px);
    free(lb);
    if (st != CNN_OK)
        bench_die("cnn_dataset_create", st);
    return ds;
}

/* The first n training images of MNIST in dir, or synthetic ones. */
static cnn_dataset *images(const char *dir, int64_t n, int *real)
{
    cnn_dataset *all = NULL, *slice = NULL;
    *real = dir && cnn_dataset_load_mnist(dir, CNN_MNIST_TRAIN, &all) == CNN_OK;
    if (!*real)
        return synthetic(n);
    if (n > cnn_dataset_count(all))
        n = cnn_dataset_count(all);
    cnn_status st = cnn_dataset_slice(all, 0, n, &slice);
    cnn_dataset_destroy(all);
    if (st != CNN_OK)
        bench_die("cnn_dataset_slice", st);
    return slice;
}

static double train_epoch(cnn_mpi_context *ctx, cnn_net *net, const bench_net_info *info,
                          const cnn_dataset *ds, int batch)
{
    cnn_sgd_params sp;
    cnn_optimizer *opt = NULL;
    cnn_sgd_params_init(&sp, info->eta);
    cnn_status st = cnn_sgd_create(&sp, &opt);
    if (st != CNN_OK)
        bench_die("cnn_sgd_create", st);
    cnn_train_params tp;
    cnn_train_params_init(&tp, 1);
    tp.batch_size = batch;
    tp.progress_every = 0;
    double t0 = now();
    st = cnn_mpi_train(ctx, net, opt, ds, &tp, NULL);
    double t = now() - t0;
    if (st != CNN_OK) {
        fprintf(stderr, "cnn_mpi_train: %s\n", cnn_mpi_errmsg(ctx));
        cnn_mpi_abort(ctx, 1);
    }
    cnn_optimizer_destroy(opt);
    return t;
}

/* Mean seconds of one reduction of n floats (after 3 untimed ones). */
static double reduce_seconds(cnn_mpi_context *ctx, int64_t n)
{
    cnn_shard_params sh;
    cnn_shard_params_init(&sh, 0, 1);
    cnn_mpi_shard_params(ctx, &sh);
    float *g = calloc((size_t)n, sizeof *g);
    if (!g)
        bench_die("calloc", CNN_ENOMEM);
    double t0 = 0.0;
    for (int i = 0; i < 23; i++) {
        if (i == 3)
            t0 = now();
        double cost = 1.0;
        if (sh.reduce && sh.reduce(g, n, &cost, 5, 10, sh.user) != 0)
            cnn_mpi_abort(ctx, 1);
    }
    free(g);
    return (now() - t0) / 20.0;
}

int main(int argc, char **argv)
{
    cnn_mpi_context *ctx = NULL;
    if (cnn_mpi_context_create(&argc, &argv, &ctx) != CNN_OK) {
        fprintf(stderr, "cnn-bench-mpi: %s\n", cnn_mpi_errmsg(NULL));
        return 1;
    }
    const char *nets = "W2,W3", *dir = CNN_BENCH_SRCROOT "/data/mnist";
    int batch = 10;
    int64_t n = 10000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--nets") == 0 && i + 1 < argc)
            nets = argv[++i];
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
            batch = atoi(argv[++i]);
        else if (strcmp(argv[i], "--images") == 0 && i + 1 < argc)
            n = atoll(argv[++i]);
        else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--synthetic") == 0)
            dir = NULL;
        else {
            if (cnn_mpi_rank(ctx) == 0)
                fprintf(stderr, "usage: cnn-bench-mpi [--nets W2,W3] [--batch B] [--images N] "
                        "[--data DIR | --synthetic]\n");
            cnn_mpi_context_destroy(ctx);
            return 2;
        }
    }
    const int rank = cnn_mpi_rank(ctx), size = cnn_mpi_size(ctx);
    int real = 0;
    cnn_dataset *ds = images(dir, n, &real), *warm = NULL;
    n = cnn_dataset_count(ds);
    if (cnn_dataset_slice(ds, 0, n < 200 ? n : 200, &warm) != CNN_OK)
        bench_die("cnn_dataset_slice", CNN_EINVAL);
    if (rank == 0)
        printf("cnn-bench-mpi: %d rank%s x 1 thread, global batch %d (%d per rank), %lld %s "
               "images, kernels %s, libcnn %s\n", size, size > 1 ? "s" : "", batch, batch / size,
               (long long)n, real ? "MNIST" : "synthetic", cnn_isa_name(cnn_isa()),
               cnn_version_string());
    char list[64];
    snprintf(list, sizeof list, "%s", nets);
    for (char *name = strtok(list, ","); name; name = strtok(NULL, ",")) {
        const bench_net_info *info = bench_net_find(name);
        if (!info)
            continue;
        cnn_net *net = bench_net_build(info, 1);
        train_epoch(ctx, net, info, warm, batch);
        double t = train_epoch(ctx, net, info, ds, batch);
        double red = reduce_seconds(ctx, cnn_net_param_count(net));
        int64_t steps = (n + batch - 1) / batch;
        if (rank == 0)
            printf("%s train b%d: %.0f img/s in all, %.0f img/s per rank; %.3f ms a step, of "
                   "which one reduction of %lld floats (%.2f MB) takes %.3f ms\n",
                   name, batch, (double)n / t, (double)n / t / size, 1e3 * t / (double)steps,
                   (long long)cnn_net_param_count(net),
                   4e-6 * (double)cnn_net_param_count(net), 1e3 * red);
        cnn_net_destroy(net);
    }
    cnn_dataset_destroy(warm);
    cnn_dataset_destroy(ds);
    cnn_mpi_context_destroy(ctx);
    return 0;
}
