//! `instance_norm_3d` and `prelu` against PyTorch (tests/fixtures/torch/instance_norm.json and
//! prelu.json, made by tests/scripts/make_layer_fixtures.py) in f32 and f64, instance norm
//! against Burn's `InstanceNorm` on a seeded volume, and their argument checks. Finite
//! differences are in finite_differences.rs, wgpu in gpu_parity.rs.

mod common;

use burn::nn::InstanceNormConfig;
use burn::tensor::{DType, Device, Tensor};
use common::*;
use medburn_ops::*;

fn check_torch(dtype: DType, tol: f64) -> f64 {
    let device = Device::flex().autodiff();
    let mut worst = 0.0f64;
    for case in torch_cases("instance_norm") {
        let shape = usizes::<5>(&case["shape"]);
        let c = shape[1];
        let eps = case["epsilon"].as_f64().unwrap();
        let x = tensor::<5>(&case["input"], shape, &device, dtype).require_grad();
        let param = |key: &str| {
            (!case[key].is_null())
                .then(|| tensor::<1>(&case[key], [c], &device, dtype).require_grad())
        };
        let (gamma, beta) = (param("gamma"), param("beta"));
        let y = instance_norm_3d(x.clone(), gamma.clone(), beta.clone(), eps).unwrap();
        let dy = tensor::<5>(&case["grad_output"], shape, &device, dtype);
        let grads = (y.clone() * dy).sum().backward();
        let mut checks = vec![
            ("output", values(y), &case["output"]),
            (
                "grad_input",
                values(x.grad(&grads).expect("input gradient")),
                &case["grad_input"],
            ),
        ];
        if let (Some(g), Some(b)) = (&gamma, &beta) {
            checks.push((
                "grad_gamma",
                values(g.grad(&grads).expect("gamma gradient")),
                &case["grad_gamma"],
            ));
            checks.push((
                "grad_beta",
                values(b.grad(&grads).expect("beta gradient")),
                &case["grad_beta"],
            ));
        }
        for (what, got, want) in checks {
            let want = floats(want);
            assert_close(&format!("{shape:?} {what}"), &got, &want, tol);
            worst = worst.max(max_error(&got, &want));
        }
    }
    worst
}

#[test]
fn instance_norm_matches_pytorch_in_f32() {
    // The offset-1000 case keeps f32 honest: a variance from f32 sums of x^2 would cancel.
    println!("f32: max error {:.2e}", check_torch(DType::F32, 1e-4));
}

#[test]
fn instance_norm_matches_pytorch_in_f64() {
    println!("f64: max error {:.2e}", check_torch(DType::F64, 1e-10));
}

#[test]
fn instance_norm_matches_burn_on_a_volume() {
    let device = Device::flex().autodiff();
    let shape = [2, 5, 9, 10, 11];
    let xd = seeded_uniform(shape, -2.0, 3.0);
    let dyd = seeded_uniform(shape, -1.0, 1.0);
    let run = |ours: bool| {
        let x = Tensor::<5>::from_data(xd.clone(), &device).require_grad();
        let y = if ours {
            instance_norm_3d(x.clone(), None, None, 1e-5).unwrap()
        } else {
            InstanceNormConfig::new(5)
                .with_affine(false)
                .init(&device)
                .forward(x.clone())
        };
        let grads = (y.clone() * Tensor::<5>::from_data(dyd.clone(), &device))
            .sum()
            .backward();
        (values(y), values(x.grad(&grads).unwrap()))
    };
    let (ours, burn) = (run(true), run(false));
    assert_close("output", &ours.0, &burn.0, 1e-4);
    assert_close("grad_input", &ours.1, &burn.1, 1e-4);
}

#[test]
fn instance_norm_refuses_bad_arguments() {
    let device = Device::flex();
    let x = Tensor::<5>::zeros([1, 3, 2, 2, 2], &device);
    let v = |n: usize| Some(Tensor::<1>::ones([n], &device));
    for (what, r) in [
        ("gamma", instance_norm_3d(x.clone(), v(2), None, 1e-5)),
        ("beta", instance_norm_3d(x.clone(), None, v(4), 1e-5)),
        ("epsilon", instance_norm_3d(x.clone(), None, None, -1.0)),
        (
            "dtype",
            instance_norm_3d(x.clone(), v(3).map(|g| g.cast(DType::F64)), None, 1e-5),
        ),
    ] {
        let e = r.err().unwrap_or_else(|| panic!("{what}: accepted"));
        assert_eq!(e.op, "instance_norm_3d");
        println!("{what}: {e}");
    }
}

fn check_prelu(dtype: DType, tol: f64) -> f64 {
    let device = Device::flex().autodiff();
    let mut worst = 0.0f64;
    for case in torch_cases("prelu") {
        let shape = usizes::<5>(&case["shape"]);
        let slopes = case["alpha"].as_array().unwrap().len();
        let x = tensor::<5>(&case["input"], shape, &device, dtype).require_grad();
        let a = tensor::<1>(&case["alpha"], [slopes], &device, dtype).require_grad();
        let y = prelu(x.clone(), a.clone()).unwrap();
        let dy = tensor::<5>(&case["grad_output"], shape, &device, dtype);
        let grads = (y.clone() * dy).sum().backward();
        for (what, got, want) in [
            ("output", values(y), &case["output"]),
            (
                "grad_input",
                values(x.grad(&grads).expect("input gradient")),
                &case["grad_input"],
            ),
            (
                "grad_alpha",
                values(a.grad(&grads).expect("alpha gradient")),
                &case["grad_alpha"],
            ),
        ] {
            let want = floats(want);
            assert_close(&format!("{shape:?} {slopes} {what}"), &got, &want, tol);
            worst = worst.max(max_error(&got, &want));
        }
    }
    worst
}

#[test]
fn prelu_matches_pytorch_in_f32_and_f64() {
    println!("f32: max error {:.2e}", check_prelu(DType::F32, 1e-5));
    println!("f64: max error {:.2e}", check_prelu(DType::F64, 1e-12));
}

#[test]
fn prelu_refuses_slopes_that_do_not_fit() {
    let device = Device::flex();
    let x = Tensor::<5>::zeros([1, 3, 2, 2, 2], &device);
    let e = prelu(x.clone(), Tensor::ones([2], &device)).unwrap_err();
    assert_eq!(e.op, "prelu");
    let e = prelu(x, Tensor::<1>::ones([1], &device).cast(DType::F64)).unwrap_err();
    assert!(e.message.contains("F64"), "{e}");
}
