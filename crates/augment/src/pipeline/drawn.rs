//! What a pipeline draws for a batch: one record per leaf transform reached, in application
//! order, each with one entry per sample (`None`: not applied to that sample). Plain serde data,
//! so a batch can be logged and replayed exactly.

use serde::{Deserialize, Serialize};

use crate::intensity::blur::SharpenSample;
use crate::intensity::kspace::{GhostingSample, MotionSample, SpikeSample};
use crate::intensity::noise::NoiseSample;
use crate::intensity::normalize::{ClipPercentiles, RescaleIntensity, ZNormalize};
use crate::spatial::affine::AffineSample;
use crate::spatial::crop::CropSample;
use crate::spatial::elastic::ElasticSample;
use crate::spatial::rot90::Rot90Sample;

/// The drawn values of one transform for a batch.
///
/// ```
/// let d = medburn_augment::Drawn::Flip(vec![Some([true, false, false]), None]);
/// assert_eq!(d.batch(), 2);
/// assert!(d.is_spatial());
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "samples", rename_all = "snake_case")]
pub enum Drawn {
    /// Affine motions.
    Affine(Vec<Option<AffineSample>>),
    /// Control displacements.
    Elastic(Vec<Option<ElasticSample>>),
    /// Flipped axes.
    Flip(Vec<Option<[bool; 3]>>),
    /// Quarter turns.
    Rot90(Vec<Option<Rot90Sample>>),
    /// Crop positions (every sample).
    Crop(Vec<CropSample>),
    /// Zoom per voxel axis before upsampling back (anisotropy, low resolution).
    Resolution(Vec<Option<[f64; 3]>>),
    /// A rescaling, and the samples it applies to.
    Rescale {
        /// The rescaling.
        spec: RescaleIntensity,
        /// Per sample.
        on: Vec<bool>,
    },
    /// A z-normalization, and the samples it applies to.
    ZNormalize {
        /// The normalization.
        spec: ZNormalize,
        /// Per sample.
        on: Vec<bool>,
    },
    /// A percentile clipping, and the samples it applies to.
    ClipPercentiles {
        /// The clipping.
        spec: ClipPercentiles,
        /// Per sample.
        on: Vec<bool>,
    },
    /// Gammas.
    Gamma(Vec<Option<f64>>),
    /// Contrast factors, and whether the range is kept.
    Contrast {
        /// Per sample.
        factors: Vec<Option<f64>>,
        /// Clip to the sample's original range.
        preserve_range: bool,
    },
    /// Brightness factors.
    Brightness(Vec<Option<f64>>),
    /// Gaussian noise.
    GaussianNoise(Vec<Option<NoiseSample>>),
    /// Rician noise.
    RicianNoise(Vec<Option<NoiseSample>>),
    /// Blur widths, mm.
    GaussianBlur(Vec<Option<f64>>),
    /// Sharpening.
    Sharpen(Vec<Option<SharpenSample>>),
    /// Bias field coefficients.
    BiasField(Vec<Option<Vec<f64>>>),
    /// Moved histogram control points.
    HistogramShift(Vec<Option<Vec<f64>>>),
    /// Ghosts.
    Ghosting(Vec<Option<GhostingSample>>),
    /// Spikes.
    Spike(Vec<Option<SpikeSample>>),
    /// Motions.
    Motion(Vec<Option<MotionSample>>),
}

impl Drawn {
    /// Samples the values were drawn for.
    pub fn batch(&self) -> usize {
        match self {
            Drawn::Affine(v) => v.len(),
            Drawn::Elastic(v) => v.len(),
            Drawn::Flip(v) => v.len(),
            Drawn::Rot90(v) => v.len(),
            Drawn::Crop(v) => v.len(),
            Drawn::Resolution(v) => v.len(),
            Drawn::Rescale { on, .. }
            | Drawn::ZNormalize { on, .. }
            | Drawn::ClipPercentiles { on, .. } => on.len(),
            Drawn::Gamma(v) | Drawn::Brightness(v) | Drawn::GaussianBlur(v) => v.len(),
            Drawn::Contrast { factors, .. } => factors.len(),
            Drawn::GaussianNoise(v) | Drawn::RicianNoise(v) => v.len(),
            Drawn::Sharpen(v) => v.len(),
            Drawn::BiasField(v) | Drawn::HistogramShift(v) => v.len(),
            Drawn::Ghosting(v) => v.len(),
            Drawn::Spike(v) => v.len(),
            Drawn::Motion(v) => v.len(),
        }
    }

    /// Whether it moves voxels (and labels with them).
    pub fn is_spatial(&self) -> bool {
        matches!(
            self,
            Drawn::Affine(_)
                | Drawn::Elastic(_)
                | Drawn::Flip(_)
                | Drawn::Rot90(_)
                | Drawn::Crop(_)
        )
    }

    /// Whether no sample is changed.
    pub(crate) fn is_noop(&self) -> bool {
        fn none<T>(v: &[Option<T>]) -> bool {
            v.iter().all(Option::is_none)
        }
        match self {
            Drawn::Affine(v) => none(v),
            Drawn::Elastic(v) => none(v),
            Drawn::Flip(v) => v.iter().all(|f| f.is_none_or(|f| f == [false; 3])),
            Drawn::Rot90(v) => none(v),
            Drawn::Crop(_) => false,
            Drawn::Resolution(v) => none(v),
            Drawn::Rescale { on, .. }
            | Drawn::ZNormalize { on, .. }
            | Drawn::ClipPercentiles { on, .. } => !on.contains(&true),
            Drawn::Gamma(v) | Drawn::Brightness(v) | Drawn::GaussianBlur(v) => none(v),
            Drawn::Contrast { factors, .. } => none(factors),
            Drawn::GaussianNoise(v) | Drawn::RicianNoise(v) => none(v),
            Drawn::Sharpen(v) => none(v),
            Drawn::BiasField(v) | Drawn::HistogramShift(v) => none(v),
            Drawn::Ghosting(v) => none(v),
            Drawn::Spike(v) => none(v),
            Drawn::Motion(v) => none(v),
        }
    }
}
