//! Bending energy of a displacement field, as MONAI's `BendingEnergyLoss`.

use burn::config::Config;
use burn::tensor::Tensor;

use super::{accumulate, check_field, interior, per_component, Reduction};

/// The options of [`BendingEnergyLoss`], named as MONAI's `BendingEnergyLoss` arguments.
///
/// ```
/// use medburn_register::BendingEnergyLossConfig;
/// // MONAI: BendingEnergyLoss(normalize=True)
/// assert!(BendingEnergyLossConfig::new().with_normalize(true).init().config().normalize);
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct BendingEnergyLossConfig {
    /// Scale each derivative by the field's size so that the value hardly depends on the
    /// field's resolution: `∂²u_c/∂x_i∂x_j` times `n_i n_j / n_c`.
    #[config(default = false)]
    pub normalize: bool,
    /// Mean or sum over every interior voxel, component and batch element.
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
}

impl BendingEnergyLossConfig {
    /// Makes the loss.
    pub fn init(&self) -> BendingEnergyLoss {
        BendingEnergyLoss {
            config: self.clone(),
        }
    }
}

/// The bending energy of a displacement field `[N, 3, D, H, W]` (in voxels), as MONAI's
/// `BendingEnergyLoss`: at each interior voxel and for each component,
/// `Σ_i (∂²u/∂x_i²)² + 2 Σ_{i<j} (∂²u/∂x_i∂x_j)²`, with the compact central differences
/// `u[i+1] - 2u[i] + u[i-1]` and `(u[i+1,j+1] - u[i+1,j-1] - u[i-1,j+1] + u[i-1,j-1]) / 4`.
/// Zero for any affine field: it penalizes bending, not stretching or shifting.
///
/// ```
/// use burn::tensor::{Device, Distribution, Tensor};
/// use medburn_register::BendingEnergyLossConfig;
///
/// let device = Device::flex();
/// let loss = BendingEnergyLossConfig::new().init();
/// // A linear field (a shear: u_D = 0.1 x_W) does not bend.
/// let w = Tensor::<1, burn::tensor::Int>::arange(0..5, &device).float().reshape([1, 1, 1, 1, 5]);
/// let shear = Tensor::cat(vec![w.expand([1, 1, 5, 5, 5]) * 0.1, Tensor::zeros([1, 2, 5, 5, 5], &device)], 1);
/// assert!(loss.forward(shear)?.into_scalar::<f32>().abs() < 1e-10);
/// let noise = Tensor::<5>::random([1, 3, 5, 5, 5], Distribution::Default, &device);
/// assert!(loss.forward(noise)?.into_scalar::<f32>() > 0.01);
/// # Ok::<(), medburn_register::RegistrationError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BendingEnergyLoss {
    config: BendingEnergyLossConfig,
}

impl BendingEnergyLoss {
    /// The options.
    pub fn config(&self) -> &BendingEnergyLossConfig {
        &self.config
    }

    /// The loss (a tensor of one element).
    pub fn forward(&self, ddf: Tensor<5>) -> crate::Result<Tensor<1>> {
        Ok(self.config.reduction.apply(self.energy(ddf)?))
    }

    /// The energy at each interior voxel, `[N, 3, D - 2, H - 2, W - 2]` (MONAI's
    /// `reduction="none"`).
    pub fn energy(&self, ddf: Tensor<5>) -> crate::Result<Tensor<5>> {
        check_field(&ddf)?;
        let [_, _, d, h, w] = ddf.dims();
        let sizes = [d, h, w];
        let shift = |pairs: &[(usize, i32)]| {
            let mut s = [0i32; 3];
            for &(axis, by) in pairs {
                s[axis] = by;
            }
            interior(&ddf, s)
        };
        let centre = shift(&[]);
        let mut energy = None;
        for a in 0..3 {
            let mut d2 = shift(&[(a, 1)]) - centre.clone() * 2.0 + shift(&[(a, -1)]);
            if self.config.normalize {
                d2 = d2 * per_component(&ddf, (sizes[a] * sizes[a]) as f64);
            }
            energy = accumulate(energy, d2.powi_scalar(2));
            for b in a + 1..3 {
                let mut mixed = (shift(&[(a, 1), (b, 1)])
                    - shift(&[(a, 1), (b, -1)])
                    - shift(&[(a, -1), (b, 1)])
                    + shift(&[(a, -1), (b, -1)]))
                    / 4.0;
                if self.config.normalize {
                    mixed = mixed * per_component(&ddf, (sizes[a] * sizes[b]) as f64);
                }
                energy = accumulate(energy, mixed.powi_scalar(2) * 2.0);
            }
        }
        Ok(energy.expect("three axes"))
    }
}
