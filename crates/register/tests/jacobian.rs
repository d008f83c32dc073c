//! Jacobian determinants against SimpleITK's DisplacementFieldJacobianDeterminantFilter
//! (tests/fixtures/sitk_jacobian.json, made by tests/scripts/make_jacobian_fixture.py): smooth
//! random fields in millimetres on grids with their own spacing, one of them folding.

use burn::tensor::{DType, Device, Tensor, TensorData};
use medburn_register::metrics::{jacobian_determinant, JacobianStats};
use serde_json::Value;

mod common;
use common::floats;

fn fixture() -> Value {
    common::json("sitk_jacobian.json")
}

#[test]
fn determinants_match_simpleitk() {
    let fixture = fixture();
    let cases = fixture["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    let mut folded = 0;
    for (dtype, tol) in [(DType::F64, 1e-10), (DType::F32, 1e-5)] {
        for (i, case) in cases.iter().enumerate() {
            let s: Vec<usize> = case["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect();
            let spacing: [f64; 3] = floats(&case["spacing"]).try_into().unwrap();
            let field = Tensor::<5>::from_data(
                TensorData::new(floats(&case["field"]), [1, 3, s[0], s[1], s[2]]),
                (&Device::flex(), dtype),
            );
            let det = jacobian_determinant(field.clone(), spacing).unwrap();
            assert_eq!(det.dims(), [1, 1, s[0] - 2, s[1] - 2, s[2] - 2]);
            let got = det
                .cast(DType::F64)
                .into_data()
                .try_to_vec::<f64>()
                .unwrap();
            let want = floats(&case["interior_det"]);
            let worst = got
                .iter()
                .zip(&want)
                .map(|(g, w)| (g - w).abs() / w.abs().max(1.0))
                .fold(0.0, f64::max);
            assert!(worst <= tol, "case {i} {dtype:?}: error {worst:.2e}");
            let stats = JacobianStats::of(field, spacing).unwrap();
            assert_eq!(
                stats.folding_fraction,
                case["folding"].as_f64().unwrap(),
                "case {i}"
            );
            if stats.folding_fraction > 0.0 {
                folded += 1;
                assert!(stats.min <= 0.0);
            }
        }
    }
    assert_eq!(folded, 2, "one fixture case (in f64 and f32) folds");
}

#[test]
fn determinants_are_differentiable() {
    let device = Device::flex().autodiff();
    let values: Vec<f64> = (0..3 * 125)
        .map(|i| ((i * 37 % 101) as f64 / 101.0 - 0.5) * 0.4)
        .collect();
    let field = Tensor::<5>::from_data(
        TensorData::new(values, [1, 3, 5, 5, 5]),
        (&device, DType::F64),
    )
    .require_grad();
    // A penalty on compression: the mean of relu(0.9 - det).
    let det = jacobian_determinant(field.clone(), [1.0, 2.0, 1.5]).unwrap();
    let penalty = burn::tensor::activation::relu(det.neg() + 0.9).mean();
    let grads = penalty.backward();
    let g = field.grad(&grads).expect("a gradient for the field");
    assert_eq!(g.dims(), [1, 3, 5, 5, 5]);
}

#[test]
fn bad_fields_and_spacings_are_refused() {
    let device = Device::flex();
    let f = Tensor::<5>::zeros([1, 3, 4, 4, 4], &device);
    for spacing in [[0.0, 1.0, 1.0], [1.0, f64::NAN, 1.0], [1.0, 1.0, -2.0]] {
        assert!(jacobian_determinant(f.clone(), spacing).is_err());
    }
    assert!(jacobian_determinant(Tensor::<5>::zeros([1, 2, 4, 4, 4], &device), [1.0; 3]).is_err());
    assert!(jacobian_determinant(Tensor::<5>::zeros([1, 3, 4, 2, 4], &device), [1.0; 3]).is_err());
}
