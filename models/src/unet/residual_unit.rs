//! MONAI's `ResidualUnit`: a chain of convolution blocks plus a residual path.

use crate::nn::Conv3d;
use burn::module::Module;
use burn::tensor::Tensor;

use super::Convolution;

/// `units` applied in turn, plus `residual(x)`, as MONAI's
/// `monai.networks.blocks.ResidualUnit`. The first unit carries the stride and changes the
/// channels; the residual path is the identity when neither changes, a `1x1x1` convolution
/// when only the channels change, and a strided convolution with the units' kernel and
/// padding otherwise. MONAI keys: `conv.unit{i}.*`, `residual.weight`, `residual.bias`.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::{DownLayer, UNet3dConfig};
///
/// let device = Device::flex();
/// let model = UNet3dConfig::new(1, 2, vec![4, 8], vec![2]).with_num_res_units(2).init(&device)?;
/// let DownLayer::Residual(unit) = &model.down[0] else { unreachable!() };
/// assert_eq!(unit.units.len(), 2);
/// assert_eq!(unit.residual.as_ref().unwrap().kernel_size, [3, 3, 3]); // strided: full kernel
/// let y = unit.forward(Tensor::<5>::ones([1, 1, 4, 4, 4], &device));
/// assert_eq!(y.dims(), [1, 4, 2, 2, 2]);
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Module, Debug)]
pub struct ResidualUnit {
    /// The convolution blocks (`subunits` of them, at least one).
    pub units: Vec<Convolution>,
    /// The residual convolution; `None` for the identity.
    pub residual: Option<Conv3d>,
}

impl ResidualUnit {
    /// `units(x) + residual(x)`.
    ///
    /// ```
    /// use burn::nn::conv::Conv3dConfig;
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::{Convolution, ResidualUnit};
    ///
    /// let device = Device::flex();
    /// let conv = Conv3dConfig::new([1, 1], [1, 1, 1]).with_bias(false)
    ///     .with_initializer(burn::nn::Initializer::Constant { value: 2.0 }).init(&device).into();
    /// let unit = ResidualUnit { units: vec![Convolution { conv, adn: None }], residual: None };
    /// let y = unit.forward(Tensor::<5>::ones([1, 1, 1, 1, 1], &device));
    /// assert_eq!(y.into_scalar::<f32>(), 3.0); // 2 * x + x
    /// ```
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let res = match &self.residual {
            Some(conv) => conv.forward(x.clone()),
            None => x.clone(),
        };
        let y = self.units.iter().fold(x, |y, unit| unit.forward(y));
        y + res
    }
}
