//! Spatial transforms and the one resampling of a chain.
//!
//! Every spatial transform is an output-to-input map on voxel indices: a matrix (affine, flip,
//! 90-degree rotation, crop) or a smooth displacement (elastic). A run of them is collected into
//! one [`SpatialMap`]; neighbouring matrices are multiplied on the host, and the image is read
//! once through the composed map. Without a displacement that is the fused affine sampling op
//! (no grid in memory); with one, a grid of positions is built stage by stage (matrices as
//! matmuls, displacements as B-spline evaluations of their control grids at the current
//! positions) and the image is sampled from it once.

pub(crate) mod affine;
pub(crate) mod crop;
pub(crate) mod elastic;
pub(crate) mod flip;
pub(crate) mod rot90;

use burn::tensor::{Tensor, TensorData};
use medburn_core::ijk_to_dhw;
use medburn_ops::{
    grid_sample_3d, label_values, voxel_affine_sample_3d, Interpolation, Padding, SampleOptions,
};
use serde::{Deserialize, Serialize};

use crate::error::{AugmentError, Result};
use crate::matrix::{compose_transforms, invert, is_finite, Matrix4, IDENTITY};

/// What image voxels moved in from outside the patch read. Labels always read 0 (background).
///
/// ```
/// use medburn_augment::ImagePadding;
/// assert_eq!(ImagePadding::default(), ImagePadding::Zeros);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImagePadding {
    /// 0, as SimpleITK's `Resample` with default value 0 and MONAI's `RandAffine`
    /// (`padding_mode="zeros"`): skull-stripped or background-zero MR reads as background.
    /// Positions within half a voxel of the edge are clamped to it (ITK's buffer rule).
    #[default]
    Zeros,
    /// The nearest edge voxel (PyTorch `"border"`): for images whose background is not 0.
    Border,
}

impl ImagePadding {
    fn padding(self) -> Padding {
        match self {
            ImagePadding::Zeros => Padding::Itk,
            ImagePadding::Border => Padding::Border,
        }
    }
}

/// A stage of a composed map, applied to output positions: a voxel matrix per sample, or a
/// displacement given by a B-spline control grid (its inverse, when undoing a chain).
#[derive(Clone, Debug)]
pub(crate) enum Stage {
    /// Output index -> input index, one per sample.
    Matrix(Vec<Matrix4>),
    /// `p -> p + u(p)`, `u` in voxels of a grid of `size` `[i, j, k]`.
    Field {
        field: elastic::ControlField,
        size: [usize; 3],
        inverse: bool,
    },
}

/// The composed output-to-input map of a run of spatial transforms on one batch.
#[derive(Clone, Debug)]
pub(crate) struct SpatialMap {
    /// In chain order: the map is `stages[0] ∘ stages[1] ∘ ...` (the last is applied to the
    /// output position first).
    stages: Vec<Stage>,
    /// `[i, j, k]` of the grid read from.
    input_size: [usize; 3],
    /// `[i, j, k]` of the grid written.
    output_size: [usize; 3],
    batch: usize,
}

impl SpatialMap {
    pub(crate) fn new(size: [usize; 3], batch: usize) -> Self {
        Self {
            stages: Vec::new(),
            input_size: size,
            output_size: size,
            batch,
        }
    }

