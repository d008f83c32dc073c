//! Random Gaussian blur and sharpening (TorchIO `RandomBlur`, MONAI `RandGaussianSmooth` and
//! `RandGaussianSharpen`), with widths in mm so anisotropic voxels blur isotropically.

use burn::tensor::Tensor;
use medburn_core::ijk_to_dhw;
use medburn_ops::{gaussian_smooth_3d, sigma_in_voxels, Padding};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::batch::map_samples;
use crate::error::{check_prob, check_range, AugmentError, Result};
use crate::random::uniform;

/// Smooths a sample with a Gaussian whose standard deviation (mm, all axes) is uniform in
/// `sigma_mm` (nnU-Net: p 0.2, 0.5 to 1 voxel).
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_augment::{Pipeline, RandomGaussianBlur, Transform};
/// let b = RandomGaussianBlur { prob: 1.0, ..Default::default() };
/// let x = Tensor::<5>::zeros([1, 1, 5, 5, 5], &Device::flex()).slice_assign(
///     [0..1, 0..1, 2..3, 2..3, 2..3], Tensor::ones([1, 1, 1, 1, 1], &Device::flex()));
/// let (y, _) = Pipeline::new(vec![Transform::GaussianBlur(b)]).run(0, x, None)?;
/// assert!(y.max().into_scalar::<f32>() < 1.0); // the peak spreads
/// # Ok::<(), medburn_augment::AugmentError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomGaussianBlur {
    /// Probability that a sample is blurred.
    pub prob: f64,
    /// Standard deviation range in mm.
    pub sigma_mm: (f64, f64),
}

impl Default for RandomGaussianBlur {
    fn default() -> Self {
        Self {
            prob: 0.2,
            sigma_mm: (0.5, 1.0),
        }
    }
}

/// Unsharp masking as MONAI's `RandGaussianSharpen`: `b1 = G(sigma1) x`, `b2 = G(sigma2) b1`,
/// `out = b1 + alpha (b1 - b2)`, each width (mm) and `alpha` uniform in its range.
///
/// ```
/// let s = medburn_augment::RandomSharpen::default();
/// assert_eq!(s.alpha, (10.0, 30.0));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomSharpen {
    /// Probability that a sample is sharpened.
    pub prob: f64,
    /// Range of the first blur's standard deviation, mm.
    pub sigma1_mm: (f64, f64),
    /// Range of the second blur's standard deviation, mm.
    pub sigma2_mm: (f64, f64),
    /// Range of the sharpening weight.
    pub alpha: (f64, f64),
}

impl Default for RandomSharpen {
    fn default() -> Self {
        Self {
            prob: 0.1,
            sigma1_mm: (0.5, 1.0),
            sigma2_mm: (0.5, 0.5),
            alpha: (10.0, 30.0),
        }
    }
}

/// The widths and weight drawn for one sharpened sample.
///
/// ```
/// let s = medburn_augment::SharpenSample { sigma1_mm: 1.0, sigma2_mm: 0.5, alpha: 10.0 };
/// assert!(s.alpha > 0.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SharpenSample {
    /// First blur, mm.
    pub sigma1_mm: f64,
    /// Second blur, mm.
    pub sigma2_mm: f64,
    /// Weight of the detail added back.
    pub alpha: f64,
}

impl RandomGaussianBlur {
    /// Fails on a probability outside [0, 1] or a width range that is not `0 <= min <= max`.
    ///
    /// ```
    /// assert!(medburn_augment::RandomGaussianBlur { sigma_mm: (-1.0, 1.0), ..Default::default() }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        check_prob("gaussian_blur.prob", self.prob)?;
        check_width("gaussian_blur.sigma_mm", self.sigma_mm)
    }

    pub(crate) fn draw(&self, rng: &mut dyn RngCore) -> f64 {
        uniform(rng, self.sigma_mm.0, self.sigma_mm.1)
    }
}

impl RandomSharpen {
    /// Fails on a probability outside [0, 1] or a range that is not `0 <= min <= max`.
    ///
    /// ```
    /// assert!(medburn_augment::RandomSharpen { alpha: (3.0, 1.0), ..Default::default() }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        check_prob("sharpen.prob", self.prob)?;
        check_width("sharpen.sigma1_mm", self.sigma1_mm)?;
        check_width("sharpen.sigma2_mm", self.sigma2_mm)?;
        check_width("sharpen.alpha", self.alpha)
    }

    pub(crate) fn draw(&self, rng: &mut dyn RngCore) -> SharpenSample {
        SharpenSample {
            sigma1_mm: uniform(rng, self.sigma1_mm.0, self.sigma1_mm.1),
            sigma2_mm: uniform(rng, self.sigma2_mm.0, self.sigma2_mm.1),
            alpha: uniform(rng, self.alpha.0, self.alpha.1),
        }
    }
}

fn check_width(field: &str, range: (f64, f64)) -> Result<()> {
    check_range(field, range, false)?;
    if range.0 < 0.0 {
        return Err(AugmentError::Config(format!(
            "{field} = {range:?} must not be negative"
        )));
    }
    Ok(())
}

/// A Gaussian of `sigma_mm` on voxels of `spacing` `(i, j, k)`, edge values repeated.
fn smooth(x: Tensor<5>, sigma_mm: f64, spacing: [f64; 3]) -> Result<Tensor<5>> {
    if !(sigma_mm.is_finite() && sigma_mm >= 0.0) {
        return Err(AugmentError::Params(format!("blur width {sigma_mm} mm")));
    }
    let sigma = sigma_in_voxels([sigma_mm; 3], spacing);
    Ok(gaussian_smooth_3d(x, ijk_to_dhw(sigma), Padding::Border)?)
}

pub(crate) fn apply_blur(
    samples: &[Option<f64>],
    image: Tensor<5>,
    spacing: [f64; 3],
) -> Result<Tensor<5>> {
    map_samples(image, samples, |x, s| smooth(x, *s, spacing))
}

pub(crate) fn apply_sharpen(
    samples: &[Option<SharpenSample>],
    image: Tensor<5>,
    spacing: [f64; 3],
) -> Result<Tensor<5>> {
    map_samples(image, samples, |x, s| {
        let b1 = smooth(x, s.sigma1_mm, spacing)?;
        let b2 = smooth(b1.clone(), s.sigma2_mm, spacing)?;
        Ok(b1.clone() + (b1 - b2) * s.alpha)
    })
}
