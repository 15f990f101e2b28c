"""Layers and their keyword-argument constructors.

Each constructor fills the C params struct with its *_params_init function
(library defaults), then overrides only the keywords given, so defaults
live in one place: the C library.
"""
from typing import Any, Optional, Sequence, Tuple, Union

import ctypes

from . import _lib
from ._handle import Handle
from .errors import check
from .tensor import Tensor, as_tensor

L = _lib.lib

ACTIVATIONS = {"identity": 0, "sigmoid": 1, "tanh": 2, "relu": 3}
POOL_MODES = {"none": 0, "max": 1, "avg": 2, "l2": 3}
INITS = {"network3": 0, "he": 1, "glorot": 2, "zero": 3}
KINDS = {1: "conv2d", 2: "pool2d", 3: "dense", 4: "softmax", 5: "activation", 6: "batchnorm",
         7: "global_avg_pool"}
PADDINGS = {"explicit": 0, "same": 1}
PARAMS = {"weights": 0, "biases": 1, "grad_weights": 2, "grad_biases": 3}
MODES = {"infer": 0, "train": 1}


def enum_value(table, value, what):
    """Accepts a name from table, or the pinned integer itself."""
    if value is None:
        return table["none"]
    if isinstance(value, str):
        try:
            return table[value.lower()]
        except KeyError:
            raise ValueError("unknown %s %r (one of %s)" % (what, value, ", ".join(table)))
    return int(value)


def _pair(v):
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


class Layer(Handle):
    """A layer handle.  Until added to a Net it is owned by this object;
    Net.add() transfers ownership to the network, which frees it.  A layer
    that belongs to a network (added, or from Net.layer()) is a view of
    it: it keeps the network alive, and raises ValueError once the network
    is closed."""

    _what = "layer"

    def __init__(self, handle, owner=None):
        self._owner = owner  # the Net that owns the layer, if any
        self._init_handle(handle, None if owner is not None else L.cnn_layer_destroy)

    def _parent(self):
        return self._owner

    def _storage(self):
        if self._owner is not None:
            return self._owner._storage()
        return self, self._res

    def close(self) -> None:
        """Frees a layer that was never added; for a network's layer only
        this object is released (the network still owns the layer)."""
        super().close()

    @property
    def kind(self) -> str:
        with self._use() as h:
            return KINDS.get(L.cnn_layer_kind(h), "unknown")

    @property
    def param_count(self) -> int:
        with self._use() as h:
            return L.cnn_layer_param_count(h)

    def summary(self) -> str:
        """What the layer computes, in one line (cnn_layer_summary)."""
        buf = ctypes.create_string_buffer(256)
        with self._use() as h:
            check(L.cnn_layer_summary(h, buf, len(buf)))
        return buf.value.decode("utf-8", "replace")

    def output_shape(self, input_shape: Sequence[int]) -> Tuple[int, ...]:
        if len(input_shape) != 3:
            raise ValueError("input_shape must be (C, H, W), got %r" % (input_shape,))
        inp = _lib.int_array(ctypes.c_int32, input_shape, "input_shape")
        out = (ctypes.c_int32 * 3)()
        with self._use() as h:
            check(L.cnn_layer_output_shape(h, inp, out))
        return tuple(out)

    def param(self, which: Union[str, int] = "weights") -> Optional[Tensor]:
        """Borrowed view of a parameter tensor (None for parameter-free layers).
        Writing to its data changes the layer."""
        with self._use() as h:
            t = L.cnn_layer_param(h, PARAMS[which] if isinstance(which, str) else which)
        if not t:
            return None
        return Tensor(_handle=t, _owner=self)

    def forward(self, x: Any, y: Any, mode: Union[str, int] = "infer") -> Tensor:
        """Runs the layer on batch x into the preallocated tensor y."""
        if isinstance(mode, str) and mode not in MODES:
            raise ValueError("mode must be 'infer' or 'train', got %r" % mode)
        x, y = as_tensor(x), as_tensor(y)
        with self._use() as h, x._use() as xh, y._use() as yh:
            check(L.cnn_layer_forward(h, xh, yh, MODES[mode] if isinstance(mode, str) else mode))
        return y

    def __repr__(self):
        try:
            return "Layer(%s)" % (self.kind,)
        except ValueError:
            return "Layer(closed)"


def _create(fn, params):
    h = _lib.P_LAYER()
    check(fn(ctypes.byref(params), ctypes.byref(h)))
    return Layer(h)


def _set(params, **fields):
    for name, value in fields.items():
        if value is not None:
            _lib.set_field(params, name, value)
    # Our struct's size, not the library's: see _lib.new_struct.
    params.struct_size = ctypes.sizeof(type(params))


