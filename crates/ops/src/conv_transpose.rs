//! Transposed 3D convolution, PyTorch's `conv_transpose3d` (the U-Net up path), as a backend
//! op ([`ConvBackend`]) with its own backward.
//!
//! A transposed convolution is the adjoint of a convolution: its forward is a convolution's
//! input gradient, its input gradient a convolution's forward, and its weight gradient a
//! convolution's weight gradient with input and output gradient swapped. So on Flex it runs
//! the kernels of [`conv3d`](crate::conv3d) on the equivalent [`ConvShape`], whose input is
//! this op's output; on CubeCL it is Burn's own transposed convolution.

use burn::backend::Dispatch;
use burn::tensor::{Shape, Tensor};

use crate::backend::ConvBackend;
use crate::contract::{self, ConvGeometry, Spec};
use crate::conv::ConvShape;
use crate::error::{OpsError, Result};

/// Stride, padding, output padding, dilation and groups of a transposed 3D convolution, in
/// tensor order `[D, H, W]`, with PyTorch's defaults (and `burn::nn`'s, where the output
/// padding is called `padding_out`).
///
/// ```
/// use medburn_ops::ConvTranspose3dOptions;
/// // MONAI's U-Net up-sampling: kernel 3, stride 2, padding 1, output padding 1.
/// let o = ConvTranspose3dOptions::default()
///     .with_stride([2; 3])
///     .with_padding([1; 3])
///     .with_output_padding([1; 3]);
/// assert_eq!(o.output_shape(&[2, 32, 8, 8, 8], &[32, 16, 3, 3, 3]), Some([2, 16, 16, 16, 16]));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConvTranspose3dOptions {
    /// Step between the output positions of neighbouring input voxels.
    pub stride: [usize; 3],
    /// Voxels removed from both sides of the full output (the padding of the convolution this
    /// one is the adjoint of).
    pub padding: [usize; 3],
    /// Voxels added at the far side of the output, to pick one of the `stride` output sizes
    /// that convolve back to the input's size; below the stride or the dilation.
    pub output_padding: [usize; 3],
    /// Spacing between kernel taps.
    pub dilation: [usize; 3],
    /// Channel groups: input and output channels are split into `groups` independent parts.
    pub groups: usize,
}

impl Default for ConvTranspose3dOptions {
    fn default() -> Self {
        Self {
            stride: [1; 3],
            padding: [0; 3],
            output_padding: [0; 3],
            dilation: [1; 3],
            groups: 1,
        }
    }
}

impl ConvTranspose3dOptions {
    /// Sets the stride.
    ///
    /// ```
    /// assert_eq!(medburn_ops::ConvTranspose3dOptions::default().with_stride([2; 3]).stride, [2; 3]);
    /// ```
    pub fn with_stride(mut self, stride: [usize; 3]) -> Self {
        self.stride = stride;
        self
    }

    /// Sets the padding.
    ///
    /// ```
    /// assert_eq!(medburn_ops::ConvTranspose3dOptions::default().with_padding([1; 3]).padding, [1; 3]);
    /// ```
    pub fn with_padding(mut self, padding: [usize; 3]) -> Self {
        self.padding = padding;
        self
    }

    /// Sets the output padding.
    ///
    /// ```
    /// use medburn_ops::ConvTranspose3dOptions;
    /// assert_eq!(ConvTranspose3dOptions::default().with_output_padding([1; 3]).output_padding, [1; 3]);
    /// ```
    pub fn with_output_padding(mut self, output_padding: [usize; 3]) -> Self {
        self.output_padding = output_padding;
        self
    }

    /// Sets the dilation.
    ///
    /// ```
    /// use medburn_ops::ConvTranspose3dOptions;
    /// assert_eq!(ConvTranspose3dOptions::default().with_dilation([2; 3]).dilation, [2; 3]);
    /// ```
    pub fn with_dilation(mut self, dilation: [usize; 3]) -> Self {
        self.dilation = dilation;
        self
    }

    /// Sets the number of channel groups.
    ///
    /// ```
    /// assert_eq!(medburn_ops::ConvTranspose3dOptions::default().with_groups(2).groups, 2);
    /// ```
    pub fn with_groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }

    /// The output shape for an input `[N, C_in, D, H, W]` and a weight `[C_in, C_out / groups,
    /// kD, kH, kW]`, PyTorch's rule `(len - 1) s - 2 p + d (k - 1) + output_padding + 1`;
    /// `None` where that is not positive or the weight does not match the input's channels.
    ///
    /// ```
    /// use medburn_ops::ConvTranspose3dOptions;
    /// let o = ConvTranspose3dOptions::default().with_stride([2; 3]);
    /// assert_eq!(o.output_shape(&[1, 4, 3, 4, 5], &[4, 2, 2, 2, 2]), Some([1, 2, 6, 8, 10]));
    /// let o = ConvTranspose3dOptions::default().with_padding([2; 3]);
    /// assert_eq!(o.output_shape(&[1, 1, 1, 1, 1], &[1, 1, 3, 3, 3]), None);
    /// ```
    pub fn output_shape(&self, input: &[usize], weight: &[usize]) -> Option<[usize; 5]> {
        if input.len() != 5 || weight.len() != 5 || weight[0] != input[1] {
            return None;
        }
        let mut out = [input[0], weight[1] * self.groups, 0, 0, 0];
        for a in 0..3 {
            let full = (input[2 + a].checked_sub(1)?) * self.stride[a]
                + self.dilation[a] * (weight[2 + a].checked_sub(1)?)
                + self.output_padding[a]
                + 1;
            out[2 + a] = full.checked_sub(2 * self.padding[a]).filter(|&n| n > 0)?;
        }
        Some(out)
    }

    /// The convolution this op is the adjoint of: its input is this op's output, its output
    /// this op's input, and its weight this op's weight.
    pub(crate) fn adjoint_shape(&self, input: &[usize], weight: &[usize]) -> Option<ConvShape> {
        let out = self.output_shape(input, weight)?;
        Some(ConvShape {
            batch: input[0],
            in_channels: out[1],
            out_channels: input[1],
            groups: self.groups,
            input: [out[2], out[3], out[4]],
            output: [input[2], input[3], input[4]],
            kernel: [weight[2], weight[3], weight[4]],
            stride: self.stride,
            padding: self.padding,
            dilation: self.dilation,
        })
    }

    /// Burn's options, for the backends that run Burn's own transposed convolution.
    #[cfg(feature = "cube")]
    pub(crate) fn to_burn(self) -> burn::tensor::ops::ConvTransposeOptions<3> {
        burn::tensor::ops::ConvTransposeOptions::new(
            self.stride,
            self.padding,
            self.output_padding,
            self.dilation,
            self.groups,
        )
    }
}

