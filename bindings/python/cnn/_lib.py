"""Finds libcnn, declares every C function's prototype and the structs.

Prototypes are declared once, here, so a wrong argument type raises
ctypes.ArgumentError instead of silently truncating a pointer or int64.
"""
import ctypes
import ctypes.util
import glob
import operator
import os
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char_p, c_double, c_float,
                    c_int32, c_int64, c_size_t, c_uint8, c_uint32, c_uint64,
                    c_void_p)

SONAME_MAJOR = 1  # the soname this package is written for (libcnn.so.1)


def _candidates():
    """Where to look, in order: $CNN_LIBRARY, the system, the build tree."""
    env = os.environ.get("CNN_LIBRARY")
    if env:
        yield env
        return  # an explicit choice must not silently fall back elsewhere
    found = ctypes.util.find_library("cnn")
    if found:
        yield found
    # LD_LIBRARY_PATH is what the staging-install tests use; find_library
    # only consults it through a compiler, which may be absent.
    for d in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep):
        if d:
            yield os.path.join(d, "libcnn.so.%d" % SONAME_MAJOR)
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    for path in sorted(glob.glob(os.path.join(root, "build*", "lib",
                                              "libcnn.so.%d" % SONAME_MAJOR))):
        yield path


def _load():
    errors = []
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            errors.append("%s: %s" % (path, e))
            continue
        lib.cnn_version.restype = c_uint32
        major = lib.cnn_version() // 10000
        if major != SONAME_MAJOR:
            errors.append("%s: library major version %d, need %d" % (path, major, SONAME_MAJOR))
            continue
        return lib, path
    raise ImportError("libcnn not found (set CNN_LIBRARY to its path); tried:\n  "
                      + "\n  ".join(errors or ["nothing"]))


lib, path = _load()

# Opaque handles: distinct pointer types so a tensor can't be passed as a net.
class _Opaque(Structure):
    pass


class Tensor_(_Opaque): pass
class Layer_(_Opaque): pass
class Net_(_Opaque): pass
class Optimizer_(_Opaque): pass
class Dataset_(_Opaque): pass


P_TENSOR, P_LAYER, P_NET = POINTER(Tensor_), POINTER(Layer_), POINTER(Net_)
P_OPT, P_DS = POINTER(Optimizer_), POINTER(Dataset_)
P_F32, P_I32, P_I64 = POINTER(c_float), POINTER(c_int32), POINTER(c_int64)
status = c_int32


class Conv2dParams(Structure):
    _fields_ = [("struct_size", c_uint32), ("in_channels", c_int32),
                ("out_channels", c_int32), ("kernel_h", c_int32), ("kernel_w", c_int32),
                ("stride_h", c_int32), ("stride_w", c_int32), ("pad_h", c_int32),
                ("pad_w", c_int32), ("activation", c_int32), ("pool", c_int32),
                ("pool_h", c_int32), ("pool_w", c_int32), ("init", c_int32),
                ("seed", c_uint64), ("padding", c_int32)]


class Pool2dParams(Structure):
    _fields_ = [("struct_size", c_uint32), ("mode", c_int32), ("window_h", c_int32),
                ("window_w", c_int32), ("stride_h", c_int32), ("stride_w", c_int32)]


class DenseParams(Structure):
    _fields_ = [("struct_size", c_uint32), ("in_features", c_int32),
                ("out_features", c_int32), ("activation", c_int32), ("dropout", c_float),
                ("init", c_int32), ("seed", c_uint64)]


class BatchnormParams(Structure):
    _fields_ = [("struct_size", c_uint32), ("momentum", c_float), ("epsilon", c_float),
                ("channels", c_int32)]


class SoftmaxParams(Structure):
    _fields_ = [("struct_size", c_uint32), ("in_features", c_int32), ("classes", c_int32),
                ("dropout", c_float), ("init", c_int32), ("seed", c_uint64)]


class SgdParams(Structure):
    _fields_ = [("struct_size", c_uint32), ("learning_rate", c_float),
                ("momentum", c_float), ("l2", c_float), ("l2_batches", c_int64),
                ("nesterov", c_int32)]


