//! Synthetic registration pairs (`medburn synth --task registration`): pairs of the same
//! subject under a known smooth diffeomorphic deformation plus an affine, with the truth saved
//! for a target registration error, and pairs of different subjects with their labels; the
//! moving image may have another contrast than the fixed one.
//!
//! # Same-subject pairs
//!
//! The fixed image is a synthetic case ([`super::generate_case`]) on its own grid. The truth is
//! a map `T` from a fixed-image point to the moving-image point showing the same anatomy (LPS,
//! mm; ITK's direction for a registration transform):
//!
//! ```text
//! T(x) = A(x + u(x))
//! ```
//!
//! `u` ([`SmoothDisplacement`]) is a sum of a few Gaussian-windowed sinusoids, a few mm, scaled
//! so that its gradient's norm is at most `max_displacement_gradient` < 1 everywhere: `x + u(x)`
//! is a diffeomorphism (Jacobian determinant at least `(1 - L)^3 > 0`). `A` is a random affine
//! (a rotation of a few degrees and a scaling of a few percent about the head centre, a
//! translation of a few mm). The moving image lives on its own grid (another spacing, axis
//! order and orientation, flipped axes, from [`super::sample_geometry`]), with its own bias field
//! and noise (another acquisition), and is rendered by evaluating the anatomy at `T^-1(y)` for
//! each moving voxel centre `y` (inverted by fixed-point iteration, checked for convergence:
//! [`TrueTransform::inverse`]). So `moving(T(x)) = fixed(x)` up to partial volume, bias and
//! noise: resampling the moving image through `T` onto the fixed grid gives back the fixed image.
//!
//! The truth is saved as ITK reads it: the displacement `u` sampled at the fixed grid's voxel
//! centres as a displacement-field NIfTI (float64 vectors in LPS mm, dims `[x, y, z, 1, 3]`,
//! intent code 1007 "vector", what `SimpleITK.WriteImage` writes for a vector image), and `A` as
//! an ITK `.tfm` affine. SimpleITK composes them as
//!
//! ```text
//! u = sitk.DisplacementFieldTransform(sitk.ReadImage("true_displacement.nii.gz", sitk.sitkVectorFloat64))
//! A = sitk.ReadTransform("true_affine.tfm")
//! T = sitk.CompositeTransform([A, u])   # applies u first: x -> A(x + u(x))
//! moving_on_fixed = sitk.Resample(moving, fixed, T, sitk.sitkLinear)
//! ```
//!
//! (tests/scripts/check_registration_pairs.py does that and measures the error.) At points
//! between voxel centres the field is interpolated; `true_landmarks.csv` holds exact pairs
//! `(x, T(x))` for about 50 points inside the brain, for a target registration error.
//!
//! # Different-subject pairs
//!
//! Two different cases, each on its own grid, with their labels; no truth.
//!
//! # Layout
//!
//! ```text
//! OUT/pairs.json                      every pair: kind, cases, contrasts, files, truth summary
//! OUT/pairs/pair_000/fixed.nii.gz     float32, one channel (the fixed contrast, T1 by default)
//!                   moving.nii.gz     float32, one channel (the fixed contrast, or T2 in a share)
//!                   fixed_label.nii.gz, moving_label.nii.gz    uint8, 0 bg 1 CSF 2 GM 3 WM 4 lesion
//!                   true_displacement.nii.gz   same-subject only: u on the fixed grid
//!                   true_affine.tfm            same-subject only: A (ITK AffineTransform_double_3_3)
//!                   true_landmarks.csv         same-subject only: fixed_x,fixed_y,fixed_z,moving_x,moving_y,moving_z
//! ```
//!
//! Pair `p` uses case `2p` as its fixed image (the same case as case `2p` of the segmentation
//! data set of the same seed and [`SynthConfig`]) and, for a different-subject pair, case
//! `2p + 1` as its moving image; its own draws (transform, moving grid, artifacts, landmarks)
//! come from ChaCha8 stream `2^63 + p` of the seed, so a pair is the same whatever the number of
//! pairs. Which pairs are same-subject and which have another contrast is spread evenly:
//! with fractions of 1/2, pairs 0, 2, 4... are same-subject, and every second pair of each kind,
//! starting with the second, has the other contrast.
//!
//! ```
//! use medburn_datasets::synth::registration::{generate_pair, PairKind, RegistrationConfig};
//! use medburn_datasets::synth::SynthConfig;
//!
//! let synth = SynthConfig { size: 24, ..SynthConfig::default() };
//! let pair = generate_pair(&synth, &RegistrationConfig::default(), 0)?;
//! assert_eq!(pair.params.kind, PairKind::SameSubject);
//! assert_ne!(pair.fixed.geometry, pair.moving.geometry);
//! let truth = pair.params.truth.as_ref().unwrap();
//! // Each landmark pair is (x, T(x)).
//! let (x, y) = pair.landmarks[0];
//! assert_eq!(truth.apply(x), y);
//! # Ok::<(), medburn_datasets::synth::SynthError>(())
//! ```

