//! Shape checks shared by the losses and metrics.

use burn::tensor::{Int, Tensor};

use super::InputError;

/// Logits `[N, C, D, H, W]` with `C >= 2` and labels `[N, 1, D, H, W]`; returns `C`.
pub(crate) fn logits_and_labels(
    logits: &Tensor<5>,
    labels: &Tensor<5, Int>,
) -> Result<usize, InputError> {
    let [n, c, d, h, w] = logits.dims();
    if c < 2 {
        return Err(InputError::Shape(format!(
            "logits need at least 2 channels (classes), got {:?}",
            logits.dims()
        )));
    }
    if labels.dims() != [n, 1, d, h, w] {
        return Err(InputError::Shape(format!(
            "labels {:?} do not match logits {:?}: expected [{n}, 1, {d}, {h}, {w}]",
            labels.dims(),
            logits.dims()
        )));
    }
    Ok(c)
}

/// A smoothing term or weight: finite and not negative.
pub(crate) fn non_negative(name: &str, value: f64) -> Result<(), InputError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(InputError::Option(format!(
            "{name} must be finite and >= 0, got {value}"
        )))
    }
}
