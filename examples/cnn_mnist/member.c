/* Life of one network: create (build or load), check it fits MNIST, train
 * with network3's SGD, then evaluate the final weights (which the ensemble
 * votes with and which --save, --errors and --filters use). */
#include "member.h"

#include <stdlib.h>
#include <string.h>

#include "predict.h"

#define EVAL_BATCH 1000

static const char *lib_msg(const cnn_net *net)
{
    const char *msg = net != NULL ? cnn_net_errmsg(net) : "";
    return msg[0] ? msg : cnn_last_error();
}

/* A loaded net must take 1x28x28 images and give 10 classes. */
static int check_fits(cnn_net *net, const char *what, char *err, size_t es)
{
    int32_t in[3], out[3];
    if (cnn_net_input_shape(net, in) != CNN_OK || cnn_net_output_shape(net, out) != CNN_OK ||
        in[0] != 1 || in[1] != 28 || in[2] != 28 || out[0] != MNIST_CLASSES || out[1] != 1 ||
        out[2] != 1) {
        snprintf(err, es, "%s does not map 1x28x28 images to %d classes", what, MNIST_CLASSES);
        return -1;
    }
    if (cnn_layer_kind(cnn_net_layer(net, cnn_net_layer_count(net) - 1)) != CNN_LAYER_SOFTMAX) {
        snprintf(err, es, "%s does not end in a softmax layer", what);
        return -1;
    }
    return 0;
}

static int create_net(member *m, const options *o, char *err, size_t es)
{
    cnn_status st;
    if (o->loads > 0) {
        const char *path = o->load_paths[m->index];
        st = o->load_onnx[m->index] ? cnn_net_import_onnx(path, &m->net)
                                    : cnn_net_load(path, &m->net);
        if (st != CNN_OK) {
            snprintf(err, es, "cannot load '%s': %s", path, cnn_last_error());
            return -1;
        }
        char what[512];
        snprintf(what, sizeof what, "the net in '%s'", path);
        return check_fits(m->net, what, err, es);
    }
    st = experiment_build(o->exp, o->init, m->seed, &m->net);
    if (st != CNN_OK) {
        snprintf(err, es, "cannot build experiment '%s': %s", o->exp->name, cnn_last_error());
        return -1;
    }
    return 0;
}

/* A file named on the command line, as this member uses it: an ensemble's
 * member N gets "-N" before the extension (as --save does).  NULL stays
 * NULL; -1 when out of memory. */
static int member_file(const member *m, const options *o, const char *path, char **out)
{
    *out = NULL;
    if (path == NULL)
        return 0;
    *out = o->ensemble > 1 ? member_path(path, m->index + 1) : strdup(path);
    return *out != NULL ? 0 : -1;
}

