//! Registration: pairs of whole volumes on one fixed grid, MONAI's VoxelMorph, trained as
//! VoxelMorph is: the dissimilarity of the warped moving image and the fixed image (LNCC, MSE or
//! mutual information) plus the displacement's roughness (diffusion or bending energy), plus,
//! semi-supervised, a soft Dice of the warped moving labels against the fixed labels.
//!
//! Pairs ([`Pairing`]): random pairs of distinct training cases (subject to subject), or every
//! subject with an atlas case that takes part in no other pair (atlas to subject: the atlas is
//! warped onto each subject; subject to atlas: each subject into the atlas's space). The loader
//! draws each step's moving (or fixed) cases as for any whole-volume task; the task draws each
//! one's partner from the rest of the step's RNG stream ([`Task::prepare_batch`]), so a resumed
//! run draws the same pairs. The two images of a pair go through the augmentation as one sample
//! of `2C` channels (their label maps as one label sample of 2 channels): every spatial
//! transform moves both alike, as MONAI's dictionary transforms do for the keys of a pair, and
//! the intensity transforms draw one value per pair (noise is drawn per voxel of each image).
//!
//! Held-out pairs (validation, test): each case with the next of its set (the last with the
//! first), or each with the atlas. They are scored by the mean foreground Dice of the moving
//! label map warped by the displacement (nearest) against the fixed label map, beside the Dice
//! of the unregistered pair (`baseline_mean_dice`); the similarity loss of the pair before and
//! after; and the displacement's folding (the share of voxels whose Jacobian determinant is at
//! or below 0) and SDlogJ. The Dice chooses `checkpoints/best` where the data has label maps,
//! the similarity loss otherwise.
//!
//! [`RegistrationModel`] applies a trained checkpoint to a pair: the inputs prepared as in
//! training, `(warped, ddf)` on the prepared grid.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::tensor::{Device, Int, Tensor, TensorData};
use medburn_augment::Interpolation;
use medburn_core::Geometry;
use medburn_datasets::{prepare_case, CaseFiles, PatchBatch, PreparedCase};
use medburn_models::voxelmorph::warp_image;
use medburn_models::VoxelMorph;
use medburn_register::metrics::JacobianStats;
use medburn_register::{
    BendingEnergyLoss, BendingEnergyLossConfig, DiffusionLoss, DiffusionLossConfig,
    DisplacementField, GlobalMutualInformationLoss, GlobalMutualInformationLossConfig, ItkAffine,
    LocalNormalizedCrossCorrelationLoss, LocalNormalizedCrossCorrelationLossConfig,
    RegistrationTransform, Regularizer, Similarity,
};
use rand::{Rng, RngCore};

use super::{
    check_channels, into_sets, kept_channel_names, open_manifest, prepare_all, split_training,
    DataInfo, RunData, StepBatch, Task,
};
use crate::checkpoint::{load_model, read_checkpoint, resolve_checkpoint, TrainState};
use crate::config::{LossConfig, Pairing, TaskKind, TrainConfig};
use crate::error::{Result, TrainError};
use crate::losses::one_hot;
use crate::metrics::{dice_per_label, per_label_means};
use crate::metrics_log::Metrics;
use crate::network::build_voxelmorph;
use crate::plot::{write_slice_panels_png, SlicePanel};

/// The registration task: the training cases in the loader's order (the batches' case indices
/// point into it), the atlas, and the loss the configuration chose.
#[derive(Debug, Default)]
pub struct Register {
    train: Vec<Arc<PreparedCase>>,
    atlas: Option<Arc<PreparedCase>>,
    pairs: Pairing,
    loss: Option<RegistrationLoss>,
}

/// The similarity term of a [`RegistrationLoss`].
#[derive(Clone, Debug)]
enum SimilarityLoss {
    Lncc(LocalNormalizedCrossCorrelationLoss),
    Mse,
    Mi(GlobalMutualInformationLoss),
}

/// The smoothness term of a [`RegistrationLoss`].
#[derive(Clone, Debug)]
enum SmoothnessLoss {
    Diffusion(DiffusionLoss),
    BendingEnergy(BendingEnergyLoss),
}

/// VoxelMorph's loss: `similarity(warped, fixed) + regularization_weight * smoothness(ddf)`,
/// plus `dice_weight * (1 - soft Dice)` of the warped one-hot moving labels against the fixed
/// ones (foreground labels, each sample and label, MONAI's `smooth_nr = smooth_dr = 1e-5`).
#[derive(Clone, Debug)]
pub struct RegistrationLoss {
    similarity: SimilarityLoss,
    smoothness: SmoothnessLoss,
    regularization_weight: f64,
    dice_weight: f64,
    /// Label classes, background included (0: the data has no label maps).
    num_classes: usize,
}

impl RegistrationLoss {
    /// The loss `config` names (a `registration` loss), for label maps of `num_classes`
    /// classes (0: none).
    ///
    /// ```
    /// use burn::tensor::{Device, Distribution, Tensor};
    /// use medburn_train::task::register::RegistrationLoss;
    /// use medburn_train::LossConfig;
    ///
    /// let loss = RegistrationLoss::new(&LossConfig::named("registration").unwrap(), 0)?;
    /// let device = Device::flex();
    /// let image = Tensor::<5>::random([1, 1, 8, 8, 8], Distribution::Default, &device);
    /// // An image against itself: LNCC -1, and no displacement costs nothing.
    /// let s = loss.similarity(image.clone(), image)?.into_scalar::<f32>();
    /// assert!((s + 1.0).abs() < 1e-3);
    /// assert_eq!(loss.smoothness(Tensor::zeros([1, 3, 8, 8, 8], &device))?.into_scalar::<f32>(), 0.0);
    /// assert!(RegistrationLoss::new(&LossConfig::named("mse").unwrap(), 0).is_err());
    /// # Ok::<(), medburn_train::TrainError>(())
    /// ```
    pub fn new(config: &LossConfig, num_classes: usize) -> Result<RegistrationLoss> {
        let LossConfig::Registration {
            similarity,
            kernel_size,
            regularization,
            regularization_weight,
            dice_weight,
        } = *config
        else {
            return Err(TrainError::Config(format!(
                "loss {} does not fit registration (registration)",
                config.name()
            )));
        };
        check_loss_options(config)?;
        Ok(RegistrationLoss {
            similarity: match similarity {
                Similarity::Lncc => SimilarityLoss::Lncc(
                    LocalNormalizedCrossCorrelationLossConfig::new()
                        .with_kernel_size(kernel_size)
                        .init(),
                ),
                Similarity::Mse => SimilarityLoss::Mse,
                Similarity::Mi => {
                    SimilarityLoss::Mi(GlobalMutualInformationLossConfig::new().init())
                }
            },
            smoothness: match regularization {
                Regularizer::Diffusion => {
                    SmoothnessLoss::Diffusion(DiffusionLossConfig::new().init())
                }
                Regularizer::BendingEnergy => {
                    SmoothnessLoss::BendingEnergy(BendingEnergyLossConfig::new().init())
                }
            },
            regularization_weight,
            dice_weight,
            num_classes,
        })
    }

