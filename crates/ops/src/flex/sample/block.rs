//! A block of eight grid points strictly inside the volume on every axis (`0 < p < n - 1`),
//! where every padding rule leaves a linear sample's position as it is: no padding logic,
//! eight corner voxels a point. The forward's trilinear values and the backward's position
//! gradient and scatter of such a block, generic (lane by lane in arrays) and, for f32 on a
//! CPU with AVX2, with gathers (`vgatherdps`: a block's eight corners in eight instructions,
//! where the generic loop reads them one bounds-checked scalar at a time).
//!
//! Every value is the general per-point path's to the bit: the same products and sums in the
//! same order, without FMA, and a zero output gradient contributes nothing (as the general
//! path skips it). The unit tests below hold the gathers to the generic loops.
//!
//! The gathers' safe entry checks what they rely on (AVX2 present, `T` is f32, the volume's
//! length, sizes of at least 2, i32 offsets) and clamps every offset, so no input reaches an
//! out-of-bounds read.

use super::super::isa::Isa;
use super::super::taps::Real;

/// Points per block: one 256-bit vector of f32.
pub(super) const LANES: usize = 8;

/// The lanes of a block strictly inside a `[d, h, w]` volume, with each lane's raw position
/// `(x, y, z)`: `None` when no lane is inside.
#[inline(always)]
pub(super) fn inside_lanes<T: Real>(
    p: &[[T; 3]; LANES],
    size: [usize; 3],
) -> Option<[bool; LANES]> {
    let [d, h, w] = size;
    let upper = [w, h, d].map(|n| T::from_f64(n as f64 - 1.0));
    // The lowest corner's eight voxels must lie in the volume: two voxels an axis. Indices
    // are formed in i32.
    let fits = |n: usize| (2..=i32::MAX as usize).contains(&n);
    if !(fits(d) && fits(h) && fits(w)) {
        return None;
    }
    // Loops over plain arrays, not `array::from_fn`, which the compiler may leave uninlined
    // (a call per block).
    let mut inside = [false; LANES];
    for l in 0..LANES {
        // NaN fails both comparisons.
        inside[l] = (0..3).all(|a| p[l][a] > T::ZERO && p[l][a] < upper[a]);
    }
    inside.contains(&true).then_some(inside)
}

/// A block's corners: lower-corner offsets and per-axis fractions (`t[axis][lane]`, x first).
/// Lanes outside the volume get offset 0 and fractions 0 (harmless reads; their results are
/// not used).
pub(super) struct Corners<T> {
    pub offset: [usize; LANES],
    pub t: [[T; LANES]; 3],
}

impl<T: Real> Corners<T> {
    #[inline(always)]
    pub fn new(p: &[[T; 3]; LANES], inside: &[bool; LANES], size: [usize; 3]) -> Self {
        let [_, h, w] = size;
        let mut offset = [0usize; LANES];
        let mut t = [[T::ZERO; LANES]; 3];
        for l in 0..LANES {
            // A select, not a branch, so the lanes vectorize.
            let q = if inside[l] { p[l] } else { [T::ZERO; 3] };
            // Positive and below `i32::MAX` (`inside_lanes`): truncation is floor.
            let i = [q[0].to_i32(), q[1].to_i32(), q[2].to_i32()];
            for a in 0..3 {
                t[a][l] = q[a] - T::from_i32(i[a]);
            }
            offset[l] = ((i[2] as usize) * h + i[1] as usize) * w + i[0] as usize;
        }
        Self { offset, t }
    }

    /// The lanes of a block strictly inside the volume and their corners, as
    /// [`inside_lanes`] and [`Corners::new`] find them (with AVX2 for f32); `None` when no lane
    /// is inside.
    #[inline(always)]
    pub fn of_block(
        isa: Isa,
        p: &[[T; 3]; LANES],
        size: [usize; 3],
    ) -> Option<([bool; LANES], Self)> {
        if let Some(found) = vector_corners(isa, p, size) {
            return found;
        }
        let inside = inside_lanes(p, size)?;
        Some((inside, Self::new(p, &inside, size)))
    }

