//! Activations by MONAI's names (`monai.networks.layers.factories.Act`): [`ActConfig`] and the
//! layer it builds, [`Act`].

use burn::module::Module;
use burn::nn::{LeakyRelu, LeakyReluConfig, PReluConfig, Relu};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::monai_weights::{MonaiKeyMap, MonaiKeys};
use crate::nn::PRelu;
use crate::ModelError;

fn one() -> usize {
    1
}
fn prelu_init() -> f64 {
    0.25
}
fn leaky_slope() -> f64 {
    0.01
}

/// An activation as MONAI names it in a network's `act` argument: `"prelu"` (MONAI's
/// `Act.PRELU`, `("prelu", {"init": 0.2})`), `"relu"`, `"leakyrelu"` (`negative_slope`), or
/// none. Serialized as MONAI writes it: `"relu"`, `{"prelu": {"num_parameters": 1, "init":
/// 0.25}}`, `{"leakyrelu": {"negative_slope": 0.01}}`, `"none"`; fields left out take PyTorch's
/// defaults.
///
/// ```
/// use medburn_models::blocks::ActConfig;
///
/// assert_eq!(ActConfig::prelu(), ActConfig::PRelu { num_parameters: 1, init: 0.25 });
/// let act: ActConfig = serde_json::from_str(r#"{"prelu": {"init": 0.2}}"#).unwrap();
/// assert_eq!(act, ActConfig::PRelu { num_parameters: 1, init: 0.2 });
/// assert_eq!(serde_json::to_string(&ActConfig::Relu).unwrap(), r#""relu""#);
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum ActConfig {
    /// `torch.nn.PReLU(num_parameters, init)`: `max(0, x) + a * min(0, x)` with learned slopes
    /// `a` (one, or one per channel). MONAI key `weight`.
    PRelu {
        /// Slopes: 1 (shared by every channel) or the number of channels.
        #[serde(default = "one")]
        num_parameters: usize,
        /// Initial slope.
        #[serde(default = "prelu_init")]
        init: f64,
    },
    /// `torch.nn.ReLU`.
    Relu,
    /// `torch.nn.LeakyReLU(negative_slope)`.
    LeakyRelu {
        /// Slope for negative inputs.
        #[serde(default = "leaky_slope")]
        negative_slope: f64,
    },
    /// No activation (MONAI's `act=None`).
    None,
}

impl burn::config::Config for ActConfig {}

impl Default for ActConfig {
    /// MONAI's default activation of its blocks and networks: [`ActConfig::prelu`].
    ///
    /// ```
    /// assert_eq!(medburn_models::blocks::ActConfig::default(), medburn_models::blocks::ActConfig::prelu());
    /// ```
    fn default() -> Self {
        Self::prelu()
    }
}

impl ActConfig {
    /// MONAI's `Act.PRELU`: one slope, starting at 0.25.
    ///
    /// ```
    /// assert!(matches!(medburn_models::blocks::ActConfig::prelu(), medburn_models::blocks::ActConfig::PRelu { .. }));
    /// ```
    pub fn prelu() -> Self {
        Self::PRelu {
            num_parameters: 1,
            init: 0.25,
        }
    }

    /// MONAI's `Act.LEAKYRELU` with PyTorch's slope 0.01.
    ///
    /// ```
    /// use medburn_models::blocks::ActConfig;
    /// assert_eq!(ActConfig::leakyrelu(), ActConfig::LeakyRelu { negative_slope: 0.01 });
    /// ```
    pub fn leakyrelu() -> Self {
        Self::LeakyRelu {
            negative_slope: leaky_slope(),
        }
    }

