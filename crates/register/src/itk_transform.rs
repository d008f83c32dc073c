//! ITK transform files (`.tfm`, "Insight Transform File V1.0") for affine transforms: what
//! SimpleITK's `WriteTransform` writes and `ReadTransform` reads, so that a registration found
//! here can be applied by SimpleITK, ANTs or 3D Slicer, and theirs here.

use std::path::Path;

use crate::error::RegistrationError;

/// An affine transform as an ITK `AffineTransform_double_3_3`: `y = A (x - c) + c + t`, taking
/// a point of the fixed image (LPS, mm) to the moving image's point, ITK's convention.
///
/// ```
/// use medburn_register::ItkAffine;
/// let shift = ItkAffine::from_matrix([[1.0, 0.0, 0.0, 2.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]], [5.0; 3]);
/// assert_eq!(shift.apply([0.0, 0.0, 0.0]), [2.0, 0.0, -1.0]);
/// let text = shift.to_tfm();
/// assert!(text.starts_with("#Insight Transform File V1.0"));
/// let back = ItkAffine::from_tfm(&text)?;
/// assert_eq!(back.apply([1.0, 2.0, 3.0]), [3.0, 2.0, 2.0]);
/// # Ok::<(), medburn_register::RegistrationError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ItkAffine {
    /// `A`, row-major.
    pub matrix: [[f64; 3]; 3],
    /// `t` (ITK's "Translation").
    pub translation: [f64; 3],
    /// `c` (ITK's "Center", the fixed parameters).
    pub centre: [f64; 3],
}

impl ItkAffine {
    /// The transform `y = M[.., ..3] x + M[.., 3]`, written about `centre` (any point: it
    /// changes the parameters, not the map).
    pub fn from_matrix(m: [[f64; 4]; 3], centre: [f64; 3]) -> ItkAffine {
        let matrix = [0, 1, 2].map(|r| [m[r][0], m[r][1], m[r][2]]);
        // M x + o = A (x - c) + c + t  =>  t = o - c + A c.
        let translation = [0, 1, 2]
            .map(|r| m[r][3] - centre[r] + (0..3).map(|k| matrix[r][k] * centre[k]).sum::<f64>());
        ItkAffine {
            matrix,
            translation,
            centre,
        }
    }

    /// The moving-image point of a fixed-image point.
    pub fn apply(&self, p: [f64; 3]) -> [f64; 3] {
        let (a, c, t) = (&self.matrix, self.centre, self.translation);
        [0, 1, 2].map(|r| (0..3).map(|k| a[r][k] * (p[k] - c[k])).sum::<f64>() + c[r] + t[r])
    }

    /// `[A | o]` with `y = A x + o`.
    pub fn to_matrix(&self) -> [[f64; 4]; 3] {
        let o = self.apply([0.0; 3]);
        [0, 1, 2].map(|r| {
            [
                self.matrix[r][0],
                self.matrix[r][1],
                self.matrix[r][2],
                o[r],
            ]
        })
    }

    /// The text of a `.tfm` file holding this transform, as SimpleITK writes it.
    pub fn to_tfm(&self) -> String {
        let numbers = |v: &[f64]| {
            v.iter()
                .map(|x| format!("{x}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut params: Vec<f64> = self.matrix.iter().flatten().copied().collect();
        params.extend(self.translation);
        format!(
            "#Insight Transform File V1.0\n#Transform 0\nTransform: AffineTransform_double_3_3\n\
             Parameters: {}\nFixedParameters: {}\n",
            numbers(&params),
            numbers(&self.centre)
        )
    }

    /// Reads the text of a `.tfm` file holding one 3D affine transform (`AffineTransform`,
    /// `MatrixOffsetTransformBase` or `Euler3DTransform`'s affine cousins are refused with their
    /// name).
    pub fn from_tfm(text: &str) -> crate::Result<ItkAffine> {
        let bad = |what: String| RegistrationError::Option(format!("ITK transform file: {what}"));
        if !text
            .trim_start()
            .starts_with("#Insight Transform File V1.0")
        {
            return Err(bad("no \"#Insight Transform File V1.0\" header".into()));
        }
        let field = |name: &str| -> crate::Result<&str> {
            let mut found = text
                .lines()
                .filter_map(|l| l.trim().strip_prefix(name).map(str::trim));
            let first = found
                .next()
                .ok_or_else(|| bad(format!("no \"{name}\" line")))?;
            if found.next().is_some() {
                return Err(bad(format!(
                    "more than one \"{name}\" line: composite transforms are not read"
                )));
            }
            Ok(first)
        };
        let kind = field("Transform:")?;
        if !matches!(
            kind,
            "AffineTransform_double_3_3" | "AffineTransform_float_3_3"
        ) {
            return Err(bad(format!("a {kind}, not a 3D AffineTransform")));
        }
        let numbers = |name: &str, count: usize| -> crate::Result<Vec<f64>> {
            let v: Vec<f64> = field(name)?
                .split_whitespace()
                .map(|t| {
                    t.parse::<f64>()
                        .map_err(|_| bad(format!("{name} holds {t:?}")))
                })
                .collect::<crate::Result<_>>()?;
            if v.len() != count || v.iter().any(|x| !x.is_finite()) {
                return Err(bad(format!(
                    "{name} must be {count} finite numbers, got {v:?}"
                )));
            }
            Ok(v)
        };
        let p = numbers("Parameters:", 12)?;
        let c = numbers("FixedParameters:", 3)?;
        Ok(ItkAffine {
            matrix: [0, 1, 2].map(|r| [p[3 * r], p[3 * r + 1], p[3 * r + 2]]),
            translation: [p[9], p[10], p[11]],
            centre: [c[0], c[1], c[2]],
        })
    }

    /// Writes the `.tfm` file atomically (a failure leaves no partial file).
    pub fn write(&self, path: &Path) -> crate::Result<()> {
        medburn_io::atomic::write_atomic(path, self.to_tfm().as_bytes())
            .map_err(|e| RegistrationError::File(e.to_string()))
    }

    /// Reads a `.tfm` file.
    pub fn read(path: &Path) -> crate::Result<ItkAffine> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| RegistrationError::File(format!("{}: {e}", path.display())))?;
        ItkAffine::from_tfm(&text)
            .map_err(|e| RegistrationError::File(format!("{}: {e}", path.display())))
    }
}
