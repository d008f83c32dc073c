//! What the optimization stages (affine, deformable) share: the images' statistics read once,
//! the resolution pyramid, intensities prepared for a metric, the similarity loss of a warped
//! moving image, and Adam on host parameters.

use burn::tensor::{DType, Tensor, TensorData};
use medburn_core::{Geometry, MedImage};
use medburn_ops::{gaussian_smooth_3d, Padding};
use medburn_spatial::{grid_at_spacing, resample_voxels, Interpolation};
use rayon::prelude::*;

use crate::affine::Similarity;
use crate::error::RegistrationError;
use crate::losses::{
    GlobalMutualInformationLoss, GlobalMutualInformationLossConfig,
    LocalNormalizedCrossCorrelationLoss, LocalNormalizedCrossCorrelationLossConfig,
};

/// An image's Gaussian pyramid, coarsest level first: level `l` of `levels` is on the grid of
/// `2^(levels - 1 - l)` times the spacing, each level made from the next finer one (smoothed
/// with a Gaussian of one voxel, then resampled), so that only the finest level is smoothed at
/// full resolution.
pub(crate) fn pyramid(
    geometry: &Geometry,
    voxels: Tensor<5>,
    levels: usize,
) -> crate::Result<Vec<(Geometry, Tensor<5>)>> {
    let mut out = vec![(*geometry, voxels)];
    for _ in 1..levels {
        let (g, v) = out.last().cloned().ok_or_else(|| {
            RegistrationError::Option("a pyramid needs at least one level".into())
        })?;
        let coarse = grid_at_spacing(&g, g.spacing().map(|s| s * 2.0))?;
        let smooth = gaussian_smooth_3d(v, [1.0; 3], Padding::Border)?;
        let v = resample_voxels(smooth, &g, &coarse, None, Interpolation::Linear)?;
        out.push((coarse, v));
    }
    out.reverse();
    Ok(out)
}

/// What the registration needs from an image's values, read once.
pub(crate) struct HostStats {
    pub(crate) std: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
    /// The intensity-weighted centre (LPS, mm) of the values above the minimum.
    pub(crate) centre_of_mass: [f64; 3],
}

pub(crate) fn host_stats(
    name: &str,
    image: &MedImage,
    mask: Option<&MedImage>,
) -> crate::Result<HostStats> {
    let values = image
        .to_vec()
        .map_err(|e| RegistrationError::Readback(e.to_string()))?;
    if let Some(i) = values.par_iter().position_first(|v| !v.is_finite()) {
        return Err(RegistrationError::Option(format!(
            "the {name} image has a NaN or infinite voxel (at flat index {i})"
        )));
    }
    // With a mask, the statistics of the voxels it keeps (a mask's size is checked by
    // `mask_voxels`; one of another size is ignored here and refused there).
    let mask = match mask.map(MedImage::to_vec) {
        Some(Ok(m)) if m.len() == values.len() => Some(m),
        _ => None,
    };
    let kept = |n: usize| mask.as_ref().is_none_or(|m| m[n] > 0.0);
    let [ni, nj, _] = image.geometry().size();
    let plane = (ni * nj).max(1);
    // One parallel pass per plane of k: count, sum, min, max; then the spread and the centre
    // (which needs the minimum).
    let first = values
        .par_chunks(plane)
        .enumerate()
        .map(|(k, values)| {
            let mut acc = (0usize, 0.0f64, f32::INFINITY, f32::NEG_INFINITY);
            for (r, &v) in values.iter().enumerate() {
                if kept(k * plane + r) {
                    acc = (acc.0 + 1, acc.1 + v as f64, acc.2.min(v), acc.3.max(v));
                }
            }
            acc
        })
        .reduce(
            || (0, 0.0, f32::INFINITY, f32::NEG_INFINITY),
            |a, b| (a.0 + b.0, a.1 + b.1, a.2.min(b.2), a.3.max(b.3)),
        );
    let (count, sum, min, max) = first;
    if count == 0 {
        return Err(RegistrationError::Option(
            "the fixed mask is empty (no voxel above 0): nothing to compare".into(),
        ));
    }
    let (min, max) = (min as f64, max as f64);
    if max <= min {
        return Err(RegistrationError::Option(format!(
            "the {name} image is constant ({min}): nothing to register"
        )));
    }
    let mean = sum / count as f64;
    // Squared deviations, and the index sums weighted by the value above the minimum.
    let (squares, weighted, total) = values
        .par_chunks(plane)
        .enumerate()
        .map(|(k, values)| {
            let (mut sq, mut wsum, mut total) = (0.0f64, [0.0f64; 3], 0.0f64);
            for (r, &v) in values.iter().enumerate() {
                if kept(k * plane + r) {
                    let v = v as f64;
                    sq += (v - mean).powi(2);
                    let w = v - min;
                    if w > 0.0 {
                        wsum[0] += w * (r % ni) as f64;
                        wsum[1] += w * (r / ni) as f64;
                        wsum[2] += w * k as f64;
                        total += w;
                    }
                }
            }
            (sq, wsum, total)
        })
        .reduce(
            || (0.0, [0.0; 3], 0.0),
            |a, b| (a.0 + b.0, [0, 1, 2].map(|i| a.1[i] + b.1[i]), a.2 + b.2),
        );
    let index = weighted.map(|s| s / total);
    Ok(HostStats {
        std: (squares / count as f64).sqrt(),
        min,
        max,
        centre_of_mass: image.geometry().index_to_physical(index),
    })
}

