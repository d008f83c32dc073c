//! Gradients to transform parameters: the tensor-parameter forms equal the random transforms'
//! results, and their gradients match central finite differences.

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use common::*;
use medburn_augment::{
    differentiable_affine, differentiable_elastic, elastic_tensor, AffineSample, AffineTensors,
    Drawn, Pipeline, PipelineParams, RandomElastic,
};
use medburn_core::{Direction, Geometry};
use rand::SeedableRng;

fn geometry() -> Geometry {
    Geometry::new(
        [10, 9, 8],
        [1.0, -2.0, 0.5],
        [1.2, 1.0, 1.5],
        Direction::identity(),
    )
    .unwrap()
}

#[test]
fn tensor_parameters_give_the_drawn_transforms_results() {
    let device = Device::flex();
    let g = geometry();
    let x = smooth([2, 1, 8, 9, 10], &device);
    let samples = [
        AffineSample {
            rotation_rad: [0.1, -0.2, 0.15],
            scale: [1.1, 0.9, 1.0],
            shear: [0.0; 3],
            translation_mm: [1.0, -0.5, 0.3],
        },
        AffineSample {
            rotation_rad: [0.0, 0.05, -0.1],
            scale: [0.95; 3],
            shear: [0.0; 3],
            translation_mm: [0.0, 1.0, 0.0],
        },
    ];
    let params = PipelineParams {
        batch: 2,
        size: g.size(),
        drawn: vec![Drawn::Affine(samples.iter().map(|s| Some(*s)).collect())],
    };
    let drawn = values(
        Pipeline::none()
            .apply(&params, &g, x.clone(), None)
            .unwrap()
            .0,
    );
    let tensors = AffineTensors::from_samples(&samples, &device).unwrap();
    let ours = values(differentiable_affine(x.clone(), &g, &tensors).unwrap());
    let diff = max_abs_diff(&drawn, &ours);
    assert!(
        diff < 1e-3,
        "tensor affine differs from the drawn one by {diff}"
    );

    let e = RandomElastic {
        prob: 1.0,
        control_spacing_mm: 5.0,
        max_displacement_mm: [1.0; 3],
        locked_borders: false,
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let p = Pipeline::new(vec![medburn_augment::Transform::Elastic(e)]);
    let params = p.sample(&mut rng, &g, 2).unwrap();
    let Drawn::Elastic(s) = &params.drawn[0] else {
        panic!()
    };
    let drawn = values(p.apply(&params, &g, x.clone(), None).unwrap().0);
    let ours = values(differentiable_elastic(x, &g, elastic_tensor(s, &device).unwrap()).unwrap());
    let diff = max_abs_diff(&drawn, &ours);
    assert!(
        diff < 1e-3,
        "tensor elastic differs from the drawn one by {diff}"
    );
}

/// `sum(out * w)` for parameters `v` in place of one entry.
fn central_difference(f: &dyn Fn(f32) -> f32, at: f32, h: f32) -> f32 {
    (f(at + h) - f(at - h)) / (2.0 * h)
}

#[test]
fn parameter_gradients_match_finite_differences() {
    let device = Device::flex().autodiff();
    let g = geometry();
    let x = smooth([1, 1, 8, 9, 10], &device);
    let w = image(7, [1, 1, 8, 9, 10], &device);
    let base = [0.1f32, -0.05, 0.2];
    let rot = |v: [f32; 3]| Tensor::<2>::from_data(TensorData::new(v.to_vec(), [1, 3]), &device);
    let loss = |r: Tensor<2>| {
        let mut p = AffineTensors::identity(1, &device);
        p.rotation_rad = r;
        (differentiable_affine(x.clone(), &g, &p).unwrap() * w.clone()).sum()
    };
    let r = rot(base).require_grad();
    let grads = loss(r.clone()).backward();
    let grad = r
        .grad(&grads)
        .expect("rotation has a gradient")
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    for a in 0..3 {
        let f = |v: f32| {
            let mut b = base;
            b[a] = v;
            loss(rot(b)).into_scalar::<f32>()
        };
        let fd = central_difference(&f, base[a], 1e-3);
        assert!(
            (grad[a] - fd).abs() < 0.05 * fd.abs().max(1.0),
            "rotation {a}: {} vs {fd}",
            grad[a]
        );
    }

    // One control displacement of an elastic field.
    let control = |v: f32| {
        let mut c = vec![0.3f32; 3 * 4 * 4 * 4];
        c[3 * 16 + 4 + 1 + 2 * 64] = v; // the z component of coefficient (i, j, k) = (1, 1, 3)
        Tensor::<5>::from_data(TensorData::new(c, [1, 3, 4, 4, 4]), &device)
    };
    let at = 0.4f32;
    let e_loss =
        |c: Tensor<5>| (differentiable_elastic(x.clone(), &g, c).unwrap() * w.clone()).sum();
    let c = control(at).require_grad();
    let grads = e_loss(c.clone()).backward();
    let grad = c
        .grad(&grads)
        .expect("control has a gradient")
        .into_data()
        .try_to_vec::<f32>()
        .unwrap()[3 * 16 + 4 + 1 + 2 * 64];
    let fd = central_difference(&|v| e_loss(control(v)).into_scalar::<f32>(), at, 1e-2);
    assert!(grad.abs() > 1e-3, "no gradient");
    assert!(
        (grad - fd).abs() < 0.05 * fd.abs().max(0.1),
        "control: {grad} vs {fd}"
    );
}
