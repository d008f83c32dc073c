//! Image quality of reconstructions and super-resolved volumes against their references, per
//! sample on the device: SSIM as scikit-image's `structural_similarity` and PSNR as its
//! `peak_signal_noise_ratio`, for float volumes with the data range given.

use burn::tensor::Tensor;
use medburn_ops::{separable_filter_3d, Padding};

use crate::losses::InputError;

/// The side of SSIM's cubic window: scikit-image's `win_size` for a uniform window.
const WINDOW: usize = 7;
/// SSIM's constants: `C1 = (K1 * data_range)^2`, `C2 = (K2 * data_range)^2`.
const K1: f64 = 0.01;
const K2: f64 = 0.03;

/// The mean structural similarity of each sample of `y` against `x` (`[N, C, D, H, W]`, one
/// shape, any device): a tensor `[N]`, 1 for identical volumes, down to -1 for inverted ones.
/// Differentiable with respect to both inputs.
///
/// It is scikit-image's `structural_similarity(x[n], y[n], data_range=data_range,
/// channel_axis=0)` with its defaults for 3D float images: local means, variances and the
/// covariance over a uniform 7x7x7 window (`win_size=7`, `gaussian_weights=False`), the
/// (co)variances as sample ones (`use_sample_covariance=True`: times `343 / 342`), `K1 = 0.01`,
/// `K2 = 0.03`, and the SSIM map averaged over the voxels at least 3 from every face (the
/// volume cropped by `(win_size - 1) / 2`); with several channels, each channel's mean, then
/// the mean over channels (all channels take the same `data_range`).
///
/// Computed in f32 with each volume shifted by its mean first (the local (co)variances do not
/// change), so values far from 0, such as CT's Hounsfield units, keep their digits: within
/// 1e-7 of scikit-image's float64 result on the cases of tests/fixtures/metrics/ssim.json.
///
/// Errors ([`InputError`]): shapes that differ or hold a zero, a spatial side below 7 (the
/// window must fit), a `data_range` that is not finite and positive.
///
/// ```
/// use burn::tensor::{Device, Distribution, Tensor};
/// use medburn_train::metrics::ssim;
///
/// let device = Device::flex();
/// let x = Tensor::<5>::random([2, 1, 8, 8, 8], Distribution::Uniform(0.0, 1.0), &device);
/// let same = ssim(x.clone(), x.clone(), 1.0)?;
/// assert_eq!(same.dims(), [2]);
/// assert_eq!(same.into_data().try_to_vec::<f32>().unwrap(), vec![1.0, 1.0]);
/// // The inverted volume: the structure term is about -1 everywhere.
/// let inverted = ssim(x.clone(), x.clone().neg().add_scalar(1.0), 1.0)?;
/// assert!(inverted.into_data().try_to_vec::<f32>().unwrap().iter().all(|&s| s < -0.9));
/// // A side of 6 leaves no room for the 7x7x7 window.
/// assert!(ssim(x.clone().narrow(4, 0, 6), x.narrow(4, 1, 6), 1.0).is_err());
/// # Ok::<(), medburn_train::losses::InputError>(())
/// ```
pub fn ssim(x: Tensor<5>, y: Tensor<5>, data_range: f64) -> Result<Tensor<1>, InputError> {
    check_inputs("SSIM", &x, &y, data_range)?;
    let [n, c, d, h, w] = x.dims();
    if d.min(h).min(w) < WINDOW {
        return Err(InputError::Shape(format!(
            "SSIM needs every spatial side to be at least {WINDOW} (its window): {:?}",
            x.dims()
        )));
    }
    // Shifting x and y by constants leaves the local (co)variances as they are and keeps
    // E[x^2] - E[x]^2 from cancelling away the f32 digits when the values sit far from 0.
    let mean_x = x.clone().mean_dims(&[2, 3, 4]);
    let mean_y = y.clone().mean_dims(&[2, 3, 4]);
    let xc = x - mean_x.clone();
    let yc = y - mean_y.clone();
    let products = vec![
        xc.clone(),
        yc.clone(),
        xc.clone() * xc.clone(),
        yc.clone() * yc.clone(),
        xc * yc,
    ];
    // The mean over the 7x7x7 box around each voxel (scipy's `uniform_filter`, size 7), all
    // five volumes in one call. skimage pads by reflection, here by zeros: the padding reaches
    // only the voxels within 3 of a face, and the crop below drops those, so the kept means
    // are the same whatever the padding.
    let box_kernel = [1.0 / WINDOW as f64; WINDOW];
    let k = box_kernel.as_slice();
    let means = separable_filter_3d(Tensor::cat(products, 1), [k, k, k], Padding::Zeros)
        .map_err(|e| InputError::Shape(e.to_string()))?;
    // skimage.util.crop by (win_size - 1) / 2 on each side, before the map is formed.
    let r = WINDOW / 2;
    let means = means.slice([0..n, 0..5 * c, r..d - r, r..h - r, r..w - r]);
    let [ux_c, uy_c, uxx_c, uyy_c, uxy_c]: [Tensor<5>; 5] = means
        .chunk(5, 1)
        .try_into()
        .map_err(|_| InputError::Shape("the filtered volumes did not split in five".into()))?;
    let np = (WINDOW * WINDOW * WINDOW) as f64;
    let cov_norm = np / (np - 1.0);
    let vx = (uxx_c - ux_c.clone() * ux_c.clone()).mul_scalar(cov_norm);
    let vy = (uyy_c - uy_c.clone() * uy_c.clone()).mul_scalar(cov_norm);
    let vxy = (uxy_c - ux_c.clone() * uy_c.clone()).mul_scalar(cov_norm);
    let ux = ux_c + mean_x;
    let uy = uy_c + mean_y;
    let c1 = (K1 * data_range) * (K1 * data_range);
    let c2 = (K2 * data_range) * (K2 * data_range);
    let a1 = (ux.clone() * uy.clone()).mul_scalar(2.0).add_scalar(c1);
    let a2 = vxy.mul_scalar(2.0).add_scalar(c2);
    let b1 = (ux.clone() * ux + uy.clone() * uy).add_scalar(c1);
    let b2 = (vx + vy).add_scalar(c2);
    let map = (a1 * a2) / (b1 * b2);
    // Every channel keeps the same number of voxels: the mean over channels of each
    // channel's mean is the mean over all.
    Ok(map.mean_dims(&[1, 2, 3, 4]).reshape([n]))
}

