//! `medburn baseline`: the segmentation baseline without a network (a per-voxel Gaussian
//! classifier of the z-scored intensities, `medburn_train::voxel_baseline`), fitted on a data
//! set's training cases and scored on its test cases, each on its own grid.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use medburn_datasets::Manifest;
use medburn_train::{voxel_baseline, SegmentationScores};

use super::CliResult;

#[derive(Debug, Args)]
pub struct BaselineArgs {
    /// The data set (a Decathlon folder or a manifest) whose test cases have label maps.
    #[arg(long)]
    data: PathBuf,
    /// Channels, by name or number, comma-separated [default: all].
    #[arg(long, value_delimiter = ',')]
    channels: Vec<String>,
    /// The label whose structures are also counted one by one (found, missed, false
    /// positives), e.g. 4 for the synthetic lesions.
    #[arg(long)]
    detect: Option<u8>,
    /// Print the scores as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(a: BaselineArgs) -> CliResult {
    let manifest = Manifest::open(&a.data)?;
    let channels = manifest.channel_indices(&a.channels)?;
    let test: Vec<_> = manifest
        .test
        .iter()
        .filter(|c| c.label.is_some())
        .cloned()
        .collect();
    if test.is_empty() {
        return Err(format!(
            "{}: no test case has a label map to score against",
            a.data.display()
        )
        .into());
    }
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new((manifest.training.len() + test.len()) as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("voxel classifier [{bar:30}] {pos}/{len} {msg}")
            .expect("template")
            .progress_chars("=> "),
    );
    let scores = voxel_baseline(&manifest.training, &test, &channels, a.detect, &mut |id| {
        bar.set_message(id.to_string());
        bar.inc(1)
    })?;
    bar.finish_and_clear();
    let names = |l: usize| {
        manifest
            .label_names
            .get(&(l as u32))
            .cloned()
            .unwrap_or_else(|| format!("label {l}"))
    };
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&as_json(&scores, &names))?
        );
        return Ok(());
    }
    println!(
        "voxel classifier fitted on {} training cases, scored on {} test cases (each on its own grid):",
        manifest.training.len(),
        scores.cases.len()
    );
    println!("{}", describe(&scores, &names));
    Ok(())
}

/// `mean foreground Dice m +- sd; NAME m +- sd, ...` over the cases, and the detections.
pub(crate) fn describe(s: &SegmentationScores, names: &dyn Fn(usize) -> String) -> String {
    let (m, sd) = s.mean_sd(0);
    let per: Vec<String> = (1..=s.labels())
        .map(|l| {
            let (m, sd) = s.mean_sd(l);
            format!("{} {m:.3} +- {sd:.3}", names(l))
        })
        .collect();
    let mut text = format!(
        "mean foreground Dice {m:.3} +- {sd:.3} (over cases); {}",
        per.join(", ")
    );
    if let Some((found, all, false_positives)) = s.detections() {
        text.push_str(&format!(
            "; structures found {found} of {all}, {:.1} false per case",
            false_positives as f64 / s.cases.len().max(1) as f64
        ));
    }
    text
}

fn as_json(s: &SegmentationScores, names: &dyn Fn(usize) -> String) -> serde_json::Value {
    let finite = |v: f64| if v.is_finite() { Some(v) } else { None };
    let (m, sd) = s.mean_sd(0);
    serde_json::json!({
        "mean_dice": finite(m),
        "mean_dice_sd": finite(sd),
        "labels": (1..=s.labels()).map(|l| {
            let (m, sd) = s.mean_sd(l);
            serde_json::json!({"label": l, "name": names(l), "dice": finite(m), "sd": finite(sd)})
        }).collect::<Vec<_>>(),
        "detections": s.detections().map(|(found, all, fp)| serde_json::json!({"found": found, "true": all, "false_positives": fp})),
        "cases": s.cases.iter().map(|c| {
            serde_json::json!({
                "case": c.id,
                "dice": c.dice.iter().map(|&v| finite(v)).collect::<Vec<_>>(),
                "detection": c.detection.map(|(f, t, fp)| [f, t, fp]),
            })
        }).collect::<Vec<_>>(),
    })
}
