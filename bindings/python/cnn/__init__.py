"""libcnn for Python: a ctypes binding of the C library (stdlib only;
NumPy, when installed, gives zero-copy array views).

    import cnn
    net = cnn.Net((1, 28, 28), seed=1)
    net.add(cnn.conv2d(20, 5, pool="max", activation="relu"))
    ...

The shared library is found through $CNN_LIBRARY, then the system
(ctypes.util.find_library / LD_LIBRARY_PATH), then a build*/ directory of
the source tree.
"""
from . import _lib
from .dataset import Dataset
from .errors import (CanceledError, ChecksumError, CnnError, DivergedError, FormatError,
                     InvalidArgumentError, IOFailedError, NotSupportedError, OutOfMemoryError,
                     ShapeError, StateError, VersionError)
from .layers import (Layer, activation, batchnorm, conv2d, dense, global_avg_pool, pool2d,
                     softmax)
from .net import (SCHEDULES, SGD, Adam, AdamW, EpochReport, Net, Optimizer, Progress,
                  TrainResult, schedule_rate)
from .tensor import Tensor

__all__ = ["Dataset", "Tensor", "Layer", "Net", "Optimizer", "SGD", "Adam", "AdamW",
           "SCHEDULES", "schedule_rate", "conv2d", "pool2d", "dense", "softmax",
           "activation", "batchnorm", "global_avg_pool", "Progress", "EpochReport", "TrainResult",
           "CnnError",
           "InvalidArgumentError", "ShapeError", "OutOfMemoryError", "IOFailedError",
           "FormatError", "VersionError", "CanceledError", "StateError", "ChecksumError", "DivergedError",
           "NotSupportedError",
           "version", "library_path", "isa", "isa_best"]

library_path = _lib.path


def version() -> str:
    """The C library's version string, e.g. "0.1.0"."""
    return _lib.lib.cnn_version_string().decode()


def isa() -> str:
    """The instruction-set path libcnn's kernels run on in this process:
    "avx512", "avx2" or "generic" (the environment variable CNN_ISA may
    name a lower path than the CPU's best; see cnn_isa() in cnn.h)."""
    return _lib.lib.cnn_isa_name(_lib.lib.cnn_isa()).decode()


def isa_best() -> str:
    """The best path this CPU supports, whatever CNN_ISA says."""
    return _lib.lib.cnn_isa_name(_lib.lib.cnn_isa_best()).decode()


__version__ = "1.2.0"