    /// The dissimilarity of `warped` and `fixed` (`[N, C, D, H, W]` each): a loss to minimize.
    pub fn similarity(&self, warped: Tensor<5>, fixed: Tensor<5>) -> Result<Tensor<1>> {
        Ok(match &self.similarity {
            SimilarityLoss::Lncc(l) => l.forward(warped, fixed)?,
            SimilarityLoss::Mse => {
                if warped.dims() != fixed.dims() {
                    return Err(TrainError::Invalid(format!(
                        "warped {:?} and fixed {:?} images differ in shape",
                        warped.dims(),
                        fixed.dims()
                    )));
                }
                (warped - fixed).powi_scalar(2).mean()
            }
            SimilarityLoss::Mi(l) => l.forward(warped, fixed)?,
        })
    }

    /// The roughness of a displacement field `[N, 3, D, H, W]` (MONAI's convention).
    pub fn smoothness(&self, ddf: Tensor<5>) -> Result<Tensor<1>> {
        Ok(match &self.smoothness {
            SmoothnessLoss::Diffusion(l) => l.forward(ddf)?,
            SmoothnessLoss::BendingEnergy(l) => l.forward(ddf)?,
        })
    }

    /// `1 -` the mean soft Dice over samples and foreground labels of the moving label map
    /// `[N, 1, D, H, W]` (one-hot, warped linearly by `ddf`) against the fixed one: the
    /// semi-supervised term.
    pub fn dice_loss(
        &self,
        moving_labels: Tensor<5, Int>,
        fixed_labels: Tensor<5, Int>,
        ddf: Tensor<5>,
    ) -> Result<Tensor<1>> {
        let k = self.num_classes;
        if k < 2 {
            return Err(TrainError::Invalid(
                "the Dice term needs label maps with a foreground label".into(),
            ));
        }
        let warped = warp_image(one_hot(moving_labels, k)?, ddf, Interpolation::Linear)?;
        let fixed = one_hot(fixed_labels, k)?;
        let [n, _, d, h, w] = warped.dims();
        let fg = |x: Tensor<5>| x.narrow(1, 1, k - 1).reshape([n, k - 1, d * h * w]);
        let (p, t) = (fg(warped), fg(fixed));
        let intersection = (p.clone() * t.clone()).sum_dim(2);
        let total = p.sum_dim(2) + t.sum_dim(2);
        let dice = (intersection * 2.0 + 1e-5) / (total + 1e-5);
        Ok(dice.mean().neg() + 1.0)
    }
}

/// The registration loss's options, checked.
fn check_loss_options(config: &LossConfig) -> Result<()> {
    let LossConfig::Registration {
        similarity,
        kernel_size,
        regularization_weight,
        dice_weight,
        ..
    } = *config
    else {
        return Ok(());
    };
    let bad = |m: String| Err(TrainError::Config(m));
    if similarity == Similarity::Lncc && (kernel_size == 0 || kernel_size.is_multiple_of(2)) {
        return bad(format!(
            "loss.kernel_size must be odd (the LNCC window has a centre), got {kernel_size}"
        ));
    }
    for (name, v) in [
        ("regularization_weight", regularization_weight),
        ("dice_weight", dice_weight),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            return bad(format!("loss.{name} must be finite and >= 0, got {v}"));
        }
    }
    Ok(())
}

/// The registration task's checks of a configuration (see `task::check_config`): whole volumes
/// on a fixed grid the network's levels divide, two-channel label maps resampled by nearest,
/// an atlas where the pairs need one.
pub(crate) fn check_config(config: &TrainConfig) -> Result<()> {
    let bad = |m: String| Err(TrainError::Config(m));
    let size = super::whole_volume::fixed_grid(config)?;
    if let crate::config::ModelConfig::VoxelMorph(p) = &config.model {
        let dhw = medburn_core::ijk_to_dhw(size);
        medburn_models::unet::check_spatial_size(dhw, &vec![2; p.levels()]).map_err(|e| {
            TrainError::Config(format!(
                "data.preprocess.size {size:?} does not fit the network's {} levels: {e}",
                p.levels()
            ))
        })?;
    }
    if config.augment.label_interpolation != Interpolation::Nearest {
        return bad(format!(
            "augment.label_interpolation must be nearest for registration (the label maps of \
             a pair travel as two channels), got {}",
            config.augment.label_interpolation
        ));
    }
    match (config.data.pairs.uses_atlas(), &config.data.atlas) {
        (true, None) => {
            return bad(format!(
                "data.pairs = {:?} needs data.atlas: the identifier of the atlas case",
                config.data.pairs
            ))
        }
        (false, Some(id)) => {
            return bad(format!(
                "data.atlas = {id:?} is set but data.pairs is subject_to_subject: set \
                 data.pairs = \"atlas_to_subject\" or \"subject_to_atlas\""
            ))
        }
        _ => {}
    }
    check_loss_options(&config.loss)
}

/// A label map `[1, 1, D, H, W]` (class indices) of a case on `device`.
fn label_tensor(case: &PreparedCase, device: &Device) -> Result<Option<Tensor<5, Int>>> {
    let Some(label) = &case.label else {
        return Ok(None);
    };
    let [d, h, w] = case.geometry.dhw();
    let values: Vec<i64> = label.iter().map(|&v| v as i64).collect();
    Ok(Some(Tensor::from_data(
        TensorData::new(values, [1, 1, d, h, w]),
        device,
    )))
}

