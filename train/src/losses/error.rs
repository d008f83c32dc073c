//! The error of the losses and metrics: inputs that do not fit together.

/// Logits, label maps or options that do not fit together. Found from shapes and options
/// alone: nothing is read back from the device.
///
/// ```
/// use burn::tensor::{Device, Int, Tensor};
/// use medburn_train::losses::{DiceCeLossConfig, InputError};
///
/// let device = Device::flex();
/// let loss = DiceCeLossConfig::new().init();
/// let logits = Tensor::<5>::zeros([1, 3, 2, 2, 2], &device);
/// let labels = Tensor::<5, Int>::zeros([1, 1, 2, 2, 3], &device); // another size
/// assert!(matches!(loss.forward(logits, labels), Err(InputError::Shape(_))));
/// # Ok::<(), InputError>(())
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InputError {
    /// Shapes that disagree (logits `[N, C, D, H, W]` with `C >= 2`, labels `[N, 1, D, H, W]`).
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// An option out of its range.
    #[error("invalid option: {0}")]
    Option(String),
}
