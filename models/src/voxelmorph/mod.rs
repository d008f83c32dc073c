//! VoxelMorph as MONAI builds it (`monai.networks.nets.VoxelMorph` with its
//! `VoxelMorphUNet` backbone, `spatial_dims=3`): a U-Net maps the concatenated pair (moving,
//! fixed) to a stationary velocity field, scaling and squaring integrates it into a dense
//! displacement field (MONAI's `DVF2DDF`), and the moving image is warped by it (MONAI's
//! `Warp`, linear with zero padding). With MONAI's weights
//! ([`crate::load_monai_safetensors`]) it gives MONAI's warped image and displacement.
//!
//! # The displacement's convention
//!
//! The displacement field [`VoxelMorph::forward`] returns is MONAI's: `[N, 3, D, H, W]` in
//! voxels, its components in the order of the tensor's spatial axes `(D, H, W)`, and
//! `warped(p) = moving(p + ddf(p))`. That is also the layout `medburn_register`'s losses and
//! Jacobian metrics take. medburn's own displacement ops (`medburn_ops::warp`,
//! `integrate_velocity`, `compose_displacements`) order the components `(x, y, z) = (W, H,
//! D)`, as `grid_sample_3d`'s grid: [`reverse_components`] converts either way (it reverses the
//! channel axis, `[2, 1, 0]`), and the network uses it at that boundary.
//!
//! ```
//! use burn::module::Module;
//! use burn::tensor::{Device, Distribution, Tensor};
//! use medburn_models::voxelmorph::{reverse_components, VoxelMorphConfig};
//!
//! let device = Device::flex();
//! // MONAI: VoxelMorph() -- the paper's backbone, integration_steps=7, half_res=False.
//! let model = VoxelMorphConfig::new().init(&device)?;
//! assert_eq!(model.num_params(), 244_323);
//! let moving = Tensor::<5>::random([1, 1, 16, 16, 16], Distribution::Default, &device);
//! let fixed = Tensor::<5>::random([1, 1, 16, 16, 16], Distribution::Default, &device);
//! let (warped, ddf) = model.try_forward(moving.clone(), fixed)?; // MONAI's forward(moving, fixed)
//! assert_eq!((warped.dims(), ddf.dims()), ([1, 1, 16, 16, 16], [1, 3, 16, 16, 16]));
//! // The same warp through medburn's op, whose field is (x, y, z):
//! let again = medburn_ops::warp(moving, reverse_components(ddf), Default::default()).unwrap();
//! assert!((again - warped).abs().max().into_scalar::<f32>() < 1e-6);
//! # Ok::<(), medburn_models::ModelError>(())
//! ```

mod backbone;
mod config;
mod layers;

pub use backbone::VoxelMorphUNet;
pub use config::{VoxelMorphConfig, VoxelMorphUNetConfig, MAX_INTEGRATION_STEPS};
pub use layers::{VoxelMorphDown, VoxelMorphUp};

use burn::module::Module;
use burn::tensor::Tensor;
use medburn_ops::{
    integrate_velocity, interpolate_3d, Interpolate3dOptions, Interpolation, Padding, SampleOptions,
};

use crate::monai_weights::{MonaiKeyMap, MonaiKeys};
use crate::ModelError;

/// A displacement field with its components reversed: MONAI's `(D, H, W)` order to medburn's
/// `(x, y, z) = (W, H, D)`, and back (the channel axis of `[N, 3, D, H, W]` reversed; the
/// values are unchanged, both are in voxels). Differentiable.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::voxelmorph::reverse_components;
///
/// let device = Device::flex();
/// let dhw = Tensor::<1>::from_floats([1.0, 2.0, 3.0], &device).reshape([1, 3, 1, 1, 1]);
/// let xyz = reverse_components(dhw.clone());
/// assert_eq!(xyz.clone().into_data().to_vec::<f32>().unwrap(), vec![3.0, 2.0, 1.0]);
/// assert!(reverse_components(xyz).equal(dhw).all().into_scalar::<bool>());
/// ```
pub fn reverse_components(field: Tensor<5>) -> Tensor<5> {
    field.flip([1])
}

