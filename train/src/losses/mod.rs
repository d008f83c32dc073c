//! Losses for segmentation, as MONAI's.
//!
//! Conventions: logits are `Tensor<5>` `[N, C, D, H, W]` with `C >= 2` classes (the raw
//! network output: softmax is applied inside); labels are a `Tensor<5, Int>`
//! `[N, 1, D, H, W]` of class indices in `0..C` (MONAI's `to_onehot_y=True` input). Every
//! loss is a one-element tensor, differentiable with respect to the logits. Shapes and
//! options are checked ([`InputError`]); label values are not (that would read them back
//! from the device): one outside `0..C` belongs to no class.
//!
//! ```
//! use burn::tensor::{Device, Int, Tensor};
//! use medburn_train::losses::DiceCeLossConfig;
//!
//! let device = Device::flex().autodiff();
//! let loss_fn = DiceCeLossConfig::new().with_include_background(false).init();
//! let logits = Tensor::<5>::zeros([2, 3, 4, 4, 4], &device).require_grad();
//! let labels = Tensor::<5, Int>::ones([2, 1, 4, 4, 4], &device);
//! let loss = loss_fn.forward(logits.clone(), labels)?;
//! let grads = loss.backward();
//! assert!(logits.grad(&grads).is_some());
//! # Ok::<(), medburn_train::losses::InputError>(())
//! ```

mod check;
mod cross_entropy;
mod dice;
mod dice_ce;
mod error;
mod one_hot;

pub use cross_entropy::cross_entropy;
pub use dice::{DiceLoss, DiceLossConfig};
pub use dice_ce::{DiceCeLoss, DiceCeLossConfig};
pub use error::InputError;
pub use one_hot::one_hot;
pub(crate) use one_hot::one_hot_int;

#[cfg(test)]
pub(crate) mod tests;
