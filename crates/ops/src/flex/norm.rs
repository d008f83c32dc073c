//! Instance normalization on Flex: one task per `(sample, channel)` volume, two passes each
//! way. Sums run in f64 around a shift (the volume's first value), in eight independent lanes
//! so that the loop vectorizes without reassociating one long sum. Each volume's kernel is
//! compiled for the baseline and for AVX2 and chosen at run time ([`Isa`]); both run the same
//! operations in the same order (no FMA), so the results do not depend on the CPU.

use std::mem::MaybeUninit;

use super::buffer::par_written;
use super::isa::Isa;
use super::taps::Real;

const LANES: usize = 8;

/// `(shift, [sum of d, sum of d^2, sum of dy, sum of dy d])` with `d = x - shift`; the `dy`
/// sums are 0 without `dy`.
#[inline(always)]
fn sums<T: Real>(x: &[T], dy: Option<&[T]>) -> (f64, [f64; 4]) {
    let shift = x.first().map_or(0.0, |v| v.to_f64());
    let mut acc = [[0.0f64; LANES]; 4];
    let mut add = |i: usize, xv: T, g: Option<T>| {
        let d = xv.to_f64() - shift;
        acc[0][i] += d;
        acc[1][i] += d * d;
        if let Some(g) = g {
            let g = g.to_f64();
            acc[2][i] += g;
            acc[3][i] += g * d;
        }
    };
    match dy {
        None => {
            let mut chunks = x.chunks_exact(LANES);
            for c in &mut chunks {
                for (i, &v) in c.iter().enumerate() {
                    add(i, v, None);
                }
            }
            for (i, &v) in chunks.remainder().iter().enumerate() {
                add(i, v, None);
            }
        }
        Some(dy) => {
            let mut xs = x.chunks_exact(LANES);
            let mut gs = dy.chunks_exact(LANES);
            for (c, g) in (&mut xs).zip(&mut gs) {
                for i in 0..LANES {
                    add(i, c[i], Some(g[i]));
                }
            }
            for (i, (&v, &g)) in xs.remainder().iter().zip(gs.remainder()).enumerate() {
                add(i, v, Some(g));
            }
        }
    }
    (shift, acc.map(|lanes| lanes.iter().sum()))
}

/// `(mean, 1 / sqrt(variance + epsilon))` from [`sums`].
fn moments(shift: f64, s: &[f64; 4], count: usize, epsilon: f64) -> (f64, f64) {
    let m = count as f64;
    let mean_d = s[0] / m;
    let var = (s[1] / m - mean_d * mean_d).max(0.0);
    (shift + mean_d, 1.0 / (var + epsilon).sqrt())
}

/// One volume of the forward: `o = (x - mean) * rstd`.
#[inline(always)]
fn forward_volume<T: Real>(o: &mut [MaybeUninit<T>], x: &[T], epsilon: f64) {
    let (shift, s) = sums(x, None);
    let (mean, rstd) = moments(shift, &s, x.len(), epsilon);
    let (mean, rstd) = (T::from_f64(mean), T::from_f64(rstd));
    for (o, &v) in o.iter_mut().zip(x) {
        o.write((v - mean) * rstd);
    }
}

/// One volume of the backward: `dx = rstd (dy - mean(dy) - x_hat mean(dy x_hat))`.
#[inline(always)]
fn backward_volume<T: Real>(o: &mut [MaybeUninit<T>], x: &[T], dy: &[T], epsilon: f64) {
    let (shift, s) = sums(x, Some(dy));
    let m = x.len() as f64;
    let (mean, rstd) = moments(shift, &s, x.len(), epsilon);
    let mean_d = mean - shift;
    let mean_dy = s[2] / m;
    // mean(dy x_hat) = rstd (mean(dy d) - mean(d) mean(dy)).
    let mean_dy_xhat = rstd * (s[3] / m - mean_d * mean_dy);
    let (mean, rstd, mean_dy, slope) = (
        T::from_f64(mean),
        T::from_f64(rstd),
        T::from_f64(mean_dy),
        T::from_f64(rstd * mean_dy_xhat),
    );
    for ((o, &v), &g) in o.iter_mut().zip(x).zip(dy) {
        o.write(rstd * (g - mean_dy - (v - mean) * slope));
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn forward_volume_avx2<T: Real>(o: &mut [MaybeUninit<T>], x: &[T], epsilon: f64) {
    forward_volume(o, x, epsilon)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn backward_volume_avx2<T: Real>(o: &mut [MaybeUninit<T>], x: &[T], dy: &[T], epsilon: f64) {
    backward_volume(o, x, dy, epsilon)
}

/// Normalizes every `volume`-sized chunk of `x`.
pub(super) fn forward<T: Real>(x: &[T], volume: usize, epsilon: f64) -> Vec<T> {
    let isa = Isa::detect();
    let fill = |p: usize, o: &mut [MaybeUninit<T>]| {
        let x = &x[p * volume..][..o.len()];
        match isa {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Isa::Avx2` is only chosen when the CPU reports AVX2.
            Isa::Avx2 => unsafe { forward_volume_avx2(o, x, epsilon) },
            Isa::Baseline => forward_volume(o, x, epsilon),
        }
    };
    // SAFETY: `fill` writes a value for each value of its piece of `x`, which is as long as
    // the piece (the output is as long as `x`).
    unsafe { par_written(x.len(), volume, fill) }
}

/// The input gradient, per volume.
pub(super) fn backward<T: Real>(x: &[T], dy: &[T], volume: usize, epsilon: f64) -> Vec<T> {
    assert_eq!(
        x.len(),
        dy.len(),
        "normalization input and gradient differ in length"
    );
    let isa = Isa::detect();
    let fill = |p: usize, o: &mut [MaybeUninit<T>]| {
        let (x, dy) = (&x[p * volume..][..o.len()], &dy[p * volume..][..o.len()]);
        match isa {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Isa::Avx2` is only chosen when the CPU reports AVX2.
            Isa::Avx2 => unsafe { backward_volume_avx2(o, x, dy, epsilon) },
            Isa::Baseline => backward_volume(o, x, dy, epsilon),
        }
    };
    // SAFETY: as in `forward`: the pieces of `x` and `dy` are as long as the output's.
    unsafe { par_written(x.len(), volume, fill) }
}
