//! MONAI's `ResidualUnit`: a chain of convolution blocks plus a residual path.

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::Conv3dConfig;
use burn::nn::PaddingConfig3d;
use burn::tensor::{Device, Tensor};

use super::convolution::check_positive;
use super::{ActConfig, Convolution, ConvolutionConfig, NormConfig};
use crate::monai_weights::{MonaiKeyMap, MonaiKeys};
use crate::nn::Conv3d;
use crate::ModelError;

/// The arguments of MONAI's `monai.networks.blocks.ResidualUnit` with `spatial_dims=3`, with
/// MONAI's defaults: stride 1, kernel 3, two subunits, "NDA", PReLU, instance norm, no
/// dropout, bias, "same" padding.
///
/// ```
/// use burn::module::Module;
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::blocks::ResidualUnitConfig;
///
/// let device = Device::flex();
/// // MONAI: ResidualUnit(3, 1, 16, strides=2, subunits=2) (the U-Net tutorial's first layer)
/// let unit = ResidualUnitConfig::new(1, 16).with_strides([2; 3]).init(&device)?;
/// assert_eq!(unit.units.len(), 2);
/// assert_eq!(unit.num_params(), (16 * 27 + 16) + (16 * 16 * 27 + 16) + 2 + (16 * 27 + 16));
/// assert_eq!(unit.forward(Tensor::<5>::zeros([1, 1, 8, 8, 8], &device)).dims(), [1, 16, 4, 4, 4]);
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct ResidualUnitConfig {
    /// Channels of the input.
    pub in_channels: usize,
    /// Channels of the output.
    pub out_channels: usize,
    /// Stride per axis of the first subunit (and of the residual path).
    #[config(default = "[1, 1, 1]")]
    pub strides: [usize; 3],
    /// Kernel size per axis.
    #[config(default = "[3, 3, 3]")]
    pub kernel_size: [usize; 3],
    /// Convolution blocks in the chain (at least one is made).
    #[config(default = 2)]
    pub subunits: usize,
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
    /// Spacing between kernel taps per axis (the subunits; not the residual path, as MONAI).
    #[config(default = "[1, 1, 1]")]
    pub dilation: [usize; 3],
    /// Whether the convolutions have a bias.
    #[config(default = true)]
    pub bias: bool,
    /// Whether the last subunit is the convolution alone, without ADN.
    #[config(default = false)]
    pub last_conv_only: bool,
    /// Zero padding per axis; `None` for "same" padding.
    pub padding: Option<[usize; 3]>,
}

impl ResidualUnitConfig {
    /// The configuration of subunit `i`.
    fn subunit(&self, i: usize) -> ConvolutionConfig {
        let subunits = self.subunits.max(1);
        let (in_channels, strides) = if i == 0 {
            (self.in_channels, self.strides)
        } else {
            (self.out_channels, [1; 3])
        };
        ConvolutionConfig::new(in_channels, self.out_channels)
            .with_strides(strides)
            .with_kernel_size(self.kernel_size)
            .with_adn_ordering(self.adn_ordering.clone())
            .with_act(self.act.clone())
            .with_norm(self.norm.clone())
            .with_dropout(self.dropout)
            .with_dilation(self.dilation)
            .with_bias(self.bias)
            .with_conv_only(self.last_conv_only && i + 1 == subunits)
            .with_padding(self.padding)
    }

