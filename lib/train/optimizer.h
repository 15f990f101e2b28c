/* Optimizer internals shared by sgd.c and train.c. */
#ifndef CNN_OPTIMIZER_H
#define CNN_OPTIMIZER_H

#include "core.h"

struct cnn_optimizer {
    cnn_sgd_params p;
    float *velocity;          /* momentum state, one per parameter */
    int64_t velocity_len;
    int64_t batches_override; /* cnn_train's B while l2_batches is 0; 0 = none */
};

#endif
