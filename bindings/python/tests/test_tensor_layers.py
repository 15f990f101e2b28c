"""Tensors (copy and zero-copy) and keyword-argument layer constructors."""
import ctypes
import unittest

import cnn
from cnn import _lib

try:
    import numpy as np
except ImportError:
    np = None


class Layouts(unittest.TestCase):
    def test_struct_sizes_match_the_header(self):
        # Same numbers as tests/header_c99.c checks against the C compiler.
        expected = {"Conv2dParams": 72, "Pool2dParams": 24, "DenseParams": 32,
                    "SoftmaxParams": 32, "BatchnormParams": 16, "SgdParams": 32,
                    "AdamParams": 28, "Progress": 48, "EpochReport": 80, "TrainParams": 120,
                    "TrainResult": 48, "ShardParams": 32}
        for name, size in expected.items():
            self.assertEqual(ctypes.sizeof(getattr(_lib, name)), size, name)

    def test_version(self):
        self.assertEqual(cnn.version().split(".")[0], "1")


class Tensors(unittest.TestCase):
    def test_create_and_copy(self):
        t = cnn.Tensor.from_data([[1, 2, 3], [4, 5, 6]], shape=(2, 3))
        self.assertEqual(t.shape, (2, 3))
        self.assertEqual(t.tolist(), [1, 2, 3, 4, 5, 6])
        t.data[0] = 9
        self.assertEqual(t.tolist()[0], 9)
        t.reshape((3, 2))
        self.assertEqual(t.shape, (3, 2))

    def test_copy_in_wrong_count(self):
        t = cnn.Tensor((4,))
        with self.assertRaises(cnn.ShapeError):
            t.copy_in([1.0, 2.0])

    def test_view_outlives_tensor_object(self):
        view = cnn.Tensor.from_data([1.0, 2.0]).data
        self.assertEqual(view.tolist(), [1.0, 2.0])  # the view keeps it alive

    @unittest.skipIf(np is None, "numpy not installed")
    def test_numpy_zero_copy(self):
        a = np.arange(6, dtype=np.float32).reshape(2, 3)
        t = cnn.Tensor.wrap(a, a.shape)
        a[0, 0] = 42
        self.assertEqual(t.tolist()[0], 42)       # wrap shares a's memory
        t.numpy()[1, 2] = -1
        self.assertEqual(a[1, 2], -1)


class Layers(unittest.TestCase):
    def test_conv2d_keywords(self):
        layer = cnn.conv2d(20, 5, in_channels=1, activation="relu", pool="max", pool_size=2)
        self.assertEqual(layer.kind, "conv2d")
        self.assertEqual(layer.output_shape((1, 28, 28)), (20, 12, 12))
        self.assertEqual(layer.param_count, 20 * 25 + 20)
        w = layer.param("weights")
        self.assertEqual(w.shape, (20, 1, 5, 5))

    def test_unknown_keyword_and_enum(self):
        with self.assertRaises(TypeError):
            cnn.dense(10, bogus=1)
        with self.assertRaises(ValueError):
            cnn.dense(10, activation="swish")

    def test_invalid_values_raise(self):
        with self.assertRaises(cnn.InvalidArgumentError):
            cnn.dense(10, dropout=1.5)
        with self.assertRaises(cnn.InvalidArgumentError):
            cnn.pool2d(0)

    def test_other_layers(self):
        self.assertEqual(cnn.pool2d(2).output_shape((3, 8, 8)), (3, 4, 4))
        self.assertEqual(cnn.pool2d((2, 2), mode="avg", stride=1).output_shape((1, 4, 4)),
                         (1, 3, 3))
        self.assertEqual(cnn.dense(7, in_features=12).output_shape((3, 2, 2)), (7, 1, 1))
        self.assertEqual(cnn.softmax(10).kind, "softmax")
        self.assertEqual(cnn.activation("tanh").param_count, 0)

    def test_ownership_moves_to_net(self):
        net = cnn.Net((1, 4, 4))
        layer = cnn.dense(3)
        net.add(layer)
        with self.assertRaises(ValueError):
            net.add(layer)  # already owned
        del net  # the layer keeps the net (its owner) alive
        self.assertEqual(layer.param_count, 16 * 3 + 3)


if __name__ == "__main__":
    unittest.main()
