//! Representation learning: each whole volume on a fixed grid is reconstructed through the
//! code of an autoencoder (MONAI's `AutoEncoder`, or `VarAutoEncoder` with its KL term);
//! MSE or L1. Held-out cases are scored by PSNR and SSIM (scikit-image's, each volume's data
//! range) beside a baseline with no learning that keeps as many numbers as the code: the volume
//! averaged over the largest blocks whose grid still holds at least the code's size (2^3 for
//! the `AutoEncoder`'s 64 x 8^3 code of a 64^3 volume, 16^3 for a VAE's 64 latents), then
//! trilinear back. A montage shows held-out cases: input | reconstruction | difference.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::tensor::{Device, Tensor};
use medburn_core::Geometry;
use medburn_datasets::{PatchBatch, PreparedCase};
use medburn_models::kl_divergence;
use medburn_ops::{avg_pool3d, interpolate_3d, Interpolate3dOptions, Interpolation, Pool3dOptions};
use rand::RngCore;
use rand_distr::{Distribution, StandardNormal};

use super::whole_volume::{coronal, scalar};
use super::{DataInfo, RunData, StepBatch, Task};
use crate::config::{LossConfig, ModelConfig, TaskKind, TrainConfig};
use crate::error::{Result, TrainError};
use crate::metrics::{psnr, ssim};
use crate::metrics_log::Metrics;
use crate::network::{build_reconstruction_net, ReconstructionNet};
use crate::plot::{percentile_window, write_slice_grid_png, SlicePanel};

/// The autoencoding task; it keeps the loss, the KL weight and the baseline's block size.
#[derive(Debug, Default)]
pub struct Autoencode {
    loss: Option<LossConfig>,
    kl_weight: f64,
    /// The side of the baseline's averaging blocks.
    block: usize,
    /// The VAE's latent size, whose noise each micro-batch draws.
    latent_size: Option<usize>,
}

/// How many evaluated cases the montage shows (one row each).
const MONTAGE_ROWS: usize = 6;

/// One evaluated case: its PSNR and SSIM (reconstruction, baseline) and, for the first
/// [`MONTAGE_ROWS`] cases, its coronal mid-slices `[D, W]` (input, reconstruction,
/// |difference|).
#[derive(Clone, Debug, Default)]
pub struct AutoencodedCase {
    /// The case identifier.
    pub id: String,
    /// PSNR of the reconstruction and of the baseline, in dB.
    pub psnr: [f64; 2],
    /// SSIM of the reconstruction and of the baseline.
    pub ssim: [f64; 2],
    /// Input, reconstruction and |difference| slices, for the montage.
    pub slices: Option<[Vec<f32>; 3]>,
}

/// Each evaluated case's scores and the slices' size `[D, W]`.
#[derive(Clone, Debug, Default)]
pub struct AutoencodeEvaluation {
    /// The cases in order.
    pub cases: Vec<AutoencodedCase>,
    /// The size of every case's slices.
    pub slice_size: [usize; 2],
}

/// The encoder's strides and the KL weight of an autoencoder configuration.
fn strides_of(config: &TrainConfig) -> Result<(Vec<usize>, f64)> {
    match &config.model {
        ModelConfig::AutoEncoder(p) => Ok((p.strides.clone(), 0.0)),
        ModelConfig::Vae(p) => Ok((p.strides.clone(), p.kl_weight)),
        other => Err(TrainError::Config(format!(
            "model {} is not an autoencoder (autoencoder, vae)",
            other.name()
        ))),
    }
}

/// The task's checks: an autoencoder, and a fixed grid its strides divide (the loss is checked
/// with every task's, in `task::check_config`).
pub(crate) fn check_config(config: &TrainConfig) -> Result<()> {
    let (strides, _) = strides_of(config)?;
    let total: usize = strides.iter().product();
    let size = super::whole_volume::fixed_grid(config)?;
    if total == 0 || size.iter().any(|&n| n % total != 0) {
        return Err(TrainError::Config(format!(
            "data.preprocess.size {size:?} must be a multiple of the strides' product {total}"
        )));
    }
    Ok(())
}

/// How many numbers the code of a volume of `channels` x `size` (i, j, k) holds: the
/// `AutoEncoder`'s last channels at the encoded grid, or the VAE's latent size.
fn code_size(config: &TrainConfig, size: [usize; 3], channels: usize) -> usize {
    match &config.model {
        ModelConfig::AutoEncoder(p) => {
            let total: usize = p.strides.iter().product::<usize>().max(1);
            let last = p.channels.last().copied().unwrap_or(channels);
            last * size.iter().map(|n| n / total).product::<usize>()
        }
        ModelConfig::Vae(p) => p.latent_size,
        _ => 0,
    }
}

/// The side of the largest cubic blocks that divide `size` and leave a grid of at least `code`
/// numbers over `channels` channels (1 where none does).
fn baseline_block(size: [usize; 3], channels: usize, code: usize) -> usize {
    let smallest = size.iter().copied().min().unwrap_or(1).max(1);
    (1..=smallest)
        .filter(|&b| size.iter().all(|n| n % b == 0))
        .filter(|&b| channels * size.iter().map(|n| n / b).product::<usize>() >= code)
        .max()
        .unwrap_or(1)
}

