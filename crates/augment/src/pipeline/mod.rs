//! [`Pipeline`]: a list of transforms drawn on the host and applied on the device, with every
//! run of spatial transforms read through one composed map (one interpolation).

mod drawn;
mod transform;

pub use drawn::Drawn;
pub use transform::{Compose, OneOf, RandomApply, Transform};

use burn::tensor::Tensor;
use medburn_core::{dhw_to_ijk, ijk_to_dhw, Geometry};
use medburn_ops::Interpolation;
use rand::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::batch::select;
use crate::error::{check_pair, AugmentError, Result};
use crate::intensity::bias_field::apply_bias_field;
use crate::intensity::blur::{apply_blur, apply_sharpen};
use crate::intensity::contrast::{apply_brightness, apply_contrast};
use crate::intensity::gamma::{apply_gamma, RandomGamma};
use crate::intensity::histogram::apply_histogram_shift;
use crate::intensity::kspace::{apply_ghosting, apply_motion, apply_spike};
use crate::intensity::noise::{apply_gaussian_noise, apply_rician_noise};
use crate::intensity::resolution::apply_resolution;
use crate::random::{chance, uniform};
use crate::spatial::affine::{voxel_matrices, RandomAffine};
use crate::spatial::elastic::ControlField;
use crate::spatial::flip::{flip_matrix, RandomFlip};
use crate::spatial::rot90::check_square;
use crate::spatial::{check_label_interpolation, ImagePadding, SpatialMap};
use crate::IDENTITY;
use transform::validate_all;

/// An augmentation pipeline: transforms in order, plus how the spatial ones resample (image
/// padding, label interpolation). Serde: TOML or JSON, every field optional.
///
/// Draw with [`Pipeline::sample`] (host, from any RNG, a fixed number of draws per batch for a
/// given pipeline and patch), apply with [`Pipeline::apply`] (device, whole batch). Consecutive
/// spatial transforms are composed into one map and read once; an intensity transform between
/// two spatial ones ends a run (its result is resampled by the next). Labels follow the spatial
/// transforms only. [`Pipeline::invert`] undoes the spatial part on a prediction.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_augment::Pipeline;
/// let pipeline: Pipeline = toml::from_str(r#"
///     [[transforms]]
///     type = "affine"
///     prob = 1.0
///     [[transforms]]
///     type = "elastic"
///     prob = 1.0
///     [[transforms]]
///     type = "gaussian_noise"
/// "#).unwrap();
/// let device = Device::flex();
/// let image = Tensor::<5>::ones([2, 1, 8, 8, 8], &device);
/// let label = Tensor::<5>::zeros([2, 1, 8, 8, 8], &device);
/// let (image, label) = pipeline.run(42, image, Some(label))?;
/// assert_eq!(label.unwrap().dims(), image.dims());
/// # Ok::<(), medburn_augment::AugmentError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Pipeline {
    /// The steps, in order.
    pub transforms: Vec<Transform>,
    /// What image voxels moved in from outside read.
    pub image_padding: ImagePadding,
    /// How label maps are resampled: [`Interpolation::Nearest`] (the default) or
    /// [`Interpolation::LabelLinear`] (`"label_linear"`; the old `"one_hot_linear"` reads as
    /// it too).
    pub label_interpolation: Interpolation,
}

impl Default for Pipeline {
    /// The main job's pipeline ([`Pipeline::BRAIN_MR_TOML`]): affine p 0.2, elastic p 0.1,
    /// left-right flip p 0.5, Gaussian noise p 0.15, blur p 0.1, contrast p 0.15, gamma p 0.3.
    fn default() -> Self {
        Self::brain_mr()
    }
}

/// Everything a pipeline drew for one batch: what [`Pipeline::apply`] applies, and what a log
/// may keep (serde) to replay the batch exactly.
///
/// ```
/// use rand::SeedableRng;
/// let g = medburn_core::Geometry::unit([8, 8, 8])?;
/// let p = medburn_augment::Pipeline::default().sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0), &g, 3)?;
/// assert_eq!(p.batch, 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PipelineParams {
    /// Samples drawn for.
    pub batch: usize,
    /// Patch size `(i, j, k)` drawn for.
    pub size: [usize; 3],
    /// Per leaf transform reached, in application order.
    pub drawn: Vec<Drawn>,
}

