//! Random histogram shift (MONAI `RandHistogramShift`): a random monotone piecewise-linear map
//! of each sample's intensities.

use burn::tensor::Tensor;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::batch::{map_samples, sample_min_max};
use crate::error::{check_prob, AugmentError, Result};
use crate::random::uniform;

/// Control points equally spaced over the sample's range move to random places, each uniform
/// between its (already moved) left and its right neighbour, ends fixed; intensities follow
/// the piecewise-linear map (MONAI's defaults: 5 to 15 points, p 0.1).
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_augment::{Pipeline, RandomHistogramShift, Transform};
/// let t = RandomHistogramShift { prob: 1.0, ..Default::default() };
/// let x = Tensor::<1, burn::tensor::Int>::arange(0..64, &Device::flex()).float().reshape([1, 1, 4, 4, 4]);
/// let (y, _) = Pipeline::new(vec![Transform::HistogramShift(t)]).run(1, x, None)?;
/// // The ends stay: min 0 and max 63.
/// assert_eq!((y.clone().min().into_scalar::<f32>(), y.max().into_scalar::<f32>()), (0.0, 63.0));
/// # Ok::<(), medburn_augment::AugmentError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomHistogramShift {
    /// Probability that a sample is shifted.
    pub prob: f64,
    /// Range of the number of control points, ends included (at least 3).
    pub num_control_points: (usize, usize),
}

impl Default for RandomHistogramShift {
    fn default() -> Self {
        Self {
            prob: 0.1,
            num_control_points: (5, 15),
        }
    }
}

impl RandomHistogramShift {
    /// Fails on a probability outside [0, 1] or a point range that is not `3 <= min <= max <= 64`.
    ///
    /// ```
    /// assert!(medburn_augment::RandomHistogramShift { num_control_points: (2, 4), ..Default::default() }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        check_prob("histogram_shift.prob", self.prob)?;
        let (lo, hi) = self.num_control_points;
        if !(3 <= lo && lo <= hi && hi <= 64) {
            return Err(AugmentError::Config(format!(
                "histogram_shift.num_control_points = ({lo}, {hi}) needs 3 <= min <= max <= 64"
            )));
        }
        Ok(())
    }

    /// The moved control points in [0, 1] (the reference ones are equally spaced); one count
    /// and `max - 2` positions drawn whatever the count.
    pub(crate) fn draw(&self, rng: &mut dyn RngCore) -> Vec<f64> {
        let (lo, hi) = self.num_control_points;
        let span = hi.saturating_sub(lo) + 1;
        let n = (lo + (uniform(rng, 0.0, span as f64) as usize).min(span - 1)).max(3);
        let draws: Vec<f64> = (0..hi.saturating_sub(2))
            .map(|_| uniform(rng, 0.0, 1.0))
            .collect();
        let mut points: Vec<f64> = (0..n).map(|i| i as f64 / (n - 1) as f64).collect();
        for i in 1..n - 1 {
            points[i] = points[i - 1] + (points[i + 1] - points[i - 1]) * draws[i - 1];
        }
        points
    }
}

pub(crate) fn apply_histogram_shift(
    samples: &[Option<Vec<f64>>],
    image: Tensor<5>,
) -> Result<Tensor<5>> {
    for s in samples.iter().flatten() {
        let monotone = s.windows(2).all(|w| w[0] <= w[1]);
        if s.len() < 2 || !monotone || s.iter().any(|v| !v.is_finite()) {
            return Err(AugmentError::Params(format!(
                "histogram control points {s:?} are not a monotone map"
            )));
        }
    }
    map_samples(image, samples, |x, points| {
        let (min, max) = sample_min_max(&x);
        let dims = x.dims();
        let range = max - min.clone();
        let range = range.clone().mask_fill(range.equal_elem(0.0), 1.0);
        let unit = (x.clone() - min.clone()) / range.clone();
        let n = points.len();
        let mut out = unit.zeros_like();
        for k in 0..n - 1 {
            let (r0, r1) = (k as f64 / (n - 1) as f64, (k + 1) as f64 / (n - 1) as f64);
            let (f0, f1) = (points[k], points[k + 1]);
            let seg = unit
                .clone()
                .sub_scalar(r0)
                .mul_scalar((f1 - f0) / (r1 - r0))
                .add_scalar(f0);
            let inside = unit.clone().greater_equal_elem(r0);
            out = out.mask_where(inside, seg);
        }
        Ok(out * range.expand(dims) + min.expand(dims))
    })
}
