//! The NIfTI-1 and NIfTI-2 headers as one struct: fields, datatypes, dimensions, scaling.
//! Its geometry (qform, sform) is in `geometry.rs`, the byte layouts in `codec.rs`.
//!
//! NIfTI-1 headers are parsed by the `nifti` crate; it does not know NIfTI-2, so
//! that layout (540 bytes, 64-bit dims and offsets, f64 fields) is parsed here.
//! Both are written here: the crate's header writer is private.

use super::codec::{encode_v1, encode_v2, parse_v1, parse_v2, truncated_header};
use crate::{IoErrorKind, VoxelType};

/// NIfTI-2 magic for a single `.nii` file.
pub(crate) const MAGIC_N2_SINGLE: &[u8; 8] = b"n+2\0\r\n\x1a\n";
/// NIfTI-2 magic for a `.hdr`/`.img` pair.
pub(crate) const MAGIC_N2_PAIR: &[u8; 8] = b"ni2\0\r\n\x1a\n";

/// Which NIfTI version a header is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NiftiVersion {
    /// NIfTI-1: 348-byte header, 16-bit dims.
    One,
    /// NIfTI-2: 540-byte header, 64-bit dims.
    Two,
}

/// A NIfTI-1 or NIfTI-2 header, widened to 64-bit fields.
///
/// ```
/// use medburn_io::nifti::{NiftiHeader, NiftiVersion};
/// let h = NiftiHeader::default();
/// assert_eq!(h.version, NiftiVersion::One);
/// assert_eq!(h.to_bytes().len(), 348);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct NiftiHeader {
    /// NIfTI-1 or NIfTI-2.
    pub version: NiftiVersion,
    /// Byte order of the header and data.
    pub little_endian: bool,
    /// `true` for a single `.nii` file (magic `n+1`/`n+2`), `false` for a `.hdr`/`.img` pair.
    pub single_file: bool,
    /// `dim[0]` is the number of dimensions, `dim[1..=dim[0]]` their sizes.
    pub dim: [i64; 8],
    /// NIfTI datatype code.
    pub datatype: i16,
    /// Bits per voxel.
    pub bitpix: i16,
    /// `pixdim[0]` is qfac, `pixdim[1..]` the voxel sizes.
    pub pixdim: [f64; 8],
    /// Byte offset of the voxel data.
    pub vox_offset: f64,
    /// Intensity slope (`0` or non-finite: none).
    pub scl_slope: f64,
    /// Intensity offset.
    pub scl_inter: f64,
    /// qform code (0 = unknown).
    pub qform_code: i32,
    /// sform code (0 = unknown).
    pub sform_code: i32,
    /// Quaternion b, c, d.
    pub quatern: [f64; 3],
    /// qform offsets (x, y, z).
    pub qoffset: [f64; 3],
    /// sform rows.
    pub srow: [[f64; 4]; 3],
    /// Units of space and time.
    pub xyzt_units: i32,
    /// Intent code.
    pub intent_code: i32,
    /// Intent parameters.
    pub intent_p: [f64; 3],
    /// Intent name (16 bytes).
    pub intent_name: [u8; 16],
    /// Description (80 bytes).
    pub descrip: [u8; 80],
    /// Auxiliary file name (24 bytes).
    pub aux_file: [u8; 24],
    /// Display range.
    pub cal_max: f64,
    /// Display range.
    pub cal_min: f64,
    /// Slice timing.
    pub slice_duration: f64,
    /// Time offset.
    pub toffset: f64,
    /// Slice timing.
    pub slice_start: i64,
    /// Slice timing.
    pub slice_end: i64,
    /// Slice timing code.
    pub slice_code: i32,
    /// MRI frequency/phase/slice dims.
    pub dim_info: u8,
}