impl PipelineParams {
    /// Per sample, the voxel matrix (output index -> input index) of the whole spatial chain on
    /// `geometry`, or `None` when the chain has an elastic displacement (no matrix says it).
    ///
    /// ```
    /// use medburn_augment::{Drawn, PipelineParams};
    /// let g = medburn_core::Geometry::unit([4, 4, 4])?;
    /// let p = PipelineParams { batch: 1, size: [4, 4, 4], drawn: vec![Drawn::Flip(vec![Some([true, false, false])])] };
    /// assert_eq!(p.voxel_matrices(&g)?.unwrap()[0][0], [-1.0, 0.0, 0.0, 3.0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn voxel_matrices(&self, geometry: &Geometry) -> Result<Option<Vec<crate::Matrix4>>> {
        Ok(self.spatial_map(geometry)?.only_matrices())
    }

    /// Every spatial record of the chain in one map (intensity steps aside), on `geometry`.
    fn spatial_map(&self, geometry: &Geometry) -> Result<SpatialMap> {
        let mut g = *geometry;
        let mut map = SpatialMap::new(g.size(), self.batch);
        for d in self.drawn.iter().filter(|d| d.is_spatial()) {
            push_spatial(&mut map, &mut g, d)?;
        }
        Ok(map)
    }

    /// As [`PipelineParams::voxel_matrices`], as physical transforms (output point -> input
    /// point, ITK's convention: what `medburn_spatial::resample_voxels` takes) when the chain
    /// keeps the grid (no crop).
    ///
    /// ```
    /// use medburn_augment::{PipelineParams, IDENTITY};
    /// let g = medburn_core::Geometry::unit([4, 4, 4])?;
    /// let p = PipelineParams { batch: 2, size: [4, 4, 4], drawn: vec![] };
    /// assert_eq!(p.physical_matrices(&g)?.unwrap(), vec![IDENTITY; 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn physical_matrices(&self, geometry: &Geometry) -> Result<Option<Vec<crate::Matrix4>>> {
        Ok(self.voxel_matrices(geometry)?.map(|ms| {
            ms.iter()
                .map(|m| crate::matrix::voxel_to_physical(geometry, m))
                .collect()
        }))
    }
}

/// Per sample: a coin with `prob` and the draw, whatever the coin says (so the number of draws
/// never depends on outcomes); `None` where the coin or `active` says no.
fn per_sample<T>(
    rng: &mut dyn RngCore,
    active: &[bool],
    prob: f64,
    mut draw: impl FnMut(&mut dyn RngCore) -> T,
) -> Vec<Option<T>> {
    active
        .iter()
        .map(|&a| {
            let on = chance(rng, prob);
            let v = draw(rng);
            (a && on).then_some(v)
        })
        .collect()
}

