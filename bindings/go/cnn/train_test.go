package cnn

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// TrainContext, checkpoints and resume.

// wantCanceledBy checks err is the library's cancel wrapping cause.
func wantCanceledBy(t *testing.T, err, cause error) {
	t.Helper()
	var e *Error
	if !errors.Is(err, cause) || !errors.Is(err, ErrCanceled) || !errors.As(err, &e) ||
		e.Status != StatusCanceled || e.Message == "" {
		t.Fatalf("want a StatusCanceled *Error wrapping %v, got %#v (%v)", cause, err, err)
	}
}

func TestTrainContextCancelFromAnotherGoroutine(t *testing.T) {
	train := synthetic(t, 200, 0) // 20 batches an epoch
	defer train.Close()
	n := smallNet(t)
	defer n.Close()
	sgd := must(NewSGD(0.1, 0))
	defer sgd.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reached, canceled := make(chan struct{}), make(chan struct{})
	go func() {
		<-reached
		cancel()
		close(canceled)
	}()
	calls, afterCancel := 0, 0
	res, err := n.TrainContext(ctx, sgd, train, TrainOptions{Epochs: 50, ProgressEvery: 1,
		OnProgress: func(p Progress) bool {
			calls++
			select {
			case <-canceled:
				afterCancel++
			default:
			}
			if p.Epoch == 2 && p.Batch == 5 {
				close(reached)
				<-canceled // the cancel has happened when this batch returns
			}
			return false
		}})
	wantCanceledBy(t, err, context.Canceled)
	// Stopped before the next batch's callback: 20 + 5 calls in all.
	if afterCancel != 0 || calls != 25 || res.EpochsRun != 1 || !res.Canceled {
		t.Fatalf("%d calls, %d after the cancel, result %+v", calls, afterCancel, res)
	}
	// The network is usable afterwards.
	x, _, _ := train.Batch(0, 3)
	defer x.Close()
	if _, err := n.Predict(x); err != nil {
		t.Fatal(err)
	}
}

func TestTrainContextDeadlineAndAlreadyCanceled(t *testing.T) {
	train := synthetic(t, 200, 0)
	defer train.Close()
	n := smallNet(t)
	defer n.Close()
	sgd := must(NewSGD(0.1, 0))
	defer sgd.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	// 20000 epochs would take most of a minute: the deadline stops them.
	res, err := n.TrainContext(ctx, sgd, train, TrainOptions{Epochs: 20000})
	wantCanceledBy(t, err, context.DeadlineExceeded)
	if res.EpochsRun >= 20000 {
		t.Fatalf("result %+v", res)
	}

	done, stop := context.WithCancel(context.Background())
	stop()
	before := append([]float32(nil), n.Params()...)
	res, err = n.TrainContext(done, sgd, train, TrainOptions{Epochs: 1})
	wantCanceledBy(t, err, context.Canceled)
	if res.EpochsRun != 0 || !reflect.DeepEqual(before, n.Params()) {
		t.Fatalf("an ended context trained: %+v", res)
	}
	//lint:ignore SA1012 a nil context is what is being tested
	if _, err := n.TrainContext(nil, sgd, train, TrainOptions{Epochs: 1}); !errors.Is(err, ErrInvalid) { //nolint
		t.Fatalf("nil context: %v", err)
	}
}

