//! The residual blocks of MONAI's ResNet: [`ResNetBlock`] (basic, two 3x3x3 convolutions) and
//! [`ResNetBottleneck`] (1x1x1, 3x3x3, 1x1x1, four times the planes out), with their shortcut
//! ([`ResNetDownsample`]).

use std::f64::consts::SQRT_2;

use burn::module::Module;
use burn::nn::conv::Conv3dConfig;
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, PaddingConfig3d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use medburn_ops::{avg_pool3d, Pool3dOptions};

use crate::monai_weights::{MonaiKeyMap, MonaiKeys};
use crate::nn::Conv3d;

/// A convolution initialized as MONAI's ResNet initializes its convolutions: weights Kaiming
/// normal with `mode="fan_out"` and ReLU's gain `sqrt(2)`; a bias (the downsampling
/// convolution's) keeps PyTorch's default, uniform in `±1/sqrt(fan_in)`.
pub(crate) fn kaiming_conv(
    in_channels: usize,
    out_channels: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    bias: bool,
    device: &Device,
) -> Conv3d {
    let config = Conv3dConfig::new([in_channels, out_channels], [kernel; 3])
        .with_stride([stride; 3])
        .with_padding(PaddingConfig3d::Explicit(padding, padding, padding))
        .with_bias(bias);
    let mut conv = Conv3d::new(&config, device);
    let taps = kernel * kernel * kernel;
    conv.weight = Initializer::KaimingNormal {
        gain: SQRT_2,
        fan_out_only: true,
    }
    .init_with(
        [out_channels, in_channels, kernel, kernel, kernel],
        Some(in_channels * taps),
        Some(out_channels * taps),
        device,
    );
    conv
}

/// Batch normalization as MONAI's `get_norm_layer("batch", 3, channels)`: weight 1, bias 0,
/// eps 1e-5, momentum 0.1.
pub(crate) fn batch_norm(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels).init(device)
}

/// Shortcut type A (MONAI's `ResNet._downsample_basic_block`): the input subsampled with the
/// stride (an average pool of window 1), then zero channels appended up to `planes`. No
/// weights.
///
/// As MONAI (`torch.cat([out.data, zero_pads])`), the subsampled input is detached: no
/// gradient flows back through this shortcut.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::resnet::ShortcutA;
///
/// let device = Device::flex();
/// let shortcut = ShortcutA { planes: 6, stride: 2 };
/// let y = shortcut.forward(Tensor::<5>::ones([1, 4, 5, 4, 4], &device));
/// assert_eq!(y.dims(), [1, 6, 3, 2, 2]);
/// assert_eq!(y.sum().into_scalar::<f32>(), 4.0 * 3.0 * 2.0 * 2.0);
/// ```
#[derive(Module, Debug)]
pub struct ShortcutA {
    /// Channels of the output.
    pub planes: usize,
    /// Stride of the subsampling.
    pub stride: usize,
}

impl ShortcutA {
    /// The subsampled, zero-padded input.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::resnet::ShortcutA;
    /// let y = ShortcutA { planes: 2, stride: 1 }.forward(Tensor::<5>::ones([1, 1, 2, 2, 2], &Device::flex()));
    /// assert_eq!(y.dims(), [1, 2, 2, 2, 2]);
    /// ```
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let out = if self.stride == 1 {
            x
        } else {
            let options = Pool3dOptions::new([1; 3]).with_stride([self.stride; 3]);
            avg_pool3d(x, options).unwrap_or_else(|e| panic!("{e}"))
        }
        .detach();
        let [n, c, d, h, w] = out.dims();
        if c >= self.planes {
            return out;
        }
        let zeros = Tensor::zeros([n, self.planes - c, d, h, w], (&out.device(), out.dtype()));
        Tensor::cat(vec![out, zeros], 1)
    }
}

