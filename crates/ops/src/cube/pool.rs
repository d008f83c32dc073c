//! 3D max pooling on CubeCL as two of Burn's 2D max pools: first each depth slice over
//! `[kh, kw]`, then over depth as `[kd, 1]` on `[N, C, D, Ho*Wo]`. Burn's 2D kernel keeps the
//! first maximum of its window, so pooling the plane first and depth second picks the smallest
//! `d`, then the first `(h, w)` of that slice: PyTorch's first maximum in `(d, h, w)` order.
//! (Depth first would prefer the first `(h, w)` instead.)

use burn::backend::ops::ModuleOps;
use burn::backend::TensorMetadata;
use burn::tensor::{IntDType, Shape};
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::CubeBackend;

use crate::pool::Pool3dOptions;

/// The two 2D pools: `(kernel, stride, padding, dilation)` of the plane, then of depth.
type Pool2d = ([usize; 2], [usize; 2], [usize; 2], [usize; 2]);

fn passes(o: &Pool3dOptions) -> (Pool2d, Pool2d) {
    let plane = (
        [o.kernel_size[1], o.kernel_size[2]],
        [o.stride[1], o.stride[2]],
        [o.padding[1], o.padding[2]],
        [o.dilation[1], o.dilation[2]],
    );
    let depth = (
        [o.kernel_size[0], 1],
        [o.stride[0], 1],
        [o.padding[0], 0],
        [o.dilation[0], 1],
    );
    (plane, depth)
}

fn reshape(t: CubeTensor, dims: &[usize]) -> CubeTensor {
    <CubeBackend as burn::backend::ops::FloatTensorOps<CubeBackend>>::float_reshape(
        t,
        Shape::from(dims.to_vec()),
    )
}

/// Max pooling of `input` `[N, C, D, H, W]` (checked by the caller).
pub(super) fn forward(input: CubeTensor, o: &Pool3dOptions) -> CubeTensor {
    let [n, c, d, h, w]: [usize; 5] = input.shape().dims();
    let [_, _, od, oh, ow] = o.output_shape(&[n, c, d, h, w]).expect("checked");
    let ((k, s, p, dl), (kd, sd, pd, dd)) = passes(o);
    let y = CubeBackend::max_pool2d(reshape(input, &[n, c * d, h, w]), k, s, p, dl, o.ceil_mode);
    let y = CubeBackend::max_pool2d(reshape(y, &[n, c, d, oh * ow]), kd, sd, pd, dd, o.ceil_mode);
    reshape(y, &[n, c, od, oh, ow])
}

/// Gradient of [`forward`] with respect to `input`: both pools again with their indices, and
/// Burn's backward of each in reverse order.
pub(super) fn backward(
    input: CubeTensor,
    grad_output: CubeTensor,
    o: &Pool3dOptions,
) -> CubeTensor {
    let [n, c, d, h, w]: [usize; 5] = input.shape().dims();
    let [_, _, _, oh, ow] = o.output_shape(&[n, c, d, h, w]).expect("checked");
    let ((k, s, p, dl), (kd, sd, pd, dd)) = passes(o);
    let planes = reshape(input, &[n, c * d, h, w]);
    let first = CubeBackend::max_pool2d_with_indices(
        planes.clone(),
        k,
        s,
        p,
        dl,
        o.ceil_mode,
        IntDType::I32,
    );
    let columns = reshape(first.output, &[n, c, d, oh * ow]);
    let second = CubeBackend::max_pool2d_with_indices(
        columns.clone(),
        kd,
        sd,
        pd,
        dd,
        o.ceil_mode,
        IntDType::I32,
    );
    let grad_columns = CubeBackend::max_pool2d_with_indices_backward(
        columns,
        kd,
        sd,
        pd,
        dd,
        o.ceil_mode,
        reshape(grad_output, &second.output.shape()),
        second.indices,
    )
    .x_grad;
    let grad_planes = CubeBackend::max_pool2d_with_indices_backward(
        planes,
        k,
        s,
        p,
        dl,
        o.ceil_mode,
        reshape(grad_columns, &[n, c * d, oh, ow]),
        first.indices,
    )
    .x_grad;
    reshape(grad_planes, &[n, c, d, h, w])
}
