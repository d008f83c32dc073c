use std::collections::BTreeMap;

use crate::{Geometry, ImageError, Modality};
use burn::tensor::{Device, Tensor, TensorData};

/// A 3D (multi-channel) medical image: voxels on a Burn device plus the physical
/// space they live in, the modality and the metadata kept from the file.
///
/// Voxels are a float tensor `[1, C, D, H, W]` with `W = i`, `H = j`, `D = k`, so a
/// NIfTI or ITK buffer (i fastest) maps onto it without a transpose.
///
/// ```
/// use medburn_core::{Device, Geometry, MedImage, Modality};
///
/// let g = Geometry::new([4, 3, 2], [0.0; 3], [1.0, 1.0, 2.0], medburn_core::Direction::identity())?;
/// let img = MedImage::from_vec((0..24).map(|v| v as f32).collect(), 1, g, &Device::flex())?
///     .with_modality(Modality::Ct);
/// assert_eq!(img.voxels().dims(), [1, 1, 2, 3, 4]);
/// // voxel (i=1, j=2, k=1) sits at flat index 1 + 4 * (2 + 3 * 1)
/// assert_eq!(img.to_vec()?[1 + 4 * (2 + 3)], 21.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct MedImage {
    voxels: Tensor<5>,
    geometry: Geometry,
    /// Imaging modality.
    pub modality: Modality,
    /// Modality subtype, e.g. "T1", "T2", "FLAIR", "FDG".
    pub subtype: Option<String>,
    /// Free-form key/values kept from the file (DICOM tags, NIfTI description, ...).
    pub metadata: BTreeMap<String, String>,
}

