//! The backend extensions: the sampling and pooling primitives every backend implements.
//!
//! Forward and backward passes are separate methods so that the backward kernels run through
//! Burn's dispatch and fusion like any other op; [`crate::autodiff`] wires them together.
//! Users call the functions at the crate root, not these methods.

use burn::backend::fusion::custom::TensorSpec;
use burn::backend::{backend_extension, tensor::FloatTensor, Backend};
use burn::tensor::Shape;

use crate::conv::{conv_output_shape, Conv3dOptions};
use crate::conv_transpose::{conv_transpose_output_shape, ConvTranspose3dOptions};
use crate::options::SampleOptions;
use crate::pool::Pool3dOptions;

/// Sampling primitives with backward passes, implemented for Flex, CubeCL (wgpu, CUDA), and
/// `Autodiff` over either; `Fusion` wraps the CubeCL implementation.
///
/// Position sources:
/// - *grid*: `[N, Do, Ho, Wo, 3]` in PyTorch's normalized coordinates, last dimension
///   `(x, y, z) = (W, H, D)`;
/// - *affine*: a `[N, 3, 4]` matrix taking the output voxel index `(i, j, k, 1)` (i along W)
///   to the input voxel position `(x, y, z)`; the grid is never materialized.
///
/// B-spline methods evaluate the spline on coefficients: the prefilter is applied before.
///
/// Called through Burn's `Dispatch`, which picks the backend of the tensors' device:
///
/// ```
/// use burn::backend::Dispatch;
/// use burn::tensor::{Device, Tensor};
/// use medburn_ops::{backend::SamplingBackend, SampleOptions};
///
/// let device = Device::flex();
/// let input = Tensor::<5>::ones([1, 1, 2, 2, 2], &device);
/// let grid = Tensor::<5>::zeros([1, 1, 1, 1, 3], &device);
/// let out = <Dispatch as SamplingBackend>::grid_sample_3d(
///     input.into_dispatch(), grid.into_dispatch(), SampleOptions::default());
/// assert_eq!(Tensor::<5>::from_dispatch(out).into_scalar::<f32>(), 1.0);
/// ```
#[backend_extension(Cube: cfg(feature = "cube"), Flex, Autodiff, Fusion)]
pub trait SamplingBackend: Backend {
    /// Solves the cubic B-spline interpolation system along `axis` (2, 3 or 4 of
    /// `[N, C, D, H, W]`) on every line, mirror boundary: the prefilter of
    /// [`bspline_coefficients`](crate::bspline_coefficients), or with `transpose` its adjoint
    /// (the backward pass).
    #[fusion(dtype = input, shape = input)]
    fn bspline_prefilter_axis(
        input: FloatTensor<Self>,
        axis: usize,
        transpose: bool,
    ) -> FloatTensor<Self>;

    /// Applies the banded operator `band` `[K, len]` (`K` odd, `r = K / 2`, `len` the length of
    /// `axis`, 2, 3 or 4 of `[N, C, D, H, W]`) along `axis` on every line:
    /// `y[i] = sum_t band[t, i] x[i + t - r]`, taps whose source is outside the line left out
    /// (the separable filters fold their padding into the band); with `transpose` its adjoint
    /// (the backward pass). The band is a constant: no gradient flows to it.
    #[fusion(dtype = input, shape = input)]
    fn band_filter_axis(
        input: FloatTensor<Self>,
        band: FloatTensor<Self>,
        axis: usize,
        transpose: bool,
    ) -> FloatTensor<Self>;

    /// Samples `input` `[N, C, D, H, W]` at a normalized grid: `[N, C, Do, Ho, Wo]`.
    #[fusion(dtype = input, shape = grid_output_shape(input, grid))]
    fn grid_sample_3d(
        input: FloatTensor<Self>,
        grid: FloatTensor<Self>,
        options: SampleOptions,
    ) -> FloatTensor<Self>;

    /// Gradient of [`Self::grid_sample_3d`] with respect to the input.
    #[fusion(dtype = grad_output, shape = shape_of(input_shape))]
    fn grid_sample_3d_backward_input(
        grid: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
        input_shape: [usize; 5],
        options: SampleOptions,
    ) -> FloatTensor<Self>;

    /// Gradient of [`Self::grid_sample_3d`] with respect to the grid (zero for nearest).
    #[fusion(dtype = grid, shape = grid)]
    fn grid_sample_3d_backward_grid(
        input: FloatTensor<Self>,
        grid: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
        options: SampleOptions,
    ) -> FloatTensor<Self>;

    /// Both gradients of [`Self::grid_sample_3d`], `(input, grid)`, in one pass where the
    /// backend can share the work.
    #[fusion(meta = grid_backward_meta)]
    fn grid_sample_3d_backward(
        input: FloatTensor<Self>,
        grid: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
        options: SampleOptions,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);

