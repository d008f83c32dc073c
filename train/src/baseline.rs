//! The segmentation baseline without a network: a per-voxel Gaussian (quadratic discriminant)
//! classifier of the channels' intensities, z-scored within each case's foreground as the
//! network's inputs are. It is fitted on the training cases' voxels (each label's prior, mean
//! vector and covariance) and labels each voxel of a case by the largest posterior, on the
//! case's own grid. Where intensity alone decides the label, it scores as well as a network;
//! the margin between the two is what spatial context adds.

use medburn_core::Device;
use medburn_datasets::{read_case_label, read_channels, zscore_foreground, CaseFiles, ReadOptions};

use crate::error::{Result, TrainError};

/// One label's Gaussian: log prior, mean, the Cholesky factor of its covariance (lower,
/// row-major) and the log determinant of the covariance.
#[derive(Clone, Debug, PartialEq)]
struct ClassModel {
    label: u8,
    log_prior: f64,
    mean: Vec<f64>,
    cholesky: Vec<f64>,
    log_det: f64,
}

/// A per-voxel quadratic discriminant classifier over `channels` intensities.
///
/// ```
/// use medburn_train::VoxelClassifier;
/// // Two labels, one channel: 0 near -1, 1 near +1.
/// let values = [-1.1f32, -0.9, -1.0, 0.9, 1.1, 1.0];
/// let labels = [0u8, 0, 0, 1, 1, 1];
/// let mut fit = VoxelClassifier::fitter(1);
/// fit.add(&values, &labels)?;
/// let model = fit.finish()?;
/// assert_eq!(model.predict(&[-0.8, 0.7])?, vec![0, 1]);
/// # Ok::<(), medburn_train::TrainError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct VoxelClassifier {
    channels: usize,
    classes: Vec<ClassModel>,
}

/// Running sums of the voxels of each label: count, sum and sum of outer products.
#[derive(Clone, Debug)]
pub struct VoxelClassifierFit {
    channels: usize,
    count: Vec<u64>,
    sum: Vec<Vec<f64>>,
    outer: Vec<Vec<f64>>,
}

impl VoxelClassifier {
    /// An empty fit over `channels` channels; [`VoxelClassifierFit::add`] cases to it.
    pub fn fitter(channels: usize) -> VoxelClassifierFit {
        VoxelClassifierFit {
            channels,
            count: vec![0; 256],
            sum: vec![vec![0.0; channels]; 256],
            outer: vec![vec![0.0; channels * channels]; 256],
        }
    }

    /// The labels this classifier predicts, in increasing order.
    ///
    /// ```
    /// let mut fit = medburn_train::VoxelClassifier::fitter(1);
    /// fit.add(&[0.0, 1.0, 2.0, 3.0], &[0, 0, 2, 2])?;
    /// assert_eq!(fit.finish()?.labels(), vec![0, 2]);
    /// # Ok::<(), medburn_train::TrainError>(())
    /// ```
    pub fn labels(&self) -> Vec<u8> {
        self.classes.iter().map(|c| c.label).collect()
    }

    /// The label of each voxel of `values` (channel after channel, as
    /// [`VoxelClassifierFit::add`] takes them).
    pub fn predict(&self, values: &[f32]) -> Result<Vec<u8>> {
        let c = self.channels;
        if c == 0 || !values.len().is_multiple_of(c) {
            return Err(TrainError::Invalid(format!(
                "{} values do not make whole voxels of {c} channels",
                values.len()
            )));
        }
        let n = values.len() / c;
        let mut x = vec![0.0f64; c];
        let mut y = vec![0.0f64; c];
        Ok((0..n)
            .map(|v| {
                for (ch, xi) in x.iter_mut().enumerate() {
                    *xi = values[ch * n + v] as f64;
                }
                let mut best = (f64::NEG_INFINITY, 0u8);
                for class in &self.classes {
                    // Mahalanobis distance by forward substitution: L y = x - mean.
                    let mut d2 = 0.0;
                    for i in 0..c {
                        let row = &class.cholesky[i * c..i * c + i];
                        let s = x[i]
                            - class.mean[i]
                            - row.iter().zip(&y[..i]).map(|(l, y)| l * y).sum::<f64>();
                        y[i] = s / class.cholesky[i * c + i];
                        d2 += y[i] * y[i];
                    }
                    let score = class.log_prior - 0.5 * class.log_det - 0.5 * d2;
                    if score > best.0 {
                        best = (score, class.label);
                    }
                }
                best.1
            })
            .collect())
    }
}