impl MedImage {
    /// Wraps a `[1, C, k, j, i]` voxel tensor with its geometry.
    ///
    /// ```
    /// use medburn_core::{Device, Geometry, MedImage, Tensor};
    /// let t = Tensor::<5>::zeros([1, 2, 4, 3, 2], &Device::flex());
    /// let img = MedImage::new(t, Geometry::unit([2, 3, 4])?)?;
    /// assert_eq!(img.channels(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(voxels: Tensor<5>, geometry: Geometry) -> Result<MedImage, ImageError> {
        let dims = voxels.dims();
        if dims[0] != 1 || dims[1] == 0 || dims[2..] != geometry.dhw() {
            return Err(ImageError::ShapeMismatch {
                got: dims.to_vec(),
                size: geometry.size(),
            });
        }
        Ok(MedImage {
            voxels,
            geometry,
            modality: Modality::Unknown,
            subtype: None,
            metadata: BTreeMap::new(),
        })
    }

    /// From a flat buffer ordered channel-major, then `k`, `j`, `i` (i fastest).
    ///
    /// ```
    /// use medburn_core::{Device, Geometry, MedImage};
    /// let img = MedImage::from_vec(vec![1.0; 8], 1, Geometry::unit([2, 2, 2])?, &Device::flex())?;
    /// assert_eq!(img.geometry().size(), [2, 2, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_vec(
        values: Vec<f32>,
        channels: usize,
        geometry: Geometry,
        device: &Device,
    ) -> Result<MedImage, ImageError> {
        let expected = channels * geometry.num_voxels();
        if values.len() != expected || channels == 0 {
            return Err(ImageError::LengthMismatch {
                expected,
                got: values.len(),
            });
        }
        let data = TensorData::new(values, geometry.tensor_shape(1, channels));
        MedImage::new(Tensor::from_data(data, device), geometry)
    }

    /// The voxel tensor `[1, C, k, j, i]`.
    ///
    /// ```
    /// # use medburn_core::{Device, Geometry, MedImage};
    /// let img = MedImage::from_vec(vec![0.0; 6], 1, Geometry::unit([3, 2, 1])?, &Device::flex())?;
    /// assert_eq!(img.voxels().dims(), [1, 1, 1, 2, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn voxels(&self) -> &Tensor<5> {
        &self.voxels
    }

    /// Takes the voxel tensor out.
    ///
    /// ```
    /// # use medburn_core::{Device, Geometry, MedImage};
    /// let img = MedImage::from_vec(vec![0.0; 6], 1, Geometry::unit([3, 2, 1])?, &Device::flex())?;
    /// let t = img.into_voxels();
    /// assert_eq!(t.dims()[4], 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_voxels(self) -> Tensor<5> {
        self.voxels
    }

    /// The physical space of the voxels.
    ///
    /// ```
    /// # use medburn_core::{Device, Geometry, MedImage};
    /// let img = MedImage::from_vec(vec![0.0; 6], 1, Geometry::unit([3, 2, 1])?, &Device::flex())?;
    /// assert_eq!(img.geometry().spacing(), [1.0; 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// Number of channels `C`.
    ///
    /// ```
    /// # use medburn_core::{Device, Geometry, MedImage};
    /// let img = MedImage::from_vec(vec![0.0; 12], 2, Geometry::unit([3, 2, 1])?, &Device::flex())?;
    /// assert_eq!(img.channels(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn channels(&self) -> usize {
        self.voxels.dims()[1]
    }

    /// The device the voxels are on.
    ///
    /// ```
    /// # use medburn_core::{Device, Geometry, MedImage};
    /// let img = MedImage::from_vec(vec![0.0; 1], 1, Geometry::unit([1, 1, 1])?, &Device::flex())?;
    /// assert_eq!(img.device(), Device::flex());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn device(&self) -> Device {
        self.voxels.device()
    }

    /// The same image on another device (CPU, wgpu, CUDA); geometry, modality and metadata kept.
    ///
    /// ```
    /// # use medburn_core::{Device, Geometry, MedImage};
    /// let img = MedImage::from_vec(vec![3.0; 8], 1, Geometry::unit([2, 2, 2])?, &Device::flex())?;
    /// let moved = img.to_device(&Device::flex());
    /// assert_eq!(moved.geometry(), img.geometry());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_device(&self, device: &Device) -> MedImage {
        MedImage {
            voxels: self.voxels.clone().to_device(device),
            geometry: self.geometry,
            modality: self.modality.clone(),
            subtype: self.subtype.clone(),
            metadata: self.metadata.clone(),
        }
    }

    /// The same geometry and metadata around new voxels of the same spatial shape.
    ///
    /// ```
    /// # use medburn_core::{Device, Geometry, MedImage};
    /// let img = MedImage::from_vec(vec![1.0; 8], 1, Geometry::unit([2, 2, 2])?, &Device::flex())?;
    /// let doubled = img.voxels().clone() * 2.0;
    /// let img2 = img.with_voxels(doubled)?;
    /// assert_eq!(img2.to_vec()?[0], 2.0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_voxels(&self, voxels: Tensor<5>) -> Result<MedImage, ImageError> {
        let mut out = MedImage::new(voxels, self.geometry)?;
        out.modality = self.modality.clone();
        out.subtype = self.subtype.clone();
        out.metadata = self.metadata.clone();
        Ok(out)
    }

    /// The same voxels in a new physical space of the same size (e.g. a moved origin).
    ///
    /// ```
    /// # use medburn_core::{Device, Geometry, MedImage};
    /// let img = MedImage::from_vec(vec![1.0; 8], 1, Geometry::unit([2, 2, 2])?, &Device::flex())?;
    /// let moved = img.with_geometry(img.geometry().with_origin([5.0, 0.0, 0.0])?)?;
    /// assert_eq!(moved.geometry().origin()[0], 5.0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_geometry(&self, geometry: Geometry) -> Result<MedImage, ImageError> {
        let mut out = MedImage::new(self.voxels.clone(), geometry)?;
        out.modality = self.modality.clone();
        out.subtype = self.subtype.clone();
        out.metadata = self.metadata.clone();
        Ok(out)
    }

    /// Sets the modality.
    ///
    /// ```
    /// # use medburn_core::{Device, Geometry, MedImage, Modality};
    /// let img = MedImage::from_vec(vec![0.0], 1, Geometry::unit([1, 1, 1])?, &Device::flex())?.with_modality(Modality::Pet);
    /// assert_eq!(img.modality, Modality::Pet);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_modality(mut self, modality: Modality) -> MedImage {
        self.modality = modality;
        self
    }

    /// Sets the modality subtype.
    ///
    /// ```
    /// # use medburn_core::{Device, Geometry, MedImage};
    /// let img = MedImage::from_vec(vec![0.0], 1, Geometry::unit([1, 1, 1])?, &Device::flex())?.with_subtype("FLAIR");
    /// assert_eq!(img.subtype.as_deref(), Some("FLAIR"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_subtype(mut self, subtype: impl Into<String>) -> MedImage {
        self.subtype = Some(subtype.into());
        self
    }

    /// The voxels read back to the host as f32, channel-major then `k`, `j`, `i`.
    ///
    /// ```
    /// # use medburn_core::{Device, Geometry, MedImage};
    /// let img = MedImage::from_vec(vec![1.0, 2.0], 1, Geometry::unit([2, 1, 1])?, &Device::flex())?;
    /// assert_eq!(img.to_vec()?, vec![1.0, 2.0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_vec(&self) -> Result<Vec<f32>, ImageError> {
        let data = self
            .voxels
            .clone()
            .try_into_data_as::<f32>()
            .map_err(|e| ImageError::Readback(format!("{e:?}")))?;
        data.try_to_vec::<f32>()
            .map_err(|e| ImageError::Readback(format!("{e:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Direction, Orientation};

    #[test]
    fn rejects_wrong_shapes() {
        let g = Geometry::unit([4, 3, 2]).unwrap();
        let d = Device::flex();
        for shape in [
            [1, 1, 4, 3, 2],
            [2, 1, 2, 3, 4],
            [1, 0, 2, 3, 4],
            [1, 1, 2, 3, 5],
        ] {
            let t = Tensor::<5>::zeros(shape, &d);
            assert!(
                matches!(MedImage::new(t, g), Err(ImageError::ShapeMismatch { .. })),
                "{shape:?}"
            );
        }
        assert!(MedImage::new(Tensor::<5>::zeros([1, 3, 2, 3, 4], &d), g).is_ok());
    }

    #[test]
    fn device_moves_keep_geometry_and_metadata() {
        let g = Geometry::new(
            [3, 2, 2],
            [1.0, 2.0, 3.0],
            [0.5, 0.7, 2.0],
            Orientation::RAI.to_direction(),
        )
        .unwrap();
        let values: Vec<f32> = (0..12).map(|v| v as f32 * 1.5).collect();
        let mut img = MedImage::from_vec(values.clone(), 1, g, &Device::flex())
            .unwrap()
            .with_modality(Modality::Mr)
            .with_subtype("T2");
        img.metadata.insert("PatientID".into(), "anon".into());
        let back = img
            .to_device(&Device::flex().autodiff())
            .to_device(&Device::flex());
        assert_eq!(back.geometry(), &g);
        assert_eq!(
            back.geometry().direction(),
            Direction::from_row_major([-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, -1.0])
        );
        assert_eq!(back.modality, Modality::Mr);
        assert_eq!(back.subtype.as_deref(), Some("T2"));
        assert_eq!(back.metadata["PatientID"], "anon");
        assert_eq!(back.to_vec().unwrap(), values);
    }

    /// CPU <-> wgpu (Mesa's software Vulkan in CI, a GPU where there is one).
    #[test]
    fn moves_between_flex_and_wgpu_keep_voxels_and_geometry() {
        let g = Geometry::new(
            [5, 3, 2],
            [-1.0, 0.5, 9.0],
            [0.9, 1.1, 3.0],
            Orientation::LAI.to_direction(),
        )
        .unwrap();
        let values: Vec<f32> = (0..60).map(|v| (v as f32).sin() * 100.0).collect();
        let cpu = MedImage::from_vec(values.clone(), 2, g, &Device::flex())
            .unwrap()
            .with_modality(Modality::Ct);
        let Some(gpu_device) = crate::wgpu_device_or_skip("moves_between_flex_and_wgpu") else {
            return;
        };
        let gpu = cpu.to_device(&gpu_device);
        assert_eq!(gpu.device(), gpu_device);
        assert_eq!(gpu.geometry(), &g);
        // Work on the device, then come back.
        let doubled = gpu.with_voxels(gpu.voxels().clone() * 2.0).unwrap();
        let back = doubled.to_device(&Device::flex());
        assert_eq!(back.geometry(), &g);
        assert_eq!(back.modality, Modality::Ct);
        let want: Vec<f32> = values.iter().map(|v| v * 2.0).collect();
        assert_eq!(back.to_vec().unwrap(), want);
    }
}