/// The autoencoder of `config` for volumes of `channels` channels on its fixed grid
/// (`data.preprocess.size`, which sizes the VAE's linear layers), initialized on `device`:
/// what training builds and what prediction and sampling load weights into.
pub(crate) fn build_net(
    config: &TrainConfig,
    channels: usize,
    device: &Device,
) -> Result<ReconstructionNet> {
    let size = config
        .data
        .preprocess
        .size
        .ok_or_else(|| TrainError::Config("data.preprocess.size is not set".into()))?;
    build_reconstruction_net(&config.model, channels, size, device)
}

impl Task for Autoencode {
    type Model = ReconstructionNet;
    type Evaluation = AutoencodeEvaluation;

    fn kind(&self) -> TaskKind {
        TaskKind::Autoencode
    }

    fn metric_names(&self, _: &DataInfo) -> Vec<String> {
        ["psnr", "ssim", "baseline_psnr", "baseline_ssim"]
            .map(String::from)
            .to_vec()
    }

    fn prepare(&mut self, config: &TrainConfig, progress: bool) -> Result<RunData> {
        let (_, kl_weight) = strides_of(config)?;
        self.loss = Some(config.loss.clone());
        self.kl_weight = kl_weight;
        let data = super::whole_volume::prepare_own_truth(config, progress)?;
        let size = config.data.preprocess.size.unwrap_or([0; 3]);
        let channels = data.info.in_channels;
        self.block = baseline_block(size, channels, code_size(config, size, channels));
        self.latent_size = match &config.model {
            ModelConfig::Vae(p) => Some(p.latent_size),
            _ => None,
        };
        Ok(data)
    }

    fn build(
        &self,
        config: &TrainConfig,
        info: &DataInfo,
        device: &Device,
    ) -> Result<ReconstructionNet> {
        build_net(config, info.in_channels, device)
    }

    /// The augmented batch, and for the VAE its latent noise, from the micro-batch's stream.
    fn prepare_batch(
        &self,
        config: &TrainConfig,
        geometry: &Geometry,
        batch: PatchBatch,
        rng: &mut dyn RngCore,
    ) -> Result<StepBatch> {
        let n = batch.image.dims()[0];
        let device = batch.image.device();
        let mut step = super::augment_batch(config, geometry, batch, rng)?;
        if let Some(k) = self.latent_size {
            let noise: Vec<f32> = (0..n * k)
                .map(|_| StandardNormal.sample(&mut *rng))
                .collect();
            step.noise = Some(Tensor::<1>::from_floats(noise.as_slice(), &device).reshape([n, k]));
        }
        Ok(step)
    }

    fn loss(&self, model: &ReconstructionNet, batch: StepBatch) -> Result<Tensor<1>> {
        let x = batch.image;
        let (y, posterior) = model.reconstruct(x.clone(), batch.noise)?;
        let residual = y - x;
        // task::check_config admits MSE and L1 only.
        let reconstruction = match self.loss.as_ref() {
            Some(LossConfig::L1 {}) => residual.abs().mean(),
            _ => residual.clone().mul(residual).mean(),
        };
        Ok(match posterior {
            Some((mu, logvar)) if self.kl_weight > 0.0 => {
                reconstruction + kl_divergence(mu, logvar) * self.kl_weight
            }
            _ => reconstruction,
        })
    }

    fn evaluate(
        &self,
        model: &ReconstructionNet,
        cases: &[Arc<PreparedCase>],
        _test: bool,
        _config: &TrainConfig,
        _info: &DataInfo,
        device: &Device,
    ) -> Result<(Metrics, AutoencodeEvaluation)> {
        let mut evaluation = AutoencodeEvaluation::default();
        let s = self.block.max(1);
        for case in cases {
            let x = case.image_on(device)?.into_voxels();
            let [_, _, d, h, w] = x.dims();
            let (y, _) = model.reconstruct(x.clone(), None)?;
            // The same volume at the code's resolution, without learning.
            let pooled = avg_pool3d(x.clone(), Pool3dOptions::new([s; 3]))
                .map_err(|e| TrainError::Invalid(e.to_string()))?;
            let baseline = interpolate_3d(
                pooled,
                Interpolate3dOptions::new(Interpolation::Linear).with_size([d, h, w]),
            )
            .map_err(|e| TrainError::Invalid(e.to_string()))?;
            let range = scalar(x.clone().max()) - scalar(x.clone().min());
            let range = range.max(1e-12);
            let psnr = [
                scalar(psnr(y.clone(), x.clone(), range)?),
                scalar(psnr(baseline.clone(), x.clone(), range)?),
            ];
            let ssim = [
                scalar(ssim(y.clone(), x.clone(), range)?),
                scalar(ssim(baseline, x.clone(), range)?),
            ];
            let slices = if evaluation.cases.len() < MONTAGE_ROWS {
                let diff = (y.clone() - x.clone()).abs();
                evaluation.slice_size = [d, w];
                Some([coronal(&x)?, coronal(&y)?, coronal(&diff)?])
            } else {
                None
            };
            evaluation.cases.push(AutoencodedCase {
                id: case.id.clone(),
                psnr,
                ssim,
                slices,
            });
        }
        let mean = |f: &dyn Fn(&AutoencodedCase) -> f64| {
            evaluation.cases.iter().map(f).sum::<f64>() / evaluation.cases.len().max(1) as f64
        };
        let metrics = Metrics::new(vec![
            ("psnr".into(), mean(&|c| c.psnr[0])),
            ("ssim".into(), mean(&|c| c.ssim[0])),
            ("baseline_psnr".into(), mean(&|c| c.psnr[1])),
            ("baseline_ssim".into(), mean(&|c| c.ssim[1])),
        ]);
        Ok((metrics, evaluation))
    }

