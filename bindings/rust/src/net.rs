//! Networks, the optimizers (SGD, Adam) and the training loop.
use crate::dataset::Dataset;
use crate::error::{check, text, Error, Result};
use crate::layer::{init_params, Layer, LayerKind, LayerRef, Param};
use crate::sys;
use crate::tensor::{Tensor, TensorViewMut};
use std::any::Any;
use std::ffi::CString;
use std::marker::PhantomData;
use std::mem::{size_of, ManuallyDrop};
use std::os::raw::c_void;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::Path;
use std::ptr;

/// An ordered stack of layers with its parameters and workspace.
pub struct Net {
    pub(crate) ptr: *mut sys::cnn_net,
    /// Batch size of the last `forward(x, true)`: how many labels `backward` reads.
    last_train_n: Option<usize>,
}

unsafe impl Send for Net {}

impl Drop for Net {
    fn drop(&mut self) {
        unsafe { sys::cnn_net_destroy(self.ptr) }
    }
}

pub(crate) fn made(f: impl FnOnce(*mut *mut sys::cnn_net) -> i32) -> Result<Net> {
    let mut ptr = ptr::null_mut();
    check(f(&mut ptr))?;
    Ok(Net { ptr, last_train_n: None })
}

/// The path as a C string; a path with an interior NUL is an error (C
/// would read it as the end of the name: `x\0y` would name `x`).
pub(crate) fn c_path(p: &Path) -> Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| Error::invalid(format!("path contains a NUL byte: {:?}", p)))
}

impl Net {
    /// An empty network for inputs of shape (c, h, w).
    pub fn new(c: i32, h: i32, w: i32, seed: u64) -> Result<Net> {
        made(|out| unsafe { sys::cnn_net_create(c, h, w, seed, out) })
    }

    /// Appends a layer; the network takes ownership of it.  On failure the
    /// layer is dropped (freed) with the error.
    pub fn add(&mut self, layer: Layer) -> Result<&mut Net> {
        check(unsafe { sys::cnn_net_add(self.ptr, layer.ptr) })?;
        let _owned_by_net = ManuallyDrop::new(layer); // the net frees it now
        Ok(self)
    }

    pub fn len(&self) -> usize {
        unsafe { sys::cnn_net_layer_count(self.ptr) as usize }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Layer `i`, borrowed from the network.
    pub fn layer(&self, i: usize) -> Option<LayerRef<'_>> {
        let l = self.layer_ptr(i)?;
        Some(LayerRef { ptr: l, _net: PhantomData })
    }
    fn layer_ptr(&self, i: usize) -> Option<*mut sys::cnn_layer> {
        let i = i32::try_from(i).ok()?; // not `as`: 2^32 must not wrap to 0
        let l = unsafe { sys::cnn_net_layer(self.ptr, i) };
        (!l.is_null()).then_some(l)
    }
    /// A writable zero-copy view of layer `i`'s `which` tensor (writing it
    /// changes the network; it is a stretch of `params_mut()`); None if the
    /// layer does not exist or has no such tensor.
    pub fn param_mut(&mut self, i: usize, which: Param) -> Option<TensorViewMut<'_>> {
        let l = self.layer_ptr(i)?;
        // SAFETY: `&mut self` is held for the view's life: nothing else
        // reads or moves the network's storage meanwhile.
        LayerRef { ptr: l, _net: PhantomData::<&'_ ()> }.param(which).map(TensorViewMut)
    }
    pub fn input_shape(&self) -> [i32; 3] {
        let mut s = [0; 3];
        unsafe { sys::cnn_net_input_shape(self.ptr, s.as_mut_ptr()) };
        s
    }
    pub fn output_shape(&self) -> [i32; 3] {
        let mut s = [0; 3];
        unsafe { sys::cnn_net_output_shape(self.ptr, s.as_mut_ptr()) };
        s
    }
    pub fn param_count(&self) -> usize {
        unsafe { sys::cnn_net_param_count(self.ptr) as usize }
    }
    /// All parameters, zero-copy.  The borrow ends before any `add`.
    pub fn params(&self) -> &[f32] {
        self.flat(unsafe { sys::cnn_net_params(self.ptr) })
    }
    pub fn params_mut(&mut self) -> &mut [f32] {
        let n = self.param_count();
        let p = unsafe { sys::cnn_net_params(self.ptr) };
        if n == 0 || p.is_null() {
            return &mut [];
        }
        unsafe { std::slice::from_raw_parts_mut(p, n) }
    }
    /// Gradients of the last backward pass, laid out like `params`.
    pub fn grads(&self) -> &[f32] {
        self.flat(unsafe { sys::cnn_net_grads(self.ptr) })
    }
    /// The gradient buffer, writable: `Optimizer::step` reads it, so
    /// hand-set gradients can drive an update.
    pub fn grads_mut(&mut self) -> &mut [f32] {
        let n = self.param_count();
        let p = unsafe { sys::cnn_net_grads(self.ptr) };
        if n == 0 || p.is_null() {
            return &mut [];
        }
        unsafe { std::slice::from_raw_parts_mut(p, n) }
    }
    fn flat(&self, p: *mut f32) -> &[f32] {
        let n = self.param_count();
        if n == 0 || p.is_null() {
            return &[];
        }
        unsafe { std::slice::from_raw_parts(p, n) }
    }

