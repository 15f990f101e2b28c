package cnn

// #include <cnn.h>
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

// Running a network by hand: Forward (and Backward after a training
// forward), PredictProba, TrainStep, PredictDataset, and the thread count.

// Mode is a forward pass's mode (values pinned by the C API).
type Mode int32

const (
	// ModeInfer: no dropout masks; batch norm uses its running statistics.
	ModeInfer Mode = C.CNN_MODE_INFER
	// ModeTrain: fresh dropout masks, and remembers what Backward needs.
	ModeTrain Mode = C.CNN_MODE_TRAIN
)

// batchSize is x's first axis; an error for a nil or closed tensor (its
// shape would be empty, and sizing a label slice from it would panic).
func batchSize(x *Tensor, who string) (int, error) {
	if x == nil || x.ptr == nil {
		return 0, &Error{Status: StatusInvalid, Message: who + ": the input tensor is nil or closed"}
	}
	return int(C.cnn_tensor_dim(x.ptr, 0)), nil
}

// Forward runs the network on a batch x (N, C, H, W) and returns the last
// layer's output as a new tensor the caller must Close: (N, C) when the
// output is flat (dense, softmax: for a softmax network these are the
// class probabilities, each row summing to 1), else (N, C, H, W).
// ModeTrain also prepares Backward.
func (n *Net) Forward(x *Tensor, mode Mode) (*Tensor, error) {
	if err := n.enter(); err != nil {
		return nil, err
	}
	defer n.leave()
	defer runtime.KeepAlive(n)
	defer runtime.KeepAlive(x)
	n.lastTrainN = 0
	count, err := batchSize(x, "Forward")
	if err != nil {
		return nil, err
	}
	s := n.OutputShape()
	shape := []int64{int64(count), int64(s[0]), int64(s[1]), int64(s[2])}
	if s[1] == 1 && s[2] == 1 {
		shape = shape[:2]
	}
	if s[0] == 0 { // no layers: let the library say so
		shape = []int64{int64(count), 1}
	}
	y, err := NewTensor(shape...)
	if err != nil {
		return nil, err
	}
	err = call(func() C.cnn_status { return C.cnn_net_forward(n.ptr, x.ptr, C.int32_t(mode), y.ptr) })
	if err != nil {
		y.Close()
		return nil, err
	}
	if mode == ModeTrain {
		n.lastTrainN = count
	}
	return y, nil
}

// Backward computes the gradients (Grads) of the mean negative
// log-likelihood of labels, one per example of the last Forward, which
// must have been a ModeTrain one on this network; it returns the batch's
// cost.  The network must end in a softmax layer.
func (n *Net) Backward(labels []int32) (float64, error) {
	if err := n.enter(); err != nil {
		return 0, err
	}
	defer n.leave()
	defer runtime.KeepAlive(n)
	// Checked here: the library reads one label per example of the last
	// training forward, past the end of a shorter slice.
	if n.lastTrainN == 0 {
		return 0, &Error{Status: StatusState, Message: "Backward: needs a Forward(x, ModeTrain) first"}
	}
	if len(labels) != n.lastTrainN {
		return 0, &Error{Status: StatusInvalid, Message: fmt.Sprintf(
			"Backward: %d labels for a batch of %d", len(labels), n.lastTrainN)}
	}
	var cost C.double
	err := call(func() C.cnn_status {
		return C.cnn_net_backward(n.ptr, (*C.int32_t)(unsafe.Pointer(&labels[0])), &cost)
	})
	return float64(cost), err
}

// PredictProba is the class probabilities of a batch: one row of
// len(classes) per example, in Go memory.  The network must end in a
// softmax layer (StatusState otherwise: other outputs are not
// probabilities; Forward gives them).
func (n *Net) PredictProba(x *Tensor) ([][]float32, error) {
	if k := n.Len(); k == 0 || n.Layer(k-1).Kind() != KindSoftmax {
		if err := n.enter(); err != nil { // a closed network says so first
			return nil, err
		}
		n.leave()
		return nil, &Error{Status: StatusState, Message: "PredictProba: the network does not end " +
			"in a softmax layer (Forward gives its raw outputs)"}
	}
	y, err := n.Forward(x, ModeInfer)
	if err != nil {
		return nil, err
	}
	defer y.Close()
	shape, flat := y.Shape(), y.Data()
	rows, classes := int(shape[0]), int(shape[1])
	all := make([]float32, len(flat))
	copy(all, flat)
	out := make([][]float32, rows)
	for i := range out {
		out[i] = all[i*classes : (i+1)*classes : (i+1)*classes]
	}
	return out, nil
}

