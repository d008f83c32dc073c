//! Command-line interface: one module per subcommand.

pub mod alloc;
mod bench;
mod bench_ops;
mod convert;
mod demo;
mod info;

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
    /// End-to-end preview: make a phantom, write it as NIfTI and HDF5, read it back, check it.
    Demo(demo::DemoArgs),
    /// Time medburn's operations (median of runs); JSON for scripts that compare with references.
    Bench(bench::BenchArgs),
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> CliResult {
    match cli.command {
        Command::Info(a) => info::run(a),
        Command::Convert(a) => convert::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Bench(a) => bench::run(a),
    }
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

/// Reads any input, honouring `--series` for DICOM.
pub(crate) fn read_input(
    path: &Path,
    series: &Option<String>,
) -> Result<medburn_io::Volume, medburn_io::IoError> {
    match medburn_io::Format::from_path(path)? {
        medburn_io::Format::Dicom => medburn_io::dicom::read_dicom(path, &series_selector(series)),
        _ => medburn_io::read(path),
    }
}
