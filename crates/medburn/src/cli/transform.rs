//! The spatial-transform commands: resample, reorient, rotate, crop, pad, translate, scale.
//! Each reads any input, moves it to `--device`, applies one `medburn_spatial` transform and
//! writes the result (atomically) by the output's extension.

use std::path::{Path, PathBuf};

use clap::Args;
use medburn_core::{MedImage, Orientation};
use medburn_io::{Volume, VoxelType, WriteOptions};
use medburn_spatial::{Axis, Interpolation, PadFill};

use super::CliResult;

/// Input, output and the options every transform command takes.
#[derive(Debug, Args)]
pub struct Common {
    /// Input: NIfTI, DICOM file or folder, HDF5.
    input: PathBuf,
    /// Output: .nii, .nii.gz, .hdr or .h5.
    output: PathBuf,
    /// Device: cpu, wgpu or cuda.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// The input is a label map: nearest-neighbour interpolation, integer output.
    #[arg(long)]
    label: bool,
    /// Output voxel type (default: float32 after interpolation; the input's own type for label
    /// maps and for operations that only move voxels).
    #[arg(long)]
    dtype: Option<VoxelType>,
}

/// `--interp nearest|linear|bspline|label-linear` (any name `medburn_ops::Interpolation`
/// parses).
#[derive(Debug, Args)]
pub struct Interp {
    /// Interpolation: nearest, linear, bspline or label-linear (label maps: nearest unless
    /// label-linear is asked for).
    #[arg(long)]
    interp: Option<Interpolation>,
}

/// Three comma-separated values; the error says which one is wrong and why (`what` names the
/// kind of number the option takes).
fn parse3<T: std::str::FromStr>(s: &str, what: &str) -> Result<[T; 3], String>
where
    T::Err: std::fmt::Display,
{
    let parts: Vec<&str> = s.split(',').collect();
    if parts.len() != 3 {
        return Err(format!(
            "{s:?}: expected three {what} separated by commas, got {}",
            parts.len()
        ));
    }
    let mut out = Vec::with_capacity(3);
    for (n, p) in parts.iter().enumerate() {
        let v = p.trim().parse::<T>().map_err(|e| {
            format!(
                "{s:?}: the {} value {:?} is not one of the {what} this option takes ({e})",
                ["first", "second", "third"][n],
                p.trim()
            )
        })?;
        out.push(v);
    }
    out.try_into()
        .map_err(|_| unreachable!("three values were parsed"))
}

/// Three finite numbers (NaN and infinity are refused here, before any file is read).
fn parse_f3(s: &str) -> Result<[f64; 3], String> {
    let v: [f64; 3] = parse3(s, "numbers")?;
    if let Some(n) = (0..3).find(|&n| !v[n].is_finite()) {
        return Err(format!(
            "{s:?}: the {} value is {}, not a finite number",
            ["first", "second", "third"][n],
            v[n]
        ));
    }
    Ok(v)
}

/// Three whole numbers of voxels, at least 0.
fn parse_u3(s: &str) -> Result<[usize; 3], String> {
    parse3(s, "whole numbers of voxels (0 or more)")
}

/// Reads the input onto the device; keeps the host volume for its voxel type.
fn load(c: &Common) -> Result<(Volume, MedImage), Box<dyn std::error::Error>> {
    let device = super::parse_device(&c.device)?;
    let volume = super::read_input(&c.input, &None)?;
    let image = volume
        .to_image(&device)
        .map_err(|e| format!("{}: {e}", c.input.display()))?;
    if c.label {
        super::check_label_map(&c.input, &image)?;
    }
    Ok((volume, image))
}

/// The interpolation: `--interp`, else nearest for label maps, else linear.
fn interpolation(c: &Common, i: &Interp) -> Result<Interpolation, String> {
    match (c.label, i.interp) {
        (true, Some(i @ (Interpolation::Nearest | Interpolation::LabelLinear))) => Ok(i),
        (true, Some(other)) => Err(format!(
            "--label maps take nearest or label-linear interpolation, not {other}"
        )),
        (false, Some(Interpolation::NearestExact)) => Err(
            "--interp nearest-exact is PyTorch's interpolate rule; the transforms' nearest is \
             the nearest voxel centre already: use nearest"
                .into(),
        ),
        (_, Some(i)) => Ok(i),
        (true, None) => Ok(Interpolation::Nearest),
        (false, None) => Ok(Interpolation::Linear),
    }
}

/// Writes `image`: `--dtype`, else the input's type when values were only moved (or are
/// labels), else float32.
fn save(c: &Common, input: &Volume, image: &MedImage, values_moved_only: bool) -> CliResult {
    let out = Volume::from_image(image)?;
    let (dtype, lossy) = match c.dtype {
        Some(t) => (t, true),
        None if values_moved_only || c.label => {
            let t = input.natural_type();
            (t, t.is_float())
        }
        None => (VoxelType::F32, false),
    };
    let options = WriteOptions {
        dtype: Some(dtype),
        lossy,
        ..WriteOptions::default()
    };
    medburn_io::write(&out, &c.output, &options)?;
    Ok(())
}

