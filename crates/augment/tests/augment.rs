//! The augmentation chain on Flex: reproducibility, one interpolation per chain, exact flips,
//! label sets, MONAI's gamma and noise, shape errors, TOML configs; one wgpu smoke test.

use burn::tensor::{Device, Tensor, TensorData};
use medburn_augment::{
    AffineParams, AffineSample, AugmentConfig, AugmentError, AugmentParams, FlipParams,
    GammaParams, ImagePadding, NoiseParams, NoiseSample, RandomAffine, RandomFlip, RandomGamma,
    RandomGaussianNoise, GAMMA_EPSILON,
};
use medburn_core::{Direction, Geometry, Orientation};
use medburn_spatial::transform::{compose, from_matrix, rotation, scaling, translation};
use medburn_spatial::{resample_voxels, Interpolator};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn dev() -> Device {
    Device::flex()
}

fn values(t: Tensor<5>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

fn tensor(v: Vec<f32>, dims: [usize; 5], device: &Device) -> Tensor<5> {
    Tensor::from_data(TensorData::new(v, dims), device)
}

/// A smooth-ish random image (host-generated, so the same on every device).
fn image(seed: u64, dims: [usize; 5], device: &Device) -> Tensor<5> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = dims.iter().product();
    let v = (0..n).map(|_| rng.random_range(-1.0f32..3.0)).collect();
    tensor(v, dims, device)
}

/// Labels 0..=4 in blocks, as float class indices.
fn labels(dims: [usize; 5], device: &Device) -> Tensor<5> {
    let [n, c, d, h, w] = dims;
    let mut v = Vec::with_capacity(n * c * d * h * w);
    for s in 0..n * c {
        for k in 0..d {
            for j in 0..h {
                for i in 0..w {
                    v.push(((i / 3 + j / 4 + k / 5 + s) % 5) as f32);
                }
            }
        }
    }
    tensor(v, dims, device)
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Every transform on, every flip axis enabled.
fn everything() -> AugmentConfig {
    let mut c = AugmentConfig::default();
    c.affine.prob = 1.0;
    c.affine.isotropic_scale = false;
    c.flip.prob = 0.5;
    c.flip.axes = [true; 3];
    c.noise.prob = 1.0;
    c.gamma.prob = 1.0;
    c
}

#[test]
fn same_seed_gives_identical_params_and_outputs() {
    let device = dev();
    let dims = [3, 2, 10, 11, 12];
    let config = everything();
    let run = |seed: u64| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let p = config.sample(&mut rng, 3);
        let lab = labels([3, 1, 10, 11, 12], &device);
        let (x, l) = config
            .apply(&p, image(1, dims, &device), Some(lab))
            .unwrap();
        (p, values(x), values(l.unwrap()))
    };
    let (p1, x1, l1) = run(7);
    let (p2, x2, l2) = run(7);
    assert_eq!(p1, p2);
    assert_eq!(x1, x2, "image differs between two runs with one seed");
    assert_eq!(l1, l2, "label differs between two runs with one seed");
    let (p3, x3, _) = run(8);
    assert_ne!(p1, p3);
    assert_ne!(x1, x3);
}

#[test]
fn saved_rng_position_resumes_the_same_draws() {
    let config = everything();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let _first = config.sample(&mut rng, 2);
    let pos = rng.get_word_pos();
    let second = config.sample(&mut rng, 2);
    let mut resumed = ChaCha8Rng::seed_from_u64(11);
    resumed.set_word_pos(pos);
    assert_eq!(config.sample(&mut resumed, 2), second);
    // A fixed number of draws per sample: the position does not depend on the outcomes.
    let mut a = ChaCha8Rng::seed_from_u64(3);
    let mut b = ChaCha8Rng::seed_from_u64(3);
    config.sample(&mut a, 5);
    AugmentConfig::none().sample(&mut b, 5);
    assert_eq!(a.get_word_pos(), b.get_word_pos());
}

