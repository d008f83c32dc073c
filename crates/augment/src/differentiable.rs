//! Augmentation with tensor parameters, for learned or adversarial augmentation: gradients
//! reach the image and every parameter. The random transforms draw plain numbers; these take
//! the same parameters as Burn tensors (mark them `require_grad`) and build the maps with
//! differentiable tensor ops.

use burn::tensor::{Tensor, TensorData};
use medburn_core::Geometry;
use medburn_ops::{warp, Interpolation, Padding, SampleOptions};
use medburn_spatial::resample_voxels;
use medburn_spatial::transform::{compose, rotation, scaling, translation};

use crate::error::{AugmentError, Result};
use crate::spatial::affine::AffineSample;
use crate::spatial::elastic::{spline_field, ControlField, ElasticSample};

/// The parameters of [`crate::RandomAffine`] as tensors `[N, 3]` (shear aside): rotation of
/// the content about the world x, y, z axes (radians, x first), scale factors, translation
/// (mm).
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_augment::AffineTensors;
/// let device = Device::flex().autodiff();
/// let p = AffineTensors::identity(2, &device);
/// assert_eq!(p.scale.dims(), [2, 3]);
/// ```
#[derive(Clone, Debug)]
pub struct AffineTensors {
    /// `[N, 3]` radians.
    pub rotation_rad: Tensor<2>,
    /// `[N, 3]` factors.
    pub scale: Tensor<2>,
    /// `[N, 3]` mm.
    pub translation_mm: Tensor<2>,
}

impl AffineTensors {
    /// No motion, for `n` samples.
    pub fn identity(n: usize, device: &burn::tensor::Device) -> Self {
        Self {
            rotation_rad: Tensor::zeros([n, 3], device),
            scale: Tensor::ones([n, 3], device),
            translation_mm: Tensor::zeros([n, 3], device),
        }
    }

    /// Drawn motions as tensors (their shear must be 0).
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use medburn_augment::{AffineSample, AffineTensors};
    /// let s = AffineSample { rotation_rad: [0.1, 0.0, 0.0], scale: [1.0; 3], shear: [0.0; 3], translation_mm: [0.0; 3] };
    /// let t = AffineTensors::from_samples(&[s], &Device::flex())?;
    /// assert_eq!(t.rotation_rad.dims(), [1, 3]);
    /// # Ok::<(), medburn_augment::AugmentError>(())
    /// ```
    pub fn from_samples(samples: &[AffineSample], device: &burn::tensor::Device) -> Result<Self> {
        if samples.iter().any(|s| s.shear != [0.0; 3]) {
            return Err(AugmentError::Params(
                "differentiable affine parameters have no shear".into(),
            ));
        }
        let n = samples.len();
        let t = |f: &dyn Fn(&AffineSample) -> [f64; 3]| {
            let v: Vec<f32> = samples
                .iter()
                .flat_map(|s| f(s).map(|x| x as f32))
                .collect();
            Tensor::<2>::from_data(TensorData::new(v, [n, 3]), device)
        };
        Ok(Self {
            rotation_rad: t(&|s| s.rotation_rad),
            scale: t(&|s| s.scale),
            translation_mm: t(&|s| s.translation_mm),
        })
    }

    /// The physical transforms `[N, 3, 4]` (output point -> input point, ITK's convention)
    /// about the centre of `geometry`: the same map as [`AffineSample::matrix`].
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use medburn_augment::AffineTensors;
    /// let g = medburn_core::Geometry::unit([4, 4, 4])?;
    /// let t = AffineTensors::identity(1, &Device::flex()).transform(&g)?;
    /// assert_eq!(t.into_data().try_to_vec::<f32>().unwrap()[0], 1.0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn transform(&self, geometry: &Geometry) -> Result<Tensor<3>> {
        let n = self.rotation_rad.dims()[0];
        for (name, t) in [
            ("rotation_rad", &self.rotation_rad),
            ("scale", &self.scale),
            ("translation_mm", &self.translation_mm),
        ] {
            if t.dims() != [n, 3] {
                return Err(AugmentError::Params(format!(
                    "{name} is {:?}, the affine tensors need [{n}, 3]",
                    t.dims()
                )));
            }
        }
        let c = geometry.centre();
        let angle = |a: usize| {
            self.rotation_rad
                .clone()
                .slice([0..n, a..a + 1])
                .reshape([n])
        };
        let axis = |a: usize| {
            let mut v = [0.0; 3];
            v[a] = 1.0;
            v
        };
        let r = |a: usize| rotation(axis(a), angle(a), c).expect("unit axes");
        // Content scaled, rotated about x, y, z, moved: the map applies the inverses in turn.
        let moved = compose(r(2), translation(self.translation_mm.clone()));
        let moved = compose(r(1), moved);
        let moved = compose(r(0), moved);
        Ok(compose(scaling(self.scale.clone(), c), moved))
    }
}

