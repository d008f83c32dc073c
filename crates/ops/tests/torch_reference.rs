//! medburn-ops against PyTorch: values and gradients of every fixture case in
//! tests/fixtures/torch (made by tests/scripts/make_torch_fixtures.py), on Flex in f32 and f64.
//! The same cases run on wgpu in gpu_parity.rs.

mod common;

use burn::tensor::{DType, Device, Tensor};
use common::*;
use medburn_ops::*;
use serde_json::Value;

pub fn options(case: &Value) -> SampleOptions {
    let interpolation = match case["mode"].as_str().unwrap() {
        "nearest" => Interpolation::Nearest,
        "bilinear" => Interpolation::Linear,
        m => panic!("mode {m}"),
    };
    let padding = match case["padding"].as_str().unwrap() {
        "zeros" => Padding::Zeros,
        "border" => Padding::Border,
        "reflection" => Padding::Reflection,
        p => panic!("padding {p}"),
    };
    SampleOptions::new(interpolation)
        .with_padding(padding)
        .with_align_corners(case["align_corners"].as_bool().unwrap())
}

/// Runs every grid_sample case; returns the largest error seen.
pub fn check_grid_sample(device: &Device, dtype: DType, tol: f64) -> f64 {
    let mut worst = 0.0f64;
    for case in torch_cases("grid_sample") {
        let o = options(&case);
        let x = tensor::<5>(&case["input"], usizes(&case["input_shape"]), device, dtype).require_grad();
        let g = tensor::<5>(&case["grid"], usizes(&case["grid_shape"]), device, dtype).require_grad();
        let y = grid_sample_3d(x.clone(), g.clone(), o).unwrap();
        let dy = tensor::<5>(&case["grad_output"], y.dims(), device, dtype);
        let grads = (y.clone() * dy).sum().backward();
        let name = format!("{o:?}");
        for (what, got, want) in [
            ("output", values(y), &case["output"]),
            ("grad_input", values(x.grad(&grads).unwrap()), &case["grad_input"]),
            ("grad_grid", values(g.grad(&grads).unwrap()), &case["grad_grid"]),
        ] {
            let want = floats(want);
            assert_close(&format!("{name} {what}"), &got, &want, tol);
            worst = worst.max(max_error(&got, &want));
        }
    }
    worst
}

/// Runs every affine case through the fused path and through affine_grid + grid_sample.
pub fn check_affine(device: &Device, dtype: DType, tol: f64) -> f64 {
    let mut worst = 0.0f64;
    for case in torch_cases("affine") {
        let o = options(&case);
        let size: [usize; 3] = usizes(&case["output_size"]);
        let shape: [usize; 5] = usizes(&case["input_shape"]);
        for fused in [true, false] {
            let x = tensor::<5>(&case["input"], shape, device, dtype).require_grad();
            let theta = tensor::<3>(&case["theta"], [shape[0], 3, 4], device, dtype).require_grad();
            let y = if fused {
                affine_sample_3d(x.clone(), theta.clone(), size, o).unwrap()
            } else {
                let full = [shape[0], shape[1], size[0], size[1], size[2]];
                let grid = affine_grid_3d(theta.clone(), full, o.align_corners).unwrap();
                assert_close("affine_grid", &values(grid.clone()), &floats(&case["grid"]), tol);
                grid_sample_3d(x.clone(), grid, o).unwrap()
            };
            let dy = tensor::<5>(&case["grad_output"], y.dims(), device, dtype);
            let grads = (y.clone() * dy).sum().backward();
            let name = format!("{o:?} fused={fused}");
            for (what, got, want) in [
                ("output", values(y), &case["output"]),
                ("grad_input", values(x.grad(&grads).unwrap()), &case["grad_input"]),
                ("grad_theta", values(theta.grad(&grads).unwrap()), &case["grad_theta"]),
            ] {
                let want = floats(want);
                // theta's gradient sums hundreds of terms of size ~10: compare relative to its scale.
                let scale = if what == "grad_theta" { 10.0 } else { 1.0 };
                let got_s: Vec<f64> = got.iter().map(|v| v / scale).collect();
                let want_s: Vec<f64> = want.iter().map(|v| v / scale).collect();
                assert_close(&format!("{name} {what}"), &got_s, &want_s, tol);
                worst = worst.max(max_error(&got_s, &want_s));
            }
        }
    }
    worst
}

#[test]
fn grid_sample_matches_pytorch_on_flex_f32() {
    let e = check_grid_sample(&Device::flex().autodiff(), DType::F32, 1e-5);
    println!("grid_sample flex f32 max error {e:.2e}");
}

#[test]
fn grid_sample_matches_pytorch_on_flex_f64() {
    let e = check_grid_sample(&Device::flex().autodiff(), DType::F64, 1e-10);
    println!("grid_sample flex f64 max error {e:.2e}");
}

#[test]
fn affine_sample_matches_pytorch_on_flex_f32() {
    let e = check_affine(&Device::flex().autodiff(), DType::F32, 1e-5);
    println!("affine flex f32 max error {e:.2e}");
}

#[test]
fn affine_sample_matches_pytorch_on_flex_f64() {
    let e = check_affine(&Device::flex().autodiff(), DType::F64, 1e-10);
    println!("affine flex f64 max error {e:.2e}");
}

#[test]
fn grid_sample_without_autodiff_gives_the_same_values() {
    let case = &torch_cases("grid_sample")[7];
    let device = Device::flex();
    let x = tensor::<5>(&case["input"], usizes(&case["input_shape"]), &device, DType::F32);
    let g = tensor::<5>(&case["grid"], usizes(&case["grid_shape"]), &device, DType::F32);
    let y: Tensor<5> = grid_sample_3d(x, g, options(case)).unwrap();
    assert_close("output", &values(y), &floats(&case["output"]), 1e-5);
}

#[test]
fn grid_sample_matches_pytorch_on_wgpu() {
    let e = check_grid_sample(&wgpu_device().autodiff(), DType::F32, 1e-5);
    println!("grid_sample wgpu f32 max error {e:.2e}");
}

#[test]
fn affine_sample_matches_pytorch_on_wgpu() {
    let e = check_affine(&wgpu_device().autodiff(), DType::F32, 1e-5);
    println!("affine wgpu f32 max error {e:.2e}");
}
