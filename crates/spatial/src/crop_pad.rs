//! Cropping and padding: index operations, with the origin moved so that every voxel keeps its
//! physical position.

use burn::tensor::ops::PadMode;
use medburn_core::MedImage;

use crate::error::{Result, SpatialError};
use crate::resample::with_grid;

/// The voxels `start .. start + size` (index order i, j, k) of `image`.
///
/// ```
/// use burn::tensor::Device;
/// use medburn_core::{Geometry, MedImage};
/// let img = MedImage::from_vec((0..64).map(|v| v as f32).collect(), 1, Geometry::unit([4, 4, 4])?, &Device::flex())?;
/// let c = medburn_spatial::crop(&img, [1, 2, 3], [2, 2, 1])?;
/// assert_eq!(c.geometry().size(), [2, 2, 1]);
/// assert_eq!(c.geometry().origin(), [1.0, 2.0, 3.0]);
/// assert_eq!(c.to_vec()?[0], (1 + 4 * (2 + 4 * 3)) as f32);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn crop(image: &MedImage, start: [usize; 3], size: [usize; 3]) -> Result<MedImage> {
    let g = image.geometry();
    for a in 0..3 {
        if size[a] == 0
            || start[a]
                .checked_add(size[a])
                .is_none_or(|end| end > g.size()[a])
        {
            return Err(SpatialError::Invalid(format!(
                "crop: start {start:?} + size {size:?} is not inside the image of size {:?}",
                g.size()
            )));
        }
    }
    let c = image.channels();
    let [i0, j0, k0] = start;
    let [ni, nj, nk] = size;
    let voxels = image
        .voxels()
        .clone()
        .slice([0..1, 0..c, k0..k0 + nk, j0..j0 + nj, i0..i0 + ni]);
    let geometry = g
        .with_size(size)?
        .with_origin(g.index_to_physical(start.map(|v| v as f64)))?;
    with_grid(image, voxels, geometry)
}

/// How [`pad`] fills the new voxels.
///
/// ```
/// use medburn_spatial::PadFill;
/// assert_eq!("edge".parse::<PadFill>().unwrap(), PadFill::Edge);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PadFill {
    /// A constant value (SimpleITK's `ConstantPad`).
    Constant(f32),
    /// The nearest edge voxel (`ZeroFluxNeumannPad`).
    Edge,
    /// Mirrored without repeating the edge voxel (`numpy.pad(mode="reflect")`); the padding must
    /// be smaller than the axis.
    Reflect,
}

impl core::str::FromStr for PadFill {
    type Err = String;

    fn from_str(s: &str) -> core::result::Result<Self, Self::Err> {
        match s {
            "constant" => Ok(PadFill::Constant(0.0)),
            "edge" => Ok(PadFill::Edge),
            "reflect" => Ok(PadFill::Reflect),
            other => Err(format!(
                "unknown pad mode {other:?}: use constant, edge or reflect"
            )),
        }
    }
}

/// `image` grown by `before` and `after` voxels per axis (i, j, k), filled by `fill`; the
/// origin moves so that the old voxels keep their physical positions.
///
/// ```
/// use burn::tensor::Device;
/// use medburn_core::{Geometry, MedImage};
/// use medburn_spatial::{pad, PadFill};
/// let img = MedImage::from_vec(vec![1.0; 8], 1, Geometry::unit([2, 2, 2])?, &Device::flex())?;
/// let p = pad(&img, [1, 0, 0], [0, 0, 2], PadFill::Constant(-1.0))?;
/// assert_eq!(p.geometry().size(), [3, 2, 4]);
/// assert_eq!(p.geometry().origin(), [-1.0, 0.0, 0.0]);
/// assert_eq!(p.to_vec()?[0], -1.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn pad(
    image: &MedImage,
    before: [usize; 3],
    after: [usize; 3],
    fill: PadFill,
) -> Result<MedImage> {
    let g = image.geometry();
    if fill == PadFill::Reflect {
        for a in 0..3 {
            if before[a].max(after[a]) >= g.size()[a] {
                return Err(SpatialError::Invalid(format!(
                    "pad: reflect needs padding below the axis length: {before:?} / {after:?} for size {:?}",
                    g.size()
                )));
            }
        }
    }
    // The new size first (it may not even fit a usize), then whether it fits in memory.
    let mut size = [0usize; 3];
    for a in 0..3 {
        size[a] = g.size()[a]
            .checked_add(before[a])
            .and_then(|n| n.checked_add(after[a]))
            .ok_or_else(|| {
                SpatialError::Invalid(format!("pad: {before:?} + {after:?} overflows the size"))
            })?;
    }
    medburn_core::limits::check_volume(
        "pad",
        size,
        image.channels(),
        image.voxels().dtype().size(),
    )?;
    let mode = match fill {
        PadFill::Constant(v) => PadMode::Constant(v),
        PadFill::Edge => PadMode::Edge,
        PadFill::Reflect => PadMode::Reflect,
    };
    // Burn pads the last dims in order: (D = k, H = j, W = i).
    let pairs = [
        (before[2], after[2]),
        (before[1], after[1]),
        (before[0], after[0]),
    ];
    let voxels = image.voxels().clone().pad(pairs, mode);
    let origin = g.index_to_physical(before.map(|v| -(v as f64)));
    let geometry = g.with_size(size)?.with_origin(origin)?;
    with_grid(image, voxels, geometry)
}
