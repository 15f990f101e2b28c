/* The training loop: epochs of mini-batch SGD, evaluation after each epoch,
 * best-validation bookkeeping (network3 reports the test accuracy at the
 * epoch of best validation accuracy, ties going to the later epoch), and
 * callbacks that can cancel.  Batches are gathered straight from the
 * dataset's bytes into the network's input buffer: nothing is allocated per
 * batch.
 *
 * Checkpoints (lib/io/checkpoint.c writes and reads the file) hold
 * everything the loop carries from one epoch to the next: parameters,
 * momentum, the example order, both generators and the bookkeeping.
 * Resuming restores exactly that, so the epochs after it run the same
 * arithmetic on the same state as an uninterrupted run. */
#include "net/net.h"
#include "data/dataset.h"
#include "io/checkpoint.h"
#include "optimizer.h"
#include "shard.h"

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#define WHO "cnn_train"

/* cnn_train_params as first published, before the checkpoint fields: a
 * caller compiled against that header passes this struct_size, and the
 * fields it lacks take their defaults. */
#define TRAIN_PARAMS_MIN_SIZE offsetof(cnn_train_params, checkpoint_path)

cnn_status cnn_train_params_init_sized(cnn_train_params *p, size_t struct_size, int32_t epochs)
{
    cnn_train_params d;
    memset(&d, 0, sizeof d);
    d.epochs = epochs;
    d.batch_size = 10;
    d.eval_batch_size = 1000;
    d.progress_every = 100;
    d.checkpoint_every = 1;
    d.schedule = CNN_SCHEDULE_CONSTANT;
    d.schedule_gamma = 0.1f;
    d.schedule_step = 1;
    d.warmup_fraction = 0.3f;
    d.initial_lr_fraction = 0.04f;
    return cnn_params_copy_out("cnn_train_params_init", p, struct_size, &d, sizeof d,
                               TRAIN_PARAMS_MIN_SIZE);
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

/* Copies the caller's params into *q: the fields the caller's struct_size
 * covers, defaults for the rest. */
static cnn_status read_params(cnn_net *net, const cnn_train_params *p, cnn_train_params *q)
{
    if (p->struct_size < TRAIN_PARAMS_MIN_SIZE)
        return cnn_net_fail(net, CNN_EINVAL, WHO ": params struct_size %u, expected at least %zu "
                            "(use cnn_train_params_init)", (unsigned)p->struct_size,
                            TRAIN_PARAMS_MIN_SIZE);
    cnn_train_params_init_sized(q, sizeof *q, p->epochs);
    memcpy(q, p, TRAIN_PARAMS_MIN_SIZE);
    q->struct_size = sizeof *q;
    /* A later field is taken only if the caller's struct holds all of it. */
    size_t have = p->struct_size;
#define TAKE(field)                                                          \
    if (have >= offsetof(cnn_train_params, field) + sizeof q->field)         \
        q->field = p->field
    TAKE(checkpoint_path);
    TAKE(resume_path);
    TAKE(checkpoint_every);
    TAKE(schedule);
    TAKE(schedule_gamma);
    TAKE(schedule_step);
    TAKE(schedule_step_epochs);
    TAKE(warmup_fraction);
    TAKE(initial_lr_fraction);
    TAKE(final_lr_fraction);
#undef TAKE
    return CNN_OK;
}

static cnn_status validate(cnn_net *net, const cnn_dataset *train, const cnn_train_params *p,
                           cnn_train_result *result)
{
    if (result && result->struct_size < sizeof *result)
        return cnn_net_fail(net, CNN_EINVAL, WHO ": result struct_size %u, expected %zu",
                            (unsigned)result->struct_size, sizeof *result);
    if (p->epochs < 1)
        return cnn_net_fail(net, CNN_EINVAL, WHO ": %d epochs, must be >= 1", (int)p->epochs);
    if (p->batch_size < 1 || p->eval_batch_size < 1)
        return cnn_net_fail(net, CNN_EINVAL, WHO ": batch sizes %d / %d (eval), must be >= 1",
                            (int)p->batch_size, (int)p->eval_batch_size);
    if (p->progress_every < 0)
        return cnn_net_fail(net, CNN_EINVAL, WHO ": progress_every %d, must be >= 0",
                            (int)p->progress_every);
    if (p->checkpoint_path && !p->checkpoint_path[0])
        return cnn_net_fail(net, CNN_EINVAL, WHO ": checkpoint_path is empty (NULL for none)");
    if (p->resume_path && !p->resume_path[0])
        return cnn_net_fail(net, CNN_EINVAL, WHO ": resume_path is empty (NULL for none)");
    if (p->checkpoint_path && p->checkpoint_every < 1)
        return cnn_net_fail(net, CNN_EINVAL, WHO ": checkpoint_every %d, must be >= 1",
                            (int)p->checkpoint_every);
    if (p->schedule < CNN_SCHEDULE_CONSTANT || p->schedule > CNN_SCHEDULE_ONECYCLE)
        return cnn_net_fail(net, CNN_EINVAL, WHO ": schedule %d is not a cnn_schedule (0..3)",
                            (int)p->schedule);
    if (p->schedule == CNN_SCHEDULE_STEP &&
        (!(p->schedule_gamma > 0.0f && p->schedule_gamma <= 1.0f) || p->schedule_step < 1))
        return cnn_net_fail(net, CNN_EINVAL, WHO ": step schedule with gamma %g and "
                            "schedule_step %d: gamma must be in (0, 1] and the step >= 1",
                            (double)p->schedule_gamma, (int)p->schedule_step);
    if ((p->schedule == CNN_SCHEDULE_COSINE || p->schedule == CNN_SCHEDULE_ONECYCLE) &&
        !(p->final_lr_fraction >= 0.0f && p->final_lr_fraction <= 1.0f))
        return cnn_net_fail(net, CNN_EINVAL, WHO ": final_lr_fraction %g outside [0, 1]",
                            (double)p->final_lr_fraction);
    if (p->schedule == CNN_SCHEDULE_ONECYCLE &&
        (!(p->warmup_fraction >= 0.0f && p->warmup_fraction < 1.0f) ||
         !(p->initial_lr_fraction > 0.0f && p->initial_lr_fraction <= 1.0f)))
        return cnn_net_fail(net, CNN_EINVAL, WHO ": one-cycle schedule with warmup_fraction %g "
                            "and initial_lr_fraction %g: they must be in [0, 1) and (0, 1]",
                            (double)p->warmup_fraction, (double)p->initial_lr_fraction);
    /* Checked now rather than when the first checkpoint is due. */
    if (p->checkpoint_path && p->shuffle && (uint64_t)cnn_dataset_count(train) > UINT32_MAX)
        return cnn_net_fail(net, CNN_EINVAL, WHO ": %lld training examples: a checkpoint stores "
                            "the order of at most %lu", (long long)cnn_dataset_count(train),
                            (unsigned long)UINT32_MAX);
    if (net->n_layers == 0 || !net->layers[net->n_layers - 1]->ops->is_output)
        return cnn_net_fail(net, CNN_ESTATE, WHO ": the network must end in an output layer "
                            "(softmax)");
    int classes = (int)cnn_shape_numel3(net->shapes[net->n_layers - 1]);
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

/* The rate the optimizer was created with: where schedules start. */
static float base_rate_of(const cnn_optimizer *opt)
{
    return opt->kind == CNN_OPT_KIND_ADAM ? opt->a.learning_rate : opt->p.learning_rate;
}

typedef struct train_state {
    const cnn_shard_params *shard; /* sharded run (cnn_train_sharded), else NULL */
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
    if (s->shard)
        cnn_shard_seed_epoch(s->shard, net, p->seed, epoch);
    double t0 = cnn_now_seconds(), cost_sum = 0.0;
    for (int64_t b = 0; b < batches; b++) {
        int64_t start = b * p->batch_size;
        int n = (int)(count - start < p->batch_size ? count - start : p->batch_size);
        int lo = 0, local = n; /* this process's piece of the global batch */
        if (s->shard)
            cnn_shard_piece(s->shard, n, &lo, &local);
        if (local > 0)
            cnn_dataset_gather(train, s->order, start + lo, local, net->input, s->labels,
                               (uint64_t)epoch);
        if (p->schedule != CNN_SCHEDULE_CONSTANT) {
            float rate = cnn_schedule_rate(p, base_rate_of(opt), (int64_t)(epoch - 1) * batches + b,
                                           (int64_t)p->epochs * batches, batches);
            opt->lr = rate >= FLT_MIN ? rate : FLT_MIN; /* a step schedule can underflow */
        }
        if (local > 0)
            cnn_net_forward_input(net, local, CNN_MODE_TRAIN);
        double cost = 0.0;
        cnn_status st = s->shard ? cnn_shard_step(s->shard, opt, net, s->labels, local, n, &cost)
                                 : cnn_optimizer_backward_step(opt, net, s->labels, &cost);
        if (st != CNN_OK)
            return st;
        /* The cost of every step is computed anyway: a non-finite one means
         * the parameters are already lost (NaN spreads to all of them
         * within a step or two), so stop before an epoch of NaN arithmetic
         * and before a checkpoint could store it. */
        if (!isfinite(cost))
            return cnn_net_fail(net, CNN_EDIVERGED, WHO ": diverged in epoch %d at step %lld of "
                                "%lld: the cost is %g (try a smaller learning rate)", (int)epoch,
                                (long long)(b + 1), (long long)batches, cost);
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

/* ---- checkpoints ---------------------------------------------------------- */

/* The network being trained must be the one the checkpoint holds. */
static cnn_status check_arch(cnn_net *net, const cnn_net *saved, const char *path)
{
    if (memcmp(net->in, saved->in, sizeof net->in) != 0)
        return cnn_net_fail(net, CNN_ESHAPE, WHO ": checkpoint '%s' holds a network for %dx%dx%d "
                            "inputs, this one takes %dx%dx%d", path, saved->in[0], saved->in[1],
                            saved->in[2], net->in[0], net->in[1], net->in[2]);
    if (net->n_layers != saved->n_layers)
        return cnn_net_fail(net, CNN_ESHAPE, WHO ": checkpoint '%s' holds a network of %d layers, "
                            "this one has %d", path, (int)saved->n_layers, (int)net->n_layers);
    /* Each kind's summary names every field that changes what the layer
     * computes (and none that only changed its initial weights), so equal
     * lines and equal input shapes mean the same function of the same
     * parameters. */
    for (int32_t i = 0; i < net->n_layers; i++) {
        const cnn_layer *a = saved->layers[i], *b = net->layers[i];
        char there[CNN_ERRMSG_MAX / 2], here[CNN_ERRMSG_MAX / 2];
        cnn_layer_describe(a, there, sizeof there);
        cnn_layer_describe(b, here, sizeof here);
        if (a->ops != b->ops || strcmp(there, here) != 0 ||
            memcmp(saved->shapes[i], net->shapes[i], sizeof net->shapes[i]) != 0)
            return cnn_net_fail(net, CNN_ESHAPE, WHO ": checkpoint '%s': layer %d is '%s' there, "
                                "'%s' here", path, (int)i, there, here);
    }
    if (net->n_params != saved->n_params) /* implied by the layers; kept as a guard */
        return cnn_net_fail(net, CNN_ESHAPE, WHO ": checkpoint '%s' holds %lld parameters, the "
                            "network has %lld", path, (long long)saved->n_params,
                            (long long)net->n_params);
    return CNN_OK;
}

static bool same_float(float a, float b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* The run being resumed must be this run: same settings, same optimizer. */
static cnn_status check_settings(cnn_net *net, const cnn_optimizer *opt, int64_t count,
                                 const cnn_train_params *p, const cnn_ckpt *c)
{
    const char *path = p->resume_path;
    const cnn_sgd_params *o = &opt->p;
    if (c->epoch > p->epochs)
        return cnn_net_fail(net, CNN_EINVAL, WHO ": checkpoint '%s' is at epoch %d, after the %d "
                            "epochs asked for", path, (int)c->epoch, (int)p->epochs);
    if (c->batch_size != p->batch_size)
        return cnn_net_fail(net, CNN_EINVAL, WHO ": checkpoint '%s' was written with batch size "
                            "%d, this run has %d", path, (int)c->batch_size, (int)p->batch_size);
    if (c->shuffle != (p->shuffle != 0))
        return cnn_net_fail(net, CNN_EINVAL, WHO ": checkpoint '%s' was written %s shuffling, "
                            "this run is %s", path, c->shuffle ? "with" : "without",
                            p->shuffle ? "shuffled" : "in stored order");
    if (c->seed != p->seed)
        return cnn_net_fail(net, CNN_EINVAL, WHO ": checkpoint '%s' was written with seed %llu, "
                            "this run has %llu", path, (unsigned long long)c->seed,
                            (unsigned long long)p->seed);
    if (c->count != count)
        return cnn_net_fail(net, CNN_EINVAL, WHO ": checkpoint '%s' was written for %lld training "
                            "examples, this training set has %lld", path, (long long)c->count,
                            (long long)count);
    const bool adam = opt->kind == CNN_OPT_KIND_ADAM;
    if (c->opt_kind != (uint32_t)opt->kind)
        return cnn_net_fail(net, CNN_EINVAL, WHO ": checkpoint '%s' holds optimizer kind %u (%s), "
                            "this run uses %s", path, (unsigned)c->opt_kind,
                            c->opt_kind == CNNC_OPT_ADAM ? "Adam" : "SGD", adam ? "Adam" : "SGD");
    const char *kind = adam ? "Adam" : "SGD";
    const cnn_adam_params *A = &opt->a;
    static const char *const sgd_names[3] = {"learning rate", "momentum", "l2"};
    static const char *const adam_names[5] = {"learning rate", "beta1", "beta2", "epsilon",
                                              "weight decay"};
    const float sgd_theirs[3] = {c->learning_rate, c->momentum, c->l2};
    const float sgd_ours[3] = {o->learning_rate, o->momentum, o->l2};
    const float adam_theirs[5] = {c->learning_rate, c->beta1, c->beta2, c->epsilon, c->l2};
    const float adam_ours[5] = {A->learning_rate, A->beta1, A->beta2, A->epsilon, A->weight_decay};
    const int nk = adam ? 5 : 3;
    for (int k = 0; k < nk; k++) {
        float theirs = adam ? adam_theirs[k] : sgd_theirs[k], ours = adam ? adam_ours[k] : sgd_ours[k];
        if (!same_float(theirs, ours))
            return cnn_net_fail(net, CNN_EINVAL, WHO ": checkpoint '%s' was written with %s %s "
                                "%.9g, this optimizer has %.9g", path, kind,
                                adam ? adam_names[k] : sgd_names[k], (double)theirs, (double)ours);
    }
    const int32_t flag = adam ? A->decoupled : o->nesterov;
    if (c->opt_flag != flag)
        return cnn_net_fail(net, CNN_EINVAL, WHO ": checkpoint '%s' was written with %s, this "
                            "optimizer is %s", path,
                            adam ? (c->opt_flag ? "AdamW" : "Adam") :
                                   (c->opt_flag ? "Nesterov momentum" : "classical momentum"),
                            adam ? (flag ? "AdamW" : "Adam") : (flag ? "Nesterov" : "classical"));
    if (!adam && c->l2_batches != o->l2_batches)
        return cnn_net_fail(net, CNN_EINVAL, WHO ": checkpoint '%s' was written with SGD "
                            "l2_batches %lld, this optimizer has %lld", path,
                            (long long)c->l2_batches, (long long)o->l2_batches);
    if (c->schedule != p->schedule)
        return cnn_net_fail(net, CNN_EINVAL, WHO ": checkpoint '%s' was written with schedule "
                            "%d, this run has %d", path, (int)c->schedule, (int)p->schedule);
    if (c->schedule_step != p->schedule_step || c->schedule_step_epochs != (p->schedule_step_epochs != 0))
        return cnn_net_fail(net, CNN_EINVAL, WHO ": checkpoint '%s' was written with "
                            "schedule_step %d%s, this run has %d%s", path, (int)c->schedule_step,
                            c->schedule_step_epochs ? " epochs" : "", (int)p->schedule_step,
                            p->schedule_step_epochs ? " epochs" : "");
    if ((p->schedule == CNN_SCHEDULE_COSINE || p->schedule == CNN_SCHEDULE_ONECYCLE) &&
        c->run_epochs != p->epochs)
        return cnn_net_fail(net, CNN_EINVAL, WHO ": checkpoint '%s' is of a %d-epoch run and its "
                            "schedule spans the whole run; this run asks for %d epochs", path,
                            (int)c->run_epochs, (int)p->epochs);
    static const char *const sched_names[4] = {"schedule_gamma", "warmup_fraction",
                                               "initial_lr_fraction", "final_lr_fraction"};
    const float s_theirs[4] = {c->schedule_gamma, c->warmup_fraction, c->initial_lr_fraction,
                               c->final_lr_fraction};
    const float s_ours[4] = {p->schedule_gamma, p->warmup_fraction, p->initial_lr_fraction,
                             p->final_lr_fraction};
    for (int k = 0; k < 4; k++)
        if (!same_float(s_theirs[k], s_ours[k]))
            return cnn_net_fail(net, CNN_EINVAL, WHO ": checkpoint '%s' was written with %s "
                                "%.9g, this run has %.9g", path, sched_names[k],
                                (double)s_theirs[k], (double)s_ours[k]);
    if (c->velocity_len > 0 && opt->velocity && opt->velocity_len != net->n_params)
        return cnn_net_fail(net, CNN_ESHAPE, WHO ": the optimizer holds momentum for %lld "
                            "parameters, the network has %lld", (long long)opt->velocity_len,
                            (long long)net->n_params);
    return CNN_OK;
}

/* Restores the state of p->resume_path into the network, the optimizer, s
 * and r.  Everything is read, checked and allocated before anything is
 * changed, so on failure the caller's objects are as they were. */
static cnn_status resume(cnn_net *net, cnn_optimizer *opt, int64_t count,
                         const cnn_train_params *p, train_state *s, cnn_train_result *r)
{
    cnn_ckpt c;
    cnn_status st = cnn_ckpt_load(WHO, p->resume_path, &net->limits, &c);
    if (st != CNN_OK)
        return cnn_net_keep_error(net, st);
    float *velocity = NULL, *second = NULL;
    const bool adam = opt->kind == CNN_OPT_KIND_ADAM;
    st = check_arch(net, c.model, p->resume_path);
    if (st == CNN_OK)
        st = check_settings(net, opt, count, p, &c);
    if (st == CNN_OK && c.velocity_len > 0 && !opt->velocity) {
        /* velocity_len counts every state buffer: n_params each */
        size_t n = (size_t)net->n_params ? (size_t)net->n_params : 1;
        velocity = cnn_alloc_array(n, sizeof *velocity);
        second = adam ? cnn_alloc_array(n, sizeof *second) : NULL;
        if (!velocity || (adam && !second))
            st = cnn_net_fail(net, CNN_ENOMEM, WHO ": out of memory for %lld optimizer state "
                              "values", (long long)c.velocity_len);
    }
    if (st != CNN_OK) {
        cnn_dealloc(velocity);
        cnn_dealloc(second);
        cnn_ckpt_free(&c);
        return st;
    }
    /* Nothing fails from here on. */
    memcpy(net->params, c.model->params, (size_t)net->n_params * sizeof *net->params);
    if (net->n_state) /* equal: same layers, same shapes */
        memcpy(net->state, c.model->state, (size_t)net->n_state * sizeof *net->state);
    if (c.velocity_len > 0) {
        if (velocity) {
            opt->velocity = velocity;
            opt->second = second;
            opt->velocity_len = net->n_params;
        }
        size_t n = (size_t)net->n_params;
        memcpy(opt->velocity, c.velocity, n * sizeof *c.velocity);
        if (adam)
            memcpy(opt->second, c.velocity + n, n * sizeof *c.velocity);
    }
    opt->steps = c.opt_steps;
    opt->lr = c.current_lr;
    if (s->order)
        memcpy(s->order, c.order, (size_t)c.order_len * sizeof *c.order);
    s->shuffle_rng = c.shuffle_rng;
    net->rng = c.dropout_rng;
    r->epochs_run = c.epoch;
    r->final_train_cost = c.final_train_cost;
    r->best_epoch = c.best_epoch;
    r->best_validation_accuracy = c.best_validation_accuracy;
    r->test_accuracy_at_best = c.test_accuracy_at_best;
    cnn_ckpt_free(&c);
    return CNN_OK;
}

/* Writes the state after `epoch` (r already holds its figures). */
static cnn_status checkpoint(cnn_net *net, const cnn_optimizer *opt, int64_t count,
                             const cnn_train_params *p, const train_state *s,
                             const cnn_train_result *r, int32_t epoch)
{
    const bool adam = opt->kind == CNN_OPT_KIND_ADAM;
    const int64_t buffers = opt->velocity ? cnn_optimizer_state_buffers(opt) : 0;
    float *state = NULL;
    if (adam && buffers) { /* m then v, one block */
        size_t n = (size_t)net->n_params;
        state = cnn_alloc_array(n ? 2 * n : 1, sizeof *state);
        if (!state)
            return cnn_net_fail(net, CNN_ENOMEM, WHO ": out of memory for the checkpoint's "
                                "optimizer state");
        memcpy(state, opt->velocity, n * sizeof *state);
        memcpy(state + n, opt->second, n * sizeof *state);
    }
    cnn_ckpt c = {
        .epoch = epoch, .batch_size = p->batch_size, .shuffle = p->shuffle != 0,
        .seed = p->seed, .count = count, .n_params = net->n_params,
        .opt_kind = adam ? CNNC_OPT_ADAM : CNNC_OPT_SGD,
        .learning_rate = adam ? opt->a.learning_rate : opt->p.learning_rate,
        .momentum = adam ? 0.0f : opt->p.momentum, .l2 = adam ? opt->a.weight_decay : opt->p.l2,
        .l2_batches = adam ? 0 : opt->p.l2_batches,
        .opt_flag = adam ? opt->a.decoupled : opt->p.nesterov,
        .beta1 = adam ? opt->a.beta1 : 0.0f, .beta2 = adam ? opt->a.beta2 : 0.0f,
        .epsilon = adam ? opt->a.epsilon : 0.0f, .current_lr = opt->lr,
        .opt_steps = opt->steps, .schedule = p->schedule, .schedule_gamma = p->schedule_gamma,
        .schedule_step = p->schedule_step, .schedule_step_epochs = p->schedule_step_epochs != 0,
        .warmup_fraction = p->warmup_fraction, .initial_lr_fraction = p->initial_lr_fraction,
        .final_lr_fraction = p->final_lr_fraction, .run_epochs = p->epochs,
        .shuffle_rng = s->shuffle_rng, .dropout_rng = net->rng,
        .best_epoch = r->best_epoch, .best_validation_accuracy = r->best_validation_accuracy,
        .test_accuracy_at_best = r->test_accuracy_at_best,
        .final_train_cost = r->final_train_cost,
        .velocity = buffers ? (adam ? state : opt->velocity) : NULL,
        .velocity_len = buffers * net->n_params,
        .order = s->order, .order_len = s->order ? count : 0,
    };
    cnn_status st = cnn_net_keep_error(net, cnn_ckpt_save(WHO, net, &c, p->checkpoint_path));
    cnn_dealloc(state);
    return st;
}

cnn_status cnn_train(cnn_net *net, cnn_optimizer *opt, const cnn_dataset *train,
                     const cnn_train_params *params, cnn_train_result *result)
{
    return cnn_train_sharded(net, opt, train, params, NULL, result);
}

cnn_status cnn_train_sharded(cnn_net *net, cnn_optimizer *opt, const cnn_dataset *train,
                             const cnn_train_params *params, const cnn_shard_params *shard,
                             cnn_train_result *result)
{
    if (!net)
        return cnn_fail(CNN_EINVAL, WHO ": network is NULL");
    if (!opt || !train || !params)
        return cnn_net_fail(net, CNN_EINVAL, WHO ": %s is NULL",
                            !opt ? "optimizer" : !train ? "training set" : "params");
    cnn_train_params q;
    cnn_shard_params sq;
    cnn_status st = read_params(net, params, &q);
    if (st == CNN_OK && shard)
        st = cnn_shard_read(net, shard, &sq);
    if (st == CNN_OK)
        st = validate(net, train, &q, result);
    if (st != CNN_OK)
        return st;
    const cnn_train_params *p = &q;

    int64_t count = cnn_dataset_count(train);
    int32_t batch = p->batch_size < count ? p->batch_size : (int32_t)count;
    train_state s = {.shard = shard ? &sq : NULL};
    s.labels = cnn_alloc_array((size_t)batch, sizeof *s.labels);
    if (p->shuffle) {
        s.order = cnn_alloc_array((size_t)count, sizeof *s.order);
        if (s.order)
            for (int64_t i = 0; i < count; i++)
                s.order[i] = i;
    }
    if (!s.labels || (p->shuffle && !s.order)) {
        st = cnn_net_fail(net, CNN_ENOMEM, WHO ": out of memory for %lld examples' order",
                          (long long)count);
        goto done;
    }
    if ((st = cnn_net_reserve(net, batch)) != CNN_OK)
        goto done;
    cnn_train_result r = {.struct_size = sizeof r, .best_validation_accuracy = -1.0,
                          .test_accuracy_at_best = -1.0};
    cnn_rng_seed_stream(&s.shuffle_rng, p->seed, 0x5eed);
    if (p->resume_path) {
        /* Before any generator or the optimizer is touched: a refused
         * checkpoint leaves the caller's objects as they were. */
        if ((st = resume(net, opt, count, p, &s, &r)) != CNN_OK)
            goto done;
    } else {
        cnn_net_seed_dropout(net, p->seed);
    }
    opt->batches_override = count / p->batch_size > 0 ? count / p->batch_size : 1;

    double t_start = cnn_now_seconds();
    for (int32_t epoch = r.epochs_run + 1; epoch <= p->epochs; epoch++) {
        double t0 = cnn_now_seconds(), cost = 0.0;
        if ((st = run_epoch(net, opt, train, p, &s, epoch, &cost)) != CNN_OK)
            break;
        if (s.shard && (st = cnn_shard_sync_state(s.shard, net)) != CNN_OK)
            break;
        /* A bounded cost can hide parameters already lost (the softmax of
         * infinities is still a distribution): one pass over them per
         * epoch, before they are evaluated or checkpointed. */
        for (int64_t i = 0; i < net->n_params; i++)
            if (!isfinite(net->params[i])) {
                st = cnn_net_fail(net, CNN_EDIVERGED, WHO ": diverged in epoch %d: parameter "
                                  "%lld is %g after the epoch (try a smaller learning rate)",
                                  (int)epoch, (long long)i, (double)net->params[i]);
                break;
            }
        if (st != CNN_OK)
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
        if (p->checkpoint_path && (epoch % p->checkpoint_every == 0 || epoch == p->epochs) &&
            (st = checkpoint(net, opt, count, p, &s, &r, epoch)) != CNN_OK)
            break;
        if (p->on_epoch) {
            cnn_epoch_report rep = {.struct_size = sizeof rep, .epoch = epoch, .epochs = p->epochs,
                                    .train_cost = cost, .validation_accuracy = val,
                                    .test_accuracy = test, .seconds = seconds,
                                    .images_per_second = seconds > 0 ? (double)count / seconds : 0,
                                    .best_epoch = r.best_epoch,
                                    .best_validation_accuracy = r.best_validation_accuracy,
                                    .test_accuracy_at_best = r.test_accuracy_at_best};
            if (p->on_epoch(&rep, p->user) != 0) {
                st = cnn_net_fail(net, CNN_ECANCELED, WHO ": canceled by the epoch callback "
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
