//! The network a configuration describes.

use medburn_core::Device;
use medburn_models::{UNet3d, UNet3dConfig};

use crate::config::ModelConfig;
use crate::error::{Result, TrainError};

/// MONAI's `UNet(spatial_dims=3, in_channels, out_channels=num_classes, channels, strides,
/// num_res_units, dropout)` with instance norm and PReLU, initialized on `device`.
///
/// ```
/// use medburn_train::{build_unet, ModelConfig};
/// let m = build_unet(&ModelConfig { channels: vec![4, 8], strides: vec![2], ..Default::default() }, 1, 3, &burn::tensor::Device::flex())?;
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
    UNet3dConfig::new(
        in_channels,
        num_classes,
        model.channels.clone(),
        model.strides.clone(),
    )
    .with_num_res_units(model.num_res_units)
    .with_dropout(model.dropout)
    .init(device)
    .map_err(|e| TrainError::Config(format!("model: {e}")))
}
