//! MONAI's convolutional autoencoders for 3D volumes, layer for layer:
//! [`AutoEncoder`] (`monai.networks.nets.AutoEncoder`) and [`VarAutoEncoder`]
//! (`monai.networks.nets.VarAutoEncoder`), with [`kl_divergence`] for the VAE's loss.
//!
//! MONAI builds the autoencoder as three `nn.Sequential`s: `encode` (`encode_{i}`: strided
//! residual units or convolution blocks), `intermediate` (`inter_{i}`: stride-1 blocks, possibly
//! dilated; `nn.Identity` without `inter_channels`) and `decode` (`decode_{i}`: a transposed
//! convolution `conv`, then a one-subunit residual unit `resunit` with residual units). There is
//! no skip connection. The VAE adds linear layers between encoder and decoder: `mu` and
//! `logvar` from the flattened features, `decodeL` from the latent vector back. The layers are
//! MONAI's blocks ([`crate::blocks`]), kept in the U-Net's layer types ([`DownLayer`],
//! [`UpLayer`]); [`crate::MonaiKeys`] says which MONAI `state_dict` key lands where.
//!
//! ```
//! use burn::tensor::{Device, Tensor};
//! use medburn_models::autoencoder::{kl_divergence, AutoEncoderConfig, VarAutoEncoderConfig};
//!
//! let device = Device::flex();
//! let ae = AutoEncoderConfig::new(1, 1, vec![4, 8], vec![2, 2]).with_num_res_units(1).init(&device)?;
//! let x = Tensor::<5>::ones([1, 1, 8, 8, 8], &device);
//! assert_eq!(ae.try_forward(x.clone())?.dims(), [1, 1, 8, 8, 8]);
//!
//! let vae = VarAutoEncoderConfig::new(vec![1, 8, 8, 8], 1, 4, vec![4, 8], vec![2, 2]).init(&device)?;
//! let out = vae.try_forward(x)?;
//! let kl = kl_divergence(out.mu, out.logvar);
//! assert!(kl.into_scalar::<f32>() >= 0.0);
//! # Ok::<(), medburn_models::ModelError>(())
//! ```

mod config;
mod vae;

pub use config::{AutoEncoderConfig, VarAutoEncoderConfig};
pub use vae::{kl_divergence, reparameterize_with_noise, VarAutoEncoder, VarAutoEncoderOutput};

use burn::module::Module;
use burn::nn::PaddingConfig3d;
use burn::tensor::Tensor;

use crate::error::check_input_shape;
use crate::monai_weights::{MonaiKeyMap, MonaiKeys};
use crate::nn::{Conv3d, ConvTranspose3d};
pub use crate::unet::{DownLayer, UpLayer};
use crate::ModelError;

/// MONAI's 3D autoencoder: strided encoder layers, an optional intermediate section, and a
/// decoder of transposed convolutions that mirrors the encoder. Build it with
/// [`AutoEncoderConfig::init`], load MONAI's weights with [`crate::load_monai_safetensors`].
///
/// Input `[N, in_channels, D, H, W]`, output `[N, out_channels, D', H', W']`. With the default
/// "same" padding each encoder layer maps a size `n` to `ceil(n / stride)` and each decoder
/// layer multiplies it by its stride, so the output has the input's size where the product of
/// the strides divides it, and the next multiple otherwise (MONAI's network, which has no skip
/// connection, takes any size); [`output_size`](Self::output_size) says which.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::AutoEncoderConfig;
///
/// let device = Device::flex();
/// let model = AutoEncoderConfig::new(1, 2, vec![4, 8, 16], vec![2, 2, 2]).with_num_res_units(2).init(&device)?;
/// let y = model.try_forward(Tensor::<5>::ones([2, 1, 8, 16, 24], &device))?;
/// assert_eq!(y.dims(), [2, 2, 8, 16, 24]);
/// assert_eq!(model.output_size([8, 16, 20])?, [8, 16, 24]); // 20 -> 3 -> 24
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Module, Debug)]
pub struct AutoEncoder {
    /// Encoder layers, top first (MONAI `encode.encode_{i}`).
    pub encode: Vec<DownLayer>,
    /// The intermediate blocks (MONAI `intermediate.inter_{i}`); empty without
    /// `inter_channels`.
    pub intermediate: Vec<DownLayer>,
    /// Decoder layers, bottom first (MONAI `decode.decode_{i}`: `conv` is the
    /// [`UpLayer::upsample`], `resunit` the [`UpLayer::residual`]).
    pub decode: Vec<UpLayer>,
}

