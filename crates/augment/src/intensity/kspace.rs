//! MR artifacts made in k-space as TorchIO makes them (`RandomGhosting`, `RandomSpike`,
//! `RandomMotion`): the volume's centred spectrum is changed and transformed back, channel by
//! channel. The FFTs run on the host (`fft.rs`): on a GPU the volume goes down and back up once
//! per artifact.

use burn::tensor::{DType, Device, Tensor, TensorData};
use medburn_core::{dhw_to_ijk, Geometry};
use medburn_ops::{voxel_affine_sample_3d, Interpolation, SampleOptions};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::fft::Spectrum;
use crate::batch::map_samples;
use crate::error::{check_magnitudes, check_prob, check_range, AugmentError, Result};
use crate::random::uniform;
use crate::spatial::affine::AffineSample;

/// Ghosts along one axis (TorchIO `RandomGhosting`): every `n`-th plane of the centred k-space
/// across `axis` is scaled by `1 - intensity`, except the central `restore` fraction (which
/// keeps the image's contrast). `n` uniform in `num_ghosts`, the axis uniform among `axes`.
///
/// ```
/// let g = medburn_augment::RandomGhosting::default();
/// assert_eq!(g.num_ghosts, (4, 10));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomGhosting {
    /// Probability that a sample gets ghosts.
    pub prob: f64,
    /// Range of the plane step (ghost count).
    pub num_ghosts: (usize, usize),
    /// Voxel axes `(i, j, k)` that may carry the ghosts.
    pub axes: [bool; 3],
    /// Range of the intensity, in [0, 1].
    pub intensity: (f64, f64),
    /// Central fraction of k-space along the axis left alone.
    pub restore: f64,
}

impl Default for RandomGhosting {
    fn default() -> Self {
        Self {
            prob: 0.1,
            num_ghosts: (4, 10),
            axes: [true; 3],
            intensity: (0.5, 1.0),
            restore: 0.02,
        }
    }
}

/// The ghosting drawn for one sample.
///
/// ```
/// let s = medburn_augment::GhostingSample { num_ghosts: 4, axis: 1, intensity: 0.5, restore: 0.02 };
/// assert_eq!(s.axis, 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GhostingSample {
    /// Every this-many-th plane is scaled.
    pub num_ghosts: usize,
    /// Voxel axis `0 = i`, `1 = j`, `2 = k`.
    pub axis: usize,
    /// Planes are scaled by `1 - intensity`.
    pub intensity: f64,
    /// Central fraction left alone.
    pub restore: f64,
}

/// Spikes (TorchIO `RandomSpike`, herringbone artifacts): at `num_spikes` random places of the
/// centred k-space, the largest spectral magnitude times an intensity uniform in `intensity` is
/// added.
///
/// ```
/// let s = medburn_augment::RandomSpike::default();
/// assert_eq!(s.intensity, (1.0, 3.0));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomSpike {
    /// Probability that a sample gets spikes.
    pub prob: f64,
    /// Number of spikes.
    pub num_spikes: usize,
    /// Range of the intensity factor.
    pub intensity: (f64, f64),
}

impl Default for RandomSpike {
    fn default() -> Self {
        Self {
            prob: 0.1,
            num_spikes: 1,
            intensity: (1.0, 3.0),
        }
    }
}

/// The spikes drawn for one sample.
///
/// ```
/// let s = medburn_augment::SpikeSample { positions: vec![[0.1, 0.5, 0.9]], intensity: 2.0 };
/// assert_eq!(s.positions.len(), 1);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpikeSample {
    /// Places in the centred k-space, fractions of each axis `(i, j, k)` in [0, 1).
    pub positions: Vec<[f64; 3]>,
    /// Factor of the largest spectral magnitude added at each place.
    pub intensity: f64,
}

