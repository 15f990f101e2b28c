"""Datasets of labelled byte images (pixels read as byte / 256)."""
import array
import ctypes

from . import _lib
from ._handle import Handle
from .errors import check
from .tensor import Tensor, _np

L = _lib.lib
SPLITS = {"train": 0, "test": 1}


def _path(p):
    return _lib.path_arg(p)


def _bytes_source(data, count):
    """(address, keepalive) of data as count contiguous bytes."""
    if _np is not None and isinstance(data, _np.ndarray):
        data = _np.ascontiguousarray(data, dtype=_np.uint8).reshape(-1)
        if data.size != count:
            raise ValueError("expected %d bytes, got %d" % (count, data.size))
        return data.ctypes.data, data
    buf = bytes(data) if not isinstance(data, (bytes, bytearray)) else data
    if len(buf) != count:
        raise ValueError("expected %d bytes, got %d" % (count, len(buf)))
    keep = ctypes.create_string_buffer(bytes(buf), count)  # a copy C may read
    return ctypes.addressof(keep), keep


class Dataset(Handle):
    """Images (N, C, H, W) as bytes plus one label per image.

    Any number of threads may read one dataset at once.  close() frees it
    now; it raises StateError while a call (training, evaluation) is using
    the dataset, and later calls raise ValueError."""

    _what = "dataset"
    _exclusive = False  # datasets never change: concurrent readers are fine

    def __init__(self, handle):
        self._init_handle(handle, L.cnn_dataset_destroy)

    @classmethod
    def _make(cls, fn, *args):
        h = _lib.P_DS()
        check(fn(*args, ctypes.byref(h)))
        return cls(h)

    @classmethod
    def load_mnist(cls, directory, split="train"):
        """One MNIST split from a directory of IDX files (raw or .gz)."""
        return cls._make(L.cnn_dataset_load_mnist, _path(directory), SPLITS.get(split, split))

    @classmethod
    def load_idx(cls, images_path, labels_path):
        return cls._make(L.cnn_dataset_load_idx, _path(images_path), _path(labels_path))

    @classmethod
    def create(cls, pixels, labels, shape):
        """Copies len(labels) images of shape (C, H, W) from bytes-like pixels."""
        c, h, w = (_lib.check_int(v, ctypes.c_int32, "shape") for v in shape)
        labels = bytes(labels) if _np is None or not isinstance(labels, _np.ndarray) else labels
        count = len(labels)
        if min(c, h, w) < 1:
            raise ValueError("shape must be positive, got %r" % ((c, h, w),))
        pix, keep_p = _bytes_source(pixels, count * c * h * w)
        lab, keep_l = _bytes_source(labels, count)
        ds = cls._make(L.cnn_dataset_create, count, c, h, w, pix, lab)
        del keep_p, keep_l  # the library copied them
        return ds

    def __len__(self):
        with self._use() as h:
            return L.cnn_dataset_count(h)

    @property
    def shape(self):
        """Image shape (C, H, W)."""
        s = (ctypes.c_int32 * 3)()
        with self._use() as h:
            check(L.cnn_dataset_shape(h, s))
        return tuple(s)

    def slice(self, start, count):
        """Examples [start, start+count), sharing storage."""
        with self._use() as h:
            return Dataset._make(L.cnn_dataset_slice, h, start, count)

    def expand(self, seed=0):
        """network3's expanded set: each image plus four 1-pixel shifts, shuffled."""
        with self._use() as h:
            return Dataset._make(L.cnn_dataset_expand, h, seed)

    def get(self, index):
        """(pixels as array('f'), label) of one example."""
        c, h, w = self.shape
        pixels = array.array("f", bytes(4 * c * h * w))
        label = ctypes.c_int32()
        with self._use() as d:
            check(L.cnn_dataset_get(d, index, pixels.buffer_info()[0], ctypes.byref(label)))
        return pixels, label.value

    def batch(self, start, count):
        """(Tensor (count, C, H, W), labels array('i')) of a range of examples."""
        c, h, w = self.shape
        x = Tensor((count, c, h, w))
        labels = array.array("i", bytes(4 * count))
        with self._use() as d, x._use() as xh:
            check(L.cnn_dataset_batch(d, start, count, xh, labels.buffer_info()[0]))
        return x, labels

    def labels(self):
        """All labels, as array('i')."""
        out, label = array.array("i"), ctypes.c_int32()
        with self._use() as h:
            for i in range(L.cnn_dataset_count(h)):
                check(L.cnn_dataset_get(h, i, None, ctypes.byref(label)))
                out.append(label.value)
        return out

    def __repr__(self):
        if self.closed:
            return "Dataset(closed)"
        return "Dataset(%d x %r)" % (len(self), self.shape)
