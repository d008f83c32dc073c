//! Shared helpers of the augmentation tests: seeded host-made images and labels.

#![allow(dead_code)]

use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub fn values(t: Tensor<5>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

pub fn tensor(v: Vec<f32>, dims: [usize; 5], device: &Device) -> Tensor<5> {
    Tensor::from_data(TensorData::new(v, dims), device)
}

/// A random image (host-generated, so the same on every device).
pub fn image(seed: u64, dims: [usize; 5], device: &Device) -> Tensor<5> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = dims.iter().product();
    let v = (0..n).map(|_| rng.random_range(-1.0f32..3.0)).collect();
    tensor(v, dims, device)
}

/// A smooth image: a sum of low-frequency sines, values in about [-1, 3].
pub fn smooth(dims: [usize; 5], device: &Device) -> Tensor<5> {
    let [n, c, d, h, w] = dims;
    let mut v = Vec::with_capacity(n * c * d * h * w);
    for s in 0..n * c {
        for k in 0..d {
            for j in 0..h {
                for i in 0..w {
                    let (x, y, z) = (
                        i as f32 / w as f32,
                        j as f32 / h as f32,
                        k as f32 / d as f32,
                    );
                    v.push(1.0 + (3.0 * x + s as f32).sin() + (2.5 * y).cos() * (2.0 * z).sin());
                }
            }
        }
    }
    tensor(v, dims, device)
}

/// Labels 0..=4 in blocks, as float class indices.
pub fn labels(dims: [usize; 5], device: &Device) -> Tensor<5> {
    let [n, c, d, h, w] = dims;
    let mut v = Vec::with_capacity(n * c * d * h * w);
    for s in 0..n * c {
        for k in 0..d {
            for j in 0..h {
                for i in 0..w {
                    v.push(((i / 3 + j / 4 + k / 5 + s) % 5) as f32);
                }
            }
        }
    }
    tensor(v, dims, device)
}

/// Three channels holding each voxel's own `(i, j, k)`: linear interpolation reproduces them
/// exactly inside the volume, so a resampled ramp is the map's positions.
pub fn ramp(n: usize, size: [usize; 3], device: &Device) -> Tensor<5> {
    let [w, h, d] = size;
    let mut v = Vec::with_capacity(n * 3 * d * h * w);
    for _ in 0..n {
        for c in 0..3 {
            for k in 0..d {
                for j in 0..h {
                    for i in 0..w {
                        v.push([i, j, k][c] as f32);
                    }
                }
            }
        }
    }
    tensor(v, [n, 3, d, h, w], device)
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}
