//! `medburn train` and `medburn predict`.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;
use medburn_datasets::CaseFiles;
use medburn_train::{
    predict, train, Interrupter, PredictOptions, TaskKind, TrainConfig, TrainOptions, TrainSummary,
};

use super::CliResult;

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// What to learn: segment (label maps), regress (a number per case, e.g. age), classify
    /// (a class per case, e.g. sex), register (a displacement field per pair of images,
    /// VoxelMorph), superres (a finer image from a coarser one) or autoencode (each volume
    /// through an autoencoder's code; --set model.name=vae for the VAE). Each task has its own defaults [default: segment, or the --config's].
    #[arg(long)]
    task: Option<TaskKind>,
    /// The manifest column to learn, for regress and classify (e.g. age, sex).
    #[arg(long)]
    target: Option<String>,
    /// Super-resolution: the upsampling factor of each image axis i, j, k, comma-separated
    /// (4,4,4; 1,1,4 for slices 4 times thinner) [default: the configuration's, 1,1,4].
    #[arg(long, value_delimiter = ',')]
    factor: Option<Vec<usize>>,
    /// Channels to train on, by name or number, comma-separated (e.g. T1) [default: all].
    #[arg(long, value_delimiter = ',')]
    channels: Option<Vec<String>>,
    /// A TOML configuration (fields of medburn_train::TrainConfig; absent ones keep the task's
    /// defaults). `medburn train --print-config [--task T]` shows them all.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The data set: a Decathlon or nnU-Net v2 raw folder (dataset.json), a BIDS-like folder
    /// (sub-*/anat/), a folder of DICOM case folders with a dicom_series.json rule, or a .csv,
    /// .tsv or .json manifest; a participants.tsv/.csv beside it adds columns (`medburn data
    /// check DIR` first reads every file and lists the problems).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Output folder: checkpoints, metrics, curves, overlays.
    #[arg(long)]
    out: Option<PathBuf>,
    /// cpu, wgpu or cuda.
    #[arg(long)]
    device: Option<String>,
    /// Total optimizer steps.
    #[arg(long)]
    steps: Option<u64>,
    /// Seed of every random choice.
    #[arg(long)]
    seed: Option<u64>,
    /// Any other field by its dotted path, e.g. --set optim.lr=0.002 --set data.patch.patch_size=[48,48,48].
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Continue a stopped run (its output folder or a checkpoint folder), with its configuration.
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Print the configuration as TOML and exit.
    #[arg(long)]
    print_config: bool,
}

/// The configuration the arguments describe: the task's defaults, then the file, then the
/// flags.
#[allow(clippy::too_many_arguments)]
pub(crate) fn config_from(
    task: Option<TaskKind>,
    file: &Option<PathBuf>,
    data: &Option<PathBuf>,
    out: &Option<PathBuf>,
    device: &Option<String>,
    steps: Option<u64>,
    seed: Option<u64>,
    set: &[String],
) -> Result<TrainConfig, Box<dyn std::error::Error>> {
    let mut config = match (file, task) {
        (Some(p), None) => TrainConfig::from_file(p)?,
        (Some(p), Some(task)) => {
            let from_file = TrainConfig::from_file(p)?;
            if from_file.task != task {
                return Err(format!(
                    "--task {task} and {} (task = \"{}\") disagree",
                    p.display(),
                    from_file.task
                )
                .into());
            }
            from_file
        }
        (None, task) => TrainConfig::for_task(task.unwrap_or_default()),
    };
    if let Some(d) = data {
        config.data.dir = d.clone();
    }
    if let Some(o) = out {
        config.out = o.clone();
    }
    if let Some(d) = device {
        config.device = d.clone();
    }
    if let Some(s) = steps {
        config.optim.steps = s;
    }
    if let Some(s) = seed {
        config.seed = s;
    }
    for s in set {
        config.set(s)?;
    }
    Ok(config)
}

pub fn run(a: TrainArgs) -> CliResult {
    let mut config = config_from(
        a.task, &a.config, &a.data, &a.out, &a.device, a.steps, a.seed, &a.set,
    )?;
    if let Some(t) = &a.target {
        config.data.target = Some(t.clone());
    }
    if let Some(c) = &a.channels {
        config.data.channels = c.clone();
    }
    if let Some(f) = &a.factor {
        match (&mut config.model, f.as_slice()) {
            (medburn_train::ModelConfig::SuperRes(p), &[i, j, k]) => p.factors = [i, j, k],
            (medburn_train::ModelConfig::SuperRes(_), _) => {
                return Err("--factor takes three numbers, i,j,k (e.g. 1,1,4)".into())
            }
            (m, _) => {
                return Err(format!(
                    "--factor is for super-resolution (--task superres), not model {}",
                    m.name()
                )
                .into())
            }
        }
    }
    if a.print_config {
        config.validate()?;
        print!("{}", config.to_toml()?);
        return Ok(());
    }
    let changes = a.config.is_some()
        || !a.set.is_empty()
        || a.steps.is_some()
        || a.task.is_some()
        || a.target.is_some()
        || a.channels.is_some()
        || a.factor.is_some();
    if a.resume.is_some() && changes {
        return Err(
            "--resume continues a run with its own configuration: drop --config, --set, \
                    --steps, --task, --target, --channels and --factor"
                .into(),
        );
    }
    let summary = train(
        config,
        &TrainOptions {
            resume: a.resume,
            progress: std::io::stderr().is_terminal(),
            interrupter: interrupt_on_ctrl_c(),
        },
    )?;
    report(&summary);
    Ok(())
}

