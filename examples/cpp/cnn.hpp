// A minimal C++11 RAII layer over libcnn's C API (header-only, example code).
// Handles live in std::unique_ptr with the matching cnn_*_destroy deleter, so
// they are freed on every path, exceptions included; every failing status
// becomes a cnn::error carrying the status and cnn_last_error()'s message.
#ifndef CNN_HPP
#define CNN_HPP

#include <cnn.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace cnn {

class error : public std::runtime_error {
public:
    error(cnn_status status, const std::string &what)
        : std::runtime_error(what), status_(status) {}
    cnn_status status() const noexcept { return status_; }
    const char *name() const noexcept { return cnn_status_name(status_); }

private:
    cnn_status status_;
};

// Throws for a failing status.  The message is read at once, on the thread
// that failed, because the next failing call overwrites it.
inline void check(cnn_status s, const char *call)
{
    if (s != CNN_OK)
        throw error(s, std::string(call) + ": " + cnn_last_error());
}
#define CNN_CHECK(call) ::cnn::check((call), #call)

template <class T, void (*Destroy)(T *)> struct deleter {
    void operator()(T *p) const noexcept { Destroy(p); }
};
using tensor_ptr = std::unique_ptr<cnn_tensor, deleter<cnn_tensor, cnn_tensor_destroy>>;
using layer_ptr = std::unique_ptr<cnn_layer, deleter<cnn_layer, cnn_layer_destroy>>;
using net_ptr = std::unique_ptr<cnn_net, deleter<cnn_net, cnn_net_destroy>>;
using optimizer_ptr = std::unique_ptr<cnn_optimizer, deleter<cnn_optimizer, cnn_optimizer_destroy>>;
using dataset_ptr = std::unique_ptr<cnn_dataset, deleter<cnn_dataset, cnn_dataset_destroy>>;

inline tensor_ptr make_tensor(std::vector<int64_t> shape)
{
    cnn_tensor *t = nullptr;
    CNN_CHECK(cnn_tensor_create(static_cast<int32_t>(shape.size()), shape.data(), &t));
    return tensor_ptr(t);
}

class net {
public:
    net(int32_t c, int32_t h, int32_t w, uint64_t seed)
    {
        cnn_net *n = nullptr;
        CNN_CHECK(cnn_net_create(c, h, w, seed, &n));
        ptr_.reset(n);
    }
    explicit net(net_ptr p) : ptr_(std::move(p)) {}

    static net load(const std::string &path)
    {
        cnn_net *n = nullptr;
        CNN_CHECK(cnn_net_load(path.c_str(), &n));
        return net(net_ptr(n));
    }

    // Takes the layer: on success the network owns it, on failure the
    // unique_ptr still does and frees it during unwinding.
    net &add(layer_ptr layer)
    {
        cnn_status s = cnn_net_add(ptr_.get(), layer.get());
        if (s != CNN_OK)
            throw error(s, cnn_net_errmsg(ptr_.get())); // names the call itself
        layer.release();
        return *this;
    }

    std::vector<int32_t> predict(const cnn_tensor *x)
    {
        std::vector<int32_t> labels(static_cast<size_t>(cnn_tensor_dim(x, 0)));
        CNN_CHECK(cnn_net_predict(ptr_.get(), x, labels.data()));
        return labels;
    }

    double evaluate(const cnn_dataset *ds, int32_t batch = 1000)
    {
        double accuracy = 0;
        CNN_CHECK(cnn_net_evaluate(ptr_.get(), ds, batch, &accuracy, nullptr));
        return accuracy;
    }

    void save(const std::string &path) const { CNN_CHECK(cnn_net_save(ptr_.get(), path.c_str())); }
    cnn_net *get() const noexcept { return ptr_.get(); }

private:
    net_ptr ptr_;
};

inline layer_ptr conv2d(int32_t filters, int32_t kernel, int32_t activation, int32_t pool)
{
    cnn_conv2d_params p;
    CNN_CHECK(cnn_conv2d_params_init(&p, filters, kernel, kernel));
    p.activation = activation;
    p.pool = pool;
    cnn_layer *l = nullptr;
    CNN_CHECK(cnn_conv2d_create(&p, &l));
    return layer_ptr(l);
}

inline layer_ptr dense(int32_t neurons, int32_t activation)
{
    cnn_dense_params p;
    CNN_CHECK(cnn_dense_params_init(&p, neurons));
    p.activation = activation;
    cnn_layer *l = nullptr;
    CNN_CHECK(cnn_dense_create(&p, &l));
    return layer_ptr(l);
}

inline layer_ptr softmax(int32_t classes)
{
    cnn_softmax_params p;
    CNN_CHECK(cnn_softmax_params_init(&p, classes));
    cnn_layer *l = nullptr;
    CNN_CHECK(cnn_softmax_create(&p, &l));
    return layer_ptr(l);
}

inline optimizer_ptr sgd(float learning_rate, float l2)
{
    cnn_sgd_params p;
    CNN_CHECK(cnn_sgd_params_init(&p, learning_rate));
    p.l2 = l2;
    cnn_optimizer *o = nullptr;
    CNN_CHECK(cnn_sgd_create(&p, &o));
    return optimizer_ptr(o);
}

inline dataset_ptr make_dataset(const std::vector<uint8_t> &pixels,
                                const std::vector<uint8_t> &labels, int32_t c, int32_t h,
                                int32_t w)
{
    cnn_dataset *d = nullptr;
    CNN_CHECK(cnn_dataset_create(static_cast<int64_t>(labels.size()), c, h, w, pixels.data(),
                                 labels.data(), &d));
    return dataset_ptr(d);
}

} // namespace cnn

#endif
