//! The training loop, one for every task: batches from the loader, augmentation on the device,
//! the task's loss, backward, gradient accumulation, the sync hook, clipping by the global
//! norm, AdamW with warm-up and decay; validation on held-out cases by the task's metrics and
//! `checkpoints/best` by its selection metric; a checkpoint every epoch, on interruption and at
//! the end; progress, metrics, curves, and the task's pictures; the held-out test set scored by
//! the best model at the end.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsAccumulator, GradientsParams, ModuleOptimizer};
use burn::tensor::Device;
use indicatif::{ProgressBar, ProgressStyle};
use medburn_core::Geometry;
use medburn_datasets::PatchLoader;

use crate::checkpoint::{
    load_model, load_optimizer, read_checkpoint, resolve_checkpoint, save_checkpoint, TrainState,
};
use crate::config::{TaskKind, TrainConfig};
use crate::error::{Result, TrainError};
use crate::metrics_log::{LogEntry, Metrics, MetricsLog};
use crate::plot::write_curves_png;
use crate::schedule::learning_rate;
use crate::step::{clip_grad_norm, GradientSync, Interrupter, ParamList, SingleProcess};
use crate::task::{autoencode::Autoencode, register::Register, superres::SuperResolve};
use crate::task::{classify::Classify, higher_is_better, regress::Regress, segment::Segment};
use crate::task::{RunData, Task};

/// How a run is started, apart from its configuration.
#[derive(Clone, Debug, Default)]
pub struct TrainOptions {
    /// Continue the run whose checkpoint (or output folder) this is.
    pub resume: Option<PathBuf>,
    /// Draw progress bars (on a terminal).
    pub progress: bool,
    /// Stops the run after its current step (with a checkpoint) when set.
    pub interrupter: Interrupter,
}

/// The best validation score of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Best {
    /// The selection metric.
    pub metric: String,
    /// Its best value.
    pub value: f64,
    /// The step it was reached at.
    pub step: u64,
}

/// What a run did and wrote.
#[derive(Clone, Debug)]
pub struct TrainSummary {
    /// What was trained.
    pub task: TaskKind,
    /// Steps done.
    pub steps: u64,
    /// Whether the interrupter stopped the run early (after writing a checkpoint).
    pub interrupted: bool,
    /// The metrics of the last validation (the selection metric first).
    pub validation: Option<Metrics>,
    /// The best validation score and its step.
    pub best: Option<Best>,
    /// The held-out test set scored by the best model (with the baselines), when the data set
    /// has test cases with what they are scored against.
    pub test: Option<Metrics>,
    /// The last checkpoint.
    pub checkpoint: PathBuf,
    /// The best model's checkpoint (no optimizer state).
    pub best_checkpoint: Option<PathBuf>,
    /// Metrics (JSON lines and CSV), curves, tables and pictures.
    pub files: Vec<PathBuf>,
    /// Seconds of training (this process).
    pub seconds: f64,
}

