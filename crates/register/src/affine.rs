//! Affine registration of two images in physical space by gradient descent on medburn's
//! differentiable resampling (instance optimization, as SimpleITK's `ImageRegistrationMethod`,
//! ANTs or deepali): twelve parameters, a resolution pyramid, Adam, and a similarity loss
//! between the moving image resampled onto the fixed grid and the fixed image.

use burn::config::Config;
use burn::tensor::{DType, Device, Tensor, TensorData};
use medburn_core::{Geometry, MedImage};
use medburn_ops::{gaussian_smooth_3d, Padding};
use medburn_spatial::{grid_at_spacing, resample_voxels, Interpolation};
use serde::{Deserialize, Serialize};

use crate::error::RegistrationError;
use crate::losses::{GlobalMutualInformationLossConfig, LocalNormalizedCrossCorrelationLossConfig};

/// How the two images are compared.
///
/// ```
/// assert_eq!(medburn_register::Similarity::default(), medburn_register::Similarity::Mse);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Similarity {
    /// Mean squared difference of intensities (scaled by the fixed image's standard
    /// deviation), over the voxels the moving image covers: same-contrast pairs.
    #[default]
    Mse,
    /// Local normalized cross-correlation (9-voxel windows): same contrast, smooth intensity
    /// changes.
    Lncc,
    /// Global mutual information (Gaussian Parzen windows, 32 bins, over the voxels the moving
    /// image reaches): different contrasts.
    Mi,
}

/// Where the transform starts (SimpleITK's `CenteredTransformInitializer`).
///
/// ```
/// assert_eq!(medburn_register::Initialization::default(), medburn_register::Initialization::CentreOfMass);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Initialization {
    /// The translation between the images' intensity centres of mass (`MOMENTS`).
    #[default]
    CentreOfMass,
    /// The translation between the centres of the two grids (`GEOMETRY`).
    GridCentres,
    /// No translation: the images' headers are trusted as they are.
    Identity,
}

/// The options of [`register_affine`].
///
/// ```
/// use medburn_register::{AffineRegistrationConfig, Similarity};
/// let c = AffineRegistrationConfig::new().with_metric(Similarity::Mi).with_levels(2);
/// assert_eq!((c.levels, c.steps), (2, 150));
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct AffineRegistrationConfig {
    /// The similarity loss.
    #[config(default = "Similarity::Mse")]
    pub metric: Similarity,
    /// Where the transform starts.
    #[config(default = "Initialization::CentreOfMass")]
    pub initialization: Initialization,
    /// Pyramid levels: level `l` (from 0, the coarsest) works at `2^(levels - 1 - l)` times
    /// each image's spacing, after Gaussian smoothing.
    #[config(default = 3)]
    pub levels: usize,
    /// Adam steps per level.
    #[config(default = 150)]
    pub steps: usize,
    /// Adam's step for the matrix entries at the coarsest level; halved at each finer level
    /// and decayed linearly to a tenth within a level.
    #[config(default = 0.01)]
    pub matrix_step: f64,
    /// Adam's step for the translation (mm) at the coarsest level, scheduled as `matrix_step`.
    #[config(default = 1.0)]
    pub translation_step_mm: f64,
}

/// What one pyramid level did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LevelReport {
    /// The fixed grid's spacing at this level (mm, along i, j, k).
    pub spacing: [f64; 3],
    /// Adam steps taken.
    pub steps: usize,
    /// The loss at the first and at the last step.
    pub loss: (f64, f64),
}

/// An affine transform found by [`register_affine`], in ITK's convention: it takes a point of
/// the fixed image (LPS, mm) to the point of the moving image that lands there.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AffineRegistration {
    /// Rows of `[A | t]`: `y = A x + t`.
    pub matrix: [[f64; 4]; 3],
    /// The centre of rotation the parameters were taken about (the fixed image's centre of
    /// mass), as ITK's `AffineTransform` center.
    pub centre: [f64; 3],
    /// Each pyramid level, coarsest first.
    pub levels: Vec<LevelReport>,
}

impl AffineRegistration {
    /// The moving-image point of a fixed-image point.
    ///
    /// ```
    /// let r = medburn_register::AffineRegistration {
    ///     matrix: [[1.0, 0.0, 0.0, 2.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]],
    ///     centre: [0.0; 3],
    ///     levels: vec![],
    /// };
    /// assert_eq!(r.apply([1.0, 1.0, 1.0]), [3.0, 1.0, 0.0]);
    /// ```
    pub fn apply(&self, p: [f64; 3]) -> [f64; 3] {
        let m = &self.matrix;
        [0, 1, 2].map(|r| m[r][0] * p[0] + m[r][1] * p[1] + m[r][2] * p[2] + m[r][3])
    }

