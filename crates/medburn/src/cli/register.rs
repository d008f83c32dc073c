//! `medburn register FIXED MOVING --out DIR` (a linear stage, then a diffeomorphic one) and
//! `medburn apply-transform IMAGE --transform DIR --like FIXED --out OUT`.
//!
//! Everything is computed first and written last, into a temporary folder moved into place,
//! so a refused pair leaves nothing behind.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use medburn_core::{Geometry, MedImage};
use medburn_io::{Volume, VoxelType, WriteOptions};
use medburn_register::{
    register_affine_with_progress, register_deformable_with_progress, AffineRegistrationConfig,
    DeformableRegistrationConfig, Initialization, RegistrationOutputs, RegistrationTransform,
    Similarity, StepProgress, TransformModel,
};
use medburn_spatial::Interpolation;
use serde_json::json;

use super::CliResult;

/// `--init`: where the linear stage starts.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Init {
    /// The translation between the intensity centres of mass (SimpleITK's MOMENTS).
    Moments,
    /// The translation between the grid centres (SimpleITK's GEOMETRY).
    Geometry,
    /// The headers as they are.
    Identity,
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// The fixed image (its grid is the output grid): NIfTI, DICOM file or folder, HDF5.
    fixed: PathBuf,
    /// The moving image, on any grid (registered in physical space).
    moving: PathBuf,
    /// Output folder: warped.nii.gz, affine.tfm, displacement.nii.gz, checkerboard PNGs,
    /// metrics.json (and warped_label.nii.gz with --moving-label).
    #[arg(long)]
    out: PathBuf,
    /// A rigid linear stage (rotation + translation).
    #[arg(long)]
    rigid: bool,
    /// A similarity linear stage (rigid + isotropic scale).
    #[arg(long)]
    similarity: bool,
    /// An affine linear stage (12 parameters).
    #[arg(long)]
    affine: bool,
    /// A diffeomorphic stage (stationary velocity field, scaling and squaring). With none of
    /// --rigid, --similarity, --affine, --deformable: affine then deformable.
    #[arg(long)]
    deformable: bool,
    /// Similarity of the deformable stage: lncc (local correlation: same contrast, robust to
    /// bias fields), mi (global mutual information: different contrasts), mse.
    #[arg(long, default_value = "lncc")]
    metric: String,
    /// Similarity of the linear stage: mi (any contrasts, as ANTs and SimpleITK's examples),
    /// mse (same contrast and scale; the fastest), lncc (every voxel: slow on large images).
    #[arg(long, default_value = "mi")]
    linear_metric: String,
    /// Start of the linear stage.
    #[arg(long, value_enum, default_value = "moments")]
    init: Init,
    /// Resolution pyramid levels (each halves the resolution).
    #[arg(long, default_value_t = 3)]
    levels: usize,
    /// Steps per level of the linear stage.
    #[arg(long, default_value_t = 150)]
    linear_steps: usize,
    /// Fixed voxels the linear stage's MSE or MI is computed on per level (drawn once per
    /// level, as ITK's random sampling); 0 for every voxel. LNCC uses every voxel.
    #[arg(long, default_value_t = 10000)]
    samples: usize,
    /// Steps of the deformable stage at the coarsest level; each finer level takes 0.7 times
    /// the previous one's (100, 70, 49).
    #[arg(long, default_value_t = 100)]
    deformable_steps: usize,
    /// Weight of the deformable stage's smoothness penalty (diffusion of the velocity).
    #[arg(long, default_value_t = 2.0)]
    regularization: f64,
    /// A label map on the moving image's grid, warped the same way (label-linear).
    #[arg(long)]
    moving_label: Option<PathBuf>,
    /// A label map on the fixed image's grid: Dice and surface distances before and after go
    /// into metrics.json (with --moving-label).
    #[arg(long)]
    fixed_label: Option<PathBuf>,
    /// A mask on the fixed image's grid: only its voxels above 0 are compared (e.g. the brain,
    /// so that the skull and the neck do not drive the transform).
    #[arg(long)]
    fixed_mask: Option<PathBuf>,
    /// Landmarks where the true transform is known: a CSV with a header and columns
    /// fixed_x,fixed_y,fixed_z,moving_x,moving_y,moving_z (LPS mm; what `medburn synth --task
    /// registration` writes as true_landmarks.csv): the target registration error before and
    /// after goes into metrics.json.
    #[arg(long)]
    landmarks: Option<PathBuf>,
    /// Device: cpu, wgpu or cuda.
    #[arg(long, default_value = "cpu")]
    device: String,
}

