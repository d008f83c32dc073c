//! Segmentation: label-balanced patches and their label maps, MONAI's U-Net, Dice + CE;
//! validation by Gaussian-blended sliding windows on whole held-out volumes, their class
//! probabilities resampled to each case's own grid and compared there with its label map (as a
//! user measures a prediction written back to the input's grid); overlays of the middle slice.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::tensor::activation::softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use medburn_datasets::{prepare_case, PreparedCase};
use medburn_models::UNet3d;

use super::{
    check_channels, into_sets, kept_channel_names, open_manifest, prepare_all, split_training,
    DataInfo, RunData, StepBatch, Task,
};
use crate::config::{LossConfig, TaskKind, TrainConfig};
use crate::error::{Result, TrainError};
use crate::inference::{labels_on_grid, labels_to_host, SlidingWindow};
use crate::losses::{DiceCeLoss, DiceCeLossConfig};
use crate::metrics::{dice_per_label, per_label_means};
use crate::metrics_log::Metrics;
use crate::network::build_unet;
use crate::plot::write_overlay_png;

/// The segmentation task; it keeps the loss and the label maps of the held-out cases on their
/// own grids.
#[derive(Debug, Default)]
pub struct Segment {
    /// Dice + CE as the configuration sets it.
    loss_fn: Option<DiceCeLoss>,
    /// Validation label maps, each on its case's own grid.
    val_truth: Vec<Vec<u8>>,
    /// Test label maps, each on its case's own grid.
    test_truth: Vec<Vec<u8>>,
}

/// Predicted label maps `[D, H, W]` of whole volumes on their prepared grids (for overlays).
#[derive(Debug)]
pub struct SegmentEvaluation {
    /// One per case.
    pub predictions: Vec<Vec<u8>>,
}

/// The sliding window a configuration asks for.
pub(crate) fn window_of(config: &TrainConfig) -> SlidingWindow {
    SlidingWindow {
        roi_size: config.roi_size(),
        overlap: config.validation.overlap,
        sw_batch_size: config.validation.sw_batch_size,
        sigma_scale: 0.125,
        flip_tta: config.validation.flip_tta,
    }
}

/// Class probabilities `[1, K, D, H, W]` of a whole prepared image: the blended raw outputs
/// (logits) of sliding windows, then softmax (per window, before blending, as MONAI's inferer
/// with a softmax post-transform per window and nnU-Net do).
pub(crate) fn probabilities(
    model: &UNet3d,
    image: Tensor<5>,
    window: &SlidingWindow,
) -> Result<Tensor<5>> {
    probabilities_with_progress(model, image, window, &indicatif::ProgressBar::hidden())
}

/// [`probabilities`] with its window passes shown on `bar`.
pub(crate) fn probabilities_with_progress(
    model: &UNet3d,
    image: Tensor<5>,
    window: &SlidingWindow,
    bar: &indicatif::ProgressBar,
) -> Result<Tensor<5>> {
    window.infer_with_progress(image, |x| softmax(model.forward(x), 1), bar)
}

/// A label map read from `path`, as class indices on its own grid.
fn truth_on_source(path: &Path) -> Result<Vec<u8>> {
    let v = medburn_io::read(path)?;
    Ok(v.data
        .rescaled_f64(v.rescale)
        .iter()
        .map(|&x| x as u8)
        .collect())
}

/// Every label value must be one the data set declares (`labels` in `dataset.json`), when it
/// declares any: a 9 where 0-4 are declared would train a 10-class network without a word.
fn check_declared_labels(
    prepared: &[PreparedCase],
    files: &[medburn_datasets::CaseFiles],
    declared: &std::collections::BTreeMap<u32, String>,
) -> Result<()> {
    if declared.is_empty() {
        return Ok(());
    }
    for (case, file) in prepared.iter().zip(files) {
        let Some(label) = &case.label else { continue };
        let mut seen = [false; 256];
        for &v in label {
            seen[v as usize] = true;
        }
        if let Some(v) = (0..256u32).find(|&v| seen[v as usize] && !declared.contains_key(&v)) {
            let known: Vec<String> = declared.keys().map(|k| k.to_string()).collect();
            let path = file
                .label
                .as_deref()
                .unwrap_or(std::path::Path::new(&case.id));
            return Err(TrainError::Invalid(format!(
                "{}: label value {v} is not one of the data set's labels ({})",
                path.display(),
                known.join(", ")
            )));
        }
    }
    Ok(())
}

