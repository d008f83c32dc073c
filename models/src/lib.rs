//! 3D networks for medical images, layer for layer as MONAI's, with MONAI's weights loadable
//! from safetensors:
//!
//! - [`blocks`]: MONAI's building blocks (`monai.networks.blocks`) with their own
//!   configurations: [`blocks::ConvolutionConfig`], [`blocks::TransposedConvolutionConfig`],
//!   [`blocks::ResidualUnitConfig`], [`blocks::AdnConfig`], and the `norm` / `act` choices
//!   [`blocks::NormConfig`], [`blocks::ActConfig`];
//! - [`UNet3d`] ([`UNet3dConfig`]): `monai.networks.nets.UNet`;
//! - [`ResNet3d`] ([`ResNetConfig`], `resnet10` ... `resnet200`): `monai.networks.nets.ResNet`;
//! - [`Regressor`] ([`RegressorConfig`]): `monai.networks.nets.Regressor`;
//! - [`VoxelMorph`] ([`VoxelMorphConfig`], its backbone [`VoxelMorphUNet`]
//!   ([`VoxelMorphUNetConfig`])): `monai.networks.nets.VoxelMorph` with `VoxelMorphUNet`,
//!   `DVF2DDF` and `Warp` (see [`voxelmorph`] for its displacement's convention);
//! - [`AutoEncoder`] ([`AutoEncoderConfig`]) and [`VarAutoEncoder`] ([`VarAutoEncoderConfig`],
//!   [`kl_divergence`]): `monai.networks.nets.AutoEncoder` and `VarAutoEncoder` (see
//!   [`autoencoder`]);
//! - [`SuperResolution3d`] ([`SuperResolution3dConfig`]): B-spline upsampling by a factor per
//!   axis plus a learned residual (sub-pixel or transposed convolution);
//! - [`load_monai_safetensors`]: a MONAI `state_dict` into any of them ([`MonaiKeys`] maps the
//!   keys);
//! - [`summary`]: the layer table of any Burn module (serde-serializable).
//!
//! Every configuration takes MONAI's argument names and defaults (`spatial_dims=3`), so each
//! network has MONAI's parameter count and, with MONAI's weights, its outputs
//! (`models/tests/` checks both against fixtures made by MONAI). The layers run on medburn's
//! CPU kernels ([`nn`]) and on Burn's elsewhere.
//!
//! ```
//! use burn::module::Module;
//! use burn::tensor::{Device, Tensor};
//! use medburn_models::{summary, ResNetConfig, UNet3dConfig};
//!
//! let device = Device::flex();
//! let config = UNet3dConfig::new(1, 2, vec![16, 32, 64, 128], vec![2, 2, 2]).with_num_res_units(2);
//! let model = config.init(&device)?;
//! assert_eq!(model.num_params(), 1_186_765);
//! // Weights trained with MONAI: `safetensors.torch.save_file(net.state_dict(), path)`, then
//! // let model = medburn_models::load_monai_safetensors(model, path)?;
//! let logits = model.forward(Tensor::<5>::zeros([1, 1, 16, 16, 16], &device));
//! assert_eq!(logits.dims(), [1, 2, 16, 16, 16]);
//!
//! // MONAI: resnet18(spatial_dims=3, n_input_channels=1, num_classes=1)
//! let resnet = ResNetConfig::resnet18(1, 1).init(&device)?;
//! assert_eq!(summary(&resnet).total_params, 33_161_409);
//! # Ok::<(), medburn_models::ModelError>(())
//! ```

#![warn(missing_docs)]

pub mod autoencoder;
pub mod blocks;
mod error;
mod monai_weights;
pub mod nn;
pub mod regressor;
pub mod resnet;
mod summary;
pub mod superres;
pub mod unet;
pub mod voxelmorph;

pub use autoencoder::{
    kl_divergence, AutoEncoder, AutoEncoderConfig, VarAutoEncoder, VarAutoEncoderConfig,
    VarAutoEncoderOutput,
};
pub use blocks::{Adn, Convolution, ResidualUnit, TransposedConvolution};
pub use error::ModelError;
pub use monai_weights::{
    is_ignored_monai_key, load_monai_safetensors, monai_key_map, MonaiKeyMap, MonaiKeys,
};
pub use regressor::{Regressor, RegressorConfig};
pub use resnet::{
    ResNet3d, ResNetBlock, ResNetBlockType, ResNetBottleneck, ResNetConfig, ShortcutType,
};
pub use summary::{summary, LayerSummary, ModelSummary, TensorSummary};
pub use superres::{SuperResolution3d, SuperResolution3dConfig, Upsampling};
pub use unet::{DownLayer, UNet3d, UNet3dConfig, UpLayer};
pub use voxelmorph::{VoxelMorph, VoxelMorphConfig, VoxelMorphUNet, VoxelMorphUNetConfig};
