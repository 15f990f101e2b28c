/* cnn_mpi_train: cnn_train_sharded with this process's shard and the ring
 * reduction, after the processes agree on the run and on the starting
 * weights; callbacks on rank 0 only, their verdict broadcast; the
 * checkpoint written by rank 0 only. */
#include "context.h"

#include <limits.h>
#include <string.h>

#define WHO "cnn_mpi_train"

/* What every process must agree on before the first collective step; a
 * mismatch would otherwise surface as a hang or as silently different
 * weights. */
enum { F_PARAMS, F_COUNT, F_EPOCHS, F_BATCH, F_SEED, F_SHUFFLE, F_PROGRESS, F_RESUME, F_RATE,
       F_N };
static const char *const field_names[F_N] = {
    "parameter count", "training-set size", "epochs", "batch size", "seed", "shuffling",
    "progress_every", "resuming (resume_path set)", "learning rate (bits)"};

static cnn_status agree(cnn_mpi_context *ctx, cnn_net *net, cnn_optimizer *opt,
                        const cnn_dataset *train, const cnn_train_params *p)
{
    float rate = cnn_optimizer_learning_rate(opt);
    uint32_t rate_bits;
    memcpy(&rate_bits, &rate, sizeof rate_bits);
    const int64_t mine[F_N] = {
        [F_PARAMS] = cnn_net_param_count(net), [F_COUNT] = cnn_dataset_count(train),
        [F_EPOCHS] = p->epochs, [F_BATCH] = p->batch_size, [F_SEED] = (int64_t)p->seed,
        [F_SHUFFLE] = p->shuffle != 0, [F_PROGRESS] = p->progress_every,
        [F_RESUME] = p->resume_path != NULL, [F_RATE] = rate_bits};
    int64_t first[F_N];
    memcpy(first, mine, sizeof first);
    cnn_status st = cnn_mpi_check(ctx, MPI_Bcast(first, F_N, MPI_INT64_T, 0, ctx->comm),
                                  "MPI_Bcast of the run's settings");
    if (st != CNN_OK)
        return st;
    int bad = -1;
    for (int i = 0; i < F_N && bad < 0; i++)
        if (mine[i] != first[i])
            bad = i;
    /* Everyone learns whether anyone disagreed, so all fail together. */
    int any = bad >= 0, worst = 0;
    st = cnn_mpi_check(ctx, MPI_Allreduce(&any, &worst, 1, MPI_INT, MPI_MAX, ctx->comm),
                       "MPI_Allreduce of the settings check");
    if (st != CNN_OK)
        return st;
    if (bad >= 0)
        return cnn_mpi_fail(ctx, CNN_EINVAL, WHO ": rank %d has %s %lld, rank 0 has %lld: every "
                            "process must train the same run", ctx->rank, field_names[bad],
                            (long long)mine[bad], (long long)first[bad]);
    if (worst)
        return cnn_mpi_fail(ctx, CNN_EINVAL, WHO ": another rank's settings differ from rank "
                            "0's (its own message says which)");
    return CNN_OK;
}

/* Rank 0's weights to everyone, in pieces one MPI message can carry. */
static cnn_status share_weights(cnn_mpi_context *ctx, cnn_net *net)
{
    float *w = cnn_net_params(net);
    const int64_t n = cnn_net_param_count(net);
    for (int64_t at = 0; at < n; at += INT_MAX) {
        int len = (int)(n - at < INT_MAX ? n - at : INT_MAX);
        cnn_status st = cnn_mpi_check(ctx, MPI_Bcast(w + at, len, MPI_FLOAT, 0, ctx->comm),
                                      "MPI_Bcast of the initial weights");
        if (st != CNN_OK)
            return st;
    }
    return CNN_OK;
}

typedef struct relay {
    cnn_mpi_context *ctx;
    const cnn_train_params *user_params;
    int32_t comm_failed;   /* an MPI_Bcast inside a callback failed */
} relay;

/* Rank 0's verdict (0 = go on) to every process. */
static int32_t broadcast_verdict(relay *r, int32_t verdict)
{
    int v = verdict != 0;
    if (cnn_mpi_check(r->ctx, MPI_Bcast(&v, 1, MPI_INT, 0, r->ctx->comm),
                      "MPI_Bcast of a callback's verdict") != CNN_OK) {
        r->comm_failed = 1;
        return 1;
    }
    return v;
}