    /// Checks the arguments for a layer after `channels` channels.
    ///
    /// ```
    /// use medburn_models::blocks::ActConfig;
    /// assert!(ActConfig::prelu().validate(8).is_ok());
    /// assert!(ActConfig::PRelu { num_parameters: 3, init: 0.25 }.validate(8).is_err());
    /// ```
    pub fn validate(&self, channels: usize) -> Result<(), ModelError> {
        let bad = |m: String| Err(ModelError::InvalidConfig(m));
        match self {
            Self::PRelu {
                num_parameters,
                init,
            } => {
                if *num_parameters != 1 && *num_parameters != channels {
                    return bad(format!(
                        "PReLU `num_parameters` must be 1 or the channels ({channels}), got {num_parameters}"
                    ));
                }
                if !init.is_finite() {
                    return bad(format!("PReLU `init` must be finite, got {init}"));
                }
            }
            Self::LeakyRelu { negative_slope } if !negative_slope.is_finite() => {
                return bad(format!(
                    "LeakyReLU `negative_slope` must be finite, got {negative_slope}"
                ));
            }
            _ => {}
        }
        Ok(())
    }

    /// The layer, or `None` for [`ActConfig::None`]. PReLU slopes start at `init`.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::blocks::{Act, ActConfig};
    ///
    /// let device = Device::flex();
    /// let act = ActConfig::prelu().init(4, &device)?.unwrap();
    /// assert!(matches!(act, Act::PRelu(_)));
    /// assert!(ActConfig::None.init(4, &device)?.is_none());
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn init(&self, channels: usize, device: &Device) -> Result<Option<Act>, ModelError> {
        self.validate(channels)?;
        Ok(match self {
            Self::PRelu {
                num_parameters,
                init,
            } => Some(Act::PRelu(PRelu::new(
                &PReluConfig::new()
                    .with_num_parameters(*num_parameters)
                    .with_alpha(*init),
                device,
            ))),
            Self::Relu => Some(Act::Relu(Relu::new())),
            Self::LeakyRelu { negative_slope } => Some(Act::LeakyRelu(
                LeakyReluConfig::new()
                    .with_negative_slope(*negative_slope)
                    .init(),
            )),
            Self::None => None,
        })
    }
}

/// An activation layer of a block: the `A` of MONAI's `ADN`. Built by [`ActConfig::init`].
/// The variant is a segment of the Burn record path (`act.PRelu.alpha`).
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::blocks::{Act, ActConfig};
///
/// let device = Device::flex();
/// let act = ActConfig::Relu.init(1, &device)?.unwrap();
/// let y = act.forward(Tensor::<5>::full([1, 1, 1, 1, 2], -3.0, &device));
/// assert_eq!(y.into_data().try_to_vec::<f32>().unwrap(), vec![0.0, 0.0]);
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Module, Debug)]
pub enum Act {
    /// PReLU on medburn's kernels (Burn's `PRelu` fields; MONAI key `weight`, Burn `alpha`).
    PRelu(PRelu),
    /// ReLU.
    Relu(Relu),
    /// Leaky ReLU.
    LeakyRelu(LeakyRelu),
}

impl Act {
    /// The activation of `x` `[N, C, D, H, W]`.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::blocks::ActConfig;
    ///
    /// let device = Device::flex();
    /// let act = ActConfig::leakyrelu().init(1, &device)?.unwrap();
    /// let y = act.forward(Tensor::<5>::full([1, 1, 1, 1, 1], -100.0, &device));
    /// assert!((y.into_scalar::<f32>() + 1.0).abs() < 1e-5);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        match self {
            Act::PRelu(act) => act.forward(x),
            Act::Relu(act) => act.forward(x),
            // medburn's PReLU kernel with the fixed slope: one pass each way, where Burn's
            // leaky ReLU masks twice forward and once backward.
            Act::LeakyRelu(act) => {
                let slope = Tensor::<1>::from_data(
                    burn::tensor::TensorData::new(vec![act.negative_slope], [1]),
                    (&x.device(), x.dtype()),
                );
                medburn_ops::prelu(x, slope).unwrap_or_else(|e| panic!("{e}"))
            }
        }
    }
}

impl MonaiKeys for Act {
    fn push_monai_keys(&self, monai: &str, burn: &str, map: &mut MonaiKeyMap) {
        if let Act::PRelu(prelu) = self {
            prelu.push_monai_keys(monai, &format!("{burn}PRelu."), map);
        }
    }
}
