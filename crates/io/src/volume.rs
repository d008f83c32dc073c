//! [`Volume`]: voxels on the host in the file's own data type, with geometry.
//!
//! This is the I/O boundary (ndarray). Readers produce a `Volume` and writers take
//! one, so a conversion keeps every value exactly; [`Volume::to_image`] moves it
//! onto a Burn device as a [`MedImage`].

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

#[cfg(feature = "burn")]
use burn::tensor::Device;
#[cfg(feature = "burn")]
use medburn_core::MedImage;
use medburn_core::{Geometry, Modality};
use ndarray::{ArrayD, IxDyn};

use crate::{IoErrorKind, Result as IoResult};

/// The element type of voxels as stored in a file.
///
/// ```
/// use medburn_io::VoxelType;
/// assert_eq!("int16".parse::<VoxelType>().unwrap(), VoxelType::I16);
/// assert_eq!(VoxelType::F32.to_string(), "float32");
/// assert_eq!(VoxelType::U16.size(), 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VoxelType {
    /// 8-bit unsigned.
    U8,
    /// 8-bit signed.
    I8,
    /// 16-bit signed.
    I16,
    /// 16-bit unsigned.
    U16,
    /// 32-bit signed.
    I32,
    /// 32-bit unsigned.
    U32,
    /// 64-bit signed.
    I64,
    /// 64-bit unsigned.
    U64,
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
}

impl VoxelType {
    /// All types, narrowest integer first.
    pub const ALL: [VoxelType; 10] = [
        VoxelType::U8,
        VoxelType::I8,
        VoxelType::I16,
        VoxelType::U16,
        VoxelType::I32,
        VoxelType::U32,
        VoxelType::I64,
        VoxelType::U64,
        VoxelType::F32,
        VoxelType::F64,
    ];

    /// Bytes per value.
    ///
    /// ```
    /// assert_eq!(medburn_io::VoxelType::F64.size(), 8);
    /// ```
    pub fn size(self) -> usize {
        match self {
            VoxelType::U8 | VoxelType::I8 => 1,
            VoxelType::I16 | VoxelType::U16 => 2,
            VoxelType::I32 | VoxelType::U32 | VoxelType::F32 => 4,
            VoxelType::I64 | VoxelType::U64 | VoxelType::F64 => 8,
        }
    }

    /// Whether the type is a float.
    ///
    /// ```
    /// assert!(medburn_io::VoxelType::F32.is_float());
    /// ```
    pub fn is_float(self) -> bool {
        matches!(self, VoxelType::F32 | VoxelType::F64)
    }

    /// The smallest and largest value the type holds, as f64.
    ///
    /// ```
    /// assert_eq!(medburn_io::VoxelType::I16.range(), (-32768.0, 32767.0));
    /// ```
    pub fn range(self) -> (f64, f64) {
        match self {
            VoxelType::U8 => (0.0, u8::MAX as f64),
            VoxelType::I8 => (i8::MIN as f64, i8::MAX as f64),
            VoxelType::I16 => (i16::MIN as f64, i16::MAX as f64),
            VoxelType::U16 => (0.0, u16::MAX as f64),
            VoxelType::I32 => (i32::MIN as f64, i32::MAX as f64),
            VoxelType::U32 => (0.0, u32::MAX as f64),
            VoxelType::I64 => (i64::MIN as f64, i64::MAX as f64),
            VoxelType::U64 => (0.0, u64::MAX as f64),
            VoxelType::F32 => (f32::MIN as f64, f32::MAX as f64),
            VoxelType::F64 => (f64::MIN, f64::MAX),
        }
    }
}

impl fmt::Display for VoxelType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VoxelType::U8 => "uint8",
            VoxelType::I8 => "int8",
            VoxelType::I16 => "int16",
            VoxelType::U16 => "uint16",
            VoxelType::I32 => "int32",
            VoxelType::U32 => "uint32",
            VoxelType::I64 => "int64",
            VoxelType::U64 => "uint64",
            VoxelType::F32 => "float32",
            VoxelType::F64 => "float64",
        })
    }
}

impl FromStr for VoxelType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "uint8" | "u8" => VoxelType::U8,
            "int8" | "i8" => VoxelType::I8,
            "int16" | "i16" => VoxelType::I16,
            "uint16" | "u16" => VoxelType::U16,
            "int32" | "i32" => VoxelType::I32,
            "uint32" | "u32" => VoxelType::U32,
            "int64" | "i64" => VoxelType::I64,
            "uint64" | "u64" => VoxelType::U64,
            "float32" | "f32" | "float" => VoxelType::F32,
            "float64" | "f64" | "double" => VoxelType::F64,
            other => {
                return Err(format!(
                    "unknown voxel type {other:?} (expected one of uint8, int8, int16, uint16, int32, uint32, int64, uint64, float32, float64)"
                ))
            }
        })
    }
}

