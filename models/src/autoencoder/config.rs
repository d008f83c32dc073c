//! [`AutoEncoderConfig`] and [`VarAutoEncoderConfig`]: the arguments of MONAI's
//! `AutoEncoder(spatial_dims=3, ...)` and `VarAutoEncoder(spatial_dims=3, ...)`.

use burn::config::Config;
use burn::nn::LinearConfig;
use burn::tensor::Device;

use super::{AutoEncoder, VarAutoEncoder};
use crate::blocks::{
    same_padding, ActConfig, ConvolutionConfig, NormConfig, ResidualUnitConfig,
    TransposedConvolutionConfig,
};
use crate::unet::{DownLayer, UpLayer};
use crate::ModelError;

/// The configuration of an [`AutoEncoder`], named as the arguments of MONAI's
/// `monai.networks.nets.AutoEncoder` with `spatial_dims=3`, with MONAI's defaults: kernel 3
/// down and up, no residual units, no intermediate section (`inter_channels=None`), two units
/// per intermediate residual block (`num_inter_units=2`), PReLU with one slope starting at 0.25
/// (`act=Act.PRELU`), instance normalization without affine (`norm=Norm.INSTANCE`), no
/// dropout, bias on, "same" padding (`padding=None`).
///
/// Kernel sizes, strides, dilations and the padding are isotropic (one number per layer; MONAI
/// also takes one per axis). `channels` and `strides` have one value per encoder layer (MONAI
/// raises where their lengths differ); the decoder mirrors the encoder, from `channels[-2]` back
/// to `out_channels`, with the strides in reverse order. Serialized with serde like every Burn
/// `Config`.
///
/// ```
/// use burn::config::Config;
/// use burn::module::Module;
/// use burn::tensor::Device;
/// use medburn_models::AutoEncoderConfig;
///
/// // MONAI: AutoEncoder(spatial_dims=3, in_channels=1, out_channels=1, channels=(16, 32, 64),
/// //                    strides=(2, 2, 2), num_res_units=2)
/// let config = AutoEncoderConfig::new(1, 1, vec![16, 32, 64], vec![2, 2, 2]).with_num_res_units(2);
/// let model = config.init(&Device::flex())?;
/// assert_eq!(model.num_params(), 388_840); // as MONAI's
///
/// let json = serde_json::to_string(&config).unwrap();
/// assert_eq!(serde_json::from_str::<AutoEncoderConfig>(&json).unwrap(), config);
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct AutoEncoderConfig {
    /// Channels of the input.
    pub in_channels: usize,
    /// Channels of the output.
    pub out_channels: usize,
    /// Output channels of each encoder layer, top first.
    pub channels: Vec<usize>,
    /// Stride of each encoder layer (as many as `channels`); the decoder's in reverse order.
    pub strides: Vec<usize>,
    /// Kernel size of the convolutions (encoder, intermediate, and the decoder's residual
    /// units).
    #[config(default = 3)]
    pub kernel_size: usize,
    /// Kernel size of the decoder's transposed convolutions.
    #[config(default = 3)]
    pub up_kernel_size: usize,
    /// Convolutions per encoder residual unit; 0 for plain convolution blocks (and no residual
    /// unit after each transposed convolution).
    #[config(default = 0)]
    pub num_res_units: usize,
    /// Output channels of each block of the intermediate section between encoder and decoder
    /// (stride 1); `None` (or empty) for no intermediate section.
    pub inter_channels: Option<Vec<usize>>,
    /// Dilation of each intermediate block, as many as `inter_channels`; `None` for 1 each.
    /// (MONAI pairs them with `zip`, dropping blocks silently where the lengths differ; here
    /// that is an error.)
    pub inter_dilations: Option<Vec<usize>>,
    /// Convolutions per intermediate residual unit; 0 for plain convolution blocks.
    #[config(default = 2)]
    pub num_inter_units: usize,
    /// The activation after each convolution.
    #[config(default = "ActConfig::prelu()")]
    pub act: ActConfig,
    /// The normalization after each convolution.
    #[config(default = "NormConfig::instance()")]
    pub norm: NormConfig,
    /// Dropout probability, in `[0, 1)` (MONAI's `None` is 0).
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Whether the convolutions have a bias.
    #[config(default = true)]
    pub bias: bool,
    /// Zero padding of every convolution and transposed convolution; `None` for "same" padding
    /// `(kernel_size - 1) / 2 * dilation`. As in MONAI, residual units take 0 for "same" too,
    /// and need "same" padding (their two paths would differ in size otherwise).
    pub padding: Option<usize>,
}

