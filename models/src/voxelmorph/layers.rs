//! The encoder (down) and decoder (up) layers of VoxelMorph's U-Net, and the two fixed
//! resamplings between them: max pooling by 2 and nearest upsampling by 2.

use burn::module::Module;
use burn::tensor::Tensor;
use medburn_ops::{interpolate_3d, max_pool3d, Interpolate3dOptions, Interpolation, Pool3dOptions};

use crate::blocks::Convolution;
use crate::monai_weights::{MonaiKeyMap, MonaiKeys};

/// `nn.MaxPool3d(kernel_size=2, stride=2)`. The network checks sizes before it runs, so the
/// pooling cannot fail on its inputs.
pub(crate) fn pool2(x: Tensor<5>) -> Tensor<5> {
    max_pool3d(x, Pool3dOptions::new([2; 3]).with_stride([2; 3])).unwrap_or_else(|e| panic!("{e}"))
}

/// MONAI's `UpSample(mode="nontrainable", interp_mode="nearest", scale_factor=2)`:
/// `nn.Upsample(scale_factor=2, mode="nearest")`.
pub(crate) fn upsample2(x: Tensor<5>) -> Tensor<5> {
    let options = Interpolate3dOptions::new(Interpolation::Nearest).with_scale_factor([2.0; 3]);
    interpolate_3d(x, options).unwrap_or_else(|e| panic!("{e}"))
}

/// An encoder layer (or the bottom layer's first half): MONAI's
/// `VoxelMorphUNet._get_down_layer`, max pooling by 2 then a [`Convolution`] block below the top
/// level (`use_maxpool`), or the convolution alone (at the top, or strided without
/// `use_maxpool`). MONAI keys: the convolution's at `1.*` after a pooling, its own otherwise.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::voxelmorph::VoxelMorphUNetConfig;
///
/// let device = Device::flex();
/// let net = VoxelMorphUNetConfig::new(2, 8, vec![4, 8, 8, 8], vec![]).init(&device)?;
/// assert!(!net.down[0].maxpool && net.down[1].maxpool);
/// let y = net.down[1].forward(Tensor::<5>::ones([1, 4, 8, 8, 8], &device));
/// assert_eq!(y.dims(), [1, 8, 4, 4, 4]);
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Module, Debug)]
pub struct VoxelMorphDown {
    /// Whether a max pooling (kernel 2, stride 2) comes first.
    pub maxpool: bool,
    /// The convolution block (stride 2 where it downsamples instead of the pooling).
    pub conv: Convolution,
}

impl VoxelMorphDown {
    /// Pooling (where there is one), then the convolution.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::voxelmorph::VoxelMorphUNetConfig;
    ///
    /// let device = Device::flex();
    /// let net = VoxelMorphUNetConfig::new(2, 8, vec![4, 8], vec![]).with_use_maxpool(false).init(&device)?;
    /// // Without max pooling the bottom's convolution has stride 2.
    /// let y = net.bottom.forward(Tensor::<5>::ones([1, 4, 6, 4, 2], &device));
    /// assert_eq!(y.dims(), [1, 8, 3, 2, 1]);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let x = if self.maxpool { pool2(x) } else { x };
        self.conv.forward(x)
    }

    /// The factor by which the layer shrinks each axis (1 or 2).
    pub(crate) fn factor(&self) -> usize {
        if self.maxpool {
            2
        } else {
            self.conv.conv.stride[0]
        }
    }
}

/// A decoder layer: MONAI's `VoxelMorphUNet._get_up_layer`, a [`Convolution`] block, then a
/// nearest upsampling by 2 below the top level. MONAI keys: the convolution's at `0.*` when an
/// upsampling follows, its own at the top.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::voxelmorph::VoxelMorphUNetConfig;
///
/// let device = Device::flex();
/// let net = VoxelMorphUNetConfig::new(2, 8, vec![4, 8, 8, 8], vec![]).init(&device)?;
/// assert!(!net.up[0].upsample && net.up[1].upsample);
/// let y = net.up[1].forward(Tensor::<5>::ones([1, 16, 2, 2, 2], &device));
/// assert_eq!(y.dims(), [1, 8, 4, 4, 4]);
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Module, Debug)]
pub struct VoxelMorphUp {
    /// The convolution block.
    pub conv: Convolution,
    /// Whether a nearest upsampling by 2 follows.
    pub upsample: bool,
}

impl VoxelMorphUp {
    /// The convolution, then the upsampling (where there is one).
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::voxelmorph::VoxelMorphUNetConfig;
    ///
    /// let device = Device::flex();
    /// let net = VoxelMorphUNetConfig::new(2, 6, vec![4, 8], vec![]).init(&device)?;
    /// let y = net.up[0].forward(Tensor::<5>::ones([1, 12, 2, 2, 2], &device));
    /// assert_eq!(y.dims(), [1, 6, 2, 2, 2]); // the top: no upsampling
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let y = self.conv.forward(x);
        if self.upsample {
            upsample2(y)
        } else {
            y
        }
    }
}

impl MonaiKeys for VoxelMorphDown {
    fn push_monai_keys(&self, monai: &str, burn: &str, map: &mut MonaiKeyMap) {
        // MONAI: nn.Sequential(nn.MaxPool3d, Convolution), or the Convolution alone.
        let monai = if self.maxpool {
            format!("{monai}1.")
        } else {
            monai.to_string()
        };
        self.conv
            .push_monai_keys(&monai, &format!("{burn}conv."), map);
    }
}

impl MonaiKeys for VoxelMorphUp {
    fn push_monai_keys(&self, monai: &str, burn: &str, map: &mut MonaiKeyMap) {
        // MONAI: nn.Sequential(Convolution, UpSample), or the Convolution alone at the top.
        let monai = if self.upsample {
            format!("{monai}0.")
        } else {
            monai.to_string()
        };
        self.conv
            .push_monai_keys(&monai, &format!("{burn}conv."), map);
    }
}