/// The reference: the same chain built from medburn_spatial's tensor builders (content moved by
/// flip, scale, rotation x, y, z, translation in that order; the map is the inverse).
fn spatial_reference(params: &AugmentParams, g: &Geometry, device: &Device) -> Tensor<3> {
    let c = g.centre();
    let d = g.direction().rows();
    let per_sample: Vec<Tensor<3>> = params
        .affine
        .samples
        .iter()
        .zip(&params.flip.flips)
        .map(|(a, f)| {
            let a = a.unwrap();
            let [rx, ry, rz] = a
                .rotation_rad
                .map(|r| Tensor::<1>::from_floats([r as f32], device));
            let t = translation(Tensor::<2>::from_floats(
                [a.translation_mm.map(|v| v as f32)],
                device,
            ));
            let rz = rotation([0.0, 0.0, 1.0], rz, c).unwrap();
            let ry = rotation([0.0, 1.0, 0.0], ry, c).unwrap();
            let rx = rotation([1.0, 0.0, 0.0], rx, c).unwrap();
            let s = scaling(
                Tensor::<2>::from_floats([a.scale.map(|v| v as f32)], device),
                c,
            );
            // A voxel-axis flip in physical space: mirror D diag(+-1) D^T about the centre.
            let sign = f.map(|x| if x { -1.0 } else { 1.0 });
            let mut m = [[0.0; 4]; 4];
            m[3][3] = 1.0;
            for r in 0..3 {
                for col in 0..3 {
                    m[r][col] = (0..3).map(|k| d[r][k] * sign[k] * d[col][k]).sum();
                }
            }
            for r in 0..3 {
                m[r][3] = c[r] - (0..3).map(|k| m[r][k] * c[k]).sum::<f64>();
            }
            let flip = from_matrix(m, device);
            compose(flip, compose(s, compose(rx, compose(ry, compose(rz, t)))))
        })
        .collect();
    Tensor::cat(per_sample, 0)
}

#[test]
fn composed_chain_is_one_resampling_with_the_composed_matrix() {
    let device = dev();
    let geometries = [
        Geometry::unit([16, 14, 12]).unwrap(),
        Geometry::new(
            [16, 14, 12],
            [3.0, -2.0, 7.0],
            [1.2, 0.9, 1.5],
            Orientation::RAS.to_direction(),
        )
        .unwrap(),
    ];
    let mut config = everything();
    config.noise.prob = 0.0;
    config.gamma.prob = 0.0;
    config.affine.rotation_deg = [25.0, 20.0, 30.0];
    for g in geometries {
        let mut rng = ChaCha8Rng::seed_from_u64(21);
        let mut p = config.sample(&mut rng, 2);
        p.flip.flips = vec![[true, false, true], [false, true, false]];
        let dims = [2, 1, 12, 14, 16];
        let x = image(2, dims, &device);
        let (ours, _) = config.apply_with_geometry(&p, &g, x.clone(), None).unwrap();
        let t = spatial_reference(&p, &g, &device);
        // The same physical matrices...
        let host: Vec<f32> = p
            .physical_matrices(&g)
            .iter()
            .flat_map(|m| {
                m[..3]
                    .iter()
                    .flatten()
                    .map(|v| *v as f32)
                    .collect::<Vec<_>>()
            })
            .collect();
        let reference = t.clone().into_data().try_to_vec::<f32>().unwrap();
        let worst = host
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(worst < 1e-4, "physical matrices differ by {worst}");
        // ...and the same single linear resampling (medburn_spatial pads as ImagePadding::Zeros).
        let theirs = resample_voxels(x, &g, &g, Some(t), Interpolator::Linear).unwrap();
        let diff = max_abs_diff(&values(ours), &values(theirs));
        assert!(diff < 1e-3, "chain differs from one resampling by {diff}");
    }
}

#[test]
fn labels_keep_their_label_set() {
    let device = dev();
    let mut config = everything();
    config.affine.rotation_deg = [30.0; 3];
    config.affine.scale = (0.7, 1.4);
    let dims = [3, 1, 16, 16, 16];
    let lab = labels(dims, &device);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let p = config.sample(&mut rng, 3);
    let (_, out) = config
        .apply(&p, image(3, dims, &device), Some(lab.clone()))
        .unwrap();
    let out = values(out.unwrap());
    assert!(out.iter().all(|v| [0.0, 1.0, 2.0, 3.0, 4.0].contains(v)));
    assert!(out.contains(&4.0));
    assert_ne!(out, values(lab), "the labels were not moved");
}

