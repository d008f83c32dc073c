//! Global mutual information by Parzen windowing, as MONAI's `GlobalMutualInformationLoss`.

use burn::config::Config;
use burn::tensor::{Bool, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::{check_pair, check_smoothing, Reduction};
use crate::error::RegistrationError;

/// How each intensity is spread over the histogram's bins (MONAI's `kernel_type`).
///
/// ```
/// use medburn_register::ParzenWindow;
/// assert_eq!(ParzenWindow::default(), ParzenWindow::Gaussian);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParzenWindow {
    /// Gaussians at bin centres evenly spaced on `[0, 1]` (intensities clamped to `[0, 1]`),
    /// as DeepReg.
    #[default]
    #[serde(rename = "gaussian")]
    Gaussian,
    /// Mattes' scheme as ITK: bins spanning each image's own range, a cubic B-spline for
    /// `pred` and a box for `target`.
    #[serde(rename = "b-spline")]
    BSpline,
}

/// An image's Parzen weights `[N, samples, bins]` (normalized over bins) and its marginal
/// histogram `[N, 1, bins]`.
type Parzen = (Tensor<3>, Tensor<3>);

/// The options of [`GlobalMutualInformationLoss`], named as MONAI's
/// `GlobalMutualInformationLoss` arguments, with its defaults.
///
/// ```
/// use medburn_register::{GlobalMutualInformationLossConfig, ParzenWindow};
///
/// // MONAI: GlobalMutualInformationLoss(kernel_type="b-spline", num_bins=32)
/// let loss = GlobalMutualInformationLossConfig::new()
///     .with_kernel_type(ParzenWindow::BSpline)
///     .with_num_bins(32)
///     .init();
/// assert_eq!(loss.config().num_bins, 32);
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct GlobalMutualInformationLossConfig {
    /// The Parzen window.
    #[config(default = "ParzenWindow::Gaussian")]
    pub kernel_type: ParzenWindow,
    /// Histogram bins per image (at least 2; more than 4 for the B-spline window).
    #[config(default = 23)]
    pub num_bins: usize,
    /// The Gaussian window's standard deviation in bin spacings.
    #[config(default = 0.5)]
    pub sigma_ratio: f64,
    /// Mean or sum over the batch.
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Added to the joint probability inside the logarithm.
    #[config(default = 1e-7)]
    pub smooth_nr: f64,
    /// Added to the product of the marginals, and to the ratio, inside the logarithm.
    #[config(default = 1e-7)]
    pub smooth_dr: f64,
}

impl GlobalMutualInformationLossConfig {
    /// Makes the loss; the options are checked when it is applied.
    pub fn init(&self) -> GlobalMutualInformationLoss {
        GlobalMutualInformationLoss {
            config: self.clone(),
        }
    }
}

/// Minus the mutual information of two images' intensities, from their joint histogram over
/// all voxels and channels of each batch element (Parzen windows, so that it is
/// differentiable), as MONAI's `GlobalMutualInformationLoss`:
/// `MI = Σ p_ab log((p_ab + smooth_nr) / (p_a p_b + smooth_dr) + smooth_dr)`. It does not
/// care which intensity of one image goes with which of the other, only that the pairing is
/// consistent: the loss for pairs of different contrasts. With the Gaussian window,
/// intensities are expected in `[0, 1]`; with the B-spline window an image of one constant
/// value has no range to bin and gives NaN (as MONAI).
///
/// ```
/// use burn::tensor::{Device, Distribution, Tensor};
/// use medburn_register::GlobalMutualInformationLossConfig;
///
/// let device = Device::flex();
/// let loss = GlobalMutualInformationLossConfig::new().init();
/// let t1 = Tensor::<5>::random([1, 1, 8, 8, 8], Distribution::Default, &device);
/// // An inverted contrast carries all the information of the original...
/// let t2 = t1.clone().neg() + 1.0;
/// let same = loss.forward(t2, t1.clone())?.into_scalar::<f32>();
/// // ...unrelated noise almost none.
/// let noise = Tensor::<5>::random([1, 1, 8, 8, 8], Distribution::Default, &device);
/// let unrelated = loss.forward(noise, t1)?.into_scalar::<f32>();
/// assert!(same < unrelated - 0.5, "{same} {unrelated}");
/// # Ok::<(), medburn_register::RegistrationError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct GlobalMutualInformationLoss {
    config: GlobalMutualInformationLossConfig,
}

impl GlobalMutualInformationLoss {
    /// The options.
    pub fn config(&self) -> &GlobalMutualInformationLossConfig {
        &self.config
    }

    /// The loss (a tensor of one element).
    pub fn forward(&self, pred: Tensor<5>, target: Tensor<5>) -> crate::Result<Tensor<1>> {
        Ok(self
            .config
            .reduction
            .apply(self.mutual_information(pred, target)?)
            .neg())
    }

