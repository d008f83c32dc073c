//! What a DICOM file says about its image, read once from the parsed object:
//! pixel layout, per-frame geometry, rescale and the metadata kept in [`crate::Volume`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, InMemDicomObject};
use medburn_core::vec3::cross;

use crate::VoxelType;

use super::colour::colour;
use super::elements::*;
use super::frames::frame_info;
use super::metadata::metadata;
/// Transfer syntax UIDs medburn treats specially.
pub(crate) const TS_EXPLICIT_BE: &str = "1.2.840.10008.1.2.2";
pub(crate) const TS_RLE: &str = "1.2.840.10008.1.2.5";

/// Samples above this many bytes (decoded) per byte of compressed data are not believed.
const MAX_COMPRESSION_RATIO: u64 = 4096;
/// ... unless the decoded size is below this.
const SMALL_IMAGE_BYTES: u64 = 16 << 20;

/// The geometry and rescale of one frame (one slice).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FrameInfo {
    /// ImagePositionPatient: the centre of the first voxel, LPS mm.
    pub position: Option<[f64; 3]>,
    /// ImageOrientationPatient: row direction (along i) then column direction (along j).
    pub orientation: Option<[f64; 6]>,
    /// PixelSpacing as in the file: (between rows, between columns).
    pub pixel_spacing: Option<[f64; 2]>,
    /// RescaleSlope, RescaleIntercept (identity when absent).
    pub rescale: (f64, f64),
}

/// How stored samples become voxel values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Colour {
    /// One sample per pixel, MONOCHROME2 (or anything not needing a change).
    Grey,
    /// One sample per pixel, MONOCHROME1: inverted so that larger is brighter.
    Monochrome1,
    /// Three samples per pixel, RGB (or already converted by a codec).
    Rgb,
    /// Three samples per pixel, YCbCr full range: converted to RGB.
    YbrFull,
    /// YCbCr full range with horizontal 2:1 chroma subsampling (native data only).
    YbrFull422,
    /// One index per pixel looked up in a colour palette.
    Palette(Box<Palette>),
}

/// A palette colour lookup table (PALETTE COLOR).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Palette {
    /// The stored value mapped to the first entry.
    pub first: i64,
    /// Red, green, blue entries.
    pub lut: [Vec<u16>; 3],
    /// Entries are 16-bit values that are not all multiples of 256 (else kept as 8-bit).
    pub wide: bool,
}

/// Everything read from one file's header that reading its pixels needs.
#[derive(Debug, Clone)]
pub(crate) struct FileHeader {
    pub path: PathBuf,
    pub series_uid: String,
    pub series_number: Option<i64>,
    pub description: Option<String>,
    pub modality: String,
    pub rows: usize,
    pub cols: usize,
    pub frames: usize,
    /// Samples per pixel as stored.
    pub samples: usize,
    pub bits_allocated: u16,
    pub bits_stored: u16,
    pub high_bit: u16,
    pub signed: bool,
    pub photometric: String,
    pub planar: u16,
    pub transfer_syntax: String,
    pub encapsulated: bool,
    pub colour: Colour,
    /// One entry per frame (a single entry for single-frame files).
    pub frame_info: Vec<FrameInfo>,
    /// Why frame positions were made up (multi-frame file without per-frame positions).
    pub synthesized_positions: Option<String>,
    pub spacing_between_slices: Option<f64>,
    /// String metadata kept in the volume.
    pub metadata: BTreeMap<String, String>,
}

impl FileHeader {
    /// Channels in the output volume.
    pub fn channels(&self) -> usize {
        match self.colour {
            Colour::Palette(_) | Colour::YbrFull | Colour::YbrFull422 | Colour::Rgb => 3,
            Colour::Grey | Colour::Monochrome1 => self.samples,
        }
    }