    pub fn set_threads(&mut self, threads: i32) -> Result<()> {
        check(unsafe { sys::cnn_net_set_threads(self.ptr, threads) })
    }
    pub fn init_weights(&mut self, seed: u64) -> Result<()> {
        check(unsafe { sys::cnn_net_init_weights(self.ptr, seed) })
    }
    /// A deep copy with its own workspace (one per thread for inference).
    pub fn try_clone(&self) -> Result<Net> {
        made(|out| unsafe { sys::cnn_net_clone(self.ptr, out) })
    }
    /// The network's last error message.
    pub fn errmsg(&self) -> String {
        text(unsafe { sys::cnn_net_errmsg(self.ptr) })
    }

    /// The output batch: (N, C*H*W) values of the last layer (for a
    /// softmax network, each row is the class probabilities).
    /// `Mode::Train` also prepares `backward`.
    pub fn forward(&mut self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        let [c, h, w] = self.output_shape();
        let n = x.shape().first().copied().unwrap_or(0);
        let y = Tensor::new(&[n, (c * h * w) as i64])?;
        self.last_train_n = None;
        check(unsafe { sys::cnn_net_forward(self.ptr, x.ptr, mode as i32, y.ptr) })?;
        if mode == Mode::Train {
            self.last_train_n = Some(n as usize);
        }
        Ok(y)
    }
    /// The class probabilities of a batch, one `Vec` of `classes` per
    /// example.  The network must end in a softmax layer (`Status::State`
    /// otherwise: other outputs are not probabilities; `forward` gives them).
    pub fn predict_proba(&mut self, x: &Tensor) -> Result<Vec<Vec<f32>>> {
        let last = self.len().checked_sub(1).and_then(|i| self.layer(i)).map(|l| l.kind());
        if last != Some(LayerKind::Softmax) {
            return Err(Error::state(
                "predict_proba: the network does not end in a softmax layer (forward gives its raw outputs)".into()));
        }
        let y = self.forward(x, Mode::Infer)?;
        let classes = self.output_shape()[0] as usize;
        Ok(y.data().chunks(classes).map(<[f32]>::to_vec).collect())
    }
    /// After `forward(x, Mode::Train)`: gradients into `grads()`; returns
    /// the cost.  `labels` holds one label per example of that batch.
    pub fn backward(&mut self, labels: &[i32]) -> Result<f64> {
        // Checked here: the library reads one label per example of the last
        // training forward, past the end of a shorter slice.
        match self.last_train_n {
            None => return Err(Error::state("backward: needs a forward(x, Mode::Train) first".into())),
            Some(n) if n != labels.len() => {
                return Err(Error::invalid(format!(
                    "backward: {} labels for a batch of {n}", labels.len())))
            }
            _ => {}
        }
        let mut cost = 0.0;
        check(unsafe { sys::cnn_net_backward(self.ptr, labels.as_ptr(), &mut cost) })?;
        Ok(cost)
    }
    pub fn predict(&mut self, x: &Tensor) -> Result<Vec<i32>> {
        self.last_train_n = None;
        let mut labels = vec![0i32; x.shape().first().copied().unwrap_or(0) as usize];
        check(unsafe { sys::cnn_net_predict(self.ptr, x.ptr, labels.as_mut_ptr()) })?;
        Ok(labels)
    }
    pub fn predict_dataset(&mut self, ds: &Dataset, batch: i32) -> Result<Vec<i32>> {
        self.last_train_n = None;
        let mut labels = vec![0i32; ds.len()];
        check(unsafe { sys::cnn_net_predict_dataset(self.ptr, ds.ptr, batch, labels.as_mut_ptr()) })?;
        Ok(labels)
    }
    /// (accuracy, mean cost) over a dataset.
    pub fn evaluate(&mut self, ds: &Dataset, batch: i32) -> Result<(f64, f64)> {
        self.last_train_n = None;
        let (mut acc, mut cost) = (0.0, 0.0);
        check(unsafe { sys::cnn_net_evaluate(self.ptr, ds.ptr, batch, &mut acc, &mut cost) })?;
        Ok((acc, cost))
    }
    /// One forward/backward/update step; returns the batch cost.
    pub fn train_step(&mut self, opt: &mut Optimizer, x: &Tensor, labels: &[i32]) -> Result<f64> {
        let n = x.shape().first().copied().unwrap_or(0);
        if labels.len() as i64 != n {
            return Err(Error::invalid(format!(
                "train_step: {} labels for a batch of {n}", labels.len())));
        }
        self.last_train_n = None;
        let mut cost = 0.0;
        check(unsafe { sys::cnn_train_step(self.ptr, opt.ptr, x.ptr, labels.as_ptr(), &mut cost) })?;
        Ok(cost)
    }

    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let p = c_path(path.as_ref())?;
        check(unsafe { sys::cnn_net_save(self.ptr, p.as_ptr()) })
    }
    pub fn load(path: impl AsRef<Path>) -> Result<Net> {
        let p = c_path(path.as_ref())?;
        made(|out| unsafe { sys::cnn_net_load(p.as_ptr(), out) })
    }
    /// Writes the net as an ONNX model (opset 13, docs/onnx.md), atomically;
    /// `Status::Other(-11)` (CNN_ENOTSUP) where the library lacks ONNX.  Since 1.2.
    pub fn to_onnx(&self, path: impl AsRef<Path>) -> Result<()> {
        let p = c_path(path.as_ref())?;
        check(unsafe { sys::cnn_net_export_onnx(self.ptr, p.as_ptr()) })
    }
    /// Reads an ONNX model (PyTorch's exports of CNNs, libcnn's own).  Since 1.2.
    pub fn from_onnx(path: impl AsRef<Path>) -> Result<Net> {
        let p = c_path(path.as_ref())?;
        made(|out| unsafe { sys::cnn_net_import_onnx(p.as_ptr(), out) })
    }
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let (mut data, mut size) = (ptr::null_mut(), 0usize);
        check(unsafe { sys::cnn_net_save_buffer(self.ptr, &mut data, &mut size) })?;
        let bytes = unsafe { std::slice::from_raw_parts(data as *const u8, size) }.to_vec();
        unsafe { sys::cnn_free(data) };
        Ok(bytes)
    }
    pub fn from_bytes(data: &[u8]) -> Result<Net> {
        made(|out| unsafe { sys::cnn_net_load_buffer(data.as_ptr() as *const c_void, data.len(), out) })
    }

    /// A human-readable summary: one line for the input, then one per
    /// layer with what it computes, its output shape and parameter count.
    pub fn summary(&self) -> Result<String> {
        let mut needed = 0usize;
        // NULL with size 0 asks for the size.
        check(unsafe { sys::cnn_net_summary(self.ptr, ptr::null_mut(), 0, &mut needed) })?;
        let mut buf = vec![0u8; needed.max(1)];
        check(unsafe { sys::cnn_net_summary(self.ptr, buf.as_mut_ptr() as *mut _, buf.len(), ptr::null_mut()) })?;
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        buf.truncate(end);
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    /// Mini-batch training over `data` with any optimizer (cnn_train).  A callback returning `true`
    /// stops training (`TrainResult::canceled`); a panicking callback stops
    /// it too, and the panic resumes here once the C code has returned
    /// (unwinding through C frames would be undefined behaviour).
    pub fn train(&mut self, opt: &mut Optimizer, data: &Dataset, mut t: Train<'_>) -> Result<TrainResult> {
        self.last_train_n = None;
        let mut state = State { progress: t.on_progress.take(), epoch: t.on_epoch.take(), panic: None, canceled: false };
        let mut p = t.params;
        // Held until cnn_train returns: `p` points into them.
        let checkpoint = t.checkpoint_path.take().transpose()?;
        let resume = t.resume_path.take().transpose()?;
        p.checkpoint_path = checkpoint.as_ref().map_or(ptr::null(), |c| c.as_ptr());
        p.resume_path = resume.as_ref().map_or(ptr::null(), |c| c.as_ptr());
        p.struct_size = size_of::<sys::cnn_train_params>() as u32;
        p.on_progress = Some(progress_trampoline);
        p.on_epoch = Some(epoch_trampoline);
        p.user = &mut state as *mut State as *mut c_void;
        let mut r = sys::cnn_train_result { struct_size: size_of::<sys::cnn_train_result>() as u32, ..Default::default() };
        let status = unsafe { sys::cnn_train(self.ptr, opt.ptr, data.ptr, &p, &mut r) };
        let err = Error::last(status); // read now, on this thread
        if let Some(panic) = state.panic.take() {
            resume_unwind(panic);
        }
        let canceled = status == -7 && state.canceled;
        if status != 0 && !canceled {
            return Err(err);
        }
        Ok(TrainResult {
            epochs_run: r.epochs_run,
            best_epoch: r.best_epoch,
            best_validation_accuracy: r.best_validation_accuracy,
            test_accuracy_at_best: r.test_accuracy_at_best,
            final_train_cost: r.final_train_cost,
            seconds: r.seconds,
            canceled,
        })
    }
}

