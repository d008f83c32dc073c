//! [`VoxelMorphUNetConfig`] and [`VoxelMorphConfig`]: the arguments of MONAI's
//! `VoxelMorphUNet(spatial_dims=3, ...)` and `VoxelMorph(backbone, integration_steps, half_res)`.

use burn::config::Config;
use burn::tensor::Device;

use super::{VoxelMorph, VoxelMorphDown, VoxelMorphUNet, VoxelMorphUp};
use crate::blocks::{ActConfig, ConvolutionConfig, NormConfig};
use crate::ModelError;

/// The largest `integration_steps`: scaling and squaring divides the velocity by
/// `2^integration_steps` (`medburn_ops::integrate_velocity` refuses more).
pub const MAX_INTEGRATION_STEPS: usize = 30;

/// LeakyReLU with TensorFlow's slope 0.2: MONAI's `"LEAKYRELU"` in VoxelMorph's arguments.
fn leaky() -> ActConfig {
    ActConfig::LeakyRelu {
        negative_slope: 0.2,
    }
}

/// The configuration of a [`VoxelMorphUNet`], named as the arguments of MONAI's
/// `monai.networks.nets.VoxelMorphUNet` with `spatial_dims=3`, with MONAI's defaults:
/// LeakyReLU with slope 0.2 (`act="LEAKYRELU"`, also `final_conv_act`), no normalization, no
/// dropout, bias on, max pooling down (`use_maxpool=True`), "NDA".
///
/// `channels` come in pairs, one pair per level from the top: `(down_i, up_i)`, the output
/// channels of the level's encoder and decoder convolutions (the last pair is the bottom
/// layer's input and output). With `L = channels.len() / 2` levels the input is pooled `L`
/// times, so every spatial size must be divisible by `2^L`. Kernel sizes are isotropic (MONAI
/// also takes one per axis).
///
/// ```
/// use burn::module::Module;
/// use burn::tensor::Device;
/// use medburn_models::voxelmorph::VoxelMorphUNetConfig;
///
/// // MONAI: VoxelMorphUNet(spatial_dims=3, in_channels=2, unet_out_channels=32,
/// //                       channels=(16, 32, 32, 32, 32, 32), final_conv_channels=(16, 16))
/// let config = VoxelMorphUNetConfig::voxelmorph();
/// assert_eq!(config, VoxelMorphUNetConfig::new(2, 32, vec![16, 32, 32, 32, 32, 32], vec![16, 16]));
/// assert_eq!(config.init(&Device::flex())?.num_params(), 244_323); // as MONAI's
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct VoxelMorphUNetConfig {
    /// Channels of the concatenated pair (moving, then fixed): even.
    pub in_channels: usize,
    /// Channels of the U-Net's output (the top decoder convolution).
    pub unet_out_channels: usize,
    /// Channels of each level's encoder and decoder convolutions, in pairs from the top; at
    /// least one pair.
    pub channels: Vec<usize>,
    /// Channels of the convolutions after the U-Net (before the last one, which makes the 3
    /// components of the field).
    pub final_conv_channels: Vec<usize>,
    /// The activation of the convolutions after the U-Net (not the last one).
    #[config(default = "leaky()")]
    pub final_conv_act: ActConfig,
    /// Kernel size of the encoder, bottom and final convolutions, odd.
    #[config(default = 3)]
    pub kernel_size: usize,
    /// Kernel size of the decoder convolutions, odd.
    #[config(default = 3)]
    pub up_kernel_size: usize,
    /// The activation after each U-Net convolution.
    #[config(default = "leaky()")]
    pub act: ActConfig,
    /// The normalization after each convolution (the last one included, as MONAI's).
    #[config(default = "NormConfig::None")]
    pub norm: NormConfig,
    /// Dropout probability, in `[0, 1)`.
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Whether convolutions have a bias.
    #[config(default = true)]
    pub bias: bool,
    /// Max pooling (kernel 2, stride 2) before each encoder convolution below the top;
    /// `false`: those convolutions have stride 2 instead.
    #[config(default = true)]
    pub use_maxpool: bool,
    /// Order of normalization (`N`), dropout (`D`) and activation (`A`).
    #[config(default = "String::from(\"NDA\")")]
    pub adn_ordering: String,
}

impl VoxelMorphUNetConfig {
    /// The backbone of MONAI's `VoxelMorph()` (and of the VoxelMorph paper): two channels in,
    /// `channels=(16, 32, 32, 32, 32, 32)`, `unet_out_channels=32`, `final_conv_channels=(16,
    /// 16)`; 244,323 parameters.
    ///
    /// ```
    /// let config = medburn_models::voxelmorph::VoxelMorphUNetConfig::voxelmorph();
    /// assert_eq!((config.in_channels, config.levels()), (2, 3));
    /// ```
    pub fn voxelmorph() -> Self {
        Self::new(2, 32, vec![16, 32, 32, 32, 32, 32], vec![16, 16])
    }

