package cnn

// A file with //export may only declare, not define, C code in its preamble.

// #include <cnn.h>
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// run calls a user callback, turning its panic into a cancel (a Go panic
// must not unwind through libcnn's C frames) and its true into a cancel.
func (s *trainState) run(f func() bool) C.int32_t {
	if s.panicked != nil {
		return 1
	}
	stop := true
	func() {
		defer func() {
			if v := recover(); v != nil {
				s.panicked = v
			}
		}()
		stop = f()
		if stop {
			s.canceled = true
		}
	}()
	if stop {
		return 1
	}
	return 0
}

//export cnnGoProgress
func cnnGoProgress(p *C.cnn_progress, h C.uintptr_t) C.int32_t {
	s := cgo.Handle(h).Value().(*trainState)
	c := sized[C.cnn_progress](unsafe.Pointer(p))
	return s.run(func() bool {
		if s.ctx != nil {
			if err := s.ctx.Err(); err != nil {
				s.ctxErr = err
				return true
			}
			// Called every batch for the context's sake: the user's
			// callback keeps the library's rhythm.
			every, b := int64(s.userEvery), int64(c.batch)
			if every == 0 || (b%every != 0 && b != int64(c.batches)) {
				return false
			}
		}
		if s.opts.OnProgress == nil {
			return false
		}
		return s.opts.OnProgress(Progress{Epoch: int32(c.epoch), Epochs: int32(c.epochs),
			Batch: int64(c.batch), Batches: int64(c.batches), Cost: float64(c.cost), Seconds: float64(c.seconds)})
	})
}

//export cnnGoEpoch
func cnnGoEpoch(r *C.cnn_epoch_report, h C.uintptr_t) C.int32_t {
	s := cgo.Handle(h).Value().(*trainState)
	c := sized[C.cnn_epoch_report](unsafe.Pointer(r))
	return s.run(func() bool {
		return s.opts.OnEpoch(EpochReport{Epoch: int32(c.epoch), Epochs: int32(c.epochs),
			TrainCost: float64(c.train_cost), ValidationAccuracy: float64(c.validation_accuracy),
			TestAccuracy: float64(c.test_accuracy), Seconds: float64(c.seconds),
			ImagesPerSec: float64(c.images_per_second), BestEpoch: int32(c.best_epoch),
			BestValidationAccuracy: float64(c.best_validation_accuracy),
			TestAccuracyAtBest:     float64(c.test_accuracy_at_best)})
	})
}
