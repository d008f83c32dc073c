//! Reading and writing medical images with their physical geometry: NIfTI-1 and
//! NIfTI-2 (`.nii`, `.nii.gz`, `.hdr`/`.img`), DICOM (single files, multi-frame
//! files and folders of series) and HDF5.
//!
//! Readers return a [`Volume`] (host voxels in the file's own type, ndarray) so a
//! conversion keeps every value; [`read_image`] goes straight to a [`MedImage`]
//! on a Burn device. Every writer goes through [`atomic`]: a temporary name beside the
//! target, synced, then renamed, so a failure leaves no partial file. [`preview`] draws
//! PNGs (mid-slices, and a small RGB [`Canvas`](preview::Canvas) with a bitmap font).
//!
//! ```
//! use medburn_core::{Device, Geometry, MedImage};
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("ones.nii.gz");
//! let img = MedImage::from_vec(vec![1.0; 24], 1, Geometry::unit([4, 3, 2])?, &Device::flex())?;
//! medburn_io::write_image(&img, &path)?;
//! let back = medburn_io::read_image(&path, &Device::flex())?;
//! assert_eq!(back.geometry(), img.geometry());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod atomic;
mod canvas;
pub mod dicom;
mod error;
mod format;
pub mod hdf5;
pub mod nifti;
pub mod preview;
mod volume;

pub(crate) use error::WithPath;
pub use error::{IoError, IoErrorKind, Result};
pub use format::{read, write, Format, WriteOptions};
#[cfg(feature = "burn")]
pub use format::{read_image, write_image};
pub(crate) use volume::with_array;
pub use volume::{Rescale, Volume, VoxelArray, VoxelType};
