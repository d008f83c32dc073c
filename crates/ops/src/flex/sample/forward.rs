//! Forward sampling: axis-aligned tables, the general path, and the interior fast path of
//! nearest and linear rows.

use std::mem::MaybeUninit;

use super::super::buffer::{par_written, write_filled};
use super::super::isa::Isa;
use super::super::taps::{
    nearest_index, read, BSpline, BorderPad, ItkPad, Kernel, Linear, Nearest, PadRule, Real,
    ReflectionPad, Tap, ZerosPad,
};
use super::block::{Corners, LANES};
use super::{beyond_zero_padding, gather, interpolate, point_taps, Dims, Positions};
use crate::options::{Padding, Rounding, SampleOptions};

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
        match $o.kernel() {
            $crate::options::SamplingKernel::Nearest => $f::<$t, $p, 1, Nearest, $pad>($($arg),*),
            $crate::options::SamplingKernel::Linear => $f::<$t, $p, 2, Linear, $pad>($($arg),*),
            $crate::options::SamplingKernel::BSpline => $f::<$t, $p, 4, BSpline, $pad>($($arg),*),
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
                    o.rounding,
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
    let len = n_batch * channels * dims.points();
    if len == 0 {
        return Vec::new();
    }
    let tables: Vec<Option<AxisTables<T, K>>> = (0..n_batch)
        .map(|n| {
            positions
                .axis_aligned(n)
                .map(|m| axis_tables::<T, K, Kn, Pd>(m, dims, o))
        })
        .collect();
    let isa = Isa::detect();
    // Rows of the output, `((n * C + c) * Do + z) * Ho + y`: each writes every value of `out`.
    // Paths that produce plain slices write into `staged` (a row's length), then copy.
    let fill_row = |row: usize, out: &mut [MaybeUninit<T>], staged: &mut [T]| {
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
                                s += c.w * read(volume, off + c.offset);
                            }
                            acc += w * s;
                        }
                    }
                    v.write(acc);
                }
            }
            None => {
                // Where a row is linear and lies well inside the volume, nearest and linear
                // need no padding logic: a plain gather loop. Where it lies well outside,
                // zero and ITK padding read 0 whatever the kernel. The band between takes
                // the general path.
                let line = positions.row(n, z, y);
                let zero_outside = matches!(Pd::PADDING, Padding::Zeros | Padding::Itk);
                let (start, end) = match line {
                    Some((base, step)) if zero_outside => {
                        within_run(base, step, dims.input, ow, SUPPORT_MARGIN)
                    }
                    _ => (0, ow),
                };
                let (lo, hi) = match line {
                    // Non-finite positions take the general path, which knows their rule.
                    Some((base, step))
                        if K <= 2 && base.iter().chain(&step).all(|v| v.to_f64().is_finite()) =>
                    {
                        let margin = interior_margin::<K>(Pd::PADDING, o.align_corners, dims.input);
                        let (lo, hi) = within_run(base, step, dims.input, ow, margin);
                        let lo = lo.clamp(start, end);
                        (lo, hi.clamp(lo, end))
                    }
                    _ => (start, start),
                };
                let general = |x: usize| {
                    let p = positions.at(n, z, y, x);
                    if beyond_zero_padding::<T, K, Pd>(p, dims.input) {
                        return T::ZERO;
                    }
                    interpolate(volume, &point_taps::<T, K, Kn, Pd>(p, dims.input, o))
                };
                if line.is_none() && K == 2 {
                    // A grid: blocks of points strictly inside take the block loop.
                    let at = |x0: usize| positions.block(n, z, y, x0);
                    grid_linear_run(isa, volume, &at, dims.input, staged, &general);
                    out.write_copy_of_slice(staged);
                    return;
                }
                if line.is_none() && K == 1 {
                    let at = |x: usize| positions.at(n, z, y, x);
                    grid_nearest_row(volume, &at, dims.input, staged, &general, o.rounding);
                    out.write_copy_of_slice(staged);
                    return;
                }
                write_filled(&mut out[..start], T::ZERO);
                write_filled(&mut out[end..], T::ZERO);
                for (x, v) in out.iter_mut().enumerate().take(lo).skip(start) {
                    v.write(general(x));
                }
                if let (Some((base, step)), true) = (line, lo < hi) {
                    let row = Row {
                        base: base.map(|b| b.to_f64()),
                        step: step.map(|s| s.to_f64()),
                        input: dims.input,
                    };
                    let run = &mut out[lo..hi];
                    interior_run::<T, K>(isa, volume, &row, lo, run, staged, o.rounding);
                }
                for (x, v) in out.iter_mut().enumerate().take(end).skip(hi.max(lo)) {
                    v.write(general(x));
                }
            }
        }
    };
    // The output is not zeroed first (a pass over memory as large as the output, a fifth of
    // a linear rotation): every row writes each of its values once. The gathers of an affine
    // row's interior write the output itself; what makes plain slices goes through a staging
    // row that stays in L1 and is copied (`memcpy`, not a loop of writes: the staging row and
    // the output often lie at the same offset modulo 4 KiB, where a loop's loads wait on its
    // stores).
    let rows_per_piece = (PIECE_VALUES / ow).max(1);
    let fill = |piece: usize, o: &mut [MaybeUninit<T>]| {
        let mut staged = vec![T::ZERO; ow];
        for (r, o) in o.chunks_mut(ow).enumerate() {
            fill_row(piece * rows_per_piece + r, o, &mut staged);
        }
    };
    // SAFETY: `len` is a whole number of rows of `ow` values, so every piece is whole rows,
    // and `fill_row` writes all `ow` values of its row on every path: the tables path each
    // value; the grid paths a whole staging row, copied; the affine path zeros outside
    // `[start, end)`, the general path in `[start, lo)` and `[hi, end)`, and the interior run
    // `[lo, hi)` (`interior_run` writes all of its values).
    unsafe { par_written(len, rows_per_piece * ow, fill) }
}

