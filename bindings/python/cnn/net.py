"""Networks, the SGD optimizer and the training loop."""
from typing import (TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional, Sequence,
                    Tuple, Union)

import array
import contextlib
import ctypes
import operator
import sys
import threading
from collections import namedtuple

from . import _lib
from ._handle import Handle
from .errors import CanceledError, ShapeError, StateError, check
from .layers import Layer, MODES
from .tensor import Tensor, _np, as_tensor, image_batch

if TYPE_CHECKING:
    from .dataset import Dataset

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


class Optimizer(Handle):
    """What every optimizer has: step() and the learning rate."""

    _what = "optimizer"

    def step(self, net: "Net") -> None:
        with self._use() as oh, net._use() as nh:
            check(L.cnn_optimizer_step(oh, nh), nh)

    @property
    def learning_rate(self) -> float:
        """The rate the next step uses (cnn_optimizer_learning_rate); settable.
        Net.train's schedules set it every step."""
        with self._use() as oh:
            return L.cnn_optimizer_learning_rate(oh)

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        with self._use() as oh:
            check(L.cnn_optimizer_set_learning_rate(oh, value))


class SGD(Optimizer):
    """Stochastic gradient descent (network3: momentum 0, optional L2);
    nesterov=True for Nesterov momentum (needs momentum > 0)."""

    def __init__(self, learning_rate, *, momentum=None, l2=None, l2_batches=None,
                 nesterov=None):
        p = _lib.new_struct(_lib.SgdParams)
        check(L.cnn_sgd_params_init(ctypes.byref(p), learning_rate))
        for name, value in (("momentum", momentum), ("l2", l2), ("l2_batches", l2_batches)):
            if value is not None:
                _lib.set_field(p, name, value)
        if nesterov is not None:
            p.nesterov = 1 if nesterov else 0
        p.struct_size = ctypes.sizeof(_lib.SgdParams)
        h = _lib.P_OPT()
        check(L.cnn_sgd_create(ctypes.byref(p), ctypes.byref(h)))
        self._init_handle(h, L.cnn_optimizer_destroy)


class Adam(Optimizer):
    """Adam with bias correction (cnn_adam_create); weight_decay is L2 added
    to the gradient, as PyTorch's Adam, and applies to biases too."""

    _decoupled = False

    def __init__(self, learning_rate=0.001, *, beta1=None, beta2=None, epsilon=None,
                 weight_decay=None):
        p = _lib.new_struct(_lib.AdamParams)
        check(L.cnn_adam_params_init(ctypes.byref(p), learning_rate))
        for name, value in (("beta1", beta1), ("beta2", beta2), ("epsilon", epsilon),
                            ("weight_decay", weight_decay)):
            if value is not None:
                setattr(p, name, value)
        p.decoupled = 1 if self._decoupled else 0
        p.struct_size = ctypes.sizeof(_lib.AdamParams)
        h = _lib.P_OPT()
        check(L.cnn_adam_create(ctypes.byref(p), ctypes.byref(h)))
        self._init_handle(h, L.cnn_optimizer_destroy)


class AdamW(Adam):
    """AdamW: weight decay decoupled from the gradient, W *= 1 - lr*wd each
    step (PyTorch's AdamW), biases included."""

    _decoupled = True


SCHEDULES = {"constant": 0, "step": 1, "cosine": 2, "onecycle": 3}
_SCHEDULE_FIELDS = ("schedule_gamma", "schedule_step", "warmup_fraction",
                    "initial_lr_fraction", "final_lr_fraction")


def _set_schedule(p, schedule, options):
    if schedule is not None:
        if schedule not in SCHEDULES:
            raise ValueError("schedule must be one of %s, not %r"
                             % (", ".join(sorted(SCHEDULES)), schedule))
        p.schedule = SCHEDULES[schedule]
    for name, value in options.items():
        if name == "schedule_step_epochs":
            p.schedule_step_epochs = 1 if value else 0
        elif name in _SCHEDULE_FIELDS:
            _lib.set_field(p, name, value)
        else:
            raise TypeError("unknown schedule option %r" % (name,))


