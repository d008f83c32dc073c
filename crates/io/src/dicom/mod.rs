//! DICOM: single files (single- or multi-frame) and folders of series.
//!
//! [`list_series`] finds the image series under a file or folder; [`read_dicom`] reads
//! one of them into a [`Volume`] with its geometry (docs/architecture.md, "Geometry conventions"):
//!
//! - slices are ordered by `ImagePositionPatient . (row x col)`, never by
//!   InstanceNumber or file name, and must form a regular grid: one
//!   ImageOrientationPatient, one PixelSpacing, one image size, uniform steps
//!   (|step - median| <= 1e-3 * median + 1e-3 mm). Gaps, duplicate positions, mixed
//!   orientations and in-plane drift (gantry tilt) are errors naming the files;
//! - direction columns are the row cosines (i), the column cosines (j) and their cross
//!   product (k); the origin is the position of the first slice; spacing is
//!   `(PixelSpacing[1], PixelSpacing[0], step)` (ImagerPixelSpacing when PixelSpacing is
//!   absent); a single slice takes SpacingBetweenSlices, else 1, as its k spacing (as
//!   SimpleITK: SliceThickness is a slab thickness, kept in the metadata);
//! - files without ImageOrientationPatient get the identity direction, without
//!   ImagePositionPatient the origin 0;
//! - multi-frame files take per-frame positions, orientations, pixel spacings and
//!   rescales from the functional groups; without per-frame positions the frames are
//!   stacked along the normal by GridFrameOffsetVector (RT dose), SpacingBetweenSlices,
//!   SliceThickness or 1 mm, and `dicom:positions` says so;
//! - stored values are kept in their type (u8/i8/u16/i16/u32/i32 from BitsAllocated and
//!   PixelRepresentation, masked to BitsStored) with RescaleSlope/RescaleIntercept in
//!   [`Volume::rescale`]; when slices have different rescales they are applied per
//!   slice and the volume is float32 (float64 for 32-bit data);
//! - MONOCHROME1 is inverted as GDCM/SimpleITK do: `(2^BitsStored - 1) - v` for unsigned
//!   samples, `-v - 1` for signed ones (`dicom:monochrome1` records it); YBR_FULL and
//!   YBR_FULL_422 become RGB, PALETTE COLOR is looked up (16-bit palettes whose entries
//!   are multiples of 256 become 8-bit, as SimpleITK does); several samples per pixel
//!   become channels; 1-bit data (segmentations) becomes 0/1 `u8`.
//!
//! RT dose DoseGridScaling is kept in the metadata, not applied (as SimpleITK).
//!
//! Transfer syntaxes: implicit/explicit little endian, explicit big endian and deflate
//! natively; RLE Lossless (8/16/32-bit) by medburn's own decoder; JPEG baseline,
//! 8-bit extended and lossless, JPEG-LS and JPEG 2000 through dicom-pixeldata (8-bit
//! RGB JPEG without an APP14/JFIF marker through jpeg-decoder with no colour transform).
//! 12-bit JPEG Extended is not read (jpeg-decoder lacks it). Files decode in parallel.
//!
//! ```no_run
//! use medburn_io::dicom::{list_series, read_dicom, SeriesSelector};
//! use std::path::Path;
//!
//! for s in list_series(Path::new("study/"))? {
//!     println!("{} #{:?} {:?}: {} slices", s.uid, s.number, s.description, s.slices);
//! }
//! let vol = read_dicom(Path::new("study/"), &SeriesSelector::Index(0))?;
//! println!("{:?}", vol.geometry);
//! # Ok::<(), medburn_io::IoError>(())
//! ```

mod codestream;
mod colour;
mod elements;
mod frames;
mod header;
mod lengths;
mod metadata;
mod pixels;
mod stack;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use dicom_object::file::ReadPreamble;
use dicom_object::{DefaultDicomObject, OpenFileOptions};
use medburn_core::Modality;
use ndarray::{ArrayD, IxDyn};
use rayon::prelude::*;

