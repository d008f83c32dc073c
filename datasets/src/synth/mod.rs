//! Synthetic brain MR data: a random head phantom per case, three MR-like channels
//! (T1, T2, FLAIR), a label map (0 background, 1 CSF, 2 grey matter, 3 white matter,
//! 4 lesion) and a participant (age, sex) whose age and sex shape the anatomy as in real
//! populations ([`Participant`]), written in the Medical Segmentation Decathlon layout
//! with a `participants.csv` (BIDS columns).
//!
//! The anatomy ([`Anatomy`]) is a function of the physical (LPS, mm) position, and
//! each case samples it on its own grid (random anisotropic spacing, any of the 48
//! orientation codes, a few degrees oblique, shifted origin), so labels are right
//! whatever the grid and lie exactly on their image's grid. Parameters are drawn
//! apart from their application (docs/architecture.md): [`sample_case`] draws a
//! [`CaseParams`], [`render`] applies it; [`generate_case`] does both.
//!
//! Every case is reproducible on its own: case `k` of seed `s` draws from ChaCha8
//! stream `k` of the generator seeded with `s`, so it is the same whatever the
//! number of cases, and different seeds never share streams.
//!
//! ```
//! use medburn_datasets::synth::{generate_case, SynthConfig};
//!
//! let cfg = SynthConfig { size: 24, seed: 3, ..SynthConfig::default() };
//! let case = generate_case(&cfg, 0)?;
//! assert_eq!(case.images.size(), vec![24, 24, 24, 3]);
//! assert_eq!(case.label.geometry, case.images.geometry);
//! assert_eq!(case.images.geometry.orientation(), case.params.orientation);
//! # Ok::<(), medburn_datasets::synth::SynthError>(())
//! ```

mod anatomy;
mod artifacts;
mod contrast;
mod geometry;
mod msd;
mod participant;
mod randomized;
pub mod registration;
mod render;

use std::path::PathBuf;

use medburn_core::{Geometry, GeometryError, Orientation};
use medburn_io::{IoError, IoErrorKind, Volume};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use anatomy::{Anatomy, Blob, SulcusField, Tissue, Wave, LABEL_NAMES};
pub use artifacts::{rician, supersampling, Artifacts, BiasField};
pub use contrast::{Contrast, CHANNEL_NAMES};
pub use geometry::{centred_grid, sample_geometry};
pub use msd::{
    case_name, dataset_json, participants_csv, write_case, write_msd_dataset, MsdSummary,
};
pub use participant::{Participant, Sex};
pub use randomized::{blur_volume, ContrastMode, Randomization, RandomizedParams};
pub use render::{render, tissue_map};

