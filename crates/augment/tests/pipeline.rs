//! Pipelines: seeds reproduce, draws do not depend on outcomes, composition (`one_of`,
//! `random_apply`), configs (the shipped TOML, JSON round trips, refusals), bad inputs,
//! gradients, and Flex against wgpu.

mod common;

use burn::tensor::{Device, Distribution, Tensor};
use common::*;
use medburn_augment::{
    AugmentError, Compose, Drawn, Interpolation, OneOf, Pipeline, PipelineParams, RandomAffine,
    RandomApply, RandomCrop, RandomElastic, RandomFlip, RandomGamma, RandomGaussianNoise,
    RandomRot90, Transform,
};
use medburn_core::Geometry;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn dev() -> Device {
    Device::flex()
}

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Every kind of step, nested.
fn everything() -> Pipeline {
    toml::from_str(
        r#"
        [[transforms]]
        type = "affine"
        prob = 1.0
        isotropic_scale = false
        shear = [0.05, 0.05, 0.05]
        [[transforms]]
        type = "elastic"
        prob = 1.0
        control_spacing_mm = 5.0
        max_displacement_mm = [1.0, 1.0, 1.0]
        [[transforms]]
        type = "one_of"
        transforms = [{ type = "flip", axes = [true, true, true] }, { type = "rot90", prob = 1.0 }]
        weights = [1.0, 1.0]
        [[transforms]]
        type = "random_apply"
        prob = 0.7
        transforms = [{ type = "gaussian_noise", prob = 1.0 }, { type = "bias_field", prob = 1.0 }]
        [[transforms]]
        type = "compose"
        transforms = [{ type = "gamma", prob = 1.0 }, { type = "contrast", prob = 1.0 }, { type = "gaussian_blur", prob = 1.0 }]
        "#,
    )
    .unwrap()
}

fn geometry() -> Geometry {
    Geometry::unit([10, 10, 8]).unwrap()
}

#[test]
fn a_seed_gives_the_same_batch_again() {
    let device = dev();
    let p = everything();
    let g = geometry();
    let dims = [3, 1, 8, 10, 10];
    let a = p.sample(&mut rng(7), &g, 3).unwrap();
    let b = p.sample(&mut rng(7), &g, 3).unwrap();
    assert_eq!(a, b);
    let c = p.sample(&mut rng(8), &g, 3).unwrap();
    assert_ne!(a, c);
    let run = |params: &PipelineParams| {
        let (x, l) = p
            .apply(
                params,
                &g,
                image(1, dims, &device),
                Some(labels(dims, &device)),
            )
            .unwrap();
        (values(x), values(l.unwrap()))
    };
    assert_eq!(run(&a), run(&b));
    // Params survive JSON (what a log keeps) and replay the same batch.
    let json = serde_json::to_string(&a).unwrap();
    let replay: PipelineParams = serde_json::from_str(&json).unwrap();
    assert_eq!(run(&replay), run(&a));
}

#[test]
fn the_number_of_draws_depends_only_on_the_pipeline_and_the_patch() {
    let g = geometry();
    let mut never = everything();
    fn zero(ts: &mut [Transform]) {
        for t in ts {
            match t {
                Transform::Affine(t) => t.prob = 0.0,
                Transform::Elastic(t) => t.prob = 0.0,
                Transform::Flip(t) => t.prob = 0.0,
                Transform::Rot90(t) => t.prob = 0.0,
                Transform::GaussianNoise(t) => t.prob = 0.0,
                Transform::Gamma(t) => t.prob = 0.0,
                Transform::Contrast(t) => t.prob = 0.0,
                Transform::GaussianBlur(t) => t.prob = 0.0,
                Transform::BiasField(t) => t.prob = 0.0,
                Transform::OneOf(o) => zero(&mut o.transforms),
                Transform::RandomApply(r) => {
                    r.prob = 0.0;
                    zero(&mut r.transforms)
                }
                Transform::Compose(c) => zero(&mut c.transforms),
                _ => {}
            }
        }
    }
    zero(&mut never.transforms);
    let (mut a, mut b) = (rng(3), rng(3));
    let pa = everything().sample(&mut a, &g, 5).unwrap();
    let pb = never.sample(&mut b, &g, 5).unwrap();
    assert_eq!(a.get_word_pos(), b.get_word_pos());
    assert!(pb.drawn.iter().all(|d| match d {
        Drawn::Affine(v) => v.iter().all(Option::is_none),
        _ => true,
    }));
    assert_ne!(pa, pb);
    // And a saved position resumes the same draws.
    let mut resumed = rng(3);
    resumed.set_word_pos(a.get_word_pos());
    assert_eq!(
        everything().sample(&mut a, &g, 2).unwrap(),
        everything().sample(&mut resumed, &g, 2).unwrap()
    );
}

