//! Random Gaussian and Rician noise (MONAI's `RandGaussianNoise` and `RandRicianNoise`).
//!
//! The noise is generated on the host from a per-sample seed kept in the params and uploaded:
//! Burn's `Tensor::random` draws from a global per-device seed, which neither a resumed run nor
//! a test can replay, while a seed in the params reproduces the exact values anywhere.

use burn::tensor::{Tensor, TensorData};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::batch::select;
use crate::error::{check_prob, AugmentError, Result};
use crate::random::uniform;

/// Noise values per ChaCha8 stream (see [`NoiseSample::values`]).
///
/// ```
/// assert_eq!(medburn_augment::NOISE_BLOCK, 1 << 16);
/// ```
pub const NOISE_BLOCK: usize = 1 << 16;

/// Random Gaussian noise, as MONAI's `RandGaussianNoise` (`sample_std=True`): a sample gets
/// `x + N(mean, s^2)` voxel-wise, `s` drawn uniformly in `[0, std]` per sample.
///
/// Default: `prob` 0.15, `mean` 0, `std` 0.1 (nnU-Net's; meant for z-score normalized images).
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_augment::{Pipeline, RandomGaussianNoise, Transform};
/// let p = Pipeline::new(vec![Transform::GaussianNoise(RandomGaussianNoise { prob: 1.0, ..Default::default() })]);
/// let (y, _) = p.run(0, Tensor::<5>::zeros([1, 1, 8, 8, 8], &Device::flex()), None)?;
/// assert!(y.abs().max().into_scalar::<f32>() > 0.0);
/// # Ok::<(), medburn_augment::AugmentError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomGaussianNoise {
    /// Probability that a sample gets noise.
    pub prob: f64,
    /// Mean of the noise.
    pub mean: f64,
    /// Upper bound of the per-sample standard deviation.
    pub std: f64,
}

impl Default for RandomGaussianNoise {
    fn default() -> Self {
        Self {
            prob: 0.15,
            mean: 0.0,
            std: 0.1,
        }
    }
}

/// Random Rician noise, as MONAI's `RandRicianNoise` (`sample_std=True`, not relative): the
/// magnitude of a complex signal with Gaussian noise in both parts,
/// `sqrt((x + n1)^2 + n2^2)`, `n1, n2 ~ N(mean, s^2)`, `s` uniform in `[0, std]`: the noise of
/// magnitude MR images.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_augment::{Pipeline, RandomRicianNoise, Transform};
/// let p = Pipeline::new(vec![Transform::RicianNoise(RandomRicianNoise { prob: 1.0, ..Default::default() })]);
/// let (y, _) = p.run(0, Tensor::<5>::zeros([1, 1, 8, 8, 8], &Device::flex()), None)?;
/// assert!(y.min().into_scalar::<f32>() >= 0.0); // a magnitude
/// # Ok::<(), medburn_augment::AugmentError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomRicianNoise {
    /// Probability that a sample gets noise.
    pub prob: f64,
    /// Mean of the noise in each part.
    pub mean: f64,
    /// Upper bound of the per-sample standard deviation.
    pub std: f64,
}

impl Default for RandomRicianNoise {
    fn default() -> Self {
        Self {
            prob: 0.1,
            mean: 0.0,
            std: 0.1,
        }
    }
}

/// The noise drawn for one sample: its distribution and the seed of its values.
///
/// ```
/// let s = medburn_augment::NoiseSample { mean: 0.0, std: 1.0, seed: 3 };
/// assert_eq!(s.values(4)?, s.values(4)?);
/// # Ok::<(), medburn_augment::AugmentError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct NoiseSample {
    /// Mean.
    pub mean: f64,
    /// Standard deviation.
    pub std: f64,
    /// Seed of the ChaCha8 stream the values come from.
    pub seed: u64,
}