mod transform;
mod warped;

use std::fs;
use std::path::{Path, PathBuf};

use medburn_core::Geometry;
use medburn_io::{Volume, VoxelArray, WriteOptions};
use medburn_register::ItkAffine;
use ndarray::{ArrayD, Axis, IxDyn};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub use transform::{DisplacementTerm, Inverse, SmoothDisplacement, TrueTransform};
pub use warped::{render_warped, InverseReport};

use super::anatomy::norm;
use super::{
    render, sample_case, sample_geometry, Artifacts, CaseParams, SynthConfig, SynthError, Tissue,
    CHANNEL_NAMES, LABEL_NAMES,
};

/// How registration pairs are drawn (the cases themselves follow a [`SynthConfig`]). Every
/// field has a default (`#[serde(default)]`); ranges are `[low, high]`, drawn uniformly.
///
/// ```
/// use medburn_datasets::synth::registration::RegistrationConfig;
/// let cfg: RegistrationConfig = serde_json::from_str(r#"{"rotation_deg": 10}"#)?;
/// assert_eq!(cfg.rotation_deg, 10.0);
/// assert!(cfg.validate().is_ok());
/// let bad = RegistrationConfig { max_displacement_gradient: 1.0, ..cfg };
/// assert!(bad.validate().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistrationConfig {
    /// The share of same-subject pairs (the others are different-subject pairs).
    pub same_subject_fraction: f64,
    /// The share of pairs (of each kind) whose moving image has `other_channel`'s contrast.
    pub other_contrast_fraction: f64,
    /// The fixed images' channel (0 T1, 1 T2, 2 FLAIR).
    pub fixed_channel: usize,
    /// The other contrast's channel.
    pub other_channel: usize,
    /// Sinusoids in the displacement `u`.
    pub displacement_terms: usize,
    /// Amplitude of each sinusoid, mm (before the scaling that keeps `u` a contraction).
    pub displacement_mm: [f64; 2],
    /// Wavelength of each sinusoid, mm.
    pub displacement_wavelength_mm: [f64; 2],
    /// The largest norm of `grad u` allowed (below 1: the deformation is a diffeomorphism).
    pub max_displacement_gradient: f64,
    /// Largest rotation of the affine, degrees.
    pub rotation_deg: f64,
    /// Largest relative scaling of the affine per axis (0.05: +-5%).
    pub scaling: f64,
    /// Largest translation of the affine per axis, mm.
    pub translation_mm: f64,
    /// Landmarks written per same-subject pair.
    pub landmarks: usize,
}

impl Default for RegistrationConfig {
    fn default() -> Self {
        RegistrationConfig {
            same_subject_fraction: 0.5,
            other_contrast_fraction: 0.5,
            fixed_channel: 0,
            other_channel: 1,
            displacement_terms: 4,
            displacement_mm: [2.0, 4.0],
            displacement_wavelength_mm: [60.0, 110.0],
            max_displacement_gradient: 0.6,
            rotation_deg: 5.0,
            scaling: 0.05,
            translation_mm: 5.0,
            landmarks: 50,
        }
    }
}

