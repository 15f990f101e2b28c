// cnn.hpp: a C++17 interface to libcnn, header-only over the C API of cnn.h.
//
// - Every handle is owned by a class with value semantics for moves and no
//   copies (cnn::tensor, cnn::net, cnn::optimizer, cnn::dataset); layers
//   are cnn::layer until a net takes them.  Nothing is freed by hand, on
//   any path, exceptions included.
// - Every failing status becomes a cnn::error carrying status(), name()
//   ("CNN_ESHAPE") and the library's message, read at once on the thread
//   that failed (the next failure would overwrite it).
// - Parameters: each layer or optimizer function fills the C params struct
//   with its defaults, applies the arguments given, then lets an optional
//   callable edit any other field before the object is made, e.g.
//     cnn::conv2d(20, 5, CNN_ACT_RELU, CNN_POOL_MAX,
//                 [](cnn_conv2d_params &p) { p.stride_h = p.stride_w = 2; });
// - Training takes std::function callbacks; returning true from one stops
//   the run (cnn::error with CNN_ECANCELED).  An exception thrown by a
//   callback is carried across the C library and rethrown by train().
//
// Link with `pkg-config --libs cnn` or CMake's cnn::cnn.  The C API stays
// reachable: get() returns each object's handle.
#ifndef CNN_HPP
#define CNN_HPP

#include <cnn.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace cnn {

/** A failing libcnn call: its status and the library's message. */
class error : public std::runtime_error {
public:
    error(cnn_status status, const std::string &what)
        : std::runtime_error(what), status_(status) {}
    cnn_status status() const noexcept { return status_; }
    const char *name() const noexcept { return cnn_status_name(status_); }

private:
    cnn_status status_;
};

/** Throws cnn::error for a failing status, naming the call. */
inline void check(cnn_status s, const char *call)
{
    if (s != CNN_OK)
        throw error(s, std::string(call) + ": " + cnn_last_error());
}
#define CNN_CHECK(call) ::cnn::check((call), #call)

namespace detail {
template <class T, void (*Destroy)(T *)> struct deleter {
    void operator()(T *p) const noexcept { Destroy(p); }
};
} // namespace detail

using tensor_ptr = std::unique_ptr<cnn_tensor, detail::deleter<cnn_tensor, cnn_tensor_destroy>>;
using layer = std::unique_ptr<cnn_layer, detail::deleter<cnn_layer, cnn_layer_destroy>>;
using net_ptr = std::unique_ptr<cnn_net, detail::deleter<cnn_net, cnn_net_destroy>>;
using optimizer_ptr =
    std::unique_ptr<cnn_optimizer, detail::deleter<cnn_optimizer, cnn_optimizer_destroy>>;
using dataset_ptr =
    std::unique_ptr<cnn_dataset, detail::deleter<cnn_dataset, cnn_dataset_destroy>>;

/** The library's version ("1.1.0") and the instruction-set path its kernels
 *  run on here ("avx512", "avx2" or "generic"). */
inline std::string version() { return cnn_version_string(); }
inline std::string isa() { return cnn_isa_name(cnn_isa()); }

// ---- tensors --------------------------------------------------------------

