//! Random augmentation of `[N, C, D, H, W]` batches on the training device.
//!
//! Parameters are drawn apart from their application (TorchIO v2, Kornia): every transform has
//! `sample(&self, rng, batch) -> Params` on the host, from any [`rand::Rng`] (training uses
//! `rand_chacha::ChaCha8Rng`, whose seed and word position make a run resumable), and
//! `apply(&self, &Params, ..)` on the device. Params are plain serde data: a batch can be logged
//! and replayed exactly.
//!
//! Compose first, sample once: [`RandomAffine`] (rotation, scaling, translation about the patch
//! centre, in physical space) and [`RandomFlip`] are composed on the host, in f64, into one
//! matrix per sample, applied by one sampling call for the image (trilinear) and one for the
//! label (nearest): a chain is one interpolation. [`RandomGaussianNoise`] and [`RandomGamma`]
//! then change the image only. [`AugmentConfig`] holds the set, with brain-MR defaults, and is
//! what a TOML training config carries.
//!
//! | transform | as | default |
//! |---|---|---|
//! | [`RandomAffine`] | MONAI `RandAffine`, TorchIO `RandomAffine` | p 0.2, +-15 deg/axis, scale 0.85-1.15 isotropic, +-5 mm, zero padding |
//! | [`RandomFlip`] | TorchIO `RandomFlip`, nnU-Net mirroring | p 0.5 per axis, voxel axis `i` (left-right) only |
//! | [`RandomGaussianNoise`] | MONAI `RandGaussianNoise` | p 0.15, mean 0, std uniform in [0, 0.1] |
//! | [`RandomGamma`] | MONAI `RandAdjustContrast` | p 0.3, gamma uniform in [0.7, 1.5] |
//!
//! Labels are float class indices `[N, 1, D, H, W]` (the sampling op takes floats; class
//! indices below 2^24 are exact in f32): convert an Int label batch with `.float()` before and
//! `.int()` after. Nearest interpolation never makes a new label value, and voxels moved in from
//! outside the patch are 0 (background). Without a geometry, a patch has unit spacing and the
//! identity direction; `apply_with_geometry` takes the patch's real one.
//!
//! ```
//! use burn::tensor::{Device, Tensor};
//! use medburn_augment::AugmentConfig;
//! use rand::SeedableRng;
//!
//! let config: AugmentConfig = AugmentConfig::default();
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
//! let device = Device::flex();
//! let image = Tensor::<5>::random([2, 1, 8, 8, 8], burn::tensor::Distribution::Default, &device);
//! let label = image.clone().greater_elem(0.5).float();
//! let params = config.sample(&mut rng, 2); // host: cheap, reproducible
//! let (image, label) = config.apply(&params, image, Some(label))?; // device
//! assert_eq!(image.dims(), [2, 1, 8, 8, 8]);
//! # Ok::<(), medburn_augment::AugmentError>(())
//! ```

#![warn(missing_docs)]

mod affine;
mod chain;
mod error;
mod flip;
mod intensity;
mod matrix;
mod random;
mod resample;

pub use affine::{AffineParams, AffineSample, RandomAffine};
pub use chain::{AugmentConfig, AugmentParams};
pub use error::{AugmentError, Result};
pub use flip::{FlipParams, RandomFlip};
pub use intensity::gamma::{GammaParams, RandomGamma, GAMMA_EPSILON};
pub use intensity::noise::{NoiseParams, NoiseSample, RandomGaussianNoise};
pub use matrix::{compose_transforms, Matrix4, IDENTITY};
pub use resample::{resample_batch, ImagePadding};
