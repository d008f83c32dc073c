//! Unfolding (im2col) and its adjoint (col2im), a tile of output rows at a time.
//!
//! The columns of a tile are a `[K, T]` matrix: one row per weight element `k = (ci, a, b,
//! c)` of a group (`K = C_in / groups * kD * kH * kW`, the weight's own layout), one column per
//! output voxel of the tile (`T` = whole output rows of `Wo` voxels). Row `k`, column `t` holds
//! the input voxel tap `(a, b, c)` of output voxel `t` reads in channel `ci`, or 0 in the
//! padding. Along W a row of taps is a contiguous copy when the stride is 1.

use std::ops::Range;

use super::matmul::Shared;
use crate::conv::ConvShape;
use crate::flex::taps::Real;

/// The outputs `o` in `0..out_len` whose tap `o * stride + offset` lies in `0..in_len`.
#[inline]
fn inside(out_len: usize, in_len: usize, stride: usize, offset: isize) -> Range<usize> {
    let (s, n) = (stride as isize, in_len as isize);
    let lo = if offset >= 0 {
        0
    } else {
        (-offset + s - 1) / s
    };
    let hi = if n - offset <= 0 {
        0
    } else {
        ((n - offset + s - 1) / s).min(out_len as isize)
    };
    let lo = (lo as usize).min(out_len);
    lo..(hi as usize).max(lo)
}

/// Input index of tap `k` of output `o` along an axis, unless it is in the padding.
#[inline]
fn tap(
    o: usize,
    k: usize,
    stride: usize,
    dilation: usize,
    padding: usize,
    len: usize,
) -> Option<usize> {
    (o * stride + k * dilation)
        .checked_sub(padding)
        .filter(|&i| i < len)
}

/// Calls `row(r, j, input_row_start)` for every `(ci, a, b)` (as `r = (ci * kD + a) * kH + b`)
/// and tile row `j`, in that order, with the start of the input row that D tap `a` and H tap
/// `b` of output row `rows.start + j` read in channel `ci` of the group's input (`None` where
/// the row is in the D or H padding). Both layouts, full unfolding and padded rows, walk this.
#[inline]
pub(super) fn for_each_input_row(
    s: &ConvShape,
    rows: &Range<usize>,
    mut row: impl FnMut(usize, usize, Option<usize>),
) {
    let [d, h, w] = s.input;
    let [k0, k1, _] = s.kernel;
    let ho_len = s.output[1];
    for ci in 0..s.in_channels / s.groups {
        for a in 0..k0 {
            for b in 0..k1 {
                let r = (ci * k0 + a) * k1 + b;
                for (j, index) in rows.clone().enumerate() {
                    let (od, oh) = (index / ho_len, index % ho_len);
                    let id = tap(od, a, s.stride[0], s.dilation[0], s.padding[0], d);
                    let ih = tap(oh, b, s.stride[1], s.dilation[1], s.padding[1], h);
                    let start = match (id, ih) {
                        (Some(id), Some(ih)) => Some(((ci * d + id) * h + ih) * w),
                        _ => None,
                    };
                    row(r, j, start);
                }
            }
        }
    }
}

/// Calls `row(k, j, input_row_start)` for every weight element `k` and tile row `j` whose
/// input row exists (`None` where the row is in the D or H padding), in `k` order.
#[inline]
fn for_each_row(
    s: &ConvShape,
    rows: &Range<usize>,
    mut row: impl FnMut(usize, usize, Option<usize>),
) {
    let k2 = s.kernel[2];
    for_each_input_row(s, rows, |r, j, start| {
        for c in 0..k2 {
            row(r * k2 + c, j, start);
        }
    });
}

/// The W taps of kernel column `c`: the outputs that read inside the row, and the input index
/// the first of them reads.
#[inline]
fn w_span(s: &ConvShape, c: usize) -> (Range<usize>, usize) {
    let offset = (c * s.dilation[2]) as isize - s.padding[2] as isize;
    let span = inside(s.output[2], s.input[2], s.stride[2], offset);
    let first = (span.start as isize * s.stride[2] as isize + offset).max(0) as usize;
    (span, first)
}

/// Fills `col` (`[K, T]`, `T = rows.len() * Wo`) with the taps of output rows `rows` of one
/// sample and group; `x` is that group's input `[C_in / groups, D, H, W]`.
pub(super) fn gather<T: Real>(x: &[T], s: &ConvShape, rows: Range<usize>, col: &mut [T]) {
    let wo = s.output[2];
    let t_len = rows.len() * wo;
    let spans: Vec<_> = (0..s.kernel[2]).map(|c| w_span(s, c)).collect();
    let stride = s.stride[2];
    for_each_row(s, &rows, |k, j, start| {
        let out = &mut col[k * t_len + j * wo..k * t_len + (j + 1) * wo];
        let Some(start) = start else {
            out.fill(T::ZERO);
            return;
        };
        let (span, first) = spans[k % s.kernel[2]].clone();
        out[..span.start].fill(T::ZERO);
        out[span.end..].fill(T::ZERO);
        let n = span.len();
        if stride == 1 {
            out[span].copy_from_slice(&x[start + first..start + first + n]);
        } else {
            let src = &x[start + first..];
            for (i, o) in out[span].iter_mut().enumerate() {
                *o = src[i * stride];
            }
        }
    });
}

/// The adjoint of [`gather`]: adds every column entry to the input voxel it was read from,
/// in the group's input gradient `[C_in / groups, D, H, W]` at `base` of `dx`.
///
/// # Safety
/// No other thread may access the input rows these output rows read while this runs.
pub(super) unsafe fn scatter<T: Real>(
    col: &[T],
    s: &ConvShape,
    rows: Range<usize>,
    dx: &Shared<T>,
    base: usize,
) {
    let wo = s.output[2];
    let t_len = rows.len() * wo;
    let spans: Vec<_> = (0..s.kernel[2]).map(|c| w_span(s, c)).collect();
    let stride = s.stride[2];
    for_each_row(s, &rows, |k, j, start| {
        let Some(start) = start else {
            return;
        };
        let (span, first) = spans[k % s.kernel[2]].clone();
        if span.is_empty() {
            return;
        }
        let src = &col[k * t_len + j * wo..k * t_len + (j + 1) * wo][span.clone()];
        // SAFETY: these voxels belong to rows only this thread touches (the caller's promise).
        let out = unsafe { dx.slice(base + start + first, (span.len() - 1) * stride + 1) };
        if stride == 1 {
            for (o, &v) in out.iter_mut().zip(src) {
                *o += v;
            }
        } else {
            for (i, &v) in src.iter().enumerate() {
                out[i * stride] += v;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::inside;

    #[test]
    fn inside_is_the_outputs_whose_tap_is_in_range() {
        for out_len in 1..6 {
            for in_len in 1..7 {
                for stride in 1..4 {
                    for offset in -5isize..5 {
                        let want: Vec<usize> = (0..out_len)
                            .filter(|&o| {
                                let i = (o * stride) as isize + offset;
                                i >= 0 && i < in_len as isize
                            })
                            .collect();
                        let got: Vec<usize> = inside(out_len, in_len, stride, offset).collect();
                        assert_eq!(got, want, "{out_len} {in_len} {stride} {offset}");
                    }
                }
            }
        }
    }
}
