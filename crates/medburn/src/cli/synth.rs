use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use medburn_datasets::synth::{write_msd_dataset, SynthCase, SynthConfig, CHANNEL_NAMES};
use medburn_io::{preview, Volume, VoxelArray};

use super::CliResult;

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Data set folder (created if missing): imagesTr/, labelsTr/, imagesTs/, labelsTs/,
    /// dataset.json, participants.csv (each case's age and sex).
    #[arg(long)]
    out: PathBuf,
    /// Training cases (imagesTr + labelsTr), at least 1.
    #[arg(long)]
    cases: usize,
    /// Seed: case k is the same for a seed whatever --cases is [default: 0, or the --config's].
    #[arg(long)]
    seed: Option<u64>,
    /// Voxels per side, at least 16 [default: 96, or the --config's].
    #[arg(long)]
    size: Option<usize>,
    /// Test cases (imagesTs; their labels go to labelsTs), numbered after the training cases.
    #[arg(long, default_value_t = 0)]
    test_cases: usize,
    /// JSON generator settings (fields of medburn_datasets::synth::SynthConfig; unnamed ones keep
    /// their defaults). --seed and --size override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Also write PNGs of the first case's mid-slices (T1, T2, FLAIR, labels) to OUT/preview/.
    #[arg(long)]
    preview: bool,
}

pub fn run(a: SynthArgs) -> CliResult {
    let mut config = match &a.config {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            serde_json::from_str::<SynthConfig>(&text)
                .map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => SynthConfig::default(),
    };
    if let Some(seed) = a.seed {
        config.seed = seed;
    }
    if let Some(size) = a.size {
        config.size = size;
    }
    if a.cases == 0 {
        return Err("--cases must be at least 1".into());
    }
    if config.size < 16 {
        return Err(format!("--size {} is too small (at least 16)", config.size).into());
    }
    if a.out.exists() && !a.out.is_dir() {
        return Err(format!(
            "{}: exists and is not a directory (--out names the data set folder)",
            a.out.display()
        )
        .into());
    }
    config.validate()?;

    let total = a.cases + a.test_cases;
    println!(
        "medburn synth: {} training + {} test cases of {}^3 voxels, seed {}, into {}",
        a.cases,
        a.test_cases,
        config.size,
        config.seed,
        a.out.display()
    );
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} cases  {elapsed_precise} (eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let t = Instant::now();
    let mut preview_error = None;
    let preview_dir = a.out.join("preview");
    let summary = write_msd_dataset(&a.out, &config, a.cases, a.test_cases, &mut |done, case| {
        if a.preview && case.params.index == 0 {
            if let Err(e) = write_previews(case, &preview_dir) {
                preview_error = Some(e);
            }
        }
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    if let Some(e) = preview_error {
        return Err(e);
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "  wrote {} cases in {secs:.2} s ({:.2} s per case), {} and {} (age, sex)",
        total,
        secs / total as f64,
        summary.dataset_json.display(),
        a.out.join("participants.csv").display()
    );
    if a.preview {
        println!(
            "  wrote previews of case_000 to {} (axial, coronal, sagittal)",
            preview_dir.display()
        );
    }
    Ok(())
}

/// Mid-slice PNGs of each channel and of the labels of `case`.
fn write_previews(case: &SynthCase, dir: &std::path::Path) -> CliResult {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let VoxelArray::F32(data) = &case.images.data else {
        return Err("synthetic images are float32".into());
    };
    for (c, name) in CHANNEL_NAMES.iter().enumerate() {
        let channel = data
            .index_axis(ndarray::Axis(0), c)
            .insert_axis(ndarray::Axis(0))
            .to_owned();
        let v = Volume::new(VoxelArray::F32(channel), case.images.geometry)?;
        let hi = v.data.min_max().map_or(1.0, |(_, hi)| hi);
        let path = dir.join(format!("case_000_{}.png", name.to_ascii_lowercase()));
        preview::write_mid_slices_png(&v, &path, Some((0.0, hi)))?;
    }
    preview::write_mid_slices_png(
        &case.label,
        &dir.join("case_000_labels.png"),
        Some((0.0, 4.0)),
    )?;
    Ok(())
}
