//! Errors of the spatial transforms.

use medburn_core::{GeometryError, ImageError};
use medburn_ops::OpsError;

/// A transform could not be applied.
///
/// ```
/// use medburn_spatial::SpatialError;
/// let e = SpatialError::Invalid("crop: start [9, 0, 0] is outside the image of size [4, 4, 4]".into());
/// assert!(e.to_string().starts_with("crop:"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum SpatialError {
    /// An argument the transform cannot use (the message names the transform).
    #[error("{0}")]
    Invalid(String),
    /// The resulting geometry is invalid.
    #[error(transparent)]
    Geometry(#[from] GeometryError),
    /// The image could not be built or read.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// The sampling op refused its arguments.
    #[error(transparent)]
    Ops(#[from] OpsError),
}

/// Shorthand for the transforms' results.
pub type Result<T> = core::result::Result<T, SpatialError>;
