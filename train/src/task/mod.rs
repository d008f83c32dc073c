//! Tasks: what differs between training a segmentation, a regression or a classification
//! network, in the spirit of burn-train's `TrainStep`/`InferenceStep` and MONAI's
//! `SupervisedTrainer(network, loss_function, prepare_batch, inferer, key_val_metric)`.
//!
//! A [`Task`] says which cases a run uses and how they are prepared ([`Task::prepare`]), how
//! its network is built ([`Task::build`]), the loss of a batch ([`Task::loss`]), how held-out
//! cases are evaluated ([`Task::evaluate`]: named metrics, the first of which chooses
//! `checkpoints/best` unless the configuration names another) and what a person looks at
//! afterwards ([`Task::write_outputs`]). Everything else is one piece of code for every task,
//! in `crate::trainer`: steps, accumulation, clipping, AdamW and the schedule, augmentation on
//! the device, checkpoints and exact resume, logs, progress, curves, interruption and the
//! gradient-sync hook.
//!
//! Adding a task: a type implementing [`Task`] (see [`segment`] for patches and label maps,
//! [`regress`] and [`classify`] for whole volumes with one target each, [`register`] for pairs
//! made on the device by [`Task::prepare_batch`]), a [`TaskKind`] variant, its defaults in
//! `TrainConfig::for_task`, and one arm in `crate::train` and in `crate::predict`.

pub mod autoencode;
pub mod classify;
pub mod register;
pub mod regress;
pub mod segment;
pub mod superres;
pub(crate) mod whole_volume;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor};
use medburn_core::Geometry;
use medburn_datasets::{
    CaseCache, CaseFiles, Manifest, PatchBatch, PatchSampler, PreparedCase, Split,
};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::checkpoint::TrainState;
use crate::config::{TaskKind, TrainConfig};
use crate::error::{Result, TrainError};
use crate::metrics_log::Metrics;

/// One step's batch after augmentation, on the training device.
#[derive(Clone, Debug)]
pub struct StepBatch {
    /// Images `[N, C, D, H, W]` (registration: each pair's moving then fixed image's channels,
    /// `[N, 2C, D, H, W]`).
    pub image: Tensor<5>,
    /// Label maps `[N, 1, D, H, W]` (segmentation; registration: the moving then the fixed
    /// image's, `[N, 2, D, H, W]`).
    pub label: Option<Tensor<5, Int>>,
    /// Per-case targets `[N, T]` (whole-volume tasks).
    pub targets: Option<Tensor<2>>,
    /// Standard normal draws `[N, K]` the model takes (the VAE's latent noise), drawn from the
    /// micro-batch's RNG stream so that a resumed run draws the same.
    pub noise: Option<Tensor<2>>,
}

/// The cases of a run, prepared once, and what the data says about the network's shape.
pub struct RunData {
    /// Training cases.
    pub train: CaseCache,
    /// Validation cases: model selection.
    pub val: Vec<Arc<PreparedCase>>,
    /// Held-out test cases with what they are scored against: neither training nor model
    /// selection sees them.
    pub test: Vec<Arc<PreparedCase>>,
    /// The manifest the cases came from.
    pub manifest: Manifest,
    /// What the checkpoint keeps about the data (channels, classes, target statistics).
    pub info: DataInfo,
}

/// What a trained network needs to know about its data, kept in its checkpoint so that
/// prediction prepares inputs and reads outputs as training did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    /// Image channels the network takes.
    pub in_channels: usize,
    /// Classes (segmentation, classification) or outputs (regression) of the network.
    pub num_classes: usize,
    /// Names of the channels it takes, in order.
    pub channel_names: Vec<String>,
    /// Which channels of the data set's files those are (empty: all).
    pub source_channels: Vec<usize>,
    /// Label value -> name (segmentation).
    pub label_names: std::collections::BTreeMap<u32, String>,
    /// The target of a whole-volume task.
    pub target: Option<Target>,
}

