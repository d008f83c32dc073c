//! 3D max pooling on Flex.
//!
//! The forward is separable: the max over a box is the max over depth of the max over height
//! of the max over width, so it runs as three passes, one axis each. Along D and H a pass takes
//! the element-wise max of whole input rows (contiguous, vectorized); only the W pass reads
//! strided. That is about `kd + kh + kw` comparisons per output instead of `kd * kh * kw`.
//!
//! The backward needs each window's arg-max, with PyTorch's rule: the first voxel in
//! `(d, h, w)` order, and a NaN replaces the running max. It is found from the input and the
//! pooled values (the first tap equal to the max) rather than kept from the forward, so the
//! forward stays cheap and stores no indices. Each input plane then gathers the gradients of
//! the outputs whose arg-max lies in it: every task owns its plane, no atomics and no shared
//! writes.

use rayon::prelude::*;

use super::taps::Real;
use crate::pool::Pool3dOptions;

/// Work below this many elements per task is not split further.
const GRAIN: usize = 4096;

/// One axis of the window.
#[derive(Clone, Copy, Debug)]
struct Axis {
    len: usize,
    out: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
}

impl Axis {
    fn new(o: &Pool3dOptions, axis: usize, len: usize, out: usize) -> Self {
        Self {
            len,
            out,
            kernel: o.kernel_size[axis],
            stride: o.stride[axis],
            padding: o.padding[axis],
            dilation: o.dilation[axis],
        }
    }

    /// The input index tap `k` of output `o` reads, unless it falls in the padding.
    #[inline(always)]
    fn at(&self, o: usize, k: usize) -> Option<usize> {
        (o * self.stride + k * self.dilation)
            .checked_sub(self.padding)
            .filter(|&i| i < self.len)
    }

    /// The outputs with a tap at input index `i`.
    fn outputs_reading(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.kernel).filter_map(move |k| {
            let at = (i + self.padding).checked_sub(k * self.dilation)?;
            (at % self.stride == 0 && at / self.stride < self.out).then_some(at / self.stride)
        })
    }
}

/// PyTorch's update rule: a larger value or a NaN replaces the running max.
#[inline(always)]
fn wins<T: Real>(v: T, best: T) -> bool {
    v > best || v.is_nan()
}

fn axes(dims: [usize; 5], out: [usize; 5], o: &Pool3dOptions) -> [Axis; 3] {
    [0, 1, 2].map(|a| Axis::new(o, a, dims[2 + a], out[2 + a]))
}

/// Max along the middle axis of `data` `[outer, axis.len, inner]`: `[outer, axis.out, inner]`.
fn max_along<T: Real>(data: &[T], outer: usize, inner: usize, axis: Axis) -> Vec<T> {
    let mut out = vec![T::ZERO; outer * axis.out * inner];
    let line_in = axis.len * inner;
    if inner == 1 {
        // Along W: one line per task, each output a short strided scan.
        let lines = GRAIN.div_ceil(axis.out.max(1));
        out.par_chunks_mut(axis.out)
            .with_min_len(lines)
            .enumerate()
            .for_each(|(line, dst)| {
                let src = &data[line * line_in..][..line_in];
                for (o, d) in dst.iter_mut().enumerate() {
                    let mut taps = (0..axis.kernel).filter_map(|k| axis.at(o, k));
                    // Every window holds an input voxel (padding is at most half the window).
                    let first = taps.next().map_or(T::ZERO, |i| src[i]);
                    *d = taps.fold(first, |best, i| {
                        let v = src[i];
                        if wins(v, best) {
                            v
                        } else {
                            best
                        }
                    });
                }
            });
        return out;
    }
    let rows = GRAIN.div_ceil(inner);
    out.par_chunks_mut(inner)
        .with_min_len(rows)
        .enumerate()
        .for_each(|(row, dst)| {
            let (line, o) = (row / axis.out, row % axis.out);
            let src = &data[line * line_in..][..line_in];
            let mut taps = (0..axis.kernel).filter_map(|k| axis.at(o, k));
            if let Some(first) = taps.next() {
                dst.copy_from_slice(&src[first * inner..][..inner]);
            }
            for i in taps {
                for (d, &v) in dst.iter_mut().zip(&src[i * inner..][..inner]) {
                    *d = if wins(v, *d) { v } else { *d };
                }
            }
        });
    out
}

