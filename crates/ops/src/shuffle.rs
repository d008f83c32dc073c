//! Sub-pixel rearrangement in 3D ("pixel shuffle", Shi et al. 2016), with a factor per axis:
//! channels become sub-voxel positions, so that a convolution at the low resolution produces
//! a volume at the high one. A reshape and a permutation, differentiable on every backend.

use burn::tensor::Tensor;

use crate::error::{check_nonempty, OpsError, Result};

/// Rearranges `x` `[N, C * fd * fh * fw, D, H, W]` into `[N, C, D * fd, H * fh, W * fw]`:
/// output voxel `(d * fd + a, h * fh + b, w * fw + c)` of channel `k` is input channel
/// `k * fd * fh * fw + (a * fh + b) * fw + c` at `(d, h, w)`, the order of PyTorch's
/// `pixel_shuffle` and MONAI's `pixelshuffle` (which take one factor for every axis).
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// let device = Device::flex();
/// // Four channels of one voxel become four voxels along W.
/// let x = Tensor::<1>::from_floats([1.0, 2.0, 3.0, 4.0], &device).reshape([1, 4, 1, 1, 1]);
/// let y = medburn_ops::pixel_shuffle_3d(x, [1, 1, 4])?;
/// assert_eq!(y.dims(), [1, 1, 1, 1, 4]);
/// assert_eq!(y.into_data().try_to_vec::<f32>().unwrap(), vec![1.0, 2.0, 3.0, 4.0]);
/// # Ok::<(), medburn_ops::OpsError>(())
/// ```
pub fn pixel_shuffle_3d(x: Tensor<5>, factors: [usize; 3]) -> Result<Tensor<5>> {
    const OP: &str = "pixel_shuffle_3d";
    let [n, channels, d, h, w] = x.dims();
    check_nonempty(OP, "input", &x.dims())?;
    let [fd, fh, fw] = factors;
    let r = fd * fh * fw;
    if r == 0 || channels % r != 0 {
        return Err(OpsError::new(
            OP,
            format!("{channels} channels do not split into factors {factors:?} ({r} per channel)"),
        ));
    }
    let c = channels / r;
    Ok(x.reshape([n, c, fd, fh, fw, d, h, w])
        .permute([0, 1, 5, 2, 6, 3, 7, 4])
        .reshape([n, c, d * fd, h * fh, w * fw]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    #[test]
    fn every_voxel_comes_from_its_channel() {
        let device = Device::flex();
        let (fd, fh, fw, c, d, h, w) = (2, 1, 3, 2, 2, 3, 2);
        let channels = c * fd * fh * fw;
        let values: Vec<f32> = (0..channels * d * h * w).map(|v| v as f32).collect();
        let x = Tensor::<5>::from_data(
            TensorData::new(values.clone(), [1, channels, d, h, w]),
            &device,
        );
        let y: Vec<f32> = pixel_shuffle_3d(x, [fd, fh, fw])
            .unwrap()
            .into_data()
            .try_to_vec()
            .unwrap();
        let (od, oh, ow) = (d * fd, h * fh, w * fw);
        for k in 0..c {
            for z in 0..od {
                for y_ in 0..oh {
                    for x_ in 0..ow {
                        let (a, b, cc) = (z % fd, y_ % fh, x_ % fw);
                        let channel = k * fd * fh * fw + (a * fh + b) * fw + cc;
                        let src = ((channel * d + z / fd) * h + y_ / fh) * w + x_ / fw;
                        assert_eq!(y[((k * od + z) * oh + y_) * ow + x_], values[src]);
                    }
                }
            }
        }
        let bad = Tensor::<5>::zeros([1, 5, 2, 2, 2], &device);
        assert!(pixel_shuffle_3d(bad, [2, 1, 1]).is_err());
    }
}
