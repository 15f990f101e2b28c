package cnn

/*
#include <cnn.h>
#include <stdint.h>
#include <stdlib.h>

// Implemented in Go (callbacks.go, //export).
extern int32_t cnnGoProgress(cnn_progress *p, uintptr_t handle);
extern int32_t cnnGoEpoch(cnn_epoch_report *r, uintptr_t handle);

static int32_t cnn_go_progress(const cnn_progress *p, void *user)
{
	return cnnGoProgress((cnn_progress *)p, (uintptr_t)user);
}

static int32_t cnn_go_epoch(const cnn_epoch_report *r, void *user)
{
	return cnnGoEpoch((cnn_epoch_report *)r, (uintptr_t)user);
}

// Installs the trampolines on a C-stack copy of the params: the cgo.Handle
// travels as the void *user there, and never sits in Go memory disguised
// as a pointer (where the garbage collector would inspect it).
static cnn_status cnn_go_train(cnn_net *net, cnn_optimizer *opt, const cnn_dataset *ds,
                               const cnn_train_params *p, cnn_train_result *r,
                               uintptr_t handle, int progress, int epoch)
{
	cnn_train_params q = *p;
	q.struct_size = sizeof q;
	q.on_progress = progress ? cnn_go_progress : NULL;
	q.on_epoch = epoch ? cnn_go_epoch : NULL;
	q.user = (void *)handle;
	return cnn_train(net, opt, ds, &q, r);
}
*/
import "C"

import (
	"context"
	"runtime"
	"runtime/cgo"
	"unsafe"
)

// Progress is passed to TrainOptions.OnProgress within an epoch.
type Progress struct {
	Epoch, Epochs  int32
	Batch, Batches int64
	Cost, Seconds  float64
}

// EpochReport is passed to TrainOptions.OnEpoch after each epoch.
type EpochReport struct {
	Epoch, Epochs          int32
	TrainCost              float64
	ValidationAccuracy     float64 // -1 without a validation set
	TestAccuracy           float64 // -1 without a test set
	Seconds, ImagesPerSec  float64
	BestEpoch              int32
	BestValidationAccuracy float64
	TestAccuracyAtBest     float64
}

// TrainOptions are cnn_train's parameters; zero fields keep the library's
// defaults.  A callback returning true stops training.
type TrainOptions struct {
	Epochs, BatchSize        int32
	Shuffle                  bool
	Seed                     uint64
	Validation, Test         *Dataset
	EvalBatch, ProgressEvery int32
	OnProgress               func(Progress) bool
	OnEpoch                  func(EpochReport) bool

	// Learning-rate schedule (since 1.0): ScheduleConstant (default: the
	// optimizer's rate is left alone), ScheduleStep, ScheduleCosine or
	// ScheduleOneCycle; the rate is then set before every step from the
	// optimizer's creation rate (cnn_train_params in cnn.h has the formulas).
	Schedule int32
	// ScheduleGamma is the step schedule's factor, in (0, 1] (default 0.1).
	ScheduleGamma float32
	// ScheduleStep is the steps (or, with ScheduleStepEpochs, epochs)
	// between factors of the step schedule (default 1).
	ScheduleStep       int32
	ScheduleStepEpochs bool
	// WarmupFraction is one-cycle's share of the run spent warming up, in
	// [0, 1) (default 0.3); InitialLRFraction its start rate / peak rate, in
	// (0, 1] (default 0.04).
	WarmupFraction, InitialLRFraction float32
	// FinalLRFraction is the cosine and one-cycle end rate / creation rate,
	// in [0, 1] (default 0).
	FinalLRFraction float32
	// CheckpointPath, if set, is the checkpoint file written after every
	// CheckpointEvery-th epoch (default 1) and after the last one, each
	// write replacing the file atomically; a failed write stops training
	// with its error.
	CheckpointPath  string
	CheckpointEvery int32
	// ResumePath, if set, is a checkpoint of an earlier run to continue
	// from: the run's settings (network, optimizer, BatchSize, Shuffle, Seed,
	// schedule, training set size) must match it, and training goes on from
	// the epoch after it up to Epochs in all, giving the weights the
	// uninterrupted run would have.  It may equal CheckpointPath.
	// CheckpointInfo says how many epochs a checkpoint holds.
	ResumePath string
}