/// A progress bar with the loop's style; hidden when `show` is false.
pub(crate) fn bar(show: bool, len: u64, what: &str) -> ProgressBar {
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

/// Trains the network `config` describes for its task (or continues the run in
/// `options.resume`, with that run's configuration), in one process.
///
/// ```no_run
/// use medburn_train::{train, TaskKind, TrainConfig, TrainOptions};
/// let mut config = TrainConfig::for_task(TaskKind::Regress);
/// config.data.dir = "synth-ages".into();
/// config.data.channels = vec!["T1".into()];
/// let summary = train(config, &TrainOptions { progress: true, ..Default::default() })?;
/// println!("best {:?}, test {:?}", summary.best, summary.test);
/// # Ok::<(), medburn_train::TrainError>(())
/// ```
pub fn train(config: TrainConfig, options: &TrainOptions) -> Result<TrainSummary> {
    train_with_sync(config, options, &mut SingleProcess)
}

/// [`train`] with a gradient-sync hook between backward and the optimizer step (data-parallel
/// training across processes).
pub fn train_with_sync(
    config: TrainConfig,
    options: &TrainOptions,
    sync: &mut dyn GradientSync,
) -> Result<TrainSummary> {
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
    match config.task {
        TaskKind::Segment => run(Segment::default(), config, resume_dir, options, sync),
        TaskKind::Regress => run(Regress::default(), config, resume_dir, options, sync),
        TaskKind::Classify => run(Classify::default(), config, resume_dir, options, sync),
        TaskKind::Register => run(Register::default(), config, resume_dir, options, sync),
        TaskKind::SuperResolve => run(SuperResolve::default(), config, resume_dir, options, sync),
        TaskKind::Autoencode => run(Autoencode::default(), config, resume_dir, options, sync),
    }
}

/// The loop, generic over the task.
fn run<T: Task>(
    mut task: T,
    config: TrainConfig,
    resume_dir: Option<PathBuf>,
    options: &TrainOptions,
    sync: &mut dyn GradientSync,
) -> Result<TrainSummary> {
    config.validate()?;
    let out = config.out.clone();
    let base = medburn_core::device_by_name(&config.device).map_err(TrainError::Config)?;
    let device = base.clone().autodiff();
    let data = task.prepare(&config, options.progress)?;

    base.seed(config.seed);
    device.seed(config.seed);
    let mut model = task.build(&config, &data.info, &device)?;
    // The output folder only once the data and the network are known to be sound: a run
    // refused before that leaves nothing behind.
    std::fs::create_dir_all(&out).map_err(|e| TrainError::Output {
        path: out.clone(),
        message: e.to_string(),
    })?;
    crate::checkpoint::recover_interrupted_writes(&out)?;
    let mut optim: ModuleOptimizer = AdamWConfig::new()
        .with_weight_decay(config.optim.weight_decay as f32)
        .init();
    let selection = config
        .validation
        .metric
        .clone()
        .unwrap_or_else(|| task.selection_metric(&data.info));
    let higher = higher_is_better(&selection);
    let mut state = TrainState {
        step: 0,
        epoch: 0,
        seed: config.seed,
        task: config.task,
        in_channels: data.info.in_channels,
        num_classes: data.info.num_classes,
        channel_names: data.info.channel_names.clone(),
        source_channels: data.info.source_channels.clone(),
        label_names: data.info.label_names.clone(),
        target: data.info.target.clone(),
        best: None,
        best_metric: selection.clone(),
    };
    if let Some(dir) = &resume_dir {
        let (saved, _) = read_checkpoint(dir)?;
        if (saved.in_channels, saved.num_classes) != (state.in_channels, state.num_classes) {
            return Err(TrainError::Checkpoint {
                path: dir.clone(),
                message: format!(
                    "made for {} channels and {} classes, the data has {} and {}",
                    saved.in_channels, saved.num_classes, state.in_channels, state.num_classes
                ),
            });
        }
        if saved.target != state.target {
            return Err(TrainError::Checkpoint {
                path: dir.clone(),
                message: format!(
                    "made for the target {:?}, the data now gives {:?}: the training cases \
                     changed since it was written",
                    saved.target, state.target
                ),
            });
        }
        model = load_model(model, dir)?;
        optim = load_optimizer(optim, dir)?;
        state = saved;
    }
    let sampler = task.sampler(&config);
    let spacing = config.data.preprocess.spacing.unwrap_or([1.0, 1.0, 1.0]);
    let patch_geometry = Geometry::new(
        sampler.patch_size,
        [0.0; 3],
        spacing,
        config.data.preprocess.orientation()?.to_direction(),
    )?;
    let params = ParamList::of(&model);

    let mut log = MetricsLog::open(&out, state.step)?;
    let accumulate = config.optim.accumulate;
    let loader = PatchLoader::start(
        &data.train,
        sampler,
        config.data.batch_size,
        config.seed,
        state.step * accumulate,
        config.data.prefetch,
        device.clone(),
    )?;
    let total = config.optim.steps;
    let progress = bar(options.progress, total, "training");
    progress.set_position(state.step);
    progress.reset_eta();
    let started = Instant::now();
    let mut last_validation: Option<(Metrics, T::Evaluation)> = None;
    let mut checkpoint = PathBuf::new();
    let mut best_checkpoint = None;
    let mut previous_ckpt: Option<PathBuf> = resume_dir.clone();
    let mut was_interrupted = false;

    let save = |model: &T::Model,
                optim: &ModuleOptimizer,
                state: &TrainState,
                previous: &mut Option<PathBuf>|
     -> Result<PathBuf> {
        // Fold the batch-norm running statistics' pending update into their values (Burn's
        // `RunningState` keeps the last one aside until it is read through `valid()`), so the
        // checkpoint holds what the next step will use and a resumed run continues exactly.
        let _ = model.valid();
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

    let mut loader = loader.peekable();
    let mut accumulator = GradientsAccumulator::<T::Model>::new();
    let mut step_grads: Option<GradientsParams> = None;
    'steps: while state.step < total {
        let step = state.step;
        let mut loss_sum = 0.0;
        for _ in 0..accumulate {
            let Some((micro, batch, mut rng)) = loader.next() else {
                break 'steps;
            };
            // Augmentation parameters from the rest of stream `micro`, applied on the device.
            let batch = task.prepare_batch(&config, &patch_geometry, batch, &mut rng)?;
            let mut loss = task.loss(&model, batch)?;
            let loss_value = loss.clone().into_scalar::<f32>() as f64;
            if !loss_value.is_finite() {
                return Err(TrainError::Invalid(format!(
                    "the loss became {loss_value} at step {step} (micro-batch {micro}): lower \
                     optim.lr or set optim.clip_grad_norm"
                )));
            }
            loss_sum += loss_value;
            if accumulate > 1 {
                loss = loss / accumulate as f64;
            }
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            if accumulate == 1 {
                step_grads = Some(grads);
            } else {
                accumulator.accumulate(&model, grads);
            }
        }
        let mut grads = step_grads.take().unwrap_or_else(|| accumulator.grads());
        sync.sync(step, &mut grads, &params)?;
        if let Some(max_norm) = config.optim.clip_grad_norm {
            clip_grad_norm(&mut grads, &params, max_norm);
        }
        let lr = learning_rate(&config.optim, step);
        model = optim.step(lr, model, grads);
        let loss_value = loss_sum / accumulate as f64;
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
            let (metrics, evaluation) =
                task.evaluate(&model.valid(), &data.val, false, &config, &data.info, &base)?;
            progress.println(format!(
                "step {:>6}  validation {}",
                state.step,
                task.describe(&metrics)
            ));
            log.push(LogEntry::Validation {
                step: state.step,
                metrics: metrics.clone(),
            })?;
            let value = metrics
                .get(&selection)
                .ok_or_else(|| TrainError::Invalid(format!("the task reported no {selection}")))?;
            let better = state
                .best
                .is_none_or(|(b, _)| if higher { value > b } else { value < b });
            if value.is_finite() && better {
                state.best = Some((value, state.step));
                best_checkpoint = Some(save_checkpoint(
                    &out,
                    "best",
                    &model.valid(),
                    None,
                    &state,
                    &config,
                )?);
            }
            last_validation = Some((metrics, evaluation));
        }
        let end_of_epoch = state.step.is_multiple_of(config.optim.steps_per_epoch);
        if options.interrupter.is_stopped() {
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
    write_curves_png(log.entries(), &selection, &curves)?;
    files.push(curves);
    if let Some((_, evaluation)) = &last_validation {
        files.extend(task.write_outputs(&out, "validation", &data.val, evaluation, &data.info)?);
    }
    let test = if was_interrupted || data.test.is_empty() {
        None
    } else {
        let best = best_checkpoint
            .clone()
            .or_else(|| resolve_checkpoint(&out.join("checkpoints/best")).ok());
        let (metrics, written) = test_best(
            &task,
            &config,
            &data,
            best.as_deref(),
            model.valid(),
            &base,
            &out,
        )?;
        files.extend(written);
        Some(metrics)
    };
    Ok(TrainSummary {
        task: config.task,
        steps: state.step,
        interrupted: was_interrupted,
        validation: last_validation.map(|(m, _)| m),
        best: state.best.map(|(value, step)| Best {
            metric: state.best_metric.clone(),
            value,
            step,
        }),
        test,
        checkpoint,
        best_checkpoint,
        files,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Scores the test cases with the best checkpoint's weights (the final model where no
/// validation chose one) and writes `test_metrics.json` and the task's test outputs.
fn test_best<T: Task>(
    task: &T,
    config: &TrainConfig,
    data: &RunData,
    best: Option<&Path>,
    last: T::Model,
    device: &Device,
    out: &Path,
) -> Result<(Metrics, Vec<PathBuf>)> {
    let model = match best {
        Some(dir) => load_model(last, dir)?,
        None => last,
    };
    let model = model.fork(device);
    let (metrics, evaluation) =
        task.evaluate(&model, &data.test, true, config, &data.info, device)?;
    /// `test_metrics.json`, its fields and the metrics in order.
    #[derive(serde::Serialize)]
    struct TestReport<'a> {
        task: TaskKind,
        model: Option<String>,
        cases: Vec<&'a str>,
        metrics: &'a Metrics,
    }
    let report = TestReport {
        task: config.task,
        model: best.map(|p| p.display().to_string()),
        cases: data.test.iter().map(|c| c.id.as_str()).collect(),
        metrics: &metrics,
    };
    let path = out.join("test_metrics.json");
    let json =
        serde_json::to_string_pretty(&report).map_err(|e| TrainError::Invalid(e.to_string()))?;
    medburn_io::atomic::write_atomic(&path, json.as_bytes())?;
    let mut files = vec![path];
    files.extend(task.write_outputs(out, "test", &data.test, &evaluation, &data.info)?);
    Ok((metrics, files))
}
