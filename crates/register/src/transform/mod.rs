//! What a registration finds, as ITK writes it: an affine (`affine.tfm`) and an optional
//! dense displacement field on the fixed grid (`displacement.nii.gz`), applied as SimpleITK's
//! `CompositeTransform([affine, displacement])` does: a fixed point `x` (LPS, mm) goes to the
//! moving point `A (x + u(x))`.

mod displacement_field;
mod sample;

use std::path::Path;

use burn::tensor::{DType, Device, Tensor, TensorData};
use medburn_core::{Geometry, MedImage};
use medburn_spatial::Interpolation;

pub(crate) use displacement_field::mix_components;
pub use displacement_field::DisplacementField;
pub use sample::resample_through;

use crate::error::RegistrationError;
use crate::ItkAffine;

/// The file names of a saved transform in its folder.
pub const AFFINE_FILE: &str = "affine.tfm";
/// See [`AFFINE_FILE`].
pub const DISPLACEMENT_FILE: &str = "displacement.nii.gz";

/// A fixed-to-moving transform: `x -> A (x + u(x))`.
///
/// ```
/// use burn::tensor::Device;
/// use medburn_core::{Geometry, MedImage};
/// use medburn_register::{ItkAffine, RegistrationTransform};
/// use medburn_spatial::Interpolation;
///
/// let shift = ItkAffine::from_matrix([[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]], [0.0; 3]);
/// let t = RegistrationTransform { affine: shift, displacement: None };
/// let g = Geometry::unit([3, 1, 1])?;
/// let moving = MedImage::from_vec(vec![1.0, 2.0, 3.0], 1, g, &Device::flex())?;
/// let warped = t.apply(&moving, &g, Interpolation::Linear)?;
/// assert_eq!(warped.to_vec()?, vec![2.0, 3.0, 0.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct RegistrationTransform {
    /// `A`, applied last.
    pub affine: ItkAffine,
    /// `u`, applied first (any grid; the identity beyond it).
    pub displacement: Option<DisplacementField>,
}

impl RegistrationTransform {
    /// The identity.
    ///
    /// ```
    /// let t = medburn_register::RegistrationTransform::identity();
    /// assert_eq!(t.map_point([1.0, 2.0, 3.0]), [1.0, 2.0, 3.0]);
    /// ```
    pub fn identity() -> RegistrationTransform {
        RegistrationTransform {
            affine: ItkAffine::from_matrix(
                [
                    [1.0, 0.0, 0.0, 0.0],
                    [0.0, 1.0, 0.0, 0.0],
                    [0.0, 0.0, 1.0, 0.0],
                ],
                [0.0; 3],
            ),
            displacement: None,
        }
    }

    /// `moving` resampled onto `like` through the transform, in one interpolation: an image
    /// with linear or B-spline, a label map with nearest or label-linear. The result carries
    /// `like` and the moving image's modality and metadata.
    pub fn apply(
        &self,
        moving: &MedImage,
        like: &Geometry,
        interpolation: Interpolation,
    ) -> crate::Result<MedImage> {
        let u = match &self.displacement {
            Some(field) => Some(field.on_grid(like)?.vectors().clone()),
            None => None,
        };
        let u = u.map(|u| u.to_device(&moving.device()));
        let voxels = resample_through(
            moving.voxels().clone(),
            moving.geometry(),
            like,
            &self.affine.to_matrix(),
            u,
            interpolation,
        )?;
        let mut out =
            MedImage::new(voxels, *like).map_err(|e| RegistrationError::Shape(e.to_string()))?;
        out.modality = moving.modality.clone();
        out.subtype = moving.subtype.clone();
        out.metadata = moving.metadata.clone();
        Ok(out)
    }

    /// The moving point of one fixed point (the displacement interpolated linearly).
    ///
    /// ```
    /// let t = medburn_register::RegistrationTransform::identity();
    /// assert_eq!(t.map_points(&[[0.5, 0.0, 0.0]]).unwrap(), vec![[0.5, 0.0, 0.0]]);
    /// ```
    pub fn map_point(&self, p: [f64; 3]) -> [f64; 3] {
        self.map_points(&[p])
            .ok()
            .and_then(|v| v.first().copied())
            .unwrap_or([f64::NAN; 3])
    }

