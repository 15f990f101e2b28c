/* Parses and checks cnn-mnist's command line.  Every number is parsed
 * strictly (whole argument, range-checked) so that a typo is reported
 * instead of silently becoming 0. */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The training split is the first 50,000 images of the training file. */
#define TRAIN_SPLIT 50000

void options_usage(const char *prog)
{
    printf("usage: %s [EXPERIMENT] [options]\n"
           "Trains the convolutional networks of chapter 6 of Nielsen's \"Neural Networks and\n"
           "Deep Learning\" on MNIST with libcnn.  EXPERIMENT is a name or row from --list\n"
           "(default: %s).  Defaults are the chapter's: batch 10, 50k training images,\n"
           "validation = the last 10k of the training file, the 10k test set, no shuffling.\n"
           "\n"
           "  --list              list the experiments with the chapter's accuracy\n"
           "  --epochs N          epochs (with --load: 0 = only evaluate, the default)\n"
           "  --eta X             learning rate (> 0)\n"
           "  --lambda X          L2 regularisation (>= 0), network3 form\n"
           "  --momentum X        SGD momentum in [0, 1) (default 0, as network3)\n"
           "  --optimizer KIND    sgd (default), nesterov (needs --momentum > 0), adam or\n"
           "                      adamw (--eta is then Adam's learning rate)\n"
           "  --weight-decay X    adam: L2 added to the gradient; adamw: decoupled (>= 0)\n"
           "  --schedule KIND     learning rate per step: constant (default), step (x0.1\n"
           "                      every third of the epochs), cosine (down to 0) or\n"
           "                      onecycle (linear warm-up to --eta, then cosine down)\n"
           "  --warmup F          onecycle: fraction of the steps warming up, in [0, 1)\n"
           "                      (default 0.3)\n"
           "  --batch N           mini-batch size (default 10)\n"
           "  --seed N            seed of weights, dropout, shuffling, expansion (default 0)\n"
           "  --threads N         threads (default 1; more lets BLAS use them)\n"
           "  --init KIND         network3 (the chapter's), he or glorot\n"
           "  --train-size N      use the first N of the 50,000 training images\n"
           "  --expanded          train on the 5x expanded set (rows 7-11 do by default)\n"
           "  --no-expanded       do not\n"
           "  --rotate DEG        augment: rotate each training image by up to +-DEG\n"
           "  --scale-range A,B   augment: zoom by a factor in [A, B] (0 < A <= B)\n"
           "  --shift PX          augment: shift by up to +-PX pixels in x and in y\n"
           "  --shear DEG         augment: shear by up to +-DEG degrees (< 90)\n"
           "  --elastic A,S       augment: elastic distortion, alpha A, sigma S (Simard 2003)\n"
           "  --augment-prob P    augment each image with probability P (default 1)\n"
           "                      Augmentation is drawn anew every epoch from --seed, on top\n"
           "                      of --expanded; validation and test sets are not augmented\n"
           "  --shuffle           reshuffle the training set every epoch\n"
           "  --ensemble N        train N nets with seeds seed..seed+N-1 and vote; net i\n"
           "                      is the net --seed seed+i trains alone\n"
           "  --data DIR          MNIST directory (default $CNN_MNIST_DIR or data/mnist);\n"
           "                      each of the four files may be raw or .gz\n"
           "  --csv FILE          write per-epoch figures as CSV\n"
           "  --save FILE         save the trained net (ensemble: FILE-1, FILE-2, ...)\n"
           "  --load FILE         load a saved net (repeat for an ensemble); evaluate it,\n"
           "                      or continue training with --epochs N\n"
           "  --export-onnx FILE  also write the final net as ONNX (ensemble: FILE-1, ...)\n"
           "  --import-onnx FILE  as --load, from an ONNX model (docs/onnx.md: PyTorch's\n"
           "                      exports of CNNs, libcnn's own); may be mixed with --load\n"
           "  --checkpoint FILE   write the training state to FILE after every epoch\n"
           "                      (ensemble: FILE-1, FILE-2, ...), replacing it atomically\n"
           "  --resume FILE       continue the run whose checkpoint is FILE: same experiment\n"
           "                      and options; --epochs counts the epochs already done.\n"
           "                      The weights come out as if the run had never stopped\n"
           "  --filters PNG       picture of the first layer's filters, with their scale\n"
           "  --errors PNG        picture of the misclassified test digits and their labels\n"
           "  --plot PNG          training cost (also within epochs), validation and test\n"
           "                      accuracy per epoch, the best validation epoch marked\n"
           "  --require-accuracy A  exit with status 3 unless the reported test accuracy\n"
           "                      (fraction, e.g. 0.96) is at least A\n"
           "  --quiet             only the final summary\n"
           "  --help              this text\n"
           "\n"
           "Ensemble tie rule: among the classes with the most votes, the one with the\n"
           "highest softmax probability summed over all members wins; then the lowest digit.\n",
           prog, experiment_default()->name);
}

