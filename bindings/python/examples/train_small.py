"""Trains the two-convolution network of Nielsen's chapter 6 on synthetic
digits (MNIST_DIR=dir uses MNIST), then predicts and saves.
Run: PYTHONPATH=bindings/python python3 train_small.py [model-path]
"""
import os
import sys

import cnn


def synthetic(count, first):
    """Synthetic digits: the same bytes as every other language's example."""
    pixels, labels = bytearray(count * 784), bytearray(count)
    for n in range(count):
        i = first + n
        label = i % 10
        top, left = 3 + label // 5 * 13 + i // 10 % 3, 1 + label % 5 * 5 + i // 30 % 3
        for y in range(top, top + 5):
            start = n * 784 + y * 28 + left
            pixels[start:start + 5] = b"\xff" * 5
        labels[n] = label
    return cnn.Dataset.create(pixels, labels, (1, 28, 28))


def main():
    mnist = os.environ.get("MNIST_DIR")
    if mnist:
        train = cnn.Dataset.load_mnist(mnist, "train").slice(0, 1000)
        test = cnn.Dataset.load_mnist(mnist, "test").slice(0, 500)
    else:
        train, test = synthetic(1000, 0), synthetic(500, 1000)

    net = cnn.Net((1, 28, 28), seed=42)
    net.add(cnn.conv2d(20, 5, activation="relu", pool="max"))
    net.add(cnn.conv2d(40, 5, activation="relu", pool="max"))
    net.add(cnn.dense(100, activation="relu"))
    net.add(cnn.softmax(10))

    try:
        net.train(train, cnn.SGD(0.03, l2=0.1), epochs=2,
                  on_epoch=lambda r: print("epoch %d: cost %.4f" % (r.epoch, r.train_cost)))
    except cnn.CnnError as e:  # e.status, e.name and the library's message
        sys.exit("training failed: %s (%s)" % (e, e.name))
    accuracy, _ = net.evaluate(test, batch=100)
    print("test accuracy: %.4f" % accuracy)

    x, _ = test.batch(0, 20)
    print("predictions:", net.predict(x))
    if len(sys.argv) > 1:
        net.save(sys.argv[1])


if __name__ == "__main__":
    main()
