//! Safe Rust bindings to libcnn, a C library for convolutional networks.
//!
//! Every handle is an owning type freed by `Drop`; every fallible call
//! returns `Result<T, Error>` whose error carries the C status and the
//! library's message.  Borrowed views (parameters, layers of a network)
//! carry the lifetime of their owner, so they cannot outlive it or survive
//! a change (`Net::add` needs `&mut Net`, which ends all borrows).
pub mod sys;

mod augment;
mod dataset;
mod error;
mod layer;
mod limits;
mod net;
mod tensor;

pub use augment::Augment;
pub use dataset::{Dataset, Split};
pub use error::{Error, Result, Status};
pub use layer::{Activation, BatchNorm, Conv2d, Dense, GlobalAvgPool, Init, Layer, LayerKind, LayerRef, Param, Pool, Pool2d, Softmax};
pub use limits::Limits;
pub use net::{checkpoint_info, Adam, EpochReport, Mode, Net, Optimizer, Progress, Schedule, Sgd, SgdBuilder, Train, TrainResult};
pub use tensor::{Tensor, TensorView, TensorViewMut};

use std::ffi::CStr;

/// The C library's version string, e.g. "0.1.0".
pub fn version() -> String {
    // SAFETY: cnn_version_string returns a static NUL-terminated string.
    unsafe { CStr::from_ptr(sys::cnn_version_string()) }.to_string_lossy().into_owned()
}

/// The instruction-set path the library's kernels run on in this process:
/// "avx512", "avx2" or "generic" (`CNN_ISA` in the environment may name a
/// lower path than the CPU's best).
pub fn isa() -> String {
    // SAFETY: cnn_isa_name returns a static NUL-terminated string for any value.
    unsafe { CStr::from_ptr(sys::cnn_isa_name(sys::cnn_isa())) }.to_string_lossy().into_owned()
}

/// The best instruction-set path this CPU supports, whatever `CNN_ISA` says.
pub fn isa_best() -> String {
    // SAFETY: as for isa().
    unsafe { CStr::from_ptr(sys::cnn_isa_name(sys::cnn_isa_best())) }.to_string_lossy().into_owned()
}

/// The C library's version number, MAJOR*10000 + MINOR*100 + PATCH.
pub fn version_number() -> u32 {
    unsafe { sys::cnn_version() }
}
