//! The training configuration: one TOML file whose defaults depend on the task (the
//! segmentation defaults are the README's main job), every field overridable on the command
//! line (`--set optim.lr=0.002`). The network and the loss are chosen by name
//! (`[model] name = "resnet18"`, `[loss] name = "huber"`), each with its own fields.

mod loss;
mod model;

use std::path::{Path, PathBuf};

use medburn_augment::Pipeline;
use medburn_datasets::{PatchSampler, PreprocessConfig};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

pub use loss::LossConfig;
pub use model::{
    AutoEncoderParams, ModelConfig, Output, RegressorParams, ResNetParams, SuperResParams,
    UNetParams, VaeParams, VoxelMorphParams,
};

/// What a run learns: it picks the data a batch holds, the network's output, the loss, the
/// validation metrics and what a prediction writes (see `crate::task`).
///
/// ```
/// use medburn_train::TaskKind;
/// assert_eq!("regress".parse::<TaskKind>()?, TaskKind::Regress);
/// assert_eq!(TaskKind::Classify.to_string(), "classify");
/// # Ok::<(), medburn_train::TrainError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    /// Voxel-wise classes from label maps (Dice + CE, sliding windows).
    #[default]
    Segment,
    /// One number per case from a manifest column (age), whole volumes.
    Regress,
    /// One class per case from a manifest column (sex), whole volumes.
    Classify,
    /// Deformable registration of pairs of whole volumes (VoxelMorph): a displacement field
    /// that warps a moving image onto a fixed one.
    Register,
    /// Super-resolution: each whole volume is the truth for its simulated lower-resolution
    /// acquisition.
    #[serde(rename = "superres")]
    SuperResolve,
    /// Representation learning: each whole volume reconstructed through the code of an
    /// autoencoder (MONAI's `AutoEncoder` or `VarAutoEncoder`).
    Autoencode,
}

impl TaskKind {
    /// Every task, as `task = ...` takes it.
    pub const ALL: [TaskKind; 6] = [
        TaskKind::Segment,
        TaskKind::Regress,
        TaskKind::Classify,
        TaskKind::Register,
        TaskKind::SuperResolve,
        TaskKind::Autoencode,
    ];

    /// Whether the task takes whole volumes on a fixed grid (regression and classification
    /// with one target per case, registration in pairs).
    ///
    /// ```
    /// use medburn_train::TaskKind;
    /// assert!(TaskKind::Register.whole_volume() && !TaskKind::Segment.whole_volume());
    /// ```
    pub fn whole_volume(self) -> bool {
        !matches!(self, TaskKind::Segment)
    }
}

impl std::fmt::Display for TaskKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TaskKind::Segment => "segment",
            TaskKind::Regress => "regress",
            TaskKind::Classify => "classify",
            TaskKind::Register => "register",
            TaskKind::SuperResolve => "superres",
            TaskKind::Autoencode => "autoencode",
        })
    }
}

impl std::str::FromStr for TaskKind {
    type Err = TrainError;

    fn from_str(s: &str) -> Result<TaskKind> {
        TaskKind::ALL
            .into_iter()
            .find(|t| t.to_string() == s.trim())
            .ok_or_else(|| {
                TrainError::Config(format!(
                    "unknown task {s:?} (known: segment, regress, classify, register, superres, autoencode)"
                ))
            })
    }
}

/// Everything a run needs; [`TrainConfig::for_task`] gives each task's defaults and
/// `TrainConfig::default()` is the segmentation main job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// What the run learns.
    pub task: TaskKind,
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
    /// Optimizer, learning-rate schedule, clipping and accumulation.
    pub optim: OptimConfig,
    /// The loss.
    pub loss: LossConfig,
    /// Augmentation on the training device: a `[augment]` table with `[[augment.transforms]]`
    /// steps (`medburn_augment::Pipeline`); the segmentation default is the augment crate's
    /// `configs/brain_mr.toml`, the whole-volume tasks' is `train/configs/whole_volume.toml`.
    pub augment: Pipeline,
    /// Validation on held-out cases.
    pub validation: ValidationConfig,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            task: TaskKind::Segment,
            seed: 0,
            device: "cpu".into(),
            out: "medburn-run".into(),
            data: DataConfig::default(),
            model: ModelConfig::UNet(UNetParams::default()),
            optim: OptimConfig::default(),
            loss: LossConfig::named("dice_ce").expect("known"),
            augment: Pipeline::default(),
            validation: ValidationConfig::default(),
        }
    }
}