#[test]
fn label_channels_follow_the_image() {
    // A one-hot label moves exactly as the class-index label does.
    let device = dev();
    let dims = [2, 1, 12, 12, 12];
    let lab = labels(dims, &device);
    let one_hot = Tensor::cat(
        (0..5)
            .map(|k| lab.clone().equal_elem(k as f32).float())
            .collect(),
        1,
    );
    let config = everything();
    let p = config.sample(&mut ChaCha8Rng::seed_from_u64(6), 2);
    let x = image(4, dims, &device);
    let (_, a) = config.apply(&p, x.clone(), Some(lab)).unwrap();
    let (_, b) = config.apply(&p, x, Some(one_hot)).unwrap();
    let b = b.unwrap().argmax(1).float();
    // Outside the patch every one-hot channel is 0 and argmax says 0: background, as `a`.
    assert_eq!(values(a.unwrap()), values(b));
}

fn flipped(x: &Tensor<5>, s: usize, f: [bool; 3]) -> Tensor<5> {
    let [_, c, d, h, w] = x.dims();
    let mut t = x.clone().slice([s..s + 1, 0..c, 0..d, 0..h, 0..w]);
    for (axis, dim) in [(0, 4), (1, 3), (2, 2)] {
        if f[axis] {
            t = t.flip([dim]);
        }
    }
    t
}

#[test]
fn flip_only_params_equal_an_exact_tensor_flip() {
    let device = dev();
    let dims = [8, 2, 9, 10, 11];
    let x = image(5, dims, &device);
    let lab = labels([8, 1, 9, 10, 11], &device);
    let flips: Vec<[bool; 3]> = (0..8)
        .map(|b| [b & 1 != 0, b & 2 != 0, b & 4 != 0])
        .collect();
    let params = AugmentParams {
        affine: AffineParams {
            samples: vec![None; 8],
        },
        flip: FlipParams {
            flips: flips.clone(),
        },
        noise: NoiseParams {
            samples: vec![None; 8],
        },
        gamma: GammaParams {
            gammas: vec![None; 8],
        },
    };
    let oblique = Geometry::new(
        [11, 10, 9],
        [1.0, 2.0, 3.0],
        [0.7, 1.3, 2.5],
        Direction::from_columns([[0.0, 0.6, 0.8], [0.0, 0.8, -0.6], [1.0, 0.0, 0.0]]),
    )
    .unwrap();
    let expected_x = Tensor::cat((0..8).map(|s| flipped(&x, s, flips[s])).collect(), 0);
    let expected_l = Tensor::cat((0..8).map(|s| flipped(&lab, s, flips[s])).collect(), 0);
    let (ex, el) = (values(expected_x), values(expected_l));
    let config = AugmentConfig::default();
    for g in [Geometry::unit([11, 10, 9]).unwrap(), oblique] {
        let (a, l) = config
            .apply_with_geometry(&params, &g, x.clone(), Some(lab.clone()))
            .unwrap();
        assert_eq!(values(a), ex, "image flip is not exact");
        assert_eq!(values(l.unwrap()), el, "label flip is not exact");
    }
    let (a, _) = RandomFlip::default()
        .apply(&params.flip, x.clone(), None)
        .unwrap();
    assert_eq!(values(a), ex);
}

#[test]
fn zero_probabilities_return_the_input_unchanged() {
    let device = dev();
    let dims = [2, 1, 8, 9, 10];
    let x = image(6, dims, &device);
    let lab = labels(dims, &device);
    let config = AugmentConfig::none();
    let p = config.sample(&mut ChaCha8Rng::seed_from_u64(0), 2);
    assert!(p.affine.samples.iter().all(Option::is_none));
    assert!(p.flip.flips.iter().all(|f| *f == [false; 3]));
    let (y, l) = config.apply(&p, x.clone(), Some(lab.clone())).unwrap();
    assert_eq!(values(y), values(x));
    assert_eq!(values(l.unwrap()), values(lab));
}

