//! A NaN or infinite voxel reaches only the points whose taps read it. A point outside the
//! volume under zero or ITK padding reads nothing (as in PyTorch and ITK), so it is 0 whatever
//! the volume holds, and its gradients are 0.

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use common::{seeded_uniform, wgpu_device};
use medburn_ops::{grid_sample_3d, voxel_affine_sample_3d, Interpolation, Padding, SampleOptions};

const SHAPE: [usize; 5] = [1, 1, 4, 5, 6];

/// Seeded values with NaN at voxel 0 and +inf at the last voxel.
fn input(device: &Device) -> Tensor<5> {
    let mut v = seeded_uniform(SHAPE, -1.0, 1.0)
        .try_to_vec::<f32>()
        .unwrap();
    v[0] = f32::NAN;
    let last = v.len() - 1;
    v[last] = f32::INFINITY;
    Tensor::from_data(TensorData::new(v, SHAPE), device)
}

fn vec(t: Tensor<5>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

fn points_outside_read_nothing(device: &Device) {
    let device = device.clone().autodiff();
    // Normalized points far outside on each axis and both sides, and just beyond the faces
    // (within a linear tap's reach of the edge voxels on the far side from voxel 0).
    let points: Vec<[f32; 3]> = vec![
        [-3.0, 0.0, 0.0],
        [3.0, 0.0, 0.0],
        [0.0, -3.0, 0.0],
        [0.0, 3.0, 0.0],
        [0.0, 0.0, -3.0],
        [0.0, 0.0, 3.0],
        [-1.25, -0.9, -0.9],
        [-0.9, -1.5, -0.9],
    ];
    let flat: Vec<f32> = points.iter().flatten().copied().collect();
    let n = points.len();
    for interpolation in [
        Interpolation::Nearest,
        Interpolation::Linear,
        Interpolation::BSpline,
    ] {
        for padding in [Padding::Zeros, Padding::Itk] {
            let o = SampleOptions::new(interpolation).with_padding(padding);
            let x = input(&device).require_grad();
            let g = Tensor::<5>::from_data(TensorData::new(flat.clone(), [1, 1, 1, n, 3]), &device)
                .require_grad();
            let y = grid_sample_3d(x.clone(), g.clone(), o).unwrap();
            let grads = y.clone().sum().backward();
            assert_eq!(vec(y), vec![0.0; n], "{o:?}");
            let gg = vec(g.grad(&grads).unwrap());
            assert!(gg.iter().all(|v| *v == 0.0), "{o:?}: grid gradient {gg:?}");
            let gx = vec(x.grad(&grads).unwrap());
            assert!(gx.iter().all(|v| *v == 0.0), "{o:?}: input gradient {gx:?}");
        }
    }
}

fn affine_rows_outside_read_nothing(device: &Device) {
    let device = device.clone();
    // A shift of 3.5 voxels along x: output columns 3.. read beyond the last column (zeros),
    // columns 0..2 read columns 3 to 5, never voxel 0.
    let theta = Tensor::<3>::from_data(
        TensorData::new(
            vec![1., 0., 0., 3.5, 0., 1., 0., 0., 0., 0., 1., 0.],
            [1, 3, 4],
        ),
        &device,
    );
    let [_, _, d, h, w] = SHAPE;
    for interpolation in [Interpolation::Nearest, Interpolation::Linear] {
        let o = SampleOptions::new(interpolation);
        let y = vec(voxel_affine_sample_3d(input(&device), theta.clone(), [d, h, w], o).unwrap());
        for (i, v) in y.iter().enumerate() {
            let x = i % w;
            let row = i / w;
            // Beyond the volume's last column by more than a linear tap reaches.
            if x >= 3 {
                assert_eq!(*v, 0.0, "{o:?}: point {i}");
            } else if row / h < 2 || row % h < 3 {
                // Rows whose taps, zero weights included, stay off the infinite last voxel
                // (an in-volume tap of weight 0 reads its voxel, as in PyTorch).
                assert!(v.is_finite(), "{o:?}: point {i} is {v}");
            }
        }
    }
}
/// An infinite grid position under linear zero padding reads nothing: value 0 and zero
/// gradients, as PyTorch's `grid_sample` gives (checked with torch 2.15).
fn infinite_positions_read_nothing(device: &Device) {
    let device = device.clone().autodiff();
    let (inf, n) = (f32::INFINITY, 4);
    let flat = [inf, 0.0, 0.0, -inf, 0.0, 0.0, 0.0, inf, 0.0, 0.0, 0.0, -inf];
    let o = SampleOptions::new(Interpolation::Linear);
    let x = input(&device).require_grad();
    let g = Tensor::<5>::from_data(TensorData::new(flat.to_vec(), [1, 1, 1, n, 3]), &device)
        .require_grad();
    let y = grid_sample_3d(x.clone(), g.clone(), o).unwrap();
    let grads = y.clone().sum().backward();
    assert_eq!(vec(y), vec![0.0; n]);
    let gg = vec(g.grad(&grads).unwrap());
    assert!(gg.iter().all(|v| *v == 0.0), "grid gradient {gg:?}");
    let gx = vec(x.grad(&grads).unwrap());
    assert!(gx.iter().all(|v| *v == 0.0), "input gradient {gx:?}");
}

#[test]
fn infinite_positions_read_nothing_on_flex() {
    infinite_positions_read_nothing(&Device::flex());
}

#[test]
fn infinite_positions_read_nothing_on_wgpu() {
    if let Some(gpu) = wgpu_device() {
        infinite_positions_read_nothing(&gpu);
    }
}

#[test]
fn points_outside_read_nothing_on_flex() {
    points_outside_read_nothing(&Device::flex());
}

#[test]
fn affine_rows_outside_read_nothing_on_flex() {
    affine_rows_outside_read_nothing(&Device::flex());
}

#[test]
fn points_outside_read_nothing_on_wgpu() {
    if let Some(gpu) = wgpu_device() {
        points_outside_read_nothing(&gpu);
    }
}

#[test]
fn affine_rows_outside_read_nothing_on_wgpu() {
    if let Some(gpu) = wgpu_device() {
        affine_rows_outside_read_nothing(&gpu);
    }
}