pub(super) fn check_output(path: &Path) -> CliResult {
    if medburn_io::Format::from_path(path)? == medburn_io::Format::Dicom {
        return Err(format!(
            "{}: cannot write DICOM; use .nii, .nii.gz, .hdr or .h5",
            path.display()
        )
        .into());
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct ResampleArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    interp: Interp,
    /// New spacing in mm along i, j, k: SX,SY,SZ (origin kept, ceil(n * s / s') voxels).
    #[arg(long, value_parser = parse_f3, allow_hyphen_values = true, conflicts_with = "like", required_unless_present = "like")]
    spacing: Option<[f64; 3]>,
    /// Resample onto this image's grid (size, origin, spacing, direction).
    #[arg(long)]
    like: Option<PathBuf>,
}

pub fn resample(a: ResampleArgs) -> CliResult {
    check_output(&a.common.output)?;
    let interp = interpolation(&a.common, &a.interp)?;
    let (volume, image) = load(&a.common)?;
    let out = match (a.spacing, &a.like) {
        (Some(s), _) => medburn_spatial::resample_to_spacing(&image, s, interp)?,
        (None, Some(like)) => {
            let fixed = super::read_input(like, &None)?;
            let grid = fixed.geometry;
            medburn_spatial::resample(&image, &grid, None, interp)?
        }
        (None, None) => return Err("give --spacing or --like".into()),
    };
    save(&a.common, &volume, &out, false)
}

#[derive(Debug, Args)]
pub struct ReorientArgs {
    #[command(flatten)]
    common: Common,
    /// Orientation code (where i, j, k point to), e.g. RAS, LPS, PIR.
    #[arg(long)]
    to: Orientation,
}

pub fn reorient(a: ReorientArgs) -> CliResult {
    check_output(&a.common.output)?;
    let (volume, image) = load(&a.common)?;
    let out = medburn_spatial::change_orientation(&image, a.to)?;
    save(&a.common, &volume, &out, true)
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    interp: Interp,
    /// World (LPS) axis: x, y, z or VX,VY,VZ.
    #[arg(long)]
    axis: Axis,
    /// Angle in degrees; the content turns by the right-hand rule.
    #[arg(long, allow_hyphen_values = true)]
    angle: f64,
    /// Centre of rotation in mm (default: the image's physical centre).
    #[arg(long, value_parser = parse_f3, allow_hyphen_values = true)]
    centre: Option<[f64; 3]>,
}

pub fn rotate(a: RotateArgs) -> CliResult {
    check_output(&a.common.output)?;
    let interp = interpolation(&a.common, &a.interp)?;
    let (volume, image) = load(&a.common)?;
    let out = medburn_spatial::rotate(&image, a.axis, a.angle, a.centre, interp)?;
    save(&a.common, &volume, &out, false)
}

#[derive(Debug, Args)]
pub struct CropArgs {
    #[command(flatten)]
    common: Common,
    /// First voxel kept, I,J,K.
    #[arg(long, value_parser = parse_u3, allow_hyphen_values = true)]
    start: [usize; 3],
    /// Voxels kept along i, j, k.
    #[arg(long, value_parser = parse_u3, allow_hyphen_values = true)]
    size: [usize; 3],
}

pub fn crop(a: CropArgs) -> CliResult {
    check_output(&a.common.output)?;
    let (volume, image) = load(&a.common)?;
    let out = medburn_spatial::crop(&image, a.start, a.size)?;
    save(&a.common, &volume, &out, true)
}

#[derive(Debug, Args)]
pub struct PadArgs {
    #[command(flatten)]
    common: Common,
    /// Voxels added before the first along i, j, k.
    #[arg(long, value_parser = parse_u3, allow_hyphen_values = true)]
    before: [usize; 3],
    /// Voxels added after the last along i, j, k.
    #[arg(long, value_parser = parse_u3, allow_hyphen_values = true)]
    after: [usize; 3],
    /// constant, edge or reflect.
    #[arg(long, default_value = "constant")]
    mode: PadFill,
    /// The constant for --mode constant.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    value: f32,
}

pub fn pad(a: PadArgs) -> CliResult {
    check_output(&a.common.output)?;
    let (volume, image) = load(&a.common)?;
    let fill = match a.mode {
        PadFill::Constant(_) => PadFill::Constant(a.value),
        other => other,
    };
    let out = medburn_spatial::pad(&image, a.before, a.after, fill)?;
    // A constant the input type cannot hold makes the writer refuse rather than round.
    save(&a.common, &volume, &out, true)
}

#[derive(Debug, Args)]
pub struct TranslateArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    interp: Interp,
    /// Offset in mm (LPS): X,Y,Z.
    #[arg(long, value_parser = parse_f3, allow_hyphen_values = true)]
    offset: [f64; 3],
    /// Move the content on the same grid (interpolated) instead of moving the origin (exact).
    #[arg(long)]
    resample: bool,
}

pub fn translate(a: TranslateArgs) -> CliResult {
    check_output(&a.common.output)?;
    let interp = interpolation(&a.common, &a.interp)?;
    let (volume, image) = load(&a.common)?;
    if a.resample {
        let out = medburn_spatial::translate(&image, a.offset, interp)?;
        save(&a.common, &volume, &out, false)
    } else {
        let out = medburn_spatial::translate_origin(&image, a.offset)?;
        save(&a.common, &volume, &out, true)
    }
}

#[derive(Debug, Args)]
pub struct ScaleArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    interp: Interp,
    /// Factor along x, y, z (one number for all three, or FX,FY,FZ).
    #[arg(long, allow_hyphen_values = true)]
    factor: String,
}

pub fn scale(a: ScaleArgs) -> CliResult {
    check_output(&a.common.output)?;
    let interp = interpolation(&a.common, &a.interp)?;
    let factor = match a.factor.parse::<f64>() {
        Ok(f) => [f; 3],
        Err(_) => parse_f3(&a.factor)?,
    };
    let (volume, image) = load(&a.common)?;
    let out = medburn_spatial::scale(&image, factor, interp)?;
    save(&a.common, &volume, &out, false)
}
