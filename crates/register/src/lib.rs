//! Image registration on medburn's ops, on any Burn device and differentiable throughout:
//! similarity losses between a warped moving image and a fixed image, and regularizers of a
//! displacement field, each with MONAI's parameter names, defaults and values.
//!
//! - [`LocalNormalizedCrossCorrelationLoss`] (MONAI `LocalNormalizedCrossCorrelationLoss`):
//!   same-contrast pairs, robust to smooth intensity changes.
//! - [`GlobalMutualInformationLoss`] (MONAI `GlobalMutualInformationLoss`): pairs of different
//!   contrasts (T1 to T2, MR to CT), by Parzen-window joint histograms.
//! - [`BendingEnergyLoss`] and [`DiffusionLoss`] (MONAI's): second- and first-order
//!   smoothness of a dense displacement field `[N, 3, D, H, W]`.
//! - [`register_affine`]: affine registration of two images in physical space (any grids),
//!   by Adam on a resolution pyramid with one of these losses.
//! - [`metrics`]: Jacobian determinants of a displacement field (folding, SDlogJ).
//! - [`ItkAffine`]: ITK transform files (`.tfm`), as SimpleITK writes and reads them.
//!
//! ```
//! use burn::tensor::{Device, Distribution, Tensor};
//! use medburn_register::{DiffusionLossConfig, LocalNormalizedCrossCorrelationLossConfig};
//!
//! let device = Device::flex().autodiff();
//! let fixed = Tensor::<5>::random([1, 1, 8, 8, 8], Distribution::Default, &device);
//! let moving = Tensor::<5>::random([1, 1, 8, 8, 8], Distribution::Default, &device).require_grad();
//! let ddf = Tensor::<5>::zeros([1, 3, 8, 8, 8], &device).require_grad();
//! let similarity = LocalNormalizedCrossCorrelationLossConfig::new().init();
//! let smoothness = DiffusionLossConfig::new().init();
//! let loss = similarity.forward(moving.clone(), fixed.clone())? + smoothness.forward(ddf.clone())?;
//! let grads = loss.backward();
//! assert!(moving.grad(&grads).is_some() && ddf.grad(&grads).is_some());
//! // An image against itself: the local correlation is perfect, the loss -1.
//! let self_loss = similarity.forward(fixed.clone(), fixed)?.into_scalar::<f32>();
//! assert!((self_loss + 1.0).abs() < 1e-3);
//! # Ok::<(), medburn_register::RegistrationError>(())
//! ```

mod affine;
mod checkerboard;
mod deformable;
mod error;
mod itk_transform;
pub mod losses;
pub mod metrics;
mod outputs;
mod stage;
mod transform;

pub use affine::{
    register_affine, register_affine_with_progress, AffineRegistration, AffineRegistrationConfig,
    Initialization, LevelReport, Similarity, StepProgress, TransformModel,
};
pub use checkerboard::write_checkerboard_png;
pub use deformable::{
    level_steps as deformable_level_steps, register_deformable, register_deformable_with_progress,
    DeformableRegistration, DeformableRegistrationConfig, Regularizer,
};
pub use error::{RegistrationError, Result};
pub use itk_transform::ItkAffine;
pub use losses::{
    BendingEnergyLoss, BendingEnergyLossConfig, DiffusionLoss, DiffusionLossConfig,
    GlobalMutualInformationLoss, GlobalMutualInformationLossConfig, KernelType,
    LocalNormalizedCrossCorrelationLoss, LocalNormalizedCrossCorrelationLossConfig, ParzenWindow,
    Reduction,
};
pub use outputs::{Landmarks, RegistrationOutputs, METRICS_FILE, WARPED_FILE, WARPED_LABEL_FILE};
pub use transform::{
    resample_through, DisplacementField, RegistrationTransform, AFFINE_FILE, DISPLACEMENT_FILE,
};
