//! Affine registration of two images in physical space by gradient descent on medburn's
//! differentiable resampling (instance optimization, as SimpleITK's `ImageRegistrationMethod`,
//! ANTs or deepali): twelve parameters, a resolution pyramid, Adam, and a similarity loss
//! between the moving image resampled onto the fixed grid and the fixed image.

use burn::config::Config;
use burn::tensor::{DType, Device, Tensor, TensorData};
use medburn_core::MedImage;
use medburn_spatial::{resample_voxels, Interpolation};
use serde::{Deserialize, Serialize};

use crate::error::RegistrationError;
use crate::stage::{
    check_single_channel, decay, finite_loss, host_f64, host_gradient, host_stats, mask_voxels,
    prepared_voxels, pyramid, FixedSamples, HostAdam, SimilarityLoss,
};

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
    /// Rigid, similarity or affine.
    #[config(default = "TransformModel::Affine")]
    pub transform: TransformModel,
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
    /// Adam's step for the matrix entries (affine), the angles (radians) and the log scale at
    /// the coarsest level; halved at each finer level and decayed linearly to a tenth within a
    /// level.
    #[config(default = 0.01)]
    pub matrix_step: f64,
    /// How many of the fixed image's voxels the MSE and MI losses are computed on at each
    /// level, drawn at random once per level (ITK's `RANDOM` sampling); 0: every voxel. A step
    /// then costs the samples, not the grid: 20,000 are plenty for 12 parameters. LNCC always
    /// uses every voxel (it needs their neighbourhoods).
    #[config(default = 0)]
    pub samples: usize,
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
    /// Wall time of the level (preparing its images included), seconds.
    pub seconds: f64,
    /// Of which the steps, seconds.
    pub step_seconds: f64,
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
    register_affine_with_progress(fixed, moving, None, config, &mut |_| {})
}

