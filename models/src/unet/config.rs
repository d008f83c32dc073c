//! [`UNet3dConfig`]: the arguments of MONAI's `UNet(spatial_dims=3, ...)`.

use burn::config::Config;
use burn::tensor::Device;

use super::{DownLayer, UNet3d, UpLayer};
use crate::blocks::{
    ActConfig, ConvolutionConfig, NormConfig, ResidualUnitConfig, TransposedConvolutionConfig,
};
use crate::ModelError;

/// The configuration of a [`UNet3d`], named as the arguments of MONAI's
/// `monai.networks.nets.UNet` with `spatial_dims=3`, with MONAI's defaults: instance
/// normalization without affine (`norm=Norm.INSTANCE`), PReLU with one slope starting at 0.25
/// (`act=Act.PRELU`), "NDA" ordering, bias on.
///
/// Kernel sizes and strides are isotropic (one number per convolution; MONAI also takes one
/// per axis). The layers are built from the blocks' configurations
/// ([`ResidualUnitConfig`], [`ConvolutionConfig`], [`TransposedConvolutionConfig`]) as MONAI's
/// `_get_down_layer` and `_get_up_layer` build them. Serialized with serde like every Burn
/// `Config` (all fields, JSON by [`Config::save`]).
///
/// ```
/// use burn::config::Config;
/// use burn::module::Module;
/// use burn::tensor::Device;
/// use medburn_models::UNet3dConfig;
///
/// // MONAI: UNet(spatial_dims=3, in_channels=1, out_channels=2,
/// //             channels=(16, 32, 64, 128), strides=(2, 2, 2), num_res_units=2)
/// let config = UNet3dConfig::new(1, 2, vec![16, 32, 64, 128], vec![2, 2, 2]).with_num_res_units(2);
/// let model = config.init(&Device::flex())?;
/// assert_eq!(model.num_params(), 1_186_765); // as MONAI's
///
/// let json = serde_json::to_string(&config).unwrap();
/// let back: UNet3dConfig = serde_json::from_str(&json).unwrap();
/// assert_eq!(back, config);
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct UNet3dConfig {
    /// Channels of the input.
    pub in_channels: usize,
    /// Channels of the output (classes, for segmentation logits).
    pub out_channels: usize,
    /// Channels of each level, top first; at least two (the last is the bottom layer).
    pub channels: Vec<usize>,
    /// Stride of each encoder level: `channels.len() - 1` of them (more are ignored, as
    /// MONAI does after a warning).
    pub strides: Vec<usize>,
    /// Kernel size of the convolutions, odd.
    #[config(default = 3)]
    pub kernel_size: usize,
    /// Kernel size of the transposed (upsampling) convolutions, odd.
    #[config(default = 3)]
    pub up_kernel_size: usize,
    /// Convolutions per encoder residual unit; 0 for plain convolution blocks.
    #[config(default = 0)]
    pub num_res_units: usize,
    /// The activation after each convolution (MONAI's `act`).
    #[config(default = "ActConfig::prelu()")]
    pub act: ActConfig,
    /// The normalization after each convolution (MONAI's `norm`).
    #[config(default = "NormConfig::instance()")]
    pub norm: NormConfig,
    /// Dropout probability, in `[0, 1)`.
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Whether convolutions have a bias.
    #[config(default = true)]
    pub bias: bool,
    /// Order of normalization (`N`), dropout (`D`) and activation (`A`) after each
    /// convolution; a letter left out leaves its layer out.
    #[config(default = "String::from(\"NDA\")")]
    pub adn_ordering: String,
}

impl UNet3dConfig {
    /// Instance normalization with (`true`) or without a learned scale and shift: MONAI's
    /// `norm=("instance", {"affine": True})`. Keeps the epsilon of an instance norm already
    /// set.
    ///
    /// ```
    /// use medburn_models::{blocks::NormConfig, UNet3dConfig};
    /// let config = UNet3dConfig::new(1, 2, vec![4, 8], vec![2]).with_norm_affine(true);
    /// assert_eq!(config.norm, NormConfig::Instance { affine: true, eps: 1e-5 });
    /// ```
    pub fn with_norm_affine(mut self, affine: bool) -> Self {
        let eps = match self.norm {
            NormConfig::Instance { eps, .. } => eps,
            _ => 1e-5,
        };
        self.norm = NormConfig::Instance { affine, eps };
        self
    }

