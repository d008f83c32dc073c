//! Affine sampling in PyTorch's normalized coordinates: `affine_grid_3d` (identical to
//! `torch.nn.functional.affine_grid`) and the fused `affine_sample_3d`, which equals
//! `grid_sample_3d(input, affine_grid_3d(theta, ..), ..)` without making the grid.

use burn::tensor::{Tensor, TensorData};

use crate::coordinates::{normalize, unnormalize};
use crate::error::{check_nonempty, OpsError, Result};
use crate::grid_sample::{check_same_device, voxel_affine_sample_3d};
use crate::options::SampleOptions;

fn check_theta(op: &'static str, theta: &Tensor<3>) -> Result<usize> {
    let [n, r, c] = theta.dims();
    if r != 3 || c != 4 || n == 0 {
        return Err(OpsError::new(
            op,
            format!("theta must be [N, 3, 4], got {:?}", theta.dims()),
        ));
    }
    Ok(n)
}

/// The voxel-space matrix equivalent to `theta` between an input of `input_size` and an output
/// of `output_size` (both `[D, H, W]`): the matrix [`voxel_affine_sample_3d`] takes.
/// Differentiable with respect to `theta`.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// let device = Device::flex();
/// let identity = Tensor::<1>::from_floats([1., 0., 0., 0., 0., 1., 0., 0., 0., 0., 1., 0.], &device)
///     .reshape([1, 3, 4]);
/// // Same sizes: the identity in normalized space is the identity in voxels.
/// let m = medburn_ops::voxel_matrix_from_theta(identity, [4, 5, 6], [4, 5, 6], false);
/// let v = m.into_data().try_to_vec::<f32>().unwrap();
/// assert!(v.iter().zip([1., 0., 0., 0., 0., 1., 0., 0., 0., 0., 1., 0.]).all(|(a, b)| (a - b).abs() < 1e-6));
/// ```
pub fn voxel_matrix_from_theta(
    theta: Tensor<3>,
    input_size: [usize; 3],
    output_size: [usize; 3],
    align_corners: bool,
) -> Tensor<3> {
    let [n, ..] = theta.dims();
    let device = theta.device();
    let dtype = theta.dtype();
    // Axis order (x, y, z) = (W, H, D).
    let rev = |s: [usize; 3]| [s[2], s[1], s[0]];
    let (inp, out) = (rev(input_size), rev(output_size));
    let mut left = vec![0.0; 9];
    let mut right = vec![0.0; 16];
    let mut offset = vec![0.0; 12];
    for a in 0..3 {
        let (s_in, t_in) = unnormalize(inp[a], align_corners);
        let (s_out, t_out) = normalize(out[a], align_corners);
        left[a * 4] = s_in;
        right[a * 5] = s_out;
        right[a * 4 + 3] = t_out;
        offset[a * 4 + 3] = t_in;
    }
    right[15] = 1.0;
    let t = |v: Vec<f64>, shape: [usize; 3]| {
        Tensor::<3>::from_data(TensorData::new(v, shape), (&device, dtype))
    };
    let left = t(left, [1, 3, 3]).expand([n, 3, 3]);
    let right = t(right, [1, 4, 4]).expand([n, 4, 4]);
    let offset = t(offset, [1, 3, 4]);
    left.matmul(theta).matmul(right) + offset
}

/// The sampling grid `[N, D, H, W, 3]` of the affine `theta` `[N, 3, 4]` for an output of
/// `size` `[N, C, D, H, W]`, identical to `torch.nn.functional.affine_grid`. Differentiable
/// with respect to `theta`. Prefer [`affine_sample_3d`], which never stores the grid.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// let device = Device::flex();
/// let identity = Tensor::<1>::from_floats([1., 0., 0., 0., 0., 1., 0., 0., 0., 0., 1., 0.], &device)
///     .reshape([1, 3, 4]);
/// let grid = medburn_ops::affine_grid_3d(identity, [1, 1, 1, 1, 2], true)?;
/// assert_eq!(grid.into_data().try_to_vec::<f32>().unwrap(), vec![-1., -1., -1., 1., -1., -1.]);
/// # Ok::<(), medburn_ops::OpsError>(())
/// ```
pub fn affine_grid_3d(
    theta: Tensor<3>,
    size: [usize; 5],
    align_corners: bool,
) -> Result<Tensor<5>> {
    const OP: &str = "affine_grid_3d";
    let n = check_theta(OP, &theta)?;
    check_nonempty(OP, "size", &size)?;
    if size[0] != n {
        return Err(OpsError::new(
            OP,
            format!("size {size:?} has N != {n} of theta"),
        ));
    }
    let [_, _, d, h, w] = size;
    let device = theta.device();
    let dtype = theta.dtype();
    let axis = |len: usize| {
        let (s, t) = normalize(len, align_corners);
        let v: Vec<f64> = (0..len).map(|i| s * i as f64 + t).collect();
        Tensor::<1>::from_data(TensorData::new(v, [len]), (&device, dtype))
    };
    let xs = axis(w).reshape([1, 1, w]).expand([d, h, w]);
    let ys = axis(h).reshape([1, h, 1]).expand([d, h, w]);
    let zs = axis(d).reshape([d, 1, 1]).expand([d, h, w]);
    let ones = Tensor::<3>::ones([d, h, w], (&device, dtype));
    let base = Tensor::stack::<4>(vec![xs, ys, zs, ones], 3)
        .reshape([1, d * h * w, 4])
        .expand([n, d * h * w, 4]);
    Ok(base.matmul(theta.swap_dims(1, 2)).reshape([n, d, h, w, 3]))
}

/// Samples `input` `[N, C, D, H, W]` with the affine `theta` `[N, 3, 4]` (PyTorch's normalized
/// convention) onto an output of `output_size` `[Do, Ho, Wo]`. Equal to
/// `grid_sample_3d(input, affine_grid_3d(theta, ..), ..)`, but the coordinates are computed
/// inside the kernel: nothing of the grid's size is allocated. Differentiable with respect to
/// `input` and `theta`.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_ops::{affine_sample_3d, SampleOptions};
/// let device = Device::flex();
/// let input = Tensor::<1, burn::tensor::Int>::arange(0..8, &device).float().reshape([1, 1, 2, 2, 2]);
/// let identity = Tensor::<1>::from_floats([1., 0., 0., 0., 0., 1., 0., 0., 0., 0., 1., 0.], &device)
///     .reshape([1, 3, 4]);
/// let out = affine_sample_3d(input.clone(), identity, [2, 2, 2], SampleOptions::default())?;
/// let (a, b) = (out.into_data().try_to_vec::<f32>().unwrap(), input.into_data().try_to_vec::<f32>().unwrap());
/// assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-5));
/// # Ok::<(), medburn_ops::OpsError>(())
/// ```
pub fn affine_sample_3d(
    input: Tensor<5>,
    theta: Tensor<3>,
    output_size: [usize; 3],
    options: SampleOptions,
) -> Result<Tensor<5>> {
    const OP: &str = "affine_sample_3d";
    let n = check_theta(OP, &theta)?;
    let dims = input.dims();
    if dims[0] != n {
        return Err(OpsError::new(
            OP,
            format!("input {dims:?} has N != {n} of theta"),
        ));
    }
    check_same_device(OP, &input, &theta)?;
    let matrix = voxel_matrix_from_theta(
        theta,
        [dims[2], dims[3], dims[4]],
        output_size,
        options.align_corners,
    );
    voxel_affine_sample_3d(input, matrix, output_size, options)
}
