//! The reconstruction networks' training steps on 2 x 1 x 64^3 (forward, loss, backward,
//! AdamW): MONAI's default `AutoEncoder` (channels 16/32/64, strides 2, two residual units;
//! MSE), its `VarAutoEncoder` (latent 64; binary cross-entropy of the sigmoid output + KL, as
//! MONAI's VAE tutorial) and the x[1, 1, 4] super-resolution network (features 32, four
//! residual units, sub-pixel; L1 against the 64^3 truth from a 64 x 64 x 16 input).
//! tests/scripts/bench_models.py times MONAI's AutoEncoder and VarAutoEncoder, and the same
//! super-resolution network built from MONAI's blocks, on the same shapes and threads.

use std::cell::RefCell;

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Distribution, Tensor};
use medburn_core::Device;
use medburn_models::{
    kl_divergence, AutoEncoderConfig, SuperResolution3dConfig, VarAutoEncoderConfig,
};

use super::case::Case;

/// Batch and edge of the high-resolution volumes.
const BATCH: usize = 2;
const EDGE: usize = 64;

/// A training step of `model` with `loss`, the model kept between runs.
fn step_case<M: Module + 'static>(
    name: &'static str,
    model: M,
    device: &Device,
    loss: impl Fn(&M) -> Result<Tensor<1>, Box<dyn std::error::Error>> + 'static,
) -> Case {
    let model = RefCell::new(Some(model));
    let optim: RefCell<ModuleOptimizer> = RefCell::new(AdamWConfig::new().init());
    let sync = device.clone();
    Case {
        name,
        run: Box::new(move || {
            let m = model.borrow_mut().take().expect("model");
            let l = loss(&m)?;
            let grads = GradientsParams::from_grads(l.backward(), &m);
            let m = optim.borrow_mut().step(1e-4, m, grads);
            sync.sync()?;
            *model.borrow_mut() = Some(m);
            Ok(())
        }),
    }
}

pub(super) fn cases(
    device: &Device,
    wanted: &dyn Fn(&str) -> bool,
) -> Result<Vec<Case>, Box<dyn std::error::Error>> {
    let mut cases = Vec::new();
    let ad = device.clone().autodiff();
    let shape = [BATCH, 1, EDGE, EDGE, EDGE];
    if wanted("autoencoder_train_step") {
        ad.seed(0);
        let model = AutoEncoderConfig::new(1, 1, vec![16, 32, 64], vec![2, 2, 2])
            .with_num_res_units(2)
            .init(&ad)?;
        let x = Tensor::<5>::random(shape, Distribution::Default, &ad);
        cases.push(step_case("autoencoder_train_step", model, &ad, move |m| {
            let y = m.try_forward(x.clone())?;
            Ok((y - x.clone()).powi_scalar(2).mean())
        }));
    }
    if wanted("autoencoder_vae_train_step") {
        ad.seed(0);
        let model = VarAutoEncoderConfig::new(
            vec![1, EDGE, EDGE, EDGE],
            1,
            64,
            vec![16, 32, 64],
            vec![2, 2, 2],
        )
        .with_num_res_units(2)
        .init(&ad)?;
        let x = Tensor::<5>::random(shape, Distribution::Default, &ad);
        cases.push(step_case(
            "autoencoder_vae_train_step",
            model,
            &ad,
            move |m| {
                let out = m.try_forward(x.clone())?;
                // Binary cross-entropy of the sigmoid output (summed, as the tutorial), plus KL.
                let p = out.reconstruction.clamp(1e-6, 1.0 - 1e-6);
                let bce = (x.clone() * p.clone().log()
                    + (x.clone().neg() + 1.0) * (p.neg() + 1.0).log())
                .sum()
                .neg();
                Ok(bce + kl_divergence(out.mu, out.logvar))
            },
        ));
    }
    if wanted("superres_train_step") {
        ad.seed(0);
        let model = SuperResolution3dConfig::new([1, 1, 4]).init(&ad)?;
        let high = Tensor::<5>::random(shape, Distribution::Default, &ad);
        let low = Tensor::<5>::random([BATCH, 1, EDGE / 4, EDGE, EDGE], Distribution::Default, &ad);
        cases.push(step_case("superres_train_step", model, &ad, move |m| {
            let y = m.try_forward(low.clone())?;
            Ok((y - high.clone()).abs().mean())
        }));
    }
    Ok(cases)
}
