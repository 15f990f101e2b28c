/* The experiments of chapter 6 of Nielsen's "Neural Networks and Deep
 * Learning" (rows 1-11 of /work/shared/NIELSEN.md, i.e. the runs of his
 * network3.py), plus a short `quick` run, each buildable by name. */
#ifndef CNN_MNIST_EXPERIMENTS_H
#define CNN_MNIST_EXPERIMENTS_H

#include <stdint.h>
#include <stdio.h>

#include "cnn.h"

/* Beyond the chapter: a network built from batch-normalised convolutions
 * and a training recipe (optimizer, schedule, batch, augmentation) that the
 * command line can still override piece by piece. */
enum { ARCH_CHAPTER = 0, ARCH_MODERN, ARCH_DEEP };

typedef struct recipe {
    int32_t arch;          /* ARCH_* */
    int32_t optimizer;     /* OPTIMIZER_* (options.h) */
    float weight_decay;    /* Adam/AdamW */
    int32_t schedule;      /* ::cnn_schedule */
    float warmup;          /* one-cycle warm-up fraction */
    int32_t batch;
    /* Augmentation, each a symmetric range (0 = off). */
    float rotate, shift, scale, shear, elastic_alpha, elastic_sigma;
} recipe;

typedef struct experiment {
    const char *name;      /* what the user types */
    const char *row;       /* row of the chapter's table ("6", "8a"), "" if none */
    const char *reported;  /* the chapter's reported test accuracy */
    const char *summary;   /* one line: network and data */
    /* Network: `convs` conv+maxpool layers (20 then 40 maps, 5x5, pool 2x2),
     * then `fcs` fully connected layers of `fc_units`, then softmax 10. */
    int32_t convs;
    int32_t fcs;
    int32_t fc_units;
    int32_t activation;    /* ::cnn_activation of every hidden layer */
    float dropout;         /* on the input of each FC/softmax layer */
    int32_t init;          /* ::cnn_init of conv and FC layers */
    /* Training, as in the chapter (all overridable from the command line). */
    int32_t epochs;
    float eta;
    float lambda;
    int32_t expanded;      /* train on the 250k expanded set */
    int32_t ensemble;      /* nets voting (1 = a single net) */
    const recipe *recipe;  /* NULL for the chapter's rows */
} experiment;

/* The experiment called `name` (or whose row is `name`, e.g. "6", "8a"), or
 * NULL. */
const experiment *experiment_find(const char *name);

/* The experiment run when no name is given. */
const experiment *experiment_default(void);

/* Prints the table for --list. */
void experiment_list(FILE *out);

/* Builds the experiment's network for 1x28x28 inputs with weights drawn from
 * `seed`; `init` (::cnn_init, or -1 for the experiment's own) sets the conv
 * and FC layers' initialisation (the softmax layer always starts at 0, as in
 * network3).  On failure returns the status and leaves the library's
 * message in cnn_last_error(); *out is NULL. */
cnn_status experiment_build(const experiment *e, int32_t init, uint64_t seed, cnn_net **out);

/* A short description of `net`'s layers and shapes ("1x28x28 -> conv2d
 * 20x12x12 -> ..."), written into buf. */
void experiment_describe_net(cnn_net *net, char *buf, size_t size);

#endif
