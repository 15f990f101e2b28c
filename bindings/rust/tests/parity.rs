//! The API issue 14 asked for: typed parameter kinds and views that live as
//! long as the network's borrow, forward modes and probabilities, MNIST
//! splits, checkpoints and resume, and the SGD builder; and, for parity with
//! the Python binding, labels, augmentation and load limits.
use cnn::{checkpoint_info, Activation, Augment, Conv2d, Dataset, Dense, LayerKind, Limits, Mode, Net, Param, Pool, Sgd, Softmax,
          Split, Status, Train};
use std::path::PathBuf;

/// Ten classes, each a bright column at its own place, 10x10 images.
fn columns(count: usize) -> Dataset {
    let mut pixels = vec![0u8; count * 100];
    let labels: Vec<u8> = (0..count).map(|i| (i % 10) as u8).collect();
    for (i, &l) in labels.iter().enumerate() {
        for y in 0..10 {
            pixels[i * 100 + y * 10 + l as usize] = 255;
        }
    }
    Dataset::new(&pixels, &labels, [1, 10, 10]).unwrap()
}

fn net(seed: u64) -> Net {
    let mut net = Net::new(1, 10, 10, seed).unwrap();
    net.add(Conv2d::new(4, 3).activation(Activation::Relu).pool(Pool::Max, 2, 2).build().unwrap())
        .unwrap()
        .add(Dense::new(16).activation(Activation::Relu).build().unwrap())
        .unwrap()
        .add(Softmax::new(10).build().unwrap())
        .unwrap();
    net
}

/// A directory of its own under the system's temporary one, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("cnn-rust-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn param_views_live_as_long_as_the_network_borrow() {
    let mut net = net(1);
    // Used to fail with E0716 (the view borrowed the temporary LayerRef).
    let w = net.layer(0).unwrap().param(Param::Weights).unwrap();
    let b = net.layer(2).unwrap().param(Param::Biases).unwrap();
    assert_eq!(w.shape(), vec![4, 1, 3, 3]);
    assert_eq!(b.shape(), vec![10]);
    assert_eq!(w.data(), &net.params()[..36]); // zero-copy: the network's memory
    assert!(net.layer(0).unwrap().param(Param::GradWeights).is_some());

    // Writable, through the network: set class 9's bias high.
    {
        let mut bias = net.param_mut(2, Param::Biases).unwrap();
        bias.data_mut().fill(0.0);
        bias.data_mut()[9] = 50.0;
    }
    assert_eq!(*net.params().last().unwrap(), 50.0);
    let (x, labels) = columns(4).batch(0, 4).unwrap();
    assert_eq!(net.predict(&x).unwrap(), vec![9, 9, 9, 9]);
    assert!(net.param_mut(3, Param::Weights).is_none()); // no layer 3

    // The gradient views are the matching stretch of grads().
    net.forward(&x, Mode::Train).unwrap();
    net.backward(&labels).unwrap();
    let g = net.layer(2).unwrap().param(Param::GradBiases).unwrap();
    assert_eq!(g.data(), &net.grads()[net.param_count() - 10..]);
    assert!(g.data().iter().any(|&v| v != 0.0));

    // An owned layer's views; pooling has none.
    let mut dense = Dense::new(3).in_features(2).build().unwrap();
    dense.param_mut(Param::Weights).unwrap().data_mut().copy_from_slice(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(dense.param(Param::Weights).unwrap().data(), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert!(cnn::Pool2d::new(Pool::Max, 2).build().unwrap().param(Param::Weights).is_none());
}

#[test]
fn forward_modes_and_probabilities() {
    let data = columns(100);
    let mut net = net(2);
    let mut sgd = Sgd::builder(0.1).momentum(0.5).build().unwrap();
    net.train(&mut sgd, &data, Train::new(10)).unwrap();
    let (x, _) = data.batch(0, 7).unwrap();
    let y = net.forward(&x, Mode::Infer).unwrap();
    assert_eq!(y.shape(), vec![7, 10]);
    let proba = net.predict_proba(&x).unwrap();
    let labels = net.predict(&x).unwrap();
    assert_eq!(proba.len(), 7);
    for (i, row) in proba.iter().enumerate() {
        assert_eq!(row.as_slice(), &y.data()[i * 10..(i + 1) * 10]);
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5, "row {i}: {row:?}");
        let best = row.iter().enumerate().fold(0, |b, (j, &p)| if p > row[b] { j } else { b });
        assert_eq!(best as i32, labels[i]);
    }
    assert_eq!(labels, vec![0, 1, 2, 3, 4, 5, 6]); // it learned the columns

    let mut raw = Net::new(1, 10, 10, 1).unwrap();
    raw.add(Dense::new(5).build().unwrap()).unwrap();
    assert_eq!(raw.predict_proba(&x).unwrap_err().status(), Status::State);
    assert_eq!(raw.forward(&x, Mode::Infer).unwrap().shape(), vec![7, 5]);
    assert_eq!(Net::new(1, 10, 10, 1).unwrap().predict_proba(&x).unwrap_err().status(), Status::State);
    assert_eq!(net.layer(2).unwrap().kind(), LayerKind::Softmax);
}