#[derive(Debug, Args)]
pub struct ApplyTransformArgs {
    /// The image to move (on any grid): NIfTI, DICOM file or folder, HDF5.
    image: PathBuf,
    /// The folder `medburn register --out` wrote (affine.tfm, displacement.nii.gz).
    #[arg(long)]
    transform: PathBuf,
    /// The image whose grid the output takes (the fixed image).
    #[arg(long)]
    like: PathBuf,
    /// Output: .nii, .nii.gz or .h5.
    #[arg(long)]
    out: PathBuf,
    /// The image is a label map: label-linear interpolation (or --interp nearest), integer
    /// output.
    #[arg(long)]
    labels: bool,
    /// Interpolation: linear, bspline, nearest or label-linear.
    #[arg(long)]
    interp: Option<Interpolation>,
    /// Device: cpu, wgpu or cuda.
    #[arg(long, default_value = "cpu")]
    device: String,
}

/// Reads a file onto the device; keeps the host volume for its voxel type.
fn load(
    path: &Path,
    device: &medburn_core::Device,
) -> Result<(Volume, MedImage), Box<dyn std::error::Error>> {
    let volume = super::read_input(path, &None)?;
    let image = volume
        .to_image(device)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((volume, image))
}

fn one_channel(path: &Path, image: &MedImage) -> CliResult {
    if image.channels() != 1 {
        return Err(format!(
            "{}: {} channels; registration takes one (pick one with `medburn convert`)",
            path.display(),
            image.channels()
        )
        .into());
    }
    Ok(())
}

fn parse_metric(s: &str) -> Result<Similarity, String> {
    match s.to_ascii_lowercase().as_str() {
        "lncc" => Ok(Similarity::Lncc),
        "mi" => Ok(Similarity::Mi),
        "mse" => Ok(Similarity::Mse),
        other => Err(format!("--metric {other:?}: one of lncc, mi, mse")),
    }
}

/// A progress bar over `len` steps of a stage, showing its level and loss.
fn stage_bar(name: &str, len: usize) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{name:>10} {{bar:30}} {{pos}}/{{len}} steps  {{msg}}  {{elapsed_precise}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn tick(bar: &ProgressBar) -> impl FnMut(StepProgress) + '_ {
    move |p: StepProgress| {
        bar.inc(1);
        if p.step.is_multiple_of(5) {
            bar.set_message(format!("level {} loss {:.4}", p.level, p.loss));
        }
    }
}