    /// Checks the configuration (each subunit's, as MONAI builds them).
    ///
    /// ```
    /// use medburn_models::blocks::ResidualUnitConfig;
    /// assert!(ResidualUnitConfig::new(1, 4).validate().is_ok());
    /// assert!(ResidualUnitConfig::new(1, 4).with_kernel_size([4; 3]).validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), ModelError> {
        check_positive("strides", &self.strides)?;
        for i in 0..self.subunits.max(1) {
            self.subunit(i).validate()?;
        }
        Ok(())
    }

    /// Builds the unit on `device`. The residual path is the identity when neither the
    /// channels nor the size change, a `1x1x1` convolution when only the channels change, and
    /// a convolution with the units' kernel, stride and padding otherwise (MONAI's rule).
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use medburn_models::blocks::ResidualUnitConfig;
    ///
    /// let device = Device::flex();
    /// assert!(ResidualUnitConfig::new(4, 4).init(&device)?.residual.is_none());
    /// assert_eq!(ResidualUnitConfig::new(2, 4).init(&device)?.residual.unwrap().kernel_size, [1; 3]);
    /// let strided = ResidualUnitConfig::new(4, 4).with_strides([1, 2, 2]).init(&device)?;
    /// assert_eq!(strided.residual.unwrap().kernel_size, [3; 3]);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn init(&self, device: &Device) -> Result<ResidualUnit, ModelError> {
        self.validate()?;
        let units = (0..self.subunits.max(1))
            .map(|i| self.subunit(i).init(device))
            .collect::<Result<Vec<_>, _>>()?;
        let strided = self.strides != [1; 3];
        let residual = if strided || self.in_channels != self.out_channels {
            let (kernel, padding) = if strided {
                (self.kernel_size, self.subunit(0).padding()?)
            } else {
                ([1; 3], [0; 3])
            };
            let [d, h, w] = padding;
            let config = Conv3dConfig::new([self.in_channels, self.out_channels], kernel)
                .with_stride(self.strides)
                .with_padding(PaddingConfig3d::Explicit(d, h, w))
                .with_bias(self.bias);
            Some(Conv3d::new(&config, device))
        } else {
            None
        };
        Ok(ResidualUnit { units, residual })
    }
}

/// `units` applied in turn, plus `residual(x)`, as MONAI's
/// `monai.networks.blocks.ResidualUnit`. Built by [`ResidualUnitConfig::init`]. The first unit
/// carries the stride and changes the channels. MONAI keys: `conv.unit{i}.*`,
/// `residual.weight`, `residual.bias`.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::{DownLayer, UNet3dConfig};
///
/// let device = Device::flex();
/// let model = UNet3dConfig::new(1, 2, vec![4, 8], vec![2]).with_num_res_units(2).init(&device)?;
/// let DownLayer::Residual(unit) = &model.down[0] else { unreachable!() };
/// assert_eq!(unit.units.len(), 2);
/// assert_eq!(unit.residual.as_ref().unwrap().kernel_size, [3, 3, 3]); // strided: full kernel
/// let y = unit.forward(Tensor::<5>::ones([1, 1, 4, 4, 4], &device));
/// assert_eq!(y.dims(), [1, 4, 2, 2, 2]);
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Module, Debug)]
pub struct ResidualUnit {
    /// The convolution blocks (`subunits` of them, at least one).
    pub units: Vec<Convolution>,
    /// The residual convolution; `None` for the identity.
    pub residual: Option<Conv3d>,
}

impl ResidualUnit {
    /// `units(x) + residual(x)`.
    ///
    /// ```
    /// use burn::nn::conv::Conv3dConfig;
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::{Convolution, ResidualUnit};
    ///
    /// let device = Device::flex();
    /// let conv = Conv3dConfig::new([1, 1], [1, 1, 1]).with_bias(false)
    ///     .with_initializer(burn::nn::Initializer::Constant { value: 2.0 }).init(&device).into();
    /// let unit = ResidualUnit { units: vec![Convolution { conv, adn: None }], residual: None };
    /// let y = unit.forward(Tensor::<5>::ones([1, 1, 1, 1, 1], &device));
    /// assert_eq!(y.into_scalar::<f32>(), 3.0); // 2 * x + x
    /// ```
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let res = match &self.residual {
            Some(conv) => conv.forward(x.clone()),
            None => x.clone(),
        };
        let y = self.units.iter().fold(x, |y, unit| unit.forward(y));
        y + res
    }
}

impl MonaiKeys for ResidualUnit {
    fn push_monai_keys(&self, monai: &str, burn: &str, map: &mut MonaiKeyMap) {
        for (k, unit) in self.units.iter().enumerate() {
            unit.push_monai_keys(
                &format!("{monai}conv.unit{k}."),
                &format!("{burn}units.{k}."),
                map,
            );
        }
        self.residual.push_monai_keys(
            &format!("{monai}residual."),
            &format!("{burn}residual."),
            map,
        );
    }
}
