//! Forward sampling: axis-aligned tables, the general path, and the interior fast path of
//! nearest and linear rows.

use rayon::prelude::*;

use super::super::taps::{
    BSpline, BorderPad, ItkPad, Kernel, Linear, Nearest, PadRule, Real, ReflectionPad, Tap,
    ZerosPad,
};
use super::{interpolate, point_taps, Dims, Positions};
use crate::options::{Interpolation, Padding, SampleOptions};

/// Calls `$f::<T, P, K, Kernel, Pad>` for the options' interpolation and padding.
macro_rules! with_kernel {
    ($o:expr, $f:ident :: <$t:ty, $p:ty> ($($arg:expr),*)) => {
        match $o.padding {
            Padding::Zeros => with_kernel!(@interp $o, ZerosPad, $f::<$t, $p>($($arg),*)),
            Padding::Border => with_kernel!(@interp $o, BorderPad, $f::<$t, $p>($($arg),*)),
            Padding::Reflection => with_kernel!(@interp $o, ReflectionPad, $f::<$t, $p>($($arg),*)),
            Padding::Itk => with_kernel!(@interp $o, ItkPad, $f::<$t, $p>($($arg),*)),
        }
    };
    (@interp $o:expr, $pad:ty, $f:ident :: <$t:ty, $p:ty> ($($arg:expr),*)) => {
        match $o.interpolation {
            Interpolation::Nearest => $f::<$t, $p, 1, Nearest, $pad>($($arg),*),
            Interpolation::Linear => $f::<$t, $p, 2, Linear, $pad>($($arg),*),
            Interpolation::BSpline => $f::<$t, $p, 4, BSpline, $pad>($($arg),*),
        }
    };
}

pub(super) use with_kernel;

/// Taps of every output column, row and slice of one sample, for axis-aligned sources: the
/// forward pass then only gathers and sums.
struct AxisTables<T, const K: usize> {
    x: Vec<[Tap<T>; K]>,
    y: Vec<[Tap<T>; K]>,
    z: Vec<[Tap<T>; K]>,
}

fn axis_tables<T: Real, const K: usize, Kn: Kernel<K>, Pd: PadRule>(
    map: [(T, T); 3],
    dims: Dims,
    o: SampleOptions,
) -> AxisTables<T, K> {
    let [_, _, d, h, w] = dims.input;
    let [od, oh, ow] = dims.output;
    let axis = |(s, off): (T, T), len: usize, size: usize, stride: usize| -> Vec<[Tap<T>; K]> {
        (0..len)
            .map(|i| {
                Kn::taps(
                    s * T::from_f64(i as f64) + off,
                    size,
                    stride,
                    Pd::PADDING,
                    o.align_corners,
                )
            })
            .collect()
    };
    AxisTables {
        x: axis(map[0], ow, w, 1),
        y: axis(map[1], oh, h, w),
        z: axis(map[2], od, d, h * w),
    }
}

/// Samples `input` (`[N, C, D, H, W]`, contiguous) at `positions`: `[N, C, Do, Ho, Wo]`.
pub(crate) fn forward<T: Real, P: Positions<T>>(
    input: &[T],
    positions: &P,
    dims: Dims,
    o: SampleOptions,
) -> Vec<T> {
    with_kernel!(o, forward_k::<T, P>(input, positions, dims, o))
}

fn forward_k<T: Real, P: Positions<T>, const K: usize, Kn: Kernel<K>, Pd: PadRule>(
    input: &[T],
    positions: &P,
    dims: Dims,
    o: SampleOptions,
) -> Vec<T> {
    let [n_batch, channels, ..] = dims.input;
    let [od, oh, ow] = dims.output;
    let voxels = dims.voxels();
    let mut output = vec![T::ZERO; n_batch * channels * dims.points()];
    if output.is_empty() {
        return output;
    }
    let tables: Vec<Option<AxisTables<T, K>>> = (0..n_batch)
        .map(|n| {
            positions
                .axis_aligned(n)
                .map(|m| axis_tables::<T, K, Kn, Pd>(m, dims, o))
        })
        .collect();
    // Rows of the output, `((n * C + c) * Do + z) * Ho + y`.
    output
        .par_chunks_mut(ow)
        .enumerate()
        .for_each(|(row, out)| {
            let y = row % oh;
            let z = (row / oh) % od;
            let nc = row / (oh * od);
            let n = nc / channels;
            let volume = &input[nc * voxels..(nc + 1) * voxels];
            match &tables[n] {
                Some(t) => {
                    // The (z, y) taps are the row's: combine them once.
                    let zy: [[(usize, T); K]; K] = core::array::from_fn(|a| {
                        core::array::from_fn(|b| {
                            let (tz, ty) = (t.z[z][a], t.y[y][b]);
                            (tz.offset + ty.offset, tz.w * ty.w)
                        })
                    });
                    for (tx, v) in t.x.iter().zip(out.iter_mut()) {
                        let mut acc = T::ZERO;
                        for row in &zy {
                            for &(off, w) in row {
                                let mut s = T::ZERO;
                                for c in tx {
                                    s += c.w * volume[off + c.offset];
                                }
                                acc += w * s;
                            }
                        }
                        *v = acc;
                    }
                }
                None => {
                    // Where a row is linear and lies well inside the volume, nearest and linear
                    // need no padding logic: a plain gather loop; the ends take the general path.
                    let (lo, hi, line) = match (K <= 2, positions.row(n, z, y)) {
                        (true, Some((base, step))) => {
                            let (lo, hi) = inside_run(base, step, dims.input, ow);
                            (lo, hi, Some((base, step)))
                        }
                        _ => (0, 0, None),
                    };
                    let general = |x: usize| {
                        let t = point_taps::<T, K, Kn, Pd>(positions.at(n, z, y, x), dims.input, o);
                        interpolate(volume, &t)
                    };
                    for (x, v) in out[..lo].iter_mut().enumerate() {
                        *v = general(x);
                    }
                    if let Some((base, step)) = line {
                        let (base, step) = (base.map(|b| b.to_f64()), step.map(|s| s.to_f64()));
                        for (x, v) in out[lo..hi].iter_mut().enumerate() {
                            *v = interior::<T, K, Pd>(volume, base, step, lo + x, dims.input);
                        }
                    }
                    for (x, v) in out[hi..].iter_mut().enumerate() {
                        *v = general(hi + x);
                    }
                }
            }
        });
    output
}

