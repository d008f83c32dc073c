//! What a pipeline holds: every transform, and the three ways to combine them.

use serde::{Deserialize, Serialize};

use crate::error::{check_prob, AugmentError, Result};
use crate::intensity::bias_field::RandomBiasField;
use crate::intensity::blur::{RandomGaussianBlur, RandomSharpen};
use crate::intensity::contrast::{RandomBrightness, RandomContrast};
use crate::intensity::gamma::RandomGamma;
use crate::intensity::histogram::RandomHistogramShift;
use crate::intensity::kspace::{RandomGhosting, RandomMotion, RandomSpike};
use crate::intensity::noise::{RandomGaussianNoise, RandomRicianNoise};
use crate::intensity::normalize::{ClipPercentiles, RescaleIntensity, ZNormalize};
use crate::intensity::resolution::{RandomAnisotropy, RandomLowResolution};
use crate::spatial::affine::RandomAffine;
use crate::spatial::crop::RandomCrop;
use crate::spatial::elastic::RandomElastic;
use crate::spatial::flip::RandomFlip;
use crate::spatial::rot90::RandomRot90;

/// One step of a [`crate::Pipeline`]. In TOML and JSON a step is a table with a `type` (the
/// snake-case name below) and the transform's fields, each optional:
///
/// ```toml
/// [[transforms]]
/// type = "affine"
/// prob = 0.5
/// rotation_deg = [30.0, 30.0, 30.0]
///
/// [[transforms]]
/// type = "one_of"
/// transforms = [{ type = "gaussian_blur" }, { type = "sharpen" }]
/// ```
///
/// ```
/// let t: medburn_augment::Transform = toml::from_str("type = \"flip\"\naxes = [true, true, true]").unwrap();
/// assert!(matches!(t, medburn_augment::Transform::Flip(f) if f.axes == [true; 3]));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Transform {
    /// Rotation, scaling, shear, translation (spatial).
    Affine(RandomAffine),
    /// Smooth random deformation (spatial).
    Elastic(RandomElastic),
    /// Mirroring along voxel axes (spatial).
    Flip(RandomFlip),
    /// Quarter turns in a voxel plane (spatial).
    Rot90(RandomRot90),
    /// A random patch of fixed size (spatial; top level only).
    Crop(RandomCrop),
    /// Thick slices along one axis (image only).
    Anisotropy(RandomAnisotropy),
    /// Down- and up-sampling (image only).
    LowResolution(RandomLowResolution),
    /// Linear rescaling to a range (image only).
    Rescale(RescaleIntensity),
    /// Z-score normalization (image only).
    ZNormalize(ZNormalize),
    /// Clipping to percentiles (image only).
    ClipPercentiles(ClipPercentiles),
    /// Gamma (image only).
    Gamma(RandomGamma),
    /// Contrast about the mean (image only).
    Contrast(RandomContrast),
    /// Multiplicative brightness (image only).
    Brightness(RandomBrightness),
    /// Additive Gaussian noise (image only).
    GaussianNoise(RandomGaussianNoise),
    /// Rician noise (image only).
    RicianNoise(RandomRicianNoise),
    /// Gaussian blur (image only).
    GaussianBlur(RandomGaussianBlur),
    /// Unsharp masking (image only).
    Sharpen(RandomSharpen),
    /// Smooth multiplicative field (image only).
    BiasField(RandomBiasField),
    /// Piecewise-linear intensity map (image only).
    HistogramShift(RandomHistogramShift),
    /// MR ghosting through k-space (image only).
    Ghosting(RandomGhosting),
    /// MR spikes in k-space (image only).
    Spike(RandomSpike),
    /// MR motion through k-space (image only).
    Motion(RandomMotion),
    /// The steps in order.
    Compose(Compose),
    /// One of the steps per sample, by weight.
    OneOf(OneOf),
    /// The steps, per sample with a probability.
    RandomApply(RandomApply),
}

/// Steps applied in order (TorchIO and MONAI `Compose`).
///
/// ```
/// let c = medburn_augment::Compose { transforms: vec![] };
/// assert!(c.transforms.is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Compose {
    /// The steps.
    pub transforms: Vec<Transform>,
}