impl AutoEncoderConfig {
    /// The intermediate section's channels (empty without one).
    fn inter(&self) -> &[usize] {
        self.inter_channels.as_deref().unwrap_or(&[])
    }

    /// The dilation of intermediate block `i`.
    fn inter_dilation(&self, i: usize) -> usize {
        self.inter_dilations
            .as_ref()
            .and_then(|d| d.get(i).copied())
            .unwrap_or(1)
    }

    /// Channels of the encoder's (and the intermediate section's) output: what the decoder
    /// takes.
    ///
    /// ```
    /// use medburn_models::AutoEncoderConfig;
    /// let config = AutoEncoderConfig::new(1, 1, vec![4, 8], vec![2, 2]);
    /// assert_eq!(config.encoded_channels(), 8);
    /// assert_eq!(config.with_inter_channels(Some(vec![6, 5])).encoded_channels(), 5);
    /// ```
    pub fn encoded_channels(&self) -> usize {
        self.inter()
            .last()
            .or(self.channels.last())
            .copied()
            .unwrap_or(self.in_channels)
    }

    /// The decoder's `(in_channels, out_channels, stride)` per layer: MONAI's
    /// `channels[-2::-1] + [out_channels]` with `strides[::-1] or [1]`.
    fn decode_layers(&self) -> Vec<(usize, usize, usize)> {
        let mut outs: Vec<usize> = self.channels.iter().rev().skip(1).copied().collect();
        outs.push(self.out_channels);
        let strides: Vec<usize> = if self.strides.is_empty() {
            vec![1]
        } else {
            self.strides.iter().rev().copied().collect()
        };
        let mut inc = self.encoded_channels();
        outs.into_iter()
            .zip(strides)
            .map(|(outc, s)| {
                let layer = (inc, outc, s);
                inc = outc;
                layer
            })
            .collect()
    }

