"""Datasets of labelled byte images (pixels read as byte / 256)."""
from typing import Any, Sequence, Tuple, Union

import array
import ctypes
import operator

from . import _lib
from ._handle import Handle
from .errors import check
from .tensor import Tensor, _np

L = _lib.lib
SPLITS = {"train": 0, "test": 1}


def _path(p):
    return _lib.path_arg(p)


def _bytes_source(data, count, what="pixels"):
    """(address, keepalive) of data as count contiguous bytes.  A NumPy array
    must hold uint8 (pixels) or integers in 0..255 (labels): a float array
    of [0, 1] images would otherwise be cast to bytes of 0 and 1."""
    if _np is not None and isinstance(data, _np.ndarray):
        if what == "pixels" and data.dtype != _np.uint8:
            raise TypeError("pixels must be a uint8 array (0-255; the library reads value/256), "
                            "got %s: scale and convert float images first, e.g. "
                            "(x * 256).clip(0, 255).astype(numpy.uint8)" % data.dtype)
        if what == "labels":
            if data.dtype.kind not in "iu":
                raise TypeError("labels must be integers, got %s" % data.dtype)
            if data.size and (data.min() < 0 or data.max() > 255):
                raise ValueError("labels must be in 0..255, got %d..%d"
                                 % (data.min(), data.max()))
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
    def load_mnist(cls, directory: Any, split: Union[str, int] = "train") -> "Dataset":
        """One MNIST split from a directory of IDX files (raw or .gz)."""
        if isinstance(split, str) and split not in SPLITS:
            raise ValueError("split must be 'train' or 'test', got %r" % split)
        code = SPLITS[split] if isinstance(split, str) else split
        return cls._make(L.cnn_dataset_load_mnist, _path(directory), code)

    @classmethod
    def load_idx(cls, images_path: Any, labels_path: Any) -> "Dataset":
        return cls._make(L.cnn_dataset_load_idx, _path(images_path), _path(labels_path))

    @classmethod
    def create(cls, pixels: Any, labels: Any, shape: Sequence[int]) -> "Dataset":
        """Copies len(labels) images of shape (C, H, W) from bytes-like pixels
        (a bytes object, or a NumPy uint8 array; other dtypes raise
        TypeError) and integer labels."""
        c, h, w = (_lib.check_int(v, ctypes.c_int32, "shape") for v in shape)
        labels = bytes(labels) if _np is None or not isinstance(labels, _np.ndarray) else labels
        count = len(labels)
        if min(c, h, w) < 1:
            raise ValueError("shape must be positive, got %r" % ((c, h, w),))
        pix, keep_p = _bytes_source(pixels, count * c * h * w)
        lab, keep_l = _bytes_source(labels, count, "labels")
        ds = cls._make(L.cnn_dataset_create, count, c, h, w, pix, lab)
        del keep_p, keep_l  # the library copied them
        return ds

    def __len__(self) -> int:
        with self._use() as h:
            return L.cnn_dataset_count(h)

    def __getitem__(self, index: Union[int, slice]) -> Any:
        """ds[i]: (pixels, label) as get(i), negative i from the end;
        ds[a:b]: a view of those examples (slice(), step 1 only)."""
        n = len(self)
        if isinstance(index, slice):
            start, stop, step = index.indices(n)
            if step != 1:
                raise ValueError("dataset slices take step 1 only")
            return self.slice(start, max(stop - start, 0))
        index = operator.index(index)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError("dataset index %d out of range for %d examples" % (index, n))
        return self.get(index)

    @property
    def shape(self) -> Tuple[int, int, int]:
        """Image shape (C, H, W)."""
        s = (ctypes.c_int32 * 3)()
        with self._use() as h:
            check(L.cnn_dataset_shape(h, s))
        return (s[0], s[1], s[2])

    def slice(self, start: int, count: int) -> "Dataset":
        """Examples [start, start+count), sharing storage."""
        with self._use() as h:
            return Dataset._make(L.cnn_dataset_slice, h, start, count)

    def expand(self, seed: int = 0) -> "Dataset":
        """network3's expanded set: each image plus four 1-pixel shifts, shuffled."""
        with self._use() as h:
            return Dataset._make(L.cnn_dataset_expand, h, seed)

    def augment(self, *, rotate=None, scale=None, shift=None, shift_x=None, shift_y=None,
                shear=None, elastic=None, probability=None, seed=None):
        """A view whose examples are randomly transformed when read (nothing is copied).

        rotate, shear (degrees) and shift, shift_x, shift_y (pixels): a number v
        means the range [-v, v], a pair (min, max) that range; shift sets both
        axes.  scale: a pair (min, max), or a number for that exact factor.
        elastic: (alpha, sigma) or alpha alone (sigma 4): Simard's elastic
        distortion.  probability: chance each example is transformed (default 1).
        Every value is drawn uniformly per (seed, pass, example); batch() and get()
        read pass 0, training reads pass = epoch.  Evaluate on the plain set.
        Invalid values raise InvalidArgumentError with the library's message.
        """
        p = _lib.new_struct(_lib.AugmentParams)
        check(L.cnn_augment_params_init(ctypes.byref(p)))

        def span(v, symmetric=True):
            if isinstance(v, (tuple, list)):
                lo, hi = v
                return float(lo), float(hi)
            v = float(v)
            return (-v, v) if symmetric else (v, v)

        if rotate is not None:
            p.rotate_min, p.rotate_max = span(rotate)
        if scale is not None:
            p.scale_min, p.scale_max = span(scale, symmetric=False)
        if shift is not None:
            p.shift_x_min, p.shift_x_max = p.shift_y_min, p.shift_y_max = span(shift)
        if shift_x is not None:
            p.shift_x_min, p.shift_x_max = span(shift_x)
        if shift_y is not None:
            p.shift_y_min, p.shift_y_max = span(shift_y)
        if shear is not None:
            p.shear_min, p.shear_max = span(shear)
        if elastic is not None:
            if isinstance(elastic, (tuple, list)):
                p.elastic_alpha, p.elastic_sigma = float(elastic[0]), float(elastic[1])
            else:
                p.elastic_alpha = float(elastic)
        if probability is not None:
            p.probability = float(probability)
        if seed is not None:
            p.seed = int(seed)
        p.struct_size = ctypes.sizeof(_lib.AugmentParams)  # ours, not the library's
        return Dataset._make(L.cnn_dataset_augment, self.handle, ctypes.byref(p))

    def get(self, index: int) -> Tuple[array.array, int]:
        """(pixels as array('f'), label) of one example."""
        c, h, w = self.shape
        pixels = array.array("f", bytes(4 * c * h * w))
        label = ctypes.c_int32()
        with self._use() as d:
            check(L.cnn_dataset_get(d, index, pixels.buffer_info()[0], ctypes.byref(label)))
        return pixels, label.value

    def batch(self, start: int, count: int) -> Tuple[Tensor, array.array]:
        """(Tensor (count, C, H, W), labels array('i')) of a range of examples."""
        c, h, w = self.shape
        x = Tensor((count, c, h, w))
        labels = array.array("i", bytes(4 * count))
        with self._use() as d, x._use() as xh:
            check(L.cnn_dataset_batch(d, start, count, xh, labels.buffer_info()[0]))
        return x, labels

    def labels(self) -> array.array:
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
