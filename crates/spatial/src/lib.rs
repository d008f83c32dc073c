//! Spatially-aware transforms on [`MedImage`](medburn_core::MedImage), in physical (LPS)
//! space, differentiable, on any Burn device.
//!
//! Every resampling transform is a map from output voxels to input positions applied by one
//! fused sampling call (`medburn_ops::voxel_affine_sample_3d`); index operations (crop, pad,
//! reorient, origin moves) move voxels exactly. Each returns a new image with the right
//! geometry.
//!
//! | transform | function |
//! |---|---|
//! | new spacing (`ceil(n * s / s')` voxels, origin kept) | [`resample_to_spacing`] |
//! | onto another image's grid | [`resample_to_image`] |
//! | any of the 48 orientation codes | [`change_orientation`] |
//! | rotation about x, y, z or a vector | [`rotate`] |
//! | crop / pad | [`crop`], [`pad`] |
//! | translation (origin only, or resampled) | [`translate_origin`], [`translate`] |
//! | scaling, general affine | [`scale`], [`affine`] |
//! | an acquisition's lower resolution (blur + coarse grid), the fine grid back | [`simulate_low_resolution`], [`low_resolution_grid`], [`high_resolution_grid`] |
//! | any grid + transform, batched `[N, C, D, H, W]`, differentiable | [`resample_voxels`], [`transform`] |
//!
//! Outside the input, resampling reads 0, exactly as SimpleITK's `Resample` with default value
//! 0, and nearest-neighbour ties round half up as ITK's do
//! (`medburn_ops::SampleOptions::itk`: `Padding::Itk` and `Rounding::HalfUp`).
//!
//! ```
//! use burn::tensor::Device;
//! use medburn_core::{Geometry, MedImage, Orientation};
//! use medburn_spatial::{change_orientation, resample_to_spacing, Interpolation};
//!
//! let img = MedImage::from_vec(vec![1.0; 64], 1, Geometry::unit([4, 4, 4])?, &Device::flex())?;
//! let iso = resample_to_spacing(&img, [0.5, 0.5, 2.0], Interpolation::BSpline)?;
//! let ras = change_orientation(&iso, Orientation::RAS)?;
//! assert_eq!(ras.geometry().size(), [8, 8, 2]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod crop_pad;
mod error;
mod motion;
mod orientation;
mod resample;
mod resolution;
mod spacing;
pub mod transform;

pub use crop_pad::{crop, pad, PadFill};
pub use error::{Result, SpatialError};
/// How resampling computes values between voxel centres: medburn's one interpolation
/// vocabulary (`medburn_ops`), with its SimpleITK and PyTorch names. The transforms take every
/// one but `NearestExact`.
///
/// ```
/// use medburn_spatial::Interpolation;
/// assert_eq!("sitkLabelLinear".parse::<Interpolation>()?, Interpolation::LabelLinear);
/// # Ok::<(), String>(())
/// ```
pub use medburn_ops::Interpolation;

pub use motion::{affine, rotate, scale, translate, translate_origin, Axis};
pub use orientation::change_orientation;
pub use resample::{resample, resample_voxels, voxel_matrix};
pub use resolution::{
    high_resolution_grid, low_resolution_grid, simulate_low_resolution,
    simulate_low_resolution_voxels,
};
pub use spacing::{grid_at_spacing, resample_to_image, resample_to_spacing};
