/* One network of a run: build or load it, train it, evaluate it, save it. */
#ifndef CNN_MNIST_MEMBER_H
#define CNN_MNIST_MEMBER_H

#include <stddef.h>
#include <stdint.h>

#include "cnn.h"
#include "data.h"
#include "frontend.h"
#include "options.h"
#include "report.h"

#define MNIST_CLASSES 10

typedef struct member {
    int32_t index;              /* 0-based */
    uint64_t seed;              /* weights and training randomness */
    cnn_net *net;
    int trained;                /* cnn_train ran (possibly canceled) */
    int canceled;               /* stopped by the user */
    cnn_train_result result;    /* valid when trained */
    double final_validation;    /* accuracy of the net as it ends */
    double final_test;
    float *test_probs;          /* test count x MNIST_CLASSES; NULL unless the vote
                                   or the errors picture needs it */
    int32_t *test_pred;         /* argmax of test_probs */
    epoch_log log;
} member;

/* Creates member `index`'s net: options' --load file, or the experiment
 * built with seed + index.  On failure writes one line into err and returns
 * -1 (call member_free anyway). */
int member_create(member *m, int32_t index, const options *o, char *err, size_t err_size);

/* Trains the net if options ask for epochs, then evaluates the final net.
 * -1 with a message on failure.  A user interrupt (*rep->stop set, checked
 * by training and between evaluation batches) is not a failure:
 * m->canceled is set and the evaluation is not finished.  fe trains (NULL:
 * cnn_train). */
int member_run(member *m, const options *o, const mnist_splits *d, report *rep,
               const frontend *fe, char *err, size_t err_size);

/* Saves the member's net to `path` (for an ensemble, with "-N" inserted
 * before the extension).  -1 with a message on failure; *saved_as receives
 * the name used (caller frees). */
int member_save(const member *m, const options *o, int onnx, char **saved_as, char *err,
                size_t err_size);

void member_free(member *m);

/* The name member `number` (1-based) of an ensemble uses for a file named
 * on the command line: "dir/net.cnn" -> "dir/net-3.cnn"; "net" -> "net-3".
 * malloc'd; NULL when out of memory. */
char *member_path(const char *path, int32_t number);

#endif
