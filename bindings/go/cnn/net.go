package cnn

// #include <cnn.h>
// #include <stdlib.h>
import "C"

import (
	"runtime"
	"unsafe"
)

// Net is an ordered stack of layers with its parameters and workspace.
type Net struct {
	ptr *C.cnn_net
	g   guard
	// lastTrainN is the batch size of the last Forward(x, ModeTrain), 0
	// after any other pass: how many labels Backward lets the library read.
	lastTrainN int
}

func (n *Net) enter() error { return n.g.enter(n.ptr == nil, true, "network") }
func (n *Net) leave() {
	if n.g.leave() {
		n.destroy()
	}
}

func newNet(f func(**C.cnn_net) C.cnn_status) (*Net, error) {
	var p *C.cnn_net
	if err := call(func() C.cnn_status { return f(&p) }); err != nil {
		return nil, err
	}
	n := &Net{ptr: p}
	runtime.SetFinalizer(n, (*Net).Close)
	return n, nil
}

// NewNet makes an empty network for (c, h, w) inputs.
func NewNet(c, h, w int32, seed uint64) (*Net, error) {
	return newNet(func(out **C.cnn_net) C.cnn_status {
		return C.cnn_net_create(C.int32_t(c), C.int32_t(h), C.int32_t(w), C.uint64_t(seed), out)
	})
}

// Close frees the network and every layer it owns; later calls (on its
// layers too) fail.  While a call runs on it (Train, from a callback or
// another goroutine) the free waits until that call returns.
func (n *Net) Close() {
	if n.g.closeNow() {
		n.destroy()
	}
}

func (n *Net) destroy() {
	n.g.mu.Lock()
	p := n.ptr
	n.ptr = nil
	n.g.mu.Unlock()
	if p != nil {
		C.cnn_net_destroy(p)
	}
}

// Add appends a layer; on success the network owns it.
func (n *Net) Add(l *Layer) error {
	if err := n.enter(); err != nil {
		return err
	}
	defer n.leave()
	defer runtime.KeepAlive(n)
	defer runtime.KeepAlive(l)
	if l.net != nil {
		return &Error{Status: StatusInvalid, Message: "Add: layer already in a network"}
	}
	if err := call(func() C.cnn_status { return C.cnn_net_add(n.ptr, l.ptr) }); err != nil {
		return err
	}
	l.net = n
	return nil
}

// Len is the number of layers.
func (n *Net) Len() int {
	defer runtime.KeepAlive(n)
	return int(C.cnn_net_layer_count(n.ptr))
}

// Layer is layer i, owned by the network.
func (n *Net) Layer(i int) *Layer {
	defer runtime.KeepAlive(n)
	p := C.cnn_net_layer(n.ptr, C.int32_t(i))
	if p == nil {
		return nil
	}
	return &Layer{ptr: p, net: n}
}

// OutputShape is the (C, H, W) output of the last layer.
func (n *Net) OutputShape() [3]int32 {
	defer runtime.KeepAlive(n)
	var s [3]C.int32_t
	C.cnn_net_output_shape(n.ptr, &s[0])
	return [3]int32{int32(s[0]), int32(s[1]), int32(s[2])}
}

// Params are all weights and biases, a slice over C memory (no copy),
// valid until the next Add or Close.
func (n *Net) Params() []float32 {
	defer runtime.KeepAlive(n)
	c := int(C.cnn_net_param_count(n.ptr))
	p := C.cnn_net_params(n.ptr)
	if c == 0 || p == nil {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(p)), c)
}

// Clone is a deep copy with its own workspace (one per goroutine for inference).
func (n *Net) Clone() (*Net, error) {
	if err := n.enter(); err != nil {
		return nil, err
	}
	defer n.leave()
	defer runtime.KeepAlive(n)
	return newNet(func(out **C.cnn_net) C.cnn_status { return C.cnn_net_clone(n.ptr, out) })
}

