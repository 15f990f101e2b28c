/* Whole-dataset inference through the public API.  The network's own
 * cnn_net_predict_dataset() returns labels only; the ensemble's tie rule
 * needs the probabilities, so this runs cnn_net_forward() batch by batch. */
#include "predict.h"

#include <stdlib.h>

#include "vote.h"

cnn_status predict_probs(cnn_net *net, const cnn_dataset *ds, int32_t batch, int32_t classes,
                         const volatile sig_atomic_t *stop, float *probs)
{
    int32_t shape[3];
    cnn_status st = cnn_dataset_shape(ds, shape);
    if (st != CNN_OK)
        return st;
    int64_t count = cnn_dataset_count(ds);
    size_t per = (size_t)shape[0] * (size_t)shape[1] * (size_t)shape[2];
    float *xbuf = malloc((size_t)batch * per * sizeof *xbuf);
    if (xbuf == NULL)
        return CNN_ENOMEM;
    for (int64_t start = 0; start < count && st == CNN_OK; start += batch) {
        if (stop != NULL && *stop) {
            st = CNN_ECANCELED;
            break;
        }
        int64_t n = count - start < batch ? count - start : batch;
        /* Wrapping caller memory per batch lets the last, shorter batch use
         * the same buffers. */
        int64_t xs[4] = {n, shape[0], shape[1], shape[2]};
        int64_t ys[2] = {n, classes};
        cnn_tensor *x = NULL, *y = NULL;
        st = cnn_tensor_wrap(4, xs, xbuf, &x);
        if (st == CNN_OK)
            st = cnn_tensor_wrap(2, ys, probs + start * classes, &y);
        if (st == CNN_OK)
            st = cnn_dataset_batch(ds, start, n, x, NULL);
        if (st == CNN_OK)
            st = cnn_net_forward(net, x, CNN_MODE_INFER, y);
        cnn_tensor_destroy(x);
        cnn_tensor_destroy(y);
    }
    free(xbuf);
    return st;
}

void predict_argmax(const float *probs, int64_t count, int32_t classes, int32_t *labels)
{
    for (int64_t i = 0; i < count; i++) {
        const float *row = probs + i * classes;
        int32_t best = 0;
        for (int32_t c = 1; c < classes; c++)
            if (row[c] > row[best])
                best = c;
        labels[i] = best;
    }
}

int predict_vote(const float *const *member_probs, int32_t members, int64_t count,
                 int32_t classes, int32_t *labels, int64_t *disagreed)
{
    int64_t split = 0;
    if (members < 1 || classes < 1 || classes > VOTE_MAX_CLASSES)
        return -1;
    int32_t *votes = malloc((size_t)members * sizeof *votes);
    float *probs = malloc((size_t)members * (size_t)classes * sizeof *probs);
    int rc = votes && probs ? 0 : -1;
    for (int64_t i = 0; i < count && rc == 0; i++) {
        /* Gather example i's row from every member into vote_plurality's
         * members x classes layout. */
        for (int32_t m = 0; m < members; m++) {
            const float *row = member_probs[m] + i * classes;
            predict_argmax(row, 1, classes, &votes[m]);
            for (int32_t c = 0; c < classes; c++)
                probs[m * classes + c] = row[c];
        }
        labels[i] = vote_plurality(votes, probs, members, classes);
        if (labels[i] < 0)
            rc = -1;
        split += vote_unanimous(votes, members) == 0;
    }
    free(votes);
    free(probs);
    if (disagreed != NULL)
        *disagreed = split;
    return rc;
}

double predict_accuracy(const cnn_dataset *ds, const int32_t *labels, int64_t *errors)
{
    int64_t count = cnn_dataset_count(ds), right = 0;
    for (int64_t i = 0; i < count; i++) {
        int32_t label;
        if (cnn_dataset_get(ds, i, NULL, &label) != CNN_OK)
            return -1.0;
        right += label == labels[i];
    }
    if (errors != NULL)
        *errors = count - right;
    return count > 0 ? (double)right / (double)count : -1.0;
}
