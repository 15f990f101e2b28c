"""One exception class per libcnn status code.

Each class also derives from the closest built-in exception, so callers
that know nothing of libcnn can still catch ValueError, MemoryError or
OSError.  CnnError.status is the C status code; str() is the library's own
message ("conv2d: input 20x12x12 but kernel 13x13 ...").
"""
from typing import Optional

from . import _lib


class CnnError(Exception):
    """Base of every libcnn error."""
    status: Optional[int] = None

    def __init__(self, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidArgumentError(CnnError, ValueError): status = -1
class ShapeError(CnnError, ValueError): status = -2
class OutOfMemoryError(CnnError, MemoryError): status = -3
class IOFailedError(CnnError, OSError): status = -4
class FormatError(CnnError, ValueError): status = -5
class VersionError(CnnError, ValueError): status = -6
class CanceledError(CnnError): status = -7
class StateError(CnnError, RuntimeError): status = -8
class ChecksumError(FormatError): status = -9
class DivergedError(CnnError, ArithmeticError): status = -10
class NotSupportedError(CnnError, NotImplementedError): status = -11


_BY_STATUS = {cls.status: cls for cls in (
    InvalidArgumentError, ShapeError, OutOfMemoryError, IOFailedError, FormatError,
    VersionError, CanceledError, StateError, ChecksumError, DivergedError,
    NotSupportedError)}


def _text(raw):
    return raw.decode("utf-8", "replace") if raw else ""


def error_for(status, message=None):
    """The exception for a status; message defaults to cnn_last_error()."""
    if message is None:
        message = _text(_lib.lib.cnn_last_error())
    if not message:
        message = _text(_lib.lib.cnn_status_string(status))
    cls = _BY_STATUS.get(status, CnnError)
    err = cls(message, status)
    err.name = _text(_lib.lib.cnn_status_name(status))
    return err


def check(status, net=None):
    """Raises for a non-zero status.

    Must run right after the failing call on the same thread: the
    thread-local message is overwritten by the next failure.  A Python
    thread is one OS thread, so cnn_last_error() is the exact message; the
    network's copy (cnn_net_errmsg) is only a fallback.
    """
    if status == 0:
        return
    message = _text(_lib.lib.cnn_last_error())
    if not message and net is not None:
        message = _text(_lib.lib.cnn_net_errmsg(net))
    raise error_for(status, message or None)
