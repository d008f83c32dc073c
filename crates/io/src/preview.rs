//! Pictures of volumes as PNG: the three orthogonal mid-slices of a volume (what one looks at
//! first), drawn on [`Canvas`], the small RGB image with a bitmap font that medburn's other
//! pictures (augmentation montages, training curves, overlays) are drawn on too.

use std::path::Path;

pub use crate::canvas::{Canvas, Rgb};
use crate::volume::{with_array, Voxel};
use crate::{Rescale, Result, Volume, VoxelArray};

/// Writes the axial (k), coronal (j) and sagittal (i) mid-slices of the first
/// channel side by side as an 8-bit grey PNG, intensities mapped linearly from
/// `window` (low, high), or from the data's min..max when `None`. Pixels are
/// resampled (nearest) to squares of the smallest spacing, so anisotropic
/// volumes keep their physical aspect; k is drawn upwards in the coronal and
/// sagittal panels.
///
/// ```
/// use medburn_core::Geometry;
/// use medburn_io::{preview, Volume, VoxelArray};
/// let dir = tempfile::tempdir()?;
/// let data = VoxelArray::U8(ndarray::ArrayD::from_shape_fn(ndarray::IxDyn(&[1, 4, 5, 6]), |i| (i[3] * 40) as u8));
/// let v = Volume::new(data, Geometry::unit([6, 5, 4])?)?;
/// preview::write_mid_slices_png(&v, &dir.path().join("v.png"), None)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_mid_slices_png(
    volume: &Volume,
    path: &Path,
    window: Option<(f64, f64)>,
) -> Result<()> {
    let [ni, nj, nk] = volume.geometry.size();
    let [si, sj, sk] = volume.geometry.spacing();
    let rescale = volume.rescale;
    // Only the three planes drawn are read (and rescaled); the rest of the volume is not copied.
    let [axial, coronal, sagittal] =
        with_array!(&volume.data, a => mid_planes(a, [ni, nj, nk], rescale));
    let (lo, hi) = window.unwrap_or_else(|| {
        with_array!(&volume.data, a => a.iter().take(ni * nj * nk)
            .map(|v| v.to_f64() * rescale.slope + rescale.inter)
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v))))
    });
    let pixel = |v: f64| -> u8 {
        if !v.is_finite() || hi <= lo {
            return 0;
        }
        (((v - lo) / (hi - lo)).clamp(0.0, 1.0) * 255.0).round() as u8
    };
    let step = si.min(sj).min(sk);
    // Panel size in pixels along a voxel axis of n voxels with spacing s.
    let px = |n: usize, s: f64| ((n as f64 * s / step).round() as usize).clamp(1, 2048);
    let to_voxel = |p: usize, n: usize, s: f64| (((p as f64 + 0.5) * step / s) as usize).min(n - 1);
    // (width, height, sampler(x, y)) for each panel.
    let (wa, ha) = (px(ni, si), px(nj, sj));
    let (wc, hc) = (px(ni, si), px(nk, sk));
    let (ws, hs) = (px(nj, sj), px(nk, sk));
    let height = ha.max(hc).max(hs);
    let gap = 4;
    let width = wa + wc + ws + 2 * gap;
    let mut canvas = Canvas::new(width, height, [0, 0, 0]);
    let mut draw = |x0: usize, w: usize, h: usize, f: &dyn Fn(usize, usize) -> f64| {
        for y in 0..h {
            for x in 0..w {
                canvas.set((x0 + x) as i64, y as i64, [pixel(f(x, y)); 3]);
            }
        }
    };
    draw(0, wa, ha, &|x, y| {
        axial[to_voxel(x, ni, si) + ni * to_voxel(y, nj, sj)]
    });
    draw(wa + gap, wc, hc, &|x, y| {
        coronal[to_voxel(x, ni, si) + ni * (nk - 1 - to_voxel(y, nk, sk))]
    });
    draw(wa + wc + 2 * gap, ws, hs, &|x, y| {
        sagittal[to_voxel(x, nj, sj) + nj * (nk - 1 - to_voxel(y, nk, sk))]
    });
    canvas.save_png(path)
}

/// The voxel indices `[i, j, k]` of the three planes [`write_mid_slices_png`] draws: the
/// sagittal plane at `i`, the coronal at `j`, the axial at `k`.
///
/// ```
/// assert_eq!(medburn_io::preview::mid_slice_indices([6, 5, 4]), [3, 2, 2]);
/// ```
pub fn mid_slice_indices(size: [usize; 3]) -> [usize; 3] {
    size.map(|n| n / 2)
}

/// The axial (`[nj, ni]`), coronal (`[nk, ni]`) and sagittal (`[nk, nj]`) mid-planes of the
/// first channel of `a` (`[C, nk, nj, ni]`), rescaled.
fn mid_planes<T: Voxel>(
    a: &ndarray::ArrayD<T>,
    [ni, nj, nk]: [usize; 3],
    rescale: Rescale,
) -> [Vec<f64>; 3] {
    let [mi, mj, mk] = mid_slice_indices([ni, nj, nk]);
    let value = |i: usize, j: usize, k: usize| {
        a[[0, k, j, i].as_slice()].to_f64() * rescale.slope + rescale.inter
    };
    let axial = (0..nj)
        .flat_map(|j| (0..ni).map(move |i| (i, j)))
        .map(|(i, j)| value(i, j, mk));
    let coronal = (0..nk)
        .flat_map(|k| (0..ni).map(move |i| (i, k)))
        .map(|(i, k)| value(i, mj, k));
    let sagittal = (0..nk)
        .flat_map(|k| (0..nj).map(move |j| (j, k)))
        .map(|(j, k)| value(mi, j, k));
    [axial.collect(), coronal.collect(), sagittal.collect()]
}
