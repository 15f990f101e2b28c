package cnn

// #include <cnn.h>
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

// Activation functions (values pinned by the C API).
const (
	Identity = C.CNN_ACT_IDENTITY
	Sigmoid  = C.CNN_ACT_SIGMOID
	Tanh     = C.CNN_ACT_TANH
	ReLU     = C.CNN_ACT_RELU
)

// Pooling modes.
const (
	PoolNone = C.CNN_POOL_NONE
	PoolMax  = C.CNN_POOL_MAX
	PoolAvg  = C.CNN_POOL_AVG
	PoolL2   = C.CNN_POOL_L2
)

// Layer kinds, as returned by Layer.Kind.
const (
	KindConv2d     = C.CNN_LAYER_CONV2D
	KindPool2d     = C.CNN_LAYER_POOL2D
	KindDense      = C.CNN_LAYER_DENSE
	KindSoftmax    = C.CNN_LAYER_SOFTMAX
	KindActivation = C.CNN_LAYER_ACTIVATION
	KindBatchNorm  = C.CNN_LAYER_BATCHNORM       // since 1.0
	KindGlobalAvg  = C.CNN_LAYER_GLOBAL_AVG_POOL // since 1.0
)

// Layer is one layer.  Net.Add hands it to the network, which then owns
// and frees it; the Layer stays usable for queries while the net lives.
type Layer struct {
	ptr *C.cnn_layer
	net *Net // owner once added; keeps the network reachable
}

func newLayer(create func(**C.cnn_layer) C.cnn_status) (*Layer, error) {
	var l *C.cnn_layer
	if err := call(func() C.cnn_status { return create(&l) }); err != nil {
		return nil, err
	}
	layer := &Layer{ptr: l}
	runtime.SetFinalizer(layer, (*Layer).Close)
	return layer, nil
}

// Close frees a layer that is not in a network (a no-op otherwise).
func (l *Layer) Close() {
	if l.ptr != nil && l.net == nil {
		C.cnn_layer_destroy(l.ptr)
		l.ptr = nil
	}
}

// Conv2dParams are the options of a convolution.  Zero fields keep the
// library's defaults (from cnn_conv2d_params_init).
type Conv2dParams struct {
	InChannels       int32
	StrideH, StrideW int32
	PadH, PadW       int32
	Activation       int32 // default Sigmoid; set ReLU etc. explicitly (Identity is 0: use NewActivation)
	Pool             int32 // fused pooling, e.g. PoolMax
	PoolH, PoolW     int32
	Seed             uint64
	// SamePadding pads (kernel-1)/2 on each side, so the output has
	// ceil(in/stride) rows and columns (odd kernels only); PadH and PadW
	// are then ignored.  Since 1.0.
	SamePadding bool
	// Init is the weight initialisation; default (0) InitNetwork3.
	Init Init
}

// Init is a weight initialisation scheme (values pinned by the C API).
type Init int32

const (
	// InitNetwork3: weights N(0, 1/n_out), biases N(0, 1) (softmax: 0).
	InitNetwork3 Init = C.CNN_INIT_NETWORK3
	InitHe       Init = C.CNN_INIT_HE     // weights N(0, 2/fan_in), biases 0
	InitGlorot   Init = C.CNN_INIT_GLOROT // weights U(+-sqrt(6/(fan_in+fan_out))), biases 0
	InitZero     Init = C.CNN_INIT_ZERO   // weights and biases 0
)

// LayerOption sets one of a dense or softmax layer's optional parameters:
// NewDense(100, ReLU, 0, WithInit(InitHe)).
type LayerOption func(*layerOptions)

type layerOptions struct {
	init       *Init
	seed       uint64
	inFeatures int32
}

// WithInit sets the weight initialisation (default InitNetwork3 for dense,
// InitZero for softmax, as in network3).
func WithInit(i Init) LayerOption { return func(o *layerOptions) { o.init = &i } }

// WithSeed seeds a standalone layer's initial weights (a network redraws
// them from its own seed when the layer is added).
func WithSeed(seed uint64) LayerOption { return func(o *layerOptions) { o.seed = seed } }

// WithInFeatures fixes the inputs per example (default: from the network).
func WithInFeatures(n int32) LayerOption { return func(o *layerOptions) { o.inFeatures = n } }

// applyLayerOptions writes opts over the library's defaults.
func applyLayerOptions(opts []LayerOption, init *C.int32_t, seed *C.uint64_t, inFeatures *C.int32_t) {
	var o layerOptions
	for _, f := range opts {
		f(&o)
	}
	if o.init != nil {
		*init = C.int32_t(*o.init)
	}
	*seed = C.uint64_t(o.seed)
	*inFeatures = C.int32_t(o.inFeatures)
}

