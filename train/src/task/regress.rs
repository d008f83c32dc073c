//! Regression: one number per case (age from a T1) from a manifest column, whole volumes on a
//! fixed grid, a network with one output, trained on standardized targets (MSE, L1 or Huber);
//! scored by MAE, RMSE and R² beside the mean predictor (the training cases' mean), with a
//! predicted-against-true scatter plot and a per-case table.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::tensor::{Device, Tensor};
use medburn_datasets::{CaseFiles, PreparedCase};

use super::whole_volume::{batch_targets, build, outputs, prepare_whole_volumes};
use super::{DataInfo, RunData, StepBatch, Target, Task};
use crate::config::{LossConfig, TaskKind, TrainConfig};
use crate::error::{Result, TrainError};
use crate::metrics::{mae, r2, rmse};
use crate::metrics_log::Metrics;
use crate::network::VectorNet;
use crate::plot::write_scatter_png;

/// The regression task; it keeps the loss the configuration chose.
#[derive(Debug, Default)]
pub struct Regress {
    loss: Option<LossConfig>,
}

/// Each evaluated case's true and predicted value, in the target's units.
#[derive(Clone, Debug, PartialEq)]
pub struct RegressEvaluation {
    /// (case id, true value, predicted value).
    pub cases: Vec<(String, f64, f64)>,
    /// The mean predictor's answer (the training mean).
    pub baseline: f64,
}

/// The mean and standard deviation of the target of the training cases.
fn continuous(cases: &[CaseFiles], name: &str) -> Result<Target> {
    let values: Vec<f64> = cases
        .iter()
        .map(|c| c.number(name))
        .collect::<std::result::Result<_, _>>()?;
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let std = (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
    if std.is_nan() || std <= 0.0 {
        return Err(TrainError::Invalid(format!(
            "{name} is the same ({mean}) in every training case: nothing to learn"
        )));
    }
    Ok(Target::Continuous {
        name: name.to_string(),
        mean,
        std,
    })
}

/// `(mean, std)` of a continuous target.
pub(crate) fn scale(info: &DataInfo) -> Result<(f64, f64)> {
    match &info.target {
        Some(Target::Continuous { mean, std, .. }) => Ok((*mean, *std)),
        _ => Err(TrainError::Invalid(
            "regression needs a continuous target".into(),
        )),
    }
}

impl Task for Regress {
    type Model = VectorNet;
    type Evaluation = RegressEvaluation;

    fn kind(&self) -> TaskKind {
        TaskKind::Regress
    }

    fn metric_names(&self, _: &DataInfo) -> Vec<String> {
        [
            "mae",
            "rmse",
            "r2",
            "baseline_mae",
            "baseline_rmse",
            "baseline_r2",
        ]
        .map(String::from)
        .to_vec()
    }

    fn prepare(&mut self, config: &TrainConfig, progress: bool) -> Result<RunData> {
        self.loss = Some(config.loss.clone());
        prepare_whole_volumes(
            config,
            progress,
            continuous,
            |_| 1,
            |case, target| {
                let Target::Continuous {
                    name, mean, std, ..
                } = target
                else {
                    unreachable!("continuous() makes a continuous target")
                };
                Ok(((case.number(name)? - mean) / std) as f32)
            },
        )
    }

    fn build(&self, config: &TrainConfig, info: &DataInfo, device: &Device) -> Result<VectorNet> {
        build(config, info, device)
    }

    fn loss(&self, model: &VectorNet, batch: StepBatch) -> Result<Tensor<1>> {
        let targets = batch_targets(batch.targets)?;
        let predicted = model.try_forward(batch.image)?;
        let residual = predicted - targets;
        Ok(match self.loss.as_ref() {
            Some(LossConfig::L1 {}) => residual.abs().mean(),
            Some(LossConfig::Huber { delta }) => {
                // 0.5 r^2 inside delta, delta (|r| - 0.5 delta) beyond (torch.nn.HuberLoss).
                let a = residual.abs();
                let quadratic = a.clone().clamp_max(*delta);
                let linear = a - quadratic.clone();
                (quadratic.clone() * quadratic * 0.5 + linear * *delta).mean()
            }
            _ => residual.clone().mul(residual).mean(),
        })
    }

    fn evaluate(
        &self,
        model: &VectorNet,
        cases: &[Arc<PreparedCase>],
        _test: bool,
        config: &TrainConfig,
        info: &DataInfo,
        device: &Device,
    ) -> Result<(Metrics, RegressEvaluation)> {
        let (mean, std) = scale(info)?;
        let out = outputs(model, cases, config.validation.sw_batch_size, device)?;
        let rows: Vec<(String, f64, f64)> = cases
            .iter()
            .zip(&out)
            .map(|(c, o)| {
                (
                    c.id.clone(),
                    c.targets[0] as f64 * std + mean,
                    o[0] as f64 * std + mean,
                )
            })
            .collect();
        let truth: Vec<f64> = rows.iter().map(|r| r.1).collect();
        let predicted: Vec<f64> = rows.iter().map(|r| r.2).collect();
        let baseline = vec![mean; truth.len()];
        let metrics = Metrics::new(vec![
            ("mae".into(), mae(&predicted, &truth)),
            ("rmse".into(), rmse(&predicted, &truth)),
            ("r2".into(), r2(&predicted, &truth)),
            ("baseline_mae".into(), mae(&baseline, &truth)),
            ("baseline_rmse".into(), rmse(&baseline, &truth)),
            ("baseline_r2".into(), r2(&baseline, &truth)),
        ]);
        Ok((
            metrics,
            RegressEvaluation {
                cases: rows,
                baseline: mean,
            },
        ))
    }

    fn describe(&self, m: &Metrics) -> String {
        let g = |n: &str| m.get(n).unwrap_or(f64::NAN);
        format!(
            "MAE {:.3}  RMSE {:.3}  R2 {:.3}  (mean predictor: MAE {:.3})",
            g("mae"),
            g("rmse"),
            g("r2"),
            g("baseline_mae")
        )
    }

    fn write_outputs(
        &self,
        out: &Path,
        prefix: &str,
        _cases: &[Arc<PreparedCase>],
        evaluation: &RegressEvaluation,
        info: &DataInfo,
    ) -> Result<Vec<PathBuf>> {
        let name = info.target.as_ref().map_or("target", |t| t.name());
        let table = out.join(format!("{prefix}_predictions.csv"));
        let mut text = format!("case,{name},predicted_{name}\n");
        for (id, truth, predicted) in &evaluation.cases {
            let _ = writeln!(text, "{id},{truth:.4},{predicted:.4}");
        }
        medburn_io::atomic::write_atomic(&table, text.as_bytes())?;
        let picture = out.join(format!("{prefix}_scatter.png"));
        let points: Vec<(f64, f64)> = evaluation.cases.iter().map(|r| (r.1, r.2)).collect();
        let truth: Vec<f64> = points.iter().map(|p| p.0).collect();
        let predicted: Vec<f64> = points.iter().map(|p| p.1).collect();
        let baseline = vec![evaluation.baseline; truth.len()];
        write_scatter_png(
            &points,
            evaluation.baseline,
            &format!(
                "{prefix}, {} cases: MAE {:.2} (mean predictor {:.2}), R2 {:.2}",
                points.len(),
                mae(&predicted, &truth),
                mae(&baseline, &truth),
                r2(&predicted, &truth)
            ),
            name,
            &picture,
        )?;
        Ok(vec![table, picture])
    }
}
