//! The NIfTI-1 (348-byte, through the `nifti` crate) and NIfTI-2 (540-byte) header layouts,
//! read in either byte order and written little-endian.

use super::header::{NiftiHeader, NiftiVersion, MAGIC_N2_PAIR, MAGIC_N2_SINGLE};
use crate::IoErrorKind;

pub(super) fn truncated_header(got: usize, need: usize) -> IoErrorKind {
    IoErrorKind::Truncated {
        what: "the NIfTI header".into(),
        expected: need as u64,
        got: got as u64,
    }
}

pub(super) fn parse_v1(bytes: &[u8], little: bool) -> Result<NiftiHeader, IoErrorKind> {
    // dim[0] in the byte order sizeof_hdr gives: out of 1..=7 the `nifti` crate takes the
    // header for byte-swapped and reads nonsense (a vox_offset error, far from the cause).
    let raw = [bytes[40], bytes[41]];
    let dim0 = if little {
        i16::from_le_bytes(raw)
    } else {
        i16::from_be_bytes(raw)
    };
    if !(1..=7).contains(&dim0) {
        return Err(IoErrorKind::BadHeader(format!(
            "dim[0] is {dim0}: the number of dimensions must be 1 to 7"
        )));
    }
    let h = ::nifti::NiftiHeader::from_reader(bytes).map_err(|e| match e {
        ::nifti::NiftiError::InvalidFormat => IoErrorKind::BadHeader(format!(
            "magic is {:?}: not a NIfTI-1 file (expected \"n+1\" or \"ni1\"; plain Analyze 7.5 is not read)",
            String::from_utf8_lossy(&bytes[344..348]).trim_end_matches('\0')
        )),
        other => IoErrorKind::BadHeader(other.to_string()),
    })?;
    let mut dim = [0i64; 8];
    for (d, &v) in dim.iter_mut().zip(h.dim.iter()) {
        // The crate reads the signed shorts as u16: restore the sign so that
        // negative dims are reported as such.
        *d = v as i16 as i64;
    }
    let mut descrip = [0u8; 80];
    let n = h.descrip.len().min(80);
    descrip[..n].copy_from_slice(&h.descrip[..n]);
    Ok(NiftiHeader {
        version: NiftiVersion::One,
        little_endian: h.endianness == ::nifti::Endianness::Little,
        single_file: &h.magic == b"n+1\0",
        dim,
        datatype: h.datatype,
        bitpix: h.bitpix,
        pixdim: h.pixdim.map(|v| v as f64),
        vox_offset: h.vox_offset as f64,
        scl_slope: h.scl_slope as f64,
        scl_inter: h.scl_inter as f64,
        qform_code: h.qform_code as i32,
        sform_code: h.sform_code as i32,
        quatern: [h.quatern_b as f64, h.quatern_c as f64, h.quatern_d as f64],
        qoffset: [h.quatern_x as f64, h.quatern_y as f64, h.quatern_z as f64],
        srow: [
            h.srow_x.map(|v| v as f64),
            h.srow_y.map(|v| v as f64),
            h.srow_z.map(|v| v as f64),
        ],
        xyzt_units: h.xyzt_units as i32,
        intent_code: h.intent_code as i32,
        intent_p: [h.intent_p1 as f64, h.intent_p2 as f64, h.intent_p3 as f64],
        intent_name: h.intent_name,
        descrip,
        aux_file: h.aux_file,
        cal_max: h.cal_max as f64,
        cal_min: h.cal_min as f64,
        slice_duration: h.slice_duration as f64,
        toffset: h.toffset as f64,
        slice_start: h.slice_start as i64,
        slice_end: h.slice_end as i64,
        slice_code: h.slice_code as i32,
        dim_info: h.dim_info,
    })
}

/// Little readers over a byte slice in a given byte order.
struct Fields<'a> {
    b: &'a [u8],
    le: bool,
}