    /// The moving points of fixed points (LPS, mm), e.g. landmarks for a target registration
    /// error. The displacement is interpolated linearly, zero beyond its grid.
    pub fn map_points(&self, points: &[[f64; 3]]) -> crate::Result<Vec<[f64; 3]>> {
        let displaced: Vec<[f64; 3]> = match &self.displacement {
            None => points.to_vec(),
            Some(field) => {
                let u = sample_field_at(field, points)?;
                points
                    .iter()
                    .zip(u)
                    .map(|(p, u)| [p[0] + u[0], p[1] + u[1], p[2] + u[2]])
                    .collect()
            }
        };
        Ok(displaced
            .into_iter()
            .map(|p| self.affine.apply(p))
            .collect())
    }

    /// Writes `affine.tfm` (ITK transform file) and, with a displacement,
    /// `displacement.nii.gz` into `dir` (created if missing).
    pub fn write(&self, dir: &Path) -> crate::Result<()> {
        std::fs::create_dir_all(dir)
            .map_err(|e| RegistrationError::File(format!("{}: {e}", dir.display())))?;
        self.affine.write(&dir.join(AFFINE_FILE))?;
        if let Some(field) = &self.displacement {
            field.write(&dir.join(DISPLACEMENT_FILE))?;
        }
        Ok(())
    }

    /// Reads what [`write`](Self::write) wrote: `affine.tfm`, and `displacement.nii.gz` where
    /// there is one.
    pub fn read(dir: &Path, device: &Device) -> crate::Result<RegistrationTransform> {
        let affine_path = dir.join(AFFINE_FILE);
        if !affine_path.is_file() {
            return Err(RegistrationError::File(format!(
                "{}: no {AFFINE_FILE} here (the folder `medburn register --out` wrote)",
                dir.display()
            )));
        }
        let affine = ItkAffine::read(&affine_path)?;
        let field_path = dir.join(DISPLACEMENT_FILE);
        let displacement = if field_path.is_file() {
            Some(DisplacementField::read(&field_path, device)?)
        } else {
            None
        };
        Ok(RegistrationTransform {
            affine,
            displacement,
        })
    }
}

/// The field's vectors at physical points, interpolated linearly, zero beyond the grid.
fn sample_field_at(field: &DisplacementField, points: &[[f64; 3]]) -> crate::Result<Vec<[f64; 3]>> {
    if points.is_empty() {
        return Ok(vec![]);
    }
    let n = points.len();
    let g = field.geometry();
    let device = field.vectors().device();
    // One row of n points: a [1, 1, n] grid whose single "row" holds the points' indices.
    let row = Geometry::unit([n, 1, 1]).map_err(|e| RegistrationError::Shape(e.to_string()))?;
    let mut per_point = Vec::with_capacity(n * 3);
    for p in points {
        per_point.extend_from_slice(p);
    }
    // The displacement for resample_through is the point itself minus the row's voxel centre:
    // x_row(i) = (i, 0, 0) in mm with the unit geometry, so u(i) = p_i - (i, 0, 0).
    let mut offsets = vec![0.0f64; 3 * n];
    for (i, p) in points.iter().enumerate() {
        offsets[i] = p[0] - i as f64;
        offsets[n + i] = p[1];
        offsets[2 * n + i] = p[2];
    }
    let u = Tensor::<5>::from_data(
        TensorData::new(offsets, [1, 3, 1, 1, n]),
        (&device, DType::F64),
    );
    let identity = [
        [1.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
    ];
    let values = resample_through(
        field.vectors().clone().cast(DType::F64),
        g,
        &row,
        &identity,
        Some(u),
        Interpolation::Linear,
    )?;
    let v: Vec<f64> = values
        .into_data()
        .convert::<f64>()
        .try_to_vec::<f64>()
        .map_err(|e| RegistrationError::Readback(format!("{e:?}")))?;
    Ok((0..n).map(|i| [v[i], v[n + i], v[2 * n + i]]).collect())
}
