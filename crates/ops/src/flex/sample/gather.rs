//! AVX2 gathers for the interior runs of float32 affine rows (rotation, resampling on an
//! oblique grid): eight points at a time, positions in f64 lanes, voxels read with
//! `vgatherdps`. The generic block loops read voxels one scalar load at a time with a bounds
//! check each; here a block's eight trilinear corners are eight gathers.
//!
//! Each result is the generic loop's to the bit: the same f64 positions (multiply, then add),
//! the same truncation, clamps and f32 rounding of the fractions, and the same lerps in the same
//! order without FMA. `crates/ops/tests/block_paths.rs` checks it.
//!
//! The safe entry points check everything the gathers rely on (AVX2 present, every offset
//! within the volume, i32 offsets), so no input reaches an out-of-bounds read.

use super::forward::Row;

/// Points per block: one 256-bit vector of f32.
const LANES: usize = 8;

/// What the gathers need of a volume: every corner offset of a clamped index fits in i32 and
/// lies inside `volume`.
fn gatherable(volume_len: usize, row: &Row, min_size: usize) -> bool {
    let [_, _, d, h, w] = row.input;
    let finite = row.base.iter().chain(&row.step).all(|v| v.is_finite());
    finite
        && d >= min_size
        && h >= min_size
        && w >= min_size
        && volume_len >= d * h * w
        && volume_len <= i32::MAX as usize
}

/// Trilinear samples of the first whole blocks of points `lo..lo + out.len()` of `row` (all
/// inside the volume, as for the generic interior run). Returns how many points it wrote: 0
/// where the CPU has no AVX2 or the volume does not suit the gathers; the caller does the rest.
pub(super) fn linear(volume: &[f32], row: &Row, lo: usize, out: &mut [f32]) -> usize {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && gatherable(volume.len(), row, 2) {
        let blocked = out.len() / LANES * LANES;
        // SAFETY: AVX2 is present; `gatherable` holds (sizes at least 2, so every clamped
        // corner `o + plane + w + 1` with `o <= len - plane - w - 2` is in the volume, and
        // offsets fit in i32).
        unsafe { avx2::linear(volume, row, lo, &mut out[..blocked]) };
        return blocked;
    }
    let _ = (volume, row, lo, out);
    0
}

