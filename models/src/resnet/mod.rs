//! MONAI's 3D ResNet (`monai.networks.nets.ResNet`, `spatial_dims=3`), layer for layer: the
//! stem (a `conv1_t_size` convolution, batch norm, ReLU, max pooling), four layers of residual
//! blocks (strides 1, 2, 2, 2), global average pooling and a linear layer.
//!
//! The field names are MONAI's attribute names (`conv1`, `bn1`, `layer1` ... `layer4`, `fc`),
//! so a MONAI key reads as the Burn path with the block's variant inserted
//! (`layer1.0.conv1.weight` is `layer1.0.Basic.conv1.weight`); [`crate::MonaiKeys`] gives the
//! whole map and [`crate::load_monai_safetensors`] loads MONAI's (and MedicalNet's, once
//! saved as safetensors) weights.

mod block;
mod config;

pub use block::{
    ResNetBlock, ResNetBottleneck, ResNetDownsample, ResNetLayerBlock, ShortcutA, ShortcutB,
};
pub use config::{ResNetBlockType, ResNetConfig, ShortcutType};

use burn::module::Module;
use burn::nn::{BatchNorm, Linear};
use burn::tensor::activation::relu;
use burn::tensor::Tensor;
use medburn_ops::{max_pool3d, Pool3dOptions};

use crate::error::check_input_shape;
use crate::monai_weights::{MonaiKeyMap, MonaiKeys};
use crate::nn::Conv3d;
use crate::ModelError;

/// MONAI's 3D ResNet, for classification (`fc` to `num_classes` logits) or as a feature
/// extractor (`feed_forward=false`: the globally pooled features of `layer4`). Build it with
/// [`ResNetConfig::init`] (or [`ResNetConfig::resnet18`] and the other depths).
///
/// Batch norms use batch statistics while training on an autodiff device and their running
/// statistics otherwise; `model.valid()` gives the inference model, as PyTorch's `eval()`.
///
/// Input `[N, n_input_channels, D, H, W]`, any size; output `[N, num_classes]`.
///
/// ```
/// use burn::module::Module;
/// use burn::tensor::{Device, Distribution, Tensor};
/// use medburn_models::ResNetConfig;
///
/// let device = Device::flex().autodiff();
/// let model = ResNetConfig::resnet18(1, 2).with_widen_factor(0.125).init(&device)?;
/// let x = Tensor::<5>::random([2, 1, 16, 16, 16], Distribution::Default, &device);
/// let logits = model.try_forward(x.clone())?; // training: batch statistics
/// assert_eq!(logits.dims(), [2, 2]);
/// let eval = model.valid(); // inference: running statistics, no autodiff
/// assert_eq!(eval.forward(x.inner()).dims(), [2, 2]);
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Module, Debug)]
pub struct ResNet3d {
    /// The stem's convolution (no bias).
    pub conv1: Conv3d,
    /// The stem's batch norm.
    pub bn1: BatchNorm,
    /// Whether the stem's max pooling (kernel 3, stride 2, padding 1) is left out.
    pub no_max_pool: bool,
    /// Stride 1.
    pub layer1: Vec<ResNetLayerBlock>,
    /// Stride 2.
    pub layer2: Vec<ResNetLayerBlock>,
    /// Stride 2.
    pub layer3: Vec<ResNetLayerBlock>,
    /// Stride 2.
    pub layer4: Vec<ResNetLayerBlock>,
    /// The linear layer to the classes; `None` without `feed_forward`.
    pub fc: Option<Linear>,
}

