//! Sampling a volume at a grid of positions: `grid_sample_3d` (PyTorch semantics) and its
//! voxel-space affine form, the one call every spatial transform goes through.

use burn::backend::Dispatch;
use burn::tensor::Tensor;

use crate::backend::SamplingBackend;
use crate::bspline::bspline_coefficients;
use crate::contract::{self, Spec};
use crate::error::{check_nonempty, OpsError, Result};
use crate::labels::label_linear;
use crate::options::{Interpolation, SampleOptions};

/// Fails unless `b` lives on the same device as `a`.
pub(crate) fn check_same_device<const D: usize, const E: usize>(
    op: &'static str,
    a: &Tensor<D>,
    b: &Tensor<E>,
) -> Result<()> {
    if a.device() != b.device() {
        return Err(OpsError::new(
            op,
            format!(
                "tensors on different devices: {:?} and {:?}",
                a.device(),
                b.device()
            ),
        ));
    }
    Ok(())
}

/// Refuses the interpolation no sampling op runs: `nearest_exact`, PyTorch's `interpolate`
/// rule (the sampling ops' `Nearest` is the nearest voxel centre already).
fn check_interpolation(op: &'static str, o: SampleOptions) -> Result<()> {
    if o.interpolation == Interpolation::NearestExact {
        return Err(OpsError::new(
            op,
            "nearest_exact is interpolate_3d's rule; a sampling op's nearest is the nearest \
             voxel centre already (use Interpolation::Nearest)",
        ));
    }
    Ok(())
}

/// The values to interpolate: the voxels, or their B-spline coefficients.
fn samples(input: Tensor<5>, o: SampleOptions) -> Tensor<5> {
    if o.interpolation == Interpolation::BSpline {
        bspline_coefficients(input)
    } else {
        input
    }
}

/// Samples `input` `[N, C, D, H, W]` at `grid` `[N, Do, Ho, Wo, 3]`: `[N, C, Do, Ho, Wo]`.
///
/// Identical to `torch.nn.functional.grid_sample` for nearest and linear (PyTorch's
/// `"bilinear"` on 5D input): the grid holds normalized coordinates in `[-1, 1]`, its last
/// dimension is `(x, y, z) = (W, H, D)`, and `padding` and `align_corners` mean the same.
/// B-spline computes the prefilter coefficients first, as `sitkBSpline`; label-linear samples
/// each label's indicator linearly and takes the arg-max (see
/// [`Interpolation::LabelLinear`]); `NearestExact` is refused. Differentiable with respect to
/// `input` and `grid` (nearest and label-linear pass no gradient to the grid).
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_ops::{grid_sample_3d, SampleOptions};
///
/// let device = Device::flex();
/// let input = Tensor::<1, burn::tensor::Int>::arange(0..8, &device).float().reshape([1, 1, 2, 2, 2]);
/// // One point at the centre of voxel (x, y, z) = (1, 0, 1), align_corners = false.
/// let grid = Tensor::<1>::from_floats([0.5, -0.5, 0.5], &device).reshape([1, 1, 1, 1, 3]);
/// let out = grid_sample_3d(input, grid, SampleOptions::default())?;
/// assert_eq!(out.into_scalar::<f32>(), 5.0);
/// # Ok::<(), medburn_ops::OpsError>(())
/// ```
pub fn grid_sample_3d(
    input: Tensor<5>,
    grid: Tensor<5>,
    options: SampleOptions,
) -> Result<Tensor<5>> {
    const OP: &str = "grid_sample_3d";
    let [n, ..] = input.dims();
    let g = grid.dims();
    check_nonempty(OP, "input", &input.dims())?;
    if g[0] != n || g[4] != 3 {
        return Err(OpsError::new(
            OP,
            format!(
                "grid must be [{n}, Do, Ho, Wo, 3] for input {:?}, got {g:?}",
                input.dims()
            ),
        ));
    }
    check_nonempty(OP, "grid", &g)?;
    check_same_device(OP, &input, &grid)?;
    contract::grid_sample(
        OP,
        &Spec::new(&input.dims(), input.dtype()),
        &Spec::new(&g, grid.dtype()),
    )?;
    check_interpolation(OP, options)?;
    if options.interpolation == Interpolation::LabelLinear {
        let linear = options.with_interpolation(Interpolation::Linear);
        return label_linear(OP, input, |indicator| {
            grid_sample_3d(indicator, grid.clone(), linear)
        });
    }
    let input = samples(input, options);
    Ok(Tensor::from_dispatch(
        <Dispatch as SamplingBackend>::grid_sample_3d(
            input.into_dispatch(),
            grid.into_dispatch(),
            options,
        ),
    ))
}