use crate::volume::Voxel;
use crate::{IoError, IoErrorKind, Rescale, Result, Volume, VoxelArray, VoxelType};
use header::{FileHeader, HeaderError};
use pixels::{chain, Sample};

/// One image series found by [`list_series`].
///
/// ```no_run
/// let series = medburn_io::dicom::list_series(std::path::Path::new("study/"))?;
/// let biggest = series.iter().max_by_key(|s| s.slices).unwrap();
/// println!("{} ({} files, {}x{})", biggest.uid, biggest.files.len(), biggest.rows, biggest.columns);
/// # Ok::<(), medburn_io::IoError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesInfo {
    /// SeriesInstanceUID (0020,000E); empty if the files have none.
    pub uid: String,
    /// SeriesNumber (0020,0011).
    pub number: Option<i64>,
    /// SeriesDescription (0008,103E).
    pub description: Option<String>,
    /// Modality (0008,0060).
    pub modality: Modality,
    /// The files of the series, by path.
    pub files: Vec<PathBuf>,
    /// Frames in all files (slices of the volume when it reads).
    pub slices: usize,
    /// Rows (0028,0010) of the first file.
    pub rows: usize,
    /// Columns (0028,0011) of the first file.
    pub columns: usize,
}

/// Which series [`read_dicom`] reads from a folder.
///
/// ```
/// use medburn_io::dicom::SeriesSelector;
/// assert_eq!(SeriesSelector::default(), SeriesSelector::First);
/// let by_uid = SeriesSelector::Uid("1.2.840.113619.2.55".into());
/// assert_ne!(by_uid, SeriesSelector::Index(0));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SeriesSelector {
    /// The first series in [`list_series`] order (SeriesNumber, then UID).
    #[default]
    First,
    /// The series with this SeriesInstanceUID.
    Uid(String),
    /// The series at this index in [`list_series`] order.
    Index(usize),
}

/// Parses a DICOM file (preamble detected), turning a panic in the parser into an error.
pub(crate) fn open_object(path: &Path) -> std::result::Result<DefaultDicomObject, String> {
    let preamble = match sniff(path) {
        Sniff::Preamble => ReadPreamble::Always,
        Sniff::MetaGroup => ReadPreamble::Never,
        Sniff::NotDicom => {
            return Err("not a DICOM file (no \"DICM\" marker and no file meta group)".into())
        }
        Sniff::Io(e) => return Err(e),
    };
    // Refuse impossible element lengths before the parser allocates them.
    lengths::check_element_lengths(path, matches!(preamble, ReadPreamble::Always))
        .map_err(|e| format!("cannot parse DICOM: {e} (corrupt header, wrong transfer syntax or a truncated file)"))?;
    match catch_unwind(AssertUnwindSafe(|| {
        OpenFileOptions::new()
            .read_preamble(preamble)
            .open_file(path)
    })) {
        Ok(Ok(obj)) => Ok(obj),
        Ok(Err(e)) => {
            let msg = chain(&e);
            // "Could not read N value bytes": N far beyond the file's size is more likely a
            // misread header (wrong VR encoding, corrupt length) than a truncation.
            let claimed = msg
                .split("Could not read ")
                .skip(1)
                .find_map(|t| t.split(' ').next().and_then(|n| n.parse::<u64>().ok()));
            let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            if claimed.is_some_and(|n| n > 16 * size) {
                Err(format!(
                    "cannot parse DICOM: an element claims {} bytes but the file has {size} (corrupt header, wrong transfer syntax or a badly truncated file): {msg}",
                    claimed.unwrap_or(0)
                ))
            } else if msg.contains("fill whole buffer") || msg.contains("nexpected end of file") {
                Err(format!(
                    "truncated: the file ends before the data its header announces: {msg}"
                ))
            } else {
                Err(format!("cannot parse DICOM (corrupt file?): {msg}"))
            }
        }
        Err(_) => Err("the DICOM parser failed on this file (corrupt file?)".into()),
    }
}

