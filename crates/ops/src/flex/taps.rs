//! One-dimensional interpolation taps: where a position reads along one axis, and with which
//! weight. A 3D sample is the tensor product of three such tap lists.
//!
//! The padding rules follow PyTorch's `grid_sampler_compute_source_index_set_grad`
//! (reflect, then clip; the clip and the reflection carry a gradient multiplier), so values and
//! gradients match `torch.nn.functional.grid_sample`.

use crate::options::{Padding, Rounding};

/// The float types the CPU kernels run in.
pub(crate) trait Real:
    Copy
    + Send
    + Sync
    + PartialOrd
    + bytemuck::Pod
    + core::ops::Add<Output = Self>
    + core::ops::Sub<Output = Self>
    + core::ops::Mul<Output = Self>
    + core::ops::Div<Output = Self>
    + core::ops::Neg<Output = Self>
    + core::ops::AddAssign
    + 'static
{
    const ZERO: Self;
    const ONE: Self;
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
    fn floor(self) -> Self;
    /// Saturating: NaN becomes 0, infinities the extreme integers (Rust `as` semantics).
    fn to_i64(self) -> i64;
    /// Saturating, as [`Self::to_i64`]; vectorizes where `to_i64` of f32 does not.
    fn to_i32(self) -> i32;
    fn fmod(self, m: Self) -> Self;
    fn from_i64(i: i64) -> Self;
    fn from_i32(i: i32) -> Self;
    fn is_nan(self) -> bool;
    /// `floor` as an integer, by truncation and a correction: `f32::floor` is a library call
    /// on x86-64 without SSE4.1, and this runs for every tap. Saturating like `to_i64`.
    #[inline(always)]
    fn floor_i64(self) -> i64 {
        let i = self.to_i64();
        if Self::from_i64(i) > self {
            i - 1
        } else {
            i
        }
    }
}

macro_rules! impl_real {
    ($t:ty) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn floor(self) -> Self {
                <$t>::floor(self)
            }
            #[inline(always)]
            fn to_i64(self) -> i64 {
                self as i64
            }
            #[inline(always)]
            fn to_i32(self) -> i32 {
                self as i32
            }
            #[inline(always)]
            fn fmod(self, m: Self) -> Self {
                self % m
            }
            #[inline(always)]
            fn from_i64(i: i64) -> Self {
                i as $t
            }
            #[inline(always)]
            fn from_i32(i: i32) -> Self {
                i as $t
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
        }
    };
}
impl_real!(f32);
impl_real!(f64);

/// The offset of a tap outside the volume: beyond every volume (the sum of three stays below
/// `usize::MAX`), so [`read`] gives 0 for it and a scatter skips it. Reading voxel 0 with weight
/// 0 instead would turn a NaN or infinite voxel 0 into NaN at every point outside the volume;
/// PyTorch and ITK read nothing there.
pub(crate) const OUTSIDE: usize = usize::MAX / 4;

/// The voxel at element offset `at` (a sum of tap offsets), 0 for a tap outside the volume.
#[inline(always)]
pub(crate) fn read<T: Real>(volume: &[T], at: usize) -> T {
    volume.get(at).copied().unwrap_or(T::ZERO)
}

/// One tap: an element offset along the axis (index times stride), its weight, and the
/// derivative of the weight with respect to the position. A tap outside the volume (zero
/// padding) has weight and derivative 0 and offset [`OUTSIDE`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tap<T> {
    pub offset: usize,
    pub w: T,
    pub dw: T,
}

impl<T: Real> Tap<T> {
    const NONE: Self = Tap {
        offset: OUTSIDE,
        w: T::ZERO,
        dw: T::ZERO,
    };

    #[inline(always)]
    fn at(index: i64, size: usize, stride: usize, w: T, dw: T) -> Self {
        if index >= 0 && (index as usize) < size {
            Tap {
                offset: index as usize * stride,
                w,
                dw,
            }
        } else {
            Self::NONE
        }
    }
}

/// Clamps to `[0, size - 1]`; the gradient multiplier is 0 where clamped (PyTorch's
/// `clip_coordinates_set_grad`, including its `<=` at 0).
#[inline(always)]
fn clip<T: Real>(x: T, size: usize) -> (T, T) {
    let max = T::from_f64(size as f64 - 1.0);
    if x <= T::ZERO {
        (T::ZERO, T::ZERO)
    } else if x >= max {
        (max, T::ZERO)
    } else {
        (x, T::ONE)
    }
}