/// Values of the output made per task of the forward (whole rows of it): 16 KiB of float32.
const PIECE_VALUES: usize = 4096;

/// How far inside the volume, in voxels, the interior run keeps every position where its rule
/// holds only inside: rounding cannot step outside.
const INSIDE_MARGIN: f64 = 1e-3;

/// How far beyond the outermost voxel centres (negative: inside them) the interior run's
/// formula, clamped indices and fractions, gives what the padding rule gives, less
/// [`INSIDE_MARGIN`] for positions formed in the input's type.
/// - Nearest, every rule, within half a voxel: the nearest index of a position in
///   `(-0.5, n - 0.5)` is its clamp's (reflection about -0.5 or 0 moves no such point to
///   another voxel).
/// - Linear: border clamps everywhere as the run does; ITK clamps inside the outer voxel faces;
///   zero padding and reflection blend with a zero or a mirrored neighbour outside the centres.
///   The clamped lower corner needs two voxels on every axis.
fn interior_margin<const K: usize>(
    padding: Padding,
    align_corners: bool,
    input: [usize; 5],
) -> f64 {
    let half = 0.5 - INSIDE_MARGIN;
    if K == 1 {
        return half;
    }
    if input[2..].iter().any(|&n| n < 2) {
        return -INSIDE_MARGIN;
    }
    match padding {
        Padding::Border => f64::INFINITY,
        Padding::Itk => half,
        Padding::Reflection if !align_corners => half,
        Padding::Zeros | Padding::Reflection => -INSIDE_MARGIN,
    }
}

/// How far beyond the outermost voxel centres a position may lie and still touch the volume
/// (a linear tap reaches one voxel out), plus room for the per-point positions, formed in the
/// input's type, to differ from the row's f64 ones.
const SUPPORT_MARGIN: f64 = 1.0 + 1e-2;

