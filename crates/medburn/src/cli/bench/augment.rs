//! The augmentation benchmark of `medburn bench` (issue 10): a standard chain (random affine,
//! elastic, flip, Gaussian noise, gamma; every probability 1) on a batch of 2 x 1 x 128^3 with
//! labels; tests/scripts/bench_augment.py runs the same chain in MONAI and TorchIO.

use burn::tensor::{Device, Distribution, Tensor};
use medburn_augment::{
    Pipeline, RandomAffine, RandomElastic, RandomFlip, RandomGamma, RandomGaussianNoise, Transform,
};
use medburn_core::Geometry;
use rand::SeedableRng;

use super::case::Case;

/// The chain, as in bench_augment.py: +-15 degrees, scale 0.85-1.15, +-5 mm; control points
/// every 24 mm (7 per side at 128 mm), up to 6 mm; left-right flip; noise std up to 0.1; gamma
/// 0.7-1.5.
pub fn standard_chain() -> Pipeline {
    Pipeline::new(vec![
        Transform::Affine(RandomAffine {
            prob: 1.0,
            ..Default::default()
        }),
        Transform::Elastic(RandomElastic {
            prob: 1.0,
            ..Default::default()
        }),
        Transform::Flip(RandomFlip {
            prob: 1.0,
            axes: [true, false, false],
        }),
        Transform::GaussianNoise(RandomGaussianNoise {
            prob: 1.0,
            ..Default::default()
        }),
        Transform::Gamma(RandomGamma {
            prob: 1.0,
            ..Default::default()
        }),
    ])
}

pub fn cases(
    device: &Device,
    wanted: &dyn Fn(&str) -> bool,
) -> Result<Vec<Case>, Box<dyn std::error::Error>> {
    const NAME: &str = "augment_standard_chain_2x1x128";
    if !wanted(NAME) {
        return Ok(vec![]);
    }
    let dims = [2, 1, 128, 128, 128];
    let image = Tensor::<5>::random(dims, Distribution::Default, device);
    let label = image.clone().mul_scalar(4.0).floor();
    let g = Geometry::unit([128, 128, 128])?;
    let chain = standard_chain();
    let seed = std::cell::Cell::new(0u64);
    Ok(vec![Case {
        name: NAME,
        run: Box::new(move || {
            // A new draw every run, as in a training loop.
            seed.set(seed.get() + 1);
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed.get());
            let params = chain.sample(&mut rng, &g, 2)?;
            let (x, l) = chain.apply(&params, &g, image.clone(), Some(label.clone()))?;
            let l = l.ok_or("no label came back")?;
            std::hint::black_box(x.sum().into_scalar::<f32>() + l.sum().into_scalar::<f32>());
            Ok(())
        }),
    }])
}