/// Voxel values in their stored type. Shape `[C, k, j, i]` in standard (C) layout,
/// so `i` is fastest in memory as in NIfTI and ITK.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum VoxelArray {
    U8(ArrayD<u8>),
    I8(ArrayD<i8>),
    I16(ArrayD<i16>),
    U16(ArrayD<u16>),
    I32(ArrayD<i32>),
    U32(ArrayD<u32>),
    I64(ArrayD<i64>),
    U64(ArrayD<u64>),
    F32(ArrayD<f32>),
    F64(ArrayD<f64>),
}

/// Runs `$body` with `$a` bound to the typed array inside a [`VoxelArray`].
macro_rules! with_array {
    ($v:expr, $a:ident => $body:expr) => {
        match $v {
            VoxelArray::U8($a) => $body,
            VoxelArray::I8($a) => $body,
            VoxelArray::I16($a) => $body,
            VoxelArray::U16($a) => $body,
            VoxelArray::I32($a) => $body,
            VoxelArray::U32($a) => $body,
            VoxelArray::I64($a) => $body,
            VoxelArray::U64($a) => $body,
            VoxelArray::F32($a) => $body,
            VoxelArray::F64($a) => $body,
        }
    };
}
pub(crate) use with_array;

/// A primitive voxel type: converts to and from f64 for rescaling and type changes.
pub trait Voxel: Copy + Send + Sync + 'static {
    /// The [`VoxelType`] of `Self`.
    const TYPE: VoxelType;
    /// As f64 (exact for all but 64-bit integers beyond 2^53).
    fn to_f64(self) -> f64;
    /// From f64, rounding and saturating for integer types (NaN becomes 0).
    fn from_f64(v: f64) -> Self;
    /// Wraps an array of this type.
    fn wrap(a: ArrayD<Self>) -> VoxelArray;
}

macro_rules! voxel_impl {
    ($t:ty, $vt:ident, int) => {
        impl Voxel for $t {
            const TYPE: VoxelType = VoxelType::$vt;
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn from_f64(v: f64) -> Self {
                // `as` saturates and maps NaN to 0.
                v.round() as $t
            }
            fn wrap(a: ArrayD<Self>) -> VoxelArray {
                VoxelArray::$vt(a)
            }
        }
    };
    ($t:ty, $vt:ident, float) => {
        impl Voxel for $t {
            const TYPE: VoxelType = VoxelType::$vt;
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            fn wrap(a: ArrayD<Self>) -> VoxelArray {
                VoxelArray::$vt(a)
            }
        }
    };
}
voxel_impl!(u8, U8, int);
voxel_impl!(i8, I8, int);
voxel_impl!(i16, I16, int);
voxel_impl!(u16, U16, int);
voxel_impl!(i32, I32, int);
voxel_impl!(u32, U32, int);
voxel_impl!(i64, I64, int);
voxel_impl!(u64, U64, int);
voxel_impl!(f32, F32, float);
voxel_impl!(f64, F64, float);

impl VoxelArray {
    /// The stored type.
    ///
    /// ```
    /// use medburn_io::{VoxelArray, VoxelType};
    /// let a = VoxelArray::I16(ndarray::ArrayD::zeros(ndarray::IxDyn(&[1, 1, 1, 2])));
    /// assert_eq!(a.voxel_type(), VoxelType::I16);
    /// ```
    pub fn voxel_type(&self) -> VoxelType {
        match self {
            VoxelArray::U8(_) => VoxelType::U8,
            VoxelArray::I8(_) => VoxelType::I8,
            VoxelArray::I16(_) => VoxelType::I16,
            VoxelArray::U16(_) => VoxelType::U16,
            VoxelArray::I32(_) => VoxelType::I32,
            VoxelArray::U32(_) => VoxelType::U32,
            VoxelArray::I64(_) => VoxelType::I64,
            VoxelArray::U64(_) => VoxelType::U64,
            VoxelArray::F32(_) => VoxelType::F32,
            VoxelArray::F64(_) => VoxelType::F64,
        }
    }