#[test]
fn affine_moves_content_the_documented_way() {
    let device = dev();
    // One labelled voxel at (i, j, k) = (6, 4, 4) on a 9^3 grid (centre (4, 4, 4)).
    let at = |i: usize, j: usize, k: usize| (k * 9 + j) * 9 + i;
    let mut v = vec![0.0f32; 729];
    v[at(6, 4, 4)] = 1.0;
    let lab = tensor(v, [1, 1, 9, 9, 9], &device);
    let moved = |s: AffineSample| {
        let p = AffineParams {
            samples: vec![Some(s)],
        };
        let (_, l) = RandomAffine::default()
            .apply(&p, lab.clone(), Some(lab.clone()))
            .unwrap();
        let l = values(l.unwrap());
        l.iter().position(|x| *x == 1.0).unwrap()
    };
    let still = AffineSample {
        rotation_rad: [0.0; 3],
        scale: [1.0; 3],
        translation_mm: [0.0; 3],
    };
    // +1 mm along x (= i, LPS identity direction): one voxel along W.
    let shift = AffineSample {
        translation_mm: [1.0, 0.0, 0.0],
        ..still
    };
    assert_eq!(moved(shift), at(7, 4, 4));
    // +90 degrees about z, right-hand rule: +x goes to +y.
    let turn = AffineSample {
        rotation_rad: [0.0, 0.0, std::f64::consts::FRAC_PI_2],
        ..still
    };
    assert_eq!(moved(turn), at(4, 6, 4));
    // Zoom x2 about the centre: 2 voxels out becomes 4.
    let zoom = AffineSample {
        scale: [2.0; 3],
        ..still
    };
    let p = AffineParams {
        samples: vec![Some(zoom)],
    };
    let (_, l) = RandomAffine::default()
        .apply(&p, lab.clone(), Some(lab.clone()))
        .unwrap();
    assert_eq!(values(l.unwrap())[at(8, 4, 4)], 1.0);
}

#[test]
fn border_padding_keeps_edge_values() {
    let device = dev();
    let x = Tensor::<5>::ones([1, 1, 8, 8, 8], &device);
    let p = AffineParams {
        samples: vec![Some(AffineSample {
            rotation_rad: [0.0; 3],
            scale: [1.0; 3],
            translation_mm: [3.0, 0.0, 0.0],
        })],
    };
    let zeros = RandomAffine::default();
    let border = RandomAffine {
        image_padding: ImagePadding::Border,
        ..Default::default()
    };
    let (z, _) = zeros.apply(&p, x.clone(), None).unwrap();
    let (b, _) = border.apply(&p, x, None).unwrap();
    assert_eq!(z.sum().into_scalar::<f32>(), 512.0 - 3.0 * 64.0);
    assert_eq!(b.sum().into_scalar::<f32>(), 512.0);
}

#[test]
fn gamma_matches_monai_formula() {
    let device = dev();
    let dims = [3, 2, 8, 8, 8];
    let x = image(7, dims, &device);
    let gammas = vec![Some(0.7), None, Some(1.4)];
    let y = RandomGamma::default()
        .apply(
            &GammaParams {
                gammas: gammas.clone(),
            },
            x.clone(),
        )
        .unwrap();
    let (xv, yv) = (values(x), values(y));
    let m = 2 * 8 * 8 * 8;
    for (s, g) in gammas.iter().enumerate() {
        let xs = &xv[s * m..(s + 1) * m];
        let ys = &yv[s * m..(s + 1) * m];
        let Some(g) = g else {
            assert_eq!(xs, ys, "an untouched sample changed");
            continue;
        };
        // MONAI RandAdjustContrast: ((x - min) / (range + eps))^gamma * range + min.
        let min = xs.iter().copied().fold(f32::INFINITY, f32::min) as f64;
        let max = xs.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        let range = max - min;
        for (a, b) in xs.iter().zip(ys) {
            let want = ((*a as f64 - min) / (range + GAMMA_EPSILON)).powf(*g) * range + min;
            assert!(
                (want - *b as f64).abs() < 1e-5 * range.max(1.0),
                "{want} vs {b}"
            );
        }
    }
    // Drawn gammas lie in the range.
    let p = RandomGamma {
        prob: 1.0,
        gamma: (0.7, 1.5),
    }
    .sample(&mut ChaCha8Rng::seed_from_u64(1), 64);
    assert!(p.gammas.iter().all(|g| (0.7..1.5).contains(&g.unwrap())));
}

