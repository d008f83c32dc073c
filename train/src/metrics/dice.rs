//! Dice score per sample and label on discrete label maps, as MONAI's `DiceMetric`.

use burn::tensor::{Int, Tensor};

use crate::losses::{one_hot_int, InputError};

/// The predicted label map `[N, 1, D, H, W]` of logits `[N, C, D, H, W]`: the class of
/// largest logit (MONAI's `AsDiscrete(argmax=True)`; ties go to the lower class, as
/// `torch.argmax` on CPU).
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_train::metrics::argmax_labels;
///
/// let device = Device::flex();
/// let logits = Tensor::<5>::from_data([[[[[0.1, 2.0]]], [[[0.5, -1.0]]]]], &device);
/// let labels = argmax_labels(logits);
/// assert_eq!(labels.into_data().convert::<i64>().try_to_vec::<i64>().unwrap(), vec![1, 0]);
/// ```
pub fn argmax_labels(logits: Tensor<5>) -> Tensor<5, Int> {
    logits.argmax(1)
}

/// Dice of each label in each sample, `[N, C']` (`C' = num_classes`, or `num_classes - 1`
/// without the background), of a predicted label map against the true one, both
/// `[N, 1, D, H, W]` of class indices: MONAI's `DiceMetric(include_background,
/// reduction="none", ignore_empty=True)` on one-hot discrete predictions. Counted exactly,
/// in integers, on the device.
///
/// A label absent from the truth gives NaN, whether predicted or not (MONAI's default
/// `ignore_empty=True`; [`mean_dice`] skips those); [`dice_per_label_with`] scores them
/// instead. Labels outside `0..num_classes` belong to no class.
///
/// ```
/// use burn::tensor::{Device, Int, Tensor};
/// use medburn_train::metrics::dice_per_label;
///
/// let device = Device::flex();
/// let truth = Tensor::<5, Int>::from_data([[[[[0, 1, 1, 1]]]]], &device);
/// let pred = Tensor::<5, Int>::from_data([[[[[0, 1, 1, 0]]]]], &device);
/// let dice = dice_per_label(pred, truth, 3, true)?.into_data().try_to_vec::<f32>().unwrap();
/// assert_eq!(dice[0], 2.0 * 1.0 / 3.0); // background: 1 in common, 1 + 2 voxels
/// assert_eq!(dice[1], 2.0 * 2.0 / 5.0);
/// assert!(dice[2].is_nan()); // label 2 is in neither
/// # Ok::<(), medburn_train::losses::InputError>(())
/// ```
pub fn dice_per_label(
    pred_labels: Tensor<5, Int>,
    true_labels: Tensor<5, Int>,
    num_classes: usize,
    include_background: bool,
) -> Result<Tensor<2>, InputError> {
    dice_per_label_with(
        pred_labels,
        true_labels,
        num_classes,
        include_background,
        true,
    )
}