/// The run `[lo, hi)` of a row whose positions `base + x * step` lie in
/// `[-margin, n - 1 + margin]` on every axis (a negative margin keeps them inside).
fn within_run<T: Real>(
    base: [T; 3],
    step: [T; 3],
    input: [usize; 5],
    len: usize,
    margin: f64,
) -> (usize, usize) {
    let sizes = [input[4], input[3], input[2]];
    let (mut lo, mut hi) = (0.0f64, len as f64);
    for a in 0..3 {
        let (b, s) = (base[a].to_f64(), step[a].to_f64());
        let (min, max) = (-margin, sizes[a] as f64 - 1.0 + margin);
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

/// A row of affine positions `base + x * step` (voxel `(x, y, z)`), in f64: in f32, from 2^14
/// voxels along an axis, rounding exceeds the interior run's margin.
pub(super) struct Row {
    pub(super) base: [f64; 3],
    pub(super) step: [f64; 3],
    pub(super) input: [usize; 5],
}

impl Row {
    #[inline(always)]
    fn at(&self, x: usize) -> (f64, f64, f64) {
        let f = x as f64;
        (
            self.base[0] + self.step[0] * f,
            self.base[1] + self.step[1] * f,
            self.base[2] + self.step[2] * f,
        )
    }
}

/// `[0, 1, .., LANES - 1]` as f64: `x0 as f64 + LANE[l]` is `(x0 + l) as f64` exactly, so a
/// block's positions are the scalar loop's to the bit.
const LANE: [f64; LANES] = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];

/// Which instruction set the interior loops were compiled for, chosen once per call from what
/// the CPU reports (never from the build's target flags, so one binary runs everywhere).
/// Runs `$body` (an `#[inline(always)]` function call) compiled for the detected instruction
/// set: the same code, vectorized as wide as the CPU allows.
macro_rules! dispatch {
    ($isa:expr, $f:ident :: <$t:ty> ($($arg:expr),*)) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx2")]
            fn avx2<T: Real>(volume: &[T], row: &Row, lo: usize, out: &mut [T], rounding: Rounding) {
                $f::<T>(volume, row, lo, out, rounding)
            }
            if $isa == Isa::Avx2 {
                // SAFETY: `Isa::Avx2` is only chosen when the CPU reports AVX2.
                unsafe { avx2::<$t>($($arg),*) }
            } else {
                $f::<$t>($($arg),*)
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = $isa;
            $f::<$t>($($arg),*)
        }
    }};
}

/// Linear samples of one row of grid positions `at(x)`, compiled for `isa`: blocks whose points
/// all lie strictly inside the volume take the block loop, the rest `general`.
fn grid_linear_run<T: Real, A: Fn(usize) -> [[T; 3]; LANES], G: Fn(usize) -> T>(
    isa: Isa,
    volume: &[T],
    at: &A,
    input: [usize; 5],
    out: &mut [T],
    general: &G,
) {
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx2 {
        #[target_feature(enable = "avx2")]
        fn avx2<T: Real, A: Fn(usize) -> [[T; 3]; LANES], G: Fn(usize) -> T>(
            volume: &[T],
            at: &A,
            input: [usize; 5],
            out: &mut [T],
            general: &G,
        ) {
            grid_linear_blocks(Isa::Avx2, volume, at, input, out, general)
        }
        // SAFETY: `Isa::Avx2` is only chosen when the CPU reports AVX2.
        return unsafe { avx2(volume, at, input, out, general) };
    }
    grid_linear_blocks(isa, volume, at, input, out, general)
}

/// The body of [`grid_linear_run`]: the lanes of a block strictly inside the volume take
/// [`Corners::trilinear`] (the same taps and the same weighted sum as [`interpolate`], to the
/// bit), the other lanes and the row's tail `general`.
#[inline(always)]
fn grid_linear_blocks<T: Real, A: Fn(usize) -> [[T; 3]; LANES], G: Fn(usize) -> T>(
    isa: Isa,
    volume: &[T],
    at: &A,
    input: [usize; 5],
    out: &mut [T],
    general: &G,
) {
    let [_, _, d, h, w] = input;
    let size = [d, h, w];
    let blocked = out.len() / LANES * LANES;
    let (head, tail) = out.split_at_mut(blocked);
    for (b, block) in head.chunks_exact_mut(LANES).enumerate() {
        let x0 = b * LANES;
        let p = at(x0);
        let Some((inside, corners)) = Corners::of_block(isa, &p, size) else {
            for (l, v) in block.iter_mut().enumerate() {
                *v = general(x0 + l);
            }
            continue;
        };
        corners.trilinear(isa, volume, size, block);
        for (l, v) in block.iter_mut().enumerate() {
            if !inside[l] {
                *v = general(x0 + l);
            }
        }
    }
    for (k, v) in tail.iter_mut().enumerate() {
        *v = general(blocked + k);
    }
}

