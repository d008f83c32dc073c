//! Gradients of the spatial transforms with respect to the voxels and to the continuous
//! parameters (angle, offsets, scale factors, affine matrix), against central finite
//! differences in f64 on Flex; batched forms and label maps.

use burn::tensor::{DType, Device, Tensor, TensorData};
use medburn_core::{Direction, Geometry};
use medburn_spatial::{resample_voxels, transform, Interpolation};

fn device() -> Device {
    Device::flex().autodiff()
}

fn geometry() -> Geometry {
    let (s, c) = 0.3f64.sin_cos();
    let d = Direction::from_row_major([c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0]);
    Geometry::new([6, 5, 4], [-3.0, 2.0, 1.0], [1.2, 0.8, 1.5], d).unwrap()
}

fn vec64<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.cast(DType::F64).into_data().try_to_vec::<f64>().unwrap()
}

fn tensor1(v: &[f64]) -> Tensor<1> {
    Tensor::from_data(
        TensorData::new(v.to_vec(), [v.len()]),
        (&device(), DType::F64),
    )
}

/// Checks d(loss)/d(params) of `loss(params)` (a scalar) against central differences.
fn fd_check(name: &str, params: Vec<f64>, loss: impl Fn(Tensor<1>) -> Tensor<1>) {
    let p = tensor1(&params).require_grad();
    let grads = loss(p.clone()).backward();
    let analytic = vec64(p.grad(&grads).unwrap());
    let h = 1e-6;
    for k in 0..params.len() {
        let mut plus = params.clone();
        plus[k] += h;
        let mut minus = params.clone();
        minus[k] -= h;
        let fd = (vec64(loss(tensor1(&plus)))[0] - vec64(loss(tensor1(&minus)))[0]) / (2.0 * h);
        let err = (fd - analytic[k]).abs() / analytic[k].abs().max(1.0);
        assert!(
            err < 1e-6,
            "{name}: parameter {k}: fd {fd} vs analytic {}",
            analytic[k]
        );
    }
}

fn volume(seed: u64) -> Tensor<5> {
    seeded([1, 1, 4, 5, 6], -1.0, 1.0, seed, &Device::flex())
        .cast(DType::F64)
        .to_device(&device())
}

#[test]
fn gradients_with_respect_to_parameters_and_voxels() {
    let g = geometry();
    let x = volume(1);
    let w = volume(2);
    let centre = g.centre();
    for interp in [Interpolation::Linear, Interpolation::BSpline] {
        let loss = |t: Tensor<3>, x: Tensor<5>| -> Tensor<1> {
            (resample_voxels(x, &g, &g, Some(t), interp).unwrap() * w.clone()).sum()
        };
        fd_check(&format!("{interp:?} angle"), vec![0.4], |a| {
            loss(
                transform::rotation([0.2, -1.0, 0.5], a, centre).unwrap(),
                x.clone(),
            )
        });
        fd_check(&format!("{interp:?} offsets"), vec![0.3, -0.7, 0.45], |o| {
            loss(transform::translation(o.reshape([1, 3])), x.clone())
        });
        fd_check(&format!("{interp:?} scale"), vec![1.1, 0.9, 1.25], |f| {
            loss(transform::scaling(f.reshape([1, 3]), centre), x.clone())
        });
        let m = vec![
            0.98, 0.1, -0.05, 0.3, -0.08, 1.02, 0.04, -0.2, 0.06, -0.03, 0.97, 0.1,
        ];
        fd_check(&format!("{interp:?} matrix"), m.clone(), |m| {
            loss(m.reshape([1, 3, 4]), x.clone())
        });
        let m = tensor1(&m).reshape([1, 3, 4]);
        fd_check(&format!("{interp:?} voxels"), vec64(x.clone()), |v| {
            loss(m.clone(), v.reshape([1, 1, 4, 5, 6]))
        });
    }
}

