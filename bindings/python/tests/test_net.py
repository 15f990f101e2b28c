"""Networks: build, run, train with callbacks, save and load."""
import os
import tempfile
import unittest

import cnn
from .synth import synthetic


def small_net(seed=1):
    net = cnn.Net((1, 28, 28), seed=seed)
    net.add(cnn.conv2d(4, 5, pool="max", activation="relu"))
    net.add(cnn.dense(16, activation="relu"))
    net.add(cnn.softmax(10))
    return net


def dataset(count, first=0):
    pixels, labels = synthetic(count, first)
    return cnn.Dataset.create(pixels, labels, (1, 28, 28))


class Building(unittest.TestCase):
    def test_shapes_and_params(self):
        net = small_net()
        self.assertEqual(len(net), 3)
        self.assertEqual(net.input_shape, (1, 28, 28))
        self.assertEqual(net.output_shape, (10, 1, 1))
        self.assertEqual([l.kind for l in net.layers], ["conv2d", "dense", "softmax"])
        expected = (4 * 25 + 4) + (4 * 12 * 12 * 16 + 16) + (16 * 10 + 10)
        self.assertEqual(net.param_count, expected)
        self.assertEqual(len(net.params()), expected)

    def test_params_view_is_zero_copy(self):
        net = small_net()
        x, _ = dataset(4).batch(0, 4)
        before = net.forward(x).tolist()
        params = net.params()
        n_softmax_bias = 10
        for i in range(len(params) - n_softmax_bias, len(params)):
            params[i] = 0.0
        params[len(params) - 1] = 50.0  # huge bias for class 9
        self.assertEqual(list(net.predict(x)), [9, 9, 9, 9])
        self.assertNotEqual(before, net.forward(x).tolist())

    def test_forward_probabilities(self):
        net = small_net()
        y = net.forward(dataset(3).batch(0, 3)[0])
        self.assertEqual(y.shape, (3, 10))
        for row in range(3):
            self.assertAlmostEqual(sum(y.tolist()[row * 10:row * 10 + 10]), 1.0, places=5)

    def test_clone_is_independent(self):
        net = small_net()
        twin = net.clone()
        twin.params()[0] += 1.0
        self.assertNotEqual(net.params()[0], twin.params()[0])


class Training(unittest.TestCase):
    def setUp(self):
        self.train, self.test = dataset(500), dataset(100, first=500)

    def test_train_learns_and_reports(self):
        net = small_net()
        progress, epochs = [], []
        result = net.train(self.train, cnn.SGD(0.1), 3, batch_size=10, test=self.test,
                           validation=self.test, progress_every=10,
                           on_progress=progress.append, on_epoch=epochs.append)
        self.assertFalse(result.canceled)
        self.assertEqual(result.epochs_run, 3)
        self.assertEqual([e.epoch for e in epochs], [1, 2, 3])
        self.assertEqual(progress[0].batches, 50)
        self.assertGreater(epochs[-1].test_accuracy, 0.5)
        acc, cost = net.evaluate(self.test)
        self.assertAlmostEqual(acc, epochs[-1].test_accuracy)
        self.assertEqual(len(net.predict_dataset(self.test)), 100)

    def test_callback_exception_is_reraised_not_fatal(self):
        net = small_net()

        def boom(report):
            raise KeyError("from callback")

        with self.assertRaises(KeyError):
            net.train(self.train, cnn.SGD(0.1), 5, on_epoch=boom)
        # The network is still usable after the interrupted run.
        self.assertEqual(len(net.predict(self.test.batch(0, 2)[0])), 2)

    def test_callback_can_cancel(self):
        net = small_net()
        result = net.train(self.train, cnn.SGD(0.1), 5, progress_every=5,
                           on_progress=lambda p: p.batch >= 10)
        self.assertTrue(result.canceled)
        self.assertEqual(result.epochs_run, 0)

    def test_train_step_and_backward(self):
        net, opt = small_net(), cnn.SGD(0.1)
        x, labels = self.train.batch(0, 10)
        first = net.train_step(opt, x, labels)
        for _ in range(20):
            last = net.train_step(opt, x, labels)
        self.assertLess(last, first)
        net.forward(x, mode="train")
        self.assertGreater(net.backward(labels), 0)
        self.assertTrue(any(g != 0 for g in net.grads()))