// Predict classifies a batch (N, C, H, W).
func (n *Net) Predict(x *Tensor) ([]int32, error) {
	if err := n.enter(); err != nil {
		return nil, err
	}
	defer n.leave()
	defer runtime.KeepAlive(n)
	defer runtime.KeepAlive(x)
	n.lastTrainN = 0
	count, err := batchSize(x, "Predict")
	if err != nil {
		return nil, err
	}
	labels := make([]int32, count)
	err = call(func() C.cnn_status {
		return C.cnn_net_predict(n.ptr, x.ptr, (*C.int32_t)(unsafe.Pointer(&labels[0])))
	})
	return labels, err
}

// Evaluate is the accuracy and mean cost over a dataset.
func (n *Net) Evaluate(d *Dataset, batch int32) (accuracy, cost float64, err error) {
	if err := n.enter(); err != nil {
		return 0, 0, err
	}
	defer n.leave()
	if err := d.enter(); err != nil {
		return 0, 0, err
	}
	defer d.leave()
	defer runtime.KeepAlive(n)
	defer runtime.KeepAlive(d)
	n.lastTrainN = 0
	var a, c C.double
	err = call(func() C.cnn_status { return C.cnn_net_evaluate(n.ptr, d.ptr, C.int32_t(batch), &a, &c) })
	return float64(a), float64(c), err
}

// Save writes the model (atomically: temporary file + rename).
func (n *Net) Save(path string) error {
	return n.writeFile(path, func(p *C.cnn_net, cp *C.char) C.cnn_status { return C.cnn_net_save(p, cp) })
}

// writeFile runs one of the library's path writers (save, ONNX export) on
// the net under its guard, with path checked and converted.
func (n *Net) writeFile(path string, write func(*C.cnn_net, *C.char) C.cnn_status) error {
	if err := n.enter(); err != nil {
		return err
	}
	defer n.leave()
	if err := cPath(path); err != nil {
		return err
	}
	defer runtime.KeepAlive(n)
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	return call(func() C.cnn_status { return write(n.ptr, cp) })
}

// LoadNet reads a model written by Save (in any language).
func LoadNet(path string) (*Net, error) {
	return readNetFile(path, func(cp *C.char, out **C.cnn_net) C.cnn_status { return C.cnn_net_load(cp, out) })
}

// readNetFile runs one of the library's path readers (load, ONNX import)
// with path checked and converted.
func readNetFile(path string, read func(*C.char, **C.cnn_net) C.cnn_status) (*Net, error) {
	if err := cPath(path); err != nil {
		return nil, err
	}
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	return newNet(func(out **C.cnn_net) C.cnn_status { return read(cp, out) })
}

// ExportONNX writes the net as an ONNX model (opset 13, docs/onnx.md),
// atomically.  ErrNotSup (errors.Is) where the library lacks ONNX.  Since 1.2.
func (n *Net) ExportONNX(path string) error {
	return n.writeFile(path, func(p *C.cnn_net, cp *C.char) C.cnn_status { return C.cnn_net_export_onnx(p, cp) })
}

// ImportONNX reads an ONNX model (PyTorch's exports of CNNs, libcnn's own;
// docs/onnx.md).  What libcnn cannot represent is ErrNotSup, the message
// naming the node and op.  Since 1.2.
func ImportONNX(path string) (*Net, error) {
	return readNetFile(path, func(cp *C.char, out **C.cnn_net) C.cnn_status { return C.cnn_net_import_onnx(cp, out) })
}

// Bytes is the model in libcnn's file format.
func (n *Net) Bytes() ([]byte, error) {
	if err := n.enter(); err != nil {
		return nil, err
	}
	defer n.leave()
	defer runtime.KeepAlive(n)
	var data unsafe.Pointer
	var size C.size_t
	if err := call(func() C.cnn_status { return C.cnn_net_save_buffer(n.ptr, &data, &size) }); err != nil {
		return nil, err
	}
	defer C.cnn_free(data)
	return C.GoBytes(data, C.int(size)), nil
}

// NetFromBytes loads a model from Bytes' output.
func NetFromBytes(b []byte) (*Net, error) {
	if len(b) == 0 {
		b = []byte{0} // a valid pointer; the library rejects the content
	}
	return newNet(func(out **C.cnn_net) C.cnn_status {
		return C.cnn_net_load_buffer(unsafe.Pointer(&b[0]), C.size_t(len(b)), out)
	})
}

