//! The padded-row layout: unfolding only the D and H taps, and taking the W taps as shifted
//! views of input rows padded once.
//!
//! [`gather`](super::columns::gather) copies every tap, `K = C_in kD kH kW` rows per output
//! row. Here each input row a tile reads is copied once per `(ci, a, b)`, padded with zeros to
//! `Wq * sW` elements (`Wq = ceil((W + 2 pW) / sW)`), into `R`, a `[C_in kD kH, rows * Wq * sW]`
//! matrix. Output voxel `(j, ow)` of the tile, as column `t = j Wq + ow`, then reads W tap `c`
//! at `R[r, sW t + c dW]`: for each `c` the taps are one strided view of `R`, so a convolution
//! is `kW` GEMMs over `R` with `K / kW` inner rows, `kW` times less copying. The price is
//! `Wq - Wo` extra columns per row whose results are discarded (the views run across the
//! padding into the next row), so the layout is used where that is small; the outputs and
//! output gradients live in the same `[C_out, rows * Wq]` shape (`Y'`), with zeros in those
//! columns for a gradient, so they add nothing.

use std::ops::Range;

use super::columns::for_each_input_row;
use super::matmul::{MatRef, Shared};
use crate::conv::ConvShape;
use crate::flex::taps::Real;

/// The sizes of the layout for one convolution.
#[derive(Clone, Copy, Debug)]
pub(super) struct RowLayout {
    /// Output columns per row, valid and discarded: `ceil((W + 2 pW) / sW)`.
    pub wq: usize,
    /// Rows of `R`: `C_in / groups * kD * kH`.
    pub k3: usize,
}

impl RowLayout {
    /// The layout for `s`, where it copies less than unfolding every tap and wastes at most an
    /// eighth of the GEMM work on discarded columns.
    pub fn choose(s: &ConvShape) -> Option<Self> {
        let l = Self::new(s);
        let (wo, kw, sw) = (s.output[2], s.kernel[2], s.stride[2]);
        let c_out = s.out_channels / s.groups;
        let copied = l.k3 * l.wq * sw + c_out * l.wq;
        let unfolded = l.k3 * kw * wo;
        (kw > 1 && (l.wq - wo) * 8 <= wo && copied < unfolded).then_some(l)
    }

    /// The layout for `s`, whatever it costs.
    pub fn new(s: &ConvShape) -> Self {
        Self {
            wq: (s.input[2] + 2 * s.padding[2]).div_ceil(s.stride[2]),
            k3: s.in_channels / s.groups * s.kernel[0] * s.kernel[1],
        }
    }

    /// Elements of one padded input row in `R`.
    fn row_len(&self, s: &ConvShape) -> usize {
        self.wq * s.stride[2]
    }

    /// Stride between rows of `R` for a tile of `rows` output rows: the rows' padded input rows
    /// and room for the discarded columns of the last one to read past them.
    fn r_stride(&self, s: &ConvShape, rows: usize) -> usize {
        rows * self.row_len(s) + (s.kernel[2] - 1) * s.dilation[2]
    }

    /// Scratch elements a tile of `rows` output rows needs: `R` and `Y'`.
    pub fn scratch(&self, s: &ConvShape, c_out: usize, rows: usize) -> usize {
        self.k3 * self.r_stride(s, rows) + c_out * rows * self.wq
    }