    /// Checks the configuration as MONAI does (and a little more: no zero channel, stride or
    /// dilation, as many dilations as intermediate blocks, "same" padding in residual units,
    /// dropout in `[0, 1)`).
    ///
    /// ```
    /// use medburn_models::AutoEncoderConfig;
    /// let ok = AutoEncoderConfig::new(1, 1, vec![4, 8], vec![2, 2]);
    /// assert!(ok.validate().is_ok());
    /// assert!(AutoEncoderConfig { strides: vec![2], ..ok.clone() }.validate().is_err()); // one stride per layer
    /// assert!(ok.clone().with_kernel_size(4).validate().is_err()); // no "same" padding
    /// let inter = ok.clone().with_inter_channels(Some(vec![8, 8]));
    /// assert!(inter.clone().with_inter_dilations(Some(vec![1])).validate().is_err());
    /// assert!(ok.with_num_res_units(1).with_padding(Some(2)).validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |m: String| Err(ModelError::InvalidConfig(m));
        if self.channels.len() != self.strides.len() {
            return bad(format!(
                "the autoencoder expects as many `strides` as `channels`, got {:?} and {:?}",
                self.channels, self.strides
            ));
        }
        if self.in_channels == 0
            || self.out_channels == 0
            || self.channels.contains(&0)
            || self.inter().contains(&0)
        {
            return bad("channel counts must be positive".into());
        }
        if self.strides.contains(&0) {
            return bad(format!("strides must be positive, got {:?}", self.strides));
        }
        if let Some(d) = &self.inter_dilations {
            if d.len() != self.inter().len() {
                return bad(format!(
                    "`inter_dilations` needs one dilation per intermediate block ({}), got {d:?}",
                    self.inter().len()
                ));
            }
            if d.contains(&0) {
                return bad(format!("dilations must be positive, got {d:?}"));
            }
        }
        // Residual units add their input (or its 1x1x1 convolution) to their output: only
        // "same" padding keeps the two the same size (MONAI fails on every input otherwise).
        let residual_padding = |kernel: usize, dilation: usize, what: &str| {
            if let Some(p) = self.padding.filter(|&p| p != 0) {
                let same = same_padding([kernel; 3], [dilation; 3])?[0];
                if p != same {
                    return bad(format!(
                        "{what} are residual units, which need \"same\" padding ({same}), got \
                         `padding` {p}"
                    ));
                }
            }
            Ok(())
        };
        if self.num_res_units > 0 {
            residual_padding(self.kernel_size, 1, "the encoder's and decoder's layers")?;
        }
        // The blocks check the rest (kernel sizes, ordering, dropout, norm, act).
        let mut inc = self.in_channels;
        for (&c, &s) in self.channels.iter().zip(&self.strides) {
            self.encode_config(inc, c, s).validate()?;
            inc = c;
        }
        for (i, &c) in self.inter().iter().enumerate() {
            let dilation = self.inter_dilation(i);
            if self.num_inter_units > 0 {
                residual_padding(self.kernel_size, dilation, "the intermediate blocks")?;
            }
            self.inter_config(inc, c, dilation).validate()?;
            inc = c;
        }
        let decode = self.decode_layers();
        for (i, &(inc, outc, s)) in decode.iter().enumerate() {
            let is_last = i + 1 == decode.len();
            self.upsample_config(inc, outc, s, is_last).validate()?;
            if let Some(unit) = self.resunit_config(outc, is_last) {
                unit.validate()?;
            }
        }
        Ok(())
    }

    /// Builds the network on `device`, with weights initialized as PyTorch does (Kaiming
    /// uniform with `a = sqrt(5)`, bias uniform in `±1/sqrt(fan_in)`), PReLU slopes at their
    /// `init`, affine norms at (1, 0).
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::AutoEncoderConfig;
    ///
    /// let device = Device::flex();
    /// let model = AutoEncoderConfig::new(2, 3, vec![4, 8], vec![2, 2]).init(&device)?;
    /// let y = model.try_forward(Tensor::<5>::zeros([1, 2, 8, 4, 12], &device))?;
    /// assert_eq!(y.dims(), [1, 3, 8, 4, 12]);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn init(&self, device: &Device) -> Result<AutoEncoder, ModelError> {
        self.validate()?;
        let mut encode = Vec::with_capacity(self.channels.len());
        let mut inc = self.in_channels;
        for (&c, &s) in self.channels.iter().zip(&self.strides) {
            encode.push(self.encode_config(inc, c, s).init(device)?);
            inc = c;
        }
        let mut intermediate = Vec::with_capacity(self.inter().len());
        for (i, &c) in self.inter().iter().enumerate() {
            intermediate.push(
                self.inter_config(inc, c, self.inter_dilation(i))
                    .init(device)?,
            );
            inc = c;
        }
        let layers = self.decode_layers();
        let mut decode = Vec::with_capacity(layers.len());
        for (i, &(inc, outc, s)) in layers.iter().enumerate() {
            let is_last = i + 1 == layers.len();
            let upsample = self.upsample_config(inc, outc, s, is_last).init(device)?;
            let residual = match self.resunit_config(outc, is_last) {
                Some(unit) => Some(unit.init(device)?),
                None => None,
            };
            decode.push(UpLayer { upsample, residual });
        }
        Ok(AutoEncoder {
            encode,
            intermediate,
            decode,
        })
    }

    /// The padding a residual unit takes: MONAI's `ResidualUnit` reads 0 as "same".
    fn residual_padding(&self) -> Option<[usize; 3]> {
        self.padding.filter(|&p| p != 0).map(|p| [p; 3])
    }

    /// MONAI's `_get_encode_layer` (its `is_last` is always false): a residual unit with
    /// `num_res_units` subunits, or a convolution block, both with ADN at the end.
    fn encode_config(&self, inc: usize, outc: usize, stride: usize) -> LayerConfig {
        if self.num_res_units > 0 {
            LayerConfig::Residual(
                self.residual_unit(inc, outc, self.num_res_units)
                    .with_strides([stride; 3]),
            )
        } else {
            LayerConfig::Plain(self.conv(inc, outc).with_strides([stride; 3]))
        }
    }

    /// MONAI's `_get_intermediate_module` block `inter_{i}`: stride 1, a dilation, a residual
    /// unit with `num_inter_units` subunits or a convolution block.
    fn inter_config(&self, inc: usize, outc: usize, dilation: usize) -> LayerConfig {
        if self.num_inter_units > 0 {
            LayerConfig::Residual(
                self.residual_unit(inc, outc, self.num_inter_units)
                    .with_dilation([dilation; 3]),
            )
        } else {
            LayerConfig::Plain(self.conv(inc, outc).with_dilation([dilation; 3]))
        }
    }

    /// The transposed convolution of MONAI's `_get_decode_layer` (`decode_{i}.conv`),
    /// convolution-only in the last layer without residual units.
    fn upsample_config(
        &self,
        inc: usize,
        outc: usize,
        stride: usize,
        is_last: bool,
    ) -> TransposedConvolutionConfig {
        TransposedConvolutionConfig::new(inc, outc)
            .with_strides([stride; 3])
            .with_kernel_size([self.up_kernel_size; 3])
            .with_act(self.act.clone())
            .with_norm(self.norm.clone())
            .with_dropout(self.dropout)
            .with_bias(self.bias)
            .with_padding(self.padding.map(|p| [p; 3]))
            .with_conv_only(is_last && self.num_res_units == 0)
    }

    /// The residual unit of MONAI's `_get_decode_layer` (`decode_{i}.resunit`): one subunit,
    /// convolution-only in the last layer; none without residual units.
    fn resunit_config(&self, channels: usize, is_last: bool) -> Option<ResidualUnitConfig> {
        (self.num_res_units > 0).then(|| {
            self.residual_unit(channels, channels, 1)
                .with_last_conv_only(is_last)
        })
    }

    fn conv(&self, inc: usize, outc: usize) -> ConvolutionConfig {
        ConvolutionConfig::new(inc, outc)
            .with_kernel_size([self.kernel_size; 3])
            .with_act(self.act.clone())
            .with_norm(self.norm.clone())
            .with_dropout(self.dropout)
            .with_bias(self.bias)
            .with_padding(self.padding.map(|p| [p; 3]))
    }

    fn residual_unit(&self, inc: usize, outc: usize, subunits: usize) -> ResidualUnitConfig {
        ResidualUnitConfig::new(inc, outc)
            .with_kernel_size([self.kernel_size; 3])
            .with_subunits(subunits)
            .with_act(self.act.clone())
            .with_norm(self.norm.clone())
            .with_dropout(self.dropout)
            .with_bias(self.bias)
            .with_padding(self.residual_padding())
    }
}

