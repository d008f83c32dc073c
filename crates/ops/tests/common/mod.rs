//! Helpers shared by the medburn-ops integration tests: fixtures, tensors, comparisons.
#![allow(dead_code)]

use burn::tensor::{DType, Device, Tensor, TensorData};
use serde_json::Value;

/// The repository's `tests/fixtures`, found from the package folder cargo gives the running
/// test (not the one the binary was built in: a shared target directory may hold a binary built
/// in another checkout).
pub fn fixtures_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
    .join("../../tests/fixtures")
}

/// The cases of `tests/fixtures/torch/<name>.json` (made by tests/scripts/make_torch_fixtures.py).
pub fn torch_cases(name: &str) -> Vec<Value> {
    let path = fixtures_dir().join(format!("torch/{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let v: Value = serde_json::from_str(&text).unwrap();
    v["cases"].as_array().unwrap().clone()
}

pub fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

pub fn usizes<const D: usize>(v: &Value) -> [usize; D] {
    let v: Vec<usize> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect();
    v.try_into().unwrap()
}

/// A tensor of `shape` from fixture values, in `dtype` on `device`.
pub fn tensor<const D: usize>(
    v: &Value,
    shape: [usize; D],
    device: &Device,
    dtype: DType,
) -> Tensor<D> {
    Tensor::from_data(TensorData::new(floats(v), shape), (device, dtype))
}

pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    let t = t.cast(DType::F64);
    t.into_data().try_to_vec::<f64>().unwrap()
}

/// Largest `|a - b| / max(1, |b|)`.
pub fn max_error(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / y.abs().max(1.0))
        .fold(0.0, f64::max)
}

/// Asserts `a` matches `b` within `tol` (relative above 1, absolute below).
pub fn assert_close(what: &str, a: &[f64], b: &[f64], tol: f64) {
    let e = max_error(a, b);
    assert!(e <= tol, "{what}: max error {e:.3e} > {tol:.0e}");
}

/// The wgpu device (Mesa's software Vulkan in CI), or `None` after one line saying the test is
/// skipped because this machine has no adapter.
pub fn wgpu_device() -> Option<Device> {
    let test = std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_string();
    medburn_core::wgpu_device_or_skip(&test)
}

thread_local! {
    /// Draws so far on this test's thread: each test runs on its own thread, so a test's inputs
    /// depend on nothing but the test.
    static DRAWS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Uniform values in `[lo, hi)` from a ChaCha8 stream seeded by the test's own draw count, so
/// a failure reproduces whatever order the tests run in and whatever the backend's RNG does.
pub fn seeded_uniform<const D: usize>(shape: [usize; D], lo: f64, hi: f64) -> TensorData {
    use rand::{Rng, SeedableRng};
    let seed = DRAWS.with(|d| {
        let s = d.get();
        d.set(s + 1);
        s
    });
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x5eed_0000 + seed);
    let n = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.random_range(lo..hi) as f32).collect();
    TensorData::new(v, shape)
}