impl RegistrationConfig {
    /// Checks every value, with a message naming the field.
    ///
    /// ```
    /// use medburn_datasets::synth::registration::RegistrationConfig;
    /// let bad = RegistrationConfig { other_channel: 3, ..RegistrationConfig::default() };
    /// assert!(bad.validate().unwrap_err().to_string().contains("other_channel"));
    /// ```
    pub fn validate(&self) -> Result<(), SynthError> {
        let bad = |m: String| Err(SynthError::Config(m));
        for (name, v) in [
            ("same_subject_fraction", self.same_subject_fraction),
            ("other_contrast_fraction", self.other_contrast_fraction),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return bad(format!("{name} {v} must be in [0, 1]"));
            }
        }
        for (name, c) in [
            ("fixed_channel", self.fixed_channel),
            ("other_channel", self.other_channel),
        ] {
            if c > 2 {
                return bad(format!("{name} {c}: channels are 0 T1, 1 T2, 2 FLAIR"));
            }
        }
        if self.displacement_terms > 32 {
            return bad(format!(
                "displacement_terms {} must be at most 32",
                self.displacement_terms
            ));
        }
        for (name, [lo, hi], min) in [
            ("displacement_mm", self.displacement_mm, 0.0),
            (
                "displacement_wavelength_mm",
                self.displacement_wavelength_mm,
                1.0,
            ),
        ] {
            if !(lo.is_finite() && hi.is_finite() && lo >= min && hi >= lo) {
                return bad(format!(
                    "{name} [{lo}, {hi}] must be finite, at least {min} and in increasing order"
                ));
            }
        }
        if !(self.max_displacement_gradient.is_finite()
            && (0.0..0.95).contains(&self.max_displacement_gradient))
        {
            return bad(format!(
                "max_displacement_gradient {} must be in [0, 0.95): below 1 the deformation \
                 cannot fold, and the margin keeps its inversion fast",
                self.max_displacement_gradient
            ));
        }
        for (name, v, max) in [
            ("rotation_deg", self.rotation_deg, 45.0),
            ("scaling", self.scaling, 0.5),
            ("translation_mm", self.translation_mm, 100.0),
        ] {
            if !(v.is_finite() && (0.0..=max).contains(&v)) {
                return bad(format!("{name} {v} is out of range (0 to {max})"));
            }
        }
        if !(1..=100_000).contains(&self.landmarks) {
            return bad(format!(
                "landmarks {} is out of range (1 to 100000)",
                self.landmarks
            ));
        }
        Ok(())
    }
}

/// What a pair holds.
///
/// ```
/// use medburn_datasets::synth::registration::PairKind;
/// assert_eq!(serde_json::to_string(&PairKind::SameSubject)?, "\"same-subject\"");
/// assert_eq!(PairKind::DifferentSubject.name(), "different-subject");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PairKind {
    /// One subject under a known transform.
    SameSubject,
    /// Two subjects; no known transform.
    DifferentSubject,
}

impl PairKind {
    /// `"same-subject"` or `"different-subject"`, as in `pairs.json`.
    pub fn name(self) -> &'static str {
        match self {
            PairKind::SameSubject => "same-subject",
            PairKind::DifferentSubject => "different-subject",
        }
    }
}

/// Everything drawn for one pair; [`render_pair`] turns it into volumes.
///
/// ```
/// use medburn_datasets::synth::registration::{sample_pair, PairKind, RegistrationConfig};
/// use medburn_datasets::synth::SynthConfig;
/// let (synth, reg) = (SynthConfig::default(), RegistrationConfig::default());
/// let p = sample_pair(&synth, &reg, 1)?;
/// assert_eq!(p.kind, PairKind::DifferentSubject);
/// assert_eq!((p.fixed.index, p.moving.index), (2, 3));
/// assert!(p.truth.is_none());
/// assert_eq!(sample_pair(&synth, &reg, 1)?, p);
/// # Ok::<(), medburn_datasets::synth::SynthError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PairParams {
    /// The pair's index.
    pub index: usize,
    /// Same or different subject.
    pub kind: PairKind,
    /// The fixed image's case.
    pub fixed: CaseParams,
    /// The moving image's case: for a same-subject pair the fixed case's anatomy and contrast on
    /// the moving grid with the moving acquisition's artifacts.
    pub moving: CaseParams,
    /// The fixed image's channel.
    pub fixed_channel: usize,
    /// The moving image's channel.
    pub moving_channel: usize,
    /// `T`, fixed point to moving point; same-subject pairs only.
    pub truth: Option<TrueTransform>,
    /// Landmarks to draw (same-subject pairs).
    pub landmarks: usize,
    /// Seed of the landmark draws.
    pub landmark_seed: u64,
}

/// The random generator of pair `index`: ChaCha8 seeded with `seed`, stream `2^63 + index`
/// (cases use the streams below `2^63`).
///
/// ```
/// use rand::Rng;
/// use medburn_datasets::synth::{case_rng, registration::pair_rng};
/// let a: u64 = pair_rng(0, 0).random();
/// let b: u64 = case_rng(0, 0).random();
/// assert_ne!(a, b);
/// ```
pub fn pair_rng(seed: u64, index: usize) -> ChaCha8Rng {
    let mut rng = super::case_rng(seed, 0);
    rng.set_stream((1u64 << 63) | index as u64);
    rng
}

