//! Local normalized cross-correlation, as MONAI's `LocalNormalizedCrossCorrelationLoss`.

use burn::config::Config;
use burn::tensor::Tensor;
use medburn_ops::{separable_filter_3d, Padding};
use serde::{Deserialize, Serialize};

use super::{check_pair, check_smoothing, Reduction};
use crate::error::RegistrationError;

/// The window the local statistics are taken over (MONAI's `kernel_type`).
///
/// ```
/// use medburn_register::KernelType;
/// assert_eq!(KernelType::Rectangular.window(3), vec![1.0, 1.0, 1.0]);
/// // MONAI's triangle: a box of (size + 1) / 2 taps (made odd) correlated with itself.
/// let t = KernelType::Triangular.window(5);
/// assert!((t[2] - 3.0 / 9.0).abs() < 1e-12 && (t[0] - 1.0 / 9.0).abs() < 1e-12);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KernelType {
    /// Equal weights (a box).
    #[default]
    Rectangular,
    /// A triangle: a box correlated with itself.
    Triangular,
    /// A Gaussian of standard deviation `size / 3`, not normalized.
    Gaussian,
}

impl KernelType {
    /// The 1D window of `size` taps, as MONAI's `make_rectangular_kernel`,
    /// `make_triangular_kernel` and `make_gaussian_kernel` (not normalized: the loss divides by
    /// the 3D window's sum).
    pub fn window(self, size: usize) -> Vec<f64> {
        match self {
            KernelType::Rectangular => vec![1.0; size],
            KernelType::Triangular => {
                // A box of `f` taps (odd), zero-padded by `pad` on each side, correlated with
                // itself: `2 pad + 1` taps.
                let mut f = size.div_ceil(2);
                if f.is_multiple_of(2) {
                    f -= 1;
                }
                let pad = (size - f) / 2 + f / 2;
                let tap = 1.0 / f as f64;
                (0..2 * pad + 1)
                    .map(|i| {
                        (0..f)
                            .filter(|j| (pad..pad + f).contains(&(i + j)))
                            .map(|_| tap * tap)
                            .sum()
                    })
                    .collect()
            }
            KernelType::Gaussian => {
                let sigma = size as f64 / 3.0;
                let half = (size / 2) as i64;
                (-half..=half)
                    .map(|x| (-0.5 / (sigma * sigma) * (x * x) as f64).exp())
                    .collect()
            }
        }
    }
}

/// The options of [`LocalNormalizedCrossCorrelationLoss`], named as MONAI's
/// `LocalNormalizedCrossCorrelationLoss(spatial_dims=3, ...)` arguments, with its defaults.
///
/// ```
/// use medburn_register::{KernelType, LocalNormalizedCrossCorrelationLossConfig};
///
/// // MONAI: LocalNormalizedCrossCorrelationLoss(kernel_size=7, kernel_type="gaussian")
/// let loss = LocalNormalizedCrossCorrelationLossConfig::new()
///     .with_kernel_size(7)
///     .with_kernel_type(KernelType::Gaussian)
///     .init();
/// assert_eq!(loss.config().kernel_size, 7);
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct LocalNormalizedCrossCorrelationLossConfig {
    /// Taps of the window along each axis (odd).
    #[config(default = 3)]
    pub kernel_size: usize,
    /// The window's shape.
    #[config(default = "KernelType::Rectangular")]
    pub kernel_type: KernelType,
    /// Mean or sum over every voxel, channel and batch element.
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Added to the squared covariance.
    #[config(default = 0.0)]
    pub smooth_nr: f64,
    /// The least variance of each image in a window (keeps flat regions from dividing by 0).
    #[config(default = 1e-5)]
    pub smooth_dr: f64,
}

impl LocalNormalizedCrossCorrelationLossConfig {
    /// Makes the loss; the options are checked when it is applied.
    pub fn init(&self) -> LocalNormalizedCrossCorrelationLoss {
        let window = self.kernel_type.window(self.kernel_size);
        let sum: f64 = window.iter().sum();
        LocalNormalizedCrossCorrelationLoss {
            config: self.clone(),
            volume: sum * sum * sum,
            window,
        }
    }
}

