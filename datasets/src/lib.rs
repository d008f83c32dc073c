//! Data for medburn: manifests in the layouts users keep ([`Manifest::open`]: Decathlon and
//! nnU-Net raw folders, BIDS-like folders, folders of DICOM series, with participants tables,
//! CSV/TSV and JSON case lists), an integrity check of every file ([`check_dataset`]),
//! preprocessing onto a training grid
//! ([`prepare_case`]), label-balanced patches or whole volumes to the device ([`PatchLoader`]),
//! and synthetic brain MR data ([`synth`]) and phantoms.
//!
//! ```
//! use medburn_core::Device;
//! let img = medburn_datasets::phantom::shepp_logan(&medburn_datasets::phantom::PhantomSpec::cube(16), &Device::flex())?;
//! assert_eq!(img.geometry().size(), [16, 16, 16]);
//! # Ok::<(), medburn_core::ImageError>(())
//! ```

#![warn(missing_docs)]

mod check;
mod error;
mod loader;
mod manifest;
mod patch;
pub mod phantom;
mod preprocess;
pub mod synth;

pub use check::{check_case, check_dataset, CaseCheck, DatasetCheck, FileCheck, GridInfo};
pub use error::{DatasetError, Result};
pub use loader::{
    draw_step, step_rng, CaseCache, PatchBatch, PatchBatcher, PatchItem, PatchLoader,
};
pub use manifest::{BidsOptions, CaseFiles, DicomSeriesRule, Manifest, Split};
pub use patch::{cut_patch, PatchDraw, PatchSampler};
pub use preprocess::{
    describe_grid, fov_centred_grid, prepare_case, prepare_case_scaled, prepare_case_with,
    read_case_label, read_channels, read_channels_with, reorient_and_resample, same_grid,
    select_channels, zscore_foreground, PreparedCase, PreprocessConfig, ReadOptions,
};
