//! Tests of the safe wrapper against the real library.
use cnn::sys;
use cnn::{Activation, Adam, BatchNorm, Conv2d, Dataset, Dense, GlobalAvgPool, Init, LayerKind, Mode, Net, Optimizer, Param, Pool, Pool2d, Schedule, Sgd, Softmax, Split, Status, Tensor, Train};
use std::mem::size_of;

fn synthetic(count: usize, first: usize) -> Dataset {
    let mut pixels = vec![0u8; count * 784];
    let mut labels = Vec::new();
    for n in 0..count {
        let (i, label) = (first + n, (first + n) % 10);
        let (top, left) = (3 + label / 5 * 13 + i / 10 % 3, 1 + label % 5 * 5 + i / 30 % 3);
        for y in top..top + 5 {
            pixels[n * 784 + y * 28 + left..][..5].fill(255);
        }
        labels.push(label as u8);
    }
    Dataset::new(&pixels, &labels, [1, 28, 28]).unwrap()
}

fn small_net() -> Net {
    let mut net = Net::new(1, 28, 28, 1).unwrap();
    net.add(Conv2d::new(4, 5).activation(Activation::Relu).pool(Pool::Max, 2, 2).build().unwrap())
        .unwrap()
        .add(Dense::new(16).activation(Activation::Relu).build().unwrap())
        .unwrap()
        .add(Softmax::new(10).build().unwrap())
        .unwrap();
    net
}

#[test]
fn struct_layouts_match_the_header() {
    // The same sizes tests/header_c99.c checks with the C compiler.
    assert_eq!(size_of::<sys::cnn_conv2d_params>(), 72);
    assert_eq!(size_of::<sys::cnn_pool2d_params>(), 24);
    assert_eq!(size_of::<sys::cnn_dense_params>(), 32);
    assert_eq!(size_of::<sys::cnn_softmax_params>(), 32);
    assert_eq!(size_of::<sys::cnn_batchnorm_params>(), 16);
    assert_eq!(size_of::<sys::cnn_sgd_params>(), 32);
    assert_eq!(size_of::<sys::cnn_adam_params>(), 28);
    assert_eq!(size_of::<sys::cnn_progress>(), 48);
    assert_eq!(size_of::<sys::cnn_epoch_report>(), 80);
    assert_eq!(size_of::<sys::cnn_train_params>(), 120);
    assert_eq!(size_of::<sys::cnn_train_result>(), 48);
    assert_eq!(size_of::<sys::cnn_augment_params>(), 64);
    assert_eq!(size_of::<sys::cnn_load_limits>(), 32);
    assert_eq!(cnn::version_number() / 10000, 1);
    let paths = ["generic", "avx2", "avx512"];
    let (now, best) = (cnn::isa(), cnn::isa_best());
    let (i, b) = (paths.iter().position(|p| *p == now), paths.iter().position(|p| *p == best));
    assert!(i.is_some() && b.is_some() && i <= b, "isa {} best {}", now, best);
    assert!(cnn::version().starts_with("1."));
}

#[test]
fn errors_carry_status_and_message() {
    let e = Tensor::new(&[2, 0]).err().unwrap();
    assert_eq!(e.status(), Status::InvalidArgument);
    assert_eq!(e.code(), -1);
    assert_eq!(e.name(), "CNN_EINVAL");
    assert!(!e.message().is_empty());
    let mut t = Tensor::new(&[2, 3]).unwrap();
    assert_eq!(t.reshape(&[4, 2]).unwrap_err().status(), Status::Shape);
    let mut net = Net::new(1, 8, 8, 0).unwrap();
    let e = net.add(Conv2d::new(2, 13).build().unwrap()).err().unwrap();
    assert_eq!(e.status(), Status::Shape);
    assert!(net.is_empty());
    assert_eq!(Net::load("/nonexistent/x.cnn").err().unwrap().status(), Status::Io);
    assert_eq!(Net::from_bytes(b"not a model").err().unwrap().status(), Status::Format);
    assert!(Dataset::new(&[0; 10], &[1], [1, 28, 28]).is_err());
}

