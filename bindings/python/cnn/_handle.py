"""Lifetime and exclusive-use rules shared by every libcnn handle.

The C library trusts its caller: a freed handle, a buffer shorter than its
shape or a network used by two threads at once corrupts memory.  This
module is where the Python binding enforces those rules, so that no
sequence of Python calls can crash the process:

- a handle object owns its C object through a _Resource; close() drops the
  object's reference, and the C object is freed once nothing else holds
  the _Resource.  Zero-copy memoryviews (params(), Tensor.data) hold it
  too, so a view never dangles: the memory lives as long as the view;
- every C call on a handle runs inside `with obj._use() as ptr:`, which
  raises ValueError once the object is closed, and StateError when an
  exclusive handle (a network, an optimizer, a layer) is already in use by
  another call -- another thread, or a training callback calling back into
  the network it is training.  close() raises StateError while a call is
  running, instead of freeing memory that call is using.
"""
import ctypes
import threading
import weakref
from contextlib import contextmanager

from .errors import StateError


class _Resource:
    """One C object and the function that frees it.  Freed when the last
    reference goes: its handle object's, or a zero-copy view's."""

    __slots__ = ("ptr", "destroy", "keep", "__weakref__")

    def __init__(self, ptr, destroy=None, keep=None):
        self.ptr, self.destroy, self.keep = ptr, destroy, keep

    def release(self):
        """Stops this resource from freeing the object (ownership moved)."""
        self.destroy = None

    def __del__(self):
        ptr, destroy = self.ptr, self.destroy
        self.ptr = self.destroy = None
        if ptr and destroy is not None:
            destroy(ptr)


class Handle:
    """Base of Tensor, Layer, Net, SGD and Dataset.

    Subclasses call _init_handle() with the C pointer and its destroy
    function (None for borrowed pointers), and set _what (for messages) and
    _exclusive (True: one call at a time; False: any number of concurrent
    readers, as for datasets and input tensors).
    """

    _what = "object"
    _exclusive = True

    def _init_handle(self, ptr, destroy=None, keep=None):
        self._res = _Resource(ptr, destroy, keep)
        self._guard = threading.Lock()  # protects _res and _users; never held across C calls
        self._users = 0
        self._views = []  # weak references to exported zero-copy views

    @property
    def closed(self):
        return getattr(self, "_res", None) is None

    def _parent(self):
        """The handle whose _use() this one's calls go through, or None."""
        return None

    @contextmanager
    def _use(self):
        """The C pointer, held in use for the duration of the with-block."""
        parent = self._parent()
        if parent is not None:
            with parent._use():
                with self._use_own() as ptr:
                    yield ptr
        else:
            with self._use_own() as ptr:
                yield ptr

    @contextmanager
    def _use_own(self):
        with self._guard:
            res = getattr(self, "_res", None)
            if res is None or not res.ptr:
                raise ValueError("%s is closed" % self._what)
            if self._exclusive and self._users:
                raise StateError(
                    "%s is already in use: a libcnn %s must not be used by two threads at "
                    "once, nor from inside a callback of a call running on it (give each "
                    "thread its own, e.g. Net.clone())" % (self._what, self._what))
            self._users += 1
        try:
            yield res.ptr
        finally:
            with self._guard:
                self._users -= 1

    @property
    def handle(self):
        """The raw C pointer (for passing to ctypes yourself; not guarded)."""
        with self._use() as ptr:
            return ptr

    def close(self):
        """Releases the C object now rather than at garbage collection.
        Further calls raise ValueError.  Memory that a zero-copy view still
        uses is freed when the last view goes.  Raises StateError while a
        call on this object is running (training, another thread)."""
        with self._guard:
            if self._users:
                raise StateError("cannot close a %s while a call on it is running "
                                 "(training, or another thread)" % self._what)
            res, self._res = getattr(self, "_res", None), None
        del res  # frees the C object unless a view still holds it

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- zero-copy views ------------------------------------------------
    def _live_views(self):
        self._views = [v for v in self._views if v() is not None]
        return len(self._views)

    def _view(self, address, count, res):
        """A writable memoryview('f') of count floats at address, keeping
        res (the C object that owns the memory) alive, registered on self
        so that operations that would move the memory can refuse."""
        arr = (ctypes.c_float * count).from_address(address)
        arr._res = res
        self._views.append(weakref.ref(arr))
        return memoryview(arr).cast("B").cast("f")