    /// The shape `[C, k, j, i]`.
    ///
    /// ```
    /// let a = medburn_io::VoxelArray::U8(ndarray::ArrayD::zeros(ndarray::IxDyn(&[2, 3, 4, 5])));
    /// assert_eq!(a.shape(), &[2, 3, 4, 5]);
    /// ```
    pub fn shape(&self) -> &[usize] {
        with_array!(self, a => a.shape())
    }

    /// Number of values.
    ///
    /// ```
    /// let a = medburn_io::VoxelArray::U8(ndarray::ArrayD::zeros(ndarray::IxDyn(&[2, 3, 4, 5])));
    /// assert_eq!(a.len(), 120);
    /// ```
    pub fn len(&self) -> usize {
        with_array!(self, a => a.len())
    }

    /// Whether there are no values.
    ///
    /// ```
    /// let a = medburn_io::VoxelArray::U8(ndarray::ArrayD::zeros(ndarray::IxDyn(&[1, 1, 1, 1])));
    /// assert!(!a.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every value as f64 after `value * slope + inter`, in memory order.
    ///
    /// ```
    /// use medburn_io::{Rescale, VoxelArray};
    /// let a = VoxelArray::I16(ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[1, 1, 1, 2]), vec![1, -2]).unwrap());
    /// assert_eq!(a.rescaled_f64(Rescale { slope: 2.0, inter: 1.0 }), vec![3.0, -3.0]);
    /// ```
    pub fn rescaled_f64(&self, rescale: Rescale) -> Vec<f64> {
        with_array!(self, a => a.iter().map(|v| v.to_f64() * rescale.slope + rescale.inter).collect())
    }

    /// Converts to another type after rescaling, checking that every value is kept
    /// exactly unless `lossy` is set (then values are rounded and saturated).
    ///
    /// ```
    /// use medburn_io::{Rescale, VoxelArray, VoxelType};
    /// let a = VoxelArray::F64(ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[1, 1, 1, 2]), vec![1.0, 300.0]).unwrap());
    /// assert!(a.convert(VoxelType::U8, Rescale::IDENTITY, false).is_err());
    /// let b = a.convert(VoxelType::I16, Rescale::IDENTITY, false).unwrap();
    /// assert_eq!(b.voxel_type(), VoxelType::I16);
    /// ```
    pub fn convert(
        &self,
        to: VoxelType,
        rescale: Rescale,
        lossy: bool,
    ) -> Result<VoxelArray, IoErrorKind> {
        if to == self.voxel_type() && rescale.is_identity() {
            return Ok(self.clone());
        }
        fn go<T: Voxel>(
            src: &VoxelArray,
            rescale: Rescale,
            lossy: bool,
        ) -> Result<VoxelArray, IoErrorKind> {
            with_array!(src, a => {
                let mut out = Vec::with_capacity(a.len());
                for (n, v) in a.iter().enumerate() {
                    let x = v.to_f64() * rescale.slope + rescale.inter;
                    let y = T::from_f64(x);
                    let exact = y.to_f64() == x || (x.is_nan() && y.to_f64().is_nan());
                    if !lossy && !exact {
                        return Err(IoErrorKind::Conversion(format!(
                            "value {x} at element {n} cannot be stored exactly as {} (choose another --dtype)",
                            T::TYPE
                        )));
                    }
                    out.push(y);
                }
                Ok(T::wrap(ArrayD::from_shape_vec(IxDyn(a.shape()), out).expect("same shape")))
            })
        }
        match to {
            VoxelType::U8 => go::<u8>(self, rescale, lossy),
            VoxelType::I8 => go::<i8>(self, rescale, lossy),
            VoxelType::I16 => go::<i16>(self, rescale, lossy),
            VoxelType::U16 => go::<u16>(self, rescale, lossy),
            VoxelType::I32 => go::<i32>(self, rescale, lossy),
            VoxelType::U32 => go::<u32>(self, rescale, lossy),
            VoxelType::I64 => go::<i64>(self, rescale, lossy),
            VoxelType::U64 => go::<u64>(self, rescale, lossy),
            VoxelType::F32 => go::<f32>(self, rescale, lossy),
            VoxelType::F64 => go::<f64>(self, rescale, lossy),
        }
    }

    /// The smallest and largest value (NaN ignored); `None` if there are none.
    ///
    /// ```
    /// let a = medburn_io::VoxelArray::I8(ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[1, 1, 1, 3]), vec![4, -7, 2]).unwrap());
    /// assert_eq!(a.min_max(), Some((-7.0, 4.0)));
    /// ```
    pub fn min_max(&self) -> Option<(f64, f64)> {
        with_array!(self, a => {
            let mut lo = f64::INFINITY;
            let mut hi = f64::NEG_INFINITY;
            for v in a.iter() {
                let x = v.to_f64();
                if x < lo { lo = x; }
                if x > hi { hi = x; }
            }
            (lo <= hi).then_some((lo, hi))
        })
    }
}

