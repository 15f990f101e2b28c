//! Tensors: owned (`Tensor`) and borrowed from a layer (`TensorView`).
use crate::error::{check, Result};
use crate::sys;
use std::marker::PhantomData;
use std::ptr;

/// An owned float32 tensor of rank 1-4 (NCHW).
pub struct Tensor {
    pub(crate) ptr: *mut sys::cnn_tensor,
}

// One handle, one thread at a time (cnn.h's rule): Send, not Sync.
unsafe impl Send for Tensor {}

impl Tensor {
    /// A zero-filled tensor.
    pub fn new(shape: &[i64]) -> Result<Tensor> {
        let mut ptr = ptr::null_mut();
        check(unsafe { sys::cnn_tensor_create(shape.len() as i32, shape.as_ptr(), &mut ptr) })?;
        Ok(Tensor { ptr })
    }

    /// A tensor holding a copy of `data` (its length must match the shape).
    pub fn from_slice(shape: &[i64], data: &[f32]) -> Result<Tensor> {
        let t = Tensor::new(shape)?;
        check(unsafe { sys::cnn_tensor_copy_in(t.ptr, data.as_ptr(), data.len() as i64) })?;
        Ok(t)
    }

    pub fn shape(&self) -> Vec<i64> {
        shape_of(self.ptr)
    }
    pub fn len(&self) -> usize {
        unsafe { sys::cnn_tensor_numel(self.ptr) as usize }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn data(&self) -> &[f32] {
        unsafe { slice(self.ptr, self.len()) }
    }
    pub fn data_mut(&mut self) -> &mut [f32] {
        let n = self.len();
        unsafe { std::slice::from_raw_parts_mut(sys::cnn_tensor_data(self.ptr), n) }
    }
    pub fn reshape(&mut self, shape: &[i64]) -> Result<()> {
        check(unsafe { sys::cnn_tensor_reshape(self.ptr, shape.len() as i32, shape.as_ptr()) })
    }
    pub fn as_ptr(&self) -> *const sys::cnn_tensor {
        self.ptr
    }
}

impl Drop for Tensor {
    fn drop(&mut self) {
        unsafe { sys::cnn_tensor_destroy(self.ptr) }
    }
}

/// A layer's parameter tensor, read-only, borrowed for `'a`: the layer's
/// borrow (`Layer::param`) or the network's (`LayerRef::param`).
pub struct TensorView<'a> {
    pub(crate) ptr: *mut sys::cnn_tensor,
    pub(crate) _owner: PhantomData<&'a ()>,
}

impl<'a> TensorView<'a> {
    pub fn shape(&self) -> Vec<i64> {
        shape_of(self.ptr)
    }
    pub fn data(&self) -> &[f32] {
        unsafe { slice(self.ptr, sys::cnn_tensor_numel(self.ptr) as usize) }
    }
}

/// A writable view of a layer's parameter tensor, for a mutable borrow
/// `'a` of the layer or its network (`Layer::param_mut`,
/// `Net::param_mut`).
pub struct TensorViewMut<'a>(pub(crate) TensorView<'a>);

impl<'a> TensorViewMut<'a> {
    pub fn shape(&self) -> Vec<i64> {
        self.0.shape()
    }
    pub fn data(&self) -> &[f32] {
        self.0.data()
    }
    pub fn data_mut(&mut self) -> &mut [f32] {
        let n = unsafe { sys::cnn_tensor_numel(self.0.ptr) } as usize;
        if n == 0 {
            return &mut [];
        }
        // SAFETY: the view holds the only borrow of the layer's storage.
        unsafe { std::slice::from_raw_parts_mut(sys::cnn_tensor_data(self.0.ptr), n) }
    }
}

fn shape_of(t: *const sys::cnn_tensor) -> Vec<i64> {
    let n = unsafe { sys::cnn_tensor_ndim(t) };
    (0..n).map(|i| unsafe { sys::cnn_tensor_dim(t, i) }).collect()
}

/// SAFETY: `t` is a live tensor of at least `n` elements.
unsafe fn slice<'a>(t: *const sys::cnn_tensor, n: usize) -> &'a [f32] {
    if n == 0 {
        return &[];
    }
    std::slice::from_raw_parts(sys::cnn_tensor_data(t as *mut _), n)
}