fn sample_into(
    transforms: &[Transform],
    rng: &mut dyn RngCore,
    g: &mut Geometry,
    active: &[bool],
    out: &mut Vec<Drawn>,
) -> Result<()> {
    for t in transforms {
        let d = match t {
            Transform::Affine(t) => Drawn::Affine(per_sample(rng, active, t.prob, |r| t.draw(r))),
            Transform::Elastic(t) => {
                let geometry = *g;
                Drawn::Elastic(per_sample(rng, active, t.prob, |r| t.draw(r, &geometry)))
            }
            Transform::Flip(t) => Drawn::Flip(
                active
                    .iter()
                    .map(|&a| {
                        let f = t.draw(rng);
                        a.then_some(f)
                    })
                    .collect(),
            ),
            Transform::Rot90(t) => Drawn::Rot90(per_sample(rng, active, t.prob, |r| t.draw(r))),
            Transform::Crop(t) => {
                let size = g.size();
                let samples = active
                    .iter()
                    .map(|_| t.draw(rng, size))
                    .collect::<Result<Vec<_>>>()?;
                *g = g.with_size(t.size)?;
                Drawn::Crop(samples)
            }
            Transform::Anisotropy(t) => {
                Drawn::Resolution(per_sample(rng, active, t.prob, |r| t.draw(r)))
            }
            Transform::LowResolution(t) => {
                Drawn::Resolution(per_sample(rng, active, t.prob, |r| t.draw(r)))
            }
            Transform::Rescale(t) => Drawn::Rescale {
                spec: t.clone(),
                on: active.to_vec(),
            },
            Transform::ZNormalize(t) => Drawn::ZNormalize {
                spec: t.clone(),
                on: active.to_vec(),
            },
            Transform::ClipPercentiles(t) => Drawn::ClipPercentiles {
                spec: t.clone(),
                on: active.to_vec(),
            },
            Transform::Gamma(t) => Drawn::Gamma(per_sample(rng, active, t.prob, |r| t.draw(r))),
            Transform::Contrast(t) => Drawn::Contrast {
                factors: per_sample(rng, active, t.prob, |r| t.draw(r)),
                preserve_range: t.preserve_range,
            },
            Transform::Brightness(t) => {
                Drawn::Brightness(per_sample(rng, active, t.prob, |r| t.draw(r)))
            }
            Transform::GaussianNoise(t) => {
                Drawn::GaussianNoise(per_sample(rng, active, t.prob, |r| t.draw(r)))
            }
            Transform::RicianNoise(t) => {
                Drawn::RicianNoise(per_sample(rng, active, t.prob, |r| t.draw(r)))
            }
            Transform::GaussianBlur(t) => {
                Drawn::GaussianBlur(per_sample(rng, active, t.prob, |r| t.draw(r)))
            }
            Transform::Sharpen(t) => Drawn::Sharpen(per_sample(rng, active, t.prob, |r| t.draw(r))),
            Transform::BiasField(t) => {
                Drawn::BiasField(per_sample(rng, active, t.prob, |r| t.draw(r)))
            }
            Transform::HistogramShift(t) => {
                Drawn::HistogramShift(per_sample(rng, active, t.prob, |r| t.draw(r)))
            }
            Transform::Ghosting(t) => {
                Drawn::Ghosting(per_sample(rng, active, t.prob, |r| t.draw(r)))
            }
            Transform::Spike(t) => Drawn::Spike(per_sample(rng, active, t.prob, |r| t.draw(r))),
            Transform::Motion(t) => Drawn::Motion(per_sample(rng, active, t.prob, |r| t.draw(r))),
            Transform::Compose(c) => {
                sample_into(&c.transforms, rng, g, active, out)?;
                continue;
            }
            Transform::OneOf(o) => {
                let choice: Vec<usize> = active
                    .iter()
                    .map(|_| o.pick(uniform(rng, 0.0, 1.0)))
                    .collect();
                for (i, child) in o.transforms.iter().enumerate() {
                    let on: Vec<bool> = active
                        .iter()
                        .zip(&choice)
                        .map(|(&a, &c)| a && c == i)
                        .collect();
                    sample_into(std::slice::from_ref(child), rng, g, &on, out)?;
                }
                continue;
            }
            Transform::RandomApply(r) => {
                let on: Vec<bool> = active.iter().map(|&a| chance(rng, r.prob) && a).collect();
                sample_into(&r.transforms, rng, g, &on, out)?;
                continue;
            }
        };
        out.push(d);
    }
    Ok(())
}

impl Pipeline {
    /// The pipeline shipped as the main job's default, as TOML (`configs/brain_mr.toml` of
    /// this crate).
    pub const BRAIN_MR_TOML: &'static str = include_str!("../../configs/brain_mr.toml");

    /// A pipeline of `transforms` with zero image padding and nearest labels.
    ///
    /// ```
    /// assert!(medburn_augment::Pipeline::new(vec![]).transforms.is_empty());
    /// ```
    pub fn new(transforms: Vec<Transform>) -> Self {
        Self {
            transforms,
            image_padding: ImagePadding::Zeros,
            label_interpolation: Interpolation::Nearest,
        }
    }

    /// A pipeline that does nothing (for validation batches).
    ///
    /// ```
    /// assert!(medburn_augment::Pipeline::none().transforms.is_empty());
    /// ```
    pub fn none() -> Self {
        Self::new(Vec::new())
    }

