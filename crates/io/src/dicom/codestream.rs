//! The image size a compressed frame declares, read from its codestream header before
//! any decoder runs: decoders allocate from these numbers (openjp2 and jpeg-decoder
//! trust them), so a frame that claims 65535 x 65535 in a few bytes would make them
//! allocate gigabytes. A frame must agree with the DICOM Rows and Columns.

/// Checks each fragment that starts a JPEG, JPEG-LS or JPEG 2000 codestream.
pub(crate) fn check_fragments(
    fragments: &[Vec<u8>],
    rows: usize,
    cols: usize,
) -> Result<(), String> {
    for (n, f) in fragments.iter().enumerate() {
        let declared = if f.starts_with(&[0xFF, 0x4F, 0xFF, 0x51]) {
            Some(j2k_size(f)?)
        } else if f.starts_with(&[0xFF, 0xD8]) {
            jpeg_size(f)
        } else {
            None
        };
        if let Some((w, h)) = declared {
            if (w, h) != (cols, rows) {
                return Err(format!(
                    "fragment {n}: the codestream declares {w} x {h} pixels but Columns x Rows is {cols} x {rows}"
                ));
            }
        }
    }
    Ok(())
}

fn be16(b: &[u8], at: usize) -> Option<usize> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]) as usize)
}

fn be32(b: &[u8], at: usize) -> Option<u64> {
    Some(u32::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]) as u64)
}

/// Width and height from the SIZ segment that follows SOC; refuses more than the
/// 65535 tiles the standard allows.
fn j2k_size(f: &[u8]) -> Result<(usize, usize), String> {
    // SOC (2), SIZ marker (2), Lsiz (2), Rsiz (2), then Xsiz, Ysiz, XOsiz, YOsiz, XTsiz, YTsiz, XTOsiz, YTOsiz.
    let field = |k: usize| be32(f, 8 + 4 * k).ok_or("JPEG 2000 SIZ segment is cut short");
    let (xsiz, ysiz, xo, yo) = (field(0)?, field(1)?, field(2)?, field(3)?);
    let (xt, yt, xto, yto) = (field(4)?, field(5)?, field(6)?, field(7)?);
    if xsiz <= xo || ysiz <= yo || xt == 0 || yt == 0 || xto > xo || yto > yo {
        return Err(format!("JPEG 2000 SIZ segment is inconsistent (size {xsiz} x {ysiz}, offset {xo}, {yo}, tiles {xt} x {yt})"));
    }
    let tiles = (xsiz - xto).div_ceil(xt) * (ysiz - yto).div_ceil(yt);
    if tiles > 65535 {
        return Err(format!(
            "JPEG 2000 codestream declares {tiles} tiles (at most 65535 are allowed)"
        ));
    }
    Ok(((xsiz - xo) as usize, (ysiz - yo) as usize))
}

/// Width and height from the first SOFn (JPEG) or SOF55 (JPEG-LS) segment, if found.
fn jpeg_size(f: &[u8]) -> Option<(usize, usize)> {
    let mut at = 2;
    while at + 4 <= f.len() {
        if f[at] != 0xFF {
            return None;
        }
        let marker = f[at + 1];
        if marker == 0xFF {
            at += 1; // fill byte
            continue;
        }
        let len = be16(f, at + 2)?;
        let sof = matches!(marker, 0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF | 0xF7);
        if sof {
            // length (2), precision (1), height (2), width (2)
            let h = be16(f, at + 5)?;
            let w = be16(f, at + 7)?;
            return Some((w, h));
        }
        if marker == 0xDA {
            return None; // scan data before any frame header: let the decoder complain
        }
        at += 2 + len;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j2k(w: u32, h: u32, tile: u32) -> Vec<u8> {
        let mut b = vec![0xFF, 0x4F, 0xFF, 0x51, 0, 41, 0, 0];
        for v in [w, h, 0, 0, tile, tile, 0, 0] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b.extend_from_slice(&[0, 1, 7, 1, 1]);
        b
    }

    fn jpeg(w: u16, h: u16) -> Vec<u8> {
        let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0xFF, 0xC0, 0, 11, 8];
        b.extend_from_slice(&h.to_be_bytes());
        b.extend_from_slice(&w.to_be_bytes());
        b.extend_from_slice(&[1, 1, 0x11, 0]);
        b
    }

    #[test]
    fn codestreams_must_agree_with_rows_and_columns() {
        assert!(check_fragments(&[j2k(64, 32, 64)], 32, 64).is_ok());
        assert!(check_fragments(&[jpeg(64, 32)], 32, 64).is_ok());
        let e = check_fragments(&[j2k(65535, 65535, 65535)], 32, 64).unwrap_err();
        assert!(e.contains("65535 x 65535"), "{e}");
        assert!(check_fragments(&[jpeg(9000, 9000)], 32, 64)
            .unwrap_err()
            .contains("9000 x 9000"));
        assert!(check_fragments(&[j2k(64, 32, 0)], 32, 64).is_err());
        assert!(check_fragments(&[j2k(1024, 1024, 1)], 1024, 1024)
            .unwrap_err()
            .contains("tiles"));
        // Continuation fragments and unknown data are left to the decoder.
        assert!(check_fragments(&[vec![1, 2, 3]], 32, 64).is_ok());
    }

    #[test]
    fn every_compressed_fixture_passes() {
        let dir = crate::dicom::tests::data_dir().join("pydicom");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            let Ok(obj) = dicom_object::open_file(&p) else {
                continue;
            };
            let Ok(px) = obj.element(dicom_dictionary_std::tags::PIXEL_DATA) else {
                continue;
            };
            let dicom_core::value::Value::PixelSequence(seq) = px.value() else {
                continue;
            };
            let num = |t| {
                obj.element(t)
                    .ok()
                    .and_then(|e| e.to_int::<usize>().ok())
                    .unwrap_or(0)
            };
            let (rows, cols) = (
                num(dicom_dictionary_std::tags::ROWS),
                num(dicom_dictionary_std::tags::COLUMNS),
            );
            check_fragments(seq.fragments(), rows, cols)
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            n += 1;
        }
        assert!(n >= 20, "only {n} compressed fixtures");
    }
}
