//! Layers and their builders.  A builder holds the C params struct filled
//! by the library's *_params_init (so defaults come from the library) and
//! sets `struct_size` to this binding's struct size before creating.
use crate::error::{check, Result};
use crate::sys;
use crate::tensor::{TensorView, TensorViewMut};
use std::marker::PhantomData;
use std::mem::size_of;
use std::ptr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Activation {
    Identity = 0,
    Sigmoid = 1,
    Tanh = 2,
    Relu = 3,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Pool {
    None = 0,
    Max = 1,
    Avg = 2,
    L2 = 3,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Init {
    Network3 = 0,
    He = 1,
    Glorot = 2,
    Zero = 3,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerKind {
    Conv2d,
    Pool2d,
    Dense,
    Softmax,
    Activation,
    /// Batch normalisation.  @since 1.0
    BatchNorm,
    /// Global average pooling.  @since 1.0
    GlobalAvgPool,
    Unknown(i32),
}

/// Which of a layer's parameter tensors `param` returns (values pinned by
/// cnn.h's `cnn_param_kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Param {
    /// conv (out, in, kh, kw); dense and softmax (out, in); batch norm gamma (C).
    Weights = 0,
    /// (out); batch norm beta (C).
    Biases = 1,
    /// The gradient of the cost with respect to the weights, same shape.
    GradWeights = 2,
    /// The gradient of the cost with respect to the biases, same shape.
    GradBiases = 3,
}

/// An owned layer not (yet) in a network.  `Net::add` consumes it.
pub struct Layer {
    pub(crate) ptr: *mut sys::cnn_layer,
}

unsafe impl Send for Layer {}

impl Drop for Layer {
    fn drop(&mut self) {
        unsafe { sys::cnn_layer_destroy(self.ptr) }
    }
}

/// A layer borrowed from a network for the network's borrow `'a`.  It is
/// a copyable handle: what it lends (`param`) lives as long as the
/// network's borrow, not as long as this handle, so a view taken straight
/// off `net.layer(i)` can be kept in a variable:
///
/// ```
/// use cnn::{Dense, Net, Param, Softmax};
/// let mut net = Net::new(1, 4, 4, 0)?;
/// net.add(Dense::new(3).build()?)?.add(Softmax::new(2).build()?)?;
/// let w = net.layer(0).unwrap().param(Param::Weights).unwrap();
/// assert_eq!(w.shape(), vec![3, 16]);
/// # Ok::<(), cnn::Error>(())
/// ```
///
/// and the compiler still refuses it across a change of the network
/// (`add` moves every parameter into a new buffer):
///
/// ```compile_fail,E0502
/// use cnn::{Dense, Net, Param, Softmax};
/// let mut net = Net::new(1, 4, 4, 0)?;
/// net.add(Dense::new(3).build()?)?;
/// let w = net.layer(0).unwrap().param(Param::Weights).unwrap();
/// net.add(Softmax::new(2).build()?)?;
/// println!("{:?}", w.data());
/// # Ok::<(), cnn::Error>(())
/// ```
#[derive(Clone, Copy)]
pub struct LayerRef<'a> {
    pub(crate) ptr: *mut sys::cnn_layer,
    pub(crate) _net: PhantomData<&'a ()>,
}

/// What owned and borrowed layers can both do.
macro_rules! layer_queries {
    ($t:ty) => {
        impl $t {
            pub fn kind(&self) -> LayerKind {
                match unsafe { sys::cnn_layer_kind(self.ptr) } {
                    1 => LayerKind::Conv2d,
                    2 => LayerKind::Pool2d,
                    3 => LayerKind::Dense,
                    4 => LayerKind::Softmax,
                    5 => LayerKind::Activation,
                    6 => LayerKind::BatchNorm,
                    7 => LayerKind::GlobalAvgPool,
                    k => LayerKind::Unknown(k),
                }
            }
            pub fn param_count(&self) -> i64 {
                unsafe { sys::cnn_layer_param_count(self.ptr) }
            }
            /// Output (C, H, W) for an input of shape (C, H, W).
            pub fn output_shape(&self, input: [i32; 3]) -> Result<[i32; 3]> {
                let mut out = [0i32; 3];
                check(unsafe { sys::cnn_layer_output_shape(self.ptr, input.as_ptr(), out.as_mut_ptr()) })?;
                Ok(out)
            }
            /// One line saying what the layer computes, e.g. "conv2d 20
            /// maps 5x5, stride 1x1, pad 0x0, relu, max pool 2x2".
            pub fn summary(&self) -> Result<String> {
                let mut buf = [0u8; 512];
                check(unsafe { sys::cnn_layer_summary(self.ptr, buf.as_mut_ptr() as *mut _, buf.len()) })?;
                let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
                Ok(String::from_utf8_lossy(&buf[..end]).into_owned())
            }
        }
    };
}
layer_queries!(Layer);
layer_queries!(LayerRef<'_>);

/// A view of tensor `which` of layer `l`, or None if it has none.
/// SAFETY: `l` is live for `'a`, and nothing changes the layer's storage
/// during `'a` (every such change needs `&mut` of the layer or its network).
unsafe fn param_view<'a>(l: *mut sys::cnn_layer, which: Param) -> Option<TensorView<'a>> {
    let t = sys::cnn_layer_param(l, which as i32);
    (!t.is_null()).then_some(TensorView { ptr: t, _owner: PhantomData })
}

impl Layer {
    /// The layer's `which` tensor, zero-copy, borrowed from the layer; None
    /// for a layer without one (pooling, activation, or a layer whose input
    /// size is not known yet).
    pub fn param(&self, which: Param) -> Option<TensorView<'_>> {
        unsafe { param_view(self.ptr, which) }
    }
    /// A writable view of the `which` tensor (changing it changes the layer).
    pub fn param_mut(&mut self, which: Param) -> Option<TensorViewMut<'_>> {
        unsafe { param_view(self.ptr, which) }.map(TensorViewMut)
    }
}

