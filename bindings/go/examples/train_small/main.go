// Trains the two-convolution network of Nielsen's chapter 6 on synthetic
// digits (MNIST_DIR=dir uses MNIST), then predicts and saves.  Ctrl-C stops
// training cleanly (a context); with a model path, a checkpoint next to it
// lets a second run continue where the first stopped.
// Run: go run ./examples/train_small [model-path]
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/signal"

	"github.com/libcnn/libcnn/bindings/go/cnn"
)

// synthetic digits: the same bytes as every other language's example.
func synthetic(count, first int) (*cnn.Dataset, error) {
	pixels, labels := make([]byte, count*784), make([]byte, count)
	for n := 0; n < count; n++ {
		i, label := first+n, (first+n)%10
		top, left := 3+label/5*13+i/10%3, 1+label%5*5+i/30%3
		for y := top; y < top+5; y++ {
			copy(pixels[n*784+y*28+left:], []byte{255, 255, 255, 255, 255})
		}
		labels[n] = byte(label)
	}
	return cnn.NewDataset(pixels, labels, 1, 28, 28)
}

func must[T any](v T, err error) T {
	if err != nil {
		log.Fatal(err) // *cnn.Error: status name and the library's message
	}
	return v
}

func argmax(row []float32) int {
	best := 0
	for i, p := range row {
		if p > row[best] {
			best = i
		}
	}
	return best
}

func main() {
	var train, test *cnn.Dataset
	if dir := os.Getenv("MNIST_DIR"); dir != "" {
		train = must(must(cnn.LoadMNIST(dir, cnn.SplitTrain)).Slice(0, 1000))
		test = must(must(cnn.LoadMNIST(dir, cnn.SplitTest)).Slice(0, 500))
	} else {
		train, test = must(synthetic(1000, 0)), must(synthetic(500, 1000))
	}
	defer train.Close()
	defer test.Close()

	net := must(cnn.NewNet(1, 28, 28, 42))
	defer net.Close()
	conv := cnn.Conv2dParams{Activation: cnn.ReLU, Pool: cnn.PoolMax}
	for _, l := range []*cnn.Layer{
		must(cnn.NewConv2d(20, 5, conv)),
		must(cnn.NewConv2d(40, 5, conv)),
		must(cnn.NewDense(100, cnn.ReLU, 0)),
		must(cnn.NewSoftmax(10)),
	} {
		if err := net.Add(l); err != nil {
			log.Fatal(err)
		}
	}

	if err := net.SetThreads(2); err != nil {
		log.Fatal(err)
	}
	sgd := must(cnn.NewSGD(0.03, 0.1))
	defer sgd.Close()
	options := cnn.TrainOptions{Epochs: 2, OnEpoch: func(r cnn.EpochReport) bool {
		fmt.Printf("epoch %d: cost %.4f\n", r.Epoch, r.TrainCost)
		return false // keep going
	}}
	if len(os.Args) > 1 {
		options.CheckpointPath = os.Args[1] + ".ckpt"
		if done, err := cnn.CheckpointInfo(options.CheckpointPath); err == nil && done < options.Epochs {
			fmt.Printf("resuming after epoch %d\n", done)
			options.ResumePath = options.CheckpointPath
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if _, err := net.TrainContext(ctx, sgd, train, options); errors.Is(err, context.Canceled) {
		fmt.Println("interrupted; the checkpoint holds the last complete epoch")
		return
	} else if err != nil {
		log.Fatal(err)
	}
	acc, _, err := net.Evaluate(test, 100)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("test accuracy: %.4f\n", acc)

	x, _, err := test.Batch(0, 20)
	if err != nil {
		log.Fatal(err)
	}
	defer x.Close()
	fmt.Println("predictions:", must(net.Predict(x)))
	proba := must(net.PredictProba(x)) // one row of 10 class probabilities per image
	fmt.Printf("first image: p(%d) = %.3f\n", argmax(proba[0]), proba[0][argmax(proba[0])])
	w := must(net.Layer(0).Param(cnn.Weights)) // zero-copy, valid until the next Add or Close
	fmt.Println("first layer's weights:", w.Shape)
	if len(os.Args) > 1 {
		if err := net.Save(os.Args[1]); err != nil {
			log.Fatal(err)
		}
	}
}