class AdamParams(Structure):
    _fields_ = [("struct_size", c_uint32), ("learning_rate", c_float), ("beta1", c_float),
                ("beta2", c_float), ("epsilon", c_float), ("weight_decay", c_float),
                ("decoupled", c_int32)]


class AugmentParams(Structure):
    _fields_ = [("struct_size", c_uint32), ("probability", c_float),
                ("rotate_min", c_float), ("rotate_max", c_float),
                ("scale_min", c_float), ("scale_max", c_float),
                ("shift_x_min", c_float), ("shift_x_max", c_float),
                ("shift_y_min", c_float), ("shift_y_max", c_float),
                ("shear_min", c_float), ("shear_max", c_float),
                ("elastic_alpha", c_float), ("elastic_sigma", c_float), ("seed", c_uint64)]


class Progress(Structure):
    _fields_ = [("struct_size", c_uint32), ("epoch", c_int32), ("epochs", c_int32),
                ("batch", c_int64), ("batches", c_int64), ("cost", c_double),
                ("seconds", c_double)]


class EpochReport(Structure):
    _fields_ = [("struct_size", c_uint32), ("epoch", c_int32), ("epochs", c_int32),
                ("train_cost", c_double), ("validation_accuracy", c_double),
                ("test_accuracy", c_double), ("seconds", c_double),
                ("images_per_second", c_double), ("best_epoch", c_int32),
                ("best_validation_accuracy", c_double), ("test_accuracy_at_best", c_double)]


PROGRESS_FN = CFUNCTYPE(c_int32, POINTER(Progress), c_void_p)
EPOCH_FN = CFUNCTYPE(c_int32, POINTER(EpochReport), c_void_p)
# cnn_reduce_fn: (values, n, cost or NULL, local examples, global examples, user)
REDUCE_FN = CFUNCTYPE(c_int32, POINTER(c_float), c_int64, POINTER(c_double), c_int32, c_int32,
                      c_void_p)


class TrainParams(Structure):
    _fields_ = [("struct_size", c_uint32), ("epochs", c_int32), ("batch_size", c_int32),
                ("shuffle", c_int32), ("seed", c_uint64), ("validation", P_DS),
                ("test", P_DS), ("eval_batch_size", c_int32), ("progress_every", c_int32),
                ("on_progress", PROGRESS_FN), ("on_epoch", EPOCH_FN), ("user", c_void_p),
                ("checkpoint_path", c_char_p), ("resume_path", c_char_p),
                ("checkpoint_every", c_int32), ("schedule", c_int32),
                ("schedule_gamma", c_float), ("schedule_step", c_int32),
                ("schedule_step_epochs", c_int32), ("warmup_fraction", c_float),
                ("initial_lr_fraction", c_float), ("final_lr_fraction", c_float)]


class ShardParams(Structure):
    _fields_ = [("struct_size", c_uint32), ("rank", c_int32), ("count", c_int32),
                ("reduce", REDUCE_FN), ("user", c_void_p)]


class LoadLimits(Structure):
    _fields_ = [("struct_size", c_uint32), ("max_param_bytes", c_int64),
                ("max_workspace_bytes", c_int64), ("max_flops", c_int64)]


class TrainResult(Structure):
    _fields_ = [("struct_size", c_uint32), ("epochs_run", c_int32), ("best_epoch", c_int32),
                ("best_validation_accuracy", c_double), ("test_accuracy_at_best", c_double),
                ("final_train_cost", c_double), ("seconds", c_double)]


def _new_struct(cls):
    """A zeroed params struct.  Its *_params_init call passes our sizeof
    (the _sized C functions), so the library writes no byte past it and
    reads only the fields this binding knows."""
    return cls()


