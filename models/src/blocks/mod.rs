//! The building blocks of MONAI's networks (`monai.networks.blocks`), for 3D volumes, each
//! with its own configuration named with MONAI's arguments: [`AdnConfig`] -> [`Adn`],
//! [`ConvolutionConfig`] -> [`Convolution`], [`TransposedConvolutionConfig`] ->
//! [`TransposedConvolution`], [`ResidualUnitConfig`] -> [`ResidualUnit`], and the
//! normalization and activation choices MONAI names in its `norm` and `act` arguments,
//! [`NormConfig`] -> [`Norm`] and [`ActConfig`] -> [`Act`].
//!
//! The networks ([`crate::UNet3d`], [`crate::Regressor`]) are built from these
//! configurations, as MONAI's are from its blocks; each block's MONAI `state_dict` keys are
//! given by [`crate::MonaiKeys`].
//!
//! ```
//! use burn::tensor::{Device, Tensor};
//! use medburn_models::blocks::{ActConfig, NormConfig, ResidualUnitConfig};
//!
//! let device = Device::flex();
//! // MONAI: ResidualUnit(3, 2, 8, strides=2, act="relu", norm="batch", last_conv_only=True)
//! let unit = ResidualUnitConfig::new(2, 8)
//!     .with_strides([2; 3])
//!     .with_act(ActConfig::Relu)
//!     .with_norm(NormConfig::batch())
//!     .with_last_conv_only(true)
//!     .init(&device)?;
//! let y = unit.forward(Tensor::<5>::zeros([1, 2, 8, 8, 8], &device));
//! assert_eq!(y.dims(), [1, 8, 4, 4, 4]);
//! # Ok::<(), medburn_models::ModelError>(())
//! ```

mod act;
mod adn;
mod convolution;
mod norm;
mod residual_unit;
mod transposed_convolution;

pub use act::{Act, ActConfig};
pub use adn::{Adn, AdnConfig};
pub use convolution::{Convolution, ConvolutionConfig};
pub use norm::{Norm, NormConfig};
pub use residual_unit::{ResidualUnit, ResidualUnitConfig};
pub use transposed_convolution::{TransposedConvolution, TransposedConvolutionConfig};

pub(crate) use convolution::same_padding;
