//! Similarity losses and deformation regularizers, as MONAI's.
//!
//! Conventions: images are `Tensor<5>` `[N, C, D, H, W]` (a warped moving image as `pred`, the
//! fixed image as `target`, MONAI's argument order); displacement fields are `[N, 3, D, H, W]`
//! with the vector components in the order of the spatial axes `D, H, W`. Every loss returns a
//! one-element tensor (mean or sum, [`Reduction`]) that a registration minimizes, and has a
//! method giving the unreduced values. Shapes and options are checked; values are not (that
//! would read them back from the device).

mod bending_energy;
mod diffusion;
mod lncc;
mod mutual_information;

pub use bending_energy::{BendingEnergyLoss, BendingEnergyLossConfig};
pub use diffusion::{DiffusionLoss, DiffusionLossConfig};
pub use lncc::{
    KernelType, LocalNormalizedCrossCorrelationLoss, LocalNormalizedCrossCorrelationLossConfig,
};
pub use mutual_information::{
    GlobalMutualInformationLoss, GlobalMutualInformationLossConfig, ParzenWindow,
};

use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::error::{RegistrationError, Result};

/// How a loss's values are reduced to one number (MONAI's `reduction`; its `"none"` is each
/// loss's unreduced method).
///
/// ```
/// use medburn_register::Reduction;
/// assert_eq!(Reduction::default(), Reduction::Mean);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reduction {
    /// The mean over every value.
    #[default]
    Mean,
    /// The sum of every value.
    Sum,
}

impl Reduction {
    /// `values` reduced to one element.
    pub(crate) fn apply<const D: usize>(self, values: Tensor<D>) -> Tensor<1> {
        match self {
            Reduction::Mean => values.mean(),
            Reduction::Sum => values.sum(),
        }
    }
}

/// Checks that `pred` and `target` have one shape with no empty axis.
pub(crate) fn check_pair(pred: &Tensor<5>, target: &Tensor<5>) -> Result<()> {
    let (p, t) = (pred.dims(), target.dims());
    if p != t {
        return Err(RegistrationError::Shape(format!(
            "pred {p:?} and target {t:?} differ"
        )));
    }
    if p.contains(&0) {
        return Err(RegistrationError::Shape(format!("an empty axis in {p:?}")));
    }
    Ok(())
}

/// Checks that a smoothing term is finite and not negative.
pub(crate) fn check_smoothing(name: &str, value: f64) -> Result<()> {
    if !(value.is_finite() && value >= 0.0) {
        return Err(RegistrationError::Option(format!(
            "{name} must be finite and >= 0, got {value}"
        )));
    }
    Ok(())
}

/// Checks a displacement field `[N, 3, D, H, W]` whose spatial axes all exceed 2 voxels (the
/// finite differences need a neighbour on each side).
pub(crate) fn check_field(ddf: &Tensor<5>) -> Result<()> {
    let [n, c, d, h, w] = ddf.dims();
    if n == 0 || c != 3 || d <= 2 || h <= 2 || w <= 2 {
        return Err(RegistrationError::Shape(format!(
            "a displacement field must be [N, 3, D, H, W] with N >= 1 and D, H, W > 2, got {:?}",
            ddf.dims()
        )));
    }
    Ok(())
}

/// `x` over the interior `1..n-1` of every spatial axis, moved by `shift` (-1, 0 or 1 per
/// axis): MONAI's slices `x[2:]` (1), `x[1:-1]` (0) and `x[:-2]` (-1), with the other spatial
/// axes always `1:-1`.
pub(crate) fn interior(x: &Tensor<5>, shift: [i32; 3]) -> Tensor<5> {
    let [n, c, d, h, w] = x.dims();
    let range = |len: usize, s: i32| (1 + s) as usize..(len as i32 - 1 + s) as usize;
    x.clone().slice([
        0..n,
        0..c,
        range(d, shift[0]),
        range(h, shift[1]),
        range(w, shift[2]),
    ])
}

/// The central difference `(x[i+1] - x[i-1]) / (2 step)` along spatial `axis` (0, 1, 2 for
/// `D, H, W`) over the interior voxels, `[N, C, D - 2, H - 2, W - 2]` (MONAI's
/// `spatial_gradient` with `step` 1).
pub(crate) fn central_difference(x: &Tensor<5>, axis: usize, step: f64) -> Tensor<5> {
    let (mut plus, mut minus) = ([0i32; 3], [0i32; 3]);
    plus[axis] = 1;
    minus[axis] = -1;
    (interior(x, plus) - interior(x, minus)) / (2.0 * step)
}

/// MONAI's `normalize` factors for a field `like` `[N, 3, D, H, W]`: `numerator / size[c]` for
/// each vector component `c`, as a `[1, 3, 1, 1, 1]` tensor.
pub(crate) fn per_component(like: &Tensor<5>, numerator: f64) -> Tensor<5> {
    let [_, _, d, h, w] = like.dims();
    let values: Vec<f64> = [d, h, w]
        .iter()
        .map(|&size| numerator / size as f64)
        .collect();
    Tensor::from_data(
        TensorData::new(values, [1, 3, 1, 1, 1]),
        (&like.device(), like.dtype()),
    )
}

/// Adds `term` to a running sum.
pub(crate) fn accumulate(sum: Option<Tensor<5>>, term: Tensor<5>) -> Option<Tensor<5>> {
    Some(match sum {
        Some(s) => s + term,
        None => term,
    })
}
