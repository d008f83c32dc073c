//! MR-like tissue intensities of the three channels: T1-, T2- and FLAIR-weighted.

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::Tissue;

/// Names of the image channels, in channel order, as written in `dataset.json`.
///
/// ```
/// assert_eq!(medburn_datasets::synth::CHANNEL_NAMES, ["T1", "T2", "FLAIR"]);
/// ```
pub const CHANNEL_NAMES: [&str; 3] = ["T1", "T2", "FLAIR"];

/// Relative intensities `[T1, T2, FLAIR]` per tissue, white matter in T1 near 1.
///
/// T1: scalp fat brightest, then WM > GM > lesion > CSF, bone dark, marrow fat bright.
/// T2: CSF brightest, lesion bright, GM > WM. FLAIR: CSF suppressed, lesion brightest,
/// GM slightly above WM.
const REFERENCE: [[f64; 3]; Tissue::COUNT] = [
    [0.0, 0.0, 0.0],    // air
    [1.05, 0.60, 0.70], // scalp (fat)
    [0.06, 0.05, 0.05], // skull (cortical bone)
    [0.75, 0.40, 0.45], // marrow (fatty)
    [0.22, 1.00, 0.06], // CSF
    [0.58, 0.62, 0.60], // grey matter
    [0.88, 0.45, 0.45], // white matter
    [0.45, 0.90, 1.00], // lesion
];

/// One case's tissue intensities: `values[tissue][channel] * gain[channel]`.
///
/// ```
/// use medburn_datasets::synth::{Contrast, Tissue};
/// let c = Contrast::reference();
/// let (wm, gm, csf) = (Tissue::WhiteMatter, Tissue::GreyMatter, Tissue::Csf);
/// assert!(c.intensity(wm, 0) > c.intensity(gm, 0) && c.intensity(gm, 0) > c.intensity(csf, 0));
/// assert!(c.intensity(csf, 1) > c.intensity(gm, 1));
/// assert!(c.intensity(Tissue::Lesion, 2) > c.intensity(wm, 2));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contrast {
    /// Relative intensity per tissue (index: [`Tissue`] code) and channel.
    pub values: [[f64; 3]; Tissue::COUNT],
    /// Scanner gain per channel (arbitrary units).
    pub gain: [f64; 3],
}

impl Contrast {
    /// The reference table with unit gains.
    ///
    /// ```
    /// assert_eq!(medburn_datasets::synth::Contrast::reference().gain, [1.0; 3]);
    /// ```
    pub fn reference() -> Contrast {
        Contrast {
            values: REFERENCE,
            gain: [1.0; 3],
        }
    }

    /// The reference table with each value scaled by a factor in `1 +- jitter`
    /// and each channel by a gain in 600..1400 (MR intensities have no unit).
    /// With `jitter <= 0.08` every ordering named in [`Contrast`] still holds.
    ///
    /// ```
    /// use medburn_datasets::synth::{Contrast, Tissue};
    /// use rand::SeedableRng;
    /// let c = Contrast::sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0), 0.08);
    /// assert!(c.intensity(Tissue::WhiteMatter, 0) > c.intensity(Tissue::GreyMatter, 0));
    /// assert_eq!(c.intensity(Tissue::Air, 1), 0.0);
    /// ```
    pub fn sample(rng: &mut impl Rng, jitter: f64) -> Contrast {
        let j = jitter.clamp(0.0, 0.5);
        let mut values = REFERENCE;
        for row in values.iter_mut() {
            for v in row.iter_mut() {
                if j > 0.0 {
                    *v *= 1.0 + rng.random_range(-j..=j);
                }
            }
        }
        let gain = [0, 1, 2].map(|_| rng.random_range(600.0..1400.0));
        Contrast { values, gain }
    }

    /// The contrast of a brain of age fraction `age` (0 at 20 years, 1 at 85; see
    /// [`super::Participant::age_fraction`]): white matter loses T1 signal towards grey matter
    /// (10% at 85, the grey/white contrast falling with age, Salat et al. 2009) and gains
    /// FLAIR signal (15%, diffuse white-matter changes).
    ///
    /// ```
    /// use medburn_datasets::synth::{Contrast, Tissue};
    /// let old = Contrast::reference().aged(1.0);
    /// assert!(old.intensity(Tissue::WhiteMatter, 0) < Contrast::reference().intensity(Tissue::WhiteMatter, 0));
    /// assert_eq!(Contrast::reference().aged(0.0), Contrast::reference());
    /// ```
    pub fn aged(mut self, age: f64) -> Contrast {
        let wm = &mut self.values[Tissue::WhiteMatter as usize];
        wm[0] *= 1.0 - 0.10 * age;
        wm[2] *= 1.0 + 0.15 * age;
        self
    }

    /// The noise-free intensity of `tissue` in channel `channel` (0 T1, 1 T2, 2 FLAIR).
    ///
    /// # Panics
    /// If `channel > 2`.
    ///
    /// ```
    /// use medburn_datasets::synth::{Contrast, Tissue};
    /// assert_eq!(Contrast::reference().intensity(Tissue::Csf, 1), 1.0);
    /// ```
    pub fn intensity(&self, tissue: Tissue, channel: usize) -> f64 {
        self.values[tissue as usize][channel] * self.gain[channel]
    }

    /// `[T1, T2, FLAIR]` of every tissue as f32, ready for rendering.
    ///
    /// ```
    /// let t = medburn_datasets::synth::Contrast::reference().table();
    /// assert_eq!(t[0], [0.0; 3]);
    /// ```
    pub fn table(&self) -> [[f32; 3]; Tissue::COUNT] {
        let mut t = [[0.0f32; 3]; Tissue::COUNT];
        for (tissue, row) in t.iter_mut().enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                *v = (self.values[tissue][c] * self.gain[c]) as f32;
            }
        }
        t
    }
}
