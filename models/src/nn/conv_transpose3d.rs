//! [`ConvTranspose3d`]: `burn::nn::conv::ConvTranspose3d` with its forward through
//! [`medburn_ops::conv_transpose3d`].

use burn::module::{Module, Param};
use burn::nn::conv::ConvTranspose3dConfig;
use burn::tensor::{Device, Tensor};
use medburn_ops::{ConvTranspose3dOptions, OpsError};

/// A transposed 3D convolution layer with the fields (and so the record, parameter names and
/// weight layout `[C_in, C_out / groups, kD, kH, kW]`) of `burn::nn::conv::ConvTranspose3d`,
/// computed by [`medburn_ops::conv_transpose3d`]: on the CPU medburn's convolution kernels run
/// as their adjoint, on a GPU Burn's own kernel.
///
/// Build it from Burn's configuration, or convert an existing Burn layer (weights and all):
///
/// ```
/// use burn::nn::conv::ConvTranspose3dConfig;
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::nn::ConvTranspose3d;
///
/// let device = Device::flex();
/// // MONAI's U-Net up-sampling: each axis doubles.
/// let config = ConvTranspose3dConfig::new([8, 4], [3, 3, 3])
///     .with_stride([2; 3])
///     .with_padding([1; 3])
///     .with_padding_out([1; 3]);
/// let up = ConvTranspose3d::new(&config, &device);
/// assert_eq!(up.forward(Tensor::<5>::zeros([2, 8, 4, 4, 4], &device)).dims(), [2, 4, 8, 8, 8]);
///
/// let burn_layer = config.init(&device);
/// let same = ConvTranspose3d::from(burn_layer.clone());
/// let x = Tensor::<5>::ones([1, 8, 3, 3, 3], &device);
/// let diff = (same.forward(x.clone()) - burn_layer.forward(x)).abs().max().into_scalar::<f32>();
/// assert!(diff < 1e-4);
/// ```
#[derive(Module, Debug)]
pub struct ConvTranspose3d {
    /// `[C_in, C_out / groups, kD, kH, kW]`.
    pub weight: Param<Tensor<5>>,
    /// `[C_out]`.
    pub bias: Option<Param<Tensor<1>>>,
    /// Step between the output positions of neighbouring input voxels.
    pub stride: [usize; 3],
    /// Kernel size `[kD, kH, kW]`.
    pub kernel_size: [usize; 3],
    /// Spacing between kernel taps.
    pub dilation: [usize; 3],
    /// Channel groups.
    pub groups: usize,
    /// Voxels cut from both sides of the output.
    pub padding: [usize; 3],
    /// Voxels added at the far side of the output (PyTorch's `output_padding`).
    pub padding_out: [usize; 3],
    /// `[C_in, C_out]`.
    pub channels: [usize; 2],
}

impl From<burn::nn::conv::ConvTranspose3d> for ConvTranspose3d {
    fn from(c: burn::nn::conv::ConvTranspose3d) -> Self {
        Self {
            weight: c.weight,
            bias: c.bias,
            stride: c.stride,
            kernel_size: c.kernel_size,
            dilation: c.dilation,
            groups: c.groups,
            padding: c.padding,
            padding_out: c.padding_out,
            channels: c.channels,
        }
    }
}

impl ConvTranspose3d {
    /// A layer initialized as `config.init(device)` initializes Burn's.
    ///
    /// ```
    /// use burn::nn::conv::ConvTranspose3dConfig;
    /// use medburn_models::nn::ConvTranspose3d;
    /// let up = ConvTranspose3d::new(&ConvTranspose3dConfig::new([4, 2], [2, 2, 2]), &burn::tensor::Device::flex());
    /// assert_eq!(up.weight.dims(), [4, 2, 2, 2, 2]);
    /// ```
    pub fn new(config: &ConvTranspose3dConfig, device: &Device) -> Self {
        config.init(device).into()
    }

    /// The op's options.
    ///
    /// ```
    /// use burn::nn::conv::ConvTranspose3dConfig;
    /// use medburn_models::nn::ConvTranspose3d;
    /// let config = ConvTranspose3dConfig::new([4, 2], [3, 3, 3]).with_stride([2; 3]).with_padding_out([1; 3]);
    /// let up = ConvTranspose3d::new(&config, &burn::tensor::Device::flex());
    /// assert_eq!(up.options().output_padding, [1; 3]);
    /// ```
    pub fn options(&self) -> ConvTranspose3dOptions {
        ConvTranspose3dOptions::default()
            .with_stride(self.stride)
            .with_padding(self.padding)
            .with_output_padding(self.padding_out)
            .with_dilation(self.dilation)
            .with_groups(self.groups)
    }

    /// The transposed convolution of `x` `[N, C_in, D, H, W]`, or an error saying why it does
    /// not fit.
    ///
    /// ```
    /// use burn::nn::conv::ConvTranspose3dConfig;
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::nn::ConvTranspose3d;
    /// let device = Device::flex();
    /// let up = ConvTranspose3d::new(&ConvTranspose3dConfig::new([4, 2], [2, 2, 2]), &device);
    /// assert!(up.try_forward(Tensor::<5>::zeros([1, 3, 4, 4, 4], &device)).is_err());
    /// ```
    pub fn try_forward(&self, x: Tensor<5>) -> Result<Tensor<5>, OpsError> {
        medburn_ops::conv_transpose3d(
            x,
            self.weight.val(),
            self.bias.as_ref().map(|b| b.val()),
            self.options(),
        )
    }

    /// The transposed convolution of `x` `[N, C_in, D, H, W]`.
    ///
    /// # Panics
    /// Where `x` does not fit the layer, as Burn's layer does; [`Self::try_forward`] returns the
    /// error instead.
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        self.try_forward(x).unwrap_or_else(|e| panic!("{e}"))
    }
}
