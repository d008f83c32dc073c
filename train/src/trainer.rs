//! The training loop: patches from the loader, augmentation on the device, U-Net forward,
//! Dice + cross-entropy, backward, AdamW with warm-up and decay; validation by sliding windows
//! on whole held-out volumes; a checkpoint every epoch, on Ctrl-C and at the end; progress,
//! metrics, curves and overlays for a person to look at.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor, TensorData};
use indicatif::{ProgressBar, ProgressStyle};
use medburn_core::Geometry;
use medburn_datasets::{CaseCache, Manifest, PatchLoader, PreparedCase};
use medburn_models::UNet3d;

use crate::checkpoint::{
    load_model, load_optimizer, read_checkpoint, resolve_checkpoint, save_checkpoint, TrainState,
};
use crate::config::TrainConfig;
use crate::error::{Result, TrainError};
use crate::inference::{labels_on_grid, labels_to_host, SlidingWindow};
use crate::losses::{DiceCeLoss, DiceCeLossConfig};
use crate::metrics::dice_per_label;
use crate::metrics_log::{LogEntry, MetricsLog};
use crate::model::build_unet;
use crate::plot::{write_curves_png, write_overlay_png};
use crate::schedule::learning_rate;

/// How a run is started, apart from its configuration.
#[derive(Clone, Debug, Default)]
pub struct TrainOptions {
    /// Continue the run whose checkpoint (or output folder) this is.
    pub resume: Option<PathBuf>,
    /// Draw a progress bar (on a terminal).
    pub progress: bool,
}

/// What a run did and wrote.
#[derive(Clone, Debug)]
pub struct TrainSummary {
    /// Steps done.
    pub steps: u64,
    /// Whether Ctrl-C stopped the run early (after writing a checkpoint).
    pub interrupted: bool,
    /// Mean foreground Dice of the last validation, and per foreground label.
    pub final_dice: Option<(f64, Vec<f64>)>,
    /// Best mean foreground Dice and its step.
    pub best: Option<(f64, u64)>,
    /// The last checkpoint.
    pub checkpoint: PathBuf,
    /// The best model's checkpoint (no optimizer state).
    pub best_checkpoint: Option<PathBuf>,
    /// Metrics (JSON lines and CSV), curves and overlays.
    pub files: Vec<PathBuf>,
    /// Seconds of training (this process).
    pub seconds: f64,
}

/// Set by Ctrl-C; the loop checks it between steps.
fn interrupted() -> &'static AtomicBool {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        // A second handler in the same process (tests) is refused; the first one serves.
        let _ = ctrlc::set_handler(move || f.store(true, Ordering::SeqCst));
        flag
    })
}

/// The data of a run, prepared once.
struct Data {
    train: CaseCache,
    val: Vec<Arc<PreparedCase>>,
    /// The validation cases' label maps as read, on their own grids: Dice is measured there,
    /// as a user measures a prediction written back to the input's grid.
    val_truth: Vec<Vec<u8>>,
    in_channels: usize,
    num_classes: usize,
    manifest: Manifest,
}