// Under a live context the user's callbacks keep Train's rhythm, and a
// callback's own stop is still a cancel without an error.
func TestTrainContextKeepsCallbacks(t *testing.T) {
	train := synthetic(t, 95, 0) // 10 batches, the last one partial
	defer train.Close()
	type call struct{ epoch, batch int64 }
	run := func(withContext bool, every int32) []call {
		n := smallNet(t)
		defer n.Close()
		sgd := must(NewSGD(0.1, 0))
		defer sgd.Close()
		var seen []call
		o := TrainOptions{Epochs: 2, ProgressEvery: every, OnProgress: func(p Progress) bool {
			seen = append(seen, call{int64(p.Epoch), p.Batch})
			return false
		}}
		var err error
		if withContext {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, err = n.TrainContext(ctx, sgd, train, o)
		} else {
			_, err = n.Train(sgd, train, o)
		}
		if err != nil {
			t.Fatal(err)
		}
		return seen
	}
	for _, every := range []int32{0, 3, 4} {
		plain, ctx := run(false, every), run(true, every)
		if len(plain) == 0 || !reflect.DeepEqual(plain, ctx) {
			t.Fatalf("ProgressEvery %d: Train calls %v, TrainContext %v", every, plain, ctx)
		}
	}

	n := smallNet(t)
	defer n.Close()
	sgd := must(NewSGD(0.1, 0))
	defer sgd.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := n.TrainContext(ctx, sgd, train, TrainOptions{Epochs: 3,
		OnEpoch: func(r EpochReport) bool { return r.Epoch == 2 }})
	if err != nil || !res.Canceled || res.EpochsRun != 2 {
		t.Fatalf("a callback's stop: %v %+v", err, res)
	}
}

func TestCheckpointAndResume(t *testing.T) {
	train := synthetic(t, 60, 0)
	defer train.Close()
	dir := t.TempDir()
	opts := func() TrainOptions {
		return TrainOptions{Epochs: 3, BatchSize: 10, Shuffle: true, Seed: 5}
	}
	runFor := func(o TrainOptions) *Net {
		n := smallNet(t)
		opt := must(NewSGD(0.05, 0, Momentum(0.9)))
		defer opt.Close()
		if _, err := n.Train(opt, train, o); err != nil {
			t.Fatal(err)
		}
		return n
	}
	whole := runFor(opts())
	defer whole.Close()

	ckpt := filepath.Join(dir, "run.ckpt")
	first := opts()
	first.Epochs, first.CheckpointPath = 2, ckpt
	runFor(first).Close()
	if epoch, err := CheckpointInfo(ckpt); err != nil || epoch != 2 {
		t.Fatalf("CheckpointInfo: %d %v", epoch, err)
	}
	// A new process would start from scratch: a differently seeded net.
	rest := opts()
	rest.ResumePath, rest.CheckpointPath = ckpt, ckpt
	resumed := runFor(rest)
	defer resumed.Close()
	if !reflect.DeepEqual(resumed.Params(), whole.Params()) {
		t.Fatal("resumed weights differ from the uninterrupted run's")
	}
	if epoch := must(CheckpointInfo(ckpt)); epoch != 3 {
		t.Fatalf("checkpoint after the resumed run: epoch %d", epoch)
	}

	// Every second epoch, and the last.
	every := opts()
	every.CheckpointPath, every.CheckpointEvery, every.Epochs = filepath.Join(dir, "e.ckpt"), 2, 1
	runFor(every).Close()
	if epoch := must(CheckpointInfo(every.CheckpointPath)); epoch != 1 {
		t.Fatalf("last epoch not written: %d", epoch)
	}

	n := smallNet(t)
	defer n.Close()
	sgd := must(NewSGD(0.05, 0, Momentum(0.9)))
	defer sgd.Close()
	bad := opts()
	bad.ResumePath, bad.BatchSize = ckpt, 20
	if _, err := n.Train(sgd, train, bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("resume with another batch size: %v", err)
	}
	bad = opts()
	bad.CheckpointPath = filepath.Join(dir, "x\x00y")
	if _, err := n.Train(sgd, train, bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("checkpoint path with a NUL: %v", err)
	}
	bad = opts()
	bad.ResumePath = filepath.Join(dir, "missing.ckpt")
	if _, err := n.Train(sgd, train, bad); !errors.Is(err, ErrIO) {
		t.Fatalf("resume from a missing file: %v", err)
	}
	if _, err := CheckpointInfo(filepath.Join(dir, "missing.ckpt")); !errors.Is(err, ErrIO) {
		t.Fatalf("CheckpointInfo of a missing file: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "junk"), []byte("not a checkpoint"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := CheckpointInfo(filepath.Join(dir, "junk")); !errors.Is(err, ErrFormat) {
		t.Fatalf("CheckpointInfo of junk: %v", err)
	}
}
