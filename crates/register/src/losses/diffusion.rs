//! Diffusion regularization of a displacement field, as MONAI's `DiffusionLoss`.

use burn::config::Config;
use burn::tensor::Tensor;

use super::{accumulate, central_difference, check_field, per_component, Reduction};

/// The options of [`DiffusionLoss`], named as MONAI's `DiffusionLoss` arguments.
///
/// ```
/// use medburn_register::DiffusionLossConfig;
/// // MONAI: DiffusionLoss(reduction="sum")
/// let loss = DiffusionLossConfig::new().with_reduction(medburn_register::Reduction::Sum).init();
/// assert_eq!(loss.config().reduction, medburn_register::Reduction::Sum);
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct DiffusionLossConfig {
    /// Scale each derivative `∂u_c/∂x_i` by `n_i / n_c` so that the value hardly depends on
    /// the field's resolution.
    #[config(default = false)]
    pub normalize: bool,
    /// Mean or sum over every interior voxel, component and batch element.
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
}

impl DiffusionLossConfig {
    /// Makes the loss.
    pub fn init(&self) -> DiffusionLoss {
        DiffusionLoss {
            config: self.clone(),
        }
    }
}

/// The squared first derivatives of a displacement field `[N, 3, D, H, W]` (in voxels), as
/// MONAI's `DiffusionLoss` and VoxelMorph's smoothness term: at each interior voxel and for
/// each component, `Σ_i (∂u/∂x_i)²` with central differences `(u[i+1] - u[i-1]) / 2`. Zero for
/// a translation.
///
/// ```
/// use burn::tensor::{Device, Distribution, Tensor};
/// use medburn_register::DiffusionLossConfig;
///
/// let device = Device::flex();
/// let loss = DiffusionLossConfig::new().init();
/// let shift = Tensor::<5>::ones([1, 3, 4, 4, 4], &device) * 2.5;
/// assert_eq!(loss.forward(shift)?.into_scalar::<f32>(), 0.0);
/// let noise = Tensor::<5>::random([1, 3, 4, 4, 4], Distribution::Default, &device);
/// assert!(loss.forward(noise)?.into_scalar::<f32>() > 0.0);
/// # Ok::<(), medburn_register::RegistrationError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DiffusionLoss {
    config: DiffusionLossConfig,
}

impl DiffusionLoss {
    /// The options.
    pub fn config(&self) -> &DiffusionLossConfig {
        &self.config
    }

    /// The loss (a tensor of one element).
    pub fn forward(&self, ddf: Tensor<5>) -> crate::Result<Tensor<1>> {
        Ok(self.config.reduction.apply(self.diffusion(ddf)?))
    }

    /// The squared gradient norm at each interior voxel, `[N, 3, D - 2, H - 2, W - 2]`
    /// (MONAI's `reduction="none"`).
    pub fn diffusion(&self, ddf: Tensor<5>) -> crate::Result<Tensor<5>> {
        check_field(&ddf)?;
        let [_, _, d, h, w] = ddf.dims();
        let sizes = [d, h, w];
        let mut sum = None;
        for (a, &size) in sizes.iter().enumerate() {
            let mut g = central_difference(&ddf, a, 1.0);
            if self.config.normalize {
                g = g * per_component(&ddf, size as f64);
            }
            sum = accumulate(sum, g.powi_scalar(2));
        }
        Ok(sum.expect("three axes"))
    }
}