/// Nearest samples of the first whole blocks of points `lo..lo + out.len()` of `row`, ties half
/// up or half to even. Returns how many points it wrote, as [`linear`].
pub(super) fn nearest(
    volume: &[f32],
    row: &Row,
    lo: usize,
    out: &mut [f32],
    half_up: bool,
) -> usize {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && gatherable(volume.len(), row, 1) {
        let blocked = out.len() / LANES * LANES;
        // SAFETY: AVX2 is present; indices are clamped to the volume, offsets fit in i32.
        unsafe { avx2::nearest(volume, row, lo, &mut out[..blocked], half_up) };
        return blocked;
    }
    let _ = (volume, row, lo, out, half_up);
    0
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{Row, LANES};

    /// The row's positions on one axis for points `x0 .. x0 + 8`, as two f64 vectors: `base +
    /// step * x`, multiplied then added as the scalar loop does.
    #[inline(always)]
    unsafe fn positions(base: f64, step: f64, x0: f64) -> [__m256d; 2] {
        let lanes_lo = _mm256_set_pd(3.0, 2.0, 1.0, 0.0);
        let lanes_hi = _mm256_set_pd(7.0, 6.0, 5.0, 4.0);
        let (b, s, x) = (
            _mm256_set1_pd(base),
            _mm256_set1_pd(step),
            _mm256_set1_pd(x0),
        );
        [
            _mm256_add_pd(b, _mm256_mul_pd(s, _mm256_add_pd(x, lanes_lo))),
            _mm256_add_pd(b, _mm256_mul_pd(s, _mm256_add_pd(x, lanes_hi))),
        ]
    }

    /// `min(max(p, 0), last)`: `f64::clamp` for the finite positions of an interior run.
    #[inline(always)]
    unsafe fn clamp(p: __m256d, last: f64) -> __m256d {
        _mm256_min_pd(_mm256_max_pd(p, _mm256_setzero_pd()), _mm256_set1_pd(last))
    }

    /// Truncates two vectors of non-negative f64 (floor) into one vector of eight i32.
    #[inline(always)]
    unsafe fn to_i32(v: [__m256d; 2]) -> __m256i {
        _mm256_set_m128i(_mm256_cvttpd_epi32(v[1]), _mm256_cvttpd_epi32(v[0]))
    }

    /// Lower corner indices (clamped to `last = n - 2`) and fractions of one axis, as the
    /// generic `corner_index`: `(p - i).clamp(0, 1)` rounded to f32.
    #[inline(always)]
    unsafe fn corners(p: [__m256d; 2], last: f64) -> (__m256i, __m256) {
        let i = [clamp(p[0], last), clamp(p[1], last)].map(|c| _mm256_cvttpd_epi32(c));
        let frac = |k: usize| {
            let d = _mm256_sub_pd(p[k], _mm256_cvtepi32_pd(i[k]));
            _mm256_cvtpd_ps(clamp(d, 1.0))
        };
        (
            _mm256_set_m128i(i[1], i[0]),
            _mm256_set_m128(frac(1), frac(0)),
        )
    }

    /// `a + (b - a) * t`, without FMA, as the scalar lerp.
    #[inline(always)]
    unsafe fn lerp(a: __m256, b: __m256, t: __m256) -> __m256 {
        _mm256_add_ps(a, _mm256_mul_ps(_mm256_sub_ps(b, a), t))
    }

    /// # Safety
    /// AVX2 present; every size of `row.input` at least 2, `volume` holds `d * h * w` voxels
    /// and no more than `i32::MAX`; `out.len()` a multiple of 8.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn linear(volume: &[f32], row: &Row, lo: usize, out: &mut [f32]) {
        let [_, _, d, h, w] = row.input;
        let plane = h * w;
        let last = [w, h, d].map(|n| (n - 2) as f64);
        let max = _mm256_set1_epi32((d * h * w - plane - w - 2) as i32);
        let (hv, wv) = (_mm256_set1_epi32(h as i32), _mm256_set1_epi32(w as i32));
        let step = |k: usize| _mm256_set1_epi32(k as i32);
        let (dx, dy, dz) = (step(1), step(w), step(plane));
        let ptr = volume.as_ptr();
        for (b, block) in out.chunks_exact_mut(LANES).enumerate() {
            let x0 = (lo + b * LANES) as f64;
            let (ix, tx) = corners(positions(row.base[0], row.step[0], x0), last[0]);
            let (iy, ty) = corners(positions(row.base[1], row.step[1], x0), last[1]);
            let (iz, tz) = corners(positions(row.base[2], row.step[2], x0), last[2]);
            let o = _mm256_add_epi32(
                _mm256_mullo_epi32(_mm256_add_epi32(_mm256_mullo_epi32(iz, hv), iy), wv),
                ix,
            );
            let o = _mm256_min_epi32(o, max);
            let read = |off: __m256i| _mm256_i32gather_ps::<4>(ptr, off);
            let o1 = _mm256_add_epi32(o, dy);
            let o2 = _mm256_add_epi32(o, dz);
            let o3 = _mm256_add_epi32(o2, dy);
            let c00 = lerp(read(o), read(_mm256_add_epi32(o, dx)), tx);
            let c01 = lerp(read(o1), read(_mm256_add_epi32(o1, dx)), tx);
            let c10 = lerp(read(o2), read(_mm256_add_epi32(o2, dx)), tx);
            let c11 = lerp(read(o3), read(_mm256_add_epi32(o3, dx)), tx);
            let v = lerp(lerp(c00, c01, ty), lerp(c10, c11, ty), tz);
            _mm256_storeu_ps(block.as_mut_ptr(), v);
        }
    }

    /// # Safety
    /// AVX2 present; every size of `row.input` at least 1, `volume` holds `d * h * w` voxels
    /// and no more than `i32::MAX`; `out.len()` a multiple of 8.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn nearest(
        volume: &[f32],
        row: &Row,
        lo: usize,
        out: &mut [f32],
        half_up: bool,
    ) {
        let [_, _, d, h, w] = row.input;
        let last = [w, h, d].map(|n| (n - 1) as f64);
        let (hv, wv) = (_mm256_set1_epi32(h as i32), _mm256_set1_epi32(w as i32));
        let ptr = volume.as_ptr();
        // The generic `round_index`: half up is `(c + 0.5) as i32` kept at `last`; half to even
        // is the nearest-even rounding of the clamped position, which stays within it.
        let index = |p: [__m256d; 2], last: f64| {
            to_i32(p.map(|p| {
                let c = clamp(p, last);
                if half_up {
                    _mm256_min_pd(
                        _mm256_floor_pd(_mm256_add_pd(c, _mm256_set1_pd(0.5))),
                        _mm256_set1_pd(last),
                    )
                } else {
                    _mm256_round_pd::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(c)
                }
            }))
        };
        for (b, block) in out.chunks_exact_mut(LANES).enumerate() {
            let x0 = (lo + b * LANES) as f64;
            let ix = index(positions(row.base[0], row.step[0], x0), last[0]);
            let iy = index(positions(row.base[1], row.step[1], x0), last[1]);
            let iz = index(positions(row.base[2], row.step[2], x0), last[2]);
            let o = _mm256_add_epi32(
                _mm256_mullo_epi32(_mm256_add_epi32(_mm256_mullo_epi32(iz, hv), iy), wv),
                ix,
            );
            _mm256_storeu_ps(block.as_mut_ptr(), _mm256_i32gather_ps::<4>(ptr, o));
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::super::forward::{linear_blocks, nearest_blocks, Row};
    use crate::options::Rounding;

    /// Rows between two random points within half a voxel of the volume (the widest interior
    /// margin), on volumes with a size-2 axis and odd sizes, run lengths with and without a
    /// tail. Returns the volume and `(row, lo, len)` triples.
    fn rows(rng: &mut ChaCha8Rng, size: [usize; 3]) -> (Vec<f32>, Vec<(Row, usize, usize)>) {
        let [d, h, w] = size;
        let volume: Vec<f32> = (0..d * h * w)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let rows = (0..40)
            .map(|_| {
                let point = |rng: &mut ChaCha8Rng| {
                    [w, h, d].map(|n| rng.random_range(-0.49..n as f64 - 0.51))
                };
                let (p0, p1) = (point(rng), point(rng));
                let (lo, len) = (rng.random_range(0..50), rng.random_range(1..70));
                let step: [f64; 3] = core::array::from_fn(|a| (p1[a] - p0[a]) / len as f64);
                let base = core::array::from_fn(|a| p0[a] - step[a] * lo as f64);
                let row = Row {
                    base,
                    step,
                    input: [1, 1, d, h, w],
                };
                (row, lo, len)
            })
            .collect();
        (volume, rows)
    }

    /// The gathers write the generic block loops' values to the bit; on a CPU without AVX2 they
    /// decline and write nothing.
    #[test]
    fn gathers_equal_the_block_loops_to_the_bit() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let avx2 = std::arch::is_x86_feature_detected!("avx2");
        let mut compared = 0;
        for size in [[5, 7, 19], [2, 9, 3], [3, 2, 33]] {
            let (volume, rows) = rows(&mut rng, size);
            for (row, lo, len) in &rows {
                let mut want = vec![0f32; *len];
                let mut got = vec![f32::NAN; *len];
                linear_blocks(&volume, row, *lo, &mut want, Rounding::HalfToEven);
                let done = super::linear(&volume, row, *lo, &mut got);
                assert_eq!(done, if avx2 { len / 8 * 8 } else { 0 });
                for (g, w) in got[..done].iter().zip(&want) {
                    assert_eq!(
                        g.to_bits(),
                        w.to_bits(),
                        "linear {size:?} lo {lo}: {g} vs {w}"
                    );
                }
                for (rounding, half_up) in [(Rounding::HalfToEven, false), (Rounding::HalfUp, true)]
                {
                    nearest_blocks(&volume, row, *lo, &mut want, rounding);
                    let done = super::nearest(&volume, row, *lo, &mut got, half_up);
                    for (g, w) in got[..done].iter().zip(&want) {
                        assert_eq!(g.to_bits(), w.to_bits(), "nearest {size:?} {rounding:?}");
                    }
                }
                compared += done;
            }
        }
        assert!(!avx2 || compared > 1000, "{compared} points compared");
    }

    /// Positions exactly halfway between voxels round as the option says.
    #[test]
    fn gathered_nearest_ties_follow_the_rounding() {
        let volume: Vec<f32> = (0..2 * 2 * 16).map(|v| v as f32).collect();
        // x from 0 in steps of 0.5 (ties at every odd point), y = z = 0.
        let row = Row {
            base: [0.0; 3],
            step: [0.5, 0.0, 0.0],
            input: [1, 1, 2, 2, 16],
        };
        for (rounding, half_up) in [(Rounding::HalfToEven, false), (Rounding::HalfUp, true)] {
            let mut got = vec![0f32; 24];
            let done = super::nearest(&volume, &row, 0, &mut got, half_up);
            for (x, g) in got[..done].iter().enumerate() {
                let p = x as f64 * 0.5;
                let i = if half_up {
                    (p + 0.5).floor()
                } else {
                    p.round_ties_even()
                };
                assert_eq!(*g, i.min(15.0) as f32, "x {x} {rounding:?}");
            }
        }
    }
}
