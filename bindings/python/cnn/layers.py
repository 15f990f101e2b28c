"""Layers and their keyword-argument constructors.

Each constructor fills the C params struct with its *_params_init function
(library defaults), then overrides only the keywords given, so defaults
live in one place: the C library.
"""
import ctypes

from . import _lib
from .errors import check
from .tensor import Tensor, as_tensor

L = _lib.lib

ACTIVATIONS = {"identity": 0, "sigmoid": 1, "tanh": 2, "relu": 3}
POOL_MODES = {"none": 0, "max": 1, "avg": 2, "l2": 3}
INITS = {"network3": 0, "he": 1, "glorot": 2, "zero": 3}
KINDS = {1: "conv2d", 2: "pool2d", 3: "dense", 4: "softmax", 5: "activation"}
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


class Layer:
    """A layer handle.  Until added to a Net it is owned by this object;
    Net.add() transfers ownership to the network, which frees it."""

    def __init__(self, handle, owner=None):
        self._h = handle
        self._owner = owner  # the Net that owns the layer, if any

    def __del__(self):
        if getattr(self, "_h", None) and self._owner is None:
            L.cnn_layer_destroy(self._h)
        self._h = None

    @property
    def handle(self):
        if not self._h:
            raise ValueError("layer is closed")
        return self._h

    @property
    def kind(self):
        return KINDS.get(L.cnn_layer_kind(self.handle), "unknown")

    @property
    def param_count(self):
        return L.cnn_layer_param_count(self.handle)

    def output_shape(self, input_shape):
        inp = (ctypes.c_int32 * 3)(*input_shape)
        out = (ctypes.c_int32 * 3)()
        check(L.cnn_layer_output_shape(self.handle, inp, out))
        return tuple(out)

    def param(self, which="weights"):
        """Borrowed view of a parameter tensor (None for parameter-free layers).
        Writing to its data changes the layer."""
        h = L.cnn_layer_param(self.handle, PARAMS[which] if isinstance(which, str) else which)
        if not h:
            return None
        return Tensor(_handle=h, _owner=self._owner or self)

    def forward(self, x, y, mode="infer"):
        """Runs the layer on batch x into the preallocated tensor y."""
        x, y = as_tensor(x), as_tensor(y)
        check(L.cnn_layer_forward(self.handle, x.handle, y.handle, MODES.get(mode, mode)))
        return y

    def __repr__(self):
        return "Layer(%s)" % (self.kind,)


def _create(fn, params):
    h = _lib.P_LAYER()
    check(fn(ctypes.byref(params), ctypes.byref(h)))
    return Layer(h)


def _set(params, **fields):
    for name, value in fields.items():
        if value is not None:
            setattr(params, name, value)
    # Our struct's size, not the library's: see _lib.new_struct.
    params.struct_size = ctypes.sizeof(type(params))


def conv2d(out_channels, kernel, *, in_channels=None, stride=None, padding=None,
           activation=None, pool=None, pool_size=None, init=None, seed=None):
    """Convolution; kernel/stride/padding/pool_size are ints or (h, w) pairs.
    pool="max" fuses network3's ConvPoolLayer max-pooling."""
    kh, kw = _pair(kernel)
    p = _lib.new_struct(_lib.Conv2dParams)
    check(L.cnn_conv2d_params_init(ctypes.byref(p), out_channels, kh, kw))
    sh, sw = _pair(stride) if stride is not None else (None, None)
    ph, pw = _pair(padding) if padding is not None else (None, None)
    qh, qw = _pair(pool_size) if pool_size is not None else (None, None)
    _set(p, in_channels=in_channels, stride_h=sh, stride_w=sw, pad_h=ph, pad_w=pw,
         activation=None if activation is None else enum_value(ACTIVATIONS, activation, "activation"),
         pool=None if pool is None else enum_value(POOL_MODES, pool, "pool mode"),
         pool_h=qh, pool_w=qw,
         init=None if init is None else enum_value(INITS, init, "init"), seed=seed)
    return _create(L.cnn_conv2d_create, p)


def pool2d(window, *, mode="max", stride=None):
    wh, ww = _pair(window)
    p = _lib.new_struct(_lib.Pool2dParams)
    check(L.cnn_pool2d_params_init(ctypes.byref(p), enum_value(POOL_MODES, mode, "pool mode"),
                                   wh, ww))
    sh, sw = _pair(stride) if stride is not None else (None, None)
    _set(p, stride_h=sh, stride_w=sw)
    return _create(L.cnn_pool2d_create, p)


def dense(out_features, *, in_features=None, activation=None, dropout=None, init=None,
          seed=None):
    p = _lib.new_struct(_lib.DenseParams)
    check(L.cnn_dense_params_init(ctypes.byref(p), out_features))
    _set(p, in_features=in_features, dropout=dropout, seed=seed,
         activation=None if activation is None else enum_value(ACTIVATIONS, activation, "activation"),
         init=None if init is None else enum_value(INITS, init, "init"))
    return _create(L.cnn_dense_create, p)


def softmax(classes, *, in_features=None, dropout=None, init=None, seed=None):
    p = _lib.new_struct(_lib.SoftmaxParams)
    check(L.cnn_softmax_params_init(ctypes.byref(p), classes))
    _set(p, in_features=in_features, dropout=dropout, seed=seed,
         init=None if init is None else enum_value(INITS, init, "init"))
    return _create(L.cnn_softmax_create, p)


def activation(function):
    h = _lib.P_LAYER()
    check(L.cnn_activation_create(enum_value(ACTIVATIONS, function, "activation"),
                                  ctypes.byref(h)))
    return Layer(h)
