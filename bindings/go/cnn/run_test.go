package cnn

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// Forward, PredictProba, Backward, TrainStep, PredictDataset, SetThreads.

func argmax(row []float32) int32 {
	best := 0
	for i, v := range row {
		if v > row[best] {
			best = i
		}
	}
	return int32(best)
}

func TestForwardAndPredictProba(t *testing.T) {
	train := synthetic(t, 100, 0)
	defer train.Close()
	n := smallNet(t)
	defer n.Close()
	sgd := must(NewSGD(0.1, 0))
	defer sgd.Close()
	must(n.Train(sgd, train, TrainOptions{Epochs: 1}))
	x, _, err := train.Batch(0, 7)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()

	y := must(n.Forward(x, ModeInfer))
	defer y.Close()
	if s := y.Shape(); !reflect.DeepEqual(s, []int64{7, 10}) {
		t.Fatalf("forward shape %v", s)
	}
	proba := must(n.PredictProba(x))
	labels := must(n.Predict(x))
	if len(proba) != 7 {
		t.Fatalf("%d rows", len(proba))
	}
	for i, row := range proba {
		sum := 0.0
		for _, p := range row {
			sum += float64(p)
		}
		if len(row) != 10 || math.Abs(sum-1) > 1e-5 || argmax(row) != labels[i] {
			t.Fatalf("row %d: %v (sum %v), predicted %d", i, row, sum, labels[i])
		}
		if !reflect.DeepEqual(row, y.Data()[i*10:(i+1)*10]) {
			t.Fatalf("row %d differs from Forward's", i)
		}
	}
	proba[0][0] = 42 // Go memory: the next call is unaffected
	if again := must(n.PredictProba(x)); again[0][0] == 42 {
		t.Fatal("PredictProba rows share memory between calls")
	}

	// A network without softmax: raw outputs through Forward, no probabilities.
	raw := must(NewNet(1, 28, 28, 1))
	defer raw.Close()
	if err := raw.Add(must(NewConv2d(3, 5, Conv2dParams{}))); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.PredictProba(x); !errors.Is(err, ErrState) {
		t.Fatalf("PredictProba without softmax: %v", err)
	}
	out := must(raw.Forward(x, ModeInfer))
	defer out.Close()
	if s := out.Shape(); !reflect.DeepEqual(s, []int64{7, 3, 24, 24}) {
		t.Fatalf("conv output shape %v", s)
	}
	empty := must(NewNet(1, 28, 28, 1))
	defer empty.Close()
	if _, err := empty.Forward(x, ModeInfer); !errors.Is(err, ErrState) {
		t.Fatalf("Forward with no layers: %v", err)
	}

	// A closed or nil tensor is an error, not a panic.
	closed := must(NewTensor(2, 1, 28, 28))
	closed.Close()
	if _, err := n.Predict(closed); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Predict on a closed tensor: %v", err)
	}
	if _, err := n.Forward(nil, ModeInfer); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Forward on nil: %v", err)
	}
	if _, err := n.PredictProba(closed); !errors.Is(err, ErrInvalid) {
		t.Fatalf("PredictProba on a closed tensor: %v", err)
	}
	n.Close()
	if _, err := n.PredictProba(x); !errors.Is(err, ErrInvalid) {
		t.Fatalf("PredictProba on a closed network: %v", err)
	}
}

func TestBackwardAndTrainStep(t *testing.T) {
	d := synthetic(t, 20, 0)
	defer d.Close()
	x, labels, err := d.Batch(0, 20)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	n := smallNet(t)
	defer n.Close()
	if _, err := n.Backward(labels); !errors.Is(err, ErrState) {
		t.Fatalf("Backward before a training forward: %v", err)
	}
	y := must(n.Forward(x, ModeTrain))
	y.Close()
	if _, err := n.Backward(labels[:5]); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Backward with 5 labels for 20: %v", err)
	}
	cost := must(n.Backward(labels))
	if !(cost > 0) || math.IsInf(cost, 0) {
		t.Fatalf("cost %v", cost)
	}
	nonzero := 0
	for _, g := range n.Grads() {
		if g != 0 {
			nonzero++
		}
	}
	if nonzero == 0 {
		t.Fatal("Backward left every gradient 0")
	}
	must(n.Predict(x)) // an inference pass: Backward has nothing to work on
	if _, err := n.Backward(labels); !errors.Is(err, ErrState) {
		t.Fatalf("Backward after Predict: %v", err)
	}

	sgd := must(NewSGD(0.1, 0))
	defer sgd.Close()
	if _, err := n.TrainStep(sgd, x, labels[:3]); !errors.Is(err, ErrInvalid) {
		t.Fatalf("TrainStep with 3 labels for 20: %v", err)
	}
	first := must(n.TrainStep(sgd, x, labels))
	var last float64
	for i := 0; i < 20; i++ {
		last = must(n.TrainStep(sgd, x, labels))
	}
	if !(last < first/2) {
		t.Fatalf("20 steps on one batch: cost %v -> %v", first, last)
	}
}

