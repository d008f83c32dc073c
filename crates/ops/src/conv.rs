//! 3D convolution, PyTorch's `conv3d`, as a backend op ([`ConvBackend`]) with its own backward.
//!
//! On Flex it is medburn's own kernel: the input is unfolded tile by tile into columns (a few
//! output rows at a time, so the columns stay in the L2 cache instead of being `k^3` times the
//! volume) and each tile is one GEMM against the weights, through the `gemm` crate Burn itself
//! uses (its micro-kernels pick AVX2/FMA, AVX-512 or NEON at run time). The weight gradient is
//! one GEMM per tile over all channels of a group, accumulated per thread; the input gradient
//! is the transposed GEMM and a scatter of the columns back, in two phases of non-overlapping
//! depth slabs so that no two threads add to the same voxel. On CubeCL it is Burn's own
//! convolution.

use burn::backend::Dispatch;
use burn::tensor::{Shape, Tensor};

use crate::backend::ConvBackend;
use crate::contract::{self, ConvGeometry, Spec};
use crate::error::{OpsError, Result};

/// Stride, padding, dilation and groups of a 3D convolution, in tensor order `[D, H, W]`, with
/// PyTorch's defaults (and `burn::nn::conv::Conv3dConfig`'s).
///
/// ```
/// use medburn_ops::Conv3dOptions;
/// let o = Conv3dOptions::default().with_padding([1; 3]);
/// assert_eq!((o.stride, o.padding, o.dilation, o.groups), ([1; 3], [1; 3], [1; 3], 1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv3dOptions {
    /// Step between output voxels, in input voxels.
    pub stride: [usize; 3],
    /// Implicit zeros on both sides.
    pub padding: [usize; 3],
    /// Spacing between kernel taps.
    pub dilation: [usize; 3],
    /// Channel groups: input and output channels are split into `groups` independent parts.
    pub groups: usize,
}

impl Default for Conv3dOptions {
    fn default() -> Self {
        Self {
            stride: [1; 3],
            padding: [0; 3],
            dilation: [1; 3],
            groups: 1,
        }
    }
}

impl Conv3dOptions {
    /// Sets the stride.
    ///
    /// ```
    /// assert_eq!(medburn_ops::Conv3dOptions::default().with_stride([2; 3]).stride, [2; 3]);
    /// ```
    pub fn with_stride(mut self, stride: [usize; 3]) -> Self {
        self.stride = stride;
        self
    }

    /// Sets the padding (zeros).
    ///
    /// ```
    /// assert_eq!(medburn_ops::Conv3dOptions::default().with_padding([1; 3]).padding, [1; 3]);
    /// ```
    pub fn with_padding(mut self, padding: [usize; 3]) -> Self {
        self.padding = padding;
        self
    }

    /// Sets the dilation.
    ///
    /// ```
    /// assert_eq!(medburn_ops::Conv3dOptions::default().with_dilation([2; 3]).dilation, [2; 3]);
    /// ```
    pub fn with_dilation(mut self, dilation: [usize; 3]) -> Self {
        self.dilation = dilation;
        self
    }

    /// Sets the number of channel groups.
    ///
    /// ```
    /// assert_eq!(medburn_ops::Conv3dOptions::default().with_groups(4).groups, 4);
    /// ```
    pub fn with_groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }

    /// The output shape of convolving an input `[N, C_in, D, H, W]` with a weight
    /// `[C_out, C_in / groups, kD, kH, kW]`, PyTorch's rule
    /// `(len + 2 p - d (k - 1) - 1) / s + 1`; `None` where the kernel does not fit.
    ///
    /// ```
    /// use medburn_ops::Conv3dOptions;
    /// let o = Conv3dOptions::default().with_stride([2; 3]).with_padding([1; 3]);
    /// assert_eq!(o.output_shape(&[2, 1, 64, 64, 64], &[16, 1, 3, 3, 3]), Some([2, 16, 32, 32, 32]));
    /// assert_eq!(Conv3dOptions::default().output_shape(&[1, 1, 2, 2, 2], &[1, 1, 3, 3, 3]), None);
    /// ```
    pub fn output_shape(&self, input: &[usize], weight: &[usize]) -> Option<[usize; 5]> {
        if input.len() != 5 || weight.len() != 5 {
            return None;
        }
        let mut out = [input[0], weight[0], 0, 0, 0];
        for a in 0..3 {
            let reach = self.dilation[a] * (weight[2 + a].checked_sub(1)?) + 1;
            let span = (input[2 + a] + 2 * self.padding[a]).checked_sub(reach)?;
            out[2 + a] = span / self.stride[a].max(1) + 1;
        }
        Some(out)
    }

    /// Burn's options, for the backends that run Burn's own convolution.
    #[cfg(feature = "cube")]
    pub(crate) fn to_burn(self) -> burn::tensor::ops::ConvOptions<3> {
        burn::tensor::ops::ConvOptions::new(self.stride, self.padding, self.dilation, self.groups)
    }
}

