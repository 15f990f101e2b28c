/* cnn-mnist: reproduces the experiments of chapter 6 of Michael Nielsen's
 * "Neural Networks and Deep Learning" (network3.py) with libcnn.
 *
 * This file holds the flow only: options -> data -> nets (train/evaluate)
 * -> ensemble vote -> summary -> pictures -> exit status.  Its main() is in
 * plain.c (cnn-mnist) and mpi.c (cnn-mnist-mpi), which differ only in the
 * frontend (frontend.h) they pass.
 *
 * Exit status: 0 success, 1 runtime failure (data, files, library),
 * 2 bad command line, 3 below --require-accuracy, 130 interrupted. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cnn.h"
#include "data.h"
#include "experiments.h"
#include "frontend.h"
#include "member.h"
#include "options.h"
#include "pictures.h"
#include "predict.h"
#include "report.h"

#define EXIT_USAGE 2
#define EXIT_ACCURACY 3
#define EXIT_INTERRUPTED 130

static const char *prog = "cnn-mnist"; /* set by mnist_main */
static volatile sig_atomic_t interrupted = 0;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1; /* the next progress callback cancels training */
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char *init_name(int32_t init)
{
    switch (init) {
    case CNN_INIT_NETWORK3: return "network3";
    case CNN_INIT_HE: return "he";
    case CNN_INIT_GLOROT: return "glorot";
    default: return "?";
    }
}

/* Fails early when an output file could not be written, so that a long
 * training run is not lost to a typo in --save or a picture path: the name
 * must not end in '/', must not name a directory (nor, when `regular_only`,
 * anything else that is not a regular file: /dev/null cannot be replaced
 * atomically), and a file must be creatable in its directory, which is
 * probed by creating and removing one (access() says yes to root on a
 * read-only file system).  The probe is named like the library's temporary
 * files, "<path>.tmp.<pid>.XXXXXX", so that if we are killed between the
 * two steps the next save of `path` removes it. */
static int check_output_file(const char *option, const char *path, int regular_only, char *err,
                             size_t es)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (path[0] == '\0' || (slash != NULL && slash[1] == '\0')) {
        snprintf(err, es, "%s wants a file name, not '%.300s'", option, path);
        return -1;
    }
    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    struct stat sb;
    if (stat(path, &sb) == 0) {
        if (S_ISDIR(sb.st_mode)) {
            snprintf(err, es, "%s '%.300s' is a directory; it wants a file name", option, path);
            return -1;
        }
        if (regular_only && !S_ISREG(sb.st_mode)) {
            snprintf(err, es, "%s '%.300s' exists and is not a regular file", option, path);
            return -1;
        }
    }
    size_t n = strlen(path) + 48;
    char *probe = malloc(n);
    if (probe == NULL) {
        snprintf(err, es, "out of memory");
        return -1;
    }
    snprintf(probe, n, "%s.tmp.%ld.XXXXXX", path, (long)getpid());
    int fd = mkstemp(probe);
    if (fd < 0) {
        snprintf(err, es, "%s '%.300s': cannot create a file in directory '%.300s': %s", option,
                 path, dir, strerror(errno));
        free(probe);
        return -1;
    }
    close(fd);
    unlink(probe);
    free(probe);
    return 0;
}

/* check_output_file for an option's path, or each ensemble member's name
 * when the option is per member ("-N" inserted, see member_path). */