/** A float32 tensor of rank 1-4, owned by the library. */
class tensor {
public:
    explicit tensor(const std::vector<int64_t> &shape)
    {
        cnn_tensor *t = nullptr;
        CNN_CHECK(cnn_tensor_create(static_cast<int32_t>(shape.size()), shape.data(), &t));
        ptr_.reset(t);
    }
    /** A tensor of the given shape holding a copy of values (size must match). */
    tensor(const std::vector<int64_t> &shape, const std::vector<float> &values) : tensor(shape)
    {
        if (static_cast<int64_t>(values.size()) != size())
            throw error(CNN_ESHAPE, "cnn::tensor: " + std::to_string(values.size()) +
                                        " values for " + std::to_string(size()) + " elements");
        std::copy(values.begin(), values.end(), data());
    }
    std::vector<int64_t> shape() const
    {
        std::vector<int64_t> s(static_cast<size_t>(cnn_tensor_ndim(ptr_.get())));
        for (size_t i = 0; i < s.size(); i++)
            s[i] = cnn_tensor_dim(ptr_.get(), static_cast<int32_t>(i));
        return s;
    }
    int64_t size() const { return cnn_tensor_numel(ptr_.get()); }
    float *data() { return cnn_tensor_data(ptr_.get()); }
    const float *data() const { return cnn_tensor_data(ptr_.get()); }
    std::vector<float> values() const { return std::vector<float>(data(), data() + size()); }
    cnn_tensor *get() const noexcept { return ptr_.get(); }

private:
    tensor_ptr ptr_;
};

// ---- layers -----------------------------------------------------------------

template <class P> using edit = std::function<void(P &)>;

/** Convolution (network3's conv -> pool -> bias -> activation). */
inline layer conv2d(int32_t filters, int32_t kernel, int32_t activation = CNN_ACT_RELU,
                    int32_t pool = CNN_POOL_NONE, const edit<cnn_conv2d_params> &more = {})
{
    cnn_conv2d_params p;
    CNN_CHECK(cnn_conv2d_params_init(&p, filters, kernel, kernel));
    p.activation = activation;
    p.pool = pool;
    if (more)
        more(p);
    cnn_layer *l = nullptr;
    CNN_CHECK(cnn_conv2d_create(&p, &l));
    return layer(l);
}

inline layer pool2d(int32_t mode, int32_t window, const edit<cnn_pool2d_params> &more = {})
{
    cnn_pool2d_params p;
    CNN_CHECK(cnn_pool2d_params_init(&p, mode, window, window));
    if (more)
        more(p);
    cnn_layer *l = nullptr;
    CNN_CHECK(cnn_pool2d_create(&p, &l));
    return layer(l);
}

inline layer dense(int32_t neurons, int32_t activation = CNN_ACT_RELU, float dropout = 0.0f,
                   const edit<cnn_dense_params> &more = {})
{
    cnn_dense_params p;
    CNN_CHECK(cnn_dense_params_init(&p, neurons));
    p.activation = activation;
    p.dropout = dropout;
    if (more)
        more(p);
    cnn_layer *l = nullptr;
    CNN_CHECK(cnn_dense_create(&p, &l));
    return layer(l);
}

inline layer softmax(int32_t classes, float dropout = 0.0f,
                     const edit<cnn_softmax_params> &more = {})
{
    cnn_softmax_params p;
    CNN_CHECK(cnn_softmax_params_init(&p, classes));
    p.dropout = dropout;
    if (more)
        more(p);
    cnn_layer *l = nullptr;
    CNN_CHECK(cnn_softmax_create(&p, &l));
    return layer(l);
}

inline layer activation(int32_t kind)
{
    cnn_layer *l = nullptr;
    CNN_CHECK(cnn_activation_create(kind, &l));
    return layer(l);
}

inline layer batchnorm(const edit<cnn_batchnorm_params> &more = {})
{
    cnn_batchnorm_params p;
    CNN_CHECK(cnn_batchnorm_params_init(&p));
    if (more)
        more(p);
    cnn_layer *l = nullptr;
    CNN_CHECK(cnn_batchnorm_create(&p, &l));
    return layer(l);
}

inline layer global_avg_pool()
{
    cnn_layer *l = nullptr;
    CNN_CHECK(cnn_global_avg_pool_create(&l));
    return layer(l);
}

// ---- optimizers ---------------------------------------------------------------

class optimizer {
public:
    explicit optimizer(optimizer_ptr p) : ptr_(std::move(p)) {}
    float learning_rate() const { return cnn_optimizer_learning_rate(ptr_.get()); }
    void set_learning_rate(float lr)
    {
        CNN_CHECK(cnn_optimizer_set_learning_rate(ptr_.get(), lr));
    }
    cnn_optimizer *get() const noexcept { return ptr_.get(); }

private:
    optimizer_ptr ptr_;
};

