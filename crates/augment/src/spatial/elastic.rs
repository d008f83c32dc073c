//! Random elastic deformation: random displacements of a coarse grid of control points,
//! interpolated by a cubic B-spline into a smooth dense field (TorchIO's
//! `RandomElasticDeformation`). The field is never stored: the chain's one sampling call
//! evaluates the spline at the positions it needs.

use burn::tensor::{Device, Tensor, TensorData};
use medburn_core::Geometry;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::error::{check_magnitudes, check_prob, AugmentError, Result};
use crate::random::uniform;

/// Each control point, `control_spacing_mm` apart over the patch, moves by a displacement
/// uniform in `[-max_displacement_mm, max_displacement_mm]` per world axis; the dense field is
/// the cubic B-spline through them. With `locked_borders` the outermost control points stay
/// put, so no content moves in from outside the patch (TorchIO's default).
///
/// Defaults: `prob` 0.2, 6 mm at most per axis, control points every 24 mm. TorchIO warns that
/// displacements over half the control spacing may fold the image; 6 of 24 mm keeps well
/// within that.
///
/// ```
/// let e = medburn_augment::RandomElastic::default();
/// assert!(e.max_displacement_mm[0] < e.control_spacing_mm / 2.0);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomElastic {
    /// Probability that a sample is deformed.
    pub prob: f64,
    /// Largest displacement of a control point along the world x, y, z axes, mm.
    pub max_displacement_mm: [f64; 3],
    /// Distance between control points, mm.
    pub control_spacing_mm: f64,
    /// Keep the outermost control points in place.
    pub locked_borders: bool,
}

impl Default for RandomElastic {
    fn default() -> Self {
        Self {
            prob: 0.2,
            max_displacement_mm: [6.0; 3],
            control_spacing_mm: 24.0,
            locked_borders: true,
        }
    }
}

/// The control displacements drawn for one sample.
///
/// ```
/// let s = medburn_augment::ElasticSample { control_size: [1, 1, 1], displacement_mm: vec![[0.0; 3]] };
/// assert_eq!(s.displacement_mm.len(), 1);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ElasticSample {
    /// Control points along `(i, j, k)`; they span the patch from its first to its last voxel.
    pub control_size: [usize; 3],
    /// Displacement of each control point (world x, y, z, mm), `i` fastest.
    pub displacement_mm: Vec<[f64; 3]>,
}

impl RandomElastic {
    /// Fails on a probability outside [0, 1], negative or non-finite displacements, or a
    /// control spacing that is not positive.
    ///
    /// ```
    /// assert!(medburn_augment::RandomElastic { control_spacing_mm: 0.0, ..Default::default() }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        check_prob("elastic.prob", self.prob)?;
        check_magnitudes("elastic.max_displacement_mm", &self.max_displacement_mm)?;
        if !(self.control_spacing_mm.is_finite() && self.control_spacing_mm > 0.0) {
            return Err(AugmentError::Config(format!(
                "elastic.control_spacing_mm = {} must be positive",
                self.control_spacing_mm
            )));
        }
        Ok(())
    }

    /// Control points along each axis of `geometry`: enough for the spacing, at least 4 (the
    /// spline's support) where the axis has more than one voxel.
    fn control_size(&self, geometry: &Geometry) -> [usize; 3] {
        let (size, spacing) = (geometry.size(), geometry.spacing());
        std::array::from_fn(|a| {
            if size[a] <= 1 {
                return 1;
            }
            let extent = (size[a] - 1) as f64 * spacing[a];
            ((extent / self.control_spacing_mm).ceil() as usize + 1).clamp(4, size[a].max(4))
        })
    }

    /// Three values per control point, whatever the outcome.
    pub(crate) fn draw(&self, rng: &mut dyn RngCore, geometry: &Geometry) -> ElasticSample {
        let control_size = self.control_size(geometry);
        let [ci, cj, ck] = control_size;
        let mut displacement_mm = Vec::with_capacity(ci * cj * ck);
        for k in 0..ck {
            for j in 0..cj {
                for i in 0..ci {
                    let d = self.max_displacement_mm.map(|m| uniform(rng, -m, m));
                    let border = [(i, ci), (j, cj), (k, ck)]
                        .iter()
                        .any(|&(x, n)| n > 1 && (x == 0 || x == n - 1));
                    let locked = self.locked_borders && border;
                    displacement_mm.push(if locked { [0.0; 3] } else { d });
                }
            }
        }
        ElasticSample {
            control_size,
            displacement_mm,
        }
    }
}

/// The control displacements of a batch in voxels of the grid they deform (channels `(i, j,
/// k)`), zero for samples left alone.
#[derive(Clone, Debug)]
pub(crate) struct ControlField {
    control_size: [usize; 3],
    /// Per sample, `3 * points` values, channel-major.
    values: Vec<Option<Vec<f32>>>,
}

impl ControlField {
    /// Converts drawn samples (mm, world axes) to voxels of `geometry`; a one-voxel axis does
    /// not move.
    pub(crate) fn new(samples: &[Option<ElasticSample>], geometry: &Geometry) -> Result<Self> {
        let Some(first) = samples.iter().flatten().next() else {
            return Err(AugmentError::Params(
                "an elastic stage without a deformed sample".into(),
            ));
        };
        let control_size = first.control_size;
        let points: usize = control_size.iter().product();
        let to_index = geometry.physical_to_index_matrix();
        let size = geometry.size();
        let mut values = Vec::with_capacity(samples.len());
        for s in samples {
            let Some(s) = s else {
                values.push(None);
                continue;
            };
            if s.control_size != control_size || s.displacement_mm.len() != points {
                return Err(AugmentError::Params(format!(
                    "elastic sample with {} displacements for control size {:?} (all samples of a batch share one)",
                    s.displacement_mm.len(),
                    s.control_size
                )));
            }
            if s.displacement_mm.iter().flatten().any(|v| !v.is_finite()) {
                return Err(AugmentError::Params(
                    "elastic displacement is not finite".into(),
                ));
            }
            let mut v = vec![0.0f32; 3 * points];
            for (p, d) in s.displacement_mm.iter().enumerate() {
                for c in 0..3 {
                    if size[c] > 1 {
                        let x: f64 = (0..3).map(|k| to_index[c][k] * d[k]).sum();
                        v[c * points + p] = x as f32;
                    }
                }
            }
            values.push(Some(v));
        }
        Ok(Self {
            control_size,
            values,
        })
    }

    /// `[N, 3, ck, cj, ci]` on `device`.
    pub(crate) fn tensor(&self, batch: usize, device: &Device) -> Result<Tensor<5>> {
        if batch != self.values.len() {
            return Err(AugmentError::Params(format!(
                "elastic field for {} samples on a batch of {batch}",
                self.values.len()
            )));
        }
        let [ci, cj, ck] = self.control_size;
        let points = ci * cj * ck;
        let mut host = Vec::with_capacity(batch * 3 * points);
        for v in &self.values {
            match v {
                Some(v) => host.extend_from_slice(v),
                None => host.extend(std::iter::repeat_n(0.0f32, 3 * points)),
            }
        }
        Ok(Tensor::from_data(
            TensorData::new(host, [batch, 3, ck, cj, ci]),
            device,
        ))
    }
}
