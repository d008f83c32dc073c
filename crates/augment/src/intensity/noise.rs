//! Random additive Gaussian noise, as MONAI's `RandGaussianNoise`.
//!
//! The noise is generated on the host from a per-sample seed kept in the params and uploaded:
//! Burn's `Tensor::random` draws from a global per-device seed, which neither a resumed run nor
//! a test can replay, while a seed in the params reproduces the exact values anywhere.

use burn::tensor::{Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use crate::error::{check_batch, check_pair, check_prob, AugmentError, Result};
use crate::random::{chance, uniform};

/// Random Gaussian noise, as MONAI's `RandGaussianNoise` (`sample_std=True`): with probability
/// `prob`, a sample gets `x + N(mean, s^2)` voxel-wise, `s` drawn uniformly in `[0, std]` per
/// sample.
///
/// Default: `prob` 0.15, `mean` 0, `std` 0.1 (nnU-Net's; meant for z-score normalized images).
/// Never touches labels.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_augment::RandomGaussianNoise;
/// use rand::SeedableRng;
/// let noise = RandomGaussianNoise { prob: 1.0, ..Default::default() };
/// let p = noise.sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0), 1);
/// let y = noise.apply(&p, Tensor::<5>::zeros([1, 1, 8, 8, 8], &Device::flex()))?;
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

/// The noise drawn for one sample: its distribution and the seed of its values.
///
/// ```
/// let s = medburn_augment::NoiseSample { mean: 0.0, std: 1.0, seed: 42 };
/// assert_eq!(s.values(16)?, s.values(16)?);
/// # Ok::<(), medburn_augment::AugmentError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct NoiseSample {
    /// Mean of the noise.
    pub mean: f64,
    /// Standard deviation drawn for this sample.
    pub std: f64,
    /// Seed of the ChaCha8 stream the values come from.
    pub seed: u64,
}

impl NoiseSample {
    /// The first `len` noise values (f32, the sample's voxels in memory order). Fails on a
    /// negative or non-finite `std` or a non-finite `mean`.
    ///
    /// ```
    /// let s = medburn_augment::NoiseSample { mean: 1.0, std: 0.0, seed: 0 };
    /// assert_eq!(s.values(3)?, vec![1.0; 3]);
    /// # Ok::<(), medburn_augment::AugmentError>(())
    /// ```
    pub fn values(&self, len: usize) -> Result<Vec<f32>> {
        let mut out = vec![0.0; len];
        self.fill(&mut out)?;
        Ok(out)
    }

    fn fill(&self, out: &mut [f32]) -> Result<()> {
        let normal = Normal::new(self.mean as f32, self.std as f32)
            .ok()
            .filter(|_| self.mean.is_finite())
            .ok_or_else(|| AugmentError::Params(format!("noise {self:?} is not a distribution")))?;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        out.iter_mut().for_each(|v| *v = normal.sample(&mut rng));
        Ok(())
    }
}

/// The noise drawn for a batch: `None` where a sample is left alone.
///
/// ```
/// let p = medburn_augment::NoiseParams { samples: vec![None] };
/// assert_eq!(p.batch(), 1);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NoiseParams {
    /// One entry per sample of the batch.
    pub samples: Vec<Option<NoiseSample>>,
}

impl NoiseParams {
    /// Samples the params were drawn for.
    ///
    /// ```
    /// assert_eq!(medburn_augment::NoiseParams::default().batch(), 0);
    /// ```
    pub fn batch(&self) -> usize {
        self.samples.len()
    }
}

impl RandomGaussianNoise {
    /// Fails on a probability outside [0, 1], a negative or non-finite `std` or a non-finite
    /// `mean`.
    ///
    /// ```
    /// let n = medburn_augment::RandomGaussianNoise { std: -1.0, ..Default::default() };
    /// assert!(n.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        check_prob("noise.prob", self.prob)?;
        if !(self.mean.is_finite() && self.std.is_finite() && self.std >= 0.0) {
            return Err(AugmentError::Config(format!(
                "noise mean = {}, std = {} need finite values and std >= 0",
                self.mean, self.std
            )));
        }
        Ok(())
    }

    /// Draws the noise of a batch: per sample the coin, the std and a 64-bit seed, whatever the
    /// outcome. The voxel values come later from the seed, so the training RNG advances by the
    /// same amount whatever the patch size.
    ///
    /// ```
    /// use rand::SeedableRng;
    /// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    /// let n = medburn_augment::RandomGaussianNoise { prob: 1.0, mean: 0.0, std: 0.1 };
    /// assert!(n.sample(&mut rng, 2).samples.iter().all(|s| s.unwrap().std <= 0.1));
    /// ```
    pub fn sample(&self, rng: &mut (impl Rng + ?Sized), batch: usize) -> NoiseParams {
        let samples = (0..batch)
            .map(|_| {
                let on = chance(rng, self.prob);
                let std = uniform(rng, 0.0, self.std);
                let seed = rng.next_u64();
                on.then_some(NoiseSample {
                    mean: self.mean,
                    std,
                    seed,
                })
            })
            .collect();
        NoiseParams { samples }
    }

    /// Adds drawn noise to `image` `[N, C, D, H, W]`: generated on the host, one upload for
    /// the batch. When no sample gets noise the image comes back untouched, without an upload.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_augment::{NoiseParams, NoiseSample, RandomGaussianNoise};
    /// let p = NoiseParams { samples: vec![Some(NoiseSample { mean: 2.0, std: 0.0, seed: 0 })] };
    /// let y = RandomGaussianNoise::default().apply(&p, Tensor::<5>::zeros([1, 1, 2, 2, 2], &Device::flex()))?;
    /// assert_eq!(y.sum().into_scalar::<f32>(), 16.0);
    /// # Ok::<(), medburn_augment::AugmentError>(())
    /// ```
    pub fn apply(&self, params: &NoiseParams, image: Tensor<5>) -> Result<Tensor<5>> {
        let dims = image.dims();
        check_pair(dims, None)?;
        check_batch("noise", params.batch(), dims[0])?;
        if params.samples.iter().all(Option::is_none) {
            return Ok(image);
        }
        let per_sample = dims[1..].iter().product::<usize>();
        let mut host = vec![0.0f32; dims[0] * per_sample];
        for (s, out) in params.samples.iter().zip(host.chunks_mut(per_sample)) {
            if let Some(s) = s {
                s.fill(out)?;
            }
        }
        let noise = Tensor::<5>::from_data(
            TensorData::new(host, dims),
            (&image.device(), image.dtype()),
        );
        Ok(image + noise)
    }
}
