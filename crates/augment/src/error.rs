//! Errors of the augmentations: shapes that do not fit, configs and params that cannot be used.
//! Everything is checked before any tensor op runs, so a refused call leaves nothing half done.

use medburn_core::GeometryError;
use medburn_ops::OpsError;

/// An augmentation could not be drawn or applied.
///
/// ```
/// use medburn_augment::AugmentError;
/// let e = AugmentError::LabelShape { image: [2, 1, 8, 8, 8], label: [2, 1, 8, 8, 9] };
/// assert!(e.to_string().contains("[2, 1, 8, 8, 9]"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum AugmentError {
    /// The label batch does not have the image batch's `N`, `D`, `H`, `W`.
    #[error("label shape {label:?} does not fit image shape {image:?}: N, D, H and W must match")]
    LabelShape {
        /// The image batch `[N, C, D, H, W]`.
        image: [usize; 5],
        /// The label batch.
        label: [usize; 5],
    },
    /// Params drawn for one batch size were applied to another.
    #[error("{what} params were drawn for a batch of {params}, the image batch has {batch}")]
    BatchMismatch {
        /// Which transform's params.
        what: &'static str,
        /// Samples in the params.
        params: usize,
        /// `N` of the image batch.
        batch: usize,
    },
    /// The patch geometry's size is not the image's `[W, H, D]`.
    #[error("geometry of size {geometry:?} (i, j, k) does not fit image shape {image:?} ([N, C, D, H, W])")]
    GeometryMismatch {
        /// The geometry's `[i, j, k]` size.
        geometry: [usize; 3],
        /// The image batch.
        image: [usize; 5],
    },
    /// An image batch with a zero dimension.
    #[error("empty image batch {0:?}")]
    Empty([usize; 5]),
    /// A configuration value out of range (the message names the field).
    #[error("invalid augmentation config: {0}")]
    Config(String),
    /// Params that cannot be applied (non-finite matrices, a negative noise std).
    #[error("invalid augmentation params: {0}")]
    Params(String),
    /// The patch geometry could not be built.
    #[error(transparent)]
    Geometry(#[from] GeometryError),
    /// A differentiable transform was refused by `medburn_spatial`.
    #[error(transparent)]
    Spatial(#[from] medburn_spatial::SpatialError),
    /// The sampling op refused its arguments (e.g. image and label on different devices).
    #[error(transparent)]
    Ops(#[from] OpsError),
}

/// Shorthand for the augmentations' results.
///
/// ```
/// fn check() -> medburn_augment::Result<()> {
///     medburn_augment::Pipeline::default().validate()
/// }
/// assert!(check().is_ok());
/// ```
pub type Result<T> = core::result::Result<T, AugmentError>;

/// Fails unless `image` is non-empty and `label` (if any) has its `N`, `D`, `H`, `W`.
pub(crate) fn check_pair(image: [usize; 5], label: Option<[usize; 5]>) -> Result<()> {
    if image.contains(&0) {
        return Err(AugmentError::Empty(image));
    }
    if let Some(label) = label {
        let fits = label[0] == image[0] && label[1] > 0 && label[2..] == image[2..];
        if !fits {
            return Err(AugmentError::LabelShape { image, label });
        }
    }
    Ok(())
}

/// Fails unless params for `params` samples fit a batch of `batch`.
pub(crate) fn check_batch(what: &'static str, params: usize, batch: usize) -> Result<()> {
    if params == batch {
        Ok(())
    } else {
        Err(AugmentError::BatchMismatch {
            what,
            params,
            batch,
        })
    }
}

/// Fails unless `p` is a probability.
pub(crate) fn check_prob(field: &str, p: f64) -> Result<()> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(AugmentError::Config(format!(
            "{field} = {p} is not a probability in [0, 1]"
        )))
    }
}

/// Fails unless `lo <= hi`, both finite, and `lo > 0` when `positive`.
pub(crate) fn check_range(field: &str, (lo, hi): (f64, f64), positive: bool) -> Result<()> {
    let ok = lo.is_finite() && hi.is_finite() && lo <= hi && (!positive || lo > 0.0);
    if ok {
        Ok(())
    } else {
        let need = if positive {
            "0 < min <= max"
        } else {
            "min <= max"
        };
        Err(AugmentError::Config(format!(
            "{field} = ({lo}, {hi}) needs finite {need}"
        )))
    }
}

/// Fails unless every value is finite and non-negative.
pub(crate) fn check_magnitudes(field: &str, v: &[f64]) -> Result<()> {
    if v.iter().all(|x| x.is_finite() && *x >= 0.0) {
        Ok(())
    } else {
        Err(AugmentError::Config(format!(
            "{field} = {v:?} needs finite non-negative values"
        )))
    }
}
