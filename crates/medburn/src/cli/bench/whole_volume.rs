//! The whole-volume networks: a training step (forward, MSE against one target per case,
//! backward, AdamW) and inference of MONAI's `resnet18(spatial_dims=3, n_input_channels=1,
//! num_classes=1)` and `Regressor(in_shape=(1, 64, 64, 64), out_shape=(1,), channels=(16, 32,
//! 64, 128), strides=(2, 2, 2, 2))` on 2 x 1 x 64^3 (tests/scripts/bench_models.py times MONAI's
//! on the same shapes and threads). `--only resnet` runs both networks' cases.

use std::cell::RefCell;

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Distribution, Tensor};
use medburn_core::Device;
use medburn_train::{build_vector_net, ModelConfig, VectorNet};

use super::case::Case;

/// The networks, as `medburn train` builds them.
fn network(name: &str, device: &Device) -> Result<VectorNet, Box<dyn std::error::Error>> {
    let config = ModelConfig::named(name)?;
    Ok(build_vector_net(&config, 1, 1, [64, 64, 64], device)?)
}

/// Whether `--only` asked for `name`: its usual substring match, and `resnet` also takes the
/// Regressor's cases (the two whole-volume networks are benchmarked together).
pub(super) fn wanted_by(only: Option<&str>, name: &str) -> bool {
    match only {
        None => true,
        // A comma-separated list: any of them.
        Some(o) => o
            .split(',')
            .filter(|p| !p.is_empty())
            .any(|o| name.contains(o) || (o == "resnet" && name.starts_with("regressor_"))),
    }
}

pub(super) fn cases(
    device: &Device,
    wanted: &dyn Fn(&str) -> bool,
) -> Result<Vec<Case>, Box<dyn std::error::Error>> {
    let mut cases = Vec::new();
    for (net, step, forward, backward, infer) in [
        (
            "resnet18",
            "resnet18_train_step",
            "resnet18_loss_forward",
            "resnet18_loss_backward",
            "resnet18_inference",
        ),
        (
            "regressor",
            "regressor_train_step",
            "regressor_loss_forward",
            "regressor_loss_backward",
            "regressor_inference",
        ),
    ] {
        if wanted(step) {
            let ad = device.clone().autodiff();
            ad.seed(0);
            let model = RefCell::new(Some(network(net, &ad)?));
            let optim = RefCell::new(AdamWConfig::new().init());
            let x = Tensor::<5>::random([2, 1, 64, 64, 64], Distribution::Normal(0.0, 1.0), &ad);
            let y = Tensor::<2>::random([2, 1], Distribution::Normal(0.0, 1.0), &ad);
            let sync = ad.clone();
            cases.push(Case {
                name: step,
                run: Box::new(move || {
                    let m = model.borrow_mut().take().expect("model");
                    let l = (m.try_forward(x.clone())? - y.clone())
                        .powi_scalar(2)
                        .mean();
                    let grads = GradientsParams::from_grads(l.backward(), &m);
                    let m = optim.borrow_mut().step(1e-4, m, grads);
                    sync.sync()?;
                    *model.borrow_mut() = Some(m);
                    Ok(())
                }),
            });
        }
        // Where the step's time goes: the forward with the loss, and forward plus backward.
        for (name, with_backward) in [(forward, false), (backward, true)] {
            if !wanted(name) {
                continue;
            }
            let ad = device.clone().autodiff();
            ad.seed(0);
            let model = network(net, &ad)?;
            let x = Tensor::<5>::random([2, 1, 64, 64, 64], Distribution::Normal(0.0, 1.0), &ad);
            let y = Tensor::<2>::random([2, 1], Distribution::Normal(0.0, 1.0), &ad);
            cases.push(Case {
                name,
                run: Box::new(move || {
                    let l = (model.try_forward(x.clone())? - y.clone())
                        .powi_scalar(2)
                        .mean();
                    if with_backward {
                        let _grads = l.backward();
                    } else {
                        let _ = l.into_scalar::<f32>();
                    }
                    Ok(())
                }),
            });
        }
        if wanted(infer) {
            let model = network(net, device)?.valid();
            let x = Tensor::<5>::random([2, 1, 64, 64, 64], Distribution::Normal(0.0, 1.0), device);
            cases.push(Case {
                name: infer,
                run: Box::new(move || {
                    let _ = model.try_forward(x.clone())?.sum().into_scalar::<f32>();
                    Ok(())
                }),
            });
        }
    }
    Ok(cases)
}
