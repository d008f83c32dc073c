//! How a sampling op interpolates and what it does outside the volume.

/// Interpolation between voxel centres.
///
/// ```
/// use medburn_ops::Interpolation;
/// assert_eq!(Interpolation::default(), Interpolation::Linear);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Interpolation {
    /// The nearest voxel (ties round to even, as PyTorch's `nearbyint`). No gradient flows to
    /// the sampling positions.
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
    /// voxel centres as with `Border` (B-spline: evaluated unclamped, mirrored); nearest rounds
    /// half up. What SimpleITK's `Resample` does, for every interpolation; medburn's
    /// physical-space transforms use it.
    Itk,
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
    /// PyTorch's `align_corners`.
    pub align_corners: bool,
}

impl SampleOptions {
    /// Options with the given interpolation, zero padding and `align_corners = false`.
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