/// The augmentation of the whole-volume tasks: rotations and shifts without scaling (head size
/// is a signal for them), left-right flips, noise, contrast and gamma.
pub const WHOLE_VOLUME_AUGMENT_TOML: &str = include_str!("../../configs/whole_volume.toml");

/// Which cases, prepared how, cut into which patches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// The data set: a Decathlon folder (`dataset.json`, with an optional `participants.tsv`),
    /// or a `.csv`, `.tsv` or `.json` manifest (`medburn_datasets::Manifest::open`).
    pub dir: PathBuf,
    /// Channels to train on, by name (`["T1"]`) or number; empty: every channel.
    pub channels: Vec<String>,
    /// The manifest column the whole-volume tasks learn (`age`, `sex`).
    pub target: Option<String>,
    /// Classification: the class values in order (index 0 first); empty: the sorted distinct
    /// values of the training cases.
    pub classes: Vec<String>,
    /// Without a `split` column, the last this-many training cases are held out for validation.
    pub val_cases: usize,
    /// Orientation, spacing, fixed grid size, normalization.
    pub preprocess: PreprocessConfig,
    /// Patch size and the foreground/background balance (segmentation; whole-volume tasks
    /// take the prepared grid whole).
    pub patch: PatchSampler,
    /// Samples per micro-batch (per optimizer step without accumulation); pairs for
    /// registration.
    pub batch_size: usize,
    /// Batches made ahead of training on the loader's worker thread.
    pub prefetch: usize,
    /// Registration: how moving and fixed images are paired.
    pub pairs: Pairing,
    /// Registration: the case (its identifier in the data set's training cases) that is the
    /// atlas of `atlas_to_subject` and `subject_to_atlas` pairs; it takes part in no other
    /// pair.
    pub atlas: Option<String>,
}

/// How the registration task pairs images (`data.pairs`): every pair is a moving image, which
/// the network warps, and a fixed image, onto which it is warped.
///
/// ```
/// use medburn_train::Pairing;
/// let p: Pairing = serde_json::from_str("\"atlas_to_subject\"").unwrap();
/// assert_eq!(p, Pairing::AtlasToSubject);
/// assert!(p.uses_atlas() && !Pairing::default().uses_atlas());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pairing {
    /// Random pairs of distinct training cases (each step draws them from its own RNG
    /// stream); held-out cases are paired with the next held-out case.
    #[default]
    SubjectToSubject,
    /// The atlas (`data.atlas`) is the moving image and each subject the fixed one: the atlas
    /// and its labels are warped onto each subject (atlas-based segmentation).
    AtlasToSubject,
    /// Each subject is the moving image and the atlas the fixed one: every subject is warped
    /// into the atlas's space (VoxelMorph's scan-to-atlas).
    SubjectToAtlas,
}

impl Pairing {
    /// Whether the pairs need `data.atlas`.
    pub fn uses_atlas(self) -> bool {
        self != Pairing::SubjectToSubject
    }
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            dir: "medburn-run/data".into(),
            channels: Vec::new(),
            target: None,
            classes: Vec::new(),
            val_cases: 3,
            preprocess: PreprocessConfig {
                orientation: "RAS".into(),
                spacing: Some([2.5, 2.5, 2.5]),
                size: None,
                normalize: true,
                resample_channels: false,
            },
            patch: PatchSampler {
                patch_size: [32, 32, 32],
                pos: 2.0,
                neg: 1.0,
            },
            batch_size: 2,
            prefetch: 4,
            pairs: Pairing::SubjectToSubject,
            atlas: None,
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

/// AdamW, the schedule, gradient clipping and accumulation.
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
    /// Scale the gradients so that their global L2 norm is at most this (PyTorch's
    /// `clip_grad_norm_`); `None`: no clipping.
    pub clip_grad_norm: Option<f64>,
    /// Micro-batches whose gradients are averaged before each optimizer step.
    pub accumulate: u64,
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
            clip_grad_norm: None,
            accumulate: 1,
        }
    }
}

