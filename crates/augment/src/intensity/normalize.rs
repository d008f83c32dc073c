//! Deterministic intensity normalizations: rescaling to a range (by min/max or percentiles),
//! z-normalization (optionally inside the nonzero mask) and percentile clipping. Per sample,
//! computed on the device.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::error::{AugmentError, Result};

/// Rescales each sample (all channels together) linearly so that its `percentiles` map to
/// `out_min` and `out_max` (TorchIO `RescaleIntensity`, MONAI
/// `ScaleIntensityRangePercentiles`); values beyond are clipped when `clip`. Percentiles
/// `(0, 100)` are the min and max.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_augment::{Pipeline, RescaleIntensity, Transform};
/// let p = Pipeline::new(vec![Transform::Rescale(RescaleIntensity::default())]);
/// let x = Tensor::<1>::from_floats([2.0, 4.0, 6.0], &Device::flex()).reshape([1, 1, 1, 1, 3]);
/// let (y, _) = p.run(0, x, None)?;
/// assert_eq!(y.into_data().try_to_vec::<f32>().unwrap(), vec![0.0, 0.5, 1.0]);
/// # Ok::<(), medburn_augment::AugmentError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RescaleIntensity {
    /// The value the lower percentile maps to.
    pub out_min: f64,
    /// The value the upper percentile maps to.
    pub out_max: f64,
    /// Lower and upper percentiles, in [0, 100].
    pub percentiles: (f64, f64),
    /// Clip to `[out_min, out_max]`.
    pub clip: bool,
}

impl Default for RescaleIntensity {
    fn default() -> Self {
        Self {
            out_min: 0.0,
            out_max: 1.0,
            percentiles: (0.0, 100.0),
            clip: false,
        }
    }
}

/// Z-normalization per sample and channel: `(x - mean) / std` (TorchIO `ZNormalization`, MONAI
/// `NormalizeIntensity`, nnU-Net's MR normalization). With `nonzero`, mean and std are those of
/// the nonzero voxels and zeros stay 0 (MONAI's `nonzero=True`: background outside a
/// skull-stripped brain). Population std; a constant image is only shifted.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_augment::{Pipeline, Transform, ZNormalize};
/// let p = Pipeline::new(vec![Transform::ZNormalize(ZNormalize { nonzero: true })]);
/// let x = Tensor::<1>::from_floats([0.0, 1.0, 3.0], &Device::flex()).reshape([1, 1, 1, 1, 3]);
/// let (y, _) = p.run(0, x, None)?;
/// assert_eq!(y.into_data().try_to_vec::<f32>().unwrap(), vec![0.0, -1.0, 1.0]);
/// # Ok::<(), medburn_augment::AugmentError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZNormalize {
    /// Statistics of the nonzero voxels only; zeros stay 0.
    pub nonzero: bool,
}

/// Clips each sample (all channels together) to its own percentiles (nnU-Net's CT clipping,
/// per image).
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_augment::{ClipPercentiles, Pipeline, Transform};
/// let p = Pipeline::new(vec![Transform::ClipPercentiles(ClipPercentiles { lower: 0.0, upper: 50.0 })]);
/// let x = Tensor::<1>::from_floats([1.0, 2.0, 9.0], &Device::flex()).reshape([1, 1, 1, 1, 3]);
/// let (y, _) = p.run(0, x, None)?;
/// assert_eq!(y.into_data().try_to_vec::<f32>().unwrap(), vec![1.0, 2.0, 2.0]);
/// # Ok::<(), medburn_augment::AugmentError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClipPercentiles {
    /// Lower percentile, in [0, 100].
    pub lower: f64,
    /// Upper percentile, in [0, 100].
    pub upper: f64,
}

impl Default for ClipPercentiles {
    fn default() -> Self {
        Self {
            lower: 0.5,
            upper: 99.5,
        }
    }
}

fn check_percentiles(field: &str, lo: f64, hi: f64) -> Result<()> {
    if lo.is_finite() && hi.is_finite() && 0.0 <= lo && lo <= hi && hi <= 100.0 {
        Ok(())
    } else {
        Err(AugmentError::Config(format!(
            "{field} = ({lo}, {hi}) needs 0 <= lower <= upper <= 100"
        )))
    }
}

