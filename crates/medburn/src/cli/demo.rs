//! `medburn demo`, the README's main job: make a synthetic brain MR data set, train a 3D U-Net
//! on it, report the held-out Dice, and segment a test image back to NIfTI on its own grid.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use medburn_datasets::synth::{write_msd_dataset, SynthConfig};
use medburn_datasets::CaseFiles;
use medburn_train::{predict, train, PredictOptions, TrainOptions};

use super::CliResult;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Output folder: data/, checkpoints/, metrics, curves, overlays/, predictions/.
    #[arg(long, default_value = "medburn-run")]
    out: PathBuf,
    /// cpu, wgpu or cuda.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Training cases to make (the last `data.val_cases` of them are held out for validation).
    #[arg(long, default_value_t = 14)]
    cases: usize,
    /// Voxels per side of the synthetic volumes.
    #[arg(long, default_value_t = 88)]
    size: usize,
    /// Optimizer steps (default: the configuration's).
    #[arg(long)]
    steps: Option<u64>,
    /// Seed of the data and the run.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// A training configuration (TOML) instead of the main job's defaults.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Any training field by its dotted path, e.g. --set optim.lr=0.002.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

pub fn run(a: DemoArgs) -> CliResult {
    let started = Instant::now();
    let data = a.out.join("data");
    let config = super::train::config_from(
        None,
        &a.config,
        &Some(data.clone()),
        &Some(a.out.clone()),
        &Some(a.device.clone()),
        a.steps,
        Some(a.seed),
        &a.set,
    )?;
    config.validate()?;
    if a.cases <= config.data.val_cases {
        return Err(format!(
            "--cases {} leaves nothing to train on ({} are held out)",
            a.cases, config.data.val_cases
        )
        .into());
    }
    let show = std::io::stderr().is_terminal();
    println!(
        "medburn demo: synthetic brain MR (T1, T2, FLAIR; CSF, grey matter, white matter, lesions) -> 3D U-Net -> held-out Dice -> NIfTI, on {}",
        a.device
    );

    // 1. Data.
    let synth = SynthConfig {
        seed: a.seed,
        size: a.size,
        // Lesions a little larger than the generator's default, so that they span several
        // voxels at the 2.5 mm the main job trains on.
        lesion_radius_mm: [3.5, 8.0],
        ..Default::default()
    };
    let bar = if show {
        ProgressBar::new((a.cases + 1) as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("making cases [{bar:30}] {pos}/{len} {elapsed}")
            .expect("template")
            .progress_chars("=> "),
    );
    let t = Instant::now();
    let summary = write_msd_dataset(&data, &synth, a.cases, 1, &mut |_, _| bar.inc(1))?;
    bar.finish_and_clear();
    println!(
        "1. made {} training cases and 1 test case of {}^3 voxels in {:.1} s: {}",
        a.cases,
        a.size,
        t.elapsed().as_secs_f64(),
        summary.dataset_json.display()
    );

    // 2. Training.
    let medburn_train::ModelConfig::UNet(unet) = &config.model else {
        return Err("the demo trains a U-Net (model.name = \"unet\")".into());
    };
    println!(
        "2. training a U-Net {:?} for {} steps on {}^3 patches, batches of {}, validating on {} held-out cases",
        unet.channels,
        config.optim.steps,
        config.data.patch.patch_size[0],
        config.data.batch_size,
        config.data.val_cases
    );
    let result = train(
        config,
        &TrainOptions {
            resume: None,
            progress: show,
            interrupter: super::train::interrupt_on_ctrl_c(),
        },
    )?;
    super::train::report(&result);

    // 3. Prediction of the test case, on its own grid.
    let (image, truth) = summary
        .test
        .first()
        .cloned()
        .ok_or("the synthetic data set has no test case")?;
    let model = result
        .best_checkpoint
        .clone()
        .unwrap_or(result.checkpoint.clone());
    let out = a.out.join("predictions");
    let t = Instant::now();
    let predictions = predict(
        &model,
        &[CaseFiles::new(vec![image.clone()], None)],
        &out,
        &PredictOptions {
            device: super::parse_device(&a.device)?,
            ..Default::default()
        },
    )?;
    let p = &predictions[0];
    let dice = test_dice(&p.output, &truth)?;
    println!(
        "3. segmented the test image {} in {:.1} s: {}",
        image.display(),
        t.elapsed().as_secs_f64(),
        p.output.display()
    );
    let per: Vec<String> = dice.iter().map(|d| format!("{d:.3}")).collect();
    println!(
        "   test-case Dice on its own grid, per label [{}]; volumes in {}",
        per.join(", "),
        out.join("volumes.csv").display()
    );
    match result.validation.as_ref().and_then(|m| m.get("mean_dice")) {
        Some(mean) => println!(
            "medburn demo: held-out mean foreground Dice {mean:.4} (target 0.8: {}) in {:.0} s",
            if mean >= 0.8 {
                "reached"
            } else {
                "not reached"
            },
            started.elapsed().as_secs_f64()
        ),
        None => println!("medburn demo: no validation ran"),
    }
    Ok(())
}

/// Dice of each foreground label of the predicted label map against the true one, both read
/// from their files: the check that the prediction sits on the input's grid.
fn test_dice(
    predicted: &std::path::Path,
    truth: &std::path::Path,
) -> Result<Vec<f64>, Box<dyn std::error::Error>> {
    let (p, t) = (medburn_io::read(predicted)?, medburn_io::read(truth)?);
    if !medburn_datasets::same_grid(&p.geometry, &t.geometry) {
        return Err(format!(
            "{}: geometry differs from the input's {:?} vs {:?}",
            predicted.display(),
            p.geometry,
            t.geometry
        )
        .into());
    }
    let values = |v: &medburn_io::Volume| -> Vec<u8> {
        v.data
            .rescaled_f64(v.rescale)
            .iter()
            .map(|&x| x as u8)
            .collect()
    };
    let (p, t) = (values(&p), values(&t));
    let max = p.iter().chain(&t).copied().max().unwrap_or(0);
    Ok((1..=max)
        .map(|l| {
            let (mut both, mut sum) = (0usize, 0usize);
            for (a, b) in p.iter().zip(&t) {
                both += (*a == l && *b == l) as usize;
                sum += (*a == l) as usize + (*b == l) as usize;
            }
            if sum == 0 {
                f64::NAN
            } else {
                2.0 * both as f64 / sum as f64
            }
        })
        .collect())
}