// Learning-rate schedules of TrainOptions.Schedule.
const (
	ScheduleConstant = C.CNN_SCHEDULE_CONSTANT
	ScheduleStep     = C.CNN_SCHEDULE_STEP
	ScheduleCosine   = C.CNN_SCHEDULE_COSINE
	ScheduleOneCycle = C.CNN_SCHEDULE_ONECYCLE
)

// setSchedule copies o's schedule fields into p; zero fields keep defaults.
func (o *TrainOptions) setSchedule(p *C.cnn_train_params) {
	p.schedule = C.int32_t(o.Schedule)
	if o.ScheduleGamma != 0 {
		p.schedule_gamma = C.float(o.ScheduleGamma)
	}
	if o.ScheduleStep != 0 {
		p.schedule_step = C.int32_t(o.ScheduleStep)
	}
	p.schedule_step_epochs = cbool32(o.ScheduleStepEpochs)
	if o.WarmupFraction != 0 {
		p.warmup_fraction = C.float(o.WarmupFraction)
	}
	if o.InitialLRFraction != 0 {
		p.initial_lr_fraction = C.float(o.InitialLRFraction)
	}
	p.final_lr_fraction = C.float(o.FinalLRFraction)
}

// ScheduleRate is the rate o's schedule sets before step t (0-based) of
// total, from creation rate base, with stepsPerEpoch steps an epoch
// (cnn_schedule_rate); 0 for t outside [0, total).
func (o TrainOptions) ScheduleRate(base float32, t, total, stepsPerEpoch int64) float32 {
	var params C.cnn_train_params
	p := &params
	C.cnn_train_params_init(p, 1)
	o.setSchedule(p)
	return float32(C.cnn_schedule_rate(p, C.float(base), C.int64_t(t), C.int64_t(total), C.int64_t(stepsPerEpoch)))
}

// TrainResult summarises a Train run.
type TrainResult struct {
	EpochsRun, BestEpoch   int32
	BestValidationAccuracy float64
	TestAccuracyAtBest     float64
	FinalTrainCost         float64
	Seconds                float64
	Canceled               bool // a callback returned true
}

type trainState struct {
	opts     *TrainOptions
	panicked interface{} // a callback's panic, re-raised after cnn_train
	canceled bool
	// With a context: checked before every batch (the library then calls
	// back after each one), and OnProgress is called only every userEvery
	// batches, as the library would have.
	ctx       context.Context
	ctxErr    error
	userEvery int32
}

// Train runs mini-batch training over data with any optimizer (SGD, Adam).
// A callback returning true stops it: the result then has Canceled set and
// the error is nil.  A panic in a callback stops training and is re-raised
// here once the C code has returned.
func (n *Net) Train(opt *Optimizer, data *Dataset, o TrainOptions) (TrainResult, error) {
	return n.train(nil, opt, data, o)
}

// TrainContext is Train that also stops when ctx ends: within one
// mini-batch of the cancel (not during an epoch's evaluation, which ends
// first).  It then returns the epochs completed so far (with Canceled set)
// and an *Error with StatusCanceled whose Cause is ctx.Err(), so both errors.Is(err,
// cnn.ErrCanceled) and errors.Is(err, context.Canceled) (or
// context.DeadlineExceeded) hold.  A context already ended trains nothing.
// The checkpoint of the last completed epoch, if any, is intact.
func (n *Net) TrainContext(ctx context.Context, opt *Optimizer, data *Dataset, o TrainOptions) (TrainResult, error) {
	if ctx == nil {
		return TrainResult{}, &Error{Status: StatusInvalid, Message: "TrainContext: nil context"}
	}
	if err := ctx.Err(); err != nil {
		return TrainResult{}, &Error{Status: StatusCanceled, Message: "TrainContext: the context " +
			"ended before training started", Cause: err}
	}
	return n.train(ctx, opt, data, o)
}

// cString is s in C memory (free it), or nil for "".
func cString(s string) (*C.char, error) {
	if s == "" {
		return nil, nil
	}
	if err := cPath(s); err != nil {
		return nil, err
	}
	return C.CString(s), nil
}