static int fail(char *err, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
    return -1;
}

/* Whole numbers are digits only: no sign, no spaces (strtoll would skip
 * leading whitespace and accept "+"), nothing after them. */
static int parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *v)
{
    char *end;
    if (!isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (*end != '\0' || errno != 0 || x < lo || x > hi)
        return -1;
    *v = x;
    return 0;
}

static int parse_u64(const char *s, uint64_t *v)
{
    char *end;
    if (!isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (*end != '\0' || errno != 0)
        return -1;
    *v = x;
    return 0;
}

/* A finite number with nothing around it (strtod skips leading spaces;
 * ERANGE covers overflow and underflow of the double). */
static int parse_f(const char *s, double *v)
{
    char *end;
    if (s[0] == '\0' || isspace((unsigned char)s[0]))
        return -1;
    errno = 0;
    double x = strtod(s, &end);
    if (*end != '\0' || errno != 0 || !isfinite(x))
        return -1;
    *v = x;
    return 0;
}

/* The float the library will get: NULL if `x` survives the conversion,
 * else why not (the caller's range check then runs on the float). */
static const char *float_problem(double x)
{
    float f = (float)x;
    if (!isfinite(f))
        return "is too large for a float";
    if (x != 0.0 && f == 0.0f)
        return "is too small for a float (it rounds to 0)";
    return NULL;
}

/* "A,B" into two finite numbers. */
static int parse_pair(const char *s, double *a, double *b)
{
    const char *comma = strchr(s, ',');
    char first[64];
    if (!comma || (size_t)(comma - s) >= sizeof first)
        return -1;
    memcpy(first, s, (size_t)(comma - s));
    first[comma - s] = '\0';
    return parse_f(first, a) || parse_f(comma + 1, b) ? -1 : 0;
}

enum {
    O_LIST = 256, O_EPOCHS, O_ETA, O_LAMBDA, O_BATCH, O_SEED, O_THREADS, O_TRAIN_SIZE,
    O_EXPANDED, O_NO_EXPANDED, O_SHUFFLE, O_ENSEMBLE, O_DATA, O_CSV, O_SAVE, O_LOAD,
    O_FILTERS, O_ERRORS, O_PLOT, O_REQUIRE, O_QUIET, O_HELP, O_INIT, O_CHECKPOINT, O_RESUME, O_MOMENTUM,
    O_ROTATE, O_SCALE_RANGE, O_SHIFT, O_SHEAR, O_ELASTIC, O_AUGMENT_PROB,
    O_OPTIMIZER, O_WEIGHT_DECAY, O_SCHEDULE, O_WARMUP, O_EXPORT_ONNX, O_IMPORT_ONNX
};

static const struct option long_opts[] = {
    {"list", no_argument, NULL, O_LIST},
    {"epochs", required_argument, NULL, O_EPOCHS},
    {"eta", required_argument, NULL, O_ETA},
    {"lambda", required_argument, NULL, O_LAMBDA},
    {"momentum", required_argument, NULL, O_MOMENTUM},
    {"optimizer", required_argument, NULL, O_OPTIMIZER},
    {"weight-decay", required_argument, NULL, O_WEIGHT_DECAY},
    {"schedule", required_argument, NULL, O_SCHEDULE},
    {"warmup", required_argument, NULL, O_WARMUP},
    {"batch", required_argument, NULL, O_BATCH},
    {"seed", required_argument, NULL, O_SEED},
    {"threads", required_argument, NULL, O_THREADS},
    {"train-size", required_argument, NULL, O_TRAIN_SIZE},
    {"expanded", no_argument, NULL, O_EXPANDED},
    {"no-expanded", no_argument, NULL, O_NO_EXPANDED},
    {"shuffle", no_argument, NULL, O_SHUFFLE},
    {"rotate", required_argument, NULL, O_ROTATE},
    {"scale-range", required_argument, NULL, O_SCALE_RANGE},
    {"shift", required_argument, NULL, O_SHIFT},
    {"shear", required_argument, NULL, O_SHEAR},
    {"elastic", required_argument, NULL, O_ELASTIC},
    {"augment-prob", required_argument, NULL, O_AUGMENT_PROB},
    {"ensemble", required_argument, NULL, O_ENSEMBLE},
    {"data", required_argument, NULL, O_DATA},
    {"csv", required_argument, NULL, O_CSV},
    {"save", required_argument, NULL, O_SAVE},
    {"load", required_argument, NULL, O_LOAD},
    {"export-onnx", required_argument, NULL, O_EXPORT_ONNX},
    {"import-onnx", required_argument, NULL, O_IMPORT_ONNX},
    {"filters", required_argument, NULL, O_FILTERS},
    {"errors", required_argument, NULL, O_ERRORS},
    {"plot", required_argument, NULL, O_PLOT},
    {"require-accuracy", required_argument, NULL, O_REQUIRE},
    {"quiet", no_argument, NULL, O_QUIET},
    {"help", no_argument, NULL, O_HELP},
    {"init", required_argument, NULL, O_INIT},
    {"checkpoint", required_argument, NULL, O_CHECKPOINT},
    {"resume", required_argument, NULL, O_RESUME},
    {NULL, 0, NULL, 0},
};

int options_parse(int argc, char **argv, options *o, char *err, size_t es)
{
    memset(o, 0, sizeof *o);
    /* One thread: libcnn 0.1 threads only through BLAS, which is slower
     * than one thread on the chapter's small matrices (docs/performance.md). */
    o->threads = 1;
    o->train_size = TRAIN_SPLIT;
    o->batch = 10;
    o->init = -1; /* the experiment's */
    o->require_accuracy = -1.0;
    o->expanded = -1; /* -1: the experiment decides */
    o->ensemble = -1;
    cnn_augment_params_init(&o->augment);
    const char *env_dir = getenv("CNN_MNIST_DIR");
    o->data_dir = env_dir && env_dir[0] ? env_dir : "data/mnist";

    int32_t epochs = -1;
    float eta = -1.0f, lambda = -1.0f;
    int eta_given = 0, lambda_given = 0, wd_given = 0, warmup_given = 0;
    int optimizer_given = 0, schedule_given = 0, batch_given = 0;
    o->warmup = 0.3f;

    opterr = 0; /* we print our own one-line errors */
    optind = 1;
    for (;;) {
        int c = getopt_long(argc, argv, "h", long_opts, NULL);
        if (c == -1)
            break;
        /* The word just processed (getopt_long has stepped past it). */
        const char *word = argv[optind - 1];
        int64_t iv;
        double fv, fv2;
        const char *why;
        cnn_augment_params *a = &o->augment;
        switch (c) {
        case O_LIST: o->list = 1; break;
        case O_HELP:
        case 'h': o->help = 1; break;
        case O_EPOCHS:
            if (parse_i64(optarg, 0, 100000, &iv))
                return fail(err, es, "--epochs wants a whole number from 0 to 100000, not '%s'", optarg);
            epochs = (int32_t)iv;
            o->epochs_given = 1;
            break;
        case O_ETA:
            if (parse_f(optarg, &fv) || fv <= 0.0)
                return fail(err, es, "--eta wants a learning rate > 0, not '%s'", optarg);
            if ((why = float_problem(fv)) != NULL)
                return fail(err, es, "--eta %s %s", optarg, why);
            eta = (float)fv;
            eta_given = 1;
            break;
        case O_LAMBDA:
            if (parse_f(optarg, &fv) || fv < 0.0)
                return fail(err, es, "--lambda wants a number >= 0, not '%s'", optarg);
            if ((why = float_problem(fv)) != NULL)
                return fail(err, es, "--lambda %s %s", optarg, why);
            lambda = (float)fv;
            lambda_given = 1;
            break;
        case O_MOMENTUM:
            if (parse_f(optarg, &fv) || fv < 0.0 || fv >= 1.0)
                return fail(err, es, "--momentum wants a number in [0, 1), not '%s'", optarg);
            /* Checked as the float the optimizer gets: 0.99999999999 is 1. */
            if ((float)fv >= 1.0f)
                return fail(err, es, "--momentum %s rounds to 1 as a float; it must be below 1",
                            optarg);
            if ((why = float_problem(fv)) != NULL)
                return fail(err, es, "--momentum %s %s", optarg, why);
            o->momentum = (float)fv;
            break;
        case O_OPTIMIZER: {
            static const char *const names[] = {"sgd", "nesterov", "adam", "adamw"};
            int k = 0;
            while (k < 4 && strcmp(optarg, names[k]) != 0)
                k++;
            if (k == 4)
                return fail(err, es, "--optimizer wants sgd, nesterov, adam or adamw, not '%s'",
                            optarg);
            o->optimizer = k;
            optimizer_given = 1;
            break;
        }
        case O_WEIGHT_DECAY:
            if (parse_f(optarg, &fv) || fv < 0.0)
                return fail(err, es, "--weight-decay wants a number >= 0, not '%s'", optarg);
            if ((why = float_problem(fv)) != NULL)
                return fail(err, es, "--weight-decay %s %s", optarg, why);
            o->weight_decay = (float)fv;
            wd_given = 1;
            break;
        case O_SCHEDULE: {
            static const char *const names[] = {"constant", "step", "cosine", "onecycle"};
            int k = 0;
            while (k < 4 && strcmp(optarg, names[k]) != 0)
                k++;
            if (k == 4)
                return fail(err, es, "--schedule wants constant, step, cosine or onecycle, not "
                            "'%s'", optarg);
            o->schedule = k; /* the names are in cnn_schedule order */
            schedule_given = 1;
            break;
        }
        case O_WARMUP:
            if (parse_f(optarg, &fv) || fv < 0.0 || fv >= 1.0)
                return fail(err, es, "--warmup wants a fraction in [0, 1), not '%s'", optarg);
            if ((float)fv >= 1.0f)
                return fail(err, es, "--warmup %s rounds to 1 as a float; it must be below 1",
                            optarg);
            if ((why = float_problem(fv)) != NULL)
                return fail(err, es, "--warmup %s %s", optarg, why);
            o->warmup = (float)fv;
            warmup_given = 1;
            break;
        case O_BATCH:
            if (parse_i64(optarg, 1, 60000, &iv))
                return fail(err, es, "--batch wants a whole number from 1 to 60000, not '%s'", optarg);
            o->batch = (int32_t)iv;
            batch_given = 1;
            break;
        case O_SEED:
            if (parse_u64(optarg, &o->seed))
                return fail(err, es, "--seed wants a whole number >= 0, not '%s'", optarg);
            break;
        case O_THREADS:
            if (parse_i64(optarg, 1, 256, &iv))
                return fail(err, es, "--threads wants a whole number from 1 to 256, not '%s'", optarg);
            o->threads = (int32_t)iv;
            break;
        case O_TRAIN_SIZE:
            if (parse_i64(optarg, 1, TRAIN_SPLIT, &iv))
                return fail(err, es, "--train-size wants a whole number from 1 to %d, not '%s'",
                            TRAIN_SPLIT, optarg);
            o->train_size = iv;
            break;
        case O_EXPANDED: o->expanded = 1; break;
        case O_NO_EXPANDED: o->expanded = 0; break;
        case O_SHUFFLE: o->shuffle = 1; break;
        case O_ROTATE:
            if (parse_f(optarg, &fv) || fv < 0.0 || fv > 180.0)
                return fail(err, es, "--rotate wants degrees from 0 to 180, not '%s'", optarg);
            a->rotate_min = -(a->rotate_max = (float)fv);
            o->augmented = 1;
            break;
        case O_SCALE_RANGE:
            if (parse_pair(optarg, &fv, &fv2) || !(fv > 0.0) || fv > fv2 || fv2 > 100.0)
                return fail(err, es, "--scale-range wants A,B with 0 < A <= B <= 100, not '%s'", optarg);
            a->scale_min = (float)fv;
            a->scale_max = (float)fv2;
            o->augmented = 1;
            break;
        case O_SHIFT:
            if (parse_f(optarg, &fv) || fv < 0.0 || fv > 28.0)
                return fail(err, es, "--shift wants pixels from 0 to 28, not '%s'", optarg);
            a->shift_x_min = a->shift_y_min = -(a->shift_x_max = a->shift_y_max = (float)fv);
            o->augmented = 1;
            break;
        case O_SHEAR:
            if (parse_f(optarg, &fv) || fv < 0.0 || fv >= 90.0)
                return fail(err, es, "--shear wants degrees in [0, 90), not '%s'", optarg);
            a->shear_min = -(a->shear_max = (float)fv);
            o->augmented = 1;
            break;
        case O_ELASTIC:
            if (parse_pair(optarg, &fv, &fv2) || fv < 0.0 || fv2 < 0.0 ||
                fv2 > CNN_AUGMENT_MAX_ELASTIC_SIDE)
                return fail(err, es, "--elastic wants ALPHA,SIGMA with ALPHA >= 0 and SIGMA in "
                            "[0, %d], not '%s'", CNN_AUGMENT_MAX_ELASTIC_SIDE, optarg);
            a->elastic_alpha = (float)fv;
            a->elastic_sigma = (float)fv2;
            o->augmented = 1;
            break;
        case O_AUGMENT_PROB:
            if (parse_f(optarg, &fv) || fv < 0.0 || fv > 1.0)
                return fail(err, es, "--augment-prob wants a probability from 0 to 1, not '%s'", optarg);
            a->probability = (float)fv;
            o->augmented = 1;
            break;
        case O_ENSEMBLE:
            if (parse_i64(optarg, 1, 100, &iv))
                return fail(err, es, "--ensemble wants a whole number from 1 to 100, not '%s'", optarg);
            o->ensemble = (int32_t)iv;
            break;
        case O_DATA: o->data_dir = optarg; break;
        case O_CSV: o->csv_path = optarg; break;
        case O_SAVE: o->save_path = optarg; break;
        case O_CHECKPOINT:
            if (optarg[0] == '\0')
                return fail(err, es, "--checkpoint wants a file name");
            o->checkpoint_path = optarg;
            break;
        case O_RESUME:
            if (optarg[0] == '\0')
                return fail(err, es, "--resume wants a file name");
            o->resume_path = optarg;
            break;
        case O_LOAD:
        case O_IMPORT_ONNX:
            if (o->loads == OPT_MAX_LOADS)
                return fail(err, es, "at most %d --load/--import-onnx files", OPT_MAX_LOADS);
            o->load_onnx[o->loads] = c == O_IMPORT_ONNX;
            o->load_paths[o->loads++] = optarg;
            break;
        case O_EXPORT_ONNX: o->export_onnx_path = optarg; break;
        case O_FILTERS: o->filters_png = optarg; break;
        case O_ERRORS: o->errors_png = optarg; break;
        case O_PLOT: o->plot_png = optarg; break;
        case O_REQUIRE:
            if (parse_f(optarg, &fv) || fv < 0.0 || fv > 1.0)
                return fail(err, es, "--require-accuracy wants a fraction from 0 to 1, not '%s'", optarg);
            o->require_accuracy = fv;
            break;
        case O_QUIET: o->quiet = 1; break;
        case O_INIT:
            if (strcmp(optarg, "network3") == 0)
                o->init = CNN_INIT_NETWORK3;
            else if (strcmp(optarg, "he") == 0)
                o->init = CNN_INIT_HE;
            else if (strcmp(optarg, "glorot") == 0)
                o->init = CNN_INIT_GLOROT;
            else
                return fail(err, es, "--init wants network3, he or glorot, not '%s'", optarg);
            break;
        default:
            /* '?': optopt is 0 for an unknown long option, the character of
             * an unknown short one, or the value of a known long option
             * that lacks its argument. */
            if (optopt >= 256 && strchr(word, '=') == NULL)
                return fail(err, es, "option '%s' needs a value", word);
            if (optopt > 0 && optopt < 256)
                return fail(err, es, "unknown option '-%c' (try --help)", optopt);
            if (strcmp(word, "--mpi") == 0 || strcmp(word, "--data-parallel") == 0)
                return fail(err, es, "%s: run cnn-mnist-mpi under mpirun (built where MPI is "
                            "found; see docs/distributed.md)", word);
            return fail(err, es, "unknown option '%s' (try --help)", word);
        }
    }
    if (o->help || o->list)
        return 0;

    if (optind < argc) {
        const char *name = argv[optind++];
        o->exp = experiment_find(name);
        if (o->exp == NULL)
            return fail(err, es, "unknown experiment '%s' (see --list)", name);
    } else {
        o->exp = experiment_default();
    }
    if (optind < argc)
        return fail(err, es, "unexpected argument '%s' (only one experiment name)", argv[optind]);

    const experiment *e = o->exp;
    if (o->loads > 0 && o->resume_path != NULL)
        return fail(err, es, "--resume and --load do not mix: a checkpoint holds its own weights");
    if (o->loads > 0 && o->epochs_given == 0 && o->checkpoint_path != NULL)
        return fail(err, es, "--checkpoint with --load needs --epochs N (nothing is trained)");
    if (o->loads > 0) {
        /* A loaded net is evaluated unless --epochs asks for more training. */
        o->epochs = epochs < 0 ? 0 : epochs;
        /* Refused now rather than after a long evaluation: a saved net
         * carries no training history. */
        if (o->epochs == 0 && o->plot_png != NULL)
            return fail(err, es, "--plot draws the training history: with --load it needs "
                                 "--epochs N (a saved net has none)");
        if (o->ensemble > 0)
            return fail(err, es, "--ensemble and --load do not mix: repeat --load to vote several saved nets");
        o->ensemble = o->loads;
    } else {
        if (epochs == 0)
            return fail(err, es, "--epochs 0 trains nothing (use it with --load to evaluate a saved net)");
        o->epochs = epochs < 0 ? e->epochs : epochs;
        if (o->ensemble < 0)
            o->ensemble = e->ensemble;
    }
    o->eta = eta_given ? eta : e->eta;
    o->lambda = lambda_given ? lambda : e->lambda;
    if (e->recipe) {
        /* The recipe's choices, each unless the command line made its own. */
        const recipe *r = e->recipe;
        if (!optimizer_given)
            o->optimizer = r->optimizer;
        if (!wd_given && (o->optimizer == OPTIMIZER_ADAM || o->optimizer == OPTIMIZER_ADAMW))
            o->weight_decay = r->weight_decay;
        if (!schedule_given) {
            o->schedule = r->schedule;
            if (!warmup_given)
                o->warmup = r->warmup;
        }
        if (!batch_given)
            o->batch = r->batch;
        o->shuffle = 1;
        if (!o->augmented && (r->rotate > 0 || r->shift > 0 || r->scale > 0 || r->shear > 0 ||
                              r->elastic_alpha > 0)) {
            cnn_augment_params *a = &o->augment;
            a->rotate_min = -r->rotate;
            a->rotate_max = r->rotate;
            a->shift_x_min = a->shift_y_min = -r->shift;
            a->shift_x_max = a->shift_y_max = r->shift;
            a->scale_min = 1.0f - r->scale;
            a->scale_max = 1.0f + r->scale;
            a->shear_min = -r->shear;
            a->shear_max = r->shear;
            a->elastic_alpha = r->elastic_alpha;
            if (r->elastic_alpha > 0)
                a->elastic_sigma = r->elastic_sigma;
            o->augmented = 1;
        }
    }
    if (o->optimizer == OPTIMIZER_NESTEROV && o->momentum == 0.0f)
        return fail(err, es, "--optimizer nesterov needs --momentum > 0");
    if ((o->optimizer == OPTIMIZER_ADAM || o->optimizer == OPTIMIZER_ADAMW) &&
        (o->momentum != 0.0f || lambda_given))
        return fail(err, es, "--momentum and --lambda are SGD's; with --optimizer %s use "
                    "--weight-decay", o->optimizer == OPTIMIZER_ADAM ? "adam" : "adamw");
    if (wd_given && o->optimizer != OPTIMIZER_ADAM && o->optimizer != OPTIMIZER_ADAMW)
        return fail(err, es, "--weight-decay is for --optimizer adam or adamw (SGD: --lambda)");
    if (warmup_given && o->schedule != CNN_SCHEDULE_ONECYCLE)
        return fail(err, es, "--warmup is for --schedule onecycle");
    if (o->expanded < 0)
        o->expanded = e->expanded;
    o->augment.seed = o->seed;
    if (o->data_dir[0] == '\0')
        return fail(err, es, "--data wants a directory, not an empty string");
    return 0;
}
