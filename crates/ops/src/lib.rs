//! Differentiable 3D sampling ops for Burn, with backward passes on every backend medburn
//! supports: Flex (CPU, rayon), wgpu and CUDA (one CubeCL kernel for both), under Burn's
//! autodiff and fusion.
//!
//! - [`grid_sample_3d`]: PyTorch's `grid_sample` in 3D (nearest, trilinear, cubic B-spline,
//!   label-linear; zeros, border, reflection; `align_corners`), gradients to the input and the
//!   grid. [`Interpolation`] is medburn's one interpolation vocabulary, with its SimpleITK and
//!   PyTorch names.
//! - [`label_values`]: the check every label map passes (non-negative integers).
//! - [`affine_grid_3d`], [`affine_sample_3d`] (fused: no grid in memory) and
//!   [`voxel_affine_sample_3d`] (the voxel-space form spatial transforms use).
//! - [`bspline_coefficients`]: ITK's B-spline prefilter.
//! - [`warp`], [`integrate_velocity`], [`compose_displacements`]: VoxelMorph's displacement
//!   and velocity fields.
//! - [`max_pool3d`], [`avg_pool3d`], [`interpolate_3d`]: PyTorch's 3D pooling and resizing
//!   (and B-spline resizing); [`pixel_shuffle_3d`]: sub-pixel rearrangement, a factor per axis.
//! - [`gaussian_smooth_3d`]: separable Gaussian smoothing; [`separable_filter_3d`]: any 1D
//!   kernel per axis.
//! - [`prelu`]: PyTorch's PReLU, one pass each way on the CPU.
//! - [`instance_norm_3d`]: PyTorch's instance normalization, two passes each way on the CPU.
//! - [`conv3d`]: PyTorch's 3D convolution, with a CPU kernel of its own (tiled unfolding and
//!   GEMM) and Burn's convolution on the GPU; [`conv_transpose3d`], its adjoint, on the same
//!   kernels.
//!
//! Every function checks its arguments and returns an [`OpsError`] instead of panicking.
//!
//! ```
//! use burn::tensor::{Device, Tensor};
//! use medburn_ops::{grid_sample_3d, SampleOptions};
//!
//! let device = Device::flex().autodiff();
//! let input = Tensor::<5>::ones([1, 1, 4, 4, 4], &device).require_grad();
//! let grid = Tensor::<5>::zeros([1, 2, 2, 2, 3], &device).require_grad();
//! let out = grid_sample_3d(input.clone(), grid.clone(), SampleOptions::default())?;
//! let grads = out.sum().backward();
//! assert_eq!(input.grad(&grads).unwrap().sum().into_scalar::<f32>(), 8.0);
//! # Ok::<(), medburn_ops::OpsError>(())
//! ```

mod activation;
mod affine;
mod autodiff;
pub mod backend;
mod bspline;
mod contract;
mod conv;
mod conv_transpose;
mod coordinates;
#[cfg(feature = "cube")]
mod cube;
mod error;
mod flex;
mod grid_sample;
mod interpolate;
mod labels;
mod norm;
mod options;
mod pool;
mod shuffle;
mod smooth;
mod warp;

pub use activation::prelu;
pub use affine::{affine_grid_3d, affine_sample_3d, voxel_matrix_from_theta};
pub use bspline::{bspline_coefficients, bspline_prefilter_matrix};
pub use conv::{conv3d, Conv3dOptions};
pub use conv_transpose::{conv_transpose3d, ConvTranspose3dOptions};
pub use error::{OpsError, Result};
pub use grid_sample::{grid_sample_3d, voxel_affine_sample_3d};
pub use interpolate::{interpolate_3d, Interpolate3dOptions};
pub use labels::label_values;
pub use norm::instance_norm_3d;
pub use options::{Interpolation, Padding, Rounding, SampleOptions};
pub use pool::{avg_pool3d, max_pool3d, Pool3dOptions};
pub use shuffle::pixel_shuffle_3d;
pub use smooth::{gaussian_kernel_1d, gaussian_smooth_3d, separable_filter_3d, sigma_in_voxels};
pub use warp::{compose_displacements, integrate_velocity, warp};
