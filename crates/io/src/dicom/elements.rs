//! Reading DICOM elements: strings, numbers (also from elements whose VR the file hid as UN),
//! sequence items, and the transfer syntax.

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::{tags, StandardDataDictionary};
use dicom_object::{DefaultDicomObject, InMemDicomObject};

use super::header::HeaderError;

pub(super) type HResult<T> = std::result::Result<T, HeaderError>;

pub(super) fn invalid<T>(msg: impl Into<String>) -> HResult<T> {
    Err(HeaderError::Invalid(msg.into()))
}

/// A tag as `(gggg,eeee)`.
pub(crate) fn tag_str(t: Tag) -> String {
    format!("({:04X},{:04X})", t.group(), t.element())
}

/// The bytes of an element read with VR UN (unknown), whose real VR the file hid.
pub(super) fn un_bytes(obj: &InMemDicomObject, tag: Tag) -> Option<&[u8]> {
    let e = obj.get(tag)?;
    match (e.vr(), e.value()) {
        (VR::UN, Value::Primitive(PrimitiveValue::U8(b))) => Some(&b[..]),
        _ => None,
    }
}

/// Numbers from a UN element, interpreted with the VR the standard dictionary gives.
pub(super) fn un_numbers(tag: Tag, b: &[u8]) -> Option<Vec<f64>> {
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
pub(super) fn get_fixed<const N: usize>(
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
pub(super) fn get_f64(obj: &InMemDicomObject, tag: Tag, name: &str) -> HResult<Option<f64>> {
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
pub(super) fn get_u16(
    obj: &InMemDicomObject,
    tag: Tag,
    name: &str,
    default: Option<u16>,
) -> HResult<u16> {
    match get_int(obj, tag, name)? {
        Some(v) => u16::try_from(v)
            .map_err(|_| HeaderError::Invalid(format!("{name} {} is {v}", tag_str(tag)))),
        None => default
            .ok_or_else(|| HeaderError::Invalid(format!("{name} {} is missing", tag_str(tag)))),
    }
}

/// The items of a sequence (empty if absent).
pub(super) fn items(obj: &InMemDicomObject, tag: Tag) -> &[InMemDicomObject] {
    obj.get(tag).and_then(|e| e.items()).unwrap_or(&[])
}

/// The first item of sequence `seq` inside a functional group item.
pub(super) fn group_item(fg: Option<&InMemDicomObject>, seq: Tag) -> Option<&InMemDicomObject> {
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