class SaveLoad(unittest.TestCase):
    def test_round_trip_file_and_bytes(self):
        net = small_net(seed=7)
        x, _ = dataset(20).batch(0, 20)
        expected = net.forward(x).tolist()
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "m.cnn")
            net.save(path)
            loaded = cnn.Net.load(path)
        self.assertEqual(loaded.forward(x).tolist(), expected)
        again = cnn.Net.from_bytes(net.to_bytes())
        self.assertEqual(again.forward(x).tolist(), expected)
        self.assertEqual(list(again.params()), list(net.params()))

    def test_onnx_round_trip(self):
        net = small_net(seed=8)
        x, _ = dataset(20).batch(0, 20)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "m.onnx")
            try:
                net.to_onnx(path)
            except cnn.NotSupportedError as e:
                self.skipTest(str(e))  # library built without ONNX
            back = cnn.Net.from_onnx(path)
            with open(path, "wb") as f:
                f.write(b"\x0a\x05junk")
            with self.assertRaises(cnn.FormatError):
                cnn.Net.from_onnx(path)
        self.assertEqual(back.forward(x).tolist(), net.forward(x).tolist())
        self.assertEqual(list(back.params()), list(net.params()))


if __name__ == "__main__":
    unittest.main()


class SummaryAndLimits(unittest.TestCase):
    def test_summary(self):
        text = small_net().summary()
        lines = text.splitlines()
        self.assertEqual(len(lines), 4)
        self.assertTrue(lines[0].startswith("input 1x28x28, 3 layers"))
        self.assertIn("conv2d 4 maps 5x5, stride 1x1, pad 0x0, relu, max pool 2x2 -> 4x12x12",
                      lines[1])
        self.assertIn("softmax 10 classes", lines[3])

    def test_load_limits(self):
        # 20 activation layers on 1x1024x1024: ~250 MB of workspace per example.
        net = cnn.Net((1, 1024, 1024))
        for _ in range(20):
            net.add(cnn.activation("relu"))
        data = net.to_bytes()
        self.assertLess(len(data), 1024)
        with self.assertRaises(cnn.InvalidArgumentError) as cm:
            cnn.Net.from_bytes(data, max_workspace_bytes=100 << 20)
        self.assertIn("workspace", str(cm.exception))
        back = cnn.Net.from_bytes(data)  # within the defaults
        self.assertEqual(len(back), 20)
        with self.assertRaises(OverflowError):
            cnn.Net.from_bytes(data, max_flops=2 ** 64)

    def test_divergence_raises(self):
        net = small_net()
        with self.assertRaises(cnn.DivergedError) as cm:
            net.train(dataset(200), cnn.SGD(1e30), epochs=2)
        self.assertIn("diverged", str(cm.exception))
        with self.assertRaises(cnn.DivergedError):
            net.to_bytes()

    def test_layer_summary_and_net_limits(self):
        net = small_net()
        self.assertEqual(net.layer(0).summary(),
                         "conv2d 4 maps 5x5, stride 1x1, pad 0x0, relu, max pool 2x2")
        self.assertEqual(net.limits, (2 << 30, 1 << 30, 10 ** 11))
        net = cnn.Net((1, 28, 28))
        net.set_limits(max_flops=1000)
        self.assertEqual(net.limits[2], 1000)
        with self.assertRaises(cnn.InvalidArgumentError) as cm:
            net.add(cnn.dense(100))
        self.assertIn("operations per example", str(cm.exception))