/// The number of epochs completed when the checkpoint at `path` was
/// written (`Train::checkpoint`); reads and verifies the whole file.
pub fn checkpoint_info(path: impl AsRef<Path>) -> Result<i32> {
    let p = c_path(path.as_ref())?;
    let mut epoch = 0;
    check(unsafe { sys::cnn_checkpoint_info(p.as_ptr(), &mut epoch) })?;
    Ok(epoch)
}

/// A forward pass's mode (values pinned by cnn.h's `cnn_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Mode {
    /// Inference: no dropout masks; batch norm uses its running statistics.
    Infer = 0,
    /// Training: fresh dropout masks, and remembers what `backward` needs.
    Train = 1,
}

/// Learning-rate schedules of `Train::schedule` (values pinned by cnn.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Schedule {
    /// The optimizer's rate, untouched.
    Constant = 0,
    /// Times gamma every `schedule_step` steps (or epochs).
    Step = 1,
    /// Cosine from the rate down to `final_lr_fraction` of it over the run.
    Cosine = 2,
    /// Linear warm-up to the rate, then cosine down.
    OneCycle = 3,
}

/// Progress inside an epoch (see cnn_progress).
pub type Progress = sys::cnn_progress;
/// End-of-epoch figures (see cnn_epoch_report).
pub type EpochReport = sys::cnn_epoch_report;

