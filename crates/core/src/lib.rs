//! Physical geometry and the [`MedImage`] type of medburn.
//!
//! Conventions (see `docs/architecture.md`): world space is LPS in millimetres; index
//! `(i, j, k)` is 0-based with `i` fastest in memory; the physical point of a voxel
//! centre is `origin + direction * diag(spacing) * (i, j, k)`; the columns of
//! `direction` are the directions of the `i`, `j`, `k` axes.
//!
//! ```
//! use medburn_core::{Geometry, Orientation};
//!
//! let g = Geometry::new([4, 4, 2], [0.0; 3], [1.0, 1.0, 2.5], medburn_core::Direction::identity())?;
//! assert_eq!(g.index_to_physical([1.0, 2.0, 1.0]), [1.0, 2.0, 2.5]);
//! assert_eq!(g.orientation(), Orientation::LPS);
//! # Ok::<(), medburn_core::GeometryError>(())
//! ```

#[cfg(feature = "burn")]
mod devices;
mod direction;
mod error;
mod geometry;
#[cfg(feature = "burn")]
mod image;
pub mod limits;
mod modality;
mod orientation;
pub mod vec3;

#[cfg(feature = "burn")]
pub use devices::{device_by_name, wgpu_device, wgpu_device_or_skip};
pub use direction::Direction;
pub use error::{GeometryError, ImageError};
pub use geometry::{dhw_to_ijk, ijk_to_dhw, Geometry};
#[cfg(feature = "burn")]
pub use image::MedImage;
pub use modality::Modality;
pub use orientation::{AxisCode, Orientation};

/// Burn's device and tensor types, re-exported so that users of medburn need no
/// separate `burn` dependency for the basics.
#[cfg(feature = "burn")]
pub use burn::tensor::{Device, Tensor, TensorData};