/// What can go wrong making synthetic data.
///
/// ```
/// use medburn_datasets::synth::{SynthConfig, SynthError};
/// let bad = SynthConfig { size: 8, ..SynthConfig::default() };
/// assert!(matches!(bad.validate(), Err(SynthError::Config(_))));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// A configuration value is out of range.
    #[error("invalid synth configuration: {0}")]
    Config(String),
    /// A grid could not be made.
    #[error("invalid geometry: {0}")]
    Geometry(#[from] GeometryError),
    /// Writing a file failed.
    #[error(transparent)]
    Io(#[from] IoError),
    /// Something about the output folder.
    #[error("{}: {message}", path.display())]
    Output {
        /// The path concerned.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A bug: arrays of the wrong shape.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<IoErrorKind> for SynthError {
    fn from(e: IoErrorKind) -> Self {
        SynthError::Internal(e.to_string())
    }
}

/// How cases are drawn. Every field has a default (`#[serde(default)]`), so a
/// JSON file need name only what it changes. Ranges are `[low, high]`, drawn uniformly.
///
/// ```
/// use medburn_datasets::synth::SynthConfig;
/// let cfg: SynthConfig = serde_json::from_str(r#"{"size": 64, "lesion_count": [1, 3]}"#)?;
/// assert_eq!(cfg.size, 64);
/// assert_eq!(cfg.seed, 0);
/// assert!(cfg.validate().is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SynthConfig {
    /// Seed of the whole data set.
    pub seed: u64,
    /// Voxels along each axis (the grid is `size`^3), at least 16.
    pub size: usize,
    /// The field of view (mm) of the finest in-plane spacing: the nominal spacing is
    /// `field_of_view_mm / size`. The default 220 mm holds the whole head.
    pub field_of_view_mm: f64,
    /// In-plane (i, j) spacing as a factor of the nominal spacing.
    pub inplane_spacing_factor: [f64; 2],
    /// Slice (k) spacing as a ratio to the in-plane spacing.
    pub slice_spacing_ratio: [f64; 2],
    /// Orientation codes to choose from (e.g. "RAS", "PIL"); empty means all 48.
    pub orientations: Vec<String>,
    /// Largest oblique tilt of the grid, degrees (at most 30).
    pub max_oblique_deg: f64,
    /// Largest shift of the grid centre from the head centre, mm per axis.
    pub grid_shift_mm: f64,
    /// Largest distance of the head centre from the world origin, mm per axis.
    pub head_position_mm: f64,
    /// Largest rotation of the head in the world, degrees.
    pub head_tilt_deg: f64,
    /// Lesions per case (inclusive range).
    pub lesion_count: [u32; 2],
    /// Typical lesion radius, mm.
    pub lesion_radius_mm: [f64; 2],
    /// Relative jitter of each tissue intensity per case (at most 0.08 keeps the contrasts' order).
    pub contrast_jitter: f64,
    /// Bias field strength: largest |log| of the multiplier (0.2 is about +-20%).
    pub bias: [f64; 2],
    /// Rician noise sigma as a fraction of the white-matter intensity of each channel.
    pub noise: [f64; 2],
    /// Participants' ages in years, drawn uniformly.
    pub age_years: [f64; 2],
    /// The share of male participants.
    pub male_fraction: f64,
    /// Realistic T1/T2/FLAIR-like contrasts, or every tissue's intensities drawn per case
    /// (domain randomization, [`Randomization`]).
    pub contrast: ContrastMode,
    /// The ranges of the randomized mode.
    pub randomization: Randomization,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            seed: 0,
            size: 96,
            field_of_view_mm: 220.0,
            inplane_spacing_factor: [1.0, 1.2],
            slice_spacing_ratio: [1.0, 2.0],
            orientations: Vec::new(),
            max_oblique_deg: 5.0,
            grid_shift_mm: 8.0,
            head_position_mm: 20.0,
            head_tilt_deg: 8.0,
            lesion_count: [0, 5],
            lesion_radius_mm: [2.5, 8.0],
            contrast_jitter: 0.06,
            bias: [0.05, 0.2],
            noise: [0.01, 0.04],
            age_years: [20.0, 85.0],
            male_fraction: 0.5,
            contrast: ContrastMode::Realistic,
            randomization: Randomization::default(),
        }
    }
}

