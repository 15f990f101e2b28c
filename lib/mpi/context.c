/* The MPI context: joining and leaving the job, rank and size, messages.
 * MPI_COMM_WORLD is duplicated so that libcnn-mpi's messages can never
 * match a receive the program posts itself, and errors on the duplicate
 * are returned (MPI_ERRORS_RETURN) so the library reports them instead of
 * MPI's default of ending the job. */
#include "context.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* The failure of a create, which has no context to hold it. */
static _Thread_local char create_errmsg[CNN_MPI_ERRMSG_MAX];

cnn_status cnn_mpi_fail(cnn_mpi_context *ctx, cnn_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx ? ctx->errmsg : create_errmsg, CNN_MPI_ERRMSG_MAX, fmt, ap);
    va_end(ap);
    return status;
}

cnn_status cnn_mpi_check(cnn_mpi_context *ctx, int rc, const char *what)
{
    if (rc == MPI_SUCCESS)
        return CNN_OK;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS)
        snprintf(text, sizeof text, "MPI error %d", rc);
    return cnn_mpi_fail(ctx, CNN_EIO, "libcnn-mpi: %s failed on rank %d: %s", what,
                        ctx ? ctx->rank : -1, text);
}

cnn_status cnn_mpi_context_create(int *argc, char ***argv, cnn_mpi_context **out)
{
    if (out)
        *out = NULL;
    if (!out)
        return cnn_mpi_fail(NULL, CNN_EINVAL, "cnn_mpi_context_create: out is NULL");
    int ready = 0, done = 0;
    MPI_Initialized(&ready);
    MPI_Finalized(&done);
    if (done)
        return cnn_mpi_fail(NULL, CNN_EIO, "cnn_mpi_context_create: MPI was already finalised");
    cnn_mpi_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return cnn_mpi_fail(NULL, CNN_ENOMEM, "cnn_mpi_context_create: out of memory");
    ctx->comm = MPI_COMM_NULL;
    cnn_status st = CNN_OK;
    if (!ready) {
        /* Until the duplicate exists, MPI's default handler is fatal: a
         * failing MPI_Init ends the process whatever we do. */
        st = cnn_mpi_check(ctx, MPI_Init(argc, argv), "MPI_Init");
        ctx->owns_mpi = st == CNN_OK;
    }
    if (st == CNN_OK)
        st = cnn_mpi_check(ctx, MPI_Comm_dup(MPI_COMM_WORLD, &ctx->comm), "MPI_Comm_dup");
    if (st == CNN_OK)
        st = cnn_mpi_check(ctx, MPI_Comm_set_errhandler(ctx->comm, MPI_ERRORS_RETURN),
                           "MPI_Comm_set_errhandler");
    if (st == CNN_OK)
        st = cnn_mpi_check(ctx, MPI_Comm_rank(ctx->comm, &ctx->rank), "MPI_Comm_rank");
    if (st == CNN_OK)
        st = cnn_mpi_check(ctx, MPI_Comm_size(ctx->comm, &ctx->size), "MPI_Comm_size");
    if (st == CNN_OK) {
        ctx->gathered = malloc((size_t)ctx->size * sizeof *ctx->gathered);
        if (!ctx->gathered)
            st = cnn_mpi_fail(ctx, CNN_ENOMEM, "cnn_mpi_context_create: out of memory");
    }
    if (st != CNN_OK) {
        cnn_mpi_fail(NULL, st, "%s", ctx->errmsg);
        cnn_mpi_context_destroy(ctx);
        return st;
    }
    *out = ctx;
    return CNN_OK;
}

void cnn_mpi_context_destroy(cnn_mpi_context *ctx)
{
    if (!ctx)
        return;
    int done = 0;
    MPI_Finalized(&done); /* a program that finalised MPI itself: nothing to free */
    if (!done && ctx->comm != MPI_COMM_NULL)
        MPI_Comm_free(&ctx->comm);
    if (!done && ctx->owns_mpi)
        MPI_Finalize();
    free(ctx->scratch);
    free(ctx->gathered);
    free(ctx);
}

int32_t cnn_mpi_rank(const cnn_mpi_context *ctx)
{
    return ctx ? ctx->rank : -1;
}

int32_t cnn_mpi_size(const cnn_mpi_context *ctx)
{
    return ctx ? ctx->size : 0;
}

const char *cnn_mpi_errmsg(const cnn_mpi_context *ctx)
{
    return ctx ? ctx->errmsg : create_errmsg;
}

void cnn_mpi_abort(cnn_mpi_context *ctx, int32_t status)
{
    MPI_Abort(ctx ? ctx->comm : MPI_COMM_WORLD, (int)status);
    abort(); /* MPI_Abort does not return; this keeps the promise if it did */
}