impl AutoEncoder {
    /// The reconstruction: [`decode`](Self::decode) of [`encode`](Self::encode), as MONAI's
    /// `forward`. Panics where [`check_input`](Self::check_input) fails; use
    /// [`try_forward`](Self::try_forward) on inputs of unknown shape.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::AutoEncoderConfig;
    ///
    /// let device = Device::flex();
    /// let model = AutoEncoderConfig::new(2, 2, vec![4], vec![2]).init(&device)?;
    /// assert_eq!(model.forward(Tensor::<5>::zeros([3, 2, 2, 4, 6], &device)).dims(), [3, 2, 2, 4, 6]);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        self.decode(self.encode(x))
    }

    /// The code: the encoder layers, then the intermediate blocks (MONAI's
    /// `intermediate(encode(x))`), `[N, encoded_channels, ...]` at the encoder's size.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::AutoEncoderConfig;
    ///
    /// let device = Device::flex();
    /// let model = AutoEncoderConfig::new(1, 1, vec![4, 8], vec![2, 2])
    ///     .with_inter_channels(Some(vec![6])).init(&device)?;
    /// let code = model.encode(Tensor::<5>::zeros([1, 1, 8, 8, 4], &device));
    /// assert_eq!(code.dims(), [1, 6, 2, 2, 1]);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn encode(&self, x: Tensor<5>) -> Tensor<5> {
        self.encode
            .iter()
            .chain(&self.intermediate)
            .fold(x, |x, layer| layer.forward(x))
    }

    /// The decoder: a code `[N, encoded_channels, ...]` back to `[N, out_channels, ...]`.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::AutoEncoderConfig;
    ///
    /// let device = Device::flex();
    /// let model = AutoEncoderConfig::new(1, 3, vec![4, 8], vec![2, 2]).init(&device)?;
    /// let y = model.decode(Tensor::<5>::zeros([1, 8, 2, 3, 1], &device));
    /// assert_eq!(y.dims(), [1, 3, 8, 12, 4]);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn decode(&self, z: Tensor<5>) -> Tensor<5> {
        self.decode.iter().fold(z, |y, layer| layer.forward(y))
    }

    /// [`check_input`](Self::check_input), then [`forward`](Self::forward).
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::{AutoEncoderConfig, ModelError};
    ///
    /// let device = Device::flex();
    /// let model = AutoEncoderConfig::new(1, 1, vec![4, 8], vec![2, 2]).init(&device)?;
    /// let err = model.try_forward(Tensor::<5>::zeros([1, 2, 8, 8, 8], &device)).unwrap_err();
    /// assert!(matches!(err, ModelError::InputShape { .. }));
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn try_forward(&self, x: Tensor<5>) -> Result<Tensor<5>, ModelError> {
        self.check_input(x.dims())?;
        Ok(self.forward(x))
    }

    /// Whether an input of `shape` fits: `in_channels` channels, no empty axis, and a size
    /// that no layer shrinks to nothing (only possible with an explicit `padding`).
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use medburn_models::AutoEncoderConfig;
    ///
    /// let device = Device::flex();
    /// let model = AutoEncoderConfig::new(1, 1, vec![4, 8], vec![2, 2]).init(&device)?;
    /// assert!(model.check_input([1, 1, 5, 7, 9]).is_ok()); // any size, as MONAI's
    /// assert!(model.check_input([1, 3, 8, 8, 8]).is_err()); // channels
    /// assert!(model.check_input([1, 1, 0, 8, 8]).is_err()); // empty
    /// let valid = AutoEncoderConfig::new(1, 1, vec![4, 8], vec![2, 2]).with_padding(Some(0)).init(&device)?;
    /// assert!(valid.check_input([1, 1, 4, 8, 8]).is_err()); // 4 -> 1 -> nothing
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn check_input(&self, shape: [usize; 5]) -> Result<(), ModelError> {
        check_input_shape(shape, self.in_channels(), "", None)?;
        self.sizes([shape[2], shape[3], shape[4]])
            .map(|_| ())
            .map_err(|reason| ModelError::InputShape {
                shape: shape.to_vec(),
                reason,
            })
    }

    /// The code's and the output's spatial sizes, or why the input is too small.
    fn sizes(&self, size: [usize; 3]) -> Result<([usize; 3], [usize; 3]), String> {
        let too_small = |size: [usize; 3], layer: String| {
            format!("the spatial size {size:?} is too small for the kernel of layer {layer}")
        };
        let mut size = size;
        let inner = self
            .encode
            .iter()
            .enumerate()
            .map(|(i, l)| (format!("encode_{i}"), l));
        let inter = self
            .intermediate
            .iter()
            .enumerate()
            .map(|(i, l)| (format!("inter_{i}"), l));
        for (name, layer) in inner.chain(inter) {
            size = down_size(layer, size).ok_or_else(|| too_small(size, name))?;
        }
        let code = size;
        for (i, layer) in self.decode.iter().enumerate() {
            size = up_size(layer, size).ok_or_else(|| too_small(size, format!("decode_{i}")))?;
        }
        Ok((code, size))
    }

    /// Spatial size of the code for an input of spatial size `size` (after the encoder and
    /// the intermediate blocks).
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use medburn_models::AutoEncoderConfig;
    /// let model = AutoEncoderConfig::new(1, 1, vec![4, 8], vec![2, 2]).init(&Device::flex())?;
    /// assert_eq!(model.encoded_size([16, 12, 9])?, [4, 3, 3]);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn encoded_size(&self, size: [usize; 3]) -> Result<[usize; 3], ModelError> {
        self.sizes(size)
            .map(|(code, _)| code)
            .map_err(|reason| ModelError::InputShape {
                shape: size.to_vec(),
                reason,
            })
    }

    /// Spatial size of the output for an input of spatial size `size`.
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use medburn_models::AutoEncoderConfig;
    /// let model = AutoEncoderConfig::new(1, 1, vec![4, 8], vec![2, 2]).init(&Device::flex())?;
    /// assert_eq!(model.output_size([16, 12, 9])?, [16, 12, 12]);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn output_size(&self, size: [usize; 3]) -> Result<[usize; 3], ModelError> {
        self.sizes(size)
            .map(|(_, out)| out)
            .map_err(|reason| ModelError::InputShape {
                shape: size.to_vec(),
                reason,
            })
    }

    /// Channels of the input the network takes.
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use medburn_models::AutoEncoderConfig;
    /// let model = AutoEncoderConfig::new(3, 2, vec![4, 8], vec![2, 2]).init(&Device::flex())?;
    /// assert_eq!((model.in_channels(), model.encoded_channels(), model.out_channels()), (3, 8, 2));
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn in_channels(&self) -> usize {
        match self.encode.first().or(self.intermediate.first()) {
            Some(layer) => {
                let conv = first_conv(layer);
                conv.weight.dims()[1] * conv.groups
            }
            None => self.decode[0].upsample.conv.channels[0],
        }
    }

    /// Channels of the code (the decoder's input).
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use medburn_models::AutoEncoderConfig;
    /// let model = AutoEncoderConfig::new(1, 1, vec![4, 8], vec![2, 2])
    ///     .with_inter_channels(Some(vec![5])).init(&Device::flex())?;
    /// assert_eq!(model.encoded_channels(), 5);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn encoded_channels(&self) -> usize {
        self.decode[0].upsample.conv.channels[0]
    }

    /// Channels of the output.
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use medburn_models::AutoEncoderConfig;
    /// let model = AutoEncoderConfig::new(1, 4, vec![4, 8], vec![2, 2]).with_num_res_units(1).init(&Device::flex())?;
    /// assert_eq!(model.out_channels(), 4);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn out_channels(&self) -> usize {
        self.decode[self.decode.len() - 1].upsample.conv.channels[1]
    }
}