/// The target column of a whole-volume task and the training set's statistics of it (which
/// standardize the network's target and make the baselines).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Target {
    /// A number (age in years): the network predicts `(value - mean) / std`.
    Continuous {
        /// The manifest column.
        name: String,
        /// Mean over the training cases (the mean predictor's answer).
        mean: f64,
        /// Standard deviation over the training cases.
        std: f64,
    },
    /// A class (sex): the network predicts one logit per class.
    Classes {
        /// The manifest column.
        name: String,
        /// The class values, index 0 first.
        classes: Vec<String>,
        /// Training cases per class (the majority class is the baseline's answer).
        counts: Vec<usize>,
    },
}

impl Target {
    /// The manifest column.
    pub fn name(&self) -> &str {
        match self {
            Target::Continuous { name, .. } | Target::Classes { name, .. } => name,
        }
    }
}

/// Whether a larger value of a metric is better.
///
/// ```
/// use medburn_train::task::higher_is_better;
/// assert!(higher_is_better("mean_dice") && higher_is_better("auc"));
/// assert!(!higher_is_better("mae") && !higher_is_better("rmse"));
/// assert!(!higher_is_better("similarity") && !higher_is_better("baseline_similarity"));
/// ```
pub fn higher_is_better(metric: &str) -> bool {
    !matches!(
        metric.trim_start_matches("baseline_"),
        "mae"
            | "rmse"
            | "loss"
            | "cross_entropy"
            | "brier"
            | "similarity"
            | "folding"
            | "log_det_std"
    )
}

/// The default of [`Task::prepare_batch`]: draws the augmentation's parameters for the batch
/// from `rng` and applies them to its images and label maps on the device (labels follow the
/// spatial transforms only).
pub(crate) fn augment_batch(
    config: &TrainConfig,
    geometry: &Geometry,
    batch: PatchBatch,
    rng: &mut dyn RngCore,
) -> Result<StepBatch> {
    let n = batch.image.dims()[0];
    let params = config.augment.sample(rng, geometry, n)?;
    let (image, label) = config.augment.apply(
        &params,
        geometry,
        batch.image,
        batch.label.map(|l| l.float()),
    )?;
    Ok(StepBatch {
        image,
        label: label.map(|l| l.int()),
        targets: batch.targets,
        noise: None,
    })
}

/// What differs between tasks (see [the module](self)).
pub trait Task {
    /// The network.
    type Model: Module + 'static;
    /// What evaluating held-out cases gives beside the metrics (predictions for pictures
    /// and tables).
    type Evaluation;

    /// Which task this is.
    fn kind(&self) -> TaskKind;

    /// The metric names [`evaluate`](Self::evaluate) reports, in the order of the tables.
    fn metric_names(&self, info: &DataInfo) -> Vec<String>;

    /// The metric that chooses `checkpoints/best` unless the configuration names another
    /// (`validation.metric`): the first of [`metric_names`](Self::metric_names) by default.
    fn selection_metric(&self, info: &DataInfo) -> String {
        self.metric_names(info).swap_remove(0)
    }

    /// Reads the manifest and prepares the training, validation and test cases.
    fn prepare(&mut self, config: &TrainConfig, progress: bool) -> Result<RunData>;

    /// Builds the network for the data (initialized from the device's seed).
    fn build(&self, config: &TrainConfig, info: &DataInfo, device: &Device) -> Result<Self::Model>;

    /// How training samples are cut from the prepared cases: the configuration's patches (for a
    /// whole-volume task they are the prepared grid, `check_config` makes sure).
    fn sampler(&self, config: &TrainConfig) -> PatchSampler {
        config.data.patch.clone()
    }

    /// Turns a micro-batch from the loader into the batch [`loss`](Self::loss) takes, on the
    /// training device (MONAI's `prepare_batch`): draws the augmentation's parameters from
    /// `rng` (what the micro-batch's RNG stream has left after the loader's draws, so a resumed
    /// run draws the same) and applies them. `geometry` is the patch grid. The default augments
    /// the batch as it comes; registration first pairs each case with a partner, then
    /// augments both images of a pair with one spatial transform.
    fn prepare_batch(
        &self,
        config: &TrainConfig,
        geometry: &Geometry,
        batch: PatchBatch,
        rng: &mut dyn RngCore,
    ) -> Result<StepBatch> {
        augment_batch(config, geometry, batch, rng)
    }

    /// The loss of one micro-batch (a scalar tensor tracked for gradients).
    fn loss(&self, model: &Self::Model, batch: StepBatch) -> Result<Tensor<1>>;