pub fn run(a: RegisterArgs) -> CliResult {
    let t0 = Instant::now();
    let metric = parse_metric(&a.metric)?;
    let linear_metric = parse_metric(&a.linear_metric)?;
    // No stage flag at all: affine then deformable.
    let any = a.rigid || a.similarity || a.affine || a.deformable;
    let linear = match (a.rigid, a.similarity, a.affine) {
        (false, false, false) => (!any).then_some(TransformModel::Affine),
        (true, false, false) => Some(TransformModel::Rigid),
        (false, true, false) => Some(TransformModel::Similarity),
        (false, false, true) => Some(TransformModel::Affine),
        _ => return Err("choose one of --rigid, --similarity, --affine".into()),
    };
    let deformable = a.deformable || !any;
    if a.levels == 0 || a.levels > 6 {
        return Err(format!("--levels {}: 1 to 6", a.levels).into());
    }
    if a.out.exists() && !a.out.is_dir() {
        return Err(format!("{}: exists and is not a folder", a.out.display()).into());
    }
    let device = super::parse_device(&a.device)?;
    let (_, fixed) = load(&a.fixed, &device)?;
    let (_, moving) = load(&a.moving, &device)?;
    one_channel(&a.fixed, &fixed)?;
    one_channel(&a.moving, &moving)?;
    let moving_label = match &a.moving_label {
        Some(p) => {
            let (v, image) = load(p, &device)?;
            super::check_label_map(p, &image)?;
            if !same_grid(image.geometry(), moving.geometry()) {
                return Err(format!("{}: not on the moving image's grid", p.display()).into());
            }
            Some((v, image))
        }
        None => None,
    };
    let fixed_label = match &a.fixed_label {
        Some(p) => {
            let (_, image) = load(p, &device)?;
            super::check_label_map(p, &image)?;
            if !same_grid(image.geometry(), fixed.geometry()) {
                return Err(format!("{}: not on the fixed image's grid", p.display()).into());
            }
            Some(image)
        }
        None => None,
    };
    let fixed_mask = match &a.fixed_mask {
        Some(p) => {
            let (_, image) = load(p, &device)?;
            if !same_grid(image.geometry(), fixed.geometry()) {
                return Err(format!("{}: not on the fixed image's grid", p.display()).into());
            }
            Some(image)
        }
        None => None,
    };
    let landmarks = a.landmarks.as_deref().map(read_landmarks).transpose()?;
    let read_s = t0.elapsed().as_secs_f64();
    println!(
        "medburn register: {} -> {} ({:?} -> {:?} voxels), stages: {}{}",
        a.moving.display(),
        a.fixed.display(),
        moving.geometry().size(),
        fixed.geometry().size(),
        linear.map_or(String::new(), |m| format!("{m:?} ").to_lowercase()),
        if deformable { "deformable" } else { "" }
    );

    let mut stages = vec![];
    let mut transform = RegistrationTransform::identity();
    let t_reg = Instant::now();
    if let Some(model) = linear {
        let config = AffineRegistrationConfig::new()
            .with_transform(model)
            .with_metric(linear_metric)
            .with_levels(a.levels)
            .with_steps(a.linear_steps)
            .with_samples(a.samples)
            .with_initialization(match a.init {
                Init::Moments => Initialization::CentreOfMass,
                Init::Geometry => Initialization::GridCentres,
                Init::Identity => Initialization::Identity,
            });
        let t = Instant::now();
        let bar = stage_bar("linear", a.levels * a.linear_steps);
        let r = register_affine_with_progress(
            &fixed,
            &moving,
            fixed_mask.as_ref(),
            &config,
            &mut tick(&bar),
        )?;
        bar.finish_and_clear();
        transform.affine = r.to_itk();
        stages.push(json!({
            "stage": "linear", "transform": format!("{model:?}").to_lowercase(),
            "metric": a.linear_metric, "samples": a.samples, "matrix": r.matrix, "centre": r.centre,
            "levels": r.levels, "seconds": t.elapsed().as_secs_f64(),
        }));
    }
    if deformable {
        let config = DeformableRegistrationConfig::new()
            .with_metric(metric)
            .with_levels(a.levels)
            .with_steps(a.deformable_steps)
            .with_regularization(a.regularization);
        let t = Instant::now();
        let total: usize = (0..a.levels)
            .map(|l| medburn_register::deformable_level_steps(&config, l))
            .sum();
        let bar = stage_bar("deformable", total);
        let r = register_deformable_with_progress(
            &fixed,
            &moving,
            fixed_mask.as_ref(),
            &transform.affine,
            &config,
            &mut tick(&bar),
        )?;
        bar.finish_and_clear();
        stages.push(json!({
            "stage": "deformable", "metric": a.metric, "regularization": a.regularization,
            "levels": r.levels, "jacobian": r.jacobian, "seconds": t.elapsed().as_secs_f64(),
        }));
        transform.displacement = Some(r.displacement);
    }
    let register_s = t_reg.elapsed().as_secs_f64();

    let t_write = Instant::now();
    let outputs = RegistrationOutputs {
        fixed: &fixed,
        moving: &moving,
        transform,
        moving_label: moving_label
            .as_ref()
            .map(|(v, image)| (image, v.natural_type())),
        fixed_label: fixed_label.as_ref(),
        landmarks: landmarks
            .as_ref()
            .map(|(f, m)| (f.as_slice(), m.as_slice())),
    };
    let deformable_written = outputs.transform.displacement.is_some();
    let metrics = outputs.write(
        &a.out,
        json!({
            "fixed": a.fixed, "moving": a.moving,
            "stages": stages,
            "seconds": {"read": read_s, "register": register_s},
        }),
    )?;
    let total = t0.elapsed().as_secs_f64();
    // The times of the whole command, with the writing, into the file just written.
    let mut metrics = metrics;
    metrics["seconds"]["write"] = json!(t_write.elapsed().as_secs_f64());
    metrics["seconds"]["total"] = json!(total);
    let path = a.out.join(medburn_register::METRICS_FILE);
    std::fs::write(&path, serde_json::to_string_pretty(&metrics)? + "\n")
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let labels = &metrics["labels"];
    let tre = &metrics["target_registration_error_mm"];

    for s in &stages {
        let levels = s["levels"].as_array().map_or(0, Vec::len);
        let last = &s["levels"][levels.saturating_sub(1)]["loss"];
        println!(
            "  {} stage: {} levels, final loss {:.4} ({:.1} s)",
            s["stage"].as_str().unwrap_or("?"),
            levels,
            last[1].as_f64().unwrap_or(f64::NAN),
            s["seconds"].as_f64().unwrap_or(0.0)
        );
        if let Some(j) = s.get("jacobian") {
            println!(
                "    Jacobian: folding {:.4}% of voxels, det {:.3}..{:.3}, std log det {:.4}",
                100.0 * j["folding_fraction"].as_f64().unwrap_or(f64::NAN),
                j["min"].as_f64().unwrap_or(f64::NAN),
                j["max"].as_f64().unwrap_or(f64::NAN),
                j["log_det_std"].as_f64().unwrap_or(f64::NAN)
            );
        }
    }
    if !labels.is_null() {
        println!(
            "  mean Dice of the labels: {:.4} before, {:.4} after",
            labels["before"]["mean_dice"].as_f64().unwrap_or(f64::NAN),
            labels["after"]["mean_dice"].as_f64().unwrap_or(f64::NAN)
        );
    }
    if !tre.is_null() {
        println!(
            "  target registration error: mean {:.3} mm before, {:.3} mm after (max {:.3} mm), {} landmarks",
            tre["before"]["mean"].as_f64().unwrap_or(f64::NAN),
            tre["after"]["mean"].as_f64().unwrap_or(f64::NAN),
            tre["after"]["max"].as_f64().unwrap_or(f64::NAN),
            tre["after"]["count"].as_u64().unwrap_or(0)
        );
    }
    println!(
        "  wrote {} (warped.nii.gz, affine.tfm{}{}, checkerboard_before/after.png, metrics.json) in {total:.1} s",
        a.out.display(),
        if deformable_written { ", displacement.nii.gz" } else { "" },
        if moving_label.is_some() { ", warped_label.nii.gz" } else { "" },
    );
    Ok(())
}