/// One held-out pair's scores, and what its picture shows.
#[derive(Clone, Debug)]
pub struct PairResult {
    /// The moving case.
    pub moving: Arc<PreparedCase>,
    /// The fixed case.
    pub fixed: Arc<PreparedCase>,
    /// Mean foreground Dice of the warped moving labels against the fixed labels (NaN without
    /// label maps).
    pub dice: f64,
    /// The same without registration.
    pub baseline_dice: f64,
    /// The similarity loss after registration.
    pub similarity: f64,
    /// The similarity loss before.
    pub baseline_similarity: f64,
    /// The displacement's Jacobian determinants.
    pub jacobian: JacobianStats,
    /// The middle slice along k of the warped moving image's first channel, `[H, W]`.
    pub warped_slice: Vec<f32>,
    /// The same of the warped moving label map.
    pub warped_label_slice: Option<Vec<u8>>,
}

/// Every held-out pair of an evaluation.
#[derive(Clone, Debug, Default)]
pub struct RegisterEvaluation {
    /// One per pair.
    pub pairs: Vec<PairResult>,
}

/// The middle slice along k of channel 0 of `[N, C, D, H, W]` values (sample 0).
fn middle_slice<T: Copy>(values: &[T], dhw: [usize; 3]) -> Vec<T> {
    let [d, h, w] = dhw;
    let k = d / 2;
    values[k * h * w..(k + 1) * h * w].to_vec()
}

fn to_host_f32(t: Tensor<5>) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec()
        .map_err(|e| TrainError::Invalid(format!("{e:?}")))
}

impl Register {
    fn loss_fn(&self) -> Result<&RegistrationLoss> {
        self.loss
            .as_ref()
            .ok_or_else(|| TrainError::Invalid("the registration task was not prepared".into()))
    }

    /// The held-out pairs of `cases`: each with the atlas, or each with the next case.
    fn pairs_of(
        &self,
        cases: &[Arc<PreparedCase>],
    ) -> Result<Vec<(Arc<PreparedCase>, Arc<PreparedCase>)>> {
        let atlas = || {
            self.atlas
                .clone()
                .ok_or_else(|| TrainError::Invalid("atlas pairs without an atlas".into()))
        };
        match self.pairs {
            Pairing::SubjectToSubject => {
                if cases.len() < 2 {
                    return Err(TrainError::Invalid(format!(
                        "subject-to-subject pairs need at least 2 held-out cases, got {}",
                        cases.len()
                    )));
                }
                Ok((0..cases.len())
                    .map(|i| (cases[i].clone(), cases[(i + 1) % cases.len()].clone()))
                    .collect())
            }
            Pairing::AtlasToSubject => {
                let a = atlas()?;
                Ok(cases.iter().map(|c| (a.clone(), c.clone())).collect())
            }
            Pairing::SubjectToAtlas => {
                let a = atlas()?;
                Ok(cases.iter().map(|c| (c.clone(), a.clone())).collect())
            }
        }
    }

    /// Images `[N, C, D, H, W]` and label maps `[N, 1, D, H, W]` (float class indices, where
    /// every case has one) of `cases` on `device`.
    fn stack(
        cases: &[Arc<PreparedCase>],
        device: &Device,
    ) -> Result<(Tensor<5>, Option<Tensor<5>>)> {
        let first = cases
            .first()
            .ok_or_else(|| TrainError::Invalid("no cases to stack".into()))?;
        let [d, h, w] = first.geometry.dhw();
        let c = first.channels;
        let mut image = Vec::with_capacity(cases.len() * c * d * h * w);
        let mut label = Vec::with_capacity(cases.len() * d * h * w);
        let labelled = cases.iter().all(|k| k.label.is_some());
        for case in cases {
            if case.geometry.size() != first.geometry.size() || case.channels != c {
                return Err(TrainError::Invalid(format!(
                    "cases {} and {} are not on one grid of one channel count",
                    first.id, case.id
                )));
            }
            image.extend_from_slice(&case.image);
            if let (true, Some(l)) = (labelled, &case.label) {
                label.extend(l.iter().map(|&v| v as f32));
            }
        }
        let n = cases.len();
        let image = Tensor::from_data(TensorData::new(image, [n, c, d, h, w]), device);
        let label =
            labelled.then(|| Tensor::from_data(TensorData::new(label, [n, 1, d, h, w]), device));
        Ok((image, label))
    }
}

impl Task for Register {
    type Model = VoxelMorph;
    type Evaluation = RegisterEvaluation;

    fn kind(&self) -> TaskKind {
        TaskKind::Register
    }

    fn metric_names(&self, info: &DataInfo) -> Vec<String> {
        let mut names: Vec<&str> = Vec::new();
        if info.num_classes >= 2 {
            names.extend(["mean_dice", "baseline_mean_dice"]);
        }
        names.extend([
            "similarity",
            "baseline_similarity",
            "folding",
            "log_det_std",
        ]);
        names.into_iter().map(String::from).collect()
    }

