//! What every [`SamplingBackend`](crate::SamplingBackend) method requires of its tensors: ranks,
//! shapes that agree with each other, one float dtype, and sizes the kernels can index.
//!
//! The public ops check these and return an [`OpsError`]; each backend checks them again before
//! its kernels run, because the trait is public and the CubeCL input-gradient kernel writes with
//! unchecked atomics: a `grad_output` larger than `input_shape` says would write past
//! `grad_input`. A backend method cannot return an error, so there a broken contract panics
//! with the same message, before anything is launched.

use burn::backend::TensorMetadata;
use burn::tensor::DType;

use crate::conv::ConvShape;
use crate::error::{OpsError, Result};
use crate::pool::Pool3dOptions;

/// A tensor as the contract sees it: its shape and dtype.
#[derive(Clone, Debug)]
pub(crate) struct Spec {
    pub shape: Vec<usize>,
    pub dtype: DType,
}

impl Spec {
    pub fn new(shape: &[usize], dtype: DType) -> Self {
        Self {
            shape: shape.to_vec(),
            dtype,
        }
    }

    /// The shape and dtype of a backend's tensor primitive.
    pub fn of<T: TensorMetadata>(t: &T) -> Self {
        Self {
            shape: t.shape().to_vec(),
            dtype: t.dtype(),
        }
    }
}

/// Largest extent along any axis: the kernels hold sizes and tap indices in `i32`.
const MAX_EXTENT: usize = i32::MAX as usize / 2;

fn err(op: &'static str, message: String) -> Result<()> {
    Err(OpsError::new(op, message))
}

fn rank(op: &'static str, what: &str, t: &Spec, rank: usize) -> Result<()> {
    if t.shape.len() != rank {
        return err(
            op,
            format!("{what} must have rank {rank}, got shape {:?}", t.shape),
        );
    }
    if t.shape.contains(&0) {
        return err(op, format!("{what} has an empty dimension: {:?}", t.shape));
    }
    if let Some(e) = t.shape.iter().find(|&&e| e > MAX_EXTENT) {
        return err(op, format!("{what} extent {e} exceeds {MAX_EXTENT}"));
    }
    Ok(())
}

/// One float dtype for all tensors of a call (PyTorch's grid_sample requires the same).
fn same_float_dtype(op: &'static str, tensors: &[(&str, &Spec)]) -> Result<()> {
    let (first, spec) = tensors[0];
    let float = matches!(
        spec.dtype,
        DType::F64 | DType::F32 | DType::Flex32 | DType::F16 | DType::BF16
    );
    if !float {
        return err(
            op,
            format!("{first} must be a float tensor, got {:?}", spec.dtype),
        );
    }
    for (what, t) in &tensors[1..] {
        if t.dtype != spec.dtype {
            return err(
                op,
                format!(
                    "{first} is {:?} but {what} is {:?}: cast them to one float type",
                    spec.dtype, t.dtype
                ),
            );
        }
    }
    Ok(())
}

fn grid_for(op: &'static str, input_shape: &[usize], grid: &Spec) -> Result<()> {
    rank(op, "grid", grid, 5)?;
    if grid.shape[0] != input_shape[0] || grid.shape[4] != 3 {
        return err(
            op,
            format!(
                "grid must be [{}, Do, Ho, Wo, 3] for input {input_shape:?}, got {:?}",
                input_shape[0], grid.shape
            ),
        );
    }
    Ok(())
}

fn matrix_for(op: &'static str, input_shape: &[usize], matrix: &Spec) -> Result<()> {
    if matrix.shape[..] != [input_shape[0], 3, 4] {
        return err(
            op,
            format!(
                "matrix must be [{}, 3, 4] for input {input_shape:?}, got {:?}",
                input_shape[0], matrix.shape
            ),
        );
    }
    Ok(())
}