/// The configuration of an encoder or intermediate layer.
enum LayerConfig {
    Residual(ResidualUnitConfig),
    Plain(ConvolutionConfig),
}

impl LayerConfig {
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

/// The configuration of a [`VarAutoEncoder`], named as the arguments of MONAI's
/// `monai.networks.nets.VarAutoEncoder` with `spatial_dims=3`, with MONAI's defaults (those of
/// [`AutoEncoderConfig`], without `padding`, which MONAI's VAE does not take), a sigmoid on the
/// reconstruction (`use_sigmoid=True`) and `mu + std` as the latent code in eval mode
/// (`use_mean_at_inference=False`).
///
/// `in_shape` is `(channels, D, H, W)` without the batch, as MONAI's: the linear layers are
/// sized for it, and the network takes only that size.
///
/// ```
/// use burn::config::Config;
/// use burn::module::Module;
/// use burn::tensor::Device;
/// use medburn_models::VarAutoEncoderConfig;
///
/// // MONAI: VarAutoEncoder(spatial_dims=3, in_shape=(1, 64, 64, 64), out_channels=1,
/// //                       latent_size=64, channels=(16, 32, 64), strides=(2, 2, 2), num_res_units=2)
/// let config = VarAutoEncoderConfig::new(vec![1, 64, 64, 64], 1, 64, vec![16, 32, 64], vec![2, 2, 2])
///     .with_num_res_units(2);
/// assert_eq!(config.final_size()?, [8, 8, 8]);
/// let model = config.init(&Device::flex())?;
/// assert_eq!(model.num_params(), 6_713_192); // as MONAI's
/// let json = serde_json::to_string(&config).unwrap();
/// assert_eq!(serde_json::from_str::<VarAutoEncoderConfig>(&json).unwrap(), config);
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct VarAutoEncoderConfig {
    /// Shape of one input `(channels, D, H, W)`.
    pub in_shape: Vec<usize>,
    /// Channels of the reconstruction.
    pub out_channels: usize,
    /// Size of the latent vector.
    pub latent_size: usize,
    /// Output channels of each encoder layer, top first; at least one.
    pub channels: Vec<usize>,
    /// Stride of each encoder layer (as many as `channels`).
    pub strides: Vec<usize>,
    /// Kernel size of the convolutions, odd.
    #[config(default = 3)]
    pub kernel_size: usize,
    /// Kernel size of the decoder's transposed convolutions, odd.
    #[config(default = 3)]
    pub up_kernel_size: usize,
    /// Convolutions per encoder residual unit; 0 for plain convolution blocks.
    #[config(default = 0)]
    pub num_res_units: usize,
    /// Output channels of each intermediate block; the last must be `channels`' last (MONAI
    /// reshapes the decoder's input to `channels[-1]` channels).
    pub inter_channels: Option<Vec<usize>>,
    /// Dilation of each intermediate block; `None` for 1 each.
    pub inter_dilations: Option<Vec<usize>>,
    /// Convolutions per intermediate residual unit; 0 for plain convolution blocks.
    #[config(default = 2)]
    pub num_inter_units: usize,
    /// The activation after each convolution.
    #[config(default = "ActConfig::prelu()")]
    pub act: ActConfig,
    /// The normalization after each convolution.
    #[config(default = "NormConfig::instance()")]
    pub norm: NormConfig,
    /// Dropout probability, in `[0, 1)`.
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Whether the convolutions have a bias.
    #[config(default = true)]
    pub bias: bool,
    /// Whether a sigmoid maps the reconstruction into `(0, 1)`.
    #[config(default = true)]
    pub use_sigmoid: bool,
    /// Whether the latent code in eval mode is `mu` (else MONAI's default, `mu + std`).
    #[config(default = false)]
    pub use_mean_at_inference: bool,
}

impl VarAutoEncoderConfig {
    /// The convolutional part, an [`AutoEncoderConfig`] with the same arguments.
    ///
    /// ```
    /// use medburn_models::VarAutoEncoderConfig;
    /// let config = VarAutoEncoderConfig::new(vec![2, 16, 16, 16], 1, 8, vec![4, 8], vec![2, 2]);
    /// assert_eq!(config.autoencoder().in_channels, 2);
    /// ```
    pub fn autoencoder(&self) -> AutoEncoderConfig {
        AutoEncoderConfig {
            in_channels: self.in_shape.first().copied().unwrap_or(0),
            out_channels: self.out_channels,
            channels: self.channels.clone(),
            strides: self.strides.clone(),
            kernel_size: self.kernel_size,
            up_kernel_size: self.up_kernel_size,
            num_res_units: self.num_res_units,
            inter_channels: self.inter_channels.clone(),
            inter_dilations: self.inter_dilations.clone(),
            num_inter_units: self.num_inter_units,
            act: self.act.clone(),
            norm: self.norm.clone(),
            dropout: self.dropout,
            bias: self.bias,
            padding: None,
        }
    }