/// What the first bytes of a file say.
enum Sniff {
    /// 128-byte preamble then "DICM".
    Preamble,
    /// Starts with a group 0002 element (file meta group without preamble).
    MetaGroup,
    NotDicom,
    Io(String),
}

fn sniff(path: &Path) -> Sniff {
    let mut head = [0u8; 132];
    let mut n = 0;
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) => return Sniff::Io(e.to_string()),
    };
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Sniff::Io(e.to_string()),
        }
    }
    if n >= 132 && &head[128..132] == b"DICM" {
        Sniff::Preamble
    } else if n >= 8 && head[0] == 0x02 && head[1] == 0x00 && head[3] == 0x00 {
        Sniff::MetaGroup
    } else {
        Sniff::NotDicom
    }
}

/// What a file in a folder turned out to be.
enum Found {
    Image(Box<FileHeader>),
    NoPixels,
    Dicomdir,
    NotDicom,
    Failed(String),
}

const DICOMDIR_CLASS: &str = "1.2.840.10008.1.3.10";

fn examine(path: &Path) -> Found {
    let is_dicomdir_name = path
        .file_name()
        .map(|n| n.eq_ignore_ascii_case("DICOMDIR"))
        .unwrap_or(false);
    if is_dicomdir_name {
        return Found::Dicomdir;
    }
    match sniff(path) {
        Sniff::NotDicom => return Found::NotDicom,
        Sniff::Io(e) => return Found::Failed(e),
        _ => {}
    }
    let obj = match open_object(path) {
        Ok(o) => o,
        Err(e) => return Found::Failed(e),
    };
    let class = obj
        .meta()
        .media_storage_sop_class_uid()
        .trim_end_matches(['\0', ' ']);
    if class == DICOMDIR_CLASS {
        return Found::Dicomdir;
    }
    match header::read_header(&obj, path.to_path_buf()) {
        Ok(h) => Found::Image(Box::new(h)),
        Err(HeaderError::NoPixelData(_)) => Found::NoPixels,
        Err(HeaderError::Invalid(m)) | Err(HeaderError::Unsupported(m)) => Found::Failed(m),
    }
}

/// The image files under a path, with what was skipped.
struct Scan {
    /// The path asked about.
    root: PathBuf,
    /// Whether it is a folder.
    folder: bool,
    headers: Vec<FileHeader>,
    /// Files that are DICOM but hold no image, and an example.
    no_pixels: usize,
    /// Files that looked like DICOM but could not be read, with why.
    failures: Vec<(PathBuf, String)>,
    /// Files that are not DICOM at all (and DICOMDIR indexes).
    not_dicom: usize,
}

impl Scan {
    /// A remark about unreadable files to append to series errors.
    fn failure_note(&self) -> String {
        match self.failures.first() {
            None => String::new(),
            Some((p, why)) => format!(
                " (note: {} file(s) in the folder could not be read, e.g. {}: {why})",
                self.failures.len(),
                stack::show(p, &self.root)
            ),
        }
    }
}

/// Collects the files under `dir`, depth first, sorted by name.
fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if depth > 64 {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        match std::fs::metadata(&p) {
            Ok(m) if m.is_dir() => walk(&p, depth + 1, out)?,
            Ok(m) if m.is_file() => out.push(p),
            _ => {}
        }
    }
    Ok(())
}

