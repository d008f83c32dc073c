//! Classification: one class per case (sex from a T1) from a manifest column, whole volumes on
//! a fixed grid, one logit per class, cross-entropy; scored by ROC AUC, accuracy and
//! cross-entropy beside the majority-class baseline (the best model chosen by the validation
//! cross-entropy), with a ROC curve and a per-case table.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::{Device, Int, Tensor};
use medburn_datasets::{CaseFiles, Manifest, PreparedCase};

use super::whole_volume::{batch_targets, build, outputs, prepare_whole_volumes};
use super::{DataInfo, RunData, StepBatch, Target, Task};
use crate::config::{LossConfig, TaskKind, TrainConfig};
use crate::error::{Result, TrainError};
use crate::metrics::{accuracy, multiclass_auc, roc_curve};
use crate::metrics_log::Metrics;
use crate::network::VectorNet;
use crate::plot::write_roc_png;

/// The classification task; it keeps the configured label smoothing.
#[derive(Debug, Default)]
pub struct Classify {
    label_smoothing: f64,
}

/// Each evaluated case's true class and class probabilities.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassifyEvaluation {
    /// (case id, true class, probability of each class).
    pub cases: Vec<(String, usize, Vec<f64>)>,
}

/// Softmax of one case's logits, in f64.
pub(crate) fn probabilities(logits: &[f32]) -> Vec<f64> {
    let max = logits.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
    let e: Vec<f64> = logits.iter().map(|&v| (v as f64 - max).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

/// The classes (configured, or the sorted distinct values of the training cases) and the
/// training cases per class.
fn classes(config_classes: &[String]) -> impl Fn(&[CaseFiles], &str) -> Result<Target> + '_ {
    move |cases, name| {
        let classes = if config_classes.is_empty() {
            Manifest::classes(cases, name)?
        } else {
            config_classes.to_vec()
        };
        if classes.len() < 2 {
            return Err(TrainError::Invalid(format!(
                "{name} has one class ({}) in the training cases: nothing to learn",
                classes.join(", ")
            )));
        }
        let mut counts = vec![0; classes.len()];
        for c in cases {
            counts[c.class(name, &classes)?] += 1;
        }
        Ok(Target::Classes {
            name: name.to_string(),
            classes,
            counts,
        })
    }
}

/// The class values and the majority class of a class target.
pub(crate) fn class_info(info: &DataInfo) -> Result<(&[String], usize)> {
    match &info.target {
        Some(Target::Classes {
            classes, counts, ..
        }) => {
            let majority = (0..counts.len())
                .max_by_key(|&k| (counts[k], std::cmp::Reverse(k)))
                .unwrap_or(0);
            Ok((classes, majority))
        }
        _ => Err(TrainError::Invalid(
            "classification needs a class target".into(),
        )),
    }
}

impl Task for Classify {
    type Model = VectorNet;
    type Evaluation = ClassifyEvaluation;

    fn kind(&self) -> TaskKind {
        TaskKind::Classify
    }

    fn metric_names(&self, _: &DataInfo) -> Vec<String> {
        [
            "auc",
            "accuracy",
            "cross_entropy",
            "baseline_auc",
            "baseline_accuracy",
        ]
        .map(String::from)
        .to_vec()
    }

    /// Cross-entropy (lower is better), a proper scoring rule: ROC AUC reaches 1 on a small
    /// validation set early in training and would then keep the first model that reached it,
    /// however badly calibrated (accuracy 0.65 against 0.93 later, on the README's data).
    fn selection_metric(&self, _: &DataInfo) -> String {
        "cross_entropy".into()
    }

    fn prepare(&mut self, config: &TrainConfig, progress: bool) -> Result<RunData> {
        if let LossConfig::CrossEntropy { label_smoothing } = config.loss {
            self.label_smoothing = label_smoothing;
        }
        let outputs = |target: &Target| match target {
            Target::Classes { classes, .. } => classes.len(),
            Target::Continuous { .. } => unreachable!("classes() makes classes"),
        };
        prepare_whole_volumes(
            config,
            progress,
            classes(&config.data.classes),
            outputs,
            |case, target| {
                let Target::Classes { name, classes, .. } = target else {
                    unreachable!("classes() makes classes")
                };
                Ok(case.class(name, classes)? as f32)
            },
        )
    }

    fn build(&self, config: &TrainConfig, info: &DataInfo, device: &Device) -> Result<VectorNet> {
        build(config, info, device)
    }

    fn loss(&self, model: &VectorNet, batch: StepBatch) -> Result<Tensor<1>> {
        let targets = batch_targets(batch.targets)?;
        let n = targets.dims()[0];
        let classes: Tensor<1, Int> = targets.reshape([n]).int();
        let logits = model.try_forward(batch.image)?;
        let device = logits.device();
        let mut config = CrossEntropyLossConfig::new();
        if self.label_smoothing > 0.0 {
            config = config.with_smoothing(Some(self.label_smoothing as f32));
        }
        Ok(config.init(&device).forward(logits, classes))
    }

    fn evaluate(
        &self,
        model: &VectorNet,
        cases: &[Arc<PreparedCase>],
        _test: bool,
        config: &TrainConfig,
        info: &DataInfo,
        device: &Device,
    ) -> Result<(Metrics, ClassifyEvaluation)> {
        let (_, majority) = class_info(info)?;
        let out = outputs(model, cases, config.validation.sw_batch_size, device)?;
        let rows: Vec<(String, usize, Vec<f64>)> = cases
            .iter()
            .zip(&out)
            .map(|(c, o)| (c.id.clone(), c.targets[0] as usize, probabilities(o)))
            .collect();
        let truth: Vec<usize> = rows.iter().map(|r| r.1).collect();
        let probs: Vec<Vec<f64>> = rows.iter().map(|r| r.2.clone()).collect();
        let predicted: Vec<usize> = probs
            .iter()
            .map(|p| {
                (0..p.len())
                    .max_by(|&a, &b| p[a].total_cmp(&p[b]))
                    .unwrap_or(0)
            })
            .collect();
        let cross_entropy = rows
            .iter()
            .map(|(_, t, p)| -p[*t].max(1e-12).ln())
            .sum::<f64>()
            / rows.len().max(1) as f64;
        let k = info.num_classes;
        let constant: Vec<Vec<f64>> = truth.iter().map(|_| vec![1.0 / k as f64; k]).collect();
        let metrics = Metrics::new(vec![
            ("auc".into(), multiclass_auc(&probs, &truth)),
            ("accuracy".into(), accuracy(&predicted, &truth)),
            ("cross_entropy".into(), cross_entropy),
            ("baseline_auc".into(), multiclass_auc(&constant, &truth)),
            (
                "baseline_accuracy".into(),
                accuracy(&vec![majority; truth.len()], &truth),
            ),
        ]);
        Ok((metrics, ClassifyEvaluation { cases: rows }))
    }

    fn describe(&self, m: &Metrics) -> String {
        let g = |n: &str| m.get(n).unwrap_or(f64::NAN);
        format!(
            "AUC {:.3}  accuracy {:.3}  cross-entropy {:.3}  (majority class: accuracy {:.3})",
            g("auc"),
            g("accuracy"),
            g("cross_entropy"),
            g("baseline_accuracy")
        )
    }

    fn write_outputs(
        &self,
        out: &Path,
        prefix: &str,
        _cases: &[Arc<PreparedCase>],
        evaluation: &ClassifyEvaluation,
        info: &DataInfo,
    ) -> Result<Vec<PathBuf>> {
        let (classes, _) = class_info(info)?;
        let name = info.target.as_ref().map_or("class", |t| t.name());
        let table = out.join(format!("{prefix}_predictions.csv"));
        let mut text = format!("case,{name},predicted_{name}");
        for c in classes {
            let _ = write!(text, ",p_{c}");
        }
        text.push('\n');
        for (id, truth, p) in &evaluation.cases {
            let best = (0..p.len())
                .max_by(|&a, &b| p[a].total_cmp(&p[b]))
                .unwrap_or(0);
            let _ = write!(text, "{id},{},{}", classes[*truth], classes[best]);
            for v in p {
                let _ = write!(text, ",{v:.4}");
            }
            text.push('\n');
        }
        medburn_io::atomic::write_atomic(&table, text.as_bytes())?;
        // One curve per class against the rest (only class 1's for two classes).
        let shown: Vec<usize> = if classes.len() == 2 {
            vec![1]
        } else {
            (0..classes.len()).collect()
        };
        let curves: Vec<(String, Vec<(f64, f64)>)> = shown
            .iter()
            .map(|&k| {
                let scores: Vec<f64> = evaluation.cases.iter().map(|r| r.2[k]).collect();
                let positive: Vec<bool> = evaluation.cases.iter().map(|r| r.1 == k).collect();
                (
                    format!("{name} = {}", classes[k]),
                    roc_curve(&scores, &positive),
                )
            })
            .collect();
        let picture = out.join(format!("{prefix}_roc.png"));
        let probs: Vec<Vec<f64>> = evaluation.cases.iter().map(|r| r.2.clone()).collect();
        let truth: Vec<usize> = evaluation.cases.iter().map(|r| r.1).collect();
        let title = format!(
            "{prefix}, {} cases: {name}, AUC {:.3}",
            truth.len(),
            multiclass_auc(&probs, &truth)
        );
        write_roc_png(&curves, &title, &picture)?;
        Ok(vec![table, picture])
    }
}
