//! Checkpoints: the model, the optimizer state, the step (the RNG streams and the data position
//! follow from the seed and the step, see `medburn_datasets::step_rng`), the best validation
//! score and the configuration, in one folder under `OUT/checkpoints/`. A folder is written
//! under a temporary name and renamed, and `OUT/checkpoints/latest` is replaced the same way,
//! so a run killed at any moment leaves the previous checkpoint whole.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::{BurnpackStore, ModuleSnapshot};
use serde::{Deserialize, Serialize};

use crate::config::{TaskKind, TrainConfig};
use crate::error::{Result, TrainError};
use crate::task::Target;

/// The run's position and what prediction needs to know about the data. Fields added since
/// the first checkpoints default when absent, so older (segmentation) checkpoints still load.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Optimizer steps done.
    pub step: u64,
    /// Epochs done.
    pub epoch: u64,
    /// The run's seed (RNG stream `s` of it serves step `s`).
    pub seed: u64,
    /// What the model was trained for.
    #[serde(default)]
    pub task: TaskKind,
    /// Image channels the model takes.
    pub in_channels: usize,
    /// Classes the model predicts (background included), or its outputs for regression.
    pub num_classes: usize,
    /// Channel names of the training data (those the model takes).
    pub channel_names: Vec<String>,
    /// Which channels of the training files the model takes (empty: all of them).
    #[serde(default)]
    pub source_channels: Vec<usize>,
    /// Label names of the training data.
    pub label_names: BTreeMap<u32, String>,
    /// The target of a whole-volume task, with the training set's statistics.
    #[serde(default)]
    pub target: Option<Target>,
    /// Best value of the selection metric seen in validation, and its step.
    pub best: Option<(f64, u64)>,
    /// The selection metric (`mean_dice` in checkpoints older than it).
    #[serde(default = "mean_dice")]
    pub best_metric: String,
}

fn mean_dice() -> String {
    "mean_dice".into()
}

