//! MONAI's `Convolution` block: a (transposed) convolution followed by an optional ADN.

use crate::nn::{Conv3d, ConvTranspose3d};
use burn::module::Module;
use burn::tensor::Tensor;

use super::Adn;

/// A `Conv3d` with "same" padding (`(k - 1) / 2`), then [`Adn`] unless the block is
/// convolution-only, as MONAI's `monai.networks.blocks.Convolution`
/// (`is_transposed=False`). MONAI keys: `conv.weight`, `conv.bias`, `adn.*`.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::{DownLayer, UNet3dConfig};
///
/// let device = Device::flex();
/// let model = UNet3dConfig::new(1, 2, vec![4, 8], vec![2]).init(&device)?;
/// let DownLayer::Plain(block) = &model.down[0] else { unreachable!() };
/// // Stride 2 halves each axis.
/// let y = block.forward(Tensor::<5>::ones([1, 1, 8, 6, 4], &device));
/// assert_eq!(y.dims(), [1, 4, 4, 3, 2]);
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Module, Debug)]
pub struct Convolution {
    /// The convolution (weights `[out, in, k, k, k]`, as PyTorch).
    pub conv: Conv3d,
    /// Normalization, dropout, activation; `None` for a convolution-only block.
    pub adn: Option<Adn>,
}

impl Convolution {
    /// Convolution, then ADN.
    ///
    /// ```
    /// use burn::nn::conv::Conv3dConfig;
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::Convolution;
    ///
    /// let device = Device::flex();
    /// let block = Convolution { conv: Conv3dConfig::new([2, 3], [1, 1, 1]).init(&device).into(), adn: None };
    /// assert_eq!(block.forward(Tensor::<5>::ones([1, 2, 3, 3, 3], &device)).dims(), [1, 3, 3, 3, 3]);
    /// ```
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let y = self.conv.forward(x);
        match &self.adn {
            Some(adn) => adn.forward(y),
            None => y,
        }
    }
}

/// A `ConvTranspose3d` with padding `(k - 1) / 2` and output padding `stride - 1` (so a
/// stride `s` multiplies each axis by `s` exactly), then [`Adn`] unless the block is
/// convolution-only, as MONAI's `Convolution(is_transposed=True)` in the U-Net's decoder.
/// MONAI keys: `conv.weight` (`[in, out, k, k, k]` in PyTorch and in Burn alike),
/// `conv.bias`, `adn.*`.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::UNet3dConfig;
///
/// let device = Device::flex();
/// let model = UNet3dConfig::new(1, 2, vec![4, 8], vec![2]).init(&device)?;
/// // The top decoder block takes the skip (4) and the bottom (8) channels, doubles the size.
/// let y = model.up[0].upsample.forward(Tensor::<5>::ones([1, 12, 4, 3, 2], &device));
/// assert_eq!(y.dims(), [1, 2, 8, 6, 4]);
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Module, Debug)]
pub struct TransposedConvolution {
    /// The transposed convolution.
    pub conv: ConvTranspose3d,
    /// Normalization, dropout, activation; `None` for a convolution-only block.
    pub adn: Option<Adn>,
}

impl TransposedConvolution {
    /// Transposed convolution, then ADN.
    ///
    /// ```
    /// use burn::nn::conv::ConvTranspose3dConfig;
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::TransposedConvolution;
    ///
    /// let device = Device::flex();
    /// let conv = ConvTranspose3dConfig::new([2, 1], [2, 2, 2]).with_stride([2, 2, 2]).init(&device).into();
    /// let block = TransposedConvolution { conv, adn: None };
    /// assert_eq!(block.forward(Tensor::<5>::ones([1, 2, 2, 3, 4], &device)).dims(), [1, 1, 4, 6, 8]);
    /// ```
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let y = self.conv.forward(x);
        match &self.adn {
            Some(adn) => adn.forward(y),
            None => y,
        }
    }
}
