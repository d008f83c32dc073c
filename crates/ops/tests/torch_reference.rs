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
        let x =
            tensor::<5>(&case["input"], usizes(&case["input_shape"]), device, dtype).require_grad();
        let g =
            tensor::<5>(&case["grid"], usizes(&case["grid_shape"]), device, dtype).require_grad();
        let y = grid_sample_3d(x.clone(), g.clone(), o).unwrap();
        let dy = tensor::<5>(&case["grad_output"], y.dims(), device, dtype);
        let grads = (y.clone() * dy).sum().backward();
        let name = format!("{o:?}");
        for (what, got, want) in [
            ("output", values(y), &case["output"]),
            (
                "grad_input",
                values(x.grad(&grads).unwrap()),
                &case["grad_input"],
            ),
            (
                "grad_grid",
                values(g.grad(&grads).unwrap()),
                &case["grad_grid"],
            ),
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
                assert_close(
                    "affine_grid",
                    &values(grid.clone()),
                    &floats(&case["grid"]),
                    tol,
                );
                grid_sample_3d(x.clone(), grid, o).unwrap()
            };
            let dy = tensor::<5>(&case["grad_output"], y.dims(), device, dtype);
            let grads = (y.clone() * dy).sum().backward();
            let name = format!("{o:?} fused={fused}");
            for (what, got, want) in [
                ("output", values(y), &case["output"]),
                (
                    "grad_input",
                    values(x.grad(&grads).unwrap()),
                    &case["grad_input"],
                ),
                (
                    "grad_theta",
                    values(theta.grad(&grads).unwrap()),
                    &case["grad_theta"],
                ),
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
    let x = tensor::<5>(
        &case["input"],
        usizes(&case["input_shape"]),
        &device,
        DType::F32,
    );
    let g = tensor::<5>(
        &case["grid"],
        usizes(&case["grid_shape"]),
        &device,
        DType::F32,
    );
    let y: Tensor<5> = grid_sample_3d(x, g, options(case)).unwrap();
    assert_close("output", &values(y), &floats(&case["output"]), 1e-5);
}

#[test]
fn grid_sample_matches_pytorch_on_wgpu() {
    let Some(gpu) = wgpu_device() else { return };
    let e = check_grid_sample(&gpu.autodiff(), DType::F32, 1e-5);
    println!("grid_sample wgpu f32 max error {e:.2e}");
}

#[test]
fn affine_sample_matches_pytorch_on_wgpu() {
    let Some(gpu) = wgpu_device() else { return };
    let e = check_affine(&gpu.autodiff(), DType::F32, 1e-5);
    println!("affine wgpu f32 max error {e:.2e}");
}

/// Runs `op` on a fixture's input with autodiff, compares output and input gradient.
fn check_unary(
    device: &Device,
    dtype: DType,
    tol: f64,
    case: &Value,
    name: &str,
    op: impl Fn(Tensor<5>) -> Tensor<5>,
) -> f64 {
    let x = tensor::<5>(&case["input"], usizes(&case["input_shape"]), device, dtype).require_grad();
    let y = op(x.clone());
    assert_eq!(y.dims(), usizes::<5>(&case["output_shape"]), "{name} shape");
    let dy = tensor::<5>(&case["grad_output"], y.dims(), device, dtype);
    let grads = (y.clone() * dy).sum().backward();
    let mut worst = 0.0f64;
    for (what, got, want) in [
        ("output", values(y), &case["output"]),
        (
            "grad_input",
            values(x.grad(&grads).unwrap()),
            &case["grad_input"],
        ),
    ] {
        let want = floats(want);
        assert_close(&format!("{name} {what}"), &got, &want, tol);
        worst = worst.max(max_error(&got, &want));
    }
    worst
}

pub fn check_pool(device: &Device, dtype: DType, tol: f64) -> f64 {
    let mut worst = 0.0f64;
    for case in torch_cases("pool") {
        let o = Pool3dOptions::new(usizes(&case["kernel"]))
            .with_stride(usizes(&case["stride"]))
            .with_padding(usizes(&case["padding"]))
            .with_dilation(usizes(&case["dilation"]))
            .with_ceil_mode(case["ceil"].as_bool().unwrap());
        let kind = case["kind"].as_str().unwrap();
        let name = format!("{kind} {o:?}");
        let e = check_unary(device, dtype, tol, &case, &name, |x| match kind {
            "max" => max_pool3d(x, o).unwrap(),
            "avg_include" => avg_pool3d(x, o.with_count_include_pad(true)).unwrap(),
            _ => avg_pool3d(x, o.with_count_include_pad(false)).unwrap(),
        });
        worst = worst.max(e);
    }
    worst
}