/// Whether item `n` of a sequence is among the evenly spread share `fraction`, the first
/// included (`ceil`) or not (`floor`).
fn in_share(n: usize, fraction: f64, first: bool) -> bool {
    let f = |m: usize| {
        let v = m as f64 * fraction;
        if first {
            (v - 1e-9).ceil()
        } else {
            (v + 1e-9).floor()
        }
    };
    f(n + 1) > f(n)
}

/// The kind of pair `index` and its rank among the pairs of that kind.
fn kind_of(index: usize, fraction: f64) -> (PairKind, usize) {
    let same = (0..index).filter(|&n| in_share(n, fraction, true)).count();
    if in_share(index, fraction, true) {
        (PairKind::SameSubject, same)
    } else {
        (PairKind::DifferentSubject, index - same)
    }
}

/// Draws pair `index`: its kind and contrasts (spread evenly, see the module documentation),
/// its cases, and for a same-subject pair the true transform, the moving grid (around the
/// transformed head centre) and the moving acquisition's bias fields and noise.
///
/// ```
/// use medburn_datasets::synth::registration::{sample_pair, RegistrationConfig};
/// use medburn_datasets::synth::SynthConfig;
/// let p = sample_pair(&SynthConfig::default(), &RegistrationConfig::default(), 2)?;
/// // The same subject on another grid, T2 against T1.
/// assert_eq!(p.moving.anatomy, p.fixed.anatomy);
/// assert_ne!(p.moving.geometry, p.fixed.geometry);
/// assert_eq!((p.fixed_channel, p.moving_channel), (0, 1));
/// # Ok::<(), medburn_datasets::synth::SynthError>(())
/// ```
pub fn sample_pair(
    synth: &SynthConfig,
    config: &RegistrationConfig,
    index: usize,
) -> Result<PairParams, SynthError> {
    synth.validate()?;
    config.validate()?;
    let (kind, rank) = kind_of(index, config.same_subject_fraction);
    let moving_channel = if in_share(rank, config.other_contrast_fraction, false) {
        config.other_channel
    } else {
        config.fixed_channel
    };
    let fixed = sample_case(synth, 2 * index)?;
    let mut rng = pair_rng(synth.seed, index);
    let (moving, truth) = match kind {
        PairKind::DifferentSubject => (sample_case(synth, 2 * index + 1)?, None),
        PairKind::SameSubject => {
            let a = &fixed.anatomy;
            let window = (a.head_radii[0] + a.head_radii[1] + a.head_radii[2]) / 3.0;
            let truth = TrueTransform::sample(&mut rng, config, a.centre, window)?;
            let moving_centre = truth.apply(a.centre);
            let (geometry, orientation) = sample_geometry(&mut rng, synth, moving_centre)?;
            let wm = [0, 1, 2].map(|c| fixed.contrast.intensity(Tissue::WhiteMatter, c));
            let artifacts = Artifacts::sample(&mut rng, synth, moving_centre, wm);
            let moving = CaseParams {
                geometry,
                orientation,
                artifacts,
                ..fixed.clone()
            };
            (moving, Some(truth))
        }
    };
    Ok(PairParams {
        index,
        kind,
        fixed,
        moving,
        fixed_channel: config.fixed_channel,
        moving_channel,
        truth,
        landmarks: config.landmarks,
        landmark_seed: rng.random(),
    })
}

/// A landmark pair `(x, T(x))`: a fixed-image point and the moving-image point of the same
/// anatomy (LPS, mm); see [`RegistrationPair::landmarks`] and the module's example.
pub type Landmark = ([f64; 3], [f64; 3]);

/// One rendered pair.
///
/// ```
/// use medburn_datasets::synth::registration::{generate_pair, RegistrationConfig};
/// use medburn_datasets::synth::SynthConfig;
/// let pair = generate_pair(&SynthConfig { size: 16, ..SynthConfig::default() }, &RegistrationConfig::default(), 1)?;
/// // A different-subject pair: labels, no truth.
/// assert!(pair.params.truth.is_none() && pair.displacement.is_none() && pair.landmarks.is_empty());
/// assert_eq!(pair.moving_label.geometry, pair.moving.geometry);
/// # Ok::<(), medburn_datasets::synth::SynthError>(())
/// ```
#[derive(Debug, Clone)]
pub struct RegistrationPair {
    /// What was drawn.
    pub params: PairParams,
    /// The fixed image: float32, one channel.
    pub fixed: Volume,
    /// The moving image: float32, one channel, on its own grid.
    pub moving: Volume,
    /// The fixed labels (uint8 0..=4).
    pub fixed_label: Volume,
    /// The moving labels.
    pub moving_label: Volume,
    /// `u` at the fixed voxel centres: float64, 3 components (LPS mm), `extra_dims [1, 3]`,
    /// NIfTI intent 1007; same-subject pairs only.
    pub displacement: Option<Volume>,
    /// `(x, T(x))` for points `x` inside the brain (label > 0) and inside both grids (LPS mm);
    /// same-subject pairs only.
    pub landmarks: Vec<Landmark>,
    /// How the inversions of the moving image went (same-subject pairs).
    pub inverse: Option<InverseReport>,
    /// The largest `|u|` over the fixed voxel centres, mm (same-subject pairs).
    pub max_displacement_mm: Option<f64>,
}

