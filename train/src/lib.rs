//! Training 3D networks on medical images, and using them: one loop for every task.
//!
//! - [`task`]: what differs between tasks ([`Task`]): segmentation (patches, label maps,
//!   Dice + CE, sliding windows), regression and classification (whole volumes, one target per
//!   case from a manifest column, MAE/RMSE/R² or AUC/accuracy beside a baseline), registration
//!   (pairs of whole volumes, VoxelMorph, LNCC or MSE + smoothness and an optional Dice term,
//!   Dice of warped labels and folding beside the unregistered pair's).
//! - [`train`]: the one loop: batches from `medburn_datasets`, augmentation from
//!   `medburn_augment` on the device, the task's loss, gradient accumulation, the
//!   [`GradientSync`] hook, clipping by the global norm, AdamW with warm-up and cosine or
//!   polynomial decay, validation and `checkpoints/best` by the task's selection metric,
//!   checkpoints every epoch / on interruption ([`Interrupter`]) / at the end, exact resume
//!   (every random choice of step `s` comes from RNG stream `s` of the seed), the held-out test
//!   set scored by the best model.
//! - [`TrainConfig`]: one TOML file whose defaults are the task's ([`TrainConfig::for_task`]);
//!   `--set key=value` on top; the network ([`ModelConfig`]) and loss ([`LossConfig`]) chosen
//!   by name.
//! - [`losses`] and [`metrics`]: Dice, cross-entropy, Dice + CE and Dice per label as MONAI's;
//!   regression and classification metrics as scikit-learn's.
//! - [`SlidingWindow`]: Gaussian-blended sliding-window inference of raw network outputs, with
//!   flip TTA.
//! - [`predict`]: files in; label maps on each input's grid, or a table of values or classes.
//! - [`write_curves_png`], [`write_overlay_png`], [`write_scatter_png`], [`write_roc_png`]: what
//!   a person looks at.

#![warn(missing_docs)]

mod baseline;
mod checkpoint;
mod config;
mod error;
mod inference;
pub mod losses;
pub mod metrics;
mod metrics_log;
mod network;
mod plot;
mod predict;
mod sample;
mod schedule;
mod step;
pub mod task;
mod trainer;

pub use baseline::{
    dice_of_label_maps, normalized_case, score_case, voxel_baseline, CaseScores,
    SegmentationScores, VoxelClassifier, VoxelClassifierFit,
};
pub use checkpoint::{
    load_model, load_optimizer, read_checkpoint, recover_interrupted_writes, resolve_checkpoint,
    save_checkpoint, TrainState,
};
pub use config::{
    parse_assignment, AutoEncoderParams, DataConfig, Decay, LossConfig, ModelConfig, OptimConfig,
    Output as ModelOutput, Pairing, RegressorParams, ResNetParams, SuperResParams, TaskKind,
    TrainConfig, UNetParams, VaeParams, ValidationConfig, VoxelMorphParams,
    WHOLE_VOLUME_AUGMENT_TOML,
};
pub use error::{Result, TrainError};
pub use inference::{window_starts, SlidingWindow};
pub use metrics_log::{LogEntry, Metrics, MetricsLog};
pub use network::{
    build_reconstruction_net, build_superres, build_unet, build_vector_net, build_voxelmorph,
    Reconstruction, ReconstructionNet, VectorNet,
};
pub use plot::{write_curves_png, write_overlay_png, write_roc_png, write_scatter_png};
pub use predict::{predict, volumes_table, PredictOptions, Prediction};
pub use sample::{sample, Samples};
pub use schedule::learning_rate;
pub use step::{
    clip_grad_norm, global_grad_norm, GradientSync, Interrupter, ParamList, SingleProcess,
};
pub use task::{DataInfo, Target, Task};
pub use trainer::{train, train_with_sync, Best, TrainOptions, TrainSummary};
