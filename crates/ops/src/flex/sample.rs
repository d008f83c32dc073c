//! The CPU sampling core: forward, gradient to the input (scatter) and gradient to the
//! sampling positions, for both position sources (a normalized grid, a voxel affine).
//!
//! Work is split by output rows `(n, z, y)`: the forward pass and the position gradient write
//! disjoint rows; the input gradient scatters, so each worker accumulates into its own copy of
//! one sample's gradient and the copies are summed (no atomics, deterministic per thread count).

use rayon::prelude::*;

use super::taps::{
    BSpline, BorderPad, ItkPad, Kernel, Linear, Nearest, PadRule, Real, ReflectionPad, Tap,
    ZerosPad,
};
use crate::coordinates::unnormalize;
use crate::options::{Interpolation, Padding, SampleOptions};

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

/// Where output point `(n, z, y, x)` samples, as a raw voxel position `(x, y, z)` (x along W),
/// and the derivative of that position with respect to the source coordinate, per axis.
pub(crate) trait Positions<T>: Sync {
    fn at(&self, n: usize, z: usize, y: usize, x: usize) -> [T; 3];
    fn scale(&self) -> [T; 3];
    /// For sources where each position coordinate depends on one output index only
    /// (`p_a = s_a * index_a + o_a`, a diagonal voxel affine: resizing, scaling, shifting), the
    /// per-axis `(s, o)` of sample `n` in `(x, y, z)` order.
    fn axis_aligned(&self, _n: usize) -> Option<[(T, T); 3]> {
        None
    }
    /// For sources linear along a row, the position of point `x` of row `(n, z, y)` as
    /// `base + x * step`.
    fn row(&self, _n: usize, _z: usize, _y: usize) -> Option<([T; 3], [T; 3])> {
        None
    }
}

/// A grid `[N, D, H, W, 3]` in normalized coordinates, PyTorch's unnormalization.
pub(crate) struct GridPositions<'a, T> {
    grid: &'a [T],
    output: [usize; 3],
    scale: [T; 3],
    offset: [T; 3],
}

impl<'a, T: Real> GridPositions<'a, T> {
    pub fn new(grid: &'a [T], dims: Dims, align_corners: bool) -> Self {
        // x runs along W (dim 4), y along H, z along D.
        let sizes = [dims.input[4], dims.input[3], dims.input[2]];
        let map = sizes.map(|n| unnormalize(n, align_corners));
        let scale = map.map(|(s, _)| T::from_f64(s));
        let offset = map.map(|(_, t)| T::from_f64(t));
        Self {
            grid,
            output: dims.output,
            scale,
            offset,
        }
    }
}

impl<T: Real> Positions<T> for GridPositions<'_, T> {
    #[inline(always)]
    fn at(&self, n: usize, z: usize, y: usize, x: usize) -> [T; 3] {
        let [d, h, w] = self.output;
        let b = (((n * d + z) * h + y) * w + x) * 3;
        let g = &self.grid[b..b + 3];
        [
            g[0] * self.scale[0] + self.offset[0],
            g[1] * self.scale[1] + self.offset[1],
            g[2] * self.scale[2] + self.offset[2],
        ]
    }
    fn scale(&self) -> [T; 3] {
        self.scale
    }
}

/// A `[N, 3, 4]` matrix from output voxel index `(i, j, k, 1)` to input voxel position.
pub(crate) struct AffinePositions<'a, T> {
    matrix: &'a [T],
}

impl<'a, T: Real> AffinePositions<'a, T> {
    pub fn new(matrix: &'a [T]) -> Self {
        Self { matrix }
    }
}

impl<T: Real> Positions<T> for AffinePositions<'_, T> {
    #[inline(always)]
    fn at(&self, n: usize, z: usize, y: usize, x: usize) -> [T; 3] {
        let m = &self.matrix[n * 12..n * 12 + 12];
        let (i, j, k) = (
            T::from_f64(x as f64),
            T::from_f64(y as f64),
            T::from_f64(z as f64),
        );
        [
            m[0] * i + m[1] * j + m[2] * k + m[3],
            m[4] * i + m[5] * j + m[6] * k + m[7],
            m[8] * i + m[9] * j + m[10] * k + m[11],
        ]
    }
    fn scale(&self) -> [T; 3] {
        [T::ONE; 3]
    }
    fn row(&self, n: usize, z: usize, y: usize) -> Option<([T; 3], [T; 3])> {
        let m = &self.matrix[n * 12..n * 12 + 12];
        let (j, k) = (T::from_f64(y as f64), T::from_f64(z as f64));
        let base = [0, 1, 2].map(|r| m[r * 4 + 1] * j + m[r * 4 + 2] * k + m[r * 4 + 3]);
        Some((base, [m[0], m[4], m[8]]))
    }
    fn axis_aligned(&self, n: usize) -> Option<[(T, T); 3]> {
        let m = &self.matrix[n * 12..n * 12 + 12];
        let off_diagonal = [m[1], m[2], m[4], m[6], m[8], m[9]];
        off_diagonal
            .iter()
            .all(|v| *v == T::ZERO)
            .then(|| [(m[0], m[3]), (m[5], m[7]), (m[10], m[11])])
    }
}

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

