//! Moving the content on its own grid: rotation, translation, scaling and general affines.
//! Each builds a physical transform (see [`crate::transform`]) and resamples once; the output
//! keeps the input grid.

use medburn_core::MedImage;

use crate::error::{Result, SpatialError};
use crate::resample::{resample, with_grid};
use crate::transform;
use medburn_ops::Interpolation;

/// A world (LPS) axis: x, y, z, or any vector.
///
/// ```
/// use medburn_spatial::Axis;
/// assert_eq!("y".parse::<Axis>().unwrap().vector(), [0.0, 1.0, 0.0]);
/// assert_eq!("1,1,0".parse::<Axis>().unwrap().vector(), [1.0, 1.0, 0.0]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Axis {
    /// x (LPS: towards the patient's left).
    X,
    /// y (towards posterior).
    Y,
    /// z (towards superior).
    Z,
    /// Any direction (normalized when used).
    Vector([f64; 3]),
}

impl Axis {
    /// The axis as a vector.
    ///
    /// ```
    /// assert_eq!(medburn_spatial::Axis::Z.vector(), [0.0, 0.0, 1.0]);
    /// ```
    pub fn vector(self) -> [f64; 3] {
        match self {
            Axis::X => [1.0, 0.0, 0.0],
            Axis::Y => [0.0, 1.0, 0.0],
            Axis::Z => [0.0, 0.0, 1.0],
            Axis::Vector(v) => v,
        }
    }
}

impl core::str::FromStr for Axis {
    type Err = String;

    fn from_str(s: &str) -> core::result::Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "x" => Ok(Axis::X),
            "y" => Ok(Axis::Y),
            "z" => Ok(Axis::Z),
            v => {
                let parts: Vec<f64> = v
                    .split(',')
                    .map(|p| p.trim().parse::<f64>())
                    .collect::<core::result::Result<_, _>>()
                    .map_err(|_| format!("axis {s:?}: use x, y, z or three numbers VX,VY,VZ"))?;
                match parts[..] {
                    [a, b, c] => Ok(Axis::Vector([a, b, c])),
                    _ => Err(format!("axis {s:?}: use x, y, z or three numbers VX,VY,VZ")),
                }
            }
        }
    }
}

/// Refuses a transform parameter that is NaN or infinite: it would sample nowhere and give an
/// image of zeros (or of NaN) without a word.
///
/// ```
/// use burn::tensor::Device;
/// use medburn_core::{Geometry, MedImage};
/// use medburn_spatial::{rotate, translate, Axis, Interpolation};
/// let img = MedImage::from_vec(vec![1.0; 8], 1, Geometry::unit([2, 2, 2])?, &Device::flex())?;
/// let e = rotate(&img, Axis::Z, f64::NAN, None, Interpolation::Linear).unwrap_err();
/// assert_eq!(e.to_string(), "rotate: the angle must be finite, got [NaN]");
/// assert!(rotate(&img, Axis::Z, 5.0, Some([f64::INFINITY, 0.0, 0.0]), Interpolation::Linear).is_err());
/// assert!(translate(&img, [0.0, f64::NAN, 0.0], Interpolation::Linear).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub(crate) fn finite(transform: &str, what: &str, values: &[f64]) -> Result<()> {
    if values.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        let shown: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
        Err(SpatialError::Invalid(format!(
            "{transform}: {what} must be finite, got [{}]",
            shown.join(", ")
        )))
    }
}

/// Rotates the content of `image` by `degrees` about `axis` through `centre` (mm; default the
/// image's physical centre), by the right-hand rule, on the same grid.
///
/// ```
/// use burn::tensor::Device;
/// use medburn_core::{Geometry, MedImage};
/// use medburn_spatial::{rotate, Axis, Interpolation};
/// // A bright voxel at i = 2 of a 3x3x1 image turns to j = 2 after +90 degrees about z.
/// let mut v = vec![0.0; 9];
/// v[2 + 3 * 1] = 1.0;
/// let img = MedImage::from_vec(v, 1, Geometry::unit([3, 3, 1])?, &Device::flex())?;
/// let r = rotate(&img, Axis::Z, 90.0, None, Interpolation::Nearest)?;
/// assert_eq!(r.to_vec()?[1 + 3 * 2], 1.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn rotate(
    image: &MedImage,
    axis: Axis,
    degrees: f64,
    centre: Option<[f64; 3]>,
    interpolation: Interpolation,
) -> Result<MedImage> {
    finite("rotate", "the angle", &[degrees])?;
    finite("rotate", "the axis", &axis.vector())?;
    if let Some(c) = centre {
        finite("rotate", "the centre", &c)?;
    }
    let angle = transform::parameters([degrees.to_radians()], [1], image);
    let centre = centre.unwrap_or_else(|| image.geometry().centre());
    let t = transform::rotation(axis.vector(), angle, centre)
        .ok_or_else(|| SpatialError::Invalid(format!("rotate: axis {axis:?} has no direction")))?;
    resample(image, image.geometry(), Some(t), interpolation)
}