/// Nearest samples of one row of grid positions `at(x)`: a point inside the volume on every
/// axis (`0 <= p <= n - 1`, where every padding rule leaves it as it is) reads the voxel its
/// rounding names, the same index the general path finds; the rest take `general`.
fn grid_nearest_row<T: Real, A: Fn(usize) -> [T; 3], G: Fn(usize) -> T>(
    volume: &[T],
    at: &A,
    input: [usize; 5],
    out: &mut [T],
    general: &G,
    rounding: Rounding,
) {
    let [_, _, d, h, w] = input;
    let upper = [w, h, d].map(|n| T::from_f64(n as f64 - 1.0));
    for (x, v) in out.iter_mut().enumerate() {
        let p = at(x);
        // NaN fails every comparison and takes the general path.
        let inside = (0..3).all(|a| p[a] >= T::ZERO && p[a] <= upper[a]);
        if !inside {
            *v = general(x);
            continue;
        }
        let index = |a: usize| nearest_index(p[a], rounding) as usize;
        *v = volume[(index(2) * h + index(1)) * w + index(0)];
    }
}

/// Nearest (`K` = 1) or trilinear (`K` = 2) samples of points `lo..lo + out.len()` of `row`,
/// compiled for `isa`: the gathers write whole blocks of float32 into `out`, the block loop the
/// rest through `scratch` (at least as long as `out`). Writes every value of `out`.
fn interior_run<T: Real, const K: usize>(
    isa: Isa,
    volume: &[T],
    row: &Row,
    lo: usize,
    out: &mut [MaybeUninit<T>],
    scratch: &mut [T],
    rounding: Rounding,
) {
    let done = as_f32(volume, out).map_or(0, |(v, o)| {
        if K == 1 {
            gather::nearest(v, row, lo, o, rounding == Rounding::HalfUp)
        } else {
            gather::linear(v, row, lo, o)
        }
    });
    let rest = &mut scratch[..out.len() - done];
    if K == 1 {
        dispatch!(
            isa,
            nearest_blocks::<T>(volume, row, lo + done, rest, rounding)
        );
    } else {
        dispatch!(
            isa,
            linear_blocks::<T>(volume, row, lo + done, rest, rounding)
        );
    }
    out[done..].write_copy_of_slice(rest);
}

/// The volume and output as float32 where `T` is f32: the gathers' type.
fn as_f32<'a, T: Real>(
    volume: &'a [T],
    out: &'a mut [MaybeUninit<T>],
) -> Option<(&'a [f32], &'a mut [MaybeUninit<f32>])> {
    (std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()).then(|| {
        // SAFETY: `T` is f32, so `MaybeUninit<T>` is `MaybeUninit<f32>`: same size, alignment
        // and validity; the slice borrows `out` for its whole life.
        let out = unsafe { std::slice::from_raw_parts_mut(out.as_mut_ptr().cast(), out.len()) };
        (bytemuck::cast_slice(volume), out)
    })
}

/// The nearest voxel index of a position inside an axis of `last + 1` voxels, ties rounded
/// half up (ITK) or half to even (PyTorch). Positions are non-negative, so truncation is floor (`floor` and `round_ties_even` are
/// library calls on x86-64 without SSE4.1); the index is clamped, so no rounding can step
/// past the volume.
#[inline(always)]
fn round_index(p: f64, last: f64, half_up: bool) -> i32 {
    let c = p.clamp(0.0, last);
    if half_up {
        return ((c + 0.5) as i32).min(last as i32);
    }
    let f = c as i32;
    let frac = c - f as f64;
    let up = frac > 0.5 || (frac == 0.5 && f & 1 == 1);
    f + up as i32
}

/// The lower corner index of a position inside an axis (clamped to `last = n - 2`, so the
/// `+ 1` neighbour is inside) and the fraction beyond it.
#[inline(always)]
fn corner_index<T: Real>(p: f64, last: f64) -> (i32, T) {
    // Truncation is floor here (non-negative); `trunc` would be a library call.
    let i = p.clamp(0.0, last) as i32;
    (i, T::from_f64((p - i as f64).clamp(0.0, 1.0)))
}

/// Trilinear interpolation of the 2 x 2 x 2 voxels from offset `o`.
#[inline(always)]
fn trilinear<T: Real>(volume: &[T], o: usize, w: usize, plane: usize, t: [T; 3]) -> T {
    let lerp = |a: T, b: T, t: T| a + (b - a) * t;
    let o2 = o + plane;
    let c00 = lerp(volume[o], volume[o + 1], t[0]);
    let c01 = lerp(volume[o + w], volume[o + w + 1], t[0]);
    let c10 = lerp(volume[o2], volume[o2 + 1], t[0]);
    let c11 = lerp(volume[o2 + w], volume[o2 + w + 1], t[0]);
    lerp(lerp(c00, c01, t[1]), lerp(c10, c11, t[1]), t[2])
}