impl SynthConfig {
    /// Checks every value, with a message naming the field.
    ///
    /// ```
    /// use medburn_datasets::synth::SynthConfig;
    /// let bad = SynthConfig { orientations: vec!["LRS".into()], ..SynthConfig::default() };
    /// assert!(bad.validate().unwrap_err().to_string().contains("LRS"));
    /// ```
    pub fn validate(&self) -> Result<(), SynthError> {
        let bad = |m: String| Err(SynthError::Config(m));
        if !(16..=1024).contains(&self.size) {
            return bad(format!("size {} is out of range (16 to 1024)", self.size));
        }
        if !(self.field_of_view_mm.is_finite() && self.field_of_view_mm > 0.0) {
            return bad(format!(
                "field_of_view_mm {} must be positive",
                self.field_of_view_mm
            ));
        }
        let ranges = [
            ("inplane_spacing_factor", self.inplane_spacing_factor, 0.01),
            ("slice_spacing_ratio", self.slice_spacing_ratio, 0.01),
            ("lesion_radius_mm", self.lesion_radius_mm, 0.01),
            ("bias", self.bias, 0.0),
            ("noise", self.noise, 0.0),
            ("age_years", self.age_years, 0.0),
        ];
        for (name, [lo, hi], min) in ranges {
            if !(lo.is_finite() && hi.is_finite() && lo >= min && hi >= lo) {
                return bad(format!(
                    "{name} [{lo}, {hi}] must be finite, at least {min} and in increasing order"
                ));
            }
        }
        if self.bias[1] > 1.0 || self.noise[1] > 1.0 {
            return bad("bias and noise must be at most 1".into());
        }
        if self.age_years[1] > 150.0 {
            return bad(format!(
                "age_years {:?} must be at most 150",
                self.age_years
            ));
        }
        if !(0.0..=1.0).contains(&self.male_fraction) {
            return bad(format!(
                "male_fraction {} must be in [0, 1]",
                self.male_fraction
            ));
        }
        let [lo, hi] = self.lesion_count;
        if lo > hi || hi > 50 {
            return bad(format!(
                "lesion_count [{lo}, {hi}] must be increasing and at most 50"
            ));
        }
        for (name, v, max) in [
            ("max_oblique_deg", self.max_oblique_deg, 30.0),
            ("grid_shift_mm", self.grid_shift_mm, 1000.0),
            ("head_position_mm", self.head_position_mm, 1e5),
            ("head_tilt_deg", self.head_tilt_deg, 180.0),
            ("contrast_jitter", self.contrast_jitter, 0.5),
        ] {
            if !(v.is_finite() && (0.0..=max).contains(&v)) {
                return bad(format!("{name} {v} is out of range (0 to {max})"));
            }
        }
        self.orientation_choices()?;
        self.randomization.validate().map_err(SynthError::Config)?;
        Ok(())
    }

    /// The orientation codes cases choose from: `orientations` parsed, or all 48.
    ///
    /// ```
    /// use medburn_datasets::synth::SynthConfig;
    /// assert_eq!(SynthConfig::default().orientation_choices()?.len(), 48);
    /// # Ok::<(), medburn_datasets::synth::SynthError>(())
    /// ```
    pub fn orientation_choices(&self) -> Result<Vec<Orientation>, SynthError> {
        if self.orientations.is_empty() {
            return Ok(Orientation::all());
        }
        self.orientations
            .iter()
            .map(|s| {
                s.parse::<Orientation>()
                    .map_err(|e| SynthError::Config(format!("orientations: {e}")))
            })
            .collect()
    }
}

/// Everything drawn for one case; [`render`] turns it into volumes.
///
/// ```
/// use medburn_datasets::synth::{sample_case, SynthConfig};
/// let p = sample_case(&SynthConfig::default(), 4)?;
/// assert_eq!(p.index, 4);
/// assert_eq!(p.geometry.size(), [96; 3]);
/// # Ok::<(), medburn_datasets::synth::SynthError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CaseParams {
    /// The case's index in the data set.
    pub index: usize,
    /// Who the case is (age, sex).
    pub participant: Participant,
    /// The head.
    pub anatomy: Anatomy,
    /// Tissue intensities.
    pub contrast: Contrast,
    /// Bias field and noise.
    pub artifacts: Artifacts,
    /// The grid of the images and the labels.
    pub geometry: Geometry,
    /// The orientation code chosen for the grid (`geometry.orientation()` equals it).
    pub orientation: Orientation,
    /// In the randomized mode, what was drawn beside the contrast.
    pub randomized: Option<RandomizedParams>,
}

