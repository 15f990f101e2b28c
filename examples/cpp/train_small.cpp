// The C example in C++ with the installed wrapper <cnn.hpp>: nothing to
// free by hand, and a failure anywhere is one exception with the library's
// message.
// Build: c++ -std=c++17 train_small.cpp $(pkg-config --cflags --libs cnn)
#include <cnn.hpp>

#include <cstdio>
#include <cstring>

// Synthetic digits, the same bytes as every other language's example.
static cnn::dataset synthetic(int64_t count, int64_t first)
{
    std::vector<uint8_t> pixels(static_cast<size_t>(count) * 784), labels;
    for (int64_t n = 0; n < count; n++) {
        int64_t i = first + n, label = i % 10;
        int64_t top = 3 + label / 5 * 13 + i / 10 % 3, left = 1 + label % 5 * 5 + i / 30 % 3;
        for (int64_t y = top; y < top + 5; y++)
            std::memset(&pixels[static_cast<size_t>(n * 784 + y * 28 + left)], 255, 5);
        labels.push_back(static_cast<uint8_t>(label));
    }
    return cnn::dataset::create(pixels, labels, 1, 28, 28);
}

int main()
{
    try {
        cnn::dataset train = synthetic(1000, 0), test = synthetic(500, 1000);
        cnn::net net(1, 28, 28, 42);
        net.add(cnn::conv2d(20, 5, CNN_ACT_RELU, CNN_POOL_MAX))
            .add(cnn::conv2d(40, 5, CNN_ACT_RELU, CNN_POOL_MAX))
            .add(cnn::dense(100, CNN_ACT_RELU))
            .add(cnn::softmax(10));
        cnn::optimizer sgd = cnn::sgd(0.03f, 0.1f);
        cnn::train_options options;
        options.epochs = 2;
        options.on_epoch = [](const cnn_epoch_report &r) {
            std::printf("epoch %d: cost %.4f\n", r.epoch, r.train_cost);
            return false; // true would stop the run
        };
        net.train(sgd, train, options);
        std::printf("test accuracy: %.4f\n", net.evaluate(test, 100).first);

        auto [x, labels] = test.batch(0, 20);
        std::printf("predictions:");
        for (int32_t label : net.predict(x))
            std::printf(" %d", static_cast<int>(label));
        std::printf("\n");

        // Errors arrive as exceptions carrying status and message.
        try {
            net.add(cnn::dense(10, CNN_ACT_RELU)); // nothing may follow a softmax
            return 1;
        } catch (const cnn::error &e) {
            std::printf("expected error %s: %s\n", e.name(), e.what());
        }
        return 0;
    } catch (const cnn::error &e) {
        std::fprintf(stderr, "error %s: %s\n", e.name(), e.what());
        return 1;
    }
}
