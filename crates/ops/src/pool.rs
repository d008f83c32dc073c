//! 3D max and average pooling, PyTorch's `max_pool3d` / `avg_pool3d`.
//!
//! Max pooling is a backend op ([`PoolBackend`]): a dedicated 3D kernel on Flex (separable
//! for the values, one pass per axis; the window's arg-max recomputed in the backward), and on
//! CubeCL two of Burn's 2D pools. Ties go to the first voxel of the window in `(d, h, w)` order
//! and NaN wins, as in PyTorch, so the gradient lands on the voxel PyTorch picks.
//!
//! Average pooling separates exactly: PyTorch's average divides by the product of the per-axis
//! window counts (with or without padding, ceil mode included), so it is the average over depth
//! of the slice averages: two of Burn's 2D pooling kernels (depth as `[kd, 1]` on
//! `[N, C, D, H*W]`, then `[kh, kw]`), which have backward passes on every backend.

use burn::backend::Dispatch;
use burn::tensor::module::avg_pool2d;
use burn::tensor::ops::AvgPoolOptions;
use burn::tensor::Tensor;

use crate::backend::PoolBackend;
use crate::contract::{self, Spec};

use crate::error::{check_nonempty, OpsError, Result};

/// Window, stride, padding and dilation of a 3D pool, in tensor order `[D, H, W]`.
///
/// ```
/// use medburn_ops::Pool3dOptions;
/// let o = Pool3dOptions::new([2, 2, 2]);
/// assert_eq!(o.stride, [2, 2, 2]); // PyTorch: stride defaults to the kernel size
/// assert!(o.count_include_pad);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pool3dOptions {
    /// Window size.
    pub kernel_size: [usize; 3],
    /// Step between windows.
    pub stride: [usize; 3],
    /// Implicit padding on both sides (-inf for max, 0 for average).
    pub padding: [usize; 3],
    /// Spacing between window elements (max pooling only, as in PyTorch).
    pub dilation: [usize; 3],
    /// Round the output size up instead of down.
    pub ceil_mode: bool,
    /// Average pooling: count padded voxels in the divisor.
    pub count_include_pad: bool,
}

impl Pool3dOptions {
    /// PyTorch's defaults: stride = kernel, no padding, dilation 1, floor mode, padding counted.
    ///
    /// ```
    /// let o = medburn_ops::Pool3dOptions::new([3, 3, 3]).with_stride([1, 1, 1]).with_padding([1, 1, 1]);
    /// assert_eq!(o.padding, [1, 1, 1]);
    /// ```
    pub fn new(kernel_size: [usize; 3]) -> Self {
        Self {
            kernel_size,
            stride: kernel_size,
            padding: [0; 3],
            dilation: [1; 3],
            ceil_mode: false,
            count_include_pad: true,
        }
    }

    /// Sets the stride.
    ///
    /// ```
    /// assert_eq!(medburn_ops::Pool3dOptions::new([2; 3]).with_stride([1; 3]).stride, [1; 3]);
    /// ```
    pub fn with_stride(mut self, stride: [usize; 3]) -> Self {
        self.stride = stride;
        self
    }

    /// Sets the padding.
    ///
    /// ```
    /// assert_eq!(medburn_ops::Pool3dOptions::new([3; 3]).with_padding([1; 3]).padding, [1; 3]);
    /// ```
    pub fn with_padding(mut self, padding: [usize; 3]) -> Self {
        self.padding = padding;
        self
    }

    /// Sets the dilation (max pooling).
    ///
    /// ```
    /// assert_eq!(medburn_ops::Pool3dOptions::new([2; 3]).with_dilation([2; 3]).dilation, [2; 3]);
    /// ```
    pub fn with_dilation(mut self, dilation: [usize; 3]) -> Self {
        self.dilation = dilation;
        self
    }

    /// Sets ceil mode.
    ///
    /// ```
    /// assert!(medburn_ops::Pool3dOptions::new([2; 3]).with_ceil_mode(true).ceil_mode);
    /// ```
    pub fn with_ceil_mode(mut self, ceil_mode: bool) -> Self {
        self.ceil_mode = ceil_mode;
        self
    }

    /// Sets whether average pooling counts padded voxels.
    ///
    /// ```
    /// assert!(!medburn_ops::Pool3dOptions::new([2; 3]).with_count_include_pad(false).count_include_pad);
    /// ```
    pub fn with_count_include_pad(mut self, count_include_pad: bool) -> Self {
        self.count_include_pad = count_include_pad;
        self
    }

