//! Resolution loss: down- then up-sampling (nnU-Net's `SimulateLowResolutionTransform`, TorchIO's
//! `RandomAnisotropy`). The anatomy does not move, so labels are left as they are.

use burn::tensor::Tensor;
use medburn_core::ijk_to_dhw;
use medburn_ops::{interpolate_3d, Interpolate3dOptions, Interpolation};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::batch::map_samples;
use crate::error::{check_prob, check_range, AugmentError, Result};
use crate::random::uniform;

/// Downsamples a sample by a zoom uniform in `zoom` on every axis (nearest), then back to its
/// size (trilinear): nnU-Net's low-resolution simulation (p 0.25, zoom 0.5 to 1).
///
/// ```
/// let t = medburn_augment::RandomLowResolution::default();
/// assert_eq!(t.zoom, (0.5, 1.0));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomLowResolution {
    /// Probability that a sample is degraded.
    pub prob: f64,
    /// Zoom range, in (0, 1].
    pub zoom: (f64, f64),
}

impl Default for RandomLowResolution {
    fn default() -> Self {
        Self {
            prob: 0.25,
            zoom: (0.5, 1.0),
        }
    }
}

/// Downsamples a sample along one voxel axis (uniform among `axes`) by a factor uniform in
/// `downsampling`, then back (TorchIO `RandomAnisotropy`: thick-slice acquisitions).
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_augment::{Pipeline, RandomAnisotropy, Transform};
/// let t = RandomAnisotropy { prob: 1.0, axes: [false, false, true], downsampling: (2.0, 2.0) };
/// let x = Tensor::<1, burn::tensor::Int>::arange(0..8, &Device::flex()).float().reshape([1, 1, 8, 1, 1]);
/// let (y, _) = Pipeline::new(vec![Transform::Anisotropy(t)]).run(0, x.clone(), None)?;
/// assert_eq!(y.dims(), x.dims());
/// assert!(!y.equal(x).all().into_scalar::<bool>());
/// # Ok::<(), medburn_augment::AugmentError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomAnisotropy {
    /// Probability that a sample is degraded.
    pub prob: f64,
    /// Voxel axes `(i, j, k)` that may be the thick one.
    pub axes: [bool; 3],
    /// Downsampling factor range, at least 1.
    pub downsampling: (f64, f64),
}

impl Default for RandomAnisotropy {
    fn default() -> Self {
        Self {
            prob: 0.1,
            axes: [true; 3],
            downsampling: (1.5, 5.0),
        }
    }
}

impl RandomLowResolution {
    /// Fails on a probability outside [0, 1] or a zoom range outside (0, 1].
    ///
    /// ```
    /// assert!(medburn_augment::RandomLowResolution { zoom: (0.5, 2.0), ..Default::default() }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        check_prob("low_resolution.prob", self.prob)?;
        check_range("low_resolution.zoom", self.zoom, true)?;
        if self.zoom.1 > 1.0 {
            return Err(AugmentError::Config(format!(
                "low_resolution.zoom = {:?} goes above 1",
                self.zoom
            )));
        }
        Ok(())
    }

    /// The zoom per voxel axis `(i, j, k)`.
    pub(crate) fn draw(&self, rng: &mut dyn RngCore) -> [f64; 3] {
        [uniform(rng, self.zoom.0, self.zoom.1); 3]
    }
}

impl RandomAnisotropy {
    /// Fails on a probability outside [0, 1], no axis, or factors below 1.
    ///
    /// ```
    /// assert!(medburn_augment::RandomAnisotropy { axes: [false; 3], ..Default::default() }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        check_prob("anisotropy.prob", self.prob)?;
        check_range("anisotropy.downsampling", self.downsampling, true)?;
        if self.downsampling.0 < 1.0 || !self.axes.contains(&true) {
            return Err(AugmentError::Config(
                "anisotropy needs an axis and downsampling factors of at least 1".into(),
            ));
        }
        Ok(())
    }

    /// The zoom per voxel axis `(i, j, k)`: two values (axis, factor).
    pub(crate) fn draw(&self, rng: &mut dyn RngCore) -> [f64; 3] {
        let allowed: Vec<usize> = (0..3).filter(|&a| self.axes[a]).collect();
        let n = allowed.len().max(1);
        let pick = (uniform(rng, 0.0, n as f64) as usize).min(n - 1);
        let factor = uniform(rng, self.downsampling.0, self.downsampling.1);
        let mut zoom = [1.0; 3];
        zoom[allowed.get(pick).copied().unwrap_or(2)] = 1.0 / factor;
        zoom
    }
}

/// Down (nearest) to `round(n * zoom)` voxels per axis, then back up (trilinear).
pub(crate) fn apply_resolution(
    samples: &[Option<[f64; 3]>],
    image: Tensor<5>,
) -> Result<Tensor<5>> {
    map_samples(image, samples, |x, zoom| {
        if zoom
            .iter()
            .any(|z| !(z.is_finite() && *z > 0.0 && *z <= 1.0))
        {
            return Err(AugmentError::Params(format!(
                "zoom {zoom:?} is not in (0, 1]"
            )));
        }
        let [_, _, d, h, w] = x.dims();
        let down = |n: usize, z: f64| ((n as f64 * z).round() as usize).clamp(1, n);
        let zoom = ijk_to_dhw(*zoom);
        let small = [down(d, zoom[0]), down(h, zoom[1]), down(w, zoom[2])];
        if small == [d, h, w] {
            return Ok(x);
        }
        let x = interpolate_3d(
            x,
            Interpolate3dOptions::new(Interpolation::NearestExact).with_size(small),
        )?;
        Ok(interpolate_3d(
            x,
            Interpolate3dOptions::new(Interpolation::Linear).with_size([d, h, w]),
        )?)
    })
}
