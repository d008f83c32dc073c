//! Random elastic deformation: random displacements of a coarse grid of control points,
//! smoothed by a cubic B-spline into a dense field (TorchIO's `RandomElasticDeformation`, where
//! the control displacements are the spline's coefficients). The dense field is three small
//! matrix products (the spline is separable); the chain's sampling reads it where it needs it.

use burn::tensor::{Device, Tensor, TensorData};
use medburn_core::Geometry;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::error::{check_magnitudes, check_prob, AugmentError, Result};
use crate::random::uniform;

/// Control points about `control_spacing_mm` apart span the patch (its first and last voxels
/// are control points), with one more ring outside; each moves by a displacement uniform in
/// `[-max_displacement_mm, max_displacement_mm]` per world axis, and the dense field is the cubic
/// B-spline with those coefficients: smooth, and never beyond the largest control displacement.
/// With `locked_borders` the outside ring and the ring on the patch edges stay put, so the edges
/// barely move and little content comes in from outside (TorchIO's `locked_borders=2`).
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
    /// Control points (spline coefficients) along `(i, j, k)`, the outside ring included; one
    /// along an axis of one voxel.
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

    /// Control points along each axis of `geometry`: at least two on the patch (its first and
    /// last voxels) and enough for the spacing, plus the outside ring; one on a one-voxel axis.
    fn control_size(&self, geometry: &Geometry) -> [usize; 3] {
        let (size, spacing) = (geometry.size(), geometry.spacing());
        std::array::from_fn(|a| {
            if size[a] <= 1 {
                return 1;
            }
            let extent = (size[a] - 1) as f64 * spacing[a];
            let inside = ((extent / self.control_spacing_mm).ceil() as usize + 1).clamp(2, size[a]);
            inside + 2
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
                    // The outside ring and the ring on the patch edges.
                    let border = [(i, ci), (j, cj), (k, ck)]
                        .iter()
                        .any(|&(x, n)| n > 1 && (x <= 1 || x + 2 >= n));
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
        let to_index = geometry.physical_to_index_matrix();
        let size = geometry.size();
        Self::converted(samples, |d, c| {
            if size[c] > 1 {
                (0..3).map(|k| to_index[c][k] * d[k]).sum()
            } else {
                0.0
            }
        })
    }

    /// The drawn samples as they are (mm along world axes).
    pub(crate) fn in_mm(samples: &[Option<ElasticSample>]) -> Result<Self> {
        Self::converted(samples, |d, c| d[c])
    }

    /// Channel `c` of each control point is `convert(displacement_mm, c)`. Every deformed
    /// sample must share the first one's control grid and be finite.
    fn converted(
        samples: &[Option<ElasticSample>],
        convert: impl Fn(&[f64; 3], usize) -> f64,
    ) -> Result<Self> {
        let Some(first) = samples.iter().flatten().next() else {
            return Err(AugmentError::Params(
                "an elastic stage without a deformed sample".into(),
            ));
        };
        let control_size = first.control_size;
        let points: usize = control_size.iter().product();
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
                    v[c * points + p] = convert(d, c) as f32;
                }
            }
            values.push(Some(v));
        }
        Ok(Self {
            control_size,
            values,
        })
    }

    /// The field `p -> F(E(F(p)))` for per-sample flips `F`: coefficients reversed along each
    /// flipped axis (the coefficient grid is symmetric about the patch centre) and that
    /// component negated.
    pub(crate) fn mirrored(&self, flips: &[[bool; 3]]) -> Self {
        let [ci, cj, ck] = self.control_size;
        let points = ci * cj * ck;
        let values = self
            .values
            .iter()
            .zip(flips)
            .map(|(v, f)| {
                v.as_ref().map(|v| {
                    let mut out = vec![0.0f32; v.len()];
                    for c in 0..3 {
                        let sign = if f[c] { -1.0 } else { 1.0 };
                        for k in 0..ck {
                            for j in 0..cj {
                                for i in 0..ci {
                                    let src = [i, j, k];
                                    let [a, b, d] = std::array::from_fn(|x| {
                                        let n = [ci, cj, ck][x];
                                        if f[x] {
                                            n - 1 - src[x]
                                        } else {
                                            src[x]
                                        }
                                    });
                                    out[c * points + (d * cj + b) * ci + a] =
                                        sign * v[c * points + (k * cj + j) * ci + i];
                                }
                            }
                        }
                    }
                    out
                })
            })
            .collect();
        Self {
            control_size: self.control_size,
            values,
        }
    }

    /// The dense displacement `[N, 3, D, H, W]` (voxels, channels `(i, j, k)`) on a grid of
    /// `size` `[i, j, k]`: the cubic B-spline of the coefficients, one matrix product per axis.
    pub(crate) fn dense(
        &self,
        batch: usize,
        size: [usize; 3],
        device: &Device,
    ) -> Result<Tensor<5>> {
        spline_field(self.tensor(batch, device)?, size)
    }

    /// `[N, 3, ck, cj, ci]` on `device`, zeros for samples left alone.
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

