//! f16 and bf16 tensors sample where f32 would: positions, weights and sums are computed in f32
//! (as PyTorch does), so only the storage rounding of the result differs from an f64 reference
//! run on the same (rounded) inputs. In bf16 a position between 256 and 512 is a multiple of 2;
//! computed in bf16, samples would land a voxel away.

mod common;

use burn::tensor::{DType, Device, Tensor, TensorData};
use common::*;
use medburn_ops::*;

/// A checkerboard along x (0, 1, 0, 1, ...) on a 400-voxel axis: one voxel off is an error
/// of up to 1, far above half-precision rounding of a value in [0, 1].
fn checkerboard() -> Vec<f32> {
    (0..2 * 2 * 400).map(|i| (i % 400 % 2) as f32).collect()
}

/// Normalized x positions k/64 (exact in f16 and bf16), landing between voxels 260 and 400.
fn grid() -> Vec<f32> {
    (20..64)
        .flat_map(|k| [k as f32 / 64.0 + 1.0 / 512.0, 0.0, 0.0])
        .collect()
}

/// Output-gradient weights k/64 (exact in both half types).
fn ramp(points: usize) -> Vec<f32> {
    (0..points).map(|k| k as f32 / 64.0).collect()
}

fn sample(device: &Device, dtype: DType, interpolation: Interpolation) -> (Vec<f64>, Vec<f64>) {
    let x = Tensor::<5>::from_data(TensorData::new(checkerboard(), [1, 1, 2, 2, 400]), device)
        .cast(dtype)
        .require_grad();
    let points = grid().len() / 3;
    let g =
        Tensor::<5>::from_data(TensorData::new(grid(), [1, 1, 1, points, 3]), device).cast(dtype);
    let y = grid_sample_3d(x.clone(), g, SampleOptions::new(interpolation)).unwrap();
    let weights =
        Tensor::<5>::from_data(TensorData::new(ramp(points), [1, 1, 1, 1, points]), device)
            .cast(dtype);
    let grads = (y.clone() * weights).sum().backward();
    (values(y), values(x.grad(&grads).expect("input gradient")))
}

/// The same inputs, rounded to `dtype`, sampled in f64 on Flex.
fn reference(dtype: DType, interpolation: Interpolation) -> (Vec<f64>, Vec<f64>) {
    let flex = Device::flex().autodiff();
    let round = |v: Vec<f32>, shape: [usize; 5]| {
        Tensor::<5>::from_data(TensorData::new(v, shape), &flex)
            .cast(dtype)
            .cast(DType::F64)
            .into_data()
    };
    let points = grid().len() / 3;
    let x = Tensor::<5>::from_data(round(checkerboard(), [1, 1, 2, 2, 400]), &flex).require_grad();
    let g = Tensor::<5>::from_data(round(grid(), [1, 1, 1, points, 3]), &flex);
    let y = grid_sample_3d(x.clone(), g, SampleOptions::new(interpolation)).unwrap();
    let weights = Tensor::<5>::from_data(round(ramp(points), [1, 1, 1, 1, points]), &flex);
    let grads = (y.clone() * weights).sum().backward();
    (values(y), values(x.grad(&grads).expect("input gradient")))
}

fn check(device: &Device, name: &str) {
    for (dtype, tolerance) in [(DType::F16, 2e-3), (DType::BF16, 1.6e-2)] {
        if !device.supports_dtype(dtype) {
            eprintln!("{name}: {dtype:?} skipped, the device does not support it");
            continue;
        }
        for interpolation in [Interpolation::Nearest, Interpolation::Linear] {
            let (y, dx) = sample(&device.clone().autodiff(), dtype, interpolation);
            let (want_y, want_dx) = reference(dtype, interpolation);
            let what = format!("{name} {dtype:?} {interpolation:?}");
            assert_close(&format!("{what} values"), &y, &want_y, tolerance);
            assert_close(&format!("{what} input gradient"), &dx, &want_dx, tolerance);
        }
    }
}

#[test]
fn half_types_sample_like_f64_on_flex() {
    check(&Device::flex(), "flex");
}

#[test]
fn half_types_sample_like_f64_on_wgpu() {
    let Some(gpu) = wgpu_device() else { return };
    check(&gpu, "wgpu");
}
