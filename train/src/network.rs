//! The network a configuration describes: MONAI's U-Net for dense outputs, MONAI's ResNets and
//! `Regressor` for one vector per case ([`VectorNet`]), MONAI's VoxelMorph for a displacement
//! field per pair, built with the channel and class counts (and, for the `Regressor`, the input
//! shape) the data gives.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use medburn_models::{
    ModelError, Regressor, RegressorConfig, ResNet3d, ResNetConfig, ShortcutType, UNet3d,
    UNet3dConfig, VoxelMorph,
};

use crate::config::{ModelConfig, ResNetParams};
use crate::error::{Result, TrainError};

/// MONAI's `UNet(spatial_dims=3, in_channels, out_channels=num_classes, channels, strides,
/// num_res_units, dropout, kernel_size, up_kernel_size)` with instance norm and PReLU,
/// initialized on `device`.
///
/// ```
/// use medburn_train::{build_unet, ModelConfig};
/// let config: ModelConfig = toml::from_str("name = \"unet\"\nchannels = [4, 8]\nstrides = [2]").unwrap();
/// let m = build_unet(&config, 1, 3, &burn::tensor::Device::flex())?;
/// let y = m.forward(burn::tensor::Tensor::zeros([1, 1, 8, 8, 8], &burn::tensor::Device::flex()));
/// assert_eq!(y.dims(), [1, 3, 8, 8, 8]);
/// # Ok::<(), medburn_train::TrainError>(())
/// ```
pub fn build_unet(
    model: &ModelConfig,
    in_channels: usize,
    num_classes: usize,
    device: &Device,
) -> Result<UNet3d> {
    let ModelConfig::UNet(p) = model else {
        return Err(TrainError::Config(format!(
            "model {} is not a U-Net",
            model.name()
        )));
    };
    UNet3dConfig::new(
        in_channels,
        num_classes,
        p.channels.clone(),
        p.strides.clone(),
    )
    .with_num_res_units(p.num_res_units)
    .with_dropout(p.dropout)
    .with_kernel_size(p.kernel_size)
    .with_up_kernel_size(p.up_kernel_size)
    .init(device)
    .map_err(|e| TrainError::Config(format!("model: {e}")))
}

/// The super-resolution network of the configuration for images of `channels` channels,
/// initialized on `device`.
///
/// ```
/// use medburn_train::{build_superres, ModelConfig};
/// let m = build_superres(&ModelConfig::named("superres").unwrap(), 1, &burn::tensor::Device::flex())?;
/// assert_eq!(m.factors, [1, 1, 4]);
/// assert!(build_superres(&ModelConfig::named("unet").unwrap(), 1, &burn::tensor::Device::flex()).is_err());
/// # Ok::<(), medburn_train::TrainError>(())
/// ```
pub fn build_superres(
    model: &ModelConfig,
    channels: usize,
    device: &Device,
) -> Result<medburn_models::SuperResolution3d> {
    let ModelConfig::SuperRes(p) = model else {
        return Err(TrainError::Config(format!(
            "model {} is not a super-resolution network (superres)",
            model.name()
        )));
    };
    p.network(channels)
        .map_err(TrainError::Config)?
        .init(device)
        .map_err(|e| TrainError::Config(format!("model: {e}")))
}

/// MONAI's `VoxelMorph` with the configuration's backbone, for images of `image_channels`
/// channels each (the backbone takes the pair, twice as many), initialized on `device`.
///
/// ```
/// use burn::module::Module;
/// use medburn_train::{build_voxelmorph, ModelConfig};
/// let config = ModelConfig::named("voxelmorph").unwrap();
/// let m = build_voxelmorph(&config, 1, &burn::tensor::Device::flex())?;
/// assert_eq!(m.num_params(), 244_323);
/// assert!(build_voxelmorph(&ModelConfig::named("unet").unwrap(), 1, &burn::tensor::Device::flex()).is_err());
/// # Ok::<(), medburn_train::TrainError>(())
/// ```
pub fn build_voxelmorph(
    model: &ModelConfig,
    image_channels: usize,
    device: &Device,
) -> Result<VoxelMorph> {
    let ModelConfig::VoxelMorph(p) = model else {
        return Err(TrainError::Config(format!(
            "model {} is not a registration network (voxelmorph)",
            model.name()
        )));
    };
    p.network(image_channels)
        .init(device)
        .map_err(|e| TrainError::Config(format!("model: {e}")))
}

