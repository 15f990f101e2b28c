/* Optimizer internals shared by sgd.c, adam.c and train.c. */
#ifndef CNN_OPTIMIZER_H
#define CNN_OPTIMIZER_H

#include "core.h"

/* Optimizer kinds; equal to the checkpoint format's kind codes. */
enum { CNN_OPT_KIND_SGD = 1, CNN_OPT_KIND_ADAM = 2 };

struct cnn_optimizer {
    int32_t kind;             /* CNN_OPT_KIND_* */
    cnn_sgd_params p;         /* SGD: as created (learning_rate is the creation rate) */
    cnn_adam_params a;        /* Adam: as created */
    float lr;                 /* the rate the next step uses (cnn_optimizer_set_learning_rate) */
    float *velocity;          /* SGD: momentum; Adam: first moment m; one per parameter */
    float *second;            /* Adam: second moment v; NULL for SGD */
    int64_t velocity_len;     /* length of velocity (and second), 0 = not yet allocated */
    int64_t steps;            /* updates applied (Adam's t before the next step) */
    int64_t batches_override; /* cnn_train's B while l2_batches is 0; 0 = none */
    int64_t n_params;         /* parameters of the network it first stepped; 0 = none yet */
};

/* Buffers of n_params floats the optimizer's state holds once it has
 * stepped: SGD with momentum 1, SGD without 0, Adam 2 (m then v). */
int32_t cnn_optimizer_state_buffers(const cnn_optimizer *opt);

/* After a training-mode forward of net: backward, then the update; with
 * plain SGD the two fused where a layer can (cnn_net_backward_fused).  Shared
 * by cnn_train_step and cnn_train's loop so both take the fast path. */
cnn_status cnn_optimizer_backward_step(cnn_optimizer *opt, cnn_net *net,
                                       const int32_t *labels, double *cost);

/* The update of net from its stored gradients (every layer, nothing fused),
 * without cnn_optimizer_step's finiteness pass: sharded training, whose
 * gradients were reduced across processes in between. */
cnn_status cnn_optimizer_update(cnn_optimizer *opt, cnn_net *net);

/* Adam's update of net from its gradients (adam.c). */
cnn_status cnn_adam_update(cnn_optimizer *opt, cnn_net *net);

#endif
