//! Random rotation, scaling and translation about the patch centre, in physical space.

use burn::tensor::Tensor;
use medburn_core::Geometry;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{check_magnitudes, check_prob, check_range, AugmentError, Result};
use crate::matrix::{about_centre, compose_transforms, from_parts, mul3, physical_to_voxel};
use crate::matrix::{Matrix4, IDENTITY};
use crate::random::{chance, uniform};
use crate::resample::{check_geometry, resample_batch, unit_geometry, ImagePadding};

/// Random affine motion of each sample's content (MONAI `RandAffine`, TorchIO `RandomAffine`):
/// rotation about the world (LPS) x, y, z axes through the patch centre, then scaling about the
/// centre, then translation. With probability `prob` a sample gets all three, else none.
///
/// The content is first scaled along the world axes, then rotated by `R = Rz Ry Rx` (angles by
/// the right-hand rule, as `medburn_spatial::transform::rotation`), then moved by the
/// translation; a scale above 1 zooms in. Angles, scales and offsets are uniform in their ranges.
///
/// Defaults (brain MR, nnU-Net/MONAI-like): `prob` 0.2 (nnU-Net's per-sample rotation and
/// scaling probability), +-15 degrees per axis, isotropic scale in [0.85, 1.15], +-5 mm per
/// axis, zero padding.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_augment::RandomAffine;
/// use rand::SeedableRng;
/// let affine = RandomAffine { prob: 1.0, ..RandomAffine::default() };
/// let params = affine.sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0), 2);
/// let x = Tensor::<5>::ones([2, 1, 8, 8, 8], &Device::flex());
/// let (y, _) = affine.apply(&params, x, None)?;
/// assert_eq!(y.dims(), [2, 1, 8, 8, 8]);
/// # Ok::<(), medburn_augment::AugmentError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomAffine {
    /// Probability that a sample is transformed.
    pub prob: f64,
    /// Rotation range in degrees about the world x, y, z axes: uniform in `[-r, r]`.
    pub rotation_deg: [f64; 3],
    /// Scale factor range `(min, max)`; `min > 0`.
    pub scale: (f64, f64),
    /// One factor for all three axes (nnU-Net's default) or one per axis (MONAI's).
    pub isotropic_scale: bool,
    /// Translation range in mm along the world x, y, z axes: uniform in `[-t, t]`.
    pub translation_mm: [f64; 3],
    /// What the image reads where content moved in from outside the patch.
    pub image_padding: ImagePadding,
}

impl Default for RandomAffine {
    fn default() -> Self {
        Self {
            prob: 0.2,
            rotation_deg: [15.0; 3],
            scale: (0.85, 1.15),
            isotropic_scale: true,
            translation_mm: [5.0; 3],
            image_padding: ImagePadding::Zeros,
        }
    }
}

/// The motion drawn for one sample.
///
/// ```
/// use medburn_augment::AffineSample;
/// let s = AffineSample { rotation_rad: [0.0; 3], scale: [2.0; 3], translation_mm: [0.0; 3] };
/// // Content zoomed twice about (1, 1, 1): output (3, 1, 1) reads input (2, 1, 1).
/// assert_eq!(s.matrix([1.0; 3])[0], [0.5, 0.0, 0.0, 0.5]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AffineSample {
    /// Rotation of the content about the world x, y, z axes, radians, applied x first.
    pub rotation_rad: [f64; 3],
    /// Scale factors along the world x, y, z axes.
    pub scale: [f64; 3],
    /// Translation of the content, mm, LPS.
    pub translation_mm: [f64; 3],
}

impl AffineSample {
    /// The content rotation `R = Rz Ry Rx`.
    fn rotation(&self) -> [[f64; 3]; 3] {
        let [x, y, z] = self.rotation_rad;
        let (sx, cx) = x.sin_cos();
        let (sy, cy) = y.sin_cos();
        let (sz, cz) = z.sin_cos();
        let rx = [[1.0, 0.0, 0.0], [0.0, cx, -sx], [0.0, sx, cx]];
        let ry = [[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]];
        let rz = [[cz, -sz, 0.0], [sz, cz, 0.0], [0.0, 0.0, 1.0]];
        mul3(&rz, &mul3(&ry, &rx))
    }

