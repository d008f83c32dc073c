//! What the whole-volume tasks share: whole volumes on one fixed grid (the configuration's
//! `data.preprocess.size` at its spacing, centred on each image's field of view); for
//! regression and classification one target per case from a manifest column, a network with
//! one output vector per case, and evaluation by a forward pass over each held-out volume; for
//! super-resolution the volumes as their own truth.

use std::sync::Arc;

use burn::tensor::{Device, Tensor};
use medburn_datasets::{prepare_case, CaseCache, CaseFiles, PreparedCase};

use super::{
    check_channels, into_sets, kept_channel_names, open_manifest, prepare_all, split_training,
    DataInfo, RunData, Target,
};
use crate::config::TrainConfig;
use crate::error::{Result, TrainError};
use crate::network::{build_vector_net, VectorNet};

/// The run's cases prepared on the fixed grid: the target's statistics from the training cases
/// (`make_target`), the network's output count for them (`outputs_of`), and each case's target
/// value (`target_of`).
pub(crate) fn prepare_whole_volumes(
    config: &TrainConfig,
    progress: bool,
    make_target: impl Fn(&[CaseFiles], &str) -> Result<Target>,
    outputs_of: impl Fn(&Target) -> usize,
    target_of: impl Fn(&CaseFiles, &Target) -> Result<f32>,
) -> Result<RunData> {
    let column = config
        .data
        .target
        .clone()
        .ok_or_else(|| TrainError::Config("data.target is not set".into()))?;
    let (manifest, channels) = open_manifest(config)?;
    let (train_files, val_files) = split_training(config, &manifest.training)?;
    let target = make_target(&train_files, &column)?;
    // Test cases are scored where the manifest gives their target.
    let test_files: Vec<CaseFiles> = manifest
        .test
        .iter()
        .filter(|c| c.targets.contains_key(&column))
        .cloned()
        .collect();
    // Every target is read before any image, so a bad value stops the run at once.
    let values: Vec<f32> = [&train_files, &val_files, &test_files]
        .into_iter()
        .flatten()
        .map(|c| target_of(c, &target))
        .collect::<Result<_>>()?;
    let (train, val, test, in_channels) = prepare_sets(
        config,
        progress,
        &channels,
        [train_files, val_files, test_files],
        Some(values),
    )?;
    let info = DataInfo {
        in_channels,
        num_classes: outputs_of(&target),
        channel_names: kept_channel_names(&manifest, &channels),
        source_channels: channels.clone(),
        label_names: Default::default(),
        target: Some(target),
    };
    Ok(RunData {
        train,
        val,
        test,
        manifest,
        info,
    })
}

/// The network for a whole-volume task on the configuration's fixed grid.
pub(crate) fn build(config: &TrainConfig, info: &DataInfo, device: &Device) -> Result<VectorNet> {
    let size = config
        .data
        .preprocess
        .size
        .ok_or_else(|| TrainError::Config("data.preprocess.size is not set".into()))?;
    build_vector_net(
        &config.model,
        info.in_channels,
        info.num_classes,
        size,
        device,
    )
}

/// The network's outputs for each case (`[K]` each), `chunk` volumes per forward pass.
pub(crate) fn outputs(
    model: &VectorNet,
    cases: &[Arc<PreparedCase>],
    chunk: usize,
    device: &Device,
) -> Result<Vec<Vec<f32>>> {
    let mut all = Vec::with_capacity(cases.len());
    for group in cases.chunks(chunk.max(1)) {
        let images: Vec<Tensor<5>> = group
            .iter()
            .map(|c| Ok(c.image_on(device)?.into_voxels()))
            .collect::<Result<_>>()?;
        let y = model.try_forward(Tensor::cat(images, 0))?;
        let [n, k] = y.dims();
        let values: Vec<f32> = y
            .into_data()
            .convert::<f32>()
            .try_to_vec()
            .map_err(|e| TrainError::Invalid(format!("{e:?}")))?;
        for i in 0..n {
            all.push(values[i * k..(i + 1) * k].to_vec());
        }
    }
    Ok(all)
}