// Summary describes the network: one line for the input, then one per
// layer with what it computes, its output shape and its parameter count.
func (n *Net) Summary() (string, error) {
	if err := n.enter(); err != nil {
		return "", err
	}
	defer n.leave()
	defer runtime.KeepAlive(n)
	var needed C.size_t
	// NULL with size 0 asks for the size.
	if err := call(func() C.cnn_status { return C.cnn_net_summary(n.ptr, nil, 0, &needed) }); err != nil {
		return "", err
	}
	buf := C.malloc(needed)
	defer C.free(buf)
	if err := call(func() C.cnn_status { return C.cnn_net_summary(n.ptr, (*C.char)(buf), needed, nil) }); err != nil {
		return "", err
	}
	return C.GoString((*C.char)(buf)), nil
}

// Grads are the gradients of the last backward pass, laid out like Params:
// a writable slice over C memory (Optimizer.Step reads it), valid until the
// next Add or Close.  Train may leave them unspecified.
func (n *Net) Grads() []float32 {
	defer runtime.KeepAlive(n)
	c := int(C.cnn_net_param_count(n.ptr))
	p := C.cnn_net_grads(n.ptr)
	if c == 0 || p == nil {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(p)), c)
}

// Optimizer updates a network's parameters from its gradients: SGD
// (NewSGD), Adam (NewAdam) or AdamW (NewAdamW).
type Optimizer struct {
	ptr *C.cnn_optimizer
	g   guard
}

// SGD is the name Optimizer had when SGD was the only kind; NewSGD still
// returns one.
type SGD = Optimizer

func newOptimizer(f func(**C.cnn_optimizer) C.cnn_status) (*Optimizer, error) {
	var o *C.cnn_optimizer
	if err := call(func() C.cnn_status { return f(&o) }); err != nil {
		return nil, err
	}
	opt := &Optimizer{ptr: o}
	runtime.SetFinalizer(opt, (*Optimizer).Close)
	return opt, nil
}

// SGDOption sets one of SGD's optional parameters.
type SGDOption func(*sgdOptions)

type sgdOptions struct {
	momentum  float32
	nesterov  bool
	l2Batches int64
}

// Momentum sets SGD's momentum mu, in [0, 1) (default 0).
func Momentum(mu float32) SGDOption { return func(o *sgdOptions) { o.momentum = mu } }

// Nesterov makes SGD's momentum Nesterov's (needs Momentum > 0).
func Nesterov() SGDOption { return func(o *sgdOptions) { o.nesterov = true } }

// L2Batches sets B, the mini-batches per epoch the L2 term divides by
// (default 0: Train sets it from the training set).
func L2Batches(b int64) SGDOption { return func(o *sgdOptions) { o.l2Batches = b } }

// NewSGD makes SGD with learning rate eta and L2 weight lambda (network3's
// form), plus options: NewSGD(0.1, 0, Momentum(0.9), Nesterov()).
func NewSGD(eta, lambda float32, opts ...SGDOption) (*SGD, error) {
	var o sgdOptions
	for _, f := range opts {
		f(&o)
	}
	var params C.cnn_sgd_params // init passes sizeof: nothing is written past it
	p := &params
	C.cnn_sgd_params_init(p, C.float(eta))
	p.l2 = C.float(lambda)
	p.momentum = C.float(o.momentum)
	p.l2_batches = C.int64_t(o.l2Batches)
	p.nesterov = cbool32(o.nesterov)
	p.struct_size = C.sizeof_cnn_sgd_params
	return newOptimizer(func(out **C.cnn_optimizer) C.cnn_status { return C.cnn_sgd_create(p, out) })
}

// AdamOption sets one of Adam's optional parameters.
type AdamOption func(*adamOptions)

type adamOptions struct {
	beta1, beta2, eps *float32
	weightDecay       float32
}