/// Warps `image` `[N, C, D, H, W]` by a displacement field `ddf` `[N, 3, D, H, W]` in
/// MONAI's convention (components `(D, H, W)`, voxels): `output(p) = image(p + ddf(p))`,
/// positions outside the volume reading 0. MONAI's `Warp(mode, padding_mode="zeros")`:
/// [`Interpolation::Linear`] as VoxelMorph warps images (and, for a differentiable Dice, one-hot
/// labels), [`Interpolation::Nearest`] for label maps. Differentiable with respect to both.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::voxelmorph::warp_image;
/// use medburn_ops::Interpolation;
///
/// let device = Device::flex();
/// let image = Tensor::<1, burn::tensor::Int>::arange(0..4, &device).float().reshape([1, 1, 4, 1, 1]);
/// // One voxel along D (the first component): output(d) = image(d + 1).
/// let ddf = Tensor::<5>::zeros([1, 3, 4, 1, 1], &device)
///     .slice_assign([0..1, 0..1, 0..4, 0..1, 0..1], Tensor::ones([1, 1, 4, 1, 1], &device));
/// let y = warp_image(image, ddf, Interpolation::Linear)?;
/// assert_eq!(y.into_data().to_vec::<f32>().unwrap(), vec![1.0, 2.0, 3.0, 0.0]);
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
pub fn warp_image(
    image: Tensor<5>,
    ddf: Tensor<5>,
    interpolation: Interpolation,
) -> Result<Tensor<5>, ModelError> {
    let shape = image.dims();
    let options = SampleOptions::new(interpolation).with_padding(Padding::Zeros);
    medburn_ops::warp(image, reverse_components(ddf), options).map_err(|e| ModelError::InputShape {
        shape: shape.to_vec(),
        reason: e.to_string(),
    })
}

/// MONAI's VoxelMorph: `forward(moving, fixed) -> (warped, ddf)`. The backbone sees
/// `cat([moving, fixed], channels)` (moving first, as MONAI's); its output is a stationary
/// velocity field that `integration_steps` steps of scaling and squaring integrate into the
/// displacement (MONAI's `DVF2DDF`: `u = v / 2^steps`, then `u += warp(u, u)` with linear
/// interpolation and zero padding, `align_corners=True`; `medburn_ops::integrate_velocity`), or
/// the displacement itself with no steps. The moving image is warped by it with linear
/// interpolation and zero padding (MONAI's `Warp`). See [the module](self) for the field's
/// convention. Build it with [`VoxelMorphConfig::init`].
///
/// With `half_res` the field is integrated at half resolution exactly as MONAI does it:
/// trilinearly downsampled (`align_corners=True`) and multiplied by 2 before, multiplied by
/// 0.5 and upsampled after (the reverse of the original VoxelMorph's factors; for a field of
/// one constant the result is the same).
///
/// Inputs: moving and fixed images of one shape `[N, C, D, H, W]` with `2 C` the backbone's
/// `in_channels` and every spatial size divisible by `2^levels` (8 for the default backbone).
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::voxelmorph::{VoxelMorphConfig, VoxelMorphUNetConfig};
///
/// let device = Device::flex();
/// let backbone = VoxelMorphUNetConfig::new(4, 8, vec![4, 8, 8, 8], vec![8]);
/// let model = VoxelMorphConfig::new().with_backbone(backbone).with_half_res(true).init(&device)?;
/// let moving = Tensor::<5>::ones([2, 2, 8, 4, 12], &device);
/// let (warped, ddf) = model.try_forward(moving.clone(), moving)?;
/// assert_eq!((warped.dims(), ddf.dims()), ([2, 2, 8, 4, 12], [2, 3, 8, 4, 12]));
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Module, Debug)]
pub struct VoxelMorph {
    /// The U-Net (MONAI key prefix `backbone.`).
    pub backbone: VoxelMorphUNet,
    /// Scaling-and-squaring steps; 0: the backbone gives the displacement directly.
    pub integration_steps: usize,
    /// Whether the integration runs at half resolution.
    pub half_res: bool,
}