/// The dense field `[N, C, D, H, W]` of B-spline coefficients `[N, C, ck, cj, ci]` on a grid
/// of `size` `[i, j, k]`: one matrix product per axis, so it is differentiable with respect to
/// the coefficients.
pub(crate) fn spline_field(c: Tensor<5>, size: [usize; 3]) -> Result<Tensor<5>> {
    let [batch, channels, ck, cj, ci] = c.dims();
    let [ni, nj, nk] = size;
    let device = c.device();
    let weights = |c: usize, n: usize| -> Result<Tensor<2>> {
        let w = spline_weights(c, n).ok_or_else(|| {
            AugmentError::Params(format!(
                "{c} elastic control points do not fit an axis of {n} voxels"
            ))
        })?;
        Ok(Tensor::from_data(TensorData::new(w, [c, n]), &device))
    };
    let (wi, wj, wk) = (weights(ci, ni)?, weights(cj, nj)?, weights(ck, nk)?);
    let b = batch * channels;
    // Contract k, then j, then i, each time with the contracted axis last, so that the last
    // (largest) product writes the field in its final layout; only small tensors are permuted.
    let x = c.reshape([b, ck, cj, ci]).permute([0, 2, 3, 1]); // [b, cj, ci, ck]
    let x = x.reshape([b * cj * ci, ck]).matmul(wk); // [.., nk]
    let x = x.reshape([b, cj, ci, nk]).permute([0, 3, 2, 1]); // [b, nk, ci, cj]
    let x = x.reshape([b * nk * ci, cj]).matmul(wj); // [.., nj]
    let x = x.reshape([b, nk, ci, nj]).swap_dims(2, 3); // [b, nk, nj, ci]
    let x = x.reshape([b * nk * nj, ci]).matmul(wi); // [.., ni]
    Ok(x.reshape([batch, channels, nk, nj, ni]))
}

/// The cubic B-spline basis function.
fn beta3(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 {
        (4.0 - 6.0 * x * x + 3.0 * x * x * x) / 6.0
    } else if x < 2.0 {
        (2.0 - x).powi(3) / 6.0
    } else {
        0.0
    }
}

/// `[c, n]` weights (row-major) of `c` coefficients (the outside ring included) at the `n`
/// voxels of an axis: the patch's first and last voxels sit on coefficients 1 and `c - 2`.
/// `None` when `c` does not fit (fewer than 4 on a longer axis, or not 1 on a one-voxel axis).
fn spline_weights(c: usize, n: usize) -> Option<Vec<f32>> {
    if n == 1 || c == 1 {
        return (n == 1 && c == 1).then(|| vec![1.0]);
    }
    if c < 4 {
        return None;
    }
    let step = (n - 1) as f64 / (c - 3) as f64;
    let mut w = vec![0.0f32; c * n];
    for x in 0..n {
        let u = x as f64 / step + 1.0;
        let base = u.floor() as i64;
        for m in base - 1..=base + 2 {
            if (0..c as i64).contains(&m) {
                w[m as usize * n + x] = beta3(u - m as f64) as f32;
            }
        }
    }
    Some(w)
}