#[test]
fn noise_has_the_drawn_std() {
    let device = dev();
    let dims = [4, 1, 24, 24, 24];
    let noise = RandomGaussianNoise {
        prob: 1.0,
        mean: 0.25,
        std: 0.5,
    };
    let p = noise.sample(&mut ChaCha8Rng::seed_from_u64(9), 4);
    let zeros = Tensor::<5>::zeros(dims, &device);
    let y = values(noise.apply(&p, zeros.clone()).unwrap());
    assert_eq!(
        y,
        values(noise.apply(&p, zeros).unwrap()),
        "noise not reproducible"
    );
    let m = 24 * 24 * 24;
    for (s, sample) in p.samples.iter().enumerate() {
        let NoiseSample { mean, std, .. } = sample.unwrap();
        assert!((0.0..=0.5).contains(&std));
        let v = &y[s * m..(s + 1) * m];
        let mu = v.iter().map(|x| *x as f64).sum::<f64>() / m as f64;
        let sd = (v.iter().map(|x| (*x as f64 - mu).powi(2)).sum::<f64>() / m as f64).sqrt();
        assert!((sd - std).abs() < 0.03 * std + 1e-6, "std {sd} drawn {std}");
        assert!(
            (mu - mean).abs() < 5.0 * std / (m as f64).sqrt() + 1e-6,
            "mean {mu}"
        );
    }
    // MONAI draws std uniformly in [0, std]: over many samples, mean near std / 2.
    let many = noise.sample(&mut ChaCha8Rng::seed_from_u64(10), 2000);
    let avg = many.samples.iter().map(|s| s.unwrap().std).sum::<f64>() / 2000.0;
    assert!((avg - 0.25).abs() < 0.02, "mean drawn std {avg}");
}

#[test]
fn intensity_transforms_never_touch_labels() {
    let device = dev();
    let dims = [2, 1, 8, 8, 8];
    let mut config = everything();
    config.affine.prob = 0.0;
    config.flip.prob = 0.0;
    let lab = labels(dims, &device);
    let x = image(8, dims, &device);
    let p = config.sample(&mut ChaCha8Rng::seed_from_u64(2), 2);
    let (y, l) = config.apply(&p, x.clone(), Some(lab.clone())).unwrap();
    assert_eq!(values(l.unwrap()), values(lab));
    assert_ne!(values(y), values(x));
}

#[test]
fn mismatched_shapes_are_errors() {
    let device = dev();
    let config = AugmentConfig::default();
    let x = Tensor::<5>::zeros([2, 1, 8, 8, 8], &device);
    let p = config.sample(&mut ChaCha8Rng::seed_from_u64(0), 2);
    for bad in [[2, 1, 8, 8, 9], [1, 1, 8, 8, 8], [2, 1, 7, 8, 8]] {
        let l = Tensor::<5>::zeros(bad, &device);
        let e = config.apply(&p, x.clone(), Some(l)).unwrap_err();
        assert!(matches!(e, AugmentError::LabelShape { .. }), "{e}");
    }
    let p3 = config.sample(&mut ChaCha8Rng::seed_from_u64(0), 3);
    let e = config.apply(&p3, x.clone(), None).unwrap_err();
    assert!(matches!(e, AugmentError::BatchMismatch { .. }), "{e}");
    let g = Geometry::unit([8, 8, 9]).unwrap();
    let e = config
        .apply_with_geometry(&p, &g, x.clone(), None)
        .unwrap_err();
    assert!(matches!(e, AugmentError::GeometryMismatch { .. }), "{e}");
    let e = RandomGamma::default()
        .apply(&p3.gamma, x.clone())
        .unwrap_err();
    assert!(matches!(e, AugmentError::BatchMismatch { .. }), "{e}");
    let e = RandomFlip::default()
        .apply(
            &p.flip,
            x.clone(),
            Some(Tensor::zeros([2, 1, 8, 9, 8], &device)),
        )
        .unwrap_err();
    assert!(matches!(e, AugmentError::LabelShape { .. }), "{e}");
    let e = config
        .apply(&p, Tensor::<5>::zeros([2, 1, 0, 8, 8], &device), None)
        .unwrap_err();
    assert!(matches!(e, AugmentError::Empty(_)), "{e}");
}

