//! How a sampling op interpolates and what it does outside the volume.

/// How values between voxel centres are computed: medburn's one interpolation vocabulary, used
/// by the sampling ops, [`interpolate_3d`](crate::interpolate_3d), the physical-space transforms
/// of `medburn_spatial`, the label maps of `medburn_augment`, and the `medburn` command.
///
/// | medburn | text names | SimpleITK | PyTorch `grid_sample` | PyTorch `interpolate` |
/// |---|---|---|---|---|
/// | `Nearest` | `nearest` | `sitkNearestNeighbor` | `"nearest"` | `"nearest"` |
/// | `NearestExact` | `nearest_exact` | | | `"nearest-exact"` |
/// | `Linear` | `linear`, `trilinear`, `bilinear` | `sitkLinear` | `"bilinear"` (5D) | `"trilinear"` |
/// | `BSpline` | `bspline` | `sitkBSpline` (cubic) | | |
/// | `LabelLinear` | `label_linear`, `one_hot_linear` | `sitkLabelLinear` | | |
///
/// Text is parsed by [`FromStr`](core::str::FromStr) (command-line flags) and by serde (TOML,
/// JSON), case-insensitively and with `-`, `_` or nothing between words (`label-linear`,
/// `label_linear`, `LabelLinear`), an optional `sitk` prefix, and the names above; it is
/// written as the first name of its row.
///
/// Not every operation takes every interpolation, and each refuses the others with an error:
/// the sampling ops ([`grid_sample_3d`](crate::grid_sample_3d),
/// [`voxel_affine_sample_3d`](crate::voxel_affine_sample_3d) and what is built on them) take
/// all but `NearestExact` (their `Nearest` is the nearest voxel centre already, its ties set by
/// [`SampleOptions::rounding`]); [`interpolate_3d`](crate::interpolate_3d) takes `Nearest`,
/// `NearestExact` and `Linear`, as PyTorch's `interpolate` does.
///
/// ```
/// use medburn_ops::Interpolation;
/// assert_eq!(Interpolation::default(), Interpolation::Linear);
/// assert_eq!("label-linear".parse::<Interpolation>()?, Interpolation::LabelLinear);
/// assert_eq!("one_hot_linear".parse::<Interpolation>()?, Interpolation::LabelLinear);
/// assert_eq!("trilinear".parse::<Interpolation>()?, Interpolation::Linear);
/// assert_eq!(Interpolation::LabelLinear.to_string(), "label_linear");
/// # Ok::<(), String>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Interpolation {
    /// The nearest voxel. In the sampling ops the nearest voxel centre, ties broken by
    /// [`SampleOptions::rounding`], with no gradient to the sampling positions; in
    /// [`interpolate_3d`](crate::interpolate_3d) PyTorch's `"nearest"` rule,
    /// `floor(dst * scale)`.
    Nearest,
    /// PyTorch's `"nearest-exact"` in [`interpolate_3d`](crate::interpolate_3d):
    /// `floor((dst + 0.5) * scale)`, the nearest voxel centre. The sampling ops refuse it (their
    /// [`Nearest`](Interpolation::Nearest) is this already).
    NearestExact,
    /// Trilinear: PyTorch's `mode="bilinear"` of `grid_sample` on a 5D input, `"trilinear"` of
    /// `interpolate`, SimpleITK's `sitkLinear`.
    #[default]
    Linear,
    /// Cubic B-spline with the prefilter, as ITK's `sitkBSpline`: the sampling ops compute the
    /// coefficients first, then the kernel evaluates the spline (64 taps, mirrored at the
    /// edges).
    BSpline,
    /// For label maps (one channel of non-negative integer labels): each label's indicator is
    /// sampled linearly and every output voxel takes the label of largest weight, the lower
    /// label on ties and 0 where no label has weight (SimpleITK's `sitkLabelLinear`, TorchIO's
    /// and MONAI's one-hot resampling then arg-max). One label at a time, so memory stays at a
    /// few output volumes however many labels there are. No gradient.
    LabelLinear,
}

