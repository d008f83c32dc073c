//! Random gamma (contrast) adjustment, as MONAI's `RandAdjustContrast`.

use burn::tensor::{Tensor, TensorData};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{check_batch, check_pair, check_prob, check_range, AugmentError, Result};
use crate::random::{chance, uniform};

/// MONAI's epsilon in `RandAdjustContrast`: keeps a constant image (range 0) finite.
///
/// ```
/// assert_eq!(medburn_augment::GAMMA_EPSILON, 1e-7);
/// ```
pub const GAMMA_EPSILON: f64 = 1e-7;

/// Random gamma, as MONAI's `RandAdjustContrast` (`invert_image=False`, `retain_stats=False`):
/// with probability `prob`, a sample (all its channels together) is rescaled to [0, 1] by its
/// own min and max, raised to a `gamma` drawn uniformly in `gamma`, and rescaled back:
///
/// `out = ((x - min) / (range + 1e-7))^gamma * range + min`, `range = max - min`.
///
/// Default: `prob` 0.3, `gamma` in [0.7, 1.5] (nnU-Net's range). Never touches labels.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_augment::{GammaParams, RandomGamma};
/// let x = Tensor::<1>::from_floats([0.0, 1.0, 4.0], &Device::flex()).reshape([1, 1, 1, 1, 3]);
/// let y = RandomGamma::default().apply(&GammaParams { gammas: vec![Some(0.5)] }, x)?;
/// let v = y.into_data().try_to_vec::<f32>().unwrap();
/// assert!((v[1] - 2.0).abs() < 1e-5); // sqrt(1/4) * 4
/// # Ok::<(), medburn_augment::AugmentError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomGamma {
    /// Probability that a sample is adjusted.
    pub prob: f64,
    /// Gamma range `(min, max)`; `min > 0`.
    pub gamma: (f64, f64),
}

impl Default for RandomGamma {
    fn default() -> Self {
        Self {
            prob: 0.3,
            gamma: (0.7, 1.5),
        }
    }
}

/// The gammas drawn for a batch: `None` where a sample is left alone.
///
/// ```
/// let p = medburn_augment::GammaParams { gammas: vec![Some(1.2), None] };
/// assert_eq!(p.batch(), 2);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GammaParams {
    /// One entry per sample of the batch.
    pub gammas: Vec<Option<f64>>,
}

impl GammaParams {
    /// Samples the params were drawn for.
    ///
    /// ```
    /// assert_eq!(medburn_augment::GammaParams::default().batch(), 0);
    /// ```
    pub fn batch(&self) -> usize {
        self.gammas.len()
    }
}

impl RandomGamma {
    /// Fails on a probability outside [0, 1] or a gamma range that is not `0 < min <= max`.
    ///
    /// ```
    /// assert!(medburn_augment::RandomGamma { prob: 0.5, gamma: (2.0, 1.0) }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        check_prob("gamma.prob", self.prob)?;
        check_range("gamma.gamma", self.gamma, true)
    }

    /// Draws the gammas of a batch: two values per sample (the coin, then gamma, as MONAI's
    /// `randomize`), whatever the outcome.
    ///
    /// ```
    /// use rand::SeedableRng;
    /// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    /// let g = medburn_augment::RandomGamma { prob: 1.0, gamma: (0.7, 1.5) };
    /// assert!(g.sample(&mut rng, 4).gammas.iter().all(|g| (0.7..1.5).contains(&g.unwrap())));
    /// ```
    pub fn sample(&self, rng: &mut (impl Rng + ?Sized), batch: usize) -> GammaParams {
        let gammas = (0..batch)
            .map(|_| {
                let on = chance(rng, self.prob);
                let g = uniform(rng, self.gamma.0, self.gamma.1);
                on.then_some(g)
            })
            .collect();
        GammaParams { gammas }
    }

    /// Applies drawn gammas to `image` `[N, C, D, H, W]` on its device; samples drawn `None`
    /// come back bit for bit.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_augment::{GammaParams, RandomGamma};
    /// let x = Tensor::<5>::ones([2, 1, 2, 2, 2], &Device::flex());
    /// let y = RandomGamma::default().apply(&GammaParams { gammas: vec![None, None] }, x.clone())?;
    /// assert!(y.equal(x).all().into_scalar::<bool>());
    /// # Ok::<(), medburn_augment::AugmentError>(())
    /// ```
    pub fn apply(&self, params: &GammaParams, image: Tensor<5>) -> Result<Tensor<5>> {
        let dims = image.dims();
        check_pair(dims, None)?;
        check_batch("gamma", params.batch(), dims[0])?;
        if let Some(g) = params.gammas.iter().flatten().find(|g| !g.is_finite()) {
            return Err(AugmentError::Params(format!("gamma {g} is not finite")));
        }
        if params.gammas.iter().all(Option::is_none) {
            return Ok(image);
        }
        let [n, c, d, h, w] = dims;
        let m = c * d * h * w;
        let (device, dtype) = (image.device(), image.dtype());
        let column = |v: Vec<f64>| {
            Tensor::<2>::from_data(TensorData::new(v, [n, 1]), (&device, dtype)).expand([n, m])
        };
        let gamma = column(params.gammas.iter().map(|g| g.unwrap_or(1.0)).collect());
        let on = column(
            params
                .gammas
                .iter()
                .map(|g| if g.is_some() { 1.0 } else { 0.0 })
                .collect(),
        )
        .greater_elem(0.5);
        let flat = image.reshape([n, m]);
        // Per sample over all channels, as MONAI (`img.min()`, `img.max()` of one sample).
        let min = flat.clone().min_dim(1).expand([n, m]);
        let range = flat.clone().max_dim(1).expand([n, m]) - min.clone();
        let unit = (flat.clone() - min.clone()) / range.clone().add_scalar(GAMMA_EPSILON);
        let adjusted = unit.powf(gamma) * range + min;
        // Untouched samples keep their exact values (gamma 1 would round).
        Ok(flat.mask_where(on, adjusted).reshape([n, c, d, h, w]))
    }
}
