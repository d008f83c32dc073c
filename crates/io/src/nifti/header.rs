//! The NIfTI-1 and NIfTI-2 headers as one struct, and the geometry they encode.
//!
//! NIfTI-1 headers are parsed by the `nifti` crate; it does not know NIfTI-2, so
//! that layout (540 bytes, 64-bit dims and offsets, f64 fields) is parsed here.
//! Both are written here: the crate's header writer is private.

use medburn_core::vec3::{column, cross};
use medburn_core::{Direction, Geometry, GeometryError};

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

    /// The qform as a 4x4 RAS affine (quaternion, qfac, pixdim and offsets).
    ///
    /// ```
    /// let mut h = medburn_io::nifti::NiftiHeader::default();
    /// h.pixdim = [-1.0, 2.0, 2.0, 3.0, 1.0, 1.0, 1.0, 1.0];
    /// let a = h.qform_affine();
    /// assert_eq!(a[2][2], -3.0); // qfac = -1 flips k
    /// ```
    pub fn qform_affine(&self) -> [[f64; 4]; 4] {
        let [b, c, d] = self.quatern;
        let mut a2 = 1.0 - (b * b + c * c + d * d);
        let (mut b, mut c, mut d) = (b, c, d);
        if a2 < 1e-7 {
            // Numerically a 180-degree rotation: renormalize (b, c, d) as nifti1_io does.
            let n = (b * b + c * c + d * d).sqrt();
            if n > 0.0 {
                b /= n;
                c /= n;
                d /= n;
            }
            a2 = 0.0;
        }
        let a = a2.sqrt();
        let r = [
            [
                a * a + b * b - c * c - d * d,
                2.0 * (b * c - a * d),
                2.0 * (b * d + a * c),
            ],
            [
                2.0 * (b * c + a * d),
                a * a + c * c - b * b - d * d,
                2.0 * (c * d - a * b),
            ],
            [
                2.0 * (b * d - a * c),
                2.0 * (c * d + a * b),
                a * a + d * d - c * c - b * b,
            ],
        ];
        let qfac = if self.pixdim[0] < 0.0 { -1.0 } else { 1.0 };
        let scale = [self.pixdim[1], self.pixdim[2], self.pixdim[3] * qfac];
        let mut m = [[0.0; 4]; 4];
        for row in 0..3 {
            for col in 0..3 {
                m[row][col] = r[row][col] * scale[col];
            }
            m[row][3] = self.qoffset[row];
        }
        m[3][3] = 1.0;
        m
    }

    /// The sform as a 4x4 RAS affine.
    ///
    /// ```
    /// let h = medburn_io::nifti::NiftiHeader::default();
    /// assert_eq!(h.sform_affine()[3], [0.0, 0.0, 0.0, 1.0]);
    /// ```
    pub fn sform_affine(&self) -> [[f64; 4]; 4] {
        [
            self.srow[0],
            self.srow[1],
            self.srow[2],
            [0.0, 0.0, 0.0, 1.0],
        ]
    }

    /// The geometry, as docs/architecture.md says: the sform when `sform_code > 0` (falling back to the
    /// qform if the sform is sheared and a qform exists, as ITK does), else the qform when
    /// `qform_code > 0`, else `diag(pixdim)` in RAS with origin 0 (as ITK and SimpleITK).
    /// Axes beyond `dim[0]` get size 1 and, if their pixdim is unusable, spacing 1.
    ///
    /// ```
    /// let mut h = medburn_io::nifti::NiftiHeader::default();
    /// h.dim = [3, 4, 4, 2, 1, 1, 1, 1];
    /// h.sform_code = 1;
    /// h.srow = [[-2.0, 0.0, 0.0, 10.0], [0.0, 2.0, 0.0, -5.0], [0.0, 0.0, 3.0, 7.0]];
    /// let g = h.geometry().unwrap();
    /// assert_eq!(g.spacing(), [2.0, 2.0, 3.0]);
    /// assert_eq!(g.origin(), [-10.0, 5.0, 7.0]); // RAS -> LPS
    /// assert_eq!(g.orientation().to_string(), "LAS");
    /// ```
    pub fn geometry(&self) -> Result<Geometry, IoErrorKind> {
        let dims = self.dims()?;
        let mut size = [1usize; 3];
        for (a, s) in size.iter_mut().enumerate() {
            if let Some(&d) = dims.get(a) {
                *s = d;
            }
        }
        let ndim = dims.len().min(3);
        // Spatial axes the file does not have take a unit step, whatever pixdim holds there.
        let mut h = self.clone();
        for a in ndim..3 {
            let p = h.pixdim[a + 1];
            if !(p.is_finite() && p > 0.0) {
                h.pixdim[a + 1] = 1.0;
            }
        }
        let from_qform = |h: &NiftiHeader| -> Result<Geometry, IoErrorKind> {
            check_pixdim(h, ndim)?;
            Ok(spacing_from_pixdim(
                Geometry::from_affine_ras(size, h.qform_affine())?,
                &h.pixdim,
            )?)
        };
        if self.sform_code > 0 {
            let mut s = h.sform_affine();
            for (a, col) in (ndim..3).map(|a| (a, a)) {
                // A 2D sform may have a zero third column: give it the unit normal.
                let n: f64 = (0..3).map(|r| s[r][col] * s[r][col]).sum();
                if n == 0.0 {
                    let (c0, c1) = (column(&s, (a + 1) % 3), column(&s, (a + 2) % 3));
                    let cr = cross(c0, c1);
                    let l = (cr[0] * cr[0] + cr[1] * cr[1] + cr[2] * cr[2]).sqrt();
                    if l > 0.0 {
                        for r in 0..3 {
                            s[r][col] = cr[r] / l;
                        }
                    }
                }
            }
            match Geometry::from_affine_ras(size, s) {
                Ok(g) => return Ok(spacing_from_pixdim(g, &h.pixdim)?),
                Err(e @ GeometryError::NotOrthonormal { .. }) if self.qform_code > 0 => {
                    return from_qform(&h).map_err(|_| IoErrorKind::Geometry(e));
                }
                Err(e) => return Err(IoErrorKind::BadHeader(format!("sform: {e}"))),
            }
        }
        if self.qform_code > 0 {
            return from_qform(&h);
        }
        check_pixdim(&h, ndim)?;
        let m = [
            [h.pixdim[1], 0.0, 0.0, 0.0],
            [0.0, h.pixdim[2], 0.0, 0.0],
            [0.0, 0.0, h.pixdim[3], 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
        Ok(Geometry::from_affine_ras(size, m)?)
    }

    /// Sets sform and qform (codes as given) and pixdim[1..=3] from a geometry.
    ///
    /// ```
    /// use medburn_core::{Geometry, Orientation};
    /// let g = Geometry::new([2, 2, 2], [1.0, 2.0, 3.0], [0.5, 0.5, 2.0], Orientation::RAS.to_direction())?;
    /// let mut h = medburn_io::nifti::NiftiHeader::default();
    /// h.dim = [3, 2, 2, 2, 1, 1, 1, 1];
    /// h.set_geometry(&g, 1, 1);
    /// assert_eq!(h.geometry()?, g);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_geometry(&mut self, g: &Geometry, sform_code: i32, qform_code: i32) {
        let a = g.affine_ras();
        self.srow = [a[0], a[1], a[2]];
        self.sform_code = sform_code;
        self.qform_code = qform_code;
        let sp = g.spacing();
        self.pixdim[1..4].copy_from_slice(&sp);
        // The qform needs a proper rotation: a reflection goes into qfac, flipping k.
        let d = g.direction().to_ras_rows();
        let mut r = d;
        let qfac = if g.direction().determinant() < 0.0 {
            -1.0
        } else {
            1.0
        };
        if qfac < 0.0 {
            for row in r.iter_mut() {
                row[2] = -row[2];
            }
        }
        self.pixdim[0] = qfac;
        self.quatern = rotation_to_quaternion(r);
        self.qoffset = [a[0][3], a[1][3], a[2][3]];
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

trait RasRows {
    fn to_ras_rows(&self) -> [[f64; 3]; 3];
}

impl RasRows for Direction {
    /// The direction in RAS world (first two rows negated).
    fn to_ras_rows(&self) -> [[f64; 3]; 3] {
        let mut r = self.rows();
        for row in r.iter_mut().take(2) {
            for v in row.iter_mut() {
                *v = -*v;
            }
        }
        r
    }
}

/// Spacing as ITK reads it: pixdim, where pixdim agrees with the transform's column norms.
///
/// An oblique sform stored in float32 has column norms a few 1e-9 off the voxel size
/// (2.000000007 for pixdim 2.0); taken as the spacing, that noise turns `ceil(28 * 2 / 1.6)`
/// into 36 slices and moves nearest-neighbour ties. Where pixdim disagrees beyond float32 noise
/// (relative 1e-5), the transform is authoritative, as in nibabel.
fn spacing_from_pixdim(g: Geometry, pixdim: &[f64; 8]) -> Result<Geometry, GeometryError> {
    let mut spacing = g.spacing();
    for (a, s) in spacing.iter_mut().enumerate() {
        let p = pixdim[a + 1];
        if p.is_finite() && p > 0.0 && ((p - *s) / *s).abs() <= 1e-5 {
            *s = p;
        }
    }
    Geometry::new(g.size(), g.origin(), spacing, g.direction())
}

fn check_pixdim(h: &NiftiHeader, ndim: usize) -> Result<(), IoErrorKind> {
    for a in 1..=ndim {
        let p = h.pixdim[a];
        if !(p.is_finite() && p > 0.0) {
            return Err(IoErrorKind::BadHeader(format!(
                "pixdim[{a}] is {p}: voxel sizes must be positive and finite"
            )));
        }
    }
    Ok(())
}

/// Quaternion (b, c, d) of a proper rotation matrix, with a >= 0 (nifti1_io's method).
fn rotation_to_quaternion(r: [[f64; 3]; 3]) -> [f64; 3] {
    let (r11, r12, r13) = (r[0][0], r[0][1], r[0][2]);
    let (r21, r22, r23) = (r[1][0], r[1][1], r[1][2]);
    let (r31, r32, r33) = (r[2][0], r[2][1], r[2][2]);
    let (a, b, c, d);
    if r11 + r22 + r33 + 1.0 > 0.5 {
        let s = 0.5 * (r11 + r22 + r33 + 1.0).sqrt();
        a = s;
        b = 0.25 * (r32 - r23) / s;
        c = 0.25 * (r13 - r31) / s;
        d = 0.25 * (r21 - r12) / s;
    } else {
        let xd = 1.0 + r11 - (r22 + r33);
        let yd = 1.0 + r22 - (r11 + r33);
        let zd = 1.0 + r33 - (r11 + r22);
        if xd > 1.0 {
            let bb = 0.5 * xd.sqrt();
            b = bb;
            c = 0.25 * (r12 + r21) / bb;
            d = 0.25 * (r13 + r31) / bb;
            a = 0.25 * (r32 - r23) / bb;
        } else if yd > 1.0 {
            let cc = 0.5 * yd.sqrt();
            c = cc;
            b = 0.25 * (r12 + r21) / cc;
            d = 0.25 * (r23 + r32) / cc;
            a = 0.25 * (r13 - r31) / cc;
        } else {
            let dd = 0.5 * zd.sqrt();
            d = dd;
            b = 0.25 * (r13 + r31) / dd;
            c = 0.25 * (r23 + r32) / dd;
            a = 0.25 * (r21 - r12) / dd;
        }
    }
    if a < 0.0 {
        [-b, -c, -d]
    } else {
        [b, c, d]
    }
}

fn truncated_header(got: usize, need: usize) -> IoErrorKind {
    IoErrorKind::Truncated {
        what: "the NIfTI header".into(),
        expected: need as u64,
        got: got as u64,
    }
}

fn parse_v1(bytes: &[u8], _little: bool) -> Result<NiftiHeader, IoErrorKind> {
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

fn parse_v2(b: &[u8], le: bool) -> Result<NiftiHeader, IoErrorKind> {
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

fn encode_v1(h: &NiftiHeader) -> Vec<u8> {
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

fn encode_v2(h: &NiftiHeader) -> Vec<u8> {
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

#[cfg(test)]
#[allow(clippy::field_reassign_with_default)] // headers are built field by field, as files are
mod tests {
    use super::*;
    use medburn_core::Orientation;

    /// An oblique sform in float32: its column norms carry float noise, the spacing does not.
    #[test]
    fn spacing_of_an_oblique_float32_sform_is_pixdim() {
        let (c, s) = (30f64.to_radians().cos(), 30f64.to_radians().sin());
        let mut h = NiftiHeader::default();
        h.dim = [3, 8, 8, 28, 1, 1, 1, 1];
        h.pixdim = [1.0, 0.9, 0.9, 2.0, 1.0, 1.0, 1.0, 1.0];
        h.sform_code = 1;
        // As a file stores it: each entry rounded to float32.
        let f = |v: f64| v as f32 as f64;
        h.srow = [
            [f(0.9), 0.0, 0.0, 5.0],
            [0.0, f(0.9 * c), f(-2.0 * s), -3.0],
            [0.0, f(0.9 * s), f(2.0 * c), 7.0],
        ];
        let norm = (h.srow[1][2].powi(2) + h.srow[2][2].powi(2)).sqrt();
        assert_ne!(norm, 2.0, "the test needs float32 noise in the column norm");
        let g = h.geometry().unwrap();
        assert_eq!(g.spacing(), [0.9, 0.9, 2.0]);
        // A pixdim that disagrees with the sform beyond float noise leaves the sform's norms.
        h.pixdim[3] = 2.5;
        assert!((h.geometry().unwrap().spacing()[2] - 2.0).abs() < 1e-6);
    }

    #[test]
    fn geometry_survives_sform_and_qform_for_all_48_orientations() {
        for o in Orientation::all() {
            let g = Geometry::new(
                [3, 4, 5],
                [10.0, -3.0, 7.5],
                [0.8, 1.1, 2.4],
                o.to_direction(),
            )
            .unwrap();
            let mut h = NiftiHeader::default();
            h.dim = [3, 3, 4, 5, 1, 1, 1, 1];
            h.set_geometry(&g, 1, 1);
            for use_sform in [true, false] {
                let mut h2 = h.clone();
                if !use_sform {
                    h2.sform_code = 0;
                }
                let back = NiftiHeader::parse(&h2.to_bytes())
                    .unwrap()
                    .geometry()
                    .unwrap();
                let close =
                    |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5);
                assert!(close(&back.spacing(), &g.spacing()), "{o} {use_sform}");
                assert!(close(&back.origin(), &g.origin()), "{o} {use_sform}");
                assert!(
                    close(&back.direction().row_major(), &g.direction().row_major()),
                    "{o} {use_sform}"
                );
            }
        }
    }

    #[test]
    fn oblique_qform_round_trips() {
        let (s, c) = 20f64.to_radians().sin_cos();
        let d = Direction::from_row_major([c, 0.0, s, 0.0, -1.0, 0.0, s, 0.0, -c]);
        let g = Geometry::new([2, 2, 2], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0], d).unwrap();
        let mut h = NiftiHeader::default();
        h.dim = [3, 2, 2, 2, 1, 1, 1, 1];
        h.set_geometry(&g, 0, 1);
        let back = h.geometry().unwrap();
        for (x, y) in back.direction().row_major().iter().zip(d.row_major()) {
            assert!((x - y).abs() < 1e-12);
        }
    }

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
