"""The values the binding pins match the library's own table (cnn_constant)."""
import ctypes
import unittest

from cnn import _lib, layers

L = _lib.lib


def constant(name):
    value = ctypes.c_int64()
    status = L.cnn_constant(name.encode(), ctypes.byref(value))
    if status != 0:
        raise KeyError(name)
    return value.value


class ConstantsTest(unittest.TestCase):
    def test_pinned_values_match_the_library(self):
        pinned = {}
        for name, value in layers.ACTIVATIONS.items():
            pinned["CNN_ACT_" + name.upper()] = value
        for name, value in layers.POOL_MODES.items():
            pinned["CNN_POOL_" + name.upper()] = value
        for name, value in layers.INITS.items():
            pinned["CNN_INIT_" + name.upper()] = value
        for value, name in layers.KINDS.items():
            pinned["CNN_LAYER_" + name.upper()] = value
        for name, value in layers.PARAMS.items():
            pinned["CNN_PARAM_" + name.upper()] = value
        for name, value in layers.MODES.items():
            pinned["CNN_MODE_" + name.upper()] = value
        for name, value in pinned.items():
            with self.subTest(name=name):
                self.assertEqual(constant(name), value)

    def test_table_enumerates_every_constant(self):
        names = [L.cnn_constant_name(i).decode() for i in range(L.cnn_constant_count())]
        self.assertIn("CNN_ECHECKSUM", names)
        self.assertEqual(constant("CNN_VERSION_MAJOR") * 10000 + constant("CNN_VERSION_MINOR") * 100
                         + constant("CNN_VERSION_PATCH"), L.cnn_version())
        with self.assertRaises(KeyError):
            constant("CNN_NOT_A_CONSTANT")


class IsaTest(unittest.TestCase):
    def test_isa_names_a_path_the_cpu_has(self):
        import os
        import cnn
        paths = ["generic", "avx2", "avx512"]
        self.assertIn(cnn.isa(), paths)
        self.assertIn(cnn.isa_best(), paths)
        self.assertLessEqual(paths.index(cnn.isa()), paths.index(cnn.isa_best()))
        asked = os.environ.get("CNN_ISA")
        if asked in paths and paths.index(asked) <= paths.index(cnn.isa_best()):
            self.assertEqual(cnn.isa(), asked)
        for name in paths:
            self.assertEqual(constant("CNN_ISA_" + name.upper()), paths.index(name))


if __name__ == "__main__":
    unittest.main()