    fn prepare(&mut self, config: &TrainConfig, progress: bool) -> Result<RunData> {
        self.pairs = config.data.pairs;
        let (manifest, channels) = open_manifest(config)?;
        let mut training = manifest.training.clone();
        let atlas_files = match (config.data.pairs.uses_atlas(), &config.data.atlas) {
            (true, Some(id)) => {
                let at = training.iter().position(|c| c.id == *id).ok_or_else(|| {
                    TrainError::Config(format!(
                        "data.atlas {id:?} is not a training case of {}",
                        config.data.dir.display()
                    ))
                })?;
                Some(training.remove(at))
            }
            (true, None) => {
                return Err(TrainError::Config(
                    "atlas pairs need data.atlas: the identifier of the atlas case".into(),
                ))
            }
            (false, _) => None,
        };
        let (train_files, val_files) = split_training(config, &training)?;
        // Label maps take part where every training and validation case (and the atlas) has
        // one. Test cases take part with or without theirs (a Decathlon test list names images
        // only): a pair without both label maps has no Dice.
        let labelled = train_files
            .iter()
            .chain(&val_files)
            .chain(atlas_files.iter())
            .all(|c| c.label.is_some());
        let test_files: Vec<CaseFiles> = manifest.test.clone();
        let dice_weight = match config.loss {
            LossConfig::Registration { dice_weight, .. } => dice_weight,
            _ => 0.0,
        };
        if config.validation.metric.as_deref() == Some("mean_dice") && !labelled {
            return Err(TrainError::Config(
                "validation.metric mean_dice needs a label map for every training and \
                 validation case; choose similarity or folding"
                    .into(),
            ));
        }
        if dice_weight > 0.0 && !labelled {
            return Err(TrainError::Config(format!(
                "loss.dice_weight {dice_weight} needs a label map for every training and \
                 validation case{}",
                if atlas_files.is_some() {
                    " and the atlas"
                } else {
                    ""
                }
            )));
        }
        if self.pairs == Pairing::SubjectToSubject {
            if train_files.len() < 2 {
                return Err(TrainError::Config(format!(
                    "subject-to-subject pairs need at least 2 training cases, {} has {}",
                    config.data.dir.display(),
                    train_files.len()
                )));
            }
            if val_files.len() < 2 {
                return Err(TrainError::Config(format!(
                    "subject-to-subject pairs need at least 2 validation cases (data.val_cases, \
                     or the manifest's split), got {}",
                    val_files.len()
                )));
            }
        }
        let mut all = train_files.clone();
        all.extend(val_files.iter().cloned());
        all.extend(test_files.iter().cloned());
        all.extend(atlas_files.iter().cloned());
        let mut prepared = prepare_all(&all, progress, "preparing volumes", |case| {
            let mut case = case.clone();
            if !labelled {
                case.label = None;
            }
            Ok(prepare_case(&case, &config.data.preprocess, &channels)?)
        })?;
        let in_channels = check_channels(&prepared.iter().collect::<Vec<_>>())?;
        let atlas = atlas_files
            .is_some()
            .then(|| prepared.pop().map(Arc::new))
            .flatten();
        let num_classes = if labelled {
            let max_label = prepared
                .iter()
                .chain(atlas.as_deref())
                .flat_map(|c| c.label.iter().flatten().copied().max())
                .max()
                .unwrap_or(0) as usize;
            let named = manifest.label_names.keys().max().map_or(0, |&k| k as usize);
            max_label.max(named) + 1
        } else {
            0
        };
        if dice_weight > 0.0 && num_classes < 2 {
            return Err(TrainError::Invalid(
                "loss.dice_weight needs label maps with a foreground label; they hold only \
                 background"
                    .into(),
            ));
        }
        let (train, val, mut test) = into_sets(prepared, train_files.len(), val_files.len());
        if self.pairs == Pairing::SubjectToSubject && test.len() < 2 {
            // One test case makes no pair of test cases.
            test.clear();
        }
        self.train = train.cases().to_vec();
        self.atlas = atlas;
        self.loss = Some(RegistrationLoss::new(&config.loss, num_classes)?);
        let info = DataInfo {
            in_channels,
            num_classes,
            channel_names: kept_channel_names(&manifest, &channels),
            source_channels: channels.clone(),
            label_names: if labelled {
                manifest.label_names.clone()
            } else {
                Default::default()
            },
            target: None,
        };
        Ok(RunData {
            train,
            val,
            test,
            manifest,
            info,
        })
    }

    fn build(&self, config: &TrainConfig, info: &DataInfo, device: &Device) -> Result<VoxelMorph> {
        build_voxelmorph(&config.model, info.in_channels, device)
    }

    /// Each case the loader drew gets its partner (a distinct training case drawn from `rng`,
    /// or the atlas); the pair is augmented as one sample (see [the module](self)).
    fn prepare_batch(
        &self,
        config: &TrainConfig,
        geometry: &Geometry,
        batch: PatchBatch,
        rng: &mut dyn RngCore,
    ) -> Result<StepBatch> {
        let device = batch.image.device();
        let k = self.train.len();
        let partners: Vec<Arc<PreparedCase>> = batch
            .cases
            .iter()
            .map(|&c| match self.pairs {
                Pairing::SubjectToSubject => {
                    if k < 2 || c >= k {
                        return Err(TrainError::Invalid(format!(
                            "case {c} of {k} training cases makes no subject pair"
                        )));
                    }
                    let f = rng.random_range(0..k - 1);
                    Ok(self.train[if f >= c { f + 1 } else { f }].clone())
                }
                _ => self
                    .atlas
                    .clone()
                    .ok_or_else(|| TrainError::Invalid("atlas pairs without an atlas".into())),
            })
            .collect::<Result<_>>()?;
        let (partner_image, partner_label) = Self::stack(&partners, &device)?;
        let subject_label = batch.label.map(|l| l.float());
        let ((moving, moving_label), (fixed, fixed_label)) = match self.pairs {
            Pairing::AtlasToSubject => {
                ((partner_image, partner_label), (batch.image, subject_label))
            }
            _ => ((batch.image, subject_label), (partner_image, partner_label)),
        };
        let n = moving.dims()[0];
        let image = Tensor::cat(vec![moving, fixed], 1);
        let label = match (moving_label, fixed_label) {
            (Some(m), Some(f)) => Some(Tensor::cat(vec![m, f], 1)),
            _ => None,
        };
        let params = config.augment.sample(rng, geometry, n)?;
        let (image, label) = config.augment.apply(&params, geometry, image, label)?;
        Ok(StepBatch {
            image,
            label: label.map(|l| l.int()),
            targets: None,
            noise: None,
        })
    }

    fn loss(&self, model: &VoxelMorph, batch: StepBatch) -> Result<Tensor<1>> {
        let loss_fn = self.loss_fn()?;
        let [_, c2, ..] = batch.image.dims();
        if c2 % 2 != 0 {
            return Err(TrainError::Invalid(format!(
                "a registration batch holds pairs (2C channels), got {:?}",
                batch.image.dims()
            )));
        }
        let c = c2 / 2;
        let moving = batch.image.clone().narrow(1, 0, c);
        let fixed = batch.image.narrow(1, c, c);
        let (warped, ddf) = model.try_forward(moving, fixed.clone())?;
        let mut loss = loss_fn.similarity(warped, fixed)?;
        if loss_fn.regularization_weight > 0.0 {
            loss = loss + loss_fn.smoothness(ddf.clone())? * loss_fn.regularization_weight;
        }
        if loss_fn.dice_weight > 0.0 {
            let label = batch.label.ok_or_else(|| {
                TrainError::Invalid("the Dice term needs the pair's label maps".into())
            })?;
            let moving_labels = label.clone().narrow(1, 0, 1);
            let fixed_labels = label.narrow(1, 1, 1);
            loss =
                loss + loss_fn.dice_loss(moving_labels, fixed_labels, ddf)? * loss_fn.dice_weight;
        }
        Ok(loss)
    }