    /// The transform as an ITK `AffineTransform` about [`centre`](Self::centre), to write as a
    /// `.tfm` file.
    pub fn to_itk(&self) -> crate::ItkAffine {
        crate::ItkAffine::from_matrix(self.matrix, self.centre)
    }

    /// The transform as the `[1, 3, 4]` tensor [`medburn_spatial::resample`] takes.
    pub fn tensor(&self, device: &Device) -> Tensor<3> {
        let v: Vec<f64> = self.matrix.iter().flatten().copied().collect();
        Tensor::from_data(TensorData::new(v, [1, 3, 4]), (device, DType::F32))
    }
}

/// Registers `moving` to `fixed` with an affine transform (twelve parameters) in physical
/// space: the two images may have any grids, spacings and orientations. The transform starts
/// as a translation ([`Initialization`]: by default between the images' centres of mass),
/// with its linear part taken about the fixed image's centre of mass; a start where the
/// moving image covers under 1% of the fixed one is refused; each level of a Gaussian pyramid then runs `steps` Adam steps on the
/// similarity between the moving image resampled onto the fixed grid and the fixed image.
/// One channel each; runs on the images' device (with autodiff).
///
/// ```
/// use burn::tensor::Device;
/// use medburn_core::{Geometry, MedImage};
/// use medburn_register::{register_affine, AffineRegistrationConfig};
///
/// // A blob moved by 2 mm along i.
/// let g = Geometry::unit([16, 16, 16])?;
/// let blob = |shift: f64| -> Vec<f32> {
///     g.physical_points().iter().map(|p| {
///         let d2 = (p[0] - 7.5 - shift).powi(2) + (p[1] - 6.0).powi(2) + (p[2] - 8.5).powi(2);
///         (-d2 / 18.0).exp() as f32
///     }).collect()
/// };
/// let device = Device::flex();
/// let fixed = MedImage::from_vec(blob(0.0), 1, g, &device)?;
/// let moving = MedImage::from_vec(blob(2.0), 1, g, &device)?;
/// let config = AffineRegistrationConfig::new().with_levels(1).with_steps(60);
/// let r = register_affine(&fixed, &moving, &config)?;
/// let p = r.apply([7.5, 6.0, 8.5]);
/// assert!((p[0] - 9.5).abs() < 0.2 && (p[1] - 6.0).abs() < 0.2, "{p:?}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn register_affine(
    fixed: &MedImage,
    moving: &MedImage,
    config: &AffineRegistrationConfig,
) -> crate::Result<AffineRegistration> {
    if fixed.channels() != 1 || moving.channels() != 1 {
        return Err(RegistrationError::Shape(format!(
            "one channel each: fixed has {}, moving {}",
            fixed.channels(),
            moving.channels()
        )));
    }
    if config.levels == 0 || config.steps == 0 {
        return Err(RegistrationError::Option(
            "levels and steps must be at least 1".into(),
        ));
    }
    for (name, v) in [
        ("matrix_step", config.matrix_step),
        ("translation_step_mm", config.translation_step_mm),
    ] {
        if !(v.is_finite() && v > 0.0) {
            return Err(RegistrationError::Option(format!(
                "{name} must be finite and > 0, got {v}"
            )));
        }
    }
    let f = host_stats("fixed", fixed)?;
    let m = host_stats("moving", moving)?;
    let ad = fixed.device().autodiff();
    let centre = f.centre_of_mass;
    let start = match config.initialization {
        Initialization::CentreOfMass => {
            [0, 1, 2].map(|a| m.centre_of_mass[a] - f.centre_of_mass[a])
        }
        Initialization::GridCentres => {
            let (cf, cm) = (fixed.geometry().centre(), moving.geometry().centre());
            [0, 1, 2].map(|a| cm[a] - cf[a])
        }
        Initialization::Identity => [0.0; 3],
    };
    // Intensities as the metric wants them.
    let prepare = |image: &MedImage, s: &HostStats| -> Tensor<5> {
        let v = image.voxels().clone().to_device(&ad);
        match config.metric {
            // One scale for both (the fixed image's): the images share a contrast, and their
            // own statistics differ with their fields of view.
            Similarity::Mse => v / f.std.max(1e-12),
            Similarity::Lncc => v,
            Similarity::Mi => (v - s.min) / (s.max - s.min).max(1e-12),
        }
    };
    let (fixed_v, moving_v) = (prepare(fixed, &f), prepare(moving, &m));
    // Parameters: A - I (9, row-major) and the translation beyond `start` (3, mm).
    let mut params = [0.0f64; 12];
    let (mut m1, mut m2) = ([0.0f64; 12], [0.0f64; 12]);
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8f64);
    let mut t_adam = 0i32;
    let lncc = LocalNormalizedCrossCorrelationLossConfig::new()
        .with_kernel_size(9)
        .init();
    let mi = GlobalMutualInformationLossConfig::new()
        .with_num_bins(32)
        .init();
    let mut levels = Vec::new();
    for level in 0..config.levels {
        let factor = (1usize << (config.levels - 1 - level)) as f64;
        let (fg, fl) = pyramid_level(fixed.geometry(), fixed_v.clone(), factor)?;
        let (mg, ml) = pyramid_level(moving.geometry(), moving_v.clone(), factor)?;
        let ones = ml.ones_like();
        let scale = 0.5f64.powi(level as i32);
        let as_tensor = |p: &[f64; 12]| {
            Tensor::<1>::from_data(TensorData::new(p.to_vec(), [12]), (&ad, fl.dtype()))
        };
        // Where the level starts, the moving image must reach some of the fixed one.
        let start_transform = affine_tensor(as_tensor(&params), centre, start);
        let share = resample_voxels(
            ones.clone(),
            &mg,
            &fg,
            Some(start_transform),
            Interpolation::Linear,
        )?
        .mean()
        .into_scalar::<f32>() as f64;
        if share < 0.01 {
            return Err(RegistrationError::Option(format!(
                "the moving image covers {:.2}% of the fixed image at level {level}: the two do \
                 not overlap in space (check their origins and directions, or start from the \
                 centres of mass)",
                100.0 * share
            )));
        }
        let mut first = None;
        let mut last = 0.0;
        for step in 0..config.steps {
            let p = as_tensor(&params).require_grad();
            let transform = affine_tensor(p.clone(), centre, start);
            let warped = resample_voxels(
                ml.clone(),
                &mg,
                &fg,
                Some(transform.clone()),
                Interpolation::Linear,
            )?;
            // Where the moving image reaches on the fixed grid: the resampled ones.
            let cover = || {
                resample_voxels(
                    ones.clone(),
                    &mg,
                    &fg,
                    Some(transform.clone()),
                    Interpolation::Linear,
                )
            };
            let loss = match config.metric {
                Similarity::Mse => {
                    let cover = cover()?;
                    ((warped - fl.clone()).powi_scalar(2) * cover.clone()).sum()
                        / (cover.sum() + 1e-6)
                }
                Similarity::Lncc => lncc.forward(warped, fl.clone())?,
                // Over the voxels the moving image reaches, so that the zeros beyond it are not
                // a tissue class of their own.
                Similarity::Mi => mi
                    .mutual_information_masked(warped, fl.clone(), cover()?)?
                    .mean()
                    .neg(),
            };
            let value = loss.clone().into_scalar::<f32>() as f64;
            if !value.is_finite() {
                return Err(RegistrationError::Option(format!(
                    "the loss became {value} at level {level}, step {step}: do the images overlap?"
                )));
            }
            first.get_or_insert(value);
            last = value;
            let grads = loss.backward();
            let g: Vec<f64> = p
                .grad(&grads)
                .ok_or_else(|| RegistrationError::Readback("no gradient for the transform".into()))?
                .into_data()
                .convert::<f64>()
                .try_to_vec::<f64>()
                .map_err(|e| RegistrationError::Readback(format!("{e:?}")))?;
            // Linear decay to a tenth within the level.
            let decay = 1.0 - 0.9 * step as f64 / config.steps.max(2).saturating_sub(1) as f64;
            t_adam += 1;
            for k in 0..12 {
                let lr = scale
                    * decay
                    * if k < 9 {
                        config.matrix_step
                    } else {
                        config.translation_step_mm
                    };
                m1[k] = b1 * m1[k] + (1.0 - b1) * g[k];
                m2[k] = b2 * m2[k] + (1.0 - b2) * g[k] * g[k];
                let mh = m1[k] / (1.0 - b1.powi(t_adam));
                let vh = m2[k] / (1.0 - b2.powi(t_adam));
                params[k] -= lr * mh / (vh.sqrt() + eps);
            }
        }
        levels.push(LevelReport {
            spacing: fg.spacing(),
            steps: config.steps,
            loss: (first.unwrap_or(last), last),
        });
    }
    Ok(AffineRegistration {
        matrix: affine_host(&params, centre, start),
        centre,
        levels,
    })
}

