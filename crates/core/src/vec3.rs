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

/// `m v` for a 3x3 matrix (rows).
///
/// ```
/// assert_eq!(medburn_core::vec3::mat3_apply(&[[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], [1.0, 2.0, 3.0]), [2.0, 2.0, 3.0]);
/// ```
pub fn mat3_apply(m: &[[f64; 3]; 3], v: [f64; 3]) -> [f64; 3] {
    [0, 1, 2].map(|r| m[r][0] * v[0] + m[r][1] * v[1] + m[r][2] * v[2])
}

/// `a b` for 3x3 matrices.
///
/// ```
/// let a = [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]];
/// assert_eq!(medburn_core::vec3::mat3_mul(&a, &a)[0], [1.0, 0.0, 0.0]);
/// ```
pub fn mat3_mul(a: &[[f64; 3]; 3], b: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    std::array::from_fn(|r| std::array::from_fn(|c| (0..3).map(|k| a[r][k] * b[k][c]).sum()))
}

/// The inverse of a 3x3 matrix (transposed cofactors over the determinant), or `None` when it
/// is singular or not finite.
///
/// ```
/// let m = [[2.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 1.0, 1.0]];
/// let inv = medburn_core::vec3::mat3_inverse(&m).unwrap();
/// assert_eq!(inv[0][0], 0.5);
/// assert!(medburn_core::vec3::mat3_inverse(&[[0.0; 3]; 3]).is_none());
/// ```
pub fn mat3_inverse(m: &[[f64; 3]; 3]) -> Option<[[f64; 3]; 3]> {
    let cofactor = |r: usize, c: usize| {
        let (r1, r2) = ((r + 1) % 3, (r + 2) % 3);
        let (c1, c2) = ((c + 1) % 3, (c + 2) % 3);
        m[r1][c1] * m[r2][c2] - m[r1][c2] * m[r2][c1]
    };
    let det: f64 = (0..3).map(|c| m[0][c] * cofactor(0, c)).sum();
    if det == 0.0 || !det.is_finite() {
        return None;
    }
    let inv_det = 1.0 / det;
    Some(std::array::from_fn(|r| {
        std::array::from_fn(|c| cofactor(c, r) * inv_det)
    }))
}
