//! Random crops (patches) of a fixed size: a translation of voxel indices onto a smaller grid,
//! joined to the chain's single sampling call; alone, an exact copy of voxels.

use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::error::{AugmentError, Result};
use crate::matrix::{Matrix4, IDENTITY};
use crate::random::uniform;

/// Crops every sample to `size` `[i, j, k]` voxels at a uniformly drawn position (TorchIO's
/// `RandomCrop`/uniform patch sampler, MONAI's `RandSpatialCrop` with a fixed size). Later
/// transforms of the pipeline act on the crop (their centre is the crop's). A crop changes the
/// shape of the batch, so it is always applied and belongs to the top level of a pipeline
/// (not inside `one_of` or `random_apply`).
///
/// ```
/// let c = medburn_augment::RandomCrop { size: [96, 96, 64] };
/// assert!(c.validate().is_ok());
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomCrop {
    /// Crop size in voxels along `(i, j, k)` (W, H, D).
    pub size: [usize; 3],
}

/// Where one sample was cropped.
///
/// ```
/// let s = medburn_augment::CropSample { offset: [2, 0, 1], size: [4, 4, 4] };
/// assert_eq!(s.matrix()[0][3], 2.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CropSample {
    /// First voxel `(i, j, k)` of the crop in the grid before it.
    pub offset: [usize; 3],
    /// Crop size `(i, j, k)`.
    pub size: [usize; 3],
}

impl CropSample {
    /// The voxel matrix (crop index -> index before the crop).
    pub fn matrix(&self) -> Matrix4 {
        let mut m = IDENTITY;
        for (row, offset) in m.iter_mut().zip(self.offset) {
            row[3] = offset as f64;
        }
        m
    }
}

impl RandomCrop {
    /// Fails on a zero size.
    ///
    /// ```
    /// assert!(medburn_augment::RandomCrop { size: [0, 4, 4] }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        if self.size.contains(&0) {
            return Err(AugmentError::Config(format!(
                "crop.size = {:?} has a zero",
                self.size
            )));
        }
        Ok(())
    }

    /// Three values (one offset per axis) on a grid of `grid` `[i, j, k]`.
    pub(crate) fn draw(&self, rng: &mut dyn RngCore, grid: [usize; 3]) -> Result<CropSample> {
        if (0..3).any(|a| self.size[a] > grid[a]) {
            return Err(AugmentError::Params(format!(
                "crop size {:?} is larger than the patch {grid:?} (i, j, k)",
                self.size
            )));
        }
        let offset = std::array::from_fn(|a| {
            let room = grid[a] - self.size[a];
            (uniform(rng, 0.0, room as f64 + 1.0) as usize).min(room)
        });
        Ok(CropSample {
            offset,
            size: self.size,
        })
    }
}