/// One rendered case.
///
/// ```
/// use medburn_datasets::synth::{generate_case, SynthConfig};
/// let c = generate_case(&SynthConfig { size: 16, ..SynthConfig::default() }, 0)?;
/// assert_eq!(c.label.data.voxel_type(), medburn_io::VoxelType::U8);
/// assert_eq!(c.images.data.voxel_type(), medburn_io::VoxelType::F32);
/// # Ok::<(), medburn_datasets::synth::SynthError>(())
/// ```
#[derive(Debug, Clone)]
pub struct SynthCase {
    /// What was drawn.
    pub params: CaseParams,
    /// float32, 3 channels (T1, T2, FLAIR): shape `[3, k, j, i]`.
    pub images: Volume,
    /// uint8 labels 0..=4: shape `[1, k, j, i]`, same geometry as `images`.
    pub label: Volume,
}

/// The random generator of case `index`: ChaCha8 seeded with `seed`, stream `index`.
///
/// ```
/// use rand::Rng;
/// let a: u64 = medburn_datasets::synth::case_rng(1, 0).random();
/// let b: u64 = medburn_datasets::synth::case_rng(0, 1).random();
/// assert_ne!(a, b);
/// ```
pub fn case_rng(seed: u64, index: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index as u64);
    rng
}

/// Draws the parameters of case `index` (anatomy, contrast, artifacts, grid).
///
/// ```
/// use medburn_datasets::synth::{sample_case, SynthConfig};
/// let cfg = SynthConfig::default();
/// assert_eq!(sample_case(&cfg, 2)?, sample_case(&cfg, 2)?);
/// assert_ne!(sample_case(&cfg, 2)?, sample_case(&cfg, 3)?);
/// # Ok::<(), medburn_datasets::synth::SynthError>(())
/// ```
pub fn sample_case(config: &SynthConfig, index: usize) -> Result<CaseParams, SynthError> {
    config.validate()?;
    let participant = Participant::draw(config.seed, index, config.age_years, config.male_fraction);
    let mut rng = case_rng(config.seed, index);
    let anatomy = Anatomy::sample(&mut rng, config, &participant);
    let (contrast, randomized) = match config.contrast {
        ContrastMode::Realistic => (
            Contrast::sample(&mut rng, config.contrast_jitter).aged(participant.age_fraction()),
            None,
        ),
        ContrastMode::Randomized => {
            let (c, r) = RandomizedParams::sample(&mut rng, &config.randomization);
            (c, Some(r))
        }
    };
    // Noise relative to white matter; with random contrasts, to the middle of the range.
    let reference = [0, 1, 2].map(|c| match randomized {
        None => contrast.intensity(Tissue::WhiteMatter, c),
        Some(_) => 0.5 * contrast.gain[c],
    });
    let artifacts = Artifacts::sample(&mut rng, config, anatomy.centre, reference);
    let (geometry, orientation) = sample_geometry(&mut rng, config, anatomy.centre)?;
    Ok(CaseParams {
        index,
        participant,
        anatomy,
        contrast,
        artifacts,
        geometry,
        orientation,
        randomized,
    })
}

/// Draws and renders case `index`.
///
/// ```
/// use medburn_datasets::synth::{generate_case, SynthConfig};
/// let cfg = SynthConfig { size: 16, ..SynthConfig::default() };
/// let a = generate_case(&cfg, 1)?;
/// let b = generate_case(&cfg, 1)?;
/// assert_eq!(a.images.data, b.images.data);
/// # Ok::<(), medburn_datasets::synth::SynthError>(())
/// ```
pub fn generate_case(config: &SynthConfig, index: usize) -> Result<SynthCase, SynthError> {
    let params = sample_case(config, index)?;
    let (images, label) = render(&params)?;
    Ok(SynthCase {
        params,
        images,
        label,
    })
}

/// A uniform draw from `[lo, hi)`, or `lo` when the range is empty.
pub(crate) fn uniform(rng: &mut impl Rng, [lo, hi]: [f64; 2]) -> f64 {
    if hi > lo {
        rng.random_range(lo..hi)
    } else {
        lo
    }
}
