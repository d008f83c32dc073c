//! Reorientation: an exact permutation and flip of the voxel axes, with the geometry updated.

use medburn_core::{Direction, Geometry, MedImage, Orientation};

use crate::error::Result;
use crate::resample::with_grid;

/// `image` with its voxel axes permuted and flipped so that its orientation code is `code`
/// (any of the 48), as SimpleITK's `DICOMOrient`. No interpolation: every voxel moves whole,
/// and every voxel keeps its physical position (oblique directions stay oblique).
///
/// ```
/// use burn::tensor::Device;
/// use medburn_core::{Geometry, MedImage, Orientation};
/// use medburn_spatial::change_orientation;
/// let img = MedImage::from_vec((0..8).map(|v| v as f32).collect(), 1, Geometry::unit([2, 2, 2])?, &Device::flex())?;
/// let ras = change_orientation(&img, Orientation::RAS)?;
/// assert_eq!(ras.geometry().orientation(), Orientation::RAS);
/// // Voxel (0, 0, 0) of the RAS image is voxel (1, 1, 0) of the LPS one.
/// assert_eq!(ras.to_vec()?[0], 3.0);
/// assert_eq!(ras.geometry().index_to_physical([0.0; 3]), img.geometry().index_to_physical([1.0, 1.0, 0.0]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn change_orientation(image: &MedImage, code: Orientation) -> Result<MedImage> {
    let g = image.geometry();
    let map = g.orientation().axis_map_to(&code);
    // Voxel tensor dims: i = 4, j = 3, k = 2.
    let mut voxels = image.voxels().clone();
    for a in (0..3).filter(|&a| map[a].1) {
        voxels = voxels.flip([4 - a]);
    }
    let mut perm = [0usize, 1, 2, 3, 4];
    let mut size = [0usize; 3];
    let mut spacing = [0.0f64; 3];
    let mut columns = [[0.0f64; 3]; 3];
    let mut corner = [0.0f64; 3];
    for a in 0..3 {
        let (j, flipped) = map[a];
        perm[4 - j] = 4 - a;
        size[j] = g.size()[a];
        spacing[j] = g.spacing()[a];
        let sign = if flipped { -1.0 } else { 1.0 };
        columns[j] = g.direction().column(a).map(|v| sign * v);
        if flipped {
            corner[a] = g.size()[a] as f64 - 1.0;
        }
    }
    let voxels = voxels.permute(perm);
    let geometry = Geometry::new(
        size,
        g.index_to_physical(corner),
        spacing,
        Direction::from_columns(columns),
    )?;
    with_grid(image, voxels, geometry)
}