// NewConv2d makes a convolution with outChannels kernelxkernel filters.
func NewConv2d(outChannels, kernel int32, o Conv2dParams) (*Layer, error) {
	// The header's inline init passes sizeof: the library writes no byte past p.
	var params C.cnn_conv2d_params
	p := &params
	C.cnn_conv2d_params_init(p, C.int32_t(outChannels), C.int32_t(kernel), C.int32_t(kernel))
	set := func(dst *C.int32_t, v int32) {
		if v != 0 {
			*dst = C.int32_t(v)
		}
	}
	set(&p.in_channels, o.InChannels)
	set(&p.stride_h, o.StrideH)
	set(&p.stride_w, o.StrideW)
	set(&p.pad_h, o.PadH)
	set(&p.pad_w, o.PadW)
	set(&p.activation, o.Activation)
	set(&p.pool, o.Pool)
	set(&p.pool_h, o.PoolH)
	set(&p.pool_w, o.PoolW)
	if o.Seed != 0 {
		p.seed = C.uint64_t(o.Seed)
	}
	if o.SamePadding {
		p.padding = C.CNN_PAD_SAME
	}
	p.init = C.int32_t(o.Init)
	return newLayer(func(out **C.cnn_layer) C.cnn_status {
		p.struct_size = C.sizeof_cnn_conv2d_params
		return C.cnn_conv2d_create(p, out)
	})
}

// NewPool2d makes a pooling layer with a window x window window.
func NewPool2d(mode, window int32) (*Layer, error) {
	// The header's inline init passes sizeof: the library writes no byte past p.
	var params C.cnn_pool2d_params
	p := &params
	C.cnn_pool2d_params_init(p, C.int32_t(mode), C.int32_t(window), C.int32_t(window))
	return newLayer(func(out **C.cnn_layer) C.cnn_status {
		p.struct_size = C.sizeof_cnn_pool2d_params
		return C.cnn_pool2d_create(p, out)
	})
}

// NewDense makes a fully connected layer; dropout 0 disables dropout.
func NewDense(outFeatures, activation int32, dropout float32, opts ...LayerOption) (*Layer, error) {
	// The header's inline init passes sizeof: the library writes no byte past p.
	var params C.cnn_dense_params
	p := &params
	C.cnn_dense_params_init(p, C.int32_t(outFeatures))
	p.activation = C.int32_t(activation)
	p.dropout = C.float(dropout)
	applyLayerOptions(opts, &p.init, &p.seed, &p.in_features)
	return newLayer(func(out **C.cnn_layer) C.cnn_status {
		p.struct_size = C.sizeof_cnn_dense_params
		return C.cnn_dense_create(p, out)
	})
}

// NewSoftmax makes the softmax output layer.
func NewSoftmax(classes int32, opts ...LayerOption) (*Layer, error) {
	// The header's inline init passes sizeof: the library writes no byte past p.
	var params C.cnn_softmax_params
	p := &params
	C.cnn_softmax_params_init(p, C.int32_t(classes))
	applyLayerOptions(opts, &p.init, &p.seed, &p.in_features)
	return newLayer(func(out **C.cnn_layer) C.cnn_status {
		p.struct_size = C.sizeof_cnn_softmax_params
		return C.cnn_softmax_create(p, out)
	})
}

// NewBatchNorm makes a batch normalisation layer: per channel (per feature
// of a flat input) y = gamma * (x - mean) / sqrt(var + eps) + beta, with the
// batch's statistics in training and running ones (updated as
// running = (1-momentum)*running + momentum*batch) at inference.  Zero keeps
// the library's default (momentum 0.1, eps 1e-5).  gamma and beta are the
// layer's weights and biases; the running statistics are saved with the
// model but not trained.  Its channels come from the network.
func NewBatchNorm(momentum, eps float32) (*Layer, error) {
	var params C.cnn_batchnorm_params // init passes sizeof: nothing is written past it
	p := &params
	C.cnn_batchnorm_params_init(p)
	if momentum != 0 {
		p.momentum = C.float(momentum)
	}
	if eps != 0 {
		p.epsilon = C.float(eps)
	}
	return newLayer(func(out **C.cnn_layer) C.cnn_status {
		p.struct_size = C.sizeof_cnn_batchnorm_params
		return C.cnn_batchnorm_create(p, out)
	})
}

// NewGlobalAvgPool makes a global average pooling layer: (C, H, W) ->
// (C, 1, 1), the mean of each channel's plane.
func NewGlobalAvgPool() (*Layer, error) {
	return newLayer(func(out **C.cnn_layer) C.cnn_status {
		return C.cnn_global_avg_pool_create(out)
	})
}

