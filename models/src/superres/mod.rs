//! [`SuperResolution3d`]: a volume upsampled by a whole factor per axis (`[4, 4, 4]`, or
//! `[1, 1, 4]` for thick slices; factors in the image's axis order i, j, k, as spacings are,
//! so the tensor's `[D, H, W]` axes take them reversed), as the cubic B-spline upsampling of the input plus a learned
//! residual: convolutions at the low resolution (a head, residual units), then a sub-pixel
//! convolution (MONAI's `SubpixelUpsample`: a convolution to `factors` times the channels,
//! ICNR-initialized, and a pixel shuffle) or a transposed convolution to the high resolution.
//! The residual's last layer starts small, so a new network starts at the B-spline baseline
//! and learns the detail.
//!
//! The grids: output voxel `j` along an axis of factor `f` sits at input voxel
//! `(j + 0.5) / f - 0.5`, the centre of its share of the coarse voxel (PyTorch's
//! `align_corners=False`), which is how a low-resolution image made by averaging `f` fine
//! voxels lies over the fine grid (origin at the centre of the first coarse voxel).

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::conv::{Conv3dConfig, ConvTranspose3dConfig};
use burn::nn::{Initializer, PaddingConfig3d};
use burn::tensor::{Device, Tensor};
use medburn_ops::{interpolate_3d, pixel_shuffle_3d, Interpolate3dOptions, Interpolation};
use serde::{Deserialize, Serialize};

use crate::blocks::{
    ActConfig, Convolution, ConvolutionConfig, NormConfig, ResidualUnit, ResidualUnitConfig,
};
use crate::nn::{Conv3d, ConvTranspose3d};
use crate::ModelError;

/// How the residual reaches the high resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Upsampling {
    /// A 3x3x3 convolution to `out_channels x fd x fh x fw` channels, ICNR-initialized, then
    /// [`medburn_ops::pixel_shuffle_3d`] (MONAI's `SubpixelUpsample` without its blur).
    Subpixel,
    /// A transposed convolution with kernel and stride equal to the factors.
    Transposed,
}

/// The configuration of a [`SuperResolution3d`].
///
/// ```
/// use burn::module::Module;
/// use burn::tensor::Device;
/// use medburn_models::superres::SuperResolution3dConfig;
///
/// let config = SuperResolution3dConfig::new([1, 1, 4]).with_features(8).with_num_res_units(1);
/// let model = config.init(&Device::flex())?;
/// // Head 1 -> 8, one residual unit of two 8 -> 8 convolutions (with PReLUs), 8 -> 4 sub-pixel.
/// assert_eq!(model.num_params(), (8 * 27 + 8 + 1) + 2 * (8 * 8 * 27 + 8 + 1) + (4 * 8 * 27 + 4));
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct SuperResolution3dConfig {
    /// The upsampling factor of each image axis `[i, j, k]` (tensor axes W, H, D), at least 1.
    pub factors: [usize; 3],
    /// Channels of the input and the output (the residual is added to the upsampled input).
    #[config(default = 1)]
    pub channels: usize,
    /// Channels of the low-resolution convolutions.
    #[config(default = 32)]
    pub features: usize,
    /// Residual units (two convolutions each) after the head.
    #[config(default = 4)]
    pub num_res_units: usize,
    /// The activation after each low-resolution convolution.
    #[config(default = "ActConfig::prelu()")]
    pub act: ActConfig,
    /// The normalization after each low-resolution convolution (none by default: instance
    /// normalization would discard the intensity scale the output must keep).
    #[config(default = "NormConfig::None")]
    pub norm: NormConfig,
    /// How the residual is upsampled.
    #[config(default = "Upsampling::Subpixel")]
    pub upsampling: Upsampling,
    /// Scale of the last layer's initial weights (0: the network starts exactly at the
    /// B-spline upsampling).
    #[config(default = 0.1)]
    pub tail_init_scale: f64,
}

