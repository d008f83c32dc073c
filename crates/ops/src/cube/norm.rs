//! [`NormBackend`] on CubeCL: instance normalization as a composition of Burn's tensor ops
//! (reductions over each `(n, c)` volume, broadcast arithmetic), which Burn's fusion merges.

use burn::backend::ops::FloatTensorOps;
use burn::backend::TensorMetadata;
use burn::tensor::Shape;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::CubeBackend;

use crate::backend::NormBackend;
use crate::contract::{self, enforce, Spec};

type B = CubeBackend;

/// `[N, C, D, H, W]` as `[N * C, volume]`, and the original shape.
fn planes(t: CubeTensor) -> (CubeTensor, Shape) {
    let shape = t.shape();
    let rows = shape[0] * shape[1];
    let volume = shape[2..].iter().product();
    (B::float_reshape(t, Shape::from(vec![rows, volume])), shape)
}

/// `(x - mean, 1 / sqrt(var + eps))` per row of `[rows, volume]` (`[rows, 1]` for the second).
fn centered(x: CubeTensor, epsilon: f64) -> (CubeTensor, CubeTensor) {
    let mean = B::float_mean_dim(x.clone(), 1);
    let d = B::float_sub(x, mean);
    let var = B::float_mean_dim(B::float_mul(d.clone(), d.clone()), 1);
    let rstd = B::float_recip(B::float_sqrt(B::float_add_scalar(var, epsilon.into())));
    (d, rstd)
}

impl NormBackend for CubeBackend {
    fn instance_norm_3d(input: CubeTensor, epsilon: f64) -> CubeTensor {
        enforce(contract::instance_norm(
            "instance_norm_3d",
            &Spec::of(&input),
            epsilon,
        ));
        let (x, shape) = planes(input);
        let (d, rstd) = centered(x, epsilon);
        B::float_reshape(B::float_mul(d, rstd), shape)
    }

    fn instance_norm_3d_backward(
        input: CubeTensor,
        grad_output: CubeTensor,
        epsilon: f64,
    ) -> CubeTensor {
        enforce(contract::instance_norm_backward(
            "instance_norm_3d_backward",
            &Spec::of(&input),
            &Spec::of(&grad_output),
            epsilon,
        ));
        let (x, shape) = planes(input);
        let (dy, _) = planes(grad_output);
        let (d, rstd) = centered(x, epsilon);
        let x_hat = B::float_mul(d, rstd.clone());
        let mean_dy = B::float_mean_dim(dy.clone(), 1);
        let mean_dy_xhat = B::float_mean_dim(B::float_mul(dy.clone(), x_hat.clone()), 1);
        let inner = B::float_sub(B::float_sub(dy, mean_dy), B::float_mul(x_hat, mean_dy_xhat));
        B::float_reshape(B::float_mul(inner, rstd), shape)
    }
}