#[test]
fn invalid_configs_and_params_are_refused() {
    let device = dev();
    let x = Tensor::<5>::zeros([1, 1, 8, 8, 8], &device);
    let mut c = AugmentConfig::default();
    c.affine.prob = 2.0;
    let p = c.sample(&mut ChaCha8Rng::seed_from_u64(0), 1);
    assert!(matches!(
        c.apply(&p, x.clone(), None),
        Err(AugmentError::Config(_))
    ));
    let c = AugmentConfig::default();
    let mut p = c.sample(&mut ChaCha8Rng::seed_from_u64(0), 1);
    p.affine.samples[0] = Some(AffineSample {
        rotation_rad: [0.0; 3],
        scale: [0.0; 3],
        translation_mm: [0.0; 3],
    });
    assert!(matches!(c.apply(&p, x, None), Err(AugmentError::Params(_))));
}

#[test]
fn config_reads_partial_toml_with_defaults() {
    let text = r#"
        [affine]
        prob = 0.5
        scale = [0.9, 1.1]
        image_padding = "border"
        [flip]
        axes = [true, true, true]
    "#;
    let c: AugmentConfig = toml::from_str(text).unwrap();
    assert_eq!(c.affine.prob, 0.5);
    assert_eq!(c.affine.scale, (0.9, 1.1));
    assert_eq!(c.affine.image_padding, ImagePadding::Border);
    assert_eq!(c.affine.rotation_deg, [15.0; 3]);
    assert_eq!(c.flip.axes, [true; 3]);
    assert_eq!(c.flip.prob, 0.5);
    assert_eq!(c.gamma, RandomGamma::default());
    assert!(toml::from_str::<AugmentConfig>("[flip]\nprobability = 0.5\n").is_err());
    let back: AugmentConfig = toml::from_str(&toml::to_string(&c).unwrap()).unwrap();
    assert_eq!(back, c);
    let d = AugmentConfig::default();
    assert_eq!(
        (
            d.affine.rotation_deg,
            d.affine.scale,
            d.flip.axes,
            d.gamma.gamma
        ),
        ([15.0; 3], (0.85, 1.15), [true, false, false], (0.7, 1.5))
    );
    assert_eq!((d.noise.std, d.noise.prob, d.gamma.prob), (0.1, 0.15, 0.3));
}

#[test]
fn chain_on_wgpu_matches_flex() {
    let Some(gpu) = medburn_core::wgpu_device_or_skip("chain_on_wgpu_matches_flex") else {
        return;
    };
    let dims = [2, 1, 8, 8, 8];
    let config = everything();
    let p = config.sample(&mut ChaCha8Rng::seed_from_u64(4), 2);
    let run = |device: &Device| {
        let (x, l) = config
            .apply(&p, image(9, dims, device), Some(labels(dims, device)))
            .unwrap();
        (values(x), values(l.unwrap()))
    };
    let (xc, lc) = run(&dev());
    let (xg, lg) = run(&gpu);
    let diff = max_abs_diff(&xc, &xg);
    assert!(diff < 1e-3, "wgpu differs from flex by {diff}");
    let mismatched = lc.iter().zip(&lg).filter(|(a, b)| a != b).count();
    // Nearest may round a position on a half-voxel differently: a handful at most.
    assert!(mismatched <= lc.len() / 100, "{mismatched} labels differ");
}
