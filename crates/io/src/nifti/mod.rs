//! NIfTI-1 and NIfTI-2: `.nii`, `.nii.gz`, `.hdr`/`.img` (and `.hdr.gz`/`.img.gz`),
//! either byte order, every integer and float datatype.
//!
//! Geometry follows docs/architecture.md: the sform when `sform_code > 0`, else the qform
//! (qfac flips k), else pixdim; RAS is turned into LPS. `scl_slope`/`scl_inter` are
//! kept as the volume's [`crate::Rescale`]. Writers set sform = qform.
//!
//! ```
//! use medburn_core::Geometry;
//! use medburn_io::{nifti, Volume, VoxelArray, WriteOptions};
//!
//! let dir = tempfile::tempdir()?;
//! let data = VoxelArray::I16(ndarray::ArrayD::from_shape_fn(ndarray::IxDyn(&[1, 2, 3, 4]), |i| i[3] as i16));
//! let v = Volume::new(data, Geometry::unit([4, 3, 2])?)?;
//! let path = dir.path().join("ramp.nii.gz");
//! nifti::write_nifti(&v, &path, &WriteOptions::default())?;
//! assert_eq!(nifti::read_nifti(&path)?.data, v.data);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod codec;
mod extension;
mod geometry;
pub(crate) mod gz;
mod header;
mod read;
mod write;

pub use extension::Extension;
pub use header::{NiftiHeader, NiftiVersion};
pub use read::{read_nifti, read_nifti_header};
pub use write::write_nifti;
