//! The registration losses against MONAI (tests/fixtures/monai/registration_losses.json, made by
//! tests/scripts/make_registration_fixtures.py): values and gradients with respect to every
//! input, in f64 and f32 on Flex; gradients against central finite differences; bad shapes and
//! options refused.

use burn::tensor::{DType, Device, Tensor, TensorData};
use medburn_register::{
    BendingEnergyLossConfig, DiffusionLossConfig, GlobalMutualInformationLossConfig, KernelType,
    LocalNormalizedCrossCorrelationLossConfig, ParzenWindow, Reduction, RegistrationError,
};
use serde_json::Value;

mod common;
use common::{floats, uniform};

fn fixture() -> Value {
    common::json("monai/registration_losses.json")
}

fn shape(v: &Value) -> [usize; 5] {
    let s: Vec<usize> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect();
    s.try_into().unwrap()
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.cast(DType::F64).into_data().try_to_vec::<f64>().unwrap()
}

fn reduction(o: &Value) -> Reduction {
    match o["reduction"].as_str().unwrap() {
        "mean" => Reduction::Mean,
        "sum" => Reduction::Sum,
        r => panic!("reduction {r}"),
    }
}

/// The loss a fixture case names, applied to its inputs (`pred, target` or `ddf`).
fn apply(case: &Value, inputs: Vec<Tensor<5>>) -> Result<Tensor<1>, RegistrationError> {
    let o = &case["options"];
    let mut it = inputs.into_iter();
    match case["loss"].as_str().unwrap() {
        "lncc" => LocalNormalizedCrossCorrelationLossConfig::new()
            .with_kernel_size(o["kernel_size"].as_u64().unwrap() as usize)
            .with_kernel_type(match o["kernel_type"].as_str().unwrap() {
                "rectangular" => KernelType::Rectangular,
                "triangular" => KernelType::Triangular,
                _ => KernelType::Gaussian,
            })
            .with_reduction(reduction(o))
            .with_smooth_nr(o["smooth_nr"].as_f64().unwrap())
            .with_smooth_dr(o["smooth_dr"].as_f64().unwrap())
            .init()
            .forward(it.next().unwrap(), it.next().unwrap()),
        "gmi" => GlobalMutualInformationLossConfig::new()
            .with_kernel_type(match o["kernel_type"].as_str().unwrap() {
                "gaussian" => ParzenWindow::Gaussian,
                _ => ParzenWindow::BSpline,
            })
            .with_num_bins(o["num_bins"].as_u64().unwrap() as usize)
            .with_sigma_ratio(o["sigma_ratio"].as_f64().unwrap())
            .with_reduction(reduction(o))
            .with_smooth_nr(o["smooth_nr"].as_f64().unwrap())
            .with_smooth_dr(o["smooth_dr"].as_f64().unwrap())
            .init()
            .forward(it.next().unwrap(), it.next().unwrap()),
        "bending_energy" => BendingEnergyLossConfig::new()
            .with_normalize(o["normalize"].as_bool().unwrap())
            .with_reduction(reduction(o))
            .init()
            .forward(it.next().unwrap()),
        "diffusion" => DiffusionLossConfig::new()
            .with_normalize(o["normalize"].as_bool().unwrap())
            .with_reduction(reduction(o))
            .init()
            .forward(it.next().unwrap()),
        l => panic!("loss {l}"),
    }
}

/// Largest difference of `got` from `want` relative to the largest `|want|` (at least 1e-12).
fn scaled_error(got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(1e-12f64, |m, v| m.max(v.abs()));
    got.iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs() / scale)
        .fold(0.0, f64::max)
}

/// Every case's value and gradients in `dtype`; returns the worst value and gradient errors.
fn check_all(dtype: DType, value_tol: f64, grad_tol: f64) -> (f64, f64) {
    check_on(
        &Device::flex().autodiff(),
        dtype,
        value_tol,
        grad_tol,
        |_| true,
    )
}

