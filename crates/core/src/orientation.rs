//! Orientation codes: three letters naming where each index axis points TO.
//!
//! "LPS" means `i` runs to the patient's left, `j` to posterior, `k` to superior,
//! as nibabel's `aff2axcodes` and SimpleITK's `DICOMOrient` name it. Any
//! permutation of one letter from each pair (L/R, A/P, S/I) is valid: 48 codes.

use std::fmt;
use std::str::FromStr;

use crate::{Direction, GeometryError};

/// Where one index axis points, in patient terms.
///
/// ```
/// use medburn_core::AxisCode;
///
/// assert_eq!(AxisCode::L.world_vector(), [1.0, 0.0, 0.0]); // LPS world: +x is left
/// assert_eq!(AxisCode::A.opposite(), AxisCode::P);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AxisCode {
    /// Towards the patient's left (+x in LPS).
    L,
    /// Towards the patient's right (-x in LPS).
    R,
    /// Towards posterior (+y in LPS).
    P,
    /// Towards anterior (-y in LPS).
    A,
    /// Towards superior (+z in LPS).
    S,
    /// Towards inferior (-z in LPS).
    I,
}

impl AxisCode {
    /// The world axis this code lies on (0 = x, 1 = y, 2 = z) and its sign in LPS.
    ///
    /// ```
    /// assert_eq!(medburn_core::AxisCode::I.world_axis(), (2, -1.0));
    /// ```
    pub fn world_axis(self) -> (usize, f64) {
        match self {
            AxisCode::L => (0, 1.0),
            AxisCode::R => (0, -1.0),
            AxisCode::P => (1, 1.0),
            AxisCode::A => (1, -1.0),
            AxisCode::S => (2, 1.0),
            AxisCode::I => (2, -1.0),
        }
    }

    /// The code for world axis `axis` (0 = x, 1 = y, 2 = z) with the given sign.
    ///
    /// ```
    /// use medburn_core::AxisCode;
    /// assert_eq!(AxisCode::from_world_axis(1, false), AxisCode::A);
    /// ```
    pub fn from_world_axis(axis: usize, positive: bool) -> AxisCode {
        match (axis, positive) {
            (0, true) => AxisCode::L,
            (0, false) => AxisCode::R,
            (1, true) => AxisCode::P,
            (1, false) => AxisCode::A,
            (_, true) => AxisCode::S,
            (_, false) => AxisCode::I,
        }
    }

    /// The unit vector in LPS world space.
    ///
    /// ```
    /// assert_eq!(medburn_core::AxisCode::A.world_vector(), [0.0, -1.0, 0.0]);
    /// ```
    pub fn world_vector(self) -> [f64; 3] {
        let (axis, sign) = self.world_axis();
        let mut v = [0.0; 3];
        v[axis] = sign;
        v
    }

    /// The code pointing the other way along the same world axis.
    ///
    /// ```
    /// assert_eq!(medburn_core::AxisCode::S.opposite(), medburn_core::AxisCode::I);
    /// ```
    pub fn opposite(self) -> AxisCode {
        let (axis, sign) = self.world_axis();
        AxisCode::from_world_axis(axis, sign < 0.0)
    }

    /// The letter.
    ///
    /// ```
    /// assert_eq!(medburn_core::AxisCode::R.letter(), 'R');
    /// ```
    pub fn letter(self) -> char {
        match self {
            AxisCode::L => 'L',
            AxisCode::R => 'R',
            AxisCode::P => 'P',
            AxisCode::A => 'A',
            AxisCode::S => 'S',
            AxisCode::I => 'I',
        }
    }

    /// Parses one letter (either case).
    ///
    /// ```
    /// assert_eq!(medburn_core::AxisCode::from_letter('p'), Some(medburn_core::AxisCode::P));
    /// assert_eq!(medburn_core::AxisCode::from_letter('x'), None);
    /// ```
    pub fn from_letter(c: char) -> Option<AxisCode> {
        Some(match c.to_ascii_uppercase() {
            'L' => AxisCode::L,
            'R' => AxisCode::R,
            'P' => AxisCode::P,
            'A' => AxisCode::A,
            'S' => AxisCode::S,
            'I' => AxisCode::I,
            _ => return None,
        })
    }
}