/// Patient motion during the acquisition (TorchIO `RandomMotion`): `num_transforms` rigid
/// motions (rotation about the world axes up to `degrees`, translation up to `translation_mm`,
/// about the patch centre) at random times; k-space is filled, along the voxel axis `k`, by
/// segments of the spectra of the moved copies, the original filling the centre.
///
/// ```
/// let m = medburn_augment::RandomMotion::default();
/// assert_eq!(m.num_transforms, 2);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomMotion {
    /// Probability that a sample moves.
    pub prob: f64,
    /// Largest rotation about each world axis, degrees.
    pub degrees: f64,
    /// Largest translation along each world axis, mm.
    pub translation_mm: f64,
    /// Number of motions.
    pub num_transforms: usize,
}

impl Default for RandomMotion {
    fn default() -> Self {
        Self {
            prob: 0.1,
            degrees: 10.0,
            translation_mm: 10.0,
            num_transforms: 2,
        }
    }
}

/// The motions drawn for one sample.
///
/// ```
/// let s = medburn_augment::MotionSample { motions: vec![], times: vec![] };
/// assert!(s.motions.is_empty());
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MotionSample {
    /// Each motion of the content: rotation (radians) and translation (mm).
    pub motions: Vec<([f64; 3], [f64; 3])>,
    /// When each motion starts, as fractions of the acquisition, increasing.
    pub times: Vec<f64>,
}

impl RandomGhosting {
    /// Fails on a probability outside [0, 1], no axis, a ghost range that is not
    /// `1 <= min <= max`, or intensities or `restore` outside [0, 1].
    ///
    /// ```
    /// assert!(medburn_augment::RandomGhosting { restore: 2.0, ..Default::default() }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        check_prob("ghosting.prob", self.prob)?;
        check_range("ghosting.intensity", self.intensity, false)?;
        let (lo, hi) = self.num_ghosts;
        let ok = 1 <= lo
            && lo <= hi
            && self.axes.contains(&true)
            && (0.0..=1.0).contains(&self.intensity.0)
            && (0.0..=1.0).contains(&self.intensity.1)
            && (0.0..=1.0).contains(&self.restore);
        if !ok {
            return Err(AugmentError::Config(format!(
                "ghosting settings {self:?} out of range"
            )));
        }
        Ok(())
    }

    pub(crate) fn draw(&self, rng: &mut dyn RngCore) -> GhostingSample {
        let (lo, hi) = self.num_ghosts;
        let span = hi.saturating_sub(lo) + 1;
        let num_ghosts = lo + (uniform(rng, 0.0, span as f64) as usize).min(span - 1);
        let allowed: Vec<usize> = (0..3).filter(|&a| self.axes[a]).collect();
        let n = allowed.len().max(1);
        let pick = (uniform(rng, 0.0, n as f64) as usize).min(n - 1);
        GhostingSample {
            num_ghosts: num_ghosts.max(1),
            axis: allowed.get(pick).copied().unwrap_or(0),
            intensity: uniform(rng, self.intensity.0, self.intensity.1),
            restore: self.restore,
        }
    }
}

impl RandomSpike {
    /// Fails on a probability outside [0, 1] or a non-finite intensity range.
    ///
    /// ```
    /// assert!(medburn_augment::RandomSpike { intensity: (2.0, 1.0), ..Default::default() }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        check_prob("spike.prob", self.prob)?;
        check_range("spike.intensity", self.intensity, false)
    }

    pub(crate) fn draw(&self, rng: &mut dyn RngCore) -> SpikeSample {
        let positions = (0..self.num_spikes)
            .map(|_| [0; 3].map(|_| uniform(rng, 0.0, 1.0)))
            .collect();
        SpikeSample {
            positions,
            intensity: uniform(rng, self.intensity.0, self.intensity.1),
        }
    }
}

