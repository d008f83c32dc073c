//! Helpers shared by medburn-register's integration tests.
#![allow(dead_code)]

/// The repository's `tests/fixtures`, found from the package folder cargo gives the running
/// test (not the one the binary was built in: a shared target directory may hold a binary
/// built in another checkout).
pub fn fixtures_dir() -> std::path::PathBuf {
    let dir = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    std::path::Path::new(&dir).join("../../tests/fixtures")
}

/// The JSON fixture at `relative` under `tests/fixtures`.
pub fn json(relative: &str) -> serde_json::Value {
    let path = fixtures_dir().join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// A JSON array of numbers.
pub fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// A reproducible pseudo-random sequence in [0, 1) (a 64-bit LCG), so that no test draws
/// from an unseeded source.
pub fn uniform(seed: u64, len: usize) -> Vec<f64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        })
        .collect()
}