/// Reflects into `[twice_low / 2, twice_high / 2]` (PyTorch's `reflect_coordinates_set_grad`).
#[inline(always)]
fn reflect<T: Real>(x: T, twice_low: i64, twice_high: i64) -> (T, T) {
    if twice_low == twice_high {
        return (T::ZERO, T::ZERO);
    }
    let min = T::from_f64(twice_low as f64 / 2.0);
    let span = T::from_f64((twice_high - twice_low) as f64 / 2.0);
    let mut v = x - min;
    let mut mult = T::ONE;
    if v < T::ZERO {
        mult = -T::ONE;
        v = -v;
    }
    let extra = v.fmod(span);
    let flips = (v / span).floor().to_i64();
    if flips % 2 == 0 {
        (extra + min, mult)
    } else {
        (span - extra + min, -mult)
    }
}

/// Applies the padding rule to a raw voxel position: returns the position to interpolate at
/// and `d(position)/d(raw)`.
#[inline(always)]
pub(crate) fn pad_position<T: Real>(x: T, size: usize, padding: Padding, align: bool) -> (T, T) {
    match padding {
        Padding::Zeros => (x, T::ONE),
        Padding::Border | Padding::Itk => clip(x, size),
        Padding::Reflection => {
            let n = size as i64;
            let (r, g) = if align {
                reflect(x, 0, 2 * (n - 1))
            } else {
                reflect(x, -1, 2 * n - 1)
            };
            let (c, g2) = clip(r, size);
            (c, g * g2)
        }
    }
}

/// A padding rule as a type, so that each kernel is compiled for one rule (the checks fold
/// away instead of branching per tap).
pub(crate) trait PadRule: Sync {
    const PADDING: Padding;
}

macro_rules! pad_rule {
    ($name:ident, $p:expr) => {
        pub(crate) struct $name;
        impl PadRule for $name {
            const PADDING: Padding = $p;
        }
    };
}
pad_rule!(ZerosPad, Padding::Zeros);
pad_rule!(BorderPad, Padding::Border);
pad_rule!(ReflectionPad, Padding::Reflection);
pad_rule!(ItkPad, Padding::Itk);

/// Interpolation kernels with `K` taps per axis.
/// ITK's buffer test: whether `x` lies within the outer voxel faces `[-0.5, n - 0.5)`.
#[inline(always)]
fn inside_faces<T: Real>(x: T, size: usize) -> bool {
    let half = T::from_f64(0.5);
    x >= -half && x < T::from_f64(size as f64) - half
}

pub(crate) trait Kernel<const K: usize>: Sync {
    /// Taps for a raw voxel position along an axis of `size` voxels.
    fn taps<T: Real>(
        x: T,
        size: usize,
        stride: usize,
        padding: Padding,
        rounding: Rounding,
        align: bool,
    ) -> [Tap<T>; K];
}

pub(crate) struct Nearest;
pub(crate) struct Linear;
pub(crate) struct BSpline;

impl Kernel<1> for Nearest {
    #[inline(always)]
    fn taps<T: Real>(
        x: T,
        size: usize,
        stride: usize,
        padding: Padding,
        rounding: Rounding,
        align: bool,
    ) -> [Tap<T>; 1] {
        if padding == Padding::Itk && !inside_faces(x, size) {
            return [Tap::NONE];
        }
        let (x, _) = pad_position(x, size, padding, align);
        [Tap::at(
            nearest_index(x, rounding),
            size,
            stride,
            T::ONE,
            T::ZERO,
        )]
    }
}

/// The nearest voxel index of a position: PyTorch rounds half to even (nearbyint), ITK half up
/// (RoundHalfIntegerUp).
#[inline(always)]
pub(crate) fn nearest_index<T: Real>(x: T, rounding: Rounding) -> i64 {
    if rounding == Rounding::HalfUp {
        (x + T::from_f64(0.5)).floor_i64()
    } else {
        let f = x.floor_i64();
        let frac = x - T::from_i64(f);
        let half = T::from_f64(0.5);
        if frac > half || (frac == half && f % 2 != 0) {
            f + 1
        } else {
            f
        }
    }
}

impl Kernel<2> for Linear {
    #[inline(always)]
    fn taps<T: Real>(
        x: T,
        size: usize,
        stride: usize,
        padding: Padding,
        _rounding: Rounding,
        align: bool,
    ) -> [Tap<T>; 2] {
        if padding == Padding::Itk && !inside_faces(x, size) {
            return [Tap::NONE; 2];
        }
        let (x, g) = pad_position(x, size, padding, align);
        let i0 = x.floor_i64();
        let t = x - T::from_i64(i0);
        [
            Tap::at(i0, size, stride, T::ONE - t, -g),
            Tap::at(i0 + 1, size, stride, t, g),
        ]
    }
}