impl RandomMotion {
    /// Fails on a probability outside [0, 1], negative ranges, or no motion.
    ///
    /// ```
    /// assert!(medburn_augment::RandomMotion { num_transforms: 0, ..Default::default() }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        check_prob("motion.prob", self.prob)?;
        check_magnitudes("motion.degrees", &[self.degrees, self.translation_mm])?;
        if self.num_transforms == 0 || self.num_transforms > 16 {
            return Err(AugmentError::Config(
                "motion.num_transforms must be 1 to 16".into(),
            ));
        }
        Ok(())
    }

    /// Times as TorchIO draws them: equally spaced, each moved by up to a quarter step.
    pub(crate) fn draw(&self, rng: &mut dyn RngCore) -> MotionSample {
        let n = self.num_transforms;
        let step = 1.0 / (n + 1) as f64;
        let motions = (0..n)
            .map(|_| {
                let r = [0; 3].map(|_| uniform(rng, -self.degrees, self.degrees).to_radians());
                let t = [0; 3].map(|_| uniform(rng, -self.translation_mm, self.translation_mm));
                (r, t)
            })
            .collect();
        let times = (0..n)
            .map(|i| (i + 1) as f64 * step + uniform(rng, -step / 4.0, step / 4.0))
            .collect();
        MotionSample { motions, times }
    }
}

/// A tensor's values as f32 on the host, where the spectra are computed.
fn download(x: Tensor<5>, what: &str) -> Result<Vec<f32>> {
    x.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| AugmentError::Params(format!("{what}: {e:?}")))
}

/// Host values back on `device` as `dtype`.
fn upload(values: Vec<f32>, dims: [usize; 5], device: &Device, dtype: DType) -> Tensor<5> {
    Tensor::<5>::from_data(TensorData::new(values, dims), device).cast(dtype)
}

/// Each channel of a `[1, C, D, H, W]` sample through `f` on its spectrum.
fn per_channel(
    x: Tensor<5>,
    mut f: impl FnMut(&mut Spectrum, usize) -> Result<()>,
) -> Result<Tensor<5>> {
    let dims = x.dims();
    let [_, c, d, h, w] = dims;
    let v = d * h * w;
    let (device, dtype) = (x.device(), x.dtype());
    let host = download(x, "k-space")?;
    let mut out = Vec::with_capacity(host.len());
    for ch in 0..c {
        let mut s = Spectrum::forward(&host[ch * v..(ch + 1) * v], dhw_to_ijk([d, h, w]));
        f(&mut s, ch)?;
        out.extend(s.inverse_real());
    }
    Ok(upload(out, dims, &device, dtype))
}

pub(crate) fn apply_ghosting(
    samples: &[Option<GhostingSample>],
    image: Tensor<5>,
) -> Result<Tensor<5>> {
    map_samples(image, samples, |x, g| {
        if g.num_ghosts == 0
            || g.axis > 2
            || !(0.0..=1.0).contains(&g.restore)
            || !g.intensity.is_finite()
        {
            return Err(AugmentError::Params(format!(
                "ghosting {g:?} cannot be applied"
            )));
        }
        if g.intensity == 0.0 {
            return Ok(x);
        }
        per_channel(x, |s, _| {
            let n = s.size[g.axis];
            let mid = n / 2;
            // TorchIO's restored slab: [mid - r/2, mid + r/2) with r = round(restore n).
            let r = (g.restore * n as f64).round() as usize;
            let keep = (mid - (r / 2).min(mid))..(mid + r / 2);
            let factor = 1.0 - g.intensity;
            let [ni, nj, nk] = s.size;
            for plane in (0..n).step_by(g.num_ghosts) {
                if keep.contains(&plane) {
                    continue;
                }
                for a in 0..[nj * nk, ni * nk, ni * nj][g.axis] {
                    let idx = match g.axis {
                        0 => [plane, a % nj, a / nj],
                        1 => [a % ni, plane, a / ni],
                        _ => [a % ni, a / ni, plane],
                    };
                    let at = s.at_shifted(idx);
                    s.data[at].scale(factor);
                }
            }
            Ok(())
        })
    })
}