    fn evaluate(
        &self,
        model: &VoxelMorph,
        cases: &[Arc<PreparedCase>],
        _test: bool,
        _config: &TrainConfig,
        info: &DataInfo,
        device: &Device,
    ) -> Result<(Metrics, RegisterEvaluation)> {
        let loss_fn = self.loss_fn()?;
        let k = info.num_classes;
        let mut results = Vec::new();
        for (m, f) in self.pairs_of(cases)? {
            let moving = m.image_on(device)?.into_voxels();
            let fixed = f.image_on(device)?.into_voxels();
            let (warped, ddf) = model.try_forward(moving.clone(), fixed.clone())?;
            let similarity =
                super::whole_volume::scalar(loss_fn.similarity(warped.clone(), fixed.clone())?);
            let baseline_similarity =
                super::whole_volume::scalar(loss_fn.similarity(moving, fixed)?);
            let jacobian = JacobianStats::of(ddf.clone(), [1.0; 3])?;
            let dhw = f.geometry.dhw();
            let warped_slice = middle_slice(&to_host_f32(warped)?, dhw);
            let (mut dice, mut baseline_dice, mut warped_label_slice) = (f64::NAN, f64::NAN, None);
            if let (true, Some(ml), Some(fl)) =
                (k >= 2, label_tensor(&m, device)?, label_tensor(&f, device)?)
            {
                let warped_labels = warp_image(ml.clone().float(), ddf, Interpolation::Nearest)?
                    .round()
                    .int();
                let mean_fg = |pred: Tensor<5, Int>| -> Result<f64> {
                    let d: Vec<f32> = dice_per_label(pred, fl.clone(), k, false)?
                        .into_data()
                        .convert::<f32>()
                        .try_to_vec()
                        .map_err(|e| TrainError::Invalid(format!("{e:?}")))?;
                    let per_case = vec![d.iter().map(|&v| v as f64).collect::<Vec<f64>>()];
                    Ok(per_label_means(&per_case, k - 1).1)
                };
                dice = mean_fg(warped_labels.clone())?;
                baseline_dice = mean_fg(ml)?;
                let host: Vec<u8> = to_host_f32(warped_labels.float())?
                    .iter()
                    .map(|&v| v.clamp(0.0, 255.0) as u8)
                    .collect();
                warped_label_slice = Some(middle_slice(&host, dhw));
            }
            results.push(PairResult {
                moving: m,
                fixed: f,
                dice,
                baseline_dice,
                similarity,
                baseline_similarity,
                jacobian,
                warped_slice,
                warped_label_slice,
            });
        }
        let mean = |get: &dyn Fn(&PairResult) -> f64| {
            let v: Vec<f64> = results.iter().map(get).filter(|v| v.is_finite()).collect();
            if v.is_empty() {
                f64::NAN
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        };
        let mut values = Vec::new();
        if k >= 2 {
            values.push(("mean_dice".to_string(), mean(&|r| r.dice)));
            values.push(("baseline_mean_dice".to_string(), mean(&|r| r.baseline_dice)));
        }
        values.push(("similarity".to_string(), mean(&|r| r.similarity)));
        values.push((
            "baseline_similarity".to_string(),
            mean(&|r| r.baseline_similarity),
        ));
        values.push((
            "folding".to_string(),
            mean(&|r| r.jacobian.folding_fraction),
        ));
        values.push(("log_det_std".to_string(), mean(&|r| r.jacobian.log_det_std)));
        Ok((Metrics::new(values), RegisterEvaluation { pairs: results }))
    }

    fn describe(&self, m: &Metrics) -> String {
        let g = |n: &str| m.get(n).unwrap_or(f64::NAN);
        let dice = match m.get("mean_dice") {
            Some(d) => format!(
                "Dice {d:.4} (unregistered {:.4})  ",
                g("baseline_mean_dice")
            ),
            None => String::new(),
        };
        format!(
            "{dice}similarity {:.4} (unregistered {:.4})  folding {:.5}",
            g("similarity"),
            g("baseline_similarity"),
            g("folding")
        )
    }

    fn write_outputs(
        &self,
        out: &Path,
        prefix: &str,
        _cases: &[Arc<PreparedCase>],
        evaluation: &RegisterEvaluation,
        _info: &DataInfo,
    ) -> Result<Vec<PathBuf>> {
        let table = out.join(format!("{prefix}_pairs.csv"));
        let mut text = String::from(
            "moving,fixed,dice,baseline_dice,similarity,baseline_similarity,folding,\
             log_det_std,min_jacobian\n",
        );
        for r in &evaluation.pairs {
            let _ = writeln!(
                text,
                "{},{},{:.5},{:.5},{:.6},{:.6},{:.6},{:.5},{:.5}",
                r.moving.id,
                r.fixed.id,
                r.dice,
                r.baseline_dice,
                r.similarity,
                r.baseline_similarity,
                r.jacobian.folding_fraction,
                r.jacobian.log_det_std,
                r.jacobian.min
            );
        }
        medburn_io::atomic::write_atomic(&table, text.as_bytes())?;
        let folder = if prefix == "validation" {
            out.join("registrations")
        } else {
            out.join(format!("{prefix}_registrations"))
        };
        std::fs::create_dir_all(&folder).map_err(|e| TrainError::Output {
            path: folder.clone(),
            message: e.to_string(),
        })?;
        let mut files = vec![table];
        for r in &evaluation.pairs {
            let path = folder.join(format!("{}_to_{}.png", r.moving.id, r.fixed.id));
            write_pair_png(r, &path)?;
            files.push(path);
        }
        Ok(files)
    }
}

/// The middle slice along k of a pair: the moving image, the moving image warped, and the
/// fixed image, each with its label map in colour, on the fixed image's grey scale; the j axis
/// runs up.
fn write_pair_png(r: &PairResult, path: &Path) -> Result<()> {
    let [d, h, w] = r.fixed.geometry.dhw();
    let n = h * w;
    let k = d / 2;
    fn slice<T>(values: &[T], k: usize, n: usize) -> &[T] {
        values.get(k * n..(k + 1) * n).unwrap_or(&[])
    }
    let (moving_labels, fixed_labels) = (r.moving.label.as_deref(), r.fixed.label.as_deref());
    let panels = [
        SlicePanel {
            title: format!("moving {}", r.moving.id),
            values: slice(&r.moving.image, k, n),
            labels: moving_labels.map(|l| slice(l, k, n)),
        },
        SlicePanel {
            title: if r.dice.is_finite() {
                format!("warped: Dice {:.3} ({:.3})", r.dice, r.baseline_dice)
            } else {
                "warped".to_string()
            },
            values: &r.warped_slice,
            labels: r.warped_label_slice.as_deref(),
        },
        SlicePanel {
            title: format!("fixed {}", r.fixed.id),
            values: slice(&r.fixed.image, k, n),
            labels: fixed_labels.map(|l| slice(l, k, n)),
        },
    ];
    if panels.iter().any(|p| p.values.len() != n) {
        return Err(TrainError::Invalid(format!(
            "pair {} -> {}: slices do not fit the grid",
            r.moving.id, r.fixed.id
        )));
    }
    write_slice_panels_png(&panels, [h, w], panels[2].values, 0.35, path)
}

/// A trained registration network and what it needs to prepare its inputs as training did: the
/// inference side of the task, for `medburn register` and library users.
///
/// ```no_run
/// use medburn_datasets::CaseFiles;
/// use medburn_train::task::register::RegistrationModel;
///
/// let device = burn::tensor::Device::flex();
/// let model = RegistrationModel::load("run/checkpoints/best".as_ref(), &device)?;
/// let moving = model.prepare(&CaseFiles::new(vec!["a.nii.gz".into()], None))?;
/// let fixed = model.prepare(&CaseFiles::new(vec!["b.nii.gz".into()], None))?;
/// // On the prepared grid: the moving image warped, and the displacement (voxels, components
/// // along D, H, W, MONAI's convention).
/// let (warped, ddf) = model.register(&moving, &fixed)?;
/// # Ok::<(), medburn_train::TrainError>(())
/// ```
#[derive(Debug)]
pub struct RegistrationModel {
    /// The network, with the checkpoint's weights.
    pub model: VoxelMorph,
    /// The training run's configuration (its preprocessing, pairs and atlas).
    pub config: TrainConfig,
    /// The checkpoint's state (channels, label classes and names).
    pub state: TrainState,
    device: Device,
}

impl RegistrationModel {
    /// Loads a registration checkpoint (a checkpoint folder or a run's output folder, whose
    /// latest it takes) onto `device`.
    pub fn load(checkpoint: &Path, device: &Device) -> Result<RegistrationModel> {
        let dir = resolve_checkpoint(checkpoint)?;
        let (state, config) = read_checkpoint(&dir)?;
        if state.task != TaskKind::Register {
            return Err(TrainError::Checkpoint {
                path: dir,
                message: format!("a {} model, not a registration model", state.task),
            });
        }
        let model = load_model(
            build_voxelmorph(&config.model, state.in_channels, device)?,
            &dir,
        )?;
        Ok(RegistrationModel {
            model,
            config,
            state,
            device: device.clone(),
        })
    }