/// Moves `image` by `offset_mm` (LPS) by changing its origin only: exact, no resampling.
///
/// ```
/// use burn::tensor::Device;
/// use medburn_core::{Geometry, MedImage};
/// let img = MedImage::from_vec(vec![1.0; 8], 1, Geometry::unit([2, 2, 2])?, &Device::flex())?;
/// let moved = medburn_spatial::translate_origin(&img, [1.0, 0.0, -2.0])?;
/// assert_eq!(moved.geometry().origin(), [1.0, 0.0, -2.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn translate_origin(image: &MedImage, offset_mm: [f64; 3]) -> Result<MedImage> {
    finite("translate", "the offset", &offset_mm)?;
    let g = image.geometry();
    let o = g.origin();
    let geometry = g.with_origin([
        o[0] + offset_mm[0],
        o[1] + offset_mm[1],
        o[2] + offset_mm[2],
    ])?;
    with_grid(image, image.voxels().clone(), geometry)
}

/// Moves the content of `image` by `offset_mm` (LPS) on the same grid (resampled).
///
/// ```
/// use burn::tensor::Device;
/// use medburn_core::{Geometry, MedImage};
/// use medburn_spatial::{translate, Interpolation};
/// let img = MedImage::from_vec(vec![0.0, 1.0, 0.0, 0.0], 1, Geometry::unit([4, 1, 1])?, &Device::flex())?;
/// let moved = translate(&img, [2.0, 0.0, 0.0], Interpolation::Linear)?;
/// assert_eq!(moved.to_vec()?, vec![0.0, 0.0, 0.0, 1.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn translate(
    image: &MedImage,
    offset_mm: [f64; 3],
    interpolation: Interpolation,
) -> Result<MedImage> {
    finite("translate", "the offset", &offset_mm)?;
    let offsets = transform::parameters(offset_mm, [1, 3], image);
    resample(
        image,
        image.geometry(),
        Some(transform::translation(offsets)),
        interpolation,
    )
}

/// Scales the content of `image` by `factor` (per world axis x, y, z) about its physical centre,
/// on the same grid.
///
/// ```
/// use burn::tensor::Device;
/// use medburn_core::{Geometry, MedImage};
/// use medburn_spatial::{scale, Interpolation};
/// let img = MedImage::from_vec(vec![1.0; 27], 1, Geometry::unit([3, 3, 3])?, &Device::flex())?;
/// let big = scale(&img, [2.0, 2.0, 2.0], Interpolation::Linear)?;
/// assert_eq!(big.geometry(), img.geometry());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn scale(image: &MedImage, factor: [f64; 3], interpolation: Interpolation) -> Result<MedImage> {
    if factor.iter().any(|f| !(f.is_finite() && *f > 0.0)) {
        return Err(SpatialError::Invalid(format!(
            "scale: factors must be positive, got {factor:?}"
        )));
    }
    let f = transform::parameters(factor, [1, 3], image);
    let t = transform::scaling(f, image.geometry().centre());
    resample(image, image.geometry(), Some(t), interpolation)
}

/// Resamples `image` on its own grid through a 4x4 physical matrix (row-major, LPS mm) with
/// ITK's meaning: it maps each output point to the input point it reads, exactly what a
/// SimpleITK `AffineTransform` does in `Resample`. To move the content by `A`, pass `A`'s
/// inverse.
///
/// ```
/// use burn::tensor::Device;
/// use medburn_core::{Geometry, MedImage};
/// use medburn_spatial::{affine, Interpolation};
/// let img = MedImage::from_vec(vec![0.0, 1.0, 2.0, 3.0], 1, Geometry::unit([4, 1, 1])?, &Device::flex())?;
/// let m = [[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]];
/// // Output voxel 3 reads the input at 4, beyond its last face (3.5): 0, as SimpleITK.
/// assert_eq!(affine(&img, m, Interpolation::Linear)?.to_vec()?, vec![1.0, 2.0, 3.0, 0.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn affine(
    image: &MedImage,
    matrix: [[f64; 4]; 4],
    interpolation: Interpolation,
) -> Result<MedImage> {
    if matrix[3] != [0.0, 0.0, 0.0, 1.0] || matrix.iter().flatten().any(|v| !v.is_finite()) {
        return Err(SpatialError::Invalid(format!(
            "affine: the matrix must be finite with last row 0 0 0 1, got {matrix:?}"
        )));
    }
    let rows: Vec<f64> = matrix[..3].iter().flatten().copied().collect();
    let t = transform::parameters(rows, [1, 3, 4], image);
    resample(image, image.geometry(), Some(t), interpolation)
}