    /// Sets the epsilon of instance normalization (keeping its `affine`): MONAI's
    /// `norm=("instance", {"eps": eps})`.
    ///
    /// ```
    /// use medburn_models::{blocks::NormConfig, UNet3dConfig};
    /// let config = UNet3dConfig::new(1, 2, vec![4, 8], vec![2]).with_norm_epsilon(1e-3);
    /// assert_eq!(config.norm, NormConfig::Instance { affine: false, eps: 1e-3 });
    /// ```
    pub fn with_norm_epsilon(mut self, eps: f64) -> Self {
        let affine = matches!(self.norm, NormConfig::Instance { affine: true, .. });
        self.norm = NormConfig::Instance { affine, eps };
        self
    }

    /// PReLU with one slope starting at `init`: MONAI's `act=("prelu", {"init": init})`.
    ///
    /// ```
    /// use medburn_models::{blocks::ActConfig, UNet3dConfig};
    /// let config = UNet3dConfig::new(1, 2, vec![4, 8], vec![2]).with_prelu_init(0.1);
    /// assert_eq!(config.act, ActConfig::PRelu { num_parameters: 1, init: 0.1 });
    /// ```
    pub fn with_prelu_init(mut self, init: f64) -> Self {
        self.act = ActConfig::PRelu {
            num_parameters: 1,
            init,
        };
        self
    }

