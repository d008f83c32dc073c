//! [`ResNetConfig`]: the arguments of MONAI's `ResNet(spatial_dims=3, ...)` and its
//! `resnet10` ... `resnet200` constructors.

use burn::config::Config;
use burn::nn::{Initializer, LinearConfig};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::block::{batch_norm, kaiming_conv, ShortcutA, ShortcutB};
use super::{ResNet3d, ResNetBlock, ResNetBottleneck, ResNetDownsample, ResNetLayerBlock};
use crate::ModelError;

/// Which residual block a ResNet is made of: MONAI's `block="basic"` ([`ResNetBlock`]) or
/// `"bottleneck"` ([`ResNetBottleneck`]).
///
/// ```
/// use medburn_models::ResNetBlockType;
/// assert_eq!(ResNetBlockType::Bottleneck.expansion(), 4);
/// assert_eq!(serde_json::to_string(&ResNetBlockType::Basic).unwrap(), r#""basic""#);
/// ```
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ResNetBlockType {
    /// Two 3x3x3 convolutions, expansion 1.
    Basic,
    /// 1x1x1, 3x3x3, 1x1x1 convolutions, expansion 4.
    Bottleneck,
}

impl burn::config::Config for ResNetBlockType {}

impl ResNetBlockType {
    /// Output channels per plane: 1 or 4.
    ///
    /// ```
    /// assert_eq!(medburn_models::ResNetBlockType::Basic.expansion(), 1);
    /// ```
    pub fn expansion(self) -> usize {
        match self {
            Self::Basic => ResNetBlock::EXPANSION,
            Self::Bottleneck => ResNetBottleneck::EXPANSION,
        }
    }
}

/// The shortcut of blocks whose stride or channels change: MONAI's `shortcut_type`.
///
/// ```
/// use medburn_models::ShortcutType;
/// assert_eq!(serde_json::to_string(&ShortcutType::A).unwrap(), r#""A""#);
/// ```
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShortcutType {
    /// Subsampling and zero channels, no weights ([`crate::resnet::ShortcutA`]).
    A,
    /// A `1x1x1` convolution and a batch norm ([`crate::resnet::ShortcutB`]).
    B,
}

impl burn::config::Config for ShortcutType {}

/// The configuration of a [`ResNet3d`], named as the arguments of MONAI's
/// `monai.networks.nets.ResNet` with `spatial_dims=3`, with MONAI's defaults:
/// `block_inplanes` `[64, 128, 256, 512]`, `n_input_channels` 3, `conv1_t_size` 7,
/// `conv1_t_stride` 1, max pooling, shortcut B with a bias, `widen_factor` 1, 400 classes, the
/// final `fc` layer. `resnet10` ... `resnet200` give MONAI's depths.
///
/// MONAI's `act` and `norm` arguments are not taken: MONAI applies them to the stem only (its
/// blocks are always ReLU and batch norm); here every layer is ReLU and batch norm, MONAI's
/// defaults.
///
/// ```
/// use burn::config::Config;
/// use burn::tensor::Device;
/// use medburn_models::{summary, ResNetConfig, ShortcutType};
///
/// // MONAI: resnet18(spatial_dims=3, n_input_channels=1, num_classes=1)
/// let config = ResNetConfig::resnet18(1, 1);
/// assert_eq!(config.shortcut_type, ShortcutType::B);
/// // Parameters as torch counts them (Burn's `num_params` also counts running statistics).
/// let model = config.clone().with_widen_factor(0.25).init(&Device::flex())?;
/// assert_eq!(summary(&model).total_params, 2_078_769); // as MONAI's
/// let back: ResNetConfig = serde_json::from_str(&config.to_string()).unwrap();
/// assert_eq!(back, config);
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct ResNetConfig {
    /// Basic or bottleneck blocks.
    pub block: ResNetBlockType,
    /// Blocks in each of the four layers (MONAI makes at least one per layer).
    pub layers: Vec<usize>,
    /// Planes of each of the four layers, before `widen_factor`.
    #[config(default = "vec![64, 128, 256, 512]")]
    pub block_inplanes: Vec<usize>,
    /// Channels of the input.
    #[config(default = 3)]
    pub n_input_channels: usize,
    /// Kernel size of the first convolution (padding `conv1_t_size / 2`).
    #[config(default = 7)]
    pub conv1_t_size: usize,
    /// Stride of the first convolution.
    #[config(default = 1)]
    pub conv1_t_stride: usize,
    /// Whether to leave out the max pooling (kernel 3, stride 2, padding 1) after the stem.
    #[config(default = false)]
    pub no_max_pool: bool,
    /// The shortcut of blocks whose stride or channels change.
    #[config(default = "ShortcutType::B")]
    pub shortcut_type: ShortcutType,
    /// Factor on `block_inplanes` (truncated to an integer, as MONAI's `int(x * widen_factor)`).
    #[config(default = 1.0)]
    pub widen_factor: f64,
    /// Outputs of the final linear layer.
    #[config(default = 400)]
    pub num_classes: usize,
    /// Whether the final linear layer is there; without it the network returns the pooled
    /// features.
    #[config(default = true)]
    pub feed_forward: bool,
    /// Whether shortcut B's convolution has a bias.
    #[config(default = true)]
    pub bias_downsample: bool,
}

