/* The chapter's pictures: first-layer filters, misclassified test digits,
 * and a validation-accuracy plot.  Each returns 0, or -1 with a one-line
 * message in err. */
#ifndef CNN_MNIST_PICTURES_H
#define CNN_MNIST_PICTURES_H

#include <stddef.h>
#include <stdint.h>

#include "cnn.h"
#include "report.h"

/* The first layer's weights as a grid of grey blocks, darker = larger
 * weight (one scale for the whole picture).  Conv filters are drawn as
 * stored (cross-correlation order; Theano would show them flipped); a first
 * fully connected layer on 28x28 inputs is drawn as one 28x28 block per
 * neuron. */
int picture_filters(cnn_net *net, const char *path, char *err, size_t err_size);

/* The test digits whose predicted label differs from the true one, black on
 * white in a grid, true label top right, prediction bottom right (at most
 * 400; *drawn receives how many, *total how many there are). */
int picture_errors(const cnn_dataset *test, const int32_t *predicted, const char *path,
                   int32_t *drawn, int64_t *total, char *err, size_t err_size);

/* Validation accuracy per epoch of each net (black: the first, greys: the
 * others). */
int picture_plot(const epoch_log *logs, int32_t nets, const char *path, char *err,
                 size_t err_size);

#endif