/// `grad_output` must be the output the forward made: `[N, C, Do, Ho, Wo]`.
fn grad_output_for(
    op: &'static str,
    input_shape: &[usize],
    output_size: &[usize],
    grad_output: &Spec,
) -> Result<()> {
    rank(op, "grad_output", grad_output, 5)?;
    let want = [
        input_shape[0],
        input_shape[1],
        output_size[0],
        output_size[1],
        output_size[2],
    ];
    if grad_output.shape[..] != want {
        return err(
            op,
            format!(
                "grad_output must be {want:?} for input {input_shape:?}, got {:?}",
                grad_output.shape
            ),
        );
    }
    Ok(())
}

fn input_shape(op: &'static str, shape: &[usize]) -> Result<()> {
    rank(op, "input", &Spec::new(shape, DType::F32), 5)
}

pub(crate) fn grid_sample(op: &'static str, input: &Spec, grid: &Spec) -> Result<()> {
    rank(op, "input", input, 5)?;
    grid_for(op, &input.shape, grid)?;
    same_float_dtype(op, &[("input", input), ("grid", grid)])
}

pub(crate) fn grid_backward_input(
    op: &'static str,
    grid: &Spec,
    grad_output: &Spec,
    input: &[usize],
) -> Result<()> {
    input_shape(op, input)?;
    grid_for(op, input, grid)?;
    grad_output_for(op, input, &grid.shape[1..4], grad_output)?;
    same_float_dtype(op, &[("grid", grid), ("grad_output", grad_output)])
}

pub(crate) fn grid_backward(
    op: &'static str,
    input: &Spec,
    grid: &Spec,
    grad_output: &Spec,
) -> Result<()> {
    rank(op, "input", input, 5)?;
    grid_for(op, &input.shape, grid)?;
    grad_output_for(op, &input.shape, &grid.shape[1..4], grad_output)?;
    same_float_dtype(
        op,
        &[
            ("input", input),
            ("grid", grid),
            ("grad_output", grad_output),
        ],
    )
}

pub(crate) fn affine_sample(
    op: &'static str,
    input: &Spec,
    matrix: &Spec,
    output_size: &[usize; 3],
) -> Result<()> {
    rank(op, "input", input, 5)?;
    rank(op, "output size", &Spec::new(output_size, input.dtype), 3)?;
    matrix_for(op, &input.shape, matrix)?;
    same_float_dtype(op, &[("input", input), ("matrix", matrix)])
}

pub(crate) fn affine_backward_input(
    op: &'static str,
    matrix: &Spec,
    grad_output: &Spec,
    input: &[usize],
) -> Result<()> {
    input_shape(op, input)?;
    matrix_for(op, input, matrix)?;
    rank(op, "grad_output", grad_output, 5)?;
    grad_output_for(op, input, &grad_output.shape[2..5], grad_output)?;
    same_float_dtype(op, &[("matrix", matrix), ("grad_output", grad_output)])
}

pub(crate) fn affine_backward_matrix(
    op: &'static str,
    input: &Spec,
    matrix: &Spec,
    grad_output: &Spec,
) -> Result<()> {
    rank(op, "input", input, 5)?;
    matrix_for(op, &input.shape, matrix)?;
    rank(op, "grad_output", grad_output, 5)?;
    grad_output_for(op, &input.shape, &grad_output.shape[2..5], grad_output)?;
    same_float_dtype(
        op,
        &[
            ("input", input),
            ("matrix", matrix),
            ("grad_output", grad_output),
        ],
    )
}

pub(crate) fn prefilter(op: &'static str, input: &Spec, axis: usize) -> Result<()> {
    rank(op, "input", input, 5)?;
    if !(2..5).contains(&axis) {
        return err(op, format!("axis must be 2, 3 or 4 (D, H, W), got {axis}"));
    }
    same_float_dtype(op, &[("input", input)])
}

