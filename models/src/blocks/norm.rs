//! Normalizations by MONAI's names (`monai.networks.layers.factories.Norm`): [`NormConfig`] and
//! the layer it builds, [`Norm`].

use burn::module::Module;
use burn::nn::{BatchNorm, BatchNormConfig, InstanceNormConfig};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::monai_weights::{MonaiKeyMap, MonaiKeys};
use crate::nn::InstanceNorm;
use crate::ModelError;

fn eps() -> f64 {
    1e-5
}
fn momentum() -> f64 {
    0.1
}

/// A normalization as MONAI names it in a network's `norm` argument: `"instance"`
/// (`Norm.INSTANCE`, PyTorch's `InstanceNorm3d`, `affine` default false), `"batch"`
/// (`Norm.BATCH`, `BatchNorm3d`: learned scale and shift, running statistics), or none.
/// Serialized as MONAI writes it: `{"instance": {"affine": true, "eps": 1e-5}}`,
/// `{"batch": {"eps": 1e-5, "momentum": 0.1}}`, `"none"`; fields left out take PyTorch's
/// defaults.
///
/// ```
/// use medburn_models::blocks::NormConfig;
///
/// assert_eq!(NormConfig::instance(), NormConfig::Instance { affine: false, eps: 1e-5 });
/// // MONAI: norm=("instance", {"affine": True})
/// let norm: NormConfig = serde_json::from_str(r#"{"instance": {"affine": true}}"#).unwrap();
/// assert_eq!(norm, NormConfig::Instance { affine: true, eps: 1e-5 });
/// assert_eq!(NormConfig::batch(), NormConfig::Batch { eps: 1e-5, momentum: 0.1 });
/// ```
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum NormConfig {
    /// Instance normalization: per sample and channel, biased variance, no running
    /// statistics. MONAI keys `weight`, `bias` when affine.
    Instance {
        /// Whether a per-channel scale and shift are learned (PyTorch's default: false).
        #[serde(default)]
        affine: bool,
        /// Added to the variance.
        #[serde(default = "eps")]
        eps: f64,
    },
    /// Batch normalization: batch statistics while training (updating the running ones),
    /// running statistics in inference (`model.valid()` or a device without autodiff); a
    /// per-channel scale and shift. MONAI keys `weight`, `bias`, `running_mean`,
    /// `running_var` (and `num_batches_tracked`, which is not needed).
    Batch {
        /// Added to the variance.
        #[serde(default = "eps")]
        eps: f64,
        /// Weight of the newest batch in the running statistics.
        #[serde(default = "momentum")]
        momentum: f64,
    },
    /// No normalization (MONAI's `norm=None`).
    None,
}

impl burn::config::Config for NormConfig {}

impl Default for NormConfig {
    /// MONAI's default normalization of its blocks and networks: [`NormConfig::instance`].
    ///
    /// ```
    /// assert_eq!(medburn_models::blocks::NormConfig::default(), medburn_models::blocks::NormConfig::instance());
    /// ```
    fn default() -> Self {
        Self::instance()
    }
}

impl NormConfig {
    /// MONAI's `Norm.INSTANCE`: no affine, eps 1e-5.
    ///
    /// ```
    /// assert!(matches!(medburn_models::blocks::NormConfig::instance(), medburn_models::blocks::NormConfig::Instance { affine: false, .. }));
    /// ```
    pub fn instance() -> Self {
        Self::Instance {
            affine: false,
            eps: eps(),
        }
    }

    /// MONAI's `Norm.BATCH`: eps 1e-5, momentum 0.1.
    ///
    /// ```
    /// assert!(matches!(medburn_models::blocks::NormConfig::batch(), medburn_models::blocks::NormConfig::Batch { .. }));
    /// ```
    pub fn batch() -> Self {
        Self::Batch {
            eps: eps(),
            momentum: momentum(),
        }
    }