/// An orientation code: where the `i`, `j` and `k` axes point.
///
/// ```
/// use medburn_core::{Direction, Orientation};
///
/// let o: Orientation = "RAS".parse()?;
/// assert_eq!(o, Orientation::RAS);
/// assert_eq!(o.to_direction().row_major(), [-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0]);
/// assert_eq!(Orientation::of_direction(&Direction::identity()), Orientation::LPS);
/// assert_eq!(Orientation::all().len(), 48);
/// # Ok::<(), medburn_core::GeometryError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Orientation(pub [AxisCode; 3]);

impl Orientation {
    /// Right, anterior, superior (NIfTI's world and the usual neuroimaging voxel order).
    pub const RAS: Orientation = Orientation([AxisCode::R, AxisCode::A, AxisCode::S]);
    /// Left, posterior, superior (DICOM and ITK's world; identity direction).
    pub const LPS: Orientation = Orientation([AxisCode::L, AxisCode::P, AxisCode::S]);
    /// Right, anterior, inferior.
    pub const RAI: Orientation = Orientation([AxisCode::R, AxisCode::A, AxisCode::I]);
    /// Left, posterior, inferior.
    pub const LPI: Orientation = Orientation([AxisCode::L, AxisCode::P, AxisCode::I]);
    /// Right, posterior, superior.
    pub const RPS: Orientation = Orientation([AxisCode::R, AxisCode::P, AxisCode::S]);
    /// Left, anterior, superior.
    pub const LAS: Orientation = Orientation([AxisCode::L, AxisCode::A, AxisCode::S]);
    /// Right, posterior, inferior.
    pub const RPI: Orientation = Orientation([AxisCode::R, AxisCode::P, AxisCode::I]);
    /// Left, anterior, inferior.
    pub const LAI: Orientation = Orientation([AxisCode::L, AxisCode::A, AxisCode::I]);

    /// Builds a code from three axis codes, checking that they name three distinct world axes.
    ///
    /// ```
    /// use medburn_core::{AxisCode, Orientation};
    /// assert!(Orientation::new([AxisCode::L, AxisCode::R, AxisCode::S]).is_err());
    /// assert!(Orientation::new([AxisCode::S, AxisCode::R, AxisCode::A]).is_ok());
    /// ```
    pub fn new(codes: [AxisCode; 3]) -> Result<Orientation, GeometryError> {
        let mut seen = [false; 3];
        for c in codes {
            let (axis, _) = c.world_axis();
            if seen[axis] {
                return Err(GeometryError::BadOrientation {
                    code: codes.iter().map(|c| c.letter()).collect(),
                    reason: "two letters lie on the same world axis (one of L/R, one of A/P, one of S/I is needed)",
                });
            }
            seen[axis] = true;
        }
        Ok(Orientation(codes))
    }

    /// All 48 valid codes.
    ///
    /// ```
    /// let all = medburn_core::Orientation::all();
    /// assert!(all.contains(&medburn_core::Orientation::LAI));
    /// ```
    pub fn all() -> Vec<Orientation> {
        let perms = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        let mut out = Vec::with_capacity(48);
        for p in perms {
            for signs in 0..8u8 {
                let codes =
                    [0, 1, 2].map(|a| AxisCode::from_world_axis(p[a], signs & (1 << a) == 0));
                out.push(Orientation(codes));
            }
        }
        out
    }

    /// The axis-aligned direction matrix whose columns point along this code.
    ///
    /// ```
    /// use medburn_core::Orientation;
    /// assert_eq!(Orientation::LPS.to_direction(), medburn_core::Direction::identity());
    /// ```
    pub fn to_direction(&self) -> Direction {
        Direction::from_columns(self.0.map(AxisCode::world_vector))
    }

