//! [`ConvBackend`] on CubeCL: Burn's own convolution and transposed convolution kernels and
//! their backward passes.

use burn::backend::ops::ModuleOps;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::CubeBackend;

use crate::backend::ConvBackend;
use crate::contract;
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
        contract::enforce_conv("conv3d", [&input, &weight, &bias], &options);
        <Burn as ModuleOps<Burn>>::conv3d(input, weight, Some(bias), options.to_burn())
    }

    fn conv3d_backward_input(
        input: CubeTensor,
        weight: CubeTensor,
        grad_output: CubeTensor,
        options: Conv3dOptions,
    ) -> CubeTensor {
        contract::enforce_conv_backward(
            "conv3d_backward_input",
            [&input, &weight, &grad_output],
            &options,
        );
        <Burn as ModuleOps<Burn>>::conv3d_x_backward(input, weight, grad_output, options.to_burn())
    }

    fn conv3d_backward_weight(
        input: CubeTensor,
        weight: CubeTensor,
        grad_output: CubeTensor,
        options: Conv3dOptions,
    ) -> CubeTensor {
        contract::enforce_conv_backward(
            "conv3d_backward_weight",
            [&input, &weight, &grad_output],
            &options,
        );
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
        contract::enforce_conv("conv_transpose3d", [&input, &weight, &bias], &options);
        <Burn as ModuleOps<Burn>>::conv_transpose3d(input, weight, Some(bias), options.to_burn())
    }

    fn conv_transpose3d_backward_input(
        input: CubeTensor,
        weight: CubeTensor,
        grad_output: CubeTensor,
        options: ConvTranspose3dOptions,
    ) -> CubeTensor {
        contract::enforce_conv_backward(
            "conv_transpose3d_backward_input",
            [&input, &weight, &grad_output],
            &options,
        );
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
        contract::enforce_conv_backward(
            "conv_transpose3d_backward_weight",
            [&input, &weight, &grad_output],
            &options,
        );
        <Burn as ModuleOps<Burn>>::conv_transpose3d_weight_backward(
            input,
            weight,
            grad_output,
            options.to_burn(),
        )
    }
}
