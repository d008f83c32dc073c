//! Soft Dice loss on logits and label maps, as MONAI's `DiceLoss(to_onehot_y=True, softmax=True)`.

use burn::config::Config;
use burn::tensor::activation::softmax;
use burn::tensor::{Int, Tensor};

use super::check::{logits_and_labels, non_negative};
use super::{one_hot, InputError};

/// The options of [`DiceLoss`], named as MONAI's `DiceLoss` arguments, with MONAI's
/// defaults. The loss always applies softmax to the logits and one-hot encodes the labels
/// (MONAI's `softmax=True, to_onehot_y=True`) and averages (`reduction="mean"`).
///
/// ```
/// use medburn_train::losses::DiceLossConfig;
///
/// // MONAI: DiceLoss(include_background=False, to_onehot_y=True, softmax=True, batch=True)
/// let loss = DiceLossConfig::new().with_include_background(false).with_batch(true).init();
/// assert!(loss.config().batch);
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct DiceLossConfig {
    /// Whether class 0 (background) counts; when false its channel is dropped from the loss
    /// (still part of the softmax).
    #[config(default = true)]
    pub include_background: bool,
    /// Sum over the batch before dividing (one Dice per class) instead of one per sample
    /// and class.
    #[config(default = false)]
    pub batch: bool,
    /// Square the probabilities in the denominator.
    #[config(default = false)]
    pub squared_pred: bool,
    /// Jaccard (IoU) loss instead of Dice.
    #[config(default = false)]
    pub jaccard: bool,
    /// Added to the numerator.
    #[config(default = 1e-5)]
    pub smooth_nr: f64,
    /// Added to the denominator.
    #[config(default = 1e-5)]
    pub smooth_dr: f64,
}

impl DiceLossConfig {
    /// Makes the loss. The options are checked when it is applied (smoothing terms finite
    /// and not negative).
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use medburn_train::losses::DiceLossConfig;
    ///
    /// let device = Device::flex();
    /// let (x, y) = (Tensor::<5>::zeros([1, 2, 2, 2, 2], &device), Tensor::<5, Int>::zeros([1, 1, 2, 2, 2], &device));
    /// assert!(DiceLossConfig::new().init().forward(x.clone(), y.clone()).is_ok());
    /// assert!(DiceLossConfig::new().with_smooth_dr(-1.0).init().forward(x, y).is_err());
    /// ```
    pub fn init(&self) -> DiceLoss {
        DiceLoss {
            config: self.clone(),
        }
    }

    /// Checks the options.
    pub(crate) fn check(&self) -> Result<(), InputError> {
        non_negative("smooth_nr", self.smooth_nr)?;
        non_negative("smooth_dr", self.smooth_dr)
    }
}

/// Soft Dice loss of logits `[N, C, D, H, W]` (`C >= 2` classes) against a label map
/// `[N, 1, D, H, W]` of class indices in `0..C`, as MONAI's
/// `DiceLoss(to_onehot_y=True, softmax=True, reduction="mean")`:
/// `p = softmax(logits)`, `t = one_hot(labels)`, and for each sample and class (each class
/// with `batch`), `1 - (2 Σ p t + smooth_nr) / (Σ p + Σ t + smooth_dr)`, averaged.
/// With `squared_pred` the denominator sums `p²` instead of `p`; with `jaccard` the loss is
/// `1 - (2 Σ p t + smooth_nr) / (2 (Σ p + Σ t - Σ p t) + smooth_dr)`.
///
/// ```
/// use burn::tensor::{Device, Int, Tensor};
/// use medburn_train::losses::DiceLossConfig;
///
/// let device = Device::flex().autodiff();
/// let logits = Tensor::<5>::zeros([1, 2, 1, 1, 2], &device).require_grad();
/// let labels = Tensor::<5, Int>::from_data([[[[[0, 1]]]]], &device);
/// let loss = DiceLossConfig::new().init().forward(logits.clone(), labels)?;
/// // p = 0.5 everywhere: each class has Dice 2 * 0.5 / (1 + 1).
/// assert!((loss.clone().into_scalar::<f32>() - 0.5).abs() < 1e-5);
/// let grads = loss.backward();
/// assert_eq!(logits.grad(&grads).unwrap().dims(), [1, 2, 1, 1, 2]);
/// # Ok::<(), medburn_train::losses::InputError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DiceLoss {
    config: DiceLossConfig,
}