// Betas sets Adam's beta1 and beta2, each in [0, 1) (default 0.9, 0.999).
func Betas(beta1, beta2 float32) AdamOption {
	return func(o *adamOptions) { o.beta1, o.beta2 = &beta1, &beta2 }
}

// Epsilon sets Adam's epsilon, > 0 (default 1e-8).
func Epsilon(eps float32) AdamOption { return func(o *adamOptions) { o.eps = &eps } }

// WeightDecay sets Adam's weight decay wd >= 0 (default 0), added to the
// gradient as wd*W for every parameter, biases included (PyTorch's Adam).
func WeightDecay(wd float32) AdamOption { return func(o *adamOptions) { o.weightDecay = wd } }

// NewAdam makes Adam with bias correction: NewAdam(0.001, Betas(0.9, 0.99)).
func NewAdam(lr float32, opts ...AdamOption) (*Optimizer, error) {
	return newAdam(lr, false, opts)
}

// NewAdamW makes AdamW: the weight decay is decoupled from the gradient,
// W *= 1 - lr*wd before each Adam step (PyTorch's AdamW), biases included.
// A WeightDecay option overrides wd.
func NewAdamW(lr, wd float32, opts ...AdamOption) (*Optimizer, error) {
	return newAdam(lr, true, append([]AdamOption{WeightDecay(wd)}, opts...))
}

func newAdam(lr float32, decoupled bool, opts []AdamOption) (*Optimizer, error) {
	var o adamOptions
	for _, f := range opts {
		f(&o)
	}
	var params C.cnn_adam_params // init passes sizeof: nothing is written past it
	p := &params
	C.cnn_adam_params_init(p, C.float(lr))
	if o.beta1 != nil {
		p.beta1, p.beta2 = C.float(*o.beta1), C.float(*o.beta2)
	}
	if o.eps != nil {
		p.epsilon = C.float(*o.eps)
	}
	p.weight_decay = C.float(o.weightDecay)
	p.decoupled = cbool32(decoupled)
	p.struct_size = C.sizeof_cnn_adam_params
	return newOptimizer(func(out **C.cnn_optimizer) C.cnn_status { return C.cnn_adam_create(p, out) })
}

func cbool32(b bool) C.int32_t {
	if b {
		return 1
	}
	return 0
}

// Close frees the optimizer (after Train returns, if it is training).
func (s *Optimizer) Close() {
	if s.g.closeNow() {
		s.destroy()
	}
}

func (s *Optimizer) destroy() {
	s.g.mu.Lock()
	p := s.ptr
	s.ptr = nil
	s.g.mu.Unlock()
	if p != nil {
		C.cnn_optimizer_destroy(p)
	}
}

func (s *Optimizer) enter() error { return s.g.enter(s.ptr == nil, true, "optimizer") }
func (s *Optimizer) leave() {
	if s.g.leave() {
		s.destroy()
	}
}

// Step applies one update to n's parameters from n.Grads().
func (s *Optimizer) Step(n *Net) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if err := n.enter(); err != nil {
		return err
	}
	defer n.leave()
	defer runtime.KeepAlive(s)
	defer runtime.KeepAlive(n)
	return call(func() C.cnn_status { return C.cnn_optimizer_step(s.ptr, n.ptr) })
}

// LearningRate is the rate the next step uses (0 once closed).  It may be
// read from a training callback (Train's schedules set it every step).
func (s *Optimizer) LearningRate() float32 {
	if err := s.g.enter(s.ptr == nil, false, "optimizer"); err != nil {
		return 0
	}
	defer s.leave()
	defer runtime.KeepAlive(s)
	return float32(C.cnn_optimizer_learning_rate(s.ptr))
}

// SetLearningRate sets the rate of the following steps (> 0 and finite).
// The creation rate stays the one Train's schedules start from; a schedule
// other than ScheduleConstant overwrites this one every step.  Like every
// change, it fails with StatusState while Train runs.
func (s *Optimizer) SetLearningRate(rate float32) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	defer runtime.KeepAlive(s)
	return call(func() C.cnn_status { return C.cnn_optimizer_set_learning_rate(s.ptr, C.float(rate)) })
}
