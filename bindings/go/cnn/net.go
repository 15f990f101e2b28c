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
	labels := make([]int32, x.Shape()[0])
	err := call(func() C.cnn_status {
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
	var a, c C.double
	err = call(func() C.cnn_status { return C.cnn_net_evaluate(n.ptr, d.ptr, C.int32_t(batch), &a, &c) })
	return float64(a), float64(c), err
}

// Save writes the model (atomically: temporary file + rename).
func (n *Net) Save(path string) error {
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
	return call(func() C.cnn_status { return C.cnn_net_save(n.ptr, cp) })
}

// LoadNet reads a model written by Save (in any language).
func LoadNet(path string) (*Net, error) {
	if err := cPath(path); err != nil {
		return nil, err
	}
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	return newNet(func(out **C.cnn_net) C.cnn_status { return C.cnn_net_load(cp, out) })
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

// SGD is stochastic gradient descent.
type SGD struct {
	ptr *C.cnn_optimizer
	g   guard
}

// NewSGD makes SGD with learning rate eta and L2 weight lambda (network3's form).
func NewSGD(eta, lambda float32) (*SGD, error) {
	var params C.cnn_sgd_params // init passes sizeof: nothing is written past it
	p := &params
	C.cnn_sgd_params_init(p, C.float(eta))
	p.l2 = C.float(lambda)
	p.struct_size = C.sizeof_cnn_sgd_params
	var o *C.cnn_optimizer
	if err := call(func() C.cnn_status { return C.cnn_sgd_create(p, &o) }); err != nil {
		return nil, err
	}
	s := &SGD{ptr: o}
	runtime.SetFinalizer(s, (*SGD).Close)
	return s, nil
}

// Close frees the optimizer (after Train returns, if it is training).
func (s *SGD) Close() {
	if s.g.closeNow() {
		s.destroy()
	}
}

func (s *SGD) destroy() {
	s.g.mu.Lock()
	p := s.ptr
	s.ptr = nil
	s.g.mu.Unlock()
	if p != nil {
		C.cnn_optimizer_destroy(p)
	}
}

func (s *SGD) enter() error { return s.g.enter(s.ptr == nil, true, "optimizer") }
func (s *SGD) leave() {
	if s.g.leave() {
		s.destroy()
	}
}
