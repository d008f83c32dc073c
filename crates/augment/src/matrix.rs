//! 4x4 homogeneous matrices on the host, in f64: every spatial transform of a chain is drawn as
//! one, and they are multiplied together before anything touches the device, so a chain is one
//! interpolation (compose first, sample once).

use medburn_core::vec3::mat3_inverse;
use medburn_core::Geometry;

/// A row-major 4x4 homogeneous matrix (last row `0 0 0 1`). As a physical transform it maps an
/// output point to the input point it reads (ITK's convention, as `medburn_spatial::transform`);
/// as a voxel matrix, an output voxel index `(i, j, k)` to an input voxel index.
///
/// ```
/// let m: medburn_augment::Matrix4 = medburn_augment::IDENTITY;
/// assert_eq!(m[3], [0.0, 0.0, 0.0, 1.0]);
/// ```
pub type Matrix4 = [[f64; 4]; 4];

/// The identity [`Matrix4`].
///
/// ```
/// assert_eq!(medburn_augment::IDENTITY[1][1], 1.0);
/// ```
pub const IDENTITY: Matrix4 = [
    [1.0, 0.0, 0.0, 0.0],
    [0.0, 1.0, 0.0, 0.0],
    [0.0, 0.0, 1.0, 0.0],
    [0.0, 0.0, 0.0, 1.0],
];

/// The composition `p -> outer(inner(p))` of two output-to-input maps: `inner` is applied to the
/// output point first. For content moved first by `a` then by `b`, the map resampling needs is
/// `compose_transforms(&a_map, &b_map)` (the inverse of the second motion is applied first).
///
/// ```
/// use medburn_augment::{compose_transforms, IDENTITY};
/// let mut shift = IDENTITY;
/// shift[0][3] = 2.0;
/// assert_eq!(compose_transforms(&shift, &shift)[0][3], 4.0);
/// ```
pub fn compose_transforms(outer: &Matrix4, inner: &Matrix4) -> Matrix4 {
    let mut m = [[0.0; 4]; 4];
    for (r, row) in m.iter_mut().enumerate() {
        for (c, v) in row.iter_mut().enumerate() {
            *v = (0..4).map(|k| outer[r][k] * inner[k][c]).sum();
        }
    }
    m
}

/// `[[a, t], [0, 1]]`.
pub(crate) fn from_parts(a: [[f64; 3]; 3], t: [f64; 3]) -> Matrix4 {
    let mut m = IDENTITY;
    for r in 0..3 {
        m[r][..3].copy_from_slice(&a[r]);
        m[r][3] = t[r];
    }
    m
}

/// `p -> centre + a (p - centre)`.
pub(crate) fn about_centre(a: [[f64; 3]; 3], centre: [f64; 3]) -> Matrix4 {
    let t = std::array::from_fn(|r| centre[r] - (0..3).map(|k| a[r][k] * centre[k]).sum::<f64>());
    from_parts(a, t)
}

/// The voxel index -> physical point map of `g`.
fn index_to_physical(g: &Geometry) -> Matrix4 {
    from_parts(g.index_to_physical_matrix(), g.origin())
}

/// The physical point -> voxel index map of `g`.
fn physical_to_index(g: &Geometry) -> Matrix4 {
    let inv = g.physical_to_index_matrix();
    let o = g.origin();
    let t = std::array::from_fn(|r| -(0..3).map(|k| inv[r][k] * o[k]).sum::<f64>());
    from_parts(inv, t)
}

/// The voxel matrix of a physical transform on `g` (input and output grids both `g`).
pub(crate) fn physical_to_voxel(g: &Geometry, physical: &Matrix4) -> Matrix4 {
    if *physical == IDENTITY {
        // Exactly the identity: round-off must not make an untouched sample interpolate.
        return IDENTITY;
    }
    compose_transforms(
        &physical_to_index(g),
        &compose_transforms(physical, &index_to_physical(g)),
    )
}

/// The physical transform of a voxel matrix on `g`.
pub(crate) fn voxel_to_physical(g: &Geometry, voxel: &Matrix4) -> Matrix4 {
    if *voxel == IDENTITY {
        return IDENTITY;
    }
    compose_transforms(
        &index_to_physical(g),
        &compose_transforms(voxel, &physical_to_index(g)),
    )
}

/// Whether every entry is finite.
pub(crate) fn is_finite(m: &Matrix4) -> bool {
    m.iter().flatten().all(|v| v.is_finite())
}

/// The inverse of an affine [`Matrix4`], or `None` when its linear part is singular.
///
/// ```
/// use medburn_augment::{compose_transforms, invert, IDENTITY};
/// let mut m = IDENTITY;
/// (m[0][0], m[0][3], m[1][2]) = (2.0, 3.0, 1.0);
/// let back = compose_transforms(&invert(&m).unwrap(), &m);
/// assert!(back.iter().flatten().zip(IDENTITY.iter().flatten()).all(|(a, b)| (a - b).abs() < 1e-12));
/// ```
pub fn invert(m: &Matrix4) -> Option<Matrix4> {
    let a: [[f64; 3]; 3] = std::array::from_fn(|r| std::array::from_fn(|c| m[r][c]));
    let inv = mat3_inverse(&a)?;
    let t = std::array::from_fn(|r| -(0..3).map(|k| inv[r][k] * m[k][3]).sum::<f64>());
    Some(from_parts(inv, t))
}
