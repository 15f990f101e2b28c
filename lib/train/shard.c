/* Sharded training (cnn_train_sharded): each of count processes trains on a
 * contiguous piece of every global mini-batch, and a caller-supplied
 * reduction (libcnn-mpi's, in practice) turns the pieces' mean gradients
 * into the global batch's mean gradient before the shared update.  The core
 * library knows nothing of the transport: it only promises to call reduce
 * at the same points on every process, with the same sizes. */
#include "shard.h"

#include <stddef.h>
#include <string.h>

#define WHO "cnn_train_sharded"

/* Dropout streams of sharded runs: far from net.c's single-process stream
 * so that no (rank, epoch) pair reproduces it. */
#define SHARD_DROPOUT_STREAM UINT64_C(0x5ba2d0000000000)

cnn_status cnn_shard_params_init_sized(cnn_shard_params *p, size_t struct_size, int32_t rank,
                                       int32_t count)
{
    cnn_shard_params d;
    memset(&d, 0, sizeof d);
    d.rank = rank;
    d.count = count;
    return cnn_params_copy_out("cnn_shard_params_init", p, struct_size, &d, sizeof d, sizeof d);
}

cnn_status cnn_shard_read(cnn_net *net, const cnn_shard_params *p, cnn_shard_params *q)
{
    if (p->struct_size < sizeof *q)
        return cnn_net_fail(net, CNN_EINVAL, WHO ": shard struct_size %u, expected %zu (use "
                            "cnn_shard_params_init)", (unsigned)p->struct_size, sizeof *q);
    memcpy(q, p, sizeof *q);
    q->struct_size = sizeof *q;
    if (q->count < 1 || q->rank < 0 || q->rank >= q->count)
        return cnn_net_fail(net, CNN_EINVAL, WHO ": rank %d of %d: need count >= 1 and "
                            "0 <= rank < count", (int)q->rank, (int)q->count);
    if (q->count > 1 && !q->reduce)
        return cnn_net_fail(net, CNN_EINVAL, WHO ": %d shards but no reduce function: the "
                            "processes' gradients would never meet", (int)q->count);
    return CNN_OK;
}

void cnn_shard_piece(const cnn_shard_params *s, int n, int *lo, int *len)
{
    /* Piece r is [n*r/count, n*(r+1)/count): sizes differ by at most one
     * and the pieces tile the batch in rank order. */
    int64_t a = (int64_t)n * s->rank / s->count, b = (int64_t)n * (s->rank + 1) / s->count;
    *lo = (int)a;
    *len = (int)(b - a);
}

void cnn_shard_seed_epoch(const cnn_shard_params *s, cnn_net *net, uint64_t seed, int32_t epoch)
{
    /* A function of (seed, rank, epoch) only: a resumed run reseeds to the
     * same stream without per-rank state in the checkpoint. */
    uint64_t stream = SHARD_DROPOUT_STREAM ^ ((uint64_t)(uint32_t)epoch << 24) ^
                      (uint64_t)(uint32_t)s->rank;
    cnn_rng_seed_stream(&net->rng, seed, stream);
}

static cnn_status reduce(const cnn_shard_params *s, cnn_net *net, const char *what, float *v,
                         int64_t n, double *cost, int local, int global)
{
    if (!s->reduce)
        return CNN_OK; /* one shard: nothing to combine */
    int32_t rc = s->reduce(v, n, cost, local, global, s->user);
    if (rc != 0)
        return cnn_net_fail(net, CNN_ECANCELED, WHO ": the reduce function returned %d for the "
                            "%s (rank %d of %d)", (int)rc, what, (int)s->rank, (int)s->count);
    return CNN_OK;
}

cnn_status cnn_shard_step(const cnn_shard_params *s, cnn_optimizer *opt, cnn_net *net,
                          const int32_t *labels, int local_n, int global_n, double *cost)
{
    cnn_status st = CNN_OK;
    *cost = 0.0;
    if (local_n > 0)
        st = cnn_net_backward_fused(net, labels, cost, NULL);
    else /* an empty piece contributes nothing (weight 0) but still takes part */
        memset(net->grads, 0, (size_t)net->n_params * sizeof *net->grads);
    if (st == CNN_OK)
        st = reduce(s, net, "gradients", net->grads, net->n_params, cost, local_n, global_n);
    if (st == CNN_OK)
        st = cnn_optimizer_update(opt, net);
    return st;
}

cnn_status cnn_shard_sync_state(const cnn_shard_params *s, cnn_net *net)
{
    if (net->n_state == 0)
        return CNN_OK;
    return reduce(s, net, "running statistics", net->state, net->n_state, NULL, 1, s->count);
}
