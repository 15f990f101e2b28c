//! Bounds on what a network may cost, for models from untrusted sources.
use crate::error::{check, Result};
use crate::net::{c_path, made, Net};
use crate::sys;
use std::mem::size_of;
use std::os::raw::c_void;
use std::path::Path;

/// cnn_load_limits: checked by the model reader before it allocates
/// anything, and by `Net::add` as a network grows.  `Limits::default()` is
/// the library's: 2 GiB of parameters and state, 1 GiB of workspace and
/// 1e11 operations per example.
#[derive(Clone, Copy, Debug)]
pub struct Limits(sys::cnn_load_limits);

impl Default for Limits {
    fn default() -> Self {
        let mut l = sys::cnn_load_limits::default();
        // Cannot fail for a non-NULL struct of the published size.
        unsafe { sys::cnn_load_limits_init(&mut l, size_of::<sys::cnn_load_limits>()) };
        Limits(l)
    }
}

impl Limits {
    /// Parameters and state, 4 bytes each.
    pub fn max_param_bytes(mut self, n: i64) -> Self {
        self.0.max_param_bytes = n;
        self
    }
    /// Workspace per example.
    pub fn max_workspace_bytes(mut self, n: i64) -> Self {
        self.0.max_workspace_bytes = n;
        self
    }
    /// Operations (multiply-adds and element operations) per example.
    pub fn max_flops(mut self, n: i64) -> Self {
        self.0.max_flops = n;
        self
    }
    pub fn param_bytes(&self) -> i64 {
        self.0.max_param_bytes
    }
    pub fn workspace_bytes(&self) -> i64 {
        self.0.max_workspace_bytes
    }
    pub fn flops(&self) -> i64 {
        self.0.max_flops
    }
}

impl Net {
    /// `Net::load` within `limits` (a model past the defaults loads only
    /// this way); the network keeps them for later `add`s.  A model
    /// crossing a limit is an `InvalidArgument` error naming it.
    pub fn load_limited(path: impl AsRef<Path>, limits: &Limits) -> Result<Net> {
        let p = c_path(path.as_ref())?;
        made(|out| unsafe { sys::cnn_net_load_limited(p.as_ptr(), &limits.0, out) })
    }
    /// `Net::from_bytes` within `limits`.
    pub fn from_bytes_limited(data: &[u8], limits: &Limits) -> Result<Net> {
        made(|out| unsafe {
            sys::cnn_net_load_buffer_limited(data.as_ptr() as *const c_void, data.len(), &limits.0, out)
        })
    }
    /// The limits `add` enforces from now on; layers already added stay.
    pub fn set_limits(&mut self, limits: &Limits) -> Result<()> {
        check(unsafe { sys::cnn_net_set_limits(self.ptr, &limits.0) })
    }
    /// The network's limits.
    pub fn limits(&self) -> Result<Limits> {
        let mut l = Limits::default();
        check(unsafe { sys::cnn_net_get_limits(self.ptr, &mut l.0) })?;
        Ok(l)
    }
}