/// The cases `take` selects (by index) on `device`, as [`check_all`].
fn check_on(
    device: &Device,
    dtype: DType,
    value_tol: f64,
    grad_tol: f64,
    take: impl Fn(usize) -> bool,
) -> (f64, f64) {
    let fixture = fixture();
    let cases = fixture["cases"].as_array().unwrap();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let (mut worst_value, mut worst_grad) = (0.0f64, 0.0f64);
    for (i, case) in cases.iter().enumerate().filter(|(i, _)| take(*i)) {
        let dims = shape(&case["shape"]);
        let names: &[&str] = if case.get("ddf").is_some() {
            &["ddf"]
        } else {
            &["pred", "target"]
        };
        let inputs: Vec<Tensor<5>> = names
            .iter()
            .map(|n| {
                Tensor::<5>::from_data(TensorData::new(floats(&case[*n]), dims), (device, dtype))
                    .require_grad()
            })
            .collect();
        let loss = apply(case, inputs.clone()).unwrap();
        let want = case["value"].as_f64().unwrap();
        let got = values(loss.clone())[0];
        let e = (got - want).abs() / want.abs().max(1.0);
        assert!(
            e <= value_tol,
            "case {i} ({}, {}): {got} vs MONAI {want}",
            case["loss"],
            case["options"]
        );
        worst_value = worst_value.max(e);
        let grads = loss.backward();
        for (name, x) in names.iter().zip(&inputs) {
            let want = &case[format!("grad_{name}")];
            match (x.grad(&grads), want.is_null()) {
                // MONAI's target of the B-spline window reaches the loss only through
                // comparisons: no gradient there, none here (or zeros).
                (None, true) => {}
                (Some(g), true) => assert!(values(g).iter().all(|v| *v == 0.0), "case {i}: {name}"),
                (None, false) => panic!("case {i}: no gradient for {name}"),
                (Some(g), false) => {
                    let e = scaled_error(&values(g), &floats(want));
                    assert!(
                        e <= grad_tol,
                        "case {i} ({}, {}): grad_{name} error {e:.2e}",
                        case["loss"],
                        case["options"]
                    );
                    worst_grad = worst_grad.max(e);
                }
            }
        }
    }
    (worst_value, worst_grad)
}

#[test]
fn losses_match_monai_in_f64() {
    let (v, g) = check_all(DType::F64, 1e-6, 1e-5);
    println!("f64: worst value error {v:.2e}, worst gradient error {g:.2e}");
}

#[test]
fn losses_match_monai_in_f32() {
    let (v, g) = check_all(DType::F32, 1e-5, 1e-4);
    println!("f32: worst value error {v:.2e}, worst gradient error {g:.2e}");
}

/// One case of each loss on wgpu (Mesa's software Vulkan in CI: tiny inputs only), in f32.
#[test]
fn losses_match_monai_on_wgpu() {
    let Some(gpu) = medburn_core::wgpu_device_or_skip("losses_match_monai_on_wgpu") else {
        return;
    };
    let fixture = fixture();
    let cases = fixture["cases"].as_array().unwrap();
    // The first case of each loss, and one B-spline mutual information.
    let mut picked = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let name = case["loss"].as_str().unwrap();
        let bspline = case["options"]["kernel_type"].as_str() == Some("b-spline");
        if !picked.iter().any(|&(n, b, _)| n == name && b == bspline) {
            picked.push((name, bspline, i));
        }
    }
    assert_eq!(picked.len(), 5);
    let chosen: Vec<usize> = picked.iter().map(|p| p.2).collect();
    let (v, g) = check_on(&gpu.autodiff(), DType::F32, 1e-5, 1e-4, |i| {
        chosen.contains(&i)
    });
    println!("wgpu: worst value error {v:.2e}, worst gradient error {g:.2e}");
}

/// The autodiff gradient of `loss` at `inputs` against central differences (step 1e-6, f64)
/// at a dozen entries of each input.
fn check_finite_differences(
    what: &str,
    dims: [usize; 5],
    inputs: Vec<Vec<f64>>,
    loss: impl Fn(Vec<Tensor<5>>) -> Tensor<1>,
) {
    let device = Device::flex().autodiff();
    let make = |data: &[Vec<f64>]| -> Vec<Tensor<5>> {
        data.iter()
            .map(|v| {
                Tensor::<5>::from_data(TensorData::new(v.clone(), dims), (&device, DType::F64))
                    .require_grad()
            })
            .collect()
    };
    let xs = make(&inputs);
    let grads = loss(xs.clone()).backward();
    let total: usize = dims.iter().product();
    for (k, x) in xs.iter().enumerate() {
        let g = values(
            x.grad(&grads)
                .unwrap_or_else(|| panic!("{what}: no gradient for input {k}")),
        );
        let scale = g.iter().fold(1e-12f64, |m, v| m.max(v.abs()));
        for j in 0..12 {
            let at = (j * 7919 + 13) % total;
            let h = 1e-6;
            let value = |delta: f64| {
                let mut data = inputs.clone();
                data[k][at] += delta;
                values(loss(make(&data)))[0]
            };
            let fd = (value(h) - value(-h)) / (2.0 * h);
            assert!(
                (fd - g[at]).abs() <= 1e-5 * scale + 1e-7,
                "{what}: input {k} entry {at}: autodiff {} vs finite difference {fd}",
                g[at]
            );
        }
    }
}

