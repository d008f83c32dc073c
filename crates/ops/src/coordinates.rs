//! PyTorch's normalized coordinates (`-1` and `1` at the outer faces, or at the corner voxel
//! centres with `align_corners`) and voxel indices: the one host-side home of both maps. The
//! CubeCL kernels carry the same formula in device code (`cube/kernels.rs`, `unnormalize`).

/// Normalized coordinate of voxel index `i` on an axis of `n` voxels: `u = s * i + t`.
pub(crate) fn normalize(n: usize, align_corners: bool) -> (f64, f64) {
    let n = n as f64;
    match (align_corners, n <= 1.0) {
        // torch.linspace(-1, 1, 1) is [-1].
        (true, true) => (0.0, -1.0),
        (true, false) => (2.0 / (n - 1.0), -1.0),
        (false, _) => (2.0 / n, 1.0 / n - 1.0),
    }
}

/// Voxel position of normalized coordinate `g` on an axis of `n` voxels: `p = s * g + t`.
pub(crate) fn unnormalize(n: usize, align_corners: bool) -> (f64, f64) {
    let n = n as f64;
    let s = if align_corners {
        (n - 1.0) / 2.0
    } else {
        n / 2.0
    };
    (s, (n - 1.0) / 2.0)
}
