//! 3D convolution on Flex: tiles of unfolded input times the weights, through `gemm`.
//!
//! Per sample and group the convolution is `Y = W X`, with `W` the weights as a `[C_out / g,
//! K]` matrix (their own memory layout) and `X` the unfolded input `[K, Do * Ho * Wo]`. `X`
//! is `K` times larger than the input (27x for a 3x3x3 kernel), so it is built a tile of output
//! rows at a time, sized to stay in the L2 cache, and multiplied at once. A 1x1x1 kernel with
//! stride 1 and no padding needs no unfolding: the input is already `X`.
//!
//! - Forward: each tile is written with the bias and accumulated into by one GEMM; tiles of
//!   every sample and group run in parallel.
//! - Weight gradient: `dW += dY_tile X_tile^T`, one GEMM per tile with the whole group's
//!   channels, accumulated per thread and summed at the end (`threads x weight` of memory).
//! - Input gradient: `dX_tile = W^T dY_tile`, scattered back through the adjoint of the
//!   unfolding. Tiles whose input footprints overlap would add to the same voxels, so output
//!   depth is cut into slabs thick enough that slab `i` and slab `i + 2` never share an input
//!   plane, and the even slabs run in parallel, then the odd ones.

mod columns;
mod matmul;
mod rows;

use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::ops::Range;

use rayon::prelude::*;

use self::columns::{gather, scatter};
use self::matmul::{matmul_into, MatRef, Shared};
use self::rows::RowLayout;
use super::buffer::par_written;
use super::taps::Real;
use crate::conv::ConvShape;

/// Elements of one tile's columns: 256 Ki elements (1 MiB in f32) leaves half of a 2 MiB L2 to
/// the weights and the output tile.
const TILE_ELEMENTS: usize = 1 << 18;

/// Fewest output voxels a tile is split down to for parallelism.
const MIN_TILE: usize = 64;

thread_local! {
    /// Each thread's column buffer, kept between tiles and calls: buffers of a megabyte are
    /// mapped and unmapped by the allocator, and the page faults and TLB shootdowns of doing that
    /// per tile cost a tenth of the backward pass.
    static SCRATCH: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on this thread's scratch buffer of `len` elements of `T` (contents unspecified).
fn with_scratch<T: Real, R>(len: usize, f: impl FnOnce(&mut [T]) -> R) -> R {
    let bytes = len * std::mem::size_of::<T>();
    let run = |buf: &mut Vec<f64>| {
        let words = bytes.div_ceil(8);
        if buf.len() < words {
            buf.resize(words, 0.0);
        }
        let raw: &mut [u8] = bytemuck::cast_slice_mut(&mut buf[..words]);
        f(bytemuck::cast_slice_mut(&mut raw[..bytes]))
    };
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => run(&mut buf),
        // Only if a caller nests: a buffer of its own.
        Err(_) => run(&mut Vec::new()),
    })
}

/// Sizes derived from a [`ConvShape`].
#[derive(Clone, Copy, Debug)]
struct Plan {
    s: ConvShape,
    /// Input and output channels per group.
    c_in: usize,
    c_out: usize,
    /// Rows of the unfolded input: `c_in * kD * kH * kW`.
    k: usize,
    /// Voxels per input and per output channel.
    v_in: usize,
    v_out: usize,
    /// Output rows (of `Wo` voxels) per tile.
    tile_rows: usize,
    /// The padded-row layout, where it is cheaper than unfolding every tap (see [`rows`]).
    layout: Option<RowLayout>,
    /// The unfolding is the identity (1x1x1 kernel, stride 1, no padding, as many input as
    /// output voxels).
    pointwise: bool,
}