/// Validation on held-out cases (by sliding windows for segmentation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ValidationConfig {
    /// Validate every this-many steps (and at the end).
    pub every: u64,
    /// The metric that chooses `checkpoints/best` (the task's default when absent:
    /// `mean_dice`, `mae`, `cross_entropy`).
    pub metric: Option<String>,
    /// Window size along i, j, k (the patch size when absent).
    pub roi_size: Option<[usize; 3]>,
    /// Overlap of neighbouring windows (0 to <1).
    pub overlap: f64,
    /// Windows (or whole volumes) per forward pass.
    pub sw_batch_size: usize,
    /// Average over flips along each axis (test-time augmentation).
    pub flip_tta: bool,
}

impl Default for ValidationConfig {
    fn default() -> Self {
        ValidationConfig {
            every: 300,
            metric: None,
            roi_size: None,
            overlap: 0.5,
            sw_batch_size: 4,
            flip_tta: false,
        }
    }
}

impl TrainConfig {
    /// The defaults of `task`: segmentation is the main job (MONAI's U-Net on 32^3 patches at
    /// 2.5 mm); regression and classification take whole volumes on a 64^3 grid at 3.5 mm (a
    /// 224 mm field of view holds a whole head) into MONAI's `resnet10` made for two CPU cores
    /// (a quarter of its width, `widen_factor = 0.25`, and a stride-2 stem,
    /// `conv1_t_stride = 2`; its global pooling does not care where the head lies in the
    /// grid), with MSE on standardized targets or cross-entropy. Registration takes the same
    /// grid, the first channel, random subject-to-subject pairs one at a time, MONAI's
    /// `VoxelMorph()`, LNCC + diffusion (see [`TrainConfig::register_defaults`]).
    ///
    /// ```
    /// use medburn_train::{TaskKind, TrainConfig};
    /// let c = TrainConfig::for_task(TaskKind::Regress);
    /// assert_eq!((c.model.name(), c.loss.name()), ("resnet10", "mse"));
    /// assert_eq!(c.data.preprocess.size, Some([64, 64, 64]));
    /// assert_eq!(TrainConfig::for_task(TaskKind::Segment), TrainConfig::default());
    /// let r = TrainConfig::for_task(TaskKind::Register);
    /// assert_eq!((r.model.name(), r.loss.name()), ("voxelmorph", "registration"));
    /// ```
    pub fn for_task(task: TaskKind) -> TrainConfig {
        let segment = TrainConfig::default();
        if !task.whole_volume() {
            return segment;
        }
        if task == TaskKind::Register {
            return Self::register_defaults();
        }
        if task == TaskKind::SuperResolve {
            return Self::superres_defaults();
        }
        if task == TaskKind::Autoencode {
            return Self::autoencode_defaults();
        }
        let augment = toml::from_str(WHOLE_VOLUME_AUGMENT_TOML).expect("the built-in pipeline");
        TrainConfig {
            task,
            data: DataConfig {
                target: Some(
                    if task == TaskKind::Regress {
                        "age"
                    } else {
                        "sex"
                    }
                    .into(),
                ),
                val_cases: 30,
                preprocess: PreprocessConfig {
                    orientation: "RAS".into(),
                    spacing: Some([3.5; 3]),
                    size: Some([64; 3]),
                    normalize: true,
                    resample_channels: false,
                },
                patch: PatchSampler {
                    patch_size: [64; 3],
                    pos: 1.0,
                    neg: 1.0,
                },
                batch_size: 4,
                ..segment.data
            },
            model: ModelConfig::ResNet10(ResNetParams {
                widen_factor: 0.25,
                conv1_t_stride: 2,
                ..ResNetParams::default()
            }),
            optim: OptimConfig {
                lr: 1e-3,
                weight_decay: 1e-4,
                warmup_steps: 100,
                steps: 4000,
                steps_per_epoch: 250,
                clip_grad_norm: Some(5.0),
                ..OptimConfig::default()
            },
            loss: match task {
                TaskKind::Regress => LossConfig::Mse {},
                _ => LossConfig::named("cross_entropy").expect("known"),
            },
            augment,
            validation: ValidationConfig {
                every: 250,
                sw_batch_size: 4,
                ..ValidationConfig::default()
            },
            ..segment
        }
    }