    /// The mutual information of each batch element, `[N]` (MONAI's `reduction="none"`,
    /// negated).
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_register::GlobalMutualInformationLossConfig;
    ///
    /// let loss = GlobalMutualInformationLossConfig::new().with_num_bins(1).init();
    /// let a = Tensor::<5>::ones([1, 1, 4, 4, 4], &Device::flex());
    /// assert!(loss.mutual_information(a.clone(), a).is_err()); // one bin is no histogram
    /// ```
    pub fn mutual_information(
        &self,
        pred: Tensor<5>,
        target: Tensor<5>,
    ) -> crate::Result<Tensor<1>> {
        self.check_options()?;
        check_pair(&pred, &target)?;
        let [n, ..] = pred.dims();
        let samples = pred.dims().iter().skip(1).product::<usize>();
        let ((wa, pa), (wb, pb)) = self.windows(pred, target);
        // Joint and product-of-marginals histograms, [N, bins, bins].
        let pab = wa.swap_dims(1, 2).matmul(wb) / samples as f64;
        Ok(self.information(pab, pa, pb, n))
    }

    /// [`mutual_information`](Self::mutual_information) over the voxels `mask` `[N, 1, D, H,
    /// W]` weights (in `[0, 1]`, e.g. where a warped image has data): each voxel counts in
    /// the histograms by its weight. Not in MONAI; with a mask of ones it is the same value.
    /// Registration uses it so that the region a moving image does not reach (zeros after
    /// resampling) is not a tissue class of its own.
    ///
    /// ```
    /// use burn::tensor::{Device, Distribution, Tensor};
    /// use medburn_register::GlobalMutualInformationLossConfig;
    ///
    /// let device = Device::flex();
    /// let loss = GlobalMutualInformationLossConfig::new().init();
    /// let a = Tensor::<5>::random([1, 1, 6, 6, 6], Distribution::Default, &device);
    /// let b = Tensor::<5>::random([1, 1, 6, 6, 6], Distribution::Default, &device);
    /// let plain = loss.mutual_information(a.clone(), b.clone())?.into_scalar::<f32>();
    /// let ones = Tensor::<5>::ones([1, 1, 6, 6, 6], &device);
    /// let masked = loss.mutual_information_masked(a, b, ones)?.into_scalar::<f32>();
    /// assert!((plain - masked).abs() < 1e-5);
    /// # Ok::<(), medburn_register::RegistrationError>(())
    /// ```
    pub fn mutual_information_masked(
        &self,
        pred: Tensor<5>,
        target: Tensor<5>,
        mask: Tensor<5>,
    ) -> crate::Result<Tensor<1>> {
        self.check_options()?;
        check_pair(&pred, &target)?;
        let [n, ch, d, h, w] = pred.dims();
        if mask.dims() != [n, 1, d, h, w] || ch != 1 {
            return Err(RegistrationError::Shape(format!(
                "a masked mutual information takes one channel and a mask [N, 1, D, H, W]: \
                 pred {:?}, mask {:?}",
                pred.dims(),
                mask.dims()
            )));
        }
        let ((wa, _), (wb, _)) = self.windows(pred, target);
        let m = mask.reshape([n, d * h * w, 1]);
        let total = m.clone().sum_dim(1); // [N, 1, 1]
        let pab = (wa * m).swap_dims(1, 2).matmul(wb) / total;
        // Each sample's weights sum to 1 over bins: the marginals are the joint's sums.
        let pa = pab.clone().sum_dim(2).swap_dims(1, 2);
        let pb = pab.clone().sum_dim(1);
        Ok(self.information(pab, pa, pb, n))
    }

    /// Checks the options: enough bins for the window, a positive sigma ratio, smoothing
    /// terms finite and not negative.
    fn check_options(&self) -> crate::Result<()> {
        let c = &self.config;
        let least = match c.kernel_type {
            ParzenWindow::Gaussian => 2,
            ParzenWindow::BSpline => 5,
        };
        if c.num_bins < least {
            return Err(RegistrationError::Option(format!(
                "num_bins must be at least {least} for the {:?} window, got {}",
                c.kernel_type, c.num_bins
            )));
        }
        if !(c.sigma_ratio.is_finite() && c.sigma_ratio > 0.0) {
            return Err(RegistrationError::Option(format!(
                "sigma_ratio must be finite and > 0, got {}",
                c.sigma_ratio
            )));
        }
        check_smoothing("smooth_nr", c.smooth_nr)?;
        check_smoothing("smooth_dr", c.smooth_dr)
    }