    /// The voxel type of the decoded values.
    pub fn voxel_type(&self) -> VoxelType {
        match (&self.colour, self.bits_allocated, self.signed) {
            (Colour::Palette(p), _, _) => {
                if p.wide {
                    VoxelType::U16
                } else {
                    VoxelType::U8
                }
            }
            (_, 1, _) | (_, 8, false) => VoxelType::U8,
            (_, 8, true) => VoxelType::I8,
            (_, 16, false) => VoxelType::U16,
            (_, 16, true) => VoxelType::I16,
            (_, 32, false) => VoxelType::U32,
            _ => VoxelType::I32,
        }
    }
}

/// The reason a file has no usable image, or its header is invalid.
#[derive(Debug)]
pub(crate) enum HeaderError {
    /// No PixelData: an RT structure set, a report...
    NoPixelData(String),
    /// A header that medburn cannot use.
    Invalid(String),
    /// A valid feature medburn does not read.
    Unsupported(String),
}

/// Reads the header of a parsed DICOM file.
pub(crate) fn read_header(obj: &DefaultDicomObject, path: PathBuf) -> HResult<FileHeader> {
    let root: &InMemDicomObject = obj;
    if !has_pixel_data(root) {
        if root.get(tags::FLOAT_PIXEL_DATA).is_some()
            || root.get(tags::DOUBLE_FLOAT_PIXEL_DATA).is_some()
        {
            return Err(HeaderError::Unsupported(
                "float pixel data (7FE0,0008)/(7FE0,0009) is not supported, only integer PixelData (7FE0,0010)".into(),
            ));
        }
        let what = get_str(root, tags::MODALITY)
            .map(|m| format!(" (Modality {m})"))
            .unwrap_or_default();
        return Err(HeaderError::NoPixelData(format!(
            "DICOM file{what} has no pixel data (0x7FE0,0x0010)"
        )));
    }
    let transfer_syntax = transfer_syntax(obj);
    let rows = get_u16(root, tags::ROWS, "Rows", None)? as usize;
    let cols = get_u16(root, tags::COLUMNS, "Columns", None)? as usize;
    if rows == 0 || cols == 0 {
        return invalid(format!("image is {rows} rows by {cols} columns"));
    }
    let frames = match get_int(root, tags::NUMBER_OF_FRAMES, "NumberOfFrames")? {
        None => 1,
        Some(n) if n >= 1 && n <= u32::MAX as i64 => n as usize,
        Some(n) => return invalid(format!("NumberOfFrames (0028,0008) is {n}")),
    };
    let samples = get_u16(root, tags::SAMPLES_PER_PIXEL, "SamplesPerPixel", Some(1))? as usize;
    if samples != 1 && samples != 3 {
        return Err(HeaderError::Unsupported(format!(
            "SamplesPerPixel {samples} (only 1 and 3 are read)"
        )));
    }
    let bits_allocated = get_u16(root, tags::BITS_ALLOCATED, "BitsAllocated", None)?;
    if !matches!(bits_allocated, 1 | 8 | 16 | 32) {
        return Err(HeaderError::Unsupported(format!(
            "BitsAllocated {bits_allocated} (only 1, 8, 16 and 32 are read)"
        )));
    }
    let mut bits_stored = get_u16(root, tags::BITS_STORED, "BitsStored", Some(bits_allocated))?;
    if bits_stored == 0 || bits_stored > bits_allocated {
        bits_stored = bits_allocated;
    }
    let mut high_bit = get_u16(root, tags::HIGH_BIT, "HighBit", Some(bits_stored - 1))?;
    if high_bit >= bits_allocated || high_bit + 1 < bits_stored {
        high_bit = bits_stored - 1;
    }
    let signed = get_u16(
        root,
        tags::PIXEL_REPRESENTATION,
        "PixelRepresentation",
        Some(0),
    )? == 1;
    let photometric = get_str(root, tags::PHOTOMETRIC_INTERPRETATION)
        .unwrap_or_else(|| {
            if samples == 3 {
                "RGB".into()
            } else {
                "MONOCHROME2".into()
            }
        })
        .to_ascii_uppercase();
    let planar = if samples > 1 {
        get_u16(
            root,
            tags::PLANAR_CONFIGURATION,
            "PlanarConfiguration",
            Some(0),
        )?
    } else {
        0
    };
    let pixel = root.get(tags::PIXEL_DATA);
    let encapsulated = matches!(pixel.map(|e| e.value()), Some(Value::PixelSequence(_)));

    let colour = colour(
        root,
        &photometric,
        samples,
        bits_allocated,
        encapsulated,
        &transfer_syntax,
    )?;
    if matches!(colour, Colour::YbrFull422) && cols % 2 == 1 {
        return invalid(format!(
            "YBR_FULL_422 data with an odd number of columns ({cols})"
        ));
    }
    if bits_allocated == 1 && (encapsulated || samples != 1) {
        return Err(HeaderError::Unsupported(
            "1-bit pixel data that is compressed or has several samples per pixel".into(),
        ));
    }

    // Sizes: check what the header promises against the bytes present before anything
    // is allocated from header numbers.
    let bytes_per_sample = (bits_allocated as u64).div_ceil(8);
    let stored_values_per_frame = match colour {
        Colour::YbrFull422 if !encapsulated => (rows as u64) * (cols as u64) * 2,
        _ => (rows as u64) * (cols as u64) * samples as u64,
    };
    let expected = if bits_allocated == 1 {
        (stored_values_per_frame * frames as u64).div_ceil(8)
    } else {
        stored_values_per_frame * bytes_per_sample * frames as u64
    };
    let present = match pixel.map(|e| e.value()) {
        Some(Value::PixelSequence(seq)) => {
            seq.fragments().iter().map(|f| f.len() as u64).sum::<u64>()
        }
        Some(Value::Primitive(p)) => primitive_len(p),
        _ => return invalid("PixelData (7FE0,0010) is a sequence"),
    };
    if encapsulated {
        if expected
            > present
                .saturating_mul(MAX_COMPRESSION_RATIO)
                .max(SMALL_IMAGE_BYTES)
        {
            return invalid(format!(
                "the header promises {frames} frame(s) of {rows}x{cols} pixels ({expected} bytes decoded) but the compressed pixel data holds only {present} bytes"
            ));
        }
    } else if present < expected {
        return Err(HeaderError::Invalid(format!(
            "truncated: PixelData needs {expected} bytes for {frames} frame(s) of {rows}x{cols}x{samples} at {bits_allocated} bits but only {present} are there"
        )));
    }

    // Geometry, per frame.
    let shared = items(root, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE).first();
    let per_frame = items(root, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE);
    let root_frame = frame_info(root, None, None)?;
    let spacing_between_slices = pick_f64(
        root,
        shared,
        None,
        tags::SPACING_BETWEEN_SLICES,
        "SpacingBetweenSlices",
    )?;
    let slice_thickness = pick_f64(root, shared, None, tags::SLICE_THICKNESS, "SliceThickness")?;
    let mut synthesized_positions = None;
    let frame_info = if frames == 1 {
        vec![frame_info(root, shared, per_frame.first())?]
    } else {
        let mut v = Vec::with_capacity(frames);
        for f in 0..frames {
            let mut fi = frame_info(root, shared, per_frame.get(f))?;
            // Only a per-frame position places a frame; the root one is the first frame's.
            fi.position = match group_item(per_frame.get(f), tags::PLANE_POSITION_SEQUENCE) {
                Some(item) => {
                    get_fixed::<3>(item, tags::IMAGE_POSITION_PATIENT, "ImagePositionPatient")?
                }
                None => None,
            };
            v.push(fi);
        }
        if v.iter().any(|f| f.position.is_none()) {
            // No per-frame positions: stack the frames along the normal from the first position.
            let origin = v[0].position.or(root_frame.position);
            let orientation = v[0].orientation.or(root_frame.orientation);
            let normal = orientation
                .map(|o| cross([o[0], o[1], o[2]], [o[3], o[4], o[5]]))
                .unwrap_or([0.0, 0.0, 1.0]);
            let grid = get_f64s(
                root,
                tags::GRID_FRAME_OFFSET_VECTOR,
                "GridFrameOffsetVector",
            )?;
            let (offsets, how): (Vec<f64>, String) = match grid {
                Some(g) if g.len() == frames => {
                    let first = g[0];
                    (
                        g.iter().map(|x| x - first).collect(),
                        "GridFrameOffsetVector (3004,000C)".into(),
                    )
                }
                _ => {
                    let (step, from) = match (spacing_between_slices, slice_thickness) {
                        (Some(s), _) if s > 0.0 => (s, "SpacingBetweenSlices"),
                        (_, Some(t)) if t > 0.0 => (t, "SliceThickness"),
                        _ => (1.0, "a default 1 mm step"),
                    };
                    (
                        (0..frames).map(|k| k as f64 * step).collect(),
                        format!("{from} ({step} mm)"),
                    )
                }
            };
            let base = origin.unwrap_or([0.0; 3]);
            for (f, off) in v.iter_mut().zip(&offsets) {
                f.position = Some([
                    base[0] + off * normal[0],
                    base[1] + off * normal[1],
                    base[2] + off * normal[2],
                ]);
                if f.orientation.is_none() {
                    f.orientation = orientation;
                }
            }
            synthesized_positions = Some(format!(
                "no per-frame positions: frames stacked along the slice normal from {} using {how}",
                if origin.is_some() {
                    "ImagePositionPatient"
                } else {
                    "the origin (no ImagePositionPatient)"
                }
            ));
        }
        v
    };

    let series_uid = get_str(root, tags::SERIES_INSTANCE_UID).unwrap_or_default();
    let header = FileHeader {
        series_number: get_int(root, tags::SERIES_NUMBER, "SeriesNumber")
            .ok()
            .flatten(),
        description: get_str(root, tags::SERIES_DESCRIPTION),
        modality: get_str(root, tags::MODALITY).unwrap_or_default(),
        metadata: metadata(root, &transfer_syntax),
        path,
        series_uid,
        rows,
        cols,
        frames,
        samples,
        bits_allocated,
        bits_stored,
        high_bit,
        signed,
        photometric,
        planar,
        transfer_syntax,
        encapsulated,
        colour,
        frame_info,
        synthesized_positions,
        spacing_between_slices,
    };
    Ok(header)
}

