//! The losses against MONAI: values and gradients with respect to the logits for every case
//! of tests/fixtures/models/losses.json (made by tests/scripts/make_model_fixtures.py, in
//! float64), computed here in f32 on Flex.

use burn::tensor::{Device, Int, Tensor, TensorData};
use serde_json::Value;

use super::*;

/// The fixture sets: `(shape, logits, labels, cases)`.
pub(crate) fn fixture_sets() -> Vec<Value> {
    let path = format!(
        "{}/../tests/fixtures/models/losses.json",
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string())
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let v: Value = serde_json::from_str(&text).unwrap();
    v["sets"].as_array().unwrap().clone()
}

/// Floats of a JSON array, `null` as NaN.
pub(crate) fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().map_or(f32::NAN, |x| x as f32))
        .collect()
}

pub(crate) fn shape(set: &Value) -> [usize; 5] {
    let s: Vec<usize> = set["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect();
    s.try_into().unwrap()
}

pub(crate) fn labels(v: &Value, shape: [usize; 5], device: &Device) -> Tensor<5, Int> {
    let values: Vec<i64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect();
    let [n, _, d, h, w] = shape;
    Tensor::from_data(TensorData::new(values, [n, 1, d, h, w]), device)
}

pub(crate) fn logits(set: &Value, device: &Device) -> Tensor<5> {
    Tensor::from_data(TensorData::new(floats(&set["logits"]), shape(set)), device)
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn opt_bool(o: &Value, key: &str, default: bool) -> bool {
    o.get(key).map_or(default, |v| v.as_bool().unwrap())
}

fn opt_f64(o: &Value, key: &str, default: f64) -> f64 {
    o.get(key).map_or(default, |v| v.as_f64().unwrap())
}

fn dice_config(o: &Value) -> DiceLossConfig {
    DiceLossConfig::new()
        .with_include_background(opt_bool(o, "include_background", true))
        .with_batch(opt_bool(o, "batch", false))
        .with_squared_pred(opt_bool(o, "squared_pred", false))
        .with_jaccard(opt_bool(o, "jaccard", false))
        .with_smooth_nr(opt_f64(o, "smooth_nr", 1e-5))
        .with_smooth_dr(opt_f64(o, "smooth_dr", 1e-5))
}

fn dice_ce_config(o: &Value) -> DiceCeLossConfig {
    let d = dice_config(o);
    DiceCeLossConfig::new()
        .with_include_background(d.include_background)
        .with_batch(d.batch)
        .with_squared_pred(d.squared_pred)
        .with_jaccard(d.jaccard)
        .with_smooth_nr(d.smooth_nr)
        .with_smooth_dr(d.smooth_dr)
        .with_lambda_dice(opt_f64(o, "lambda_dice", 1.0))
        .with_lambda_ce(opt_f64(o, "lambda_ce", 1.0))
        .with_label_smoothing(opt_f64(o, "label_smoothing", 0.0))
}

/// Value and gradient of `loss` at the set's logits.
fn value_and_grad(
    set: &Value,
    loss: impl Fn(Tensor<5>, Tensor<5, Int>) -> Tensor<1>,
) -> (f32, Vec<f32>) {
    let device = Device::flex().autodiff();
    let x = logits(set, &device).require_grad();
    let y = labels(&set["labels"], shape(set), &device);
    let l = loss(x.clone(), y);
    let grads = l.backward();
    let g = x.grad(&grads).unwrap();
    (
        l.into_scalar::<f32>(),
        g.into_data().try_to_vec::<f32>().unwrap(),
    )
}

/// Checks one loss against MONAI; returns (value error, gradient error, gradient error
/// relative to the largest gradient entry). Gradients are small (the loss is a mean over
/// thousands of voxels), so they are held to 1e-4 of their largest entry as well as to 1e-5.
fn check(what: &str, got: (f32, Vec<f32>), value: &Value, grad: &Value) -> (f32, f32, f32) {
    let want = floats(grad);
    let ev = (got.0 - value.as_f64().unwrap() as f32).abs();
    let eg = max_abs_diff(&got.1, &want);
    let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let rel = eg / scale;
    assert!(ev <= 1e-5, "{what}: value {} vs MONAI {value}", got.0);
    assert!(
        eg <= 1e-5 && rel <= 1e-4,
        "{what}: gradient max error {eg:e} ({rel:e} of its largest entry)"
    );
    (ev, eg, rel)
}

#[test]
fn losses_match_monai_values_and_gradients() {
    let (mut worst_value, mut worst_grad, mut worst_rel, mut checked) = (0.0f32, 0.0f32, 0.0f32, 0);
    for set in fixture_sets() {
        for case in set["cases"].as_array().unwrap() {
            let o = &case["options"];
            let name = format!("{} {o}", case["kind"]);
            let errors = match case["kind"].as_str().unwrap() {
                "dice" => {
                    let loss = dice_config(o).init();
                    let got = value_and_grad(&set, |x, y| loss.forward(x, y).unwrap());
                    vec![check(&name, got, &case["value"], &case["grad"])]
                }
                "dice_ce" => {
                    let loss = dice_ce_config(o).init();
                    let got = value_and_grad(&set, |x, y| loss.forward(x, y).unwrap());
                    let smoothing = loss.config().label_smoothing;
                    let ce = value_and_grad(&set, |x, y| cross_entropy(x, y, smoothing).unwrap());
                    vec![
                        check(&name, got, &case["value"], &case["grad"]),
                        check(
                            &format!("CE of {name}"),
                            ce,
                            &case["ce_value"],
                            &case["ce_grad"],
                        ),
                    ]
                }
                _ => continue,
            };
            for (ev, eg, rel) in errors {
                worst_value = worst_value.max(ev);
                worst_grad = worst_grad.max(eg);
                worst_rel = worst_rel.max(rel);
                checked += 1;
            }
        }
    }
    println!(
        "{checked} losses vs MONAI: max value error {worst_value:.1e}, max gradient error \
         {worst_grad:.1e} ({worst_rel:.1e} of the largest entry)"
    );
    assert_eq!(checked, 19);
}

#[test]
fn background_and_batch_change_the_dice() {
    // The fixture's cases differ from one another, so a flag ignored would fail above; here
    // the same holds without fixtures: four different values.
    let device = Device::flex();
    device.seed(11);
    let x = Tensor::<5>::random(
        [2, 3, 4, 4, 4],
        burn::tensor::Distribution::Normal(0.0, 2.0),
        &device,
    );
    let y = Tensor::<5>::random(
        [2, 1, 4, 4, 4],
        burn::tensor::Distribution::Uniform(0.0, 3.0),
        &device,
    )
    .int();
    let mut values = Vec::new();
    for include_background in [true, false] {
        for batch in [true, false] {
            let loss = DiceLossConfig::new()
                .with_include_background(include_background)
                .with_batch(batch)
                .init();
            values.push(
                loss.forward(x.clone(), y.clone())
                    .unwrap()
                    .into_scalar::<f32>(),
            );
        }
    }
    for i in 0..values.len() {
        for j in 0..i {
            assert!((values[i] - values[j]).abs() > 1e-6, "{values:?}");
        }
    }
}

#[test]
fn mismatched_inputs_are_refused() {
    let device = Device::flex();
    let loss = DiceCeLossConfig::new().init();
    let x = Tensor::<5>::zeros([2, 3, 4, 4, 4], &device);
    let shape_error = |r: Result<Tensor<1>, InputError>| matches!(r, Err(InputError::Shape(_)));
    // Labels with C channels (one-hot) are not a label map.
    assert!(shape_error(
        loss.forward(x.clone(), Tensor::zeros([2, 3, 4, 4, 4], &device))
    ));
    assert!(shape_error(
        loss.forward(x.clone(), Tensor::zeros([1, 1, 4, 4, 4], &device))
    ));
    assert!(shape_error(
        loss.forward(x.clone(), Tensor::zeros([2, 1, 4, 4, 5], &device))
    ));
    // One channel: softmax is meaningless.
    assert!(shape_error(loss.forward(
        Tensor::zeros([2, 1, 4, 4, 4], &device),
        Tensor::zeros([2, 1, 4, 4, 4], &device)
    )));
    assert!(shape_error(cross_entropy(
        x,
        Tensor::zeros([2, 1, 4, 4, 3], &device),
        0.0
    )));
    let y = Tensor::<5, Int>::zeros([2, 1, 4, 4, 4], &device);
    let x = Tensor::<5>::zeros([2, 3, 4, 4, 4], &device);
    let bad = DiceLossConfig::new().with_smooth_nr(f64::NAN).init();
    assert!(matches!(
        bad.forward(x.clone(), y.clone()),
        Err(InputError::Option(_))
    ));
    let bad = DiceCeLossConfig::new().with_lambda_ce(-0.5).init();
    assert!(matches!(
        bad.forward(x.clone(), y.clone()),
        Err(InputError::Option(_))
    ));
    assert!(matches!(
        cross_entropy(x, y, 2.0),
        Err(InputError::Option(_))
    ));
}

#[test]
fn one_hot_marks_each_class_and_nothing_out_of_range() {
    let device = Device::flex();
    let labels = Tensor::<5, Int>::from_data([[[[[0, 1, 2, 3, -1]]]]], &device);
    let mask = one_hot(labels, 3).unwrap();
    assert_eq!(mask.dims(), [1, 3, 1, 1, 5]);
    let v = mask.into_data().try_to_vec::<f32>().unwrap();
    #[rustfmt::skip]
    let want = vec![
        1.0, 0.0, 0.0, 0.0, 0.0,
        0.0, 1.0, 0.0, 0.0, 0.0,
        0.0, 0.0, 1.0, 0.0, 0.0,
    ];
    assert_eq!(v, want);
}
