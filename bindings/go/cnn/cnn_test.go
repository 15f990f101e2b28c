package cnn

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
)

func synthetic(t *testing.T, count, first int) *Dataset {
	pixels, labels := make([]byte, count*784), make([]byte, count)
	for n := 0; n < count; n++ {
		i, label := first+n, (first+n)%10
		top, left := 3+label/5*13+i/10%3, 1+label%5*5+i/30%3
		for y := top; y < top+5; y++ {
			copy(pixels[n*784+y*28+left:], []byte{255, 255, 255, 255, 255})
		}
		labels[n] = byte(label)
	}
	d, err := NewDataset(pixels, labels, 1, 28, 28)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func smallNet(t *testing.T) *Net {
	n, err := NewNet(1, 28, 28, 1)
	if err != nil {
		t.Fatal(err)
	}
	add := func(l *Layer, err error) {
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Add(l); err != nil {
			t.Fatal(err)
		}
	}
	add(NewConv2d(4, 5, Conv2dParams{Activation: ReLU, Pool: PoolMax}))
	add(NewDense(16, ReLU, 0))
	add(NewSoftmax(10))
	return n
}

func TestVersion(t *testing.T) {
	if VersionNumber()/10000 != 1 || Version() == "" {
		t.Fatalf("version %d %q", VersionNumber(), Version())
	}
}

func TestErrors(t *testing.T) {
	_, err := NewTensor(2, 0)
	var e *Error
	if !errors.As(err, &e) || e.Status != StatusInvalid || e.Message == "" || !errors.Is(err, ErrInvalid) {
		t.Fatalf("want EINVAL with a message, got %v", err)
	}
	if e.Status.Name() != "CNN_EINVAL" {
		t.Fatalf("name %q", e.Status.Name())
	}
	x, _ := NewTensor(2, 3)
	defer x.Close()
	if err := x.Reshape(4, 2); !errors.Is(err, ErrShape) {
		t.Fatalf("want ESHAPE, got %v", err)
	}
	n, _ := NewNet(1, 8, 8, 0)
	defer n.Close()
	l, _ := NewConv2d(2, 13, Conv2dParams{})
	if err := n.Add(l); !errors.Is(err, ErrShape) || n.Len() != 0 {
		t.Fatalf("want ESHAPE, got %v", err)
	}
	l.Close()
	if _, err := LoadNet("/nonexistent/m.cnn"); !errors.Is(err, ErrIO) {
		t.Fatalf("want EIO, got %v", err)
	}
	if _, err := NetFromBytes([]byte("not a model")); !errors.Is(err, ErrFormat) {
		t.Fatalf("want EFORMAT, got %v", err)
	}
	if _, err := NewDataset(make([]byte, 10), []byte{1}, 1, 28, 28); !errors.Is(err, ErrInvalid) {
		t.Fatalf("want EINVAL, got %v", err)
	}
}

// The message must match the failing call even when goroutines hop threads.
func TestErrorMessagesAcrossGoroutines(t *testing.T) {
	done := make(chan string, 64)
	for g := 0; g < 64; g++ {
		go func(g int) {
			var err error
			if g%2 == 0 {
				_, err = NewTensor(2, 0)
			} else {
				_, err = LoadNet("/nonexistent/m.cnn")
			}
			runtime.Gosched()
			e := err.(*Error)
			if (g%2 == 0) != (e.Status == StatusInvalid) {
				done <- "wrong status"
				return
			}
			done <- e.Message
		}(g)
	}
	for g := 0; g < 64; g++ {
		if m := <-done; m == "" || m == "wrong status" {
			t.Fatalf("bad message %q", m)
		}
	}
}

func TestLayers(t *testing.T) {
	l, err := NewConv2d(20, 5, Conv2dParams{InChannels: 1, Pool: PoolMax})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if s, _ := l.OutputShape([3]int32{1, 28, 28}); s != [3]int32{20, 12, 12} || l.Kind() != KindConv2d {
		t.Fatalf("shape %v kind %d", s, l.Kind())
	}
	if l.ParamCount() != 20*25+20 {
		t.Fatalf("params %d", l.ParamCount())
	}
	if _, err := NewDense(10, ReLU, 1.5); !errors.Is(err, ErrInvalid) {
		t.Fatalf("want EINVAL for dropout 1.5, got %v", err)
	}
}

func TestTrainSaveLoad(t *testing.T) {
	train, test := synthetic(t, 500, 0), synthetic(t, 100, 500)
	defer train.Close()
	defer test.Close()
	n := smallNet(t)
	defer n.Close()
	sgd, _ := NewSGD(0.1, 0)
	defer sgd.Close()
	var epochs []float64
	progress := 0
	res, err := n.Train(sgd, train, TrainOptions{Epochs: 3, Test: test, ProgressEvery: 10,
		OnProgress: func(Progress) bool { progress++; return false },
		OnEpoch:    func(r EpochReport) bool { epochs = append(epochs, r.TestAccuracy); return false }})
	if err != nil || res.EpochsRun != 3 || len(epochs) != 3 || progress < 15 {
		t.Fatalf("train: %v %+v %v %d", err, res, epochs, progress)
	}
	if epochs[2] < 0.5 {
		t.Fatalf("did not learn: %v", epochs)
	}
	x, _, err := test.Batch(0, 20)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	want, _ := n.Predict(x)
	path := filepath.Join(t.TempDir(), "m.cnn")
	if err := n.Save(path); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadNet(path)
	if err != nil {
		t.Fatal(err)
	}
	defer loaded.Close()
	if got, _ := loaded.Predict(x); !reflect.DeepEqual(got, want) {
		t.Fatalf("loaded predicts %v, want %v", got, want)
	}
	if !reflect.DeepEqual(loaded.Params(), n.Params()) {
		t.Fatal("params differ after load")
	}
	b, err := n.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	again, err := NetFromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if got, _ := again.Predict(x); !reflect.DeepEqual(got, want) {
		t.Fatalf("from bytes predicts %v, want %v", got, want)
	}
	_ = os.Remove(path)
}

func TestCallbackCancelAndPanic(t *testing.T) {
	train := synthetic(t, 200, 0)
	defer train.Close()
	n := smallNet(t)
	defer n.Close()
	sgd, _ := NewSGD(0.1, 0)
	defer sgd.Close()
	res, err := n.Train(sgd, train, TrainOptions{Epochs: 5, ProgressEvery: 5,
		OnProgress: func(p Progress) bool { return p.Batch >= 10 }})
	if err != nil || !res.Canceled || res.EpochsRun != 0 {
		t.Fatalf("cancel: %v %+v", err, res)
	}
	func() {
		defer func() {
			if recover() != "from callback" {
				t.Fatal("panic not re-raised")
			}
		}()
		n.Train(sgd, train, TrainOptions{Epochs: 5, OnEpoch: func(EpochReport) bool { panic("from callback") }})
	}()
	x, _, _ := train.Batch(0, 2)
	defer x.Close()
	if got, err := n.Predict(x); err != nil || len(got) != 2 {
		t.Fatalf("net unusable after panic: %v", err)
	}
}

func TestParamsZeroCopyAndClone(t *testing.T) {
	n := smallNet(t)
	defer n.Close()
	p := n.Params()
	for i := len(p) - 10; i < len(p); i++ {
		p[i] = 0
	}
	p[len(p)-1] = 50 // last softmax bias: class 9 always wins
	d := synthetic(t, 4, 0)
	defer d.Close()
	x, _, _ := d.Batch(0, 4)
	defer x.Close()
	if got, _ := n.Predict(x); !reflect.DeepEqual(got, []int32{9, 9, 9, 9}) {
		t.Fatalf("got %v", got)
	}
	c, err := n.Clone()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Params()[0]++
	if c.Params()[0] == n.Params()[0] {
		t.Fatal("clone shares parameters")
	}
}

// Issue 16: misuse that used to free memory still in use.
func TestMisuseClosedAndBusy(t *testing.T) {
	train := synthetic(t, 50, 0)
	defer train.Close()

	// A layer of a closed network: used to read freed memory.
	n := smallNet(t)
	l := n.Layer(1)
	n.Close()
	if k, c := l.Kind(), l.ParamCount(); k != 0 || c != 0 {
		t.Fatalf("closed network's layer: kind %d, params %d", k, c)
	}
	if _, err := l.OutputShape([3]int32{1, 28, 28}); err == nil {
		t.Fatal("OutputShape on a closed network's layer succeeded")
	}
	x, _, err := train.Batch(0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Predict(x); err == nil {
		t.Fatal("Predict on a closed network succeeded")
	}

	// Close inside a training callback: deferred until Train returns.
	n = smallNet(t)
	opt, _ := NewSGD(0.1, 0)
	val := synthetic(t, 20, 50)
	var useErr error
	_, err = n.Train(opt, train, TrainOptions{Epochs: 2, Validation: val, OnEpoch: func(EpochReport) bool {
		if useErr == nil {
			_, useErr = n.Predict(x) // the network is busy
		}
		n.Close()
		opt.Close()
		val.Close()
		train.Close()
		return false
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(useErr, ErrState) {
		t.Fatalf("Predict inside Train: %v, want a StatusState error", useErr)
	}
	if n.ptr != nil || opt.ptr != nil || val.ptr != nil || train.ptr != nil {
		t.Fatal("deferred Close did not free after Train")
	}
}

func TestMisuseNulPath(t *testing.T) {
	n := smallNet(t)
	defer n.Close()
	dir := t.TempDir()
	if err := n.Save(filepath.Join(dir, "x\x00y")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Save with a NUL: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("Save with a NUL wrote %v", entries[0].Name())
	}
	if _, err := LoadNet("x\x00y"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("LoadNet with a NUL: %v", err)
	}
	if _, err := LoadMNIST("data\x00/mnist", false); !errors.Is(err, ErrInvalid) {
		t.Fatalf("LoadMNIST with a NUL: %v", err)
	}
	if _, err := LoadIDX("a", "b\x00"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("LoadIDX with a NUL: %v", err)
	}
}