    /// The registration task's defaults: whole volumes on the whole-volume tasks' 64^3 grid at
    /// 3.5 mm, their first channel (`data.channels = ["0"]`: T1 in the synthetic data), random
    /// subject-to-subject pairs, one per step; MONAI's `VoxelMorph()` (244,323 parameters,
    /// seven integration steps); LNCC over 9^3 windows plus diffusion with weight 1 (the
    /// VoxelMorph paper's choice for NCC), no Dice term; Adam at 1e-3 without weight decay,
    /// clipped at a global norm of 5; the whole-volume augmentation, each spatial transform
    /// moving both images of a pair; validation every 250 steps.
    ///
    /// ```
    /// let c = medburn_train::TrainConfig::register_defaults();
    /// assert_eq!((c.data.batch_size, c.data.channels.as_slice()), (1, &["0".to_string()][..]));
    /// assert_eq!(c.data.patch.patch_size, c.data.preprocess.size.unwrap());
    /// ```
    pub fn register_defaults() -> TrainConfig {
        let segment = TrainConfig::default();
        let augment = toml::from_str(WHOLE_VOLUME_AUGMENT_TOML).expect("the built-in pipeline");
        TrainConfig {
            task: TaskKind::Register,
            data: DataConfig {
                channels: vec!["0".into()],
                val_cases: 3,
                preprocess: PreprocessConfig {
                    orientation: "RAS".into(),
                    spacing: Some([3.5; 3]),
                    size: Some([64; 3]),
                    normalize: true,
                    resample_channels: false,
                },
                patch: PatchSampler {
                    patch_size: [64; 3],
                    pos: 1.0,
                    neg: 1.0,
                },
                batch_size: 1,
                ..segment.data
            },
            model: ModelConfig::VoxelMorph(VoxelMorphParams::default()),
            optim: OptimConfig {
                lr: 1e-3,
                weight_decay: 0.0,
                warmup_steps: 50,
                steps: 3000,
                steps_per_epoch: 250,
                clip_grad_norm: Some(5.0),
                ..OptimConfig::default()
            },
            loss: LossConfig::named("registration").expect("known"),
            augment,
            validation: ValidationConfig {
                every: 250,
                sw_batch_size: 1,
                ..ValidationConfig::default()
            },
            ..segment
        }
    }

    /// The super-resolution task's defaults: whole volumes of the first channel (`data.channels
    /// = ["0"]`: T1 in the synthetic data) on a 64^3 grid at 2.5 mm, the truth for inputs with
    /// slices 4 times thicker (`model.factors = [1, 1, 4]`), made on the device each step; the
    /// super-resolution network with 16 features and three residual units; L1; AdamW at 1e-3,
    /// clipped at a global norm of 5; the whole-volume augmentation before the inputs are made;
    /// validation every 100 steps on 3 cases.
    ///
    /// ```
    /// let c = medburn_train::TrainConfig::superres_defaults();
    /// assert_eq!(c.model.name(), "superres");
    /// assert_eq!(c.data.patch.patch_size, c.data.preprocess.size.unwrap());
    /// ```
    pub fn superres_defaults() -> TrainConfig {
        // Registration's whole-volume setting (first channel, 64^3, augmentation, clipping),
        // at a finer spacing, with its own network, loss and schedule.
        let mut c = Self::register_defaults();
        c.task = TaskKind::SuperResolve;
        c.data.preprocess.spacing = Some([2.5; 3]);
        c.data.batch_size = 2;
        c.model = ModelConfig::SuperRes(SuperResParams::default());
        c.loss = LossConfig::L1 {};
        c.optim.steps = 1000;
        c.optim.steps_per_epoch = 100;
        c.validation.every = 100;
        c
    }

    /// The autoencoding task's defaults: whole volumes of the first channel on the
    /// super-resolution task's 64^3 grid at 2.5 mm, MONAI's `AutoEncoder(channels=(16, 32, 64),
    /// strides=(2, 2, 2), num_res_units=2)` (`--set model.name=vae` for the `VarAutoEncoder`
    /// with 64 latents), MSE, AdamW at 2e-3 (the VAE's linear layers, 32,768 inputs each,
    /// diverge above it), 2,000 steps, clipped at a global norm of 5; the whole-volume
    /// augmentation; validation every 200 steps on 3 cases.
    ///
    /// ```
    /// let c = medburn_train::TrainConfig::autoencode_defaults();
    /// assert_eq!((c.model.name(), c.loss.name()), ("autoencoder", "mse"));
    /// assert_eq!(c.data.patch.patch_size, c.data.preprocess.size.unwrap());
    /// ```
    pub fn autoencode_defaults() -> TrainConfig {
        let mut c = Self::superres_defaults();
        c.task = TaskKind::Autoencode;
        c.model = ModelConfig::AutoEncoder(AutoEncoderParams::default());
        c.loss = LossConfig::Mse {};
        c.optim.lr = 2e-3;
        c.optim.steps = 2000;
        c.optim.steps_per_epoch = 200;
        c.validation.every = 200;
        c
    }

