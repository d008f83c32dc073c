//! The CPU sampling core: forward, gradient to the input (scatter) and gradient to the
//! sampling positions, for both position sources (a normalized grid, a voxel affine).
//!
//! Work is split by output rows `(n, z, y)`: the forward pass and the position gradient write
//! disjoint rows; the input gradient scatters, so each worker accumulates into its own copy of
//! one sample's gradient and the copies are summed (no atomics, deterministic per thread count).
//!
//! One concept a file: `positions` (where each output point samples), `forward`, `backward`
//! (input, grid and matrix gradients) and `scatter` (how the input gradient is split across
//! threads within a memory budget).

mod backward;
mod block;
mod forward;
mod gather;
mod interior;
mod positions;
mod scatter;

pub(crate) use backward::{
    backward_grid, backward_grid_and_input, backward_input, backward_matrix,
};
pub(crate) use forward::forward;
pub(crate) use positions::{AffinePositions, GridPositions, Positions};

use super::taps::{read, Kernel, PadRule, Real, Tap};
use crate::options::{Padding, SampleOptions};

/// Input volume and output grid sizes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dims {
    /// `[N, C, D, H, W]` of the input.
    pub input: [usize; 5],
    /// `[D, H, W]` of the output.
    pub output: [usize; 3],
}

impl Dims {
    fn voxels(&self) -> usize {
        self.input[2] * self.input[3] * self.input[4]
    }
    fn points(&self) -> usize {
        self.output.iter().product()
    }
}

/// The taps of one output point on the three axes.
pub(super) struct PointTaps<T, const K: usize> {
    x: [Tap<T>; K],
    y: [Tap<T>; K],
    z: [Tap<T>; K],
}

#[inline(always)]
pub(super) fn point_taps<T: Real, const K: usize, Kn: Kernel<K>, Pd: PadRule>(
    p: [T; 3],
    input: [usize; 5],
    o: SampleOptions,
) -> PointTaps<T, K> {
    let [_, _, d, h, w] = input;
    if K == 2 {
        if let Some(t) = interior_linear_taps(p, input) {
            return t;
        }
    }
    PointTaps {
        x: Kn::taps(p[0], w, 1, Pd::PADDING, o.rounding, o.align_corners),
        y: Kn::taps(p[1], h, w, Pd::PADDING, o.rounding, o.align_corners),
        z: Kn::taps(p[2], d, h * w, Pd::PADDING, o.rounding, o.align_corners),
    }
}

/// Whether a sample at raw position `p` (x, y, z) reads nothing: a linear sample (`K = 2`)
/// under zero padding whose two taps lie outside the volume on some axis (`p < -1` or
/// `p >= n`), so its value and every gradient are zero, as the general taps would find them.
/// Other kernels and paddings are never skipped; NaN is not beyond (the general path knows
/// its rule).
#[inline(always)]
pub(super) fn beyond_zero_padding<T: Real, const K: usize, Pd: PadRule>(
    p: [T; 3],
    input: [usize; 5],
) -> bool {
    if K != 2 || Pd::PADDING != Padding::Zeros {
        return false;
    }
    let [_, _, d, h, w] = input;
    [w, h, d]
        .iter()
        .zip(p)
        .any(|(&n, x)| x < -T::ONE || x >= T::from_f64(n as f64))
}

/// The lower index and fraction of a position strictly inside an axis of `size` voxels
/// (`0 < x < size - 1`), where every padding rule leaves a linear sample's position as it is
/// with a gradient multiplier of 1; `None` elsewhere, NaN and axes of one voxel included.
#[inline(always)]
pub(super) fn interior_axis<T: Real>(x: T, size: usize) -> Option<(usize, T)> {
    if !(x > T::ZERO && x < T::from_f64(size as f64 - 1.0)) {
        return None;
    }
    // Positive: truncation is floor.
    let i = x.to_i64();
    Some((i as usize, x - T::from_i64(i)))
}

/// Linear taps of a point strictly inside the volume on every axis ([`interior_axis`]): the
/// taps are `floor(p)` and `floor(p) + 1` with weights `1 - t` and `t`, exactly what
/// [`Kernel::taps`] computes, without its padding logic and bounds tests. Called with `K = 2`.
#[inline(always)]
fn interior_linear_taps<T: Real, const K: usize>(
    p: [T; 3],
    input: [usize; 5],
) -> Option<PointTaps<T, K>> {
    let [_, _, d, h, w] = input;
    let axis = |x: T, size: usize, stride: usize| -> Option<[Tap<T>; K]> {
        let (i, t) = interior_axis(x, size)?;
        let base = i * stride;
        Some(core::array::from_fn(|k| {
            if k == 0 {
                Tap {
                    offset: base,
                    w: T::ONE - t,
                    dw: -T::ONE,
                }
            } else {
                Tap {
                    offset: base + stride,
                    w: t,
                    dw: T::ONE,
                }
            }
        }))
    };
    Some(PointTaps {
        x: axis(p[0], w, 1)?,
        y: axis(p[1], h, w)?,
        z: axis(p[2], d, h * w)?,
    })
}

#[inline(always)]
pub(super) fn interpolate<T: Real, const K: usize>(volume: &[T], t: &PointTaps<T, K>) -> T {
    let mut acc = T::ZERO;
    for a in &t.z {
        for b in &t.y {
            let wab = a.w * b.w;
            let off = a.offset + b.offset;
            for c in &t.x {
                acc += wab * c.w * read(volume, off + c.offset);
            }
        }
    }
    acc
}

/// `d(value)/d(x, y, z)` at one point of one channel: per `(z, y)` tap pair, the x-sums of
/// `w * v` and `dw * v` are shared by the three components.
#[inline(always)]
pub(super) fn value_gradient<T: Real, const K: usize>(volume: &[T], t: &PointTaps<T, K>) -> [T; 3] {
    let mut g = [T::ZERO; 3];
    for a in &t.z {
        for b in &t.y {
            let off = a.offset + b.offset;
            let (mut s, mut sd) = (T::ZERO, T::ZERO);
            for c in &t.x {
                let v = read(volume, off + c.offset);
                s += c.w * v;
                sd += c.dw * v;
            }
            g[0] += a.w * b.w * sd;
            g[1] += a.w * b.dw * s;
            g[2] += a.dw * b.w * s;
        }
    }
    g
}