    /// The physical transform (output point -> input point) that resamples the moved content,
    /// about `centre` (mm): `p_in = centre + S^-1 R^T (p_out - t - centre)`.
    ///
    /// ```
    /// use medburn_augment::AffineSample;
    /// let s = AffineSample { rotation_rad: [0.0; 3], scale: [1.0; 3], translation_mm: [1.0, 0.0, 0.0] };
    /// assert_eq!(s.matrix([0.0; 3])[0][3], -1.0); // content moved +1 mm: output reads 1 mm back
    /// ```
    pub fn matrix(&self, centre: [f64; 3]) -> Matrix4 {
        let r = self.rotation();
        // S^-1 R^T: row a of R^T (column a of R) divided by the factor of axis a.
        let a = std::array::from_fn(|row| std::array::from_fn(|c| r[c][row] / self.scale[row]));
        let around = about_centre(a, centre);
        let t = self.translation_mm;
        let back = from_parts([[1., 0., 0.], [0., 1., 0.], [0., 0., 1.]], t.map(|v| -v));
        compose_transforms(&around, &back)
    }
}

/// The affine motions drawn for a batch: `None` where a sample is left alone.
///
/// ```
/// use medburn_augment::AffineParams;
/// let p = AffineParams { samples: vec![None, None] };
/// assert_eq!(p.batch(), 2);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AffineParams {
    /// One entry per sample of the batch.
    pub samples: Vec<Option<AffineSample>>,
}

impl AffineParams {
    /// Samples the params were drawn for.
    ///
    /// ```
    /// assert_eq!(medburn_augment::AffineParams::default().batch(), 0);
    /// ```
    pub fn batch(&self) -> usize {
        self.samples.len()
    }

    /// Per sample, the physical transform (output point -> input point, ITK's convention, what
    /// `medburn_spatial::resample_voxels` takes) about the centre of `geometry`.
    ///
    /// ```
    /// use medburn_augment::{AffineParams, IDENTITY};
    /// let g = medburn_core::Geometry::unit([4, 4, 4])?;
    /// assert_eq!(AffineParams { samples: vec![None] }.physical_matrices(&g), vec![IDENTITY]);
    /// # Ok::<(), medburn_core::GeometryError>(())
    /// ```
    pub fn physical_matrices(&self, geometry: &Geometry) -> Vec<Matrix4> {
        let c = geometry.centre();
        self.samples
            .iter()
            .map(|s| s.map_or(IDENTITY, |s| s.matrix(c)))
            .collect()
    }

    /// Per sample, the voxel matrix (output index -> input index) on `geometry`.
    ///
    /// ```
    /// use medburn_augment::{AffineParams, AffineSample};
    /// let g = medburn_core::Geometry::new([4; 3], [0.0; 3], [2.0; 3], medburn_core::Direction::identity())?;
    /// let s = AffineSample { rotation_rad: [0.0; 3], scale: [1.0; 3], translation_mm: [2.0, 0.0, 0.0] };
    /// // 2 mm on a 2 mm grid: one voxel.
    /// assert_eq!(AffineParams { samples: vec![Some(s)] }.voxel_matrices(&g)[0][0][3], -1.0);
    /// # Ok::<(), medburn_core::GeometryError>(())
    /// ```
    pub fn voxel_matrices(&self, geometry: &Geometry) -> Vec<Matrix4> {
        self.physical_matrices(geometry)
            .iter()
            .map(|m| physical_to_voxel(geometry, m))
            .collect()
    }
}

