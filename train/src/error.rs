//! Errors of training and prediction: one line each.

/// What went wrong in a run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A configuration value or file that cannot be used.
    #[error("config: {0}")]
    Config(String),
    /// The data.
    #[error(transparent)]
    Data(#[from] medburn_datasets::DatasetError),
    /// Reading or writing images.
    #[error(transparent)]
    Io(#[from] medburn_io::IoError),
    /// Resampling.
    #[error(transparent)]
    Spatial(#[from] medburn_spatial::SpatialError),
    /// A grid.
    #[error(transparent)]
    Geometry(#[from] medburn_core::GeometryError),
    /// Building images.
    #[error(transparent)]
    Image(#[from] medburn_core::ImageError),
    /// The network.
    #[error(transparent)]
    Model(#[from] medburn_models::ModelError),
    /// Logits, labels or loss options that do not fit together.
    #[error(transparent)]
    Loss(#[from] crate::losses::InputError),
    /// Augmentation.
    #[error(transparent)]
    Augment(#[from] medburn_augment::AugmentError),
    /// Registration losses and metrics.
    #[error(transparent)]
    Registration(#[from] medburn_register::RegistrationError),
    /// A checkpoint that cannot be written or read.
    #[error("checkpoint {path}: {message}")]
    Checkpoint {
        /// The checkpoint folder or file.
        path: std::path::PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Writing logs and pictures.
    #[error("{path}: {message}")]
    Output {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A bad argument.
    #[error("{0}")]
    Invalid(String),
}

/// `Result` with a [`TrainError`].
pub type Result<T> = std::result::Result<T, TrainError>;
