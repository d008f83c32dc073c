//! MONAI's `Convolution` block: a 3D convolution followed by an optional ADN.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv3dConfig;
use burn::nn::PaddingConfig3d;
use burn::tensor::{Device, Tensor};

use super::adn::{validate_dropout, validate_ordering};
use super::{ActConfig, Adn, AdnConfig, NormConfig};
use crate::monai_weights::{MonaiKeyMap, MonaiKeys};
use crate::nn::Conv3d;
use crate::ModelError;

/// The arguments of MONAI's `monai.networks.blocks.Convolution` with `spatial_dims=3` and
/// `is_transposed=False` ([`TransposedConvolutionConfig`](super::TransposedConvolutionConfig)
/// is the transposed one), with MONAI's defaults: stride 1, kernel 3, "NDA", PReLU, instance
/// norm, no dropout, bias, "same" padding `(kernel_size - 1) / 2 * dilation`.
///
/// Sizes are per axis in tensor order `[D, H, W]`, as MONAI's sequences.
///
/// ```
/// use burn::config::Config;
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::blocks::{ConvolutionConfig, NormConfig};
///
/// let device = Device::flex();
/// // MONAI: Convolution(3, 1, 8, strides=2, norm="batch")
/// let config = ConvolutionConfig::new(1, 8).with_strides([2; 3]).with_norm(NormConfig::batch());
/// let block = config.init(&device)?;
/// assert_eq!(block.forward(Tensor::<5>::zeros([1, 1, 8, 6, 4], &device)).dims(), [1, 8, 4, 3, 2]);
/// let json: serde_json::Value = serde_json::from_str(&config.to_string()).unwrap(); // every field
/// assert_eq!(json["adn_ordering"], "NDA");
/// assert_eq!(json["norm"], serde_json::json!({"batch": {"eps": 1e-5, "momentum": 0.1}}));
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct ConvolutionConfig {
    /// Channels of the input.
    pub in_channels: usize,
    /// Channels of the output.
    pub out_channels: usize,
    /// Stride per axis.
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
    /// The convolution alone, without ADN.
    #[config(default = false)]
    pub conv_only: bool,
    /// Zero padding per axis; `None` for "same" padding `(kernel_size - 1) / 2 * dilation`
    /// (MONAI's `same_padding`, which needs `(kernel_size - 1) * dilation` even).
    pub padding: Option<[usize; 3]>,
}

/// MONAI's `same_padding(kernel_size, dilation)`.
pub(crate) fn same_padding(
    kernel_size: [usize; 3],
    dilation: [usize; 3],
) -> Result<[usize; 3], ModelError> {
    let mut p = [0; 3];
    for a in 0..3 {
        let span = kernel_size[a].saturating_sub(1) * dilation[a];
        if span % 2 == 1 {
            return Err(ModelError::InvalidConfig(format!(
                "\"same\" padding needs odd kernel sizes (times dilation), got kernel_size \
                 {kernel_size:?} and dilation {dilation:?}; give `padding`"
            )));
        }
        p[a] = span / 2;
    }
    Ok(p)
}

pub(crate) fn check_positive(name: &str, values: &[usize]) -> Result<(), ModelError> {
    if values.contains(&0) {
        return Err(ModelError::InvalidConfig(format!(
            "`{name}` must be positive, got {values:?}"
        )));
    }
    Ok(())
}