impl ConvGeometry for Conv3dOptions {
    fn check(&self, op: &'static str, input: &[usize], weight: &[usize]) -> Result<()> {
        let fail = |m: String| Err(OpsError::new(op, m));
        if self.stride.contains(&0) || self.dilation.contains(&0) || self.groups == 0 {
            return fail(format!(
                "stride, dilation and groups must be positive: {self:?}"
            ));
        }
        let g = self.groups;
        if !input[1].is_multiple_of(g) || !weight[0].is_multiple_of(g) {
            return fail(format!(
                "groups {g} must divide the input channels {} and the output channels {}",
                input[1], weight[0]
            ));
        }
        if weight[1] * g != input[1] {
            return fail(format!(
                "weight {weight:?} must have input channels / groups = {} / {g} in dimension 1",
                input[1]
            ));
        }
        if self.output_shape(input, weight).is_none() {
            return fail(format!(
                "kernel {:?} (dilation {:?}) does not fit the padded input {input:?}",
                &weight[2..],
                self.dilation
            ));
        }
        Ok(())
    }

    fn output_shape(&self, input: &[usize], weight: &[usize]) -> Option<[usize; 5]> {
        Conv3dOptions::output_shape(self, input, weight)
    }

    fn kernel_shape(&self, input: &[usize], weight: &[usize]) -> Option<ConvShape> {
        ConvShape::new(input, weight, self)
    }
}

/// Everything a convolution kernel needs to know about its operands, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ConvShape {
    pub batch: usize,
    pub in_channels: usize,
    pub out_channels: usize,
    pub groups: usize,
    pub input: [usize; 3],
    pub output: [usize; 3],
    pub kernel: [usize; 3],
    pub stride: [usize; 3],
    pub padding: [usize; 3],
    pub dilation: [usize; 3],
}

impl ConvShape {
    /// The shape of convolving `input` with `weight`, or `None` where they do not fit.
    pub fn new(input: &[usize], weight: &[usize], o: &Conv3dOptions) -> Option<Self> {
        let out = o.output_shape(input, weight)?;
        Some(Self {
            batch: input[0],
            in_channels: input[1],
            out_channels: weight[0],
            groups: o.groups,
            input: [input[2], input[3], input[4]],
            output: [out[2], out[3], out[4]],
            kernel: [weight[2], weight[3], weight[4]],
            stride: o.stride,
            padding: o.padding,
            dilation: o.dilation,
        })
    }

    pub fn input_dims(&self) -> [usize; 5] {
        let [d, h, w] = self.input;
        [self.batch, self.in_channels, d, h, w]
    }

    pub fn output_dims(&self) -> [usize; 5] {
        let [d, h, w] = self.output;
        [self.batch, self.out_channels, d, h, w]
    }

    pub fn weight_dims(&self) -> [usize; 5] {
        let [a, b, c] = self.kernel;
        [self.out_channels, self.in_channels / self.groups, a, b, c]
    }
}

pub(crate) fn conv_output_shape(input: &Shape, weight: &Shape, o: &Conv3dOptions) -> Shape {
    Shape::from(o.output_shape(input, weight).unwrap_or([0; 5]).to_vec())
}

/// 3D convolution of `x` `[N, C_in, D, H, W]` with `weight` `[C_out, C_in / groups, kD, kH,
/// kW]` and an optional `bias` `[C_out]`: `[N, C_out, Do, Ho, Wo]`, equal to
/// `torch.nn.functional.conv3d` in values and in the gradients to all three (cross-correlation,
/// zero padding, as PyTorch and `burn::nn` define it).
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_ops::{conv3d, Conv3dOptions};
/// let device = Device::flex();
/// let x = Tensor::<5>::ones([1, 2, 4, 4, 4], &device);
/// let w = Tensor::<5>::ones([3, 2, 3, 3, 3], &device);
/// let b = Tensor::<1>::from_floats([0.0, 1.0, 2.0], &device);
/// let y = conv3d(x, w, Some(b), Conv3dOptions::default().with_padding([1; 3]))?;
/// assert_eq!(y.dims(), [1, 3, 4, 4, 4]);
/// // An inner voxel sees 2 channels x 27 taps of ones; a corner sees 2 x 8.
/// let inner = y.clone().slice([0..1, 2..3, 1..2, 1..2, 1..2]).into_scalar::<f32>();
/// assert_eq!(inner, 54.0 + 2.0);
/// assert_eq!(y.slice([0..1, 0..1, 0..1, 0..1, 0..1]).into_scalar::<f32>(), 16.0);
/// # Ok::<(), medburn_ops::OpsError>(())
/// ```
pub fn conv3d(
    x: Tensor<5>,
    weight: Tensor<5>,
    bias: Option<Tensor<1>>,
    options: Conv3dOptions,
) -> Result<Tensor<5>> {
    let bias = match bias {
        Some(b) => b,
        None => Tensor::<1>::zeros([weight.dims()[0]], &weight.device()).cast(weight.dtype()),
    };
    contract::conv3d(
        "conv3d",
        &Spec::new(&x.dims(), x.dtype()),
        &Spec::new(&weight.dims(), weight.dtype()),
        &Spec::new(&bias.dims(), bias.dtype()),
        &options,
    )?;
    Ok(Tensor::from_dispatch(
        <Dispatch as ConvBackend>::conv3d_forward(
            x.into_dispatch(),
            weight.into_dispatch(),
            bias.into_dispatch(),
            options,
        ),
    ))
}
