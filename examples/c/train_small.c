/* Trains the two-convolution network of Nielsen's chapter 6 and predicts.
 * Build: cc train_small.c $(pkg-config --cflags --libs cnn)
 * Run:   ./a.out [model-path]      (MNIST_DIR=dir uses MNIST, else synthetic digits)
 * Every call's status is checked by CHECK, which prints cnn_last_error(). */
#include <cnn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(call) do { cnn_status s_ = (call); if (s_ != CNN_OK) { \
    fprintf(stderr, "%s: %s\n", #call, cnn_last_error()); exit(1); } } while (0)

/* Synthetic digits (same bytes in every language's example): a 5x5 square
 * whose position encodes the label i % 10, jittered by up to 2 pixels. */
static cnn_dataset *synthetic(int64_t count, int64_t first)
{
    uint8_t *pixels = calloc((size_t)count, 784), *labels = malloc((size_t)count);
    cnn_dataset *ds;
    for (int64_t n = 0; n < count; n++) {
        int64_t i = first + n, label = i % 10;
        int64_t top = 3 + label / 5 * 13 + i / 10 % 3, left = 1 + label % 5 * 5 + i / 30 % 3;
        for (int64_t y = top; y < top + 5; y++)
            memset(pixels + n * 784 + y * 28 + left, 255, 5);
        labels[n] = (uint8_t)label;
    }
    CHECK(cnn_dataset_create(count, 1, 28, 28, pixels, labels, &ds));
    free(pixels);
    free(labels);
    return ds;
}

int main(int argc, char **argv)
{
    cnn_dataset *train, *test;
    const char *mnist = getenv("MNIST_DIR");
    int64_t first = 1000; /* where the synthetic test examples start */
    if (mnist && *mnist) { /* a slice, so the example stays quick */
        cnn_dataset *all_train, *all_test;
        CHECK(cnn_dataset_load_mnist(mnist, CNN_MNIST_TRAIN, &all_train));
        CHECK(cnn_dataset_load_mnist(mnist, CNN_MNIST_TEST, &all_test));
        CHECK(cnn_dataset_slice(all_train, 0, 1000, &train));
        CHECK(cnn_dataset_slice(all_test, 0, 500, &test));
        cnn_dataset_destroy(all_train);
        cnn_dataset_destroy(all_test);
        first = 0;
    } else {
        train = synthetic(1000, 0);
        test = synthetic(500, first);
    }

    /* conv 20x5x5 + max-pool 2, conv 40x5x5 + max-pool 2, dense 100, softmax 10 */
    cnn_net *net;
    cnn_layer *layer;
    cnn_conv2d_params conv;
    cnn_dense_params dense;
    cnn_softmax_params soft;
    CHECK(cnn_net_create(1, 28, 28, 42, &net));
    for (int i = 0; i < 2; i++) {
        CHECK(cnn_conv2d_params_init(&conv, i == 0 ? 20 : 40, 5, 5));
        conv.activation = CNN_ACT_RELU;
        conv.pool = CNN_POOL_MAX;
        CHECK(cnn_conv2d_create(&conv, &layer));
        CHECK(cnn_net_add(net, layer));
    }
    CHECK(cnn_dense_params_init(&dense, 100));
    dense.activation = CNN_ACT_RELU;
    CHECK(cnn_dense_create(&dense, &layer));
    CHECK(cnn_net_add(net, layer));
    CHECK(cnn_softmax_params_init(&soft, 10));
    CHECK(cnn_softmax_create(&soft, &layer));
    CHECK(cnn_net_add(net, layer));

    cnn_sgd_params sgd;
    cnn_optimizer *opt;
    cnn_train_params tp;
    double accuracy;
    CHECK(cnn_sgd_params_init(&sgd, 0.03f));
    sgd.l2 = 0.1f;
    CHECK(cnn_sgd_create(&sgd, &opt));
    CHECK(cnn_train_params_init(&tp, 2));
    CHECK(cnn_train(net, opt, train, &tp, NULL));
    CHECK(cnn_net_evaluate(net, test, 100, &accuracy, NULL));
    printf("test accuracy: %.4f\n", accuracy);

    /* Predict the first 20 test examples (a model saved below reproduces them). */
    cnn_tensor *x;
    int64_t shape[4] = {20, 1, 28, 28};
    int32_t labels[20];
    CHECK(cnn_tensor_create(4, shape, &x));
    CHECK(cnn_dataset_batch(test, 0, 20, x, NULL));
    CHECK(cnn_net_predict(net, x, labels));
    printf("test-first: %lld\npredictions:", (long long)first);
    for (int i = 0; i < 20; i++)
        printf(" %d", (int)labels[i]);
    printf("\n");
    if (argc > 1)
        CHECK(cnn_net_save(net, argv[1]));

    cnn_tensor_destroy(x);
    cnn_optimizer_destroy(opt);
    cnn_net_destroy(net);
    cnn_dataset_destroy(train);
    cnn_dataset_destroy(test);
    return 0;
}
