//! The network of a run, chosen by name (`[model] name = "unet"`), with the parameters of
//! MONAI's constructor of the same name. Input and output channels (and a fixed input shape)
//! come from the data and the task, not from here.

use serde::{Deserialize, Serialize};

/// The network and its parameters, by MONAI's names. In TOML the `name` key picks the
/// variant and the other keys are its fields; a key the network does not take is an error.
///
/// ```
/// use medburn_train::ModelConfig;
/// let m: ModelConfig = toml::from_str("name = \"resnet18\"\nwiden_factor = 0.5").unwrap();
/// assert_eq!(m.name(), "resnet18");
/// assert!(toml::from_str::<ModelConfig>("name = \"resnet18\"\nchannels = [4]").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name")]
pub enum ModelConfig {
    /// MONAI's `UNet` (dense outputs: segmentation).
    #[serde(rename = "unet")]
    UNet(UNetParams),
    /// MONAI's `resnet10` (one value per case).
    #[serde(rename = "resnet10")]
    ResNet10(ResNetParams),
    /// MONAI's `resnet18`.
    #[serde(rename = "resnet18")]
    ResNet18(ResNetParams),
    /// MONAI's `resnet34`.
    #[serde(rename = "resnet34")]
    ResNet34(ResNetParams),
    /// MONAI's `resnet50` (bottleneck blocks).
    #[serde(rename = "resnet50")]
    ResNet50(ResNetParams),
    /// MONAI's `Regressor` (one value per case, fixed input shape).
    #[serde(rename = "regressor")]
    Regressor(RegressorParams),
    /// MONAI's `VoxelMorph` with its `VoxelMorphUNet` backbone (a displacement field per
    /// pair: registration).
    #[serde(rename = "voxelmorph")]
    VoxelMorph(VoxelMorphParams),
    /// medburn's super-resolution network: B-spline upsampling by `factors` plus a learned
    /// residual (super-resolution).
    #[serde(rename = "superres")]
    SuperRes(SuperResParams),
    /// MONAI's `AutoEncoder` (reconstruction).
    #[serde(rename = "autoencoder")]
    AutoEncoder(AutoEncoderParams),
    /// MONAI's `VarAutoEncoder` (reconstruction through a latent code of `latent_size`).
    #[serde(rename = "vae")]
    Vae(VaeParams),
}

/// What a network puts out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// One value per voxel and channel, `[N, K, D, H, W]`.
    Dense,
    /// One vector per case, `[N, K]`.
    Vector,
    /// A displacement field per pair of images, `[N, 3, D, H, W]` (registration).
    Field,
    /// The input's image on a finer grid, `[N, C, D fk, H fj, W fi]` (super-resolution).
    Volume,
    /// The input's image again, through a code (autoencoders).
    Reconstruction,
}

impl ModelConfig {
    /// Every name, as `[model] name` takes it.
    pub const NAMES: [&'static str; 10] = [
        "unet",
        "resnet10",
        "resnet18",
        "resnet34",
        "resnet50",
        "regressor",
        "voxelmorph",
        "superres",
        "autoencoder",
        "vae",
    ];

    /// The network's defaults under `name` (MONAI's defaults; the U-Net's are the main job's).
    ///
    /// ```
    /// use medburn_train::ModelConfig;
    /// assert_eq!(ModelConfig::named("regressor").unwrap().name(), "regressor");
    /// assert!(ModelConfig::named("vgg").unwrap_err().contains("unet"));
    /// ```
    pub fn named(name: &str) -> Result<ModelConfig, String> {
        Ok(match name {
            "unet" => ModelConfig::UNet(UNetParams::default()),
            "resnet10" => ModelConfig::ResNet10(ResNetParams::default()),
            "resnet18" => ModelConfig::ResNet18(ResNetParams::default()),
            "resnet34" => ModelConfig::ResNet34(ResNetParams::default()),
            "resnet50" => ModelConfig::ResNet50(ResNetParams::default()),
            "regressor" => ModelConfig::Regressor(RegressorParams::default()),
            "voxelmorph" => ModelConfig::VoxelMorph(VoxelMorphParams::default()),
            "superres" => ModelConfig::SuperRes(SuperResParams::default()),
            "autoencoder" => ModelConfig::AutoEncoder(AutoEncoderParams::default()),
            "vae" => ModelConfig::Vae(VaeParams::default()),
            other => {
                return Err(format!(
                    "unknown model {other:?} (known: {})",
                    Self::NAMES.join(", ")
                ))
            }
        })
    }

