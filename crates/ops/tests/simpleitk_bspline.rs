//! B-spline sampling against SimpleITK's `Resample(.., sitkBSpline)` of the same volume and
//! affine (tests/fixtures/sitk_bspline.json, made by tests/scripts/make_bspline_fixture.py), on
//! Flex (f32, f64) and wgpu.

mod common;

use burn::tensor::{DType, Device, Tensor, TensorData};
use common::*;
use medburn_ops::*;

fn check(device: &Device, dtype: DType, tol: f64) -> f64 {
    let path = fixtures_dir().join("sitk_bspline.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut worst = 0.0f64;
    for case in v["cases"].as_array().unwrap() {
        let x = tensor::<5>(&case["input"], usizes(&case["input_shape"]), device, dtype);
        let m = Tensor::<3>::from_data(
            TensorData::new(floats(&case["matrix"]), [1, 3, 4]),
            (device, dtype),
        );
        let o = SampleOptions::new(Interpolation::BSpline);
        let y = values(voxel_affine_sample_3d(x, m, usizes(&case["output_size"]), o).unwrap());
        let want = floats(&case["output"]);
        let range = want.iter().cloned().fold(f64::MIN, f64::max)
            - want.iter().cloned().fold(f64::MAX, f64::min);
        let err = y
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max)
            / range;
        assert!(
            err < tol,
            "{}: max error {err:.2e} of the value range",
            case["name"]
        );
        worst = worst.max(err);
    }
    worst
}

#[test]
fn bspline_matches_simpleitk_on_flex() {
    let e64 = check(&Device::flex(), DType::F64, 1e-6);
    let e32 = check(&Device::flex(), DType::F32, 1e-5);
    println!("B-spline vs SimpleITK, max error / value range: f64 {e64:.2e}, f32 {e32:.2e}");
}

#[test]
fn bspline_matches_simpleitk_on_wgpu() {
    let Some(gpu) = wgpu_device() else { return };
    let e = check(&gpu, DType::F32, 1e-5);
    println!("B-spline vs SimpleITK on wgpu, max error / value range: {e:.2e}");
}