impl Plan {
    fn new(s: &ConvShape) -> Self {
        let c_in = s.in_channels / s.groups;
        let k = c_in * s.kernel.iter().product::<usize>();
        let wo = s.output[2];
        let rows = s.output[0] * s.output[1];
        let c_out = s.out_channels / s.groups;
        let pointwise =
            s.kernel == [1; 3] && s.stride == [1; 3] && s.padding == [0; 3] && s.input == s.output;
        let layout = RowLayout::choose(s).filter(|_| !pointwise);
        let per_row = match layout {
            Some(l) => l.scratch(s, c_out, 1),
            None => k * wo,
        };
        let mut tile_rows = (TILE_ELEMENTS / per_row.max(1)).clamp(1, rows.max(1));
        // Enough tiles for every thread several times over, but not so narrow that the weights
        // (read once per tile: 28 MB for 512 -> 512 channels) cost more than the columns.
        let want = 4 * rayon::current_num_threads();
        let tasks = |r: usize| s.batch * s.groups * rows.div_ceil(r);
        while tile_rows > 1 && tasks(tile_rows) < want && tile_rows.div_ceil(2) * wo >= MIN_TILE {
            tile_rows = tile_rows.div_ceil(2);
        }
        Self {
            s: *s,
            c_in,
            c_out,
            k,
            v_in: s.input.iter().product(),
            v_out: s.output.iter().product(),
            tile_rows,
            layout,
            // (A transposed convolution's output padding can make the input longer.)
            pointwise,
        }
    }

    fn wo(&self) -> usize {
        self.s.output[2]
    }

    /// Tiles of the output rows `rows` (a range of `(od, oh)` rows).
    fn tiles(&self, rows: Range<usize>) -> impl Iterator<Item = Range<usize>> {
        let step = self.tile_rows;
        rows.clone()
            .step_by(step)
            .map(move |r| r..(r + step).min(rows.end))
    }

    /// Every `(sample, group, tile rows)` of the output.
    fn tasks(&self) -> Vec<(usize, usize, Range<usize>)> {
        let rows = self.s.output[0] * self.s.output[1];
        let mut tasks = Vec::new();
        for n in 0..self.s.batch {
            for g in 0..self.s.groups {
                tasks.extend(self.tiles(0..rows).map(|r| (n, g, r)));
            }
        }
        tasks
    }

    /// Offset of group `g`'s first input channel of sample `n`.
    fn input_base(&self, n: usize, g: usize) -> usize {
        (n * self.s.in_channels + g * self.c_in) * self.v_in
    }

    /// Offset of group `g`'s first output channel of sample `n`, at output row `row`.
    fn output_base(&self, n: usize, g: usize, row: usize) -> usize {
        (n * self.s.out_channels + g * self.c_out) * self.v_out + row * self.wo()
    }

    /// Group `g`'s weights as a `[C_out / g, K]` matrix.
    fn weights<'a, T>(&self, w: &'a [T], g: usize) -> MatRef<'a, T> {
        MatRef::new(
            w,
            g * self.c_out * self.k,
            [self.c_out, self.k],
            [self.k, 1],
        )
    }

    /// Group `g`'s weights transposed, `[K, C_out / g]`.
    fn weights_t<'a, T>(&self, w: &'a [T], g: usize) -> MatRef<'a, T> {
        MatRef::new(
            w,
            g * self.c_out * self.k,
            [self.k, self.c_out],
            [1, self.k],
        )
    }

    /// The output gradient of one tile, `[C_out / g, T]`.
    fn grad_tile<'a, T>(
        &self,
        dy: &'a [T],
        n: usize,
        g: usize,
        rows: &Range<usize>,
    ) -> MatRef<'a, T> {
        let t = rows.len() * self.wo();
        MatRef::new(
            dy,
            self.output_base(n, g, rows.start),
            [self.c_out, t],
            [self.v_out, 1],
        )
    }

    /// Scratch elements [`Self::columns`] needs for a tile of `rows`.
    fn scratch(&self, rows: &Range<usize>) -> usize {
        match self.layout {
            _ if self.pointwise => 0,
            Some(l) => l.scratch(&self.s, self.c_out, rows.len()),
            None => self.k * rows.len() * self.wo(),
        }
    }

    /// Group `g`'s input of sample `n`, `[C_in / g, D, H, W]`.
    fn group_input<'a, T>(&self, x: &'a [T], n: usize, g: usize) -> &'a [T] {
        let base = self.input_base(n, g);
        &x[base..base + self.c_in * self.v_in]
    }

    /// The unfolded input of one tile, `[K, T]`, or its transpose: the input itself for a
    /// pointwise convolution, else `col` filled by [`gather`].
    fn columns<'a, T: Real>(
        &self,
        x: &'a [T],
        n: usize,
        g: usize,
        rows: &Range<usize>,
        col: &'a mut [T],
        transpose: bool,
    ) -> MatRef<'a, T> {
        let t = rows.len() * self.wo();
        let (data, offset, stride) = if self.pointwise {
            (x, self.input_base(n, g) + rows.start * self.wo(), self.v_in)
        } else {
            let col = &mut col[..self.k * t];
            gather(self.group_input(x, n, g), &self.s, rows.clone(), col);
            (&*col, 0, t)
        };
        if transpose {
            MatRef::new(data, offset, [t, self.k], [1, stride])
        } else {
            MatRef::new(data, offset, [self.k, t], [stride, 1])
        }
    }
}