    /// Sets one of the network's fields (`widen_factor=0.5`, `channels=[8, 16]`); the value is
    /// TOML. The name cannot change here.
    ///
    /// ```
    /// let mut m = medburn_train::ModelConfig::named("regressor").unwrap();
    /// m.set("channels=[8, 16]").unwrap();
    /// m.set("strides=[2, 2]").unwrap();
    /// assert!(m.set("widen_factor=2").unwrap_err().contains("widen_factor"));
    /// ```
    pub fn set(&mut self, assignment: &str) -> Result<(), String> {
        let (key, value) =
            super::parse_assignment(assignment).map_err(|m| format!("--set {assignment}: {m}"))?;
        let mut table = match toml::Value::try_from(&*self) {
            Ok(toml::Value::Table(t)) => t,
            _ => return Err("a model configuration is a table".into()),
        };
        if key == "name" {
            return Err("--set name: give the network's name as the command's argument".into());
        }
        table.insert(key.to_string(), value);
        *self = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| format!("--set {assignment}: {}", e.message()))?;
        Ok(())
    }

    /// The name the TOML gives.
    pub fn name(&self) -> &'static str {
        match self {
            ModelConfig::UNet(_) => "unet",
            ModelConfig::ResNet10(_) => "resnet10",
            ModelConfig::ResNet18(_) => "resnet18",
            ModelConfig::ResNet34(_) => "resnet34",
            ModelConfig::ResNet50(_) => "resnet50",
            ModelConfig::Regressor(_) => "regressor",
            ModelConfig::VoxelMorph(_) => "voxelmorph",
            ModelConfig::SuperRes(_) => "superres",
            ModelConfig::AutoEncoder(_) => "autoencoder",
            ModelConfig::Vae(_) => "vae",
        }
    }

    /// Dense (voxel-wise), vector (case-wise) or field (pair-wise) outputs.
    ///
    /// ```
    /// use medburn_train::{ModelConfig, ModelOutput};
    /// assert_eq!(ModelConfig::named("unet").unwrap().output(), ModelOutput::Dense);
    /// assert_eq!(ModelConfig::named("resnet10").unwrap().output(), ModelOutput::Vector);
    /// assert_eq!(ModelConfig::named("voxelmorph").unwrap().output(), ModelOutput::Field);
    /// ```
    pub fn output(&self) -> Output {
        match self {
            ModelConfig::UNet(_) => Output::Dense,
            ModelConfig::VoxelMorph(_) => Output::Field,
            ModelConfig::SuperRes(_) => Output::Volume,
            ModelConfig::AutoEncoder(_) | ModelConfig::Vae(_) => Output::Reconstruction,
            _ => Output::Vector,
        }
    }

    /// Checks what would fail when the network is built, with one clear line.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            ModelConfig::UNet(p) => {
                if p.channels.len() < 2 || p.strides.len() + 1 != p.channels.len() {
                    return Err(
                        "model.channels needs at least 2 levels and one stride fewer than channels"
                            .into(),
                    );
                }
            }
            ModelConfig::Regressor(p) => {
                if p.channels.is_empty() || p.strides.len() != p.channels.len() {
                    return Err("model.channels and model.strides need one value per layer".into());
                }
            }
            ModelConfig::ResNet10(p)
            | ModelConfig::ResNet18(p)
            | ModelConfig::ResNet34(p)
            | ModelConfig::ResNet50(p) => {
                if !(p.widen_factor > 0.0 && p.widen_factor.is_finite()) {
                    return Err("model.widen_factor must be positive".into());
                }
                if !matches!(p.shortcut_type.as_str(), "A" | "B") {
                    return Err(format!(
                        "model.shortcut_type {:?} must be \"A\" or \"B\"",
                        p.shortcut_type
                    ));
                }
            }
            ModelConfig::VoxelMorph(p) => {
                p.network(1).validate().map_err(|e| format!("model: {e}"))?;
            }
            ModelConfig::SuperRes(p) => {
                p.network(1)?
                    .validate()
                    .map_err(|e| format!("model: {e}"))?;
            }
            ModelConfig::AutoEncoder(p) => {
                p.network(1).validate().map_err(|e| format!("model: {e}"))?;
            }
            ModelConfig::Vae(p) => {
                if !(p.kl_weight.is_finite() && p.kl_weight >= 0.0) {
                    return Err("model.kl_weight must be finite and >= 0".into());
                }
            }
        }
        Ok(())
    }
}