def schedule_rate(schedule, base, step, total, steps_per_epoch, **options):
    """The rate Net.train sets before 0-based step `step` of `total`
    (cnn_schedule_rate); options as for Net.train."""
    p = _lib.new_struct(_lib.TrainParams)
    check(L.cnn_train_params_init(ctypes.byref(p), 1))
    _set_schedule(p, schedule, options)
    p.struct_size = ctypes.sizeof(_lib.TrainParams)
    return L.cnn_schedule_rate(ctypes.byref(p), base, step, total, steps_per_epoch)


class _Callbacks:
    """ctypes trampolines for cnn_train's callbacks.

    A Python exception must never unwind through C frames, and ctypes would
    only print and swallow it.  So every exception (KeyboardInterrupt
    included) is caught here, stored, and turned into a non-zero return that
    cancels training; Net.train re-raises it once cnn_train has returned.

    Ctrl-C can also arrive as the trampoline is entered, before any of its
    code runs: ctypes then reports the KeyboardInterrupt to
    sys.unraisablehook.  _unraisable_hook (installed by Net.train) claims
    such exceptions for the _Callbacks they came from, so that they too
    cancel the run and are re-raised by Net.train.
    """

    def __init__(self, on_progress, on_epoch, reduce=None):
        self.error = None
        self.user_canceled = False
        self._on_progress, self._on_epoch = on_progress, on_epoch
        self._on_reduce = reduce
        self.has_reduce = reduce is not None
        # The CFUNCTYPE objects must outlive the cnn_train call: kept on self.
        self.progress_fn = _lib.PROGRESS_FN(self._progress)
        self.epoch_fn = _lib.EPOCH_FN(self._epoch)
        self.reduce_fn = _lib.REDUCE_FN(self._reduce)

    def _progress(self, ptr, _user):
        return self._call(self._on_progress, ptr, Progress)

    def _epoch(self, ptr, _user):
        return self._call(self._on_epoch, ptr, EpochReport)

    def _reduce(self, values, n, cost, local, global_examples, _user):
        """cnn_reduce_fn: hands the user's reduce a writable memoryview('f')
        of the n values (valid during the call only) and the cost (None when
        the library passes none); its return value is the reduced cost."""
        try:
            if self.error is not None:
                return 1
            view = _float_view(values, n)
            c = cost[0] if cost else None
            reduced = self._on_reduce(view, c, local, global_examples)
            if cost:
                if reduced is None:
                    raise TypeError("shard reduce: return the reduced cost (got None)")
                cost[0] = float(reduced)
            return 0
        except BaseException as e:  # noqa: B902 - re-raised by Net.train
            if self.error is None:
                self.error = e
            return 1

    def _call(self, fn, ptr, cls):
        """Runs a user callback; 1 (cancel) if it asks to stop or raises (the
        exception is kept and re-raised by Net.train)."""
        try:
            if self.error is not None:
                return 1
            if fn is not None and fn(_read(ptr, cls)):
                self.user_canceled = True
                return 1
            return 0
        except BaseException as e:  # noqa: B902 - re-raised by Net.train
            if self.error is None:
                self.error = e
            return 1


def _float_view(pointer, n):
    """A writable memoryview('f') over n floats at a ctypes float pointer
    (empty for n == 0, where the pointer may be NULL)."""
    if n == 0:
        return memoryview(array.array("f"))
    arr = (ctypes.c_float * n).from_address(ctypes.addressof(pointer.contents))
    return memoryview(arr).cast("B").cast("f")


def _shard_arg(shard):
    """train()'s shard=(rank, count, reduce), checked."""
    try:
        rank, count, reduce = shard
    except (TypeError, ValueError):
        raise TypeError("shard: expected (rank, count, reduce)") from None
    if not callable(reduce) and not (reduce is None and count == 1):
        raise TypeError("shard: reduce must be callable (None only with count 1)")
    return rank, count, reduce


def _shard_params(rank, count, cb):
    """The ShardParams of piece rank of count, reducing through cb."""
    sp = _lib.new_struct(_lib.ShardParams)
    check(L.cnn_shard_params_init(ctypes.byref(sp), _lib.check_int(rank, ctypes.c_int32, "rank"),
                                  _lib.check_int(count, ctypes.c_int32, "count")))
    if cb.has_reduce:
        sp.reduce = cb.reduce_fn
    return sp


