//! Command-line interface: one module per subcommand.

pub mod alloc;
mod augment;
mod baseline;
mod bench;
mod convert;
mod data;
mod demo;
mod info;
mod io_demo;
pub mod malloc;
mod models;
mod register;
mod synth;
mod train;
mod transform;

use std::path::Path;

use clap::{Parser, Subcommand};
use medburn_io::dicom::SeriesSelector;

/// Errors of the command line: one line each.
pub type CliResult = Result<(), Box<dyn std::error::Error>>;

/// medburn: 3D medical images with their physical geometry, on Burn.
#[derive(Debug, Parser)]
#[command(name = "medburn", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print size, spacing, origin, direction, orientation, dtype and modality of an image.
    Info(info::InfoArgs),
    /// Convert any readable image (NIfTI, DICOM file or folder, HDF5) to .nii, .nii.gz or .h5.
    Convert(convert::ConvertArgs),
    /// The main job: synthetic brain MR data, a 3D U-Net trained on it, held-out Dice, a predicted NIfTI.
    Demo(demo::DemoArgs),
    /// I/O preview: make a phantom, write it as NIfTI (and HDF5), read it back, check it.
    IoDemo(io_demo::IoDemoArgs),
    /// Random augmentation of an image (and its label map), K versions, with a PNG montage.
    Augment(augment::AugmentArgs),
    /// Time medburn's operations (median of runs); JSON for scripts that compare with references.
    Bench(bench::BenchArgs),
    /// Resample to a spacing (--spacing) or onto another image's grid (--like).
    Resample(transform::ResampleArgs),
    /// Reorient to an orientation code (exact permutation and flip, no interpolation).
    Reorient(transform::ReorientArgs),
    /// Rotate the content about a world axis through the image centre (or --centre).
    Rotate(transform::RotateArgs),
    /// Crop to a box of voxels.
    Crop(transform::CropArgs),
    /// Pad with a constant, the edge values, or a reflection.
    Pad(transform::PadArgs),
    /// Move the image: its origin only (exact), or its content on the same grid (--resample).
    Translate(transform::TranslateArgs),
    /// Scale the content about the image centre, on the same grid.
    Scale(transform::ScaleArgs),
    /// Synthetic brain MR data (T1, T2, FLAIR; CSF, GM, WM, lesion; age and sex) in the Decathlon layout.
    Synth(synth::SynthArgs),
    /// Data sets: `medburn data check DIR` reads every file of a Decathlon, nnU-Net, BIDS,
    /// DICOM-series or CSV/JSON data set and lists its cases, grids, labels and problems.
    Data(data::DataArgs),
    /// Train a network for a task: segment (U-Net), regress or classify (Regressor, ResNets),
    /// on a Decathlon folder or a CSV/JSON manifest (TOML config; checkpoints; --resume).
    Train(train::TrainArgs),
    /// Predict with a trained model: label maps on each input's grid (segmentation), values
    /// and classes in predictions.csv (regression, classification), fine-grid images
    /// (super-resolution), reconstructions and latents.csv (autoencoders), registrations.
    Predict(train::PredictArgs),
    /// Decode random draws from a trained variational autoencoder's prior: NIfTI samples and
    /// a montage PNG.
    Sample(train::SampleArgs),
    /// The segmentation baseline without a network: a per-voxel Gaussian classifier of the
    /// z-scored intensities, fitted on the training cases, Dice on the test cases.
    Baseline(baseline::BaselineArgs),
    /// The networks: `medburn models summary NAME` prints a layer table and parameter count.
    Models(models::ModelsArgs),
    /// Register a moving image to a fixed one in physical space (affine, then diffeomorphic by
    /// default): warped image, ITK transform files, checkerboard PNGs, metrics.json.
    Register(register::RegisterArgs),
    /// Apply a saved registration (`medburn register --out DIR`) to any image or label map.
    ApplyTransform(register::ApplyTransformArgs),
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> CliResult {
    match cli.command {
        Command::Info(a) => info::run(a),
        Command::Convert(a) => convert::run(a),
        Command::Demo(a) => demo::run(a),
        Command::IoDemo(a) => io_demo::run(a),
        Command::Augment(a) => augment::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Resample(a) => transform::resample(a),
        Command::Reorient(a) => transform::reorient(a),
        Command::Rotate(a) => transform::rotate(a),
        Command::Crop(a) => transform::crop(a),
        Command::Pad(a) => transform::pad(a),
        Command::Translate(a) => transform::translate(a),
        Command::Scale(a) => transform::scale(a),
        Command::Synth(a) => synth::run(a),
        Command::Data(a) => data::run(a),
        Command::Train(a) => train::run(a),
        Command::Predict(a) => train::run_predict(a),
        Command::Sample(a) => train::run_sample(a),
        Command::Baseline(a) => baseline::run(a),
        Command::Models(a) => models::run(a),
        Command::Register(a) => register::run(a),
        Command::ApplyTransform(a) => register::apply(a),
    }
}

/// `--device cpu|wgpu|cuda`: Flex, wgpu (any GPU, or Mesa's software Vulkan), CUDA (with the
/// `cuda` feature).
pub(crate) fn parse_device(name: &str) -> Result<medburn_core::Device, Box<dyn std::error::Error>> {
    Ok(medburn_core::device_by_name(name)?)
}

/// `--series UID|INDEX` for DICOM folders holding several series.
pub(crate) fn series_selector(series: &Option<String>) -> SeriesSelector {
    match series {
        None => SeriesSelector::First,
        Some(s) => match s.parse::<usize>() {
            Ok(i) if s.len() < 4 => SeriesSelector::Index(i),
            _ => SeriesSelector::Uid(s.clone()),
        },
    }
}

/// Reads any input, honouring `--series` for DICOM; a DICOM folder's files that look like DICOM
/// but cannot be read are refused unless `skip_unreadable`. What a folder read skipped is said
/// on stderr, one line each.
pub(crate) fn read_input(
    path: &Path,
    series: &Option<String>,
) -> Result<medburn_io::Volume, medburn_io::IoError> {
    read_input_with(path, series, false)
}

/// [`read_input`] with `--skip-unreadable`.
pub(crate) fn read_input_with(
    path: &Path,
    series: &Option<String>,
    skip_unreadable: bool,
) -> Result<medburn_io::Volume, medburn_io::IoError> {
    match medburn_io::Format::from_path(path)? {
        medburn_io::Format::Dicom => {
            let options = medburn_io::dicom::DicomReadOptions { skip_unreadable };
            let v = medburn_io::dicom::read_dicom_with(path, &series_selector(series), &options)?;
            for key in ["dicom:skipped_not_dicom", "dicom:skipped_unreadable"] {
                if let Some(note) = v.metadata.get(key) {
                    eprintln!("note: {}: {note}", path.display());
                }
            }
            Ok(v)
        }
        _ => medburn_io::read(path),
    }
}

/// A label map must hold class indices: finite, whole, non-negative values (a float file whose
/// values are all whole numbers is fine). The error names the file and the first bad value.
pub(crate) fn check_label_map(
    path: &Path,
    image: &medburn_core::MedImage,
) -> Result<(), Box<dyn std::error::Error>> {
    medburn_ops::label_values(image.voxels())
        .map(|_| ())
        .map_err(|e| format!("{}: not a label map: {e}", path.display()).into())
}