impl NoiseSample {
    /// The first `len` noise values of this sample: block `b` of [`NOISE_BLOCK`] values comes
    /// from the ChaCha8 stream `b` of the seed, so blocks are made in parallel and the values do
    /// not depend on the thread count.
    pub fn values(&self, len: usize) -> Result<Vec<f32>> {
        let normal = Normal::new(self.mean as f32, self.std as f32)
            .ok()
            .filter(|_| self.mean.is_finite())
            .ok_or_else(|| AugmentError::Params(format!("noise {self:?} is not a distribution")))?;
        let mut out = vec![0.0; len];
        out.par_chunks_mut(NOISE_BLOCK)
            .enumerate()
            .for_each(|(b, block)| {
                let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
                rng.set_stream(b as u64);
                block.iter_mut().for_each(|v| *v = normal.sample(&mut rng));
            });
        Ok(out)
    }
}

fn check(field: &str, prob: f64, mean: f64, std: f64) -> Result<()> {
    check_prob(&format!("{field}.prob"), prob)?;
    if !(mean.is_finite() && std.is_finite() && std >= 0.0) {
        return Err(AugmentError::Config(format!(
            "{field} mean = {mean}, std = {std} need finite values and std >= 0"
        )));
    }
    Ok(())
}

fn draw(rng: &mut dyn RngCore, mean: f64, std: f64) -> NoiseSample {
    let std = uniform(rng, 0.0, std);
    let seed = rng.next_u64();
    NoiseSample { mean, std, seed }
}

impl RandomGaussianNoise {
    /// Fails on a probability outside [0, 1], a non-finite mean or a negative std.
    ///
    /// ```
    /// assert!(medburn_augment::RandomGaussianNoise { std: -1.0, ..Default::default() }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        check("gaussian_noise", self.prob, self.mean, self.std)
    }

    pub(crate) fn draw(&self, rng: &mut dyn RngCore) -> NoiseSample {
        draw(rng, self.mean, self.std)
    }
}

impl RandomRicianNoise {
    /// Fails on a probability outside [0, 1], a non-finite mean or a negative std.
    ///
    /// ```
    /// assert!(medburn_augment::RandomRicianNoise { prob: -1.0, ..Default::default() }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        check("rician_noise", self.prob, self.mean, self.std)
    }

    pub(crate) fn draw(&self, rng: &mut dyn RngCore) -> NoiseSample {
        draw(rng, self.mean, self.std)
    }
}

/// `fields` noise volumes per drawn sample (zeros elsewhere), one after the other from each
/// sample's stream, as `fields` tensors shaped like `like`.
fn noise(
    samples: &[Option<NoiseSample>],
    like: &Tensor<5>,
    fields: usize,
) -> Result<Vec<Tensor<5>>> {
    let dims = like.dims();
    let per_sample = dims[1..].iter().product::<usize>();
    let mut host = vec![vec![0.0f32; dims[0] * per_sample]; fields];
    for (s, sample) in samples.iter().enumerate() {
        if let Some(sample) = sample {
            // Field f is the sample's values f * per_sample onwards.
            let v = sample.values(fields * per_sample)?;
            for (h, part) in host.iter_mut().zip(v.chunks(per_sample)) {
                h[s * per_sample..(s + 1) * per_sample].copy_from_slice(part);
            }
        }
    }
    Ok(host
        .into_iter()
        .map(|h| Tensor::from_data(TensorData::new(h, dims), (&like.device(), like.dtype())))
        .collect())
}

/// `x + n` on drawn samples.
pub(crate) fn apply_gaussian_noise(
    samples: &[Option<NoiseSample>],
    image: Tensor<5>,
) -> Result<Tensor<5>> {
    if samples.iter().all(Option::is_none) {
        return Ok(image);
    }
    let n = noise(samples, &image, 1)?.remove(0);
    Ok(select(samples, image.clone(), image + n))
}

/// `sqrt((x + n1)^2 + n2^2)` on drawn samples.
pub(crate) fn apply_rician_noise(
    samples: &[Option<NoiseSample>],
    image: Tensor<5>,
) -> Result<Tensor<5>> {
    if samples.iter().all(Option::is_none) {
        return Ok(image);
    }
    let mut n = noise(samples, &image, 2)?;
    let (n2, n1) = (n.remove(1), n.remove(0));
    let re = image.clone() + n1;
    let changed = (re.clone() * re + n2.clone() * n2).sqrt();
    Ok(select(samples, image, changed))
}
