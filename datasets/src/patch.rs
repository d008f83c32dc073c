//! Label-balanced random patches, as MONAI's `RandCropByPosNegLabeld`: the centre of each
//! patch is a random foreground voxel with probability `pos / (pos + neg)`, else a random
//! background voxel; the patch is then shifted to lie inside the volume (or zero-filled where
//! the volume is smaller than the patch). The draw ([`PatchSampler::sample`]) is apart from the
//! cut ([`cut_patch`]), so the draws can be made in order on one thread from a seeded RNG while
//! the cutting runs on workers.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{DatasetError, Result};
use crate::preprocess::PreparedCase;

/// Where a patch is cut: the case and the patch's first voxel (i, j, k), possibly negative or
/// past the end when the volume is smaller than the patch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchDraw {
    /// Index of the case in the prepared list.
    pub case: usize,
    /// First voxel of the patch along i, j, k.
    pub start: [i64; 3],
}

/// Draws patch positions, label-balanced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PatchSampler {
    /// Patch size in voxels along i, j, k.
    pub patch_size: [usize; 3],
    /// Weight of patches centred on a foreground voxel (label > 0).
    pub pos: f64,
    /// Weight of patches centred on a background voxel.
    pub neg: f64,
}

impl Default for PatchSampler {
    fn default() -> Self {
        PatchSampler {
            patch_size: [64, 64, 64],
            pos: 1.0,
            neg: 1.0,
        }
    }
}

impl PatchSampler {
    /// Checks the sizes and weights.
    ///
    /// ```
    /// let s = medburn_datasets::PatchSampler { patch_size: [0, 8, 8], ..Default::default() };
    /// assert!(s.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        if self.patch_size.contains(&0) {
            return Err(DatasetError::Invalid(format!(
                "patch size {:?} has a zero side",
                self.patch_size
            )));
        }
        let sum = self.pos + self.neg;
        if !(self.pos >= 0.0 && self.neg >= 0.0 && sum > 0.0 && sum.is_finite()) {
            return Err(DatasetError::Invalid(format!(
                "pos {} and neg {} must be non-negative with a positive sum",
                self.pos, self.neg
            )));
        }
        Ok(())
    }

    /// Draws one patch of `case` (its index `index`): centre on a random foreground voxel with
    /// probability `pos / (pos + neg)` (any voxel if there is none), else on a random background
    /// voxel (any voxel if there is none).
    ///
    /// ```
    /// use medburn_core::Geometry;
    /// use medburn_datasets::{PatchSampler, PreparedCase};
    /// use rand::SeedableRng;
    /// let g = Geometry::unit([8, 8, 8])?;
    /// let mut label = vec![0u8; 512];
    /// label[511] = 1; // one foreground voxel, in the far corner
    /// let case = PreparedCase { id: "a".into(), channels: 1, image: vec![0.0; 512], label: Some(label), targets: vec![], geometry: g, source_geometry: g };
    /// let s = PatchSampler { patch_size: [4, 4, 4], pos: 1.0, neg: 0.0 };
    /// let d = s.sample(&case, 0, &mut rand_chacha::ChaCha8Rng::seed_from_u64(1));
    /// assert_eq!(d.start, [4, 4, 4]); // shifted inside, still holding the voxel
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sample<R: Rng + ?Sized>(
        &self,
        case: &PreparedCase,
        index: usize,
        rng: &mut R,
    ) -> PatchDraw {
        let [w, h, d] = case.geometry.size();
        let positive = rng.random::<f64>() * (self.pos + self.neg) < self.pos;
        let centre = match &case.label {
            Some(label) => pick_voxel(label, positive, rng),
            None => rng.random_range(0..label_len(case)),
        };
        let c = [centre % w, (centre / w) % h, centre / (w * h)];
        let n = [w, h, d];
        let start = [0, 1, 2].map(|a| {
            let p = self.patch_size[a] as i64;
            let size = n[a] as i64;
            if size >= p {
                (c[a] as i64 - p / 2).clamp(0, size - p)
            } else {
                // Centre the smaller volume in the patch; the rest is zero-filled.
                -(p - size) / 2
            }
        });
        PatchDraw { case: index, start }
    }
}

fn label_len(case: &PreparedCase) -> usize {
    case.geometry.num_voxels()
}

/// A uniformly random voxel with `label > 0` (`positive`) or `label == 0`, by rejection then by
/// a scan when the class is rare; any voxel when the class is absent.
fn pick_voxel<R: Rng + ?Sized>(label: &[u8], positive: bool, rng: &mut R) -> usize {
    let wanted = |v: u8| (v > 0) == positive;
    for _ in 0..64 {
        let k = rng.random_range(0..label.len());
        if wanted(label[k]) {
            return k;
        }
    }
    let count = label.iter().filter(|&&v| wanted(v)).count();
    if count == 0 {
        return rng.random_range(0..label.len());
    }
    let nth = rng.random_range(0..count);
    label
        .iter()
        .enumerate()
        .filter(|(_, &v)| wanted(v))
        .nth(nth)
        .map(|(k, _)| k)
        .expect("counted")
}

