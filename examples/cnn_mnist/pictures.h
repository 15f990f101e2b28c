/* The chapter's pictures: first-layer filters, misclassified test digits,
 * and the training history.  Each returns 0, or -1 with a one-line message
 * in err; odd input (no errors, one epoch, huge or NaN weights or costs)
 * gives a picture that says so rather than a failure. */
#ifndef CNN_MNIST_PICTURES_H
#define CNN_MNIST_PICTURES_H

#include <stddef.h>
#include <stdint.h>

#include "cnn.h"
#include "report.h"

/* The first layer's weights as a grid of grey tiles upscaled to at least
 * 48 pixels (nearest neighbour), darker = larger weight on one scale for
 * the whole picture, with a ramp giving the weights of white and black.
 * Conv filters are drawn as stored (cross-correlation order; Theano would
 * show them flipped), input channel 0 only; a first fully connected layer
 * on 1-channel images is drawn as one image-sized tile per neuron.
 * Non-finite weights are drawn in red; *nonfinite receives how many of the
 * weights drawn there are. */
int picture_filters(cnn_net *net, const char *path, int64_t *nonfinite, char *err,
                    size_t err_size);

/* The test digits whose predicted label differs from the true one (at most
 * 400), black on white, each in a framed cell with the true label top right
 * in blue and the prediction bottom right in vermillion, under a legend;
 * *drawn receives how many are drawn, *total how many there are. */
int picture_errors(const cnn_dataset *test, const int32_t *predicted, const char *path,
                   int32_t *drawn, int64_t *total, char *err, size_t err_size);

/* The training history of `nets` nets: training cost (per epoch and per
 * stretch between progress reports) above, validation and test accuracy
 * per epoch below, net 1 in colour and the other nets' validation in grey,
 * net 1's best-validation epoch marked and its figures written on top. */
int picture_plot(const epoch_log *logs, int32_t nets, const char *path, char *err,
                 size_t err_size);

#endif
