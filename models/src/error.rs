//! The error type of medburn-models.

use std::path::PathBuf;

/// What can go wrong when building a network, checking its input or loading its weights.
///
/// ```
/// use medburn_models::{ModelError, UNet3dConfig};
/// use burn::tensor::Device;
///
/// // One level of channels is not a U-Net.
/// let err = UNet3dConfig::new(1, 2, vec![16], vec![]).init(&Device::flex()).unwrap_err();
/// assert!(matches!(err, ModelError::InvalidConfig(_)));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The configuration cannot make a network (MONAI raises for the same arguments).
    #[error("invalid network configuration: {0}")]
    InvalidConfig(String),
    /// The input tensor does not fit the network (channels, or a size the strides do not
    /// divide, which would make the skip connections disagree).
    #[error("input of shape {shape:?} does not fit the network: {reason}")]
    InputShape {
        /// The shape that was given.
        shape: Vec<usize>,
        /// Why it does not fit.
        reason: String,
    },
    /// The weights file could not be read, or a tensor in it could not be applied (wrong
    /// shape or type).
    #[error("cannot load weights from {path}: {message}")]
    Weights {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Parameters of the network that the file does not have (it was saved from a network
    /// with another configuration).
    #[error("{path} lacks {} weights of this network, first {:?}", keys.len(), keys.first())]
    MissingWeights {
        /// The file.
        path: PathBuf,
        /// The MONAI keys that were looked for.
        keys: Vec<String>,
    },
    /// Tensors in the file that no parameter of the network takes (it was saved from a
    /// network with another configuration).
    #[error("{path} has {} tensors this network does not take, first {:?}", keys.len(), keys.first())]
    UnexpectedWeights {
        /// The file.
        path: PathBuf,
        /// The keys of those tensors, as in the file.
        keys: Vec<String>,
    },
}

/// The input check the convolutional networks share: `in_channels` channels (`note` adds what
/// they are to the message), no empty axis, and, with `strides`, spatial sizes each down
/// layer divides exactly ([`crate::unet::check_spatial_size`]).
pub(crate) fn check_input_shape(
    shape: [usize; 5],
    in_channels: usize,
    note: &str,
    strides: Option<&[usize]>,
) -> Result<(), ModelError> {
    let fail = |reason: String| {
        Err(ModelError::InputShape {
            shape: shape.to_vec(),
            reason,
        })
    };
    if shape[1] != in_channels {
        return fail(format!("the network takes {in_channels} channels{note}"));
    }
    if shape.contains(&0) {
        return fail("an axis is empty".into());
    }
    match strides {
        Some(s) => crate::unet::check_spatial_size([shape[2], shape[3], shape[4]], s).or_else(fail),
        None => Ok(()),
    }
}
