//! How the input-gradient scatter is split across threads: per sample, or per block of rows
//! into private slabs within a memory budget, summed without atomics.

use rayon::prelude::*;

use super::super::buffer::zeroed;
use super::super::taps::Real;

/// Splits `s` into consecutive pieces of the given lengths.
pub(super) fn split_lengths<T>(
    mut s: &mut [T],
    lengths: impl IntoIterator<Item = usize>,
) -> Vec<&mut [T]> {
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
pub(super) fn scatter_rows<T: Real, F>(
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
                let mut buf = zeroed(slab);
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
