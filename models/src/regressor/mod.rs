//! MONAI's `Regressor` (`monai.networks.nets.Regressor`) for 3D inputs: strided residual units
//! (or convolution blocks) that condense a volume of a fixed size, then a linear layer to a
//! small output.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use crate::blocks::{
    same_padding, ActConfig, Convolution, ConvolutionConfig, NormConfig, ResidualUnit,
    ResidualUnitConfig,
};
use crate::monai_weights::{MonaiKeyMap, MonaiKeys};
use crate::ModelError;

/// The configuration of a [`Regressor`], named as the arguments of MONAI's
/// `monai.networks.nets.Regressor` for 3D inputs, with MONAI's defaults: kernel 3, two
/// subunits per residual unit, PReLU, instance norm, no dropout, bias.
///
/// `in_shape` is `(channels, D, H, W)` without the batch, as MONAI's; the network takes only
/// that size (its linear layer is sized for it).
///
/// ```
/// use burn::tensor::Device;
/// use medburn_models::{summary, RegressorConfig};
///
/// // MONAI: Regressor(in_shape=(1, 64, 64, 64), out_shape=(1,), channels=(16, 32, 64, 128),
/// //                  strides=(2, 2, 2, 2))
/// let config = RegressorConfig::new(vec![1, 64, 64, 64], vec![1], vec![16, 32, 64, 128], vec![2, 2, 2, 2]);
/// assert_eq!(config.final_size()?, [4, 4, 4]);
/// let model = config.init(&Device::flex())?;
/// assert_eq!(summary(&model).total_params, 1_177_912); // as MONAI's
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct RegressorConfig {
    /// Shape of one input `(channels, D, H, W)`.
    pub in_shape: Vec<usize>,
    /// Shape of one output (MONAI reshapes to it; here the output is flat, `[N,
    /// prod(out_shape)]`).
    pub out_shape: Vec<usize>,
    /// Output channels of each layer.
    pub channels: Vec<usize>,
    /// Stride of each layer (as many as `channels`; more are ignored).
    pub strides: Vec<usize>,
    /// Kernel size of the convolutions, odd.
    #[config(default = 3)]
    pub kernel_size: usize,
    /// Convolutions per residual unit; 0 for plain convolution blocks.
    #[config(default = 2)]
    pub num_res_units: usize,
    /// The activation after each convolution.
    #[config(default = "ActConfig::prelu()")]
    pub act: ActConfig,
    /// The normalization after each convolution.
    #[config(default = "NormConfig::instance()")]
    pub norm: NormConfig,
    /// Dropout probability, in `[0, 1)` (MONAI's `None` is 0).
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Whether the convolutions have a bias.
    #[config(default = true)]
    pub bias: bool,
}