/// Channel `c` of a rendered case's images as a one-channel volume.
fn channel_of(images: &Volume, c: usize) -> Result<Volume, SynthError> {
    let VoxelArray::F32(data) = &images.data else {
        return Err(SynthError::Internal("synthetic images are float32".into()));
    };
    let values: Vec<f32> = data.index_axis(Axis(0), c).iter().copied().collect();
    let what = if c == 0 { "image" } else { "image channel" };
    warped::image_volume(values, &images.geometry, c, what)
}

/// Renders a pair drawn by [`sample_pair`].
///
/// ```
/// use medburn_datasets::synth::registration::{render_pair, sample_pair, RegistrationConfig};
/// use medburn_datasets::synth::SynthConfig;
/// let params = sample_pair(&SynthConfig { size: 16, ..SynthConfig::default() }, &RegistrationConfig::default(), 0)?;
/// let pair = render_pair(&params)?;
/// let field = pair.displacement.as_ref().unwrap();
/// assert_eq!((field.size(), field.geometry), (vec![16, 16, 16, 1, 3], params.fixed.geometry));
/// # Ok::<(), medburn_datasets::synth::SynthError>(())
/// ```
pub fn render_pair(params: &PairParams) -> Result<RegistrationPair, SynthError> {
    let (fixed_images, fixed_label) = render(&params.fixed)?;
    let fixed = channel_of(&fixed_images, params.fixed_channel)?;
    let Some(truth) = &params.truth else {
        let (images, moving_label) = render(&params.moving)?;
        return Ok(RegistrationPair {
            params: params.clone(),
            fixed,
            moving: channel_of(&images, params.moving_channel)?,
            fixed_label,
            moving_label,
            displacement: None,
            landmarks: Vec::new(),
            inverse: None,
            max_displacement_mm: None,
        });
    };
    let (moving, moving_label, report) =
        render_warped(&params.moving, params.moving_channel, truth)?;
    let (field, max) = displacement_volume(truth, &params.fixed.geometry)?;
    Ok(RegistrationPair {
        params: params.clone(),
        fixed,
        moving,
        fixed_label,
        moving_label,
        displacement: Some(field),
        landmarks: landmarks(params, truth)?,
        inverse: Some(report),
        max_displacement_mm: Some(max),
    })
}

/// Draws and renders pair `index` ([`sample_pair`], then [`render_pair`]; see the module's
/// example).
pub fn generate_pair(
    synth: &SynthConfig,
    config: &RegistrationConfig,
    index: usize,
) -> Result<RegistrationPair, SynthError> {
    render_pair(&sample_pair(synth, config, index)?)
}

/// `u` at the voxel centres of `g` as a vector volume (float64, LPS mm, dims `[x, y, z, 1, 3]`,
/// intent 1007), and the largest `|u|`.
fn displacement_volume(truth: &TrueTransform, g: &Geometry) -> Result<(Volume, f64), SynthError> {
    let [ni, nj, nk] = g.size();
    let plane = ni * nj;
    let n = plane * nk;
    let slices: Vec<Vec<[f64; 3]>> = (0..nk)
        .into_par_iter()
        .map(|k| {
            let mut out = Vec::with_capacity(plane);
            for j in 0..nj {
                for i in 0..ni {
                    let x = g.index_to_physical([i as f64, j as f64, k as f64]);
                    out.push(truth.displacement.at(x));
                }
            }
            out
        })
        .collect();
    let mut values = vec![0f64; 3 * n];
    let mut max = 0f64;
    for (k, s) in slices.iter().enumerate() {
        for (p, u) in s.iter().enumerate() {
            max = max.max(norm(*u));
            for c in 0..3 {
                values[c * n + k * plane + p] = u[c];
            }
        }
    }
    let data = ArrayD::from_shape_vec(IxDyn(&[3, nk, nj, ni]), values)
        .map_err(|e| SynthError::Internal(e.to_string()))?;
    let mut v = Volume::new(VoxelArray::F64(data), *g)?;
    v.extra_dims = vec![1, 3];
    // NIFTI_INTENT_VECTOR: ITK reads it as a vector image in LPS (1006, "displacement vector",
    // is read by ITK 5.4 as RAS and flipped).
    v.metadata.insert("nifti:intent_code".into(), "1007".into());
    v.metadata.insert(
        "nifti:descrip".into(),
        "medburn synth true displacement u (LPS mm): T(x) = A(x + u(x))".into(),
    );
    Ok((v, max))
}