/// Bytes held by a primitive value.
pub(super) fn primitive_len(p: &PrimitiveValue) -> u64 {
    let n = p.multiplicity() as u64;
    match p {
        PrimitiveValue::U8(_) => n,
        PrimitiveValue::U16(_) | PrimitiveValue::I16(_) => 2 * n,
        PrimitiveValue::U32(_) | PrimitiveValue::I32(_) | PrimitiveValue::F32(_) => 4 * n,
        PrimitiveValue::U64(_) | PrimitiveValue::I64(_) | PrimitiveValue::F64(_) => 8 * n,
        PrimitiveValue::Empty => 0,
        other => other.to_bytes().len() as u64,
    }
}

/// A number from the per-frame group item `seq` or the shared one, else the root.
pub(super) fn pick_f64(
    root: &InMemDicomObject,
    shared: Option<&InMemDicomObject>,
    frame: Option<&InMemDicomObject>,
    tag: Tag,
    name: &str,
) -> HResult<Option<f64>> {
    for fg in [frame, shared] {
        if let Some(item) = group_item(fg, tags::PIXEL_MEASURES_SEQUENCE) {
            if let Some(v) = get_f64(item, tag, name)? {
                return Ok(Some(v));
            }
        }
    }
    get_f64(root, tag, name)
}
