//! Random flips along voxel axes: an affine like any other, so it joins the chain's single
//! sampling call; alone, it moves voxels exactly (integer positions, no interpolation error).

use burn::tensor::Tensor;
use medburn_core::Geometry;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{check_batch, check_prob, Result};
use crate::matrix::{voxel_to_physical, Matrix4, IDENTITY};
use crate::random::chance;
use crate::resample::{check_geometry, resample_batch, unit_geometry, ImagePadding};

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
/// use burn::tensor::{Device, Tensor};
/// use medburn_augment::{FlipParams, RandomFlip};
/// let x = Tensor::<1, burn::tensor::Int>::arange(0..8, &Device::flex()).float().reshape([1, 1, 2, 2, 2]);
/// let flip = FlipParams { flips: vec![[true, false, false]] };
/// let (y, _) = RandomFlip::default().apply(&flip, x.clone(), None)?;
/// assert!(y.equal(x.flip([4])).all().into_scalar::<bool>());
/// # Ok::<(), medburn_augment::AugmentError>(())
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

/// The flips drawn for a batch: per sample, whether each voxel axis `(i, j, k)` is flipped.
///
/// ```
/// let p = medburn_augment::FlipParams { flips: vec![[false; 3]; 4] };
/// assert_eq!(p.batch(), 4);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FlipParams {
    /// One entry per sample of the batch.
    pub flips: Vec<[bool; 3]>,
}

impl FlipParams {
    /// Samples the params were drawn for.
    ///
    /// ```
    /// assert_eq!(medburn_augment::FlipParams::default().batch(), 0);
    /// ```
    pub fn batch(&self) -> usize {
        self.flips.len()
    }

    /// Per sample, the voxel matrix (output index -> input index) of a grid of `size` `[i, j,
    /// k]`: index `x` of a flipped axis reads `n - 1 - x`. Exact integers, so a flip alone does
    /// not interpolate.
    ///
    /// ```
    /// let p = medburn_augment::FlipParams { flips: vec![[false, true, false]] };
    /// assert_eq!(p.voxel_matrices([4, 5, 6])[0][1], [0.0, -1.0, 0.0, 4.0]);
    /// ```
    pub fn voxel_matrices(&self, size: [usize; 3]) -> Vec<Matrix4> {
        self.flips
            .iter()
            .map(|f| {
                let mut m = IDENTITY;
                for a in 0..3 {
                    if f[a] {
                        m[a][a] = -1.0;
                        m[a][3] = size[a] as f64 - 1.0;
                    }
                }
                m
            })
            .collect()
    }

    /// Per sample, the physical transform (output point -> input point) on `geometry`: the
    /// mirror about the patch centre across the plane normal to the flipped voxel axis.
    ///
    /// ```
    /// let g = medburn_core::Geometry::unit([4, 4, 4])?;
    /// let p = medburn_augment::FlipParams { flips: vec![[true, false, false]] };
    /// assert_eq!(p.physical_matrices(&g)[0][0], [-1.0, 0.0, 0.0, 3.0]);
    /// # Ok::<(), medburn_core::GeometryError>(())
    /// ```
    pub fn physical_matrices(&self, geometry: &Geometry) -> Vec<Matrix4> {
        self.voxel_matrices(geometry.size())
            .iter()
            .map(|m| voxel_to_physical(geometry, m))
            .collect()
    }
}

impl RandomFlip {
    /// Fails on a probability outside [0, 1].
    ///
    /// ```
    /// assert!(medburn_augment::RandomFlip { prob: 1.5, axes: [true; 3] }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        check_prob("flip.prob", self.prob)
    }

    /// Draws the flips of a batch: three values per sample (one per axis, enabled or not), so
    /// the RNG position depends only on `batch`.
    ///
    /// ```
    /// use rand::SeedableRng;
    /// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    /// let p = medburn_augment::RandomFlip::default().sample(&mut rng, 8);
    /// assert!(p.flips.iter().all(|f| !f[1] && !f[2])); // left-right only
    /// ```
    pub fn sample(&self, rng: &mut (impl Rng + ?Sized), batch: usize) -> FlipParams {
        let flips = (0..batch)
            .map(|_| {
                let mut f = [false; 3];
                for (a, flip) in f.iter_mut().enumerate() {
                    *flip = chance(rng, self.prob) && self.axes[a];
                }
                f
            })
            .collect();
        FlipParams { flips }
    }

    /// Applies drawn flips to `image` `[N, C, D, H, W]` and `label` (float class indices): one
    /// sampling call each, values moved exactly.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_augment::{FlipParams, RandomFlip};
    /// let x = Tensor::<5>::ones([2, 1, 4, 4, 4], &Device::flex());
    /// let p = FlipParams { flips: vec![[false; 3], [true; 3]] };
    /// let (y, l) = RandomFlip::default().apply(&p, x.clone(), Some(x))?;
    /// assert_eq!(l.unwrap().dims(), y.dims());
    /// # Ok::<(), medburn_augment::AugmentError>(())
    /// ```
    pub fn apply(
        &self,
        params: &FlipParams,
        image: Tensor<5>,
        label: Option<Tensor<5>>,
    ) -> Result<(Tensor<5>, Option<Tensor<5>>)> {
        let geometry = unit_geometry(image.dims())?;
        self.apply_with_geometry(params, &geometry, image, label)
    }

    /// As [`RandomFlip::apply`]; a flip along voxel axes is the same on any geometry of the
    /// image's size, which is checked.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_augment::{FlipParams, RandomFlip};
    /// let g = medburn_core::Geometry::unit([4, 4, 2])?;
    /// let x = Tensor::<5>::ones([1, 1, 2, 4, 4], &Device::flex());
    /// let p = FlipParams { flips: vec![[false, false, true]] };
    /// assert!(RandomFlip::default().apply_with_geometry(&p, &g, x, None).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply_with_geometry(
        &self,
        params: &FlipParams,
        geometry: &Geometry,
        image: Tensor<5>,
        label: Option<Tensor<5>>,
    ) -> Result<(Tensor<5>, Option<Tensor<5>>)> {
        self.validate()?;
        check_geometry(geometry, image.dims())?;
        check_batch("flip", params.batch(), image.dims()[0])?;
        let m = params.voxel_matrices(geometry.size());
        // Flips never read outside the patch: the padding does not matter.
        resample_batch(&m, image, label, ImagePadding::Zeros)
    }
}
