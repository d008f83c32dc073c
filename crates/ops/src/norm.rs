//! Instance normalization, PyTorch's `instance_norm` (and MONAI's `InstanceNorm3d`), as a
//! backend op ([`NormBackend`]) with its own backward.
//!
//! Each `(sample, channel)` volume is normalized by its own mean and biased variance. On Flex
//! the forward reads the volume twice (the sums of `x` and `x^2` in one pass, accumulated in
//! f64 around a shift so that the variance does not cancel, then the normalized values) and
//! the backward twice (the four sums of `x`, `x^2`, `dy` and `dy x` in one pass, then `dx`),
//! where a composition of tensor ops makes a dozen passes and as many autodiff nodes. On CubeCL
//! it is that composition, in Burn's fused ops.

use burn::backend::Dispatch;
use burn::tensor::Tensor;

use crate::backend::NormBackend;
use crate::contract::{self, Spec};
use crate::error::Result;

/// Instance normalization of `x` `[N, C, D, H, W]`: every `(n, c)` volume minus its mean,
/// divided by `sqrt(variance + epsilon)` (biased variance, as PyTorch), then scaled by `gamma`
/// and shifted by `beta` (`[C]`) where given. Values and gradients (to `x`, `gamma`, `beta`)
/// equal `torch.nn.functional.instance_norm`'s.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// let device = Device::flex();
/// let x = Tensor::<1>::from_floats([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], &device).reshape([1, 1, 2, 2, 2]);
/// let y = medburn_ops::instance_norm_3d(x, None, None, 1e-5)?;
/// let mean = y.clone().mean().into_scalar::<f32>();
/// let var = y.powf_scalar(2.0).mean().into_scalar::<f32>();
/// assert!(mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-4);
/// # Ok::<(), medburn_ops::OpsError>(())
/// ```
pub fn instance_norm_3d(
    x: Tensor<5>,
    gamma: Option<Tensor<1>>,
    beta: Option<Tensor<1>>,
    epsilon: f64,
) -> Result<Tensor<5>> {
    let dims = x.dims();
    contract::instance_norm("instance_norm_3d", &Spec::new(&dims, x.dtype()), epsilon)?;
    for (what, t) in [("gamma", &gamma), ("beta", &beta)] {
        if let Some(t) = t {
            contract::channel_vector(
                "instance_norm_3d",
                what,
                &Spec::new(&t.dims(), t.dtype()),
                dims[1],
                x.dtype(),
            )?;
        }
    }
    let y = Tensor::<5>::from_dispatch(<Dispatch as NormBackend>::instance_norm_3d(
        x.into_dispatch(),
        epsilon,
    ));
    let c = dims[1];
    let y = match gamma {
        Some(g) => y * g.reshape([1, c, 1, 1, 1]),
        None => y,
    };
    Ok(match beta {
        Some(b) => y + b.reshape([1, c, 1, 1, 1]),
        None => y,
    })
}
