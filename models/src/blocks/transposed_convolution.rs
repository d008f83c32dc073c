//! MONAI's `Convolution(is_transposed=True)` block: a transposed 3D convolution followed by an
//! optional ADN.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::ConvTranspose3dConfig;
use burn::tensor::{Device, Tensor};

use super::adn::{validate_dropout, validate_ordering};
use super::convolution::{check_positive, same_padding};
use super::{ActConfig, Adn, AdnConfig, NormConfig};
use crate::monai_weights::{MonaiKeyMap, MonaiKeys};
use crate::nn::ConvTranspose3d;
use crate::ModelError;

/// The arguments of MONAI's `monai.networks.blocks.Convolution` with `spatial_dims=3` and
/// `is_transposed=True`, with MONAI's defaults: stride 1, kernel 3, "NDA", PReLU, instance
/// norm, no dropout, bias, padding `(kernel_size - 1) / 2 * dilation` and output padding
/// `strides - 1`, so that a stride `s` multiplies each axis by `s` exactly.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::blocks::TransposedConvolutionConfig;
///
/// let device = Device::flex();
/// // MONAI: Convolution(3, 8, 4, strides=2, is_transposed=True)
/// let block = TransposedConvolutionConfig::new(8, 4).with_strides([2; 3]).init(&device)?;
/// assert_eq!(block.forward(Tensor::<5>::zeros([2, 8, 4, 3, 2], &device)).dims(), [2, 4, 8, 6, 4]);
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct TransposedConvolutionConfig {
    /// Channels of the input.
    pub in_channels: usize,
    /// Channels of the output.
    pub out_channels: usize,
    /// Stride per axis (the upsampling factor).
    #[config(default = "[1, 1, 1]")]
    pub strides: [usize; 3],
    /// Kernel size per axis.
    #[config(default = "[3, 3, 3]")]
    pub kernel_size: [usize; 3],
    /// Order of normalization (`N`), dropout (`D`) and activation (`A`).
    #[config(default = "String::from(\"NDA\")")]
    pub adn_ordering: String,
    /// The activation.
    #[config(default = "ActConfig::prelu()")]
    pub act: ActConfig,
    /// The normalization.
    #[config(default = "NormConfig::instance()")]
    pub norm: NormConfig,
    /// Dropout probability, in `[0, 1)`.
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Spacing between kernel taps per axis.
    #[config(default = "[1, 1, 1]")]
    pub dilation: [usize; 3],
    /// Channel groups.
    #[config(default = 1)]
    pub groups: usize,
    /// Whether the convolution has a bias.
    #[config(default = true)]
    pub bias: bool,
    /// The transposed convolution alone, without ADN.
    #[config(default = false)]
    pub conv_only: bool,
    /// Voxels cut from both sides of the output per axis; `None` for
    /// `(kernel_size - 1) / 2 * dilation`.
    pub padding: Option<[usize; 3]>,
    /// Voxels added at the far side of the output per axis; `None` for `strides - 1`.
    pub output_padding: Option<[usize; 3]>,
}