/// The taps of one output point on the three axes.
struct PointTaps<T, const K: usize> {
    x: [Tap<T>; K],
    y: [Tap<T>; K],
    z: [Tap<T>; K],
}

#[inline(always)]
fn point_taps<T: Real, const K: usize, Kn: Kernel<K>, Pd: PadRule>(
    p: [T; 3],
    input: [usize; 5],
    o: SampleOptions,
) -> PointTaps<T, K> {
    let [_, _, d, h, w] = input;
    PointTaps {
        x: Kn::taps(p[0], w, 1, Pd::PADDING, o.align_corners),
        y: Kn::taps(p[1], h, w, Pd::PADDING, o.align_corners),
        z: Kn::taps(p[2], d, h * w, Pd::PADDING, o.align_corners),
    }
}

#[inline(always)]
fn interpolate<T: Real, const K: usize>(volume: &[T], t: &PointTaps<T, K>) -> T {
    let mut acc = T::ZERO;
    for a in &t.z {
        for b in &t.y {
            let wab = a.w * b.w;
            let off = a.offset + b.offset;
            for c in &t.x {
                acc += wab * c.w * volume[off + c.offset];
            }
        }
    }
    acc
}

/// `d(value)/d(x, y, z)` at one point of one channel: per `(z, y)` tap pair, the x-sums of
/// `w * v` and `dw * v` are shared by the three components.
#[inline(always)]
fn value_gradient<T: Real, const K: usize>(volume: &[T], t: &PointTaps<T, K>) -> [T; 3] {
    let mut g = [T::ZERO; 3];
    for a in &t.z {
        for b in &t.y {
            let off = a.offset + b.offset;
            let (mut s, mut sd) = (T::ZERO, T::ZERO);
            for c in &t.x {
                let v = volume[off + c.offset];
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
        let i = [0, 1, 2].map(|a| {
            let c = p[a];
            let r = if Pd::PADDING == Padding::Itk {
                (c + 0.5).floor()
            } else {
                c.round_ties_even()
            };
            (r.max(0.0) as usize).min(last[a])
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

/// Gradient of the loss with respect to the input, from `grad_output` (`[N, C, Do, Ho, Wo]`).
pub(crate) fn backward_input<T: Real, P: Positions<T>>(
    grad_output: &[T],
    positions: &P,
    dims: Dims,
    o: SampleOptions,
) -> Vec<T> {
    with_kernel!(o, backward_input_k::<T, P>(grad_output, positions, dims, o))
}

fn backward_input_k<T: Real, P: Positions<T>, const K: usize, Kn: Kernel<K>, Pd: PadRule>(
    grad_output: &[T],
    positions: &P,
    dims: Dims,
    o: SampleOptions,
) -> Vec<T> {
    let [n_batch, channels, ..] = dims.input;
    let [od, oh, ow] = dims.output;
    let voxels = dims.voxels();
    let points = dims.points();
    let slab = channels * voxels;
    let mut grad = vec![T::ZERO; n_batch * slab];
    if grad.is_empty() || points == 0 {
        return grad;
    }
    // Scatters the rows `rows` of sample `n` into `buf` (one sample's `[C, D, H, W]`).
    let scatter = |n: usize, rows: core::ops::Range<usize>, buf: &mut [T]| {
        for row in rows {
            let (z, y) = (row / oh, row % oh);
            for x in 0..ow {
                let t = point_taps::<T, K, Kn, Pd>(positions.at(n, z, y, x), dims.input, o);
                let p = row * ow + x;
                for c in 0..channels {
                    let g = grad_output[(n * channels + c) * points + p];
                    if g == T::ZERO {
                        continue;
                    }
                    let volume = &mut buf[c * voxels..(c + 1) * voxels];
                    for a in &t.z {
                        for b in &t.y {
                            let gab = g * a.w * b.w;
                            let off = a.offset + b.offset;
                            for cc in &t.x {
                                volume[off + cc.offset] += gab * cc.w;
                            }
                        }
                    }
                }
            }
        }
    };
    scatter_rows(&mut grad, slab, &mut [], 0, od * oh, |n, rows, buf, _| {
        scatter(n, rows, buf)
    });
    grad
}

/// `d(loss)/d(raw position)` at one output point, summed over channels.
#[inline(always)]
fn position_gradient<T: Real, const K: usize, Kn: Kernel<K>, Pd: PadRule>(
    input: &[T],
    grad_output: &[T],
    p: [T; 3],
    n: usize,
    point: usize,
    dims: Dims,
    o: SampleOptions,
) -> [T; 3] {
    let [_, channels, ..] = dims.input;
    let voxels = dims.voxels();
    let points = dims.points();
    let t = point_taps::<T, K, Kn, Pd>(p, dims.input, o);
    let mut acc = [T::ZERO; 3];
    for c in 0..channels {
        let g = grad_output[(n * channels + c) * points + point];
        if g == T::ZERO {
            continue;
        }
        let nc = n * channels + c;
        let dv = value_gradient(&input[nc * voxels..(nc + 1) * voxels], &t);
        for a in 0..3 {
            acc[a] += g * dv[a];
        }
    }
    acc
}

/// Gradient with respect to a normalized grid: `[N, Do, Ho, Wo, 3]`.
pub(crate) fn backward_grid<T: Real>(
    input: &[T],
    grid: &[T],
    grad_output: &[T],
    dims: Dims,
    o: SampleOptions,
) -> Vec<T> {
    let positions = GridPositions::new(grid, dims, o.align_corners);
    with_kernel!(
        o,
        backward_grid_k::<T, GridPositions<T>>(input, &positions, grad_output, dims, o)
    )
}

fn backward_grid_k<T: Real, P: Positions<T>, const K: usize, Kn: Kernel<K>, Pd: PadRule>(
    input: &[T],
    positions: &P,
    grad_output: &[T],
    dims: Dims,
    o: SampleOptions,
) -> Vec<T> {
    let [n_batch, ..] = dims.input;
    let [od, oh, ow] = dims.output;
    let mut grad = vec![T::ZERO; n_batch * dims.points() * 3];
    if grad.is_empty() || o.interpolation == Interpolation::Nearest {
        return grad;
    }
    let scale = positions.scale();
    grad.par_chunks_mut(ow * 3)
        .enumerate()
        .for_each(|(row, out)| {
            let y = row % oh;
            let z = (row / oh) % od;
            let n = row / (oh * od);
            for x in 0..ow {
                let point = (z * oh + y) * ow + x;
                let p = positions.at(n, z, y, x);
                let g = position_gradient::<T, K, Kn, Pd>(input, grad_output, p, n, point, dims, o);
                for a in 0..3 {
                    out[x * 3 + a] = g[a] * scale[a];
                }
            }
        });
    grad
}

/// Gradient with respect to a voxel affine `[N, 3, 4]`: the position gradient of every output
/// point times `(i, j, k, 1)`, summed; row sums are accumulated in f64 without storing any
/// per-point values.
pub(crate) fn backward_matrix<T: Real>(
    input: &[T],
    matrix: &[T],
    grad_output: &[T],
    dims: Dims,
    o: SampleOptions,
) -> Vec<T> {
    let positions = AffinePositions::new(matrix);
    with_kernel!(
        o,
        backward_matrix_k::<T, AffinePositions<T>>(input, &positions, grad_output, dims, o)
    )
}

fn backward_matrix_k<T: Real, P: Positions<T>, const K: usize, Kn: Kernel<K>, Pd: PadRule>(
    input: &[T],
    positions: &P,
    grad_output: &[T],
    dims: Dims,
    o: SampleOptions,
) -> Vec<T> {
    let [n_batch, ..] = dims.input;
    let [od, oh, ow] = dims.output;
    let mut grad = vec![T::ZERO; n_batch * 12];
    if dims.points() == 0 || o.interpolation == Interpolation::Nearest {
        return grad;
    }
    let rows: Vec<[f64; 12]> = (0..n_batch * od * oh)
        .into_par_iter()
        .map(|row| {
            let y = row % oh;
            let z = (row / oh) % od;
            let n = row / (oh * od);
            let mut acc = [0.0f64; 12];
            for x in 0..ow {
                let point = (z * oh + y) * ow + x;
                let p = positions.at(n, z, y, x);
                let g = position_gradient::<T, K, Kn, Pd>(input, grad_output, p, n, point, dims, o);
                let basis = [x as f64, y as f64, z as f64, 1.0];
                for r in 0..3 {
                    let gr = g[r].to_f64();
                    for c in 0..4 {
                        acc[r * 4 + c] += gr * basis[c];
                    }
                }
            }
            acc
        })
        .collect();
    let mut sums = vec![0.0f64; n_batch * 12];
    for (row, acc) in rows.iter().enumerate() {
        let n = row / (od * oh);
        for (k, v) in acc.iter().enumerate() {
            sums[n * 12 + k] += v;
        }
    }
    for (g, s) in grad.iter_mut().zip(&sums) {
        *g = T::from_f64(*s);
    }
    grad
}

/// Both gradients of a grid sample in one pass (taps computed once per point): the input
/// gradient `[N, C, D, H, W]` and the grid gradient `[N, Do, Ho, Wo, 3]`.
pub(crate) fn backward_grid_and_input<T: Real>(
    input: &[T],
    grid: &[T],
    grad_output: &[T],
    dims: Dims,
    o: SampleOptions,
) -> (Vec<T>, Vec<T>) {
    let positions = GridPositions::new(grid, dims, o.align_corners);
    with_kernel!(
        o,
        backward_both_k::<T, GridPositions<T>>(input, &positions, grad_output, dims, o)
    )
}

fn backward_both_k<T: Real, P: Positions<T>, const K: usize, Kn: Kernel<K>, Pd: PadRule>(
    input: &[T],
    positions: &P,
    grad_output: &[T],
    dims: Dims,
    o: SampleOptions,
) -> (Vec<T>, Vec<T>) {
    let [n_batch, channels, ..] = dims.input;
    let [od, oh, ow] = dims.output;
    let voxels = dims.voxels();
    let points = dims.points();
    let slab = channels * voxels;
    let rows = od * oh;
    let scale = positions.scale();
    let mut grad_input = vec![T::ZERO; n_batch * slab];
    let mut grad_grid = vec![T::ZERO; n_batch * points * 3];
    if grad_input.is_empty() || grad_grid.is_empty() {
        return (grad_input, grad_grid);
    }
    // Rows `rows` of sample `n`: scatter into `buf` (one sample's input gradient) and write
    // the grid gradient of those rows into `gg` (starting at row `rows.start`).
    let pass = |n: usize, rows: core::ops::Range<usize>, buf: &mut [T], gg: &mut [T]| {
        let first = rows.start;
        for row in rows {
            let (z, y) = (row / oh, row % oh);
            for x in 0..ow {
                let t = point_taps::<T, K, Kn, Pd>(positions.at(n, z, y, x), dims.input, o);
                let p = row * ow + x;
                let mut acc = [T::ZERO; 3];
                for c in 0..channels {
                    let g = grad_output[(n * channels + c) * points + p];
                    if g == T::ZERO {
                        continue;
                    }
                    let nc = n * channels + c;
                    let volume = &input[nc * voxels..(nc + 1) * voxels];
                    let dst = &mut buf[c * voxels..(c + 1) * voxels];
                    for a in &t.z {
                        for b in &t.y {
                            let off = a.offset + b.offset;
                            let gab = g * a.w * b.w;
                            let (mut s, mut sd) = (T::ZERO, T::ZERO);
                            for cc in &t.x {
                                let v = volume[off + cc.offset];
                                s += cc.w * v;
                                sd += cc.dw * v;
                                dst[off + cc.offset] += gab * cc.w;
                            }
                            acc[0] += g * a.w * b.w * sd;
                            acc[1] += g * a.w * b.dw * s;
                            acc[2] += g * a.dw * b.w * s;
                        }
                    }
                }
                let q = ((row - first) * ow + x) * 3;
                for k in 0..3 {
                    gg[q + k] = acc[k] * scale[k];
                }
            }
        }
    };
    scatter_rows(&mut grad_input, slab, &mut grad_grid, ow * 3, rows, pass);
    (grad_input, grad_grid)
}

/// Splits `s` into consecutive pieces of the given lengths.
fn split_lengths<T>(mut s: &mut [T], lengths: impl IntoIterator<Item = usize>) -> Vec<&mut [T]> {
    let mut pieces = Vec::new();
    for len in lengths {
        let (head, tail) = s.split_at_mut(len);
        pieces.push(head);
        s = tail;
    }
    pieces
}

/// Host memory the private slabs of one scatter may take together: 2 GiB, so a 512^3 f32
/// volume (512 MiB a slab) scatters on 4 threads whatever the machine's thread count (on 32
/// threads, one slab each would be 16 GiB).
pub(crate) const SCATTER_BUDGET_BYTES: usize = 2 << 30;

/// How many private slabs of `slab_bytes` a scatter on `workers` threads uses: one per thread
/// within [`SCATTER_BUDGET_BYTES`], and 1 (scatter straight into the result, one thread) when
/// not even two fit.
pub(crate) fn private_slabs(slab_bytes: usize, workers: usize) -> usize {
    let fit = SCATTER_BUDGET_BYTES / slab_bytes.max(1);
    if fit < 2 {
        1
    } else {
        workers.min(fit)
    }
}

/// Drives a scatter over the `rows` output rows of every sample. `pass(n, rows, grad, out)`
/// scatters rows `rows` of sample `n` into `grad` (one sample's slab of `slab` values of the
/// input gradient) and writes `per_row` values per row into `out` (those rows' part of a
/// per-point output; `per_row = 0` for none). With at least as many samples as threads,
/// samples run in parallel straight into `grad`; otherwise each sample's rows are split into
/// blocks, each block scatters into a zeroed slab of its own, and the slabs are summed (no
/// atomics; deterministic for a given thread and block count). The blocks' slabs are bounded
/// by [`SCATTER_BUDGET_BYTES`] (see [`private_slabs`]).
fn scatter_rows<T: Real, F>(
    grad: &mut [T],
    slab: usize,
    out: &mut [T],
    per_row: usize,
    rows: usize,
    pass: F,
) where
    F: Fn(usize, core::ops::Range<usize>, &mut [T], &mut [T]) + Sync,
{
    let n_batch = grad.len() / slab;
    let samples: Vec<(&mut [T], &mut [T])> = grad
        .chunks_mut(slab)
        .zip(split_lengths(out, (0..n_batch).map(|_| rows * per_row)))
        .collect();
    let workers = rayon::current_num_threads().min(rows);
    if n_batch >= workers {
        samples
            .into_par_iter()
            .enumerate()
            .for_each(|(n, (g, o))| pass(n, 0..rows, g, o));
        return;
    }
    let blocks = private_slabs(slab * core::mem::size_of::<T>(), workers);
    for (n, (g, o)) in samples.into_iter().enumerate() {
        if blocks <= 1 {
            pass(n, 0..rows, g, o);
            continue;
        }
        let bounds: Vec<usize> = (0..=blocks).map(|t| t * rows / blocks).collect();
        let blocks = split_lengths(
            o,
            (0..blocks).map(|t| (bounds[t + 1] - bounds[t]) * per_row),
        );
        let summed = blocks
            .into_par_iter()
            .enumerate()
            .map(|(t, block)| {
                let mut buf = vec![T::ZERO; slab];
                pass(n, bounds[t]..bounds[t + 1], &mut buf, block);
                buf
            })
            .reduce_with(|mut a, b| {
                a.par_iter_mut()
                    .zip(b.par_iter())
                    .for_each(|(a, b)| *a += *b);
                a
            });
        if let Some(summed) = summed {
            g.copy_from_slice(&summed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_slabs_stay_within_the_budget() {
        let mib = 1 << 20;
        // 512^3 f32 on 32 threads: 4 slabs of 512 MiB, not 32.
        assert_eq!(private_slabs(512 * mib, 32), 4);
        assert!(private_slabs(512 * mib, 32) * 512 * mib <= SCATTER_BUDGET_BYTES);
        // Small volumes: one slab per thread.
        assert_eq!(private_slabs(mib, 32), 32);
        // 1024^3 f32 (4 GiB): no private slab at all.
        assert_eq!(private_slabs(4096 * mib, 32), 1);
    }

    /// The scatter's result does not depend on how many private slabs it used.
    #[test]
    fn scatter_rows_sums_the_same_with_any_block_count() {
        let (slab, rows) = (64usize, 37usize);
        let pass = |_: usize, r: core::ops::Range<usize>, g: &mut [f64], _: &mut [f64]| {
            for row in r {
                for (k, v) in g.iter_mut().enumerate() {
                    *v += ((row * 31 + k * 7) % 13) as f64;
                }
            }
        };
        let mut direct = vec![0.0; slab];
        pass(0, 0..rows, &mut direct, &mut []);
        let mut split = vec![0.0; slab];
        scatter_rows(&mut split, slab, &mut [], 0, rows, pass);
        assert_eq!(direct, split);
    }
}