#[test]
fn tensors_and_layers() {
    let mut t = Tensor::from_slice(&[2, 2], &[1.0, 2.0, 3.0, 4.0]).unwrap();
    t.data_mut()[0] = 9.0;
    assert_eq!(t.data(), &[9.0, 2.0, 3.0, 4.0]);
    assert_eq!(t.shape(), vec![2, 2]);
    let conv = Conv2d::new(20, 5).in_channels(1).pool(Pool::Max, 2, 2).build().unwrap();
    assert_eq!(conv.kind(), LayerKind::Conv2d);
    assert_eq!(conv.output_shape([1, 28, 28]).unwrap(), [20, 12, 12]);
    assert_eq!(conv.param(Param::Weights).unwrap().shape(), vec![20, 1, 5, 5]);
    let pool = Pool2d::new(Pool::Avg, 2).build().unwrap();
    assert_eq!(pool.output_shape([3, 8, 8]).unwrap(), [3, 4, 4]);
    assert!(Dense::new(10).dropout(1.5).build().is_err());
}

#[test]
fn train_predict_save_load() {
    let (train, test) = (synthetic(500, 0), synthetic(100, 500));
    let mut net = small_net();
    assert_eq!(net.len(), 3);
    assert_eq!(net.layer(2).unwrap().kind(), LayerKind::Softmax);
    let mut epochs = Vec::new();
    let mut batches = 0;
    let result = net
        .train(&mut Sgd::builder(0.1).build().unwrap(), &train,
               Train::new(3).test(&test).progress_every(10)
                   .on_progress(|_| { batches += 1; false })
                   .on_epoch(|r| { epochs.push(r.test_accuracy); false }))
        .unwrap();
    assert_eq!(result.epochs_run, 3);
    assert!(!result.canceled);
    assert_eq!(epochs.len(), 3);
    assert!(batches >= 15);
    assert!(*epochs.last().unwrap() > 0.5, "accuracy {epochs:?}");

    let (x, _) = test.batch(0, 20).unwrap();
    let expected = net.predict(&x).unwrap();
    let path = std::env::temp_dir().join(format!("cnn-rust-{}.cnn", std::process::id()));
    net.save(&path).unwrap();
    let mut loaded = Net::load(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(loaded.predict(&x).unwrap(), expected);
    assert_eq!(loaded.params(), net.params());
    let mut again = Net::from_bytes(&net.to_bytes().unwrap()).unwrap();
    assert_eq!(again.predict(&x).unwrap(), expected);

    // The ONNX copy predicts the same, unless the library lacks ONNX (-11).
    let onnx = std::env::temp_dir().join(format!("cnn-rust-{}.onnx", std::process::id()));
    match net.to_onnx(&onnx) {
        Ok(()) => {
            let mut from_onnx = Net::from_onnx(&onnx).unwrap();
            std::fs::remove_file(&onnx).unwrap();
            assert_eq!(from_onnx.predict(&x).unwrap(), expected);
        }
        Err(e) => assert_eq!(e.status(), Status::Other(-11)),
    }
}

#[test]
fn callback_cancel_and_panic() {
    let train = synthetic(200, 0);
    let mut net = small_net();
    let mut sgd = Sgd::builder(0.1).build().unwrap();
    let r = net.train(&mut sgd, &train, Train::new(5).progress_every(5).on_progress(|p| p.batch >= 10)).unwrap();
    assert!(r.canceled);
    assert_eq!(r.epochs_run, 0);

    // A panic inside a callback must not unwind through C: it resumes after.
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = net.train(&mut sgd, &train, Train::new(5).on_epoch(|_| panic!("from callback")));
    }));
    assert!(caught.is_err());
    let (x, _) = train.batch(0, 2).unwrap();
    assert_eq!(net.predict(&x).unwrap().len(), 2); // still usable
}

