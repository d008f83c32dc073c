//! PReLU, PyTorch's `prelu`, as a backend op ([`ActivationBackend`]) with its own backward:
//! one pass forward, one pass backward (both gradients), where a composition of tensor ops
//! makes several passes and masks.

use burn::backend::Dispatch;
use burn::tensor::Tensor;

use crate::backend::ActivationBackend;
use crate::contract::{self, Spec};
use crate::error::Result;

/// `x` where `x > 0`, else `alpha * x`, on `[N, C, D, H, W]`, with `alpha` `[1]` (one slope, as
/// MONAI's U-Net) or `[C]` (one per channel). Values and gradients (to `x` and `alpha`) equal
/// `torch.nn.functional.prelu`'s.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// let device = Device::flex();
/// let x = Tensor::<1>::from_floats([-2.0, 3.0], &device).reshape([1, 1, 1, 1, 2]);
/// let y = medburn_ops::prelu(x, Tensor::from_floats([0.25], &device))?;
/// assert_eq!(y.into_data().to_vec::<f32>().unwrap(), vec![-0.5, 3.0]);
/// # Ok::<(), medburn_ops::OpsError>(())
/// ```
pub fn prelu(x: Tensor<5>, alpha: Tensor<1>) -> Result<Tensor<5>> {
    contract::prelu(
        "prelu",
        &Spec::new(&x.dims(), x.dtype()),
        &Spec::new(&alpha.dims(), alpha.dtype()),
    )?;
    Ok(Tensor::from_dispatch(
        <Dispatch as ActivationBackend>::prelu_forward(x.into_dispatch(), alpha.into_dispatch()),
    ))
}