impl VoxelClassifierFit {
    /// Adds one case: `values` channel after channel (`[C, voxels]`), `labels` one per voxel.
    pub fn add(&mut self, values: &[f32], labels: &[u8]) -> Result<()> {
        let c = self.channels;
        let n = labels.len();
        if values.len() != c * n {
            return Err(TrainError::Invalid(format!(
                "{} values for {n} labelled voxels of {c} channels",
                values.len()
            )));
        }
        let mut x = vec![0.0f64; c];
        for (v, &l) in labels.iter().enumerate() {
            let l = l as usize;
            for (ch, xi) in x.iter_mut().enumerate() {
                *xi = values[ch * n + v] as f64;
            }
            self.count[l] += 1;
            for i in 0..c {
                self.sum[l][i] += x[i];
                for j in 0..=i {
                    self.outer[l][i * c + j] += x[i] * x[j];
                }
            }
        }
        Ok(())
    }

    /// The fitted classifier: every label seen, its share of the voxels as prior, its mean and
    /// covariance (with a small ridge, so a constant channel does not make it singular).
    pub fn finish(self) -> Result<VoxelClassifier> {
        let c = self.channels;
        let total: u64 = self.count.iter().sum();
        if total == 0 || c == 0 {
            return Err(TrainError::Invalid(
                "the voxel classifier saw no voxels".into(),
            ));
        }
        let mut classes = Vec::new();
        for l in 0..256 {
            let n = self.count[l];
            if n == 0 {
                continue;
            }
            let nf = n as f64;
            let mean: Vec<f64> = self.sum[l].iter().map(|s| s / nf).collect();
            let mut cov = vec![0.0; c * c];
            for i in 0..c {
                for j in 0..=i {
                    let v = self.outer[l][i * c + j] / nf - mean[i] * mean[j];
                    cov[i * c + j] = v;
                    cov[j * c + i] = v;
                }
                cov[i * c + i] += 1e-4;
            }
            let cholesky = cholesky(&cov, c).ok_or_else(|| {
                TrainError::Invalid(format!("label {l}: its covariance is not positive"))
            })?;
            let log_det = 2.0 * (0..c).map(|i| cholesky[i * c + i].ln()).sum::<f64>();
            classes.push(ClassModel {
                label: l as u8,
                log_prior: (nf / total as f64).ln(),
                mean,
                cholesky,
                log_det,
            });
        }
        Ok(VoxelClassifier {
            channels: c,
            classes,
        })
    }
}

/// The lower Cholesky factor of a symmetric `c` x `c` matrix, or `None` when it is not
/// positive definite.
fn cholesky(a: &[f64], c: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; c * c];
    for i in 0..c {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * c + k] * l[j * c + k]).sum();
            if i == j {
                let d = a[i * c + i] - s;
                if d <= 0.0 || !d.is_finite() {
                    return None;
                }
                l[i * c + i] = d.sqrt();
            } else {
                l[i * c + j] = (a[i * c + j] - s) / l[j * c + j];
            }
        }
    }
    Some(l)
}

/// Dice of each label `1..=max` (the largest label in either map) of `predicted` against
/// `truth`. A label absent from both is NaN (left out of means); a label predicted where the
/// truth has none scores 0, so false positives in a case without, say, a lesion cost something
/// (MONAI's `ignore_empty=True` would leave such a case out).
///
/// ```
/// let d = medburn_train::dice_of_label_maps(&[0, 1, 1, 2], &[0, 1, 2, 2]);
/// assert_eq!(d, vec![2.0 / 3.0, 2.0 / 3.0]);
/// assert!(medburn_train::dice_of_label_maps(&[0, 0], &[0, 0]).is_empty());
/// // A lesion (4) predicted in a case without one: 0, not left out.
/// assert_eq!(medburn_train::dice_of_label_maps(&[0, 4], &[0, 0])[3], 0.0);
/// ```
pub fn dice_of_label_maps(predicted: &[u8], truth: &[u8]) -> Vec<f64> {
    let max = predicted.iter().chain(truth).copied().max().unwrap_or(0) as usize;
    let mut both = vec![0usize; max + 1];
    let mut sum = vec![0usize; max + 1];
    for (&p, &t) in predicted.iter().zip(truth) {
        sum[p as usize] += 1;
        sum[t as usize] += 1;
        if p == t {
            both[p as usize] += 1;
        }
    }
    (1..=max)
        .map(|l| {
            if sum[l] == 0 {
                f64::NAN
            } else {
                2.0 * both[l] as f64 / sum[l] as f64
            }
        })
        .collect()
}