/// The run `[lo, hi)` of a row whose positions `base + x * step` lie in `[m, n - 1 - m]` on
/// every axis, with a margin `m` of 1e-3 voxel so that rounding cannot step outside.
fn inside_run<T: Real>(
    base: [T; 3],
    step: [T; 3],
    input: [usize; 5],
    len: usize,
) -> (usize, usize) {
    let sizes = [input[4], input[3], input[2]];
    let margin = 1e-3;
    let (mut lo, mut hi) = (0.0f64, len as f64);
    for a in 0..3 {
        let (b, s) = (base[a].to_f64(), step[a].to_f64());
        let (min, max) = (margin, sizes[a] as f64 - 1.0 - margin);
        if max < min {
            return (0, 0);
        }
        if s == 0.0 {
            if !(b >= min && b <= max) {
                return (0, 0);
            }
            continue;
        }
        let (x0, x1) = ((min - b) / s, (max - b) / s);
        let (x0, x1) = if s > 0.0 { (x0, x1) } else { (x1, x0) };
        lo = lo.max(x0.ceil());
        hi = hi.min(x1.floor() + 1.0);
    }
    // f64::max and min skip NaN, so lo and hi are numbers here.
    if lo >= hi {
        return (0, 0);
    }
    (lo as usize, hi as usize)
}

/// Nearest (`K = 1`) or linear (`K = 2`) at a point known to be inside the volume.
///
/// Positions are formed in f64, like the bounds of [`inside_run`]: in f32, from 2^14 voxels
/// along an axis, rounding exceeds the run's 1e-3 voxel margin. Indices are clamped as well, so
/// no rounding can index past the volume.
#[inline(always)]
fn interior<T: Real, const K: usize, Pd: PadRule>(
    volume: &[T],
    base: [f64; 3],
    step: [f64; 3],
    x: usize,
    input: [usize; 5],
) -> T {
    let [_, _, d, h, w] = input;
    let last = [w - 1, h - 1, d - 1];
    let fx = x as f64;
    let p = [0, 1, 2].map(|a| base[a] + step[a] * fx);
    if K == 1 {
        // Inside the volume the padding rules agree but for rounding at exact halves.
        // Positions are non-negative here, so truncation is floor: `floor` and
        // `round_ties_even` are library calls on x86-64 without SSE4.1.
        let i = [0, 1, 2].map(|a| {
            let c = p[a].max(0.0);
            let r = if Pd::PADDING == Padding::Itk {
                (c + 0.5) as usize
            } else {
                let f = c as usize;
                let frac = c - f as f64;
                if frac > 0.5 || (frac == 0.5 && f % 2 == 1) {
                    f + 1
                } else {
                    f
                }
            };
            r.min(last[a])
        });
        return volume[(i[2] * h + i[1]) * w + i[0]];
    }
    // The run keeps at least two voxels on every axis (its margin excludes size 1).
    let i = [0, 1, 2].map(|a| (p[a].max(0.0) as usize).min(last[a] - 1));
    let t = [0, 1, 2].map(|a| T::from_f64((p[a] - i[a] as f64).clamp(0.0, 1.0)));
    let o = (i[2] * h + i[1]) * w + i[0];
    let (v000, v001) = (volume[o], volume[o + 1]);
    let (v010, v011) = (volume[o + w], volume[o + w + 1]);
    let o2 = o + h * w;
    let (v100, v101) = (volume[o2], volume[o2 + 1]);
    let (v110, v111) = (volume[o2 + w], volume[o2 + w + 1]);
    let lerp = |a: T, b: T, t: T| a + (b - a) * t;
    let c00 = lerp(v000, v001, t[0]);
    let c01 = lerp(v010, v011, t[0]);
    let c10 = lerp(v100, v101, t[0]);
    let c11 = lerp(v110, v111, t[0]);
    lerp(lerp(c00, c01, t[1]), lerp(c10, c11, t[1]), t[2])
}
