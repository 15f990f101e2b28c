//! Raw declarations of libcnn's C API (cnn.h), one to one.  Structs are
//! `#[repr(C)]` copies of the header's; their sizes are asserted in tests.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_void};

pub type cnn_status = i32;

macro_rules! opaque {
    ($($name:ident),*) => {$(
        #[repr(C)]
        pub struct $name {
            _private: [u8; 0],
        }
    )*};
}
opaque!(cnn_tensor, cnn_layer, cnn_net, cnn_optimizer, cnn_dataset);

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct cnn_conv2d_params {
    pub struct_size: u32,
    pub in_channels: i32,
    pub out_channels: i32,
    pub kernel_h: i32,
    pub kernel_w: i32,
    pub stride_h: i32,
    pub stride_w: i32,
    pub pad_h: i32,
    pub pad_w: i32,
    pub activation: i32,
    pub pool: i32,
    pub pool_h: i32,
    pub pool_w: i32,
    pub init: i32,
    pub seed: u64,
    /// cnn_padding: 0 explicit (pad_h, pad_w), 1 "same".  @since 1.0
    pub padding: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct cnn_pool2d_params {
    pub struct_size: u32,
    pub mode: i32,
    pub window_h: i32,
    pub window_w: i32,
    pub stride_h: i32,
    pub stride_w: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct cnn_dense_params {
    pub struct_size: u32,
    pub in_features: i32,
    pub out_features: i32,
    pub activation: i32,
    pub dropout: f32,
    pub init: i32,
    pub seed: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct cnn_softmax_params {
    pub struct_size: u32,
    pub in_features: i32,
    pub classes: i32,
    pub dropout: f32,
    pub init: i32,
    pub seed: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct cnn_sgd_params {
    pub struct_size: u32,
    pub learning_rate: f32,
    pub momentum: f32,
    pub l2: f32,
    pub l2_batches: i64,
    /// Non-zero: Nesterov momentum.  @since 1.0
    pub nesterov: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct cnn_batchnorm_params {
    pub struct_size: u32,
    pub momentum: f32,
    pub epsilon: f32,
    pub channels: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct cnn_adam_params {
    pub struct_size: u32,
    pub learning_rate: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub epsilon: f32,
    pub weight_decay: f32,
    pub decoupled: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct cnn_progress {
    pub struct_size: u32,
    pub epoch: i32,
    pub epochs: i32,
    pub batch: i64,
    pub batches: i64,
    pub cost: f64,
    pub seconds: f64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct cnn_epoch_report {
    pub struct_size: u32,
    pub epoch: i32,
    pub epochs: i32,
    pub train_cost: f64,
    pub validation_accuracy: f64,
    pub test_accuracy: f64,
    pub seconds: f64,
    pub images_per_second: f64,
    pub best_epoch: i32,
    pub best_validation_accuracy: f64,
    pub test_accuracy_at_best: f64,
}

pub type cnn_progress_fn = Option<unsafe extern "C" fn(*const cnn_progress, *mut c_void) -> i32>;
pub type cnn_epoch_fn = Option<unsafe extern "C" fn(*const cnn_epoch_report, *mut c_void) -> i32>;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct cnn_train_params {
    pub struct_size: u32,
    pub epochs: i32,
    pub batch_size: i32,
    pub shuffle: i32,
    pub seed: u64,
    pub validation: *const cnn_dataset,
    pub test: *const cnn_dataset,
    pub eval_batch_size: i32,
    pub progress_every: i32,
    pub on_progress: cnn_progress_fn,
    pub on_epoch: cnn_epoch_fn,
    pub user: *mut c_void,
    pub checkpoint_path: *const c_char,
    pub resume_path: *const c_char,
    pub checkpoint_every: i32,
    /// Learning-rate schedule (cnn_schedule) and its settings.  @since 1.0
    pub schedule: i32,
    pub schedule_gamma: f32,
    pub schedule_step: i32,
    pub schedule_step_epochs: i32,
    pub warmup_fraction: f32,
    pub initial_lr_fraction: f32,
    pub final_lr_fraction: f32,
}

impl Default for cnn_train_params {
    fn default() -> Self {
        cnn_train_params {
            struct_size: 0, epochs: 0, batch_size: 0, shuffle: 0, seed: 0,
            validation: std::ptr::null(), test: std::ptr::null(), eval_batch_size: 0,
            progress_every: 0, on_progress: None, on_epoch: None, user: std::ptr::null_mut(),
            checkpoint_path: std::ptr::null(), resume_path: std::ptr::null(), checkpoint_every: 0,
            schedule: 0, schedule_gamma: 0.0, schedule_step: 0, schedule_step_epochs: 0,
            warmup_fraction: 0.0, initial_lr_fraction: 0.0, final_lr_fraction: 0.0,
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct cnn_train_result {
    pub struct_size: u32,
    pub epochs_run: i32,
    pub best_epoch: i32,
    pub best_validation_accuracy: f64,
    pub test_accuracy_at_best: f64,
    pub final_train_cost: f64,
    pub seconds: f64,
}

/// Random augmentation ranges (cnn_augment_params).  @since 0.1
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct cnn_augment_params {
    pub struct_size: u32,
    pub probability: f32,
    pub rotate_min: f32,
    pub rotate_max: f32,
    pub scale_min: f32,
    pub scale_max: f32,
    pub shift_x_min: f32,
    pub shift_x_max: f32,
    pub shift_y_min: f32,
    pub shift_y_max: f32,
    pub shear_min: f32,
    pub shear_max: f32,
    pub elastic_alpha: f32,
    pub elastic_sigma: f32,
    pub seed: u64,
}

/// Bounds on a network's cost (cnn_load_limits).  @since 1.0
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct cnn_load_limits {
    pub struct_size: u32,
    pub max_param_bytes: i64,
    pub max_workspace_bytes: i64,
    pub max_flops: i64,
}

extern "C" {
    pub fn cnn_augment_params_init_sized(p: *mut cnn_augment_params, struct_size: usize) -> cnn_status;
    pub fn cnn_dataset_augment(ds: *const cnn_dataset, p: *const cnn_augment_params, out: *mut *mut cnn_dataset) -> cnn_status;
    pub fn cnn_load_limits_init(limits: *mut cnn_load_limits, struct_size: usize) -> cnn_status;
    pub fn cnn_net_load_limited(path: *const c_char, limits: *const cnn_load_limits, out: *mut *mut cnn_net) -> cnn_status;
    pub fn cnn_net_load_buffer_limited(data: *const c_void, size: usize, limits: *const cnn_load_limits, out: *mut *mut cnn_net) -> cnn_status;
    pub fn cnn_net_set_limits(net: *mut cnn_net, limits: *const cnn_load_limits) -> cnn_status;
    pub fn cnn_net_get_limits(net: *const cnn_net, limits: *mut cnn_load_limits) -> cnn_status;
}

extern "C" {
    pub fn cnn_version() -> u32;
    pub fn cnn_version_string() -> *const c_char;
    pub fn cnn_isa() -> i32;
    pub fn cnn_isa_best() -> i32;
    pub fn cnn_isa_name(isa: i32) -> *const c_char;
    pub fn cnn_status_string(status: cnn_status) -> *const c_char;
    pub fn cnn_status_name(status: cnn_status) -> *const c_char;
    pub fn cnn_last_error() -> *const c_char;
    pub fn cnn_free(ptr: *mut c_void);

    pub fn cnn_tensor_create(ndim: i32, shape: *const i64, out: *mut *mut cnn_tensor) -> cnn_status;
    pub fn cnn_tensor_wrap(ndim: i32, shape: *const i64, data: *mut f32, out: *mut *mut cnn_tensor) -> cnn_status;
    pub fn cnn_tensor_destroy(t: *mut cnn_tensor);
    pub fn cnn_tensor_ndim(t: *const cnn_tensor) -> i32;
    pub fn cnn_tensor_dim(t: *const cnn_tensor, axis: i32) -> i64;
    pub fn cnn_tensor_numel(t: *const cnn_tensor) -> i64;
    pub fn cnn_tensor_data(t: *mut cnn_tensor) -> *mut f32;
    pub fn cnn_tensor_reshape(t: *mut cnn_tensor, ndim: i32, shape: *const i64) -> cnn_status;
    pub fn cnn_tensor_copy_in(t: *mut cnn_tensor, src: *const f32, count: i64) -> cnn_status;
    pub fn cnn_tensor_copy_out(t: *const cnn_tensor, dst: *mut f32, count: i64) -> cnn_status;

    pub fn cnn_conv2d_params_init_sized(p: *mut cnn_conv2d_params, struct_size: usize, out_channels: i32, kernel_h: i32, kernel_w: i32) -> cnn_status;
    pub fn cnn_conv2d_create(p: *const cnn_conv2d_params, out: *mut *mut cnn_layer) -> cnn_status;
    pub fn cnn_pool2d_params_init_sized(p: *mut cnn_pool2d_params, struct_size: usize, mode: i32, window_h: i32, window_w: i32) -> cnn_status;
    pub fn cnn_pool2d_create(p: *const cnn_pool2d_params, out: *mut *mut cnn_layer) -> cnn_status;
    pub fn cnn_dense_params_init_sized(p: *mut cnn_dense_params, struct_size: usize, out_features: i32) -> cnn_status;
    pub fn cnn_dense_create(p: *const cnn_dense_params, out: *mut *mut cnn_layer) -> cnn_status;
    pub fn cnn_softmax_params_init_sized(p: *mut cnn_softmax_params, struct_size: usize, classes: i32) -> cnn_status;
    pub fn cnn_softmax_create(p: *const cnn_softmax_params, out: *mut *mut cnn_layer) -> cnn_status;
    pub fn cnn_activation_create(activation: i32, out: *mut *mut cnn_layer) -> cnn_status;
    pub fn cnn_batchnorm_params_init_sized(p: *mut cnn_batchnorm_params, struct_size: usize) -> cnn_status;
    pub fn cnn_batchnorm_create(p: *const cnn_batchnorm_params, out: *mut *mut cnn_layer) -> cnn_status;
    pub fn cnn_global_avg_pool_create(out: *mut *mut cnn_layer) -> cnn_status;
    pub fn cnn_layer_summary(layer: *const cnn_layer, buf: *mut c_char, size: usize) -> cnn_status;
    pub fn cnn_layer_destroy(layer: *mut cnn_layer);
    pub fn cnn_layer_kind(layer: *const cnn_layer) -> i32;
    pub fn cnn_layer_output_shape(layer: *const cnn_layer, inp: *const i32, out: *mut i32) -> cnn_status;
    pub fn cnn_layer_param_count(layer: *const cnn_layer) -> i64;
    pub fn cnn_layer_param(layer: *mut cnn_layer, which: i32) -> *mut cnn_tensor;
    pub fn cnn_layer_forward(layer: *mut cnn_layer, x: *const cnn_tensor, y: *mut cnn_tensor, mode: i32) -> cnn_status;
    pub fn cnn_layer_backward(layer: *mut cnn_layer, x: *const cnn_tensor, y: *const cnn_tensor, dy: *const cnn_tensor, dx: *mut cnn_tensor) -> cnn_status;

    pub fn cnn_dataset_load_idx(images: *const c_char, labels: *const c_char, out: *mut *mut cnn_dataset) -> cnn_status;
    pub fn cnn_dataset_load_mnist(dir: *const c_char, split: i32, out: *mut *mut cnn_dataset) -> cnn_status;
    pub fn cnn_dataset_create(count: i64, c: i32, h: i32, w: i32, pixels: *const u8, labels: *const u8, out: *mut *mut cnn_dataset) -> cnn_status;
    pub fn cnn_dataset_destroy(ds: *mut cnn_dataset);
    pub fn cnn_dataset_count(ds: *const cnn_dataset) -> i64;
    pub fn cnn_dataset_shape(ds: *const cnn_dataset, shape: *mut i32) -> cnn_status;
    pub fn cnn_dataset_slice(ds: *const cnn_dataset, start: i64, count: i64, out: *mut *mut cnn_dataset) -> cnn_status;
    pub fn cnn_dataset_expand(ds: *const cnn_dataset, seed: u64, out: *mut *mut cnn_dataset) -> cnn_status;
    pub fn cnn_dataset_get(ds: *const cnn_dataset, index: i64, pixels: *mut f32, label: *mut i32) -> cnn_status;
    pub fn cnn_dataset_batch(ds: *const cnn_dataset, start: i64, count: i64, x: *mut cnn_tensor, labels: *mut i32) -> cnn_status;

    pub fn cnn_net_create(c: i32, h: i32, w: i32, seed: u64, out: *mut *mut cnn_net) -> cnn_status;
    pub fn cnn_net_destroy(net: *mut cnn_net);
    pub fn cnn_net_add(net: *mut cnn_net, layer: *mut cnn_layer) -> cnn_status;
    pub fn cnn_net_init_weights(net: *mut cnn_net, seed: u64) -> cnn_status;
    pub fn cnn_net_clone(net: *const cnn_net, out: *mut *mut cnn_net) -> cnn_status;
    pub fn cnn_net_layer_count(net: *const cnn_net) -> i32;
    pub fn cnn_net_layer(net: *mut cnn_net, index: i32) -> *mut cnn_layer;
    pub fn cnn_net_input_shape(net: *const cnn_net, shape: *mut i32) -> cnn_status;
    pub fn cnn_net_output_shape(net: *const cnn_net, shape: *mut i32) -> cnn_status;
    pub fn cnn_net_param_count(net: *const cnn_net) -> i64;
    pub fn cnn_net_params(net: *mut cnn_net) -> *mut f32;
    pub fn cnn_net_grads(net: *mut cnn_net) -> *mut f32;
    pub fn cnn_net_set_threads(net: *mut cnn_net, threads: i32) -> cnn_status;
    pub fn cnn_net_forward(net: *mut cnn_net, x: *const cnn_tensor, mode: i32, y: *mut cnn_tensor) -> cnn_status;
    pub fn cnn_net_backward(net: *mut cnn_net, labels: *const i32, cost: *mut f64) -> cnn_status;
    pub fn cnn_net_predict(net: *mut cnn_net, x: *const cnn_tensor, labels: *mut i32) -> cnn_status;
    pub fn cnn_net_predict_dataset(net: *mut cnn_net, ds: *const cnn_dataset, batch: i32, labels: *mut i32) -> cnn_status;
    pub fn cnn_net_evaluate(net: *mut cnn_net, ds: *const cnn_dataset, batch: i32, accuracy: *mut f64, cost: *mut f64) -> cnn_status;
    pub fn cnn_net_errmsg(net: *const cnn_net) -> *const c_char;
    pub fn cnn_net_save(net: *const cnn_net, path: *const c_char) -> cnn_status;
    pub fn cnn_net_load(path: *const c_char, out: *mut *mut cnn_net) -> cnn_status;
    pub fn cnn_net_export_onnx(net: *const cnn_net, path: *const c_char) -> cnn_status;
    pub fn cnn_net_import_onnx(path: *const c_char, out: *mut *mut cnn_net) -> cnn_status;
    pub fn cnn_net_save_buffer(net: *const cnn_net, data: *mut *mut c_void, size: *mut usize) -> cnn_status;
    pub fn cnn_net_load_buffer(data: *const c_void, size: usize, out: *mut *mut cnn_net) -> cnn_status;
    pub fn cnn_net_summary(net: *const cnn_net, buf: *mut c_char, size: usize, needed: *mut usize) -> cnn_status;

    pub fn cnn_sgd_params_init_sized(p: *mut cnn_sgd_params, struct_size: usize, learning_rate: f32) -> cnn_status;
    pub fn cnn_sgd_create(p: *const cnn_sgd_params, out: *mut *mut cnn_optimizer) -> cnn_status;
    pub fn cnn_adam_params_init_sized(p: *mut cnn_adam_params, struct_size: usize, learning_rate: f32) -> cnn_status;
    pub fn cnn_adam_create(p: *const cnn_adam_params, out: *mut *mut cnn_optimizer) -> cnn_status;
    pub fn cnn_optimizer_set_learning_rate(opt: *mut cnn_optimizer, learning_rate: f32) -> cnn_status;
    pub fn cnn_optimizer_learning_rate(opt: *const cnn_optimizer) -> f32;
    pub fn cnn_optimizer_destroy(opt: *mut cnn_optimizer);
    pub fn cnn_optimizer_step(opt: *mut cnn_optimizer, net: *mut cnn_net) -> cnn_status;
    pub fn cnn_train_step(net: *mut cnn_net, opt: *mut cnn_optimizer, x: *const cnn_tensor, labels: *const i32, cost: *mut f64) -> cnn_status;
    pub fn cnn_train_params_init_sized(p: *mut cnn_train_params, struct_size: usize, epochs: i32) -> cnn_status;
    pub fn cnn_train(net: *mut cnn_net, opt: *mut cnn_optimizer, train: *const cnn_dataset, p: *const cnn_train_params, result: *mut cnn_train_result) -> cnn_status;
    pub fn cnn_schedule_rate(p: *const cnn_train_params, base: f32, t: i64, total: i64, steps_per_epoch: i64) -> f32;
    pub fn cnn_checkpoint_info(path: *const c_char, epoch: *mut i32) -> cnn_status;
    pub fn cnn_test_fail_alloc_after(n: i64);
}

/// The header's inline cnn_conv2d_params_init: passes this binding's struct
/// size, so the library writes no byte past it.
///
/// # Safety
/// `p` points to a writable struct of this type.
pub unsafe fn cnn_conv2d_params_init(p: *mut cnn_conv2d_params, out_channels: i32, kernel_h: i32, kernel_w: i32) -> cnn_status {
    cnn_conv2d_params_init_sized(p, std::mem::size_of::<cnn_conv2d_params>(), out_channels, kernel_h, kernel_w)
}

/// The header's inline cnn_pool2d_params_init: passes this binding's struct
/// size, so the library writes no byte past it.
///
/// # Safety
/// `p` points to a writable struct of this type.
pub unsafe fn cnn_pool2d_params_init(p: *mut cnn_pool2d_params, mode: i32, window_h: i32, window_w: i32) -> cnn_status {
    cnn_pool2d_params_init_sized(p, std::mem::size_of::<cnn_pool2d_params>(), mode, window_h, window_w)
}

/// The header's inline cnn_dense_params_init: passes this binding's struct
/// size, so the library writes no byte past it.
///
/// # Safety
/// `p` points to a writable struct of this type.
pub unsafe fn cnn_dense_params_init(p: *mut cnn_dense_params, out_features: i32) -> cnn_status {
    cnn_dense_params_init_sized(p, std::mem::size_of::<cnn_dense_params>(), out_features)
}

/// The header's inline cnn_softmax_params_init: passes this binding's struct
/// size, so the library writes no byte past it.
///
/// # Safety
/// `p` points to a writable struct of this type.
pub unsafe fn cnn_softmax_params_init(p: *mut cnn_softmax_params, classes: i32) -> cnn_status {
    cnn_softmax_params_init_sized(p, std::mem::size_of::<cnn_softmax_params>(), classes)
}

/// The header's inline cnn_batchnorm_params_init: passes this binding's
/// struct size, so the library writes no byte past it.
///
/// # Safety
/// `p` points to a writable struct of this type.
pub unsafe fn cnn_batchnorm_params_init(p: *mut cnn_batchnorm_params) -> cnn_status {
    cnn_batchnorm_params_init_sized(p, std::mem::size_of::<cnn_batchnorm_params>())
}

/// The header's inline cnn_adam_params_init: passes this binding's struct
/// size, so the library writes no byte past it.
///
/// # Safety
/// `p` points to a writable struct of this type.
pub unsafe fn cnn_adam_params_init(p: *mut cnn_adam_params, learning_rate: f32) -> cnn_status {
    cnn_adam_params_init_sized(p, std::mem::size_of::<cnn_adam_params>(), learning_rate)
}

/// The header's inline cnn_sgd_params_init: passes this binding's struct
/// size, so the library writes no byte past it.
///
/// # Safety
/// `p` points to a writable struct of this type.
pub unsafe fn cnn_sgd_params_init(p: *mut cnn_sgd_params, learning_rate: f32) -> cnn_status {
    cnn_sgd_params_init_sized(p, std::mem::size_of::<cnn_sgd_params>(), learning_rate)
}

/// The header's inline cnn_train_params_init: passes this binding's struct
/// size, so the library writes no byte past it.
///
/// # Safety
/// `p` points to a writable struct of this type.
pub unsafe fn cnn_train_params_init(p: *mut cnn_train_params, epochs: i32) -> cnn_status {
    cnn_train_params_init_sized(p, std::mem::size_of::<cnn_train_params>(), epochs)
}

/// The header's inline cnn_augment_params_init: passes this binding's
/// struct size, so the library writes no byte past it.
///
/// # Safety
/// `p` points to a writable `cnn_augment_params`.
pub unsafe fn cnn_augment_params_init(p: *mut cnn_augment_params) -> cnn_status {
    cnn_augment_params_init_sized(p, std::mem::size_of::<cnn_augment_params>())
}
