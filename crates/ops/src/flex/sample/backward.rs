//! Gradients: to the input (a scatter), to a normalized grid, to a voxel affine, and the
//! grid and input gradients in one pass.

use rayon::prelude::*;

use super::super::buffer::zeroed;
use super::super::isa::Isa;
use super::super::taps::{
    read, BSpline, BorderPad, ItkPad, Kernel, Linear, Nearest, PadRule, Real, ReflectionPad,
    ZerosPad,
};
use super::forward::with_kernel;
use super::interior::{linear_row, RowSource, Wanted};
use super::positions::{AffinePositions, GridPositions};
use super::scatter::scatter_rows;
use super::{
    beyond_zero_padding, interior_axis, point_taps, value_gradient, Dims, PointTaps, Positions,
};
use crate::options::{Interpolation, Padding, SampleOptions};

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
    let mut grad = zeroed(n_batch * slab);
    if grad.is_empty() || points == 0 {
        return grad;
    }
    let isa = Isa::detect();
    // Scatters the rows `rows` of sample `n` into `buf` (one sample's `[C, D, H, W]`).
    let scatter = |n: usize, rows: core::ops::Range<usize>, buf: &mut [T]| {
        for row in rows {
            let (z, y) = (row / oh, row % oh);
            let general = |x: usize, buf: &mut [T]| {
                let point = PointBackward::new::<Kn, Pd>(positions.at(n, z, y, x), dims.input, o);
                let p = row * ow + x;
                for c in 0..channels {
                    let g = grad_output[(n * channels + c) * points + p];
                    if g != T::ZERO {
                        point.scatter(&mut buf[c * voxels..(c + 1) * voxels], dims.input, g);
                    }
                }
                [T::ZERO; 3]
            };
            if K == 2 {
                let source = RowSource {
                    input: &[],
                    grad_output: &grad_output[n * channels * points..(n + 1) * channels * points],
                    dims: dims.input,
                    first: row * ow,
                    ow,
                    scale: [T::ONE; 3],
                };
                let at = |x0: usize| positions.block(n, z, y, x0);
                linear_row(isa, Wanted::Input, &source, &at, buf, &mut [], &general);
            } else {
                for x in 0..ow {
                    general(x, buf);
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
    if beyond_zero_padding::<T, K, Pd>(p, dims.input) {
        return [T::ZERO; 3];
    }
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
    let mut grad = zeroed(n_batch * dims.points() * 3);
    if grad.is_empty() || o.interpolation == Interpolation::Nearest {
        return grad;
    }
    let [_, channels, ..] = dims.input;
    let (voxels, points) = (dims.voxels(), dims.points());
    let scale = positions.scale();
    let isa = Isa::detect();
    grad.par_chunks_mut(ow * 3)
        .enumerate()
        .for_each(|(row, out)| {
            let y = row % oh;
            let z = (row / oh) % od;
            let n = row / (oh * od);
            let general = |x: usize, _: &mut [T]| {
                let point = (z * oh + y) * ow + x;
                let p = positions.at(n, z, y, x);
                position_gradient::<T, K, Kn, Pd>(input, grad_output, p, n, point, dims, o)
            };
            if K == 2 {
                let (slab, go) = (channels * voxels, channels * points);
                let source = RowSource {
                    input: &input[n * slab..(n + 1) * slab],
                    grad_output: &grad_output[n * go..(n + 1) * go],
                    dims: dims.input,
                    first: (z * oh + y) * ow,
                    ow,
                    scale,
                };
                let at = |x0: usize| positions.block(n, z, y, x0);
                linear_row(isa, Wanted::Positions, &source, &at, &mut [], out, &general);
                return;
            }
            for x in 0..ow {
                let g = general(x, &mut []);
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
    let mut grad_input = zeroed(n_batch * slab);
    let mut grad_grid = zeroed(n_batch * points * 3);
    if grad_input.is_empty() || grad_grid.is_empty() {
        return (grad_input, grad_grid);
    }
    let isa = Isa::detect();
    // Rows `rows` of sample `n`: scatter into `buf` (one sample's input gradient) and write
    // the grid gradient of those rows into `gg` (starting at row `rows.start`).
    let pass = |n: usize, rows: core::ops::Range<usize>, buf: &mut [T], gg: &mut [T]| {
        let first = rows.start;
        for row in rows {
            let (z, y) = (row / oh, row % oh);
            // One point's scatter into `buf` and its (unscaled) grid gradient.
            let general = |x: usize, buf: &mut [T]| {
                let point = PointBackward::new::<Kn, Pd>(positions.at(n, z, y, x), dims.input, o);
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
                    point.both(volume, dst, dims.input, g, &mut acc);
                }
                acc
            };
            let q = (row - first) * ow * 3;
            let out = &mut gg[q..q + ow * 3];
            if K == 2 {
                let go = channels * points;
                let source = RowSource {
                    input: &input[n * slab..(n + 1) * slab],
                    grad_output: &grad_output[n * go..(n + 1) * go],
                    dims: dims.input,
                    first: row * ow,
                    ow,
                    scale,
                };
                let at = |x0: usize| positions.block(n, z, y, x0);
                linear_row(isa, Wanted::Both, &source, &at, buf, out, &general);
                continue;
            }
            for x in 0..ow {
                let acc = general(x, buf);
                for k in 0..3 {
                    out[x * 3 + k] = acc[k] * scale[k];
                }
            }
        }
    };
    scatter_rows(&mut grad_input, slab, &mut grad_grid, ow * 3, rows, pass);
    (grad_input, grad_grid)
}

/// How the backward reads one output point's taps: a linear point strictly inside the volume
/// by its lower corner offset and fractions (eight voxels, no padding logic), any other by the
/// general taps.
enum PointBackward<T, const K: usize> {
    Interior {
        corner: usize,
        frac: [T; 3],
    },
    Taps(PointTaps<T, K>),
    /// A linear point beyond the volume under zero padding: no voxel receives anything and
    /// the position gradient is zero.
    Beyond,
}

impl<T: Real, const K: usize> PointBackward<T, K> {
    #[inline(always)]
    fn new<Kn: Kernel<K>, Pd: PadRule>(p: [T; 3], input: [usize; 5], o: SampleOptions) -> Self {
        if K == 2 {
            if beyond_zero_padding::<T, K, Pd>(p, input) {
                return Self::Beyond;
            }
            let [_, _, d, h, w] = input;
            if let (Some((i, tx)), Some((j, ty)), Some((k, tz))) = (
                interior_axis(p[0], w),
                interior_axis(p[1], h),
                interior_axis(p[2], d),
            ) {
                return Self::Interior {
                    corner: (k * h + j) * w + i,
                    frac: [tx, ty, tz],
                };
            }
        }
        Self::Taps(point_taps::<T, K, Kn, Pd>(p, input, o))
    }

    /// Adds `g` times each tap's weight to `dst` (one channel's input gradient).
    #[inline(always)]
    fn scatter(&self, dst: &mut [T], input: [usize; 5], g: T) {
        match self {
            Self::Interior { corner, frac } => {
                let [_, _, _, h, w] = input;
                let [wx, wy, wz] = corner_weights(*frac);
                for (a, &za) in wz.iter().enumerate() {
                    for (b, &yb) in wy.iter().enumerate() {
                        let off = corner + a * h * w + b * w;
                        let gab = g * za * yb;
                        dst[off] += gab * wx[0];
                        dst[off + 1] += gab * wx[1];
                    }
                }
            }
            Self::Beyond => {}
            Self::Taps(t) => {
                for a in &t.z {
                    for b in &t.y {
                        let gab = g * a.w * b.w;
                        let off = a.offset + b.offset;
                        for cc in &t.x {
                            // A tap outside the volume has nothing to receive.
                            if let Some(v) = dst.get_mut(off + cc.offset) {
                                *v += gab * cc.w;
                            }
                        }
                    }
                }
            }
        }
    }

    /// [`Self::scatter`], and adds `g * d(value)/d(x, y, z)` of channel `volume` to `acc`.
    #[inline(always)]
    fn both(&self, volume: &[T], dst: &mut [T], input: [usize; 5], g: T, acc: &mut [T; 3]) {
        self.scatter(dst, input, g);
        match self {
            Self::Interior { corner, frac } => {
                // The general taps' sums with `dw` -1 and +1 on each axis.
                let [_, _, _, h, w] = input;
                let [wx, wy, wz] = corner_weights(*frac);
                for (a, &za) in wz.iter().enumerate() {
                    let dz = if a == 0 { -T::ONE } else { T::ONE };
                    for (b, &yb) in wy.iter().enumerate() {
                        let dy = if b == 0 { -T::ONE } else { T::ONE };
                        let off = corner + a * h * w + b * w;
                        let (v0, v1) = (volume[off], volume[off + 1]);
                        let s = wx[0] * v0 + wx[1] * v1;
                        acc[0] += g * za * yb * (v1 - v0);
                        acc[1] += g * za * dy * s;
                        acc[2] += g * dz * yb * s;
                    }
                }
            }
            Self::Beyond => {}
            Self::Taps(t) => {
                for a in &t.z {
                    for b in &t.y {
                        let off = a.offset + b.offset;
                        let (mut s, mut sd) = (T::ZERO, T::ZERO);
                        for cc in &t.x {
                            let v = read(volume, off + cc.offset);
                            s += cc.w * v;
                            sd += cc.dw * v;
                        }
                        acc[0] += g * a.w * b.w * sd;
                        acc[1] += g * a.w * b.dw * s;
                        acc[2] += g * a.dw * b.w * s;
                    }
                }
            }
        }
    }
}

/// Linear weights `[1 - t, t]` of the x, y and z corners.
#[inline(always)]
fn corner_weights<T: Real>(t: [T; 3]) -> [[T; 2]; 3] {
    t.map(|t| [T::ONE - t, t])
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::super::super::taps::{Linear, ZerosPad};
    use super::*;
    use crate::options::Interpolation;

    /// A row of 37 points (four blocks and a tail) on two channels, positions partly outside
    /// the volume, zero output gradients and a NaN voxel: the blocks' input and position
    /// gradients equal the general per-point path's to the bit, for each choice of gradients,
    /// in f32 (vector corners and gathers where the CPU has AVX2) and f64 (the generic lanes).
    #[test]
    fn row_blocks_equal_the_general_path_to_the_bit() {
        row_blocks_match::<f32>();
        row_blocks_match::<f64>();
    }

    fn row_blocks_match<T: Real + core::fmt::Debug>() {
        let mut rng = ChaCha8Rng::seed_from_u64(17);
        let (channels, d, h, w, ow) = (2, 5, 6, 9, 37);
        let dims = [1, channels, d, h, w];
        let voxels = d * h * w;
        let o = SampleOptions::new(Interpolation::Linear);
        for wanted in [Wanted::Input, Wanted::Positions, Wanted::Both] {
            let mut input: Vec<T> = (0..channels * voxels)
                .map(|_| T::from_f64(rng.random_range(-1.0..1.0)))
                .collect();
            input[rng.random_range(0..channels * voxels)] = T::from_f64(f64::NAN);
            let grad_output: Vec<T> = (0..channels * ow)
                .map(|_| {
                    if rng.random_bool(0.2) {
                        T::ZERO
                    } else {
                        T::from_f64(rng.random_range(-1.0..1.0))
                    }
                })
                .collect();
            // Mostly inside, some blocks wholly, some partly.
            let positions: Vec<[T; 3]> = (0..ow)
                .map(|_| [w, h, d].map(|n| T::from_f64(rng.random_range(-0.3..n as f64 - 0.7))))
                .collect();
            let at = |x0: usize| core::array::from_fn(|l| positions[x0 + l]);
            let general = |x: usize, buf: &mut [T]| {
                let point = PointBackward::new::<Linear, ZerosPad>(positions[x], dims, o);
                let mut acc = [T::ZERO; 3];
                for c in 0..channels {
                    let g = grad_output[c * ow + x];
                    if g == T::ZERO {
                        continue;
                    }
                    let volume = &input[c * voxels..(c + 1) * voxels];
                    let dst = &mut buf[c * voxels..(c + 1) * voxels];
                    match wanted {
                        Wanted::Input => point.scatter(dst, dims, g),
                        Wanted::Positions => {
                            let mut scratch = vec![T::ZERO; voxels];
                            point.both(volume, &mut scratch, dims, g, &mut acc)
                        }
                        Wanted::Both => point.both(volume, dst, dims, g, &mut acc),
                    }
                }
                acc
            };
            let scale = [0.5, 2.0, 1.5].map(T::from_f64);
            let source = RowSource {
                input: &input,
                grad_output: &grad_output,
                dims,
                first: 0,
                ow,
                scale,
            };
            let (mut buf, mut grid) = (vec![T::ZERO; channels * voxels], vec![T::ZERO; ow * 3]);
            linear_row(
                Isa::detect(),
                wanted,
                &source,
                &at,
                &mut buf,
                &mut grid,
                &general,
            );
            let (mut want_buf, mut want_grid) =
                (vec![T::ZERO; channels * voxels], vec![T::ZERO; ow * 3]);
            for x in 0..ow {
                let acc = general(x, &mut want_buf);
                for a in 0..3 {
                    want_grid[x * 3 + a] = acc[a] * scale[a];
                }
            }
            let bits = |v: &[T]| v.iter().map(|v| v.to_f64().to_bits()).collect::<Vec<_>>();
            if wanted != Wanted::Positions {
                assert_eq!(bits(&buf), bits(&want_buf), "input gradient");
                assert!(buf.iter().any(|v| *v != T::ZERO));
            }
            if wanted != Wanted::Input {
                assert_eq!(bits(&grid), bits(&want_grid), "position gradient");
                assert!(
                    grid.iter()
                        .filter(|v| v.to_f64().is_finite() && **v != T::ZERO)
                        .count()
                        > ow
                );
            }
        }
    }
}
