// Package cnn binds libcnn, a C library for convolutional neural networks,
// through cgo (pkg-config: cnn).
//
// Resources: every handle (Tensor, Layer, Net, Optimizer, Dataset) has a Close
// method; call it (or defer it).  A finalizer frees forgotten handles as a
// safety net, but C memory is invisible to Go's garbage collector, so
// relying on it lets memory grow.
//
// Errors: every failing call returns an *Error with the C status and the
// library's message.  errors.Is(err, cnn.ErrShape) tests the kind.
//
// Why error messages need care in Go: libcnn keeps the last message per OS
// thread (cnn_last_error), but a goroutine may move to another OS thread
// between two cgo calls, and would then read another thread's message.
// This package locks the goroutine to its thread (runtime.LockOSThread) for
// the span of the failing call plus the read of the message, so both run
// on the same thread; locking is cheap and is released right after.
//
// cgo pointer rules: C never keeps a Go pointer.  Slices passed in (pixels,
// labels) are only read during the call; training callbacks reach Go through
// a runtime/cgo.Handle (an integer) rather than a pointer; Tensor data,
// Net parameters and gradients and Layer.Param views are Go slices over C
// memory, valid until Close (and, for parameters, until the next Add).
//
// Concurrency: one handle must be used by one goroutine at a time.
// Net.TrainContext stops training when a context ends, from any goroutine.
//
// Import path: github.com/libcnn/libcnn/bindings/go/cnn.
package cnn

/*
#cgo pkg-config: cnn
#include <cnn.h>
*/
import "C"

import (
	"fmt"
	"runtime"
)

// Status is a libcnn status code (values pinned by the C API).
type Status int32

const (
	StatusInvalid  Status = C.CNN_EINVAL
	StatusShape    Status = C.CNN_ESHAPE
	StatusNoMem    Status = C.CNN_ENOMEM
	StatusIO       Status = C.CNN_EIO
	StatusFormat   Status = C.CNN_EFORMAT
	StatusVersion  Status = C.CNN_EVERSION
	StatusCanceled Status = C.CNN_ECANCELED
	StatusState    Status = C.CNN_ESTATE
	StatusChecksum Status = C.CNN_ECHECKSUM
	StatusDiverged Status = C.CNN_EDIVERGED // since 1.0
	StatusNotSup   Status = C.CNN_ENOTSUP   // since 1.2
)

// Name is the symbolic name, e.g. "CNN_ESHAPE".
func (s Status) Name() string { return C.GoString(C.cnn_status_name(C.cnn_status(s))) }

// Error is a failed libcnn call.
type Error struct {
	Status  Status
	Message string // the library's message, e.g. "conv2d: input 20x12x12 ..."
	// Cause is what made the library fail, where it came from Go: the
	// context's error (context.Canceled, context.DeadlineExceeded) when
	// Net.TrainContext stopped because its context ended; else nil.
	Cause error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s (%v)", e.Status.Name(), e.Message, e.Cause)
	}
	return fmt.Sprintf("%s: %s", e.Status.Name(), e.Message)
}

// Unwrap makes errors.Is(err, context.Canceled) true for a training run
// its context canceled.
func (e *Error) Unwrap() error { return e.Cause }

// Is makes errors.Is(err, cnn.ErrShape) true for every shape error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Status == e.Status && t.Message == ""
}

// Sentinels for errors.Is.
var (
	ErrInvalid  = &Error{Status: StatusInvalid}
	ErrShape    = &Error{Status: StatusShape}
	ErrNoMem    = &Error{Status: StatusNoMem}
	ErrIO       = &Error{Status: StatusIO}
	ErrFormat   = &Error{Status: StatusFormat}
	ErrVersion  = &Error{Status: StatusVersion}
	ErrCanceled = &Error{Status: StatusCanceled}
	ErrState    = &Error{Status: StatusState}
	ErrChecksum = &Error{Status: StatusChecksum}
	ErrDiverged = &Error{Status: StatusDiverged}
	ErrNotSup   = &Error{Status: StatusNotSup}
)

// call runs one fallible C call and, if it fails, reads the message on
// the same OS thread (see the package comment).
func call(f func() C.cnn_status) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if s := f(); s != C.CNN_OK {
		return errorFor(s)
	}
	return nil
}

// errorFor must run on the thread that failed.
func errorFor(s C.cnn_status) *Error {
	msg := C.GoString(C.cnn_last_error())
	if msg == "" {
		msg = C.GoString(C.cnn_status_string(s))
	}
	return &Error{Status: Status(s), Message: msg}
}

// Version is the C library's version string, e.g. "0.1.0".
func Version() string { return C.GoString(C.cnn_version_string()) }

// ISA is the instruction-set path the library's kernels run on in this
// process: "avx512", "avx2" or "generic" (CNN_ISA in the environment may
// name a lower path than the CPU's best).
func ISA() string { return C.GoString(C.cnn_isa_name(C.cnn_isa())) }

// ISABest is the best instruction-set path this CPU supports.
func ISABest() string { return C.GoString(C.cnn_isa_name(C.cnn_isa_best())) }

// VersionNumber is MAJOR*10000 + MINOR*100 + PATCH of the C library.
func VersionNumber() uint32 { return uint32(C.cnn_version()) }
