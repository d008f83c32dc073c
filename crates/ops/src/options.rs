//! How a sampling op interpolates and what it does outside the volume.

/// Interpolation between voxel centres.
///
/// ```
/// use medburn_ops::Interpolation;
/// assert_eq!(Interpolation::default(), Interpolation::Linear);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Interpolation {
    /// The nearest voxel, ties broken by [`SampleOptions::rounding`]. No gradient flows to the
    /// sampling positions.
    Nearest,
    /// Trilinear: PyTorch's `mode="bilinear"` on a 5D input.
    #[default]
    Linear,
    /// Cubic B-spline with the prefilter, as ITK's `sitkBSpline`: the public functions compute
    /// the coefficients first, then the kernel evaluates the spline (64 taps, mirrored at the
    /// edges).
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