impl ConvolutionConfig {
    /// Checks the configuration as MONAI does (and a little more: no zero size, channels
    /// divisible by the groups).
    ///
    /// ```
    /// use medburn_models::blocks::ConvolutionConfig;
    /// assert!(ConvolutionConfig::new(2, 4).validate().is_ok());
    /// assert!(ConvolutionConfig::new(2, 4).with_kernel_size([2; 3]).validate().is_err()); // no "same" padding
    /// assert!(ConvolutionConfig::new(2, 4).with_kernel_size([2; 3]).with_padding(Some([0; 3])).validate().is_ok());
    /// assert!(ConvolutionConfig::new(3, 4).with_groups(2).validate().is_err());
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
        if self.padding.is_none() {
            same_padding(self.kernel_size, self.dilation)?;
        }
        validate_ordering(&self.adn_ordering)?;
        validate_dropout(self.dropout)?;
        self.adn().validate()
    }

    /// The padding the convolution uses.
    ///
    /// ```
    /// use medburn_models::blocks::ConvolutionConfig;
    /// assert_eq!(ConvolutionConfig::new(1, 1).with_kernel_size([5, 3, 1]).padding()?, [2, 1, 0]);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn padding(&self) -> Result<[usize; 3], ModelError> {
        match self.padding {
            Some(p) => Ok(p),
            None => same_padding(self.kernel_size, self.dilation),
        }
    }

    /// The ADN after the convolution.
    fn adn(&self) -> AdnConfig {
        AdnConfig::new(self.out_channels)
            .with_ordering(self.adn_ordering.clone())
            .with_act(self.act.clone())
            .with_norm(self.norm.clone())
            .with_dropout(self.dropout)
    }

    /// Burn's configuration of the convolution layer (weights initialized as PyTorch's).
    pub(crate) fn conv_config(&self) -> Result<Conv3dConfig, ModelError> {
        let [d, h, w] = self.padding()?;
        Ok(
            Conv3dConfig::new([self.in_channels, self.out_channels], self.kernel_size)
                .with_stride(self.strides)
                .with_dilation(self.dilation)
                .with_groups(self.groups)
                .with_padding(PaddingConfig3d::Explicit(d, h, w))
                .with_bias(self.bias),
        )
    }

    /// Builds the block on `device`, with weights initialized as PyTorch does (Kaiming
    /// uniform with `a = sqrt(5)`, bias uniform in `±1/sqrt(fan_in)`) and the ADN's as
    /// [`AdnConfig::init`].
    ///
    /// ```
    /// use burn::module::Module;
    /// use burn::tensor::Device;
    /// use medburn_models::blocks::ConvolutionConfig;
    ///
    /// let block = ConvolutionConfig::new(2, 4).with_conv_only(true).init(&Device::flex())?;
    /// assert!(block.adn.is_none());
    /// assert_eq!(block.num_params(), 4 * 2 * 27 + 4);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn init(&self, device: &Device) -> Result<Convolution, ModelError> {
        self.validate()?;
        let conv = Conv3d::new(&self.conv_config()?, device);
        let adn = self.adn().init_unless(self.conv_only, device)?;
        Ok(Convolution { conv, adn })
    }
}

/// A `Conv3d`, then [`Adn`] unless the block is convolution-only, as MONAI's
/// `monai.networks.blocks.Convolution` (`is_transposed=False`). Built by
/// [`ConvolutionConfig::init`]. MONAI keys: `conv.weight`, `conv.bias`, `adn.*`.
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
    /// The convolution (weights `[out, in / groups, kD, kH, kW]`, as PyTorch).
    pub conv: Conv3d,
    /// Normalization, dropout, activation; `None` for a convolution-only block.
    pub adn: Option<Adn>,
}

impl Convolution {
    /// Convolution, then ADN.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::blocks::ConvolutionConfig;
    ///
    /// let device = Device::flex();
    /// let block = ConvolutionConfig::new(2, 3).with_kernel_size([1; 3]).init(&device)?;
    /// assert_eq!(block.forward(Tensor::<5>::ones([1, 2, 3, 3, 3], &device)).dims(), [1, 3, 3, 3, 3]);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        super::adn::apply(&self.adn, self.conv.forward(x))
    }
}

impl MonaiKeys for Convolution {
    fn push_monai_keys(&self, monai: &str, burn: &str, map: &mut MonaiKeyMap) {
        super::adn::push_block_keys(&self.conv, &self.adn, monai, burn, map);
    }
}
