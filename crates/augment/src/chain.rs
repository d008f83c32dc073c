//! The training-loop chain: affine + flip composed into one sampling call, then noise, then
//! gamma (nnU-Net's order: spatial first, noise before gamma).

use burn::tensor::Tensor;
use medburn_core::Geometry;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::affine::{check_samples, AffineParams, RandomAffine};
use crate::error::{check_batch, check_pair, Result};
use crate::flip::{FlipParams, RandomFlip};
use crate::intensity::gamma::{GammaParams, RandomGamma};
use crate::intensity::noise::{NoiseParams, RandomGaussianNoise};
use crate::matrix::{compose_transforms, voxel_to_physical, Matrix4};
use crate::resample::{check_geometry, resample_batch, unit_geometry};

/// The first augmentation set for training, with brain-MR defaults (see each transform):
/// affine p 0.2 (+-15 degrees per axis, isotropic scale 0.85-1.15, +-5 mm), left-right flip
/// p 0.5, Gaussian noise p 0.15 (std up to 0.1), gamma p 0.3 (0.7-1.5).
///
/// Serde with every field optional, so a TOML training config carries it as a table and
/// names only what it changes:
///
/// ```toml
/// [augment.affine]
/// prob = 0.5
/// rotation_deg = [30.0, 30.0, 30.0]
/// [augment.flip]
/// axes = [true, true, true]
/// ```
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_augment::AugmentConfig;
/// use rand::SeedableRng;
/// let config = AugmentConfig::default();
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let device = Device::flex();
/// let image = Tensor::<5>::ones([2, 1, 8, 8, 8], &device);
/// let label = Tensor::<5>::zeros([2, 1, 8, 8, 8], &device);
/// let params = config.sample(&mut rng, 2);
/// let (image, label) = config.apply(&params, image, Some(label))?;
/// assert_eq!(label.unwrap().dims(), image.dims());
/// # Ok::<(), medburn_augment::AugmentError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AugmentConfig {
    /// Rotation, scaling, translation.
    pub affine: RandomAffine,
    /// Flips along voxel axes.
    pub flip: RandomFlip,
    /// Additive Gaussian noise (image only).
    pub noise: RandomGaussianNoise,
    /// Gamma contrast (image only).
    pub gamma: RandomGamma,
}

/// Everything drawn for one batch: what [`AugmentConfig::apply`] applies, and what a log or a
/// checkpoint may keep (serde) to replay a batch exactly.
///
/// ```
/// use rand::SeedableRng;
/// let p = medburn_augment::AugmentConfig::default().sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0), 3);
/// assert_eq!(p.batch(), 3);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AugmentParams {
    /// Drawn affine motions.
    pub affine: AffineParams,
    /// Drawn flips.
    pub flip: FlipParams,
    /// Drawn noise.
    pub noise: NoiseParams,
    /// Drawn gammas.
    pub gamma: GammaParams,
}

impl AugmentParams {
    /// Samples the params were drawn for (that of the affine params; `apply` checks that all
    /// agree).
    ///
    /// ```
    /// assert_eq!(medburn_augment::AugmentParams::default().batch(), 0);
    /// ```
    pub fn batch(&self) -> usize {
        self.affine.batch()
    }

    /// Per sample, the voxel matrix (output index -> input index) of the whole spatial chain on
    /// `geometry`: the flip composed after the affine motion, as one matrix.
    ///
    /// ```
    /// use medburn_augment::{AugmentParams, FlipParams, AffineParams};
    /// let g = medburn_core::Geometry::unit([4, 4, 4])?;
    /// let p = AugmentParams {
    ///     affine: AffineParams { samples: vec![None] },
    ///     flip: FlipParams { flips: vec![[true, false, false]] },
    ///     ..Default::default()
    /// };
    /// assert_eq!(p.voxel_matrices(&g)[0][0], [-1.0, 0.0, 0.0, 3.0]);
    /// # Ok::<(), medburn_core::GeometryError>(())
    /// ```
    pub fn voxel_matrices(&self, geometry: &Geometry) -> Vec<Matrix4> {
        // Content flipped, then moved: the map reads through the motion's inverse first, then
        // the flip (its own inverse). In voxels, so a flip stays exact integers.
        let affine = self.affine.voxel_matrices(geometry);
        let flip = self.flip.voxel_matrices(geometry.size());
        flip.iter()
            .zip(&affine)
            .map(|(f, a)| compose_transforms(f, a))
            .collect()
    }

    /// Per sample, the physical transform (output point -> input point, ITK's convention) of
    /// the whole spatial chain on `geometry`: what `medburn_spatial::resample_voxels` would take
    /// to do the same resampling.
    ///
    /// ```
    /// use medburn_augment::{AugmentParams, IDENTITY};
    /// let g = medburn_core::Geometry::unit([4, 4, 4])?;
    /// assert!(AugmentParams::default().physical_matrices(&g).is_empty());
    /// # Ok::<(), medburn_core::GeometryError>(())
    /// ```
    pub fn physical_matrices(&self, geometry: &Geometry) -> Vec<Matrix4> {
        self.voxel_matrices(geometry)
            .iter()
            .map(|m| voxel_to_physical(geometry, m))
            .collect()
    }