/// Landmark points: the fixed ones and the true moving ones.
type Landmarks = (Vec<[f64; 3]>, Vec<[f64; 3]>);

/// Fixed and moving landmark points from a CSV with a header row and six columns.
fn read_landmarks(path: &Path) -> Result<Landmarks, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (mut fixed, mut moving) = (vec![], vec![]);
    for (n, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let v: Vec<f64> = line
            .split(',')
            .map(|x| x.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{}: line {}: {e}", path.display(), n + 1))?;
        if v.len() != 6 || v.iter().any(|x| !x.is_finite()) {
            return Err(format!(
                "{}: line {}: six finite numbers expected (fixed_x,fixed_y,fixed_z,moving_x,moving_y,moving_z)",
                path.display(),
                n + 1
            )
            .into());
        }
        fixed.push([v[0], v[1], v[2]]);
        moving.push([v[3], v[4], v[5]]);
    }
    if fixed.is_empty() {
        return Err(format!("{}: no landmarks", path.display()).into());
    }
    Ok((fixed, moving))
}

/// The same grid up to the rounding of a file's header.
fn same_grid(a: &Geometry, b: &Geometry) -> bool {
    medburn_datasets::same_grid(a, b)
}

pub fn apply(a: ApplyTransformArgs) -> CliResult {
    let device = super::parse_device(&a.device)?;
    let interpolation = match (a.labels, a.interp) {
        (true, None) => Interpolation::LabelLinear,
        (true, Some(i @ (Interpolation::Nearest | Interpolation::LabelLinear))) => i,
        (true, Some(i)) => {
            return Err(format!("--labels take nearest or label-linear, not {i}").into())
        }
        (false, Some(Interpolation::NearestExact)) => {
            return Err("--interp nearest-exact is not a resampling rule: use nearest".into())
        }
        (false, Some(i)) => i,
        (false, None) => Interpolation::Linear,
    };
    let transform = RegistrationTransform::read(&a.transform, &device)?;
    let like = super::read_input(&a.like, &None)?.geometry;
    let (volume, image) = load(&a.image, &device)?;
    if a.labels {
        super::check_label_map(&a.image, &image)?;
    }
    if image.channels() != 1 && interpolation == Interpolation::LabelLinear {
        return Err(format!("{}: a label map has one channel", a.image.display()).into());
    }
    let out = transform.apply(&image, &like, interpolation)?;
    let v = Volume::from_image(&out)?;
    let dtype = if a.labels {
        let t = volume.natural_type();
        if t.is_float() {
            VoxelType::U16
        } else {
            t
        }
    } else {
        VoxelType::F32
    };
    let options = WriteOptions {
        dtype: Some(dtype),
        lossy: true,
        ..WriteOptions::default()
    };
    medburn_io::write(&v, &a.out, &options)?;
    println!(
        "medburn apply-transform: {} -> {} on the grid of {} ({:?} voxels)",
        a.image.display(),
        a.out.display(),
        a.like.display(),
        like.size()
    );
    Ok(())
}
