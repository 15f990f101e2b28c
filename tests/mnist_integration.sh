#!/bin/sh
# Real-data integration test of libcnn through cnn-mnist: the two-conv-layer
# ReLU network of chapter 6 (row 6's architecture, as cnn-mnist's `quick`
# experiment: He initialisation, lambda 0.1), trained for one epoch on the
# first 10,000 training images, must classify at least 96% of the 10,000
# test images correctly.
#
# Why mini-batches of 4 at eta 0.05 and not the chapter's 10: one epoch of
# 10,000 images is only 1,000 steps of 10, and the last iterate then lands
# at 95.6-96.9% depending on seed (measured), too close to 96% for a test
# that must not flake.  With batches of 4 (2,500 steps) it reached
# 96.38-97.24% over seeds 0-7 (seed 0, used here: 97.00%), in about 5 s.
#
# usage: mnist_integration.sh CNN_MNIST_EXECUTABLE [MNIST_DIR]
# MNIST_DIR defaults to $CNN_MNIST_DIR, then data/mnist.  Exits 77 (meson's
# "skipped") when the data has not been fetched (scripts/fetch-mnist).
set -u

exe=${1:?usage: mnist_integration.sh CNN_MNIST_EXECUTABLE [MNIST_DIR]}
dir=${2:-${CNN_MNIST_DIR:-data/mnist}}

for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    if [ ! -f "$dir/$f" ] && [ ! -f "$dir/$f.gz" ]; then
        echo "SKIP: $dir/$f not found (run scripts/fetch-mnist)"
        exit 77
    fi
done

# --require-accuracy makes cnn-mnist itself exit 3 when the test accuracy at
# the best validation epoch (here the only epoch) is below 96%.
"$exe" quick --epochs 1 --train-size 10000 --batch 4 --eta 0.05 --seed 0 \
    --data "$dir" --require-accuracy 0.96
rc=$?
if [ $rc -ne 0 ]; then
    echo "FAIL: cnn-mnist exited with status $rc"
    exit 1
fi
echo "PASS"
