//! Colour: photometric interpretation, planar configuration and palette colour tables.

use dicom_core::value::{PrimitiveValue, Value};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::elements::*;
use super::header::*;

/// How the stored samples map to voxel values.
pub(super) fn colour(
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
pub(super) fn palette(root: &InMemDicomObject) -> HResult<Palette> {
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