impl TransposedConvolutionConfig {
    /// Checks the configuration as MONAI and PyTorch do (output padding smaller than the
    /// stride or the dilation).
    ///
    /// ```
    /// use medburn_models::blocks::TransposedConvolutionConfig;
    /// assert!(TransposedConvolutionConfig::new(2, 4).with_strides([2; 3]).validate().is_ok());
    /// assert!(TransposedConvolutionConfig::new(2, 4).with_output_padding(Some([1; 3])).validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), ModelError> {
        check_positive("in_channels", &[self.in_channels])?;
        check_positive("out_channels", &[self.out_channels])?;
        check_positive("strides", &self.strides)?;
        check_positive("kernel_size", &self.kernel_size)?;
        check_positive("dilation", &self.dilation)?;
        check_positive("groups", &[self.groups])?;
        if !self.in_channels.is_multiple_of(self.groups)
            || !self.out_channels.is_multiple_of(self.groups)
        {
            return Err(ModelError::InvalidConfig(format!(
                "channels {} -> {} are not divisible by groups {}",
                self.in_channels, self.out_channels, self.groups
            )));
        }
        self.padding()?;
        let out = self.output_padding();
        for a in 0..3 {
            if out[a] >= self.strides[a].max(self.dilation[a]) {
                return Err(ModelError::InvalidConfig(format!(
                    "`output_padding` {out:?} must be smaller than the stride {:?} or the \
                     dilation {:?}",
                    self.strides, self.dilation
                )));
            }
        }
        validate_ordering(&self.adn_ordering)?;
        validate_dropout(self.dropout)?;
        self.adn().validate()
    }

    /// The padding the transposed convolution uses.
    ///
    /// ```
    /// use medburn_models::blocks::TransposedConvolutionConfig;
    /// assert_eq!(TransposedConvolutionConfig::new(1, 1).with_kernel_size([3, 5, 1]).padding()?, [1, 2, 0]);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn padding(&self) -> Result<[usize; 3], ModelError> {
        match self.padding {
            Some(p) => Ok(p),
            None => same_padding(self.kernel_size, self.dilation),
        }
    }

    /// The output padding the transposed convolution uses.
    ///
    /// ```
    /// use medburn_models::blocks::TransposedConvolutionConfig;
    /// assert_eq!(TransposedConvolutionConfig::new(1, 1).with_strides([2, 1, 3]).output_padding(), [1, 0, 2]);
    /// ```
    pub fn output_padding(&self) -> [usize; 3] {
        self.output_padding
            .unwrap_or(self.strides.map(|s| s.saturating_sub(1)))
    }

    fn adn(&self) -> AdnConfig {
        AdnConfig::new(self.out_channels)
            .with_ordering(self.adn_ordering.clone())
            .with_act(self.act.clone())
            .with_norm(self.norm.clone())
            .with_dropout(self.dropout)
    }

    /// Builds the block on `device`, with weights initialized as PyTorch does.
    ///
    /// ```
    /// use burn::module::Module;
    /// use burn::tensor::Device;
    /// use medburn_models::blocks::TransposedConvolutionConfig;
    ///
    /// let block = TransposedConvolutionConfig::new(4, 2).with_conv_only(true).init(&Device::flex())?;
    /// assert_eq!(block.conv.weight.dims(), [4, 2, 3, 3, 3]); // [in, out, k, k, k], as PyTorch
    /// assert!(block.adn.is_none());
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn init(&self, device: &Device) -> Result<TransposedConvolution, ModelError> {
        self.validate()?;
        let config =
            ConvTranspose3dConfig::new([self.in_channels, self.out_channels], self.kernel_size)
                .with_stride(self.strides)
                .with_dilation(self.dilation)
                .with_groups(self.groups)
                .with_padding(self.padding()?)
                .with_padding_out(self.output_padding())
                .with_bias(self.bias);
        let conv = ConvTranspose3d::new(&config, device);
        let adn = self.adn().init_unless(self.conv_only, device)?;
        Ok(TransposedConvolution { conv, adn })
    }
}

/// A `ConvTranspose3d`, then [`Adn`] unless the block is convolution-only, as MONAI's
/// `Convolution(is_transposed=True)` (the U-Net's decoder). Built by
/// [`TransposedConvolutionConfig::init`]. MONAI keys: `conv.weight` (`[in, out / groups, k,
/// k, k]` in PyTorch and in Burn alike), `conv.bias`, `adn.*`.
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
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::blocks::TransposedConvolutionConfig;
    ///
    /// let device = Device::flex();
    /// let block = TransposedConvolutionConfig::new(2, 1).with_strides([2; 3]).with_kernel_size([2; 3])
    ///     .with_padding(Some([0; 3])).with_output_padding(Some([0; 3])).with_conv_only(true).init(&device)?;
    /// assert_eq!(block.forward(Tensor::<5>::ones([1, 2, 2, 3, 4], &device)).dims(), [1, 1, 4, 6, 8]);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        super::adn::apply(&self.adn, self.conv.forward(x))
    }
}

impl MonaiKeys for TransposedConvolution {
    fn push_monai_keys(&self, monai: &str, burn: &str, map: &mut MonaiKeyMap) {
        super::adn::push_block_keys(&self.conv, &self.adn, monai, burn, map);
    }
}
