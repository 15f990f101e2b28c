"""Tensor: a float32 NCHW array owned by libcnn (or borrowed from it).

Data is exposed without copying: .data is a memoryview of format 'f' over
the C buffer, .numpy() a NumPy view of it when NumPy is installed.  A view
keeps its tensor (and, for borrowed parameter tensors, the owning layer or
network) alive, so it can never dangle because of Python garbage collection.
"""
import array
import ctypes

from . import _lib
from .errors import check

try:  # optional: zero-copy interop when present
    import numpy as _np
except ImportError:  # pragma: no cover - exercised on numpy-less systems
    _np = None

L = _lib.lib


def _shape_arg(shape):
    shape = tuple(int(s) for s in shape)
    return len(shape), (ctypes.c_int64 * max(len(shape), 1))(*shape)


def _float_view(ptr, count, owner):
    """memoryview('f') over count floats at ptr, keeping owner alive."""
    if count == 0 or not ptr:
        return memoryview(array.array("f"))
    arr = (ctypes.c_float * count).from_address(ctypes.addressof(ptr.contents))
    arr._owner = owner  # the C memory lives as long as its owner
    return memoryview(arr).cast("B").cast("f")


class Tensor:
    """A rank 1-4 float32 tensor.

    Tensor(shape)              zero-filled, owned
    Tensor.from_data(values, shape=None)  copy of a sequence / buffer / ndarray
    Tensor.wrap(buffer, shape) zero-copy over a writable float32 buffer
    """

    def __init__(self, shape=None, _handle=None, _owner=None, _keep=None):
        if _handle is not None:
            self._h, self._owner, self._keep = _handle, _owner, _keep
            return
        n, dims = _shape_arg(shape)
        h = _lib.P_TENSOR()
        check(L.cnn_tensor_create(n, dims, ctypes.byref(h)))
        self._h, self._owner, self._keep = h, None, None

    @classmethod
    def from_data(cls, values, shape=None):
        """Copies values (floats: list, array, buffer or ndarray) into a new tensor."""
        if _np is not None and isinstance(values, _np.ndarray):
            values = _np.ascontiguousarray(values, dtype=_np.float32)
            shape = values.shape if shape is None else shape
            values = values.reshape(-1)
        else:
            if not isinstance(values, array.array):
                values = array.array("f", _flatten(values))
            if shape is None:
                shape = (len(values),)
        t = cls(shape)
        t.copy_in(values)
        return t

    @classmethod
    def wrap(cls, buffer, shape):
        """A tensor over buffer's memory (no copy).  The buffer must be
        writable float32 and C-contiguous; the tensor keeps it alive."""
        mv = memoryview(buffer)
        if mv.readonly or not mv.c_contiguous or mv.itemsize != 4 or mv.format not in ("f", "<f"):
            raise TypeError("wrap needs a writable, contiguous float32 buffer")
        c_buf = (ctypes.c_char * mv.nbytes).from_buffer(mv.cast("B"))
        n, dims = _shape_arg(shape)
        h = _lib.P_TENSOR()
        check(L.cnn_tensor_wrap(n, dims, c_buf, ctypes.byref(h)))
        return cls(_handle=h, _owner=None, _keep=(mv, c_buf))

    def __del__(self):
        h = getattr(self, "_h", None)
        # Borrowed tensors (layer parameters) belong to their layer.
        if h and self._owner is None:
            L.cnn_tensor_destroy(h)
            self._h = None

    def close(self):
        """Frees the tensor now rather than when it is garbage-collected."""
        self.__del__()

    @property
    def handle(self):
        if not self._h:
            raise ValueError("tensor is closed")
        return self._h

    @property
    def shape(self):
        h = self.handle
        return tuple(L.cnn_tensor_dim(h, i) for i in range(L.cnn_tensor_ndim(h)))

    def __len__(self):
        return self.shape[0]

    @property
    def numel(self):
        return L.cnn_tensor_numel(self.handle)

    @property
    def data(self):
        """Zero-copy memoryview('f') of the elements, flat, writable."""
        return _float_view(L.cnn_tensor_data(self.handle), self.numel, self)

    def numpy(self):
        """Zero-copy NumPy view with the tensor's shape (needs NumPy)."""
        if _np is None:
            raise RuntimeError("numpy is not installed")
        return _np.frombuffer(self.data, dtype=_np.float32).reshape(self.shape)

    def tolist(self):
        return self.data.tolist()

    def reshape(self, shape):
        n, dims = _shape_arg(shape)
        check(L.cnn_tensor_reshape(self.handle, n, dims))
        return self

    def copy_in(self, values):
        """Copies exactly numel floats from an ndarray, buffer or sequence."""
        ptr, count, keep = _float_source(values)
        check(L.cnn_tensor_copy_in(self.handle, ptr, count))
        del keep

    def __repr__(self):
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
    arr = array.array("f", _flatten(values))
    return arr.buffer_info()[0], len(arr), arr


def _flatten(values):
    for v in values:
        if isinstance(v, (list, tuple)):
            yield from _flatten(v)
        else:
            yield float(v)


def as_tensor(x):
    """A Tensor for x: returned as-is, wrapped (float32 ndarray) or copied."""
    if isinstance(x, Tensor):
        return x
    if _np is not None and isinstance(x, _np.ndarray):
        if x.dtype == _np.float32 and x.flags.c_contiguous and x.flags.writeable:
            return Tensor.wrap(x, x.shape)
        return Tensor.from_data(x)
    raise TypeError("expected a cnn.Tensor or numpy array, got %s" % type(x).__name__)