impl VoxelMorph {
    /// `(warped, ddf)`: the moving image warped onto the fixed one, and the displacement
    /// field that does it (MONAI's convention: `(D, H, W)` components, voxels). Panics where
    /// [`check_input`](Self::check_input) fails; use [`try_forward`](Self::try_forward) on
    /// inputs of unknown shape.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::voxelmorph::{VoxelMorphConfig, VoxelMorphUNetConfig};
    ///
    /// let device = Device::flex();
    /// let backbone = VoxelMorphUNetConfig::new(2, 4, vec![4, 4], vec![]);
    /// let model = VoxelMorphConfig::new().with_backbone(backbone).init(&device)?;
    /// let x = Tensor::<5>::zeros([1, 1, 4, 4, 4], &device);
    /// let (warped, ddf) = model.forward(x.clone(), x);
    /// assert_eq!(ddf.dims(), [1, 3, 4, 4, 4]);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn forward(&self, moving: Tensor<5>, fixed: Tensor<5>) -> (Tensor<5>, Tensor<5>) {
        let ddf = self.displacement(moving.clone(), fixed);
        let warped = warp_image(moving, ddf.clone(), Interpolation::Linear)
            .unwrap_or_else(|e| panic!("{e}"));
        (warped, ddf)
    }

    /// [`check_input`](Self::check_input), then [`forward`](Self::forward).
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::{ModelError, voxelmorph::VoxelMorphConfig};
    ///
    /// let device = Device::flex();
    /// let model = VoxelMorphConfig::new().init(&device)?;
    /// let (a, b) = (Tensor::<5>::zeros([1, 1, 8, 8, 8], &device), Tensor::<5>::zeros([1, 1, 8, 8, 16], &device));
    /// assert!(matches!(model.try_forward(a, b), Err(ModelError::InputShape { .. })));
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn try_forward(
        &self,
        moving: Tensor<5>,
        fixed: Tensor<5>,
    ) -> Result<(Tensor<5>, Tensor<5>), ModelError> {
        self.check_input(moving.dims(), fixed.dims())?;
        Ok(self.forward(moving, fixed))
    }

    /// The displacement field alone (what [`forward`](Self::forward) warps with), without
    /// warping the moving image. Panics where [`check_input`](Self::check_input) fails.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::voxelmorph::{VoxelMorphConfig, VoxelMorphUNetConfig};
    ///
    /// let device = Device::flex();
    /// let backbone = VoxelMorphUNetConfig::new(2, 4, vec![4, 4], vec![]);
    /// let model = VoxelMorphConfig::new().with_backbone(backbone).init(&device)?;
    /// let x = Tensor::<5>::zeros([1, 1, 4, 4, 4], &device);
    /// let (_, ddf) = model.forward(x.clone(), x.clone());
    /// assert!(model.displacement(x.clone(), x).equal(ddf).all().into_scalar::<bool>());
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn displacement(&self, moving: Tensor<5>, fixed: Tensor<5>) -> Tensor<5> {
        let panic = |e: medburn_ops::OpsError| -> Tensor<5> { panic!("{e}") };
        let mut field = self.backbone.forward(Tensor::cat(vec![moving, fixed], 1));
        let resize = |x: Tensor<5>, factor: f64| {
            let options = Interpolate3dOptions::new(Interpolation::Linear)
                .with_scale_factor([factor; 3])
                .with_align_corners(true);
            interpolate_3d(x, options).unwrap_or_else(panic)
        };
        if self.half_res {
            field = resize(field, 0.5) * 2.0;
        }
        if self.integration_steps > 0 {
            // medburn's integration takes (x, y, z) components.
            field = reverse_components(
                integrate_velocity(reverse_components(field), self.integration_steps)
                    .unwrap_or_else(panic),
            );
        }
        if self.half_res {
            field = resize(field * 0.5, 2.0);
        }
        field
    }

    /// Whether a moving and a fixed image of these shapes fit: one shape, half the backbone's
    /// channels each, no empty axis, every spatial size divisible by `2^levels`.
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use medburn_models::voxelmorph::VoxelMorphConfig;
    ///
    /// let model = VoxelMorphConfig::new().init(&Device::flex())?;
    /// assert!(model.check_input([1, 1, 16, 8, 24], [1, 1, 16, 8, 24]).is_ok());
    /// assert!(model.check_input([1, 2, 16, 8, 24], [1, 2, 16, 8, 24]).is_err()); // 4 channels
    /// assert!(model.check_input([1, 1, 16, 8, 20], [1, 1, 16, 8, 20]).is_err()); // 20 % 8
    /// assert!(model.check_input([1, 1, 16, 8, 24], [2, 1, 16, 8, 24]).is_err()); // batch
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn check_input(&self, moving: [usize; 5], fixed: [usize; 5]) -> Result<(), ModelError> {
        if moving != fixed {
            return Err(ModelError::InputShape {
                shape: fixed.to_vec(),
                reason: format!(
                    "the fixed image must have the moving image's shape {moving:?} (MONAI's \
                     VoxelMorph takes one shape)"
                ),
            });
        }
        let mut pair = moving;
        pair[1] *= 2;
        self.backbone.check_input(pair).map_err(|e| match e {
            ModelError::InputShape { reason, .. } => ModelError::InputShape {
                shape: moving.to_vec(),
                reason: format!("moving and fixed together: {reason}"),
            },
            other => other,
        })
    }

    /// Channels of each image (moving and fixed): half the backbone's input channels.
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use medburn_models::voxelmorph::VoxelMorphConfig;
    /// assert_eq!(VoxelMorphConfig::new().init(&Device::flex())?.image_channels(), 1);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn image_channels(&self) -> usize {
        self.backbone.in_channels() / 2
    }
}

/// MONAI keys: the backbone's under `backbone.` (MONAI's `DVF2DDF` and `Warp` hold no
/// weights).
impl MonaiKeys for VoxelMorph {
    fn push_monai_keys(&self, monai: &str, burn: &str, map: &mut MonaiKeyMap) {
        self.backbone.push_monai_keys(
            &format!("{monai}backbone."),
            &format!("{burn}backbone."),
            map,
        );
    }
}
