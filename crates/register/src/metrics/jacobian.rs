//! Jacobian determinants of a displacement field: where the transform folds space over itself
//! (a determinant at or below zero) and how much it compresses or expands the rest.

use burn::tensor::{DType, Tensor};
use serde::Serialize;

use crate::error::RegistrationError;
use crate::losses::{central_difference, check_field};

/// The Jacobian determinant `det(I + ∂u/∂x)` of the map `x -> x + u(x)` at each interior
/// voxel of a displacement field `[N, 3, D, H, W]`, as `[N, 1, D - 2, H - 2, W - 2]`. The
/// vector components are along the axes `D, H, W` in the units of `spacing` (the grid's
/// spacing along `D, H, W`: millimetres for a field in mm, `[1.0; 3]` for one in voxels);
/// derivatives are central differences, as SimpleITK's
/// `DisplacementFieldJacobianDeterminantFilter` inside the grid (it also fills the border
/// with one-sided values; these are left out here). Differentiable, so that it can also
/// serve as a penalty on folding.
///
/// ```
/// use burn::tensor::{Device, Int, Tensor};
/// use medburn_register::metrics::jacobian_determinant;
///
/// let device = Device::flex();
/// // u = 0.2 x along every axis: a uniform expansion by 1.2, det = 1.2^3 everywhere.
/// let ramp = |axis: usize| {
///     let mut shape = [1usize; 5];
///     shape[2 + axis] = 5;
///     Tensor::<1, Int>::arange(0..5, &device).float().reshape(shape).expand([1, 1, 5, 5, 5]) * 0.2
/// };
/// let field = Tensor::cat(vec![ramp(0), ramp(1), ramp(2)], 1);
/// let det = jacobian_determinant(field, [1.0, 1.0, 1.0])?;
/// assert_eq!(det.dims(), [1, 1, 3, 3, 3]);
/// assert!((det.mean().into_scalar::<f32>() - 1.728).abs() < 1e-5);
/// # Ok::<(), medburn_register::RegistrationError>(())
/// ```
pub fn jacobian_determinant(ddf: Tensor<5>, spacing: [f64; 3]) -> crate::Result<Tensor<5>> {
    check_field(&ddf)?;
    if spacing.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(RegistrationError::Option(format!(
            "spacing must be finite and > 0, got {spacing:?}"
        )));
    }
    // g[b]: the derivative of every component along axis b.
    let g: Vec<Tensor<5>> = (0..3)
        .map(|b| central_difference(&ddf, b, spacing[b]))
        .collect();
    // (I + J)[a][b] = δ_ab + ∂u_a/∂x_b.
    let m = |a: usize, b: usize| {
        let [n, _, d, h, w] = g[b].dims();
        let entry = g[b].clone().slice([0..n, a..a + 1, 0..d, 0..h, 0..w]);
        if a == b {
            entry + 1.0
        } else {
            entry
        }
    };
    Ok(m(0, 0) * (m(1, 1) * m(2, 2) - m(1, 2) * m(2, 1))
        - m(0, 1) * (m(1, 0) * m(2, 2) - m(1, 2) * m(2, 0))
        + m(0, 2) * (m(1, 0) * m(2, 1) - m(1, 1) * m(2, 0)))
}

/// A summary of a displacement field's Jacobian determinants over its interior voxels (all
/// batch elements together), as registration challenges report it.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_register::metrics::JacobianStats;
///
/// // No displacement: nothing folds, nothing changes volume.
/// let stats = JacobianStats::of(Tensor::<5>::zeros([1, 3, 4, 4, 4], &Device::flex()), [1.0; 3])?;
/// assert_eq!((stats.folding_fraction, stats.log_det_std, stats.min, stats.max), (0.0, 0.0, 1.0, 1.0));
/// # Ok::<(), medburn_register::RegistrationError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct JacobianStats {
    /// The share of voxels where the transform folds (determinant at or below 0), in `[0, 1]`.
    pub folding_fraction: f64,
    /// The standard deviation of `log det` (the determinant clipped to `[1e-9, 1e9]`):
    /// Learn2Reg's SDlogJ, how unevenly the transform compresses and expands.
    pub log_det_std: f64,
    /// The smallest determinant.
    pub min: f64,
    /// The largest determinant.
    pub max: f64,
}

impl JacobianStats {
    /// The statistics of `ddf` (see [`jacobian_determinant`] for its layout and `spacing`),
    /// read back to the host.
    pub fn of(ddf: Tensor<5>, spacing: [f64; 3]) -> crate::Result<JacobianStats> {
        let det = jacobian_determinant(ddf, spacing)?;
        let values = det
            .cast(DType::F64)
            .into_data()
            .try_to_vec::<f64>()
            .map_err(|e| RegistrationError::Readback(format!("{e:?}")))?;
        Ok(JacobianStats::from_determinants(&values))
    }

    /// The statistics of determinants already on the host.
    ///
    /// ```
    /// use medburn_register::metrics::JacobianStats;
    /// let s = JacobianStats::from_determinants(&[1.0, -0.5, 2.0, 0.5]);
    /// assert_eq!(s.folding_fraction, 0.25);
    /// assert_eq!((s.min, s.max), (-0.5, 2.0));
    /// ```
    pub fn from_determinants(values: &[f64]) -> JacobianStats {
        let n = values.len().max(1) as f64;
        let folding = values.iter().filter(|v| **v <= 0.0).count() as f64 / n;
        let logs: Vec<f64> = values.iter().map(|v| v.clamp(1e-9, 1e9).ln()).collect();
        let mean = logs.iter().sum::<f64>() / n;
        let var = logs.iter().map(|l| (l - mean) * (l - mean)).sum::<f64>() / n;
        JacobianStats {
            folding_fraction: folding,
            log_det_std: var.sqrt(),
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}