impl SuperResolution3dConfig {
    /// Checks the configuration.
    ///
    /// ```
    /// use medburn_models::superres::SuperResolution3dConfig;
    /// assert!(SuperResolution3dConfig::new([4, 4, 4]).validate().is_ok());
    /// assert!(SuperResolution3dConfig::new([0, 1, 4]).validate().is_err());
    /// assert!(SuperResolution3dConfig::new([1, 1, 1]).validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |m: String| Err(ModelError::InvalidConfig(m));
        if self.factors.contains(&0) || self.factors == [1, 1, 1] {
            return bad(format!(
                "`factors` must be at least 1 per axis and above 1 on one, got {:?}",
                self.factors
            ));
        }
        if self.channels == 0 || self.features == 0 {
            return bad("`channels` and `features` must be positive".into());
        }
        if !(self.tail_init_scale.is_finite() && self.tail_init_scale >= 0.0) {
            return bad(format!(
                "`tail_init_scale` must be finite and >= 0, got {}",
                self.tail_init_scale
            ));
        }
        Ok(())
    }

    /// The network, its last layer initialized as [`Upsampling`] says and scaled by
    /// [`tail_init_scale`](Self::tail_init_scale).
    pub fn init(&self, device: &Device) -> Result<SuperResolution3d, ModelError> {
        self.validate()?;
        let block = |i: usize, o: usize| {
            ConvolutionConfig::new(i, o)
                .with_act(self.act.clone())
                .with_norm(self.norm.clone())
        };
        let head = block(self.channels, self.features).init(device)?;
        let body = (0..self.num_res_units)
            .map(|_| {
                ResidualUnitConfig::new(self.features, self.features)
                    .with_act(self.act.clone())
                    .with_norm(self.norm.clone())
                    .init(device)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let dhw = dhw(self.factors);
        let [fd, fh, fw] = dhw;
        let tail = match self.upsampling {
            Upsampling::Subpixel => {
                let r = fd * fh * fw;
                let config = Conv3dConfig::new([self.features, self.channels * r], [3, 3, 3])
                    .with_padding(PaddingConfig3d::Explicit(1, 1, 1));
                let mut conv = Conv3d::new(&config, device);
                conv.weight = Param::from_tensor(icnr(
                    self.channels,
                    self.features,
                    r,
                    self.tail_init_scale,
                    device,
                ));
                if let Some(b) = conv.bias.take() {
                    // Each sub-voxel of a channel starts from the same bias (zero).
                    conv.bias = Some(Param::from_tensor(b.val().zeros_like().detach()));
                }
                Tail::Subpixel(conv)
            }
            Upsampling::Transposed => {
                let config = ConvTranspose3dConfig::new([self.features, self.channels], dhw)
                    .with_stride(dhw);
                let mut up = ConvTranspose3d::new(&config, device);
                up.weight = Param::from_tensor((up.weight.val() * self.tail_init_scale).detach());
                if let Some(b) = up.bias.take() {
                    up.bias = Some(Param::from_tensor(b.val().zeros_like().detach()));
                }
                Tail::Transposed(up)
            }
        };
        Ok(SuperResolution3d {
            head,
            body,
            tail,
            factors: self.factors,
            channels: self.channels,
        })
    }
}

/// ICNR (Aitken et al., 2017): one Kaiming-uniform kernel per output channel, repeated for
/// each of its `r` sub-voxels, so that at the start the sub-pixel convolution is a
/// convolution followed by nearest-neighbour upsampling (no checkerboard), times `scale`.
/// Layout `[channels * r, features, 3, 3, 3]`, channel `c * r + s` for sub-voxel `s` of `c`.
fn icnr(channels: usize, features: usize, r: usize, scale: f64, device: &Device) -> Tensor<5> {
    let bound = (6.0 / (features * 27) as f64).sqrt() * scale;
    let base = if bound > 0.0 {
        Initializer::Uniform {
            min: -bound,
            max: bound,
        }
        .init::<5, _>([channels, features, 3, 3, 3], device)
        .val()
    } else {
        Tensor::zeros([channels, features, 3, 3, 3], device)
    };
    base.reshape([channels, 1, features * 27])
        .expand([channels, r, features * 27])
        .reshape([channels * r, features, 3, 3, 3])
        .detach()
}

/// The upsampling layer of a [`SuperResolution3d`].
#[derive(Module, Debug)]
pub enum Tail {
    /// Convolution to `channels x r` channels, then the pixel shuffle.
    Subpixel(Conv3d),
    /// Transposed convolution with stride = kernel = the factors.
    Transposed(ConvTranspose3d),
}

/// The factors `[i, j, k]` in tensor order `[D, H, W]`.
fn dhw(factors: [usize; 3]) -> [usize; 3] {
    [factors[2], factors[1], factors[0]]
}

/// A super-resolution network (see the [module](self) documentation): `forward` takes a
/// low-resolution batch `[N, C, d, h, w]` and returns `[N, C, d * fk, h * fj, w * fi]` for
/// factors `[fi, fj, fk]`.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::superres::SuperResolution3dConfig;
///
/// let device = Device::flex();
/// // Slices 2 times thinner along k (the tensor's D).
/// let model = SuperResolution3dConfig::new([1, 1, 2]).with_features(4).with_num_res_units(1)
///     .with_tail_init_scale(0.0).init(&device)?;
/// let low = Tensor::<5>::ones([1, 1, 3, 4, 4], &device);
/// let high = model.try_forward(low)?;
/// assert_eq!(high.dims(), [1, 1, 6, 4, 4]);
/// // With the last layer at zero the output is the B-spline upsampling: a constant stays.
/// assert!((high - 1.0).abs().max().into_scalar::<f32>() < 1e-5);
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Module, Debug)]
pub struct SuperResolution3d {
    /// The first convolution (with its activation).
    pub head: Convolution,
    /// Residual units at the low resolution.
    pub body: Vec<ResidualUnit>,
    /// To the high resolution.
    pub tail: Tail,
    /// The factor of each image axis `[i, j, k]`.
    pub factors: [usize; 3],
    /// Channels in and out.
    pub channels: usize,
}

