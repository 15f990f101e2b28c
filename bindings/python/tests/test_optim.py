"""Optimizers (SGD with Nesterov, Adam, AdamW), the learning-rate setter and
the schedules of Net.train, against closed forms computed here."""
import math
import random
import struct
import unittest

import cnn
from .synth import synthetic


def f32(x):
    """x rounded to float32, as the library computes rates."""
    return struct.unpack("f", struct.pack("f", x))[0]


def tiny_net():
    net = cnn.Net((1, 2, 2), seed=3)
    net.add(cnn.dense(3))
    net.add(cnn.softmax(2))
    return net


def set_grads(net, step):
    rng = random.Random(100 + step)
    g = net.grads()
    for i in range(len(g)):
        g[i] = rng.uniform(-1, 1)
    return list(g)


def adam_reference(w, grads, lr, wd, decoupled, b1=0.9, b2=0.999, eps=1e-8):
    w = list(w)
    m = [0.0] * len(w)
    v = [0.0] * len(w)
    for t, g in enumerate(grads, 1):
        for i in range(len(w)):
            gi = g[i]
            if decoupled:
                w[i] *= 1 - lr * wd
            else:
                gi += wd * w[i]
            m[i] = b1 * m[i] + (1 - b1) * gi
            v[i] = b2 * v[i] + (1 - b2) * gi * gi
            mhat = m[i] / (1 - b1 ** t)
            vhat = v[i] / (1 - b2 ** t)
            w[i] -= lr * mhat / (math.sqrt(vhat) + eps)
    return w


class Optimizers(unittest.TestCase):
    def run_steps(self, opt, steps=5):
        net = tiny_net()
        w0 = list(net.params())
        grads = []
        for s in range(steps):
            grads.append(set_grads(net, s))
            opt.step(net)
        return w0, grads, list(net.params())

    def assert_close(self, got, want, tol):
        for i, (a, b) in enumerate(zip(got, want)):
            self.assertLessEqual(abs(a - b), tol * max(1.0, abs(b)), "parameter %d" % i)

    def test_adam_and_adamw_closed_form(self):
        for cls, wd, dec in ((cnn.Adam, 0.0, False), (cnn.Adam, 0.3, False),
                             (cnn.AdamW, 0.3, True)):
            with self.subTest(cls=cls.__name__, wd=wd):
                opt = cls(0.01, weight_decay=wd)
                w0, grads, got = self.run_steps(opt)
                self.assert_close(got, adam_reference(w0, grads, 0.01, wd, dec), 2e-6)

    def test_nesterov_differs_from_classical(self):
        a = self.run_steps(cnn.SGD(0.1, momentum=0.9))[2]
        b = self.run_steps(cnn.SGD(0.1, momentum=0.9, nesterov=True))[2]
        self.assertGreater(max(abs(x - y) for x, y in zip(a, b)), 1e-2)
        with self.assertRaises(cnn.InvalidArgumentError):
            cnn.SGD(0.1, nesterov=True)  # needs momentum

    def test_learning_rate_setter(self):
        opt = cnn.SGD(0.5)
        self.assertEqual(opt.learning_rate, 0.5)
        opt.learning_rate = 0.25
        self.assertEqual(opt.learning_rate, 0.25)
        with self.assertRaises(cnn.InvalidArgumentError):
            opt.learning_rate = 0.0
        self.assertEqual(opt.learning_rate, 0.25)
        adam = cnn.Adam(0.001)
        adam.learning_rate = 0.002
        self.assertAlmostEqual(adam.learning_rate, 0.002, places=9)

    def test_bad_adam_params(self):
        with self.assertRaises(cnn.InvalidArgumentError):
            cnn.Adam(0.001, beta1=1.0)
        with self.assertRaises(cnn.InvalidArgumentError):
            cnn.AdamW(0.001, weight_decay=-1)


class Schedules(unittest.TestCase):
    def test_rates(self):
        r0 = 0.2
        self.assertEqual(cnn.schedule_rate("constant", r0, 10, 100, 25), f32(r0))
        self.assertEqual(cnn.schedule_rate("step", r0, 60, 100, 25, schedule_gamma=0.5,
                                           schedule_step=30),
                         f32(f32(r0) * f32(0.5) ** 2))
        for t in (0, 13, 99):
            want = f32(r0) * 0.5 * (1 + math.cos(math.pi * t / 100))
            self.assertEqual(cnn.schedule_rate("cosine", r0, t, 100, 25), f32(want))
        self.assertAlmostEqual(cnn.schedule_rate("onecycle", r0, 0, 100, 25), 0.2 * 0.04,
                               places=7)
        with self.assertRaises(ValueError):
            cnn.schedule_rate("linear", r0, 0, 100, 25)
        with self.assertRaises(TypeError):
            cnn.schedule_rate("step", r0, 0, 100, 25, gamma=0.5)

    def test_train_with_adamw_and_onecycle(self):
        pixels, labels = synthetic(40, 0)
        ds = cnn.Dataset.create(pixels, labels, (1, 28, 28))
        net = cnn.Net((1, 28, 28), seed=1)
        net.add(cnn.dense(8, activation="relu"))
        net.add(cnn.softmax(10))
        opt = cnn.AdamW(0.01, weight_decay=0.01)
        r = net.train(ds, opt, 2, batch_size=10, schedule="onecycle", warmup_fraction=0.25)
        self.assertEqual(r.epochs_run, 2)
        self.assertTrue(math.isfinite(r.final_train_cost))
        self.assertEqual(opt.learning_rate,
                         cnn.schedule_rate("onecycle", 0.01, 7, 8, 4, warmup_fraction=0.25))
        with self.assertRaises(cnn.InvalidArgumentError):
            net.train(ds, opt, 1, schedule="onecycle", warmup_fraction=1.0)


if __name__ == "__main__":
    unittest.main()