fn prepare_data(config: &TrainConfig, progress: bool) -> Result<Data> {
    let manifest = Manifest::from_msd(&config.data.dir)?;
    let n = manifest.training.len();
    if n < config.data.val_cases + 1 {
        return Err(TrainError::Config(format!(
            "{}: {n} training cases, but {} are held out for validation and at least one must train",
            config.data.dir.display(),
            config.data.val_cases
        )));
    }
    let bar = bar(progress, n as u64, "preparing cases");
    let mut prepared = Vec::with_capacity(n);
    for case in &manifest.training {
        prepared.push(medburn_datasets::prepare_case(
            case,
            &config.data.preprocess,
        )?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let in_channels = prepared[0].channels;
    if let Some(c) = prepared.iter().find(|c| c.channels != in_channels) {
        return Err(TrainError::Invalid(format!(
            "case {} has {} channels, the first case {in_channels}",
            c.id, c.channels
        )));
    }
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
    let val = prepared.split_off(n - config.data.val_cases);
    let mut val_truth = Vec::new();
    for case in &manifest.training[n - config.data.val_cases..] {
        let path = case.label.as_ref().expect("training cases have labels");
        let v = medburn_io::read(path)?;
        val_truth.push(
            v.data
                .rescaled_f64(v.rescale)
                .iter()
                .map(|&x| x as u8)
                .collect(),
        );
    }
    Ok(Data {
        train: CaseCache::new(prepared),
        val: val.into_iter().map(Arc::new).collect(),
        val_truth,
        in_channels,
        num_classes,
        manifest,
    })
}

fn bar(show: bool, len: u64, what: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(len);
    b.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {per_sec} ETA {eta} {msg}")
            .expect("template")
            .progress_chars("=> "),
    );
    b.set_prefix(what.to_string());
    b
}

/// Per-case, per-foreground-label Dice and the predicted label maps of whole volumes.
pub(crate) struct Validation {
    /// Mean over cases of each foreground label's Dice (NaN where absent in every case).
    pub per_label: Vec<f64>,
    /// Mean over labels of `per_label`, ignoring NaN.
    pub mean: f64,
    /// Predicted label maps `[D, H, W]`.
    pub predictions: Vec<Vec<u8>>,
}

/// Sliding-window predictions of `cases` (on their prepared grids, for overlays) and their Dice
/// against `truths`, the label maps on each case's own grid, to which the class probabilities
/// are resampled (linearly, then arg-max) as in prediction.
pub(crate) fn validate(
    model: &UNet3d,
    cases: &[Arc<PreparedCase>],
    truths: &[Vec<u8>],
    window: &SlidingWindow,
    num_classes: usize,
    device: &Device,
) -> Result<Validation> {
    let mut sums = vec![0.0; num_classes - 1];
    let mut counts = vec![0usize; num_classes - 1];
    let mut predictions = Vec::new();
    for (case, label) in cases.iter().zip(truths) {
        let image = case.image_on(device)?.into_voxels();
        let probs = window.probabilities(image, |x| model.forward(x))?;
        let pred: Tensor<5, Int> = probs.clone().argmax(1);
        let pred_on_source = labels_on_grid(probs, case.geometry, &case.source_geometry)?;
        let [w, h, d] = case.source_geometry.size();
        if label.len() != w * h * d {
            return Err(TrainError::Invalid(format!(
                "validation case {}: its label map does not fit its grid",
                case.id
            )));
        }
        let truth: Vec<i64> = label.iter().map(|&v| v as i64).collect();
        let truth = Tensor::<5, Int>::from_data(TensorData::new(truth, [1, 1, d, h, w]), device);
        let dice: Vec<f32> = dice_per_label(pred_on_source, truth, num_classes, false)?
            .into_data()
            .convert::<f32>()
            .try_to_vec()
            .map_err(|e| TrainError::Invalid(format!("{e:?}")))?;
        for (l, v) in dice.iter().enumerate() {
            if v.is_finite() {
                sums[l] += *v as f64;
                counts[l] += 1;
            }
        }
        predictions.push(labels_to_host(pred)?);
    }
    let per_label: Vec<f64> = sums
        .iter()
        .zip(&counts)
        .map(|(s, &c)| if c > 0 { s / c as f64 } else { f64::NAN })
        .collect();
    let finite: Vec<f64> = per_label
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let mean = if finite.is_empty() {
        f64::NAN
    } else {
        finite.iter().sum::<f64>() / finite.len() as f64
    };
    Ok(Validation {
        per_label,
        mean,
        predictions,
    })
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

/// Trains a U-Net on an MSD-layout dataset as `config` says (or continues the run in
/// `options.resume`, with that run's configuration).
///
/// ```no_run
/// use medburn_train::{train, TrainConfig, TrainOptions};
/// let mut config = TrainConfig::default();
/// config.data.dir = "medburn-run/data".into();
/// let summary = train(config, &TrainOptions { progress: true, ..Default::default() })?;
/// println!("best Dice {:?}", summary.best);
/// # Ok::<(), medburn_train::TrainError>(())
/// ```
pub fn train(config: TrainConfig, options: &TrainOptions) -> Result<TrainSummary> {
    let (config, resume_dir) = match &options.resume {
        Some(path) => {
            let dir = resolve_checkpoint(path)?;
            let (_, mut saved) = read_checkpoint(&dir)?;
            // Continue in the folder the checkpoint is in (OUT/checkpoints/NAME), wherever the
            // run was first started: a moved run folder resumes where it now is.
            if let Some(out) = dir.parent().and_then(Path::parent) {
                saved.out = out.to_path_buf();
            }
            (saved, Some(dir))
        }
        None => (config, None),
    };
    config.validate()?;
    let out = config.out.clone();
    std::fs::create_dir_all(&out).map_err(|e| TrainError::Output {
        path: out.clone(),
        message: e.to_string(),
    })?;
    let base = medburn_core::device_by_name(&config.device).map_err(TrainError::Config)?;
    let device = base.clone().autodiff();
    let data = prepare_data(&config, options.progress)?;

    base.seed(config.seed);
    device.seed(config.seed);
    let mut model = build_unet(&config.model, data.in_channels, data.num_classes, &device)?;
    let mut optim: ModuleOptimizer = AdamWConfig::new()
        .with_weight_decay(config.optim.weight_decay as f32)
        .init();
    let mut state = TrainState {
        step: 0,
        epoch: 0,
        seed: config.seed,
        in_channels: data.in_channels,
        num_classes: data.num_classes,
        channel_names: data.manifest.channel_names.clone(),
        label_names: data.manifest.label_names.clone(),
        best: None,
    };
    if let Some(dir) = &resume_dir {
        let (saved, _) = read_checkpoint(dir)?;
        if (saved.in_channels, saved.num_classes) != (data.in_channels, data.num_classes) {
            return Err(TrainError::Checkpoint {
                path: dir.clone(),
                message: format!(
                    "made for {} channels and {} classes, the data has {} and {}",
                    saved.in_channels, saved.num_classes, data.in_channels, data.num_classes
                ),
            });
        }
        model = load_model(model, dir)?;
        optim = load_optimizer(optim, dir)?;
        state = saved;
    }
    let loss_fn: DiceCeLoss = DiceCeLossConfig::new()
        .with_include_background(config.loss.include_background)
        .with_lambda_dice(config.loss.lambda_dice)
        .with_lambda_ce(config.loss.lambda_ce)
        .init();
    let window = window_of(&config);
    let spacing = config.data.preprocess.spacing.unwrap_or([1.0, 1.0, 1.0]);
    let patch_geometry = Geometry::new(
        config.data.patch.patch_size,
        [0.0; 3],
        spacing,
        config.data.preprocess.orientation()?.to_direction(),
    )?;

    let mut log = MetricsLog::open(&out, state.step)?;
    let loader = PatchLoader::start(
        &data.train,
        config.data.patch.clone(),
        config.data.batch_size,
        config.seed,
        state.step,
        config.data.prefetch,
        device.clone(),
    )?;
    let total = config.optim.steps;
    let progress = bar(options.progress, total, "training");
    progress.set_position(state.step);
    progress.reset_eta();
    let stop = interrupted();
    let started = Instant::now();
    let mut last_validation: Option<Validation> = None;
    let mut checkpoint = PathBuf::new();
    let mut best_checkpoint = None;
    let mut previous_ckpt: Option<PathBuf> = resume_dir.clone();
    let mut was_interrupted = false;

    let save = |model: &UNet3d,
                optim: &ModuleOptimizer,
                state: &TrainState,
                previous: &mut Option<PathBuf>|
     -> Result<PathBuf> {
        let dir = save_checkpoint(
            &out,
            &format!("step-{:06}", state.step),
            model,
            Some(optim),
            state,
            &config,
        )?;
        // Keep the newest checkpoint only (and `best`).
        if let Some(p) = previous.take() {
            if p != dir
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("step-"))
            {
                let _ = std::fs::remove_dir_all(&p);
            }
        }
        *previous = Some(dir.clone());
        Ok(dir)
    };

    for (step, batch, mut rng) in loader {
        if step >= total {
            break;
        }
        let n = batch.image.dims()[0];
        let params = config.augment.sample(&mut rng, &patch_geometry, n)?;
        let (image, label) = config.augment.apply(
            &params,
            &patch_geometry,
            batch.image,
            Some(batch.label.float()),
        )?;
        let label = label.expect("a label batch goes in, one comes out").int();
        let logits = model.forward(image);
        let loss = loss_fn.forward(logits, label)?;
        let loss_value = loss.clone().into_scalar::<f32>() as f64;
        if !loss_value.is_finite() {
            return Err(TrainError::Invalid(format!(
                "the loss became {loss_value} at step {step}: lower optim.lr"
            )));
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let lr = learning_rate(&config.optim, step);
        model = optim.step(lr, model, grads);
        state.step = step + 1;
        state.epoch = state.step / config.optim.steps_per_epoch;
        log.push(LogEntry::Train {
            step: state.step,
            epoch: state.epoch,
            lr,
            loss: loss_value,
            seconds: started.elapsed().as_secs_f64(),
        })?;
        progress.set_position(state.step);
        progress.set_message(format!("loss {loss_value:.4} lr {lr:.2e}"));

        let last = state.step == total;
        if state.step.is_multiple_of(config.validation.every) || last {
            let v = validate(
                &model.valid(),
                &data.val,
                &data.val_truth,
                &window,
                data.num_classes,
                &base,
            )?;
            let labels: Vec<String> = v.per_label.iter().map(|d| format!("{d:.3}")).collect();
            progress.println(format!(
                "step {:>6}  validation mean foreground Dice {:.4}  per label [{}]",
                state.step,
                v.mean,
                labels.join(", ")
            ));
            log.push(LogEntry::Validation {
                step: state.step,
                mean_dice: v.mean,
                dice: v.per_label.clone(),
            })?;
            if v.mean.is_finite() && state.best.is_none_or(|(b, _)| v.mean > b) {
                state.best = Some((v.mean, state.step));
                best_checkpoint = Some(save_checkpoint(
                    &out,
                    "best",
                    &model.valid(),
                    None,
                    &state,
                    &config,
                )?);
            }
            last_validation = Some(v);
        }
        let end_of_epoch = state.step.is_multiple_of(config.optim.steps_per_epoch);
        if stop.load(Ordering::SeqCst) {
            checkpoint = save(&model, &optim, &state, &mut previous_ckpt)?;
            progress.println(format!(
                "interrupted: checkpoint {} (resume with --resume {})",
                checkpoint.display(),
                out.display()
            ));
            was_interrupted = true;
            break;
        }
        if end_of_epoch || last {
            checkpoint = save(&model, &optim, &state, &mut previous_ckpt)?;
        }
        if last {
            break;
        }
    }
    progress.finish_and_clear();
    if checkpoint.as_os_str().is_empty() {
        // Resumed at (or past) the last step: nothing to do but report.
        checkpoint = resolve_checkpoint(&out)?;
    }
    log.write_csv()?;
    let mut files = vec![
        out.join("metrics.jsonl"),
        out.join("train_log.csv"),
        out.join("validation.csv"),
    ];
    let curves = out.join("curves.png");
    write_curves_png(log.entries(), &curves)?;
    files.push(curves);
    if let Some(v) = &last_validation {
        let overlays = out.join("overlays");
        std::fs::create_dir_all(&overlays).map_err(|e| TrainError::Output {
            path: overlays.clone(),
            message: e.to_string(),
        })?;
        // The channel that shows the labels best: FLAIR where the data names one, else the last.
        let channel = data
            .manifest
            .channel_names
            .iter()
            .position(|c| c.eq_ignore_ascii_case("flair"))
            .unwrap_or(data.in_channels - 1);
        for (case, pred) in data.val.iter().zip(&v.predictions) {
            let [w, h, d] = case.geometry.size();
            let n = w * h * d;
            let path = overlays.join(format!("{}.png", case.id));
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
    }
    Ok(TrainSummary {
        steps: state.step,
        interrupted: was_interrupted,
        final_dice: last_validation.map(|v| (v.mean, v.per_label)),
        best: state.best,
        checkpoint,
        best_checkpoint,
        files,
        seconds: started.elapsed().as_secs_f64(),
    })
}
