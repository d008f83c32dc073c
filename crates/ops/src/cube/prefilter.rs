//! The B-spline prefilter on CubeCL: one thread per line along the axis, both Thomas sweeps in
//! registers and the output. Lines are addressed as `[outer, len, inner]` of a contiguous
//! tensor: along D and H neighbouring threads read neighbouring addresses; along W each thread
//! walks its own row.

use burn::backend::cubecl::dtype_to_storage_type;
use burn::backend::ops::FloatTensorOps;
use burn::tensor::{Shape, TensorData};
use burn_cubecl::kernel::{cast, into_contiguous};
use burn_cubecl::ops::numeric::empty_device_dtype;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::CubeBackend;
use cubecl::prelude::*;

use super::{compute_dtype, launch_shape};
use crate::bspline::Tridiagonal;

/// `coefficients` holds `sub`, `inv_pivot` and `upper` of the factorization, `len` each.
#[cube(launch, address_type = "dynamic")]
fn prefilter_kernel<F: Float, C: Float>(
    input: &Tensor<F>,
    coefficients: &Tensor<C>,
    output: &mut Tensor<C>,
    #[define(F, C)] _dtypes: [ElemType; 2],
) {
    let (outer, len, inner) = (input.shape(0), input.shape(1), input.shape(2));
    if ABSOLUTE_POS >= outer * inner {
        terminate!();
    }
    let (o, j) = (ABSOLUTE_POS / inner, ABSOLUTE_POS % inner);
    let base = o * len * inner + j;
    let mut prev = C::cast_from(input[base]) * coefficients[len];
    output[base] = prev;
    for i in 1..len {
        let at = base + i * inner;
        prev = (C::cast_from(input[at]) - coefficients[i] * prev) * coefficients[len + i];
        output[at] = prev;
    }
    let mut next = prev;
    for k in 1..len {
        let i = len - 1 - k;
        let at = base + i * inner;
        next = output[at] - coefficients[2 * len + i] * next;
        output[at] = next;
    }
}

/// Solves along `axis` of the 5D `input` (checked by the caller).
pub(super) fn prefilter(input: CubeTensor, axis: usize, transpose: bool) -> CubeTensor {
    let input = into_contiguous(input);
    let shape: [usize; 5] = input.meta.shape().dims();
    let dtype = input.dtype;
    let compute = compute_dtype(dtype);
    let (outer, len, inner) = (
        shape[..axis].iter().product::<usize>(),
        shape[axis],
        shape[axis + 1..].iter().product::<usize>(),
    );
    let system = Tridiagonal::prefilter(len, transpose);
    let values: Vec<f64> = [system.sub, system.inv_pivot, system.upper].concat();
    let coefficients = CubeBackend::float_from_data(
        TensorData::new(values, [3 * len]).convert_dtype(compute),
        &input.device,
    );
    let lines = CubeBackend::float_reshape(input, Shape::from(vec![outer, len, inner]));
    let client = lines.client.clone();
    let output = empty_device_dtype(
        client.clone(),
        lines.device.clone(),
        Shape::from(vec![outer, len, inner]),
        compute,
    );
    let (cube_count, cube_dim, address) =
        launch_shape(&client, outer * inner, &[&lines, &coefficients, &output]);
    prefilter_kernel::launch(
        &client,
        cube_count,
        cube_dim,
        address,
        lines.into_tensor_arg(),
        coefficients.into_tensor_arg(),
        output.clone().into_tensor_arg(),
        [dtype_to_storage_type(dtype), dtype_to_storage_type(compute)],
    );
    let output = CubeBackend::float_reshape(output, Shape::from(shape.to_vec()));
    if compute == dtype {
        output
    } else {
        cast(output, dtype)
    }
}
