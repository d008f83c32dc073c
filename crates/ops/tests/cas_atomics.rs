//! The compare-and-swap atomic path of the CubeCL input gradient, forced on a device that has
//! native float atomics (its own test binary, so the variable reaches no other test).

mod common;

use burn::tensor::{DType, Device, Distribution, Tensor};
use common::*;
use medburn_ops::*;

#[test]
fn cas_atomics_give_the_same_input_gradient() {
    let xd =
        Tensor::<5>::random([2, 2, 5, 4, 6], Distribution::Default, &Device::flex()).into_data();
    let gd = Tensor::<5>::random(
        [2, 3, 4, 2, 3],
        Distribution::Uniform(-1.1, 1.1),
        &Device::flex(),
    )
    .into_data();
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
    std::env::set_var("MEDBURN_OPS_CAS_ATOMICS", "1");
    let got = grad(&gpu.autodiff());
    for (a, b) in got.iter().zip(&want) {
        assert_close("CAS input gradient", a, b, 1e-4);
    }
}