/// A linear intensity map applied on reading: `value * slope + inter`
/// (NIfTI `scl_slope`/`scl_inter`, DICOM RescaleSlope/RescaleIntercept).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rescale {
    /// Multiplier.
    pub slope: f64,
    /// Offset.
    pub inter: f64,
}

impl Rescale {
    /// No change.
    pub const IDENTITY: Rescale = Rescale {
        slope: 1.0,
        inter: 0.0,
    };

    /// Whether this is the identity.
    ///
    /// ```
    /// assert!(medburn_io::Rescale::IDENTITY.is_identity());
    /// ```
    pub fn is_identity(&self) -> bool {
        self.slope == 1.0 && self.inter == 0.0
    }
}

impl Default for Rescale {
    fn default() -> Self {
        Rescale::IDENTITY
    }
}

/// Voxels on the host in their stored type, with geometry and what the file said about them.
///
/// `data` has shape `[C, k, j, i]`: dimensions beyond the third (NIfTI's t and
/// further, DICOM samples per pixel) are flattened into channels `C`, and
/// `extra_dims` keeps their sizes so a writer can restore them.
///
/// ```
/// use medburn_core::Geometry;
/// use medburn_io::{Volume, VoxelArray};
///
/// let data = VoxelArray::I16(ndarray::ArrayD::zeros(ndarray::IxDyn(&[1, 2, 3, 4])));
/// let v = Volume::new(data, Geometry::unit([4, 3, 2])?)?;
/// assert_eq!(v.size(), vec![4, 3, 2]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    /// Stored values, shape `[C, k, j, i]`.
    pub data: VoxelArray,
    /// Map from stored values to real values.
    pub rescale: Rescale,
    /// Physical space.
    pub geometry: Geometry,
    /// Sizes of the dimensions beyond the third, whose product is `C` (empty for one channel).
    pub extra_dims: Vec<usize>,
    /// Imaging modality.
    pub modality: Modality,
    /// Modality subtype (T1, FLAIR, FDG...).
    pub subtype: Option<String>,
    /// Free-form key/values kept from the file.
    pub metadata: BTreeMap<String, String>,
}

impl Volume {
    /// A volume with identity rescale, no extra dims beyond channels, unknown modality.
    /// Checks that `data` is `[C, k, j, i]` for the geometry.
    ///
    /// ```
    /// use medburn_core::Geometry;
    /// use medburn_io::{Volume, VoxelArray};
    /// let data = VoxelArray::U8(ndarray::ArrayD::zeros(ndarray::IxDyn(&[1, 2, 3, 4])));
    /// assert!(Volume::new(data, Geometry::unit([2, 3, 4])?).is_err()); // i and k swapped
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(data: VoxelArray, geometry: Geometry) -> IoResult<Volume, IoErrorKind> {
        let s = data.shape();
        if s.len() != 4 || s[1..] != geometry.dhw() || s[0] == 0 {
            return Err(IoErrorKind::Image(
                medburn_core::ImageError::ShapeMismatch {
                    got: s.to_vec(),
                    size: geometry.size(),
                },
            ));
        }
        let extra_dims = if s[0] > 1 { vec![s[0]] } else { vec![] };
        Ok(Volume {
            data,
            rescale: Rescale::IDENTITY,
            geometry,
            extra_dims,
            modality: Modality::Unknown,
            subtype: None,
            metadata: BTreeMap::new(),
        })
    }