/// A handle that Ctrl-C sets: the run then writes a checkpoint and stops after its step.
pub(crate) fn interrupt_on_ctrl_c() -> Interrupter {
    let stop = Interrupter::new();
    let handle = stop.clone();
    // A second handler in the same process is refused; the run then cannot be interrupted
    // by Ctrl-C, which only a library user calling this twice would see.
    let _ = ctrlc::set_handler(move || handle.stop());
    stop
}

/// Prints what a run reached and wrote.
pub(crate) fn report(s: &TrainSummary) {
    if s.interrupted {
        println!(
            "interrupted after step {}: checkpoint {} (continue with --resume)",
            s.steps,
            s.checkpoint.display()
        );
    }
    if let Some(m) = &s.validation {
        match s.task {
            TaskKind::Segment => {
                let per: Vec<String> = m.0.iter().skip(1).map(|(_, d)| format!("{d:.3}")).collect();
                println!(
                    "held-out mean foreground Dice {:.4} (per label {}) after {} steps, {:.0} s",
                    m.get("mean_dice").unwrap_or(f64::NAN),
                    per.join(", "),
                    s.steps,
                    s.seconds
                );
            }
            _ => println!(
                "validation after {} steps, {:.0} s: {}",
                s.steps,
                s.seconds,
                m.describe()
            ),
        }
    }
    if let Some(b) = &s.best {
        println!("best {} {:.4} at step {}", b.metric, b.value, b.step);
    }
    if let Some(t) = &s.test {
        let g = |n: &str| t.get(n).unwrap_or(f64::NAN);
        match s.task {
            TaskKind::Regress => println!(
                "held-out test: MAE {:.3} (mean predictor {:.3}), RMSE {:.3} ({:.3}), R2 {:.3}",
                g("mae"),
                g("baseline_mae"),
                g("rmse"),
                g("baseline_rmse"),
                g("r2")
            ),
            TaskKind::Classify => println!(
                "held-out test: AUC {:.3} (constant {:.3}), accuracy {:.3} (majority class {:.3})",
                g("auc"),
                g("baseline_auc"),
                g("accuracy"),
                g("baseline_accuracy")
            ),
            TaskKind::Register if t.get("mean_dice").is_some_and(f64::is_finite) => println!(
                "held-out test: Dice of warped labels {:.4} (unregistered {:.4}), folding {:.5}",
                g("mean_dice"),
                g("baseline_mean_dice"),
                g("folding")
            ),
            TaskKind::SuperResolve => println!(
                "held-out test: PSNR {:.2} dB (B-spline {:.2}, trilinear {:.2}), SSIM {:.4} \
                 (B-spline {:.4}, trilinear {:.4})",
                g("psnr"),
                g("baseline_psnr"),
                g("trilinear_psnr"),
                g("ssim"),
                g("baseline_ssim"),
                g("trilinear_ssim")
            ),
            TaskKind::Autoencode => println!(
                "held-out test: reconstruction PSNR {:.2} dB (block average {:.2}), SSIM {:.4} \
                 ({:.4})",
                g("psnr"),
                g("baseline_psnr"),
                g("ssim"),
                g("baseline_ssim")
            ),
            TaskKind::Segment | TaskKind::Register => println!("held-out test: {}", t.describe()),
        }
    }
    println!("wrote:");
    println!("  checkpoint       {}", s.checkpoint.display());
    if let Some(b) = &s.best_checkpoint {
        println!("  best model       {}", b.display());
    }
    for f in &s.files {
        println!("  {:<16} {}", kind_of(f), f.display());
    }
}

