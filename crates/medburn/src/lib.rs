//! medburn: differentiable deep learning for 3D medical images, on Burn.
//!
//! This facade re-exports the workspace crates: [`core`] (geometry, [`MedImage`]),
//! [`io`] (NIfTI, DICOM, HDF5), [`ops`] (differentiable 3D sampling, warps, pooling,
//! interpolation, smoothing), [`spatial`] (resample, reorient, rotate, crop, pad, ... on
//! `MedImage`, differentiable), [`augment`] (random augmentation on the device), [`datasets`]
//! (synthetic data, Decathlon manifests, preprocessing, patch loaders), [`models`] (MONAI's
//! 3D U-Net) and [`train`] (losses, metrics, the training loop, sliding-window prediction),
//! [`register`] (image registration: losses, affine and diffeomorphic stages, ITK transforms).
//! The `medburn` binary
//! does the common jobs from the command line (`medburn --help`).
//!
//! ```
//! use medburn::{datasets::phantom, Device};
//!
//! let img = phantom::shepp_logan(&phantom::PhantomSpec::cube(16), &Device::flex())?;
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("phantom.nii.gz");
//! medburn::io::write_image(&img, &path)?;
//! let back = medburn::io::read_image(&path, &Device::flex())?;
//! assert_eq!(back.geometry(), img.geometry());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use medburn_augment as augment;
pub use medburn_core as core;
pub use medburn_datasets as datasets;
pub use medburn_io as io;
pub use medburn_models as models;
pub use medburn_ops as ops;
pub use medburn_register as register;
pub use medburn_spatial as spatial;
pub use medburn_train as train;

pub use medburn_core::{Device, Direction, Geometry, MedImage, Modality, Orientation, Tensor};