    /// The Parzen weights and marginals of `pred` and of `target` for the configured window
    /// (with the B-spline window, cubic for `pred` and a box for `target`, as MONAI).
    fn windows(&self, pred: Tensor<5>, target: Tensor<5>) -> (Parzen, Parzen) {
        match self.config.kernel_type {
            ParzenWindow::Gaussian => (self.gaussian(pred), self.gaussian(target)),
            ParzenWindow::BSpline => (self.bspline(pred, true), self.bspline(target, false)),
        }
    }

    /// `Σ p_ab log((p_ab + nr) / (p_a p_b + dr) + dr)` per batch element, `[N]`.
    fn information(&self, pab: Tensor<3>, pa: Tensor<3>, pb: Tensor<3>, n: usize) -> Tensor<1> {
        let c = &self.config;
        let papb = pa.swap_dims(1, 2).matmul(pb);
        let ratio = (pab.clone() + c.smooth_nr) / (papb + c.smooth_dr) + c.smooth_dr;
        (pab * ratio.log()).sum_dim(2).sum_dim(1).reshape([n])
    }

    /// Gaussian Parzen weights `[N, samples, bins]` (normalized over bins) and the marginal
    /// `[N, 1, bins]`.
    fn gaussian(&self, image: Tensor<5>) -> Parzen {
        let bins = self.config.num_bins;
        let [n, ..] = image.dims();
        let samples = image.dims().iter().skip(1).product::<usize>();
        let spacing = 1.0 / (bins - 1) as f64;
        let sigma = spacing * self.config.sigma_ratio;
        let preterm = 1.0 / (2.0 * sigma * sigma);
        let centres = self.row(&image, (0..bins).map(|i| i as f64 * spacing).collect());
        let x = clamp_as_torch(image, 0.0, 1.0).reshape([n, samples, 1]);
        let w = ((x - centres).powi_scalar(2) * -preterm).exp();
        Self::normalized(w)
    }

    /// Mattes' B-spline Parzen weights (`cubic`: order 3, else order 0) over bins spanning the
    /// image's range with two bins of padding on each side, as ITK and MONAI.
    fn bspline(&self, image: Tensor<5>, cubic: bool) -> Parzen {
        const PADDING: f64 = 2.0;
        let bins = self.config.num_bins;
        let [n, ..] = image.dims();
        let samples = image.dims().iter().skip(1).product::<usize>();
        let max = image.clone().max().reshape([1, 1, 1, 1, 1]);
        let min = image.clone().min().reshape([1, 1, 1, 1, 1]);
        let bin_size = (max - min.clone()) / (bins as f64 - 2.0 * PADDING);
        let norm_min = min / bin_size.clone() - PADDING;
        let term = clamp_as_torch(
            image / bin_size - norm_min,
            PADDING,
            bins as f64 - PADDING - 1.0,
        )
        .reshape([n, samples, 1]);
        let centres = self.row(&term, (0..bins).map(|i| i as f64).collect());
        let s = (centres - term).abs();
        let indicator = |mask: Tensor<3, Bool>| s.zeros_like().mask_fill(mask, 1.0);
        let w = if cubic {
            let near = indicator(s.clone().lower_elem(1.0));
            let far =
                indicator(s.clone().greater_equal_elem(1.0)) * indicator(s.clone().lower_elem(2.0));
            let s2 = s.clone().powi_scalar(2);
            let s3 = s2.clone() * s.clone();
            (s2 * -6.0 + s3 * 3.0 + 4.0) * near / 6.0
                + (s.clone().neg() + 2.0).powi_scalar(3) * far / 6.0
        } else {
            indicator(s.clone().lower_elem(0.5)) + indicator(s.clone().equal_elem(0.5)) * 0.5
        };
        Self::normalized(w)
    }

    /// `values` as a `[1, 1, bins]` tensor on `like`'s device, in its type.
    fn row<const D: usize>(&self, like: &Tensor<D>, values: Vec<f64>) -> Tensor<3> {
        let bins = values.len();
        Tensor::from_data(
            TensorData::new(values, [1, 1, bins]),
            (&like.device(), like.dtype()),
        )
    }

    /// Weights normalized over bins, and their mean over samples.
    fn normalized(w: Tensor<3>) -> Parzen {
        let w = w.clone() / w.sum_dim(2);
        let p = w.clone().mean_dim(1);
        (w, p)
    }
}

/// `x` clamped to `[lo, hi]` with no gradient at the ends themselves, as `torch.clamp`'s
/// (Burn's passes it there): min-max scaled images reach 0 and 1 exactly, and MONAI's
/// gradients are zero at those voxels.
fn clamp_as_torch<const D: usize>(x: Tensor<D>, lo: f64, hi: f64) -> Tensor<D> {
    let inside = x
        .clone()
        .greater_elem(lo)
        .bool_and(x.clone().lower_elem(hi));
    let pass = x.zeros_like().detach().mask_fill(inside, 1.0);
    x.clone().clamp(lo, hi).detach() * (pass.clone().neg() + 1.0) + x * pass
}
