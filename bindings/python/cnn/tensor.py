"""Tensor: a float32 NCHW array owned by libcnn (or borrowed from it).

Data is exposed without copying: .data is a memoryview of format 'f' over
the C buffer, .numpy() a NumPy view of it when NumPy is installed.  A view
keeps its tensor (and, for borrowed parameter tensors, the owning layer or
network) alive, so it can never dangle because of Python garbage collection.
"""
from typing import Any, List, Optional, Sequence, Tuple

import array
import ctypes
import operator

from . import _lib
from ._handle import Handle
from .errors import check

_np: Any
try:  # optional: zero-copy interop when present
    import numpy
    _np = numpy
except ImportError:  # pragma: no cover - exercised on numpy-less systems
    _np = None

L = _lib.lib


def _shape_arg(shape):
    shape = tuple(shape)
    return len(shape), _lib.int_array(ctypes.c_int64, shape, "tensor dimension")


def _numel(shape):
    n = 1
    for s in shape:
        n *= operator.index(s)
    return n


class Tensor(Handle):
    """A rank 1-4 float32 tensor.

    Tensor(shape)              zero-filled, owned
    Tensor.from_data(values, shape=None)  copy of a sequence / buffer / ndarray
    Tensor.wrap(buffer, shape) zero-copy over a writable float32 buffer

    close() frees it now; a view from .data or numpy() keeps the memory
    alive until the view goes.  A layer's parameter tensor (Layer.param)
    follows its layer: it raises once the layer's network is closed.
    """

    _what = "tensor"
    _exclusive = False  # any number of calls may read one tensor

    def __init__(self, shape=None, _handle=None, _owner=None, _keep=None):
        if _handle is not None:
            # _owner: the Layer a borrowed parameter tensor belongs to.
            self._owner = _owner
            self._init_handle(_handle, None if _owner is not None else L.cnn_tensor_destroy,
                              _keep)
            return
        n, dims = _shape_arg(shape)
        h = _lib.P_TENSOR()
        check(L.cnn_tensor_create(n, dims, ctypes.byref(h)))
        self._owner = None
        self._init_handle(h, L.cnn_tensor_destroy)

    def _parent(self):
        return self._owner

    @classmethod
    def from_data(cls, values: Any, shape: Optional[Sequence[int]] = None) -> "Tensor":
        """Copies values (floats: list, array, buffer or ndarray) into a new tensor.
        Nested lists must be rectangular."""
        if _np is not None and isinstance(values, _np.ndarray):
            values = _np.ascontiguousarray(values, dtype=_np.float32)
            shape = values.shape if shape is None else shape
            values = values.reshape(-1)
        else:
            if not isinstance(values, array.array):
                values = _flat_array(values)
            if shape is None:
                shape = (len(values),)
        t = cls(shape)
        t.copy_in(values)
        return t

    @classmethod
    def wrap(cls, buffer: Any, shape: Sequence[int]) -> "Tensor":
        """A tensor over buffer's memory (no copy).  The buffer must be
        writable float32 and C-contiguous, and hold exactly the shape's
        number of elements; the tensor keeps it alive."""
        mv = memoryview(buffer)
        if mv.readonly or not mv.c_contiguous or mv.itemsize != 4 or mv.format not in ("f", "<f"):
            raise TypeError("wrap needs a writable, contiguous float32 buffer")
        n, dims = _shape_arg(shape)
        need = _numel(shape)
        if mv.nbytes != 4 * need:
            raise ValueError("wrap: the buffer holds %d floats, shape %r needs %d"
                             % (mv.nbytes // 4, tuple(shape), need))
        c_buf = (ctypes.c_char * mv.nbytes).from_buffer(mv.cast("B"))
        h = _lib.P_TENSOR()
        check(L.cnn_tensor_wrap(n, dims, c_buf, ctypes.byref(h)))
        return cls(_handle=h, _owner=None, _keep=(mv, c_buf))

    @property
    def shape(self) -> Tuple[int, ...]:
        with self._use() as h:
            return tuple(L.cnn_tensor_dim(h, i) for i in range(L.cnn_tensor_ndim(h)))

    def __len__(self):
        return self.shape[0]

    @property
    def numel(self) -> int:
        with self._use() as h:
            return L.cnn_tensor_numel(h)

    def _storage(self):
        """(handle whose views to track, resource that owns the memory)."""
        if self._owner is not None:
            return self._owner._storage()
        return self, self._res

    @property
    def data(self):
        """Zero-copy memoryview('f') of the elements, flat, writable.  It
        keeps the memory alive, even past close()."""
        with self._use() as h:
            count = L.cnn_tensor_numel(h)
            ptr = L.cnn_tensor_data(h)
            if count == 0 or not ptr:
                return memoryview(array.array("f"))
            holder, res = self._storage()
            return holder._view(ctypes.addressof(ptr.contents), count, res)

    def numpy(self) -> Any:
        """Zero-copy NumPy view with the tensor's shape (needs NumPy)."""
        if _np is None:
            raise RuntimeError("numpy is not installed")
        return _np.frombuffer(self.data, dtype=_np.float32).reshape(self.shape)

    def tolist(self) -> List[float]:
        return self.data.tolist()

    def reshape(self, shape: Sequence[int]) -> "Tensor":
        n, dims = _shape_arg(shape)
        with self._use() as h:
            check(L.cnn_tensor_reshape(h, n, dims))
        return self

    def copy_in(self, values: Any) -> None:
        """Copies exactly numel floats from an ndarray, buffer or sequence."""
        ptr, count, keep = _float_source(values)
        with self._use() as h:
            check(L.cnn_tensor_copy_in(h, ptr, count))
        del keep

    def __repr__(self):
        if self.closed:
            return "Tensor(closed)"
        return "Tensor(shape=%r)" % (self.shape,)


def _float_source(values):
    """(address, count, keepalive) of values as contiguous float32."""
    if _np is not None and isinstance(values, _np.ndarray):
        arr = _np.ascontiguousarray(values, dtype=_np.float32).reshape(-1)
        return arr.ctypes.data, arr.size, arr
    if isinstance(values, array.array) and values.typecode == "f":
        return values.buffer_info()[0], len(values), values
    if isinstance(values, memoryview) and values.format == "f" and not values.readonly \
            and values.c_contiguous:
        buf = (ctypes.c_char * values.nbytes).from_buffer(values.cast("B"))
        return ctypes.addressof(buf), values.nbytes // 4, buf
    arr = _flat_array(values)
    return arr.buffer_info()[0], len(arr), arr


def _flat_array(values):
    """array('f') of a flat or nested sequence; ValueError if ragged."""
    if not isinstance(values, (list, tuple)):
        values = list(values)  # any other iterable of numbers
    out = array.array("f")
    _flatten_into(values, out, _nested_shape(values), 0)
    return out


def _nested_shape(values):
    shape = []
    while isinstance(values, (list, tuple)):
        shape.append(len(values))
        if not values:
            break
        values = values[0]
    return shape


def _flatten_into(values, out, shape, depth):
    if depth == len(shape):
        if isinstance(values, (list, tuple)):
            raise ValueError("ragged nested sequence: a list where a number belongs")
        out.append(float(values))
        return
    if not isinstance(values, (list, tuple)) or len(values) != shape[depth]:
        raise ValueError("ragged nested sequence: expected %d items at depth %d, got %s"
                         % (shape[depth], depth, len(values)
                            if isinstance(values, (list, tuple)) else "a number"))
    for v in values:
        _flatten_into(v, out, shape, depth + 1)


def image_batch(x: Any) -> "Tensor":
    """A Tensor for a batch of images given to a network: a Tensor as it is;
    a NumPy array of uint8 pixels scaled by 1/256 (the library's convention
    for bytes, as its datasets read them) or of float32 values taken as
    they are.  Any other dtype is refused: a float64 array of 0-255 values,
    or of [0, 1] values, would otherwise be read in a scale the network was
    not trained on, and nothing would say so."""
    if isinstance(x, Tensor):
        return x
    if _np is not None and isinstance(x, _np.ndarray):
        if x.dtype == _np.uint8:
            return Tensor.from_data(x.astype(_np.float32) / 256.0)
        if x.dtype == _np.float32:
            return as_tensor(x)
        raise TypeError("images must be a uint8 array (pixels 0-255, read as value/256, as "
                        "datasets are) or a float32 array (taken as is); got %s: convert it, "
                        "e.g. x.astype(numpy.float32)" % x.dtype)
    return as_tensor(x)


def as_tensor(x: Any) -> "Tensor":
    """A Tensor for x: returned as-is, wrapped (float32 ndarray) or copied."""
    if isinstance(x, Tensor):
        return x
    if _np is not None and isinstance(x, _np.ndarray):
        if x.dtype == _np.float32 and x.flags.c_contiguous and x.flags.writeable:
            return Tensor.wrap(x, x.shape)
        return Tensor.from_data(x)
    raise TypeError("expected a cnn.Tensor or numpy array, got %s" % type(x).__name__)
