//! Dense displacement fields in ITK's convention: a vector image on a grid whose vector at a
//! point `x` (LPS, mm) is `u(x)`, the transform being `x -> x + u(x)` (SimpleITK's
//! `DisplacementFieldTransform`), written as the NIfTI SimpleITK itself writes.

use std::path::Path;

use burn::tensor::{DType, Device, Tensor, TensorData};
use medburn_core::{Geometry, MedImage};
use medburn_spatial::{resample_voxels, Interpolation};

use crate::error::RegistrationError;
use crate::metrics::JacobianStats;

/// NIfTI's "vector" intent: what `SimpleITK.WriteImage` writes for a vector image, read back
/// by ITK with its components unchanged (LPS).
const INTENT_VECTOR: &str = "1007";
/// NIfTI's "displacement vector" intent: ITK 5.4 reads its components as RAS and flips the
/// first two into LPS; read here the same way.
const INTENT_DISPLACEMENT: &str = "1006";

/// A displacement field: three channels, the L, P and S components (mm) of `u(x)` at each
/// voxel centre `x` of its grid.
///
/// ```
/// use burn::tensor::Device;
/// use medburn_core::Geometry;
/// use medburn_register::DisplacementField;
///
/// let field = DisplacementField::zeros(Geometry::unit([4, 4, 4])?, &Device::flex())?;
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("displacement.nii.gz");
/// field.write(&path)?;
/// let back = DisplacementField::read(&path, &Device::flex())?;
/// assert_eq!(back.geometry(), field.geometry());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct DisplacementField {
    image: MedImage,
}

