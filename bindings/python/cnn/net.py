"""Networks, the SGD optimizer and the training loop."""
import array
import ctypes
import os
from collections import namedtuple

from . import _lib
from .errors import CanceledError, check
from .layers import Layer, MODES
from .tensor import Tensor, _float_view, _np, as_tensor

L = _lib.lib

Progress = namedtuple("Progress", "epoch epochs batch batches cost seconds")
EpochReport = namedtuple("EpochReport", "epoch epochs train_cost validation_accuracy "
                         "test_accuracy seconds images_per_second best_epoch "
                         "best_validation_accuracy test_accuracy_at_best")
TrainResult = namedtuple("TrainResult", "epochs_run best_epoch best_validation_accuracy "
                         "test_accuracy_at_best final_train_cost seconds canceled")


def _read(struct_ptr, tuple_type):
    """Copies a callback struct into a namedtuple, reading only the fields
    the library's struct_size says it filled (an older library may pass a
    shorter struct); missing ones read as None."""
    s = struct_ptr.contents
    values = []
    for name in tuple_type._fields:
        field = getattr(type(s), name)
        values.append(getattr(s, name) if field.offset + field.size <= s.struct_size else None)
    return tuple_type(*values)


class SGD:
    """Stochastic gradient descent (network3: momentum 0, optional L2)."""

    def __init__(self, learning_rate, *, momentum=None, l2=None, l2_batches=None):
        p = _lib.new_struct(_lib.SgdParams)
        check(L.cnn_sgd_params_init(ctypes.byref(p), learning_rate))
        for name, value in (("momentum", momentum), ("l2", l2), ("l2_batches", l2_batches)):
            if value is not None:
                setattr(p, name, value)
        p.struct_size = ctypes.sizeof(_lib.SgdParams)
        self._h = _lib.P_OPT()
        check(L.cnn_sgd_create(ctypes.byref(p), ctypes.byref(self._h)))

    def __del__(self):
        if getattr(self, "_h", None):
            L.cnn_optimizer_destroy(self._h)
        self._h = None

    def step(self, net):
        check(L.cnn_optimizer_step(self._h, net.handle), net.handle)


class _Callbacks:
    """ctypes trampolines for cnn_train's callbacks.

    A Python exception must never unwind through C frames, and ctypes would
    only print and swallow it.  So every exception (KeyboardInterrupt
    included) is caught here, stored, and turned into a non-zero return that
    cancels training; Net.train re-raises it once cnn_train has returned.
    """

    def __init__(self, on_progress, on_epoch):
        self.error = None
        self.user_canceled = False
        self._on_progress, self._on_epoch = on_progress, on_epoch
        # The CFUNCTYPE objects must outlive the cnn_train call: kept on self.
        self.progress_fn = _lib.PROGRESS_FN(self._progress)
        self.epoch_fn = _lib.EPOCH_FN(self._epoch)

    def _call(self, fn, ptr, tuple_type):
        if self.error is not None:
            return 1
        try:
            if fn is not None and fn(_read(ptr, tuple_type)):
                self.user_canceled = True
                return 1
            return 0
        except BaseException as e:  # noqa: B902 - re-raised by Net.train
            self.error = e
            return 1

    def _progress(self, ptr, _user):
        return self._call(self._on_progress, ptr, Progress)

    def _epoch(self, ptr, _user):
        return self._call(self._on_epoch, ptr, EpochReport)