    pub(crate) fn output_size(&self) -> [usize; 3] {
        self.output_size
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// Appends per-sample voxel matrices whose output grid has `output_size` (a crop) or the
    /// current one; multiplied into the last stage when that is a matrix too.
    pub(crate) fn push_matrices(&mut self, matrices: Vec<Matrix4>, output_size: [usize; 3]) {
        let same_grid = output_size == self.output_size;
        self.output_size = output_size;
        // Flips after a displacement: `E ∘ F = F ∘ E'` with `E'` the displacement mirrored
        // (its coefficients reversed, its component negated). Moving the flips before it lets
        // them join the matrix there, and keeps the displacement on the output grid, where it
        // is read without interpolation.
        if let (
            true,
            Some(Stage::Field {
                field,
                size,
                inverse: false,
            }),
        ) = (same_grid, self.stages.last_mut())
        {
            if let Some(flips) = matrices
                .iter()
                .map(|m| flip_axes(m, *size))
                .collect::<Option<Vec<_>>>()
            {
                *field = field.mirrored(&flips);
                let field_stage = self.stages.pop().expect("the last stage is a field");
                self.push_matrices(matrices, output_size);
                self.stages.push(field_stage);
                return;
            }
        }
        if matrices.iter().all(|m| *m == IDENTITY) && !self.stages.is_empty() {
            return;
        }
        if let Some(Stage::Matrix(last)) = self.stages.last_mut() {
            for (l, m) in last.iter_mut().zip(&matrices) {
                *l = compose_transforms(l, m);
            }
            return;
        }
        self.stages.push(Stage::Matrix(matrices));
    }

    pub(crate) fn push_field(&mut self, field: elastic::ControlField) {
        let size = self.output_size;
        self.stages.push(Stage::Field {
            field,
            size,
            inverse: false,
        });
    }

    /// The map that undoes this one: stages reversed, matrices inverted, displacements
    /// inverted by fixed-point iteration, input and output grids swapped.
    pub(crate) fn inverse(&self) -> Result<Self> {
        let mut stages = Vec::with_capacity(self.stages.len());
        for s in self.stages.iter().rev() {
            stages.push(match s {
                Stage::Matrix(ms) => Stage::Matrix(
                    ms.iter()
                        .map(|m| {
                            invert(m).ok_or_else(|| {
                                AugmentError::Params(format!("matrix {m:?} is not invertible"))
                            })
                        })
                        .collect::<Result<_>>()?,
                ),
                Stage::Field {
                    field,
                    size,
                    inverse,
                } => Stage::Field {
                    field: field.clone(),
                    size: *size,
                    inverse: !inverse,
                },
            });
        }
        Ok(Self {
            stages,
            input_size: self.output_size,
            output_size: self.input_size,
            batch: self.batch,
        })
    }

    pub(crate) fn only_matrices(&self) -> Option<Vec<Matrix4>> {
        let mut out = vec![IDENTITY; self.batch];
        for s in &self.stages {
            match s {
                Stage::Matrix(ms) => {
                    for (o, m) in out.iter_mut().zip(ms) {
                        *o = compose_transforms(o, m);
                    }
                }
                Stage::Field { .. } => return None,
            }
        }
        Some(out)
    }

    /// Input voxel positions `[N, 3, V]` (rows `i, j, k`; V the output voxels, `i` fastest)
    /// of every output voxel.
    fn positions(&self, like: &Tensor<5>) -> Result<Tensor<3>> {
        self.positions_of(&self.stages, like)
    }

    /// The sampling grid `[N, D, H, W, 3]` (normalized, `align_corners = true`). When the last
    /// stage applied is a matrix, the normalization joins it (two passes fewer over the grid).
    fn grid(&self, like: &Tensor<5>) -> Result<Tensor<5>> {
        let out = ijk_to_dhw(self.output_size);
        let normalizable = !self.input_size.contains(&1);
        match self.stages.split_first() {
            Some((Stage::Matrix(ms), rest)) if normalizable => {
                let to_normalized = {
                    let mut m = IDENTITY;
                    for (r, row) in m.iter_mut().take(3).enumerate() {
                        row[r] = 2.0 / (self.input_size[r] as f64 - 1.0);
                        row[3] = -1.0;
                    }
                    m
                };
                let ms: Vec<Matrix4> = ms
                    .iter()
                    .map(|m| compose_transforms(&to_normalized, m))
                    .collect();
                let p = apply_matrices(self.positions_of(rest, like)?, &ms);
                Ok(p.swap_dims(1, 2)
                    .reshape([self.batch, out[0], out[1], out[2], 3]))
            }
            _ => Ok(normalized_grid(self.positions(like)?, self.input_size, out)),
        }
    }

    /// Positions after `stages` (applied last to first) of every output voxel.
    fn positions_of(&self, stages: &[Stage], like: &Tensor<5>) -> Result<Tensor<3>> {
        let out = ijk_to_dhw(self.output_size);
        let v = self.output_size.iter().product();
        let device = like.device();
        let mut p = identity_positions(self.output_size, &device).expand([self.batch, 3, v]);
        // Whether `p` is still the output grid itself (a field there needs no interpolation).
        let mut on_grid = true;
        for s in stages.iter().rev() {
            p = match s {
                Stage::Matrix(ms) => apply_matrices(p, ms),
                Stage::Field {
                    field,
                    size,
                    inverse,
                } => {
                    let u = field.dense(self.batch, *size, &device)?;
                    if *inverse {
                        // v = -u(p + v): converges for fields whose Jacobian stays near 1.
                        let mut d = evaluate_field(&u, *size, p.clone(), out)?.neg();
                        for _ in 0..INVERSE_ITERATIONS {
                            d = evaluate_field(&u, *size, p.clone() + d, out)?.neg();
                        }
                        p + d
                    } else if on_grid && *size == self.output_size {
                        p + u.reshape([self.batch, 3, v])
                    } else {
                        p.clone() + evaluate_field(&u, *size, p, out)?
                    }
                }
            };
            on_grid = false;
        }
        Ok(p)
    }

    /// Resamples `image` (linear) and `label` (`labels`: nearest or label-linear, ITK's rules,
    /// 0 outside) through the map: one sampling call per tensor (per label with
    /// [`Interpolation::LabelLinear`]).
    pub(crate) fn resample(
        &self,
        image: Tensor<5>,
        label: Option<Tensor<5>>,
        padding: ImagePadding,
        labels: Interpolation,
    ) -> Result<(Tensor<5>, Option<Tensor<5>>)> {
        check_label_interpolation(labels)?;
        if self.stages.is_empty() {
            return Ok((image, label));
        }
        let sampler = self.sampler(&image)?;
        let image_options =
            SampleOptions::new(Interpolation::Linear).with_padding(padding.padding());
        let label = match label {
            None => None,
            Some(l) => Some(sampler.sample(l, SampleOptions::itk(labels))?),
        };
        let image = sampler.sample(image, image_options)?;
        Ok((image, label))
    }

    /// Resamples one tensor through the map: nearest with ITK's rule (label maps) or linear,
    /// 0 outside.
    pub(crate) fn resample_one(&self, x: Tensor<5>, nearest: bool) -> Result<Tensor<5>> {
        if self.stages.is_empty() {
            return Ok(x);
        }
        let interpolation = if nearest {
            Interpolation::Nearest
        } else {
            Interpolation::Linear
        };
        self.sampler(&x)?
            .sample(x, SampleOptions::itk(interpolation))
    }

    fn sampler(&self, like: &Tensor<5>) -> Result<Sampler> {
        let size = ijk_to_dhw(self.output_size);
        if let Some(ms) = self.only_matrices() {
            if let Some(m) = ms.iter().find(|m| !is_finite(m)) {
                return Err(AugmentError::Params(format!(
                    "voxel matrix {m:?} is not finite"
                )));
            }
            if ms.iter().all(|m| *m == IDENTITY) && self.input_size == self.output_size {
                return Ok(Sampler {
                    matrix: Some(Vec::new()),
                    grid: None,
                    size,
                });
            }
            return Ok(Sampler {
                matrix: Some(ms),
                grid: None,
                size,
            });
        }
        let grid = self.grid(like)?;
        Ok(Sampler {
            matrix: None,
            grid: Some(grid),
            size,
        })
    }
}

/// The axes a voxel matrix flips on a grid of `size`, if it is a pure flip (or the identity).
fn flip_axes(m: &Matrix4, size: [usize; 3]) -> Option<[bool; 3]> {
    let mut flips = [false; 3];
    for (r, (row, flip)) in m.iter().take(3).zip(&mut flips).enumerate() {
        if (0..3).any(|c| c != r && row[c] != 0.0) {
            return None;
        }
        if row[r] == -1.0 && row[3] == size[r] as f64 - 1.0 {
            *flip = true;
        } else if !(row[r] == 1.0 && row[3] == 0.0) {
            return None;
        }
    }
    Some(flips)
}

/// Iterations of the fixed-point inversion of a displacement: the error shrinks by the
/// field's largest voxel-to-voxel change each time (under 0.5 for sensible elastic settings).
const INVERSE_ITERATIONS: usize = 20;

/// `A p + t` per sample, positions `[N, 3, V]`.
fn apply_matrices(p: Tensor<3>, ms: &[Matrix4]) -> Tensor<3> {
    let n = ms.len();
    let device = p.device();
    let a: Vec<f32> = ms
        .iter()
        .flat_map(|m| (0..3).flat_map(move |r| (0..3).map(move |c| m[r][c] as f32)))
        .collect();
    let t: Vec<f32> = ms
        .iter()
        .flat_map(|m| (0..3).map(|r| m[r][3] as f32))
        .collect();
    let a = Tensor::<3>::from_data(TensorData::new(a, [n, 3, 3]), &device);
    let t = Tensor::<3>::from_data(TensorData::new(t, [n, 3, 1]), &device);
    a.matmul(p) + t
}

/// Voxel positions `[N, 3, V]` on a grid of `size` `[i, j, k]` as a sampling grid
/// `[N, D, H, W, 3]` of normalized coordinates with `align_corners = true`; a one-voxel axis
/// maps to 0.
fn normalized_grid(p: Tensor<3>, size: [usize; 3], out: [usize; 3]) -> Tensor<5> {
    let device = p.device();
    let n = p.dims()[0];
    let scale: Vec<f32> = size
        .iter()
        .map(|&n| if n > 1 { 2.0 / (n as f32 - 1.0) } else { 0.0 })
        .collect();
    let shift: Vec<f32> = size
        .iter()
        .map(|&n| if n > 1 { -1.0 } else { 0.0 })
        .collect();
    let scale = Tensor::<3>::from_data(TensorData::new(scale, [1, 3, 1]), &device);
    let shift = Tensor::<3>::from_data(TensorData::new(shift, [1, 3, 1]), &device);
    (p * scale + shift)
        .swap_dims(1, 2)
        .reshape([n, out[0], out[1], out[2], 3])
}

/// The voxel positions `[1, 3, V]` of a grid of `size` `[i, j, k]` (`i` fastest), made on the
/// device.
fn identity_positions(size: [usize; 3], device: &burn::tensor::Device) -> Tensor<3> {
    let [w, h, d] = size;
    let axis = |n: usize, shape: [usize; 3]| {
        Tensor::<1, burn::tensor::Int>::arange(0..n as i64, device)
            .float()
            .reshape(shape)
            .expand(ijk_to_dhw(size))
            .reshape([1, 1, w * h * d])
    };
    let i = axis(w, [1, 1, w]);
    let j = axis(h, [1, h, 1]);
    let k = axis(d, [d, 1, 1]);
    Tensor::cat(vec![i, j, k], 1)
}

/// The displacement `u(p)` `[N, 3, V]` of a dense field `[N, 3, D, H, W]` (voxels of a grid of
/// `size`) at positions `p` `[N, 3, V]`: linear between voxels (the field is smooth on the
/// scale of its control spacing), the edge value beyond.
fn evaluate_field(
    field: &Tensor<5>,
    size: [usize; 3],
    p: Tensor<3>,
    out: [usize; 3],
) -> Result<Tensor<3>> {
    let [n, _, v] = p.dims();
    let g = normalized_grid(p, size, out);
    let o = SampleOptions::new(Interpolation::Linear)
        .with_padding(Padding::Border)
        .with_align_corners(true);
    let u = grid_sample_3d(field.clone(), g, o)?;
    Ok(u.reshape([n, 3, v]))
}

/// How a map reads a tensor: the fused affine op, or a grid of positions.
struct Sampler {
    /// Empty: every matrix is the identity on the same grid (nothing to do).
    matrix: Option<Vec<Matrix4>>,
    grid: Option<Tensor<5>>,
    /// Output `[D, H, W]`.
    size: [usize; 3],
}

impl Sampler {
    fn sample(&self, x: Tensor<5>, options: SampleOptions) -> Result<Tensor<5>> {
        if let Some(ms) = &self.matrix {
            if ms.is_empty() {
                // The identity: nothing to sample, but label maps are checked all the same.
                if options.interpolation == Interpolation::LabelLinear {
                    if x.dims()[1] != 1 {
                        return Err(AugmentError::Params(format!(
                            "label_linear interpolation takes a label map of one channel, the \
                             label batch is {:?}",
                            x.dims()
                        )));
                    }
                    label_values(&x)?;
                }
                return Ok(x);
            }
            let n = ms.len();
            let rows: Vec<f64> = ms
                .iter()
                .flat_map(|m| m[..3].iter().flatten().copied())
                .collect();
            let m =
                Tensor::<3>::from_data(TensorData::new(rows, [n, 3, 4]), (&x.device(), x.dtype()));
            return Ok(voxel_affine_sample_3d(x, m, self.size, options)?);
        }
        let grid = self.grid.clone().expect("a sampler has a matrix or a grid");
        let grid = grid.cast(x.dtype());
        Ok(grid_sample_3d(x, grid, options.with_align_corners(true))?)
    }
}

/// Label maps take nearest or label-linear interpolation: the others make values that are no
/// label.
pub(crate) fn check_label_interpolation(labels: Interpolation) -> Result<()> {
    match labels {
        Interpolation::Nearest | Interpolation::LabelLinear => Ok(()),
        other => Err(AugmentError::Config(format!(
            "label_interpolation must be nearest or label_linear, got {other}"
        ))),
    }
}
