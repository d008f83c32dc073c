//! Gathers for the interior runs of float32 affine rows (rotation, resampling on an oblique
//! grid): positions in f64 lanes, voxels read with `vgatherdps`, sixteen points at a time with
//! AVX-512 and eight with AVX2, whichever the CPU has (the widest first, the narrower one for
//! what is left). The generic block loops read voxels one scalar load at a time with a bounds
//! check each; here a block's eight trilinear corners are eight gathers.
//!
//! Both widths are one generic kernel over `x86::Lanes`: each result is the generic loop's to
//! the bit, with the same f64 positions (multiply, then add), the same truncation, clamps and
//! f32 rounding of the fractions, and the same lerps in the same order without FMA.
//! `crates/ops/tests/block_paths.rs` and this file's tests check it for each width.
//!
//! The safe entry points check everything the gathers rely on (the instruction set present,
//! every offset within the volume, i32 offsets), so no input reaches an out-of-bounds read.

use std::mem::MaybeUninit;

use super::forward::Row;

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

/// A vector width the gathers come in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Width {
    /// 512-bit vectors: sixteen points a block.
    Avx512,
    /// 256-bit vectors: eight points a block.
    Avx2,
}

impl Width {
    /// Both widths, widest first: what [`linear`] and [`nearest`] try.
    pub(super) const ALL: [Width; 2] = [Width::Avx512, Width::Avx2];

    /// Points per block.
    fn lanes(self) -> usize {
        match self {
            Width::Avx512 => 16,
            Width::Avx2 => 8,
        }
    }

    /// Whether this CPU runs this width's kernels.
    pub(super) fn present(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        return match self {
            Width::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            Width::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
        };
        #[cfg(not(target_arch = "x86_64"))]
        false
    }
}

/// Runs `kernel` on the whole blocks of each width of `widths` that the CPU has, in turn, on what
/// the wider ones left: `kernel(width, first point, points)`. Returns how many points were done.
fn by_width(
    widths: &[Width],
    lo: usize,
    out: &mut [MaybeUninit<f32>],
    mut kernel: impl FnMut(Width, usize, &mut [MaybeUninit<f32>]),
) -> usize {
    let mut done = 0;
    for &width in widths.iter().filter(|w| w.present()) {
        let blocked = (out.len() - done) / width.lanes() * width.lanes();
        if blocked > 0 {
            kernel(width, lo + done, &mut out[done..done + blocked]);
            done += blocked;
        }
    }
    done
}

/// Trilinear samples of the first whole blocks of points `lo..lo + out.len()` of `row` (all
/// inside the volume, as for the generic interior run). Returns how many points it wrote, from
/// the start of `out`: 0 where the CPU has neither width or the volume does not suit the
/// gathers; the caller does the rest. `out` need not be initialized: the output of a forward
/// pass is written once, never zeroed first.
pub(super) fn linear(volume: &[f32], row: &Row, lo: usize, out: &mut [MaybeUninit<f32>]) -> usize {
    linear_in(&Width::ALL, volume, row, lo, out)
}

/// [`linear`] with the widths to try.
pub(super) fn linear_in(
    widths: &[Width],
    volume: &[f32],
    row: &Row,
    lo: usize,
    out: &mut [MaybeUninit<f32>],
) -> usize {
    if !gatherable(volume.len(), row, 2) {
        return 0;
    }
    by_width(widths, lo, out, |width, lo, out| {
        // SAFETY: `by_width` hands out only widths the CPU has and whole blocks; `gatherable`
        // holds with sizes at least 2, so every clamped corner `o + plane + w + 1` with
        // `o <= len - plane - w - 2` is in the volume, and offsets fit in i32.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            match width {
                Width::Avx512 => x86::linear_avx512(volume, row, lo, out),
                Width::Avx2 => x86::linear_avx2(volume, row, lo, out),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (width, lo, out);
    })
}

/// Nearest samples of the first whole blocks of points `lo..lo + out.len()` of `row`, ties half
/// up or half to even. Returns how many points it wrote, as [`linear`].
pub(super) fn nearest(
    volume: &[f32],
    row: &Row,
    lo: usize,
    out: &mut [MaybeUninit<f32>],
    half_up: bool,
) -> usize {
    nearest_in(&Width::ALL, volume, row, lo, out, half_up)
}