#[test]
fn gradients_match_finite_differences() {
    let dims = [1, 1, 6, 7, 5];
    let n: usize = dims.iter().product();
    let pair = vec![
        uniform(1, n),
        uniform(2, n)
            .iter()
            .zip(uniform(1, n))
            .map(|(a, b)| 0.3 * a + 0.6 * b)
            .collect(),
    ];
    for kernel_type in [
        KernelType::Rectangular,
        KernelType::Triangular,
        KernelType::Gaussian,
    ] {
        let l = LocalNormalizedCrossCorrelationLossConfig::new()
            .with_kernel_size(5)
            .with_kernel_type(kernel_type)
            .init();
        check_finite_differences(&format!("lncc {kernel_type:?}"), dims, pair.clone(), |x| {
            l.forward(x[0].clone(), x[1].clone()).unwrap()
        });
    }
    let l = GlobalMutualInformationLossConfig::new().init();
    check_finite_differences("gmi gaussian", dims, pair.clone(), |x| {
        l.forward(x[0].clone(), x[1].clone()).unwrap()
    });
    // The B-spline window: only `pred` carries a gradient (the target's box window is flat).
    let l = GlobalMutualInformationLossConfig::new()
        .with_kernel_type(ParzenWindow::BSpline)
        .with_num_bins(12)
        .init();
    let target = Tensor::<5>::from_data(
        TensorData::new(pair[1].clone(), dims),
        (&Device::flex().autodiff(), DType::F64),
    );
    check_finite_differences("gmi b-spline", dims, vec![pair[0].clone()], |x| {
        l.forward(x[0].clone(), target.clone()).unwrap()
    });
    let fdims = [1, 3, 5, 4, 6];
    let field = vec![uniform(3, fdims.iter().product())
        .iter()
        .map(|v| 4.0 * v - 2.0)
        .collect()];
    for normalize in [false, true] {
        let l = BendingEnergyLossConfig::new()
            .with_normalize(normalize)
            .init();
        check_finite_differences("bending energy", fdims, field.clone(), |x| {
            l.forward(x[0].clone()).unwrap()
        });
        let l = DiffusionLossConfig::new().with_normalize(normalize).init();
        check_finite_differences("diffusion", fdims, field.clone(), |x| {
            l.forward(x[0].clone()).unwrap()
        });
    }
}

#[test]
fn bad_shapes_and_options_are_refused() {
    let device = Device::flex();
    let a = Tensor::<5>::ones([1, 1, 5, 5, 5], &device);
    let b = Tensor::<5>::ones([1, 1, 5, 5, 6], &device);
    let lncc = LocalNormalizedCrossCorrelationLossConfig::new();
    assert!(matches!(
        lncc.init().forward(a.clone(), b.clone()),
        Err(RegistrationError::Shape(_))
    ));
    for bad in [
        lncc.clone().with_kernel_size(4),
        lncc.clone().with_smooth_dr(-1.0),
        lncc.with_smooth_nr(f64::NAN),
    ] {
        assert!(matches!(
            bad.init().forward(a.clone(), a.clone()),
            Err(RegistrationError::Option(_))
        ));
    }
    let gmi = GlobalMutualInformationLossConfig::new();
    assert!(matches!(
        gmi.init().forward(a.clone(), b),
        Err(RegistrationError::Shape(_))
    ));
    for bad in [
        gmi.clone().with_num_bins(1),
        gmi.clone()
            .with_kernel_type(ParzenWindow::BSpline)
            .with_num_bins(4),
        gmi.clone().with_sigma_ratio(0.0),
        gmi.with_smooth_dr(f64::INFINITY),
    ] {
        assert!(matches!(
            bad.init().forward(a.clone(), a.clone()),
            Err(RegistrationError::Option(_))
        ));
    }
    // Fields: three components, every spatial axis above 2 voxels.
    for dims in [[1, 2, 5, 5, 5], [1, 3, 5, 2, 5], [0, 3, 5, 5, 5]] {
        let f = Tensor::<5>::zeros(dims, &device);
        assert!(matches!(
            BendingEnergyLossConfig::new().init().forward(f.clone()),
            Err(RegistrationError::Shape(_))
        ));
        assert!(matches!(
            DiffusionLossConfig::new().init().forward(f),
            Err(RegistrationError::Shape(_))
        ));
    }
}
