//! The training configuration: one TOML file whose defaults are the README's main job, every
//! field overridable on the command line (`--set optim.lr=0.002`).

use std::path::{Path, PathBuf};

use medburn_augment::Pipeline;
use medburn_datasets::{PatchSampler, PreprocessConfig};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

/// Everything a run needs; `TrainConfig::default()` is the main job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Seed of every random choice: initial weights, patches, augmentation.
    pub seed: u64,
    /// `cpu` (Flex), `wgpu` or `cuda`.
    pub device: String,
    /// Where checkpoints, metrics and pictures go.
    pub out: PathBuf,
    /// The data.
    pub data: DataConfig,
    /// The network.
    pub model: ModelConfig,
    /// Optimizer and learning-rate schedule.
    pub optim: OptimConfig,
    /// The loss.
    pub loss: LossConfig,
    /// Augmentation on the training device: a `[augment]` table with `[[augment.transforms]]`
    /// steps (`medburn_augment::Pipeline`); the default is the crate's `configs/brain_mr.toml`.
    pub augment: Pipeline,
    /// Validation by sliding-window inference on whole held-out volumes.
    pub validation: ValidationConfig,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            seed: 0,
            device: "cpu".into(),
            out: "medburn-run".into(),
            data: DataConfig::default(),
            model: ModelConfig::default(),
            optim: OptimConfig::default(),
            loss: LossConfig::default(),
            augment: Pipeline::default(),
            validation: ValidationConfig::default(),
        }
    }
}

/// Which cases, prepared how, cut into which patches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// A folder in the Medical Segmentation Decathlon layout (`dataset.json`).
    pub dir: PathBuf,
    /// The last this-many training cases are held out for validation.
    pub val_cases: usize,
    /// Orientation, spacing, normalization.
    pub preprocess: PreprocessConfig,
    /// Patch size and the foreground/background balance.
    pub patch: PatchSampler,
    /// Patches per step.
    pub batch_size: usize,
    /// Batches made ahead of training on the loader's worker thread.
    pub prefetch: usize,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            dir: "medburn-run/data".into(),
            val_cases: 3,
            preprocess: PreprocessConfig {
                orientation: "RAS".into(),
                spacing: Some([2.5, 2.5, 2.5]),
                normalize: true,
            },
            patch: PatchSampler {
                patch_size: [32, 32, 32],
                pos: 2.0,
                neg: 1.0,
            },
            batch_size: 2,
            prefetch: 4,
        }
    }
}

/// The U-Net's shape (MONAI's `UNet` parameters); input and output channels come from the data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// Feature channels per level.
    pub channels: Vec<usize>,
    /// Downsampling stride between levels (one fewer than `channels`).
    pub strides: Vec<usize>,
    /// Residual units per level (0: plain convolutions).
    pub num_res_units: usize,
    /// Dropout probability.
    pub dropout: f64,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            channels: vec![16, 32, 64, 128],
            strides: vec![2, 2, 2],
            num_res_units: 2,
            dropout: 0.0,
        }
    }
}

/// Learning-rate schedule after the linear warm-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decay {
    /// Half a cosine from the peak to `min_lr`.
    Cosine,
    /// `(1 - t)^power`, as nnU-Net's PolyLR.
    Poly,
    /// No decay.
    Constant,
}

/// AdamW and the schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimConfig {
    /// Peak learning rate.
    pub lr: f64,
    /// Final learning rate of the cosine decay.
    pub min_lr: f64,
    /// AdamW's decoupled weight decay.
    pub weight_decay: f64,
    /// Steps of linear warm-up from 0 to `lr`.
    pub warmup_steps: u64,
    /// The decay after warm-up.
    pub decay: Decay,
    /// Exponent of the polynomial decay.
    pub poly_power: f64,
    /// Total optimizer steps.
    pub steps: u64,
    /// Steps per epoch: a checkpoint is written at the end of each.
    pub steps_per_epoch: u64,
}

impl Default for OptimConfig {
    fn default() -> Self {
        OptimConfig {
            lr: 3e-3,
            min_lr: 1e-5,
            weight_decay: 1e-5,
            warmup_steps: 30,
            decay: Decay::Cosine,
            poly_power: 0.9,
            steps: 900,
            steps_per_epoch: 100,
        }
    }
}

/// Dice + cross-entropy (MONAI's `DiceCELoss`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LossConfig {
    /// Include the background channel in the Dice term.
    pub include_background: bool,
    /// Weight of the Dice term.
    pub lambda_dice: f64,
    /// Weight of the cross-entropy term.
    pub lambda_ce: f64,
}

impl Default for LossConfig {
    fn default() -> Self {
        LossConfig {
            include_background: false,
            lambda_dice: 1.0,
            lambda_ce: 1.0,
        }
    }
}

/// Validation and prediction by sliding windows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ValidationConfig {
    /// Validate every this-many steps (and at the end).
    pub every: u64,
    /// Window size along i, j, k (the patch size when absent).
    pub roi_size: Option<[usize; 3]>,
    /// Overlap of neighbouring windows (0 to <1).
    pub overlap: f64,
    /// Windows per forward pass.
    pub sw_batch_size: usize,
    /// Average over flips along each axis (test-time augmentation).
    pub flip_tta: bool,
}

impl Default for ValidationConfig {
    fn default() -> Self {
        ValidationConfig {
            every: 300,
            roi_size: None,
            overlap: 0.5,
            sw_batch_size: 4,
            flip_tta: false,
        }
    }
}

