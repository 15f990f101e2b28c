/* The checkpoint format, version 2 (docs/format.md, "Checkpoint format", is
 * the specification; keep the two in step): everything cnn_train() needs to
 * continue a run as if it had never stopped.
 *
 *   header        32 bytes   magic "CNNCKPT\0", version, file size,
 *                            state record length, model length M
 *   model          M bytes   the network, exactly as cnn_net_save_buffer()
 *                            writes it (a complete model file, own CRC)
 *   state record 232 bytes   settings, optimizer, generators, bookkeeping,
 *                            (v2) optimizer and schedule settings
 *   opt. state    4V bytes   f32 optimizer state, V = 0 or k x the parameter
 *                            count (SGD momentum: k = 1; Adam m, v: k = 2)
 *   order         4K bytes   u32 example order, K = 0 or the example count
 *   CRC-32         4 bytes   over every byte before it
 *
 * Version 1 (168-byte record, SGD only) is still read; it is not written.
 * Used by lib/train/train.c; the file is written and read here. */
#ifndef CNN_IO_CHECKPOINT_H
#define CNN_IO_CHECKPOINT_H

#include "core.h"

#include <stdint.h>

#define CNNC_MAGIC "CNNCKPT" /* plus its terminating NUL: 8 bytes */
#define CNNC_MAGIC_LEN 8
#define CNNC_VERSION 2u

#define CNNC_OFF_VERSION 8
#define CNNC_OFF_FILE_SIZE 12
#define CNNC_OFF_STATE_LEN 20
#define CNNC_OFF_MODEL_LEN 24
#define CNNC_OFF_MODEL 32
#define CNNC_STATE_LEN_V1 168u
#define CNNC_STATE_LEN_V2 232u
#define CNNC_CRC_LEN 4u

/* Optimizer kind codes of the format. */
enum { CNNC_OPT_SGD = 1, CNNC_OPT_ADAM = 2 };

/* A training state.  For cnn_ckpt_save() the pointers are borrowed; after
 * cnn_ckpt_load() they belong to the struct (cnn_ckpt_free()). */
typedef struct cnn_ckpt {
    int32_t epoch;           /* epochs completed, >= 1 */
    int32_t batch_size;
    int32_t shuffle;         /* 0 or 1 */
    uint64_t seed;           /* cnn_train_params::seed */
    int64_t count;           /* training examples */
    int64_t n_params;
    uint32_t opt_kind;       /* CNNC_OPT_* */
    float learning_rate;     /* as created */
    float momentum, l2;      /* SGD; Adam: 0 and the weight decay */
    int64_t l2_batches;      /* as given to cnn_sgd_create() (0 = cnn_train's B); Adam 0 */
    int32_t opt_flag;        /* SGD: nesterov; Adam: decoupled (0 or 1) */
    float beta1, beta2, epsilon; /* Adam; SGD 0 */
    float current_lr;        /* the rate the next step uses */
    int64_t opt_steps;       /* updates applied so far */
    int32_t schedule, schedule_step, schedule_step_epochs;
    float schedule_gamma, warmup_fraction, initial_lr_fraction, final_lr_fraction;
    int32_t run_epochs;      /* cnn_train_params::epochs of the run that wrote it (v1: 0) */
    cnn_rng shuffle_rng;
    cnn_rng dropout_rng;
    int32_t best_epoch;
    double best_validation_accuracy;
    double test_accuracy_at_best;
    double final_train_cost;
    float *velocity;         /* velocity_len floats of optimizer state, or NULL */
    int64_t velocity_len;    /* 0 or buffers x n_params (SGD: 1, Adam: 2, m then v) */
    int64_t *order;          /* order_len indices, or NULL */
    int64_t order_len;       /* 0 or count */
    cnn_net *model;          /* load only: the network stored */
} cnn_ckpt;

/* Writes `c` and `net` to path atomically (file_io.h).  Messages start
 * with `who`.  CNN_EINVAL (the network or state cannot be stored),
 * CNN_EIO, CNN_ENOMEM; path is untouched on failure. */
cnn_status cnn_ckpt_save(const char *who, const cnn_net *net, const cnn_ckpt *c,
                         const char *path);

/* Reads and validates a checkpoint into *c (zeroed first; on failure
 * nothing is left to free), its model within `limits` (NULL: the defaults;
 * cnn_train passes the resumed network's own).  CNN_EIO, CNN_EFORMAT, CNN_ECHECKSUM,
 * CNN_EVERSION, CNN_ENOMEM; messages start with `who` and name the file. */
cnn_status cnn_ckpt_load(const char *who, const char *path, const cnn_load_limits *limits,
                         cnn_ckpt *c);

/* Frees what cnn_ckpt_load() allocated and zeroes *c. */
void cnn_ckpt_free(cnn_ckpt *c);

#endif /* CNN_IO_CHECKPOINT_H */