    /// Reads and prepares one image (and its label map, where `case` names one) as training
    /// prepared its cases: channels, orientation, spacing, grid, normalization.
    pub fn prepare(&self, case: &CaseFiles) -> Result<PreparedCase> {
        let mut prepared = crate::predict::prepare_input(case, &self.state, &self.config)?;
        if case.label.is_some() {
            // The label map on the same grid (the image read again with it).
            let preprocess = &self.config.data.preprocess;
            let label = match prepare_case(case, preprocess, &self.state.source_channels) {
                Ok(with_label) => with_label.label,
                Err(_) => prepare_case(case, preprocess, &[])?.label,
            };
            prepared.label = label;
        }
        Ok(prepared)
    }

    /// The training run's atlas, prepared (for models trained on atlas pairs), read again from
    /// the run's data set.
    pub fn atlas(&self) -> Result<Option<PreparedCase>> {
        match self.atlas_files()? {
            Some(case) => self.prepare(&case).map(Some),
            None => Ok(None),
        }
    }

    /// The files of the training run's atlas (for models trained on atlas pairs).
    pub fn atlas_files(&self) -> Result<Option<CaseFiles>> {
        let Some(id) = &self.config.data.atlas else {
            return Ok(None);
        };
        let (manifest, _) = open_manifest(&self.config)?;
        let case = manifest
            .training
            .iter()
            .find(|c| c.id == *id)
            .ok_or_else(|| {
                TrainError::Config(format!(
                    "the atlas {id:?} is no longer in {}",
                    self.config.data.dir.display()
                ))
            })?;
        Ok(Some(case.clone()))
    }

    /// The registration of a prepared pair in physical space, as `medburn register` writes
    /// it: the network pairs voxel `idx` of the fixed image's prepared grid `P_f` with position
    /// `idx + ddf(idx)` of the moving image's prepared grid `P_m`, so a fixed point `x` goes to
    /// `A (x + u(x))` with `A = P_m P_f^-1` and `u` the displacement in mm on `P_f` (zero
    /// beyond it).
    pub fn physical_transform(
        &self,
        moving: &PreparedCase,
        fixed: &PreparedCase,
        ddf: Tensor<5>,
    ) -> Result<RegistrationTransform> {
        let m = moving.geometry.affine_lps();
        let fi = fixed.geometry.physical_to_index_matrix();
        let fo = fixed.geometry.origin();
        // P_f^-1 x = fi (x - fo); A = M_m [fi | -fi fo].
        let mut inv = [[0.0f64; 4]; 4];
        for r in 0..3 {
            for c in 0..3 {
                inv[r][c] = fi[r][c];
            }
            inv[r][3] = -(0..3).map(|k| fi[r][k] * fo[k]).sum::<f64>();
        }
        inv[3][3] = 1.0;
        let a: [[f64; 4]; 3] = std::array::from_fn(|r| {
            std::array::from_fn(|c| (0..4).map(|k| m[r][k] * inv[k][c]).sum())
        });
        let ijk = medburn_models::voxelmorph::reverse_components(ddf);
        let field = DisplacementField::from_voxels(ijk, fixed.geometry)?;
        Ok(RegistrationTransform {
            affine: ItkAffine::from_matrix(a, fixed.geometry.centre()),
            displacement: Some(field),
        })
    }

