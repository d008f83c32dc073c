//! `medburn data check DIR`: the integrity check of a data set in any layout `Manifest::open`
//! reads, every file read (medburn_datasets::check_dataset), as a table or JSON; exit status 1
//! when it finds problems.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use medburn_datasets::{
    check_dataset, BidsOptions, CaseCheck, DatasetCheck, DicomSeriesRule, Manifest, ReadOptions,
    Split,
};
use serde_json::json;

use super::CliResult;

#[derive(Debug, Args)]
pub struct DataArgs {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Debug, Subcommand)]
enum DataCommand {
    /// Read every file of a data set: its cases, channels, grids, label values and problems;
    /// exit status 0 when clean, 1 when there are problems.
    ///
    /// The problems: missing or unreadable files, channels on different grids, label maps off
    /// their image's grid, label values that are not whole numbers from 0 to 255 or not among
    /// the declared labels, NaN or infinite voxels, empty label maps, training cases without a
    /// label map among labelled ones, a case with another number of channels.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// The data set: a Decathlon or nnU-Net raw folder (dataset.json), a BIDS-like folder
    /// (sub-*), a folder of DICOM case folders (with dicom_series.json, or --rule), or a .csv,
    /// .tsv or .json manifest.
    path: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Channels and label maps off the first channel's grid will be resampled onto it (as
    /// `resample_channels` does in training): report them as notes, not problems.
    #[arg(long)]
    resample_channels: bool,
    /// For a BIDS-like folder: the suffixes to use as channels, in order, comma-separated
    /// (e.g. T1w,FLAIR) [default: those every case has].
    #[arg(long, value_delimiter = ',')]
    channels: Option<Vec<String>>,
    /// For a folder of DICOM case folders: the series rule (JSON, see dicom_series.json) when
    /// the folder holds none.
    #[arg(long)]
    rule: Option<PathBuf>,
}

pub fn run(a: DataArgs) -> CliResult {
    match a.command {
        DataCommand::Check(c) => check(c),
    }
}

/// The manifest the arguments describe.
fn open(a: &CheckArgs) -> Result<Manifest, Box<dyn std::error::Error>> {
    if let Some(rule) = &a.rule {
        let rule = DicomSeriesRule::from_file(rule)?;
        return Ok(Manifest::from_dicom_series(&a.path, &rule)?);
    }
    if let Some(channels) = &a.channels {
        let folder_with = |f: &str| a.path.join(f).is_file();
        if !a.path.is_dir() || folder_with("dataset.json") || folder_with("dicom_series.json") {
            return Err(format!(
                "{}: --channels chooses the suffixes of a BIDS-like folder (sub-*/anat/)",
                a.path.display()
            )
            .into());
        }
        let options = BidsOptions {
            channels: channels.clone(),
        };
        return Ok(Manifest::from_bids_with(&a.path, &options)?);
    }
    Ok(Manifest::open(&a.path)?)
}