    /// Linear weight `[1 - t, t][k]` of lane `l` on axis `a`.
    #[inline(always)]
    fn weight(&self, a: usize, k: usize, l: usize) -> T {
        if k == 0 {
            T::ONE - self.t[a][l]
        } else {
            self.t[a][l]
        }
    }

    /// Trilinear values of the block (one channel's `volume`) into `out` (eight values): z,
    /// then y, then x corners, `(w_z * w_y) * w_x * v` added in that order.
    #[inline(always)]
    pub fn trilinear(&self, isa: Isa, volume: &[T], size: [usize; 3], out: &mut [T]) {
        if let Some((f32_volume, max)) = gatherable(isa, volume, size) {
            gathered_trilinear(f32_volume, max, size, self, out);
            return;
        }
        let [_, h, w] = size;
        let max = volume.len().saturating_sub(h * w + w + 2);
        for (l, v) in out[..LANES].iter_mut().enumerate() {
            let o = self.offset[l].min(max);
            let mut acc = T::ZERO;
            for a in 0..2 {
                for b in 0..2 {
                    let wab = self.weight(2, a, l) * self.weight(1, b, l);
                    let off = o + a * h * w + b * w;
                    acc += wab * self.weight(0, 0, l) * volume[off];
                    acc += wab * self.weight(0, 1, l) * volume[off + 1];
                }
            }
            *v = acc;
        }
    }

    /// Adds to `acc[axis][lane]` each lane's `g * d(value)/d(axis)` (one channel's `volume`)
    /// where its `g` is not zero: per `(z, y)` corner pair, `(g * w_z) * w_y * (v1 - v0)`,
    /// `(g * w_z) * dy * s` and `(g * dz) * w_y * s` with `s = w_x0 * v0 + w_x1 * v1`.
    #[inline(always)]
    pub fn position_gradient(
        &self,
        isa: Isa,
        volume: &[T],
        size: [usize; 3],
        g: &[T; LANES],
        acc: &mut [[T; LANES]; 3],
    ) {
        if let Some((f32_volume, max)) = gatherable(isa, volume, size) {
            gathered_gradient(f32_volume, max, size, self, g, acc);
            return;
        }
        let [_, h, w] = size;
        let max = volume.len().saturating_sub(h * w + w + 2);
        for l in 0..LANES {
            let gl = g[l];
            let o = self.offset[l].min(max);
            let mut sum = [acc[0][l], acc[1][l], acc[2][l]];
            for a in 0..2 {
                let za = self.weight(2, a, l);
                let dz = if a == 0 { -T::ONE } else { T::ONE };
                for b in 0..2 {
                    let yb = self.weight(1, b, l);
                    let dy = if b == 0 { -T::ONE } else { T::ONE };
                    let off = o + a * h * w + b * w;
                    let (v0, v1) = (volume[off], volume[off + 1]);
                    let s = self.weight(0, 0, l) * v0 + self.weight(0, 1, l) * v1;
                    sum[0] += gl * za * yb * (v1 - v0);
                    sum[1] += gl * za * dy * s;
                    sum[2] += gl * dz * yb * s;
                }
            }
            // A zero gradient contributes nothing (not even a NaN from the volume).
            if gl != T::ZERO {
                for k in 0..3 {
                    acc[k][l] = sum[k];
                }
            }
        }
    }

    /// Adds `g` times lane `l`'s eight corner weights to `dst` (one channel's input
    /// gradient): `(g * w_z) * w_y`, then times `w_x`, z, then y, then x corners.
    #[inline(always)]
    pub fn scatter(&self, l: usize, dst: &mut [T], size: [usize; 3], g: T) {
        let [_, h, w] = size;
        // One bounds check for the eight corners.
        let o = self.offset[l];
        let dst = &mut dst[o..o + h * w + w + 2];
        for a in 0..2 {
            let za = self.weight(2, a, l);
            for b in 0..2 {
                let gab = g * za * self.weight(1, b, l);
                let off = a * h * w + b * w;
                dst[off] += gab * self.weight(0, 0, l);
                dst[off + 1] += gab * self.weight(0, 1, l);
            }
        }
    }
}