impl TrainConfig {
    /// Reads a TOML file; absent fields keep their defaults, unknown ones are errors.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let p = dir.path().join("train.toml");
    /// std::fs::write(&p, "seed = 3\n[optim]\nsteps = 10\n")?;
    /// let c = medburn_train::TrainConfig::from_file(&p)?;
    /// assert_eq!((c.seed, c.optim.steps, c.data.batch_size), (3, 10, 2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_file(path: &Path) -> Result<TrainConfig> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| TrainError::Config(format!("{}: {e}", path.display())))?;
        Self::from_toml(&text).map_err(|e| TrainError::Config(format!("{}: {e}", path.display())))
    }

    /// Parses TOML text.
    ///
    /// ```
    /// let c = medburn_train::TrainConfig::from_toml("[data]\nbatch_size = 4")?;
    /// assert_eq!(c.data.batch_size, 4);
    /// # Ok::<(), medburn_train::TrainError>(())
    /// ```
    pub fn from_toml(text: &str) -> Result<TrainConfig> {
        toml::from_str(text).map_err(|e| TrainError::Config(e.to_string()))
    }

    /// The configuration as TOML.
    ///
    /// ```
    /// let c = medburn_train::TrainConfig::default();
    /// let back = medburn_train::TrainConfig::from_toml(&c.to_toml()?)?;
    /// assert_eq!(back, c);
    /// # Ok::<(), medburn_train::TrainError>(())
    /// ```
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(self).map_err(|e| TrainError::Config(e.to_string()))
    }

    /// Sets one field by its dotted path (`optim.lr=0.002`, `data.patch.patch_size=[48,48,48]`);
    /// the value is TOML (a bare word is taken as a string).
    ///
    /// ```
    /// let mut c = medburn_train::TrainConfig::default();
    /// c.set("optim.lr=0.01")?;
    /// c.set("data.patch.patch_size=[16, 16, 8]")?;
    /// c.set("device=wgpu")?;
    /// assert_eq!((c.optim.lr, c.data.patch.patch_size, c.device.as_str()), (0.01, [16, 16, 8], "wgpu"));
    /// assert!(c.set("optim.nope=1").is_err());
    /// # Ok::<(), medburn_train::TrainError>(())
    /// ```
    pub fn set(&mut self, assignment: &str) -> Result<()> {
        let bad = |m: String| TrainError::Config(format!("--set {assignment}: {m}"));
        let (path, value) = assignment
            .split_once('=')
            .ok_or_else(|| bad("expected KEY=VALUE".into()))?;
        let value: toml::Value = match toml::from_str::<toml::Table>(&format!("v = {value}")) {
            Ok(mut t) => t.remove("v").expect("parsed"),
            Err(_) => toml::Value::String(value.trim().to_string()),
        };
        let mut root = toml::Value::try_from(&*self).map_err(|e| bad(e.to_string()))?;
        let keys: Vec<&str> = path.trim().split('.').collect();
        let mut node = &mut root;
        for (n, key) in keys.iter().enumerate() {
            let table = node
                .as_table_mut()
                .ok_or_else(|| bad(format!("{} is not a section", keys[..n].join("."))))?;
            if n + 1 == keys.len() {
                table.insert(key.to_string(), value.clone());
                break;
            }
            node = table
                .entry(key.to_string())
                .or_insert_with(|| toml::Value::Table(Default::default()));
        }
        *self = root
            .try_into()
            .map_err(|e: toml::de::Error| bad(e.message().to_string()))?;
        Ok(())
    }

    /// Checks values that would fail later, with one clear line.
    ///
    /// ```
    /// let mut c = medburn_train::TrainConfig::default();
    /// c.optim.steps = 0;
    /// assert!(c.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(TrainError::Config(m.to_string()));
        if self.optim.steps == 0 || self.optim.steps_per_epoch == 0 {
            return bad("optim.steps and optim.steps_per_epoch must be at least 1");
        }
        if !(self.optim.lr > 0.0 && self.optim.lr.is_finite()) {
            return bad("optim.lr must be positive");
        }
        if self.model.channels.len() < 2
            || self.model.strides.len() + 1 != self.model.channels.len()
        {
            return bad(
                "model.channels needs at least 2 levels and one stride fewer than channels",
            );
        }
        if !(0.0..1.0).contains(&self.validation.overlap) {
            return bad("validation.overlap must be in [0, 1)");
        }
        if self.validation.every == 0 || self.validation.sw_batch_size == 0 {
            return bad("validation.every and validation.sw_batch_size must be at least 1");
        }
        if self.data.batch_size == 0 {
            return bad("data.batch_size must be at least 1");
        }
        let down: usize = self.model.strides.iter().product();
        if let Some(s) = self.data.patch.patch_size.iter().find(|&&s| s % down != 0) {
            return Err(TrainError::Config(format!(
                "data.patch.patch_size side {s} must be a multiple of the U-Net's total stride {down}"
            )));
        }
        self.data.patch.validate()?;
        self.data.preprocess.orientation()?;
        self.augment.validate()?;
        Ok(())
    }

    /// The window size of sliding-window inference.
    pub fn roi_size(&self) -> [usize; 3] {
        self.validation
            .roi_size
            .unwrap_or(self.data.patch.patch_size)
    }
}
