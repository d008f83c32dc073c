//! Random rotations by multiples of 90 degrees in a voxel plane (MONAI `RandRotate90`): exact
//! voxel permutations, joined to the chain's single sampling call as a matrix.

use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::error::{check_prob, AugmentError, Result};
use crate::matrix::{Matrix4, IDENTITY};
use crate::random::uniform;

/// Rotates the content by `k` quarter turns (`k` uniform in `1..=max_k`) in one of the allowed
/// voxel planes, chosen uniformly. Both axes of a plane must have the same size when `k` is odd
/// (a batch keeps one shape).
///
/// ```
/// let r = medburn_augment::RandomRot90::default();
/// assert_eq!((r.max_k, r.planes.clone()), (3, vec![[0, 1]]));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomRot90 {
    /// Probability that a sample is rotated.
    pub prob: f64,
    /// Largest number of quarter turns (1 to 3).
    pub max_k: u8,
    /// Planes to rotate in, as voxel axis pairs `[a, b]` (`0` = i, `1` = j, `2` = k): a quarter
    /// turn takes axis `a` to axis `b`.
    pub planes: Vec<[usize; 2]>,
}

impl Default for RandomRot90 {
    fn default() -> Self {
        Self {
            prob: 0.1,
            max_k: 3,
            planes: vec![[0, 1]],
        }
    }
}

/// The quarter turns drawn for one sample.
///
/// ```
/// let s = medburn_augment::Rot90Sample { plane: [0, 1], k: 2 };
/// assert_eq!(s.matrix([4, 4, 2])[0], [-1.0, 0.0, 0.0, 3.0]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rot90Sample {
    /// The voxel plane `[a, b]`.
    pub plane: [usize; 2],
    /// Quarter turns, 0 to 3.
    pub k: u8,
}

impl Rot90Sample {
    /// The voxel matrix (output index -> input index) on a grid of `size`.
    pub fn matrix(&self, size: [usize; 3]) -> Matrix4 {
        let [a, b] = self.plane;
        let (na, nb) = (size[a] as f64 - 1.0, size[b] as f64 - 1.0);
        let mut m = IDENTITY;
        // Output (y_a, y_b) reads input: one turn (y_b, n_a - 1 - y_a) (a square plane), two
        // (n_a - 1 - y_a, n_b - 1 - y_b), three (n_b - 1 - y_b, y_a).
        let rows = match self.k % 4 {
            0 => return IDENTITY,
            1 => [(0.0, 1.0, 0.0), (-1.0, 0.0, na)],
            2 => [(-1.0, 0.0, na), (0.0, -1.0, nb)],
            _ => [(0.0, -1.0, nb), (1.0, 0.0, 0.0)],
        };
        for (axis, (ca, cb, t)) in [a, b].into_iter().zip(rows) {
            m[axis][a] = ca;
            m[axis][b] = cb;
            m[axis][3] = t;
        }
        m
    }
}

impl RandomRot90 {
    /// Fails on a probability outside [0, 1], `max_k` outside 1 to 3, no plane, or a plane that
    /// is not two different axes below 3.
    ///
    /// ```
    /// assert!(medburn_augment::RandomRot90 { planes: vec![[1, 1]], ..Default::default() }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        check_prob("rot90.prob", self.prob)?;
        if !(1..=3).contains(&self.max_k) {
            return Err(AugmentError::Config(format!(
                "rot90.max_k = {} is not 1, 2 or 3",
                self.max_k
            )));
        }
        if self.planes.is_empty() || self.planes.iter().any(|[a, b]| a == b || *a > 2 || *b > 2) {
            return Err(AugmentError::Config(format!(
                "rot90.planes = {:?} needs pairs of different voxel axes 0, 1, 2",
                self.planes
            )));
        }
        Ok(())
    }

    /// Two values: the plane and the number of turns.
    pub(crate) fn draw(&self, rng: &mut dyn RngCore) -> Rot90Sample {
        let n = self.planes.len().max(1);
        let p = (uniform(rng, 0.0, n as f64) as usize).min(n - 1);
        let max_k = self.max_k.max(1);
        let k = 1 + (uniform(rng, 0.0, max_k as f64) as u8).min(max_k - 1);
        Rot90Sample {
            plane: self.planes.get(p).copied().unwrap_or([0, 1]),
            k,
        }
    }
}

/// Fails when an odd number of turns would change the shape of a grid of `size`.
pub(crate) fn check_square(s: &Rot90Sample, size: [usize; 3]) -> Result<()> {
    let [a, b] = s.plane;
    if s.k % 2 == 1 && size[a] != size[b] {
        return Err(AugmentError::Params(format!(
            "a quarter turn in voxel plane {:?} needs equal sizes there, the patch is {size:?} (i, j, k)",
            s.plane
        )));
    }
    Ok(())
}