/// How many points of a run go through the blocks: whole blocks, and only where i32 offsets
/// (vector multiplies) can address the volume; the rest takes the scalar loop.
fn blocked_len(run: usize, voxels: usize) -> usize {
    if voxels <= i32::MAX as usize {
        run / LANES * LANES
    } else {
        0
    }
}

/// Nearest samples of points `lo..lo + out.len()` of `row`, all inside the volume (the
/// interior run).
#[inline(always)]
pub(super) fn nearest_blocks<T: Real>(
    volume: &[T],
    row: &Row,
    lo: usize,
    out: &mut [T],
    rounding: Rounding,
) {
    let [_, _, d, h, w] = row.input;
    let last = [w - 1, h - 1, d - 1].map(|n| n as f64);
    let half_up = rounding == Rounding::HalfUp;
    let max = volume.len() - 1;
    let blocked = blocked_len(out.len(), volume.len());
    let (hi, wi) = (h as i32, w as i32);
    let (head, tail) = out.split_at_mut(blocked);
    for (b, block) in head.chunks_exact_mut(LANES).enumerate() {
        let x0 = (lo + b * LANES) as f64;
        let mut at = [0i32; LANES];
        for l in 0..LANES {
            let f = x0 + LANE[l];
            let ix = round_index(row.base[0] + row.step[0] * f, last[0], half_up);
            let iy = round_index(row.base[1] + row.step[1] * f, last[1], half_up);
            let iz = round_index(row.base[2] + row.step[2] * f, last[2], half_up);
            at[l] = (iz * hi + iy) * wi + ix;
        }
        for (v, &a) in block.iter_mut().zip(&at) {
            *v = volume[(a as usize).min(max)];
        }
    }
    for (k, v) in tail.iter_mut().enumerate() {
        let (px, py, pz) = row.at(lo + blocked + k);
        let index = |p: f64, last: f64| round_index(p, last, half_up) as usize;
        let a = (index(pz, last[2]) * h + index(py, last[1])) * w + index(px, last[0]);
        *v = volume[a.min(max)];
    }
}

/// Trilinear samples of points `lo..lo + out.len()` of `row`, all inside the volume: no
/// padding logic, eight reads and seven interpolations. The run keeps at least two voxels on
/// every axis (its margin excludes size 1), and indices are clamped to `n - 2`, so the `+ 1`
/// neighbours are in the volume.
#[inline(always)]
pub(super) fn linear_blocks<T: Real>(
    volume: &[T],
    row: &Row,
    lo: usize,
    out: &mut [T],
    _: Rounding,
) {
    let [_, _, d, h, w] = row.input;
    let plane = h * w;
    let last = [w, h, d].map(|n| n.saturating_sub(2) as f64);
    // The largest corner offset: reads go up to `+ plane + w + 1`.
    let max = volume.len().saturating_sub(plane + w + 2);
    let blocked = blocked_len(out.len(), volume.len());
    let (hi, wi) = (h as i32, w as i32);
    let (head, tail) = out.split_at_mut(blocked);
    for (b, block) in head.chunks_exact_mut(LANES).enumerate() {
        let x0 = (lo + b * LANES) as f64;
        let mut at = [0i32; LANES];
        let mut t = [[T::ZERO; 3]; LANES];
        for l in 0..LANES {
            let f = x0 + LANE[l];
            let (ix, tx) = corner_index::<T>(row.base[0] + row.step[0] * f, last[0]);
            let (iy, ty) = corner_index::<T>(row.base[1] + row.step[1] * f, last[1]);
            let (iz, tz) = corner_index::<T>(row.base[2] + row.step[2] * f, last[2]);
            at[l] = (iz * hi + iy) * wi + ix;
            t[l] = [tx, ty, tz];
        }
        for (l, v) in block.iter_mut().enumerate() {
            *v = trilinear(volume, (at[l] as usize).min(max), w, plane, t[l]);
        }
    }
    for (k, v) in tail.iter_mut().enumerate() {
        let (px, py, pz) = row.at(lo + blocked + k);
        let (ix, tx) = corner_index::<T>(px, last[0]);
        let (iy, ty) = corner_index::<T>(py, last[1]);
        let (iz, tz) = corner_index::<T>(pz, last[2]);
        let o = (iz as usize * h + iy as usize) * w + ix as usize;
        *v = trilinear(volume, o.min(max), w, plane, [tx, ty, tz]);
    }
}
