/* The kill-and-resume test's training program (run_mpi_tests.sh):
 *   mpi_resume DIR EPOCHS [resume]
 * trains the dropout test net with momentum over MPI for EPOCHS epochs,
 * checkpointing to DIR/ckpt.cnn after every epoch (rank 0) and resuming
 * from it with "resume"; rank 0 saves the final model to DIR/final.cnn.
 * Every rank writes its pid to DIR/pid.RANK, and rank 0 writes
 * DIR/epoch.N after epoch N so the script knows when to kill.  Each step
 * sleeps a little (on rank 0, which holds up the others at the next
 * reduction) so that a run lasts long enough to be killed mid-way. */
#include "mpi_testkit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct run {
    const char *dir;
} run;

static int32_t on_epoch(const cnn_epoch_report *rep, void *user)
{
    const run *r = user;
    char path[512];
    snprintf(path, sizeof path, "%s/epoch.%d", r->dir, (int)rep->epoch);
    FILE *f = fopen(path, "w");
    if (f)
        fclose(f);
    printf("epoch %d of %d: cost %.6f\n", (int)rep->epoch, (int)rep->epochs, rep->train_cost);
    fflush(stdout);
    return 0;
}

static int32_t on_progress(const cnn_progress *p, void *user)
{
    (void)p;
    (void)user;
    struct timespec ts = {0, 20 * 1000 * 1000}; /* 20 ms a step */
    nanosleep(&ts, NULL);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: mpi_resume DIR EPOCHS [resume]\n");
        return 2;
    }
    cnn_mpi_context *ctx;
    if (cnn_mpi_context_create(&argc, &argv, &ctx) != CNN_OK) {
        fprintf(stderr, "cnn_mpi_context_create: %s\n", cnn_mpi_errmsg(NULL));
        return 2;
    }
    run r = {.dir = argv[1]};
    const int rank = cnn_mpi_rank(ctx);
    char ckpt[512], path[512];
    snprintf(ckpt, sizeof ckpt, "%s/ckpt.cnn", r.dir);
    snprintf(path, sizeof path, "%s/pid.%d", r.dir, rank);
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "%ld\n", (long)getpid());
        fclose(f);
    }
    cnn_dataset *ds = kit_dataset(120, 5, false);
    cnn_net *net = kit_net(KIT_NET_DROPOUT, 11);
    cnn_optimizer *opt = kit_optimizer(KIT_OPT_MOMENTUM);
    cnn_train_params tp;
    KIT_CHECK(cnn_train_params_init(&tp, atoi(argv[2])));
    tp.batch_size = 6;
    tp.shuffle = 1;
    tp.seed = 3;
    tp.progress_every = 1;
    tp.on_progress = on_progress;
    tp.on_epoch = on_epoch;
    tp.user = &r;
    tp.checkpoint_path = ckpt;
    tp.resume_path = argc > 3 && strcmp(argv[3], "resume") == 0 ? ckpt : NULL;
    cnn_status st = cnn_mpi_train(ctx, net, opt, ds, &tp, NULL);
    if (st != CNN_OK) {
        fprintf(stderr, "rank %d: %s\n", rank, cnn_mpi_errmsg(ctx));
        cnn_mpi_abort(ctx, 1);
    }
    snprintf(path, sizeof path, "%s/final.cnn", r.dir);
    if (rank == 0)
        KIT_CHECK(cnn_net_save(net, path));
    cnn_optimizer_destroy(opt);
    cnn_net_destroy(net);
    cnn_dataset_destroy(ds);
    cnn_mpi_context_destroy(ctx);
    return 0;
}
