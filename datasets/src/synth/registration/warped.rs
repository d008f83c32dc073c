//! Rendering a case's anatomy through a known transform: the moving image of a same-subject pair
//! shows, at each of its voxel centres `y`, the anatomy at `T^-1(y)`.

use medburn_core::{Geometry, Modality};
use medburn_io::{Volume, VoxelArray};
use ndarray::{ArrayD, IxDyn};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

use super::super::render::{on_boundary, point};
use super::super::{rician, supersampling, CaseParams, SynthError, Tissue, CHANNEL_NAMES};
use super::TrueTransform;

/// How the inversions of one rendering went (see [`render_warped`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct InverseReport {
    /// Points inverted (voxel centres and partial-volume sub-samples).
    pub points: usize,
    /// The most fixed-point iterations any point took.
    pub max_iterations: usize,
    /// The mean number of iterations.
    pub mean_iterations: f64,
    /// The largest `|T(T^-1(y)) - y|`, mm.
    pub max_residual_mm: f64,
}

impl InverseReport {
    fn merge(self, o: InverseReport) -> InverseReport {
        let points = self.points + o.points;
        InverseReport {
            points,
            max_iterations: self.max_iterations.max(o.max_iterations),
            mean_iterations: if points == 0 {
                0.0
            } else {
                (self.mean_iterations * self.points as f64 + o.mean_iterations * o.points as f64)
                    / points as f64
            },
            max_residual_mm: self.max_residual_mm.max(o.max_residual_mm),
        }
    }

    fn add(&mut self, iterations: usize, residual: f64) {
        let n = self.points as f64;
        self.mean_iterations = (self.mean_iterations * n + iterations as f64) / (n + 1.0);
        self.points += 1;
        self.max_iterations = self.max_iterations.max(iterations);
        self.max_residual_mm = self.max_residual_mm.max(residual);
    }
}