/// A case's channels (those of `channels`, or all) z-scored within its foreground, channel
/// after channel, on its own grid, its label map there, and the grid's `[D, H, W]`.
///
/// ```no_run
/// let case = medburn_datasets::CaseFiles::new(vec!["t1.nii.gz".into()], Some("seg.nii.gz".into()));
/// let (values, labels, dims) = medburn_train::normalized_case(&case, &[])?;
/// assert_eq!(values.len(), labels.len());
/// assert_eq!(labels.len(), dims.iter().product::<usize>());
/// # Ok::<(), medburn_train::TrainError>(())
/// ```
pub fn normalized_case(
    case: &CaseFiles,
    channels: &[usize],
) -> Result<(Vec<f32>, Vec<u8>, [usize; 3])> {
    let device = Device::flex();
    let image = read_channels(case, &device)?;
    let image = if channels.is_empty() {
        image
    } else {
        medburn_datasets::select_channels(image, channels, &case.id)?
    };
    let mut values = image
        .to_vec()
        .map_err(|e| TrainError::Invalid(e.to_string()))?;
    zscore_foreground(&mut values, image.channels());
    let label = read_case_label(case, image.geometry(), &ReadOptions::default(), &device)?
        .ok_or_else(|| {
            TrainError::Invalid(format!("case {}: no label map to score against", case.id))
        })?;
    let labels = label
        .to_vec()
        .map_err(|e| TrainError::Invalid(e.to_string()))?
        .iter()
        .map(|&v| v as u8)
        .collect();
    Ok((values, labels, image.geometry().dhw()))
}

/// One case's segmentation scores: Dice of labels `1..` (NaN where the label is in neither
/// map) and, for a label whose structures are counted one by one (lesions),
/// `(found, true, false positives)` as [`crate::metrics::detections`] counts them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CaseScores {
    /// The case identifier.
    pub id: String,
    /// Dice of labels 1, 2, ...
    pub dice: Vec<f64>,
    /// Structures of the detection label found, in the truth, and predicted in no true one.
    pub detection: Option<(usize, usize, usize)>,
}

impl CaseScores {
    /// The mean Dice over the labels scored (NaNs, labels in neither map, left out).
    ///
    /// ```
    /// let c = medburn_train::CaseScores { id: "a".into(), dice: vec![0.5, f64::NAN, 1.0], detection: None };
    /// assert_eq!(c.mean_dice(), 0.75);
    /// ```
    pub fn mean_dice(&self) -> f64 {
        nan_mean(&self.dice)
    }
}

/// Segmentation scores of several cases (a network's or the voxel classifier's).
#[derive(Clone, Debug, Default)]
pub struct SegmentationScores {
    /// The cases in order.
    pub cases: Vec<CaseScores>,
}

impl SegmentationScores {
    /// The mean and (population) standard deviation over cases of label `l`'s Dice (`l >= 1`)
    /// or, for `l = 0`, of each case's mean foreground Dice; NaNs left out.
    ///
    /// ```
    /// use medburn_train::{CaseScores, SegmentationScores};
    /// let case = |id: &str, dice: Vec<f64>| CaseScores { id: id.into(), dice, detection: None };
    /// let s = SegmentationScores { cases: vec![case("a", vec![0.5, 1.0]), case("b", vec![0.7, f64::NAN])] };
    /// let (m, sd) = s.mean_sd(1);
    /// assert!((m - 0.6).abs() < 1e-12 && (sd - 0.1).abs() < 1e-12);
    /// assert_eq!(s.mean_sd(2).0, 1.0);
    /// assert!((s.mean_sd(0).0 - 0.725).abs() < 1e-12); // (0.75 + 0.7) / 2
    /// ```
    pub fn mean_sd(&self, l: usize) -> (f64, f64) {
        mean_sd(self.cases.iter().map(|c| {
            if l == 0 {
                c.mean_dice()
            } else {
                c.dice.get(l - 1).copied().unwrap_or(f64::NAN)
            }
        }))
    }

    /// The number of labels scored (the longest Dice list).
    pub fn labels(&self) -> usize {
        self.cases.iter().map(|c| c.dice.len()).max().unwrap_or(0)
    }

    /// Summed over cases: structures found, true structures, false-positive structures (`None`
    /// when no case counts them).
    ///
    /// ```
    /// use medburn_train::{CaseScores, SegmentationScores};
    /// let case = |d| CaseScores { id: "a".into(), dice: vec![], detection: Some(d) };
    /// let s = SegmentationScores { cases: vec![case((1, 2, 0)), case((0, 0, 3))] };
    /// assert_eq!(s.detections(), Some((1, 2, 3)));
    /// ```
    pub fn detections(&self) -> Option<(usize, usize, usize)> {
        self.cases
            .iter()
            .filter_map(|c| c.detection)
            .reduce(|a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2))
    }
}

