"""Batch normalisation, global average pooling and conv2d padding="same"."""
import math
import unittest

import cnn
from .synth import synthetic


def bn_net(seed=1):
    net = cnn.Net((1, 28, 28), seed=seed)
    net.add(cnn.conv2d(4, 5, padding="same", activation="identity", init="he"))
    net.add(cnn.batchnorm())
    net.add(cnn.activation("relu"))
    net.add(cnn.global_avg_pool())
    net.add(cnn.dense(8, activation="identity", init="glorot"))
    net.add(cnn.batchnorm(momentum=0.2))
    net.add(cnn.softmax(10))
    return net


class Layers(unittest.TestCase):
    def test_batchnorm_layer(self):
        layer = cnn.batchnorm(channels=3)
        self.assertEqual(layer.kind, "batchnorm")
        self.assertEqual(layer.param_count, 6)
        self.assertEqual(layer.param("weights").tolist(), [1.0, 1.0, 1.0])   # gamma
        self.assertEqual(layer.param("biases").tolist(), [0.0, 0.0, 0.0])    # beta
        self.assertEqual(layer.output_shape((3, 4, 5)), (3, 4, 5))
        with self.assertRaises(cnn.ShapeError):
            layer.output_shape((2, 4, 5))

    def test_batchnorm_invalid_values(self):
        with self.assertRaises(cnn.InvalidArgumentError):
            cnn.batchnorm(momentum=1.5)
        with self.assertRaises(cnn.InvalidArgumentError):
            cnn.batchnorm(epsilon=0.0)
        with self.assertRaises(cnn.InvalidArgumentError):
            cnn.batchnorm(channels=-1)
        with self.assertRaises(TypeError):
            cnn.batchnorm(bogus=1)

    def test_batchnorm_forward_normalises(self):
        layer = cnn.batchnorm()
        x = cnn.Tensor((4, 3))
        src = [float(i * i % 7) for i in range(12)]
        x.copy_in(src)
        y = cnn.Tensor((4, 3))
        layer.forward(x, y, mode="train")
        out = y.tolist()
        flat = [v for row in out for v in row] if isinstance(out[0], list) else out
        for f in range(3):
            col = [flat[i * 3 + f] for i in range(4)]
            mean = sum(col) / 4
            self.assertAlmostEqual(mean, 0.0, places=5)
            scol = [src[i * 3 + f] for i in range(4)]
            if max(scol) != min(scol):
                self.assertAlmostEqual(sum(v * v for v in col) / 4, 1.0, places=3)

    def test_global_avg_pool(self):
        layer = cnn.global_avg_pool()
        self.assertEqual(layer.kind, "global_avg_pool")
        self.assertEqual(layer.param_count, 0)
        self.assertIsNone(layer.param("weights"))
        self.assertEqual(layer.output_shape((5, 7, 3)), (5, 1, 1))

    def test_conv2d_same_padding(self):
        self.assertEqual(cnn.conv2d(2, 5, padding="same").output_shape((1, 28, 28)), (2, 28, 28))
        self.assertEqual(cnn.conv2d(2, 3, padding="same", stride=2).output_shape((1, 7, 7)),
                         (2, 4, 4))
        self.assertEqual(cnn.conv2d(2, 3, padding=1).output_shape((1, 7, 7)), (2, 7, 7))
        self.assertEqual(cnn.conv2d(2, 3).output_shape((1, 7, 7)), (2, 5, 5))
        with self.assertRaises(ValueError):
            cnn.conv2d(2, 3, padding="full")
        with self.assertRaises(cnn.InvalidArgumentError):
            cnn.conv2d(2, 4, padding="same")  # even kernel


class Networks(unittest.TestCase):
    def test_train_save_load_clone(self):
        pixels, labels = synthetic(16, 0)
        data = cnn.Dataset.create(pixels, labels, (1, 28, 28))
        net = bn_net()
        self.assertEqual([l.kind for l in net.layers],
                         ["conv2d", "batchnorm", "activation", "global_avg_pool", "dense",
                          "batchnorm", "softmax"])
        opt = cnn.SGD(0.1)
        x, y = data.batch(0, 8)
        for _ in range(3):
            self.assertTrue(math.isfinite(net.train_step(opt, x, y)))
        before = net.forward(x).tolist()
        blob = net.to_bytes()
        self.assertEqual(int.from_bytes(blob[8:12], "little"), 2)  # format with state
        back = cnn.Net.from_bytes(blob)
        self.assertEqual(back.forward(x).tolist(), before)
        self.assertEqual(back.to_bytes(), blob)
        self.assertEqual(net.clone().forward(x).tolist(), before)
        # Inference uses the running statistics: a batch of one works.
        x1, _ = data.batch(0, 1)
        self.assertEqual(len(net.predict(x1)), 1)


if __name__ == "__main__":
    unittest.main()