/// Renders channel `channel` of `params` (its anatomy and contrast; its grid, bias fields and
/// noise) through `transform`: the voxel at `y` shows the anatomy at `T^-1(y)`, so that
/// `moving(T(x)) = anatomy(x)`. As [`super::super::render`] does on a plain grid: the crisp
/// labels at voxel centres; intensities averaged over sub-samples (each inverted too) where the
/// voxel's 6-neighbourhood holds more than one tissue; times the bias field at `y` (the scanner's
/// position); Rician noise from ChaCha8 stream `k` of the noise seed for slice `k`.
///
/// Returns the float32 image `[1, k, j, i]`, the uint8 labels and how the inversions went.
///
/// ```
/// use medburn_datasets::synth::registration::{render_warped, RegistrationConfig, TrueTransform};
/// use medburn_datasets::synth::{sample_case, SynthConfig};
/// use rand::SeedableRng;
/// let case = sample_case(&SynthConfig { size: 16, ..SynthConfig::default() }, 0)?;
/// let t = TrueTransform::sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0), &RegistrationConfig::default(), case.anatomy.centre, 80.0)?;
/// let (image, label, report) = render_warped(&case, 1, &t)?;
/// assert_eq!((image.channels(), label.geometry), (1, case.geometry));
/// assert!(report.points >= 16 * 16 * 16 && report.max_residual_mm < 1e-8);
/// # Ok::<(), medburn_datasets::synth::SynthError>(())
/// ```
pub fn render_warped(
    params: &CaseParams,
    channel: usize,
    transform: &TrueTransform,
) -> Result<(Volume, Volume, InverseReport), SynthError> {
    if channel > 2 {
        return Err(SynthError::Config(format!(
            "channel {channel}: the synthetic images have 3 (0 T1, 1 T2, 2 FLAIR)"
        )));
    }
    let g = &params.geometry;
    let [ni, nj, nk] = g.size();
    let plane = ni * nj;
    let m = g.index_to_physical_matrix();
    let o = g.origin();
    let anatomy = &params.anatomy;

    // Pass 1: the tissue at the inverse of every voxel centre.
    let slices: Vec<Result<(Vec<u8>, InverseReport), SynthError>> = (0..nk)
        .into_par_iter()
        .map(|k| {
            let mut tissue = vec![0u8; plane];
            let mut report = InverseReport::default();
            let mut guess = None;
            for j in 0..nj {
                for i in 0..ni {
                    let y = point(&o, &m, i as f64, j as f64, k as f64);
                    let inv = match guess {
                        Some(x) => transform.inverse_from(y, x)?,
                        None => transform.inverse(y)?,
                    };
                    guess = Some(inv.point);
                    report.add(inv.iterations, inv.residual);
                    tissue[i + ni * j] = anatomy.tissue_at(inv.point) as u8;
                }
                guess = None;
            }
            Ok((tissue, report))
        })
        .collect();
    let mut tissue = Vec::with_capacity(plane * nk);
    let mut report = InverseReport::default();
    for s in slices {
        let (t, r) = s?;
        tissue.extend_from_slice(&t);
        report = report.merge(r);
    }

    // Pass 2: partial volume at tissue boundaries, bias, noise.
    let table = params.contrast.table();
    let sub = supersampling(g.spacing());
    let offsets: [Vec<f64>; 3] = sub.map(|s| {
        (0..s)
            .map(|t| (t as f64 + 0.5) / s as f64 - 0.5)
            .collect::<Vec<_>>()
    });
    let samples = (sub[0] * sub[1] * sub[2]) as f64;
    let art = &params.artifacts;
    let tissue_ref = &tissue;
    let slices: Vec<Result<(Vec<f32>, InverseReport), SynthError>> = (0..nk)
        .into_par_iter()
        .map(|k| {
            let mut rng = ChaCha8Rng::seed_from_u64(art.noise_seed);
            rng.set_stream(k as u64);
            let mut out = vec![0f32; plane];
            let mut report = InverseReport::default();
            for j in 0..nj {
                for i in 0..ni {
                    let idx = i + ni * (j + nj * k);
                    let t = tissue_ref[idx];
                    let boundary = on_boundary(tissue_ref, [i, j, k], [ni, nj, nk]);
                    let y = point(&o, &m, i as f64, j as f64, k as f64);
                    let value = if boundary {
                        let centre = transform.inverse(y)?;
                        let mut acc = 0.0;
                        for &dk in &offsets[2] {
                            for &dj in &offsets[1] {
                                for &di in &offsets[0] {
                                    let ys =
                                        point(&o, &m, i as f64 + di, j as f64 + dj, k as f64 + dk);
                                    let inv = transform.inverse_from(ys, centre.point)?;
                                    report.add(inv.iterations, inv.residual);
                                    acc += table[anatomy.tissue_at(inv.point) as usize][channel]
                                        as f64;
                                }
                            }
                        }
                        acc / samples
                    } else {
                        table[t as usize][channel] as f64
                    };
                    let signal = value * art.bias[channel].at(y);
                    let n1: f64 = StandardNormal.sample(&mut rng);
                    let n2: f64 = StandardNormal.sample(&mut rng);
                    out[i + ni * j] = rician(signal, art.noise_sigma[channel], n1, n2) as f32;
                }
            }
            Ok((out, report))
        })
        .collect();
    let mut values = Vec::with_capacity(plane * nk);
    for s in slices {
        let (v, r) = s?;
        values.extend_from_slice(&v);
        report = report.merge(r);
    }

    let labels: Vec<u8> = tissue
        .iter()
        .map(|&t| Tissue::from_code(t).map_or(0, Tissue::label))
        .collect();
    let image = image_volume(values, g, channel, "moving image")?;
    let label = label_volume(labels, g, "moving labels")?;
    Ok((image, label, report))
}

fn bad_shape(e: ndarray::ShapeError) -> SynthError {
    SynthError::Internal(e.to_string())
}

/// A one-channel float32 MR volume of channel `channel` on `g`.
pub(super) fn image_volume(
    values: Vec<f32>,
    g: &Geometry,
    channel: usize,
    what: &str,
) -> Result<Volume, SynthError> {
    let [ni, nj, nk] = g.size();
    let mut v = Volume::new(
        VoxelArray::F32(
            ArrayD::from_shape_vec(IxDyn(&[1, nk, nj, ni]), values).map_err(bad_shape)?,
        ),
        *g,
    )?;
    let name = CHANNEL_NAMES.get(channel).copied().unwrap_or("?");
    v.modality = Modality::Mr;
    v.subtype = Some(name.into());
    v.metadata.insert(
        "nifti:descrip".into(),
        format!("medburn synth registration {what}: {name}"),
    );
    Ok(v)
}

/// A uint8 label volume (NIfTI intent "label") on `g`.
pub(super) fn label_volume(
    labels: Vec<u8>,
    g: &Geometry,
    what: &str,
) -> Result<Volume, SynthError> {
    let [ni, nj, nk] = g.size();
    let mut v = Volume::new(
        VoxelArray::U8(ArrayD::from_shape_vec(IxDyn(&[1, nk, nj, ni]), labels).map_err(bad_shape)?),
        *g,
    )?;
    v.modality = Modality::Mr;
    v.subtype = Some("labels".into());
    v.metadata.insert("nifti:intent_code".into(), "1002".into());
    v.metadata.insert(
        "nifti:descrip".into(),
        format!("medburn synth registration {what}: 0 bg 1 CSF 2 GM 3 WM 4 lesion"),
    );
    Ok(v)
}