pub fn check_interpolate(device: &Device, dtype: DType, tol: f64) -> f64 {
    let mut worst = 0.0f64;
    for case in torch_cases("interpolate") {
        // PyTorch's mode names are among Interpolation's.
        let mode: Interpolation = case["mode"].as_str().unwrap().parse().unwrap();
        let mut o = Interpolate3dOptions::new(mode)
            .with_align_corners(case["align_corners"].as_bool().unwrap());
        if case["size"].is_array() {
            o = o.with_size(usizes(&case["size"]));
        } else {
            let f = floats(&case["scale_factor"]);
            o = o.with_scale_factor([f[0], f[1], f[2]]);
        }
        let e = check_unary(device, dtype, tol, &case, &format!("{o:?}"), |x| {
            interpolate_3d(x, o).unwrap()
        });
        worst = worst.max(e);
    }
    worst
}

pub fn check_warp(device: &Device, dtype: DType, tol: f64) -> f64 {
    let mut worst = 0.0f64;
    for case in torch_cases("warp") {
        let shape: [usize; 5] = usizes(&case["input_shape"]);
        let padding = if case["padding"] == "zeros" {
            Padding::Zeros
        } else {
            Padding::Border
        };
        let x = tensor::<5>(&case["input"], shape, device, dtype).require_grad();
        let u = tensor::<5>(
            &case["displacement"],
            [shape[0], 3, shape[2], shape[3], shape[4]],
            device,
            dtype,
        )
        .require_grad();
        let y = warp(
            x.clone(),
            u.clone(),
            SampleOptions::default().with_padding(padding),
        )
        .unwrap();
        let dy = tensor::<5>(&case["grad_output"], y.dims(), device, dtype);
        let grads = (y.clone() * dy).sum().backward();
        for (what, got, want) in [
            ("output", values(y), &case["output"]),
            (
                "grad_input",
                values(x.grad(&grads).unwrap()),
                &case["grad_input"],
            ),
            (
                "grad_displacement",
                values(u.grad(&grads).unwrap()),
                &case["grad_displacement"],
            ),
        ] {
            let want = floats(want);
            assert_close(&format!("warp {padding:?} {what}"), &got, &want, tol);
            worst = worst.max(max_error(&got, &want));
        }
    }
    worst
}

#[test]
fn pools_match_pytorch_on_flex() {
    let e32 = check_pool(&Device::flex().autodiff(), DType::F32, 1e-5);
    let e64 = check_pool(&Device::flex().autodiff(), DType::F64, 1e-10);
    println!("pool flex max error f32 {e32:.2e} f64 {e64:.2e}");
}

#[test]
fn interpolate_matches_pytorch_on_flex() {
    let e32 = check_interpolate(&Device::flex().autodiff(), DType::F32, 1e-5);
    let e64 = check_interpolate(&Device::flex().autodiff(), DType::F64, 1e-10);
    println!("interpolate flex max error f32 {e32:.2e} f64 {e64:.2e}");
}

#[test]
fn warp_matches_voxelmorph_on_flex() {
    let e32 = check_warp(&Device::flex().autodiff(), DType::F32, 1e-5);
    let e64 = check_warp(&Device::flex().autodiff(), DType::F64, 1e-10);
    println!("warp flex max error f32 {e32:.2e} f64 {e64:.2e}");
}

#[test]
fn pools_interpolate_and_warp_match_pytorch_on_wgpu() {
    let Some(gpu) = wgpu_device() else { return };
    let device = gpu.autodiff();
    let p = check_pool(&device, DType::F32, 1e-5);
    let i = check_interpolate(&device, DType::F32, 1e-5);
    let w = check_warp(&device, DType::F32, 1e-5);
    println!("wgpu max error pool {p:.2e} interpolate {i:.2e} warp {w:.2e}");
}