/// Shortcut type B: a `1x1x1` strided convolution (with a bias when `bias_downsample`) and a
/// batch norm, MONAI's `nn.Sequential(conv, norm)` (keys `0.*`, `1.*`).
///
/// ```
/// use burn::tensor::Device;
/// use medburn_models::{ResNetConfig, resnet::{ResNetDownsample, ResNetLayerBlock}};
///
/// let model = ResNetConfig::resnet10(1, 2).with_widen_factor(0.125).init(&Device::flex())?;
/// let ResNetLayerBlock::Basic(block) = &model.layer2[0] else { unreachable!() };
/// let Some(ResNetDownsample::B(shortcut)) = &block.downsample else { unreachable!() };
/// assert_eq!(shortcut.conv.weight.dims(), [16, 8, 1, 1, 1]);
/// assert_eq!(shortcut.conv.stride, [2; 3]);
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Module, Debug)]
pub struct ShortcutB {
    /// The `1x1x1` convolution (MONAI `0`).
    pub conv: Conv3d,
    /// The batch norm (MONAI `1`).
    pub bn: BatchNorm,
}

impl ShortcutB {
    /// `bn(conv(x))`.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::resnet::ShortcutB;
    /// let device = Device::flex();
    /// let shortcut = ShortcutB::new(4, 8, 2, true, &device);
    /// assert_eq!(shortcut.forward(Tensor::<5>::ones([1, 4, 4, 4, 4], &device)).dims(), [1, 8, 2, 2, 2]);
    /// ```
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        self.bn.forward(self.conv.forward(x))
    }

    /// A shortcut from `in_planes` to `planes` channels with `stride`, initialized as MONAI's.
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use medburn_models::resnet::ShortcutB;
    /// assert!(ShortcutB::new(4, 8, 2, false, &Device::flex()).conv.bias.is_none());
    /// ```
    pub fn new(
        in_planes: usize,
        planes: usize,
        stride: usize,
        bias: bool,
        device: &Device,
    ) -> Self {
        Self {
            conv: kaiming_conv(in_planes, planes, 1, stride, 0, bias, device),
            bn: batch_norm(planes, device),
        }
    }
}

/// The shortcut of a block whose stride or channels change: MONAI's `downsample`, by
/// `shortcut_type`.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::resnet::{ResNetDownsample, ShortcutA};
/// let shortcut = ResNetDownsample::A(ShortcutA { planes: 8, stride: 2 });
/// assert_eq!(shortcut.forward(Tensor::<5>::ones([1, 4, 4, 4, 4], &Device::flex())).dims(), [1, 8, 2, 2, 2]);
/// ```
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)] // one per block; Burn modules cannot be boxed
pub enum ResNetDownsample {
    /// Type A: subsampling and zero channels, no weights.
    A(ShortcutA),
    /// Type B: a `1x1x1` convolution and a batch norm.
    B(ShortcutB),
}

impl ResNetDownsample {
    /// The shortcut of `x`.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::resnet::{ResNetDownsample, ShortcutB};
    /// let device = Device::flex();
    /// let shortcut = ResNetDownsample::B(ShortcutB::new(2, 4, 1, true, &device));
    /// assert_eq!(shortcut.forward(Tensor::<5>::ones([1, 2, 3, 3, 3], &device)).dims(), [1, 4, 3, 3, 3]);
    /// ```
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        match self {
            ResNetDownsample::A(shortcut) => shortcut.forward(x),
            ResNetDownsample::B(shortcut) => shortcut.forward(x),
        }
    }
}

impl MonaiKeys for ResNetDownsample {
    fn push_monai_keys(&self, monai: &str, burn: &str, map: &mut MonaiKeyMap) {
        if let ResNetDownsample::B(shortcut) = self {
            shortcut
                .conv
                .push_monai_keys(&format!("{monai}0."), &format!("{burn}B.conv."), map);
            shortcut
                .bn
                .push_monai_keys(&format!("{monai}1."), &format!("{burn}B.bn."), map);
        }
    }
}

/// MONAI's `ResNetBlock` (expansion 1): `relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`
/// with 3x3x3 convolutions without bias, the first carrying the stride.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::ResNetBlock;
///
/// let device = Device::flex();
/// let block = ResNetBlock::new(4, 4, 1, None, &device);
/// assert_eq!(block.forward(Tensor::<5>::ones([1, 4, 4, 4, 4], &device)).dims(), [1, 4, 4, 4, 4]);
/// ```
#[derive(Module, Debug)]
pub struct ResNetBlock {
    /// 3x3x3, `in_planes` to `planes`, with the stride.
    pub conv1: Conv3d,
    /// Batch norm after `conv1`.
    pub bn1: BatchNorm,
    /// 3x3x3, `planes` to `planes`.
    pub conv2: Conv3d,
    /// Batch norm after `conv2`.
    pub bn2: BatchNorm,
    /// The shortcut when the stride or the channels change; the identity otherwise.
    pub downsample: Option<ResNetDownsample>,
}