/// [`register_affine`] with a fixed-image mask (one channel on the fixed grid: only the voxels
/// above 0 are compared; an empty mask is refused), calling `progress` after every step (for a
/// progress bar).
pub fn register_affine_with_progress(
    fixed: &MedImage,
    moving: &MedImage,
    fixed_mask: Option<&MedImage>,
    config: &AffineRegistrationConfig,
    progress: &mut dyn FnMut(StepProgress),
) -> crate::Result<AffineRegistration> {
    check_single_channel(fixed, moving)?;
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
    let f = host_stats("fixed", fixed, fixed_mask)?;
    let m = host_stats("moving", moving, None)?;
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
    let fixed_v = prepared_voxels(fixed, &f, &f, config.metric, &ad);
    let moving_v = prepared_voxels(moving, &m, &f, config.metric, &ad);
    let model = config.transform;
    let n = model.parameters();
    let mut params = vec![0.0f64; n];
    let mut adam = HostAdam::new(n);
    let similarity = SimilarityLoss::new(config.metric, 9);
    let fixed_pyramid = pyramid(fixed.geometry(), fixed_v, config.levels)?;
    let mask_pyramid = fixed_mask
        .map(|m| pyramid(fixed.geometry(), mask_voxels(m, fixed, &ad)?, config.levels))
        .transpose()?;
    let moving_pyramid = pyramid(moving.geometry(), moving_v, config.levels)?;
    let mut levels = Vec::new();
    for level in 0..config.levels {
        let level_start = std::time::Instant::now();
        let (fg, fl) = fixed_pyramid[level].clone();
        let mask = mask_pyramid.as_ref().map(|p| p[level].1.clone());
        let (mg, ml) = moving_pyramid[level].clone();
        let ones = ml.ones_like();
        let scale = 0.5f64.powi(level as i32);
        let as_tensor = |p: &[f64]| {
            Tensor::<1>::from_data(TensorData::new(p.to_vec(), [p.len()]), (&ad, fl.dtype()))
        };
        // Where the level starts, the moving image must reach some of the fixed one (checked
        // on the coarsest grids: the share does not depend on the resolution).
        let start_transform = model.tensor(as_tensor(&params), centre, start);
        let (coarse_fixed, coarse_moving) = (&fixed_pyramid[0].0, &moving_pyramid[0]);
        let share = resample_voxels(
            coarse_moving.1.ones_like(),
            &coarse_moving.0,
            coarse_fixed,
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
        let samples = (config.samples > 0
            && config.samples < fg.num_voxels()
            && config.metric != Similarity::Lncc)
            .then(|| FixedSamples::draw(&fg, &fl, mask.as_ref(), config.samples, level as u64))
            .transpose()?;
        let mut first = None;
        let mut last = 0.0;
        let steps_start = std::time::Instant::now();
        for step in 0..config.steps {
            let p = as_tensor(&params).require_grad();
            let transform = model.tensor(p.clone(), centre, start);
            let loss = match &samples {
                Some(s) => {
                    let warped = s.read(ml.clone(), &mg, transform.clone())?;
                    similarity.forward(warped, s.values.clone(), None, || {
                        s.read(ones.clone(), &mg, transform.clone())
                    })?
                }
                None => {
                    let warped = resample_voxels(
                        ml.clone(),
                        &mg,
                        &fg,
                        Some(transform.clone()),
                        Interpolation::Linear,
                    )?;
                    similarity.forward(warped, fl.clone(), mask.clone(), || {
                        Ok(resample_voxels(
                            ones.clone(),
                            &mg,
                            &fg,
                            Some(transform.clone()),
                            Interpolation::Linear,
                        )?)
                    })?
                }
            };
            let value = finite_loss(&loss, level, step)?;
            first.get_or_insert(value);
            last = value;
            let g = host_gradient(&p, &loss.backward())?;
            let decay = decay(step, config.steps);
            adam.step(&mut params, &g, |k| {
                scale
                    * decay
                    * if k + 3 < n {
                        config.matrix_step
                    } else {
                        config.translation_step_mm
                    }
            });
            progress(StepProgress {
                level,
                step,
                loss: value,
            });
        }
        levels.push(LevelReport {
            spacing: fg.spacing(),
            steps: config.steps,
            loss: (first.unwrap_or(last), last),
            seconds: level_start.elapsed().as_secs_f64(),
            step_seconds: steps_start.elapsed().as_secs_f64(),
        });
    }
    let final_transform = model.tensor(as_host_tensor(&params), centre, start);
    let v = host_f64(&final_transform)?;
    let matrix = [0, 1, 2].map(|r| [0, 1, 2, 3].map(|c| v[r * 4 + c]));
    Ok(AffineRegistration {
        matrix,
        centre,
        levels,
    })
}

/// Parameters in f64 on the CPU, for the final matrix without f32 rounding.
fn as_host_tensor(p: &[f64]) -> Tensor<1> {
    Tensor::<1>::from_data(
        TensorData::new(p.to_vec(), [p.len()]),
        (&Device::flex(), DType::F64),
    )
}

/// Where a registration stage is, for a progress bar.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepProgress {
    /// The pyramid level (0: the coarsest).
    pub level: usize,
    /// The step within the level.
    pub step: usize,
    /// The loss at this step.
    pub loss: f64,
}

/// The transforms the linear stage fits, as ITK's `Euler3DTransform`,
/// `Similarity3DTransform` and `AffineTransform`: each about the fixed image's centre of mass.
///
/// ```
/// use medburn_register::TransformModel;
/// assert_eq!([TransformModel::Rigid, TransformModel::Similarity, TransformModel::Affine].map(|m| m.parameters()), [6, 7, 12]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransformModel {
    /// Rotation (three angles, radians, `R = Rz Ry Rx`) and translation: 6 parameters.
    Rigid,
    /// Rigid with one isotropic scale (as its logarithm): 7 parameters.
    Similarity,
    /// Any linear map and translation: 12 parameters.
    #[default]
    Affine,
}

impl TransformModel {
    /// How many numbers the model has; the last three are the translation (mm).
    pub fn parameters(self) -> usize {
        match self {
            TransformModel::Rigid => 6,
            TransformModel::Similarity => 7,
            TransformModel::Affine => 12,
        }
    }