    /// The main job's pipeline, built in code; a test checks that [`Pipeline::BRAIN_MR_TOML`]
    /// reads back as the same.
    ///
    /// ```
    /// let p = medburn_augment::Pipeline::brain_mr();
    /// assert_eq!(p, toml::from_str(medburn_augment::Pipeline::BRAIN_MR_TOML).unwrap());
    /// ```
    pub fn brain_mr() -> Self {
        use crate::{RandomContrast, RandomElastic, RandomGaussianBlur, RandomGaussianNoise};
        Self::new(vec![
            Transform::Affine(RandomAffine::default()),
            Transform::Elastic(RandomElastic {
                prob: 0.1,
                ..Default::default()
            }),
            Transform::Flip(RandomFlip::default()),
            Transform::GaussianNoise(RandomGaussianNoise::default()),
            Transform::GaussianBlur(RandomGaussianBlur {
                prob: 0.1,
                ..Default::default()
            }),
            Transform::Contrast(RandomContrast::default()),
            Transform::Gamma(RandomGamma::default()),
        ])
    }

    /// Fails on the first value out of range, naming its field, a crop below the top level, or
    /// a label interpolation other than nearest and label-linear.
    ///
    /// ```
    /// let mut p = medburn_augment::Pipeline::default();
    /// p.transforms.push(medburn_augment::Transform::Gamma(medburn_augment::RandomGamma { prob: -0.1, ..Default::default() }));
    /// assert!(p.validate().unwrap_err().to_string().contains("gamma.prob"));
    /// let mut p = medburn_augment::Pipeline::default();
    /// p.label_interpolation = medburn_augment::Interpolation::BSpline;
    /// assert!(p.validate().unwrap_err().to_string().contains("label_interpolation"));
    /// ```
    pub fn validate(&self) -> Result<()> {
        check_label_interpolation(self.label_interpolation)?;
        validate_all(&self.transforms, true)
    }