    /// `(warped, ddf)` of a prepared pair on their (common) prepared grid: the moving image
    /// warped onto the fixed one `[1, C, D, H, W]`, and the displacement `[1, 3, D, H, W]`
    /// (voxels of that grid, components along `D, H, W`: MONAI's convention, see
    /// `medburn_models::voxelmorph`).
    pub fn register(
        &self,
        moving: &PreparedCase,
        fixed: &PreparedCase,
    ) -> Result<(Tensor<5>, Tensor<5>)> {
        if moving.geometry.size() != fixed.geometry.size() {
            return Err(TrainError::Invalid(format!(
                "{} and {} are prepared on grids of {:?} and {:?} voxels",
                moving.id,
                fixed.id,
                moving.geometry.size(),
                fixed.geometry.size()
            )));
        }
        let m = moving.image_on(&self.device)?.into_voxels();
        let f = fixed.image_on(&self.device)?.into_voxels();
        self.register_tensors(m, f)
    }

    /// [`register`](Self::register) on tensors `[N, C, D, H, W]` already on the device.
    pub fn register_tensors(
        &self,
        moving: Tensor<5>,
        fixed: Tensor<5>,
    ) -> Result<(Tensor<5>, Tensor<5>)> {
        Ok(self.model.try_forward(moving, fixed)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use medburn_datasets::step_rng;

    const N: usize = 8;

    /// A case whose image is `value + a ramp along i` and whose label map is 1 on the lower
    /// half along k (2 on the upper half).
    fn case(id: &str, value: f32) -> PreparedCase {
        let g = Geometry::unit([N, N, N]).unwrap();
        PreparedCase {
            id: id.into(),
            channels: 1,
            image: (0..N * N * N)
                .map(|v| value + (v % N) as f32 * 0.1)
                .collect(),
            label: Some(
                (0..N * N * N)
                    .map(|v| 1 + (v / (N * N) >= N / 2) as u8)
                    .collect(),
            ),
            targets: vec![],
            geometry: g,
            source_geometry: g,
        }
    }

    fn task(values: &[f32], pairs: Pairing) -> Register {
        Register {
            train: values
                .iter()
                .enumerate()
                .map(|(i, &v)| Arc::new(case(&format!("c{i}"), v)))
                .collect(),
            atlas: Some(Arc::new(case("atlas", 100.0))),
            pairs,
            loss: None,
        }
    }

    /// The loader's batch of cases `cases` of `task`.
    fn batch(task: &Register, cases: &[usize]) -> PatchBatch {
        let picked: Vec<Arc<PreparedCase>> = cases.iter().map(|&c| task.train[c].clone()).collect();
        let (image, label) = Register::stack(&picked, &Device::flex()).unwrap();
        PatchBatch {
            image,
            label: label.map(|l| l.int()),
            targets: None,
            cases: cases.to_vec(),
        }
    }

    fn config(augment: &str) -> TrainConfig {
        let mut c = TrainConfig::register_defaults();
        c.augment = toml::from_str(augment).unwrap();
        c
    }

    fn host(t: Tensor<5>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec().unwrap()
    }

    /// The first voxel (the case's value) of channel `c` of each sample.
    fn firsts(t: &Tensor<5>, c: usize) -> Vec<f32> {
        let [n, ..] = t.dims();
        host(
            t.clone()
                .narrow(1, c, 1)
                .reshape([n, N * N * N])
                .narrow(1, 0, 1)
                .reshape([n, 1, 1, 1, 1]),
        )
    }

    #[test]
    fn subject_pairs_are_distinct_cases_drawn_from_the_step_stream() {
        let values = [1.0, 2.0, 3.0, 4.0];
        let t = task(&values, Pairing::SubjectToSubject);
        let c = config("transforms = []");
        let g = Geometry::unit([N, N, N]).unwrap();
        let moving = [0, 1, 2, 3, 0, 1, 2, 3];
        let mut seen = std::collections::BTreeSet::new();
        let mut rng = step_rng(0, 7);
        for _ in 0..6 {
            let b = t
                .prepare_batch(&c, &g, batch(&t, &moving), &mut rng)
                .unwrap();
            assert_eq!(b.image.dims(), [8, 2, N, N, N]);
            assert_eq!(b.label.as_ref().unwrap().dims(), [8, 2, N, N, N]);
            let (m, f) = (firsts(&b.image, 0), firsts(&b.image, 1));
            for (k, (&mv, &fv)) in m.iter().zip(&f).enumerate() {
                assert_eq!(mv, values[moving[k]]);
                assert_ne!(mv, fv, "a case paired with itself");
                assert!(values.contains(&fv));
                seen.insert((mv as i32, fv as i32));
            }
        }
        // Every ordered pair of distinct cases comes up.
        assert_eq!(seen.len(), 12);
        // The same stream gives the same pairs (what an exact resume needs).
        let draw = |seed| {
            let b = t
                .prepare_batch(&c, &g, batch(&t, &moving), &mut step_rng(0, seed))
                .unwrap();
            firsts(&b.image, 1)
        };
        assert_eq!(draw(3), draw(3));
        assert_ne!(draw(3), draw(4));
    }

    #[test]
    fn atlas_pairs_put_the_atlas_on_its_side() {
        let g = Geometry::unit([N, N, N]).unwrap();
        let c = config("transforms = []");
        let mut rng = step_rng(0, 1);
        let t = task(&[1.0, 2.0], Pairing::AtlasToSubject);
        let b = t
            .prepare_batch(&c, &g, batch(&t, &[1, 0]), &mut rng)
            .unwrap();
        assert_eq!(firsts(&b.image, 0), vec![100.0, 100.0]);
        assert_eq!(firsts(&b.image, 1), vec![2.0, 1.0]);
        let t = task(&[1.0, 2.0], Pairing::SubjectToAtlas);
        let b = t
            .prepare_batch(&c, &g, batch(&t, &[1, 0]), &mut rng)
            .unwrap();
        assert_eq!(firsts(&b.image, 0), vec![2.0, 1.0]);
        assert_eq!(firsts(&b.image, 1), vec![100.0, 100.0]);
    }

    #[test]
    fn one_spatial_transform_moves_both_images_and_labels_of_a_pair() {
        // Cases of one image (and label map) under different names: whatever the
        // augmentation draws, the two halves of each pair stay equal only if one transform
        // moves both.
        let t = task(&[5.0, 5.0, 5.0], Pairing::SubjectToSubject);
        let c = config(
            "[[transforms]]\ntype = \"affine\"\nprob = 1.0\nrotation_deg = [20.0, 20.0, 20.0]\n\
             [[transforms]]\ntype = \"elastic\"\nprob = 1.0\n\
             [[transforms]]\ntype = \"flip\"\nprob = 1.0\naxes = [true, true, true]\n",
        );
        let g = Geometry::unit([N, N, N]).unwrap();
        let before = batch(&t, &[0, 1, 2]);
        let unaugmented = host(before.image.clone());
        let b = t
            .prepare_batch(&c, &g, before, &mut step_rng(0, 2))
            .unwrap();
        let moving = host(b.image.clone().narrow(1, 0, 1));
        let fixed = host(b.image.narrow(1, 1, 1));
        assert_eq!(moving, fixed);
        assert_ne!(moving, unaugmented, "the augmentation did nothing");
        let label = b.label.unwrap();
        let ml = host(label.clone().narrow(1, 0, 1).float());
        let fl = host(label.narrow(1, 1, 1).float());
        assert_eq!(ml, fl);
        assert!(ml.contains(&2.0) && ml.iter().all(|&v| v <= 2.0));
    }

    #[test]
    fn the_loss_needs_pairs_and_the_dice_term_labels() {
        let device = Device::flex().autodiff();
        let mut config = LossConfig::named("registration").unwrap();
        if let LossConfig::Registration { dice_weight, .. } = &mut config {
            *dice_weight = 1.0;
        }
        let t = Register {
            loss: Some(RegistrationLoss::new(&config, 3).unwrap()),
            ..task(&[1.0, 2.0], Pairing::SubjectToSubject)
        };
        let model = crate::config::VoxelMorphParams {
            channels: vec![4, 4],
            final_conv_channels: vec![],
            unet_out_channels: 4,
            ..Default::default()
        }
        .network(1)
        .init(&device)
        .unwrap();
        let image = Tensor::<5>::ones([1, 2, N, N, N], &device);
        let label = Tensor::<5, Int>::ones([1, 2, N, N, N], &device);
        let ok = StepBatch {
            image: image.clone(),
            label: Some(label),
            targets: None,
            noise: None,
        };
        let loss = t.loss(&model, ok).unwrap().into_scalar::<f32>();
        assert!(loss.is_finite());
        let no_labels = StepBatch {
            image,
            label: None,
            targets: None,
            noise: None,
        };
        assert!(t
            .loss(&model, no_labels)
            .unwrap_err()
            .to_string()
            .contains("label"));
        let odd = StepBatch {
            image: Tensor::<5>::ones([1, 3, N, N, N], &device),
            label: None,
            targets: None,
            noise: None,
        };
        assert!(t
            .loss(&model, odd)
            .unwrap_err()
            .to_string()
            .contains("pairs"));
    }

    #[test]
    fn every_similarity_and_smoothness_of_the_configuration_is_used() {
        let device = Device::flex();
        let image = Tensor::<5>::from_data(
            TensorData::new(case("a", 0.5).image, [1, 1, N, N, N]),
            &device,
        );
        let other = image.clone().flip([4]);
        // A field that bends (quadratic along D): both regularizers see it.
        let bend: Vec<f32> = (0..3 * N * N * N)
            .map(|v| ((v / (N * N)) % N) as f32)
            .map(|k| 0.05 * k * k)
            .collect();
        let bend = Tensor::<5>::from_data(TensorData::new(bend, [1, 3, N, N, N]), &device);
        let value = |t: Tensor<1>| t.into_scalar::<f32>();
        for (similarity, smoothness) in [
            ("mse", "diffusion"),
            ("mi", "bending-energy"),
            ("lncc", "bending-energy"),
        ] {
            let config: LossConfig = toml::from_str(&format!(
                "name = \"registration\"\nsimilarity = \"{similarity}\"\n\
                 regularization = \"{smoothness}\""
            ))
            .unwrap();
            let loss = RegistrationLoss::new(&config, 0).unwrap();
            let same = value(loss.similarity(image.clone(), image.clone()).unwrap());
            let apart = value(loss.similarity(image.clone(), other.clone()).unwrap());
            assert!(same < apart, "{similarity}: {same} vs {apart}");
            if similarity == "mse" {
                assert_eq!(same, 0.0);
            }
            assert!(
                value(loss.smoothness(bend.clone()).unwrap()) > 1e-4,
                "{smoothness}"
            );
        }
        // A shift costs no smoothness, a bend costs bending energy.
        let config: LossConfig =
            toml::from_str("name = \"registration\"\nregularization = \"bending-energy\"").unwrap();
        let loss = RegistrationLoss::new(&config, 0).unwrap();
        let shift = Tensor::<5>::ones([1, 3, N, N, N], &device) * 1.5;
        assert!(value(loss.smoothness(shift).unwrap()).abs() < 1e-9);
    }

    #[test]
    fn the_soft_dice_term_is_zero_for_matching_labels_and_grows_with_mismatch() {
        let device = Device::flex();
        let mut config = LossConfig::named("registration").unwrap();
        if let LossConfig::Registration { dice_weight, .. } = &mut config {
            *dice_weight = 1.0;
        }
        let loss = RegistrationLoss::new(&config, 3).unwrap();
        let labels = |c: &PreparedCase| label_tensor(c, &device).unwrap().unwrap();
        let a = labels(&case("a", 0.0));
        let zero = Tensor::<5>::zeros([1, 3, N, N, N], &device);
        let same = loss.dice_loss(a.clone(), a.clone(), zero.clone()).unwrap();
        assert!(same.into_scalar::<f32>().abs() < 1e-6);
        // Labels 1 and 2 swapped: no overlap at all.
        let swapped = a.clone().neg().add_scalar(3);
        let apart = loss.dice_loss(a.clone(), swapped, zero).unwrap();
        assert!((apart.into_scalar::<f32>() - 1.0).abs() < 1e-6);
        // A shift along D by two voxels: partial overlap.
        let shift = Tensor::<5>::zeros([1, 3, N, N, N], &device).slice_assign(
            [0..1, 0..1, 0..N, 0..N, 0..N],
            Tensor::ones([1, 1, N, N, N], &device) * 2.0,
        );
        let part = loss
            .dice_loss(a.clone(), a, shift)
            .unwrap()
            .into_scalar::<f32>();
        assert!(part > 0.05 && part < 0.9, "{part}");
    }
}
