//! Regression metrics on the host, as scikit-learn's `mean_absolute_error`,
//! `root_mean_squared_error` and `r2_score`.

/// Mean absolute error; NaN for no values.
///
/// ```
/// assert_eq!(medburn_train::metrics::mae(&[1.0, 4.0], &[2.0, 2.0]), 1.5);
/// ```
pub fn mae(predicted: &[f64], truth: &[f64]) -> f64 {
    mean(predicted.iter().zip(truth).map(|(p, t)| (p - t).abs()))
}

/// Root mean squared error; NaN for no values.
///
/// ```
/// assert_eq!(medburn_train::metrics::rmse(&[1.0, 5.0], &[1.0, 1.0]), 8f64.sqrt());
/// ```
pub fn rmse(predicted: &[f64], truth: &[f64]) -> f64 {
    mean(predicted.iter().zip(truth).map(|(p, t)| (p - t) * (p - t))).sqrt()
}

/// Coefficient of determination `1 - SS_res / SS_tot`, `SS_tot` about the mean of `truth`
/// (scikit-learn's `r2_score`): 1 for a perfect prediction, 0 for predicting the mean of the
/// evaluated cases, negative below that. NaN when the truths are all equal.
///
/// ```
/// use medburn_train::metrics::r2;
/// assert_eq!(r2(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]), 1.0);
/// assert_eq!(r2(&[2.0, 2.0, 2.0], &[1.0, 2.0, 3.0]), 0.0);
/// assert!((r2(&[1.5, 2.0, 2.0], &[1.0, 2.0, 3.0]) - 0.375).abs() < 1e-12);
/// ```
pub fn r2(predicted: &[f64], truth: &[f64]) -> f64 {
    let m = mean(truth.iter().copied());
    let ss_tot: f64 = truth.iter().map(|t| (t - m) * (t - m)).sum();
    let ss_res: f64 = predicted
        .iter()
        .zip(truth)
        .map(|(p, t)| (p - t) * (p - t))
        .sum();
    if ss_tot > 0.0 {
        1.0 - ss_res / ss_tot
    } else {
        f64::NAN
    }
}

/// The mean of `values`; NaN when empty.
pub(crate) fn mean(values: impl IntoIterator<Item = f64>) -> f64 {
    let (mut s, mut n) = (0.0, 0usize);
    for v in values {
        s += v;
        n += 1;
    }
    if n == 0 {
        f64::NAN
    } else {
        s / n as f64
    }
}