impl Interpolation {
    /// Every interpolation, in declaration order.
    ///
    /// ```
    /// assert_eq!(medburn_ops::Interpolation::ALL.len(), 5);
    /// ```
    pub const ALL: [Interpolation; 5] = [
        Interpolation::Nearest,
        Interpolation::NearestExact,
        Interpolation::Linear,
        Interpolation::BSpline,
        Interpolation::LabelLinear,
    ];

    /// The name it is written with (serde, `Display`, messages).
    ///
    /// ```
    /// assert_eq!(medburn_ops::Interpolation::BSpline.name(), "bspline");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Interpolation::Nearest => "nearest",
            Interpolation::NearestExact => "nearest_exact",
            Interpolation::Linear => "linear",
            Interpolation::BSpline => "bspline",
            Interpolation::LabelLinear => "label_linear",
        }
    }

    /// The kernel of the sampling ops that runs it: `None` for the two no kernel runs
    /// (`NearestExact`, `LabelLinear`, which the public functions refuse or build from linear
    /// sampling).
    pub(crate) fn kernel(self) -> Option<SamplingKernel> {
        match self {
            Interpolation::Nearest => Some(SamplingKernel::Nearest),
            Interpolation::Linear => Some(SamplingKernel::Linear),
            Interpolation::BSpline => Some(SamplingKernel::BSpline),
            Interpolation::NearestExact | Interpolation::LabelLinear => None,
        }
    }
}

impl core::fmt::Display for Interpolation {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

impl core::str::FromStr for Interpolation {
    type Err = String;

    /// Parses any name of the table in [`Interpolation`]'s documentation.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key: String = s
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .flat_map(char::to_lowercase)
            .collect();
        let key = key.strip_prefix("sitk").unwrap_or(&key);
        match key {
            "nearest" | "nearestneighbor" | "nearestneighbour" => Ok(Interpolation::Nearest),
            "nearestexact" => Ok(Interpolation::NearestExact),
            "linear" | "trilinear" | "bilinear" => Ok(Interpolation::Linear),
            "bspline" => Ok(Interpolation::BSpline),
            "labellinear" | "onehotlinear" => Ok(Interpolation::LabelLinear),
            _ => Err(format!(
                "unknown interpolation {s:?}: use nearest, linear, bspline, label_linear or \
                 nearest_exact"
            )),
        }
    }
}

impl serde::Serialize for Interpolation {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Interpolation {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The interpolations the sampling kernels run (CubeCL and Flex): [`Interpolation`] less the
/// two that are not a kernel of their own. Public only inside the crate's private modules.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SamplingKernel {
    /// One tap per axis.
    Nearest,
    /// Two taps per axis.
    #[default]
    Linear,
    /// Four taps per axis, on prefiltered coefficients.
    BSpline,
}

/// What a sampling position outside the volume reads.
///
/// ```
/// use medburn_ops::Padding;
/// assert_eq!(Padding::default(), Padding::Zeros);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Padding {
    /// Zero outside. Linear and nearest: each tap outside reads zero (PyTorch). B-spline: a
    /// position outside `[-0.5, n - 0.5)` on any axis reads zero (ITK's buffer test).
    #[default]
    Zeros,
    /// The position is clamped to the volume (PyTorch `"border"`).
    Border,
    /// The position is reflected at the edges (PyTorch `"reflection"`, about the corner
    /// voxels' centres with `align_corners`, about their outer faces without).
    Reflection,
    /// ITK's `ResampleImageFilter` with a default value of 0: a position beyond the outer voxel
    /// faces (outside `[-0.5, n - 0.5)` on any axis) reads zero; inside, it is clamped to the
    /// voxel centres as with `Border` (B-spline: evaluated unclamped, mirrored). What
    /// SimpleITK's `Resample` does at the edges, for every interpolation; medburn's
    /// physical-space transforms use it, with [`Rounding::HalfUp`] for ITK's nearest.
    Itk,
}

/// How nearest-neighbour sampling breaks a tie, a position exactly halfway between two voxel
/// centres.
///
/// ```
/// use medburn_ops::{Interpolation, Rounding, SampleOptions};
/// assert_eq!(SampleOptions::new(Interpolation::Nearest).rounding, Rounding::HalfToEven);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Rounding {
    /// To the even index: PyTorch's `nearbyint` (`grid_sample(mode="nearest")`).
    #[default]
    HalfToEven,
    /// To the higher index: ITK's `RoundHalfIntegerUp` (`sitkNearestNeighbor`).
    HalfUp,
}