/** Plain SGD with network3's L2 (momentum and Nesterov through `more`). */
inline optimizer sgd(float learning_rate, float l2 = 0.0f, const edit<cnn_sgd_params> &more = {})
{
    cnn_sgd_params p;
    CNN_CHECK(cnn_sgd_params_init(&p, learning_rate));
    p.l2 = l2;
    if (more)
        more(p);
    cnn_optimizer *o = nullptr;
    CNN_CHECK(cnn_sgd_create(&p, &o));
    return optimizer(optimizer_ptr(o));
}

/** Adam; with decoupled = true, AdamW. */
inline optimizer adam(float learning_rate, float weight_decay = 0.0f, bool decoupled = false,
                      const edit<cnn_adam_params> &more = {})
{
    cnn_adam_params p;
    CNN_CHECK(cnn_adam_params_init(&p, learning_rate));
    p.weight_decay = weight_decay;
    p.decoupled = decoupled ? 1 : 0;
    if (more)
        more(p);
    cnn_optimizer *o = nullptr;
    CNN_CHECK(cnn_adam_create(&p, &o));
    return optimizer(optimizer_ptr(o));
}

// ---- datasets -------------------------------------------------------------------

/** Labelled byte images; immutable, readable from many threads. */
class dataset {
public:
    explicit dataset(dataset_ptr p) : ptr_(std::move(p)) {}

    /** One MNIST split (CNN_MNIST_TRAIN or CNN_MNIST_TEST) from a directory
     *  of the four IDX files, raw or gzip. */
    static dataset load_mnist(const std::string &dir, int32_t split)
    {
        cnn_dataset *d = nullptr;
        CNN_CHECK(cnn_dataset_load_mnist(dir.c_str(), split, &d));
        return dataset(dataset_ptr(d));
    }
    static dataset load_idx(const std::string &images, const std::string &labels)
    {
        cnn_dataset *d = nullptr;
        CNN_CHECK(cnn_dataset_load_idx(images.c_str(), labels.c_str(), &d));
        return dataset(dataset_ptr(d));
    }
    /** Copies labels.size() images of c x h x w bytes (read as value/256). */
    static dataset create(const std::vector<uint8_t> &pixels, const std::vector<uint8_t> &labels,
                          int32_t c, int32_t h, int32_t w)
    {
        if (pixels.size() != labels.size() * static_cast<size_t>(c) * h * w)
            throw error(CNN_ESHAPE, "cnn::dataset::create: " + std::to_string(pixels.size()) +
                                        " pixels for " + std::to_string(labels.size()) +
                                        " images");
        cnn_dataset *d = nullptr;
        CNN_CHECK(cnn_dataset_create(static_cast<int64_t>(labels.size()), c, h, w, pixels.data(),
                                     labels.data(), &d));
        return dataset(dataset_ptr(d));
    }
    int64_t size() const { return cnn_dataset_count(ptr_.get()); }
    /** A view of examples [start, start + count). */
    dataset slice(int64_t start, int64_t count) const
    {
        cnn_dataset *d = nullptr;
        CNN_CHECK(cnn_dataset_slice(ptr_.get(), start, count, &d));
        return dataset(dataset_ptr(d));
    }
    /** The chapter's 5x expansion (1-pixel shifts), shuffled with seed. */
    dataset expand(uint64_t seed = 0) const
    {
        cnn_dataset *d = nullptr;
        CNN_CHECK(cnn_dataset_expand(ptr_.get(), seed, &d));
        return dataset(dataset_ptr(d));
    }
    /** Examples [start, start + count) as a (count, C, H, W) tensor and labels. */
    std::pair<tensor, std::vector<int32_t>> batch(int64_t start, int64_t count) const
    {
        int32_t s[3];
        CNN_CHECK(cnn_dataset_shape(ptr_.get(), s));
        tensor x({count, s[0], s[1], s[2]});
        std::vector<int32_t> labels(static_cast<size_t>(count));
        CNN_CHECK(cnn_dataset_batch(ptr_.get(), start, count, x.get(), labels.data()));
        return {std::move(x), std::move(labels)};
    }
    cnn_dataset *get() const noexcept { return ptr_.get(); }

private:
    dataset_ptr ptr_;
};

