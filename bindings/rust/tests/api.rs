//! Tests of the safe wrapper against the real library.
use cnn::sys;
use cnn::{Activation, Conv2d, Dataset, Dense, LayerKind, Net, Pool, Pool2d, Sgd, Softmax, Status, Tensor, Train};
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
    assert_eq!(size_of::<sys::cnn_conv2d_params>(), 64);
    assert_eq!(size_of::<sys::cnn_pool2d_params>(), 24);
    assert_eq!(size_of::<sys::cnn_dense_params>(), 32);
    assert_eq!(size_of::<sys::cnn_softmax_params>(), 32);
    assert_eq!(size_of::<sys::cnn_sgd_params>(), 24);
    assert_eq!(size_of::<sys::cnn_progress>(), 48);
    assert_eq!(size_of::<sys::cnn_epoch_report>(), 80);
    assert_eq!(size_of::<sys::cnn_train_params>(), 96);
    assert_eq!(size_of::<sys::cnn_train_result>(), 48);
    assert_eq!(cnn::version_number() / 10000, 0);
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
    assert_eq!(conv.param(0).unwrap().shape(), vec![20, 1, 5, 5]);
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
        .train(&mut Sgd::new(0.1, 0.0, 0.0).unwrap(), &train,
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
}

#[test]
fn callback_cancel_and_panic() {
    let train = synthetic(200, 0);
    let mut net = small_net();
    let mut sgd = Sgd::new(0.1, 0.0, 0.0).unwrap();
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
    assert_eq!(Dataset::load_mnist("data\0/mnist", false).err().unwrap().status(), Status::InvalidArgument);
    assert_eq!(Dataset::load_idx("a", "b\0").err().unwrap().status(), Status::InvalidArgument);
}

#[test]
fn label_count_must_match_the_batch() {
    let mut net = small_net();
    let mut sgd = Sgd::new(0.1, 0.0, 0.0).unwrap();
    let x = Tensor::new(&[400, 1, 28, 28]).unwrap();
    let err = net.train_step(&mut sgd, &x, &[1; 200]).unwrap_err();
    assert_eq!(err.status(), Status::InvalidArgument);
    // backward reads one label per example of the last training forward.
    assert_eq!(net.backward(&[1]).unwrap_err().status(), Status::State);
    net.forward(&x, true).unwrap();
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
