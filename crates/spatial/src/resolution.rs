//! Lower and higher resolutions by whole factors per axis, as an acquisition makes them: the
//! grid a scanner would write for voxels `f` times larger (each coarse voxel covering `f` fine
//! ones, its centre at theirs), the fine grid back from it, and the low-resolution image a
//! high-resolution one would have given (the slice profile's blur, then the coarse grid). The
//! pairs super-resolution trains on, and the grid its output goes back to.

use burn::tensor::{Tensor, TensorData};
use medburn_core::{Geometry, MedImage};
use medburn_ops::{
    gaussian_smooth_3d, voxel_affine_sample_3d, Interpolation, Padding, SampleOptions,
};

use crate::error::{Result, SpatialError};

/// FWHM of a Gaussian over its standard deviation: `2 sqrt(2 ln 2)`.
const FWHM_PER_SIGMA: f64 = 2.354_820_045_030_949_3;

fn check_factors(factors: [usize; 3]) -> Result<()> {
    if factors.contains(&0) {
        return Err(SpatialError::Invalid(format!(
            "resolution factors must be at least 1 per axis, got {factors:?}"
        )));
    }
    Ok(())
}

/// The grid of voxels `factors` (per axis i, j, k) times larger over `geometry`: `n / f`
/// voxels per axis (rounded down: a last partial voxel is dropped), spacing `s * f`, the same
/// direction, and the origin at the centre of the first coarse voxel, which is the centre of
/// the `f` fine voxels it covers (fine index `(f - 1) / 2`).
///
/// ```
/// use medburn_core::Geometry;
/// let fine = Geometry::unit([8, 8, 10])?;
/// let coarse = medburn_spatial::low_resolution_grid(&fine, [1, 1, 4])?;
/// assert_eq!(coarse.size(), [8, 8, 2]);
/// assert_eq!(coarse.spacing(), [1.0, 1.0, 4.0]);
/// assert_eq!(coarse.origin(), [0.0, 0.0, 1.5]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn low_resolution_grid(geometry: &Geometry, factors: [usize; 3]) -> Result<Geometry> {
    check_factors(factors)?;
    let size = geometry.size();
    if (0..3).any(|a| size[a] < factors[a]) {
        return Err(SpatialError::Invalid(format!(
            "a grid of {size:?} voxels holds no whole voxel {factors:?} times larger"
        )));
    }
    let spacing = geometry.spacing();
    let first = factors.map(|f| (f as f64 - 1.0) / 2.0);
    Ok(Geometry::new(
        [0, 1, 2].map(|a| size[a] / factors[a]),
        geometry.index_to_physical(first),
        [0, 1, 2].map(|a| spacing[a] * factors[a] as f64),
        geometry.direction(),
    )?)
}

/// The grid `factors` (per axis i, j, k) times finer over `geometry`: `n * f` voxels per axis,
/// spacing `s / f`, the same direction, the fine voxels of each coarse voxel centred on it.
/// The inverse of [`low_resolution_grid`] where the fine size was divisible by the factors.
///
/// ```
/// use medburn_core::Geometry;
/// let fine = Geometry::new([6, 9, 12], [4.0, -2.0, 7.5], [0.8, 0.8, 1.2], medburn_core::Direction::identity())?;
/// let coarse = medburn_spatial::low_resolution_grid(&fine, [2, 3, 4])?;
/// let back = medburn_spatial::high_resolution_grid(&coarse, [2, 3, 4])?;
/// assert_eq!(back.size(), fine.size());
/// assert!((0..3).all(|a| (back.origin()[a] - fine.origin()[a]).abs() < 1e-12));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn high_resolution_grid(geometry: &Geometry, factors: [usize; 3]) -> Result<Geometry> {
    check_factors(factors)?;
    let size = geometry.size();
    let spacing = geometry.spacing();
    // Fine voxel 0 sits at coarse index (0.5 / f - 0.5).
    let first = factors.map(|f| 0.5 / f as f64 - 0.5);
    Ok(Geometry::new(
        [0, 1, 2].map(|a| size[a] * factors[a]),
        geometry.index_to_physical(first),
        [0, 1, 2].map(|a| spacing[a] / factors[a] as f64),
        geometry.direction(),
    )?)
}

/// The image an acquisition with voxels `factors` (per axis i, j, k) times larger would have
/// given of `image`: each axis with a factor above 1 blurred by the slice profile, a Gaussian
/// whose FWHM is the new spacing (`sigma = f / 2.3548` voxels; edge values repeated beyond
/// the border), then read (linear) at the centres of [`low_resolution_grid`]. Every channel
/// alike; [`simulate_low_resolution_voxels`] does the same to a batch of voxels.
///
/// ```
/// use burn::tensor::Device;
/// use medburn_core::{Geometry, MedImage};
/// let image = MedImage::from_vec(vec![3.0; 8 * 8 * 8], 1, Geometry::unit([8, 8, 8])?, &Device::flex())?;
/// let low = medburn_spatial::simulate_low_resolution(&image, [1, 1, 4])?;
/// assert_eq!(low.geometry().size(), [8, 8, 2]);
/// // A constant stays constant.
/// assert!(low.to_vec()?.iter().all(|v| (v - 3.0).abs() < 1e-5));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn simulate_low_resolution(image: &MedImage, factors: [usize; 3]) -> Result<MedImage> {
    let coarse = low_resolution_grid(image.geometry(), factors)?;
    let voxels = simulate_low_resolution_voxels(image.voxels().clone(), factors)?;
    Ok(MedImage::new(voxels, coarse)?)
}