def conv2d(out_channels: int, kernel: Any, *, in_channels: Optional[int] = None,
           stride: Any = None, padding: Any = None, activation: Any = None, pool: Any = None,
           pool_size: Any = None, init: Any = None, seed: Optional[int] = None) -> "Layer":
    """Convolution; kernel/stride/padding/pool_size are ints or (h, w) pairs.
    padding="same" pads (kernel-1)/2 on each side (odd kernels), so the
    output has ceil(in/stride) rows and columns.
    pool="max" fuses network3's ConvPoolLayer max-pooling."""
    kh, kw = _pair(kernel)
    p = _lib.new_struct(_lib.Conv2dParams)
    check(L.cnn_conv2d_params_init(ctypes.byref(p), out_channels, kh, kw))
    sh, sw = _pair(stride) if stride is not None else (None, None)
    mode = None
    if isinstance(padding, str):
        mode = enum_value(PADDINGS, padding, "padding")
        padding = None
    ph, pw = _pair(padding) if padding is not None else (None, None)
    qh, qw = _pair(pool_size) if pool_size is not None else (None, None)
    _set(p, in_channels=in_channels, stride_h=sh, stride_w=sw, pad_h=ph, pad_w=pw,
         activation=None if activation is None else enum_value(ACTIVATIONS, activation, "activation"),
         pool=None if pool is None else enum_value(POOL_MODES, pool, "pool mode"),
         pool_h=qh, pool_w=qw, padding=mode,
         init=None if init is None else enum_value(INITS, init, "init"), seed=seed)
    return _create(L.cnn_conv2d_create, p)


def pool2d(window: Any, *, mode: Union[str, int] = "max", stride: Any = None) -> "Layer":
    wh, ww = _pair(window)
    p = _lib.new_struct(_lib.Pool2dParams)
    check(L.cnn_pool2d_params_init(ctypes.byref(p), enum_value(POOL_MODES, mode, "pool mode"),
                                   wh, ww))
    sh, sw = _pair(stride) if stride is not None else (None, None)
    _set(p, stride_h=sh, stride_w=sw)
    return _create(L.cnn_pool2d_create, p)


def dense(out_features: int, *, in_features: Optional[int] = None, activation: Any = None,
          dropout: Optional[float] = None, init: Any = None,
          seed: Optional[int] = None) -> "Layer":
    p = _lib.new_struct(_lib.DenseParams)
    check(L.cnn_dense_params_init(ctypes.byref(p), out_features))
    _set(p, in_features=in_features, dropout=dropout, seed=seed,
         activation=None if activation is None else enum_value(ACTIVATIONS, activation, "activation"),
         init=None if init is None else enum_value(INITS, init, "init"))
    return _create(L.cnn_dense_create, p)


def softmax(classes: int, *, in_features: Optional[int] = None, dropout: Optional[float] = None,
            init: Any = None, seed: Optional[int] = None) -> "Layer":
    p = _lib.new_struct(_lib.SoftmaxParams)
    check(L.cnn_softmax_params_init(ctypes.byref(p), classes))
    _set(p, in_features=in_features, dropout=dropout, seed=seed,
         init=None if init is None else enum_value(INITS, init, "init"))
    return _create(L.cnn_softmax_create, p)


def activation(function: Union[str, int]) -> "Layer":
    h = _lib.P_LAYER()
    check(L.cnn_activation_create(enum_value(ACTIVATIONS, function, "activation"),
                                  ctypes.byref(h)))
    return Layer(h)


def batchnorm(*, momentum: Optional[float] = None, epsilon: Optional[float] = None,
              channels: Optional[int] = None) -> "Layer":
    """Batch normalisation: per channel for (C, H, W) inputs, per feature for
    flat ones.  momentum (default 0.1) follows PyTorch: running =
    (1-momentum)*running + momentum*batch; epsilon defaults to 1e-5;
    channels defaults to the network's.  gamma is the "weights" parameter,
    beta the "biases"; the running mean and variance are saved with the
    model and used by mode="infer"."""
    p = _lib.new_struct(_lib.BatchnormParams)
    check(L.cnn_batchnorm_params_init(ctypes.byref(p)))
    _set(p, momentum=momentum, epsilon=epsilon, channels=channels)
    return _create(L.cnn_batchnorm_create, p)


def global_avg_pool() -> "Layer":
    """Global average pooling: (C, H, W) -> (C, 1, 1), the mean of each plane."""
    h = _lib.P_LAYER()
    check(L.cnn_global_avg_pool_create(ctypes.byref(h)))
    return Layer(h)
