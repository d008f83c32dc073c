//! What a DICOM file says about its image, read once from the parsed object:
//! pixel layout, per-frame geometry, rescale and the metadata kept in [`crate::Volume`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::{tags, StandardDataDictionary};
use dicom_object::{DefaultDicomObject, InMemDicomObject};
use medburn_core::vec3::cross;

use crate::VoxelType;

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

type HResult<T> = std::result::Result<T, HeaderError>;

fn invalid<T>(msg: impl Into<String>) -> HResult<T> {
    Err(HeaderError::Invalid(msg.into()))
}

/// A tag as `(gggg,eeee)`.
pub(crate) fn tag_str(t: Tag) -> String {
    format!("({:04X},{:04X})", t.group(), t.element())
}

/// The bytes of an element read with VR UN (unknown), whose real VR the file hid.
fn un_bytes(obj: &InMemDicomObject, tag: Tag) -> Option<&[u8]> {
    let e = obj.get(tag)?;
    match (e.vr(), e.value()) {
        (VR::UN, Value::Primitive(PrimitiveValue::U8(b))) => Some(&b[..]),
        _ => None,
    }
}

/// Numbers from a UN element, interpreted with the VR the standard dictionary gives.
fn un_numbers(tag: Tag, b: &[u8]) -> Option<Vec<f64>> {
    let vr = StandardDataDictionary.by_tag(tag).map(|e| e.vr())?;
    let le2 = |c: &[u8]| [c[0], c[1]];
    let le4 = |c: &[u8]| [c[0], c[1], c[2], c[3]];
    Some(match vr {
        VirtualVr::Exact(VR::DS) | VirtualVr::Exact(VR::IS) => {
            let text = std::str::from_utf8(b).ok()?;
            let text = text.trim_matches(|c: char| c == '\0' || c.is_whitespace());
            if text.is_empty() {
                return Some(vec![]);
            }
            text.split('\\')
                .map(|t| t.trim().parse::<f64>().ok())
                .collect::<Option<Vec<_>>>()?
        }
        VirtualVr::Exact(VR::US) | VirtualVr::Xs => b
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes(le2(c)) as f64)
            .collect(),
        VirtualVr::Exact(VR::SS) => b
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes(le2(c)) as f64)
            .collect(),
        VirtualVr::Exact(VR::UL) => b
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(le4(c)) as f64)
            .collect(),
        VirtualVr::Exact(VR::SL) => b
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(le4(c)) as f64)
            .collect(),
        VirtualVr::Exact(VR::FL) => b
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(le4(c)) as f64)
            .collect(),
        VirtualVr::Exact(VR::FD) => b
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect(),
        _ => return None,
    })
}

/// A string value, trimmed of spaces and NULs; `None` if absent or empty.
pub(crate) fn get_str(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    let s = match un_bytes(obj, tag) {
        Some(b) => String::from_utf8_lossy(b).into_owned(),
        None => obj.get(tag)?.to_str().ok()?.into_owned(),
    };
    let s = s.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    (!s.is_empty()).then(|| s.to_string())
}

/// Numbers (DS, IS, FD, US...); `Ok(None)` if absent or empty, an error if not numeric.
pub(crate) fn get_f64s(obj: &InMemDicomObject, tag: Tag, name: &str) -> HResult<Option<Vec<f64>>> {
    let Some(e) = obj.get(tag) else {
        return Ok(None);
    };
    if let Value::Primitive(PrimitiveValue::Empty) = e.value() {
        return Ok(None);
    }
    if let Some(b) = un_bytes(obj, tag) {
        return match un_numbers(tag, b) {
            Some(v) if v.is_empty() => Ok(None),
            Some(v) if v.iter().all(|x| x.is_finite()) => Ok(Some(v)),
            _ => invalid(format!(
                "{name} {} (VR UN) is not a list of finite numbers",
                tag_str(tag)
            )),
        };
    }
    if let Ok(s) = e.to_str() {
        if s.trim_matches(|c: char| c == '\0' || c.is_whitespace())
            .is_empty()
        {
            return Ok(None);
        }
    }
    match e.to_multi_float64() {
        Ok(v) if v.iter().all(|x| x.is_finite()) => Ok(Some(v)),
        _ => invalid(format!(
            "{name} {} is not a list of finite numbers: {:?}",
            tag_str(tag),
            e.to_str().map(|s| s.to_string()).unwrap_or_default()
        )),
    }
}

