//! A banded operator along one axis on CubeCL (the separable filters' kernel): one thread per
//! output value, its `K` taps read from the line, addressed as `[outer, len, inner]` of a
//! contiguous tensor so that neighbouring threads read neighbouring addresses along D and H.

use burn::backend::cubecl::dtype_to_storage_type;
use burn::backend::ops::FloatTensorOps;
use burn::tensor::Shape;
use burn_cubecl::kernel::{cast, into_contiguous};
use burn_cubecl::ops::numeric::empty_device_dtype;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::CubeBackend;
use cubecl::prelude::*;

use super::{compute_dtype, launch_shape};

/// `band` is `[k, len]`; with `transpose` tap `t` of output `i` weighs `band[k - 1 - t, s]`
/// (`s = i + t - r` its source) instead of `band[t, i]`.
#[cube(launch, address_type = "dynamic")]
fn band_kernel<F: Float, C: Float>(
    input: &Tensor<F>,
    band: &Tensor<C>,
    output: &mut Tensor<C>,
    #[comptime] transpose: bool,
    #[define(F, C)] _dtypes: [ElemType; 2],
) {
    let (len, inner) = (input.shape(1), input.shape(2));
    if ABSOLUTE_POS >= output.len() {
        terminate!();
    }
    let k = band.shape(0);
    let r = k / 2;
    let j = ABSOLUTE_POS % inner;
    let i = (ABSOLUTE_POS / inner) % len;
    let line = ABSOLUTE_POS - i * inner - j;
    let mut sum = C::new(0.0);
    for t in 0..k {
        // The source i + t - r, kept in unsigned arithmetic.
        if i + t >= r && i + t - r < len {
            let s = i + t - r;
            let w = if transpose {
                band[(k - 1 - t) * len + s]
            } else {
                band[t * len + i]
            };
            sum += w * C::cast_from(input[line + s * inner + j]);
        }
    }
    output[ABSOLUTE_POS] = sum;
}

/// Applies `band` along `axis` of the 5D `input` (both checked by the caller).
pub(super) fn band_filter(
    input: CubeTensor,
    band: CubeTensor,
    axis: usize,
    transpose: bool,
) -> CubeTensor {
    let input = into_contiguous(input);
    let shape: [usize; 5] = input.meta.shape().dims();
    let dtype = input.dtype;
    let compute = compute_dtype(dtype);
    let band = into_contiguous(if band.dtype == compute {
        band
    } else {
        cast(band, compute)
    });
    let (outer, len, inner) = (
        shape[..axis].iter().product::<usize>(),
        shape[axis],
        shape[axis + 1..].iter().product::<usize>(),
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
        launch_shape(&client, outer * len * inner, &[&lines, &band, &output]);
    band_kernel::launch(
        &client,
        cube_count,
        cube_dim,
        address,
        lines.into_tensor_arg(),
        band.into_tensor_arg(),
        output.clone().into_tensor_arg(),
        transpose,
        [dtype_to_storage_type(dtype), dtype_to_storage_type(compute)],
    );
    let output = CubeBackend::float_reshape(output, Shape::from(shape.to_vec()));
    if compute == dtype {
        output
    } else {
        cast(output, dtype)
    }
}