class Net:
    """An ordered stack of layers for inputs of shape (C, H, W)."""

    def __init__(self, input_shape, seed=0, _handle=None):
        if _handle is not None:
            self._h = _handle
        else:
            c, h, w = input_shape
            self._h = _lib.P_NET()
            check(L.cnn_net_create(c, h, w, seed, ctypes.byref(self._h)))

    def __del__(self):
        if getattr(self, "_h", None):
            L.cnn_net_destroy(self._h)
        self._h = None

    close = __del__

    @property
    def handle(self):
        if not self._h:
            raise ValueError("network is closed")
        return self._h

    def _check(self, status):
        check(status, self._h)

    # ---- building -----------------------------------------------------
    def add(self, layer):
        """Appends layer; the network takes ownership.  Returns self.
        Invalidates earlier views from params()/grads()."""
        if layer._owner is not None:
            raise ValueError("layer already belongs to a network")
        self._check(L.cnn_net_add(self.handle, layer.handle))
        layer._owner = self  # the net frees it now; the layer keeps the net alive
        return self

    def __len__(self):
        return L.cnn_net_layer_count(self.handle)

    def layer(self, index):
        if not 0 <= index < len(self):
            raise IndexError(index)
        return Layer(L.cnn_net_layer(self.handle, index), owner=self)

    @property
    def layers(self):
        return [self.layer(i) for i in range(len(self))]

    def _shape(self, fn):
        s = (ctypes.c_int32 * 3)()
        self._check(fn(self.handle, s))
        return tuple(s)

    @property
    def input_shape(self):
        return self._shape(L.cnn_net_input_shape)

    @property
    def output_shape(self):
        return self._shape(L.cnn_net_output_shape)

    @property
    def param_count(self):
        return L.cnn_net_param_count(self.handle)

    def params(self):
        """Zero-copy writable memoryview('f') of all parameters (valid until
        the next add()); use numpy.asarray(view) for a NumPy view."""
        return _float_view(L.cnn_net_params(self.handle), self.param_count, self)

    def grads(self):
        return _float_view(L.cnn_net_grads(self.handle), self.param_count, self)

    def init_weights(self, seed):
        self._check(L.cnn_net_init_weights(self.handle, seed))

    def clone(self):
        h = _lib.P_NET()
        self._check(L.cnn_net_clone(self.handle, ctypes.byref(h)))
        return Net(None, _handle=h)

    def set_threads(self, threads):
        self._check(L.cnn_net_set_threads(self.handle, threads))

    @property
    def errmsg(self):
        return (L.cnn_net_errmsg(self.handle) or b"").decode("utf-8", "replace")

    # ---- running ------------------------------------------------------
    def forward(self, x, mode="infer"):
        """Output batch as a new Tensor (N, C, H, W), or (N, features)."""
        x = as_tensor(x)
        c, h, w = self.output_shape
        n = x.shape[0]
        y = Tensor((n, c) if h == w == 1 else (n, c, h, w))
        self._check(L.cnn_net_forward(self.handle, x.handle, MODES.get(mode, mode), y.handle))
        return y

    def backward(self, labels):
        """Gradients after a forward(mode="train"); returns the batch cost."""
        lab = array.array("i", labels)
        cost = ctypes.c_double()
        self._check(L.cnn_net_backward(self.handle, lab.buffer_info()[0], ctypes.byref(cost)))
        return cost.value

    def predict(self, x):
        """Predicted labels of a batch (Tensor or ndarray) as a list of ints."""
        x = as_tensor(x)
        labels = array.array("i", bytes(4 * x.shape[0]))
        self._check(L.cnn_net_predict(self.handle, x.handle, labels.buffer_info()[0]))
        return labels.tolist()

    def predict_dataset(self, dataset, batch=1000):
        labels = array.array("i", bytes(4 * len(dataset)))
        self._check(L.cnn_net_predict_dataset(self.handle, dataset.handle, batch,
                                              labels.buffer_info()[0]))
        return labels.tolist()

    def evaluate(self, dataset, batch=1000):
        """(accuracy, mean cost) over a dataset, inference mode."""
        acc, cost = ctypes.c_double(), ctypes.c_double()
        self._check(L.cnn_net_evaluate(self.handle, dataset.handle, batch,
                                       ctypes.byref(acc), ctypes.byref(cost)))
        return acc.value, cost.value

    def train_step(self, optimizer, x, labels):
        x = as_tensor(x)
        lab = array.array("i", labels)
        cost = ctypes.c_double()
        self._check(L.cnn_train_step(self.handle, optimizer._h, x.handle,
                                     lab.buffer_info()[0], ctypes.byref(cost)))
        return cost.value

    def train(self, train, optimizer, epochs, *, batch_size=None, shuffle=None, seed=None,
              validation=None, test=None, eval_batch_size=None, progress_every=None,
              on_progress=None, on_epoch=None):
        """Mini-batch SGD (cnn_train).  Callbacks get a Progress / EpochReport
        namedtuple; returning a true value stops training (the result then
        has canceled=True).  An exception raised by a callback stops training
        and is re-raised here."""
        p = _lib.new_struct(_lib.TrainParams)
        check(L.cnn_train_params_init(ctypes.byref(p), epochs))
        for name, value in (("batch_size", batch_size), ("seed", seed),
                            ("eval_batch_size", eval_batch_size),
                            ("progress_every", progress_every)):
            if value is not None:
                setattr(p, name, value)
        if shuffle is not None:
            p.shuffle = 1 if shuffle else 0
        p.validation = validation.handle if validation is not None else None
        p.test = test.handle if test is not None else None
        # Always installed, so Ctrl-C (delivered when Python code runs in a
        # trampoline) cancels training cleanly even without user callbacks.
        cb = _Callbacks(on_progress, on_epoch)
        p.on_progress, p.on_epoch = cb.progress_fn, cb.epoch_fn
        p.struct_size = ctypes.sizeof(_lib.TrainParams)
        r = _lib.TrainResult()
        r.struct_size = ctypes.sizeof(r)
        status = L.cnn_train(self.handle, optimizer._h, train.handle, ctypes.byref(p),
                             ctypes.byref(r))
        if cb.error is not None:
            raise cb.error
        canceled = status == CanceledError.status and cb.user_canceled
        if not canceled:
            self._check(status)
        return TrainResult(r.epochs_run, r.best_epoch, r.best_validation_accuracy,
                           r.test_accuracy_at_best, r.final_train_cost, r.seconds, canceled)

    # ---- files --------------------------------------------------------
    def save(self, path):
        self._check(L.cnn_net_save(self.handle, os.fsencode(path)))

    @classmethod
    def load(cls, path):
        h = _lib.P_NET()
        check(L.cnn_net_load(os.fsencode(path), ctypes.byref(h)))
        return cls(None, _handle=h)

    def to_bytes(self):
        data, size = ctypes.c_void_p(), ctypes.c_size_t()
        self._check(L.cnn_net_save_buffer(self.handle, ctypes.byref(data), ctypes.byref(size)))
        try:
            return ctypes.string_at(data, size.value)
        finally:
            L.cnn_free(data)

    @classmethod
    def from_bytes(cls, data):
        data = bytes(data)
        h = _lib.P_NET()
        check(L.cnn_net_load_buffer(data, len(data), ctypes.byref(h)))
        return cls(None, _handle=h)

    def __repr__(self):
        return "Net(%r -> %r, %d layers)" % (self.input_shape, self.output_shape, len(self))