/// `y = conv(x, w) + bias`, `x` `[N, C_in, D, H, W]`, `w` `[C_out, C_in / g, kD, kH, kW]`.
pub(super) fn forward<T: Real>(x: &[T], w: &[T], bias: &[T], s: &ConvShape) -> Vec<T> {
    forward_with(&Plan::new(s), x, w, bias)
}

fn forward_with<T: Real>(p: &Plan, x: &[T], w: &[T], bias: &[T]) -> Vec<T> {
    let s = &p.s;
    let mut out = vec![T::ZERO; s.batch * s.out_channels * p.v_out];
    let shared = Shared::new(&mut out);
    p.tasks().into_par_iter().for_each(|(n, g, rows)| {
        let base = p.output_base(n, g, rows.start);
        if p.layout.is_some() {
            // The bias is added as the tile is written.
        } else {
            let t = rows.len() * p.wo();
            for co in 0..p.c_out {
                // SAFETY: each task owns its tile's rows of every channel of its group.
                let row = unsafe { shared.slice(base + co * p.v_out, t) };
                row.fill(bias[g * p.c_out + co]);
            }
        }
        with_scratch(p.scratch(&rows), |scratch| {
            if let Some(l) = p.layout {
                let (r, y) = l.split(s, rows.len(), scratch);
                l.gather(p.group_input(x, n, g), s, &rows, r);
                let (wg, tq) = (g * p.c_out * p.k, rows.len() * l.wq);
                for c in 0..s.kernel[2] {
                    let taps = l.taps(s, r, rows.len(), c, false);
                    let w_c = l.weights(s, w, wg, p.c_out, c, false);
                    matmul_into(y, 0, [tq, 1], w_c, taps, c > 0);
                }
                let bias = &bias[g * p.c_out..(g + 1) * p.c_out];
                // SAFETY: as above: the tile's rows are this task's alone.
                unsafe { l.write_output(y, s, rows.len(), &shared, base, bias) };
                return;
            }
            let cols = p.columns(x, n, g, &rows, scratch, false);
            // SAFETY: as above: the tile's rows are this task's alone.
            unsafe { shared.matmul(base, [p.v_out, 1], p.weights(w, g), cols, true) };
        });
    });
    out
}

/// Gradient with respect to the weight: `[C_out, C_in / g, kD, kH, kW]`.
pub(super) fn backward_weight<T: Real>(x: &[T], dy: &[T], s: &ConvShape) -> Vec<T> {
    backward_weight_with(&Plan::new(s), x, dy)
}

fn backward_weight_with<T: Real>(p: &Plan, x: &[T], dy: &[T]) -> Vec<T> {
    let s = &p.s;
    let tasks = p.tasks();
    let threads = rayon::current_num_threads().min(tasks.len()).max(1);
    let per = tasks.len().div_ceil(threads);
    let size = s.out_channels * p.k;
    let partials: Vec<Vec<T>> = tasks
        .par_chunks(per)
        .map(|chunk| {
            let mut dw = vec![T::ZERO; size];
            for (n, g, rows) in chunk {
                with_scratch(p.scratch(rows), |scratch| {
                    if let Some(l) = p.layout {
                        let (r, dy_q) = l.split(s, rows.len(), scratch);
                        l.gather(p.group_input(x, *n, *g), s, rows, r);
                        let dy_tile = &dy[p.output_base(*n, *g, rows.start)..];
                        l.read_grad(dy_tile, s, rows.len(), p.c_out, dy_q);
                        let t = rows.len() * l.wq;
                        let dy_q = MatRef::new(dy_q, 0, [p.c_out, t], [t, 1]);
                        for c in 0..s.kernel[2] {
                            let taps_t = l.taps(s, r, rows.len(), c, true);
                            let at = g * p.c_out * p.k + c;
                            matmul_into(&mut dw, at, [p.k, s.kernel[2]], dy_q, taps_t, true);
                        }
                        return;
                    }
                    let cols_t = p.columns(x, *n, *g, rows, scratch, true);
                    let dy_tile = p.grad_tile(dy, *n, *g, rows);
                    matmul_into(&mut dw, g * p.c_out * p.k, [p.k, 1], dy_tile, cols_t, true);
                });
            }
            dw
        })
        .collect();
    let mut partials = partials.into_iter();
    let mut dw = partials.next().unwrap_or_else(|| vec![T::ZERO; size]);
    for part in partials {
        for (a, b) in dw.iter_mut().zip(part) {
            *a += b;
        }
    }
    dw
}