/// Max pooling of `x` `[N, C, D, H, W]` (contiguous) to `out` `[N, C, Do, Ho, Wo]`.
pub(crate) fn forward<T: Real>(
    x: &[T],
    dims: [usize; 5],
    out: [usize; 5],
    o: &Pool3dOptions,
) -> Vec<T> {
    let [n, c, _, h, w] = dims;
    let [_, _, od, oh, _] = out;
    let [ad, ah, aw] = axes(dims, out, o);
    // Each pass's buffer is dropped once the next is made: at most two are alive.
    let depth = max_along(x, n * c, h * w, ad);
    let height = max_along(&depth, n * c * od, w, ah);
    drop(depth);
    max_along(&height, n * c * od * oh, 1, aw)
}

/// Each output's arg-max as an index into its `(n, c)` volume, given the pooled values `y`.
///
/// PyTorch's rule (the running max starts at -inf and a tap in `(d, h, w)` order replaces it
/// when larger or NaN) picks the first tap equal to the window's max, or the last NaN when the
/// max is NaN: a scan that stops at the first match, with no data-dependent select per tap.
fn arg_max<T: Real>(
    x: &[T],
    y: &[T],
    dims: [usize; 5],
    out: [usize; 5],
    o: &Pool3dOptions,
) -> Vec<usize> {
    let [_, _, d, h, w] = dims;
    let [_, _, od, oh, ow] = out;
    let [ad, ah, aw] = axes(dims, out, o);
    let mut index = vec![0usize; out.iter().product()];
    index
        .par_chunks_mut(ow)
        .zip(y.par_chunks(ow))
        .with_min_len(GRAIN.div_ceil(ow * ad.kernel * ah.kernel * aw.kernel))
        .enumerate()
        .for_each(|(row, (index, y))| {
            let (volume, row) = (row / (od * oh), row % (od * oh));
            let (z_out, y_out) = (row / oh, row % oh);
            let src = &x[volume * d * h * w..][..d * h * w];
            let lines: Vec<usize> = (0..ad.kernel)
                .filter_map(|kd| ad.at(z_out, kd))
                .flat_map(|z| (0..ah.kernel).filter_map(move |kh| Some((z, ah.at(y_out, kh)?))))
                .map(|(z, y)| (z * h + y) * w)
                .collect();
            for (x_out, (i, &target)) in index.iter_mut().zip(y).enumerate() {
                let taps = lines.iter().flat_map(|&line| {
                    (0..aw.kernel).filter_map(move |kw| Some(line + aw.at(x_out, kw)?))
                });
                let first = taps.clone().next().unwrap_or(0);
                let found = if target.is_nan() {
                    taps.filter(|&t| src[t].is_nan()).last()
                } else {
                    taps.clone().find(|&t| src[t] == target)
                };
                // The max is one of the window's voxels; -inf everywhere keeps the first.
                *i = found.unwrap_or(first);
            }
        });
    index
}