/// MONAI `VoxelMorph`'s parameters and those of its `VoxelMorphUNet` backbone (LeakyReLU 0.2,
/// no normalization, "NDA", bias on); the backbone's `in_channels` is twice the images'
/// channels. The defaults are MONAI's `VoxelMorph()`.
///
/// ```
/// use medburn_train::VoxelMorphParams;
/// let p = VoxelMorphParams::default();
/// assert_eq!((p.channels.len(), p.integration_steps), (6, 7));
/// assert_eq!(p.levels(), 3); // every grid size must be divisible by 2^3
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VoxelMorphParams {
    /// Channels of the U-Net's output.
    pub unet_out_channels: usize,
    /// Channels of each level's encoder and decoder convolutions, in pairs from the top.
    pub channels: Vec<usize>,
    /// Channels of the convolutions after the U-Net (before the one to the 3 components).
    pub final_conv_channels: Vec<usize>,
    /// Kernel size of the convolutions.
    pub kernel_size: usize,
    /// Kernel size of the decoder convolutions.
    pub up_kernel_size: usize,
    /// Dropout probability.
    pub dropout: f64,
    /// Max pooling down (`false`: strided convolutions).
    pub use_maxpool: bool,
    /// Scaling-and-squaring steps (0: the network gives the displacement directly).
    pub integration_steps: usize,
    /// Integrate at half resolution.
    pub half_res: bool,
}

impl Default for VoxelMorphParams {
    fn default() -> Self {
        VoxelMorphParams {
            unet_out_channels: 32,
            channels: vec![16, 32, 32, 32, 32, 32],
            final_conv_channels: vec![16, 16],
            kernel_size: 3,
            up_kernel_size: 3,
            dropout: 0.0,
            use_maxpool: true,
            integration_steps: 7,
            half_res: false,
        }
    }
}

impl VoxelMorphParams {
    /// The network's configuration for images of `image_channels` channels each.
    ///
    /// ```
    /// let c = medburn_train::VoxelMorphParams::default().network(1);
    /// assert_eq!(c, medburn_models::VoxelMorphConfig::new());
    /// ```
    pub fn network(&self, image_channels: usize) -> medburn_models::VoxelMorphConfig {
        let backbone = medburn_models::VoxelMorphUNetConfig::new(
            2 * image_channels,
            self.unet_out_channels,
            self.channels.clone(),
            self.final_conv_channels.clone(),
        )
        .with_kernel_size(self.kernel_size)
        .with_up_kernel_size(self.up_kernel_size)
        .with_dropout(self.dropout)
        .with_use_maxpool(self.use_maxpool);
        medburn_models::VoxelMorphConfig::new()
            .with_backbone(backbone)
            .with_integration_steps(self.integration_steps)
            .with_half_res(self.half_res)
    }

    /// Levels of the U-Net: each halves the grid, so every size must be divisible by
    /// `2^levels`.
    pub fn levels(&self) -> usize {
        self.channels.len() / 2
    }
}