/// Refuses what no stage registers: more than one channel each.
pub(crate) fn check_single_channel(fixed: &MedImage, moving: &MedImage) -> crate::Result<()> {
    if fixed.channels() != 1 || moving.channels() != 1 {
        return Err(RegistrationError::Shape(format!(
            "one channel each: fixed has {}, moving {}",
            fixed.channels(),
            moving.channels()
        )));
    }
    Ok(())
}

/// The voxels of `image` on `device`, scaled as `metric` compares them: for MSE both by the
/// fixed image's standard deviation (the images share a contrast, and their own statistics
/// differ with their fields of view), for MI each to [0, 1], for LNCC as they are.
pub(crate) fn prepared_voxels(
    image: &MedImage,
    own: &HostStats,
    fixed: &HostStats,
    metric: Similarity,
    device: &burn::tensor::Device,
) -> Tensor<5> {
    let v = image.voxels().clone().to_device(device);
    match metric {
        Similarity::Mse => v / fixed.std.max(1e-12),
        Similarity::Lncc => v,
        Similarity::Mi => (v - own.min) / (own.max - own.min).max(1e-12),
    }
}

/// The similarity loss of a warped moving image against the fixed one (lower is better).
pub(crate) struct SimilarityLoss {
    metric: Similarity,
    lncc: LocalNormalizedCrossCorrelationLoss,
    mi: GlobalMutualInformationLoss,
}

impl SimilarityLoss {
    /// LNCC over `lncc_kernel`-voxel windows, MI with 32 Gaussian Parzen bins.
    pub(crate) fn new(metric: Similarity, lncc_kernel: usize) -> SimilarityLoss {
        SimilarityLoss {
            metric,
            lncc: LocalNormalizedCrossCorrelationLossConfig::new()
                .with_kernel_size(lncc_kernel)
                .init(),
            mi: GlobalMutualInformationLossConfig::new()
                .with_num_bins(32)
                .init(),
        }
    }

    /// The loss; `cover` gives where the moving image reaches on the fixed grid (the warped
    /// ones), asked only by the metrics that use it (MSE and MI: the zeros beyond the moving
    /// image must not count as intensities); `mask` weights the fixed voxels (a fixed-image
    /// mask at this level), every voxel counting fully without one.
    pub(crate) fn forward(
        &self,
        warped: Tensor<5>,
        fixed: Tensor<5>,
        mask: Option<Tensor<5>>,
        cover: impl FnOnce() -> crate::Result<Tensor<5>>,
    ) -> crate::Result<Tensor<1>> {
        let weigh = |cover: Tensor<5>| match &mask {
            Some(m) => cover * m.clone(),
            None => cover,
        };
        Ok(match self.metric {
            Similarity::Mse => {
                let w = weigh(cover()?);
                ((warped - fixed).powi_scalar(2) * w.clone()).sum() / (w.sum() + 1e-6)
            }
            Similarity::Lncc => match &mask {
                None => self.lncc.forward(warped, fixed)?,
                Some(m) => {
                    let ncc = self.lncc.ncc(warped, fixed)?;
                    ((ncc * m.clone()).sum() / (m.clone().sum() + 1e-6)).neg()
                }
            },
            Similarity::Mi => self
                .mi
                .mutual_information_masked(warped, fixed, weigh(cover()?))?
                .mean()
                .neg(),
        })
    }
}