static int train(member *m, const options *o, const mnist_splits *d, report *rep,
                 const frontend *fe, char *err, size_t es)
{
    char *checkpoint = NULL, *resume = NULL;
    if (member_file(m, o, o->checkpoint_path, &checkpoint) != 0 ||
        member_file(m, o, o->resume_path, &resume) != 0) {
        free(checkpoint);
        snprintf(err, es, "out of memory");
        return -1;
    }
    cnn_sgd_params sp;
    cnn_adam_params ap;
    cnn_train_params tp;
    cnn_optimizer *opt = NULL;
    cnn_status st;
    if (o->optimizer == OPTIMIZER_ADAM || o->optimizer == OPTIMIZER_ADAMW) {
        st = cnn_adam_params_init(&ap, o->eta);
        ap.weight_decay = o->weight_decay;
        ap.decoupled = o->optimizer == OPTIMIZER_ADAMW;
        if (st == CNN_OK)
            st = cnn_adam_create(&ap, &opt);
    } else {
        st = cnn_sgd_params_init(&sp, o->eta);
        if (st == CNN_OK) {
            sp.l2 = o->lambda; /* l2_batches 0: cnn_train uses floor(N / batch) like network3 */
            sp.momentum = o->momentum;
            sp.nesterov = o->optimizer == OPTIMIZER_NESTEROV;
            st = cnn_sgd_create(&sp, &opt);
        }
    }
    if (st != CNN_OK) {
        snprintf(err, es, "cannot create the optimizer: %s", cnn_last_error());
        free(checkpoint);
        free(resume);
        return -1;
    }
    cnn_train_params_init(&tp, o->epochs);
    tp.batch_size = o->batch;
    tp.shuffle = o->shuffle;
    tp.seed = m->seed;
    tp.validation = d->validation;
    tp.test = d->test;
    int64_t batches = (cnn_dataset_count(d->train) + o->batch - 1) / o->batch;
    /* About 200 redraws per epoch: smooth without costing anything. */
    tp.progress_every = batches / 200 > 0 ? (int32_t)(batches / 200) : 1;
    tp.on_progress = report_on_progress;
    tp.on_epoch = report_on_epoch;
    tp.user = rep;
    tp.checkpoint_path = checkpoint; /* every epoch (the default checkpoint_every) */
    tp.resume_path = resume;
    tp.schedule = o->schedule;
    tp.warmup_fraction = o->warmup;
    tp.schedule_step = o->epochs / 3 > 0 ? o->epochs / 3 : 1; /* step: x0.1 per third */
    tp.schedule_step_epochs = 1;
    memset(&m->result, 0, sizeof m->result);
    m->result.struct_size = sizeof m->result;
    rep->log = &m->log;
    /* Each member draws its augmentation from its own seed, as its weights,
     * order and dropout: member i of an ensemble run with --seed S is the
     * net a single run with --seed S+i trains (so members can also be
     * trained apart, in parallel, and voted with --load). */
    cnn_dataset *train_set = d->train, *own = NULL;
    if (d->plain_train && m->seed != o->seed) {
        cnn_augment_params a = o->augment;
        a.seed = m->seed;
        st = cnn_dataset_augment(d->plain_train, &a, &own);
        if (st != CNN_OK) {
            snprintf(err, es, "cannot augment the training set: %s", cnn_last_error());
            cnn_optimizer_destroy(opt);
            free(checkpoint);
            free(resume);
            return -1;
        }
        train_set = own;
    }
    st = fe ? fe->train(fe->self, m->net, opt, train_set, &tp, &m->result)
            : cnn_train(m->net, opt, train_set, &tp, &m->result);
    cnn_dataset_destroy(own);
    report_clear_bar(rep);
    cnn_optimizer_destroy(opt);
    free(checkpoint);
    free(resume);
    m->trained = 1;
    if (st == CNN_ECANCELED) {
        m->canceled = 1;
        return 0;
    }
    if (st != CNN_OK) {
        snprintf(err, es, "training failed: %s", lib_msg(m->net));
        return -1;
    }
    return 0;
}

/* The final net's accuracies.  After training they are the last epoch's
 * figures (cnn_train evaluated exactly these weights), so the sets are only
 * run again when the per-example probabilities are needed: for the vote and
 * the picture of errors. */
