//! [`UNet3dConfig`]: the arguments of MONAI's `UNet(spatial_dims=3, ...)`.

use burn::config::Config;
use burn::nn::conv::{Conv3dConfig, ConvTranspose3dConfig};
use burn::nn::{DropoutConfig, InstanceNormConfig, PReluConfig, PaddingConfig3d};
use burn::tensor::Device;

use super::{Adn, Convolution, DownLayer, ResidualUnit, TransposedConvolution, UNet3d, UpLayer};
use crate::ModelError;

/// The configuration of a [`UNet3d`], named as the arguments of MONAI's
/// `monai.networks.nets.UNet` with `spatial_dims=3`, with MONAI's defaults: instance
/// normalization without affine (MONAI's `Norm.INSTANCE`), PReLU with one slope starting
/// at 0.25 (`Act.PRELU`), "NDA" ordering, bias on.
///
/// Kernel sizes and strides are isotropic (one number per convolution; MONAI also takes one
/// per axis). Serialized with serde like every Burn `Config` (all fields, JSON by
/// [`Config::save`]).
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
/// assert_eq!(back.channels, config.channels);
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
    /// Whether instance normalization has a learned scale and shift (MONAI: `affine`,
    /// default false; `norm=("instance", {"affine": True})`).
    #[config(default = false)]
    pub norm_affine: bool,
    /// Epsilon of instance normalization.
    #[config(default = 1e-5)]
    pub norm_epsilon: f64,
    /// Initial PReLU slope.
    #[config(default = 0.25)]
    pub prelu_init: f64,
}

impl UNet3dConfig {
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
        if !(0.0..1.0).contains(&self.dropout) {
            return bad(format!("`dropout` must be in [0, 1), got {}", self.dropout));
        }
        if !self.norm_epsilon.is_finite() || self.norm_epsilon <= 0.0 {
            return bad(format!(
                "`norm_epsilon` must be positive, got {}",
                self.norm_epsilon
            ));
        }
        let ordering = self.adn_ordering.to_uppercase();
        for (i, c) in ordering.chars().enumerate() {
            if !"NDA".contains(c) || ordering.chars().take(i).any(|d| d == c) {
                return bad(format!(
                    "`adn_ordering` takes each of N, D, A at most once, got {:?}",
                    self.adn_ordering
                ));
            }
        }
        Ok(())
    }

    /// Builds the network on `device`, with weights initialized as PyTorch does (Kaiming
    /// uniform with `a = sqrt(5)`, bias uniform in `±1/sqrt(fan_in)`), PReLU slopes at
    /// [`prelu_init`](Self::prelu_init), affine norms at (1, 0).
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
            down.push(self.down_layer(inc, c, s, device));
            up.push(self.up_layer(upc, outc, s, i == 0, device));
        }
        let bottom = self.down_layer(self.channels[levels - 1], self.channels[levels], 1, device);
        Ok(UNet3d { down, bottom, up })
    }

    fn adn(&self, channels: usize, device: &Device) -> Adn {
        let mut ordering = String::new();
        let mut norm = None;
        let mut dropout = None;
        let mut act = None;
        for c in self.adn_ordering.to_uppercase().chars() {
            match c {
                'N' => {
                    norm = Some(
                        InstanceNormConfig::new(channels)
                            .with_epsilon(self.norm_epsilon)
                            .with_affine(self.norm_affine)
                            .init(device)
                            .into(),
                    );
                }
                'D' if self.dropout > 0.0 => {
                    dropout = Some(DropoutConfig::new(self.dropout).init())
                }
                'A' => {
                    act = Some(
                        PReluConfig::new()
                            .with_alpha(self.prelu_init)
                            .init(device)
                            .into(),
                    )
                }
                _ => continue,
            }
            ordering.push(c);
        }
        Adn {
            norm,
            dropout,
            act,
            ordering,
        }
    }

    fn conv(&self, inc: usize, outc: usize, stride: usize, kernel: usize) -> Conv3dConfig {
        let p = (kernel - 1) / 2;
        Conv3dConfig::new([inc, outc], [kernel; 3])
            .with_stride([stride; 3])
            .with_padding(PaddingConfig3d::Explicit(p, p, p))
            .with_bias(self.bias)
    }

    fn convolution(
        &self,
        inc: usize,
        outc: usize,
        stride: usize,
        conv_only: bool,
        device: &Device,
    ) -> Convolution {
        Convolution {
            conv: self
                .conv(inc, outc, stride, self.kernel_size)
                .init(device)
                .into(),
            adn: (!conv_only).then(|| self.adn(outc, device)),
        }
    }

    fn residual_unit(
        &self,
        inc: usize,
        outc: usize,
        stride: usize,
        subunits: usize,
        last_conv_only: bool,
        device: &Device,
    ) -> ResidualUnit {
        let subunits = subunits.max(1);
        let units = (0..subunits)
            .map(|i| {
                let (cin, s) = if i == 0 { (inc, stride) } else { (outc, 1) };
                self.convolution(cin, outc, s, last_conv_only && i + 1 == subunits, device)
            })
            .collect();
        let residual = if stride != 1 {
            Some(
                self.conv(inc, outc, stride, self.kernel_size)
                    .init(device)
                    .into(),
            )
        } else if inc != outc {
            Some(self.conv(inc, outc, 1, 1).init(device).into())
        } else {
            None
        };
        ResidualUnit { units, residual }
    }

    fn down_layer(&self, inc: usize, outc: usize, stride: usize, device: &Device) -> DownLayer {
        if self.num_res_units > 0 {
            DownLayer::Residual(self.residual_unit(
                inc,
                outc,
                stride,
                self.num_res_units,
                false,
                device,
            ))
        } else {
            DownLayer::Plain(self.convolution(inc, outc, stride, false, device))
        }
    }

    fn up_layer(
        &self,
        inc: usize,
        outc: usize,
        stride: usize,
        is_top: bool,
        device: &Device,
    ) -> UpLayer {
        let k = self.up_kernel_size;
        let p = (k - 1) / 2;
        let conv = ConvTranspose3dConfig::new([inc, outc], [k; 3])
            .with_stride([stride; 3])
            .with_padding([p; 3])
            .with_padding_out([stride - 1; 3])
            .with_bias(self.bias)
            .init(device)
            .into();
        let conv_only = is_top && self.num_res_units == 0;
        let upsample = TransposedConvolution {
            conv,
            adn: (!conv_only).then(|| self.adn(outc, device)),
        };
        let residual =
            (self.num_res_units > 0).then(|| self.residual_unit(outc, outc, 1, 1, is_top, device));
        UpLayer { upsample, residual }
    }
}
