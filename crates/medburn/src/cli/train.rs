//! `medburn train` and `medburn predict`.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;
use medburn_datasets::CaseFiles;
use medburn_train::{predict, train, PredictOptions, TrainConfig, TrainOptions, TrainSummary};

use super::CliResult;

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// A TOML configuration (fields of medburn_train::TrainConfig; absent ones keep the main
    /// job's defaults). `medburn train --print-config` shows them all.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The data set folder (Decathlon layout, dataset.json).
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

/// The configuration the arguments describe: defaults, then the file, then the flags.
pub(crate) fn config_from(
    file: &Option<PathBuf>,
    data: &Option<PathBuf>,
    out: &Option<PathBuf>,
    device: &Option<String>,
    steps: Option<u64>,
    seed: Option<u64>,
    set: &[String],
) -> Result<TrainConfig, Box<dyn std::error::Error>> {
    let mut config = match file {
        Some(p) => TrainConfig::from_file(p)?,
        None => TrainConfig::default(),
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
    let config = config_from(
        &a.config, &a.data, &a.out, &a.device, a.steps, a.seed, &a.set,
    )?;
    if a.print_config {
        print!("{}", config.to_toml()?);
        return Ok(());
    }
    if a.resume.is_some() && (a.config.is_some() || !a.set.is_empty() || a.steps.is_some()) {
        return Err(
            "--resume continues a run with its own configuration: drop --config, --set and --steps"
                .into(),
        );
    }
    let summary = train(
        config,
        &TrainOptions {
            resume: a.resume,
            progress: std::io::stderr().is_terminal(),
        },
    )?;
    report(&summary);
    Ok(())
}

/// Prints what a run reached and wrote.
pub(crate) fn report(s: &TrainSummary) {
    if let Some((mean, labels)) = &s.final_dice {
        let per: Vec<String> = labels.iter().map(|d| format!("{d:.3}")).collect();
        println!(
            "held-out mean foreground Dice {mean:.4} (per label {}) after {} steps, {:.0} s",
            per.join(", "),
            s.steps,
            s.seconds
        );
    }
    if let Some((best, step)) = s.best {
        println!("best {best:.4} at step {step}");
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
    if name.ends_with(".jsonl") || name.ends_with(".csv") {
        "metrics"
    } else if name.ends_with("curves.png") {
        "training curves"
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
    /// Output folder: CASE_seg.nii.gz (uint8, on the input's grid) and volumes.csv.
    #[arg(long)]
    out: PathBuf,
    /// Average over flips along each axis (8 passes).
    #[arg(long)]
    tta: bool,
    /// Window overlap (default: the checkpoint's).
    #[arg(long)]
    overlap: Option<f64>,
    /// cpu, wgpu or cuda.
    #[arg(long, default_value = "cpu")]
    device: String,
}

pub fn run_predict(a: PredictArgs) -> CliResult {
    let cases: Vec<CaseFiles> = a
        .input
        .iter()
        .map(|s| CaseFiles::new(s.split(',').map(PathBuf::from).collect(), None))
        .collect();
    let options = PredictOptions {
        device: super::parse_device(&a.device)?,
        flip_tta: a.tta,
        overlap: a.overlap,
    };
    let results = predict(&a.model, &cases, &a.out, &options)?;
    for p in &results {
        println!("{} -> {}", p.id, p.output.display());
        for (_, name, _, ml) in &p.volumes {
            println!("  {name:<16} {ml:>10.2} ml");
        }
    }
    println!("volumes: {}", a.out.join("volumes.csv").display());
    Ok(())
}