/// Writes the four MNIST files of a tiny set: `train` and `test` images of 2x3.
fn write_mnist(dir: &std::path::Path, train: u8, test: u8) {
    let idx = |magic: u32, dims: &[u32], body: Vec<u8>| {
        let mut b = magic.to_be_bytes().to_vec();
        dims.iter().for_each(|d| b.extend(d.to_be_bytes()));
        b.extend(body);
        b
    };
    for (prefix, n) in [("train", train), ("t10k", test)] {
        let images = idx(0x803, &[n as u32, 2, 3], (0..n as usize * 6).map(|v| v as u8).collect());
        let labels = idx(0x801, &[n as u32], (0..n).collect());
        std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), images).unwrap();
        std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), labels).unwrap();
    }
}

#[test]
fn mnist_splits_are_named() {
    let dir = TempDir::new("mnist");
    write_mnist(&dir.0, 3, 2);
    let train = Dataset::load_mnist(&dir.0, Split::Train).unwrap();
    let test = Dataset::load_mnist(&dir.0, Split::Test).unwrap();
    assert_eq!((train.len(), test.len()), (3, 2));
    assert_eq!(train.shape(), [1, 2, 3]);
    assert_eq!(test.get(1).unwrap().1, 1);
    let missing = dir.0.join("nothing-here");
    assert_eq!(Dataset::load_mnist(missing, Split::Test).err().unwrap().status(), Status::Io);
}

#[test]
fn checkpoint_and_resume_give_the_uninterrupted_weights() {
    let data = columns(60);
    let dir = TempDir::new("ckpt");
    let ckpt = dir.0.join("run.ckpt");
    let options = || Train::new(3).batch_size(10).shuffle(5);
    let run = |t: Train<'_>| -> cnn::Result<Net> {
        let mut net = net(3);
        let mut sgd = Sgd::builder(0.05).momentum(0.9).build()?;
        net.train(&mut sgd, &data, t)?;
        Ok(net)
    };
    let whole = run(options()).unwrap();
    let first = run(Train::new(2).batch_size(10).shuffle(5).checkpoint(&ckpt, 1)).unwrap();
    assert_ne!(first.params(), whole.params());
    assert_eq!(checkpoint_info(&ckpt).unwrap(), 2);
    let resumed = run(options().resume(&ckpt).checkpoint(&ckpt, 1)).unwrap();
    assert_eq!(resumed.params(), whole.params());
    assert_eq!(checkpoint_info(&ckpt).unwrap(), 3);

    let other = run(Train::new(3).batch_size(20).shuffle(5).resume(&ckpt)).err().unwrap();
    assert_eq!(other.status(), Status::InvalidArgument, "{other}");
    assert_eq!(run(options().resume(dir.0.join("missing"))).err().unwrap().status(), Status::Io);
    assert_eq!(checkpoint_info(dir.0.join("missing")).unwrap_err().status(), Status::Io);
    // A NUL in a path is refused before anything is written or trained.
    let nul = run(options().checkpoint(dir.0.join("x\0y"), 1)).err().unwrap();
    assert_eq!(nul.status(), Status::InvalidArgument);
    assert!(nul.message().contains("NUL"), "{nul}");
    assert_eq!(run(options().resume("a\0b")).err().unwrap().status(), Status::InvalidArgument);
    assert_eq!(checkpoint_info("a\0b").unwrap_err().status(), Status::InvalidArgument);
    assert!(!dir.0.join("x").exists());
}