// TrainStep is one forward, backward and optimizer update on batch x with
// labels (one per example); it returns the batch's cost.
func (n *Net) TrainStep(opt *Optimizer, x *Tensor, labels []int32) (float64, error) {
	if err := n.enter(); err != nil {
		return 0, err
	}
	defer n.leave()
	if err := opt.enter(); err != nil {
		return 0, err
	}
	defer opt.leave()
	defer runtime.KeepAlive(n)
	defer runtime.KeepAlive(opt)
	defer runtime.KeepAlive(x)
	n.lastTrainN = 0
	count, err := batchSize(x, "TrainStep")
	if err != nil {
		return 0, err
	}
	if len(labels) != count {
		return 0, &Error{Status: StatusInvalid, Message: fmt.Sprintf(
			"TrainStep: %d labels for a batch of %d", len(labels), count)}
	}
	var cost C.double
	err = call(func() C.cnn_status {
		return C.cnn_train_step(n.ptr, opt.ptr, x.ptr, (*C.int32_t)(unsafe.Pointer(&labels[0])), &cost)
	})
	return float64(cost), err
}

// PredictDataset classifies every example of d, batch examples at a time.
func (n *Net) PredictDataset(d *Dataset, batch int32) ([]int32, error) {
	if err := n.enter(); err != nil {
		return nil, err
	}
	defer n.leave()
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer d.leave()
	defer runtime.KeepAlive(n)
	defer runtime.KeepAlive(d)
	n.lastTrainN = 0
	labels := make([]int32, d.Len()+1) // +1: a valid pointer for an empty set
	err := call(func() C.cnn_status {
		return C.cnn_net_predict_dataset(n.ptr, d.ptr, C.int32_t(batch), (*C.int32_t)(unsafe.Pointer(&labels[0])))
	})
	return labels[:len(labels)-1], err
}

// SetThreads sets how many threads the network may use, 1 to 256 (default
// 1; cnn_net_set_threads in cnn.h says how the work is split).  Results are
// deterministic for a given thread count.
func (n *Net) SetThreads(threads int) error {
	if err := n.enter(); err != nil {
		return err
	}
	defer n.leave()
	defer runtime.KeepAlive(n)
	if threads < 1 || threads > C.CNN_MAX_THREADS {
		// Checked here too: an int past int32 must not wrap into range.
		return &Error{Status: StatusInvalid, Message: fmt.Sprintf(
			"SetThreads: %d threads, must be 1 to %d", threads, C.CNN_MAX_THREADS)}
	}
	return call(func() C.cnn_status { return C.cnn_net_set_threads(n.ptr, C.int32_t(threads)) })
}

// InitWeights redraws every layer's initial weights from seed.
func (n *Net) InitWeights(seed uint64) error {
	if err := n.enter(); err != nil {
		return err
	}
	defer n.leave()
	defer runtime.KeepAlive(n)
	return call(func() C.cnn_status { return C.cnn_net_init_weights(n.ptr, C.uint64_t(seed)) })
}

// InputShape is the (C, H, W) the network takes.
func (n *Net) InputShape() [3]int32 {
	defer runtime.KeepAlive(n)
	var s [3]C.int32_t
	C.cnn_net_input_shape(n.ptr, &s[0])
	return [3]int32{int32(s[0]), int32(s[1]), int32(s[2])}
}

// ParamCount is the number of trainable parameters, len(Params()).
func (n *Net) ParamCount() int64 {
	defer runtime.KeepAlive(n)
	return int64(C.cnn_net_param_count(n.ptr))
}
