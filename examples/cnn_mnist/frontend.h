/* What differs between the plain trainer (cnn-mnist) and the MPI one
 * (cnn-mnist-mpi, mpi.c): how a net is trained, which nets this process
 * trains, how the others' results reach the process that reports, and
 * which process prints and writes shared files.  main.c holds the one flow
 * both run; plain.c passes NULL (every net here, cnn_train, this process
 * prints), so the plain trainer links no MPI. */
#ifndef CNN_MNIST_FRONTEND_H
#define CNN_MNIST_FRONTEND_H

#include <stddef.h>
#include <stdint.h>

#include "cnn.h"

struct member;

typedef struct frontend {
    void *self;
    /* Trains one net: cnn_train's contract. */
    cnn_status (*train)(void *self, cnn_net *net, cnn_optimizer *opt, const cnn_dataset *train,
                        const cnn_train_params *p, cnn_train_result *result);
    /* Non-zero if this process builds and trains net `index` (0-based). */
    int (*owns)(void *self, int32_t index);
    /* After every owned net is trained and evaluated: gives the leader the
     * figures and test probabilities (ntest x 10) of the nets others own.
     * -1 with a message on failure. */
    int (*collect)(void *self, struct member *members, int32_t count, int64_t ntest, char *err,
                   size_t err_size);
    /* Prints what the front end measured (leader only); may be NULL. */
    void (*summary)(void *self);
    int leader;      /* this process prints the summary, votes and writes shared files */
} frontend;

/* The whole run; returns the exit status.  fe NULL: the plain trainer. */
int mnist_main(int argc, char **argv, const char *prog, const frontend *fe);

#endif