/// Whether the physical point `p` lies inside `g` with a margin of one voxel.
fn inside(g: &Geometry, p: [f64; 3]) -> bool {
    let idx = g.physical_to_index(p);
    let size = g.size();
    (0..3).all(|a| idx[a] >= 1.0 && idx[a] <= size[a] as f64 - 2.0)
}

/// Up to `config.landmarks` pairs `(x, T(x))`: `x` uniform in the brain's bounding box (head
/// frame), kept where the label is not background and both `x` and `T(x)` lie inside their grids.
fn landmarks(params: &PairParams, truth: &TrueTransform) -> Result<Vec<Landmark>, SynthError> {
    let want = params.landmarks;
    let a = &params.fixed.anatomy;
    let shell = a.scalp_mm + a.skull_mm + a.csf_rim_mm;
    let brain = [0, 1, 2].map(|d| (a.head_radii[d] - shell).max(1.0));
    let mut rng = <ChaCha8Rng as rand::SeedableRng>::seed_from_u64(params.landmark_seed);
    let mut out = Vec::with_capacity(want);
    for _ in 0..want * 1000 {
        if out.len() == want {
            break;
        }
        let q = [0, 1, 2].map(|d| rng.random_range(-brain[d]..brain[d]));
        let x = a.to_world(q);
        if a.label_at(x) == 0 || !inside(&params.fixed.geometry, x) {
            continue;
        }
        let y = truth.apply(x);
        if inside(&params.moving.geometry, y) {
            out.push((x, y));
        }
    }
    if out.is_empty() {
        return Err(SynthError::Config(
            "no landmark inside the brain lies inside both grids: the grids miss the head".into(),
        ));
    }
    Ok(out)
}

/// The file stem of pair `index`: `pair_000`, `pair_001`, ...
///
/// ```
/// assert_eq!(medburn_datasets::synth::registration::pair_name(12), "pair_012");
/// ```
pub fn pair_name(index: usize) -> String {
    format!("pair_{index:03}")
}

/// The files of a pair, relative to the data set folder (`None` where a kind has none), as
/// `pairs.json` lists them under `files`.
///
/// ```
/// use medburn_datasets::synth::registration::{PairFiles, PairKind};
/// let f = PairFiles::of(3, PairKind::SameSubject);
/// assert_eq!(f.moving, "pairs/pair_003/moving.nii.gz");
/// assert_eq!(PairFiles::of(3, PairKind::DifferentSubject).true_affine, None);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairFiles {
    /// `pairs/pair_XXX/fixed.nii.gz`
    pub fixed: String,
    /// `pairs/pair_XXX/moving.nii.gz`
    pub moving: String,
    /// `pairs/pair_XXX/fixed_label.nii.gz`
    pub fixed_label: String,
    /// `pairs/pair_XXX/moving_label.nii.gz`
    pub moving_label: String,
    /// `pairs/pair_XXX/true_displacement.nii.gz`
    pub true_displacement: Option<String>,
    /// `pairs/pair_XXX/true_affine.tfm`
    pub true_affine: Option<String>,
    /// `pairs/pair_XXX/true_landmarks.csv`
    pub true_landmarks: Option<String>,
}

impl PairFiles {
    /// The files of pair `index` of kind `kind`.
    pub fn of(index: usize, kind: PairKind) -> PairFiles {
        let f = |name: &str| format!("pairs/{}/{name}", pair_name(index));
        let same = kind == PairKind::SameSubject;
        PairFiles {
            fixed: f("fixed.nii.gz"),
            moving: f("moving.nii.gz"),
            fixed_label: f("fixed_label.nii.gz"),
            moving_label: f("moving_label.nii.gz"),
            true_displacement: same.then(|| f("true_displacement.nii.gz")),
            true_affine: same.then(|| f("true_affine.tfm")),
            true_landmarks: same.then(|| f("true_landmarks.csv")),
        }
    }
}