impl Fields<'_> {
    fn bytes<const N: usize>(&self, at: usize) -> [u8; N] {
        let mut out = [0u8; N];
        out.copy_from_slice(&self.b[at..at + N]);
        if !self.le {
            out.reverse();
        }
        out
    }
    fn i16(&self, at: usize) -> i16 {
        i16::from_le_bytes(self.bytes(at))
    }
    fn i32(&self, at: usize) -> i32 {
        i32::from_le_bytes(self.bytes(at))
    }
    fn i64(&self, at: usize) -> i64 {
        i64::from_le_bytes(self.bytes(at))
    }
    fn f64(&self, at: usize) -> f64 {
        f64::from_le_bytes(self.bytes(at))
    }
    fn raw<const N: usize>(&self, at: usize) -> [u8; N] {
        let mut out = [0u8; N];
        out.copy_from_slice(&self.b[at..at + N]);
        out
    }
}

pub(super) fn parse_v2(b: &[u8], le: bool) -> Result<NiftiHeader, IoErrorKind> {
    let f = Fields { b, le };
    let magic: [u8; 8] = f.raw(4);
    let single_file = match &magic {
        m if m == MAGIC_N2_SINGLE => true,
        m if m == MAGIC_N2_PAIR => false,
        m => {
            return Err(IoErrorKind::BadHeader(format!(
                "magic is {:?}: not a NIfTI-2 file (expected \"n+2\\0\\r\\n\\x1a\\n\")",
                String::from_utf8_lossy(m)
            )))
        }
    };
    let mut dim = [0i64; 8];
    for (n, d) in dim.iter_mut().enumerate() {
        *d = f.i64(16 + 8 * n);
    }
    let mut pixdim = [0f64; 8];
    for (n, p) in pixdim.iter_mut().enumerate() {
        *p = f.f64(104 + 8 * n);
    }
    let row = |at: usize| [f.f64(at), f.f64(at + 8), f.f64(at + 16), f.f64(at + 24)];
    Ok(NiftiHeader {
        version: NiftiVersion::Two,
        little_endian: le,
        single_file,
        dim,
        datatype: f.i16(12),
        bitpix: f.i16(14),
        intent_p: [f.f64(80), f.f64(88), f.f64(96)],
        pixdim,
        vox_offset: f.i64(168) as f64,
        scl_slope: f.f64(176),
        scl_inter: f.f64(184),
        cal_max: f.f64(192),
        cal_min: f.f64(200),
        slice_duration: f.f64(208),
        toffset: f.f64(216),
        slice_start: f.i64(224),
        slice_end: f.i64(232),
        descrip: f.raw(240),
        aux_file: f.raw(320),
        qform_code: f.i32(344),
        sform_code: f.i32(348),
        quatern: [f.f64(352), f.f64(360), f.f64(368)],
        qoffset: [f.f64(376), f.f64(384), f.f64(392)],
        srow: [row(400), row(432), row(464)],
        slice_code: f.i32(496),
        xyzt_units: f.i32(500),
        intent_code: f.i32(504),
        intent_name: f.raw(508),
        dim_info: b[524],
    })
}