    /// The orientation a direction matrix is closest to.
    ///
    /// For oblique matrices each index axis is given the world axis it is most
    /// aligned with, largest component first (as nibabel's `io_orientation`), so
    /// the three letters are always distinct.
    ///
    /// ```
    /// use medburn_core::{Direction, Orientation};
    ///
    /// // i along -x (right), j along -y (anterior), k along +z, slightly oblique.
    /// let d = Direction::from_row_major([-0.99, 0.1, 0.0, -0.1, -0.99, 0.0, 0.0, 0.0, 1.0]);
    /// assert_eq!(Orientation::of_direction(&d), Orientation::RAS);
    /// ```
    pub fn of_direction(direction: &Direction) -> Orientation {
        let rows = direction.rows();
        let mut used_world = [false; 3];
        let mut used_index = [false; 3];
        let mut codes = [AxisCode::L; 3];
        for _ in 0..3 {
            // Largest remaining |component| decides one (index axis, world axis) pair.
            let mut best = (-1.0f64, 0usize, 0usize);
            for (w, row) in rows.iter().enumerate() {
                for (a, &v) in row.iter().enumerate() {
                    let m = if v.is_nan() { 0.0 } else { v.abs() };
                    if !used_world[w] && !used_index[a] && m > best.0 {
                        best = (m, w, a);
                    }
                }
            }
            let (_, w, a) = best;
            used_world[w] = true;
            used_index[a] = true;
            codes[a] = AxisCode::from_world_axis(w, rows[w][a] >= 0.0);
        }
        Orientation(codes)
    }

    /// For each axis of `self`, the axis of `other` it lies on and whether it is
    /// flipped: what a reorientation from `self` to `other` permutes and flips.
    ///
    /// ```
    /// use medburn_core::Orientation;
    /// // From RAS to LPS: same axes, i and j flipped.
    /// assert_eq!(Orientation::RAS.axis_map_to(&Orientation::LPS), [(0, true), (1, true), (2, false)]);
    /// ```
    pub fn axis_map_to(&self, other: &Orientation) -> [(usize, bool); 3] {
        self.0.map(|code| {
            let (w, s) = code.world_axis();
            let j = other
                .0
                .iter()
                .position(|o| o.world_axis().0 == w)
                .expect("both orientations are valid, so every world axis appears once");
            (j, other.0[j].world_axis().1 != s)
        })
    }
}

impl fmt::Display for Orientation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0 {
            write!(f, "{}", c.letter())?;
        }
        Ok(())
    }
}

impl FromStr for Orientation {
    type Err = GeometryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let letters: Vec<char> = s.trim().chars().collect();
        if letters.len() != 3 {
            return Err(GeometryError::BadOrientation {
                code: s.to_string(),
                reason: "an orientation code has exactly three letters",
            });
        }
        let mut codes = [AxisCode::L; 3];
        for (slot, &c) in codes.iter_mut().zip(&letters) {
            *slot = AxisCode::from_letter(c).ok_or_else(|| GeometryError::BadOrientation {
                code: s.to_string(),
                reason: "letters must be among L, R, A, P, S, I",
            })?;
        }
        Orientation::new(codes).map_err(|_| GeometryError::BadOrientation {
            code: s.to_string(),
            reason: "two letters lie on the same world axis (one of L/R, one of A/P, one of S/I is needed)",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_48_codes_are_distinct_and_round_trip_through_strings_and_directions() {
        let all = Orientation::all();
        assert_eq!(all.len(), 48);
        let set: std::collections::HashSet<_> = all.iter().collect();
        assert_eq!(set.len(), 48);
        for o in all {
            let parsed: Orientation = o.to_string().parse().unwrap();
            assert_eq!(parsed, o);
            let d = o.to_direction();
            assert!(d.validate(1e-12).is_ok());
            assert_eq!(Orientation::of_direction(&d), o);
        }
    }

    #[test]
    fn rejects_bad_codes() {
        for bad in ["", "LP", "LPSS", "LLS", "RLA", "XYZ", "SIA"] {
            assert!(bad.parse::<Orientation>().is_err(), "{bad} should fail");
        }
        assert_eq!("las".parse::<Orientation>().unwrap(), Orientation::LAS);
    }

    #[test]
    fn oblique_direction_picks_dominant_axes_without_repeats() {
        // 45 degrees about z: i and j both have |x| = |y|; letters must stay distinct.
        let c = std::f64::consts::FRAC_1_SQRT_2;
        let d = Direction::from_row_major([c, -c, 0.0, c, c, 0.0, 0.0, 0.0, 1.0]);
        let o = Orientation::of_direction(&d);
        assert!(Orientation::new(o.0).is_ok());
        assert_eq!(o.0[2], AxisCode::S);
    }

    #[test]
    fn axis_map_between_permuted_codes() {
        let from: Orientation = "ASR".parse().unwrap();
        let to = Orientation::LPS;
        // A lies on LPS axis 1 (P) flipped; S on axis 2 same; R on axis 0 flipped.
        assert_eq!(from.axis_map_to(&to), [(1, true), (2, false), (0, true)]);
    }
}
