//! The encoder (down), bottom and decoder (up) layers of the U-Net.

use burn::module::Module;
use burn::tensor::Tensor;

use crate::blocks::{Convolution, ResidualUnit, TransposedConvolution};
use crate::monai_weights::{MonaiKeyMap, MonaiKeys};

/// An encoder layer or the bottom layer: MONAI's `UNet._get_down_layer`, a [`ResidualUnit`]
/// with `num_res_units` subunits when `num_res_units > 0`, a single [`Convolution`] block
/// otherwise.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::{DownLayer, UNet3dConfig};
///
/// let device = Device::flex();
/// let model = UNet3dConfig::new(1, 2, vec![4, 8], vec![2]).with_num_res_units(1).init(&device)?;
/// assert!(matches!(model.bottom, DownLayer::Residual(_)));
/// let y = model.bottom.forward(Tensor::<5>::ones([1, 4, 2, 2, 2], &device));
/// assert_eq!(y.dims(), [1, 8, 2, 2, 2]);
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)] // a handful per network; Burn modules cannot be boxed
pub enum DownLayer {
    /// `num_res_units > 0`.
    Residual(ResidualUnit),
    /// `num_res_units == 0`.
    Plain(Convolution),
}

impl DownLayer {
    /// Applies the layer.
    ///
    /// ```
    /// use burn::nn::conv::Conv3dConfig;
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::{Convolution, DownLayer};
    ///
    /// let device = Device::flex();
    /// let conv = Conv3dConfig::new([1, 2], [1, 1, 1]).init(&device).into();
    /// let layer = DownLayer::Plain(Convolution { conv, adn: None });
    /// assert_eq!(layer.forward(Tensor::<5>::ones([1, 1, 2, 2, 2], &device)).dims(), [1, 2, 2, 2, 2]);
    /// ```
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        match self {
            DownLayer::Residual(unit) => unit.forward(x),
            DownLayer::Plain(block) => block.forward(x),
        }
    }
}

/// A decoder layer: MONAI's `UNet._get_up_layer`, a [`TransposedConvolution`] (the
/// upsampling), followed when `num_res_units > 0` by a one-subunit [`ResidualUnit`] whose
/// last convolution is convolution-only in the top layer. Without residual units the top
/// layer's transposed convolution is itself convolution-only. MONAI keys: `0.*` and `1.*`
/// with residual units, the block's own keys without.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::UNet3dConfig;
///
/// let device = Device::flex();
/// let model = UNet3dConfig::new(1, 2, vec![4, 8], vec![2]).with_num_res_units(1).init(&device)?;
/// let top = &model.up[0];
/// assert!(top.upsample.adn.is_some());
/// assert!(top.residual.as_ref().unwrap().units[0].adn.is_none()); // the network's output
/// assert_eq!(top.forward(Tensor::<5>::ones([1, 12, 2, 2, 2], &device)).dims(), [1, 2, 4, 4, 4]);
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Module, Debug)]
pub struct UpLayer {
    /// The transposed convolution block.
    pub upsample: TransposedConvolution,
    /// The residual unit after it (`num_res_units > 0`).
    pub residual: Option<ResidualUnit>,
}

impl UpLayer {
    /// Applies the layer.
    ///
    /// ```
    /// use burn::nn::conv::ConvTranspose3dConfig;
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::{TransposedConvolution, UpLayer};
    ///
    /// let device = Device::flex();
    /// let conv = ConvTranspose3dConfig::new([4, 2], [1, 1, 1]).init(&device).into();
    /// let layer = UpLayer { upsample: TransposedConvolution { conv, adn: None }, residual: None };
    /// assert_eq!(layer.forward(Tensor::<5>::ones([1, 4, 2, 2, 2], &device)).dims(), [1, 2, 2, 2, 2]);
    /// ```
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let y = self.upsample.forward(x);
        match &self.residual {
            Some(unit) => unit.forward(y),
            None => y,
        }
    }
}

impl MonaiKeys for DownLayer {
    fn push_monai_keys(&self, monai: &str, burn: &str, map: &mut MonaiKeyMap) {
        match self {
            DownLayer::Residual(unit) => {
                unit.push_monai_keys(monai, &format!("{burn}Residual."), map)
            }
            DownLayer::Plain(block) => block.push_monai_keys(monai, &format!("{burn}Plain."), map),
        }
    }
}

impl MonaiKeys for UpLayer {
    fn push_monai_keys(&self, monai: &str, burn: &str, map: &mut MonaiKeyMap) {
        match &self.residual {
            // MONAI: nn.Sequential(Convolution, ResidualUnit).
            Some(unit) => {
                self.upsample.push_monai_keys(
                    &format!("{monai}0."),
                    &format!("{burn}upsample."),
                    map,
                );
                unit.push_monai_keys(&format!("{monai}1."), &format!("{burn}residual."), map);
            }
            // MONAI: the Convolution alone.
            None => self
                .upsample
                .push_monai_keys(monai, &format!("{burn}upsample."), map),
        }
    }
}
