//! `medburn demo`, the README's main job: make a synthetic brain MR data set, train a 3D U-Net
//! on it (validation cases choose the checkpoint), segment the test cases, which neither
//! training nor selection saw, back to NIfTI on their own grids, and report their Dice (mean
//! and spread over cases) beside a per-voxel intensity classifier's on the same cases.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use medburn_datasets::synth::{write_msd_dataset, ContrastMode, SynthConfig, LABEL_NAMES};
use medburn_datasets::CaseFiles;
use medburn_train::{
    predict, score_case, train, voxel_baseline, CaseScores, PredictOptions, SegmentationScores,
    TrainOptions,
};

use super::CliResult;

/// `--contrast` of the demo's data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoContrast {
    /// T1-, T2- and FLAIR-like contrasts.
    Realistic,
    /// Every tissue's intensities drawn per case and channel.
    Randomized,
}

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
    /// Test cases to make: never seen by training or model selection; the headline Dice is
    /// theirs, beside the voxel classifier's on the same cases.
    #[arg(long, default_value_t = 5)]
    test_cases: usize,
    /// Tissue intensities of the synthetic data: realistic (T1/T2/FLAIR-like) or randomized
    /// (domain randomization: intensity alone no longer decides the label).
    #[arg(long, value_enum, default_value_t = DemoContrast::Realistic)]
    contrast: DemoContrast,
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
        contrast: match a.contrast {
            DemoContrast::Realistic => ContrastMode::Realistic,
            DemoContrast::Randomized => ContrastMode::Randomized,
        },
        ..Default::default()
    };
    if a.test_cases == 0 {
        return Err("--test-cases must be at least 1: the headline is the test cases' Dice".into());
    }
    let bar = if show {
        ProgressBar::new((a.cases + a.test_cases) as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("making cases [{bar:30}] {pos}/{len} {elapsed}")
            .expect("template")
            .progress_chars("=> "),
    );
    let t = Instant::now();
    let summary = write_msd_dataset(&data, &synth, a.cases, a.test_cases, &mut |_, _| bar.inc(1))?;
    bar.finish_and_clear();
    println!(
        "1. made {} training and {} test cases of {}^3 voxels ({} contrasts) in {:.1} s: {}",
        a.cases,
        a.test_cases,
        a.size,
        match a.contrast {
            DemoContrast::Realistic => "realistic",
            DemoContrast::Randomized => "randomized",
        },
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

    // 3. The test cases, never seen by training or model selection, each on its own grid.
    let model = result
        .best_checkpoint
        .clone()
        .unwrap_or(result.checkpoint.clone());
    let out = a.out.join("predictions");
    let t = Instant::now();
    let inputs: Vec<CaseFiles> = summary
        .test
        .iter()
        .map(|(image, _)| CaseFiles::new(vec![image.clone()], None))
        .collect();
    let predictions = predict(
        &model,
        &inputs,
        &out,
        &PredictOptions {
            device: super::parse_device(&a.device)?,
            ..Default::default()
        },
    )?;
    let mut network = SegmentationScores::default();
    for (p, (_, truth)) in predictions.iter().zip(&summary.test) {
        network.cases.push(test_scores(&p.id, &p.output, truth)?);
    }
    println!(
        "3. segmented the {} test images in {:.1} s: {}",
        predictions.len(),
        t.elapsed().as_secs_f64(),
        out.display()
    );

    // 4. The voxel classifier on the same test cases.
    let t = Instant::now();
    let training: Vec<CaseFiles> = summary
        .training
        .iter()
        .map(|(i, l)| CaseFiles::new(vec![i.clone()], Some(l.clone())))
        .collect();
    let test: Vec<CaseFiles> = summary
        .test
        .iter()
        .map(|(i, l)| CaseFiles::new(vec![i.clone()], Some(l.clone())))
        .collect();
    let baseline = voxel_baseline(&training, &test, &[], Some(LESION), &mut |_| {})?;
    println!(
        "4. fitted the voxel classifier (a Gaussian per label on the z-scored intensities) in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let names = |l: usize| {
        LABEL_NAMES
            .get(l)
            .map_or(format!("label {l}"), |n| n.to_string())
    };
    println!(
        "   network:          {}",
        super::baseline::describe(&network, &names)
    );
    println!(
        "   voxel classifier: {}",
        super::baseline::describe(&baseline, &names)
    );
    write_test_table(&a.out.join("test_dice.csv"), &network, &baseline)?;
    if let Some(mean) = result.validation.as_ref().and_then(|m| m.get("mean_dice")) {
        println!("   (validation, which chose the checkpoint: mean foreground Dice {mean:.4})");
    }
    let (m, sd) = network.mean_sd(0);
    let (b, _) = baseline.mean_sd(0);
    println!(
        "medburn demo: test mean foreground Dice {m:.4} +- {sd:.4} over {} never-seen cases \
         (target 0.8: {}), voxel classifier {b:.4} ({:+.4}), in {:.0} s",
        network.cases.len(),
        if m >= 0.8 { "reached" } else { "not reached" },
        m - b,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The synthetic data's lesion label, whose lesions are also counted one by one.
const LESION: u8 = 4;

/// `case,method,mean_dice,dice_1,...,lesions_found,lesions,false_lesions` for the network and
/// the voxel classifier on each test case.
fn write_test_table(
    path: &std::path::Path,
    network: &SegmentationScores,
    baseline: &SegmentationScores,
) -> Result<(), Box<dyn std::error::Error>> {
    use std::fmt::Write as _;
    let labels = network.labels().max(baseline.labels());
    let mut text = String::from("case,method,mean_dice");
    for l in 1..=labels {
        let _ = write!(text, ",dice_{l}");
    }
    text.push_str(",lesions_found,lesions,false_lesions\n");
    for (method, scores) in [("network", network), ("voxel_classifier", baseline)] {
        for c in &scores.cases {
            let _ = write!(text, "{},{method},{:.4}", c.id, c.mean_dice());
            for l in 0..labels {
                let _ = write!(text, ",{:.4}", c.dice.get(l).copied().unwrap_or(f64::NAN));
            }
            let (found, all, fp) = c.detection.unwrap_or_default();
            let _ = writeln!(text, ",{found},{all},{fp}");
        }
    }
    medburn_io::atomic::write_atomic(path, text.as_bytes())?;
    Ok(())
}

/// Dice of each foreground label of the predicted label map against the true one, both read
/// from their files (the check that the prediction sits on the input's grid), and the lesions.
fn test_scores(
    id: &str,
    predicted: &std::path::Path,
    truth: &std::path::Path,
) -> Result<CaseScores, Box<dyn std::error::Error>> {
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
    let dims = p.geometry.dhw();
    Ok(score_case(id, &values(&p), &values(&t), dims, Some(LESION)))
}
