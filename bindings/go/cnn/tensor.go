package cnn

// #include <cnn.h>
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

// Tensor is a float32 array of rank 1-4 (NCHW) owned by libcnn.
type Tensor struct {
	ptr *C.cnn_tensor
}

// NewTensor makes a zero-filled tensor.
func NewTensor(shape ...int64) (*Tensor, error) {
	var t *C.cnn_tensor
	if len(shape) == 0 {
		shape = []int64{0} // let the library report the bad rank
	}
	err := call(func() C.cnn_status {
		return C.cnn_tensor_create(C.int32_t(len(shape)), (*C.int64_t)(unsafe.Pointer(&shape[0])), &t)
	})
	if err != nil {
		return nil, err
	}
	return track(&Tensor{ptr: t}), nil
}

func track(t *Tensor) *Tensor {
	runtime.SetFinalizer(t, (*Tensor).Close)
	return t
}

// Close frees the tensor; safe to call twice.
func (t *Tensor) Close() {
	if t.ptr != nil {
		C.cnn_tensor_destroy(t.ptr)
		t.ptr = nil
	}
}

// Shape is the size of each axis.
func (t *Tensor) Shape() []int64 {
	defer runtime.KeepAlive(t)
	n := int(C.cnn_tensor_ndim(t.ptr))
	s := make([]int64, n)
	for i := range s {
		s[i] = int64(C.cnn_tensor_dim(t.ptr, C.int32_t(i)))
	}
	return s
}

// Data is the elements as a slice over the C buffer (no copy): valid until
// Close, and it does not keep the tensor alive by itself.
func (t *Tensor) Data() []float32 {
	defer runtime.KeepAlive(t)
	n := int(C.cnn_tensor_numel(t.ptr))
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(C.cnn_tensor_data(t.ptr))), n)
}

// CopyFrom copies exactly len(Data()) values into the tensor.
func (t *Tensor) CopyFrom(values []float32) error {
	defer runtime.KeepAlive(t)
	var p *C.float
	if len(values) > 0 {
		p = (*C.float)(unsafe.Pointer(&values[0]))
	}
	return call(func() C.cnn_status { return C.cnn_tensor_copy_in(t.ptr, p, C.int64_t(len(values))) })
}

// Reshape changes the shape, keeping the element count.
func (t *Tensor) Reshape(shape ...int64) error {
	defer runtime.KeepAlive(t)
	if len(shape) == 0 {
		shape = []int64{0}
	}
	return call(func() C.cnn_status {
		return C.cnn_tensor_reshape(t.ptr, C.int32_t(len(shape)), (*C.int64_t)(unsafe.Pointer(&shape[0])))
	})
}

// NewTensorFrom makes a tensor of the given shape holding a copy of values
// (exactly as many as the shape has elements).
func NewTensorFrom(values []float32, shape ...int64) (*Tensor, error) {
	t, err := NewTensor(shape...)
	if err != nil {
		return nil, err
	}
	if err := t.CopyFrom(values); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// NewImageBatch makes an (N, C, H, W) tensor from 8-bit pixels, each read
// as byte / 256 (the library's convention, as datasets read theirs), so
// raw images can go straight to Predict, Forward or PredictProba.
func NewImageBatch(pixels []byte, n, c, h, w int64) (*Tensor, error) {
	if n < 1 || c < 1 || h < 1 || w < 1 || int64(len(pixels)) != n*c*h*w {
		return nil, &Error{Status: StatusInvalid, Message: fmt.Sprintf(
			"NewImageBatch: %d pixel bytes for %dx%dx%dx%d images", len(pixels), n, c, h, w)}
	}
	t, err := NewTensor(n, c, h, w)
	if err != nil {
		return nil, err
	}
	for i, b := range pixels {
		t.Data()[i] = float32(b) / 256
	}
	return t, nil
}