impl RandomAffine {
    /// Fails on a probability outside [0, 1], a negative or non-finite range, or a scale range
    /// that is not `0 < min <= max`.
    ///
    /// ```
    /// use medburn_augment::RandomAffine;
    /// assert!(RandomAffine { scale: (0.0, 1.0), ..Default::default() }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        check_prob("affine.prob", self.prob)?;
        check_magnitudes("affine.rotation_deg", &self.rotation_deg)?;
        check_range("affine.scale", self.scale, true)?;
        check_magnitudes("affine.translation_mm", &self.translation_mm)
    }

    /// Draws the motions of a batch. Ten values per sample (the coin, three angles, three
    /// scales, three offsets), whatever the outcome, so the RNG position depends only on
    /// `batch`.
    ///
    /// ```
    /// use medburn_augment::RandomAffine;
    /// use rand::SeedableRng;
    /// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    /// let p = RandomAffine { prob: 1.0, ..Default::default() }.sample(&mut rng, 3);
    /// let s = p.samples[0].unwrap();
    /// assert!(s.rotation_rad.iter().all(|a| a.abs() <= 15f64.to_radians()));
    /// assert!(s.scale[0] == s.scale[2]); // isotropic by default
    /// ```
    pub fn sample(&self, rng: &mut (impl Rng + ?Sized), batch: usize) -> AffineParams {
        let samples = (0..batch)
            .map(|_| {
                let on = chance(rng, self.prob);
                let rotation_rad = self.rotation_deg.map(|r| uniform(rng, -r, r).to_radians());
                let mut scale = [0.0; 3].map(|_| uniform(rng, self.scale.0, self.scale.1));
                if self.isotropic_scale {
                    scale = [scale[0]; 3];
                }
                let translation_mm = self.translation_mm.map(|t| uniform(rng, -t, t));
                on.then_some(AffineSample {
                    rotation_rad,
                    scale,
                    translation_mm,
                })
            })
            .collect();
        AffineParams { samples }
    }

    /// Applies drawn motions to `image` `[N, C, D, H, W]` (linear) and `label` (nearest, float
    /// class indices) on a unit-spacing, identity-direction patch: one sampling call each.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_augment::{AffineParams, RandomAffine};
    /// let x = Tensor::<5>::ones([1, 1, 4, 4, 4], &Device::flex());
    /// let none = AffineParams { samples: vec![None] };
    /// let (y, _) = RandomAffine::default().apply(&none, x.clone(), None)?;
    /// assert!(y.equal(x).all().into_scalar::<bool>());
    /// # Ok::<(), medburn_augment::AugmentError>(())
    /// ```
    pub fn apply(
        &self,
        params: &AffineParams,
        image: Tensor<5>,
        label: Option<Tensor<5>>,
    ) -> Result<(Tensor<5>, Option<Tensor<5>>)> {
        let geometry = unit_geometry(image.dims())?;
        self.apply_with_geometry(params, &geometry, image, label)
    }

    /// As [`RandomAffine::apply`] on a patch of `geometry` (spacing and direction matter; the
    /// rotation is about its centre).
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_augment::{AffineParams, RandomAffine};
    /// let g = medburn_core::Geometry::new([4; 3], [0.0; 3], [1.0, 1.0, 3.0], medburn_core::Direction::identity())?;
    /// let x = Tensor::<5>::ones([1, 1, 4, 4, 4], &Device::flex());
    /// let none = AffineParams { samples: vec![None] };
    /// let (y, _) = RandomAffine::default().apply_with_geometry(&none, &g, x, None)?;
    /// assert_eq!(y.dims(), [1, 1, 4, 4, 4]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply_with_geometry(
        &self,
        params: &AffineParams,
        geometry: &Geometry,
        image: Tensor<5>,
        label: Option<Tensor<5>>,
    ) -> Result<(Tensor<5>, Option<Tensor<5>>)> {
        self.validate()?;
        check_geometry(geometry, image.dims())?;
        crate::error::check_batch("affine", params.batch(), image.dims()[0])?;
        check_samples(params)?;
        let m = params.voxel_matrices(geometry);
        resample_batch(&m, image, label, self.image_padding)
    }
}

/// Fails on non-finite or non-positive values in drawn params (hand-made params included).
pub(crate) fn check_samples(params: &AffineParams) -> Result<()> {
    for s in params.samples.iter().flatten() {
        let finite = s
            .rotation_rad
            .iter()
            .chain(&s.scale)
            .chain(&s.translation_mm)
            .all(|v| v.is_finite());
        if !finite || s.scale.iter().any(|f| *f <= 0.0) {
            return Err(AugmentError::Params(format!(
                "affine sample {s:?} needs finite values and positive scales"
            )));
        }
    }
    Ok(())
}
