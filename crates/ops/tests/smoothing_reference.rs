//! Gaussian smoothing against `scipy.ndimage.gaussian_filter` (tests/fixtures/scipy_gaussian.json,
//! made by tests/scripts/make_smoothing_fixture.py), on Flex in f64 and on wgpu in f32.

mod common;

use burn::tensor::{DType, Device};
use common::*;
use medburn_ops::*;

fn check(device: &Device, dtype: DType, tol: f64) -> f64 {
    let path = fixtures_dir().join("scipy_gaussian.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut worst = 0.0f64;
    for case in v["cases"].as_array().unwrap() {
        let padding = match case["padding"].as_str().unwrap() {
            "zeros" => Padding::Zeros,
            "border" => Padding::Border,
            _ => Padding::Reflection,
        };
        let s = floats(&case["sigma"]);
        let x = tensor::<5>(&case["input"], usizes(&case["input_shape"]), device, dtype);
        let y = values(gaussian_smooth_3d(x, [s[0], s[1], s[2]], padding).unwrap());
        let want = floats(&case["output"]);
        assert_close(&format!("{padding:?} sigma {s:?}"), &y, &want, tol);
        worst = worst.max(max_error(&y, &want));
    }
    worst
}

#[test]
fn smoothing_matches_scipy() {
    let e64 = check(&Device::flex(), DType::F64, 1e-12);
    let Some(gpu) = wgpu_device() else { return };
    let e32 = check(&gpu, DType::F32, 1e-5);
    println!("gaussian_smooth_3d vs scipy: f64 Flex {e64:.2e}, f32 wgpu {e32:.2e}");
}