/// The volume as f32 with the highest lower-corner offset whose eight voxels it holds, where
/// the gathers can run: AVX2, f32, a `[d, h, w]` volume of at least 2 voxels an axis whose
/// offsets fit in i32.
#[inline(always)]
fn gatherable<T: Real>(isa: Isa, volume: &[T], size: [usize; 3]) -> Option<(&[f32], usize)> {
    #[cfg(target_arch = "x86_64")]
    {
        let [d, h, w] = size;
        let f32_type = std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>();
        let fits = d >= 2 && h >= 2 && w >= 2 && volume.len() == d * h * w;
        if isa == Isa::Avx2 && f32_type && fits && volume.len() <= i32::MAX as usize {
            let max = volume.len() - h * w - w - 2;
            return Some((bytemuck::cast_slice(volume), max));
        }
    }
    let _ = (isa, volume, size);
    None
}

/// [`Corners::of_block`] in AVX2 vectors, where `T` is f32 and the volume's offsets fit in
/// i32; `None` where it cannot run.
#[allow(clippy::type_complexity)]
#[inline(always)]
fn vector_corners<T: Real>(
    isa: Isa,
    p: &[[T; 3]; LANES],
    size: [usize; 3],
) -> Option<Option<([bool; LANES], Corners<T>)>> {
    #[cfg(target_arch = "x86_64")]
    {
        let [d, h, w] = size;
        let f32_type = std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>();
        let fits = d >= 2 && h >= 2 && w >= 2 && d * h * w <= i32::MAX as usize;
        if isa == Isa::Avx2 && f32_type && fits {
            let positions: &[f32] = bytemuck::cast_slice(p.as_flattened());
            let upper = [w, h, d].map(|n| (n as f64 - 1.0) as f32);
            let mut offset = [0i32; LANES];
            let mut t = [[T::ZERO; LANES]; 3];
            let t_f32: &mut [f32] = bytemuck::cast_slice_mut(t.as_flattened_mut());
            // SAFETY: AVX2 is present; `positions` holds 24 values and `t_f32` 24.
            let mask = unsafe { avx2::corners(positions, upper, [h, w], &mut offset, t_f32) };
            if mask == 0 {
                return Some(None);
            }
            let mut inside = [false; LANES];
            let mut offsets = [0usize; LANES];
            for l in 0..LANES {
                inside[l] = mask & (1 << l) != 0;
                // Non-negative: indices are truncated positive positions, or 0.
                offsets[l] = offset[l] as usize;
            }
            let corners = Corners { offset: offsets, t };
            return Some(Some((inside, corners)));
        }
    }
    let _ = (isa, p, size);
    None
}

