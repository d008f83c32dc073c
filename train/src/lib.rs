//! Training 3D segmentation models on medical images, and using them.
//!
//! - [`losses`] and [`metrics`]: Dice, cross-entropy, Dice + CE and Dice per label, as MONAI's.
//! - [`TrainConfig`]: one TOML file whose defaults are the main job; `--set key=value` on top.
//! - [`train`]: patches from `medburn_datasets`, augmentation from `medburn_augment` on the
//!   device, a `medburn_models::UNet3d`, AdamW with warm-up and cosine or polynomial decay,
//!   validation by sliding windows, checkpoints every epoch / on Ctrl-C / at the end, exact
//!   resume (every random choice of step `s` comes from RNG stream `s` of the seed).
//! - [`SlidingWindow`]: Gaussian-blended sliding-window inference with flip TTA.
//! - [`predict`]: files in, integer NIfTI label maps on each input's grid out, volumes in ml.
//! - [`write_curves_png`], [`write_overlay_png`]: what a person looks at.

mod checkpoint;
mod config;
mod error;
mod inference;
pub mod losses;
pub mod metrics;
mod metrics_log;
mod model;
mod plot;
mod predict;
mod schedule;
mod trainer;

pub use checkpoint::{
    load_model, load_optimizer, read_checkpoint, resolve_checkpoint, save_checkpoint, TrainState,
};
pub use config::{
    DataConfig, Decay, LossConfig, ModelConfig, OptimConfig, TrainConfig, ValidationConfig,
};
pub use error::{Result, TrainError};
pub use inference::{window_starts, SlidingWindow};
pub use metrics_log::{LogEntry, MetricsLog};
pub use model::build_unet;
pub use plot::{write_curves_png, write_overlay_png, Canvas};
pub use predict::{predict, volumes_table, PredictOptions, Prediction};
pub use schedule::learning_rate;
pub use trainer::{train, TrainOptions, TrainSummary};