pub(crate) fn apply_spike(samples: &[Option<SpikeSample>], image: Tensor<5>) -> Result<Tensor<5>> {
    map_samples(image, samples, |x, sp| {
        if sp
            .positions
            .iter()
            .flatten()
            .any(|p| !(0.0..1.0).contains(p))
            || !sp.intensity.is_finite()
        {
            return Err(AugmentError::Params(format!(
                "spike {sp:?} cannot be applied"
            )));
        }
        if sp.intensity == 0.0 || sp.positions.is_empty() {
            return Ok(x);
        }
        per_channel(x, |s, _| {
            let peak = s.data.iter().map(|c| c.norm()).fold(0.0f64, f64::max);
            let artifact = peak * sp.intensity;
            for p in &sp.positions {
                let idx: [usize; 3] =
                    std::array::from_fn(|a| (p[a] * s.size[a] as f64).floor() as usize);
                let at = s.at_shifted(idx);
                s.data[at].re += artifact;
            }
            Ok(())
        })
    })
}

pub(crate) fn apply_motion(
    samples: &[Option<MotionSample>],
    image: Tensor<5>,
    g: &Geometry,
) -> Result<Tensor<5>> {
    map_samples(image, samples, |x, m| {
        let n = m.motions.len();
        let increasing = m.times.windows(2).all(|w| w[0] <= w[1]);
        if m.times.len() != n || !increasing || m.times.iter().any(|t| !(0.0..=1.0).contains(t)) {
            return Err(AugmentError::Params(format!(
                "motion {m:?}: one time per motion, increasing, in [0, 1]"
            )));
        }
        if n == 0 {
            return Ok(x);
        }
        // The original and each moved copy, resampled linearly in one batched call.
        let [_, c, d, h, w] = x.dims();
        let mut matrices: Vec<f64> = crate::IDENTITY[..3].iter().flatten().copied().collect();
        for (r, t) in &m.motions {
            let s = AffineSample {
                rotation_rad: *r,
                scale: [1.0; 3],
                shear: [0.0; 3],
                translation_mm: *t,
            };
            let v = s.voxel_matrix(g)?;
            matrices.extend(v[..3].iter().flatten());
        }
        let matrix = Tensor::<3>::from_data(
            TensorData::new(matrices, [n + 1, 3, 4]),
            (&x.device(), x.dtype()),
        );
        let copies = voxel_affine_sample_3d(
            x.clone().expand([n + 1, c, d, h, w]),
            matrix,
            [d, h, w],
            SampleOptions::itk(Interpolation::Linear),
        )?;
        let host = download(copies, "motion")?;
        let v = d * h * w;
        // Segments of k along the centred spectrum: [0, t1 nk), [t1 nk, t2 nk), ..., up to nk;
        // the original fills the segment holding the centre (TorchIO's `sort_spectra`).
        let mut bounds: Vec<usize> = m.times.iter().map(|t| (t * d as f64) as usize).collect();
        bounds.push(d);
        let centre = m.times.iter().position(|&t| t > 0.5).unwrap_or(n);
        let mut order: Vec<usize> = (0..=n).collect();
        order.swap(0, centre);
        let mut out = Vec::with_capacity(c * v);
        for ch in 0..c {
            let spectra: Vec<Spectrum> = (0..=n)
                .map(|copy| {
                    Spectrum::forward(
                        &host[(copy * c + ch) * v..(copy * c + ch + 1) * v],
                        dhw_to_ijk([d, h, w]),
                    )
                })
                .collect();
            let mut result = Spectrum {
                size: [w, h, d],
                data: vec![Default::default(); v],
            };
            let mut start = 0;
            for (segment, &end) in bounds.iter().enumerate() {
                let from = &spectra[order[segment]];
                for k in start..end.max(start) {
                    for j in 0..h {
                        for i in 0..w {
                            let at = result.at_shifted([i, j, k]);
                            result.data[at] = from.data[at];
                        }
                    }
                }
                start = end.max(start);
            }
            out.extend(result.inverse_real());
        }
        Ok(upload(out, [1, c, d, h, w], &x.device(), x.dtype()))
    })
}
