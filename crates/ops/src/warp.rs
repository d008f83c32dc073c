//! Dense displacement fields, as VoxelMorph: warping a volume (the SpatialTransformer),
//! integrating a stationary velocity field by scaling and squaring, composing two fields.
//!
//! A displacement field is `[N, 3, D, H, W]` in voxels; its channels are `(x, y, z)` =
//! `(W, H, D)`, the order of medburn's `(i, j, k)` index and of `grid_sample_3d`'s grid.
//! VoxelMorph's flow channels run `(D, H, W)`: reverse them (`[2, 1, 0]`) to use its fields.

use burn::tensor::{Int, Tensor};

use crate::coordinates::normalize;
use crate::error::{check_nonempty, OpsError, Result};
use crate::grid_sample::{check_same_device, grid_sample_3d};
use crate::options::{Interpolation, Padding, SampleOptions};

fn check_field(op: &'static str, field: &Tensor<5>, n: usize, spatial: [usize; 3]) -> Result<()> {
    let f = field.dims();
    if f[0] != n || f[1] != 3 || f[2..] != spatial {
        return Err(OpsError::new(
            op,
            format!(
                "displacement must be [{n}, 3, {}, {}, {}], got {f:?}",
                spatial[0], spatial[1], spatial[2]
            ),
        ));
    }
    Ok(())
}

/// The normalized grid (`align_corners = true`) of the positions `index + displacement`.
fn displaced_grid(displacement: Tensor<5>) -> Tensor<5> {
    let [n, _, d, h, w] = displacement.dims();
    let device = displacement.device();
    let dtype = displacement.dtype();
    // Per axis: the normalized coordinate (align_corners) of index + displacement.
    let axis = |len: usize, shape: [usize; 5], u: Tensor<5>| {
        let (s, t) = normalize(len, true);
        let i = Tensor::<1, Int>::arange(0..len as i64, &device)
            .float()
            .cast(dtype);
        (u + i.reshape(shape)).mul_scalar(s).add_scalar(t)
    };
    let parts = displacement.split(1, 1);
    let gx = axis(w, [1, 1, 1, 1, w], parts[0].clone());
    let gy = axis(h, [1, 1, 1, h, 1], parts[1].clone());
    let gz = axis(d, [1, 1, d, 1, 1], parts[2].clone());
    Tensor::cat(vec![gx, gy, gz], 1)
        .reshape([n, 3, d, h, w])
        .permute([0, 2, 3, 4, 1])
}

/// Warps `input` `[N, C, D, H, W]` by a displacement field `[N, 3, D, H, W]` in voxels:
/// `output(p) = input(p + u(p))` (VoxelMorph's SpatialTransformer, which samples with
/// `align_corners = true`). `options` sets interpolation and padding; its `align_corners` is
/// ignored. Differentiable with respect to the input and the displacement.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_ops::{warp, SampleOptions};
/// let device = Device::flex();
/// let x = Tensor::<1, burn::tensor::Int>::arange(0..4, &device).float().reshape([1, 1, 1, 1, 4]);
/// // Displace by +1 voxel along x: output(i) = input(i + 1).
/// let u = Tensor::<5>::zeros([1, 3, 1, 1, 4], &device).slice_assign(
///     [0..1, 0..1, 0..1, 0..1, 0..4], Tensor::ones([1, 1, 1, 1, 4], &device));
/// let y = warp(x, u, SampleOptions::default())?;
/// assert_eq!(y.into_data().try_to_vec::<f32>().unwrap(), vec![1.0, 2.0, 3.0, 0.0]);
/// # Ok::<(), medburn_ops::OpsError>(())
/// ```
pub fn warp(
    input: Tensor<5>,
    displacement: Tensor<5>,
    options: SampleOptions,
) -> Result<Tensor<5>> {
    const OP: &str = "warp";
    let dims = input.dims();
    check_nonempty(OP, "input", &dims)?;
    check_field(OP, &displacement, dims[0], [dims[2], dims[3], dims[4]])?;
    check_same_device(OP, &input, &displacement)?;
    let grid = displaced_grid(displacement);
    grid_sample_3d(input, grid, options.with_align_corners(true))
}

/// The composition of two displacement fields: warping by `first` and then by `second` equals
/// (up to interpolation) warping once by the result, `second + warp(first, second)`.
/// Differentiable with respect to both.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_ops::compose_displacements;
/// let device = Device::flex();
/// let a = Tensor::<5>::ones([1, 3, 4, 4, 4], &device).mul_scalar(0.5);
/// let c = compose_displacements(a.clone(), a)?;
/// // Two constant shifts of half a voxel: one shift of a voxel (inside the volume).
/// let v = c.slice([0..1, 0..1, 1..2, 1..2, 1..2]).into_scalar::<f32>();
/// assert!((v - 1.0).abs() < 1e-5);
/// # Ok::<(), medburn_ops::OpsError>(())
/// ```
pub fn compose_displacements(first: Tensor<5>, second: Tensor<5>) -> Result<Tensor<5>> {
    const OP: &str = "compose_displacements";
    let dims = second.dims();
    check_nonempty(OP, "displacement", &dims)?;
    check_field(OP, &second, dims[0], [dims[2], dims[3], dims[4]])?;
    check_field(OP, &first, dims[0], [dims[2], dims[3], dims[4]])?;
    let o = SampleOptions::new(Interpolation::Linear).with_padding(Padding::Border);
    Ok(second.clone() + warp(first, second, o)?)
}

/// Integrates a stationary velocity field `[N, 3, D, H, W]` (voxels) into a displacement field
/// by scaling and squaring: `u = v / 2^steps`, then `steps` times `u = u + warp(u, u)`
/// (VoxelMorph's VecInt, which warps with linear interpolation and zero padding). The result is
/// diffeomorphic for smooth enough `v`; differentiable with respect to `v`.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_ops::integrate_velocity;
/// let device = Device::flex();
/// // A constant velocity integrates to the same constant displacement (inside the volume).
/// let v = Tensor::<5>::ones([1, 3, 6, 6, 6], &device).mul_scalar(0.25);
/// let u = integrate_velocity(v, 5)?;
/// let centre = u.slice([0..1, 0..1, 2..3, 2..3, 2..3]).into_scalar::<f32>();
/// assert!((centre - 0.25).abs() < 1e-5);
/// # Ok::<(), medburn_ops::OpsError>(())
/// ```
pub fn integrate_velocity(velocity: Tensor<5>, steps: usize) -> Result<Tensor<5>> {
    const OP: &str = "integrate_velocity";
    let dims = velocity.dims();
    check_nonempty(OP, "velocity", &dims)?;
    check_field(OP, &velocity, dims[0], [dims[2], dims[3], dims[4]])?;
    if steps > 30 {
        return Err(OpsError::new(
            OP,
            format!("{steps} steps would scale the field by 2^-{steps}"),
        ));
    }
    let mut u = velocity.div_scalar((1u64 << steps) as f64);
    let o = SampleOptions::new(Interpolation::Linear);
    for _ in 0..steps {
        u = u.clone() + warp(u.clone(), u, o)?;
    }
    Ok(u)
}