#[test]
#[allow(deprecated)]
fn deprecated_sgd_new_is_the_builder() {
    let (x, labels) = columns(10).batch(0, 10).unwrap();
    let step = |mut sgd: Sgd| {
        let mut net = net(4);
        for _ in 0..3 {
            net.train_step(&mut sgd, &x, &labels).unwrap();
        }
        net.params().to_vec()
    };
    let old = step(Sgd::new(0.05, 0.9, 0.1).unwrap());
    let new = step(Sgd::builder(0.05).momentum(0.9).l2(0.1).build().unwrap());
    assert_eq!(old, new);
    assert_ne!(old, step(Sgd::builder(0.05).momentum(0.9).build().unwrap())); // l2 counts
}

#[test]
fn labels_and_augmentation() {
    let data = columns(12);
    assert_eq!(data.labels().unwrap(), vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
    let (plain, label) = data.get(3).unwrap();
    let same = data.augment(&Augment::new()).unwrap();
    assert_eq!(same.get(3).unwrap(), (plain.clone(), label));
    // Shifted 2 pixels right: column 3's bar moves to column 5.
    let moved = data.augment(&Augment::new().shift_x(2.0, 2.0)).unwrap();
    let (p, l) = moved.get(3).unwrap();
    assert_eq!(l, 3);
    for y in 0..10 {
        for x in 0..10 {
            let want = if x >= 2 { plain[y * 10 + x - 2] } else { 0.0 };
            assert_eq!(p[y * 10 + x], want, "row {y} column {x}");
        }
    }
    assert_eq!(moved.labels().unwrap(), data.labels().unwrap());
    let bad = data.augment(&Augment::new().scale(2.0, 1.0)).err().unwrap();
    assert_eq!(bad.status(), Status::InvalidArgument, "{bad}");
    assert!(data.augment(&Augment::new().probability(1.5)).is_err());
}

#[test]
fn load_limits() {
    let mut net = net(5);
    let defaults = net.limits().unwrap();
    assert_eq!((defaults.param_bytes(), defaults.workspace_bytes(), defaults.flops()),
               (2 << 30, 1 << 30, 100_000_000_000));
    let bytes = net.to_bytes().unwrap();
    let need = net.param_count() as i64 * 4;
    let short = Net::from_bytes_limited(&bytes, &Limits::default().max_param_bytes(need - 1)).err().unwrap();
    assert_eq!(short.status(), Status::InvalidArgument, "{short}");
    let fits = Net::from_bytes_limited(&bytes, &Limits::default().max_param_bytes(need)).unwrap();
    assert_eq!(fits.limits().unwrap().param_bytes(), need);
    assert_eq!(fits.params(), net.params());

    let dir = TempDir::new("limits");
    let path = dir.0.join("m.cnn");
    net.save(&path).unwrap();
    assert!(Net::load_limited(&path, &Limits::default().max_flops(100)).is_err());
    assert_eq!(Net::load_limited(&path, &Limits::default()).unwrap().params(), net.params());
    assert_eq!(Net::load_limited("m\0.cnn", &Limits::default()).err().unwrap().status(), Status::InvalidArgument);

    let mut small = Net::new(1, 10, 10, 1).unwrap();
    small.set_limits(&Limits::default().max_param_bytes(100)).unwrap();
    assert_eq!(small.add(Dense::new(100).build().unwrap()).err().unwrap().status(), Status::InvalidArgument);
    assert!(small.is_empty());
    assert!(net.set_limits(&Limits::default().max_flops(-1)).is_err());
}
