//! [`Conv3d`]: `burn::nn::conv::Conv3d` with its forward through [`medburn_ops::conv3d`].

use burn::module::{Module, Param};
use burn::nn::conv::Conv3dConfig;
use burn::nn::PaddingConfig3d;
use burn::tensor::{Device, Tensor};
use medburn_ops::{Conv3dOptions, OpsError};

/// A 3D convolution layer with the fields (and so the record, parameter names and weight
/// layout `[C_out, C_in / groups, kD, kH, kW]`) of `burn::nn::conv::Conv3d`, computed by
/// [`medburn_ops::conv3d`]: on the CPU medburn's tiled GEMM kernel, on a GPU Burn's own.
///
/// Build it from Burn's configuration, or convert an existing Burn layer (weights and all):
///
/// ```
/// use burn::nn::conv::Conv3dConfig;
/// use burn::nn::PaddingConfig3d;
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::nn::Conv3d;
///
/// let device = Device::flex();
/// let config = Conv3dConfig::new([1, 8], [3, 3, 3]).with_padding(PaddingConfig3d::Explicit(1, 1, 1));
/// let conv = Conv3d::new(&config, &device);
/// let y = conv.forward(Tensor::<5>::zeros([2, 1, 8, 8, 8], &device));
/// assert_eq!(y.dims(), [2, 8, 8, 8, 8]);
///
/// let burn_layer = config.init(&device);
/// let same = Conv3d::from(burn_layer.clone());
/// let x = Tensor::<5>::ones([1, 1, 4, 4, 4], &device);
/// let diff = (same.forward(x.clone()) - burn_layer.forward(x)).abs().max().into_scalar::<f32>();
/// assert!(diff < 1e-4);
/// ```
#[derive(Module, Debug)]
pub struct Conv3d {
    /// `[C_out, C_in / groups, kD, kH, kW]`.
    pub weight: Param<Tensor<5>>,
    /// `[C_out]`.
    pub bias: Option<Param<Tensor<1>>>,
    /// Step between output voxels.
    pub stride: [usize; 3],
    /// Kernel size `[kD, kH, kW]`.
    pub kernel_size: [usize; 3],
    /// Spacing between kernel taps.
    pub dilation: [usize; 3],
    /// Channel groups.
    pub groups: usize,
    /// Zero padding, as Burn's layer takes it.
    #[module(skip)]
    pub padding: PaddingConfig3d,
}

impl From<burn::nn::conv::Conv3d> for Conv3d {
    fn from(c: burn::nn::conv::Conv3d) -> Self {
        Self {
            weight: c.weight,
            bias: c.bias,
            stride: c.stride,
            kernel_size: c.kernel_size,
            dilation: c.dilation,
            groups: c.groups,
            padding: c.padding,
        }
    }
}

/// PyTorch's and Burn's "same" padding of one axis, `(front, back)`.
fn same_padding(kernel: usize, stride: usize, len: usize) -> (usize, usize) {
    let out = len.div_ceil(stride);
    let total = ((out.max(1) - 1) * stride + kernel).saturating_sub(len);
    (total / 2, total - total / 2)
}

impl Conv3d {
    /// A layer initialized as `config.init(device)` initializes Burn's.
    ///
    /// ```
    /// use burn::nn::conv::Conv3dConfig;
    /// let conv = medburn_models::nn::Conv3d::new(&Conv3dConfig::new([2, 4], [1, 1, 1]), &burn::tensor::Device::flex());
    /// assert_eq!(conv.weight.dims(), [4, 2, 1, 1, 1]);
    /// ```
    pub fn new(config: &Conv3dConfig, device: &Device) -> Self {
        config.init(device).into()
    }

    /// The op's options for an input of spatial size `[D, H, W]`.
    fn options(&self, size: [usize; 3]) -> Result<Conv3dOptions, OpsError> {
        let padding = match self.padding {
            PaddingConfig3d::Valid => [0; 3],
            PaddingConfig3d::Explicit(d, h, w) => [d, h, w],
            PaddingConfig3d::Same => {
                let mut p = [0; 3];
                for a in 0..3 {
                    let (front, back) = same_padding(self.kernel_size[a], self.stride[a], size[a]);
                    if front != back {
                        return Err(OpsError::new(
                            "Conv3d",
                            format!(
                                "\"same\" padding would be asymmetric ({front}, {back}) on axis \
                                 {a}: use an odd kernel size or explicit padding"
                            ),
                        ));
                    }
                    p[a] = front;
                }
                p
            }
        };
        Ok(Conv3dOptions::default()
            .with_stride(self.stride)
            .with_padding(padding)
            .with_dilation(self.dilation)
            .with_groups(self.groups))
    }

    /// The convolution of `x` `[N, C_in, D, H, W]`, or an error saying why it does not fit.
    ///
    /// ```
    /// use burn::nn::conv::Conv3dConfig;
    /// use burn::tensor::{Device, Tensor};
    /// let device = Device::flex();
    /// let conv = medburn_models::nn::Conv3d::new(&Conv3dConfig::new([2, 4], [3, 3, 3]), &device);
    /// assert!(conv.try_forward(Tensor::<5>::zeros([1, 3, 4, 4, 4], &device)).is_err());
    /// ```
    pub fn try_forward(&self, x: Tensor<5>) -> Result<Tensor<5>, OpsError> {
        let [_, _, d, h, w] = x.dims();
        let options = self.options([d, h, w])?;
        medburn_ops::conv3d(
            x,
            self.weight.val(),
            self.bias.as_ref().map(|b| b.val()),
            options,
        )
    }

    /// The convolution of `x` `[N, C_in, D, H, W]`.
    ///
    /// # Panics
    /// Where `x` does not fit the layer, as Burn's layer does; [`Self::try_forward`] returns the
    /// error instead.
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        self.try_forward(x).unwrap_or_else(|e| panic!("{e}"))
    }
}