/// [`Corners::trilinear`] with gathers, on a volume `gatherable` accepted.
#[inline(always)]
fn gathered_trilinear<T: Real>(
    volume: &[f32],
    max: usize,
    size: [usize; 3],
    corners: &Corners<T>,
    out: &mut [T],
) {
    #[cfg(target_arch = "x86_64")]
    {
        let out: &mut [f32] = bytemuck::cast_slice_mut(&mut out[..LANES]);
        let t: &[f32] = bytemuck::cast_slice(corners.t.as_flattened());
        let offset = clamped(&corners.offset, max);
        // SAFETY: AVX2 is present (`gatherable`); every offset is at most `max`, so each of
        // its eight corners (up to `max + h * w + w + 1 = len - 1`) lies in the volume.
        unsafe { avx2::trilinear(volume, size, &offset, t, out) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (volume, max, size, corners, out);
}

/// [`Corners::position_gradient`] with gathers, on a volume `gatherable` accepted.
#[inline(always)]
fn gathered_gradient<T: Real>(
    volume: &[f32],
    max: usize,
    size: [usize; 3],
    corners: &Corners<T>,
    g: &[T; LANES],
    acc: &mut [[T; LANES]; 3],
) {
    #[cfg(target_arch = "x86_64")]
    {
        let acc: &mut [f32] = bytemuck::cast_slice_mut(acc.as_flattened_mut());
        let t: &[f32] = bytemuck::cast_slice(corners.t.as_flattened());
        let g: &[f32] = bytemuck::cast_slice(g);
        let offset = clamped(&corners.offset, max);
        // SAFETY: as in `gathered_trilinear`.
        unsafe { avx2::position_gradient(volume, size, &offset, t, g, acc) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (volume, max, size, corners, g, acc);
}

/// Offsets as i32, each at most `max` (which fits in i32).
#[cfg(target_arch = "x86_64")]
fn clamped(offset: &[usize; LANES], max: usize) -> [i32; LANES] {
    let mut clamped = [0i32; LANES];
    for (c, &o) in clamped.iter_mut().zip(offset) {
        *c = o.min(max) as i32;
    }
    clamped
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::LANES;

    /// The corner offsets of a block: `[(z, y)]` rows' first voxels, `o + a * plane + b * w`.
    #[inline(always)]
    unsafe fn rows(offset: &[i32; LANES], size: [usize; 3]) -> [[__m256i; 2]; 2] {
        let [_, h, w] = size;
        let o = _mm256_loadu_si256(offset.as_ptr().cast());
        let (dy, dz) = (
            _mm256_set1_epi32(w as i32),
            _mm256_set1_epi32((h * w) as i32),
        );
        let o2 = _mm256_add_epi32(o, dz);
        [[o, _mm256_add_epi32(o, dy)], [o2, _mm256_add_epi32(o2, dy)]]
    }

    /// `[1 - t, t]` of each axis. (No closures here: a closure is not compiled with its
    /// caller's target features, so the intrinsics in it would become calls.)
    #[inline(always)]
    unsafe fn weights(t: &[f32]) -> [[__m256; 2]; 3] {
        let one = _mm256_set1_ps(1.0);
        let tx = _mm256_loadu_ps(t.as_ptr());
        let ty = _mm256_loadu_ps(t[LANES..].as_ptr());
        let tz = _mm256_loadu_ps(t[2 * LANES..].as_ptr());
        [
            [_mm256_sub_ps(one, tx), tx],
            [_mm256_sub_ps(one, ty), ty],
            [_mm256_sub_ps(one, tz), tz],
        ]
    }

    /// Inside test, lower-corner offsets and fractions of eight positions `(x, y, z)`
    /// (interleaved in `p`), as the generic `inside_lanes` and `Corners::new` compute them:
    /// `0 < p < upper` per axis (ordered, so NaN is outside), lanes outside read as position
    /// 0, truncation, `t = p - i`, `offset = (i_z * h + i_y) * w + i_x`. Returns the inside
    /// lanes as bits.
    ///
    /// # Safety
    /// AVX2 present; `p` and `t` hold 24 values; `d * h * w` fits in i32.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn corners(
        p: &[f32],
        upper: [f32; 3],
        [h, w]: [usize; 2],
        offset: &mut [i32; LANES],
        t: &mut [f32],
    ) -> u32 {
        let stride = _mm256_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21);
        let axis = [
            _mm256_i32gather_ps::<4>(p.as_ptr(), stride),
            _mm256_i32gather_ps::<4>(p[1..].as_ptr(), stride),
            _mm256_i32gather_ps::<4>(p[2..].as_ptr(), stride),
        ];
        let zero = _mm256_setzero_ps();
        let mut inside = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
        for a in 0..3 {
            let above = _mm256_cmp_ps::<_CMP_GT_OQ>(axis[a], zero);
            let below = _mm256_cmp_ps::<_CMP_LT_OQ>(axis[a], _mm256_set1_ps(upper[a]));
            inside = _mm256_and_ps(inside, _mm256_and_ps(above, below));
        }
        let mask = _mm256_movemask_ps(inside) as u32;
        let mut index = [_mm256_setzero_si256(); 3];
        for a in 0..3 {
            // Lanes outside become +0.0.
            let q = _mm256_and_ps(axis[a], inside);
            index[a] = _mm256_cvttps_epi32(q);
            let frac = _mm256_sub_ps(q, _mm256_cvtepi32_ps(index[a]));
            _mm256_storeu_ps(t[a * LANES..].as_mut_ptr(), frac);
        }
        let (hv, wv) = (_mm256_set1_epi32(h as i32), _mm256_set1_epi32(w as i32));
        let o = _mm256_add_epi32(
            _mm256_mullo_epi32(
                _mm256_add_epi32(_mm256_mullo_epi32(index[2], hv), index[1]),
                wv,
            ),
            index[0],
        );
        _mm256_storeu_si256(offset.as_mut_ptr().cast(), o);
        mask
    }

    /// # Safety
    /// AVX2 present; every `offset + h * w + w + 1` inside `volume`; `t` holds 24 values and
    /// `out` 8.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn trilinear(
        volume: &[f32],
        size: [usize; 3],
        offset: &[i32; LANES],
        t: &[f32],
        out: &mut [f32],
    ) {
        let ptr = volume.as_ptr();
        let one = _mm256_set1_epi32(1);
        let [wx, wy, wz] = weights(t);
        let mut acc = _mm256_setzero_ps();
        for (a, row) in rows(offset, size).iter().enumerate() {
            for (b, &o) in row.iter().enumerate() {
                let wab = _mm256_mul_ps(wz[a], wy[b]);
                let v0 = _mm256_i32gather_ps::<4>(ptr, o);
                let v1 = _mm256_i32gather_ps::<4>(ptr, _mm256_add_epi32(o, one));
                acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_mul_ps(wab, wx[0]), v0));
                acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_mul_ps(wab, wx[1]), v1));
            }
        }
        _mm256_storeu_ps(out.as_mut_ptr(), acc);
    }

    /// # Safety
    /// As [`trilinear`]; `g` holds 8 values and `acc` 24.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn position_gradient(
        volume: &[f32],
        size: [usize; 3],
        offset: &[i32; LANES],
        t: &[f32],
        g: &[f32],
        acc: &mut [f32],
    ) {
        let ptr = volume.as_ptr();
        let one = _mm256_set1_epi32(1);
        let sign = _mm256_set1_ps(-0.0);
        let [wx, wy, wz] = weights(t);
        let g = _mm256_loadu_ps(g.as_ptr());
        // NaN counts as non-zero, as `g != 0` does.
        let live = _mm256_cmp_ps::<_CMP_NEQ_UQ>(g, _mm256_setzero_ps());
        let mut sum = [
            _mm256_loadu_ps(acc.as_ptr()),
            _mm256_loadu_ps(acc[LANES..].as_ptr()),
            _mm256_loadu_ps(acc[2 * LANES..].as_ptr()),
        ];
        let before = sum;
        for (a, row) in rows(offset, size).iter().enumerate() {
            // `g * dz` with `dz = -1, +1`: a sign flip, exact.
            let gz = _mm256_mul_ps(g, wz[a]);
            let g_dz = if a == 0 { _mm256_xor_ps(g, sign) } else { g };
            for (b, &o) in row.iter().enumerate() {
                let yb = wy[b];
                let v0 = _mm256_i32gather_ps::<4>(ptr, o);
                let v1 = _mm256_i32gather_ps::<4>(ptr, _mm256_add_epi32(o, one));
                let s = _mm256_add_ps(_mm256_mul_ps(wx[0], v0), _mm256_mul_ps(wx[1], v1));
                let gzy = _mm256_mul_ps(gz, yb);
                sum[0] = _mm256_add_ps(sum[0], _mm256_mul_ps(gzy, _mm256_sub_ps(v1, v0)));
                let gz_dy = if b == 0 { _mm256_xor_ps(gz, sign) } else { gz };
                sum[1] = _mm256_add_ps(sum[1], _mm256_mul_ps(gz_dy, s));
                sum[2] = _mm256_add_ps(sum[2], _mm256_mul_ps(_mm256_mul_ps(g_dz, yb), s));
            }
        }
        for k in 0..3 {
            let kept = _mm256_blendv_ps(before[k], sum[k], live);
            _mm256_storeu_ps(acc[k * LANES..].as_mut_ptr(), kept);
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    /// Random blocks on volumes with a size-2 axis and odd sizes, positions within half a
    /// voxel of the volume (so some lanes fall outside), a NaN voxel, and output gradients
    /// with zeros (which must keep the NaN out).
    #[test]
    fn gathers_equal_the_generic_lanes_to_the_bit() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let avx2 = Isa::detect();
        let mut compared = 0;
        for size in [[5, 7, 19], [2, 9, 3], [3, 2, 33], [1, 4, 4]] {
            let [d, h, w] = size;
            let mut volume: Vec<f32> = (0..d * h * w)
                .map(|_| rng.random_range(-1.0..1.0))
                .collect();
            volume[rng.random_range(0..d * h * w)] = f32::NAN;
            for _ in 0..200 {
                let p: [[f32; 3]; LANES] = core::array::from_fn(|_| {
                    [w, h, d].map(|n| rng.random_range(-0.5..n as f32 - 0.5))
                });
                let generic = inside_lanes(&p, size).map(|i| (i, Corners::new(&p, &i, size)));
                let vector = Corners::of_block(avx2, &p, size);
                assert_eq!(generic.is_some(), vector.is_some(), "{size:?} {p:?}");
                let Some((inside, corners)) = generic else {
                    continue;
                };
                let (vector_inside, vector) = vector.unwrap();
                assert_eq!(inside, vector_inside);
                for l in (0..LANES).filter(|&l| inside[l]) {
                    assert_eq!(corners.offset[l], vector.offset[l]);
                    for a in 0..3 {
                        assert_eq!(corners.t[a][l].to_bits(), vector.t[a][l].to_bits());
                    }
                }
                let mut want = [0f32; LANES];
                let mut got = [0f32; LANES];
                corners.trilinear(Isa::Baseline, &volume, size, &mut want);
                corners.trilinear(avx2, &volume, size, &mut got);
                let g: [f32; LANES] = core::array::from_fn(|l| {
                    let zero = !inside[l] || rng.random_bool(0.25);
                    if zero {
                        0.0
                    } else {
                        rng.random_range(-2.0..2.0)
                    }
                });
                let start: [[f32; LANES]; 3] =
                    core::array::from_fn(|_| core::array::from_fn(|_| rng.random_range(-1.0..1.0)));
                let (mut acc_want, mut acc_got) = (start, start);
                corners.position_gradient(Isa::Baseline, &volume, size, &g, &mut acc_want);
                corners.position_gradient(avx2, &volume, size, &g, &mut acc_got);
                for l in (0..LANES).filter(|&l| inside[l]) {
                    assert_eq!(got[l].to_bits(), want[l].to_bits(), "{size:?} lane {l}");
                    for a in 0..3 {
                        let (x, y) = (acc_got[a][l], acc_want[a][l]);
                        assert_eq!(x.to_bits(), y.to_bits(), "{size:?} lane {l} axis {a}");
                        if g[l] == 0.0 {
                            assert_eq!(x, start[a][l]);
                        }
                    }
                    compared += 1;
                }
            }
        }
        assert!(compared > 1000, "{compared} lanes compared");
    }

    /// The generic lanes give trilinear interpolation and its exact derivative: on a linear
    /// volume `v = 2x + 3y + 5z + 1`, the value at `p` and the gradient `g * (2, 3, 5)`.
    #[test]
    fn lanes_interpolate_a_linear_volume_exactly() {
        let size = [4, 5, 6];
        let [d, h, w] = size;
        let volume: Vec<f64> = (0..d * h * w)
            .map(|i| {
                let (z, y, x) = (i / (h * w), (i / w) % h, i % w);
                2.0 * x as f64 + 3.0 * y as f64 + 5.0 * z as f64 + 1.0
            })
            .collect();
        let p: [[f64; 3]; LANES] =
            core::array::from_fn(|l| [0.3 + 0.6 * l as f64, 0.25 + 0.4 * l as f64, 2.5]);
        let inside = inside_lanes(&p, size).unwrap();
        assert!(inside.iter().all(|&i| i));
        let corners = Corners::new(&p, &inside, size);
        let mut out = [0.0; LANES];
        corners.trilinear(Isa::detect(), &volume, size, &mut out);
        let mut acc = [[0.0; LANES]; 3];
        corners.position_gradient(Isa::detect(), &volume, size, &[0.5; LANES], &mut acc);
        for l in 0..LANES {
            let [x, y, z] = p[l];
            assert!((out[l] - (2.0 * x + 3.0 * y + 5.0 * z + 1.0)).abs() < 1e-12);
            for (a, slope) in [2.0, 3.0, 5.0].into_iter().enumerate() {
                assert!((acc[a][l] - 0.5 * slope).abs() < 1e-12, "lane {l} axis {a}");
            }
        }
    }
}
