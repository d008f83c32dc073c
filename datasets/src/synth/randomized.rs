//! Domain randomization in the spirit of SynthSeg (Billot et al., 2023): for each case and
//! channel every tissue's mean and spread are drawn from wide ranges, so the intensity order of
//! tissues changes from case to case and intensity alone no longer decides the label; smooth
//! random texture inside tissues, a random acquisition resolution (a Gaussian blur of the
//! rendered volume whose FWHM is a multiple of the grid spacing per axis), and a share of
//! skull-stripped cases (no scalp, skull or marrow: background right at the cortex). Partial
//! volume, bias field and noise are rendered as in the realistic mode.
//!
//! Parameters are drawn here ([`RandomizedParams::sample`]) apart from their application
//! ([`super::render`]).

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::anatomy::{random_unit, Wave};
use super::{uniform, Contrast, Tissue};

/// How a case's intensities are made.
///
/// ```
/// use medburn_datasets::synth::ContrastMode;
/// assert_eq!(ContrastMode::default(), ContrastMode::Realistic);
/// assert_eq!(serde_json::from_str::<ContrastMode>("\"randomized\"")?, ContrastMode::Randomized);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContrastMode {
    /// T1-, T2- and FLAIR-like tissue intensities, jittered a little ([`Contrast::sample`]).
    #[default]
    Realistic,
    /// Every tissue's mean and spread drawn per case and channel ([`Randomization`]).
    Randomized,
}

/// The ranges the randomized mode draws from (each `[low, high]`, uniform). Intensities are
/// fractions of the channel's gain (600-1400, as in the realistic mode).
///
/// ```
/// let r = medburn_datasets::synth::Randomization::default();
/// assert_eq!(r.mean, [0.05, 1.0]);
/// assert!(r.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Randomization {
    /// Each tissue's mean intensity, per channel (air's stays below 0.05: MR background is dark).
    pub mean: [f64; 2],
    /// Each tissue's within-tissue standard deviation (voxel to voxel), per channel.
    pub spread: [f64; 2],
    /// Amplitude of the smooth multiplicative texture inside tissues (its log), per channel.
    pub texture: [f64; 2],
    /// Wavelength of the texture's waves, mm.
    pub texture_wavelength_mm: [f64; 2],
    /// FWHM of the acquisition's blur along each axis, as a multiple of the grid spacing
    /// (below 1: no blur beyond the voxel's own partial volume).
    pub blur: [f64; 2],
    /// Share of skull-stripped cases.
    pub skull_stripped: f64,
}

impl Default for Randomization {
    fn default() -> Self {
        Randomization {
            mean: [0.05, 1.0],
            spread: [0.0, 0.06],
            texture: [0.0, 0.15],
            texture_wavelength_mm: [8.0, 40.0],
            blur: [0.5, 2.5],
            skull_stripped: 0.3,
        }
    }
}

impl Randomization {
    /// Checks every range, with a message naming the field.
    ///
    /// ```
    /// let bad = medburn_datasets::synth::Randomization { blur: [3.0, 1.0], ..Default::default() };
    /// assert!(bad.validate().unwrap_err().contains("blur"));
    /// ```
    pub fn validate(&self) -> Result<(), String> {
        for (name, [lo, hi], max) in [
            ("mean", self.mean, 10.0),
            ("spread", self.spread, 1.0),
            ("texture", self.texture, 1.0),
            ("texture_wavelength_mm", self.texture_wavelength_mm, 1e4),
            ("blur", self.blur, 8.0),
        ] {
            if !(lo.is_finite() && hi.is_finite() && lo >= 0.0 && hi >= lo && hi <= max) {
                return Err(format!(
                    "randomization.{name} [{lo}, {hi}] must be increasing, in 0 to {max}"
                ));
            }
        }
        if self.texture_wavelength_mm[0] <= 0.0 {
            return Err("randomization.texture_wavelength_mm must be positive".into());
        }
        if !(0.0..=1.0).contains(&self.skull_stripped) {
            return Err(format!(
                "randomization.skull_stripped {} must be in [0, 1]",
                self.skull_stripped
            ));
        }
        Ok(())
    }
}

/// The largest mean intensity of air (a fraction of the gain).
const AIR_MEAN: f64 = 0.05;

/// Waves whose sum is the log of a channel's texture multiplier.
const TEXTURE_WAVES: usize = 6;

/// What the randomized mode drew for one case, beside its [`Contrast`].
///
/// ```
/// use medburn_datasets::synth::{RandomizedParams, Randomization};
/// use rand::SeedableRng;
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
/// let (contrast, p) = RandomizedParams::sample(&mut rng, &Randomization::default());
/// assert!(p.blur_fwhm.iter().all(|&b| (0.5..=2.5).contains(&b)));
/// assert_eq!(contrast.gain.len(), 3);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RandomizedParams {
    /// Within-tissue standard deviation per tissue and channel, in image units.
    pub spread: [[f64; 3]; Tissue::COUNT],
    /// Per channel, the waves of the texture's log.
    pub texture: [Vec<Wave>; 3],
    /// FWHM of the blur along i, j, k, in voxels.
    pub blur_fwhm: [f64; 3],
    /// Scalp, skull and marrow rendered as air.
    pub skull_stripped: bool,
}

