//! The error of registration: inputs or options that do not fit together.

use medburn_ops::OpsError;
use medburn_spatial::SpatialError;

/// Images, fields or options that do not fit together. Found from shapes and options alone:
/// nothing is read back from the device.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_register::{LocalNormalizedCrossCorrelationLossConfig, RegistrationError};
///
/// let device = Device::flex();
/// let loss = LocalNormalizedCrossCorrelationLossConfig::new().init();
/// let (a, b) = (Tensor::<5>::zeros([1, 1, 4, 4, 4], &device), Tensor::<5>::zeros([1, 1, 4, 4, 5], &device));
/// assert!(matches!(loss.forward(a, b), Err(RegistrationError::Shape(_))));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    /// Shapes that disagree, or are too small for the operation.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// An option out of its range.
    #[error("invalid option: {0}")]
    Option(String),
    /// An op underneath refused its input.
    #[error(transparent)]
    Ops(#[from] OpsError),
    /// A resampling underneath refused its input.
    #[error(transparent)]
    Spatial(#[from] SpatialError),
    /// A file could not be read or written, or does not hold what it should.
    #[error("{0}")]
    File(String),
    /// Values could not be read back from the device.
    #[error("reading values back: {0}")]
    Readback(String),
}

/// The result of registration functions.
pub type Result<T> = std::result::Result<T, RegistrationError>;
