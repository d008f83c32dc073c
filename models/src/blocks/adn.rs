//! MONAI's `ADN` block: normalization, dropout and activation in a configurable order.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig};
use burn::tensor::{Device, Tensor};

use super::{Act, ActConfig, Norm, NormConfig};
use crate::monai_weights::{MonaiKeyMap, MonaiKeys};
use crate::ModelError;

/// The arguments of MONAI's `monai.networks.blocks.ADN` for 3D volumes, with MONAI's
/// defaults (`ordering="NDA"`, `act="RELU"`, `norm=None`, no dropout).
///
/// Dropout is element-wise (MONAI's `dropout_dim=1`, `torch.nn.Dropout`); a probability of 0
/// leaves the layer out (MONAI keeps an identity `Dropout(p=0.0)` that holds no weights).
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::blocks::{ActConfig, AdnConfig, NormConfig};
///
/// let device = Device::flex();
/// // MONAI: ADN(ordering="NA", in_channels=4, act="PRELU", norm="INSTANCE")
/// let config = AdnConfig::new(4)
///     .with_ordering("NA".into())
///     .with_act(ActConfig::prelu())
///     .with_norm(NormConfig::instance());
/// let adn = config.init(&device)?;
/// assert_eq!(adn.ordering, "NA");
/// assert_eq!(adn.forward(Tensor::<5>::ones([1, 4, 2, 2, 2], &device)).dims(), [1, 4, 2, 2, 2]);
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct AdnConfig {
    /// Channels of the input (for the normalization and per-channel PReLU slopes).
    pub in_channels: usize,
    /// Order of normalization (`N`), dropout (`D`) and activation (`A`); each at most once,
    /// either case. A letter left out leaves its layer out.
    #[config(default = "String::from(\"NDA\")")]
    pub ordering: String,
    /// The activation.
    #[config(default = "ActConfig::Relu")]
    pub act: ActConfig,
    /// The normalization.
    #[config(default = "NormConfig::None")]
    pub norm: NormConfig,
    /// Dropout probability, in `[0, 1)` (MONAI's `dropout`; `None` there is 0 here).
    #[config(default = 0.0)]
    pub dropout: f64,
}

impl AdnConfig {
    /// Checks the ordering, dropout, normalization and activation.
    ///
    /// ```
    /// use medburn_models::blocks::AdnConfig;
    /// assert!(AdnConfig::new(2).validate().is_ok());
    /// assert!(AdnConfig::new(2).with_ordering("NNA".into()).validate().is_err());
    /// assert!(AdnConfig::new(2).with_ordering("NDX".into()).validate().is_err());
    /// assert!(AdnConfig::new(2).with_dropout(1.0).validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), ModelError> {
        validate_ordering(&self.ordering)?;
        validate_dropout(self.dropout)?;
        self.norm.validate()?;
        self.act.validate(self.in_channels)
    }

    /// Builds the block: the layers named in [`ordering`](Self::ordering) that exist (a
    /// normalization or activation of `None`, or dropout 0, is left out).
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use medburn_models::blocks::{AdnConfig, NormConfig};
    ///
    /// let adn = AdnConfig::new(3).with_norm(NormConfig::batch()).init(&Device::flex())?;
    /// assert_eq!(adn.ordering, "NA"); // no dropout
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn init(&self, device: &Device) -> Result<Adn, ModelError> {
        self.validate()?;
        let mut adn = Adn {
            norm: None,
            dropout: None,
            act: None,
            ordering: String::new(),
        };
        for c in self.ordering.to_uppercase().chars() {
            let present = match c {
                'N' => {
                    adn.norm = self.norm.init(self.in_channels, device)?;
                    adn.norm.is_some()
                }
                'D' => {
                    if self.dropout > 0.0 {
                        adn.dropout = Some(DropoutConfig::new(self.dropout).init());
                    }
                    adn.dropout.is_some()
                }
                _ => {
                    adn.act = self.act.init(self.in_channels, device)?;
                    adn.act.is_some()
                }
            };
            if present {
                adn.ordering.push(c);
            }
        }
        Ok(adn)
    }

    /// Whether the block would hold no layer at all (MONAI's `Convolution` then has no `adn`).
    ///
    /// ```
    /// use medburn_models::blocks::{ActConfig, AdnConfig};
    /// assert!(AdnConfig::new(2).with_act(ActConfig::None).is_empty());
    /// assert!(!AdnConfig::new(2).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.act == ActConfig::None && self.norm == NormConfig::None && self.dropout == 0.0
    }

    /// The block's ADN: `None` for a convolution-only block or when no layer is asked for.
    pub(crate) fn init_unless(
        &self,
        conv_only: bool,
        device: &Device,
    ) -> Result<Option<Adn>, ModelError> {
        if conv_only || self.is_empty() {
            Ok(None)
        } else {
            Ok(Some(self.init(device)?))
        }
    }
}

