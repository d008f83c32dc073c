//! Model benchmarks: a MONAI-configuration U-Net training step and inference, and the 3D
//! convolution they spend their time in (tests/scripts/bench_models.py times PyTorch/MONAI on
//! the same shapes and threads).

use std::cell::RefCell;

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::module::conv3d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Distribution, Int, Tensor};
use medburn_core::Device;
use medburn_models::UNet3dConfig;
use medburn_train::losses::DiceCeLossConfig;

use super::bench::Case;

/// `UNet(spatial_dims=3, in_channels=1, out_channels=2, channels=(16,32,64,128),
/// strides=(2,2,2), num_res_units=2)` on 2 x 1 x 64^3.
pub(super) fn cases(
    device: &Device,
    wanted: &dyn Fn(&str) -> bool,
) -> Result<Vec<Case>, Box<dyn std::error::Error>> {
    let mut cases = Vec::new();
    let config =
        UNet3dConfig::new(1, 2, vec![16, 32, 64, 128], vec![2, 2, 2]).with_num_res_units(2);
    if wanted("unet_train_step") {
        let ad = device.clone().autodiff();
        ad.seed(0);
        let model = RefCell::new(Some(config.init(&ad)?));
        let optim = RefCell::new(AdamWConfig::new().init());
        let x = Tensor::<5>::random([2, 1, 64, 64, 64], Distribution::Normal(0.0, 1.0), &ad);
        let y: Tensor<5, Int> = Tensor::<5>::random([2, 1, 64, 64, 64], Distribution::Default, &ad)
            .greater_elem(0.5)
            .int();
        let loss = DiceCeLossConfig::new().init();
        let sync = ad.clone();
        cases.push(Case {
            name: "unet_train_step",
            run: Box::new(move || {
                let m = model.borrow_mut().take().expect("model");
                let l = loss.forward(m.forward(x.clone()), y.clone())?;
                let grads = GradientsParams::from_grads(l.backward(), &m);
                let m = optim.borrow_mut().step(1e-3, m, grads);
                // Wait for the step to finish (an asynchronous backend would queue it).
                sync.sync()?;
                *model.borrow_mut() = Some(m);
                Ok(())
            }),
        });
    }
    if wanted("unet_inference") {
        let model = config.init(device)?.valid();
        let x = Tensor::<5>::random([2, 1, 64, 64, 64], Distribution::Normal(0.0, 1.0), device);
        cases.push(Case {
            name: "unet_inference",
            run: Box::new(move || {
                let _ = model.forward(x.clone()).sum().into_scalar::<f32>();
                Ok(())
            }),
        });
    }
    if wanted("conv3d_16_fwd_bwd") {
        let ad = device.clone().autodiff();
        let x = Tensor::<5>::random([2, 16, 64, 64, 64], Distribution::Default, &ad).require_grad();
        let w = Tensor::<5>::random([16, 16, 3, 3, 3], Distribution::Default, &ad).require_grad();
        cases.push(Case {
            name: "conv3d_16_fwd_bwd",
            run: Box::new(move || {
                let y = conv3d(
                    x.clone(),
                    w.clone(),
                    None,
                    ConvOptions::new([1, 1, 1], [1, 1, 1], [1, 1, 1], 1),
                );
                let g = y.sum().backward();
                let _ = w.grad(&g).map(|t| t.sum().into_scalar::<f32>());
                Ok(())
            }),
        });
    }
    Ok(cases)
}
