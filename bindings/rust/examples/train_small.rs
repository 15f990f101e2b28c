//! Trains the two-convolution network of Nielsen's chapter 6 on synthetic
//! digits (MNIST_DIR=dir uses MNIST), then predicts and saves.
//! Run: cargo run --example train_small [model-path]
use cnn::{Activation, Conv2d, Dataset, Dense, Net, Param, Pool, Sgd, Softmax, Split, Train};

/// Synthetic digits, the same bytes as every other language's example.
fn synthetic(count: usize, first: usize) -> cnn::Result<Dataset> {
    let mut pixels = vec![0u8; count * 784];
    let mut labels = Vec::with_capacity(count);
    for n in 0..count {
        let (i, label) = (first + n, (first + n) % 10);
        let top = 3 + label / 5 * 13 + i / 10 % 3;
        let left = 1 + label % 5 * 5 + i / 30 % 3;
        for y in top..top + 5 {
            let row = n * 784 + y * 28 + left;
            pixels[row..row + 5].fill(255);
        }
        labels.push(label as u8);
    }
    Dataset::new(&pixels, &labels, [1, 28, 28])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (train, test) = match std::env::var("MNIST_DIR") {
        Ok(dir) if !dir.is_empty() => (
            Dataset::load_mnist(&dir, Split::Train)?.slice(0, 1000)?,
            Dataset::load_mnist(&dir, Split::Test)?.slice(0, 500)?,
        ),
        _ => (synthetic(1000, 0)?, synthetic(500, 1000)?),
    };

    let mut net = Net::new(1, 28, 28, 42)?;
    net.add(Conv2d::new(20, 5).activation(Activation::Relu).pool(Pool::Max, 2, 2).build()?)?
        .add(Conv2d::new(40, 5).activation(Activation::Relu).pool(Pool::Max, 2, 2).build()?)?
        .add(Dense::new(100).activation(Activation::Relu).build()?)?
        .add(Softmax::new(10).build()?)?;

    let mut sgd = Sgd::builder(0.03).l2(0.1).build()?;
    let options = Train::new(2).on_epoch(|r| {
        println!("epoch {}: cost {:.4}", r.epoch, r.train_cost);
        false // keep going
    });
    net.train(&mut sgd, &train, options)?;
    println!("test accuracy: {:.4}", net.evaluate(&test, 100)?.0);

    let (x, _) = test.batch(0, 20)?;
    println!("predictions: {:?}", net.predict(&x)?);
    let proba = net.predict_proba(&x)?; // one Vec of 10 class probabilities per image
    let best = net.predict(&x)?[0] as usize;
    println!("first image: p({best}) = {:.3}", proba[0][best]);
    // Zero-copy, borrowed from the network (not from the temporary layer handle).
    let w = net.layer(0).expect("layer 0").param(Param::Weights).expect("conv weights");
    println!("first layer's weights: {:?}", w.shape());
    if let Some(path) = std::env::args().nth(1) {
        net.save(path)?;
    }
    Ok(())
}
