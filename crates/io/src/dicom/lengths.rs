//! A pre-scan of a DICOM file's element lengths, before dicom-parser reads it.
//!
//! dicom-parser allocates (and zero-fills) each value at its declared length before
//! reading it, so a corrupt or hostile file that declares a 4 GB element makes it
//! commit 4 GB (GDCM fixed the same flaw as CVE-2026-3650). This walk reads only
//! element headers, seeking over values, and refuses any declared length larger
//! than what is left of the file, so no allocation is ever bigger than the file.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;

const UNDEFINED: u32 = 0xFFFF_FFFF;
/// Deepest nesting of sequences followed (real files nest a handful of levels).
const MAX_DEPTH: usize = 64;

/// How the data set after the meta group is encoded.
#[derive(Clone, Copy)]
struct Encoding {
    explicit_vr: bool,
    little_endian: bool,
}

struct Walker<R> {
    r: R,
    pos: u64,
    len: u64,
    enc: Encoding,
}

/// Checks that every element length in the file fits in what remains of it.
/// `preamble` says whether the file starts with the 128-byte preamble and "DICM".
/// A deflated data set is inflated (up to deflate's largest ratio, 1032:1, and the memory
/// limit) and its lengths checked against the inflated bytes, which the parser reads.
pub(crate) fn check_element_lengths(path: &Path, preamble: bool) -> Result<(), String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    let mut w = Walker {
        r: BufReader::with_capacity(1 << 16, file),
        pos: 0,
        len,
        enc: Encoding {
            explicit_vr: true,
            little_endian: true,
        },
    };
    if preamble {
        w.skip(132)?;
    }
    // The file meta group as dicom-object reads it (explicit VR little endian): (0002,0000)
    // first, then elements of any group until their bytes reach its value; the data set
    // starts there, wherever the group's own elements end. A group it would refuse (no
    // group length first, an undefined length) is left to it: it allocates nothing then.
    let mut syntax = String::new();
    let Some((tag, _, length)) = w.header()? else {
        return Ok(());
    };
    if tag != Tag(0x0002, 0x0000) || length != 4 {
        return Ok(());
    }
    let group_length = w.u32()? as u64;
    let mut consumed = 0u64;
    while consumed < group_length {
        let at = w.pos;
        let Some((tag, _, length)) = w.header()? else {
            return Ok(());
        };
        if length == UNDEFINED {
            return Ok(());
        }
        if tag == Tag(0x0002, 0x0010) && length < 256 {
            let mut b = vec![0u8; length as usize];
            w.read_exact(&mut b)?;
            syntax = String::from_utf8_lossy(&b)
                .trim_end_matches(|c: char| c.is_whitespace() || c == '\0')
                .to_string();
        } else {
            w.skip(length as u64)?;
        }
        consumed += w.pos - at;
    }
    w.enc = match syntax.as_str() {
        "1.2.840.10008.1.2" => Encoding {
            explicit_vr: false,
            little_endian: true,
        },
        "1.2.840.10008.1.2.2" => Encoding {
            explicit_vr: true,
            little_endian: false,
        },
        "1.2.840.10008.1.2.1.99" | "1.2.840.10008.1.2.4.95" => return w.inflated(),
        _ => Encoding {
            explicit_vr: true,
            little_endian: true,
        },
    };
    w.elements(w.len, 0)
}

impl Walker<BufReader<File>> {
    /// Checks a deflated data set (the rest of the file, raw deflate) in its inflated form.
    fn inflated(mut self) -> Result<(), String> {
        let compressed = self.len - self.pos;
        let cap = compressed
            .saturating_mul(1032)
            .saturating_add(1024)
            .min(medburn_core::limits::max_bytes());
        self.r
            .seek(SeekFrom::Start(self.pos))
            .map_err(|e| e.to_string())?;
        let mut bytes = Vec::new();
        flate2::read::DeflateDecoder::new(self.r)
            .take(cap + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("the deflated data set does not inflate: {e}"))?;
        if bytes.len() as u64 > cap {
            return Err(format!(
                "the deflated data set inflates to more than {cap} bytes"
            ));
        }
        let mut w = Walker {
            len: bytes.len() as u64,
            r: std::io::Cursor::new(bytes),
            pos: 0,
            enc: Encoding {
                explicit_vr: true,
                little_endian: true,
            },
        };
        w.elements(w.len, 0)
    }
}

impl<R: Read + Seek> Walker<R> {
    fn read_exact(&mut self, b: &mut [u8]) -> Result<(), String> {
        self.r.read_exact(b).map_err(|e| e.to_string())?;
        self.pos += b.len() as u64;
        Ok(())
    }