    /// Scores `cases` (validation or test) with the network in inference mode; `test` says
    /// which set it is (segmentation keeps the source-grid truths of each).
    fn evaluate(
        &self,
        model: &Self::Model,
        cases: &[Arc<PreparedCase>],
        test: bool,
        config: &TrainConfig,
        info: &DataInfo,
        device: &Device,
    ) -> Result<(Metrics, Self::Evaluation)>;

    /// One line for the progress output.
    fn describe(&self, metrics: &Metrics) -> String {
        metrics.describe()
    }

    /// Writes what a person looks at for an evaluation (`prefix` is `validation` or `test`):
    /// per-case tables and pictures. Returns the files written.
    fn write_outputs(
        &self,
        out: &Path,
        prefix: &str,
        cases: &[Arc<PreparedCase>],
        evaluation: &Self::Evaluation,
        info: &DataInfo,
    ) -> Result<Vec<PathBuf>>;
}

/// Checks the parts of a configuration that depend on its task (the network's output kind,
/// the loss, the target, the whole-volume grid).
pub(crate) fn check_config(config: &TrainConfig) -> Result<()> {
    use crate::config::Output;
    let bad = |m: String| Err(TrainError::Config(m));
    let task = config.task;
    let wanted = match task {
        TaskKind::Segment => Output::Dense,
        TaskKind::Regress | TaskKind::Classify => Output::Vector,
        TaskKind::Register => Output::Field,
        TaskKind::SuperResolve => Output::Volume,
        TaskKind::Autoencode => Output::Reconstruction,
    };
    if config.model.output() != wanted {
        return bad(format!(
            "model {} does not fit task {task}: segmentation takes unet, regression and \
             classification take resnet10/18/34/50 or regressor, registration takes voxelmorph, \
             super-resolution takes superres, autoencoding takes autoencoder or vae",
            config.model.name()
        ));
    }
    let loss = config.loss.name();
    let fits = match task {
        TaskKind::Segment => loss == "dice_ce",
        TaskKind::Regress => matches!(loss, "mse" | "l1" | "huber"),
        TaskKind::Classify => loss == "cross_entropy",
        TaskKind::Register => loss == "registration",
        TaskKind::SuperResolve | TaskKind::Autoencode => matches!(loss, "l1" | "mse"),
    };
    if !fits {
        return bad(format!(
            "loss {loss} does not fit task {task} (segment: dice_ce; regress: mse, l1, huber; \
             classify: cross_entropy; register: registration; superres, autoencode: l1, mse)"
        ));
    }
    if let crate::config::LossConfig::CrossEntropy { label_smoothing } = config.loss {
        if !(0.0..1.0).contains(&label_smoothing) {
            return bad("loss.label_smoothing must be in [0, 1)".into());
        }
    }
    if task == TaskKind::Segment {
        if let crate::config::ModelConfig::UNet(p) = &config.model {
            let size = medburn_core::ijk_to_dhw(config.data.patch.patch_size);
            medburn_models::unet::check_spatial_size(size, &p.strides)
                .map_err(|e| TrainError::Config(format!("data.patch.patch_size: {e}")))?;
        }
        segment::window_of(config).validate()?;
    } else if task == TaskKind::Register {
        register::check_config(config)?;
    } else if task == TaskKind::SuperResolve {
        superres::check_config(config)?;
    } else if task == TaskKind::Autoencode {
        autoencode::check_config(config)?;
    } else {
        if config.data.target.as_deref().is_none_or(str::is_empty) {
            return bad(format!(
                "task {task} needs data.target: the manifest column to learn (--target age)"
            ));
        }
        whole_volume::fixed_grid(config)?;
    }
    if let Some(metric) = &config.validation.metric {
        let known: &[&str] = match task {
            TaskKind::Segment => &["mean_dice"],
            TaskKind::Regress => &["mae", "rmse", "r2"],
            TaskKind::Classify => &["auc", "accuracy", "cross_entropy"],
            TaskKind::Register => &["mean_dice", "similarity", "folding"],
            TaskKind::SuperResolve | TaskKind::Autoencode => &["psnr", "ssim"],
        };
        if !known.contains(&metric.as_str()) {
            return bad(format!(
                "validation.metric {metric:?} is not a metric of task {task} (known: {})",
                known.join(", ")
            ));
        }
    }
    Ok(())
}