macro_rules! depth {
    ($name:ident, $block:ident, $layers:expr, $doc:literal) => {
        #[doc = concat!("MONAI's `", stringify!($name), "(spatial_dims=3, n_input_channels, num_classes)`: ", $doc, ", the other arguments at MONAI's defaults.")]
        ///
        /// ```
        /// use medburn_models::ResNetConfig;
        #[doc = concat!("let config = ResNetConfig::", stringify!($name), "(1, 2);")]
        /// assert_eq!((config.n_input_channels, config.num_classes), (1, 2));
        /// ```
        pub fn $name(n_input_channels: usize, num_classes: usize) -> Self {
            Self::new(ResNetBlockType::$block, $layers.to_vec())
                .with_n_input_channels(n_input_channels)
                .with_num_classes(num_classes)
        }
    };
}

impl ResNetConfig {
    depth!(
        resnet10,
        Basic,
        [1, 1, 1, 1],
        "basic blocks, layers `[1, 1, 1, 1]`"
    );
    depth!(
        resnet18,
        Basic,
        [2, 2, 2, 2],
        "basic blocks, layers `[2, 2, 2, 2]`"
    );
    depth!(
        resnet34,
        Basic,
        [3, 4, 6, 3],
        "basic blocks, layers `[3, 4, 6, 3]`"
    );
    depth!(
        resnet50,
        Bottleneck,
        [3, 4, 6, 3],
        "bottleneck blocks, layers `[3, 4, 6, 3]`"
    );
    depth!(
        resnet101,
        Bottleneck,
        [3, 4, 23, 3],
        "bottleneck blocks, layers `[3, 4, 23, 3]`"
    );
    depth!(
        resnet152,
        Bottleneck,
        [3, 8, 36, 3],
        "bottleneck blocks, layers `[3, 8, 36, 3]`"
    );
    depth!(
        resnet200,
        Bottleneck,
        [3, 24, 36, 3],
        "bottleneck blocks, layers `[3, 24, 36, 3]`"
    );

    /// The planes of the four layers after `widen_factor`.
    ///
    /// ```
    /// use medburn_models::ResNetConfig;
    /// assert_eq!(ResNetConfig::resnet10(1, 1).with_widen_factor(0.125).planes(), vec![8, 16, 32, 64]);
    /// ```
    pub fn planes(&self) -> Vec<usize> {
        self.block_inplanes
            .iter()
            .map(|&x| (x as f64 * self.widen_factor) as usize)
            .collect()
    }

    /// Channels of the output: `num_classes`, or the features' channels without `fc`.
    ///
    /// ```
    /// use medburn_models::ResNetConfig;
    /// assert_eq!(ResNetConfig::resnet50(1, 3).with_feed_forward(false).out_features(), 2048);
    /// ```
    pub fn out_features(&self) -> usize {
        if self.feed_forward {
            self.num_classes
        } else {
            self.planes().get(3).copied().unwrap_or(0) * self.block.expansion()
        }
    }