    /// Draws everything for a batch of `batch` patches on `geometry`: for a given pipeline and
    /// patch size, always the same number of values from `rng`, so a saved RNG position
    /// resumes exactly. Training uses `rand_chacha::ChaCha8Rng`.
    ///
    /// ```
    /// use rand::SeedableRng;
    /// let g = medburn_core::Geometry::unit([8, 8, 8])?;
    /// let p = medburn_augment::Pipeline::default();
    /// let a = p.sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(9), &g, 4)?;
    /// let b = p.sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(9), &g, 4)?;
    /// assert_eq!(a, b);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sample(
        &self,
        rng: &mut dyn RngCore,
        geometry: &Geometry,
        batch: usize,
    ) -> Result<PipelineParams> {
        self.validate()?;
        let mut g = *geometry;
        let mut drawn = Vec::new();
        sample_into(
            &self.transforms,
            rng,
            &mut g,
            &vec![true; batch],
            &mut drawn,
        )?;
        Ok(PipelineParams {
            batch,
            size: geometry.size(),
            drawn,
        })
    }

    /// Applies drawn params to `image` `[N, C, D, H, W]` and an optional `label` (float class
    /// indices, `[N, 1, D, H, W]`, or several channels with nearest interpolation) on patches
    /// of `geometry` (rotations and translations in its physical space, about its centre).
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use rand::SeedableRng;
    /// let g = medburn_core::Geometry::new([8, 8, 4], [0.0; 3], [1.0, 1.0, 2.0], medburn_core::Direction::identity())?;
    /// let p = medburn_augment::Pipeline::default();
    /// let params = p.sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0), &g, 1)?;
    /// let (y, _) = p.apply(&params, &g, Tensor::<5>::ones([1, 1, 4, 8, 8], &Device::flex()), None)?;
    /// assert_eq!(y.dims(), [1, 1, 4, 8, 8]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(
        &self,
        params: &PipelineParams,
        geometry: &Geometry,
        image: Tensor<5>,
        label: Option<Tensor<5>>,
    ) -> Result<(Tensor<5>, Option<Tensor<5>>)> {
        let dims = image.dims();
        // Every check before the first tensor op: a refused call does no work.
        check_pair(dims, label.as_ref().map(|l| l.dims()))?;
        check_params(params, geometry, dims)?;
        let n = dims[0];
        let (mut image, mut label) = (image, label);
        let mut g = *geometry;
        let mut map = SpatialMap::new(g.size(), n);
        for d in &params.drawn {
            if d.is_spatial() {
                push_spatial(&mut map, &mut g, d)?;
                continue;
            }
            if !map.is_empty() {
                (image, label) =
                    map.resample(image, label, self.image_padding, self.label_interpolation)?;
                map = SpatialMap::new(g.size(), n);
            }
            image = apply_intensity(d, image, &g)?;
        }
        map.resample(image, label, self.image_padding, self.label_interpolation)
    }

    /// Samples with a ChaCha8 RNG seeded by `seed` and applies, on unit-spacing,
    /// identity-direction patches: the shortest way to try a pipeline.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// let x = Tensor::<5>::ones([1, 1, 4, 4, 4], &Device::flex());
    /// let (y, _) = medburn_augment::Pipeline::none().run(0, x.clone(), None)?;
    /// assert!(y.equal(x).all().into_scalar::<bool>());
    /// # Ok::<(), medburn_augment::AugmentError>(())
    /// ```
    pub fn run(
        &self,
        seed: u64,
        image: Tensor<5>,
        label: Option<Tensor<5>>,
    ) -> Result<(Tensor<5>, Option<Tensor<5>>)> {
        let dims = image.dims();
        if dims.contains(&0) {
            return Err(AugmentError::Empty(dims));
        }
        let g = Geometry::unit(dhw_to_ijk([dims[2], dims[3], dims[4]]))?;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let params = self.sample(&mut rng, &g, dims[0])?;
        self.apply(&params, &g, image, label)
    }

    /// Undoes the spatial part of an applied chain on `prediction` `[N, C, ...]` (on the grid
    /// the chain wrote: a crop's size, else the patch's), bringing it back to `geometry`'s
    /// grid (MONAI's `Invertd`, for test-time augmentation): matrices inverted exactly,
    /// displacements by fixed-point iteration. `label` chooses nearest (label maps) or linear
    /// (images, probabilities); voxels that came from outside read 0.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_augment::{Pipeline, RandomFlip, Transform};
    /// use rand::SeedableRng;
    /// let p = Pipeline::new(vec![Transform::Flip(RandomFlip { prob: 1.0, axes: [true; 3] })]);
    /// let g = medburn_core::Geometry::unit([4, 4, 4])?;
    /// let x = Tensor::<5>::random([1, 1, 4, 4, 4], burn::tensor::Distribution::Default, &Device::flex());
    /// let params = p.sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0), &g, 1)?;
    /// let (y, _) = p.apply(&params, &g, x.clone(), None)?;
    /// let back = p.invert(&params, &g, y, false)?;
    /// assert!(back.equal(x).all().into_scalar::<bool>());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn invert(
        &self,
        params: &PipelineParams,
        geometry: &Geometry,
        prediction: Tensor<5>,
        label: bool,
    ) -> Result<Tensor<5>> {
        let n = params.batch;
        let map = params.spatial_map(geometry)?;
        let dims = prediction.dims();
        let out = map.output_size();
        if dims[0] != n || dims[2..] != ijk_to_dhw(out) || dims.contains(&0) {
            return Err(AugmentError::Params(format!(
                "prediction {dims:?} is not on the grid the chain wrote: {n} samples of {out:?} (i, j, k)"
            )));
        }
        map.inverse()?.resample_one(prediction, label)
    }
}

/// Fails unless `params` were drawn for this batch and patch.
fn check_params(params: &PipelineParams, geometry: &Geometry, dims: [usize; 5]) -> Result<()> {
    let size = dhw_to_ijk([dims[2], dims[3], dims[4]]);
    if geometry.size() != size {
        return Err(AugmentError::GeometryMismatch {
            geometry: geometry.size(),
            image: dims,
        });
    }
    if params.size != size {
        return Err(AugmentError::Params(format!(
            "params were drawn for patches of {:?} (i, j, k), the batch is {dims:?}",
            params.size
        )));
    }
    crate::error::check_batch("pipeline", params.batch, dims[0])?;
    for d in &params.drawn {
        crate::error::check_batch("transform", d.batch(), dims[0])?;
    }
    Ok(())
}