/// Gradient of [`forward`] with respect to `x`.
pub(crate) fn backward<T: Real>(
    x: &[T],
    y: &[T],
    grad_output: &[T],
    dims: [usize; 5],
    out: [usize; 5],
    o: &Pool3dOptions,
) -> Vec<T> {
    let [_, _, d, h, w] = dims;
    let [_, _, od, oh, ow] = out;
    let [ad, ..] = axes(dims, out, o);
    let index = arg_max(x, y, dims, out, o);
    let plane = h * w;
    let out_plane = oh * ow;
    let mut grad = vec![T::ZERO; x.len()];
    grad.par_chunks_mut(plane)
        .with_min_len(GRAIN.div_ceil(plane))
        .enumerate()
        .for_each(|(p, dst)| {
            let (volume, z) = (p / d, p % d);
            // Outputs in increasing (d, h, w) order, the order PyTorch accumulates in.
            let mut planes: Vec<usize> = ad.outputs_reading(z).collect();
            planes.sort_unstable();
            for z_out in planes {
                let at = (volume * od + z_out) * out_plane;
                let (index, g) = (&index[at..][..out_plane], &grad_output[at..][..out_plane]);
                let start = z * plane;
                for (&i, &g) in index.iter().zip(g) {
                    // `i` in this plane, without a division per output.
                    let at = i.wrapping_sub(start);
                    if at < plane {
                        dst[at] += g;
                    }
                }
            }
        });
    grad
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every window's max and arg-max by brute force over the box.
    fn brute(x: &[f64], dims: [usize; 5], out: [usize; 5], o: &Pool3dOptions) -> Vec<(f64, usize)> {
        let [n, c, d, h, w] = dims;
        let ax = axes(dims, out, o);
        let mut r = vec![];
        for v in 0..n * c {
            for zo in 0..out[2] {
                for yo in 0..out[3] {
                    for xo in 0..out[4] {
                        let mut best: Option<(f64, usize)> = None;
                        for kd in 0..ax[0].kernel {
                            for kh in 0..ax[1].kernel {
                                for kw in 0..ax[2].kernel {
                                    let (Some(z), Some(y), Some(xi)) =
                                        (ax[0].at(zo, kd), ax[1].at(yo, kh), ax[2].at(xo, kw))
                                    else {
                                        continue;
                                    };
                                    let i = (z * h + y) * w + xi;
                                    let val = x[v * d * h * w + i];
                                    if best.is_none_or(|(b, _)| wins(val, b)) {
                                        best = Some((val, i));
                                    }
                                }
                            }
                        }
                        r.push(best.unwrap());
                    }
                }
            }
        }
        r
    }

    #[test]
    fn separable_values_and_direct_arg_max_agree_with_brute_force_on_ties() {
        // Values from {0, 1, 2}: most windows tie, so the first-in-(d, h, w) rule decides.
        let dims = [1, 2, 7, 6, 9];
        let x: Vec<f64> = (0..dims.iter().product::<usize>())
            .map(|i| ((i * 7919 + 13) % 31 % 3) as f64)
            .collect();
        for o in [
            Pool3dOptions::new([3, 3, 3])
                .with_stride([2, 2, 2])
                .with_padding([1, 1, 1]),
            Pool3dOptions::new([2, 3, 2])
                .with_stride([2, 2, 3])
                .with_padding([0, 1, 1])
                .with_dilation([2, 1, 2])
                .with_ceil_mode(true),
        ] {
            let out = o.output_shape(&dims).unwrap();
            let want = brute(&x, dims, out, &o);
            let got = forward(&x, dims, out, &o);
            let index = arg_max(&x, &got, dims, out, &o);
            let plane = dims[2] * dims[3] * dims[4];
            let outputs = out[2] * out[3] * out[4];
            for (k, &(v, i)) in want.iter().enumerate() {
                assert_eq!(got[k], v, "value of output {k}, {o:?}");
                assert_eq!(index[k], i, "arg-max of output {k}, {o:?}");
                // Indices are within the (n, c) volume of the output.
                assert!(index[k] < plane && k / outputs < 2);
            }
        }
    }

    #[test]
    fn nan_wins_the_window() {
        let dims = [1, 1, 2, 2, 2];
        let mut x = vec![0.0f32; 8];
        x[5] = f32::NAN;
        x[6] = 9.0;
        let o = Pool3dOptions::new([2, 2, 2]);
        let out = o.output_shape(&dims).unwrap();
        assert!(forward(&x, dims, out, &o)[0].is_nan());
        let y = forward(&x, dims, out, &o);
        assert_eq!(arg_max(&x, &y, dims, out, &o), vec![5]);
    }
}
