//! Shared helpers of medburn's end-to-end tests: fixture paths and the
//! reference values that `tests/scripts/make_fixtures.py` wrote from nibabel,
//! SimpleITK and pydicom.

use std::path::PathBuf;

use serde_json::Value;

/// `tests/fixtures`, found from the package folder cargo gives the running test (not the one
/// the binary was built in: a shared target directory may hold a binary built in another
/// checkout).
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
    .join("fixtures")
}

/// `tests/fixtures/data`.
pub fn data_dir() -> PathBuf {
    fixtures_dir().join("data")
}

/// The entries of `tests/fixtures/reference.json`.
pub fn reference_entries() -> Vec<Value> {
    let path = fixtures_dir().join("reference.json");
    let text = std::fs::read_to_string(&path)
        .expect("tests/fixtures/reference.json (run tests/scripts/make_fixtures.py)");
    let v: Value = serde_json::from_str(&text).expect("reference.json is JSON");
    v["files"].as_array().expect("files array").clone()
}

/// A JSON array of numbers as f64.
pub fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect())
        .unwrap_or_default()
}

/// Largest absolute difference between two equally long lists (infinite if lengths differ).
pub fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    if a.len() != b.len() {
        return f64::INFINITY;
    }
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}