/// Scores a predicted label map against the truth (both `[D, H, W]`, W fastest): Dice per
/// label, and detections of `detect` where given.
///
/// ```
/// let s = medburn_train::score_case("a", &[0, 4, 0, 0], &[0, 4, 0, 4], [1, 1, 4], Some(4));
/// assert_eq!(s.dice[3], 2.0 / 3.0); // label 4: 1 voxel in common, 1 + 2 voxels
/// assert!(s.dice[0].is_nan()); // label 1 is in neither map
/// assert_eq!(s.detection, Some((1, 2, 0))); // one of two lesions found, no false one
/// ```
pub fn score_case(
    id: &str,
    predicted: &[u8],
    truth: &[u8],
    dims: [usize; 3],
    detect: Option<u8>,
) -> CaseScores {
    CaseScores {
        id: id.to_string(),
        dice: dice_of_label_maps(predicted, truth),
        detection: detect.map(|l| crate::metrics::detections(predicted, truth, dims, l)),
    }
}

/// The mean of the finite values of `d` (NaN when there is none).
fn nan_mean(d: &[f64]) -> f64 {
    let v: Vec<f64> = d.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// Mean and population standard deviation of the finite values.
fn mean_sd(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64;
    (m, var.sqrt())
}

/// Fits the voxel classifier on `train` and scores it on `test` (each on its own grid; the
/// structures of label `detect` counted one by one where given), with `progress` called after
/// each case read.
///
/// ```no_run
/// let m = medburn_datasets::Manifest::open("data".as_ref())?;
/// let scores = medburn_train::voxel_baseline(&m.training, &m.test, &[], Some(4), &mut |_| {})?;
/// println!("mean foreground Dice {:.3}", scores.mean_sd(0).0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn voxel_baseline(
    train: &[CaseFiles],
    test: &[CaseFiles],
    channels: &[usize],
    detect: Option<u8>,
    progress: &mut dyn FnMut(&str),
) -> Result<SegmentationScores> {
    if train.is_empty() || test.is_empty() {
        return Err(TrainError::Invalid(format!(
            "the baseline needs training and test cases with label maps ({} and {})",
            train.len(),
            test.len()
        )));
    }
    let mut fit: Option<VoxelClassifierFit> = None;
    for case in train {
        let (values, labels, _) = normalized_case(case, channels)?;
        let c = values.len() / labels.len().max(1);
        let f = fit.get_or_insert_with(|| VoxelClassifier::fitter(c));
        f.add(&values, &labels)
            .map_err(|e| TrainError::Invalid(format!("case {}: {e}", case.id)))?;
        progress(&case.id);
    }
    let model = fit
        .ok_or_else(|| TrainError::Invalid("no training cases".into()))?
        .finish()?;
    let mut scores = SegmentationScores::default();
    for case in test {
        let (values, labels, dims) = normalized_case(case, channels)?;
        let predicted = model.predict(&values)?;
        scores
            .cases
            .push(score_case(&case.id, &predicted, &labels, dims, detect));
        progress(&case.id);
    }
    Ok(scores)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn two_correlated_channels_are_separated_by_their_covariance() {
        // Label 1 and 2 share their means and differ only in the sign of the channels'
        // correlation: a quadratic discriminant separates them, a nearest-mean rule could not.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let n = 4000;
        let mut values = vec![0f32; 2 * n];
        let mut labels = vec![0u8; n];
        for v in 0..n {
            let l = 1 + (v % 2) as u8;
            let a: f64 = rng.random_range(-1.0..1.0);
            let b: f64 = rng.random_range(-0.05..0.05);
            let (x, y) = if l == 1 { (a, a + b) } else { (a, -a + b) };
            values[v] = x as f32;
            values[n + v] = y as f32;
            labels[v] = l;
        }
        let mut fit = VoxelClassifier::fitter(2);
        fit.add(&values, &labels).unwrap();
        let model = fit.finish().unwrap();
        let predicted = model.predict(&values).unwrap();
        let right = predicted
            .iter()
            .zip(&labels)
            .filter(|(p, t)| p == t)
            .count();
        // Near the origin the two lines cross; elsewhere every voxel is right.
        assert!(right as f64 > 0.9 * n as f64, "{right} of {n}");
        assert!(fit_refuses_ragged_input());
    }

    fn fit_refuses_ragged_input() -> bool {
        let mut fit = VoxelClassifier::fitter(2);
        fit.add(&[0.0; 3], &[0, 0]).is_err() && VoxelClassifier::fitter(1).finish().is_err()
    }

    #[test]
    fn cholesky_matches_a_hand_factor() {
        let l = cholesky(&[4.0, 2.0, 2.0, 5.0], 2).unwrap();
        assert_eq!(l, vec![2.0, 0.0, 1.0, 2.0]);
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }
}