/// The `true_landmarks.csv` text: a header, then one line per landmark.
///
/// ```
/// let text = medburn_datasets::synth::registration::landmarks_csv(&[([1.0, 2.0, 3.0], [4.0, 5.5, 6.0])]);
/// assert_eq!(text, "fixed_x,fixed_y,fixed_z,moving_x,moving_y,moving_z\n1,2,3,4,5.5,6\n");
/// ```
pub fn landmarks_csv(landmarks: &[Landmark]) -> String {
    let mut text = String::from("fixed_x,fixed_y,fixed_z,moving_x,moving_y,moving_z\n");
    for (x, y) in landmarks {
        text.push_str(&format!(
            "{},{},{},{},{},{}\n",
            x[0], x[1], x[2], y[0], y[1], y[2]
        ));
    }
    text
}

/// The `pairs.json` entry of a pair.
fn pair_entry(pair: &RegistrationPair) -> Value {
    let p = &pair.params;
    let files = PairFiles::of(p.index, p.kind);
    let grid = |g: &Geometry| {
        json!({
            "size": g.size(),
            "spacing": g.spacing(),
            "origin": g.origin(),
            "direction": g.direction().row_major(),
            "orientation": g.orientation().to_string(),
        })
    };
    let mut entry = json!({
        "name": pair_name(p.index),
        "kind": p.kind,
        "fixed_case": super::case_name(p.fixed.index),
        "moving_case": super::case_name(p.moving.index),
        "fixed_contrast": CHANNEL_NAMES[p.fixed_channel],
        "moving_contrast": CHANNEL_NAMES[p.moving_channel],
        "files": files,
        "fixed_grid": grid(&p.fixed.geometry),
        "moving_grid": grid(&p.moving.geometry),
    });
    if let Some(t) = &p.truth {
        let report = pair.inverse.unwrap_or_default();
        entry["truth"] = json!({
            "convention": "T(x) = A(x + u(x)), fixed point to moving point (LPS mm); SimpleITK: CompositeTransform([affine, displacement])",
            "affine": t.affine,
            "affine_centre": t.affine_centre,
            "displacement": t.displacement,
            "lipschitz_bound": t.displacement.lipschitz_bound(),
            "max_displacement_mm": pair.max_displacement_mm,
            "landmarks": pair.landmarks.len(),
            "inverse": {
                "points": report.points,
                "max_iterations": report.max_iterations,
                "mean_iterations": report.mean_iterations,
                "max_residual_mm": report.max_residual_mm,
            },
        });
    }
    entry
}

/// Writes a pair's files into `dir` (created if missing), each to a temporary name first.
///
/// ```
/// use medburn_datasets::synth::registration::{generate_pair, write_pair, RegistrationConfig};
/// use medburn_datasets::synth::SynthConfig;
/// let dir = tempfile::tempdir()?;
/// let pair = generate_pair(&SynthConfig { size: 16, ..SynthConfig::default() }, &RegistrationConfig::default(), 0)?;
/// write_pair(&pair, dir.path())?;
/// let affine = medburn_register::ItkAffine::read(&dir.path().join("true_affine.tfm"))?;
/// let truth = pair.params.truth.as_ref().unwrap();
/// let (a, b) = (affine.apply([1.0, 2.0, 3.0]), truth.apply_affine([1.0, 2.0, 3.0]));
/// assert!((0..3).all(|c| (a[c] - b[c]).abs() < 1e-9));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_pair(pair: &RegistrationPair, dir: &Path) -> Result<(), SynthError> {
    fs::create_dir_all(dir).map_err(|e| SynthError::Output {
        path: dir.to_path_buf(),
        message: format!("cannot create: {e}"),
    })?;
    let options = WriteOptions::default();
    let write =
        |v: &Volume, name: &str| medburn_io::nifti::write_nifti(v, &dir.join(name), &options);
    write(&pair.fixed, "fixed.nii.gz")?;
    write(&pair.moving, "moving.nii.gz")?;
    write(&pair.fixed_label, "fixed_label.nii.gz")?;
    write(&pair.moving_label, "moving_label.nii.gz")?;
    if let (Some(truth), Some(field)) = (&pair.params.truth, &pair.displacement) {
        write(field, "true_displacement.nii.gz")?;
        let tfm = dir.join("true_affine.tfm");
        ItkAffine::from_matrix(truth.affine, truth.affine_centre)
            .write(&tfm)
            .map_err(|e| SynthError::Output {
                path: tfm.clone(),
                message: e.to_string(),
            })?;
        medburn_io::atomic::write_atomic(
            &dir.join("true_landmarks.csv"),
            landmarks_csv(&pair.landmarks).as_bytes(),
        )?;
    }
    Ok(())
}