/// The manifest of a run, with the channels it selects (indices; empty: all).
pub(crate) fn open_manifest(config: &TrainConfig) -> Result<(Manifest, Vec<usize>)> {
    let manifest = Manifest::open(&config.data.dir)?;
    let channels = manifest.channel_indices(&config.data.channels)?;
    Ok((manifest, channels))
}

/// The training cases split into (train, validation): by the manifest's `split` where it gives
/// one to any case, else the last `val_cases`. At least one case must train and one validate.
pub(crate) fn split_training(
    config: &TrainConfig,
    cases: &[CaseFiles],
) -> Result<(Vec<CaseFiles>, Vec<CaseFiles>)> {
    let explicit = cases.iter().any(|c| c.split.is_some());
    let (train, val): (Vec<CaseFiles>, Vec<CaseFiles>) = if explicit {
        cases
            .iter()
            .cloned()
            .partition(|c| c.split != Some(Split::Validation))
    } else {
        let n = cases.len();
        if n < config.data.val_cases + 1 {
            return Err(TrainError::Config(format!(
                "{}: {n} training cases, but {} are held out for validation and at least one \
                 must train",
                config.data.dir.display(),
                config.data.val_cases
            )));
        }
        let (a, b) = cases.split_at(n - config.data.val_cases);
        (a.to_vec(), b.to_vec())
    };
    if train.is_empty() || val.is_empty() {
        return Err(TrainError::Config(format!(
            "{}: {} training and {} validation cases; each set needs at least one",
            config.data.dir.display(),
            train.len(),
            val.len()
        )));
    }
    Ok((train, val))
}

/// Prepares `cases` (with `prepare`), with a progress bar.
pub(crate) fn prepare_all(
    cases: &[CaseFiles],
    progress: bool,
    what: &str,
    mut prepare: impl FnMut(&CaseFiles) -> Result<PreparedCase>,
) -> Result<Vec<PreparedCase>> {
    let bar = crate::trainer::bar(progress, cases.len() as u64, what);
    let mut out = Vec::with_capacity(cases.len());
    for case in cases {
        out.push(prepare(case)?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(out)
}

/// Prepared cases in the order train, validation, test (`n_train` and `n_val` of the first two)
/// as the three sets of a run.
pub(crate) fn into_sets(
    prepared: Vec<PreparedCase>,
    n_train: usize,
    n_val: usize,
) -> (CaseCache, Vec<Arc<PreparedCase>>, Vec<Arc<PreparedCase>>) {
    let mut prepared = prepared.into_iter();
    let train: Vec<PreparedCase> = prepared.by_ref().take(n_train).collect();
    let val = prepared.by_ref().take(n_val).map(Arc::new).collect();
    let test = prepared.map(Arc::new).collect();
    (CaseCache::new(train), val, test)
}

/// The channel names a run keeps, in order.
pub(crate) fn kept_channel_names(manifest: &Manifest, channels: &[usize]) -> Vec<String> {
    if channels.is_empty() {
        manifest.channel_names.clone()
    } else {
        channels
            .iter()
            .map(|&c| {
                manifest
                    .channel_names
                    .get(c)
                    .cloned()
                    .unwrap_or_else(|| c.to_string())
            })
            .collect()
    }
}

/// Every case must have the first's channel count.
pub(crate) fn check_channels(cases: &[&PreparedCase]) -> Result<usize> {
    let first = cases
        .first()
        .ok_or_else(|| TrainError::Invalid("no cases".into()))?;
    if let Some(c) = cases.iter().find(|c| c.channels != first.channels) {
        return Err(TrainError::Invalid(format!(
            "case {} has {} channels, case {} has {}",
            c.id, c.channels, first.id, first.channels
        )));
    }
    Ok(first.channels)
}

/// The data information of a checkpoint's state.
pub(crate) fn info_of(state: &TrainState) -> DataInfo {
    DataInfo {
        in_channels: state.in_channels,
        num_classes: state.num_classes,
        channel_names: state.channel_names.clone(),
        source_channels: state.source_channels.clone(),
        label_names: state.label_names.clone(),
        target: state.target.clone(),
    }
}