P = POINTER
_PROTOS = {
    # name: (restype, argtypes)
    "cnn_version": (c_uint32, []),
    "cnn_version_string": (c_char_p, []),
    "cnn_isa": (c_int32, []),
    "cnn_isa_best": (c_int32, []),
    "cnn_isa_name": (c_char_p, [c_int32]),
    "cnn_status_string": (c_char_p, [status]),
    "cnn_status_name": (c_char_p, [status]),
    "cnn_last_error": (c_char_p, []),
    "cnn_free": (None, [c_void_p]),
    "cnn_constant": (status, [c_char_p, P_I64]),
    "cnn_constant_count": (c_int32, []),
    "cnn_constant_name": (c_char_p, [c_int32]),
    "cnn_tensor_create": (status, [c_int32, P_I64, P(P_TENSOR)]),
    "cnn_tensor_wrap": (status, [c_int32, P_I64, c_void_p, P(P_TENSOR)]),
    "cnn_tensor_destroy": (None, [P_TENSOR]),
    "cnn_tensor_ndim": (c_int32, [P_TENSOR]),
    "cnn_tensor_dim": (c_int64, [P_TENSOR, c_int32]),
    "cnn_tensor_numel": (c_int64, [P_TENSOR]),
    "cnn_tensor_data": (P_F32, [P_TENSOR]),
    "cnn_tensor_reshape": (status, [P_TENSOR, c_int32, P_I64]),
    "cnn_tensor_copy_in": (status, [P_TENSOR, c_void_p, c_int64]),
    "cnn_tensor_copy_out": (status, [P_TENSOR, c_void_p, c_int64]),
    "cnn_conv2d_params_init_sized": (status, [P(Conv2dParams), c_size_t, c_int32, c_int32, c_int32]),
    "cnn_conv2d_create": (status, [P(Conv2dParams), P(P_LAYER)]),
    "cnn_pool2d_params_init_sized": (status, [P(Pool2dParams), c_size_t, c_int32, c_int32, c_int32]),
    "cnn_pool2d_create": (status, [P(Pool2dParams), P(P_LAYER)]),
    "cnn_dense_params_init_sized": (status, [P(DenseParams), c_size_t, c_int32]),
    "cnn_dense_create": (status, [P(DenseParams), P(P_LAYER)]),
    "cnn_softmax_params_init_sized": (status, [P(SoftmaxParams), c_size_t, c_int32]),
    "cnn_softmax_create": (status, [P(SoftmaxParams), P(P_LAYER)]),
    "cnn_activation_create": (status, [c_int32, P(P_LAYER)]),
    "cnn_batchnorm_params_init_sized": (status, [P(BatchnormParams), c_size_t]),
    "cnn_batchnorm_create": (status, [P(BatchnormParams), P(P_LAYER)]),
    "cnn_global_avg_pool_create": (status, [P(P_LAYER)]),
    "cnn_layer_destroy": (None, [P_LAYER]),
    "cnn_layer_kind": (c_int32, [P_LAYER]),
    "cnn_layer_summary": (status, [P_LAYER, c_char_p, c_size_t]),
    "cnn_layer_output_shape": (status, [P_LAYER, P_I32, P_I32]),
    "cnn_layer_param_count": (c_int64, [P_LAYER]),
    "cnn_layer_param": (P_TENSOR, [P_LAYER, c_int32]),
    "cnn_layer_forward": (status, [P_LAYER, P_TENSOR, P_TENSOR, c_int32]),
    "cnn_layer_backward": (status, [P_LAYER, P_TENSOR, P_TENSOR, P_TENSOR, P_TENSOR]),
    "cnn_dataset_load_idx": (status, [c_char_p, c_char_p, P(P_DS)]),
    "cnn_dataset_load_mnist": (status, [c_char_p, c_int32, P(P_DS)]),
    "cnn_dataset_create": (status, [c_int64, c_int32, c_int32, c_int32, c_void_p,
                                    c_void_p, P(P_DS)]),
    "cnn_dataset_destroy": (None, [P_DS]),
    "cnn_dataset_count": (c_int64, [P_DS]),
    "cnn_dataset_shape": (status, [P_DS, P_I32]),
    "cnn_dataset_slice": (status, [P_DS, c_int64, c_int64, P(P_DS)]),
    "cnn_dataset_expand": (status, [P_DS, c_uint64, P(P_DS)]),
    "cnn_dataset_get": (status, [P_DS, c_int64, c_void_p, P_I32]),
    "cnn_dataset_batch": (status, [P_DS, c_int64, c_int64, P_TENSOR, c_void_p]),
    "cnn_augment_params_init_sized": (status, [P(AugmentParams), c_size_t]),
    "cnn_dataset_augment": (status, [P_DS, P(AugmentParams), P(P_DS)]),
    "cnn_net_create": (status, [c_int32, c_int32, c_int32, c_uint64, P(P_NET)]),
    "cnn_net_destroy": (None, [P_NET]),
    "cnn_net_add": (status, [P_NET, P_LAYER]),
    "cnn_net_init_weights": (status, [P_NET, c_uint64]),
    "cnn_net_clone": (status, [P_NET, P(P_NET)]),
    "cnn_net_layer_count": (c_int32, [P_NET]),
    "cnn_net_layer": (P_LAYER, [P_NET, c_int32]),
    "cnn_net_input_shape": (status, [P_NET, P_I32]),
    "cnn_net_output_shape": (status, [P_NET, P_I32]),
    "cnn_net_param_count": (c_int64, [P_NET]),
    "cnn_net_summary": (status, [P_NET, c_char_p, c_size_t, POINTER(c_size_t)]),
    "cnn_load_limits_init": (status, [POINTER(LoadLimits), c_size_t]),
    "cnn_net_set_limits": (status, [P_NET, POINTER(LoadLimits)]),
    "cnn_net_get_limits": (status, [P_NET, POINTER(LoadLimits)]),
    "cnn_net_load_limited": (status, [c_char_p, POINTER(LoadLimits), POINTER(P_NET)]),
    "cnn_net_load_buffer_limited": (status, [c_char_p, c_size_t, POINTER(LoadLimits),
                                             POINTER(P_NET)]),
    "cnn_net_params": (P_F32, [P_NET]),
    "cnn_net_grads": (P_F32, [P_NET]),
    "cnn_net_set_threads": (status, [P_NET, c_int32]),
    "cnn_net_forward": (status, [P_NET, P_TENSOR, c_int32, P_TENSOR]),
    "cnn_net_backward": (status, [P_NET, c_void_p, P(c_double)]),
    "cnn_net_predict": (status, [P_NET, P_TENSOR, c_void_p]),
    "cnn_net_predict_dataset": (status, [P_NET, P_DS, c_int32, c_void_p]),
    "cnn_net_evaluate": (status, [P_NET, P_DS, c_int32, P(c_double), P(c_double)]),
    "cnn_net_errmsg": (c_char_p, [P_NET]),
    "cnn_net_save": (status, [P_NET, c_char_p]),
    "cnn_net_load": (status, [c_char_p, P(P_NET)]),
    "cnn_net_save_buffer": (status, [P_NET, P(c_void_p), P(c_size_t)]),
    "cnn_net_load_buffer": (status, [c_void_p, c_size_t, P(P_NET)]),
    "cnn_net_export_onnx": (status, [P_NET, c_char_p]),
    "cnn_net_import_onnx": (status, [c_char_p, P(P_NET)]),
    "cnn_sgd_params_init_sized": (status, [P(SgdParams), c_size_t, c_float]),
    "cnn_sgd_create": (status, [P(SgdParams), P(P_OPT)]),
    "cnn_adam_params_init_sized": (status, [P(AdamParams), c_size_t, c_float]),
    "cnn_adam_create": (status, [P(AdamParams), P(P_OPT)]),
    "cnn_optimizer_set_learning_rate": (status, [P_OPT, c_float]),
    "cnn_optimizer_learning_rate": (c_float, [P_OPT]),
    "cnn_schedule_rate": (c_float, [P(TrainParams), c_float, c_int64, c_int64, c_int64]),
    "cnn_optimizer_destroy": (None, [P_OPT]),
    "cnn_optimizer_step": (status, [P_OPT, P_NET]),
    "cnn_train_step": (status, [P_NET, P_OPT, P_TENSOR, c_void_p, P(c_double)]),
    "cnn_train_params_init_sized": (status, [P(TrainParams), c_size_t, c_int32]),
    "cnn_train": (status, [P_NET, P_OPT, P_DS, P(TrainParams), P(TrainResult)]),
    "cnn_shard_params_init_sized": (status, [P(ShardParams), c_size_t, c_int32, c_int32]),
    "cnn_train_sharded": (status, [P_NET, P_OPT, P_DS, P(TrainParams), P(ShardParams),
                                   P(TrainResult)]),
    "cnn_checkpoint_info": (status, [c_char_p, P_I32]),
    "cnn_test_fail_alloc_after": (None, [c_int64]),
}


