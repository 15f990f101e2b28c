/* Optimizer internals shared by sgd.c and train.c. */
#ifndef CNN_OPTIMIZER_H
#define CNN_OPTIMIZER_H

#include "core.h"

struct cnn_optimizer {
    cnn_sgd_params p;
    float *velocity;          /* momentum state, one per parameter */
    int64_t velocity_len;
    int64_t batches_override; /* cnn_train's B while l2_batches is 0; 0 = none */
    int64_t n_params;         /* parameters of the network it first stepped; 0 = none yet */
};

/* After a training-mode forward of net: backward, then the update; with
 * plain SGD the two fused where a layer can (cnn_net_backward_sgd).  Shared
 * by cnn_train_step and cnn_train's loop so both take the fast path. */
cnn_status cnn_optimizer_backward_step(cnn_optimizer *opt, cnn_net *net,
                                       const int32_t *labels, double *cost);

#endif
