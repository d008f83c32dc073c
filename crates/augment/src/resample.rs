//! The one fused sampling call of a spatial chain: per-sample voxel matrices -> one
//! `voxel_affine_sample_3d` for the image (linear) and one for the labels (nearest).

use burn::tensor::{Tensor, TensorData};
use medburn_core::Geometry;
use medburn_ops::{voxel_affine_sample_3d, Interpolation, Padding, SampleOptions};
use serde::{Deserialize, Serialize};

use crate::error::{check_batch, check_pair, AugmentError, Result};
use crate::matrix::{is_finite, Matrix4, IDENTITY};

/// What image voxels moved in from outside the patch read. Labels always read 0 (background).
///
/// ```
/// use medburn_augment::ImagePadding;
/// assert_eq!(ImagePadding::default(), ImagePadding::Zeros);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImagePadding {
    /// 0, as SimpleITK's `Resample` with default value 0 and MONAI's `RandAffine`
    /// (`padding_mode="zeros"`): skull-stripped or background-zero MR reads as background.
    /// Positions within half a voxel of the edge are clamped to it (ITK's buffer rule).
    #[default]
    Zeros,
    /// The nearest edge voxel (PyTorch `"border"`): for images whose background is not 0.
    Border,
}

impl ImagePadding {
    fn padding(self) -> Padding {
        match self {
            ImagePadding::Zeros => Padding::Itk,
            ImagePadding::Border => Padding::Border,
        }
    }
}

/// The patch geometry assumed when none is given: unit spacing, identity direction, the image's
/// size.
pub(crate) fn unit_geometry(dims: [usize; 5]) -> Result<Geometry> {
    if dims.contains(&0) {
        return Err(AugmentError::Empty(dims));
    }
    Ok(Geometry::unit([dims[4], dims[3], dims[2]])?)
}

/// Fails unless `geometry` is the grid of `image` `[N, C, D, H, W]`.
pub(crate) fn check_geometry(geometry: &Geometry, image: [usize; 5]) -> Result<()> {
    let size = geometry.size();
    if size == [image[4], image[3], image[2]] {
        Ok(())
    } else {
        Err(AugmentError::GeometryMismatch {
            geometry: size,
            image,
        })
    }
}

/// Resamples `image` `[N, C, D, H, W]` (linear) and `label` (nearest, padding 0) onto their own
/// grid through one voxel matrix per sample (output index -> input index): one sampling call for
/// each tensor, whatever the chain the matrices were composed from. When every matrix is the
/// identity the inputs come back untouched, without a sampling call.
///
/// `label` holds class indices as floats (`[N, 1, D, H, W]`, or several channels, e.g. one-hot);
/// nearest interpolation never makes a value that was not there.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_augment::{resample_batch, ImagePadding, IDENTITY};
/// let x = Tensor::<5>::ones([1, 1, 4, 4, 4], &Device::flex());
/// let mut flip = IDENTITY;
/// (flip[0][0], flip[0][3]) = (-1.0, 3.0); // i -> 3 - i
/// let (y, _) = resample_batch(&[flip], x, None, ImagePadding::Zeros)?;
/// assert_eq!(y.sum().into_scalar::<f32>(), 64.0);
/// # Ok::<(), medburn_augment::AugmentError>(())
/// ```
pub fn resample_batch(
    voxel_matrices: &[Matrix4],
    image: Tensor<5>,
    label: Option<Tensor<5>>,
    padding: ImagePadding,
) -> Result<(Tensor<5>, Option<Tensor<5>>)> {
    let dims = image.dims();
    check_pair(dims, label.as_ref().map(|l| l.dims()))?;
    check_batch("spatial", voxel_matrices.len(), dims[0])?;
    if let Some(m) = voxel_matrices.iter().find(|m| !is_finite(m)) {
        return Err(AugmentError::Params(format!(
            "voxel matrix {m:?} is not finite"
        )));
    }
    if voxel_matrices.iter().all(|m| *m == IDENTITY) {
        return Ok((image, label));
    }
    let n = dims[0];
    let rows: Vec<f64> = voxel_matrices
        .iter()
        .flat_map(|m| m[..3].iter().flatten().copied())
        .collect();
    let device = image.device();
    let matrix = Tensor::<3>::from_data(TensorData::new(rows, [n, 3, 4]), (&device, image.dtype()));
    let size = [dims[2], dims[3], dims[4]];
    let label = match label {
        Some(l) => {
            // ITK's conventions: 0 outside, so moved-in voxels are background; ties half up.
            let o = SampleOptions::itk(Interpolation::Nearest);
            let m = matrix.clone().cast(l.dtype());
            Some(voxel_affine_sample_3d(l, m, size, o)?)
        }
        None => None,
    };
    let o = SampleOptions::new(Interpolation::Linear).with_padding(padding.padding());
    let image = voxel_affine_sample_3d(image, matrix, size, o)?;
    Ok((image, label))
}