// ---- training options --------------------------------------------------------------

/** What cnn::net::train does; the defaults are cnn_train_params_init's. */
struct train_options {
    int32_t epochs = 1;
    int32_t batch_size = 10;
    bool shuffle = false;
    uint64_t seed = 0;
    const dataset *validation = nullptr;
    const dataset *test = nullptr;
    int32_t schedule = CNN_SCHEDULE_CONSTANT;
    std::string checkpoint; ///< written every epoch when not empty
    std::string resume;     ///< a checkpoint to continue from when not empty
    /** After each epoch; return true to stop. */
    std::function<bool(const cnn_epoch_report &)> on_epoch;
    /** Every progress_every mini-batches; return true to stop. */
    std::function<bool(const cnn_progress &)> on_progress;
    int32_t progress_every = 100;
    /** Any other field of cnn_train_params, edited last. */
    edit<cnn_train_params> more;
};

// ---- networks -------------------------------------------------------------------------

class net {
public:
    net(int32_t c, int32_t h, int32_t w, uint64_t seed = 0)
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
    static net from_bytes(const std::vector<uint8_t> &bytes)
    {
        cnn_net *n = nullptr;
        CNN_CHECK(cnn_net_load_buffer(bytes.data(), bytes.size(), &n));
        return net(net_ptr(n));
    }
    /** cnn_net_import_onnx(): an ONNX model (docs/onnx.md).  @since 1.2 */
    static net from_onnx(const std::string &path)
    {
        cnn_net *n = nullptr;
        CNN_CHECK(cnn_net_import_onnx(path.c_str(), &n));
        return net(net_ptr(n));
    }

    /** Takes the layer: on success the network owns it, on failure the
     *  unique_ptr still does and frees it during unwinding. */
    net &add(layer l)
    {
        cnn_status s = cnn_net_add(ptr_.get(), l.get());
        if (s != CNN_OK)
            throw error(s, cnn_net_errmsg(ptr_.get())); // names the call itself
        l.release();
        return *this;
    }
    int32_t layers() const { return cnn_net_layer_count(ptr_.get()); }
    void set_threads(int32_t threads) { CNN_CHECK(cnn_net_set_threads(ptr_.get(), threads)); }
    std::string summary() const
    {
        size_t needed = 0;
        CNN_CHECK(cnn_net_summary(ptr_.get(), nullptr, 0, &needed));
        std::string s(needed, '\0');
        CNN_CHECK(cnn_net_summary(ptr_.get(), s.data(), s.size(), &needed));
        s.resize(needed > 0 ? needed - 1 : 0); // without the terminating NUL
        return s;
    }

