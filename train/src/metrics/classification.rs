//! Classification metrics on the host, as scikit-learn's `accuracy_score`, `roc_auc_score`
//! (binary, and one-vs-rest macro for more classes) and `roc_curve`.

/// The share of cases whose predicted class is the true one; NaN for none.
///
/// ```
/// assert_eq!(medburn_train::metrics::accuracy(&[0, 1, 1, 2], &[0, 1, 0, 2]), 0.75);
/// ```
pub fn accuracy(predicted: &[usize], truth: &[usize]) -> f64 {
    if truth.is_empty() {
        return f64::NAN;
    }
    let right = predicted.iter().zip(truth).filter(|(p, t)| p == t).count();
    right as f64 / truth.len() as f64
}

/// The area under the ROC curve of `scores` for the cases where `positive` holds: the
/// probability that a random positive case scores above a random negative one, ties counting
/// half (the Mann-Whitney U statistic, as scikit-learn). NaN when either class is missing.
///
/// ```
/// use medburn_train::metrics::roc_auc;
/// assert_eq!(roc_auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]), 0.75);
/// assert_eq!(roc_auc(&[0.5, 0.5], &[false, true]), 0.5);
/// assert!(roc_auc(&[0.5], &[true]).is_nan());
/// ```
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> f64 {
    let ranks = average_ranks(scores);
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return f64::NAN;
    }
    let rank_sum: f64 = ranks
        .iter()
        .zip(positive)
        .filter(|(_, &p)| p)
        .map(|(r, _)| r)
        .sum();
    let u = rank_sum - (n_pos * (n_pos + 1)) as f64 / 2.0;
    u / (n_pos * n_neg) as f64
}

/// ROC AUC of class probabilities `[N][K]`: for two classes the AUC of class 1's probability,
/// for more the mean over classes of each class against the rest (scikit-learn's
/// `multi_class="ovr", average="macro"`); classes absent from `truth` are left out.
///
/// ```
/// use medburn_train::metrics::multiclass_auc;
/// let p = [[0.9, 0.1], [0.6, 0.4], [0.65, 0.35], [0.2, 0.8]];
/// let p: Vec<Vec<f64>> = p.iter().map(|r| r.to_vec()).collect();
/// assert_eq!(multiclass_auc(&p, &[0, 0, 1, 1]), 0.75);
/// ```
pub fn multiclass_auc(probabilities: &[Vec<f64>], truth: &[usize]) -> f64 {
    let k = probabilities.first().map_or(0, |p| p.len());
    let auc_of = |class: usize| {
        let scores: Vec<f64> = probabilities.iter().map(|p| p[class]).collect();
        let positive: Vec<bool> = truth.iter().map(|&t| t == class).collect();
        roc_auc(&scores, &positive)
    };
    if k == 2 {
        return auc_of(1);
    }
    super::regression::mean((0..k).map(auc_of).filter(|v| v.is_finite()))
}

/// The ROC curve of `scores` for `positive`: (false-positive rate, true-positive rate) at every
/// distinct threshold from the highest down, starting at (0, 0) and ending at (1, 1).
///
/// ```
/// let curve = medburn_train::metrics::roc_curve(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]);
/// assert_eq!(curve, vec![(0.0, 0.0), (0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (1.0, 1.0)]);
/// ```
pub fn roc_curve(scores: &[f64], positive: &[bool]) -> Vec<(f64, f64)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let n_pos = positive.iter().filter(|&&p| p).count().max(1) as f64;
    let n_neg = positive.iter().filter(|&&p| !p).count().max(1) as f64;
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut curve = vec![(0.0, 0.0)];
    let mut k = 0;
    while k < order.len() {
        let s = scores[order[k]];
        while k < order.len() && scores[order[k]] == s {
            if positive[order[k]] {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            k += 1;
        }
        curve.push((fp / n_neg, tp / n_pos));
    }
    curve
}

/// 1-based ranks of `values`, ties sharing their average rank.
fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut k = 0;
    while k < order.len() {
        let mut end = k;
        while end + 1 < order.len() && values[order[end + 1]] == values[order[k]] {
            end += 1;
        }
        let rank = (k + end) as f64 / 2.0 + 1.0;
        for &i in &order[k..=end] {
            ranks[i] = rank;
        }
        k = end + 1;
    }
    ranks
}
