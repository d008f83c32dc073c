//! The exchange atomic path of the CubeCL input gradient (devices without float atomic add),
//! forced on a device that has native float atomics (its own test binary, so the variable
//! reaches no other test).

mod common;

use burn::tensor::{DType, Device, Tensor};
use common::*;
use medburn_ops::*;

#[test]
fn exchange_atomics_give_the_same_input_gradient() {
    let xd = seeded_uniform([2, 2, 5, 4, 6], 0.0, 1.0);
    let gd = seeded_uniform([2, 3, 4, 2, 3], -1.1, 1.1);
    let grad = |device: &Device| {
        let x = Tensor::<5>::from_data(xd.clone(), device).require_grad();
        let g = Tensor::<5>::from_data(gd.clone(), device);
        let mut out = vec![];
        for i in [Interpolation::Linear, Interpolation::BSpline] {
            let y = grid_sample_3d(x.clone(), g.clone(), SampleOptions::new(i)).unwrap();
            let grads = (y.clone() * y).sum().backward();
            out.push(values(x.grad(&grads).unwrap().cast(DType::F32)));
        }
        out
    };
    let Some(gpu) = wgpu_device() else { return };
    let want = grad(&Device::flex().autodiff());
    std::env::set_var("MEDBURN_OPS_EXCHANGE_ATOMICS", "1");
    let gpu = gpu.autodiff();
    let got = grad(&gpu);
    for (a, b) in got.iter().zip(&want) {
        assert_close("exchange-atomics input gradient", a, b, 1e-4);
    }

    // Every one of 4096 points on the same spot: the eight voxels around it each receive 4096
    // concurrent additions, and none may be lost. The spot is at voxel (1.5, 1.25, 2.75), so
    // every weight is a binary fraction and every sum is exact in f32.
    let x = Tensor::<5>::zeros([1, 1, 4, 4, 4], &gpu).require_grad();
    let spot = [0.0f32, -0.125, 0.625];
    let g = Tensor::<1>::from_floats(spot, &gpu)
        .reshape([1, 1, 1, 1, 3])
        .repeat_dim(1, 16)
        .repeat_dim(2, 16)
        .repeat_dim(3, 16);
    let y = grid_sample_3d(x.clone(), g, SampleOptions::new(Interpolation::Linear)).unwrap();
    let grads = y.sum().backward();
    let got = values(x.grad(&grads).unwrap());
    let weight = |t: f64, i: usize, i0: usize| match i {
        _ if i == i0 => 1.0 - t,
        _ if i == i0 + 1 => t,
        _ => 0.0,
    };
    for (k, v) in got.iter().enumerate() {
        let (z, y, x) = (k / 16, k / 4 % 4, k % 4);
        let want = 4096.0 * weight(0.5, x, 1) * weight(0.25, y, 1) * weight(0.75, z, 2);
        assert_eq!(*v, want, "voxel (z {z}, y {y}, x {x}) kept {v} of {want}");
    }
}