pub(super) fn encode_v1(h: &NiftiHeader) -> Vec<u8> {
    let mut b = vec![0u8; 348];
    let mut put = |at: usize, bytes: &[u8]| b[at..at + bytes.len()].copy_from_slice(bytes);
    put(0, &348i32.to_le_bytes());
    put(38, b"r");
    put(39, &[h.dim_info]);
    for (n, &d) in h.dim.iter().enumerate() {
        put(40 + 2 * n, &(d as i16).to_le_bytes());
    }
    for (n, &p) in h.intent_p.iter().enumerate() {
        put(56 + 4 * n, &(p as f32).to_le_bytes());
    }
    put(68, &(h.intent_code as i16).to_le_bytes());
    put(70, &h.datatype.to_le_bytes());
    put(72, &h.bitpix.to_le_bytes());
    put(74, &(h.slice_start as i16).to_le_bytes());
    for (n, &p) in h.pixdim.iter().enumerate() {
        put(76 + 4 * n, &(p as f32).to_le_bytes());
    }
    put(108, &(h.vox_offset as f32).to_le_bytes());
    put(112, &(h.scl_slope as f32).to_le_bytes());
    put(116, &(h.scl_inter as f32).to_le_bytes());
    put(120, &(h.slice_end as i16).to_le_bytes());
    put(122, &[h.slice_code as u8]);
    put(123, &[h.xyzt_units as u8]);
    put(124, &(h.cal_max as f32).to_le_bytes());
    put(128, &(h.cal_min as f32).to_le_bytes());
    put(132, &(h.slice_duration as f32).to_le_bytes());
    put(136, &(h.toffset as f32).to_le_bytes());
    put(148, &h.descrip);
    put(228, &h.aux_file);
    put(252, &(h.qform_code as i16).to_le_bytes());
    put(254, &(h.sform_code as i16).to_le_bytes());
    for (n, &q) in h.quatern.iter().chain(h.qoffset.iter()).enumerate() {
        put(256 + 4 * n, &(q as f32).to_le_bytes());
    }
    for (r, row) in h.srow.iter().enumerate() {
        for (c, &v) in row.iter().enumerate() {
            put(280 + 16 * r + 4 * c, &(v as f32).to_le_bytes());
        }
    }
    put(328, &h.intent_name);
    put(344, if h.single_file { b"n+1\0" } else { b"ni1\0" });
    b
}

pub(super) fn encode_v2(h: &NiftiHeader) -> Vec<u8> {
    let mut b = vec![0u8; 540];
    let mut put = |at: usize, bytes: &[u8]| b[at..at + bytes.len()].copy_from_slice(bytes);
    put(0, &540i32.to_le_bytes());
    put(
        4,
        if h.single_file {
            MAGIC_N2_SINGLE
        } else {
            MAGIC_N2_PAIR
        },
    );
    put(12, &h.datatype.to_le_bytes());
    put(14, &h.bitpix.to_le_bytes());
    for (n, &d) in h.dim.iter().enumerate() {
        put(16 + 8 * n, &d.to_le_bytes());
    }
    for (n, &p) in h.intent_p.iter().enumerate() {
        put(80 + 8 * n, &p.to_le_bytes());
    }
    for (n, &p) in h.pixdim.iter().enumerate() {
        put(104 + 8 * n, &p.to_le_bytes());
    }
    put(168, &(h.vox_offset as i64).to_le_bytes());
    put(176, &h.scl_slope.to_le_bytes());
    put(184, &h.scl_inter.to_le_bytes());
    put(192, &h.cal_max.to_le_bytes());
    put(200, &h.cal_min.to_le_bytes());
    put(208, &h.slice_duration.to_le_bytes());
    put(216, &h.toffset.to_le_bytes());
    put(224, &h.slice_start.to_le_bytes());
    put(232, &h.slice_end.to_le_bytes());
    put(240, &h.descrip);
    put(320, &h.aux_file);
    put(344, &h.qform_code.to_le_bytes());
    put(348, &h.sform_code.to_le_bytes());
    for (n, &q) in h.quatern.iter().chain(h.qoffset.iter()).enumerate() {
        put(352 + 8 * n, &q.to_le_bytes());
    }
    for (r, row) in h.srow.iter().enumerate() {
        for (c, &v) in row.iter().enumerate() {
            put(400 + 32 * r + 8 * c, &v.to_le_bytes());
        }
    }
    put(496, &h.slice_code.to_le_bytes());
    put(500, &h.xyzt_units.to_le_bytes());
    put(504, &h.intent_code.to_le_bytes());
    put(508, &h.intent_name);
    put(524, &[h.dim_info]);
    b
}
