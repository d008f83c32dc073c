//! PReLU on Flex: one task per `(sample, channel)` volume, each with its channel's slope.

use rayon::prelude::*;

use super::taps::Real;

/// The slope of volume `plane` (`alpha` has one value, or one per channel).
fn slope<T: Real>(alpha: &[T], plane: usize, channels: usize) -> T {
    if alpha.len() == 1 {
        alpha[0]
    } else {
        alpha[plane % channels]
    }
}

pub(super) fn forward<T: Real>(x: &[T], alpha: &[T], channels: usize, volume: usize) -> Vec<T> {
    let mut out = vec![T::ZERO; x.len()];
    out.par_chunks_mut(volume)
        .zip(x.par_chunks(volume))
        .enumerate()
        .for_each(|(p, (o, x))| {
            let a = slope(alpha, p, channels);
            for (o, &v) in o.iter_mut().zip(x) {
                *o = if v > T::ZERO { v } else { a * v };
            }
        });
    out
}

pub(super) fn backward_input<T: Real>(
    x: &[T],
    alpha: &[T],
    dy: &[T],
    channels: usize,
    volume: usize,
) -> Vec<T> {
    let mut out = vec![T::ZERO; x.len()];
    out.par_chunks_mut(volume)
        .zip(x.par_chunks(volume).zip(dy.par_chunks(volume)))
        .enumerate()
        .for_each(|(p, (o, (x, dy)))| {
            let a = slope(alpha, p, channels);
            for ((o, &v), &g) in o.iter_mut().zip(x).zip(dy) {
                *o = if v > T::ZERO { g } else { a * g };
            }
        });
    out
}

/// `sum(dy * x)` over the voxels with `x <= 0`, per channel (or over all, for one slope).
pub(super) fn backward_alpha<T: Real>(
    x: &[T],
    dy: &[T],
    slopes: usize,
    channels: usize,
    volume: usize,
) -> Vec<T> {
    let per_plane: Vec<f64> = x
        .par_chunks(volume)
        .zip(dy.par_chunks(volume))
        .map(|(x, dy)| {
            let mut lanes = [0.0f64; 8];
            for (i, (&v, &g)) in x.iter().zip(dy).enumerate() {
                if v <= T::ZERO {
                    lanes[i % 8] += (v * g).to_f64();
                }
            }
            lanes.iter().sum()
        })
        .collect();
    let mut out = vec![0.0f64; slopes];
    for (p, s) in per_plane.into_iter().enumerate() {
        out[if slopes == 1 { 0 } else { p % channels }] += s;
    }
    out.into_iter().map(T::from_f64).collect()
}