impl ResNetBlock {
    /// Channels out per plane: 1.
    ///
    /// ```
    /// assert_eq!(medburn_models::ResNetBlock::EXPANSION, 1);
    /// ```
    pub const EXPANSION: usize = 1;

    /// A block from `in_planes` to `planes` channels, initialized as MONAI's.
    ///
    /// ```
    /// use burn::tensor::Device;
    /// let block = medburn_models::ResNetBlock::new(4, 8, 2, None, &Device::flex());
    /// assert_eq!(block.conv1.stride, [2; 3]);
    /// ```
    pub fn new(
        in_planes: usize,
        planes: usize,
        stride: usize,
        downsample: Option<ResNetDownsample>,
        device: &Device,
    ) -> Self {
        Self {
            conv1: kaiming_conv(in_planes, planes, 3, stride, 1, false, device),
            bn1: batch_norm(planes, device),
            conv2: kaiming_conv(planes, planes, 3, 1, 1, false, device),
            bn2: batch_norm(planes, device),
            downsample,
        }
    }

    /// The block's output.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// let device = Device::flex();
    /// let block = medburn_models::ResNetBlock::new(2, 2, 1, None, &device);
    /// assert!(block.forward(Tensor::<5>::ones([1, 2, 2, 2, 2], &device)).min().into_scalar::<f32>() >= 0.0);
    /// ```
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let residual = match &self.downsample {
            Some(shortcut) => shortcut.forward(x.clone()),
            None => x.clone(),
        };
        let out = relu(self.bn1.forward(self.conv1.forward(x)));
        let out = self.bn2.forward(self.conv2.forward(out));
        relu(out + residual)
    }
}

impl MonaiKeys for ResNetBlock {
    fn push_monai_keys(&self, monai: &str, burn: &str, map: &mut MonaiKeyMap) {
        let sub = |name: &str| (format!("{monai}{name}."), format!("{burn}{name}."));
        let (m, b) = sub("conv1");
        self.conv1.push_monai_keys(&m, &b, map);
        let (m, b) = sub("bn1");
        self.bn1.push_monai_keys(&m, &b, map);
        let (m, b) = sub("conv2");
        self.conv2.push_monai_keys(&m, &b, map);
        let (m, b) = sub("bn2");
        self.bn2.push_monai_keys(&m, &b, map);
        let (m, b) = sub("downsample");
        self.downsample.push_monai_keys(&m, &b, map);
    }
}

/// MONAI's `ResNetBottleneck` (expansion 4): 1x1x1 to `planes`, 3x3x3 with the stride, 1x1x1
/// to `4 * planes`, each followed by a batch norm (and ReLU but the last), plus the shortcut,
/// then ReLU. Convolutions without bias.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::ResNetBottleneck;
///
/// let device = Device::flex();
/// let block = ResNetBottleneck::new(8, 2, 1, None, &device);
/// assert_eq!(block.conv3.weight.dims(), [8, 2, 1, 1, 1]);
/// assert_eq!(block.forward(Tensor::<5>::ones([1, 8, 2, 2, 2], &device)).dims(), [1, 8, 2, 2, 2]);
/// ```
#[derive(Module, Debug)]
pub struct ResNetBottleneck {
    /// 1x1x1, `in_planes` to `planes`.
    pub conv1: Conv3d,
    /// Batch norm after `conv1`.
    pub bn1: BatchNorm,
    /// 3x3x3, `planes` to `planes`, with the stride.
    pub conv2: Conv3d,
    /// Batch norm after `conv2`.
    pub bn2: BatchNorm,
    /// 1x1x1, `planes` to `4 * planes`.
    pub conv3: Conv3d,
    /// Batch norm after `conv3`.
    pub bn3: BatchNorm,
    /// The shortcut when the stride or the channels change; the identity otherwise.
    pub downsample: Option<ResNetDownsample>,
}

impl ResNetBottleneck {
    /// Channels out per plane: 4.
    ///
    /// ```
    /// assert_eq!(medburn_models::ResNetBottleneck::EXPANSION, 4);
    /// ```
    pub const EXPANSION: usize = 4;