impl Default for NiftiHeader {
    fn default() -> Self {
        NiftiHeader {
            version: NiftiVersion::One,
            little_endian: true,
            single_file: true,
            dim: [3, 1, 1, 1, 1, 1, 1, 1],
            datatype: 2,
            bitpix: 8,
            pixdim: [1.0; 8],
            vox_offset: 352.0,
            scl_slope: 1.0,
            scl_inter: 0.0,
            qform_code: 0,
            sform_code: 0,
            quatern: [0.0; 3],
            qoffset: [0.0; 3],
            srow: [
                [1.0, 0.0, 0.0, 0.0],
                [0.0, 1.0, 0.0, 0.0],
                [0.0, 0.0, 1.0, 0.0],
            ],
            xyzt_units: 2,
            intent_code: 0,
            intent_p: [0.0; 3],
            intent_name: [0; 16],
            descrip: [0; 80],
            aux_file: [0; 24],
            cal_max: 0.0,
            cal_min: 0.0,
            slice_duration: 0.0,
            toffset: 0.0,
            slice_start: 0,
            slice_end: 0,
            slice_code: 0,
            dim_info: 0,
        }
    }
}

/// Largest number of voxels a header may declare (2^40): beyond this no real
/// image exists and the number would only make us allocate absurdly.
const MAX_VOXELS: u128 = 1 << 40;

impl NiftiHeader {
    /// Size of the header in bytes: 348 or 540.
    ///
    /// ```
    /// let mut h = medburn_io::nifti::NiftiHeader::default();
    /// h.version = medburn_io::nifti::NiftiVersion::Two;
    /// assert_eq!(h.header_size(), 540);
    /// ```
    pub fn header_size(&self) -> usize {
        match self.version {
            NiftiVersion::One => 348,
            NiftiVersion::Two => 540,
        }
    }

    /// Parses a header from the first bytes of a file (at least 348, or 540 for NIfTI-2).
    ///
    /// ```
    /// use medburn_io::nifti::NiftiHeader;
    /// let h = NiftiHeader::default();
    /// assert_eq!(NiftiHeader::parse(&h.to_bytes()).unwrap(), h);
    /// assert!(NiftiHeader::parse(&[0u8; 348]).is_err());
    /// ```
    pub fn parse(bytes: &[u8]) -> Result<NiftiHeader, IoErrorKind> {
        if bytes.len() < 4 {
            return Err(truncated_header(bytes.len(), 348));
        }
        let raw = [bytes[0], bytes[1], bytes[2], bytes[3]];
        let (le, be) = (i32::from_le_bytes(raw), i32::from_be_bytes(raw));
        match (le, be) {
            (348, _) | (_, 348) => {
                if bytes.len() < 348 {
                    return Err(truncated_header(bytes.len(), 348));
                }
                parse_v1(&bytes[..348], le == 348)
            }
            (540, _) | (_, 540) => {
                if bytes.len() < 540 {
                    return Err(truncated_header(bytes.len(), 540));
                }
                parse_v2(&bytes[..540], le == 540)
            }
            _ => Err(IoErrorKind::BadHeader(format!(
                "sizeof_hdr is {le} (must be 348 for NIfTI-1 or 540 for NIfTI-2): not a NIfTI file"
            ))),
        }
    }

    /// The voxel type of `datatype`, or a clear error for types medburn does not read.
    ///
    /// ```
    /// use medburn_io::{nifti::NiftiHeader, VoxelType};
    /// let mut h = NiftiHeader::default();
    /// h.datatype = 4;
    /// assert_eq!(h.voxel_type().unwrap(), VoxelType::I16);
    /// h.datatype = 32;
    /// assert!(h.voxel_type().unwrap_err().to_string().contains("complex64"));
    /// ```
    pub fn voxel_type(&self) -> Result<VoxelType, IoErrorKind> {
        Ok(match self.datatype {
            2 => VoxelType::U8,
            4 => VoxelType::I16,
            8 => VoxelType::I32,
            16 => VoxelType::F32,
            64 => VoxelType::F64,
            256 => VoxelType::I8,
            512 => VoxelType::U16,
            768 => VoxelType::U32,
            1024 => VoxelType::I64,
            1280 => VoxelType::U64,
            code => {
                let name = match code {
                    0 => "unknown (0)",
                    1 => "binary (1)",
                    32 => "complex64 (32)",
                    128 => "rgb24 (128)",
                    1536 => "float128 (1536)",
                    1792 => "complex128 (1792)",
                    2048 => "complex256 (2048)",
                    2304 => "rgba32 (2304)",
                    _ => {
                        return Err(IoErrorKind::BadHeader(format!(
                            "datatype code {code} is not a NIfTI datatype"
                        )))
                    }
                };
                return Err(IoErrorKind::Unsupported(format!(
                    "NIfTI datatype {name}: medburn reads uint8, int8, int16, uint16, int32, uint32, int64, uint64, float32 and float64"
                )));
            }
        })
    }