#[test]
fn params_are_zero_copy() {
    let mut net = small_net();
    let n = net.param_count();
    assert_eq!(net.params().len(), n);
    let p = net.params_mut();
    for v in &mut p[n - 10..] {
        *v = 0.0;
    }
    p[n - 1] = 50.0; // the last softmax bias: class 9 always wins
    let (x, _) = synthetic(4, 0).batch(0, 4).unwrap();
    assert_eq!(net.predict(&x).unwrap(), vec![9, 9, 9, 9]);
    let mut twin = net.try_clone().unwrap();
    twin.params_mut()[0] += 1.0;
    assert_ne!(twin.params()[0], net.params()[0]);
}

#[test]
fn interior_nul_in_path_is_an_error() {
    // c_path used to turn such a path into "" and let C fail with EIO (or
    // worse, a truncated name); it must be refused up front.
    let net = small_net();
    let dir = std::env::temp_dir().join(format!("cnn-nul-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let err = net.save(dir.join("x\0y")).unwrap_err();
    assert_eq!(err.status(), Status::InvalidArgument);
    assert!(err.to_string().contains("NUL"), "{err}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0); // no "x" written
    std::fs::remove_dir(&dir).unwrap();
    assert_eq!(Net::load("x\0y").err().unwrap().status(), Status::InvalidArgument);
    assert_eq!(Dataset::load_mnist("data\0/mnist", Split::Train).err().unwrap().status(), Status::InvalidArgument);
    assert_eq!(Dataset::load_idx("a", "b\0").err().unwrap().status(), Status::InvalidArgument);
}

#[test]
fn label_count_must_match_the_batch() {
    let mut net = small_net();
    let mut sgd = Sgd::builder(0.1).build().unwrap();
    let x = Tensor::new(&[400, 1, 28, 28]).unwrap();
    let err = net.train_step(&mut sgd, &x, &[1; 200]).unwrap_err();
    assert_eq!(err.status(), Status::InvalidArgument);
    // backward reads one label per example of the last training forward.
    assert_eq!(net.backward(&[1]).unwrap_err().status(), Status::State);
    net.forward(&x, Mode::Train).unwrap();
    assert_eq!(net.backward(&[1; 200]).unwrap_err().status(), Status::InvalidArgument);
    assert!(net.backward(&[1; 400]).unwrap() > 0.0);
    net.predict(&x).unwrap();
    assert_eq!(net.backward(&[1; 400]).unwrap_err().status(), Status::State);
}

#[test]
fn out_of_range_indices_and_sizes() {
    let net = small_net();
    assert!(net.layer(1usize << 32).is_none()); // used to wrap to layer 0
    assert!(net.layer(3).is_none());
    // A pixel count whose product overflows usize must not pass the check.
    let err = Dataset::new(&[0u8; 4], &[1u8; 4], [i32::MAX, i32::MAX, i32::MAX]).err().unwrap();
    assert_eq!(err.status(), Status::InvalidArgument);
}

/// Like `synthetic`, but the class is the square's side (2 + 2*label
/// pixels) rather than its position: what a net ending in global average
/// pooling can see (it forgets where things are).
fn synthetic_sizes(count: usize, first: usize) -> Dataset {
    let mut pixels = vec![0u8; count * 784];
    let mut labels = Vec::new();
    for n in 0..count {
        let (i, label) = (first + n, (first + n) % 10);
        let side = 2 + 2 * label;
        let (top, left) = (1 + i / 10 % 5, 2 + i / 50 % 5);
        for y in top..top + side {
            pixels[n * 784 + y * 28 + left..][..side].fill(255);
        }
        labels.push(label as u8);
    }
    Dataset::new(&pixels, &labels, [1, 28, 28]).unwrap()
}

/// conv (same padding) + batch norm + relu + global average pooling +
/// dense + batch norm + softmax.
fn bn_net(seed: u64) -> Net {
    let mut net = Net::new(1, 28, 28, seed).unwrap();
    net.add(Conv2d::new(8, 5).same_padding().activation(Activation::Identity).init(Init::He).build().unwrap())
        .unwrap()
        .add(BatchNorm::new().build().unwrap())
        .unwrap()
        .add(cnn::Layer::activation(Activation::Relu).unwrap())
        .unwrap()
        .add(GlobalAvgPool::build().unwrap())
        .unwrap()
        .add(Dense::new(16).activation(Activation::Identity).init(Init::Glorot).build().unwrap())
        .unwrap()
        .add(BatchNorm::new().momentum(0.2).epsilon(1e-4).build().unwrap())
        .unwrap()
        .add(Softmax::new(10).build().unwrap())
        .unwrap();
    net
}

#[test]
fn new_layers_batchnorm_global_avg_pool_same_padding() {
    let bn = BatchNorm::new().channels(3).build().unwrap();
    assert_eq!(bn.kind(), LayerKind::BatchNorm);
    assert_eq!(bn.param_count(), 6);
    assert_eq!(bn.param(Param::Weights).unwrap().data(), &[1.0, 1.0, 1.0]); // gamma
    assert_eq!(bn.param(Param::Biases).unwrap().data(), &[0.0, 0.0, 0.0]); // beta
    assert_eq!(bn.output_shape([3, 4, 5]).unwrap(), [3, 4, 5]);
    assert_eq!(bn.output_shape([2, 4, 5]).unwrap_err().status(), Status::Shape);
    assert!(bn.summary().unwrap().contains("batchnorm"), "{}", bn.summary().unwrap());
    assert_eq!(BatchNorm::new().momentum(1.5).build().err().unwrap().status(), Status::InvalidArgument);
    assert_eq!(BatchNorm::new().epsilon(0.0).build().err().unwrap().status(), Status::InvalidArgument);
    assert_eq!(BatchNorm::new().channels(-1).build().err().unwrap().status(), Status::InvalidArgument);

    let gap = GlobalAvgPool::build().unwrap();
    assert_eq!(gap.kind(), LayerKind::GlobalAvgPool);
    assert_eq!(gap.param_count(), 0);
    assert!(gap.param(Param::Weights).is_none());
    assert_eq!(gap.output_shape([5, 7, 3]).unwrap(), [5, 1, 1]);

    let conv = |b: Conv2d| b.build().unwrap();
    assert_eq!(conv(Conv2d::new(2, 5).same_padding()).output_shape([1, 28, 28]).unwrap(), [2, 28, 28]);
    assert_eq!(conv(Conv2d::new(2, 3).same_padding().stride(2, 2)).output_shape([1, 7, 7]).unwrap(), [2, 4, 4]);
    assert_eq!(conv(Conv2d::new(2, 3).padding(1, 1)).output_shape([1, 7, 7]).unwrap(), [2, 7, 7]);
    assert_eq!(conv(Conv2d::new(2, 3).same_padding().padding(0, 0)).output_shape([1, 7, 7]).unwrap(), [2, 5, 5]);
    assert_eq!(Conv2d::new(2, 4).same_padding().build().err().unwrap().status(), Status::InvalidArgument);
}

#[test]
fn batchnorm_net_trains_with_adam() {
    let (train, test) = (synthetic_sizes(200, 0), synthetic_sizes(100, 200));
    let mut net = bn_net(1);
    let kinds: Vec<LayerKind> = (0..net.len()).map(|i| net.layer(i).unwrap().kind()).collect();
    assert_eq!(kinds, [LayerKind::Conv2d, LayerKind::BatchNorm, LayerKind::Activation, LayerKind::GlobalAvgPool,
                       LayerKind::Dense, LayerKind::BatchNorm, LayerKind::Softmax]);
    let mut adam = Adam::new(0.01).build().unwrap();
    let (x, labels) = train.batch(0, 20).unwrap();
    let first = net.train_step(&mut adam, &x, &labels).unwrap();
    let mut costs = Vec::new();
    let r = net.train(&mut adam, &train, Train::new(8).batch_size(20).shuffle(7).schedule(Schedule::Cosine).test(&test)
                          .on_epoch(|e| { costs.push(e.train_cost); false }))
        .unwrap();
    assert_eq!(r.epochs_run, 8);
    let (acc, cost) = net.evaluate(&test, 50).unwrap();
    assert!(cost.is_finite());
    assert!(costs[7] < costs[0] && costs[7] < first, "costs {first} then {costs:?}");
    let train_acc = net.evaluate(&train, 50).unwrap().0;
    assert!(acc > 0.3, "accuracy {acc} train {train_acc} (chance 0.1), costs {costs:?}");
}

/// Adam by hand, in f64: w after `grads.len()` steps.
fn adam_reference(w: &[f32], grads: &[Vec<f32>], lr: f64, wd: f64, decoupled: bool) -> Vec<f64> {
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8f64);
    let mut w: Vec<f64> = w.iter().map(|&v| v as f64).collect();
    let (mut m, mut v) = (vec![0.0; w.len()], vec![0.0; w.len()]);
    for (t, g) in grads.iter().enumerate() {
        let t = t as i32 + 1;
        for i in 0..w.len() {
            let mut gi = g[i] as f64;
            if decoupled {
                w[i] *= 1.0 - lr * wd;
            } else {
                gi += wd * w[i];
            }
            m[i] = b1 * m[i] + (1.0 - b1) * gi;
            v[i] = b2 * v[i] + (1.0 - b2) * gi * gi;
            let (mhat, vhat) = (m[i] / (1.0 - b1.powi(t)), v[i] / (1.0 - b2.powi(t)));
            w[i] -= lr * mhat / (vhat.sqrt() + eps);
        }
    }
    w
}

fn tiny_net() -> Net {
    let mut net = Net::new(1, 2, 2, 3).unwrap();
    net.add(Dense::new(3).build().unwrap()).unwrap().add(Softmax::new(2).build().unwrap()).unwrap();
    net
}

/// Runs `steps` updates of `opt` on hand-set gradients; (w0, grads, w).
fn run_steps(opt: &mut Optimizer, steps: usize) -> (Vec<f32>, Vec<Vec<f32>>, Vec<f32>) {
    let mut net = tiny_net();
    let w0 = net.params().to_vec();
    let mut grads = Vec::new();
    let mut state = 12345u64;
    for _ in 0..steps {
        for g in net.grads_mut() {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            *g = ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0;
        }
        grads.push(net.grads().to_vec());
        opt.step(&mut net).unwrap();
    }
    (w0, grads, net.params().to_vec())
}

#[test]
fn adam_and_adamw_match_the_closed_form() {
    for (wd, decoupled) in [(0.0f32, false), (0.3, false), (0.3, true)] {
        let mut opt = if decoupled { Adam::adamw(0.01, wd) } else { Adam::new(0.01).weight_decay(wd) }
            .build()
            .unwrap();
        let (w0, grads, got) = run_steps(&mut opt, 5);
        let want = adam_reference(&w0, &grads, 0.01f32 as f64, wd as f64, decoupled);
        assert_ne!(got, w0);
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            assert!((*a as f64 - b).abs() <= 2e-6 * b.abs().max(1.0),
                    "wd {wd} decoupled {decoupled}: parameter {i}: {a} vs {b}");
        }
    }
    let bad = Adam::new(0.001).betas(1.0, 0.999).build().err().unwrap();
    assert_eq!(bad.status(), Status::InvalidArgument);
    assert!(Adam::adamw(0.001, -1.0).build().is_err());
    assert!(Adam::new(0.001).epsilon(0.0).build().is_err());
}

#[test]
fn nesterov_and_learning_rate() {
    let mut classical = Sgd::builder(0.1).momentum(0.9).build().unwrap();
    let mut nesterov = Sgd::builder(0.1).momentum(0.9).nesterov(true).build().unwrap();
    let a = run_steps(&mut classical, 5).2;
    let b = run_steps(&mut nesterov, 5).2;
    assert!(a.iter().zip(&b).any(|(x, y)| (x - y).abs() > 1e-2));
    assert_eq!(Sgd::builder(0.1).nesterov(true).build().err().unwrap().status(), Status::InvalidArgument);

    let mut sgd = Sgd::builder(0.5).build().unwrap();
    assert_eq!(sgd.learning_rate(), 0.5);
    sgd.set_learning_rate(0.25).unwrap();
    assert_eq!(sgd.learning_rate(), 0.25);
    assert_eq!(sgd.set_learning_rate(0.0).unwrap_err().status(), Status::InvalidArgument);
    assert_eq!(sgd.learning_rate(), 0.25);
    let mut adam = Adam::new(0.001).build().unwrap();
    assert_eq!(adam.learning_rate(), 0.001);
    adam.set_learning_rate(0.002).unwrap();
    assert_eq!(adam.learning_rate(), 0.002);
    // Half the rate, half the first Adam step (|step| = lr for |g| >> eps).
    let (w0, _, w) = run_steps(&mut adam, 1);
    let moved = w.iter().zip(&w0).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!((moved - 0.002).abs() < 1e-5, "largest step {moved}");
}

#[test]
fn schedules_set_the_rate() {
    let r0 = 0.2f32;
    let step = Train::new(1).schedule(Schedule::Step).schedule_gamma(0.5).schedule_step(30);
    assert_eq!(step.schedule_rate(r0, 60, 100, 25), r0 * 0.5 * 0.5);
    let cosine = Train::new(1).schedule(Schedule::Cosine);
    for t in [0i64, 13, 99] {
        let want = (r0 as f64 * 0.5 * (1.0 + (std::f64::consts::PI * t as f64 / 100.0).cos())) as f32;
        assert_eq!(cosine.schedule_rate(r0, t, 100, 25), want);
    }
    assert_eq!(Train::new(1).schedule_rate(r0, 10, 100, 25), r0);
    let one = Train::new(1).schedule(Schedule::OneCycle);
    assert!((one.schedule_rate(r0, 0, 100, 25) - 0.2 * 0.04).abs() < 1e-7);

    let train = synthetic(40, 0);
    let mut net = Net::new(1, 28, 28, 1).unwrap();
    net.add(Dense::new(8).activation(Activation::Relu).build().unwrap()).unwrap();
    net.add(Softmax::new(10).build().unwrap()).unwrap();
    let mut opt = Adam::adamw(0.01, 0.01).build().unwrap();
    let options = || Train::new(2).batch_size(10).schedule(Schedule::OneCycle).warmup_fraction(0.25);
    let r = net.train(&mut opt, &train, options()).unwrap();
    assert_eq!(r.epochs_run, 2);
    assert!(r.final_train_cost.is_finite());
    assert_eq!(opt.learning_rate(), options().schedule_rate(0.01, 7, 8, 4)); // the last step's
    let bad = net.train(&mut opt, &train, options().warmup_fraction(1.0)).unwrap_err();
    assert_eq!(bad.status(), Status::InvalidArgument);
}

#[test]
fn batchnorm_net_saves_loads_and_summarises() {
    let train = synthetic(16, 0);
    let mut net = bn_net(1);
    let mut opt = Adam::new(0.01).build().unwrap();
    let (x, labels) = train.batch(0, 8).unwrap();
    for _ in 0..3 {
        assert!(net.train_step(&mut opt, &x, &labels).unwrap().is_finite());
    }
    let before = net.forward(&x, Mode::Infer).unwrap();
    let expected = net.predict(&x).unwrap();
    let path = std::env::temp_dir().join(format!("cnn-rust-bn-{}.cnn", std::process::id()));
    net.save(&path).unwrap();
    let mut loaded = Net::load(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(loaded.forward(&x, Mode::Infer).unwrap().data(), before.data());
    assert_eq!(loaded.predict(&x).unwrap(), expected);
    let bytes = net.to_bytes().unwrap();
    let mut again = Net::from_bytes(&bytes).unwrap();
    assert_eq!(again.forward(&x, Mode::Infer).unwrap().data(), before.data());
    assert_eq!(again.to_bytes().unwrap(), bytes); // running statistics included
    let (x1, _) = train.batch(0, 1).unwrap();
    assert_eq!(net.predict(&x1).unwrap().len(), 1); // inference: running statistics

    let summary = net.summary().unwrap();
    assert!(summary.contains("batchnorm"), "{summary}");
    assert_eq!(summary.lines().count(), 1 + net.len(), "{summary}");
    assert_eq!(summary, loaded.summary().unwrap());
}

