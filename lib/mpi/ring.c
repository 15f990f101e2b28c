/* The deterministic sum over processes: a ring reduce-scatter followed by a
 * ring allgather, both on MPI_Sendrecv with a fixed schedule.
 *
 * The vector is cut into `size` slices.  In step s (0 .. size-2) of the
 * reduce-scatter, rank r sends slice (r - s) to rank r+1 and adds the slice
 * (r - s - 1) it receives from rank r-1 to its own.  Slice k is thus summed
 * as (((g_k + g_k+1) + g_k+2) + ...) in ring order from rank k, always, and
 * ends complete on rank k-1; the allgather then passes the complete slices
 * on unchanged.  Every process holds the same bits, and the same process
 * count gives the same sums run after run (MPI_Allreduce promises neither
 * the order nor the same result on every rank).  Each process sends and
 * receives 2 (size-1)/size of the vector: the bandwidth-optimal ring. */
#include "context.h"

#include <limits.h>
#include <stdlib.h>

enum { RING_TAG = 0x11c };

/* Slice k of n floats over p: [n*k/p, n*(k+1)/p). */
static int64_t slice_start(int64_t n, int p, int k)
{
    return (int64_t)((__int128)n * k / p);
}

/* Offset and length of slice k (taken mod p, so ring arithmetic may pass
 * any k) of n floats over p processes. */
static void slice(int64_t n, int p, int k, int64_t *offset, int *len)
{
    k = (k % p + p) % p;
    *offset = slice_start(n, p, k);
    *len = (int)(slice_start(n, p, k + 1) - *offset);
}

static cnn_status reserve_scratch(cnn_mpi_context *ctx, int64_t len)
{
    if (len <= ctx->scratch_len)
        return CNN_OK;
    float *s = realloc(ctx->scratch, (size_t)len * sizeof *s);
    if (!s)
        return cnn_mpi_fail(ctx, CNN_ENOMEM, "libcnn-mpi: out of memory for a %lld-float ring "
                            "slice", (long long)len);
    ctx->scratch = s;
    ctx->scratch_len = len;
    return CNN_OK;
}

cnn_status cnn_mpi_ring_sum(cnn_mpi_context *ctx, float *v, int64_t n)
{
    const int p = ctx->size, r = ctx->rank;
    if (p == 1 || n == 0)
        return CNN_OK;
    const int64_t widest = slice_start(n, p, 1) + 1; /* slices differ by at most one */
    if (widest > INT_MAX)
        return cnn_mpi_fail(ctx, CNN_EINVAL, "libcnn-mpi: %lld values over %d processes: a "
                            "slice exceeds one MPI message (%d floats)", (long long)n, p, INT_MAX);
    cnn_status st = reserve_scratch(ctx, widest);
    if (st != CNN_OK)
        return st;
    const int right = (r + 1) % p, left = (r + p - 1) % p;
    for (int s = 0; s < p - 1; s++) {
        int64_t so, ro;
        int sn, rn;
        slice(n, p, r - s, &so, &sn);
        slice(n, p, r - s - 1, &ro, &rn);
        st = cnn_mpi_check(ctx, MPI_Sendrecv(v + so, sn, MPI_FLOAT, right, RING_TAG, ctx->scratch,
                                             rn, MPI_FLOAT, left, RING_TAG, ctx->comm,
                                             MPI_STATUS_IGNORE), "ring reduce-scatter");
        if (st != CNN_OK)
            return st;
        float *dst = v + ro;
        for (int i = 0; i < rn; i++)
            dst[i] = ctx->scratch[i] + dst[i]; /* incoming partial sum first: ring order */
    }
    for (int s = 0; s < p - 1; s++) {
        int64_t so, ro;
        int sn, rn;
        slice(n, p, r + 1 - s, &so, &sn);
        slice(n, p, r - s, &ro, &rn);
        st = cnn_mpi_check(ctx, MPI_Sendrecv(v + so, sn, MPI_FLOAT, right, RING_TAG, v + ro, rn,
                                             MPI_FLOAT, left, RING_TAG, ctx->comm,
                                             MPI_STATUS_IGNORE), "ring allgather");
        if (st != CNN_OK)
            return st;
    }
    return CNN_OK;
}

cnn_status cnn_mpi_sum(cnn_mpi_context *ctx, double value, double *sum)
{
    if (!ctx || !sum)
        return ctx ? cnn_mpi_fail(ctx, CNN_EINVAL, "cnn_mpi_sum: sum is NULL") : CNN_EINVAL;
    double *all = ctx->gathered; /* size doubles, allocated with the context */
    cnn_status st = cnn_mpi_check(ctx, MPI_Allgather(&value, 1, MPI_DOUBLE, all, 1, MPI_DOUBLE,
                                                     ctx->comm), "MPI_Allgather");
    if (st == CNN_OK) {
        double s = 0.0;
        for (int i = 0; i < ctx->size; i++) /* rank order on every process */
            s += all[i];
        *sum = s;
    }
    return st;
}

int32_t cnn_mpi_reduce_fn(float *values, int64_t n, double *cost, int32_t local_examples,
                          int32_t global_examples, void *user)
{
    cnn_mpi_context *ctx = user;
    /* Each piece's mean gradient, weighted by its share of the batch, then
     * summed: the gradient of the global batch's mean cost. */
    const double share = global_examples > 0 ? (double)local_examples / global_examples : 0.0;
    if (share != 1.0) {
        const float w = (float)share;
        for (int64_t i = 0; i < n; i++)
            values[i] *= w;
    }
    cnn_status st = cnn_mpi_ring_sum(ctx, values, n);
    if (st == CNN_OK && cost)
        st = cnn_mpi_sum(ctx, *cost * share, cost);
    return st;
}
