//! VoxelMorph (MONAI's default configuration, 244,323 parameters) on one pair of 1 x 128^3: a
//! training step (forward, LNCC with 9-voxel windows + diffusion of the displacement, backward,
//! AdamW) and inference. tests/scripts/bench_models.py times MONAI's `VoxelMorph` with its
//! `LocalNormalizedCrossCorrelationLoss` and `DiffusionLoss` on the same shapes and threads.

use std::cell::RefCell;

use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Distribution, Tensor};
use medburn_core::Device;
use medburn_models::VoxelMorphConfig;
use medburn_register::{DiffusionLossConfig, LocalNormalizedCrossCorrelationLossConfig};

use super::case::Case;

/// The pair's edge, voxels.
const EDGE: usize = 128;

pub(super) fn cases(
    device: &Device,
    wanted: &dyn Fn(&str) -> bool,
) -> Result<Vec<Case>, Box<dyn std::error::Error>> {
    let mut cases = Vec::new();
    let shape = [1, 1, EDGE, EDGE, EDGE];
    if wanted("voxelmorph_train_step") {
        let ad = device.clone().autodiff();
        ad.seed(0);
        let model = RefCell::new(Some(VoxelMorphConfig::new().init(&ad)?));
        let optim = RefCell::new(AdamWConfig::new().init());
        let moving = Tensor::<5>::random(shape, Distribution::Default, &ad);
        let fixed = Tensor::<5>::random(shape, Distribution::Default, &ad);
        let similarity = LocalNormalizedCrossCorrelationLossConfig::new()
            .with_kernel_size(9)
            .init();
        let smoothness = DiffusionLossConfig::new().init();
        let sync = ad.clone();
        cases.push(Case {
            name: "voxelmorph_train_step",
            run: Box::new(move || {
                let m = model.borrow_mut().take().expect("model");
                let (warped, ddf) = m.try_forward(moving.clone(), fixed.clone())?;
                let l = similarity.forward(warped, fixed.clone())? + smoothness.forward(ddf)?;
                let grads = GradientsParams::from_grads(l.backward(), &m);
                let m = optim.borrow_mut().step(1e-4, m, grads);
                sync.sync()?;
                *model.borrow_mut() = Some(m);
                Ok(())
            }),
        });
    }
    if wanted("voxelmorph_inference") {
        device.seed(0);
        let model = VoxelMorphConfig::new().init(device)?;
        let moving = Tensor::<5>::random(shape, Distribution::Default, device);
        let fixed = Tensor::<5>::random(shape, Distribution::Default, device);
        let sync = device.clone();
        cases.push(Case {
            name: "voxelmorph_inference",
            run: Box::new(move || {
                let (_, ddf) = model.try_forward(moving.clone(), fixed.clone())?;
                let _ = ddf.sum().into_scalar::<f32>();
                sync.sync()?;
                Ok(())
            }),
        });
    }
    Ok(cases)
}
