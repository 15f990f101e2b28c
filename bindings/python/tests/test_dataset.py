"""Datasets: creation, slicing, expansion and IDX files."""
import ctypes
import os
import struct
import tempfile
import unittest

import cnn
from .synth import synthetic


class Datasets(unittest.TestCase):
    def setUp(self):
        pixels, labels = synthetic(30)
        self.ds = cnn.Dataset.create(pixels, labels, (1, 28, 28))

    def test_create_get_batch(self):
        self.assertEqual(len(self.ds), 30)
        self.assertEqual(self.ds.shape, (1, 28, 28))
        pixels, label = self.ds.get(13)
        self.assertEqual(label, 3)
        self.assertAlmostEqual(max(pixels), 255 / 256)
        x, labels = self.ds.batch(10, 5)
        self.assertEqual(x.shape, (5, 1, 28, 28))
        self.assertEqual(list(labels), [0, 1, 2, 3, 4])
        self.assertEqual(list(self.ds.labels())[:3], [0, 1, 2])

    def test_slice_and_expand(self):
        part = self.ds.slice(20, 10)
        del self.ds  # slices stay valid after their parent is gone
        self.assertEqual(len(part), 10)
        self.assertEqual(part.get(0)[1], 0)
        self.assertEqual(len(part.expand(seed=1)), 50)
        with self.assertRaises(cnn.InvalidArgumentError):
            part.slice(5, 10)

    def test_augment(self):
        self.assertEqual(ctypes.sizeof(cnn._lib.AugmentParams), 64)  # header_c99 pins it too
        plain = [self.ds.get(i)[0] for i in range(30)]
        # The identity (and elastic alpha 0) reads back the same floats.
        same = self.ds.augment(scale=1, elastic=(0, 2), seed=3)
        self.assertEqual([same.get(i)[0] for i in range(30)], plain)
        # A quarter turn counterclockwise is an exact permutation (numpy's rot90).
        turned = self.ds.augment(rotate=(90, 90))
        del self.ds  # an augmented view outlives its parent
        self.assertEqual(len(turned), 30)
        for e in (0, 7, 29):
            got, label = turned.get(e)
            self.assertEqual(label, e % 10)
            want = [plain[e][j * 28 + 27 - i] for i in range(28) for j in range(28)]
            self.assertEqual(list(got), want)
        part = turned.slice(5, 2)  # slices keep the transform
        self.assertEqual(list(part.get(1)[0]), list(turned.get(6)[0]))
        # A whole-pixel shift right by 2 zero-fills the first two columns.
        moved = cnn.Dataset.create(*synthetic(3), (1, 28, 28)).augment(shift_x=(2, 2))
        got = list(moved.get(2)[0])
        for i in range(28):
            self.assertEqual(got[i * 28:i * 28 + 28], [0.0, 0.0] + list(plain[2][i * 28:i * 28 + 26]))
        # Seeded: same seed, same images; another seed, others; all in [0, 1).
        a, b, c = [cnn.Dataset.create(*synthetic(30), (1, 28, 28)).augment(
            rotate=15, scale=(0.9, 1.1), shift=2, shear=10, elastic=(8, 3), seed=s)
            for s in (1, 1, 2)]
        xa, xb, xc = a.batch(0, 30)[0].tolist(), b.batch(0, 30)[0].tolist(), c.batch(0, 30)[0].tolist()
        self.assertEqual(xa, xb)
        self.assertNotEqual(xa, xc)
        for e in range(30):
            self.assertTrue(all(0.0 <= v < 1.0 for v in a.get(e)[0]))

    def test_augment_invalid(self):
        for kw in ({"scale": (0, 1)}, {"scale": -1}, {"probability": 1.5},
                   {"probability": float("nan")}, {"rotate": (10, -10)}, {"shear": 90},
                   {"elastic": (1, -2)}, {"elastic": -1}):
            with self.subTest(**{k: str(v) for k, v in kw.items()}):
                with self.assertRaises(cnn.InvalidArgumentError) as cm:
                    self.ds.augment(**kw)
                self.assertIn("dataset_augment", str(cm.exception))
        with self.assertRaises(cnn.InvalidArgumentError):
            self.ds.augment(rotate=5).augment(rotate=5)

    def test_wrong_sizes(self):
        with self.assertRaises(ValueError):
            cnn.Dataset.create(b"\0" * 10, b"\1", (1, 28, 28))

    def test_idx_files(self):
        pixels, labels = synthetic(4)
        with tempfile.TemporaryDirectory() as d:
            img, lab = os.path.join(d, "img"), os.path.join(d, "lab")
            with open(img, "wb") as f:
                f.write(struct.pack(">IIII", 0x803, 4, 28, 28) + pixels)
            with open(lab, "wb") as f:
                f.write(struct.pack(">II", 0x801, 4) + labels)
            ds = cnn.Dataset.load_idx(img, lab)
            self.assertEqual(len(ds), 4)
            self.assertEqual(list(ds.labels()), [0, 1, 2, 3])
            with open(lab, "wb") as f:  # truncated label file
                f.write(struct.pack(">II", 0x801, 4) + labels[:2])
            with self.assertRaises(cnn.FormatError):
                cnn.Dataset.load_idx(img, lab)


try:
    import numpy as np
except ImportError:  # the binding works without NumPy; these tests need it
    np = None