impl RescaleIntensity {
    /// Fails on percentiles outside [0, 100] or out of order, or a non-finite range.
    ///
    /// ```
    /// assert!(medburn_augment::RescaleIntensity { percentiles: (5.0, 1.0), ..Default::default() }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        check_percentiles(
            "rescale.percentiles",
            self.percentiles.0,
            self.percentiles.1,
        )?;
        if !(self.out_min.is_finite() && self.out_max.is_finite()) {
            return Err(AugmentError::Config(
                "rescale.out_min and out_max must be finite".into(),
            ));
        }
        Ok(())
    }

    pub(crate) fn apply(&self, image: Tensor<5>) -> Result<Tensor<5>> {
        let [lo, hi] = percentiles(&image, [self.percentiles.0, self.percentiles.1]);
        let range = hi - lo.clone();
        // A constant sample (range 0) maps to out_min.
        let zero = range.clone().equal_elem(0.0);
        let range = range.mask_fill(zero, 1.0);
        let out = (image - lo) / range * (self.out_max - self.out_min) + self.out_min;
        Ok(if self.clip {
            let (a, b) = (
                self.out_min.min(self.out_max),
                self.out_min.max(self.out_max),
            );
            out.clamp(a, b)
        } else {
            out
        })
    }
}

impl ZNormalize {
    pub(crate) fn apply(&self, image: Tensor<5>) -> Result<Tensor<5>> {
        let [n, c, d, h, w] = image.dims();
        let flat = image.reshape([n, c, d * h * w]);
        let out = if self.nonzero {
            let mask = flat.clone().not_equal_elem(0.0);
            let m = mask.clone().float().cast(flat.dtype());
            let count = m.clone().sum_dim(2).clamp_min(1.0);
            let mean = (flat.clone() * m.clone()).sum_dim(2) / count.clone();
            let centred = (flat.clone() - mean) * m;
            let std = (centred.clone() * centred.clone())
                .sum_dim(2)
                .div(count)
                .sqrt();
            let std = std.clone().mask_fill(std.equal_elem(0.0), 1.0);
            flat.mask_where(mask, centred / std)
        } else {
            let mean = flat.clone().mean_dim(2);
            let centred = flat - mean;
            let std = (centred.clone() * centred.clone()).mean_dim(2).sqrt();
            let std = std.clone().mask_fill(std.equal_elem(0.0), 1.0);
            centred / std
        };
        Ok(out.reshape([n, c, d, h, w]))
    }
}

impl ClipPercentiles {
    /// Fails on percentiles outside [0, 100] or out of order.
    ///
    /// ```
    /// assert!(medburn_augment::ClipPercentiles { lower: -1.0, upper: 99.0 }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        check_percentiles("clip_percentiles", self.lower, self.upper)
    }

    pub(crate) fn apply(&self, image: Tensor<5>) -> Result<Tensor<5>> {
        let [lo, hi] = percentiles(&image, [self.lower, self.upper]);
        let dims = image.dims();
        Ok(image.max_pair(lo.expand(dims)).min_pair(hi.expand(dims)))
    }
}

/// Per sample (all channels together), the given percentiles `[N, 1, 1, 1, 1]`, with NumPy's
/// default linear interpolation between order statistics.
pub(crate) fn percentiles<const P: usize>(image: &Tensor<5>, q: [f64; P]) -> [Tensor<5>; P] {
    let n = image.dims()[0];
    let flat = image.clone().reshape([n as i64, -1]);
    let m = flat.dims()[1];
    let sorted = if q.iter().all(|&q| q == 0.0 || q == 100.0) {
        None
    } else {
        Some(flat.clone().sort(1))
    };
    q.map(|q| {
        let at = |i: usize| match &sorted {
            Some(s) => s.clone().slice([0..n, i..i + 1]),
            None if i == 0 => flat.clone().min_dim(1),
            None => flat.clone().max_dim(1),
        };
        let pos = q / 100.0 * (m - 1) as f64;
        let (i0, frac) = (pos.floor() as usize, pos - pos.floor());
        let v = if frac == 0.0 || i0 + 1 >= m {
            at(i0.min(m - 1))
        } else {
            let (a, b) = (at(i0), at(i0 + 1));
            a.clone() + (b - a) * frac
        };
        v.reshape([n, 1, 1, 1, 1])
    })
}