fn check(a: CheckArgs) -> CliResult {
    let manifest = match open(&a) {
        Ok(m) => m,
        Err(e) => {
            // A manifest that cannot be read is the first problem to report.
            if a.json {
                let j = json!({
                    "path": a.path.display().to_string(),
                    "clean": false,
                    "problem_count": 1,
                    "problems": [e.to_string()],
                    "cases": [],
                });
                println!("{}", serde_json::to_string_pretty(&j)?);
            } else {
                println!("{}", a.path.display());
                println!("problem: {e}");
            }
            return Err(format!("{}: the data set cannot be read", a.path.display()).into());
        }
    };
    let total = (manifest.training.len() + manifest.test.len()) as u64;
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::new(total);
        b.set_style(
            ProgressStyle::with_template(
                "checking [{bar:30}] {pos}/{len} cases {per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let options = ReadOptions {
        resample_channels: a.resample_channels,
    };
    let report = check_dataset(&manifest, &options, &|_| bar.inc(1));
    bar.finish_and_clear();
    if a.json {
        let mut j = serde_json::to_value(&report)?;
        j["path"] = json!(a.path.display().to_string());
        j["clean"] = json!(report.is_clean());
        j["problem_count"] = json!(report.problem_count());
        j["training_cases"] = json!(manifest.training.len());
        j["test_cases"] = json!(manifest.test.len());
        println!("{}", serde_json::to_string_pretty(&j)?);
    } else {
        print_text(&a.path, &manifest, &report);
    }
    if report.is_clean() {
        Ok(())
    } else {
        Err(format!(
            "{}: {} problem(s) in the data set",
            a.path.display(),
            report.problem_count()
        )
        .into())
    }
}

/// A list of numbers for the table (`1x1x1`).
fn joined<T: ToString>(values: &[T], sep: &str) -> String {
    values
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(sep)
}

/// A spacing for the table: at most 3 decimals.
fn spacing_text(s: &[f64; 3]) -> String {
    s.iter()
        .map(|v| {
            let t = format!("{v:.3}");
            t.trim_end_matches('0').trim_end_matches('.').to_string()
        })
        .collect::<Vec<_>>()
        .join("x")
}

fn split_text(c: &CaseCheck) -> &'static str {
    match c.split {
        Some(Split::Test) => "test",
        Some(Split::Validation) => "val",
        _ => "train",
    }
}

fn print_text(path: &Path, manifest: &Manifest, r: &DatasetCheck) {
    let labels = if r.declared_labels.is_empty() {
        "none declared".to_string()
    } else {
        r.declared_labels
            .iter()
            .map(|(v, n)| format!("{v} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "{}{}: {} cases ({} training, {} test); channels {}; labels {}",
        path.display(),
        if r.name.is_empty() {
            String::new()
        } else {
            format!(" ({})", r.name)
        },
        r.cases.len(),
        manifest.training.len(),
        manifest.test.len(),
        if r.channel_names.is_empty() {
            "unnamed".to_string()
        } else {
            r.channel_names.join(", ")
        },
        labels
    );
    let width = r.cases.iter().map(|c| c.id.len()).max().unwrap_or(4).max(4);
    println!(
        "{:width$}  {:5}  {:>8}  {:12}  {:14}  {:11}  label values",
        "case", "split", "channels", "size", "spacing (mm)", "orientation"
    );
    for c in &r.cases {
        let grid = c.images.first().and_then(|f| f.grid.as_ref());
        let (size, spacing, orientation) = match grid {
            Some(g) => (
                joined(&g.size, "x"),
                spacing_text(&g.spacing),
                g.orientation.clone(),
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        let values = if c.label.is_none() {
            "no label map".to_string()
        } else {
            joined(&c.label_values, " ")
        };
        println!(
            "{:width$}  {:5}  {:>8}  {:12}  {:14}  {:11}  {}",
            c.id,
            split_text(c),
            c.channels,
            size,
            spacing,
            orientation,
            values
        );
    }
    println!(
        "label values found: {} (declared: {})",
        if r.found_labels.is_empty() {
            "none".to_string()
        } else {
            joined(&r.found_labels, ", ")
        },
        labels
    );
    for n in &r.notes {
        println!("note: {n}");
    }
    for c in &r.cases {
        for n in &c.notes {
            println!("note: case {}: {n}", c.id);
        }
    }
    for p in &r.problems {
        println!("problem: {p}");
    }
    for c in &r.cases {
        for p in &c.problems {
            println!("problem: case {}: {p}", c.id);
        }
    }
    let files: usize = r
        .cases
        .iter()
        .map(|c| c.images.len() + usize::from(c.label.is_some()))
        .sum();
    if r.is_clean() {
        println!(
            "clean: {} cases, {files} files read, no problem",
            r.cases.len()
        );
    } else {
        println!(
            "{} problem(s) in {} cases ({files} files read)",
            r.problem_count(),
            r.cases.len()
        );
    }
}