impl<'a> LayerRef<'a> {
    /// The layer's `which` tensor, zero-copy, for the network's borrow `'a`
    /// (not this handle's): it cannot be used across `Net::add` or any
    /// other `&mut` use of the network.  None as for `Layer::param`.
    pub fn param(&self, which: Param) -> Option<TensorView<'a>> {
        unsafe { param_view(self.ptr, which) }
    }
}

/// Runs a *_params_init (which passes this binding's struct size, see
/// sys.rs) on a default struct: the library writes no byte past it.
pub(crate) fn init_params<P: Default>(init: impl FnOnce(*mut P) -> i32) -> P {
    let mut p = P::default();
    // Cannot fail for a non-NULL struct of at least the first published size.
    init(&mut p);
    p
}

fn create<P>(f: unsafe extern "C" fn(*const P, *mut *mut sys::cnn_layer) -> i32, p: &P) -> Result<Layer> {
    let mut ptr = ptr::null_mut();
    check(unsafe { f(p, &mut ptr) })?;
    Ok(Layer { ptr })
}

/// Builder for a convolution layer (optionally with fused pooling).
pub struct Conv2d(sys::cnn_conv2d_params);

impl Conv2d {
    pub fn new(out_channels: i32, kernel: i32) -> Conv2d {
        let p = init_params(|p: *mut sys::cnn_conv2d_params| unsafe { sys::cnn_conv2d_params_init(p, out_channels, kernel, kernel) });
        Conv2d(p)
    }
    pub fn kernel(mut self, h: i32, w: i32) -> Self {
        (self.0.kernel_h, self.0.kernel_w) = (h, w);
        self
    }
    pub fn in_channels(mut self, c: i32) -> Self {
        self.0.in_channels = c;
        self
    }
    pub fn stride(mut self, h: i32, w: i32) -> Self {
        (self.0.stride_h, self.0.stride_w) = (h, w);
        self
    }
    /// Explicit zero padding: `h` rows above and below, `w` columns left
    /// and right (undoes `same_padding`).
    pub fn padding(mut self, h: i32, w: i32) -> Self {
        (self.0.pad_h, self.0.pad_w) = (h, w);
        self.0.padding = 0;
        self
    }
    /// "Same" padding: (kernel-1)/2 on each side, so the output has
    /// ceil(in/stride) rows and columns; the kernel's sides must be odd.
    pub fn same_padding(mut self) -> Self {
        self.0.padding = 1;
        self
    }
    pub fn activation(mut self, a: Activation) -> Self {
        self.0.activation = a as i32;
        self
    }
    /// Fused pooling after the convolution (network3's ConvPoolLayer).
    pub fn pool(mut self, mode: Pool, h: i32, w: i32) -> Self {
        (self.0.pool, self.0.pool_h, self.0.pool_w) = (mode as i32, h, w);
        self
    }
    pub fn init(mut self, i: Init) -> Self {
        self.0.init = i as i32;
        self
    }
    pub fn seed(mut self, s: u64) -> Self {
        self.0.seed = s;
        self
    }
    pub fn build(mut self) -> Result<Layer> {
        self.0.struct_size = size_of::<sys::cnn_conv2d_params>() as u32;
        create(sys::cnn_conv2d_create, &self.0)
    }
}

/// Builder for a pooling layer.
pub struct Pool2d(sys::cnn_pool2d_params);