    fn check(&self, batch: usize) -> Result<()> {
        check_batch("affine", self.affine.batch(), batch)?;
        check_batch("flip", self.flip.batch(), batch)?;
        check_batch("noise", self.noise.batch(), batch)?;
        check_batch("gamma", self.gamma.batch(), batch)?;
        check_samples(&self.affine)
    }
}

impl AugmentConfig {
    /// A chain that does nothing (every probability 0), e.g. for validation batches.
    ///
    /// ```
    /// let c = medburn_augment::AugmentConfig::none();
    /// assert_eq!(c.flip.prob, 0.0);
    /// ```
    pub fn none() -> Self {
        let mut c = Self::default();
        c.affine.prob = 0.0;
        c.flip.prob = 0.0;
        c.noise.prob = 0.0;
        c.gamma.prob = 0.0;
        c
    }

    /// Fails on the first value out of range, naming its field.
    ///
    /// ```
    /// let mut c = medburn_augment::AugmentConfig::default();
    /// c.gamma.prob = -0.1;
    /// assert!(c.validate().unwrap_err().to_string().contains("gamma.prob"));
    /// ```
    pub fn validate(&self) -> Result<()> {
        self.affine.validate()?;
        self.flip.validate()?;
        self.noise.validate()?;
        self.gamma.validate()
    }

    /// Draws everything for a batch, transform by transform (affine, flip, noise, gamma), each
    /// a fixed number of values per sample: the RNG position after it depends only on `batch`.
    /// Generic over the RNG; training uses `rand_chacha::ChaCha8Rng`, whose position
    /// (`get_word_pos`) a checkpoint saves beside the seed.
    ///
    /// ```
    /// use rand::SeedableRng;
    /// let c = medburn_augment::AugmentConfig::default();
    /// let a = c.sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(9), 4);
    /// let b = c.sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(9), 4);
    /// assert_eq!(a, b);
    /// ```
    pub fn sample(&self, rng: &mut (impl Rng + ?Sized), batch: usize) -> AugmentParams {
        AugmentParams {
            affine: self.affine.sample(rng, batch),
            flip: self.flip.sample(rng, batch),
            noise: self.noise.sample(rng, batch),
            gamma: self.gamma.sample(rng, batch),
        }
    }

    /// Applies drawn params to `image` `[N, C, D, H, W]` and an optional `label` (float class
    /// indices, `[N, 1, D, H, W]` or more channels) on a unit-spacing, identity-direction patch.
    /// The spatial chain is one sampling call for the image (linear) and one for the label
    /// (nearest, background 0 outside); noise and gamma then change the image only.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_augment::AugmentConfig;
    /// use rand::SeedableRng;
    /// let c = AugmentConfig::none();
    /// let x = Tensor::<5>::ones([1, 1, 4, 4, 4], &Device::flex());
    /// let p = c.sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0), 1);
    /// let (y, _) = c.apply(&p, x.clone(), None)?;
    /// assert!(y.equal(x).all().into_scalar::<bool>());
    /// # Ok::<(), medburn_augment::AugmentError>(())
    /// ```
    pub fn apply(
        &self,
        params: &AugmentParams,
        image: Tensor<5>,
        label: Option<Tensor<5>>,
    ) -> Result<(Tensor<5>, Option<Tensor<5>>)> {
        let geometry = unit_geometry(image.dims())?;
        self.apply_with_geometry(params, &geometry, image, label)
    }

    /// As [`AugmentConfig::apply`] on a patch of `geometry`: rotations and translations are in
    /// its physical space (mm, about its centre), so anisotropic spacing is respected.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_augment::AugmentConfig;
    /// use rand::SeedableRng;
    /// let g = medburn_core::Geometry::new([8, 8, 4], [0.0; 3], [1.0, 1.0, 2.0], medburn_core::Direction::identity())?;
    /// let c = AugmentConfig::default();
    /// let p = c.sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0), 1);
    /// let (y, _) = c.apply_with_geometry(&p, &g, Tensor::<5>::ones([1, 1, 4, 8, 8], &Device::flex()), None)?;
    /// assert_eq!(y.dims(), [1, 1, 4, 8, 8]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply_with_geometry(
        &self,
        params: &AugmentParams,
        geometry: &Geometry,
        image: Tensor<5>,
        label: Option<Tensor<5>>,
    ) -> Result<(Tensor<5>, Option<Tensor<5>>)> {
        self.validate()?;
        let dims = image.dims();
        // Every check before the first tensor op: a refused call does no work.
        check_pair(dims, label.as_ref().map(|l| l.dims()))?;
        check_geometry(geometry, dims)?;
        params.check(dims[0])?;
        let matrices = params.voxel_matrices(geometry);
        let (image, label) = resample_batch(&matrices, image, label, self.affine.image_padding)?;
        let image = self.noise.apply(&params.noise, image)?;
        let image = self.gamma.apply(&params.gamma, image)?;
        Ok((image, label))
    }
}
