"""A model trained and saved by the C example predicts the same in Python.

$CNN_C_EXAMPLE names the built examples/c/train_small program (set by
scripts/test-installed); without it the test is skipped.
"""
import os
import subprocess
import tempfile
import unittest

import cnn
from .synth import synthetic


@unittest.skipUnless(os.environ.get("CNN_C_EXAMPLE"), "CNN_C_EXAMPLE not set")
class ModelFromC(unittest.TestCase):
    def test_identical_predictions(self):
        env = dict(os.environ)
        env.pop("MNIST_DIR", None)  # synthetic data, which Python can rebuild
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "from_c.cnn")
            out = subprocess.run([os.environ["CNN_C_EXAMPLE"], path], env=env, check=True,
                                 capture_output=True, text=True).stdout
            net = cnn.Net.load(path)
        line = [l for l in out.splitlines() if l.startswith("predictions:")][0]
        c_predictions = [int(v) for v in line.split(":")[1].split()]
        # The C example predicts the 20 examples after its training set.
        first = int([l for l in out.splitlines() if l.startswith("test-first:")][0].split(":")[1])
        pixels, labels = synthetic(len(c_predictions), first)
        ds = cnn.Dataset.create(pixels, labels, (1, 28, 28))
        x, _ = ds.batch(0, len(ds))
        self.assertEqual(list(net.predict(x)), c_predictions)


if __name__ == "__main__":
    unittest.main()
