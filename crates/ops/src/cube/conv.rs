//! [`ConvBackend`] on CubeCL: Burn's own convolution and transposed convolution kernels and
//! their backward passes.

use burn::backend::ops::ModuleOps;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::CubeBackend;

use crate::backend::ConvBackend;
use crate::contract::{self, enforce, Spec};
use crate::conv::Conv3dOptions;
use crate::conv_transpose::ConvTranspose3dOptions;

type Burn = CubeBackend;

impl ConvBackend for CubeBackend {
    fn conv3d_forward(
        input: CubeTensor,
        weight: CubeTensor,
        bias: CubeTensor,
        options: Conv3dOptions,
    ) -> CubeTensor {
        enforce(contract::conv3d(
            "conv3d",
            &Spec::of(&input),
            &Spec::of(&weight),
            &Spec::of(&bias),
            &options,
        ));
        <Burn as ModuleOps<Burn>>::conv3d(input, weight, Some(bias), options.to_burn())
    }

    fn conv3d_backward_input(
        input: CubeTensor,
        weight: CubeTensor,
        grad_output: CubeTensor,
        options: Conv3dOptions,
    ) -> CubeTensor {
        enforce(contract::conv3d_backward(
            "conv3d_backward_input",
            &Spec::of(&input),
            &Spec::of(&weight),
            &Spec::of(&grad_output),
            &options,
        ));
        <Burn as ModuleOps<Burn>>::conv3d_x_backward(input, weight, grad_output, options.to_burn())
    }

    fn conv3d_backward_weight(
        input: CubeTensor,
        weight: CubeTensor,
        grad_output: CubeTensor,
        options: Conv3dOptions,
    ) -> CubeTensor {
        enforce(contract::conv3d_backward(
            "conv3d_backward_weight",
            &Spec::of(&input),
            &Spec::of(&weight),
            &Spec::of(&grad_output),
            &options,
        ));
        <Burn as ModuleOps<Burn>>::conv3d_weight_backward(
            input,
            weight,
            grad_output,
            options.to_burn(),
        )
    }

    fn conv_transpose3d_forward(
        input: CubeTensor,
        weight: CubeTensor,
        bias: CubeTensor,
        options: ConvTranspose3dOptions,
    ) -> CubeTensor {
        enforce(contract::conv3d(
            "conv_transpose3d",
            &Spec::of(&input),
            &Spec::of(&weight),
            &Spec::of(&bias),
            &options,
        ));
        <Burn as ModuleOps<Burn>>::conv_transpose3d(input, weight, Some(bias), options.to_burn())
    }

    fn conv_transpose3d_backward_input(
        input: CubeTensor,
        weight: CubeTensor,
        grad_output: CubeTensor,
        options: ConvTranspose3dOptions,
    ) -> CubeTensor {
        enforce(contract::conv3d_backward(
            "conv_transpose3d_backward_input",
            &Spec::of(&input),
            &Spec::of(&weight),
            &Spec::of(&grad_output),
            &options,
        ));
        <Burn as ModuleOps<Burn>>::conv_transpose3d_x_backward(
            weight,
            grad_output,
            options.to_burn(),
        )
    }

    fn conv_transpose3d_backward_weight(
        input: CubeTensor,
        weight: CubeTensor,
        grad_output: CubeTensor,
        options: ConvTranspose3dOptions,
    ) -> CubeTensor {
        enforce(contract::conv3d_backward(
            "conv_transpose3d_backward_weight",
            &Spec::of(&input),
            &Spec::of(&weight),
            &Spec::of(&grad_output),
            &options,
        ));
        <Burn as ModuleOps<Burn>>::conv_transpose3d_weight_backward(
            input,
            weight,
            grad_output,
            options.to_burn(),
        )
    }
}