    /// Levels of the U-Net: pairs of `channels`, each a factor 2 of downsampling.
    ///
    /// ```
    /// use medburn_models::voxelmorph::VoxelMorphUNetConfig;
    /// assert_eq!(VoxelMorphUNetConfig::new(2, 8, vec![4, 8, 8, 8], vec![]).levels(), 2);
    /// ```
    pub fn levels(&self) -> usize {
        self.channels.len() / 2
    }

    /// Checks the configuration as MONAI does (and a little more: no zero channel, odd kernel
    /// sizes, dropout in `[0, 1)`, a valid ordering).
    ///
    /// ```
    /// use medburn_models::voxelmorph::VoxelMorphUNetConfig;
    /// assert!(VoxelMorphUNetConfig::voxelmorph().validate().is_ok());
    /// assert!(VoxelMorphUNetConfig::new(3, 8, vec![4, 8], vec![]).validate().is_err()); // odd in_channels
    /// assert!(VoxelMorphUNetConfig::new(2, 8, vec![4, 8, 8], vec![]).validate().is_err()); // not in pairs
    /// assert!(VoxelMorphUNetConfig::new(2, 8, vec![4, 8], vec![]).with_kernel_size(4).validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |m: String| Err(ModelError::InvalidConfig(m));
        if self.in_channels == 0 || !self.in_channels.is_multiple_of(2) {
            return bad(format!(
                "`in_channels` counts the moving and the fixed image's channels: it must be \
                 even and positive, got {}",
                self.in_channels
            ));
        }
        if self.channels.len() < 2 || !self.channels.len().is_multiple_of(2) {
            return bad(format!(
                "`channels` comes in pairs (down, up) per level, at least one pair, got {:?}",
                self.channels
            ));
        }
        if self.unet_out_channels == 0
            || self.channels.contains(&0)
            || self.final_conv_channels.contains(&0)
        {
            return bad("channel counts must be positive".into());
        }
        for (name, k) in [
            ("kernel_size", self.kernel_size),
            ("up_kernel_size", self.up_kernel_size),
        ] {
            if k % 2 == 0 {
                return bad(format!("`{name}` must be odd (same padding), got {k}"));
            }
        }
        // The blocks check the rest (ordering, dropout, norm, act).
        self.conv(self.in_channels, self.channels[0], 1, self.kernel_size)
            .validate()?;
        self.final_conv(1, 1, false).validate()
    }

    /// Builds the network on `device`, with weights initialized as PyTorch does (Kaiming
    /// uniform with `a = sqrt(5)`, bias uniform in `±1/sqrt(fan_in)`).
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::voxelmorph::VoxelMorphUNetConfig;
    ///
    /// let device = Device::flex();
    /// let net = VoxelMorphUNetConfig::new(2, 8, vec![4, 8, 8, 8], vec![4]).init(&device)?;
    /// let field = net.try_forward(Tensor::<5>::zeros([1, 2, 8, 4, 12], &device))?;
    /// assert_eq!(field.dims(), [1, 3, 8, 4, 12]);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn init(&self, device: &Device) -> Result<VoxelMorphUNet, ModelError> {
        self.validate()?;
        let levels = self.levels();
        let mut down = Vec::with_capacity(levels);
        let mut up = Vec::with_capacity(levels);
        for i in 0..levels {
            let (c_down, c_up) = (self.channels[2 * i], self.channels[2 * i + 1]);
            let is_top = i == 0;
            // What the level takes and what its decoder hands back to the level above.
            let (inc, outc) = if is_top {
                (self.in_channels, self.unet_out_channels)
            } else {
                (self.channels[2 * i - 2], self.channels[2 * i - 1])
            };
            down.push(self.down_layer(inc, c_down, is_top, device)?);
            up.push(VoxelMorphUp {
                conv: self
                    .conv(c_down + c_up, outc, 1, self.up_kernel_size)
                    .init(device)?,
                upsample: !is_top,
            });
        }
        let (c_down, c_up) = (self.channels[2 * levels - 2], self.channels[2 * levels - 1]);
        let bottom = self.down_layer(c_down, c_up, false, device)?;
        let mut final_convs = Vec::with_capacity(self.final_conv_channels.len() + 1);
        let mut inc = self.unet_out_channels;
        for &c in &self.final_conv_channels {
            final_convs.push(self.final_conv(inc, c, true).init(device)?);
            inc = c;
        }
        final_convs.push(self.final_conv(inc, 3, false).init(device)?);
        Ok(VoxelMorphUNet {
            down,
            bottom,
            up,
            final_convs,
        })
    }

    /// A U-Net convolution block.
    fn conv(&self, inc: usize, outc: usize, stride: usize, kernel: usize) -> ConvolutionConfig {
        ConvolutionConfig::new(inc, outc)
            .with_strides([stride; 3])
            .with_kernel_size([kernel; 3])
            .with_act(self.act.clone())
            .with_norm(self.norm.clone())
            .with_dropout(self.dropout)
            .with_bias(self.bias)
            .with_adn_ordering(self.adn_ordering.clone())
    }

    /// MONAI's `_get_down_layer`: max pooling then a convolution below the top (or a strided
    /// convolution without `use_maxpool`), a convolution alone at the top.
    fn down_layer(
        &self,
        inc: usize,
        outc: usize,
        is_top: bool,
        device: &Device,
    ) -> Result<VoxelMorphDown, ModelError> {
        let maxpool = self.use_maxpool && !is_top;
        let stride = if self.use_maxpool || is_top { 1 } else { 2 };
        Ok(VoxelMorphDown {
            maxpool,
            conv: self
                .conv(inc, outc, stride, self.kernel_size)
                .init(device)?,
        })
    }

    /// A convolution after the U-Net: `final_conv_act` (`act`), or no activation (the last).
    fn final_conv(&self, inc: usize, outc: usize, act: bool) -> ConvolutionConfig {
        self.conv(inc, outc, 1, self.kernel_size).with_act(if act {
            self.final_conv_act.clone()
        } else {
            ActConfig::None
        })
    }
}