#[test]
fn one_of_applies_exactly_one_candidate_and_respects_weights() {
    let g = geometry();
    let flip = |axis: usize| {
        let mut axes = [false; 3];
        axes[axis] = true;
        Transform::Flip(RandomFlip { prob: 1.0, axes })
    };
    let p = Pipeline::new(vec![Transform::OneOf(OneOf {
        transforms: vec![flip(0), flip(1), flip(2)],
        weights: Some(vec![1.0, 0.0, 3.0]),
    })]);
    let params = p.sample(&mut rng(1), &g, 400).unwrap();
    let per_candidate: Vec<Vec<bool>> = params
        .drawn
        .iter()
        .map(|d| match d {
            Drawn::Flip(v) => v
                .iter()
                .map(|f| f.is_some_and(|f| f.contains(&true)))
                .collect(),
            _ => panic!("flips only"),
        })
        .collect();
    for s in 0..400 {
        assert_eq!(
            per_candidate.iter().filter(|c| c[s]).count(),
            1,
            "sample {s}"
        );
    }
    let counts: Vec<usize> = per_candidate
        .iter()
        .map(|c| c.iter().filter(|x| **x).count())
        .collect();
    assert_eq!(counts[1], 0, "a zero weight was chosen");
    // 1 : 3, so about 100 and 300 of 400.
    assert!((60..140).contains(&counts[0]), "{counts:?}");

    let never = Pipeline::new(vec![Transform::RandomApply(RandomApply {
        prob: 0.0,
        transforms: vec![flip(0)],
    })]);
    let params = never.sample(&mut rng(1), &g, 10).unwrap();
    assert!(matches!(&params.drawn[0], Drawn::Flip(v) if v.iter().all(Option::is_none)));
}