/// [`nearest`] with the widths to try.
pub(super) fn nearest_in(
    widths: &[Width],
    volume: &[f32],
    row: &Row,
    lo: usize,
    out: &mut [MaybeUninit<f32>],
    half_up: bool,
) -> usize {
    if !gatherable(volume.len(), row, 1) {
        return 0;
    }
    by_width(widths, lo, out, |width, lo, out| {
        // SAFETY: `by_width` hands out only widths the CPU has and whole blocks; indices are
        // clamped to the volume, and offsets fit in i32 (`gatherable`).
        #[cfg(target_arch = "x86_64")]
        unsafe {
            match width {
                Width::Avx512 => x86::nearest_avx512(volume, row, lo, out, half_up),
                Width::Avx2 => x86::nearest_avx2(volume, row, lo, out, half_up),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (width, lo, out, half_up);
    })
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;
    use std::mem::MaybeUninit;

    use super::Row;

    /// One vector width's operations, as the kernels use them. Every method is inlined into a
    /// kernel compiled with the width's instruction set, so the intrinsics inline too. No
    /// closures here or in the generic kernels: a closure does not take on the kernel's
    /// instruction set, and intrinsics called from it become calls (10x slower).
    trait Lanes {
        /// Points per block.
        const N: usize;
        /// f32 lanes (samples, fractions).
        type F: Copy;
        /// i32 lanes (indices, offsets).
        type I: Copy;
        /// Half the lanes as f64 (positions).
        type D: Copy;

        /// The row's positions on one axis for points `x0 .. x0 + N`, as two f64 vectors: `base
        /// + step * x`, multiplied then added as the scalar loop does.
        unsafe fn positions(base: f64, step: f64, x0: f64) -> [Self::D; 2];
        /// `min(max(p, 0), last)`: `f64::clamp` for the finite positions of an interior run.
        unsafe fn clamp(p: Self::D, last: f64) -> Self::D;
        /// Truncates non-negative f64 (floor) to i32.
        unsafe fn truncate(p: [Self::D; 2]) -> Self::I;
        /// `p - i` rounded to f32, `i` the truncated `p`.
        unsafe fn fraction(p: [Self::D; 2], i: Self::I) -> Self::F;
        /// `floor(p + 0.5)` (ties half up), or the nearest integer, ties to even.
        unsafe fn round(p: Self::D, half_up: bool) -> Self::D;
        /// `min(p, last)`.
        unsafe fn at_most(p: Self::D, last: f64) -> Self::D;
        /// `(iz * h + iy) * w + ix`.
        unsafe fn offsets(ix: Self::I, iy: Self::I, iz: Self::I, h: i32, w: i32) -> Self::I;
        /// `min(o, max)` lane by lane.
        unsafe fn min_i(o: Self::I, max: i32) -> Self::I;
        /// `o + k` lane by lane.
        unsafe fn add_i(o: Self::I, k: i32) -> Self::I;
        /// `volume[o]` for each lane.
        unsafe fn gather(volume: *const f32, o: Self::I) -> Self::F;
        /// `a + (b - a) * t`, without FMA, as the scalar lerp.
        unsafe fn lerp(a: Self::F, b: Self::F, t: Self::F) -> Self::F;
        /// Writes the lanes to `out[..N]`.
        unsafe fn store(out: *mut f32, v: Self::F);
    }

    /// Lower corner indices (clamped to `last = n - 2`) and fractions of one axis, as the
    /// generic `corner_index`: `(p - i).clamp(0, 1)` rounded to f32.
    #[inline(always)]
    unsafe fn corners<L: Lanes>(p: [L::D; 2], last: f64) -> (L::I, L::F) {
        let i = L::truncate([L::clamp(p[0], last), L::clamp(p[1], last)]);
        (i, L::fraction(p, i))
    }

    /// The generic `round_index`: half up is `(c + 0.5) as i32` kept at `last`; half to even is
    /// the nearest-even rounding of the clamped position, which stays within it.
    #[inline(always)]
    unsafe fn nearest_index<L: Lanes>(p: [L::D; 2], last: f64, half_up: bool) -> L::I {
        L::truncate([
            nearest_position::<L>(p[0], last, half_up),
            nearest_position::<L>(p[1], last, half_up),
        ])
    }

    /// The rounded, clamped position of [`nearest_index`], still in f64.
    #[inline(always)]
    unsafe fn nearest_position<L: Lanes>(p: L::D, last: f64, half_up: bool) -> L::D {
        let r = L::round(L::clamp(p, last), half_up);
        if half_up {
            L::at_most(r, last)
        } else {
            r
        }
    }

    /// `volume[o] + (volume[o + 1] - volume[o]) * t`: one lerp along x.
    #[inline(always)]
    unsafe fn lerp_x<L: Lanes>(volume: *const f32, o: L::I, t: L::F) -> L::F {
        L::lerp(L::gather(volume, o), L::gather(volume, L::add_i(o, 1)), t)
    }

    /// # Safety
    /// `L`'s instruction set present; every size of `row.input` at least 2, `volume` holds
    /// `d * h * w` voxels and no more than `i32::MAX`; `out.len()` a multiple of `L::N`.
    #[inline(always)]
    unsafe fn linear<L: Lanes>(volume: &[f32], row: &Row, lo: usize, out: &mut [MaybeUninit<f32>]) {
        let [_, _, d, h, w] = row.input;
        let plane = h * w;
        let last = [w, h, d].map(|n| (n - 2) as f64);
        let max = (d * h * w - plane - w - 2) as i32;
        let (dy, dz) = (w as i32, plane as i32);
        let ptr = volume.as_ptr();
        for (b, block) in out.chunks_exact_mut(L::N).enumerate() {
            let x0 = (lo + b * L::N) as f64;
            let (ix, tx) = corners::<L>(L::positions(row.base[0], row.step[0], x0), last[0]);
            let (iy, ty) = corners::<L>(L::positions(row.base[1], row.step[1], x0), last[1]);
            let (iz, tz) = corners::<L>(L::positions(row.base[2], row.step[2], x0), last[2]);
            let o = L::min_i(L::offsets(ix, iy, iz, h as i32, w as i32), max);
            let o1 = L::add_i(o, dy);
            let o2 = L::add_i(o, dz);
            let o3 = L::add_i(o2, dy);
            let c00 = lerp_x::<L>(ptr, o, tx);
            let c01 = lerp_x::<L>(ptr, o1, tx);
            let c10 = lerp_x::<L>(ptr, o2, tx);
            let c11 = lerp_x::<L>(ptr, o3, tx);
            let v = L::lerp(L::lerp(c00, c01, ty), L::lerp(c10, c11, ty), tz);
            L::store(block.as_mut_ptr().cast(), v);
        }
    }

    /// # Safety
    /// `L`'s instruction set present; every size of `row.input` at least 1, `volume` holds
    /// `d * h * w` voxels and no more than `i32::MAX`; `out.len()` a multiple of `L::N`.
    #[inline(always)]
    unsafe fn nearest<L: Lanes>(
        volume: &[f32],
        row: &Row,
        lo: usize,
        out: &mut [MaybeUninit<f32>],
        half_up: bool,
    ) {
        let [_, _, d, h, w] = row.input;
        let last = [w, h, d].map(|n| (n - 1) as f64);
        let ptr = volume.as_ptr();
        for (b, block) in out.chunks_exact_mut(L::N).enumerate() {
            let x0 = (lo + b * L::N) as f64;
            let px = L::positions(row.base[0], row.step[0], x0);
            let py = L::positions(row.base[1], row.step[1], x0);
            let pz = L::positions(row.base[2], row.step[2], x0);
            let o = L::offsets(
                nearest_index::<L>(px, last[0], half_up),
                nearest_index::<L>(py, last[1], half_up),
                nearest_index::<L>(pz, last[2], half_up),
                h as i32,
                w as i32,
            );
            L::store(block.as_mut_ptr().cast(), L::gather(ptr, o));
        }
    }

    /// # Safety
    /// As [`linear`], with AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn linear_avx2(
        volume: &[f32],
        row: &Row,
        lo: usize,
        out: &mut [MaybeUninit<f32>],
    ) {
        linear::<Avx2>(volume, row, lo, out)
    }

    /// # Safety
    /// As [`linear`], with AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn linear_avx512(
        volume: &[f32],
        row: &Row,
        lo: usize,
        out: &mut [MaybeUninit<f32>],
    ) {
        linear::<Avx512>(volume, row, lo, out)
    }

    /// # Safety
    /// As [`nearest`], with AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn nearest_avx2(
        volume: &[f32],
        row: &Row,
        lo: usize,
        out: &mut [MaybeUninit<f32>],
        half_up: bool,
    ) {
        nearest::<Avx2>(volume, row, lo, out, half_up)
    }

    /// # Safety
    /// As [`nearest`], with AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn nearest_avx512(
        volume: &[f32],
        row: &Row,
        lo: usize,
        out: &mut [MaybeUninit<f32>],
        half_up: bool,
    ) {
        nearest::<Avx512>(volume, row, lo, out, half_up)
    }

    /// 256-bit lanes (AVX2).
    struct Avx2;

    impl Lanes for Avx2 {
        const N: usize = 8;
        type F = __m256;
        type I = __m256i;
        type D = __m256d;

        #[inline(always)]
        unsafe fn positions(base: f64, step: f64, x0: f64) -> [__m256d; 2] {
            let lanes = [
                _mm256_set_pd(3.0, 2.0, 1.0, 0.0),
                _mm256_set_pd(7.0, 6.0, 5.0, 4.0),
            ];
            let (b, s, x) = (
                _mm256_set1_pd(base),
                _mm256_set1_pd(step),
                _mm256_set1_pd(x0),
            );
            [
                _mm256_add_pd(b, _mm256_mul_pd(s, _mm256_add_pd(x, lanes[0]))),
                _mm256_add_pd(b, _mm256_mul_pd(s, _mm256_add_pd(x, lanes[1]))),
            ]
        }
        #[inline(always)]
        unsafe fn clamp(p: __m256d, last: f64) -> __m256d {
            _mm256_min_pd(_mm256_max_pd(p, _mm256_setzero_pd()), _mm256_set1_pd(last))
        }
        #[inline(always)]
        unsafe fn truncate(p: [__m256d; 2]) -> __m256i {
            _mm256_set_m128i(_mm256_cvttpd_epi32(p[1]), _mm256_cvttpd_epi32(p[0]))
        }
        #[inline(always)]
        unsafe fn fraction(p: [__m256d; 2], i: __m256i) -> __m256 {
            let lo = _mm256_sub_pd(p[0], _mm256_cvtepi32_pd(_mm256_castsi256_si128(i)));
            let hi = _mm256_sub_pd(p[1], _mm256_cvtepi32_pd(_mm256_extracti128_si256::<1>(i)));
            _mm256_set_m128(
                _mm256_cvtpd_ps(Self::clamp(hi, 1.0)),
                _mm256_cvtpd_ps(Self::clamp(lo, 1.0)),
            )
        }
        #[inline(always)]
        unsafe fn round(p: __m256d, half_up: bool) -> __m256d {
            if half_up {
                _mm256_floor_pd(_mm256_add_pd(p, _mm256_set1_pd(0.5)))
            } else {
                _mm256_round_pd::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(p)
            }
        }
        #[inline(always)]
        unsafe fn at_most(p: __m256d, last: f64) -> __m256d {
            _mm256_min_pd(p, _mm256_set1_pd(last))
        }
        #[inline(always)]
        unsafe fn offsets(ix: __m256i, iy: __m256i, iz: __m256i, h: i32, w: i32) -> __m256i {
            let (h, w) = (_mm256_set1_epi32(h), _mm256_set1_epi32(w));
            _mm256_add_epi32(
                _mm256_mullo_epi32(_mm256_add_epi32(_mm256_mullo_epi32(iz, h), iy), w),
                ix,
            )
        }
        #[inline(always)]
        unsafe fn min_i(o: __m256i, max: i32) -> __m256i {
            _mm256_min_epi32(o, _mm256_set1_epi32(max))
        }
        #[inline(always)]
        unsafe fn add_i(o: __m256i, k: i32) -> __m256i {
            _mm256_add_epi32(o, _mm256_set1_epi32(k))
        }
        #[inline(always)]
        unsafe fn gather(volume: *const f32, o: __m256i) -> __m256 {
            _mm256_i32gather_ps::<4>(volume, o)
        }
        #[inline(always)]
        unsafe fn lerp(a: __m256, b: __m256, t: __m256) -> __m256 {
            _mm256_add_ps(a, _mm256_mul_ps(_mm256_sub_ps(b, a), t))
        }
        #[inline(always)]
        unsafe fn store(out: *mut f32, v: __m256) {
            _mm256_storeu_ps(out, v)
        }
    }

    /// 512-bit lanes (AVX-512F).
    struct Avx512;

    impl Lanes for Avx512 {
        const N: usize = 16;
        type F = __m512;
        type I = __m512i;
        type D = __m512d;

        #[inline(always)]
        unsafe fn positions(base: f64, step: f64, x0: f64) -> [__m512d; 2] {
            let lanes = [
                _mm512_set_pd(7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0),
                _mm512_set_pd(15.0, 14.0, 13.0, 12.0, 11.0, 10.0, 9.0, 8.0),
            ];
            let (b, s, x) = (
                _mm512_set1_pd(base),
                _mm512_set1_pd(step),
                _mm512_set1_pd(x0),
            );
            [
                _mm512_add_pd(b, _mm512_mul_pd(s, _mm512_add_pd(x, lanes[0]))),
                _mm512_add_pd(b, _mm512_mul_pd(s, _mm512_add_pd(x, lanes[1]))),
            ]
        }
        #[inline(always)]
        unsafe fn clamp(p: __m512d, last: f64) -> __m512d {
            _mm512_min_pd(_mm512_max_pd(p, _mm512_setzero_pd()), _mm512_set1_pd(last))
        }
        #[inline(always)]
        unsafe fn truncate(p: [__m512d; 2]) -> __m512i {
            let lo = _mm512_castsi256_si512(_mm512_cvttpd_epi32(p[0]));
            _mm512_inserti64x4::<1>(lo, _mm512_cvttpd_epi32(p[1]))
        }
        #[inline(always)]
        unsafe fn fraction(p: [__m512d; 2], i: __m512i) -> __m512 {
            let lo = _mm512_sub_pd(p[0], _mm512_cvtepi32_pd(_mm512_castsi512_si256(i)));
            let hi = _mm512_sub_pd(p[1], _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64::<1>(i)));
            let lo = _mm256_castps_pd(_mm512_cvtpd_ps(Self::clamp(lo, 1.0)));
            let hi = _mm256_castps_pd(_mm512_cvtpd_ps(Self::clamp(hi, 1.0)));
            _mm512_castpd_ps(_mm512_insertf64x4::<1>(_mm512_castpd256_pd512(lo), hi))
        }
        #[inline(always)]
        unsafe fn round(p: __m512d, half_up: bool) -> __m512d {
            if half_up {
                let up = _mm512_add_pd(p, _mm512_set1_pd(0.5));
                _mm512_roundscale_pd::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(up)
            } else {
                _mm512_roundscale_pd::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(p)
            }
        }
        #[inline(always)]
        unsafe fn at_most(p: __m512d, last: f64) -> __m512d {
            _mm512_min_pd(p, _mm512_set1_pd(last))
        }
        #[inline(always)]
        unsafe fn offsets(ix: __m512i, iy: __m512i, iz: __m512i, h: i32, w: i32) -> __m512i {
            let (h, w) = (_mm512_set1_epi32(h), _mm512_set1_epi32(w));
            _mm512_add_epi32(
                _mm512_mullo_epi32(_mm512_add_epi32(_mm512_mullo_epi32(iz, h), iy), w),
                ix,
            )
        }
        #[inline(always)]
        unsafe fn min_i(o: __m512i, max: i32) -> __m512i {
            _mm512_min_epi32(o, _mm512_set1_epi32(max))
        }
        #[inline(always)]
        unsafe fn add_i(o: __m512i, k: i32) -> __m512i {
            _mm512_add_epi32(o, _mm512_set1_epi32(k))
        }
        #[inline(always)]
        unsafe fn gather(volume: *const f32, o: __m512i) -> __m512 {
            _mm512_i32gather_ps::<4>(o, volume)
        }
        #[inline(always)]
        unsafe fn lerp(a: __m512, b: __m512, t: __m512) -> __m512 {
            _mm512_add_ps(a, _mm512_mul_ps(_mm512_sub_ps(b, a), t))
        }
        #[inline(always)]
        unsafe fn store(out: *mut f32, v: __m512) {
            _mm512_storeu_ps(out, v)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::mem::MaybeUninit;

    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::super::forward::{linear_blocks, nearest_blocks, Row};
    use super::Width;
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

    /// The values of a test's output, every one of them set before the call.
    fn initialized(v: &[MaybeUninit<f32>]) -> Vec<f32> {
        // SAFETY: the tests make their outputs with `MaybeUninit::new`.
        v.iter().map(|v| unsafe { v.assume_init() }).collect()
    }

    /// The points the widths `widths` take of a run of `len`: whole blocks of each width the
    /// CPU has, the wider first.
    fn taken(widths: &[Width], len: usize) -> usize {
        widths
            .iter()
            .filter(|w| w.present())
            .fold(0, |done, w| done + (len - done) / w.lanes() * w.lanes())
    }

    /// Each width, and both together, write the generic block loops' values to the bit; a
    /// width the CPU lacks declines and writes nothing.
    #[test]
    fn gathers_equal_the_block_loops_to_the_bit() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut compared = [0usize; 3];
        let sets: [&[Width]; 3] = [&[Width::Avx2], &[Width::Avx512], &Width::ALL];
        for size in [[5, 7, 19], [2, 9, 3], [3, 2, 33]] {
            let (volume, rows) = rows(&mut rng, size);
            for (row, lo, len) in &rows {
                let mut want = vec![0f32; *len];
                linear_blocks(&volume, row, *lo, &mut want, Rounding::HalfToEven);
                for (set, widths) in sets.iter().enumerate() {
                    let mut got = vec![MaybeUninit::new(f32::NAN); *len];
                    let done = super::linear_in(widths, &volume, row, *lo, &mut got);
                    let got = initialized(&got);
                    assert_eq!(done, taken(widths, *len), "{widths:?}");
                    for (g, w) in got[..done].iter().zip(&want) {
                        assert_eq!(
                            g.to_bits(),
                            w.to_bits(),
                            "linear {widths:?} {size:?} lo {lo}: {g} vs {w}"
                        );
                    }
                    compared[set] += done;
                }
                for (rounding, half_up) in [(Rounding::HalfToEven, false), (Rounding::HalfUp, true)]
                {
                    let mut want = vec![0f32; *len];
                    nearest_blocks(&volume, row, *lo, &mut want, rounding);
                    for widths in sets {
                        let mut got = vec![MaybeUninit::new(f32::NAN); *len];
                        let done = super::nearest_in(widths, &volume, row, *lo, &mut got, half_up);
                        let got = initialized(&got);
                        assert_eq!(done, taken(widths, *len), "{widths:?}");
                        for (g, w) in got[..done].iter().zip(&want) {
                            assert_eq!(
                                g.to_bits(),
                                w.to_bits(),
                                "nearest {widths:?} {size:?} {rounding:?}"
                            );
                        }
                    }
                }
            }
        }
        for (set, widths) in sets.iter().enumerate() {
            let present = widths.iter().any(|w| w.present());
            assert!(
                !present || compared[set] > 1000,
                "{widths:?}: {} points compared",
                compared[set]
            );
        }
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
        let combos = [(Rounding::HalfToEven, false), (Rounding::HalfUp, true)]
            .into_iter()
            .flat_map(|r| Width::ALL.map(|w| (r, w)));
        for ((rounding, half_up), width) in combos {
            let mut got = vec![MaybeUninit::new(0f32); 40];
            let done = super::nearest_in(&[width], &volume, &row, 0, &mut got, half_up);
            let got = initialized(&got);
            assert_eq!(done, taken(&[width], 40));
            for (x, g) in got[..done].iter().enumerate() {
                let p = x as f64 * 0.5;
                let i = if half_up {
                    (p + 0.5).floor()
                } else {
                    p.round_ties_even()
                };
                assert_eq!(*g, i.min(15.0) as f32, "x {x} {rounding:?} {width:?}");
            }
        }
    }
}