    /// Samples `input` through a voxel affine `[N, 3, 4]` onto an output of `output_size`
    /// `[Do, Ho, Wo]`: `[N, C, Do, Ho, Wo]`.
    #[fusion(dtype = input, shape = affine_output_shape(input, output_size))]
    fn affine_sample_3d(
        input: FloatTensor<Self>,
        matrix: FloatTensor<Self>,
        output_size: [usize; 3],
        options: SampleOptions,
    ) -> FloatTensor<Self>;

    /// Gradient of [`Self::affine_sample_3d`] with respect to the input.
    #[fusion(dtype = grad_output, shape = shape_of(input_shape))]
    fn affine_sample_3d_backward_input(
        matrix: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
        input_shape: [usize; 5],
        options: SampleOptions,
    ) -> FloatTensor<Self>;

    /// Gradient of [`Self::affine_sample_3d`] with respect to the matrix (zero for nearest).
    #[fusion(dtype = matrix, shape = matrix)]
    fn affine_sample_3d_backward_matrix(
        input: FloatTensor<Self>,
        matrix: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
        options: SampleOptions,
    ) -> FloatTensor<Self>;
}

/// 3D max pooling with its backward, implemented for Flex (a dedicated kernel), CubeCL (Burn's
/// 2D pools, plane then depth) and `Autodiff` over either.
///
/// ```
/// use burn::backend::Dispatch;
/// use burn::tensor::{Device, Tensor};
/// use medburn_ops::{backend::PoolBackend, Pool3dOptions};
///
/// let x = Tensor::<1, burn::tensor::Int>::arange(0..8, &Device::flex()).float().reshape([1, 1, 2, 2, 2]);
/// let y = <Dispatch as PoolBackend>::max_pool3d(x.into_dispatch(), Pool3dOptions::new([2, 2, 2]));
/// assert_eq!(Tensor::<5>::from_dispatch(y).into_scalar::<f32>(), 7.0);
/// ```
#[backend_extension(Cube: cfg(feature = "cube"), Flex, Autodiff, Fusion)]
pub trait PoolBackend: Backend {
    /// Max pooling of `input` `[N, C, D, H, W]`: `[N, C, Do, Ho, Wo]`.
    #[fusion(dtype = input, shape = pooled_shape(input, options))]
    fn max_pool3d(input: FloatTensor<Self>, options: Pool3dOptions) -> FloatTensor<Self>;

    /// Gradient of [`Self::max_pool3d`] with respect to its input: each output's gradient goes
    /// to its window's arg-max (first in `(d, h, w)` order; NaN wins), found from `input` and
    /// the forward's `output`.
    #[fusion(dtype = input, shape = input)]
    fn max_pool3d_backward(
        input: FloatTensor<Self>,
        output: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
        options: Pool3dOptions,
    ) -> FloatTensor<Self>;
}

/// 3D convolution and transposed convolution with their backward passes, implemented for Flex
/// (medburn's tiled unfold-and-GEMM kernels), CubeCL (Burn's own convolution) and `Autodiff` over either.
///
/// ```
/// use burn::backend::Dispatch;
/// use burn::tensor::{Device, Tensor};
/// use medburn_ops::{backend::ConvBackend, Conv3dOptions};
///
/// let device = Device::flex();
/// let x = Tensor::<5>::ones([1, 1, 3, 3, 3], &device);
/// let w = Tensor::<5>::ones([1, 1, 3, 3, 3], &device);
/// let b = Tensor::<1>::zeros([1], &device);
/// let y = <Dispatch as ConvBackend>::conv3d_forward(
///     x.into_dispatch(), w.into_dispatch(), b.into_dispatch(), Conv3dOptions::default());
/// assert_eq!(Tensor::<5>::from_dispatch(y).into_scalar::<f32>(), 27.0);
/// ```
#[backend_extension(Cube: cfg(feature = "cube"), Flex, Autodiff, Fusion)]
pub trait ConvBackend: Backend {
    /// Convolution of `input` `[N, C_in, D, H, W]` with `weight` `[C_out, C_in / groups, kD,
    /// kH, kW]`, plus `bias` `[C_out]`: `[N, C_out, Do, Ho, Wo]`.
    #[fusion(dtype = input, shape = conv_output_shape(input, weight, options))]
    fn conv3d_forward(
        input: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: Conv3dOptions,
    ) -> FloatTensor<Self>;

    /// Gradient of [`Self::conv3d`] with respect to its input (only the input's shape is read).
    #[fusion(dtype = grad_output, shape = input)]
    fn conv3d_backward_input(
        input: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
        options: Conv3dOptions,
    ) -> FloatTensor<Self>;

    /// Gradient of [`Self::conv3d`] with respect to its weight.
    #[fusion(dtype = grad_output, shape = weight)]
    fn conv3d_backward_weight(
        input: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
        options: Conv3dOptions,
    ) -> FloatTensor<Self>;