func TestPredictDatasetAndThreads(t *testing.T) {
	d := synthetic(t, 50, 0)
	defer d.Close()
	n := smallNet(t)
	defer n.Close()
	x, _, err := d.Batch(0, 50)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	want := must(n.Predict(x))
	if got := must(n.PredictDataset(d, 16)); !reflect.DeepEqual(got, want) {
		t.Fatalf("PredictDataset %v, Predict %v", got, want)
	}
	one := must(n.Forward(x, ModeInfer))
	defer one.Close()
	if err := n.SetThreads(2); err != nil {
		t.Fatal(err)
	}
	two := must(n.Forward(x, ModeInfer))
	defer two.Close()
	for i, v := range two.Data() {
		if math.Abs(float64(v-one.Data()[i])) > 1e-5 {
			t.Fatalf("output %d: %v with 2 threads, %v with 1", i, v, one.Data()[i])
		}
	}
	for _, bad := range []int{0, -1, 257, 1<<32 + 1} {
		if err := n.SetThreads(bad); !errors.Is(err, ErrInvalid) {
			t.Fatalf("SetThreads(%d): %v", bad, err)
		}
	}
	if n.InputShape() != [3]int32{1, 28, 28} || n.ParamCount() != int64(len(n.Params())) {
		t.Fatalf("input %v, %d params", n.InputShape(), n.ParamCount())
	}
	before := append([]float32(nil), n.Params()...)
	if err := n.InitWeights(99); err != nil || reflect.DeepEqual(before, n.Params()) {
		t.Fatalf("InitWeights: %v, params unchanged: %v", err, reflect.DeepEqual(before, n.Params()))
	}
}

func TestLayerParamViews(t *testing.T) {
	conv := must(NewConv2d(4, 5, Conv2dParams{InChannels: 1}))
	w := must(conv.Param(Weights))
	if !reflect.DeepEqual(w.Shape, []int64{4, 1, 5, 5}) || len(w.Data) != 100 {
		t.Fatalf("conv weights %v, %d values", w.Shape, len(w.Data))
	}
	conv.Close()
	if _, err := conv.Param(Weights); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Param of a closed layer: %v", err)
	}
	pool := must(NewPool2d(PoolMax, 2))
	defer pool.Close()
	if v, err := pool.Param(Weights); v != nil || err != nil {
		t.Fatalf("pooling has no weights: %v %v", v, err)
	}
	if _, err := pool.Param(ParamKind(4)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("kind 4: %v", err)
	}

	n := smallNet(t)
	soft := n.Layer(2)
	// The E0716 shape of Rust's trap, in Go: a view straight off Layer(i).
	b := must(n.Layer(2).Param(Biases))
	sw := must(soft.Param(Weights))
	if !reflect.DeepEqual(b.Shape, []int64{10}) || !reflect.DeepEqual(sw.Shape, []int64{10, 16}) {
		t.Fatalf("softmax biases %v weights %v", b.Shape, sw.Shape)
	}
	// Zero-copy: the view is the network's memory (softmax's biases are
	// the last 10 parameters).
	for i := range b.Data {
		b.Data[i] = 0
	}
	b.Data[9] = 50
	if p := n.Params(); p[len(p)-1] != 50 {
		t.Fatal("writing the view did not change Params")
	}
	d := synthetic(t, 4, 0)
	defer d.Close()
	x, labels, err := d.Batch(0, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if got := must(n.Predict(x)); !reflect.DeepEqual(got, []int32{9, 9, 9, 9}) {
		t.Fatalf("got %v", got)
	}
	// The gradient views are the matching stretches of Grads.
	must(n.Forward(x, ModeTrain)).Close()
	must(n.Backward(labels))
	gb := must(n.Layer(2).Param(GradBiases))
	g := n.Grads()
	if !reflect.DeepEqual(gb.Data, g[len(g)-10:]) {
		t.Fatalf("GradBiases %v, end of Grads %v", gb.Data, g[len(g)-10:])
	}
	n.Close()
	if _, err := soft.Param(Weights); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Param of a closed network's layer: %v", err)
	}
}

