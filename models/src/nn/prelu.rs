//! [`PRelu`]: `burn::nn::PRelu` for 3D volumes through [`medburn_ops::prelu`].

use burn::module::{Module, Param};
use burn::nn::PReluConfig;
use burn::tensor::{Device, Tensor};
use medburn_ops::OpsError;

/// PReLU on `[N, C, D, H, W]` with the fields (record, parameter name `alpha`) of
/// `burn::nn::PRelu`, computed by [`medburn_ops::prelu`]: one pass each way on the CPU.
///
/// ```
/// use burn::nn::PReluConfig;
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::nn::PRelu;
///
/// let device = Device::flex();
/// let act = PRelu::new(&PReluConfig::new().with_alpha(0.5), &device);
/// let y = act.forward(Tensor::<5>::full([1, 1, 1, 1, 2], -4.0, &device));
/// assert_eq!(y.into_data().to_vec::<f32>().unwrap(), vec![-2.0, -2.0]);
/// ```
#[derive(Module, Debug)]
pub struct PRelu {
    /// The slopes: `[1]` or `[C]`.
    pub alpha: Param<Tensor<1>>,
    /// The initial slope.
    pub alpha_value: f64,
}

impl From<burn::nn::PRelu> for PRelu {
    fn from(p: burn::nn::PRelu) -> Self {
        Self {
            alpha: p.alpha,
            alpha_value: p.alpha_value,
        }
    }
}

impl PRelu {
    /// A layer initialized as `config.init(device)` initializes Burn's.
    ///
    /// ```
    /// use burn::nn::PReluConfig;
    /// let act = medburn_models::nn::PRelu::new(&PReluConfig::new(), &burn::tensor::Device::flex());
    /// assert_eq!(act.alpha.dims(), [1]);
    /// ```
    pub fn new(config: &PReluConfig, device: &Device) -> Self {
        config.init(device).into()
    }

    /// The activation of `x`, or an error where the slopes do not fit its channels.
    ///
    /// ```
    /// use burn::nn::PReluConfig;
    /// use burn::tensor::{Device, Tensor};
    /// let device = Device::flex();
    /// let act = medburn_models::nn::PRelu::new(&PReluConfig::new().with_num_parameters(3), &device);
    /// assert!(act.try_forward(Tensor::<5>::zeros([1, 2, 1, 1, 1], &device)).is_err());
    /// ```
    pub fn try_forward(&self, x: Tensor<5>) -> Result<Tensor<5>, OpsError> {
        medburn_ops::prelu(x, self.alpha.val())
    }

    /// The activation of `x`.
    ///
    /// # Panics
    /// Where the slopes do not fit `x`'s channels; [`Self::try_forward`] returns the error.
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        self.try_forward(x).unwrap_or_else(|e| panic!("{e}"))
    }
}