fn first_conv(layer: &DownLayer) -> &Conv3d {
    match layer {
        DownLayer::Residual(unit) => &unit.units[0].conv,
        DownLayer::Plain(block) => &block.conv,
    }
}

/// Output size of a convolution, `None` where its kernel does not fit the padded input.
fn conv_size(size: [usize; 3], conv: &Conv3d) -> Option<[usize; 3]> {
    let pad = match conv.padding {
        PaddingConfig3d::Explicit(d, h, w) => [d, h, w],
        PaddingConfig3d::Valid => [0; 3],
        PaddingConfig3d::Same => {
            return Some(std::array::from_fn(|a| size[a].div_ceil(conv.stride[a])))
        }
    };
    let mut out = [0; 3];
    for a in 0..3 {
        let span = conv.dilation[a] * (conv.kernel_size[a] - 1) + 1;
        let padded = size[a] + 2 * pad[a];
        if size[a] == 0 || padded < span {
            return None;
        }
        out[a] = (padded - span) / conv.stride[a] + 1;
    }
    Some(out)
}

/// Output size of a transposed convolution, `None` where it would be empty.
fn conv_transpose_size(size: [usize; 3], conv: &ConvTranspose3d) -> Option<[usize; 3]> {
    let mut out = [0; 3];
    for a in 0..3 {
        let full = (size[a].checked_sub(1)?) * conv.stride[a]
            + conv.dilation[a] * (conv.kernel_size[a] - 1)
            + conv.padding_out[a]
            + 1;
        out[a] = full.checked_sub(2 * conv.padding[a]).filter(|&n| n > 0)?;
    }
    Some(out)
}

