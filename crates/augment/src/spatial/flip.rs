//! Random flips along voxel axes: a matrix like any other, so it joins the chain's single
//! sampling call; alone, it moves voxels exactly (integer positions, no interpolation error).

use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::error::{check_prob, Result};
use crate::matrix::{Matrix4, IDENTITY};
use crate::random::chance;

/// Random flips (mirroring about the patch centre) along the voxel axes `i` (W), `j` (H), `k`
/// (D), each enabled axis independently with probability `prob` (TorchIO `RandomFlip`,
/// nnU-Net's mirroring).
///
/// Default: `prob` 0.5 on `i` only. Patches reoriented to LPS or RAS (as medburn's loaders do)
/// have `i` along left-right, and brains are nearly symmetric left-right, whereas a brain
/// flipped anterior-posterior or superior-inferior is anatomy that never occurs: many brain
/// pipelines mirror left-right only (nnU-Net mirrors every axis; set `axes` to do the same).
///
/// ```
/// let f = medburn_augment::RandomFlip::default();
/// assert_eq!(f.axes, [true, false, false]);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomFlip {
    /// Probability that an enabled axis is flipped, per axis and sample.
    pub prob: f64,
    /// Which voxel axes `(i, j, k)` may be flipped.
    pub axes: [bool; 3],
}

impl Default for RandomFlip {
    fn default() -> Self {
        Self {
            prob: 0.5,
            axes: [true, false, false],
        }
    }
}

impl RandomFlip {
    /// Fails on a probability outside [0, 1].
    ///
    /// ```
    /// assert!(medburn_augment::RandomFlip { prob: 2.0, ..Default::default() }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        check_prob("flip.prob", self.prob)
    }

    /// Three coins, one per axis, whatever `axes` says.
    pub(crate) fn draw(&self, rng: &mut dyn RngCore) -> [bool; 3] {
        let mut f = [false; 3];
        for (a, flip) in f.iter_mut().enumerate() {
            *flip = chance(rng, self.prob) && self.axes[a];
        }
        f
    }
}

/// The voxel matrix of flips on a grid of `size` `[i, j, k]`: index `x` of a flipped axis reads
/// `n - 1 - x`. Exact integers, so a flip alone does not interpolate.
///
/// ```
/// assert_eq!(medburn_augment::flip_matrix([false, true, false], [4, 5, 6])[1], [0.0, -1.0, 0.0, 4.0]);
/// ```
pub fn flip_matrix(flips: [bool; 3], size: [usize; 3]) -> Matrix4 {
    let mut m = IDENTITY;
    for a in 0..3 {
        if flips[a] {
            m[a][a] = -1.0;
            m[a][3] = size[a] as f64 - 1.0;
        }
    }
    m
}
