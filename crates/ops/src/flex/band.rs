//! A banded operator along one axis on Flex (the separable filters' kernel). Lines are laid out
//! as `[outer, len, inner]`. Where `inner` is wide (axes D and H) an output row of `inner`
//! values is a sum of `K` scaled input rows, each an axpy that vectorizes; along W (`inner` of
//! 1) each line is done tap by tap over its whole length, which vectorizes the same way.

use rayon::prelude::*;

use super::taps::Real;

/// Output rows per parallel task along D and H: enough work per task to amortize scheduling.
const ROWS_PER_TASK: usize = 8;

/// The weight of tap `t` for output `i` (source `i + t - r`, known to be inside the line):
/// `band[t, i]`, or for the transpose `band[K - 1 - t, i + t - r]`.
#[inline(always)]
fn weight<T: Real>(
    band: &[T],
    k: usize,
    len: usize,
    t: usize,
    i: usize,
    s: usize,
    transpose: bool,
) -> T {
    if transpose {
        band[(k - 1 - t) * len + s]
    } else {
        band[t * len + i]
    }
}

/// `y[o, i, j] = sum_t w(t, i) x[o, i + t - r, j]` over the taps whose source is inside the
/// line, with `band` `[k, len]` (`k` odd, `r = k / 2`); the transpose reads the band as its
/// adjoint. `x` is `[outer, len, inner]`, contiguous.
pub(crate) fn filter_lines<T: Real>(
    x: &[T],
    band: &[T],
    k: usize,
    len: usize,
    inner: usize,
    transpose: bool,
) -> Vec<T> {
    let mut y = vec![T::ZERO; x.len()];
    if x.is_empty() {
        return y;
    }
    let r = k / 2;
    if inner == 1 {
        y.par_chunks_mut(len)
            .zip(x.par_chunks(len))
            .for_each(|(yl, xl)| {
                for t in 0..k {
                    // Outputs whose source i + t - r lies in [0, len).
                    let lo = r.saturating_sub(t);
                    let hi = (len + r).saturating_sub(t).min(len);
                    if lo >= hi {
                        continue;
                    }
                    let sources = lo + t - r..hi + t - r;
                    let w = if transpose {
                        &band[(k - 1 - t) * len..][sources.clone()]
                    } else {
                        &band[t * len..][lo..hi]
                    };
                    for ((a, &b), &w) in yl[lo..hi].iter_mut().zip(&xl[sources]).zip(w) {
                        *a += w * b;
                    }
                }
            });
        return y;
    }
    let block = len * inner;
    y.par_chunks_mut(inner * ROWS_PER_TASK)
        .enumerate()
        .for_each(|(task, rows)| {
            for (n, yr) in rows.chunks_mut(inner).enumerate() {
                let row = task * ROWS_PER_TASK + n;
                let (o, i) = (row / len, row % len);
                for t in 0..k {
                    let Some(s) = (i + t).checked_sub(r).filter(|&s| s < len) else {
                        continue;
                    };
                    let w = weight(band, k, len, t, i, s, transpose);
                    if w == T::ZERO {
                        continue;
                    }
                    let xr = &x[o * block + s * inner..][..inner];
                    for (a, &b) in yr.iter_mut().zip(xr) {
                        *a += w * b;
                    }
                }
            }
        });
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The operator as a dense `[len, len]` matrix, from its definition.
    fn dense(band: &[f64], k: usize, len: usize) -> Vec<f64> {
        let r = k / 2;
        let mut m = vec![0.0; len * len];
        for i in 0..len {
            for t in 0..k {
                if let Some(s) = (i + t).checked_sub(r).filter(|&s| s < len) {
                    m[i * len + s] += band[t * len + i];
                }
            }
        }
        m
    }

    #[test]
    fn lines_and_rows_apply_the_band_and_its_transpose() {
        let (k, len) = (5, 7);
        let band: Vec<f64> = (0..k * len).map(|v| ((v * 37 % 11) as f64) - 4.0).collect();
        let m = dense(&band, k, len);
        for (outer, inner) in [(3, 1), (2, 4), (1, 9)] {
            let x: Vec<f64> = (0..outer * len * inner)
                .map(|v| ((v * 13 % 17) as f64) * 0.25 - 1.0)
                .collect();
            for transpose in [false, true] {
                let y = filter_lines(&x, &band, k, len, inner, transpose);
                for o in 0..outer {
                    for j in 0..inner {
                        for i in 0..len {
                            let want: f64 = (0..len)
                                .map(|s| {
                                    let w = if transpose {
                                        m[s * len + i]
                                    } else {
                                        m[i * len + s]
                                    };
                                    w * x[(o * len + s) * inner + j]
                                })
                                .sum();
                            let got = y[(o * len + i) * inner + j];
                            assert!(
                                (got - want).abs() < 1e-12,
                                "{outer} {inner} {transpose}: {got} vs {want}"
                            );
                        }
                    }
                }
            }
        }
    }
}
