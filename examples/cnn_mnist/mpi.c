/* cnn-mnist-mpi: cnn-mnist over MPI (libcnn-mpi), one process per rank:
 *
 *   mpirun -np N cnn-mnist-mpi [EXPERIMENT] --data-parallel [options]
 *       every net is trained by all ranks together: each rank computes the
 *       gradients of its piece of every mini-batch and the ranks sum them
 *       (cnn_mpi_train); all ranks hold the same weights throughout;
 *   mpirun -np N cnn-mnist-mpi ensemble [--ensemble K] [options]
 *       the K nets of an ensemble are spread over the ranks (net i on rank
 *       i mod N), each trained in one process; their test probabilities
 *       are gathered on rank 0, which votes and prints the same summary as
 *       cnn-mnist.
 * Without --data-parallel, a run of one net is data-parallel and a run of
 * several nets is ensemble-parallel.  Every other option is cnn-mnist's.
 * Rank 0 alone prints (the others' standard output goes to /dev/null; their
 * errors still reach standard error, prefixed with the rank) and writes the
 * shared files (CSV, pictures, data-parallel checkpoints and saves); each
 * rank loads the data set itself.  Rank 0 ends with the rank count and the
 * training throughput, in all and per rank.
 *
 * A failure on one rank can leave the others waiting in a collective, so
 * any failure but a bad command line (which every rank sees alike) ends the
 * whole job (cnn_mpi_abort) with the trainer's exit status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnn_mpi.h"
#include "frontend.h"
#include "member.h"
#include "options.h"
#include "predict.h"

#define EXIT_USAGE 2
#define HEADER_FLOATS 16 /* one net's figures, packed as floats (pack_member) */

typedef struct mpi_frontend {
    cnn_mpi_context *ctx;
    int rank, size;
    int data_parallel;
    /* Training throughput measured here (epoch reports: training only). */
    double images, seconds;
    int64_t train_count;
    /* Ensemble-parallel: every rank's images and seconds (rank 0 only). */
    double *rank_images, *rank_seconds;
    frontend fe;
} mpi_frontend;

/* The epoch callback's figures pass through here on their way to the
 * report, to count images and training seconds. */
typedef struct tap {
    mpi_frontend *m;
    const cnn_train_params *inner;
} tap;

static int32_t tap_progress(const cnn_progress *p, void *user)
{
    const tap *t = user;
    return t->inner->on_progress ? t->inner->on_progress(p, t->inner->user) : 0;
}

static int32_t tap_epoch(const cnn_epoch_report *e, void *user)
{
    const tap *t = user;
    t->m->images += (double)t->m->train_count;
    t->m->seconds += e->seconds;
    return t->inner->on_epoch ? t->inner->on_epoch(e, t->inner->user) : 0;
}

static cnn_status fe_train(void *self, cnn_net *net, cnn_optimizer *opt, const cnn_dataset *train,
                           const cnn_train_params *p, cnn_train_result *result)
{
    mpi_frontend *m = self;
    tap t = {.m = m, .inner = p};
    cnn_train_params q = *p;
    q.on_progress = tap_progress;
    q.on_epoch = tap_epoch;
    q.user = &t;
    m->train_count = cnn_dataset_count(train);
    if (!m->data_parallel)
        return cnn_train(net, opt, train, &q, result);
    cnn_status st = cnn_mpi_train(m->ctx, net, opt, train, &q, result);
    if (st != CNN_OK && st != CNN_ECANCELED)
        fprintf(stderr, "rank %d: %s\n", m->rank, cnn_mpi_errmsg(m->ctx));
    return st;
}

static int fe_owns(void *self, int32_t index)
{
    const mpi_frontend *m = self;
    return m->data_parallel || index % m->size == m->rank;
}

/* Doubles and ints travel as the bits of floats: the leader prints exactly
 * what the owner computed. */
static void put_double(float *at, double v) { memcpy(at, &v, sizeof v); }
static double get_double(const float *at) { double v; memcpy(&v, at, sizeof v); return v; }
static void put_int(float *at, int32_t v) { memcpy(at, &v, sizeof v); }
static int32_t get_int(const float *at) { int32_t v; memcpy(&v, at, sizeof v); return v; }

