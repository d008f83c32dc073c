//! Random gamma (contrast) adjustment, as MONAI's `RandAdjustContrast`.

use burn::tensor::Tensor;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::batch::{column, sample_min_max, select};
use crate::error::{check_prob, check_range, AugmentError, Result};
use crate::random::uniform;

/// MONAI's epsilon in `RandAdjustContrast`: keeps a constant image (range 0) finite.
///
/// ```
/// assert_eq!(medburn_augment::GAMMA_EPSILON, 1e-7);
/// ```
pub const GAMMA_EPSILON: f64 = 1e-7;

/// Random gamma, as MONAI's `RandAdjustContrast` (`invert_image=False`, `retain_stats=False`):
/// a sample (all its channels together) is rescaled to [0, 1] by its own min and max, raised to
/// a `gamma` drawn uniformly in `gamma`, and rescaled back:
/// `out = ((x - min) / (range + 1e-7))^gamma * range + min`, `range = max - min`.
///
/// Default: `prob` 0.3, `gamma` in [0.7, 1.5] (nnU-Net's range).
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_augment::{Pipeline, RandomGamma, Transform};
/// let p = Pipeline::new(vec![Transform::Gamma(RandomGamma { prob: 1.0, gamma: (0.5, 0.5) })]);
/// let x = Tensor::<1>::from_floats([0.0, 1.0, 4.0], &Device::flex()).reshape([1, 1, 1, 1, 3]);
/// let (y, _) = p.run(0, x, None)?;
/// let v = y.into_data().try_to_vec::<f32>().unwrap();
/// assert!((v[1] - 2.0).abs() < 1e-5); // sqrt(1/4) * 4
/// # Ok::<(), medburn_augment::AugmentError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomGamma {
    /// Probability that a sample is adjusted.
    pub prob: f64,
    /// Gamma range `(min, max)`; `min > 0`.
    pub gamma: (f64, f64),
}

impl Default for RandomGamma {
    fn default() -> Self {
        Self {
            prob: 0.3,
            gamma: (0.7, 1.5),
        }
    }
}

impl RandomGamma {
    /// Fails on a probability outside [0, 1] or a range that is not `0 < min <= max`.
    ///
    /// ```
    /// assert!(medburn_augment::RandomGamma { gamma: (0.0, 1.0), ..Default::default() }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        check_prob("gamma.prob", self.prob)?;
        check_range("gamma.gamma", self.gamma, true)
    }

    pub(crate) fn draw(&self, rng: &mut dyn RngCore) -> f64 {
        uniform(rng, self.gamma.0, self.gamma.1)
    }
}

/// Applies drawn gammas (`None`: sample untouched, bit for bit).
pub(crate) fn apply_gamma(samples: &[Option<f64>], image: Tensor<5>) -> Result<Tensor<5>> {
    if let Some(g) = samples
        .iter()
        .flatten()
        .find(|g| !(g.is_finite() && **g > 0.0))
    {
        return Err(AugmentError::Params(format!(
            "gamma {g} is not a positive number"
        )));
    }
    let gamma = column(samples, 1.0, |g| *g, &image).expand(image.dims());
    let (min, max) = sample_min_max(&image);
    let range = max - min.clone();
    let unit = (image.clone() - min.clone()) / range.clone().add_scalar(GAMMA_EPSILON);
    let adjusted = unit.powf(gamma) * range + min;
    Ok(select(samples, image, adjusted))
}