/// Gradient with respect to the input: `[N, C_in, D, H, W]`, plus `bias` `[C_in]` where given
/// (the forward of a transposed convolution, whose output this is).
pub(super) fn backward_input<T: Real>(
    w: &[T],
    dy: &[T],
    s: &ConvShape,
    bias: Option<&[T]>,
) -> Vec<T> {
    backward_input_with(&Plan::new(s), w, dy, bias)
}

fn backward_input_with<T: Real>(p: &Plan, w: &[T], dy: &[T], bias: Option<&[T]>) -> Vec<T> {
    let s = &p.s;
    // Written, not `calloc`ed: the scatter's first touch of a page is a read, and a read of a
    // calloc'd page maps the shared zero page, so every page then faults again on its first
    // write and the kernel flushes the TLB of every core. One pass, in parallel.
    let fill = |nc: usize, plane: &mut [MaybeUninit<T>]| {
        plane.fill(MaybeUninit::new(
            bias.map_or(T::ZERO, |b| b[nc % s.in_channels]),
        ));
    };
    // SAFETY: `fill` writes every element of its piece.
    let mut dx = unsafe { par_written(s.batch * s.in_channels * p.v_in, p.v_in, fill) };
    let shared = Shared::new(&mut dx);
    if p.pointwise {
        // dX = W^T dY lands in place: input and output rows are the same voxels.
        p.tasks().into_par_iter().for_each(|(n, g, rows)| {
            let base = p.input_base(n, g) + rows.start * p.wo();
            let dy_tile = p.grad_tile(dy, n, g, &rows);
            let add = bias.is_some();
            // SAFETY: each task owns its tile's rows of its group's channels.
            unsafe { shared.matmul(base, [p.v_in, 1], p.weights_t(w, g), dy_tile, add) };
        });
        return dx;
    }
    // Slabs of output planes; slab i and i + 2 read disjoint input planes (see the module doc).
    let reach = s.dilation[0] * (s.kernel[0] - 1) + 1;
    let thickness = reach.div_ceil(s.stride[0]).saturating_sub(1).max(1);
    let planes = s.output[0];
    let slabs = planes.div_ceil(thickness);
    let ho = s.output[1];
    for phase in 0..2 {
        let tasks: Vec<(usize, usize, usize)> = (0..s.batch)
            .flat_map(|n| (0..s.groups).map(move |g| (n, g)))
            .flat_map(|(n, g)| (phase..slabs).step_by(2).map(move |i| (n, g, i)))
            .collect();
        tasks.into_par_iter().for_each(|(n, g, i)| {
            let planes = i * thickness..((i + 1) * thickness).min(planes);
            for rows in p.tiles(planes.start * ho..planes.end * ho) {
                let t = rows.len() * p.wo();
                if let Some(l) = p.layout {
                    with_scratch(p.scratch(&rows), |scratch: &mut [T]| {
                        let (r, dy_q) = l.split(s, rows.len(), scratch);
                        let dy_tile = &dy[p.output_base(n, g, rows.start)..];
                        l.read_grad(dy_tile, s, rows.len(), p.c_out, dy_q);
                        let tq = rows.len() * l.wq;
                        let dy_q = MatRef::new(dy_q, 0, [p.c_out, tq], [tq, 1]);
                        l.clear_for_accumulation(s, rows.len(), r);
                        for c in 0..s.kernel[2] {
                            let (at, strides) = l.taps_dst(s, rows.len(), c);
                            let w_t = l.weights(s, w, g * p.c_out * p.k, p.c_out, c, true);
                            matmul_into(r, at, strides, w_t, dy_q, c > 0);
                        }
                        // SAFETY: as below.
                        unsafe { l.scatter(r, s, &rows, &shared, p.input_base(n, g)) };
                    });
                    continue;
                }
                with_scratch(p.k * t, |col: &mut [T]| {
                    let dy_tile = p.grad_tile(dy, n, g, &rows);
                    matmul_into(col, 0, [t, 1], p.weights_t(w, g), dy_tile, false);
                    // SAFETY: the slab's input planes are read by no other slab of this
                    // phase, and other samples and groups are other channels.
                    unsafe { scatter(col, s, rows, &shared, p.input_base(n, g)) };
                });
            }
        });
    }
    dx
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in [-1, 1).
    fn values(len: usize, seed: u64) -> Vec<f64> {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 11) as f64 / (1u64 << 52) as f64 - 1.0
            })
            .collect()
    }

    fn shape(input: [usize; 5], weight: [usize; 5], o: crate::Conv3dOptions) -> ConvShape {
        ConvShape::new(&input, &weight, &o).unwrap()
    }

    /// The padded-row layout against unfolding every tap, all three kernels, on shapes where
    /// the cost rule would and would not pick it: strides, padding beyond the kernel's
    /// reach, dilation, groups, non-cubic kernels, several tiles and slabs.
    #[test]
    fn padded_rows_equal_unfolding() {
        let o = crate::Conv3dOptions::default();
        let cases = [
            shape([2, 3, 5, 6, 17], [4, 3, 3, 3, 3], o.with_padding([1; 3])),
            shape(
                [1, 2, 7, 5, 16],
                [3, 2, 3, 3, 3],
                o.with_stride([2; 3]).with_padding([1; 3]),
            ),
            shape(
                [1, 4, 6, 7, 13],
                [6, 2, 3, 2, 4],
                o.with_stride([1, 2, 3])
                    .with_padding([0, 1, 5])
                    .with_groups(2),
            ),
            shape(
                [2, 2, 9, 8, 15],
                [2, 2, 3, 3, 3],
                o.with_padding([2; 3]).with_dilation([2; 3]),
            ),
            shape(
                [1, 1, 11, 10, 19],
                [4, 1, 7, 7, 7],
                o.with_stride([2; 3]).with_padding([3; 3]),
            ),
            shape(
                [1, 16, 40, 12, 24],
                [8, 16, 3, 3, 3],
                o.with_padding([1; 3]),
            ),
        ];
        for (i, s) in cases.iter().enumerate() {
            let unfold = Plan {
                layout: None,
                ..Plan::new(s)
            };
            let mut rows = Plan {
                layout: Some(RowLayout::new(s)),
                ..Plan::new(s)
            };
            // Small tiles too: several per slab.
            rows.tile_rows = rows.tile_rows.min(3);
            let x = values(s.input_dims().iter().product(), 1 + i as u64);
            let w = values(s.weight_dims().iter().product(), 100 + i as u64);
            let b = values(s.out_channels, 200 + i as u64);
            let dy = values(s.output_dims().iter().product(), 300 + i as u64);
            let pairs = [
                (
                    forward_with(&unfold, &x, &w, &b),
                    forward_with(&rows, &x, &w, &b),
                ),
                (
                    backward_weight_with(&unfold, &x, &dy),
                    backward_weight_with(&rows, &x, &dy),
                ),
                (
                    backward_input_with(&unfold, &w, &dy, None),
                    backward_input_with(&rows, &w, &dy, None),
                ),
                (
                    backward_input_with(&unfold, &w, &dy, Some(&x[..s.in_channels])),
                    backward_input_with(&rows, &w, &dy, Some(&x[..s.in_channels])),
                ),
            ];
            for (k, (a, b)) in pairs.iter().enumerate() {
                assert_eq!(a.len(), b.len());
                let e = a
                    .iter()
                    .zip(b)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max);
                assert!(e < 1e-12, "case {i} kernel {k}: max error {e:e} ({s:?})");
            }
        }
    }
}
