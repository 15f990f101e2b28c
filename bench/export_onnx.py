#!/usr/bin/python3
"""Exports pytorch_ref.py's networks (W1, W2, W3) to ONNX for the ONNX
Runtime reference, bench/ort/ort_ref.mjs.  Inference only: the models are
put in eval mode (dropout becomes the identity) and take a float tensor of
shape (N, 1, 28, 28), N free (dynamic batch axis), giving the (N, 10)
logits of the last layer (no softmax: the benchmarks only take the argmax).

Run with Debian's interpreter, which has python3-torch and python3-onnx:
    /usr/bin/python3 bench/export_onnx.py [--out build-ort/models] [--nets W1,W2,W3]
                                          [--opset 13]
Writes DIR/W1.onnx, DIR/W2.onnx, DIR/W3.onnx (and checks each with
onnx.checker when python3-onnx is importable).

The weights are build(net)'s, same seed as pytorch_ref.py; for timing only
the shapes matter, but the same weights make the outputs comparable.
"""
import argparse
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from pytorch_ref import LAYERS, build  # noqa: E402

DEFAULT_OUT = os.path.join(os.path.dirname(HERE), "build-ort", "models")


def export(net, path, opset):
    model = build(net).eval()
    x = torch.zeros(2, 1, 28, 28)
    with torch.no_grad():
        torch.onnx.export(model, (x,), path, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                          opset_version=opset, do_constant_folding=True)
    try:
        import onnx
    except ImportError:
        return
    m = onnx.load(path)
    onnx.checker.check_model(m)
    return [n.op_type for n in m.graph.node]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT, help="output directory (default %(default)s)")
    ap.add_argument("--nets", default="W1,W2,W3")
    ap.add_argument("--opset", type=int, default=13,
                    help="ONNX opset (default %(default)s; any opset torch and ORT both support)")
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    for net in a.nets.split(","):
        if net not in LAYERS:
            ap.error("unknown net %r" % net)
        path = os.path.join(a.out, net + ".onnx")
        ops = export(net, path, a.opset)
        print("export_onnx: %s -> %s (opset %d, torch %s)%s"
              % (net, path, a.opset, torch.__version__,
                 ": " + " ".join(ops) if ops else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