fn kind_of(path: &std::path::Path) -> &'static str {
    let name = path.to_string_lossy();
    if name.ends_with("_predictions.csv") {
        "predictions"
    } else if name.ends_with("_pairs.csv") {
        "pairs"
    } else if name.contains("registrations") {
        "registration"
    } else if name.ends_with(".jsonl") || name.ends_with(".csv") || name.ends_with(".json") {
        "metrics"
    } else if name.ends_with("curves.png") {
        "training curves"
    } else if name.ends_with("_scatter.png") {
        "scatter plot"
    } else if name.ends_with("_roc.png") {
        "ROC curve"
    } else if name.ends_with("_superres.png") {
        "super-resolution"
    } else if name.ends_with("_reconstructions.png") {
        "reconstructions"
    } else if name.ends_with(".png") {
        "overlay"
    } else {
        "file"
    }
}

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// A checkpoint folder (e.g. RUN/checkpoints/best) or a run's output folder (its latest).
    #[arg(long)]
    model: PathBuf,
    /// Input images, one case each (a multi-channel NIfTI); channels in separate files are
    /// joined with commas: --input t1.nii.gz,t2.nii.gz,flair.nii.gz.
    #[arg(long, required = true, num_args = 1..)]
    input: Vec<String>,
    /// Output folder: CASE_seg.nii.gz (uint8, on the input's grid) and volumes.csv for a
    /// segmentation model; predictions.csv for a regression or classification model;
    /// CASE_superres.nii.gz (on the fine grid) for a super-resolution model;
    /// CASE_reconstruction.nii.gz (on the input's grid) and, for a VAE, latents.csv for an
    /// autoencoder.
    #[arg(long)]
    out: PathBuf,
    /// Average over flips along each axis (8 passes).
    #[arg(long)]
    tta: bool,
    /// Window overlap (default: the checkpoint's).
    #[arg(long)]
    overlap: Option<f64>,
    /// Registration models: the fixed image every --input (a moving image) is registered to;
    /// OUT/MOVING_to_FIXED/ then holds what `medburn register` writes. Without it, a model
    /// trained on atlas pairs uses its atlas.
    #[arg(long)]
    fixed: Option<String>,
    /// Registration models: the fixed image's label map (Dice before and after in
    /// metrics.json).
    #[arg(long)]
    fixed_label: Option<PathBuf>,
    /// Registration models: the inputs' label maps, one per --input, warped with them.
    #[arg(long, num_args = 1..)]
    input_label: Vec<PathBuf>,
    /// cpu, wgpu or cuda.
    #[arg(long, default_value = "cpu")]
    device: String,
}

pub fn run_predict(a: PredictArgs) -> CliResult {
    if !a.input_label.is_empty() && a.input_label.len() != a.input.len() {
        return Err(format!(
            "{} --input-label files for {} --input images: one each",
            a.input_label.len(),
            a.input.len()
        )
        .into());
    }
    let cases: Vec<CaseFiles> = a
        .input
        .iter()
        .enumerate()
        .map(|(n, s)| {
            CaseFiles::new(
                s.split(',').map(PathBuf::from).collect(),
                a.input_label.get(n).cloned(),
            )
        })
        .collect();
    let options = PredictOptions {
        device: super::parse_device(&a.device)?,
        flip_tta: a.tta,
        overlap: a.overlap,
        progress: std::io::stderr().is_terminal(),
        fixed: a.fixed.as_ref().map(|f| {
            CaseFiles::new(
                f.split(',').map(PathBuf::from).collect(),
                a.fixed_label.clone(),
            )
        }),
    };
    let results = predict(&a.model, &cases, &a.out, &options)?;
    for p in &results {
        if p.values.is_empty() {
            println!("{} -> {}", p.id, p.output.display());
        } else {
            let values: Vec<String> = p.values.iter().map(|(k, v)| format!("{k} {v}")).collect();
            println!("{}: {}", p.id, values.join(", "));
        }
        for (_, name, _, ml) in &p.volumes {
            println!("  {name:<16} {ml:>10.2} ml");
        }
    }
    let volumes = a.out.join("volumes.csv");
    let latents = a.out.join("latents.csv");
    match results.first() {
        Some(p) if !p.values.is_empty() => println!("predictions: {}", p.output.display()),
        _ if volumes.is_file() => println!("volumes: {}", volumes.display()),
        _ if latents.is_file() => println!("latent codes: {}", latents.display()),
        _ => {}
    }
    Ok(())
}

/// `medburn sample`: decoded draws from a variational autoencoder's prior.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// A VAE checkpoint folder (RUN/checkpoints/best) or a run's output folder (its latest),
    /// from `medburn train --task autoencode --set model.name=vae`.
    #[arg(long)]
    model: PathBuf,
    /// How many samples.
    #[arg(long, default_value_t = 8)]
    count: usize,
    /// Output folder: sample_000.nii.gz, ... (the training grid, centred on the origin,
    /// normalized units) and samples.png.
    #[arg(long)]
    out: PathBuf,
    /// Seed of the latent codes.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// cpu, wgpu or cuda.
    #[arg(long, default_value = "cpu")]
    device: String,
}

pub fn run_sample(a: SampleArgs) -> CliResult {
    let device = super::parse_device(&a.device)?;
    let s = medburn_train::sample(&a.model, a.count, a.seed, &a.out, &device)?;
    println!(
        "{} samples in {}; montage {}",
        s.images.len(),
        a.out.display(),
        s.montage.display()
    );
    Ok(())
}
