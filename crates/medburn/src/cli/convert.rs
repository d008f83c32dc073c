use std::path::PathBuf;

use clap::Args;
use medburn_io::nifti::NiftiVersion;
use medburn_io::{Format, VoxelType, WriteOptions};

use super::CliResult;

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Input: NIfTI, DICOM file or folder, HDF5.
    input: PathBuf,
    /// Output: .nii, .nii.gz, .hdr (pair) or .h5, chosen by extension.
    output: PathBuf,
    /// Output voxel type (uint8, int8, int16, uint16, int32, uint32, int64, uint64, float32, float64).
    /// Default: the input's type for NIfTI/HDF5 (with its scaling); for DICOM the narrowest type
    /// that holds the rescaled values.
    #[arg(long)]
    dtype: Option<VoxelType>,
    /// Allow rounding or saturating values that the chosen --dtype cannot hold exactly.
    #[arg(long)]
    lossy: bool,
    /// gzip level 0-9 for .nii.gz and .h5 (2 gives files no larger than nibabel's level 1).
    #[arg(long, default_value_t = 2)]
    compression: u32,
    /// Drop NIfTI header extensions instead of copying them.
    #[arg(long)]
    drop_extensions: bool,
    /// Write NIfTI-2 even when NIfTI-1 would do.
    #[arg(long)]
    nifti2: bool,
    /// For a DICOM folder with several series: which one (UID or index; default the first).
    #[arg(long)]
    series: Option<String>,
    /// Convert a DICOM folder's series without the files that look like DICOM but cannot be
    /// read (a truncated slice), naming them in a note, instead of refusing the folder.
    #[arg(long)]
    skip_unreadable: bool,
}

pub fn run(a: ConvertArgs) -> CliResult {
    let in_format = Format::from_path(&a.input)?;
    // Fail on a bad output name before reading a large input.
    let out_format = Format::from_path(&a.output)?;
    if out_format == Format::Dicom {
        return Err(format!(
            "{}: cannot write DICOM; use .nii, .nii.gz, .hdr or .h5",
            a.output.display()
        )
        .into());
    }
    let volume = super::read_input_with(&a.input, &a.series, a.skip_unreadable)?;
    let (dtype, lossy) = match (a.dtype, in_format) {
        (Some(t), _) => (Some(t), a.lossy),
        // NIfTI and HDF5 keep stored values and scaling: the file's own representation.
        (None, Format::Nifti | Format::Hdf5) => (None, a.lossy),
        // DICOM: write real (rescaled) values; integers exactly, floats to float32 precision.
        (None, Format::Dicom) => {
            let t = volume.natural_type();
            (Some(t), a.lossy || t.is_float())
        }
    };
    let options = WriteOptions {
        dtype,
        lossy,
        compression_level: a.compression,
        keep_extensions: !a.drop_extensions,
        nifti_version: a.nifti2.then_some(NiftiVersion::Two),
    };
    medburn_io::write(&volume, &a.output, &options)?;
    Ok(())
}
