//! Random contrast and brightness (nnU-Net's `ContrastAugmentationTransform` and
//! `MultiplicativeBrightnessTransform`).

use burn::tensor::Tensor;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::batch::{column, select};
use crate::error::{check_prob, check_range, AugmentError, Result};
use crate::random::uniform;

/// Scales each sample's deviations from its mean (per channel) by a factor uniform in
/// `factor`: `(x - mean) f + mean`; with `preserve_range`, the result is clipped to the
/// sample's original min and max (nnU-Net's defaults: p 0.15, factor 0.75 to 1.25, range
/// preserved).
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_augment::{Pipeline, RandomContrast, Transform};
/// let c = RandomContrast { prob: 1.0, factor: (2.0, 2.0), preserve_range: false };
/// let x = Tensor::<1>::from_floats([1.0, 3.0], &Device::flex()).reshape([1, 1, 1, 1, 2]);
/// let (y, _) = Pipeline::new(vec![Transform::Contrast(c)]).run(0, x, None)?;
/// assert_eq!(y.into_data().try_to_vec::<f32>().unwrap(), vec![0.0, 4.0]);
/// # Ok::<(), medburn_augment::AugmentError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomContrast {
    /// Probability that a sample is changed.
    pub prob: f64,
    /// Factor range `(min, max)`; `min > 0`.
    pub factor: (f64, f64),
    /// Clip to the sample's original min and max.
    pub preserve_range: bool,
}

impl Default for RandomContrast {
    fn default() -> Self {
        Self {
            prob: 0.15,
            factor: (0.75, 1.25),
            preserve_range: true,
        }
    }
}

/// Multiplies each sample by a factor uniform in `factor` (nnU-Net: p 0.15, 0.75 to 1.25).
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_augment::{Pipeline, RandomBrightness, Transform};
/// let b = RandomBrightness { prob: 1.0, factor: (0.5, 0.5) };
/// let x = Tensor::<5>::ones([1, 1, 2, 2, 2], &Device::flex());
/// let (y, _) = Pipeline::new(vec![Transform::Brightness(b)]).run(0, x, None)?;
/// assert_eq!(y.max().into_scalar::<f32>(), 0.5);
/// # Ok::<(), medburn_augment::AugmentError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomBrightness {
    /// Probability that a sample is changed.
    pub prob: f64,
    /// Factor range `(min, max)`.
    pub factor: (f64, f64),
}

impl Default for RandomBrightness {
    fn default() -> Self {
        Self {
            prob: 0.15,
            factor: (0.75, 1.25),
        }
    }
}

impl RandomContrast {
    /// Fails on a probability outside [0, 1] or a range that is not `0 < min <= max`.
    ///
    /// ```
    /// assert!(medburn_augment::RandomContrast { factor: (1.0, 0.5), ..Default::default() }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        check_prob("contrast.prob", self.prob)?;
        check_range("contrast.factor", self.factor, true)
    }

    pub(crate) fn draw(&self, rng: &mut dyn RngCore) -> f64 {
        uniform(rng, self.factor.0, self.factor.1)
    }
}

/// Applies drawn contrast factors (`None`: untouched), clipping to each sample's original range
/// when `preserve_range`.
pub(crate) fn apply_contrast(
    samples: &[Option<f64>],
    preserve_range: bool,
    image: Tensor<5>,
) -> Result<Tensor<5>> {
    check_factors(samples)?;
    if samples.iter().all(Option::is_none) {
        return Ok(image);
    }
    let [n, c, d, h, w] = image.dims();
    let f = column(samples, 1.0, |f| *f, &image);
    let flat = image.clone().reshape([n, c, d * h * w]);
    let mean = flat.clone().mean_dim(2).reshape([n, c, 1, 1, 1]);
    let mut out = (image.clone() - mean.clone()) * f + mean;
    if preserve_range {
        let lo = flat
            .clone()
            .min_dim(2)
            .reshape([n, c, 1, 1, 1])
            .expand([n, c, d, h, w]);
        let hi = flat
            .max_dim(2)
            .reshape([n, c, 1, 1, 1])
            .expand([n, c, d, h, w]);
        out = out.max_pair(lo).min_pair(hi);
    }
    Ok(select(samples, image, out))
}

impl RandomBrightness {
    /// Fails on a probability outside [0, 1] or a range that is not finite `min <= max`.
    ///
    /// ```
    /// assert!(medburn_augment::RandomBrightness { factor: (f64::NAN, 1.0), ..Default::default() }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        check_prob("brightness.prob", self.prob)?;
        check_range("brightness.factor", self.factor, false)
    }

    pub(crate) fn draw(&self, rng: &mut dyn RngCore) -> f64 {
        uniform(rng, self.factor.0, self.factor.1)
    }
}

/// Applies drawn brightness factors (`None`: untouched).
pub(crate) fn apply_brightness(samples: &[Option<f64>], image: Tensor<5>) -> Result<Tensor<5>> {
    check_factors(samples)?;
    if samples.iter().all(Option::is_none) {
        return Ok(image);
    }
    let f = column(samples, 1.0, |f| *f, &image);
    Ok(select(samples, image.clone(), image * f))
}

fn check_factors(samples: &[Option<f64>]) -> Result<()> {
    match samples.iter().flatten().find(|f| !f.is_finite()) {
        Some(f) => Err(AugmentError::Params(format!("factor {f} is not finite"))),
        None => Ok(()),
    }
}
