//! PReLU on Flex: one task per `(sample, channel)` volume, each with its channel's slope.
//! Each volume's loop is compiled for the baseline and for AVX2 and chosen at run time
//! ([`Isa`]); both run the same operations in the same order.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::buffer::par_written;
use super::isa::Isa;
use super::taps::Real;

/// Independent f64 sums of the slope gradient, so that its loop vectorizes without
/// reassociating one long sum.
const LANES: usize = 8;

/// The slope of volume `plane` (`alpha` has one value, or one per channel).
fn slope<T: Real>(alpha: &[T], plane: usize, channels: usize) -> T {
    if alpha.len() == 1 {
        alpha[0]
    } else {
        alpha[plane % channels]
    }
}

#[inline(always)]
fn forward_volume<T: Real>(o: &mut [MaybeUninit<T>], x: &[T], a: T) {
    for (o, &v) in o.iter_mut().zip(x) {
        o.write(if v > T::ZERO { v } else { a * v });
    }
}

#[inline(always)]
fn backward_input_volume<T: Real>(o: &mut [MaybeUninit<T>], x: &[T], dy: &[T], a: T) {
    for ((o, &v), &g) in o.iter_mut().zip(x).zip(dy) {
        o.write(if v > T::ZERO { g } else { a * g });
    }
}

/// `sum(dy * x)` over the voxels of one volume with `x <= 0`. Branch-free: after a
/// normalization about half the voxels are negative, so a branch would be mispredicted half
/// the time (it was 6% of a U-Net training step).
#[inline(always)]
fn alpha_sum<T: Real>(x: &[T], dy: &[T]) -> f64 {
    let mut lanes = [0.0f64; LANES];
    let mut xs = x.chunks_exact(LANES);
    let mut gs = dy.chunks_exact(LANES);
    for (c, g) in (&mut xs).zip(&mut gs) {
        for i in 0..LANES {
            let p = (c[i] * g[i]).to_f64();
            lanes[i] += if c[i] <= T::ZERO { p } else { 0.0 };
        }
    }
    for (i, (&v, &g)) in xs.remainder().iter().zip(gs.remainder()).enumerate() {
        let p = (v * g).to_f64();
        lanes[i] += if v <= T::ZERO { p } else { 0.0 };
    }
    lanes.iter().sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn forward_volume_avx2<T: Real>(o: &mut [MaybeUninit<T>], x: &[T], a: T) {
    forward_volume(o, x, a)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn backward_input_volume_avx2<T: Real>(o: &mut [MaybeUninit<T>], x: &[T], dy: &[T], a: T) {
    backward_input_volume(o, x, dy, a)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn alpha_sum_avx2<T: Real>(x: &[T], dy: &[T]) -> f64 {
    alpha_sum(x, dy)
}

pub(super) fn forward<T: Real>(x: &[T], alpha: &[T], channels: usize, volume: usize) -> Vec<T> {
    let isa = Isa::detect();
    let fill = |p: usize, o: &mut [MaybeUninit<T>]| {
        let (x, a) = (&x[p * volume..][..o.len()], slope(alpha, p, channels));
        match isa {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Isa::Avx2` is only chosen when the CPU reports AVX2.
            Isa::Avx2 => unsafe { forward_volume_avx2(o, x, a) },
            Isa::Baseline => forward_volume(o, x, a),
        }
    };
    // SAFETY: `fill` writes a value for each value of its piece of `x`, which is as long as
    // the piece (the output is as long as `x`).
    unsafe { par_written(x.len(), volume, fill) }
}

pub(super) fn backward_input<T: Real>(
    x: &[T],
    alpha: &[T],
    dy: &[T],
    channels: usize,
    volume: usize,
) -> Vec<T> {
    assert_eq!(
        x.len(),
        dy.len(),
        "PReLU input and gradient differ in length"
    );
    let isa = Isa::detect();
    let fill = |p: usize, o: &mut [MaybeUninit<T>]| {
        let a = slope(alpha, p, channels);
        let (x, dy) = (&x[p * volume..][..o.len()], &dy[p * volume..][..o.len()]);
        match isa {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Isa::Avx2` is only chosen when the CPU reports AVX2.
            Isa::Avx2 => unsafe { backward_input_volume_avx2(o, x, dy, a) },
            Isa::Baseline => backward_input_volume(o, x, dy, a),
        }
    };
    // SAFETY: as in `forward`: the pieces of `x` and `dy` are as long as the output's.
    unsafe { par_written(x.len(), volume, fill) }
}

/// `sum(dy * x)` over the voxels with `x <= 0`, per channel (or over all, for one slope).
pub(super) fn backward_alpha<T: Real>(
    x: &[T],
    dy: &[T],
    slopes: usize,
    channels: usize,
    volume: usize,
) -> Vec<T> {
    let isa = Isa::detect();
    let per_plane: Vec<f64> = x
        .par_chunks(volume)
        .zip(dy.par_chunks(volume))
        .map(|(x, dy)| match isa {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Isa::Avx2` is only chosen when the CPU reports AVX2.
            Isa::Avx2 => unsafe { alpha_sum_avx2(x, dy) },
            Isa::Baseline => alpha_sum(x, dy),
        })
        .collect();
    let mut out = vec![0.0f64; slopes];
    for (p, s) in per_plane.into_iter().enumerate() {
        out[if slopes == 1 { 0 } else { p % channels }] += s;
    }
    out.into_iter().map(T::from_f64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The branch-free, lane-split sum against a plain loop in f64, on a volume whose length
    /// is not a multiple of the lanes, with zeros, NaN and infinite gradients where `x > 0`
    /// (which must not reach the sum).
    #[test]
    fn alpha_sum_equals_the_plain_sum() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        };
        let n = 1003;
        let mut x: Vec<f32> = (0..n).map(|_| next() as f32).collect();
        let mut dy: Vec<f32> = (0..n).map(|_| next() as f32).collect();
        x[5] = 0.0;
        x[17] = 0.5;
        dy[17] = f32::NAN;
        x[18] = 2.0;
        dy[18] = f32::INFINITY;
        let plain: f64 = x
            .iter()
            .zip(&dy)
            .filter(|(&v, _)| v <= 0.0)
            .map(|(&v, &g)| (v * g) as f64)
            .sum();
        for isa in [Isa::Baseline, Isa::detect()] {
            let got = match isa {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `Isa::detect` gave AVX2 only where the CPU has it.
                Isa::Avx2 => unsafe { alpha_sum_avx2(&x, &dy) },
                Isa::Baseline => alpha_sum(&x, &dy),
            };
            assert!(got.is_finite(), "{isa:?}: {got}");
            assert!(
                (got - plain).abs() <= 1e-12 * plain.abs().max(1.0),
                "{isa:?}: {got} vs {plain}"
            );
        }
    }
}