/// Options shared by every sampling op.
///
/// `align_corners` has PyTorch's meaning: with `true`, normalized -1 and 1 are the centres of
/// the corner voxels; with `false` (the default, as in PyTorch), their outer faces.
///
/// ```
/// use medburn_ops::{Interpolation, Padding, SampleOptions};
/// let o = SampleOptions::new(Interpolation::Nearest).with_padding(Padding::Border);
/// assert!(!o.align_corners);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SampleOptions {
    /// Interpolation between voxel centres.
    pub interpolation: Interpolation,
    /// What positions outside the volume read.
    pub padding: Padding,
    /// How nearest sampling breaks ties (other interpolations ignore it).
    pub rounding: Rounding,
    /// PyTorch's `align_corners`.
    pub align_corners: bool,
}

impl SampleOptions {
    /// Options with the given interpolation, zero padding, ties to even and
    /// `align_corners = false`: PyTorch's `grid_sample` defaults.
    ///
    /// ```
    /// use medburn_ops::{Interpolation, SampleOptions};
    /// assert_eq!(SampleOptions::new(Interpolation::Linear), SampleOptions::default());
    /// ```
    pub fn new(interpolation: Interpolation) -> Self {
        Self {
            interpolation,
            ..Self::default()
        }
    }

    /// Sets the interpolation.
    ///
    /// ```
    /// use medburn_ops::{Interpolation, SampleOptions};
    /// let o = SampleOptions::itk(Interpolation::LabelLinear).with_interpolation(Interpolation::Linear);
    /// assert_eq!(o, SampleOptions::itk(Interpolation::Linear));
    /// ```
    pub fn with_interpolation(mut self, interpolation: Interpolation) -> Self {
        self.interpolation = interpolation;
        self
    }

    /// The kernel that runs these options. A backend reached with an interpolation no kernel
    /// runs (only by calling the public [`SamplingBackend`](crate::backend::SamplingBackend) trait
    /// directly: the public functions refuse or decompose those first) stops here, before any
    /// kernel runs, as for any other broken contract (`contract.rs`).
    pub(crate) fn kernel(&self) -> SamplingKernel {
        match self.interpolation.kernel() {
            Some(k) => k,
            None => panic!(
                "{} is not an interpolation of the sampling kernels (backend op called with \
                 options the public functions refuse)",
                self.interpolation
            ),
        }
    }

    /// Sets the padding mode.
    ///
    /// ```
    /// use medburn_ops::{Padding, SampleOptions};
    /// assert_eq!(SampleOptions::default().with_padding(Padding::Reflection).padding, Padding::Reflection);
    /// ```
    pub fn with_padding(mut self, padding: Padding) -> Self {
        self.padding = padding;
        self
    }

    /// Sets how nearest sampling breaks ties.
    ///
    /// ```
    /// use medburn_ops::{Rounding, SampleOptions};
    /// assert_eq!(SampleOptions::default().with_rounding(Rounding::HalfUp).rounding, Rounding::HalfUp);
    /// ```
    pub fn with_rounding(mut self, rounding: Rounding) -> Self {
        self.rounding = rounding;
        self
    }

    /// ITK's conventions, what SimpleITK's `Resample` does: [`Padding::Itk`] at the edges and
    /// [`Rounding::HalfUp`] for nearest.
    ///
    /// ```
    /// use medburn_ops::{Interpolation, Padding, Rounding, SampleOptions};
    /// let o = SampleOptions::itk(Interpolation::Nearest);
    /// assert_eq!((o.padding, o.rounding), (Padding::Itk, Rounding::HalfUp));
    /// ```
    pub fn itk(interpolation: Interpolation) -> Self {
        Self::new(interpolation)
            .with_padding(Padding::Itk)
            .with_rounding(Rounding::HalfUp)
    }

    /// Sets `align_corners`.
    ///
    /// ```
    /// use medburn_ops::SampleOptions;
    /// assert!(SampleOptions::default().with_align_corners(true).align_corners);
    /// ```
    pub fn with_align_corners(mut self, align_corners: bool) -> Self {
        self.align_corners = align_corners;
        self
    }
}