/// [`dice_per_label`] with MONAI's `ignore_empty` choice: `true` gives NaN for a label
/// absent from the truth; `false` gives 1 when it is absent from the prediction too and 0
/// when it is predicted.
///
/// ```
/// use burn::tensor::{Device, Int, Tensor};
/// use medburn_train::metrics::dice_per_label_with;
///
/// let device = Device::flex();
/// let truth = Tensor::<5, Int>::from_data([[[[[0, 0]]]], [[[[0, 0]]]]], &device);
/// let pred = Tensor::<5, Int>::from_data([[[[[0, 0]]]], [[[[0, 1]]]]], &device);
/// let dice = dice_per_label_with(pred, truth, 2, false, false)?;
/// // Label 1: in neither (sample 0), predicted but not true (sample 1).
/// assert_eq!(dice.into_data().try_to_vec::<f32>().unwrap(), vec![1.0, 0.0]);
/// # Ok::<(), medburn_train::losses::InputError>(())
/// ```
pub fn dice_per_label_with(
    pred_labels: Tensor<5, Int>,
    true_labels: Tensor<5, Int>,
    num_classes: usize,
    include_background: bool,
    ignore_empty: bool,
) -> Result<Tensor<2>, InputError> {
    if pred_labels.dims() != true_labels.dims() {
        return Err(InputError::Shape(format!(
            "predicted labels {:?} and true labels {:?} differ",
            pred_labels.dims(),
            true_labels.dims()
        )));
    }
    if !include_background && num_classes < 2 {
        return Err(InputError::Option(
            "without the background there must be at least 2 classes".into(),
        ));
    }
    let [n, ..] = pred_labels.dims();
    let mut p = one_hot_int(pred_labels, num_classes)?;
    let mut t = one_hot_int(true_labels, num_classes)?;
    if !include_background {
        p = p.narrow(1, 1, num_classes - 1);
        t = t.narrow(1, 1, num_classes - 1);
    }
    let c = p.dims()[1];
    let count = |x: Tensor<5, Int>| x.sum_dims(&[2, 3, 4]).reshape([n, c]).float();
    let intersection = count(p.clone() * t.clone());
    let pred = count(p);
    let truth = count(t);
    let empty_truth = truth.clone().equal_elem(0.0);
    let denominator = truth + pred.clone();
    // Where the truth is empty the ratio is 0 / pred (NaN when pred is empty too): replaced.
    let dice = (intersection * 2.0) / denominator;
    let empty_value = if ignore_empty {
        pred.full_like(f32::NAN)
    } else {
        pred.equal_elem(0.0).float()
    };
    Ok(dice.mask_where(empty_truth, empty_value))
}

/// The mean of a [`dice_per_label`] result over its non-NaN entries, MONAI's
/// `reduction="mean"`: a one-element tensor, NaN when every entry is NaN.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_train::metrics::mean_dice;
///
/// let device = Device::flex();
/// let dice = Tensor::<2>::from_data([[0.5, f32::NAN], [1.0, 0.0]], &device);
/// assert_eq!(mean_dice(dice).into_scalar::<f32>(), 0.5);
/// ```
pub fn mean_dice(dice: Tensor<2>) -> Tensor<1> {
    let nan = dice.clone().is_nan();
    let valid = nan.clone().bool_not().float().sum();
    dice.mask_fill(nan, 0.0).sum() / valid
}

/// Per foreground label, the mean of its Dice over the cases where it is defined (finite), and
/// the mean of those over the labels: the "mean foreground Dice" the training loop reports and
/// selects by (nnU-Net's summary: labels weigh equally, however many cases hold each). It
/// differs from [`mean_dice`] (MONAI's mean over every finite entry) when a label is absent
/// from some cases. `per_case[c][l]` is case `c`'s Dice of label `l + 1`; labels defined in no
/// case are NaN and left out of the mean.
///
/// ```
/// let per_case = vec![vec![0.8, f64::NAN], vec![0.6, 0.2]];
/// let (labels, mean) = medburn_train::metrics::per_label_means(&per_case, 2);
/// assert!((labels[0] - 0.7).abs() < 1e-12 && labels[1] == 0.2);
/// assert!((mean - 0.45).abs() < 1e-12); // MONAI's mean over entries: 1.6 / 3
/// ```
pub fn per_label_means(per_case: &[Vec<f64>], labels: usize) -> (Vec<f64>, f64) {
    let mut sums = vec![0.0; labels];
    let mut counts = vec![0usize; labels];
    for case in per_case {
        for (l, v) in case.iter().take(labels).enumerate() {
            if v.is_finite() {
                sums[l] += *v;
                counts[l] += 1;
            }
        }
    }
    let per_label: Vec<f64> = sums
        .iter()
        .zip(&counts)
        .map(|(s, &c)| if c > 0 { s / c as f64 } else { f64::NAN })
        .collect();
    let finite: Vec<f64> = per_label
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let mean = if finite.is_empty() {
        f64::NAN
    } else {
        finite.iter().sum::<f64>() / finite.len() as f64
    };
    (per_label, mean)
}
