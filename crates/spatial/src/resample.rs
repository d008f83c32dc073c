//! The one sampling call every resampling transform goes through: output grid + physical
//! transform -> one voxel-space affine -> `medburn_ops::voxel_affine_sample_3d`.

use burn::tensor::{DType, Tensor, TensorData};
use medburn_core::{Geometry, MedImage};
use medburn_ops::{voxel_affine_sample_3d, Interpolation, SampleOptions};

use crate::error::{Result, SpatialError};
use crate::transform::constant;

/// `[[A, o], [0, 1]]` of a geometry's index -> physical map, row-major 4x4, flat.
fn index_to_physical_4x4(g: &Geometry) -> Vec<f64> {
    g.affine_lps().iter().flatten().copied().collect()
}

/// The voxel-space matrix `[N, 3, 4]` in `dtype` taking output indices `(i, j, k, 1)` to input
/// indices, for an optional physical transform `[N, 3, 4]` (output point -> input point; `None`
/// is the identity, computed in f64 on the host). A transform is combined with the geometry in
/// `dtype`, so an f64 image's matrix carries no f32 rounding. Differentiable with respect to
/// `transform`.
///
/// ```
/// use burn::tensor::Device;
/// use medburn_core::Geometry;
/// let fine = Geometry::new([4, 4, 4], [0.0; 3], [0.5; 3], medburn_core::Direction::identity())?;
/// let coarse = Geometry::unit([2, 2, 2])?;
/// let m = medburn_spatial::voxel_matrix(&coarse, &fine, None, 1, &Device::flex(), burn::tensor::DType::F32);
/// let v = m.into_data().try_to_vec::<f32>().unwrap();
/// assert_eq!(v[0], 0.5); // a fine voxel is half a coarse one
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn voxel_matrix(
    input: &Geometry,
    output: &Geometry,
    transform: Option<Tensor<3>>,
    n: usize,
    device: &burn::tensor::Device,
    dtype: DType,
) -> Tensor<3> {
    let inv = input.physical_to_index_matrix();
    let o_in = input.origin();
    let out = index_to_physical_4x4(output);
    match transform {
        None => {
            // M = Ainv [A_out idx + o_out - o_in], all in f64.
            let mut m = vec![0.0f64; 12];
            for r in 0..3 {
                for c in 0..4 {
                    let mut v = 0.0;
                    for k in 0..3 {
                        let col = out[k * 4 + c] - if c == 3 { o_in[k] } else { 0.0 };
                        v += inv[r][k] * col;
                    }
                    m[r * 4 + c] = v;
                }
            }
            Tensor::<3>::from_data(TensorData::new(m, [1, 3, 4]), (device, dtype)).expand([n, 3, 4])
        }
        Some(t) => {
            let t = t.cast(dtype);
            let [tn, ..] = t.dims();
            let like: Tensor<1> = t.clone().reshape([tn * 12]);
            let out = constant(out, 4, 4, &like).expand([tn, 4, 4]);
            let shift = constant(
                vec![
                    0., 0., 0., -o_in[0], 0., 0., 0., -o_in[1], 0., 0., 0., -o_in[2],
                ],
                3,
                4,
                &like,
            );
            let inv: Vec<f64> = inv.iter().flatten().copied().collect();
            let inv = constant(inv, 3, 3, &like).expand([tn, 3, 3]);
            inv.matmul(t.matmul(out) + shift)
        }
    }
}

/// Resamples a batch of voxels `[N, C, D, H, W]` on `input` onto the `output` grid through an
/// optional physical transform `[N, 3, 4]` (output point -> input point, ITK's convention;
/// `None`: identity). Points outside the input read 0, as SimpleITK's `Resample` with default
/// value 0. Every [`Interpolation`] but `NearestExact`; label-linear takes one channel of
/// non-negative integer labels. Differentiable with respect to the voxels and the transform
/// (not through nearest or label-linear).
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_core::Geometry;
/// use medburn_spatial::{resample_voxels, Interpolation};
/// let g = Geometry::unit([4, 4, 4])?;
/// let x = Tensor::<5>::ones([2, 1, 4, 4, 4], &Device::flex());
/// let y = resample_voxels(x, &g, &g, None, Interpolation::Linear)?;
/// assert_eq!(y.sum().into_scalar::<f32>(), 128.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn resample_voxels(
    voxels: Tensor<5>,
    input: &Geometry,
    output: &Geometry,
    transform: Option<Tensor<3>>,
    interpolation: Interpolation,
) -> Result<Tensor<5>> {
    let [n, _, d, h, w] = voxels.dims();
    if [d, h, w] != input.dhw() {
        return Err(SpatialError::Invalid(format!(
            "resample: voxels {:?} do not fit the input geometry of size {:?}",
            voxels.dims(),
            input.size()
        )));
    }
    if let Some(t) = &transform {
        if t.dims() != [n, 3, 4] && t.dims() != [1, 3, 4] {
            return Err(SpatialError::Invalid(format!(
                "resample: transform must be [{n}, 3, 4] or [1, 3, 4], got {:?}",
                t.dims()
            )));
        }
    }
    let transform = transform.map(|t| {
        if t.dims()[0] == n {
            t
        } else {
            t.expand([n, 3, 4])
        }
    });
    let device = voxels.device();
    let matrix = voxel_matrix(input, output, transform, n, &device, voxels.dtype());
    // SimpleITK's edges and its nearest-neighbour rounding; label-linear is the sampling op's.
    let o = SampleOptions::itk(interpolation);
    Ok(voxel_affine_sample_3d(voxels, matrix, output.dhw(), o)?)
}

/// Resamples `image` onto `output` through an optional physical transform (output point ->
/// input point). The result carries `output` and the input's modality and metadata.
///
/// ```
/// use burn::tensor::Device;
/// use medburn_core::{Geometry, MedImage};
/// use medburn_spatial::{resample, Interpolation};
/// let img = MedImage::from_vec(vec![1.0; 8], 1, Geometry::unit([2, 2, 2])?, &Device::flex())?;
/// let out = resample(&img, &Geometry::unit([3, 3, 3])?, None, Interpolation::Nearest)?;
/// assert_eq!(out.geometry().size(), [3, 3, 3]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn resample(
    image: &MedImage,
    output: &Geometry,
    transform: Option<Tensor<3>>,
    interpolation: Interpolation,
) -> Result<MedImage> {
    medburn_core::limits::check_volume(
        "resample",
        output.size(),
        image.channels(),
        image.voxels().dtype().size(),
    )?;
    let voxels = resample_voxels(
        image.voxels().clone(),
        image.geometry(),
        output,
        transform,
        interpolation,
    )?;
    with_grid(image, voxels, *output)
}

/// A new image with `voxels` on `geometry`, keeping modality, subtype and metadata.
pub(crate) fn with_grid(
    image: &MedImage,
    voxels: Tensor<5>,
    geometry: Geometry,
) -> Result<MedImage> {
    let mut out = MedImage::new(voxels, geometry)?.with_modality(image.modality.clone());
    out.subtype = image.subtype.clone();
    out.metadata = image.metadata.clone();
    Ok(out)
}