#[derive(Clone, Copy, Debug)]
pub struct TrainResult {
    pub epochs_run: i32,
    pub best_epoch: i32,
    pub best_validation_accuracy: f64,
    pub test_accuracy_at_best: f64,
    pub final_train_cost: f64,
    pub seconds: f64,
    /// A callback asked to stop.
    pub canceled: bool,
}

type ProgressFn<'a> = Box<dyn FnMut(&Progress) -> bool + 'a>;
type EpochFn<'a> = Box<dyn FnMut(&EpochReport) -> bool + 'a>;

/// Options of `Net::train`; datasets are borrowed for the call.
pub struct Train<'a> {
    params: sys::cnn_train_params,
    on_progress: Option<ProgressFn<'a>>,
    on_epoch: Option<EpochFn<'a>>,
    // A path with a NUL byte is kept as its error, which `Net::train` returns.
    checkpoint_path: Option<Result<CString>>,
    resume_path: Option<Result<CString>>,
    _sets: PhantomData<&'a Dataset>,
}

impl<'a> Train<'a> {
    pub fn new(epochs: i32) -> Train<'a> {
        // epochs < 1 is reported by cnn_train itself.
        let params = init_params(|p| unsafe { sys::cnn_train_params_init(p, epochs) });
        Train { params, on_progress: None, on_epoch: None, checkpoint_path: None, resume_path: None,
                _sets: PhantomData }
    }
    /// Writes a checkpoint to `path` after every `every`-th epoch (>= 1)
    /// and after the last one, each write replacing the file atomically; a
    /// failed write stops training with its error.
    pub fn checkpoint(mut self, path: impl AsRef<Path>, every: i32) -> Self {
        self.checkpoint_path = Some(c_path(path.as_ref()));
        self.params.checkpoint_every = every;
        self
    }
    /// Continues the run a checkpoint at `path` holds (it may be the
    /// `checkpoint` path): its settings (network, optimizer, batch size,
    /// shuffle and seed, schedule, training set size) must match this
    /// run's, and training goes on from the epoch after it up to `epochs`
    /// in all, giving the weights the uninterrupted run would have.
    pub fn resume(mut self, path: impl AsRef<Path>) -> Self {
        self.resume_path = Some(c_path(path.as_ref()));
        self
    }
    pub fn batch_size(mut self, n: i32) -> Self {
        self.params.batch_size = n;
        self
    }
    pub fn shuffle(mut self, seed: u64) -> Self {
        self.params.shuffle = 1;
        self.params.seed = seed;
        self
    }
    pub fn validation(mut self, ds: &'a Dataset) -> Self {
        self.params.validation = ds.ptr;
        self
    }
    pub fn test(mut self, ds: &'a Dataset) -> Self {
        self.params.test = ds.ptr;
        self
    }
    pub fn eval_batch_size(mut self, n: i32) -> Self {
        self.params.eval_batch_size = n;
        self
    }
    pub fn progress_every(mut self, n: i32) -> Self {
        self.params.progress_every = n;
        self
    }
    /// Learning-rate schedule; default `Schedule::Constant` (the
    /// optimizer's rate is left alone).  Otherwise the rate is set before
    /// every step from the optimizer's creation rate (see cnn_train_params).
    pub fn schedule(mut self, s: Schedule) -> Self {
        self.params.schedule = s as i32;
        self
    }
    /// Step schedule: factor in (0, 1]; default 0.1.
    pub fn schedule_gamma(mut self, gamma: f32) -> Self {
        self.params.schedule_gamma = gamma;
        self
    }
    /// Step schedule: steps (or, with `schedule_step_epochs(true)`,
    /// epochs) between factors, >= 1; default 1.
    pub fn schedule_step(mut self, n: i32) -> Self {
        self.params.schedule_step = n;
        self
    }
    pub fn schedule_step_epochs(mut self, on: bool) -> Self {
        self.params.schedule_step_epochs = on as i32;
        self
    }
    /// One-cycle: share of the run spent warming up, in [0, 1); default 0.3.
    pub fn warmup_fraction(mut self, f: f32) -> Self {
        self.params.warmup_fraction = f;
        self
    }
    /// One-cycle: start rate / peak rate, in (0, 1]; default 0.04.
    pub fn initial_lr_fraction(mut self, f: f32) -> Self {
        self.params.initial_lr_fraction = f;
        self
    }
    /// Cosine and one-cycle: end rate / creation rate, in [0, 1]; default 0.
    pub fn final_lr_fraction(mut self, f: f32) -> Self {
        self.params.final_lr_fraction = f;
        self
    }
    /// The rate these options' schedule sets before step `t` of `total`
    /// (0-based) from creation rate `base` (cnn_schedule_rate); 0 for t
    /// outside [0, total).
    pub fn schedule_rate(&self, base: f32, t: i64, total: i64, steps_per_epoch: i64) -> f32 {
        unsafe { sys::cnn_schedule_rate(&self.params, base, t, total, steps_per_epoch) }
    }
    /// Called every `progress_every` batches; return true to stop.
    pub fn on_progress(mut self, f: impl FnMut(&Progress) -> bool + 'a) -> Self {
        self.on_progress = Some(Box::new(f));
        self
    }
    /// Called after each epoch; return true to stop.
    pub fn on_epoch(mut self, f: impl FnMut(&EpochReport) -> bool + 'a) -> Self {
        self.on_epoch = Some(Box::new(f));
        self
    }
}

