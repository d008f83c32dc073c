//! `interpolate_3d`: PyTorch's `F.interpolate` on 5D input for `nearest`, `nearest-exact` and
//! `trilinear` ([`Interpolation::Nearest`], [`Interpolation::NearestExact`],
//! [`Interpolation::Linear`]), by output size or scale factor, values and gradients identical.
//!
//! Trilinear is a diagonal voxel affine (`src = a * dst + b` per axis, clamped at the edges as
//! PyTorch clamps) through the fused sampling kernel with border padding. Nearest picks one
//! index per output row, column and slice, computed on the host with PyTorch's float32 rule, and
//! gathers with `select` on each axis (whose backward is a scatter-add).

use burn::tensor::{Int, Tensor, TensorData};

use crate::error::{check_nonempty, OpsError, Result};
use crate::grid_sample::voxel_affine_sample_3d;
use crate::options::{Interpolation, Padding, SampleOptions};

/// Options of [`interpolate_3d`]: an interpolation and exactly one of an output size or a
/// scale factor, in tensor order `[D, H, W]`.
///
/// ```
/// use medburn_ops::{Interpolate3dOptions, Interpolation};
/// let o = Interpolate3dOptions::new(Interpolation::Linear).with_scale_factor([2.0; 3]);
/// assert_eq!(o.scale_factor, Some([2.0; 3]));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Interpolate3dOptions {
    /// The interpolation: [`Interpolation::Nearest`] (PyTorch's `"nearest"`),
    /// [`Interpolation::NearestExact`] (`"nearest-exact"`) or [`Interpolation::Linear`]
    /// (`"trilinear"`); the others are refused.
    pub interpolation: Interpolation,
    /// PyTorch's `align_corners` (trilinear only).
    pub align_corners: bool,
    /// Output size `[D, H, W]`.
    pub size: Option<[usize; 3]>,
    /// Scale factor per axis; the output is `floor(n * factor)`.
    pub scale_factor: Option<[f64; 3]>,
}

impl Interpolate3dOptions {
    /// Options with `interpolation`, no size yet and `align_corners = false`.
    ///
    /// ```
    /// let o = medburn_ops::Interpolate3dOptions::new(medburn_ops::Interpolation::Nearest);
    /// assert!(o.size.is_none() && o.scale_factor.is_none());
    /// ```
    pub fn new(interpolation: Interpolation) -> Self {
        Self {
            interpolation,
            ..Self::default()
        }
    }

    /// Sets the output size.
    ///
    /// ```
    /// let o = medburn_ops::Interpolate3dOptions::default().with_size([4, 4, 4]);
    /// assert_eq!(o.size, Some([4, 4, 4]));
    /// ```
    pub fn with_size(mut self, size: [usize; 3]) -> Self {
        self.size = Some(size);
        self
    }

    /// Sets the scale factor.
    ///
    /// ```
    /// let o = medburn_ops::Interpolate3dOptions::default().with_scale_factor([0.5; 3]);
    /// assert_eq!(o.scale_factor, Some([0.5; 3]));
    /// ```
    pub fn with_scale_factor(mut self, scale_factor: [f64; 3]) -> Self {
        self.scale_factor = Some(scale_factor);
        self
    }

    /// Sets `align_corners`.
    ///
    /// ```
    /// assert!(medburn_ops::Interpolate3dOptions::default().with_align_corners(true).align_corners);
    /// ```
    pub fn with_align_corners(mut self, align_corners: bool) -> Self {
        self.align_corners = align_corners;
        self
    }
}

/// PyTorch's `compute_scales_value` in float32: `1 / factor` when a factor was given.
fn scale_f32(input: usize, output: usize, factor: Option<f64>) -> f32 {
    match factor {
        Some(f) => (1.0 / f) as f32,
        None => input as f32 / output as f32,
    }
}

/// Source indices of `"nearest"` (`exact = false`) or `"nearest-exact"`.
fn nearest_indices(exact: bool, input: usize, output: usize, factor: Option<f64>) -> Vec<i64> {
    let scale = scale_f32(input, output, factor);
    let last = input as i64 - 1;
    (0..output)
        .map(|dst| match exact {
            false if output == input => dst as i64,
            false if output == 2 * input => (dst >> 1) as i64,
            false => ((dst as f32 * scale).floor() as i64).min(last),
            true => (((dst as f32 + 0.5) * scale).floor() as i64).min(last),
        })
        .collect()
}

/// `(a, b)` with `src = a * dst + b` for trilinear (PyTorch's `area_pixel_compute_source_index`
/// before its clamp at 0, which border padding performs).
fn linear_map(input: usize, output: usize, factor: Option<f64>, align_corners: bool) -> (f64, f64) {
    if align_corners {
        let a = if output > 1 {
            (input as f64 - 1.0) / (output as f64 - 1.0)
        } else {
            0.0
        };
        (a, 0.0)
    } else {
        let a = match factor {
            Some(f) => 1.0 / f,
            None => input as f64 / output as f64,
        };
        (a, 0.5 * a - 0.5)
    }
}