def _load_limits(max_param_bytes, max_workspace_bytes, max_flops):
    """A LoadLimits with the library's defaults and the given overrides."""
    lim = _lib.LoadLimits()
    check(L.cnn_load_limits_init(ctypes.byref(lim), ctypes.sizeof(lim)))
    for name, value in (("max_param_bytes", max_param_bytes),
                        ("max_workspace_bytes", max_workspace_bytes),
                        ("max_flops", max_flops)):
        if value is not None:
            _lib.set_field(lim, name, value)
    return lim


_previous_unraisable_hook = None
# The _Callbacks of the training run in progress on this thread, if any.
_active = threading.local()


def _unraisable_hook(unraisable):
    owner = getattr(unraisable.object, "__self__", None)
    if not isinstance(owner, _Callbacks) and isinstance(unraisable.exc_value, KeyboardInterrupt):
        # Ctrl-C that lands in other Python code run during training (a
        # finalizer run by the garbage collector, say) would be swallowed as
        # unraisable: it belongs to the run in progress, which it cancels.
        owner = getattr(_active, "callbacks", None)
    if isinstance(owner, _Callbacks) and unraisable.exc_value is not None:
        if owner.error is None:
            owner.error = unraisable.exc_value
        return
    (_previous_unraisable_hook or sys.__unraisablehook__)(unraisable)


def _install_unraisable_hook():
    global _previous_unraisable_hook
    if sys.unraisablehook is not _unraisable_hook:
        _previous_unraisable_hook = sys.unraisablehook
        sys.unraisablehook = _unraisable_hook


def _labels_arg(labels, count, what):
    """array('i') of exactly count labels (the batch size)."""
    lab = array.array("i", labels)
    if len(lab) != count:
        raise ValueError("%s: %d labels for a batch of %d" % (what, len(lab), count))
    return lab


def _labels_out(labels):
    """array('i') of labels as a NumPy int32 array, or a list without NumPy."""
    if _np is None:
        return labels.tolist()
    return _np.frombuffer(labels, dtype=_np.int32).copy()


