use std::fmt;
use std::str::FromStr;

/// The imaging modality of a volume.
///
/// The subtype (T1, T2, FLAIR, FDG, ...) is kept beside it in [`crate::MedImage::subtype`].
///
/// ```
/// use medburn_core::Modality;
///
/// assert_eq!("MR".parse::<Modality>().unwrap(), Modality::Mr);
/// assert_eq!(Modality::Ct.to_string(), "CT");
/// assert_eq!("US".parse::<Modality>().unwrap(), Modality::Other("US".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Modality {
    /// Computed tomography.
    Ct,
    /// Magnetic resonance.
    Mr,
    /// Positron emission tomography.
    Pet,
    /// Another modality, by its DICOM code (e.g. "US", "CR").
    Other(String),
    /// Not known (NIfTI files do not say).
    #[default]
    Unknown,
}

impl fmt::Display for Modality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Modality::Ct => f.write_str("CT"),
            Modality::Mr => f.write_str("MR"),
            Modality::Pet => f.write_str("PT"),
            Modality::Other(s) => f.write_str(s),
            Modality::Unknown => f.write_str("unknown"),
        }
    }
}

impl FromStr for Modality {
    type Err = std::convert::Infallible;

    /// Parses a DICOM Modality (0008,0060) value; never fails.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Ok(match t.to_ascii_uppercase().as_str() {
            "CT" => Modality::Ct,
            "MR" | "MRI" => Modality::Mr,
            "PT" | "PET" => Modality::Pet,
            "" | "UNKNOWN" => Modality::Unknown,
            _ => Modality::Other(t.to_string()),
        })
    }
}