fn scan(path: &Path) -> Result<Scan> {
    let meta = std::fs::metadata(path).map_err(|e| IoError::new(path, e))?;
    if !meta.is_dir() {
        // One file: every problem is an error about it.
        let obj = open_object(path).map_err(|e| IoError::new(path, IoErrorKind::Dicom(e)))?;
        let class = obj
            .meta()
            .media_storage_sop_class_uid()
            .trim_end_matches(['\0', ' '])
            .to_string();
        let named_dicomdir = path
            .file_name()
            .map(|n| n.eq_ignore_ascii_case("DICOMDIR"))
            .unwrap_or(false);
        if class == DICOMDIR_CLASS || named_dicomdir {
            return Err(IoError::new(
                path,
                IoErrorKind::Dicom(
                    "this is a DICOMDIR (an index of files, no image): read its folder instead"
                        .into(),
                ),
            ));
        }
        let h = header::read_header(&obj, path.to_path_buf()).map_err(|e| {
            IoError::new(
                path,
                match e {
                    HeaderError::NoPixelData(m) | HeaderError::Invalid(m) => IoErrorKind::Dicom(m),
                    HeaderError::Unsupported(m) => IoErrorKind::Unsupported(m),
                },
            )
        })?;
        return Ok(Scan {
            root: path.to_path_buf(),
            folder: false,
            headers: vec![h],
            no_pixels: 0,
            failures: vec![],
            not_dicom: 0,
        });
    }
    let mut files = Vec::new();
    walk(path, 0, &mut files).map_err(|e| IoError::new(path, e))?;
    let found: Vec<Found> = files.par_iter().map(|p| examine(p)).collect();
    let mut scan = Scan {
        root: path.to_path_buf(),
        folder: true,
        headers: vec![],
        no_pixels: 0,
        failures: vec![],
        not_dicom: 0,
    };
    for (p, f) in files.into_iter().zip(found) {
        match f {
            Found::Image(h) => scan.headers.push(*h),
            Found::NoPixels => scan.no_pixels += 1,
            Found::Failed(why) => scan.failures.push((p, why)),
            Found::Dicomdir | Found::NotDicom => scan.not_dicom += 1,
        }
    }
    if scan.headers.is_empty() {
        let mut msg = "the folder holds no DICOM image".to_string();
        if scan.no_pixels > 0 {
            msg.push_str(&format!(
                " ({} DICOM file(s) without pixel data (0x7FE0,0x0010), e.g. structure sets or reports)",
                scan.no_pixels
            ));
        }
        msg.push_str(&scan.failure_note());
        return Err(IoError::new(path, IoErrorKind::Dicom(msg)));
    }
    Ok(scan)
}

/// A series: its info and the indices of its headers in the scan (sorted by path).
struct Group {
    info: SeriesInfo,
    members: Vec<usize>,
}

fn group(scan: &Scan) -> Vec<Group> {
    let mut by_uid: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (n, h) in scan.headers.iter().enumerate() {
        by_uid.entry(h.series_uid.as_str()).or_default().push(n);
    }
    let mut groups: Vec<Group> = by_uid
        .into_iter()
        .map(|(uid, mut members)| {
            members.sort_by(|&a, &b| scan.headers[a].path.cmp(&scan.headers[b].path));
            let hs: Vec<&FileHeader> = members.iter().map(|&m| &scan.headers[m]).collect();
            let first = hs[0];
            let info = SeriesInfo {
                uid: uid.to_string(),
                number: hs.iter().find_map(|h| h.series_number),
                description: hs.iter().find_map(|h| h.description.clone()),
                modality: hs
                    .iter()
                    .map(|h| h.modality.as_str())
                    .find(|m| !m.is_empty())
                    .unwrap_or("")
                    .parse()
                    .unwrap_or_default(),
                files: hs.iter().map(|h| h.path.clone()).collect(),
                slices: hs.iter().map(|h| h.frames).sum(),
                rows: first.rows,
                columns: first.cols,
            };
            Group { info, members }
        })
        .collect();
    groups.sort_by(|a, b| {
        (a.info.number.is_none(), a.info.number, &a.info.uid).cmp(&(
            b.info.number.is_none(),
            b.info.number,
            &b.info.uid,
        ))
    });
    groups
}