impl DiceLoss {
    /// The options.
    ///
    /// ```
    /// use medburn_train::losses::DiceLossConfig;
    ///
    /// assert!(DiceLossConfig::new().init().config().include_background);
    /// # Ok::<(), medburn_train::losses::InputError>(())
    /// ```
    pub fn config(&self) -> &DiceLossConfig {
        &self.config
    }

    /// The mean loss, a tensor of one element.
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use medburn_train::losses::DiceLossConfig;
    ///
    /// let device = Device::flex();
    /// let labels = Tensor::<5, Int>::from_data([[[[[0, 1]]]]], &device);
    /// // Confident and right: the loss is near 0.
    /// let logits = Tensor::<5>::from_data([[[[[20.0, -20.0]]], [[[-20.0, 20.0]]]]], &device);
    /// let loss = DiceLossConfig::new().init().forward(logits, labels)?;
    /// assert!(loss.into_scalar::<f32>() < 1e-5);
    /// # Ok::<(), medburn_train::losses::InputError>(())
    /// ```
    pub fn forward(
        &self,
        logits: Tensor<5>,
        labels: Tensor<5, Int>,
    ) -> Result<Tensor<1>, InputError> {
        Ok(self.per_class(logits, labels)?.mean())
    }

    /// The loss before averaging (MONAI's `reduction="none"`): `[N, C']` per sample and
    /// class, or `[1, C']` with `batch`, where `C' = C - 1` without the background.
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use medburn_train::losses::DiceLossConfig;
    ///
    /// let device = Device::flex();
    /// let logits = Tensor::<5>::zeros([2, 3, 2, 2, 2], &device);
    /// let labels = Tensor::<5, Int>::zeros([2, 1, 2, 2, 2], &device);
    /// let loss = DiceLossConfig::new().with_include_background(false).init();
    /// assert_eq!(loss.per_class(logits, labels)?.dims(), [2, 2]);
    /// # Ok::<(), medburn_train::losses::InputError>(())
    /// ```
    pub fn per_class(
        &self,
        logits: Tensor<5>,
        labels: Tensor<5, Int>,
    ) -> Result<Tensor<2>, InputError> {
        self.config.check()?;
        let c = logits_and_labels(&logits, &labels)?;
        Ok(self.per_class_of(softmax(logits, 1), one_hot(labels, c)?))
    }

    /// [`Self::per_class`] from the class probabilities `p` and the one-hot targets `t`, both
    /// `[N, C, D, H, W]` and checked by the caller.
    pub(crate) fn per_class_of(&self, p: Tensor<5>, t: Tensor<5>) -> Tensor<2> {
        let c = p.dims()[1];
        let (mut p, mut t) = (p, t);
        if !self.config.include_background {
            p = p.narrow(1, 1, c - 1);
            t = t.narrow(1, 1, c - 1);
        }
        let reduce = |x: Tensor<5>| -> Tensor<2> {
            let [n, c, ..] = x.dims();
            let x = x.sum_dims(&[2, 3, 4]).reshape([n, c]);
            if self.config.batch {
                x.sum_dim(0)
            } else {
                x
            }
        };
        let intersection = reduce(p.clone() * t.clone());
        let pred = if self.config.squared_pred {
            reduce(p.powi_scalar(2))
        } else {
            reduce(p)
        };
        let truth = reduce(t);
        let numerator = intersection.clone() * 2.0 + self.config.smooth_nr;
        let denominator = if self.config.jaccard {
            (pred + truth - intersection) * 2.0 + self.config.smooth_dr
        } else {
            pred + truth + self.config.smooth_dr
        };
        (numerator / denominator).neg() + 1.0
    }
}