    /// Spatial size of the encoder's output, by MONAI's `calculate_out_shape`:
    /// `(n - kernel_size + 2 * padding) / stride + 1` per layer ("same" padding).
    ///
    /// ```
    /// use medburn_models::VarAutoEncoderConfig;
    /// let config = VarAutoEncoderConfig::new(vec![1, 32, 20, 9], 1, 8, vec![4, 8], vec![2, 2]);
    /// assert_eq!(config.final_size()?, [8, 5, 3]);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn final_size(&self) -> Result<[usize; 3], ModelError> {
        if self.in_shape.len() != 4 || self.in_shape.contains(&0) {
            return Err(ModelError::InvalidConfig(format!(
                "`in_shape` must be (channels, D, H, W), all positive, got {:?}",
                self.in_shape
            )));
        }
        if self.kernel_size == 0 || self.strides.contains(&0) {
            return Err(ModelError::InvalidConfig(format!(
                "kernel size and strides must be positive, got {} and {:?}",
                self.kernel_size, self.strides
            )));
        }
        let p = same_padding([self.kernel_size; 3], [1; 3])?[0];
        let mut size = [self.in_shape[1], self.in_shape[2], self.in_shape[3]];
        for &s in &self.strides {
            size = size.map(|n| (n + 2 * p - self.kernel_size) / s + 1);
        }
        Ok(size)
    }