/// Per sample, one of the steps, chosen with probability proportional to its weight
/// (TorchIO `OneOf`, MONAI `OneOf`); equal weights when none are given.
///
/// ```
/// use medburn_augment::{OneOf, Transform, RandomFlip, RandomRot90};
/// let o = OneOf { transforms: vec![Transform::Flip(RandomFlip::default()), Transform::Rot90(RandomRot90::default())], weights: None };
/// assert!(o.validate().is_ok());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OneOf {
    /// The candidates.
    pub transforms: Vec<Transform>,
    /// Their weights (non-negative, not all zero); equal when absent.
    #[serde(default)]
    pub weights: Option<Vec<f64>>,
}

/// The steps, applied to a sample with probability `prob` (MONAI `RandomOrder`-free
/// `RandApply`, Albumentations-style `Sequential(p)`).
///
/// ```
/// let r = medburn_augment::RandomApply { prob: 0.5, transforms: vec![] };
/// assert!(r.validate().is_ok());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomApply {
    /// Probability per sample.
    pub prob: f64,
    /// The steps.
    pub transforms: Vec<Transform>,
}

impl OneOf {
    /// Fails on an empty list, weights of the wrong count, negative, non-finite or all zero, or
    /// a child that fails.
    pub fn validate(&self) -> Result<()> {
        if self.transforms.is_empty() {
            return Err(AugmentError::Config("one_of has no transforms".into()));
        }
        if let Some(w) = &self.weights {
            let ok = w.len() == self.transforms.len()
                && w.iter().all(|v| v.is_finite() && *v >= 0.0)
                && w.iter().sum::<f64>() > 0.0;
            if !ok {
                return Err(AugmentError::Config(format!(
                    "one_of.weights = {w:?} needs one non-negative weight per transform, not all 0"
                )));
            }
        }
        validate_all(&self.transforms, false)
    }

    /// The candidate a uniform `u` in [0, 1) picks.
    pub(crate) fn pick(&self, u: f64) -> usize {
        let n = self.transforms.len();
        let weights = self.weights.clone().unwrap_or_else(|| vec![1.0; n]);
        let total: f64 = weights.iter().sum();
        let mut acc = 0.0;
        for (i, w) in weights.iter().enumerate() {
            acc += w / total;
            if u < acc {
                return i;
            }
        }
        n - 1
    }
}

impl RandomApply {
    /// Fails on a probability outside [0, 1] or a child that fails.
    pub fn validate(&self) -> Result<()> {
        check_prob("random_apply.prob", self.prob)?;
        validate_all(&self.transforms, false)
    }
}

/// Validates steps; `top` is whether they are at the top level of the pipeline (a crop changes
/// the batch shape, so only there).
pub(crate) fn validate_all(transforms: &[Transform], top: bool) -> Result<()> {
    for t in transforms {
        match t {
            Transform::Affine(t) => t.validate()?,
            Transform::Elastic(t) => t.validate()?,
            Transform::Flip(t) => t.validate()?,
            Transform::Rot90(t) => t.validate()?,
            Transform::Crop(t) => {
                if !top {
                    return Err(AugmentError::Config(
                        "crop changes the batch shape: it belongs at the top level of the pipeline, not inside one_of or random_apply".into(),
                    ));
                }
                t.validate()?
            }
            Transform::Anisotropy(t) => t.validate()?,
            Transform::LowResolution(t) => t.validate()?,
            Transform::Rescale(t) => t.validate()?,
            Transform::ZNormalize(_) => {}
            Transform::ClipPercentiles(t) => t.validate()?,
            Transform::Gamma(t) => t.validate()?,
            Transform::Contrast(t) => t.validate()?,
            Transform::Brightness(t) => t.validate()?,
            Transform::GaussianNoise(t) => t.validate()?,
            Transform::RicianNoise(t) => t.validate()?,
            Transform::GaussianBlur(t) => t.validate()?,
            Transform::Sharpen(t) => t.validate()?,
            Transform::BiasField(t) => t.validate()?,
            Transform::HistogramShift(t) => t.validate()?,
            Transform::Ghosting(t) => t.validate()?,
            Transform::Spike(t) => t.validate()?,
            Transform::Motion(t) => t.validate()?,
            Transform::Compose(c) => validate_all(&c.transforms, top)?,
            Transform::OneOf(o) => o.validate()?,
            Transform::RandomApply(r) => r.validate()?,
        }
    }
    Ok(())
}