    /// Checks the configuration (MONAI raises for the same arguments, or builds a network
    /// that fails on every input).
    ///
    /// ```
    /// use medburn_models::ResNetConfig;
    /// assert!(ResNetConfig::resnet18(1, 2).validate().is_ok());
    /// assert!(ResNetConfig::resnet18(1, 2).with_widen_factor(0.001).validate().is_err()); // no planes
    /// assert!(ResNetConfig { layers: vec![2, 2, 2], ..ResNetConfig::resnet18(1, 2) }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |m: String| Err(ModelError::InvalidConfig(m));
        if self.layers.len() != 4 {
            return bad(format!(
                "`layers` needs 4 block counts, got {:?}",
                self.layers
            ));
        }
        if self.block_inplanes.len() != 4 {
            return bad(format!(
                "`block_inplanes` needs 4 values, got {:?}",
                self.block_inplanes
            ));
        }
        if !self.widen_factor.is_finite() || self.widen_factor <= 0.0 {
            return bad(format!(
                "`widen_factor` must be positive, got {}",
                self.widen_factor
            ));
        }
        let planes = self.planes();
        if planes.contains(&0) {
            return bad(format!(
                "`block_inplanes` {:?} times `widen_factor` {} leaves a layer without channels",
                self.block_inplanes, self.widen_factor
            ));
        }
        for (name, v) in [
            ("n_input_channels", self.n_input_channels),
            ("conv1_t_size", self.conv1_t_size),
            ("conv1_t_stride", self.conv1_t_stride),
        ] {
            if v == 0 {
                return bad(format!("`{name}` must be positive"));
            }
        }
        if self.feed_forward && self.num_classes == 0 {
            return bad("`num_classes` must be positive".into());
        }
        if self.shortcut_type == ShortcutType::A {
            let e = self.block.expansion();
            let mut in_planes = planes[0];
            for &p in &planes {
                if in_planes > p * e {
                    return bad(format!(
                        "shortcut A pads channels and cannot reduce them ({in_planes} -> {})",
                        p * e
                    ));
                }
                in_planes = p * e;
            }
        }
        Ok(())
    }

    /// Builds the network on `device`, initialized as MONAI's: convolutions Kaiming normal
    /// (`mode="fan_out"`, ReLU gain), batch norms at weight 1 and bias 0, the linear layer's
    /// bias 0 and weight PyTorch's default (uniform in `±1/sqrt(in_features)`).
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::ResNetConfig;
    ///
    /// let device = Device::flex();
    /// let model = ResNetConfig::resnet10(2, 3).with_widen_factor(0.125).init(&device)?;
    /// assert_eq!(model.forward(Tensor::<5>::zeros([2, 2, 16, 16, 16], &device)).dims(), [2, 3]);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn init(&self, device: &Device) -> Result<ResNet3d, ModelError> {
        self.validate()?;
        let planes = self.planes();
        let k = self.conv1_t_size;
        let conv1 = kaiming_conv(
            self.n_input_channels,
            planes[0],
            k,
            self.conv1_t_stride,
            k / 2,
            false,
            device,
        );
        let bn1 = batch_norm(planes[0], device);
        let mut in_planes = planes[0];
        let mut layers = Vec::with_capacity(4);
        for (i, (&p, &blocks)) in planes.iter().zip(&self.layers).enumerate() {
            let stride = if i == 0 { 1 } else { 2 };
            layers.push(self.make_layer(&mut in_planes, p, blocks, stride, device));
        }
        let fc = self.feed_forward.then(|| {
            let mut fc = LinearConfig::new(in_planes, self.num_classes).init(device);
            fc.bias = Some(Initializer::Zeros.init([self.num_classes], device));
            fc
        });
        let mut layers = layers.into_iter();
        let mut next = || layers.next().unwrap_or_default();
        Ok(ResNet3d {
            conv1,
            bn1,
            no_max_pool: self.no_max_pool,
            layer1: next(),
            layer2: next(),
            layer3: next(),
            layer4: next(),
            fc,
        })
    }

    /// MONAI's `ResNet._make_layer`.
    fn make_layer(
        &self,
        in_planes: &mut usize,
        planes: usize,
        blocks: usize,
        stride: usize,
        device: &Device,
    ) -> Vec<ResNetLayerBlock> {
        let out = planes * self.block.expansion();
        let downsample = (stride != 1 || *in_planes != out).then(|| match self.shortcut_type {
            ShortcutType::A => ResNetDownsample::A(ShortcutA {
                planes: out,
                stride,
            }),
            ShortcutType::B => ResNetDownsample::B(ShortcutB::new(
                *in_planes,
                out,
                stride,
                self.bias_downsample,
                device,
            )),
        });
        let mut layer = Vec::with_capacity(blocks.max(1));
        layer.push(self.block(*in_planes, planes, stride, downsample, device));
        *in_planes = out;
        for _ in 1..blocks {
            layer.push(self.block(out, planes, 1, None, device));
        }
        layer
    }

    fn block(
        &self,
        in_planes: usize,
        planes: usize,
        stride: usize,
        downsample: Option<ResNetDownsample>,
        device: &Device,
    ) -> ResNetLayerBlock {
        match self.block {
            ResNetBlockType::Basic => ResNetLayerBlock::Basic(ResNetBlock::new(
                in_planes, planes, stride, downsample, device,
            )),
            ResNetBlockType::Bottleneck => ResNetLayerBlock::Bottleneck(ResNetBottleneck::new(
                in_planes, planes, stride, downsample, device,
            )),
        }
    }
}
