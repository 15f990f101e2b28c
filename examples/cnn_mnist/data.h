/* The MNIST splits of chapter 6: training (first 50k of the training file,
 * optionally cut shorter and/or expanded 5x), validation (its last 10k) and
 * test (t10k). */
#ifndef CNN_MNIST_DATA_H
#define CNN_MNIST_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "cnn.h"

typedef struct mnist_splits {
    cnn_dataset *train;       /* what training iterates over */
    cnn_dataset *plain_train; /* train before augmentation (NULL when not augmented):
                                 ensemble members augment it with their own seeds */
    cnn_dataset *validation;
    cnn_dataset *test;
    int64_t base_train;       /* training images before expansion */
} mnist_splits;

/* Loads the splits from `dir`.  On failure writes one line into err
 * (naming the directory or file and the library's reason) and returns -1;
 * augment, when not NULL, makes the training set augmented on the fly
 * (after the expansion, if any);
 * nothing is left allocated. */
int mnist_load(const char *dir, int64_t train_size, int expanded, uint64_t seed,
               const cnn_augment_params *augment, mnist_splits *s, char *err, size_t err_size);

void mnist_free(mnist_splits *s);

#endif