fn ckpt_err(path: &Path, message: impl std::fmt::Display) -> TrainError {
    TrainError::Checkpoint {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// Saves a checkpoint folder `OUT/checkpoints/NAME` (model.bpk, optimizer.bpk when given,
/// state.json, train.toml). A checkpoint with its optimizer is one a run can resume from, and
/// `OUT/checkpoints/latest` is pointed at it; one without (a `best` model) leaves `latest`
/// alone, so `--resume` never picks a model it cannot continue exactly. Returns the folder.
///
/// ```
/// use burn::module::Module;
/// use burn::nn::LinearConfig;
/// use medburn_train::{load_model, save_checkpoint, TrainConfig, TrainState};
/// let device = burn::tensor::Device::flex();
/// let model = LinearConfig::new(2, 3).init(&device);
/// let out = tempfile::tempdir()?;
/// let state = TrainState { step: 7, epoch: 0, seed: 1, task: Default::default(), in_channels: 2,
///     num_classes: 3, channel_names: vec![], source_channels: vec![], label_names: Default::default(), target: None,
///     best: None, best_metric: "mean_dice".into() };
/// let dir = save_checkpoint(out.path(), "step-7", &model, None, &state, &TrainConfig::default())?;
/// let back = load_model(LinearConfig::new(2, 3).init(&device), &dir)?;
/// assert_eq!(back.weight.val().into_data(), model.weight.val().into_data());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn save_checkpoint<M: Module>(
    out: &Path,
    name: &str,
    model: &M,
    optimizer: Option<&ModuleOptimizer>,
    state: &TrainState,
    config: &TrainConfig,
) -> Result<PathBuf> {
    let root = out.join("checkpoints");
    std::fs::create_dir_all(&root).map_err(|e| ckpt_err(&root, e))?;
    let tmp = root.join(format!(".tmp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| ckpt_err(&tmp, e))?;
    let write = || -> Result<()> {
        let mut store = BurnpackStore::from_file(tmp.join("model.bpk"))
            .auto_extension(false)
            .overwrite(true);
        model
            .save_into(&mut store)
            .map_err(|e| ckpt_err(&tmp, format!("model: {e}")))?;
        if let Some(optim) = optimizer {
            optim
                .save(tmp.join("optimizer.bpk"))
                .map_err(|e| ckpt_err(&tmp, format!("optimizer: {e}")))?;
        }
        let json = serde_json::to_string_pretty(state).map_err(|e| ckpt_err(&tmp, e))?;
        medburn_io::atomic::write_atomic(&tmp.join("state.json"), json.as_bytes())?;
        medburn_io::atomic::write_atomic(&tmp.join("train.toml"), config.to_toml()?.as_bytes())?;
        Ok(())
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    let dir = root.join(name);
    // Replace an older folder of the same name: move it aside first so that one of the two
    // is always whole.
    let old = root.join(format!(".old-{name}-{}", std::process::id()));
    let had_old = dir.exists() && std::fs::rename(&dir, &old).is_ok();
    std::fs::rename(&tmp, &dir).map_err(|e| ckpt_err(&dir, e))?;
    if had_old {
        let _ = std::fs::remove_dir_all(&old);
    }
    if optimizer.is_some() {
        medburn_io::atomic::write_atomic(&root.join("latest"), name.as_bytes())?;
    }
    Ok(dir)
}

/// Tidies `OUT/checkpoints` after a run killed while writing a checkpoint: a folder moved
/// aside (`.old-NAME-*`) whose replacement never arrived is put back as `NAME`, and the other
/// temporaries (`.tmp-*`, `.old-*`) are removed. Called when a run starts; one run writes to a
/// folder at a time.
///
/// ```
/// let out = tempfile::tempdir()?;
/// let root = out.path().join("checkpoints");
/// std::fs::create_dir_all(root.join(".tmp-step-000010-123"))?;
/// std::fs::create_dir_all(root.join(".old-best-123"))?;
/// medburn_train::recover_interrupted_writes(out.path())?;
/// assert!(root.join("best").is_dir());
/// assert_eq!(std::fs::read_dir(&root)?.count(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn recover_interrupted_writes(out: &Path) -> Result<()> {
    let root = out.join("checkpoints");
    let Ok(entries) = std::fs::read_dir(&root) else {
        return Ok(());
    };
    let mut stale = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if let Some(rest) = name.strip_prefix(".old-") {
            // `.old-NAME-PID`: NAME itself may hold dashes.
            if let Some((original, _pid)) = rest.rsplit_once('-') {
                let target = root.join(original);
                if !target.exists() {
                    std::fs::rename(entry.path(), &target).map_err(|e| ckpt_err(&target, e))?;
                    continue;
                }
            }
            stale.push(entry.path());
        } else if name.starts_with(".tmp-") {
            stale.push(entry.path());
        }
    }
    for p in stale {
        std::fs::remove_dir_all(&p).map_err(|e| ckpt_err(&p, e))?;
    }
    Ok(())
}

/// The checkpoint folder `path` names: the folder itself when it holds `state.json`, else the
/// one `PATH/checkpoints/latest` (or `PATH/latest`) points at.
///
/// ```
/// let out = tempfile::tempdir()?;
/// assert!(medburn_train::resolve_checkpoint(out.path()).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn resolve_checkpoint(path: &Path) -> Result<PathBuf> {
    if path.join("state.json").is_file() {
        return Ok(path.to_path_buf());
    }
    for root in [path.join("checkpoints"), path.to_path_buf()] {
        if let Ok(name) = std::fs::read_to_string(root.join("latest")) {
            let dir = root.join(name.trim());
            if dir.join("state.json").is_file() {
                return Ok(dir);
            }
        }
    }
    Err(ckpt_err(
        path,
        "no checkpoint here (expected state.json, or checkpoints/latest naming one)",
    ))
}

/// Reads a checkpoint's state and configuration.
///
/// ```no_run
/// let (state, config) = medburn_train::read_checkpoint("medburn-run/checkpoints/best".as_ref())?;
/// println!("step {} of {}", state.step, config.optim.steps);
/// # Ok::<(), medburn_train::TrainError>(())
/// ```
pub fn read_checkpoint(dir: &Path) -> Result<(TrainState, TrainConfig)> {
    let text = std::fs::read_to_string(dir.join("state.json")).map_err(|e| ckpt_err(dir, e))?;
    let state: TrainState =
        serde_json::from_str(&text).map_err(|e| ckpt_err(dir, format!("state.json: {e}")))?;
    let config = TrainConfig::from_file(&dir.join("train.toml"))?;
    Ok((state, config))
}

/// Loads a checkpoint's weights into `model` (same architecture); parameter ids are restored,
/// so a saved optimizer state applies to them.
pub fn load_model<M: Module>(mut model: M, dir: &Path) -> Result<M> {
    let path = dir.join("model.bpk");
    let mut store = BurnpackStore::from_file(&path).auto_extension(false);
    let result = model
        .load_from(&mut store)
        .map_err(|e| ckpt_err(&path, e))?;
    if !result.missing.is_empty() || !result.errors.is_empty() {
        return Err(ckpt_err(
            &path,
            format!(
                "does not fit this model ({} tensors missing, {} errors)",
                result.missing.len(),
                result.errors.len()
            ),
        ));
    }
    let bad = non_finite_parameters(&model);
    if bad > 0 {
        return Err(ckpt_err(
            &path,
            format!(
                "{bad} weight tensor(s) hold NaN or infinite values: the model would predict \
                 nothing (it was saved from a diverged run)"
            ),
        ));
    }
    Ok(model)
}

/// How many float parameters of `model` hold a NaN or an infinity.
fn non_finite_parameters<M: Module>(model: &M) -> usize {
    struct Count(usize);
    impl burn::module::ModuleVisitor for Count {
        fn visit_float<const D: usize>(
            &mut self,
            param: &burn::module::Param<burn::tensor::Tensor<D>>,
        ) {
            let t = param.val();
            if t.clone()
                .is_nan()
                .any()
                .bool_or(t.is_inf().any())
                .into_scalar::<bool>()
            {
                self.0 += 1;
            }
        }
    }
    let mut c = Count(0);
    model.visit(&mut c);
    c.0
}

/// Loads a checkpoint's optimizer state; a checkpoint saved without one (a `best` model) is
/// refused with a message saying which checkpoints a run resumes from.
pub fn load_optimizer(optimizer: ModuleOptimizer, dir: &Path) -> Result<ModuleOptimizer> {
    let path = dir.join("optimizer.bpk");
    if !path.is_file() {
        return Err(ckpt_err(
            dir,
            "holds no optimizer state (a best model, kept for prediction): resume from the \
             run folder or one of its step-NNNNNN checkpoints",
        ));
    }
    optimizer.load(&path).map_err(|e| ckpt_err(&path, e))
}
