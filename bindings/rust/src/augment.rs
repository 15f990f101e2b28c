//! Random augmentation of a dataset, and reading its labels.
use crate::dataset::Dataset;
use crate::error::{check, Result};
use crate::layer::init_params;
use crate::sys;
use std::mem::size_of;
use std::ptr;

/// Builder of the ranges `Dataset::augment` draws from, uniformly per
/// example and pass (`min == max` fixes a value).  It starts from the
/// library's identity: no rotation, shift or shear, scale 1, probability 1,
/// no elastic distortion.  Bad values are reported by `Dataset::augment`
/// with the library's message.
#[derive(Clone, Copy, Debug)]
pub struct Augment(sys::cnn_augment_params);

impl Default for Augment {
    fn default() -> Self {
        Augment::new()
    }
}

impl Augment {
    pub fn new() -> Augment {
        Augment(init_params(|p| unsafe { sys::cnn_augment_params_init(p) }))
    }
    /// Rotation in degrees, counterclockwise as displayed.
    pub fn rotate(mut self, min: f32, max: f32) -> Self {
        (self.0.rotate_min, self.0.rotate_max) = (min, max);
        self
    }
    /// Zoom factor, > 0 (2 doubles the size).
    pub fn scale(mut self, min: f32, max: f32) -> Self {
        (self.0.scale_min, self.0.scale_max) = (min, max);
        self
    }
    /// Horizontal shift in pixels, positive = right.
    pub fn shift_x(mut self, min: f32, max: f32) -> Self {
        (self.0.shift_x_min, self.0.shift_x_max) = (min, max);
        self
    }
    /// Vertical shift in pixels, positive = down.
    pub fn shift_y(mut self, min: f32, max: f32) -> Self {
        (self.0.shift_y_min, self.0.shift_y_max) = (min, max);
        self
    }
    /// Horizontal shear angle in degrees, in (-90, 90).
    pub fn shear(mut self, min: f32, max: f32) -> Self {
        (self.0.shear_min, self.0.shear_max) = (min, max);
        self
    }
    /// Simard's elastic distortion: `alpha` pixels (0 = off), smoothed
    /// with a Gaussian of `sigma` (images up to 64x64).
    pub fn elastic(mut self, alpha: f32, sigma: f32) -> Self {
        (self.0.elastic_alpha, self.0.elastic_sigma) = (alpha, sigma);
        self
    }
    /// Chance in [0, 1] that an example is transformed at all.
    pub fn probability(mut self, p: f32) -> Self {
        self.0.probability = p;
        self
    }
    pub fn seed(mut self, seed: u64) -> Self {
        self.0.seed = seed;
        self
    }
}

impl Dataset {
    /// A view whose examples are randomly transformed when read
    /// (cnn_dataset_augment: nothing is copied).  Training reads pass =
    /// epoch, so each epoch sees fresh transforms; `get`, `batch` and
    /// evaluation read pass 0.  Evaluate on the plain set.
    pub fn augment(&self, a: &Augment) -> Result<Dataset> {
        let mut p = a.0;
        p.struct_size = size_of::<sys::cnn_augment_params>() as u32;
        let mut out = ptr::null_mut();
        check(unsafe { sys::cnn_dataset_augment(self.ptr, &p, &mut out) })?;
        Ok(Dataset { ptr: out })
    }

    /// Every example's label, in order.
    pub fn labels(&self) -> Result<Vec<i32>> {
        (0..self.len())
            .map(|i| {
                let mut label = 0;
                check(unsafe { sys::cnn_dataset_get(self.ptr, i as i64, ptr::null_mut(), &mut label) })?;
                Ok(label)
            })
            .collect()
    }
}
