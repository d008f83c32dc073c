//! Sampling the anatomy on a case's grid: the crisp label map at voxel centres,
//! and three image channels with partial volume, bias field and Rician noise.

use medburn_core::{Geometry, Modality};
use medburn_io::{Volume, VoxelArray};
use ndarray::{ArrayD, IxDyn};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

use super::artifacts::{rician, supersampling};
use super::randomized::blur_volume;
use super::{Anatomy, CaseParams, SynthError, Tissue, CHANNEL_NAMES};

/// Mixed into the noise seed for the randomized mode's within-tissue spread, so that its draws
/// never share a stream with the scanner noise's.
const SPREAD_STREAMS: u64 = 0x5eed_5eed_5eed_5eed;

/// The physical point of continuous index `(i, j, k)`: `origin + M (i, j, k)`.
#[inline]
pub(super) fn point(o: &[f64; 3], m: &[[f64; 3]; 3], i: f64, j: f64, k: f64) -> [f64; 3] {
    [
        o[0] + m[0][0] * i + m[0][1] * j + m[0][2] * k,
        o[1] + m[1][0] * i + m[1][1] * j + m[1][2] * k,
        o[2] + m[2][0] * i + m[2][1] * j + m[2][2] * k,
    ]
}

/// Whether voxel `(i, j, k)` of a label grid of `size` (i fastest) has a face neighbour with
/// another label: where partial volume is rendered.
pub(super) fn on_boundary<T: PartialEq>(
    labels: &[T],
    [i, j, k]: [usize; 3],
    size: [usize; 3],
) -> bool {
    let [ni, nj, nk] = size;
    let plane = ni * nj;
    let idx = i + ni * (j + nj * k);
    let differs = |d: usize| labels[d] != labels[idx];
    (i > 0 && differs(idx - 1))
        || (i + 1 < ni && differs(idx + 1))
        || (j > 0 && differs(idx - ni))
        || (j + 1 < nj && differs(idx + ni))
        || (k > 0 && differs(idx - plane))
        || (k + 1 < nk && differs(idx + plane))
}

/// The [`Tissue`] code (`as u8`) at every voxel centre of `geometry`, `i` fastest
/// (index `i + ni * (j + nj * k)`). Slices are computed in parallel.
///
/// ```
/// use medburn_datasets::synth::{tissue_map, Anatomy, SynthConfig, Tissue};
/// use rand::SeedableRng;
/// let a = Anatomy::sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0), &SynthConfig::default(), &Default::default());
/// let g = medburn_datasets::synth::centred_grid([3, 3, 3], [1.0; 3], medburn_core::Direction::identity(), a.ventricle_point())?;
/// assert_eq!(tissue_map(&a, &g)[13], Tissue::Csf as u8); // the centre voxel
/// # Ok::<(), medburn_core::GeometryError>(())
/// ```
pub fn tissue_map(anatomy: &Anatomy, geometry: &Geometry) -> Vec<u8> {
    let [ni, nj, nk] = geometry.size();
    let m = geometry.index_to_physical_matrix();
    let o = geometry.origin();
    let mut out = vec![0u8; ni * nj * nk];
    out.par_chunks_mut(ni * nj)
        .enumerate()
        .for_each(|(k, slice)| {
            for j in 0..nj {
                for i in 0..ni {
                    let p = point(&o, &m, i as f64, j as f64, k as f64);
                    slice[i + ni * j] = anatomy.tissue_at(p) as u8;
                }
            }
        });
    out
}