/// Minus the squared local correlation coefficient of two images, averaged (or summed) over
/// voxels, as MONAI's `LocalNormalizedCrossCorrelationLoss`. In each window (zero padding at
/// the border) with sums `Σp, Σt, Σp², Σt², Σpt` weighted by the window and its total weight
/// `V`: `cross = Σpt - Σp Σt / V`, `var_t = max(Σt² - (Σt)² / V, smooth_dr)` (and `var_p`),
/// and the voxel's value `(cross² + smooth_nr) / (var_p var_t)`, in `[0, 1]`. The loss is in
/// `[-1, 0]`; `-1` is a perfect local linear match.
///
/// ```
/// use burn::tensor::{Device, Distribution, Tensor};
/// use medburn_register::LocalNormalizedCrossCorrelationLossConfig;
///
/// let device = Device::flex();
/// let loss = LocalNormalizedCrossCorrelationLossConfig::new().init();
/// let a = Tensor::<5>::random([1, 1, 6, 6, 6], Distribution::Default, &device);
/// // A change of contrast keeps the local correlation perfect (an offset would too, but for
/// // the border windows, where the zero padding does not move with it).
/// let b = a.clone() * 3.0;
/// assert!((loss.forward(a.clone(), b)?.into_scalar::<f32>() + 1.0).abs() < 1e-3);
/// // Unrelated noise does not.
/// let c = Tensor::<5>::random([1, 1, 6, 6, 6], Distribution::Default, &device);
/// assert!(loss.forward(a, c)?.into_scalar::<f32>() > -0.5);
/// # Ok::<(), medburn_register::RegistrationError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LocalNormalizedCrossCorrelationLoss {
    config: LocalNormalizedCrossCorrelationLossConfig,
    /// The 1D window.
    window: Vec<f64>,
    /// The 3D window's total weight.
    volume: f64,
}

impl LocalNormalizedCrossCorrelationLoss {
    /// The options.
    pub fn config(&self) -> &LocalNormalizedCrossCorrelationLossConfig {
        &self.config
    }

    /// The loss (a tensor of one element).
    pub fn forward(&self, pred: Tensor<5>, target: Tensor<5>) -> crate::Result<Tensor<1>> {
        Ok(self.config.reduction.apply(self.ncc(pred, target)?).neg())
    }

    /// The squared local correlation coefficient at every voxel, `[N, C, D, H, W]` (MONAI's
    /// `reduction="none"`, negated).
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_register::LocalNormalizedCrossCorrelationLossConfig;
    ///
    /// let loss = LocalNormalizedCrossCorrelationLossConfig::new().with_kernel_size(4).init();
    /// let a = Tensor::<5>::ones([1, 1, 4, 4, 4], &Device::flex());
    /// assert!(loss.ncc(a.clone(), a).is_err()); // an even window has no centre
    /// ```
    pub fn ncc(&self, pred: Tensor<5>, target: Tensor<5>) -> crate::Result<Tensor<5>> {
        let c = &self.config;
        if c.kernel_size.is_multiple_of(2) {
            return Err(RegistrationError::Option(format!(
                "kernel_size must be odd, got {}",
                c.kernel_size
            )));
        }
        check_smoothing("smooth_nr", c.smooth_nr)?;
        check_smoothing("smooth_dr", c.smooth_dr)?;
        check_pair(&pred, &target)?;
        let k = self.window.as_slice();
        let filter = |x: Tensor<5>| separable_filter_3d(x, [k, k, k], Padding::Zeros);
        let t_sum = filter(target.clone())?;
        let p_sum = filter(pred.clone())?;
        let t2_sum = filter(target.clone() * target.clone())?;
        let p2_sum = filter(pred.clone() * pred.clone())?;
        let tp_sum = filter(target * pred)?;
        let t_avg = t_sum.clone() / self.volume;
        let p_avg = p_sum.clone() / self.volume;
        let cross = tp_sum - p_avg.clone() * t_sum.clone();
        let t_var = (t2_sum - t_avg * t_sum).clamp_min(c.smooth_dr);
        let p_var = (p2_sum - p_avg * p_sum).clamp_min(c.smooth_dr);
        Ok((cross.clone() * cross + c.smooth_nr) / (t_var * p_var))
    }
}