/// Lists the image series in a DICOM file or under a folder (searched recursively),
/// ordered by SeriesNumber then SeriesInstanceUID.
///
/// Files that are not DICOM, DICOMDIR indexes and DICOM files without pixel data (RT
/// structure sets, reports...) are skipped; finding no image at all is an error.
///
/// ```no_run
/// use medburn_io::dicom::list_series;
/// for s in list_series(std::path::Path::new("study/"))? {
///     println!("{:>4?} {:<40} {:>4} slices {}", s.number, s.uid, s.slices, s.description.unwrap_or_default());
/// }
/// # Ok::<(), medburn_io::IoError>(())
/// ```
pub fn list_series(path: &Path) -> Result<Vec<SeriesInfo>> {
    let scan = scan(path)?;
    Ok(group(&scan).into_iter().map(|g| g.info).collect())
}

/// Reads a DICOM file (single- or multi-frame) or one series of a folder into a
/// [`Volume`] `[C, k, j, i]` with its geometry, rescale, modality and metadata.
///
/// See the [module documentation](self) for the conventions. Errors name the file or
/// folder and say what is wrong (a gap between two slices, mixed orientations, no pixel
/// data, a truncated file...).
///
/// ```no_run
/// use medburn_io::dicom::{read_dicom, SeriesSelector};
/// let vol = read_dicom(std::path::Path::new("ct_series/"), &SeriesSelector::First)?;
/// println!("{:?} spacing {:?} rescale {:?}", vol.size(), vol.geometry.spacing(), vol.rescale);
/// println!("{:?}", vol.metadata.get("SeriesDescription"));
/// # Ok::<(), medburn_io::IoError>(())
/// ```
pub fn read_dicom(path: &Path, select: &SeriesSelector) -> Result<Volume> {
    read_dicom_with(path, select, &DicomReadOptions::default())
}

/// How [`read_dicom_with`] treats a folder's files that it cannot use.
///
/// ```
/// let o = medburn_io::dicom::DicomReadOptions::default();
/// assert!(!o.skip_unreadable); // a damaged slice is an error, not a silently shorter volume
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DicomReadOptions {
    /// Read a folder's series without the files that look like DICOM but cannot be read (a
    /// truncated slice), noting them in the volume's metadata (`dicom:skipped_unreadable`),
    /// instead of refusing the folder.
    pub skip_unreadable: bool,
}