/// What [`write_registration_dataset`] wrote (see its example).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RegistrationSummary {
    /// The data set folder.
    pub root: PathBuf,
    /// Each pair's folder.
    pub pairs: Vec<PathBuf>,
    /// Same-subject pairs written.
    pub same_subject: usize,
    /// The `pairs.json`.
    pub pairs_json: PathBuf,
}

/// Generates and writes `n_pairs` pairs into `dir` (created if missing) in the layout of the
/// module documentation, then `pairs.json` (last, so a folder with a `pairs.json` is complete).
/// `progress(done, &pair)` is called after each pair is written.
///
/// ```
/// use medburn_datasets::synth::registration::{write_registration_dataset, RegistrationConfig};
/// use medburn_datasets::synth::SynthConfig;
/// let dir = tempfile::tempdir()?;
/// let synth = SynthConfig { size: 16, ..SynthConfig::default() };
/// let s = write_registration_dataset(dir.path(), &synth, &RegistrationConfig::default(), 2, &mut |_, _| {})?;
/// assert_eq!((s.pairs.len(), s.same_subject), (2, 1));
/// assert!(dir.path().join("pairs/pair_000/true_affine.tfm").exists());
/// assert!(!dir.path().join("pairs/pair_001/true_affine.tfm").exists());
/// let j: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&s.pairs_json)?)?;
/// assert_eq!(j["pairs"][1]["kind"], "different-subject");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_registration_dataset(
    dir: &Path,
    synth: &SynthConfig,
    config: &RegistrationConfig,
    n_pairs: usize,
    progress: &mut dyn FnMut(usize, &RegistrationPair),
) -> Result<RegistrationSummary, SynthError> {
    synth.validate()?;
    config.validate()?;
    if n_pairs == 0 {
        return Err(SynthError::Config("at least one pair is needed".into()));
    }
    if dir.exists() && !dir.is_dir() {
        return Err(SynthError::Output {
            path: dir.to_path_buf(),
            message: "exists and is not a directory: the data set needs a folder".into(),
        });
    }
    let mut summary = RegistrationSummary {
        root: dir.to_path_buf(),
        pairs_json: dir.join("pairs.json"),
        ..Default::default()
    };
    let mut entries = Vec::with_capacity(n_pairs);
    for index in 0..n_pairs {
        let pair = generate_pair(synth, config, index)?;
        let pair_dir = dir.join("pairs").join(pair_name(index));
        write_pair(&pair, &pair_dir)?;
        entries.push(pair_entry(&pair));
        summary.pairs.push(pair_dir);
        if pair.params.kind == PairKind::SameSubject {
            summary.same_subject += 1;
        }
        progress(index + 1, &pair);
    }
    let numbered = |names: &[&str]| -> Value {
        names
            .iter()
            .enumerate()
            .map(|(n, s)| (n.to_string(), Value::from(*s)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let text = serde_json::to_string_pretty(&json!({
        "name": "MedburnSynthRegistration",
        "description": "Synthetic brain MR registration pairs made by `medburn synth --task registration`: same-subject pairs under a known transform, different-subject pairs with labels",
        "convention": "Points are LPS mm. For a same-subject pair the true transform maps a fixed-image point to the moving-image point of the same anatomy: T(x) = A(x + u(x)), u = true_displacement.nii.gz (a displacement field on the fixed grid), A = true_affine.tfm. SimpleITK: CompositeTransform([ReadTransform(true_affine.tfm), DisplacementFieldTransform(u)]) applies u first; Resample(moving, fixed, T) brings the moving image onto the fixed grid. true_landmarks.csv holds exact (x, T(x)).",
        "labels": numbered(&LABEL_NAMES),
        "numPairs": n_pairs,
        "numSameSubject": summary.same_subject,
        "pairs": entries,
        "medburn_synth": serde_json::to_value(synth).unwrap_or(Value::Null),
        "registration": serde_json::to_value(config).unwrap_or(Value::Null),
    }))
    .map_err(|e| SynthError::Internal(e.to_string()))?;
    medburn_io::atomic::write_atomic(&summary.pairs_json, (text + "\n").as_bytes())?;
    Ok(summary)
}