/// MONAI `UNet`'s parameters (with instance norm and PReLU, "NDA", bias on).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UNetParams {
    /// Feature channels per level.
    pub channels: Vec<usize>,
    /// Downsampling stride between levels (one fewer than `channels`).
    pub strides: Vec<usize>,
    /// Residual units per level (0: plain convolutions).
    pub num_res_units: usize,
    /// Dropout probability.
    pub dropout: f64,
    /// Kernel size of the convolutions.
    pub kernel_size: usize,
    /// Kernel size of the transposed convolutions.
    pub up_kernel_size: usize,
}

impl Default for UNetParams {
    fn default() -> Self {
        UNetParams {
            channels: vec![16, 32, 64, 128],
            strides: vec![2, 2, 2],
            num_res_units: 2,
            dropout: 0.0,
            kernel_size: 3,
            up_kernel_size: 3,
        }
    }
}

/// MONAI `ResNet`'s parameters (`resnet10` ... `resnet50` fix the blocks and layers).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResNetParams {
    /// Features of the four stages before `widen_factor` (MONAI's `get_inplanes()`).
    pub block_inplanes: [usize; 4],
    /// Multiplies every stage's features.
    pub widen_factor: f64,
    /// Kernel size of the stem convolution.
    pub conv1_t_size: usize,
    /// Stride of the stem convolution.
    pub conv1_t_stride: usize,
    /// Leave out the stem's max pooling.
    pub no_max_pool: bool,
    /// `"A"`: strided subsampling and zero channels on the shortcut; `"B"`: a 1x1x1 convolution.
    pub shortcut_type: String,
    /// Bias on the shortcut convolution.
    pub bias_downsample: bool,
}

impl Default for ResNetParams {
    fn default() -> Self {
        ResNetParams {
            block_inplanes: [64, 128, 256, 512],
            widen_factor: 1.0,
            conv1_t_size: 7,
            conv1_t_stride: 1,
            no_max_pool: false,
            shortcut_type: "B".into(),
            bias_downsample: true,
        }
    }
}

/// MONAI `Regressor`'s parameters (instance norm, PReLU); its input shape is the prepared grid.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegressorParams {
    /// Channels of each layer.
    pub channels: Vec<usize>,
    /// Stride of each layer.
    pub strides: Vec<usize>,
    /// Kernel size of the convolutions.
    pub kernel_size: usize,
    /// Convolutions per residual unit (0: plain convolutions).
    pub num_res_units: usize,
    /// Dropout probability.
    pub dropout: f64,
    /// Bias on the convolutions.
    pub bias: bool,
}

impl Default for RegressorParams {
    fn default() -> Self {
        RegressorParams {
            channels: vec![16, 32, 64, 128],
            strides: vec![2, 2, 2, 2],
            kernel_size: 3,
            num_res_units: 2,
            dropout: 0.0,
            bias: true,
        }
    }
}

/// The super-resolution network's parameters ([`medburn_models::SuperResolution3dConfig`]):
/// the upsampling `factors` per image axis i, j, k (`[1, 1, 4]`: slices 4 times thinner), the
/// features and residual units at the low resolution, and the upsampling layer (`"subpixel"`
/// or `"transposed"`).
///
/// ```
/// let p = medburn_train::SuperResParams::default();
/// assert_eq!(p.factors, [1, 1, 4]);
/// assert_eq!(p.network(1).unwrap().factors, [1, 1, 4]);
/// assert!(medburn_train::SuperResParams { upsampling: "bicubic".into(), ..p }.network(1).is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SuperResParams {
    /// Upsampling factor of each image axis i, j, k.
    pub factors: [usize; 3],
    /// Channels of the low-resolution convolutions.
    pub features: usize,
    /// Residual units after the first convolution.
    pub num_res_units: usize,
    /// `"subpixel"` (a convolution and the pixel shuffle) or `"transposed"`.
    pub upsampling: String,
}