impl ResNet3d {
    /// The pooled features of `layer4`, `[N, C]`, before `fc`.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::ResNetConfig;
    /// let device = Device::flex();
    /// let model = ResNetConfig::resnet10(1, 2).with_widen_factor(0.125).init(&device)?;
    /// assert_eq!(model.features(Tensor::<5>::zeros([1, 1, 8, 8, 8], &device)).dims(), [1, 64]);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn features(&self, x: Tensor<5>) -> Tensor<2> {
        let mut x = relu(self.bn1.forward(self.conv1.forward(x)));
        if !self.no_max_pool {
            let options = Pool3dOptions::new([3; 3])
                .with_stride([2; 3])
                .with_padding([1; 3]);
            x = max_pool3d(x, options).unwrap_or_else(|e| panic!("{e}"));
        }
        for layer in [&self.layer1, &self.layer2, &self.layer3, &self.layer4] {
            for block in layer {
                x = block.forward(x);
            }
        }
        let [n, c, d, h, w] = x.dims();
        x.reshape([n, c, d * h * w]).mean_dim(2).reshape([n, c])
    }

    /// The logits `[N, num_classes]` (the features without `fc`). Panics where
    /// [`check_input`](Self::check_input) fails; use [`try_forward`](Self::try_forward) on
    /// inputs of unknown shape.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::ResNetConfig;
    /// let device = Device::flex();
    /// let model = ResNetConfig::resnet34(1, 4).with_widen_factor(0.0625).init(&device)?;
    /// assert_eq!(model.forward(Tensor::<5>::zeros([3, 1, 8, 8, 8], &device)).dims(), [3, 4]);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn forward(&self, x: Tensor<5>) -> Tensor<2> {
        let features = self.features(x);
        match &self.fc {
            Some(fc) => fc.forward(features),
            None => features,
        }
    }

    /// [`check_input`](Self::check_input), then [`forward`](Self::forward).
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::{ModelError, ResNetConfig};
    /// let device = Device::flex();
    /// let model = ResNetConfig::resnet10(1, 2).with_widen_factor(0.125).init(&device)?;
    /// let err = model.try_forward(Tensor::<5>::zeros([1, 3, 8, 8, 8], &device)).unwrap_err();
    /// assert!(matches!(err, ModelError::InputShape { .. }));
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn try_forward(&self, x: Tensor<5>) -> Result<Tensor<2>, ModelError> {
        self.check_input(x.dims())?;
        Ok(self.forward(x))
    }

    /// Whether an input of `shape` fits: `n_input_channels` channels and no empty axis.
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use medburn_models::ResNetConfig;
    /// let model = ResNetConfig::resnet10(2, 2).with_widen_factor(0.125).init(&Device::flex())?;
    /// assert!(model.check_input([1, 2, 5, 7, 9]).is_ok());
    /// assert!(model.check_input([1, 1, 8, 8, 8]).is_err());
    /// assert!(model.check_input([0, 2, 8, 8, 8]).is_err());
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn check_input(&self, shape: [usize; 5]) -> Result<(), ModelError> {
        check_input_shape(shape, self.in_channels(), "", None)
    }

    /// Channels of the input (`n_input_channels`).
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use medburn_models::ResNetConfig;
    /// let model = ResNetConfig::resnet10(3, 2).with_widen_factor(0.125).init(&Device::flex())?;
    /// assert_eq!(model.in_channels(), 3);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn in_channels(&self) -> usize {
        self.conv1.weight.dims()[1] * self.conv1.groups
    }
}

/// MONAI keys are the attribute paths (`conv1.weight`, `bn1.running_mean`,
/// `layer2.0.downsample.0.weight`, `fc.weight`); Burn paths add the block's variant
/// (`layer2.0.Basic.downsample.B.conv.weight`) and call norm parameters `gamma`/`beta`.
impl MonaiKeys for ResNet3d {
    fn push_monai_keys(&self, monai: &str, burn: &str, map: &mut MonaiKeyMap) {
        self.conv1
            .push_monai_keys(&format!("{monai}conv1."), &format!("{burn}conv1."), map);
        self.bn1
            .push_monai_keys(&format!("{monai}bn1."), &format!("{burn}bn1."), map);
        for (name, layer) in [
            ("layer1", &self.layer1),
            ("layer2", &self.layer2),
            ("layer3", &self.layer3),
            ("layer4", &self.layer4),
        ] {
            for (i, block) in layer.iter().enumerate() {
                block.push_monai_keys(
                    &format!("{monai}{name}.{i}."),
                    &format!("{burn}{name}.{i}."),
                    map,
                );
            }
        }
        self.fc
            .push_monai_keys(&format!("{monai}fc."), &format!("{burn}fc."), map);
    }
}