impl RegressorConfig {
    /// Spatial size after the last layer, by MONAI's `calculate_out_shape`:
    /// `(n - kernel_size + 2 * padding) / stride + 1` per layer.
    ///
    /// ```
    /// use medburn_models::RegressorConfig;
    /// let config = RegressorConfig::new(vec![1, 32, 20, 9], vec![2], vec![4, 8], vec![2, 2]);
    /// assert_eq!(config.final_size()?, [8, 5, 3]);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn final_size(&self) -> Result<[usize; 3], ModelError> {
        self.check_shapes()?;
        let p = same_padding([self.kernel_size; 3], [1; 3])?[0];
        let mut size = [self.in_shape[1], self.in_shape[2], self.in_shape[3]];
        for &s in &self.strides[..self.channels.len()] {
            size = size.map(|n| (n + 2 * p - self.kernel_size) / s + 1);
        }
        Ok(size)
    }

    fn check_shapes(&self) -> Result<(), ModelError> {
        let bad = |m: String| Err(ModelError::InvalidConfig(m));
        if self.in_shape.len() != 4 || self.in_shape.contains(&0) {
            return bad(format!(
                "`in_shape` must be (channels, D, H, W), all positive, got {:?}",
                self.in_shape
            ));
        }
        if self.out_shape.is_empty() || self.out_shape.contains(&0) {
            return bad(format!(
                "`out_shape` must be positive sizes, got {:?}",
                self.out_shape
            ));
        }
        if self.channels.is_empty() || self.channels.contains(&0) {
            return bad(format!(
                "`channels` must be positive, at least one layer, got {:?}",
                self.channels
            ));
        }
        if self.strides.len() < self.channels.len()
            || self.strides[..self.channels.len()].contains(&0)
        {
            return bad(format!(
                "`strides` needs a positive stride per layer ({}), got {:?}",
                self.channels.len(),
                self.strides
            ));
        }
        if self.kernel_size == 0 {
            return bad(format!(
                "`kernel_size` must be positive, got {}",
                self.kernel_size
            ));
        }
        Ok(())
    }

    /// Checks the configuration (MONAI raises for the same arguments, or builds a network
    /// that fails on every input).
    ///
    /// ```
    /// use medburn_models::RegressorConfig;
    /// let ok = RegressorConfig::new(vec![1, 16, 16, 16], vec![1], vec![4, 8], vec![2, 2]);
    /// assert!(ok.validate().is_ok());
    /// assert!(RegressorConfig { in_shape: vec![16, 16, 16], ..ok.clone() }.validate().is_err());
    /// assert!(ok.clone().with_kernel_size(4).validate().is_err());
    /// assert!(RegressorConfig { strides: vec![2], ..ok }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), ModelError> {
        self.final_size()?;
        let mut in_channels = self.in_shape[0];
        for i in 0..self.channels.len() {
            self.layer(in_channels, i).validate()?;
            in_channels = self.channels[i];
        }
        Ok(())
    }

    /// MONAI's `Regressor._get_layer` for layer `i`: the last one without ADN at its end.
    fn layer(&self, in_channels: usize, i: usize) -> LayerConfig {
        let (c, s) = (self.channels[i], self.strides[i]);
        let is_last = i + 1 == self.channels.len();
        if self.num_res_units > 0 {
            LayerConfig::Residual(
                ResidualUnitConfig::new(in_channels, c)
                    .with_subunits(self.num_res_units)
                    .with_last_conv_only(is_last)
                    .with_strides([s; 3])
                    .with_kernel_size([self.kernel_size; 3])
                    .with_act(self.act.clone())
                    .with_norm(self.norm.clone())
                    .with_dropout(self.dropout)
                    .with_bias(self.bias),
            )
        } else {
            LayerConfig::Plain(
                ConvolutionConfig::new(in_channels, c)
                    .with_conv_only(is_last)
                    .with_strides([s; 3])
                    .with_kernel_size([self.kernel_size; 3])
                    .with_act(self.act.clone())
                    .with_norm(self.norm.clone())
                    .with_dropout(self.dropout)
                    .with_bias(self.bias),
            )
        }
    }

    /// Builds the network on `device`, with weights initialized as PyTorch does.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::RegressorConfig;
    ///
    /// let device = Device::flex();
    /// let model = RegressorConfig::new(vec![2, 16, 16, 16], vec![3], vec![4, 8], vec![2, 2]).init(&device)?;
    /// assert_eq!(model.forward(Tensor::<5>::zeros([5, 2, 16, 16, 16], &device)).dims(), [5, 3]);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn init(&self, device: &Device) -> Result<Regressor, ModelError> {
        self.validate()?;
        let mut layers = Vec::with_capacity(self.channels.len());
        let mut in_channels = self.in_shape[0];
        for i in 0..self.channels.len() {
            layers.push(self.layer(in_channels, i).init(device)?);
            in_channels = self.channels[i];
        }
        let [d, h, w] = self.final_size()?;
        let out: usize = self.out_shape.iter().product();
        let final_layer = LinearConfig::new(in_channels * d * h * w, out).init(device);
        Ok(Regressor {
            layers,
            final_layer,
            in_shape: self.in_shape.clone(),
            out_shape: self.out_shape.clone(),
        })
    }
}

enum LayerConfig {
    Residual(ResidualUnitConfig),
    Plain(ConvolutionConfig),
}

impl LayerConfig {
    fn validate(&self) -> Result<(), ModelError> {
        match self {
            Self::Residual(c) => c.validate(),
            Self::Plain(c) => c.validate(),
        }
    }

    fn init(&self, device: &Device) -> Result<RegressorLayer, ModelError> {
        Ok(match self {
            Self::Residual(c) => RegressorLayer::Residual(c.init(device)?),
            Self::Plain(c) => RegressorLayer::Plain(c.init(device)?),
        })
    }
}

/// A layer of a [`Regressor`]: a [`ResidualUnit`] with `num_res_units` subunits when
/// `num_res_units > 0`, a [`Convolution`] block otherwise. MONAI key `net.layer_{i}`.
///
/// ```
/// use burn::tensor::Device;
/// use medburn_models::{RegressorConfig, regressor::RegressorLayer};
/// let model = RegressorConfig::new(vec![1, 8, 8, 8], vec![1], vec![4], vec![2]).with_num_res_units(0).init(&Device::flex())?;
/// let RegressorLayer::Plain(block) = &model.layers[0] else { unreachable!() };
/// assert!(block.adn.is_none()); // the last layer is convolution-only
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)] // a handful per network; Burn modules cannot be boxed
pub enum RegressorLayer {
    /// `num_res_units > 0`.
    Residual(ResidualUnit),
    /// `num_res_units == 0`.
    Plain(Convolution),
}

impl RegressorLayer {
    /// Applies the layer.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::{blocks::ConvolutionConfig, regressor::RegressorLayer};
    /// let device = Device::flex();
    /// let layer = RegressorLayer::Plain(ConvolutionConfig::new(1, 2).with_strides([2; 3]).init(&device)?);
    /// assert_eq!(layer.forward(Tensor::<5>::zeros([1, 1, 4, 4, 4], &device)).dims(), [1, 2, 2, 2, 2]);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        match self {
            RegressorLayer::Residual(unit) => unit.forward(x),
            RegressorLayer::Plain(block) => block.forward(x),
        }
    }
}

