//! The 3D U-Net of MONAI (`monai.networks.nets.UNet`, `spatial_dims=3`), layer for layer.
//!
//! MONAI builds the network recursively: level `i` is `Sequential(down_i,
//! SkipConnection(level_{i+1}), up_i)` and the last level's inner block is the bottom layer;
//! the skip connection concatenates the level's input (first) with its inner block's output
//! along channels. [`UNet3d`] keeps the same layers in flat lists (`down`, `bottom`, `up`)
//! and applies them in the same order; [`crate::MonaiKeys`] says which MONAI `state_dict` key
//! lands where. The layers are MONAI's blocks ([`crate::blocks`]).

mod config;
mod layers;

pub use crate::blocks::{Adn, Convolution, ResidualUnit, TransposedConvolution};
pub use config::UNet3dConfig;
pub use layers::{DownLayer, UpLayer};

use burn::module::Module;
use burn::tensor::Tensor;

use crate::error::check_input_shape;
use crate::monai_weights::{MonaiKeyMap, MonaiKeys};
use crate::ModelError;

/// MONAI's 3D U-Net with residual units: strided convolutions down, transposed convolutions
/// up, skip connections by channel concatenation. Build it with [`UNet3dConfig::init`],
/// load MONAI's weights with [`crate::load_monai_safetensors`].
///
/// Input `[N, in_channels, D, H, W]` with each of `D`, `H`, `W` divisible by the product of
/// the strides (MONAI's constraint; [`UNet3d::check_input`] says why a shape does not fit);
/// output `[N, out_channels, D, H, W]`, the logits.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::UNet3dConfig;
///
/// let device = Device::flex();
/// let model = UNet3dConfig::new(1, 3, vec![8, 16, 32], vec![2, 2]).with_num_res_units(2).init(&device)?;
/// let x = Tensor::<5>::ones([1, 1, 8, 12, 4], &device);
/// let logits = model.try_forward(x)?;
/// assert_eq!(logits.dims(), [1, 3, 8, 12, 4]);
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Module, Debug)]
pub struct UNet3d {
    /// Encoder layers, top first (MONAI `model.0`, `model.1.submodule.0`, ...).
    pub down: Vec<DownLayer>,
    /// The bottom layer (stride 1).
    pub bottom: DownLayer,
    /// Decoder layers, top first (MONAI `model.2`, `model.1.submodule.2`, ...).
    pub up: Vec<UpLayer>,
}