    /// Size `[i, j, k, further dims...]`.
    ///
    /// ```
    /// # use medburn_core::Geometry;
    /// # use medburn_io::{Volume, VoxelArray};
    /// let data = VoxelArray::U8(ndarray::ArrayD::zeros(ndarray::IxDyn(&[5, 1, 1, 2])));
    /// assert_eq!(Volume::new(data, Geometry::unit([2, 1, 1])?)?.size(), vec![2, 1, 1, 5]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn size(&self) -> Vec<usize> {
        let mut s = self.geometry.size().to_vec();
        s.extend(&self.extra_dims);
        s
    }

    /// Number of channels `C`.
    ///
    /// ```
    /// # use medburn_core::Geometry;
    /// # use medburn_io::{Volume, VoxelArray};
    /// let data = VoxelArray::U8(ndarray::ArrayD::zeros(ndarray::IxDyn(&[3, 1, 1, 2])));
    /// assert_eq!(Volume::new(data, Geometry::unit([2, 1, 1])?)?.channels(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn channels(&self) -> usize {
        self.data.shape()[0]
    }

    /// The type values have after rescaling when no type is asked for: the stored
    /// type if the rescale is the identity; an integer type holding every rescaled
    /// value if slope and intercept are integers; float32 for 8- and 16-bit data
    /// (exact enough for what scanners write); float64 otherwise.
    ///
    /// ```
    /// # use medburn_core::Geometry;
    /// use medburn_io::{Rescale, Volume, VoxelArray, VoxelType};
    /// let data = VoxelArray::U16(ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[1, 1, 1, 2]), vec![0, 4000]).unwrap());
    /// let mut v = Volume::new(data, Geometry::unit([2, 1, 1])?)?;
    /// v.rescale = Rescale { slope: 1.0, inter: -1024.0 };
    /// assert_eq!(v.natural_type(), VoxelType::I16);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn natural_type(&self) -> VoxelType {
        let stored = self.data.voxel_type();
        if self.rescale.is_identity() {
            return stored;
        }
        let integral = self.rescale.slope.fract() == 0.0 && self.rescale.inter.fract() == 0.0;
        if integral && !stored.is_float() {
            if let Some((lo, hi)) = self.data.min_max() {
                let (a, b) = (
                    lo * self.rescale.slope + self.rescale.inter,
                    hi * self.rescale.slope + self.rescale.inter,
                );
                let (lo, hi) = (a.min(b), a.max(b));
                // Narrowest integer type first (u64 cannot hold negatives, so i64 goes last).
                let candidates = VoxelType::ALL
                    .into_iter()
                    .filter(|t| !t.is_float() && *t != VoxelType::U64);
                for t in candidates {
                    let (tl, th) = t.range();
                    if lo >= tl && hi <= th {
                        return t;
                    }
                }
                return VoxelType::F64;
            }
        }
        if stored.size() <= 2 {
            VoxelType::F32
        } else {
            VoxelType::F64
        }
    }

    /// The real (rescaled) values in `to`, exact unless `lossy`.
    ///
    /// ```
    /// # use medburn_core::Geometry;
    /// use medburn_io::{Rescale, Volume, VoxelArray, VoxelType};
    /// let data = VoxelArray::U8(ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[1, 1, 1, 2]), vec![1, 2]).unwrap());
    /// let mut v = Volume::new(data, Geometry::unit([2, 1, 1])?)?;
    /// v.rescale = Rescale { slope: 0.5, inter: 0.0 };
    /// assert_eq!(v.real_values(VoxelType::F32, false)?, VoxelArray::F32(ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[1, 1, 1, 2]), vec![0.5, 1.0]).unwrap()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn real_values(&self, to: VoxelType, lossy: bool) -> IoResult<VoxelArray, IoErrorKind> {
        self.data.convert(to, self.rescale, lossy)
    }

    /// Moves the real values onto `device` as a float32 [`MedImage`] `[1, C, k, j, i]`,
    /// with geometry, modality and metadata.
    ///
    /// ```
    /// # use medburn_core::{Device, Geometry};
    /// use medburn_io::{Volume, VoxelArray};
    /// let data = VoxelArray::I16(ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[1, 1, 1, 2]), vec![-5, 7]).unwrap());
    /// let img = Volume::new(data, Geometry::unit([2, 1, 1])?)?.to_image(&Device::flex())?;
    /// assert_eq!(img.to_vec()?, vec![-5.0, 7.0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "burn")]
    pub fn to_image(&self, device: &Device) -> IoResult<MedImage, IoErrorKind> {
        let values: Vec<f32> = if self.rescale.is_identity() {
            with_array!(&self.data, a => a.iter().map(|v| v.to_f64() as f32).collect())
        } else {
            let r = self.rescale;
            with_array!(&self.data, a => a.iter().map(|v| (v.to_f64() * r.slope + r.inter) as f32).collect())
        };
        let mut img = MedImage::from_vec(values, self.channels(), self.geometry, device)?;
        img.modality = self.modality.clone();
        img.subtype = self.subtype.clone();
        img.metadata = self.metadata.clone();
        if self.extra_dims.len() > 1 {
            img.metadata.insert(
                "medburn:extra_dims".into(),
                self.extra_dims
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            );
        }
        Ok(img)
    }

    /// Reads a [`MedImage`] back to the host as a float32 volume.
    ///
    /// ```
    /// # use medburn_core::{Device, Geometry, MedImage};
    /// let img = MedImage::from_vec(vec![1.0, 2.0], 1, Geometry::unit([2, 1, 1])?, &Device::flex())?;
    /// let v = medburn_io::Volume::from_image(&img)?;
    /// assert_eq!(v.size(), vec![2, 1, 1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "burn")]
    pub fn from_image(image: &MedImage) -> IoResult<Volume, IoErrorKind> {
        let values = image.to_vec()?;
        let [d, h, w] = image.geometry().dhw();
        let c = image.channels();
        let data = VoxelArray::F32(
            ArrayD::from_shape_vec(IxDyn(&[c, d, h, w]), values)
                .map_err(|e| IoErrorKind::Conversion(e.to_string()))?,
        );
        let mut v = Volume::new(data, *image.geometry())?;
        v.modality = image.modality.clone();
        v.subtype = image.subtype.clone();
        v.metadata = image.metadata.clone();
        if let Some(dims) = v.metadata.remove("medburn:extra_dims") {
            let dims: Option<Vec<usize>> = dims.split(',').map(|d| d.parse().ok()).collect();
            if let Some(dims) = dims.filter(|d| d.iter().product::<usize>() == c) {
                v.extra_dims = dims;
            }
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vol<T: Voxel>(values: Vec<T>, rescale: Rescale) -> Volume {
        let n = values.len();
        let data = T::wrap(ArrayD::from_shape_vec(IxDyn(&[1, 1, 1, n]), values).unwrap());
        let mut v = Volume::new(data, Geometry::unit([n, 1, 1]).unwrap()).unwrap();
        v.rescale = rescale;
        v
    }

    #[test]
    fn natural_type_keeps_integers_exact_and_picks_floats_otherwise() {
        let id = Rescale::IDENTITY;
        assert_eq!(vol(vec![1u16, 2], id).natural_type(), VoxelType::U16);
        let ct = Rescale {
            slope: 1.0,
            inter: -1024.0,
        };
        assert_eq!(vol(vec![0u16, 4095], ct).natural_type(), VoxelType::I16);
        assert_eq!(vol(vec![0u16, 65535], ct).natural_type(), VoxelType::I32);
        assert_eq!(
            vol(
                vec![0u8, 10],
                Rescale {
                    slope: 2.0,
                    inter: 0.0
                }
            )
            .natural_type(),
            VoxelType::U8
        );
        let frac = Rescale {
            slope: 0.684,
            inter: 200.0,
        };
        assert_eq!(vol(vec![0i16, 10], frac).natural_type(), VoxelType::F32);
        assert_eq!(vol(vec![0i32, 10], frac).natural_type(), VoxelType::F64);
        // Every rescaled value must survive the natural type exactly when it is an integer type.
        for v in [
            vol(vec![0u16, 4095, 17], ct),
            vol(
                vec![3u8, 200],
                Rescale {
                    slope: -3.0,
                    inter: 7.0,
                },
            ),
        ] {
            let t = v.natural_type();
            assert!(!t.is_float());
            assert!(v.real_values(t, false).is_ok(), "{t}");
        }
    }

    #[test]
    fn conversions_refuse_to_lose_values_unless_asked() {
        let v = vol(vec![1.5f64, -2.0, 300.0], Rescale::IDENTITY);
        assert!(v.real_values(VoxelType::I16, false).is_err());
        let lossy = v.real_values(VoxelType::U8, true).unwrap();
        assert_eq!(
            lossy,
            VoxelArray::U8(ArrayD::from_shape_vec(IxDyn(&[1, 1, 1, 3]), vec![2, 0, 255]).unwrap())
        );
        let nan = vol(vec![f32::NAN, 1.0], Rescale::IDENTITY);
        assert!(nan.real_values(VoxelType::F64, false).is_ok());
        assert!(nan.real_values(VoxelType::I32, false).is_err());
        assert_eq!(
            vol(vec![1u64 << 60], Rescale::IDENTITY)
                .real_values(VoxelType::I64, false)
                .unwrap()
                .voxel_type(),
            VoxelType::I64
        );
    }

    #[test]
    fn voxel_type_names_parse_back() {
        for t in VoxelType::ALL {
            assert_eq!(t.to_string().parse::<VoxelType>().unwrap(), t);
        }
        assert!("complex64".parse::<VoxelType>().is_err());
    }
}
