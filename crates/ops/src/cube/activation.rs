//! [`ActivationBackend`] on CubeCL: PReLU as a composition of Burn's tensor ops.

use burn::backend::ops::{BoolTensorOps, FloatTensorOps};
use burn::backend::TensorMetadata;
use burn::tensor::Shape;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::CubeBackend;

use crate::backend::ActivationBackend;
use crate::contract::{self, enforce, Spec};

type B = CubeBackend;

/// `alpha` shaped to broadcast against `[N, C, D, H, W]`.
fn broadcastable(alpha: CubeTensor) -> CubeTensor {
    let c = alpha.shape()[0];
    B::float_reshape(alpha, Shape::from(vec![1, c, 1, 1, 1]))
}

/// 1 where `x > 0`, else 0, in `x`'s float type (the mask stored as u32, which every CubeCL
/// runtime has; a native bool does not launch on wgpu).
fn positive(x: CubeTensor) -> CubeTensor {
    let dtype = x.dtype();
    let mask = B::float_greater_elem(x, 0.0.into(), burn::tensor::BoolDType::U32);
    B::bool_into_float(mask, dtype.into())
}

impl ActivationBackend for CubeBackend {
    fn prelu_forward(input: CubeTensor, alpha: CubeTensor) -> CubeTensor {
        enforce(contract::prelu(
            "prelu",
            &Spec::of(&input),
            &Spec::of(&alpha),
        ));
        // x > 0 ? x : a x  =  a x + (1 - a) x [x > 0]
        let p = positive(input.clone());
        let a = broadcastable(alpha);
        let ax = B::float_mul(input.clone(), a.clone());
        let rest = B::float_mul(B::float_sub(input, ax.clone()), p);
        B::float_add(ax, rest)
    }

    fn prelu_backward_input(
        input: CubeTensor,
        alpha: CubeTensor,
        grad_output: CubeTensor,
    ) -> CubeTensor {
        enforce(contract::prelu_backward(
            "prelu_backward_input",
            &Spec::of(&input),
            &Spec::of(&alpha),
            &Spec::of(&grad_output),
        ));
        // dy where x > 0, else a dy.
        let p = positive(input);
        let ady = B::float_mul(grad_output.clone(), broadcastable(alpha));
        B::float_add(ady.clone(), B::float_mul(B::float_sub(grad_output, ady), p))
    }

    fn prelu_backward_alpha(
        input: CubeTensor,
        alpha: CubeTensor,
        grad_output: CubeTensor,
    ) -> CubeTensor {
        let sa = Spec::of(&alpha);
        enforce(contract::prelu_backward(
            "prelu_backward_alpha",
            &Spec::of(&input),
            &sa,
            &Spec::of(&grad_output),
        ));
        let shape = input.shape();
        let (n, c) = (shape[0], shape[1]);
        // dy x where x <= 0.
        let p = positive(input.clone());
        let neg = B::float_sub(input.clone(), B::float_mul(input, p));
        let prod = B::float_mul(grad_output, neg);
        let per = B::float_reshape(prod, Shape::from(vec![n, c, shape[2..].iter().product()]));
        let per = B::float_sum_dim(B::float_sum_dim(per, 2), 0);
        let per = B::float_reshape(per, Shape::from(vec![c]));
        if sa.shape[0] == 1 {
            B::float_reshape(B::float_sum(per), Shape::from(vec![1]))
        } else {
            per
        }
    }
}
