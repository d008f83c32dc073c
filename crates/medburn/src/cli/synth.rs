use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use medburn_datasets::synth::registration::{
    write_registration_dataset, RegistrationConfig, RegistrationPair,
};
use medburn_datasets::synth::{
    write_msd_dataset, ContrastMode, SynthCase, SynthConfig, CHANNEL_NAMES,
};
use medburn_io::{preview, Volume, VoxelArray};

use super::CliResult;

/// `--task`: which data set to make.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
enum Task {
    /// A segmentation data set in the Decathlon layout (imagesTr/, labelsTr/, dataset.json).
    #[default]
    Segmentation,
    /// Registration pairs (OUT/pairs/pair_XXX/, OUT/pairs.json): same-subject pairs under a
    /// known deformation plus affine, different-subject pairs with labels.
    Registration,
}

/// `--contrast`: how tissue intensities are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Contrast {
    /// T1-, T2- and FLAIR-like contrasts.
    Realistic,
    /// Domain randomization: every tissue's intensities drawn per case and channel.
    Randomized,
}

const REGISTRATION_HELP: &str = "\
--task registration writes:
  OUT/pairs.json                     every pair: kind (same-subject or different-subject),
                                     cases, contrasts, files, grids, truth summary
  OUT/pairs/pair_XXX/fixed.nii.gz    float32, one channel (T1 by default)
                     moving.nii.gz   float32, one channel on its own grid (T2 in a share of pairs)
                     fixed_label.nii.gz, moving_label.nii.gz   uint8: 0 bg 1 CSF 2 GM 3 WM 4 lesion
  same-subject pairs also:
                     true_displacement.nii.gz  u on the fixed grid: float64 vectors, LPS mm,
                                               dims [x,y,z,1,3], NIfTI intent 1007 (vector)
                     true_affine.tfm           A, an ITK AffineTransform_double_3_3
                     true_landmarks.csv        fixed_x,fixed_y,fixed_z,moving_x,moving_y,moving_z
The true transform maps a fixed point to the moving point of the same anatomy (LPS mm):
T(x) = A(x + u(x)). In SimpleITK, CompositeTransform([ReadTransform(true_affine.tfm),
DisplacementFieldTransform(u)]) applies u first; Resample(moving, fixed, T) brings the moving
image onto the fixed grid. Pair p uses case 2p (and 2p + 1 for a different subject).";