pub(crate) fn validate_ordering(ordering: &str) -> Result<(), ModelError> {
    let upper = ordering.to_uppercase();
    for (i, c) in upper.chars().enumerate() {
        if !"NDA".contains(c) || upper.chars().take(i).any(|d| d == c) {
            return Err(ModelError::InvalidConfig(format!(
                "ADN ordering takes each of N, D, A at most once, got {ordering:?}"
            )));
        }
    }
    Ok(())
}

pub(crate) fn validate_dropout(dropout: f64) -> Result<(), ModelError> {
    if !(0.0..1.0).contains(&dropout) {
        return Err(ModelError::InvalidConfig(format!(
            "`dropout` must be in [0, 1), got {dropout}"
        )));
    }
    Ok(())
}

/// Normalization (`N`), dropout (`D`) and activation (`A`) applied in the order of
/// [`ordering`](Adn::ordering), as MONAI's `monai.networks.blocks.ADN`. Built by
/// [`AdnConfig::init`]. Dropout acts only while training on an autodiff device.
///
/// MONAI keys: `N.*` (the normalization's), `A.weight` (a PReLU's slopes).
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::UNet3dConfig;
///
/// let device = Device::flex();
/// let model = UNet3dConfig::new(1, 2, vec![4, 8], vec![2]).init(&device)?;
/// // The first encoder block: Conv3d, then instance norm and PReLU ("NDA", no dropout).
/// let medburn_models::DownLayer::Plain(block) = &model.down[0] else { unreachable!() };
/// let adn = block.adn.as_ref().unwrap();
/// assert_eq!(adn.ordering, "NA");
/// let y = adn.forward(Tensor::<5>::ones([1, 4, 2, 2, 2], &device));
/// assert_eq!(y.dims(), [1, 4, 2, 2, 2]);
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Module, Debug)]
pub struct Adn {
    /// `N`: the normalization (MONAI key `N`).
    pub norm: Option<Norm>,
    /// `D`: dropout (no weights).
    pub dropout: Option<Dropout>,
    /// `A`: the activation (MONAI key `A`).
    pub act: Option<Act>,
    /// The letters of the layers present, in the order they apply (upper case).
    pub ordering: String,
}

impl Adn {
    /// Applies the layers in [`ordering`](Adn::ordering).
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::blocks::{ActConfig, AdnConfig};
    ///
    /// let device = Device::flex();
    /// let adn = AdnConfig::new(1).with_act(ActConfig::prelu()).init(&device)?;
    /// let y = adn.forward(Tensor::<5>::full([1, 1, 1, 1, 2], -4.0, &device));
    /// assert_eq!(y.into_data().try_to_vec::<f32>().unwrap(), vec![-1.0, -1.0]);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn forward(&self, mut x: Tensor<5>) -> Tensor<5> {
        for op in self.ordering.chars() {
            x = match op {
                'N' => match &self.norm {
                    Some(norm) => norm.forward(x),
                    None => x,
                },
                'D' => match &self.dropout {
                    Some(dropout) => dropout.forward(x),
                    None => x,
                },
                'A' => match &self.act {
                    Some(act) => act.forward(x),
                    None => x,
                },
                _ => x,
            };
        }
        x
    }
}

impl MonaiKeys for Adn {
    fn push_monai_keys(&self, monai: &str, burn: &str, map: &mut MonaiKeyMap) {
        self.norm
            .push_monai_keys(&format!("{monai}N."), &format!("{burn}norm."), map);
        self.act
            .push_monai_keys(&format!("{monai}A."), &format!("{burn}act."), map);
    }
}

/// `y` through `adn` where there is one (a convolution block's second half).
pub(crate) fn apply(adn: &Option<Adn>, y: Tensor<5>) -> Tensor<5> {
    match adn {
        Some(adn) => adn.forward(y),
        None => y,
    }
}

/// The MONAI keys of a convolution block: `conv.*`, then `adn.*`.
pub(crate) fn push_block_keys(
    conv: &impl MonaiKeys,
    adn: &Option<Adn>,
    monai: &str,
    burn: &str,
    map: &mut MonaiKeyMap,
) {
    conv.push_monai_keys(&format!("{monai}conv."), &format!("{burn}conv."), map);
    adn.push_monai_keys(&format!("{monai}adn."), &format!("{burn}adn."), map);
}
