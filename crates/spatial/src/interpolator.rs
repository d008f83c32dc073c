//! How resampling transforms compute values between voxel centres.

use medburn_ops::Interpolation;

/// Interpolation of a resampling transform, as SimpleITK's `sitkNearestNeighbor`,
/// `sitkLinear`, `sitkBSpline`, plus the one-hot form for label maps.
///
/// ```
/// use medburn_spatial::Interpolator;
/// assert_eq!("bspline".parse::<Interpolator>().unwrap(), Interpolator::BSpline);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Interpolator {
    /// Nearest voxel: the choice for label maps.
    Nearest,
    /// Trilinear.
    #[default]
    Linear,
    /// Cubic B-spline with prefilter (`sitkBSpline`).
    BSpline,
    /// For label maps: each label is interpolated linearly as a one-hot channel and every
    /// output voxel takes the label with the largest weight (`sitkLabelLinear`-like). Smoother
    /// label boundaries than nearest; labels must be the integers `0..=max`.
    LabelLinear,
}

impl Interpolator {
    /// The sampling op's interpolation (one-hot labels sample linearly).
    pub(crate) fn sampling(self) -> Interpolation {
        match self {
            Interpolator::Nearest => Interpolation::Nearest,
            Interpolator::Linear | Interpolator::LabelLinear => Interpolation::Linear,
            Interpolator::BSpline => Interpolation::BSpline,
        }
    }
}

impl core::str::FromStr for Interpolator {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "nearest" => Ok(Interpolator::Nearest),
            "linear" => Ok(Interpolator::Linear),
            "bspline" | "b-spline" => Ok(Interpolator::BSpline),
            "label-linear" | "labellinear" => Ok(Interpolator::LabelLinear),
            other => Err(format!(
                "unknown interpolation {other:?}: use nearest, linear, bspline or label-linear"
            )),
        }
    }
}
