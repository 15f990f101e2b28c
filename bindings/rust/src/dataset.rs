//! Datasets of labelled byte images.
use crate::error::{check, Result};
use crate::sys;
use crate::tensor::Tensor;
use crate::net::c_path;
use std::path::Path;
use std::ptr;

/// An MNIST split for `Dataset::load_mnist` (values pinned by cnn.h's
/// `CNN_MNIST_TRAIN` / `CNN_MNIST_TEST`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Split {
    /// train-images-idx3-ubyte and train-labels-idx1-ubyte.
    Train = 0,
    /// t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte.
    Test = 1,
}

/// Labelled images (N, C, H, W) stored as bytes, read as byte / 256.
pub struct Dataset {
    pub(crate) ptr: *mut sys::cnn_dataset,
}

unsafe impl Send for Dataset {}
// cnn.h: datasets never change after creation, so threads may share one.
unsafe impl Sync for Dataset {}

impl Drop for Dataset {
    fn drop(&mut self) {
        unsafe { sys::cnn_dataset_destroy(self.ptr) }
    }
}

fn made(f: impl FnOnce(*mut *mut sys::cnn_dataset) -> i32) -> Result<Dataset> {
    let mut ptr = ptr::null_mut();
    check(f(&mut ptr))?;
    Ok(Dataset { ptr })
}

impl Dataset {
    /// Copies `labels.len()` images of shape (c, h, w) from `pixels`.
    pub fn new(pixels: &[u8], labels: &[u8], shape: [i32; 3]) -> Result<Dataset> {
        let [c, h, w] = shape;
        // checked_mul: a wrapped product could match a short slice.
        let need = [c, h, w].iter().try_fold(labels.len(), |n, &d| n.checked_mul(d.max(0) as usize));
        if need != Some(pixels.len()) {
            let need = need.map_or("more than usize::MAX".to_string(), |n| n.to_string());
            // Checked here: the C call would read past a short slice.
            return Err(crate::Error::invalid(format!(
                "Dataset::new: {} pixel bytes for {} images of {c}x{h}x{w} (need {need})",
                pixels.len(), labels.len())));
        }
        made(|out| unsafe {
            sys::cnn_dataset_create(labels.len() as i64, c, h, w, pixels.as_ptr(), labels.as_ptr(), out)
        })
    }

    /// One MNIST split from a directory holding the four IDX files
    /// (`Split::Train`: 60000 images, `Split::Test`: 10000).
    pub fn load_mnist(dir: impl AsRef<Path>, split: Split) -> Result<Dataset> {
        let d = c_path(dir.as_ref())?;
        made(|out| unsafe { sys::cnn_dataset_load_mnist(d.as_ptr(), split as i32, out) })
    }

    pub fn load_idx(images: impl AsRef<Path>, labels: impl AsRef<Path>) -> Result<Dataset> {
        let (i, l) = (c_path(images.as_ref())?, c_path(labels.as_ref())?);
        made(|out| unsafe { sys::cnn_dataset_load_idx(i.as_ptr(), l.as_ptr(), out) })
    }

    pub fn len(&self) -> usize {
        unsafe { sys::cnn_dataset_count(self.ptr) as usize }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Image shape (C, H, W).
    pub fn shape(&self) -> [i32; 3] {
        let mut s = [0i32; 3];
        unsafe { sys::cnn_dataset_shape(self.ptr, s.as_mut_ptr()) };
        s
    }
    /// Examples [start, start + count), sharing storage.
    pub fn slice(&self, start: usize, count: usize) -> Result<Dataset> {
        made(|out| unsafe { sys::cnn_dataset_slice(self.ptr, start as i64, count as i64, out) })
    }
    /// network3's expanded set: each image and four 1-pixel shifts, shuffled.
    pub fn expand(&self, seed: u64) -> Result<Dataset> {
        made(|out| unsafe { sys::cnn_dataset_expand(self.ptr, seed, out) })
    }
    /// Pixels (as floats) and label of one example.
    pub fn get(&self, index: usize) -> Result<(Vec<f32>, i32)> {
        let [c, h, w] = self.shape();
        let mut pixels = vec![0f32; (c * h * w) as usize];
        let mut label = 0;
        check(unsafe { sys::cnn_dataset_get(self.ptr, index as i64, pixels.as_mut_ptr(), &mut label) })?;
        Ok((pixels, label))
    }
    /// A (count, C, H, W) tensor and the labels of examples [start, start + count).
    pub fn batch(&self, start: usize, count: usize) -> Result<(Tensor, Vec<i32>)> {
        let [c, h, w] = self.shape();
        let x = Tensor::new(&[count as i64, c as i64, h as i64, w as i64])?;
        let mut labels = vec![0i32; count];
        check(unsafe {
            sys::cnn_dataset_batch(self.ptr, start as i64, count as i64, x.ptr, labels.as_mut_ptr())
        })?;
        Ok((x, labels))
    }
}
