"""Datasets: creation, slicing, expansion and IDX files."""
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


if __name__ == "__main__":
    unittest.main()
