//! The affine path's fast interior rows (whole rows of a rotation or scaling inside the volume,
//! where no padding logic runs, with AVX2 gathers for float32) sample what the per-point path
//! samples, for every padding rule: including where the interior reaches past the outermost
//! voxel centres (half a voxel for nearest and for ITK's linear rule, the whole row for border).
//! The reference is `grid_sample_3d` on the same positions written as a grid; its points
//! outside the volume take the per-point path.

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use common::{max_error, seeded_uniform, values};
use medburn_ops::{
    grid_sample_3d, voxel_affine_sample_3d, Interpolation, Padding, Rounding, SampleOptions,
};

const SIZE: [usize; 3] = [5, 24, 41];

/// A 15 degree rotation about z around the volume's centre, scaled by 1.15 so that rows cross
/// the volume's faces, shifted by 0.3 voxel along z: `[3, 4]` row-major, voxel (i, j, k) to
/// input voxel position.
fn matrix() -> [[f64; 4]; 3] {
    let [d, h, w] = SIZE.map(|n| n as f64);
    let (s, c) = 15f64.to_radians().sin_cos();
    let k = 1.15;
    let centre = [(w - 1.0) / 2.0, (h - 1.0) / 2.0, (d - 1.0) / 2.0];
    let r = [[k * c, -k * s, 0.0], [k * s, k * c, 0.0], [0.0, 0.0, 1.0]];
    core::array::from_fn(|a| {
        let t = centre[a] - (0..3).map(|b| r[a][b] * centre[b]).sum::<f64>() + [0.0, 0.0, 0.3][a];
        [r[a][0], r[a][1], r[a][2], t]
    })
}

/// The same positions as a normalized grid `[1, D, H, W, 3]`.
fn grid(m: &[[f64; 4]; 3], align_corners: bool) -> Vec<f32> {
    let [d, h, w] = SIZE;
    let sizes = [w, h, d].map(|n| n as f64);
    let mut g = Vec::with_capacity(d * h * w * 3);
    for z in 0..d {
        for y in 0..h {
            for x in 0..w {
                let v = [x as f64, y as f64, z as f64, 1.0];
                for a in 0..3 {
                    let p: f64 = (0..4).map(|b| m[a][b] * v[b]).sum();
                    let n = sizes[a];
                    let norm = if align_corners {
                        2.0 * p / (n - 1.0) - 1.0
                    } else {
                        (2.0 * p + 1.0) / n - 1.0
                    };
                    g.push(norm as f32);
                }
            }
        }
    }
    g
}

#[test]
fn interior_rows_sample_as_the_per_point_path() {
    let device = Device::flex();
    let [d, h, w] = SIZE;
    let input = Tensor::<5>::from_data(seeded_uniform([1, 2, d, h, w], -1.0, 1.0), &device);
    let m = matrix();
    let flat: Vec<f32> = m.iter().flatten().map(|&v| v as f32).collect();
    let theta = Tensor::<3>::from_data(TensorData::new(flat, [1, 3, 4]), &device);
    for interpolation in [Interpolation::Nearest, Interpolation::Linear] {
        for padding in [
            Padding::Zeros,
            Padding::Border,
            Padding::Reflection,
            Padding::Itk,
        ] {
            for align_corners in [false, true] {
                for rounding in [Rounding::HalfToEven, Rounding::HalfUp] {
                    let o = SampleOptions::new(interpolation)
                        .with_padding(padding)
                        .with_align_corners(align_corners)
                        .with_rounding(rounding);
                    let fused = values(
                        voxel_affine_sample_3d(input.clone(), theta.clone(), SIZE, o).unwrap(),
                    );
                    let g = Tensor::<5>::from_data(
                        TensorData::new(grid(&m, align_corners), [1, d, h, w, 3]),
                        &device,
                    );
                    let reference = values(grid_sample_3d(input.clone(), g, o).unwrap());
                    // Positions differ by float32 rounding (about 1e-5 voxel): linear values by
                    // about that times the largest voxel difference; nearest not at all away
                    // from exact ties, which this rotation does not make.
                    let tol = match interpolation {
                        Interpolation::Nearest => 0.0,
                        _ => 1e-4,
                    };
                    let err = max_error(&fused, &reference);
                    assert!(err <= tol, "{o:?}: max error {err}");
                    // The volume's content reaches most rows: the comparison is not of zeros.
                    let nonzero = fused.iter().filter(|v| **v != 0.0).count();
                    assert!(nonzero > fused.len() / 2, "{o:?}: {nonzero} non-zero");
                }
            }
        }
    }
}