    /// The datatype code and bitpix of a voxel type.
    ///
    /// ```
    /// use medburn_io::{nifti::NiftiHeader, VoxelType};
    /// assert_eq!(NiftiHeader::datatype_of(VoxelType::U16), (512, 16));
    /// ```
    pub fn datatype_of(t: VoxelType) -> (i16, i16) {
        let code = match t {
            VoxelType::U8 => 2,
            VoxelType::I16 => 4,
            VoxelType::I32 => 8,
            VoxelType::F32 => 16,
            VoxelType::F64 => 64,
            VoxelType::I8 => 256,
            VoxelType::U16 => 512,
            VoxelType::U32 => 768,
            VoxelType::I64 => 1024,
            VoxelType::U64 => 1280,
        };
        (code, (t.size() * 8) as i16)
    }

    /// The validated dimensions `[dim1, ..., dim_n]` (n = `dim[0]`).
    ///
    /// ```
    /// let mut h = medburn_io::nifti::NiftiHeader::default();
    /// h.dim = [4, 2, 3, 4, 5, 1, 1, 1];
    /// assert_eq!(h.dims().unwrap(), vec![2, 3, 4, 5]);
    /// h.dim[2] = 0;
    /// assert!(h.dims().is_err());
    /// ```
    pub fn dims(&self) -> Result<Vec<usize>, IoErrorKind> {
        let n = self.dim[0];
        if !(1..=7).contains(&n) {
            return Err(IoErrorKind::BadHeader(format!(
                "dim[0] is {n}: the number of dimensions must be 1 to 7"
            )));
        }
        let mut out = Vec::with_capacity(n as usize);
        let mut total: u128 = 1;
        for d in 1..=n as usize {
            let v = self.dim[d];
            if v < 1 {
                return Err(IoErrorKind::BadHeader(format!(
                    "dim[{d}] is {v}: sizes must be at least 1"
                )));
            }
            total = total.saturating_mul(v as u128);
            if total > MAX_VOXELS {
                return Err(IoErrorKind::BadHeader(format!(
                    "dims {:?} declare more than 2^40 voxels: refusing to allocate",
                    &self.dim[1..=n as usize]
                )));
            }
            out.push(v as usize);
        }
        Ok(out)
    }

    /// Bytes of voxel data the header declares.
    ///
    /// ```
    /// let mut h = medburn_io::nifti::NiftiHeader::default();
    /// h.dim = [3, 2, 2, 2, 1, 1, 1, 1];
    /// h.datatype = 16;
    /// assert_eq!(h.data_bytes().unwrap(), 32);
    /// ```
    pub fn data_bytes(&self) -> Result<usize, IoErrorKind> {
        let t = self.voxel_type()?;
        let n: usize = self.dims()?.iter().product();
        n.checked_mul(t.size())
            .ok_or_else(|| IoErrorKind::BadHeader("data size overflows".into()))
    }

    /// The intensity map NIfTI asks for: `scl_slope` when it is finite and non-zero.
    ///
    /// ```
    /// let mut h = medburn_io::nifti::NiftiHeader::default();
    /// h.scl_slope = 0.0;
    /// assert!(h.rescale().is_identity());
    /// h.scl_slope = 2.0; h.scl_inter = f64::NAN;
    /// assert_eq!(h.rescale().slope, 2.0);
    /// assert_eq!(h.rescale().inter, 0.0);
    /// ```
    pub fn rescale(&self) -> crate::Rescale {
        if self.scl_slope.is_finite() && self.scl_slope != 0.0 {
            crate::Rescale {
                slope: self.scl_slope,
                inter: if self.scl_inter.is_finite() {
                    self.scl_inter
                } else {
                    0.0
                },
            }
        } else {
            crate::Rescale::IDENTITY
        }
    }