impl RandomizedParams {
    /// Draws a case's contrast (every tissue's mean per channel, times a gain) and the rest.
    pub fn sample(rng: &mut impl Rng, r: &Randomization) -> (Contrast, RandomizedParams) {
        let gain = [0, 1, 2].map(|_| rng.random_range(600.0..1400.0));
        let mut values = [[0.0; 3]; Tissue::COUNT];
        let mut spread = [[0.0; 3]; Tissue::COUNT];
        for t in 0..Tissue::COUNT {
            for c in 0..3 {
                // Air stays dark, as in every MR image: the scanner's noise is its texture.
                let (mean, spread_range) = match t == Tissue::Air as usize {
                    true => ([0.0, AIR_MEAN.min(r.mean[1])], [0.0, 0.0]),
                    false => (r.mean, r.spread),
                };
                values[t][c] = uniform(rng, mean);
                spread[t][c] = uniform(rng, spread_range) * gain[c];
            }
        }
        let texture = [0, 1, 2].map(|_| {
            let amplitude = uniform(rng, r.texture) / (TEXTURE_WAVES as f64).sqrt();
            (0..TEXTURE_WAVES)
                .map(|_| {
                    let wavelength = uniform(rng, r.texture_wavelength_mm);
                    let k = random_unit(rng).map(|v| v * std::f64::consts::TAU / wavelength);
                    Wave {
                        k,
                        phase: rng.random_range(0.0..std::f64::consts::TAU),
                        amplitude,
                    }
                })
                .collect()
        });
        let blur_fwhm = [0, 1, 2].map(|_| uniform(rng, r.blur));
        let skull_stripped = rng.random_bool(r.skull_stripped.clamp(0.0, 1.0));
        (
            Contrast { values, gain },
            RandomizedParams {
                spread,
                texture,
                blur_fwhm,
                skull_stripped,
            },
        )
    }

    /// The texture multiplier of channel `c` at world point `p`.
    pub fn texture_at(&self, c: usize, p: [f64; 3]) -> f64 {
        self.texture[c]
            .iter()
            .map(|w| w.value(p))
            .sum::<f64>()
            .exp()
    }

    /// The tissue whose intensities a tissue is rendered with: scalp, skull and marrow as air
    /// in a skull-stripped case.
    pub fn rendered_as(&self, t: Tissue) -> Tissue {
        match t {
            Tissue::Scalp | Tissue::Skull | Tissue::Marrow if self.skull_stripped => Tissue::Air,
            t => t,
        }
    }
}

/// Blurs `values` (`[k][j][i]`, i fastest, of `size` = `[ni, nj, nk]`) along each axis with a
/// Gaussian of FWHM `fwhm[axis]` voxels (none below 0.5), edges replicated.
///
/// ```
/// let mut v = vec![0f32; 27];
/// v[13] = 1.0;
/// medburn_datasets::synth::blur_volume(&mut v, [3, 3, 3], [2.0; 3]);
/// assert!((v.iter().sum::<f32>() - 1.0).abs() < 0.2 && v[13] < 1.0);
/// ```
pub fn blur_volume(values: &mut [f32], size: [usize; 3], fwhm: [f64; 3]) {
    use rayon::prelude::*;
    let [ni, nj, nk] = size;
    let strides = [1, ni, ni * nj];
    for axis in 0..3 {
        let sigma = fwhm[axis] / (8.0 * 2f64.ln()).sqrt();
        if fwhm[axis] < 0.5 || size[axis] < 2 {
            continue;
        }
        let radius = (3.0 * sigma).ceil() as isize;
        let kernel: Vec<f64> = (-radius..=radius)
            .map(|x| (-(x * x) as f64 / (2.0 * sigma * sigma)).exp())
            .collect();
        let total: f64 = kernel.iter().sum();
        let kernel: Vec<f32> = kernel.iter().map(|w| (w / total) as f32).collect();
        let n = size[axis];
        let stride = strides[axis];
        // Lines along `axis`, one per voxel of the other two axes, done in parallel by slab.
        let source = values.to_vec();
        let lines: Vec<usize> = (0..ni * nj * nk)
            .filter(|&idx| (idx / stride) % n == 0)
            .collect();
        let results: Vec<(usize, Vec<f32>)> = lines
            .par_iter()
            .map(|&start| {
                let line: Vec<f32> = (0..n).map(|t| source[start + t * stride]).collect();
                let out = (0..n as isize)
                    .map(|t| {
                        kernel
                            .iter()
                            .enumerate()
                            .map(|(q, w)| {
                                let s = (t + q as isize - radius).clamp(0, n as isize - 1);
                                w * line[s as usize]
                            })
                            .sum()
                    })
                    .collect();
                (start, out)
            })
            .collect();
        for (start, out) in results {
            for (t, v) in out.into_iter().enumerate() {
                values[start + t * stride] = v;
            }
        }
    }
}