class Net(Handle):
    """An ordered stack of layers for inputs of shape (C, H, W).

    A Net must not be used by two threads at once (the C library's rule):
    a second concurrent call raises StateError instead of corrupting
    memory; give each thread its own copy with clone().  Callbacks of
    train() may not call back into the network being trained.  close()
    frees it now: later calls, and its layers, raise ValueError.
    """

    _what = "network"

    def __init__(self, input_shape, seed=0, _handle=None):
        self._last_n = None  # batch of the last forward(mode="train"), for backward()
        if _handle is None:
            c, h, w = input_shape
            _handle = _lib.P_NET()
            check(L.cnn_net_create(c, h, w, seed, ctypes.byref(_handle)))
        self._init_handle(_handle, L.cnn_net_destroy)

    def _storage(self):
        return self, self._res

    def _check(self, status, h):
        check(status, h)

    # ---- building -----------------------------------------------------
    def add(self, layer: Layer) -> "Net":
        """Appends layer; the network takes ownership.  Returns self.
        Moves the parameters: raises StateError while views from params(),
        grads() or a layer's param(...).data are still alive."""
        if layer._owner is not None:
            raise ValueError("layer already belongs to a network")
        with self._use() as h, layer._use() as lh:
            if layer._owner is not None:
                raise ValueError("layer already belongs to a network")
            if self._live_views() or layer._live_views():
                raise StateError("add() moves the parameters: delete the views from "
                                 "params(), grads() and param(...).data first")
            self._check(L.cnn_net_add(h, lh), h)
            layer._res.release()  # the net frees it now
            layer._owner = self   # and the layer keeps the net alive
        return self

    def __len__(self) -> int:
        with self._use() as h:
            return L.cnn_net_layer_count(h)

    def __iter__(self) -> Iterator[Layer]:
        """The layers, in order (views owned by the network)."""
        return iter(self.layers)

    def __reduce__(self):
        """Pickling goes through the model format (to_bytes/from_bytes):
        architecture and weights, not the optimizer or the workspace."""
        return (Net.from_bytes, (self.to_bytes(),))

    def layer(self, index: int) -> Layer:
        index = operator.index(index)
        with self._use() as h:
            if not 0 <= index < L.cnn_net_layer_count(h):
                raise IndexError(index)
            return Layer(L.cnn_net_layer(h, index), owner=self)

    @property
    def layers(self):
        return [self.layer(i) for i in range(len(self))]

    def _shape(self, fn):
        s = (ctypes.c_int32 * 3)()
        with self._use() as h:
            self._check(fn(h, s), h)
        return tuple(s)

    @property
    def input_shape(self) -> Tuple[int, ...]:
        return self._shape(L.cnn_net_input_shape)

    @property
    def output_shape(self) -> Tuple[int, ...]:
        return self._shape(L.cnn_net_output_shape)

    @property
    def param_count(self) -> int:
        with self._use() as h:
            return L.cnn_net_param_count(h)

    def _flat(self, getter):
        with self._use() as h:
            count, ptr = L.cnn_net_param_count(h), getter(h)
            if count == 0 or not ptr:
                return memoryview(array.array("f"))
            return self._view(ctypes.addressof(ptr.contents), count, self._res)

    def params(self) -> memoryview:
        """Zero-copy writable memoryview('f') of all parameters; use
        numpy.asarray(view) for a NumPy view.  The view keeps the memory
        alive (even past close()); add() refuses while it exists."""
        return self._flat(L.cnn_net_params)

    def grads(self) -> memoryview:
        return self._flat(L.cnn_net_grads)

    def init_weights(self, seed: int) -> None:
        with self._use() as h:
            self._check(L.cnn_net_init_weights(h, seed), h)

    def clone(self) -> "Net":
        out = _lib.P_NET()
        with self._use() as h:
            self._check(L.cnn_net_clone(h, ctypes.byref(out)), h)
        return Net(None, _handle=out)

    def set_threads(self, threads: int) -> None:
        with self._use() as h:
            self._check(L.cnn_net_set_threads(h, threads), h)

    def summary(self) -> str:
        """One line for the input, then one per layer: what it computes, its
        output shape and its parameter count (cnn_net_summary)."""
        need = ctypes.c_size_t()
        with self._use() as h:
            self._check(L.cnn_net_summary(h, None, 0, ctypes.byref(need)), h)
            buf = ctypes.create_string_buffer(need.value)
            self._check(L.cnn_net_summary(h, buf, need.value, None), h)
        return buf.value.decode("utf-8", "replace")

    def set_limits(self, *, max_param_bytes=None, max_workspace_bytes=None, max_flops=None):
        """Limits add() enforces (cnn_net_set_limits); unset ones take the
        library's defaults."""
        lim = _load_limits(max_param_bytes, max_workspace_bytes, max_flops)
        with self._use() as h:
            self._check(L.cnn_net_set_limits(h, ctypes.byref(lim)), h)

    @property
    def limits(self):
        """(max_param_bytes, max_workspace_bytes, max_flops) of this net."""
        lim = _lib.LoadLimits()
        check(L.cnn_load_limits_init(ctypes.byref(lim), ctypes.sizeof(lim)))
        with self._use() as h:
            self._check(L.cnn_net_get_limits(h, ctypes.byref(lim)), h)
        return (lim.max_param_bytes, lim.max_workspace_bytes, lim.max_flops)

    @property
    def errmsg(self):
        with self._use() as h:
            return (L.cnn_net_errmsg(h) or b"").decode("utf-8", "replace")

    # ---- running ------------------------------------------------------
    def forward(self, x: Any, mode: Union[str, int] = "infer") -> Tensor:
        """Output batch as a new Tensor (N, C, H, W), or (N, features).
        x: a Tensor, or a NumPy array of uint8 pixels (read as value/256) or
        float32 values; other dtypes raise TypeError."""
        x = image_batch(x)
        n = x.shape[0]
        if isinstance(mode, str) and mode not in MODES:
            raise ValueError("mode must be 'infer' or 'train', got %r" % mode)
        mode = MODES[mode] if isinstance(mode, str) else mode
        c, h, w = self.output_shape
        y = Tensor((n, c) if h == w == 1 else (n, c, h, w))
        with self._use() as nh, x._use() as xh, y._use() as yh:
            self._last_n = None
            self._check(L.cnn_net_forward(nh, xh, mode, yh), nh)
            if mode == MODES["train"]:
                self._last_n = n
        return y

    def backward(self, labels: Any) -> float:
        """Gradients after a forward(mode="train"); returns the batch cost.
        labels: one per example of that batch."""
        cost = ctypes.c_double()
        with self._use() as h:
            if self._last_n is None:
                raise StateError("backward() needs a forward(mode=\"train\") first")
            lab = _labels_arg(labels, self._last_n, "backward")
            self._check(L.cnn_net_backward(h, lab.buffer_info()[0], ctypes.byref(cost)), h)
        return cost.value

    def predict(self, x: Any) -> Any:
        """Predicted labels of a batch: a NumPy int32 array (a list of ints
        without NumPy).  x: a Tensor, or a NumPy array of uint8 pixels (read
        as value/256) or float32 values; other dtypes raise TypeError."""
        x = image_batch(x)
        labels = array.array("i", bytes(4 * x.shape[0]))
        with self._use() as h, x._use() as xh:
            self._last_n = None
            self._check(L.cnn_net_predict(h, xh, labels.buffer_info()[0]), h)
        return _labels_out(labels)

    def predict_proba(self, x: Any) -> Any:
        """The output layer's probabilities for a batch, shape (N, classes):
        a NumPy float32 array (a Tensor without NumPy).  x as for predict."""
        y = self.forward(x)
        return _np.array(y.numpy(), copy=True) if _np is not None else y

    def predict_dataset(self, dataset: "Dataset", batch: int = 1000) -> Any:
        """Predicted labels of every example of a dataset (as predict)."""
        with self._use() as h, dataset._use() as dh:
            self._last_n = None
            labels = array.array("i", bytes(4 * L.cnn_dataset_count(dh)))
            self._check(L.cnn_net_predict_dataset(h, dh, batch, labels.buffer_info()[0]), h)
        return _labels_out(labels)

    def fit(self, x: Any, y: Any, *, epochs: int = 1, batch_size: int = 10,
            optimizer: Optional[Optimizer] = None, validation: Optional[Tuple[Any, Any]] = None,
            shuffle: bool = True, seed: int = 0,
            callbacks: Sequence[Callable[[int, Dict[str, float]], Any]] = ()
            ) -> List[Dict[str, float]]:
        """Trains on arrays, scikit-learn style: x images (N, C, H, W) as for
        predict (uint8 or float32), y integer labels (N,).  optimizer: a
        cnn optimizer (default SGD with learning rate 0.03, the chapter's);
        validation: (x_val, y_val) arrays; shuffle: a new order each epoch,
        from seed.  After each epoch every callback gets (epoch, logs), logs
        a dict of "cost" (mean training cost) and, with validation,
        "val_accuracy"; a callback that returns True stops training.
        Returns the list of the epochs' logs.  Needs NumPy."""
        if _np is None:
            raise TypeError("fit() needs NumPy; use train() with a Dataset")
        x = _np.asarray(x)
        if x.dtype not in (_np.uint8, _np.float32):
            image_batch(x)  # raises the dtype error
        y = _np.asarray(y)
        if y.dtype.kind not in "iu":
            raise TypeError("labels must be integers, got %s" % y.dtype)
        if len(x) != len(y):
            raise ShapeError("%d images but %d labels" % (len(x), len(y)))
        epochs, batch_size = operator.index(epochs), operator.index(batch_size)
        if epochs < 0 or batch_size < 1:
            raise ValueError("epochs must be >= 0 and batch_size >= 1")
        opt = optimizer if optimizer is not None else SGD(0.03)
        rng = _np.random.default_rng(seed)
        history = []
        for epoch in range(1, epochs + 1):
            order = rng.permutation(len(x)) if shuffle else _np.arange(len(x))
            total, batches = 0.0, 0
            for start in range(0, len(x), batch_size):
                idx = order[start:start + batch_size]
                total += self.train_step(opt, _np.ascontiguousarray(x[idx]),
                                         y[idx].astype(_np.int32))
                batches += 1
            logs = {"cost": total / max(batches, 1)}
            if validation is not None:
                xv, yv = validation
                logs["val_accuracy"] = float(_np.mean(self.predict(xv) == _np.asarray(yv)))
            history.append(logs)
            if any(cb(epoch, logs) for cb in callbacks):
                break
        return history

    def evaluate(self, dataset: "Dataset", batch: int = 1000) -> Tuple[float, float]:
        """(accuracy, mean cost) over a dataset, inference mode."""
        acc, cost = ctypes.c_double(), ctypes.c_double()
        with self._use() as h, dataset._use() as dh:
            self._last_n = None
            self._check(L.cnn_net_evaluate(h, dh, batch, ctypes.byref(acc),
                                           ctypes.byref(cost)), h)
        return acc.value, cost.value

    def train_step(self, optimizer: Optimizer, x: Any, labels: Any) -> float:
        """One SGD step on batch x; labels: one per example of x."""
        x = image_batch(x)
        lab = _labels_arg(labels, x.shape[0], "train_step")
        cost = ctypes.c_double()
        with self._use() as h, optimizer._use() as oh, x._use() as xh:
            self._last_n = None
            self._check(L.cnn_train_step(h, oh, xh, lab.buffer_info()[0],
                                         ctypes.byref(cost)), h)
        return cost.value

    def train(self, train, optimizer, epochs, *, batch_size=None, shuffle=None, seed=None,
              validation=None, test=None, eval_batch_size=None, progress_every=None,
              on_progress=None, on_epoch=None, schedule=None, shard=None,
              **schedule_options):
        """Mini-batch SGD (cnn_train).  Callbacks get a Progress / EpochReport
        namedtuple; returning a true value stops training (the result then
        has canceled=True).  An exception raised by a callback stops training
        and is re-raised here; so is KeyboardInterrupt (Ctrl-C).  While it
        runs, the network, optimizer and datasets cannot be closed, and
        the network cannot be used (StateError), from callbacks included.
        schedule: "constant" (default), "step", "cosine" or "onecycle", with
        schedule_gamma, schedule_step, schedule_step_epochs, warmup_fraction,
        initial_lr_fraction, final_lr_fraction as in cnn_train_params.
        shard=(rank, count, reduce): this process is piece `rank` of `count`
        training one network together (cnn_train_sharded: each global batch
        is cut into count pieces, this one runs on piece rank).  After every
        backward pass the library calls reduce(values, cost, local, global)
        with a writable memoryview('f') of this process's gradients (valid
        during the call only) and its mean cost (None for the once-an-epoch
        batch-norm statistics); reduce must leave in values, identically on
        every process, sum over processes of local/global * values, and
        return the cost reduced the same way (ignored when cost is None).
        libcnn-mpi does this over MPI for C programs; from Python, supply
        your own transport.  An exception in reduce stops training and is
        re-raised here."""
        p = _lib.new_struct(_lib.TrainParams)
        check(L.cnn_train_params_init(ctypes.byref(p), epochs))
        for name, value in (("batch_size", batch_size), ("seed", seed),
                            ("eval_batch_size", eval_batch_size),
                            ("progress_every", progress_every)):
            if value is not None:
                _lib.set_field(p, name, value)
        if shuffle is not None:
            p.shuffle = 1 if shuffle else 0
        _set_schedule(p, schedule, schedule_options)
        # Always installed, so Ctrl-C (delivered when Python code runs in a
        # trampoline) cancels training cleanly even without user callbacks.
        rank, count, reduce = _shard_arg(shard) if shard is not None else (0, 1, None)
        cb = _Callbacks(on_progress, on_epoch, reduce)
        p.on_progress, p.on_epoch = cb.progress_fn, cb.epoch_fn
        sp = _shard_params(rank, count, cb) if shard is not None else None
        p.struct_size = ctypes.sizeof(_lib.TrainParams)
        r = _lib.TrainResult()
        r.struct_size = ctypes.sizeof(r)
        _install_unraisable_hook()
        with contextlib.ExitStack() as held:
            h = held.enter_context(self._use())
            oh = held.enter_context(optimizer._use())
            th = held.enter_context(train._use())
            p.validation = held.enter_context(validation._use()) if validation is not None \
                else None
            p.test = held.enter_context(test._use()) if test is not None else None
            self._last_n = None
            outer, _active.callbacks = getattr(_active, "callbacks", None), cb
            try:
                if sp is None:
                    status = L.cnn_train(h, oh, th, ctypes.byref(p), ctypes.byref(r))
                else:
                    status = L.cnn_train_sharded(h, oh, th, ctypes.byref(p), ctypes.byref(sp),
                                                 ctypes.byref(r))
            finally:
                _active.callbacks = outer
            if cb.error is not None:
                raise cb.error
            canceled = status == CanceledError.status and cb.user_canceled
            if not canceled:
                self._check(status, h)
        return TrainResult(r.epochs_run, r.best_epoch, r.best_validation_accuracy,
                           r.test_accuracy_at_best, r.final_train_cost, r.seconds, canceled)

    # ---- files --------------------------------------------------------
    def save(self, path: Any) -> None:
        path = _lib.path_arg(path)
        with self._use() as h:
            self._check(L.cnn_net_save(h, path), h)

    @staticmethod
    def _limits(max_param_bytes, max_workspace_bytes, max_flops):
        """A LoadLimits with the library's defaults and the given overrides,
        or None when nothing is overridden."""
        if max_param_bytes is None and max_workspace_bytes is None and max_flops is None:
            return None
        return ctypes.byref(_load_limits(max_param_bytes, max_workspace_bytes, max_flops))

    @classmethod
    def load(cls, path, *, max_param_bytes=None, max_workspace_bytes=None, max_flops=None):
        """Loads a model file.  The limits bound what the model may cost
        (cnn_load_limits; defaults 2 GiB of parameters, 1 GiB of workspace
        and 1e11 operations per example); a model past them raises
        InvalidArgumentError naming the limit."""
        out = _lib.P_NET()
        lim = cls._limits(max_param_bytes, max_workspace_bytes, max_flops)
        check(L.cnn_net_load_limited(_lib.path_arg(path), lim, ctypes.byref(out)))
        return cls(None, _handle=out)

    def to_onnx(self, path: Any) -> None:
        """Writes the net as an ONNX model (opset 13; docs/onnx.md), atomically.
        Raises NotSupportedError where the library was built without ONNX."""
        path = _lib.path_arg(path)
        with self._use() as h:
            self._check(L.cnn_net_export_onnx(h, path), h)

    @classmethod
    def from_onnx(cls, path: Any) -> "Net":
        """Imports an ONNX model (PyTorch's exports of CNNs, libcnn's own;
        docs/onnx.md).  What libcnn cannot represent raises
        NotSupportedError naming the node, its op and why."""
        out = _lib.P_NET()
        check(L.cnn_net_import_onnx(_lib.path_arg(path), ctypes.byref(out)))
        return cls(None, _handle=out)

    def to_bytes(self) -> bytes:
        data, size = ctypes.c_void_p(), ctypes.c_size_t()
        with self._use() as h:
            self._check(L.cnn_net_save_buffer(h, ctypes.byref(data), ctypes.byref(size)), h)
        try:
            return ctypes.string_at(data, size.value)
        finally:
            L.cnn_free(data)

    @classmethod
    def from_bytes(cls, data, *, max_param_bytes=None, max_workspace_bytes=None, max_flops=None):
        data = bytes(data)
        out = _lib.P_NET()
        lim = cls._limits(max_param_bytes, max_workspace_bytes, max_flops)
        check(L.cnn_net_load_buffer_limited(data, len(data), lim, ctypes.byref(out)))
        return cls(None, _handle=out)

    def __repr__(self):
        if self.closed:
            return "Net(closed)"
        return "Net(%r -> %r, %d layers)" % (self.input_shape, self.output_shape, len(self))