// CheckpointInfo is the number of epochs completed when a checkpoint file
// (TrainOptions.CheckpointPath) was written; it reads and verifies the
// whole file.
func CheckpointInfo(path string) (int32, error) {
	if err := cPath(path); err != nil {
		return 0, err
	}
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	var epoch C.int32_t
	err := call(func() C.cnn_status { return C.cnn_checkpoint_info(cp, &epoch) })
	return int32(epoch), err
}

func (n *Net) train(ctx context.Context, opt *Optimizer, data *Dataset, o TrainOptions) (TrainResult, error) {
	defer runtime.KeepAlive(n)
	defer runtime.KeepAlive(opt)
	defer runtime.KeepAlive(data)
	defer runtime.KeepAlive(o.Validation)
	defer runtime.KeepAlive(o.Test)
	// Held for the whole run: a callback (or another goroutine) closing the
	// network, optimizer or a dataset defers the free until Train returns,
	// and using the network meanwhile fails with StatusState.
	for _, e := range []interface {
		enter() error
		leave()
	}{n, opt, data, o.Validation, o.Test} {
		if d, ok := e.(*Dataset); ok && d == nil {
			continue
		}
		if err := e.enter(); err != nil {
			return TrainResult{}, err
		}
		defer e.leave()
	}

	var params C.cnn_train_params // init passes sizeof: nothing is written past it
	p := &params
	C.cnn_train_params_init(p, C.int32_t(o.Epochs))
	if o.BatchSize != 0 {
		p.batch_size = C.int32_t(o.BatchSize)
	}
	if o.Shuffle {
		p.shuffle = 1
	}
	p.seed = C.uint64_t(o.Seed)
	if o.Validation != nil {
		p.validation = o.Validation.ptr
	}
	if o.Test != nil {
		p.test = o.Test.ptr
	}
	if o.EvalBatch != 0 {
		p.eval_batch_size = C.int32_t(o.EvalBatch)
	}
	if o.ProgressEvery != 0 {
		p.progress_every = C.int32_t(o.ProgressEvery)
	}
	o.setSchedule(p)
	var err error
	if p.checkpoint_path, err = cString(o.CheckpointPath); err != nil {
		return TrainResult{}, err
	}
	defer C.free(unsafe.Pointer(p.checkpoint_path))
	if p.resume_path, err = cString(o.ResumePath); err != nil {
		return TrainResult{}, err
	}
	defer C.free(unsafe.Pointer(p.resume_path))
	if o.CheckpointEvery != 0 {
		p.checkpoint_every = C.int32_t(o.CheckpointEvery)
	}
	state := &trainState{opts: &o, userEvery: int32(p.progress_every)}
	progress := o.OnProgress != nil
	if ctx != nil && ctx.Done() != nil && p.progress_every >= 0 { // < 0: the library refuses it
		state.ctx = ctx
		p.progress_every = 1
		progress = true
	}
	h := cgo.NewHandle(state)
	defer h.Delete()
	n.lastTrainN = 0
	r := C.cnn_train_result{struct_size: C.sizeof_cnn_train_result}
	err = call(func() C.cnn_status {
		return C.cnn_go_train(n.ptr, opt.ptr, data.ptr, p, &r, C.uintptr_t(h),
			cbool(progress), cbool(o.OnEpoch != nil))
	})
	if state.panicked != nil {
		panic(state.panicked)
	}
	res := TrainResult{
		EpochsRun: int32(r.epochs_run), BestEpoch: int32(r.best_epoch),
		BestValidationAccuracy: float64(r.best_validation_accuracy),
		TestAccuracyAtBest:     float64(r.test_accuracy_at_best),
		FinalTrainCost:         float64(r.final_train_cost), Seconds: float64(r.seconds),
		Canceled: state.canceled,
	}
	if state.ctxErr != nil {
		if e, ok := err.(*Error); ok {
			e.Cause = state.ctxErr
		}
	} else if res.Canceled {
		err = nil // the caller asked for it: not an error
	}
	return res, err
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// sized copies a library struct, reading only the struct_size bytes the
// library filled: an older library passes a shorter struct.
func sized[T any](p unsafe.Pointer) T {
	var out T
	n := uintptr(*(*C.uint32_t)(p))
	if n > unsafe.Sizeof(out) {
		n = unsafe.Sizeof(out)
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&out)), n), unsafe.Slice((*byte)(p), n))
	return out
}