    /** The output of a batch in inference mode: for a softmax net, one row
     *  of class probabilities per example. */
    tensor forward(const tensor &x)
    {
        int32_t s[3];
        CNN_CHECK(cnn_net_output_shape(ptr_.get(), s));
        const int64_t n = x.shape().at(0);
        tensor y(s[1] == 1 && s[2] == 1 ? std::vector<int64_t>{n, s[0]}
                                        : std::vector<int64_t>{n, s[0], s[1], s[2]});
        CNN_CHECK(cnn_net_forward(ptr_.get(), x.get(), CNN_MODE_INFER, y.get()));
        return y;
    }
    std::vector<int32_t> predict(const tensor &x)
    {
        std::vector<int32_t> labels(static_cast<size_t>(x.shape().at(0)));
        CNN_CHECK(cnn_net_predict(ptr_.get(), x.get(), labels.data()));
        return labels;
    }
    /** (accuracy, mean cost) over a dataset. */
    std::pair<double, double> evaluate(const dataset &ds, int32_t batch = 1000)
    {
        double accuracy = 0, cost = 0;
        CNN_CHECK(cnn_net_evaluate(ptr_.get(), ds.get(), batch, &accuracy, &cost));
        return {accuracy, cost};
    }
    double train_step(optimizer &opt, const tensor &x, const std::vector<int32_t> &labels)
    {
        if (static_cast<int64_t>(labels.size()) != x.shape().at(0))
            throw error(CNN_ESHAPE, "cnn::net::train_step: " + std::to_string(labels.size()) +
                                        " labels for a batch of " +
                                        std::to_string(x.shape().at(0)));
        double cost = 0;
        CNN_CHECK(cnn_train_step(ptr_.get(), opt.get(), x.get(), labels.data(), &cost));
        return cost;
    }

    /** cnn_train with these options; the result as the C struct. */
    cnn_train_result train(optimizer &opt, const dataset &data, const train_options &o)
    {
        struct bridge {
            const train_options *o;
            std::exception_ptr thrown;
            static int32_t epoch(const cnn_epoch_report *r, void *u)
            {
                auto *b = static_cast<bridge *>(u);
                try {
                    return b->o->on_epoch(*r) ? 1 : 0;
                } catch (...) {
                    b->thrown = std::current_exception(); // rethrown by train()
                    return 1;
                }
            }
            static int32_t progress(const cnn_progress *p, void *u)
            {
                auto *b = static_cast<bridge *>(u);
                try {
                    return b->o->on_progress(*p) ? 1 : 0;
                } catch (...) {
                    b->thrown = std::current_exception();
                    return 1;
                }
            }
        } b{&o, nullptr};
        cnn_train_params p;
        CNN_CHECK(cnn_train_params_init(&p, o.epochs));
        p.batch_size = o.batch_size;
        p.shuffle = o.shuffle ? 1 : 0;
        p.seed = o.seed;
        p.validation = o.validation ? o.validation->get() : nullptr;
        p.test = o.test ? o.test->get() : nullptr;
        p.schedule = o.schedule;
        p.progress_every = o.progress_every;
        p.checkpoint_path = o.checkpoint.empty() ? nullptr : o.checkpoint.c_str();
        p.resume_path = o.resume.empty() ? nullptr : o.resume.c_str();
        p.on_epoch = o.on_epoch ? bridge::epoch : nullptr;
        p.on_progress = o.on_progress ? bridge::progress : nullptr;
        p.user = &b;
        if (o.more)
            o.more(p);
        cnn_train_result r{};
        r.struct_size = sizeof r;
        const cnn_status s = cnn_train(ptr_.get(), opt.get(), data.get(), &p, &r);
        if (b.thrown)
            std::rethrow_exception(b.thrown);
        check(s, "cnn_train");
        return r;
    }

    void save(const std::string &path) const { CNN_CHECK(cnn_net_save(ptr_.get(), path.c_str())); }
    /** cnn_net_export_onnx(): the net as an ONNX model, atomically.  @since 1.2 */
    void to_onnx(const std::string &path) const
    {
        CNN_CHECK(cnn_net_export_onnx(ptr_.get(), path.c_str()));
    }
    std::vector<uint8_t> to_bytes() const
    {
        void *data = nullptr;
        size_t size = 0;
        CNN_CHECK(cnn_net_save_buffer(ptr_.get(), &data, &size));
        std::vector<uint8_t> out(static_cast<uint8_t *>(data), static_cast<uint8_t *>(data) + size);
        cnn_free(data);
        return out;
    }
    cnn_net *get() const noexcept { return ptr_.get(); }

private:
    net_ptr ptr_;
};

} // namespace cnn

#endif
