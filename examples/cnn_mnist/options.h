/* Command line of cnn-mnist: parsing and checking, nothing else. */
#ifndef CNN_MNIST_OPTIONS_H
#define CNN_MNIST_OPTIONS_H

#include <stdint.h>

#include "experiments.h"

#define OPT_MAX_LOADS 64

enum { OPTIMIZER_SGD, OPTIMIZER_NESTEROV, OPTIMIZER_ADAM, OPTIMIZER_ADAMW };

typedef struct options {
    const experiment *exp;   /* the experiment named (or the default) */
    /* Effective hyperparameters: the experiment's unless overridden. */
    int32_t epochs;
    int epochs_given;        /* --epochs appeared (matters with --load) */
    float eta;
    float lambda;
    float momentum;          /* SGD momentum, 0 unless --momentum */
    int32_t optimizer;       /* OPTIMIZER_* of --optimizer; default SGD */
    float weight_decay;      /* Adam/AdamW weight decay, 0 unless --weight-decay */
    int32_t schedule;        /* ::cnn_schedule of --schedule; default constant */
    float warmup;            /* one-cycle warm-up fraction (--warmup); default 0.3 */
    int32_t batch;
    uint64_t seed;
    int32_t threads;
    int32_t init;            /* ::cnn_init of conv and FC layers; -1: the experiment's */
    int64_t train_size;      /* images of the 50k training split used (before expansion) */
    int expanded;
    int augmented;           /* an augmentation option appeared: train on the fly */
    cnn_augment_params augment; /* --rotate, --scale-range, ...; seed = --seed */
    int shuffle;
    int32_t ensemble;        /* nets to train (ignored when --load is given) */
    const char *data_dir;
    const char *csv_path;
    const char *save_path;
    const char *checkpoint_path; /* --checkpoint: written after every epoch */
    const char *resume_path;     /* --resume: continue the run saved there */
    const char *export_onnx_path; /* --export-onnx: the final net(s) as ONNX */
    const char *load_paths[OPT_MAX_LOADS];
    unsigned char load_onnx[OPT_MAX_LOADS]; /* this one came from --import-onnx */
    int32_t loads;
    const char *filters_png;
    const char *errors_png;
    const char *plot_png;
    double require_accuracy; /* < 0: none */
    int quiet;
    int list;
    int help;
} options;

/* Fills `o` from argv.  On a bad command line writes one line naming the
 * problem into err and returns -1. */
int options_parse(int argc, char **argv, options *o, char *err, size_t err_size);

/* The --help text. */
void options_usage(const char *prog);

#endif
