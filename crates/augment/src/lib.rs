//! Random augmentation of `[N, C, D, H, W]` batches on the training device.
//!
//! Parameters are drawn apart from their application (TorchIO, Kornia): a [`Pipeline`] draws
//! everything for a batch on the host ([`Pipeline::sample`], from any RNG; training uses
//! `rand_chacha::ChaCha8Rng`, whose seed and word position make a run resumable) into
//! [`PipelineParams`], plain serde data that can be logged and replayed, and applies it on the
//! device ([`Pipeline::apply`]) to the whole batch with per-sample values.
//!
//! Compose first, sample once: a run of spatial transforms (affine, elastic, flip, 90-degree
//! rotation, crop) is composed on the host into one map per sample, matrices multiplied in f64,
//! an elastic displacement kept as its B-spline control grid, and the image is read once through
//! it: one interpolation, however long the chain. Labels take the same map (nearest, or one-hot
//! linear then arg-max); image-only transforms never touch them. [`Pipeline::invert`] undoes the
//! spatial part on a prediction (test-time augmentation).
//!
//! | `type` | as | default |
//! |---|---|---|
//! | `affine` ([`RandomAffine`]) | MONAI `RandAffine`, TorchIO `RandomAffine` | p 0.2, +-15 deg/axis, scale 0.85-1.15 isotropic, no shear, +-5 mm |
//! | `elastic` ([`RandomElastic`]) | TorchIO `RandomElasticDeformation` | p 0.2, control points every 24 mm, up to 6 mm, borders locked |
//! | `flip` ([`RandomFlip`]) | TorchIO `RandomFlip`, nnU-Net mirroring | p 0.5 per axis, voxel axis `i` only |
//! | `rot90` ([`RandomRot90`]) | MONAI `RandRotate90` | p 0.1, 1-3 quarter turns in the `i, j` plane |
//! | `crop` ([`RandomCrop`]) | TorchIO `RandomCrop`, MONAI `RandSpatialCrop` | always, fixed size |
//! | `anisotropy` ([`RandomAnisotropy`]) | TorchIO `RandomAnisotropy` | p 0.1, factor 1.5-5 along one axis |
//! | `low_resolution` ([`RandomLowResolution`]) | nnU-Net `SimulateLowResolution` | p 0.25, zoom 0.5-1 |
//! | `rescale` ([`RescaleIntensity`]) | TorchIO `RescaleIntensity` | to [0, 1] by min and max |
//! | `z_normalize` ([`ZNormalize`]) | TorchIO `ZNormalization`, MONAI `NormalizeIntensity` | whole sample |
//! | `clip_percentiles` ([`ClipPercentiles`]) | nnU-Net CT clipping | 0.5 to 99.5 |
//! | `gamma` ([`RandomGamma`]) | MONAI `RandAdjustContrast` | p 0.3, 0.7-1.5 |
//! | `contrast` ([`RandomContrast`]) | nnU-Net contrast | p 0.15, 0.75-1.25 |
//! | `brightness` ([`RandomBrightness`]) | nnU-Net multiplicative brightness | p 0.15, 0.75-1.25 |
//! | `gaussian_noise` ([`RandomGaussianNoise`]) | MONAI `RandGaussianNoise` | p 0.15, std up to 0.1 |
//! | `rician_noise` ([`RandomRicianNoise`]) | MONAI `RandRicianNoise` | p 0.1, std up to 0.1 |
//! | `gaussian_blur` ([`RandomGaussianBlur`]) | TorchIO `RandomBlur` | p 0.2, 0.5-1 mm |
//! | `sharpen` ([`RandomSharpen`]) | MONAI `RandGaussianSharpen` | p 0.1 |
//! | `bias_field` ([`RandomBiasField`]) | TorchIO `RandomBiasField` | p 0.1, order 3, 0.5 |
//! | `histogram_shift` ([`RandomHistogramShift`]) | MONAI `RandHistogramShift` | p 0.1, 5-15 points |
//! | `ghosting` ([`RandomGhosting`]) | TorchIO `RandomGhosting` (k-space) | p 0.1, 4-10 ghosts, intensity 0.5-1 |
//! | `spike` ([`RandomSpike`]) | TorchIO `RandomSpike` (k-space) | p 0.1, one spike, intensity 1-3 |
//! | `motion` ([`RandomMotion`]) | TorchIO `RandomMotion` (k-space) | p 0.1, two motions, 10 degrees, 10 mm |
//! | `compose`, `one_of`, `random_apply` | TorchIO `Compose`, `OneOf`; `RandomApply` | |
//!
//! Labels are float class indices `[N, 1, D, H, W]` (the sampling ops take floats; class
//! indices below 2^24 are exact in f32): convert an Int label batch with `.float()` before and
//! `.int()` after. Voxels moved in from outside the patch are 0 (background).
//!
//! ```
//! use burn::tensor::{Device, Tensor};
//! use medburn_augment::Pipeline;
//! use rand::SeedableRng;
//!
//! let pipeline = Pipeline::default(); // the main job's: configs/brain_mr.toml
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
//! let device = Device::flex();
//! let geometry = medburn_core::Geometry::unit([8, 8, 8])?;
//! let image = Tensor::<5>::random([2, 1, 8, 8, 8], burn::tensor::Distribution::Default, &device);
//! let label = image.clone().greater_elem(0.5).float();
//! let params = pipeline.sample(&mut rng, &geometry, 2)?; // host: cheap, reproducible
//! let (image, label) = pipeline.apply(&params, &geometry, image, Some(label))?; // device
//! assert_eq!(image.dims(), [2, 1, 8, 8, 8]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod batch;
mod differentiable;
mod error;
mod intensity;
mod matrix;
mod pipeline;
mod random;
mod spatial;