static int check_output(const char *option, const char *path, int regular_only, int per_member,
                        const options *o, char *err, size_t es)
{
    if (path == NULL)
        return 0;
    if (!per_member || o->ensemble <= 1)
        return check_output_file(option, path, regular_only, err, es);
    for (int32_t i = 0; i < o->ensemble; i++) {
        char *p = member_path(path, i + 1);
        if (p == NULL) {
            snprintf(err, es, "out of memory");
            return -1;
        }
        int rc = check_output_file(option, p, regular_only, err, es);
        free(p);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static void print_setup(const options *o, const mnist_splits *d)
{
    const experiment *e = o->exp;
    if (o->loads > 0)
        printf("%s: %d saved net%s; %s\n", prog, (int)o->loads, o->loads > 1 ? "s" : "",
               o->epochs > 0 ? "continuing training" : "evaluating only");
    else
        printf("%s: experiment %s%s%s%s: %s%s%s\n", prog, e->name, e->row[0] ? " (row " : "",
               e->row[0] ? e->row : "", e->row[0] ? ")" : "", e->summary,
               e->row[0] ? "; the chapter reports " : "", e->row[0] ? e->reported : "");
    if (o->epochs > 0)
        printf("training: %lld images%s, epochs %d, batch %d, eta %g, lambda %g, init %s, "
               "seed %llu, threads %d, %s\n",
               (long long)cnn_dataset_count(d->train),
               o->expanded ? (o->augmented ? " (expanded 5x, augmented)" : " (expanded 5x)")
                           : (o->augmented ? " (augmented)" : ""), (int)o->epochs, (int)o->batch,
               (double)o->eta, (double)o->lambda,
               o->loads > 0 ? "(loaded)" : init_name(o->init >= 0 ? o->init : e->init),
               (unsigned long long)o->seed, (int)o->threads,
               o->shuffle ? "shuffled every epoch" : "stored order");
    printf("validation: %lld images, test: %lld images\n",
           (long long)cnn_dataset_count(d->validation), (long long)cnn_dataset_count(d->test));
    /* The kernels' path: speed figures mean little without it. */
    printf("kernels: %s path (best on this CPU: %s), libcnn %s\n", cnn_isa_name(cnn_isa()),
           cnn_isa_name(cnn_isa_best()), cnn_version_string());
    fflush(stdout);
}

static void print_member(const options *o, const member *m)
{
    char a[16], b[16], c[16];
    const char *who = "";
    char buf[32];
    if (o->ensemble > 1) {
        snprintf(buf, sizeof buf, "net %d/%d: ", (int)m->index + 1, (int)o->ensemble);
        who = buf;
    }
    if (m->trained && m->result.epochs_run > 0)
        printf("%sbest validation accuracy %s at epoch %d; corresponding test accuracy %s "
               "(%.1f s)\n",
               who, report_pct(m->result.best_validation_accuracy, a), (int)m->result.best_epoch,
               report_pct(m->result.test_accuracy_at_best, b), m->result.seconds);
    if (!m->canceled)
        printf("%sfinal net: validation %s, test %s%s\n", who, report_pct(m->final_validation, a),
               report_pct(m->final_test, c),
               o->ensemble > 1 ? " (votes with these weights)" : "");
    fflush(stdout);
}

/* What --plot drew, in words: a one-epoch plot is mostly the cost within
 * the epoch, and the reader should know that before opening it. */
static void print_plot_written(const char *path, const epoch_log *log)
{
    char a[16], b[16];
    int32_t epochs = log->cost.count;
    if (epochs == 1)
        printf("wrote %s (1 epoch: training cost at %d point%s within it, accuracy at its "
               "end)\n",
               path, (int)log->steps.count, log->steps.count == 1 ? "" : "s");
    else
        printf("wrote %s (training cost and accuracy over %d epochs)\n", path, (int)epochs);
    if (log->best_epoch > 0)
        printf("the plot marks epoch %d: best validation accuracy %s, test %s\n",
               (int)log->best_epoch, report_pct(log->best_validation, a),
               report_pct(log->test_at_best, b));
}

/* The figure the chapter reports: test accuracy at the best-validation
 * epoch when the net was trained, else the final net's test accuracy. */
static double headline(const member *m)
{
    if (m->trained && m->result.epochs_run > 0 && m->result.test_accuracy_at_best >= 0.0)
        return m->result.test_accuracy_at_best;
    return m->final_test;
}

/* The front end's answers, with the plain trainer's when there is none. */
static int owns(const frontend *fe, int32_t i)
{
    return fe == NULL || fe->owns(fe->self, i);
}

int mnist_main(int argc, char **argv, const char *name, const frontend *fe)
{
    prog = name;
    const int leader = fe == NULL || fe->leader;
    options o;
    char err[1024];
    if (options_parse(argc, argv, &o, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return EXIT_USAGE;
    }
    if (o.help) {
        options_usage(prog);
        return 0;
    }
    if (o.list) {
        experiment_list(stdout);
        return 0;
    }
    if (cnn_version() / 10000 != CNN_VERSION_MAJOR) {
        fprintf(stderr, "%s: built for libcnn %d.x but running with %s\n", prog,
                CNN_VERSION_MAJOR, cnn_version_string());
        return 1;
    }

    /* A file size limit (ulimit -f) must make a write fail with EFBIG,
     * which the library reports and cleans up after, not kill us with
     * SIGXFSZ half way through writing a temporary file. */
    signal(SIGXFSZ, SIG_IGN);

    /* Every output is checked before the data is loaded and nets trained.
     * --save and --checkpoint are replaced atomically and the pictures by
     * rename, so they must be (or become) regular files; the CSV is
     * written in place and may be a device (/dev/stdout). */
    if (check_output("--save", o.save_path, 1, 1, &o, err, sizeof err) != 0 ||
        check_output("--export-onnx", o.export_onnx_path, 1, 1, &o, err, sizeof err) != 0 ||
        check_output("--checkpoint", o.checkpoint_path, 1, 1, &o, err, sizeof err) != 0 ||
        check_output("--csv", o.csv_path, 0, 0, &o, err, sizeof err) != 0 ||
        check_output("--filters", o.filters_png, 1, 0, &o, err, sizeof err) != 0 ||
        check_output("--errors", o.errors_png, 1, 0, &o, err, sizeof err) != 0 ||
        check_output("--plot", o.plot_png, 1, 0, &o, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return EXIT_USAGE;
    }

    double t0 = now();
    mnist_splits d;
    if (mnist_load(o.data_dir, o.train_size, o.expanded, o.seed, o.augmented ? &o.augment : NULL,
                   &d, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return 1;
    }

    report rep;
    memset(&rep, 0, sizeof rep);
    rep.tty = isatty(STDOUT_FILENO);
    rep.quiet = o.quiet;
    rep.members = o.ensemble;
    rep.stop = &interrupted;
    if (leader && o.csv_path != NULL && report_open_csv(&rep, o.csv_path, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        mnist_free(&d);
        return 1;
    }
    signal(SIGINT, on_sigint);
    if (!o.quiet)
        print_setup(&o, &d);

    int status = 0;
    member *members = calloc((size_t)o.ensemble, sizeof *members);
    int32_t done = 0;
    if (members == NULL) {
        fprintf(stderr, "%s: out of memory\n", prog);
        status = 1;
    }
    for (int32_t i = 0; status == 0 && i < o.ensemble; i++) {
        if (interrupted) {
            fprintf(stderr, "%s: interrupted\n", prog);
            status = EXIT_INTERRUPTED;
            break;
        }
        rep.member = i + 1;
        if (!owns(fe, i))
            continue; /* another process trains it (cnn-mnist-mpi --ensemble) */
        if (member_create(&members[i], i, &o, err, sizeof err) != 0) {
            fprintf(stderr, "%s: %s\n", prog, err);
            status = 1;
            break;
        }
        if (i == 0 && !o.quiet) {
            char desc[512];
            experiment_describe_net(members[0].net, desc, sizeof desc);
            printf("network: %s (%lld parameters)\n", desc,
                   (long long)cnn_net_param_count(members[0].net));
            fflush(stdout);
        }
        if (member_run(&members[i], &o, &d, &rep, fe, err, sizeof err) != 0) {
            fprintf(stderr, "%s: %s\n", prog, err);
            status = 1;
            break;
        }
        done = i + 1;
        print_member(&o, &members[i]);
        if (members[i].canceled) {
            fprintf(stderr, "%s: interrupted\n", prog);
            status = EXIT_INTERRUPTED;
        }
    }

    /* Ctrl-C after the last net: nothing more is done (no vote, no save),
     * as when it comes during training. */
    if (status == 0 && interrupted) {
        fprintf(stderr, "%s: interrupted\n", prog);
        status = EXIT_INTERRUPTED;
    }

    /* The nets other processes trained: figures and probabilities to the
     * leader, which reports them as if it had trained them itself. */
    if (status == 0 && fe != NULL && fe->collect != NULL) {
        if (fe->collect(fe->self, members, o.ensemble, cnn_dataset_count(d.test), err,
                        sizeof err) != 0) {
            fprintf(stderr, "%s: %s\n", prog, err);
            status = 1;
        }
        for (int32_t i = 0; status == 0 && leader && i < o.ensemble; i++)
            if (!owns(fe, i))
                print_member(&o, &members[i]);
    }

    /* The ensemble's vote, or the single net's predictions. */
    double reported = -1.0;
    int32_t *final_pred = NULL;
    int64_t ntest = cnn_dataset_count(d.test), disagreed = 0;
    if (status == 0 && leader && o.ensemble > 1) {
        const float **probs = malloc((size_t)o.ensemble * sizeof *probs);
        final_pred = malloc((size_t)ntest * sizeof *final_pred);
        if (probs == NULL || final_pred == NULL) {
            fprintf(stderr, "%s: out of memory\n", prog);
            status = 1;
        } else {
            for (int32_t i = 0; i < o.ensemble; i++)
                probs[i] = members[i].test_probs;
            if (predict_vote(probs, o.ensemble, ntest, MNIST_CLASSES, final_pred, &disagreed) !=
                0) {
                fprintf(stderr, "%s: the vote failed\n", prog);
                status = 1;
            }
        }
        free(probs);
        if (status == 0) {
            int64_t errors = 0;
            char a[16];
            reported = predict_accuracy(d.test, final_pred, &errors);
            printf("ensemble of %d nets, plurality vote (ties: highest summed probability): "
                   "test accuracy %s (%lld errors of %lld); members:",
                   (int)o.ensemble, report_pct(reported, a), (long long)errors, (long long)ntest);
            for (int32_t i = 0; i < o.ensemble; i++)
                printf(" %s", report_pct(members[i].final_test, a));
            printf("\n");
            printf("members disagreed on %lld of %lld test images (%.2f%%)\n",
                   (long long)disagreed, (long long)ntest,
                   ntest > 0 ? 100.0 * (double)disagreed / (double)ntest : 0.0);
        }
    } else if (status == 0) {
        reported = headline(&members[0]);
    }

    /* Saving and pictures use the final weights. */
    for (int32_t i = 0; status == 0 && i < 2 * done; i++) {
        const int onnx = i >= done; /* the model files, then the ONNX exports */
        if ((onnx ? o.export_onnx_path : o.save_path) == NULL || !owns(fe, i % done))
            continue; /* nothing asked, or another process owns the net and saves it */
        char *saved = NULL;
        if (member_save(&members[i % done], &o, onnx, &saved, err, sizeof err) != 0) {
            fprintf(stderr, "%s: %s\n", prog, err);
            status = 1;
        } else if (!o.quiet) {
            printf("%s %s\n", onnx ? "exported" : "saved", saved);
        }
        free(saved);
    }
    if (status == 0 && leader && o.filters_png != NULL) {
        int64_t bad = 0;
        if (picture_filters(members[0].net, o.filters_png, &bad, err, sizeof err) != 0) {
            fprintf(stderr, "%s: %s\n", prog, err);
            status = 1;
        } else if (!o.quiet) {
            printf("wrote %s (first layer's filters%s)\n", o.filters_png,
                   o.ensemble > 1 ? " of net 1" : "");
        }
        /* Said even with --quiet: a picture with red in it needs explaining. */
        if (status == 0 && bad > 0)
            printf("%s: %lld of the weights drawn are NaN or infinite (red in %s)\n", prog,
                   (long long)bad, o.filters_png);
    }
    if (status == 0 && leader && o.errors_png != NULL) {
        int32_t drawn = 0;
        int64_t total = 0;
        const int32_t *pred = final_pred != NULL ? final_pred : members[0].test_pred;
        if (picture_errors(d.test, pred, o.errors_png, &drawn, &total, err, sizeof err) != 0) {
            fprintf(stderr, "%s: %s\n", prog, err);
            status = 1;
        } else if (!o.quiet && total == 0) {
            printf("wrote %s (no test digit is misclassified by the %s)\n", o.errors_png,
                   final_pred != NULL ? "ensemble" : "final net");
        } else if (!o.quiet) {
            printf("wrote %s (%d of the %lld test digits misclassified by the %s)\n",
                   o.errors_png, (int)drawn, (long long)total,
                   final_pred != NULL ? "ensemble" : "final net");
        }
    }
    if (status == 0 && leader && o.plot_png != NULL) {
        epoch_log *logs = malloc((size_t)done * sizeof *logs);
        if (logs == NULL) {
            fprintf(stderr, "%s: out of memory\n", prog);
            status = 1;
        } else {
            for (int32_t i = 0; i < done; i++)
                logs[i] = members[i].log;
            if (picture_plot(logs, done, o.plot_png, err, sizeof err) != 0) {
                fprintf(stderr, "%s: %s\n", prog, err);
                status = 1;
            } else if (!o.quiet) {
                print_plot_written(o.plot_png, &logs[0]);
            }
            free(logs);
        }
    }

    if (status == 0 && leader && fe != NULL && fe->summary != NULL)
        fe->summary(fe->self);
    if (status == 0 && leader) {
        char a[16];
        printf("%s: reported test accuracy %s; total %.1f s\n", prog, report_pct(reported, a),
               now() - t0);
        if (o.require_accuracy >= 0.0 && !(reported >= o.require_accuracy)) {
            fprintf(stderr, "%s: test accuracy %s is below the required %.2f%%\n", prog,
                    report_pct(reported, a), 100.0 * o.require_accuracy);
            status = EXIT_ACCURACY;
        }
    }

    for (int32_t i = 0; members != NULL && i < o.ensemble; i++)
        member_free(&members[i]);
    free(members);
    free(final_pred);
    report_close(&rep);
    mnist_free(&d);
    return status;
}