    /// Transposed convolution of `input` `[N, C_in, D, H, W]` with `weight` `[C_in, C_out /
    /// groups, kD, kH, kW]`, plus `bias` `[C_out]`: `[N, C_out, Do, Ho, Wo]`.
    #[fusion(dtype = input, shape = conv_transpose_output_shape(input, weight, options))]
    fn conv_transpose3d_forward(
        input: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvTranspose3dOptions,
    ) -> FloatTensor<Self>;

    /// Gradient of [`Self::conv_transpose3d_forward`] with respect to its input (only the
    /// input's shape is read).
    #[fusion(dtype = grad_output, shape = input)]
    fn conv_transpose3d_backward_input(
        input: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
        options: ConvTranspose3dOptions,
    ) -> FloatTensor<Self>;

    /// Gradient of [`Self::conv_transpose3d_forward`] with respect to its weight.
    #[fusion(dtype = grad_output, shape = weight)]
    fn conv_transpose3d_backward_weight(
        input: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
        options: ConvTranspose3dOptions,
    ) -> FloatTensor<Self>;
}

/// Instance normalization with its backward, implemented for Flex (two passes each way),
/// CubeCL (a composition of Burn's tensor ops) and `Autodiff` over either.
///
/// ```
/// use burn::backend::Dispatch;
/// use burn::tensor::{Device, Tensor};
/// use medburn_ops::backend::NormBackend;
///
/// let x = Tensor::<5>::ones([1, 2, 2, 2, 2], &Device::flex());
/// let y = <Dispatch as NormBackend>::instance_norm_3d(x.into_dispatch(), 1e-5);
/// assert_eq!(Tensor::<5>::from_dispatch(y).abs().sum().into_scalar::<f32>(), 0.0);
/// ```
#[backend_extension(Cube: cfg(feature = "cube"), Flex, Autodiff, Fusion)]
pub trait NormBackend: Backend {
    /// Each `(n, c)` volume of `input` `[N, C, D, H, W]` minus its mean, over
    /// `sqrt(biased variance + epsilon)`.
    #[fusion(dtype = input, shape = input)]
    fn instance_norm_3d(input: FloatTensor<Self>, epsilon: f64) -> FloatTensor<Self>;

    /// Gradient of [`Self::instance_norm_3d`] with respect to its input.
    #[fusion(dtype = grad_output, shape = input)]
    fn instance_norm_3d_backward(
        input: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self>;
}

/// PReLU with its backward, implemented for Flex (one pass each way), CubeCL (a composition
/// of Burn's tensor ops) and `Autodiff` over either.
///
/// ```
/// use burn::backend::Dispatch;
/// use burn::tensor::{Device, Tensor};
/// use medburn_ops::backend::ActivationBackend;
///
/// let device = Device::flex();
/// let x = Tensor::<5>::full([1, 1, 1, 1, 1], -4.0, &device);
/// let a = Tensor::<1>::from_floats([0.5], &device);
/// let y = <Dispatch as ActivationBackend>::prelu_forward(x.into_dispatch(), a.into_dispatch());
/// assert_eq!(Tensor::<5>::from_dispatch(y).into_scalar::<f32>(), -2.0);
/// ```
#[backend_extension(Cube: cfg(feature = "cube"), Flex, Autodiff, Fusion)]
pub trait ActivationBackend: Backend {
    /// `x` where `x > 0`, else `alpha x`; `alpha` is `[1]` or `[C]`.
    #[fusion(dtype = input, shape = input)]
    fn prelu_forward(input: FloatTensor<Self>, alpha: FloatTensor<Self>) -> FloatTensor<Self>;

    /// Gradient of [`Self::prelu_forward`] with respect to its input.
    #[fusion(dtype = grad_output, shape = input)]
    fn prelu_backward_input(
        input: FloatTensor<Self>,
        alpha: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// Gradient of [`Self::prelu_forward`] with respect to `alpha` (its shape).
    #[fusion(dtype = grad_output, shape = alpha)]
    fn prelu_backward_alpha(
        input: FloatTensor<Self>,
        alpha: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

pub(crate) fn pooled_shape(input: &Shape, options: &Pool3dOptions) -> Shape {
    let out = options.output_shape(input).unwrap_or([0; 5]);
    Shape::from(out.to_vec())
}

pub(crate) fn grid_output_shape(input: &Shape, grid: &Shape) -> Shape {
    Shape::from(vec![input[0], input[1], grid[1], grid[2], grid[3]])
}

pub(crate) fn affine_output_shape(input: &Shape, output_size: &[usize; 3]) -> Shape {
    Shape::from(vec![
        input[0],
        input[1],
        output_size[0],
        output_size[1],
        output_size[2],
    ])
}

pub(crate) fn shape_of(dims: &[usize; 5]) -> Shape {
    Shape::from(dims.to_vec())
}

pub(crate) fn grid_backward_meta(
    input: &TensorSpec,
    grid: &TensorSpec,
    grad_output: &TensorSpec,
    _options: &SampleOptions,
) -> (TensorSpec, TensorSpec) {
    (
        TensorSpec::new(input.shape.clone(), grad_output.dtype),
        grid.clone(),
    )
}