/// A band `[K, len]` (K odd) for `axis` (2, 3, 4) of a 5D input of the same float type.
pub(crate) fn band_filter(op: &'static str, input: &Spec, band: &Spec, axis: usize) -> Result<()> {
    prefilter(op, input, axis)?;
    rank(op, "band", band, 2)?;
    let (k, len) = (band.shape[0], band.shape[1]);
    if k % 2 == 0 || len != input.shape[axis] {
        return err(
            op,
            format!(
                "the band must be [K, len] with K odd and len = {} (axis {axis} of {:?}), got {:?}",
                input.shape[axis], input.shape, band.shape
            ),
        );
    }
    same_float_dtype(op, &[("input", input), ("band", band)])
}

pub(crate) fn max_pool(op: &'static str, input: &Spec, options: &Pool3dOptions) -> Result<()> {
    rank(op, "input", input, 5)?;
    options.check_shape(op, &input.shape, true)?;
    same_float_dtype(op, &[("input", input)])
}

pub(crate) fn max_pool_backward(
    op: &'static str,
    input: &Spec,
    output: &Spec,
    grad_output: &Spec,
    options: &Pool3dOptions,
) -> Result<()> {
    max_pool(op, input, options)?;
    let want = options.output_shape(&input.shape);
    for (what, t) in [("output", output), ("grad_output", grad_output)] {
        if want.map(|w| w.to_vec()) != Some(t.shape.clone()) {
            return err(
                op,
                format!(
                    "{what} must be the pooled shape {want:?} of input {:?}, got {:?}",
                    input.shape, t.shape
                ),
            );
        }
    }
    same_float_dtype(
        op,
        &[
            ("input", input),
            ("output", output),
            ("grad_output", grad_output),
        ],
    )
}