struct State<'a> {
    progress: Option<ProgressFn<'a>>,
    epoch: Option<EpochFn<'a>>,
    panic: Option<Box<dyn Any + Send>>,
    canceled: bool,
}

/// Copies a callback struct, reading only the `struct_size` bytes the
/// library filled (an older library passes a shorter struct).
unsafe fn read_sized<T: Default>(p: *const T) -> T {
    let mut out = T::default();
    let n = (*(p as *const u32) as usize).min(size_of::<T>());
    ptr::copy_nonoverlapping(p as *const u8, &mut out as *mut T as *mut u8, n);
    out
}

fn call(state: &mut State<'_>, f: impl FnOnce(&mut State<'_>) -> Option<bool>) -> i32 {
    if state.panic.is_some() {
        return 1;
    }
    match catch_unwind(AssertUnwindSafe(|| f(state))) {
        Ok(Some(true)) => {
            state.canceled = true;
            1
        }
        Ok(_) => 0,
        Err(panic) => {
            state.panic = Some(panic);
            1
        }
    }
}

unsafe extern "C" fn progress_trampoline(p: *const sys::cnn_progress, user: *mut c_void) -> i32 {
    let state = &mut *(user as *mut State<'_>);
    let info = read_sized(p);
    call(state, |s| s.progress.as_mut().map(|f| f(&info)))
}

unsafe extern "C" fn epoch_trampoline(p: *const sys::cnn_epoch_report, user: *mut c_void) -> i32 {
    let state = &mut *(user as *mut State<'_>);
    let info = read_sized(p);
    call(state, |s| s.epoch.as_mut().map(|f| f(&info)))
}

/// An optimizer of any kind (SGD, Adam, AdamW): what `Net::train` and
/// `Net::train_step` take.  `Sgd` dereferences to it, so `&mut sgd` works
/// wherever `&mut Optimizer` is expected.
pub struct Optimizer {
    ptr: *mut sys::cnn_optimizer,
}

unsafe impl Send for Optimizer {}

impl Drop for Optimizer {
    fn drop(&mut self) {
        unsafe { sys::cnn_optimizer_destroy(self.ptr) }
    }
}

fn made_opt(f: impl FnOnce(*mut *mut sys::cnn_optimizer) -> i32) -> Result<Optimizer> {
    let mut ptr = ptr::null_mut();
    check(f(&mut ptr))?;
    Ok(Optimizer { ptr })
}

impl Optimizer {
    /// One update of `net`'s parameters from its gradients (`Net::grads`).
    pub fn step(&mut self, net: &mut Net) -> Result<()> {
        check(unsafe { sys::cnn_optimizer_step(self.ptr, net.ptr) })
    }
    /// The learning rate the next step uses.
    pub fn learning_rate(&self) -> f32 {
        unsafe { sys::cnn_optimizer_learning_rate(self.ptr) }
    }
    /// Sets the learning rate of the following steps (> 0 and finite).
    /// The creation rate stays the one `Net::train`'s schedules start from;
    /// a schedule other than constant overwrites this one every step.
    pub fn set_learning_rate(&mut self, rate: f32) -> Result<()> {
        check(unsafe { sys::cnn_optimizer_set_learning_rate(self.ptr, rate) })
    }
}

/// Stochastic gradient descent (an `Optimizer`).
pub struct Sgd(Optimizer);

impl std::ops::Deref for Sgd {
    type Target = Optimizer;
    fn deref(&self) -> &Optimizer {
        &self.0
    }
}

impl std::ops::DerefMut for Sgd {
    fn deref_mut(&mut self) -> &mut Optimizer {
        &mut self.0
    }
}

impl From<Sgd> for Optimizer {
    fn from(s: Sgd) -> Optimizer {
        s.0
    }
}

impl Sgd {
    /// SGD with learning rate `eta`, momentum `mu` and L2 weight `lambda`
    /// (network3's form; 0 and 0 for plain SGD).  Three positional floats
    /// are easy to swap: use the builder, which names each one.
    #[deprecated(since = "2.0.0", note = "use Sgd::builder(eta).momentum(mu).l2(lambda).build()")]
    pub fn new(eta: f32, momentum: f32, l2: f32) -> Result<Sgd> {
        Sgd::builder(eta).momentum(momentum).l2(l2).build()
    }
    /// All of SGD's options, starting from the library's defaults:
    /// `Sgd::builder(0.05).momentum(0.9).nesterov(true).build()`.
    pub fn builder(eta: f32) -> SgdBuilder {
        SgdBuilder(init_params(|p| unsafe { sys::cnn_sgd_params_init(p, eta) }))
    }
}

/// Options of `Sgd::builder`.
pub struct SgdBuilder(sys::cnn_sgd_params);

impl SgdBuilder {
    /// mu in [0, 1); default 0.
    pub fn momentum(mut self, mu: f32) -> Self {
        self.0.momentum = mu;
        self
    }
    /// Nesterov momentum (needs momentum > 0); default false.
    pub fn nesterov(mut self, on: bool) -> Self {
        self.0.nesterov = on as i32;
        self
    }
    /// L2 weight lambda >= 0 (network3's form); default 0.
    pub fn l2(mut self, lambda: f32) -> Self {
        self.0.l2 = lambda;
        self
    }
    /// B, the mini-batches per epoch the L2 term divides by; 0 (default)
    /// lets `Net::train` set it.
    pub fn l2_batches(mut self, b: i64) -> Self {
        self.0.l2_batches = b;
        self
    }
    pub fn build(mut self) -> Result<Sgd> {
        self.0.struct_size = size_of::<sys::cnn_sgd_params>() as u32;
        let p = self.0;
        Ok(Sgd(made_opt(|out| unsafe { sys::cnn_sgd_create(&p, out) })?))
    }
}

/// Builder for Adam (and AdamW) with bias correction:
/// `Adam::new(1e-3).betas(0.9, 0.999).weight_decay(0.01).decoupled(true).build()`.
/// Defaults: betas 0.9 and 0.999, epsilon 1e-8, no weight decay.
pub struct Adam(sys::cnn_adam_params);

impl Adam {
    pub fn new(learning_rate: f32) -> Adam {
        Adam(init_params(|p| unsafe { sys::cnn_adam_params_init(p, learning_rate) }))
    }
    /// AdamW: `Adam::new(lr).weight_decay(wd).decoupled(true)`.
    pub fn adamw(learning_rate: f32, weight_decay: f32) -> Adam {
        Adam::new(learning_rate).weight_decay(weight_decay).decoupled(true)
    }
    /// beta1 and beta2, each in [0, 1).
    pub fn betas(mut self, beta1: f32, beta2: f32) -> Self {
        (self.0.beta1, self.0.beta2) = (beta1, beta2);
        self
    }
    /// Added to the denominator; > 0.
    pub fn epsilon(mut self, eps: f32) -> Self {
        self.0.epsilon = eps;
        self
    }
    /// wd >= 0, applied to every parameter (biases too): added to the
    /// gradient as wd*W (Adam), or W *= 1 - lr*wd with `decoupled(true)`.
    pub fn weight_decay(mut self, wd: f32) -> Self {
        self.0.weight_decay = wd;
        self
    }
    /// true: AdamW's decoupled weight decay.
    pub fn decoupled(mut self, on: bool) -> Self {
        self.0.decoupled = on as i32;
        self
    }
    pub fn build(mut self) -> Result<Optimizer> {
        self.0.struct_size = size_of::<sys::cnn_adam_params>() as u32;
        let p = self.0;
        made_opt(|out| unsafe { sys::cnn_adam_create(&p, out) })
    }
}