impl ConvGeometry for ConvTranspose3dOptions {
    fn check(&self, op: &'static str, input: &[usize], weight: &[usize]) -> Result<()> {
        let fail = |m: String| Err(OpsError::new(op, m));
        if self.stride.contains(&0) || self.dilation.contains(&0) || self.groups == 0 {
            return fail(format!(
                "stride, dilation and groups must be positive: {self:?}"
            ));
        }
        let g = self.groups;
        if !input[1].is_multiple_of(g) {
            return fail(format!(
                "groups {g} must divide the input channels {}",
                input[1]
            ));
        }
        if weight[0] != input[1] {
            return fail(format!(
                "weight {weight:?} must have the input channels {} in dimension 0 \
                 (a transposed convolution's weight is [C_in, C_out / groups, kD, kH, kW])",
                input[1]
            ));
        }
        for a in 0..3 {
            let op_a = self.output_padding[a];
            if op_a >= self.stride[a] && op_a >= self.dilation[a] {
                return fail(format!(
                    "output padding {:?} must be smaller than the stride {:?} or the dilation {:?}",
                    self.output_padding, self.stride, self.dilation
                ));
            }
        }
        if self.output_shape(input, weight).is_none() {
            return fail(format!(
                "padding {:?} leaves no output for input {input:?} and kernel {:?}",
                self.padding,
                &weight[2..]
            ));
        }
        Ok(())
    }

    fn output_shape(&self, input: &[usize], weight: &[usize]) -> Option<[usize; 5]> {
        ConvTranspose3dOptions::output_shape(self, input, weight)
    }

    fn kernel_shape(&self, input: &[usize], weight: &[usize]) -> Option<ConvShape> {
        self.adjoint_shape(input, weight)
    }
}

pub(crate) fn conv_transpose_output_shape(
    input: &Shape,
    weight: &Shape,
    o: &ConvTranspose3dOptions,
) -> Shape {
    Shape::from(o.output_shape(input, weight).unwrap_or([0; 5]).to_vec())
}

/// Transposed 3D convolution of `x` `[N, C_in, D, H, W]` with `weight` `[C_in, C_out / groups,
/// kD, kH, kW]` and an optional `bias` `[C_out]`: `[N, C_out, Do, Ho, Wo]`, equal to
/// `torch.nn.functional.conv_transpose3d` in values and in the gradients to all three.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_ops::{conv_transpose3d, ConvTranspose3dOptions};
/// let device = Device::flex();
/// // Stride 2 with a 2x2x2 kernel of ones: each input voxel becomes a 2x2x2 block.
/// let x = Tensor::<5>::from_floats([[[[[1.0, 2.0]]]]], &device);
/// let w = Tensor::<5>::ones([1, 1, 2, 2, 2], &device);
/// let o = ConvTranspose3dOptions::default().with_stride([2; 3]);
/// let y = conv_transpose3d(x, w, None, o)?;
/// assert_eq!(y.dims(), [1, 1, 2, 2, 4]);
/// assert_eq!(y.sum().into_scalar::<f32>(), 8.0 * 3.0);
/// # Ok::<(), medburn_ops::OpsError>(())
/// ```
pub fn conv_transpose3d(
    x: Tensor<5>,
    weight: Tensor<5>,
    bias: Option<Tensor<1>>,
    options: ConvTranspose3dOptions,
) -> Result<Tensor<5>> {
    let (xs, ws) = (
        Spec::new(&x.dims(), x.dtype()),
        Spec::new(&weight.dims(), weight.dtype()),
    );
    let bias = match bias {
        Some(b) => b,
        None => {
            let c_out = options
                .output_shape(&xs.shape, &ws.shape)
                .map_or(0, |o| o[1]);
            Tensor::<1>::zeros([c_out.max(1)], &weight.device()).cast(weight.dtype())
        }
    };
    contract::conv3d(
        "conv_transpose3d",
        &xs,
        &ws,
        &Spec::new(&bias.dims(), bias.dtype()),
        &options,
    )?;
    Ok(Tensor::from_dispatch(
        <Dispatch as ConvBackend>::conv_transpose3d_forward(
            x.into_dispatch(),
            weight.into_dispatch(),
            bias.into_dispatch(),
            options,
        ),
    ))
}
