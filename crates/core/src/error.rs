use thiserror::Error;

/// Why a geometry (size, origin, spacing, direction) or an orientation code is invalid.
///
/// ```
/// use medburn_core::{Direction, Geometry, GeometryError};
///
/// let err = Geometry::new([0, 4, 4], [0.0; 3], [1.0; 3], Direction::identity()).unwrap_err();
/// assert!(matches!(err, GeometryError::ZeroSize { axis: 0 }));
/// ```
#[derive(Debug, Clone, PartialEq, Error)]
pub enum GeometryError {
    /// An axis has no voxels.
    #[error("size along axis {axis} is zero")]
    ZeroSize {
        /// The axis (0 = i, 1 = j, 2 = k).
        axis: usize,
    },
    /// A spacing is zero, negative, NaN or infinite.
    #[error("spacing along axis {axis} is {value}: it must be positive and finite")]
    BadSpacing {
        /// The axis (0 = i, 1 = j, 2 = k).
        axis: usize,
        /// The offending value.
        value: f64,
    },
    /// An origin coordinate is NaN or infinite.
    #[error("origin coordinate {axis} is {value}: it must be finite")]
    BadOrigin {
        /// The world axis (0 = x, 1 = y, 2 = z).
        axis: usize,
        /// The offending value.
        value: f64,
    },
    /// The direction matrix is not orthonormal (or holds NaN).
    #[error("direction matrix is not orthonormal (largest deviation of D^T D from I is {deviation:.3e}, tolerance {tolerance:.1e}): {matrix:?}")]
    NotOrthonormal {
        /// The matrix, row-major (boxed: keeps every error small).
        matrix: Box<[f64; 9]>,
        /// max |(D^T D - I)_ij|.
        deviation: f64,
        /// The tolerance it was checked against.
        tolerance: f64,
    },
    /// The direction matrix is singular (two axes point the same way).
    #[error("direction matrix is singular (determinant {determinant:.3e})")]
    Singular {
        /// Its determinant.
        determinant: f64,
    },
    /// An orientation code that does not name three distinct world axes.
    #[error("invalid orientation code {code:?}: {reason}")]
    BadOrientation {
        /// The code as given.
        code: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Why a `MedImage` (or a host volume) could not be built.
///
/// ```
/// use medburn_core::{Device, Geometry, ImageError, MedImage};
/// let g = Geometry::unit([2, 2, 2])?;
/// let err = MedImage::from_vec(vec![0.0; 7], 1, g, &Device::flex()).unwrap_err();
/// assert!(matches!(err, ImageError::LengthMismatch { expected: 8, got: 7 }));
/// # Ok::<(), medburn_core::GeometryError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ImageError {
    /// The voxel tensor's shape is not `[1, C, k, j, i]` for the geometry's size.
    #[error("voxel tensor has shape {got:?}, but the geometry needs [1, C, {}, {}, {}]", size[2], size[1], size[0])]
    ShapeMismatch {
        /// The tensor's shape.
        got: Vec<usize>,
        /// The geometry's `[i, j, k]`.
        size: [usize; 3],
    },
    /// A flat buffer's length is not `C * i * j * k`.
    #[error("voxel buffer holds {got} values, but {expected} are needed")]
    LengthMismatch {
        /// `C * i * j * k`.
        expected: usize,
        /// What was given.
        got: usize,
    },
    /// The geometry is invalid.
    #[error(transparent)]
    Geometry(#[from] GeometryError),
    /// Reading the voxels back from the device failed.
    #[error("could not read voxels from the device: {0}")]
    Readback(String),
    /// An output would not fit in memory: its size is computed before anything is allocated
    /// (see [`crate::limits`]).
    #[error("{what} would need {bytes} bytes ({:.1} GiB), above the limit of {limit} bytes ({:.1} GiB, this machine's memory; set MEDBURN_MAX_BYTES to change it)", *bytes as f64 / (1u64 << 30) as f64, *limit as f64 / (1u64 << 30) as f64)]
    TooLarge {
        /// What would be made (names the operation and its size).
        what: String,
        /// Bytes it would need.
        bytes: u128,
        /// The limit.
        limit: u64,
    },
}