class _Missing:
    """Stands in for a function this library build lacks (an older minor
    version): importing still works, calling it raises."""

    def __init__(self, name):
        self.name = name

    def __call__(self, *args):
        raise NotImplementedError("%s is not in %s (library %s)"
                                  % (self.name, path, lib.cnn_version()))


# ctypes silently keeps the low bits of an int too big for its C type
# (dense(2**32 + 10) would build 10 units), so every integer argument and
# struct field is range-checked before it reaches C.
_RANGES = {c_int32: (-2 ** 31, 2 ** 31 - 1), c_int64: (-2 ** 63, 2 ** 63 - 1),
           c_uint32: (0, 2 ** 32 - 1), c_uint64: (0, 2 ** 64 - 1),
           c_size_t: (0, 2 ** (8 * ctypes.sizeof(c_size_t)) - 1)}
_TYPE_NAMES = {c_int32: "int32", c_int64: "int64", c_uint32: "uint32", c_uint64: "uint64",
               c_size_t: "size_t"}


def check_int(value, ctype, what):
    """value as a Python int within ctype's range; OverflowError if outside."""
    if isinstance(value, ctypes._SimpleCData):
        return value
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError("%s must be an integer, not %s" % (what, type(value).__name__)) from None
    lo, hi = _RANGES[ctype]
    if not lo <= value <= hi:
        raise OverflowError("%s = %d is outside the %s range [%d, %d]"
                            % (what, value, _TYPE_NAMES[ctype], lo, hi))
    return value


