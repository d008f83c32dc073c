//! Dice + cross-entropy, as MONAI's `DiceCELoss(to_onehot_y=True, softmax=True)`.

use burn::config::Config;
use burn::tensor::{Int, Tensor};

use super::check::non_negative;
use burn::tensor::activation::log_softmax;

use super::check::logits_and_labels;
use super::cross_entropy::cross_entropy_of;
use super::one_hot;
use super::{DiceLoss, DiceLossConfig, InputError};

/// The options of [`DiceCeLoss`], named as MONAI's `DiceCELoss` arguments, with MONAI's
/// defaults. Softmax and one-hot labels are implied (`softmax=True, to_onehot_y=True`),
/// reduction is the mean; MONAI's class `weight` is not supported.
///
/// ```
/// use burn::config::Config;
/// use medburn_train::losses::DiceCeLossConfig;
///
/// // MONAI: DiceCELoss(to_onehot_y=True, softmax=True, include_background=False, lambda_ce=0.5)
/// let config = DiceCeLossConfig::new().with_include_background(false).with_lambda_ce(0.5);
/// let json = serde_json::to_string(&config).unwrap();
/// assert!(json.contains("\"lambda_dice\":1.0"));
/// let loss = config.init();
/// assert!(!loss.config().include_background);
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct DiceCeLossConfig {
    /// Whether class 0 counts in the Dice part (the cross-entropy always includes it).
    #[config(default = true)]
    pub include_background: bool,
    /// Dice over the whole batch per class instead of per sample and class.
    #[config(default = false)]
    pub batch: bool,
    /// Square the probabilities in the Dice denominator.
    #[config(default = false)]
    pub squared_pred: bool,
    /// Jaccard instead of Dice.
    #[config(default = false)]
    pub jaccard: bool,
    /// Added to the Dice numerator.
    #[config(default = 1e-5)]
    pub smooth_nr: f64,
    /// Added to the Dice denominator.
    #[config(default = 1e-5)]
    pub smooth_dr: f64,
    /// Weight of the Dice part.
    #[config(default = 1.0)]
    pub lambda_dice: f64,
    /// Weight of the cross-entropy part.
    #[config(default = 1.0)]
    pub lambda_ce: f64,
    /// Label smoothing of the cross-entropy, in `[0, 1]`.
    #[config(default = 0.0)]
    pub label_smoothing: f64,
}

impl DiceCeLossConfig {
    /// Makes the loss. The options are checked when it is applied (weights and smoothing
    /// terms finite and not negative, `label_smoothing <= 1`).
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use medburn_train::losses::{DiceCeLossConfig, InputError};
    ///
    /// let device = Device::flex();
    /// let (x, y) = (Tensor::<5>::zeros([1, 2, 2, 2, 2], &device), Tensor::<5, Int>::zeros([1, 1, 2, 2, 2], &device));
    /// let loss = DiceCeLossConfig::new().with_lambda_dice(-1.0).init();
    /// assert!(matches!(loss.forward(x.clone(), y.clone()), Err(InputError::Option(_))));
    /// let loss = DiceCeLossConfig::new().with_label_smoothing(1.5).init();
    /// assert!(matches!(loss.forward(x, y), Err(InputError::Option(_))));
    /// ```
    pub fn init(&self) -> DiceCeLoss {
        let dice = DiceLossConfig::new()
            .with_include_background(self.include_background)
            .with_batch(self.batch)
            .with_squared_pred(self.squared_pred)
            .with_jaccard(self.jaccard)
            .with_smooth_nr(self.smooth_nr)
            .with_smooth_dr(self.smooth_dr)
            .init();
        DiceCeLoss {
            config: self.clone(),
            dice,
        }
    }
}

/// `lambda_dice · Dice + lambda_ce · CE` of logits `[N, C, D, H, W]` (`C >= 2`) against a
/// label map `[N, 1, D, H, W]` of class indices in `0..C`, as MONAI's
/// `DiceCELoss(to_onehot_y=True, softmax=True)`: the Dice part is [`DiceLoss`], the CE part
/// [`cross_entropy`].
///
/// ```
/// use burn::tensor::{Device, Int, Tensor};
/// use medburn_train::losses::DiceCeLossConfig;
///
/// let device = Device::flex().autodiff();
/// let logits = Tensor::<5>::zeros([1, 2, 1, 1, 2], &device).require_grad();
/// let labels = Tensor::<5, Int>::from_data([[[[[0, 1]]]]], &device);
/// let loss = DiceCeLossConfig::new().init().forward(logits.clone(), labels)?;
/// // Dice 0.5 + CE ln 2.
/// assert!((loss.clone().into_scalar::<f32>() - (0.5 + 2f32.ln())).abs() < 1e-5);
/// let grads = loss.backward();
/// assert!(logits.grad(&grads).is_some());
/// # Ok::<(), medburn_train::losses::InputError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DiceCeLoss {
    config: DiceCeLossConfig,
    dice: DiceLoss,
}

impl DiceCeLoss {
    /// The options.
    ///
    /// ```
    /// use medburn_train::losses::DiceCeLossConfig;
    ///
    /// assert_eq!(DiceCeLossConfig::new().init().config().lambda_ce, 1.0);
    /// # Ok::<(), medburn_train::losses::InputError>(())
    /// ```
    pub fn config(&self) -> &DiceCeLossConfig {
        &self.config
    }

    /// The loss, a tensor of one element.
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use medburn_train::losses::DiceCeLossConfig;
    ///
    /// let device = Device::flex();
    /// let logits = Tensor::<5>::zeros([2, 3, 4, 4, 4], &device);
    /// let labels = Tensor::<5, Int>::zeros([2, 1, 4, 4, 4], &device);
    /// let loss = DiceCeLossConfig::new().init().forward(logits, labels)?;
    /// assert_eq!(loss.dims(), [1]);
    /// # Ok::<(), medburn_train::losses::InputError>(())
    /// ```
    pub fn forward(
        &self,
        logits: Tensor<5>,
        labels: Tensor<5, Int>,
    ) -> Result<Tensor<1>, InputError> {
        non_negative("lambda_dice", self.config.lambda_dice)?;
        non_negative("lambda_ce", self.config.lambda_ce)?;
        let smoothing = self.config.label_smoothing;
        non_negative("label_smoothing", smoothing)?;
        if smoothing > 1.0 {
            return Err(InputError::Option(format!(
                "label_smoothing must be in [0, 1], got {smoothing}"
            )));
        }
        self.dice.config().check()?;
        let c = logits_and_labels(&logits, &labels)?;
        // One log-softmax and one one-hot encoding for both terms (MONAI computes each twice):
        // the probabilities are its exponential.
        let log_p = log_softmax(logits, 1);
        let t = one_hot(labels, c)?;
        let dice = self
            .dice
            .per_class_of(log_p.clone().exp(), t.clone())
            .mean();
        let ce = cross_entropy_of(log_p, t, smoothing);
        Ok(dice * self.config.lambda_dice + ce * self.config.lambda_ce)
    }
}
