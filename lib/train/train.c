/* The training loop: epochs of mini-batch SGD, evaluation after each epoch,
 * best-validation bookkeeping (network3 reports the test accuracy at the
 * epoch of best validation accuracy, ties going to the later epoch), and
 * callbacks that can cancel.  Batches are gathered straight from the
 * dataset's bytes into the network's input buffer: nothing is allocated per
 * batch. */
#include "net/net.h"
#include "data/dataset.h"
#include "optimizer.h"

#include <string.h>

cnn_status cnn_train_params_init(cnn_train_params *p, int32_t epochs)
{
    if (!p)
        return cnn_fail(CNN_EINVAL, "cnn_train_params_init: params is NULL");
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->epochs = epochs;
    p->batch_size = 10;
    p->eval_batch_size = 1000;
    p->progress_every = 100;
    return CNN_OK;
}

static cnn_status check_set(cnn_net *net, const char *what, const cnn_dataset *ds, int classes)
{
    if (!ds)
        return CNN_OK;
    int32_t shape[3];
    cnn_dataset_shape(ds, shape);
    if (memcmp(shape, net->in, sizeof shape) != 0)
        return cnn_net_fail(net, CNN_ESHAPE, "cnn_train: %s images are %dx%dx%d, network input is "
                            "%dx%dx%d", what, shape[0], shape[1], shape[2], net->in[0], net->in[1],
                            net->in[2]);
    if (cnn_dataset_classes(ds) > classes)
        return cnn_net_fail(net, CNN_ESHAPE, "cnn_train: %s has label %d but the network has %d "
                            "classes", what, (int)cnn_dataset_classes(ds) - 1, classes);
    return CNN_OK;
}

static cnn_status validate(cnn_net *net, cnn_optimizer *opt, const cnn_dataset *train,
                           const cnn_train_params *p, cnn_train_result *result)
{
    if (!opt || !train || !p)
        return cnn_net_fail(net, CNN_EINVAL, "cnn_train: %s is NULL",
                            !opt ? "optimizer" : !train ? "training set" : "params");
    if (p->struct_size < sizeof *p)
        return cnn_net_fail(net, CNN_EINVAL, "cnn_train: params struct_size %u, expected %zu "
                            "(use cnn_train_params_init)", (unsigned)p->struct_size, sizeof *p);
    if (result && result->struct_size < sizeof *result)
        return cnn_net_fail(net, CNN_EINVAL, "cnn_train: result struct_size %u, expected %zu",
                            (unsigned)result->struct_size, sizeof *result);
    if (p->epochs < 1)
        return cnn_net_fail(net, CNN_EINVAL, "cnn_train: %d epochs, must be >= 1", (int)p->epochs);
    if (p->batch_size < 1 || p->eval_batch_size < 1)
        return cnn_net_fail(net, CNN_EINVAL, "cnn_train: batch sizes %d / %d (eval), must be >= 1",
                            (int)p->batch_size, (int)p->eval_batch_size);
    if (p->progress_every < 0)
        return cnn_net_fail(net, CNN_EINVAL, "cnn_train: progress_every %d, must be >= 0",
                            (int)p->progress_every);
    if (net->n_layers == 0 || net->layers[net->n_layers - 1]->ops->kind != CNN_LAYER_SOFTMAX)
        return cnn_net_fail(net, CNN_ESTATE, "cnn_train: the network must end in a softmax layer");
    int classes = net->layers[net->n_layers - 1]->p.softmax.classes;
    cnn_status st = check_set(net, "training set", train, classes);
    if (st == CNN_OK)
        st = check_set(net, "validation set", p->validation, classes);
    if (st == CNN_OK)
        st = check_set(net, "test set", p->test, classes);
    return st;
}

/* Evaluates an optional set; -1 when absent. */
static cnn_status accuracy_of(cnn_net *net, const cnn_dataset *ds, int32_t batch, double *acc)
{
    *acc = -1.0;
    return ds ? cnn_net_evaluate(net, ds, batch, acc, NULL) : CNN_OK;
}

typedef struct train_state {
    int64_t *order;     /* example order when shuffling, else NULL */
    int32_t *labels;    /* batch labels */
    cnn_rng shuffle_rng;
} train_state;

