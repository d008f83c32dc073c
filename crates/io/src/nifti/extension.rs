//! NIfTI header extensions: kept through a read/write cycle as opaque bytes.

/// One NIfTI extension: its code and its payload.
///
/// ```
/// use medburn_io::nifti::Extension;
/// let e = Extension { code: 6, data: b"a comment".to_vec() };
/// let bytes = Extension::encode_all(&[e.clone()]);
/// assert_eq!(bytes.len() % 16, 4); // extender + padded records
/// assert_eq!(Extension::parse_all(&bytes, true), vec![e.padded()]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// `ecode` (e.g. 2 DICOM, 4 AFNI, 6 comment).
    pub code: i32,
    /// The payload (its length is padded to a multiple of 16 with the 8-byte record head).
    pub data: Vec<u8>,
}

impl Extension {
    /// The payload as it is after writing: zero-padded so that `8 + len` is a multiple of 16.
    ///
    /// ```
    /// let e = medburn_io::nifti::Extension { code: 6, data: vec![1; 3] };
    /// assert_eq!(e.padded().data.len(), 8);
    /// ```
    pub fn padded(&self) -> Extension {
        let mut data = self.data.clone();
        let total = (8 + data.len()).div_ceil(16) * 16;
        data.resize(total - 8, 0);
        Extension {
            code: self.code,
            data,
        }
    }

    /// Parses the bytes between the header and the voxel data (the 4-byte extender
    /// and the records). Malformed records end the list rather than failing the read:
    /// extensions are optional, the voxels are what matters.
    ///
    /// ```
    /// assert!(medburn_io::nifti::Extension::parse_all(&[0, 0, 0, 0], true).is_empty());
    /// ```
    pub fn parse_all(bytes: &[u8], little_endian: bool) -> Vec<Extension> {
        let mut out = Vec::new();
        if bytes.len() < 4 || bytes[0] == 0 {
            return out;
        }
        let int = |b: &[u8]| {
            let a = [b[0], b[1], b[2], b[3]];
            if little_endian {
                i32::from_le_bytes(a)
            } else {
                i32::from_be_bytes(a)
            }
        };
        let mut at = 4;
        while at + 8 <= bytes.len() {
            let esize = int(&bytes[at..]);
            let code = int(&bytes[at + 4..]);
            if esize < 8 || at + esize as usize > bytes.len() {
                break;
            }
            out.push(Extension {
                code,
                data: bytes[at + 8..at + esize as usize].to_vec(),
            });
            at += esize as usize;
        }
        out
    }

    /// The extender and records, little-endian, each padded to a multiple of 16.
    ///
    /// ```
    /// assert_eq!(medburn_io::nifti::Extension::encode_all(&[]), vec![0, 0, 0, 0]);
    /// ```
    pub fn encode_all(exts: &[Extension]) -> Vec<u8> {
        let mut out = vec![if exts.is_empty() { 0 } else { 1 }, 0, 0, 0];
        for e in exts {
            let p = e.padded();
            out.extend_from_slice(&((p.data.len() + 8) as i32).to_le_bytes());
            out.extend_from_slice(&p.code.to_le_bytes());
            out.extend_from_slice(&p.data);
        }
        out
    }

    /// Metadata key under which a volume carries extension `n`.
    pub(crate) fn metadata_key(n: usize, code: i32) -> String {
        format!("nifti:extension:{n}:{code}")
    }

    /// Hex text of the payload (metadata is text).
    pub(crate) fn to_hex(&self) -> String {
        self.data.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Extensions carried in a volume's metadata, in order.
    pub(crate) fn from_metadata(
        meta: &std::collections::BTreeMap<String, String>,
    ) -> Vec<Extension> {
        let mut found: Vec<(usize, Extension)> = meta
            .iter()
            .filter_map(|(k, v)| {
                let rest = k.strip_prefix("nifti:extension:")?;
                let (n, code) = rest.split_once(':')?;
                let data = (0..v.len() / 2)
                    .map(|i| u8::from_str_radix(v.get(2 * i..2 * i + 2)?, 16).ok())
                    .collect::<Option<Vec<u8>>>()?;
                Some((
                    n.parse().ok()?,
                    Extension {
                        code: code.parse().ok()?,
                        data,
                    },
                ))
            })
            .collect();
        found.sort_by_key(|(n, _)| *n);
        found.into_iter().map(|(_, e)| e).collect()
    }
}
