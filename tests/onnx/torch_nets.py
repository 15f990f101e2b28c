#!/usr/bin/python3
"""PyTorch side of the ONNX import test (tests/onnx/run.sh import).

    /usr/bin/python3 tests/onnx/torch_nets.py WORK MNIST_DIR

Builds two networks in PyTorch's own layers and conventions, trains each
for a few hundred steps (MNIST's first 2,000 training images, or
bench/pytorch_ref.py's synthetic ones when MNIST_DIR has none), exports
them with torch.onnx.export and writes PyTorch's probabilities on the
inputs in WORK/images.f32 (written by onnx_tool, the same 1,000 the export
test uses):

- w2: row 6's network W2 exactly as bench/pytorch_ref.py builds it (conv 20
  5x5, max pool 2, ReLU, conv 40 5x5, max pool 2, ReLU, Flatten, Linear 100,
  ReLU, Linear 10), ending in LogSoftmax as PyTorch's MNIST example does;
  torch's default opset (14 in 1.13), BatchNorm-free, bias folding as
  exported.
- modern: Conv+bias, BatchNorm2d, ReLU, MaxPool, twice; Flatten; Linear,
  ReLU, Dropout, Linear, Softmax.  Opset 13, exported with
  TrainingMode.PRESERVE so BatchNormalization stays a node (torch folds it
  into the Conv otherwise).

- mixed: Conv (padding 2) and tanh, then AveragePool, x.view(-1, n),
  Linear and sigmoid, Linear, Softmax; opset 11.

Writes WORK/{w2,modern,mixed}.onnx and WORK/{w2,modern,mixed}.torch.f32
(probabilities, 1,000 x 10 float32).
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))
from pytorch_ref import build, load_mnist, synthetic  # noqa: E402


def w2():
    return nn.Sequential(*build("W2"), nn.LogSoftmax(dim=1))


def modern():
    torch.manual_seed(7)
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Dropout(0.3),
        nn.Linear(64, 10), nn.Softmax(dim=1))


class Mixed(nn.Module):
    """Tanh, average pooling, x.view(-1, n) (a Reshape by a constant shape),
    sigmoid: the chapter's other choices, written the way PyTorch code often
    writes them."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(11)
        self.conv = nn.Conv2d(1, 8, 5, stride=1, padding=2)
        self.fc = nn.Linear(8 * 14 * 14, 32)
        self.out = nn.Linear(32, 10)

    def forward(self, x):
        x = nn.functional.avg_pool2d(torch.tanh(self.conv(x)), 2)
        x = torch.sigmoid(self.fc(x.view(-1, 8 * 14 * 14)))
        return nn.functional.softmax(self.out(x), dim=1)


def train(model, xs, ys, log_probs):
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for i in range(0, len(xs), 10):
        out = model(xs[i:i + 10])
        logp = out if log_probs else torch.log(out.clamp_min(1e-30))
        loss = nn.functional.nll_loss(logp, ys[i:i + 10])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()


def main(work, mnist):
    torch.set_num_threads(1)
    data = load_mnist(mnist, 2000) if mnist else None
    kind = "MNIST" if data is not None else "synthetic"
    pix, lab = data if data is not None else synthetic(2000)
    xs = torch.from_numpy(pix.astype(np.float32) / 256.0)
    ys = torch.from_numpy(lab.astype(np.int64))
    images = np.fromfile(os.path.join(work, "images.f32"), dtype="<f4").reshape(-1, 1, 28, 28)
    test = torch.from_numpy(images.copy())
    for name, make, log_probs, opset, mode in (
            ("w2", w2, True, None, torch.onnx.TrainingMode.EVAL),
            ("modern", modern, False, 13, torch.onnx.TrainingMode.PRESERVE),
            ("mixed", Mixed, False, 11, torch.onnx.TrainingMode.EVAL)):
        model = make()
        train(model, xs, ys, log_probs)
        path = os.path.join(work, name + ".onnx")
        kwargs = {} if opset is None else {"opset_version": opset}
        with torch.no_grad():
            torch.onnx.export(model, (test[:2],), path, input_names=["x"], output_names=["y"],
                              dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
                              training=mode, **kwargs)
            out = model(test)
            probs = out.exp() if log_probs else out
        probs.numpy().astype("<f4").tofile(os.path.join(work, name + ".torch.f32"))
        import onnx
        ops = [n.op_type for n in onnx.load(path).graph.node]
        print(f"torch_nets: {name} ({kind} data, torch {torch.__version__}): {' '.join(ops)}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: torch_nets.py WORK MNIST_DIR")
    main(sys.argv[1], sys.argv[2])