    /// Output size of one axis, PyTorch's `pooling_output_shape`.
    fn output_len(&self, axis: usize, len: usize) -> Option<usize> {
        let (k, s, p, d) = (
            self.kernel_size[axis],
            self.stride[axis],
            self.padding[axis],
            self.dilation[axis],
        );
        let span = (len + 2 * p).checked_sub(d * (k - 1) + 1)?;
        let mut out = if self.ceil_mode {
            span.div_ceil(s)
        } else {
            span / s
        } + 1;
        // The last window must start inside the input or the left padding.
        if self.ceil_mode && (out - 1) * s >= len + p {
            out -= 1;
        }
        Some(out)
    }

    /// The output shape `[N, C, Do, Ho, Wo]` of pooling an input of shape `dims`.
    pub(crate) fn output_shape(&self, dims: &[usize]) -> Option<[usize; 5]> {
        Some([
            dims[0],
            dims[1],
            self.output_len(0, dims[2])?,
            self.output_len(1, dims[3])?,
            self.output_len(2, dims[4])?,
        ])
    }

    /// Fails unless the options can pool an input of shape `dims` (rank 5, checked by the
    /// caller): positive sizes, padding at most half the window, a window that fits.
    pub(crate) fn check_shape(
        &self,
        op: &'static str,
        dims: &[usize],
        dilated: bool,
    ) -> Result<()> {
        check_nonempty(op, "input", dims)?;
        for a in 0..3 {
            let (k, s, p, d) = (
                self.kernel_size[a],
                self.stride[a],
                self.padding[a],
                self.dilation[a],
            );
            if k == 0 || s == 0 || d == 0 {
                return Err(OpsError::new(
                    op,
                    format!("kernel, stride and dilation must be positive: {self:?}"),
                ));
            }
            if !dilated && d != 1 {
                return Err(OpsError::new(op, "dilation is for max pooling only"));
            }
            let effective = if dilated { (k - 1) * d + 1 } else { k };
            if 2 * p > effective {
                return Err(OpsError::new(
                    op,
                    format!("padding {p} is more than half the window {effective}"),
                ));
            }
            if self.output_len(a, dims[2 + a]).is_none() {
                return Err(OpsError::new(
                    op,
                    format!("window larger than the padded input {dims:?} on axis {a}: {self:?}"),
                ));
            }
        }
        Ok(())
    }
}

/// Max pooling over `[N, C, D, H, W]`, identical to `torch.nn.functional.max_pool3d` in values
/// and gradient.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_ops::{max_pool3d, Pool3dOptions};
/// let x = Tensor::<1, burn::tensor::Int>::arange(0..8, &Device::flex()).float().reshape([1, 1, 2, 2, 2]);
/// let y = max_pool3d(x, Pool3dOptions::new([2, 2, 2]))?;
/// assert_eq!(y.into_scalar::<f32>(), 7.0);
/// # Ok::<(), medburn_ops::OpsError>(())
/// ```
pub fn max_pool3d(x: Tensor<5>, options: Pool3dOptions) -> Result<Tensor<5>> {
    contract::max_pool("max_pool3d", &Spec::new(&x.dims(), x.dtype()), &options)?;
    Ok(Tensor::from_dispatch(
        <Dispatch as PoolBackend>::max_pool3d(x.into_dispatch(), options),
    ))
}

/// Average pooling over `[N, C, D, H, W]`, identical to `torch.nn.functional.avg_pool3d` in
/// values and gradient (`count_include_pad`, `ceil_mode`; no `divisor_override`).
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_ops::{avg_pool3d, Pool3dOptions};
/// let x = Tensor::<1, burn::tensor::Int>::arange(0..8, &Device::flex()).float().reshape([1, 1, 2, 2, 2]);
/// let y = avg_pool3d(x, Pool3dOptions::new([2, 2, 2]))?;
/// assert_eq!(y.into_scalar::<f32>(), 3.5);
/// # Ok::<(), medburn_ops::OpsError>(())
/// ```
pub fn avg_pool3d(x: Tensor<5>, options: Pool3dOptions) -> Result<Tensor<5>> {
    options.check_shape("avg_pool3d", &x.dims(), false)?;
    let o = options;
    let [n, c, d, h, w] = x.dims();
    let depth = AvgPoolOptions::new([o.kernel_size[0], 1])
        .with_stride([o.stride[0], 1])
        .with_padding([o.padding[0], 0])
        .with_count_include_pad(o.count_include_pad)
        .with_ceil_mode(o.ceil_mode);
    let y = avg_pool2d(x.reshape([n, c, d, h * w]), depth);
    let d2 = y.dims()[2];
    let plane = AvgPoolOptions::new([o.kernel_size[1], o.kernel_size[2]])
        .with_stride([o.stride[1], o.stride[2]])
        .with_padding([o.padding[1], o.padding[2]])
        .with_count_include_pad(o.count_include_pad)
        .with_ceil_mode(o.ceil_mode);
    let y = avg_pool2d(y.reshape([n, c * d2, h, w]), plane);
    let [_, _, h2, w2] = y.dims();
    Ok(y.reshape([n, c, d2, h2, w2]))
}
