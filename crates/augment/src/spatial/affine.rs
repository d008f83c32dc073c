//! Random rotation, scaling, shear and translation about the patch centre, in physical space.

use medburn_core::vec3::{mat3_inverse, mat3_mul};
use medburn_core::Geometry;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::error::{check_magnitudes, check_prob, check_range, AugmentError, Result};
use crate::matrix::{about_centre, compose_transforms, from_parts, physical_to_voxel};
use crate::matrix::{Matrix4, IDENTITY};
use crate::random::uniform;

/// Random affine motion of each sample's content (MONAI `RandAffine`, TorchIO `RandomAffine`):
/// scaling, shear, rotation about the world (LPS) x, y, z axes through the patch centre, then
/// translation.
///
/// The content is scaled along the world axes, sheared (`x += sxy y + sxz z`, `y += syz z`),
/// rotated by `R = Rz Ry Rx` (angles by the right-hand rule, as
/// `medburn_spatial::transform::rotation`), then moved; a scale above 1 zooms in. Angles,
/// scales, shears and offsets are uniform in their ranges.
///
/// Defaults (brain MR, nnU-Net/MONAI-like): `prob` 0.2, +-15 degrees per axis, isotropic scale
/// in [0.85, 1.15], no shear, +-5 mm per axis.
///
/// ```
/// use medburn_augment::{Pipeline, RandomAffine, Transform};
/// let p = Pipeline::new(vec![Transform::Affine(RandomAffine { prob: 1.0, ..Default::default() })]);
/// assert!(p.validate().is_ok());
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
    /// Shear ranges `(xy, xz, yz)`: uniform in `[-s, s]` (MONAI's `shear_range`).
    pub shear: [f64; 3],
    /// Translation range in mm along the world x, y, z axes: uniform in `[-t, t]`.
    pub translation_mm: [f64; 3],
}

impl Default for RandomAffine {
    fn default() -> Self {
        Self {
            prob: 0.2,
            rotation_deg: [15.0; 3],
            scale: (0.85, 1.15),
            isotropic_scale: true,
            shear: [0.0; 3],
            translation_mm: [5.0; 3],
        }
    }
}

/// The motion drawn for one sample.
///
/// ```
/// use medburn_augment::AffineSample;
/// let s = AffineSample { rotation_rad: [0.0; 3], scale: [2.0; 3], shear: [0.0; 3], translation_mm: [0.0; 3] };
/// // Content zoomed twice about (1, 1, 1): output (3, 1, 1) reads input (2, 1, 1).
/// assert_eq!(s.matrix([1.0; 3]).unwrap()[0], [0.5, 0.0, 0.0, 0.5]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AffineSample {
    /// Rotation of the content about the world x, y, z axes, radians, applied x first.
    pub rotation_rad: [f64; 3],
    /// Scale factors along the world x, y, z axes.
    pub scale: [f64; 3],
    /// Shear factors `(xy, xz, yz)`.
    pub shear: [f64; 3],
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
        mat3_mul(&rz, &mat3_mul(&ry, &rx))
    }

    /// The physical transform (output point -> input point) that resamples the moved content,
    /// about `centre` (mm): `p_in = centre + (R Sh S)^-1 (p_out - t - centre)`. `None` when
    /// the shear and scale make it singular.
    ///
    /// ```
    /// use medburn_augment::AffineSample;
    /// let s = AffineSample { rotation_rad: [0.0; 3], scale: [1.0; 3], shear: [0.0; 3], translation_mm: [1.0, 0.0, 0.0] };
    /// assert_eq!(s.matrix([0.0; 3]).unwrap()[0][3], -1.0); // content moved +1 mm: output reads 1 mm back
    /// ```
    pub fn matrix(&self, centre: [f64; 3]) -> Option<Matrix4> {
        let [sxy, sxz, syz] = self.shear;
        let shear = [[1.0, sxy, sxz], [0.0, 1.0, syz], [0.0, 0.0, 1.0]];
        let s = self.scale;
        let scale = [[s[0], 0.0, 0.0], [0.0, s[1], 0.0], [0.0, 0.0, s[2]]];
        let linear = mat3_inverse(&mat3_mul(&self.rotation(), &mat3_mul(&shear, &scale)))?;
        let around = about_centre(linear, centre);
        let back = from_parts(
            [[1., 0., 0.], [0., 1., 0.], [0., 0., 1.]],
            self.translation_mm.map(|v| -v),
        );
        Some(compose_transforms(&around, &back))
    }

    /// The voxel matrix on `geometry` (output index -> input index), about its centre.
    pub(crate) fn voxel_matrix(&self, geometry: &Geometry) -> Result<Matrix4> {
        let m = self
            .matrix(geometry.centre())
            .ok_or_else(|| AugmentError::Params(format!("affine sample {self:?} is singular")))?;
        Ok(physical_to_voxel(geometry, &m))
    }

    pub(crate) fn check(&self) -> Result<()> {
        let finite = self
            .rotation_rad
            .iter()
            .chain(&self.scale)
            .chain(&self.shear)
            .chain(&self.translation_mm)
            .all(|v| v.is_finite());
        if !finite || self.scale.iter().any(|f| *f <= 0.0) {
            return Err(AugmentError::Params(format!(
                "affine sample {self:?} needs finite values and positive scales"
            )));
        }
        Ok(())
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
        check_magnitudes("affine.shear", &self.shear)?;
        check_magnitudes("affine.translation_mm", &self.translation_mm)
    }

    /// Draws one sample's motion: twelve values (three angles, three scales, three shears,
    /// three offsets) whatever the ranges.
    pub(crate) fn draw(&self, rng: &mut dyn RngCore) -> AffineSample {
        let rotation_rad = self.rotation_deg.map(|r| uniform(rng, -r, r).to_radians());
        let mut scale = [0.0; 3].map(|_| uniform(rng, self.scale.0, self.scale.1));
        if self.isotropic_scale {
            scale = [scale[0]; 3];
        }
        let shear = self.shear.map(|s| uniform(rng, -s, s));
        let translation_mm = self.translation_mm.map(|t| uniform(rng, -t, t));
        AffineSample {
            rotation_rad,
            scale,
            shear,
            translation_mm,
        }
    }
}

/// Per sample, the voxel matrix of drawn motions (`None`: identity).
pub(crate) fn voxel_matrices(
    samples: &[Option<AffineSample>],
    g: &Geometry,
) -> Result<Vec<Matrix4>> {
    samples
        .iter()
        .map(|s| match s {
            Some(s) => {
                s.check()?;
                s.voxel_matrix(g)
            }
            None => Ok(IDENTITY),
        })
        .collect()
}