impl Task for Segment {
    type Model = UNet3d;
    type Evaluation = SegmentEvaluation;

    fn kind(&self) -> TaskKind {
        TaskKind::Segment
    }

    fn metric_names(&self, info: &DataInfo) -> Vec<String> {
        let mut names = vec!["mean_dice".to_string()];
        names.extend((1..info.num_classes).map(|l| format!("dice_{l}")));
        names
    }

    fn prepare(&mut self, config: &TrainConfig, progress: bool) -> Result<RunData> {
        let LossConfig::DiceCe {
            include_background,
            lambda_dice,
            lambda_ce,
        } = config.loss
        else {
            return Err(TrainError::Config(format!(
                "loss {} does not fit segmentation (dice_ce)",
                config.loss.name()
            )));
        };
        self.loss_fn = Some(
            DiceCeLossConfig::new()
                .with_include_background(include_background)
                .with_lambda_dice(lambda_dice)
                .with_lambda_ce(lambda_ce)
                .init(),
        );
        let (manifest, channels) = open_manifest(config)?;
        let (train_files, val_files) = split_training(config, &manifest.training)?;
        // Test cases take part only where they have label maps to score against.
        let test_files: Vec<_> = manifest
            .test
            .iter()
            .filter(|c| c.label.is_some())
            .cloned()
            .collect();
        if let Some(c) = train_files
            .iter()
            .chain(&val_files)
            .find(|c| c.label.is_none())
        {
            return Err(TrainError::Data(medburn_datasets::DatasetError::Case {
                case: c.id.clone(),
                message: "segmentation needs a label map for every training and validation case"
                    .into(),
            }));
        }
        let mut all = train_files.clone();
        all.extend(val_files.iter().cloned());
        all.extend(test_files.iter().cloned());
        let prepared = prepare_all(&all, progress, "preparing cases", |c| {
            Ok(prepare_case(c, &config.data.preprocess, &channels)?)
        })?;
        let in_channels = check_channels(&prepared.iter().collect::<Vec<_>>())?;
        check_declared_labels(&prepared, &all, &manifest.label_names)?;
        let max_label = prepared
            .iter()
            .flat_map(|c| c.label.iter().flatten().copied().max())
            .max()
            .unwrap_or(0) as usize;
        let named = manifest.label_names.keys().max().map_or(0, |&k| k as usize);
        let num_classes = max_label.max(named) + 1;
        if num_classes < 2 {
            return Err(TrainError::Invalid(
                "the label maps hold only background: nothing to segment".into(),
            ));
        }
        let (train, val, test) = into_sets(prepared, train_files.len(), val_files.len());
        self.val_truth = val_files
            .iter()
            .map(|c| truth_on_source(c.label.as_ref().expect("checked above")))
            .collect::<Result<_>>()?;
        self.test_truth = test_files
            .iter()
            .map(|c| truth_on_source(c.label.as_ref().expect("filtered")))
            .collect::<Result<_>>()?;
        let info = DataInfo {
            in_channels,
            num_classes,
            channel_names: kept_channel_names(&manifest, &channels),
            source_channels: channels.clone(),
            label_names: manifest.label_names.clone(),
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

    fn build(&self, config: &TrainConfig, info: &DataInfo, device: &Device) -> Result<UNet3d> {
        build_unet(&config.model, info.in_channels, info.num_classes, device)
    }

    fn loss(&self, model: &UNet3d, batch: StepBatch) -> Result<Tensor<1>> {
        let loss_fn = self
            .loss_fn
            .as_ref()
            .ok_or_else(|| TrainError::Invalid("the segmentation task was not prepared".into()))?;
        let label = batch
            .label
            .ok_or_else(|| TrainError::Invalid("a segmentation batch without label maps".into()))?;
        let logits = model.forward(batch.image);
        Ok(loss_fn.forward(logits, label)?)
    }

    fn evaluate(
        &self,
        model: &UNet3d,
        cases: &[Arc<PreparedCase>],
        test: bool,
        config: &TrainConfig,
        info: &DataInfo,
        device: &Device,
    ) -> Result<(Metrics, SegmentEvaluation)> {
        let truths = if test {
            &self.test_truth
        } else {
            &self.val_truth
        };
        let num_classes = info.num_classes;
        let window = window_of(config);
        let mut per_case = Vec::new();
        let mut predictions = Vec::new();
        for (case, label) in cases.iter().zip(truths) {
            let image = case.image_on(device)?.into_voxels();
            let probs = probabilities(model, image, &window)?;
            let pred: Tensor<5, Int> = probs.clone().argmax(1);
            let pred_on_source = labels_on_grid(probs, case.geometry, &case.source_geometry)?;
            let [d, h, w] = case.source_geometry.dhw();
            if label.len() != w * h * d {
                return Err(TrainError::Invalid(format!(
                    "case {}: its label map does not fit its grid",
                    case.id
                )));
            }
            let truth: Vec<i64> = label.iter().map(|&v| v as i64).collect();
            let truth =
                Tensor::<5, Int>::from_data(TensorData::new(truth, [1, 1, d, h, w]), device);
            let dice: Vec<f32> = dice_per_label(pred_on_source, truth, num_classes, false)?
                .into_data()
                .convert::<f32>()
                .try_to_vec()
                .map_err(|e| TrainError::Invalid(format!("{e:?}")))?;
            per_case.push(dice.iter().map(|&v| v as f64).collect::<Vec<f64>>());
            predictions.push(labels_to_host(pred)?);
        }
        let (per_label, mean) = per_label_means(&per_case, num_classes - 1);
        let mut values = vec![("mean_dice".to_string(), mean)];
        values.extend(
            per_label
                .iter()
                .enumerate()
                .map(|(l, &v)| (format!("dice_{}", l + 1), v)),
        );
        Ok((Metrics::new(values), SegmentEvaluation { predictions }))
    }

    fn describe(&self, metrics: &Metrics) -> String {
        let labels: Vec<String> = metrics
            .0
            .iter()
            .skip(1)
            .map(|(_, d)| format!("{d:.3}"))
            .collect();
        format!(
            "mean foreground Dice {:.4}  per label [{}]",
            metrics.get("mean_dice").unwrap_or(f64::NAN),
            labels.join(", ")
        )
    }

    fn write_outputs(
        &self,
        out: &Path,
        prefix: &str,
        cases: &[Arc<PreparedCase>],
        evaluation: &SegmentEvaluation,
        info: &DataInfo,
    ) -> Result<Vec<PathBuf>> {
        let folder = if prefix == "validation" {
            out.join("overlays")
        } else {
            out.join(format!("{prefix}_overlays"))
        };
        std::fs::create_dir_all(&folder).map_err(|e| TrainError::Output {
            path: folder.clone(),
            message: e.to_string(),
        })?;
        // The channel that shows the labels best: FLAIR where the data names one, else the last.
        let channel = info
            .channel_names
            .iter()
            .position(|c| c.eq_ignore_ascii_case("flair"))
            .unwrap_or(info.in_channels - 1);
        let mut files = Vec::new();
        for (case, pred) in cases.iter().zip(&evaluation.predictions) {
            let [d, h, w] = case.geometry.dhw();
            let n = w * h * d;
            let path = folder.join(format!("{}.png", case.id));
            write_overlay_png(
                &case.image[channel * n..(channel + 1) * n],
                case.label.as_deref().unwrap_or(&[]),
                pred,
                [d, h, w],
                &case.id,
                &path,
            )?;
            files.push(path);
        }
        Ok(files)
    }
}