/// [`simulate_low_resolution`] of a batch of voxels `[N, C, D, H, W]` (factors per image axis
/// i, j, k, so the tensor's D takes the third): `[N, C, D / fk, H / fj, W / fi]`, on the
/// batch's device, differentiable. Coarse voxel `c` along an axis reads the blurred fine
/// volume at `f c + (f - 1) / 2`, the centre of its `f` fine voxels.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// let x = Tensor::<5>::ones([2, 1, 8, 6, 4], &Device::flex());
/// let low = medburn_spatial::simulate_low_resolution_voxels(x, [1, 2, 4])?;
/// assert_eq!(low.dims(), [2, 1, 2, 3, 4]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn simulate_low_resolution_voxels(voxels: Tensor<5>, factors: [usize; 3]) -> Result<Tensor<5>> {
    check_factors(factors)?;
    let [_, _, d, h, w] = voxels.dims();
    let dhw = [factors[2], factors[1], factors[0]];
    let size = [d, h, w];
    if (0..3).any(|a| size[a] < dhw[a]) {
        return Err(SpatialError::Invalid(format!(
            "a grid of {:?} voxels holds no whole voxel {factors:?} times larger",
            [w, h, d]
        )));
    }
    let sigma = dhw.map(|f| {
        if f > 1 {
            f as f64 / FWHM_PER_SIGMA
        } else {
            0.0
        }
    });
    let blurred = gaussian_smooth_3d(voxels, sigma, Padding::Border)?;
    // Rows (x, y, z) = (W, H, D) of the voxel map: fine index = f * coarse + (f - 1) / 2,
    // exactly (a resize to a size would step by n / (n / f), not f, where f does not divide n).
    let mut m = vec![0.0f64; 12];
    for (row, a) in [2usize, 1, 0].into_iter().enumerate() {
        m[row * 4 + row] = dhw[a] as f64;
        m[row * 4 + 3] = (dhw[a] as f64 - 1.0) / 2.0;
    }
    let n = blurred.dims()[0];
    let matrix = Tensor::<3>::from_data(
        TensorData::new(m, [1, 3, 4]),
        (&blurred.device(), blurred.dtype()),
    )
    .expand([n, 3, 4]);
    let size = [0, 1, 2].map(|a| size[a] / dhw[a]);
    let options = SampleOptions::new(Interpolation::Linear).with_padding(Padding::Border);
    Ok(voxel_affine_sample_3d(blurred, matrix, size, options)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use medburn_core::Direction;

    /// An oblique, flipped grid: the rules must hold in any orientation.
    fn oblique(size: [usize; 3]) -> Geometry {
        let (c, s) = (0.3f64.cos(), 0.3f64.sin());
        let d = Direction::from_rows([[c, 0.0, -s], [0.0, -1.0, 0.0], [s, 0.0, c]]);
        Geometry::new(size, [12.5, -40.0, 3.25], [0.9, 1.1, 1.3], d).unwrap()
    }

    #[test]
    fn coarse_voxels_are_centred_on_their_fine_voxels() {
        let fine = oblique([9, 8, 13]);
        for factors in [[1, 1, 4], [2, 2, 2], [3, 1, 2]] {
            let coarse = low_resolution_grid(&fine, factors).unwrap();
            assert_eq!(coarse.direction(), fine.direction());
            for idx in [[0usize, 0, 0], [1, 2, 1], [2, 3, 2]] {
                if (0..3).any(|a| idx[a] >= coarse.size()[a]) {
                    continue;
                }
                // The mean of the fine centres the coarse voxel covers.
                let mut mean = [0.0; 3];
                let n = (factors[0] * factors[1] * factors[2]) as f64;
                for a in 0..factors[0] {
                    for b in 0..factors[1] {
                        for c in 0..factors[2] {
                            let p = fine.index_to_physical([
                                (idx[0] * factors[0] + a) as f64,
                                (idx[1] * factors[1] + b) as f64,
                                (idx[2] * factors[2] + c) as f64,
                            ]);
                            (0..3).for_each(|k| mean[k] += p[k] / n);
                        }
                    }
                }
                let centre = coarse.index_to_physical(idx.map(|v| v as f64));
                assert!(
                    (0..3).all(|k| (centre[k] - mean[k]).abs() < 1e-9),
                    "{factors:?}"
                );
            }
            // Back to the fine grid where the size divides.
            let back = high_resolution_grid(&coarse, factors).unwrap();
            let whole = [0, 1, 2].map(|a| fine.size()[a] / factors[a] * factors[a]);
            assert_eq!(back.size(), whole);
            assert!((0..3).all(|a| (back.origin()[a] - fine.origin()[a]).abs() < 1e-9));
            assert!((0..3).all(|a| (back.spacing()[a] - fine.spacing()[a]).abs() < 1e-12));
        }
        assert!(low_resolution_grid(&fine, [0, 1, 1]).is_err());
        assert!(low_resolution_grid(&fine, [1, 1, 14]).is_err());
    }
}