/// `y = (I + A)(x - c) + c + start + t` as a `[1, 3, 4]` tensor, from `p = [A (9), t (3)]`.
fn affine_tensor(p: Tensor<1>, c: [f64; 3], start: [f64; 3]) -> Tensor<3> {
    let device = p.device();
    let dtype = p.dtype();
    let eye = Tensor::<2>::from_data(
        TensorData::new(vec![1.0f64, 0., 0., 0., 1., 0., 0., 0., 1.], [3, 3]),
        (&device, dtype),
    );
    let a = p.clone().narrow(0, 0, 9).reshape([3, 3]) + eye;
    let t = p.narrow(0, 9, 3).reshape([3, 1]);
    let col =
        |v: [f64; 3]| Tensor::<2>::from_data(TensorData::new(v.to_vec(), [3, 1]), (&device, dtype));
    let shift = [0, 1, 2].map(|i| c[i] + start[i]);
    let offset = col(shift) + t - a.clone().matmul(col(c));
    Tensor::cat(vec![a, offset], 1).reshape([1, 3, 4])
}

/// [`affine_tensor`] on the host.
fn affine_host(p: &[f64; 12], c: [f64; 3], start: [f64; 3]) -> [[f64; 4]; 3] {
    let mut m = [[0.0; 4]; 3];
    for r in 0..3 {
        for k in 0..3 {
            m[r][k] = p[r * 3 + k] + if r == k { 1.0 } else { 0.0 };
        }
        let ac: f64 = (0..3).map(|k| m[r][k] * c[k]).sum();
        m[r][3] = c[r] + start[r] + p[9 + r] - ac;
    }
    m
}