/// [`read_dicom`] with options. A folder's files that look like DICOM but cannot be read are
/// an error naming one of them unless `options.skip_unreadable`; files that are not DICOM are
/// skipped. What was skipped is noted in the metadata (`dicom:skipped_not_dicom`,
/// `dicom:skipped_unreadable`) for a caller to report.
///
/// ```no_run
/// use medburn_io::dicom::{read_dicom_with, DicomReadOptions, SeriesSelector};
/// let options = DicomReadOptions { skip_unreadable: true };
/// let vol = read_dicom_with("ct_series/".as_ref(), &SeriesSelector::First, &options)?;
/// if let Some(note) = vol.metadata.get("dicom:skipped_unreadable") {
///     eprintln!("note: {note}");
/// }
/// # Ok::<(), medburn_io::IoError>(())
/// ```
pub fn read_dicom_with(
    path: &Path,
    select: &SeriesSelector,
    options: &DicomReadOptions,
) -> Result<Volume> {
    let scan = scan(path)?;
    if !scan.failures.is_empty() && !options.skip_unreadable {
        let (p, why) = &scan.failures[0];
        return Err(IoError::new(
            path,
            IoErrorKind::Dicom(format!(
                "{} file(s) look like DICOM but cannot be read, e.g. {}: {why} (refused: a \
                 series read without them could lack slices; `--skip-unreadable` reads it \
                 without them)",
                scan.failures.len(),
                stack::show(p, &scan.root)
            )),
        ));
    }
    let groups = group(&scan);
    let list = || {
        let mut s = groups
            .iter()
            .take(8)
            .enumerate()
            .map(|(n, g)| format!("{n}: {} ({} slices)", g.info.uid, g.info.slices))
            .collect::<Vec<_>>()
            .join(", ");
        if groups.len() > 8 {
            s.push_str(&format!(", ... {} in all", groups.len()));
        }
        s
    };
    let chosen = match select {
        SeriesSelector::First => groups.first(),
        SeriesSelector::Index(i) => groups.get(*i),
        SeriesSelector::Uid(u) => groups.iter().find(|g| g.info.uid == u.trim()),
    };
    let Some(chosen) = chosen else {
        return Err(IoError::new(
            path,
            IoErrorKind::Dicom(format!(
                "no series {select:?} here; series found: {}",
                list()
            )),
        ));
    };
    let files: Vec<&FileHeader> = chosen.members.iter().map(|&m| &scan.headers[m]).collect();
    let base = if scan.folder {
        scan.root.as_path()
    } else {
        scan.root.parent().unwrap_or(Path::new(""))
    };
    let stack = stack::build(&files, base).map_err(|m| {
        let which = if groups.len() > 1 || scan.folder {
            format!(
                "series {}{}: ",
                chosen.info.uid,
                chosen
                    .info
                    .number
                    .map(|n| format!(" (#{n})"))
                    .unwrap_or_default()
            )
        } else {
            String::new()
        };
        IoError::new(
            path,
            IoErrorKind::Dicom(format!("{which}{m}{}", scan.failure_note())),
        )
    })?;

    let first = files[stack.order[0].file];
    let data = match first.voxel_type() {
        VoxelType::U8 => assemble::<u8>(&files, &stack, path)?,
        VoxelType::I8 => assemble::<i8>(&files, &stack, path)?,
        VoxelType::U16 => assemble::<u16>(&files, &stack, path)?,
        VoxelType::I16 => assemble::<i16>(&files, &stack, path)?,
        VoxelType::U32 => assemble::<u32>(&files, &stack, path)?,
        _ => assemble::<i32>(&files, &stack, path)?,
    };

    let mut vol = Volume::new(data, stack.geometry).map_err(|e| IoError::new(path, e))?;
    let (slope, inter) = stack.rescales[0];
    let uniform = stack.rescales.iter().all(|&r| r == (slope, inter));
    if uniform {
        vol.rescale = Rescale { slope, inter };
    } else {
        vol.data = rescale_per_slice(&vol.data, &stack.rescales);
        vol.metadata.insert(
            "dicom:rescale".into(),
            "RescaleSlope/RescaleIntercept differ between slices: applied per slice".into(),
        );
    }
    vol.modality = first.modality.parse().unwrap_or_default();
    vol.metadata.extend(first.metadata.clone());
    vol.subtype = metadata::subtype(&first.modality, &first.metadata);
    vol.metadata
        .insert("dicom:files".into(), files.len().to_string());
    vol.metadata
        .insert("dicom:frames".into(), stack.order.len().to_string());
    if scan.folder {
        vol.metadata
            .insert("dicom:series_in_folder".into(), groups.len().to_string());
    }
    if matches!(first.colour, header::Colour::Monochrome1) {
        vol.metadata.insert(
            "dicom:monochrome1".into(),
            format!(
                "inverted to MONOCHROME2: {}",
                if first.signed {
                    "-v - 1"
                } else {
                    "(2^BitsStored - 1) - v"
                }
            ),
        );
    }
    if matches!(
        first.colour,
        header::Colour::YbrFull | header::Colour::YbrFull422 | header::Colour::Palette(_)
    ) || (first.encapsulated && first.samples == 3 && first.photometric != "RGB")
    {
        vol.metadata
            .insert("dicom:converted_to".into(), "RGB".into());
    }
    for (k, v) in stack.notes {
        vol.metadata.insert(k, v);
    }
    if scan.not_dicom > 0 {
        vol.metadata.insert(
            "dicom:skipped_not_dicom".into(),
            format!(
                "{} file(s) that are not DICOM images skipped",
                scan.not_dicom
            ),
        );
    }
    if !scan.failures.is_empty() {
        let names: Vec<String> = scan
            .failures
            .iter()
            .take(5)
            .map(|(p, why)| format!("{} ({why})", stack::show(p, &scan.root)))
            .collect();
        vol.metadata.insert(
            "dicom:skipped_unreadable".into(),
            format!(
                "{} unreadable DICOM file(s) skipped: {}",
                scan.failures.len(),
                names.join(", ")
            ),
        );
    }
    Ok(vol)
}