/// Adam (Kingma and Ba's defaults) on parameters kept on the host.
pub(crate) struct HostAdam {
    m1: Vec<f64>,
    m2: Vec<f64>,
    t: i32,
}

impl HostAdam {
    pub(crate) fn new(n: usize) -> HostAdam {
        HostAdam {
            m1: vec![0.0; n],
            m2: vec![0.0; n],
            t: 0,
        }
    }

    /// One step: parameter `k` moves by its own step `lr(k)`.
    pub(crate) fn step(&mut self, params: &mut [f64], grads: &[f64], lr: impl Fn(usize) -> f64) {
        let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8f64);
        self.t += 1;
        let (c1, c2) = (1.0 - b1.powi(self.t), 1.0 - b2.powi(self.t));
        for (k, (p, &g)) in params.iter_mut().zip(grads).enumerate() {
            self.m1[k] = b1 * self.m1[k] + (1.0 - b1) * g;
            self.m2[k] = b2 * self.m2[k] + (1.0 - b2) * g * g;
            *p -= lr(k) * (self.m1[k] / c1) / ((self.m2[k] / c2).sqrt() + eps);
        }
    }
}

/// A tensor's values on the host.
pub(crate) fn host_f64<const D: usize>(t: &Tensor<D>) -> crate::Result<Vec<f64>> {
    t.clone()
        .into_data()
        .convert::<f64>()
        .try_to_vec::<f64>()
        .map_err(|e| RegistrationError::Readback(format!("{e:?}")))
}

/// A fixed-image mask checked against the fixed image (one channel, the fixed grid's size, at
/// least one voxel above 0) as voxels of 0 and 1 on `device`.
pub(crate) fn mask_voxels(
    mask: &MedImage,
    fixed: &MedImage,
    device: &burn::tensor::Device,
) -> crate::Result<Tensor<5>> {
    if mask.channels() != 1 || mask.geometry().size() != fixed.geometry().size() {
        return Err(RegistrationError::Shape(format!(
            "the fixed mask must be one channel on the fixed image's grid: {} channels of {:?} \
             for a grid of {:?}",
            mask.channels(),
            mask.geometry().size(),
            fixed.geometry().size()
        )));
    }
    let m = mask
        .voxels()
        .clone()
        .to_device(device)
        .greater_elem(0.0)
        .float();
    let inside = m.clone().sum().into_scalar::<f32>();
    if inside < 1.0 {
        return Err(RegistrationError::Option(
            "the fixed mask is empty (no voxel above 0): nothing to compare".into(),
        ));
    }
    Ok(m)
}

/// The gradient of a parameter tensor, on the host.
pub(crate) fn host_gradient<const D: usize>(
    param: &Tensor<D>,
    grads: &burn::tensor::Gradients,
) -> crate::Result<Vec<f64>> {
    let g = param
        .grad(grads)
        .ok_or_else(|| RegistrationError::Readback("no gradient for the transform".into()))?;
    host_f64(&g)
}

/// A loss value on the host, refused when it is not finite.
pub(crate) fn finite_loss(loss: &Tensor<1>, level: usize, step: usize) -> crate::Result<f64> {
    let value = loss.clone().into_scalar::<f32>() as f64;
    if !value.is_finite() {
        return Err(RegistrationError::Option(format!(
            "the loss became {value} at level {level}, step {step}: do the images overlap?"
        )));
    }
    Ok(value)
}

/// Linear decay of a level's step to a tenth over its `steps`.
pub(crate) fn decay(step: usize, steps: usize) -> f64 {
    1.0 - 0.9 * step as f64 / steps.max(2).saturating_sub(1) as f64
}

/// A fixed set of the fixed image's voxels at one pyramid level (ITK's random sampling,
/// drawn once per level): their physical points and values, so that a step of a linear stage
/// costs the samples, not the grid.
pub(crate) struct FixedSamples {
    /// Physical points (LPS, mm) `[K, 3]`.
    points: Tensor<2>,
    /// The fixed image's values there, `[1, 1, 1, 1, K]`.
    pub(crate) values: Tensor<5>,
}