/// The peak signal-to-noise ratio in decibels of each sample of `y` against `x`
/// (`[N, C, D, H, W]`, one shape, any device): a tensor `[N]` of
/// `10 log10(data_range^2 / MSE)`, the MSE over every voxel and channel of the sample;
/// infinite where the sample is identical to its reference (MSE 0). scikit-image's
/// `peak_signal_noise_ratio(x[n], y[n], data_range=data_range)`.
///
/// Errors ([`InputError`]): shapes that differ or hold a zero, a `data_range` that is not
/// finite and positive.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_train::metrics::psnr;
///
/// let device = Device::flex();
/// let x = Tensor::<5>::zeros([2, 1, 2, 2, 2], &device);
/// // Sample 0 is off by 0.1 everywhere (MSE 0.01), sample 1 is exact.
/// let y = Tensor::<5>::from_data([[[[[0.1f32; 2]; 2]; 2]], [[[[0.0; 2]; 2]; 2]]], &device);
/// let db = psnr(x.clone(), y, 1.0)?.into_data().try_to_vec::<f32>().unwrap();
/// assert!((db[0] - 20.0).abs() < 1e-4);
/// assert_eq!(db[1], f32::INFINITY);
/// assert!(psnr(x.clone(), x, 0.0).is_err());
/// # Ok::<(), medburn_train::losses::InputError>(())
/// ```
pub fn psnr(x: Tensor<5>, y: Tensor<5>, data_range: f64) -> Result<Tensor<1>, InputError> {
    check_inputs("PSNR", &x, &y, data_range)?;
    let n = x.dims()[0];
    let diff = x - y;
    let mse = (diff.clone() * diff).mean_dims(&[1, 2, 3, 4]).reshape([n]);
    // 20 log10(data_range) - 10 log10(MSE): data_range^2 stays out of f32, and an MSE of 0
    // gives ln 0 = -inf, so +inf decibels.
    Ok(mse
        .log()
        .mul_scalar(-10.0 / std::f64::consts::LN_10)
        .add_scalar(20.0 * data_range.log10()))
}

/// The checks both metrics make: one non-empty shape, a finite positive data range.
fn check_inputs(
    metric: &str,
    x: &Tensor<5>,
    y: &Tensor<5>,
    data_range: f64,
) -> Result<(), InputError> {
    if x.dims() != y.dims() {
        return Err(InputError::Shape(format!(
            "{metric}: the volumes {:?} and {:?} differ in shape",
            x.dims(),
            y.dims()
        )));
    }
    if x.dims().contains(&0) {
        return Err(InputError::Shape(format!(
            "{metric}: the volumes {:?} are empty",
            x.dims()
        )));
    }
    if !(data_range.is_finite() && data_range > 0.0) {
        return Err(InputError::Option(format!(
            "{metric}: data_range must be finite and positive, not {data_range}"
        )));
    }
    Ok(())
}
