//! Three-vector arithmetic for geometry (physical points, directions, normals), in f64: the
//! one home for the dot, cross and norm that NIfTI, DICOM, the spatial transforms and the
//! synthetic anatomy all need.
//!
//! ```
//! use medburn_core::vec3;
//! let (x, y) = ([1.0, 0.0, 0.0], [0.0, 1.0, 0.0]);
//! assert_eq!(vec3::cross(x, y), [0.0, 0.0, 1.0]);
//! assert_eq!(vec3::dot(x, y), 0.0);
//! assert_eq!(vec3::norm([3.0, 4.0, 0.0]), 5.0);
//! ```

/// `a . b`.
pub fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// `a x b` (right-handed).
pub fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// Euclidean length.
pub fn norm(a: [f64; 3]) -> f64 {
    dot(a, a).sqrt()
}

/// `a + b`.
pub fn add(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

/// `a - b`.
pub fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

/// `s a`.
pub fn scale(a: [f64; 3], s: f64) -> [f64; 3] {
    [a[0] * s, a[1] * s, a[2] * s]
}

/// Column `c` of the upper 3x3 (or the translation, `c = 3`) of a 4x4 affine.
pub fn column(m: &[[f64; 4]; 4], c: usize) -> [f64; 3] {
    [m[0][c], m[1][c], m[2][c]]
}