def set_field(struct, name, value):
    """struct.name = value, range-checked for integer fields."""
    ctype = dict(type(struct)._fields_)[name]
    if ctype in _RANGES:
        value = check_int(value, ctype, name)
    setattr(struct, name, value)


def int_array(ctype, values, what):
    """A ctypes array of range-checked integers (at least one element)."""
    values = [check_int(v, ctype, what) for v in values]
    return (ctype * max(len(values), 1))(*values)


def path_arg(path):
    """A file name as bytes for C; refuses an embedded NUL, which C would
    read as the end of the name (save('x\\0y') would write 'x')."""
    raw = os.fsencode(path)
    if b"\0" in raw:
        raise ValueError("path contains a NUL character: %r" % (path,))
    return raw


def _checked(name, fn, argtypes):
    checks = [(i, t) for i, t in enumerate(argtypes) if t in _RANGES]
    if not checks:
        return fn

    def call(*args):
        for i, t in checks:
            if i < len(args):
                check_int(args[i], t, "%s argument %d" % (name, i + 1))
        return fn(*args)

    call.__name__ = name
    call.ctypes_function = fn
    return call


missing = []
for _name, (_res, _args) in _PROTOS.items():
    try:
        _fn = getattr(lib, _name)
    except AttributeError:
        missing.append(_name)
        setattr(lib, _name, _Missing(_name))
        continue
    _fn.restype, _fn.argtypes = _res, _args
    setattr(lib, _name, _checked(_name, _fn, _args))

def _sized_init(sized):
    """cnn_X_params_init(byref(p), ...) in the C header's sense: an inline
    function there that passes the caller's sizeof to the _sized form."""
    def init(ref, *args):
        return sized(ref, ctypes.sizeof(ref._obj), *args)
    return init


for _name in list(_PROTOS):
    if _name.endswith("_params_init_sized"):
        setattr(lib, _name[:-len("_sized")], _sized_init(getattr(lib, _name)))

new_struct = _new_struct