/// An image's grid and voxels at a pyramid level `factor` (1: as it is), smoothed with a
/// Gaussian of `factor / 2` voxels before it is resampled to the coarser grid.
fn pyramid_level(
    geometry: &Geometry,
    voxels: Tensor<5>,
    factor: f64,
) -> crate::Result<(Geometry, Tensor<5>)> {
    if factor <= 1.0 {
        return Ok((*geometry, voxels));
    }
    let spacing = geometry.spacing().map(|s| s * factor);
    let coarse = grid_at_spacing(geometry, spacing)?;
    let smooth = gaussian_smooth_3d(voxels, [factor / 2.0; 3], Padding::Border)?;
    let out = resample_voxels(smooth, geometry, &coarse, None, Interpolation::Linear)?;
    Ok((coarse, out))
}

/// What the registration needs from an image's values, read once.
struct HostStats {
    std: f64,
    min: f64,
    max: f64,
    /// The intensity-weighted centre (LPS, mm) of the values above the minimum.
    centre_of_mass: [f64; 3],
}

fn host_stats(name: &str, image: &MedImage) -> crate::Result<HostStats> {
    let values = image
        .to_vec()
        .map_err(|e| RegistrationError::Readback(e.to_string()))?;
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(RegistrationError::Option(format!(
            "the {name} image has a NaN or infinite voxel (at flat index {i})"
        )));
    }
    let n = values.len() as f64;
    let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = values
        .iter()
        .map(|&v| (v as f64 - mean).powi(2))
        .sum::<f64>()
        / n;
    let min = values.iter().copied().fold(f32::INFINITY, f32::min) as f64;
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    if max <= min {
        return Err(RegistrationError::Option(format!(
            "the {name} image is constant ({min}): nothing to register"
        )));
    }
    let [ni, nj, _] = image.geometry().size();
    let mut weighted = [0.0f64; 3];
    let mut total = 0.0;
    for (flat, &v) in values.iter().enumerate() {
        let w = v as f64 - min;
        if w > 0.0 {
            let idx = [
                (flat % ni) as f64,
                ((flat / ni) % nj) as f64,
                (flat / (ni * nj)) as f64,
            ];
            for a in 0..3 {
                weighted[a] += w * idx[a];
            }
            total += w;
        }
    }
    let index = weighted.map(|s| s / total);
    Ok(HostStats {
        std: var.sqrt(),
        min,
        max,
        centre_of_mass: image.geometry().index_to_physical(index),
    })
}
