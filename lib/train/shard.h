/* Sharded (data-parallel) training: what cnn_train_sharded adds to the
 * training loop of train.c.  The loop stays one loop; these helpers are the
 * places where a sharded step differs. */
#ifndef CNN_SHARD_H
#define CNN_SHARD_H

#include "net/net.h"
#include "optimizer.h"

/* Copies the caller's shard params into *q (defaults past its
 * struct_size) and checks them; errors go to net. */
cnn_status cnn_shard_read(cnn_net *net, const cnn_shard_params *p, cnn_shard_params *q);

/* This process's piece [*lo, *lo + *len) of a global batch of n examples. */
void cnn_shard_piece(const cnn_shard_params *s, int n, int *lo, int *len);

/* Dropout stream for one epoch of one rank. */
void cnn_shard_seed_epoch(const cnn_shard_params *s, cnn_net *net, uint64_t seed, int32_t epoch);

/* After a training forward of local_n examples (none when local_n is 0):
 * backward without the fused update, the reduction of gradients and cost
 * over the shards, then the optimizer's update. */
cnn_status cnn_shard_step(const cnn_shard_params *s, cnn_optimizer *opt, cnn_net *net,
                          const int32_t *labels, int local_n, int global_n, double *cost);

/* Averages the network's running statistics over the shards (end of epoch). */
cnn_status cnn_shard_sync_state(const cnn_shard_params *s, cnn_net *net);

#endif
