//! The super-resolution network: it starts at the B-spline upsampling, every parameter learns,
//! and on one seeded low-/high-resolution pair (the high-resolution volume averaged over 4
//! voxels along k, the tensor's D, as a thick-slice acquisition) it overfits far below the B-spline baseline,
//! with either upsampling layer.

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use medburn_models::superres::{SuperResolution3dConfig, Upsampling};
use medburn_ops::{avg_pool3d, Pool3dOptions};

/// A smooth seeded volume `[1, 1, n, n, n]`: a sum of a few sinusoids with random phases.
fn smooth_volume(n: usize, seed: u64, device: &Device) -> Tensor<5> {
    let mut state = seed;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as f64 / (1u64 << 31) as f64
    };
    let waves: Vec<[f64; 4]> = (0..6)
        .map(|_| {
            [
                next() * 0.9,
                next() * 0.9,
                next() * 0.9,
                next() * std::f64::consts::TAU,
            ]
        })
        .collect();
    let mut v = Vec::with_capacity(n * n * n);
    for d in 0..n {
        for h in 0..n {
            for w in 0..n {
                let s: f64 = waves
                    .iter()
                    .map(|k| (k[0] * d as f64 + k[1] * h as f64 + k[2] * w as f64 + k[3]).sin())
                    .sum();
                v.push((s / 6.0) as f32);
            }
        }
    }
    Tensor::from_data(TensorData::new(v, [1, 1, n, n, n]), device)
}

fn mse(a: Tensor<5>, b: Tensor<5>) -> f32 {
    (a - b).powi_scalar(2).mean().into_scalar::<f32>()
}

#[test]
fn starts_at_the_bspline_upsampling_and_overfits_a_pair_below_it() {
    let device = Device::flex().autodiff();
    device.seed(7);
    let high = smooth_volume(16, 3, &device);
    let low = avg_pool3d(
        high.clone(),
        Pool3dOptions::new([4, 1, 1]).with_stride([4, 1, 1]),
    )
    .unwrap();
    assert_eq!(low.dims(), [1, 1, 4, 16, 16]);
    for upsampling in [Upsampling::Subpixel, Upsampling::Transposed] {
        let config = SuperResolution3dConfig::new([1, 1, 4])
            .with_features(8)
            .with_num_res_units(1)
            .with_upsampling(upsampling);
        // With a zero last layer the output is exactly the baseline.
        let zero = config
            .clone()
            .with_tail_init_scale(0.0)
            .init(&device)
            .unwrap();
        let baseline = zero.baseline(low.clone()).unwrap();
        let start = zero.forward(low.clone());
        assert!(mse(start, baseline.clone()) < 1e-12, "{upsampling:?}");
        let baseline_mse = mse(baseline, high.clone());

        let mut model = config.init(&device).unwrap();
        // Every parameter gets a gradient.
        let loss = (model.forward(low.clone()) - high.clone())
            .powi_scalar(2)
            .mean();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let mut params = 0;
        model.visit(&mut CountParams(&mut params));
        assert_eq!(grads.len(), params, "{upsampling:?}");

        let mut optim: ModuleOptimizer = AdamWConfig::new().with_weight_decay(0.0).init();
        for _ in 0..80 {
            let loss = (model.forward(low.clone()) - high.clone())
                .powi_scalar(2)
                .mean();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(3e-3, model, grads);
        }
        let fitted = mse(model.forward(low.clone()), high.clone());
        assert!(
            fitted < 0.3 * baseline_mse,
            "{upsampling:?}: MSE {fitted} after 80 steps, B-spline {baseline_mse}"
        );
    }
}

#[test]
fn refuses_what_does_not_fit() {
    let device = Device::flex();
    let model = SuperResolution3dConfig::new([2, 2, 2])
        .with_features(2)
        .init(&device)
        .unwrap();
    assert!(model
        .try_forward(Tensor::<5>::zeros([1, 2, 4, 4, 4], &device))
        .is_err());
    assert!(model
        .try_forward(Tensor::<5>::zeros([1, 1, 0, 4, 4], &device))
        .is_err());
    for bad in [[0, 2, 2], [1, 1, 1]] {
        assert!(SuperResolution3dConfig::new(bad).init(&device).is_err());
    }
    assert!(SuperResolution3dConfig::new([2, 2, 2])
        .with_tail_init_scale(f64::NAN)
        .init(&device)
        .is_err());
}

/// Counts the parameter tensors of a module.
struct CountParams<'a>(&'a mut usize);

impl burn::module::ModuleVisitor for CountParams<'_> {
    fn visit_float<const D: usize>(&mut self, _: &burn::module::Param<Tensor<D>>) {
        *self.0 += 1;
    }
}
