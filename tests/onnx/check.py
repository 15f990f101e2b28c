#!/usr/bin/python3
"""ONNX checker over the models given (tests/onnx/run.sh).

Runs onnx.checker.check_model with full_check (types and shapes inferred)
and, unless --any-producer, checks what libcnn promises of its exports:
producer "libcnn" with a version, opset 13, one float32 input "input" of
rank 4 with a symbolic batch dimension and fixed C, H, W.
"""
import sys

import onnx


def main(argv):
    any_producer = "--any-producer" in argv
    paths = [a for a in argv if a != "--any-producer"]
    for path in paths:
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
        if not any_producer:
            assert model.producer_name == "libcnn", model.producer_name
            assert model.producer_version.count(".") == 2, model.producer_version
            opsets = {o.domain: o.version for o in model.opset_import}
            assert opsets == {"": 13}, opsets
            (inp,) = model.graph.input
            assert inp.name == "input", inp.name
            t = inp.type.tensor_type
            assert t.elem_type == onnx.TensorProto.FLOAT
            dims = t.shape.dim
            assert len(dims) == 4 and dims[0].dim_param and not dims[0].dim_value, dims
            assert all(d.dim_value > 0 for d in dims[1:]), dims
        print(f"check.py: {path}: valid ONNX (IR {model.ir_version}, producer "
              f"{model.producer_name} {model.producer_version})")


if __name__ == "__main__":
    main(sys.argv[1:])
