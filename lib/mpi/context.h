/* libcnn-mpi internals shared by its source files. */
#ifndef CNN_MPI_CONTEXT_H
#define CNN_MPI_CONTEXT_H

#include <mpi.h>

#include "cnn_mpi.h"

#define CNN_MPI_ERRMSG_MAX 512

struct cnn_mpi_context {
    MPI_Comm comm;      /* MPI_COMM_WORLD duplicated, errors returned */
    int rank, size;
    int owns_mpi;       /* MPI_Init was ours: MPI_Finalize is too */
    float *scratch;     /* one ring slice received at a time */
    int64_t scratch_len;
    double *gathered;   /* size doubles: cnn_mpi_sum's allgather, every step */
    char errmsg[CNN_MPI_ERRMSG_MAX];
};

/* Formats a message into ctx->errmsg and returns status. */
cnn_status cnn_mpi_fail(cnn_mpi_context *ctx, cnn_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* CNN_OK for MPI_SUCCESS, otherwise CNN_EIO with MPI's own words about rc. */
cnn_status cnn_mpi_check(cnn_mpi_context *ctx, int rc, const char *what);

/* The deterministic ring allreduce (sum) of v[0..n) over ctx's processes. */
cnn_status cnn_mpi_ring_sum(cnn_mpi_context *ctx, float *v, int64_t n);

/* cnn_reduce_fn on a context (user = ctx). */
int32_t cnn_mpi_reduce_fn(float *values, int64_t n, double *cost, int32_t local_examples,
                          int32_t global_examples, void *user);

#endif