    fn skip(&mut self, n: u64) -> Result<(), String> {
        self.seek_to(self.pos + n)
    }

    fn seek_to(&mut self, at: u64) -> Result<(), String> {
        self.r
            .seek(SeekFrom::Start(at))
            .map_err(|e| e.to_string())?;
        self.pos = at;
        Ok(())
    }

    fn u16(&mut self) -> Result<u16, String> {
        let mut b = [0u8; 2];
        self.read_exact(&mut b)?;
        Ok(if self.enc.little_endian {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    }

    fn u32(&mut self) -> Result<u32, String> {
        let mut b = [0u8; 4];
        self.read_exact(&mut b)?;
        Ok(if self.enc.little_endian {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    /// Refuses a defined `length` beyond the end of the file: dicom-parser would allocate it.
    fn fits(&self, tag: Tag, length: u32) -> Result<(), String> {
        let remaining = self.len - self.pos;
        if length != UNDEFINED && length as u64 > remaining {
            return Err(format!(
                "element {tag} claims {length} bytes at offset {} but only {remaining} remain in the file",
                self.pos
            ));
        }
        Ok(())
    }

    /// The next element header, checked with [`Walker::fits`] wherever it stands.
    fn header(&mut self) -> Result<Option<(Tag, Option<VR>, u32)>, String> {
        let h = self.raw_header()?;
        if let Some((tag, _, length)) = h {
            self.fits(tag, length)?;
        }
        Ok(h)
    }

    /// The next element header, unchecked; `None` at the end of the file or of a short
    /// tail (the parser reports truncation itself).
    fn raw_header(&mut self) -> Result<Option<(Tag, Option<VR>, u32)>, String> {
        if self.len - self.pos < 8 {
            return Ok(None);
        }
        let tag = Tag(self.u16()?, self.u16()?);
        if tag.group() == 0xFFFE {
            return Ok(Some((tag, None, self.u32()?)));
        }
        if !self.enc.explicit_vr {
            return Ok(Some((tag, None, self.u32()?)));
        }
        let mut code = [0u8; 2];
        self.read_exact(&mut code)?;
        // As dicom-parser does: an unknown VR code reads as UN (with a 4-byte length).
        let vr = VR::from_binary(code).unwrap_or(VR::UN);
        let long = matches!(
            vr,
            VR::OB
                | VR::OD
                | VR::OF
                | VR::OL
                | VR::OV
                | VR::OW
                | VR::SQ
                | VR::SV
                | VR::UC
                | VR::UN
                | VR::UR
                | VR::UT
                | VR::UV
        );
        let length = if long {
            self.skip(2)?;
            self.u32()?
        } else {
            self.u16()? as u32
        };
        Ok(Some((tag, Some(vr), length)))
    }

    /// Walks elements until `end` (exclusive), or inside an item, its delimiter. As
    /// dicom-parser does where it expects an element: an item delimiter ends the item (and
    /// outside any sequence is passed over); any other (FFFE,xxxx) header, an item or a
    /// sequence delimiter out of place, is read as an element of VR UN with its length.
    fn elements(&mut self, end: u64, depth: usize) -> Result<(), String> {
        while self.pos < end {
            let Some((tag, vr, length)) = self.header()? else {
                return Ok(());
            };
            match tag {
                Tag(0xFFFE, 0xE00D) if depth > 0 => return Ok(()),
                Tag(0xFFFE, 0xE00D) => {}
                Tag(0xFFFE, _) => self.value(tag, Some(VR::UN), length, depth)?,
                _ => self.value(tag, vr, length, depth)?,
            }
        }
        Ok(())
    }

    /// Checks (and passes over) one value, following sequences into their items.
    fn value(&mut self, tag: Tag, vr: Option<VR>, length: u32, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("sequences nested deeper than {MAX_DEPTH} levels"));
        }
        let sequence = match vr {
            Some(VR::SQ) => true,
            Some(VR::UN) => length == UNDEFINED,
            Some(_) => false,
            None => {
                length == UNDEFINED
                    || matches!(
                        StandardDataDictionary.by_tag(tag).map(|e| e.vr()),
                        Some(VirtualVr::Exact(VR::SQ))
                    )
            }
        };
        let pixel_fragments = tag == Tag(0x7FE0, 0x0010) && length == UNDEFINED;
        if length == UNDEFINED {
            if !(sequence || pixel_fragments) {
                return Err(format!(
                    "element {tag} has an undefined length but is not a sequence"
                ));
            }
            // UN of undefined length holds implicit VR little endian items (PS3.5 6.2.2).
            let saved = self.enc;
            if vr == Some(VR::UN) {
                self.enc = Encoding {
                    explicit_vr: false,
                    little_endian: true,
                };
            }
            let r = self.items(self.len, depth + 1, pixel_fragments);
            self.enc = saved;
            return r;
        }
        // Every caller has passed `length` through `fits`. The parser leaves a sequence of
        // defined length where its items end (early at a sequence delimiter), not at `end`.
        if sequence {
            let end = self.pos + length as u64;
            return self.items(end, depth + 1, false);
        }
        // Follow the bytes dicom-parser actually consumes: it reads numbers whole
        // (`length / size` of them), so a length that is not a multiple of the number
        // size leaves the rest of the value in the stream.
        let vr = vr.or_else(
            || match StandardDataDictionary.by_tag(tag).map(|e| e.vr()) {
                Some(VirtualVr::Exact(v)) => Some(v),
                _ => None,
            },
        );
        let size = match vr {
            Some(VR::US | VR::OW | VR::SS) => 2,
            Some(VR::AT | VR::FL | VR::OF | VR::SL | VR::OL | VR::UL) => 4,
            Some(VR::FD | VR::OD | VR::SV | VR::OV | VR::UV) => 8,
            _ => 1,
        };
        self.skip(length as u64 - length as u64 % size)
    }

    /// Walks the items of a sequence (data sets) or of encapsulated pixel data (fragments).
    fn items(&mut self, end: u64, depth: usize, fragments: bool) -> Result<(), String> {
        while self.pos < end {
            let Some((tag, vr, length)) = self.header()? else {
                return Ok(());
            };
            match tag {
                Tag(0xFFFE, 0xE0DD) => return Ok(()),
                Tag(0xFFFE, 0xE000) => {
                    if length == UNDEFINED {
                        if fragments {
                            return Err("a pixel data fragment has an undefined length".into());
                        }
                        self.elements(self.len, depth)?;
                        continue;
                    }
                    let item_end = self.pos + length as u64;
                    if fragments {
                        self.seek_to(item_end)?;
                    } else {
                        // Like the parser, go on from where the item's elements end.
                        self.elements(item_end, depth)?;
                    }
                }
                // Not an item: dicom-parser reads it as an element; so do we.
                _ => self.value(tag, vr, length, depth)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Preamble, "DICM" and a meta group (its length, then `syntax`).
    fn head(syntax: &str) -> Vec<u8> {
        let mut b = vec![0u8; 128];
        b.extend_from_slice(b"DICM");
        let mut uid = syntax.as_bytes().to_vec();
        if uid.len() % 2 == 1 {
            uid.push(0);
        }
        // (0002,0000) group length, then (0002,0010) transfer syntax UID.
        b.extend_from_slice(&[0x02, 0x00, 0x00, 0x00, b'U', b'L', 4, 0]);
        b.extend_from_slice(&(8 + uid.len() as u32).to_le_bytes());
        b.extend_from_slice(&[0x02, 0x00, 0x10, 0x00, b'U', b'I']);
        b.extend_from_slice(&(uid.len() as u16).to_le_bytes());
        b.extend_from_slice(&uid);
        b
    }

    fn check(bytes: &[u8]) -> Result<(), String> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.dcm");
        std::fs::write(&p, bytes).unwrap();
        check_element_lengths(&p, true)
    }

    #[test]
    fn a_length_beyond_the_file_is_refused_before_parsing() {
        let mut b = head("1.2.840.10008.1.2.1");
        // (0010,0010) PN "DOE^J" then (0009,1001) OB claiming 4 GB - 16.
        b.extend_from_slice(&[0x10, 0x00, 0x10, 0x00, b'P', b'N', 6, 0]);
        b.extend_from_slice(b"DOE^J ");
        assert!(check(&b).is_ok());
        b.extend_from_slice(&[0x09, 0x00, 0x01, 0x10, b'O', b'B', 0, 0]);
        b.extend_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        b.extend_from_slice(&[1, 2, 3, 4]);
        let err = check(&b).unwrap_err();
        assert!(err.contains("(0009,1001) claims 4294967280 bytes"), "{err}");
    }

    #[test]
    fn an_item_header_outside_a_sequence_is_read_as_an_element() {
        // Found by the dicom_series fuzz target: dicom-parser reads an item header where it
        // expects an element as an element of that length (here 1 byte), so the next header
        // starts one byte later and claims 0xFF000000 bytes, which the parser zero-filled.
        let mut b = head("1.2.840.10008.1.2.1");
        b.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 1, 0, 0, 0]);
        b.extend_from_slice(&[0x00]);
        b.extend_from_slice(&[0x09, 0x00, 0x01, 0x10, b'O', b'B', 0, 0]);
        b.extend_from_slice(&0xFF00_0000u32.to_le_bytes());
        b.extend_from_slice(&[1, 2, 3, 4]);
        let err = check(&b).unwrap_err();
        assert!(err.contains("(0009,1001) claims 4278190080 bytes"), "{err}");
    }

    #[test]
    fn the_data_set_starts_where_the_meta_group_length_says() {
        // Found by the dicom_series fuzz target: elements of group 0000 inside the meta
        // group's length belong to the meta group for dicom-object, so the implicit VR data
        // set starts after them, where (0000,0000) (UL in the dictionary) claims ~4 GB.
        let mut b = vec![0u8; 128];
        b.extend_from_slice(b"DICM");
        let syntax = b"1.2.840.10008.1.2\0";
        let meta_len = 8 + syntax.len() + 2 * 12;
        b.extend_from_slice(&[0x02, 0x00, 0x00, 0x00, b'U', b'L', 4, 0]);
        b.extend_from_slice(&(meta_len as u32).to_le_bytes());
        b.extend_from_slice(&[0x02, 0x00, 0x10, 0x00, b'U', b'I', syntax.len() as u8, 0]);
        b.extend_from_slice(syntax);
        // Two (0000,0000) elements with an unknown VR (read as UN, 12-byte headers), length 0.
        b.extend_from_slice(&[0u8; 24]);
        let ok = b.clone();
        b.extend_from_slice(&[0, 0, 0, 0]);
        b.extend_from_slice(&0xFFFF_0000u32.to_le_bytes());
        b.extend_from_slice(&[0u8; 8]);
        let err = check(&b).unwrap_err();
        assert!(err.contains("(0000,0000) claims 4294901760 bytes"), "{err}");
        assert!(check(&ok).is_ok());
    }

    #[test]
    fn lengths_inside_implicit_vr_sequences_are_followed() {
        let mut b = head("1.2.840.10008.1.2");
        // (0008,1140) ReferencedImageSequence is SQ in the dictionary: undefined length,
        // one item of undefined length holding an element that lies about its length.
        b.extend_from_slice(&[0x08, 0x00, 0x40, 0x11]);
        b.extend_from_slice(&UNDEFINED.to_le_bytes());
        b.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
        b.extend_from_slice(&UNDEFINED.to_le_bytes());
        b.extend_from_slice(&[0x08, 0x00, 0x50, 0x11]);
        b.extend_from_slice(&0x7000_0000u32.to_le_bytes());
        b.extend_from_slice(b"1.2.3\0");
        let err = check(&b).unwrap_err();
        assert!(err.contains("(0008,1150) claims"), "{err}");
        // The same sequence, well formed, passes.
        let mut good = head("1.2.840.10008.1.2");
        good.extend_from_slice(&[0x08, 0x00, 0x40, 0x11]);
        good.extend_from_slice(&UNDEFINED.to_le_bytes());
        good.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
        good.extend_from_slice(&UNDEFINED.to_le_bytes());
        good.extend_from_slice(&[0x08, 0x00, 0x50, 0x11, 6, 0, 0, 0]);
        good.extend_from_slice(b"1.2.3\0");
        good.extend_from_slice(&[0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
        good.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        assert!(check(&good).is_ok());
    }

    #[test]
    fn lengths_of_a_deflated_data_set_are_checked_inflated() {
        // Found by the dicom_series fuzz target: a deflated data set whose element claims
        // about 3 GB, which the parser allocated and zero-filled.
        use std::io::Write;
        let deflated = |body: &[u8]| {
            let mut e =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(body).unwrap();
            let mut b = head("1.2.840.10008.1.2.1.99");
            b.extend(e.finish().unwrap());
            b
        };
        let mut body = vec![0x10, 0x00, 0x10, 0x00, b'P', b'N', 6, 0];
        body.extend_from_slice(b"DOE^J ");
        assert!(check(&deflated(&body)).is_ok());
        body.extend_from_slice(&[0x09, 0x00, 0x01, 0x10, b'O', b'B', 0, 0]);
        body.extend_from_slice(&0xC000_0000u32.to_le_bytes());
        let err = check(&deflated(&body)).unwrap_err();
        assert!(err.contains("(0009,1001) claims 3221225472 bytes"), "{err}");
        // A stream that does not inflate is refused too.
        let mut bad = head("1.2.840.10008.1.2.1.99");
        bad.extend_from_slice(&[0xFF; 16]);
        assert!(check(&bad).unwrap_err().contains("does not inflate"));
    }

    #[test]
    fn every_fixture_passes_the_scan() {
        let dir = crate::dicom::tests::data_dir().join("pydicom");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "dcm") && !p.ends_with("SC_rgb_jpeg.dcm") {
                check_element_lengths(&p, true).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                n += 1;
            }
        }
        assert!(n > 50);
    }
}