    fn describe(&self, m: &Metrics) -> String {
        let g = |n: &str| m.get(n).unwrap_or(f64::NAN);
        format!(
            "PSNR {:.2} dB (block average {:.2})  SSIM {:.4} ({:.4})",
            g("psnr"),
            g("baseline_psnr"),
            g("ssim"),
            g("baseline_ssim")
        )
    }

    fn write_outputs(
        &self,
        out: &Path,
        prefix: &str,
        _cases: &[Arc<PreparedCase>],
        evaluation: &AutoencodeEvaluation,
        _info: &DataInfo,
    ) -> Result<Vec<PathBuf>> {
        let table = out.join(format!("{prefix}_reconstructions.csv"));
        let mut text = String::from("case,psnr,psnr_baseline,ssim,ssim_baseline\n");
        for c in &evaluation.cases {
            let (p, q) = (c.psnr, c.ssim);
            let _ = writeln!(
                text,
                "{},{:.4},{:.4},{:.5},{:.5}",
                c.id, p[0], p[1], q[0], q[1]
            );
        }
        medburn_io::atomic::write_atomic(&table, text.as_bytes())?;
        let mut files = vec![table];
        let shown: Vec<(&AutoencodedCase, &[Vec<f32>; 3])> = evaluation
            .cases
            .iter()
            .filter_map(|c| c.slices.as_ref().map(|s| (c, s)))
            .collect();
        if !shown.is_empty() {
            // Input and reconstruction on the inputs' grey scale; the difference on its own,
            // from zero, so that small errors still show.
            let inputs: Vec<f32> = shown.iter().flat_map(|(_, s)| s[0].clone()).collect();
            let diffs: Vec<f32> = shown.iter().flat_map(|(_, s)| s[2].clone()).collect();
            let grey = percentile_window(&inputs);
            let windows = [grey, grey, (0.0, percentile_window(&diffs).1)];
            let rows: Vec<Vec<SlicePanel>> = shown
                .iter()
                .map(|(c, s)| {
                    let titles = [
                        format!("{} input", c.id),
                        format!("reconstruction {:.2} dB", c.psnr[0]),
                        "|difference|".to_string(),
                    ];
                    titles
                        .into_iter()
                        .zip(s.iter())
                        .map(|(title, values)| SlicePanel {
                            title,
                            values,
                            labels: None,
                        })
                        .collect()
                })
                .collect();
            let picture = out.join(format!("{prefix}_reconstructions.png"));
            write_slice_grid_png(&rows, evaluation.slice_size, &windows, 0.0, &picture)?;
            files.push(picture);
        }
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_baseline_keeps_at_least_as_many_numbers_as_the_code() {
        // MONAI's AutoEncoder(channels=(16, 32, 64), strides=(2, 2, 2)) on 64^3: 64 x 8^3.
        assert_eq!(baseline_block([64; 3], 1, 64 * 8 * 8 * 8), 2);
        assert_eq!(baseline_block([64; 3], 1, 64 * 8 * 8 * 8 + 1), 1);
        // The VAE's 64 latents: a 4^3 grid.
        assert_eq!(baseline_block([64; 3], 1, 64), 16);
        // Two channels hold twice the numbers; blocks must divide every axis.
        assert_eq!(baseline_block([64; 3], 2, 64), 16);
        assert_eq!(baseline_block([48, 64, 64], 1, 8), 16);
        let mut config = TrainConfig::for_task(TaskKind::Autoencode);
        assert_eq!(code_size(&config, [64; 3], 1), 64 * 512);
        assert!(crate::task::check_config(&config).is_ok());
        config.loss = LossConfig::named("huber").unwrap();
        assert!(crate::task::check_config(&config)
            .unwrap_err()
            .to_string()
            .contains("loss huber does not fit task autoencode"));
        config.loss = LossConfig::L1 {};
        config.model = ModelConfig::named("vae").unwrap();
        assert_eq!(code_size(&config, [64; 3], 1), 64);
    }
}
