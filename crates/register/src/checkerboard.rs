//! Checkerboard pictures of two images on one grid: blocks taken alternately from each, so
//! that edges which do not line up show as steps at the block borders (the picture people
//! check a registration with, before and after).

use std::path::Path;

use medburn_core::MedImage;
use medburn_io::{preview, Volume, VoxelArray};

use crate::error::RegistrationError;

/// Writes the axial, coronal and sagittal mid-slices of a checkerboard of `a` and `b` (same
/// grid, one channel each; blocks of `block` voxels) as a PNG. Each image is windowed to its
/// own 1st..99th percentile, so that two contrasts show side by side.
///
/// ```
/// use burn::tensor::Device;
/// use medburn_core::{Geometry, MedImage};
/// let g = Geometry::unit([8, 8, 8])?;
/// let a = MedImage::from_vec((0..512).map(|v| v as f32).collect(), 1, g, &Device::flex())?;
/// let b = MedImage::from_vec(vec![1.0; 512], 1, g, &Device::flex())?;
/// let dir = tempfile::tempdir()?;
/// medburn_register::write_checkerboard_png(&a, &b, 4, &dir.path().join("c.png"))?;
/// assert!(dir.path().join("c.png").is_file());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_checkerboard_png(
    a: &MedImage,
    b: &MedImage,
    block: usize,
    path: &Path,
) -> crate::Result<()> {
    if a.geometry().size() != b.geometry().size() || a.channels() != 1 || b.channels() != 1 {
        return Err(RegistrationError::Shape(format!(
            "a checkerboard takes two one-channel images on one grid: {:?} x {} and {:?} x {}",
            a.geometry().size(),
            a.channels(),
            b.geometry().size(),
            b.channels()
        )));
    }
    let block = block.max(1);
    // Each image windowed to [0, 1] (values read as they are mixed).
    let read = |m: &MedImage| -> crate::Result<(Vec<f32>, f64, f64)> {
        let v = m
            .to_vec()
            .map_err(|e| RegistrationError::Readback(e.to_string()))?;
        let (lo, hi) = percentiles(&v);
        Ok((v, lo, (hi - lo).max(1e-12)))
    };
    let ((va, la, sa), (vb, lb, sb)) = (read(a)?, read(b)?);
    let window = |v: f32, lo: f64, span: f64| ((v as f64 - lo) / span).clamp(0.0, 1.0) as f32;
    let [ni, nj, nk] = a.geometry().size();
    // Only the three planes the picture shows are mixed; the rest stays 0 (never drawn).
    let [mi, mj, mk] = preview::mid_slice_indices([ni, nj, nk]);
    let mut mixed = vec![0.0f32; va.len()];
    for k in 0..nk {
        for j in 0..nj {
            let row = ni * (j + nj * k);
            let pick = |i: usize| {
                if (i / block + j / block + k / block).is_multiple_of(2) {
                    window(va[row + i], la, sa)
                } else {
                    window(vb[row + i], lb, sb)
                }
            };
            if k == mk || j == mj {
                for i in 0..ni {
                    mixed[row + i] = pick(i);
                }
            } else {
                mixed[row + mi] = pick(mi);
            }
        }
    }
    let [d, h, w] = a.geometry().dhw();
    let data = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[1, d, h, w]), mixed)
        .map_err(|e| RegistrationError::Shape(e.to_string()))?;
    let volume = Volume::new(VoxelArray::F32(data), *a.geometry())
        .map_err(|e| RegistrationError::Shape(e.to_string()))?;
    preview::write_mid_slices_png(&volume, path, Some((0.0, 1.0)))
        .map_err(|e| RegistrationError::File(format!("{}: {e}", path.display())))
}

/// The 1st and 99th percentiles of the finite values (of every 7th voxel at most a million:
/// a window for display, found in linear time).
fn percentiles(v: &[f32]) -> (f64, f64) {
    let stride = if v.len() > 1_000_000 { 7 } else { 1 };
    let mut s: Vec<f32> = v
        .iter()
        .step_by(stride)
        .copied()
        .filter(|x| x.is_finite())
        .collect();
    if s.is_empty() {
        return (0.0, 1.0);
    }
    let n = s.len() - 1;
    let (lo, hi) = (
        (n as f64 * 0.01).round() as usize,
        (n as f64 * 0.99).round() as usize,
    );
    let low = *s.select_nth_unstable_by(lo, f32::total_cmp).1 as f64;
    let high = *s.select_nth_unstable_by(hi, f32::total_cmp).1 as f64;
    (low, high)
}
