//! [`VoxelMorphUNet`]: the backbone of MONAI's VoxelMorph (`monai.networks.nets.VoxelMorphUNet`,
//! `spatial_dims=3`), layer for layer.

use burn::module::Module;
use burn::tensor::Tensor;

use super::layers::upsample2;
use super::{VoxelMorphDown, VoxelMorphUp};
use crate::blocks::Convolution;
use crate::error::check_input_shape;
use crate::monai_weights::{MonaiKeyMap, MonaiKeys};
use crate::ModelError;

/// VoxelMorph's U-Net: a concatenated image pair `[N, in_channels, D, H, W]` in, a field
/// `[N, 3, D, H, W]` out (a stationary velocity field, or a displacement field when the
/// network does not integrate), its components in the order of the spatial axes `(D, H, W)`
/// and in voxels, as MONAI's.
///
/// MONAI builds it recursively: level `i` is `Sequential(down_i, SkipConnection(level_{i+1}),
/// up_i)`, the skip connection concatenating the level's encoder output (first) with what the
/// level below hands back; the last level's inner block is the bottom layer (max pooling, a
/// convolution, nearest upsampling). Below the top each encoder layer pools by 2 and each
/// decoder layer upsamples by 2 after its convolution; the top decoder layer does not, and
/// convolutions after the U-Net (`final_conv_channels`, then one to 3 channels without
/// activation) make the field. [`VoxelMorphUNet`] keeps the layers in flat lists (`down`,
/// `bottom`, `up`, `final_convs`) and applies them in MONAI's order; [`crate::MonaiKeys`] says
/// which MONAI key lands where.
///
/// Every spatial size must be divisible by `2^levels` ([`check_input`](Self::check_input)).
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::voxelmorph::VoxelMorphUNetConfig;
///
/// let device = Device::flex();
/// let net = VoxelMorphUNetConfig::voxelmorph().init(&device)?;
/// let pair = Tensor::<5>::zeros([1, 2, 16, 8, 24], &device);
/// assert_eq!(net.try_forward(pair)?.dims(), [1, 3, 16, 8, 24]);
/// // Three levels: 12 is not divisible by 2^3.
/// assert!(net.try_forward(Tensor::<5>::zeros([1, 2, 16, 8, 12], &device)).is_err());
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Module, Debug)]
pub struct VoxelMorphUNet {
    /// Encoder layers, top first (MONAI `net.0.0`, `net.0.1.submodule.0`, ...).
    pub down: Vec<VoxelMorphDown>,
    /// The bottom layer's pooling and convolution (its upsampling has no weights).
    pub bottom: VoxelMorphDown,
    /// Decoder layers, top first (MONAI `net.0.2`, `net.0.1.submodule.2`, ...).
    pub up: Vec<VoxelMorphUp>,
    /// The convolutions after the U-Net (MONAI `net.1.final_conv_{i}`), the last one to the 3
    /// field components without activation (`net.1.final_conv_out`).
    pub final_convs: Vec<Convolution>,
}