    /// Checks the arguments.
    ///
    /// ```
    /// use medburn_models::blocks::NormConfig;
    /// assert!(NormConfig::batch().validate().is_ok());
    /// assert!(NormConfig::Batch { eps: 1e-5, momentum: 2.0 }.validate().is_err());
    /// assert!(NormConfig::Instance { affine: false, eps: 0.0 }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |m: String| Err(ModelError::InvalidConfig(m));
        let eps = match self {
            Self::Instance { eps, .. } | Self::Batch { eps, .. } => *eps,
            Self::None => return Ok(()),
        };
        if !eps.is_finite() || eps <= 0.0 {
            return bad(format!("normalization `eps` must be positive, got {eps}"));
        }
        if let Self::Batch { momentum, .. } = self {
            if !(0.0..=1.0).contains(momentum) {
                return bad(format!(
                    "batch norm `momentum` must be in [0, 1], got {momentum}"
                ));
            }
        }
        Ok(())
    }

    /// The layer for `channels` channels, or `None` for [`NormConfig::None`]: affine
    /// parameters at (1, 0), running statistics at (0, 1), as PyTorch.
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use medburn_models::blocks::{Norm, NormConfig};
    ///
    /// let device = Device::flex();
    /// assert!(matches!(NormConfig::batch().init(8, &device)?, Some(Norm::Batch(_))));
    /// assert!(NormConfig::None.init(8, &device)?.is_none());
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn init(&self, channels: usize, device: &Device) -> Result<Option<Norm>, ModelError> {
        self.validate()?;
        if channels == 0 {
            return Err(ModelError::InvalidConfig(
                "a normalization needs at least one channel".into(),
            ));
        }
        Ok(match self {
            Self::Instance { affine, eps } => Some(Norm::Instance(InstanceNorm::new(
                &InstanceNormConfig::new(channels)
                    .with_epsilon(*eps)
                    .with_affine(*affine),
                device,
            ))),
            Self::Batch { eps, momentum } => Some(Norm::Batch(
                BatchNormConfig::new(channels)
                    .with_epsilon(*eps)
                    .with_momentum(*momentum)
                    .init(device),
            )),
            Self::None => None,
        })
    }
}

/// A normalization layer of a block: the `N` of MONAI's `ADN`. Built by [`NormConfig::init`].
/// The variant is a segment of the Burn record path (`norm.Instance.gamma`,
/// `norm.Batch.running_mean`).
///
/// Burn's `BatchNorm` updates its running variance with the biased batch variance where
/// PyTorch uses the unbiased one (a factor `n / (n - 1)` for `n` voxels in the batch, close to
/// 1 for volumes); inference is the same.
///
/// ```
/// use burn::tensor::{Device, Distribution, Tensor};
/// use medburn_models::blocks::NormConfig;
///
/// let device = Device::flex();
/// let norm = NormConfig::instance().init(2, &device)?.unwrap();
/// let y = norm.forward(Tensor::<5>::random([1, 2, 4, 4, 4], Distribution::Default, &device));
/// let mean = y.mean().into_scalar::<f32>();
/// assert!(mean.abs() < 1e-5);
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Module, Debug)]
pub enum Norm {
    /// Instance normalization on medburn's kernels (Burn's `InstanceNorm` fields).
    Instance(InstanceNorm),
    /// Burn's batch normalization.
    Batch(BatchNorm),
}

impl Norm {
    /// The normalized `x` `[N, C, D, H, W]`.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::blocks::NormConfig;
    ///
    /// let device = Device::flex();
    /// // Running statistics (0, 1) at initialization: inference leaves x as it is.
    /// let norm = NormConfig::batch().init(1, &device)?.unwrap();
    /// let y = norm.forward(Tensor::<5>::full([1, 1, 1, 1, 1], 3.0, &device));
    /// assert!((y.into_scalar::<f32>() - 3.0).abs() < 1e-4);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        match self {
            Norm::Instance(norm) => norm.forward(x),
            Norm::Batch(norm) => norm.forward(x),
        }
    }
}

impl MonaiKeys for Norm {
    fn push_monai_keys(&self, monai: &str, burn: &str, map: &mut MonaiKeyMap) {
        match self {
            Norm::Instance(norm) => norm.push_monai_keys(monai, &format!("{burn}Instance."), map),
            Norm::Batch(norm) => norm.push_monai_keys(monai, &format!("{burn}Batch."), map),
        }
    }
}
