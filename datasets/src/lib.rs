//! Data for medburn: synthetic phantoms and synthetic brain MR segmentation
//! data ([`synth`]) now; manifests, loaders, caching and
//! patch samplers as they arrive.
//!
//! ```
//! use medburn_core::Device;
//! let img = medburn_datasets::phantom::shepp_logan(&medburn_datasets::phantom::PhantomSpec::cube(16), &Device::flex())?;
//! assert_eq!(img.geometry().size(), [16, 16, 16]);
//! # Ok::<(), medburn_core::ImageError>(())
//! ```

mod error;
mod loader;
mod manifest;
mod patch;
pub mod phantom;
mod preprocess;
pub mod synth;

pub use error::{DatasetError, Result};
pub use loader::{
    draw_step, step_rng, CaseCache, PatchBatch, PatchBatcher, PatchItem, PatchLoader,
};
pub use manifest::{CaseFiles, Manifest};
pub use patch::{cut_patch, PatchDraw, PatchSampler};
pub use preprocess::{
    prepare_case, read_channels, reorient_and_resample, same_grid, zscore_foreground, PreparedCase,
    PreprocessConfig,
};