/// Decodes the slices in order into `[C, k, j, i]`.
fn assemble<T: Sample>(
    files: &[&FileHeader],
    stack: &stack::Stack,
    path: &Path,
) -> Result<VoxelArray> {
    let first = files[stack.order[0].file];
    let (rows, cols, ch) = (first.rows, first.cols, first.channels());
    let plane = rows * cols * ch;
    let n = stack.order.len();
    let total = plane
        .checked_mul(n)
        .ok_or_else(|| IoError::new(path, IoErrorKind::Dicom("image too large".into())))?;
    let alloc = |len: usize| -> Result<Vec<T>> {
        let mut v: Vec<T> = Vec::new();
        v.try_reserve_exact(len).map_err(|_| {
            IoError::new(
                path,
                IoErrorKind::Dicom(format!(
                    "cannot allocate {} MiB for the image",
                    (len * T::TYPE.size()) >> 20
                )),
            )
        })?;
        v.resize(len, T::default());
        Ok(v)
    };
    let mut out = alloc(total)?;
    if files.iter().all(|f| f.frames == 1) {
        out.par_chunks_mut(plane)
            .zip(stack.order.par_iter())
            .try_for_each(|(chunk, s)| pixels::decode_into(files[s.file], chunk))?;
    } else {
        let decoded: Vec<Vec<T>> = files
            .par_iter()
            .map(|f| {
                let mut v = alloc(f.frames * plane)?;
                pixels::decode_into(f, &mut v)?;
                Ok(v)
            })
            .collect::<Result<_>>()?;
        for (k, s) in stack.order.iter().enumerate() {
            let src = decoded[s.file]
                .get(s.frame * plane..(s.frame + 1) * plane)
                .ok_or_else(|| {
                    IoError::new(
                        &files[s.file].path,
                        IoErrorKind::Dicom("frame out of range".into()),
                    )
                })?;
            out[k * plane..(k + 1) * plane].copy_from_slice(src);
        }
    }
    if ch > 1 {
        // Interleaved samples to channel planes.
        let nvox = rows * cols * n;
        let mut planar = alloc(total)?;
        for (v, px) in out.chunks_exact(ch).enumerate() {
            for (c, &x) in px.iter().enumerate() {
                planar[c * nvox + v] = x;
            }
        }
        out = planar;
    }
    let arr = ArrayD::from_shape_vec(IxDyn(&[ch, n, rows, cols]), out)
        .map_err(|e| IoError::new(path, IoErrorKind::Dicom(format!("internal error: {e}"))))?;
    Ok(T::wrap(arr))
}

/// Applies a different rescale to each slice: float32 for 8- and 16-bit data, float64 for 32-bit.
fn rescale_per_slice(data: &VoxelArray, rescales: &[(f64, f64)]) -> VoxelArray {
    fn go<T: Voxel, U: Voxel>(a: &ArrayD<T>, rescales: &[(f64, f64)]) -> VoxelArray {
        let shape = a.shape().to_vec();
        let n = shape[1];
        let plane = shape[2] * shape[3];
        let out: Vec<U> = a
            .iter()
            .enumerate()
            .map(|(idx, v)| {
                let k = (idx / plane) % n;
                let (s, i) = rescales.get(k).copied().unwrap_or((1.0, 0.0));
                U::from_f64(v.to_f64() * s + i)
            })
            .collect();
        U::wrap(ArrayD::from_shape_vec(IxDyn(&shape), out).expect("same shape"))
    }
    crate::with_array!(data, a => {
        if data.voxel_type().size() <= 2 {
            go::<_, f32>(a, rescales)
        } else {
            go::<_, f64>(a, rescales)
        }
    })
}
