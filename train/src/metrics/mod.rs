//! Metrics: Dice (segmentation) and SSIM and PSNR (reconstruction, super-resolution) on the
//! device, and the regression (MAE, RMSE, R²) and classification (accuracy, ROC AUC and
//! curve) metrics of whole-volume tasks on the host.
//!
//! Label maps are `Tensor<5, Int>` `[N, 1, D, H, W]` of class indices, as the losses take
//! them; [`argmax_labels`] turns logits into one.
//!
//! ```
//! use burn::tensor::{Device, Int, Tensor};
//! use medburn_train::metrics::{argmax_labels, dice_per_label, mean_dice};
//!
//! let device = Device::flex();
//! let logits = Tensor::<5>::zeros([2, 3, 4, 4, 4], &device);
//! let truth = Tensor::<5, Int>::zeros([2, 1, 4, 4, 4], &device);
//! let dice = dice_per_label(argmax_labels(logits), truth, 3, true)?;
//! assert_eq!(dice.dims(), [2, 3]);
//! // Background everywhere, predicted everywhere: 1; labels 1 and 2 absent: NaN, skipped.
//! assert_eq!(mean_dice(dice).into_scalar::<f32>(), 1.0);
//! # Ok::<(), medburn_train::losses::InputError>(())
//! ```

mod classification;
mod detection;
mod dice;
mod image_quality;
mod regression;

pub use classification::{accuracy, multiclass_auc, roc_auc, roc_curve};
pub use detection::detections;
pub use dice::{argmax_labels, dice_per_label, dice_per_label_with, mean_dice, per_label_means};
pub use image_quality::{psnr, ssim};
pub use regression::{mae, r2, rmse};

#[cfg(test)]
mod tests;
