// The installed C++ wrapper (<cnn.hpp>), built against the installed
// library only (scripts/test-installed): every class and call it offers,
// on synthetic digits, with exact expectations where the library defines
// them and the failures it must turn into cnn::error.
#include <cnn.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

static int failures = 0;
#define EXPECT(cond)                                                          \
    do {                                                                      \
        if (!(cond)) {                                                        \
            std::fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                       \
        }                                                                     \
    } while (0)

// The synthetic digits every language's example uses: a 5x5 block whose
// place depends on the label.
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

template <class F> static bool throws_status(F f, cnn_status want)
{
    try {
        f();
    } catch (const cnn::error &e) {
        return e.status() == want && std::string(e.what()).size() > 0;
    }
    return false;
}

int main(int argc, char **argv)
{
    const std::string dir = argc > 1 ? argv[1] : ".";
    try {
        EXPECT(cnn::version().rfind("1.", 0) == 0);
        EXPECT(cnn::isa() == "avx512" || cnn::isa() == "avx2" || cnn::isa() == "generic");

        cnn::dataset train = synthetic(600, 0), test = synthetic(200, 600);
        EXPECT(train.size() == 600 && train.slice(100, 50).size() == 50);
        EXPECT(train.expand(1).size() == 3000);

        cnn::net net(1, 28, 28, 7);
        net.add(cnn::conv2d(8, 5, CNN_ACT_RELU, CNN_POOL_MAX))
            .add(cnn::batchnorm())
            .add(cnn::dense(32, CNN_ACT_RELU, 0.1f))
            .add(cnn::softmax(10));
        EXPECT(net.layers() == 4);
        EXPECT(net.summary().find("softmax") != std::string::npos);

        // Layer parameters beyond the arguments, through the edit callable.
        cnn::layer strided = cnn::conv2d(4, 3, CNN_ACT_TANH, CNN_POOL_NONE,
                                         [](cnn_conv2d_params &p) { p.stride_h = p.stride_w = 2; });
        EXPECT(strided != nullptr);

        // Training with callbacks: every epoch reported; true stops the run.
        cnn::optimizer adamw = cnn::adam(0.003f, 0.01f, true);
        int epochs_seen = 0;
        int64_t progress_calls = 0;
        cnn::train_options o;
        o.epochs = 3;
        o.batch_size = 20;
        o.shuffle = true;
        o.validation = &test;
        o.schedule = CNN_SCHEDULE_COSINE;
        o.progress_every = 10;
        o.on_epoch = [&](const cnn_epoch_report &r) {
            epochs_seen = r.epoch;
            return false;
        };
        o.on_progress = [&](const cnn_progress &) {
            progress_calls++;
            return false;
        };
        cnn_train_result r = net.train(adamw, train, o);
        EXPECT(r.epochs_run == 3 && epochs_seen == 3 && progress_calls > 0);
        auto [accuracy, cost] = net.evaluate(test, 50);
        std::printf("test accuracy after 3 epochs: %.4f (cost %.4f)\n", accuracy, cost);
        EXPECT(accuracy > 0.9 && std::isfinite(cost));

        cnn::train_options stop = o;
        stop.epochs = 5;
        stop.on_epoch = [](const cnn_epoch_report &r) { return r.epoch == 2; };
        EXPECT(throws_status([&] { net.train(adamw, train, stop); }, CNN_ECANCELED));

        // An exception from a callback comes back out of train().
        cnn::train_options raise = o;
        raise.on_epoch = [](const cnn_epoch_report &) -> bool { throw std::runtime_error("mine"); };
        bool rethrown = false;
        try {
            net.train(adamw, train, raise);
        } catch (const std::runtime_error &e) {
            rethrown = std::string(e.what()) == "mine";
        }
        EXPECT(rethrown);

        // Forward gives probabilities; predict their argmax.
        auto [x, labels] = test.batch(0, 20);
        EXPECT(x.shape() == (std::vector<int64_t>{20, 1, 28, 28}) && labels.size() == 20);
        cnn::tensor y = net.forward(x);
        EXPECT(y.shape() == (std::vector<int64_t>{20, 10}));
        std::vector<int32_t> predicted = net.predict(x);
        for (size_t i = 0; i < 20; i++) {
            std::vector<float> row(y.data() + 10 * i, y.data() + 10 * i + 10);
            float sum = 0;
            size_t best = 0;
            for (size_t k = 0; k < 10; k++) {
                sum += row[k];
                if (row[k] > row[best])
                    best = k;
            }
            EXPECT(std::fabs(sum - 1.0f) < 1e-4f && static_cast<int32_t>(best) == predicted[i]);
        }

        // Save, load and the buffer form give the same predictions.
        const std::string path = dir + "/wrapper_test.cnnm";
        net.save(path);
        EXPECT(cnn::net::load(path).predict(x) == predicted);
        EXPECT(cnn::net::from_bytes(net.to_bytes()).predict(x) == predicted);

        // The ONNX copy predicts the same (unless built without ONNX).
        const std::string onnx_path = dir + "/wrapper_test.onnx";
        if (!throws_status([&] { net.to_onnx(onnx_path); }, CNN_ENOTSUP))
            EXPECT(cnn::net::from_onnx(onnx_path).predict(x) == predicted);
        EXPECT(throws_status([] { cnn::net::from_onnx("/nonexistent/m.onnx"); }, CNN_EIO) ||
               throws_status([] { cnn::net::from_onnx("/nonexistent/m.onnx"); }, CNN_ENOTSUP));

        // Plain steps with SGD.
        cnn::optimizer sgd = cnn::sgd(0.01f, 0.0f, [](cnn_sgd_params &p) { p.momentum = 0.9f; });
        EXPECT(std::isfinite(net.train_step(sgd, x, labels)));
        sgd.set_learning_rate(0.005f);
        EXPECT(sgd.learning_rate() == 0.005f);

        // Failures are exceptions with the status and the library's message.
        EXPECT(throws_status([&] { net.add(cnn::dense(10)); }, CNN_EINVAL)); // after softmax
        EXPECT(net.layers() == 4); // and the refused layer was freed, not added
        EXPECT(throws_status([] { cnn::conv2d(0, 5); }, CNN_EINVAL));
        EXPECT(throws_status([&] { net.predict(cnn::tensor({2, 1, 27, 28})); }, CNN_ESHAPE));
        EXPECT(throws_status([] { cnn::net::load("/nonexistent/model.cnnm"); }, CNN_EIO));
        EXPECT(throws_status([] { cnn::dataset::load_mnist("/nonexistent", CNN_MNIST_TEST); },
                             CNN_EIO));
        EXPECT(throws_status([&] { net.train_step(sgd, x, std::vector<int32_t>(3)); },
                             CNN_ESHAPE));
    } catch (const cnn::error &e) {
        std::fprintf(stderr, "unexpected error %s: %s\n", e.name(), e.what());
        return 1;
    }
    if (failures) {
        std::fprintf(stderr, "%d expectations failed\n", failures);
        return 1;
    }
    std::printf("cnn.hpp: all expectations met\n");
    return 0;
}