/// Resizes `x` `[N, C, D, H, W]` like `torch.nn.functional.interpolate` (`nearest`,
/// `nearest-exact`, `trilinear`), differentiable with respect to `x`. Beyond PyTorch's modes,
/// [`Interpolation::BSpline`] reads the cubic B-spline of `x` (prefiltered, as `sitkBSpline`)
/// at the same source positions as trilinear, the edge value beyond the border: the B-spline
/// upsampling a super-resolution network starts from. Label-linear is refused (the sampling
/// ops take it).
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_ops::{interpolate_3d, Interpolate3dOptions, Interpolation};
/// let x = Tensor::<1>::from_floats([0.0, 2.0], &Device::flex()).reshape([1, 1, 1, 1, 2]);
/// let o = Interpolate3dOptions::new(Interpolation::Linear).with_size([1, 1, 3]).with_align_corners(true);
/// let y = interpolate_3d(x.clone(), o)?;
/// assert_eq!(y.into_data().try_to_vec::<f32>().unwrap(), vec![0.0, 1.0, 2.0]);
/// // The cubic spline through the voxel values meets them at the voxel centres.
/// let bspline = Interpolate3dOptions::new(Interpolation::BSpline).with_size([1, 1, 3]).with_align_corners(true);
/// let y = interpolate_3d(x.clone(), bspline)?.into_data().try_to_vec::<f32>().unwrap();
/// assert!((y[0] - 0.0).abs() < 1e-5 && (y[2] - 2.0).abs() < 1e-5);
/// let labels = Interpolate3dOptions::new(Interpolation::LabelLinear).with_size([1, 1, 3]);
/// assert!(interpolate_3d(x, labels).unwrap_err().to_string().contains("label"));
/// # Ok::<(), medburn_ops::OpsError>(())
/// ```
pub fn interpolate_3d(x: Tensor<5>, options: Interpolate3dOptions) -> Result<Tensor<5>> {
    const OP: &str = "interpolate_3d";
    let dims = x.dims();
    check_nonempty(OP, "input", &dims)?;
    let input = [dims[2], dims[3], dims[4]];
    let (size, factors) = match (options.size, options.scale_factor) {
        (Some(size), None) => (size, [None; 3]),
        (None, Some(f)) => {
            if f.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
                return Err(OpsError::new(
                    OP,
                    format!("scale factors must be positive: {f:?}"),
                ));
            }
            let size = [0, 1, 2].map(|a| (input[a] as f64 * f[a]).floor() as usize);
            (size, f.map(Some))
        }
        _ => {
            return Err(OpsError::new(
                OP,
                "give exactly one of size and scale_factor",
            ))
        }
    };
    check_nonempty(OP, "output size", &size)?;
    let interpolation = options.interpolation;
    // `Some(exact)` for the nearest rules, `None` for trilinear and B-spline.
    let nearest = match interpolation {
        Interpolation::Nearest => Some(false),
        Interpolation::NearestExact => Some(true),
        Interpolation::Linear | Interpolation::BSpline => None,
        Interpolation::LabelLinear => {
            return Err(OpsError::new(
                OP,
                format!(
                    "{interpolation} is not an interpolate mode: use nearest, nearest_exact, \
                     linear or bspline (grid_sample_3d and voxel_affine_sample_3d take \
                     {interpolation})"
                ),
            ))
        }
    };
    if options.align_corners && nearest.is_some() {
        return Err(OpsError::new(
            OP,
            "align_corners is for trilinear and B-spline only",
        ));
    }
    let device = x.device();
    match nearest {
        Some(exact) => {
            let idx = [0, 1, 2].map(|a| nearest_indices(exact, input[a], size[a], factors[a]));
            // Where every axis repeats each voxel a whole number of times (a U-Net's x2), the
            // result is a broadcast: one copy forward, a sum backward (no gather, no scatter).
            let repeats = [0, 1, 2].map(|a| size[a] / input[a]);
            let repeated = (0..3).all(|a| {
                size[a] == repeats[a] * input[a]
                    && idx[a]
                        .iter()
                        .enumerate()
                        .all(|(o, &i)| i == (o / repeats[a]) as i64)
            });
            if repeated {
                let [n, c, d, h, w] = dims;
                let [fd, fh, fw] = repeats;
                return Ok(x
                    .reshape([n, c, d, 1, h, 1, w, 1])
                    .expand([n, c, d, fd, h, fh, w, fw])
                    .reshape([n, c, d * fd, h * fh, w * fw]));
            }
            let mut y = x;
            for a in 0..3 {
                let idx = Tensor::<1, Int>::from_data(
                    TensorData::new(idx[a].clone(), [size[a]]),
                    &device,
                );
                y = y.select(2 + a, idx);
            }
            Ok(y)
        }
        None => {
            // Rows of the voxel matrix are (x, y, z) = (W, H, D); tensor axes are (D, H, W).
            let mut m = vec![0.0f64; 12];
            for (row, a) in [2usize, 1, 0].into_iter().enumerate() {
                let (s, b) = linear_map(input[a], size[a], factors[a], options.align_corners);
                m[row * 4 + row] = s;
                m[row * 4 + 3] = b;
            }
            let n = dims[0];
            let matrix =
                Tensor::<3>::from_data(TensorData::new(m, [1, 3, 4]), (&device, x.dtype()))
                    .expand([n, 3, 4]);
            let o = SampleOptions::new(interpolation).with_padding(Padding::Border);
            voxel_affine_sample_3d(x, matrix, size, o)
        }
    }
}