#[derive(Debug, Args)]
#[command(after_long_help = REGISTRATION_HELP)]
pub struct SynthArgs {
    /// Output folder (created if missing). Segmentation: imagesTr/, labelsTr/, imagesTs/,
    /// labelsTs/, dataset.json, participants.csv (each case's age and sex). Registration:
    /// pairs/pair_XXX/ and pairs.json (see --help).
    #[arg(long)]
    out: PathBuf,
    /// What to make: a segmentation data set or registration pairs.
    #[arg(long, value_enum, default_value_t = Task::Segmentation)]
    task: Task,
    /// Training cases (imagesTr + labelsTr), at least 1; segmentation only.
    #[arg(long)]
    cases: Option<usize>,
    /// Registration pairs, at least 1; registration only.
    #[arg(long)]
    pairs: Option<usize>,
    /// Seed: case k is the same for a seed whatever --cases is [default: 0, or the --config's].
    #[arg(long)]
    seed: Option<u64>,
    /// Voxels per side, at least 16 [default: 96, or the --config's].
    #[arg(long)]
    size: Option<usize>,
    /// Tissue intensities: realistic (T1/T2/FLAIR-like contrasts) or randomized (every tissue's
    /// mean and spread drawn per case and channel, texture, random resolution, a share of
    /// skull-stripped cases: domain randomization as SynthSeg's) [default: realistic, or the
    /// --config's].
    #[arg(long, value_enum)]
    contrast: Option<Contrast>,
    /// Test cases (imagesTs; their labels go to labelsTs), numbered after the training cases;
    /// segmentation only.
    #[arg(long, default_value_t = 0)]
    test_cases: usize,
    /// JSON generator settings (fields of medburn_datasets::synth::SynthConfig; unnamed ones keep
    /// their defaults). --seed and --size override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// JSON registration settings (fields of
    /// medburn_datasets::synth::registration::RegistrationConfig: deformation, affine, contrasts,
    /// landmarks); registration only. The two options below override it.
    #[arg(long)]
    registration_config: Option<PathBuf>,
    /// The share of same-subject pairs (the others pair two subjects) [default: 0.5].
    #[arg(long)]
    same_subject_fraction: Option<f64>,
    /// The share of pairs (of each kind) whose moving image is T2 rather than T1 [default: 0.5].
    #[arg(long)]
    other_contrast_fraction: Option<f64>,
    /// Also write PNGs of the first case's (or pair's) mid-slices to OUT/preview/.
    #[arg(long)]
    preview: bool,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str::<T>(&text).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn run(a: SynthArgs) -> CliResult {
    let mut config = match &a.config {
        Some(path) => read_json::<SynthConfig>(path)?,
        None => SynthConfig::default(),
    };
    if let Some(seed) = a.seed {
        config.seed = seed;
    }
    if let Some(contrast) = a.contrast {
        config.contrast = match contrast {
            Contrast::Realistic => ContrastMode::Realistic,
            Contrast::Randomized => ContrastMode::Randomized,
        };
    }
    if let Some(size) = a.size {
        config.size = size;
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
    match a.task {
        Task::Segmentation => {
            let registration_only = [
                ("--pairs", a.pairs.is_some()),
                ("--registration-config", a.registration_config.is_some()),
                ("--same-subject-fraction", a.same_subject_fraction.is_some()),
                (
                    "--other-contrast-fraction",
                    a.other_contrast_fraction.is_some(),
                ),
            ];
            if let Some((name, _)) = registration_only.iter().find(|(_, given)| *given) {
                return Err(format!("{name} needs --task registration").into());
            }
            let cases = match a.cases {
                Some(0) | None => {
                    return Err("--cases must be at least 1 (the training cases)".into())
                }
                Some(n) => n,
            };
            run_segmentation(&a, &config, cases)
        }
        Task::Registration => {
            if a.cases.is_some() || a.test_cases != 0 {
                return Err(
                    "--cases and --test-cases are for --task segmentation: registration takes \
                     --pairs"
                        .into(),
                );
            }
            let pairs = match a.pairs {
                Some(0) | None => return Err("--pairs must be at least 1".into()),
                Some(n) => n,
            };
            let mut reg = match &a.registration_config {
                Some(path) => read_json::<RegistrationConfig>(path)?,
                None => RegistrationConfig::default(),
            };
            if let Some(f) = a.same_subject_fraction {
                reg.same_subject_fraction = f;
            }
            if let Some(f) = a.other_contrast_fraction {
                reg.other_contrast_fraction = f;
            }
            reg.validate()?;
            run_registration(&a, &config, &reg, pairs)
        }
    }
}

fn progress_bar(total: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{bar:40}} {{pos}}/{{len}} {what}  {{elapsed_precise}} (eta {{eta}})"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn run_registration(
    a: &SynthArgs,
    config: &SynthConfig,
    reg: &RegistrationConfig,
    pairs: usize,
) -> CliResult {
    println!(
        "medburn synth --task registration: {pairs} pairs of {}^3 voxels, seed {}, into {}",
        config.size,
        config.seed,
        a.out.display()
    );
    let bar = progress_bar(pairs, "pairs");
    let t = Instant::now();
    let mut preview_error = None;
    let preview_dir = a.out.join("preview");
    let summary = write_registration_dataset(&a.out, config, reg, pairs, &mut |done, pair| {
        if a.preview && pair.params.index == 0 {
            if let Err(e) = write_pair_previews(pair, &preview_dir) {
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
        "  wrote {pairs} pairs ({} same-subject with the true transform, {} different-subject) in \
         {secs:.2} s ({:.2} s per pair), {}",
        summary.same_subject,
        pairs - summary.same_subject,
        secs / pairs as f64,
        summary.pairs_json.display()
    );
    if a.preview {
        println!(
            "  wrote previews of pair_000 to {} (fixed, moving, their labels)",
            preview_dir.display()
        );
    }
    Ok(())
}

/// Mid-slice PNGs of a pair's images and labels.
fn write_pair_previews(pair: &RegistrationPair, dir: &std::path::Path) -> CliResult {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (v, name) in [(&pair.fixed, "fixed"), (&pair.moving, "moving")] {
        let hi = v.data.min_max().map_or(1.0, |(_, hi)| hi);
        preview::write_mid_slices_png(
            v,
            &dir.join(format!("pair_000_{name}.png")),
            Some((0.0, hi)),
        )?;
    }
    for (v, name) in [(&pair.fixed_label, "fixed"), (&pair.moving_label, "moving")] {
        let path = dir.join(format!("pair_000_{name}_labels.png"));
        preview::write_mid_slices_png(v, &path, Some((0.0, 4.0)))?;
    }
    Ok(())
}

fn run_segmentation(a: &SynthArgs, config: &SynthConfig, cases: usize) -> CliResult {
    let total = cases + a.test_cases;
    println!(
        "medburn synth: {} training + {} test cases of {}^3 voxels, seed {}, into {}",
        cases,
        a.test_cases,
        config.size,
        config.seed,
        a.out.display()
    );
    let bar = progress_bar(total, "cases");
    let t = Instant::now();
    let mut preview_error = None;
    let preview_dir = a.out.join("preview");
    let summary = write_msd_dataset(&a.out, config, cases, a.test_cases, &mut |done, case| {
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
