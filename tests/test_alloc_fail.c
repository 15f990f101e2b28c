/* Allocation failure: for every N, make the N-th allocation fail while
 * building a network, training it one step, saving and loading it,
 * checkpointing and resuming training, and loading a dataset.  Every call
 * must either succeed or return CNN_ENOMEM (never crash, never another
 * status); everything is freed either way, which the sanitizer build
 * (LeakSanitizer) and valgrind verify.  The loop runs until a whole pass
 * succeeds with no injected failure reached. */
#include "testutil.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Runs `expr`; on failure it must be CNN_ENOMEM and we jump to cleanup. */
#define STEP(expr)                                                                      \
    do {                                                                                \
        cnn_status st_ = (expr);                                                        \
        if (st_ != CNN_OK) {                                                            \
            ck_assert_msg(st_ == CNN_ENOMEM, "%s returned %s under allocation failure: %s", \
                          #expr, cnn_status_name(st_), cnn_last_error());               \
            goto cleanup;                                                               \
        }                                                                               \
    } while (0)

/* Adds the layer a constructor just made (read through the pointer, after
 * the call); on failure frees it, since cnn_net_add leaves it with us. */
static cnn_status add_created(cnn_net *net, cnn_status created, cnn_layer *const *l)
{
    if (created != CNN_OK)
        return created;
    cnn_status st = cnn_net_add(net, *l);
    if (st != CNN_OK)
        cnn_layer_destroy(*l);
    return st;
}

static cnn_status add_conv(cnn_net *net, int maps, int pool)
{
    cnn_conv2d_params p;
    cnn_conv2d_params_init(&p, maps, 3, 3);
    p.activation = CNN_ACT_RELU;
    p.pool = pool;
    cnn_layer *l;
    return add_created(net, cnn_conv2d_create(&p, &l), &l);
}

static cnn_status add_dense(cnn_net *net, int n, float dropout)
{
    cnn_dense_params p;
    cnn_dense_params_init(&p, n);
    p.dropout = dropout;
    cnn_layer *l;
    return add_created(net, cnn_dense_create(&p, &l), &l);
}

static cnn_status add_softmax(cnn_net *net, int classes)
{
    cnn_softmax_params p;
    cnn_softmax_params_init(&p, classes);
    p.dropout = 0.25f;
    cnn_layer *l;
    return add_created(net, cnn_softmax_create(&p, &l), &l);
}

/* One full pass; returns true if every call succeeded. */
static bool one_pass(const char *model_path, const char *ckpt_path)
{
    bool complete = false;
    cnn_net *net = NULL, *loaded = NULL, *from_buf = NULL, *copy = NULL;
    cnn_optimizer *opt = NULL, *resume_opt = NULL;
    cnn_tensor *x = NULL;
    cnn_dataset *ds = NULL, *slice = NULL, *expanded = NULL, *augmented = NULL;
    void *buf = NULL;
    size_t size = 0;
    uint8_t pixels[6 * 10 * 10], labels[6];
    for (size_t i = 0; i < sizeof pixels; i++)
        pixels[i] = (uint8_t)(i * 37);
    for (int i = 0; i < 6; i++)
        labels[i] = (uint8_t)(i % 3);

    STEP(cnn_net_create(1, 10, 10, 1, &net));
    STEP(add_conv(net, 2, CNN_POOL_MAX));
    STEP(add_conv(net, 3, CNN_POOL_NONE));
    STEP(add_dense(net, 5, 0.5f));
    STEP(add_softmax(net, 3));
    cnn_sgd_params sp;
    cnn_sgd_params_init(&sp, 0.1f);
    sp.momentum = 0.5f;
    sp.l2 = 0.1f;
    STEP(cnn_sgd_create(&sp, &opt));

    STEP(cnn_dataset_create(6, 1, 10, 10, pixels, labels, &ds));
    STEP(cnn_dataset_slice(ds, 1, 4, &slice));
    STEP(cnn_dataset_expand(slice, 3, &expanded));
    int64_t shape[4] = {4, 1, 10, 10};
    int32_t batch_labels[4];
    STEP(cnn_tensor_create(4, shape, &x));
    STEP(cnn_dataset_batch(expanded, 0, 4, x, batch_labels));
    cnn_augment_params ap;
    cnn_augment_params_init(&ap);
    ap.rotate_min = -10, ap.rotate_max = 10, ap.elastic_alpha = 2;
    STEP(cnn_dataset_augment(expanded, &ap, &augmented));
    STEP(cnn_dataset_batch(augmented, 0, 4, x, batch_labels));
    STEP(cnn_train_step(net, opt, x, batch_labels, NULL));

    cnn_train_params tp;
    cnn_train_params_init(&tp, 1);
    tp.batch_size = 4;
    tp.shuffle = 1;
    tp.validation = slice;
    STEP(cnn_train(net, opt, expanded, &tp, NULL));
    /* Checkpoint after the next epoch, then resume from it into the copy
     * (which has the same architecture) with an optimizer of its own. */
    tp.epochs = 2;
    tp.checkpoint_path = ckpt_path;
    STEP(cnn_train(net, opt, expanded, &tp, NULL));

    STEP(cnn_net_clone(net, &copy));
    STEP(cnn_sgd_create(&sp, &resume_opt));
    tp.epochs = 3;
    tp.checkpoint_path = NULL;
    tp.resume_path = ckpt_path;
    STEP(cnn_train(copy, resume_opt, expanded, &tp, NULL));
    int32_t ckpt_epoch = 0;
    STEP(cnn_checkpoint_info(ckpt_path, &ckpt_epoch));
    ck_assert_int_eq(ckpt_epoch, 2);
    STEP(cnn_net_save_buffer(net, &buf, &size));
    STEP(cnn_net_load_buffer(buf, size, &from_buf));
    STEP(cnn_net_save(net, model_path));
    STEP(cnn_net_load(model_path, &loaded));
    int32_t a[4], b[4];
    STEP(cnn_net_predict(loaded, x, a));
    STEP(cnn_net_predict(net, x, b));
    ck_assert_mem_eq(a, b, sizeof a);
    complete = true;

cleanup:
    cnn_test_fail_alloc_after(-1);
    cnn_free(buf);
    cnn_net_destroy(net);
    cnn_net_destroy(loaded);
    cnn_net_destroy(from_buf);
    cnn_net_destroy(copy);
    cnn_optimizer_destroy(opt);
    cnn_optimizer_destroy(resume_opt);
    cnn_tensor_destroy(x);
    cnn_dataset_destroy(ds);
    cnn_dataset_destroy(slice);
    cnn_dataset_destroy(expanded);
    cnn_dataset_destroy(augmented);
    return complete;
}

START_TEST(every_allocation_can_fail)
{
    char dir[] = "/tmp/cnn-allocfail-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256], ckpt[256];
    snprintf(path, sizeof path, "%s/model.cnnm", dir);
    snprintf(ckpt, sizeof ckpt, "%s/train.ckpt", dir);

    int64_t n = 0;
    for (;; n++) {
        cnn_test_fail_alloc_after(n);
        if (one_pass(path, ckpt))
            break;
        ck_assert_msg(n < 100000, "no pass completed after %lld injected failures", (long long)n);
    }
    printf("allocation failure injected at each of the first %lld allocations; pass %lld "
           "completed\n", (long long)n, (long long)n);
    ck_assert_int_gt(n, 20); /* the pass really allocates: the loop did work */
    /* Failed saves and checkpoints must not leave temporary files behind. */
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            entries++;
            ck_assert_msg(strcmp(e->d_name, "model.cnnm") == 0 ||
                              strcmp(e->d_name, "train.ckpt") == 0,
                          "unexpected file %s", e->d_name);
        }
    closedir(d);
    ck_assert_int_eq(entries, 2);
    unlink(path);
    unlink(ckpt);
    rmdir(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("alloc_fail");
    TCase *tc = tcase_create("inject");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, every_allocation_can_fail);
    suite_add_tcase(s, tc);
    return test_run_suite(s);
}