static int32_t relay_progress(const cnn_progress *pr, void *user)
{
    relay *r = user;
    const cnn_train_params *p = r->user_params;
    int32_t v = r->ctx->rank == 0 && p->on_progress ? p->on_progress(pr, p->user) : 0;
    return broadcast_verdict(r, v);
}

static int32_t relay_epoch(const cnn_epoch_report *rep, void *user)
{
    relay *r = user;
    const cnn_train_params *p = r->user_params;
    int32_t v = r->ctx->rank == 0 && p->on_epoch ? p->on_epoch(rep, p->user) : 0;
    return broadcast_verdict(r, v);
}

cnn_status cnn_mpi_shard_params(cnn_mpi_context *ctx, cnn_shard_params *shard)
{
    if (!ctx || !shard)
        return ctx ? cnn_mpi_fail(ctx, CNN_EINVAL, "cnn_mpi_shard_params: shard is NULL")
                   : CNN_EINVAL;
    if (shard->struct_size < sizeof *shard)
        return cnn_mpi_fail(ctx, CNN_EINVAL, "cnn_mpi_shard_params: struct_size %u, expected %zu "
                            "(use cnn_shard_params_init)", (unsigned)shard->struct_size,
                            sizeof *shard);
    cnn_shard_params_init(shard, ctx->rank, ctx->size);
    shard->reduce = cnn_mpi_reduce_fn;
    shard->user = ctx;
    return CNN_OK;
}

cnn_status cnn_mpi_train(cnn_mpi_context *ctx, cnn_net *net, cnn_optimizer *opt,
                         const cnn_dataset *train, const cnn_train_params *p,
                         cnn_train_result *result)
{
    if (!ctx)
        return CNN_EINVAL;
    if (!net || !opt || !train || !p)
        return cnn_mpi_fail(ctx, CNN_EINVAL, WHO ": %s is NULL", !net ? "network" : !opt ?
                            "optimizer" : !train ? "training set" : "params");
    if (p->struct_size < sizeof *p)
        return cnn_mpi_fail(ctx, CNN_EINVAL, WHO ": params struct_size %u, expected %zu (use "
                            "cnn_train_params_init)", (unsigned)p->struct_size, sizeof *p);
    ctx->errmsg[0] = '\0';
    cnn_status st = agree(ctx, net, opt, train, p);
    if (st == CNN_OK)
        st = share_weights(ctx, net);
    if (st != CNN_OK)
        return st;
    cnn_shard_params shard;
    cnn_shard_params_init(&shard, ctx->rank, ctx->size);
    cnn_mpi_shard_params(ctx, &shard);
    relay r = {.ctx = ctx, .user_params = p};
    cnn_train_params q = *p;
    q.on_progress = relay_progress;   /* on every rank: each call is a collective */
    q.on_epoch = relay_epoch;
    q.user = &r;
    if (ctx->rank != 0)
        q.checkpoint_path = NULL;     /* one writer; the others' state is the same */
    st = cnn_train_sharded(net, opt, train, &q, &shard, result);
    if (st != CNN_OK && !r.comm_failed && !ctx->errmsg[0])
        cnn_mpi_fail(ctx, st, "%s", cnn_net_errmsg(net));
    return st;
}

cnn_status cnn_mpi_gather(cnn_mpi_context *ctx, const float *mine, int64_t n, float *all)
{
    if (!ctx)
        return CNN_EINVAL;
    if (!mine || n < 0 || (ctx->rank == 0 && !all))
        return cnn_mpi_fail(ctx, CNN_EINVAL, "cnn_mpi_gather: %s", n < 0 ? "n < 0" :
                            !mine ? "mine is NULL" : "all is NULL on rank 0");
    if (n > INT_MAX)
        return cnn_mpi_fail(ctx, CNN_EINVAL, "cnn_mpi_gather: %lld floats exceed one MPI "
                            "message (%d)", (long long)n, INT_MAX);
    return cnn_mpi_check(ctx, MPI_Gather(mine, (int)n, MPI_FLOAT, all, (int)n, MPI_FLOAT, 0,
                                         ctx->comm), "MPI_Gather");
}