impl SuperResolution3d {
    /// The cubic B-spline upsampling of `low` by the factors: where the network starts.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::superres::SuperResolution3dConfig;
    /// let device = Device::flex();
    /// let model = SuperResolution3dConfig::new([2, 2, 2]).with_features(2).init(&device)?;
    /// let up = model.baseline(Tensor::<5>::ones([1, 1, 2, 2, 2], &device))?;
    /// assert_eq!(up.dims(), [1, 1, 4, 4, 4]);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn baseline(&self, low: Tensor<5>) -> Result<Tensor<5>, ModelError> {
        let [_, _, d, h, w] = low.dims();
        let [fd, fh, fw] = dhw(self.factors);
        let options =
            Interpolate3dOptions::new(Interpolation::BSpline).with_size([d * fd, h * fh, w * fw]);
        interpolate_3d(low, options).map_err(|e| ModelError::InputShape {
            shape: vec![d, h, w],
            reason: e.to_string(),
        })
    }

    /// Checks that `shape` is `[N, channels, d, h, w]` with no empty axis.
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use medburn_models::superres::SuperResolution3dConfig;
    /// let model = SuperResolution3dConfig::new([1, 1, 4]).with_features(2).init(&Device::flex())?;
    /// assert!(model.check_input([2, 1, 8, 8, 2]).is_ok());
    /// assert!(model.check_input([2, 3, 8, 8, 2]).is_err());
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn check_input(&self, shape: [usize; 5]) -> Result<(), ModelError> {
        crate::error::check_input_shape(shape, self.channels, "", None)
    }

    /// [`check_input`](Self::check_input), then [`forward`](Self::forward).
    pub fn try_forward(&self, low: Tensor<5>) -> Result<Tensor<5>, ModelError> {
        self.check_input(low.dims())?;
        let base = self.baseline(low.clone())?;
        Ok(base + self.residual(low))
    }

    /// The super-resolved volume. Panics where [`check_input`](Self::check_input) fails;
    /// [`try_forward`](Self::try_forward) returns the error instead.
    pub fn forward(&self, low: Tensor<5>) -> Tensor<5> {
        self.try_forward(low).unwrap_or_else(|e| panic!("{e}"))
    }

    /// What the network adds to the baseline, at the high resolution.
    fn residual(&self, low: Tensor<5>) -> Tensor<5> {
        let mut x = self.head.forward(low);
        for unit in &self.body {
            x = unit.forward(x);
        }
        match &self.tail {
            Tail::Subpixel(conv) => pixel_shuffle_3d(conv.forward(x), dhw(self.factors))
                .unwrap_or_else(|e| panic!("the tail makes channels x factors: {e}")),
            Tail::Transposed(up) => up.forward(x),
        }
    }
}
