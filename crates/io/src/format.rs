//! Choosing a reader or writer by path, and the options writers share.

use std::path::Path;

#[cfg(feature = "burn")]
use burn::tensor::Device;
#[cfg(feature = "burn")]
use medburn_core::MedImage;

use crate::nifti::NiftiVersion;
use crate::{IoError, IoErrorKind, Result, Volume, VoxelType};

/// The file formats medburn reads and writes.
///
/// ```
/// use medburn_io::Format;
/// assert_eq!(Format::from_path("a/b.nii.gz".as_ref()).unwrap(), Format::Nifti);
/// assert_eq!(Format::from_path("x.H5".as_ref()).unwrap(), Format::Hdf5);
/// assert!(Format::from_path("x.png".as_ref()).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// NIfTI-1/2: `.nii`, `.nii.gz`, `.hdr`/`.img` (optionally gzipped).
    Nifti,
    /// DICOM: a file or a folder of series.
    Dicom,
    /// HDF5: `.h5`, `.hdf5`.
    Hdf5,
}

impl Format {
    /// The format of `path`: by extension, else (for existing files) by content.
    ///
    /// ```
    /// use medburn_io::Format;
    /// assert_eq!(Format::from_path("ct/IM0001.dcm".as_ref()).unwrap(), Format::Dicom);
    /// ```
    pub fn from_path(path: &Path) -> Result<Format> {
        if path.is_dir() {
            return Ok(Format::Dicom);
        }
        let name = path.to_string_lossy().to_ascii_lowercase();
        let by_ext = [
            (".nii", Format::Nifti),
            (".nii.gz", Format::Nifti),
            (".hdr", Format::Nifti),
            (".hdr.gz", Format::Nifti),
            (".img", Format::Nifti),
            (".img.gz", Format::Nifti),
            (".h5", Format::Hdf5),
            (".hdf5", Format::Hdf5),
            (".dcm", Format::Dicom),
            (".dicom", Format::Dicom),
            (".ima", Format::Dicom),
        ];
        if let Some((_, f)) = by_ext.iter().find(|(e, _)| name.ends_with(e)) {
            return Ok(*f);
        }
        if path.is_file() {
            if let Some(f) = sniff(path) {
                return Ok(f);
            }
        }
        Err(IoError::new(
            path,
            IoErrorKind::UnknownFormat(
                "expected .nii, .nii.gz, .hdr/.img, .h5/.hdf5, a DICOM file or a DICOM folder"
                    .into(),
            ),
        ))
    }
}

/// Guesses a format from the first bytes of a file with an unknown extension.
fn sniff(path: &Path) -> Option<Format> {
    use std::io::Read;
    let mut head = [0u8; 132];
    let mut f = std::fs::File::open(path).ok()?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    let head = &head[..n];
    if head.len() >= 132 && &head[128..132] == b"DICM" {
        return Some(Format::Dicom);
    }
    if head.starts_with(b"\x89HDF\r\n\x1a\n") {
        return Some(Format::Hdf5);
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        return Some(Format::Nifti);
    }
    if head.len() >= 4 {
        let s = [head[0], head[1], head[2], head[3]];
        if [348, 540].contains(&i32::from_le_bytes(s))
            || [348, 540].contains(&i32::from_be_bytes(s))
        {
            return Some(Format::Nifti);
        }
    }
    None
}

/// Options shared by the writers.
///
/// ```
/// use medburn_io::{VoxelType, WriteOptions};
/// let o = WriteOptions { dtype: Some(VoxelType::F32), compression_level: 6, ..Default::default() };
/// assert!(o.keep_extensions);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct WriteOptions {
    /// Output voxel type; `None` keeps the stored type and its rescale.
    pub dtype: Option<VoxelType>,
    /// Allow rounding and saturation when converting to `dtype` (otherwise an error).
    pub lossy: bool,
    /// gzip level 0-9 for `.nii.gz` and HDF5. Default 2: with zlib-rs, level 1 is a
    /// "quick" strategy whose files are about a third larger than zlib's level 1 (what
    /// nibabel writes); level 2 makes files no larger than nibabel's, still faster.
    pub compression_level: u32,
    /// Keep NIfTI extensions carried in the metadata (default true).
    pub keep_extensions: bool,
    /// Force NIfTI-1 or NIfTI-2 (default: NIfTI-1 unless a dimension exceeds 32767).
    pub nifti_version: Option<NiftiVersion>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            dtype: None,
            lossy: false,
            compression_level: 2,
            keep_extensions: true,
            nifti_version: None,
        }
    }
}

/// Reads any supported file or DICOM folder into a host [`Volume`] (for DICOM
/// folders holding several series, the first; see [`crate::dicom`] to choose).
///
/// ```no_run
/// let v = medburn_io::read("ct_folder".as_ref())?;
/// println!("{:?}", v.geometry.spacing());
/// # Ok::<(), medburn_io::IoError>(())
/// ```
pub fn read(path: &Path) -> Result<Volume> {
    match Format::from_path(path)? {
        Format::Nifti => crate::nifti::read_nifti(path),
        Format::Dicom => crate::dicom::read_dicom(path, &crate::dicom::SeriesSelector::First),
        Format::Hdf5 => crate::hdf5::read_hdf5(path),
    }
}

/// Writes a volume in the format named by the extension of `path` (`.nii`,
/// `.nii.gz`, `.hdr`, `.h5`). The file appears complete or not at all.
///
/// ```no_run
/// # let v: medburn_io::Volume = unimplemented!();
/// medburn_io::write(&v, "out.nii.gz".as_ref(), &Default::default())?;
/// # Ok::<(), medburn_io::IoError>(())
/// ```
pub fn write(volume: &Volume, path: &Path, options: &WriteOptions) -> Result<()> {
    match Format::from_path(path)? {
        Format::Nifti => crate::nifti::write_nifti(volume, path, options),
        Format::Hdf5 => crate::hdf5::write_hdf5(volume, path, options),
        Format::Dicom => Err(IoError::new(
            path,
            IoErrorKind::Unsupported("writing DICOM (write .nii, .nii.gz or .h5)".into()),
        )),
    }
}

/// Reads a file onto `device` as a float32 [`MedImage`] with its geometry.
///
/// ```no_run
/// let img = medburn_io::read_image("t1.nii.gz".as_ref(), &medburn_core::Device::flex())?;
/// println!("{:?}", img.geometry().orientation());
/// # Ok::<(), medburn_io::IoError>(())
/// ```
#[cfg(feature = "burn")]
pub fn read_image(path: &Path, device: &Device) -> Result<MedImage> {
    let v = read(path)?;
    v.to_image(device).map_err(|e| IoError::new(path, e))
}

/// Writes a [`MedImage`] (as float32) in the format named by the extension of `path`.
///
/// ```no_run
/// # let img: medburn_core::MedImage = unimplemented!();
/// medburn_io::write_image(&img, "out.nii.gz".as_ref())?;
/// # Ok::<(), medburn_io::IoError>(())
/// ```
#[cfg(feature = "burn")]
pub fn write_image(image: &MedImage, path: &Path) -> Result<()> {
    let v = Volume::from_image(image).map_err(|e| IoError::new(path, e))?;
    write(&v, path, &WriteOptions::default())
}