pub use differentiable::{
    differentiable_affine, differentiable_elastic, elastic_tensor, AffineTensors,
};
pub use error::{AugmentError, Result};
pub use intensity::bias_field::RandomBiasField;
pub use intensity::blur::{RandomGaussianBlur, RandomSharpen, SharpenSample};
pub use intensity::contrast::{RandomBrightness, RandomContrast};
pub use intensity::gamma::{RandomGamma, GAMMA_EPSILON};
pub use intensity::histogram::RandomHistogramShift;
pub use intensity::kspace::{
    GhostingSample, MotionSample, RandomGhosting, RandomMotion, RandomSpike, SpikeSample,
};
pub use intensity::noise::{NoiseSample, RandomGaussianNoise, RandomRicianNoise, NOISE_BLOCK};
pub use intensity::normalize::{ClipPercentiles, RescaleIntensity, ZNormalize};
pub use intensity::resolution::{RandomAnisotropy, RandomLowResolution};
pub use matrix::{compose_transforms, invert, Matrix4, IDENTITY};
pub use pipeline::{Compose, Drawn, OneOf, Pipeline, PipelineParams, RandomApply, Transform};
pub use spatial::affine::{AffineSample, RandomAffine};
pub use spatial::crop::{CropSample, RandomCrop};
pub use spatial::elastic::{ElasticSample, RandomElastic};
pub use spatial::flip::{flip_matrix, RandomFlip};
pub use spatial::rot90::{RandomRot90, Rot90Sample};
pub use spatial::ImagePadding;

/// How label maps (and images) are resampled: medburn's one interpolation vocabulary
/// (`medburn_ops`); [`Pipeline::label_interpolation`] takes nearest or label-linear.
///
/// ```
/// let mut p = medburn_augment::Pipeline::default();
/// p.label_interpolation = "label-linear".parse()?;
/// assert_eq!(p.label_interpolation, medburn_augment::Interpolation::LabelLinear);
/// # Ok::<(), String>(())
/// ```
pub use medburn_ops::Interpolation;
