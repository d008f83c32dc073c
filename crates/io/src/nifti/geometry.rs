//! The geometry a NIfTI header encodes: qform and sform affines, which one wins (as ITK),
//! spacing as ITK reads it, and writing a geometry back.

use medburn_core::vec3::{column, cross};
use medburn_core::{Direction, Geometry, GeometryError};

use super::header::NiftiHeader;
use crate::IoErrorKind;

impl NiftiHeader {
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
}
