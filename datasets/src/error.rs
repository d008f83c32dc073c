//! Errors of manifests, preprocessing and patch loading: one line each, naming the case or file.

use std::path::PathBuf;

/// What went wrong while reading or preparing a dataset.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// A manifest (`dataset.json`, a list of pairs) that cannot be used.
    #[error("{path}: {message}")]
    Manifest {
        /// The manifest or the file it names.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A case whose files do not fit together (channels on different grids, a label map off its
    /// image's grid, labels that are not small non-negative integers).
    #[error("case {case}: {message}")]
    Case {
        /// The case identifier.
        case: String,
        /// What is wrong with it.
        message: String,
    },
    /// Reading a file.
    #[error(transparent)]
    Io(#[from] medburn_io::IoError),
    /// Reorienting or resampling.
    #[error(transparent)]
    Spatial(#[from] medburn_spatial::SpatialError),
    /// Building an image.
    #[error(transparent)]
    Image(#[from] medburn_core::ImageError),
    /// A bad argument (patch size, sampler ratios, batch size).
    #[error("{0}")]
    Invalid(String),
}

/// `Result` with a [`DatasetError`].
pub type Result<T> = std::result::Result<T, DatasetError>;