@unittest.skipIf(np is None, "needs NumPy")
class InputDtypes(unittest.TestCase):
    """uint8 pixels are read as value/256, float32 as is; other dtypes are
    refused instead of being cast in silence (issue 14, item 8)."""

    def setUp(self):
        pixels, labels = synthetic(20)
        self.pix = np.frombuffer(bytes(pixels), dtype=np.uint8).reshape(20, 1, 28, 28)
        self.labels = np.array(list(labels), dtype=np.int64)
        self.net = cnn.Net((1, 28, 28), seed=3)
        self.net.add(cnn.conv2d(4, 5, activation="relu", pool="max"))
        self.net.add(cnn.softmax(10))

    def test_dataset_refuses_float_pixels(self):
        with self.assertRaisesRegex(TypeError, "uint8"):
            cnn.Dataset.create(self.pix.astype(np.float32) / 256, self.labels, (1, 28, 28))
        ds = cnn.Dataset.create(self.pix, self.labels, (1, 28, 28))
        self.assertEqual(len(ds), 20)

    def test_dataset_label_checks(self):
        with self.assertRaises(TypeError):
            cnn.Dataset.create(self.pix, self.labels.astype(np.float32), (1, 28, 28))
        bad = self.labels.copy()
        bad[3] = 300
        with self.assertRaisesRegex(ValueError, "0..255"):
            cnn.Dataset.create(self.pix, bad, (1, 28, 28))

    def test_predict_scales_uint8_and_takes_float32(self):
        as_float = self.pix.astype(np.float32) / 256
        want = list(self.net.predict(as_float))
        self.assertEqual(list(self.net.predict(self.pix)), want)
        ds = cnn.Dataset.create(self.pix, self.labels, (1, 28, 28))
        self.assertEqual(list(self.net.predict_dataset(ds)), want)
        y8 = np.asarray(self.net.forward(self.pix).numpy())
        y32 = np.asarray(self.net.forward(as_float).numpy())
        self.assertTrue(np.array_equal(y8, y32))

    def test_predict_refuses_other_dtypes(self):
        for dtype in (np.float64, np.int32, np.float16):
            with self.subTest(dtype=dtype):
                with self.assertRaisesRegex(TypeError, "uint8 array .* float32"):
                    self.net.predict(self.pix.astype(dtype))

    def test_predict_wrong_shape_is_a_shape_error(self):
        with self.assertRaises(cnn.ShapeError):
            self.net.predict(np.zeros((2, 1, 27, 28), dtype=np.float32))


@unittest.skipIf(np is None, "needs NumPy")
class Pythonic(unittest.TestCase):
    """ndarray results, predict_proba, fit, pickling, iteration, indexing."""

    def setUp(self):
        pixels, labels = synthetic(60)
        self.x = np.frombuffer(bytes(pixels), dtype=np.uint8).reshape(60, 1, 28, 28)
        self.y = np.array(list(labels), dtype=np.int64)
        self.net = cnn.Net((1, 28, 28), seed=5)
        self.net.add(cnn.conv2d(4, 5, activation="relu", pool="max"))
        self.net.add(cnn.dense(16, activation="relu"))
        self.net.add(cnn.softmax(10))

    def test_predict_returns_arrays(self):
        labels = self.net.predict(self.x[:7])
        self.assertIsInstance(labels, np.ndarray)
        self.assertEqual((labels.dtype, labels.shape), (np.dtype(np.int32), (7,)))
        proba = self.net.predict_proba(self.x[:7])
        self.assertEqual(proba.shape, (7, 10))
        self.assertTrue(np.allclose(proba.sum(axis=1), 1.0, atol=1e-5))
        self.assertTrue(np.array_equal(proba.argmax(axis=1), labels))

    def test_fit_learns_and_reports(self):
        seen = []
        hist = self.net.fit(self.x[:50], self.y[:50], epochs=6, batch_size=10,
                            optimizer=cnn.SGD(0.1), validation=(self.x[50:], self.y[50:]),
                            callbacks=[lambda e, logs: seen.append(e)])
        self.assertEqual(seen, [1, 2, 3, 4, 5, 6])
        self.assertEqual(len(hist), 6)
        self.assertLess(hist[-1]["cost"], hist[0]["cost"])
        self.assertIn("val_accuracy", hist[-1])
        self.assertGreater(float(np.mean(self.net.predict(self.x[:50]) == self.y[:50])), 0.5)
        stopped = self.net.fit(self.x, self.y, epochs=5, callbacks=[lambda e, logs: e == 2])
        self.assertEqual(len(stopped), 2)
        with self.assertRaises(TypeError):
            self.net.fit(self.x.astype(np.float64), self.y)
        with self.assertRaises(cnn.ShapeError):
            self.net.fit(self.x, self.y[:5])

    def test_pickle_and_iteration(self):
        import pickle
        copy = pickle.loads(pickle.dumps(self.net))
        self.assertEqual([l.kind for l in copy], [l.kind for l in self.net])
        self.assertEqual(len(list(iter(self.net))), 3)
        self.assertTrue(np.array_equal(copy.predict_proba(self.x[:5]),
                                       self.net.predict_proba(self.x[:5])))
        with copy:
            pass
        self.assertTrue(copy.closed)

    def test_dataset_indexing(self):
        ds = cnn.Dataset.create(self.x, self.y, (1, 28, 28))
        pixels, label = ds[-1]
        self.assertEqual(label, int(self.y[-1]))
        self.assertEqual(ds[3][1], int(self.y[3]))
        part = ds[10:20]
        self.assertEqual(len(part), 10)
        self.assertEqual(part[0][1], int(self.y[10]))
        with self.assertRaises(IndexError):
            ds[60]
        with self.assertRaises(ValueError):
            ds[::2]


if __name__ == "__main__":
    unittest.main()