/// The geometry of a convolution or a transposed one: what it requires of its operands
/// (ranks already checked) and the output shape it gives them.
pub(crate) trait ConvGeometry: std::fmt::Debug {
    fn check(&self, op: &'static str, input: &[usize], weight: &[usize]) -> Result<()>;
    fn output_shape(&self, input: &[usize], weight: &[usize]) -> Option<[usize; 5]>;
    /// The convolution the CPU kernels run: this one, or the one a transposed convolution is
    /// the adjoint of.
    fn kernel_shape(&self, input: &[usize], weight: &[usize]) -> Option<ConvShape>;
}

/// Inside a backend's forward: [`conv3d`] enforced, and the kernels' shape.
pub(crate) fn enforce_conv<T: TensorMetadata>(
    op: &'static str,
    [input, weight, bias]: [&T; 3],
    options: &impl ConvGeometry,
) -> ConvShape {
    let (si, sw) = (Spec::of(input), Spec::of(weight));
    enforce(conv3d(op, &si, &sw, &Spec::of(bias), options));
    options
        .kernel_shape(&si.shape, &sw.shape)
        .expect("checked by the contract")
}

/// Inside a backend's backward pass: [`conv3d_backward`] enforced, and the kernels' shape.
pub(crate) fn enforce_conv_backward<T: TensorMetadata>(
    op: &'static str,
    [input, weight, grad_output]: [&T; 3],
    options: &impl ConvGeometry,
) -> ConvShape {
    let (si, sw) = (Spec::of(input), Spec::of(weight));
    enforce(conv3d_backward(
        op,
        &si,
        &sw,
        &Spec::of(grad_output),
        options,
    ));
    options
        .kernel_shape(&si.shape, &sw.shape)
        .expect("checked by the contract")
}

/// The forward of a convolution or a transposed one: the bias has the output's channels.
pub(crate) fn conv3d(
    op: &'static str,
    input: &Spec,
    weight: &Spec,
    bias: &Spec,
    options: &impl ConvGeometry,
) -> Result<()> {
    rank(op, "input", input, 5)?;
    rank(op, "weight", weight, 5)?;
    options.check(op, &input.shape, &weight.shape)?;
    let c_out = options
        .output_shape(&input.shape, &weight.shape)
        .map_or(0, |o| o[1]);
    if bias.shape != [c_out] {
        return err(
            op,
            format!("bias must be [C_out] = [{c_out}], got {:?}", bias.shape),
        );
    }
    same_float_dtype(op, &[("input", input), ("weight", weight), ("bias", bias)])
}

/// Both backward passes of a convolution or a transposed one: `grad_output` must have the
/// forward's output shape.
pub(crate) fn conv3d_backward(
    op: &'static str,
    input: &Spec,
    weight: &Spec,
    grad_output: &Spec,
    options: &impl ConvGeometry,
) -> Result<()> {
    rank(op, "input", input, 5)?;
    rank(op, "weight", weight, 5)?;
    options.check(op, &input.shape, &weight.shape)?;
    let want = options.output_shape(&input.shape, &weight.shape);
    if want.map(|w| w.to_vec()) != Some(grad_output.shape.clone()) {
        return err(
            op,
            format!(
                "grad_output must be the output shape {want:?}, got {:?}",
                grad_output.shape
            ),
        );
    }
    same_float_dtype(
        op,
        &[
            ("input", input),
            ("weight", weight),
            ("grad_output", grad_output),
        ],
    )
}

pub(crate) fn instance_norm(op: &'static str, input: &Spec, epsilon: f64) -> Result<()> {
    rank(op, "input", input, 5)?;
    if !(epsilon >= 0.0 && epsilon.is_finite()) {
        return err(
            op,
            format!("epsilon must be finite and >= 0, got {epsilon}"),
        );
    }
    same_float_dtype(op, &[("input", input)])
}

pub(crate) fn instance_norm_backward(
    op: &'static str,
    input: &Spec,
    grad_output: &Spec,
    epsilon: f64,
) -> Result<()> {
    instance_norm(op, input, epsilon)?;
    grad_like_input(op, input, grad_output)
}

/// An elementwise op's output gradient: the input's shape and dtype.
fn grad_like_input(op: &'static str, input: &Spec, grad_output: &Spec) -> Result<()> {
    if grad_output.shape != input.shape {
        return err(
            op,
            format!(
                "grad_output {:?} must have the input's shape {:?}",
                grad_output.shape, input.shape
            ),
        );
    }
    same_float_dtype(op, &[("input", input), ("grad_output", grad_output)])
}

/// A per-channel parameter (`[C]`, the input's dtype).
pub(crate) fn channel_vector(
    op: &'static str,
    what: &str,
    t: &Spec,
    channels: usize,
    dtype: DType,
) -> Result<()> {
    if t.shape != [channels] {
        return err(
            op,
            format!("{what} must be [C] = [{channels}], got {:?}", t.shape),
        );
    }
    if t.dtype != dtype {
        return err(
            op,
            format!("{what} is {:?} but the input is {dtype:?}", t.dtype),
        );
    }
    Ok(())
}

pub(crate) fn prelu(op: &'static str, input: &Spec, alpha: &Spec) -> Result<()> {
    rank(op, "input", input, 5)?;
    let c = input.shape[1];
    if alpha.shape != [1] && alpha.shape != [c] {
        return err(
            op,
            format!("alpha must be [1] or [C] = [{c}], got {:?}", alpha.shape),
        );
    }
    same_float_dtype(op, &[("input", input), ("alpha", alpha)])
}

pub(crate) fn prelu_backward(
    op: &'static str,
    input: &Spec,
    alpha: &Spec,
    grad_output: &Spec,
) -> Result<()> {
    prelu(op, input, alpha)?;
    grad_like_input(op, input, grad_output)
}

/// Inside a backend method: a broken contract stops the call before any kernel runs.
pub(crate) fn enforce(checked: Result<()>) {
    if let Err(e) = checked {
        panic!("{e} (backend op called with tensors that do not agree)");
    }
}