/// Output size of an encoder or intermediate layer (a residual unit's two paths agree: the
/// configuration asks for "same" padding there).
fn down_size(layer: &DownLayer, size: [usize; 3]) -> Option<[usize; 3]> {
    match layer {
        DownLayer::Residual(unit) => unit
            .units
            .iter()
            .try_fold(size, |s, block| conv_size(s, &block.conv)),
        DownLayer::Plain(block) => conv_size(size, &block.conv),
    }
}

fn up_size(layer: &UpLayer, size: [usize; 3]) -> Option<[usize; 3]> {
    let size = conv_transpose_size(size, &layer.upsample.conv)?;
    match &layer.residual {
        Some(unit) => unit
            .units
            .iter()
            .try_fold(size, |s, block| conv_size(s, &block.conv)),
        None => Some(size),
    }
}

/// MONAI keys `encode.encode_{i}.*`, `intermediate.inter_{i}.*`, `decode.decode_{i}.conv.*`
/// and `decode.decode_{i}.resunit.*`; Burn paths `encode.{i}.Residual.*` (or `Plain`),
/// `intermediate.{i}.*`, `decode.{i}.upsample.*`, `decode.{i}.residual.*`.
impl MonaiKeys for AutoEncoder {
    fn push_monai_keys(&self, monai: &str, burn: &str, map: &mut MonaiKeyMap) {
        for (i, layer) in self.encode.iter().enumerate() {
            layer.push_monai_keys(
                &format!("{monai}encode.encode_{i}."),
                &format!("{burn}encode.{i}."),
                map,
            );
        }
        for (i, layer) in self.intermediate.iter().enumerate() {
            layer.push_monai_keys(
                &format!("{monai}intermediate.inter_{i}."),
                &format!("{burn}intermediate.{i}."),
                map,
            );
        }
        // MONAI: nn.Sequential(conv=Convolution, resunit=ResidualUnit), the unit only with
        // residual units.
        for (i, layer) in self.decode.iter().enumerate() {
            let monai = format!("{monai}decode.decode_{i}.");
            let burn = format!("{burn}decode.{i}.");
            layer.upsample.push_monai_keys(
                &format!("{monai}conv."),
                &format!("{burn}upsample."),
                map,
            );
            layer.residual.push_monai_keys(
                &format!("{monai}resunit."),
                &format!("{burn}residual."),
                map,
            );
        }
    }
}