#[test]
fn configs_read_back_and_bad_ones_are_refused() {
    // The shipped file is the default.
    let shipped: Pipeline = toml::from_str(Pipeline::BRAIN_MR_TOML).unwrap();
    assert_eq!(shipped, Pipeline::default());
    // JSON round trip of a nested pipeline.
    let p = everything();
    let back: Pipeline = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
    assert_eq!(back, p);
    // Unknown fields and types are errors that name them.
    let e =
        toml::from_str::<Pipeline>("[[transforms]]\ntype = \"affine\"\nrotation = 3").unwrap_err();
    assert!(e.to_string().contains("rotation"), "{e}");
    assert!(toml::from_str::<Pipeline>("[[transforms]]\ntype = \"warp_drive\"").is_err());
    // Values out of range name their field; a crop below the top level is refused.
    let bad = Pipeline::new(vec![Transform::Compose(Compose {
        transforms: vec![Transform::Gamma(RandomGamma {
            gamma: (0.0, 1.0),
            ..Default::default()
        })],
    })]);
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("gamma.gamma"));
    let nested_crop = Pipeline::new(vec![Transform::RandomApply(RandomApply {
        prob: 0.5,
        transforms: vec![Transform::Crop(RandomCrop { size: [4, 4, 4] })],
    })]);
    assert!(nested_crop
        .validate()
        .unwrap_err()
        .to_string()
        .contains("top level"));
    let e = Pipeline::new(vec![Transform::OneOf(OneOf {
        transforms: vec![],
        weights: None,
    })])
    .validate()
    .unwrap_err();
    assert!(e.to_string().contains("one_of"));
    let r = Pipeline::new(vec![Transform::Rot90(RandomRot90 {
        max_k: 4,
        ..Default::default()
    })]);
    assert!(r.validate().is_err());
    // Label interpolation: the old name reads as label-linear, which is written under its
    // own name; interpolations that make values no label has are refused.
    for name in ["one_hot_linear", "label_linear", "label-linear"] {
        let p: Pipeline = toml::from_str(&format!("label_interpolation = \"{name}\"")).unwrap();
        assert_eq!(p.label_interpolation, Interpolation::LabelLinear, "{name}");
        assert!(toml::to_string(&p)
            .unwrap()
            .contains("label_interpolation = \"label_linear\""));
    }
    let p: Pipeline = toml::from_str("label_interpolation = \"bspline\"").unwrap();
    let e = p.validate().unwrap_err();
    assert!(e.to_string().contains("label_interpolation"), "{e}");
    assert!(toml::from_str::<Pipeline>("label_interpolation = \"cubic\"").is_err());
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let device = dev();
    let g = geometry();
    let p = everything();
    let params = p.sample(&mut rng(0), &g, 2).unwrap();
    let x = image(1, [2, 1, 8, 10, 10], &device);
    // Label of another shape.
    let e = p
        .apply(
            &params,
            &g,
            x.clone(),
            Some(labels([2, 1, 8, 10, 9], &device)),
        )
        .unwrap_err();
    assert!(matches!(e, AugmentError::LabelShape { .. }), "{e}");
    // Params for another batch size.
    let e = p
        .apply(&params, &g, image(1, [3, 1, 8, 10, 10], &device), None)
        .unwrap_err();
    assert!(e.to_string().contains("batch"), "{e}");
    // A geometry that is not the batch's grid.
    let e = p
        .apply(
            &params,
            &Geometry::unit([10, 10, 9]).unwrap(),
            x.clone(),
            None,
        )
        .unwrap_err();
    assert!(matches!(e, AugmentError::GeometryMismatch { .. }), "{e}");
    // A crop larger than the patch.
    let crop = Pipeline::new(vec![Transform::Crop(RandomCrop { size: [12, 4, 4] })]);
    assert!(crop
        .sample(&mut rng(0), &g, 1)
        .unwrap_err()
        .to_string()
        .contains("larger"));
    // One-hot labels need non-negative integer classes.
    let mut one_hot = Pipeline::new(vec![Transform::Affine(RandomAffine {
        prob: 1.0,
        ..Default::default()
    })]);
    one_hot.label_interpolation = Interpolation::LabelLinear;
    let lp = one_hot.sample(&mut rng(0), &g, 2).unwrap();
    let e = one_hot
        .apply(
            &lp,
            &g,
            x.clone(),
            Some(labels([2, 1, 8, 10, 10], &device).sub_scalar(1.5)),
        )
        .unwrap_err();
    assert!(e.to_string().contains("class index"), "{e}");
    // Quarter turns of a non-square plane.
    let r = Pipeline::new(vec![Transform::Rot90(RandomRot90 {
        prob: 1.0,
        max_k: 1,
        planes: vec![[0, 2]],
    })]);
    let rp = r.sample(&mut rng(0), &g, 2).unwrap();
    assert!(r
        .apply(&rp, &g, x.clone(), None)
        .unwrap_err()
        .to_string()
        .contains("equal sizes"));
    // Hand-made params that are not finite.
    let mut bad = params.clone();
    if let Drawn::Gamma(v) = &mut bad.drawn[5] {
        v[0] = Some(f64::NAN);
    } else if let Some(Drawn::Gamma(v)) =
        bad.drawn.iter_mut().find(|d| matches!(d, Drawn::Gamma(_)))
    {
        v[0] = Some(f64::NAN);
    }
    assert!(p.apply(&bad, &g, x.clone(), None).is_err());
    // Inverting on the wrong grid.
    assert!(p
        .invert(&params, &g, image(1, [2, 1, 8, 10, 9], &device), false)
        .is_err());
}

#[test]
fn spatial_chains_pass_exact_gradients_to_the_image() {
    // Affine + elastic + flip + brightness is linear in the image: the gradient of
    // sum(L(x) * w) is the adjoint, so <grad, v> = <w, L(v)> for any v.
    let device = Device::flex().autodiff();
    let g = geometry();
    let p = Pipeline::new(vec![
        Transform::Affine(RandomAffine {
            prob: 1.0,
            ..Default::default()
        }),
        Transform::Elastic(RandomElastic {
            prob: 1.0,
            control_spacing_mm: 5.0,
            max_displacement_mm: [1.0; 3],
            ..Default::default()
        }),
        Transform::Flip(RandomFlip {
            prob: 1.0,
            axes: [true; 3],
        }),
        Transform::Brightness(medburn_augment::RandomBrightness {
            prob: 1.0,
            ..Default::default()
        }),
    ]);
    let params = p.sample(&mut rng(2), &g, 2).unwrap();
    let dims = [2, 1, 8, 10, 10];
    let x = image(3, dims, &device).require_grad();
    let w = image(4, dims, &device);
    let v = image(5, dims, &device);
    let (y, _) = p.apply(&params, &g, x.clone(), None).unwrap();
    let grads = (y * w.clone()).sum().backward();
    let grad = x.grad(&grads).expect("the image has a gradient");
    let lhs = (grad * v.clone()).sum().into_scalar::<f32>();
    let (lv, _) = p.apply(&params, &g, v, None).unwrap();
    let rhs = (lv * w).sum().into_scalar::<f32>();
    assert!(
        (lhs - rhs).abs() < 1e-3 * rhs.abs().max(1.0),
        "adjoint: {lhs} vs {rhs}"
    );
    assert!(lhs.abs() > 1.0);
}