/* One epoch of SGD; writes the mean batch cost. */
static cnn_status run_epoch(cnn_net *net, cnn_optimizer *opt, const cnn_dataset *train,
                            const cnn_train_params *p, train_state *s, int32_t epoch,
                            double *mean_cost)
{
    int64_t count = cnn_dataset_count(train);
    int64_t batches = (count + p->batch_size - 1) / p->batch_size;
    if (s->order)
        cnn_rng_shuffle_i64(&s->shuffle_rng, s->order, count);
    double t0 = cnn_now_seconds(), cost_sum = 0.0;
    for (int64_t b = 0; b < batches; b++) {
        int64_t start = b * p->batch_size;
        int n = (int)(count - start < p->batch_size ? count - start : p->batch_size);
        cnn_dataset_gather(train, s->order, start, n, net->input, s->labels);
        cnn_net_forward_input(net, n, CNN_MODE_TRAIN);
        double cost = 0.0;
        cnn_status st = cnn_net_backward(net, s->labels, &cost);
        if (st == CNN_OK)
            st = cnn_optimizer_step(opt, net);
        if (st != CNN_OK)
            return st;
        cost_sum += cost;
        if (p->on_progress && p->progress_every > 0 &&
            ((b + 1) % p->progress_every == 0 || b + 1 == batches)) {
            cnn_progress pr = {.struct_size = sizeof pr, .epoch = epoch, .epochs = p->epochs,
                               .batch = b + 1, .batches = batches, .cost = cost_sum / (double)(b + 1),
                               .seconds = cnn_now_seconds() - t0};
            if (p->on_progress(&pr, p->user) != 0)
                return cnn_net_fail(net, CNN_ECANCELED, "cnn_train: canceled by the progress "
                                    "callback in epoch %d", (int)epoch);
        }
    }
    *mean_cost = cost_sum / (double)batches;
    return CNN_OK;
}

cnn_status cnn_train(cnn_net *net, cnn_optimizer *opt, const cnn_dataset *train,
                     const cnn_train_params *p, cnn_train_result *result)
{
    if (!net)
        return cnn_fail(CNN_EINVAL, "cnn_train: network is NULL");
    cnn_status st = validate(net, opt, train, p, result);
    if (st != CNN_OK)
        return st;

    int64_t count = cnn_dataset_count(train);
    int32_t batch = p->batch_size < count ? p->batch_size : (int32_t)count;
    train_state s = {0};
    s.labels = cnn_alloc_array((size_t)batch, sizeof *s.labels);
    if (p->shuffle) {
        s.order = cnn_alloc_array((size_t)count, sizeof *s.order);
        if (s.order)
            for (int64_t i = 0; i < count; i++)
                s.order[i] = i;
    }
    if (!s.labels || (p->shuffle && !s.order)) {
        st = cnn_net_fail(net, CNN_ENOMEM, "cnn_train: out of memory for %lld examples' order",
                          (long long)count);
        goto done;
    }
    if ((st = cnn_net_reserve(net, batch)) != CNN_OK)
        goto done;
    cnn_rng_seed_stream(&s.shuffle_rng, p->seed, 0x5eed);
    cnn_net_seed_dropout(net, p->seed);
    opt->batches_override = count / p->batch_size > 0 ? count / p->batch_size : 1;

    cnn_train_result r = {.struct_size = sizeof r, .best_validation_accuracy = -1.0,
                          .test_accuracy_at_best = -1.0};
    double t_start = cnn_now_seconds();
    for (int32_t epoch = 1; epoch <= p->epochs; epoch++) {
        double t0 = cnn_now_seconds(), cost = 0.0;
        if ((st = run_epoch(net, opt, train, p, &s, epoch, &cost)) != CNN_OK)
            break;
        double seconds = cnn_now_seconds() - t0;
        double val, test;
        if ((st = accuracy_of(net, p->validation, p->eval_batch_size, &val)) != CNN_OK ||
            (st = accuracy_of(net, p->test, p->eval_batch_size, &test)) != CNN_OK)
            break;
        r.epochs_run = epoch;
        r.final_train_cost = cost;
        if (p->validation && val >= r.best_validation_accuracy) {
            r.best_validation_accuracy = val;
            r.best_epoch = epoch;
            r.test_accuracy_at_best = test;
        }
        if (p->on_epoch) {
            cnn_epoch_report rep = {.struct_size = sizeof rep, .epoch = epoch, .epochs = p->epochs,
                                    .train_cost = cost, .validation_accuracy = val,
                                    .test_accuracy = test, .seconds = seconds,
                                    .images_per_second = seconds > 0 ? (double)count / seconds : 0,
                                    .best_epoch = r.best_epoch,
                                    .best_validation_accuracy = r.best_validation_accuracy,
                                    .test_accuracy_at_best = r.test_accuracy_at_best};
            if (p->on_epoch(&rep, p->user) != 0) {
                st = cnn_net_fail(net, CNN_ECANCELED, "cnn_train: canceled by the epoch callback "
                                  "after epoch %d", (int)epoch);
                break;
            }
        }
    }
    r.seconds = cnn_now_seconds() - t_start;
    if (result)
        memcpy(result, &r, sizeof r);
done:
    opt->batches_override = 0;
    cnn_dealloc(s.order);
    cnn_dealloc(s.labels);
    return st;
}
