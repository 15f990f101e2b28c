/**
 * @file cnn_mpi.h
 * @brief libcnn-mpi: libcnn training over MPI (data-parallel and ensembles).
 *
 * An optional companion of libcnn, built when MPI is found (meson option
 * `mpi`).  Link with `pkg-config --cflags --libs cnn-mpi`; run the program
 * with `mpirun -np N`.  The core libcnn.so never links MPI: it offers a
 * transport-free hook, cnn_train_sharded(), and this library fills it with
 * an MPI reduction.  The header names no MPI type, so a program that uses
 * only these functions needs no MPI header of its own.
 *
 * Rules (as in cnn.h): every fallible call returns a ::cnn_status; the
 * message of a failure of a `cnn_mpi_*` call is cnn_mpi_errmsg() of its
 * context; nothing prints, exits or aborts except cnn_mpi_abort().
 *
 * **Collectives.**  Every function below marked *collective* must be
 * called by every process of the context, in the same order, with
 * matching arguments, or the processes wait for each other forever.  After
 * a collective call failed on some processes only (a local error, such as
 * a checkpoint that could not be written), the others may be waiting
 * inside the next collective: end the job with cnn_mpi_abort().
 *
 * **Reduction order.**  Gradients are summed with a ring reduce-scatter
 * followed by a ring allgather, written on MPI_Sendrecv with a fixed
 * schedule: slice k of the vector is always summed in the order
 * k, k+1, ..., k-1 (mod size), and every process then copies the same
 * summed slices.  So every process holds the same bits, and a run with
 * the same process count, seed and build is reproducible bit for bit.
 * MPI_Allreduce is not used: MPI leaves its summation order open.
 *
 * @since 1.2
 */
#ifndef CNN_MPI_H
#define CNN_MPI_H

#include <cnn.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @cond INTERNAL */
#if defined(CNN_MPI_BUILDING_LIBRARY) && defined(__GNUC__)
#  define CNN_MPI_API __attribute__((visibility("default")))
#else
#  define CNN_MPI_API
#endif
/** @endcond */

/** A process's view of the job: MPI_COMM_WORLD duplicated, its rank and
 *  size, and scratch for the reduction.  @since 1.2 */
typedef struct cnn_mpi_context cnn_mpi_context;

/**
 * Joins the MPI job (collective).  Initialises MPI unless the program already
 * did (then the program finalises it, too), and duplicates MPI_COMM_WORLD, on
 * which MPI errors are returned rather than fatal.
 * @param argc may be NULL (MPI_Init's arguments)
 * @param argv may be NULL
 * @param out  receives the context, owned: cnn_mpi_context_destroy()
 * @return #CNN_OK, #CNN_EINVAL (@p out NULL), #CNN_ENOMEM, #CNN_EIO (MPI
 *         failed; the message is in cnn_mpi_errmsg(NULL))
 * @since 1.2
 */
CNN_MPI_API cnn_status cnn_mpi_context_create(int *argc, char ***argv, cnn_mpi_context **out);

/** Leaves the job (collective); finalises MPI if cnn_mpi_context_create()
 *  initialised it.  NULL is a no-op.  @since 1.2 */
CNN_MPI_API void cnn_mpi_context_destroy(cnn_mpi_context *ctx);

/** This process's rank, 0 .. size-1; -1 for NULL.  @since 1.2 */
CNN_MPI_API int32_t cnn_mpi_rank(const cnn_mpi_context *ctx);
/** The number of processes; 0 for NULL.  @since 1.2 */
CNN_MPI_API int32_t cnn_mpi_size(const cnn_mpi_context *ctx);

/** The message of the context's last failure ("" if none); borrowed, valid
 *  until the next call on @p ctx.  NULL gives the message of the last
 *  failed cnn_mpi_context_create() on this thread.  @since 1.2 */
CNN_MPI_API const char *cnn_mpi_errmsg(const cnn_mpi_context *ctx);

