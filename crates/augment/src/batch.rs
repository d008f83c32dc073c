//! Per-sample values on a batch: params drawn per sample become `[N, 1, 1, 1, 1]` columns that
//! broadcast over a batch, and untouched samples keep their exact values.

use burn::tensor::{Bool, Tensor, TensorData};

use crate::error::Result;

/// `[N, 1, 1, 1, 1]` holding `value(s)` for each drawn sample and `default` for the others, on
/// the device and in the dtype of `like`.
pub(crate) fn column<T>(
    samples: &[Option<T>],
    default: f64,
    value: impl Fn(&T) -> f64,
    like: &Tensor<5>,
) -> Tensor<5> {
    let v: Vec<f64> = samples
        .iter()
        .map(|s| s.as_ref().map_or(default, &value))
        .collect();
    let n = v.len();
    Tensor::from_data(
        TensorData::new(v, [n, 1, 1, 1, 1]),
        (&like.device(), like.dtype()),
    )
}

/// `[N, C, D, H, W]` mask, true on the samples that were drawn.
fn drawn_mask<T>(samples: &[Option<T>], like: &Tensor<5>) -> Tensor<5, Bool> {
    column(samples, 0.0, |_| 1.0, like)
        .greater_elem(0.5)
        .expand(like.dims())
}

/// `changed` where a sample was drawn, `original` elsewhere (bit for bit).
pub(crate) fn select<T>(
    samples: &[Option<T>],
    original: Tensor<5>,
    changed: Tensor<5>,
) -> Tensor<5> {
    if samples.iter().all(Option::is_some) {
        return changed;
    }
    let mask = drawn_mask(samples, &original);
    original.mask_where(mask, changed)
}

/// Applies `f` to each drawn sample on its own (`[1, C, D, H, W]`), for ops whose parameters
/// are not per-sample tensors (smoothing widths, resizing factors); other samples are kept.
pub(crate) fn map_samples<T>(
    image: Tensor<5>,
    samples: &[Option<T>],
    mut f: impl FnMut(Tensor<5>, &T) -> Result<Tensor<5>>,
) -> Result<Tensor<5>> {
    if samples.iter().all(Option::is_none) {
        return Ok(image);
    }
    let n = image.dims()[0];
    let parts = image.chunk(n, 0);
    let mut out = Vec::with_capacity(n);
    for (x, s) in parts.into_iter().zip(samples) {
        out.push(match s {
            Some(s) => f(x, s)?,
            None => x,
        });
    }
    Ok(Tensor::cat(out, 0))
}

/// Per sample (over all its channels, as MONAI) the minimum and maximum, `[N, 1, 1, 1, 1]`.
pub(crate) fn sample_min_max(image: &Tensor<5>) -> (Tensor<5>, Tensor<5>) {
    let n = image.dims()[0];
    let flat = image.clone().reshape([n as i64, -1]);
    let min = flat.clone().min_dim(1).reshape([n, 1, 1, 1, 1]);
    let max = flat.max_dim(1).reshape([n, 1, 1, 1, 1]);
    (min, max)
}
