"""Every status maps to its own exception class carrying the C message."""
import os
import tempfile
import unittest

import cnn
from cnn import errors


class ErrorMapping(unittest.TestCase):
    def test_each_status_has_a_class_and_name(self):
        for status in range(-1, -10, -1):
            err = errors.error_for(status, "msg")
            self.assertIsInstance(err, cnn.CnnError)
            self.assertEqual(err.status, status)
            self.assertIsNot(type(err), cnn.CnnError)
            self.assertTrue(err.name.startswith("CNN_E"), err.name)
            self.assertEqual(str(err), "msg")

    def test_unknown_status_is_base_class(self):
        err = errors.error_for(-1000, "")
        self.assertIs(type(err), cnn.CnnError)
        self.assertEqual(err.status, -1000)

    def test_invalid_argument_carries_library_message(self):
        with self.assertRaises(cnn.InvalidArgumentError) as cm:
            cnn.Tensor((2, 0))
        self.assertEqual(cm.exception.status, -1)
        self.assertIn("0", str(cm.exception))
        self.assertIsInstance(cm.exception, ValueError)  # builtin fallback

    def test_shape_error_on_reshape(self):
        t = cnn.Tensor((2, 3))
        with self.assertRaises(cnn.ShapeError):
            t.reshape((4, 2))

    def test_net_add_shape_error_names_the_layer(self):
        net = cnn.Net((1, 8, 8))
        with self.assertRaises(cnn.ShapeError) as cm:
            net.add(cnn.conv2d(2, 13))
        self.assertTrue(str(cm.exception))
        self.assertEqual(len(net), 0)

    def test_io_and_format_errors(self):
        with self.assertRaises(cnn.IOFailedError):
            cnn.Net.load("/nonexistent/dir/model.cnn")
        with self.assertRaises(OSError):
            cnn.Dataset.load_mnist("/nonexistent/dir")
        with self.assertRaises(cnn.FormatError):
            cnn.Net.from_bytes(b"definitely not a model")
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "junk.cnn")
            with open(path, "wb") as f:
                f.write(b"\0" * 64)
            with self.assertRaises(cnn.FormatError):
                cnn.Net.load(path)

    def test_state_error_forward_without_layers(self):
        net = cnn.Net((1, 4, 4))
        with self.assertRaises(cnn.StateError):
            net.forward(cnn.Tensor((1, 1, 4, 4)))


if __name__ == "__main__":
    unittest.main()