#[test]
fn wgpu_matches_flex() {
    let Some(gpu) = medburn_core::wgpu_device_or_skip("augment_wgpu_matches_flex") else {
        return;
    };
    let g = geometry();
    let mut p = everything();
    p.transforms
        .push(Transform::GaussianNoise(RandomGaussianNoise {
            prob: 1.0,
            ..Default::default()
        }));
    let params = p.sample(&mut rng(4), &g, 2).unwrap();
    let dims = [2, 1, 8, 10, 10];
    let run = |device: &Device, mode| {
        let mut p = p.clone();
        p.label_interpolation = mode;
        let (x, l) = p
            .apply(
                &params,
                &g,
                image(9, dims, device),
                Some(labels(dims, device)),
            )
            .unwrap();
        (values(x), values(l.unwrap()))
    };
    for mode in [Interpolation::Nearest, Interpolation::LabelLinear] {
        let (xc, lc) = run(&dev(), mode);
        let (xg, lg) = run(&gpu, mode);
        let diff = max_abs_diff(&xc, &xg);
        assert!(diff < 2e-3, "wgpu differs from flex by {diff}");
        let mismatched = lc.iter().zip(&lg).filter(|(a, b)| a != b).count();
        // A position on a half-voxel (or a tie of weights) may round differently: a few at most.
        assert!(
            mismatched <= lc.len() / 100,
            "{mismatched} labels differ ({mode:?})"
        );
    }
    // Random tensors on the device are not used: a seed reproduces there too.
    let x = Tensor::<5>::random(dims, Distribution::Default, &gpu);
    let a = values(p.apply(&params, &g, x.clone(), None).unwrap().0);
    let b = values(p.apply(&params, &g, x, None).unwrap().0);
    assert_eq!(a, b);
}

#[test]
fn every_other_transform_on_wgpu_matches_flex() {
    let Some(gpu) = medburn_core::wgpu_device_or_skip("augment_every_other_transform_on_wgpu")
    else {
        return;
    };
    let p: Pipeline = toml::from_str(
        r#"
        [[transforms]]
        type = "crop"
        size = [8, 8, 6]
        [[transforms]]
        type = "rot90"
        prob = 1.0
        [[transforms]]
        type = "clip_percentiles"
        [[transforms]]
        type = "rescale"
        percentiles = [1.0, 99.0]
        [[transforms]]
        type = "z_normalize"
        nonzero = true
        [[transforms]]
        type = "rician_noise"
        prob = 1.0
        [[transforms]]
        type = "sharpen"
        prob = 1.0
        [[transforms]]
        type = "histogram_shift"
        prob = 1.0
        [[transforms]]
        type = "anisotropy"
        prob = 1.0
        [[transforms]]
        type = "low_resolution"
        prob = 1.0
        [[transforms]]
        type = "brightness"
        prob = 1.0
        "#,
    )
    .unwrap();
    let g = geometry();
    let params = p.sample(&mut rng(6), &g, 2).unwrap();
    let dims = [2, 1, 8, 10, 10];
    let run = |device: &Device| {
        let (x, l) = p
            .apply(
                &params,
                &g,
                image(2, dims, device),
                Some(labels(dims, device)),
            )
            .unwrap();
        (values(x), values(l.unwrap()))
    };
    let (xc, lc) = run(&dev());
    let (xg, lg) = run(&gpu);
    assert_eq!(xc.len(), 2 * 6 * 8 * 8);
    let diff = max_abs_diff(&xc, &xg);
    assert!(diff < 2e-3, "wgpu differs from flex by {diff}");
    assert_eq!(lc, lg, "crops and quarter turns move labels exactly");
}