/// The targets `[N, 1]` of a batch, or an error saying the batch has none.
pub(crate) fn batch_targets(targets: Option<Tensor<2>>) -> Result<Tensor<2>> {
    targets.ok_or_else(|| TrainError::Invalid("a whole-volume batch without targets".into()))
}

/// The run's cases as their own truth (super-resolution, autoencoders): whole volumes on the fixed grid, no
/// label maps, no targets; every test case of the manifest.
pub(crate) fn prepare_own_truth(config: &TrainConfig, progress: bool) -> Result<RunData> {
    let (manifest, channels) = open_manifest(config)?;
    let (train_files, val_files) = split_training(config, &manifest.training)?;
    let test_files = manifest.test.clone();
    let (train, val, test, in_channels) = prepare_sets(
        config,
        progress,
        &channels,
        [train_files, val_files, test_files],
        None,
    )?;
    let info = DataInfo {
        in_channels,
        num_classes: in_channels,
        channel_names: kept_channel_names(&manifest, &channels),
        source_channels: channels,
        label_names: Default::default(),
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

/// A whole-volume run's training, validation and test sets, and their channel count.
type Sets = (
    CaseCache,
    Vec<Arc<PreparedCase>>,
    Vec<Arc<PreparedCase>>,
    usize,
);

/// The training, validation and test files prepared on the fixed grid without label maps
/// (whole-volume tasks read none), each case given its value of `targets` (in the files'
/// order) where there are targets.
fn prepare_sets(
    config: &TrainConfig,
    progress: bool,
    channels: &[usize],
    [train, val, test]: [Vec<CaseFiles>; 3],
    targets: Option<Vec<f32>>,
) -> Result<Sets> {
    let (n_train, n_val) = (train.len(), val.len());
    let all: Vec<CaseFiles> = [train, val, test].concat();
    let mut prepared = prepare_all(&all, progress, "preparing volumes", |case| {
        let mut case = case.clone();
        case.label = None;
        Ok(prepare_case(&case, &config.data.preprocess, channels)?)
    })?;
    let in_channels = check_channels(&prepared.iter().collect::<Vec<_>>())?;
    if let Some(values) = targets {
        for (case, value) in prepared.iter_mut().zip(values) {
            case.targets = vec![value];
        }
    }
    let (train, val, test) = into_sets(prepared, n_train, n_val);
    Ok((train, val, test, in_channels))
}

/// The fixed grid `data.preprocess.size` (i, j, k) of a whole-volume task, which the patch
/// size must equal: the task takes the prepared grid whole.
pub(crate) fn fixed_grid(config: &TrainConfig) -> Result<[usize; 3]> {
    let size = config.data.preprocess.size.ok_or_else(|| {
        TrainError::Config(format!(
            "task {} takes whole volumes on a fixed grid: set data.preprocess.size",
            config.task
        ))
    })?;
    if size != config.data.patch.patch_size {
        return Err(TrainError::Config(format!(
            "data.patch.patch_size {:?} must equal data.preprocess.size {size:?}: whole-volume \
             tasks take the prepared grid whole",
            config.data.patch.patch_size
        )));
    }
    Ok(size)
}

/// One value of a `[1]` tensor.
pub(crate) fn scalar(t: Tensor<1>) -> f64 {
    t.into_scalar::<f32>() as f64
}

/// The coronal mid-slice (`j = H / 2`) of the first channel of `x` `[1, C, D, H, W]`: `[D, W]`.
pub(crate) fn coronal(x: &Tensor<5>) -> Result<Vec<f32>> {
    let [_, _, d, h, w] = x.dims();
    x.clone()
        .slice([0..1, 0..1, 0..d, h / 2..h / 2 + 1, 0..w])
        .into_data()
        .convert::<f32>()
        .try_to_vec()
        .map_err(|e| TrainError::Invalid(format!("{e:?}")))
}
