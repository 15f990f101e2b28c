/* Helpers of the MPI tests (test_mpi.c, mpi_resume.c): small networks and
 * synthetic data built through the public API only, and the cross-rank
 * comparisons.  Every rank builds the same objects from the same seeds. */
#ifndef MPI_TESTKIT_H
#define MPI_TESTKIT_H

#include <cnn.h>
#include <cnn_mpi.h>
#include <stdbool.h>

/* Exits the whole job with the library's message (a setup failure, not a
 * test verdict). */
#define KIT_CHECK(call) kit_check((call), #call, __FILE__, __LINE__)
void kit_check(cnn_status st, const char *what, const char *file, int line);

/* count examples of 1x8x8 in 4 classes; identical = every example is the
 * same image with label 0 (so per-rank gradients differ only by dropout). */
cnn_dataset *kit_dataset(int64_t count, uint64_t seed, bool identical);

/* Network kinds of the tests. */
enum { KIT_NET_CONV, KIT_NET_DROPOUT, KIT_NET_BATCHNORM };
/* conv 4x3x3 (+ maxpool 2) -> [batchnorm] -> dense 16 [dropout 0.5] -> softmax 4 */
cnn_net *kit_net(int kind, uint64_t seed);

/* Optimizer kinds of the tests. */
enum { KIT_OPT_SGD, KIT_OPT_MOMENTUM, KIT_OPT_NESTEROV, KIT_OPT_ADAM, KIT_OPT_COUNT };
extern const char *const kit_opt_names[KIT_OPT_COUNT];
cnn_optimizer *kit_optimizer(int kind);

/* True on every rank iff every rank's n floats equal rank 0's bit for bit. */
bool kit_same_on_all_ranks(cnn_mpi_context *ctx, const float *v, int64_t n);

#endif
