//! Super-resolution: whole volumes on a fixed grid are the truth; each batch's low-resolution
//! input is made from them on the device as an acquisition with voxels `factors` times larger
//! would have given it (`medburn_spatial::simulate_low_resolution_voxels`: the slice profile's
//! blur, then the coarse voxel centres), and the network ([`SuperResolution3d`]: B-spline
//! upsampling + a learned residual) brings it back to the fine grid. L1 (or MSE) against the
//! truth; held-out cases scored by PSNR and SSIM (scikit-image's, the data range of each
//! truth) beside the B-spline and trilinear upsampling of the same inputs, with a picture of
//! one case: low resolution | trilinear | network | truth.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::tensor::{Device, Tensor};
use medburn_datasets::PreparedCase;
use medburn_models::SuperResolution3d;
use medburn_ops::{interpolate_3d, Interpolate3dOptions, Interpolation};
use medburn_spatial::simulate_low_resolution_voxels;

use super::whole_volume::{coronal, scalar};
use super::{DataInfo, RunData, StepBatch, Task};
use crate::config::{LossConfig, ModelConfig, TaskKind, TrainConfig};
use crate::error::{Result, TrainError};
use crate::metrics::{psnr, ssim};
use crate::metrics_log::Metrics;
use crate::plot::{write_slice_panels_png, SlicePanel};

/// The super-resolution task; it keeps the loss the configuration chose.
#[derive(Debug, Default)]
pub struct SuperResolve {
    loss: Option<LossConfig>,
}

/// PSNR and SSIM of one held-out case: the network's, the B-spline's and trilinear's.
#[derive(Clone, Debug, PartialEq)]
pub struct SuperResolveCase {
    /// The case identifier.
    pub id: String,
    /// (network, B-spline, trilinear) PSNR in dB.
    pub psnr: [f64; 3],
    /// (network, B-spline, trilinear) SSIM.
    pub ssim: [f64; 3],
}

/// Each evaluated case's scores, and the mid-slices of the first case for the picture.
#[derive(Clone, Debug, Default)]
pub struct SuperResolveEvaluation {
    /// Per case.
    pub cases: Vec<SuperResolveCase>,
    /// The first case's coronal mid-slices `[D, W]` (low resolution repeated to the fine grid,
    /// trilinear, network, truth) and their size.
    pub slices: Option<([Vec<f32>; 4], [usize; 2])>,
}

/// The factors of a super-resolution model configuration.
pub(crate) fn factors_of(config: &TrainConfig) -> Result<[usize; 3]> {
    match &config.model {
        ModelConfig::SuperRes(p) => Ok(p.factors),
        other => Err(TrainError::Config(format!(
            "model {} is not a super-resolution network (superres)",
            other.name()
        ))),
    }
}

/// The network's input for `high` `[N, C, D, H, W]`: the simulated acquisition.
pub(crate) fn low_resolution(high: Tensor<5>, factors: [usize; 3]) -> Result<Tensor<5>> {
    simulate_low_resolution_voxels(high, factors)
        .map_err(|e| TrainError::Invalid(format!("low-resolution input: {e}")))
}

/// Trilinear upsampling of `low` to `size` `[D, H, W]` (PyTorch's `align_corners=False`: the
/// grids of `medburn_spatial::high_resolution_grid`).
fn trilinear(low: Tensor<5>, size: [usize; 3]) -> Result<Tensor<5>> {
    let o = Interpolate3dOptions::new(Interpolation::Linear).with_size(size);
    interpolate_3d(low, o).map_err(|e| TrainError::Invalid(e.to_string()))
}

impl Task for SuperResolve {
    type Model = SuperResolution3d;
    type Evaluation = SuperResolveEvaluation;

    fn kind(&self) -> TaskKind {
        TaskKind::SuperResolve
    }

    fn metric_names(&self, _: &DataInfo) -> Vec<String> {
        [
            "psnr",
            "ssim",
            "baseline_psnr",
            "baseline_ssim",
            "trilinear_psnr",
            "trilinear_ssim",
        ]
        .map(String::from)
        .to_vec()
    }

    fn prepare(&mut self, config: &TrainConfig, progress: bool) -> Result<RunData> {
        self.loss = Some(config.loss.clone());
        factors_of(config)?;
        super::whole_volume::prepare_own_truth(config, progress)
    }

    fn build(
        &self,
        config: &TrainConfig,
        info: &DataInfo,
        device: &Device,
    ) -> Result<SuperResolution3d> {
        crate::network::build_superres(&config.model, info.in_channels, device)
    }

    fn loss(&self, model: &SuperResolution3d, batch: StepBatch) -> Result<Tensor<1>> {
        let high = batch.image;
        let low = low_resolution(high.clone(), model.factors)?;
        let residual = model.try_forward(low)? - high;
        Ok(match self.loss.as_ref() {
            Some(LossConfig::Mse {}) => residual.clone().mul(residual).mean(),
            _ => residual.abs().mean(),
        })
    }