func TestInitSchemes(t *testing.T) {
	allZero := func(l *Layer) bool {
		for _, v := range must(l.Param(Weights)).Data {
			if v != 0 {
				return false
			}
		}
		return true
	}
	soft := must(NewSoftmax(10, WithInFeatures(16)))
	defer soft.Close()
	if !allZero(soft) {
		t.Fatal("softmax starts at 0 by default (network3)")
	}
	glorot := must(NewSoftmax(10, WithInFeatures(16), WithInit(InitGlorot), WithSeed(3)))
	defer glorot.Close()
	limit := math.Sqrt(6.0 / 26)
	for _, v := range must(glorot.Param(Weights)).Data {
		if math.Abs(float64(v)) > limit {
			t.Fatalf("Glorot weight %v beyond %v", v, limit)
		}
	}
	if allZero(glorot) {
		t.Fatal("WithInit(InitGlorot) left the weights 0")
	}
	zero := must(NewDense(8, ReLU, 0, WithInFeatures(4), WithInit(InitZero)))
	defer zero.Close()
	if !allZero(zero) || must(zero.Param(Weights)).Shape[1] != 4 {
		t.Fatal("dense WithInit(InitZero)")
	}
	conv := must(NewConv2d(2, 3, Conv2dParams{InChannels: 1, Init: InitZero}))
	defer conv.Close()
	if !allZero(conv) {
		t.Fatal("conv Init: InitZero")
	}
	if _, err := NewDense(8, ReLU, 0, WithInit(Init(9))); !errors.Is(err, ErrInvalid) {
		t.Fatalf("init 9: %v", err)
	}
}

func TestDatasetGetLabelsAugment(t *testing.T) {
	d := synthetic(t, 12, 0)
	defer d.Close()
	labels := must(d.Labels())
	if !reflect.DeepEqual(labels, []int32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1}) {
		t.Fatalf("labels %v", labels)
	}
	pixels, label, err := d.Get(3)
	if err != nil || label != 3 || len(pixels) != 784 {
		t.Fatalf("Get(3): %d pixels, label %d, %v", len(pixels), label, err)
	}
	x, _, _ := d.Batch(3, 1)
	defer x.Close()
	if !reflect.DeepEqual(pixels, x.Data()) {
		t.Fatal("Get and Batch disagree")
	}
	if _, _, err := d.Get(12); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Get(12) of 12: %v", err)
	}

	same := must(d.Augment(AugmentOptions{}))
	defer same.Close()
	if p, _, _ := same.Get(3); !reflect.DeepEqual(p, pixels) {
		t.Fatal("the identity augmentation changed an image")
	}
	moved := must(d.Augment(AugmentOptions{ShiftX: [2]float32{3, 3}}))
	defer moved.Close()
	p, l, _ := moved.Get(3)
	// Shifted 3 pixels right: the source's column c is the result's c+3.
	for y := 0; y < 28; y++ {
		for c := 0; c < 25; c++ {
			if p[y*28+c+3] != pixels[y*28+c] {
				t.Fatalf("row %d column %d: %v, want %v", y, c+3, p[y*28+c+3], pixels[y*28+c])
			}
		}
	}
	if l != 3 || reflect.DeepEqual(p, pixels) {
		t.Fatal("shift did nothing")
	}
	if _, err := d.Augment(AugmentOptions{Scale: [2]float32{2, 1}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("scale min > max: %v", err)
	}
	if _, err := d.Augment(AugmentOptions{Probability: -1}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("probability -1: %v", err)
	}
	d.Close()
	if _, err := d.Labels(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Labels of a closed dataset: %v", err)
	}
}