/// Samples `input` `[N, C, D, H, W]` through a voxel-space affine `matrix` `[N, 3, 4]` onto a
/// grid of `output_size` `[Do, Ho, Wo]`: output voxel `(i, j, k)` (i along W) reads the input at
/// voxel position `matrix[n] * (i, j, k, 1)`. The sampling grid is computed inside the kernel,
/// never stored. Interpolations as [`grid_sample_3d`]. Differentiable with respect to `input`
/// and `matrix`.
///
/// `align_corners` matters here only for reflection padding (the reflection bounds); positions
/// are voxel indices already.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_ops::{voxel_affine_sample_3d, SampleOptions};
///
/// let device = Device::flex();
/// let input = Tensor::<1, burn::tensor::Int>::arange(0..8, &device).float().reshape([1, 1, 2, 2, 2]);
/// // Shift by one voxel along i: output (0, 0, 0) reads input (1, 0, 0).
/// let shift = Tensor::<1>::from_floats([1., 0., 0., 1., 0., 1., 0., 0., 0., 0., 1., 0.], &device)
///     .reshape([1, 3, 4]);
/// let out = voxel_affine_sample_3d(input, shift, [2, 2, 2], SampleOptions::default())?;
/// let v = out.into_data().try_to_vec::<f32>().unwrap();
/// assert_eq!(v, vec![1., 0., 3., 0., 5., 0., 7., 0.]);
///
/// // Label maps: half a voxel along i between labels 2 and 5, the tie goes to the lower.
/// use medburn_ops::Interpolation;
/// let labels = Tensor::<1>::from_floats([2.0, 5.0], &device).reshape([1, 1, 1, 1, 2]);
/// let half = Tensor::<1>::from_floats([1., 0., 0., 0.5, 0., 1., 0., 0., 0., 0., 1., 0.], &device)
///     .reshape([1, 3, 4]);
/// let o = SampleOptions::itk(Interpolation::LabelLinear);
/// let out = voxel_affine_sample_3d(labels, half, [1, 1, 1], o)?;
/// assert_eq!(out.into_scalar::<f32>(), 2.0);
/// # Ok::<(), medburn_ops::OpsError>(())
/// ```
pub fn voxel_affine_sample_3d(
    input: Tensor<5>,
    matrix: Tensor<3>,
    output_size: [usize; 3],
    options: SampleOptions,
) -> Result<Tensor<5>> {
    const OP: &str = "voxel_affine_sample_3d";
    let [n, ..] = input.dims();
    check_nonempty(OP, "input", &input.dims())?;
    check_nonempty(OP, "output size", &output_size)?;
    if matrix.dims() != [n, 3, 4] {
        return Err(OpsError::new(
            OP,
            format!("matrix must be [{n}, 3, 4], got {:?}", matrix.dims()),
        ));
    }
    check_same_device(OP, &input, &matrix)?;
    contract::affine_sample(
        OP,
        &Spec::new(&input.dims(), input.dtype()),
        &Spec::new(&matrix.dims(), matrix.dtype()),
        &output_size,
    )?;
    check_interpolation(OP, options)?;
    if options.interpolation == Interpolation::LabelLinear {
        let linear = options.with_interpolation(Interpolation::Linear);
        return label_linear(OP, input, |indicator| {
            voxel_affine_sample_3d(indicator, matrix.clone(), output_size, linear)
        });
    }
    let input = samples(input, options);
    Ok(Tensor::from_dispatch(
        <Dispatch as SamplingBackend>::affine_sample_3d(
            input.into_dispatch(),
            matrix.into_dispatch(),
            output_size,
            options,
        ),
    ))
}
