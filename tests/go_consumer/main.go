// Builds, trains (under a context) and queries a small network through the
// module path github.com/libcnn/libcnn/bindings/go/cnn; exits non-zero on
// any error.
package main

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/libcnn/libcnn/bindings/go/cnn"
)

func must[T any](v T, err error) T {
	if err != nil {
		log.Fatal(err)
	}
	return v
}

func main() {
	// Ten classes, each a bright column at its own place.
	pixels, labels := make([]byte, 100*100), make([]byte, 100)
	for i := range labels {
		labels[i] = byte(i % 10)
		for y := 0; y < 10; y++ {
			pixels[i*100+y*10+i%10] = 255
		}
	}
	data := must(cnn.NewDataset(pixels, labels, 1, 10, 10))
	defer data.Close()
	net := must(cnn.NewNet(1, 10, 10, 1))
	defer net.Close()
	for _, l := range []*cnn.Layer{must(cnn.NewDense(32, cnn.ReLU, 0)), must(cnn.NewSoftmax(10))} {
		if err := net.Add(l); err != nil {
			log.Fatal(err)
		}
	}
	opt := must(cnn.NewSGD(0.5, 0, cnn.Momentum(0.5)))
	defer opt.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	must(net.TrainContext(ctx, opt, data, cnn.TrainOptions{Epochs: 20}))
	acc, _, err := net.Evaluate(data, 100)
	if err != nil {
		log.Fatal(err)
	}
	x, _, err := data.Batch(0, 1)
	if err != nil {
		log.Fatal(err)
	}
	defer x.Close()
	proba := must(net.PredictProba(x))
	fmt.Printf("go consumer: libcnn %s, accuracy %.2f, p(label 0 | image 0) = %.3f\n",
		cnn.Version(), acc, proba[0][0])
	if acc < 0.9 {
		log.Fatalf("accuracy %.2f: did not learn", acc)
	}
}
