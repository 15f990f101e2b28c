package cnn

// #include <cnn.h>
import "C"

import (
	"runtime"
	"unsafe"
)

// Reading examples one by one, and random augmentation.

// Get is example i's pixels (C*H*W values, byte / 256) and label.
func (d *Dataset) Get(i int) ([]float32, int32, error) {
	if err := d.enter(); err != nil {
		return nil, 0, err
	}
	defer d.leave()
	defer runtime.KeepAlive(d)
	s := d.Shape()
	pixels := make([]float32, int(s[0])*int(s[1])*int(s[2]))
	var label C.int32_t
	err := call(func() C.cnn_status {
		return C.cnn_dataset_get(d.ptr, C.int64_t(i), (*C.float)(unsafe.Pointer(&pixels[0])), &label)
	})
	if err != nil {
		return nil, 0, err
	}
	return pixels, int32(label), nil
}

// Labels is every example's label, in order.
func (d *Dataset) Labels() ([]int32, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer d.leave()
	defer runtime.KeepAlive(d)
	labels := make([]int32, d.Len())
	for i := range labels {
		var l C.int32_t
		if err := call(func() C.cnn_status { return C.cnn_dataset_get(d.ptr, C.int64_t(i), nil, &l) }); err != nil {
			return nil, err
		}
		labels[i] = int32(l)
	}
	return labels, nil
}

// AugmentOptions are the ranges Dataset.Augment draws from, uniformly per
// example and pass ([min, max]; min == max fixes a value).  A zero field
// keeps the library's default, the identity: Rotate, ShiftX, ShiftY, Shear
// [0, 0], Scale [1, 1], Probability 1, no elastic distortion, ElasticSigma 4.
type AugmentOptions struct {
	Rotate         [2]float32 // degrees, counterclockwise as displayed
	Scale          [2]float32 // zoom factor, > 0
	ShiftX, ShiftY [2]float32 // pixels, positive = right / down
	Shear          [2]float32 // horizontal shear, degrees in (-90, 90)
	// Probability is the chance in (0, 1] that an example is transformed
	// at all (0 keeps the default, 1).
	Probability float32
	// ElasticAlpha > 0 turns on Simard's elastic distortion, scaled by
	// this many pixels and smoothed with ElasticSigma (images of at most
	// 64x64).
	ElasticAlpha, ElasticSigma float32
	Seed                       uint64
}

// Augment is a view of d whose examples are randomly transformed when read
// (cnn_dataset_augment: nothing is copied).  Training reads pass = epoch,
// so every epoch sees fresh transforms; Get, Batch and evaluation read
// pass 0.  Evaluate on the plain set.  Bad ranges give StatusInvalid with
// the library's message.
func (d *Dataset) Augment(o AugmentOptions) (*Dataset, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer d.leave()
	defer runtime.KeepAlive(d)
	var params C.cnn_augment_params // init passes sizeof: nothing is written past it
	p := &params
	C.cnn_augment_params_init(p)
	span := func(lo, hi *C.float, v [2]float32) {
		if v != [2]float32{} {
			*lo, *hi = C.float(v[0]), C.float(v[1])
		}
	}
	span(&p.rotate_min, &p.rotate_max, o.Rotate)
	span(&p.scale_min, &p.scale_max, o.Scale)
	span(&p.shift_x_min, &p.shift_x_max, o.ShiftX)
	span(&p.shift_y_min, &p.shift_y_max, o.ShiftY)
	span(&p.shear_min, &p.shear_max, o.Shear)
	if o.Probability != 0 {
		p.probability = C.float(o.Probability)
	}
	p.elastic_alpha = C.float(o.ElasticAlpha)
	if o.ElasticSigma != 0 {
		p.elastic_sigma = C.float(o.ElasticSigma)
	}
	p.seed = C.uint64_t(o.Seed)
	p.struct_size = C.sizeof_cnn_augment_params
	return newDataset(func(out **C.cnn_dataset) C.cnn_status { return C.cnn_dataset_augment(d.ptr, p, out) })
}
