//! Separable Gaussian smoothing in 3D and the separable filter under it (any 1D kernel per
//! axis): per axis one banded operator (`SamplingBackend::band_filter_axis`, the kernel with the
//! padding folded into the taps at the ends of each line), differentiable on every backend. Used by elastic deformation, bias fields, denoising and registration's
//! local statistics.

use burn::backend::Dispatch;
use burn::tensor::{Tensor, TensorData};

use crate::backend::SamplingBackend;

use crate::error::{check_nonempty, OpsError, Result};
use crate::options::Padding;

/// The normalized, sampled Gaussian of standard deviation `sigma` (voxels), truncated at
/// `truncate` standard deviations, as `scipy.ndimage.gaussian_filter1d`: radius
/// `floor(truncate * sigma + 0.5)`.
///
/// ```
/// let k = medburn_ops::gaussian_kernel_1d(1.0, 4.0);
/// assert_eq!(k.len(), 9);
/// assert!((k.iter().sum::<f64>() - 1.0).abs() < 1e-12);
/// ```
pub fn gaussian_kernel_1d(sigma: f64, truncate: f64) -> Vec<f64> {
    let radius = (truncate * sigma + 0.5).floor() as i64;
    let w: Vec<f64> = (-radius..=radius)
        .map(|i| (-(i * i) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f64 = w.iter().sum();
    w.into_iter().map(|v| v / sum).collect()
}

/// Standard deviations in voxels from standard deviations and spacings in millimetres (same
/// axis order).
///
/// ```
/// assert_eq!(medburn_ops::sigma_in_voxels([2.0, 2.0, 3.0], [1.0, 0.5, 3.0]), [2.0, 4.0, 1.0]);
/// ```
pub fn sigma_in_voxels(sigma_mm: [f64; 3], spacing_mm: [f64; 3]) -> [f64; 3] {
    [0, 1, 2].map(|a| sigma_mm[a] / spacing_mm[a])
}

/// Smooths every channel of `x` `[N, C, D, H, W]` with a Gaussian of standard deviation
/// `sigma` voxels per axis, in tensor order `[D, H, W]` (0 leaves an axis alone), truncated at 4
/// standard deviations. `padding`: [`Padding::Zeros`] (MONAI's default), [`Padding::Border`]
/// (edge values repeated: SimpleITK's zero-flux boundary), or [`Padding::Reflection`] (mirror
/// without repeating the edge, as `numpy.pad(mode="reflect")`; the radius must be less than the
/// axis length). Differentiable with respect to `x`.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_ops::{gaussian_smooth_3d, Padding};
/// let x = Tensor::<5>::ones([1, 1, 6, 6, 6], &Device::flex());
/// let y = gaussian_smooth_3d(x, [1.0, 1.0, 1.0], Padding::Border)?;
/// // A constant stays constant with border padding.
/// assert!((y.min().into_scalar::<f32>() - 1.0).abs() < 1e-5);
/// # Ok::<(), medburn_ops::OpsError>(())
/// ```
pub fn gaussian_smooth_3d(x: Tensor<5>, sigma: [f64; 3], padding: Padding) -> Result<Tensor<5>> {
    if sigma.iter().any(|s| !(s.is_finite() && *s >= 0.0)) {
        return Err(OpsError::new(
            "gaussian_smooth_3d",
            format!("sigma must be finite and >= 0: {sigma:?}"),
        ));
    }
    let kernels = sigma.map(|s| {
        if s == 0.0 {
            Vec::new()
        } else {
            gaussian_kernel_1d(s, 4.0)
        }
    });
    separable_filter_3d(x, [&kernels[0], &kernels[1], &kernels[2]], padding)
}

/// Filters every channel of `x` `[N, C, D, H, W]` with one 1D kernel per axis, in tensor order
/// `[D, H, W]`, each centred on the voxel and applied as a correlation (MONAI's
/// `separable_filtering`); an empty kernel or `[1.0]` leaves its axis alone. Kernels have an
/// odd number of finite taps. `padding` as in [`gaussian_smooth_3d`]. Differentiable with
/// respect to `x`; one pass of a banded operator per filtered axis (no padded copy).
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_ops::{separable_filter_3d, Padding};
/// let x = Tensor::<5>::ones([1, 1, 3, 3, 3], &Device::flex());
/// // A 3-tap box along W only: 3 inside, 2 where the zero padding comes in.
/// let y = separable_filter_3d(x.clone(), [&[], &[], &[1.0, 1.0, 1.0]], Padding::Zeros)?;
/// let row: Vec<f32> = y.slice([0..1, 0..1, 0..1, 0..1, 0..3]).into_data().to_vec().unwrap();
/// assert_eq!(row, vec![2.0, 3.0, 2.0]);
/// assert!(separable_filter_3d(x, [&[1.0, 1.0], &[], &[]], Padding::Zeros).is_err());
/// # Ok::<(), medburn_ops::OpsError>(())
/// ```
pub fn separable_filter_3d(
    x: Tensor<5>,
    kernels: [&[f64]; 3],
    padding: Padding,
) -> Result<Tensor<5>> {
    const OP: &str = "separable_filter_3d";
    let dims = x.dims();
    check_nonempty(OP, "input", &dims)?;
    for (axis, k) in kernels.iter().enumerate() {
        if k.len() % 2 == 0 && !k.is_empty() {
            return Err(OpsError::new(
                OP,
                format!(
                    "the kernel of axis {axis} has {} taps: it needs an odd number",
                    k.len()
                ),
            ));
        }
        if k.iter().any(|v| !v.is_finite()) {
            return Err(OpsError::new(
                OP,
                format!("the kernel of axis {axis} holds a value that is not finite"),
            ));
        }
    }
    let [n, c, d, h, w] = dims;
    if padding == Padding::Itk {
        return Err(OpsError::new(
            OP,
            "Itk padding is for resampling: use Zeros, Border or Reflection",
        ));
    }
    let mut y = x.reshape([n * c, 1, d, h, w]);
    for (axis, kernel) in kernels.iter().enumerate() {
        if kernel.is_empty() || (kernel.len() == 1 && kernel[0] == 1.0) {
            continue;
        }
        let r = kernel.len() / 2;
        let len = dims[2 + axis];
        if padding == Padding::Reflection && r >= len {
            return Err(OpsError::new(
                OP,
                format!(
                    "reflection needs a radius below the axis length: radius {r}, length {len}"
                ),
            ));
        }
        let band = Tensor::<2>::from_data(
            TensorData::new(band(kernel, len, padding), [kernel.len(), len]),
            (&y.device(), y.dtype()),
        );
        y = Tensor::from_dispatch(<Dispatch as SamplingBackend>::band_filter_axis(
            y.into_dispatch(),
            band.into_dispatch(),
            2 + axis,
            false,
        ));
    }
    Ok(y.reshape([n, c, d, h, w]))
}

/// The band `[K, len]` of `kernel` along a line of `len` voxels: output `i` reads source
/// `i + t - r` with weight `kernel[t]`, a source beyond the line dropped (`Zeros`), clamped to
/// the edge (`Border`) or mirrored (`Reflection`, radius below `len`); a folded tap lands within
/// `r` of `i`, so it stays in the band.
fn band(kernel: &[f64], len: usize, padding: Padding) -> Vec<f64> {
    let (k, r) = (kernel.len(), kernel.len() / 2);
    let last = len as i64 - 1;
    let mut band = vec![0.0; k * len];
    for i in 0..len {
        for (t, &w) in kernel.iter().enumerate() {
            let s = i as i64 + t as i64 - r as i64;
            let source = match padding {
                _ if (0..=last).contains(&s) => s,
                Padding::Border => s.clamp(0, last),
                Padding::Reflection if s < 0 => -s,
                Padding::Reflection => 2 * last - s,
                _ => continue,
            };
            let slot = (source - i as i64 + r as i64) as usize;
            band[slot * len + i] += w;
        }
    }
    band
}