static void pack_member(const member *mb, int64_t ntest, float *out)
{
    put_double(out + 0, mb->final_validation);
    put_double(out + 2, mb->final_test);
    put_double(out + 4, mb->result.best_validation_accuracy);
    put_double(out + 6, mb->result.test_accuracy_at_best);
    put_double(out + 8, mb->result.final_train_cost);
    put_double(out + 10, mb->result.seconds);
    put_int(out + 12, mb->result.epochs_run);
    put_int(out + 13, mb->result.best_epoch);
    put_int(out + 14, mb->trained);
    put_int(out + 15, mb->canceled);
    if (mb->test_probs != NULL)
        memcpy(out + HEADER_FLOATS, mb->test_probs, (size_t)ntest * MNIST_CLASSES * sizeof *out);
}

static int unpack_member(member *mb, int32_t index, const float *in, int64_t ntest)
{
    memset(mb, 0, sizeof *mb);
    mb->index = index;
    mb->final_validation = get_double(in + 0);
    mb->final_test = get_double(in + 2);
    mb->result.struct_size = sizeof mb->result;
    mb->result.best_validation_accuracy = get_double(in + 4);
    mb->result.test_accuracy_at_best = get_double(in + 6);
    mb->result.final_train_cost = get_double(in + 8);
    mb->result.seconds = get_double(in + 10);
    mb->result.epochs_run = get_int(in + 12);
    mb->result.best_epoch = get_int(in + 13);
    mb->trained = get_int(in + 14);
    mb->canceled = get_int(in + 15);
    mb->test_probs = malloc((size_t)ntest * MNIST_CLASSES * sizeof *mb->test_probs);
    mb->test_pred = malloc((size_t)ntest * sizeof *mb->test_pred);
    if (mb->test_probs == NULL || mb->test_pred == NULL)
        return -1;
    memcpy(mb->test_probs, in + HEADER_FLOATS, (size_t)ntest * MNIST_CLASSES * sizeof *in);
    predict_argmax(mb->test_probs, ntest, MNIST_CLASSES, mb->test_pred);
    return 0;
}

/* Ensemble-parallel: the nets of round k (net k*size + r on rank r) are
 * gathered on rank 0 in one message per round; then every rank's
 * throughput figures. */
static int fe_collect(void *self, member *members, int32_t count, int64_t ntest, char *err,
                      size_t es)
{
    mpi_frontend *m = self;
    if (m->data_parallel)
        return 0;
    const int64_t per = HEADER_FLOATS + ntest * MNIST_CLASSES;
    float *mine = calloc((size_t)per, sizeof *mine);
    float *all = m->rank == 0 ? malloc((size_t)(per * m->size) * sizeof *all) : NULL;
    int rc = mine != NULL && (m->rank != 0 || all != NULL) ? 0 : -1;
    if (rc != 0)
        snprintf(err, es, "out of memory for the ensemble's probabilities");
    for (int32_t round = 0; rc == 0 && round * m->size < count; round++) {
        int32_t own = round * m->size + m->rank;
        memset(mine, 0, (size_t)per * sizeof *mine);
        if (own < count)
            pack_member(&members[own], ntest, mine);
        if (cnn_mpi_gather(m->ctx, mine, per, all) != CNN_OK) {
            snprintf(err, es, "gathering the ensemble: %s", cnn_mpi_errmsg(m->ctx));
            rc = -1;
            break;
        }
        for (int r = 1; m->rank == 0 && r < m->size; r++) {
            int32_t i = round * m->size + r;
            if (i < count && unpack_member(&members[i], i, all + (size_t)r * per, ntest) != 0) {
                snprintf(err, es, "out of memory for net %d's probabilities", (int)i + 1);
                rc = -1;
                break;
            }
        }
    }
    float fig[4];
    put_double(fig, m->images);
    put_double(fig + 2, m->seconds);
    float *figs = m->rank == 0 ? calloc((size_t)m->size * 4, sizeof *figs) : NULL;
    m->rank_images = m->rank == 0 ? calloc((size_t)m->size, sizeof(double)) : NULL;
    m->rank_seconds = m->rank == 0 ? calloc((size_t)m->size, sizeof(double)) : NULL;
    if (rc == 0 && m->rank == 0 && (figs == NULL || !m->rank_images || !m->rank_seconds)) {
        snprintf(err, es, "out of memory");
        rc = -1;
    }
    if (rc == 0 && cnn_mpi_gather(m->ctx, fig, 4, figs) != CNN_OK) {
        snprintf(err, es, "gathering throughput: %s", cnn_mpi_errmsg(m->ctx));
        rc = -1;
    }
    for (int r = 0; rc == 0 && m->rank == 0 && r < m->size; r++) {
        m->rank_images[r] = get_double(figs + 4 * r);
        m->rank_seconds[r] = get_double(figs + 4 * r + 2);
    }
    free(figs);
    free(mine);
    free(all);
    return rc;
}