impl FixedSamples {
    /// `count` of the voxels of `voxels` (on `grid`; all where there are fewer), drawn
    /// without replacement by a generator seeded with `seed`; only where `mask` is above 0.5
    /// when there is one (above 0 where no voxel is: a small mask at a coarse level).
    pub(crate) fn draw(
        grid: &Geometry,
        voxels: &Tensor<5>,
        mask: Option<&Tensor<5>>,
        count: usize,
        seed: u64,
    ) -> crate::Result<FixedSamples> {
        let values = host_f64(voxels)?;
        let mut order: Vec<usize> = match mask {
            None => (0..grid.num_voxels()).collect(),
            Some(m) => {
                let m = host_f64(m)?;
                let inside: Vec<usize> = (0..m.len()).filter(|&i| m[i] > 0.5).collect();
                if inside.is_empty() {
                    (0..m.len()).filter(|&i| m[i] > 0.0).collect()
                } else {
                    inside
                }
            }
        };
        let n = order.len();
        if n == 0 {
            return Err(RegistrationError::Option(
                "the fixed mask holds no voxel at this level".into(),
            ));
        }
        let k = count.min(n);
        // A partial Fisher-Yates shuffle of the candidates' flat indices.
        let mut state = seed ^ 0x9E37_79B9_7F4A_7C15;
        for i in 0..k {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let j = i + (z % (n - i) as u64) as usize;
            order.swap(i, j);
        }
        // In memory order, so that consecutive samples read nearby voxels.
        order[..k].sort_unstable();
        let [ni, nj, _] = grid.size();
        let mut points = Vec::with_capacity(3 * k);
        let mut picked = Vec::with_capacity(k);
        for &flat in &order[..k] {
            let idx = [
                (flat % ni) as f64,
                ((flat / ni) % nj) as f64,
                (flat / (ni * nj)) as f64,
            ];
            points.extend_from_slice(&grid.index_to_physical(idx));
            picked.push(values[flat]);
        }
        let device = voxels.device();
        let dtype = voxels.dtype();
        Ok(FixedSamples {
            points: Tensor::<2>::from_data(TensorData::new(points, [k, 3]), (&device, DType::F64))
                .cast(dtype),
            values: Tensor::<5>::from_data(
                TensorData::new(picked, [1, 1, 1, 1, k]),
                (&device, DType::F64),
            )
            .cast(dtype),
        })
    }

    /// `moving` (`[1, 1, D, H, W]` on `grid`) read at the samples' points moved by
    /// `transform` (`[1, 3, 4]`, fixed point -> moving point): `[1, 1, 1, 1, K]`,
    /// differentiable with respect to the image and the transform. Beyond the moving image, 0.
    pub(crate) fn read(
        &self,
        moving: Tensor<5>,
        grid: &Geometry,
        transform: Tensor<3>,
    ) -> crate::Result<Tensor<5>> {
        let [k, _] = self.points.dims();
        let device = self.points.device();
        let dtype = moving.dtype();
        let a = transform.clone().narrow(2, 0, 3).reshape([3, 3]);
        let b = transform.narrow(2, 3, 1).reshape([1, 3]);
        let q = self.points.clone().matmul(a.transpose()) + b;
        let inv = grid.physical_to_index_matrix();
        let o = grid.origin();
        let sizes = grid.size();
        // Normalized coordinate c = s (M^-1 (q - o)) - 1, per axis, as one [3, 3] product.
        let mut m = vec![0.0f64; 9];
        let mut shift = vec![0.0f64; 3];
        for c in 0..3 {
            let s = if sizes[c] > 1 {
                2.0 / (sizes[c] as f64 - 1.0)
            } else {
                0.0
            };
            for r in 0..3 {
                // Row-vector form: out[c] = sum_r q[r] * (s * inv[c][r]).
                m[r * 3 + c] = s * inv[c][r];
            }
            shift[c] = -s * (0..3).map(|r| inv[c][r] * o[r]).sum::<f64>() - 1.0;
        }
        let m =
            Tensor::<2>::from_data(TensorData::new(m, [3, 3]), (&device, DType::F64)).cast(dtype);
        let shift = Tensor::<2>::from_data(TensorData::new(shift, [1, 3]), (&device, DType::F64))
            .cast(dtype);
        let grid_positions = (q.matmul(m) + shift).reshape([1, 1, 1, k, 3]);
        Ok(medburn_ops::grid_sample_3d(
            moving,
            grid_positions,
            medburn_ops::SampleOptions::itk(Interpolation::Linear).with_align_corners(true),
        )?)
    }
}
