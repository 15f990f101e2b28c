#!/usr/bin/python3
"""Graphs libcnn cannot represent (tests/onnx/run.sh refusals).

    /usr/bin/python3 tests/onnx/refusals.py WORK

Writes small valid ONNX models (each passes onnx.checker) built with
onnx.helper, and WORK/expected.tsv: one line per model, the file name and a
text the import's error message must contain.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(5)


def const(name, shape, dtype=np.float32):
    return numpy_helper.from_array(RNG.standard_normal(shape).astype(dtype), name)


def model(nodes, inits, in_shape=(None, 1, 8, 8), in_type=TensorProto.FLOAT,
          out_rank=4, opset=13):
    dims = ["N" if d is None else d for d in in_shape]
    x = helper.make_tensor_value_info("x", in_type, dims)
    y = helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, [None] * out_rank)
    g = helper.make_graph(nodes, "refusal", [x], [y], initializer=inits)
    m = helper.make_model(g, producer_name="refusals.py",
                          opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(m)
    return m


def conv(name, inp, out, w, b=None, **attrs):
    ins = [inp, w] + ([b] if b else [])
    return helper.make_node("Conv", ins, [out], name=name, **attrs)


CASES = []


def case(fname, text):
    def reg(fn):
        CASES.append((fname, text, fn))
        return fn
    return reg


@case("dilation.onnx", "node 0 'Conv_0' (Conv): dilations 2x2 not supported")
def _dilation():
    return model([conv("Conv_0", "x", "y", "w", "b", dilations=[2, 2])],
                 [const("w", (4, 1, 3, 3)), const("b", (4,))])


@case("groups.onnx", "group 2 not supported")
def _groups():
    return model([conv("Conv_0", "x", "y", "w", group=2)], [const("w", (4, 1, 3, 3))],
                 in_shape=(None, 2, 8, 8))


@case("unknown_op.onnx", "node 1 'act' (LeakyRelu): op 'LeakyRelu' not supported")
def _unknown():
    return model([conv("c", "x", "h", "w", "b"),
                  helper.make_node("LeakyRelu", ["h"], ["y"], name="act", alpha=0.1)],
                 [const("w", (4, 1, 3, 3)), const("b", (4,))])


@case("double_weights.onnx", "is float64, not float32")
def _double():
    return model([helper.make_node("Flatten", ["x"], ["f"], name="flat"),
                  helper.make_node("MatMul", ["f", "w"], ["y"], name="mm")],
                 [const("w", (64, 10), np.float64)], out_rank=2)


@case("half_input.onnx", "input 'x' is float16, not float32")
def _half():
    return model([helper.make_node("Relu", ["x"], ["y"], name="r")], [],
                 in_type=TensorProto.FLOAT16)


@case("dynamic_spatial.onnx", "dynamic dimension 'H' at axis 2")
def _dynamic():
    return model([conv("c", "x", "y", "w", "b")], [const("w", (4, 1, 3, 3)), const("b", (4,))],
                 in_shape=(None, 1, "H", "W"))


@case("l2_after_bias.onnx", "an L2 pool (LpPool) after a bias")
def _l2_bias():
    return model([conv("c", "x", "h", "w", "b"),
                  helper.make_node("LpPool", ["h"], ["y"], name="pool", kernel_shape=[2, 2],
                                   strides=[2, 2], p=2)],
                 [const("w", (4, 1, 3, 3)), const("b", (4,))])


@case("asymmetric_pads.onnx", "asymmetric pads 0,0,1,1 not supported")
def _pads():
    return model([conv("c", "x", "y", "w", pads=[0, 0, 1, 1])], [const("w", (4, 1, 3, 3))])


@case("residual.onnx", "input 1 'x' is not a constant")
def _residual():
    return model([conv("c", "x", "h", "w", "b", pads=[1, 1, 1, 1]),
                  helper.make_node("Add", ["h", "x"], ["y"], name="skip")],
                 [const("w", (1, 1, 3, 3)), const("b", (1,))])


@case("softmax_alone.onnx", "must follow a Gemm or MatMul")
def _softmax():
    return model([helper.make_node("Flatten", ["x"], ["f"], name="flat"),
                  helper.make_node("Softmax", ["f"], ["y"], name="sm", axis=1)], [],
                 out_rank=2)


@case("ceil_overhang.onnx", "ceil_mode 1 not supported")
def _ceil():
    return model([helper.make_node("MaxPool", ["x"], ["y"], name="mp", kernel_shape=[3, 3],
                                   strides=[2, 2], ceil_mode=1)], [])


def main(work):
    os.makedirs(work, exist_ok=True)
    with open(os.path.join(work, "expected.tsv"), "w") as tsv:
        for fname, text, fn in CASES:
            onnx.save(fn(), os.path.join(work, fname))
            tsv.write(f"{fname}\t{text}\n")
    print(f"refusals.py: {len(CASES)} models in {work}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: refusals.py WORK")
    main(sys.argv[1])