/// Resamples `image` `[N, C, D, H, W]` on `geometry` through affine parameters (linear, 0
/// outside as SimpleITK): differentiable with respect to the image and every parameter.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_augment::{differentiable_affine, AffineTensors};
/// let device = Device::flex().autodiff();
/// let g = medburn_core::Geometry::unit([6, 6, 6])?;
/// let mut p = AffineTensors::identity(1, &device);
/// p.rotation_rad = p.rotation_rad.require_grad();
/// let x = Tensor::<1, burn::tensor::Int>::arange(0..216, &device).float().reshape([1, 1, 6, 6, 6]);
/// let y = differentiable_affine(x, &g, &p)?;
/// let grads = y.sum().backward();
/// assert!(p.rotation_rad.grad(&grads).is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn differentiable_affine(
    image: Tensor<5>,
    geometry: &Geometry,
    params: &AffineTensors,
) -> Result<Tensor<5>> {
    let t = params.transform(geometry)?;
    Ok(resample_voxels(
        image,
        geometry,
        geometry,
        Some(t),
        Interpolation::Linear,
    )?)
}

/// Warps `image` `[N, C, D, H, W]` on `geometry` by an elastic deformation whose control
/// displacements are a tensor `control_mm` `[N, 3, ck, cj, ci]` (world x, y, z in mm; the
/// control grid of [`ElasticSample::control_size`]): the same field as [`crate::RandomElastic`]
/// makes from them, differentiable with respect to the image and the displacements (linear, 0
/// outside).
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_augment::differentiable_elastic;
/// let device = Device::flex().autodiff();
/// let g = medburn_core::Geometry::unit([8, 8, 8])?;
/// let control = Tensor::<5>::zeros([1, 3, 4, 4, 4], &device).require_grad();
/// let x = Tensor::<5>::ones([1, 1, 8, 8, 8], &device);
/// let y = differentiable_elastic(x, &g, control.clone())?;
/// let grads = y.sum().backward();
/// assert!(control.grad(&grads).is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn differentiable_elastic(
    image: Tensor<5>,
    geometry: &Geometry,
    control_mm: Tensor<5>,
) -> Result<Tensor<5>> {
    let [n, c3, ck, cj, ci] = control_mm.dims();
    if c3 != 3 || n != image.dims()[0] {
        return Err(AugmentError::Params(format!(
            "control displacements {:?} need [N, 3, ck, cj, ci] with the image's N",
            control_mm.dims()
        )));
    }
    let size = geometry.size();
    // mm along world axes -> voxels: the physical-to-index matrix on the channels.
    let m = geometry.physical_to_index_matrix();
    let rows: Vec<f32> = (0..3)
        .flat_map(|r| (0..3).map(move |k| if size[r] > 1 { m[r][k] as f32 } else { 0.0 }))
        .collect();
    let to_index = Tensor::<3>::from_data(TensorData::new(rows, [1, 3, 3]), &control_mm.device());
    let voxels = to_index
        .expand([n, 3, 3])
        .matmul(control_mm.reshape([n, 3, ck * cj * ci]))
        .reshape([n, 3, ck, cj, ci]);
    let field = spline_field(voxels, size)?;
    let o = SampleOptions::new(Interpolation::Linear).with_padding(Padding::Itk);
    Ok(warp(image, field, o)?)
}

/// The drawn control displacements of elastic samples as the tensor [`differentiable_elastic`]
/// takes (`None`: no displacement). Fails on samples of different control grids, on
/// displacements that are not finite, and on a batch without a deformed sample.
///
/// ```
/// use burn::tensor::Device;
/// let s = medburn_augment::ElasticSample { control_size: [4, 4, 4], displacement_mm: vec![[1.0, 0.0, 0.0]; 64] };
/// let t = medburn_augment::elastic_tensor(&[Some(s)], &Device::flex())?;
/// assert_eq!(t.dims(), [1, 3, 4, 4, 4]);
/// # Ok::<(), medburn_augment::AugmentError>(())
/// ```
pub fn elastic_tensor(
    samples: &[Option<ElasticSample>],
    device: &burn::tensor::Device,
) -> Result<Tensor<5>> {
    ControlField::in_mm(samples)?.tensor(samples.len(), device)
}