/// The configuration of a [`VoxelMorph`] network, named as the arguments of MONAI's
/// `monai.networks.nets.VoxelMorph` (`spatial_dims=3`) with its defaults: the paper's backbone
/// ([`VoxelMorphUNetConfig::voxelmorph`]), seven scaling-and-squaring steps, integration at full
/// resolution.
///
/// ```
/// use burn::config::Config;
/// use burn::module::Module;
/// use burn::tensor::Device;
/// use medburn_models::voxelmorph::VoxelMorphConfig;
///
/// // MONAI: VoxelMorph() (its default backbone, integration_steps=7, half_res=False)
/// let config = VoxelMorphConfig::new();
/// assert_eq!((config.integration_steps, config.half_res), (7, false));
/// let model = config.init(&Device::flex())?;
/// assert_eq!(model.num_params(), 244_323);
/// let json = serde_json::to_string(&config).unwrap();
/// assert_eq!(serde_json::from_str::<VoxelMorphConfig>(&json).unwrap(), config);
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct VoxelMorphConfig {
    /// The backbone, which maps the concatenated pair to a velocity (or displacement) field.
    #[config(default = "VoxelMorphUNetConfig::voxelmorph()")]
    pub backbone: VoxelMorphUNetConfig,
    /// Scaling-and-squaring steps that integrate the backbone's stationary velocity field into
    /// a displacement field; 0: the backbone's output is the displacement (not diffeomorphic).
    #[config(default = 7)]
    pub integration_steps: usize,
    /// Integrate at half resolution (the field downsampled before, upsampled after).
    #[config(default = false)]
    pub half_res: bool,
}

impl VoxelMorphConfig {
    /// Checks the backbone and the number of integration steps.
    ///
    /// ```
    /// use medburn_models::voxelmorph::VoxelMorphConfig;
    /// assert!(VoxelMorphConfig::new().validate().is_ok());
    /// assert!(VoxelMorphConfig::new().with_integration_steps(31).validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), ModelError> {
        self.backbone.validate()?;
        if self.integration_steps > MAX_INTEGRATION_STEPS {
            return Err(ModelError::InvalidConfig(format!(
                "`integration_steps` divides the velocity by 2^steps: at most \
                 {MAX_INTEGRATION_STEPS}, got {}",
                self.integration_steps
            )));
        }
        Ok(())
    }

    /// Builds the network on `device` (the backbone as [`VoxelMorphUNetConfig::init`]).
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::voxelmorph::{VoxelMorphConfig, VoxelMorphUNetConfig};
    ///
    /// let device = Device::flex();
    /// let backbone = VoxelMorphUNetConfig::new(2, 8, vec![4, 8], vec![]);
    /// let model = VoxelMorphConfig::new().with_backbone(backbone).with_integration_steps(3).init(&device)?;
    /// let image = Tensor::<5>::zeros([1, 1, 4, 6, 8], &device);
    /// let (warped, ddf) = model.try_forward(image.clone(), image)?;
    /// assert_eq!((warped.dims(), ddf.dims()), ([1, 1, 4, 6, 8], [1, 3, 4, 6, 8]));
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn init(&self, device: &Device) -> Result<VoxelMorph, ModelError> {
        self.validate()?;
        Ok(VoxelMorph {
            backbone: self.backbone.init(device)?,
            integration_steps: self.integration_steps,
            half_res: self.half_res,
        })
    }
}