    /// Reads a TOML file: the defaults of its `task` (segmentation when absent), with the
    /// file's fields on top; unknown fields are errors.
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

    /// Parses TOML text over the defaults of its `task`. A `[model]` or `[loss]` table whose
    /// `name` differs from the default's starts from that network's (or loss's) defaults; a
    /// table without `name` keeps the default's.
    ///
    /// ```
    /// use medburn_train::TrainConfig;
    /// let c = TrainConfig::from_toml("[data]\nbatch_size = 4")?;
    /// assert_eq!(c.data.batch_size, 4);
    /// let c = TrainConfig::from_toml("task = \"classify\"\n[model]\nname = \"resnet10\"\nwiden_factor = 0.25")?;
    /// assert_eq!((c.model.name(), c.loss.name()), ("resnet10", "cross_entropy"));
    /// assert!(TrainConfig::from_toml("[model]\nchannels = [4, 8]\nnope = 1").is_err());
    /// # Ok::<(), medburn_train::TrainError>(())
    /// ```
    pub fn from_toml(text: &str) -> Result<TrainConfig> {
        let table: toml::Table =
            toml::from_str(text).map_err(|e| TrainError::Config(e.to_string()))?;
        let task = match table.get("task") {
            Some(toml::Value::String(s)) => s.parse()?,
            Some(other) => {
                return Err(TrainError::Config(format!(
                    "task must be a string, got {other}"
                )))
            }
            None => TaskKind::Segment,
        };
        let mut root = toml::Value::try_from(TrainConfig::for_task(task))
            .map_err(|e| TrainError::Config(e.to_string()))?;
        merge(&mut root, toml::Value::Table(table))?;
        root.try_into()
            .map_err(|e: toml::de::Error| TrainError::Config(e.message().to_string()))
    }

    /// The configuration as TOML.
    ///
    /// ```
    /// use medburn_train::{TaskKind, TrainConfig};
    /// for task in TaskKind::ALL {
    ///     let c = TrainConfig::for_task(task);
    ///     assert_eq!(TrainConfig::from_toml(&c.to_toml()?)?, c);
    /// }
    /// # Ok::<(), medburn_train::TrainError>(())
    /// ```
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(self).map_err(|e| TrainError::Config(e.to_string()))
    }

    /// Sets one field by its dotted path (`optim.lr=0.002`, `data.patch.patch_size=[48,48,48]`);
    /// the value is TOML (a bare word is taken as a string). `model.name=...` and
    /// `loss.name=...` switch to that network's or loss's defaults; the task is chosen with
    /// `task = ...` in the file or the command line's `--task`, not here.
    ///
    /// ```
    /// let mut c = medburn_train::TrainConfig::default();
    /// c.set("optim.lr=0.01")?;
    /// c.set("data.patch.patch_size=[16, 16, 8]")?;
    /// c.set("device=wgpu")?;
    /// assert_eq!((c.optim.lr, c.data.patch.patch_size, c.device.as_str()), (0.01, [16, 16, 8], "wgpu"));
    /// c.set("model.name=resnet18")?;
    /// c.set("model.widen_factor=0.5")?;
    /// assert_eq!(c.model.name(), "resnet18");
    /// assert!(c.set("optim.nope=1").is_err());
    /// assert!(c.set("model.channels=[4,8]").is_err()); // a U-Net field on a ResNet
    /// assert!(c.set("task=regress").is_err());
    /// # Ok::<(), medburn_train::TrainError>(())
    /// ```
    pub fn set(&mut self, assignment: &str) -> Result<()> {
        let bad = |m: String| TrainError::Config(format!("--set {assignment}: {m}"));
        let (path, value) = parse_assignment(assignment).map_err(bad)?;
        if path == "task" {
            return Err(bad(
                "the task picks every default: use --task (or `task = ...` in the TOML file)"
                    .into(),
            ));
        }
        let mut root = toml::Value::try_from(&*self).map_err(|e| bad(e.to_string()))?;
        let keys: Vec<&str> = path.split('.').collect();
        let mut patch = value;
        for key in keys.iter().rev() {
            let mut t = toml::Table::new();
            t.insert(key.to_string(), patch);
            patch = toml::Value::Table(t);
        }
        merge(&mut root, patch).map_err(|e| bad(e.to_string()))?;
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
    /// let mut c = medburn_train::TrainConfig::for_task(medburn_train::TaskKind::Regress);
    /// c.data.target = None;
    /// assert!(c.validate().unwrap_err().to_string().contains("data.target"));
    /// ```
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(TrainError::Config(m.to_string()));
        if self.optim.steps == 0 || self.optim.steps_per_epoch == 0 {
            return bad("optim.steps and optim.steps_per_epoch must be at least 1");
        }
        if !(self.optim.lr > 0.0 && self.optim.lr.is_finite()) {
            return bad("optim.lr must be positive");
        }
        if self.optim.accumulate == 0 {
            return bad("optim.accumulate must be at least 1");
        }
        if let Some(c) = self.optim.clip_grad_norm {
            if !(c > 0.0 && c.is_finite()) {
                return bad("optim.clip_grad_norm must be positive");
            }
        }
        self.model.validate().map_err(TrainError::Config)?;
        if self.validation.every == 0 || self.validation.sw_batch_size == 0 {
            return bad("validation.every and validation.sw_batch_size must be at least 1");
        }
        if self.data.batch_size == 0 {
            return bad("data.batch_size must be at least 1");
        }
        self.data.patch.validate()?;
        self.data.preprocess.validate()?;
        self.augment.validate()?;
        crate::task::check_config(self)
    }

    /// The window size of sliding-window inference.
    pub fn roi_size(&self) -> [usize; 3] {
        self.validation
            .roi_size
            .unwrap_or(self.data.patch.patch_size)
    }
}