    /// Checks the configuration (MONAI raises for the same arguments, or builds a network that
    /// fails on every input).
    ///
    /// ```
    /// use medburn_models::VarAutoEncoderConfig;
    /// let ok = VarAutoEncoderConfig::new(vec![1, 16, 16, 16], 1, 8, vec![4, 8], vec![2, 2]);
    /// assert!(ok.validate().is_ok());
    /// assert!(VarAutoEncoderConfig { in_shape: vec![16, 16, 16], ..ok.clone() }.validate().is_err());
    /// assert!(VarAutoEncoderConfig { latent_size: 0, ..ok.clone() }.validate().is_err());
    /// assert!(VarAutoEncoderConfig { channels: vec![], strides: vec![], ..ok.clone() }.validate().is_err());
    /// // The decoder takes channels[-1] channels: the intermediate section must end there.
    /// assert!(ok.clone().with_inter_channels(Some(vec![6])).validate().is_err());
    /// assert!(ok.with_inter_channels(Some(vec![6, 8])).validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |m: String| Err(ModelError::InvalidConfig(m));
        self.final_size()?;
        if self.latent_size == 0 {
            return bad("`latent_size` must be positive".into());
        }
        let Some(&last) = self.channels.last() else {
            return bad("the VAE needs at least one encoder layer (`channels`)".into());
        };
        let autoencoder = self.autoencoder();
        if autoencoder.encoded_channels() != last {
            return bad(format!(
                "MONAI's VAE reshapes the decoder's input to channels[-1] = {last} channels: the \
                 intermediate section must end with as many, got `inter_channels` {:?}",
                self.inter_channels
            ));
        }
        autoencoder.validate()
    }

    /// Builds the network on `device` (the convolutions as [`AutoEncoderConfig::init`], the
    /// linear layers as PyTorch initializes them).
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::VarAutoEncoderConfig;
    ///
    /// let device = Device::flex();
    /// let model = VarAutoEncoderConfig::new(vec![1, 8, 8, 8], 1, 4, vec![4, 8], vec![2, 2]).init(&device)?;
    /// let out = model.try_forward(Tensor::<5>::zeros([2, 1, 8, 8, 8], &device))?;
    /// assert_eq!((out.reconstruction.dims(), out.z.dims()), ([2, 1, 8, 8, 8], [2, 4]));
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn init(&self, device: &Device) -> Result<VarAutoEncoder, ModelError> {
        self.validate()?;
        let autoencoder = self.autoencoder().init(device)?;
        let final_size = self.final_size()?;
        let channels = self.channels[self.channels.len() - 1];
        let linear_size = channels * final_size.iter().product::<usize>();
        Ok(VarAutoEncoder {
            autoencoder,
            mu: LinearConfig::new(linear_size, self.latent_size).init(device),
            logvar: LinearConfig::new(linear_size, self.latent_size).init(device),
            decode_l: LinearConfig::new(self.latent_size, linear_size).init(device),
            in_shape: self.in_shape.clone(),
            final_size,
            use_sigmoid: self.use_sigmoid,
            use_mean_at_inference: self.use_mean_at_inference,
        })
    }
}