// NewActivation makes an element-wise activation layer.
func NewActivation(activation int32) (*Layer, error) {
	return newLayer(func(out **C.cnn_layer) C.cnn_status {
		return C.cnn_activation_create(C.int32_t(activation), out)
	})
}

// cptr is the layer's pointer, or nil once its network is closed (the
// library answers nil with 0 or StatusInvalid, never touching freed memory).
func (l *Layer) cptr() *C.cnn_layer {
	if l.net != nil {
		l.net.g.mu.Lock()
		defer l.net.g.mu.Unlock()
		if l.net.ptr == nil || l.net.g.closing {
			return nil
		}
	}
	return l.ptr
}

// Kind is one of the Kind* constants (0 once the layer's network is closed).
func (l *Layer) Kind() int32 {
	defer runtime.KeepAlive(l)
	return int32(C.cnn_layer_kind(l.cptr()))
}

// ParamCount is the number of weights and biases (0 once its network is closed).
func (l *Layer) ParamCount() int64 {
	defer runtime.KeepAlive(l)
	return int64(C.cnn_layer_param_count(l.cptr()))
}

// OutputShape is the (C, H, W) output for a (C, H, W) input.
func (l *Layer) OutputShape(in [3]int32) ([3]int32, error) {
	defer runtime.KeepAlive(l)
	var cin, cout [3]C.int32_t
	for i := range in {
		cin[i] = C.int32_t(in[i])
	}
	err := call(func() C.cnn_status { return C.cnn_layer_output_shape(l.cptr(), &cin[0], &cout[0]) })
	return [3]int32{int32(cout[0]), int32(cout[1]), int32(cout[2])}, err
}

// Summary is the layer's one-line description, e.g. "conv2d 20 maps 5x5,
// stride 1x1, pad 0x0, relu, max pool 2x2".
func (l *Layer) Summary() (string, error) {
	defer runtime.KeepAlive(l)
	var buf [512]C.char
	err := call(func() C.cnn_status { return C.cnn_layer_summary(l.cptr(), &buf[0], C.size_t(len(buf))) })
	if err != nil {
		return "", err
	}
	return C.GoString(&buf[0]), nil
}

// ParamKind names one of a layer's parameter tensors (values pinned by the
// C API).
type ParamKind int32

const (
	// Weights: conv (out, in, kh, kw); dense and softmax (out, in); batch
	// norm gamma (C).
	Weights ParamKind = C.CNN_PARAM_WEIGHTS
	// Biases: (out); batch norm beta (C).
	Biases ParamKind = C.CNN_PARAM_BIASES
	// GradWeights is the gradient of the cost with respect to Weights.
	GradWeights ParamKind = C.CNN_PARAM_GRAD_WEIGHTS
	// GradBiases is the gradient of the cost with respect to Biases.
	GradBiases ParamKind = C.CNN_PARAM_GRAD_BIASES
)

// ParamView is one of a layer's parameter tensors, zero-copy: Data is a
// writable slice over the library's memory (writing changes the layer).
//
// Lifetime, as for Net.Params: a view of a layer in a network is valid until
// that network's next Add or its Close (Add moves every parameter into a
// new buffer); a view of a layer not in a network, until the layer's Close
// or its Add to a network.  Go cannot check this for you: copy the data
// (append([]float32(nil), v.Data...)) to keep it longer.
type ParamView struct {
	Shape []int64
	Data  []float32
}

// Param is the layer's which tensor.  A layer without one (pooling,
// activation, or one whose input size is not known yet) gives a nil view
// and no error; a closed network's layer, or an unknown which, an error.
func (l *Layer) Param(which ParamKind) (*ParamView, error) {
	defer runtime.KeepAlive(l)
	if which < Weights || which > GradBiases {
		return nil, &Error{Status: StatusInvalid, Message: fmt.Sprintf("Param: unknown parameter kind %d", which)}
	}
	p := l.cptr()
	if p == nil {
		return nil, &Error{Status: StatusInvalid, Message: "Param: the layer is closed, or its network is"}
	}
	t := C.cnn_layer_param(p, C.int32_t(which))
	if t == nil {
		return nil, nil
	}
	v := &ParamView{Shape: make([]int64, int(C.cnn_tensor_ndim(t)))}
	for i := range v.Shape {
		v.Shape[i] = int64(C.cnn_tensor_dim(t, C.int32_t(i)))
	}
	if count := int(C.cnn_tensor_numel(t)); count > 0 {
		v.Data = unsafe.Slice((*float32)(unsafe.Pointer(C.cnn_tensor_data(t))), count)
	}
	return v, nil
}
