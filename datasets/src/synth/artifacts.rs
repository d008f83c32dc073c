//! What the scanner adds: a smooth multiplicative bias field, Rician noise, and
//! partial volume (how many sub-samples per voxel the renderer averages).

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::anatomy::sub;
use super::{uniform, SynthConfig};

/// A smooth multiplicative intensity inhomogeneity: `exp(poly(x))` with `poly`
/// a quadratic polynomial of `x = (p - centre) / scale_mm` without constant term.
///
/// ```
/// use medburn_datasets::synth::BiasField;
/// let flat = BiasField { centre: [0.0; 3], scale_mm: 100.0, coefficients: [0.0; 9] };
/// assert_eq!(flat.at([10.0, 20.0, 30.0]), 1.0);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BiasField {
    /// World point (LPS, mm) where the polynomial's variables are zero.
    pub centre: [f64; 3],
    /// Length (mm) that maps to 1 in the polynomial's variables.
    pub scale_mm: f64,
    /// Coefficients of x, y, z, x^2, y^2, z^2, xy, yz, zx.
    pub coefficients: [f64; 9],
}

impl BiasField {
    /// A random field around `centre` whose log is at most `amplitude` in magnitude
    /// over the cube of half-side `scale_mm` (so `amplitude = 0.2` gives about +-20%).
    ///
    /// ```
    /// use medburn_datasets::synth::BiasField;
    /// use rand::SeedableRng;
    /// let b = BiasField::sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(1), [0.0; 3], 100.0, 0.2);
    /// for p in [[100.0, 100.0, 100.0], [-100.0, 0.0, 50.0], [0.0; 3]] {
    ///     let v = b.at(p);
    ///     assert!(v >= (-0.2f64).exp() - 1e-9 && v <= 0.2f64.exp() + 1e-9);
    /// }
    /// ```
    pub fn sample(
        rng: &mut impl Rng,
        centre: [f64; 3],
        scale_mm: f64,
        amplitude: f64,
    ) -> BiasField {
        let mut b = BiasField {
            centre,
            scale_mm,
            coefficients: [0, 1, 2, 3, 4, 5, 6, 7, 8].map(|_| rng.random_range(-1.0..1.0)),
        };
        // The largest |poly| on a 5^3 lattice over the cube (a quadratic peaks there or on its faces).
        let mut worst = 0.0f64;
        for a in 0..5 {
            for bb in 0..5 {
                for c in 0..5 {
                    let x = [a, bb, c].map(|v| -1.0 + 0.5 * v as f64);
                    worst = worst.max(b.poly(x).abs());
                }
            }
        }
        let s = if worst > 0.0 { amplitude / worst } else { 0.0 };
        for c in b.coefficients.iter_mut() {
            *c *= s;
        }
        b
    }

    fn poly(&self, x: [f64; 3]) -> f64 {
        let c = &self.coefficients;
        c[0] * x[0]
            + c[1] * x[1]
            + c[2] * x[2]
            + c[3] * x[0] * x[0]
            + c[4] * x[1] * x[1]
            + c[5] * x[2] * x[2]
            + c[6] * x[0] * x[1]
            + c[7] * x[1] * x[2]
            + c[8] * x[2] * x[0]
    }

    /// The multiplier at world point `p`.
    ///
    /// ```
    /// use medburn_datasets::synth::BiasField;
    /// let b = BiasField { centre: [0.0; 3], scale_mm: 100.0, coefficients: [0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0] };
    /// assert!((b.at([100.0, 0.0, 0.0]) - 0.1f64.exp()).abs() < 1e-12);
    /// ```
    pub fn at(&self, p: [f64; 3]) -> f64 {
        let d = sub(p, self.centre);
        let x = d.map(|v| v / self.scale_mm);
        self.poly(x).exp()
    }
}

/// The artifacts of one case.
///
/// ```
/// use medburn_datasets::synth::{Artifacts, SynthConfig};
/// use rand::SeedableRng;
/// let a = Artifacts::sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(2), &SynthConfig::default(), [0.0; 3], [800.0; 3]);
/// assert!(a.noise_sigma.iter().all(|&s| s > 0.0 && s < 0.1 * 800.0));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Artifacts {
    /// Bias field per channel.
    pub bias: [BiasField; 3],
    /// Standard deviation of the complex Gaussian noise per channel, in image units.
    pub noise_sigma: [f64; 3],
    /// Seed of the noise (each slice draws from its own ChaCha8 stream).
    pub noise_seed: u64,
}

impl Artifacts {
    /// Draws bias fields (log-amplitude in `config.bias`) centred on `centre`, and
    /// noise levels (a fraction in `config.noise` of each channel's white-matter
    /// intensity `white_matter`).
    ///
    /// ```
    /// use medburn_datasets::synth::{Artifacts, SynthConfig};
    /// use rand::SeedableRng;
    /// let cfg = SynthConfig { noise: [0.0, 0.0], ..SynthConfig::default() };
    /// let a = Artifacts::sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(2), &cfg, [0.0; 3], [1.0; 3]);
    /// assert_eq!(a.noise_sigma, [0.0; 3]);
    /// ```
    pub fn sample(
        rng: &mut impl Rng,
        config: &SynthConfig,
        centre: [f64; 3],
        white_matter: [f64; 3],
    ) -> Artifacts {
        let bias = [0, 1, 2].map(|_| {
            let amp = uniform(rng, config.bias);
            BiasField::sample(rng, centre, 100.0, amp)
        });
        let noise_sigma = [0, 1, 2].map(|c| uniform(rng, config.noise) * white_matter[c]);
        Artifacts {
            bias,
            noise_sigma,
            noise_seed: rng.random(),
        }
    }
}

/// Rician noise: the magnitude of `signal + sigma * (n1 + i n2)` for standard normals `n1`, `n2`.
///
/// ```
/// assert_eq!(medburn_datasets::synth::rician(2.0, 1.0, 1.0, 4.0), 5.0);
/// assert_eq!(medburn_datasets::synth::rician(2.0, 0.0, 1.0, 1.0), 2.0);
/// ```
pub fn rician(signal: f64, sigma: f64, n1: f64, n2: f64) -> f64 {
    let re = signal + sigma * n1;
    let im = sigma * n2;
    (re * re + im * im).sqrt()
}

/// Sub-samples per voxel along i, j, k for partial volume: 2 along the finest
/// axis, more along coarser ones (about two per finest spacing), at most 4.
///
/// ```
/// assert_eq!(medburn_datasets::synth::supersampling([1.0, 1.0, 2.5]), [2, 2, 4]);
/// ```
pub fn supersampling(spacing: [f64; 3]) -> [usize; 3] {
    let fine = spacing[0].min(spacing[1]).min(spacing[2]);
    spacing.map(|s| ((2.0 * s / fine).round() as usize).clamp(2, 4))
}
