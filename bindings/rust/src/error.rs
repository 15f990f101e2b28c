//! Errors: the C status code plus the library's message.
use crate::sys;
use std::ffi::CStr;
use std::fmt;
use std::os::raw::c_char;

/// The status codes of cnn.h (values pinned by the C API).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    InvalidArgument,
    Shape,
    OutOfMemory,
    Io,
    Format,
    Version,
    Canceled,
    State,
    Checksum,
    /// Training produced a non-finite cost or parameter.  @since 1.0
    Diverged,
    /// A code this binding does not know (a newer library).
    Other(i32),
}

impl Status {
    pub fn from_code(code: i32) -> Status {
        match code {
            -1 => Status::InvalidArgument,
            -2 => Status::Shape,
            -3 => Status::OutOfMemory,
            -4 => Status::Io,
            -5 => Status::Format,
            -6 => Status::Version,
            -7 => Status::Canceled,
            -8 => Status::State,
            -9 => Status::Checksum,
            -10 => Status::Diverged,
            other => Status::Other(other),
        }
    }
}

/// A failed libcnn call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    code: i32,
    message: String,
}

pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn text(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: the library returns NUL-terminated strings that stay valid at
    // least until the next call on this thread; we copy at once.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

impl Error {
    /// Builds the error for `code` from the calling thread's last message.
    /// Must run on the thread that failed, before its next failing call:
    /// Rust never moves a running call between threads, so it always does.
    pub(crate) fn last(code: i32) -> Error {
        let mut message = text(unsafe { sys::cnn_last_error() });
        if message.is_empty() {
            message = text(unsafe { sys::cnn_status_string(code) });
        }
        Error { code, message }
    }

    /// An EINVAL raised by the binding itself (checks C cannot make).
    pub(crate) fn invalid(message: String) -> Error {
        Error { code: -1, message }
    }

    /// An ESTATE raised by the binding itself (a call out of order).
    pub(crate) fn state(message: String) -> Error {
        Error { code: -8, message }
    }

    pub fn code(&self) -> i32 {
        self.code
    }
    pub fn status(&self) -> Status {
        Status::from_code(self.code)
    }
    /// The symbolic name, e.g. "CNN_ESHAPE".
    pub fn name(&self) -> String {
        text(unsafe { sys::cnn_status_name(self.code) })
    }
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name(), self.message)
    }
}

impl std::error::Error for Error {}

/// Turns a status into a Result, reading the message on failure.
pub(crate) fn check(code: i32) -> Result<()> {
    if code == 0 {
        Ok(())
    } else {
        Err(Error::last(code))
    }
}