/// Merges `patch` into `base`, key by key. A `model` or `loss` table naming another `name`
/// than the base's replaces it with that name's defaults first.
fn merge(base: &mut toml::Value, patch: toml::Value) -> Result<()> {
    merge_at(base, patch, &[])
}

fn merge_at(base: &mut toml::Value, patch: toml::Value, at: &[&str]) -> Result<()> {
    let (toml::Value::Table(b), toml::Value::Table(p)) = (&mut *base, &patch) else {
        *base = patch;
        return Ok(());
    };
    if let [section @ ("model" | "loss")] = at {
        if let Some(name) = p.get("name") {
            let name = name
                .as_str()
                .ok_or_else(|| TrainError::Config(format!("{section}.name must be a string")))?;
            if b.get("name").and_then(|v| v.as_str()) != Some(name) {
                let fresh = if *section == "model" {
                    toml::Value::try_from(ModelConfig::named(name).map_err(TrainError::Config)?)
                } else {
                    toml::Value::try_from(LossConfig::named(name).map_err(TrainError::Config)?)
                };
                *b = match fresh.map_err(|e| TrainError::Config(e.to_string()))? {
                    toml::Value::Table(t) => t,
                    _ => unreachable!("a named config serializes to a table"),
                };
            }
        }
    }
    let toml::Value::Table(p) = patch else {
        unreachable!("matched above")
    };
    for (key, value) in p {
        let mut path = at.to_vec();
        path.push(&key);
        match b.get_mut(&key) {
            Some(existing) if existing.is_table() && value.is_table() => {
                merge_at(existing, value, &path)?
            }
            _ => {
                b.insert(key.clone(), value);
            }
        }
    }
    Ok(())
}

/// A `--set KEY=VALUE` assignment: the key trimmed, and the value read as TOML (a bare word
/// that is not TOML is taken as a string). What `TrainConfig::set`, `ModelConfig::set` and
/// `medburn models summary --set` take.
///
/// ```
/// let (key, value) = medburn_train::parse_assignment(" optim.lr = 0.01").unwrap();
/// assert_eq!((key, value), ("optim.lr", toml::Value::Float(0.01)));
/// assert_eq!(medburn_train::parse_assignment("act=prelu").unwrap().1, toml::Value::String("prelu".into()));
/// assert!(medburn_train::parse_assignment("lr").is_err());
/// ```
pub fn parse_assignment(assignment: &str) -> std::result::Result<(&str, toml::Value), String> {
    let (key, value) = assignment
        .split_once('=')
        .ok_or_else(|| "expected KEY=VALUE".to_string())?;
    let value = match toml::from_str::<toml::Table>(&format!("v = {value}")) {
        Ok(mut t) => t.remove("v").expect("parsed"),
        Err(_) => toml::Value::String(value.trim().to_string()),
    };
    Ok((key.trim(), value))
}