impl Default for SuperResParams {
    fn default() -> Self {
        SuperResParams {
            factors: [1, 1, 4],
            features: 16,
            num_res_units: 3,
            upsampling: "subpixel".into(),
        }
    }
}

impl SuperResParams {
    /// The network's configuration for images of `channels` channels.
    pub fn network(
        &self,
        channels: usize,
    ) -> Result<medburn_models::SuperResolution3dConfig, String> {
        let upsampling = match self.upsampling.as_str() {
            "subpixel" => medburn_models::Upsampling::Subpixel,
            "transposed" => medburn_models::Upsampling::Transposed,
            other => {
                return Err(format!(
                    "model.upsampling {other:?} must be \"subpixel\" or \"transposed\""
                ))
            }
        };
        Ok(medburn_models::SuperResolution3dConfig::new(self.factors)
            .with_channels(channels)
            .with_features(self.features)
            .with_num_res_units(self.num_res_units)
            .with_upsampling(upsampling))
    }
}

/// MONAI `AutoEncoder`'s parameters (PReLU, instance norm; the defaults are the issue's
/// `AutoEncoder(channels=(16, 32, 64), strides=(2, 2, 2), num_res_units=2)`).
///
/// ```
/// use burn::module::Module;
/// let c = medburn_train::AutoEncoderParams::default().network(1);
/// assert_eq!(c.init(&burn::tensor::Device::flex()).unwrap().num_params(), 388_840);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AutoEncoderParams {
    /// Output channels of each encoder layer.
    pub channels: Vec<usize>,
    /// Stride of each encoder layer.
    pub strides: Vec<usize>,
    /// Convolutions per residual unit (0: plain convolution blocks).
    pub num_res_units: usize,
}

impl Default for AutoEncoderParams {
    fn default() -> Self {
        AutoEncoderParams {
            channels: vec![16, 32, 64],
            strides: vec![2, 2, 2],
            num_res_units: 2,
        }
    }
}

impl AutoEncoderParams {
    /// The network's configuration for images of `channels` channels (in and out).
    pub fn network(&self, channels: usize) -> medburn_models::AutoEncoderConfig {
        medburn_models::AutoEncoderConfig::new(
            channels,
            channels,
            self.channels.clone(),
            self.strides.clone(),
        )
        .with_num_res_units(self.num_res_units)
    }
}

/// MONAI `VarAutoEncoder`'s parameters, and the weight of the KL term in the loss. No sigmoid
/// on the output: the volumes are z-scored, not in (0, 1).
///
/// ```
/// let p = medburn_train::VaeParams::default();
/// assert_eq!((p.latent_size, p.kl_weight), (64, 1e-3));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VaeParams {
    /// Size of the latent code.
    pub latent_size: usize,
    /// Output channels of each encoder layer.
    pub channels: Vec<usize>,
    /// Stride of each encoder layer.
    pub strides: Vec<usize>,
    /// Convolutions per residual unit.
    pub num_res_units: usize,
    /// Weight of the KL divergence (per case, summed over the code) beside the reconstruction
    /// loss (mean over voxels).
    pub kl_weight: f64,
}

impl Default for VaeParams {
    fn default() -> Self {
        VaeParams {
            latent_size: 64,
            channels: vec![16, 32, 64],
            strides: vec![2, 2, 2],
            num_res_units: 2,
            kl_weight: 1e-3,
        }
    }
}

impl VaeParams {
    /// The network's configuration for volumes of `channels` channels on a `[D, H, W]` grid.
    pub fn network(
        &self,
        channels: usize,
        dhw: [usize; 3],
    ) -> medburn_models::VarAutoEncoderConfig {
        medburn_models::VarAutoEncoderConfig::new(
            vec![channels, dhw[0], dhw[1], dhw[2]],
            channels,
            self.latent_size,
            self.channels.clone(),
            self.strides.clone(),
        )
        .with_num_res_units(self.num_res_units)
        .with_use_sigmoid(false)
        .with_use_mean_at_inference(true)
    }
}