#[test]
fn batched_transforms_match_one_by_one() {
    let g = geometry();
    let d = Device::flex();
    let x = seeded([3, 2, 4, 5, 6], 0.0, 1.0, 3, &d);
    let angles = Tensor::<1>::from_floats([0.1, -0.5, 1.2], &d);
    let t = transform::rotation([0.0, 0.0, 1.0], angles.clone(), g.centre()).unwrap();
    let batch = resample_voxels(x.clone(), &g, &g, Some(t), Interpolation::Linear).unwrap();
    for n in 0..3 {
        let tn = transform::rotation([0.0, 0.0, 1.0], angles.clone().narrow(0, n, 1), g.centre())
            .unwrap();
        let xn = x.clone().slice([n..n + 1, 0..2, 0..4, 0..5, 0..6]);
        let one = resample_voxels(xn, &g, &g, Some(tn), Interpolation::Linear).unwrap();
        let b = batch.clone().slice([n..n + 1, 0..2, 0..4, 0..5, 0..6]);
        let diff = (one - b).abs().max().into_scalar::<f32>();
        assert!(diff < 1e-5, "sample {n}: {diff}");
    }
}

#[test]
fn label_maps_keep_their_labels() {
    let g = geometry();
    let d = Device::flex();
    let labels = seeded_labels([1, 1, 4, 5, 6], 3, &d);
    let t = transform::rotation(
        [1.0, 0.0, 0.0],
        Tensor::<1>::from_floats([0.3], &d),
        g.centre(),
    )
    .unwrap();
    for interp in [Interpolation::Nearest, Interpolation::LabelLinear] {
        let y = resample_voxels(labels.clone(), &g, &g, Some(t.clone()), interp).unwrap();
        let v = vec64(y);
        assert!(
            v.iter().all(|l| [0.0, 1.0, 2.0].contains(l)),
            "{interp:?}: {v:?}"
        );
    }
    // With the identity, both give the labels back.
    let y = resample_voxels(labels.clone(), &g, &g, None, Interpolation::LabelLinear).unwrap();
    assert_eq!(vec64(y), vec64(labels));
}

/// Label-linear, one label at a time, equals the arg-max over a full one-hot resampled at once
/// (first label on ties), with labels missing from the map; negative labels are refused.
#[test]
fn label_linear_equals_the_one_hot_arg_max() {
    let g = geometry();
    let d = Device::flex();
    // Labels 0..7 with 3 and 5 absent.
    let labels = seeded_labels([2, 1, 4, 5, 6], 8, &d);
    let labels = labels
        .clone()
        .mask_fill(labels.clone().equal_elem(3.0), 2.0);
    let labels = labels
        .clone()
        .mask_fill(labels.clone().equal_elem(5.0), 0.0);
    let angles = Tensor::<1>::from_floats([0.3, -0.5], &d);
    let t = transform::rotation([1.0, 0.5, 0.0], angles, g.centre()).unwrap();
    let got = resample_voxels(
        labels.clone(),
        &g,
        &g,
        Some(t.clone()),
        Interpolation::LabelLinear,
    )
    .unwrap();
    let one_hot: Vec<Tensor<5>> = (0..8)
        .map(|k| labels.clone().equal_elem(k as f32).float())
        .collect();
    let weights = resample_voxels(
        Tensor::cat(one_hot, 1),
        &g,
        &g,
        Some(t),
        Interpolation::Linear,
    )
    .unwrap();
    let want = weights.argmax(1).float();
    assert_eq!(vec64(got), vec64(want));

    let negative = labels.clone() - 1.0;
    let e = resample_voxels(negative, &g, &g, None, Interpolation::LabelLinear).unwrap_err();
    assert!(e.to_string().contains("non-negative"), "{e}");
}

/// Uniform values in `[lo, hi)` from a SplitMix64 stream seeded by `seed` (a failure
/// reproduces whatever the backend's RNG does).
fn seeded(shape: [usize; 5], lo: f64, hi: f64, seed: u64, d: &Device) -> Tensor<5> {
    let mut state = seed.wrapping_mul(0x2545_f491_4f6c_dd1d);
    let v: Vec<f32> = (0..shape.iter().product::<usize>())
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            let unit = (z ^ (z >> 31)) as f64 / 2f64.powi(64);
            (lo + (hi - lo) * unit) as f32
        })
        .collect();
    Tensor::from_data(TensorData::new(v, shape), d)
}

/// Integer labels `0..count`, seeded.
fn seeded_labels(shape: [usize; 5], count: u32, d: &Device) -> Tensor<5> {
    seeded(shape, 0.0, count as f64 - 1e-6, 4, d).floor()
}