    /// Splits a tile's scratch into `R` and `Y'`.
    pub fn split<'a, T>(
        &self,
        s: &ConvShape,
        rows: usize,
        scratch: &'a mut [T],
    ) -> (&'a mut [T], &'a mut [T]) {
        scratch.split_at_mut(self.k3 * self.r_stride(s, rows))
    }

    /// W tap `c` of every `(ci, a, b)` for every column of the tile, `[K3, rows * Wq]`, or
    /// its transpose.
    pub fn taps<'a, T>(
        &self,
        s: &ConvShape,
        r: &'a [T],
        rows: usize,
        c: usize,
        transpose: bool,
    ) -> MatRef<'a, T> {
        let (stride, t) = (self.r_stride(s, rows), rows * self.wq);
        let offset = c * s.dilation[2];
        if transpose {
            MatRef::new(r, offset, [t, self.k3], [s.stride[2], stride])
        } else {
            MatRef::new(r, offset, [self.k3, t], [stride, s.stride[2]])
        }
    }

    /// Offset and strides of W tap `c`'s view of `R` as a destination.
    pub fn taps_dst(&self, s: &ConvShape, rows: usize, c: usize) -> (usize, [usize; 2]) {
        let stride = self.r_stride(s, rows);
        (c * s.dilation[2], [stride, s.stride[2]])
    }

    /// Prepares `R` for the input gradient's GEMMs to accumulate into: zeros wherever the first
    /// one (W tap 0, which overwrites) does not write.
    pub fn clear_for_accumulation<T: Real>(&self, s: &ConvShape, rows: usize, r: &mut [T]) {
        let stride = self.r_stride(s, rows);
        let r = &mut r[..self.k3 * stride];
        if s.stride[2] != 1 {
            r.fill(T::ZERO);
            return;
        }
        let written = rows * self.wq;
        for block in r.chunks_exact_mut(stride) {
            block[written..].fill(T::ZERO);
        }
    }

    /// Weights of W tap `c`, `[C_out / g, K3]` (or transposed), from group `g`'s `[C_out / g,
    /// K]` block at `base`.
    pub fn weights<'a, T>(
        &self,
        s: &ConvShape,
        w: &'a [T],
        base: usize,
        c_out: usize,
        c: usize,
        transpose: bool,
    ) -> MatRef<'a, T> {
        let (kw, k) = (s.kernel[2], self.k3 * s.kernel[2]);
        if transpose {
            MatRef::new(w, base + c, [self.k3, c_out], [kw, k])
        } else {
            MatRef::new(w, base + c, [c_out, self.k3], [k, kw])
        }
    }

    /// Calls `row(r_offset, input_row_start)` for every `(ci, a, b)` and tile row `j`, with the
    /// offset of its padded row in `R` and its input row's start in the group's input (`None`
    /// where the row is in the D or H padding).
    fn for_each_row(
        &self,
        s: &ConvShape,
        rows: &Range<usize>,
        mut row: impl FnMut(usize, Option<usize>),
    ) {
        let stride = self.r_stride(s, rows.len());
        let len = self.row_len(s);
        for_each_input_row(s, rows, |r, j, start| row(r * stride + j * len, start));
    }

    /// Fills `R` with the padded input rows of the tile's output rows `rows`, from one
    /// sample and group's input `x` `[C_in / groups, D, H, W]`.
    pub fn gather<T: Real>(&self, x: &[T], s: &ConvShape, rows: &Range<usize>, r: &mut [T]) {
        let (w, p, len) = (s.input[2], s.padding[2], self.row_len(s));
        self.for_each_row(s, rows, |at, start| {
            let dst = &mut r[at..at + len];
            match start {
                Some(start) => {
                    dst[..p].fill(T::ZERO);
                    dst[p..p + w].copy_from_slice(&x[start..start + w]);
                    dst[p + w..].fill(T::ZERO);
                }
                None => dst.fill(T::ZERO),
            }
        });
        // The discarded columns of the last row read past it: zeros, not stale scratch that
        // could hold NaNs (0 * NaN would reach the weight gradient).
        let stride = self.r_stride(s, rows.len());
        let used = rows.len() * len;
        for block in r[..self.k3 * stride].chunks_exact_mut(stride) {
            block[used..].fill(T::ZERO);
        }
    }

    /// The adjoint of [`Self::gather`]: adds each padded row's inner `W` elements to the input
    /// row it was read from, in the group's input gradient at `base` of `dx`.
    ///
    /// # Safety
    /// No other thread may access the input rows these output rows read while this runs.
    pub unsafe fn scatter<T: Real>(
        &self,
        r: &[T],
        s: &ConvShape,
        rows: &Range<usize>,
        dx: &Shared<T>,
        base: usize,
    ) {
        let (w, p) = (s.input[2], s.padding[2]);
        self.for_each_row(s, rows, |at, start| {
            if let Some(start) = start {
                // SAFETY: rows only this thread touches (the caller's promise).
                let out = unsafe { dx.slice(base + start, w) };
                for (o, &v) in out.iter_mut().zip(&r[at + p..at + p + w]) {
                    *o += v;
                }
            }
        });
    }

    /// `Y'` of a tile `[C_out / g, rows * Wq]` into the output rows it holds, plus `bias`:
    /// `out` is the output of one sample and group from the tile's first row (stride `Vo`
    /// between channels).
    ///
    /// # Safety
    /// No other thread may access the tile's output rows while this runs.
    pub unsafe fn write_output<T: Real>(
        &self,
        y: &[T],
        s: &ConvShape,
        rows: usize,
        out: &Shared<T>,
        base: usize,
        bias: &[T],
    ) {
        let (wo, v_out) = (s.output[2], s.output.iter().product::<usize>());
        for (co, &b) in bias.iter().enumerate() {
            // SAFETY: the tile's rows are this task's alone (the caller's promise).
            let dst = unsafe { out.slice(base + co * v_out, rows * wo) };
            let src = &y[co * rows * self.wq..(co + 1) * rows * self.wq];
            for (dst_row, src_row) in dst.chunks_exact_mut(wo).zip(src.chunks_exact(self.wq)) {
                for (d, &v) in dst_row.iter_mut().zip(src_row) {
                    *d = v + b;
                }
            }
        }
    }

    /// The output gradient of a tile in `Y'`'s shape, zeros in the discarded columns; `dy` is
    /// one sample and group's output gradient from the tile's first row.
    pub fn read_grad<T: Real>(
        &self,
        dy: &[T],
        s: &ConvShape,
        rows: usize,
        c_out: usize,
        dy_q: &mut [T],
    ) {
        let (wo, v_out) = (s.output[2], s.output.iter().product::<usize>());
        for co in 0..c_out {
            let src = &dy[co * v_out..co * v_out + rows * wo];
            let dst = &mut dy_q[co * rows * self.wq..(co + 1) * rows * self.wq];
            for (dst_row, src_row) in dst.chunks_exact_mut(self.wq).zip(src.chunks_exact(wo)) {
                dst_row[..wo].copy_from_slice(src_row);
                dst_row[wo..].fill(T::ZERO);
            }
        }
    }
}