impl VoxelMorphUNet {
    /// The field. Panics where [`check_input`](Self::check_input) fails; use
    /// [`try_forward`](Self::try_forward) on inputs of unknown shape.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::voxelmorph::VoxelMorphUNetConfig;
    ///
    /// let device = Device::flex();
    /// let net = VoxelMorphUNetConfig::new(4, 8, vec![4, 8], vec![8]).init(&device)?;
    /// assert_eq!(net.forward(Tensor::<5>::zeros([2, 4, 2, 4, 6], &device)).dims(), [2, 3, 2, 4, 6]);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let mut y = self.level(0, x);
        for conv in &self.final_convs {
            y = conv.forward(y);
        }
        y
    }

    /// [`check_input`](Self::check_input), then [`forward`](Self::forward).
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::{ModelError, voxelmorph::VoxelMorphUNetConfig};
    ///
    /// let device = Device::flex();
    /// let net = VoxelMorphUNetConfig::new(2, 8, vec![4, 8], vec![]).init(&device)?;
    /// let err = net.try_forward(Tensor::<5>::zeros([1, 1, 4, 4, 4], &device)).unwrap_err();
    /// assert!(matches!(err, ModelError::InputShape { .. }));
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn try_forward(&self, x: Tensor<5>) -> Result<Tensor<5>, ModelError> {
        self.check_input(x.dims())?;
        Ok(self.forward(x))
    }

    /// Whether an input of `shape` fits: `in_channels` channels, no empty axis, and every
    /// spatial size divisible by `2^levels` (each pooling halves it exactly, so that each
    /// upsampling gives back the size its skip connection has: MONAI's constraint).
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use medburn_models::voxelmorph::VoxelMorphUNetConfig;
    ///
    /// let net = VoxelMorphUNetConfig::new(2, 8, vec![4, 8, 8, 8], vec![]).init(&Device::flex())?;
    /// assert!(net.check_input([1, 2, 4, 8, 12]).is_ok());
    /// assert!(net.check_input([1, 4, 4, 8, 12]).is_err()); // channels
    /// assert!(net.check_input([1, 2, 4, 8, 6]).is_err()); // 6 is not divisible by 2 * 2
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn check_input(&self, shape: [usize; 5]) -> Result<(), ModelError> {
        check_input_shape(
            shape,
            self.in_channels(),
            " (the moving and the fixed image's together)",
            Some(&self.factors()),
        )
    }

    /// Channels of the input it takes (the moving and the fixed image's together).
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use medburn_models::voxelmorph::VoxelMorphUNetConfig;
    /// let net = VoxelMorphUNetConfig::new(6, 8, vec![4, 8], vec![]).init(&Device::flex())?;
    /// assert_eq!(net.in_channels(), 6);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn in_channels(&self) -> usize {
        let conv = &self.down[0].conv.conv;
        conv.weight.dims()[1] * conv.groups
    }

    /// Levels of the U-Net (each halves the grid).
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use medburn_models::voxelmorph::VoxelMorphUNetConfig;
    /// assert_eq!(VoxelMorphUNetConfig::voxelmorph().init(&Device::flex())?.levels(), 3);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn levels(&self) -> usize {
        self.down.len()
    }

    /// The downsampling factor of each pooling (or strided) layer, top first, the bottom's
    /// last.
    fn factors(&self) -> Vec<usize> {
        self.down
            .iter()
            .skip(1)
            .chain(std::iter::once(&self.bottom))
            .map(VoxelMorphDown::factor)
            .collect()
    }

    fn level(&self, i: usize, x: Tensor<5>) -> Tensor<5> {
        let d = self.down[i].forward(x);
        let inner = if i + 1 == self.down.len() {
            upsample2(self.bottom.forward(d.clone()))
        } else {
            self.level(i + 1, d.clone())
        };
        self.up[i].forward(Tensor::cat(vec![d, inner], 1))
    }
}

/// MONAI nests each level inside the one above (`net.0.1.submodule.` once per level); Burn's
/// paths follow [`VoxelMorphUNet`]'s fields (`down.{i}`, `bottom`, `up.{i}`, `final_convs.{i}`).
/// Level by level from the top (each level's encoder then decoder layer), then the bottom, then
/// the final convolutions.
impl MonaiKeys for VoxelMorphUNet {
    fn push_monai_keys(&self, monai: &str, burn: &str, map: &mut MonaiKeyMap) {
        let mut prefix = format!("{monai}net.0.");
        for (i, (down, up)) in self.down.iter().zip(&self.up).enumerate() {
            down.push_monai_keys(&format!("{prefix}0."), &format!("{burn}down.{i}."), map);
            up.push_monai_keys(&format!("{prefix}2."), &format!("{burn}up.{i}."), map);
            prefix.push_str("1.submodule.");
        }
        // The bottom: nn.Sequential(down layer, UpSample).
        self.bottom
            .push_monai_keys(&format!("{prefix}0."), &format!("{burn}bottom."), map);
        let last = self.final_convs.len().saturating_sub(1);
        for (i, conv) in self.final_convs.iter().enumerate() {
            let name = if i == last {
                "final_conv_out".to_string()
            } else {
                format!("final_conv_{i}")
            };
            conv.push_monai_keys(
                &format!("{monai}net.1.{name}."),
                &format!("{burn}final_convs.{i}."),
                map,
            );
        }
    }
}
