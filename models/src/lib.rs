//! 3D networks for medical images: the U-Net of MONAI (`monai.networks.nets.UNet`), layer for
//! layer, with MONAI's weights loadable from safetensors.
//!
//! ```
//! use burn::module::Module;
//! use burn::tensor::{Device, Tensor};
//! use medburn_models::UNet3dConfig;
//!
//! let device = Device::flex();
//! let config = UNet3dConfig::new(1, 2, vec![16, 32, 64, 128], vec![2, 2, 2]).with_num_res_units(2);
//! let model = config.init(&device)?;
//! assert_eq!(model.num_params(), 1_186_765);
//! // Weights trained with MONAI: `safetensors.torch.save_file(net.state_dict(), path)`, then
//! // let model = medburn_models::load_monai_safetensors(model, path)?;
//! let logits = model.forward(Tensor::<5>::zeros([1, 1, 16, 16, 16], &device));
//! assert_eq!(logits.dims(), [1, 2, 16, 16, 16]);
//! # Ok::<(), medburn_models::ModelError>(())
//! ```

mod error;
mod monai_weights;
pub mod nn;
pub mod unet;

pub use error::ModelError;
pub use monai_weights::{load_monai_safetensors, monai_key_map};
pub use unet::{
    Adn, Convolution, DownLayer, ResidualUnit, TransposedConvolution, UNet3d, UNet3dConfig, UpLayer,
};