    /// Serializes in native little-endian order (348 or 540 bytes by version).
    ///
    /// ```
    /// let b = medburn_io::nifti::NiftiHeader::default().to_bytes();
    /// assert_eq!(&b[344..348], b"n+1\0");
    /// ```
    pub fn to_bytes(&self) -> Vec<u8> {
        match self.version {
            NiftiVersion::One => encode_v1(self),
            NiftiVersion::Two => encode_v2(self),
        }
    }
}

#[cfg(test)]
#[allow(clippy::field_reassign_with_default)] // headers are built field by field, as files are
mod tests {
    use super::*;

    #[test]
    fn nifti2_round_trips_and_keeps_64_bit_dims() {
        let mut h = NiftiHeader {
            version: NiftiVersion::Two,
            ..Default::default()
        };
        h.dim = [4, 40000, 2, 1, 3, 1, 1, 1];
        h.datatype = 512;
        h.bitpix = 16;
        h.vox_offset = 544.0;
        h.scl_slope = 0.25;
        let back = NiftiHeader::parse(&h.to_bytes()).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.dims().unwrap(), vec![40000, 2, 1, 3]);
    }

    #[test]
    fn big_endian_headers_are_read() {
        let mut h = NiftiHeader::default();
        h.dim = [3, 5, 6, 7, 1, 1, 1, 1];
        h.datatype = 4;
        let le = h.to_bytes();
        // Swap every multi-byte field of the v1 layout by hand.
        let mut be = le.clone();
        let swap = |b: &mut Vec<u8>, at: usize, n: usize| b[at..at + n].reverse();
        swap(&mut be, 0, 4);
        for n in 0..8 {
            swap(&mut be, 40 + 2 * n, 2);
        }
        swap(&mut be, 70, 2);
        swap(&mut be, 72, 2);
        for n in 0..8 {
            swap(&mut be, 76 + 4 * n, 4);
        }
        swap(&mut be, 108, 4);
        swap(&mut be, 112, 4);
        let back = NiftiHeader::parse(&be).unwrap();
        assert!(!back.little_endian);
        assert_eq!(back.dims().unwrap(), vec![5, 6, 7]);
        assert_eq!(back.datatype, 4);
    }

    #[test]
    fn bad_headers_give_clear_errors() {
        let mut h = NiftiHeader::default();
        h.dim = [3, 4, -2, 4, 1, 1, 1, 1];
        assert!(h.dims().unwrap_err().to_string().contains("dim[2] is -2"));
        h.dim = [3, 4096, 4096, 4096, 1, 1, 1, 1];
        assert!(h.dims().is_ok());
        h.dim = [7, 32767, 32767, 32767, 32767, 1, 1, 1];
        assert!(h.dims().unwrap_err().to_string().contains("2^40"));
        h.dim = [0, 1, 1, 1, 1, 1, 1, 1];
        assert!(h.dims().unwrap_err().to_string().contains("dim[0]"));
        let mut h = NiftiHeader::default();
        h.dim = [3, 2, 2, 2, 1, 1, 1, 1];
        h.qform_code = 1;
        h.pixdim[2] = f64::NAN;
        assert!(h.geometry().unwrap_err().to_string().contains("pixdim[2]"));
        h.pixdim[2] = 0.0;
        assert!(h
            .geometry()
            .unwrap_err()
            .to_string()
            .contains("pixdim[2] is 0"));
        let mut bytes = NiftiHeader::default().to_bytes();
        bytes[344..348].copy_from_slice(b"xyz\0");
        assert!(NiftiHeader::parse(&bytes)
            .unwrap_err()
            .to_string()
            .contains("magic"));
        assert!(NiftiHeader::parse(&bytes[..100]).is_err());
    }
}