/// A network with one output vector per case `[N, K]`: a ResNet or a `Regressor`.
// One value per run: the size difference of the variants costs nothing, and Burn's `Module`
// has no implementation for `Box`.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum VectorNet {
    /// MONAI's `ResNet` (any depth).
    ResNet(ResNet3d),
    /// MONAI's `Regressor`.
    Regressor(Regressor),
}

impl VectorNet {
    /// The outputs `[N, K]` of inputs `[N, C, D, H, W]`, or why the input does not fit.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_train::{build_vector_net, ModelConfig};
    /// let config: ModelConfig = toml::from_str("name = \"regressor\"\nchannels = [4, 8]\nstrides = [2, 2]").unwrap();
    /// let net = build_vector_net(&config, 1, 2, [16, 16, 16], &Device::flex())?;
    /// assert_eq!(net.try_forward(Tensor::zeros([3, 1, 16, 16, 16], &Device::flex()))?.dims(), [3, 2]);
    /// assert!(net.try_forward(Tensor::zeros([1, 1, 8, 16, 16], &Device::flex())).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_forward(&self, x: Tensor<5>) -> std::result::Result<Tensor<2>, ModelError> {
        match self {
            VectorNet::ResNet(n) => n.try_forward(x),
            VectorNet::Regressor(n) => n.try_forward(x),
        }
    }
}

fn resnet_config(
    depth: fn(usize, usize) -> ResNetConfig,
    p: &ResNetParams,
    in_channels: usize,
    outputs: usize,
) -> ResNetConfig {
    depth(in_channels, outputs)
        .with_block_inplanes(p.block_inplanes.to_vec())
        .with_widen_factor(p.widen_factor)
        .with_conv1_t_size(p.conv1_t_size)
        .with_conv1_t_stride(p.conv1_t_stride)
        .with_no_max_pool(p.no_max_pool)
        .with_shortcut_type(if p.shortcut_type == "A" {
            ShortcutType::A
        } else {
            ShortcutType::B
        })
        .with_bias_downsample(p.bias_downsample)
}

/// The vector network `model` names, taking `in_channels` channels (on a `size` grid, which
/// fixes the `Regressor`'s input shape) to `outputs` values per case.
pub fn build_vector_net(
    model: &ModelConfig,
    in_channels: usize,
    outputs: usize,
    size: [usize; 3],
    device: &Device,
) -> Result<VectorNet> {
    let err = |e: ModelError| TrainError::Config(format!("model: {e}"));
    Ok(match model {
        ModelConfig::ResNet10(p) => VectorNet::ResNet(
            resnet_config(ResNetConfig::resnet10, p, in_channels, outputs)
                .init(device)
                .map_err(err)?,
        ),
        ModelConfig::ResNet18(p) => VectorNet::ResNet(
            resnet_config(ResNetConfig::resnet18, p, in_channels, outputs)
                .init(device)
                .map_err(err)?,
        ),
        ModelConfig::ResNet34(p) => VectorNet::ResNet(
            resnet_config(ResNetConfig::resnet34, p, in_channels, outputs)
                .init(device)
                .map_err(err)?,
        ),
        ModelConfig::ResNet50(p) => VectorNet::ResNet(
            resnet_config(ResNetConfig::resnet50, p, in_channels, outputs)
                .init(device)
                .map_err(err)?,
        ),
        ModelConfig::Regressor(p) => {
            let [d, h, w] = medburn_core::ijk_to_dhw(size);
            VectorNet::Regressor(
                RegressorConfig::new(
                    vec![in_channels, d, h, w],
                    vec![outputs],
                    p.channels.clone(),
                    p.strides.clone(),
                )
                .with_kernel_size(p.kernel_size)
                .with_num_res_units(p.num_res_units)
                .with_dropout(p.dropout)
                .with_bias(p.bias)
                .init(device)
                .map_err(err)?,
            )
        }
        ModelConfig::UNet(_)
        | ModelConfig::VoxelMorph(_)
        | ModelConfig::SuperRes(_)
        | ModelConfig::AutoEncoder(_)
        | ModelConfig::Vae(_) => {
            return Err(TrainError::Config(format!(
                "model {} gives dense outputs; this task takes one value per case",
                model.name()
            )))
        }
    })
}