impl DisplacementField {
    /// A field from a three-channel image of LPS components in mm.
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use medburn_core::{Geometry, MedImage};
    /// let one = MedImage::from_vec(vec![0.0; 8], 1, Geometry::unit([2, 2, 2])?, &Device::flex())?;
    /// assert!(medburn_register::DisplacementField::new(one).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(image: MedImage) -> crate::Result<DisplacementField> {
        if image.channels() != 3 {
            return Err(RegistrationError::Shape(format!(
                "a displacement field has 3 components per voxel, this image has {}",
                image.channels()
            )));
        }
        Ok(DisplacementField { image })
    }

    /// The identity: zero displacement on `geometry`.
    ///
    /// ```
    /// use burn::tensor::Device;
    /// let f = medburn_register::DisplacementField::zeros(medburn_core::Geometry::unit([2, 3, 4])?, &Device::flex())?;
    /// assert_eq!(f.vectors().dims(), [1, 3, 4, 3, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn zeros(geometry: Geometry, device: &Device) -> crate::Result<DisplacementField> {
        let voxels = Tensor::<5>::zeros(geometry.tensor_shape(1, 3), device);
        DisplacementField::new(
            MedImage::new(voxels, geometry).map_err(|e| RegistrationError::Shape(e.to_string()))?,
        )
    }

    /// A field from vectors `[1, 3, D, H, W]` (LPS, mm) on `geometry`.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_core::Geometry;
    /// let v = Tensor::<5>::zeros([1, 3, 4, 4, 4], &Device::flex());
    /// assert!(medburn_register::DisplacementField::from_vectors(v, Geometry::unit([4, 4, 4])?).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_vectors(
        vectors: Tensor<5>,
        geometry: Geometry,
    ) -> crate::Result<DisplacementField> {
        let dims = vectors.dims();
        if dims[0] != 1 {
            return Err(RegistrationError::Shape(format!(
                "one field at a time: vectors {dims:?}"
            )));
        }
        DisplacementField::new(
            MedImage::new(vectors, geometry)
                .map_err(|e| RegistrationError::Shape(e.to_string()))?,
        )
    }

    /// The grid the vectors are given on.
    pub fn geometry(&self) -> &Geometry {
        self.image.geometry()
    }

    /// The vectors `[1, 3, D, H, W]`, LPS mm.
    pub fn vectors(&self) -> &Tensor<5> {
        self.image.voxels()
    }

    /// The field as a three-channel image.
    pub fn image(&self) -> &MedImage {
        &self.image
    }

    /// The field on another grid, linearly interpolated; zero beyond its own grid, as ITK's
    /// `DisplacementFieldTransform` (the identity outside the field).
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use medburn_core::Geometry;
    /// let f = medburn_register::DisplacementField::zeros(Geometry::unit([4, 4, 4])?, &Device::flex())?;
    /// let g = f.on_grid(&Geometry::unit([2, 2, 2])?)?;
    /// assert_eq!(g.geometry().size(), [2, 2, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn on_grid(&self, geometry: &Geometry) -> crate::Result<DisplacementField> {
        if geometry == self.geometry() {
            return Ok(self.clone());
        }
        let v = resample_voxels(
            self.vectors().clone(),
            self.geometry(),
            geometry,
            None,
            Interpolation::Linear,
        )?;
        DisplacementField::from_vectors(v, *geometry)
    }

    /// The vectors in voxels of this grid, along `(i, j, k)` = `(W, H, D)`: the convention of
    /// `medburn_ops::warp` and `integrate_velocity`.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_core::{Direction, Geometry};
    /// let g = Geometry::new([2, 2, 2], [0.0; 3], [2.0, 1.0, 1.0], Direction::identity())?;
    /// let f = medburn_register::DisplacementField::from_vectors(Tensor::ones([1, 3, 2, 2, 2], &Device::flex()), g)?;
    /// let v: Vec<f32> = f.in_voxels().slice([0..1, 0..3, 0..1, 0..1, 0..1]).into_data().try_to_vec().unwrap();
    /// assert_eq!(v, vec![0.5, 1.0, 1.0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn in_voxels(&self) -> Tensor<5> {
        mix_components(
            self.vectors().clone(),
            self.geometry().physical_to_index_matrix(),
        )
    }

    /// A field from vectors in voxels of `geometry` (the inverse of
    /// [`in_voxels`](Self::in_voxels)).
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_core::Geometry;
    /// let g = Geometry::unit([2, 2, 2])?;
    /// let f = medburn_register::DisplacementField::from_voxels(Tensor::ones([1, 3, 2, 2, 2], &Device::flex()), g)?;
    /// assert_eq!(f.vectors().clone().sum().into_scalar::<f32>(), 24.0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_voxels(vectors: Tensor<5>, geometry: Geometry) -> crate::Result<DisplacementField> {
        let mm = mix_components(vectors, geometry.index_to_physical_matrix());
        DisplacementField::from_vectors(mm, geometry)
    }

    /// Jacobian determinant statistics of `x -> x + u(x)` over the interior voxels: the share
    /// of voxels where it folds (det <= 0) and the spread of log det.
    ///
    /// ```
    /// use burn::tensor::Device;
    /// let f = medburn_register::DisplacementField::zeros(medburn_core::Geometry::unit([5, 5, 5])?, &Device::flex())?;
    /// let s = f.jacobian_stats()?;
    /// assert_eq!((s.folding_fraction, s.min, s.max), (0.0, 1.0, 1.0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn jacobian_stats(&self) -> crate::Result<JacobianStats> {
        // In voxels, components reordered to (D, H, W) as the derivative axes: the determinant
        // is the same as in mm along physical axes (a similarity transform of the Jacobian).
        let voxels = self.in_voxels().cast(DType::F64);
        let dhw = Tensor::cat(
            vec![
                voxels.clone().narrow(1, 2, 1),
                voxels.clone().narrow(1, 1, 1),
                voxels.narrow(1, 0, 1),
            ],
            1,
        );
        JacobianStats::of(dhw, [1.0; 3])
    }

    /// Writes the field as a NIfTI vector image (`[x, y, z, 1, 3]`, intent "vector", LPS
    /// components): what `SimpleITK.WriteImage` writes for a displacement field and
    /// `sitk.DisplacementFieldTransform(sitk.ReadImage(path, sitk.sitkVectorFloat64))` reads.
    /// The file appears complete or not at all.
    pub fn write(&self, path: &Path) -> crate::Result<()> {
        let mut image = self.image.clone();
        image
            .metadata
            .insert("medburn:extra_dims".into(), "1,3".into());
        image
            .metadata
            .insert("nifti:intent_code".into(), INTENT_VECTOR.into());
        medburn_io::write_image(&image, path)
            .map_err(|e| RegistrationError::File(format!("{}: {e}", path.display())))
    }

    /// Reads a displacement field written by [`write`](Self::write), SimpleITK or ANTs: three
    /// components per voxel, LPS (intent "vector" or none) or RAS (intent "displacement
    /// vector", as ITK reads it).
    pub fn read(path: &Path, device: &Device) -> crate::Result<DisplacementField> {
        let image = medburn_io::read_image(path, device)
            .map_err(|e| RegistrationError::File(format!("{}: {e}", path.display())))?;
        if image.channels() != 3 {
            return Err(RegistrationError::File(format!(
                "{}: a displacement field has 3 components per voxel, this file has {}",
                path.display(),
                image.channels()
            )));
        }
        let ras = image.metadata.get("nifti:intent_code").map(String::as_str)
            == Some(INTENT_DISPLACEMENT);
        let mut image = image;
        if ras {
            let flip = Tensor::<1>::from_data(
                TensorData::new(vec![-1.0f32, -1.0, 1.0], [3]),
                (device, image.voxels().dtype()),
            )
            .reshape([1, 3, 1, 1, 1]);
            let v = image.voxels().clone() * flip;
            image = image
                .with_voxels(v)
                .map_err(|e| RegistrationError::Shape(e.to_string()))?;
        }
        let bad = image.voxels().clone().is_nan().any().into_scalar::<bool>();
        if bad {
            return Err(RegistrationError::File(format!(
                "{}: the displacement field has NaN vectors",
                path.display()
            )));
        }
        DisplacementField::new(image)
    }
}

/// `m v` for every voxel's vector `v` (the channels) of `[N, 3, D, H, W]`.
pub(crate) fn mix_components(vectors: Tensor<5>, m: [[f64; 3]; 3]) -> Tensor<5> {
    let dims = vectors.dims();
    let [n, _, d, h, w] = dims;
    let device = vectors.device();
    let dtype = vectors.dtype();
    let flat: Vec<f64> = m.iter().flatten().copied().collect();
    let m = Tensor::<3>::from_data(TensorData::new(flat, [1, 3, 3]), (&device, DType::F64))
        .cast(dtype)
        .expand([n, 3, 3]);
    m.matmul(vectors.reshape([n, 3, d * h * w])).reshape(dims)
}
