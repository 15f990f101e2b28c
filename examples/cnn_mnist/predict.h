/* Class probabilities and predictions over a whole dataset, and the
 * ensemble's combined predictions. */
#ifndef CNN_MNIST_PREDICT_H
#define CNN_MNIST_PREDICT_H

#include <signal.h>
#include <stdint.h>

#include "cnn.h"

/* Runs `net` in inference mode over every example of `ds`, `batch` at a
 * time, writing count x classes softmax outputs to probs.  Returns
 * CNN_ECANCELED, before the next batch, once *stop is non-zero (stop may
 * be NULL). */
cnn_status predict_probs(cnn_net *net, const cnn_dataset *ds, int32_t batch, int32_t classes,
                         const volatile sig_atomic_t *stop, float *probs);

/* labels[i] = argmax of row i (lowest index on ties, like cnn_net_predict). */
void predict_argmax(const float *probs, int64_t count, int32_t classes, int32_t *labels);

/* The ensemble's labels: plurality vote of the members' argmaxes with
 * vote.h's tie rule.  member_probs[m] is member m's count x classes output.
 * *disagreed (may be NULL) = examples on which the members' argmaxes were
 * not unanimous.  -1 if a vote could not be taken (bad sizes). */
int predict_vote(const float *const *member_probs, int32_t members, int64_t count,
                 int32_t classes, int32_t *labels, int64_t *disagreed);

/* Fraction of `ds` whose label equals labels[i]; -1 on error. */
double predict_accuracy(const cnn_dataset *ds, const int32_t *labels, int64_t *errors);

#endif
