//! Axes long enough that f32 resolves positions more coarsely than the interior fast path's
//! 1e-3 voxel margin (from 2^14 voxels on): the last points of a row must neither index past the
//! volume nor differ from the general path.

use burn::tensor::{Device, Tensor, TensorData};
use medburn_ops::*;

#[test]
fn rows_ending_a_hair_inside_a_long_axis_stay_in_bounds() {
    let device = Device::flex();
    let w = 40_000usize;
    // A ramp along x: the value at voxel i is i / 1000.
    let ramp: Vec<f32> = (0..2 * 2 * w).map(|i| (i % w) as f32 / 1000.0).collect();
    let x = Tensor::<5>::from_data(TensorData::new(ramp, [1, 1, 2, 2, w]), &device);
    // x' = x - 0.0011: the last point, 39998.9989, is inside the margin in f64 and rounds to
    // 39999.0 (the last voxel) in f32. The 1e-12 (x from y, at y = 0) keeps the matrix off the
    // axis-aligned path, so rows take the interior fast path.
    let m = [
        1.0f32, 1e-12, 0.0, -0.0011, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.5,
    ];
    let m = Tensor::<3>::from_data(TensorData::new(m.to_vec(), [1, 3, 4]), &device);
    for i in [Interpolation::Nearest, Interpolation::Linear] {
        let y =
            voxel_affine_sample_3d(x.clone(), m.clone(), [1, 1, w], SampleOptions::new(i)).unwrap();
        let v = y.into_data().try_to_vec::<f32>().unwrap();
        for (k, got) in v
            .iter()
            .enumerate()
            .step_by(997)
            .chain(v.iter().enumerate().skip(w - 3))
        {
            let p = k as f64 - 0.0011;
            let want = match i {
                Interpolation::Nearest => p.round() / 1000.0,
                _ => p / 1000.0,
            };
            assert!(
                (*got as f64 - want).abs() < 1e-4,
                "{i:?} at x {k}: {got} where {want}"
            );
        }
    }
}
