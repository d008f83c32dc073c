//! The Dice metric against MONAI's DiceMetric on the metric cases of
//! tests/fixtures/models/losses.json.

use burn::tensor::{Device, Int, Tensor};

use super::*;
use crate::losses::tests::{fixture_sets, floats, labels, logits, shape};

#[test]
fn dice_matches_monai_dice_metric() {
    let device = Device::flex();
    let mut checked = 0;
    let mut worst = 0.0f32;
    for set in fixture_sets() {
        let shape = shape(&set);
        let truth = labels(&set["labels"], shape, &device);
        for case in set["cases"].as_array().unwrap() {
            if case["kind"] != "metric" {
                continue;
            }
            let o = &case["options"];
            let include_background = o["include_background"].as_bool().unwrap();
            let ignore_empty = o["ignore_empty"].as_bool().unwrap();
            let c = case["num_classes"].as_u64().unwrap() as usize;
            // Our argmax of the f32 logits is MONAI's of the f64 ones.
            let pred = argmax_labels(logits(&set, &device));
            let want_pred = labels(&case["pred"], shape, &device);
            assert!(pred.clone().equal(want_pred).all().into_scalar::<bool>());
            let got = dice_per_label_with(pred, truth.clone(), c, include_background, ignore_empty)
                .unwrap();
            let dims: Vec<usize> = case["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect();
            assert_eq!(got.dims().to_vec(), dims);
            let got = got.into_data().try_to_vec::<f32>().unwrap();
            let want = floats(&case["value"]);
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                if w.is_nan() {
                    assert!(g.is_nan(), "{o} entry {i}: {g} where MONAI has NaN");
                } else {
                    assert!((g - w).abs() <= 1e-6, "{o} entry {i}: {g} vs MONAI {w}");
                    worst = worst.max((g - w).abs());
                }
            }
            // The fixtures hold both kinds of empty label: NaN with ignore_empty, and with
            // it off a 1 (in neither) and a 0 (predicted, not true).
            if ignore_empty {
                assert!(want.iter().any(|w| w.is_nan()));
            }
            checked += 1;
        }
    }
    println!("{checked} Dice metric cases vs MONAI: max error {worst:.1e}");
    assert_eq!(checked, 5);
}

#[test]
fn empty_labels_follow_ignore_empty() {
    let device = Device::flex();
    // Sample 0: label 2 in neither; sample 1: label 2 predicted, not true.
    let truth = Tensor::<5, Int>::from_data([[[[[0, 1, 1, 0]]]], [[[[1, 1, 0, 0]]]]], &device);
    let pred = Tensor::<5, Int>::from_data([[[[[0, 1, 0, 0]]]], [[[[1, 2, 0, 0]]]]], &device);
    let nan = dice_per_label(pred.clone(), truth.clone(), 3, false).unwrap();
    let nan = nan.into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(nan[0], 2.0 / 3.0);
    assert!(nan[1].is_nan());
    assert_eq!(nan[2], 2.0 / 3.0);
    assert!(nan[3].is_nan());
    let scored = dice_per_label_with(pred, truth, 3, false, false).unwrap();
    assert_eq!(
        scored.into_data().try_to_vec::<f32>().unwrap(),
        vec![2.0 / 3.0, 1.0, 2.0 / 3.0, 0.0]
    );
    // The mean skips NaN; all NaN gives NaN.
    let d = Tensor::<2>::from_data([[f32::NAN, 0.25], [0.75, f32::NAN]], &device);
    assert_eq!(mean_dice(d).into_scalar::<f32>(), 0.5);
    let d = Tensor::<2>::from_data([[f32::NAN]], &device);
    assert!(mean_dice(d).into_scalar::<f32>().is_nan());
}

#[test]
fn mismatched_label_maps_are_refused() {
    let device = Device::flex();
    let a = Tensor::<5, Int>::zeros([1, 1, 2, 2, 2], &device);
    let b = Tensor::<5, Int>::zeros([1, 1, 2, 2, 3], &device);
    assert!(dice_per_label(a.clone(), b, 2, true).is_err());
    assert!(dice_per_label(a.clone(), a.clone(), 1, false).is_err());
    let one_hot = Tensor::<5, Int>::zeros([1, 2, 2, 2, 2], &device);
    assert!(dice_per_label(one_hot.clone(), one_hot, 2, true).is_err());
}
