/* Loads MNIST and cuts it the way network3.py does: training = images
 * [0, 50000) of the training file, validation = [50000, 60000), test = the
 * t10k file.  Slices share the loaded storage, so nothing is copied. */
#include "data.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define TRAIN_SPLIT 50000
#define VALIDATION_SIZE 10000

static int lib_fail(char *err, size_t size, const char *what, cnn_status st)
{
    snprintf(err, size, "%s: %s", what, cnn_last_error()[0] ? cnn_last_error() : cnn_status_string(st));
    return -1;
}

int mnist_load(const char *dir, int64_t train_size, int expanded, uint64_t seed,
               const cnn_augment_params *augment, mnist_splits *s, char *err, size_t es)
{
    struct stat sb;
    cnn_dataset *full = NULL, *base = NULL;
    cnn_status st;
    memset(s, 0, sizeof *s);

    /* A missing directory is the commonest mistake: say what to do. */
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(err, es, "MNIST directory '%s' not found (run scripts/fetch-mnist, or use --data DIR)", dir);
        return -1;
    }
    st = cnn_dataset_load_mnist(dir, CNN_MNIST_TRAIN, &full);
    if (st != CNN_OK)
        return lib_fail(err, es, "cannot load the MNIST training set", st);
    if (cnn_dataset_count(full) < TRAIN_SPLIT + VALIDATION_SIZE) {
        snprintf(err, es, "the MNIST training set in '%s' has %lld images, expected 60000", dir,
                 (long long)cnn_dataset_count(full));
        cnn_dataset_destroy(full);
        return -1;
    }
    int32_t shape[3];
    if (cnn_dataset_shape(full, shape) != CNN_OK || shape[0] != 1 || shape[1] != 28 || shape[2] != 28) {
        snprintf(err, es, "the MNIST training images in '%s' are not 1x28x28", dir);
        cnn_dataset_destroy(full);
        return -1;
    }
    st = cnn_dataset_slice(full, 0, train_size, &base);
    if (st == CNN_OK)
        st = cnn_dataset_slice(full, TRAIN_SPLIT, VALIDATION_SIZE, &s->validation);
    /* Slices stay valid after their parent is destroyed. */
    cnn_dataset_destroy(full);
    if (st != CNN_OK) {
        cnn_dataset_destroy(base);
        mnist_free(s);
        return lib_fail(err, es, "cannot split the training set", st);
    }
    s->base_train = train_size;
    if (expanded) {
        st = cnn_dataset_expand(base, seed, &s->train);
        cnn_dataset_destroy(base);
        if (st != CNN_OK) {
            mnist_free(s);
            return lib_fail(err, es, "cannot expand the training set", st);
        }
    } else {
        s->train = base;
    }
    if (augment) {
        s->plain_train = s->train;
        st = cnn_dataset_augment(s->plain_train, augment, &s->train);
        if (st != CNN_OK) {
            s->train = NULL;
            mnist_free(s);
            return lib_fail(err, es, "cannot augment the training set", st);
        }
    }
    st = cnn_dataset_load_mnist(dir, CNN_MNIST_TEST, &s->test);
    if (st != CNN_OK) {
        mnist_free(s);
        return lib_fail(err, es, "cannot load the MNIST test set", st);
    }
    if (cnn_dataset_shape(s->test, shape) != CNN_OK || shape[0] != 1 || shape[1] != 28 || shape[2] != 28) {
        snprintf(err, es, "the MNIST test images in '%s' are not 1x28x28", dir);
        mnist_free(s);
        return -1;
    }
    return 0;
}

void mnist_free(mnist_splits *s)
{
    cnn_dataset_destroy(s->train);
    cnn_dataset_destroy(s->plain_train);
    cnn_dataset_destroy(s->validation);
    cnn_dataset_destroy(s->test);
    memset(s, 0, sizeof *s);
}