/// Renders a case: the uint8 label volume (crisp, at voxel centres) and the
/// float32 image volume with 3 channels (T1, T2, FLAIR), both on `params.geometry`.
///
/// Images: the tissue intensities averaged over sub-samples of the voxel where
/// the voxel's 6-neighbourhood holds more than one tissue (partial volume), times
/// the channel's bias field at the voxel centre, then Rician noise. Deterministic:
/// the noise of slice `k` comes from ChaCha8 stream `k` of `params.artifacts.noise_seed`.
///
/// ```
/// use medburn_datasets::synth::{render, sample_case, SynthConfig};
/// let cfg = SynthConfig { size: 16, ..SynthConfig::default() };
/// let (images, label) = render(&sample_case(&cfg, 0)?)?;
/// assert_eq!(images.channels(), 3);
/// assert_eq!(images.geometry, label.geometry);
/// # Ok::<(), medburn_datasets::synth::SynthError>(())
/// ```
pub fn render(params: &CaseParams) -> Result<(Volume, Volume), SynthError> {
    let g = &params.geometry;
    let [ni, nj, nk] = g.size();
    let plane = ni * nj;
    let n = plane * nk;
    let tissue = tissue_map(&params.anatomy, g);
    let randomized = params.randomized.as_ref();
    // The intensities each tissue is rendered with (a skull-stripped case has no scalp).
    let reference = params.contrast.table();
    let table: [[f32; 3]; Tissue::COUNT] = std::array::from_fn(|t| {
        let shown = Tissue::from_code(t as u8).unwrap_or(Tissue::Air);
        reference[randomized.map_or(shown, |r| r.rendered_as(shown)) as usize]
    });
    let m = g.index_to_physical_matrix();
    let o = g.origin();
    let sub = supersampling(g.spacing());
    let offsets: [Vec<f64>; 3] = sub.map(|s| {
        (0..s)
            .map(|t| (t as f64 + 0.5) / s as f64 - 0.5)
            .collect::<Vec<_>>()
    });
    let samples = (sub[0] * sub[1] * sub[2]) as f32;
    let art = &params.artifacts;
    let anatomy = &params.anatomy;

    // 1. The noise-free signal: partial volume at boundaries; in the randomized mode, texture
    //    and within-tissue spread (its own streams, so the realistic mode draws as before).
    let clean: Vec<Vec<f32>> = (0..nk)
        .into_par_iter()
        .map(|k| {
            let mut spread_rng = ChaCha8Rng::seed_from_u64(art.noise_seed ^ SPREAD_STREAMS);
            spread_rng.set_stream(k as u64);
            let mut out = vec![0f32; 3 * plane];
            for j in 0..nj {
                for i in 0..ni {
                    let idx = i + ni * (j + nj * k);
                    let t = tissue[idx];
                    let boundary = on_boundary(&tissue, [i, j, k], [ni, nj, nk]);
                    let pv = if boundary {
                        let mut acc = [0f32; 3];
                        for &dk in &offsets[2] {
                            for &dj in &offsets[1] {
                                for &di in &offsets[0] {
                                    let p =
                                        point(&o, &m, i as f64 + di, j as f64 + dj, k as f64 + dk);
                                    let v = &table[anatomy.tissue_at(p) as usize];
                                    for c in 0..3 {
                                        acc[c] += v[c];
                                    }
                                }
                            }
                        }
                        acc.map(|a| a / samples)
                    } else {
                        table[t as usize]
                    };
                    for c in 0..3 {
                        let mut v = pv[c] as f64;
                        if let Some(r) = randomized {
                            let p = point(&o, &m, i as f64, j as f64, k as f64);
                            let z: f64 = StandardNormal.sample(&mut spread_rng);
                            let shown =
                                Tissue::from_code(t).map_or(Tissue::Air, |t| r.rendered_as(t));
                            v = v * r.texture_at(c, p) + r.spread[shown as usize][c] * z;
                        }
                        out[c * plane + i + ni * j] = v.max(0.0) as f32;
                    }
                }
            }
            out
        })
        .collect();
    let mut values = vec![0f32; 3 * n];
    for (k, s) in clean.iter().enumerate() {
        for c in 0..3 {
            values[c * n + k * plane..c * n + (k + 1) * plane]
                .copy_from_slice(&s[c * plane..(c + 1) * plane]);
        }
    }
    drop(clean);
    // 2. The acquisition's resolution.
    if let Some(r) = randomized {
        for c in 0..3 {
            blur_volume(&mut values[c * n..(c + 1) * n], [ni, nj, nk], r.blur_fwhm);
        }
    }
    // 3. Bias field, then Rician noise: slice k draws from stream k of the noise seed.
    let noisy: Vec<Vec<[f32; 3]>> = (0..nk)
        .into_par_iter()
        .map(|k| {
            let mut rng = ChaCha8Rng::seed_from_u64(art.noise_seed);
            rng.set_stream(k as u64);
            let mut out = vec![[0f32; 3]; plane];
            for (v, noisy) in out.iter_mut().enumerate() {
                let p = point(&o, &m, (v % ni) as f64, (v / ni) as f64, k as f64);
                for c in 0..3 {
                    let signal = values[c * n + k * plane + v] as f64 * art.bias[c].at(p);
                    let n1: f64 = StandardNormal.sample(&mut rng);
                    let n2: f64 = StandardNormal.sample(&mut rng);
                    noisy[c] = rician(signal, art.noise_sigma[c], n1, n2) as f32;
                }
            }
            out
        })
        .collect();
    for (k, s) in noisy.into_iter().enumerate() {
        for (v, o) in s.into_iter().enumerate() {
            for c in 0..3 {
                values[c * n + k * plane + v] = o[c];
            }
        }
    }
    let labels: Vec<u8> = tissue
        .iter()
        .map(|&t| Tissue::from_code(t).map_or(0, Tissue::label))
        .collect();

    let shape = |c: usize| IxDyn(&[c, nk, nj, ni]);
    let bad = |e: ndarray::ShapeError| SynthError::Internal(e.to_string());
    let mut images = Volume::new(
        VoxelArray::F32(ArrayD::from_shape_vec(shape(3), values).map_err(bad)?),
        *g,
    )?;
    images.modality = Modality::Mr;
    images.subtype = Some(CHANNEL_NAMES.join(","));
    images.metadata.insert(
        "nifti:descrip".into(),
        format!(
            "medburn synth case {}: {}",
            params.index,
            CHANNEL_NAMES.join(",")
        ),
    );
    let mut label = Volume::new(
        VoxelArray::U8(ArrayD::from_shape_vec(shape(1), labels).map_err(bad)?),
        *g,
    )?;
    label.modality = Modality::Mr;
    label.subtype = Some("labels".into());
    // NIFTI_INTENT_LABEL: the values are indices into a list of labels.
    label
        .metadata
        .insert("nifti:intent_code".into(), "1002".into());
    label.metadata.insert(
        "nifti:descrip".into(),
        format!(
            "medburn synth case {} labels: 0 bg 1 CSF 2 GM 3 WM 4 lesion",
            params.index
        ),
    );
    Ok((images, label))
}