static int evaluate(member *m, const options *o, const mnist_splits *d,
                    const volatile sig_atomic_t *stop, char *err, size_t es)
{
    int need_probs = o->ensemble > 1 || o->errors_png != NULL;
    int32_t logged = m->log.validation.count;
    int have_figures = m->trained && logged == m->result.epochs_run && logged > 0;
    if (have_figures) {
        m->final_validation = m->log.validation.y[logged - 1];
        m->final_test = m->log.test.y[logged - 1];
    } else {
        /* Batch by batch through predict_probs (the figures cnn_net_evaluate
         * gives), so that Ctrl-C stops a long evaluation between batches. */
        int64_t nv = cnn_dataset_count(d->validation);
        float *vprobs = malloc((size_t)nv * MNIST_CLASSES * sizeof *vprobs);
        int32_t *vpred = malloc((size_t)nv * sizeof *vpred);
        cnn_status st = vprobs && vpred ? predict_probs(m->net, d->validation, EVAL_BATCH,
                                                        MNIST_CLASSES, stop, vprobs)
                                        : CNN_ENOMEM;
        if (st == CNN_OK) {
            predict_argmax(vprobs, nv, MNIST_CLASSES, vpred);
            m->final_validation = predict_accuracy(d->validation, vpred, NULL);
        }
        free(vprobs);
        free(vpred);
        if (st == CNN_ECANCELED) {
            m->canceled = 1;
            return 0;
        }
        if (st != CNN_OK) {
            snprintf(err, es, "evaluation failed: %s", lib_msg(m->net));
            return -1;
        }
    }
    if (have_figures && !need_probs)
        return 0;

    int64_t n = cnn_dataset_count(d->test);
    m->test_probs = malloc((size_t)n * MNIST_CLASSES * sizeof *m->test_probs);
    m->test_pred = malloc((size_t)n * sizeof *m->test_pred);
    if (m->test_probs == NULL || m->test_pred == NULL) {
        snprintf(err, es, "out of memory for the test predictions");
        return -1;
    }
    cnn_status st = predict_probs(m->net, d->test, EVAL_BATCH, MNIST_CLASSES, stop, m->test_probs);
    if (st == CNN_ECANCELED) {
        m->canceled = 1;
        return 0;
    }
    if (st != CNN_OK) {
        snprintf(err, es, "evaluation failed: %s", lib_msg(m->net));
        return -1;
    }
    predict_argmax(m->test_probs, n, MNIST_CLASSES, m->test_pred);
    m->final_test = predict_accuracy(d->test, m->test_pred, NULL);
    return 0;
}

int member_create(member *m, int32_t index, const options *o, char *err, size_t es)
{
    memset(m, 0, sizeof *m);
    m->index = index;
    m->seed = o->seed + (uint64_t)index;
    if (create_net(m, o, err, es) != 0)
        return -1;
    if (cnn_net_set_threads(m->net, o->threads) != CNN_OK) {
        snprintf(err, es, "cannot use %d threads: %s", (int)o->threads, lib_msg(m->net));
        return -1;
    }
    return 0;
}

int member_run(member *m, const options *o, const mnist_splits *d, report *rep,
               const frontend *fe, char *err, size_t es)
{
    if (o->epochs > 0 && train(m, o, d, rep, fe, err, es) != 0)
        return -1;
    if (m->canceled)
        return 0;
    return evaluate(m, o, d, rep->stop, err, es);
}

/* "dir/net.cnn" -> "dir/net-3.cnn"; "net" -> "net-3". */
char *member_path(const char *path, int32_t number)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(path, '.');
    if (dot == NULL || (slash != NULL && dot < slash) || dot == (slash ? slash + 1 : path))
        dot = path + strlen(path);
    size_t n = strlen(path) + 16;
    char *out = malloc(n);
    if (out != NULL)
        snprintf(out, n, "%.*s-%d%s", (int)(dot - path), path, (int)number, dot);
    return out;
}

int member_save(const member *m, const options *o, int onnx, char **saved_as, char *err,
                size_t es)
{
    const char *given = onnx ? o->export_onnx_path : o->save_path;
    char *path = o->ensemble > 1 ? member_path(given, m->index + 1) : strdup(given);
    *saved_as = NULL;
    if (path == NULL) {
        snprintf(err, es, "out of memory");
        return -1;
    }
    if ((onnx ? cnn_net_export_onnx(m->net, path) : cnn_net_save(m->net, path)) != CNN_OK) {
        snprintf(err, es, "cannot %s '%s': %s", onnx ? "export" : "save", path, cnn_last_error());
        free(path);
        return -1;
    }
    *saved_as = path;
    return 0;
}

void member_free(member *m)
{
    cnn_net_destroy(m->net);
    free(m->test_probs);
    free(m->test_pred);
    epoch_log_free(&m->log);
    memset(m, 0, sizeof *m);
}