/// Adds a spatial record to the map of the current run; a crop also changes the grid.
fn push_spatial(map: &mut SpatialMap, g: &mut Geometry, d: &Drawn) -> Result<()> {
    let size = g.size();
    match d {
        Drawn::Affine(s) => {
            if s.iter().any(Option::is_some) {
                map.push_matrices(voxel_matrices(s, g)?, size);
            }
        }
        Drawn::Flip(s) => {
            if !d.is_noop() {
                let m = s
                    .iter()
                    .map(|f| flip_matrix(f.unwrap_or_default(), size))
                    .collect();
                map.push_matrices(m, size);
            }
        }
        Drawn::Rot90(s) => {
            if s.iter().any(Option::is_some) {
                let mut m = Vec::with_capacity(s.len());
                for r in s {
                    m.push(match r {
                        Some(r) => {
                            check_square(r, size)?;
                            r.matrix(size)
                        }
                        None => IDENTITY,
                    });
                }
                map.push_matrices(m, size);
            }
        }
        Drawn::Elastic(s) => {
            if s.iter().any(Option::is_some) {
                map.push_field(ControlField::new(s, g)?);
            }
        }
        Drawn::Crop(s) => {
            let Some(first) = s.first() else {
                return Ok(());
            };
            let crop = first.size;
            if s.iter()
                .any(|c| c.size != crop || (0..3).any(|a| c.offset[a] + c.size[a] > size[a]))
            {
                return Err(AugmentError::Params(format!(
                    "crops {s:?} do not fit patches of {size:?} with one size"
                )));
            }
            map.push_matrices(s.iter().map(|c| c.matrix()).collect(), crop);
            *g = g.with_size(crop)?;
        }
        _ => unreachable!("push_spatial takes spatial records only"),
    }
    Ok(())
}

/// Applies an image-only record.
fn apply_intensity(d: &Drawn, image: Tensor<5>, g: &Geometry) -> Result<Tensor<5>> {
    if d.is_noop() {
        return Ok(image);
    }
    let flags = |on: &[bool]| on.iter().map(|&o| o.then_some(())).collect::<Vec<_>>();
    let spacing = g.spacing();
    Ok(match d {
        Drawn::Resolution(s) => apply_resolution(s, image)?,
        Drawn::Rescale { spec, on } => {
            spec.validate()?;
            let out = spec.apply(image.clone())?;
            select(&flags(on), image, out)
        }
        Drawn::ZNormalize { spec, on } => {
            let out = spec.apply(image.clone())?;
            select(&flags(on), image, out)
        }
        Drawn::ClipPercentiles { spec, on } => {
            spec.validate()?;
            let out = spec.apply(image.clone())?;
            select(&flags(on), image, out)
        }
        Drawn::Gamma(s) => apply_gamma(s, image)?,
        Drawn::Contrast {
            factors,
            preserve_range,
        } => apply_contrast(factors, *preserve_range, image)?,
        Drawn::Brightness(s) => apply_brightness(s, image)?,
        Drawn::GaussianNoise(s) => apply_gaussian_noise(s, image)?,
        Drawn::RicianNoise(s) => apply_rician_noise(s, image)?,
        Drawn::GaussianBlur(s) => apply_blur(s, image, spacing)?,
        Drawn::Sharpen(s) => apply_sharpen(s, image, spacing)?,
        Drawn::BiasField(s) => apply_bias_field(s, image)?,
        Drawn::HistogramShift(s) => apply_histogram_shift(s, image)?,
        Drawn::Ghosting(s) => apply_ghosting(s, image)?,
        Drawn::Spike(s) => apply_spike(s, image)?,
        Drawn::Motion(s) => apply_motion(s, image, g)?,
        _ => unreachable!("apply_intensity takes image-only records"),
    })
}