    /// A block from `in_planes` to `4 * planes` channels, initialized as MONAI's.
    ///
    /// ```
    /// use burn::tensor::Device;
    /// let block = medburn_models::ResNetBottleneck::new(4, 2, 2, None, &Device::flex());
    /// assert_eq!(block.conv2.stride, [2; 3]);
    /// ```
    pub fn new(
        in_planes: usize,
        planes: usize,
        stride: usize,
        downsample: Option<ResNetDownsample>,
        device: &Device,
    ) -> Self {
        let out = planes * Self::EXPANSION;
        Self {
            conv1: kaiming_conv(in_planes, planes, 1, 1, 0, false, device),
            bn1: batch_norm(planes, device),
            conv2: kaiming_conv(planes, planes, 3, stride, 1, false, device),
            bn2: batch_norm(planes, device),
            conv3: kaiming_conv(planes, out, 1, 1, 0, false, device),
            bn3: batch_norm(out, device),
            downsample,
        }
    }

    /// The block's output.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// let device = Device::flex();
    /// let block = medburn_models::ResNetBottleneck::new(4, 1, 1, None, &device);
    /// assert_eq!(block.forward(Tensor::<5>::ones([2, 4, 2, 2, 2], &device)).dims(), [2, 4, 2, 2, 2]);
    /// ```
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let residual = match &self.downsample {
            Some(shortcut) => shortcut.forward(x.clone()),
            None => x.clone(),
        };
        let out = relu(self.bn1.forward(self.conv1.forward(x)));
        let out = relu(self.bn2.forward(self.conv2.forward(out)));
        let out = self.bn3.forward(self.conv3.forward(out));
        relu(out + residual)
    }
}

impl MonaiKeys for ResNetBottleneck {
    fn push_monai_keys(&self, monai: &str, burn: &str, map: &mut MonaiKeyMap) {
        let sub = |name: &str| (format!("{monai}{name}."), format!("{burn}{name}."));
        for (conv, bn, c, n) in [
            (&self.conv1, &self.bn1, "conv1", "bn1"),
            (&self.conv2, &self.bn2, "conv2", "bn2"),
            (&self.conv3, &self.bn3, "conv3", "bn3"),
        ] {
            let (m, b) = sub(c);
            conv.push_monai_keys(&m, &b, map);
            let (m, b) = sub(n);
            bn.push_monai_keys(&m, &b, map);
        }
        let (m, b) = sub("downsample");
        self.downsample.push_monai_keys(&m, &b, map);
    }
}

/// One block of a ResNet layer (`layer1` to `layer4`): basic or bottleneck, by the
/// configuration's `block`. The variant is a segment of the Burn record path
/// (`layer1.0.Basic.conv1.weight`; MONAI `layer1.0.conv1.weight`).
///
/// ```
/// use burn::tensor::Device;
/// use medburn_models::{resnet::ResNetLayerBlock, ResNetConfig};
/// let model = ResNetConfig::resnet50(1, 2).with_widen_factor(0.125).init(&Device::flex())?;
/// assert!(matches!(model.layer1[0], ResNetLayerBlock::Bottleneck(_)));
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)] // Burn modules cannot be boxed
pub enum ResNetLayerBlock {
    /// [`ResNetBlock`].
    Basic(ResNetBlock),
    /// [`ResNetBottleneck`].
    Bottleneck(ResNetBottleneck),
}

impl ResNetLayerBlock {
    /// The block's output.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::{resnet::ResNetLayerBlock, ResNetBlock};
    /// let device = Device::flex();
    /// let block = ResNetLayerBlock::Basic(ResNetBlock::new(2, 2, 1, None, &device));
    /// assert_eq!(block.forward(Tensor::<5>::ones([1, 2, 2, 2, 2], &device)).dims(), [1, 2, 2, 2, 2]);
    /// ```
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        match self {
            ResNetLayerBlock::Basic(block) => block.forward(x),
            ResNetLayerBlock::Bottleneck(block) => block.forward(x),
        }
    }
}

impl MonaiKeys for ResNetLayerBlock {
    fn push_monai_keys(&self, monai: &str, burn: &str, map: &mut MonaiKeyMap) {
        match self {
            ResNetLayerBlock::Basic(block) => {
                block.push_monai_keys(monai, &format!("{burn}Basic."), map)
            }
            ResNetLayerBlock::Bottleneck(block) => {
                block.push_monai_keys(monai, &format!("{burn}Bottleneck."), map)
            }
        }
    }
}
