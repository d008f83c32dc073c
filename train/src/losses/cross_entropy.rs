//! Cross-entropy over voxels, as the CE part of MONAI's `DiceCELoss`.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor};

use super::check::{logits_and_labels, non_negative};
use super::{one_hot, InputError};

/// Mean cross-entropy over all voxels of logits `[N, C, D, H, W]` (`C >= 2`) against a
/// label map `[N, 1, D, H, W]` of class indices in `0..C`, as PyTorch's
/// `CrossEntropyLoss(label_smoothing=...)` on the squeezed labels, the CE part of MONAI's
/// `DiceCELoss` (background always included). With smoothing `ε` each voxel's loss is
/// `-(1 - ε) log p_label - ε/C Σ_c log p_c`.
///
/// ```
/// use burn::tensor::{Device, Int, Tensor};
/// use medburn_train::losses::cross_entropy;
///
/// let device = Device::flex();
/// let logits = Tensor::<5>::zeros([1, 4, 1, 2, 2], &device);
/// let labels = Tensor::<5, Int>::from_data([[[[[0, 1], [2, 3]]]]], &device);
/// // Uniform predictions: log 4 per voxel.
/// let ce = cross_entropy(logits, labels, 0.0)?.into_scalar::<f32>();
/// assert!((ce - 4f32.ln()).abs() < 1e-6);
/// # Ok::<(), medburn_train::losses::InputError>(())
/// ```
pub fn cross_entropy(
    logits: Tensor<5>,
    labels: Tensor<5, Int>,
    label_smoothing: f64,
) -> Result<Tensor<1>, InputError> {
    let c = logits_and_labels(&logits, &labels)?;
    non_negative("label_smoothing", label_smoothing)?;
    if label_smoothing > 1.0 {
        return Err(InputError::Option(format!(
            "label_smoothing must be in [0, 1], got {label_smoothing}"
        )));
    }
    Ok(cross_entropy_of(
        log_softmax(logits, 1),
        one_hot(labels, c)?,
        label_smoothing,
    ))
}

/// [`cross_entropy`] from the log-probabilities and the one-hot targets, both `[N, C, D, H,
/// W]`, checked by the caller.
pub(crate) fn cross_entropy_of(log_p: Tensor<5>, t: Tensor<5>, label_smoothing: f64) -> Tensor<1> {
    let c = t.dims()[1];
    let target = if label_smoothing > 0.0 {
        t * (1.0 - label_smoothing) + label_smoothing / c as f64
    } else {
        t
    };
    // Σ over classes, mean over voxels (N·D·H·W of them).
    let per_voxel = (log_p * target).sum_dim(1);
    per_voxel.mean().neg()
}