/// Cuts the patch `draw` of size `size` (i, j, k) from `case`: image values `[C, D, H, W]`
/// appended to `image`, labels `[D, H, W]` to `label` (as class indices); zero outside.
///
/// ```
/// use medburn_core::Geometry;
/// use medburn_datasets::{cut_patch, PatchDraw, PreparedCase};
/// let g = Geometry::unit([4, 4, 4])?;
/// let case = PreparedCase { id: "a".into(), channels: 1, image: (0..64).map(|v| v as f32).collect(), label: Some(vec![1; 64]), targets: vec![], geometry: g, source_geometry: g };
/// let (mut img, mut lab) = (Vec::new(), Vec::new());
/// cut_patch(&case, &PatchDraw { case: 0, start: [1, 2, 3] }, [2, 1, 1], &mut img, &mut lab);
/// assert_eq!(img, vec![57.0, 58.0]); // (k*4 + j)*4 + i = 48 + 8 + 1
/// assert_eq!(lab, vec![1, 1]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn cut_patch(
    case: &PreparedCase,
    draw: &PatchDraw,
    size: [usize; 3],
    image: &mut Vec<f32>,
    label: &mut Vec<i64>,
) {
    let [w, h, d] = case.geometry.size();
    let n = w * h * d;
    let [pw, ph, pd] = size;
    let inside = |k: i64, j: i64, i: i64| {
        (0..d as i64).contains(&k) && (0..h as i64).contains(&j) && (0..w as i64).contains(&i)
    };
    let each = |f: &mut dyn FnMut(Option<usize>)| {
        for k in 0..pd as i64 {
            for j in 0..ph as i64 {
                for i in 0..pw as i64 {
                    let (z, y, x) = (draw.start[2] + k, draw.start[1] + j, draw.start[0] + i);
                    f(inside(z, y, x).then(|| (z as usize * h + y as usize) * w + x as usize));
                }
            }
        }
    };
    for c in 0..case.channels {
        let src = &case.image[c * n..(c + 1) * n];
        each(&mut |at| image.push(at.map_or(0.0, |k| src[k])));
    }
    if let Some(src) = &case.label {
        each(&mut |at| label.push(at.map_or(0, |k| src[k] as i64)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use medburn_core::Geometry;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn case(size: [usize; 3], fg: &[usize]) -> PreparedCase {
        let g = Geometry::unit(size).unwrap();
        let n = g.num_voxels();
        let mut label = vec![0u8; n];
        for &k in fg {
            label[k] = 2;
        }
        PreparedCase {
            id: "c".into(),
            channels: 2,
            image: (0..2 * n).map(|v| v as f32).collect(),
            label: Some(label),
            targets: vec![],
            geometry: g,
            source_geometry: g,
        }
    }

    #[test]
    fn positive_ratio_is_respected_and_patches_hold_their_centre() {
        let c = case([20, 20, 20], &[20 * 20 * 10 + 20 * 10 + 10]);
        let s = PatchSampler {
            patch_size: [6, 6, 6],
            pos: 1.0,
            neg: 3.0,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (mut with_fg, trials) = (0, 2000);
        for _ in 0..trials {
            let d = s.sample(&c, 0, &mut rng);
            let (mut img, mut lab) = (Vec::new(), Vec::new());
            cut_patch(&c, &d, s.patch_size, &mut img, &mut lab);
            assert_eq!(img.len(), 2 * 216);
            assert!(d.start.iter().all(|&v| (0..=14).contains(&v)));
            if lab.contains(&2) {
                with_fg += 1;
            }
        }
        // One voxel of 8000 is foreground: patches that hold it are (almost) only the positive
        // draws, a quarter of them.
        let share = with_fg as f64 / trials as f64;
        assert!((share - 0.25).abs() < 0.04, "{share}");
    }

    #[test]
    fn same_seed_same_draws() {
        let c = case([9, 7, 5], &[3, 40, 100]);
        let s = PatchSampler {
            patch_size: [4, 4, 4],
            pos: 1.0,
            neg: 1.0,
        };
        let draws = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..50)
                .map(|_| s.sample(&c, 0, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(draws(3), draws(3));
        assert_ne!(draws(3), draws(4));
    }

    #[test]
    fn small_volumes_are_zero_filled() {
        let c = case([2, 2, 2], &[0]);
        let s = PatchSampler {
            patch_size: [4, 2, 2],
            pos: 1.0,
            neg: 0.0,
        };
        let d = s.sample(&c, 0, &mut ChaCha8Rng::seed_from_u64(0));
        assert_eq!(d.start, [-1, 0, 0]);
        let (mut img, mut lab) = (Vec::new(), Vec::new());
        cut_patch(&c, &d, s.patch_size, &mut img, &mut lab);
        assert_eq!(&img[..4], &[0.0, 0.0, 1.0, 0.0]);
        assert_eq!(&lab[..4], &[0, 2, 0, 0]);
        assert!(PatchSampler {
            pos: -1.0,
            ..s.clone()
        }
        .validate()
        .is_err());
    }
}