func TestLoadMNISTSplits(t *testing.T) {
	dir := t.TempDir()
	idx := func(name string, magic uint32, dims []uint32, body []byte) {
		var b []byte
		for _, v := range append([]uint32{magic}, dims...) {
			b = append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
		}
		if err := os.WriteFile(filepath.Join(dir, name), append(b, body...), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []struct {
		prefix string
		n      int
	}{{"train", 3}, {"t10k", 2}} {
		idx(s.prefix+"-images-idx3-ubyte", 0x803, []uint32{uint32(s.n), 2, 3}, make([]byte, 6*s.n))
		idx(s.prefix+"-labels-idx1-ubyte", 0x801, []uint32{uint32(s.n)}, make([]byte, s.n))
	}
	train, test := must(LoadMNIST(dir, SplitTrain)), must(LoadMNIST(dir, SplitTest))
	defer train.Close()
	defer test.Close()
	if train.Len() != 3 || test.Len() != 2 || train.Shape() != [3]int32{1, 2, 3} {
		t.Fatalf("train %d, test %d, shape %v", train.Len(), test.Len(), train.Shape())
	}
	if _, err := LoadMNIST(dir, Split(2)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("split 2: %v", err)
	}
	if _, err := LoadMNIST(filepath.Join(dir, "none"), SplitTest); !errors.Is(err, ErrIO) {
		t.Fatalf("missing directory: %v", err)
	}
}

// SGD's momentum, classical and Nesterov, against cnn_sgd_params' formulas
// (network3's convention: the velocity carries the rate).
func TestSGDMomentumClosedForm(t *testing.T) {
	const eta, mu = 0.1, 0.9
	for _, nesterov := range []bool{false, true} {
		opts := []SGDOption{Momentum(mu)}
		if nesterov {
			opts = append(opts, Nesterov())
		}
		opt := must(NewSGD(eta, 0, opts...))
		w0, grads, got := runSteps(t, opt, 5)
		opt.Close()
		for i := range w0 {
			w, v := float64(w0[i]), 0.0
			for _, g := range grads {
				v = mu*v - eta*float64(g[i])
				if nesterov {
					w += mu*v - eta*float64(g[i])
				} else {
					w += v
				}
			}
			if math.Abs(float64(got[i])-w) > 1e-5*math.Max(1, math.Abs(w)) {
				t.Fatalf("nesterov %v: parameter %d: %v, want %v", nesterov, i, got[i], w)
			}
		}
	}
}

func TestTensorsFromValuesAndPixels(t *testing.T) {
	x := must(NewTensorFrom([]float32{1, 2, 3, 4, 5, 6}, 2, 3))
	defer x.Close()
	if !reflect.DeepEqual(x.Data(), []float32{1, 2, 3, 4, 5, 6}) || !reflect.DeepEqual(x.Shape(), []int64{2, 3}) {
		t.Fatalf("%v %v", x.Shape(), x.Data())
	}
	if _, err := NewTensorFrom([]float32{1, 2}, 2, 3); !errors.Is(err, ErrShape) {
		t.Fatalf("2 values for 6: %v", err)
	}
	// Raw pixels make the batch the dataset holding them makes.
	d := synthetic(t, 5, 0)
	defer d.Close()
	pixels := make([]byte, 0, 5*784)
	for i := 0; i < 5; i++ {
		p, _, _ := d.Get(i)
		for _, v := range p {
			pixels = append(pixels, byte(v*256))
		}
	}
	raw := must(NewImageBatch(pixels, 5, 1, 28, 28))
	defer raw.Close()
	batch, _, _ := d.Batch(0, 5)
	defer batch.Close()
	if !reflect.DeepEqual(raw.Data(), batch.Data()) {
		t.Fatal("NewImageBatch does not read bytes as the dataset does (byte / 256)")
	}
	if _, err := NewImageBatch(pixels[:100], 5, 1, 28, 28); !errors.Is(err, ErrInvalid) {
		t.Fatalf("short pixels: %v", err)
	}
	if _, err := NewImageBatch(nil, 0, 1, 28, 28); !errors.Is(err, ErrInvalid) {
		t.Fatalf("no images: %v", err)
	}
}