impl UNet3d {
    /// The logits. Panics where [`check_input`](Self::check_input) fails; use
    /// [`try_forward`](Self::try_forward) on inputs of unknown shape.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::UNet3dConfig;
    ///
    /// let device = Device::flex();
    /// let model = UNet3dConfig::new(2, 2, vec![4, 8], vec![2]).init(&device)?;
    /// assert_eq!(model.forward(Tensor::<5>::zeros([3, 2, 2, 4, 6], &device)).dims(), [3, 2, 2, 4, 6]);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        self.level(0, x)
    }

    /// [`check_input`](Self::check_input), then [`forward`](Self::forward).
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::{ModelError, UNet3dConfig};
    ///
    /// let device = Device::flex();
    /// let model = UNet3dConfig::new(1, 2, vec![4, 8, 16], vec![2, 2]).init(&device)?;
    /// // 6 is not divisible by 2 * 2.
    /// let err = model.try_forward(Tensor::<5>::zeros([1, 1, 8, 8, 6], &device)).unwrap_err();
    /// assert!(matches!(err, ModelError::InputShape { .. }));
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn try_forward(&self, x: Tensor<5>) -> Result<Tensor<5>, ModelError> {
        self.check_input(x.dims())?;
        Ok(self.forward(x))
    }

    /// Whether an input of `shape` fits: `in_channels` channels, no empty axis, and every
    /// spatial size divisible by the product of the strides, so each transposed
    /// convolution gives back the size its skip connection has.
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use medburn_models::UNet3dConfig;
    ///
    /// let model = UNet3dConfig::new(1, 2, vec![4, 8, 16], vec![2, 2]).init(&Device::flex())?;
    /// assert!(model.check_input([1, 1, 16, 12, 4]).is_ok());
    /// assert!(model.check_input([1, 2, 16, 12, 4]).is_err()); // channels
    /// assert!(model.check_input([1, 1, 16, 12, 6]).is_err()); // 6 / 2 = 3 is odd
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn check_input(&self, shape: [usize; 5]) -> Result<(), ModelError> {
        let strides: Vec<usize> = self.down.iter().map(DownLayer::stride).collect();
        check_input_shape(shape, self.in_channels(), "", Some(&strides))
    }

    /// Channels of the input the network takes.
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use medburn_models::UNet3dConfig;
    ///
    /// let model = UNet3dConfig::new(3, 2, vec![4, 8], vec![2]).init(&Device::flex())?;
    /// assert_eq!((model.in_channels(), model.out_channels()), (3, 2));
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn in_channels(&self) -> usize {
        self.down[0].first_conv().weight.dims()[1] * self.down[0].first_conv().groups
    }

    /// Channels of the output (the classes).
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use medburn_models::UNet3dConfig;
    ///
    /// let model = UNet3dConfig::new(3, 5, vec![4, 8], vec![2]).with_num_res_units(1).init(&Device::flex())?;
    /// assert_eq!(model.out_channels(), 5);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn out_channels(&self) -> usize {
        self.up[0].upsample.conv.channels[1]
    }

    fn level(&self, i: usize, x: Tensor<5>) -> Tensor<5> {
        if i == self.down.len() {
            return self.bottom.forward(x);
        }
        let d = self.down[i].forward(x);
        let inner = self.level(i + 1, d.clone());
        self.up[i].forward(Tensor::cat(vec![d, inner], 1))
    }
}

/// Whether a spatial size `[D, H, W]` passes through encoder levels of these `strides` and
/// back: every level's size divisible by its stride, so that each transposed convolution gives
/// back the size its skip connection has (MONAI's constraint). The one check of it, for the
/// network's input and for a training configuration's patch size.
///
/// ```
/// use medburn_models::unet::check_spatial_size;
/// assert!(check_spatial_size([16, 12, 8], &[2, 2]).is_ok());
/// let e = check_spatial_size([16, 12, 6], &[2, 2]).unwrap_err();
/// assert!(e.contains("not divisible by its stride 2"), "{e}");
/// ```
pub fn check_spatial_size(size: [usize; 3], strides: &[usize]) -> Result<(), String> {
    let mut size = size;
    for (level, &stride) in strides.iter().enumerate() {
        if stride == 0 || size.iter().any(|n| n % stride != 0) {
            return Err(format!(
                "spatial size {size:?} at level {level} is not divisible by its stride {stride}; \
                 every axis must be divisible by the product of the strides"
            ));
        }
        size = size.map(|n| n / stride);
    }
    Ok(())
}

impl DownLayer {
    fn first_conv(&self) -> &crate::nn::Conv3d {
        match self {
            DownLayer::Residual(unit) => &unit.units[0].conv,
            DownLayer::Plain(block) => &block.conv,
        }
    }

    fn stride(&self) -> usize {
        self.first_conv().stride[0]
    }
}

/// MONAI nests each level inside the one above (`model.1.submodule.` once per level); Burn's
/// paths follow [`UNet3d`]'s fields (`down.{i}`, `bottom`, `up.{i}`, enum variants included).
/// Level by level from the top (each level's encoder then decoder layer), the bottom last.
impl MonaiKeys for UNet3d {
    fn push_monai_keys(&self, monai: &str, burn: &str, map: &mut MonaiKeyMap) {
        let mut prefix = format!("{monai}model.");
        for (i, (down, up)) in self.down.iter().zip(&self.up).enumerate() {
            down.push_monai_keys(&format!("{prefix}0."), &format!("{burn}down.{i}."), map);
            up.push_monai_keys(&format!("{prefix}2."), &format!("{burn}up.{i}."), map);
            prefix.push_str("1.submodule.");
        }
        self.bottom
            .push_monai_keys(&prefix, &format!("{burn}bottom."), map);
    }
}