impl Pool2d {
    pub fn new(mode: Pool, window: i32) -> Pool2d {
        let p = init_params(|p: *mut sys::cnn_pool2d_params| unsafe { sys::cnn_pool2d_params_init(p, mode as i32, window, window) });
        Pool2d(p)
    }
    pub fn stride(mut self, h: i32, w: i32) -> Self {
        (self.0.stride_h, self.0.stride_w) = (h, w);
        self
    }
    pub fn build(mut self) -> Result<Layer> {
        self.0.struct_size = size_of::<sys::cnn_pool2d_params>() as u32;
        create(sys::cnn_pool2d_create, &self.0)
    }
}

/// Builder for a fully connected layer.
pub struct Dense(sys::cnn_dense_params);

impl Dense {
    pub fn new(out_features: i32) -> Dense {
        let p = init_params(|p: *mut sys::cnn_dense_params| unsafe { sys::cnn_dense_params_init(p, out_features) });
        Dense(p)
    }
    pub fn in_features(mut self, n: i32) -> Self {
        self.0.in_features = n;
        self
    }
    pub fn activation(mut self, a: Activation) -> Self {
        self.0.activation = a as i32;
        self
    }
    pub fn dropout(mut self, p: f32) -> Self {
        self.0.dropout = p;
        self
    }
    pub fn init(mut self, i: Init) -> Self {
        self.0.init = i as i32;
        self
    }
    pub fn build(mut self) -> Result<Layer> {
        self.0.struct_size = size_of::<sys::cnn_dense_params>() as u32;
        create(sys::cnn_dense_create, &self.0)
    }
}

/// Builder for the softmax output layer.
pub struct Softmax(sys::cnn_softmax_params);

impl Softmax {
    pub fn new(classes: i32) -> Softmax {
        let p = init_params(|p: *mut sys::cnn_softmax_params| unsafe { sys::cnn_softmax_params_init(p, classes) });
        Softmax(p)
    }
    pub fn dropout(mut self, p: f32) -> Self {
        self.0.dropout = p;
        self
    }
    pub fn build(mut self) -> Result<Layer> {
        self.0.struct_size = size_of::<sys::cnn_softmax_params>() as u32;
        create(sys::cnn_softmax_create, &self.0)
    }
}

/// Builder for a batch normalisation layer: per channel (or feature of a
/// flat input) y = gamma * (x - mean) / sqrt(var + eps) + beta.  gamma is
/// the layer's `param(Param::Weights)`, beta its `param(Param::Biases)`; the running mean and
/// variance are state, saved with the model but not trained.
pub struct BatchNorm(sys::cnn_batchnorm_params);

impl BatchNorm {
    /// Momentum 0.1 and epsilon 1e-5 (the library's defaults), channels
    /// taken from the network.
    pub fn new() -> BatchNorm {
        BatchNorm(init_params(|p: *mut sys::cnn_batchnorm_params| unsafe { sys::cnn_batchnorm_params_init(p) }))
    }
    /// In [0, 1]: running = (1 - momentum) * running + momentum * batch.
    pub fn momentum(mut self, m: f32) -> Self {
        self.0.momentum = m;
        self
    }
    /// Added to the variance; > 0.
    pub fn epsilon(mut self, e: f32) -> Self {
        self.0.epsilon = e;
        self
    }
    /// Channels of a standalone layer (a network sets them when adding it).
    pub fn channels(mut self, c: i32) -> Self {
        self.0.channels = c;
        self
    }
    pub fn build(mut self) -> Result<Layer> {
        self.0.struct_size = size_of::<sys::cnn_batchnorm_params>() as u32;
        create(sys::cnn_batchnorm_create, &self.0)
    }
}

impl Default for BatchNorm {
    fn default() -> Self {
        BatchNorm::new()
    }
}

/// Global average pooling: (C, H, W) -> (C, 1, 1), each channel's mean.
pub struct GlobalAvgPool;

impl GlobalAvgPool {
    pub fn build() -> Result<Layer> {
        Layer::global_avg_pool()
    }
}

impl Layer {
    /// A global average pooling layer (also `GlobalAvgPool::build()`).
    pub fn global_avg_pool() -> Result<Layer> {
        let mut ptr = ptr::null_mut();
        check(unsafe { sys::cnn_global_avg_pool_create(&mut ptr) })?;
        Ok(Layer { ptr })
    }

    /// An element-wise activation layer.
    pub fn activation(a: Activation) -> Result<Layer> {
        let mut ptr = ptr::null_mut();
        check(unsafe { sys::cnn_activation_create(a as i32, &mut ptr) })?;
        Ok(Layer { ptr })
    }
}
