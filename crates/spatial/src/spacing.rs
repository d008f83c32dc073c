//! Resampling onto a new spacing, or onto another image's grid.

use medburn_core::{Geometry, MedImage};

use crate::error::{Result, SpatialError};
use crate::resample::resample;
use medburn_ops::Interpolation;

/// The grid of `geometry` at `spacing` (mm, per axis i, j, k): origin and direction kept,
/// `ceil(n * s / s')` voxels per axis (docs/architecture.md; the MedImages.jl convention). A relative
/// tolerance of 1e-6 keeps `256 * 1.0 / 0.5` at 512 and `28 * 2.0 / 1.6` at 35 when the spacing
/// carries float32 noise from a file (SimpleITK makes 35).
///
/// ```
/// let g = medburn_core::Geometry::unit([10, 10, 5])?;
/// let h = medburn_spatial::grid_at_spacing(&g, [0.5, 3.0, 2.0])?;
/// assert_eq!(h.size(), [20, 4, 3]);
/// // Float32 noise in a spacing read from a file does not add a slice.
/// let noisy = medburn_core::Geometry::new([8, 8, 28], [0.0; 3], [1.0, 1.0, 2.000000007], g.direction())?;
/// assert_eq!(medburn_spatial::grid_at_spacing(&noisy, [1.0, 1.0, 1.6])?.size()[2], 35);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn grid_at_spacing(geometry: &Geometry, spacing: [f64; 3]) -> Result<Geometry> {
    if spacing.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(SpatialError::Invalid(format!(
            "resample_to_spacing: spacing must be positive and finite, got {spacing:?}"
        )));
    }
    let old = geometry.spacing();
    let size = [0, 1, 2].map(|a| {
        let n = geometry.size()[a] as f64 * old[a] / spacing[a];
        (n * (1.0 - 1e-6)).ceil().max(1.0) as usize
    });
    Ok(Geometry::new(
        size,
        geometry.origin(),
        spacing,
        geometry.direction(),
    )?)
}

/// Resamples `image` to `spacing` (mm, per axis i, j, k), keeping origin and direction, with
/// `ceil(n * s / s')` voxels per axis.
///
/// ```
/// use burn::tensor::Device;
/// use medburn_core::{Geometry, MedImage};
/// use medburn_spatial::{resample_to_spacing, Interpolation};
/// let img = MedImage::from_vec(vec![2.0; 64], 1, Geometry::unit([4, 4, 4])?, &Device::flex())?;
/// let fine = resample_to_spacing(&img, [0.5, 0.5, 0.5], Interpolation::Linear)?;
/// assert_eq!(fine.geometry().size(), [8, 8, 8]);
/// assert_eq!(fine.geometry().origin(), img.geometry().origin());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn resample_to_spacing(
    image: &MedImage,
    spacing: [f64; 3],
    interpolation: Interpolation,
) -> Result<MedImage> {
    let grid = grid_at_spacing(image.geometry(), spacing)?;
    resample(image, &grid, None, interpolation)
}

/// Resamples `moving` onto the grid of `fixed` (size, origin, spacing, direction), whatever the
/// two orientations: each output voxel reads `moving` at the same physical point.
///
/// ```
/// use burn::tensor::Device;
/// use medburn_core::{Geometry, MedImage};
/// use medburn_spatial::{resample_to_image, Interpolation};
/// let ct = MedImage::from_vec(vec![1.0; 27], 1, Geometry::unit([3, 3, 3])?, &Device::flex())?;
/// let pet = MedImage::from_vec(vec![0.0; 8], 1, Geometry::unit([2, 2, 2])?, &Device::flex())?;
/// let on_pet = resample_to_image(&ct, &pet, Interpolation::Linear)?;
/// assert_eq!(on_pet.geometry(), pet.geometry());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn resample_to_image(
    moving: &MedImage,
    fixed: &MedImage,
    interpolation: Interpolation,
) -> Result<MedImage> {
    resample(moving, fixed.geometry(), None, interpolation)
}
