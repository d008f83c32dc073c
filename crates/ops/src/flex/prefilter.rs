//! The B-spline prefilter on Flex: every line along an axis solved by its Thomas factorization.
//! Lines are laid out as `[outer, len, inner]`; each step of a sweep updates one row of
//! `inner` contiguous values from its neighbour row, so the inner loop vectorizes.

use rayon::prelude::*;

use super::taps::Real;
use crate::bspline::Tridiagonal;

/// Rows at least this wide are split across threads within each step; narrower blocks run one
/// block per task.
const WIDE: usize = 4096;

/// The factorization's coefficients in `T`.
struct Coefficients<T> {
    sub: Vec<T>,
    inv_pivot: Vec<T>,
    upper: Vec<T>,
}

/// Solves `data` `[outer, len, inner]` in place along `len`.
pub(crate) fn solve_lines<T: Real>(data: &mut [T], len: usize, inner: usize, system: &Tridiagonal) {
    let c = Coefficients {
        sub: system.sub.iter().map(|&v| T::from_f64(v)).collect(),
        inv_pivot: system.inv_pivot.iter().map(|&v| T::from_f64(v)).collect(),
        upper: system.upper.iter().map(|&v| T::from_f64(v)).collect(),
    };
    let block = len * inner;
    if block == 0 {
        return;
    }
    if inner >= WIDE {
        for b in data.chunks_mut(block) {
            sweep(b, len, inner, &c, true);
        }
    } else {
        data.par_chunks_mut(block)
            .for_each(|b| sweep(b, len, inner, &c, false));
    }
}

/// Both sweeps over one block `[len, inner]`.
fn sweep<T: Real>(b: &mut [T], len: usize, inner: usize, c: &Coefficients<T>, wide: bool) {
    // `row = row * scale - other * weight`, split across threads when the rows are wide.
    let step = |row: &mut [T], other: Option<&[T]>, scale: T, weight: T| {
        let op = |r: &mut [T], o: Option<&[T]>| match o {
            Some(o) => {
                for (x, p) in r.iter_mut().zip(o) {
                    *x = (*x - weight * *p) * scale;
                }
            }
            None => {
                for x in r.iter_mut() {
                    *x = *x * scale;
                }
            }
        };
        if wide {
            match other {
                Some(o) => row
                    .par_chunks_mut(WIDE)
                    .zip(o.par_chunks(WIDE))
                    .for_each(|(r, o)| op(r, Some(o))),
                None => row.par_chunks_mut(WIDE).for_each(|r| op(r, None)),
            }
        } else {
            op(row, other);
        }
    };
    step(&mut b[..inner], None, c.inv_pivot[0], T::ZERO);
    for i in 1..len {
        let (done, rest) = b.split_at_mut(i * inner);
        let prev = &done[(i - 1) * inner..];
        step(&mut rest[..inner], Some(prev), c.inv_pivot[i], c.sub[i]);
    }
    for i in (0..len.saturating_sub(1)).rev() {
        let (head, next) = b.split_at_mut((i + 1) * inner);
        step(
            &mut head[i * inner..],
            Some(&next[..inner]),
            T::ONE,
            c.upper[i],
        );
    }
}