/// Exactly `N` numbers, or none.
fn get_fixed<const N: usize>(
    obj: &InMemDicomObject,
    tag: Tag,
    name: &str,
) -> HResult<Option<[f64; N]>> {
    match get_f64s(obj, tag, name)? {
        None => Ok(None),
        Some(v) => match <[f64; N]>::try_from(v.as_slice()) {
            Ok(a) => Ok(Some(a)),
            Err(_) => invalid(format!(
                "{name} {} has {} values, expected {N}",
                tag_str(tag),
                v.len()
            )),
        },
    }
}

/// One number, or none.
fn get_f64(obj: &InMemDicomObject, tag: Tag, name: &str) -> HResult<Option<f64>> {
    Ok(get_f64s(obj, tag, name)?.and_then(|v| v.first().copied()))
}

/// An integer, or none; an error if not an integer.
pub(crate) fn get_int(obj: &InMemDicomObject, tag: Tag, name: &str) -> HResult<Option<i64>> {
    match get_f64s(obj, tag, name)? {
        None => Ok(None),
        Some(v) => match v.first() {
            Some(&x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Ok(Some(x as i64)),
            Some(&x) => invalid(format!("{name} {} is not an integer: {x}", tag_str(tag))),
            None => Ok(None),
        },
    }
}

/// A required small unsigned integer (Rows, BitsAllocated...).
fn get_u16(obj: &InMemDicomObject, tag: Tag, name: &str, default: Option<u16>) -> HResult<u16> {
    match get_int(obj, tag, name)? {
        Some(v) => u16::try_from(v)
            .map_err(|_| HeaderError::Invalid(format!("{name} {} is {v}", tag_str(tag)))),
        None => default
            .ok_or_else(|| HeaderError::Invalid(format!("{name} {} is missing", tag_str(tag)))),
    }
}

/// The items of a sequence (empty if absent).
fn items(obj: &InMemDicomObject, tag: Tag) -> &[InMemDicomObject] {
    obj.get(tag).and_then(|e| e.items()).unwrap_or(&[])
}

/// The first item of sequence `seq` inside a functional group item.
fn group_item(fg: Option<&InMemDicomObject>, seq: Tag) -> Option<&InMemDicomObject> {
    fg.and_then(|g| items(g, seq).first())
}

/// Whether a file holds pixel data at all.
pub(crate) fn has_pixel_data(obj: &InMemDicomObject) -> bool {
    obj.get(tags::PIXEL_DATA).is_some()
}

/// The trimmed transfer syntax UID of a file.
pub(crate) fn transfer_syntax(obj: &DefaultDicomObject) -> String {
    obj.meta()
        .transfer_syntax()
        .trim_matches(|c: char| c == '\0' || c.is_whitespace())
        .to_string()
}

/// A readable name for a transfer syntax UID.
pub(crate) fn transfer_syntax_name(uid: &str) -> &'static str {
    match uid {
        "1.2.840.10008.1.2" => "Implicit VR Little Endian",
        "1.2.840.10008.1.2.1" => "Explicit VR Little Endian",
        "1.2.840.10008.1.2.1.98" => "Encapsulated Uncompressed Explicit VR Little Endian",
        "1.2.840.10008.1.2.1.99" => "Deflated Explicit VR Little Endian",
        "1.2.840.10008.1.2.2" => "Explicit VR Big Endian",
        "1.2.840.10008.1.2.4.50" => "JPEG Baseline",
        "1.2.840.10008.1.2.4.51" => "JPEG Extended",
        "1.2.840.10008.1.2.4.57" => "JPEG Lossless",
        "1.2.840.10008.1.2.4.70" => "JPEG Lossless SV1",
        "1.2.840.10008.1.2.4.80" => "JPEG-LS Lossless",
        "1.2.840.10008.1.2.4.81" => "JPEG-LS Near-Lossless",
        "1.2.840.10008.1.2.4.90" => "JPEG 2000 Lossless",
        "1.2.840.10008.1.2.4.91" => "JPEG 2000",
        "1.2.840.10008.1.2.4.201" => "HTJ2K Lossless",
        "1.2.840.10008.1.2.4.202" => "HTJ2K Lossless RPCL",
        "1.2.840.10008.1.2.4.203" => "HTJ2K",
        "1.2.840.10008.1.2.4.100" | "1.2.840.10008.1.2.4.101" => "MPEG-2",
        "1.2.840.10008.1.2.4.102" | "1.2.840.10008.1.2.4.103" => "MPEG-4",
        "1.2.840.10008.1.2.4.110" | "1.2.840.10008.1.2.4.111" => "JPEG XL",
        "1.2.840.10008.1.2.5" => "RLE Lossless",
        _ => "unknown transfer syntax",
    }
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
fn primitive_len(p: &PrimitiveValue) -> u64 {
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
fn pick_f64(
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

/// Geometry and rescale of one frame: per-frame functional group, then shared, then root.
fn frame_info(
    root: &InMemDicomObject,
    shared: Option<&InMemDicomObject>,
    frame: Option<&InMemDicomObject>,
) -> HResult<FrameInfo> {
    let mut position = None;
    let mut orientation = None;
    let mut pixel_spacing = None;
    let mut slope = None;
    let mut inter = None;
    for fg in [frame, shared] {
        if position.is_none() {
            if let Some(item) = group_item(fg, tags::PLANE_POSITION_SEQUENCE) {
                position =
                    get_fixed::<3>(item, tags::IMAGE_POSITION_PATIENT, "ImagePositionPatient")?;
            }
        }
        if orientation.is_none() {
            if let Some(item) = group_item(fg, tags::PLANE_ORIENTATION_SEQUENCE) {
                orientation = get_fixed::<6>(
                    item,
                    tags::IMAGE_ORIENTATION_PATIENT,
                    "ImageOrientationPatient",
                )?;
            }
        }
        if pixel_spacing.is_none() {
            if let Some(item) = group_item(fg, tags::PIXEL_MEASURES_SEQUENCE) {
                pixel_spacing = get_fixed::<2>(item, tags::PIXEL_SPACING, "PixelSpacing")?;
            }
        }
        if slope.is_none() {
            if let Some(item) = group_item(fg, tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE) {
                slope = get_f64(item, tags::RESCALE_SLOPE, "RescaleSlope")?;
                inter = get_f64(item, tags::RESCALE_INTERCEPT, "RescaleIntercept")?;
            }
        }
    }
    if position.is_none() {
        position = get_fixed::<3>(root, tags::IMAGE_POSITION_PATIENT, "ImagePositionPatient")?;
    }
    if orientation.is_none() {
        orientation = get_fixed::<6>(
            root,
            tags::IMAGE_ORIENTATION_PATIENT,
            "ImageOrientationPatient",
        )?;
    }
    if pixel_spacing.is_none() {
        pixel_spacing = get_fixed::<2>(root, tags::PIXEL_SPACING, "PixelSpacing")?;
    }
    if pixel_spacing.is_none() {
        pixel_spacing = get_fixed::<2>(root, tags::IMAGER_PIXEL_SPACING, "ImagerPixelSpacing")?;
    }
    if slope.is_none() && inter.is_none() {
        slope = get_f64(root, tags::RESCALE_SLOPE, "RescaleSlope")?;
        inter = get_f64(root, tags::RESCALE_INTERCEPT, "RescaleIntercept")?;
    }
    let mut slope = slope.unwrap_or(1.0);
    if slope == 0.0 {
        // A zero slope would erase the image; readers treat it as absent.
        slope = 1.0;
    }
    if let Some(ps) = pixel_spacing {
        if ps.iter().any(|&s| s <= 0.0) {
            return invalid(format!("PixelSpacing is {ps:?}: it must be positive"));
        }
    }
    Ok(FrameInfo {
        position,
        orientation,
        pixel_spacing,
        rescale: (slope, inter.unwrap_or(0.0)),
    })
}

/// How the stored samples map to voxel values.
fn colour(
    root: &InMemDicomObject,
    photometric: &str,
    samples: usize,
    bits_allocated: u16,
    encapsulated: bool,
    ts: &str,
) -> HResult<Colour> {
    let c = match (photometric, samples) {
        ("MONOCHROME1", 1) => Colour::Monochrome1,
        ("MONOCHROME2", 1) => Colour::Grey,
        ("PALETTE COLOR", 1) => Colour::Palette(Box::new(palette(root)?)),
        (_, 3) => {
            // Codecs other than RLE hand back RGB.
            let native = !encapsulated || ts == TS_RLE;
            match photometric {
                "YBR_FULL" if native => Colour::YbrFull,
                "YBR_FULL_422" if native && !encapsulated => Colour::YbrFull422,
                "YBR_FULL_422" if native => Colour::YbrFull,
                "RGB" => Colour::Rgb,
                _ if encapsulated && !native => Colour::Rgb,
                other => {
                    return Err(HeaderError::Unsupported(format!(
                        "PhotometricInterpretation {other} for uncompressed or RLE data"
                    )))
                }
            }
        }
        (other, 1) => {
            // Unknown monochrome-like values: keep the samples as they are.
            if other.starts_with("MONOCHROME") || other.is_empty() {
                Colour::Grey
            } else {
                return Err(HeaderError::Unsupported(format!(
                    "PhotometricInterpretation {other}"
                )));
            }
        }
        (other, n) => {
            return Err(HeaderError::Unsupported(format!(
                "PhotometricInterpretation {other} with {n} samples per pixel"
            )))
        }
    };
    if matches!(c, Colour::YbrFull | Colour::YbrFull422) && bits_allocated != 8 {
        return Err(HeaderError::Unsupported(format!(
            "{photometric} with {bits_allocated} bits allocated (only 8-bit YCbCr is converted)"
        )));
    }
    Ok(c)
}

/// Reads the palette colour lookup tables.
fn palette(root: &InMemDicomObject) -> HResult<Palette> {
    if root
        .get(tags::SEGMENTED_RED_PALETTE_COLOR_LOOKUP_TABLE_DATA)
        .is_some()
    {
        return Err(HeaderError::Unsupported(
            "segmented palette colour lookup tables".into(),
        ));
    }
    let desc_tags = [
        tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
        tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
        tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
    ];
    let data_tags = [
        tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DATA,
        tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DATA,
        tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DATA,
    ];
    let mut lut: [Vec<u16>; 3] = Default::default();
    let mut first = 0i64;
    let mut any_wide = false;
    for c in 0..3 {
        let d = root.get(desc_tags[c]).ok_or_else(|| {
            HeaderError::Invalid(format!("PALETTE COLOR without {}", tag_str(desc_tags[c])))
        })?;
        // US or SS: read raw numbers.
        let d: Vec<i64> = d.to_multi_int::<i64>().map_err(|e| {
            HeaderError::Invalid(format!("palette descriptor {}: {e}", tag_str(desc_tags[c])))
        })?;
        let [n, f, bits] = <[i64; 3]>::try_from(d.as_slice()).map_err(|_| {
            HeaderError::Invalid(format!(
                "palette descriptor {} has {} values",
                tag_str(desc_tags[c]),
                d.len()
            ))
        })?;
        let n = if n <= 0 { 65536 } else { n as usize };
        // The first mapped value is US or SS; a negative read of a US is its 16-bit pattern.
        first = f;
        let data = root.get(data_tags[c]).ok_or_else(|| {
            HeaderError::Invalid(format!("PALETTE COLOR without {}", tag_str(data_tags[c])))
        })?;
        let bytes = data.to_bytes().map_err(|e| {
            HeaderError::Invalid(format!("palette data {}: {e}", tag_str(data_tags[c])))
        })?;
        let entries: Vec<u16> = match bits {
            16 => {
                if bytes.len() < 2 * n {
                    return invalid(format!(
                        "palette data {} has {} bytes for {n} entries",
                        tag_str(data_tags[c]),
                        bytes.len()
                    ));
                }
                // Values are in host order (dicom-object decodes OW into u16).
                match data.value() {
                    Value::Primitive(PrimitiveValue::U16(v)) => v.iter().take(n).copied().collect(),
                    _ => bytes
                        .chunks_exact(2)
                        .take(n)
                        .map(|b| u16::from_le_bytes([b[0], b[1]]))
                        .collect(),
                }
            }
            8 => {
                // 8-bit entries are stored in 16-bit words; use the low bytes... or packed bytes.
                match data.value() {
                    Value::Primitive(PrimitiveValue::U16(v)) if v.len() >= n => {
                        v.iter().take(n).map(|x| x & 0xFF).collect()
                    }
                    _ if bytes.len() >= n => bytes.iter().take(n).map(|&b| b as u16).collect(),
                    _ => {
                        return invalid(format!(
                            "palette data {} is too short",
                            tag_str(data_tags[c])
                        ))
                    }
                }
            }
            b => {
                return Err(HeaderError::Unsupported(format!(
                    "palette entries of {b} bits"
                )))
            }
        };
        if bits == 16 && entries.iter().any(|e| e & 0xFF != 0) {
            any_wide = true;
        }
        lut[c] = entries;
    }
    let bits16 = root
        .get(tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR)
        .and_then(|d| d.to_multi_int::<i64>().ok())
        .and_then(|d| d.get(2).copied())
        == Some(16);
    if bits16 && !any_wide {
        for l in lut.iter_mut() {
            for e in l.iter_mut() {
                *e >>= 8;
            }
        }
    }
    Ok(Palette {
        first,
        lut,
        wide: any_wide,
    })
}

/// Tags copied into the volume's metadata, by keyword.
const META_TAGS: &[(Tag, &str)] = &[
    (tags::PATIENT_ID, "PatientID"),
    (tags::PATIENT_SEX, "PatientSex"),
    (tags::PATIENT_AGE, "PatientAge"),
    (tags::STUDY_INSTANCE_UID, "StudyInstanceUID"),
    (tags::STUDY_DATE, "StudyDate"),
    (tags::STUDY_DESCRIPTION, "StudyDescription"),
    (tags::SERIES_INSTANCE_UID, "SeriesInstanceUID"),
    (tags::SERIES_NUMBER, "SeriesNumber"),
    (tags::SERIES_DESCRIPTION, "SeriesDescription"),
    (tags::SERIES_DATE, "SeriesDate"),
    (tags::MODALITY, "Modality"),
    (tags::SOP_CLASS_UID, "SOPClassUID"),
    (tags::MANUFACTURER, "Manufacturer"),
    (tags::MANUFACTURER_MODEL_NAME, "ManufacturerModelName"),
    (tags::BODY_PART_EXAMINED, "BodyPartExamined"),
    (tags::PROTOCOL_NAME, "ProtocolName"),
    (tags::SEQUENCE_NAME, "SequenceName"),
    (tags::IMAGE_TYPE, "ImageType"),
    (
        tags::PHOTOMETRIC_INTERPRETATION,
        "PhotometricInterpretation",
    ),
    (tags::BITS_ALLOCATED, "BitsAllocated"),
    (tags::BITS_STORED, "BitsStored"),
    (tags::PIXEL_REPRESENTATION, "PixelRepresentation"),
    (tags::SLICE_THICKNESS, "SliceThickness"),
    (tags::SPACING_BETWEEN_SLICES, "SpacingBetweenSlices"),
    (tags::KVP, "KVP"),
    (tags::CONVOLUTION_KERNEL, "ConvolutionKernel"),
    (tags::MAGNETIC_FIELD_STRENGTH, "MagneticFieldStrength"),
    (tags::REPETITION_TIME, "RepetitionTime"),
    (tags::ECHO_TIME, "EchoTime"),
    (tags::INVERSION_TIME, "InversionTime"),
    (tags::FLIP_ANGLE, "FlipAngle"),
    (tags::WINDOW_CENTER, "WindowCenter"),
    (tags::WINDOW_WIDTH, "WindowWidth"),
    (tags::RESCALE_TYPE, "RescaleType"),
    (tags::UNITS, "Units"),
    (tags::DOSE_UNITS, "DoseUnits"),
    (tags::DOSE_GRID_SCALING, "DoseGridScaling"),
];

/// String metadata of a file.
fn metadata(root: &InMemDicomObject, ts: &str) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for &(tag, name) in META_TAGS {
        if let Some(v) = get_str(root, tag) {
            m.insert(name.to_string(), v);
        }
    }
    m.insert("TransferSyntaxUID".into(), ts.to_string());
    if let Some(r) = items(root, tags::RADIOPHARMACEUTICAL_INFORMATION_SEQUENCE).first() {
        if let Some(v) = get_str(r, tags::RADIOPHARMACEUTICAL) {
            m.insert("Radiopharmaceutical".into(), v);
        }
    }
    m
}

/// A modality subtype guessed from the series description and protocol (MR contrasts,
/// PET tracers); `None` when nothing is recognised.
pub(crate) fn subtype(modality: &str, meta: &BTreeMap<String, String>) -> Option<String> {
    let text = |keys: &[&str]| {
        keys.iter()
            .filter_map(|k| meta.get(*k))
            .map(|s| s.to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let words = |s: &str| -> Vec<String> {
        s.split(|c: char| !c.is_ascii_alphanumeric() && c != '*')
            .filter(|w| !w.is_empty())
            .map(|w| w.to_string())
            .collect()
    };
    match modality.to_ascii_uppercase().as_str() {
        "MR" => {
            let t = text(&["SeriesDescription", "ProtocolName", "SequenceName"]);
            let w = words(&t);
            let has = |names: &[&str]| w.iter().any(|x| names.iter().any(|n| x == n));
            let prefix = |p: &str| w.iter().any(|x| x.starts_with(p));
            if prefix("FLAIR") {
                Some("FLAIR".into())
            } else if has(&["ADC"]) {
                Some("ADC".into())
            } else if has(&["DWI", "DIFFUSION", "DIFF", "DTI", "TRACEW"]) {
                Some("DWI".into())
            } else if has(&["SWI"]) {
                Some("SWI".into())
            } else if prefix("T1") || has(&["MPRAGE", "SPGR", "BRAVO", "TFL3D", "VIBE"]) {
                Some("T1".into())
            } else if prefix("T2") || has(&["TSE2D", "SPACE"]) {
                Some("T2".into())
            } else if prefix("PD") {
                Some("PD".into())
            } else {
                None
            }
        }
        "PT" => {
            let t = text(&["Radiopharmaceutical", "SeriesDescription"]);
            if t.contains("FLUORODEOXYGLUCOSE") || t.contains("FDG") {
                Some("FDG".into())
            } else if t.contains("PSMA") {
                Some("PSMA".into())
            } else if t.contains("DOTATATE") || t.contains("DOTATOC") {
                Some("DOTATATE".into())
            } else {
                None
            }
        }
        _ => None,
    }
}