    fn evaluate(
        &self,
        model: &SuperResolution3d,
        cases: &[Arc<PreparedCase>],
        _test: bool,
        _config: &TrainConfig,
        _info: &DataInfo,
        device: &Device,
    ) -> Result<(Metrics, SuperResolveEvaluation)> {
        let mut evaluation = SuperResolveEvaluation::default();
        for case in cases {
            let high = case.image_on(device)?.into_voxels();
            let [_, _, d, h, w] = high.dims();
            let low = low_resolution(high.clone(), model.factors)?;
            let network = model.try_forward(low.clone())?;
            let bspline = model.baseline(low.clone())?;
            let linear = trilinear(low.clone(), [d, h, w])?;
            // The data range of the truth, as scikit-image takes it for float images.
            let range =
                scalar(high.clone().max().reshape([1])) - scalar(high.clone().min().reshape([1]));
            let range = range.max(1e-12);
            let mut p = [0.0; 3];
            let mut s = [0.0; 3];
            for (k, y) in [&network, &bspline, &linear].into_iter().enumerate() {
                p[k] = scalar(psnr(y.clone(), high.clone(), range)?);
                s[k] = scalar(ssim(y.clone(), high.clone(), range)?);
            }
            if evaluation.slices.is_none() {
                let nearest =
                    Interpolate3dOptions::new(Interpolation::Nearest).with_size([d, h, w]);
                let blocky =
                    interpolate_3d(low, nearest).map_err(|e| TrainError::Invalid(e.to_string()))?;
                evaluation.slices = Some((
                    [
                        coronal(&blocky)?,
                        coronal(&linear)?,
                        coronal(&network)?,
                        coronal(&high)?,
                    ],
                    [d, w],
                ));
            }
            evaluation.cases.push(SuperResolveCase {
                id: case.id.clone(),
                psnr: p,
                ssim: s,
            });
        }
        let mean = |f: &dyn Fn(&SuperResolveCase) -> f64| {
            evaluation.cases.iter().map(f).sum::<f64>() / evaluation.cases.len().max(1) as f64
        };
        let metrics = Metrics::new(vec![
            ("psnr".into(), mean(&|c| c.psnr[0])),
            ("ssim".into(), mean(&|c| c.ssim[0])),
            ("baseline_psnr".into(), mean(&|c| c.psnr[1])),
            ("baseline_ssim".into(), mean(&|c| c.ssim[1])),
            ("trilinear_psnr".into(), mean(&|c| c.psnr[2])),
            ("trilinear_ssim".into(), mean(&|c| c.ssim[2])),
        ]);
        Ok((metrics, evaluation))
    }

    fn describe(&self, m: &Metrics) -> String {
        let g = |n: &str| m.get(n).unwrap_or(f64::NAN);
        format!(
            "PSNR {:.2} dB (B-spline {:.2}, trilinear {:.2})  SSIM {:.4} (B-spline {:.4})",
            g("psnr"),
            g("baseline_psnr"),
            g("trilinear_psnr"),
            g("ssim"),
            g("baseline_ssim")
        )
    }

    fn write_outputs(
        &self,
        out: &Path,
        prefix: &str,
        _cases: &[Arc<PreparedCase>],
        evaluation: &SuperResolveEvaluation,
        _info: &DataInfo,
    ) -> Result<Vec<PathBuf>> {
        let table = out.join(format!("{prefix}_superres.csv"));
        let mut text = String::from(
            "case,psnr,psnr_bspline,psnr_trilinear,ssim,ssim_bspline,ssim_trilinear\n",
        );
        for c in &evaluation.cases {
            let _ = writeln!(
                text,
                "{},{:.4},{:.4},{:.4},{:.5},{:.5},{:.5}",
                c.id, c.psnr[0], c.psnr[1], c.psnr[2], c.ssim[0], c.ssim[1], c.ssim[2]
            );
        }
        medburn_io::atomic::write_atomic(&table, text.as_bytes())?;
        let mut files = vec![table];
        if let (Some((slices, size)), Some(first)) = (&evaluation.slices, evaluation.cases.first())
        {
            let titles = [
                format!("{} low resolution", first.id),
                format!("trilinear {:.2} dB", first.psnr[2]),
                format!("network {:.2} dB", first.psnr[0]),
                "truth".to_string(),
            ];
            let panels: Vec<SlicePanel> = titles
                .into_iter()
                .zip(slices.iter())
                .map(|(title, values)| SlicePanel {
                    title,
                    values,
                    labels: None,
                })
                .collect();
            let picture = out.join(format!("{prefix}_superres.png"));
            write_slice_panels_png(&panels, *size, &slices[3], 0.0, &picture)?;
            files.push(picture);
        }
        Ok(files)
    }
}

/// The task's checks of a configuration: a super-resolution network, and a fixed grid whose
/// every side holds a whole number of low-resolution voxels.
pub(crate) fn check_config(config: &TrainConfig) -> Result<()> {
    let factors = factors_of(config)?;
    let size = super::whole_volume::fixed_grid(config)?;
    if (0..3).any(|a| size[a] % factors[a] != 0 || size[a] / factors[a] == 0) {
        return Err(TrainError::Config(format!(
            "data.preprocess.size {size:?} must be a multiple of model.factors {factors:?}"
        )));
    }
    Ok(())
}