static void fe_summary(void *self)
{
    const mpi_frontend *m = self;
    if (m->data_parallel) {
        double rate = m->seconds > 0 ? m->images / m->seconds : 0.0;
        printf("mpi: %d rank%s, data-parallel: %.0f img/s in all, %.0f img/s per rank "
               "(training only: %.0f images in %.1f s)\n", m->size, m->size > 1 ? "s" : "", rate,
               rate / m->size, m->images, m->seconds);
        return;
    }
    printf("mpi: %d rank%s, ensemble-parallel (net i on rank i mod %d); per rank:", m->size,
           m->size > 1 ? "s" : "", m->size);
    for (int r = 0; r < m->size && m->rank_images; r++)
        printf(" %d: %.0f img/s (%.1f s)", r,
               m->rank_seconds[r] > 0 ? m->rank_images[r] / m->rank_seconds[r] : 0.0,
               m->rank_seconds[r]);
    printf("\n");
}

int main(int argc, char **argv)
{
    cnn_mpi_context *ctx = NULL;
    if (cnn_mpi_context_create(&argc, &argv, &ctx) != CNN_OK) {
        fprintf(stderr, "cnn-mnist-mpi: %s\n", cnn_mpi_errmsg(NULL));
        return 1;
    }
    mpi_frontend m = {.ctx = ctx, .rank = cnn_mpi_rank(ctx), .size = cnn_mpi_size(ctx)};
    /* Our own flags out of argv; the rest is cnn-mnist's command line. */
    int data_parallel = 0, kept = 0;
    for (int i = 0; i < argc; i++) {
        if (i > 0 && strcmp(argv[i], "--data-parallel") == 0)
            data_parallel = 1;
        else if (i > 0 && strcmp(argv[i], "--mpi") == 0)
            continue; /* the mode this program is in anyway */
        else
            argv[kept++] = argv[i];
    }
    argc = kept;
    argv[argc] = NULL;
    options o;
    char err[1024];
    int parsed = options_parse(argc, argv, &o, err, sizeof err) == 0;
    m.data_parallel = data_parallel || !parsed || o.ensemble <= 1;
    if (parsed && !m.data_parallel && (o.csv_path != NULL || o.plot_png != NULL)) {
        if (m.rank == 0)
            fprintf(stderr, "cnn-mnist-mpi: --csv and --plot need every net's epochs on one "
                    "rank: use them with --data-parallel, or run the ensemble in cnn-mnist\n");
        cnn_mpi_context_destroy(ctx);
        return EXIT_USAGE;
    }
    if (m.rank != 0 && freopen("/dev/null", "w", stdout) == NULL) {
        fprintf(stderr, "rank %d: cannot silence standard output\n", m.rank);
        cnn_mpi_abort(ctx, 1);
    }
    m.fe = (frontend){.self = &m, .train = fe_train, .owns = fe_owns, .collect = fe_collect,
                      .summary = fe_summary, .leader = m.rank == 0};
    int status = mnist_main(argc, argv, "cnn-mnist-mpi", &m.fe);
    free(m.rank_images);
    free(m.rank_seconds);
    if (status != 0 && status != EXIT_USAGE) {
        fprintf(stderr, "cnn-mnist-mpi: rank %d stops the job with status %d\n", m.rank, status);
        fflush(NULL);
        cnn_mpi_abort(ctx, status);
    }
    cnn_mpi_context_destroy(ctx);
    return status;
}
