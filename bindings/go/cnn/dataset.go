package cnn

// #include <cnn.h>
// #include <stdlib.h>
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

// Dataset holds labelled images as bytes (pixels read as byte / 256).
type Dataset struct {
	ptr *C.cnn_dataset
	g   guard
}

// Datasets never change: any number of calls may read one at once.
func (d *Dataset) enter() error { return d.g.enter(d.ptr == nil, false, "dataset") }
func (d *Dataset) leave() {
	if d.g.leave() {
		d.destroy()
	}
}

func (d *Dataset) destroy() {
	d.g.mu.Lock()
	p := d.ptr
	d.ptr = nil
	d.g.mu.Unlock()
	if p != nil {
		C.cnn_dataset_destroy(p)
	}
}

func newDataset(f func(**C.cnn_dataset) C.cnn_status) (*Dataset, error) {
	var d *C.cnn_dataset
	if err := call(func() C.cnn_status { return f(&d) }); err != nil {
		return nil, err
	}
	ds := &Dataset{ptr: d}
	runtime.SetFinalizer(ds, (*Dataset).Close)
	return ds, nil
}

// Close frees the dataset; slices made from it stay valid.  While a call
// (Train, Evaluate) reads it, the free waits until that call returns.
func (d *Dataset) Close() {
	if d.g.closeNow() {
		d.destroy()
	}
}

// NewDataset copies len(labels) images of shape (c, h, w) from pixels.
func NewDataset(pixels, labels []byte, c, h, w int32) (*Dataset, error) {
	if len(labels) == 0 || len(pixels) != len(labels)*int(c)*int(h)*int(w) {
		// Checked here because the C call would read past a short slice.
		return nil, &Error{Status: StatusInvalid, Message: fmt.Sprintf(
			"NewDataset: %d pixel bytes for %d images of %dx%dx%d", len(pixels), len(labels), c, h, w)}
	}
	return newDataset(func(out **C.cnn_dataset) C.cnn_status {
		return C.cnn_dataset_create(C.int64_t(len(labels)), C.int32_t(c), C.int32_t(h), C.int32_t(w),
			(*C.uint8_t)(unsafe.Pointer(&pixels[0])), (*C.uint8_t)(unsafe.Pointer(&labels[0])), out)
	})
}

// Split names an MNIST split (values pinned by the C API).
type Split int32

const (
	SplitTrain Split = C.CNN_MNIST_TRAIN // train-images-idx3-ubyte, train-labels-idx1-ubyte (60000)
	SplitTest  Split = C.CNN_MNIST_TEST  // t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (10000)
)

// LoadMNIST loads one split from a directory holding the four IDX files:
// LoadMNIST(dir, cnn.SplitTest).
func LoadMNIST(dir string, split Split) (*Dataset, error) {
	if err := cPath(dir); err != nil {
		return nil, err
	}
	cdir := C.CString(dir)
	defer C.free(unsafe.Pointer(cdir))
	return newDataset(func(out **C.cnn_dataset) C.cnn_status {
		return C.cnn_dataset_load_mnist(cdir, C.int32_t(split), out)
	})
}

// LoadIDX loads an IDX image file and an IDX label file.
func LoadIDX(images, labels string) (*Dataset, error) {
	if err := cPath(images + labels); err != nil {
		return nil, err
	}
	ci, cl := C.CString(images), C.CString(labels)
	defer C.free(unsafe.Pointer(ci))
	defer C.free(unsafe.Pointer(cl))
	return newDataset(func(out **C.cnn_dataset) C.cnn_status { return C.cnn_dataset_load_idx(ci, cl, out) })
}

// Len is the number of examples.
func (d *Dataset) Len() int {
	defer runtime.KeepAlive(d)
	return int(C.cnn_dataset_count(d.ptr))
}

// Shape is the image shape (C, H, W).
func (d *Dataset) Shape() [3]int32 {
	defer runtime.KeepAlive(d)
	var s [3]C.int32_t
	C.cnn_dataset_shape(d.ptr, &s[0])
	return [3]int32{int32(s[0]), int32(s[1]), int32(s[2])}
}

// Slice is examples [start, start+count), sharing storage.
func (d *Dataset) Slice(start, count int) (*Dataset, error) {
	defer runtime.KeepAlive(d)
	return newDataset(func(out **C.cnn_dataset) C.cnn_status {
		return C.cnn_dataset_slice(d.ptr, C.int64_t(start), C.int64_t(count), out)
	})
}

// Expand is network3's expanded set: each image plus four 1-pixel shifts.
func (d *Dataset) Expand(seed uint64) (*Dataset, error) {
	defer runtime.KeepAlive(d)
	return newDataset(func(out **C.cnn_dataset) C.cnn_status { return C.cnn_dataset_expand(d.ptr, C.uint64_t(seed), out) })
}

// Batch copies examples [start, start+count) into a new (count, C, H, W)
// tensor and returns their labels.
func (d *Dataset) Batch(start, count int) (*Tensor, []int32, error) {
	defer runtime.KeepAlive(d)
	s := d.Shape()
	x, err := NewTensor(int64(count), int64(s[0]), int64(s[1]), int64(s[2]))
	if err != nil {
		return nil, nil, err
	}
	labels := make([]int32, count)
	err = call(func() C.cnn_status {
		return C.cnn_dataset_batch(d.ptr, C.int64_t(start), C.int64_t(count), x.ptr, (*C.int32_t)(unsafe.Pointer(&labels[0])))
	})
	if err != nil {
		x.Close()
		return nil, nil, err
	}
	return x, labels, nil
}
