//! The linear backward of one output row, eight points at a time: the lanes of a block
//! strictly inside the volume take [`Corners`] (position gradient with gathers where the CPU
//! has them, scatter lane by lane, since lanes may hit the same voxel); the other lanes, and
//! the row's tail, take the general per-point path.

use super::super::isa::Isa;
use super::super::taps::Real;
use super::block::{Corners, LANES};

/// One output row of the backward: what its blocks read (one sample's input and
/// `grad_output`), its length and the scale of its position gradient.
pub(super) struct RowSource<'a, T> {
    /// The sample's `[C, D, H, W]` input; empty when no position gradient is wanted.
    pub input: &'a [T],
    /// The sample's `[C, Do * Ho * Wo]` output gradient.
    pub grad_output: &'a [T],
    /// `[N, C, D, H, W]` of the input.
    pub dims: [usize; 5],
    /// Index of the row's first point among the sample's points.
    pub first: usize,
    /// Points in the row (`Wo`).
    pub ow: usize,
    /// Derivative of the raw position with respect to the source coordinate, per axis.
    pub scale: [T; 3],
}

/// Which gradients a pass computes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Wanted {
    /// The input gradient (a scatter into `buf`).
    Input,
    /// The position gradient, written to `positions` as `[Wo, 3]` times `scale`.
    Positions,
    /// Both.
    Both,
}

/// The linear backward of one output row (`source`), compiled for `isa`. `at(x0)` gives
/// the raw positions of points `x0 .. x0 + LANES`; `general(x, buf)` does point `x` the
/// general way: scatters it into `buf` (when wanted) and returns its unscaled position
/// gradient.
pub(super) fn linear_row<T: Real, A, G>(
    isa: Isa,
    wanted: Wanted,
    source: &RowSource<'_, T>,
    at: &A,
    buf: &mut [T],
    positions: &mut [T],
    general: &G,
) where
    A: Fn(usize) -> [[T; 3]; LANES],
    G: Fn(usize, &mut [T]) -> [T; 3],
{
    macro_rules! run {
        ($scatter:literal, $grid:literal) => {{
            #[cfg(target_arch = "x86_64")]
            if isa == Isa::Avx2 {
                #[target_feature(enable = "avx2")]
                fn avx2<
                    T: Real,
                    A: Fn(usize) -> [[T; 3]; LANES],
                    G: Fn(usize, &mut [T]) -> [T; 3],
                >(
                    source: &RowSource<'_, T>,
                    at: &A,
                    buf: &mut [T],
                    positions: &mut [T],
                    general: &G,
                ) {
                    linear_blocks::<T, A, G, $scatter, $grid>(
                        Isa::Avx2,
                        source,
                        at,
                        buf,
                        positions,
                        general,
                    )
                }
                // SAFETY: `Isa::Avx2` is only chosen when the CPU reports AVX2.
                return unsafe { avx2(source, at, buf, positions, general) };
            }
            linear_blocks::<T, A, G, $scatter, $grid>(isa, source, at, buf, positions, general)
        }};
    }
    match wanted {
        Wanted::Input => run!(true, false),
        Wanted::Positions => run!(false, true),
        Wanted::Both => run!(true, true),
    }
}

/// The body of [`linear_row`] for one choice of gradients. Each channel's input gradient
/// receives the row's points in order (block lanes and general points alike), so the sums are
/// the general path's whatever mix of the two a block takes.
#[inline(always)]
fn linear_blocks<T: Real, A, G, const SCATTER: bool, const GRID: bool>(
    isa: Isa,
    source: &RowSource<'_, T>,
    at: &A,
    buf: &mut [T],
    positions: &mut [T],
    general: &G,
) where
    A: Fn(usize) -> [[T; 3]; LANES],
    G: Fn(usize, &mut [T]) -> [T; 3],
{
    let [_, channels, d, h, w] = source.dims;
    let (ow, scale) = (source.ow, source.scale);
    let size = [d, h, w];
    let voxels = d * h * w;
    let points = source.grad_output.len().checked_div(channels).unwrap_or(0);
    let finish = |x: usize, acc: [T; 3], positions: &mut [T]| {
        if GRID {
            for a in 0..3 {
                positions[x * 3 + a] = acc[a] * scale[a];
            }
        }
    };
    let blocked = ow / LANES * LANES;
    for x0 in (0..blocked).step_by(LANES) {
        let p = at(x0);
        let Some((inside, corners)) = Corners::of_block(isa, &p, size) else {
            for x in x0..x0 + LANES {
                let acc = general(x, buf);
                finish(x, acc, positions);
            }
            continue;
        };
        let grad = |c: usize| -> [T; LANES] {
            let g = &source.grad_output[c * points + source.first + x0..][..LANES];
            let mut masked = [T::ZERO; LANES];
            for l in 0..LANES {
                if inside[l] {
                    masked[l] = g[l];
                }
            }
            masked
        };
        let mut acc = [[T::ZERO; LANES]; 3];
        if GRID {
            for c in 0..channels {
                let volume = &source.input[c * voxels..(c + 1) * voxels];
                corners.position_gradient(isa, volume, size, &grad(c), &mut acc);
            }
        }
        for l in 0..LANES {
            if !inside[l] {
                let g = general(x0 + l, buf);
                for (a, g) in g.into_iter().enumerate() {
                    acc[a][l] = g;
                }
            } else if SCATTER {
                for c in 0..channels {
                    let g = source.grad_output[c * points + source.first + x0 + l];
                    if g != T::ZERO {
                        corners.scatter(l, &mut buf[c * voxels..(c + 1) * voxels], size, g);
                    }
                }
            }
        }
        for (l, x) in (x0..x0 + LANES).enumerate() {
            finish(x, [acc[0][l], acc[1][l], acc[2][l]], positions);
        }
    }
    for x in blocked..ow {
        let acc = general(x, buf);
        finish(x, acc, positions);
    }
}