    /// Checks the configuration as MONAI does (and a little more: no zero channel or
    /// stride, dropout in `[0, 1)`, a valid ordering).
    ///
    /// ```
    /// use medburn_models::UNet3dConfig;
    ///
    /// assert!(UNet3dConfig::new(1, 2, vec![8, 16], vec![2]).validate().is_ok());
    /// assert!(UNet3dConfig::new(1, 2, vec![8, 16], vec![]).validate().is_err());
    /// assert!(UNet3dConfig::new(1, 2, vec![8, 16], vec![2]).with_kernel_size(4).validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |m: String| Err(ModelError::InvalidConfig(m));
        if self.channels.len() < 2 {
            return bad(format!(
                "`channels` needs at least 2 levels, got {:?}",
                self.channels
            ));
        }
        if self.strides.len() < self.channels.len() - 1 {
            return bad(format!(
                "`strides` needs {} values (one per level but the bottom), got {:?}",
                self.channels.len() - 1,
                self.strides
            ));
        }
        if self.in_channels == 0 || self.out_channels == 0 || self.channels.contains(&0) {
            return bad("channel counts must be positive".into());
        }
        if self.strides[..self.channels.len() - 1].contains(&0) {
            return bad(format!("strides must be positive, got {:?}", self.strides));
        }
        for (name, k) in [
            ("kernel_size", self.kernel_size),
            ("up_kernel_size", self.up_kernel_size),
        ] {
            if k % 2 == 0 {
                return bad(format!("`{name}` must be odd (same padding), got {k}"));
            }
        }
        // The blocks check the rest (ordering, dropout, norm, act) for every layer.
        self.down_config(self.in_channels, self.channels[0], self.strides[0])
            .validate()
    }

    /// Builds the network on `device`, with weights initialized as PyTorch does (Kaiming
    /// uniform with `a = sqrt(5)`, bias uniform in `±1/sqrt(fan_in)`), PReLU slopes at their
    /// `init`, affine norms at (1, 0).
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::UNet3dConfig;
    ///
    /// let device = Device::flex();
    /// let model = UNet3dConfig::new(3, 5, vec![8, 16, 32], vec![2, 2]).with_num_res_units(1).init(&device)?;
    /// let y = model.forward(Tensor::<5>::zeros([2, 3, 8, 4, 12], &device));
    /// assert_eq!(y.dims(), [2, 5, 8, 4, 12]);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn init(&self, device: &Device) -> Result<UNet3d, ModelError> {
        self.validate()?;
        let levels = self.channels.len() - 1;
        let mut down = Vec::with_capacity(levels);
        let mut up = Vec::with_capacity(levels);
        for i in 0..levels {
            let c = self.channels[i];
            let s = self.strides[i];
            let (inc, outc) = if i == 0 {
                (self.in_channels, self.out_channels)
            } else {
                (self.channels[i - 1], self.channels[i - 1])
            };
            // What the level below hands back: `c` from a level, channels[i + 1] from the bottom.
            let upc = if i + 1 < levels {
                2 * c
            } else {
                c + self.channels[i + 1]
            };
            down.push(self.down_config(inc, c, s).init(device)?);
            up.push(self.up_layer(upc, outc, s, i == 0, device)?);
        }
        let bottom = self
            .down_config(self.channels[levels - 1], self.channels[levels], 1)
            .init(device)?;
        Ok(UNet3d { down, bottom, up })
    }

    /// MONAI's `_get_down_layer`: a residual unit with `num_res_units` subunits, or a
    /// convolution block.
    fn down_config(&self, inc: usize, outc: usize, stride: usize) -> DownLayerConfig {
        if self.num_res_units > 0 {
            DownLayerConfig::Residual(
                ResidualUnitConfig::new(inc, outc)
                    .with_strides([stride; 3])
                    .with_kernel_size([self.kernel_size; 3])
                    .with_subunits(self.num_res_units)
                    .with_act(self.act.clone())
                    .with_norm(self.norm.clone())
                    .with_dropout(self.dropout)
                    .with_bias(self.bias)
                    .with_adn_ordering(self.adn_ordering.clone()),
            )
        } else {
            DownLayerConfig::Plain(
                ConvolutionConfig::new(inc, outc)
                    .with_strides([stride; 3])
                    .with_kernel_size([self.kernel_size; 3])
                    .with_act(self.act.clone())
                    .with_norm(self.norm.clone())
                    .with_dropout(self.dropout)
                    .with_bias(self.bias)
                    .with_adn_ordering(self.adn_ordering.clone()),
            )
        }
    }

    /// MONAI's `_get_up_layer`: a transposed convolution block (convolution-only at the top
    /// without residual units), then a one-subunit residual unit (convolution-only last at
    /// the top) when `num_res_units > 0`.
    fn up_layer(
        &self,
        inc: usize,
        outc: usize,
        stride: usize,
        is_top: bool,
        device: &Device,
    ) -> Result<UpLayer, ModelError> {
        let upsample = TransposedConvolutionConfig::new(inc, outc)
            .with_strides([stride; 3])
            .with_kernel_size([self.up_kernel_size; 3])
            .with_act(self.act.clone())
            .with_norm(self.norm.clone())
            .with_dropout(self.dropout)
            .with_bias(self.bias)
            .with_conv_only(is_top && self.num_res_units == 0)
            .with_adn_ordering(self.adn_ordering.clone())
            .init(device)?;
        let residual = if self.num_res_units > 0 {
            Some(
                ResidualUnitConfig::new(outc, outc)
                    .with_kernel_size([self.kernel_size; 3])
                    .with_subunits(1)
                    .with_act(self.act.clone())
                    .with_norm(self.norm.clone())
                    .with_dropout(self.dropout)
                    .with_bias(self.bias)
                    .with_last_conv_only(is_top)
                    .with_adn_ordering(self.adn_ordering.clone())
                    .init(device)?,
            )
        } else {
            None
        };
        Ok(UpLayer { upsample, residual })
    }
}

/// The configuration of a [`DownLayer`].
enum DownLayerConfig {
    Residual(ResidualUnitConfig),
    Plain(ConvolutionConfig),
}

impl DownLayerConfig {
    fn validate(&self) -> Result<(), ModelError> {
        match self {
            Self::Residual(c) => c.validate(),
            Self::Plain(c) => c.validate(),
        }
    }

    fn init(&self, device: &Device) -> Result<DownLayer, ModelError> {
        Ok(match self {
            Self::Residual(c) => DownLayer::Residual(c.init(device)?),
            Self::Plain(c) => DownLayer::Plain(c.init(device)?),
        })
    }
}
