package cnn

import (
	"errors"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
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
	paths := map[string]int{"generic": 0, "avx2": 1, "avx512": 2}
	i, ok1 := paths[ISA()]
	b, ok2 := paths[ISABest()]
	if !ok1 || !ok2 || i > b {
		t.Fatalf("isa %q best %q", ISA(), ISABest())
	}
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
	onnxPath := filepath.Join(t.TempDir(), "m.onnx")
	if err := n.ExportONNX(onnxPath); err == nil {
		fromONNX, err := ImportONNX(onnxPath)
		if err != nil {
			t.Fatal(err)
		}
		defer fromONNX.Close()
		if got, _ := fromONNX.Predict(x); !reflect.DeepEqual(got, want) {
			t.Fatalf("ONNX copy predicts %v, want %v", got, want)
		}
	} else if !errors.Is(err, ErrNotSup) {
		t.Fatal(err)
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
	if _, err := LoadMNIST("data\x00/mnist", SplitTrain); !errors.Is(err, ErrInvalid) {
		t.Fatalf("LoadMNIST with a NUL: %v", err)
	}
	if _, err := LoadIDX("a", "b\x00"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("LoadIDX with a NUL: %v", err)
	}
}

// syntheticSizes is like synthetic, but the class is the square's side
// (2 + 2*label pixels) rather than its position: what a network ending in
// global average pooling can see (it forgets where things are).
func syntheticSizes(t *testing.T, count, first int) *Dataset {
	pixels, labels := make([]byte, count*784), make([]byte, count)
	for n := 0; n < count; n++ {
		i, label := first+n, (first+n)%10
		side := 2 + 2*label
		top, left := 1+i/10%5, 2+i/50%5
		for y := top; y < top+side; y++ {
			row := pixels[n*784+y*28+left:]
			for x := 0; x < side; x++ {
				row[x] = 255
			}
		}
		labels[n] = byte(label)
	}
	d, err := NewDataset(pixels, labels, 1, 28, 28)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// must unwraps a result; an error panics, failing the test.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// bnNet: conv (same padding, the default sigmoid: Conv2dParams cannot ask
// for identity) + batch norm + relu + global average pooling + dense + batch
// norm + softmax.
func bnNet(t *testing.T, seed uint64) *Net {
	n := must(NewNet(1, 28, 28, seed))
	for _, l := range []*Layer{
		must(NewConv2d(8, 5, Conv2dParams{SamePadding: true})),
		must(NewBatchNorm(0, 0)),
		must(NewActivation(ReLU)),
		must(NewGlobalAvgPool()),
		must(NewDense(16, Identity, 0)),
		must(NewBatchNorm(0.2, 1e-4)),
		must(NewSoftmax(10)),
	} {
		if err := n.Add(l); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

func TestBatchNormGlobalAvgPoolSamePadding(t *testing.T) {
	bn := must(NewBatchNorm(0, 0))
	defer bn.Close()
	if bn.Kind() != KindBatchNorm {
		t.Fatalf("kind %d", bn.Kind())
	}
	if s, err := bn.Summary(); err != nil || !strings.Contains(s, "batchnorm") {
		t.Fatalf("summary %q %v", s, err)
	}
	if _, err := NewBatchNorm(1.5, 0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("momentum 1.5: %v", err)
	}
	if _, err := NewBatchNorm(0, -1); !errors.Is(err, ErrInvalid) {
		t.Fatalf("eps -1: %v", err)
	}
	gap := must(NewGlobalAvgPool())
	defer gap.Close()
	if s, err := gap.OutputShape([3]int32{5, 7, 3}); err != nil || s != [3]int32{5, 1, 1} ||
		gap.Kind() != KindGlobalAvg || gap.ParamCount() != 0 {
		t.Fatalf("global avg pool: %v %v kind %d", s, err, gap.Kind())
	}
	for _, c := range []struct {
		kernel int32
		p      Conv2dParams
		in     [3]int32
		want   [3]int32
	}{
		{5, Conv2dParams{InChannels: 1, SamePadding: true}, [3]int32{1, 28, 28}, [3]int32{2, 28, 28}},
		{3, Conv2dParams{InChannels: 1, SamePadding: true, StrideH: 2, StrideW: 2}, [3]int32{1, 7, 7}, [3]int32{2, 4, 4}},
		{3, Conv2dParams{InChannels: 1, PadH: 1, PadW: 1}, [3]int32{1, 7, 7}, [3]int32{2, 7, 7}},
		{3, Conv2dParams{InChannels: 1}, [3]int32{1, 7, 7}, [3]int32{2, 5, 5}},
	} {
		l := must(NewConv2d(2, c.kernel, c.p))
		if s, err := l.OutputShape(c.in); err != nil || s != c.want {
			t.Fatalf("%+v: %v %v, want %v", c.p, s, err, c.want)
		}
		l.Close()
	}
	if _, err := NewConv2d(2, 4, Conv2dParams{SamePadding: true}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("even kernel with same padding: %v", err)
	}
}

func TestBatchNormNetTrainsWithAdam(t *testing.T) {
	train, test := syntheticSizes(t, 200, 0), syntheticSizes(t, 100, 200)
	defer train.Close()
	defer test.Close()
	n := bnNet(t, 1)
	defer n.Close()
	adam := must(NewAdam(0.03))
	defer adam.Close()
	var costs []float64
	res, err := n.Train(adam, train, TrainOptions{Epochs: 8, BatchSize: 20, Shuffle: true, Seed: 7,
		Schedule: ScheduleCosine, Test: test,
		OnEpoch: func(r EpochReport) bool { costs = append(costs, r.TrainCost); return false }})
	if err != nil || res.EpochsRun != 8 {
		t.Fatalf("train: %v %+v", err, res)
	}
	acc, _, err := n.Evaluate(test, 50)
	if err != nil || costs[len(costs)-1] >= costs[0] || acc <= 0.3 {
		t.Fatalf("accuracy %v (chance 0.1), costs %v, %v", acc, costs, err)
	}
}

// adamReference is Adam by hand, in float64: w after len(grads) steps.
func adamReference(w0 []float32, grads [][]float32, lr, wd float64, decoupled bool) []float64 {
	b1, b2, eps := 0.9, 0.999, 1e-8
	w := make([]float64, len(w0))
	for i, v := range w0 {
		w[i] = float64(v)
	}
	m, v := make([]float64, len(w)), make([]float64, len(w))
	for s, g := range grads {
		t := float64(s + 1)
		for i := range w {
			gi := float64(g[i])
			if decoupled {
				w[i] *= 1 - lr*wd
			} else {
				gi += wd * w[i]
			}
			m[i] = b1*m[i] + (1-b1)*gi
			v[i] = b2*v[i] + (1-b2)*gi*gi
			mhat, vhat := m[i]/(1-math.Pow(b1, t)), v[i]/(1-math.Pow(b2, t))
			w[i] -= lr * mhat / (math.Sqrt(vhat) + eps)
		}
	}
	return w
}

// runSteps runs steps updates of opt on hand-set gradients of a tiny net.
func runSteps(t *testing.T, opt *Optimizer, steps int) (w0 []float32, grads [][]float32, w []float32) {
	n := must(NewNet(1, 2, 2, 3))
	defer n.Close()
	if err := n.Add(must(NewDense(3, Sigmoid, 0))); err != nil {
		t.Fatal(err)
	}
	if err := n.Add(must(NewSoftmax(2))); err != nil {
		t.Fatal(err)
	}
	w0 = append([]float32(nil), n.Params()...)
	rng := rand.New(rand.NewSource(100))
	for s := 0; s < steps; s++ {
		g := n.Grads()
		for i := range g {
			g[i] = rng.Float32()*2 - 1
		}
		grads = append(grads, append([]float32(nil), g...))
		if err := opt.Step(n); err != nil {
			t.Fatal(err)
		}
	}
	return w0, grads, append([]float32(nil), n.Params()...)
}

func TestAdamClosedForm(t *testing.T) {
	for _, c := range []struct {
		wd        float32
		decoupled bool
	}{{0, false}, {0.3, false}, {0.3, true}} {
		var opt *Optimizer
		if c.decoupled {
			opt = must(NewAdamW(0.01, c.wd))
		} else {
			opt = must(NewAdam(0.01, WeightDecay(c.wd)))
		}
		w0, grads, got := runSteps(t, opt, 5)
		opt.Close()
		want := adamReference(w0, grads, float64(float32(0.01)), float64(c.wd), c.decoupled)
		if reflect.DeepEqual(got, w0) {
			t.Fatalf("%+v: no update", c)
		}
		for i := range got {
			if math.Abs(float64(got[i])-want[i]) > 2e-6*math.Max(1, math.Abs(want[i])) {
				t.Fatalf("%+v: parameter %d: %v, want %v", c, i, got[i], want[i])
			}
		}
	}
	if _, err := NewAdam(0.001, Betas(1, 0.999)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("beta1 1: %v", err)
	}
	if _, err := NewAdamW(0.001, -1); !errors.Is(err, ErrInvalid) {
		t.Fatalf("wd -1: %v", err)
	}
	if _, err := NewAdam(0.001, Epsilon(0)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("eps 0: %v", err)
	}
}

func TestNesterovAndLearningRate(t *testing.T) {
	classical := must(NewSGD(0.1, 0, Momentum(0.9)))
	defer classical.Close()
	nesterov := must(NewSGD(0.1, 0, Momentum(0.9), Nesterov()))
	defer nesterov.Close()
	_, _, a := runSteps(t, classical, 5)
	_, _, b := runSteps(t, nesterov, 5)
	differ := false
	for i := range a {
		differ = differ || math.Abs(float64(a[i]-b[i])) > 1e-2
	}
	if !differ {
		t.Fatal("Nesterov made no difference")
	}
	if _, err := NewSGD(0.1, 0, Nesterov()); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Nesterov without momentum: %v", err)
	}

	sgd := must(NewSGD(0.5, 0))
	if sgd.LearningRate() != 0.5 {
		t.Fatalf("rate %v", sgd.LearningRate())
	}
	if err := sgd.SetLearningRate(0.25); err != nil || sgd.LearningRate() != 0.25 {
		t.Fatalf("set: %v %v", err, sgd.LearningRate())
	}
	if err := sgd.SetLearningRate(0); !errors.Is(err, ErrInvalid) || sgd.LearningRate() != 0.25 {
		t.Fatalf("set 0: %v %v", err, sgd.LearningRate())
	}
	sgd.Close()
	if err := sgd.SetLearningRate(0.1); !errors.Is(err, ErrInvalid) || sgd.LearningRate() != 0 {
		t.Fatalf("closed optimizer: %v %v", err, sgd.LearningRate())
	}
	adam := must(NewAdam(0.001))
	defer adam.Close()
	if err := adam.SetLearningRate(0.002); err != nil || adam.LearningRate() != 0.002 {
		t.Fatalf("adam: %v %v", err, adam.LearningRate())
	}
	// Twice the rate, twice the first step (|step| = lr where |g| >> eps).
	w0, _, w := runSteps(t, adam, 1)
	moved := 0.0
	for i := range w {
		moved = math.Max(moved, math.Abs(float64(w[i]-w0[i])))
	}
	if math.Abs(moved-0.002) > 1e-5 {
		t.Fatalf("largest step %v", moved)
	}
}

func TestSchedules(t *testing.T) {
	r0 := float32(0.2)
	step := TrainOptions{Schedule: ScheduleStep, ScheduleGamma: 0.5, ScheduleStep: 30}
	if got := step.ScheduleRate(r0, 60, 100, 25); got != r0*0.5*0.5 {
		t.Fatalf("step: %v", got)
	}
	cosine := TrainOptions{Schedule: ScheduleCosine}
	for _, s := range []int64{0, 13, 99} {
		want := float32(float64(r0) * 0.5 * (1 + math.Cos(math.Pi*float64(s)/100)))
		if got := cosine.ScheduleRate(r0, s, 100, 25); got != want {
			t.Fatalf("cosine at %d: %v, want %v", s, got, want)
		}
	}
	if got := (TrainOptions{}).ScheduleRate(r0, 10, 100, 25); got != r0 {
		t.Fatalf("constant: %v", got)
	}
	if got := (TrainOptions{Schedule: ScheduleOneCycle}).ScheduleRate(r0, 0, 100, 25); math.Abs(float64(got)-0.2*0.04) > 1e-7 {
		t.Fatalf("onecycle start: %v", got)
	}

	train := synthetic(t, 40, 0)
	defer train.Close()
	n := must(NewNet(1, 28, 28, 1))
	defer n.Close()
	n.Add(must(NewDense(8, ReLU, 0)))
	n.Add(must(NewSoftmax(10)))
	opt := must(NewAdamW(0.01, 0.01))
	defer opt.Close()
	o := TrainOptions{Epochs: 2, BatchSize: 10, Schedule: ScheduleOneCycle, WarmupFraction: 0.25}
	var seen []float32
	var setErr error
	o.OnEpoch = func(EpochReport) bool {
		seen = append(seen, opt.LearningRate()) // reading is fine mid-run
		setErr = opt.SetLearningRate(0.5)       // changing it is not: the optimizer is busy
		return false
	}
	res, err := n.Train(opt, train, o)
	if err != nil || res.EpochsRun != 2 || math.IsNaN(res.FinalTrainCost) {
		t.Fatalf("train: %v %+v", err, res)
	}
	last := o.ScheduleRate(0.01, 7, 8, 4)
	if opt.LearningRate() != last || len(seen) != 2 || seen[1] != last {
		t.Fatalf("rate %v (seen in callbacks %v), want %v", opt.LearningRate(), seen, last)
	}
	if !errors.Is(setErr, ErrState) {
		t.Fatalf("SetLearningRate inside Train: %v, want a StatusState error", setErr)
	}
	o.OnEpoch = nil
	o.WarmupFraction = 1
	if _, err := n.Train(opt, train, o); !errors.Is(err, ErrInvalid) {
		t.Fatalf("warmup 1: %v", err)
	}
}

func TestBatchNormSaveLoadSummary(t *testing.T) {
	train := synthetic(t, 40, 0)
	defer train.Close()
	n := bnNet(t, 1)
	defer n.Close()
	adam := must(NewAdam(0.01))
	defer adam.Close()
	if _, err := n.Train(adam, train, TrainOptions{Epochs: 1, BatchSize: 8}); err != nil {
		t.Fatal(err)
	}
	x, _, err := train.Batch(0, 20)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	want := must(n.Predict(x))
	path := filepath.Join(t.TempDir(), "bn.cnn")
	if err := n.Save(path); err != nil {
		t.Fatal(err)
	}
	loaded := must(LoadNet(path))
	defer loaded.Close()
	if got := must(loaded.Predict(x)); !reflect.DeepEqual(got, want) {
		t.Fatalf("loaded predicts %v, want %v", got, want)
	}
	b := must(n.Bytes())
	again := must(NetFromBytes(b))
	defer again.Close()
	if got := must(again.Predict(x)); !reflect.DeepEqual(got, want) {
		t.Fatalf("from bytes predicts %v, want %v", got, want)
	}
	if b2 := must(again.Bytes()); !reflect.DeepEqual(b2, b) {
		t.Fatal("bytes differ after a round trip (running statistics lost?)")
	}
	s := must(n.Summary())
	if !strings.Contains(s, "batchnorm") || strings.Count(s, "\n") != 1+n.Len() {
		t.Fatalf("summary:\n%s", s)
	}
	if s2 := must(loaded.Summary()); s2 != s {
		t.Fatalf("loaded summary:\n%s\nwant:\n%s", s2, s)
	}
	// A one-example batch works at inference (running statistics).
	x1, _, _ := train.Batch(0, 1)
	defer x1.Close()
	if got, err := n.Predict(x1); err != nil || len(got) != 1 {
		t.Fatalf("batch of one: %v %v", got, err)
	}
	n.Close()
	if _, err := n.Summary(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Summary on a closed network: %v", err)
	}
}