impl MonaiKeys for RegressorLayer {
    fn push_monai_keys(&self, monai: &str, burn: &str, map: &mut MonaiKeyMap) {
        match self {
            RegressorLayer::Residual(unit) => {
                unit.push_monai_keys(monai, &format!("{burn}Residual."), map)
            }
            RegressorLayer::Plain(block) => {
                block.push_monai_keys(monai, &format!("{burn}Plain."), map)
            }
        }
    }
}

/// MONAI's 3D `Regressor`: [`RegressorLayer`]s, then the flattened features through a linear
/// layer to `prod(out_shape)` values. Build it with [`RegressorConfig::init`].
///
/// Input `[N, C, D, H, W]` with `(C, D, H, W)` the configuration's `in_shape` exactly; output
/// `[N, prod(out_shape)]` (MONAI's output `[N, *out_shape]`, flattened).
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::{ModelError, RegressorConfig};
///
/// let device = Device::flex();
/// let model = RegressorConfig::new(vec![1, 16, 16, 16], vec![2, 3], vec![4, 8, 16], vec![2, 2, 2]).init(&device)?;
/// assert_eq!(model.try_forward(Tensor::<5>::zeros([2, 1, 16, 16, 16], &device))?.dims(), [2, 6]);
/// let err = model.try_forward(Tensor::<5>::zeros([2, 1, 16, 16, 8], &device)).unwrap_err();
/// assert!(matches!(err, ModelError::InputShape { .. }));
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Module, Debug)]
pub struct Regressor {
    /// The convolution layers (MONAI `net.layer_{i}`).
    pub layers: Vec<RegressorLayer>,
    /// The linear layer on the flattened features (MONAI `final.1`).
    pub final_layer: Linear,
    /// Shape of one input `(C, D, H, W)`.
    #[module(skip)]
    pub in_shape: Vec<usize>,
    /// Shape of one output.
    #[module(skip)]
    pub out_shape: Vec<usize>,
}

impl Regressor {
    /// The outputs `[N, prod(out_shape)]`. Panics where [`check_input`](Self::check_input)
    /// fails; use [`try_forward`](Self::try_forward) on inputs of unknown shape.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::RegressorConfig;
    /// let device = Device::flex();
    /// let model = RegressorConfig::new(vec![1, 8, 8, 8], vec![1], vec![4], vec![2]).init(&device)?;
    /// assert_eq!(model.forward(Tensor::<5>::zeros([3, 1, 8, 8, 8], &device)).dims(), [3, 1]);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn forward(&self, x: Tensor<5>) -> Tensor<2> {
        let x = self.layers.iter().fold(x, |x, layer| layer.forward(x));
        let [n, c, d, h, w] = x.dims();
        self.final_layer.forward(x.reshape([n, c * d * h * w]))
    }

    /// [`check_input`](Self::check_input), then [`forward`](Self::forward).
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::RegressorConfig;
    /// let device = Device::flex();
    /// let model = RegressorConfig::new(vec![1, 8, 8, 8], vec![1], vec![4], vec![2]).init(&device)?;
    /// assert!(model.try_forward(Tensor::<5>::zeros([1, 2, 8, 8, 8], &device)).is_err());
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn try_forward(&self, x: Tensor<5>) -> Result<Tensor<2>, ModelError> {
        self.check_input(x.dims())?;
        Ok(self.forward(x))
    }

    /// Whether an input of `shape` fits: `[N, C, D, H, W]` with `N > 0` and `(C, D, H, W)` the
    /// configuration's `in_shape`.
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use medburn_models::RegressorConfig;
    /// let model = RegressorConfig::new(vec![1, 8, 8, 8], vec![1], vec![4], vec![2]).init(&Device::flex())?;
    /// assert!(model.check_input([4, 1, 8, 8, 8]).is_ok());
    /// assert!(model.check_input([4, 1, 8, 8, 16]).is_err());
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn check_input(&self, shape: [usize; 5]) -> Result<(), ModelError> {
        if shape[1..] != self.in_shape[..] {
            return Err(ModelError::InputShape {
                shape: shape.to_vec(),
                reason: format!(
                    "the regressor takes (C, D, H, W) = {:?} exactly (its linear layer is sized \
                     for it)",
                    self.in_shape
                ),
            });
        }
        if shape[0] == 0 {
            return Err(ModelError::InputShape {
                shape: shape.to_vec(),
                reason: "the batch is empty".into(),
            });
        }
        Ok(())
    }
}

/// MONAI keys `net.layer_{i}.*` and `final.1.*`; Burn paths `layers.{i}.Residual.*` (or
/// `Plain`) and `final_layer.*`. The linear weight is transposed on loading.
impl MonaiKeys for Regressor {
    fn push_monai_keys(&self, monai: &str, burn: &str, map: &mut MonaiKeyMap) {
        for (i, layer) in self.layers.iter().enumerate() {
            layer.push_monai_keys(
                &format!("{monai}net.layer_{i}."),
                &format!("{burn}layers.{i}."),
                map,
            );
        }
        self.final_layer.push_monai_keys(
            &format!("{monai}final.1."),
            &format!("{burn}final_layer."),
            map,
        );
    }
}
