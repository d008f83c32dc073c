//! [`InstanceNorm`]: `burn::nn::InstanceNorm` for 3D volumes through
//! [`medburn_ops::instance_norm_3d`].

use burn::module::{Module, Param};
use burn::nn::InstanceNormConfig;
use burn::tensor::{Device, Tensor};
use medburn_ops::OpsError;

/// Instance normalization of `[N, C, D, H, W]` volumes with the fields (so the record and the
/// parameter names `gamma`, `beta`) of `burn::nn::InstanceNorm`, computed by
/// [`medburn_ops::instance_norm_3d`]: two passes over the data each way on the CPU.
///
/// ```
/// use burn::nn::InstanceNormConfig;
/// use burn::tensor::{Device, Distribution, Tensor};
/// use medburn_models::nn::InstanceNorm;
///
/// let device = Device::flex();
/// let burn_layer = InstanceNormConfig::new(3).init(&device);
/// let norm = InstanceNorm::from(burn_layer.clone());
/// let x = Tensor::<5>::random([2, 3, 4, 4, 4], Distribution::Default, &device);
/// let diff = (norm.forward(x.clone()) - burn_layer.forward(x)).abs().max().into_scalar::<f32>();
/// assert!(diff < 1e-4);
/// ```
#[derive(Module, Debug)]
pub struct InstanceNorm {
    /// Per-channel scale (when affine).
    pub gamma: Option<Param<Tensor<1>>>,
    /// Per-channel shift (when affine).
    pub beta: Option<Param<Tensor<1>>>,
    /// Channels `C`.
    pub num_channels: usize,
    /// Added to the variance.
    pub epsilon: f64,
    /// Whether `gamma` and `beta` are learned.
    pub affine: bool,
}

impl From<burn::nn::InstanceNorm> for InstanceNorm {
    fn from(n: burn::nn::InstanceNorm) -> Self {
        Self {
            gamma: n.gamma,
            beta: n.beta,
            num_channels: n.num_channels,
            epsilon: n.epsilon,
            affine: n.affine,
        }
    }
}

impl InstanceNorm {
    /// A layer initialized as `config.init(device)` initializes Burn's.
    ///
    /// ```
    /// use burn::nn::InstanceNormConfig;
    /// let norm = medburn_models::nn::InstanceNorm::new(&InstanceNormConfig::new(4), &burn::tensor::Device::flex());
    /// assert_eq!(norm.num_channels, 4);
    /// ```
    pub fn new(config: &InstanceNormConfig, device: &Device) -> Self {
        config.init(device).into()
    }

    /// The normalized `x`, or an error where `x` does not fit.
    ///
    /// ```
    /// use burn::nn::InstanceNormConfig;
    /// use burn::tensor::{Device, Tensor};
    /// let device = Device::flex();
    /// let norm = medburn_models::nn::InstanceNorm::new(&InstanceNormConfig::new(4), &device);
    /// assert!(norm.try_forward(Tensor::<5>::zeros([1, 3, 2, 2, 2], &device)).is_err());
    /// ```
    pub fn try_forward(&self, x: Tensor<5>) -> Result<Tensor<5>, OpsError> {
        let channels = x.dims()[1];
        if channels != self.num_channels {
            return Err(OpsError::new(
                "InstanceNorm",
                format!(
                    "input has {channels} channels, the layer {}",
                    self.num_channels
                ),
            ));
        }
        medburn_ops::instance_norm_3d(
            x,
            self.gamma.as_ref().map(|g| g.val()),
            self.beta.as_ref().map(|b| b.val()),
            self.epsilon,
        )
    }

    /// The normalized `x`.
    ///
    /// # Panics
    /// Where `x` does not fit, as Burn's layer does; [`Self::try_forward`] returns the error.
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        self.try_forward(x).unwrap_or_else(|e| panic!("{e}"))
    }
}
