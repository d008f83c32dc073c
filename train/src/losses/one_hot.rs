//! Label maps to one-hot masks, on the device.

use burn::tensor::{Int, Tensor};

use super::InputError;

/// The one-hot encoding `[N, C, D, H, W]` (1.0 where the voxel's label is the channel's
/// class) of a label map `[N, 1, D, H, W]` of class indices, as MONAI's
/// `one_hot(labels, num_classes)`. A label outside `0..num_classes` gives a voxel of all
/// zeros (MONAI raises; checking would read the labels back from the device).
///
/// ```
/// use burn::tensor::{Device, Int, Tensor};
/// use medburn_train::losses::one_hot;
///
/// let device = Device::flex();
/// let labels = Tensor::<5, Int>::from_data([[[[[0, 2, 1]]]]], &device);
/// let mask = one_hot(labels, 3)?;
/// assert_eq!(mask.dims(), [1, 3, 1, 1, 3]);
/// assert_eq!(mask.into_data().try_to_vec::<f32>().unwrap(), vec![1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0]);
/// # Ok::<(), medburn_train::losses::InputError>(())
/// ```
pub fn one_hot(labels: Tensor<5, Int>, num_classes: usize) -> Result<Tensor<5>, InputError> {
    Ok(one_hot_int(labels, num_classes)?.float())
}

/// [`one_hot`] as integers (0 or 1), for exact counts.
pub(crate) fn one_hot_int(
    labels: Tensor<5, Int>,
    num_classes: usize,
) -> Result<Tensor<5, Int>, InputError> {
    let [n, c, d, h, w] = labels.dims();
    if c != 1 {
        return Err(InputError::Shape(format!(
            "a label map is [N, 1, D, H, W], got {:?}",
            labels.dims()
        )));
    }
    if num_classes == 0 {
        return Err(InputError::Option("num_classes must be positive".into()));
    }
    let shape = [n, num_classes, d, h, w];
    let classes =
        Tensor::<1, Int>::arange(0..num_classes as i64, (&labels.device(), labels.dtype()))
            .reshape([1, num_classes, 1, 1, 1])
            .expand(shape);
    Ok(labels.expand(shape).equal(classes).int())
}