    /// The linear part (3 x 3) from the parameters before the translation; zero parameters
    /// are the identity.
    fn linear(self, p: Tensor<1>) -> Tensor<2> {
        let device = p.device();
        let dtype = p.dtype();
        let eye = Tensor::<2>::from_data(
            TensorData::new(vec![1.0f64, 0., 0., 0., 1., 0., 0., 0., 1.], [3, 3]),
            (&device, dtype),
        );
        match self {
            TransformModel::Affine => p.narrow(0, 0, 9).reshape([3, 3]) + eye,
            TransformModel::Rigid => rotation(p.narrow(0, 0, 3)),
            TransformModel::Similarity => {
                let s = p.clone().narrow(0, 3, 1).exp().reshape([1, 1]);
                rotation(p.narrow(0, 0, 3)) * s
            }
        }
    }

    /// The transform of parameters `params` (as [`register_affine`] optimizes them: zeros are
    /// the identity; the last three are the translation in mm) about `centre`, `y = L(p) (x -
    /// c) + c + t`, as the `[1, 3, 4]` tensor `medburn_spatial::resample` takes (fixed point ->
    /// moving point). Differentiable with respect to the parameters.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_register::TransformModel;
    /// // A rotation of 90 degrees about z (rigid: angles x, y, z, then the translation).
    /// let p = Tensor::<1>::from_floats([0.0, 0.0, std::f32::consts::FRAC_PI_2, 0.0, 0.0, 0.0], &Device::flex());
    /// let m = TransformModel::Rigid.transform(p, [0.0; 3])?;
    /// let v: Vec<f32> = m.into_data().try_to_vec().unwrap();
    /// assert!((v[1] + 1.0).abs() < 1e-6 && (v[4] - 1.0).abs() < 1e-6); // x -> y
    /// # Ok::<(), medburn_register::RegistrationError>(())
    /// ```
    pub fn transform(self, params: Tensor<1>, centre: [f64; 3]) -> crate::Result<Tensor<3>> {
        let [n] = params.dims();
        if n != self.parameters() {
            return Err(RegistrationError::Shape(format!(
                "{self:?} takes {} parameters, got {n}",
                self.parameters()
            )));
        }
        Ok(self.tensor(params, centre, [0.0; 3]))
    }

    /// `y = L(p) (x - c) + c + start + t` as a `[1, 3, 4]` tensor.
    fn tensor(self, p: Tensor<1>, c: [f64; 3], start: [f64; 3]) -> Tensor<3> {
        let n = self.parameters();
        let device = p.device();
        let dtype = p.dtype();
        let a = self.linear(p.clone());
        let t = p.narrow(0, n - 3, 3).reshape([3, 1]);
        let col = |v: [f64; 3]| {
            Tensor::<2>::from_data(TensorData::new(v.to_vec(), [3, 1]), (&device, dtype))
        };
        let shift = [0, 1, 2].map(|i| c[i] + start[i]);
        let offset = col(shift) + t - a.clone().matmul(col(c));
        Tensor::cat(vec![a, offset], 1).reshape([1, 3, 4])
    }
}

/// `Rz Ry Rx` from the angles `(x, y, z)` (radians), differentiable.
fn rotation(angles: Tensor<1>) -> Tensor<2> {
    let (c, s) = (angles.clone().cos(), angles.sin());
    let at = |t: &Tensor<1>, i: usize| t.clone().narrow(0, i, 1);
    let (cx, cy, cz) = (at(&c, 0), at(&c, 1), at(&c, 2));
    let (sx, sy, sz) = (at(&s, 0), at(&s, 1), at(&s, 2));
    // Rows of Rz Ry Rx.
    let entries = vec![
        cz.clone() * cy.clone(),
        cz.clone() * sy.clone() * sx.clone() - sz.clone() * cx.clone(),
        cz.clone() * sy.clone() * cx.clone() + sz.clone() * sx.clone(),
        sz.clone() * cy.clone(),
        sz.clone() * sy.clone() * sx.clone() + cz.clone() * cx.clone(),
        sz * sy.clone() * cx.clone() - cz * sx.clone(),
        sy.neg(),
        cy.clone() * sx,
        cy * cx,
    ];
    Tensor::cat(entries, 0).reshape([3, 3])
}
