//! Label maps: the one check of their values and the one label-linear resampling
//! ([`Interpolation::LabelLinear`](crate::Interpolation::LabelLinear)), which the sampling ops
//! run for that interpolation and `medburn_spatial` and `medburn_augment` reach through them.

use std::collections::BTreeSet;

use burn::tensor::Tensor;

use crate::error::{OpsError, Result};

/// Elements read back to the host at a time by the label check (64 MiB of f32).
const CHUNK: usize = 1 << 24;

/// The distinct values of a label map, ascending, after checking that every value is a class
/// index: finite, integer-valued and non-negative. The error names the first bad value.
///
/// The map is read back to the host a chunk at a time, so the check needs little memory
/// whatever its size.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// let labels = Tensor::<1>::from_floats([0.0, 3.0, 3.0, 1.0], &Device::flex());
/// assert_eq!(medburn_ops::label_values(&labels)?, vec![0.0, 1.0, 3.0]);
/// let bad = Tensor::<1>::from_floats([0.0, 1.5], &Device::flex());
/// assert!(medburn_ops::label_values(&bad).unwrap_err().to_string().contains("1.5"));
/// # Ok::<(), medburn_ops::OpsError>(())
/// ```
pub fn label_values<const D: usize>(labels: &Tensor<D>) -> Result<Vec<f64>> {
    check_labels("label_values", labels)
}

/// [`label_values`] for `op`'s errors.
pub(crate) fn check_labels<const D: usize>(
    op: &'static str,
    labels: &Tensor<D>,
) -> Result<Vec<f64>> {
    let n = labels.shape().num_elements();
    let flat: Tensor<1> = labels.clone().reshape([n]);
    // Bit patterns of non-negative finite doubles sort as the values do.
    let mut seen = BTreeSet::new();
    let mut last = None;
    let mut visit = |v: f64| -> Result<()> {
        if last == Some(v) {
            return Ok(());
        }
        if !(v.is_finite() && v >= 0.0 && v.fract() == 0.0) {
            return Err(OpsError::new(
                op,
                format!(
                    "label value {v} is not a class index: label maps hold non-negative \
                     integers (finite, integer-valued, at least 0)"
                ),
            ));
        }
        last = Some(v);
        // -0.0 + 0.0 is +0.0: one key for both zeros.
        seen.insert((v + 0.0).to_bits());
        Ok(())
    };
    let mut start = 0;
    while start < n {
        let end = (start + CHUNK).min(n);
        let chunk = if start == 0 && end == n {
            flat.clone()
        } else {
            flat.clone().slice(start..end)
        };
        let data = chunk.into_data();
        match data.as_slice::<f32>() {
            Ok(values) => values.iter().try_for_each(|&v| visit(v as f64))?,
            Err(_) => data.iter::<f64>().try_for_each(&mut visit)?,
        }
        start = end;
    }
    Ok(seen.into_iter().map(f64::from_bits).collect())
}

/// Label-linear resampling of `labels` `[N, 1, D, H, W]`: `sample` resamples one indicator
/// (0 or 1 in the labels' dtype) linearly, and every output voxel takes the label of largest
/// weight. Labels in ascending order with a strict comparison, so ties go to the lower label
/// and voxels where no label has positive weight (outside) to 0. One label at a time, keeping
/// the best weight and label so far: memory is a few output volumes whatever the number of
/// labels (a one-hot of 117 labels at 512^3 would be 60 GiB).
pub(crate) fn label_linear(
    op: &'static str,
    labels: Tensor<5>,
    mut sample: impl FnMut(Tensor<5>) -> Result<Tensor<5>>,
) -> Result<Tensor<5>> {
    let dims = labels.dims();
    if dims[1] != 1 {
        return Err(OpsError::new(
            op,
            format!(
                "label_linear interpolation takes a label map of one channel, the input is \
                 {dims:?}"
            ),
        ));
    }
    let values = check_labels(op, &labels)?;
    let dtype = labels.dtype();
    let mut best: Option<(Tensor<5>, Tensor<5>)> = None;
    for value in values {
        let indicator = labels.clone().equal_elem(value).float().cast(dtype);
        let weight = sample(indicator)?;
        best = Some(match best {
            None => {
                let label = weight
                    .zeros_like()
                    .mask_fill(weight.clone().greater_elem(0.0), value);
                (weight, label)
            }
            Some((best_weight, label)) => {
                let better = weight.clone().greater(best_weight.clone());
                (
                    best_weight.mask_where(better.clone(), weight),
                    label.mask_fill(better, value),
                )
            }
        });
    }
    best.map(|(_, label)| label)
        .ok_or_else(|| OpsError::new(op, format!("the label map {dims:?} is empty")))
}