/**
 * Ends the whole job with @p status as exit code (MPI_Abort): what a
 * program does after a collective failed on some processes only.  Does
 * not return.  @since 1.2
 */
CNN_MPI_API void cnn_mpi_abort(cnn_mpi_context *ctx, int32_t status);

/**
 * Fills @p shard for cnn_train_sharded(): this process's rank, the size, and
 * the context's deterministic reduction (ring, see above) as @c reduce.  For
 * callers who drive cnn_train_sharded() themselves; cnn_mpi_train() does
 * this and more.  @p ctx is borrowed by @p shard and must outlive its use.
 * @return #CNN_OK, #CNN_EINVAL (NULL, or shard->struct_size too small)
 * @since 1.2
 */
CNN_MPI_API cnn_status cnn_mpi_shard_params(cnn_mpi_context *ctx, cnn_shard_params *shard);

/**
 * Synchronous data-parallel training of @p net (collective): cnn_train_sharded()
 * with this process's shard and the ring reduction, plus:
 * - first, the processes check that they agree on the run (parameter
 *   count, training-set size, epochs, batch size, seed, shuffling,
 *   progress_every, whether they resume, the optimizer's kind) and fail all
 *   together with #CNN_EINVAL if not; then rank 0's parameters are copied
 *   to every process (MPI_Bcast), so all start from the same weights;
 * - only rank 0 writes cnn_train_params::checkpoint_path (atomically, as
 *   cnn_train() does); every process reads cnn_train_params::resume_path,
 *   which must therefore be on a file system all of them see;
 * - the progress and epoch callbacks run on rank 0 only; what they return
 *   is broadcast, so a cancel stops every process at the same step
 *   (#CNN_ECANCELED everywhere).
 * Each process reads its own training set (all the same examples in the
 * same order): only its piece of each batch is ever gathered, nothing is
 * sent through rank 0.
 * @param ctx    the context
 * @param net    the network, the same architecture on every process
 * @param opt    its optimizer, the same settings on every process
 * @param train  the training set, the same examples on every process
 * @param p      a cnn_train_params of this header (struct_size = its sizeof)
 * @param result may be NULL; filled on every process (the same figures)
 * @return as cnn_train_sharded(); #CNN_EIO when MPI fails.  The message is
 *         in cnn_mpi_errmsg(ctx) (and, for errors of training itself, in
 *         cnn_net_errmsg(net)).
 * @since 1.2
 */
CNN_MPI_API cnn_status cnn_mpi_train(cnn_mpi_context *ctx, cnn_net *net, cnn_optimizer *opt,
                                     const cnn_dataset *train, const cnn_train_params *p,
                                     cnn_train_result *result);

/**
 * Gathers @p n floats from every process onto rank 0 (collective), for
 * ensembles: each process sends its members' probabilities, rank 0 combines
 * them in member order.
 * @param ctx  the context
 * @param mine @p n floats, read on every process
 * @param n    floats each process sends, >= 0
 * @param all  rank 0: room for size * n floats, written in rank order
 *             (process r's at all + r*n); ignored (may be NULL) elsewhere
 * @return #CNN_OK, #CNN_EINVAL (NULL or n < 0, n too large for one MPI
 *         message), #CNN_EIO
 * @since 1.2
 */
CNN_MPI_API cnn_status cnn_mpi_gather(cnn_mpi_context *ctx, const float *mine, int64_t n,
                                      float *all);

/**
 * Sum of @p value over the processes, added in rank order so every process
 * gets the same bits (collective); for counters and timings.
 * @return #CNN_OK, #CNN_EINVAL (NULL), #CNN_EIO
 * @since 1.2
 */
CNN_MPI_API cnn_status cnn_mpi_sum(cnn_mpi_context *ctx, double value, double *sum);

#ifdef __cplusplus
}
#endif

#endif /* CNN_MPI_H */