/// The autoencoder of a configuration: MONAI's `AutoEncoder` or `VarAutoEncoder`.
// One network per run, and Burn's `Module` derive takes no `Box`: the size difference of the
// variants (handles, not weights) costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum ReconstructionNet {
    /// `monai.networks.nets.AutoEncoder`.
    AutoEncoder(medburn_models::AutoEncoder),
    /// `monai.networks.nets.VarAutoEncoder`.
    Vae(medburn_models::VarAutoEncoder),
}

/// A reconstruction, and for the VAE the posterior's mean and log-variance `[N, latent]`.
pub type Reconstruction = (Tensor<5>, Option<(Tensor<2>, Tensor<2>)>);

impl ReconstructionNet {
    /// The reconstruction of `x` `[N, C, D, H, W]`: the VAE's through `mu + exp(logvar / 2)
    /// noise` where `noise` `[N, latent]` is given (training), through its mean otherwise.
    pub fn reconstruct(&self, x: Tensor<5>, noise: Option<Tensor<2>>) -> Result<Reconstruction> {
        Ok(match self {
            Self::AutoEncoder(m) => (m.try_forward(x)?, None),
            Self::Vae(m) => {
                m.check_input(x.dims())?;
                let o = match noise {
                    Some(noise) => m.forward_with_noise(x, noise),
                    None => {
                        let (mu, logvar) = m.encode(x);
                        let reconstruction = m.decode(mu.clone());
                        return Ok((reconstruction, Some((mu, logvar))));
                    }
                };
                (o.reconstruction, Some((o.mu, o.logvar)))
            }
        })
    }

    /// The VAE's latent size (`None` for the plain autoencoder).
    pub fn latent_size(&self) -> Option<usize> {
        match self {
            Self::AutoEncoder(_) => None,
            Self::Vae(m) => Some(m.latent_size()),
        }
    }
}

/// The autoencoder the configuration names for volumes of `channels` channels on a `size`
/// grid (i, j, k; the VAE's linear layers are sized for it), initialized on `device`.
///
/// ```
/// use burn::module::Module;
/// use medburn_train::{build_reconstruction_net, ModelConfig};
/// let device = burn::tensor::Device::flex();
/// let m = build_reconstruction_net(&ModelConfig::named("autoencoder").unwrap(), 1, [16; 3], &device)?;
/// assert_eq!(m.num_params(), 388_840);
/// assert!(build_reconstruction_net(&ModelConfig::named("unet").unwrap(), 1, [16; 3], &device).is_err());
/// # Ok::<(), medburn_train::TrainError>(())
/// ```
pub fn build_reconstruction_net(
    model: &ModelConfig,
    channels: usize,
    size: [usize; 3],
    device: &Device,
) -> Result<ReconstructionNet> {
    let err = |e: ModelError| TrainError::Config(format!("model: {e}"));
    match model {
        ModelConfig::AutoEncoder(p) => Ok(ReconstructionNet::AutoEncoder(
            p.network(channels).init(device).map_err(err)?,
        )),
        ModelConfig::Vae(p) => Ok(ReconstructionNet::Vae(
            p.network(channels, medburn_core::ijk_to_dhw(size))
                .init(device)
                .map_err(err)?,
        )),
        other => Err(TrainError::Config(format!(
            "model {} is not an autoencoder (autoencoder, vae)",
            other.name()
        ))),
    }
}
