//! Model benchmarks: a MONAI-configuration U-Net training step and inference, and the 3D
//! convolution they spend their time in (tests/scripts/bench_models.py times PyTorch/MONAI on
//! the same shapes and threads).

use std::cell::RefCell;

use burn::module::Module;
use burn::nn::{InstanceNormConfig, PReluConfig};
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Distribution, Int, Tensor};
use medburn_core::Device;
use medburn_models::nn::{InstanceNorm, PRelu};
use medburn_models::UNet3dConfig;
use medburn_ops::{conv3d, conv_transpose3d, Conv3dOptions, ConvTranspose3dOptions};
use medburn_train::losses::DiceCeLossConfig;

use super::case::Case;

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
    // Where the step's time goes: the same forward (with the loss) alone, and forward plus
    // backward without the optimizer; the optimizer is the step minus the latter.
    for (name, backward) in [("unet_loss_forward", false), ("unet_loss_backward", true)] {
        if !wanted(name) {
            continue;
        }
        let ad = device.clone().autodiff();
        ad.seed(0);
        let model = config.init(&ad)?;
        let x = Tensor::<5>::random([2, 1, 64, 64, 64], Distribution::Normal(0.0, 1.0), &ad);
        let y: Tensor<5, Int> = Tensor::<5>::random([2, 1, 64, 64, 64], Distribution::Default, &ad)
            .greater_elem(0.5)
            .int();
        let loss = DiceCeLossConfig::new().init();
        cases.push(Case {
            name,
            run: Box::new(move || {
                let l = loss.forward(model.forward(x.clone()), y.clone())?;
                if backward {
                    let _grads = l.backward();
                } else {
                    let _ = l.into_scalar::<f32>();
                }
                Ok(())
            }),
        });
    }
    cases.extend(layer_cases(device, wanted));
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
                let o = Conv3dOptions::default().with_padding([1; 3]);
                let y = conv3d(x.clone(), w.clone(), None, o)?;
                let g = y.sum().backward();
                let _ = w.grad(&g).map(|t| t.sum().into_scalar::<f32>());
                Ok(())
            }),
        });
    }
    Ok(cases)
}

/// One convolution of the U-Net above: input channels, output channels, input edge, stride,
/// kernel, transposed. Derived from MONAI's `UNet` for this configuration (residual units with
/// two sub-units on the way down, a 1x1x1 residual convolution at the bottom, transposed
/// convolutions plus one-sub-unit residual units on the way up); bench_models.py lists the
/// same 18 layers.
const UNET_CONVS: [(usize, usize, usize, usize, usize, bool); 18] = [
    (1, 16, 64, 2, 3, false),
    (16, 16, 32, 1, 3, false),
    (1, 16, 64, 2, 3, false),
    (16, 32, 32, 2, 3, false),
    (32, 32, 16, 1, 3, false),
    (16, 32, 32, 2, 3, false),
    (32, 64, 16, 2, 3, false),
    (64, 64, 8, 1, 3, false),
    (32, 64, 16, 2, 3, false),
    (64, 128, 8, 1, 3, false),
    (128, 128, 8, 1, 3, false),
    (64, 128, 8, 1, 1, false),
    (192, 32, 8, 2, 3, true),
    (32, 32, 16, 1, 3, false),
    (64, 16, 16, 2, 3, true),
    (16, 16, 32, 1, 3, false),
    (32, 2, 32, 2, 3, true),
    (2, 2, 64, 1, 3, false),
];

/// Instance normalization plus PReLU of the U-Net above: channels and edge of each of its 13
/// normalized activations.
const UNET_NORMS: [(usize, usize); 13] = [
    (16, 32),
    (16, 32),
    (32, 16),
    (32, 16),
    (64, 8),
    (64, 8),
    (128, 8),
    (128, 8),
    (32, 16),
    (32, 16),
    (16, 32),
    (16, 32),
    (2, 64),
];

/// The U-Net's layers on their own, batch 2: every convolution forward, forward plus the input
/// gradient, forward plus the weight gradient; every normalization forward and forward plus
/// backward. Differences of these medians split the training step into its parts.
fn layer_cases(device: &Device, wanted: &dyn Fn(&str) -> bool) -> Vec<Case> {
    let mut cases = Vec::new();
    let conv_names = [
        ("unet_convs_forward", false, false),
        ("unet_convs_input_grad", true, false),
        ("unet_convs_weight_grad", false, true),
    ];
    for (name, dx, dw) in conv_names {
        if !wanted(name) {
            continue;
        }
        let ad = device.clone().autodiff();
        let layers: Vec<_> = UNET_CONVS
            .iter()
            .map(|&(cin, cout, n, stride, k, transposed)| {
                let mut x = Tensor::<5>::random([2, cin, n, n, n], Distribution::Default, &ad);
                let w_shape = if transposed {
                    [cin, cout, k, k, k]
                } else {
                    [cout, cin, k, k, k]
                };
                let mut w = Tensor::<5>::random(w_shape, Distribution::Default, &ad);
                if dx {
                    x = x.require_grad();
                }
                if dw {
                    w = w.require_grad();
                }
                (x, w, stride, k, transposed)
            })
            .collect();
        cases.push(Case {
            name,
            run: Box::new(move || {
                for (x, w, stride, k, transposed) in &layers {
                    let p = k / 2;
                    let y = if *transposed {
                        let o = ConvTranspose3dOptions::default()
                            .with_stride([*stride; 3])
                            .with_padding([p; 3])
                            .with_output_padding([stride - 1; 3]);
                        conv_transpose3d(x.clone(), w.clone(), None, o)?
                    } else {
                        let o = Conv3dOptions::default()
                            .with_stride([*stride; 3])
                            .with_padding([p; 3]);
                        conv3d(x.clone(), w.clone(), None, o)?
                    };
                    if dx || dw {
                        let _grads = y.sum().backward();
                    } else {
                        let _ = y.sum().into_scalar::<f32>();
                    }
                }
                Ok(())
            }),
        });
    }
    for (name, backward) in [("unet_norms_forward", false), ("unet_norms_backward", true)] {
        if !wanted(name) {
            continue;
        }
        let ad = device.clone().autodiff();
        let layers: Vec<_> = UNET_NORMS
            .iter()
            .map(|&(c, n)| {
                // The forward alone off the autodiff device: Burn's autodiff keeps the graph of
                // a forward that is never back-propagated (PReLU's weight is tracked), so each
                // run would map fresh memory.
                let dev = if backward { ad.clone() } else { device.clone() };
                let x = Tensor::<5>::random([2, c, n, n, n], Distribution::Default, &dev);
                let x = if backward { x.require_grad() } else { x };
                // MONAI's defaults: InstanceNorm3d without affine, PReLU with one weight.
                let norm = InstanceNorm::new(&InstanceNormConfig::new(c).with_affine(false), &dev);
                let act = PRelu::new(&PReluConfig::new(), &dev);
                (x, norm, act)
            })
            .collect();
        cases.push(Case {
            name,
            run: Box::new(move || {
                for (x, norm, act) in &layers {
                    let y = act.forward(norm.forward(x.clone()));
                    if backward {
                        let _grads = y.sum().backward();
                    } else {
                        let _ = y.sum().into_scalar::<f32>();
                    }
                }
                Ok(())
            }),
        });
    }
    cases
}
