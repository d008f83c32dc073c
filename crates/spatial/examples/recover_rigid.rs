//! Recovers a known rotation and translation between two volumes by gradient descent through
//! the differentiable resampling: the spatial-transformer use case of the MedImages.jl seed.
//!
//! `cargo run --release -p medburn-spatial --example recover_rigid`
//!
//! A smooth synthetic volume (a few Gaussian blobs) is moved by a rotation about z and x and
//! a translation; five parameters start at zero and Adam minimizes the mean squared difference
//! between the moving image resampled through them and the fixed image.

use burn::tensor::{Device, Tensor};
use medburn_core::{Geometry, MedImage};
use medburn_spatial::{resample, resample_voxels, transform, Interpolation};

/// What a run found: parameter errors and the loss before and after.
#[derive(Debug)]
pub struct Recovery {
    /// Largest angle error, degrees.
    pub angle_error_deg: f64,
    /// Largest translation error, mm.
    pub offset_error_mm: f64,
    /// Mean squared difference at the start and at the end.
    pub loss: (f32, f32),
}

/// A volume of Gaussian blobs on a `size^3` grid of 1 mm voxels.
fn blobs(size: usize, device: &Device) -> MedImage {
    let g = Geometry::unit([size; 3]).expect("a valid grid");
    let c = (size as f64 - 1.0) / 2.0;
    let s = size as f64 / 8.0;
    let centres = [
        [c, c, c],
        [c + 2.0 * s, c, c - s],
        [c - s, c + 2.0 * s, c + s],
        [c, c - 1.5 * s, c + 2.0 * s],
    ];
    let values: Vec<f32> = g
        .physical_points()
        .iter()
        .map(|p| {
            centres
                .iter()
                .enumerate()
                .map(|(k, q)| {
                    let d2: f64 = (0..3).map(|a| (p[a] - q[a]).powi(2)).sum();
                    (1.0 + k as f64 * 0.5) * (-d2 / (2.0 * s * s)).exp()
                })
                .sum::<f64>() as f32
        })
        .collect();
    MedImage::from_vec(values, 1, g, device).expect("sizes agree")
}

/// The rigid transform of angles (about z, then x; radians) and offsets (mm) about `centre`.
fn rigid(angles: Tensor<1>, offsets: Tensor<1>, centre: [f64; 3]) -> Tensor<3> {
    let rz =
        transform::rotation([0.0, 0.0, 1.0], angles.clone().narrow(0, 0, 1), centre).expect("axis");
    let rx = transform::rotation([1.0, 0.0, 0.0], angles.narrow(0, 1, 1), centre).expect("axis");
    let shift = transform::translation(offsets.reshape([1, 3]));
    transform::compose(transform::compose(rz, rx), shift)
}

/// Runs the recovery on a `size^3` volume for `steps` Adam steps.
pub fn run(size: usize, steps: usize, device: &Device) -> Recovery {
    let moving = blobs(size, device);
    let g = *moving.geometry();
    let centre = g.centre();
    let true_angles = [12f64.to_radians(), -8f64.to_radians()];
    let true_offsets = [2.0, -1.5, 1.0];
    let truth = rigid(
        Tensor::<1>::from_floats(true_angles.map(|v| v as f32), device),
        Tensor::<1>::from_floats(true_offsets.map(|v| v as f32), device),
        centre,
    );
    let fixed = resample(&moving, &g, Some(truth), Interpolation::Linear).expect("resample");
    let ad = device.clone().autodiff();
    let (moving_v, fixed_v) = (
        moving.voxels().clone().to_device(&ad),
        fixed.voxels().clone().to_device(&ad),
    );
    // Parameters: 2 angles (radians) and 3 offsets (mm), with their Adam state.
    let mut params = [0.0f32; 5];
    let lr = [0.01f32, 0.01, 0.1, 0.1, 0.1];
    let (mut m, mut v) = ([0.0f32; 5], [0.0f32; 5]);
    let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
    let mut first = None;
    let mut last = 0.0;
    for step in 1..=steps {
        let p = Tensor::<1>::from_floats(params, &ad).require_grad();
        let t = rigid(p.clone().narrow(0, 0, 2), p.clone().narrow(0, 2, 3), centre);
        let out = resample_voxels(moving_v.clone(), &g, &g, Some(t), Interpolation::Linear)
            .expect("resample");
        let loss = (out - fixed_v.clone()).powi_scalar(2).mean();
        last = loss.clone().into_scalar::<f32>();
        first.get_or_insert(last);
        let grads = loss.backward();
        let grad = p
            .grad(&grads)
            .expect("a gradient")
            .into_data()
            .try_to_vec::<f32>()
            .expect("f32");
        for k in 0..5 {
            m[k] = b1 * m[k] + (1.0 - b1) * grad[k];
            v[k] = b2 * v[k] + (1.0 - b2) * grad[k] * grad[k];
            let mh = m[k] / (1.0 - b1.powi(step as i32));
            let vh = v[k] / (1.0 - b2.powi(step as i32));
            params[k] -= lr[k] * mh / (vh.sqrt() + eps);
        }
    }
    let angle_error_deg = (0..2)
        .map(|k| (params[k] as f64 - true_angles[k]).abs().to_degrees())
        .fold(0.0, f64::max);
    let offset_error_mm = (0..3)
        .map(|k| (params[2 + k] as f64 - true_offsets[k]).abs())
        .fold(0.0, f64::max);
    Recovery {
        angle_error_deg,
        offset_error_mm,
        loss: (first.unwrap_or(0.0), last),
    }
}

#[allow(dead_code)]
fn main() {
    let r = run(32, 200, &Device::flex());
    println!(
        "angle error {:.3} deg, offset error {:.3} mm, loss {:.2e} -> {:.2e}",
        r.angle_error_deg, r.offset_error_mm, r.loss.0, r.loss.1
    );
}