/// Mirror boundary for B-spline coefficients (ITK's `BSplineInterpolateImageFunction`):
/// index -1 reads 1, index n reads n - 2.
#[inline(always)]
pub(crate) fn mirror(i: i64, size: usize) -> usize {
    if size == 1 {
        return 0;
    }
    let period = 2 * (size as i64 - 1);
    let i = i.rem_euclid(period);
    (if i >= size as i64 { period - i } else { i }) as usize
}

/// Cubic B-spline weights and their derivatives at fraction `t` for taps -1, 0, 1, 2.
#[inline(always)]
pub(crate) fn bspline_weights<T: Real>(t: T) -> ([T; 4], [T; 4]) {
    let c = |v: f64| T::from_f64(v);
    let one = T::ONE;
    let s = one - t;
    let t2 = t * t;
    let t3 = t2 * t;
    let w = [
        s * s * s / c(6.0),
        (c(3.0) * t3 - c(6.0) * t2 + c(4.0)) / c(6.0),
        (c(-3.0) * t3 + c(3.0) * t2 + c(3.0) * t + one) / c(6.0),
        t3 / c(6.0),
    ];
    let dw = [
        -(s * s) / c(2.0),
        c(1.5) * t2 - c(2.0) * t,
        (c(-3.0) * t2 + c(2.0) * t + one) / c(2.0),
        t2 / c(2.0),
    ];
    (w, dw)
}

impl Kernel<4> for BSpline {
    #[inline(always)]
    fn taps<T: Real>(
        x: T,
        size: usize,
        stride: usize,
        padding: Padding,
        _rounding: Rounding,
        align: bool,
    ) -> [Tap<T>; 4] {
        // ITK's buffer test: a position beyond the outer voxel faces reads the default value.
        if matches!(padding, Padding::Zeros | Padding::Itk) && !inside_faces(x, size) {
            return [Tap::NONE; 4];
        }
        // ITK evaluates the spline where the point is (mirrored coefficients), unclamped.
        let padding = if padding == Padding::Itk {
            Padding::Zeros
        } else {
            padding
        };
        let (x, g) = pad_position(x, size, padding, align);
        let i0 = x.floor_i64();
        let (w, dw) = bspline_weights(x - T::from_i64(i0));
        core::array::from_fn(|k| Tap {
            offset: mirror(i0 - 1 + k as i64, size) * stride,
            w: w[k],
            dw: dw[k] * g,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflection_matches_pytorch_rules() {
        // align_corners = false reflects about -0.5 and n - 0.5, then clips to [0, n - 1].
        let (x, g) = pad_position(-0.75f64, 4, Padding::Reflection, false);
        assert!((x - 0.0).abs() < 1e-12 && g == 0.0, "{x} {g}");
        let (x, g) = pad_position(4.5f64, 4, Padding::Reflection, false);
        assert!((x - 2.5).abs() < 1e-12 && g == -1.0, "{x} {g}");
        // Reflected onto the last centre, then clipped there: no gradient (PyTorch's `>=`).
        let (x, g) = pad_position(4.0f64, 4, Padding::Reflection, false);
        assert!((x - 3.0).abs() < 1e-12 && g == 0.0, "{x} {g}");
        let (x, g) = pad_position(-1.0f64, 4, Padding::Reflection, true);
        assert!((x - 1.0).abs() < 1e-12 && g == -1.0, "{x} {g}");
        let (x, g) = pad_position(7.5f64, 4, Padding::Reflection, true);
        assert!((x - 1.5).abs() < 1e-12 && g == 1.0, "{x} {g}");
    }

    #[test]
    fn mirror_indices() {
        let m: Vec<usize> = (-3..8).map(|i| mirror(i, 4)).collect();
        assert_eq!(m, vec![3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1]);
        assert_eq!(mirror(-5, 1), 0);
    }

    #[test]
    fn bspline_weights_partition_unity_and_derivatives() {
        for t in [0.0, 0.25, 0.5, 0.9] {
            let (w, dw) = bspline_weights(t);
            assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            assert!(dw.iter().sum::<f64>().abs() < 1e-12);
            let h = 1e-6;
            let (wp, _) = bspline_weights(t + h);
            let (wm, _) = bspline_weights(t - h);
            for k in 0..4 {
                assert!(((wp[k] - wm[k]) / (2.0 * h) - dw[k]).abs() < 1e-7);
            }
        }
    }
}
