use crate::GeometryError;

/// Default tolerance of [`Direction::validate`] on `max |D^T D - I|`.
///
/// NIfTI stores the sform in f32 and DICOM writes direction cosines as decimal
/// strings, so exact orthonormality cannot be asked for; 1e-4 is what ITK accepts.
pub const ORTHONORMAL_TOLERANCE: f64 = 1e-4;

/// A 3x3 direction matrix: its columns are the world (LPS) directions of the
/// `i`, `j`, `k` index axes. Stored and printed row-major, as SimpleITK's
/// `GetDirection()`.
///
/// ```
/// use medburn_core::Direction;
///
/// let d = Direction::from_row_major([0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
/// assert_eq!(d.column(0), [0.0, 1.0, 0.0]);
/// assert_eq!(d.determinant(), 1.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Direction {
    rows: [[f64; 3]; 3],
}

impl Default for Direction {
    fn default() -> Self {
        Self::identity()
    }
}

impl Direction {
    /// The identity: `i` to the left (+x), `j` to posterior (+y), `k` to superior (+z), i.e. "LPS".
    ///
    /// ```
    /// assert_eq!(medburn_core::Direction::identity().row_major()[4], 1.0);
    /// ```
    pub const fn identity() -> Self {
        Self {
            rows: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        }
    }

    /// From rows (`rows[r][c]`).
    ///
    /// ```
    /// let d = medburn_core::Direction::from_rows([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]]);
    /// assert_eq!(d.column(2), [0.0, 1.0, 0.0]);
    /// ```
    pub const fn from_rows(rows: [[f64; 3]; 3]) -> Self {
        Self { rows }
    }

    /// From the three axis directions (the columns).
    ///
    /// ```
    /// let d = medburn_core::Direction::from_columns([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]);
    /// assert_eq!(d.rows()[0], [0.0, 1.0, 0.0]);
    /// ```
    pub fn from_columns(cols: [[f64; 3]; 3]) -> Self {
        let mut rows = [[0.0; 3]; 3];
        for (c, col) in cols.iter().enumerate() {
            for (r, row) in rows.iter_mut().enumerate() {
                row[c] = col[r];
            }
        }
        Self { rows }
    }

    /// From 9 numbers in row-major order (SimpleITK's `GetDirection()`).
    ///
    /// ```
    /// let v = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
    /// assert_eq!(medburn_core::Direction::from_row_major(v).row_major(), v);
    /// ```
    pub fn from_row_major(v: [f64; 9]) -> Self {
        Self {
            rows: [[v[0], v[1], v[2]], [v[3], v[4], v[5]], [v[6], v[7], v[8]]],
        }
    }

    /// The rows.
    ///
    /// ```
    /// assert_eq!(medburn_core::Direction::identity().rows()[2], [0.0, 0.0, 1.0]);
    /// ```
    pub fn rows(&self) -> [[f64; 3]; 3] {
        self.rows
    }

    /// The 9 numbers, row-major.
    ///
    /// ```
    /// assert_eq!(medburn_core::Direction::identity().row_major()[8], 1.0);
    /// ```
    pub fn row_major(&self) -> [f64; 9] {
        let r = &self.rows;
        [
            r[0][0], r[0][1], r[0][2], r[1][0], r[1][1], r[1][2], r[2][0], r[2][1], r[2][2],
        ]
    }

    /// The world direction of index axis `axis` (0 = i, 1 = j, 2 = k).
    ///
    /// # Panics
    /// If `axis > 2`.
    ///
    /// ```
    /// assert_eq!(medburn_core::Direction::identity().column(1), [0.0, 1.0, 0.0]);
    /// ```
    pub fn column(&self, axis: usize) -> [f64; 3] {
        [self.rows[0][axis], self.rows[1][axis], self.rows[2][axis]]
    }

    /// Matrix times vector.
    ///
    /// ```
    /// let d = medburn_core::Direction::from_rows([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]);
    /// assert_eq!(d.apply([1.0, 0.0, 0.0]), [0.0, 1.0, 0.0]);
    /// ```
    pub fn apply(&self, v: [f64; 3]) -> [f64; 3] {
        let r = &self.rows;
        [
            r[0][0] * v[0] + r[0][1] * v[1] + r[0][2] * v[2],
            r[1][0] * v[0] + r[1][1] * v[1] + r[1][2] * v[2],
            r[2][0] * v[0] + r[2][1] * v[1] + r[2][2] * v[2],
        ]
    }

    /// The transpose (the inverse of an orthonormal matrix).
    ///
    /// ```
    /// let d = medburn_core::Direction::from_rows([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]);
    /// assert_eq!(d.transpose().apply(d.apply([1.0, 2.0, 3.0])), [1.0, 2.0, 3.0]);
    /// ```
    pub fn transpose(&self) -> Self {
        let r = &self.rows;
        Self::from_rows([
            [r[0][0], r[1][0], r[2][0]],
            [r[0][1], r[1][1], r[2][1]],
            [r[0][2], r[1][2], r[2][2]],
        ])
    }

    /// The determinant: +1 for a proper rotation, -1 for a reflection.
    ///
    /// ```
    /// let d = medburn_core::Direction::from_row_major([-1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
    /// assert_eq!(d.determinant(), -1.0);
    /// ```
    pub fn determinant(&self) -> f64 {
        let m = &self.rows;
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    }

    /// `max |(D^T D - I)_ij|`: how far the matrix is from orthonormal (NaN counts as infinite).
    ///
    /// ```
    /// assert_eq!(medburn_core::Direction::identity().orthonormality_error(), 0.0);
    /// ```
    pub fn orthonormality_error(&self) -> f64 {
        let mut worst = 0.0f64;
        for a in 0..3 {
            for b in 0..3 {
                let ca = self.column(a);
                let cb = self.column(b);
                let dot = ca[0] * cb[0] + ca[1] * cb[1] + ca[2] * cb[2];
                let expect = if a == b { 1.0 } else { 0.0 };
                let dev = (dot - expect).abs();
                if dev.is_nan() {
                    return f64::INFINITY;
                }
                worst = worst.max(dev);
            }
        }
        worst
    }

    /// Checks that the matrix is orthonormal within `tolerance` (and not singular).
    ///
    /// ```
    /// use medburn_core::Direction;
    ///
    /// assert!(Direction::identity().validate(1e-6).is_ok());
    /// let sheared = Direction::from_row_major([1.0, 0.5, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
    /// assert!(sheared.validate(1e-4).is_err());
    /// ```
    pub fn validate(&self, tolerance: f64) -> Result<(), GeometryError> {
        let det = self.determinant();
        if !det.is_finite() || det.abs() < 1e-6 {
            return Err(GeometryError::Singular { determinant: det });
        }
        let deviation = self.orthonormality_error();
        if deviation > tolerance {
            return Err(GeometryError::NotOrthonormal {
                matrix: Box::new(self.row_major()),
                deviation,
                tolerance,
            });
        }
        Ok(())
    }

    /// The matrix product `self * other`.
    ///
    /// ```
    /// use medburn_core::Direction;
    /// let d = Direction::from_row_major([0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
    /// assert_eq!(d.matmul(&d.transpose()), Direction::identity());
    /// ```
    pub fn matmul(&self, other: &Direction) -> Direction {
        let mut out = [[0.0; 3]; 3];
        for (r, row) in out.iter_mut().enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                *v = (0..3).map(|k| self.rows[r][k] * other.rows[k][c]).sum();
            }
        }
        Direction::from_rows(out)
    }
}
